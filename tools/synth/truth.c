#include "tools/synth/truth.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/text_out.h"

#define TRUTH_HEADER                                                                               \
    "frame,pts,x,y,radius,visibility,ball_z,shot,cam_pan,cam_tilt,cam_focal,cam_x,cam_y,cam_z"
#define TRUTH_LINE_MAX 4096
#define TRUTH_COLS_MAX 64
#define TRUTH_ROWS_MAX 2160000u /* ten hours at 60 fps */
#define TRUTH_FRAME_MAX 8640000 /* frame numbers index arrays: ten hours at 240 fps */

struct ft_synth_truth_writer {
    ft_text_out out;
};

ft_status ft_synth_truth_writer_create(const char *path, const ft_synth_params *p,
                                       ft_synth_truth_writer **out)
{
    *out = NULL;
    ft_synth_truth_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return FT_ERR_NOMEM;
    ft_status st = ft_text_out_open(&w->out, path, true, "truth", "synth");
    if (st) {
        free(w);
        return st;
    }
    fprintf(w->out.f,
            "# football-tracker truth v1 width=%d height=%d fps=%g scenario=%s seed=%llu\n",
            p->width, p->height, p->fps, ft_synth_scenario_name(p->scenario),
            (unsigned long long)p->seed);
    fputs(TRUTH_HEADER "\n", w->out.f);
    *out = w;
    return FT_OK;
}

ft_status ft_synth_truth_writer_write(ft_synth_truth_writer *w, const ft_synth_truth *t)
{
    fprintf(w->out.f, "%lld,%.6f,%.2f,%.2f,%.2f,%s,%.3f,%d,%.3f,%.3f,%.1f,%.2f,%.2f,%.2f\n",
            (long long)t->frame, t->pts, t->x, t->y, t->radius, ft_synth_visibility_name(t->vis),
            t->ball_z, t->shot, t->cam_pan, t->cam_tilt, t->cam_focal, t->cam_x, t->cam_y,
            t->cam_z);
    return ft_text_out_check(&w->out);
}

ft_status ft_synth_truth_writer_finish(ft_synth_truth_writer *w)
{
    return ft_text_out_commit(&w->out);
}

void ft_synth_truth_writer_destroy(ft_synth_truth_writer **w)
{
    if (!w || !*w)
        return;
    ft_text_out_close(&(*w)->out);
    free(*w);
    *w = NULL;
}

enum { COL_FRAME, COL_PTS, COL_X, COL_Y, COL_RADIUS, COL_VIS, COL_KNOWN };
static const char *const col_names[COL_KNOWN] = {"frame", "pts", "x", "y", "radius", "visibility"};

/* Splits a line in place on commas; returns the number of fields. */
static int split(char *line, char **f, int cap)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == cap)
            return -1;
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return n;
        *c = '\0';
        p = c + 1;
    }
}

static int num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return (end == s || *end || errno || !isfinite(*v)) ? -1 : 0;
}

/* Parses a data row; returns the bad column's name or NULL. */
static const char *parse(char **f, int nf, const int *col, ft_synth_truth *t)
{
    memset(t, 0, sizeof(*t));
    t->pts = -1.0;
    double v;
    static const int required[] = {COL_FRAME, COL_X, COL_Y, COL_VIS};
    for (int k = 0; k < 4; k++)
        if (col[required[k]] >= nf)
            return col_names[required[k]];
    char *end;
    errno = 0;
    long long fr = strtoll(f[col[COL_FRAME]], &end, 10);
    if (end == f[col[COL_FRAME]] || *end || errno || fr < 0 || fr > TRUTH_FRAME_MAX)
        return "frame";
    t->frame = fr;
    int vis = ft_synth_visibility_from_name(f[col[COL_VIS]]);
    if (vis < 0)
        return "visibility (visible, occluded or out_of_frame)";
    t->vis = (ft_synth_visibility)vis;
    for (int k = COL_X; k <= COL_Y; k++) {
        const char *s = f[col[k]];
        if (!*s && t->vis != FT_SYNTH_VISIBLE)
            continue;
        if (num(s, &v))
            return col_names[k];
        (k == COL_X ? &t->x : &t->y)[0] = (float)v;
    }
    if (col[COL_PTS] >= 0 && col[COL_PTS] < nf && *f[col[COL_PTS]]) {
        if (num(f[col[COL_PTS]], &t->pts))
            return "pts";
    }
    if (col[COL_RADIUS] >= 0 && col[COL_RADIUS] < nf && *f[col[COL_RADIUS]]) {
        if (num(f[col[COL_RADIUS]], &v) || v < 0)
            return "radius";
        t->radius = (float)v;
    }
    return NULL;
}

