/*
 * Slab caches: object layout, slab order, creation, shrinking, destruction,
 * and starting the slab allocator at boot.
 *
 * Linux: mm/slab_common.c (kmem_cache_create_usercopy, kmem_cache_destroy,
 * calculate_alignment, create_boot_cache) and mm/slub.c of 6.1
 * (calculate_sizes, calculate_order, calc_slab_order, set_cpu_partial,
 * set_min_partial, kmem_cache_open, __kmem_cache_shrink,
 * __kmem_cache_shutdown, kmem_cache_init, bootstrap). The formulas are
 * Linux's and are checked against the geometry of every cache of six real
 * 6.1 boots (tests/slab/oracle_test.c). kmm does not merge caches of the
 * same geometry (Linux's slab_merge): every cache shows as itself.
 *
 * Booting (kmem_cache_init): the cache of node structures and the cache of
 * caches are first built in a temporary page, the former taking its own node
 * structures from the first object of a slab of each node; then each is
 * copied into an object of the cache of caches ("bootstrap") and the
 * temporary page is freed, so that every cache, those two included, is an
 * object in simulated RAM, counted in slabinfo as in Linux.
 *
 * Lock order: st->lock (the cache list) -> n->list_lock -> slab_lock.
 */
#include "internal.h"
#include <errno.h>

/* --- Geometry ---------------------------------------------------------------------- */

/* Linux calculate_alignment(): cache-line alignment shrinks for small objects. */
static unsigned int calculate_alignment(slab_flags_t flags, unsigned int align, unsigned int size)
{
	if (flags & SLAB_HWCACHE_ALIGN) {
		unsigned int ralign = KMM_CACHELINE;
		while (size <= ralign / 2)
			ralign /= 2;
		align = kmm_max(align, ralign);
	}
	align = kmm_max(align, 8u); /* ARCH_SLAB_MINALIGN on x86_64 */
	return KMM_ALIGN(align, (unsigned int)sizeof(void *));
}

static unsigned int order_objects(unsigned int order, unsigned int size)
{
	return (unsigned int)((PAGE_SIZE << order) / size);
}

/*
 * The lowest order from that which holds @min_objects whose leftover is at
 * most 1/@fract_leftover of the slab (Linux calc_slab_order).
 */
static unsigned int calc_slab_order(unsigned int size, unsigned int min_objects,
				    unsigned int max_order, unsigned int fract_leftover)
{
	unsigned int order;
	if (order_objects(0, size) > MAX_OBJS_PER_PAGE)
		return get_order((unsigned long)size * MAX_OBJS_PER_PAGE) - 1;
	for (order = get_order((unsigned long)min_objects * size); order <= max_order; order++) {
		unsigned int slab_size = (unsigned int)(PAGE_SIZE << order);
		if (slab_size % size <= slab_size / fract_leftover)
			break;
	}
	return order;
}

/*
 * Linux calculate_order(): at least min_objects per slab (fewer if even
 * the largest order cannot hold them) with little waste, preferring low
 * orders; then one object per slab up to slub_max_order, then up to the
 * page allocator's largest order. Returns -1u if nothing fits.
 */
unsigned int calculate_order(unsigned int size, unsigned int min_objects)
{
	unsigned int max_objects = order_objects(SLUB_MAX_ORDER, size);
	min_objects = kmm_min(min_objects, max_objects);
	while (min_objects > 1) {
		for (unsigned int fraction = 16; fraction >= 4; fraction /= 2) {
			unsigned int order =
			    calc_slab_order(size, min_objects, SLUB_MAX_ORDER, fraction);
			if (order <= SLUB_MAX_ORDER)
				return order;
		}
		min_objects--;
	}
	unsigned int order = calc_slab_order(size, 1, SLUB_MAX_ORDER, 1);
	if (order <= SLUB_MAX_ORDER)
		return order;
	order = calc_slab_order(size, 1, MAX_PAGE_ORDER, 1);
	return order <= MAX_PAGE_ORDER ? order : -1u;
}

