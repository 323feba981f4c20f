/*
 * SLUB: allocating and freeing objects, CPU slabs, partial lists.
 *
 * Linux: mm/slub.c of 6.1 (slab_alloc_node, ___slab_alloc, get_partial_node,
 * deactivate_slab, put_cpu_partial, __slab_free, kmem_cache_alloc_bulk,
 * build_detached_freelist). kmm differs where userspace allows or requires:
 *  - Linux changes a slab's freelist and counters together with
 *    cmpxchg_double; kmm takes the slab's bit lock (PG_locked), the fallback
 *    Linux itself uses without cmpxchg_double. The CPU's own freelist needs
 *    neither: only the thread on that CPU touches it (kmm_cpu_enter is
 *    kmm's preempt_disable), so the fast paths are plain loads and stores.
 *  - A frozen slab records the CPU that froze it, so that frees to another
 *    CPU's slab are counted (FREE_REMOTE, vmstat slab_remote_free).
 *  - Without a CPU (a thread that did not enter one) and for debug caches,
 *    objects come one at a time from the node partial lists under their
 *    lock (Linux 6.2's alloc_single_from_partial).
 *  - Another CPU's slabs are flushed by entering that CPU when no thread is
 *    on it; a busy CPU is asked (flush_request) and flushes on its next slow
 *    path. Destroying a cache flushes every CPU directly: the caller
 *    guarantees nobody uses the cache any more, as Linux requires.
 *
 * Theory of operation:
 *  1. Each CPU has a current slab, frozen to it, and a private freelist of
 *     that slab's objects: allocation pops it, a free of an object of that
 *     slab pushes it. While frozen, a slab's own freelist collects frees by
 *     other CPUs; when the private list runs dry the CPU takes those
 *     (get_freelist), else it moves on to a CPU partial slab, a node
 *     partial slab, or a new slab.
 *  2. A slab that is not frozen is full (on no list) or partial (on its
 *     node's partial list). Freeing into a full slab freezes it onto the
 *     freeing CPU's partial list (at most cpu_partial_slabs, then that list
 *     goes to the node); a slab that becomes empty is freed to the page
 *     allocator once the node keeps min_partial partial slabs.
 *  3. Counters (inuse, objects, frozen, cpu) share one word with the freelist
 *     under the slab lock; readers outside it (slabinfo) take one snapshot.
 *
 * Lock order: the cache list lock (cache.c) -> n->list_lock -> slab_lock.
 * No slab lock is held across a call into the page allocator (which may
 * call the shrinkers and so the slab allocator again).
 */
#include "internal.h"
#include <errno.h>

const char *const slub_stat_names[NR_SLUB_STAT_ITEMS] = {
#define X(e, name) name,
    KMM_SLUB_STAT_ITEMS(X)
#undef X
};

/*
 * slab_lock found the lock taken: wait for it out of line (the callers stay
 * leaf functions). The simulated CPUs are host threads, and the host may
 * deschedule one while it holds a slab's lock (more threads than host CPUs
 * is the common case for a malloc on kmm): spinning on until it runs again
 * would burn the waiter's whole time slice, so, like kmm's spinlock
 * (src/base/spinlock.c), spin on a plain read for a while, then yield the
 * host CPU between attempts.
 */
__kmm_noinline void slab_lock_contended(struct kmm_page *slab)
{
	unsigned int spins = 0;
	do {
		while (kmm_test_page_flag(slab, PG_locked)) {
			if (++spins < 128)
				kmm_port_cpu_relax();
			else
				kmm_port_yield();
		}
	} while (test_and_set_bit(PG_locked, &slab->flags));
}

static inline void *get_slab_freelist(const struct kmm_page *slab)
{
	return READ_ONCE(slab->freelist);
}

static inline void set_slab_freelist(struct kmm_page *slab, void *freelist)
{
	WRITE_ONCE(slab->freelist, freelist);
}

/* The node to search first: the one asked for, else the CPU's, else the first with memory. */
static int search_node(const struct kmm_kmem_cache *s, int node, const struct kmm_cpu *cpu)
{
	if (node != NUMA_NO_NODE && node >= 0 && node < s->machine->nr_node_ids && s->node[node])
		return node;
	if (cpu && s->node[cpu->node])
		return cpu->node;
	for (int nid = 0; nid < s->machine->nr_node_ids; nid++)
		if (s->node[nid])
			return nid;
	return 0;
}

/* --- Partial lists --------------------------------------------------------------- */

void add_partial(struct kmem_cache_node *n, struct kmm_page *slab, bool tail)
{
	WRITE_ONCE(n->nr_partial, n->nr_partial + 1);
	if (tail)
		list_add_tail(&slab->slab_list, &n->partial);
	else
		list_add(&slab->slab_list, &n->partial);
}

void remove_partial(struct kmem_cache_node *n, struct kmm_page *slab)
{
	list_del(&slab->slab_list);
	WRITE_ONCE(n->nr_partial, n->nr_partial - 1);
}

/* Free objects on a node's partial slabs (Linux count_partial(n, count_free)). */
unsigned long count_partial_free(struct kmem_cache_node *n)
{
	unsigned long x = 0;
	struct kmm_page *slab;
	spin_lock(&n->list_lock);
	list_for_each_entry (slab, &n->partial, slab_list) {
		struct slab_counters c = get_counters(slab);
		x += c.objects - c.inuse;
	}
	spin_unlock(&n->list_lock);
	return x;
}

static void inc_slabs_node(struct kmm_kmem_cache *s, int node, unsigned int objects)
{
	struct kmem_cache_node *n = get_node(s, node);
	atomic_long_inc(&n->nr_slabs);
	atomic_long_add(objects, &n->total_objects);
}

static void dec_slabs_node(struct kmm_kmem_cache *s, int node, unsigned int objects)
{
	struct kmem_cache_node *n = get_node(s, node);
	atomic_long_dec(&n->nr_slabs);
	atomic_long_sub(objects, &n->total_objects);
}

