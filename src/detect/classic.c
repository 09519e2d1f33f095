/* The default (classical) ball detector; see classic.h and docs/detector.md.
 *
 * Per frame, on a copy box-downscaled to about work_width:
 *   1. global motion: the integer shift between this and the previous frame,
 *      from column and row intensity profiles (cheap, and robust on grass,
 *      whose mowing stripes give the profiles their shape);
 *   2. background: an approximate running median, shifted with the camera, so
 *      things brighter than the background are "moving" for static and
 *      panning cameras alike; a scene cut resets it; what stays put in the
 *      frame while the camera pans is learnt as a frame-fixed overlay
 *      (watermark, score bug) and is neither moving nor a ball;
 *   3. seeds: pixels clearly brighter than their neighbourhood (a blurred
 *      8x8-block mean), grouped into 8-connected blobs; blobs off the
 *      automatic pitch mask are skipped, and blobs that may hide a ball
 *      (touching a sock, rolling over a line, at a player's feet) are split
 *      again;
 *   4. each blob is scored: contrast, shape, size, motion and motion
 *      consistency, overlay, the ring around it, the grass farther out and
 *      above it;
 *      a softmax over the frame's blobs and a "no ball" option turns the
 *      logits into confidences.
 * Everything is allocated when the frame size changes, never per frame. */
#include "detect/classic.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "detect/classic_net.h"
#include "detect/filters.h"

enum {
    BLOCK = 8,          /* side of the blocks whose blurred means are the local background */
    MAX_FACTOR = 16,    /* keeps the 16-bit downscale accumulators from overflowing */
    MAX_BLOBS = 256,    /* scored blobs kept per frame (the best ones) */
    PREV_KEEP = 16,     /* candidates remembered for the next frame's consistency term */
    SIZE_BANDS = 8,     /* horizontal bands in which the ball size is learnt */
    RING_POINTS = 12,   /* samples on the ring around a blob */
    BG_TRUST_FRAMES = 8, /* frames of background history before motion counts */
    NET_TOP = 16,       /* candidates per frame the learned scorer looks at (classic_net.h) */
    NET_STILL_FRAMES = 30, /* ... once the camera has stood still this long (learned_stage) */
    NET_EARLY_FRAMES = 10, /* ... or this long since the clip began or a cut (net_startup) */
    NET_MIN_HEIGHT = 1080, /* ... in frames at least this tall (learned_stage) */
    RECENT_FRAMES = 10, /* frames the continuity prior remembers the ball (continuity_prior) */
    SEARCH_FRAMES = 30, /* frames local_search looks around the newest remembered ball */
    DUMP_TOP = 24       /* candidates per frame written by the training dump (FT_CLASSIC_DUMP) */
};

/* A scene cut: mean absolute difference (grey levels) between aligned frames. */
#define CUT_DIFF 40
/* Brighter than the background by this much: a moving pixel. */
#define FG_DIFF 14
/* While the camera pans, a pixel within this of the previous frame at the
 * same place stays put in the frame: not moving (an overlay). */
#define PAN_STILL 6
/* A frame-to-frame shift whose profile cost is below this share of the zero
 * shift's is the camera's pan (profile_shift). */
#define PAN_ACCEPT 0.85
/* Overlay learning (update_fixed) also takes a shift of at least
 * FIXED_PAN_MIN pixels below FIXED_PAN_ACCEPT: a big frame-fixed graphic
 * keeps the zero shift's cost low while the camera pans behind it (LaLiga's
 * score graphic: 4-7 px per frame at 0.87-0.94), and that pan is what teaches
 * update_fixed the graphic. Smaller loose shifts are left out: on the DFL
 * clip they taught the map a slowly followed candidate. */
#define FIXED_PAN_ACCEPT 0.95
#define FIXED_PAN_MIN 3

/* The continuity prior (continuity_prior): a candidate with this
 * confidence or more on its own merits (without the prior) is remembered as
 * the ball for RECENT_FRAMES; in the next frames, of the candidates the
 * network finds at least CONT_NET_MIN and that lie within CONT_RADIUS (a
 * share of the frame height: 12 px at 1080p, growing by itself every
 * CONT_GROW frames of age) of a remembered ball, the best is raised to a
 * confidence of FT_DETECT_CLASSIC_RAISE_CAP (classic.h; by at most
 * CONT_BOOST of logit). The cap sits under the tracker's
 * recovering_min_confidence (0.4) and acquire_min_confidence (0.5): such a
 * candidate is a measurement for a track that expects it there, never a
 * reason to jump to it; the pipeline warns when either is set at or under
 * it. */
#define CONT_MIN_CONF 0.3f
#define CONT_NET_MIN (-2.f)
#define CONT_RADIUS (1.f / 90.f)
#define CONT_GROW 5.f
#define CONT_BOOST 6.f
/* A candidate of local_search that the network finds at least this
 * ball-like is raised to FT_DETECT_CLASSIC_RAISE_CAP without the CONT_BOOST limit: its
 * hand-made logit (-8 to -15, the body around it) left it under 0.25 after
 * +6. Lower (-2) raised boots and socks beside the ball on wide-2. */
#define CONT_SEARCH_NET 0.f
/* After RECENT_FRAMES, local_search goes on around the newest remembered
 * ball for up to SEARCH_FRAMES (a ball at a dribbler's feet for a second),
 * and the continuity prior raises a candidate there only when the network
 * finds it at least CONT_SEARCH_NET plus this per frame of age beyond
 * RECENT_FRAMES: the older the memory, the wider the reach and the surer
 * the network must be. */
#define CONT_OLD_NET_STEP 0.1f
/* Of the candidates the continuity prior may raise, one within this share
 * of the frame height (8 px at 1080p) of where the newest remembered
 * ball's own velocity puts it now is preferred to the others, and raised
 * to FT_DETECT_CLASSIC_RAISE_CAP without the CONT_BOOST limit. The boots, socks and arms
 * beside a ball at a player's feet often have the better hand-made logit
 * and took the pick; the ball itself, picked, was left at 0.002-0.22
 * after +6, under the pipeline's 0.25. They lie beside the ball's path,
 * not on it (wide and night clips: of the raises the limit held down,
 * 95 within 8 px of the path were on the ball, 4 not; docs/detector.md,
 * "The predicted position (h41)"). */
#define CONT_PRED_RADIUS (1.f / 135.f)

/* Large balls (large_balls): a close-up or a phone near the play shows the
 * ball at 1/40 to 1/8 of the frame height, 4 to 20 times the prior, where
 * the seeds (brighter than the 8x8-block means around them) miss a big
 * ball's inside and the size prior costs it 2-4 octaves. The search runs on
 * the block means, a working frame 8 times coarser in which such a ball is
 * a few blocks across: a block brighter by LARGE_CONTRAST than a ring of
 * blocks around it, at any of the rings that fit (up to 1/16 of the
 * frame height in radius; the one with the best disc evidence is taken), is
 * a disc candidate; the pixels around it above a third of the way from the
 * ring to the block make its blob. Blobs under LARGE_MIN times the prior
 * (1/25 of the frame height) are left to the ordinary seeds: from 4 times,
 * referees' and players' torsos in the wide DFL and LaLiga shots became
 * candidates (chaos 19 and 38 %). Such a blob is scored with the hand-made features and no size
 * prior (it is at its own scale), plus LARGE_DISC times its disc evidence
 * (disc_score), set by hand: a disc tens of pixels across with grass all
 * round is far stronger evidence than the same features of a 3-px blob, and
 * without it the grass specks of a 480p phone clip (logit 0-2.4) outscored
 * the ball (-1.5 to -2.2). Blobs whose disc evidence is under
 * LARGE_DISC_MIN are dropped: without it, players' white shirts in a wide
 * shot (UCL) and the synthetic broadcast camera's players became
 * candidates of 0.3-1.0. */
#define LARGE_CONTRAST 20
#define LARGE_MIN 6.f
#define LARGE_DISC 5.f
#define LARGE_DISC_MIN 0.5f
/* A ball of the ordinary size seen with this confidence in the previous
 * frame means no close-up: large_balls does not run. On the synthetic
 * broadcast and cuts clips (held-out seeds 10 and 11) a white kit's shirt
 * and shorts, square and surrounded by grass, passed as a disc next to a
 * ball found at 0.8-0.94 and pulled it down in the frame's softmax. */
#define LARGE_SKIP 0.5f

/* What a blob's score is made of (see feature_weights). */
enum {
    /* cheap: from the blob's own pixels and the detector's state */
    F_BIAS,
    F_CONTRAST,   /* peak above the local background, 0..1 */
    F_ASPECT,     /* short side / long side of the bounding box */
    F_TALL,       /* log2(height / width) when taller than wide (players are) */
    F_FILL,       /* pixels / bounding-box area */
    F_MOTION,     /* share of the blob brighter than the background */
    F_SMALL,      /* octaves below the prior ball size */
    F_LARGE,      /* octaves above the prior ball size */
    F_SIZE_FIT,   /* agreement with the size learnt for this image row (0.5: unknown) */
    F_TRACK,      /* best confidence of a candidate of the previous frame near it */
    F_FIXED,      /* how much of the blob's outline is a frame-fixed overlay (update_fixed) */
    /* the ring around the blob (13 samples) */
    F_RING_DARK,  /* share of the ring darker than the blob */
    F_RING_GRASS, /* share of the ring that is grass-coloured */
    F_RING_FG,    /* share of the ring unlike the background (moving surroundings) */
    F_WHITE,      /* 1 for a neutral (white/grey) peak, 0 for a saturated one */
    /* farther out (17 samples) */
    F_OUTER,      /* share of a wider ring that is still grass (no player around) */
    F_ABOVE,      /* share of points above that are still grass (no body: not a sock) */
    F_PART,       /* 1 for a part of a larger blob (split_blob, motion_split, peak_split) */
    N_FEATURES
};

/* Weights of the logit of each blob. The confidences are a softmax over a
 * frame's blobs and a "no ball" option (a conditional logit model); the
 * weights were fitted by maximum likelihood on the synthetic generator's
 * wide, night and broadcast scenarios, seeds 1, 2 and 5-8, 300 frames each
 * (the ball: within 8 px of the truth), after peak_split was added.
 * The ring-dark, ring-grass and white weights and the bias were then
 * refitted, the others held, on the same clips as the pipeline sees them:
 * H.264-encoded (crf 20) and decoded. Chroma subsampling and compression
 * bleed the grass's colour into a ball only 2-3 chroma pixels wide, so the
 * whiteness of its peak, which the fit on raw frames leaned on (0.87 on raw
 * frames, 0.36 decoded), says little in any real video; the dark ring says
 * more. The bias sits 2 under its fitted value (-32.76) so that there are
 * fewer weak candidates than before, not more: more of them put the tracker
 * into chaos on real footage (docs/detector.md, "Why the ball is missed").
 * F_FIXED's is set, not fitted (the fitting footage has no overlays): a blob
 * whose outline is a learnt overlay loses 10, i.e. never scores. */
static const float feature_weights[N_FEATURES] = {
    -34.76f, 4.01f, 5.55f, -1.96f, 1.77f, 3.08f, -2.05f, -1.25f, 1.74f, 3.36f, -10.f, 9.33f, 5.54f, -0.63f, 1.37f, -0.24f, 6.28f, -2.62f,
};

