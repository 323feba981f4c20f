/*
 * The slab allocator against a shadow model: random sequences of cache and
 * kmalloc allocations and frees, bulk operations, krealloc, node-bound
 * allocations, shrinks, from random CPUs (and from no CPU, and freeing on
 * another CPU than the one that allocated), with the validator after every
 * step. Every live object carries a pattern that is checked before it is
 * freed, so overlapping or recycled-while-live objects are caught on data.
 * At the end every object is freed, the test caches are destroyed (which
 * must find nothing left) and the pages the slab allocator holds are what
 * they were at the start.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/slab.h>

#define NR_CACHES  6
#define CTOR_MAGIC 0xc7

struct live {
	uint8_t *p;
	struct kmm_kmem_cache *s; /* NULL: kmalloc */
	size_t size;
	uint32_t tag;
};

struct model {
	struct kmm_machine *m;
	struct kmm_rng rng;
	struct kmm_kmem_cache *caches[NR_CACHES];
	bool has_ctor[NR_CACHES];
	struct live *live;
	size_t nr_live, max_live;
	uint32_t next_tag;
	unsigned long steps;
};

static void ctor(void *obj)
{
	/* Constructed state: the first 8 bytes (objects are at least 8 bytes). */
	memset(obj, CTOR_MAGIC, 8);
}

static void fill(struct live *l)
{
	for (size_t i = 0; i < l->size; i++)
		l->p[i] = (uint8_t)(l->tag * 31 + i);
}

static bool intact(const struct live *l)
{
	for (size_t i = 0; i < l->size; i++)
		if (l->p[i] != (uint8_t)(l->tag * 31 + i))
			return false;
	return true;
}

static int cache_index(struct model *md, struct kmm_kmem_cache *s)
{
	for (int i = 0; i < NR_CACHES; i++)
		if (md->caches[i] == s)
			return i;
	return -1;
}

/* Enter a random CPU, or none (the no-CPU path) one time in eight. */
static void enter_random_cpu(struct model *md)
{
	int cpu = (int)kmm_rng_below(&md->rng, (uint64_t)md->m->nr_cpus * 8 / 7 + 1);
	if (cpu < md->m->nr_cpus)
		kmm_cpu_enter(md->m, cpu);
}

static void leave_cpu(struct model *md)
{
	if (kmm_this_cpu(md->m))
		kmm_cpu_exit(md->m);
}

static bool add_live(struct model *md, uint8_t *p, struct kmm_kmem_cache *s, size_t size)
{
	if (md->nr_live == md->max_live)
		return false;
	struct live *l = &md->live[md->nr_live++];
	*l = (struct live){.p = p, .s = s, .size = size, .tag = md->next_tag++};
	return true;
}

static size_t random_kmalloc_size(struct model *md)
{
	switch (kmm_rng_below(&md->rng, 4)) {
	case 0:
		return 1 + kmm_rng_below(&md->rng, 64);
	case 1:
		return 1 + kmm_rng_below(&md->rng, 512);
	case 2:
		return 1 + kmm_rng_below(&md->rng, 8192);
	default:
		return 1 + kmm_rng_below(&md->rng, 40000);
	}
}

/* Check and release what the model holds for object @i (swap-remove). */
static bool drop_live(struct model *md, size_t i)
{
	struct live *l = &md->live[i];
	if (!intact(l)) {
		KMM_EXPECT_FAIL_("step %lu: object %p (tag %u, %zu bytes, %s) was overwritten",
				 md->steps, (void *)l->p, l->tag, l->size,
				 l->s ? kmm_kmem_cache_name(l->s) : "kmalloc");
		return false;
	}
	int ci = l->s ? cache_index(md, l->s) : -1;
	if (ci >= 0 && md->has_ctor[ci])
		memset(l->p, CTOR_MAGIC, 8); /* back to the constructed state before freeing */
	md->live[i] = md->live[--md->nr_live];
	return true;
}