/*
 * Lay out an object and its metadata (Linux calculate_sizes):
 *
 *   [left red zone][object][right red zone to a word][free pointer, if it
 *   cannot live inside the object][alloc track][free track][a word of
 *   padding, with red zones][alignment]
 *
 * The free pointer lives in the middle of a free object when nothing else
 * needs that space (a small overflow from the previous object then does not
 * reach it); outside the object when the object is poisoned, has a
 * constructor, or is freed type-safely.
 */
static bool calculate_sizes(struct kmm_kmem_cache *s, unsigned int min_objects)
{
	slab_flags_t flags = s->flags;
	unsigned int size = KMM_ALIGN(s->object_size, (unsigned int)sizeof(void *));

	if ((flags & SLAB_POISON) && !(flags & SLAB_TYPESAFE_BY_RCU) && !s->ctor)
		s->flags |= __OBJECT_POISON;
	else
		s->flags &= ~__OBJECT_POISON;
	if ((flags & SLAB_RED_ZONE) && size == s->object_size)
		size += sizeof(void *);
	s->inuse = size;
	if ((flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON)) ||
	    ((flags & SLAB_RED_ZONE) && s->object_size < sizeof(void *)) || s->ctor) {
		s->offset = size;
		size += sizeof(void *);
	} else {
		s->offset = KMM_ALIGN_DOWN(s->object_size / 2, (unsigned int)sizeof(void *));
	}
	if (flags & SLAB_STORE_USER)
		size += 2 * sizeof(struct track);
	s->red_left_pad = 0;
	if (flags & SLAB_RED_ZONE) {
		size += sizeof(void *);
		s->red_left_pad = KMM_ALIGN((unsigned int)sizeof(void *), s->align);
		size += s->red_left_pad;
	}
	size = KMM_ALIGN(size, s->align);
	s->size = size;

	unsigned int order = calculate_order(size, min_objects);
	if (order == -1u)
		return false;
	s->allocflags = 0;
	if (order)
		s->allocflags |= __GFP_COMP;
	if (flags & SLAB_CACHE_DMA)
		s->allocflags |= GFP_DMA;
	if (flags & SLAB_CACHE_DMA32)
		s->allocflags |= GFP_DMA32;
	if (flags & SLAB_RECLAIM_ACCOUNT)
		s->allocflags |= __GFP_RECLAIMABLE;
	s->order = order;
	s->objects = order_objects(order, size);
	s->min_order = get_order(size);
	s->min_objects = order_objects(s->min_order, size);
	return s->objects > 0;
}

/* Linux set_min_partial(): keep more empty slabs around for large objects. */
static void set_min_partial(struct kmm_kmem_cache *s)
{
	s->min_partial = kmm_clamp((unsigned long)ilog2(s->size) / 2, (unsigned long)MIN_PARTIAL,
				   (unsigned long)MAX_PARTIAL);
}

/*
 * Linux set_cpu_partial(): how many free objects a CPU may keep in partial
 * slabs, counted as slabs assumed half full.
 */
static void set_cpu_partial(struct kmm_kmem_cache *s)
{
	unsigned int nr_objects;
	if (!kmem_cache_has_cpu_partial(s))
		nr_objects = 0;
	else if (s->size >= PAGE_SIZE)
		nr_objects = 6;
	else if (s->size >= 1024)
		nr_objects = 24;
	else if (s->size >= 256)
		nr_objects = 52;
	else
		nr_objects = 120;
	s->cpu_partial = nr_objects;
	s->cpu_partial_slabs = KMM_DIV_ROUND_UP(nr_objects * 2, s->objects);
}

/* A random permutation of object indices for shuffle_freelist (Fisher-Yates). */
static int init_cache_random_seq(struct kmm_kmem_cache *s)
{
	struct kmm_machine *m = s->machine;
	if (s->random_seq || s->objects < 2)
		return 0;
	unsigned int *seq = kmm_kmalloc(m, sizeof(*seq) * s->objects, GFP_KERNEL);
	if (!seq)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->objects; i++)
		seq[i] = i;
	spin_lock(&m->slab->rng_lock);
	for (unsigned int i = s->objects - 1; i > 0; i--) {
		unsigned int j = (unsigned int)kmm_rng_below(&m->slab->rng, i + 1);
		unsigned int t = seq[i];
		seq[i] = seq[j];
		seq[j] = t;
	}
	spin_unlock(&m->slab->rng_lock);
	s->random_seq = seq;
	return 0;
}

