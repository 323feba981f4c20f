/*
 * The LRU lists: per-node vectors of five lists, the per-CPU batches that
 * feed them, promotion on access, and taking pages off them when freed.
 *
 * Linux: mm/swap.c (folio_add_lru, lru_add_drain, lru_add_drain_all,
 * folio_mark_accessed, folio_activate, __page_cache_release, release_pages,
 * lru_note_cost), include/linux/mm_inline.h (lruvec_add_folio,
 * lruvec_del_folio, update_lru_size, folio_lru_list).
 *
 * Theory of operation.
 *  1. Each node has one lruvec: inactive and active lists of anonymous and
 *     of file pages, and the unevictable list. A page on a list has PG_lru;
 *     PG_active says which of the pair; PG_swapbacked says anon or file.
 *     Lists are ordered by time of insertion: new pages go to the head,
 *     reclaim takes from the tail.
 *  2. New pages do not take the node's lru_lock one by one: lru_cache_add
 *     puts them in the CPU's batch of 15 (holding a reference, as Linux's
 *     pagevec does), and the batch goes onto the lists under one lock hold
 *     when it fills, or when someone needs every page on a list (reclaim,
 *     the validators, a COW fault deciding whether it holds the only
 *     reference).
 *  3. Second chance: mark_page_accessed sets PG_referenced on the first
 *     access and moves a referenced inactive page to the active list on the
 *     second. Reclaim adds the accessed bits of PTEs (page_referenced).
 *  4. The list does not hold a reference. A page whose last reference goes
 *     while it is on a list is taken off under lru_lock by the page
 *     allocator's hook before it is freed; reclaim's isolation takes a
 *     reference only with get_page_unless_zero, so it never takes a page
 *     that is being freed.
 *
 * Locks: lruvec->lru_lock around a node's lists and PG_lru changes of pages
 * on them; a batch's lock inside it is never taken (a batch is drained by
 * copying it out first).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

void update_lru_size(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list lru,
		     enum zone_type zid, long nr)
{
	(void)m;
	struct kmm_node *pgdat = lruvec->pgdat;
	__mod_node_page_state(pgdat, (enum node_stat_item)(NR_INACTIVE_ANON + lru), nr);
	__mod_zone_page_state(&pgdat->node_zones[zid],
			      (enum zone_stat_item)(NR_ZONE_INACTIVE_ANON + lru), nr);
}

void lruvec_add_page(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page)
{
	enum lru_list lru = page_lru(page);
	update_lru_size(m, lruvec, lru, page_zonenum(page), 1);
	list_add(&page->lru, &lruvec->lists[lru]);
}

void lruvec_add_page_tail(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page)
{
	enum lru_list lru = page_lru(page);
	update_lru_size(m, lruvec, lru, page_zonenum(page), 1);
	list_add_tail(&page->lru, &lruvec->lists[lru]);
}

void lruvec_del_page(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page)
{
	enum lru_list lru = page_lru(page);
	list_del(&page->lru);
	update_lru_size(m, lruvec, lru, page_zonenum(page), -1);
}

unsigned long lruvec_lru_size(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list lru,
			      int zid)
{
	(void)m;
	unsigned long size = 0;
	struct kmm_node *pgdat = lruvec->pgdat;
	for (int z = 0; z <= zid && z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		if (!managed_zone(zone))
			continue;
		long v = (long)zone_page_state_snapshot(
		    zone, (enum zone_stat_item)(NR_ZONE_INACTIVE_ANON + lru));
		if (v > 0)
			size += (unsigned long)v;
	}
	return size;
}

/* --- Freeing ------------------------------------------------------------------------------ */

void free_unref_page_list(struct kmm_machine *m, struct list_head *list)
{
	struct kmm_page *batch[SWAP_CLUSTER_MAX];
	unsigned int n = 0;
	while (!list_empty(list)) {
		struct kmm_page *page = list_first_entry(list, struct kmm_page, lru);
		list_del(&page->lru);
		/* kmm_free_pages_bulk drops one reference: give back the one taken away. */
		set_page_count(page, 1);
		batch[n++] = page;
		if (n == SWAP_CLUSTER_MAX) {
			kmm_free_pages_bulk(m, batch, n);
			n = 0;
		}
	}
	if (n)
		kmm_free_pages_bulk(m, batch, n);
}