static bool check_new_object(struct model *md, uint8_t *p, struct kmm_kmem_cache *s, bool zero,
			     size_t size)
{
	struct kmm_machine *m = md->m;
	if (!virt_addr_in_ram(m, p)) {
		KMM_EXPECT_FAIL_("step %lu: %p is not in simulated RAM", md->steps, (void *)p);
		return false;
	}
	if (kmm_ksize(m, p) < size) {
		KMM_EXPECT_FAIL_("step %lu: ksize %zu < %zu requested", md->steps, kmm_ksize(m, p),
				 size);
		return false;
	}
	int ci = s ? cache_index(md, s) : -1;
	if (ci >= 0 && md->has_ctor[ci])
		for (int i = 0; i < 8; i++)
			if (p[i] != CTOR_MAGIC) {
				KMM_EXPECT_FAIL_(
				    "step %lu: object of %s lost its constructed state", md->steps,
				    kmm_kmem_cache_name(s));
				return false;
			}
	if (zero)
		for (size_t i = 0; i < size; i++)
			if (p[i]) {
				KMM_EXPECT_FAIL_("step %lu: __GFP_ZERO object has byte %zu = %#x",
						 md->steps, i, p[i]);
				return false;
			}
	return true;
}

static bool op_cache_alloc(struct model *md)
{
	int ci = (int)kmm_rng_below(&md->rng, NR_CACHES);
	struct kmm_kmem_cache *s = md->caches[ci];
	bool zero = !md->has_ctor[ci] && kmm_rng_below(&md->rng, 4) == 0;
	int node = kmm_rng_below(&md->rng, 5) == 0
		       ? (int)kmm_rng_below(&md->rng, (uint64_t)md->m->nr_node_ids)
		       : -1;
	gfp_t gfp = GFP_KERNEL | (zero ? __GFP_ZERO : 0);
	uint8_t *p =
	    node < 0 ? kmm_kmem_cache_alloc(s, gfp) : kmm_kmem_cache_alloc_node(s, gfp, node);
	if (!p) {
		KMM_EXPECT_FAIL_("step %lu: %s alloc failed", md->steps, kmm_kmem_cache_name(s));
		return false;
	}
	if (node >= 0 && page_to_nid(virt_to_page(md->m, p)) != node) {
		KMM_EXPECT_FAIL_("step %lu: asked node %d, got an object on node %d", md->steps,
				 node, page_to_nid(virt_to_page(md->m, p)));
		return false;
	}
	if (!check_new_object(md, p, s, zero, kmm_kmem_cache_size(s)))
		return false;
	if (!add_live(md, p, s, kmm_kmem_cache_size(s))) {
		kmm_kmem_cache_free(s, p);
		return true;
	}
	fill(&md->live[md->nr_live - 1]);
	return true;
}

static bool op_kmalloc(struct model *md)
{
	size_t size = random_kmalloc_size(md);
	bool zero = kmm_rng_below(&md->rng, 4) == 0;
	uint8_t *p =
	    zero ? kmm_kzalloc(md->m, size, GFP_KERNEL) : kmm_kmalloc(md->m, size, GFP_KERNEL);
	if (!p) {
		KMM_EXPECT_FAIL_("step %lu: kmalloc(%zu) failed", md->steps, size);
		return false;
	}
	if (!check_new_object(md, p, NULL, zero, size))
		return false;
	if (!add_live(md, p, NULL, size)) {
		kmm_kfree(md->m, p);
		return true;
	}
	fill(&md->live[md->nr_live - 1]);
	return true;
}

static bool op_free(struct model *md)
{
	if (!md->nr_live)
		return true;
	size_t i = kmm_rng_below(&md->rng, md->nr_live);
	uint8_t *p = md->live[i].p;
	struct kmm_kmem_cache *s = md->live[i].s;
	if (!drop_live(md, i))
		return false;
	if (s)
		kmm_kmem_cache_free(s, p);
	else
		kmm_kfree(md->m, p);
	return true;
}

static bool op_bulk_alloc(struct model *md)
{
	void *p[64];
	int ci = (int)kmm_rng_below(&md->rng, NR_CACHES);
	struct kmm_kmem_cache *s = md->caches[ci];
	size_t n = 1 + kmm_rng_below(&md->rng, 64);
	if (md->nr_live + n > md->max_live)
		return true;
	if (kmm_kmem_cache_alloc_bulk(s, GFP_KERNEL, n, p) != n) {
		KMM_EXPECT_FAIL_("step %lu: bulk alloc of %zu failed", md->steps, n);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!check_new_object(md, p[i], s, false, kmm_kmem_cache_size(s)))
			return false;
		add_live(md, p[i], s, kmm_kmem_cache_size(s));
		fill(&md->live[md->nr_live - 1]);
	}
	return true;
}

