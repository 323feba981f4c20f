/*
 * kmalloc: general-purpose allocations served by size-class caches, and by
 * the page allocator above 8 KiB.
 *
 * Linux: mm/slab_common.c of 6.1 (size_index, kmalloc_slab,
 * create_kmalloc_caches, kmalloc_large, __ksize, krealloc), mm/slub.c
 * (kfree, free_large_kmalloc), include/linux/slab.h (kmalloc_index,
 * kmalloc_type). The classes are 8, 16, 32, 64, 96, 128, 192, 256, 512,
 * 1k, 2k, 4k and 8k bytes; a request goes to the smallest class that holds
 * it, through size_index below 192 bytes (so that 65..96 bytes use the 96
 * class and 129..192 the 192 class) and the next power of two above. Each
 * class exists four times by allocation type: plain, accounted (cg),
 * reclaimable (rcl) and DMA. kmalloc(0) returns KMM_ZERO_SIZE_PTR, which
 * kfree accepts, as Linux's ZERO_SIZE_PTR.
 */
#include "internal.h"
#include <errno.h>

/*
 * The kmalloc_caches index of every size 1..8192 by (size - 1) / 8: Linux's
 * size_index for sizes up to 192 (so that 65..96 bytes use the 96 class and
 * 129..192 the 192 class), the next power of two above (Linux
 * kmalloc_index: fls(size - 1)). One table, so that the lookup is a load
 * and not a branch that a mix of sizes would mispredict.
 */
#define X2(x)	x, x
#define X4(x)	X2(x), X2(x)
#define X8(x)	X4(x), X4(x)
#define X32(x)	X8(x), X8(x), X8(x), X8(x)
#define X64(x)	X32(x), X32(x)
#define X128(x) X64(x), X64(x)
#define X256(x) X128(x), X128(x)
#define X512(x) X256(x), X256(x)
static const uint8_t kmalloc_size_index[KMALLOC_MAX_CACHE_SIZE / 8] = {
    3,	      /* 1..8 */
    4,	      /* 9..16 */
    X2(5),    /* ..32 */
    X4(6),    /* ..64 */
    X4(1),    /* ..96 */
    X4(7),    /* ..128 */
    X8(2),    /* ..192 */
    X8(8),    /* ..256 */
    X32(9),   /* ..512 */
    X64(10),  /* ..1k */
    X128(11), /* ..2k */
    X256(12), /* ..4k */
    X512(13), /* ..8k */
};
#undef X2
#undef X4
#undef X8
#undef X32
#undef X64
#undef X128
#undef X256
#undef X512

/* @size: 1 .. KMALLOC_MAX_CACHE_SIZE. */
static __kmm_always_inline unsigned int kmalloc_index(size_t size)
{
	return kmalloc_size_index[(size - 1) / 8];
}

static __kmm_always_inline enum kmalloc_cache_type kmalloc_type(gfp_t flags)
{
	if (likely(!(flags & (__GFP_DMA | __GFP_RECLAIMABLE | __GFP_ACCOUNT))))
		return KMALLOC_NORMAL;
	if (flags & __GFP_DMA)
		return KMALLOC_DMA;
	if (flags & __GFP_RECLAIMABLE)
		return KMALLOC_RECLAIM;
	return KMALLOC_CGROUP;
}

static __kmm_always_inline struct kmm_kmem_cache *kmalloc_slab(struct kmm_machine *m, size_t size,
							       gfp_t gfp)
{
	struct kmm_kmem_cache *const *caches = m->slab->kmalloc_caches[KMALLOC_NORMAL];
	if (unlikely(gfp & (__GFP_DMA | __GFP_RECLAIMABLE | __GFP_ACCOUNT)))
		caches = m->slab->kmalloc_caches[kmalloc_type(gfp)];
	return caches[kmalloc_index(size)];
}

struct kmm_kmem_cache *kmm_kmalloc_cache(struct kmm_machine *m, size_t size, gfp_t gfp)
{
	if (!size || size > KMALLOC_MAX_CACHE_SIZE)
		return NULL;
	return kmalloc_slab(m, size, gfp);
}

/* --- The caches ------------------------------------------------------------------- */

static const char *const kmalloc_size_names[KMALLOC_SHIFT_HIGH + 1] = {
    NULL, "96", "192", "8", "16", "32", "64", "128", "256", "512", "1k", "2k", "4k", "8k",
};

