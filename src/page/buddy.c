/*
 * The buddy allocator: free lists per order and migratetype, split and
 * merge, migratetype fallback and pageblock stealing. Two bookkeeping
 * designs answer "is my buddy free?".
 *
 * Linux: mm/page_alloc.c (__free_one_page, expand, __rmqueue_smallest,
 * __rmqueue_fallback, steal_suitable_fallback, move_freepages_block,
 * rmqueue_bulk, reserve_highatomic_pageblock) of 6.1; Linux 2.4's
 * mm/page_alloc.c (__free_pages_ok, expand, rmqueue with free_area_t.map).
 *
 * Theory of operation:
 *  A free block of 2^order pages starts at a pfn aligned to 2^order; its
 *  buddy is the block next to it that together with it forms the aligned
 *  block of the next order: buddy_pfn = pfn ^ (1 << order). Freeing merges
 *  with the buddy while the buddy is free, climbing orders; allocating takes
 *  the smallest block that fits and splits it, putting the unused halves
 *  back on the lists of their orders (expand).
 *
 *  KMM_BUDDY_PAGEFLAG (modern): the head page of every free block carries
 *  PageBuddy and its order in page->private; the buddy is free if its head
 *  says so with the same order and zone.
 *
 *  KMM_BUDDY_BITMAP (2.4): free_area[order].map has one bit per pair of
 *  buddies, toggled whenever either block of the pair enters or leaves the
 *  free list of that order; a set bit means exactly one of the two is free.
 *  When a block is being freed it is not on a list, so the bit says whether
 *  its buddy is. struct page carries nothing; code that must find the free
 *  blocks inside a range (pageblock stealing, the validator) walks the lists.
 *
 *  Both designs make the same decisions and leave identical free lists
 *  (tests/page/buddy_test.c checks it).
 *
 * Locking: everything here runs under zone->lock, taken by the callers in
 * this file and in pcp.c.
 */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- Marking free blocks: the one place the designs differ ------------------------ */

static __kmm_always_inline unsigned long buddy_map_index(const struct kmm_zone *zone,
							 unsigned long pfn, unsigned int order)
{
	return (pfn - KMM_ALIGN_DOWN(zone->zone_start_pfn, MAX_ORDER_NR_PAGES)) >> (order + 1);
}

static __kmm_always_inline void mark_free(struct kmm_machine *m, struct kmm_zone *zone,
					  struct kmm_page *page, unsigned long pfn,
					  unsigned int order)
{
	if (m->buddy == KMM_BUDDY_BITMAP) {
		if (order < MAX_PAGE_ORDER)
			__change_bit(buddy_map_index(zone, pfn, order), zone->free_area[order].map);
	} else {
		__SetPageBuddy(page);
		page->private = order;
	}
}

static __kmm_always_inline void mark_allocated(struct kmm_machine *m, struct kmm_zone *zone,
					       struct kmm_page *page, unsigned long pfn,
					       unsigned int order)
{
	if (m->buddy == KMM_BUDDY_BITMAP) {
		if (order < MAX_PAGE_ORDER)
			__change_bit(buddy_map_index(zone, pfn, order), zone->free_area[order].map);
	} else {
		__ClearPageBuddy(page);
		page->private = 0;
	}
}

/*
 * Is the buddy at @buddy_pfn free at @order, in @zone? The block it pairs
 * with must not be on a free list. Linux: find_buddy_page_pfn/page_is_buddy.
 * The buddy may be in use by someone else: only its page type is read until
 * it proves to be free (then it is ours, under the zone lock).
 */
static __kmm_always_inline bool buddy_is_free(struct kmm_machine *m, struct kmm_zone *zone,
					      struct kmm_page *buddy, unsigned long buddy_pfn,
					      unsigned int order)
{
	if (m->buddy == KMM_BUDDY_BITMAP) {
		if (!zone_spans_pfn(zone, buddy_pfn))
			return false;
		return test_bit(buddy_map_index(zone, buddy_pfn, order),
				zone->free_area[order].map);
	}
	if (!PageBuddy(buddy) || buddy->private != order)
		return false;
	/* Same node and zone: a buddy across a zone boundary is not ours to merge. */
	return page_zonenum(buddy) == (unsigned int)zone->type && page_to_nid(buddy) == zone->node;
}

