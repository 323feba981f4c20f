/*
 * slab/ private declarations: the cache structures, the allocation and free
 * fast paths (inline, shared by kmem_cache_alloc and kmalloc), and the
 * functions the files of the slab allocator share.
 *
 * A slab is a block of 2^order pages (a compound page when order > 0) whose
 * head struct kmm_page carries the slab fields: slab_cache, freelist, and
 * the counters inuse/objects/frozen/cpu. See slub.c for the theory of
 * operation and the lock order.
 */
#ifndef KMM_SLAB_INTERNAL_H
#define KMM_SLAB_INTERNAL_H

#include <kmm/slab.h>
#include <kmm/trace.h>
#include "../phys/phys.h"
#include "../page/page.h"
#include <string.h>

/* Per-cache statistics (Linux enum stat_item), counted per CPU, summed on read. */
#define KMM_SLUB_STAT_ITEMS(X)                                                                    \
	X(ALLOC_FASTPATH, "alloc_fastpath")	/* popped from the CPU freelist */                \
	X(ALLOC_SLOWPATH, "alloc_slowpath")	/* anything else */                               \
	X(FREE_FASTPATH, "free_fastpath")	/* pushed on the CPU freelist */                  \
	X(FREE_SLOWPATH, "free_slowpath")	/* to any other slab */                           \
	X(FREE_FROZEN, "free_frozen")		/* to a slab frozen on some CPU */                \
	X(FREE_REMOTE, "free_remote")		/* to a slab frozen on another CPU */             \
	X(FREE_ADD_PARTIAL, "free_add_partial") /* a full slab went to a node partial list */     \
	X(FREE_REMOVE_PARTIAL, "free_remove_partial") /* an empty slab left a partial list */     \
	X(ALLOC_FROM_PARTIAL, "alloc_from_partial")   /* a node partial slab taken */             \
	X(ALLOC_SLAB, "alloc_slab")		      /* a new slab from the page allocator */    \
	X(ALLOC_REFILL, "alloc_refill")		      /* CPU freelist refilled from its slab */   \
	X(ALLOC_NODE_MISMATCH, "alloc_node_mismatch") /* the CPU slab was on the wrong node */    \
	X(FREE_SLAB, "free_slab")		      /* a slab returned to the page allocator */ \
	X(CPUSLAB_FLUSH, "cpuslab_flush")	      /* a CPU's slabs flushed */                 \
	X(DEACTIVATE_FULL, "deactivate_full")	      /* a deactivated slab was full */           \
	X(DEACTIVATE_EMPTY, "deactivate_empty")	      /* ... was empty */                         \
	X(DEACTIVATE_TO_HEAD, "deactivate_to_head")   /* ... went to the partial list's head */   \
	X(DEACTIVATE_TO_TAIL, "deactivate_to_tail")   /* ... went to its tail */                  \
	X(DEACTIVATE_REMOTE_FREES, "deactivate_remote_frees") /* ... had remote frees */          \
	X(DEACTIVATE_BYPASS, "deactivate_bypass")	      /* the CPU slab ran out: dropped */ \
	X(ORDER_FALLBACK, "order_fallback")	  /* a new slab of the minimum order */           \
	X(CPU_PARTIAL_ALLOC, "cpu_partial_alloc") /* a CPU partial slab became the CPU slab */    \
	X(CPU_PARTIAL_FREE, "cpu_partial_free")	  /* a slab went to a CPU partial list */         \
	X(CPU_PARTIAL_NODE, "cpu_partial_node")	  /* a node partial slab went to a CPU list */    \
	X(CPU_PARTIAL_DRAIN, "cpu_partial_drain") /* a CPU partial list went to the node */

enum slub_stat_item {
#define X(e, name) e,
	KMM_SLUB_STAT_ITEMS(X)
#undef X
	NR_SLUB_STAT_ITEMS
};
extern const char *const slub_stat_names[NR_SLUB_STAT_ITEMS];

/*
 * The per-CPU part of a cache (Linux struct kmem_cache_cpu). Only the thread
 * on the CPU reads or writes it, except flush_request, which others set.
 * The fast paths touch only the first cache line: the freelist, the CPU
 * slab's memory range (a free checks it instead of looking up the object's
 * struct page), and the fast-path counters.
 */