typedef struct blob {
    int n, fg;                  /* pixels, moving pixels */
    int x0, y0, x1, y1;         /* bounding box, inclusive, working pixels */
    int peak, peak_x, peak_y;   /* brightest pixel */
    int local;                  /* local background at the peak */
    double sw, sx, sy;          /* contrast-weighted centroid sums */
    bool part;                  /* a part of a larger blob (split_blob) */
    bool large;                 /* made by large_balls: no size prior, not for the network */
    float bonus;                /* added to its hand-made logit: large_balls' disc evidence */
    bool searched;              /* made by local_search */
    bool judge;                 /* the learned scorer may judge it (learned_stage) */
    float cx, cy, diam, score;  /* set by score_blob: centroid, diameter, logit, then confidence */
    float hand;                 /* the hand-made features' logit (score_blob) */
    float net;                  /* the network's logit; -INFINITY until it has judged the blob */
    float boost;                /* what continuity_prior added to its logit (0: nothing) */
    float own;                  /* its confidence without that boost */
    float feat[N_FEATURES];     /* set by score_blob: the evidence behind the score */
} blob;

typedef struct prev_cand {
    float x, y;  /* working pixels, in the previous frame's view */
    float score; /* its confidence */
} prev_cand;

/* A frame's candidate confident on its own merits, for continuity_prior. */
typedef struct recent_ball {
    float x, y; /* working pixels */
    int frame;  /* c->frames when it was seen; -1: empty */
} recent_ball;

typedef struct classic {
    ft_detector base;
    ft_detect_classic_params p;
    ft_detect_filter *pitch; /* automatic pitch mask: blobs off the pitch are not scored */
    int fw, fh;    /* frame size the buffers are made for (0: none yet) */
    int f, w, h;   /* downscale factor, working size */
    int gw, gh;    /* block grid size */
    uint8_t *cur, *prev, *bg, *bg_tmp, *seed;
    uint8_t *fixed; /* per pixel: evidence of a frame-fixed overlay (see update_fixed) */
    uint8_t *ref;   /* update_fixed's reference frame */
    int ref_frame;  /* c->frames when ref was taken */
    bool panned;    /* the camera moved since the previous frame */
    uint16_t *acc;  /* one row of f-row sums, w * f wide */
    uint16_t *hsum; /* acc summed over f neighbours */
    int32_t *colp, *prev_colp, *rowp, *prev_rowp;
    int32_t *blocksum;
    uint8_t *thr;  /* per block: seed threshold */
    uint8_t *thr_row; /* the thresholds of one block row, one per column */
    uint8_t *loc;  /* per block: local background */
    uint8_t *bmean; /* per block: its mean, the coarse frame of large_balls */
    int32_t *stack;
    blob *blobs;
    int frames, bg_age;
    int still_frames; /* frames since the camera last moved or the scene cut */
    prev_cand prev_c[PREV_KEEP];
    int n_prev;
    recent_ball recent[RECENT_FRAMES]; /* slot frames % RECENT_FRAMES (continuity_prior) */
    recent_ball last; /* the newest of them, kept SEARCH_FRAMES for local_search */
    recent_ball before; /* the one last replaced (-1: none): last's velocity */
    int search_age;   /* this frame's local_search: the age of last, 0 when it did not run */
    float size_avg[SIZE_BANDS];
    int size_n[SIZE_BANDS];
    bool small_ball; /* the previous frame had an ordinary candidate of LARGE_SKIP or more */
    float hand_floor; /* staged scoring stops a blob whose hand logit cannot reach this */
    float net_floor;  /* hand_floor while the learned scorer runs (net_active) */
    ft_classic_net_patch patch; /* the learned scorer's input and scratch */
    ft_classic_net_buf net_buf;
    FILE *dump;       /* training dump (FT_CLASSIC_DUMP), or NULL */
} classic;

static const char *const no_choices[] = {NULL};

const ft_option ft_detect_classic_options[] = {
    {"confidence", "Candidates of the default detector scoring below this are dropped.",
     FT_OPT_DOUBLE, offsetof(ft_detect_classic_params, confidence), "0.05", 0.0, 1.0, FT_OPT_HOT,
     NULL, no_choices},
    {"work_width", "Width (pixels) of the downscaled copy the default detector works on.",
     FT_OPT_INT, offsetof(ft_detect_classic_params, work_width), "960", 160, 4096, 0, NULL,
     no_choices},
    {"label", "Class id written into the default detector's detections.", FT_OPT_INT,
     offsetof(ft_detect_classic_params, label), "0", 0, 1000, 0, NULL, no_choices},
    FT_OPTION_END,
};

void ft_detect_classic_params_default(ft_detect_classic_params *p)
{
    /* The table is the single source of the defaults. */
    for (const ft_option *o = ft_detect_classic_options; o->key; o++) {
        char *end = NULL;
        double v = strtod(o->def, &end);
        if (o->type == FT_OPT_DOUBLE)
            *(double *)((char *)p + o->offset) = v;
        else
            *(int *)((char *)p + o->offset) = (int)v;
    }
}

static ft_status check_params(const ft_detect_classic_params *p)
{
    for (const ft_option *o = ft_detect_classic_options; o->key; o++) {
        double v = o->type == FT_OPT_DOUBLE ? *(const double *)((const char *)p + o->offset)
                                            : *(const int *)((const char *)p + o->offset);
        if (!(v >= o->min && v <= o->max)) {
            FT_LOGE("detect", "detector.%s = %g is out of range [%g, %g]", o->key, v, o->min,
                    o->max);
            return FT_ERR_CONFIG;
        }
    }
    return FT_OK;
}

static void free_buffers(classic *c)
{
    free(c->cur);
    free(c->prev);
    free(c->bg);
    free(c->bg_tmp);
    free(c->fixed);
    free(c->ref);
    free(c->seed);
    free(c->acc);
    free(c->hsum);
    free(c->colp);
    free(c->prev_colp);
    free(c->rowp);
    free(c->prev_rowp);
    free(c->blocksum);
    free(c->thr);
    free(c->thr_row);
    free(c->loc);
    free(c->bmean);
    free(c->stack);
    free(c->blobs);
    c->cur = c->prev = c->bg = c->bg_tmp = c->seed = c->thr = c->thr_row = c->loc = c->bmean = NULL;
    c->fixed = c->ref = NULL;
    c->acc = c->hsum = NULL;
    c->colp = c->prev_colp = c->rowp = c->prev_rowp = c->blocksum = c->stack = NULL;
    c->blobs = NULL;
    c->fw = c->fh = 0;
}

/* Empties the continuity prior's memory. */
static void forget_recent(classic *c)
{
    for (int i = 0; i < RECENT_FRAMES; i++)
        c->recent[i].frame = -1;
    c->last.frame = -1;
    c->before.frame = -1;
}

static void reset_history(classic *c)
{
    c->frames = 0;
    c->bg_age = 0;
    c->still_frames = 0;
    c->n_prev = 0;
    forget_recent(c);
    memset(c->size_avg, 0, sizeof(c->size_avg));
    memset(c->size_n, 0, sizeof(c->size_n));
    c->small_ball = false;
}

static ft_status alloc_buffers(classic *c, int fw, int fh)
{
    free_buffers(c);
    int f = fw / c->p.work_width;
    f = f < 1 ? 1 : (f > MAX_FACTOR ? MAX_FACTOR : f);
    c->f = f;
    c->w = fw / f;
    c->h = fh / f;
    c->gw = (c->w + BLOCK - 1) / BLOCK;
    c->gh = (c->h + BLOCK - 1) / BLOCK;
    size_t n = (size_t)c->w * c->h, g = (size_t)c->gw * c->gh;
    c->cur = malloc(n);
    c->prev = malloc(n);
    c->bg = malloc(n);
    c->bg_tmp = malloc(n);
    c->fixed = calloc(n, 1);
    c->ref = malloc(n);
    c->seed = malloc(n);
    c->acc = malloc((size_t)c->w * f * sizeof(*c->acc));
    c->hsum = malloc((size_t)c->w * f * sizeof(*c->hsum));
    c->colp = malloc((size_t)c->w * sizeof(int32_t));
    c->prev_colp = malloc((size_t)c->w * sizeof(int32_t));
    c->rowp = malloc((size_t)c->h * sizeof(int32_t));
    c->prev_rowp = malloc((size_t)c->h * sizeof(int32_t));
    c->blocksum = malloc(g * sizeof(int32_t));
    c->thr = malloc(g);
    c->thr_row = malloc((size_t)c->w);
    c->loc = malloc(g);
    c->bmean = malloc(g);
    c->stack = malloc(n * sizeof(int32_t));
    c->blobs = malloc(MAX_BLOBS * sizeof(blob));
    if (!c->cur || !c->prev || !c->bg || !c->bg_tmp || !c->fixed || !c->ref || !c->seed ||
        !c->acc || !c->hsum || !c->colp || !c->prev_colp || !c->rowp || !c->prev_rowp || !c->blocksum || !c->thr || !c->thr_row || !c->loc || !c->bmean ||
        !c->stack || !c->blobs) {
        free_buffers(c);
        return FT_ERR_NOMEM;
    }
    c->fw = fw;
    c->fh = fh;
    reset_history(c);
    FT_LOGI("detect", "default detector: %dx%d frames, working on %dx%d (1/%d)", fw, fh, c->w,
            c->h, f);
    return FT_OK;
}

/* The hot loops below work in fixed chunks of CHUNK elements: GCC's -O2
 * vectoriser only takes loops whose trip count needs no run-time checks, and
 * these loops carry most of the detector's per-pixel cost. */
enum { CHUNK = 32 };

static void widen_u8(uint16_t *restrict dst, const uint8_t *restrict src, int n)
{
    int i = 0;
    for (; i + CHUNK <= n; i += CHUNK)
        for (int k = 0; k < CHUNK; k++)
            dst[i + k] = src[i + k];
    for (; i < n; i++)
        dst[i] = src[i];
}

static void add_u8(uint16_t *restrict dst, const uint8_t *restrict src, int n)
{
    int i = 0;
    for (; i + CHUNK <= n; i += CHUNK)
        for (int k = 0; k < CHUNK; k++)
            dst[i + k] = (uint16_t)(dst[i + k] + src[i + k]);
    for (; i < n; i++)
        dst[i] = (uint16_t)(dst[i] + src[i]);
}

static void add_u16(uint16_t *restrict dst, const uint16_t *restrict src, int n)
{
    int i = 0;
    for (; i + CHUNK <= n; i += CHUNK)
        for (int k = 0; k < CHUNK; k++)
            dst[i + k] = (uint16_t)(dst[i + k] + src[i + k]);
    for (; i < n; i++)
        dst[i] = (uint16_t)(dst[i] + src[i]);
}

/* Box-downscales the luma plane into c->cur and fills the column and row
 * profiles (mean intensity x 16) used by the motion estimate. Rows are summed
 * first (c->acc), then runs of f neighbours (c->hsum, read every f-th). */
static void downscale(classic *c, const ft_image *im)
{
    const int f = c->f, w = c->w, h = c->h, wf = w * f;
    const uint32_t inv = 65536u / (uint32_t)(f * f);
    memset(c->colp, 0, (size_t)w * sizeof(int32_t));
    for (int oy = 0; oy < h; oy++) {
        uint8_t *out = c->cur + (size_t)oy * w;
        const uint8_t *src = im->data[0] + (size_t)oy * f * im->stride[0];
        if (f == 1) {
            memcpy(out, src, (size_t)w);
        } else {
            widen_u8(c->acc, src, wf);
            for (int r = 1; r < f; r++)
                add_u8(c->acc, src + (size_t)r * im->stride[0], wf);
            int nh = wf - f + 1;
            memcpy(c->hsum, c->acc, (size_t)nh * sizeof(uint16_t));
            for (int k = 1; k < f; k++)
                add_u16(c->hsum, c->acc + k, nh);
            for (int x = 0; x < w; x++)
                out[x] = (uint8_t)((c->hsum[x * f] * inv + 32768u) >> 16);
        }
        int32_t rs = 0;
        for (int x = 0; x < w; x++) {
            c->colp[x] += out[x];
            rs += out[x];
        }
        c->rowp[oy] = rs * 16 / w;
    }
    for (int x = 0; x < w; x++)
        c->colp[x] = c->colp[x] * 16 / h;
}

