/*
 * The page allocator's entry points: allocate and free blocks of pages.
 *
 * Linux: mm/page_alloc.c of 6.1 (__alloc_pages, prepare_alloc_pages,
 * get_page_from_freelist, zone_watermark_fast, __zone_watermark_ok, rmqueue,
 * prep_new_page, free_pages_prepare, __free_pages, __free_pages_ok,
 * zone_statistics, __alloc_pages_bulk).
 *
 * The fast path: pick the zonelist of the preferred node, walk it from the
 * highest zone the GFP mask allows, take the first zone whose free pages
 * stay above its low watermark (plus the lowmem reserve that protects it from
 * this kind of allocation), and take the page from this CPU's list for that
 * zone. Anything else goes to __alloc_pages_slowpath() in slowpath.c.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* --- Watermark checks ---------------------------------------------------------------- */

static __kmm_always_inline long
__zone_watermark_unusable_free(struct kmm_zone *z, unsigned int order, unsigned int alloc_flags)
{
	long unusable = (1L << order) - 1;
	/* Without ALLOC_HARDER the highatomic reserve is off limits. */
	if (likely(!(alloc_flags & (ALLOC_HARDER | ALLOC_OOM))))
		unusable += (long)READ_ONCE(z->nr_reserved_highatomic);
	return unusable;
}

/*
 * May an allocation of @order take pages from @z with @free_pages free,
 * keeping @mark plus the lowmem reserve for @highest_zoneidx? High orders
 * also need a free block of that order or more (Linux __zone_watermark_ok).
 */
bool __zone_watermark_ok(struct kmm_zone *z, unsigned int order, unsigned long mark,
			 int highest_zoneidx, unsigned int alloc_flags, long free_pages)
{
	long min = (long)mark;
	const bool alloc_harder = alloc_flags & (ALLOC_HARDER | ALLOC_OOM);

	free_pages -= __zone_watermark_unusable_free(z, order, alloc_flags);
	if (alloc_flags & ALLOC_HIGH)
		min -= min / 2;
	if (unlikely(alloc_harder)) {
		/* OOM victims are exiting and will free memory: let them dig deeper. */
		if (alloc_flags & ALLOC_OOM)
			min -= min / 2;
		else
			min -= min / 4;
	}
	if (free_pages <= min + READ_ONCE(z->lowmem_reserve[highest_zoneidx]))
		return false;
	if (!order)
		return true;
	for (unsigned int o = order; o < NR_PAGE_ORDERS; o++) {
		struct free_area *area = &z->free_area[o];
		if (!READ_ONCE(area->nr_free))
			continue;
		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			if (!list_empty(&area->free_list[mt]))
				return true;
		if (alloc_harder && !list_empty(&area->free_list[MIGRATE_HIGHATOMIC]))
			return true;
	}
	return false;
}

static __kmm_always_inline bool zone_watermark_fast(struct kmm_zone *z, unsigned int order,
						    unsigned long mark, int highest_zoneidx,
						    unsigned int alloc_flags, gfp_t gfp_mask)
{
	long free_pages = (long)zone_page_state(z, NR_FREE_PAGES);
	/* Order 0 only: one comparison when there is plenty. */
	if (!order) {
		long reserved = __zone_watermark_unusable_free(z, 0, alloc_flags);
		long usable = free_pages - kmm_min(free_pages, reserved);
		if (usable > (long)mark + READ_ONCE(z->lowmem_reserve[highest_zoneidx]))
			return true;
	}
	if (__zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages))
		return true;
	/* Atomic order-0 allocations ignore the watermark boost at the min watermark. */
	if (unlikely(!order && (gfp_mask & __GFP_ATOMIC) && READ_ONCE(z->watermark_boost) &&
		     (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN))
		return __zone_watermark_ok(z, order, READ_ONCE(z->_watermark[WMARK_MIN]),
					   highest_zoneidx, alloc_flags, free_pages);
	return false;
}

/* --- Preparing pages ---------------------------------------------------------------------- */

static __kmm_cold void bad_page(struct kmm_machine *m, struct kmm_page *page, const char *reason)
{
	char buf[128];
	kmm_port_snprintf(buf, sizeof(buf), "BUG: Bad page state: pfn:%#lx %s",
			  page_to_pfn(m, page), reason);
	kmm_dump_page(page, buf);
	KMM_BUG_ON_MSG(1, "%s", buf);
}

/* Flags that must be clear when a page is freed (PAGE_FLAGS_CHECK_AT_FREE). */
#define PAGE_FLAGS_CHECK_AT_FREE                                                        \
	(1UL << PG_lru | 1UL << PG_locked | 1UL << PG_private | 1UL << PG_private_2 |   \
	 1UL << PG_writeback | 1UL << PG_reserved | 1UL << PG_slab | 1UL << PG_active | \
	 1UL << PG_unevictable | 1UL << PG_mlocked)
#define PAGE_FLAGS_MASK ((1UL << KMM_PAGEFLAGS_BITS) - 1)