static __kmm_always_inline void add_to_free_list(struct kmm_machine *m, struct kmm_page *page,
						 unsigned long pfn, struct kmm_zone *zone,
						 unsigned int order, int migratetype, bool tail)
{
	struct free_area *area = &zone->free_area[order];
	if (tail)
		list_add_tail(&page->lru, &area->free_list[migratetype]);
	else
		list_add(&page->lru, &area->free_list[migratetype]);
	WRITE_ONCE(area->nr_free, area->nr_free + 1);
	mark_free(m, zone, page, pfn, order);
}

static __kmm_always_inline void del_page_from_free_list(struct kmm_machine *m,
							struct kmm_page *page, unsigned long pfn,
							struct kmm_zone *zone, unsigned int order)
{
	list_del(&page->lru);
	mark_allocated(m, zone, page, pfn, order);
	WRITE_ONCE(zone->free_area[order].nr_free, zone->free_area[order].nr_free - 1);
}

/* Move a free block to the tail of another migratetype's list (same order). */
static __kmm_always_inline void move_to_free_list(struct kmm_page *page, struct kmm_zone *zone,
						  unsigned int order, int migratetype)
{
	list_move_tail(&page->lru, &zone->free_area[order].free_list[migratetype]);
}

static __kmm_always_inline void __mod_zone_freepage_state(struct kmm_zone *zone, long nr,
							  int migratetype)
{
	__mod_zone_page_state(zone, NR_FREE_PAGES, nr);
}

bool page_is_free_head(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_page *page,
		       unsigned int order)
{
	if (m->buddy == KMM_BUDDY_PAGEFLAG)
		return PageBuddy(page) && page->private == order;
	/* Bitmap design: only the lists know. */
	for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
		struct kmm_page *p;
		list_for_each_entry (p, &zone->free_area[order].free_list[mt], lru)
			if (p == page)
				return true;
	}
	return false;
}

/* --- Freeing ----------------------------------------------------------------------- */

/*
 * Would the block of the next order up merge soon? Then put this block at
 * the tail of its list so it is allocated last and gets the chance
 * (Linux buddy_merge_likely).
 */
static bool buddy_merge_likely(struct kmm_machine *m, struct kmm_zone *zone, unsigned long pfn,
			       unsigned long buddy_pfn, struct kmm_page *page, unsigned int order)
{
	if (order >= MAX_PAGE_ORDER - 1)
		return false;
	unsigned long higher_pfn = buddy_pfn & pfn;
	unsigned long higher_buddy_pfn = higher_pfn ^ (1UL << (order + 1));
	return buddy_is_free(m, zone, page + (higher_buddy_pfn - pfn), higher_buddy_pfn, order + 1);
}

void __free_one_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned long pfn, struct kmm_zone *zone, unsigned int order, int migratetype,
		     int fpi_flags)
{
	unsigned long buddy_pfn = 0, combined_pfn;
	struct kmm_page *buddy;

	VM_BUG_ON(!zone->initialized);
	VM_BUG_ON_PAGE(pfn & ((1UL << order) - 1), page);
	VM_BUG_ON_PAGE(!zone_spans_pfn(zone, pfn), page);
	if (likely(!is_migrate_isolate(migratetype)))
		__mod_zone_freepage_state(zone, 1L << order, migratetype);

	while (order < MAX_PAGE_ORDER) {
		buddy_pfn = pfn ^ (1UL << order);
		buddy = page + (buddy_pfn - pfn);
		if (!buddy_is_free(m, zone, buddy, buddy_pfn, order))
			break;
		if (unlikely(order >= pageblock_order)) {
			/* Isolated and highatomic pageblocks do not merge with normal ones. */
			int buddy_mt = get_pfnblock_migratetype(zone, buddy_pfn);
			if (migratetype != buddy_mt && (!migratetype_is_mergeable(migratetype) ||
							!migratetype_is_mergeable(buddy_mt)))
				break;
		}
		del_page_from_free_list(m, buddy, buddy_pfn, zone, order);
		cpu_count_events(m, cpu, KMM_BUDDY_MERGE, 1);
		combined_pfn = buddy_pfn & pfn;
		page = page + (combined_pfn - pfn);
		pfn = combined_pfn;
		order++;
	}

	bool to_tail = (fpi_flags & FPI_TO_TAIL) ||
		       buddy_merge_likely(m, zone, pfn, pfn ^ (1UL << order), page, order);
	add_to_free_list(m, page, pfn, zone, order, migratetype, to_tail);
}

