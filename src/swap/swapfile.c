/*
 * Swap slots: the swap_map counts, cluster allocation, and the references
 * that PTEs and the swap cache hold on slots.
 *
 * Linux: mm/swapfile.c of 6.1 — scan_swap_map_slots(),
 * scan_swap_map_try_ssd_cluster(), the cluster list helpers, get_swap_pages(),
 * swap_range_alloc/free(), __swap_entry_free(), swap_free(),
 * put_swap_folio(), __swap_duplicate(), swapcache_prepare(),
 * free_swap_and_cache().
 *
 * Theory of operation.
 * 1. Every slot of an area has one byte in swap_map: how many swap PTEs name
 *    it, plus SWAP_HAS_CACHE while the swap cache holds (or is about to hold)
 *    a page for it. A slot is free when its byte is 0.
 * 2. Slots are grouped in clusters of 256. A free cluster is on the area's
 *    free cluster list; each CPU takes the head of that list as its current
 *    cluster and hands out its slots in order, so one CPU's swap-outs are
 *    contiguous on disk and CPUs do not meet on one cluster lock. A cluster
 *    in use counts its non-free slots; at 0 it goes back to the free list.
 *    When no free cluster is left, the allocator scans swap_map for any free
 *    slot (fragmented areas still fill up completely).
 * 3. Areas are tried by priority, highest first; areas of equal priority
 *    take turns (each allocation moves the area it used behind its equals).
 * 4. nr_swap_pages is taken before an allocation and given back for what
 *    it did not get, so concurrent allocators never overcommit the areas.
 * 5. When a slot's last reference goes, its byte is parked at
 *    SWAP_HAS_CACHE and then freed under si->lock (Linux does the second step
 *    through its per-CPU slot cache; kmm frees at once).
 *
 * kmm differs from Linux in: no per-CPU swap slot cache (allocation goes to
 * the cluster allocator every time, so equal-priority areas alternate per
 * slot, not per batch of 64), no discard, no huge (THP) clusters, no swap
 * count continuation (counts stop at SWAP_MAP_MAX), one list of available
 * areas instead of one per node (a swap file has no node).
 *
 * Locks: see internal.h (swap_lock > si->lock > swap_avail_lock, ci->lock).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* --- Cluster helpers --------------------------------------------------------------------------- */

static inline unsigned int cluster_count(const struct swap_cluster_info *ci)
{
	return ci->data;
}
static inline void cluster_set_count(struct swap_cluster_info *ci, unsigned int c)
{
	ci->data = c;
}
static inline void cluster_set_count_flag(struct swap_cluster_info *ci, unsigned int c,
					  unsigned int f)
{
	ci->flags = f;
	ci->data = c;
}
static inline unsigned int cluster_next(const struct swap_cluster_info *ci)
{
	return ci->data;
}
static inline void cluster_set_next(struct swap_cluster_info *ci, unsigned int n)
{
	ci->data = n;
}
static inline void cluster_set_next_flag(struct swap_cluster_info *ci, unsigned int n,
					 unsigned int f)
{
	ci->flags = f;
	ci->data = n;
}
static inline bool cluster_is_free(const struct swap_cluster_info *ci)
{
	return ci->flags & CLUSTER_FLAG_FREE;
}
static inline bool cluster_is_null(const struct swap_cluster_info *ci)
{
	return ci->flags & CLUSTER_FLAG_NEXT_NULL;
}
static inline void cluster_set_null(struct swap_cluster_info *ci)
{
	ci->flags = CLUSTER_FLAG_NEXT_NULL;
	ci->data = 0;
}

static inline struct swap_cluster_info *lock_cluster(struct swap_info *si, unsigned long offset)
{
	struct swap_cluster_info *ci = si->cluster_info + offset / SWAPFILE_CLUSTER;
	spin_lock(&ci->lock);
	return ci;
}
static inline void unlock_cluster(struct swap_cluster_info *ci)
{
	spin_unlock(&ci->lock);
}

static inline bool cluster_list_empty(const struct swap_cluster_list *list)
{
	return cluster_is_null(&list->head);
}
static inline unsigned int cluster_list_first(const struct swap_cluster_list *list)
{
	return cluster_next(&list->head);
}
static void cluster_list_init(struct swap_cluster_list *list)
{
	cluster_set_null(&list->head);
	cluster_set_null(&list->tail);
}