/* --- Per-CPU and per-node parts ------------------------------------------------------ */

static size_t cpu_slab_bytes(const struct kmm_machine *m)
{
	return sizeof(struct kmem_cache_cpu) * (size_t)m->nr_cpus;
}

/*
 * The per-CPU array: from kmalloc once it works; before that (the boot and
 * kmalloc caches, which live as long as the machine) carved from pages of
 * the page allocator, as Linux's first percpu chunk.
 */
static int alloc_kmem_cache_cpus(struct kmm_kmem_cache *s)
{
	struct kmm_machine *m = s->machine;
	struct kmm_slab_state *st = m->slab;
	size_t bytes = cpu_slab_bytes(m);
	if (st->up) {
		s->cpu_slab = kmm_kmalloc(m, bytes, GFP_KERNEL | __GFP_ZERO);
		return s->cpu_slab ? 0 : -ENOMEM;
	}
	if (st->boot_percpu_left < bytes) {
		unsigned int order = get_order(kmm_max(bytes, 4 * PAGE_SIZE));
		st->boot_percpu = kmm_get_free_pages(m, GFP_NOWAIT | __GFP_ZERO, order);
		if (!st->boot_percpu)
			return -ENOMEM;
		atomic_long_add(1L << order, &m->percpu_pages);
		st->boot_percpu_left = PAGE_SIZE << order;
	}
	s->cpu_slab = (struct kmem_cache_cpu *)st->boot_percpu;
	st->boot_percpu += bytes;
	st->boot_percpu_left -= bytes;
	s->flags |= __SLAB_BOOT;
	return 0;
}

static void free_kmem_cache_cpus(struct kmm_kmem_cache *s)
{
	if (s->cpu_slab && !(s->flags & __SLAB_BOOT))
		kmm_kfree(s->machine, s->cpu_slab);
	s->cpu_slab = NULL;
}

/* Nodes that get slabs: online with memory (Linux slab_nodes, N_NORMAL_MEMORY). */
static bool slab_node(const struct kmm_machine *m, int nid)
{
	const struct kmm_node *pgdat = m->node_data[nid];
	return pgdat && pgdat->node_present_pages;
}

static void free_kmem_cache_nodes(struct kmm_kmem_cache *s)
{
	struct kmm_machine *m = s->machine;
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		if (s->node[nid])
			kmm_kmem_cache_free(m->slab->kmem_cache_node, s->node[nid]);
		s->node[nid] = NULL;
	}
}

static int init_kmem_cache_nodes(struct kmm_kmem_cache *s)
{
	struct kmm_machine *m = s->machine;
	struct kmm_slab_state *st = m->slab;
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		if (!slab_node(m, nid))
			continue;
		if (!st->kmem_cache_node) {
			/* This is the cache of node structures, being built. */
			early_alloc_node_struct(s, nid);
			continue;
		}
		struct kmem_cache_node *n =
		    kmm_kmem_cache_alloc_node(st->kmem_cache_node, GFP_KERNEL, nid);
		if (!n) {
			free_kmem_cache_nodes(s);
			return -ENOMEM;
		}
		memset(n, 0, sizeof(*n));
		spin_lock_init(&n->list_lock);
		INIT_LIST_HEAD(&n->partial);
		s->node[nid] = n;
	}
	return 0;
}

/* --- Creating ---------------------------------------------------------------------- */

