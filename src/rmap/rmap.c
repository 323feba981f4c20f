/*
 * Reverse-mapping bookkeeping shared by both rmap designs: map counts,
 * the mapped-page counters, and anon_vma lifetimes.
 *
 * Linux: mm/rmap.c (page_add_new_anon_rmap, page_add_anon_rmap,
 * page_add_file_rmap, page_remove_rmap, anon_vma_prepare, anon_vma_clone,
 * anon_vma_fork, unlink_anon_vmas). A page's _mapcount is the number of
 * PTEs that map it, minus one; the first mapping of a page counts it in
 * NR_ANON_MAPPED or NR_FILE_MAPPED (meminfo's AnonPages and Mapped) and the
 * last unmapping uncounts it.
 *
 * anon_vma here is the 2.6.7 arrangement: one object shared by a VMA, the
 * pieces it is split into and the VMAs forked from it, refcounted by those
 * VMAs. Anonymous pages point to it from page->mapping (low bit set) with
 * page->index their offset in the VMA's pgoff space, so a page's address in
 * any VMA that shares the anon_vma is computable.
 *
 * Locks: anon_vma_prepare takes mm->page_table_lock to install a new
 * anon_vma against a racing fault on another CPU.
 */
#include "rmap.h"
#include <errno.h>

static struct kmm_anon_vma *anon_vma_alloc(struct kmm_machine *m)
{
	struct kmm_anon_vma *av = kmm_kmem_cache_alloc(vm_state(m)->anon_vma_cachep, GFP_KERNEL);
	if (!av)
		return NULL;
	av->root = av;
	init_rwsem(&av->rwsem);
	atomic_set(&av->refcount, 1);
	av->machine = m;
	return av;
}

static void put_anon_vma(struct kmm_anon_vma *av)
{
	if (atomic_dec_and_test(&av->refcount))
		kmm_kmem_cache_free(vm_state(av->machine)->anon_vma_cachep, av);
}

int rmap_init(struct kmm_machine *m)
{
	struct kmm_error err;
	vm_state(m)->anon_vma_cachep =
	    kmm_kmem_cache_create(m, "anon_vma", sizeof(struct kmm_anon_vma), 0,
				  SLAB_HWCACHE_ALIGN | SLAB_ACCOUNT, NULL, &err);
	return vm_state(m)->anon_vma_cachep ? 0 : -ENOMEM;
}

void rmap_destroy(struct kmm_machine *m)
{
	kmm_kmem_cache_destroy(vm_state(m)->anon_vma_cachep);
	vm_state(m)->anon_vma_cachep = NULL;
}

int anon_vma_prepare(struct kmm_vma *vma)
{
	if (likely(READ_ONCE(vma->anon_vma)))
		return 0;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_anon_vma *av = anon_vma_alloc(mm->machine);
	if (!av)
		return -ENOMEM;
	spin_lock(&mm->page_table_lock);
	if (!vma->anon_vma) {
		WRITE_ONCE(vma->anon_vma, av);
		av = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (av) /* another fault of this VMA won */
		put_anon_vma(av);
	return 0;
}

int anon_vma_clone(struct kmm_vma *dst, struct kmm_vma *src)
{
	if (src->anon_vma) {
		atomic_inc(&src->anon_vma->refcount);
		dst->anon_vma = src->anon_vma;
	}
	return 0;
}

int anon_vma_fork(struct kmm_vma *vma, struct kmm_vma *pvma)
{
	vma->anon_vma = NULL;
	return anon_vma_clone(vma, pvma);
}

void unlink_anon_vmas(struct kmm_vma *vma)
{
	if (vma->anon_vma) {
		put_anon_vma(vma->anon_vma);
		vma->anon_vma = NULL;
	}
}

bool is_mergeable_anon_vma(struct kmm_anon_vma *a1, struct kmm_anon_vma *a2, struct kmm_vma *vma)
{
	(void)vma;
	return !a1 || !a2 || a1 == a2;
}

static void mapped_stat(struct kmm_vma *vma, struct kmm_page *page, enum node_stat_item item,
			long delta)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	mod_node_page_state(page_pgdat(m, page), item, delta);
}

int page_add_new_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			   pte_t *ptep)
{
	(void)ptep;
	struct kmm_anon_vma *av = READ_ONCE(vma->anon_vma);
	VM_BUG_ON(!av);
	__SetPageSwapBacked(page);
	atomic_set(&page->_mapcount, 0);
	page->index = linear_page_index(vma, address);
	WRITE_ONCE(page->mapping, (struct kmm_address_space *)((uintptr_t)av + PAGE_MAPPING_ANON));
	mapped_stat(vma, page, NR_ANON_MAPPED, 1);
	return 0;
}

int page_add_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep)
{
	(void)address;
	(void)ptep;
	if (atomic_inc_and_test(&page->_mapcount))
		mapped_stat(vma, page, NR_ANON_MAPPED, 1);
	return 0;
}

int page_add_file_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep)
{
	(void)address;
	(void)ptep;
	if (atomic_inc_and_test(&page->_mapcount))
		mapped_stat(vma, page, NR_FILE_MAPPED, 1);
	return 0;
}

int page_dup_rmap(struct kmm_page *page, struct kmm_vma *dst_vma, unsigned long address,
		  pte_t *ptep)
{
	(void)dst_vma;
	(void)address;
	(void)ptep;
	/* The page is mapped already, so this is never its first mapping. */
	atomic_inc(&page->_mapcount);
	return 0;
}

void page_remove_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep)
{
	(void)address;
	(void)ptep;
	if (!atomic_add_negative(-1, &page->_mapcount))
		return;
	mapped_stat(vma, page, PageAnon(page) ? NR_ANON_MAPPED : NR_FILE_MAPPED, -1);
}

void page_move_rmap(struct kmm_page *page, pte_t *old_ptep, struct kmm_vma *new_vma,
		    unsigned long new_address, pte_t *new_ptep)
{
	(void)page;
	(void)old_ptep;
	(void)new_vma;
	(void)new_address;
	(void)new_ptep;
}