struct kmem_cache_cpu {
	void *freelist;	      /* next free object of the CPU slab, private to the CPU */
	uintptr_t slab_start; /* the CPU slab's memory, [slab_start, slab_start + slab_bytes); */
	unsigned long slab_bytes;   /* ... 0 and 0 without a CPU slab (set_cpu_slab) */
	struct kmm_page *slab;	    /* the slab being allocated from (frozen) */
	struct kmm_page *partial;   /* frozen partial slabs, chained by page->next */
	unsigned int flush_request; /* another thread asked for this CPU's slabs */
	unsigned int stat[NR_SLUB_STAT_ITEMS];
} ____cacheline_aligned;
KMM_BUILD_BUG_ON(offsetof(struct kmem_cache_cpu, stat[FREE_FASTPATH + 1]) > KMM_CACHELINE);

/* The per-node part (Linux struct kmem_cache_node). */
struct kmem_cache_node {
	spinlock_t list_lock;
	unsigned long nr_partial;
	struct list_head partial;
	atomic_long_t nr_slabs;
	atomic_long_t total_objects;
};

/* Debug metadata: who allocated or freed an object (Linux struct track). */
struct track {
	uintptr_t addr;	    /* the caller of the slab API */
	int cpu;	    /* the simulated CPU, -1 without one */
	int pid;	    /* the simulated task (hooks.current_pid), 0 without one */
	unsigned long when; /* the cache's allocation sequence number then */
};
enum track_item {
	TRACK_ALLOC,
	TRACK_FREE
};

#define __OBJECT_POISON 0x80000000U /* flags: the object itself is poisoned while free */
#define __SLAB_KMALLOC	0x40000000U /* flags: a kmalloc cache */
#define __SLAB_BOOT	0x20000000U /* flags: per-CPU part from the page allocator */

/* Flags a caller may pass (the rest is kmm's own bookkeeping). */
#define SLAB_FLAGS_PERMITTED                                                                      \
	(SLAB_DEBUG_FLAGS | SLAB_HWCACHE_ALIGN | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_PANIC | \
	 SLAB_TYPESAFE_BY_RCU | SLAB_NOLEAKTRACE | SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT |          \
	 SLAB_NO_MERGE)

/*
 * Poison bytes. Linux's include/linux/poison.h values for free objects, their
 * last byte and the red zones; kmm also fills a newly allocated object with
 * POISON_INUSE (Linux uses that byte for slab padding only) so that a read of
 * memory the caller never wrote shows up as 0x5a5a... .
 */
#define POISON_INUSE	  0x5a /* allocated, not yet written; and slab padding */
#define POISON_FREE	  0x6b /* free */
#define POISON_END	  0xa5 /* last byte of a free object */
#define SLUB_RED_INACTIVE 0xbb /* red zone of a free object */
#define SLUB_RED_ACTIVE	  0xcc /* red zone of an allocated object */

#define MAX_OBJS_PER_PAGE 32767 /* the counters' objects field is 15 bits */
#define SLUB_MAX_ORDER	  3	/* PAGE_ALLOC_COSTLY_ORDER, Linux's slub_max_order */
#define MIN_PARTIAL	  5
#define MAX_PARTIAL	  10

struct kmm_kmem_cache {
	/* Hot: the fast paths read these. */
	struct kmem_cache_cpu *cpu_slab; /* [nr_cpus] */
	struct kmm_machine *machine;
	slab_flags_t flags;
	unsigned int offset;	  /* where the free pointer is stored in an object */
	uintptr_t random;	  /* freelist pointer hardening key */
	unsigned int size;	  /* object plus metadata: the stride in a slab */
	unsigned int object_size; /* what the user asked for */
	/* Geometry. */
	unsigned int order, objects;	     /* slabs: 2^order pages, this many objects */
	unsigned int min_order, min_objects; /* the fallback when that order is short */
	unsigned int inuse;		     /* end of object + right red zone (tracks follow) */
	unsigned int align;
	unsigned int red_left_pad;
	unsigned long min_partial;
	unsigned int cpu_partial; /* objects to keep in CPU partial slabs */
	unsigned int cpu_partial_slabs;
	gfp_t allocflags;
	void (*ctor)(void *);
	unsigned int *random_seq; /* freelist randomisation: a permutation of object indices */
	unsigned long alloc_seq;  /* for track->when */
	int refcount;
	struct list_head list; /* on the machine's cache list, newest first */
	char name[48];
	/* Per node, nr_node_ids entries: the structure is sized to the machine. */
	struct kmem_cache_node *node[];
};

