/* Metrics of a track against ground truth; see docs/synth-eval.md for the
 * exact definitions, which the tests check on hand-built tracks. */
#include "tools/eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/text_out.h"

void ft_eval_params_default(ft_eval_params *p)
{
    *p = (ft_eval_params){.radius = 8.0};
}

long *ft_eval_truth_index(const ft_synth_truth *truth, size_t n_truth, int64_t max_frame)
{
    long *idx = malloc(((size_t)max_frame + 1) * sizeof(*idx));
    if (!idx)
        return NULL;
    for (int64_t f = 0; f <= max_frame; f++)
        idx[f] = -1;
    for (size_t i = 0; i < n_truth; i++)
        if (truth[i].frame <= max_frame)
            idx[truth[i].frame] = (long)i;
    return idx;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of v[0..n) (sorted in place); NAN when n is 0. */
static double percentile(double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

static double rms(const double *v, size_t n)
{
    if (!n)
        return NAN;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s / (double)n);
}

static double pct(size_t a, size_t b)
{
    return b ? 100.0 * (double)a / (double)b : NAN;
}

/* Counts one frame's candidates against the truth (one-to-one matching: the
 * nearest candidate within the radius is the hit, every other one a false
 * positive; near a hidden ball candidates are ambiguous and not counted). */
static void score_detections(const ft_track_csv_row *r, const ft_synth_truth *t, double radius,
                             ft_eval_result *out)
{
    int near = 0;
    if (t && t->vis != FT_SYNTH_OUT_OF_FRAME)
        for (int k = 0; k < r->n_det; k++)
            if (hypot(r->det[k].x - t->x, r->det[k].y - t->y) <= radius)
                near++;
    if (t && t->vis == FT_SYNTH_VISIBLE) {
        if (near) {
            out->tp++;
            out->fp += (size_t)(r->n_det - 1);
        } else {
            out->fn++;
            out->fp += (size_t)r->n_det;
        }
    } else {
        out->fp += (size_t)(r->n_det - near);
    }
}

/* Framing: how tight the crop is. Without the frame size the widest crop
 * of the track stands for the frame (the camera starts at its widest zoom). */
static void framing(const ft_eval_params *p, const ft_track_csv *tr, double *frac,
                    ft_eval_result *out)
{
    double widest_seen = 0.0;
    for (size_t i = 0; i < tr->count; i++)
        widest_seen = fmax(widest_seen, tr->rows[i].crop_w);
    size_t n = 0, full = 0;
    double sum_frac = 0.0, sum_zoom = 0.0;
    for (size_t i = 0; i < tr->count; i++) {
        const ft_track_csv_row *r = &tr->rows[i];
        if (!(r->crop_w > 0.0f && r->crop_h > 0.0f))
            continue;
        const double frame_w = p->frame_w > 0 ? p->frame_w : widest_seen;
        /* The widest crop of this aspect that fits the frame is zoom 1.0. */
        const double widest = p->frame_w > 0 && p->frame_h > 0
                                  ? fmin(p->frame_w, p->frame_h * (double)r->crop_w / r->crop_h)
                                  : widest_seen;
        const double zoom = widest / r->crop_w;
        frac[n++] = r->crop_w / frame_w;
        sum_frac += r->crop_w / frame_w;
        sum_zoom += zoom;
        full += zoom <= 1.05;
    }
    out->crop_frac_mean = n ? sum_frac / (double)n : NAN;
    out->crop_frac_p50 = percentile(frac, n, 0.50);
    out->zoom_mean = n ? sum_zoom / (double)n : NAN;
    out->full_frame_pct = pct(full, n);
}

/* Third and second differences of the crop centre and ln(crop width) over
 * runs of consecutive frames. */
static void smoothness(const ft_track_csv *tr, double *acc, double *jerk, double *zj,
                       ft_eval_result *out)
{
    size_t na = 0, nj = 0;
    for (size_t i = 1; i + 1 < tr->count; i++) {
        const ft_track_csv_row *a = &tr->rows[i - 1], *b = &tr->rows[i], *c = &tr->rows[i + 1];
        if (b->frame != a->frame + 1 || c->frame != b->frame + 1)
            continue;
        double ax = (a->crop_x + a->crop_w * 0.5) - 2 * (b->crop_x + b->crop_w * 0.5) +
                    (c->crop_x + c->crop_w * 0.5);
        double ay = (a->crop_y + a->crop_h * 0.5) - 2 * (b->crop_y + b->crop_h * 0.5) +
                    (c->crop_y + c->crop_h * 0.5);
        acc[na++] = hypot(ax, ay);
        if (i + 2 < tr->count && tr->rows[i + 2].frame == c->frame + 1) {
            const ft_track_csv_row *d = &tr->rows[i + 2];
            double jx = -(a->crop_x + a->crop_w * 0.5) + 3 * (b->crop_x + b->crop_w * 0.5) -
                        3 * (c->crop_x + c->crop_w * 0.5) + (d->crop_x + d->crop_w * 0.5);
            double jy = -(a->crop_y + a->crop_h * 0.5) + 3 * (b->crop_y + b->crop_h * 0.5) -
                        3 * (c->crop_y + c->crop_h * 0.5) + (d->crop_y + d->crop_h * 0.5);
            jerk[nj] = hypot(jx, jy);
            if (a->crop_w > 0 && b->crop_w > 0 && c->crop_w > 0 && d->crop_w > 0)
                zj[nj] = 100.0 * fabs(-log(a->crop_w) + 3 * log(b->crop_w) - 3 * log(c->crop_w) +
                                      log(d->crop_w));
            else
                zj[nj] = 0.0;
            nj++;
        }
    }
    out->acc_rms = rms(acc, na);
    out->acc_p95 = percentile(acc, na, 0.95);
    out->jerk_rms = rms(jerk, nj);
    out->jerk_p95 = percentile(jerk, nj, 0.95);
    out->zoom_jerk_rms = rms(zj, nj);
    out->zoom_jerk_p95 = percentile(zj, nj, 0.95);
}

ft_status ft_eval_compute(const ft_eval_params *p, const ft_synth_truth *truth, size_t n_truth,
                          const ft_track_csv *tr, ft_eval_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!(p->radius > 0.0))
        return FT_ERR_INVALID;
    ft_status st = FT_OK;
    size_t n = tr->count;
    double *buf = malloc((n ? n : 1) * 3 * sizeof(double));
    long *idx = NULL;
    if (!buf)
        return FT_ERR_NOMEM;
    int64_t max_frame = 0;
    for (size_t i = 0; i < n; i++)
        if (tr->rows[i].frame > max_frame)
            max_frame = tr->rows[i].frame;
    out->has_truth = truth != NULL;
    out->frames = n;

    /* Truth-free figures. */
    size_t not_tracking = 0, chaos = 0, dets = 0;
    for (size_t i = 0; i < n; i++) {
        const ft_track_csv_row *r = &tr->rows[i];
        not_tracking += r->state != FT_TRACK_CSV_TRACKING;
        chaos += r->mode == FT_TRACK_CSV_CHAOS;
        dets += (size_t)r->n_det;
    }
    out->lost_pct = pct(not_tracking, n);
    out->chaos_pct = pct(chaos, n);
    out->det_per_frame = n ? (double)dets / (double)n : NAN;
    smoothness(tr, buf, buf + n, buf + 2 * n, out);
    framing(p, tr, buf, out);

    out->precision = out->recall = out->f1 = NAN;
    out->err_p50 = out->err_p95 = out->err_max = NAN;
    out->in_crop = out->in_crop_center = NAN;
    out->reacq_mean_s = out->reacq_max_s = NAN;
    if (!truth)
        goto out;

    idx = ft_eval_truth_index(truth, n_truth, max_frame);
    if (!idx) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    size_t in_crop = 0, in_center = 0, ne = 0;
    double *err = buf;
    /* Re-acquisition: an episode starts when the ball is hidden after being
     * visible and ends at the first frame tracked within the radius after it
     * is visible again. */
    bool was_visible = false, hidden = false, waiting = false;
    double visible_again_t = 0.0, reacq_sum = 0.0;
    out->reacq_max_s = 0.0;
    for (size_t i = 0; i < n; i++) {
        const ft_track_csv_row *r = &tr->rows[i];
        const ft_synth_truth *t = idx[r->frame] >= 0 ? &truth[idx[r->frame]] : NULL;
        if (!t)
            continue;
        out->truth_frames++;
        score_detections(r, t, p->radius, out);
        bool vis = t->vis == FT_SYNTH_VISIBLE;
        double e = NAN;
        if (vis) {
            out->visible_frames++;
            if (r->state != FT_TRACK_CSV_NO_ESTIMATE) {
                e = hypot(r->x - t->x, r->y - t->y);
                err[ne++] = e;
            }
            float cx = r->crop_x, cy = r->crop_y, cw = r->crop_w, ch = r->crop_h;
            if (t->x >= cx && t->x < cx + cw && t->y >= cy && t->y < cy + ch)
                in_crop++;
            if (t->x >= cx + 0.2f * cw && t->x <= cx + 0.8f * cw && t->y >= cy + 0.2f * ch &&
                t->y <= cy + 0.8f * ch)
                in_center++;
        }
        if (!vis && was_visible && !hidden && !waiting) {
            hidden = true;
            out->occlusions++;
        } else if (!vis && waiting) {
            hidden = true; /* hidden again before re-acquisition: same episode */
            waiting = false;
        }
        if (vis && hidden) {
            hidden = false;
            waiting = true;
            visible_again_t = r->pts;
        }
        if (waiting && vis && r->state == FT_TRACK_CSV_TRACKING && e <= p->radius) {
            double dt = r->pts - visible_again_t;
            reacq_sum += dt;
            if (dt > out->reacq_max_s)
                out->reacq_max_s = dt;
            out->reacquired++;
            waiting = false;
        }
        if (vis)
            was_visible = true;
    }
    out->precision = out->tp + out->fp ? 100.0 * out->tp / (double)(out->tp + out->fp) : NAN;
    out->recall = pct(out->tp, out->tp + out->fn);
    /* F1 = 2 TP / (2 TP + FP + FN): 0 when nothing was found, undefined only
     * when there was nothing to find and nothing reported. */
    size_t f1_den = 2 * out->tp + out->fp + out->fn;
    out->f1 = f1_den ? 100.0 * 2.0 * (double)out->tp / (double)f1_den : NAN;
    out->err_frames = ne;
    out->err_p50 = percentile(err, ne, 0.50);
    out->err_p95 = percentile(err, ne, 0.95);
    out->err_max = ne ? err[ne - 1] : NAN; /* sorted by percentile() */
    out->in_crop = pct(in_crop, out->visible_frames);
    out->in_crop_center = pct(in_center, out->visible_frames);
    out->reacq_mean_s = out->reacquired ? reacq_sum / (double)out->reacquired : NAN;
    if (!out->reacquired)
        out->reacq_max_s = NAN;
out:
    free(idx);
    free(buf);
    return st;
}

