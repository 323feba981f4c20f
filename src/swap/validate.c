/*
 * The swap layer's invariant checker (CONFIG_DEBUG_VM-style), which the
 * randomized tests run after every step.
 *
 * Linux: none as such; it checks what mm/swapfile.c's VM_BUG_ONs assume.
 * Per area: the swap_map bytes are valid counts; inuse_pages counts the
 * slots in use; every cluster's count equals its non-free slots, a cluster
 * is on the free list exactly when that count is 0, and the free list is a
 * chain without loops from head to tail; every free slot lies between
 * lowest_bit and highest_bit; a slot never written has no checksum; the
 * area is on the available list exactly when it is on and not full; each
 * swap-cache page has PG_swapcache, its entry in page->private and
 * SWAP_HAS_CACHE on its slot. Shared memory: each swap entry in a shmem
 * mapping names a slot of an area that is in use, holding exactly one
 * reference (the entry's; nothing else shares a shmem slot), and a page in
 * that slot's swap cache belongs to no mapping. Globally (a separate
 * check, kmm_swap_validate_references, for machines where only tasks hold
 * slots): the references swap_map counts equal the swap PTEs of every mm
 * plus the shmem entries. Also globally: nr_swap_pages and total_swap_pages
 * equal the sums over the active areas, and both area lists are in
 * priority order.
 */
#include "internal.h"
#include "../vm/vm.h"
#include <errno.h>
#include <string.h>

#define FAIL(...) return kmm_error_set(err, -EINVAL, __VA_ARGS__)

static int validate_clusters(struct swap_info *si, struct kmm_error *err)
{
	unsigned long nr_free = 0, listed = 0;
	for (unsigned long c = 0; c < si->nr_clusters; c++) {
		unsigned long start = c * SWAPFILE_CLUSTER, used = 0;
		for (unsigned long o = start; o < start + SWAPFILE_CLUSTER; o++)
			used += o >= si->max || si->swap_map[o] ? 1 : 0;
		const struct swap_cluster_info *ci = &si->cluster_info[c];
		if (ci->flags & CLUSTER_FLAG_FREE) {
			nr_free++;
			if (used)
				FAIL("swap %s: cluster %lu is on the free list with %lu slots in "
				     "use",
				     si->path, c, used);
		} else if (ci->data != used) {
			FAIL("swap %s: cluster %lu counts %u slots in use, swap_map has %lu",
			     si->path, c, (unsigned int)ci->data, used);
		} else if (!used) {
			FAIL("swap %s: cluster %lu is empty but not on the free list", si->path, c);
		}
	}
	const struct swap_cluster_list *list = &si->free_clusters;
	if (!(list->head.flags & CLUSTER_FLAG_NEXT_NULL)) {
		unsigned long idx = list->head.data;
		for (;;) {
			if (idx >= si->nr_clusters)
				FAIL("swap %s: free cluster list links to cluster %lu of %lu",
				     si->path, idx, si->nr_clusters);
			if (!(si->cluster_info[idx].flags & CLUSTER_FLAG_FREE))
				FAIL("swap %s: cluster %lu is on the free list without its flag",
				     si->path, idx);
			if (++listed > si->nr_clusters)
				FAIL("swap %s: the free cluster list loops", si->path);
			if (idx == list->tail.data)
				break;
			idx = si->cluster_info[idx].data;
		}
	} else if (!(list->tail.flags & CLUSTER_FLAG_NEXT_NULL)) {
		FAIL("swap %s: free cluster list has a tail but no head", si->path);
	}
	if (listed != nr_free)
		FAIL("swap %s: %lu clusters flagged free, %lu on the free list", si->path, nr_free,
		     listed);
	for (unsigned int c = 0; c < si->nr_cpu_slots; c++) {
		const struct percpu_cluster *pc = &si->percpu_cluster[c];
		if (!(pc->index.flags & CLUSTER_FLAG_NEXT_NULL) &&
		    pc->index.data >= si->nr_clusters)
			FAIL("swap %s: CPU slot %u's cluster %u is beyond the area", si->path, c,
			     (unsigned int)pc->index.data);
	}
	return 0;
}