void free_one_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		   struct kmm_page *page, unsigned long pfn, unsigned int order, int migratetype)
{
	spin_lock(&zone->lock);
	if (unlikely(is_migrate_isolate(migratetype)))
		migratetype = get_pfnblock_migratetype(zone, pfn);
	__free_one_page(m, cpu, page, pfn, zone, order, migratetype, FPI_NONE);
	spin_unlock(&zone->lock);
}

/* --- Allocating --------------------------------------------------------------------- */

/*
 * Split a block of order @high down to @low: the upper half goes back on the
 * free list at each order on the way, the lower half is kept (Linux expand).
 */
static __kmm_always_inline void expand(struct kmm_machine *m, struct kmm_cpu *cpu,
				       struct kmm_zone *zone, struct kmm_page *page,
				       unsigned long pfn, unsigned int low, unsigned int high,
				       int migratetype)
{
	unsigned long size = 1UL << high;
	while (high > low) {
		high--;
		size >>= 1;
		VM_BUG_ON_PAGE(!zone_spans_pfn(zone, pfn + size), &page[size]);
		add_to_free_list(m, &page[size], pfn + size, zone, high, migratetype, false);
		cpu_count_events(m, cpu, KMM_BUDDY_SPLIT, 1);
	}
}

struct kmm_page *__rmqueue_smallest(struct kmm_machine *m, struct kmm_cpu *cpu,
				    struct kmm_zone *zone, unsigned int order, int migratetype)
{
	for (unsigned int current_order = order; current_order < NR_PAGE_ORDERS; current_order++) {
		struct free_area *area = &zone->free_area[current_order];
		struct kmm_page *page =
		    list_first_entry_or_null(&area->free_list[migratetype], struct kmm_page, lru);
		if (!page)
			continue;
		unsigned long pfn = page_to_pfn(m, page);
		del_page_from_free_list(m, page, pfn, zone, current_order);
		expand(m, cpu, zone, page, pfn, order, current_order, migratetype);
		set_pcppage_migratetype(page, migratetype);
		kmm_trace(m, MM_PAGE_ALLOC_ZONE_LOCKED, pfn, order, (uint64_t)migratetype,
			  pcp_allowed_order(order) && migratetype < MIGRATE_PCPTYPES);
		return page;
	}
	return NULL;
}

/* Where to look when a migratetype's lists are empty (Linux's fallbacks[]). */
static const int fallbacks[MIGRATE_TYPES][3] = {
    [MIGRATE_UNMOVABLE] = {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE, MIGRATE_TYPES},
    [MIGRATE_MOVABLE] = {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, MIGRATE_TYPES},
    [MIGRATE_RECLAIMABLE] = {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_TYPES},
};

/*
 * Steal the whole pageblock? Always for big pieces, and for unmovable and
 * reclaimable allocations, which fragment most (can_steal_fallback).
 */
static bool can_steal_fallback(struct kmm_machine *m, unsigned int order, int start_mt)
{
	if (order >= pageblock_order)
		return true;
	return order >= pageblock_order / 2 || start_mt == MIGRATE_RECLAIMABLE ||
	       start_mt == MIGRATE_UNMOVABLE || m->page_group_by_mobility_disabled;
}

static int find_suitable_fallback(struct kmm_machine *m, struct free_area *area, unsigned int order,
				  int migratetype, bool only_stealable, bool *can_steal)
{
	if (!area->nr_free)
		return -1;
	*can_steal = false;
	for (int i = 0;; i++) {
		int fallback_mt = fallbacks[migratetype][i];
		if (fallback_mt == MIGRATE_TYPES)
			break;
		if (list_empty(&area->free_list[fallback_mt]))
			continue;
		if (can_steal_fallback(m, order, migratetype))
			*can_steal = true;
		if (!only_stealable || *can_steal)
			return fallback_mt;
	}
	return -1;
}

struct free_block {
	unsigned long pfn;
	unsigned int order;
	struct kmm_page *page;
};

