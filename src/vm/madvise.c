/*
 * madvise: advice about how a range will be used.
 *
 * Linux: mm/madvise.c (do_madvise, madvise_update_vma, madvise_dontneed,
 * madvise_free_pte_range, madvise_willneed).
 *  - MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL set VMA flags that steer
 *    file readahead (VM_RAND_READ: none; VM_SEQ_READ: ahead, not around);
 *  - MADV_WILLNEED reads a file range into the page cache now;
 *  - MADV_DONTNEED drops the pages: anonymous memory reads back as zeros,
 *    a private file mapping as the file's contents;
 *  - MADV_FREE marks private anonymous pages that only this mapping holds
 *    as lazily freeable: clean and old, no longer swap-backed. Reclaim may
 *    discard such a page instead of swapping it, unless it is written
 *    again first (which sets the PTE dirty bit). Until reclaim runs, the
 *    data stays. Such a page moves to the inactive file list (reclaim/);
 *  - MADV_COLD: the range's pages that only this mapping maps are made old
 *    (PTE accessed bit and PG_referenced cleared) and moved to their
 *    inactive list, so reclaim takes them before other pages;
 *  - MADV_PAGEOUT: the same pages are reclaimed now: anonymous ones go to
 *    swap, dirty file pages are written back, then they are freed.
 *    Unlike Linux, which reclaims each page-table's worth as it walks,
 *    kmm gathers the range's pages and reclaims them after mmap_lock is
 *    dropped: the pte-chain rmap walk takes mmap_lock itself.
 * MADV_COLD and MADV_PAGEOUT refuse VM_LOCKED ranges (-EINVAL) and work
 * only with the reclaim layer's LRU lists (without them they do nothing).
 * Holes in the range are skipped and reported as ENOMEM at the end, as
 * Linux does.
 *
 * Locks: mmap_lock for writing for the flag changes, for reading otherwise;
 * the PTE table's lock for MADV_FREE.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

static int madvise_behavior(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma **prev,
			    unsigned long start, unsigned long end, int behavior)
{
	unsigned long newflags = vma->vm_flags & ~(VM_RAND_READ | VM_SEQ_READ);
	if (behavior == KMM_MADV_RANDOM)
		newflags |= VM_RAND_READ;
	else if (behavior == KMM_MADV_SEQUENTIAL)
		newflags |= VM_SEQ_READ;
	if (newflags == vma->vm_flags) {
		*prev = vma;
		return 0;
	}
	int err = 0;
	vma = vma_modify_flags(mm, *prev, vma, start, end, newflags, &err);
	if (!vma)
		return err;
	*prev = vma;
	return 0;
}

/*
 * Call @fn for each present PTE of [start, end) in @vma that maps a normal
 * page (not the zero page), under the PTE table's lock.
 */
typedef void (*madvise_pte_fn)(struct kmm_vma *vma, pte_t *pte, pte_t ptent, struct kmm_page *page,
			       void *arg);

static void madvise_walk(struct kmm_vma *vma, unsigned long start, unsigned long end,
			 madvise_pte_fn fn, void *arg)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	for (unsigned long addr = start; addr < end;) {
		unsigned long next = pmd_addr_end(addr, end);
		pmd_t *pmd = pmd_lookup(mm, addr);
		if (!pmd || !entry_read(pmd)) {
			addr = next;
			continue;
		}
		spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
		pte_t *pte = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
		spin_lock(ptl);
		for (; addr < next; pte++, addr += PAGE_SIZE) {
			pte_t ptent = entry_read(pte);
			struct kmm_page *page =
			    pte_present(ptent) ? vm_normal_page(vma, addr, ptent) : NULL;
			if (page)
				fn(vma, pte, ptent, page, arg);
		}
		spin_unlock(ptl);
	}
}

static void madvise_free_pte(struct kmm_vma *vma, pte_t *pte, pte_t ptent, struct kmm_page *page,
			     void *arg)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	struct vm_state *vm = vm_state(m);
	long *freed = arg;
	/* Pages shared with a fork child stay as they are. */
	if (!PageAnon(page) || page_mapcount(page) != 1 || page_ref_count(page) != 1)
		return;
	if (pte_young(ptent) || pte_dirty(ptent)) {
		ptent = __atomic_exchange_n(pte, 0, __ATOMIC_ACQ_REL);
		entry_write(pte, pte_mkold(pte_mkclean(ptent)));
	}
	ClearPageDirty(page);
	if (vm->lru.mark_page_lazyfree) {
		vm->lru.mark_page_lazyfree(m, page); /* counts PGLAZYFREE */
	} else {
		ClearPageSwapBacked(page); /* lazyfree: nothing reclaims it here */
		(*freed)++;
	}
}

static int madvise_free(struct kmm_vma *vma, unsigned long start, unsigned long end)
{
	if (!vma_is_anonymous(vma) || (vma->vm_flags & VM_SHARED))
		return -EINVAL;
	struct kmm_mm *mm = vma->vm_mm;
	struct vm_state *vm = vm_state(mm->machine);
	long freed = 0;
	/* Pages still in this CPU's LRU add batch are on no list yet. */
	if (vm->lru.lru_add_drain)
		vm->lru.lru_add_drain(mm->machine);
	madvise_walk(vma, start, end, madvise_free_pte, &freed);
	if (freed)
		count_vm_events(mm->machine, PGLAZYFREE, freed);
	/* The dirty bits went: TLBs must not keep writable entries that skip setting them. */
	flush_tlb_mm_range(mm, start, end);
	return 0;
}

struct madvise_cold_arg {
	struct list_head *pageout; /* MADV_PAGEOUT: where isolated pages go; NULL for MADV_COLD */
	bool aged;
};

