/*
 * The scanner: which pages to take from the LRU lists, and taking them —
 * unmapping, writing out to swap or to their file, freeing.
 *
 * Linux: mm/vmscan.c of 6.1 without multi-gen LRU and memory cgroups
 * (shrink_node, shrink_lruvec, get_scan_count, shrink_list,
 * shrink_active_list, shrink_inactive_list, isolate_lru_folios,
 * shrink_folio_list, folio_check_references, pageout, __remove_mapping,
 * inactive_is_low, prepare_scan_count, do_try_to_free_pages,
 * try_to_free_pages), mm/swap.c lru_note_cost, fs/drop_caches.c.
 *
 * Theory of operation.
 *  1. A pass over a node (shrink_node) decides how much of each list to
 *     scan at this priority: list size >> priority (priority 12: 1/4096,
 *     down to 0: everything), split between anon and file by swappiness and
 *     by what each type cost lately in I/O (get_scan_count). It then scans
 *     the lists in batches of 32 (SWAP_CLUSTER_MAX) until its share is
 *     done or the caller's target is met, and refills the inactive lists
 *     from the active ones when they are too small (inactive_is_low: the
 *     inactive list must hold 1/(1+sqrt(10*GiB)) of the type).
 *  2. shrink_active_list moves pages from an active list to the inactive
 *     one, clearing their PTEs' accessed bits on the way; only executable
 *     file pages that were used stay active (Linux's rule: anonymous pages
 *     get their second chance on the inactive list).
 *  3. shrink_inactive_list isolates a batch from the tail and decides page
 *     by page (shrink_page_list): used since last seen -> keep it on the
 *     list once, activate it when used again (or at once when two PTEs
 *     used it); anonymous -> get a swap slot and enter the swap cache;
 *     mapped -> try_to_unmap; dirty shmem -> a swap slot, the swap cache,
 *     and a swap entry in its mapping's slot (shmem_writepage); dirty ->
 *     write (to swap or the file; kmm's writes are synchronous, so a page
 *     written without error is clean at once); clean -> out of its cache
 *     and freed. A write error leaves the page dirty in the swap or page
 *     cache and activates it: no data is lost. A clean page leaves a
 *     shadow entry in its cache (workingset.c) for refault detection.
 *     Swap writes of one batch go on a plug and are written together
 *     after the loop, one pwritev per run of neighbouring slots
 *     (finish_plugged_swap_writes).
 *  4. The counters of Linux follow every step: pgscan_kswapd/direct,
 *     pgsteal_*, pgrefill, pgactivate, pgdeactivate, pswpout (swap/),
 *     nr_vmscan_write, and the trace events mm_vmscan_lru_shrink_inactive/
 *     active and mm_vmscan_write_folio.
 *
 * Locks: see internal.h. Pages are isolated under lru_lock, then worked on
 * with only their PG_locked held; rmap walks take mmap_lock and PTE locks
 * inside PG_locked.
 */
#include "internal.h"
#include "../rmap/rmap.h"
#include <kmm/slab.h>
#include <errno.h>
#include <string.h>

enum page_references {
	PAGEREF_RECLAIM,
	PAGEREF_RECLAIM_CLEAN,
	PAGEREF_KEEP,
	PAGEREF_ACTIVATE,
};

struct reclaim_stat {
	unsigned long nr_dirty, nr_unqueued_dirty, nr_congested, nr_writeback, nr_immediate,
	    nr_pageout;
	unsigned long nr_activate[2];
	unsigned long nr_ref_keep, nr_unmap_fail, nr_lazyfree_fail;
};

bool can_reclaim_anon_pages(struct kmm_machine *m)
{
	return m->swap && get_nr_swap_pages(m) > 0;
}

/*
 * Is the inactive list of this type too small to age pages fairly? The
 * inactive share shrinks with memory: 1:1 below 1 GiB, 1:3 at 1 GiB, 1:10
 * at 10 GiB (Linux: mm/vmscan.c inactive_is_low()).
 */
bool inactive_is_low(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list inactive_lru)
{
	enum lru_list active_lru = (enum lru_list)(inactive_lru + 1);
	unsigned long inactive = lruvec_lru_size(m, lruvec, inactive_lru, MAX_NR_ZONES - 1);
	unsigned long active = lruvec_lru_size(m, lruvec, active_lru, MAX_NR_ZONES - 1);
	unsigned long gb = (inactive + active) >> (30 - PAGE_SHIFT);
	unsigned long inactive_ratio = gb ? int_sqrt(10 * gb) : 1;
	return inactive * inactive_ratio < active;
}

/*
 * Remember what reclaiming a type cost in I/O, decaying both when the sum
 * passes a quarter of the lists (Linux: mm/swap.c lru_note_cost()).
 */
void lru_note_cost(struct kmm_machine *m, struct lruvec *lruvec, bool file, unsigned long nr_io)
{
	spin_lock(&lruvec->lru_lock);
	if (file)
		lruvec->file_cost += nr_io;
	else
		lruvec->anon_cost += nr_io;
	unsigned long lrusize = 0;
	for (int l = 0; l < LRU_UNEVICTABLE; l++)
		lrusize += lruvec_lru_size(m, lruvec, (enum lru_list)l, MAX_NR_ZONES - 1);
	if (lruvec->file_cost + lruvec->anon_cost > lrusize / 4) {
		lruvec->file_cost /= 2;
		lruvec->anon_cost /= 2;
	}
	spin_unlock(&lruvec->lru_lock);
}