static void check_free_page(struct kmm_machine *m, struct kmm_page *page)
{
	if (unlikely(atomic_read(&page->_mapcount) != -1))
		bad_page(m, page, "nonzero mapcount");
	if (unlikely(page->mapping != NULL))
		bad_page(m, page, "non-NULL mapping");
	if (unlikely(page_ref_count(page) != 0))
		bad_page(m, page, "nonzero _refcount");
	if (unlikely(page->flags & PAGE_FLAGS_CHECK_AT_FREE))
		bad_page(m, page, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set");
}

static void check_new_page(struct kmm_machine *m, struct kmm_page *page)
{
	if (unlikely(atomic_read(&page->_mapcount) != -1))
		bad_page(m, page, "nonzero mapcount at allocation");
	if (unlikely(page->mapping != NULL))
		bad_page(m, page, "non-NULL mapping at allocation");
	if (unlikely(page_ref_count(page) != 0))
		bad_page(m, page, "nonzero _refcount at allocation");
	if (unlikely(page->flags & PAGE_FLAGS_MASK))
		bad_page(m, page, "flags set at allocation");
}

static void prep_compound_page(struct kmm_page *page, unsigned int order)
{
	unsigned long nr = 1UL << order;
	__SetPageHead(page);
	for (unsigned long i = 1; i < nr; i++) {
		struct kmm_page *p = page + i;
		p->mapping = NULL;
		WRITE_ONCE(p->compound_head, (unsigned long)page + 1);
	}
	page[1].compound_order = (unsigned char)order;
	page[1].compound_nr = (unsigned int)nr;
	atomic_set(&page[1].compound_mapcount, -1);
}

/* The part of prep_new_page() every allocation needs: checks, private, refcount. */
static __kmm_always_inline void prep_new_page_head(struct kmm_machine *m, struct kmm_page *page,
						   unsigned int order)
{
	if (KMM_DEBUG >= 1)
		for (unsigned long i = 0; i < (1UL << order); i++)
			check_new_page(m, page + i);
	page->private = 0;
	set_page_count(page, 1);
}

/* Does an allocation with @gfp_flags need more than prep_new_page_head()? */
static __kmm_always_inline bool prep_new_page_more(struct kmm_machine *m, unsigned int order,
						   gfp_t gfp_flags)
{
	return (gfp_flags & __GFP_ZERO) || m->init_on_alloc || (order && (gfp_flags & __GFP_COMP));
}

/* Zero the block and make it compound, as @gfp_flags ask (the rest of prep_new_page). */
static void prep_new_page_tail(struct kmm_machine *m, struct kmm_page *page, unsigned int order,
			       gfp_t gfp_flags)
{
	if ((gfp_flags & __GFP_ZERO) || m->init_on_alloc)
		memset(page_address(m, page), 0, PAGE_SIZE << order);
	if (order && (gfp_flags & __GFP_COMP))
		prep_compound_page(page, order);
}

static __kmm_always_inline void prep_new_page(struct kmm_machine *m, struct kmm_page *page,
					      unsigned int order, gfp_t gfp_flags)
{
	prep_new_page_head(m, page, order);
	if (unlikely(prep_new_page_more(m, order, gfp_flags)))
		prep_new_page_tail(m, page, order, gfp_flags);
}

/* --- Allocating ------------------------------------------------------------------------------ */

/* Take a page from this CPU's list for @zone (Linux rmqueue_pcplist), inline. */
static __kmm_always_inline struct kmm_page *
rmqueue_pcplist(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *preferred_zone,
		struct kmm_zone *zone, unsigned int order, int migratetype,
		unsigned int alloc_flags)
{
	struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu->id];
	struct list_head *list = &pcp->lists[order_to_pindex(migratetype, order)];
	/* An allocation ends a run of frees: batch frees shrink again. */
	pcp->free_factor >>= 1;
	struct kmm_page *page =
	    __rmqueue_pcplist(m, cpu, zone, order, migratetype, alloc_flags, pcp, list);
	if (likely(page)) {
		cpu_count_events(m, cpu, (enum vm_event_item)(PGALLOC_DMA + zone->type),
				 1L << order);
		zone_statistics(cpu, preferred_zone, zone, 1);
	}
	return page;
}

static __kmm_always_inline struct kmm_page *rmqueue(struct kmm_machine *m, struct kmm_cpu *cpu,
						    struct kmm_zone *preferred_zone,
						    struct kmm_zone *zone, unsigned int order,
						    unsigned int alloc_flags, int migratetype)
{
	struct kmm_page *page;
	if (likely(cpu && pcp_allowed_order(order) && zone->per_cpu_pageset &&
		   !m->pa->pcp_disabled)) {
		page =
		    rmqueue_pcplist(m, cpu, preferred_zone, zone, order, migratetype, alloc_flags);
		if (likely(page))
			goto out;
	}
	page = rmqueue_buddy(m, cpu, preferred_zone, zone, order, alloc_flags, migratetype);
out:
	if (unlikely(test_bit(ZONE_BOOSTED_WATERMARK, &zone->flags))) {
		clear_bit(ZONE_BOOSTED_WATERMARK, &zone->flags);
		if (m->hooks.wakeup_kswapd)
			m->hooks.wakeup_kswapd(zone, 0, 0, zone->type);
	}
	return page;
}

static __kmm_always_inline struct kmm_page *
__get_page_from_freelist(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
			 unsigned int alloc_flags, const struct alloc_context *ac)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	struct kmm_zone *preferred = ac->preferred_zoneref->zone;
