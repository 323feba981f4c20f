/*
 * Working-set detection: telling a page that comes back soon after reclaim
 * took it (it belongs to the working set, and the inactive list was too
 * small to see it used twice) from one that was simply cold.
 *
 * Linux: mm/workingset.c of 6.1 (workingset_eviction, workingset_refault,
 * workingset_activation, workingset_age_nonresident, pack_shadow,
 * unpack_shadow, count_shadow_nodes, shadow_lru_isolate, scan_shadow_nodes),
 * mm/swap.c lru_note_cost_refault. Without memory cgroups and the multi-gen
 * LRU.
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
 *  4. Shadow entries go when their slot is reused, when the file's pages
 *     are truncated (the inode is evicted), when the swap slot is freed, or
 *     with their radix tree node: a file streamed once through memory, its
 *     inode kept, would otherwise pin a node per 64 pages forever. The
 *     trees put every node that holds only shadows on its NUMA node's
 *     shadow list (vm/shadow_nodes.c; counted in workingset_nodes), and
 *     the "shadow_nodes" shrinker here frees the oldest of them past a
 *     limit of one node per 8 pages of the node's LRU lists and slab
 *     (count_shadow_nodes), deleting their shadows: a page that comes back
 *     after that is a plain miss, not a refault. Each node freed counts
 *     one workingset_nodereclaim.
 *
 * Locks: none of its own for the clock (atomic); eviction runs under the
 * cache's tree lock with the page's refcount frozen, refault on a locked
 * page not yet on a list. The shrinker holds a shadow list's lock and
 * trylocks the lock of a listed node's tree (mapping->i_pages_lock or
 * swap_address_space::lock), since the trees take the list lock inside
 * theirs (vm/shadow_nodes.c): tree lock, then shadow list lock.
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

/* --- The shadow-node shrinker -------------------------------------------------------------- */

/*
 * How many of @nid's shadow nodes are past their use (Linux 6.1
 * count_shadow_nodes). A shadow whose refault distance exceeds what the
 * LRU could hold never activates a page, so no more shadows are worth
 * keeping than the node has pages in use: its LRU lists and its slab, the
 * sum Linux 6.1 takes for the memory cgroup a pass is for (with cgroups
 * disabled it takes the node's present pages instead; kmm has no cgroups
 * and follows the cgroup formula, which is what distribution kernels run).
 * Nodes may be sparse, one shadow each at worst; settling for a density of
 * 1/8 of 64 slots gives max_nodes = pages >> (RADIX_TREE_MAP_SHIFT - 3),
 * nodes of 576 bytes using at most ~1.8% of those pages.
 */
static unsigned long count_shadow_nodes(struct kmm_shrinker *sh, struct kmm_shrink_control *sc)
{
	struct kmm_machine *m = sh->private_data;
	struct kmm_node *pgdat = NODE_DATA(m, sc->nid);
	if (!pgdat)
		return SHRINK_EMPTY;
	unsigned long nodes = READ_ONCE(vm_state(m)->shadow_nodes[sc->nid].nr);
	if (!nodes)
		return SHRINK_EMPTY;
	unsigned long pages =
	    node_page_state(pgdat, NR_INACTIVE_ANON) + node_page_state(pgdat, NR_ACTIVE_ANON) +
	    node_page_state(pgdat, NR_INACTIVE_FILE) + node_page_state(pgdat, NR_ACTIVE_FILE) +
	    node_page_state(pgdat, NR_UNEVICTABLE) +
	    node_page_state_pages(pgdat, NR_SLAB_RECLAIMABLE_B) +
	    node_page_state_pages(pgdat, NR_SLAB_UNRECLAIMABLE_B);
	unsigned long max_nodes = pages >> (RADIX_TREE_MAP_SHIFT - 3);
	return nodes <= max_nodes ? 0 : nodes - max_nodes;
}

/*
 * Free @node, first on @list, whose tree's lock the caller took; drops
 * the list lock (Linux shadow_lru_isolate). Holding the list lock kept the
 * tree alive until its lock was ours; the node leaves the list first, so
 * deleting it finds it unlisted.
 */
static void shadow_node_free(struct kmm_machine *m, struct shadow_node_list *list,
			     struct radix_tree_node *node)
{
	struct radix_tree_root *root = node->root;
	spinlock_t *tree_lock = root->lock;
	int nid = list->nid;
	shadow_node_unlist(m, list, node);
	spin_unlock(&list->lock);
	/* A listed node holds shadows only (the checkers hold the trees to that). */
	VM_BUG_ON(node->shift || !node->nr_values || node->count != node->nr_values);
	radix_tree_delete_node(root, node);
	mod_node_page_state(NODE_DATA(m, nid), WORKINGSET_NODERECLAIM, 1);
	spin_unlock(tree_lock);
}

/* Free up to sc->nr_to_scan of @nid's oldest shadow nodes (Linux scan_shadow_nodes). */
static unsigned long scan_shadow_nodes(struct kmm_shrinker *sh, struct kmm_shrink_control *sc)
{
	struct kmm_machine *m = sh->private_data;
	struct shadow_node_list *list = &vm_state(m)->shadow_nodes[sc->nid];
	unsigned long scanned = 0, freed = 0;
	spin_lock(&list->lock);
	while (scanned < sc->nr_to_scan && !list_empty(&list->head)) {
		struct radix_tree_node *node =
		    list_first_entry(&list->head, struct radix_tree_node, private_list);
		scanned++;
		/* Coming from the list, the lock order is inverted (Linux LRU_RETRY). */
		if (!spin_trylock(node->root->lock)) {
			spin_unlock(&list->lock);
			kmm_port_cpu_relax();
			spin_lock(&list->lock);
			continue;
		}
		shadow_node_free(m, list, node);
		freed++;
		spin_lock(&list->lock);
	}
	spin_unlock(&list->lock);
	sc->nr_scanned = scanned;
	return freed;
}

void workingset_init(struct kmm_machine *m)
{
	struct kmm_shrinker *sh = &reclaim_state(m)->shadow_shrinker;
	sh->count_objects = count_shadow_nodes;
	sh->scan_objects = scan_shadow_nodes;
	/* count_shadow_nodes reports only nodes past their use: all may go (Linux seeks 0). */
	sh->seeks = 0;
	sh->private_data = m;
	/* Registration fails only for a shrinker without callbacks. */
	KMM_BUG_ON(kmm_register_shrinker(m, sh, "shadow_nodes"));
}

void workingset_destroy(struct kmm_machine *m)
{
	kmm_unregister_shrinker(m, &reclaim_state(m)->shadow_shrinker);
}
