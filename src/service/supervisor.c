/* The serve supervisor: one `stream` worker process per stream, restarted
 * with backoff, watched by a watchdog, its metrics republished under one
 * port. Threads: the caller runs the loop below (spawn, reap, probe, reload);
 * libmicrohttpd's threads read the worker table under `mu` to answer. */
#include "service/supervisor.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "pipeline/pipeline.h"
#include "service/http.h"
#include "service/supervisor_internal.h"

extern char **environ;

#define SCRAPE_CAP (256 * 1024) /* one worker's /metrics text */
#define PROBE_PERIOD_NS 1000000000LL
#define PROBE_TIMEOUT_MS 900
#define STOP_GRACE_NS 10000000000LL /* SIGTERM to SIGKILL on shutdown, removal, change */
#define KILL_GRACE_NS 5000000000LL  /* the same for a worker the watchdog restarts */
#define STABLE_NS 60000000000LL     /* a worker up this long starts its backoff afresh */

enum { R_EXIT, R_SIGNAL, R_HEALTH, R_STUCK, R_MEMORY, R_VRAM, R_COUNT };
static const char *const reason_names[R_COUNT] = {"exit",  "signal", "health",
                                                  "stuck", "memory", "vram"};
/* Busy time of the worker pipeline's threads that bound its throughput:
 * detect, and track + render (one thread). Decode and encode are left out:
 * their times include waiting for the input and for the output clock. */
static const char *const busy_series[] = {
    "ft_stage_latency_seconds_sum{stage=\"detect\"}",
    "ft_stage_latency_seconds_sum{stage=\"track\"}",
    "ft_stage_latency_seconds_sum{stage=\"render\"}",
};
static const int busy_thread[] = {0, 1, 1};
#define N_BUSY 3
#define N_BUSY_THREADS 2

typedef struct worker {
    bool infer;           /* the shared inference server, not a stream */
    ft_serve_stream spec; /* what the running (or next) process is started with */
    ft_serve_stream next; /* replacement spec after a change (when has_next) */
    bool has_next, removed;
    pid_t pid; /* 0 = not running */
    int port;
    char port_s[16];
    int64_t started_ns, due_ns, kill_ns; /* due: next start (0 none); kill: SIGKILL deadline */
    bool kill_counted;                   /* the watchdog already counted this end */
    int failures;                        /* consecutive, drives the backoff */
    double restarts[R_COUNT];
    int last_exit; /* exit code, or 128 + signal, of the last process; -1 none */
    /* watchdog */
    int64_t last_answer_ns, last_progress_ns, busy_ns;
    double progress, sent, busy[N_BUSY]; /* progress: frames sent + output slots lost */
    bool progressed, ready, up;
    uint64_t rss, vram;
    double load;
    /* last /metrics text and its index; rx receives the next one */
    char *text, *rx;
    size_t text_len;
    ft_serve_scrape scrape;
    char ready_buf[512];
} worker;

struct ft_service_supervisor {
    ft_service_supervisor_params p;
    char bin[PATH_MAX];
    ft_serve_config *cfg, *scratch; /* in force; the next one while reloading */
    pthread_mutex_t mu;             /* guards w[], n_w, cfg and the counters below */
    worker *w[FT_SERVE_MAX_STREAMS];
    int n_w;
    double reloads_ok, reloads_err;
    ft_service_http *http;
    ft_serve_nvml *nvml;
    atomic_bool stop, reload;
    struct stat file_st;
    bool stopping;
    int ordinal, pods; /* sharding (serve.shard_service): this pod's ordinal, pool size */
    int cpus;          /* cores the workers share (ft_serve_cpu_count, read at create) */
    /* serve.shared_inference as read at start (a reload does not change it) */
    worker *infer;          /* NULL without shared inference */
    bool infer_seen_ready;  /* workers start once the server answered /ready */
    char infer_socket[108]; /* sockaddr_un path */
    char infer_batch[16], infer_window[32], infer_server_set[160];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static uint64_t rss_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kb * 1024;
}

/* ---- workers ---- */

static worker *worker_new(const ft_serve_stream *spec, int64_t now)
{
    worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->text = malloc(SCRAPE_CAP);
    w->rx = malloc(SCRAPE_CAP);
    if (!w->text || !w->rx) {
        free(w->text);
        free(w->rx);
        free(w);
        return NULL;
    }
    w->spec = *spec;
    w->due_ns = now;
    w->last_exit = -1;
    return w;
}

static void worker_free(worker *w)
{
    if (w) {
        free(w->text);
        free(w->rx);
        free(w);
    }
}

/* Stream workers this supervisor runs now (not the inference server, not
 * one that is being removed). */
static int stream_workers(const ft_service_supervisor *s)
{
    int n = 0;
    for (int i = 0; i < s->n_w; i++)
        n += !s->w[i]->infer && !s->w[i]->removed;
    return n;
}

/* fork + exec of `<bin> stream ...` (or `<bin> infer ...` for the shared
 * inference server). The child gets its own process group (a
 * terminal's Ctrl-C reaches the supervisor only, which stops workers in
 * order) and SIGTERM when the supervisor dies, so no worker outlives it. */