/*
 * The page allocator's hook: @page's last reference is gone and it still
 * has PG_lru or PG_mlocked (Linux __page_cache_release, __folio_clear_lru_flags). Nobody else can take it off now:
 * isolation needs a reference.
 */
static void lru_page_release(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page)) {
		lruvec_del_page(m, lruvec, page);
		__ClearPageLRU(page);
	}
	spin_unlock(&lruvec->lru_lock);
	__ClearPageActive(page);
	__ClearPageUnevictable(page);
	mlock_page_freed(m, page);
}

/* --- Adding -------------------------------------------------------------------------------- */

static struct lru_batch *this_batch(struct kmm_machine *m)
{
	struct kmm_cpu *cpu = this_cpu(m);
	struct reclaim_state *rs = reclaim_state(m);
	return cpu ? &rs->batch[cpu->id] : &rs->nocpu_batch;
}

/*
 * Put @page on its list in @lruvec (locked): the unevictable list when it
 * cannot be reclaimed (@culled: count it, as an addition does). The
 * reference the caller held goes; if it was the last, the page comes off
 * again onto @to_free.
 */
static void lru_put_page(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page,
			 struct list_head *to_free, bool culled)
{
	/*
	 * Atomic flag updates: the page is visible in its page or swap cache,
	 * and lock_page() there may set PG_locked in the same word meanwhile.
	 */
	if (page_evictable(page)) {
		ClearPageUnevictable(page);
	} else {
		ClearPageActive(page);
		SetPageUnevictable(page);
		if (culled)
			count_vm_event(m, UNEVICTABLE_PGCULLED);
	}
	lruvec_add_page(m, lruvec, page);
	SetPageLRU(page);
	if (put_page_testzero(page)) {
		lruvec_del_page(m, lruvec, page);
		__ClearPageLRU(page);
		__ClearPageActive(page);
		__ClearPageUnevictable(page);
		list_add(&page->lru, to_free);
	}
}

/* Move @n pages (each with the batch's reference) onto their lists (Linux lru_add_fn). */
static void lru_add_pages(struct kmm_machine *m, struct kmm_page **pages, unsigned int n)
{
	struct lruvec *locked = NULL;
	LIST_HEAD(to_free);
	for (unsigned int i = 0; i < n; i++) {
		struct kmm_page *page = pages[i];
		struct lruvec *lruvec = page_lruvec(m, page);
		if (lruvec != locked) {
			if (locked)
				spin_unlock(&locked->lru_lock);
			spin_lock(&lruvec->lru_lock);
			locked = lruvec;
		}
		lru_put_page(m, lruvec, page, &to_free, true);
	}
	if (locked)
		spin_unlock(&locked->lru_lock);
	free_unref_page_list(m, &to_free);
}

static void lru_batch_drain(struct kmm_machine *m, struct lru_batch *b)
{
	struct kmm_page *pages[LRU_BATCH_SIZE];
	spin_lock(&b->lock);
	unsigned int n = b->nr;
	memcpy(pages, b->pages, n * sizeof(pages[0]));
	WRITE_ONCE(b->nr, 0);
	spin_unlock(&b->lock);
	if (n)
		lru_add_pages(m, pages, n);
}

/*
 * A new page enters the LRU through this CPU's batch (Linux folio_add_lru).
 * Context: any; takes a reference until the batch is drained.
 */
static void kmm_lru_cache_add(struct kmm_machine *m, struct kmm_page *page)
{
	VM_BUG_ON_PAGE(PageLRU(page), page);
	struct lru_batch *b = this_batch(m);
	kmm_get_page(page);
	spin_lock(&b->lock);
	b->pages[b->nr] = page;
	WRITE_ONCE(b->nr, b->nr + 1);
	bool full = b->nr == LRU_BATCH_SIZE;
	spin_unlock(&b->lock);
	if (full)
		lru_batch_drain(m, b);
}

void lru_add_drain(struct kmm_machine *m)
{
	lru_batch_drain(m, this_batch(m));
}