/* --- New slabs ------------------------------------------------------------------- */

static void account_slab(struct kmm_machine *m, struct kmm_kmem_cache *s, struct kmm_page *slab,
			 unsigned int order, long sign)
{
	enum node_stat_item item =
	    (s->flags & SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE_B : NR_SLAB_UNRECLAIMABLE_B;
	mod_node_page_state(page_pgdat(m, slab), item, sign * (long)(PAGE_SIZE << order));
}

static void *setup_object(struct kmm_kmem_cache *s, void *object)
{
	if (kmem_cache_debug(s))
		setup_object_debug(s, object);
	if (s->ctor)
		s->ctor(object);
	return object;
}

static unsigned long slab_random(struct kmm_machine *m)
{
	struct kmm_slab_state *st = m->slab;
	spin_lock(&st->rng_lock);
	unsigned long r = (unsigned long)kmm_rng_next(&st->rng);
	spin_unlock(&st->rng_lock);
	return r;
}

/*
 * Chain a new slab's objects in the cache's random order, starting at a
 * random place in it (Linux shuffle_freelist, CONFIG_SLAB_FREELIST_RANDOM):
 * which object comes next is not predictable from the previous one. A slab
 * of the fallback order has fewer objects: indices beyond them are skipped.
 */
static bool shuffle_freelist(struct kmm_kmem_cache *s, struct kmm_page *slab, void *start)
{
	unsigned int count = s->objects, nr = get_counters(slab).objects;
	if (nr < 2 || !s->random_seq)
		return false;
	unsigned int pos = (unsigned int)(slab_random(s->machine) % count);
	void *prev = NULL;
	for (unsigned int done = 0; done < nr;) {
		unsigned int idx = s->random_seq[pos];
		pos = pos + 1 == count ? 0 : pos + 1;
		if (idx >= nr)
			continue;
		void *object = setup_object(s, (char *)start + (size_t)idx * s->size);
		if (prev)
			set_freepointer(s, prev, object);
		else
			set_slab_freelist(slab, object);
		prev = object;
		done++;
	}
	set_freepointer(s, prev, NULL);
	return true;
}

static struct kmm_page *alloc_slab_page(struct kmm_machine *m, gfp_t gfp, int node,
					unsigned int order)
{
	struct kmm_page *page = node == NUMA_NO_NODE ? kmm_alloc_pages(m, gfp, order)
						     : kmm_alloc_pages_node(m, node, gfp, order);
	if (page)
		__SetPageSlab(page);
	return page;
}

/*
 * A new slab from the page allocator, its objects chained on its freelist,
 * not yet counted on its node (Linux allocate_slab). Tries the cache's
 * order without reclaim or warnings first, then the smallest order that
 * holds one object with the caller's flags.
 */
static struct kmm_page *allocate_slab(struct kmm_kmem_cache *s, gfp_t flags, int node)
{
	struct kmm_machine *m = s->machine;
	unsigned int order = s->order, objects = s->objects;
	flags |= s->allocflags;
	gfp_t alloc_gfp = (flags | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL;
	if ((alloc_gfp & __GFP_DIRECT_RECLAIM) && order > s->min_order)
		alloc_gfp = (alloc_gfp | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
	struct kmm_page *slab = alloc_slab_page(m, alloc_gfp, node, order);
	if (unlikely(!slab)) {
		order = s->min_order;
		objects = s->min_objects;
		slab = alloc_slab_page(m, flags, node, order);
		if (!slab)
			return NULL;
		struct kmm_cpu *cpu = this_cpu(m);
		stat(cpu ? &s->cpu_slab[cpu->id] : NULL, ORDER_FALLBACK);
	}
	set_counters(slab, (struct slab_counters){.objects = objects});
	slab->slab_cache = s;
	account_slab(m, s, slab, order, 1);

	void *start = slab_address(m, slab);
	setup_slab_debug(s, slab, start);
	start = fixup_red_left(s, start);
	if (!shuffle_freelist(s, slab, start)) {
		void *p = start;
		set_slab_freelist(slab, setup_object(s, p));
		for (unsigned int idx = 1; idx < objects; idx++) {
			void *next = setup_object(s, (char *)p + s->size);
			set_freepointer(s, p, next);
			p = next;
		}
		set_freepointer(s, p, NULL);
	}
	return slab;
}

/*
 * Bits a slab allocation may not carry (Linux GFP_SLAB_BUG_MASK): the slab
 * allocator chooses zones itself, from the cache's flags.
 */
#define GFP_SLAB_BUG_MASK (__GFP_DMA32 | __GFP_HIGHMEM | ~__GFP_BITS_MASK)

struct kmm_page *new_slab(struct kmm_kmem_cache *s, gfp_t flags, int node)
{
	if (unlikely(flags & GFP_SLAB_BUG_MASK)) {
		char buf[160];
		kmm_gfp_decode(flags & GFP_SLAB_BUG_MASK, buf, sizeof(buf));
		pr_warn(s->machine, "kmem_cache %s: unexpected gfp bits %#x (%s) ignored", s->name,
			flags & GFP_SLAB_BUG_MASK, buf);
		flags &= ~GFP_SLAB_BUG_MASK;
	}
	return allocate_slab(s, flags & (GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK), node);
}

static void free_slab_pages(struct kmm_kmem_cache *s, struct kmm_page *slab)
{
	struct kmm_machine *m = s->machine;
	unsigned int order = slab_order(slab);
	if (s->flags & SLAB_CONSISTENCY_CHECKS)
		check_slab_padding(s, slab);
	account_slab(m, s, slab, order, -1);
	slab->slab_cache = NULL;
	slab->freelist = NULL;
	slab->counters = 0;
	__ClearPageSlab(slab);
	kmm_free_pages(m, slab, order);
}

void discard_slab(struct kmm_kmem_cache *s, struct kmm_page *slab)
{
	dec_slabs_node(s, slab_nid(slab), get_counters(slab).objects);
	free_slab_pages(s, slab);
}

/* --- Taking slabs for a CPU ---------------------------------------------------------- */

/*
 * Make @slab (or NULL) the CPU slab of @c, with the memory range the free
 * fast path checks objects against.
 */
static void set_cpu_slab(struct kmm_kmem_cache *s, struct kmem_cache_cpu *c, struct kmm_page *slab)
{
	c->slab = slab;
	c->slab_start = slab ? (uintptr_t)slab_address(s->machine, slab) : 0;
	c->slab_bytes = slab ? PAGE_SIZE << slab_order(slab) : 0;
}

/*
 * Take what other CPUs freed into the CPU slab (Linux get_freelist). An
 * empty result unfreezes the slab: it is full and belongs to no one.
 */
static void *get_freelist(struct kmm_page *slab)
{
	slab_lock(slab);
	void *freelist = get_slab_freelist(slab);
	struct slab_counters c = get_counters(slab);
	c.inuse = c.objects;
	c.frozen = freelist != NULL;
	if (!freelist)
		c.cpu = 0;
	set_slab_freelist(slab, NULL);
	set_counters(slab, c);
	slab_unlock(slab);
	return freelist;
}

/*
 * Take a slab off a node partial list and freeze it to @cpu; with @whole,
 * take its freelist too (the CPU slab), else leave the freelist in the slab
 * (a CPU partial slab). Linux acquire_slab. n->list_lock held.
 */
static void *acquire_slab(struct kmem_cache_node *n, struct kmm_page *slab, int cpu, bool whole)
{
	slab_lock(slab);
	void *freelist = get_slab_freelist(slab);
	struct slab_counters c = get_counters(slab);
	c.frozen = 1;
	c.cpu = (unsigned int)cpu;
	if (whole) {
		c.inuse = c.objects;
		set_slab_freelist(slab, NULL);
	}
	set_counters(slab, c);
	slab_unlock(slab);
	remove_partial(n, slab);
	return freelist;
}

/*
 * Unfreeze a chain of CPU partial slabs onto their nodes' partial lists;
 * empty ones beyond min_partial go back to the page allocator (Linux
 * __unfreeze_partials).
 */
static void unfreeze_partials_chain(struct kmm_kmem_cache *s, struct kmem_cache_cpu *c,
				    struct kmm_page *chain)
{
	struct kmem_cache_node *n = NULL;
	struct kmm_page *discard = NULL;
	while (chain) {
		struct kmm_page *slab = chain;
		chain = slab->next;
		struct kmem_cache_node *n2 = get_node(s, slab_nid(slab));
		if (n != n2) {
			if (n)
				spin_unlock(&n->list_lock);
			n = n2;
			spin_lock(&n->list_lock);
		}
		slab_lock(slab);
		struct slab_counters cnt = get_counters(slab);
		cnt.frozen = 0;
		cnt.cpu = 0;
		set_counters(slab, cnt);
		slab_unlock(slab);
		if (unlikely(!cnt.inuse && n->nr_partial >= s->min_partial)) {
			WRITE_ONCE(slab->next, discard);
			discard = slab;
		} else {
			add_partial(n, slab, true);
			stat(c, FREE_ADD_PARTIAL);
		}
	}
	if (n)
		spin_unlock(&n->list_lock);
	while (discard) {
		struct kmm_page *slab = discard;
		discard = slab->next;
		stat(c, DEACTIVATE_EMPTY);
		discard_slab(s, slab);
		stat(c, FREE_SLAB);
	}
}

/*
 * Put a frozen slab on the CPU's partial list (Linux put_cpu_partial). With
 * @drain, a full list (cpu_partial_slabs) goes to the nodes first.
 */
static void put_cpu_partial(struct kmm_kmem_cache *s, struct kmem_cache_cpu *c,
			    struct kmm_page *slab, bool drain)
{
	struct kmm_page *old = c->partial, *to_unfreeze = NULL;
	int slabs = 0;
	if (old) {
		if (drain && (unsigned int)old->slabs >= s->cpu_partial_slabs) {
			to_unfreeze = old;
			old = NULL;
		} else {
			slabs = old->slabs;
		}
	}
	slab->slabs = slabs + 1;
	WRITE_ONCE(slab->next, old);
	c->partial = slab;
	if (to_unfreeze) {
		unfreeze_partials_chain(s, c, to_unfreeze);
		stat(c, CPU_PARTIAL_DRAIN);
	}
}

/*
 * Take slabs from a node's partial list: the first becomes the CPU slab (its
 * freelist is returned), more go to the CPU partial list, up to half of
 * cpu_partial_slabs (Linux get_partial_node).
 */
static void *get_partial_node(struct kmm_kmem_cache *s, struct kmem_cache_node *n,
			      struct kmem_cache_cpu *c, int cpu, struct kmm_page **ret_slab)
{
	void *object = NULL;
	unsigned int partial_slabs = 0;
	if (!n || !READ_ONCE(n->nr_partial))
		return NULL;
	spin_lock(&n->list_lock);
	struct kmm_page *slab, *next;
	list_for_each_entry_safe (slab, next, &n->partial, slab_list) {
		if (!object) {
			object = acquire_slab(n, slab, cpu, true);
			*ret_slab = slab;
			stat(c, ALLOC_FROM_PARTIAL);
		} else {
			acquire_slab(n, slab, cpu, false);
			put_cpu_partial(s, c, slab, false);
			stat(c, CPU_PARTIAL_NODE);
			partial_slabs++;
		}
		if (!kmem_cache_has_cpu_partial(s) || partial_slabs > s->cpu_partial_slabs / 2)
			break;
	}
	spin_unlock(&n->list_lock);
	return object;
}

/*
 * Give a CPU slab back to its node, with the CPU's private freelist of it
 * (Linux deactivate_slab): partial, freed if empty and the node has enough
 * partial slabs, or full and on no list.
 */
static void deactivate_slab(struct kmm_kmem_cache *s, struct kmem_cache_cpu *c,
			    struct kmm_page *slab, void *freelist)
{
	struct kmem_cache_node *n = get_node(s, slab_nid(slab));
	/* The private list's tail and length, outside any lock. */
	void *tail = NULL;
	unsigned int free_delta = 0;
	for (void *p = freelist; p; p = get_freepointer(s, p)) {
		tail = p;
		free_delta++;
	}
	spin_lock(&n->list_lock);
	slab_lock(slab);
	void *old = get_slab_freelist(slab);
	bool remote = old != NULL;
	if (tail) {
		set_freepointer(s, tail, old);
		set_slab_freelist(slab, freelist);
	}
	struct slab_counters cnt = get_counters(slab);
	cnt.inuse -= free_delta;
	cnt.frozen = 0;
	cnt.cpu = 0;
	set_counters(slab, cnt);
	bool has_free = get_slab_freelist(slab) != NULL;
	slab_unlock(slab);
	if (remote)
		stat(c, DEACTIVATE_REMOTE_FREES);
	if (!cnt.inuse && n->nr_partial >= s->min_partial) {
		spin_unlock(&n->list_lock);
		stat(c, DEACTIVATE_EMPTY);
		discard_slab(s, slab);
		stat(c, FREE_SLAB);
		return;
	}
	if (has_free) {
		add_partial(n, slab, remote);
		stat(c, remote ? DEACTIVATE_TO_TAIL : DEACTIVATE_TO_HEAD);
	} else {
		stat(c, DEACTIVATE_FULL);
	}
	spin_unlock(&n->list_lock);
}

/* Drop the CPU slab of @c (Linux flush_slab). */
static void flush_slab(struct kmm_kmem_cache *s, struct kmem_cache_cpu *c)
{
	struct kmm_page *slab = c->slab;
	void *freelist = c->freelist;
	set_cpu_slab(s, c, NULL);
	c->freelist = NULL;
	if (slab) {
		deactivate_slab(s, c, slab, freelist);
		stat(c, CPUSLAB_FLUSH);
	}
}

void flush_cpu_slab(struct kmm_kmem_cache *s, int cpu)
{
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu];
	flush_slab(s, c);
	struct kmm_page *partial = c->partial;
	c->partial = NULL;
	if (partial)
		unfreeze_partials_chain(s, c, partial);
	WRITE_ONCE(c->flush_request, 0);
}

void flush_all_cpus(struct kmm_kmem_cache *s, bool force)
{
	struct kmm_machine *m = s->machine;
	struct kmm_cpu *self = this_cpu(m);
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		if (force || (self && self->id == cpu)) {
			flush_cpu_slab(s, cpu);
		} else if (kmm_cpu_tryenter(m, cpu) == 0) {
			flush_cpu_slab(s, cpu);
			kmm_cpu_exit(m);
		} else {
			WRITE_ONCE(s->cpu_slab[cpu].flush_request, 1);
		}
	}
}

/* --- The allocation slow path ---------------------------------------------------- */

/*
 * Failslab (Linux should_failslab): the cache of caches and __GFP_NOFAIL
 * allocations never fail on purpose.
 */
static bool should_failslab(struct kmm_kmem_cache *s, gfp_t gfp)
{
	struct kmm_machine *m = s->machine;
	if (s == m->slab->kmem_cache || (gfp & __GFP_NOFAIL))
		return false;
	if (m->failslab.ignore_gfp_reclaim && (gfp & __GFP_DIRECT_RECLAIM))
		return false;
	return kmm_should_fail(&m->failslab, s->object_size);
}

/*
 * The CPU path (Linux ___slab_alloc): refill the private freelist from the
 * CPU slab, else take a CPU partial slab, a node partial slab or a new one.
 */
static void *___slab_alloc(struct kmm_kmem_cache *s, gfp_t gfp, int node, struct kmm_cpu *cpu)
{
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
	struct kmm_page *slab;
	void *freelist;

	stat(c, ALLOC_SLOWPATH);
	if (unlikely(READ_ONCE(c->flush_request)))
		flush_cpu_slab(s, cpu->id);
	if (node != NUMA_NO_NODE && (node < 0 || node >= s->machine->nr_node_ids || !s->node[node]))
		node = NUMA_NO_NODE; /* no such node, or no memory there: any node will do */
reread:
	slab = c->slab;
	if (!slab)
		goto new_slab;
	if (unlikely(node != NUMA_NO_NODE && slab_nid(slab) != node)) {
		stat(c, ALLOC_NODE_MISMATCH);
		flush_slab(s, c);
		goto new_slab;
	}
	freelist = c->freelist;
	if (freelist)
		goto load_freelist;
	freelist = get_freelist(slab);
	if (!freelist) {
		set_cpu_slab(s, c, NULL);
		stat(c, DEACTIVATE_BYPASS);
		goto new_slab;
	}
	stat(c, ALLOC_REFILL);
load_freelist:
	c->freelist = get_freepointer(s, freelist);
	return freelist;

new_slab:
	if (c->partial) {
		slab = c->partial;
		c->partial = slab->next;
		set_cpu_slab(s, c, slab);
		stat(c, CPU_PARTIAL_ALLOC);
		goto reread;
	}
	freelist = get_partial_node(s, get_node(s, search_node(s, node, cpu)), c, cpu->id, &slab);
	if (!freelist) {
		slab = new_slab(s, gfp, node);
		if (unlikely(!slab))
			return NULL;
		freelist = get_slab_freelist(slab);
		set_slab_freelist(slab, NULL);
		struct slab_counters cnt = get_counters(slab);
		cnt.inuse = cnt.objects;
		cnt.frozen = 1;
		cnt.cpu = (unsigned int)cpu->id;
		set_counters(slab, cnt);
		inc_slabs_node(s, slab_nid(slab), cnt.objects);
		stat(c, ALLOC_SLAB);
	}
	/* The page allocator may have called shrinkers that used this cache. */
	if (unlikely(c->slab))
		flush_slab(s, c);
	set_cpu_slab(s, c, slab);
	goto load_freelist;
}

/*
 * One object from a node partial slab, or from a new slab put on the
 * partial list: the path of threads without a CPU and of debug caches.
 */
static void *alloc_single(struct kmm_kmem_cache *s, gfp_t gfp, int node, struct kmm_cpu *cpu,
			  uintptr_t addr)
{
	struct kmem_cache_cpu *c = cpu ? &s->cpu_slab[cpu->id] : NULL;
	struct kmem_cache_node *n = get_node(s, search_node(s, node, cpu));
	struct kmm_page *slab, *next;
	stat(c, ALLOC_SLOWPATH);
	spin_lock(&n->list_lock);
	list_for_each_entry_safe (slab, next, &n->partial, slab_list) {
		slab_lock(slab);
		void *object = get_slab_freelist(slab);
		struct slab_counters cnt = get_counters(slab);
		if (kmem_cache_debug(s) && !alloc_debug_processing(s, slab, object, addr)) {
			/* Damaged: keep the whole slab out of use (Linux marks it all used). */
			cnt.inuse = cnt.objects;
			set_counters(slab, cnt);
			set_slab_freelist(slab, NULL);
			remove_partial(n, slab);
			slab_unlock(slab);
			continue;
		}
		void *fp = get_freepointer(s, object);
		set_slab_freelist(slab, fp);
		cnt.inuse++;
		set_counters(slab, cnt);
		/*
		 * Full now: off the partial list before the slab lock goes. A free
		 * on another CPU that finds the slab full and unfrozen puts it on
		 * that CPU's partial list, through the same words as slab_list.
		 */
		if (!fp)
			remove_partial(n, slab);
		slab_unlock(slab);
		spin_unlock(&n->list_lock);
		stat(c, ALLOC_FROM_PARTIAL);
		return object;
	}
	spin_unlock(&n->list_lock);

	slab = new_slab(s, gfp, node);
	if (unlikely(!slab))
		return NULL;
	stat(c, ALLOC_SLAB);
	void *object = get_slab_freelist(slab);
	if (kmem_cache_debug(s) && !alloc_debug_processing(s, slab, object, addr)) {
		free_slab_pages(s, slab);
		return NULL;
	}
	struct slab_counters cnt = get_counters(slab);
	cnt.inuse = 1;
	set_counters(slab, cnt);
	void *fp = get_freepointer(s, object);
	set_slab_freelist(slab, fp);
	inc_slabs_node(s, slab_nid(slab), cnt.objects);
	if (fp) {
		n = get_node(s, slab_nid(slab));
		spin_lock(&n->list_lock);
		add_partial(n, slab, false);
		spin_unlock(&n->list_lock);
	}
	return object;
}

static __kmm_cold void slab_out_of_memory(struct kmm_kmem_cache *s, gfp_t gfp, int node)
{
	struct kmm_machine *m = s->machine;
	if (gfp & __GFP_NOWARN)
		return;
	char buf[160];
	kmm_gfp_decode(gfp, buf, sizeof(buf));
	pr_warn(m, "SLUB: Unable to allocate memory on node %d, gfp=%#x(%s)", node, gfp, buf);
	pr_warn(m,
		"  cache: %s, object size: %u, buffer size: %u, default order: %u, min order: %u",
		s->name, s->object_size, s->size, s->order, s->min_order);
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmem_cache_node *n = s->node[nid];
		if (!n)
			continue;
		unsigned long nfree = count_partial_free(n);
		pr_warn(m, "  node %d: slabs: %ld, objs: %ld, free: %lu", nid,
			atomic_long_read(&n->nr_slabs), atomic_long_read(&n->total_objects), nfree);
	}
}

