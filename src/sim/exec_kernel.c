/*
 * Workload operations of the kernel itself: blocks from the page
 * allocator, objects from kmalloc and kmem caches, kept in named pools.
 *
 * Linux: what kernel code asks of mm/page_alloc.c (alloc_pages,
 * alloc_pages_node, __free_pages) and mm/slab_common.c, mm/slub.c
 * (kmem_cache_create, kmem_cache_alloc, kmalloc, kfree, kmem_cache_free,
 * kmem_cache_destroy).
 *
 * A pool is a ring of what one name holds, oldest first: free takes from
 * the front (fifo), the back (lifo) or anywhere (random: the newest fills
 * the hole). Each pool has a mutex, taken only to push or pop: the
 * allocation and the free themselves run outside it, on the caller's
 * simulated CPU, so in concurrent mode CPUs contend in the allocators as
 * they would in Linux, not in the pool.
 */
#include "exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sim_pools_init(struct sim_run *r)
{
	const struct wl_program *p = r->p;
	r->pools = calloc(p->npools + 1, sizeof(*r->pools));
	r->caches = calloc(p->ncaches + 1, sizeof(*r->caches));
	if (!r->pools || !r->caches)
		return -ENOMEM;
	for (size_t i = 0; i < p->npools; i++) {
		pthread_mutex_init(&r->pools[i].lock, NULL);
		r->pools[i].kind = p->pools[i].kind;
		r->pools[i].spec = p->pools[i].first_alloc;
	}
	return 0;
}

static bool pool_push(struct sim_pool *pl, void *item, uint32_t info)
{
	if (pl->count == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 64;
		void **items = malloc(cap * sizeof(*items));
		uint32_t *infos = malloc(cap * sizeof(*infos));
		if (!items || !infos) {
			free(items);
			free(infos);
			return false;
		}
		for (size_t i = 0; i < pl->count; i++) {
			size_t j = (pl->head + i) & (pl->cap - 1);
			items[i] = pl->items[j];
			infos[i] = pl->info[j];
		}
		free(pl->items);
		free(pl->info);
		pl->items = items;
		pl->info = infos;
		pl->head = 0;
		pl->cap = cap;
	}
	size_t tail = (pl->head + pl->count) & (pl->cap - 1);
	pl->items[tail] = item;
	pl->info[tail] = info;
	pl->count++;
	return true;
}

/* Take one item out of a pool that is not empty. */
static void *pool_pop(struct sim_pool *pl, enum wl_pick pick, struct kmm_rng *rng, uint32_t *info)
{
	size_t mask = pl->cap - 1, idx;
	size_t last = (pl->head + pl->count - 1) & mask;
	if (pick == WL_PICK_FIFO) {
		idx = pl->head;
		pl->head = (pl->head + 1) & mask;
	} else {
		idx =
		    pick == WL_PICK_LIFO ? last : (pl->head + kmm_rng_below(rng, pl->count)) & mask;
		/* The newest item fills the hole. */
		void *item = pl->items[idx];
		uint32_t in = pl->info[idx];
		pl->items[idx] = pl->items[last];
		pl->info[idx] = pl->info[last];
		pl->items[last] = item;
		pl->info[last] = in;
		idx = last;
	}
	pl->count--;
	*info = pl->info[idx];
	return pl->items[idx];
}

/* Give one item back to the allocator it came from. */
static void release(struct sim_run *r, const struct sim_pool *pl, size_t pool, void *item,
		    uint32_t info, struct sim_stats *st)
{
	switch (pl->kind) {
	case WL_POOL_PAGES:
		kmm_free_pages(r->m, item, info);
		if (st) {
			st->pages_freed += 1UL << info;
			st->blocks_freed++;
		}
		return;
	case WL_POOL_KMALLOC:
		kmm_kfree(r->m, item);
		break;
	case WL_POOL_CACHE:
		kmm_kmem_cache_free(r->caches[r->p->pools[pool].cache], item);
		break;
	default:
		return;
	}
	if (st)
		st->objects_freed++;
}