retry:;
	bool no_fallback = alloc_flags & ALLOC_NOFRAGMENT;
	for (z = ac->preferred_zoneref, zone = z->zone; zone;
	     z = next_zones_zonelist(z, (int)ac->highest_zoneidx), zone = z->zone) {
		/* Going remote: locality beats fragmentation avoidance. */
		if (no_fallback && m->nr_online_nodes > 1 && zone != preferred &&
		    zone->node != preferred->node) {
			alloc_flags &= ~ALLOC_NOFRAGMENT;
			goto retry;
		}
		unsigned long mark = wmark_pages(zone, alloc_flags & ALLOC_WMARK_MASK);
		if (!zone_watermark_fast(zone, order, mark, (int)ac->highest_zoneidx, alloc_flags,
					 gfp_mask)) {
			if (unlikely(!READ_ONCE(m->deferred_done)) &&
			    deferred_grow_zone(zone, order))
				goto try_this_zone;
			if (!(alloc_flags & ALLOC_NO_WATERMARKS))
				continue;
		}
try_this_zone:;
		struct kmm_page *page =
		    rmqueue(m, ac->cpu, preferred, zone, order, alloc_flags, ac->migratetype);
		if (likely(page)) {
			prep_new_page(m, page, order, gfp_mask);
			if (unlikely(order && (alloc_flags & ALLOC_HARDER)))
				reserve_highatomic_pageblock(m, page, zone, order);
			return page;
		}
		if (unlikely(!READ_ONCE(m->deferred_done)) && deferred_grow_zone(zone, order))
			goto try_this_zone;
	}
	/* A single node where every zone fragments: allow fragmenting fallbacks. */
	if (no_fallback) {
		alloc_flags &= ~ALLOC_NOFRAGMENT;
		goto retry;
	}
	return NULL;
}

/* The slow path's entry to the same loop (the fast path inlines it). */
struct kmm_page *get_page_from_freelist(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
					unsigned int alloc_flags, const struct alloc_context *ac)
{
	return __get_page_from_freelist(m, gfp_mask, order, alloc_flags, ac);
}

/*
 * Normal allocations first avoid stealing pieces of other pageblocks while
 * a lower zone could serve them (Linux alloc_flags_nofragment).
 */
static __kmm_always_inline unsigned int alloc_flags_nofragment(struct kmm_machine *m,
							       struct kmm_zone *zone, gfp_t gfp)
{
	unsigned int alloc_flags = gfp & __GFP_KSWAPD_RECLAIM;
	if (!zone || zone->type != ZONE_NORMAL || !m->zone_in_arch[ZONE_DMA32])
		return alloc_flags;
	if (m->nr_online_nodes > 1 && !populated_zone(&zone->zone_pgdat->node_zones[ZONE_DMA32]))
		return alloc_flags;
	return alloc_flags | ALLOC_NOFRAGMENT;
}

/* Everything the fast path decides before touching a zone (prepare_alloc_pages). */
static __kmm_always_inline bool prepare_alloc_pages(struct kmm_machine *m, struct kmm_cpu *cpu,
						    gfp_t gfp, unsigned int order,
						    int preferred_nid, uintptr_t call_site,
						    struct alloc_context *ac)
{
	ac->cpu = cpu;
	ac->highest_zoneidx = gfp_zone(m, gfp);
	ac->zonelist = node_zonelist(m, preferred_nid, gfp & __GFP_THISNODE);
	ac->migratetype = gfp_migratetype(m, gfp);
	ac->preferred_nid = preferred_nid;
	ac->call_site = call_site;
	if (unlikely(should_fail_alloc_page(m, gfp, order)))
		return false;
	ac->preferred_zoneref = first_zones_zonelist(ac->zonelist, (int)ac->highest_zoneidx);
	return true;
}

/*
 * The general path, out of line: everything the fast path does not handle.
 * It finds the CPU again, so that the fast path keeps fewer values live.
 */
static __kmm_noinline struct kmm_page *alloc_pages_general(struct kmm_machine *m, gfp_t gfp,
							   unsigned int order, uintptr_t call_site);

/*
 * The end of a fast-path allocation that needs more than a pcp pop:
 * zeroing, a compound page, the trace point. Out of line, so that the fast
 * path makes tail calls only (below).
 */
static __kmm_noinline struct kmm_page *alloc_pages_fast_finish(struct kmm_machine *m,
							       struct kmm_page *page,
							       unsigned int order, gfp_t gfp,
							       int migratetype)
{
	prep_new_page_tail(m, page, order, gfp);
	kmm_trace(m, MM_PAGE_ALLOC, page_to_pfn(m, page), order, gfp, (uint64_t)migratetype);
	return page;
}

/*
 * Order 0: is @z above @mark plus the lowmem reserve with the highatomic
 * reserve set aside? The first test of zone_watermark_fast(); when it fails
 * the general path makes the full check.
 */
static __kmm_always_inline bool zone_watermark_order0(struct kmm_zone *z, unsigned long mark,
						      int highest_zoneidx)
{
	long free_pages = (long)zone_page_state(z, NR_FREE_PAGES);
	long reserved = __zone_watermark_unusable_free(z, 0, ALLOC_WMARK_LOW);
	long usable = free_pages - kmm_min(free_pages, reserved);
	return usable > (long)mark + READ_ONCE(z->lowmem_reserve[highest_zoneidx]);
}

/*
 * The fast path: the first zone of the zonelist is above its low watermark
 * and this CPU's list for it holds a page. This is exactly what the general
 * path does when its first zone succeeds, without the loop, the retry
 * logic or the alloc_context; anything else goes to the general path before
 * changing anything, and that starts over.
 *
 * For order 0 every call it makes is a tail call (the general path; the
 * watermark test that needs the free lists is the general path's; zeroing
 * and tracing in alloc_pages_fast_finish()), so the compiler saves no
 * registers on the way in and out.
 */
