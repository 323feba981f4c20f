/*
 * libkmm-malloc: the C library's allocation functions, on a kmm machine.
 *
 * Linux: the kernel's own allocation API is the model for the layers used
 * here: kmem_cache_alloc()/kfree() for small blocks, alloc_pages() for
 * runs of pages; the functions themselves are C11/POSIX/glibc's.
 *
 *   size 0 .. 8 KiB       slab caches malloc-8 .. malloc-8192   (heap.c)
 *   8 KiB .. 4 MiB        a run of exactly the pages needed     (pages.c)
 *   above 4 MiB           a mapping of its own                  (huge.c)
 *
 * Alignment: up to 16 bytes every block has it. A
 * larger power of two A comes from a power-of-two cache aligned to its size
 * (malloc-a<size>, objects up to 8 KiB, A up to 4 KiB), from a run of a
 * block of order log2(A / 4 KiB) or more (a buddy block is aligned to its
 * size), or from an aligned mapping. realloc() of an aligned block keeps
 * its alignment: the cache, the run or the mapping says what it was.
 *
 * free() and the others find what a pointer is from the pointer alone: in
 * the machine's RAM, its struct page says slab object (PG_slab) or run (a
 * signature in the head page); outside RAM, the registry of mappings or the
 * bootstrap arena knows it; anything else is an invalid pointer and aborts
 * with a message, as do double frees the slab allocator catches.
 *
 * Every call is bracketed by km_enter()/km_leave() (thread.c): the thread
 * is on its simulated CPU, and fork() waits for it to finish.
 *
 * With KMM_MALLOC_INTERPOSE defined (libkmm-malloc.so) the functions are
 * also exported under the standard names; without it (the objects kmm's
 * tests link) only the kmm_libc_ names exist.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SMALL_GFP (GFP_NOWAIT | __GFP_NOWARN)
/* The program's call site, which slab debugging records and reports. */
#define CALLER()  ((uintptr_t)__builtin_return_address(0))

static __kmm_noinline void *enomem(void)
{
	errno = ENOMEM;
	return NULL;
}

static __kmm_always_inline bool is_pow2(size_t x)
{
	return x && !(x & (x - 1));
}

static unsigned int ilog2_sz(size_t x)
{
	return (unsigned int)(63 - __builtin_clzl(x));
}

/* --- Allocation ------------------------------------------------------------------------ */

/* One object of class @cls: from this CPU's array, else from the slab cache. */
static __kmm_always_inline void *small_alloc(struct km_thread *t, unsigned int cls,
					     uintptr_t caller)
{
	if (likely(t->cpu >= 0 && km.cc)) {
		struct km_cc_class *cc = &km.cc[t->cpu].cls[cls];
		if (likely(cc->count)) {
			void *p = cc->obj[--cc->count];
			*km_cc_key_slot(p) = 0;
			return p;
		}
		return km_cc_refill(cc, cls, caller);
	}
	return kmm_kmem_cache_alloc_track_caller(km.cache[cls], SMALL_GFP, caller);
}

/* Above KM_SMALL_MAX, or any size with an alignment above KM_ALIGN_MIN. */
static __kmm_noinline void *alloc_slow(size_t size, size_t align, bool zero, uintptr_t caller)
{
	if (!km_up()) {
		void *p = km_arena_alloc(size, align);
		if (p && zero)
			memset(p, 0, size);
		return p ? p : enomem();
	}
	if (unlikely(size > PTRDIFF_MAX || align > PTRDIFF_MAX / 2))
		return enomem();
	void *p = NULL;
	struct km_thread *t = km_enter();
	if (align <= KM_ALIGN_MIN && size <= KM_SMALL_MAX) {
		/* A zero-size request, or a calloc: one of the classes. */
		p = small_alloc(t, km_class(size), caller);
		if (p && zero)
			memset(p, 0, size);
	} else if (align > KM_ALIGN_MIN && align <= PAGE_SIZE && size <= KM_SMALL_MAX) {
		size_t need = size > align ? size : align;
		unsigned int shift = ilog2_sz(need) + !is_pow2(need);
		if (shift < KM_ALIGNED_MIN)
			shift = KM_ALIGNED_MIN;
		struct kmm_kmem_cache *s = km_aligned_cache(shift);
		if (s)
			p = kmm_kmem_cache_alloc_track_caller(
			    s, SMALL_GFP | (zero ? __GFP_ZERO : 0), caller);
	} else if (size <= KM_RUN_MAX && align <= KM_RUN_MAX) {
		p = km_run_alloc(size ? size : 1, align > KM_ALIGN_MIN ? ilog2_sz(align) : 0, zero);
	} else {
		/* A fresh mapping reads as zeros: calloc needs no memset. */
		p = km_huge_alloc(size, align);
	}
	km_count_call(t);
	km_leave(t);
	return p ? p : enomem();
}

