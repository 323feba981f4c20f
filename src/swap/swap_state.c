/*
 * The swap cache: the pages that have a slot in a swap area, found by
 * their swap entry. Every mapping of a swapped page finds the one copy
 * here while it is in memory; reclaim writes it from here; swap-in reads
 * into it.
 *
 * Linux: mm/swap_state.c (add_to_swap_cache, __delete_from_swap_cache,
 * delete_from_swap_cache, swap_cache_get_folio / lookup_swap_cache,
 * __read_swap_cache_async, read_swap_cache_async, swap_cluster_readahead,
 * init/exit_swap_address_space, swapin_nr_pages,
 * clear_shadow_from_swap_cache) and mm/swapfile.c folio_free_swap.
 *
 * Theory of operation.
 * 1. Each area has one "address space" per 64 MiB of slots (2^14), each a
 *    radix tree indexed by slot offset with its own lock, as Linux's
 *    swapper_spaces[]. A page in the cache has PG_swapcache, page->private
 *    = its entry, and one reference held by the cache; it is counted in
 *    NR_SWAPCACHE and (as Linux 6.1 does) NR_FILE_PAGES, which is why
 *    meminfo's Cached subtracts SwapCached.
 * 2. A slot's SWAP_HAS_CACHE bit is the right to be in the cache: taken by
 *    get_swap_page (swap-out) or swapcache_prepare (swap-in) before the page
 *    is added, dropped by put_swap_page after it is removed. Two CPUs
 *    faulting on one entry race on swapcache_prepare; the loser waits for
 *    the winner's page to appear.
 * 3. Swap-in reads an aligned window of slots around the faulting one,
 *    each in-use slot into its own cache page (readahead); the neighbours
 *    are marked PG_readahead (PG_reclaim's bit, as in Linux) so a later hit
 *    counts as swap_ra_hit and widens the next window. The window adapts to
 *    those hits (swapin_nr_pages): one page on random access, up to
 *    2^page_cluster (8 by default) on sequential access.
 * 4. Reclaim leaves a shadow entry (a radix tree value entry, see
 *    reclaim/workingset.c) in the slot of the page it evicts; swap-in
 *    replaces it and reports the refault; freeing the slot deletes it.
 *
 * 5. The reads are submitted (swap_read_submit): with the swap I/O thread
 *    running they complete behind the fault, which waits for its own page
 *    only (its PG_locked); the neighbours unlock when their reads are done.
 *    With KMM_SWAP_IO_READAHEAD_NEXT a stream that has grown the window to
 *    its largest also reads the SWAP_RA_AHEAD windows after it, and the
 *    first use of a readahead page of the next one (its ra_trigger slot:
 *    SWAP_RA_STREAMS streams at once) reads one more: the reads stay up
 *    to SWAP_RA_AHEAD windows ahead of the faults (kmm's extension: Linux
 *    reads swap one window at a time; its file readahead keeps such an
 *    asynchronous window, PG_readahead on its first page).
 *
 * Where kmm differs: a page whose read failed is taken out of the cache
 * again (Linux leaves it there, not uptodate), so that a later fault
 * retries the read: an injected, transient error then costs one SIGBUS,
 * not every later access. The fault that reads it drops it; a fault that
 * finds a neighbour whose readahead failed drops it and reads the slot
 * itself (swap_cache_discard).
 *
 * Locks: swap_address_space::lock is a leaf; PG_locked is taken outside
 * every swap lock.
 */
#include "internal.h"
#include "../vm/vm.h"
#include <errno.h>
#include <string.h>

static struct radix_tree_node *swap_radix_node_alloc(void *ctx)
{
	struct swap_state *ss = ctx;
	return kmm_kmem_cache_alloc(ss->radix_node_cachep, GFP_ATOMIC | __GFP_ZERO);
}

static void swap_radix_node_free(void *ctx, struct radix_tree_node *node)
{
	struct swap_state *ss = ctx;
	kmm_kmem_cache_free(ss->radix_node_cachep, node);
}

int init_swap_address_space(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	unsigned int nr =
	    (unsigned int)KMM_DIV_ROUND_UP((unsigned long)si->max, SWAP_ADDRESS_SPACE_PAGES);
	si->spaces = kmm_port_alloc(nr * sizeof(*si->spaces));
	if (!si->spaces)
		return -ENOMEM;
	for (unsigned int i = 0; i < nr; i++) {
		spin_lock_init(&si->spaces[i].lock);
		radix_tree_init(&si->spaces[i].i_pages, swap_radix_node_alloc, swap_radix_node_free,
				ss);
		/* Linux 6.1 tracks swap cache shadow nodes too (workingset_update_node). */
		radix_tree_set_update(&si->spaces[i].i_pages, workingset_update_node, m,
				      &si->spaces[i].lock);
	}
	si->nr_spaces = nr;
	return 0;
}