void lru_add_drain_all(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	for (int c = 0; c < m->nr_cpus; c++)
		if (READ_ONCE(rs->batch[c].nr))
			lru_batch_drain(m, &rs->batch[c]);
	lru_batch_drain(m, &rs->nocpu_batch);
}

/* Is @page in any CPU's add batch? (For the validator: such pages are off every list.) */
static bool page_in_batch(struct kmm_machine *m, const struct kmm_page *page)
{
	struct reclaim_state *rs = reclaim_state(m);
	for (int c = 0; c <= m->nr_cpus; c++) {
		struct lru_batch *b = c < m->nr_cpus ? &rs->batch[c] : &rs->nocpu_batch;
		for (unsigned int i = 0; i < READ_ONCE(b->nr); i++)
			if (b->pages[i] == page)
				return true;
	}
	return false;
}

/* --- Promotion ------------------------------------------------------------------------------- */

/* Move an inactive page on a list to the active one (Linux folio_activate_fn). */
static void activate_page(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && !PageActive(page) && !PageUnevictable(page)) {
		lruvec_del_page(m, lruvec, page);
		SetPageActive(page);
		lruvec_add_page(m, lruvec, page);
		count_vm_event(m, PGACTIVATE);
	}
	spin_unlock(&lruvec->lru_lock);
}

/*
 * A page off the lists that waits in this CPU's add batch goes on the
 * active list when the batch drains (Linux __lru_cache_activate_folio).
 * Only there: a page off the lists elsewhere is isolated, and another CPU
 * may be putting it back under the LRU lock, choosing its list and counter
 * by PG_active, which must not change under it.
 */
static void lru_batch_activate(struct kmm_machine *m, struct kmm_page *page)
{
	struct lru_batch *b = this_batch(m);
	spin_lock(&b->lock);
	for (unsigned int i = b->nr; i-- > 0;)
		if (b->pages[i] == page) {
			SetPageActive(page);
			break;
		}
	spin_unlock(&b->lock);
}

/*
 * An access the LRU should know of (Linux folio_mark_accessed):
 * inactive,unreferenced -> inactive,referenced -> active,unreferenced.
 * A page still in this CPU's add batch becomes active when the batch drains.
 */
static void kmm_mark_page_accessed(struct kmm_machine *m, struct kmm_page *page)
{
	if (!PageReferenced(page)) {
		SetPageReferenced(page);
	} else if (PageUnevictable(page)) {
		/* Unevictable pages are not aged. */
	} else if (!PageActive(page)) {
		if (PageLRU(page))
			activate_page(m, page);
		else
			lru_batch_activate(m, page);
		ClearPageReferenced(page);
		workingset_activation(m, page);
	}
}

/* --- Putting isolated pages back ------------------------------------------------------------- */

void putback_lru_pages(struct kmm_machine *m, struct list_head *pages)
{
	struct lruvec *locked = NULL;
	LIST_HEAD(to_free);
	while (!list_empty(pages)) {
		/* From the tail: reclaim's lists keep the oldest there, and keep the LRU order. */
		struct kmm_page *page = list_last_entry(pages, struct kmm_page, lru);
		list_del(&page->lru);
		struct lruvec *lruvec = page_lruvec(m, page);
		if (lruvec != locked) {
			if (locked)
				spin_unlock(&locked->lru_lock);
			spin_lock(&lruvec->lru_lock);
			locked = lruvec;
		}
		/* An active page put back pushes the inactive ones down (Linux move_folios_to_lru). */
		if (PageActive(page) && page_evictable(page))
			workingset_age_nonresident(lruvec, 1);
		/* Culled as Linux's folio_putback_lru counts it: reclaim found it locked. */
		lru_put_page(m, lruvec, page, &to_free, true);
	}
	if (locked)
		spin_unlock(&locked->lru_lock);
	free_unref_page_list(m, &to_free);
}

/* --- madvise ------------------------------------------------------------------------------------ */

/*
 * MADV_FREE: a private anonymous page becomes lazily freeable: off the
 * anonymous lists onto the inactive file list, no longer swap-backed, so
 * reclaim drops it instead of writing it to swap, unless it is written
 * again first (Linux lru_lazyfree_fn; kmm moves the page at once rather
 * than through a per-CPU batch). A page on no list is left as it is.
 */