static void worker_start(ft_service_supervisor *s, worker *w, int64_t now)
{
    const ft_serve_stream *sp = &w->spec;
    w->due_ns = 0;
    w->port = ft_service_http_free_port();
    if (w->port <= 0) {
        FT_LOGE("serve", "stream %s: no free loopback port; retrying", sp->id);
        w->due_ns = now + 1000000000LL;
        return;
    }
    snprintf(w->port_s, sizeof w->port_s, "%d", w->port);
    char *argv[24 + 2 * FT_SERVE_MAX_SETS];
    int n = 0;
    argv[n++] = s->bin;
    if (w->infer) {
        argv[n++] = "infer";
        argv[n++] = "--socket";
        argv[n++] = s->infer_socket;
        argv[n++] = "--max-batch";
        argv[n++] = s->infer_batch;
        argv[n++] = "--batch-window-ms";
        argv[n++] = s->infer_window;
    } else {
        argv[n++] = "stream";
        argv[n++] = "--input";
        argv[n++] = (char *)sp->input;
        argv[n++] = "--output";
        argv[n++] = (char *)sp->output;
    }
    argv[n++] = "--http-port";
    argv[n++] = w->port_s;
    argv[n++] = "--set";
    argv[n++] = "http.bind=127.0.0.1"; /* workers are reached through the supervisor */
    if (sp->model_config[0]) {
        argv[n++] = "--model-config";
        argv[n++] = (char *)sp->model_config;
    }
    if (sp->stream_config[0]) {
        argv[n++] = "--stream-config";
        argv[n++] = (char *)sp->stream_config;
    }
    for (int i = 0; i < sp->n_sets; i++) {
        argv[n++] = "--set";
        argv[n++] = (char *)sp->sets[i];
    }
    if (s->infer && !w->infer) { /* after the stream's sets: the server wins */
        argv[n++] = "--set";
        argv[n++] = "detector.type=shared";
        argv[n++] = "--set";
        argv[n++] = s->infer_server_set;
    }
    if (sp->realtime && !w->infer)
        argv[n++] = "--realtime";
    argv[n] = NULL;
    /* The environment, with FOOTBALL_TRACKER_STREAM_ID=<id> (the worker's log records name
     * their stream) and the worker's share of the cores (the threads of its encoder and
     * decoder where its configuration leaves them at 0, pipeline/pipeline.h) in place of
     * any inherited ones. The share follows the streams running when the worker starts. */
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = malloc((n_env + 3) * sizeof *envp);
    char id_var[32 + FT_SERVE_ID_MAX], share_var[64];
    static const char share_name[] = FT_PIPELINE_THREAD_SHARE_ENV "=";
    if (!envp) {
        FT_LOGE("serve", "stream %s: out of memory starting the worker; retrying", sp->id);
        w->due_ns = now + 1000000000LL;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "FOOTBALL_TRACKER_STREAM_ID=", 27) &&
            strncmp(environ[i], share_name, sizeof share_name - 1))
            envp[k++] = environ[i];
    snprintf(id_var, sizeof id_var, "FOOTBALL_TRACKER_STREAM_ID=%s", sp->id);
    envp[k++] = id_var;
    int share = ft_serve_thread_share(s->cpus, stream_workers(s));
    snprintf(share_var, sizeof share_var, "%s%d", share_name, share);
    envp[k++] = share_var;
    envp[k] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Nothing of the supervisor's (HTTP socket, NVML) leaks into a worker. */
        close_range(3, ~0U, 0);
        execve(s->bin, argv, envp);
        _exit(127);
    }
    free(envp);
    if (pid < 0) {
        FT_LOGE("serve", "stream %s: fork failed: %s; retrying", sp->id, strerror(errno));
        w->due_ns = now + 1000000000LL;
        return;
    }
    w->pid = pid;
    w->started_ns = now;
    w->kill_ns = 0;
    w->kill_counted = false;
    w->last_answer_ns = w->last_progress_ns = w->busy_ns = 0;
    w->progress = w->sent = 0;
    memset(w->busy, 0, sizeof w->busy);
    w->progressed = w->ready = w->up = false;
    w->rss = w->vram = 0;
    w->load = 0;
    w->text_len = 0;
    ft_serve_scrape_index(&w->scrape, w->text, 0);
    FT_LOGI("serve",
            "stream %s: worker started (pid %d, http 127.0.0.1:%d, %d encoder/decoder "
            "thread(s) unless configured)",
            sp->id, (int)pid, w->port, share);
}

/* Asks a worker to stop; SIGKILL follows at `grace` if it has not. */
static void worker_signal_stop(worker *w, int64_t now, int64_t grace)
{
    if (w->pid > 0 && !w->kill_ns) {
        kill(w->pid, SIGTERM);
        w->kill_ns = now + grace;
    }
}

/* The watchdog's restart: counted under `reason`, then SIGTERM / SIGKILL. */
static void worker_restart(worker *w, int reason, int64_t now, const char *why)
{
    if (w->pid <= 0 || w->kill_ns)
        return;
    w->restarts[reason] += 1;
    w->kill_counted = true;
    FT_LOGW("serve", "stream %s: restarting worker (pid %d): %s", w->spec.id, (int)w->pid, why);
    worker_signal_stop(w, now, KILL_GRACE_NS);
}

