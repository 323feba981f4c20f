/*
 * Fault injection in the slab allocator (Linux's failslab) and below it
 * (fail_page_alloc under a slab): an operation that creates a cache,
 * allocates objects one by one and in bulk, kmallocs small and large
 * blocks, frees everything and destroys the cache is run with the 1st,
 * 2nd, ... allocation failing. Every failure must come back as NULL (or a
 * failed create with a message), the operation unwinds, and afterwards the
 * allocator holds exactly the objects it held before, with no page lost.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/slab.h>

static int sum_active(const struct kmm_slabinfo *info, void *arg)
{
	*(unsigned long *)arg += info->active_objs;
	return 0;
}

static unsigned long active_objects(struct kmm_machine *m)
{
	unsigned long n = 0;
	kmm_slab_for_each_cache(m, sum_active, &n);
	return n;
}

static unsigned long slab_and_free_pages(struct kmm_machine *m)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	unsigned long total = 0;
	const char *keys[] = {"nr_slab_reclaimable ", "nr_slab_unreclaimable "};
	for (int i = 0; i < 2; i++) {
		const char *p = strstr(b.data, keys[i]);
		total += p ? strtoul(p + strlen(keys[i]), NULL, 10) : 0;
	}
	kmm_buf_free(&b);
	kmm_drain_all_pages(m);
	return total + kmm_nr_free_pages(m);
}

/* Returns the number of allocations that failed (0 when nothing was injected). */
static int operation(struct kmm_machine *m, int cpu)
{
	int failures = 0;
	struct kmm_error err = {0};
	if (cpu >= 0)
		kmm_cpu_enter(m, cpu);
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, "fail-op", 136, 0, 0, NULL, &err);
	if (!s) {
		if (!strstr(err.msg, "fail-op"))
			KMM_EXPECT_FAIL_("create failed without naming the cache: %s", err.msg);
		failures++;
		goto out;
	}
	void *objs[40] = {0}, *bulk[16], *km[20] = {0};
	for (int i = 0; i < 40; i++)
		failures += !(objs[i] = kmm_kmem_cache_alloc(s, GFP_KERNEL | __GFP_NOWARN));
	if (kmm_kmem_cache_alloc_bulk(s, GFP_KERNEL | __GFP_NOWARN, 16, bulk) != 16) {
		failures++;
		memset(bulk, 0, sizeof(bulk));
	}
	for (int i = 0; i < 20; i++) {
		size_t size = i < 16 ? (size_t)(8 << (i % 11)) : (size_t)(20000 * (i - 15));
		failures += !(km[i] = kmm_kmalloc(m, size, GFP_KERNEL | __GFP_NOWARN));
	}
	for (int i = 0; i < 20; i++)
		kmm_kfree(m, km[i]);
	if (bulk[0])
		kmm_kmem_cache_free_bulk(s, 16, bulk);
	for (int i = 0; i < 40; i++)
		if (objs[i])
			kmm_kmem_cache_free(s, objs[i]);
	if (kmm_kmem_cache_destroy(s))
		KMM_EXPECT_FAIL_("%s", "the cache was not empty at destroy");
out:
	if (cpu >= 0)
		kmm_cpu_exit(m);
	return failures;
}

static void nth_failure(struct kmm_fault_attr *attr, const char *what, int cpu)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 2 --cpus 2");
	expect_ptr_not_null(m);
	operation(m, cpu); /* warm: the kmalloc caches get their first slabs */
	if (attr == NULL)
		attr = &m->failslab;
	else
		attr = &m->fail_page_alloc;
	unsigned long objects = active_objects(m), pages = slab_and_free_pages(m);
	unsigned long k, injected_total = 0;
	for (k = 1; k < 2000; k++) {
		struct kmm_error err = {0};
		char spec[32];
		snprintf(spec, sizeof(spec), "nth=%lu", k);
		kmm_fault_attr_init(attr, kmm_test_seed);
		kmm_fault_attr_parse(attr, spec, &err);
		int failures = operation(m, cpu);
		unsigned long injected = attr->failed;
		attr->enabled = false;
		injected_total += injected;
		if (injected == 0) {
			expect_int_eq(failures, 0);
			break;
		}
		/* A failed page allocation under a slab that falls back to a smaller order is no failure. */
		if (failures != 1 && !(attr == &m->fail_page_alloc && failures == 0)) {
			KMM_EXPECT_FAIL_("%s nth=%lu: %d allocations failed, 1 injected", what, k,
					 failures);
			return;
		}
		if (active_objects(m) != objects || slab_and_free_pages(m) != pages) {
			KMM_EXPECT_FAIL_("%s nth=%lu: objects %lu (was %lu), pages %lu (was %lu)",
					 what, k, active_objects(m), objects,
					 slab_and_free_pages(m), pages);
			return;
		}
		struct kmm_error verr = {0};
		if (kmm_slab_validate_all(m, &verr)) {
			KMM_EXPECT_FAIL_("%s nth=%lu: %s", what, k, verr.msg);
			return;
		}
	}
	printf("  %s on %s: the operation completed after %lu injected failures\n", what,
	       cpu >= 0 ? "a CPU" : "no CPU", injected_total);
	/* Every slab and kmalloc allocation can fail; only new slabs and large blocks need pages. */
	expect_u64_gt(k, attr == &m->failslab ? 70 : 4);

	kmm_machine_destroy(m);
}

static void test_failslab_nth_on_cpu(void)
{
	nth_failure(NULL, "failslab", 1);
}

static void test_failslab_nth_without_cpu(void)
{
	nth_failure(NULL, "failslab", -1);
}

static void test_fail_page_alloc_under_slab(void)
{
	static struct kmm_fault_attr page_marker;
	nth_failure(&page_marker, "fail_page_alloc", 0);
}

/* Random failures in a long mixed run: every non-NULL object works, nothing leaks. */
static void test_failslab_probability(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	operation(m, 0);
	unsigned long objects = active_objects(m), pages = slab_and_free_pages(m);
	struct kmm_error err = {0};
	kmm_fault_attr_init(&m->failslab, kmm_test_seed);
	expect_int_eq(
	    kmm_fault_attr_parse(&m->failslab, "probability=10,interval=1,times=-1", &err), 0);
	int failures = 0;
	for (int round = 0; round < 50 * (int)kmm_test_scale; round++)
		failures += operation(m, round % 2 ? 0 : -1);
	m->failslab.enabled = false;
	expect_u64_eq((unsigned long)failures, m->failslab.failed);
	expect_u64_gt(m->failslab.failed, 10);
	expect_u64_eq(active_objects(m), objects);
	expect_u64_eq(slab_and_free_pages(m), pages);
	/* __GFP_NOFAIL is never failed on purpose. */
	kmm_fault_attr_parse(&m->failslab, "probability=100,interval=1,times=-1", &err);
	void *p = kmm_kmalloc(m, 64, GFP_KERNEL | __GFP_NOFAIL);
	expect_ptr_not_null(p);
	expect_ptr_null(kmm_kmalloc(m, 64, GFP_KERNEL | __GFP_NOWARN));
	m->failslab.enabled = false;
	kmm_kfree(m, p);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_failslab_nth_on_cpu);
	run_test(test_failslab_nth_without_cpu);
	run_test(test_fail_page_alloc_under_slab);
	run_test(test_failslab_probability);
	return kmm_test_done();
}