static __kmm_always_inline struct kmm_page *alloc_pages_fast(struct kmm_machine *m,
							     struct kmm_cpu *cpu, gfp_t gfp,
							     unsigned int order,
							     uintptr_t call_site)
{
	int nid = cpu->node;
	if (unlikely(!pcp_allowed_order(order) || READ_ONCE(m->fail_page_alloc.enabled) ||
		     m->pa->pcp_disabled))
		goto general;
	enum zone_type highest = gfp_zone(m, gfp);
	struct kmm_zone *zone =
	    m->node_data[nid]->first_zoneref[!!(gfp & __GFP_THISNODE)][highest]->zone;
	if (unlikely(!zone || !zone->per_cpu_pageset))
		goto general;
	/* ALLOC_NOFRAGMENT and ALLOC_KSWAPD only matter past a pcp hit: not needed here. */
	unsigned long mark = wmark_pages(zone, WMARK_LOW);
	if (!order) {
		if (unlikely(!zone_watermark_order0(zone, mark, (int)highest)))
			goto general;
	} else if (unlikely(!zone_watermark_fast(zone, order, mark, (int)highest, ALLOC_WMARK_LOW,
						 gfp))) {
		goto general;
	}
	int migratetype = gfp_migratetype(m, gfp);
	struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu->id];
	struct list_head *list = &pcp->lists[order_to_pindex(migratetype, order)];
	if (unlikely(list_empty(list) || test_bit(ZONE_BOOSTED_WATERMARK, &zone->flags)))
		goto general;
	pcp->free_factor >>= 1;
	struct kmm_page *page = list_first_entry(list, struct kmm_page, lru);
	list_del(&page->lru);
	WRITE_ONCE(pcp->count, pcp->count - (1 << order));
	cpu_count_events(m, cpu, (enum vm_event_item)(PGALLOC_DMA + zone->type), 1L << order);
	/*
	 * zone_statistics() for zone == preferred: a NUMA hit. per_cpu_zonestats
	 * exists wherever per_cpu_pageset does (pcp_init allocates both).
	 */
	unsigned long *ev = zone->per_cpu_zonestats[cpu->id].vm_numa_event;
	enum numa_stat_item where = zone->node == cpu->node ? NUMA_LOCAL : NUMA_OTHER;
	WRITE_ONCE(ev[NUMA_HIT], ev[NUMA_HIT] + 1);
	WRITE_ONCE(ev[where], ev[where] + 1);
	prep_new_page_head(m, page, order);
	if (unlikely(prep_new_page_more(m, order, gfp) ||
		     trace_on(m, KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_ALLOC))))
		return alloc_pages_fast_finish(m, page, order, gfp, migratetype);
	return page;
general:
	return alloc_pages_general(m, gfp, order, call_site);
}

static __kmm_always_inline struct kmm_page *alloc_pages_cpu(struct kmm_machine *m,
							    struct kmm_cpu *cpu, gfp_t gfp,
							    unsigned int order, int preferred_nid,
							    uintptr_t call_site)
{
	struct alloc_context ac;
	unsigned int alloc_flags = ALLOC_WMARK_LOW;
	struct kmm_page *page = NULL;

	if (unlikely(order > MAX_PAGE_ORDER)) {
		if (!(gfp & __GFP_NOWARN))
			pr_warn(m,
				"kmm: page allocation of order %u refused: the largest order is %d",
				order, MAX_PAGE_ORDER);
		return NULL;
	}
	gfp &= __GFP_BITS_MASK;
	if (unlikely(!prepare_alloc_pages(m, cpu, gfp, order, preferred_nid, call_site, &ac))) {
		cpu_count_events(m, cpu, KMM_ALLOC_FAIL, 1);
		return NULL;
	}
	alloc_flags |= alloc_flags_nofragment(m, ac.preferred_zoneref->zone, gfp);
	if (likely(ac.preferred_zoneref->zone))
		page = __get_page_from_freelist(m, gfp, order, alloc_flags, &ac);
	if (unlikely(!page)) {
		page = __alloc_pages_slowpath(m, gfp, order, &ac);
		if (!page) {
			cpu_count_events(m, cpu, KMM_ALLOC_FAIL, 1);
			trace_mm_page_alloc(m, KMM_TRACE_NO_PFN, order, gfp, ac.migratetype);
			return NULL;
		}
	}
	kmm_trace(m, MM_PAGE_ALLOC, page_to_pfn(m, page), order, gfp, (uint64_t)ac.migratetype);
	return page;
}

static __kmm_noinline struct kmm_page *alloc_pages_general(struct kmm_machine *m, gfp_t gfp,
							   unsigned int order, uintptr_t call_site)
{
	struct kmm_cpu *cpu = this_cpu(m);
	return alloc_pages_cpu(m, cpu, gfp, order, cpu ? cpu->node : 0, call_site);
}

struct kmm_page *__alloc_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order,
			       int preferred_nid, uintptr_t call_site)
{
	return alloc_pages_cpu(m, this_cpu(m), gfp, order, preferred_nid, call_site);
}

/* Orders above 0 on a CPU: their fast path makes real calls, so it has its own function. */
static __kmm_noinline struct kmm_page *alloc_pages_order(struct kmm_machine *m, struct kmm_cpu *cpu,
							 gfp_t gfp, unsigned int order,
							 uintptr_t call_site)
{
	return alloc_pages_fast(m, cpu, gfp, order, call_site);
}