static double backoff_s(const ft_serve_config *c, int failures)
{
    double d = c->backoff_initial_s * ldexp(1.0, failures > 30 ? 30 : failures);
    return d < c->backoff_max_s ? d : c->backoff_max_s;
}

static void remove_at(ft_service_supervisor *s, int i)
{
    worker_free(s->w[i]);
    memmove(&s->w[i], &s->w[i + 1], (size_t)(s->n_w - i - 1) * sizeof s->w[0]);
    s->n_w--;
}

/* Collects ended workers and decides what comes next for each. */
static void reap(ft_service_supervisor *s, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->n_w; i++) {
            worker *w = s->w[i];
            if (w->pid != pid)
                continue;
            bool sig = WIFSIGNALED(status);
            w->last_exit = sig ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            w->pid = 0;
            w->kill_ns = 0;
            w->up = w->ready = false;
            if (w->removed) {
                FT_LOGI("serve", "stream %s: worker stopped (removed)", w->spec.id);
                remove_at(s, i);
            } else if (w->has_next) {
                FT_LOGI("serve", "stream %s: worker stopped; starting it with the new settings",
                        w->spec.id);
                w->spec = w->next;
                w->has_next = false;
                w->failures = 0;
                w->due_ns = now;
            } else if (!s->stopping) {
                if (!w->kill_counted)
                    w->restarts[sig ? R_SIGNAL : R_EXIT] += 1;
                if (now - w->started_ns > STABLE_NS)
                    w->failures = 0;
                double d = backoff_s(s->cfg, w->failures++);
                w->due_ns = now + (int64_t)(d * 1e9);
                if (w->kill_counted)
                    FT_LOGI("serve", "stream %s: worker ended (watchdog); restart in %.1f s",
                            w->spec.id, d);
                else if (sig)
                    FT_LOGW("serve", "stream %s: worker killed by signal %d; restart in %.1f s",
                            w->spec.id, WTERMSIG(status), d);
                else
                    FT_LOGW("serve", "stream %s: worker exited with code %d; restart in %.1f s",
                            w->spec.id, WEXITSTATUS(status), d);
            }
            break;
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* One probe round: GET /ready and /metrics of every running worker at once,
 * then the watchdog's rules on what came back. */
static void probe_and_watch(ft_service_supervisor *s)
{
    static ft_serve_get req[2 * FT_SERVE_MAX_STREAMS];
    worker *who[FT_SERVE_MAX_STREAMS];
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_w; i++) {
        worker *w = s->w[i];
        if (w->pid <= 0 || w->kill_ns)
            continue;
        req[2 * n] = (ft_serve_get){
            .port = w->port, .path = "/ready", .buf = w->ready_buf, .cap = sizeof w->ready_buf};
        req[2 * n + 1] =
            (ft_serve_get){.port = w->port, .path = "/metrics", .buf = w->rx, .cap = SCRAPE_CAP};
        who[n++] = w;
    }
    pthread_mutex_unlock(&s->mu);
    /* Workers are only freed by reap() on this same thread, so who[] stays
     * valid while the lock is released for the network round. */
    ft_serve_get_all(req, 2 * n, PROBE_TIMEOUT_MS);
    if (s->nvml)
        ft_serve_nvml_refresh(s->nvml);
    int64_t now = now_ns();
    pthread_mutex_lock(&s->mu);
    const ft_serve_config *c = s->cfg;
    for (int k = 0; k < n; k++) {
        worker *w = who[k];
        const ft_serve_get *rd = &req[2 * k], *mt = &req[2 * k + 1];
        w->up = rd->code > 0;
        w->ready = rd->code == 200;
        if (w->up)
            w->last_answer_ns = now;
        if (mt->code == 200) {
            /* Keep the body only: swap buffers so the text stays whole. */
            memmove(w->rx, mt->body, mt->body_len + 1); /* with its NUL */
            char *t = w->text;
            w->text = w->rx;
            w->rx = t;
            w->text_len = mt->body_len;
            ft_serve_scrape_index(&w->scrape, w->text, w->text_len);
            double sent = ft_serve_scrape_value(&w->scrape, "ft_frames_sent_total");
            double lost = ft_serve_scrape_value(&w->scrape, "ft_frames_output_lost_total");
            double prog = (isnan(sent) ? 0 : sent) + (isnan(lost) ? 0 : lost);
            if (prog > w->progress || (prog > 0 && !w->progressed)) {
                w->progressed = true;
                w->last_progress_ns = now;
            }
            w->progress = prog;
            w->sent = isnan(sent) ? 0 : sent;
            double busy[N_BUSY_THREADS] = {0}, busy_max = 0;
            for (int b = 0; b < N_BUSY; b++) {
                double v = ft_serve_scrape_value(&w->scrape, busy_series[b]);
                v = isnan(v) ? 0 : v;
                if (v >= w->busy[b]) /* a restarted worker's counters start again */
                    busy[busy_thread[b]] += v - w->busy[b];
                w->busy[b] = v;
            }
            for (int th = 0; th < N_BUSY_THREADS && w->busy_ns; th++)
                busy_max = fmax(busy_max, busy[th] / ((double)(now - w->busy_ns) * 1e-9));
            w->load = busy_max;
            w->busy_ns = now;
        }
        w->rss = rss_bytes(w->pid);
        w->vram = s->nvml ? ft_serve_nvml_pid_bytes(s->nvml, (int)w->pid) : 0;
        char why[160];
        double since_answer =
            (double)(now - (w->last_answer_ns ? w->last_answer_ns : w->started_ns)) * 1e-9;
        if (since_answer > (w->last_answer_ns ? c->stuck_seconds : c->start_grace_seconds)) {
            snprintf(why, sizeof why, "HTTP not answering for %.0f s", since_answer);
            worker_restart(w, R_HEALTH, now, why);
        } else if (w->progressed && (double)(now - w->last_progress_ns) * 1e-9 > c->stuck_seconds) {
            snprintf(why, sizeof why, "no output frame for %.0f s",
                     (double)(now - w->last_progress_ns) * 1e-9);
            worker_restart(w, R_STUCK, now, why);
        } else if (c->rss_limit_mb > 0 && (double)w->rss > c->rss_limit_mb * 1048576.0) {
            snprintf(why, sizeof why, "RSS %.0f MiB over the %.0f MiB limit",
                     (double)w->rss / 1048576.0, c->rss_limit_mb);
            worker_restart(w, R_MEMORY, now, why);
        } else if (c->vram_limit_mb > 0 && (double)w->vram > c->vram_limit_mb * 1048576.0) {
            snprintf(why, sizeof why, "VRAM %.0f MiB over the %.0f MiB limit",
                     (double)w->vram / 1048576.0, c->vram_limit_mb);
            worker_restart(w, R_VRAM, now, why);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- sharding over a StatefulSet pool ---- */

/* Pods behind the headless Service `name` (distinct addresses), or -1 when
 * it does not resolve. Blocking; called every 10 s from the loop. */
static int shard_pods(const char *name)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(name, NULL, &hints, &res) || !res)
        return -1;
    int n = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        bool dup = false;
        for (const struct addrinfo *b = res; b != a && !dup; b = b->ai_next)
            dup = b->ai_addrlen == a->ai_addrlen && !memcmp(b->ai_addr, a->ai_addr, a->ai_addrlen);
        n += !dup;
    }
    freeaddrinfo(res);
    return n;
}

