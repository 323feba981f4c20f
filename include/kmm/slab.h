/*
 * The slab allocator: object caches (SLUB) and kmalloc.
 *
 * Linux: include/linux/slab.h, mm/slub.c, mm/slab_common.c of 6.1. A cache
 * hands out objects of one size carved from slabs (blocks of pages from the
 * page allocator). Each simulated CPU has a current slab with a lockless
 * freelist: allocation pops it, a free to it pushes; everything else (a new
 * slab, a free to another CPU's slab, partial lists) is the slow path.
 * kmalloc serves sizes 8 .. 8 KiB from size-class caches and larger sizes
 * straight from the page allocator.
 *
 * A thread should enter a simulated CPU (kmm_cpu_enter) to get the per-CPU
 * fast paths; without one it is served from the node partial lists under
 * their lock.
 */
#ifndef KMM_SLAB_H
#define KMM_SLAB_H

#include <kmm/machine.h>
#include <kmm/gfp.h>

typedef unsigned int slab_flags_t;

/* Cache flags (Linux's values where they exist). */
#define SLAB_CONSISTENCY_CHECKS 0x00000100U /* F: check objects on free */
#define SLAB_RED_ZONE		0x00000400U /* Z: red zones around objects */
#define SLAB_POISON		0x00000800U /* P: poison free and new objects */
#define SLAB_HWCACHE_ALIGN	0x00002000U /* align objects on cache lines */
#define SLAB_CACHE_DMA		0x00004000U /* use GFP_DMA memory */
#define SLAB_CACHE_DMA32	0x00008000U /* use GFP_DMA32 memory */
#define SLAB_STORE_USER		0x00010000U /* U: remember who allocated and freed */
#define SLAB_PANIC		0x00040000U /* creation failure is a bug */
#define SLAB_TYPESAFE_BY_RCU	0x00080000U /* (accepted; kmm has no RCU grace period) */
#define SLAB_NOLEAKTRACE	0x00800000U
#define SLAB_RECLAIM_ACCOUNT	0x00020000U /* reclaimable: RECLAIMABLE pages, SReclaimable */
#define SLAB_ACCOUNT		0x04000000U
#define SLAB_NO_MERGE		0x01000000U

#define SLAB_DEBUG_FLAGS (SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER)

struct kmm_kmem_cache;

/*
 * Create a cache of @size-byte objects aligned to @align (0: the natural
 * alignment, at least 8), with @flags and an optional constructor run once
 * per object when its slab is created. Returns NULL with a message in @err on
 * a bad request or no memory (SLAB_PANIC makes that a bug instead).
 */
struct kmm_kmem_cache *kmm_kmem_cache_create(struct kmm_machine *m, const char *name,
					     unsigned int size, unsigned int align,
					     slab_flags_t flags, void (*ctor)(void *),
					     struct kmm_error *err);
/*
 * Destroy a cache; nobody may use it any more. Objects still allocated are
 * reported (with their allocation sites under SLAB_STORE_USER), and the
 * cache stays as it is: returns the number of such objects, 0 if the cache
 * was empty and is gone, or -EINVAL for the allocator's own caches (kmalloc
 * classes, kmem_cache, kmem_cache_node), which are never destroyed.
 */
long kmm_kmem_cache_destroy(struct kmm_kmem_cache *s);
/*
 * Return empty slabs to the page allocator; returns the pages freed. CPU
 * slabs are flushed first: the caller's CPU and the CPUs no thread is on
 * at once, busy CPUs at their next slab slow path.
 */
unsigned long kmm_kmem_cache_shrink(struct kmm_kmem_cache *s);
/* Shrink every cache (echo 1 > /sys/kernel/slab/<each>/shrink). */
unsigned long kmm_slab_shrink_all(struct kmm_machine *m);
/*
 * Give the calling thread's CPU's slabs of every cache back to the nodes,
 * as when a CPU goes offline (Linux slub_cpu_dead): for a thread that leaves
 * its CPU for good. Does nothing without a CPU.
 */
void kmm_slab_flush_cpu(struct kmm_machine *m);

