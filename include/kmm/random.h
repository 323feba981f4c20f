/*
 * Seeded pseudo-random numbers for tests, workloads and randomized policies.
 *
 * xoshiro256** (Blackman and Vigna, 2018), seeded through splitmix64 so that
 * any 64-bit seed, including 0, gives a good state. Same seed, same sequence,
 * on every host: this is what makes deterministic runs reproducible.
 */
#ifndef KMM_RANDOM_H
#define KMM_RANDOM_H

#include <kmm/compiler.h>

struct kmm_rng {
	uint64_t s[4];
};

void kmm_rng_seed(struct kmm_rng *rng, uint64_t seed);

static inline uint64_t kmm_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t kmm_rng_next(struct kmm_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = kmm_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = kmm_rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-shift); n > 0. */
uint64_t kmm_rng_below(struct kmm_rng *rng, uint64_t n);
/* Uniform in [lo, hi], inclusive. */
static inline uint64_t kmm_rng_range(struct kmm_rng *rng, uint64_t lo, uint64_t hi)
{
	return lo + kmm_rng_below(rng, hi - lo + 1);
}
/* Uniform double in [0, 1). */
static inline double kmm_rng_double(struct kmm_rng *rng)
{
	return (double)(kmm_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* KMM_RANDOM_H */
