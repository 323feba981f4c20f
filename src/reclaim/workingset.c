/*
 * Working-set detection: telling a page that comes back soon after reclaim
 * took it (it belongs to the working set, and the inactive list was too
 * small to see it used twice) from one that was simply cold.
 *
 * Linux: mm/workingset.c of 6.1 (workingset_eviction, workingset_refault,
 * workingset_activation, workingset_age_nonresident, pack_shadow,
 * unpack_shadow), mm/swap.c lru_note_cost_refault. Without memory cgroups,
 * multi-gen LRU, and the shadow-node shrinker (see below).
 *
 * Theory of operation.
 *  1. Each node's lruvec keeps a clock, nonresident_age, that ticks once per
 *     eviction and once per activation: the pages that moved down the
 *     inactive list towards its tail. When reclaim takes a clean page out
 *     of its page cache or swap cache (__remove_mapping,
 *     remove_swap_mapping), the cache's slot keeps a shadow entry (a value
 *     entry of the radix tree, low bit set) that packs the clock's reading,
 *     the node, and whether the page had been active (PG_workingset).
 *  2. When a new page takes a slot that holds a shadow (a read fault of a
 *     file page, a swap-in of an anonymous one, readahead included), the
 *     clock's advance since the eviction is the refault distance: how many
 *     more pages the inactive list would have needed to hold to keep this
 *     one. If that is no more than the pages the workingset could have
 *     given up — the active file list (plus the inactive file list, for an
 *     anonymous page), and with swap on the active anonymous list (plus the
 *     inactive anonymous list, for a file page) — the page goes straight to
 *     the active list (workingset_activate_*), and the clock ticks again.
 *     A page that was active before eviction is a restore
 *     (workingset_restore_*) and charges one page to its type's reclaim
 *     cost, which steers get_scan_count away from that type.
 *  3. Every refault counts (workingset_refault_anon/file); activations
 *     also make prepare_scan_count deactivate that type's active list.
 *
 * Shadow entries go when their slot is reused, when the file's pages are
 * truncated (the inode is evicted), or when the swap slot is freed. Linux
 * also reclaims radix tree nodes that hold only shadows (its shadow_lru
 * shrinker) so that huge files read once cannot pin memory in shadow
 * nodes; kmm does not: a file's shadow nodes live until the file goes.
 *
 * No locks of its own: the clock is atomic; eviction runs under the
 * cache's tree lock with the page's refcount frozen, refault on a locked
 * page not yet on a list.
 */
#include "internal.h"

#define WORKINGSET_SHIFT 1
/* Bits of an unsigned long that are not the eviction counter (Linux EVICTION_SHIFT). */
#define EVICTION_SHIFT	 ((BITS_PER_LONG - BITS_PER_XA_VALUE) + WORKINGSET_SHIFT + NODES_SHIFT)
#define EVICTION_MASK	 (~0UL >> EVICTION_SHIFT)

/*
 * The clock's granularity (Linux bucket_order): with 64-bit longs the
 * counter has 52 bits, more than any RAM needs, so this is 0 unless a
 * machine had more than 2^52 pages.
 */
static unsigned int bucket_order(struct kmm_machine *m)
{
	unsigned int timestamp_bits = BITS_PER_LONG - EVICTION_SHIFT;
	unsigned long ram = (unsigned long)atomic_long_read(&m->totalram_pages);
	unsigned int max_order = ram > 1 ? (unsigned int)ilog2(ram - 1) + 1 : 0; /* fls_long */
	return max_order > timestamp_bits ? max_order - timestamp_bits : 0;
}

static void *pack_shadow(struct kmm_machine *m, int nid, unsigned long eviction, bool workingset)
{
	eviction >>= bucket_order(m);
	eviction &= EVICTION_MASK;
	eviction = (eviction << NODES_SHIFT) | (unsigned long)nid;
	eviction = (eviction << WORKINGSET_SHIFT) | workingset;
	return xa_mk_value(eviction);
}

static void unpack_shadow(struct kmm_machine *m, const void *shadow, int *nid,
			  unsigned long *eviction, bool *workingset)
{
	unsigned long entry = xa_to_value(shadow);
	*workingset = entry & ((1UL << WORKINGSET_SHIFT) - 1);
	entry >>= WORKINGSET_SHIFT;
	*nid = (int)(entry & ((1UL << NODES_SHIFT) - 1));
	entry >>= NODES_SHIFT;
	*eviction = (entry & EVICTION_MASK) << bucket_order(m);
}