/* Append cluster @idx. Context: si->lock (the tail's lock nests inside a cluster lock). */
static void cluster_list_add_tail(struct swap_cluster_list *list, struct swap_cluster_info *ci,
				  unsigned int idx)
{
	if (cluster_list_empty(list)) {
		cluster_set_next_flag(&list->head, idx, 0);
		cluster_set_next_flag(&list->tail, idx, 0);
		return;
	}
	struct swap_cluster_info *ci_tail = ci + cluster_next(&list->tail);
	spin_lock(&ci_tail->lock);
	cluster_set_next(ci_tail, idx);
	spin_unlock(&ci_tail->lock);
	cluster_set_next_flag(&list->tail, idx, 0);
}

static unsigned int cluster_list_del_first(struct swap_cluster_list *list,
					   struct swap_cluster_info *ci)
{
	unsigned int idx = cluster_next(&list->head);
	if (cluster_next(&list->tail) == idx) {
		cluster_set_null(&list->head);
		cluster_set_null(&list->tail);
	} else {
		cluster_set_next_flag(&list->head, cluster_next(&ci[idx]), 0);
	}
	return idx;
}

static void __free_cluster(struct swap_info *si, unsigned long idx)
{
	si->cluster_info[idx].flags = CLUSTER_FLAG_FREE;
	cluster_list_add_tail(&si->free_clusters, si->cluster_info, (unsigned int)idx);
}

/* Take the head of the free list into use (it must be @idx). */
static void alloc_cluster(struct swap_info *si, unsigned long idx)
{
	KMM_BUG_ON(cluster_list_first(&si->free_clusters) != idx);
	cluster_list_del_first(&si->free_clusters, si->cluster_info);
	cluster_set_count_flag(si->cluster_info + idx, 0, 0);
}

/* A slot of cluster page_nr/256 becomes non-free. Context: si->lock (or setup), ci->lock. */
static void inc_cluster_info_page(struct swap_info *si, struct swap_cluster_info *cluster_info,
				  unsigned long page_nr)
{
	unsigned long idx = page_nr / SWAPFILE_CLUSTER;
	if (cluster_is_free(&cluster_info[idx]))
		alloc_cluster(si, idx);
	KMM_BUG_ON(cluster_count(&cluster_info[idx]) >= SWAPFILE_CLUSTER);
	cluster_set_count(&cluster_info[idx], cluster_count(&cluster_info[idx]) + 1);
}

/* A slot becomes free; an empty cluster returns to the free list. Context: si->lock, ci->lock. */
static void dec_cluster_info_page(struct swap_info *si, unsigned long page_nr)
{
	unsigned long idx = page_nr / SWAPFILE_CLUSTER;
	struct swap_cluster_info *ci = si->cluster_info + idx;
	KMM_BUG_ON(cluster_count(ci) == 0);
	cluster_set_count(ci, cluster_count(ci) - 1);
	if (cluster_count(ci) == 0)
		__free_cluster(si, idx);
}

/*
 * Clusters per free-list "column": the initial free list interleaves
 * clusters of different swap-cache address spaces, so CPUs starting on
 * consecutive free clusters use different cache trees (Linux
 * SWAP_CLUSTER_COLS: max of a cache line of cluster infos and the clusters
 * of one address space).
 */
#define SWAP_CLUSTER_COLS                                                 \
	kmm_max(KMM_DIV_ROUND_UP(64UL, sizeof(struct swap_cluster_info)), \
		KMM_DIV_ROUND_UP(SWAP_ADDRESS_SPACE_PAGES, (unsigned long)SWAPFILE_CLUSTER))

/*
 * Set up swap_map and the clusters of a new area whose header slot, bad
 * slots and tail are already marked SWAP_MAP_BAD in swap_map (Linux
 * setup_swap_map_and_extents). Context: the area is not on any list yet.
 */