static inline size_t kmem_cache_struct_size(const struct kmm_machine *m)
{
	return sizeof(struct kmm_kmem_cache) +
	       sizeof(struct kmem_cache_node *) * (size_t)m->nr_node_ids;
}

struct kmm_slab_state {
	spinlock_t lock; /* the cache list, cache creation and destruction (Linux slab_mutex) */
	struct list_head caches;
	struct kmm_kmem_cache *kmem_cache;	/* the cache of caches */
	struct kmm_kmem_cache *kmem_cache_node; /* the cache of per-node structures */
	struct kmm_kmem_cache *kmalloc_caches[4][KMALLOC_SHIFT_HIGH + 1];
	unsigned int min_objects; /* Linux's slub_min_objects, from the CPU count */
	slab_flags_t debug_flags; /* slub_debug= for new caches */
	char debug_only[48];	  /* ... or only for the cache of this name */
	atomic_long_t nr_reports;
	atomic_long_t nr_quarantined; /* objects kept out of use after a report */
	kmm_slab_report_hook_t report_hook;
	/* Per-CPU parts of the caches made before kmalloc works, carved from boot pages. */
	char *boot_percpu;
	size_t boot_percpu_left;

	spinlock_t shrinker_lock;
	struct list_head shrinkers;
	spinlock_t rng_lock;
	struct kmm_rng rng;
	bool up; /* kmalloc works */
};

enum kmalloc_cache_type {
	KMALLOC_NORMAL,
	KMALLOC_CGROUP,
	KMALLOC_RECLAIM,
	KMALLOC_DMA,
	NR_KMALLOC_TYPES
};

/* What a slab allocation passes on to the page allocator (Linux mm/internal.h). */
#define GFP_RECLAIM_MASK                                                                         \
	(__GFP_RECLAIM | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_NOWARN | __GFP_RETRY_MAYFAIL | \
	 __GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC | __GFP_NOMEMALLOC)
#define GFP_CONSTRAINT_MASK (__GFP_HARDWALL | __GFP_THISNODE)

/* --- Object and slab helpers ------------------------------------------------------- */

static inline struct kmm_kmem_cache *slab_cache_of(const struct kmm_page *slab)
{
	return slab->slab_cache;
}

static inline void *slab_address(const struct kmm_machine *m, const struct kmm_page *slab)
{
	return page_address(m, slab);
}

static inline unsigned int slab_order(const struct kmm_page *slab)
{
	return compound_order(slab);
}

static inline int slab_nid(const struct kmm_page *slab)
{
	return page_to_nid(slab);
}

static inline struct kmem_cache_node *get_node(const struct kmm_kmem_cache *s, int node)
{
	return s->node[node];
}

/*
 * One snapshot of a slab's counters (read or written as one word:
 * readers outside the slab lock, such as slabinfo, see a consistent value).
 */
struct slab_counters {
	unsigned inuse : 16;
	unsigned objects : 15;
	unsigned frozen : 1;
	unsigned cpu : 16;
};
union slab_counters_word {
	unsigned long word;
	struct slab_counters c;
};
KMM_BUILD_BUG_ON(sizeof(struct slab_counters) > sizeof(unsigned long));

static inline struct slab_counters get_counters(const struct kmm_page *slab)
{
	union slab_counters_word u = {.word = READ_ONCE(slab->counters)};
	return u.c;
}

static inline void set_counters(struct kmm_page *slab, struct slab_counters c)
{
	union slab_counters_word u = {.word = 0};
	u.c = c;
	WRITE_ONCE(slab->counters, u.word);
}

/* The slab (head page) of an address in simulated RAM. */
static __kmm_always_inline struct kmm_page *virt_to_slab_page(const struct kmm_machine *m,
							      const void *x)
{
	return compound_head(virt_to_page(m, x));
}