/* --- Isolation ---------------------------------------------------------------------------- */

/*
 * Take up to @nr_to_scan pages from the tail of @lru onto @dst, each with a
 * reference and PG_lru cleared (Linux isolate_lru_folios). Pages of zones
 * above sc->reclaim_idx are skipped and go back where they were; pages
 * being freed (refcount 0) are rotated to the head. Returns the number
 * taken; *@nr_scanned says how many were looked at.
 */
static unsigned long isolate_lru_pages(struct kmm_machine *m, unsigned long nr_to_scan,
				       struct lruvec *lruvec, struct list_head *dst,
				       unsigned long *nr_scanned, struct scan_control *sc,
				       enum lru_list lru)
{
	struct list_head *src = &lruvec->lists[lru];
	unsigned long nr_taken = 0, scan = 0, total_scan = 0, skipped = 0;
	unsigned long nr_zone_taken[MAX_NR_ZONES] = {0};
	LIST_HEAD(pages_skipped);

	while (scan < nr_to_scan && !list_empty(src)) {
		struct kmm_page *page = list_last_entry(src, struct kmm_page, lru);
		total_scan++;
		if (page_zonenum(page) > sc->reclaim_idx) {
			list_move(&page->lru, &pages_skipped);
			skipped++;
			continue;
		}
		scan++;
		if (!get_page_unless_zero(page)) {
			list_move(&page->lru, src); /* being freed: its releaser takes it off */
			continue;
		}
		if (!TestClearPageLRU(page)) {
			page_ref_add(page, -1); /* never the last: the page had PG_lru... */
			list_move(&page->lru, src);
			continue;
		}
		list_move(&page->lru, dst);
		nr_zone_taken[page_zonenum(page)]++;
		nr_taken++;
	}
	if (!list_empty(&pages_skipped))
		list_splice(&pages_skipped, src);
	for (int z = 0; z < MAX_NR_ZONES; z++)
		if (nr_zone_taken[z])
			update_lru_size(m, lruvec, lru, (enum zone_type)z, -(long)nr_zone_taken[z]);
	*nr_scanned = total_scan;
	trace_mm_vmscan_lru_isolate(m, sc->reclaim_idx, sc->order, nr_to_scan, total_scan, skipped,
				    nr_taken, 0, lru);
	return nr_taken;
}

/* --- Deciding about one page -------------------------------------------------------------- */

/* Linux folio_check_references(). */
static enum page_references page_check_references(struct kmm_machine *m, struct kmm_page *page,
						  struct scan_control *sc)
{
	unsigned long vm_flags = 0;
	int referenced_ptes = page_referenced(m, page, 1, &vm_flags);
	bool referenced_page = TestClearPageReferenced(page);
	(void)sc;
	if (vm_flags & VM_LOCKED)
		return PAGEREF_ACTIVATE;
	if (referenced_ptes) {
		/*
		 * Every mapped page starts with a referenced PTE from the fault
		 * that brought it in, anonymous or file: one use earns one more
		 * trip round the inactive list, a second (or two mappings using
		 * it) activation (Linux 6.1; before 5.9 anonymous pages were
		 * activated at once, which left the inactive list nothing to
		 * tell hot from cold by).
		 */
		SetPageReferenced(page);
		if (referenced_page || referenced_ptes > 1)
			return PAGEREF_ACTIVATE;
		if ((vm_flags & VM_EXEC) && !PageSwapBacked(page))
			return PAGEREF_ACTIVATE;
		return PAGEREF_KEEP;
	}
	/* Only read(2)-style accesses: reclaim if clean, without writing it. */
	if (referenced_page && !PageSwapBacked(page))
		return PAGEREF_RECLAIM_CLEAN;
	return PAGEREF_RECLAIM;
}

enum pageout_result {
	PAGE_KEEP,
	PAGE_ACTIVATE,
	PAGE_SUCCESS,
	PAGE_CLEAN,
	PAGE_PLUGGED /* queued on the swap plug, still locked: finished after the batch */
};

/* A page written to its backing store: the counters and the event. */
static void pageout_done(struct kmm_machine *m, struct kmm_page *page)
{
	mod_node_page_state(page_pgdat(m, page), NR_VMSCAN_WRITE, 1);
	trace_mm_vmscan_write_folio(m, page_to_pfn(m, page),
				    trace_reclaim_flags(page_is_file_lru(page)));
}

/*
 * Write a dirty, unmapped, locked page to its backing store (Linux
 * pageout()): an anonymous page to its swap slot, a shmem page to a swap
 * slot it gets now (shmem_writepage), a file page to its file.
 * I/O is synchronous, so success means the page is clean now. A swap page
 * goes on @plug when there is room, to be written with the rest of the
 * batch (finish_plugged_swap_writes).
 */