bool workingset_shadow_valid(struct kmm_machine *m, const void *shadow)
{
	int nid;
	unsigned long eviction;
	bool workingset;
	if (!xa_is_value(shadow))
		return false;
	unpack_shadow(m, shadow, &nid, &eviction, &workingset);
	return nid < m->nr_node_ids && NODE_DATA(m, nid);
}

/* Pages moved towards the inactive lists' tails: the clock advances (Linux workingset_age_nonresident). */
void workingset_age_nonresident(struct lruvec *lruvec, unsigned long nr_pages)
{
	atomic_long_add((long)nr_pages, &lruvec->nonresident_age);
}

void *workingset_eviction(struct kmm_machine *m, struct kmm_page *page)
{
	struct kmm_node *pgdat = page_pgdat(m, page);
	struct lruvec *lruvec = node_lruvec(pgdat);
	VM_BUG_ON_PAGE(PageLRU(page), page);
	VM_BUG_ON_PAGE(page_ref_count(page), page);
	workingset_age_nonresident(lruvec, 1);
	unsigned long eviction = (unsigned long)atomic_long_read(&lruvec->nonresident_age);
	return pack_shadow(m, pgdat->node_id, eviction, PageWorkingset(page));
}

/* The refault distance of @shadow now (Linux: the middle of workingset_refault()). */
unsigned long workingset_refault_distance(struct kmm_machine *m, const void *shadow)
{
	int nid;
	unsigned long eviction;
	bool workingset;
	unpack_shadow(m, shadow, &nid, &eviction, &workingset);
	struct lruvec *lruvec = node_lruvec(NODE_DATA(m, nid));
	unsigned long refault = (unsigned long)atomic_long_read(&lruvec->nonresident_age);
	return (refault - eviction) & EVICTION_MASK;
}

void workingset_refault(struct kmm_machine *m, struct kmm_page *page, void *shadow)
{
	bool file = page_is_file_lru(page);
	int nid;
	unsigned long eviction;
	bool workingset;
	unpack_shadow(m, shadow, &nid, &eviction, &workingset);
	if (nid >= m->nr_node_ids || !NODE_DATA(m, nid))
		return; /* not a shadow this machine wrote */
	struct kmm_node *eviction_pgdat = NODE_DATA(m, nid);
	struct lruvec *eviction_lruvec = node_lruvec(eviction_pgdat);
	/*
	 * The clock ticked once per page that left the inactive lists since
	 * this one did: the distance is how much more inactive space it would
	 * have needed to stay (Linux: the refault distance; the mask handles
	 * the counter wrapping).
	 */
	unsigned long refault = (unsigned long)atomic_long_read(&eviction_lruvec->nonresident_age);
	unsigned long refault_distance = (refault - eviction) & EVICTION_MASK;

	struct kmm_node *pgdat = page_pgdat(m, page);
	struct lruvec *lruvec = node_lruvec(pgdat);
	mod_node_page_state(pgdat, file ? WORKINGSET_REFAULT_FILE : WORKINGSET_REFAULT_ANON, 1);

	/*
	 * Could the working set have made room for it? Compare with what the
	 * lists that compete with this page hold (Linux 6.1: active file, plus
	 * inactive file for anon; with swap, active anon, plus inactive anon
	 * for file).
	 */
	unsigned long workingset_size = node_page_state(eviction_pgdat, NR_ACTIVE_FILE);
	if (!file)
		workingset_size += node_page_state(eviction_pgdat, NR_INACTIVE_FILE);
	if (get_nr_swap_pages(m) > 0) {
		workingset_size += node_page_state(eviction_pgdat, NR_ACTIVE_ANON);
		if (file)
			workingset_size += node_page_state(eviction_pgdat, NR_INACTIVE_ANON);
	}
	if (refault_distance > workingset_size)
		return;

	SetPageActive(page);
	workingset_age_nonresident(lruvec, 1);
	mod_node_page_state(pgdat, file ? WORKINGSET_ACTIVATE_FILE : WORKINGSET_ACTIVATE_ANON, 1);
	/* It was active before eviction: the working set is thrashing, which costs this type. */
	if (workingset) {
		SetPageWorkingset(page);
		lru_note_cost(m, lruvec, file, 1);
		mod_node_page_state(pgdat, file ? WORKINGSET_RESTORE_FILE : WORKINGSET_RESTORE_ANON,
				    1);
	}
}

void workingset_activation(struct kmm_machine *m, struct kmm_page *page)
{
	workingset_age_nonresident(page_lruvec(m, page), 1);
}