static void mark_page_lazyfree(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && PageAnon(page) && PageSwapBacked(page) && !PageSwapCache(page) &&
	    !PageUnevictable(page)) {
		lruvec_del_page(m, lruvec, page);
		ClearPageActive(page);
		ClearPageReferenced(page);
		ClearPageSwapBacked(page);
		lruvec_add_page(m, lruvec, page);
		count_vm_event(m, PGLAZYFREE);
	}
	spin_unlock(&lruvec->lru_lock);
}

/*
 * MADV_COLD: an active page moves to the head of its inactive list; an
 * inactive one stays where it is (Linux lru_deactivate_fn, at once).
 */
static void deactivate_page(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && PageActive(page) && !PageUnevictable(page)) {
		lruvec_del_page(m, lruvec, page);
		ClearPageActive(page);
		ClearPageReferenced(page);
		lruvec_add_page(m, lruvec, page);
		count_vm_event(m, PGDEACTIVATE);
	}
	spin_unlock(&lruvec->lru_lock);
}

/*
 * MADV_PAGEOUT: take @page off its list with a reference, for
 * reclaim_pages (Linux folio_isolate_lru). Unevictable pages stay.
 */
static bool isolate_lru_page(struct kmm_machine *m, struct kmm_page *page)
{
	struct lruvec *lruvec = page_lruvec(m, page);
	bool taken = false;
	spin_lock(&lruvec->lru_lock);
	if (PageLRU(page) && !PageUnevictable(page) && get_page_unless_zero(page)) {
		lruvec_del_page(m, lruvec, page);
		ClearPageLRU(page);
		taken = true;
	}
	spin_unlock(&lruvec->lru_lock);
	return taken;
}

/* --- Registration ------------------------------------------------------------------------------ */

static void lru_hook_drain(struct kmm_machine *m)
{
	lru_add_drain(m);
}

void lru_register_hooks(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	vm->lru.lru_cache_add = kmm_lru_cache_add;
	vm->lru.mark_page_accessed = kmm_mark_page_accessed;
	vm->lru.lru_add_drain = lru_hook_drain;
	vm->lru.lru_add_drain_all = lru_add_drain_all;
	vm->lru.mlock_page = mlock_page;
	vm->lru.munlock_page = munlock_page;
	vm->lru.munlock_vma_page = munlock_vma_page;
	vm->lru.workingset_eviction = workingset_eviction;
	vm->lru.workingset_refault = workingset_refault;
	vm->lru.mark_page_lazyfree = mark_page_lazyfree;
	vm->lru.deactivate_page = deactivate_page;
	vm->lru.isolate_lru_page = isolate_lru_page;
	vm->lru.reclaim_pages = reclaim_pages;
	m->hooks.lru_page_release = lru_page_release;
}

void lru_unregister_hooks(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	memset(&vm->lru, 0, sizeof(vm->lru));
	m->hooks.lru_page_release = NULL;
}

/* --- The invariant checker --------------------------------------------------------------------- */

static const char *const lru_names[NR_LRU_LISTS] = {"inactive_anon", "active_anon", "inactive_file",
						    "active_file", "unevictable"};