static bool op_bulk_free(struct model *md)
{
	void *p[64];
	size_t n = 0;
	int ci = (int)kmm_rng_below(&md->rng, NR_CACHES);
	struct kmm_kmem_cache *s = md->caches[ci];
	size_t want = 1 + kmm_rng_below(&md->rng, 64);
	for (size_t i = 0; i < md->nr_live && n < want;) {
		if (md->live[i].s == s && kmm_rng_below(&md->rng, 2)) {
			p[n++] = md->live[i].p;
			if (!drop_live(md, i))
				return false;
			continue; /* slot i now holds another object */
		}
		i++;
	}
	kmm_kmem_cache_free_bulk(s, n, p);
	return true;
}

static bool op_krealloc(struct model *md)
{
	for (size_t tries = 0; tries < 8 && md->nr_live; tries++) {
		size_t i = kmm_rng_below(&md->rng, md->nr_live);
		struct live *l = &md->live[i];
		if (l->s)
			continue;
		if (!intact(l)) {
			KMM_EXPECT_FAIL_("step %lu: object %p overwritten before krealloc",
					 md->steps, (void *)l->p);
			return false;
		}
		size_t new_size = random_kmalloc_size(md);
		uint8_t *q = kmm_krealloc(md->m, l->p, new_size, GFP_KERNEL);
		if (!q) {
			KMM_EXPECT_FAIL_("step %lu: krealloc to %zu failed", md->steps, new_size);
			return false;
		}
		size_t keep = kmm_min(l->size, new_size);
		for (size_t k = 0; k < keep; k++)
			if (q[k] != (uint8_t)(l->tag * 31 + k)) {
				KMM_EXPECT_FAIL_("step %lu: krealloc lost byte %zu", md->steps, k);
				return false;
			}
		l->p = q;
		l->size = new_size;
		fill(l);
		return true;
	}
	return true;
}

static bool op_shrink(struct model *md)
{
	struct kmm_kmem_cache *s =
	    kmm_rng_below(&md->rng, 2)
		? md->caches[kmm_rng_below(&md->rng, NR_CACHES)]
		: kmm_kmalloc_cache(md->m, 1 + kmm_rng_below(&md->rng, 8192), GFP_KERNEL);
	kmm_kmem_cache_shrink(s);
	return true;
}

static bool validate_all_caches(struct model *md)
{
	struct kmm_error err = {0};
	if (kmm_slab_validate_all(md->m, &err)) {
		KMM_EXPECT_FAIL_("step %lu: %s", md->steps, err.msg);
		return false;
	}
	return true;
}

static bool validate_touched(struct model *md)
{
	struct kmm_error err = {0};
	for (int i = 0; i < NR_CACHES; i++)
		if (kmm_slab_validate(md->caches[i], &err)) {
			KMM_EXPECT_FAIL_("step %lu: %s", md->steps, err.msg);
			return false;
		}
	return true;
}

struct slab_pages_sum {
	unsigned long pages;
};

static int add_cache_pages(const struct kmm_slabinfo *info, void *arg)
{
	struct slab_pages_sum *sum = arg;
	sum->pages += info->num_slabs * info->pagesperslab;
	return 0;
}

/* Pages in slabs according to the caches, and according to vmstat (with large kmallocs). */
static unsigned long slab_pages(struct kmm_machine *m)
{
	struct slab_pages_sum sum = {0};
	kmm_slab_for_each_cache(m, add_cache_pages, &sum);
	return sum.pages;
}

static unsigned long vmstat_slab_pages(struct kmm_machine *m)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	unsigned long r = 0, u = 0;
	const char *p = strstr(b.data, "nr_slab_reclaimable ");
	if (p)
		r = strtoul(p + strlen("nr_slab_reclaimable "), NULL, 10);
	p = strstr(b.data, "nr_slab_unreclaimable ");
	if (p)
		u = strtoul(p + strlen("nr_slab_unreclaimable "), NULL, 10);
	kmm_buf_free(&b);
	return r + u;
}