/* The shift d (|d| <= range) minimising the mean absolute difference between
 * cur[i] and prev[i - d] over their overlap, after removing each profile's
 * mean over that overlap; *ratio is its cost over the zero shift's (callers
 * take the shift only when that is clearly below 1, so noise does not drag a
 * static camera's background around). */
static int profile_shift(const int32_t *cur, const int32_t *prev, int n, int range, double *ratio)
{
    int best = 0;
    double best_cost = 0.0, zero_cost = 0.0;
    for (int d = -range; d <= range; d++) {
        int lo = d > 0 ? d : 0, hi = d < 0 ? n + d : n;
        if (hi - lo < n / 2)
            continue;
        int64_t sc = 0, sp = 0;
        for (int i = lo; i < hi; i++) {
            sc += cur[i];
            sp += prev[i - d];
        }
        int32_t off = (int32_t)((sc - sp) / (hi - lo));
        int64_t cost = 0;
        for (int i = lo; i < hi; i++)
            cost += labs((long)(cur[i] - prev[i - d] - off));
        double mc = (double)cost / (hi - lo);
        if (d == 0)
            zero_cost = mc;
        if (d == -range || mc < best_cost) {
            best_cost = mc;
            best = d;
        }
    }
    *ratio = zero_cost > 0.0 ? best_cost / zero_cost : 1.0;
    return best;
}

/* Mean absolute difference between cur and prev shifted by (dx, dy), on every
 * fourth row: tells a scene cut from a pan. */
static int aligned_diff(const classic *c, int dx, int dy)
{
    int64_t s = 0, cnt = 0;
    for (int y = 0; y < c->h; y += 4) {
        int py = y - dy;
        if (py < 0 || py >= c->h)
            continue;
        for (int x = 0; x < c->w; x++) {
            int px = x - dx;
            if (px < 0 || px >= c->w)
                continue;
            s += abs(c->cur[(size_t)y * c->w + x] - c->prev[(size_t)py * c->w + px]);
            cnt++;
        }
    }
    return cnt ? (int)(s / cnt) : 255;
}

/* Moves the background with the camera; uncovered pixels take the current
 * frame, so they never look like motion. */
static void shift_background(classic *c, int dx, int dy)
{
    for (int y = 0; y < c->h; y++) {
        uint8_t *dst = c->bg_tmp + (size_t)y * c->w;
        int sy = y - dy;
        if (sy < 0 || sy >= c->h) {
            memcpy(dst, c->cur + (size_t)y * c->w, (size_t)c->w);
            continue;
        }
        for (int x = 0; x < c->w; x++) {
            int sx = x - dx;
            dst[x] = sx >= 0 && sx < c->w ? c->bg[(size_t)sy * c->w + sx]
                                          : c->cur[(size_t)y * c->w + x];
        }
    }
    uint8_t *t = c->bg;
    c->bg = c->bg_tmp;
    c->bg_tmp = t;
}

/* Frame-fixed overlays (a broadcaster's watermark, a score bug, a feed's
 * logo) stay put in the frame while the camera pans, so against a background
 * shifted with the pan they look like motion, and their dots and letters
 * look like balls. On a panning frame at least FIXED_EVERY frames after the
 * reference frame, a pixel that matches the reference at the same place
 * (it stayed put in the frame) but not the previous frame at the place this
 * frame's pan brought it from is evidence of an overlay; the opposite is
 * evidence of the pitch; uniform areas give none. Asking the pixel to stay
 * put over several frames keeps a ball that the camera follows (drifting
 * slowly in the frame) from looking fixed. The evidence accumulates in
 * c->fixed: FIXED_UP per comparison for, FIXED_DOWN against, FIXED_DECAY
 * without; from FIXED_ON on (five comparisons, about 1.4 s of panning) a
 * pixel is treated as part of an overlay. The map survives pauses of the
 * pan and scene cuts, as overlays do; it is cleared with the frame size. */
enum { FIXED_EVERY = 8, FIXED_UP = 32, FIXED_DOWN = 96, FIXED_DECAY = 8, FIXED_ON = 160 };
/* Overlay evidence that keeps a blob from the learned scorer (net_domain). */
enum { NET_FIXED_GATE = 3 * FIXED_UP };

/* One row of update_fixed: `same` is the reference at the same place, `from`
 * the previous frame at the place the pan brought each pixel from. */
static void fixed_row(uint8_t *restrict fx, const uint8_t *restrict cur,
                      const uint8_t *restrict same, const uint8_t *restrict from, int n)
{
    for (int i = 0; i < n; i++) {
        int u = abs(cur[i] - same[i]), a = abs(cur[i] - from[i]);
        int v = fx[i];
        if (3 * u + 12 <= a)
            v = v + FIXED_UP > 255 ? 255 : v + FIXED_UP;
        else if (3 * a + 12 <= u)
            v = v < FIXED_DOWN ? 0 : v - FIXED_DOWN;
        else
            v = v < FIXED_DECAY ? 0 : v - FIXED_DECAY;
        fx[i] = (uint8_t)v;
    }
}

/* Learns c->fixed on a panning frame (the camera moved by (dx, dy) since the
 * previous frame) at least FIXED_EVERY frames after the reference, then
 * makes this frame the reference; the first frame of a shot is one too. */
static void update_fixed(classic *c, int dx, int dy)
{
    const int w = c->w;
    if (c->frames > 0) {
        if (c->frames - c->ref_frame < FIXED_EVERY || !(dx || dy))
            return;
        const int x0 = dx > 0 ? dx : 0, x1 = dx < 0 ? w + dx : w;
        for (int y = 0; y < c->h; y++) {
            int py = y - dy;
            if (py < 0 || py >= c->h)
                continue;
            const uint8_t *cur = c->cur + (size_t)y * w, *same = c->ref + (size_t)y * w;
            const uint8_t *from = c->prev + (size_t)py * w - dx;
            fixed_row(c->fixed + (size_t)y * w + x0, cur + x0, same + x0, from + x0, x1 - x0);
        }
    }
    memcpy(c->ref, c->cur, (size_t)w * c->h);
    c->ref_frame = c->frames;
}

/* Frame-fixed overlay pixels in the blob's box, one pixel wider on each
 * side, against the length of that box's outline: overlay evidence lies on
 * edges (0: none, 1: as many as a fully fixed outline). */
static float fixed_share(const classic *c, const blob *b)
{
    int x0 = b->x0 > 0 ? b->x0 - 1 : 0, y0 = b->y0 > 0 ? b->y0 - 1 : 0;
    int x1 = b->x1 < c->w - 1 ? b->x1 + 1 : b->x1, y1 = b->y1 < c->h - 1 ? b->y1 + 1 : b->y1;
    int on = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            on += c->fixed[(size_t)y * c->w + x] >= FIXED_ON;
    return (float)on / (float)(2 * (x1 - x0 + y1 - y0));
}

/* bg[i] steps towards cur[i] by at most `step`, with saturating byte
 * differences so that it vectorises. */
static void step_towards(uint8_t *restrict bg, const uint8_t *restrict cur, int n, uint8_t step)
{
    int i = 0;
    for (; i + CHUNK <= n; i += CHUNK)
        for (int k = 0; k < CHUNK; k++) {
            uint8_t cv = cur[i + k], bv = bg[i + k];
            uint8_t up = cv > bv ? (uint8_t)(cv - bv) : 0, dn = bv > cv ? (uint8_t)(bv - cv) : 0;
            up = up < step ? up : step;
            dn = dn < step ? dn : step;
            bg[i + k] = (uint8_t)(bv + up - dn);
        }
    for (; i < n; i++) {
        int d = cur[i] - bg[i];
        d = d > step ? step : (d < -step ? -step : d);
        bg[i] = (uint8_t)(bg[i] + d);
    }
}

/* out[i] = a[i] > b[i] */
static void greater_u8(uint8_t *restrict out, const uint8_t *restrict a,
                       const uint8_t *restrict b, int n)
{
    int i = 0;
    for (; i + CHUNK <= n; i += CHUNK)
        for (int k = 0; k < CHUNK; k++)
            out[i + k] = a[i + k] > b[i + k];
    for (; i < n; i++)
        out[i] = a[i] > b[i];
}

/* Approximate running median: each pixel steps towards the current frame. */
static void update_background(classic *c)
{
    step_towards(c->bg, c->cur, c->w * c->h, c->bg_age < 25 ? 8 : 2);
}

/* Local background per block (3x3-blurred block means) and the seed
 * threshold above it; then the seed map: 1 where a pixel clears it. */
static void make_seeds(classic *c)
{
    const int w = c->w, h = c->h, gw = c->gw, gh = c->gh;
    /* Block sums: each block row's columns summed first (c->acc, at most
     * 8 x 255), then runs of BLOCK columns. */
    for (int by = 0; by < gh; by++) {
        int y0 = by * BLOCK, y1 = y0 + BLOCK < h ? y0 + BLOCK : h;
        widen_u8(c->acc, c->cur + (size_t)y0 * w, w);
        for (int y = y0 + 1; y < y1; y++)
            add_u8(c->acc, c->cur + (size_t)y * w, w);
        int32_t *bs = c->blocksum + (size_t)by * gw;
        for (int bx = 0; bx < gw; bx++) {
            int32_t sum = 0;
            for (int x = bx * BLOCK; x < (bx + 1) * BLOCK && x < w; x++)
                sum += c->acc[x];
            bs[bx] = sum;
            int bw = (bx + 1) * BLOCK > w ? w - bx * BLOCK : BLOCK;
            c->bmean[(size_t)by * gw + bx] = (uint8_t)(sum / (bw * (y1 - y0)));
        }
    }
    for (int by = 0; by < gh; by++) {
        for (int bx = 0; bx < gw; bx++) {
            int64_t s = 0, cnt = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int y = by + dy, x = bx + dx;
                    if (y < 0 || y >= gh || x < 0 || x >= gw)
                        continue;
                    int bh = (y + 1) * BLOCK > h ? h - y * BLOCK : BLOCK;
                    int bw = (x + 1) * BLOCK > w ? w - x * BLOCK : BLOCK;
                    s += c->blocksum[(size_t)y * gw + x];
                    cnt += bh * bw;
                }
            int local = (int)(s / cnt);
            int t = local + 10 + local / 10;
            c->loc[(size_t)by * gw + bx] = (uint8_t)local;
            c->thr[(size_t)by * gw + bx] = (uint8_t)(t > 255 ? 255 : t);
        }
    }
    /* Seeds: each row against its block row's thresholds, spread to one
     * value per column. */
    for (int y = 0; y < h; y++) {
        if (y % BLOCK == 0) {
            const uint8_t *tr = c->thr + (size_t)(y / BLOCK) * gw;
            for (int x = 0; x < w; x++)
                c->thr_row[x] = tr[x / BLOCK];
        }
        greater_u8(c->seed + (size_t)y * w, c->cur + (size_t)y * w, c->thr_row, w);
    }
}

/* Whether working pixel i is moving: brighter than the background. While the
 * camera pans, a pixel with some evidence of a frame-fixed overlay that stays
 * put in the frame is not moving, however unlike the shifted background it
 * is: this holds an overlay down before update_fixed is sure of it. */
static bool moving(const classic *c, size_t i)
{
    return c->cur[i] > c->bg[i] + FG_DIFF &&
           (!c->panned || c->fixed[i] == 0 || abs(c->cur[i] - c->prev[i]) > PAN_STILL);
}

