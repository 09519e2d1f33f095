/* Deterministic random numbers for the track and camera tests (same seed,
 * same sequence on every machine). */
#ifndef FT_TEST_RNG_H
#define FT_TEST_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct ft_test_rng {
    uint64_t s;
} ft_test_rng;

/* splitmix64 */
static inline uint64_t ft_test_rng_u64(ft_test_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double ft_test_rng_uniform(ft_test_rng *r)
{
    return ((double)(ft_test_rng_u64(r) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller). */
static inline double ft_test_rng_normal(ft_test_rng *r)
{
    const double u = ft_test_rng_uniform(r), v = ft_test_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

#endif