struct kmm_page *kmm_alloc_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order)
{
	struct kmm_cpu *cpu = this_cpu(m);
	uintptr_t call_site = (uintptr_t)__builtin_return_address(0);
	if (unlikely(!cpu))
		return alloc_pages_general(m, gfp, order, call_site);
	gfp &= __GFP_BITS_MASK;
	if (unlikely(order))
		return alloc_pages_order(m, cpu, gfp, order, call_site);
	return alloc_pages_fast(m, cpu, gfp, 0, call_site);
}

struct kmm_page *kmm_alloc_pages_node(struct kmm_machine *m, int nid, gfp_t gfp, unsigned int order)
{
	struct kmm_cpu *cpu = this_cpu(m);
	if (unlikely(nid < 0 || nid >= m->nr_node_ids))
		nid = cpu ? cpu->node : 0;
	return alloc_pages_cpu(m, cpu, gfp, order, nid, (uintptr_t)__builtin_return_address(0));
}

void *kmm_get_free_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order)
{
	struct kmm_cpu *cpu = this_cpu(m);
	struct kmm_page *page =
	    alloc_pages_cpu(m, cpu, gfp & ~__GFP_HIGHMEM, order, cpu ? cpu->node : 0,
			    (uintptr_t)__builtin_return_address(0));
	return page ? page_address(m, page) : NULL;
}

void *kmm_get_zeroed_page(struct kmm_machine *m, gfp_t gfp)
{
	return kmm_get_free_pages(m, gfp | __GFP_ZERO, 0);
}

/* --- Freeing ------------------------------------------------------------------------------------ */

static __kmm_cold void free_compound_tails(struct kmm_machine *m, struct kmm_page *page,
					   unsigned int order)
{
	for (unsigned long i = 1; i < (1UL << order); i++) {
		struct kmm_page *p = page + i;
		if (unlikely(compound_head(p) != page))
			bad_page(m, p, "corrupted compound tail");
		p->compound_head = 0;
		p->mapping = NULL;
	}
	atomic_set(&page[1].compound_mapcount, -1);
	page[1].compound_order = 0;
	page[1].compound_nr = 0;
	__ClearPageHead(page);
}

/*
 * An anonymous page keeps its anon_vma (page->mapping with the low bit set)
 * until it is freed; the free forgets it (Linux: PageMappingFlags in
 * free_pages_prepare). Every free path calls this.
 */
static __kmm_always_inline void free_page_anon_mapping(struct kmm_page *page)
{
	if (unlikely((uintptr_t)page->mapping & 1))
		page->mapping = NULL;
}

/*
 * Checks and clean-up before a block returns to the allocator: the page
 * must be unused and unmapped; compound tails are unlinked; the page flags
 * are cleared (Linux free_pages_prepare).
 */
static __kmm_always_inline void free_pages_prepare(struct kmm_machine *m, struct kmm_page *page,
						   unsigned int order)
{
	if (unlikely(PageHead(page)))
		free_compound_tails(m, page, order);
	/* Still on an LRU list, or mlocked: reclaim/ takes it off (Linux __page_cache_release). */
	if (unlikely(page->flags & (1UL << PG_lru | 1UL << PG_mlocked)) &&
	    m->hooks.lru_page_release)
		m->hooks.lru_page_release(m, page);
	free_page_anon_mapping(page);
	if (KMM_DEBUG >= 1)
		for (unsigned long i = 0; i < (1UL << order); i++)
			check_free_page(m, page + i);
	/* Scanners of a pageblock (move_freepages) read the flags of pages they do not own. */
	WRITE_ONCE(page->flags, page->flags & ~PAGE_FLAGS_MASK);
}

/* Free a block bypassing the per-CPU lists (Linux __free_pages_ok). */
void __free_pages_ok(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned int order)
{
	free_pages_prepare(m, page, order);
	struct kmm_zone *zone = page_zone(m, page);
	unsigned long pfn = page_to_pfn(m, page);
	kmm_trace(m, MM_PAGE_FREE, pfn, order);
	free_one_page(m, cpu, zone, page, pfn, order, get_pfnblock_migratetype(zone, pfn));
	cpu_count_events(m, cpu, PGFREE, 1L << order);
}

/*
 * Free a block of a pcp order with refcount zero onto this CPU's list
 * (Linux free_unref_page and free_unref_page_commit), inline; trimming the
 * list when it passes its high mark is out of line.
 */
static __kmm_always_inline void free_unref_page(struct kmm_machine *m, struct kmm_cpu *cpu,
						struct kmm_page *page, unsigned int order)
{
	free_pages_prepare(m, page, order);
	struct kmm_zone *zone = page_zone(m, page);
	unsigned long pfn = page_to_pfn(m, page);
	int migratetype = get_pfnblock_migratetype(zone, pfn);
	set_pcppage_migratetype(page, migratetype);
	kmm_trace(m, MM_PAGE_FREE, pfn, order);
	/* Only the pcp migratetypes have lists; highatomic goes on the movable one. */
	if (unlikely(migratetype >= MIGRATE_PCPTYPES)) {
		if (unlikely(is_migrate_isolate(migratetype)))
			goto buddy;
		migratetype = MIGRATE_MOVABLE;
	}
	if (unlikely(!cpu || !zone->per_cpu_pageset || m->pa->pcp_disabled))
		goto buddy;
	struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu->id];
	int pindex = order_to_pindex(migratetype, order);
	cpu_count_events(m, cpu, PGFREE, 1L << order);
	list_add(&page->lru, &pcp->lists[pindex]);
	WRITE_ONCE(pcp->count, pcp->count + (1 << order));
	if (unlikely(pcp_over_high(pcp, zone, pcp_free_high(pcp, order))))
		free_pcp_high(m, cpu, zone, pcp, order, pindex);
	return;
