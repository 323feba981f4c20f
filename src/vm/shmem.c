/*
 * Shared anonymous memory (shmem): the fault path of its pages, and the
 * page-cache side of sending them to swap and bringing them back.
 *
 * Linux: mm/shmem.c of 6.1 (shmem_fault, shmem_get_folio_gfp,
 * shmem_add_to_page_cache, shmem_delete_from_page_cache,
 * shmem_free_swap, shmem_confirm_swap). The swap side (shmem_writepage,
 * shmem_swapin_folio, shmem_unuse) is in swap/shmem_swap.c, which vm/
 * reaches through its swap hooks, as the anonymous fault path does.
 *
 * Theory of operation.
 *  1. MAP_SHARED|MAP_ANONYMOUS is a file of its own on no host file
 *     (file.c, shmem_file_setup). Each slot of its mapping holds one of:
 *     nothing (a hole, which reads as zeros: the first fault puts a zeroed
 *     page there), a page (PG_swapbacked, on the anon LRU lists, counted in
 *     Shmem), or a swap entry (a radix-tree value entry) once reclaim wrote
 *     the page to swap. A shmem mapping never holds a shadow entry: the
 *     shadow of a swapped shmem page lives in the swap cache's slot, where
 *     the swap-in finds it. So a value entry is a swap entry here and a
 *     shadow in a file's mapping.
 *  2. Reclaim unmaps the page from every mapping (the file rmap), then
 *     shmem_writepage gives it a slot, puts it in the swap cache, and
 *     replaces it in the mapping by the slot's entry, which holds one
 *     swap_map reference (Linux's SWAP_MAP_SHMEM; a plain count of 1 in
 *     kmm); the write and the free are anonymous memory's, from the swap
 *     cache. inode->swapped counts the mapping's swap entries.
 *  3. A fault on a slot that holds a swap entry brings the page back
 *     through the swap cache (a cache hit, or a read with readahead, the
 *     checksum checked), puts it in the mapping in place of the entry,
 *     takes it out of the swap cache and frees the slot: the page is dirty,
 *     memory holds its only copy. Every other task that maps the region
 *     then finds it in the page cache. The slot is checked under the tree
 *     lock with the page locked (shmem_confirm_swap), so two tasks faulting
 *     at once, or a truncation, cannot both win.
 *  4. Truncation (the last unmap) frees the swap entries with the pages.
 *
 * Locks: PG_locked of the page, then mapping->i_pages_lock (a leaf); the
 * swap layer's locks are taken without i_pages_lock held.
 */
#include "vm.h"
#include <errno.h>

int shmem_add_to_page_cache(struct kmm_page *page, struct kmm_address_space *mapping,
			    unsigned long index, void *expected)
{
	struct kmm_machine *m = mapping->host->machine;
	VM_BUG_ON_PAGE(!PageLocked(page), page);
	VM_BUG_ON_PAGE(PageSwapCache(page) && page->mapping, page);
	/*
	 * A swap-cache page is PG_swapbacked already (Linux asserts it too).
	 * It is on the LRU, where reclaim sets and clears PG_lru with atomic
	 * bit operations meanwhile: a plain read-modify-write of the flags
	 * here could undo one of them.
	 */
	VM_BUG_ON_PAGE(!PageSwapBacked(page), page);
	spin_lock(&mapping->i_pages_lock);
	if (radix_tree_lookup(&mapping->i_pages, index) != expected) {
		spin_unlock(&mapping->i_pages_lock);
		return -EEXIST;
	}
	kmm_get_page(page);
	page->mapping = mapping;
	page->index = index;
	radix_tree_replace(&mapping->i_pages, index, page);
	mapping->nrpages++;
	if (xa_is_value(expected))
		WRITE_ONCE(mapping->host->swapped, mapping->host->swapped - 1);
	mod_node_page_state(page_pgdat(m, page), NR_FILE_PAGES, 1);
	mod_node_page_state(page_pgdat(m, page), NR_SHMEM, 1);
	spin_unlock(&mapping->i_pages_lock);
	return 0;
}

