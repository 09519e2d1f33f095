/* Ball tracker: association, gating and operational modes around the Kalman
 * filter. Internally positions are in reference pixels (a 1080-high frame) and
 * durations in seconds, so that every threshold means the same thing at any
 * resolution and frame rate; the state is reported in frame pixels. */
#include "track/tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "track/kalman.h"

/* Slack for comparing durations built from frame timestamps (k / fps is not
 * exact in binary). */
#define TIME_EPS 1e-6
/* Time constant with which an innovation-raised process noise decays back. */
#define Q_DECAY_S 0.5
/* Hysteresis: the stability lock opens again when the ball moves this many
 * times faster than the lock threshold. */
#define LOCK_EXIT_FACTOR 2.0
/* Weak candidates followed at once while no track is live. Scattered false
 * positives die when their window closes; a few static look-alikes and the
 * ball fit. When all are taken, the one seen least recently gives way. */
#define TENTATIVE_MAX 8
/* The apparent-size factor follows the median of this many latest accepted
 * ball sizes: one or two oversized false candidates among them (a head taken
 * for a frame) cannot move it; a change of zoom moves it within a few frames. */
#define SIZE_N 5
/* Largest apparent-size factor: a 192-px box at 1080p, about where the
 * detector's large-ball search (6-20 times its 7-px prior) ends. */
#define ZOOM_MAX 8.0

/* A weak candidate being confirmed before a track starts on it: the track's
 * own filter run over its sightings (at most one per frame), predicted only
 * through the frames where the detector missed it. */
typedef struct tentative {
    ft_track_kalman kf; /* filter as of its latest sighting */
    double since;       /* time of its first sighting */
    double last_t;      /* time of its latest sighting */
    int cand;           /* index of its candidate in the current frame, or -1 */
    int hits;           /* sightings so far */
    bool bridged;       /* its candidate of this frame came after missed frames */
} tentative;

struct ft_tracker {
    ft_tracker_params p;
    double scale;           /* frame pixels per reference pixel */
    double zoom;            /* apparent-size factor, 1..ZOOM_MAX (see note_size) */
    double sizes[SIZE_N];   /* latest accepted box sizes, reference pixels (ring) */
    int n_sizes, size_head; /* sizes in the ring, next slot */
    ft_track_kalman kf;
    bool has_track; /* the filter holds a live track (mode != LOST) */
    bool has_time;  /* t_prev is valid */
    double t_prev;
    double dt_prev;      /* interval before the previous update (the frame period) */
    double t_last_hit;   /* time of the last accepted candidate */
    double streak_start; /* first detection of the current run of consecutive ones */
    bool stable_timing;  /* the ball has been slow since stable_since */
    double stable_since;
    bool chaos;
    double chaos_until;
    double jump_t[FT_TRACK_CHAOS_JUMPS_MAX]; /* times of the latest erratic jumps (ring) */
    int jump_n, jump_head;                   /* jumps in the ring, next slot */
    double jump_x, jump_y, jump_last_t;      /* the latest jump's candidate, reference px */
    bool lock;
    double q_factor;               /* adaptive multiple of the base process noise */
    double box_w, box_h;           /* last accepted box, reference pixels */
    double last_x, last_y;         /* last estimate, reference pixels (kept while lost) */
    double meas_x, meas_y;         /* last accepted candidate, reference pixels */
    bool reloc;                    /* a far, unsupported candidate is being confirmed */
    double reloc_x, reloc_y;       /* its last position, reference pixels */
    double reloc_since, reloc_t;   /* first and last time it was seen */
    tentative tent[TENTATIVE_MAX]; /* no track: weak candidates being confirmed */
    int n_tent;
    ft_track_state st;
};

const char *ft_track_mode_name(ft_track_mode m)
{
    switch (m) {
    case FT_TRACK_LOST:
        return "lost";
    case FT_TRACK_ACQUIRING:
        return "acquiring";
    case FT_TRACK_NORMAL:
        return "normal";
    case FT_TRACK_RECOVERING:
        return "recovering";
    case FT_TRACK_COASTING:
        return "coasting";
    default:
        return "unknown";
    }
}

/* A spec duration given in frames at the reference rate, in seconds. */
static double ref_frames_s(int frames)
{
    return frames / FT_TRACK_REF_FPS;
}

/* The inverse, for logs: a duration in 30-fps frames, the unit of the
 * thresholds (a count of updates would say "2 frames" at 10 fps). */
static long frames_at_ref(double seconds)
{
    return lround(seconds * FT_TRACK_REF_FPS);
}