/* Seed map values: a seed not yet visited, visited, and the marks of the two
 * re-segmentations (split_blob, motion_split). */
enum { SEED = 1, VISITED = 2, SPLIT_SEED = 3, SPLIT_VISITED = 4, MOTION_SEED = 5, MOTION_VISITED = 6 };

/* Flood-fills the 8-connected pixels marked `from` around pixel `start`
 * (marking them `to`) and gathers their statistics. Returns false when the
 * blob is too large to be a ball, in which case it is still fully marked. */
static bool grow_blob(classic *c, int start, int max_side, uint8_t from, uint8_t to, blob *b)
{
    const int w = c->w, h = c->h;
    int top = 0;
    bool small = true;
    memset(b, 0, sizeof(*b));
    b->x0 = b->x1 = start % w;
    b->y0 = b->y1 = start / w;
    c->seed[start] = to;
    c->stack[top++] = start;
    while (top > 0) {
        int i = c->stack[--top];
        int x = i % w, y = i / w;
        /* The box grows for every pixel (motion_split needs all of a large
         * blob); the statistics only while the blob can still be a ball. */
        b->x0 = x < b->x0 ? x : b->x0;
        b->x1 = x > b->x1 ? x : b->x1;
        b->y0 = y < b->y0 ? y : b->y0;
        b->y1 = y > b->y1 ? y : b->y1;
        if (small) {
            int v = c->cur[i];
            int local = c->loc[(size_t)(y / BLOCK) * c->gw + x / BLOCK];
            double wt = v - local;
            b->n++;
            b->fg += moving(c, (size_t)i);
            b->sw += wt;
            b->sx += wt * x;
            b->sy += wt * y;
            if (v > b->peak) {
                b->peak = v;
                b->peak_x = x;
                b->peak_y = y;
                b->local = local;
            }
            small = b->x1 - b->x0 < max_side && b->y1 - b->y0 < max_side;
        }
        for (int dy = -1; dy <= 1; dy++) {
            int ny = y + dy;
            if (ny < 0 || ny >= h)
                continue;
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx;
                if (nx < 0 || nx >= w)
                    continue;
                int j = ny * w + nx;
                if (c->seed[j] == from) {
                    c->seed[j] = to;
                    c->stack[top++] = j;
                }
            }
        }
    }
    return b->x1 - b->x0 < max_side && b->y1 - b->y0 < max_side;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static int size_band(const classic *c, float y)
{
    int band = (int)(y * SIZE_BANDS / c->h);
    return band < 0 ? 0 : (band >= SIZE_BANDS ? SIZE_BANDS - 1 : band);
}

/* Whether the working pixel (x, y), clamped to the frame, is grass that
 * matches the background: part of the empty pitch rather than of a player. */
static bool still_grass(const classic *c, const ft_image *im, float fx, float fy)
{
    int x = (int)(fx + 0.5f), y = (int)(fy + 0.5f);
    x = x < 0 ? 0 : (x >= c->w ? c->w - 1 : x);
    y = y < 0 ? 0 : (y >= c->h ? c->h - 1 : y);
    size_t i = (size_t)y * c->w + x;
    if (abs(c->cur[i] - c->bg[i]) > FG_DIFF && c->bg_age >= BG_TRUST_FRAMES)
        return false;
    if (im->format == FT_PIX_GRAY8)
        return c->cur[i] < c->loc[(size_t)(y / BLOCK) * c->gw + x / BLOCK] + FG_DIFF;
    uint8_t yuv[3];
    ft_detect_sample_yuv(im, x * c->f + c->f / 2, y * c->f + c->f / 2, yuv);
    return ft_detect_is_grass(yuv[0], yuv[1], yuv[2]);
}

/* Sum of weights * features over [from, to), and the most the features in
 * [to, N_FEATURES) can still add (all features but F_TALL, F_SMALL and
 * F_LARGE lie in [0, 1]; those three only ever lower the logit). */
static float partial_logit(const float *x, int from, int to, float *rest_max)
{
    float z = 0.f;
    for (int k = from; k < to; k++)
        z += feature_weights[k] * x[k];
    float rest = 0.f;
    for (int k = to; k < N_FEATURES; k++)
        rest += feature_weights[k] > 0.f ? feature_weights[k] : 0.f;
    *rest_max = rest;
    return z;
}

/* A blob whose final logit cannot reach this is never the ball (confidence
 * below 0.3 %, far under any useful threshold): scoring stops early, which
 * keeps crowded stands cheap. On frames where the learned scorer runs it
 * can add at most net_weight * net_clamp to the hand-made logit, so the
 * floor on the hand-made logit (c->hand_floor) then sits that much lower,
 * but never under HAND_FLOOR_MIN (the training dump's floor: lower ones
 * were never seen). */
#define LOGIT_FLOOR (-6.f)
#define HAND_FLOOR_MIN (-12.f)

static bool net_startup(const classic *c);
static bool near_recent(const classic *c, const blob *b);

/* The staged-scoring floor for blob b (centroid set). In the start-up
 * window the network judges only blobs near a remembered ball
 * (net_startup), so only those get the network's lower floor: the others
 * cannot be raised, and letting them into the frame's softmax lowered the
 * ball's confidence (tsukuba frames 21-26: 0.25-0.33 under the pipeline's
 * 0.25, the track started 8 frames later). */
static float blob_floor(const classic *c, const blob *b)
{
    return !c->dump && net_startup(c) && !near_recent(c, b) && c->hand_floor > -INFINITY
               ? fmaxf(c->hand_floor, LOGIT_FLOOR)
               : c->hand_floor;
}

/* Scores one blob: sets its centroid, diameter (working pixels), features
 * and hand-made logit (b->hand, and b->score until the learned scorer has
 * looked). Returns false, part-way through, for a blob whose hand logit
 * cannot reach c->hand_floor. The cheap features come first in the feature
 * order so the bound is tight before any pixel is sampled. */
static bool score_blob(const classic *c, const ft_image *im, blob *b)
{
    const int f = c->f;
    int bw = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
    float d = (float)(bw > bh ? bw : bh);
    b->cx = b->sw > 0 ? (float)(b->sx / b->sw) : (float)b->peak_x;
    b->cy = b->sw > 0 ? (float)(b->sy / b->sw) : (float)b->peak_y;
    b->diam = d;
    const float floor = blob_floor(c, b);
    float *x = b->feat;
    x[F_BIAS] = 1.f;

    x[F_PART] = b->part ? 1.f : 0.f;
    float contrast = (float)(b->peak - b->local);
    x[F_CONTRAST] = clampf((contrast - 8.f) / 40.f, 0.f, 1.f);
    x[F_ASPECT] = (float)(bw < bh ? bw : bh) / d;
    x[F_TALL] = bh > bw ? log2f((float)bh / (float)bw) : 0.f;
    x[F_FILL] = clampf((float)b->n / (float)(bw * bh), 0.f, 1.f);

    /* Moving: brighter than the background, unless it is a frame-fixed
     * overlay, which only looks moving against a background shifted with a
     * pan. */
    bool trusted = c->bg_age >= BG_TRUST_FRAMES;
    x[F_FIXED] = clampf(fixed_share(c, b), 0.f, 1.f);
    x[F_MOTION] = trusted ? (float)b->fg / (float)b->n * (1.f - x[F_FIXED]) : 0.3f;

    /* Size against a prior (about 1/150 of the frame height, in full-frame
     * pixels), and against what was learnt for this row once there is enough
     * of it: a ball is neither a speck nor a player. */
    float l = b->large ? 0.f : log2f(d * (float)f * 150.f / (float)c->fh);
    x[F_SMALL] = l < 0.f ? -l : 0.f;
    x[F_LARGE] = l > 0.f ? l : 0.f;
    x[F_SIZE_FIT] = 0.5f;
    int band = size_band(c, b->cy);
    if (c->size_n[band] >= 5) {
        float lf = logf(d / c->size_avg[band]);
        float sigma = d <= 3.f ? 0.8f : 0.45f;
        x[F_SIZE_FIT] = expf(-0.5f * lf * lf / (sigma * sigma));
    }

    /* The best confidence of a predecessor near it in the previous frame
     * (already moved with the camera): what was the ball a frame ago and is
     * still there ranks above flicker. */
    x[F_TRACK] = 0.f;
    float reach = (float)c->w / 30.f + 2.f;
    for (int i = 0; i < c->n_prev; i++) {
        float ddx = c->prev_c[i].x - b->cx, ddy = c->prev_c[i].y - b->cy;
        if (ddx * ddx + ddy * ddy <= reach * reach && c->prev_c[i].score > x[F_TRACK])
            x[F_TRACK] = c->prev_c[i].score;
    }
    float rest;
    float z = partial_logit(x, 0, F_RING_DARK, &rest) + b->bonus;
    if (z + rest < floor)
        return false;

    /* The ring just outside the blob: the ball is surrounded by darker grass
     * that stays put, while a sock, a shirt or a line fragment has the rest of
     * its player or line around it, which is bright, not grass, or moving. */
    bool colour = im->format != FT_PIX_GRAY8;
    float r = d * 0.5f + 1.5f;
    int ring_dark = 0, ring_grass = 0, ring_fg = 0;
    int dark_level = b->peak - (int)(contrast * 0.5f);
    /* cos and sin of k * 30 degrees */
    static const float ring_cos[RING_POINTS] = {1.f,   0.866f,  0.5f,  0.f, -0.5f, -0.866f,
                                                -1.f, -0.866f, -0.5f, 0.f, 0.5f,  0.866f};
    static const float ring_sin[RING_POINTS] = {0.f,  0.5f,  0.866f,  1.f,    0.866f, 0.5f,
                                                0.f, -0.5f, -0.866f, -1.f, -0.866f, -0.5f};
    int ring_idx[RING_POINTS];
    for (int k = 0; k < RING_POINTS; k++) {
        int px = (int)(b->cx + r * ring_cos[k] + 0.5f), py = (int)(b->cy + r * ring_sin[k] + 0.5f);
        px = px < 0 ? 0 : (px >= c->w ? c->w - 1 : px);
        py = py < 0 ? 0 : (py >= c->h ? c->h - 1 : py);
        size_t i = (size_t)py * c->w + px;
        ring_idx[k] = (int)i;
        ring_dark += c->cur[i] < dark_level;
        ring_fg += abs(c->cur[i] - c->bg[i]) > FG_DIFF;
    }
    x[F_RING_DARK] = (float)ring_dark / RING_POINTS;
    x[F_RING_FG] = trusted ? (float)ring_fg / RING_POINTS : 0.3f;
    /* The luma ring alone may already rule the blob out; the colour samples
     * cost more. */
    float z_luma = feature_weights[F_RING_DARK] * x[F_RING_DARK] +
                   feature_weights[F_RING_FG] * x[F_RING_FG];
    float rest_colour = 0.f;
    for (int k = F_RING_GRASS; k < N_FEATURES; k++)
        rest_colour += k != F_RING_FG && feature_weights[k] > 0.f ? feature_weights[k] : 0.f;
    if (z + z_luma + rest_colour < floor)
        return false;
    for (int k = 0; k < RING_POINTS && colour; k++) {
        uint8_t yuv[3];
        int px = ring_idx[k] % c->w, py = ring_idx[k] / c->w;
        ft_detect_sample_yuv(im, px * f + f / 2, py * f + f / 2, yuv);
        ring_grass += ft_detect_is_grass(yuv[0], yuv[1], yuv[2]);
    }
    x[F_RING_GRASS] = colour ? (float)ring_grass / RING_POINTS : 0.7f;
    x[F_WHITE] = 0.5f;
    if (colour) {
        uint8_t yuv[3];
        ft_detect_sample_yuv(im, b->peak_x * f + f / 2, b->peak_y * f + f / 2, yuv);
        int sat = abs(yuv[1] - 128) + abs(yuv[2] - 128);
        x[F_WHITE] = 1.f - clampf((float)sat / 40.f, 0.f, 1.f);
    }
    z += partial_logit(x, F_RING_DARK, F_OUTER, &rest);
    if (z + rest < floor)
        return false;

    /* Farther out: a wider ring, and the column above the blob's top edge,
     * where a sock's leg and shorts are. */
    float r2 = 2.f * r + 2.f;
    int outer = 0, above = 0;
    for (int k = 0; k < RING_POINTS; k++)
        outer += still_grass(c, im, b->cx + r2 * ring_cos[k], b->cy + r2 * ring_sin[k]);
    float s = d * 0.5f > 1.5f ? d * 0.5f : 1.5f, top = (float)b->y0 - 1.5f;
    float half = (float)(b->x1 - b->x0) * 0.5f + 1.f;
    above += still_grass(c, im, b->cx, top);
    above += still_grass(c, im, b->cx, top - s);
    above += still_grass(c, im, b->cx, top - 2.f * s);
    above += still_grass(c, im, b->cx - half, top - s);
    above += still_grass(c, im, b->cx + half, top - s);
    x[F_OUTER] = (float)outer / RING_POINTS;
    x[F_ABOVE] = (float)above / 5.f;
    z += partial_logit(x, F_OUTER, N_FEATURES, &rest);
    b->hand = z;
    b->score = z; /* a logit until classic_detect normalises the frame's blobs */
    return z >= floor;
}

