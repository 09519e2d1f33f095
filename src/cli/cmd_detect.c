/* `football-tracker detect`: run an RF-DETR checkpoint on a PNG image or a
 * video and print every frame's post-processed detections as JSON lines, for
 * users checking a model and for tests. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <png.h>

#include "cli/commands.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/status.h"
#include "core/text_out.h"
#include "detect/rfdetr.h"
#include "io/reader.h"

#define MAX_PNG_SIDE 16384

typedef struct detect_opts {
    const char *model, *input, *device, *json, *size;
    float confidence;
    int imgsz, threads;
} detect_opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: football-tracker detect --model FILE --input IMAGE.png|VIDEO [options]\n"
            "\n"
            "Runs an RF-DETR checkpoint (.pth or .safetensors) and prints one JSON line per\n"
            "frame: {\"frame\",\"pts\",\"width\",\"height\",\"detections\":[{\"score\",\"label\",\n"
            "\"name\",\"box\":[x0,y0,x1,y1]}]} with boxes in pixels of the input.\n"
            "\n"
            "  --model FILE        checkpoint (required)\n"
            "  --input PATH        PNG image or any video the reader opens (required)\n"
            "  --confidence X      keep detections with score >= X (default 0.5)\n"
            "  --device D          cpu (default), cuda, cuda:N or auto\n"
            "  --json FILE         write the JSON lines to FILE instead of stdout\n"
            "  --imgsz N           model input size (default: the checkpoint's)\n"
            "  --size NAME         architecture preset override (default auto)\n"
            "  --threads N         CPU threads (default FT_THREADS, OMP_NUM_THREADS or all)\n"
            "  --help              this text\n"
            "Exit codes: 0 ok, 1 bad options, 2 model load failure, 3 input error,\n"
            "4 cannot write --json, 5 GPU error, 6 runtime error or interrupted (SIGINT,\n"
            "SIGTERM). --json FILE is renamed into place when complete: a failed run\n"
            "leaves no partial file and an earlier FILE as it was.\n");
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    if (!ft_parse_double(v, lo, hi, out)) {
        fprintf(stderr, "detect: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, v);
        return -1;
    }
    return 0;
}

static int parse_opts(int argc, char **argv, detect_opts *o)
{
    *o = (detect_opts){.device = "cpu", .confidence = 0.5f};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "detect: unknown option or missing value: %s\n", a);
            return -1;
        }
        const char *v = argv[++i];
        double d;
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--input"))
            o->input = v;
        else if (!strcmp(a, "--device"))
            o->device = v;
        else if (!strcmp(a, "--json"))
            o->json = v;
        else if (!strcmp(a, "--size"))
            o->size = v;
        else if (!strcmp(a, "--confidence")) {
            if (parse_num(a, v, 0, 1, &d))
                return -1;
            o->confidence = (float)d;
        } else if (!strcmp(a, "--imgsz")) {
            if (parse_num(a, v, 1, 8192, &d) || d != (int)d)
                return -1;
            o->imgsz = (int)d;
        } else if (!strcmp(a, "--threads")) {
            if (parse_num(a, v, 1, 256, &d) || d != (int)d)
                return -1;
            o->threads = (int)d;
        } else {
            fprintf(stderr, "detect: unknown option %s\n", a);
            return -1;
        }
    }
    if (!o->model || !o->input) {
        fprintf(stderr, "detect: --model and --input are required\n");
        return -1;
    }
    return 0;
}

static int has_png_signature(const char *path)
{
    unsigned char sig[8];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(sig, 1, 8, f);
    fclose(f);
    return n == 8 && !png_sig_cmp(sig, 0, 8);
}

/* Reads a PNG as RGB24 into *pixels (returned-owned). */
static ft_status read_png(const char *path, uint8_t **pixels, int *w, int *h)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        FT_LOGE("detect", "%s: not a readable PNG: %s", path, img.message);
        return FT_ERR_INPUT;
    }
    if (img.width == 0 || img.height == 0 || img.width > MAX_PNG_SIDE ||
        img.height > MAX_PNG_SIDE) {
        FT_LOGE("detect", "%s: PNG size %ux%u outside 1..%d", path, img.width, img.height,
                MAX_PNG_SIDE);
        png_image_free(&img);
        return FT_ERR_INPUT;
    }
    img.format = PNG_FORMAT_RGB;
    *pixels = malloc(PNG_IMAGE_SIZE(img));
    if (!*pixels) {
        png_image_free(&img);
        return FT_ERR_NOMEM;
    }
    if (!png_image_finish_read(&img, NULL, *pixels, 0, NULL)) {
        FT_LOGE("detect", "%s: corrupt PNG: %s", path, img.message);
        free(*pixels);
        *pixels = NULL;
        return FT_ERR_INPUT;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return FT_OK;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* Detects on one frame and writes its JSON line. */
static ft_status detect_frame(ft_rfdetr *m, const ft_image *img, long frame, double pts, float conf,
                              ft_rfdetr_det *dets, int cap, FILE *out)
{
    ft_status st = ft_rfdetr_preprocess(m, img);
    if (!st)
        st = ft_rfdetr_forward(m);
    if (st)
        return st;
    int n = 0;
    ft_rfdetr_postprocess(m, img->width, img->height, conf, dets, cap, &n);
    fprintf(out, "{\"frame\":%ld,\"pts\":%.6f,\"width\":%d,\"height\":%d,\"detections\":[", frame,
            pts, img->width, img->height);
    for (int i = 0; i < n; i++) {
        const ft_rfdetr_det *d = &dets[i];
        const char *name = ft_rfdetr_class_name(m, d->label);
        fprintf(out, "%s{\"score\":%.6f,\"label\":%d,\"name\":", i ? "," : "", d->score, d->label);
        if (name)
            json_string(out, name);
        else
            fputs("null", out);
        fprintf(out, ",\"box\":[%.2f,%.2f,%.2f,%.2f]}", d->x0, d->y0, d->x1, d->y1);
    }
    fputs("]}\n", out);
    return ferror(out) ? FT_ERR_OUTPUT : FT_OK;
}

/* Set by SIGINT/SIGTERM (a handler may only touch a lock-free atomic flag);
 * the frame loop stops at the next frame. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static ft_status run_video(ft_rfdetr *m, const detect_opts *o, ft_rfdetr_det *dets, int cap,
                           FILE *out)
{
    ft_reader *r = NULL;
    AVFrame *f = av_frame_alloc();
    if (!f)
        return FT_ERR_NOMEM;
    ft_reader_params rp = {.url = o->input, .device = "cpu"};
    ft_status st = ft_reader_open(&rp, &r);
    long frame = 0;
    while (!st) {
        if (stop_requested) {
            st = FT_ERR_INTERRUPTED;
            break;
        }
        ft_reader_item item;
        double pts = 0;
        st = ft_reader_read(r, f, NULL, &item, &pts);
        if (st)
            break;
        if (item != FT_READER_VIDEO)
            continue;
        ft_image img = {.width = f->width, .height = f->height};
        if (f->format == AV_PIX_FMT_YUV420P || f->format == AV_PIX_FMT_YUVJ420P)
            img.format = FT_PIX_YUV420P;
        else if (f->format == AV_PIX_FMT_NV12)
            img.format = FT_PIX_NV12;
        else if (f->format == AV_PIX_FMT_RGB24)
            img.format = FT_PIX_RGB24;
        else if (f->format == AV_PIX_FMT_GRAY8)
            img.format = FT_PIX_GRAY8;
        else {
            FT_LOGE("detect", "%s: unsupported decoded pixel format %d", o->input, f->format);
            st = FT_ERR_INPUT;
            break;
        }
        for (int p = 0; p < 3; p++) {
            img.data[p] = f->data[p];
            img.stride[p] = f->linesize[p];
        }
        st = detect_frame(m, &img, frame++, pts, o->confidence, dets, cap, out);
        av_frame_unref(f);
    }
    if (st == FT_ERR_INPUT_EOF)
        st = FT_OK;
    av_frame_free(&f);
    ft_reader_destroy(&r);
    return st;
}

int ft_cmd_detect(int argc, char **argv)
{
    detect_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc > 0)
        return FT_EXIT_OK;
    if (rc < 0) {
        usage(stderr);
        return FT_EXIT_CONFIG;
    }
    ft_status st = FT_OK;
    ft_rfdetr *m = NULL;
    FILE *out = stdout;
    ft_text_out json = {0};
    struct sigaction sa = {0}, old_int, old_term;
    bool handlers = false;
    uint8_t *pixels = NULL;
    ft_rfdetr_det *dets = NULL;
    ft_rfdetr_params p = {.model_path = o.model,
                          .size = o.size,
                          .imgsz = o.imgsz,
                          .device = o.device,
                          .threads = o.threads};
    if ((st = ft_rfdetr_create(&p, &m)))
        goto out;
    int cap = ft_rfdetr_arch_get(m)->num_select;
    dets = malloc(sizeof(*dets) * cap);
    if (!dets) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    /* --json is written beside its place and renamed when complete, so a
     * failed or interrupted run neither leaves a partial file nor truncates
     * the one a previous run wrote. */
    if (o.json) {
        if ((st = ft_text_out_open(&json, o.json, true, "JSON", "detect")))
            goto out;
        out = json.f;
    }
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;
    if (has_png_signature(o.input)) {
        int w, h;
        if ((st = read_png(o.input, &pixels, &w, &h)))
            goto out;
        ft_image img = {
            .width = w, .height = h, .format = FT_PIX_RGB24, .data = {pixels}, .stride = {3 * w}};
        st = detect_frame(m, &img, 0, 0.0, o.confidence, dets, cap, out);
    } else {
        st = run_video(m, &o, dets, cap, out);
    }
out:
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (json.f && !st)
        st = ft_text_out_commit(&json);
    ft_text_out_close(&json);
    free(pixels);
    free(dets);
    ft_rfdetr_destroy(&m);
    if (st)
        fprintf(stderr, "detect: %s\n", ft_status_str(st));
    return ft_status_exit_code(st);
}