ft_status ft_tracker_create(const ft_tracker_params *p, int frame_w, int frame_h, ft_tracker **out)
{
    ft_status st = FT_OK;
    ft_tracker *t = NULL;
    char err[256];
    if (!p || !out || frame_w <= 0 || frame_h <= 0) {
        FT_LOGE("track", "tracker: invalid arguments (frame %dx%d)", frame_w, frame_h);
        st = FT_ERR_INVALID;
        goto out;
    }
    st = ft_tracker_params_validate(p, err, sizeof(err));
    if (st) {
        FT_LOGE("track", "%s", err);
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    t->p = *p;
    t->scale = frame_h / FT_TRACK_REF_HEIGHT;
    t->zoom = 1.0;
    t->q_factor = 1.0;
    t->last_x = 0.5 * frame_w / t->scale;
    t->last_y = 0.5 * frame_h / t->scale;
    t->st.mode = FT_TRACK_LOST;
    t->st.candidate = -1;
    t->st.x = 0.5f * (float)frame_w;
    t->st.y = 0.5f * (float)frame_h;
out:
    if (out)
        *out = st ? NULL : t;
    if (st)
        free(t);
    return st;
}

void ft_tracker_destroy(ft_tracker **t)
{
    if (t && *t) {
        free(*t);
        *t = NULL;
    }
}

/* The apparent-size factor: the median of the latest accepted box sizes over
 * ball_size_px, within 1..ZOOM_MAX (1 while the ring is filling, or with
 * ball_size_px 0). */
static void update_zoom(ft_tracker *t)
{
    double z = 1.0, med = 0.0;
    if (t->p.ball_size_px > 0.0 && t->n_sizes == SIZE_N) {
        /* Median of the ring: insertion sort of a copy. */
        double v[SIZE_N];
        memcpy(v, t->sizes, sizeof(v));
        for (int i = 1; i < SIZE_N; i++)
            for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
                const double tmp = v[k];
                v[k] = v[k - 1];
                v[k - 1] = tmp;
            }
        med = v[SIZE_N / 2];
        z = fmin(fmax(med / t->p.ball_size_px, 1.0), ZOOM_MAX);
    }
    if ((z > 1.0) != (t->zoom > 1.0))
        FT_LOGI("track", "accepted balls %.0f px at 1080p: chaos_jump_px scaled by %.2f", med, z);
    t->zoom = z;
}

/* Adds the size of an accepted box (w, h in reference pixels) to the ring. */
static void note_size(ft_tracker *t, double w, double h)
{
    t->sizes[t->size_head] = 0.5 * (w + h);
    t->size_head = (t->size_head + 1) % SIZE_N;
    if (t->n_sizes < SIZE_N)
        t->n_sizes++;
    update_zoom(t);
}

ft_status ft_tracker_set_params(ft_tracker *t, const ft_tracker_params *p)
{
    char err[256];
    if (!t || !p)
        return FT_ERR_INVALID;
    ft_status st = ft_tracker_params_validate(p, err, sizeof(err));
    if (st) {
        FT_LOGE("track", "%s", err);
        return st;
    }
    t->p = *p;
    update_zoom(t);
    return FT_OK;
}

void ft_tracker_get_state(const ft_tracker *t, ft_track_state *out)
{
    *out = t->st;
}

static double box_iou(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                      double bh)
{
    if (aw <= 0 || ah <= 0 || bw <= 0 || bh <= 0)
        return 0.0;
    const double ix = fmin(ax + aw / 2, bx + bw / 2) - fmax(ax - aw / 2, bx - bw / 2);
    const double iy = fmin(ay + ah / 2, by + bh / 2) - fmax(ay - ah / 2, by - bh / 2);
    if (ix <= 0 || iy <= 0)
        return 0.0;
    const double inter = ix * iy;
    return inter / (aw * ah + bw * bh - inter);
}

static bool cand_valid(const ft_track_candidate *c)
{
    return isfinite(c->x) && isfinite(c->y) && isfinite(c->w) && isfinite(c->h) &&
           isfinite(c->score);
}

/* Measurement noise for a candidate: the spec's R range 3..10 is walked by
 * stability. A locked (stationary) ball takes the top of the range so that
 * detector jitter is smoothed away; otherwise a weaker detection gets more. */
static double meas_noise(const ft_tracker *t, double score)
{
    const ft_tracker_params *p = &t->p;
    if (!p->adaptive_noise)
        return p->measurement_noise_min;
    if (t->lock)
        return p->measurement_noise_max;
    const double u = fmin(fmax(1.0 - score, 0.0), 1.0);
    return p->measurement_noise_min + u * (p->measurement_noise_max - p->measurement_noise_min);
}

/* Whether candidate (x, y) in reference pixels is acceptable for the live
 * track at `time`, and its squared Mahalanobis distance. *reseed is set when
 * only the recovering reach test accepts it. */