/* One row of the table and one JSON key: a double figure or a size_t count. */
typedef struct eval_field {
    const char *key, *label;
    size_t off;
    bool is_count;
} eval_field;

#define F(key, label)                                                                              \
    {                                                                                              \
#key, label, offsetof(ft_eval_result, key), false                                          \
    }
#define C(key, label)                                                                              \
    {                                                                                              \
#key, label, offsetof(ft_eval_result, key), true                                           \
    }
static const eval_field fields[] = {
    C(frames, "frames"),
    C(truth_frames, "frames with truth"),
    C(visible_frames, "frames with the ball visible"),
    F(precision, "detection precision %"),
    F(recall, "detection recall %"),
    F(f1, "detection F1 %"),
    C(tp, "true positives"),
    C(fp, "false positives"),
    C(fn, "missed (false negatives)"),
    F(err_p50, "tracking error p50 px"),
    F(err_p95, "tracking error p95 px"),
    F(err_max, "tracking error max px"),
    F(in_crop, "ball in crop %"),
    F(in_crop_center, "ball in central 60% of crop %"),
    F(acc_rms, "crop acceleration RMS px/f^2"),
    F(acc_p95, "crop acceleration p95 px/f^2"),
    F(jerk_rms, "crop jerk RMS px/f^3"),
    F(jerk_p95, "crop jerk p95 px/f^3"),
    F(zoom_jerk_rms, "zoom jerk RMS %/f^3"),
    F(zoom_jerk_p95, "zoom jerk p95 %/f^3"),
    F(crop_frac_mean, "crop width / frame width, mean"),
    F(crop_frac_p50, "crop width / frame width, median"),
    F(zoom_mean, "zoom mean (1 = widest crop)"),
    F(full_frame_pct, "frames at zoom <= 1.05 %"),
    C(occlusions, "hidden / out-of-frame episodes"),
    C(reacquired, "episodes re-acquired"),
    F(reacq_mean_s, "time to re-acquire mean s"),
    F(reacq_max_s, "time to re-acquire max s"),
    F(lost_pct, "lost % (no measurement)"),
    F(chaos_pct, "chaos mode %"),
    F(det_per_frame, "detections per frame"),
};
#undef F
#undef C