void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *s, gfp_t gfp);
void *kmm_kmem_cache_alloc_node(struct kmm_kmem_cache *s, gfp_t gfp, int node);
void kmm_kmem_cache_free(struct kmm_kmem_cache *s, void *obj);
/* Allocate @nr objects into @p; returns @nr or 0 (all or nothing, as Linux). */
size_t kmm_kmem_cache_alloc_bulk(struct kmm_kmem_cache *s, gfp_t gfp, size_t nr, void **p);
void kmm_kmem_cache_free_bulk(struct kmm_kmem_cache *s, size_t nr, void **p);

const char *kmm_kmem_cache_name(const struct kmm_kmem_cache *s);
unsigned int kmm_kmem_cache_size(const struct kmm_kmem_cache *s);
struct kmm_kmem_cache *kmm_kmem_cache_find(struct kmm_machine *m, const char *name);

/* kmalloc and friends. */
void *kmm_kmalloc(struct kmm_machine *m, size_t size, gfp_t gfp);
void *kmm_kmalloc_node(struct kmm_machine *m, size_t size, gfp_t gfp, int node);
void *kmm_kzalloc(struct kmm_machine *m, size_t size, gfp_t gfp);
void *kmm_kcalloc(struct kmm_machine *m, size_t n, size_t size, gfp_t gfp);
void *kmm_krealloc(struct kmm_machine *m, const void *p, size_t new_size, gfp_t gfp);
void kmm_kfree(struct kmm_machine *m, const void *p);
/*
 * The same on behalf of @caller (Linux's _track_caller variants): slab
 * debugging records and reports @caller as the call site, for wrappers such
 * as a C library's malloc. kmm_kfree_track_caller frees slab objects only.
 */
void *kmm_kmem_cache_alloc_track_caller(struct kmm_kmem_cache *s, gfp_t gfp, uintptr_t caller);
void kmm_kfree_track_caller(struct kmm_machine *m, const void *x, uintptr_t caller);
/* The usable size of a kmalloc'ed object (its size class). */
size_t kmm_ksize(struct kmm_machine *m, const void *p);
/* The kmalloc cache that serves @size (NULL above 8 KiB). */
struct kmm_kmem_cache *kmm_kmalloc_cache(struct kmm_machine *m, size_t size, gfp_t gfp);

#define KMALLOC_SHIFT_LOW      3  /* the smallest class: 8 bytes */
#define KMALLOC_SHIFT_HIGH     13 /* the largest class: 8 KiB */
#define KMALLOC_MAX_CACHE_SIZE 8192U
#define KMALLOC_MAX_SIZE       (PAGE_SIZE << MAX_PAGE_ORDER)

/* What kmalloc(0) returns: not NULL, never dereferenceable; kfree accepts it. */
#define KMM_ZERO_SIZE_PTR	((void *)16)
#define KMM_ZERO_OR_NULL_PTR(x) ((uintptr_t)(x) <= (uintptr_t)KMM_ZERO_SIZE_PTR)

/*
 * Slab debugging at run time, like slub_debug=FZPU[,cache]: @spec is a set
 * of letters F (consistency checks), Z (red zones), P (poisoning),
 * U (store user), "-" (none), optionally followed by ",name" to apply to one
 * cache. It applies to the caches that exist and to caches created later.
 * Z, P and U change the layout of objects, so they switch only on caches
 * that have no slabs; F switches on any cache. Call it while no other thread
 * uses the caches concerned. Returns 0, or -EINVAL/-EBUSY with a message
 * (nothing is changed then).
 */
int kmm_slab_set_debug(struct kmm_machine *m, const char *spec, struct kmm_error *err);

/*
 * What happens after slab debugging (or the always-on checks: a double free
 * at the head of a freelist, a free of something that is not an object)
 * reports a problem: by default the report goes to the machine's log and
 * the damaged object is kept out of use; a hook set here is called after
 * the report (the malloc shim aborts, as C libraries do). NULL restores the
 * default.
 */
typedef void (*kmm_slab_report_hook_t)(struct kmm_machine *m, const char *summary,
				       const void *object);
void kmm_slab_set_report_hook(struct kmm_machine *m, kmm_slab_report_hook_t hook);

/*
 * Check every slab of a cache: freelist plus in-use equals objects, no
 * object twice on free lists, list membership consistent, poison and red
 * zones intact. Returns 0, or -EINVAL with what broke. Call while no other
 * thread uses the cache.
 */