static bool accept_tracked(const ft_tracker *t, const ft_track_candidate *c, double x, double y,
                           double r, double time, double *d2, bool *reseed)
{
    *reseed = false;
    const double px = t->kf.s[0][0], py = t->kf.s[1][0];
    const double dist = hypot(x - px, y - py);
    *d2 = ft_track_kalman_distance2(&t->kf, x, y, r);
    /* Chaos and the stability lock replace the statistical gate by a fixed
     * radius (the spec's 80 px), which a burst of false positives cannot
     * widen. In chaos it is measured from the prediction or from the last
     * detection (the spec's "last position"): whichever is nearer, so that
     * neither a prediction drifting through an occlusion nor a ball moving
     * away from its last detection is lost. */
    if (t->chaos)
        return fmin(dist, hypot(x - t->meas_x, y - t->meas_y)) <= t->p.chaos_radius_px;
    if (t->lock)
        return dist <= t->p.stability_radius_px;
    const bool recovering = t->st.lost_frames > 0;
    /* While recovering, the grown covariance and the reach test below would
     * let a weak look-alike far from the prediction restart the track, which
     * then shuts out the ball when it reappears where it was predicted. */
    if (recovering && c->score < t->p.recovering_min_confidence && dist > t->p.chaos_radius_px)
        return false;
    const double gate = recovering ? t->p.gate_chi2_recovering : t->p.gate_chi2;
    if (*d2 <= gate)
        return true;
    const double inv = 1.0 / t->scale;
    if (box_iou(px, py, t->box_w, t->box_h, x, y, c->w * inv, c->h * inv) >= t->p.iou_threshold)
        return true;
    /* The spec's base Q (0.01) is far too stiff for a kick: after one, the
     * prediction runs behind the ball and the gate shuts. While recovering,
     * a candidate that a plausibly fast ball could have reached from the last
     * detection is taken and the filter restarted there, rather than letting
     * a huge innovation through the acceleration state. */
    const double reach = t->p.max_ball_speed_px * FT_TRACK_REF_FPS * (time - t->t_last_hit);
    *reseed = recovering && reach > 0.0 && hypot(x - t->meas_x, y - t->meas_y) <= reach;
    return *reseed;
}

/* Restarts the filter at (x, y) moving with (vx, vy), all reference units. */
static void seed_filter(ft_tracker *t, double x, double y, double vx, double vy, double r)
{
    const ft_tracker_params *p = &t->p;
    ft_track_kalman_init(&t->kf, x, y, r, p->init_velocity_std * p->init_velocity_std,
                         p->init_accel_std * p->init_accel_std);
    t->kf.s[0][1] = vx;
    t->kf.s[1][1] = vy;
    t->q_factor = 1.0;
}

/* Starts a track on the filter already in t->kf, detected since `since`;
 * `sightings` > 1 when a weak path was confirmed first (logged). */
static void start_track(ft_tracker *t, double since, int sightings)
{
    t->has_track = true;
    t->n_tent = 0;
    t->streak_start = since;
    t->stable_timing = false;
    t->lock = false;
    t->st.track_id++;
    t->st.stats.acquisitions++;
    t->st.new_track = true;
    if (sightings > 1)
        FT_LOGI("track", "ball acquired at (%.0f, %.0f), track %u, confirmed by %d sightings",
                t->kf.s[0][0] * t->scale, t->kf.s[1][0] * t->scale, (unsigned)t->st.track_id,
                sightings);
    else
        FT_LOGI("track", "ball acquired at (%.0f, %.0f), track %u", t->kf.s[0][0] * t->scale,
                t->kf.s[1][0] * t->scale, (unsigned)t->st.track_id);
}

/* Whether a candidate at (x, y), reference pixels, may start a track: while
 * chaos outlives the track, only near the last detection. */
static bool acquirable(const ft_tracker *t, double x, double y)
{
    return !t->chaos || hypot(x - t->meas_x, y - t->meas_y) <= t->p.chaos_radius_px;
}

/* Whether (x, y), reference pixels, lies where the last track was last
 * detected: within chaos_radius_px (the spec's radius around the "last
 * position"). A ball that was hidden usually reappears there, often weakly
 * detected at first; a weak candidate there needs no confirmation. */
static bool near_lost_track(const ft_tracker *t, double x, double y)
{
    return t->st.track_id > 0 && hypot(x - t->meas_x, y - t->meas_y) <= t->p.chaos_radius_px;
}

/* Removes hypothesis h, keeping the others in order of age. */
static void tentative_remove(ft_tracker *t, int h)
{
    memmove(&t->tent[h], &t->tent[h + 1], (size_t)(t->n_tent - h - 1) * sizeof(t->tent[0]));
    t->n_tent--;
}