/*
 * Free pointers are stored XOR-ed with a per-cache key and the byte-swapped
 * address they are stored at (Linux CONFIG_SLAB_FREELIST_HARDENED): a
 * pointer written by a buffer overflow or a use after free does not decode
 * to a usable address.
 */
static __kmm_always_inline void *freelist_ptr(uintptr_t key, void *ptr, uintptr_t ptr_addr)
{
	/*
	 * key ^ bswap(addr) first: it does not wait for the stored pointer, so
	 * a freelist walk (the bulk allocation loop) has one xor after each
	 * load on its critical path instead of two.
	 */
	return (void *)((uintptr_t)ptr ^ (key ^ __builtin_bswap64(ptr_addr)));
}

/*
 * The free pointer of @object, stored @offset bytes in, under @key. Loops
 * that store through pointers (bulk operations) keep the key and offset in
 * locals: with -fno-strict-aliasing every such store could change s->random.
 */
static __kmm_always_inline void *decode_freepointer(uintptr_t key, unsigned int offset,
						    void *object)
{
	uintptr_t addr = (uintptr_t)object + offset;
	return freelist_ptr(key, *(void **)addr, addr);
}
static __kmm_always_inline void encode_freepointer(uintptr_t key, unsigned int offset, void *object,
						   void *fp)
{
	uintptr_t addr = (uintptr_t)object + offset;
	*(void **)addr = freelist_ptr(key, fp, addr);
}

static __kmm_always_inline void *get_freepointer(const struct kmm_kmem_cache *s, void *object)
{
	return decode_freepointer(s->random, s->offset, object);
}

static __kmm_always_inline void set_freepointer(const struct kmm_kmem_cache *s, void *object,
						void *fp)
{
	encode_freepointer(s->random, s->offset, object, fp);
}

/* The first object of a slab (past the left red zone). */
static inline void *fixup_red_left(const struct kmm_kmem_cache *s, void *p)
{
	return (char *)p + s->red_left_pad;
}

static inline bool kmem_cache_debug(const struct kmm_kmem_cache *s)
{
	return unlikely(s->flags & SLAB_DEBUG_FLAGS);
}

static inline bool kmem_cache_has_cpu_partial(const struct kmm_kmem_cache *s)
{
	return !kmem_cache_debug(s);
}

static inline bool freeptr_outside_object(const struct kmm_kmem_cache *s)
{
	return s->offset >= s->inuse;
}

/* Where an object's tracks are stored (after the free pointer if that is outside). */
static inline struct track *get_track(const struct kmm_kmem_cache *s, void *object,
				      enum track_item alloc)
{
	unsigned int off =
	    freeptr_outside_object(s) ? s->inuse + (unsigned int)sizeof(void *) : s->inuse;
	return (struct track *)((char *)object + off) + alloc;
}

/* Index of an object in its slab, and the object of an index. */
static inline unsigned int obj_to_index(const struct kmm_kmem_cache *s, const void *addr,
					const void *obj)
{
	return (unsigned int)(((const char *)obj - (const char *)addr - s->red_left_pad) / s->size);
}

static __kmm_always_inline void stat(struct kmem_cache_cpu *c, enum slub_stat_item si)
{
	if (c)
		WRITE_ONCE(c->stat[si], c->stat[si] + 1);
}

/* The bit lock of a slab's freelist and counters (Linux slab_lock). */
void slab_lock_contended(struct kmm_page *slab);
static inline void slab_lock(struct kmm_page *slab)
{
	if (unlikely(test_and_set_bit(PG_locked, &slab->flags)))
		slab_lock_contended(slab);
}
/*
 * A store, not an atomic and: nobody changes another bit of a slab's flags
 * while it is in use (Linux's __bit_spin_unlock makes the same bet), and
 * the release orders the slab's fields before the lock is seen free.
 */
static inline void slab_unlock(struct kmm_page *slab)
{
	unsigned long flags = __atomic_load_n(&slab->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&slab->flags, flags & ~(1UL << PG_locked), __ATOMIC_RELEASE);
}

/*
 * Does anything make every allocation take the slow path (fault injection,
 * tracing, init_on_alloc)? Three loads and two predicted branches: the
 * settings are written directly by their owners (ftrace, fault injection,
 * tests), so no summary word could be trusted to follow them.
 */
