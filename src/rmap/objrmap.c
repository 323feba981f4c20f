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
 * Locks: anon_vma root rwsem or i_mmap_rwsem (read) -> PTE lock.
 */
#include "internal.h"

void rmap_walk_anon(struct kmm_page *page, struct rmap_walk_control *rwc)
{
	struct kmm_anon_vma *av = page_anon_vma(page);
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