int kmm_slab_validate(struct kmm_kmem_cache *s, struct kmm_error *err);
int kmm_slab_validate_all(struct kmm_machine *m, struct kmm_error *err);

/* Reports of slab debugging go to the machine's log; this counts them. */
unsigned long kmm_slab_nr_reports(struct kmm_machine *m);
/* Objects kept out of use after a report (they are never handed out again). */
unsigned long kmm_slab_nr_quarantined(struct kmm_machine *m);

/*
 * One of a cache's event counters (Linux's CONFIG_SLUB_STATS names, e.g.
 * "alloc_fastpath", "free_remote"), summed over the CPUs; -1 if @stat is
 * not one of them. kmm_kmem_cache_stats() prints them all as
 * /sys/kernel/slab/<cache>/<stat> would ("N C0=a C1=b").
 */
long kmm_kmem_cache_stat(struct kmm_kmem_cache *s, const char *stat);
struct kmm_buf;
void kmm_kmem_cache_stats(struct kmm_kmem_cache *s, struct kmm_buf *out);

/* A cache as /proc/slabinfo and slabtop see it. */
struct kmm_slabinfo {
	const char *name;
	unsigned long active_objs, num_objs; /* objects in use, objects in slabs */
	unsigned long num_slabs;
	unsigned long partial_slabs; /* on the node partial lists */
	unsigned int objsize;	     /* the stride: object and metadata */
	unsigned int object_size;    /* what the creator asked for */
	unsigned int objperslab, pagesperslab, order;
	unsigned int cpu_partial, min_partial, align;
	slab_flags_t flags;
};
/*
 * Call @fn for every cache, newest first (the order of /proc/slabinfo),
 * under the cache list lock (@fn must not create or destroy caches).
 * Stops early if @fn returns nonzero and returns that value.
 */
int kmm_slab_for_each_cache(struct kmm_machine *m,
			    int (*fn)(const struct kmm_slabinfo *info, void *arg), void *arg);

/* Shrinkers: caches of reclaimable objects register how to count and free them. */
struct kmm_shrink_control {
	gfp_t gfp_mask;
	int nid;
	unsigned long nr_to_scan;
	unsigned long nr_scanned;
};
#define SHRINK_STOP  (~0UL)
#define SHRINK_EMPTY (~0UL - 1)
/*
 * Linux struct shrinker. count_objects says how many objects could be freed
 * (0 or SHRINK_EMPTY: nothing); scan_objects frees up to sc->nr_to_scan of
 * them and returns how many it freed, or SHRINK_STOP. Both run without any
 * allocator lock held.
 */
struct kmm_shrinker {
	unsigned long (*count_objects)(struct kmm_shrinker *, struct kmm_shrink_control *sc);
	unsigned long (*scan_objects)(struct kmm_shrinker *, struct kmm_shrink_control *sc);
	long batch; /* objects per scan call; 0: 128 */
	int seeks;  /* cost to recreate an object (DEFAULT_SEEKS 2); 0: halve every pass */
	void *private_data;
	/* kmm's bookkeeping, set by kmm_register_shrinker */
	struct list_head list;
	long nr_deferred; /* work put off to the next pass (Linux nr_deferred) */
	atomic_t active;  /* passes running its callbacks */
	bool dead;	  /* being unregistered */
	char name[32];
};
#define DEFAULT_SEEKS 2
int kmm_register_shrinker(struct kmm_machine *m, struct kmm_shrinker *sh, const char *name);
/* Remove a shrinker; waits until no pass is running its callbacks. */
void kmm_unregister_shrinker(struct kmm_machine *m, struct kmm_shrinker *sh);
/*
 * Ask every shrinker for a share of its objects (Linux shrink_slab): at
 * @priority 12 a 1/4096 share times 4/seeks, at 0 all of them. Returns the
 * objects freed. Reclaim calls this; so does drop_caches.
 */
unsigned long kmm_shrink_slab(struct kmm_machine *m, gfp_t gfp, int nid, int priority);
/* echo 2 > drop_caches: shrink until a pass frees fewer than 10 objects (Linux drop_slab). */
unsigned long kmm_drop_slab(struct kmm_machine *m);

#endif /* KMM_SLAB_H */
