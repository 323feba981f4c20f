/*
 * Page-reference simulation (src/sim/refsim.c): exact LRU and Belady's
 * OPT on hand-computed strings, then against plain reference
 * implementations (an array kept in recency order; OPT by scanning ahead)
 * on random strings; and the one-pass stack-distance LRU against the
 * per-frame-count one.
 */
#include "kmm_test.h"
#include <errno.h>
#include <kmm/sim.h>

/* The string of Silberschatz, Galvin and Gagne, Operating System Concepts (ch. 9/10). */
static const uint64_t textbook[] = {7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1};
/* Belady's anomaly string (FIFO faults more with 4 frames than 3; LRU and OPT do not). */
static const uint64_t anomaly[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};

static void test_textbook(void)
{
	/* Counted by hand: frames 1..8, LRU and OPT. */
	static const uint64_t lru[] = {20, 17, 12, 8, 7, 6, 6, 6};
	static const uint64_t opt[] = {20, 13, 9, 8, 7, 6, 6, 6};
	size_t frames[8];
	uint64_t multi[8], f;
	for (size_t k = 0; k < 8; k++) {
		frames[k] = k + 1;
		expect_int_eq(kmm_refsim_lru(textbook, 20, k + 1, &f), 0);
		expect_u64_eq(f, lru[k]);
		expect_int_eq(kmm_refsim_opt(textbook, 20, k + 1, &f), 0);
		expect_u64_eq(f, opt[k]);
	}
	expect_int_eq(kmm_refsim_lru_multi(textbook, 20, frames, 8, multi), 0);
	for (size_t k = 0; k < 8; k++)
		expect_u64_eq(multi[k], lru[k]);
	expect_u64_eq(kmm_refsim_distinct(textbook, 20), 6);
}

static void test_anomaly_string(void)
{
	uint64_t f;
	expect_int_eq(kmm_refsim_lru(anomaly, 12, 3, &f), 0);
	expect_u64_eq(f, 10);
	expect_int_eq(kmm_refsim_lru(anomaly, 12, 4, &f), 0);
	expect_u64_eq(f, 8);
	expect_int_eq(kmm_refsim_opt(anomaly, 12, 3, &f), 0);
	expect_u64_eq(f, 7);
	expect_int_eq(kmm_refsim_opt(anomaly, 12, 4, &f), 0);
	expect_u64_eq(f, 6);
}

static void test_edges(void)
{
	uint64_t f = 99;
	size_t frames[] = {1, 5};
	uint64_t multi[2] = {9, 9};
	/* Empty strings take no faults; zero frames is an error. */
	expect_int_eq(kmm_refsim_lru(NULL, 0, 3, &f), 0);
	expect_u64_eq(f, 0);
	expect_int_eq(kmm_refsim_opt(NULL, 0, 3, &f), 0);
	expect_u64_eq(f, 0);
	expect_int_eq(kmm_refsim_lru_multi(NULL, 0, frames, 2, multi), 0);
	expect_u64_eq(multi[0], 0);
	expect_int_eq(kmm_refsim_lru(textbook, 20, 0, &f), -EINVAL);
	expect_int_eq(kmm_refsim_opt(textbook, 20, 0, &f), -EINVAL);
	/* Any 64-bit page number, the same page again and again. */
	static const uint64_t same[] = {UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 0};
	expect_int_eq(kmm_refsim_lru(same, 5, 1, &f), 0);
	expect_u64_eq(f, 4);
	expect_int_eq(kmm_refsim_opt(same, 5, 1, &f), 0);
	expect_u64_eq(f, 4);
	expect_int_eq(kmm_refsim_lru(same, 5, 2, &f), 0);
	expect_u64_eq(f, 2);
}

/* Reference LRU: an array in recency order, the victim at index 0. */
static uint64_t naive_lru(const uint64_t *refs, size_t n, size_t frames)
{
	uint64_t *st = malloc(frames * sizeof(*st)), f = 0;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < used && st[j] != refs[i])
			j++;
		if (j == used) {
			f++;
			if (used == frames)
				j = 0;
			else
				j = used++;
		}
		memmove(st + j, st + j + 1, (used - j - 1) * sizeof(*st));
		st[used - 1] = refs[i];
	}
	free(st);
	return f;
}

/* Reference OPT: evict the resident page whose next use is farthest (scan ahead). */
static uint64_t naive_opt(const uint64_t *refs, size_t n, size_t frames)
{
	uint64_t *st = malloc(frames * sizeof(*st)), f = 0;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < used && st[j] != refs[i])
			j++;
		if (j < used)
			continue;
		f++;
		if (used < frames) {
			st[used++] = refs[i];
			continue;
		}
		size_t victim = 0, far = 0;
		for (size_t k = 0; k < used; k++) {
			size_t next = i + 1;
			while (next < n && refs[next] != st[k])
				next++;
			if (next > far) {
				far = next;
				victim = k;
			}
		}
		st[victim] = refs[i];
	}
	free(st);
	return f;
}

static void test_random_against_naive(void)
{
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	for (unsigned long round = 0; round < 200 * kmm_test_scale; round++) {
		size_t n = (size_t)kmm_rng_range(&rng, 1, 600);
		uint64_t pages = kmm_rng_range(&rng, 1, 40);
		uint64_t *refs = malloc(n * sizeof(*refs));
		/* Half the strings have locality: a hot set and rare cold pages. */
		bool local = round & 1;
		for (size_t i = 0; i < n; i++)
			refs[i] = local && kmm_rng_below(&rng, 10) < 8
				      ? kmm_rng_below(&rng, (pages + 3) / 4)
				      : kmm_rng_below(&rng, pages) * 0x1000 + 7;
		size_t frames[6];
		uint64_t multi[6];
		for (size_t k = 0; k < 6; k++)
			frames[k] = (size_t)kmm_rng_range(&rng, 1, pages + 2);
		expect_int_eq(kmm_refsim_lru_multi(refs, n, frames, 6, multi), 0);
		for (size_t k = 0; k < 6; k++) {
			uint64_t lru, opt, want_lru = naive_lru(refs, n, frames[k]);
			expect_int_eq(kmm_refsim_lru(refs, n, frames[k], &lru), 0);
			expect_int_eq(kmm_refsim_opt(refs, n, frames[k], &opt), 0);
			check_u64_eq(lru, want_lru);
			check_u64_eq(multi[k], want_lru);
			check_u64_eq(opt, naive_opt(refs, n, frames[k]));
			/* No policy beats OPT. */
			expect_u64_le(opt, lru);
		}
		free(refs);
		if (kmm_test_case_failed) {
			fprintf(stderr, "round %lu (n %zu, pages %llu)\n", round, n,
				(unsigned long long)pages);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_textbook);
	run_test(test_anomaly_string);
	run_test(test_edges);
	run_test(test_random_against_naive);
	return kmm_test_done();
}