static bool slab_want_init_on_alloc(struct kmm_kmem_cache *s, gfp_t gfp)
{
	if (gfp & __GFP_ZERO)
		return true;
	if (!READ_ONCE(s->machine->init_on_alloc) || s->ctor)
		return false;
	return !(s->flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON));
}

void *__slab_alloc_node(struct kmm_kmem_cache *s, gfp_t gfp, int node, uintptr_t addr,
			size_t orig_size)
{
	struct kmm_machine *m = s->machine;
	struct kmm_cpu *cpu = this_cpu(m);
	void *object;

	if (unlikely(READ_ONCE(m->failslab.enabled)) && should_failslab(s, gfp))
		return NULL;
	if (cpu && !kmem_cache_debug(s))
		object = ___slab_alloc(s, gfp, node, cpu);
	else
		object = alloc_single(s, gfp, node, cpu, addr);
	if (unlikely(!object)) {
		slab_out_of_memory(s, gfp, node);
		return NULL;
	}
	if (slab_want_init_on_alloc(s, gfp))
		slab_zero_object(s, object);
	if (s->flags & __SLAB_KMALLOC)
		trace_kmalloc(m, addr, object, orig_size, s->size, gfp, node);
	else
		trace_kmem_cache_alloc(m, addr, object, orig_size, s->size, gfp, node,
				       (s->flags & SLAB_ACCOUNT) || (gfp & __GFP_ACCOUNT));
	return object;
}

