/* The match simulation behind the synthetic footage. It is not a football AI:
 * it only has to produce the ball and player motion a camera sees in a real
 * match (dribbles, ground passes, lofted balls with bounces, shots, balls that
 * go out and restarts, players pressing and keeping shape), so detection,
 * tracking and camera work are tested on realistic trajectories. */
#include "tools/synth/match.h"

#include <math.h>
#include <string.h>

#define STEP_MAX (1.0f / 60.0f)
#define ROLL_DECEL 1.1f   /* m/s^2, rolling resistance of cut grass */
#define AIR_DRAG 0.012f   /* 1/m, quadratic drag of a football */
#define BOUNCE_KEEP 0.55f /* vertical speed kept at a bounce */
#define BOUNCE_FRICTION 0.8f
#define REACH 0.75f /* a player controls a ball within this distance */
#define KEEPER_REACH 1.4f
#define PLAYER_ACCEL 5.0f

/* 4-4-2 slots for a team attacking +x (metres). */
static const float formation[11][2] = {
    {-50.0f, 0.0f},  {-33.0f, -22.0f}, {-35.0f, -8.0f}, {-35.0f, 8.0f},
    {-33.0f, 22.0f}, {-12.0f, -24.0f}, {-15.0f, -8.0f}, {-15.0f, 8.0f},
    {-12.0f, 24.0f}, {8.0f, -7.0f},    {6.0f, 7.0f},
};

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int team_dir(int team)
{
    return team == 0 ? 1 : -1;
}

static int first_of(int team)
{
    return team * 11;
}

void match_init(match *m, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->rng.s = seed * 0x2545f4914f6cdd1dull + 0x1234567ull;
    for (int i = 0; i < MATCH_PLAYERS; i++) {
        match_player *p = &m->p[i];
        p->team = i < 11 ? 0 : i < 22 ? 1 : 2;
        p->keeper = (i % 11) == 0 && p->team < 2;
        if (p->team < 2) {
            int s = team_dir(p->team);
            p->home_x = formation[i % 11][0];
            p->home_y = formation[i % 11][1];
            p->x = s * (p->home_x * 0.6f - 2.0f);
            p->y = s * p->home_y;
        } else {
            p->x = -8.0f;
            p->y = -12.0f;
        }
        p->height = rng_range(&m->rng, 1.72f, 1.94f);
        p->vmax = rng_range(&m->rng, 6.8f, 8.2f);
        p->phase = rng_range(&m->rng, 0.0f, 6.283f);
        for (int k = 0; k < 2; k++) {
            p->wander_ph[k] = rng_range(&m->rng, 0.0f, 6.283f);
            p->wander_w[k] = rng_range(&m->rng, 0.05f, 0.25f);
        }
    }
    /* Kick-off: the centre forward of a random team has the ball. */
    int team = rng_u64(&m->rng) & 1;
    int cf = first_of(team) + 9;
    m->p[cf].x = -team_dir(team) * 0.5f;
    m->p[cf].y = 0.0f;
    m->ball = (match_ball){.state = BALL_OWNED,
                           .owner = cf,
                           .last_touch = cf,
                           .receiver = -1,
                           .blocked = -1,
                           .timer = 0.6f};
}

/* Puts a free ball on a path: ground pass, lofted ball or shot. */
static void kick_to(match *m, int kicker, float tx, float ty, bool lofted, float speed_end)
{
    match_ball *b = &m->ball;
    float dx = tx - b->x, dy = ty - b->y;
    float d = sqrtf(dx * dx + dy * dy);
    if (d < 0.5f)
        d = 0.5f;
    float ux = dx / d, uy = dy / d;
    if (lofted) {
        float T = clampf(d / 16.0f, 0.9f, 3.0f);
        float vh = d * 0.85f / T; /* lands short of the target and bounces on */
        b->vx = ux * vh;
        b->vy = uy * vh;
        b->vz = GRAVITY * T * 0.5f;
    } else {
        float v0 = sqrtf(speed_end * speed_end + 2.0f * ROLL_DECEL * d * 1.3f);
        v0 = fminf(v0, 26.0f);
        b->vx = ux * v0;
        b->vy = uy * v0;
        b->vz = 0.0f;
    }
    b->state = BALL_FREE;
    b->last_touch = kicker;
    b->blocked = kicker;
    b->block_t = 0.45f;
}

