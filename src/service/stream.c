/* Stream service: glue between the live pipeline, the HTTP server, the
 * metrics and the configuration. Threads: the caller runs the pipeline; a
 * monitor thread polls for reload requests and config-file changes and
 * mirrors pipeline counters into the metrics; libmicrohttpd serves. */
#include "service/stream.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "io/reader.h"
#include "pipeline/pipeline.h"
#include "service/http.h"
#include "service/metrics.h"
#include "service/preview.h"
#include "service/rtmp_gate.h"
#include "service/supervisor_internal.h" /* NVML loader shared with `serve` */
#include "service/webhook.h"

/* GPUs shown in the metrics (label values must be static strings). */
#define MAX_GPU_METRICS 8
static const char *const gpu_labels[MAX_GPU_METRICS] = {"gpu=\"0\"", "gpu=\"1\"", "gpu=\"2\"",
                                                        "gpu=\"3\"", "gpu=\"4\"", "gpu=\"5\"",
                                                        "gpu=\"6\"", "gpu=\"7\""};

/* Latency buckets in seconds, from one frame time to a stall. */
static const double latency_buckets[] = {0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1,
                                         0.15,  0.2,  0.3,  0.5,   1.0,  2.0};
#define N_LAT_BUCKETS ((int)(sizeof latency_buckets / sizeof latency_buckets[0]))

enum {
    M_FRAMES_IN,
    M_FRAMES_OUT,
    M_SENT,
    M_DROPPED,
    M_REPEATED,
    M_SLATE,
    M_LOST_OUT,
    M_JITTER_BUF,
    M_JITTER_CORR,
    M_JITTER_ANCHOR,
    M_IN_RECONN,
    M_OUT_RECONN,
    M_INPUT_UP,
    M_OUTPUT_UP,
    M_FPS,
    M_LOST_RATIO,
    M_CHAOS_RATIO,
    M_CONFIDENCE,
    M_DET_UNAVAIL,
    M_RELOAD_OK,
    M_RELOAD_ERR,
    M_IN_FAIL,
    M_OUT_FAIL,
    M_IN_ALERT,
    M_OUT_ALERT,
    M_LISTEN_OK,
    M_LISTEN_ADDR,
    M_LISTEN_KEY,
    M_LISTEN_PROTO,
    M_COUNT
};

/* Pause between listens while waiting for the first publisher. */
#define LISTEN_RETRY_S 0.05

/* Failed reconnect attempts in one outage that raise an alert. */
#define ALERT_FAILURES 5

/* One CloudWatch EMF interval (monitor thread only): the totals at its start,
 * so that the record averages over the interval from the same counters the
 * Prometheus side shows, and the sums of the once-a-second GPU samples. */
typedef struct emf_window {
    int64_t t0;                  /* start (now_ns); 0 = EMF off */
    double frames_out;           /* ft_frames_processed_total */
    double lat_n, lat_sum;       /* ft_latency_seconds count and sum */
    int64_t frames, lost, chaos; /* the counts behind the lost and chaos percentages */
    double gpu_util, vram;       /* sums over the GPU samples */
    int gpu_samples;
} emf_window;