/* The StatefulSet ordinal: the number after the hostname's last '-'. */
static int shard_ordinal(void)
{
    char host[256];
    if (gethostname(host, sizeof host))
        return -1;
    host[sizeof host - 1] = '\0';
    const char *dash = strrchr(host, '-');
    char *end = NULL;
    long v = dash ? strtol(dash + 1, &end, 10) : -1;
    return dash && end != dash + 1 && *end == '\0' && v >= 0 && v < 100000 ? (int)v : -1;
}

/* Keeps the streams of c this pod owns. */
static void shard_filter(const ft_service_supervisor *s, ft_serve_config *c)
{
    if (!c->shard_service[0])
        return;
    int n = 0;
    for (int i = 0; i < c->n_streams; i++)
        if (ft_service_serve_shard_owns(c->streams[i].id, s->ordinal, s->pods))
            c->streams[n++] = c->streams[i];
    c->n_streams = n;
}

/* Re-resolves the pool; a new size re-reads streams.yml (which re-shards). */
static void shard_check(ft_service_supervisor *s)
{
    if (!s->cfg->shard_service[0])
        return;
    int n = shard_pods(s->cfg->shard_service);
    if (n <= 0)
        return; /* DNS trouble: keep the streams we have */
    if (n <= s->ordinal)
        n = s->ordinal + 1; /* a new pod may not be listed yet */
    if (n != s->pods) {
        FT_LOGI("serve", "pool of %s: %d -> %d pods (this is pod %d)", s->cfg->shard_service,
                s->pods, n, s->ordinal);
        s->pods = n;
        atomic_store(&s->reload, true);
    }
}

/* ---- streams.yml (re)loading ---- */

static bool file_changed(ft_service_supervisor *s)
{
    struct stat st;
    if (stat(s->p.streams_path, &st))
        return false; /* being replaced; the next poll sees the new file */
    bool changed = st.st_mtim.tv_sec != s->file_st.st_mtim.tv_sec ||
                   st.st_mtim.tv_nsec != s->file_st.st_mtim.tv_nsec ||
                   st.st_ino != s->file_st.st_ino || st.st_size != s->file_st.st_size;
    s->file_st = st;
    return changed;
}

