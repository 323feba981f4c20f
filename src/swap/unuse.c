/*
 * swapoff's walk: find every swap PTE that names the area going off, bring
 * its page back into memory and map it, so that no slot of the area is
 * referenced any more and its file can be closed.
 *
 * Linux: mm/swapfile.c try_to_unuse, unuse_mm, unuse_vma, unuse_pte_range,
 * unuse_pte (6.1). Shared memory's swap entries live in its mappings, not
 * in page tables: shmem_unuse (shmem_swap.c) brings those back first.
 *
 * Theory of operation. The swap layer sits above vm/, as the fault path
 * (swap_fault.c) does, so it walks vm/'s structures itself: every mm on the
 * machine's list (held by an mm_users reference, so it stays on the list
 * while we work on it and exit cannot free its page tables under us), every
 * VMA that has an anon_vma (only anonymous pages have swap PTEs), every PTE of
 * the VMA. For a swap PTE of the area: take the page from the swap cache or
 * read it (swapin_readahead, which also reads its neighbouring slots), lock
 * it, and under the PTE lock, if the PTE still holds the entry, map the page
 * read-only and old, exactly as a read fault would (the rmap add, the
 * MM_SWAPENTS to MM_ANONPAGES move), then drop the PTE's slot reference.
 * A later write finds a read-only PTE and takes the usual reuse-or-copy
 * path. When no PTE names the slot any more, the page leaves the swap cache
 * and is dirty: memory holds its only copy again.
 *
 * A page shared by fork has one slot named by several PTEs: the first one
 * met reads it into the swap cache, the others find it there, and each PTE
 * adds its own mapping; the slot is freed when the last is done. A page
 * freshly read for a slot that several PTEs name belongs to the fork tree's
 * root anon_vma, as do_swap_page arranges, so every VMA that may map it
 * finds it by rmap.
 *
 * Errors. A read error (I/O or checksum) ends the walk with -EIO: the page
 * was taken out of the swap cache again, its slot still holds the data,
 * the PTE still names the slot, and kmm_swapoff() puts the area back on.
 * Nobody is killed; the swap layer's log says which slot failed. No memory
 * for the page (-ENOMEM) is handled the same way.
 *
 * Races. Other CPUs may fault on, zap, fork or reclaim the pages meanwhile.
 * The PTE is re-read under its lock with the page locked, as do_swap_page
 * does; a PTE that changed is left alone (whoever changed it dropped or
 * moved its slot reference). Reclaim may unmap a page we mapped into a
 * swap entry of the area again (its swap-cache entry is still there): the
 * caller, try_to_unuse, repeats the walk while slots remain in use.
 *
 * Locks, outermost first: vm->mmlist_lock (only to step along the list,
 * never held while working on an mm); mm->mmap_lock (read); PG_locked of
 * the page; the PTE table's split lock. The swap cache's and the slots'
 * locks are taken inside all of them, by the functions of swap.h.
 */
#include "internal.h"
#include "../vm/vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

/*
 * Map @page, which holds the data of @entry, at @addr, if the PTE still
 * holds @entry (Linux unuse_pte). The page is locked, uptodate and in the
 * swap cache. Returns 0 (mapped, or the PTE changed and there is nothing to
 * do) or -ENOMEM (the rmap could not record the mapping).
 */
static int unuse_pte(struct kmm_vma *vma, pmd_t *pmd, unsigned long addr, swp_entry_t entry,
		     struct kmm_page *page)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
	pte_t *ptep = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
	int ret = 0;

	/* Other PTEs of a fork may map the page already: a chain block, before the lock. */
	struct kmm_pte_chain *pc = NULL;
	if (pte_chain_prealloc(m, &pc))
		return -ENOMEM;
	spin_lock(ptl);
	if (entry_read(ptep) != swp_entry_to_pte(entry))
		goto out;
	bool fresh = !PageAnon(page);
	int rc = fresh ? page_add_new_anon_rmap(page, vma, addr, ptep)
		       : page_add_anon_rmap(page, vma, addr, ptep, &pc);
	if (rc) {
		ret = -ENOMEM;
		goto out;
	}
	/* Several PTEs name the slot: the page belongs to the whole fork tree (do_swap_page). */
	if (fresh && __swap_count(m, entry) > 1) {
		struct kmm_anon_vma *root = vma->anon_vma->root;
		WRITE_ONCE(page->mapping,
			   (struct kmm_address_space *)((uintptr_t)root + PAGE_MAPPING_ANON));
	}
	add_mm_counter(mm, MM_SWAPENTS, -1);
	add_mm_counter(mm, MM_ANONPAGES, 1);
	page_ref_inc(page); /* the PTE's reference */
	pte_t pte = pfn_pte(page_to_pfn(m, page), vma->vm_page_prot);
	entry_write(ptep, pte_mkold(pte) & ~(pte_t)_PAGE_RW);
	swap_free(m, entry);