struct ft_service_stream {
    ft_service_stream_params p;
    pthread_mutex_t mu; /* guards cfg, cfg_prev_files, mode, counts */
    ft_config *cfg0;    /* the config the pipeline was made from (its strings are borrowed) */
    ft_config *cfg;     /* in force now (== cfg0 until the first reload) */
    struct timespec mtime[FT_CONFIG_FILE_COUNT];
    ft_detector *det;
    ft_detect_filter *filter;
    _Atomic(ft_pipeline *) pl;
    ft_service_http *http;
    ft_service_preview *preview;
    ft_rtmp_gate *gate; /* listen mode; NULL when pulling the input */
    ft_metrics *metrics;
    ft_metric *m[M_COUNT];
    ft_metric *latency; /* end-to-end histogram */
    ft_metric *stage_latency[FT_STAGE_COUNT];
    ft_serve_nvml *nvml; /* NULL without an NVIDIA driver */
    int n_gpus;          /* GPUs with metrics */
    ft_metric *gpu_util[MAX_GPU_METRICS], *gpu_used[MAX_GPU_METRICS], *gpu_total[MAX_GPU_METRICS],
        *vram_self;
    atomic_bool stop, reload_requested;
    atomic_int_fast64_t last_frame_ns;
    const char *mode; /* tracker mode of the last frame (static string) */
    int64_t frames, lost, chaos;
    pthread_t monitor;
    bool monitor_started;
    bool was_stalled;
    bool alerted[2];            /* input, output: alert sent for the current outage */
    int64_t fps_frames, fps_ns; /* window start of the current rate (guarded by mu) */
    double fps_now;             /* frames processed per second over the last second */
    emf_window emf;
    bool emf_warned; /* the text-log warning was written */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool ft_service_output_url_allowed(const char *url)
{
    static const char *const schemes[] = {"rtmp://", "rtmps://", "srt://", "udp://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strncmp(url, schemes[i], strlen(schemes[i])))
            return true;
    return false;
}

/* ---- configuration ---- */

static void file_mtimes(const ft_config *cfg, struct timespec *out)
{
    const ft_config_sources *src = ft_config_get_sources(cfg);
    for (int f = 0; f < FT_CONFIG_FILE_COUNT; f++) {
        struct stat st;
        out[f] = (struct timespec){0, 0};
        if (src->files[f][0] && stat(src->files[f], &st) == 0)
            out[f] = st.st_mtim;
    }
}

/* Reads the first line of the secret file `path` (config key `key`) into
 * buf (cap bytes, at most max_len characters). An unreadable or empty file is
 * a configuration error; the secret itself is never logged. */
static ft_status read_secret(const char *key, const char *path, char *buf, size_t cap,
                             size_t max_len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        FT_LOGE("service", "%s %s: cannot read: %s", key, path, strerror(errno));
        return FT_ERR_CONFIG;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
        FT_LOGW("service", "%s %s is readable by other users (chmod 600 it)", key, path);
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!ok || !buf[0]) {
        FT_LOGE("service", "%s %s: empty", key, path);
        return FT_ERR_CONFIG;
    }
    if (strlen(buf) > max_len) {
        memset(buf, 0, cap);
        FT_LOGE("service", "%s %s: longer than %zu bytes", key, path, max_len);
        return FT_ERR_CONFIG;
    }
    return FT_OK;
}

/* Reads the bearer token (first line of http.token_file, at most 256 bytes)
 * into the HTTP server. */
static ft_status load_token(ft_service_stream *s, const ft_settings *set)
{
    if (!set->http.token_file[0])
        return ft_service_http_set_token(s->http, NULL);
    char tok[FT_SERVICE_HTTP_MAX_TOKEN + 2];
    ft_status rs = read_secret("http.token_file", set->http.token_file, tok, sizeof tok,
                               FT_SERVICE_HTTP_MAX_TOKEN);
    if (!rs)
        rs = ft_service_http_set_token(s->http, tok);
    memset(tok, 0, sizeof tok);
    return rs;
}

/* Listen mode: the stream key from stream.listen_token_file, then the gate
 * on the public port. */
static ft_status open_gate(ft_service_stream *s, const ft_settings *set)
{
    if (!set->stream.listen_token_file[0]) {
        FT_LOGE("service", "--listen needs stream.listen_token_file (the stream key publishers "
                           "must use)");
        return FT_ERR_CONFIG;
    }
    char key[FT_RTMP_GATE_MAX_TOKEN + 2];
    ft_status st = read_secret("stream.listen_token_file", set->stream.listen_token_file, key,
                               sizeof key, FT_RTMP_GATE_MAX_TOKEN);
    if (!st) {
        ft_rtmp_gate_params gp = {.listen_url = s->p.listen,
                                  .allow = set->stream.listen_allow,
                                  .token = key,
                                  .timeout_ms = set->stream.timeout_ms * 2};
        st = ft_rtmp_gate_create(&gp, &s->gate);
    }
    memset(key, 0, sizeof key);
    return st;
}

/* Puts `next` (taken) in force: pipeline stages switch at the next frame. */
static void install(ft_service_stream *s, ft_config *next)
{
    pthread_mutex_lock(&s->mu);
    ft_config *old = s->cfg;
    s->cfg = next;
    file_mtimes(next, s->mtime);
    ft_pipeline *pl = atomic_load(&s->pl);
    if (pl)
        ft_pipeline_update(pl, ft_settings_of(next));
    /* logging.level is the one hot key outside the pipeline: the logger is
     * process-wide, so the service applies it itself. */
    ft_log_set_level(ft_settings_of(next)->logging.level);
    pthread_mutex_unlock(&s->mu);
    if (old != s->cfg0)
        ft_config_destroy(&old);
    ft_service_metric_add(s->m[M_RELOAD_OK], 1);
}

ft_status ft_service_stream_reload(ft_service_stream *s, char *err, size_t cap)
{
    ft_config *next = NULL;
    pthread_mutex_lock(&s->mu);
    ft_status st = ft_config_reload(s->cfg, &next, err, cap);
    if (st)
        file_mtimes(s->cfg, s->mtime); /* report a bad file once, not every poll */
    pthread_mutex_unlock(&s->mu);
    if (!st && (st = load_token(s, ft_settings_of(next)))) {
        snprintf(err, cap, "http.token_file: cannot be read");
        ft_config_destroy(&next);
    }
    if (st) {
        FT_LOGE("service", "reload refused, the previous configuration stays in force: %s", err);
        ft_service_metric_add(s->m[M_RELOAD_ERR], 1);
        return st;
    }
    install(s, next);
    FT_LOGI("service", "configuration reloaded");
    return FT_OK;
}

/* ---- HTTP handlers ---- */

static bool h_ready(void *user)
{
    ft_service_stream *s = user;
    int64_t last = atomic_load(&s->last_frame_ns);
    ft_pipeline *pl = atomic_load(&s->pl);
    if (!pl || !last || now_ns() - last > 2000000000)
        return false;
    ft_pipeline_stats st;
    ft_pipeline_stats_get(pl, &st);
    return !st.input_stalled;
}

static ft_status h_metrics(void *user, char *buf, size_t cap, size_t *len)
{
    ft_service_stream *s = user;
    return ft_service_metrics_render(s->metrics, buf, cap, len);
}

static ft_status h_status_json(void *user, char *buf, size_t cap, size_t *len)
{
    ft_service_stream *s = user;
    pthread_mutex_lock(&s->mu);
    const char *mode = s->mode ? s->mode : "starting";
    double fps = s->fps_now;
    pthread_mutex_unlock(&s->mu);
    ft_pipeline *pl = atomic_load(&s->pl);
    ft_pipeline_stats st = {0};
    if (pl)
        ft_pipeline_stats_get(pl, &st);
    const char *input = !pl ? "connecting" : st.input_stalled ? "reconnecting" : "connected";
    if (pl && st.input_stalled && st.frames_slate > 0)
        mode = "slate";
    int n =
        snprintf(buf, cap,
                 "{\"input\":\"%s\",\"output_up\":%s,\"mode\":\"%s\",\"fps\":%.3f,"
                 "\"latency_ms_p50\":%.3f,\"latency_ms_p95\":%.3f,\"frames_in\":%lld,"
                 "\"frames_out\":%lld,\"frames_sent\":%lld,\"frames_dropped\":%lld,"
                 "\"frames_repeated\":%lld,\"frames_slate\":%lld,\"input_reconnects\":%.0f,"
                 "\"output_reconnects\":%lld}\n",
                 input, st.output_up ? "true" : "false", mode, fps,
                 1e3 * ft_service_metric_quantile(s->latency, 0.5),
                 1e3 * ft_service_metric_quantile(s->latency, 0.95), (long long)st.frames_in,
                 (long long)st.frames_out, (long long)st.frames_sent, (long long)st.frames_dropped,
                 (long long)st.frames_repeated, (long long)st.frames_slate,
                 ft_service_metric_value(s->m[M_IN_RECONN]), (long long)st.output_reconnects);
    if (n < 0 || (size_t)n >= cap)
        return FT_ERR_NOMEM;
    *len = (size_t)n;
    return FT_OK;
}

static ft_status h_config_get(void *user, char *buf, size_t cap, size_t *len)
{
    ft_service_stream *s = user;
    FILE *f = fmemopen(buf, cap, "w");
    if (!f)
        return FT_ERR_NOMEM;
    pthread_mutex_lock(&s->mu);
    ft_config_print_json(s->cfg, f);
    pthread_mutex_unlock(&s->mu);
    long n = ftell(f);
    bool over = ferror(f) || n < 0 || (size_t)n >= cap;
    fclose(f);
    if (over)
        return FT_ERR_NOMEM;
    *len = (size_t)n;
    return FT_OK;
}

static ft_status h_config_patch(void *user, const char *const *keys, const char *const *values,
                                int n, char *err, size_t cap)
{
    ft_service_stream *s = user;
    pthread_mutex_lock(&s->mu);
    ft_config *cur = NULL;
    ft_status st = FT_OK;
    /* Each key on a copy of the previous copy; the live config is replaced
     * only when all of them passed. */
    for (int i = 0; i < n && !st; i++) {
        ft_config *next = NULL;
        st = ft_config_set(cur ? cur : s->cfg, keys[i], values[i], "PATCH /config", true, &next,
                           err, cap);
        ft_config_destroy(&cur);
        cur = next;
    }
    pthread_mutex_unlock(&s->mu);
    if (st) {
        ft_config_destroy(&cur);
        char clean[1024];
        ft_log_sanitize(err, clean, sizeof clean);
        FT_LOGW("service", "PATCH /config refused, nothing changed: %s", clean);
        ft_service_metric_add(s->m[M_RELOAD_ERR], 1);
        return st == FT_ERR_NOMEM ? st : FT_ERR_CONFIG;
    }
    install(s, cur);
    FT_LOGI("service", "PATCH /config applied %d key%s", n, n > 1 ? "s" : "");
    return FT_OK;
}

static ft_status h_preview(void *user, uint64_t *seq, uint8_t *buf, size_t cap, size_t *len,
                           int timeout_ms)
{
    ft_service_stream *s = user;
    return ft_service_preview_wait(s->preview, seq, buf, cap, len, timeout_ms);
}

/* ---- pipeline hook and monitor ---- */

static ft_status on_frame(void *user, const ft_pipeline_frame *f)
{
    ft_service_stream *s = user;
    int64_t t = now_ns();
    atomic_store(&s->last_frame_ns, t);
    ft_service_metric_observe(s->latency, f->latency_ms / 1e3);
    for (int k = 0; k < FT_STAGE_COUNT; k++)
        ft_service_metric_observe(s->stage_latency[k], f->stage_ms[k] / 1e3);
    float best = 0;
    for (int i = 0; i < f->n_detections; i++)
        if (f->detections[i].score > best)
            best = f->detections[i].score;
    ft_service_metric_set(s->m[M_CONFIDENCE], best);
    pthread_mutex_lock(&s->mu);
    s->mode = f->mode;
    s->frames++;
    s->lost += !f->track->is_tracking;
    s->chaos += f->track->chaos;
    double lost = (double)s->lost / (double)s->frames, chaos = (double)s->chaos / (double)s->frames;
    pthread_mutex_unlock(&s->mu);
    ft_service_metric_set(s->m[M_LOST_RATIO], 100 * lost);
    ft_service_metric_set(s->m[M_CHAOS_RATIO], 100 * chaos);
    if (f->picture && ft_service_preview_push(s->preview, f->picture, t))
        FT_LOGD("service", "preview frame skipped");
    return FT_OK;
}

/* The guide's alert after five failed reconnects: an error log line, a
 * counter, and the optional webhook. Once per outage and direction. */
static void alert(ft_service_stream *s, int dir, int failures)
{
    static const char *const names[2] = {"input", "output"};
    if (failures < ALERT_FAILURES) {
        if (failures == 0)
            s->alerted[dir] = false;
        return;
    }
    if (s->alerted[dir])
        return;
    s->alerted[dir] = true;
    /* the webhook body's fields, so that a log pipeline can match the JSON
     * record as a receiver matches the POST */
    char kind[32], attempts[16];
    snprintf(kind, sizeof kind, "stream_%s_down", names[dir]);
    snprintf(attempts, sizeof attempts, "%d", failures);
    const ft_log_field fields[] = {
        {"alert", kind}, {"direction", names[dir]}, {"failed_attempts", attempts}};
    ft_log_fields(FT_LOG_ERROR, "service", fields, 3,
                  "ALERT: %s down, %d reconnect attempts failed", names[dir], failures);
    ft_service_metric_add(s->m[dir ? M_OUT_ALERT : M_IN_ALERT], 1);
    pthread_mutex_lock(&s->mu);
    char url[FT_OPT_STRLEN];
    snprintf(url, sizeof url, "%s", ft_settings_of(s->cfg)->stream.alert_webhook);
    pthread_mutex_unlock(&s->mu);
    if (!url[0])
        return;
    char body[256];
    snprintf(body, sizeof body, "{\"alert\":\"%s\",\"direction\":\"%s\",\"failed_attempts\":%d}",
             kind, names[dir], failures);
    if (ft_service_webhook_post(url, body, 2000))
        FT_LOGW("service", "alert kept in the log and metrics only (webhook failed)");
}

static void mirror_gate(ft_service_stream *s)
{
    if (!s->gate)
        return;
    ft_rtmp_gate_stats gs;
    ft_rtmp_gate_stats_get(s->gate, &gs);
    ft_service_metric_set(s->m[M_LISTEN_OK], (double)gs.accepted);
    ft_service_metric_set(s->m[M_LISTEN_ADDR], (double)gs.refused_address);
    ft_service_metric_set(s->m[M_LISTEN_KEY], (double)gs.refused_key);
    ft_service_metric_set(s->m[M_LISTEN_PROTO], (double)gs.refused_protocol);
}

static void mirror_stats(ft_service_stream *s)
{
    mirror_gate(s); /* also before the first publisher, when there is no pipeline */
    ft_pipeline *pl = atomic_load(&s->pl);
    if (!pl)
        return;
    ft_pipeline_stats st;
    ft_pipeline_stats_get(pl, &st);
    ft_service_metric_set(s->m[M_FRAMES_IN], (double)st.frames_in);
    ft_service_metric_set(s->m[M_DET_UNAVAIL], (double)ft_detector_unavailable(s->det));
    ft_service_metric_set(s->m[M_FRAMES_OUT], (double)st.frames_out);
    ft_service_metric_set(s->m[M_SENT], (double)st.frames_sent);
    ft_service_metric_set(s->m[M_DROPPED], (double)st.frames_dropped);
    ft_service_metric_set(s->m[M_REPEATED], (double)st.frames_repeated);
    ft_service_metric_set(s->m[M_SLATE], (double)st.frames_slate);
    ft_service_metric_set(s->m[M_LOST_OUT], (double)st.frames_lost);
    ft_service_metric_set(s->m[M_JITTER_BUF], st.jitter_buffer_s);
    ft_service_metric_set(s->m[M_JITTER_CORR], (double)st.clock_corrections);
    ft_service_metric_set(s->m[M_JITTER_ANCHOR], (double)st.input_reanchors);
    ft_service_metric_set(s->m[M_OUT_RECONN], (double)st.output_reconnects);
    ft_service_metric_set(s->m[M_IN_FAIL], st.input_failures);
    ft_service_metric_set(s->m[M_OUT_FAIL], st.output_failures);
    alert(s, 0, st.input_failures);
    alert(s, 1, st.output_failures);
    ft_service_metric_set(s->m[M_OUTPUT_UP], st.output_up);
    ft_service_metric_set(s->m[M_INPUT_UP], !st.input_stalled);
    int64_t t = now_ns();
    pthread_mutex_lock(&s->mu);
    if (!s->fps_ns) {
        s->fps_ns = t;
        s->fps_frames = st.frames_out;
    } else if (t - s->fps_ns >= 1000000000) {
        s->fps_now = (double)(st.frames_out - s->fps_frames) * 1e9 / (double)(t - s->fps_ns);
        s->fps_ns = t;
        s->fps_frames = st.frames_out;
    }
    double fps = s->fps_now;
    pthread_mutex_unlock(&s->mu);
    ft_service_metric_set(s->m[M_FPS], fps);
    /* An input stall that ends is one reconnect of the input. */
    if (s->was_stalled && !st.input_stalled)
        ft_service_metric_add(s->m[M_IN_RECONN], 1);
    s->was_stalled = st.input_stalled;
}

/* GPU utilisation and memory through NVML, once a second. The EMF window
 * takes the same samples: utilisation averaged over the GPUs, and the memory
 * in use on the fullest GPU (out of memory happens per GPU, and the VRAM rule
 * of deploy/prometheus also fires on any one GPU). */
static void mirror_gpu(ft_service_stream *s)
{
    if (!s->nvml || s->n_gpus < 1) /* no GPU series were registered */
        return;
    ft_serve_nvml_refresh(s->nvml);
    double util = 0, vram = 0;
    for (int g = 0; g < s->n_gpus; g++) {
        uint64_t used = 0, total = 0;
        ft_serve_nvml_gpu_memory(s->nvml, g, &used, &total);
        unsigned u = ft_serve_nvml_gpu_utilization(s->nvml, g);
        ft_service_metric_set(s->gpu_util[g], u);
        ft_service_metric_set(s->gpu_used[g], (double)used);
        ft_service_metric_set(s->gpu_total[g], (double)total);
        util += u;
        vram = fmax(vram, (double)used);
    }
    ft_service_metric_set(s->vram_self, (double)ft_serve_nvml_pid_bytes(s->nvml, (int)getpid()));
    if (s->emf.t0) {
        s->emf.gpu_util += util / s->n_gpus;
        s->emf.vram += vram;
        s->emf.gpu_samples++;
    }
}

/* ---- CloudWatch embedded metric format (logging.cloudwatch_emf) ---- */

static void emf_start(ft_service_stream *s, int64_t t)
{
    emf_window *w = &s->emf;
    *w = (emf_window){.t0 = t, .frames_out = ft_service_metric_value(s->m[M_FRAMES_OUT])};
    ft_service_metric_totals(s->latency, &w->lat_n, &w->lat_sum);
    pthread_mutex_lock(&s->mu);
    w->frames = s->frames;
    w->lost = s->lost;
    w->chaos = s->chaos;
    pthread_mutex_unlock(&s->mu);
}

/* The record of the interval that ends at t, named as the deployment
 * guide's Key Metrics table names them (its CloudWatch alarm reads FPS).
 * FPS is the frames processed over the interval, i.e. the mean of ft_fps;
 * the others are the interval's own latency mean and lost/chaos shares, so
 * an alarm sees the last minute and not the average since start. A value
 * with no data in the interval (no frame, no GPU) is NAN and left out; FPS
 * is always written, 0 while nothing flows, so the guide's alarm fires. */
static void emf_write(ft_service_stream *s, int64_t t)
{
    const emf_window *w = &s->emf;
    double n, sum;
    ft_service_metric_totals(s->latency, &n, &sum);
    pthread_mutex_lock(&s->mu);
    double frames = (double)(s->frames - w->frames), lost = (double)(s->lost - w->lost),
           chaos = (double)(s->chaos - w->chaos);
    pthread_mutex_unlock(&s->mu);
    double sec = (double)(t - w->t0) / 1e9;
    const ft_log_metric m[] = {
        {"FPS", "Count/Second",
         (ft_service_metric_value(s->m[M_FRAMES_OUT]) - w->frames_out) / sec},
        {"GPUUtil", "Percent", w->gpu_samples ? w->gpu_util / w->gpu_samples : NAN},
        {"VRAM", "Bytes", w->gpu_samples ? w->vram / w->gpu_samples : NAN},
        {"Latency", "Milliseconds", n > w->lat_n ? 1e3 * (sum - w->lat_sum) / (n - w->lat_n) : NAN},
        {"LostFrames", "Percent", frames > 0 ? 100 * lost / frames : NAN},
        {"ChaosMode", "Percent", frames > 0 ? 100 * chaos / frames : NAN},
    };
    ft_log_emf("FootballTracker", m, (int)(sizeof m / sizeof m[0]));
}

/* Called on every monitor tick: the keys are hot, so switching on starts an
 * interval and switching off drops the current one. */
static void emf_tick(ft_service_stream *s)
{
    pthread_mutex_lock(&s->mu);
    const ft_log_params *lp = &ft_settings_of(s->cfg)->logging;
    bool on = lp->cloudwatch_emf;
    int64_t interval = (int64_t)lp->cloudwatch_emf_interval_s * 1000000000;
    pthread_mutex_unlock(&s->mu);
    int64_t t = now_ns();
    if (!on) {
        s->emf.t0 = 0;
        return;
    }
    if (!s->emf.t0) {
        /* CloudWatch Logs reads EMF from any log event that is one JSON
         * object, so text logs still deliver the metrics; said once, since
         * a mix of text and JSON lines may surprise whoever reads them. */
        if (!s->emf_warned && !ft_log_json_lines())
            FT_LOGW("service", "logging.cloudwatch_emf: the other records are text "
                               "(logging.format), the EMF records are JSON lines among them; "
                               "logging.format: json makes every line JSON");
        s->emf_warned = true;
        emf_start(s, t);
        return;
    }
    if (t - s->emf.t0 < interval)
        return;
    emf_write(s, t);
    emf_start(s, t);
}

static bool files_changed(ft_service_stream *s)
{
    struct timespec now[FT_CONFIG_FILE_COUNT];
    pthread_mutex_lock(&s->mu);
    file_mtimes(s->cfg, now);
    bool changed = false;
    for (int f = 0; f < FT_CONFIG_FILE_COUNT; f++)
        changed |= now[f].tv_sec != s->mtime[f].tv_sec || now[f].tv_nsec != s->mtime[f].tv_nsec;
    pthread_mutex_unlock(&s->mu);
    return changed;
}

static void *monitor_main(void *arg)
{
    ft_service_stream *s = arg;
    for (int tick = 0; !atomic_load(&s->stop); tick++) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        char err[2048];
        bool poll_files = tick % 5 == 0 && files_changed(s);
        if (atomic_exchange(&s->reload_requested, false) || poll_files)
            if (ft_service_stream_reload(s, err, sizeof err))
                FT_LOGD("service", "kept the previous configuration");
        mirror_stats(s);
        if (tick % 10 == 0)
            mirror_gpu(s);
        emf_tick(s);
    }
    return NULL;
}

