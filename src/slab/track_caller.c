/*
 * Allocation and free on behalf of a caller: the call site that slab
 * debugging records (owner tracks) and reports is the caller's caller.
 *
 * Linux: __kmalloc_track_caller() and kmem_cache_alloc_node_track_caller()
 * (include/linux/slab.h), which pass _RET_IP_ of a wrapper's own caller, so
 * that an allocation made through a helper (kstrdup, a C library's malloc)
 * is blamed on the code that called the helper.
 */
#include "internal.h"

void *kmm_kmem_cache_alloc_track_caller(struct kmm_kmem_cache *s, gfp_t gfp, uintptr_t caller)
{
	return slab_alloc_node(s->machine, s, gfp, NUMA_NO_NODE, caller, s->object_size);
}

void kmm_kfree_track_caller(struct kmm_machine *m, const void *x, uintptr_t caller)
{
	if (unlikely(KMM_ZERO_OR_NULL_PTR(x)))
		return;
	if (unlikely(!virt_addr_in_ram(m, x)))
		return slab_free_bad(m, NULL, x, caller);
	struct kmm_page *slab = virt_to_slab_page(m, x);
	if (unlikely(!PageSlab(slab)))
		return slab_free_bad(m, NULL, x, caller);
	do_slab_free(m, slab->slab_cache, slab, (void *)x, caller);
}