void *kmm_libc_malloc(size_t size)
{
	if (likely(size - 1 < KM_SMALL_MAX && km_up())) {
		unsigned int cls = km_class(size);
		struct km_thread *t = km_enter();
		void *p = small_alloc(t, cls, CALLER());
		km_count_call(t);
		km_leave(t);
		return likely(p) ? p : enomem();
	}
	return alloc_slow(size, KM_ALIGN_MIN, false, CALLER());
}

void *kmm_libc_calloc(size_t n, size_t size)
{
	size_t bytes;
	if (unlikely(__builtin_mul_overflow(n, size, &bytes)))
		return enomem();
	return alloc_slow(bytes, KM_ALIGN_MIN, true, CALLER());
}

void *kmm_libc_memalign(size_t align, size_t size)
{
	/* glibc rounds a non-power-of-two alignment up. */
	if (!is_pow2(align)) {
		if (align > PTRDIFF_MAX / 2) {
			errno = EINVAL;
			return NULL;
		}
		align = align ? (size_t)1 << (ilog2_sz(align) + 1) : 1;
	}
	if (align <= KM_ALIGN_MIN)
		return kmm_libc_malloc(size);
	return alloc_slow(size, align, false, CALLER());
}

int kmm_libc_posix_memalign(void **out, size_t align, size_t size)
{
	if (!is_pow2(align) || align % sizeof(void *))
		return EINVAL;
	int saved = errno;
	void *p = kmm_libc_memalign(align, size);
	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *kmm_libc_aligned_alloc(size_t align, size_t size)
{
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return kmm_libc_memalign(align, size);
}

void *kmm_libc_valloc(size_t size)
{
	return kmm_libc_memalign(PAGE_SIZE, size);
}

void *kmm_libc_pvalloc(size_t size)
{
	size_t rounded = KMM_ALIGN(size, PAGE_SIZE);
	if (rounded < size)
		return enomem();
	return kmm_libc_memalign(PAGE_SIZE, rounded ? rounded : PAGE_SIZE);
}

/* --- Free ------------------------------------------------------------------------------ */

static __kmm_noinline void free_outside_ram(void *p)
{
	if (km_in_arena(p))
		return; /* arena blocks are never reused */
	if (__atomic_load_n(&km.state, __ATOMIC_ACQUIRE) != KM_UP)
		km_fatal("free(): invalid pointer", p);
	struct km_thread *t = km_enter();
	bool ok = km_huge_free(p);
	km_count_call(t);
	km_leave(t);
	if (!ok)
		km_fatal("free(): invalid pointer", p);
}

static __kmm_noinline void free_run(void *p, struct kmm_page *page)
{
	struct km_thread *t = km_enter();
	km_run_free(page, p);
	km_count_call(t);
	km_leave(t);
}

/* A slab object of a cache the heap did not record (debug caches): slab checks it. */
static __kmm_noinline void free_unrecorded(void *p, uintptr_t caller)
{
	struct km_thread *t = km_enter();
	kmm_kfree_track_caller(km.m, p, caller);
	km_count_call(t);
	km_leave(t);
}

void kmm_libc_free(void *p)
{
	if (unlikely(!km_in_ram(p))) {
		if (p)
			free_outside_ram(p);
		return;
	}
	struct kmm_page *page = compound_head(virt_to_page(km.m, p));
	if (unlikely(!PageSlab(page)))
		return free_run(p, page);
	const struct km_cache_info *ci = km_cache_info(page->slab_cache);
	if (unlikely(!ci))
		return free_unrecorded(p, CALLER());
	uint32_t off = (uint32_t)((uintptr_t)p - (uintptr_t)page_address(km.m, page));
	if (unlikely(!km_object_start(ci, off)))
		km_fatal("free(): invalid pointer", p);
	struct km_thread *t = km_enter();
	if (likely(ci->cls >= 0 && t->cpu >= 0)) {
		/* Into this CPU's array (cpucache.c). */
		struct km_cc_class *cc = &km.cc[t->cpu].cls[ci->cls];
		uintptr_t *key = km_cc_key_slot(p);
		if (unlikely(*key == km.cc_key))
			km_cc_check_double(cc, p);
		if (likely(cc->count < km.cc_limit[ci->cls])) {
			*key = km.cc_key;
			cc->obj[cc->count++] = p;
		} else {
			km_cc_flush_half(cc, (unsigned int)ci->cls, p);
		}
	} else {
		kmm_kfree_track_caller(km.m, p, CALLER());
	}
	km_count_call(t);
	km_leave(t);
}

/* --- Sizes and realloc ------------------------------------------------------------------ */

/* What @p can hold, and the alignment realloc must keep (@align: 0 for the default). */
static size_t usable_size(void *p, size_t *align)
{
	*align = 0;
	if (km_in_ram(p)) {
		struct kmm_page *page = compound_head(virt_to_page(km.m, p));
		if (PageSlab(page)) {
			size_t size = kmm_ksize(km.m, p);
			for (unsigned int i = 0; i < KM_NR_ALIGNED; i++)
				if (page->slab_cache == km.aligned[i])
					*align = kmm_min((size_t)1 << (i + KM_ALIGNED_MIN),
							 (size_t)PAGE_SIZE);
			return size;
		}
		unsigned int shift = km_run_align_shift(page);
		if (shift)
			*align = (size_t)1 << shift;
		return km_run_usable(page, p);
	}
	if (km_in_arena(p))
		return km_arena_usable(p);
	size_t len =
	    __atomic_load_n(&km.state, __ATOMIC_ACQUIRE) == KM_UP ? km_huge_usable(p, align) : 0;
	if (!len)
		km_fatal("invalid pointer", p);
	if (*align <= KM_ALIGN_MIN)
		*align = 0;
	return len;
}

size_t kmm_libc_malloc_usable_size(void *p)
{
	size_t align;
	return p ? usable_size(p, &align) : 0;
}

void *kmm_libc_realloc(void *p, size_t size)
{
	if (!p)
		return kmm_libc_malloc(size);
	if (unlikely(!size)) {
		/* glibc frees and returns NULL for realloc(p, 0). */
		kmm_libc_free(p);
		return NULL;
	}
	size_t align, have = usable_size(p, &align);
	/* In place: the same block is big enough and not more than twice too big. */
	if (size <= have && (size > have / 2 || have <= 16)) {
		if (km_in_ram(p)) {
			struct kmm_page *page = compound_head(virt_to_page(km.m, p));
			if (!PageSlab(page) && size > KM_SMALL_MAX) {
				struct km_thread *t = km_enter();
				void *q = km_run_realloc_in_place(page, p, size);
				km_leave(t);
				if (q)
					return q;
			} else {
				return p;
			}
		} else if (!km_in_arena(p)) {
			return p;
		}
	}
	/* A huge block stays a mapping while it stays above 1 MiB: mremap, no copy. */
	if (!km_in_ram(p) && !km_in_arena(p) && size > (1UL << 20)) {
		struct km_thread *t = km_enter();
		void *q = km_huge_realloc(p, size);
		km_leave(t);
		return q ? q : enomem();
	}
	void *q = align ? kmm_libc_memalign(align, size) : kmm_libc_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, have < size ? have : size);
	kmm_libc_free(p);
	return q;
}

