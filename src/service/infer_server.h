/* The shared inference server (`football-tracker infer`, started by `serve`
 * with serve.shared_inference): ONE RF-DETR model serving the frames of
 * many stream workers, several frames per forward pass.
 *
 * Clients (detect/infer_client.h) connect to a unix socket; each hands over
 * a shared-memory file holding its frame and a result area (protocol:
 * detect/infer_proto.h). One thread polls the socket: when a request comes
 * in and none is waiting, a batch window opens; the batch is run when
 * max_batch requests wait or batch_window_ms after the first, whichever
 * comes first (round-robin over clients when more than max_batch wait).
 * Pre-processing of every frame, one forward pass, per-frame post-processing
 * into each client's result area, a reply to each. Nothing is allocated per
 * frame; a client that sends a bad request gets an error reply, one that
 * disconnects is forgotten. See docs/gpu-sharing.md, "Option C". */
#ifndef FT_SERVICE_INFER_SERVER_H
#define FT_SERVICE_INFER_SERVER_H

#include <stddef.h>

#include "core/status.h"
#include "detect/rfdetr.h"

#define FT_INFER_MAX_CLIENTS 256

typedef struct ft_service_infer_params {
    const char *socket_path; /* unix socket to listen on (borrowed, copied) */
    ft_rfdetr_params model;  /* model.max_batch = frames per forward pass */
    double batch_window_ms;  /* longest wait for a batch to fill, 0..1000 */
    int max_clients;         /* 1..FT_INFER_MAX_CLIENTS; 0 = 64 */
} ft_service_infer_params;

typedef struct ft_service_infer ft_service_infer;

/* Checks the socket path, loads the model, then listens on the socket (a
 * stale socket file nobody listens on is replaced; clients are refused at
 * once while the model loads). *out is returned-owned. FT_ERR_CONFIG (message
 * naming the path) for a socket path that is empty, too long, in a missing
 * folder, already served by a live server, or not a socket; FT_ERR_CONFIG
 * for a bad window or client count; the model's errors as ft_rfdetr_create. */
FT_NODISCARD ft_status ft_service_infer_create(const ft_service_infer_params *p,
                                               ft_service_infer **out);

/* Serves clients until ft_service_infer_stop; returns FT_OK then, or the
 * error of a failed forward pass (a GPU fault: the process should end and be
 * restarted), after answering that batch's clients with it. */
FT_NODISCARD ft_status ft_service_infer_run(ft_service_infer *s);

/* Async-signal-safe, any thread: makes run() return. */
void ft_service_infer_stop(ft_service_infer *s);

/* Prometheus text of the server's metrics (ft_infer_*) into buf (cap bytes),
 * its length to *len; any thread. FT_ERR_NOMEM when it does not fit. */
FT_NODISCARD ft_status ft_service_infer_metrics(ft_service_infer *s, char *buf, size_t cap,
                                                size_t *len);

/* Closes every connection, removes the socket file, frees the model (NULL
 * allowed; run() must have returned) and sets *s to NULL. */
void ft_service_infer_destroy(ft_service_infer **s);

#endif