/* __GFP_ZERO on the fast path: out of line, so the fast path needs no stack frame. */
void *slab_zero_object(struct kmm_kmem_cache *s, void *object)
{
	return memset(object, 0, s->object_size);
}

/* --- The free slow path ---------------------------------------------------------- */

/*
 * Free a chain of @cnt objects (@head .. @tail, linked by free pointers) of
 * one slab that is not this CPU's slab (Linux __slab_free).
 */
static void __slab_free(struct kmm_kmem_cache *s, struct kmm_cpu *cpu, struct kmm_page *slab,
			void *head, void *tail, int cnt)
{
	struct kmm_machine *m = s->machine;
	struct kmem_cache_cpu *c = cpu ? &s->cpu_slab[cpu->id] : NULL;
	struct kmem_cache_node *n = NULL;
	struct slab_counters old, new;
	void *prior;
	bool to_cpu_partial;

	stat(c, FREE_SLOWPATH);
	for (;;) {
		slab_lock(slab);
		prior = get_slab_freelist(slab);
		old = new = get_counters(slab);
		new.inuse -= (unsigned int)cnt;
		to_cpu_partial = false;
		if (!old.frozen && (!new.inuse || !prior)) {
			if (c && kmem_cache_has_cpu_partial(s) && !prior) {
				/* Full slab: freeze it onto this CPU's partial list. */
				to_cpu_partial = true;
				new.frozen = 1;
				new.cpu = (unsigned int)cpu->id;
			} else if (!n) {
				/* The lists will change: take the node's lock first and retry. */
				slab_unlock(slab);
				n = get_node(s, slab_nid(slab));
				spin_lock(&n->list_lock);
				continue;
			}
		}
		break;
	}
	if (unlikely(prior == head)) {
		slab_unlock(slab);
		if (n)
			spin_unlock(&n->list_lock);
		slab_double_free(s, slab, head, 0);
		return;
	}
	set_freepointer(s, tail, prior);
	set_slab_freelist(slab, head);
	set_counters(slab, new);
	slab_unlock(slab);

	if (old.frozen) {
		stat(c, FREE_FROZEN);
		if (!cpu || old.cpu != (unsigned int)cpu->id) {
			stat(c, FREE_REMOTE);
			count_vm_event(m, KMM_SLAB_REMOTE_FREE);
		}
	}
	if (!n) {
		if (to_cpu_partial) {
			put_cpu_partial(s, c, slab, true);
			stat(c, CPU_PARTIAL_FREE);
		}
		return;
	}
	if (!old.frozen && !new.inuse && n->nr_partial >= s->min_partial) {
		if (prior) {
			remove_partial(n, slab);
			stat(c, FREE_REMOVE_PARTIAL);
		}
		spin_unlock(&n->list_lock);
		stat(c, FREE_SLAB);
		discard_slab(s, slab);
		return;
	}
	if (!old.frozen && !prior) {
		add_partial(n, slab, true);
		stat(c, FREE_ADD_PARTIAL);
	}
	spin_unlock(&n->list_lock);
}