void setup_swap_clusters(struct swap_info *si)
{
	unsigned long maxpages = si->max;
	unsigned long nr_clusters = KMM_DIV_ROUND_UP(maxpages, (unsigned long)SWAPFILE_CLUSTER);
	unsigned long cols = SWAP_CLUSTER_COLS;
	unsigned long col = si->lowest_bit / SWAPFILE_CLUSTER % cols;

	cluster_list_init(&si->free_clusters);
	for (unsigned long i = 0; i < nr_clusters; i++) {
		spin_lock_init(&si->cluster_info[i].lock);
		cluster_set_count_flag(&si->cluster_info[i], 0, 0);
	}
	for (unsigned long i = 0; i < maxpages; i++)
		if (READ_ONCE(si->swap_map[i]) == SWAP_MAP_BAD)
			inc_cluster_info_page(si, si->cluster_info, i);
	/* The slots past the end of the last cluster do not exist: count them as used. */
	for (unsigned long i = maxpages; i < KMM_ALIGN(maxpages, (unsigned long)SWAPFILE_CLUSTER);
	     i++)
		inc_cluster_info_page(si, si->cluster_info, i);
	for (unsigned long k = 0; k < cols; k++) {
		unsigned long j = (k + col) % cols;
		for (unsigned long i = 0; i < KMM_DIV_ROUND_UP(nr_clusters, cols); i++) {
			unsigned long idx = i * cols + j;
			if (idx >= nr_clusters || cluster_count(&si->cluster_info[idx]))
				continue;
			__free_cluster(si, idx);
		}
	}
}

/* --- Available areas (a priority list, like Linux's plist) --------------------------------------- */

/* Insert @si after every area of higher or equal priority. Context: swap_avail_lock. */
static void avail_list_insert(struct swap_state *ss, struct swap_info *si)
{
	struct list_head *pos = &ss->swap_avail_head;
	struct swap_info *p;
	list_for_each_entry (p, &ss->swap_avail_head, avail_list) {
		if (p->prio < si->prio)
			break;
		pos = &p->avail_list;
	}
	list_add(&si->avail_list, pos);
	si->on_avail = true;
}

void swap_add_to_avail_list(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	spin_lock(&ss->swap_avail_lock);
	if (!si->on_avail)
		avail_list_insert(ss, si);
	spin_unlock(&ss->swap_avail_lock);
}

static void __del_from_avail_list(struct swap_info *si)
{
	if (si->on_avail) {
		list_del_init(&si->avail_list);
		si->on_avail = false;
	}
}

void swap_del_from_avail_list(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_state *ss = swap_state(m);
	spin_lock(&ss->swap_avail_lock);
	__del_from_avail_list(si);
	spin_unlock(&ss->swap_avail_lock);
}

/* Move @si behind the other areas of its priority (Linux plist_requeue). */
static void avail_list_requeue(struct swap_state *ss, struct swap_info *si)
{
	list_del(&si->avail_list);
	avail_list_insert(ss, si);
}

/* --- Taking and returning slots -------------------------------------------------------------------- */

/*
 * Is @offset in a free cluster other than the free list's head? Then this
 * CPU's cluster was taken over (another CPU allocated its head): drop it
 * and start a new one (Linux scan_swap_map_ssd_cluster_conflict).
 */
static bool scan_swap_map_ssd_cluster_conflict(struct kmm_machine *m, struct swap_info *si,
					       unsigned long offset)
{
	offset /= SWAPFILE_CLUSTER;
	bool conflict = !cluster_list_empty(&si->free_clusters) &&
			offset != cluster_list_first(&si->free_clusters) &&
			cluster_is_free(&si->cluster_info[offset]);
	if (conflict)
		cluster_set_null(&si->percpu_cluster[swap_cpu_slot(m, si)].index);
	return conflict;
}

/*
 * The next free slot of this CPU's cluster, taking a new cluster from the
 * free list when the current one is used up. False when no cluster is
 * free. Context: si->lock.
 */