void shmem_delete_from_page_cache(struct kmm_page *page, void *radswap)
{
	struct kmm_address_space *mapping = page->mapping;
	struct kmm_machine *m = mapping->host->machine;
	VM_BUG_ON_PAGE(!PageLocked(page) || !mapping_shmem(mapping), page);
	spin_lock(&mapping->i_pages_lock);
	void *old = radix_tree_replace(&mapping->i_pages, page->index, radswap);
	KMM_BUG_ON(old != page);
	mapping->nrpages--;
	WRITE_ONCE(mapping->host->swapped, mapping->host->swapped + 1);
	mod_node_page_state(page_pgdat(m, page), NR_FILE_PAGES, -1);
	mod_node_page_state(page_pgdat(m, page), NR_SHMEM, -1);
	WRITE_ONCE(page->mapping, NULL);
	spin_unlock(&mapping->i_pages_lock);
	/* The tree's reference; the caller and the swap cache hold theirs. */
	KMM_BUG_ON(page_ref_count(page) < 2);
	page_ref_add(page, -1);
}

void shmem_free_swap(struct kmm_address_space *mapping, void *radswap)
{
	struct kmm_machine *m = mapping->host->machine;
	struct vm_state *vm = vm_state(m);
	if (vm->swap.free_swap_and_cache)
		vm->swap.free_swap_and_cache(m, radix_to_swp_entry(radswap));
}

/* A slot that holds swap entry @entry: bring its page back (the swap layer's hook). */
static unsigned int shmem_swapin_fault(struct vm_fault *vmf, swp_entry_t entry, int *retry)
{
	struct kmm_address_space *mapping = vma_mapping(vmf->vma);
	struct kmm_machine *m = vmf->vma->vm_mm->machine;
	struct vm_state *vm = vm_state(m);
	struct kmm_page *page = NULL;
	bool major = false;
	*retry = 0;
	if (!vm->swap.shmem_swapin) {
		/* Only swap/ puts swap entries here; without it none exist. */
		vmf->sigbus_code = KMM_BUS_OBJERR;
		return VM_FAULT_SIGBUS;
	}
	int err = vm->swap.shmem_swapin(m, mapping, vmf->pgoff, entry, &page, &major);
	if (err == -EIO) {
		vmf->sigbus_code = KMM_BUS_OBJERR;
		vmf->sigbus_reason = "swap-in failed: the shared memory page could not be read "
				     "back from its swap slot";
		return VM_FAULT_SIGBUS;
	}
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	if (err) {
		*retry = 1; /* the slot changed under us */
		return 0;
	}
	unsigned int ret = VM_FAULT_LOCKED;
	if (major) {
		count_vm_event(m, PGMAJFAULT);
		ret |= VM_FAULT_MAJOR;
	}
	vmf->page = page;
	return ret;
}

/*
 * Linux shmem_fault / shmem_get_folio_gfp: the page of slot vmf->pgoff,
 * locked and referenced in vmf->page (VM_FAULT_LOCKED), from the page
 * cache, from swap, or zeroed for a hole. The caller checked the size.
 */
unsigned int shmem_fault(struct vm_fault *vmf)
{
	struct kmm_address_space *mapping = vma_mapping(vmf->vma);
	struct kmm_machine *m = vmf->vma->vm_mm->machine;
	unsigned long index = vmf->pgoff;

	/*
	 * Each round either finds the page or sees the slot change under it
	 * (reclaim took the page to swap, another task brought it back, an
	 * allocation failed): a few rounds settle any race; more mean memory
	 * is short.
	 */
	for (int tries = 0; tries < 16; tries++) {
		spin_lock(&mapping->i_pages_lock);
		struct kmm_page *page = radix_tree_lookup(&mapping->i_pages, index);
		if (page && !xa_is_value(page))
			kmm_get_page(page);
		spin_unlock(&mapping->i_pages_lock);
		if (xa_is_value(page)) {
			int retry;
			unsigned int ret =
			    shmem_swapin_fault(vmf, radix_to_swp_entry(page), &retry);
			if (!retry)
				return ret;
			continue;
		}
		if (!page) {
			/* A hole: a zeroed page (shmem_aops.read_pages) takes the slot. */
			page_cache_readahead(mapping, index, 1);
			continue;
		}
		lock_page(page);
		if (page->mapping != mapping || page->index != index) {
			/* Gone to swap (or truncated) while we waited for the lock. */
			unlock_page(page);
			vm_put_page(m, page);
			continue;
		}
		VM_BUG_ON_PAGE(!PageUptodate(page),
			       page); /* zero fill and swap-in never fail late */
		vmf->page = page;
		return VM_FAULT_LOCKED;
	}
	return VM_FAULT_OOM;
}