static double field_value(const ft_eval_result *r, const eval_field *f)
{
    const char *base = (const char *)r + f->off;
    if (!f->is_count)
        return *(const double *)base;
    return (double)*(const size_t *)base;
}

ft_status ft_eval_result_get(const ft_eval_result *r, const char *key, double *v)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!strcmp(fields[i].key, key)) {
            *v = field_value(r, &fields[i]);
            return FT_OK;
        }
    return FT_ERR_INVALID;
}

/* Figures that mean nothing without truth are left out of a truth-free report. */
static bool needs_truth(const eval_field *f)
{
    static const char *const free_keys[] = {
        "frames",         "acc_rms",       "acc_p95",        "jerk_rms",      "jerk_p95",
        "zoom_jerk_rms",  "zoom_jerk_p95", "crop_frac_mean", "crop_frac_p50", "zoom_mean",
        "full_frame_pct", "lost_pct",      "chaos_pct",      "det_per_frame"};
    for (size_t i = 0; i < sizeof(free_keys) / sizeof(free_keys[0]); i++)
        if (!strcmp(f->key, free_keys[i]))
            return false;
    return true;
}

void ft_eval_print_table(FILE *out, const ft_eval_result *r)
{
    fprintf(out, "%-38s %12s\n", "metric", "value");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const eval_field *f = &fields[i];
        if (!r->has_truth && needs_truth(f))
            continue;
        double v = field_value(r, f);
        if (isnan(v))
            fprintf(out, "%-38s %12s\n", f->label, "-");
        else if (f->is_count)
            fprintf(out, "%-38s %12.0f\n", f->label, v);
        else
            fprintf(out, "%-38s %12.2f\n", f->label, v);
    }
}

ft_status ft_eval_write_json(const char *path, const ft_eval_result *r)
{
    ft_text_out t;
    ft_status st = ft_text_out_open(&t, path, true, "JSON", "eval");
    if (st)
        return st;
    FILE *f = t.f;
    fprintf(f, "{\n  \"has_truth\": %s", r->has_truth ? "true" : "false");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const eval_field *fl = &fields[i];
        if (!r->has_truth && needs_truth(fl))
            continue;
        double v = field_value(r, fl);
        if (isnan(v))
            fprintf(f, ",\n  \"%s\": null", fl->key);
        else
            fprintf(f, ",\n  \"%s\": %.6g", fl->key, v);
    }
    fputs("\n}\n", f);
    st = ft_text_out_commit(&t);
    ft_text_out_close(&t);
    return st;
}
