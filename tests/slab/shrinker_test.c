/*
 * Shrinkers: Linux's do_shrink_slab arithmetic, checked on exact figures
 * (how many objects a pass asks for at a priority, in which batches, what
 * it defers to the next pass), drop_slab, unregistering, and a shrinker
 * that frees real slab objects so the pages come back.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/slab.h>

struct pool {
	struct kmm_shrinker sh;
	struct kmm_machine *m;
	struct kmm_kmem_cache *cache;
	void **objs;
	unsigned long nr, calls, scanned;
};

static unsigned long pool_count(struct kmm_shrinker *sh, struct kmm_shrink_control *sc)
{
	(void)sc;
	struct pool *p = sh->private_data;
	return p->nr;
}

static unsigned long pool_scan(struct kmm_shrinker *sh, struct kmm_shrink_control *sc)
{
	struct pool *p = sh->private_data;
	unsigned long freed = 0;
	p->calls++;
	p->scanned += sc->nr_to_scan;
	while (freed < sc->nr_to_scan && p->nr) {
		kmm_kmem_cache_free(p->cache, p->objs[--p->nr]);
		freed++;
	}
	return freed;
}

static struct pool *pool_new(struct kmm_machine *m, const char *name, unsigned long n, int seeks)
{
	struct pool *p = calloc(1, sizeof(*p));
	struct kmm_error err = {0};
	p->m = m;
	p->cache = kmm_kmem_cache_create(m, name, 200, 0, SLAB_RECLAIM_ACCOUNT, NULL, &err);
	p->objs = calloc(n, sizeof(void *));
	for (p->nr = 0; p->nr < n; p->nr++)
		p->objs[p->nr] = kmm_kmem_cache_alloc(p->cache, GFP_KERNEL);
	p->sh = (struct kmm_shrinker){.count_objects = pool_count,
				      .scan_objects = pool_scan,
				      .seeks = seeks,
				      .private_data = p};
	kmm_register_shrinker(m, &p->sh, name);
	return p;
}

static void pool_free(struct pool *p)
{
	kmm_unregister_shrinker(p->m, &p->sh);
	while (p->nr)
		kmm_kmem_cache_free(p->cache, p->objs[--p->nr]);
	kmm_kmem_cache_destroy(p->cache);
	free(p->objs);
	free(p);
}

static unsigned long slabs_scanned(struct kmm_machine *m)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	const char *p = strstr(b.data, "slabs_scanned ");
	unsigned long v = p ? strtoul(p + strlen("slabs_scanned "), NULL, 10) : 0;
	kmm_buf_free(&b);
	return v;
}

static void test_priority_arithmetic(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	struct pool *p = pool_new(m, "pool", 1000, DEFAULT_SEEKS);

	/* Priority 12: (1000 >> 12) * 4 / 2 = 0 objects: nothing asked, nothing deferred. */
	expect_u64_eq(kmm_shrink_slab(m, GFP_KERNEL, 0, 12), 0);
	expect_u64_eq(p->calls, 0);
	expect_i64_eq(p->sh.nr_deferred, 0);

	/* Priority 6: 15 * 4 / 2 = 30 < one batch of 128: deferred, and it adds up. */
	kmm_shrink_slab(m, GFP_KERNEL, 0, 6);
	expect_u64_eq(p->calls, 0);
	expect_i64_eq(p->sh.nr_deferred, 30);
	kmm_shrink_slab(m, GFP_KERNEL, 0, 6);
	expect_i64_eq(p->sh.nr_deferred, 60);

	/*
	 * Priority 0: 60 deferred + 1000 * 4 / 2 = 2060, capped at 2 * 1000: 15
	 * batches of 128 (1920 scanned), all 1000 objects freed, and
	 * 60 + 2000 - 1920 = 140 deferred.
	 */
	unsigned long scanned0 = slabs_scanned(m);
	expect_u64_eq(kmm_shrink_slab(m, GFP_KERNEL, 0, 0), 1000);
	expect_u64_eq(p->calls, 15);
	expect_u64_eq(p->scanned, 1920);
	expect_i64_eq(p->sh.nr_deferred, 140);
	expect_u64_eq(slabs_scanned(m) - scanned0, 1920);
	expect_u64_eq(p->nr, 0);
	pool_free(p);
	kmm_machine_destroy(m);
}

static void test_drop_slab_gives_pages_back(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	kmm_drain_all_pages(m);
	unsigned long free0 = kmm_nr_free_pages(m);
	struct pool *a = pool_new(m, "pool-a", 5000, DEFAULT_SEEKS);
	struct pool *b = pool_new(m, "pool-b", 3000, 0); /* seeks 0: half per pass */
	expect_u64_lt(kmm_nr_free_pages(m), free0 - 300);
	/*
	 * A shrinker of seeks 2 at priority 0 is asked for twice its objects: all
	 * go. One of seeks 0 gives half per pass, and drop_slab stops once a
	 * pass frees 10 or fewer, as Linux's does: a few dozen stay.
	 */
	unsigned long freed = kmm_drop_slab(m);
	expect_u64_eq(a->nr, 0);
	expect_u64_lt(b->nr, 128);
	expect_u64_eq(freed, 8000 - b->nr);
	while (b->nr)
		kmm_kmem_cache_free(b->cache, b->objs[--b->nr]);
	kmm_kmem_cache_shrink(a->cache);
	kmm_kmem_cache_shrink(b->cache);
	kmm_drain_all_pages(m);
	/* Only the caches' own structures remain; every slab page is back. */
	expect_u64_ge(kmm_nr_free_pages(m) + 4, free0);
	pool_free(a);
	/* Unregistered: a pass no longer calls it. */
	unsigned long calls = b->calls;
	for (unsigned long i = 0; i < 100; i++)
		b->objs[b->nr++] = kmm_kmem_cache_alloc(b->cache, GFP_KERNEL);
	kmm_unregister_shrinker(m, &b->sh);
	expect_u64_eq(kmm_drop_slab(m), 0);
	expect_u64_eq(b->calls, calls);
	kmm_register_shrinker(m, &b->sh, "pool-b");
	pool_free(b);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_priority_arithmetic);
	run_test(test_drop_slab_gives_pages_back);
	return kmm_test_done();
}
