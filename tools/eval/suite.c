/* Runs eval/suite.yml. The synthetic clips and the pipeline run as child
 * processes of the football-tracker program itself, exactly as a user would
 * run them, so the suite measures the shipped command line end to end. */
#include "tools/eval/suite.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <yaml.h>

#include "core/log.h"
#include "core/parse.h"
#include "pipeline/track_csv.h"
#include "tools/eval/eval.h"
#include "tools/synth/truth.h"

#define SUITE_RUNS_MAX 32
#define SUITE_THR_MAX 16
#define SUITE_ARGS_MAX 24
#define SUITE_FILE_MAX (256 * 1024)
#define SUITE_MSG_MAX 64
#define SUITE_MSG_LEN 2400 /* room for two paths */

extern char **environ;

typedef struct suite_thr {
    char key[32];
    bool is_min;
    double v;
} suite_thr;

typedef struct suite_run {
    char name[48], scenario[16], seed[24];
    bool in_short;
    int n_thr[2]; /* [0] full suite, [1] short suite */
    suite_thr thr[2][SUITE_THR_MAX];
} suite_run;

typedef struct suite {
    double seconds, short_seconds, fps, radius;
    char size[16], short_size[16];
    char batch_args[256];
    int n;
    suite_run run[SUITE_RUNS_MAX];
} suite;

/* ---- parsing ---- */

typedef struct parse_ctx {
    const char *path;
    yaml_document_t *doc;
} parse_ctx;

static ft_status bad(const parse_ctx *c, const yaml_node_t *n, const char *what, const char *key)
{
    FT_LOGE("eval", "%s:%zu: %s '%s'", c->path, n ? n->start_mark.line + 1 : 0, what,
            key ? key : "");
    return FT_ERR_CONFIG;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static ft_status get_num(const parse_ctx *c, const yaml_node_t *n, const char *key, double lo,
                         double hi, double *v)
{
    const char *s = scalar(n);
    char *end;
    errno = 0;
    *v = s ? strtod(s, &end) : 0.0;
    if (!s || end == s || *end || errno || !(*v >= lo && *v <= hi))
        return bad(c, n, "bad number for", key);
    return FT_OK;
}

static ft_status get_str(const parse_ctx *c, const yaml_node_t *n, const char *key, char *dst,
                         size_t cap)
{
    const char *s = scalar(n);
    if (!s || strlen(s) >= cap || strpbrk(s, "/ \t"))
        return bad(c, n, "bad value (a short word) for", key);
    snprintf(dst, cap, "%s", s);
    return FT_OK;
}

static ft_status parse_thresholds(const parse_ctx *c, const yaml_node_t *map, suite_run *r,
                                  int which)
{
    if (map->type != YAML_MAPPING_NODE)
        return bad(c, map, "expected a mapping of thresholds for", r->name);
    ft_eval_result dummy = {0};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        double x;
        if (!key || (strncmp(key, "min_", 4) && strncmp(key, "max_", 4)) ||
            ft_eval_result_get(&dummy, key + 4, &x) || strlen(key + 4) >= sizeof(r->thr[0][0].key))
            return bad(c, k, "unknown threshold (min_<figure> or max_<figure>)", key);
        if (r->n_thr[which] == SUITE_THR_MAX)
            return bad(c, k, "too many thresholds at", key);
        suite_thr *t = &r->thr[which][r->n_thr[which]++];
        t->is_min = key[1] == 'i';
        snprintf(t->key, sizeof(t->key), "%s", key + 4);
        if (get_num(c, v, key, -1e9, 1e9, &t->v))
            return FT_ERR_CONFIG;
    }
    return FT_OK;
}

static ft_status parse_run(const parse_ctx *c, const yaml_node_t *map, suite_run *r)
{
    if (map->type != YAML_MAPPING_NODE)
        return bad(c, map, "expected a mapping for a run", "runs");
    snprintf(r->scenario, sizeof(r->scenario), "wide");
    snprintf(r->seed, sizeof(r->seed), "1");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        double x;
        ft_status st;
        if (!key)
            return bad(c, k, "expected a key in", "runs");
        if (!strcmp(key, "name"))
            st = get_str(c, v, key, r->name, sizeof(r->name));
        else if (!strcmp(key, "scenario"))
            st = get_str(c, v, key, r->scenario, sizeof(r->scenario));
        else if (!strcmp(key, "seed")) {
            st = get_num(c, v, key, 0, 9007199254740992.0, &x);
            snprintf(r->seed, sizeof(r->seed), "%.0f", x);
        } else if (!strcmp(key, "thresholds"))
            st = parse_thresholds(c, v, r, 0);
        else if (!strcmp(key, "short")) {
            r->in_short = true;
            st = parse_thresholds(c, v, r, 1);
        } else
            return bad(c, k, "unknown key in a run:", key);
        if (st)
            return st;
    }
    if (!r->name[0])
        return bad(c, map, "a run has no", "name");
    return FT_OK;
}