/* One object of a debug cache: checks, tracks and poison first, under the list lock. */
static void debug_slab_free(struct kmm_kmem_cache *s, struct kmm_cpu *cpu, struct kmm_page *slab,
			    void *object, uintptr_t addr)
{
	struct kmem_cache_node *n = get_node(s, slab_nid(slab));
	struct kmem_cache_cpu *c = cpu ? &s->cpu_slab[cpu->id] : NULL;
	stat(c, FREE_SLOWPATH);
	spin_lock(&n->list_lock);
	slab_lock(slab);
	if (!free_debug_processing(s, slab, object, addr)) {
		slab_unlock(slab);
		spin_unlock(&n->list_lock);
		return;
	}
	void *prior = get_slab_freelist(slab);
	set_freepointer(s, object, prior);
	set_slab_freelist(slab, object);
	struct slab_counters cnt = get_counters(slab);
	cnt.inuse--;
	set_counters(slab, cnt);
	slab_unlock(slab);
	if (!cnt.inuse && n->nr_partial >= s->min_partial) {
		if (prior) {
			remove_partial(n, slab);
			stat(c, FREE_REMOVE_PARTIAL);
		}
		spin_unlock(&n->list_lock);
		stat(c, FREE_SLAB);
		discard_slab(s, slab);
		return;
	}
	if (!prior) {
		add_partial(n, slab, true);
		stat(c, FREE_ADD_PARTIAL);
	}
	spin_unlock(&n->list_lock);
}