buddy:
	free_one_page(m, cpu, zone, page, pfn, order, migratetype);
	cpu_count_events(m, cpu, PGFREE, 1L << order);
}

void __free_the_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned int order)
{
	if (likely(pcp_allowed_order(order)))
		free_unref_page(m, cpu, page, order);
	else
		__free_pages_ok(m, cpu, page, order);
}

void free_the_page(struct kmm_machine *m, struct kmm_page *page, unsigned int order)
{
	__free_the_page(m, this_cpu(m), page, order);
}

static __kmm_cold void bad_free(struct kmm_machine *m, struct kmm_page *page, unsigned int order,
				int refcount)
{
	char buf[160];
	kmm_port_snprintf(
	    buf, sizeof(buf),
	    "kmm_free_pages: pfn %#lx order %u is not allocated (refcount %d): double "
	    "free or a pointer the page allocator did not return",
	    page_to_pfn(m, page), order, refcount);
	kmm_dump_page(page, buf);
	KMM_BUG_ON_MSG(1, "%s", buf);
}

/* The zone of a page from its flags word (page_zone() without reading the page again). */
static __kmm_always_inline struct kmm_zone *flags_zone(const struct kmm_machine *m,
						       unsigned long flags)
{
	return &m->node_data[(flags >> NODES_PGSHIFT) & NODES_MASK]
		    ->node_zones[(flags >> ZONES_PGSHIFT) & ZONES_MASK];
}

/* free_unref_page() out of line: whatever the fast paths below leave to it. */
static __kmm_noinline void free_unref_page_slow(struct kmm_machine *m, struct kmm_cpu *cpu,
						struct kmm_page *page, unsigned int order)
{
	free_unref_page(m, cpu, page, order);
}

/*
 * Onto this CPU's list with a pcp migratetype: the end of free_unref_page()
 * when nothing is unusual. @flags is the page's flags word read before its
 * refcount fell to zero: the zone, node and section bits never change and
 * the rest is cleared here, so it stands for a fresh read.
 */
static __kmm_always_inline void free_unref_page_commit(struct kmm_machine *m, struct kmm_cpu *cpu,
						       struct kmm_zone *zone,
						       struct per_cpu_pages *pcp,
						       struct kmm_page *page, unsigned long flags,
						       unsigned int order, int migratetype)
{
	free_page_anon_mapping(page);
	if (KMM_DEBUG >= 1)
		for (unsigned long i = 0; i < (1UL << order); i++)
			check_free_page(m, page + i);
	WRITE_ONCE(page->flags, flags & ~PAGE_FLAGS_MASK);
	set_pcppage_migratetype(page, migratetype);
	list_add(&page->lru, &pcp->lists[order_to_pindex(migratetype, order)]);
	WRITE_ONCE(pcp->count, pcp->count + (1 << order));
}

/*
 * The fast path of kmm_free_pages(): a block that is not compound, of a
 * pcp order, in a pageblock of a pcp migratetype, onto this CPU's list
 * (free_unref_page() when nothing is unusual). Anything else goes to
 * free_unref_page() before changing anything. Every call it makes is a
 * tail call, so the compiler saves no registers on the way in and out.
 */
static __kmm_always_inline void free_unref_page_fast(struct kmm_machine *m, struct kmm_cpu *cpu,
						     struct kmm_page *page, unsigned long flags,
						     unsigned int order)
{
	struct kmm_zone *zone = flags_zone(m, flags);
	/*
	 * PG_lru is read again now that the count is zero: whoever held the
	 * other reference may have put the page on an LRU list (or mlocked it)
	 * since @flags was read, and only the slow path takes it off.
	 */
	if (unlikely((flags & (1UL << PG_head)) ||
		     (READ_ONCE(page->flags) & (1UL << PG_lru | 1UL << PG_mlocked)) || !cpu ||
		     !zone->per_cpu_pageset || m->pa->pcp_disabled ||
		     trace_on(m, KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE))))
		return free_unref_page_slow(m, cpu, page, order);
	int migratetype = get_pfnblock_migratetype(zone, page_to_pfn(m, page));
	if (unlikely(migratetype >= MIGRATE_PCPTYPES))
		return free_unref_page_slow(m, cpu, page, order);
	struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu->id];
	cpu_count_events(m, cpu, PGFREE, 1L << order);
	free_unref_page_commit(m, cpu, zone, pcp, page, flags, order, migratetype);
	if (unlikely(pcp_over_high(pcp, zone, pcp_free_high(pcp, order))))
		free_pcp_high(m, cpu, zone, pcp, order, order_to_pindex(migratetype, order));
}

/*
 * kmm_free_pages() dropped a reference that was not the last one, or one
 * that did not exist (a negative count: a double free, caught before the
 * page reaches any list).
 */
