/*
 * Where the reverse map's own objects come from: anon_vmas, anon_vma_chains
 * and pte_chain blocks, in simulated RAM or in host memory.
 *
 * Linux allocates them from slab caches (anon_vma, anon_vma_chain, and in
 * 2.5 pte_chain), so their memory is the machine's and competes with the
 * workload's: that is what `--rmap-mem ram` (the default) keeps. With
 * `--rmap-mem host` they come from the host's malloc instead, counted per
 * kind (nr_rmap_objs) and reported at the stride the slab cache would use,
 * so the two designs leave the very same free memory to the workload and
 * a run under memory pressure can be compared decision for decision. No
 * rmap cache is created then: the caches' own metadata would differ
 * between the designs too. failslab applies to both sources alike, so
 * fault injection reaches the same calls.
 *
 * An anon_vma is freed only once no reader can still reach it: walkers
 * find it from page->mapping of a page that may be unmapped meanwhile
 * (page_get_anon_vma in objrmap.c), inside a read section of the
 * machine's kmm_rcu, and rmap_obj_free waits for those readers first.
 */
#include "internal.h"
#include "../port/port.h"

static const struct {
	unsigned int size, align; /* align: the slab cache's (SLAB_HWCACHE_ALIGN: a line) */
	const char *name;
} rmap_obj_layout[] = {
    [RMAP_ANON_VMA] = {sizeof(struct kmm_anon_vma), 64, "anon_vma"},
    [RMAP_ANON_VMA_CHAIN] = {sizeof(struct anon_vma_chain), 8, "anon_vma_chain"},
    [RMAP_PTE_CHAIN] = {sizeof(struct kmm_pte_chain), 64, "pte_chain"},
};

static inline bool rmap_host_mem(const struct kmm_machine *m)
{
	return m->cfg.rmap_mem == KMM_RMAP_MEM_HOST;
}

static struct kmm_kmem_cache *rmap_cache(struct kmm_machine *m, enum rmap_obj which)
{
	struct vm_state *vm = vm_state(m);
	switch (which) {
	case RMAP_ANON_VMA:
		return vm->anon_vma_cachep;
	case RMAP_ANON_VMA_CHAIN:
		return vm->anon_vma_chain_cachep;
	default:
		return vm->pte_chain_cachep;
	}
}

int rmap_init(struct kmm_machine *m)
{
	struct kmm_error err;
	struct vm_state *vm = vm_state(m);
	if (rmap_host_mem(m))
		return 0;
	vm->anon_vma_cachep = kmm_kmem_cache_create(m, "anon_vma", sizeof(struct kmm_anon_vma), 0,
						    SLAB_HWCACHE_ALIGN | SLAB_ACCOUNT, NULL, &err);
	if (!vm->anon_vma_cachep)
		return -ENOMEM;
	/* Each design's per-mapping objects get their own cache, so slabinfo shows the cost. */
	if (rmap_ptechain(m))
		vm->pte_chain_cachep =
		    kmm_kmem_cache_create(m, "pte_chain", sizeof(struct kmm_pte_chain), 0,
					  SLAB_HWCACHE_ALIGN, NULL, &err);
	else
		vm->anon_vma_chain_cachep =
		    kmm_kmem_cache_create(m, "anon_vma_chain", sizeof(struct anon_vma_chain), 0,
					  SLAB_ACCOUNT, NULL, &err);
	return vm->pte_chain_cachep || vm->anon_vma_chain_cachep ? 0 : -ENOMEM;
}

void rmap_destroy(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (vm->pte_chain_cachep)
		kmm_kmem_cache_destroy(vm->pte_chain_cachep);
	if (vm->anon_vma_chain_cachep)
		kmm_kmem_cache_destroy(vm->anon_vma_chain_cachep);
	if (vm->anon_vma_cachep)
		kmm_kmem_cache_destroy(vm->anon_vma_cachep);
	vm->pte_chain_cachep = NULL;
	vm->anon_vma_chain_cachep = NULL;
	vm->anon_vma_cachep = NULL;
}

/* failslab for host objects, as slab's should_failslab decides for cached ones. */
static bool rmap_should_failslab(struct kmm_machine *m, size_t size, gfp_t gfp)
{
	if (likely(!READ_ONCE(m->failslab.enabled)) || (gfp & __GFP_NOFAIL))
		return false;
	if (m->failslab.ignore_gfp_reclaim && (gfp & __GFP_DIRECT_RECLAIM))
		return false;
	return kmm_should_fail(&m->failslab, size);
}

void *rmap_obj_alloc(struct kmm_machine *m, enum rmap_obj which, gfp_t gfp)
{
	void *obj;
	if (rmap_host_mem(m)) {
		unsigned int size = rmap_obj_layout[which].size;
		obj = rmap_should_failslab(m, size, gfp)
			  ? NULL
			  : kmm_port_malloc(size, rmap_obj_layout[which].align);
	} else {
		obj = kmm_kmem_cache_alloc(rmap_cache(m, which), gfp);
	}
	if (obj)
		atomic_long_inc(&vm_state(m)->nr_rmap_objs[which]);
	return obj;
}

void rmap_obj_free(struct kmm_machine *m, enum rmap_obj which, void *obj)
{
	atomic_long_dec(&vm_state(m)->nr_rmap_objs[which]);
	/* A walker may still be looking at an anon_vma it found from an unmapped page. */
	if (which == RMAP_ANON_VMA)
		kmm_rcu_wait_readers(&m->rcu);
	if (rmap_host_mem(m))
		kmm_port_mfree(obj);
	else
		kmm_kmem_cache_free(rmap_cache(m, which), obj);
}

void *rmap_buf_alloc(struct kmm_machine *m, size_t size)
{
	return rmap_host_mem(m) ? kmm_port_malloc(size, sizeof(void *))
				: kmm_kmalloc(m, size, GFP_ATOMIC);
}

void rmap_buf_free(struct kmm_machine *m, void *buf)
{
	if (rmap_host_mem(m))
		kmm_port_mfree(buf);
	else
		kmm_kfree(m, buf);
}

/* The bytes one object takes: its cache's stride, or what that stride would be. */
static unsigned long rmap_obj_stride(struct kmm_machine *m, enum rmap_obj which)
{
	if (!rmap_host_mem(m)) {
		struct kmm_kmem_cache *s = rmap_cache(m, which);
		return s ? kmm_kmem_cache_size(s) : 0;
	}
	return KMM_ALIGN(rmap_obj_layout[which].size, rmap_obj_layout[which].align);
}

unsigned long rmap_bytes(struct kmm_machine *m)
{
	unsigned long bytes = 0;
	for (int i = RMAP_ANON_VMA; i <= RMAP_PTE_CHAIN; i++)
		bytes += (unsigned long)rmap_objects(m, i) * rmap_obj_stride(m, i);
	return bytes;
}

void rmap_show_host_slabinfo(struct kmm_machine *m, struct kmm_buf *out)
{
	if (!rmap_host_mem(m))
		return;
	/* slabinfo's columns; no slab holds them, so the slab counts are zero. */
	for (int i = RMAP_ANON_VMA; i <= RMAP_PTE_CHAIN; i++) {
		unsigned long n = (unsigned long)rmap_objects(m, i);
		kmm_buf_printf(out,
			       "%-17s %6lu %6lu %6lu %4u %4u : tunables %4u %4u %4u : slabdata "
			       "%6lu %6lu %6lu\n",
			       rmap_obj_layout[i].name, n, n, rmap_obj_stride(m, i), 0u, 0u, 0u, 0u,
			       0u, 0UL, 0UL, 0UL);
	}
}