void slab_free_slowpath(struct kmm_kmem_cache *s, struct kmm_page *slab, void *head, void *tail,
			int cnt, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	struct kmm_cpu *cpu = this_cpu(m);

	if (unlikely(READ_ONCE(m->trace_mask) & KMM_TRACE_KMEM_MASK)) {
		for (void *p = head;; p = get_freepointer(s, p)) {
			if (s->flags & __SLAB_KMALLOC)
				trace_kfree(m, addr, p);
			else
				trace_kmem_cache_free(m, addr, p, s->name);
			if (p == tail)
				break;
		}
	}
	if (unlikely(kmem_cache_debug(s))) {
		/* Objects one by one: each is checked, and a damaged one is kept out. */
		for (int i = 0; i < cnt; i++) {
			void *next = i + 1 < cnt ? get_freepointer(s, head) : NULL;
			debug_slab_free(s, cpu, slab, head, addr);
			head = next;
		}
		return;
	}
	if (cpu) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		if (slab == c->slab) {
			/* The fast path declined: a double free, or hooks are active. */
			if (unlikely(head == c->freelist)) {
				slab_double_free(s, slab, head, addr);
				return;
			}
			set_freepointer(s, tail, c->freelist);
			c->freelist = head;
			stat(c, FREE_FASTPATH);
			return;
		}
	}
	__slab_free(s, cpu, slab, head, tail, cnt);
}

/*
 * slab_free_other with the slab locked, for every case but the commonest:
 * a double free; a slab that becomes empty (it needs its node's list lock
 * first, the lock order, so __slab_free does it); a full slab (frozen onto
 * this CPU's partial list); another CPU's frozen slab (a remote free); a
 * node partial slab that keeps objects.
 */