static int cmp_block(const void *a, const void *b)
{
	unsigned long x = ((const struct free_block *)a)->pfn,
		      y = ((const struct free_block *)b)->pfn;
	return x < y ? -1 : x > y;
}

/*
 * Move every free block in [start_pfn, end_pfn] to @migratetype's lists and
 * count the in-use LRU pages there (Linux move_freepages). The pageflag
 * design walks the pfns; the bitmap design finds the blocks on the lists
 * and moves them in pfn order, so both leave the same lists.
 */
static int move_freepages(struct kmm_machine *m, struct kmm_zone *zone, unsigned long start_pfn,
			  unsigned long end_pfn, int migratetype, int *num_movable)
{
	int pages_moved = 0;
	if (num_movable)
		*num_movable = 0;
	if (m->buddy == KMM_BUDDY_PAGEFLAG) {
		for (unsigned long pfn = start_pfn; pfn <= end_pfn;) {
			struct kmm_page *page = pfn_to_page(m, pfn);
			if (!PageBuddy(page)) {
				if (num_movable && PageLRU(page))
					(*num_movable)++;
				pfn++;
				continue;
			}
			VM_BUG_ON_PAGE(page_zone(m, page) != zone, page);
			unsigned int order = (unsigned int)page->private;
			move_to_free_list(page, zone, order, migratetype);
			pfn += 1UL << order;
			pages_moved += 1 << order;
		}
		return pages_moved;
	}

	/* Bitmap design: at most one free block per pfn of a pageblock. */
	struct free_block blocks[pageblock_nr_pages];
	int nr = 0;
	for (unsigned int order = 0; order < NR_PAGE_ORDERS; order++) {
		if (!zone->free_area[order].nr_free)
			continue;
		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct kmm_page *p;
			list_for_each_entry (p, &zone->free_area[order].free_list[mt], lru) {
				unsigned long pfn = page_to_pfn(m, p);
				if (pfn >= start_pfn && pfn <= end_pfn &&
				    nr < (int)pageblock_nr_pages)
					blocks[nr++] = (struct free_block){pfn, order, p};
			}
		}
	}
	qsort(blocks, (size_t)nr, sizeof(blocks[0]), cmp_block);
	unsigned long pfn = start_pfn;
	for (int i = 0; i <= nr; i++) {
		unsigned long next = i < nr ? blocks[i].pfn : end_pfn + 1;
		for (; num_movable && pfn < next; pfn++)
			if (PageLRU(pfn_to_page(m, pfn)))
				(*num_movable)++;
		if (i == nr)
			break;
		move_to_free_list(blocks[i].page, zone, blocks[i].order, migratetype);
		pages_moved += 1 << blocks[i].order;
		pfn = blocks[i].pfn + (1UL << blocks[i].order);
	}
	return pages_moved;
}

static int move_freepages_block(struct kmm_machine *m, struct kmm_zone *zone, unsigned long pfn,
				int migratetype, int *num_movable)
{
	unsigned long start_pfn = KMM_ALIGN_DOWN(pfn, pageblock_nr_pages);
	unsigned long end_pfn = start_pfn + pageblock_nr_pages - 1;
	if (num_movable)
		*num_movable = 0;
	/* Do not cross zone boundaries. */
	if (!zone_spans_pfn(zone, start_pfn))
		start_pfn = pfn;
	if (!zone_spans_pfn(zone, end_pfn))
		return 0;
	return move_freepages(m, zone, start_pfn, end_pfn, migratetype, num_movable);
}

static void change_pageblock_range(struct kmm_zone *zone, unsigned long pfn,
				   unsigned int start_order, int migratetype)
{
	unsigned long nr = 1UL << (start_order - pageblock_order);
	while (nr--) {
		set_pfnblock_migratetype(zone, pfn, migratetype);
		pfn += pageblock_nr_pages;
	}
}

/*
 * A fallback makes the zone fragment: raise its watermark temporarily so
 * kswapd reclaims (and compaction would defragment) sooner (boost_watermark).
 */