static bool scan_swap_map_try_ssd_cluster(struct kmm_machine *m, struct swap_info *si,
					  unsigned long *offset, unsigned long *scan_base)
{
	struct percpu_cluster *cluster = &si->percpu_cluster[swap_cpu_slot(m, si)];
	for (;;) {
		if (cluster_is_null(&cluster->index)) {
			if (cluster_list_empty(&si->free_clusters))
				return false;
			cluster->index = si->free_clusters.head;
			cluster->next = cluster_next(&cluster->index) * SWAPFILE_CLUSTER;
		}
		/* Other CPUs may have used slots of our cluster when theirs ran out. */
		unsigned long tmp = cluster->next;
		unsigned long max =
		    kmm_min((unsigned long)si->max,
			    (cluster_next(&cluster->index) + 1UL) * SWAPFILE_CLUSTER);
		if (tmp < max) {
			struct swap_cluster_info *ci = lock_cluster(si, tmp);
			while (tmp < max && READ_ONCE(si->swap_map[tmp]))
				tmp++;
			unlock_cluster(ci);
		}
		if (tmp >= max) {
			cluster_set_null(&cluster->index);
			continue;
		}
		cluster->next = (unsigned int)tmp + 1;
		*offset = tmp;
		*scan_base = tmp;
		return true;
	}
}

static void swap_range_alloc(struct kmm_machine *m, struct swap_info *si, unsigned long offset,
			     unsigned int nr)
{
	unsigned long end = offset + nr - 1;
	if (offset == si->lowest_bit)
		WRITE_ONCE(si->lowest_bit, si->lowest_bit + nr);
	if (end == si->highest_bit)
		WRITE_ONCE(si->highest_bit, si->highest_bit - nr);
	WRITE_ONCE(si->inuse_pages, si->inuse_pages + nr);
	if (si->inuse_pages == si->pages) {
		WRITE_ONCE(si->lowest_bit, si->max);
		WRITE_ONCE(si->highest_bit, 0);
		swap_del_from_avail_list(m, si);
	}
}

/* Context: si->lock. */
static void swap_range_free(struct kmm_machine *m, struct swap_info *si, unsigned long offset,
			    unsigned int nr)
{
	unsigned long end = offset + nr - 1;
	if (offset < si->lowest_bit)
		WRITE_ONCE(si->lowest_bit, (unsigned int)offset);
	if (end > si->highest_bit) {
		bool was_full = !si->highest_bit;
		WRITE_ONCE(si->highest_bit, (unsigned int)end);
		if (was_full && (READ_ONCE(si->flags) & SWP_WRITEOK))
			swap_add_to_avail_list(m, si);
	}
	atomic_long_add(nr, &swap_state(m)->nr_swap_pages);
	WRITE_ONCE(si->inuse_pages, si->inuse_pages - nr);
	for (unsigned long o = offset; o <= end; o++)
		WRITE_ONCE(si->csum[o], 0);
	clear_shadow_from_swap_cache(m, si, offset, end);
}

/*
 * Where this CPU's next scan starts. Crossing into another 64 MiB swap-cache
 * space, jump to a random space so CPUs spread over the cache trees (Linux
 * set_cluster_next).
 */
static void set_cluster_next(struct kmm_machine *m, struct swap_info *si, unsigned long next)
{
	unsigned int slot = swap_cpu_slot(m, si);
	unsigned long prev = si->cluster_next_cpu[slot];
	if ((prev >> SWAP_ADDRESS_SPACE_SHIFT) != (next >> SWAP_ADDRESS_SPACE_SHIFT)) {
		if (si->highest_bit <= si->lowest_bit)
			return;
		uint64_t r = swap_random(si, si->highest_bit - si->lowest_bit + 1);
		next = si->lowest_bit + (unsigned long)r;
		next = KMM_ALIGN_DOWN(next, SWAP_ADDRESS_SPACE_PAGES);
		next = kmm_max(next, (unsigned long)si->lowest_bit);
	}
	si->cluster_next_cpu[slot] = (unsigned int)next;
}

/* Take si->lock if @offset looks free (a lockless peek; checked again under the lock). */
static bool swap_offset_available_and_locked(struct kmm_machine *m, struct swap_info *si,
					     unsigned long offset)
{
	unsigned char v = READ_ONCE(si->swap_map[offset]);
	if (!v || (v == SWAP_HAS_CACHE && vm_swap_full(m))) {
		spin_lock(&si->lock);
		return true;
	}
	return false;
}

/*
 * Reclaim the cache-only slot @offset if its page can go (Linux
 * __try_to_reclaim_swap with TTRS_ANYWAY). Context: no swap locks.
 */