/* Fill in a zeroed cache structure and give it its per-node and per-CPU parts. */
static int kmem_cache_open(struct kmm_machine *m, struct kmm_kmem_cache *s, const char *name,
			   unsigned int size, unsigned int align, slab_flags_t flags,
			   void (*ctor)(void *))
{
	struct kmm_slab_state *st = m->slab;
	s->machine = m;
	kmm_port_snprintf(s->name, sizeof(s->name), "%s", name);
	s->object_size = size;
	s->ctor = ctor;
	s->refcount = 1;
	s->flags = kmem_cache_flags(m, size, flags, name);
	s->align = calculate_alignment(flags, align, size);
	spin_lock(&st->rng_lock);
	s->random = (uintptr_t)kmm_rng_next(&st->rng);
	spin_unlock(&st->rng_lock);
	if (!calculate_sizes(s, st->min_objects))
		return -E2BIG;
	set_min_partial(s);
	set_cpu_partial(s);
	if (st->up && init_cache_random_seq(s))
		return -ENOMEM;
	if (init_kmem_cache_nodes(s))
		goto nomem;
	if (alloc_kmem_cache_cpus(s)) {
		free_kmem_cache_nodes(s);
		goto nomem;
	}
	return 0;
nomem:
	if (s->random_seq)
		kmm_kfree(m, s->random_seq);
	s->random_seq = NULL;
	return -ENOMEM;
}

struct kmm_kmem_cache *create_cache(struct kmm_machine *m, const char *name, unsigned int size,
				    unsigned int align, slab_flags_t flags, void (*ctor)(void *),
				    struct kmm_error *err)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s = kmm_kmem_cache_alloc(st->kmem_cache, GFP_KERNEL | __GFP_ZERO);
	if (!s) {
		kmm_error_set(err, -ENOMEM, "kmem_cache_create(%s): no memory for the cache", name);
		return NULL;
	}
	int ret = kmem_cache_open(m, s, name, size, align, flags, ctor);
	if (ret) {
		kmm_kmem_cache_free(st->kmem_cache, s);
		if (ret == -E2BIG)
			kmm_error_set(
			    err, -EINVAL,
			    "kmem_cache_create(%s): objects of %u bytes do not fit a slab", name,
			    size);
		else
			kmm_error_set(err, -ENOMEM, "kmem_cache_create(%s): no memory", name);
		return NULL;
	}
	spin_lock(&st->lock);
	list_add(&s->list, &st->caches);
	spin_unlock(&st->lock);
	return s;
}