static __kmm_noinline void free_other_locked(struct kmm_kmem_cache *s, struct kmm_cpu *cpu,
					     struct kmm_page *slab, void *object, void *prior)
{
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
	struct slab_counters old = get_counters(slab), new = old;
	new.inuse--;
	if (unlikely(prior == object)) {
		slab_unlock(slab);
		stat(c, FREE_SLOWPATH);
		slab_double_free(s, slab, object, 0);
		return;
	}
	if (!old.frozen && prior && !new.inuse) {
		slab_unlock(slab);
		__slab_free(s, cpu, slab, object, object, 1);
		return;
	}
	bool freeze = !old.frozen && !prior;
	if (freeze) {
		new.frozen = 1;
		new.cpu = (unsigned int)cpu->id;
	}
	set_freepointer(s, object, prior);
	set_slab_freelist(slab, object);
	set_counters(slab, new);
	slab_unlock(slab);
	stat(c, FREE_SLOWPATH);
	if (old.frozen) {
		stat(c, FREE_FROZEN);
		if (old.cpu != (unsigned int)cpu->id) {
			stat(c, FREE_REMOTE);
			count_vm_event(s->machine, KMM_SLAB_REMOTE_FREE);
		}
	} else if (freeze) {
		put_cpu_partial(s, c, slab, true);
		stat(c, CPU_PARTIAL_FREE);
	}
}

/*
 * One object of another slab than the CPU slab, freed on a CPU without
 * hooks or debugging: the commonest slow free (kfree of an older object).
 * It is __slab_free for one object; the commonest case of all, a slab on
 * this CPU's partial list, is done here in one slab lock and no call, the
 * others with the lock held in free_other_locked.
 */
void slab_free_other(struct kmm_kmem_cache *s, struct kmm_cpu *cpu, struct kmm_page *slab,
		     void *object)
{
	slab_lock(slab);
	void *prior = get_slab_freelist(slab);
	union slab_counters_word u = {.word = READ_ONCE(slab->counters)};
	if (likely(u.c.frozen && u.c.cpu == (unsigned int)cpu->id && prior != object)) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		set_freepointer(s, object, prior);
		set_slab_freelist(slab, object);
		u.c.inuse--;
		WRITE_ONCE(slab->counters, u.word);
		slab_unlock(slab);
		stat(c, FREE_SLOWPATH);
		stat(c, FREE_FROZEN);
		return;
	}
	free_other_locked(s, cpu, slab, object, prior);
}

/*
 * kmem_cache_free of an object outside the CPU slab (or with trace points
 * on): find its slab, check it is one of @s (the cheap check always on:
 * another cache's object, or no slab memory at all), free it.
 */
void slab_free_lookup(struct kmm_kmem_cache *s, const void *x, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	if (unlikely(!virt_addr_in_ram(m, x)))
		return slab_free_bad(m, s, x, addr);
	struct kmm_page *slab = virt_to_slab_page(m, x);
	if (unlikely(slab->slab_cache != s || !PageSlab(slab)))
		return slab_free_bad(m, s, x, addr);
	do_slab_free(m, s, slab, (void *)x, addr);
}

/* --- Public API --------------------------------------------------------------------- */

void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *s, gfp_t gfp)
{
	return slab_alloc_node(s->machine, s, gfp, NUMA_NO_NODE,
			       (uintptr_t)__builtin_return_address(0), s->object_size);
}

void *kmm_kmem_cache_alloc_node(struct kmm_kmem_cache *s, gfp_t gfp, int node)
{
	return slab_alloc_node(s->machine, s, gfp, node, (uintptr_t)__builtin_return_address(0),
			       s->object_size);
}

void kmm_kmem_cache_free(struct kmm_kmem_cache *s, void *x)
{
	slab_free(s, x, (uintptr_t)__builtin_return_address(0));
}

size_t kmm_kmem_cache_alloc_bulk(struct kmm_kmem_cache *s, gfp_t gfp, size_t nr, void **p)
{
	struct kmm_machine *m = s->machine;
	uintptr_t addr = (uintptr_t)__builtin_return_address(0);
	struct kmm_cpu *cpu = this_cpu(m);
	size_t i = 0;

	if (!cpu || kmem_cache_debug(s) || slab_hooks_active(m)) {
		for (; i < nr; i++) {
			p[i] = slab_alloc_node(m, s, gfp, NUMA_NO_NODE, addr, s->object_size);
			if (unlikely(!p[i]))
				goto error;
		}
		return nr;
	}
	/* The CPU's freelist in one loop; a refill when it runs dry (Linux kmem_cache_alloc_bulk). */
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
	const uintptr_t key = s->random;
	const unsigned int offset = s->offset;
	unsigned int fast = 0;
	void *object = c->freelist;
	for (; i < nr; i++) {
		if (unlikely(!object)) {
			c->freelist = NULL;
			p[i] = ___slab_alloc(s, gfp, NUMA_NO_NODE, cpu);
			if (unlikely(!p[i])) {
				slab_out_of_memory(s, gfp, NUMA_NO_NODE);
				goto error;
			}
			object = c->freelist;
			continue;
		}
		p[i] = object;
		object = decode_freepointer(key, offset, object);
		fast++;
	}
	c->freelist = object;
	WRITE_ONCE(c->stat[ALLOC_FASTPATH], c->stat[ALLOC_FASTPATH] + fast);
	if (unlikely(gfp & __GFP_ZERO))
		for (i = 0; i < nr; i++)
			memset(p[i], 0, s->object_size);
	return nr;
error:
	kmm_kmem_cache_free_bulk(s, i, p);
	return 0;
}

/*
 * Gather objects of one slab from the end of @p into a chain (Linux
 * build_detached_freelist): the last object's slab, then earlier objects
 * of the same slab, giving up after three of other slabs in a row. Taken
 * entries are set to NULL; returns the number of entries still to look at.
 */
struct detached_freelist {
	struct kmm_page *slab;
	void *head, *tail;
	int cnt;
};