/* Track confirmation. With no live track, a candidate below
 * acquire_min_confidence starts one only when it and its successors follow
 * one path: each weak candidate opens a tentative hypothesis (the track's
 * filter seeded there), which takes in each later frame the cheapest
 * candidate inside its gate (gate_chi2 around its prediction). The detector
 * misses a small ball often, so a frame without one is not the end: the
 * hypothesis is predicted through it, and only closes when
 * acquire_window_frames have passed since its first sighting without
 * acquire_frames sightings. It is confirmed with acquire_frames sightings
 * spanning at least acquire_frames - 1 frames at the reference rate, so that
 * a faster camera (more frames, more sightings of the same look-alike) does
 * not confirm sooner. A lone weak false positive (a sock, a bench, a line
 * crossing) never gets a track, nor do ones scattered in time or space; the
 * ball is taken a few frames late. Tentative hypotheses are not reported (the
 * state stays LOST). Returns the index of the candidate whose hypothesis is
 * confirmed in this frame, with the track's filter set to it, *since to its
 * first sighting and *sightings to their count, or -1. */
static int confirm_acquisition(ft_tracker *t, double time, double prev_t,
                               const ft_track_candidate *cands, int n, double *since,
                               int *sightings)
{
    const ft_tracker_params *p = &t->p;
    const double inv = 1.0 / t->scale;
    const double q = p->process_noise * pow(FT_TRACK_REF_FPS, 5);
    const double window = ref_frames_s(p->acquire_window_frames) + TIME_EPS;
    /* A hypothesis whose window closed without confirmation ends. */
    for (int h = 0; h < t->n_tent;) {
        if (time - t->tent[h].since > window)
            tentative_remove(t, h);
        else
            h++;
    }
    /* Each hypothesis picks its cheapest candidate inside the gate around its
     * prediction (the association cost of a live track). */
    ft_track_kalman pred[TENTATIVE_MAX];
    for (int h = 0; h < t->n_tent; h++) {
        tentative *e = &t->tent[h];
        pred[h] = e->kf;
        ft_track_kalman_predict(&pred[h], time - e->last_t, q);
        e->cand = -1;
        double best = INFINITY;
        for (int i = 0; i < n; i++) {
            const ft_track_candidate *c = &cands[i];
            if (!cand_valid(c) || c->score < p->min_confidence)
                continue;
            const double x = c->x * inv, y = c->y * inv;
            if (!acquirable(t, x, y))
                continue;
            const double d2 = ft_track_kalman_distance2(&pred[h], x, y, meas_noise(t, c->score));
            const double cost = d2 - 2.0 * log(fmax(c->score, 1e-6));
            if (d2 <= p->gate_chi2 && cost < best) {
                best = cost;
                e->cand = i;
            }
        }
        e->bridged = e->cand >= 0 && e->last_t < prev_t - TIME_EPS;
    }
    /* Two hypotheses on one candidate are one. The better established stays:
     * more sightings, then seen in the previous frame, then older; a gate
     * grown wide over missed frames must not end a path seen frame after
     * frame. */
    bool drop[TENTATIVE_MAX] = {false};
    for (int h = 0; h < t->n_tent; h++) {
        const tentative *e = &t->tent[h];
        for (int k = 0; k < h && e->cand >= 0; k++) {
            const tentative *o = &t->tent[k];
            if (drop[k] || o->cand != e->cand)
                continue;
            const bool better =
                e->hits > o->hits || (e->hits == o->hits && o->bridged && !e->bridged);
            drop[better ? k : h] = true;
            break;
        }
    }
    int kept = 0;
    for (int h = 0; h < t->n_tent; h++) {
        tentative *e = &t->tent[h];
        if (drop[h])
            continue;
        if (e->cand >= 0) {
            const ft_track_candidate *c = &cands[e->cand];
            e->kf = pred[h];
            ft_track_kalman_update(&e->kf, c->x * inv, c->y * inv, meas_noise(t, c->score));
            e->last_t = time;
            e->hits++;
        }
        t->tent[kept++] = *e;
    }
    t->n_tent = kept;
    /* Every other candidate opens a hypothesis, the most confident first. So
     * does one that a hypothesis took after missed frames: its gate had grown
     * wide by then (a single sighting says nothing of the velocity), so the
     * candidate may well be the start of another path. */
    for (;;) {
        int pick = -1;
        for (int i = 0; i < n; i++) {
            const ft_track_candidate *c = &cands[i];
            if (!cand_valid(c) || c->score < p->min_confidence ||
                !acquirable(t, c->x * inv, c->y * inv) ||
                (pick >= 0 && c->score <= cands[pick].score))
                continue;
            bool taken = false;
            for (int k = 0; k < t->n_tent && !taken; k++)
                taken = t->tent[k].cand == i && !t->tent[k].bridged;
            if (!taken)
                pick = i;
        }
        if (pick < 0)
            break;
        if (t->n_tent == TENTATIVE_MAX) {
            /* Full: the hypothesis seen least recently (before this frame)
             * gives way; none does when all were seen now. */
            int old = -1;
            for (int k = 0; k < t->n_tent; k++)
                if (t->tent[k].cand < 0 && (old < 0 || t->tent[k].last_t < t->tent[old].last_t))
                    old = k;
            if (old < 0)
                break;
            tentative_remove(t, old);
        }
        tentative *e = &t->tent[t->n_tent++];
        ft_track_kalman_init(
            &e->kf, cands[pick].x * inv, cands[pick].y * inv, meas_noise(t, cands[pick].score),
            p->init_velocity_std * p->init_velocity_std, p->init_accel_std * p->init_accel_std);
        e->since = e->last_t = time;
        e->cand = pick;
        e->hits = 1;
        e->bridged = false;
    }
    /* The oldest hypothesis seen now with enough sightings over long enough
     * wins (hypotheses are in order of age). */
    for (int h = 0; h < t->n_tent; h++) {
        const tentative *e = &t->tent[h];
        if (e->cand >= 0 && e->hits >= p->acquire_frames &&
            time - e->since >= ref_frames_s(p->acquire_frames - 1) - TIME_EPS) {
            t->kf = e->kf;
            t->q_factor = 1.0;
            *since = e->since;
            *sightings = e->hits;
            return e->cand;
        }
    }
    return -1;
}