static void shoot(match *m, int kicker)
{
    match_ball *b = &m->ball;
    int s = team_dir(m->p[kicker].team);
    float gx = s * (PITCH_HALF_X + 0.5f);
    /* Aim inside the goal with a shooter's error: some shots go wide or over. */
    float gy = rng_range(&m->rng, -GOAL_HALF_W, GOAL_HALF_W) + rng_range(&m->rng, -2.5f, 2.5f);
    float gz = rng_range(&m->rng, 0.1f, 2.2f) + rng_range(&m->rng, -0.3f, 1.2f);
    float dx = gx - b->x, dy = gy - b->y;
    float d = sqrtf(dx * dx + dy * dy);
    float v = rng_range(&m->rng, 19.0f, 29.0f);
    float T = d / v;
    b->vx = dx / d * v;
    b->vy = dy / d * v;
    b->vz = fmaxf(0.0f, (gz + 0.5f * GRAVITY * T * T) / T);
    b->state = BALL_FREE;
    b->last_touch = kicker;
    b->blocked = kicker;
    b->block_t = 0.5f;
    b->receiver = -1;
}

/* The owner decides: pass (ground or lofted), shoot, or keep dribbling. */
static void owner_decides(match *m)
{
    match_ball *b = &m->ball;
    int o = b->owner;
    match_player *op = &m->p[o];
    int s = team_dir(op->team);
    float to_goal = fabsf(s * PITCH_HALF_X - op->x) + fabsf(op->y) * 0.3f;
    double r = rng_unit(&m->rng);
    if (!op->keeper && to_goal < 30.0f && r < 0.35) {
        shoot(m, o);
        return;
    }
    if (op->keeper || r < 0.8) {
        /* Pick a teammate 8-45 m away, preferring forward ones. */
        float best = -1e9f;
        int pick = -1;
        for (int i = first_of(op->team); i < first_of(op->team) + 11; i++) {
            if (i == o || m->p[i].keeper)
                continue;
            float dx = m->p[i].x - op->x, dy = m->p[i].y - op->y;
            float d = sqrtf(dx * dx + dy * dy);
            if (d < 8.0f || d > 45.0f)
                continue;
            float score = s * dx * 0.08f + rng_range(&m->rng, 0.0f, 3.0f);
            if (score > best) {
                best = score;
                pick = i;
            }
        }
        if (pick >= 0) {
            match_player *q = &m->p[pick];
            float tx = q->x + q->vx * 1.0f, ty = q->y + q->vy * 1.0f;
            float d = hypotf(tx - op->x, ty - op->y);
            bool lofted = op->keeper || rng_unit(&m->rng) < (d > 28.0f ? 0.7 : 0.2);
            kick_to(m, o, tx, ty, lofted, rng_range(&m->rng, 2.0f, 5.0f));
            b->receiver = pick;
            return;
        }
    }
    b->timer = rng_range(&m->rng, 0.5f, 1.5f);
    b->dribble_dy = rng_range(&m->rng, -12.0f, 12.0f);
}

