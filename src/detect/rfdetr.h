/* RF-DETR (Roboflow's real-time DETR) on our own inference engine: loads an
 * official checkpoint of any detection size, runs the forward pass through an
 * nn backend (CPU or CUDA), and turns the outputs into detections exactly as
 * the official PostProcess does. See docs/rfdetr.md. */
#ifndef FT_DETECT_RFDETR_H
#define FT_DETECT_RFDETR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/image.h"
#include "core/status.h"
#include "detect/detector.h"
#include "nn/weights.h"

#define FT_RFDETR_MAX_TAPS 4
#define FT_RFDETR_MAX_LEVELS 3

/* The architecture, read from the checkpoint's saved args and tensor shapes
 * (or a size preset). One code path runs every size from these numbers. */
typedef struct ft_rfdetr_arch {
    char size[24];  /* preset name: nano, small, medium, large, base, ... */
    int resolution; /* default square input size */
    int patch;      /* ViT patch size */
    int windows;    /* windows per side (1 = plain ViT) */
    int vit_dim, vit_heads, vit_mlp;
    int vit_layers;               /* layers run: up to the last tap */
    int taps[FT_RFDETR_MAX_TAPS]; /* 1-based stage numbers (output of layer t-1) */
    int ntaps;
    int pos_grid;                          /* side of the stored position-embedding grid */
    int hidden;                            /* transformer width */
    int proj_blocks;                       /* C2f bottlenecks in the projector */
    int levels;                            /* projector outputs = transformer feature levels */
    int level_scale[FT_RFDETR_MAX_LEVELS]; /* +1 P3 (2x up), 0 P4, -1 P5 (2x down) */
    int sa_heads, ca_heads, dec_layers, dec_points, ffn;
    int num_queries, num_select;
    int num_classes; /* logits per query (class_embed rows) */
} ft_rfdetr_arch;

/* Fill *out (caller's) from an opened weights file (borrowed): the preset
 * named by size (non-NULL and not "auto"), else the preset matching the
 * file's patch size, position grid and ViT width, refined by its saved args
 * and tensor shapes. Used by the loader and by `inspect`. FT_ERR_CONFIG for an
 * unknown preset name, FT_ERR_MODEL (reason logged with the file name) when
 * the file is not an RF-DETR detection checkpoint or an unsupported variant. */
FT_NODISCARD ft_status ft_rfdetr_arch_resolve(const ft_nn_weights *w, const char *size,
                                              ft_rfdetr_arch *out);

typedef struct ft_rfdetr ft_rfdetr;

typedef struct ft_rfdetr_params {
    const char *model_path; /* .pth or .safetensors (borrowed, required) */
    const char *size;       /* preset override ("medium", ...); NULL or "auto": from the file */
    int imgsz;              /* square input size; 0 = the model's resolution */
    const char *device;     /* "cpu" (default), "cuda", "cuda:N" (borrowed) */
    int threads;            /* 0 = FT_THREADS, OMP_NUM_THREADS, or all cores */
    int warmup_iterations;  /* forward passes run at load (batch 1) */
    /* Frames per forward pass the buffers are planned for, 1..FT_RFDETR_MAX_BATCH
     * (0 = 1). Memory for activations grows linearly with it. */
    int max_batch;
} ft_rfdetr_params;

#define FT_RFDETR_MAX_BATCH 256

/* Load the model and plan every buffer for imgsz. *out is returned-owned.
 * FT_ERR_MODEL (exit 2): unreadable/foreign file, unsupported or inconsistent
 * architecture, a tensor whose shape does not match the args. FT_ERR_CONFIG
 * (exit 1): imgsz not a multiple of patch x windows, unknown size or device,
 * max_batch out of range.
 * FT_ERR_GPU: CUDA asked for but unusable. */
FT_NODISCARD ft_status ft_rfdetr_create(const ft_rfdetr_params *params, ft_rfdetr **out);

/* NULL-safe; sets *m to NULL. */
void ft_rfdetr_destroy(ft_rfdetr **m);

/* The architecture in use (borrowed). */
const ft_rfdetr_arch *ft_rfdetr_arch_get(const ft_rfdetr *m);
/* Input side length in pixels. */
int ft_rfdetr_input_size(const ft_rfdetr *m);
/* The ball class for ball_class_id = -1 (see ft_rfdetr_detector_params). */
int ft_rfdetr_ball_class_auto(const ft_rfdetr *m);
/* Class name for a label from the checkpoint's args.class_names (borrowed), or
 * NULL when the checkpoint has none for it. */
const char *ft_rfdetr_class_name(const ft_rfdetr *m, int label);
/* Analytic multiply-add count of one forward pass x 2 (FLOPs), per frame. */
double ft_rfdetr_flops(const ft_rfdetr *m);

/* Debug taps: called during forward passes with each named intermediate
 * (names and layouts in docs/rfdetr.md; of image 0 when a batch has several),
 * in host memory borrowed for the call. Setting a tap makes the backend run
 * eagerly. fn NULL removes it. */
typedef void (*ft_rfdetr_tap_fn)(void *user, const char *name, const float *data, int ndim,
                                 const int64_t *shape);
void ft_rfdetr_set_tap(ft_rfdetr *m, ft_rfdetr_tap_fn fn, void *user);