static bool try_to_reclaim_swap_slot(struct kmm_machine *m, struct swap_info *si,
				     unsigned long offset)
{
	struct kmm_page *page = lookup_swap_cache(m, swp_entry((unsigned long)si->type, offset));
	bool ret = false;
	if (!page)
		return false;
	if (!TestSetPageLocked(page)) {
		ret = try_to_free_swap(m, page);
		ClearPageLocked(page);
	}
	kmm_put_page(m, page);
	return ret;
}

/*
 * Allocate up to @nr slots of @si with count @usage (Linux
 * scan_swap_map_slots, the SSD path). Context: si->lock, which is dropped
 * and retaken while scanning the whole map.
 */
static int scan_swap_map_slots(struct kmm_machine *m, struct swap_info *si, unsigned char usage,
			       int nr, swp_entry_t slots[])
{
	unsigned long offset, scan_base;
	int latency_ration = LATENCY_LIMIT;
	int n_ret = 0;
	bool scanned_many = false;
	struct swap_cluster_info *ci;

	__atomic_fetch_add(&si->flags, SWP_SCANNING, __ATOMIC_RELAXED);
	scan_base = si->cluster_next_cpu[swap_cpu_slot(m, si)];
	offset = scan_base;
	if (!scan_swap_map_try_ssd_cluster(m, si, &offset, &scan_base))
		goto scan;

checks:
	while (scan_swap_map_ssd_cluster_conflict(m, si, offset)) {
		if (n_ret)
			goto done;
		if (!scan_swap_map_try_ssd_cluster(m, si, &offset, &scan_base))
			goto scan;
	}
	if (!(READ_ONCE(si->flags) & SWP_WRITEOK) || !si->highest_bit)
		goto no_page;
	if (offset > si->highest_bit)
		scan_base = offset = si->lowest_bit;

	ci = lock_cluster(si, offset);
	/* Swap is filling up: reuse a slot that only the swap cache holds. */
	if (vm_swap_full(m) && READ_ONCE(si->swap_map[offset]) == SWAP_HAS_CACHE) {
		unlock_cluster(ci);
		spin_unlock(&si->lock);
		bool freed = try_to_reclaim_swap_slot(m, si, offset);
		spin_lock(&si->lock);
		if (freed)
			goto checks;
		goto scan;
	}
	if (READ_ONCE(si->swap_map[offset])) {
		unlock_cluster(ci);
		if (!n_ret)
			goto scan;
		goto done;
	}
	WRITE_ONCE(si->swap_map[offset], usage);
	inc_cluster_info_page(si, si->cluster_info, offset);
	unlock_cluster(ci);
	swap_range_alloc(m, si, offset, 1);
	slots[n_ret++] = swp_entry((unsigned long)si->type, offset);

	if (n_ret == nr || offset >= si->highest_bit)
		goto done;
	if (--latency_ration < 0) {
		if (n_ret)
			goto done;
		latency_ration = LATENCY_LIMIT;
	}
	if (scan_swap_map_try_ssd_cluster(m, si, &offset, &scan_base))
		goto checks;
	/* No free cluster (fragmented): look a little further while holding the lock. */
	if (!scanned_many) {
		unsigned long scan_limit = offset < scan_base ? scan_base : si->highest_bit;
		for (; offset <= scan_limit && --latency_ration > 0; offset++)
			if (!READ_ONCE(si->swap_map[offset]))
				goto checks;
	}
done:
	set_cluster_next(m, si, offset + 1);
	__atomic_fetch_sub(&si->flags, SWP_SCANNING, __ATOMIC_RELAXED);
	return n_ret;

scan:
	spin_unlock(&si->lock);
	while (++offset <= READ_ONCE(si->highest_bit)) {
		if (swap_offset_available_and_locked(m, si, offset))
			goto checks;
		if (--latency_ration < 0) {
			latency_ration = LATENCY_LIMIT;
			scanned_many = true;
		}
	}
	/*
	 * Up to and including scan_base: entering from a CPU that had no
	 * cluster, the slot at scan_base itself was never looked at (Linux
	 * stops short of it, so its last free slot can go unseen).
	 */
	offset = READ_ONCE(si->lowest_bit);
	while (offset <= scan_base && offset <= READ_ONCE(si->highest_bit)) {
		if (swap_offset_available_and_locked(m, si, offset))
			goto checks;
		if (--latency_ration < 0) {
			latency_ration = LATENCY_LIMIT;
			scanned_many = true;
		}
		offset++;
	}
	spin_lock(&si->lock);
no_page:
	__atomic_fetch_sub(&si->flags, SWP_SCANNING, __ATOMIC_RELAXED);
	return n_ret;
}

