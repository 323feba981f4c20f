/*
 * Object-based reverse mapping: a page's mappings found through the object
 * it belongs to, not recorded per PTE.
 *
 * Linux: mm/rmap.c rmap_walk_anon(), rmap_walk_file(), vma_address()
 * (2.6.7 on; anon_vma_chain since 2.6.34). An anonymous page leads to its
 * anon_vma, whose list holds one anon_vma_chain per VMA that may map the
 * page (the VMA that made it and its fork descendants); a file page leads
 * to its address_space, whose i_mmap interval tree yields the VMAs whose
 * page-offset range covers page->index. In each VMA the address is
 * computed (vm_start + (index - vm_pgoff) pages) and the page tables are
 * walked to see whether that PTE really maps this page: a COW copy, an
 * unfaulted page or a private copy of a file page is a VMA visited for
 * nothing, which is objrmap's price (Andrew Morton's worst case: many VMAs
 * over one file, one page wanted).
 *
 * kmm keeps 2.6.34's list per anon_vma; Linux 3.7 made it an interval tree
 * like i_mmap, which matters only when one anon_vma has VMAs that do not
 * cover the page (mremap'd or split pieces of a big fork tree).
 *
 * Finding the anon_vma safely (Linux folio_get_anon_vma and
 * folio_lock_anon_vma_read): the caller's page reference keeps the page,
 * not its anon_vma. page->mapping still names the anon_vma after the
 * page's last PTE went, and the last task's exit may free that anon_vma
 * while a walker (kswapd on its own thread) is about to lock it. So the
 * walker reads page->mapping inside a read section of the machine's
 * kmm_rcu, sees the page still mapped (then the anon_vma is alive: it is
 * freed only after every page of it was unmapped), takes a reference
 * unless the count already reached zero, and leaves the section; the
 * reference keeps the anon_vma, and the anon_vma keeps its root, for the
 * whole walk. A free waits for the readers inside a section (objects.c),
 * so a walker never touches freed memory. Linux gets the same from
 * SLAB_TYPESAFE_BY_RCU (memory stays an anon_vma for a grace period) and
 * so must recheck page->mapping after the increment; kmm's anon_vma is
 * not reused while a reader may see it, and the recheck of page_mapped is
 * only the early exit for a page unmapped meanwhile.
 *
 * Locks: anon_vma root rwsem or i_mmap_rwsem (read) -> PTE lock.
 */
#include "internal.h"

/* Is @page mapped? Ordered after the read lock's increment (the free side is ordered too). */
static bool page_mapped_ordered(struct kmm_page *page)
{
	return __atomic_load_n(&page->_mapcount.counter, __ATOMIC_SEQ_CST) >= 0;
}

/* @page's anon_vma with a reference held, or NULL if the page is no longer mapped. */
static struct kmm_anon_vma *page_get_anon_vma(struct kmm_machine *m, struct kmm_page *page)
{
	struct kmm_anon_vma *av = NULL;
	bool unmapped = false;
	int idx = kmm_rcu_read_lock(&m->rcu);
	uintptr_t mapping = (uintptr_t)READ_ONCE(page->mapping);
	if ((mapping & PAGE_MAPPING_ANON) && page_mapped_ordered(page)) {
		av = (struct kmm_anon_vma *)(mapping - PAGE_MAPPING_ANON);
		if (!atomic_add_unless(&av->refcount, 1, 0))
			av = NULL;
		else
			unmapped = !page_mapped_ordered(page);
	}
	kmm_rcu_read_unlock(&m->rcu, idx);
	if (unmapped) { /* nothing left to find; our put may be the last (outside the section) */
		put_anon_vma(av);
		av = NULL;
	}
	return av;
}

void rmap_walk_anon(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc)
{
	struct kmm_anon_vma *av = page_get_anon_vma(m, page);
	if (!av)
		return;
	struct kmm_anon_vma *root = av->root;
	down_read(&root->rwsem);
	struct anon_vma_chain *avc;
	list_for_each_entry (avc, &av->head, same_anon_vma) {
		struct kmm_vma *vma = avc->vma;
		unsigned long address = vma_address(page, vma);
		if (IS_ERR_ADDR(address))
			continue;
		if (!rmap_walk_one(page, vma, address, rwc))
			break;
	}
	up_read(&root->rwsem);
	put_anon_vma(av);
}

void rmap_walk_file(struct kmm_page *page, struct rmap_walk_control *rwc)
{
	struct kmm_address_space *mapping = page_mapping_file(page);
	unsigned long pgoff = page->index;
	down_read(&mapping->i_mmap_rwsem);
	for (struct kmm_vma *vma = vma_interval_tree_iter_first(&mapping->i_mmap, pgoff, pgoff);
	     vma; vma = vma_interval_tree_iter_next(vma, pgoff, pgoff)) {
		unsigned long address = vma_address(page, vma);
		if (IS_ERR_ADDR(address))
			continue;
		if (!rmap_walk_one(page, vma, address, rwc))
			break;
	}
	up_read(&mapping->i_mmap_rwsem);
}