static void run_model(const char *machine, unsigned long steps, uint64_t seed)
{
	struct model md = {0};
	md.m = kmm_test_boot(machine);
	expect_ptr_not_null(md.m);
	struct kmm_machine *m = md.m;
	kmm_rng_seed(&md.rng, seed);
	md.max_live = 3000;
	md.live = calloc(md.max_live, sizeof(*md.live));

	kmm_drain_all_pages(m);
	unsigned long free0 = kmm_nr_free_pages(m), slab0 = vmstat_slab_pages(m);
	expect_u64_eq(slab_pages(m), slab0);

	for (int i = 0; i < NR_CACHES; i++) {
		char name[32];
		struct kmm_error err = {0};
		unsigned int size = (unsigned int)(i < 2 ? 8 + kmm_rng_below(&md.rng, 120)
							 : 8 + kmm_rng_below(&md.rng, 3000));
		slab_flags_t flags = 0;
		if (kmm_rng_below(&md.rng, 2))
			flags |= SLAB_HWCACHE_ALIGN;
		if (kmm_rng_below(&md.rng, 3) == 0)
			flags |= SLAB_RECLAIM_ACCOUNT;
		md.has_ctor[i] = kmm_rng_below(&md.rng, 3) == 0;
		snprintf(name, sizeof(name), "model-%d", i);
		md.caches[i] = kmm_kmem_cache_create(m, name, size, 0, flags,
						     md.has_ctor[i] ? ctor : NULL, &err);
		if (!md.caches[i])
			fprintf(stderr, "create %s: %s\n", name, err.msg);
		expect_ptr_not_null(md.caches[i]);
	}

	for (md.steps = 0; md.steps < steps; md.steps++) {
		enter_random_cpu(&md);
		unsigned int op = (unsigned int)kmm_rng_below(&md.rng, 100);
		bool ok;
		if (op < 30)
			ok = op_cache_alloc(&md);
		else if (op < 50)
			ok = op_kmalloc(&md);
		else if (op < 85)
			ok = op_free(&md);
		else if (op < 89)
			ok = op_bulk_alloc(&md);
		else if (op < 93)
			ok = op_bulk_free(&md);
		else if (op < 98)
			ok = op_krealloc(&md);
		else
			ok = op_shrink(&md);
		leave_cpu(&md);
		if (!ok || !validate_touched(&md))
			return;
		if (md.steps % 256 == 0) {
			for (size_t i = 0; i < md.nr_live; i++)
				if (!intact(&md.live[i])) {
					KMM_EXPECT_FAIL_("step %lu: object %p (tag %u) overwritten",
							 md.steps, (void *)md.live[i].p,
							 md.live[i].tag);
					return;
				}
			if (!validate_all_caches(&md))
				return;
		}
	}

	/* Free everything, from random CPUs. */
	while (md.nr_live) {
		enter_random_cpu(&md);
		bool ok = op_free(&md);
		leave_cpu(&md);
		if (!ok)
			return;
	}
	if (!validate_all_caches(&md))
		return;
	for (int i = 0; i < NR_CACHES; i++)
		expect_i64_eq(kmm_kmem_cache_destroy(md.caches[i]), 0);
	expect_ptr_null(kmm_kmem_cache_find(m, "model-0"));

	/* The slab allocator holds pages it had, or fewer; the rest is free again. */
	kmm_drain_all_pages(m);
	unsigned long slab1 = vmstat_slab_pages(m);
	expect_u64_eq(slab_pages(m), slab1);
	expect_u64_eq(kmm_nr_free_pages(m) + slab1, free0 + slab0);
	struct kmm_error err = {0};
	if (kmm_page_alloc_validate(m, &err))
		KMM_EXPECT_FAIL_("page allocator: %s", err.msg);
	free(md.live);
	kmm_machine_destroy(m);
}

static void test_model_two_nodes(void)
{
	run_model("--mem 96M --nodes 2 --cpus 4", 3000 * kmm_test_scale, kmm_test_seed);
}

static void test_model_one_cpu_flat(void)
{
	run_model("--mem 48M --nodes 1 --cpus 1 --model flat", 1500 * kmm_test_scale,
		  kmm_test_seed + 1);
}

static void test_model_sparse_bitmap(void)
{
	run_model("--mem 64M --nodes 1 --cpus 3 --model sparse --buddy bitmap",
		  1500 * kmm_test_scale, kmm_test_seed + 2);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_model_two_nodes);
	run_test(test_model_one_cpu_flat);
	run_test(test_model_sparse_bitmap);
	return kmm_test_done();
}