/* Normalise a frame (borrowed; YUV420P, NV12, RGB24 or GRAY8) into the model
 * input: RGB, /255, mean/std, resized to the input size with the antialiased
 * bilinear filter of torchvision. Sets a batch of one frame. */
FT_NODISCARD ft_status ft_rfdetr_preprocess(ft_rfdetr *m, const ft_image *frame);
/* The same for n frames (array and frames borrowed), 1 <= n <= max_batch:
 * frame b becomes image b of the next forward pass. FT_ERR_INVALID for a bad
 * count or frame. */
FT_NODISCARD ft_status ft_rfdetr_preprocess_batch(ft_rfdetr *m, const ft_image *const *frames,
                                                  int n);
/* Does preprocessing read a frame's device view (ft_image.dev_data, an NVDEC
 * surface) in place instead of uploading its host planes? True on the CUDA
 * backend (device 0; another device uploads the host planes); the host planes
 * must still be valid, as the CPU engine and batch callers may use them. */
bool ft_rfdetr_reads_device_frames(const ft_rfdetr *m);
/* Set the model input directly: 3 x size x size floats, already normalised
 * (borrowed, copied). Sets a batch of one image. */
FT_NODISCARD ft_status ft_rfdetr_set_input(ft_rfdetr *m, const float *chw);
/* n images back to back (image b at chw + b x 3 x size x size; borrowed,
 * copied), 1 <= n <= max_batch; FT_ERR_INVALID otherwise. */
FT_NODISCARD ft_status ft_rfdetr_set_input_batch(ft_rfdetr *m, const float *chw, int n);
/* Frames in the current batch (set by the last preprocess / set_input). */
int ft_rfdetr_batch(const ft_rfdetr *m);
/* Run one forward pass over the current batch. Plans (on CUDA one graph
 * each) exist for 1, 2, 4, ... frames and max_batch; another count runs the
 * next larger plan, its extra slots unused. */
FT_NODISCARD ft_status ft_rfdetr_forward(ft_rfdetr *m);

/* One post-processed detection, as the official PostProcess returns it. */
typedef struct ft_rfdetr_det {
    float score;
    int label;
    int query;
    float x0, y0, x1, y1; /* pixels of the original frame (not clipped) */
} ft_rfdetr_det;

/* Official post-processing of the last forward pass for an original frame of
 * width x height: sigmoid, top-num_select over queries x classes (sorted by
 * score), cxcywh -> xyxy in pixels. Writes min(cap, num_select) entries with
 * score >= threshold to out and their count to *n. Image 0 of the batch. */
void ft_rfdetr_postprocess(ft_rfdetr *m, int width, int height, float threshold, ft_rfdetr_det *out,
                           int cap, int *n);
/* The same for image `image` of the last batch (0 <= image < batch; *n = 0
 * otherwise). */
void ft_rfdetr_postprocess_image(ft_rfdetr *m, int image, int width, int height, float threshold,
                                 ft_rfdetr_det *out, int cap, int *n);

/* Greedy NMS in place over dets[0..*n) sorted by score: drops a detection
 * whose IoU with a kept one of the same label exceeds iou. */
void ft_rfdetr_nms(ft_rfdetr_det *dets, int *n, float iou);

/* The detector's view of a post-processed list dets[0..n) (sorted by score,
 * reordered in place): the detections of class `ball`, NMS when
 * 0 < iou < 1, at most cap of them written to out as centre and size, best
 * first. Returns how many were written. */
int ft_rfdetr_ball_candidates(ft_rfdetr_det *dets, int n, int ball, float iou, ft_detection *out,
                              int cap);

/* The hot thresholds of the RF-DETR detector adapters (the local model's and
 * the shared-inference client's). */
typedef struct ft_rfdetr_thresholds {
    float confidence; /* keep score >= confidence ("confidence") */
    float iou;        /* NMS IoU; 0 or >= 1 disables NMS ("iou_threshold") */
} ft_rfdetr_thresholds;

/* Checks the creation values: FT_ERR_CONFIG (logged under `module`) for a
 * confidence outside [0, 1]. */
FT_NODISCARD ft_status ft_rfdetr_thresholds_check(const ft_rfdetr_thresholds *t,
                                                  const char *module);

/* The detectors' set_param: "confidence" or "iou_threshold" in [0, 1];
 * FT_ERR_INVALID for another key or value. */
FT_NODISCARD ft_status ft_rfdetr_thresholds_set(ft_rfdetr_thresholds *t, const char *key,
                                                double value);

/* Detector adapter (see detect/detector.h): returns every ball candidate
 * (label == ball_class_id) above the confidence threshold. */
typedef struct ft_rfdetr_detector_params {
    ft_rfdetr_params model;
    float confidence; /* keep score >= confidence (hot: "confidence") */
    /* -1 = auto: the class whose args.class_names entry contains "ball", else
     * 37 (COCO "sports ball") for a 91-logit COCO head, else 0. */
    int ball_class_id;
    float iou_threshold; /* NMS IoU; 0 or >= 1 disables NMS */
} ft_rfdetr_detector_params;

/* *out is returned-owned (destroy with ft_detector_destroy). Errors as
 * ft_rfdetr_create. */
FT_NODISCARD ft_status ft_rfdetr_detector_create(const ft_rfdetr_detector_params *params,
                                                 ft_detector **out);

#endif