/* One allocation as @spec (an alloc_pages, kmalloc or kmem_cache_alloc) says. */
static void alloc_one(struct sim_run *r, const struct wl_op *spec, int cpu)
{
	size_t pool = (size_t)spec->u.alloc.pool;
	struct sim_pool *pl = &r->pools[pool];
	struct sim_stats *st = &r->stats[cpu];
	int node = spec->u.alloc.node;
	gfp_t gfp = spec->u.alloc.gfp;
	void *item;
	uint32_t info;
	st->alloc_calls++;
	switch (spec->kind) {
	case WL_OP_ALLOC_PAGES:
		info = (uint32_t)wl_dist_sample(spec->u.alloc.dist, &r->rng[cpu].size);
		item = node >= 0 ? kmm_alloc_pages_node(r->m, node, gfp, info)
				 : kmm_alloc_pages(r->m, gfp, info);
		break;
	case WL_OP_KMALLOC:
		info = (uint32_t)wl_dist_sample(spec->u.alloc.dist, &r->rng[cpu].size);
		item = node >= 0 ? kmm_kmalloc_node(r->m, info, gfp, node)
				 : kmm_kmalloc(r->m, info, gfp);
		break;
	default: {
		struct kmm_kmem_cache *s = r->caches[spec->u.alloc.cache];
		info = kmm_kmem_cache_size(s);
		item = node >= 0 ? kmm_kmem_cache_alloc_node(s, gfp, node)
				 : kmm_kmem_cache_alloc(s, gfp);
		break;
	}
	}
	if (!item) {
		st->alloc_failed++;
		return;
	}
	if (pl->kind == WL_POOL_PAGES) {
		st->pages_allocated += 1UL << info;
	} else {
		st->objects_allocated++;
		st->bytes_requested += info;
	}
	pthread_mutex_lock(&pl->lock);
	bool kept = pool_push(pl, item, info);
	pthread_mutex_unlock(&pl->lock);
	if (!kept) /* no host memory to remember it: give it back */
		release(r, pl, pool, item, info, st);
}

static bool free_one(struct sim_run *r, size_t pool, enum wl_pick pick, int cpu)
{
	struct sim_pool *pl = &r->pools[pool];
	uint32_t info;
	pthread_mutex_lock(&pl->lock);
	if (!pl->count) {
		pthread_mutex_unlock(&pl->lock);
		return false;
	}
	void *item = pool_pop(pl, pick, &r->rng[cpu].pick, &info);
	pthread_mutex_unlock(&pl->lock);
	release(r, pl, pool, item, info, &r->stats[cpu]);
	return true;
}

void sim_exec_alloc(struct sim_run *r, const struct wl_op *op, int cpu)
{
	/* Which allocation is the pool's last is a race between CPUs: any will do. */
	WRITE_ONCE(r->pools[op->u.alloc.pool].spec, (uint32_t)(op - r->p->ops));
	for (uint64_t i = 0; i < op->u.alloc.count; i++)
		alloc_one(r, op, cpu);
}

void sim_exec_free(struct sim_run *r, const struct wl_op *op, int cpu)
{
	for (uint64_t i = 0; op->u.free.all || i < op->u.free.count; i++)
		if (!free_one(r, (size_t)op->u.free.pool, op->u.free.pick, cpu))
			break;
}

void sim_exec_churn(struct sim_run *r, const struct wl_op *op, int cpu)
{
	size_t pool = (size_t)op->u.churn.pool;
	for (uint64_t i = 0; i < op->u.churn.steps; i++) {
		bool do_free = kmm_rng_below(&r->rng[cpu].coin, 100) < op->u.churn.free_pct;
		if (!do_free || !free_one(r, pool, WL_PICK_RANDOM, cpu))
			alloc_one(r, &r->p->ops[READ_ONCE(r->pools[pool].spec)], cpu);
	}
}

void sim_exec_cache_create(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_error e = {0};
	int c = op->u.cache.cache;
	struct kmm_kmem_cache *s =
	    kmm_kmem_cache_create(r->m, r->p->caches[c].name, (unsigned int)op->u.cache.size,
				  (unsigned int)op->u.cache.align,
				  op->u.cache.hwcache_align ? SLAB_HWCACHE_ALIGN : 0, NULL, &e);
	if (!s)
		sim_fail(r, op, "%s", e.msg);
	r->caches[c] = s;
}

void sim_exec_cache_destroy(struct sim_run *r, const struct wl_op *op, int cpu)
{
	int c = op->u.cache.cache;
	/* The checker saw every pool of this cache freed: nothing can remain. */
	long left = kmm_kmem_cache_destroy(r->caches[c]);
	if (left)
		sim_fail(r, op, "kmem_cache_destroy %s: %ld objects remain", r->p->caches[c].name,
			 left);
	r->caches[c] = NULL;
}

void sim_pools_release(struct sim_run *r)
{
	if (!r->pools)
		return;
	for (size_t i = 0; i < r->p->npools; i++) {
		struct sim_pool *pl = &r->pools[i];
		if (r->m)
			while (pl->count) {
				uint32_t info;
				void *item = pool_pop(pl, WL_PICK_LIFO, NULL, &info);
				release(r, pl, i, item, info, NULL);
			}
		pthread_mutex_destroy(&pl->lock);
		free(pl->items);
		free(pl->info);
	}
	free(r->pools);
	free(r->caches);
	r->pools = NULL;
	r->caches = NULL;
}
