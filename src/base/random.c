/*
 * Seeding and bounded draws for the xoshiro256** generator in kmm/random.h.
 */
#include <kmm/random.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void kmm_rng_seed(struct kmm_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

uint64_t kmm_rng_below(struct kmm_rng *rng, uint64_t n)
{
	/* Lemire, "Fast Random Integer Generation in an Interval", 2019. */
	unsigned __int128 m = (unsigned __int128)kmm_rng_next(rng) * n;
	uint64_t low = (uint64_t)m;
	if (low < n) {
		uint64_t threshold = -n % n;
		while (low < threshold) {
			m = (unsigned __int128)kmm_rng_next(rng) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}