static bool boost_watermark(struct kmm_machine *m, struct kmm_zone *zone)
{
	unsigned long factor = (unsigned long)READ_ONCE(m->watermark_boost_factor);
	if (!factor)
		return false;
	/* Small zones would run out of memory from the boost itself. */
	if (pageblock_nr_pages * 4 > zone_managed_pages(zone))
		return false;
	unsigned long high = READ_ONCE(zone->_watermark[WMARK_HIGH]);
	unsigned long max_boost = (high / 10000) * factor + ((high % 10000) * factor) / 10000;
	if (!max_boost)
		return false;
	max_boost = kmm_max(pageblock_nr_pages, max_boost);
	WRITE_ONCE(zone->watermark_boost,
		   kmm_min(zone->watermark_boost + pageblock_nr_pages, max_boost));
	return true;
}

/*
 * Take @page (a free block of @current_order on another type's list) for
 * @start_type: the whole pageblock if enough of it is free or alike,
 * otherwise just this block (Linux steal_suitable_fallback).
 */
static void steal_suitable_fallback(struct kmm_machine *m, struct kmm_cpu *cpu,
				    struct kmm_zone *zone, struct kmm_page *page,
				    unsigned int current_order, unsigned int alloc_flags,
				    int start_type, bool whole_block)
{
	unsigned long pfn = page_to_pfn(m, page);
	int old_block_type = get_pfnblock_migratetype(zone, pfn);
	int free_pages, movable_pages, alike_pages;

	if (is_migrate_highatomic(old_block_type))
		goto single_page;
	if (current_order >= pageblock_order) {
		change_pageblock_range(zone, pfn, current_order, start_type);
		cpu_count_events(m, cpu, KMM_STEAL_PAGEBLOCK, 1);
		goto single_page;
	}
	if (boost_watermark(m, zone) && (alloc_flags & ALLOC_KSWAPD))
		set_bit(ZONE_BOOSTED_WATERMARK, &zone->flags);
	if (!whole_block)
		goto single_page;
	free_pages = move_freepages_block(m, zone, pfn, start_type, &movable_pages);
	if (!free_pages)
		goto single_page;
	if (start_type == MIGRATE_MOVABLE)
		alike_pages = movable_pages;
	else if (old_block_type == MIGRATE_MOVABLE)
		alike_pages = (int)pageblock_nr_pages - (free_pages + movable_pages);
	else
		alike_pages = 0;
	/* Claim the block if half of it is free or of our kind. */
	if (free_pages + alike_pages >= (1 << (pageblock_order - 1)) ||
	    m->page_group_by_mobility_disabled) {
		set_pfnblock_migratetype(zone, pfn, start_type);
		cpu_count_events(m, cpu, KMM_STEAL_PAGEBLOCK, 1);
	}
	return;
single_page:
	move_to_free_list(page, zone, current_order, start_type);
}

/*
 * Nothing free of @start_mt: move a block of another type to our lists.
 * Take the largest available block (it approximates the pageblock with the
 * most free pages), unless it cannot be stolen whole and we are movable, in
 * which case the smallest block fragments least (Linux __rmqueue_fallback).
 */
static bool __rmqueue_fallback(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
			       unsigned int order, int start_mt, unsigned int alloc_flags)
{
	int current_order, fallback_mt = -1;
	int min_order = (int)order;
	bool can_steal = false;
	struct free_area *area = NULL;

	/* Keep other pageblocks' small pieces while other zones may still have room. */
	if (alloc_flags & ALLOC_NOFRAGMENT)
		min_order = pageblock_order;
	for (current_order = MAX_PAGE_ORDER; current_order >= min_order; current_order--) {
		area = &zone->free_area[current_order];
		fallback_mt = find_suitable_fallback(m, area, (unsigned int)current_order, start_mt,
						     false, &can_steal);
		if (fallback_mt == -1)
			continue;
		if (!can_steal && start_mt == MIGRATE_MOVABLE && current_order > (int)order)
			goto find_smallest;
		goto do_steal;
	}
	return false;

find_smallest:
	for (current_order = (int)order; current_order < NR_PAGE_ORDERS; current_order++) {
		area = &zone->free_area[current_order];
		fallback_mt = find_suitable_fallback(m, area, (unsigned int)current_order, start_mt,
						     false, &can_steal);
		if (fallback_mt != -1)
			break;
	}
	VM_BUG_ON(current_order == NR_PAGE_ORDERS);

do_steal:;
	struct kmm_page *page =
	    list_first_entry(&area->free_list[fallback_mt], struct kmm_page, lru);
	steal_suitable_fallback(m, cpu, zone, page, (unsigned int)current_order, alloc_flags,
				start_mt, can_steal);
	cpu_count_events(m, cpu, KMM_FALLBACK_ALLOC, 1);
	trace_mm_page_alloc_extfrag(
	    m, page_to_pfn(m, page), order, current_order, start_mt, fallback_mt,
	    get_pfnblock_migratetype(zone, page_to_pfn(m, page)) == start_mt);
	return true;
}