void exit_swap_address_space(struct kmm_machine *m, struct swap_info *si)
{
	if (!si->spaces)
		return;
	for (unsigned int i = 0; i < si->nr_spaces; i++)
		KMM_BUG_ON(si->spaces[i].i_pages.rnode || si->spaces[i].nrpages);
	kmm_port_free(si->spaces, si->nr_spaces * sizeof(*si->spaces));
	si->spaces = NULL;
	si->nr_spaces = 0;
}

static void swap_cache_account(struct kmm_machine *m, struct kmm_page *page, long nr)
{
	struct kmm_node *pgdat = NODE_DATA(m, page_to_nid(page));
	mod_node_page_state(pgdat, NR_FILE_PAGES, nr);
	mod_node_page_state(pgdat, NR_SWAPCACHE, nr);
}

/*
 * Insert @page at @entry's slot; a shadow entry there (reclaim evicted the
 * slot's page) is replaced and handed back in *@shadowp (Linux
 * add_to_swap_cache's shadowp).
 */
static int __add_to_swap_cache(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry,
			       void **shadowp)
{
	KMM_BUG_ON(!PageLocked(page));
	KMM_BUG_ON(PageSwapCache(page));
	KMM_BUG_ON(!PageSwapBacked(page));
	struct swap_info *si = get_swap_device(m, entry);
	if (!si)
		return -EINVAL;
	unsigned long offset = swp_offset(entry);
	struct swap_address_space *space = swap_address_space(si, offset);

	page_ref_inc(page);
	SetPageSwapCache(page);
	page->private = entry.val;
	spin_lock(&space->lock);
	void *shadow = radix_tree_lookup(&space->i_pages, offset);
	int err;
	if (xa_is_value(shadow)) {
		radix_tree_replace(&space->i_pages, offset, page);
		*shadowp = shadow;
		err = 0;
	} else {
		err = radix_tree_insert(&space->i_pages, offset, page);
	}
	if (!err) {
		space->nrpages++;
		swap_cache_account(m, page, 1);
	}
	spin_unlock(&space->lock);
	if (err) {
		ClearPageSwapCache(page);
		page->private = 0;
		page_ref_add(page, -1);
	}
	put_swap_device(si);
	return err;
}

int add_to_swap_cache(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry, gfp_t gfp)
{
	void *shadow = NULL;
	(void)gfp;
	return __add_to_swap_cache(m, page, entry, &shadow);
}

void __delete_from_swap_cache(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry)
{
	struct swap_info *si = swap_type_to_swap_info(m, swp_type(entry));
	unsigned long offset = swp_offset(entry);
	KMM_BUG_ON(!si || !PageSwapCache(page) || page->private != entry.val);
	struct swap_address_space *space = swap_address_space(si, offset);
	spin_lock(&space->lock);
	void *old = radix_tree_delete(&space->i_pages, offset);
	KMM_BUG_ON(old != page);
	space->nrpages--;
	swap_cache_account(m, page, -1);
	spin_unlock(&space->lock);
	ClearPageSwapCache(page);
	page->private = 0;
}

void delete_from_swap_cache(struct kmm_machine *m, struct kmm_page *page)
{
	swp_entry_t entry = page_swap_entry(page);
	__delete_from_swap_cache(m, page, entry);
	put_swap_page(m, entry);
	/* The cache's reference; the caller holds its own, so this never frees. */
	KMM_BUG_ON(page_ref_count(page) < 2);
	page_ref_add(page, -1);
}

