/*
 * The allocation slow path: wake kswapd, use reserves, reclaim directly,
 * retry, call the OOM killer, or fail with a warning.
 *
 * Linux: mm/page_alloc.c of 6.1 (__alloc_pages_slowpath, gfp_to_alloc_flags,
 * __gfp_pfmemalloc_flags, wake_all_kswapds, __alloc_pages_direct_reclaim,
 * should_reclaim_retry, __alloc_pages_may_oom, warn_alloc), and
 * mm/fail_page_alloc.c.
 *
 * Reclaim and the OOM killer live in reclaim/, above this layer; they are
 * reached through m->hooks, which reclaim/ fills at its initialisation. With
 * no hooks (a machine without reclaim), the slow path still does everything
 * else: lower watermarks for atomic allocations, draining the per-CPU lists,
 * releasing the highatomic reserve, and failing cleanly.
 */
#include "internal.h"
#include <string.h>

#define MAX_RECLAIM_RETRIES 16

bool __should_fail_alloc_page(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order)
{
	struct kmm_fault_attr *attr = &m->fail_page_alloc;
	if (order < attr->min_order || (gfp_mask & __GFP_NOFAIL))
		return false;
	if (attr->ignore_gfp_highmem && (gfp_mask & __GFP_HIGHMEM))
		return false;
	if (attr->ignore_gfp_reclaim && (gfp_mask & __GFP_DIRECT_RECLAIM))
		return false;
	return kmm_should_fail(attr, PAGE_SIZE << order);
}

static unsigned int gfp_to_alloc_flags(gfp_t gfp_mask)
{
	unsigned int alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET;
	/* __GFP_HIGH is ALLOC_HIGH and __GFP_KSWAPD_RECLAIM is ALLOC_KSWAPD, bit for bit. */
	alloc_flags |= gfp_mask & (__GFP_HIGH | __GFP_KSWAPD_RECLAIM);
	if (gfp_mask & __GFP_ATOMIC) {
		if (!(gfp_mask & __GFP_NOMEMALLOC))
			alloc_flags |= ALLOC_HARDER;
		alloc_flags &= ~ALLOC_CPUSET;
	}
	return alloc_flags;
}

static unsigned int gfp_pfmemalloc_flags(gfp_t gfp_mask)
{
	if (gfp_mask & __GFP_NOMEMALLOC)
		return 0;
	if (gfp_mask & __GFP_MEMALLOC)
		return ALLOC_NO_WATERMARKS;
	return 0;
}

static void wake_all_kswapds(struct kmm_machine *m, unsigned int order, gfp_t gfp_mask,
			     const struct alloc_context *ac)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	int last_nid = -1;
	count_vm_event(m, KMM_KSWAPD_WAKEUP_REQ);
	if (!m->hooks.wakeup_kswapd)
		return;
	for_each_zone_zonelist (zone, z, ac->zonelist, (int)ac->highest_zoneidx) {
		if (zone->node == last_nid)
			continue;
		m->hooks.wakeup_kswapd(zone, gfp_mask, order, ac->highest_zoneidx);
		last_nid = zone->node;
	}
}

static struct kmm_page *__alloc_pages_direct_reclaim(struct kmm_machine *m, gfp_t gfp_mask,
						     unsigned int order, unsigned int alloc_flags,
						     const struct alloc_context *ac,
						     unsigned long *did_some_progress)
{
	struct kmm_page *page;
	bool drained = false;
	count_vm_event(m, KMM_DIRECT_RECLAIM_REQ);
	*did_some_progress = 0;
	if (m->hooks.try_to_free_pages)
		*did_some_progress = m->hooks.try_to_free_pages(m, ac->zonelist, order, gfp_mask);
retry:
	page = get_page_from_freelist(m, gfp_mask, order, alloc_flags, ac);
	/* Pages may be pinned on per-CPU lists or in the highatomic reserve. */
	if (!page && !drained) {
		unreserve_highatomic_pageblock(m, ac, false);
		kmm_drain_all_pages(m);
		drained = true;
		goto retry;
	}
	return page;
}