struct kmm_page *__rmqueue(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
			   unsigned int order, int migratetype, unsigned int alloc_flags)
{
	struct kmm_page *page;
retry:
	page = __rmqueue_smallest(m, cpu, zone, order, migratetype);
	if (unlikely(!page) && __rmqueue_fallback(m, cpu, zone, order, migratetype, alloc_flags))
		goto retry;
	return page;
}

/* Back every page on @list with host memory now, outside the zone lock. */
static void populate_list(struct kmm_machine *m, struct list_head *list, unsigned int order)
{
	struct kmm_page *page;
	list_for_each_entry (page, list, lru)
		kmm_ram_populate(m, page_to_pfn(m, page), 1UL << order);
}

/*
 * Take @count blocks of @order for a per-CPU list, in one hold of the zone
 * lock; they go to the tail of @list, so it stays in pfn order (rmqueue_bulk).
 */
int rmqueue_bulk(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		 unsigned int order, unsigned long count, struct list_head *list, int migratetype,
		 unsigned int alloc_flags)
{
	unsigned long i;
	struct list_head got;
	INIT_LIST_HEAD(&got);
	spin_lock(&zone->lock);
	for (i = 0; i < count; i++) {
		struct kmm_page *page = __rmqueue(m, cpu, zone, order, migratetype, alloc_flags);
		if (unlikely(!page))
			break;
		list_add_tail(&page->lru, &got);
	}
	__mod_zone_page_state(zone, NR_FREE_PAGES, -(long)(i << order));
	spin_unlock(&zone->lock);
	populate_list(m, &got, order);
	list_splice_tail_init(&got, list);
	return (int)i;
}

struct kmm_page *rmqueue_buddy(struct kmm_machine *m, struct kmm_cpu *cpu,
			       struct kmm_zone *preferred_zone, struct kmm_zone *zone,
			       unsigned int order, unsigned int alloc_flags, int migratetype)
{
	struct kmm_page *page = NULL;
	spin_lock(&zone->lock);
	/* High-order atomic allocations may use the highatomic reserve. */
	if (order > 0 && (alloc_flags & ALLOC_HARDER))
		page = __rmqueue_smallest(m, cpu, zone, order, MIGRATE_HIGHATOMIC);
	if (!page) {
		page = __rmqueue(m, cpu, zone, order, migratetype, alloc_flags);
		if (!page) {
			spin_unlock(&zone->lock);
			return NULL;
		}
	}
	__mod_zone_freepage_state(zone, -(1L << order), get_pcppage_migratetype(page));
	spin_unlock(&zone->lock);
	kmm_ram_populate(m, page_to_pfn(m, page), 1UL << order);
	cpu_count_events(m, cpu, (enum vm_event_item)(PGALLOC_DMA + zone->type), 1L << order);
	zone_statistics(cpu, preferred_zone, zone, 1);
	return page;
}

/*
 * A high-order atomic allocation succeeded: set its pageblock aside for
 * more of them (up to about 1% of the zone) so they do not fail later when
 * memory fragments (reserve_highatomic_pageblock).
 */
void reserve_highatomic_pageblock(struct kmm_machine *m, struct kmm_page *page,
				  struct kmm_zone *zone, unsigned int order)
{
	unsigned long max_managed = zone_managed_pages(zone) / 100 + pageblock_nr_pages;
	if (READ_ONCE(zone->nr_reserved_highatomic) >= max_managed)
		return;
	spin_lock(&zone->lock);
	unsigned long pfn = page_to_pfn(m, page);
	int mt = get_pfnblock_migratetype(zone, pfn);
	if (zone->nr_reserved_highatomic < max_managed && migratetype_is_mergeable(mt)) {
		WRITE_ONCE(zone->nr_reserved_highatomic,
			   zone->nr_reserved_highatomic + pageblock_nr_pages);
		set_pfnblock_migratetype(zone, pfn, MIGRATE_HIGHATOMIC);
		move_freepages_block(m, zone, pfn, MIGRATE_HIGHATOMIC, NULL);
	}
	spin_unlock(&zone->lock);
}