static unsigned int kmalloc_size(unsigned int idx)
{
	return idx == 1 ? 96 : idx == 2 ? 192 : 1u << idx;
}

static void new_kmalloc_cache(struct kmm_machine *m, unsigned int idx, enum kmalloc_cache_type type)
{
	static const char *const prefix[NR_KMALLOC_TYPES] = {
	    [KMALLOC_NORMAL] = "kmalloc-",
	    [KMALLOC_CGROUP] = "kmalloc-cg-",
	    [KMALLOC_RECLAIM] = "kmalloc-rcl-",
	    [KMALLOC_DMA] = "dma-kmalloc-",
	};
	slab_flags_t flags = SLAB_NO_MERGE;
	if (type == KMALLOC_RECLAIM)
		flags |= SLAB_RECLAIM_ACCOUNT;
	else if (type == KMALLOC_CGROUP)
		flags |= SLAB_ACCOUNT;
	else if (type == KMALLOC_DMA)
		flags |= SLAB_CACHE_DMA;
	char name[32];
	kmm_port_snprintf(name, sizeof(name), "%s%s", prefix[type], kmalloc_size_names[idx]);
	unsigned int size = kmalloc_size(idx);
	/* Linux create_boot_cache(): power-of-two classes are naturally aligned. */
	unsigned int align = is_power_of_2(size) ? size : 8;
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s = create_cache(m, name, size, align, flags, NULL, &err);
	KMM_BUG_ON_MSG(!s, "cannot create %s: %s", name, err.msg);
	s->flags |= __SLAB_KMALLOC;
	m->slab->kmalloc_caches[type][idx] = s;
}

/* Linux create_kmalloc_caches(): each type in size order, 96 after 64 and 192 after 128. */
void create_kmalloc_caches(struct kmm_machine *m)
{
	struct kmm_kmem_cache *(*caches)[KMALLOC_SHIFT_HIGH + 1] = m->slab->kmalloc_caches;
	for (int type = KMALLOC_NORMAL; type < NR_KMALLOC_TYPES; type++) {
		for (unsigned int i = KMALLOC_SHIFT_LOW; i <= KMALLOC_SHIFT_HIGH; i++) {
			if (!caches[type][i])
				new_kmalloc_cache(m, i, (enum kmalloc_cache_type)type);
			if (i == 6 && !caches[type][1])
				new_kmalloc_cache(m, 1, (enum kmalloc_cache_type)type);
			if (i == 7 && !caches[type][2])
				new_kmalloc_cache(m, 2, (enum kmalloc_cache_type)type);
		}
	}
}

/* --- Large allocations -------------------------------------------------------------- */

/* Above 8 KiB: a compound page block of its own (Linux kmalloc_large_node). */
static __kmm_noinline void *kmalloc_large(struct kmm_machine *m, size_t size, gfp_t gfp, int node,
					  uintptr_t caller)
{
	if (unlikely(size > KMALLOC_MAX_SIZE)) {
		if (!(gfp & __GFP_NOWARN))
			pr_warn(m, "kmalloc: %zu bytes is more than the largest allocation (%lu)",
				size, (unsigned long)KMALLOC_MAX_SIZE);
		return NULL;
	}
	unsigned int order = get_order(size);
	if (unlikely(READ_ONCE(m->failslab.enabled)) && !(gfp & __GFP_NOFAIL) &&
	    kmm_should_fail(&m->failslab, size))
		return NULL;
	gfp |= __GFP_COMP;
	struct kmm_page *page = node == NUMA_NO_NODE ? kmm_alloc_pages(m, gfp, order)
						     : kmm_alloc_pages_node(m, node, gfp, order);
	void *ptr = NULL;
	if (page) {
		ptr = page_address(m, page);
		mod_node_page_state(page_pgdat(m, page), NR_SLAB_UNRECLAIMABLE_B,
				    (long)(PAGE_SIZE << order));
	}
	trace_kmalloc(m, caller, ptr, size, PAGE_SIZE << order, gfp, node);
	return ptr;
}