static unsigned long zone_reclaimable_pages(struct kmm_machine *m, struct kmm_zone *zone)
{
	unsigned long nr = zone_page_state_snapshot(zone, NR_ZONE_INACTIVE_FILE) +
			   zone_page_state_snapshot(zone, NR_ZONE_ACTIVE_FILE);
	if (m->hooks.nr_swap_pages && m->hooks.nr_swap_pages(m) > 0)
		nr += zone_page_state_snapshot(zone, NR_ZONE_INACTIVE_ANON) +
		      zone_page_state_snapshot(zone, NR_ZONE_ACTIVE_ANON);
	return nr;
}

/*
 * Is reclaiming worth another round? Only while some zone could meet its min
 * watermark if everything reclaimable were reclaimed, and not after
 * MAX_RECLAIM_RETRIES rounds without progress (should_reclaim_retry).
 */
static bool should_reclaim_retry(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
				 const struct alloc_context *ac, unsigned int alloc_flags,
				 bool did_some_progress, int *no_progress_loops)
{
	struct zoneref *z;
	struct kmm_zone *zone;
	if (did_some_progress && order <= PAGE_ALLOC_COSTLY_ORDER)
		*no_progress_loops = 0;
	else
		(*no_progress_loops)++;
	if (*no_progress_loops > MAX_RECLAIM_RETRIES)
		return unreserve_highatomic_pageblock(m, ac, true);
	for_each_zone_zonelist (zone, z, ac->zonelist, (int)ac->highest_zoneidx) {
		unsigned long available = zone_reclaimable_pages(m, zone);
		available += zone_page_state_snapshot(zone, NR_FREE_PAGES);
		if (__zone_watermark_ok(zone, order, min_wmark_pages(zone),
					(int)ac->highest_zoneidx, alloc_flags, (long)available))
			return true;
	}
	return false;
}

static struct kmm_page *__alloc_pages_may_oom(struct kmm_machine *m, gfp_t gfp_mask,
					      unsigned int order, const struct alloc_context *ac,
					      unsigned long *did_some_progress)
{
	*did_some_progress = 0;
	/* Someone freed memory meanwhile? Try at the high watermark first. */
	struct kmm_page *page =
	    get_page_from_freelist(m, (gfp_mask | __GFP_HARDWALL) & ~__GFP_DIRECT_RECLAIM, order,
				   ALLOC_WMARK_HIGH | ALLOC_CPUSET, ac);
	if (page)
		return page;
	/* The OOM killer does not help costly orders or callers that can fail. */
	if (order > PAGE_ALLOC_COSTLY_ORDER || (gfp_mask & __GFP_RETRY_MAYFAIL) ||
	    ac->highest_zoneidx < ZONE_NORMAL || (gfp_mask & __GFP_THISNODE))
		return NULL;
	if (m->hooks.out_of_memory && m->hooks.out_of_memory(m, gfp_mask, order))
		*did_some_progress = 1;
	return NULL;
}

struct kmm_page *__alloc_pages_slowpath(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
					struct alloc_context *ac)
{
	bool can_direct_reclaim = gfp_mask & __GFP_DIRECT_RECLAIM;
	const bool costly_order = order > PAGE_ALLOC_COSTLY_ORDER;
	struct kmm_page *page = NULL;
	unsigned int alloc_flags;
	unsigned long did_some_progress;
	int no_progress_loops = 0;
	unsigned long nofail_loops = 0;

