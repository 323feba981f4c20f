/*
 * libkmm-malloc's private declarations: the heap (one kmm machine for the
 * whole process), threads and their simulated CPUs, the size classes, and
 * what the files of the library share.
 *
 * The heap is the one piece of global state in kmm: a process has one
 * malloc. Everything below the heap (the machine, its page and slab
 * allocators) keeps the no-global-state rule.
 */
#ifndef KMM_MALLOC_INTERNAL_H
#define KMM_MALLOC_INTERNAL_H

#include <kmm/kmm.h>
#include <kmm/page_reporting.h>
#include <stddef.h>
#include <stdint.h>
#include "kmm_malloc.h"

/* Every thread-local variable of the library: no dynamic TLS (it would call malloc). */
#define KM_TLS __thread __attribute__((tls_model("initial-exec")))

/* --- Size classes ------------------------------------------------------------- */

/*
 * Objects up to 8 KiB come from slab caches, four classes per doubling
 * above 64 bytes (at most 25% and on average about 12% of the block unused,
 * where kmalloc's power-of-two classes waste up to half). Every class is a
 * multiple of 16, so every block is aligned for any type (max_align_t), also
 * after realloc.
 */
#define KM_SMALL_MAX   8192
#define KM_NR_CLASSES  32
#define KM_ALIGN_MIN   16
/* Power-of-two caches for aligned requests: 32 B .. 8 KiB, aligned to their size up to a page. */
#define KM_NR_ALIGNED  9
#define KM_INFO_SLOTS  128
#define KM_ALIGNED_MIN 5 /* log2 of the smallest: 32 */

/* Above KM_SMALL_MAX: runs of whole pages up to the largest buddy block. */
#define KM_RUN_MAX (PAGE_SIZE << MAX_PAGE_ORDER)

/* RAM blocks (4 MiB) backed on first touch rather than populated whole (cfg.ram_lazy_blocks). */
#define KM_LAZY_BLOCKS 4

/* --- Threads --------------------------------------------------------------------- */

enum km_mode {
	KM_UNBOUND,   /* no call yet */
	KM_EXCLUSIVE, /* owns a simulated CPU until it exits */
	KM_SHARED,    /* leases a CPU of the shared pool for each call */
	KM_DEAD,      /* past its exit destructor: no CPU, counted globally */
};

/* A thread of the process, as the heap knows it (in its static TLS). */
struct km_thread {
	/*
	 * Calls in progress (a counter: a call may nest when the C library
	 * allocates on its behalf). fork() waits until every thread's is 0.
	 */
	unsigned int busy;
	enum km_mode mode;
	int cpu;		       /* EXCLUSIVE: its CPU; SHARED: the CPU leased now, or -1 */
	int home;		       /* SHARED: the pool CPU tried first */
	unsigned int tick;	       /* calls until the next look at the clock (purge.c) */
	unsigned int retries;	       /* SHARED: leases until the next try for a CPU of its own */
	struct km_thread *next, *prev; /* the registry of threads */
};

extern KM_TLS struct km_thread km_self;

/* --- The heap -------------------------------------------------------------------------- */

enum km_state {
	KM_COLD,    /* nothing allocated yet */
	KM_BOOTING, /* one thread boots the machine; the others wait */
	KM_UP,
};

struct km_heap {
	/* Read on every call: kept together. */
	struct kmm_machine *m;
	uintptr_t ram_start, ram_size; /* the machine's RAM, for "is this pointer ours" */
	int state;
	int forking; /* fork() is waiting for calls in progress to end */
	struct kmm_kmem_cache *cache[KM_NR_CLASSES];
	unsigned char
	    class_small[KM_SMALL_MAX / 8 / 8 + 1]; /* (size + 7) / 8 -> class, up to 1 KiB */
	unsigned char class_large[KM_SMALL_MAX / 128 + 1]; /* (size + 127) / 128 -> class */
	unsigned int class_size[KM_NR_CLASSES];
	struct kmm_kmem_cache *aligned[KM_NR_ALIGNED]; /* created on first use */

	/* Options (environment). */
	uint64_t ram_bytes;
	int nr_cpus, nr_exclusive;
	bool debug, stats, thp;
	uint64_t decay_ns;	     /* free memory older than this goes back to the host */
	unsigned long retain_blocks; /* max-order blocks never given back (hysteresis) */
	unsigned long limit_blocks;  /* above this many free backed blocks, give back at once */