static int validate_swap_cache(struct kmm_machine *m, struct swap_info *si, struct kmm_error *err)
{
	for (unsigned int s = 0; s < si->nr_spaces; s++) {
		struct swap_address_space *space = &si->spaces[s];
		const char *why = NULL;
		unsigned long shadows = 0;
		long n = radix_tree_check_values(&space->i_pages, &why, &shadows);
		if (n < 0)
			FAIL("swap %s: swap cache tree %u: %s", si->path, s, why);
		n -= (long)shadows;
		if ((unsigned long)n != space->nrpages)
			FAIL("swap %s: swap cache tree %u holds %ld pages, nrpages says %lu",
			     si->path, s, n, space->nrpages);
		unsigned long index = 0;
		struct kmm_page *page;
		while ((page = radix_tree_next(&space->i_pages, &index, -1))) {
			if (xa_is_value(page)) {
				/* A shadow entry names a slot in use: freeing a slot clears it. */
				if (index >= si->max || !si->swap_map[index])
					FAIL("swap %s: shadow entry at slot %lu, which is free",
					     si->path, index);
				index++;
				continue;
			}
			swp_entry_t e = swp_entry((unsigned long)si->type, index);
			if (index >> SWAP_ADDRESS_SPACE_SHIFT != s || index >= si->max)
				FAIL("swap %s: slot %lu is in swap cache tree %u", si->path, index,
				     s);
			if (!PageSwapCache(page) || page->private != e.val)
				FAIL("swap %s: cache page pfn %#lx of slot %lu: swapcache %d, "
				     "private %#lx (want %#lx)",
				     si->path, page_to_pfn(m, page), index, PageSwapCache(page),
				     page->private, e.val);
			if (!(si->swap_map[index] & SWAP_HAS_CACHE))
				FAIL("swap %s: slot %lu has a cache page but no SWAP_HAS_CACHE "
				     "(map %#x)",
				     si->path, index, si->swap_map[index]);
			if (page_ref_count(page) < 1)
				FAIL("swap %s: cache page of slot %lu has refcount %d", si->path,
				     index, page_ref_count(page));
			index++;
		}
	}
	return 0;
}

int swap_info_validate(struct kmm_machine *m, struct swap_info *si, struct kmm_error *err)
{
	unsigned long used = 0, bad = 0;
	if (si->swap_map[0] != SWAP_MAP_BAD)
		FAIL("swap %s: header slot 0 is %#x, not SWAP_MAP_BAD", si->path, si->swap_map[0]);
	for (unsigned long o = 1; o < si->max; o++) {
		unsigned char v = si->swap_map[o];
		if (swap_count(v) == SWAP_MAP_BAD) {
			if (v != SWAP_MAP_BAD)
				FAIL("swap %s: bad slot %lu has %#x", si->path, o, v);
			bad++;
			continue;
		}
		if (swap_count(v) > SWAP_MAP_MAX)
			FAIL("swap %s: slot %lu has count %#x", si->path, o, v);
		if (v) {
			used++;
		} else {
			if (si->csum[o])
				FAIL("swap %s: free slot %lu keeps a checksum", si->path, o);
			if (o < si->lowest_bit || o > si->highest_bit)
				FAIL("swap %s: free slot %lu outside lowest_bit %u .. highest_bit "
				     "%u",
				     si->path, o, si->lowest_bit, si->highest_bit);
		}
	}
	if (used != si->inuse_pages)
		FAIL("swap %s: inuse_pages %u, swap_map has %lu slots in use", si->path,
		     si->inuse_pages, used);
	if (si->pages != si->max - 1 - bad)
		FAIL("swap %s: pages %u, but %u slots less header and %lu bad", si->path, si->pages,
		     si->max, bad);
	if (si->inuse_pages == si->pages && si->highest_bit)
		FAIL("swap %s: full but highest_bit is %u", si->path, si->highest_bit);
	bool want_avail = (READ_ONCE(si->flags) & SWP_WRITEOK) && si->highest_bit;
	if (si->on_avail != want_avail)
		FAIL("swap %s: on the available list %d, on %d, highest_bit %u", si->path,
		     si->on_avail, !!(READ_ONCE(si->flags) & SWP_WRITEOK), si->highest_bit);
	int r = validate_clusters(si, err);
	if (!r)
		r = validate_swap_cache(m, si, err);
	return r;
}

/* One shmem mapping's swap entries; under swapon_mutex, so no area comes or goes. */
static int validate_shmem_mapping(struct kmm_machine *m, struct kmm_address_space *mapping,
				  struct kmm_error *err)
{
	unsigned long index = 0;
	int r = 0;
	spin_lock(&mapping->i_pages_lock);
	for (;; index++) {
		void *entry = radix_tree_next(&mapping->i_pages, &index, -1);
		if (!entry)
			break;
		if (!xa_is_value(entry))
			continue;
		swp_entry_t e = radix_to_swp_entry(entry);
		struct swap_info *si = swap_type_to_swap_info(m, swp_type(e));
		if (!si || !(READ_ONCE(si->flags) & SWP_USED) || !si->swap_map ||
		    swp_offset(e) >= si->max) {
			r = kmm_error_set(err, -EINVAL,
					  "shared memory %p: index %lu holds swap entry %#lx of no "
					  "area",
					  (void *)mapping, index, e.val);
			break;
		}
		unsigned char v = READ_ONCE(si->swap_map[swp_offset(e)]);
		if (swap_count(v) != 1) {
			r = kmm_error_set(err, -EINVAL,
					  "swap %s: slot %lu, the swap entry of shared memory %p "
					  "index %lu, has swap_map %#x (want one reference)",
					  si->path, swp_offset(e), (void *)mapping, index, v);
			break;
		}
		struct swap_address_space *space = swap_address_space(si, swp_offset(e));
		spin_lock(&space->lock);
		struct kmm_page *page = radix_tree_lookup(&space->i_pages, swp_offset(e));
		if (page && !xa_is_value(page) && page->mapping)
			r = kmm_error_set(err, -EINVAL,
					  "swap %s: the cache page of slot %lu (shared memory %p "
					  "index %lu) is in mapping %p too",
					  si->path, swp_offset(e), (void *)mapping, index,
					  (void *)page->mapping);
		spin_unlock(&space->lock);
		if (r)
			break;
	}
	spin_unlock(&mapping->i_pages_lock);
	return r;
}