out:
	spin_unlock(ptl);
	pte_chain_release(m, &pc);
	return ret;
}

/* Bring back one swap PTE's page (the body of Linux unuse_pte_range's loop). */
static int unuse_one(struct kmm_vma *vma, pmd_t *pmd, unsigned long addr, swp_entry_t entry)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	struct kmm_page *page = lookup_swap_cache(m, entry);
	if (!page) {
		int err = 0;
		page = swapin_readahead(m, entry, GFP_HIGHUSER_MOVABLE, &err);
		/*
		 * -ENOENT: the PTE changed meanwhile. -ENOMEM: memory is short for
		 * the moment; try_to_unuse repeats the walk, and fails if it stays so.
		 */
		if (!page)
			return err == -ENOENT || err == -ENOMEM ? 0 : err;
	}
	/* Freed and reused meanwhile, or a read of it failed: the next walk reads the slot. */
	if (!swap_cache_lock_entry(m, page, entry))
		return 0;
	int ret = unuse_pte(vma, pmd, addr, entry, page);
	try_to_free_swap(m, page);
	unlock_page(page);
	kmm_put_page(m, page);
	/* No memory for the rmap (a pte chain): the next round of try_to_unuse retries. */
	return ret == -ENOMEM ? 0 : ret;
}

/* Every swap PTE of area @type in [addr, end) of one PTE table (Linux unuse_pte_range). */
static int unuse_pte_range(struct kmm_vma *vma, pmd_t *pmd, unsigned long addr, unsigned long end,
			   unsigned int type)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	for (; addr != end; addr += PAGE_SIZE) {
		/* Read without the lock: unuse_pte() re-checks under it. */
		pte_t *ptep = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
		pte_t pte = entry_read(ptep);
		if (!is_swap_pte(pte))
			continue;
		swp_entry_t entry = pte_to_swp_entry(pte);
		if (swp_type(entry) != type)
			continue;
		int ret = unuse_one(vma, pmd, addr, entry);
		if (ret)
			return ret;
	}
	return 0;
}

/* Linux unuse_vma: the PTE tables of @vma that exist. */
static int unuse_vma(struct kmm_vma *vma, unsigned int type)
{
	struct kmm_mm *mm = vma->vm_mm;
	for (unsigned long addr = vma->vm_start, next; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		pmd_t *pmd = pmd_lookup(mm, addr);
		if (!pmd || !entry_read_acquire(pmd))
			continue;
		int ret = unuse_pte_range(vma, pmd, addr, next, type);
		if (ret)
			return ret;
	}
	return 0;
}

/* Linux unuse_mm: every VMA that may hold anonymous pages. */
static int unuse_mm(struct kmm_mm *mm, unsigned int type)
{
	int ret = 0;
	mmap_read_lock(mm);
	for (struct kmm_vma *vma = mm->mmap; vma && !ret; vma = vma->vm_next)
		if (READ_ONCE(vma->anon_vma))
			ret = unuse_vma(vma, type);
	mmap_read_unlock(mm);
	return ret;
}

int swap_unuse_area(struct kmm_machine *m, unsigned int type)
{
	struct vm_state *vm = vm_state(m);
	struct kmm_mm *prev = NULL;
	int ret = 0;
	if (!vm)
		return 0;
	/* Shared memory first, as Linux's try_to_unuse: its entries are in no page table. */
	ret = shmem_unuse(m, type);
	if (ret)
		return ret;
	/*
	 * Step along the list of mms with a user reference on the one being
	 * walked: mmput() takes an mm off the list only when its last user
	 * goes, so the held mm's list link stays valid to step from. A fork
	 * meanwhile adds its child at the tail, after its parent: the walk
	 * reaches it too (Linux relies on the same order of init_mm.mmlist).
	 */
	spin_lock(&vm->mmlist_lock);
	struct list_head *pos = vm->mmlist.next;
	while (pos != &vm->mmlist) {
		struct kmm_mm *mm = list_entry(pos, struct kmm_mm, mmlist);
		if (!atomic_add_unless(&mm->mm_users, 1, 0)) {
			pos = pos->next; /* exiting: its swap PTEs go with it */
			continue;
		}
		spin_unlock(&vm->mmlist_lock);
		if (prev)
			mmput(prev);
		prev = mm;
		ret = unuse_mm(mm, type);
		spin_lock(&vm->mmlist_lock);
		if (ret)
			break;
		pos = mm->mmlist.next;
	}
	spin_unlock(&vm->mmlist_lock);
	if (prev)
		mmput(prev);
	return ret;
}