static void learn_size(classic *c, float cy, float diam)
{
    int band = size_band(c, cy);
    if (c->size_n[band] == 0)
        c->size_avg[band] = diam;
    else
        c->size_avg[band] += 0.05f * (diam - c->size_avg[band]);
    c->size_n[band]++;
}

/* Adds a scored blob to the frame's list; when the list is full, it replaces
 * the weakest if it beats it. A blob of local_search (weak by its hand-made
 * logit, but there for the network) replaces the weakest other one. */
static void keep_blob(classic *c, const blob *b, int *nb)
{
    int slot = *nb;
    if (*nb == MAX_BLOBS) {
        slot = -1;
        for (int k = 0; k < *nb; k++)
            if (!c->blobs[k].searched && (slot < 0 || c->blobs[k].score < c->blobs[slot].score))
                slot = k;
        if (slot < 0 || (!b->searched && c->blobs[slot].score >= b->score))
            return;
    } else {
        (*nb)++;
    }
    c->blobs[slot] = *b;
}

/* Whether one of the frame's first nb candidates lies within 2 working
 * pixels of blob b. */
static bool near_candidate(const classic *c, const blob *b, int nb)
{
    for (int k = 0; k < nb; k++) {
        float dx = c->blobs[k].cx - b->cx, dy = c->blobs[k].cy - b->cy;
        if (dx * dx + dy * dy <= 4.f)
            return true;
    }
    return false;
}

/* A blob well over the expected ball size may be a ball touching a white sock
 * or another ball-sized bright thing. Re-segmented at a level between its
 * background and its peak, the dip between the two separates them; each part
 * is then scored as a candidate of its own (the whole blob was already). */
static void split_blob(classic *c, const ft_image *im, const blob *parent, int *nb)
{
    float expected = (float)c->fh / (150.f * (float)c->f);
    expected = expected < 2.f ? 2.f : expected;
    int bw = parent->x1 - parent->x0 + 1, bh = parent->y1 - parent->y0 + 1;
    if ((float)(bw > bh ? bw : bh) < 1.8f * expected || parent->n < 6)
        return;
    int level = parent->local + (parent->peak - parent->local) * 3 / 5;
    for (int y = parent->y0; y <= parent->y1; y++)
        for (int x = parent->x0; x <= parent->x1; x++) {
            size_t i = (size_t)y * c->w + x;
            if (c->seed[i] == VISITED && c->cur[i] >= level)
                c->seed[i] = SPLIT_SEED;
        }
    enum { MAX_PARTS = 4 };
    blob part[MAX_PARTS];
    int n_parts = 0;
    for (int y = parent->y0; y <= parent->y1; y++)
        for (int x = parent->x0; x <= parent->x1; x++) {
            int i = y * c->w + x;
            if (c->seed[i] != SPLIT_SEED)
                continue;
            blob b;
            grow_blob(c, i, bw > bh ? bw : bh, SPLIT_SEED, SPLIT_VISITED, &b);
            b.part = true;
            if (n_parts < MAX_PARTS)
                part[n_parts++] = b;
        }
    if (n_parts < 2)
        return;
    for (int k = 0; k < n_parts; k++)
        if (score_blob(c, im, &part[k]))
            keep_blob(c, &part[k], nb);
}

/* A ball rolling over a white line, or along a player's white kit, merges
 * with it into a blob too large or too odd to score well. The static part
 * (a line) matches the background and the ball does not: the pixels of the
 * blob clearly brighter than the background are grown again, and each part
 * much smaller than the blob becomes a candidate of its own. */
static void motion_split(classic *c, const ft_image *im, const blob *parent, bool large, int *nb)
{
    if (c->bg_age < BG_TRUST_FRAMES)
        return;
    float expected = (float)c->fh / (150.f * (float)c->f);
    expected = expected < 2.f ? 2.f : expected;
    int bw = parent->x1 - parent->x0 + 1, bh = parent->y1 - parent->y0 + 1;
    if ((!large && (float)(bw > bh ? bw : bh) < 1.8f * expected) ||
        (int64_t)bw * bh > (int64_t)c->w * c->h / 16)
        return;
    for (int y = parent->y0; y <= parent->y1; y++)
        for (int x = parent->x0; x <= parent->x1; x++) {
            size_t i = (size_t)y * c->w + x;
            if ((c->seed[i] == VISITED || c->seed[i] == SPLIT_VISITED) &&
                c->cur[i] > c->bg[i] + 2 * FG_DIFF)
                c->seed[i] = MOTION_SEED;
        }
    int max_side = (int)(2.f * expected) + 1, limit = large ? INT32_MAX : parent->n / 2;
    for (int y = parent->y0; y <= parent->y1; y++)
        for (int x = parent->x0; x <= parent->x1; x++) {
            int i = y * c->w + x;
            if (c->seed[i] != MOTION_SEED)
                continue;
            blob b;
            if (!grow_blob(c, i, max_side, MOTION_SEED, MOTION_VISITED, &b) || b.n > limit)
                continue;
            b.part = true;
            if (score_blob(c, im, &b))
                keep_blob(c, &b, nb);
        }
}

static const int ring_dir[8][2] = {{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}};

/* The ring radius (working pixels) of peak_split's test: one prior ball
 * radius out, rounded up. */
static int peak_radius(const classic *c)
{
    float expected = (float)c->fh / (150.f * (float)c->f);
    return (int)(expected * 0.5f + 1.5f);
}

/* Whether working pixel i is a local maximum (ties go to the first in
 * raster order). Kept apart from peak_candidate so that the loops over
 * whole player blobs stay cheap. */
static inline bool local_max(const classic *c, int i)
{
    int v = c->cur[i];
    for (int k = 0; k < 8; k++)
        if (v < c->cur[i + ring_dir[k][1] * c->w + ring_dir[k][0]] + (k < 4))
            return false;
    return true;
}

/* Whether the local maximum (x, y) (at least r from the border) is brighter
 * than every point of the 8-point ring r out by a margin, with at least
 * min_dark of those points clearly darker (grass); if so, makes a
 * ball-sized candidate of it, scores it and keeps it. */
static void peak_candidate(classic *c, const ft_image *im, int x, int y, int r, int min_dark,
                           bool searched, int *nb)
{
    int i = y * c->w + x;
    int v = c->cur[i];
    int local = c->loc[(size_t)(y / BLOCK) * c->gw + x / BLOCK];
    int margin = (v - local) / 6, mid = (v + local) / 2, dark = 0, ring_max = 0;
    for (int k = 0; k < 8; k++) {
        int u = c->cur[i + ring_dir[k][1] * r * c->w + ring_dir[k][0] * r];
        dark += u < mid;
        ring_max = u > ring_max ? u : ring_max;
    }
    if (dark < min_dark || ring_max > v - margin)
        return;
    int level = (v + ring_max + 1) / 2;
    blob b;
    memset(&b, 0, sizeof(b));
    b.x0 = b.x1 = x;
    b.y0 = b.y1 = y;
    b.peak = v;
    b.peak_x = x;
    b.peak_y = y;
    b.local = local;
    b.part = true;
    b.searched = searched;
    for (int yy = y - r + 1; yy < y + r; yy++)
        for (int xx = x - r + 1; xx < x + r; xx++) {
            size_t j = (size_t)yy * c->w + xx;
            if (c->cur[j] < level)
                continue;
            double wt = c->cur[j] - local;
            b.n++;
            b.fg += moving(c, j);
            b.sw += wt;
            b.sx += wt * xx;
            b.sy += wt * yy;
            b.x0 = xx < b.x0 ? xx : b.x0;
            b.x1 = xx > b.x1 ? xx : b.x1;
            b.y0 = yy < b.y0 ? yy : b.y0;
            b.y1 = yy > b.y1 ? yy : b.y1;
        }
    if (score_blob(c, im, &b) && !(searched && near_candidate(c, &b, *nb)))
        keep_blob(c, &b, nb);
}

/* A blob too large to be a ball may still hold one (a ball at a player's
 * feet or rolling over a line): too large to be scored. Inside it, the ball
 * is a local maximum brighter than everything on a ring one ball radius
 * out, with most of that ring (5 of 8 points) clearly darker (grass); a
 * point of a line or of a kit has bright ring points along the line or the
 * body. Each such peak becomes a ball-sized candidate of its own. */
static void peak_split(classic *c, const ft_image *im, const blob *parent, int *nb)
{
    int r = peak_radius(c);
    for (int y = parent->y0 > r ? parent->y0 : r; y <= parent->y1 && y < c->h - r; y++)
        for (int x = parent->x0 > r ? parent->x0 : r; x <= parent->x1 && x < c->w - r; x++)
            if (c->seed[y * c->w + x] == VISITED && local_max(c, y * c->w + x))
                peak_candidate(c, im, x, y, r, 5, false, nb);
}

/* Makes *b of the working pixels at least `level` within rad of (cx, cy);
 * local is the grass level around (its contrast). */
static void disc_blob(const classic *c, float cx, float cy, float rad, int level, int local,
                      blob *b)
{
    memset(b, 0, sizeof(*b));
    b->x0 = b->x1 = (int)cx;
    b->y0 = b->y1 = (int)cy;
    b->local = local;
    b->large = true;
    int x0 = (int)fmaxf(0.f, cx - rad), x1 = (int)fminf((float)c->w - 1, cx + rad),
        y0 = (int)fmaxf(0.f, cy - rad), y1 = (int)fminf((float)c->h - 1, cy + rad);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            float ddx = (float)x - cx, ddy = (float)y - cy;
            size_t j = (size_t)y * c->w + x;
            if (ddx * ddx + ddy * ddy > rad * rad || c->cur[j] < level)
                continue;
            double wt = c->cur[j] - local;
            b->n++;
            b->fg += moving(c, j);
            b->sw += wt;
            b->sx += wt * x;
            b->sy += wt * y;
            if (c->cur[j] > b->peak) {
                b->peak = c->cur[j];
                b->peak_x = x;
                b->peak_y = y;
            }
            b->x0 = x < b->x0 ? x : b->x0;
            b->x1 = x > b->x1 ? x : b->x1;
            b->y0 = y < b->y0 ? y : b->y0;
            b->y1 = y > b->y1 ? y : b->y1;
        }
}