static struct kmm_kmem_cache *find_cache_locked(struct kmm_slab_state *st, const char *name)
{
	struct kmm_kmem_cache *s;
	list_for_each_entry (s, &st->caches, list)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

struct kmm_kmem_cache *kmm_kmem_cache_find(struct kmm_machine *m, const char *name)
{
	struct kmm_slab_state *st = m->slab;
	spin_lock(&st->lock);
	struct kmm_kmem_cache *s = find_cache_locked(st, name);
	spin_unlock(&st->lock);
	return s;
}

static int check_create_args(struct kmm_machine *m, const char *name, unsigned int size,
			     unsigned int align, slab_flags_t flags, struct kmm_error *err)
{
	if (!name || !*name)
		return kmm_error_set(err, -EINVAL, "kmem_cache_create: the cache needs a name");
	if (strlen(name) >= sizeof(((struct kmm_kmem_cache *)0)->name))
		return kmm_error_set(
		    err, -EINVAL, "kmem_cache_create(%s): the name is longer than %zu characters",
		    name, sizeof(((struct kmm_kmem_cache *)0)->name) - 1);
	if (size == 0 || size > KMALLOC_MAX_SIZE)
		return kmm_error_set(
		    err, -EINVAL, "kmem_cache_create(%s): object size %u is not between 1 and %lu",
		    name, size, (unsigned long)KMALLOC_MAX_SIZE);
	if (align && (!is_power_of_2(align) || align > PAGE_SIZE))
		return kmm_error_set(err, -EINVAL,
				     "kmem_cache_create(%s): alignment %u is not a power of two up "
				     "to %lu",
				     name, align, PAGE_SIZE);
	if (flags & ~SLAB_FLAGS_PERMITTED)
		return kmm_error_set(err, -EINVAL, "kmem_cache_create(%s): unknown flags %#x", name,
				     flags & ~SLAB_FLAGS_PERMITTED);
	if (kmm_kmem_cache_find(m, name))
		return kmm_error_set(err, -EEXIST,
				     "kmem_cache_create(%s): a cache of that name exists", name);
	return 0;
}

struct kmm_kmem_cache *kmm_kmem_cache_create(struct kmm_machine *m, const char *name,
					     unsigned int size, unsigned int align,
					     slab_flags_t flags, void (*ctor)(void *),
					     struct kmm_error *err)
{
	struct kmm_kmem_cache *s = NULL;
	if (!check_create_args(m, name, size, align, flags, err))
		s = create_cache(m, name, size, align, flags, ctor, err);
	if (!s && (flags & SLAB_PANIC))
		kmm_bug(__FILE__, __LINE__, "kmem_cache_create(%s) failed: %s",
			name ? name : "(null)", err ? err->msg : "");
	return s;
}

const char *kmm_kmem_cache_name(const struct kmm_kmem_cache *s)
{
	return s->name;
}

unsigned int kmm_kmem_cache_size(const struct kmm_kmem_cache *s)
{
	return s->object_size;
}

/* --- Shrinking and destroying ------------------------------------------------------ */

/* Take the empty slabs off a node's partial list; the fullest slabs go first. */
static unsigned long shrink_node_partial(struct kmm_kmem_cache *s, struct kmem_cache_node *n)
{
	enum {
		SHRINK_PROMOTE_MAX = 32
	};
	struct list_head promote[SHRINK_PROMOTE_MAX], discard;
	struct kmm_page *slab, *t;
	unsigned long pages = 0;

	INIT_LIST_HEAD(&discard);
	for (int i = 0; i < SHRINK_PROMOTE_MAX; i++)
		INIT_LIST_HEAD(&promote[i]);
	spin_lock(&n->list_lock);
	list_for_each_entry_safe (slab, t, &n->partial, slab_list) {
		struct slab_counters c = get_counters(slab);
		unsigned int free = c.objects - c.inuse;
		if (!c.inuse) {
			list_del(&slab->slab_list);
			WRITE_ONCE(n->nr_partial, n->nr_partial - 1);
			list_add(&slab->slab_list, &discard);
		} else if (free <= SHRINK_PROMOTE_MAX) {
			list_del(&slab->slab_list);
			list_add_tail(&slab->slab_list, &promote[free - 1]);
		}
	}
	/* Most used first: they fill up and the others have a chance to empty. */
	for (int i = SHRINK_PROMOTE_MAX - 1; i >= 0; i--)
		list_splice(&promote[i], &n->partial);
	spin_unlock(&n->list_lock);
	list_for_each_entry_safe (slab, t, &discard, slab_list) {
		pages += 1UL << slab_order(slab);
		discard_slab(s, slab);
	}
	return pages;
}

unsigned long kmm_kmem_cache_shrink(struct kmm_kmem_cache *s)
{
	struct kmm_machine *m = s->machine;
	unsigned long pages = 0;
	flush_all_cpus(s, false);
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		if (s->node[nid])
			pages += shrink_node_partial(s, s->node[nid]);
	return pages;
}

unsigned long kmm_slab_shrink_all(struct kmm_machine *m)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s;
	unsigned long pages = 0;
	spin_lock(&st->lock);
	list_for_each_entry (s, &st->caches, list)
		pages += kmm_kmem_cache_shrink(s);
	spin_unlock(&st->lock);
	return pages;
}

static long objects_in_use(struct kmm_kmem_cache *s)
{
	long n = 0;
	for (int nid = 0; nid < s->machine->nr_node_ids; nid++) {
		struct kmem_cache_node *kn = s->node[nid];
		if (kn)
			n += atomic_long_read(&kn->total_objects) - (long)count_partial_free(kn);
	}
	return n;
}

static void report_leaked_slab(struct kmm_kmem_cache *s, struct kmm_page *slab, void *arg)
{
	(void)arg;
	list_slab_objects(s, slab);
}