static __kmm_noinline void free_pages_not_last(struct kmm_machine *m, struct kmm_page *page,
					       unsigned int order, unsigned long flags)
{
	int refcount = page_ref_count(page);
	if (unlikely(refcount < 0))
		bad_free(m, page, order, refcount + 1);
	if (!(flags & (1UL << PG_head))) {
		/* Someone else holds the first page: free the rest of the block. */
		struct kmm_cpu *cpu = this_cpu(m);
		while (order-- > 0)
			__free_the_page(m, cpu, page + (1UL << order), order);
	}
}

/* Orders above 0: like alloc_pages_order(), their own copy of the fast path. */
static __kmm_noinline void free_pages_order(struct kmm_machine *m, struct kmm_page *page,
					    unsigned long flags, unsigned int order)
{
	if (likely(pcp_allowed_order(order)))
		return free_unref_page_fast(m, this_cpu(m), page, flags, order);
	__free_pages_ok(m, this_cpu(m), page, order);
}

void kmm_free_pages(struct kmm_machine *m, struct kmm_page *page, unsigned int order)
{
	/* Whether it is compound must be read first: once our reference is gone it is not ours. */
	unsigned long flags = READ_ONCE(page->flags);
	if (unlikely(!put_page_testzero(page)))
		return free_pages_not_last(m, page, order, flags);
	/* Order 0 with the order a constant: the shifts and order tests fold away. */
	if (unlikely(order))
		return free_pages_order(m, page, flags, order);
	return free_unref_page_fast(m, this_cpu(m), page, flags, 0);
}

void kmm_put_page(struct kmm_machine *m, struct kmm_page *page)
{
	page = compound_head(page);
	if (unlikely(page_ref_count(page) <= 0))
		bad_free(m, page, compound_order(page), page_ref_count(page));
	if (put_page_testzero(page))
		free_the_page(m, page, compound_order(page));
}

void kmm_free_pages_addr(struct kmm_machine *m, void *addr, unsigned int order)
{
	if (!addr)
		return;
	KMM_BUG_ON_MSG(!virt_addr_in_ram(m, addr) || ((uintptr_t)addr & (PAGE_SIZE - 1)),
		       "kmm_free_pages_addr: %p is not a page of this machine's RAM", addr);
	kmm_free_pages(m, virt_to_page(m, addr), order);
}

/* --- Bulk ---------------------------------------------------------------------------------------- */

unsigned long kmm_alloc_pages_bulk(struct kmm_machine *m, gfp_t gfp, unsigned long nr,
				   struct kmm_page **pages)
{
	unsigned long populated = 0, accounted = 0;
	struct alloc_context ac;
	unsigned int alloc_flags = ALLOC_WMARK_LOW;
	struct kmm_zone *zone = NULL;
	struct zoneref *z;
	struct kmm_cpu *cpu = this_cpu(m);
	uintptr_t call_site = (uintptr_t)__builtin_return_address(0);

	while (populated < nr && pages[populated])
		populated++;
	if (populated == nr)
		return populated;
	if (nr - populated == 1 || !cpu || m->pa->pcp_disabled)
		goto failed;
	gfp &= __GFP_BITS_MASK;
	if (!prepare_alloc_pages(m, cpu, gfp, 0, cpu->node, call_site, &ac))
		return populated;
	if (!ac.preferred_zoneref->zone)
		goto failed;
	alloc_flags |= alloc_flags_nofragment(m, ac.preferred_zoneref->zone, gfp);

	/* A local zone that stays above its low watermark after all of them. */
	for_each_zone_zonelist (zone, z, ac.zonelist, (int)ac.highest_zoneidx) {
		if (m->nr_online_nodes > 1 && zone != ac.preferred_zoneref->zone &&
		    zone->node != ac.preferred_zoneref->zone->node) {
			zone = NULL;
			break;
		}
		unsigned long mark = wmark_pages(zone, alloc_flags & ALLOC_WMARK_MASK) + nr;
		if (zone_watermark_fast(zone, 0, mark, ac.preferred_zoneref->zone_idx, alloc_flags,
					gfp))
			break;
	}
	if (!zone || !zone->per_cpu_pageset)
		goto failed;

	struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu->id];
	struct list_head *list = &pcp->lists[order_to_pindex(ac.migratetype, 0)];
	pcp->free_factor >>= 1;
	/* Whether pages need zeroing is decided once. */
	bool more = prep_new_page_more(m, 0, gfp);
	while (populated < nr) {
		if (pages[populated]) {
			populated++;
			continue;
		}
		struct kmm_page *page;
		if (likely(!list_empty(list))) {
			page = list_first_entry(list, struct kmm_page, lru);
			list_del(&page->lru);
			WRITE_ONCE(pcp->count, pcp->count - 1);
		} else {
			page = rmqueue_pcplist_refill(m, cpu, zone, 0, ac.migratetype, alloc_flags,
						      pcp, list);
		}
		if (unlikely(!page)) {
			if (!accounted)
				goto failed;
			break;
		}
		accounted++;
		prep_new_page_head(m, page, 0);
		if (unlikely(more))
			prep_new_page_tail(m, page, 0, gfp);
		pages[populated++] = page;
	}
	cpu_count_events(m, cpu, (enum vm_event_item)(PGALLOC_DMA + zone->type), (long)accounted);
	zone_statistics(cpu, ac.preferred_zoneref->zone, zone, (long)accounted);
	return populated;

