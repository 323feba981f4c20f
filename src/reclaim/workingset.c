/*
 * Workingset detection for file pages: shadows of evicted pages, and what
 * a page read back in where a shadow lies says about the working set.
 *
 * Linux: mm/workingset.c (workingset_eviction, workingset_refault,
 * workingset_age_nonresident, pack_shadow/unpack_shadow).
 *
 * Theory of operation.
 *  1. Each node's LRU vector keeps a clock, nonresident_age, that ticks
 *     once for every page reclaim evicts from it (and for every refault it
 *     activates). When reclaim evicts a page-cache page, the page's index
 *     in its file gets a shadow holding the clock's value then (and the
 *     node), in mapping->i_shadows (vm/filemap.c remove_mapping).
 *  2. When a page is added to the cache at an index with a shadow, it is a
 *     refault (workingset_refault_file). The clock's advance since the
 *     eviction, the refault distance, is how many more pages the inactive
 *     list would have needed to keep it. If that is no more than the
 *     active pages that could have made room (active file; with swap,
 *     all anonymous pages too), the page comes back active
 *     (workingset_activate_file): it belongs to the working set.
 *  3. A refault costs a read: it is charged to the file LRU's cost, which
 *     steers the anon/file balance (lru_note_cost through
 *     workingset_refault() in vmscan.c).
 *
 * Differs from Linux: the shadows live in a radix tree of their own beside
 * the page tree (Linux stores them as value entries in i_pages), they are
 * freed only when their page comes back or the file's cache is truncated
 * (Linux also has a shrinker for shadow nodes), there is no memcg, and the
 * clock does not tick for pages activated by mark_page_accessed (Linux's
 * workingset_activation), nor does kmm keep PG_workingset in the shadow
 * (no workingset_restore).
 *
 * Locks: none of its own; the clock is atomic; the shadow trees are under
 * their mapping's i_pages_lock (vm/).
 */
#include "internal.h"

#define SHADOW_NODE_BITS 7 /* KMM_MAX_NUMNODES fits */

void *workingset_eviction(struct kmm_machine *m, struct kmm_page *page)
{
	struct kmm_node *pgdat = page_pgdat(m, page);
	unsigned long age = (unsigned long)atomic_long_read(&node_lruvec(pgdat)->nonresident_age);
	unsigned long v = (age << SHADOW_NODE_BITS | (unsigned long)pgdat->node_id) << 1 | 1;
	return (void *)v;
}

void workingset_age_nonresident(struct kmm_machine *m, struct kmm_page *page)
{
	atomic_long_inc(&node_lruvec(page_pgdat(m, page))->nonresident_age);
}

/* vm/'s hook: @page (locked, not yet on an LRU) enters the cache where @shadow lay. */
static void workingset_refault_shadow(struct kmm_machine *m, struct kmm_page *page, void *shadow)
{
	unsigned long v = (unsigned long)shadow >> 1;
	int nid = (int)(v & ((1UL << SHADOW_NODE_BITS) - 1));
	unsigned long eviction = v >> SHADOW_NODE_BITS;
	if (nid >= m->nr_node_ids || !NODE_DATA(m, nid))
		nid = page_to_nid(page);
	struct kmm_node *pgdat = NODE_DATA(m, nid);
	struct lruvec *lruvec = node_lruvec(pgdat);
	unsigned long now = (unsigned long)atomic_long_read(&lruvec->nonresident_age);
	/* Both clocks are truncated alike, so the difference is right modulo their width. */
	unsigned long mask = ~0UL >> (SHADOW_NODE_BITS + 1);
	unsigned long distance = (now - eviction) & mask;

	workingset_refault(m, page, true);

	unsigned long workingset = node_page_state(pgdat, NR_ACTIVE_FILE);
	if (get_nr_swap_pages(m) > 0)
		workingset += node_page_state(pgdat, NR_ACTIVE_ANON) +
			      node_page_state(pgdat, NR_INACTIVE_ANON);
	if (distance > workingset)
		return;
	SetPageActive(page);
	atomic_long_inc(&lruvec->nonresident_age);
	mod_node_page_state(pgdat, WORKINGSET_ACTIVATE_FILE, 1);
}

void workingset_register_hooks(struct kmm_machine *m)
{
	vm_state(m)->lru.workingset_refault = workingset_refault_shadow;
}