long kmm_kmem_cache_destroy(struct kmm_kmem_cache *s)
{
	if (!s)
		return 0;
	struct kmm_machine *m = s->machine;
	struct kmm_slab_state *st = m->slab;
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);

	if (s->flags & (__SLAB_KMALLOC | __SLAB_BOOT)) {
		pr_warn(m,
			"kmem_cache_destroy %s: the slab allocator's own cache cannot be destroyed",
			s->name);
		return -EINVAL;
	}
	spin_lock(&st->lock);
	if (--s->refcount) {
		spin_unlock(&st->lock);
		return 0;
	}
	/* Nobody may use the cache now: every CPU's slabs can be taken directly. */
	flush_all_cpus(s, true);
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		if (s->node[nid])
			shrink_node_partial(s, s->node[nid]);
	long remaining = objects_in_use(s);
	if (remaining) {
		s->refcount = 1;
		spin_unlock(&st->lock);
		char where[96];
		slab_print_addr(m, where, sizeof(where), caller);
		pr_warn(m,
			"kmem_cache_destroy %s: Slab cache still has objects when called from %s",
			s->name, where);
		for_each_slab_of(s, report_leaked_slab, NULL);
		atomic_long_inc(&st->nr_reports);
		return remaining;
	}
	list_del(&s->list);
	spin_unlock(&st->lock);
	free_kmem_cache_cpus(s);
	free_kmem_cache_nodes(s);
	if (s->random_seq)
		kmm_kfree(m, s->random_seq);
	kmm_kmem_cache_free(st->kmem_cache, s);
	return 0;
}

void for_each_slab_of(struct kmm_kmem_cache *s,
		      void (*fn)(struct kmm_kmem_cache *s, struct kmm_page *slab, void *arg),
		      void *arg)
{
	struct kmm_machine *m = s->machine;
	int nid;
	struct kmm_zone *zone;
	kmm_wait_for_init(m);
	for_each_populated_zone (m, nid, zone) {
		unsigned long end = zone_end_pfn(zone);
		for (unsigned long pfn = zone->zone_start_pfn; pfn < end; pfn++) {
			if (!pfn_valid(m, pfn))
				continue;
			struct kmm_page *page = pfn_to_page(m, pfn);
			if (!PageSlab(page) || PageTail(page))
				continue;
			if (page->slab_cache == s)
				fn(s, page, arg);
			pfn += (1UL << slab_order(page)) - 1;
		}
	}
}

/* --- Booting ------------------------------------------------------------------------ */

/*
 * Move a boot cache into an object of the cache of caches (Linux
 * bootstrap). At boot no thread is on a CPU of the new machine, so every
 * slab of the boot caches is on a node partial list, where its slab_cache
 * pointer is fixed.
 */
static struct kmm_kmem_cache *bootstrap(struct kmm_machine *m, struct kmm_kmem_cache *boot)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s = kmm_kmem_cache_alloc(st->kmem_cache, GFP_NOWAIT);
	KMM_BUG_ON_MSG(!s, "no memory to start the slab allocator");
	memcpy(s, boot, kmem_cache_struct_size(m));
	flush_all_cpus(s, true);
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmem_cache_node *n = s->node[nid];
		if (!n)
			continue;
		struct kmm_page *slab;
		unsigned long nr = 0;
		list_for_each_entry (slab, &n->partial, slab_list) {
			slab->slab_cache = s;
			nr++;
		}
		KMM_BUG_ON(nr != (unsigned long)atomic_long_read(&n->nr_slabs));
	}
	list_add(&s->list, &st->caches);
	return s;
}

static void slab_apply_boot_debug(struct kmm_machine *m)
{
	struct kmm_slab_state *st = m->slab;
	const char *spec = m->cfg.slub_debug;
	if (!spec[0])
		return;
	for (const char *p = spec; *p && *p != ','; p++) {
		switch (*p) {
		case 'F':
		case 'f':
			st->debug_flags |= SLAB_CONSISTENCY_CHECKS;
			break;
		case 'Z':
		case 'z':
			st->debug_flags |= SLAB_RED_ZONE;
			break;
		case 'P':
		case 'p':
			st->debug_flags |= SLAB_POISON;
			break;
		case 'U':
		case 'u':
			st->debug_flags |= SLAB_STORE_USER;
			break;
		default:
			break;
		}
	}
	const char *comma = strchr(spec, ',');
	if (comma)
		kmm_port_snprintf(st->debug_only, sizeof(st->debug_only), "%s", comma + 1);
}