/* kfree of memory that is not in a slab: a large kmalloc, or a bad pointer. */
static __kmm_noinline void free_large_kmalloc(struct kmm_machine *m, struct kmm_page *page,
					      const void *x, uintptr_t caller)
{
	unsigned int order = compound_order(page);
	if (unlikely(!PageHead(page) || order == 0 || x != page_address(m, page) ||
		     page_ref_count(page) <= 0)) {
		slab_free_bad(m, NULL, x, caller);
		return;
	}
	trace_kfree(m, caller, x);
	mod_node_page_state(page_pgdat(m, page), NR_SLAB_UNRECLAIMABLE_B,
			    -(long)(PAGE_SIZE << order));
	kmm_free_pages(m, page, order);
}

/* --- The API ------------------------------------------------------------------------- */

static __kmm_always_inline void *__kmalloc_node(struct kmm_machine *m, size_t size, gfp_t gfp,
						int node, uintptr_t caller)
{
	if (unlikely(size > KMALLOC_MAX_CACHE_SIZE))
		return kmalloc_large(m, size, gfp, node, caller);
	if (unlikely(!size))
		return KMM_ZERO_SIZE_PTR;
	return slab_alloc_node(m, kmalloc_slab(m, size, gfp), gfp, node, caller, size);
}

void *kmm_kmalloc(struct kmm_machine *m, size_t size, gfp_t gfp)
{
	return __kmalloc_node(m, size, gfp, NUMA_NO_NODE, (uintptr_t)__builtin_return_address(0));
}

void *kmm_kmalloc_node(struct kmm_machine *m, size_t size, gfp_t gfp, int node)
{
	return __kmalloc_node(m, size, gfp, node, (uintptr_t)__builtin_return_address(0));
}

void *kmm_kzalloc(struct kmm_machine *m, size_t size, gfp_t gfp)
{
	return __kmalloc_node(m, size, gfp | __GFP_ZERO, NUMA_NO_NODE,
			      (uintptr_t)__builtin_return_address(0));
}

void *kmm_kcalloc(struct kmm_machine *m, size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;
	if (unlikely(__builtin_mul_overflow(n, size, &bytes)))
		return NULL;
	return __kmalloc_node(m, bytes, gfp | __GFP_ZERO, NUMA_NO_NODE,
			      (uintptr_t)__builtin_return_address(0));
}

static __kmm_always_inline void kfree_at(struct kmm_machine *m, const void *x, uintptr_t caller)
{
	if (unlikely(KMM_ZERO_OR_NULL_PTR(x)))
		return;
	if (unlikely(!virt_addr_in_ram(m, x)))
		return slab_free_bad(m, NULL, x, caller);
	struct kmm_page *page = virt_to_slab_page(m, x);
	if (unlikely(!PageSlab(page)))
		return free_large_kmalloc(m, page, x, caller);
	do_slab_free(m, page->slab_cache, page, (void *)x, caller);
}

void kmm_kfree(struct kmm_machine *m, const void *x)
{
	kfree_at(m, x, (uintptr_t)__builtin_return_address(0));
}

/* What a slab object can hold (Linux slab_ksize): the metadata around it is off limits. */
static size_t slab_ksize(const struct kmm_kmem_cache *s)
{
	if (s->flags & (SLAB_RED_ZONE | SLAB_POISON))
		return s->object_size;
	if (s->flags & (SLAB_TYPESAFE_BY_RCU | SLAB_STORE_USER))
		return s->inuse;
	return s->size;
}

size_t kmm_ksize(struct kmm_machine *m, const void *p)
{
	if (KMM_ZERO_OR_NULL_PTR(p) || !virt_addr_in_ram(m, p))
		return 0;
	struct kmm_page *page = virt_to_slab_page(m, p);
	if (PageSlab(page))
		return slab_ksize(page->slab_cache);
	return PageHead(page) ? PAGE_SIZE << compound_order(page) : 0;
}

void *kmm_krealloc(struct kmm_machine *m, const void *p, size_t new_size, gfp_t gfp)
{
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);
	if (unlikely(!new_size)) {
		kfree_at(m, p, caller);
		return KMM_ZERO_SIZE_PTR;
	}
	size_t ks = KMM_ZERO_OR_NULL_PTR(p) ? 0 : kmm_ksize(m, p);
	if (ks >= new_size)
		return (void *)p;
	void *ret = __kmalloc_node(m, new_size, gfp, NUMA_NO_NODE, caller);
	if (ret && ks) {
		memcpy(ret, p, ks);
		kfree_at(m, p, caller);
	}
	return ret;
}
