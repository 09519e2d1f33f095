/* Client of the shared inference server (`football-tracker infer`,
 * service/infer_server.h): a stream worker hands its frames to one process
 * that runs one RF-DETR model over the frames of many workers, batched.
 * See docs/gpu-sharing.md, "Option C".
 *
 * Each frame is copied into the client's shared memory (a memfd given to the
 * server once, and again when a larger frame makes it grow), a request is
 * sent on the unix socket, and the reply says the detections are in the
 * shared memory. Nothing is allocated per frame once the largest frame size
 * has been seen.
 *
 * Failure handling: when the server is gone, does not answer within
 * timeout_ms, or is not there yet, detect returns FT_ERR_AGAIN with no
 * detections (the caller keeps its frames flowing), logs the outage once,
 * counts it, and reconnects at the next frame (at most every 500 ms). */
#ifndef FT_DETECT_INFER_CLIENT_H
#define FT_DETECT_INFER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"
#include "detect/detector.h"
#include "detect/infer_proto.h"
#include "detect/rfdetr.h"

typedef struct ft_infer_client ft_infer_client;

typedef struct ft_infer_client_params {
    const char *socket_path; /* the server's unix socket (borrowed, copied) */
    int timeout_ms;          /* longest wait for one frame's reply; 0 = 1000 */
    int connect_wait_ms;     /* create: keep trying to reach the server this long */
} ft_infer_client_params;

/* Connects and reads the model description. *out is returned-owned.
 * FT_ERR_CONFIG (message naming the path) when the path is empty, too long
 * for a unix socket, in a folder that does not exist, or not a socket;
 * FT_ERR_RUNTIME when no server answered within connect_wait_ms. */
FT_NODISCARD ft_status ft_detect_infer_client_create(const ft_infer_client_params *p,
                                                     ft_infer_client **out);

/* NULL-safe; sets *c to NULL. */
void ft_detect_infer_client_destroy(ft_infer_client **c);

/* The model as the server last described it (borrowed). */
const ft_infer_hello *ft_detect_infer_client_model(const ft_infer_client *c);

/* Runs the server's model on `frame` (borrowed) as ft_rfdetr_postprocess
 * would for that frame alone: up to cap detections scoring >= threshold,
 * sorted by score, written to out, their count to *n. FT_ERR_AGAIN (*n = 0)
 * while the server is unavailable; FT_ERR_INVALID for a frame the server
 * refused (bad geometry or format). */
FT_NODISCARD ft_status ft_detect_infer_client_detect(ft_infer_client *c, const ft_image *frame,
                                                     float threshold, ft_rfdetr_det *out, int cap,
                                                     int *n);

/* Checks a unix socket path for the server or a client: FT_ERR_CONFIG
 * (logged, naming `what`, e.g. "model.server", and the path) when it is
 * empty, too long, in a folder that does not exist, or names something
 * other than a socket. *exists: a socket file is there (live or stale). */
FT_NODISCARD ft_status ft_detect_infer_socket_check(const char *path, const char *what,
                                                    bool *exists);

/* Frames that got no answer (server gone, timeout, refused connection). */
uint64_t ft_detect_infer_client_failures(const ft_infer_client *c);

/* Detector adapter (detector.type: shared): ball candidates from the shared
 * server, filtered exactly as ft_rfdetr_detector does (class, confidence,
 * NMS). While the server is unavailable it returns no candidates and FT_OK. */
typedef struct ft_infer_detector_params {
    ft_infer_client_params client;
    float confidence;    /* hot: "confidence" */
    int ball_class_id;   /* -1 = the server model's automatic choice */
    float iou_threshold; /* NMS IoU; 0 or >= 1 disables NMS */
} ft_infer_detector_params;

/* *out is returned-owned (ft_detector_destroy). Errors as
 * ft_detect_infer_client_create, FT_ERR_CONFIG for a confidence outside [0, 1]. */
FT_NODISCARD ft_status ft_detect_infer_detector_create(const ft_infer_detector_params *p,
                                                       ft_detector **out);

#endif