/* How much blob b (of disc_blob at `level`) looks like a ball on grass,
 * 0..1. Along 16 rays from its box centre, the farthest pixel at least
 * `level` (a ball's dark panels do not end a ray) must lie at about the same
 * distance all round and short of 1.6 box radii (a line or a body goes on);
 * the second shortest against the second longest, so one ray through a
 * shaded edge does not decide (the 480p phone clip's ball, lit from one
 * side: 0.71-0.77 by the shortest, 0.85-0.9 so). A box taller than wide
 * counts squared: the synthetic players, 0.6-0.67 as wide as tall, scored
 * a disc otherwise, and a rolling ball's blur is mostly sideways. And the
 * ring of the rays at 1.3 times the longest must be darker grass, at 15 of
 * 16 points or more (a player's legs or head break it). */
enum { RAYS = 16 };
static const float ray_cos[RAYS] = {1.f,     0.924f,  0.707f,  0.383f, 0.f,    -0.383f,
                                    -0.707f, -0.924f, -1.f,    -0.924f, -0.707f, -0.383f,
                                    0.f,     0.383f,  0.707f,  0.924f};

/* Along RAYS rays from (cx, cy), the distance of the farthest working pixel
 * at least `level` within lim (ev). False when a ray leaves the frame or
 * such a pixel lies at its end: the bright thing goes on (a line, a body). */
static bool ray_extents(const classic *c, float cx, float cy, float lim, int level, float *ev)
{
    for (int k = 0; k < RAYS; k++) {
        float co = ray_cos[k], si = ray_cos[(k + 12) % RAYS], e = 0.f;
        for (float t = 1.f; t <= lim; t += 1.f) {
            int x = (int)(cx + t * co + 0.5f), y = (int)(cy + t * si + 0.5f);
            if (x < 0 || y < 0 || x >= c->w || y >= c->h)
                return false;
            if (c->cur[(size_t)y * c->w + x] >= level)
                e = t;
        }
        if (e >= lim - 1.f)
            return false;
        ev[k] = e;
    }
    return true;
}

static float disc_score(const classic *c, const ft_image *im, const blob *b, int level)
{
    float cx = (float)(b->x0 + b->x1) * 0.5f, cy = (float)(b->y0 + b->y1) * 0.5f;
    float r = (float)((b->x1 - b->x0) + (b->y1 - b->y0) + 2) * 0.25f, ev[RAYS];
    if (!ray_extents(c, cx, cy, 1.6f * r, level, ev))
        return 0.f;
    /* A disc leaves its box's corners to the grass; without this test an
     * emblem by DFL's bench (frame 66, 0.34) and a white kit in the
     * synthetic broadcast-11 (precision 99.1 instead of 99.8 %) passed. */
    float hw = (float)(b->x1 - b->x0) * 0.425f, hh = (float)(b->y1 - b->y0) * 0.425f;
    int corners = 0;
    for (int k = 0; k < 4; k++) {
        int x = (int)(cx + ((k & 1) ? hw : -hw) + 0.5f);
        int y = (int)(cy + ((k & 2) ? hh : -hh) + 0.5f);
        corners += c->cur[(size_t)y * c->w + x] < level;
    }
    if (corners < 3)
        return 0.f;
    for (int i = 1; i < RAYS; i++)
        for (int j = i; j > 0 && ev[j] < ev[j - 1]; j--) {
            float t = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = t;
        }
    int grass = 0;
    for (int k = 0; k < RAYS; k++) {
        float co = ray_cos[k], si = ray_cos[(k + 12) % RAYS], t = 1.3f * ev[RAYS - 1] + 1.f;
        int x = (int)(cx + t * co + 0.5f), y = (int)(cy + t * si + 0.5f);
        x = x < 0 ? 0 : (x >= c->w ? c->w - 1 : x);
        y = y < 0 ? 0 : (y >= c->h ? c->h - 1 : y);
        bool green = true;
        if (im->format != FT_PIX_GRAY8) {
            uint8_t yuv[3];
            ft_detect_sample_yuv(im, x * c->f + c->f / 2, y * c->f + c->f / 2, yuv);
            green = ft_detect_is_grass(yuv[0], yuv[1], yuv[2]);
        }
        grass += c->cur[(size_t)y * c->w + x] < level && green;
    }
    int bw = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
    float round = ev[RAYS - 2] > 0.f ? ev[1] / ev[RAYS - 2] : 0.f;
    round = fminf(round, bh > bw ? (float)(bw * bw) / (float)(bh * bh) : 1.f);
    return clampf((round - 0.45f) / 0.3f, 0.f, 1.f) *
           clampf(((float)grass / RAYS - 0.875f) * 8.f, 0.f, 1.f);
}

/* Balls 6 to 20 times the prior size (see LARGE_CONTRAST): a search on the
 * block means for bright discs on darker grass, each scored at its own
 * scale; the best of each place is kept. Not in the training dump: the
 * network never judges these (net_domain). */
static void large_balls(classic *c, const ft_image *im, int *nb)
{
    enum { LARGE_KEEP = 16 };
    const int gw = c->gw, gh = c->gh, rmax = c->h / (16 * BLOCK);
    const float min_side = LARGE_MIN * (float)c->fh / (150.f * (float)c->f);
    blob found[LARGE_KEEP];
    int n_found = 0;
    for (int by = 1; by + 1 < gh; by++)
        for (int bx = 1; bx + 1 < gw; bx++) {
            int m = c->bmean[(size_t)by * gw + bx];
            bool peak = true;
            for (int k = 0; k < 8 && peak; k++) {
                size_t j = (size_t)(by + ring_dir[k][1]) * gw + bx + ring_dir[k][0];
                peak = m >= c->bmean[j] + (k < 4);
            }
            float cx = (float)(bx * BLOCK) + BLOCK * 0.5f, cy = (float)(by * BLOCK) + BLOCK * 0.5f;
            if (!peak || !ft_detect_filter_allows(c->pitch, cx * (float)c->f, cy * (float)c->f,
                                                  c->fw, c->fh))
                continue;
            blob b;
            float best = 0.f;
            for (int rr = 1; rr <= rmax; rr++) {
                int ring_max = 0, sum = 0;
                bool inside = true;
                for (int k = 0; k < 8 && inside; k++) {
                    /* diagonals about as far as the sides */
                    int step = (k & 1) ? (rr * 3 + 3) / 4 + 1 : rr + 1;
                    int x = bx + ring_dir[k][0] * step, y = by + ring_dir[k][1] * step;
                    inside = x >= 0 && x < gw && y >= 0 && y < gh;
                    if (inside) {
                        int v = c->bmean[(size_t)y * gw + x];
                        ring_max = v > ring_max ? v : ring_max;
                        sum += v;
                    }
                }
                if (!inside)
                    break;
                if (ring_max + LARGE_CONTRAST > m)
                    continue;
                int local = sum / 8, level = local + (m - local) / 3;
                float rad = (float)((rr + 1) * BLOCK) - BLOCK * 0.5f, ev[RAYS];
                /* cheap first: what goes on past the ring is no ball */
                if (!ray_extents(c, cx, cy, 1.6f * rad, level, ev))
                    continue;
                /* around the centroid of the blocks above `level`: the
                 * brightest block of a ball lit from one side is off its
                 * centre */
                float sw = 0.f, sx = 0.f, sy = 0.f;
                for (int y = by - rr; y <= by + rr; y++)
                    for (int x = bx - rr; x <= bx + rr; x++) {
                        int v = c->bmean[(size_t)y * gw + x] - level;
                        if (v > 0) {
                            sw += (float)v;
                            sx += (float)(v * x);
                            sy += (float)(v * y);
                        }
                    }
                blob t;
                disc_blob(c, (sx / sw + 0.5f) * BLOCK, (sy / sw + 0.5f) * BLOCK, rad, level, local,
                          &t);
                float q = disc_score(c, im, &t, level);
                if (q > best) {
                    best = q;
                    b = t;
                }
            }
            if (best < LARGE_DISC_MIN)
                continue;
            int bw = b.x1 - b.x0 + 1, bh = b.y1 - b.y0 + 1;
            if ((float)(bw > bh ? bw : bh) < min_side)
                continue;
            b.bonus = LARGE_DISC * best;
            if (!score_blob(c, im, &b))
                continue;
            int same = -1;
            for (int k = 0; k < n_found && same < 0; k++) {
                float ddx = found[k].cx - b.cx, ddy = found[k].cy - b.cy, rr = found[k].diam * 0.5f;
                same = ddx * ddx + ddy * ddy <= rr * rr ? k : -1;
            }
            if (same >= 0 && b.score > found[same].score)
                found[same] = b;
            else if (same < 0 && n_found < LARGE_KEEP)
                found[n_found++] = b;
        }
    for (int k = 0; k < n_found; k++)
        keep_blob(c, &found[k], nb);
}

/* One candidate of the training dump (FT_CLASSIC_DUMP): fixed layout, read
 * by tools/classic_net/train_classic_net.py. */
typedef struct dump_record {
    float pts;                  /* the frame's timestamp, seconds */
    float cx, cy;               /* centre, full-frame pixels */
    float hand, net;            /* hand-made logit, the learned scorer's logit (0: not run) */
    int32_t rank;               /* rank by hand logit in the frame, 0 = best */
    int32_t frame_w, frame_h, n_features;
    float feat[N_FEATURES];
    ft_classic_net_patch patch;
} dump_record;
_Static_assert(sizeof(dump_record) == 4 + 16 + 16 + 4 * N_FEATURES + sizeof(ft_classic_net_patch),
               "dump_record has no padding");

static void dump_blob(classic *c, const blob *b, double pts_s, int rank, float net)
{
    dump_record r;
    memset(&r, 0, sizeof(r));
    r.pts = (float)pts_s;
    r.cx = (b->cx + 0.5f) * (float)c->f;
    r.cy = (b->cy + 0.5f) * (float)c->f;
    r.hand = b->hand;
    r.net = net;
    r.rank = rank;
    r.frame_w = c->fw;
    r.frame_h = c->fh;
    r.n_features = N_FEATURES;
    memcpy(r.feat, b->feat, sizeof(r.feat));
    r.patch = c->patch;
    if (fwrite(&r, sizeof(r), 1, c->dump) != 1) {
        FT_LOGE("detect", "FT_CLASSIC_DUMP: write failed; dump stopped");
        fclose(c->dump);
        c->dump = NULL;
    }
}

/* The network judges only candidates like the balls it was trained on:
 * moving (a still white spot, line mark or watermark is left to the
 * hand-made features; see docs/detector.md, "The learned scorer"), at most
 * four times the prior ball size (F_LARGE <= 2 octaves: not a whole body),
 * and with no pixel in its box that has three comparisons' worth of
 * evidence of a frame-fixed overlay (a watermark's dots look like balls to
 * it while update_fixed is still learning them). Less evidence than that
 * is common around the ball a panning camera follows: on the broadcast
 * suite run, a gate at one or two comparisons left that ball to the
 * hand-made logit while other candidates were raised (chaos 20 %). */
static bool net_domain(const classic *c, const blob *b)
{
    if (b->large || b->feat[F_MOTION] < 0.5f || b->feat[F_LARGE] > 2.f)
        return false;
    for (int y = b->y0; y <= b->y1; y++)
        for (int x = b->x0; x <= b->x1; x++)
            if (c->fixed[(size_t)y * c->w + x] >= NET_FIXED_GATE)
                return false;
    return true;
}