bool remove_swap_mapping(struct kmm_machine *m, struct kmm_page *page)
{
	KMM_BUG_ON(!PageLocked(page));
	if (!PageSwapCache(page) || PageDirty(page) || PageWriteback(page))
		return false;
	swp_entry_t entry = page_swap_entry(page);
	struct swap_info *si = swap_type_to_swap_info(m, swp_type(entry));
	unsigned long offset = swp_offset(entry);
	struct swap_address_space *space = swap_address_space(si, offset);
	spin_lock(&space->lock);
	if (atomic_read(&page->_mapcount) >= 0 || atomic_cmpxchg(&page->_refcount, 2, 0) != 2) {
		spin_unlock(&space->lock);
		return false;
	}
	/* Reclaim evicts the page: its shadow stays in the slot until swap-in or the slot's free. */
	void *shadow = vm_workingset_eviction(m, page);
	void *old = shadow ? radix_tree_replace(&space->i_pages, offset, shadow)
			   : radix_tree_delete(&space->i_pages, offset);
	KMM_BUG_ON(old != page);
	space->nrpages--;
	swap_cache_account(m, page, -1);
	spin_unlock(&space->lock);
	ClearPageSwapCache(page);
	page->private = 0;
	put_swap_page(m, entry);
	return true;
}

int add_to_swap(struct kmm_machine *m, struct kmm_page *page)
{
	KMM_BUG_ON(!PageLocked(page));
	swp_entry_t entry = get_swap_page(m);
	if (!entry.val)
		return -ENOSPC;
	int err = add_to_swap_cache(m, page, entry, GFP_ATOMIC | __GFP_NOWARN | __GFP_NOMEMALLOC);
	if (err) {
		put_swap_page(m, entry);
		return err;
	}
	/* Memory holds the only copy until the slot is written: the page must go out. */
	SetPageDirty(page);
	return 0;
}

static unsigned long swap_ra_largest_window(struct swap_state *ss);
static void swap_ra_ahead(struct kmm_machine *m, swp_entry_t entry, unsigned int from, int slot);

/* The page of @entry in the cache, with a reference; a readahead page's first use counts. */
static struct kmm_page *swap_cache_get(struct kmm_machine *m, swp_entry_t entry, bool *ra_hit)
{
	struct swap_info *si = get_swap_device(m, entry);
	struct kmm_page *page;
	if (!si)
		return NULL;
	struct swap_address_space *space = swap_address_space(si, swp_offset(entry));
	spin_lock(&space->lock);
	page = radix_tree_lookup(&space->i_pages, swp_offset(entry));
	if (xa_is_value(page))
		page = NULL; /* a shadow: the page is out */
	if (page && !get_page_unless_zero(page))
		page = NULL;
	spin_unlock(&space->lock);
	put_swap_device(si);
	*ra_hit = page && TestClearPageReclaim(page);
	if (*ra_hit) {
		/* PG_readahead: brought in by readahead, now used; it widens the next window. */
		count_vm_event(m, SWAP_RA_HIT);
		atomic_inc(&swap_state(m)->swapin_readahead_hits);
	}
	return page;
}