int kmm_lru_validate(struct kmm_machine *m, struct kmm_error *err)
{
	int nid;
	unsigned long on_lists[KMM_MAX_NUMNODES] = {0};
	if (!reclaim_state(m))
		return 0;
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = NODE_DATA(m, nid);
		if (!pgdat)
			continue;
		struct lruvec *lruvec = node_lruvec(pgdat);
		unsigned long zone_count[MAX_NR_ZONES][NR_LRU_LISTS];
		memset(zone_count, 0, sizeof(zone_count));
		spin_lock(&lruvec->lru_lock);
		int ret = 0;
		for (int lru = 0; lru < NR_LRU_LISTS && !ret; lru++) {
			unsigned long n = 0, limit = pgdat->node_spanned_pages + 1;
			struct kmm_page *page;
			list_for_each_entry (page, &lruvec->lists[lru], lru) {
				unsigned long pfn = page_to_pfn(m, page);
				if (++n > limit) {
					ret = kmm_error_set(err, -EINVAL,
							    "node %d %s: list longer than the node "
							    "(a loop, or a page on two lists)",
							    nid, lru_names[lru]);
					break;
				}
				if (page_pgdat(m, page) != pgdat)
					ret = kmm_error_set(
					    err, -EINVAL, "node %d %s: pfn %#lx belongs to node %d",
					    nid, lru_names[lru], pfn, page_to_nid(page));
				else if (!PageLRU(page))
					ret = kmm_error_set(err, -EINVAL,
							    "node %d %s: pfn %#lx without PG_lru",
							    nid, lru_names[lru], pfn);
				else if ((int)page_lru(page) != lru)
					ret = kmm_error_set(
					    err, -EINVAL,
					    "node %d %s: pfn %#lx has the flags of %s (flags %#lx)",
					    nid, lru_names[lru], pfn, lru_names[page_lru(page)],
					    page->flags);
				else if (PageBuddy(page) || page_ref_count(page) < 0)
					ret = kmm_error_set(
					    err, -EINVAL,
					    "node %d %s: pfn %#lx is free (refcount %d)", nid,
					    lru_names[lru], pfn, page_ref_count(page));
				else if (page_ref_count(page) == 0)
					ret = kmm_error_set(
					    err, -EINVAL,
					    "node %d %s: pfn %#lx has refcount 0 on a list", nid,
					    lru_names[lru], pfn);
				else if (PageSlab(page) || PageTable(page))
					ret = kmm_error_set(err, -EINVAL,
							    "node %d %s: pfn %#lx is a %s page",
							    nid, lru_names[lru], pfn,
							    PageSlab(page) ? "slab" : "page-table");
				if (ret)
					break;
				zone_count[page_zonenum(page)][lru]++;
			}
			if (ret)
				break;
			long node_stat = (long)node_page_state(
			    pgdat, (enum node_stat_item)(NR_INACTIVE_ANON + lru));
			if (node_stat != (long)n)
				ret = kmm_error_set(
				    err, -EINVAL,
				    "node %d %s: %lu pages on the list but the counter "
				    "nr_%s says %ld",
				    nid, lru_names[lru], n, lru_names[lru], node_stat);
			for (int z = 0; z < MAX_NR_ZONES && !ret; z++) {
				struct kmm_zone *zone = &pgdat->node_zones[z];
				long zs = (long)zone_page_state_snapshot(
				    zone, (enum zone_stat_item)(NR_ZONE_INACTIVE_ANON + lru));
				if (zs != (long)zone_count[z][lru])
					ret = kmm_error_set(
					    err, -EINVAL,
					    "node %d zone %s %s: %lu pages on the list "
					    "but nr_zone_%s says %ld",
					    nid, zone->name ? zone->name : "?", lru_names[lru],
					    zone_count[z][lru], lru_names[lru], zs);
			}
		}
		spin_unlock(&lruvec->lru_lock);
		if (ret)
			return ret;
		for (int z = 0; z < MAX_NR_ZONES; z++)
			for (int lru = 0; lru < NR_LRU_LISTS; lru++)
				on_lists[nid] += zone_count[z][lru];
	}
	/* No page outside the lists claims PG_lru, and no free page is on one. */
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = NODE_DATA(m, nid);
		if (!pgdat)
			continue;
		unsigned long end = pgdat_end_pfn(pgdat), flagged = 0;
		for (unsigned long pfn = pgdat->node_start_pfn; pfn < end; pfn++) {
			if (!pfn_valid(m, pfn))
				continue;
			struct kmm_page *page = pfn_to_page(m, pfn);
			if (!PageLRU(page))
				continue;
			if (PageBuddy(page) || page_ref_count(page) == 0)
				return kmm_error_set(
				    err, -EINVAL, "pfn %#lx: PG_lru on a free page (refcount %d)",
				    pfn, page_ref_count(page));
			if (page_in_batch(m, page))
				return kmm_error_set(
				    err, -EINVAL, "pfn %#lx: in an add batch and on a list", pfn);
			flagged++;
		}
		/* Equal counts with every listed page flagged: no page is on two lists. */
		if (flagged != on_lists[nid])
			return kmm_error_set(
			    err, -EINVAL, "node %d: %lu pages have PG_lru but the lists hold %lu",
			    nid, flagged, on_lists[nid]);
	}
	return 0;
}
