/*
 * Fault injection in the page allocator (Linux's fail_page_alloc): every
 * injected failure returns NULL cleanly and leaks nothing; the knobs
 * (nth, probability, interval, times, min_order, ignore_gfp_reclaim,
 * ignore_gfp_highmem) mean what they say.
 */
#include "kmm_test.h"
#include <errno.h>
#include <kmm/kmm.h>
#include "page/internal.h"

static struct kmm_machine *boot_small(void)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	char *argv[] = {"--mem", "128M", "--nodes", "2", "--cpus", "2"};
	if (kmm_config_parse_args(&cfg, 6, argv, &err))
		return NULL;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (m)
		kmm_wait_for_init(m);
	return m;
}

static unsigned long free_everything(struct kmm_machine *m)
{
	kmm_drain_all_pages(m);
	return kmm_nr_free_pages(m);
}

static void set_fail(struct kmm_machine *m, const char *spec)
{
	struct kmm_error err = {0};
	kmm_fault_attr_init(&m->fail_page_alloc, kmm_test_seed);
	if (spec && kmm_fault_attr_parse(&m->fail_page_alloc, spec, &err))
		fprintf(stderr, "fault spec: %s\n", err.msg);
}

/*
 * An operation that allocates 64 blocks of mixed orders, some in bulk, and
 * frees them all. With the nth allocation failing, it must see exactly one
 * NULL, unwind, and leave the free count where it was (SQLite's habit).
 */
static int operation(struct kmm_machine *m, struct kmm_rng *rng)
{
	struct kmm_page *pages[64] = {0};
	unsigned int orders[64];
	int failures = 0;
	kmm_cpu_enter(m, 0);
	for (int i = 0; i < 48; i++) {
		orders[i] = (unsigned int)kmm_rng_below(rng, 4);
		pages[i] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, orders[i]);
		failures += !pages[i];
	}
	unsigned long got = kmm_alloc_pages_bulk(m, GFP_KERNEL | __GFP_NOWARN, 16, pages + 48);
	for (int i = 48; i < 64; i++)
		orders[i] = 0;
	failures += (int)(16 - got);
	for (int i = 0; i < 64; i++)
		if (pages[i])
			kmm_free_pages(m, pages[i], orders[i]);
	kmm_cpu_exit(m);
	return failures;
}

static void test_nth_failure_leaks_nothing(void)
{
	struct kmm_machine *m = boot_small();
	expect_ptr_not_null(m);
	unsigned long before = free_everything(m);
	struct kmm_error err = {0};
	unsigned long k;
	/* Fail the 1st, 2nd, ... allocation until the operation runs clean through. */
	for (k = 1; k < 1000; k++) {
		char spec[64];
		snprintf(spec, sizeof(spec), "nth=%lu", k);
		set_fail(m, spec);
		struct kmm_rng rng;
		kmm_rng_seed(&rng, kmm_test_seed + k);
		int failures = operation(m, &rng);
		expect_u64_eq(free_everything(m), before);
		expect_int_eq(kmm_page_alloc_validate(m, &err), 0);
		if (!m->fail_page_alloc.failed) {
			expect_int_eq(failures, 0);
			break;
		}
		expect_u64_eq(m->fail_page_alloc.failed, 1);
		expect_int_ne(failures, 0);
	}
	/* 48 single allocations and one bulk call (which may fall back to one more). */
	expect_u64_ge(k, 50);
	set_fail(m, NULL);
	kmm_machine_destroy(m);
}

static void test_probability_and_times(void)
{
	struct kmm_machine *m = boot_small();
	expect_ptr_not_null(m);
	set_fail(m, "probability=100,times=3");
	int nulls = 0;
	for (int i = 0; i < 10; i++) {
		struct kmm_page *p = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 0);
		if (p)
			kmm_free_pages(m, p, 0);
		else
			nulls++;
	}
	expect_int_eq(nulls, 3);
	/* interval=3: only every third eligible call may fail. */
	set_fail(m, "probability=100,interval=3");
	nulls = 0;
	for (int i = 0; i < 9; i++) {
		struct kmm_page *p = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 0);
		if (p)
			kmm_free_pages(m, p, 0);
		else
			nulls++;
	}
	expect_int_eq(nulls, 3);
	set_fail(m, NULL);
	kmm_machine_destroy(m);
}

static void test_filters(void)
{
	struct kmm_machine *m = boot_small();
	expect_ptr_not_null(m);
	struct kmm_page *p;
	/* min_order: small allocations pass. */
	set_fail(m, "probability=100,min_order=3");
	p = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 2);
	expect_ptr_not_null(p);
	kmm_free_pages(m, p, 2);
	expect_ptr_null(kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 3));
	/* ignore_gfp_reclaim: allocations that may sleep pass, atomic ones fail. */
	set_fail(m, "probability=100,ignore_gfp_reclaim=1");
	p = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 0);
	expect_ptr_not_null(p);
	kmm_free_pages(m, p, 0);
	expect_ptr_null(kmm_alloc_pages(m, GFP_ATOMIC | __GFP_NOWARN, 0));
	/* ignore_gfp_highmem: __GFP_HIGHMEM allocations pass. */
	set_fail(m, "probability=100,ignore_gfp_highmem=1");
	p = kmm_alloc_pages(m, GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 0);
	expect_ptr_not_null(p);
	kmm_free_pages(m, p, 0);
	expect_ptr_null(kmm_alloc_pages(m, GFP_USER | __GFP_NOWARN, 0));
	/* __GFP_NOFAIL is never failed on purpose. */
	set_fail(m, "probability=100");
	p = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOFAIL, 0);
	expect_ptr_not_null(p);
	kmm_free_pages(m, p, 0);
	set_fail(m, NULL);
	kmm_machine_destroy(m);
}

static void test_spec_errors(void)
{
	struct kmm_fault_attr attr;
	struct kmm_error err = {0};
	kmm_fault_attr_init(&attr, 1);
	expect_int_eq(kmm_fault_attr_parse(&attr, "probability=101", &err), -EINVAL);
	expect_str_contains(err.msg, "probability=101");
	expect_int_eq(kmm_fault_attr_parse(&attr, "nth", &err), -EINVAL);
	expect_str_contains(err.msg, "key=value");
	expect_int_eq(kmm_fault_attr_parse(&attr, "interval=x", &err), -EINVAL);
	expect_str_contains(err.msg, "needs a number");
	expect_int_eq(kmm_fault_attr_parse(&attr, "bogus=1", &err), -EINVAL);
	expect_str_contains(err.msg, "unknown key");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_spec_errors);
	run_test(test_nth_failure_leaks_nothing);
	run_test(test_probability_and_times);
	run_test(test_filters);
	return kmm_test_done();
}