struct kmm_page *lookup_swap_cache(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_state *ss = swap_state(m);
	bool ra_hit;
	struct kmm_page *page = swap_cache_get(m, entry, &ra_hit);
	if (!ra_hit || !swap_io_readahead_next(m))
		return page;
	/* The first use of a page of a window a trigger names: read one more window ahead. */
	unsigned long window = swap_ra_largest_window(ss);
	unsigned long trigger = swp_entry(swp_type(entry), swp_offset(entry) & ~(window - 1)).val;
	for (int i = 0; i < SWAP_RA_STREAMS; i++) {
		unsigned long t = trigger;
		if (READ_ONCE(ss->ra_trigger[i]) == trigger &&
		    __atomic_compare_exchange_n(&ss->ra_trigger[i], &t, 0, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			swap_ra_ahead(m, entry, SWAP_RA_AHEAD, i);
			break;
		}
	}
	return page;
}

bool try_to_free_swap(struct kmm_machine *m, struct kmm_page *page)
{
	KMM_BUG_ON(!PageLocked(page));
	if (!PageSwapCache(page) || PageWriteback(page))
		return false;
	if (__swap_count(m, page_swap_entry(page)))
		return false;
	delete_from_swap_cache(m, page);
	SetPageDirty(page); /* memory holds the only copy again */
	return true;
}

void swap_cache_discard(struct kmm_machine *m, struct kmm_page *page)
{
	delete_from_swap_cache(m, page);
	ClearPageLocked(page);
	kmm_put_page(m, page);
}

struct kmm_page *__read_swap_cache_async(struct kmm_machine *m, swp_entry_t entry, gfp_t gfp,
					 bool *new_page)
{
	struct swap_state *ss = swap_state(m);
	struct kmm_page *page;
	bool ra_hit;
	*new_page = false;
	for (;;) {
		page = swap_cache_get(m, entry, &ra_hit);
		if (page)
			return page;
		page = kmm_alloc_pages(m, gfp, 0);
		if (!page)
			return NULL;
		int err = swapcache_prepare(m, entry);
		if (!err)
			break;
		kmm_put_page(m, page);
		if (err != -EEXIST)
			return NULL; /* the slot is free or bad */
		/* Another CPU is adding the page: wait for it to appear. */
		kmm_port_yield();
	}
	SetPageLocked(page);
	SetPageSwapBacked(page);
	void *shadow = NULL;
	if (__add_to_swap_cache(m, page, entry, &shadow)) {
		put_swap_page(m, entry);
		ClearPageLocked(page);
		kmm_put_page(m, page);
		return NULL;
	}
	/* Reclaim evicted this slot's page: a refault, maybe of the working set. */
	if (shadow)
		vm_workingset_refault(m, page, shadow);
	if (ss->ops.lru_cache_add)
		ss->ops.lru_cache_add(m, page);
	*new_page = true;
	return page;
}

/*
 * How many slots to read for a fault at @offset, from how many of the last
 * window's pages were used (@hits) (Linux: mm/swap_state.c
 * __swapin_nr_pages()). No hits: one page, or two when the fault is next
 * to the last one (a sequential pattern may be starting); hits: hits + 2
 * rounded up to a power of two, at least 4. Never more than @max_pages,
 * and never less than half the last window, so that one unlucky window
 * does not collapse readahead.
 */
static unsigned int __swapin_nr_pages(unsigned long prev_offset, unsigned long offset,
				      unsigned int hits, unsigned int max_pages,
				      unsigned int prev_win)
{
	unsigned int pages = hits + 2;
	if (pages == 2) {
		if (offset != prev_offset + 1 && offset != prev_offset - 1)
			pages = 1;
	} else {
		unsigned int roundup = 4;
		while (roundup < pages)
			roundup <<= 1;
		pages = roundup;
	}
	if (pages > max_pages)
		pages = max_pages;
	if (pages < prev_win / 2)
		pages = prev_win / 2;
	return pages;
}

/* The window for a swap-in fault at @offset (Linux swapin_nr_pages()); takes the hits. */
static unsigned int swapin_nr_pages(struct kmm_machine *m, unsigned long offset)
{
	struct swap_state *ss = swap_state(m);
	unsigned int max_pages = 1u << kmm_min(READ_ONCE(ss->page_cluster), 6u);
	if (max_pages <= 1)
		return 1;
	unsigned int hits = (unsigned int)atomic_xchg(&ss->swapin_readahead_hits, 0);
	unsigned int pages =
	    __swapin_nr_pages(READ_ONCE(ss->ra_prev_offset), offset, hits, max_pages,
			      (unsigned int)atomic_read(&ss->ra_last_pages));
	if (!hits)
		WRITE_ONCE(ss->ra_prev_offset, offset);
	atomic_set(&ss->ra_last_pages, (int)pages);
	return pages;
}

/* The in-use slots of @entry's aligned window of @window slots, @entry first. */
static int readahead_window_slots(struct kmm_machine *m, swp_entry_t entry, swp_entry_t *out,
				  int max, unsigned long window)
{
	struct swap_info *si = get_swap_device(m, entry);
	int n = 0;
	if (!si || max <= 0)
		goto out;
	unsigned long offset = swp_offset(entry);
	unsigned long mask = window - 1;
	if (offset >= si->max)
		goto out; /* a window after the last one */
	unsigned long start = offset & ~mask, end = offset | mask;
	if (!start)
		start = 1; /* the header */
	if (end >= si->max)
		end = si->max - 1;
	out[n++] = entry;
	for (unsigned long o = start; o <= end && n < max; o++) {
		unsigned char v = READ_ONCE(si->swap_map[o]);
		if (o == offset || !v || swap_count(v) == SWAP_MAP_BAD)
			continue;
		out[n++] = swp_entry(swp_type(entry), o);
	}
out:
	if (si)
		put_swap_device(si);
	return n;
}

int swap_cluster_readahead_slots(struct kmm_machine *m, swp_entry_t entry, swp_entry_t *out,
				 int max)
{
	unsigned int page_cluster = kmm_min(READ_ONCE(swap_state(m)->page_cluster), 6u);
	return readahead_window_slots(m, entry, out, max, 1UL << page_cluster);
}

/*
 * Bring the slots @slots[0..n) (in use, or not: those are skipped) into
 * the cache and submit the reads of those not there yet. The page of
 * @target (0: none) comes back with a reference, *@target_read saying
 * whether this call read it; the others are marked PG_readahead.
 */
static struct kmm_page *swap_ra_read(struct kmm_machine *m, swp_entry_t *slots, int n,
				     swp_entry_t target, gfp_t gfp, bool *target_read)
{
	struct kmm_page *fresh[64], *page, *found = NULL;
	swp_entry_t fresh_e[64];
	int nfresh = 0;
	bool new_page;
	*target_read = false;
	/* Slot order: neighbouring slots become one read. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && swp_offset(slots[j]) < swp_offset(slots[j - 1]); j--) {
			swp_entry_t t = slots[j];
			slots[j] = slots[j - 1];
			slots[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		page = __read_swap_cache_async(m, slots[i], gfp, &new_page);
		if (!page)
			continue;
		bool is_target = slots[i].val == target.val;
		if (is_target) {
			found = page;
			*target_read = new_page;
		}
		if (!new_page) {
			if (!is_target)
				kmm_put_page(m, page);
			continue;
		}
		if (!is_target) {
			SetPageReclaim(page); /* PG_readahead */
			count_vm_event(m, SWAP_RA);
		}
		fresh[nfresh] = page;
		fresh_e[nfresh++] = slots[i];
	}
	if (nfresh)
		swap_read_submit(m, fresh, fresh_e, nfresh);
	/* A page being read is locked in the cache: it stays there without our reference. */
	for (int i = 0; i < nfresh; i++)
		if (fresh[i] != found)
			kmm_put_page(m, fresh[i]);
	return found;
}