void *kmm_libc_reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		return enomem();
	return kmm_libc_realloc(p, bytes);
}

int kmm_libc_malloc_trim(size_t pad)
{
	if (__atomic_load_n(&km.state, __ATOMIC_ACQUIRE) != KM_UP)
		return 0;
	struct km_thread *t = km_enter();
	int r = km_trim(pad);
	km_leave(t);
	return r;
}

void kmm_libc_malloc_stats(void)
{
	if (__atomic_load_n(&km.state, __ATOMIC_ACQUIRE) != KM_UP)
		return;
	struct km_thread *t = km_enter();
	km_print_stats();
	km_leave(t);
}

/* --- The standard names (libkmm-malloc.so) ------------------------------------------------ */

#ifdef KMM_MALLOC_INTERPOSE
#define KM_ALIAS(name, target) \
	__typeof__(target) name __attribute__((alias(#target), visibility("default")))

KM_ALIAS(malloc, kmm_libc_malloc);
KM_ALIAS(free, kmm_libc_free);
KM_ALIAS(calloc, kmm_libc_calloc);
KM_ALIAS(realloc, kmm_libc_realloc);
KM_ALIAS(reallocarray, kmm_libc_reallocarray);
KM_ALIAS(memalign, kmm_libc_memalign);
KM_ALIAS(posix_memalign, kmm_libc_posix_memalign);
KM_ALIAS(aligned_alloc, kmm_libc_aligned_alloc);
KM_ALIAS(valloc, kmm_libc_valloc);
KM_ALIAS(pvalloc, kmm_libc_pvalloc);
KM_ALIAS(malloc_usable_size, kmm_libc_malloc_usable_size);
KM_ALIAS(malloc_trim, kmm_libc_malloc_trim);
KM_ALIAS(malloc_stats, kmm_libc_malloc_stats);
/* The names glibc's own code and old programs call. */
KM_ALIAS(__libc_malloc, kmm_libc_malloc);
KM_ALIAS(__libc_free, kmm_libc_free);
KM_ALIAS(__libc_calloc, kmm_libc_calloc);
KM_ALIAS(__libc_realloc, kmm_libc_realloc);
KM_ALIAS(__libc_memalign, kmm_libc_memalign);
KM_ALIAS(__libc_valloc, kmm_libc_valloc);
KM_ALIAS(__libc_pvalloc, kmm_libc_pvalloc);
KM_ALIAS(__posix_memalign, kmm_libc_posix_memalign);
KM_ALIAS(cfree, kmm_libc_free);

/* C23's sized frees: the size is a hint the heap does not need. */
void free_sized(void *p, size_t size) __attribute__((visibility("default")));
void free_sized(void *p, size_t size)
{
	(void)size;
	kmm_libc_free(p);
}
void free_aligned_sized(void *p, size_t align, size_t size) __attribute__((visibility("default")));
void free_aligned_sized(void *p, size_t align, size_t size)
{
	(void)align;
	(void)size;
	kmm_libc_free(p);
}
#endif