static enum pageout_result pageout(struct kmm_machine *m, struct kmm_page *page,
				   struct scan_control *sc, struct swap_plug *plug)
{
	int err;
	if (!PageSwapCache(page) && PageSwapBacked(page) && !PageAnon(page)) {
		/*
		 * A shmem page that lost its mapping after reclaim isolated it
		 * (truncated, or taken out of the swap cache once no entry
		 * named its slot) holds nothing anyone can reach: nothing to
		 * write, the last reference frees it (Linux pageout: no
		 * mapping, PAGE_KEEP).
		 */
		if (!READ_ONCE(page->mapping))
			return PAGE_KEEP;
		/* Shared memory: into the swap cache, its slot's entry left in its mapping. */
		if (!sc->may_swap || shmem_writepage(m, page))
			return PAGE_ACTIVATE;
	}
	if (PageSwapCache(page)) {
		ClearPageDirty(page);
		if (swap_writepage_plugged(plug, page, page_swap_entry(page)))
			return PAGE_PLUGGED;
		err = swap_writepage(m, page, page_swap_entry(page));
		if (err) {
			SetPageDirty(page); /* swap/ set it too; the slot's copy is not good */
			return PAGE_ACTIVATE;
		}
	} else {
		struct kmm_address_space *mapping = page_mapping_file(page);
		if (!mapping || !mapping->a_ops || !mapping->a_ops->writepage)
			return PAGE_KEEP;
		clear_page_dirty_for_io(page);
		err = mapping->a_ops->writepage(mapping, page);
		if (err) {
			set_page_dirty(page);
			mapping->wb_err = err;
			return PAGE_ACTIVATE;
		}
		mod_node_page_state(page_pgdat(m, page), NR_WRITTEN, 1);
		count_vm_events(m, PGPGOUT, PAGE_SIZE / 512);
	}
	pageout_done(m, page);
	return PAGE_SUCCESS;
}

/* Activate a page reclaim keeps (the activate_locked path of shrink_page_list). */
static void keep_page_active(struct kmm_machine *m, struct kmm_page *page,
			     struct reclaim_stat *stat)
{
	/* A page that failed to go to swap gives its slot back if nothing names it. */
	if (PageSwapCache(page) && !page_mapped(page) && vm_swap_full(m))
		try_to_free_swap(m, page);
	if (page_evictable(page) && !PageActive(page)) {
		SetPageActive(page);
		stat->nr_activate[page_is_file_lru(page)]++;
		count_vm_event(m, PGACTIVATE);
	}
}

/*
 * Write the swap pages of a batch that pageout() plugged, then finish each
 * as shrink_page_list would have after a synchronous write: written ->
 * out of the swap cache and onto @free_pages; failed (left dirty by swap/)
 * -> activated onto @ret_pages. Returns the pages freed.
 */
static unsigned long finish_plugged_swap_writes(struct kmm_machine *m, struct swap_plug *plug,
						struct list_head *free_pages,
						struct list_head *ret_pages,
						struct reclaim_stat *stat)
{
	unsigned long nr_reclaimed = 0;
	swap_write_unplug(m, plug);
	for (int i = 0; i < plug->nr; i++) {
		struct kmm_page *page = plug->pages[i];
		if (plug->errs[i]) {
			SetPageDirty(page); /* swap/ set it too; the slot's copy is not good */
			keep_page_active(m, page, stat);
		} else {
			stat->nr_pageout++;
			pageout_done(m, page);
			if (remove_swap_mapping(m, page)) {
				unlock_page(page);
				ClearPageActive(page);
				ClearPageReferenced(page);
				nr_reclaimed++;
				list_add(&page->lru, free_pages);
				continue;
			}
		}
		unlock_page(page);
		list_add(&page->lru, ret_pages);
	}
	swap_write_plug(plug);
	return nr_reclaimed;
}

/*
 * Reclaim what can be reclaimed of @page_list (isolated pages of one node);
 * what stays goes back onto @page_list with the right PG_active. Returns
 * the number of pages freed (Linux shrink_folio_list).
 */
static unsigned long shrink_page_list(struct kmm_machine *m, struct list_head *page_list,
				      struct kmm_node *pgdat, struct scan_control *sc,
				      struct reclaim_stat *stat)
{
	LIST_HEAD(ret_pages);
	LIST_HEAD(free_pages);
	unsigned long nr_reclaimed = 0;
	struct swap_plug plug;
	memset(stat, 0, sizeof(*stat));
	(void)pgdat;
	swap_write_plug(&plug);