/* Chaos is the reaction to erratic evidence (the spec's "multiple false
 * positives, rapid camera movement, model confusion"), not to one outlier:
 * a single confident false positive in a frame where the ball was missed is
 * just rejected by the gate. A huge jump (a confident candidate more than
 * chaos_jump_px from the prediction that the track cannot take, or a reseed
 * that far) counts as erratic only when it is also out of a fast ball's reach
 * of the previous jump (when that one is recent, within the window): far
 * sightings that stay consistent are one object seen again (a cut, which
 * confirm_relocation follows), not confusion.
 * Returns true when chaos_jump_count erratic jumps fell within
 * chaos_window_frames. */
static bool note_jump(ft_tracker *t, double time, const ft_track_candidate *cands, int n,
                      int jumper)
{
    const ft_tracker_params *p = &t->p;
    const double inv = 1.0 / t->scale;
    double x = cands[jumper].x * inv, y = cands[jumper].y * inv;
    const double gap = time - t->jump_last_t;
    bool consistent = false;
    if (t->jump_n > 0 && gap <= ref_frames_s(p->chaos_window_frames) + TIME_EPS) {
        /* Any confident candidate of this frame within reach of the previous
         * jump continues it (the most confident one may be a false positive
         * beside the ball). */
        const double reach = p->max_ball_speed_px * FT_TRACK_REF_FPS * gap;
        double best = INFINITY;
        for (int i = 0; i < n; i++) {
            if (!cand_valid(&cands[i]) || cands[i].score < p->min_confidence)
                continue;
            const double cx = cands[i].x * inv, cy = cands[i].y * inv;
            const double d = hypot(cx - t->jump_x, cy - t->jump_y);
            if (d <= reach && d < best) {
                best = d;
                x = cx;
                y = cy;
                consistent = true;
            }
        }
    }
    t->jump_x = x;
    t->jump_y = y;
    t->jump_last_t = time;
    if (consistent)
        return false;
    t->st.stats.jumps++;
    t->jump_t[t->jump_head] = time;
    t->jump_head = (t->jump_head + 1) % FT_TRACK_CHAOS_JUMPS_MAX;
    if (t->jump_n < FT_TRACK_CHAOS_JUMPS_MAX)
        t->jump_n++;
    if (t->jump_n < p->chaos_jump_count)
        return false;
    /* The oldest of the last chaos_jump_count jumps. */
    const int k =
        (t->jump_head - p->chaos_jump_count + FT_TRACK_CHAOS_JUMPS_MAX) % FT_TRACK_CHAOS_JUMPS_MAX;
    return time - t->jump_t[k] <= ref_frames_s(p->chaos_window_frames) + TIME_EPS;
}

static void start_chaos(ft_tracker *t, double time, double jump)
{
    const ft_tracker_params *p = &t->p;
    t->chaos = true;
    t->chaos_until = time + ref_frames_s(p->chaos_frames);
    t->lock = false;
    t->jump_n = 0;
    t->st.stats.chaos_starts++;
    FT_LOGW("track",
            "HUGE JUMP detected: %.0f px (limit %.0f), %d erratic jumps within %.2f s: chaos "
            "mode for %.1f s",
            jump * t->scale, p->chaos_jump_px * t->zoom * t->scale, p->chaos_jump_count,
            ref_frames_s(p->chaos_window_frames), ref_frames_s(p->chaos_frames));
}