#define KMM_TRACE_KMEM_MASK                                                             \
	(KMM_TRACE_BIT(KMM_TRACE_KMEM_CACHE_ALLOC) | KMM_TRACE_BIT(KMM_TRACE_KMALLOC) | \
	 KMM_TRACE_BIT(KMM_TRACE_KFREE) | KMM_TRACE_BIT(KMM_TRACE_KMEM_CACHE_FREE))
static __kmm_always_inline bool slab_hooks_active(const struct kmm_machine *m)
{
	if (unlikely(READ_ONCE(m->trace_mask) & KMM_TRACE_KMEM_MASK))
		return true;
	return unlikely(READ_ONCE(m->failslab.enabled) | READ_ONCE(m->init_on_alloc));
}
/* A free has only the trace points to honour (failslab and init_on_alloc are for allocations). */
static __kmm_always_inline bool slab_free_hooks_active(const struct kmm_machine *m)
{
	return unlikely(READ_ONCE(m->trace_mask) & KMM_TRACE_KMEM_MASK);
}

/* --- The fast paths -------------------------------------------------------------- */

/* slub.c: everything the fast paths do not do. */
void *__slab_alloc_node(struct kmm_kmem_cache *s, gfp_t gfp, int node, uintptr_t addr,
			size_t orig_size);
void slab_free_slowpath(struct kmm_kmem_cache *s, struct kmm_page *slab, void *head, void *tail,
			int cnt, uintptr_t addr);
void slab_free_lookup(struct kmm_kmem_cache *s, const void *x, uintptr_t addr);
void slab_free_other(struct kmm_kmem_cache *s, struct kmm_cpu *cpu, struct kmm_page *slab,
		     void *object);
void *slab_zero_object(struct kmm_kmem_cache *s, void *object);
__kmm_cold void slab_free_bad(struct kmm_machine *m, struct kmm_kmem_cache *s, const void *x,
			      uintptr_t addr);

/* Is @x in the memory of the CPU slab of @c? (None: slab_bytes is 0.) */
static __kmm_always_inline bool in_cpu_slab(const struct kmem_cache_cpu *c, const void *x)
{
	return (uintptr_t)x - c->slab_start < c->slab_bytes;
}

/* Push @object on the CPU's freelist: the object is of the CPU slab and not its head. */
static __kmm_always_inline void cpu_freelist_push(struct kmm_kmem_cache *s,
						  struct kmem_cache_cpu *c, void *object)
{
	set_freepointer(s, object, c->freelist);
	c->freelist = object;
	stat(c, FREE_FASTPATH);
}

/*
 * Allocate one object of @s (a cache of @m): pop the CPU's freelist (Linux
 * slab_alloc_node). No lock and no atomic operation: only this CPU's thread
 * touches its freelist.
 */
static __kmm_always_inline void *slab_alloc_node(struct kmm_machine *m, struct kmm_kmem_cache *s,
						 gfp_t gfp, int node, uintptr_t addr,
						 size_t orig_size)
{
	struct kmm_cpu *cpu = this_cpu(m);
	if (likely(cpu && node == NUMA_NO_NODE && !slab_hooks_active(m))) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		void *object = c->freelist;
		if (likely(object)) {
			c->freelist = get_freepointer(s, object);
			stat(c, ALLOC_FASTPATH);
			if (unlikely(gfp & __GFP_ZERO))
				return slab_zero_object(s, object);
			return object;
		}
	}
	return __slab_alloc_node(s, gfp, node, addr, orig_size);
}

/*
 * Free one object of @s in @slab: push it on the CPU's freelist if @slab is
 * this CPU's slab (Linux do_slab_free); anything else is the slow path.
 * Freeing the object that heads the freelist is a double free, caught here
 * even without debugging (Linux's naive detection under FREELIST_HARDENED).
 */