	/* Threads (thread.c). */
	spinlock_t threads_lock;
	struct km_thread *threads; /* the registry */
	unsigned int next_cpu;	   /* round robin for exclusive CPUs */
	unsigned int nr_threads_seen;
	long dead_busy; /* calls in progress of threads past their exit destructor */
	bool membarrier;

	/* Purging (purge.c). */
	spinlock_t purge_lock;
	uint64_t next_check_ns, next_epoch_ns;
	unsigned long epoch_populated;

	/* Huge mappings (huge.c). */
	spinlock_t huge_lock;

	spinlock_t aligned_lock;
	/*
	 * Each cache's stride, its reciprocal and its class, by cache, for
	 * free(): the check that it was given the start of an object, and the
	 * per-CPU array it goes to (open addressing; filled as caches are
	 * created, never emptied; debug caches are not recorded).
	 */
	struct km_cache_info {
		struct kmm_kmem_cache *cache;
		uint32_t stride, recip;
		int cls; /* index in km.cache, or -1 (aligned caches: no array) */
	} info[KM_INFO_SLOTS];
	/* The hash multiplier: chosen at boot so that the class caches do not collide. */
	uint64_t info_mul;

	/* Per-CPU arrays of free objects in front of the slab caches (cpucache.c). */
	struct km_cpu_cache *cc; /* [nr_cpus], NULL in debug mode */
	unsigned int cc_limit[KM_NR_CLASSES];
	uintptr_t cc_key; /* marks an object sitting in an array (double-free check) */

	struct kmm_libc_stats st; /* counters (updated with atomics) */
};

extern struct km_heap km;

/* --- heap.c -------------------------------------------------------------------------- */

/* Boot the heap if it is not up; false if this call must be served from the arena. */
bool km_boot_slow(void);
static inline bool km_up(void)
{
	return likely(__atomic_load_n(&km.state, __ATOMIC_ACQUIRE) == KM_UP) || km_boot_slow();
}
/* The bootstrap arena: memory handed out while the heap boots, never freed. */
void *km_arena_alloc(size_t size, size_t align);
bool km_in_arena(const void *p);
size_t km_arena_usable(const void *p);
/* Report a misuse (double free, invalid pointer, corruption) and abort. */
__kmm_noreturn __kmm_cold void km_fatal(const char *what, const void *p);
/* Print a one-line message to stderr (no malloc). */
__kmm_printf(1, 2) void km_message(const char *fmt, ...);
void km_print_stats(void);
struct kmm_kmem_cache *km_aligned_cache(unsigned int shift);

const struct km_cache_info *km_cache_info_slow(const struct kmm_kmem_cache *s);

static __kmm_always_inline unsigned int km_info_slot(const struct kmm_kmem_cache *s)
{
	return (unsigned int)(((uintptr_t)s * km.info_mul) >> 57);
}

/* What the heap recorded about cache @s, or NULL (a debug cache). */
static __kmm_always_inline const struct km_cache_info *km_cache_info(const struct kmm_kmem_cache *s)
{
	const struct km_cache_info *ci = &km.info[km_info_slot(s)];
	if (likely(__atomic_load_n(&ci->cache, __ATOMIC_ACQUIRE) == s))
		return ci;
	return km_cache_info_slow(s);
}

/*
 * Is @off (bytes from the start of its slab) the start of an object? One
 * multiplication by the stride's reciprocal: for offsets below 2^15 (slabs
 * of order 3 at most) and strides of at least 16, (off * ceil(2^32 / stride))
 * >> 32 is exactly off / stride rounded down.
 */
static __kmm_always_inline bool km_object_start(const struct km_cache_info *ci, uint32_t off)
{
	uint32_t idx = (uint32_t)(((uint64_t)off * ci->recip) >> 32);
	return idx * ci->stride == off;
}

static __kmm_always_inline unsigned int km_class(size_t size)
{
	if (size <= 1024)
		return km.class_small[(size + 7) >> 3];
	return km.class_large[(size + 127) >> 7];
}

static __kmm_always_inline bool km_in_ram(const void *p)
{
	return (uintptr_t)p - km.ram_start < km.ram_size;
}