static int validate_shmem(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	struct kmm_inode *inode;
	int r = 0;
	if (!vm)
		return 0;
	spin_lock(&vm->inode_lock);
	list_for_each_entry (inode, &vm->shmem_inodes, i_list)
		if ((r = validate_shmem_mapping(m, &inode->i_data, err)))
			break;
	spin_unlock(&vm->inode_lock);
	return r;
}

/*
 * Every reference counted in swap_map against its holders: the swap PTEs
 * of every mm (MM_SWAPENTS, which vm/'s census checks against the page
 * tables) and shared memory's swap entries (inode->swapped, which the
 * census checks against the trees). A count nobody holds is a slot that
 * would never be freed.
 */
static int validate_references(struct kmm_machine *m, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	struct vm_state *vm = vm_state(m);
	struct kmm_inode *inode;
	struct kmm_mm *mm;
	long holders = 0, refs = 0;
	if (!vm)
		return 0;
	spin_lock(&vm->inode_lock);
	list_for_each_entry (inode, &vm->shmem_inodes, i_list)
		holders += (long)inode->swapped;
	spin_unlock(&vm->inode_lock);
	spin_lock(&vm->mmlist_lock);
	list_for_each_entry (mm, &vm->mmlist, mmlist)
		holders += get_mm_counter(mm, MM_SWAPENTS);
	spin_unlock(&vm->mmlist_lock);
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = ss->swap_info[type];
		if (!(READ_ONCE(si->flags) & SWP_USED) || !si->swap_map)
			continue;
		for (unsigned long o = 1; o < si->max; o++) {
			unsigned char c = swap_count(READ_ONCE(si->swap_map[o]));
			if (c != SWAP_MAP_BAD)
				refs += c;
		}
	}
	if (refs != holders)
		return kmm_error_set(err, -EINVAL,
				     "swap: swap_map counts %ld references, but swap PTEs and "
				     "shared memory's swap entries are %ld",
				     refs, holders);
	return 0;
}

int kmm_swap_validate_references(struct kmm_machine *m, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	if (!ss)
		return 0;
	/* swapon_mutex keeps the areas; vm/'s list locks are not taken inside swap_lock. */
	kmm_port_waitq_lock(&ss->swapon_mutex);
	int r = validate_references(m, err);
	kmm_port_waitq_unlock(&ss->swapon_mutex);
	return r;
}

int kmm_swap_validate(struct kmm_machine *m, struct kmm_error *err)
{
	struct swap_state *ss = swap_state(m);
	long free = 0, total = 0;
	int r = 0;
	if (!ss)
		return 0;
	kmm_port_waitq_lock(&ss->swapon_mutex);
	spin_lock(&ss->swap_lock);
	for (unsigned int type = 0; type < ss->nr_swapfiles && !r; type++) {
		struct swap_info *si = ss->swap_info[type];
		if (!(READ_ONCE(si->flags) & SWP_USED) || !si->swap_map)
			continue;
		if (si->type != (int)type) {
			r = kmm_error_set(err, -EINVAL, "swap area %u says it is type %d", type,
					  si->type);
			break;
		}
		if (READ_ONCE(si->flags) & SWP_WRITEOK) {
			free += (long)si->pages - si->inuse_pages;
			total += si->pages;
		}
		r = swap_info_validate(m, si, err);
	}
	int prev = 1 << 30;
	struct swap_info *si;
	list_for_each_entry (si, &ss->swap_active_head, list) {
		if (!r && si->prio > prev)
			r = kmm_error_set(err, -EINVAL, "swap: active list out of priority order");
		prev = si->prio;
	}
	prev = 1 << 30;
	list_for_each_entry (si, &ss->swap_avail_head, avail_list) {
		if (!r && (si->prio > prev || !(READ_ONCE(si->flags) & SWP_WRITEOK)))
			r = kmm_error_set(err, -EINVAL,
					  "swap: available list out of order or holds an area "
					  "that is off");
		prev = si->prio;
	}
	if (!r && atomic_long_read(&ss->nr_swap_pages) != free)
		r = kmm_error_set(err, -EINVAL, "swap: nr_swap_pages %ld, areas have %ld free",
				  atomic_long_read(&ss->nr_swap_pages), free);
	if (!r && ss->total_swap_pages != total)
		r = kmm_error_set(err, -EINVAL, "swap: total_swap_pages %ld, areas have %ld",
				  ss->total_swap_pages, total);
	spin_unlock(&ss->swap_lock);
	if (!r)
		r = validate_shmem(m, err);
	kmm_port_waitq_unlock(&ss->swapon_mutex);
	return r;
}