int get_swap_pages(struct kmm_machine *m, int n_goal, swp_entry_t entries[])
{
	struct swap_state *ss = swap_state(m);
	struct swap_info *cand[MAX_SWAPFILES];
	int n_ret = 0, nr_cand = 0;
	if (!ss || n_goal <= 0)
		return 0;

	spin_lock(&ss->swap_avail_lock);
	long avail = atomic_long_read(&ss->nr_swap_pages);
	if (avail <= 0) {
		spin_unlock(&ss->swap_avail_lock);
		return 0;
	}
	n_goal = (int)kmm_min(kmm_min((long)n_goal, (long)SWAP_BATCH), avail);
	atomic_long_sub(n_goal, &ss->nr_swap_pages);
	/* A snapshot in priority order: areas are never freed, only switched off. */
	struct swap_info *si;
	list_for_each_entry (si, &ss->swap_avail_head, avail_list)
		cand[nr_cand++] = si;
	spin_unlock(&ss->swap_avail_lock);

	for (int i = 0; i < nr_cand && !n_ret; i++) {
		si = cand[i];
		spin_lock(&ss->swap_avail_lock);
		if (!si->on_avail) {
			spin_unlock(&ss->swap_avail_lock);
			continue;
		}
		/* Behind its equals: areas of one priority take turns. */
		avail_list_requeue(ss, si);
		spin_unlock(&ss->swap_avail_lock);
		spin_lock(&si->lock);
		if (!si->highest_bit || !(READ_ONCE(si->flags) & SWP_WRITEOK)) {
			swap_del_from_avail_list(m, si);
			spin_unlock(&si->lock);
			continue;
		}
		n_ret = scan_swap_map_slots(m, si, SWAP_HAS_CACHE, n_goal, entries);
		spin_unlock(&si->lock);
	}
	if (n_ret < n_goal)
		atomic_long_add(n_goal - n_ret, &ss->nr_swap_pages);
	return n_ret;
}

swp_entry_t get_swap_page(struct kmm_machine *m)
{
	swp_entry_t e = {0};
	get_swap_pages(m, 1, &e);
	return e;
}

/* --- References ------------------------------------------------------------------------------------- */

/*
 * The area of @entry if the entry is in range and in use, else NULL with a
 * message in the log (Linux _swap_info_get and its "Bad swap file entry"
 * family of messages).
 */
static struct swap_info *_swap_info_get(struct kmm_machine *m, swp_entry_t entry, const char *func)
{
	const char *what;
	struct swap_info *si;
	if (!entry.val)
		return NULL;
	si = swap_type_to_swap_info(m, swp_type(entry));
	if (!si) {
		what = "Bad swap file entry ";
		goto bad;
	}
	if (!(READ_ONCE(si->flags) & SWP_USED) || !READ_ONCE(si->swap_map)) {
		what = "Unused swap file entry ";
		goto bad;
	}
	if (swp_offset(entry) >= si->max) {
		what = "Bad swap offset entry ";
		goto bad;
	}
	if (!READ_ONCE(si->swap_map[swp_offset(entry)])) {
		what = "Unused swap offset entry ";
		goto bad;
	}
	return si;
bad:
	kmm_printk(m, "%s: %s%08lx", func, what, entry.val);
	return NULL;
}