/* --- thread.c ---------------------------------------------------------------------- */

void km_threads_init(void);
void km_enter_slow(struct km_thread *t);
void km_leave_slow(struct km_thread *t);

/*
 * Raise the busy counter, then make it visible before km.forking is read.
 * With membarrier, fork() makes every running thread execute a full
 * barrier, so a compiler barrier suffices here (an asymmetric Dekker);
 * without it, a real fence. Under ThreadSanitizer, which knows neither
 * membarrier nor fences, a sequentially consistent increment.
 */
static __kmm_always_inline void km_busy_inc(struct km_thread *t)
{
#if defined(__SANITIZE_THREAD__)
	__atomic_fetch_add(&t->busy, 1, __ATOMIC_SEQ_CST);
#else
	__atomic_store_n(&t->busy, t->busy + 1, __ATOMIC_RELAXED);
	if (likely(km.membarrier))
		__asm__ __volatile__("" ::: "memory");
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static __kmm_always_inline bool km_forking(void)
{
	return __atomic_load_n(&km.forking, __ATOMIC_SEQ_CST);
}

/*
 * Every call into the heap runs between km_enter() and km_leave(): the
 * thread has a CPU (or knows it has none), and fork() cannot happen in the
 * middle.
 */
static __kmm_always_inline struct km_thread *km_enter(void)
{
	struct km_thread *t = &km_self;
	km_busy_inc(t);
	if (unlikely(km_forking() || t->mode != KM_EXCLUSIVE))
		km_enter_slow(t);
	return t;
}

static __kmm_always_inline void km_leave(struct km_thread *t)
{
	if (unlikely(t->mode != KM_EXCLUSIVE))
		km_leave_slow(t);
	__atomic_store_n(&t->busy, t->busy - 1, __ATOMIC_RELEASE);
}

/* --- cpucache.c: per-CPU arrays of objects ---------------------------------------- */

#define KM_CC_MAX 64

struct km_cpu_cache {
	struct km_cc_class {
		unsigned int count;
		void *obj[KM_CC_MAX];
	} cls[KM_NR_CLASSES];
} ____cacheline_aligned;

bool km_cc_init(struct kmm_error *err);
/* The array is empty: refill it from the slab cache and return one object (or NULL). */
void *km_cc_refill(struct km_cc_class *cc, unsigned int cls, uintptr_t caller);
/* The array is full: give half of it back to the slab cache, then take @p. */
void km_cc_flush_half(struct km_cc_class *cc, unsigned int cls, void *p);
/* @p carries the array key: a double free if it is in this CPU's array. */
void km_cc_check_double(struct km_cc_class *cc, void *p);
/* Every object of @cpu's arrays back to the slab caches (the caller is on @cpu). */
void km_cc_drain(int cpu);

static __kmm_always_inline uintptr_t *km_cc_key_slot(void *p)
{
	return (uintptr_t *)((char *)p + 8);
}

/* --- pages.c: runs of pages (8 KiB .. 4 MiB) --------------------------------------- */

/* @align_shift: log2 of the alignment asked for, 0 for the default. */
void *km_run_alloc(size_t size, unsigned int align_shift, bool zero);
/* @page is the head of a run (the caller checked PageSlab is clear). */
void km_run_free(struct kmm_page *page, const void *p);
size_t km_run_usable(struct kmm_page *page, const void *p);
/* Shrink in place when the run is big enough; NULL if the caller must move it. */
void *km_run_realloc_in_place(struct kmm_page *page, void *p, size_t size);
unsigned int km_run_align_shift(struct kmm_page *page);

/* --- huge.c: mappings of their own (above 4 MiB) ----------------------------------- */

void *km_huge_alloc(size_t size, size_t align);
/* Returns false if @p is not a huge allocation. */
bool km_huge_free(void *p);
size_t km_huge_usable(const void *p, size_t *align);
void *km_huge_realloc(void *p, size_t size);

/* --- purge.c ------------------------------------------------------------------------- */

void km_tick(struct km_thread *t);
int km_trim(size_t pad);

static __kmm_always_inline void km_count_call(struct km_thread *t)
{
	if (unlikely(--t->tick == 0))
		km_tick(t);
}

#endif /* KMM_MALLOC_INTERNAL_H */