/*
 * Take a free block off its list for a while (Linux __isolate_free_page,
 * without the watermark check): free page reporting holds it while the host
 * takes its memory back, and __free_one_page() puts it back. zone->lock held.
 */
void __isolate_free_block(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_page *page,
			  unsigned int order)
{
	del_page_from_free_list(m, page, page_to_pfn(m, page), zone, order);
	__mod_zone_freepage_state(zone, -(1L << order), 0);
}

/*
 * Memory is short: give highatomic pageblocks back to the allocation's
 * migratetype, keeping one unless @force (unreserve_highatomic_pageblock).
 */
bool unreserve_highatomic_pageblock(struct kmm_machine *m, const struct alloc_context *ac,
				    bool force)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	for_each_zone_zonelist (zone, z, ac->zonelist, (int)ac->highest_zoneidx) {
		if (!force && READ_ONCE(zone->nr_reserved_highatomic) <= pageblock_nr_pages)
			continue;
		spin_lock(&zone->lock);
		for (unsigned int order = 0; order < NR_PAGE_ORDERS; order++) {
			struct kmm_page *page = list_first_entry_or_null(
			    &zone->free_area[order].free_list[MIGRATE_HIGHATOMIC], struct kmm_page,
			    lru);
			if (!page)
				continue;
			unsigned long pfn = page_to_pfn(m, page);
			if (is_migrate_highatomic(get_pfnblock_migratetype(zone, pfn)))
				WRITE_ONCE(
				    zone->nr_reserved_highatomic,
				    zone->nr_reserved_highatomic -
					kmm_min(pageblock_nr_pages, zone->nr_reserved_highatomic));
			set_pfnblock_migratetype(zone, pfn, ac->migratetype);
			if (move_freepages_block(m, zone, pfn, ac->migratetype, NULL)) {
				spin_unlock(&zone->lock);
				return true;
			}
		}
		spin_unlock(&zone->lock);
	}
	return false;
}

/*
 * The 2.4 design's maps: bits for orders 0..MAX_PAGE_ORDER-1 of every zone.
 * 2.4 took them from bootmem; kmm takes them from host memory instead, so
 * that both designs run on identical simulated RAM and can be compared
 * page for page. Their size is counted in m->pa->buddy_map_bytes.
 */
int buddy_bitmap_init(struct kmm_machine *m)
{
	int nid;
	struct kmm_zone *zone;
	if (m->buddy != KMM_BUDDY_BITMAP)
		return 0;
	for_each_populated_zone (m, nid, zone) {
		unsigned long base = KMM_ALIGN_DOWN(zone->zone_start_pfn, MAX_ORDER_NR_PAGES);
		unsigned long span = KMM_ALIGN(zone_end_pfn(zone), MAX_ORDER_NR_PAGES) - base;
		for (unsigned int order = 0; order < MAX_PAGE_ORDER; order++) {
			size_t bytes = BITS_TO_LONGS(span >> (order + 1)) * sizeof(long);
			zone->free_area[order].map = kmm_port_alloc(bytes);
			if (!zone->free_area[order].map)
				return -ENOMEM;
			m->pa->buddy_map_bytes += bytes;
		}
	}
	return 0;
}

void buddy_bitmap_destroy(struct kmm_machine *m)
{
	int nid;
	struct kmm_zone *zone;
	if (m->buddy != KMM_BUDDY_BITMAP)
		return;
	for_each_populated_zone (m, nid, zone) {
		unsigned long base = KMM_ALIGN_DOWN(zone->zone_start_pfn, MAX_ORDER_NR_PAGES);
		unsigned long span = KMM_ALIGN(zone_end_pfn(zone), MAX_ORDER_NR_PAGES) - base;
		for (unsigned int order = 0; order < MAX_PAGE_ORDER; order++) {
			kmm_port_free(zone->free_area[order].map,
				      BITS_TO_LONGS(span >> (order + 1)) * sizeof(long));
			zone->free_area[order].map = NULL;
		}
	}
}