/* 2^page-cluster slots: the largest readahead window. */
static unsigned long swap_ra_largest_window(struct swap_state *ss)
{
	return 1UL << kmm_min(READ_ONCE(ss->page_cluster), 6u);
}

/*
 * The trigger slot of the stream whose window starts at @base in area
 * @type, a stream that has not had one yet: the slot of its own older
 * trigger (a trigger of the same area up to SWAP_RA_AHEAD windows behind
 * or ahead: the stream ran past it, or starts over), else a free one, else
 * the slots in turn. Slots are hints: two CPUs may pick the same one.
 */
static int swap_ra_stream_slot(struct swap_state *ss, unsigned int type, unsigned long base,
			       unsigned long window)
{
	int empty = -1;
	for (int i = 0; i < SWAP_RA_STREAMS; i++) {
		swp_entry_t t = {READ_ONCE(ss->ra_trigger[i])};
		if (!t.val) {
			if (empty < 0)
				empty = i;
			continue;
		}
		unsigned long off = swp_offset(t);
		unsigned long span = (SWAP_RA_AHEAD + 1) * window;
		if (swp_type(t) == type && off + span >= base && off <= base + span)
			return i;
	}
	if (empty >= 0)
		return empty;
	return (int)(__atomic_fetch_add(&ss->ra_victim, 1, __ATOMIC_RELAXED) % SWAP_RA_STREAMS);
}

/*
 * KMM_SWAP_IO_READAHEAD_NEXT: read the windows @from .. SWAP_RA_AHEAD
 * after @entry's (largest windows, aligned) behind the faults, and name
 * the window after @entry's as the stream's trigger (in trigger slot
 * @slot, or -1 for swap_ra_stream_slot's pick): the first use of one of
 * its readahead pages reads the window SWAP_RA_AHEAD after that one. A
 * stream thus keeps up to SWAP_RA_AHEAD windows in flight ahead of its
 * faults, and up to SWAP_RA_STREAMS streams do so at once.
 */
static void swap_ra_ahead(struct kmm_machine *m, swp_entry_t entry, unsigned int from, int slot)
{
	struct swap_state *ss = swap_state(m);
	unsigned long window = swap_ra_largest_window(ss);
	swp_entry_t slots[64], none = {0};
	bool unused;
	if (window < 2 || !swap_io_readahead_next(m))
		return;
	unsigned long base = swp_offset(entry) & ~(window - 1);
	for (unsigned int w = from; w <= SWAP_RA_AHEAD; w++) {
		swp_entry_t start = swp_entry(swp_type(entry), base + w * window);
		int n = readahead_window_slots(m, start, slots, (int)window, window);
		swap_ra_read(m, slots, n, none, GFP_HIGHUSER_MOVABLE | __GFP_NORETRY | __GFP_NOWARN,
			     &unused);
	}
	if (slot < 0)
		slot = swap_ra_stream_slot(ss, swp_type(entry), base, window);
	WRITE_ONCE(ss->ra_trigger[slot], swp_entry(swp_type(entry), base + window).val);
}