	while (!list_empty(page_list)) {
		/*
		 * Oldest first (isolation reversed the order): the slots add_to_swap
		 * hands out follow the pages' age, so a later sequential swap-in reads
		 * the file forwards (Linux: lru_to_folio takes the list's tail).
		 */
		struct kmm_page *page = list_last_entry(page_list, struct kmm_page, lru);
		list_del(&page->lru);
		enum page_references references = PAGEREF_RECLAIM;

		if (!trylock_page(page))
			goto keep;
		if (!page_evictable(page))
			goto activate_locked;
		if (!sc->may_unmap && page_mapped(page))
			goto keep_locked;
		if (PageWriteback(page)) {
			stat->nr_writeback++;
			goto activate_locked;
		}
		references = page_check_references(m, page, sc);
		if (references == PAGEREF_ACTIVATE)
			goto activate_locked;
		if (references == PAGEREF_KEEP) {
			stat->nr_ref_keep++;
			goto keep_locked;
		}

		/* An anonymous page needs a swap slot before its PTEs can name one. */
		if (PageAnon(page) && PageSwapBacked(page) && !PageSwapCache(page)) {
			if (!sc->may_swap || !can_reclaim_anon_pages(m))
				goto activate_locked;
			if (add_to_swap(m, page))
				goto activate_locked;
		}

		if (page_mapped(page)) {
			bool lazyfree = PageAnon(page) && !PageSwapBacked(page);
			if (!try_to_unmap(m, page, (enum ttu_flags)0) || page_mapped(page)) {
				stat->nr_unmap_fail++;
				/* Written since MADV_FREE: swap-backed again (try_to_unmap). */
				if (lazyfree && PageSwapBacked(page))
					stat->nr_lazyfree_fail++;
				goto activate_locked;
			}
		}

		if (PageDirty(page)) {
			stat->nr_dirty++;
			if (references == PAGEREF_RECLAIM_CLEAN)
				goto keep_locked;
			if (!sc->may_writepage)
				goto keep_locked;
			switch (pageout(m, page, sc, &plug)) {
			case PAGE_PLUGGED:
				continue;
			case PAGE_KEEP:
				goto keep_locked;
			case PAGE_ACTIVATE:
				goto activate_locked;
			case PAGE_SUCCESS:
				stat->nr_pageout++;
				break;
			case PAGE_CLEAN:
				break;
			}
		}

		/* Clean and unmapped: out of its cache, and free. */
		if (PageAnon(page) && !PageSwapBacked(page)) {
			/* Lazily freed (MADV_FREE): only the isolation's reference is left. */
			if (atomic_cmpxchg(&page->_refcount, 1, 0) != 1)
				goto keep_locked;
			count_vm_event(m, PGLAZYFREED);
		} else if (PageSwapCache(page)) {
			if (!remove_swap_mapping(m, page))
				goto keep_locked;
		} else {
			struct kmm_address_space *mapping = page_mapping_file(page);
			if (!mapping || PageAnon(page) || !__remove_mapping(mapping, page, true))
				goto keep_locked;
		}
		/* The refcount is frozen at 0: the page is ours alone (its shadow has PG_workingset). */
		unlock_page(page);
		ClearPageActive(page);
		ClearPageReferenced(page);
		ClearPageWorkingset(page);
		nr_reclaimed++;
		list_add(&page->lru, &free_pages);
		continue;

activate_locked:
		keep_page_active(m, page, stat);
keep_locked:
		unlock_page(page);
keep:
		list_add(&page->lru, &ret_pages);
	}
	nr_reclaimed += finish_plugged_swap_writes(m, &plug, &free_pages, &ret_pages, stat);
	free_unref_page_list(m, &free_pages);
	list_splice(&ret_pages, page_list);
	return nr_reclaimed;
}

/*
 * Reclaim @pages (isolated, each with a reference) now, whatever the
 * watermarks and the lists' balance: MADV_PAGEOUT (Linux reclaim_pages).
 * Each node's pages go through shrink_page_list as inactive ones, with
 * every kind of reclaim allowed; what stays goes back onto its list.
 * Unlike the scanners, Linux counts no pgscan/pgsteal here, so neither
 * does kmm; pswpout, pgactivate, pglazyfreed and the writes are counted.
 */
unsigned long reclaim_pages(struct kmm_machine *m, struct list_head *pages)
{
	unsigned long nr_reclaimed = 0;
	while (!list_empty(pages)) {
		int nid = page_to_nid(list_first_entry(pages, struct kmm_page, lru));
		struct list_head node_pages = LIST_HEAD_INIT(node_pages);
		struct kmm_page *page, *next;
		list_for_each_entry_safe (page, next, pages, lru) {
			if (page_to_nid(page) != nid)
				continue;
			ClearPageActive(page);
			list_move_tail(&page->lru, &node_pages);
		}
		struct scan_control sc = {
		    .nr_to_reclaim = SWAP_CLUSTER_MAX,
		    .gfp_mask = GFP_KERNEL,
		    .priority = DEF_PRIORITY,
		    .reclaim_idx = (enum zone_type)(MAX_NR_ZONES - 1),
		    .may_writepage = true,
		    .may_unmap = true,
		    .may_swap = true,
		};
		struct reclaim_stat stat;
		nr_reclaimed += shrink_page_list(m, &node_pages, NODE_DATA(m, nid), &sc, &stat);
		putback_lru_pages(m, &node_pages);
	}
	return nr_reclaimed;
}

/* --- The lists ------------------------------------------------------------------------------ */

static void count_scan(struct kmm_machine *m, struct scan_control *sc, bool file, unsigned long nr)
{
	count_vm_events(m, sc->is_kswapd ? PGSCAN_KSWAPD : PGSCAN_DIRECT, (long)nr);
	count_vm_events(m, file ? PGSCAN_FILE : PGSCAN_ANON, (long)nr);
}

static void count_steal(struct kmm_machine *m, struct scan_control *sc, bool file, unsigned long nr)
{
	count_vm_events(m, sc->is_kswapd ? PGSTEAL_KSWAPD : PGSTEAL_DIRECT, (long)nr);
	count_vm_events(m, file ? PGSTEAL_FILE : PGSTEAL_ANON, (long)nr);
}

/* Linux shrink_inactive_list(). Returns the pages reclaimed. */
static unsigned long shrink_inactive_list(struct kmm_machine *m, unsigned long nr_to_scan,
					  struct lruvec *lruvec, struct scan_control *sc,
					  enum lru_list lru)
{
	LIST_HEAD(page_list);
	unsigned long nr_scanned, nr_reclaimed, nr_taken;
	struct reclaim_stat stat;
	bool file = is_file_lru(lru);
	struct kmm_node *pgdat = lruvec->pgdat;
	enum node_stat_item isolated = file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON;