failed:;
	struct kmm_page *page = alloc_pages_cpu(m, cpu, gfp, 0, cpu ? cpu->node : 0, call_site);
	if (page)
		pages[populated++] = page;
	return populated;
}

/*
 * Like kmm_free_pages(page, 0) for each page, with what consecutive pages
 * share looked up once: the CPU, the zone, its list and high mark, the
 * pageblock's migratetype (nothing here allocates, so no pageblock changes
 * type meanwhile), and the PGFREE count.
 */
void kmm_free_pages_bulk(struct kmm_machine *m, struct kmm_page **pages, unsigned long nr)
{
	struct kmm_cpu *cpu = this_cpu(m);
	struct kmm_zone *zone = NULL;
	struct per_cpu_pages *pcp = NULL;
	const unsigned long zone_id_mask =
	    (ZONES_MASK << ZONES_PGSHIFT) | (NODES_MASK << NODES_PGSHIFT);
	unsigned long zone_id = ~0UL, block = ~0UL, freed = 0;
	int high = 0, block_mt = 0;
	uintptr_t memmap_base = m->memmap_base;
	/* The conditions of free_unref_page_fast() that do not depend on the page. */
	bool fast = cpu && !m->pa->pcp_disabled &&
		    !trace_on(m, KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE) |
				     KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE_BATCHED));

	for (unsigned long i = 0; i < nr; i++) {
		struct kmm_page *page = pages[i];
		if (!page)
			continue;
		unsigned long flags = READ_ONCE(page->flags);
		if (unlikely(!put_page_testzero(page))) {
			int refcount = page_ref_count(page);
			if (unlikely(refcount < 0))
				bad_free(m, page, 0, refcount + 1);
			continue;
		}
		/* PG_lru read again now, as in free_unref_page_fast(). */
		if (unlikely(!fast || (flags & (1UL << PG_head)) ||
			     (READ_ONCE(page->flags) & (1UL << PG_lru | 1UL << PG_mlocked))))
			goto slow;
		if (unlikely((flags & zone_id_mask) != zone_id)) {
			zone_id = flags & zone_id_mask;
			zone = flags_zone(m, flags);
			pcp = zone->per_cpu_pageset ? &zone->per_cpu_pageset[cpu->id] : NULL;
			high = pcp ? nr_pcp_high(pcp, zone, false) : 0;
			block = ~0UL;
		}
		if (unlikely(!pcp))
			goto slow;
		unsigned long pfn = likely(memmap_base)
					? ((uintptr_t)page - memmap_base) / sizeof(struct kmm_page)
					: page_to_pfn(m, page);
		if (unlikely(pfn >> pageblock_order != block)) {
			block = pfn >> pageblock_order;
			block_mt = get_pfnblock_migratetype(zone, pfn);
		}
		if (unlikely(block_mt >= MIGRATE_PCPTYPES))
			goto slow;
		free_unref_page_commit(m, cpu, zone, pcp, page, flags, 0, block_mt);
		freed++;
		if (unlikely(pcp->count >= high)) {
			free_pcp_high(m, cpu, zone, pcp, 0, order_to_pindex(block_mt, 0));
			high = nr_pcp_high(pcp, zone, false);
		}
		continue;
slow:
		free_unref_page_slow(m, cpu, page, 0);
		trace_mm_page_free_batched(m, page_to_pfn(m, page));
		zone_id = ~0UL; /* it may have trimmed a list: look everything up again */
	}
	if (freed)
		cpu_count_events(m, cpu, PGFREE, (long)freed);
}

unsigned long kmm_nr_free_pages(struct kmm_machine *m)
{
	return global_zone_page_state(m, NR_FREE_PAGES);
}

void kmm_page_alloc_set_options(struct kmm_machine *m, const struct kmm_page_alloc_options *o)
{
	WRITE_ONCE(m->init_on_alloc, o->init_on_alloc);
	if (o->pcp_disabled && !m->pa->pcp_disabled)
		kmm_drain_all_pages(m);
	m->pa->pcp_disabled = o->pcp_disabled;
}

/* --- Boot ---------------------------------------------------------------------------------------- */

/* memblock hands boot memory over: to the tail of the lists (Linux __free_pages_core). */
static void free_boot_pages(struct kmm_machine *m, struct kmm_page *page, unsigned int order)
{
	struct kmm_zone *zone = page_zone(m, page);
	unsigned long pfn = page_to_pfn(m, page);
	spin_lock(&zone->lock);
	__free_one_page(m, NULL, page, pfn, zone, order, get_pfnblock_migratetype(zone, pfn),
			FPI_TO_TAIL);
	spin_unlock(&zone->lock);
	cpu_count_events(m, NULL, PGFREE, 1L << order);
}

int page_alloc_init(struct kmm_machine *m, struct kmm_error *err)
{
	m->buddy = m->cfg.buddy;
	m->pa = memblock_alloc_try_nid(m, sizeof(*m->pa), KMM_CACHELINE, 0);
	if (!m->pa || pcp_init(m) || buddy_bitmap_init(m))
		return kmm_error_set(err, -ENOMEM, "no boot memory for the page allocator");
	spin_lock_init(&m->pa->warn_lock);
	gfp_zone_table_init(m);
	m->hooks.free_boot_pages = free_boot_pages;
	return 0;
}

void page_alloc_destroy(struct kmm_machine *m)
{
	if (!m->pa)
		return;
	buddy_bitmap_destroy(m);
	m->pa = NULL; /* it lived in simulated RAM */
}
