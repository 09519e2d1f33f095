/* RTMP listen gate: lets a camera or encoder push RTMP straight to the stream
 * service. libavformat's RTMP server mode checks neither the client address
 * nor the stream key, so the public port is ours: each accepted connection
 * is checked against an IPv4 CIDR allow-list, then relayed to libavformat's
 * listener on an ephemeral 127.0.0.1 port while the client->server bytes are
 * parsed (handshake, chunk stream, AMF0 `connect`, `releaseStream`,
 * `FCPublish`, `publish`). The data completing each of these commands is
 * forwarded only when the app matches and the stream name equals the key
 * (constant-time compare); otherwise both connections are closed, so
 * libavformat never sees a wrong key. One publisher at a time; bounded sizes
 * and timeouts. */
#ifndef FT_SERVICE_RTMP_GATE_H
#define FT_SERVICE_RTMP_GATE_H

#include <stdint.h>

#include "core/status.h"

typedef struct ft_rtmp_gate ft_rtmp_gate;

/* Longest stream key (token) accepted. */
#define FT_RTMP_GATE_MAX_TOKEN 256

typedef struct ft_rtmp_gate_params {
    const char *listen_url; /* rtmp://ADDR:PORT/APP (IPv4 address; borrowed) */
    const char *allow;      /* comma/space separated IPv4 CIDRs ("10.0.0.0/8, 127.0.0.1");
                               "" refuses everyone (borrowed) */
    const char *token;      /* the stream key publishers must use: letters, digits, . _ ~ -
                               (borrowed, copied) */
    int timeout_ms;         /* handshake-to-publish and idle limit; 0 = 10000 */
} ft_rtmp_gate_params;

/* Connection counts (thread-safe snapshot). */
typedef struct ft_rtmp_gate_stats {
    int64_t accepted;         /* publishers whose key was verified */
    int64_t refused_address;  /* peer outside the allow-list */
    int64_t refused_key;      /* wrong app or stream key */
    int64_t refused_protocol; /* malformed, oversized, too slow, or a second publisher */
} ft_rtmp_gate_stats;

/* Parses the URL and allow-list, binds the public port and starts the gate
 * thread. FT_ERR_CONFIG naming the bad URL/CIDR, or the bind error. *out
 * returned-owned. */
FT_NODISCARD ft_status ft_rtmp_gate_create(const ft_rtmp_gate_params *p, ft_rtmp_gate **out);

/* The URL the reader opens for libavformat's internal listener (with
 * FT_READER_LISTEN_SUFFIX; its stream name is the key, which the log
 * sanitizer masks); borrowed from the gate. */
const char *ft_rtmp_gate_internal_url(const ft_rtmp_gate *g);

/* The public port actually bound (for port 0 in the URL). */
int ft_rtmp_gate_port(const ft_rtmp_gate *g);

/* Copies the connection counts into *out (caller-owned); thread-safe. */
void ft_rtmp_gate_stats_get(const ft_rtmp_gate *g, ft_rtmp_gate_stats *out);

/* Stops the thread, closes every socket, frees (NULL allowed), sets *g NULL. */
void ft_rtmp_gate_destroy(ft_rtmp_gate **g);

#endif