static ft_status parse_defaults(const parse_ctx *c, const yaml_node_t *map, suite *s)
{
    if (map->type != YAML_MAPPING_NODE)
        return bad(c, map, "expected a mapping for", "defaults");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = scalar(k);
        ft_status st;
        if (!key)
            return bad(c, k, "expected a key in", "defaults");
        if (!strcmp(key, "seconds"))
            st = get_num(c, v, key, 0.1, 3600, &s->seconds);
        else if (!strcmp(key, "short_seconds"))
            st = get_num(c, v, key, 0.1, 3600, &s->short_seconds);
        else if (!strcmp(key, "fps"))
            st = get_num(c, v, key, 1, 240, &s->fps);
        else if (!strcmp(key, "radius"))
            st = get_num(c, v, key, 0.1, 1000, &s->radius);
        else if (!strcmp(key, "size") || !strcmp(key, "short_size")) {
            char *dst = strcmp(key, "size") ? s->short_size : s->size;
            int w, h;
            st = get_str(c, v, key, dst, sizeof(s->size));
            if (!st && !ft_parse_size(dst, &w, &h))
                st = bad(c, v, "bad frame size (WxH) for", key);
        } else if (!strcmp(key, "batch_args")) {
            const char *a = scalar(v);
            if (!a || strlen(a) >= sizeof(s->batch_args))
                return bad(c, v, "bad value for", key);
            snprintf(s->batch_args, sizeof(s->batch_args), "%s", a);
            st = FT_OK;
        } else
            return bad(c, k, "unknown key in defaults:", key);
        if (st)
            return st;
    }
    return FT_OK;
}

