/*
 * The fault path into swap: a PTE that holds a swap entry gets its page
 * back from the swap cache or from the area; and the hooks vm/ calls when
 * fork copies or exit zaps a swap PTE.
 *
 * Linux: mm/memory.c do_swap_page() (6.1, without THP, KSM and
 * SWP_SYNCHRONOUS_IO's cache bypass), copy_nonpresent_pte's
 * swap_duplicate, zap_pte_range's free_swap_and_cache.
 *
 * Theory of operation. The faulting task looks the entry up in the swap
 * cache; on a miss it reads the slot and its neighbours
 * (swapin_readahead): a major fault. With the page locked it re-checks
 * that the PTE still holds the entry (another CPU may have brought the
 * page in, or the task unmapped it), maps the page read-only, drops the
 * PTE's slot reference, and frees the slot when nothing else names it and
 * swap is getting full or the fault is a write (the page then becomes the
 * only copy, dirty, and a write fault maps it writable in place). A read
 * error kills only the faulting task, with SIGBUS and the swap layer's
 * message.
 *
 * Locks: PG_locked of the page, then the PTE lock; the swap cache's and
 * slots' locks inside both.
 */
#include "internal.h"
#include "../vm/vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

static int swap_in_and_map(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	swp_entry_t entry = pte_to_swp_entry(vmf->orig_pte);
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	int ret = 0;

	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	struct kmm_page *page = lookup_swap_cache(m, entry);
	if (!page) {
		int err = 0;
		page = swapin_readahead(m, entry, GFP_HIGHUSER_MOVABLE, &err);
		if (!page) {
			if (err == -ENOMEM)
				return VM_FAULT_OOM;
			if (err == -EIO) {
				vmf->sigbus_code = KMM_BUS_OBJERR;
				vmf->sigbus_reason = "swap-in failed: the page could not be read "
						     "back from its swap slot";
				return VM_FAULT_SIGBUS;
			}
			return 0; /* the PTE changed under us: let the access retry */
		}
		ret = VM_FAULT_MAJOR;
		count_vm_event(m, PGMAJFAULT);
	}

	/*
	 * Freed from the cache meanwhile, or another read of it failed
	 * (readahead's, another fault's; our own comes back uptodate or not at
	 * all): the access retries from the PTE.
	 */
	if (!swap_cache_lock_entry(m, page, entry))
		return ret;

	spin_lock(vmf->ptl);
	if (entry_read(vmf->pte) != vmf->orig_pte) {
		spin_unlock(vmf->ptl);
		unlock_page(page);
		kmm_put_page(m, page);
		return ret;
	}
	bool fresh = !PageAnon(page);
	int rc = fresh ? page_add_new_anon_rmap(page, vma, vmf->address, vmf->pte)
		       : page_add_anon_rmap(page, vma, vmf->address, vmf->pte, &vmf->pte_chain);
	/*
	 * A page read back for a slot other mms still name (fork) may be mapped
	 * by any VMA of the fork tree: it belongs to the tree's root anon_vma,
	 * which every one of them chains to (Linux __page_set_anon_rmap with
	 * !exclusive).
	 */
	if (!rc && fresh && __swap_count(m, entry) > 1) {
		struct kmm_anon_vma *root = vma->anon_vma->root;
		WRITE_ONCE(page->mapping,
			   (struct kmm_address_space *)((uintptr_t)root + PAGE_MAPPING_ANON));
	}
	if (rc) {
		spin_unlock(vmf->ptl);
		unlock_page(page);
		kmm_put_page(m, page);
		return VM_FAULT_OOM;
	}
	add_mm_counter(mm, MM_ANONPAGES, 1);
	add_mm_counter(mm, MM_SWAPENTS, -1);
	/* Our reference becomes the PTE's. */
	pte_t pte = pfn_pte(page_to_pfn(m, page), vma->vm_page_prot);
	entry_write(vmf->pte, pte_mkyoung(pte) & ~(pte_t)_PAGE_RW);
	swap_free(m, entry);
	/* The slot is of no use once memory holds the only copy that will be written. */
	if (write || vm_swap_full(m))
		try_to_free_swap(m, page);
	if (write && (vma->vm_flags & VM_WRITE) && !PageSwapCache(page) &&
	    page_mapcount(page) == 1 && page_ref_count(page) == 1)
		entry_write(vmf->pte, pte_mkdirty(pte_mkwrite(pte_mkyoung(pte))));
	spin_unlock(vmf->ptl);
	unlock_page(page);
	return ret;
}

static int do_swap_page(struct vm_fault *vmf)
{
	struct kmm_machine *m = vmf->vma->vm_mm->machine;
	/*
	 * A page found in the swap cache may be mapped by other PTEs already
	 * (fork shared it): its pte chain may need a block, taken now, before
	 * any lock (rmap.h), and freed afterwards if unused.
	 */
	if (pte_chain_prealloc(m, &vmf->pte_chain))
		return VM_FAULT_OOM;
	int ret = swap_in_and_map(vmf);
	pte_chain_release(m, &vmf->pte_chain);
	return ret;
}

static int swap_hook_duplicate(struct kmm_machine *m, swp_entry_t entry)
{
	return swap_duplicate(m, entry);
}

static void swap_hook_free(struct kmm_machine *m, swp_entry_t entry)
{
	free_swap_and_cache(m, entry);
}

/* Linux free_swap_cache(): an unmapped swap-cache page nobody else is using lets its slot go. */
static void swap_hook_free_cache(struct kmm_machine *m, struct kmm_page *page)
{
	if (PageSwapCache(page) && !page_mapped(page) && trylock_page(page)) {
		try_to_free_swap(m, page);
		unlock_page(page);
	}
}

void swap_fault_init(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (!vm)
		return;
	vm->swap.do_swap_page = do_swap_page;
	vm->swap.swap_duplicate = swap_hook_duplicate;
	vm->swap.free_swap_and_cache = swap_hook_free;
	vm->swap.free_swap_cache = swap_hook_free_cache;
	swap_state(m)->vm_unuse = swap_unuse_area;
}

void swap_fault_exit(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (!vm)
		return;
	vm->swap.do_swap_page = NULL;
	vm->swap.swap_duplicate = NULL;
	vm->swap.free_swap_and_cache = NULL;
	vm->swap.free_swap_cache = NULL;
	swap_state(m)->vm_unuse = NULL;
}