/*
 * MADV_COLD and MADV_PAGEOUT of one page (Linux
 * madvise_cold_or_pageout_pte_range): a page only this mapping maps is made
 * old, then deactivated, or isolated for reclaim.
 */
static void madvise_cold_pte(struct kmm_vma *vma, pte_t *pte, pte_t ptent, struct kmm_page *page,
			     void *arg)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	struct vm_state *vm = vm_state(m);
	struct madvise_cold_arg *ca = arg;
	/* Other mappings of the page are not this task's to judge. */
	if (page_mapcount(page) != 1)
		return;
	if (pte_young(ptent)) {
		ptent = __atomic_exchange_n(pte, 0, __ATOMIC_ACQ_REL);
		entry_write(pte, pte_mkold(ptent));
		ca->aged = true;
	}
	ClearPageReferenced(page);
	if (!ca->pageout)
		vm->lru.deactivate_page(m, page);
	else if (vm->lru.isolate_lru_page(m, page))
		list_add(&page->lru, ca->pageout);
}

static int madvise_cold_or_pageout(struct kmm_vma *vma, unsigned long start, unsigned long end,
				   struct list_head *pageout)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct vm_state *vm = vm_state(mm->machine);
	struct madvise_cold_arg ca = {.pageout = pageout};
	if (vma->vm_flags & VM_LOCKED)
		return -EINVAL;
	if (!vm->lru.deactivate_page)
		return 0; /* no LRU lists: nothing to age or reclaim */
	vm->lru.lru_add_drain(mm->machine);
	madvise_walk(vma, start, end, madvise_cold_pte, &ca);
	/* An old PTE must not stay young in a TLB that skips setting the bit again. */
	if (ca.aged)
		flush_tlb_mm_range(mm, start, end);
	return 0;
}

static int madvise_willneed(struct kmm_vma *vma, unsigned long start, unsigned long end)
{
	struct kmm_address_space *mapping = vma_mapping(vma);
	if (!mapping)
		return 0; /* anonymous: only swapped pages could be brought in (swap/) */
	if (mapping_shmem(mapping))
		return 0;
	unsigned long first = linear_page_index(vma, start);
	unsigned long nr = (end - start) >> PAGE_SHIFT;
	/* In chunks of the readahead window, as force_page_cache_readahead does. */
	for (unsigned long done = 0; done < nr; done += mapping->ra_pages) {
		unsigned long n = nr - done < mapping->ra_pages ? nr - done : mapping->ra_pages;
		page_cache_readahead(mapping, first + done, n);
	}
	return 0;
}

static bool madvise_behavior_valid(int behavior)
{
	switch (behavior) {
	case KMM_MADV_NORMAL:
	case KMM_MADV_RANDOM:
	case KMM_MADV_SEQUENTIAL:
	case KMM_MADV_WILLNEED:
	case KMM_MADV_DONTNEED:
	case KMM_MADV_FREE:
	case KMM_MADV_COLD:
	case KMM_MADV_PAGEOUT:
		return true;
	default:
		return false;
	}
}

static bool madvise_need_mmap_write(int behavior)
{
	return behavior == KMM_MADV_NORMAL || behavior == KMM_MADV_RANDOM ||
	       behavior == KMM_MADV_SEQUENTIAL;
}

int kmm_madvise(struct kmm_task *t, unsigned long start, unsigned long len_in, int behavior)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	if (!madvise_behavior_valid(behavior))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	unsigned long len = KMM_ALIGN(len_in, PAGE_SIZE);
	if (len_in && !len)
		return -EINVAL;
	unsigned long end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;

	struct kmm_mm *mm = t->mm;
	bool write = madvise_need_mmap_write(behavior);
	if (write)
		mmap_write_lock(mm);
	else
		mmap_read_lock(mm);
	int unmapped_error = 0;
	/* MADV_PAGEOUT's isolated pages, each with a reference. */
	struct list_head pageout = LIST_HEAD_INIT(pageout);
	struct kmm_vma *prev, *vma = find_vma_prev(mm, start, &prev);
	if (vma && start > vma->vm_start)
		prev = vma;
	for (;;) {
		if (!vma) {
			err = -ENOMEM;
			break;
		}
		if (start < vma->vm_start) {
			unmapped_error = -ENOMEM;
			start = vma->vm_start;
			if (start >= end) {
				err = 0;
				break;
			}
		}
		unsigned long tmp = vma->vm_end < end ? vma->vm_end : end;
		switch (behavior) {
		case KMM_MADV_DONTNEED:
			err = (vma->vm_flags & VM_LOCKED) ? -EINVAL : 0;
			if (!err)
				zap_page_range(vma, start, tmp - start);
			prev = vma;
			break;
		case KMM_MADV_FREE:
			err = (vma->vm_flags & VM_LOCKED) ? -EINVAL : madvise_free(vma, start, tmp);
			prev = vma;
			break;
		case KMM_MADV_WILLNEED:
			err = madvise_willneed(vma, start, tmp);
			prev = vma;
			break;
		case KMM_MADV_COLD:
		case KMM_MADV_PAGEOUT:
			err = madvise_cold_or_pageout(
			    vma, start, tmp, behavior == KMM_MADV_PAGEOUT ? &pageout : NULL);
			prev = vma;
			break;
		default:
			err = madvise_behavior(mm, vma, &prev, start, tmp, behavior);
			break;
		}
		if (err)
			break;
		start = tmp;
		if (prev && start < prev->vm_end)
			start = prev->vm_end; /* merged with the next VMA too */
		if (start >= end)
			break;
		vma = prev ? prev->vm_next : find_vma(mm, start);
	}
	if (write)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
	if (!list_empty(&pageout))
		vm_state(mm->machine)->lru.reclaim_pages(mm->machine, &pageout);
	return err ? err : unmapped_error;
}