struct swap_info *get_swap_device(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si;
	if (!entry.val)
		return NULL;
	si = swap_type_to_swap_info(m, swp_type(entry));
	if (!si)
		goto bad_nofile;
	struct kmm_cpu *cpu = si->users_pcpu ? this_cpu(m) : NULL;
	if (likely(cpu)) {
		long *c = &si->users_pcpu[cpu->id].count;
		__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
		barrier(); /* swapoff's membarrier orders the store before the flags' load */
	} else {
		atomic_inc(&si->users);
	}
	/*
	 * Paired with swapoff: it clears SWP_USED|SWP_VALID, then waits for
	 * users. SWP_VALID, not SWP_USED: a swapon that reuses the type sets
	 * SWP_USED before it builds the maps, and an entry read before the
	 * last swapoff (a fault's, a readahead window's) may name the type
	 * meanwhile (Linux: the percpu_ref that only enable_swap_info makes
	 * live; 5.8's SWP_VALID).
	 */
	if (!(__atomic_load_n(&si->flags, __ATOMIC_ACQUIRE) & SWP_VALID) ||
	    !READ_ONCE(si->swap_map)) {
		put_swap_device(si);
		return NULL;
	}
	if (swp_offset(entry) >= si->max) {
		put_swap_device(si);
		kmm_printk(m, "get_swap_device: Bad swap offset entry %08lx", entry.val);
		return NULL;
	}
	return si;
bad_nofile:
	kmm_printk(m, "get_swap_device: Bad swap file entry %08lx", entry.val);
	return NULL;
}

void put_swap_device(struct swap_info *si)
{
	/*
	 * A release: everything the user read of the area (its swap map, its
	 * swap cache's trees) happens before swapoff, which waits for users
	 * to reach 0, frees it (Linux: percpu_ref_put against
	 * percpu_ref_kill and the wait in swapoff).
	 */
	struct kmm_cpu *cpu = si->users_pcpu ? this_cpu(si->machine) : NULL;
	if (likely(cpu)) {
		long *c = &si->users_pcpu[cpu->id].count;
		__atomic_store_n(c, *c - 1, __ATOMIC_RELEASE);
	} else {
		__atomic_fetch_sub(&si->users.counter, 1, __ATOMIC_RELEASE);
	}
}

long swap_device_users(struct swap_info *si)
{
	long n = __atomic_load_n(&si->users.counter, __ATOMIC_ACQUIRE);
	if (si->users_pcpu)
		for (int i = 0; i < si->machine->nr_cpus; i++)
			n += __atomic_load_n(&si->users_pcpu[i].count, __ATOMIC_ACQUIRE);
	return n;
}

/*
 * Drop @usage (1 for a PTE reference, SWAP_HAS_CACHE for the cache's) from
 * the slot's byte. Returns what is left; a slot left with nothing is parked
 * at SWAP_HAS_CACHE for swap_entry_free(). Context: ci->lock.
 */
static unsigned char __swap_entry_free_locked(struct swap_info *si, unsigned long offset,
					      unsigned char usage)
{
	unsigned char count = READ_ONCE(si->swap_map[offset]);
	unsigned char has_cache = count & SWAP_HAS_CACHE;
	count &= (unsigned char)~SWAP_HAS_CACHE;
	if (usage == SWAP_HAS_CACHE) {
		KMM_BUG_ON(!has_cache);
		has_cache = 0;
	} else if (count <= SWAP_MAP_MAX) {
		KMM_BUG_ON(count == 0);
		count--;
	}
	usage = count | has_cache;
	WRITE_ONCE(si->swap_map[offset], usage ? usage : SWAP_HAS_CACHE);
	return usage;
}

/* Free a slot nothing references any more (Linux swap_entry_free). Context: si->lock. */
static void swap_entry_free(struct kmm_machine *m, struct swap_info *si, unsigned long offset)
{
	struct swap_cluster_info *ci = lock_cluster(si, offset);
	KMM_BUG_ON(READ_ONCE(si->swap_map[offset]) != SWAP_HAS_CACHE);
	WRITE_ONCE(si->swap_map[offset], 0);
	dec_cluster_info_page(si, offset);
	unlock_cluster(ci);
	swap_range_free(m, si, offset, 1);
}

static void free_swap_slot(struct kmm_machine *m, struct swap_info *si, swp_entry_t entry)
{
	spin_lock(&si->lock);
	swap_entry_free(m, si, swp_offset(entry));
	spin_unlock(&si->lock);
}