/* Scene cuts and fast re-framing in the source move the ball far at once:
 * the spec's chaos rejects that as a huge jump for 4 s. A far candidate that
 * is seen again and again at a consistent place (within a fast ball's reach
 * from frame to frame) while nothing supports the track is the ball, not a
 * flicker of false positives: after relocate_frames the track restarts
 * there. Chaos itself runs its course (wide, smooth camera). Returns the
 * index of the candidate to restart at, or -1. */
static int confirm_relocation(ft_tracker *t, double time, const ft_track_candidate *cands, int n,
                              int top)
{
    const ft_tracker_params *p = &t->p;
    const double inv = 1.0 / t->scale;
    if (p->relocate_frames <= 0 || top < 0) {
        t->reloc = false;
        return -1;
    }
    int pick = -1;
    if (t->reloc) {
        /* The candidate nearest to the one being confirmed, if reachable. */
        const double reach = p->max_ball_speed_px * FT_TRACK_REF_FPS * (time - t->reloc_t);
        double best = INFINITY;
        for (int i = 0; i < n; i++) {
            if (!cand_valid(&cands[i]) || cands[i].score < p->min_confidence)
                continue;
            const double d = hypot(cands[i].x * inv - t->reloc_x, cands[i].y * inv - t->reloc_y);
            if (d <= reach && d < best) {
                best = d;
                pick = i;
            }
        }
    }
    if (pick < 0) {
        pick = top;
        t->reloc = true;
        t->reloc_since = time;
    }
    t->reloc_x = cands[pick].x * inv;
    t->reloc_y = cands[pick].y * inv;
    t->reloc_t = time;
    if (time - t->reloc_since < ref_frames_s(p->relocate_frames) - TIME_EPS)
        return -1;
    t->reloc = false;
    return pick;
}

/* Ends the track at `time` (the log gives the missed time). */
static void lose_track(ft_tracker *t, double time)
{
    t->has_track = false;
    t->lock = false;
    t->stable_timing = false;
    t->st.stats.losses++;
    FT_LOGW("track", "Track lost: %ld frames (%.2f s) without detection",
            frames_at_ref(time - t->t_last_hit), time - t->t_last_hit);
}

/* Stability lock: slow ball (the spec's "movement < 5 px/frame") for the
 * configured duration engages it; a faster ball or a missed frame releases it. */
static void update_lock(ft_tracker *t, double time)
{
    const double speed = hypot(t->kf.s[0][1], t->kf.s[1][1]); /* reference px/s */
    const double thr = t->p.stability_motion_px * FT_TRACK_REF_FPS;
    if (t->lock) {
        if (speed > LOCK_EXIT_FACTOR * thr) {
            t->lock = false;
            t->stable_timing = false;
        }
        return;
    }
    if (speed >= thr) {
        t->stable_timing = false;
        return;
    }
    if (!t->stable_timing) {
        t->stable_timing = true;
        t->stable_since = time;
    }
    if (time - t->stable_since >= ref_frames_s(t->p.stability_frames) - TIME_EPS)
        t->lock = true;
}

static void fill_state(ft_tracker *t, double time)
{
    ft_track_state *s = &t->st;
    s->t = time;
    s->is_tracking = t->has_track;
    s->chaos = t->chaos;
    s->stability_lock = t->lock;
    if (t->has_track) {
        t->last_x = t->kf.s[0][0];
        t->last_y = t->kf.s[1][0];
        s->vx = (float)(t->kf.s[0][1] * t->scale);
        s->vy = (float)(t->kf.s[1][1] * t->scale);
        s->ax = (float)(t->kf.s[0][2] * t->scale);
        s->ay = (float)(t->kf.s[1][2] * t->scale);
        s->pos_std = (float)(ft_track_kalman_pos_std(&t->kf) * t->scale);
    } else {
        /* Lost: the last estimate stays where it was; nothing is extrapolated
         * and no position is invented. */
        s->vx = s->vy = s->ax = s->ay = 0.0f;
    }
    s->x = (float)(t->last_x * t->scale);
    s->y = (float)(t->last_y * t->scale);
    s->velocity_magnitude = hypotf(s->vx, s->vy);
    s->stats.frames++;
    s->stats.mode_frames[s->mode]++;
    s->stats.chaos_frames += t->chaos;
    s->stats.lock_frames += t->lock;
}