	if ((gfp_mask & (__GFP_ATOMIC | __GFP_DIRECT_RECLAIM)) ==
	    (__GFP_ATOMIC | __GFP_DIRECT_RECLAIM))
		gfp_mask &= ~__GFP_ATOMIC;
	alloc_flags = gfp_to_alloc_flags(gfp_mask);
	ac->preferred_zoneref = first_zones_zonelist(ac->zonelist, (int)ac->highest_zoneidx);
	if (!ac->preferred_zoneref->zone)
		goto nopage;
	if (alloc_flags & ALLOC_KSWAPD)
		wake_all_kswapds(m, order, gfp_mask, ac);
	/* The lowered watermark may already be enough. */
	page = get_page_from_freelist(m, gfp_mask, order, alloc_flags, ac);
	if (page)
		goto got_pg;

retry:
	if (alloc_flags & ALLOC_KSWAPD)
		wake_all_kswapds(m, order, gfp_mask, ac);
	unsigned int reserve_flags = gfp_pfmemalloc_flags(gfp_mask);
	if (reserve_flags)
		alloc_flags = reserve_flags | (alloc_flags & ALLOC_KSWAPD);
	page = get_page_from_freelist(m, gfp_mask, order, alloc_flags, ac);
	if (page)
		goto got_pg;
	if (!can_direct_reclaim)
		goto nopage;
	page =
	    __alloc_pages_direct_reclaim(m, gfp_mask, order, alloc_flags, ac, &did_some_progress);
	if (page)
		goto got_pg;
	if (gfp_mask & __GFP_NORETRY)
		goto nopage;
	if (costly_order && !(gfp_mask & __GFP_RETRY_MAYFAIL))
		goto nopage;
	if (should_reclaim_retry(m, gfp_mask, order, ac, alloc_flags, did_some_progress > 0,
				 &no_progress_loops))
		goto retry;
	page = __alloc_pages_may_oom(m, gfp_mask, order, ac, &did_some_progress);
	if (page)
		goto got_pg;
	if (did_some_progress) {
		no_progress_loops = 0;
		goto retry;
	}

nopage:
	if (gfp_mask & __GFP_NOFAIL) {
		/* Never fail: dip into reserves, and keep trying while others may free. */
		page =
		    get_page_from_freelist(m, gfp_mask, order, ALLOC_HARDER | ALLOC_WMARK_MIN, ac);
		if (page)
			goto got_pg;
		page = get_page_from_freelist(m, gfp_mask, order, ALLOC_NO_WATERMARKS, ac);
		if (page)
			goto got_pg;
		KMM_BUG_ON_MSG(!m->hooks.out_of_memory && ++nofail_loops > 100000,
			       "__GFP_NOFAIL order-%u allocation cannot be satisfied: the machine "
			       "has no free memory and no reclaim or OOM killer to make some",
			       order);
		kmm_port_yield();
		if (!can_direct_reclaim)
			goto nopage;
		goto retry;
	}
	warn_alloc(m, gfp_mask, ac->call_site, "page allocation failure: order:%u", order);
	return NULL;
got_pg:
	return page;
}

/* Linux show_free_areas(), reduced to the zones: free, watermarks, free blocks by order. */
static void show_free_areas(struct kmm_machine *m, enum zone_type highest)
{
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone) {
		if (zone->type > highest)
			continue;
		pr_warn(m,
			"Node %d %s free:%lukB boost:%lukB min:%lukB low:%lukB high:%lukB "
			"present:%lukB managed:%lukB",
			zone->node, zone->name, zone_page_state_snapshot(zone, NR_FREE_PAGES) * 4,
			READ_ONCE(zone->watermark_boost) * 4, min_wmark_pages(zone) * 4,
			low_wmark_pages(zone) * 4, high_wmark_pages(zone) * 4,
			zone->present_pages * 4, zone_managed_pages(zone) * 4);
		char line[400];
		int n =
		    kmm_port_snprintf(line, sizeof(line), "Node %d %s: ", zone->node, zone->name);
		unsigned long total = 0;
		for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++) {
			unsigned long nr = READ_ONCE(zone->free_area[o].nr_free);
			total += nr << o;
			n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, "%lu*%lukB ", nr,
					       4UL << o);
		}
		kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, "= %lukB", total * 4);
		pr_warn(m, "%s", line);
	}
}

/* Warn once per call site (Linux rate-limits; kmm warns each caller once). */
static bool first_warning_from(struct kmm_machine *m, uintptr_t site)
{
	struct kmm_page_alloc_state *pa = m->pa;
	bool first = true;
	spin_lock(&pa->warn_lock);
	for (unsigned int i = 0; i < pa->nr_warned; i++)
		if (pa->warned[i] == site)
			first = false;
	if (first && pa->nr_warned < KMM_MAX_WARN_SITES)
		pa->warned[pa->nr_warned++] = site;
	spin_unlock(&pa->warn_lock);
	return first;
}

void warn_alloc(struct kmm_machine *m, gfp_t gfp_mask, uintptr_t call_site, const char *fmt, ...)
{
	char what[128], flags[256];
	va_list ap;
	if ((gfp_mask & __GFP_NOWARN) || !first_warning_from(m, call_site))
		return;
	va_start(ap, fmt);
	kmm_port_vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pr_warn(m, "kmm: %s, mode:%#x(%s), nodemask=(null)", what, gfp_mask,
		kmm_gfp_decode(gfp_mask, flags, sizeof(flags)));
	show_free_areas(m, gfp_zone(m, gfp_mask));
}