static size_t build_detached_freelist(struct kmm_kmem_cache *s, size_t size, void **p,
				      struct detached_freelist *df, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	const uintptr_t key = s->random;
	const unsigned int offset = s->offset;
	size_t first_skipped = 0;
	int lookahead = 3;
	void *object;

	do {
		object = p[--size];
	} while (!object && size);
	df->slab = NULL;
	if (!object)
		return 0;
	if (unlikely(!virt_addr_in_ram(m, object)) ||
	    virt_to_slab_page(m, object)->slab_cache != s ||
	    !PageSlab(virt_to_slab_page(m, object))) {
		slab_free_bad(m, s, object, addr);
		p[size] = NULL;
		return size;
	}
	df->slab = virt_to_slab_page(m, object);
	/* The slab's memory: an object in it is of this slab, no struct page needed. */
	const uintptr_t start = (uintptr_t)slab_address(m, df->slab);
	const unsigned long bytes = PAGE_SIZE << slab_order(df->slab);
	void *head = object;
	int cnt = 1;
	encode_freepointer(key, offset, object, NULL);
	df->tail = object;
	p[size] = NULL;
	while (size) {
		object = p[--size];
		if (!object)
			continue;
		if ((uintptr_t)object - start < bytes) {
			p[size] = NULL;
			if (unlikely(object == head)) {
				slab_double_free(s, df->slab, object, addr);
				continue;
			}
			encode_freepointer(key, offset, object, head);
			head = object;
			cnt++;
			continue;
		}
		if (!--lookahead)
			break;
		if (!first_skipped)
			first_skipped = size + 1;
	}
	df->head = head;
	df->cnt = cnt;
	return first_skipped;
}

/*
 * The commonest bulk free: every object is of the CPU slab. The same chain
 * as build_detached_freelist makes (p[0] first, each object checked against
 * the one chained before it), pushed on the CPU's freelist, with the slab
 * known from the CPU slab's memory range instead of each object's struct
 * page. Returns false, with nothing done that counts (free pointers written
 * into objects being freed), when an object is elsewhere, NULL or repeated,
 * or the chain would start with the CPU freelist's head: the general loop
 * then does it all, reports included.
 */
static bool free_bulk_cpu_slab(struct kmm_kmem_cache *s, size_t nr, void **p)
{
	struct kmm_machine *m = s->machine;
	struct kmm_cpu *cpu = this_cpu(m);
	if (!cpu || slab_free_hooks_active(m) || kmem_cache_debug(s))
		return false;
	struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
	const uintptr_t start = c->slab_start, key = s->random;
	const unsigned long bytes = c->slab_bytes;
	const unsigned int offset = s->offset;
	void *tail = p[nr - 1], *head = tail;
	if ((uintptr_t)tail - start >= bytes)
		return false;
	for (size_t i = nr - 1; i-- > 0;) {
		void *object = p[i];
		if ((uintptr_t)object - start >= bytes || object == head)
			return false;
		encode_freepointer(key, offset, object, head);
		head = object;
	}
	if (head == c->freelist)
		return false;
	encode_freepointer(key, offset, tail, c->freelist);
	c->freelist = head;
	WRITE_ONCE(c->stat[FREE_FASTPATH], c->stat[FREE_FASTPATH] + (unsigned int)nr);
	memset(p, 0, nr * sizeof(*p)); /* as build_detached_freelist leaves it */
	return true;
}

void kmm_kmem_cache_free_bulk(struct kmm_kmem_cache *s, size_t nr, void **p)
{
	struct kmm_machine *m = s->machine;
	uintptr_t addr = (uintptr_t)__builtin_return_address(0);
	if (nr && free_bulk_cpu_slab(s, nr, p))
		return;
	while (nr) {
		struct detached_freelist df;
		nr = build_detached_freelist(s, nr, p, &df, addr);
		if (!df.slab)
			continue;
		struct kmm_cpu *cpu = this_cpu(m);
		if (cpu && !slab_free_hooks_active(m) && !kmem_cache_debug(s)) {
			struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
			if (df.slab == c->slab && c->freelist != df.head) {
				set_freepointer(s, df.tail, c->freelist);
				c->freelist = df.head;
				WRITE_ONCE(c->stat[FREE_FASTPATH],
					   c->stat[FREE_FASTPATH] + (unsigned int)df.cnt);
				continue;
			}
		}
		slab_free_slowpath(s, df.slab, df.head, df.tail, df.cnt, addr);
	}
}

/* Per-cache statistics summed over the CPUs. */
void slab_stats_sum(struct kmm_kmem_cache *s, unsigned long *sum)
{
	for (int i = 0; i < NR_SLUB_STAT_ITEMS; i++)
		sum[i] = 0;
	for (int cpu = 0; cpu < s->machine->nr_cpus; cpu++)
		for (int i = 0; i < NR_SLUB_STAT_ITEMS; i++)
			sum[i] += READ_ONCE(s->cpu_slab[cpu].stat[i]);
}

/*
 * The node structure of the kmem_cache_node cache itself, before that cache
 * can allocate (Linux early_kmem_cache_node_alloc): the first object of a
 * new slab on @node.
 */
void *early_alloc_node_struct(struct kmm_kmem_cache *s, int node)
{
	struct kmm_page *slab = new_slab(s, GFP_NOWAIT, node);
	KMM_BUG_ON_MSG(!slab, "no memory for the slab allocator's node %d structure", node);
	struct kmem_cache_node *n = get_slab_freelist(slab);
	set_slab_freelist(slab, get_freepointer(s, n));
	struct slab_counters cnt = get_counters(slab);
	cnt.inuse = 1;
	set_counters(slab, cnt);
	memset(n, 0, sizeof(*n));
	spin_lock_init(&n->list_lock);
	INIT_LIST_HEAD(&n->partial);
	s->node[node] = n;
	inc_slabs_node(s, node, cnt.objects);
	add_partial(n, slab, false);
	return n;
}