	lru_add_drain(m);
	spin_lock(&lruvec->lru_lock);
	nr_taken = isolate_lru_pages(m, nr_to_scan, lruvec, &page_list, &nr_scanned, sc, lru);
	__mod_node_page_state(pgdat, isolated, (long)nr_taken);
	spin_unlock(&lruvec->lru_lock);
	count_scan(m, sc, file, nr_scanned);
	if (nr_taken == 0) {
		/*
		 * Linux returns here without the event; kmm fires it, so that the
		 * trace's nr_scanned always adds up to pgscan.
		 */
		if (nr_scanned)
			trace_mm_vmscan_lru_shrink_inactive(m, pgdat->node_id, nr_scanned, 0, 0, 0,
							    0, 0, 0, 0, 0, 0, sc->priority,
							    trace_reclaim_flags(file));
		return 0;
	}

	nr_reclaimed = shrink_page_list(m, &page_list, pgdat, sc, &stat);
	mod_node_page_state(pgdat, isolated, -(long)nr_taken);
	putback_lru_pages(m, &page_list);
	lru_note_cost(m, lruvec, file, stat.nr_pageout);
	count_steal(m, sc, file, nr_reclaimed);

	sc->nr.dirty += stat.nr_dirty;
	sc->nr.writeback += stat.nr_writeback;
	sc->nr.taken += nr_taken;
	if (file)
		sc->nr.file_taken += nr_taken;
	sc->nr_scanned += nr_scanned;
	trace_mm_vmscan_lru_shrink_inactive(
	    m, pgdat->node_id, nr_scanned, nr_reclaimed, stat.nr_dirty, stat.nr_writeback,
	    stat.nr_congested, stat.nr_immediate, stat.nr_activate[0], stat.nr_activate[1],
	    stat.nr_ref_keep, stat.nr_unmap_fail, sc->priority, trace_reclaim_flags(file));
	return nr_reclaimed;
}

void shrink_active_list(struct kmm_machine *m, unsigned long nr_to_scan, struct lruvec *lruvec,
			struct scan_control *sc, enum lru_list lru)
{
	LIST_HEAD(l_hold);
	LIST_HEAD(l_active);
	LIST_HEAD(l_inactive);
	unsigned long nr_taken, nr_scanned, nr_rotated = 0;
	bool file = is_file_lru(lru);
	struct kmm_node *pgdat = lruvec->pgdat;
	enum node_stat_item isolated = file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON;

	lru_add_drain(m);
	spin_lock(&lruvec->lru_lock);
	nr_taken = isolate_lru_pages(m, nr_to_scan, lruvec, &l_hold, &nr_scanned, sc, lru);
	__mod_node_page_state(pgdat, isolated, (long)nr_taken);
	spin_unlock(&lruvec->lru_lock);
	count_vm_events(m, PGREFILL, (long)nr_scanned);

	while (!list_empty(&l_hold)) {
		struct kmm_page *page =
		    list_last_entry(&l_hold, struct kmm_page, lru); /* oldest first */
		list_del(&page->lru);
		if (!page_evictable(page)) {
			list_add(&page->lru, &l_active); /* putback moves it to unevictable */
			continue;
		}
		unsigned long vm_flags = 0;
		if (page_mapped(page) && trylock_page(page)) {
			int refs = page_referenced(m, page, 1, &vm_flags);
			unlock_page(page);
			if (refs) {
				nr_rotated++;
				/* Used executable file pages stay active (Linux: code is precious). */
				if ((vm_flags & VM_EXEC) && page_is_file_lru(page)) {
					list_add(&page->lru, &l_active);
					continue;
				}
			}
		}
		ClearPageActive(page);
		SetPageWorkingset(page);
		list_add(&page->lru, &l_inactive);
	}
	unsigned long nr_activate = 0, nr_deactivate = 0;
	struct kmm_page *p;
	list_for_each_entry (p, &l_active, lru)
		nr_activate++;
	list_for_each_entry (p, &l_inactive, lru)
		nr_deactivate++;
	putback_lru_pages(m, &l_active);
	putback_lru_pages(m, &l_inactive);
	mod_node_page_state(pgdat, isolated, -(long)nr_taken);
	count_vm_events(m, PGDEACTIVATE, (long)nr_deactivate);
	trace_mm_vmscan_lru_shrink_active(m, pgdat->node_id, nr_taken, nr_activate, nr_deactivate,
					  nr_rotated, sc->priority, trace_reclaim_flags(file));
}

static unsigned long shrink_list(struct kmm_machine *m, enum lru_list lru, unsigned long nr_to_scan,
				 struct lruvec *lruvec, struct scan_control *sc)
{
	if (is_active_lru(lru)) {
		if (sc->may_deactivate & (1u << is_file_lru(lru)))
			shrink_active_list(m, nr_to_scan, lruvec, sc, lru);
		else
			sc->skipped_deactivate = true;
		return 0;
	}
	return shrink_inactive_list(m, nr_to_scan, lruvec, sc, lru);
}

/* --- How much of each list ------------------------------------------------------------------ */

enum scan_balance {
	SCAN_EQUAL,
	SCAN_FRACT,
	SCAN_ANON,
	SCAN_FILE
};