static void reload(ft_service_supervisor *s, int64_t now)
{
    char err[1024];
    /* The file as read now is the one in force: a SIGHUP right after an
     * edit must not be followed by a second reload for the same change. */
    (void)file_changed(s);
    ft_status st = ft_service_serve_config_load(s->p.streams_path, s->scratch, err, sizeof err);
    pthread_mutex_lock(&s->mu);
    if (st) {
        char clean[1024];
        ft_log_sanitize(err, clean, sizeof clean);
        FT_LOGE("serve", "reload refused, the running streams stay: %s", clean);
        s->reloads_err += 1;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    ft_serve_config *nc = s->scratch;
    if (nc->shard_service[0] && s->ordinal < 0) {
        FT_LOGE("serve", "reload refused: serve.shard_service needs a host name ending in "
                         "-<ordinal> (a StatefulSet pod)");
        s->reloads_err += 1;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    for (int j = 0; s->infer && j < nc->n_streams; j++)
        if (!strcmp(nc->streams[j].id, FT_SERVE_INFER_ID)) {
            FT_LOGE("serve", "reload refused: stream id '%s' names the running inference server",
                    FT_SERVE_INFER_ID);
            s->reloads_err += 1;
            pthread_mutex_unlock(&s->mu);
            return;
        }
    shard_filter(s, nc);
    if (strcmp(nc->bind, s->cfg->bind) || nc->port != s->cfg->port)
        FT_LOGW("serve", "serve.bind/serve.port changes apply at the next start");
    if (nc->shared_inference != (s->infer != NULL) ||
        (s->infer && (nc->inference_max_batch != s->cfg->inference_max_batch ||
                      nc->inference_batch_window_ms != s->cfg->inference_batch_window_ms ||
                      !ft_service_serve_stream_equal(&nc->inference, &s->infer->spec))))
        FT_LOGW("serve", "serve.shared_inference and the inference server's settings change at "
                         "the next start");
    int added = 0, removed = 0, changed = 0;
    for (int i = 0; i < s->n_w; i++) {
        worker *w = s->w[i];
        if (w->removed || w->infer)
            continue;
        const ft_serve_stream *ns = NULL;
        for (int j = 0; j < nc->n_streams && !ns; j++)
            if (!strcmp(nc->streams[j].id, w->spec.id))
                ns = &nc->streams[j];
        if (!ns) {
            removed++;
            w->removed = true;
            w->has_next = false;
            if (w->pid > 0) {
                worker_signal_stop(w, now, STOP_GRACE_NS);
            } else {
                remove_at(s, i--);
            }
        } else if (!ft_service_serve_stream_equal(ns, w->has_next ? &w->next : &w->spec)) {
            changed++;
            if (w->pid > 0) {
                w->next = *ns;
                w->has_next = true;
                kill(w->pid, SIGTERM); /* a pending watchdog SIGKILL deadline stays */
                if (!w->kill_ns)
                    w->kill_ns = now + STOP_GRACE_NS;
            } else {
                w->spec = *ns;
                w->has_next = false;
                w->failures = 0;
                w->due_ns = now;
            }
        }
    }
    for (int j = 0; j < nc->n_streams; j++) {
        bool exists = false;
        for (int i = 0; i < s->n_w && !exists; i++)
            exists = !s->w[i]->infer && !strcmp(s->w[i]->spec.id, nc->streams[j].id);
        /* A stream removed and re-added while its old worker still stops
         * gets a fresh entry; the old one disappears when it has ended. */
        for (int i = 0; i < s->n_w && exists; i++)
            if (!strcmp(s->w[i]->spec.id, nc->streams[j].id) && s->w[i]->removed)
                exists = false;
        if (exists)
            continue;
        worker *w = s->n_w < FT_SERVE_MAX_STREAMS ? worker_new(&nc->streams[j], now) : NULL;
        if (!w) {
            FT_LOGE("serve", "stream %s: cannot be added (out of memory or too many workers)",
                    nc->streams[j].id);
            continue;
        }
        s->w[s->n_w++] = w;
        added++;
    }
    s->scratch = s->cfg;
    s->cfg = nc;
    s->reloads_ok += 1;
    pthread_mutex_unlock(&s->mu);
    FT_LOGI("serve", "reloaded %s: %d stream(s) added, %d removed, %d changed, %d in all",
            s->p.streams_path, added, removed, changed, nc->n_streams);
}

/* ---- HTTP ---- */

static bool ready(void *user)
{
    ft_service_supervisor *s = user;
    pthread_mutex_lock(&s->mu);
    int n = 0;
    bool ok = true;
    for (int i = 0; i < s->n_w; i++)
        if (!s->w[i]->removed) {
            n++;
            ok = ok && s->w[i]->ready;
        }
    pthread_mutex_unlock(&s->mu);
    return ok && n > 0;
}

typedef struct out_buf {
    char *p;
    size_t cap, len;
    bool full;
} out_buf;

__attribute__((format(printf, 2, 3))) static void outf(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->full = true;
    else
        o->len += (size_t)n;
}

static void family(out_buf *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The supervisor's own series (caller holds mu). */
static void own_metrics(ft_service_supervisor *s, out_buf *o)
{
    /* Workers being stopped after their removal are left out: a stream
     * removed and added again would otherwise appear twice. */
    const worker *lw[FT_SERVE_MAX_STREAMS];
    int nl = 0, running = 0, n_load = 0;
    double load = 0;
    for (int i = 0; i < s->n_w; i++) {
        running += s->w[i]->pid > 0;
        if (s->w[i]->removed)
            continue;
        if (!s->w[i]->infer) { /* the stream pipelines' load, the autoscaler's metric */
            load += s->w[i]->load;
            n_load++;
        }
        lw[nl++] = s->w[i];
    }
    family(o, "ft_serve_streams", "gauge", "Streams configured in streams.yml.");
    outf(o, "ft_serve_streams %d\n", s->cfg->n_streams);
    family(o, "ft_serve_workers_running", "gauge", "Worker processes alive.");
    outf(o, "ft_serve_workers_running %d\n", running);
    family(
        o, "ft_serve_load", "gauge",
        "Mean over workers of the busiest pipeline thread's share of wall time (1 = saturated).");
    outf(o, "ft_serve_load %.4f\n", n_load ? load / n_load : 0.0);
    family(o, "ft_serve_rss_limit_bytes", "gauge",
           "Per-worker RSS limit (serve.rss_limit_mb; 0 = none).");
    outf(o, "ft_serve_rss_limit_bytes %.0f\n", s->cfg->rss_limit_mb * 1048576.0);
    family(o, "ft_serve_vram_limit_bytes", "gauge",
           "Per-worker GPU memory limit (serve.vram_limit_mb; 0 = none).");
    outf(o, "ft_serve_vram_limit_bytes %.0f\n", s->cfg->vram_limit_mb * 1048576.0);
    family(o, "ft_serve_pool_pods", "gauge",
           "Supervisors sharing streams.yml (serve.shard_service; 1 without).");
    outf(o, "ft_serve_pool_pods %d\n", s->pods);
    family(o, "ft_serve_reloads_total", "counter", "streams.yml reloads by result.");
    outf(o, "ft_serve_reloads_total{result=\"ok\"} %.0f\n", s->reloads_ok);
    outf(o, "ft_serve_reloads_total{result=\"error\"} %.0f\n", s->reloads_err);
    family(o, "ft_worker_up", "gauge", "1 while the worker's HTTP server answers.");
    for (int i = 0; i < nl; i++)
        outf(o, "ft_worker_up{stream=\"%s\"} %d\n", lw[i]->spec.id, lw[i]->up);
    family(o, "ft_worker_ready", "gauge", "1 while the worker's /ready answers 200.");
    for (int i = 0; i < nl; i++)
        outf(o, "ft_worker_ready{stream=\"%s\"} %d\n", lw[i]->spec.id, lw[i]->ready);
    family(o, "ft_restarts_total", "counter",
           "Worker restarts by reason (exit, signal, health, stuck, memory, vram).");
    for (int i = 0; i < nl; i++)
        for (int r = 0; r < R_COUNT; r++)
            outf(o, "ft_restarts_total{stream=\"%s\",reason=\"%s\"} %.0f\n", lw[i]->spec.id,
                 reason_names[r], lw[i]->restarts[r]);
    family(o, "ft_worker_rss_bytes", "gauge", "Resident memory of the worker process.");
    for (int i = 0; i < nl; i++)
        outf(o, "ft_worker_rss_bytes{stream=\"%s\"} %llu\n", lw[i]->spec.id,
             (unsigned long long)lw[i]->rss);
    family(o, "ft_worker_load", "gauge",
           "Busiest pipeline thread's share of wall time over the last second (1 = saturated).");
    for (int i = 0; i < nl; i++)
        outf(o, "ft_worker_load{stream=\"%s\"} %.4f\n", lw[i]->spec.id, lw[i]->load);
    if (!s->nvml)
        return;
    family(o, "ft_worker_vram_bytes", "gauge", "GPU memory of the worker process (NVML).");
    for (int i = 0; i < nl; i++)
        outf(o, "ft_worker_vram_bytes{stream=\"%s\"} %llu\n", lw[i]->spec.id,
             (unsigned long long)lw[i]->vram);
    int g = ft_serve_nvml_gpus(s->nvml);
    uint64_t used, total;
    family(o, "ft_gpu_memory_used_bytes", "gauge", "GPU memory in use, all processes (NVML).");
    for (int i = 0; i < g; i++) {
        ft_serve_nvml_gpu_memory(s->nvml, i, &used, &total);
        outf(o, "ft_gpu_memory_used_bytes{gpu=\"%d\"} %llu\n", i, (unsigned long long)used);
    }
    family(o, "ft_gpu_memory_total_bytes", "gauge", "GPU memory size (NVML).");
    for (int i = 0; i < g; i++) {
        ft_serve_nvml_gpu_memory(s->nvml, i, &used, &total);
        outf(o, "ft_gpu_memory_total_bytes{gpu=\"%d\"} %llu\n", i, (unsigned long long)total);
    }
}

static ft_status metrics(void *user, char *buf, size_t cap, size_t *len)
{
    ft_service_supervisor *s = user;
    out_buf o = {buf, cap, 0, false};
    const ft_serve_scrape *sc[FT_SERVE_MAX_STREAMS];
    const char *ids[FT_SERVE_MAX_STREAMS];
    int n = 0;
    pthread_mutex_lock(&s->mu);
    own_metrics(s, &o);
    for (int i = 0; i < s->n_w; i++)
        if (s->w[i]->pid > 0 && s->w[i]->text_len > 0 && !s->w[i]->removed) {
            sc[n] = &s->w[i]->scrape;
            ids[n++] = s->w[i]->spec.id;
        }
    ft_status st = o.full ? FT_ERR_NOMEM : ft_serve_scrape_merge(sc, ids, n, buf, cap, &o.len);
    pthread_mutex_unlock(&s->mu);
    *len = o.len;
    if (st)
        FT_LOGE("serve", "/metrics: the merged text does not fit %zu bytes", cap);
    return st;
}

static ft_status status_json(void *user, char *buf, size_t cap, size_t *len)
{
    ft_service_supervisor *s = user;
    out_buf o = {buf, cap, 0, false};
    int64_t now = now_ns();
    pthread_mutex_lock(&s->mu);
    outf(&o, "{\"streams\":[");
    for (int i = 0; i < s->n_w; i++) {
        const worker *w = s->w[i];
        double restarts = 0;
        for (int r = 0; r < R_COUNT; r++)
            restarts += w->restarts[r];
        outf(&o,
             "%s{\"id\":\"%s\",\"pid\":%d,\"port\":%d,\"up\":%s,\"ready\":%s,"
             "\"uptime_s\":%.1f,\"restarts\":%.0f,\"last_exit\":%d,\"rss_bytes\":%llu,"
             "\"vram_bytes\":%llu,\"load\":%.3f,\"frames_sent\":%.0f,\"state\":\"%s\"}",
             i ? "," : "", w->spec.id, (int)w->pid, w->pid > 0 ? w->port : 0,
             w->up ? "true" : "false", w->ready ? "true" : "false",
             w->pid > 0 ? (double)(now - w->started_ns) * 1e-9 : 0.0, restarts, w->last_exit,
             (unsigned long long)w->rss, (unsigned long long)w->vram, w->load, w->sent,
             w->removed   ? "stopping"
             : w->pid > 0 ? (w->kill_ns ? "restarting" : "running")
                          : "waiting");
    }
    outf(&o, "]}\n");
    pthread_mutex_unlock(&s->mu);
    *len = o.len;
    return o.full ? FT_ERR_NOMEM : FT_OK;
}

/* ---- lifecycle ---- */

ft_status ft_service_supervisor_create(const ft_service_supervisor_params *p,
                                       ft_service_supervisor **out)
{
    *out = NULL;
    ft_status st = FT_OK;
    char err[1024];
    ft_service_supervisor *s = calloc(1, sizeof *s);
    if (!s)
        return FT_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->p = *p;
    s->cpus = ft_serve_cpu_count();
    s->cfg = calloc(1, sizeof *s->cfg);
    s->scratch = calloc(1, sizeof *s->scratch);
    if (!s->cfg || !s->scratch) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (p->worker_bin) {
        snprintf(s->bin, sizeof s->bin, "%s", p->worker_bin);
    } else {
        ssize_t n = readlink("/proc/self/exe", s->bin, sizeof s->bin - 1);
        if (n <= 0) {
            FT_LOGE("serve", "cannot find this program (/proc/self/exe): %s", strerror(errno));
            st = FT_ERR_RUNTIME;
            goto out;
        }
        s->bin[n] = '\0';
    }
    if ((st = ft_service_serve_config_load(p->streams_path, s->cfg, err, sizeof err))) {
        char clean[1024];
        ft_log_sanitize(err, clean, sizeof clean);
        FT_LOGE("serve", "%s", clean);
        goto out;
    }
    (void)file_changed(s);
    s->ordinal = shard_ordinal();
    s->pods = 1;
    if (s->cfg->shard_service[0]) {
        if (s->ordinal < 0) {
            FT_LOGE("serve", "serve.shard_service needs a host name ending in -<ordinal> "
                             "(a StatefulSet pod)");
            st = FT_ERR_CONFIG;
            goto out;
        }
        int n = shard_pods(s->cfg->shard_service);
        s->pods = n > s->ordinal ? n : s->ordinal + 1;
        shard_filter(s, s->cfg);
        FT_LOGI("serve", "pod %d of %d in %s: %d stream(s) here", s->ordinal, s->pods,
                s->cfg->shard_service, s->cfg->n_streams);
    }
    if (s->cfg->shared_inference) {
        /* Default: the runtime folder (tmpfs, private to the user) or /tmp,
         * with our pid so two supervisors never share a server by accident. */
        const char *dir = getenv("XDG_RUNTIME_DIR");
        int n = s->cfg->inference_socket[0] ? snprintf(s->infer_socket, sizeof s->infer_socket,
                                                       "%s", s->cfg->inference_socket)
                                            : snprintf(s->infer_socket, sizeof s->infer_socket,
                                                       "%s/football-tracker-infer-%d.sock",
                                                       dir && *dir ? dir : "/tmp", (int)getpid());
        if (n < 0 || (size_t)n >= sizeof s->infer_socket) {
            FT_LOGE("serve",
                    "serve.inference_socket %s: longer than a unix socket path may be "
                    "(%zu bytes)",
                    s->cfg->inference_socket[0] ? s->cfg->inference_socket : dir,
                    sizeof s->infer_socket - 1);
            st = FT_ERR_CONFIG;
            goto out;
        }
        snprintf(s->infer_batch, sizeof s->infer_batch, "%d", s->cfg->inference_max_batch);
        snprintf(s->infer_window, sizeof s->infer_window, "%g", s->cfg->inference_batch_window_ms);
        snprintf(s->infer_server_set, sizeof s->infer_server_set, "model.server=%s",
                 s->infer_socket);
        FT_LOGI("serve", "shared inference on %s (batches of up to %s frames, window %s ms)",
                s->infer_socket, s->infer_batch, s->infer_window);
    }
    ft_service_http_params hp = {.bind = s->cfg->bind, .port = s->cfg->port};
    ft_service_http_handlers h = {.user = s,
                                  .ready = ready,
                                  .metrics = metrics,
                                  .status_json = status_json,
                                  .config_get = status_json};
    if ((st = ft_service_http_create(&hp, &h, &s->http)))
        goto out;
    s->nvml = ft_serve_nvml_open();
    FT_LOGI("serve", "%d stream(s) from %s; HTTP on %s:%d", s->cfg->n_streams, p->streams_path,
            s->cfg->bind, ft_service_http_port(s->http));
out:
    if (st)
        ft_service_supervisor_destroy(&s);
    *out = s;
    return st;
}

ft_status ft_service_supervisor_run(ft_service_supervisor *s)
{
    int64_t now = now_ns(), next_probe = now + PROBE_PERIOD_NS, next_stat = now;
    int64_t next_shard = now + 10000000000LL;
    pthread_mutex_lock(&s->mu);
    if (s->infer_socket[0]) {
        s->infer = worker_new(&s->cfg->inference, now);
        if (!s->infer) {
            pthread_mutex_unlock(&s->mu);
            return FT_ERR_NOMEM;
        }
        s->infer->infer = true;
        s->w[s->n_w++] = s->infer;
    }
    for (int i = 0; i < s->cfg->n_streams && s->n_w < FT_SERVE_MAX_STREAMS; i++) {
        worker *w = worker_new(&s->cfg->streams[i], now);
        if (!w) {
            pthread_mutex_unlock(&s->mu);
            return FT_ERR_NOMEM;
        }
        s->w[s->n_w++] = w;
    }
    pthread_mutex_unlock(&s->mu);
    while (!atomic_load(&s->stop)) {
        now = now_ns();
        if (now >= next_stat) {
            next_stat = now + 1000000000LL;
            if (file_changed(s))
                atomic_store(&s->reload, true);
        }
        if (now >= next_shard) {
            next_shard = now + 10000000000LL;
            shard_check(s);
        }
        if (atomic_exchange(&s->reload, false))
            reload(s, now);
        reap(s, now);
        pthread_mutex_lock(&s->mu);
        /* With shared inference, streams wait for the server's first /ready. */
        if (s->infer && s->infer->ready)
            s->infer_seen_ready = true;
        for (int i = 0; i < s->n_w; i++) {
            worker *w = s->w[i];
            if (w->pid <= 0 && w->due_ns && now >= w->due_ns && !w->removed &&
                (w->infer || !s->infer || s->infer_seen_ready))
                worker_start(s, w, now);
            if (w->pid > 0 && w->kill_ns && now >= w->kill_ns) {
                FT_LOGW("serve", "stream %s: worker did not stop; SIGKILL", w->spec.id);
                kill(w->pid, SIGKILL);
                w->kill_ns = now + STOP_GRACE_NS; /* reaped soon; never re-sent in a loop */
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (now >= next_probe) {
            probe_and_watch(s);
            next_probe = now + PROBE_PERIOD_NS;
        } else {
            sleep_ms(50);
        }
    }
    /* Shutdown: SIGTERM everyone, SIGKILL the ones still there after 10 s.
     * The inference server goes last: the workers detect until they end. */
    now = now_ns();
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    int alive = 0;
    bool infer_signalled = false;
    for (int i = 0; i < s->n_w; i++) {
        s->w[i]->kill_ns = 0;
        if (!s->w[i]->infer)
            worker_signal_stop(s->w[i], now, STOP_GRACE_NS);
        alive += s->w[i]->pid > 0;
    }
    pthread_mutex_unlock(&s->mu);
    FT_LOGI("serve", "stopping %d worker(s)", alive);
    for (;;) {
        now = now_ns();
        reap(s, now);
        alive = 0;
        int streams = 0;
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->n_w; i++) {
            worker *w = s->w[i];
            if (w->pid <= 0)
                continue;
            alive++;
            streams += !w->infer;
            if (w->infer && !infer_signalled)
                continue;
            if (now >= w->kill_ns) {
                kill(w->pid, SIGKILL);
                w->kill_ns = INT64_MAX;
            }
        }
        if (!streams && !infer_signalled && s->infer) {
            worker_signal_stop(s->infer, now, STOP_GRACE_NS);
            infer_signalled = true;
        }
        pthread_mutex_unlock(&s->mu);
        if (!alive)
            break;
        sleep_ms(50);
    }
    FT_LOGI("serve", "all workers stopped");
    return FT_OK;
}

void ft_service_supervisor_stop(ft_service_supervisor *s)
{
    atomic_store(&s->stop, true);
}

void ft_service_supervisor_request_reload(ft_service_supervisor *s)
{
    atomic_store(&s->reload, true);
}

void ft_service_supervisor_destroy(ft_service_supervisor **ps)
{
    ft_service_supervisor *s = *ps;
    if (!s)
        return;
    ft_service_http_destroy(&s->http);
    ft_serve_nvml_close(&s->nvml);
    for (int i = 0; i < s->n_w; i++)
        worker_free(s->w[i]);
    free(s->cfg);
    free(s->scratch);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}