static int nearest_player(const match *m, int team, float x, float y, int skip)
{
    int best = -1;
    float bd = 1e9f;
    for (int i = 0; i < 22; i++) {
        if ((team >= 0 && m->p[i].team != team) || i == skip || m->p[i].keeper)
            continue;
        float d = hypotf(m->p[i].x - x, m->p[i].y - y);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

/* Sets up the restart after the ball crossed a line at (x, y). */
static void ball_went_out(match *m)
{
    match_ball *b = &m->ball;
    int last_team = m->p[b->last_touch].team;
    b->state = BALL_OUT;
    b->timer = rng_range(&m->rng, 1.2f, 2.0f);
    b->receiver = -1;
    if (fabsf(b->y) > PITCH_HALF_Y) { /* throw-in where it crossed */
        b->restart_x = clampf(b->x, -PITCH_HALF_X + 1, PITCH_HALF_X - 1);
        b->restart_y = b->y > 0 ? PITCH_HALF_Y : -PITCH_HALF_Y;
        b->restart_team = 1 - last_team;
        return;
    }
    int side = b->x > 0 ? 1 : -1;                     /* goal line crossed */
    int defending = side > 0 ? 1 : 0;                 /* team 1 defends +x */
    if (fabsf(b->y) < GOAL_HALF_W && b->z < GOAL_H) { /* goal: kick-off */
        b->restart_x = 0.0f;
        b->restart_y = 0.0f;
        b->restart_team = defending;
    } else if (last_team == defending) { /* corner */
        b->restart_x = side * PITCH_HALF_X;
        b->restart_y = b->y > 0 ? PITCH_HALF_Y : -PITCH_HALF_Y;
        b->restart_team = 1 - defending;
    } else { /* goal kick */
        b->restart_x = side * (PITCH_HALF_X - 5.5f);
        b->restart_y = b->y > 0 ? 5.0f : -5.0f;
        b->restart_team = defending;
    }
}

static void ball_physics(match_ball *b, float dt)
{
    float v = sqrtf(b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
    float drag = 1.0f - AIR_DRAG * v * dt;
    b->vx *= drag;
    b->vy *= drag;
    if (b->z > 0.0f || b->vz > 0.0f) {
        b->vz = b->vz * drag - GRAVITY * dt;
        b->z += b->vz * dt;
        if (b->z <= 0.0f) {
            b->z = 0.0f;
            if (b->vz < -1.5f) {
                b->vz = -b->vz * BOUNCE_KEEP;
                b->vx *= BOUNCE_FRICTION;
                b->vy *= BOUNCE_FRICTION;
            } else {
                b->vz = 0.0f;
            }
        }
    } else {
        float vh = sqrtf(b->vx * b->vx + b->vy * b->vy);
        float nv = fmaxf(0.0f, vh - ROLL_DECEL * dt);
        if (vh > 0.0f) {
            b->vx *= nv / vh;
            b->vy *= nv / vh;
        }
    }
    b->x += b->vx * dt;
    b->y += b->vy * dt;
}

/* Where player i wants to be and how fast it may go there. */
static void player_target(const match *m, int i, float *tx, float *ty, float *speed)
{
    const match_player *p = &m->p[i];
    const match_ball *b = &m->ball;
    float wx = 2.5f * sinf(p->wander_w[0] * m->t + p->wander_ph[0]);
    float wy = 2.5f * sinf(p->wander_w[1] * m->t + p->wander_ph[1]);
    if (p->team == 2) { /* referee: diagonal system, 15-20 m from the ball */
        *tx = b->x - 10.0f + wx;
        *ty = b->y + (b->y > 0 ? -13.0f : 13.0f) + wy;
        *speed = 5.5f;
        return;
    }
    int s = team_dir(p->team);
    if (p->keeper) {
        *tx = -s * (PITCH_HALF_X - 2.0f) + clampf((b->x + s * PITCH_HALF_X) * 0.03f, -3, 3);
        *ty = clampf(b->y * 0.12f, -3.0f, 3.0f);
        *speed = 4.0f;
        return;
    }
    *tx = clampf(s * p->home_x * 0.75f + b->x * 0.5f + wx, -PITCH_HALF_X + 1, PITCH_HALF_X - 1);
    *ty = clampf(s * p->home_y * 0.85f + b->y * 0.3f + wy, -PITCH_HALF_Y + 1, PITCH_HALF_Y - 1);
    *speed = 3.5f;
}

static void move_player(match_player *p, float tx, float ty, float speed, float dt)
{
    float dx = tx - p->x, dy = ty - p->y;
    float d = sqrtf(dx * dx + dy * dy);
    float want = fminf(fminf(speed, p->vmax), d * 1.2f);
    float wvx = d > 1e-3f ? dx / d * want : 0.0f, wvy = d > 1e-3f ? dy / d * want : 0.0f;
    float ax = wvx - p->vx, ay = wvy - p->vy;
    float a = sqrtf(ax * ax + ay * ay), amax = PLAYER_ACCEL * dt;
    if (a > amax) {
        ax *= amax / a;
        ay *= amax / a;
    }
    p->vx += ax;
    p->vy += ay;
    p->x += p->vx * dt;
    p->y += p->vy * dt;
    /* A stride is about 2 m; the gait phase drives the legs in the renderer. */
    p->phase += sqrtf(p->vx * p->vx + p->vy * p->vy) * dt * 3.14159f;
}

static void try_control(match *m)
{
    match_ball *b = &m->ball;
    float speed = sqrtf(b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
    for (int i = 0; i < 22; i++) {
        match_player *p = &m->p[i];
        if (i == b->blocked)
            continue;
        float reach = p->keeper ? KEEPER_REACH : REACH;
        float zmax = p->keeper ? 2.4f : 1.0f;
        float vmax = p->keeper ? 32.0f : 20.0f;
        if (b->z > zmax || speed > vmax)
            continue;
        if (hypotf(p->x - b->x, p->y - b->y) < reach) {
            b->state = BALL_OWNED;
            b->owner = i;
            b->last_touch = i;
            b->receiver = -1;
            b->z = 0.0f;
            b->vz = 0.0f;
            b->timer = p->keeper ? rng_range(&m->rng, 1.5f, 3.0f) : rng_range(&m->rng, 0.3f, 2.2f);
            b->dribble_dy = rng_range(&m->rng, -10.0f, 10.0f);
            return;
        }
    }
}

static void substep(match *m, float dt)
{
    match_ball *b = &m->ball;
    m->t += dt;
    if (b->block_t > 0.0f && (b->block_t -= dt) <= 0.0f)
        b->blocked = -1;

    /* Ball. */
    switch (b->state) {
    case BALL_OWNED: {
        if ((b->timer -= dt) <= 0.0f) {
            owner_decides(m);
            if (b->state != BALL_OWNED)
                break;
        }
        const match_player *o = &m->p[b->owner];
        /* Tackles: a close opponent knocks the ball loose now and then. */
        int opp = nearest_player(m, 1 - o->team, b->x, b->y, -1);
        if (opp >= 0 && hypotf(m->p[opp].x - b->x, m->p[opp].y - b->y) < 0.9f &&
            rng_unit(&m->rng) < 1.5 * dt) {
            float a = rng_range(&m->rng, 0.0f, 6.283f), v0 = rng_range(&m->rng, 3.0f, 9.0f);
            b->vx = cosf(a) * v0;
            b->vy = sinf(a) * v0;
            b->vz = rng_range(&m->rng, 0.0f, 3.0f);
            b->state = BALL_FREE;
            b->last_touch = opp;
            b->blocked = opp;
            b->block_t = 0.3f;
            b->receiver = -1;
            break;
        }
        float v = sqrtf(o->vx * o->vx + o->vy * o->vy);
        float ux = v > 0.3f ? o->vx / v : (float)team_dir(o->team), uy = v > 0.3f ? o->vy / v : 0;
        /* Touches: the ball runs ahead of the feet and is caught up with. */
        float lead = 0.45f + 0.35f * (0.5f + 0.5f * sinf(o->phase * 0.5f));
        b->x = o->x + ux * lead;
        b->y = o->y + uy * lead;
        b->z = 0.0f;
        b->vx = o->vx;
        b->vy = o->vy;
        b->vz = 0.0f;
        break;
    }
    case BALL_FREE:
        ball_physics(b, dt);
        if (fabsf(b->x) > PITCH_HALF_X + BALL_R || fabsf(b->y) > PITCH_HALF_Y + BALL_R)
            ball_went_out(m);
        else
            try_control(m);
        break;
    case BALL_OUT:
        ball_physics(b, dt);
        if ((b->timer -= dt) <= 0.0f) {
            /* A new ball is placed for the restart (as ball kids do). */
            b->state = BALL_RESTART;
            b->x = b->restart_x;
            b->y = b->restart_y;
            b->z = b->vx = b->vy = b->vz = 0.0f;
            b->taker = nearest_player(m, b->restart_team, b->x, b->y, -1);
            b->timer = 1.0f;
        }
        break;
    case BALL_RESTART: {
        match_player *tp = &m->p[b->taker];
        if (hypotf(tp->x - b->x, tp->y - b->y) < 0.8f && (b->timer -= dt) <= 0.0f) {
            b->state = BALL_OWNED;
            b->owner = b->taker;
            b->last_touch = b->taker;
            b->timer = 0.2f;
        }
        break;
    }
    }

    /* Players: the owner dribbles, chasers go for a loose ball, the nearest
     * opponent presses, everyone else keeps the team's shape. */
    int chase[2] = {-1, -1};
    if (b->state == BALL_FREE) {
        float px = b->x + b->vx * 0.5f, py = b->y + b->vy * 0.5f;
        for (int t = 0; t < 2; t++)
            chase[t] = nearest_player(m, t, px, py, -1);
    }
    int presser = -1;
    if (b->state == BALL_OWNED)
        presser = nearest_player(m, 1 - m->p[b->owner].team, b->x, b->y, -1);
    for (int i = 0; i < MATCH_PLAYERS; i++) {
        match_player *p = &m->p[i];
        float tx, ty, speed;
        if (b->state == BALL_OWNED && i == b->owner) {
            int s = team_dir(p->team);
            tx = s * PITCH_HALF_X;
            ty = clampf(p->y * 0.7f + b->dribble_dy, -PITCH_HALF_Y + 2, PITCH_HALF_Y - 2);
            speed = p->keeper ? 1.0f : 5.0f;
        } else if (b->state == BALL_FREE && (i == chase[0] || i == chase[1] || i == b->receiver)) {
            float lead = i == b->receiver ? 0.9f : 0.4f;
            tx = b->x + b->vx * lead;
            ty = b->y + b->vy * lead;
            speed = 7.5f;
        } else if (b->state == BALL_FREE && p->keeper && fabsf(b->x - p->x) < 20.0f) {
            tx = b->x;
            ty = clampf(b->y, -GOAL_HALF_W - 2, GOAL_HALF_W + 2);
            speed = 6.0f;
        } else if (i == presser) {
            tx = b->x;
            ty = b->y;
            speed = 5.5f;
        } else if (b->state == BALL_RESTART && i == b->taker) {
            tx = b->x;
            ty = b->y;
            speed = 7.0f;
        } else {
            player_target(m, i, &tx, &ty, &speed);
        }
        move_player(p, tx, ty, speed, dt);
    }
}

void match_step(match *m, float dt)
{
    int n = (int)ceilf(dt / STEP_MAX);
    if (n < 1)
        n = 1;
    for (int i = 0; i < n; i++)
        substep(m, dt / (float)n);
}
