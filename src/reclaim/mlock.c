/*
 * Mlocked pages: PG_mlocked and the unevictable list. A page mapped by a
 * VM_LOCKED VMA is kept off the lists reclaim scans, so it is never
 * unmapped, written to swap or dropped.
 *
 * Linux: mm/mlock.c (mlock_folio, munlock_folio, mlock_new_folio; the
 * rmap check of munlock is Linux 5.x's try_to_munlock), mm/vmscan.c
 * (folio_evictable, check_move_unevictable_folios), the unevictable_pgs_*
 * events of mm/vmstat.c.
 *
 * Theory of operation.
 *  1. vm/ and rmap/ call the hooks: mapping a page in a VM_LOCKED VMA
 *     (page_add_*_rmap), mlock() of pages already there, and reclaim that
 *     finds a VM_LOCKED mapping (page_referenced, try_to_unmap) mlock the
 *     page; unmapping it from a VM_LOCKED VMA (page_remove_rmap: munmap,
 *     exit, a COW copy replacing it) and munlock() munlock it.
 *  2. mlock sets PG_mlocked once (NR_MLOCK and unevictable_pgs_mlocked
 *     count the transition) and moves the page to the unevictable list if
 *     it is on another one; a page in an add batch or isolated by reclaim
 *     lands there when it is put on a list, as page_evictable() says.
 *     Every arrival on the unevictable list counts unevictable_pgs_culled.
 *  3. munlock clears PG_mlocked (unevictable_pgs_munlocked) and moves the
 *     page back to the inactive list (unevictable_pgs_rescued). Linux 6.1
 *     counts the locked mappings of a page in folio->mlock_count, which
 *     shares its word with the LRU links; kmm's unevictable list is a real
 *     list, so it cannot. Instead munlock() (which may sleep) walks the
 *     page's rmap first and keeps the page mlocked if another VM_LOCKED
 *     VMA maps it, as Linux 5.x's try_to_munlock did. Unmapping cannot walk
 *     the rmap (it holds the PTE lock), so it munlocks unconditionally: a
 *     page still mapped by another locked VMA returns to the evictable
 *     lists, and the first reclaim scan to meet it finds the VM_LOCKED
 *     mapping and culls it back (mlocked and culled count again). Reclaim
 *     never unmaps a page from a VM_LOCKED VMA either way.
 *  4. A page freed with PG_mlocked still set (never expected: every locked
 *     mapping munlocks as it goes) is uncounted there
 *     (unevictable_pgs_cleared), as Linux's free path does.
 *
 * Locks: the hooks take the node's lru_lock (a leaf) and may be called
 * under the PTE lock; munlock_vma_page() is called with the page locked
 * and no page-table lock, and takes the rmap walk's locks.
 */
#include "internal.h"
#include "../rmap/rmap.h"

static void mlock_count(struct kmm_machine *m, struct kmm_page *page, long delta)
{
	mod_zone_page_state(page_zone(m, page), NR_MLOCK, delta);
	count_vm_event(m, delta > 0 ? UNEVICTABLE_PGMLOCKED : UNEVICTABLE_PGMUNLOCKED);
}

/* Move @page from an evictable list to the unevictable one, if it is on a list. */
static void move_to_unevictable(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && !PageUnevictable(page) && !page_evictable(page)) {
		lruvec_del_page(m, lruvec, page);
		/* Atomic: a cache lookup may lock the page meanwhile (same word). */
		ClearPageActive(page);
		SetPageUnevictable(page);
		lruvec_add_page(m, lruvec, page);
		count_vm_event(m, UNEVICTABLE_PGCULLED);
	}
	spin_unlock(&lruvec->lru_lock);
}

/* Move @page from the unevictable list to the inactive one (Linux check_move_unevictable). */
static void move_to_evictable(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && PageUnevictable(page) && page_evictable(page)) {
		lruvec_del_page(m, lruvec, page);
		ClearPageUnevictable(page);
		lruvec_add_page(m, lruvec, page);
		count_vm_event(m, UNEVICTABLE_PGRESCUED);
	}
	spin_unlock(&lruvec->lru_lock);
}

/* Linux mlock_folio. Context: any; the PTE lock may be held. */
void mlock_page(struct kmm_machine *m, struct kmm_page *page)
{
	if (TestSetPageMlocked(page))
		return;
	mlock_count(m, page, 1);
	move_to_unevictable(m, page);
}

/* Linux munlock_folio, without the mapping count (see 3. above). Context: as mlock_page. */
void munlock_page(struct kmm_machine *m, struct kmm_page *page)
{
	if (!TestClearPageMlocked(page))
		return;
	mlock_count(m, page, -1);
	move_to_evictable(m, page);
}

static bool mapped_locked_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			      pte_t *ptep, void *arg)
{
	(void)page;
	(void)address;
	(void)ptep;
	if (!(vma->vm_flags & VM_LOCKED))
		return true;
	*(bool *)arg = true;
	return false;
}

/*
 * munlock() of one page (Linux 5.x munlock_vma_page + try_to_munlock): the
 * page stays mlocked while another VM_LOCKED VMA maps it. Context: the
 * page locked, no page-table lock held.
 */
void munlock_vma_page(struct kmm_machine *m, struct kmm_page *page)
{
	if (!PageMlocked(page))
		return;
	bool locked = false;
	struct rmap_walk_control rwc = {.arg = &locked, .rmap_one = mapped_locked_one};
	if (page_mapped(page))
		rmap_walk(m, page, &rwc);
	/* A mapping skipped on a busy lock is not known locked: the next reclaim scan decides. */
	if (!locked)
		munlock_page(m, page);
}

/* The page allocator frees @page with PG_mlocked still set. Context: any. */
void mlock_page_freed(struct kmm_machine *m, struct kmm_page *page)
{
	if (!TestClearPageMlocked(page))
		return;
	mod_zone_page_state(page_zone(m, page), NR_MLOCK, -1);
	count_vm_event(m, UNEVICTABLE_PGCLEARED);
}