ft_status ft_tracker_update(ft_tracker *t, double time, const ft_track_candidate *cands, int n,
                            ft_track_state *out)
{
    if (!t || n < 0 || (n > 0 && !cands) || !isfinite(time) || (t->has_time && time < t->t_prev)) {
        FT_LOGE("track", "tracker update: invalid arguments (t=%g after %g, %d candidates)", time,
                t ? t->t_prev : 0.0, n);
        return FT_ERR_INVALID;
    }
    const ft_tracker_params *p = &t->p;
    ft_track_state *s = &t->st;
    const double dt = t->has_time ? time - t->t_prev : 0.0;
    const double inv = 1.0 / t->scale;
    t->has_time = true;
    t->t_prev = time;
    if (dt > 0.0 && t->dt_prev <= 0.0)
        t->dt_prev = dt;
    s->new_track = false;
    s->measured = false;
    s->candidate = -1;

    if (t->chaos && time >= t->chaos_until - TIME_EPS) {
        t->chaos = false;
        FT_LOGI("track", "chaos mode ended");
    }
    if (t->has_track) {
        /* Q is a density per second (scaled from the per-frame base), so the
         * prediction is the same at any frame rate. */
        double qf = p->adaptive_noise ? t->q_factor : 1.0;
        if (s->lost_frames > 0)
            qf = fmax(qf, p->recovering_noise_factor);
        const double q = p->process_noise * pow(FT_TRACK_REF_FPS, 5) * qf;
        /* A ball that is not seen does not keep accelerating: the
         * acceleration state is what the last kick or bounce left, and
         * extrapolating it runs the prediction (and the camera) off the
         * pitch within a few frames of coasting. Predict at constant
         * velocity until the next measurement. */
        if (s->lost_frames > 0)
            t->kf.s[0][2] = t->kf.s[1][2] = 0.0;
        ft_track_kalman_predict(&t->kf, dt, q);
        t->q_factor = 1.0 + (t->q_factor - 1.0) * exp(-dt / Q_DECAY_S);
        /* Missed time is counted in whole frames: the gap to this frame less
         * one frame period. A frame after exactly max_lost_frames missed ones
         * may still continue the track, at any frame rate. A stall in the
         * input (no frames at all) counts as missed time too. */
        if (time - t->t_last_hit >
            ref_frames_s(p->max_lost_frames) + fmin(dt, t->dt_prev) + TIME_EPS)
            lose_track(t, time);
    }

    /* Association over the whole list: every confident candidate is tested
     * against the mode's acceptance rule and the cheapest accepted one wins;
     * the cost adds distance (Mahalanobis) and confidence (-2 ln score). */
    int best = -1, top = -1;
    double best_cost = INFINITY, best_r = 0.0;
    bool best_reseed = false;
    for (int i = 0; i < n; i++) {
        const ft_track_candidate *c = &cands[i];
        if (!cand_valid(c))
            continue;
        if (c->score < p->min_confidence) {
            s->stats.low_confidence++;
            continue;
        }
        if (top < 0 || c->score > cands[top].score)
            top = i;
        const double x = c->x * inv, y = c->y * inv;
        const double r = meas_noise(t, c->score);
        bool ok, reseed = false;
        double cost;
        if (t->has_track) {
            double d2;
            ok = accept_tracked(t, c, x, y, r, time, &d2, &reseed);
            cost = d2 - 2.0 * log(fmax(c->score, 1e-6));
        } else if (c->score < p->acquire_min_confidence && !near_lost_track(t, x, y)) {
            continue; /* a weak one must be confirmed first (confirm_acquisition) */
        } else {
            /* Acquisition at once (a strong candidate, or a weak one where
             * the lost track was last seen): the most confident one. */
            ok = acquirable(t, x, y);
            cost = -c->score;
        }
        if (!ok) {
            s->stats.rejected++;
            continue;
        }
        if (cost < best_cost) {
            best_cost = cost;
            best = i;
            best_r = r;
            best_reseed = reseed;
        }
    }

    /* A confident candidate far from the prediction that the track cannot
     * take (or only by a reseed) is the spec's "huge jump"; several erratic
     * ones in a short window start chaos: distrust detections for a while. */
    /* A weak candidate a recovering track refused is no evidence of chaos. */
    const bool weak_top =
        top >= 0 && s->lost_frames > 0 && cands[top].score < p->recovering_min_confidence;
    const int jumper = best < 0 ? (weak_top ? -1 : top) : best_reseed ? best : -1;
    if (jumper >= 0 && t->has_track && !t->chaos) {
        const double jx = cands[jumper].x * inv, jy = cands[jumper].y * inv;
        const double jump = hypot(jx - t->kf.s[0][0], jy - t->kf.s[1][0]);
        /* chaos_jump_px is stated for a ball of ordinary size (at most
         * ball_size_px at 1080p: a wide or broadcast shot). Zoomed in (a
         * close-up, a phone near play) the ball's own path per frame is
         * larger by the zoom: a kick that moves a 10-px ball 40 px a frame
         * moves a 60-px ball 240 px, the filter runs behind it and three such
         * "huge jumps" started chaos on the ball itself. So the jump is
         * measured against chaos_jump_px times the apparent-size factor. The
         * other pixel parameters stay (docs/tracking.md, "Apparent ball
         * size"): scaled, max_ball_speed_px and chaos_radius_px let far or
         * weak false positives restart a track, and Q and R made the camera
         * jerkier, with nothing gained on the close-ups. */
        if (jump > p->chaos_jump_px * t->zoom && note_jump(t, time, cands, n, jumper)) {
            start_chaos(t, time, jump);
            if (best >= 0) {
                /* The reseed that completed the evidence is itself suspect. */
                best = -1;
                s->stats.rejected++;
            }
        }
    }

    /* No track and no candidate confident enough to start one at once: a
     * weak one followed for acquire_frames does. */
    double since = time;
    int sightings = 1;
    bool confirmed = false;
    if (!t->has_track && best < 0) {
        best = confirm_acquisition(t, time, time - dt, cands, n, &since, &sightings);
        confirmed = best >= 0;
        if (confirmed)
            best_r = meas_noise(t, cands[best].score);
    }

    /* Nothing fits the track (or, in chaos, a new one) but a confident
     * candidate is there: it may be the ball after a cut. */
    if (best < 0 && top >= 0 && (t->has_track || t->chaos)) {
        best = confirm_relocation(t, time, cands, n, top);
        if (best >= 0) {
            best_r = meas_noise(t, cands[best].score);
            best_reseed = false;
            t->has_track = false; /* start_track below */
            s->stats.relocations++;
            FT_LOGW("track", "ball confirmed at (%.0f, %.0f) far from the track: track moved",
                    cands[best].x, cands[best].y);
        }
    } else {
        t->reloc = false;
    }

    const ft_track_mode prev_mode = s->mode;
    if (best >= 0) {
        const ft_track_candidate *c = &cands[best];
        const double x = c->x * inv, y = c->y * inv;
        if (confirmed) {
            s->stats.confirmed++;
            start_track(t, since, sightings);
        } else if (!t->has_track) {
            seed_filter(t, x, y, 0.0, 0.0, best_r);
            start_track(t, time, 1);
        } else if (best_reseed ||
                   (s->lost_frames > 0 &&
                    hypot(x - t->kf.s[0][0], y - t->kf.s[1][0]) > p->chaos_jump_px)) {
            /* At rest: the velocity implied by the last detection and this
             * one is wrong whenever this one is a false positive, and then
             * runs the prediction and the camera away; the next detection
             * gives the velocity (init_velocity_std lets it). The same for a
             * huge jump that the covariance grown while coasting let through
             * the gate: as an innovation it becomes a velocity of thousands
             * of px/s that carries the prediction out of the frame. */
            seed_filter(t, x, y, 0.0, 0.0, best_r);
            t->streak_start = time;
        } else {
            if (s->lost_frames > 0)
                t->streak_start = time;
            const double nis = ft_track_kalman_update(&t->kf, x, y, best_r);
            /* A large innovation means the ball manoeuvred (kick, bounce):
             * raise Q at once so the filter follows, then let it decay. */
            const double f = fmin(fmax(0.5 * nis, 1.0), p->process_noise_max_factor);
            t->q_factor = fmax(t->q_factor, f);
        }
        t->t_last_hit = time;
        t->meas_x = x;
        t->meas_y = y;
        t->box_w = c->w * inv;
        t->box_h = c->h * inv;
        note_size(t, t->box_w, t->box_h);
        s->lost_frames = 0;
        s->measured = true;
        s->candidate = best;
        s->stats.accepted++;
        s->mode = time - t->streak_start >= ref_frames_s(p->normal_min_frames) - TIME_EPS
                      ? FT_TRACK_NORMAL
                      : FT_TRACK_ACQUIRING;
        update_lock(t, time);
    } else {
        s->lost_frames++;
        t->lock = false;
        t->stable_timing = false;
        if (t->has_track && time - t->t_last_hit > ref_frames_s(p->max_lost_frames) + TIME_EPS)
            lose_track(t, time);
        if (t->has_track) {
            s->mode = time - t->t_last_hit <= ref_frames_s(p->recovering_frames) + TIME_EPS
                          ? FT_TRACK_RECOVERING
                          : FT_TRACK_COASTING;
            if (s->mode == FT_TRACK_COASTING && prev_mode != FT_TRACK_COASTING)
                FT_LOGW("track", "Extended tracking loss: %ld frames (%.2f s)",
                        frames_at_ref(time - t->t_last_hit), time - t->t_last_hit);
        } else {
            s->mode = FT_TRACK_LOST;
        }
    }
    if (dt > 0.0)
        t->dt_prev = dt;
    fill_state(t, time);
    if (out)
        *out = *s;
    return FT_OK;
}