static ft_status suite_load(const char *path, suite *s)
{
    *s = (suite){.seconds = 20, .short_seconds = 4, .fps = 30, .radius = 8};
    snprintf(s->size, sizeof(s->size), "1280x720");
    snprintf(s->short_size, sizeof(s->short_size), "640x360");
    FILE *f = fopen(path, "rb");
    if (!f) {
        FT_LOGE("eval", "cannot open suite '%s': %s", path, strerror(errno));
        return FT_ERR_CONFIG;
    }
    ft_status st = FT_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    if (size < 0 || size > SUITE_FILE_MAX) {
        FT_LOGE("eval", "suite '%s' is too large (limit %d bytes)", path, SUITE_FILE_MAX);
        fclose(f);
        return FT_ERR_CONFIG;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    parse_ctx c = {path, &doc};
    if (!yaml_parser_load(&parser, &doc)) {
        FT_LOGE("eval", "%s:%zu: YAML error: %s", path, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "?");
        st = FT_ERR_CONFIG;
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        st = bad(&c, root, "expected a mapping with", "defaults, runs");
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(k);
        if (key && !strcmp(key, "defaults")) {
            st = parse_defaults(&c, v, s);
        } else if (key && !strcmp(key, "runs") && v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 !st && it < v->data.sequence.items.top; it++) {
                if (s->n == SUITE_RUNS_MAX) {
                    st = bad(&c, v, "too many runs (32 at most) in", "runs");
                    break;
                }
                st = parse_run(&c, yaml_document_get_node(&doc, *it), &s->run[s->n++]);
            }
        } else {
            st = bad(&c, k, "unknown top-level key (defaults, runs):", key);
        }
        if (st)
            goto out;
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return st;
}

/* ---- running ---- */

/* Runs argv with stdout and stderr appended to `log`; returns the exit code
 * (or -1 when it could not start or died from a signal). */
static int run_logged(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        FT_LOGE("eval", "cannot start '%s': %s", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_header(FILE *out)
{
    fprintf(out, "%-16s %-9s %5s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s %7s %6s %6s %7s  %s\n",
            "run", "scenario", "frms", "prec%", "rec%", "F1%", "err50", "err95", "crop%", "ctr%",
            "cropw", "zoom1%", "jerk", "zjerk%", "lost%", "chaos%", "reacq_s", "check");
}

static void print_row(FILE *out, const suite_run *r, const ft_eval_result *e, const char *check)
{
    double v[] = {e->precision,      e->recall,         e->f1,
                  e->err_p50,        e->err_p95,        e->in_crop,
                  e->in_crop_center, e->crop_frac_mean, e->full_frame_pct,
                  e->jerk_rms,       e->zoom_jerk_rms,  e->lost_pct,
                  e->chaos_pct,      e->reacq_mean_s};
    const int width[] = {6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 6, 6, 7};
    fprintf(out, "%-16s %-9s %5zu", r->name, r->scenario, e->frames);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (isnan(v[i]))
            fprintf(out, " %*s", width[i], "-");
        else
            fprintf(out, " %*.*f", width[i], i == 7 || i == 9 || i == 10 ? 2 : 1, v[i]);
    }
    fprintf(out, "  %s\n", check);
}

ft_status ft_eval_suite_run(const ft_eval_suite_params *p, int *failed)
{
    *failed = 0;
    suite *s = malloc(sizeof(*s));
    if (!s)
        return FT_ERR_NOMEM;
    ft_status st = suite_load(p->suite, s);
    if (st) {
        free(s);
        return st;
    }
    ft_status result = FT_OK;
    char(*msgs)[SUITE_MSG_LEN] = calloc(SUITE_MSG_MAX, SUITE_MSG_LEN);
    if (!msgs) {
        free(s);
        return FT_ERR_NOMEM;
    }
    int n_msgs = 0;
    print_header(p->out);
    fflush(p->out);
    for (int i = 0; i < s->n; i++) {
        const suite_run *r = &s->run[i];
        if (p->short_only && !r->in_short)
            continue;
        char clip[1024], truth[1024], track[1024], outv[1024], log[1024], secs[32], fps[32];
        snprintf(clip, sizeof(clip), "%s/%s.mp4", p->workdir, r->name);
        snprintf(truth, sizeof(truth), "%s/%s.truth.csv", p->workdir, r->name);
        snprintf(track, sizeof(track), "%s/%s.track.csv", p->workdir, r->name);
        snprintf(outv, sizeof(outv), "%s/%s.out.mp4", p->workdir, r->name);
        snprintf(log, sizeof(log), "%s/%s.log", p->workdir, r->name);
        snprintf(secs, sizeof(secs), "%g", p->short_only ? s->short_seconds : s->seconds);
        snprintf(fps, sizeof(fps), "%g", s->fps);
        remove(log);
        char *synth_argv[] = {(char *)p->bin,
                              "synth",
                              "--out",
                              clip,
                              "--truth",
                              truth,
                              "--scenario",
                              (char *)r->scenario,
                              "--seed",
                              (char *)r->seed,
                              "--seconds",
                              secs,
                              "--fps",
                              fps,
                              "--size",
                              p->short_only ? s->short_size : s->size,
                              NULL};
        char args[256];
        snprintf(args, sizeof(args), "%s", s->batch_args);
        char *batch_argv[8 + SUITE_ARGS_MAX] = {(char *)p->bin, "batch", "--input",     clip,
                                                "--output",     outv,    "--track-out", track};
        int na = 8;
        char *save = NULL;
        for (char *tok = strtok_r(args, " ", &save); tok && na < 7 + SUITE_ARGS_MAX;
             tok = strtok_r(NULL, " ", &save))
            batch_argv[na++] = tok;
        batch_argv[na] = NULL;
        int rc = run_logged(synth_argv, log);
        const char *stage = "synth";
        if (rc == 0) {
            stage = "batch";
            rc = run_logged(batch_argv, log);
        }
        ft_eval_result e = {0};
        ft_track_csv *tr = NULL;
        ft_synth_truth *rows = NULL;
        size_t nrows = 0;
        ft_eval_params ep = {.radius = s->radius};
        /* The size was checked when the suite was loaded. */
        (void)ft_parse_size(p->short_only ? s->short_size : s->size, &ep.frame_w, &ep.frame_h);
        if (rc != 0) {
            if (n_msgs < SUITE_MSG_MAX)
                snprintf(msgs[n_msgs++], sizeof(msgs[0]), "%s: %s failed (exit %d), see %s",
                         r->name, stage, rc, log);
            result = FT_ERR_RUNTIME;
            continue;
        }
        if (ft_synth_truth_read(truth, &rows, &nrows) || ft_track_csv_read(track, &tr) ||
            ft_eval_compute(&ep, rows, nrows, tr, &e)) {
            if (n_msgs < SUITE_MSG_MAX)
                snprintf(msgs[n_msgs++], sizeof(msgs[0]), "%s: cannot evaluate %s against %s",
                         r->name, track, truth);
            result = FT_ERR_RUNTIME;
            free(rows);
            ft_track_csv_destroy(&tr);
            continue;
        }
        free(rows);
        ft_track_csv_destroy(&tr);
        int which = p->short_only ? 1 : 0, bad_here = 0;
        for (int k = 0; k < r->n_thr[which]; k++) {
            const suite_thr *t = &r->thr[which][k];
            double v;
            if (ft_eval_result_get(&e, t->key, &v))
                continue; /* keys were checked when the suite was loaded */
            bool ok = !isnan(v) && (t->is_min ? v >= t->v : v <= t->v);
            if (!ok) {
                bad_here++;
                (*failed)++;
                if (n_msgs < SUITE_MSG_MAX)
                    snprintf(msgs[n_msgs++], sizeof(msgs[0]), "%s: %s = %.3f, %s %.3f", r->name,
                             t->key, v, t->is_min ? "below the minimum" : "above the maximum",
                             t->v);
            }
        }
        print_row(p->out, r, &e, bad_here ? "FAIL" : r->n_thr[which] ? "ok" : "-");
        fflush(p->out);
    }
    for (int i = 0; i < n_msgs; i++)
        fprintf(p->out, "  %s\n", msgs[i]);
    free(msgs);
    free(s);
    return result;
}