/* ---- lifecycle ---- */

/* stream.memory_limit_mb: a runaway allocation then fails inside the
 * process (and is reported) instead of starving the machine. Only lowered,
 * never raised above a limit set from outside. */
static ft_status apply_memory_limit(int mb)
{
    if (mb <= 0)
        return FT_OK;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl))
        return FT_ERR_RUNTIME;
    rlim_t want = (rlim_t)mb << 20;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_AS, &rl)) {
        FT_LOGE("service", "stream.memory_limit_mb %d: cannot set RLIMIT_AS: %s", mb,
                strerror(errno));
        return FT_ERR_CONFIG;
    }
    FT_LOGI("service", "address space limited to %d MiB", mb);
    return FT_OK;
}

static ft_status add_metrics(ft_service_stream *s)
{
    static const struct {
        int id;
        const char *name, *labels, *help;
        ft_metric_type type;
    } defs[] = {
        {M_FRAMES_IN, "ft_frames_decoded_total", NULL, "Input frames decoded.", FT_METRIC_COUNTER},
        {M_FRAMES_OUT, "ft_frames_processed_total", NULL, "Frames through every stage.",
         FT_METRIC_COUNTER},
        {M_SENT, "ft_frames_sent_total", NULL,
         "Output frames sent (constant rate, repeats included).", FT_METRIC_COUNTER},
        {M_DROPPED, "ft_frames_dropped_total", NULL,
         "Frames dropped by live queues, or not shown by the output clock (displaced from "
         "their slot, or later than the jitter buffer).",
         FT_METRIC_COUNTER},
        {M_REPEATED, "ft_frames_repeated_total", NULL,
         "Output slots with no frame of their own (jitter buffer ran dry, input gap or stall; "
         "slate included).",
         FT_METRIC_COUNTER},
        {M_SLATE, "ft_frames_slate_total", NULL, "Reconnecting slate frames sent.",
         FT_METRIC_COUNTER},
        {M_LOST_OUT, "ft_frames_output_lost_total", NULL,
         "Output frames not sent because the output was down.", FT_METRIC_COUNTER},
        {M_JITTER_BUF, "ft_jitter_buffer_seconds", NULL,
         "Smoothed delay of frames in the output's jitter buffer (added latency).",
         FT_METRIC_GAUGE},
        {M_JITTER_CORR, "ft_jitter_corrections_total", NULL,
         "Frames dropped or repeated because the input clock drifted beyond the slew.",
         FT_METRIC_COUNTER},
        {M_JITTER_ANCHOR, "ft_jitter_reanchors_total", NULL,
         "Input time mapped afresh onto the output clock (stall, reconnect, timestamp jump).",
         FT_METRIC_COUNTER},
        {M_IN_RECONN, "ft_reconnects_total", "direction=\"input\"",
         "Recoveries after the input or the output was lost.", FT_METRIC_COUNTER},
        {M_OUT_RECONN, "ft_reconnects_total", "direction=\"output\"",
         "Recoveries after the input or the output was lost.", FT_METRIC_COUNTER},
        {M_INPUT_UP, "ft_up", "direction=\"input\"", "1 while frames flow in / out.",
         FT_METRIC_GAUGE},
        {M_OUTPUT_UP, "ft_up", "direction=\"output\"", "1 while frames flow in / out.",
         FT_METRIC_GAUGE},
        {M_FPS, "ft_fps", NULL, "Frames processed per second over the last second.",
         FT_METRIC_GAUGE},
        {M_LOST_RATIO, "ft_lost_frames_percent", NULL,
         "Share of frames with no ball estimate, percent.", FT_METRIC_GAUGE},
        {M_CHAOS_RATIO, "ft_chaos_percent", NULL, "Share of frames in chaos mode, percent.",
         FT_METRIC_GAUGE},
        {M_CONFIDENCE, "ft_detector_confidence", NULL,
         "Best detection score of the last frame (0 = none).", FT_METRIC_GAUGE},
        {M_DET_UNAVAIL, "ft_detector_unavailable_total", NULL,
         "Frames without detection because the detector could not run (shared inference "
         "server away).",
         FT_METRIC_COUNTER},
        {M_RELOAD_OK, "ft_config_reloads_total", "result=\"ok\"",
         "Configuration reloads (SIGHUP, file change, PATCH /config).", FT_METRIC_COUNTER},
        {M_RELOAD_ERR, "ft_config_reloads_total", "result=\"error\"",
         "Configuration reloads (SIGHUP, file change, PATCH /config).", FT_METRIC_COUNTER},
        {M_IN_FAIL, "ft_reconnect_failures", "direction=\"input\"",
         "Reconnect attempts failed in the current outage (alert at 5).", FT_METRIC_GAUGE},
        {M_OUT_FAIL, "ft_reconnect_failures", "direction=\"output\"",
         "Reconnect attempts failed in the current outage (alert at 5).", FT_METRIC_GAUGE},
        {M_IN_ALERT, "ft_alerts_total", "direction=\"input\"",
         "Outages that outlasted 5 reconnect attempts.", FT_METRIC_COUNTER},
        {M_OUT_ALERT, "ft_alerts_total", "direction=\"output\"",
         "Outages that outlasted 5 reconnect attempts.", FT_METRIC_COUNTER},
        {M_LISTEN_OK, "ft_listen_connections_total", "result=\"accepted\"",
         "Publisher connections to the --listen port, by outcome.", FT_METRIC_COUNTER},
        {M_LISTEN_ADDR, "ft_listen_connections_total", "result=\"refused_address\"",
         "Publisher connections to the --listen port, by outcome.", FT_METRIC_COUNTER},
        {M_LISTEN_KEY, "ft_listen_connections_total", "result=\"refused_key\"",
         "Publisher connections to the --listen port, by outcome.", FT_METRIC_COUNTER},
        {M_LISTEN_PROTO, "ft_listen_connections_total", "result=\"refused_protocol\"",
         "Publisher connections to the --listen port, by outcome.", FT_METRIC_COUNTER},
    };
    static const char *const stage_labels[FT_STAGE_COUNT] = {"stage=\"decode\"", "stage=\"detect\"",
                                                             "stage=\"track\"", "stage=\"render\"",
                                                             "stage=\"encode\""};
    ft_status st = FT_OK;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0] && !st; i++)
        st = ft_service_metrics_add(s->metrics, defs[i].name, defs[i].labels, defs[i].help,
                                    defs[i].type, NULL, 0, &s->m[defs[i].id]);
    for (int k = 0; k < FT_STAGE_COUNT && !st; k++)
        st = ft_service_metrics_add(s->metrics, "ft_stage_latency_seconds", stage_labels[k],
                                    "Time of each frame in each pipeline stage (decode includes "
                                    "waiting for the input).",
                                    FT_METRIC_HISTOGRAM, latency_buckets, N_LAT_BUCKETS,
                                    &s->stage_latency[k]);
    /* One family after the other: the exposition groups series by name. */
    for (int g = 0; g < s->n_gpus && !st; g++)
        st = ft_service_metrics_add(s->metrics, "ft_gpu_utilization_percent", gpu_labels[g],
                                    "GPU busy time over NVML's last sample period, percent.",
                                    FT_METRIC_GAUGE, NULL, 0, &s->gpu_util[g]);
    for (int g = 0; g < s->n_gpus && !st; g++)
        st = ft_service_metrics_add(s->metrics, "ft_gpu_vram_used_bytes", gpu_labels[g],
                                    "GPU memory in use on the device (all processes).",
                                    FT_METRIC_GAUGE, NULL, 0, &s->gpu_used[g]);
    for (int g = 0; g < s->n_gpus && !st; g++)
        st = ft_service_metrics_add(s->metrics, "ft_gpu_vram_total_bytes", gpu_labels[g],
                                    "GPU memory of the device.", FT_METRIC_GAUGE, NULL, 0,
                                    &s->gpu_total[g]);
    if (!st && s->n_gpus > 0)
        st = ft_service_metrics_add(s->metrics, "ft_process_vram_bytes", NULL,
                                    "GPU memory used by this process over all GPUs.",
                                    FT_METRIC_GAUGE, NULL, 0, &s->vram_self);
    if (!st)
        st = ft_service_metrics_add(s->metrics, "ft_latency_seconds", NULL,
                                    "Decode-to-encode latency of each frame.", FT_METRIC_HISTOGRAM,
                                    latency_buckets, N_LAT_BUCKETS, &s->latency);
    return st;
}