ft_status ft_synth_truth_read(const char *path, ft_synth_truth **rows, size_t *n)
{
    ft_status st = FT_OK;
    *rows = NULL;
    *n = 0;
    char *line = malloc(TRUTH_LINE_MAX);
    ft_synth_truth *out = NULL;
    size_t count = 0, cap = 0;
    FILE *f = fopen(path, "r");
    if (!line) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    if (!f) {
        FT_LOGE("eval", "cannot open truth file '%s': %s", path, strerror(errno));
        st = FT_ERR_INPUT;
        goto out;
    }
    int col[COL_KNOWN], lineno = 0;
    bool header = false;
    char *fields[TRUTH_COLS_MAX];
    while (fgets(line, TRUTH_LINE_MAX, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == TRUTH_LINE_MAX - 1 && line[len - 1] != '\n') {
            FT_LOGE("eval", "%s:%d: line too long", path, lineno);
            st = FT_ERR_INPUT;
            goto out;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        int nf = split(line, fields, TRUTH_COLS_MAX);
        if (nf < 0) {
            FT_LOGE("eval", "%s:%d: more than %d columns", path, lineno, TRUTH_COLS_MAX);
            st = FT_ERR_INPUT;
            goto out;
        }
        if (!header) {
            for (int k = 0; k < COL_KNOWN; k++) {
                col[k] = -1;
                for (int i = 0; i < nf; i++)
                    if (!strcmp(fields[i], col_names[k]))
                        col[k] = i;
                bool optional = k == COL_PTS || k == COL_RADIUS;
                if (col[k] < 0 && !optional) {
                    FT_LOGE("eval",
                            "%s:%d: header has no '%s' column (need frame, x, y, "
                            "visibility)",
                            path, lineno, col_names[k]);
                    st = FT_ERR_INPUT;
                    goto out;
                }
            }
            header = true;
            continue;
        }
        if (count == cap) {
            if (cap >= TRUTH_ROWS_MAX) {
                FT_LOGE("eval", "%s: too many rows (limit %u)", path, TRUTH_ROWS_MAX);
                st = FT_ERR_INPUT;
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 1024;
            ft_synth_truth *nr = realloc(out, ncap * sizeof(*nr));
            if (!nr) {
                st = FT_ERR_NOMEM;
                goto out;
            }
            out = nr;
            cap = ncap;
        }
        const char *bad = parse(fields, nf, col, &out[count]);
        if (bad) {
            FT_LOGE("eval", "%s:%d: bad value in column '%s'", path, lineno, bad);
            st = FT_ERR_INPUT;
            goto out;
        }
        count++;
    }
    if (ferror(f)) {
        FT_LOGE("eval", "cannot read truth file '%s': %s", path, strerror(errno));
        st = FT_ERR_INPUT;
        goto out;
    }
    if (!header) {
        FT_LOGE("eval", "%s: no header line (need frame, x, y, visibility)", path);
        st = FT_ERR_INPUT;
        goto out;
    }
out:
    free(line);
    if (f)
        fclose(f);
    if (st) {
        free(out);
        return st;
    }
    *rows = out;
    *n = count;
    return FT_OK;
}