/* Linux get_scan_count(): nr[lru] pages to scan of each evictable list. */
static void get_scan_count(struct kmm_machine *m, struct lruvec *lruvec, struct scan_control *sc,
			   unsigned long *nr)
{
	int swappiness = READ_ONCE(reclaim_state(m)->swappiness);
	uint64_t fraction[2] = {0, 0}, denominator = 0;
	enum scan_balance scan_balance;

	if (!sc->may_swap || !can_reclaim_anon_pages(m)) {
		scan_balance = SCAN_FILE;
		goto out;
	}
	/* Out of options at priority 0: both types, evenly. */
	if (!sc->priority && swappiness) {
		scan_balance = SCAN_EQUAL;
		goto out;
	}
	if (sc->file_is_tiny) {
		scan_balance = SCAN_ANON;
		goto out;
	}
	if (sc->cache_trim_mode) {
		scan_balance = SCAN_FILE;
		goto out;
	}
	scan_balance = SCAN_FRACT;
	/*
	 * Split by swappiness, weighted against each type's recent cost
	 * (refaults and writes): the dearer type gets scanned less.
	 */
	uint64_t total_cost = sc->anon_cost + sc->file_cost;
	uint64_t anon_cost = total_cost + sc->anon_cost;
	uint64_t file_cost = total_cost + sc->file_cost;
	total_cost = anon_cost + file_cost;
	uint64_t ap = (uint64_t)swappiness * (total_cost + 1) / (anon_cost + 1);
	uint64_t fp = (uint64_t)(200 - swappiness) * (total_cost + 1) / (file_cost + 1);
	fraction[0] = ap;
	fraction[1] = fp;
	denominator = ap + fp;
out:
	for (int l = 0; l < LRU_UNEVICTABLE; l++) {
		enum lru_list lru = (enum lru_list)l;
		bool file = is_file_lru(lru);
		unsigned long size = lruvec_lru_size(m, lruvec, lru, sc->reclaim_idx);
		unsigned long scan = size >> sc->priority;
		switch (scan_balance) {
		case SCAN_EQUAL:
			break;
		case SCAN_FRACT:
			/*
			 * Rounded down: a share under one page is no scan at this
			 * priority (Linux 6.1 rounds up only for an offlined memory
			 * cgroup, to empty it; kmm has none). Rounding up scanned at
			 * least one page of each type per pass at every priority, so
			 * kswapd's early, gentle passes took pages from the
			 * type that refaults cost most.
			 */
			scan =
			    denominator ? (unsigned long)(scan * fraction[file] / denominator) : 0;
			break;
		case SCAN_FILE:
		case SCAN_ANON:
			if ((scan_balance == SCAN_FILE) != file)
				scan = 0;
			break;
		}
		nr[lru] = scan;
	}
}

/* Linux shrink_lruvec(). */
static void shrink_lruvec(struct kmm_machine *m, struct lruvec *lruvec, struct scan_control *sc)
{
	unsigned long nr[NR_LRU_LISTS] = {0}, targets[NR_LRU_LISTS];
	unsigned long nr_reclaimed = 0, nr_to_reclaim = sc->nr_to_reclaim;
	get_scan_count(m, lruvec, sc, nr);
	memcpy(targets, nr, sizeof(nr));
	/*
	 * Global direct reclaim at the first priority scans its whole share:
	 * it is a small share, and stopping early would favour one type.
	 */
	bool scan_adjusted = !sc->is_kswapd && sc->priority == DEF_PRIORITY;

	while (nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE]) {
		for (int l = 0; l < LRU_UNEVICTABLE; l++) {
			if (!nr[l])
				continue;
			unsigned long nr_to_scan = kmm_min(nr[l], SWAP_CLUSTER_MAX);
			nr[l] -= nr_to_scan;
			nr_reclaimed += shrink_list(m, (enum lru_list)l, nr_to_scan, lruvec, sc);
		}
		if (nr_reclaimed < nr_to_reclaim || scan_adjusted)
			continue;
		/*
		 * Target met: stop the type with less left to scan, and cut the
		 * other to the proportion of its target the first one reached
		 * (Linux's proportional scan adjustment).
		 */
		unsigned long nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE];
		unsigned long nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON];
		if (!nr_file || !nr_anon)
			break;
		enum lru_list lru;
		unsigned long percentage;
		if (nr_file > nr_anon) {
			unsigned long scan_target =
			    targets[LRU_INACTIVE_ANON] + targets[LRU_ACTIVE_ANON] + 1;
			lru = LRU_INACTIVE_ANON;
			percentage = nr_anon * 100 / scan_target;
		} else {
			unsigned long scan_target =
			    targets[LRU_INACTIVE_FILE] + targets[LRU_ACTIVE_FILE] + 1;
			lru = LRU_INACTIVE_FILE;
			percentage = nr_file * 100 / scan_target;
		}
		nr[lru] = 0;
		nr[lru + 1] = 0;
		lru = (lru == LRU_INACTIVE_FILE) ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE;
		for (int k = 0; k < 2; k++) {
			enum lru_list l = (enum lru_list)(lru + k);
			unsigned long scanned = targets[l] - nr[l];
			unsigned long want = targets[l] * (100 - percentage) / 100;
			nr[l] = want > scanned ? want - scanned : 0;
			if (nr[l] > targets[l])
				nr[l] = targets[l];
		}
		scan_adjusted = true;
	}
	sc->nr_reclaimed += nr_reclaimed;

	/* Keep the anonymous inactive list worth scanning, even when only file was scanned. */
	if (can_reclaim_anon_pages(m) && inactive_is_low(m, lruvec, LRU_INACTIVE_ANON))
		shrink_active_list(m, SWAP_CLUSTER_MAX, lruvec, sc, LRU_ACTIVE_ANON);
}