/* The network's logit for blob b (patch and features, see learned_stage).
 * The patch shows a blob up to the prior ball size (1/150 of the frame
 * height) at the scale of a 1080p frame; a larger one is shrunk to that
 * size, so that a ball close to the camera looks like the far ones. Fills
 * c->patch (the training dump writes it). */
static float net_judge(classic *c, const ft_image *im, const blob *b, bool run)
{
    const float base = (float)c->fh / 1080.f, prior = (float)c->fh / 150.f;
    float d = b->diam * (float)c->f, scale = base * (d > prior ? d / prior : 1.f);
    ft_detect_classic_net_sample(im, (b->cx + 0.5f) * (float)c->f, (b->cy + 0.5f) * (float)c->f,
                                 scale, &c->patch);
    if (!run)
        return 0.f;
    float extra[FT_CLASSIC_NET_EXTRA];
    int ne = 0;
    for (int j = F_BIAS + 1; j < N_FEATURES; j++)
        if (j != F_TRACK)
            extra[ne++] = b->feat[j];
    return ft_detect_classic_net_run(&ft_classic_net_trained, &c->patch, extra, &c->net_buf);
}

/* Records the network's logit raw for blob b and makes its score the
 * hand-made logit plus the network's, clamped and weighted. */
static void take_net(blob *b, float raw)
{
    const ft_classic_net_weights *w = &ft_classic_net_trained;
    b->net = raw;
    b->score = b->hand + w->net_weight * clampf(raw, -w->net_clamp, w->net_clamp);
}

/* How far (working pixels) from a ball remembered age frames ago the
 * continuity prior looks for it. */
static float recent_reach(const classic *c, int age)
{
    return CONT_RADIUS * (float)c->fh / (float)c->f * (1.f + (float)age / CONT_GROW);
}

/* The age in frames of remembered ball q, or 0 when it is not a memory of
 * the last `horizon` frames (an empty slot, or seen in this frame). */
static int memory_age(const classic *c, const recent_ball *q, int horizon)
{
    int age = c->frames - q->frame;
    return q->frame >= 0 && age >= 1 && age <= horizon ? age : 0;
}

/* Whether blob b lies near a ball remembered by continuity_prior. */
static bool near_recent(const classic *c, const blob *b)
{
    for (int i = 0; i < RECENT_FRAMES; i++) {
        const recent_ball *q = &c->recent[i];
        int age = memory_age(c, q, RECENT_FRAMES);
        if (!age)
            continue;
        float r = recent_reach(c, age);
        float dx = q->x - b->cx, dy = q->y - b->cy;
        if (dx * dx + dy * dy <= r * r)
            return true;
    }
    return false;
}

/* Whether blob b lies within CONT_PRED_RADIUS of where the newest
 * remembered ball would be now, moving on at the velocity between it and
 * the one before it (none known: standing still). */
static bool near_predicted(const classic *c, const blob *b)
{
    const recent_ball *q = &c->last, *p = &c->before;
    if (q->frame < 0)
        return false;
    const float age = (float)(c->frames - q->frame);
    float vx = 0.f, vy = 0.f;
    if (p->frame >= 0) {
        vx = (q->x - p->x) / (float)(q->frame - p->frame);
        vy = (q->y - p->y) / (float)(q->frame - p->frame);
    }
    const float dx = q->x + vx * age - b->cx, dy = q->y + vy * age - b->cy;
    const float r = CONT_PRED_RADIUS * (float)c->fh / (float)c->f;
    return dx * dx + dy * dy <= r * r;
}

/* Whether this frame lies in the start-up window: the camera has not moved
 * since the clip began or the last scene cut (still_frames counts every
 * frame since then, this one included) and has not yet stood still for
 * NET_STILL_FRAMES. A synthetic kick-off loses the ball at the players'
 * feet in frames 13-29, where the network would find it; but judging the
 * whole frame there raised a white boot to 0.93 on the tsukuba clip
 * (frame 20) before the ball had been seen, and the track went to it
 * (docs/detector.md, "The start-up window (h40)"). So in this window the
 * network judges only candidates near a ball remembered by the
 * continuity prior: it follows a ball the hand-made features found, it
 * does not pick one. After a pan the window does not open: judging every
 * candidate 10 still frames after a pan or cut, the network took false
 * positives on the UCL clip. */
static bool net_startup(const classic *c)
{
    return c->still_frames < NET_STILL_FRAMES && c->still_frames == c->frames + 1;
}

/* Whether blob b lies where this frame's local_search looked (around
 * c->last, which changes only after the frame's candidates are chosen). */
static bool near_search(const classic *c, const blob *b)
{
    if (!c->search_age)
        return false;
    float r = recent_reach(c, c->search_age);
    float dx = c->last.x - b->cx, dy = c->last.y - b->cy;
    return dx * dx + dy * dy <= r * r;
}

/* Whether the learned scorer runs on this frame (see learned_stage). */
static bool net_active(const classic *c)
{
    return c->fh >= NET_MIN_HEIGHT && (c->still_frames >= NET_STILL_FRAMES ||
                                       (c->still_frames >= NET_EARLY_FRAMES && net_startup(c)));
}

/* The local search, on frames where the network runs: a ball at a
 * player's hip or feet is part of the player's blob, and peak_split's
 * ring test (5 of 8 ring points on grass) rejects it, since the body
 * covers half the ring. Within the continuity prior's reach of the newest
 * remembered ball (up to SEARCH_FRAMES old), every seed pixel that passes
 * the ring test with 3 dark points and has no candidate within 2 working
 * pixels becomes a candidate of its own, scored without the
 * staged-scoring floor (its hand-made logit is -9 to -15: the body around
 * it), so that the network judges it (continuity_prior) and the training
 * dump records it (docs/detector.md, "The local search (h37)" and "The
 * longer search (h38)"). */
static void local_search(classic *c, const ft_image *im, int *nb)
{
    const recent_ball *q = &c->last;
    const int age = net_active(c) ? memory_age(c, q, SEARCH_FRAMES) : 0;
    c->search_age = age;
    if (!age)
        return;
    const int r = peak_radius(c);
    const float reach = recent_reach(c, age);
    const int x0 = (int)fmaxf((float)r, floorf(q->x - reach)),
              x1 = (int)fminf((float)(c->w - r - 1), ceilf(q->x + reach)),
              y0 = (int)fmaxf((float)r, floorf(q->y - reach)),
              y1 = (int)fminf((float)(c->h - r - 1), ceilf(q->y + reach));
    const float floor_saved = c->hand_floor;
    c->hand_floor = -INFINITY;
    /* After the splits, its seed pixels may carry their marks. */
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            if (c->seed[y * c->w + x] != 0 && local_max(c, y * c->w + x))
                peak_candidate(c, im, x, y, r, 3, true, nb);
    c->hand_floor = floor_saved;
}

/* The continuity prior, on frames where the network runs: a ball that
 * touches a player or is partly behind a leg scores low by its hand-made
 * features (about -6) although the network finds it ball-like (about 0,
 * above 99 % of the negatives it judges), and was missed for the few frames
 * until it came free (docs/detector.md, "The continuity prior (h35)").
 * Of the blobs in net_domain within reach of a ball remembered from the
 * last RECENT_FRAMES frames (near_recent), those the network has not judged
 * yet are judged now, and the best of those it finds at least CONT_NET_MIN
 * is raised to a confidence of FT_DETECT_CLASSIC_RAISE_CAP: one per frame, since there is one
 * ball (raising every one near it raised the boots and socks beside it);
 * local_search's candidates are among them. When the memory is older than
 * RECENT_FRAMES, the blobs where local_search looked take the place of
 * those near the memory, and the network must find one at least
 * CONT_SEARCH_NET plus CONT_OLD_NET_STEP per frame beyond (and then
 * raises it without the CONT_BOOST limit, as local_search's own): a ball
 * at a dribbler's feet for a second is kept, a boot the network scores
 * low is not. A candidate on the remembered ball's path (near_predicted)
 * goes before the others and is raised without the limit.
 * The cap and a memory of candidates confident on their own merits keep a
 * look-alike near the ball from being carried on: with +6 and no cap, a
 * player's white boots on the tsukuba clip took the track from the lofted
 * ball and held it for 60 frames. */
static void continuity_prior(classic *c, const ft_image *im, int nb)
{
    const bool old = c->search_age > RECENT_FRAMES;
    const float gate =
        old ? CONT_SEARCH_NET + CONT_OLD_NET_STEP * (float)(c->search_age - RECENT_FRAMES)
            : CONT_NET_MIN;
    int best = -1;
    bool best_pred = false;
    for (int k = 0; k < nb; k++) {
        blob *b = &c->blobs[k];
        if (!b->judge || !(old ? near_search(c, b) : near_recent(c, b)))
            continue;
        if (b->net == -INFINITY)
            take_net(b, net_judge(c, im, b, true));
        if (b->net < gate)
            continue;
        /* Near the path first, then by logit. */
        const bool pred = near_predicted(c, b);
        if (best < 0 || pred > best_pred ||
            (pred == best_pred && b->score > c->blobs[best].score)) {
            best = k;
            best_pred = pred;
        }
    }
    if (best < 0)
        return;
    /* The logit that gives it a confidence of FT_DETECT_CLASSIC_RAISE_CAP against the others
     * and "no ball" (logits relative to the frame's largest, m). */
    float m = 0.f;
    for (int k = 0; k < nb; k++)
        m = c->blobs[k].score > m ? c->blobs[k].score : m;
    float rest = expf(-m);
    for (int k = 0; k < nb; k++)
        if (k != best)
            rest += expf(c->blobs[k].score - m);
    const float cap = (float)FT_DETECT_CLASSIC_RAISE_CAP;
    float target = m + logf(cap * rest / (1.f - cap));
    const blob *bb = &c->blobs[best];
    float boost =
        clampf(target - bb->score, 0.f,
               old || (bb->searched && bb->net >= CONT_SEARCH_NET) || best_pred
                   ? INFINITY
                   : CONT_BOOST);
    c->blobs[best].score += boost;
    c->blobs[best].boost = boost;
}

/* The learned second stage: in frames at least NET_MIN_HEIGHT tall, once
 * the camera has stood still for NET_STILL_FRAMES, the NET_TOP blobs with
 * the best hand-made logits (moved to the front of c->blobs) that lie in
 * net_domain are looked at by the network of classic_net.h (their patch and their features but the
 * predecessor's confidence, so that the network does not reinforce its own
 * past), whose clamped logit joins theirs with a fitted weight; the others
 * keep their hand-made logit. The two conditions keep the network to
 * footage like its training set (synthetic, 1080p, mostly still cameras):
 * without them it raised scattered look-alikes on the real panning,
 * zooming, handheld and low-resolution clips (LaLiga, UCL, DFL, youth:
 * chaos 57-82 % instead of 0); with the still camera alone, on the 720p
 * and 480p ones (LaLiga 24 %, youth 66 %), whose patches are upsampled.
 * Then the continuity prior. Runs the training dump as well. */
