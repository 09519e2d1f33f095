/* Internal to the synthetic generator: the PRNG and the match simulation
 * (players and ball in pitch metres). Not a public interface. */
#ifndef FT_TOOLS_SYNTH_MATCH_H
#define FT_TOOLS_SYNTH_MATCH_H

#include <stdbool.h>
#include <stdint.h>

/* Pitch: 105 x 68 m, origin at the centre spot, x along the length, y across
 * (away from the main camera), z up. */
#define PITCH_HALF_X 52.5f
#define PITCH_HALF_Y 34.0f
#define GOAL_HALF_W 3.66f
#define GOAL_H 2.44f
#define BALL_R 0.11f
#define GRAVITY 9.81f

#define MATCH_PLAYERS 23 /* 0..10 team 0 (0 keeper), 11..21 team 1 (11 keeper), 22 referee */
#define MATCH_REFEREE 22

/* splitmix64: tiny, fast, and the same sequence everywhere for a seed. */
typedef struct synth_rng {
    uint64_t s;
} synth_rng;

static inline uint64_t rng_u64(synth_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rng_unit(synth_rng *r)
{
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

static inline float rng_range(synth_rng *r, float a, float b)
{
    return a + (b - a) * (float)rng_unit(r);
}

typedef struct match_player {
    float x, y, vx, vy;   /* metres, metres/second */
    float home_x, home_y; /* formation slot for a team attacking +x */
    float height;         /* metres */
    float phase;          /* gait phase, radians */
    float wander_ph[2], wander_w[2];
    float vmax;
    int team; /* 0, 1, or 2 for the referee */
    bool keeper;
} match_player;

typedef enum ball_state {
    BALL_OWNED,   /* at a player's feet */
    BALL_FREE,    /* rolling or in flight, in play */
    BALL_OUT,     /* crossed a line; still moving, nobody plays it */
    BALL_RESTART, /* placed for a restart, waiting for the taker */
} ball_state;

typedef struct match_ball {
    float x, y, z; /* centre x, y; z is the height of its bottom */
    float vx, vy, vz;
    ball_state state;
    int owner;      /* player index when OWNED */
    int last_touch; /* player who last kicked it */
    int receiver;   /* intended receiver of a pass, or -1 */
    int blocked;    /* the kicker cannot take it back for a moment */
    float block_t;
    float timer; /* hold time (OWNED), time left out (OUT), wait (RESTART) */
    float restart_x, restart_y;
    int restart_team, taker;
    float dribble_dy;
} match_ball;

typedef struct match {
    synth_rng rng;
    float t;
    match_player p[MATCH_PLAYERS];
    match_ball ball;
} match;

/* Kick-off position for a seed. */
void match_init(match *m, uint64_t seed);

/* Advances the simulation by dt seconds (any dt; substeps internally). */
void match_step(match *m, float dt);

#endif