/*
 * What the scan of this node should favour (Linux prepare_scan_count()):
 * deactivate a type's active pages only when its inactive list is low or
 * it refaults; trim only the page cache when it has plenty inactive and
 * does not refault; scan only anon when the page cache is tiny.
 */
static void prepare_scan_count(struct kmm_machine *m, struct kmm_node *pgdat,
			       struct scan_control *sc)
{
	struct lruvec *lruvec = node_lruvec(pgdat);
	spin_lock(&lruvec->lru_lock);
	sc->anon_cost = lruvec->anon_cost;
	sc->file_cost = lruvec->file_cost;
	spin_unlock(&lruvec->lru_lock);

	unsigned long refaults = node_page_state(pgdat, WORKINGSET_ACTIVATE_ANON);
	sc->may_deactivate = 0;
	if (sc->force_deactivate || refaults != READ_ONCE(lruvec->refaults[0]) ||
	    inactive_is_low(m, lruvec, LRU_INACTIVE_ANON))
		sc->may_deactivate |= 1u << 0;
	refaults = node_page_state(pgdat, WORKINGSET_ACTIVATE_FILE);
	if (sc->force_deactivate || refaults != READ_ONCE(lruvec->refaults[1]) ||
	    inactive_is_low(m, lruvec, LRU_INACTIVE_FILE))
		sc->may_deactivate |= 1u << 1;

	unsigned long file = lruvec_lru_size(m, lruvec, LRU_INACTIVE_FILE, MAX_NR_ZONES - 1);
	sc->cache_trim_mode = (file >> sc->priority) && !(sc->may_deactivate & (1u << 1));

	/* Is the page cache too small to be worth trimming alone? */
	unsigned long free = 0, total_high_wmark = 0;
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		if (!managed_zone(zone))
			continue;
		total_high_wmark += high_wmark_pages(zone);
		free += zone_page_state_snapshot(zone, NR_FREE_PAGES);
	}
	unsigned long file_all =
	    file + lruvec_lru_size(m, lruvec, LRU_ACTIVE_FILE, MAX_NR_ZONES - 1);
	unsigned long anon = lruvec_lru_size(m, lruvec, LRU_INACTIVE_ANON, MAX_NR_ZONES - 1);
	sc->file_is_tiny = file_all + free <= total_high_wmark &&
			   !(sc->may_deactivate & (1u << 0)) && (anon >> sc->priority);
}

void snapshot_refaults(struct kmm_node *pgdat)
{
	struct lruvec *lruvec = node_lruvec(pgdat);
	WRITE_ONCE(lruvec->refaults[0], node_page_state(pgdat, WORKINGSET_ACTIVATE_ANON));
	WRITE_ONCE(lruvec->refaults[1], node_page_state(pgdat, WORKINGSET_ACTIVATE_FILE));
}

void shrink_node(struct kmm_machine *m, struct kmm_node *pgdat, struct scan_control *sc)
{
	struct lruvec *lruvec = node_lruvec(pgdat);
	unsigned long nr_reclaimed = sc->nr_reclaimed;
	memset(&sc->nr, 0, sizeof(sc->nr));
	prepare_scan_count(m, pgdat, sc);
	shrink_lruvec(m, lruvec, sc);
	kmm_shrink_slab(m, sc->gfp_mask, pgdat->node_id, sc->priority);
	if (sc->nr_reclaimed - nr_reclaimed && READ_ONCE(pgdat->kswapd_failures))
		WRITE_ONCE(pgdat->kswapd_failures, 0);
}

/* --- Direct reclaim ------------------------------------------------------------------------ */

/* Reclaim from every node of @zl's zones up to reclaim_idx (Linux shrink_zones). */
static void shrink_zones(struct kmm_machine *m, struct zonelist *zl, struct scan_control *sc)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	bool done[KMM_MAX_NUMNODES] = {false};
	for_each_zone_zonelist (zone, z, zl, (int)sc->reclaim_idx) {
		if (!managed_zone(zone) || done[zone->node])
			continue;
		done[zone->node] = true;
		shrink_node(m, NODE_DATA(m, zone->node), sc);
	}
}

/* Linux do_try_to_free_pages(). */
static unsigned long do_try_to_free_pages(struct kmm_machine *m, struct zonelist *zl,
					  struct scan_control *sc)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	if (!sc->proactive)
		count_vm_event(m, (enum vm_event_item)(ALLOCSTALL_DMA + sc->reclaim_idx));
retry:
	do {
		sc->nr_scanned = 0;
		shrink_zones(m, zl, sc);
		if (sc->nr_reclaimed >= sc->nr_to_reclaim)
			break;
	} while (--sc->priority >= 0);

	for_each_zone_zonelist (zone, z, zl, (int)sc->reclaim_idx)
		snapshot_refaults(NODE_DATA(m, zone->node));
	if (sc->nr_reclaimed)
		return sc->nr_reclaimed;
	/* Nothing reclaimed because active lists were off limits: try again with them. */
	if (sc->skipped_deactivate && !sc->force_deactivate) {
		sc->priority = DEF_PRIORITY;
		sc->force_deactivate = true;
		sc->skipped_deactivate = false;
		goto retry;
	}
	return 0;
}