ft_status ft_service_stream_create(const ft_service_stream_params *p, ft_config **cfg,
                                   ft_service_stream **out)
{
    *out = NULL;
    ft_service_stream *s = calloc(1, sizeof *s);
    if (!s) {
        ft_config_destroy(cfg);
        return FT_ERR_NOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->p = *p;
    s->cfg0 = s->cfg = *cfg;
    *cfg = NULL;
    file_mtimes(s->cfg, s->mtime);
    const ft_settings *set = ft_settings_of(s->cfg);
    char clean[512];
    ft_status st = FT_OK;
    if (p->listen && p->input) {
        FT_LOGE("service", "--listen and --input exclude each other (a publisher pushes to "
                           "--listen; --input pulls)");
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (!p->listen && (!p->input || !ft_reader_url_allowed(p->input))) {
        ft_log_sanitize(p->input ? p->input : "(none)", clean, sizeof clean);
        FT_LOGE("service",
                "--input %s: stream mode reads rtmp://, rtmps://, srt://, udp://, "
                "http(s):// or file:// URLs, or a file path",
                clean);
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (!p->output || !ft_service_output_url_allowed(p->output)) {
        ft_log_sanitize(p->output ? p->output : "(none)", clean, sizeof clean);
        FT_LOGE("service",
                "--output %s: stream mode pushes to rtmp://, rtmps://, srt:// or "
                "udp:// only (video is never written to disk)",
                clean);
        st = FT_ERR_CONFIG;
        goto out;
    }
    if (set->stream.alert_webhook[0] && !ft_service_webhook_url_ok(set->stream.alert_webhook)) {
        FT_LOGE("service", "stream.alert_webhook: not an http://host[:port][/path] URL");
        st = FT_ERR_CONFIG;
        goto out;
    }
    if ((st = apply_memory_limit(set->stream.memory_limit_mb)))
        goto out;
    int pw = 640, ph = (int)(640.0 * set->output.height / set->output.width) & ~1;
    if ((s->nvml = ft_serve_nvml_open())) {
        s->n_gpus = ft_serve_nvml_gpus(s->nvml);
        if (s->n_gpus > MAX_GPU_METRICS)
            s->n_gpus = MAX_GPU_METRICS;
    }
    if ((st = ft_service_metrics_create(&s->metrics)) || (st = add_metrics(s)) ||
        (st = ft_service_preview_create(pw, ph < 16 ? 16 : ph, 5.0, &s->preview)))
        goto out;
    ft_service_http_handlers h = {.user = s,
                                  .ready = h_ready,
                                  .metrics = h_metrics,
                                  .status_json = h_status_json,
                                  .config_get = h_config_get,
                                  .config_patch = h_config_patch,
                                  .preview = h_preview};
    ft_service_http_params hp = {set->http.bind, set->http.port};
    if ((st = ft_service_http_create(&hp, &h, &s->http)) || (st = load_token(s, set)))
        goto out;
    FT_LOGI("service", "HTTP on %s:%d (/health /ready /metrics /status /config)",
            set->http.bind[0] ? set->http.bind : "127.0.0.1", ft_service_http_port(s->http));
    if ((st = ft_pipeline_detector_create(set, NULL, &s->det, &s->filter)))
        goto out;
    if (p->listen && (st = open_gate(s, set)))
        goto out;
    if (pthread_create(&s->monitor, NULL, monitor_main, s)) {
        st = FT_ERR_RUNTIME;
        goto out;
    }
    s->monitor_started = true;
out:
    if (st)
        ft_service_stream_destroy(&s);
    *out = s;
    return st;
}

int ft_service_stream_http_port(const ft_service_stream *s)
{
    return ft_service_http_port(s->http);
}

static bool sleep_unless_stopped(ft_service_stream *s, double sec)
{
    for (int64_t end = now_ns() + (int64_t)(sec * 1e9); now_ns() < end;) {
        if (atomic_load(&s->stop))
            return true;
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
    }
    return atomic_load(&s->stop);
}

ft_status ft_service_stream_run(ft_service_stream *s)
{
    const ft_settings *set = ft_settings_of(s->cfg0);
    ft_pipeline_params pp;
    ft_pipeline_params_from_settings(set, &pp);
    pp.input = s->gate ? ft_rtmp_gate_internal_url(s->gate) : s->p.input;
    pp.output = s->p.output;

    pp.live = true;
    pp.realtime = s->p.realtime;
    pp.track_out = s->p.track_out;
    pp.progress = false;
    pp.detector = s->det;
    pp.filter = s->filter;
    pp.hooks = (ft_pipeline_hooks){.user = s, .on_frame = on_frame};
    ft_pipeline *pl = NULL;
    ft_status st;
    /* The input may not be up yet when the service starts: the same backoff
     * as for a lost input. */
    double delay = set->stream.reconnect_delay > 0 ? set->stream.reconnect_delay : 1.0;
    for (int attempt = 0;; attempt++) {
        st = ft_pipeline_create(&pp, &pl);
        /* A listener waits for its first publisher as long as the service
         * runs: no publisher yet, or one refused, is not an outage. */
        if (s->gate && st == FT_ERR_INPUT) {
            if (sleep_unless_stopped(s, LISTEN_RETRY_S))
                return FT_OK; /* asked to stop while waiting: a clean exit */
            continue;
        }
        if (st != FT_ERR_INPUT || attempt >= set->stream.reconnect_attempts)
            break;
        alert(s, 0, attempt + 1);
        FT_LOGW("service", "input unavailable; retrying in %.2f s (attempt %d of %d)", delay,
                attempt + 1, set->stream.reconnect_attempts);
        if (sleep_unless_stopped(s, delay))
            return FT_ERR_INTERRUPTED;
        delay = fmin(2 * delay, 60.0);
    }
    if (st)
        return st;
    /* Reloads that happened while waiting apply from the first frame. */
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->pl, pl);
    if (s->cfg != s->cfg0)
        ft_pipeline_update(pl, ft_settings_of(s->cfg));
    pthread_mutex_unlock(&s->mu);
    if (atomic_load(&s->stop))
        ft_pipeline_stop(pl);
    st = ft_pipeline_run(pl);
    mirror_stats(s);
    ft_pipeline_stats ps;
    ft_pipeline_stats_get(pl, &ps);
    FT_LOGI("service",
            "stream ended: %lld frames processed, %lld sent (%lld repeated, %lld slate), %lld "
            "dropped, %lld output reconnects",
            (long long)ps.frames_out, (long long)ps.frames_sent, (long long)ps.frames_repeated,
            (long long)ps.frames_slate, (long long)ps.frames_dropped,
            (long long)ps.output_reconnects);
    if (st == FT_ERR_INTERRUPTED && atomic_load(&s->stop))
        st = FT_OK; /* asked to stop: a clean exit */
    return st;
}

void ft_service_stream_stop(ft_service_stream *s)
{
    atomic_store(&s->stop, true);
    ft_pipeline *pl = atomic_load(&s->pl);
    if (pl)
        ft_pipeline_stop(pl);
}

void ft_service_stream_request_reload(ft_service_stream *s)
{
    atomic_store(&s->reload_requested, true);
}

void ft_service_stream_destroy(ft_service_stream **ps)
{
    if (!ps || !*ps)
        return;
    ft_service_stream *s = *ps;
    atomic_store(&s->stop, true);
    if (s->monitor_started)
        pthread_join(s->monitor, NULL);
    if (s->preview)
        ft_service_preview_close(s->preview);
    ft_service_http_destroy(&s->http);
    ft_pipeline *pl = atomic_exchange(&s->pl, NULL);
    ft_pipeline_destroy(&pl);
    ft_rtmp_gate_destroy(&s->gate);
    ft_service_preview_destroy(&s->preview);
    ft_service_metrics_destroy(&s->metrics);
    ft_serve_nvml_close(&s->nvml);
    ft_detect_filter_destroy(&s->filter);
    ft_detector_destroy(&s->det);
    if (s->cfg != s->cfg0)
        ft_config_destroy(&s->cfg);
    ft_config_destroy(&s->cfg0);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}