int kmem_cache_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_slab_state *st = kmm_port_alloc(sizeof(*st));
	if (!st)
		return kmm_error_set(err, -ENOMEM, "no host memory for the slab allocator's state");
	m->slab = st;
	spin_lock_init(&st->lock);
	INIT_LIST_HEAD(&st->caches);
	spin_lock_init(&st->shrinker_lock);
	INIT_LIST_HEAD(&st->shrinkers);
	spin_lock_init(&st->rng_lock);
	kmm_rng_seed(&st->rng, m->cfg.seed ^ 0x736c6162u /* "slab" */);
	/* Linux: 4 * (fls(present CPUs) + 1), with nr_cpu_ids for a single CPU. */
	st->min_objects = 4 * (unsigned int)(fls((unsigned int)m->nr_cpus) + 1);
	slab_apply_boot_debug(m);

	/* The two boot caches, in a temporary block. */
	size_t struct_size = KMM_ALIGN(kmem_cache_struct_size(m), (size_t)KMM_CACHELINE);
	unsigned int boot_order = get_order(2 * struct_size);
	char *boot = kmm_get_free_pages(m, GFP_NOWAIT | __GFP_ZERO, boot_order);
	if (!boot) {
		/* A machine whose reservations (memmap, swiotlb, crash kernel...) left the kernel nothing. */
		return kmm_error_set(err, -ENOMEM,
				     "the kernel has no memory left to start its slab allocator "
				     "(%luK free after the boot reservations, none of it in an "
				     "order-%u block of a zone the kernel may allocate from): give "
				     "the machine more memory, or less to the reservations or to "
				     "ZONE_MOVABLE (kernelcore/movablecore)",
				     global_zone_page_state(m, NR_FREE_PAGES) << (PAGE_SHIFT - 10),
				     boot_order);
	}
	struct kmm_kmem_cache *boot_node = (void *)boot, *boot_cache = (void *)(boot + struct_size);
	KMM_BUG_ON(kmem_cache_open(m, boot_node, "kmem_cache_node", sizeof(struct kmem_cache_node),
				   0, SLAB_HWCACHE_ALIGN, NULL));
	st->kmem_cache_node = boot_node;
	KMM_BUG_ON(kmem_cache_open(m, boot_cache, "kmem_cache",
				   (unsigned int)kmem_cache_struct_size(m), 0, SLAB_HWCACHE_ALIGN,
				   NULL));
	st->kmem_cache = boot_cache;
	st->kmem_cache = bootstrap(m, boot_cache);
	st->kmem_cache_node = bootstrap(m, boot_node);
	kmm_free_pages_addr(m, boot, boot_order);

	create_kmalloc_caches(m);
	st->up = true;
	/* What needs kmalloc: the freelist orders of the caches made before it worked. */
	struct kmm_kmem_cache *s;
	list_for_each_entry (s, &st->caches, list)
		if (init_cache_random_seq(s))
			pr_warn(m, "SLUB: Unable to initialize free list for %s", s->name);

	pr_info(m, "SLUB: HWalign=%d, Order=0-%d, MinObjects=0, CPUs=%d, Nodes=%d", KMM_CACHELINE,
		SLUB_MAX_ORDER, m->nr_cpus, m->nr_node_ids);
	return 0;
}

void kmem_cache_destroy_all(struct kmm_machine *m)
{
	/* The caches live in simulated RAM, which goes with the machine. */
	if (m->slab)
		kmm_port_free(m->slab, sizeof(*m->slab));
	m->slab = NULL;
}

/* --- Debugging switched at run time ----------------------------------------------- */

