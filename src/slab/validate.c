/*
 * The slab allocator's invariant checker (CONFIG_DEBUG_VM and
 * /sys/kernel/slab/<cache>/validate for kmm).
 *
 * Linux: mm/slub.c validate_slab_cache / validate_slab_node /
 * validate_slab. kmm checks more, because its tests call this after every
 * step: every slab of the cache is found by walking the memmap (Linux keeps
 * full slabs on a list only under debugging), and then
 *  - each slab: a slab page of this cache with a sane object count; its
 *    freelist has only valid, distinct objects, and their number plus
 *    inuse equals objects;
 *  - a frozen slab is its CPU's slab or on its CPU's partial chain; the CPU
 *    slab's private freelist is disjoint from the slab's own;
 *  - a slab that is not frozen is on its node's partial list exactly when it
 *    has free objects; nr_partial, nr_slabs and total_objects agree;
 *  - in debug caches, every object's red zones and poison are intact and
 *    the slab's padding too (a damaged one is reported and repaired).
 * Not thread-safe against users of the cache: call it when they are idle.
 */
#include "internal.h"
#include <errno.h>

struct validate_ctx {
	struct kmm_kmem_cache *s;
	struct kmm_error *err;
	int ret;
	unsigned long nr_slabs[KMM_MAX_NUMNODES];
	unsigned long nr_objects[KMM_MAX_NUMNODES];
	unsigned long nr_unfrozen_with_free[KMM_MAX_NUMNODES];
	unsigned long nr_frozen;
};

static __kmm_printf(2, 3) void fail(struct validate_ctx *v, const char *fmt, ...)
{
	if (v->ret)
		return; /* keep the first problem */
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	kmm_port_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->ret = kmm_error_set(v->err, -EINVAL, "slab cache %s: %s", v->s->name, msg);
}

/* Walk a freelist of @slab, marking objects in @map; returns the count or -1. */
static long walk_freelist(struct validate_ctx *v, struct kmm_page *slab, void *list, uint8_t *map,
			  const char *which)
{
	struct kmm_kmem_cache *s = v->s;
	uint8_t *addr = slab_address(s->machine, slab);
	long nr = 0;
	for (void *p = list; p; p = get_freepointer(s, p)) {
		if (!check_valid_pointer(s, slab, p)) {
			fail(v, "slab pfn %#lx: %s has %#lx, not an object of the slab",
			     page_to_pfn(s->machine, slab), which, (unsigned long)(uintptr_t)p);
			return -1;
		}
		unsigned int idx = obj_to_index(s, addr, p);
		if (map[idx / 8] & (1u << (idx % 8))) {
			fail(v, "slab pfn %#lx: object %u is twice on the free lists (%s)",
			     page_to_pfn(s->machine, slab), idx, which);
			return -1;
		}
		map[idx / 8] |= (uint8_t)(1u << (idx % 8));
		nr++;
	}
	return nr;
}

static bool on_cpu_chain(struct kmem_cache_cpu *c, struct kmm_page *slab)
{
	for (struct kmm_page *p = c->partial; p; p = p->next)
		if (p == slab)
			return true;
	return false;
}

static void validate_slab(struct kmm_kmem_cache *s, struct kmm_page *slab, void *arg)
{
	struct validate_ctx *v = arg;
	struct kmm_machine *m = s->machine;
	unsigned long pfn = page_to_pfn(m, slab);
	unsigned int objects = slab->objects, inuse = slab->inuse;
	uint8_t map[(MAX_OBJS_PER_PAGE + 8) / 8];

	if (v->ret)
		return;
	if (objects != s->objects && objects != s->min_objects)
		return fail(v, "slab pfn %#lx has %u objects; the cache's slabs have %u or %u", pfn,
			    objects, s->objects, s->min_objects);
	if ((size_t)objects * s->size > PAGE_SIZE << slab_order(slab))
		return fail(v, "slab pfn %#lx: %u objects of %u bytes do not fit order %u", pfn,
			    objects, s->size, slab_order(slab));
	if (inuse > objects)
		return fail(v, "slab pfn %#lx: inuse %u > objects %u", pfn, inuse, objects);
	memset(map, 0, (objects + 7) / 8);
	long nfree = walk_freelist(v, slab, slab->freelist, map, "the slab freelist");
	if (nfree < 0)
		return;
	if ((unsigned long)nfree + inuse != objects)
		return fail(v, "slab pfn %#lx: %ld free + %u in use != %u objects", pfn, nfree,
			    inuse, objects);
	int nid = slab_nid(slab);
	v->nr_slabs[nid]++;
	v->nr_objects[nid] += objects;
	if (slab->frozen) {
		v->nr_frozen++;
		if ((int)slab->cpu >= m->nr_cpus)
			return fail(v, "slab pfn %#lx is frozen to CPU %u of %d", pfn, slab->cpu,
				    m->nr_cpus);
		struct kmem_cache_cpu *c = &s->cpu_slab[slab->cpu];
		if (c->slab == slab) {
			if (walk_freelist(v, slab, c->freelist, map, "the CPU freelist") < 0)
				return;
		} else if (!on_cpu_chain(c, slab)) {
			return fail(v,
				    "slab pfn %#lx is frozen to CPU %u but is neither its slab nor "
				    "on its partial list",
				    pfn, slab->cpu);
		}
	} else if (nfree) {
		v->nr_unfrozen_with_free[nid]++;
	}
	if (kmem_cache_debug(s) && (s->flags & (SLAB_RED_ZONE | SLAB_POISON))) {
		/* Objects on the CPU freelist count as free; debug caches have no CPU slabs. */
		uint8_t *addr = slab_address(m, slab);
		unsigned long reports = kmm_slab_nr_reports(m);
		for (unsigned int i = 0; i < objects; i++) {
			bool is_free = map[i / 8] & (1u << (i % 8));
			void *p = fixup_red_left(s, addr + (size_t)i * s->size);
			check_object(s, slab, p, is_free ? SLUB_RED_INACTIVE : SLUB_RED_ACTIVE);
		}
		check_slab_padding(s, slab);
		if (kmm_slab_nr_reports(m) != reports)
			fail(v, "slab pfn %#lx: damaged objects (reported in the log)", pfn);
	}
}