unsigned long try_to_free_pages(struct kmm_machine *m, struct zonelist *zl, unsigned int order,
				gfp_t gfp)
{
	struct scan_control sc = {
	    .nr_to_reclaim = SWAP_CLUSTER_MAX,
	    .gfp_mask = gfp,
	    .reclaim_idx = gfp_zone(m, gfp),
	    .order = (int)order,
	    .priority = DEF_PRIORITY,
	    .may_writepage = true,
	    .may_unmap = true,
	    .may_swap = true,
	};
	trace_mm_vmscan_direct_reclaim_begin(m, order, gfp);
	unsigned long nr = do_try_to_free_pages(m, zl, &sc);
	trace_mm_vmscan_direct_reclaim_end(m, nr);
	return nr;
}

static unsigned long reclaim_pass(struct kmm_machine *m, unsigned long nr_pages);

/*
 * Like Linux's memory.reclaim: passes from priority 12 down to 0 over every
 * node until the target is met, giving up after 16 passes that reclaimed
 * nothing (a first pass may only age pages that were used: they are
 * activated, then deactivated, before they can go).
 */
unsigned long kmm_reclaim_pages(struct kmm_machine *m, unsigned long nr_pages)
{
	unsigned long total = 0;
	for (int idle = 0; total < nr_pages && idle < MAX_RECLAIM_RETRIES;) {
		unsigned long got = reclaim_pass(m, nr_pages - total);
		total += got;
		if (!got)
			idle++;
	}
	return total;
}

static unsigned long reclaim_pass(struct kmm_machine *m, unsigned long nr_pages)
{
	unsigned long total = 0;
	int nid;
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = NODE_DATA(m, nid);
		if (!pgdat || total >= nr_pages)
			continue;
		struct scan_control sc = {
		    .nr_to_reclaim = nr_pages - total,
		    .gfp_mask = GFP_KERNEL,
		    .reclaim_idx = (enum zone_type)(MAX_NR_ZONES - 1),
		    .priority = DEF_PRIORITY,
		    .may_writepage = true,
		    .may_unmap = true,
		    .may_swap = true,
		    .proactive = true,
		};
		do {
			shrink_node(m, pgdat, &sc);
		} while (sc.nr_reclaimed < sc.nr_to_reclaim && --sc.priority >= 0);
		total += sc.nr_reclaimed;
	}
	return total;
}

/* --- drop_caches ---------------------------------------------------------------------------- */

/*
 * echo 1 > drop_caches: every clean, unmapped page-cache page goes (Linux
 * invalidate_mapping_pages over every inode). Dirty and mapped pages stay.
 */
static unsigned long drop_pagecache(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	unsigned long freed = 0;
	lru_add_drain_all(m);
	spin_lock(&vm->inode_lock);
	struct kmm_inode *inode;
	list_for_each_entry (inode, &vm->inodes, i_list) {
		struct kmm_address_space *mapping = &inode->i_data;
		unsigned long index = 0;
		for (;;) {
			spin_lock(&mapping->i_pages_lock);
			struct kmm_page *page = radix_tree_next(&mapping->i_pages, &index, -1);
			while (xa_is_value(page)) { /* shadow entries stay */
				if (++index == 0) {
					page = NULL;
					break;
				}
				page = radix_tree_next(&mapping->i_pages, &index, -1);
			}
			if (page)
				kmm_get_page(page);
			spin_unlock(&mapping->i_pages_lock);
			if (!page)
				break;
			index++;
			if (page_mapped(page) || PageDirty(page) || !trylock_page(page)) {
				vm_put_page(m, page);
				continue;
			}
			/* Off the LRU first, so that the cache's and our references are all. */
			struct lruvec *lruvec = page_lruvec(m, page);
			bool isolated = false;
			spin_lock(&lruvec->lru_lock);
			if (TestClearPageLRU(page)) {
				lruvec_del_page(m, lruvec, page);
				isolated = true;
			}
			spin_unlock(&lruvec->lru_lock);
			if (isolated && remove_mapping(mapping, page)) {
				unlock_page(page);
				ClearPageActive(page);
				ClearPageReferenced(page);
				LIST_HEAD(one);
				list_add(&page->lru, &one);
				free_unref_page_list(m, &one);
				freed++;
				if (index == 0)
					break;
				continue;
			}
			unlock_page(page);
			if (isolated) {
				LIST_HEAD(one);
				list_add(&page->lru, &one);
				putback_lru_pages(m, &one); /* drops our reference too */
			} else {
				vm_put_page(m, page);
			}
			if (index == 0)
				break;
		}
	}
	spin_unlock(&vm->inode_lock);
	count_vm_event(m, DROP_PAGECACHE);
	return freed;
}

long kmm_drop_caches(struct kmm_machine *m, int what)
{
	if (what < 1 || what > 3)
		return -EINVAL;
	long freed = 0;
	if (what & 1)
		freed += (long)drop_pagecache(m);
	if (what & 2) {
		freed += (long)kmm_drop_slab(m);
		count_vm_event(m, DROP_SLAB);
	}
	return freed;
}