static int parse_debug_spec(const char *spec, slab_flags_t *flags, const char **name,
			    struct kmm_error *err)
{
	*flags = 0;
	*name = NULL;
	const char *p = spec;
	for (; *p && *p != ','; p++) {
		switch (*p) {
		case 'F':
		case 'f':
			*flags |= SLAB_CONSISTENCY_CHECKS;
			break;
		case 'Z':
		case 'z':
			*flags |= SLAB_RED_ZONE;
			break;
		case 'P':
		case 'p':
			*flags |= SLAB_POISON;
			break;
		case 'U':
		case 'u':
			*flags |= SLAB_STORE_USER;
			break;
		case '-':
			break;
		default:
			return kmm_error_set(
			    err, -EINVAL,
			    "slub_debug '%s': unknown letter '%c' (expected F, Z, P, "
			    "U or '-', then optionally ,CACHE)",
			    spec, *p);
		}
	}
	if (*p == ',') {
		if (!p[1] || strlen(p + 1) >= sizeof(((struct kmm_slab_state *)0)->debug_only))
			return kmm_error_set(err, -EINVAL, "slub_debug '%s': bad cache name", spec);
		*name = p + 1;
	}
	return 0;
}

#define SLAB_LAYOUT_FLAGS (SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER)

static unsigned long cache_nr_slabs(struct kmm_kmem_cache *s)
{
	unsigned long nr = 0;
	for (int nid = 0; nid < s->machine->nr_node_ids; nid++)
		if (s->node[nid])
			nr += (unsigned long)atomic_long_read(&s->node[nid]->nr_slabs);
	return nr;
}

/* Give a cache without slabs a new layout for @flags. */
static int relayout_cache(struct kmm_kmem_cache *s, slab_flags_t flags)
{
	struct kmm_machine *m = s->machine;
	struct kmm_kmem_cache old = *s; /* the node array does not change */
	s->flags = (s->flags & ~SLAB_DEBUG_FLAGS) | flags;
	if (!calculate_sizes(s, m->slab->min_objects)) {
		*s = old;
		return -E2BIG;
	}
	set_min_partial(s);
	set_cpu_partial(s);
	if (s->objects != old.objects) {
		s->random_seq = NULL;
		if (init_cache_random_seq(s)) {
			*s = old;
			return -ENOMEM;
		}
		if (old.random_seq)
			kmm_kfree(m, old.random_seq);
	}
	return 0;
}

int kmm_slab_set_debug(struct kmm_machine *m, const char *spec, struct kmm_error *err)
{
	struct kmm_slab_state *st = m->slab;
	slab_flags_t flags;
	const char *name;
	int ret = parse_debug_spec(spec, &flags, &name, err);
	if (ret)
		return ret;
	spin_lock(&st->lock);
	struct kmm_kmem_cache *s;
	if (name) {
		s = find_cache_locked(st, name);
		if (s && (flags & SLAB_LAYOUT_FLAGS) != (s->flags & SLAB_LAYOUT_FLAGS)) {
			flush_all_cpus(s, true);
			for (int nid = 0; nid < m->nr_node_ids; nid++)
				if (s->node[nid])
					shrink_node_partial(s, s->node[nid]);
			if (cache_nr_slabs(s)) {
				spin_unlock(&st->lock);
				return kmm_error_set(
				    err, -EBUSY,
				    "slub_debug '%s': %s has objects; red zones, "
				    "poisoning and owner tracking change the layout "
				    "and switch only on an empty cache",
				    spec, name);
			}
		}
	}
	list_for_each_entry (s, &st->caches, list) {
		if (name && strcmp(s->name, name))
			continue;
		flush_all_cpus(s, true);
		slab_flags_t layout = flags & SLAB_LAYOUT_FLAGS;
		if (layout != (s->flags & SLAB_LAYOUT_FLAGS)) {
			for (int nid = 0; nid < m->nr_node_ids; nid++)
				if (s->node[nid])
					shrink_node_partial(s, s->node[nid]);
			/* Caches with objects keep their layout (only named ones are an error). */
			if (cache_nr_slabs(s) || relayout_cache(s, flags))
				layout = s->flags & SLAB_LAYOUT_FLAGS;
		}
		s->flags =
		    (s->flags & ~SLAB_DEBUG_FLAGS) | layout | (flags & SLAB_CONSISTENCY_CHECKS);
		set_cpu_partial(s);
	}
	st->debug_flags = flags;
	kmm_port_snprintf(st->debug_only, sizeof(st->debug_only), "%s", name ? name : "");
	spin_unlock(&st->lock);
	return 0;
}