void wait_on_page_read(struct kmm_machine *m, struct kmm_page *page)
{
	uint64_t until = 0;
	bool queued = true;
	for (unsigned int spins = 1;
	     __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE) & (1UL << PG_locked); spins++) {
		if (queued) {
			int r = swap_io_help(m, page);
			if (r > 0)
				return;
			queued = !r;
			continue;
		}
		if (spins & 63) {
			kmm_port_cpu_relax();
			continue;
		}
		/* A read takes microseconds: spin that long; yielding may lose the CPU for a tick. */
		uint64_t now = kmm_port_now_ns();
		if (!until)
			until = now + SWAP_READ_SPIN_NS;
		if (now > until)
			kmm_port_yield();
	}
}

bool swap_cache_lock_entry(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry)
{
	/* A readahead page may still be on its way in: wait for the read, not the lock. */
	if (!PageUptodate(page))
		wait_on_page_read(m, page);
	lock_page(page);
	if (!PageSwapCache(page) || page->private != entry.val) {
		unlock_page(page);
		kmm_put_page(m, page);
		return false;
	}
	if (!PageUptodate(page)) {
		/* Another read of it failed (readahead's, another CPU's): read the slot anew. */
		swap_cache_discard(m, page);
		return false;
	}
	return true;
}

struct kmm_page *swapin_readahead(struct kmm_machine *m, swp_entry_t entry, gfp_t gfp, int *err)
{
	swp_entry_t slots[64];
	*err = 0;
	for (int tries = 0;; tries++) {
		unsigned int window = swapin_nr_pages(m, swp_offset(entry));
		int n = readahead_window_slots(m, entry, slots, (int)window, window);
		bool read_it;
		struct kmm_page *target = swap_ra_read(m, slots, n, entry, gfp, &read_it);
		/* A stream at the largest window: keep the next windows in flight. */
		if (target && window > 1 && window == swap_ra_largest_window(swap_state(m)))
			swap_ra_ahead(m, entry, 1, -1);
		if (!target) {
			/* No page: nothing holds the slot any more, or no memory. */
			*err = swap_map_value(m, entry) > 0 ? -ENOMEM : -ENOENT;
			return NULL;
		}
		if (!PageUptodate(target))
			wait_on_page_read(m, target);
		if (PageUptodate(target))
			return target;
		/* The read failed: out of the cache, so that a later access reads the slot again. */
		lock_page(target);
		if (PageSwapCache(target) && target->private == entry.val &&
		    !PageUptodate(target)) {
			swap_cache_discard(m, target);
		} else {
			unlock_page(target);
			kmm_put_page(m, target);
		}
		/* Our own read failed: -EIO. Another's (readahead, another CPU): read it ourselves. */
		if (read_it || tries) {
			*err = -EIO;
			return NULL;
		}
	}
}

void swap_cache_drop_unused(struct kmm_machine *m, struct swap_info *si)
{
	/* Pages still being read are locked: let their reads finish first. */
	swap_io_drain(m);
	for (unsigned int s = 0; s < si->nr_spaces; s++) {
		struct swap_address_space *space = &si->spaces[s];
		unsigned long index = 0;
		for (;;) {
			spin_lock(&space->lock);
			struct kmm_page *page = radix_tree_next(&space->i_pages, &index, -1);
			while (xa_is_value(page)) {
				index++;
				page = radix_tree_next(&space->i_pages, &index, -1);
			}
			if (page && !get_page_unless_zero(page))
				page = NULL;
			spin_unlock(&space->lock);
			if (!page)
				break;
			if (!TestSetPageLocked(page)) {
				try_to_free_swap(m, page);
				ClearPageLocked(page);
			}
			kmm_put_page(m, page);
			index++;
		}
	}
}

void clear_shadow_from_swap_cache(struct kmm_machine *m, struct swap_info *si, unsigned long begin,
				  unsigned long end)
{
	(void)m;
	for (unsigned long offset = begin; offset <= end; offset++) {
		struct swap_address_space *space = swap_address_space(si, offset);
		spin_lock(&space->lock);
		void *entry = radix_tree_lookup(&space->i_pages, offset);
		if (xa_is_value(entry))
			radix_tree_delete(&space->i_pages, offset);
		spin_unlock(&space->lock);
	}
}