static unsigned char __swap_entry_free(struct kmm_machine *m, struct swap_info *si,
				       swp_entry_t entry, unsigned char usage)
{
	struct swap_cluster_info *ci = lock_cluster(si, swp_offset(entry));
	unsigned char left = __swap_entry_free_locked(si, swp_offset(entry), usage);
	unlock_cluster(ci);
	if (!left)
		free_swap_slot(m, si, entry);
	return left;
}

void swap_free(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si = _swap_info_get(m, entry, "swap_free");
	if (si)
		__swap_entry_free(m, si, entry, 1);
}

void put_swap_page(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si = _swap_info_get(m, entry, "put_swap_page");
	if (si)
		__swap_entry_free(m, si, entry, SWAP_HAS_CACHE);
}

int free_swap_and_cache(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si = _swap_info_get(m, entry, "free_swap_and_cache");
	if (!si)
		return 0;
	unsigned char left = __swap_entry_free(m, si, entry, 1);
	/* Only the cache holds the slot now: free both if the page is not mapped. */
	if (left == SWAP_HAS_CACHE) {
		struct kmm_page *page = lookup_swap_cache(m, entry);
		if (page) {
			if (!TestSetPageLocked(page)) {
				if (page_mapcount_raw(page) == 0 || vm_swap_full(m))
					try_to_free_swap(m, page);
				ClearPageLocked(page);
			}
			kmm_put_page(m, page);
		}
	}
	return 1;
}

/*
 * Add @usage to @entry's byte (Linux __swap_duplicate): a PTE reference
 * (1) or the cache's (SWAP_HAS_CACHE, see swapcache_prepare).
 */
static int __swap_duplicate(struct kmm_machine *m, swp_entry_t entry, unsigned char usage)
{
	struct swap_info *si = get_swap_device(m, entry);
	int err = 0;
	if (!si)
		return -EINVAL;
	unsigned long offset = swp_offset(entry);
	struct swap_cluster_info *ci = lock_cluster(si, offset);
	unsigned char count = READ_ONCE(si->swap_map[offset]);
	if (swap_count(count) == SWAP_MAP_BAD) {
		err = -ENOENT;
		goto out;
	}
	unsigned char has_cache = count & SWAP_HAS_CACHE;
	count &= (unsigned char)~SWAP_HAS_CACHE;
	if (usage == SWAP_HAS_CACHE) {
		if (!has_cache && count)
			has_cache = SWAP_HAS_CACHE;
		else if (has_cache)
			err = -EEXIST; /* someone else added or is adding the cache page */
		else
			err = -ENOENT; /* nobody uses the slot */
	} else if (count || has_cache) {
		if (count < SWAP_MAP_MAX)
			count += usage;
		else
			err = -ENOMEM; /* kmm has no count continuation */
	} else {
		err = -ENOENT;
	}
	WRITE_ONCE(si->swap_map[offset], count | has_cache);
out:
	unlock_cluster(ci);
	put_swap_device(si);
	return err;
}

int swap_duplicate(struct kmm_machine *m, swp_entry_t entry)
{
	int err = __swap_duplicate(m, entry, 1);
	/* A free or bad slot means a corrupt PTE: Linux reports success and so does kmm. */
	return err == -ENOMEM ? -ENOMEM : 0;
}

int swapcache_prepare(struct kmm_machine *m, swp_entry_t entry)
{
	return __swap_duplicate(m, entry, SWAP_HAS_CACHE);
}

int __swap_count(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si = get_swap_device(m, entry);
	int count = 0;
	if (si) {
		count = swap_count(READ_ONCE(si->swap_map[swp_offset(entry)]));
		put_swap_device(si);
	}
	return count;
}

int swap_map_value(struct kmm_machine *m, swp_entry_t entry)
{
	struct swap_info *si = get_swap_device(m, entry);
	int v = -1;
	if (si) {
		v = READ_ONCE(si->swap_map[swp_offset(entry)]);
		put_swap_device(si);
	}
	return v;
}

long get_nr_swap_pages(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	return ss ? atomic_long_read(&ss->nr_swap_pages) : 0;
}

/* Linux vm_swap_full: more than half of the swap space is in use. */
bool vm_swap_full(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	if (!ss)
		return false;
	return atomic_long_read(&ss->nr_swap_pages) * 2 < READ_ONCE(ss->total_swap_pages);
}