static __kmm_always_inline void do_slab_free(struct kmm_machine *m, struct kmm_kmem_cache *s,
					     struct kmm_page *slab, void *object, uintptr_t addr)
{
	struct kmm_cpu *cpu = this_cpu(m);
	if (likely(cpu && !slab_free_hooks_active(m))) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		if (likely(slab == c->slab)) {
			if (likely(object != c->freelist))
				return cpu_freelist_push(s, c, object);
		} else if (likely(!kmem_cache_debug(s))) {
			return slab_free_other(s, cpu, slab, object);
		}
	}
	slab_free_slowpath(s, slab, object, object, 1, addr);
}

/*
 * kmem_cache_free: an object within the CPU slab's memory needs no struct
 * page at all (the CPU slab is a slab of @s, so the object is @s's); any
 * other goes through slab_free_lookup, which finds its slab and checks
 * that it belongs to @s.
 */
static __kmm_always_inline void slab_free(struct kmm_kmem_cache *s, const void *x, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	struct kmm_cpu *cpu = this_cpu(m);
	if (likely(cpu && !slab_free_hooks_active(m))) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		if (likely(in_cpu_slab(c, x) && x != c->freelist))
			return cpu_freelist_push(s, c, (void *)x);
	}
	slab_free_lookup(s, x, addr);
}

/* --- Shared between the files of slab/ -------------------------------------------- */

/* slub.c */
struct kmm_page *new_slab(struct kmm_kmem_cache *s, gfp_t flags, int node);
void discard_slab(struct kmm_kmem_cache *s, struct kmm_page *slab);
/* Move one CPU's slabs of @s back to the nodes; the caller is that CPU or it is free. */
void flush_cpu_slab(struct kmm_kmem_cache *s, int cpu);
/* Flush what can be flushed now: this CPU and the CPUs no thread is on. */
void flush_all_cpus(struct kmm_kmem_cache *s, bool wait_for_busy);
void add_partial(struct kmem_cache_node *n, struct kmm_page *slab, bool tail);
void remove_partial(struct kmem_cache_node *n, struct kmm_page *slab);
unsigned long count_partial_free(struct kmem_cache_node *n);
void slab_stats_sum(struct kmm_kmem_cache *s, unsigned long *sum);
void *early_alloc_node_struct(struct kmm_kmem_cache *kmem_cache_node, int node);

/* cache.c */
struct kmm_kmem_cache *create_cache(struct kmm_machine *m, const char *name, unsigned int size,
				    unsigned int align, slab_flags_t flags, void (*ctor)(void *),
				    struct kmm_error *err);
unsigned int calculate_order(unsigned int size, unsigned int min_objects);
int kmem_cache_init(struct kmm_machine *m, struct kmm_error *err);
void kmem_cache_destroy_all(struct kmm_machine *m);
/* Every slab page of @s, in pfn order (memmap scan: for validation and reports). */
void for_each_slab_of(struct kmm_kmem_cache *s,
		      void (*fn)(struct kmm_kmem_cache *s, struct kmm_page *slab, void *arg),
		      void *arg);

/* kmalloc.c */
void create_kmalloc_caches(struct kmm_machine *m);

/* debug.c */
void setup_object_debug(struct kmm_kmem_cache *s, void *object);
void setup_slab_debug(struct kmm_kmem_cache *s, struct kmm_page *slab, void *addr);
bool alloc_debug_processing(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object,
			    uintptr_t addr);
bool free_debug_processing(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object,
			   uintptr_t addr);
bool check_slab_padding(struct kmm_kmem_cache *s, struct kmm_page *slab);
bool check_object(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object, uint8_t val);
__kmm_cold void slab_double_free(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object,
				 uintptr_t addr);
slab_flags_t kmem_cache_flags(struct kmm_machine *m, unsigned int object_size, slab_flags_t flags,
			      const char *name);
__kmm_cold __kmm_printf(4, 5) void slab_err(struct kmm_kmem_cache *s, struct kmm_page *slab,
					    void *object, const char *fmt, ...);
__kmm_cold void list_slab_objects(struct kmm_kmem_cache *s, struct kmm_page *slab);
void print_tracking(struct kmm_kmem_cache *s, void *object);
void slab_print_addr(struct kmm_machine *m, char *buf, size_t len, uintptr_t addr);
bool check_valid_pointer(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object);
bool on_freelist(struct kmm_kmem_cache *s, struct kmm_page *slab, void *search);

#endif /* KMM_SLAB_INTERNAL_H */