static void validate_node(struct validate_ctx *v, int nid, struct kmem_cache_node *n)
{
	struct kmm_kmem_cache *s = v->s;
	struct kmm_machine *m = s->machine;
	unsigned long count = 0;
	struct kmm_page *slab;
	spin_lock(&n->list_lock);
	list_for_each_entry (slab, &n->partial, slab_list) {
		if (++count > v->nr_slabs[nid] + 1)
			break;
		if (!PageSlab(slab) || slab->slab_cache != s)
			fail(v, "node %d partial list holds pfn %#lx, not a slab of this cache",
			     nid, page_to_pfn(m, slab));
		else if (slab->frozen)
			fail(v, "node %d partial list holds frozen slab pfn %#lx", nid,
			     page_to_pfn(m, slab));
		else if (slab->inuse >= slab->objects)
			fail(v, "node %d partial list holds full slab pfn %#lx", nid,
			     page_to_pfn(m, slab));
		else if (slab_nid(slab) != nid)
			fail(v, "node %d partial list holds slab pfn %#lx of node %d", nid,
			     page_to_pfn(m, slab), slab_nid(slab));
	}
	spin_unlock(&n->list_lock);
	if (count != n->nr_partial)
		fail(v, "node %d: nr_partial %lu but %lu slabs on the list", nid, n->nr_partial,
		     count);
	if (count != v->nr_unfrozen_with_free[nid])
		fail(v,
		     "node %d: %lu slabs on the partial list but %lu unfrozen slabs have free "
		     "objects",
		     nid, count, v->nr_unfrozen_with_free[nid]);
	if ((unsigned long)atomic_long_read(&n->nr_slabs) != v->nr_slabs[nid])
		fail(v, "node %d: nr_slabs %ld but %lu slabs found", nid,
		     atomic_long_read(&n->nr_slabs), v->nr_slabs[nid]);
	if ((unsigned long)atomic_long_read(&n->total_objects) != v->nr_objects[nid])
		fail(v, "node %d: total_objects %ld but %lu found", nid,
		     atomic_long_read(&n->total_objects), v->nr_objects[nid]);
}

static void validate_cpus(struct validate_ctx *v)
{
	struct kmm_kmem_cache *s = v->s;
	struct kmm_machine *m = s->machine;
	unsigned long frozen = 0;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu];
		uintptr_t start = c->slab ? (uintptr_t)slab_address(m, c->slab) : 0;
		unsigned long bytes = c->slab ? PAGE_SIZE << slab_order(c->slab) : 0;
		if (c->slab_start != start || c->slab_bytes != bytes)
			fail(v, "CPU %d's slab range is %#lx+%#lx, not %#lx+%#lx", cpu,
			     (unsigned long)c->slab_start, c->slab_bytes, (unsigned long)start,
			     bytes);
		if (c->slab) {
			frozen++;
			if (!c->slab->frozen || (int)c->slab->cpu != cpu)
				fail(v, "CPU %d's slab pfn %#lx is not frozen to it", cpu,
				     page_to_pfn(m, c->slab));
		} else if (c->freelist) {
			fail(v, "CPU %d has a freelist but no slab", cpu);
		}
		int expect = c->partial ? c->partial->slabs : 0;
		for (struct kmm_page *p = c->partial; p; p = p->next) {
			frozen++;
			if (p->slab_cache != s || !p->frozen || (int)p->cpu != cpu)
				fail(v, "CPU %d's partial slab pfn %#lx is not frozen to it", cpu,
				     page_to_pfn(m, p));
			if (p->slabs != expect--)
				fail(v, "CPU %d's partial chain counts %d slabs where %d are left",
				     cpu, p->slabs, expect + 1);
			if (p == c->slab)
				fail(v, "CPU %d's slab is also on its partial list", cpu);
		}
		if (kmem_cache_debug(s) && (c->slab || c->partial))
			fail(v, "debug cache has slabs on CPU %d", cpu);
	}
	if (frozen != v->nr_frozen)
		fail(v, "%lu slabs are frozen but the CPUs hold %lu", v->nr_frozen, frozen);
}

int kmm_slab_validate(struct kmm_kmem_cache *s, struct kmm_error *err)
{
	struct kmm_machine *m = s->machine;
	struct validate_ctx *v = kmm_port_alloc(sizeof(*v));
	if (!v)
		return kmm_error_set(err, -ENOMEM, "no host memory to validate %s", s->name);
	v->s = s;
	v->err = err;
	for_each_slab_of(s, validate_slab, v);
	if (!v->ret)
		validate_cpus(v);
	for (int nid = 0; nid < m->nr_node_ids && !v->ret; nid++) {
		if (s->node[nid])
			validate_node(v, nid, s->node[nid]);
		else if (v->nr_slabs[nid])
			fail(v, "%lu slabs on node %d, which has no node structure",
			     v->nr_slabs[nid], nid);
	}
	int ret = v->ret;
	kmm_port_free(v, sizeof(*v));
	return ret;
}

int kmm_slab_validate_all(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s;
	int ret = 0;
	spin_lock(&st->lock);
	list_for_each_entry (s, &st->caches, list) {
		ret = kmm_slab_validate(s, err);
		if (ret)
			break;
	}
	spin_unlock(&st->lock);
	return ret;
}
