/*
 * The test harness: typed expectations that print both values on failure
 * (jemalloc's habit), a seed for randomized tests, and a size knob.
 *
 * Every test program is plain C with a main() that calls run_test() for
 * each case. A failed expectation prints file:line, the expression and both
 * values, marks the test failed and returns from the case. Randomized tests
 * print their seed ("seed: N") and take one with --seed N; long tests take
 * --scale N (or KMM_TEST_SCALE) so CI can run a moderate size.
 */
#ifndef KMM_TEST_H
#define KMM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int kmm_test_failed;
static int kmm_test_case_failed;
static uint64_t kmm_test_seed;
static unsigned long kmm_test_scale = 1;
static const char *kmm_test_only;

#define KMM_EXPECT_FAIL_(fmt, ...)                                                            \
	do {                                                                                  \
		fprintf(stderr, "%s:%d: FAILED: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
		kmm_test_case_failed = 1;                                                     \
	} while (0)

#define KMM_EXPECT_CMP_(type, fmt, a, op, b, ret)                                             \
	do {                                                                                  \
		type a_ = (type)(a);                                                          \
		type b_ = (type)(b);                                                          \
		if (!(a_ op b_)) {                                                            \
			KMM_EXPECT_FAIL_("%s %s %s: %" fmt " vs %" fmt, #a, #op, #b, a_, b_); \
			ret;                                                                  \
		}                                                                             \
	} while (0)

#define expect_u64_eq(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, ==, b, return )
#define expect_u64_ne(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, !=, b, return )
#define expect_u64_le(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, <=, b, return )
#define expect_u64_lt(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, <, b, return )
#define expect_u64_ge(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, >=, b, return )
#define expect_u64_gt(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, >, b, return )
#define expect_x64_eq(a, b) KMM_EXPECT_CMP_(uint64_t, "#" PRIx64, a, ==, b, return )
#define expect_i64_eq(a, b) KMM_EXPECT_CMP_(int64_t, PRId64, a, ==, b, return )
#define expect_i64_le(a, b) KMM_EXPECT_CMP_(int64_t, PRId64, a, <=, b, return )
#define expect_i64_ge(a, b) KMM_EXPECT_CMP_(int64_t, PRId64, a, >=, b, return )
#define expect_int_eq(a, b) KMM_EXPECT_CMP_(long, "ld", a, ==, b, return )
#define expect_int_ne(a, b) KMM_EXPECT_CMP_(long, "ld", a, !=, b, return )
#define expect_ptr_eq(a, b) KMM_EXPECT_CMP_(const void *, "p", a, ==, b, return )
#define expect_ptr_ne(a, b) KMM_EXPECT_CMP_(const void *, "p", a, !=, b, return )
#define expect_dbl_near(a, b, eps)                                                     \
	do {                                                                           \
		double a_ = (a), b_ = (b);                                             \
		if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps))) {                         \
			KMM_EXPECT_FAIL_("%s ~ %s: %g vs %g (eps %g)", #a, #b, a_, b_, \
					 (double)(eps));                               \
			return;                                                        \
		}                                                                      \
	} while (0)
#define expect_true(c)                                                \
	do {                                                          \
		if (!(c)) {                                           \
			KMM_EXPECT_FAIL_("%s", "expected true: " #c); \
			return;                                       \
		}                                                     \
	} while (0)
#define expect_false(c)	   expect_true(!(c))
#define expect_ptr_null(p) expect_ptr_eq(p, NULL)
#define expect_ptr_not_null(p)                                            \
	do {                                                              \
		if ((p) == NULL) {                                        \
			KMM_EXPECT_FAIL_("%s", "expected non-NULL: " #p); \
			return;                                           \
		}                                                         \
	} while (0)
#define expect_str_eq(a, b)                                                                       \
	do {                                                                                      \
		const char *a_ = (a), *b_ = (b);                                                  \
		if (strcmp(a_, b_)) {                                                             \
			KMM_EXPECT_FAIL_("%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, \
					 #b, a_, b_);                                             \
			return;                                                                   \
		}                                                                                 \
	} while (0)
#define expect_str_contains(hay, needle)                                                       \
	do {                                                                                   \
		const char *h_ = (hay), *n_ = (needle);                                        \
		if (!strstr(h_, n_)) {                                                         \
			KMM_EXPECT_FAIL_("%s contains %s:\n  text: \"%s\"\n  missing: \"%s\"", \
					 #hay, #needle, h_, n_);                               \
			return;                                                                \
		}                                                                              \
	} while (0)

/* Non-returning variants, for loops that should report every mismatch. */
#define check_u64_eq(a, b) KMM_EXPECT_CMP_(uint64_t, PRIu64, a, ==, b, (void)0)

static inline void kmm_test_init(int argc, char **argv)
{
	const char *s = getenv("KMM_TEST_SCALE");
	if (s)
		kmm_test_scale = strtoul(s, NULL, 0);
	kmm_test_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			kmm_test_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			kmm_test_scale = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			kmm_test_only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--seed N] [--scale N] [--only CASE]\n",
				argv[0]);
			exit(2);
		}
	}
	if (!kmm_test_scale)
		kmm_test_scale = 1;
	printf("seed: %" PRIu64 " scale: %lu\n", kmm_test_seed, kmm_test_scale);
}

#define run_test(fn)                                                            \
	do {                                                                    \
		if (kmm_test_only && strcmp(kmm_test_only, #fn))                \
			break;                                                  \
		kmm_test_case_failed = 0;                                       \
		fn();                                                           \
		printf("%s %s\n", kmm_test_case_failed ? "FAIL" : "ok  ", #fn); \
		fflush(stdout);                                                 \
		kmm_test_failed |= kmm_test_case_failed;                        \
	} while (0)

/*
 * Cases that compare kmm with Linux 6.1's own output need the oracle data
 * (../shared/oracle beside the checkout, or -DKMM_ORACLE_DIR=DIR). In a
 * checkout without it they are skipped with a line that says so, rather
 * than failing on a missing file.
 */
static inline int kmm_test_have_oracle(void)
{
#ifdef KMM_ORACLE_DIR
	return access(KMM_ORACLE_DIR "/linux-6.1", R_OK) == 0;
#else
	return 0;
#endif
}

#ifndef KMM_ORACLE_DIR
#define KMM_ORACLE_DIR "(none)"
#endif

#define run_oracle_test(fn)                                                          \
	do {                                                                         \
		if (kmm_test_only && strcmp(kmm_test_only, #fn))                     \
			break;                                                       \
		if (!kmm_test_have_oracle()) {                                       \
			printf("skip %s: no Linux 6.1 oracle at %s (configure with " \
			       "-DKMM_ORACLE_DIR=DIR)\n",                            \
			       #fn, KMM_ORACLE_DIR);                                 \
			break;                                                       \
		}                                                                    \
		run_test(fn);                                                        \
	} while (0)

/*
 * Remove a test's scratch directory @dir with all it holds. After a failure
 * it stays, named on stderr, for a look at what the test left.
 */
static inline void kmm_test_remove_dir(const char *dir)
{
	char cmd[4200];
	if (kmm_test_failed) {
		fprintf(stderr, "kept %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

static inline int kmm_test_done(void)
{
	if (kmm_test_failed)
		fprintf(stderr, "some tests failed (re-run with --seed %" PRIu64 ")\n",
			kmm_test_seed);
	return kmm_test_failed ? 1 : 0;
}

#endif /* KMM_TEST_H */