static void learned_stage(classic *c, const ft_image *im, double pts_s, int nb)
{
    const bool active = net_active(c), startup = net_startup(c);
    for (int k = 0; k < nb; k++) {
        c->blobs[k].judge =
            active && net_domain(c, &c->blobs[k]) && (!startup || near_recent(c, &c->blobs[k]));
        c->blobs[k].net = -INFINITY;
        c->blobs[k].boost = 0.f;
    }
    if (!c->dump && !active)
        return;
    int top = c->dump ? DUMP_TOP : NET_TOP;
    top = top < nb ? top : nb;
    /* The network's places go to the best blobs it may judge: on a still
     * camera, still white spots and whole bodies with better hand-made
     * logits used to take most of them, and the ball, ranked 16th-40th
     * among the moving ones, was not looked at (wide-3: 49 of 133 misses).
     * The dump ranks all blobs by hand-made logit alone: the layout the
     * network was trained on (docs/detector.md, "Tried"). */
    for (int k = 0; k < top; k++) {
        int best = k;
        for (int j = k + 1; j < nb; j++) {
            const blob *a = &c->blobs[j], *b = &c->blobs[best];
            if ((!c->dump && a->judge != b->judge) ? a->judge : a->hand > b->hand)
                best = j;
        }
        blob t = c->blobs[best];
        c->blobs[best] = c->blobs[k];
        c->blobs[k] = t;
    }
    for (int k = 0; k < top; k++) {
        blob *b = &c->blobs[k];
        bool judged = k < NET_TOP && b->judge;
        if (judged || c->dump) {
            float raw = net_judge(c, im, b, judged);
            if (c->dump)
                dump_blob(c, b, pts_s, k, raw);
            /* The training dump scores with the hand-made logit alone, so
             * that the training set does not depend on the network. */
            if (judged && !c->dump)
                take_net(b, raw);
        }
    }
    /* The local search's candidates outside the top go to the dump after
     * it (ranks from DUMP_TOP on): the network judges them through the
     * continuity prior, so it is trained on them too. */
    for (int k = top, extra = 0; c->dump && k < nb; k++)
        if (c->blobs[k].searched) {
            net_judge(c, im, &c->blobs[k], false);
            dump_blob(c, &c->blobs[k], pts_s, DUMP_TOP + extra++, 0.f);
        }
    if (active && !c->dump)
        continuity_prior(c, im, nb);
}

static ft_status classic_detect(ft_detector *d, const ft_image *frame, double pts_s,
                                ft_detection *out, int cap, int *n)
{
    classic *c = (classic *)d;
    ft_status st = FT_OK;
    if (!frame || !n || cap < 0 || (cap > 0 && !out) || frame->width < 16 ||
        frame->height < 16 || !frame->data[0] || frame->stride[0] < frame->width)
        return FT_ERR_INVALID;
    if (frame->format == FT_PIX_RGB24) {
        /* The decoder delivers YUV; packed RGB would need a conversion pass. */
        FT_LOGE("detect", "default detector: RGB24 frames are not supported (use YUV or grey)");
        return FT_ERR_INVALID;
    }
    *n = 0;
    if (frame->width != c->fw || frame->height != c->fh) {
        st = alloc_buffers(c, frame->width, frame->height);
        if (st)
            return st;
    }

    downscale(c, frame);
    int dx = 0, dy = 0, fx = 0, fy = 0; /* the pan; the pan update_fixed learns with */
    if (c->frames > 0) {
        double rx, ry;
        fx = profile_shift(c->colp, c->prev_colp, c->w, c->w / 12, &rx);
        fy = profile_shift(c->rowp, c->prev_rowp, c->h, c->h / 12, &ry);
        dx = rx < PAN_ACCEPT ? fx : 0;
        dy = ry < PAN_ACCEPT ? fy : 0;
        fx = dx || (rx < FIXED_PAN_ACCEPT && abs(fx) >= FIXED_PAN_MIN) ? fx : 0;
        fy = dy || (ry < FIXED_PAN_ACCEPT && abs(fy) >= FIXED_PAN_MIN) ? fy : 0;
        if (aligned_diff(c, dx, dy) > CUT_DIFF) {
            FT_LOGD("detect", "scene cut at %.3f s", pts_s);
            reset_history(c);
            dx = dy = fx = fy = 0;
        }
    }
    if (c->frames == 0) {
        memcpy(c->bg, c->cur, (size_t)c->w * c->h);
    } else if (dx || dy) {
        shift_background(c, dx, dy);
        for (int i = 0; i < c->n_prev; i++) {
            c->prev_c[i].x += (float)dx;
            c->prev_c[i].y += (float)dy;
        }
    }
    c->panned = dx || dy;
    c->still_frames = c->panned ? 0 : c->still_frames + 1;
    /* The continuity prior's memory holds only for a camera that stood
     * still since (its positions are not moved with a pan). */
    if (!net_active(c))
        forget_recent(c);
    update_fixed(c, fx, fy);

    /* The training dump sees the candidates the network could see. */
    c->hand_floor = c->dump ? HAND_FLOOR_MIN : (net_active(c) ? c->net_floor : LOGIT_FLOOR);

    /* Stands, trees and floodlights are not scored at all. */
    int none = 0;
    st = ft_detect_filter_apply(c->pitch, frame, NULL, &none);
    if (st)
        return st;
    make_seeds(c);
    const int max_side = c->h / 8 > 6 ? c->h / 8 : 6;
    int nb = 0;
    const size_t npix = (size_t)c->w * c->h;
    for (size_t i = 0; i < npix; i++) {
        /* Seeds are sparse: jump to the next unvisited one. */
        const uint8_t *next = memchr(c->seed + i, SEED, npix - i);
        if (!next)
            break;
        i = (size_t)(next - c->seed);
        blob b;
        bool small = grow_blob(c, (int)i, max_side, SEED, VISITED, &b);
        if (!ft_detect_filter_allows(c->pitch, ((float)b.peak_x + 0.5f) * (float)c->f,
                                     ((float)b.peak_y + 0.5f) * (float)c->f, c->fw, c->fh))
            continue;
        if (small) {
            if (score_blob(c, frame, &b))
                keep_blob(c, &b, &nb);
            split_blob(c, frame, &b, &nb);
        } else {
            peak_split(c, frame, &b, &nb);
        }
        motion_split(c, frame, &b, !small, &nb);
    }
    if (!c->dump && !c->small_ball)
        large_balls(c, frame, &nb);
    local_search(c, frame, &nb);
    learned_stage(c, frame, pts_s, nb);

    /* Confidences: a softmax over this frame's blobs plus "none of them"
     * (logit 0), i.e. the probability that this blob, rather than another or
     * nothing, is the ball. A frame full of look-alikes lowers them all. */
    float zmax = 0.f;
    for (int k = 0; k < nb; k++)
        zmax = c->blobs[k].score > zmax ? c->blobs[k].score : zmax;
    float den = expf(-zmax);
    for (int k = 0; k < nb; k++) {
        c->blobs[k].score = expf(c->blobs[k].score - zmax);
        den += c->blobs[k].score;
    }
    /* The confidences without continuity_prior's boost: only a candidate
     * confident on its own merits is remembered (no self-feeding). */
    float den_own = den;
    for (int k = 0; k < nb; k++)
        den_own += c->blobs[k].score * (expf(-c->blobs[k].boost) - 1.f);
    for (int k = 0; k < nb; k++) {
        c->blobs[k].own = c->blobs[k].score * expf(-c->blobs[k].boost) / den_own;
        c->blobs[k].score /= den;
    }

    /* Best first: a selection sort is fine for the few we return. */
    int want = cap < nb ? cap : nb;
    int n_out = 0, n_prev = 0;
    c->small_ball = false;
    for (int k = 0; k < nb; k++)
        c->small_ball |= !c->blobs[k].large && c->blobs[k].score >= LARGE_SKIP;
    prev_cand next_prev[PREV_KEEP];
    for (int k = 0; k < nb && (n_out < want || n_prev < PREV_KEEP); k++) {
        int best = k;
        for (int j = k + 1; j < nb; j++)
            if (c->blobs[j].score > c->blobs[best].score)
                best = j;
        blob b = c->blobs[best];
        c->blobs[best] = c->blobs[k];
        c->blobs[k] = b;

        if (n_prev < PREV_KEEP) {
            next_prev[n_prev].x = b.cx;
            next_prev[n_prev].y = b.cy;
            next_prev[n_prev].score = b.score;
            n_prev++;
        }
        if (k == 0 && b.score >= 0.8f && b.fg * 2 >= b.n && c->bg_age >= BG_TRUST_FRAMES)
            learn_size(c, b.cy, b.diam);
        recent_ball *slot = &c->recent[c->frames % RECENT_FRAMES];
        if (b.own >= CONT_MIN_CONF && net_active(c) && slot->frame != c->frames) {
            *slot = (recent_ball){b.cx, b.cy, c->frames};
            c->before = c->last;
            c->last = *slot;
        }
        if (n_out < want && b.score >= c->p.confidence) {
            ft_detection *o = &out[n_out++];
            o->x = (b.cx + 0.5f) * (float)c->f;
            o->y = (b.cy + 0.5f) * (float)c->f;
            o->w = b.diam * (float)c->f;
            o->h = b.diam * (float)c->f;
            o->score = b.score;
            o->label = c->p.label;
        }
    }
    memcpy(c->prev_c, next_prev, sizeof(next_prev[0]) * (size_t)n_prev);
    c->n_prev = n_prev;
    *n = n_out;

    update_background(c);
    uint8_t *t = c->prev;
    c->prev = c->cur;
    c->cur = t;
    int32_t *tp = c->prev_colp;
    c->prev_colp = c->colp;
    c->colp = tp;
    tp = c->prev_rowp;
    c->prev_rowp = c->rowp;
    c->rowp = tp;
    c->frames++;
    c->bg_age++;
    return FT_OK;
}

static ft_status classic_set_param(ft_detector *d, const char *key, double value)
{
    classic *c = (classic *)d;
    if (!key || strcmp(key, "confidence") != 0)
        return FT_ERR_INVALID;
    if (!(value >= 0.0 && value <= 1.0))
        return FT_ERR_INVALID;
    c->p.confidence = value;
    return FT_OK;
}

static void classic_destroy(ft_detector *d)
{
    classic *c = (classic *)d;
    ft_detect_filter_destroy(&c->pitch);
    free_buffers(c);
    if (c->dump)
        fclose(c->dump);
    free(c);
}

static const ft_detector_vtable classic_vtable = {
    .name = "classic",
    .detect = classic_detect,
    .set_param = classic_set_param,
    .destroy = classic_destroy,
};

ft_status ft_detect_classic_create(const ft_detect_classic_params *p, ft_detector **out)
{
    ft_status st = FT_OK;
    classic *c = NULL;
    if (!out)
        return FT_ERR_INVALID;
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (!c) {
        st = FT_ERR_NOMEM;
        goto out;
    }
    c->base.vt = &classic_vtable;
    forget_recent(c);
    if (p)
        c->p = *p;
    else
        ft_detect_classic_params_default(&c->p);
    st = check_params(&c->p);
    if (st)
        goto out;
    ft_detect_filter_params fp = {.pitch_mask_auto = true};
    st = ft_detect_filter_create(&fp, &c->pitch);
    if (st)
        goto out;
    const ft_classic_net_weights *w = &ft_classic_net_trained;
    float boost = w->net_weight * w->net_clamp;
    c->net_floor = clampf(LOGIT_FLOOR - (boost > 0.f ? boost : 0.f), HAND_FLOOR_MIN, LOGIT_FLOOR);
    /* Development only (docs/detector.md, "The learned scorer"): append the
     * frame's best candidates, features and patches to a file for training;
     * scoring then leaves the network out (learned_stage). */
    const char *dump = getenv("FT_CLASSIC_DUMP");
    if (dump && *dump) {
        c->dump = fopen(dump, "ab");
        if (!c->dump) {
            FT_LOGE("detect", "FT_CLASSIC_DUMP: cannot open %s for appending", dump);
            st = FT_ERR_IO;
            goto out;
        }
    }
    *out = &c->base;
    c = NULL;
out:
    if (c)
        classic_destroy(&c->base);
    return st;
}

bool ft_detect_classic_is(const ft_detector *d)
{
    return d->vt == &classic_vtable;
}
