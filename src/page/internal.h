/*
 * page/ private declarations: allocation flags, the allocation context,
 * and the functions the files of the page allocator share.
 */
#ifndef KMM_PAGE_INTERNAL_H
#define KMM_PAGE_INTERNAL_H

#include <kmm/page_alloc.h>
#include "../phys/phys.h"
#include "page.h"

/* alloc_flags (Linux mm/internal.h): the watermark index in the low bits. */
#define ALLOC_WMARK_MIN	    WMARK_MIN
#define ALLOC_WMARK_LOW	    WMARK_LOW
#define ALLOC_WMARK_HIGH    WMARK_HIGH
#define ALLOC_NO_WATERMARKS 0x04 /* don't check watermarks at all */
#define ALLOC_WMARK_MASK    (ALLOC_NO_WATERMARKS - 1)
#define ALLOC_OOM	    0x08
#define ALLOC_HARDER	    0x10 /* try harder: atomic allocations */
#define ALLOC_HIGH	    0x20 /* __GFP_HIGH set */
#define ALLOC_CPUSET	    0x40
#define ALLOC_CMA	    0x80
#define ALLOC_NOFRAGMENT    0x100 /* avoid mixing pageblock types */
#define ALLOC_KSWAPD	    0x800 /* allow waking kswapd, __GFP_KSWAPD_RECLAIM set */
KMM_BUILD_BUG_ON(ALLOC_HIGH != ___GFP_HIGH || ALLOC_KSWAPD != ___GFP_KSWAPD_RECLAIM);

/* Free-path flags (Linux fpi_t). */
#define FPI_NONE    0
#define FPI_TO_TAIL 0x2

struct alloc_context {
	struct kmm_cpu *cpu; /* the caller's CPU, or NULL: no per-CPU lists */
	struct zonelist *zonelist;

	struct zoneref *preferred_zoneref;
	int migratetype;
	enum zone_type highest_zoneidx;
	int preferred_nid;
	uintptr_t call_site; /* the caller of the public API, for warnings */
};

#define KMM_MAX_WARN_SITES 64

struct kmm_page_alloc_state {
	bool pcp_disabled; /* allocate and free straight through the buddy lists */
	/* gfp_zone(): the highest zone for each combination of zone modifiers. */
	unsigned char gfp_zone_table[GFP_ZONEMASK + 1];

	size_t buddy_map_bytes; /* host memory of the 2.4 design's maps */
	/* Free page reporting (page_reporting.c): one pass at a time, blocks reported. */
	spinlock_t reporting_lock;
	atomic_long_t nr_reported;
	/* Warn once per call site about failed allocations. */
	spinlock_t warn_lock;
	unsigned int nr_warned;
	uintptr_t warned[KMM_MAX_WARN_SITES];
};

static inline bool pcp_allowed_order(unsigned int order)
{
	return order <= PAGE_ALLOC_COSTLY_ORDER || order == pageblock_order;
}

static inline int order_to_pindex(int migratetype, unsigned int order)
{
	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);
	return MIGRATE_PCPTYPES * (int)order + migratetype;
}

static inline unsigned int pindex_to_order(int pindex)
{
	if (pindex == MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1))
		return pageblock_order;
	return (unsigned int)(pindex / MIGRATE_PCPTYPES);
}

/* pcp pages keep their migratetype in page->index while on a pcp list. */
static inline int get_pcppage_migratetype(const struct kmm_page *page)
{
	return (int)page->index;
}
static inline void set_pcppage_migratetype(struct kmm_page *page, int migratetype)
{
	page->index = (unsigned long)migratetype;
}

static inline int get_pageblock_migratetype(struct kmm_machine *m, const struct kmm_page *page)
{
	return get_pfnblock_migratetype(page_zone(m, page), page_to_pfn(m, page));
}

static inline bool is_migrate_isolate(int mt)
{
	return mt == MIGRATE_ISOLATE;
}
static inline bool is_migrate_highatomic(int mt)
{
	return mt == MIGRATE_HIGHATOMIC;
}
static inline bool migratetype_is_mergeable(int mt)
{
	return mt < MIGRATE_PCPTYPES;
}

/* Is any of the trace events in @mask (KMM_TRACE_BIT()s) enabled? */
static __kmm_always_inline bool trace_on(const struct kmm_machine *m, unsigned long long mask)
{
	return unlikely(READ_ONCE(m->trace_mask) & mask);
}

/* Count a VM event on the caller's CPU (known), or atomically without one. */
static __kmm_always_inline void cpu_count_events(struct kmm_machine *m, struct kmm_cpu *cpu,
						 enum vm_event_item item, long delta)
{
	if (likely(cpu))
		WRITE_ONCE(cpu->vm_events[item], cpu->vm_events[item] + (unsigned long)delta);
	else
		__count_vm_events_slow(m, item, delta);
}

/*
 * NUMA hit/miss/local/other accounting for an allocation from @z that
 * wanted @preferred's node (Linux zone_statistics).
 */
static __kmm_always_inline void zone_statistics(struct kmm_cpu *cpu, struct kmm_zone *preferred,
						struct kmm_zone *z, long nr)
{
	int local_nid = cpu ? cpu->node : 0;
	enum numa_stat_item where = z->node == local_nid ? NUMA_LOCAL : NUMA_OTHER;
	if (likely(cpu && z->per_cpu_zonestats)) {
		unsigned long *ev = z->per_cpu_zonestats[cpu->id].vm_numa_event;
		if (likely(z->node == preferred->node)) {
			WRITE_ONCE(ev[NUMA_HIT], ev[NUMA_HIT] + (unsigned long)nr);
		} else {
			unsigned long *pev = preferred->per_cpu_zonestats[cpu->id].vm_numa_event;
			WRITE_ONCE(ev[NUMA_MISS], ev[NUMA_MISS] + (unsigned long)nr);
			WRITE_ONCE(pev[NUMA_FOREIGN], pev[NUMA_FOREIGN] + (unsigned long)nr);
		}
		WRITE_ONCE(ev[where], ev[where] + (unsigned long)nr);
		return;
	}
	if (z->node == preferred->node) {
		__count_numa_events(z, NUMA_HIT, nr);
	} else {
		__count_numa_events(z, NUMA_MISS, nr);
		__count_numa_events(preferred, NUMA_FOREIGN, nr);
	}
	__count_numa_events(z, where, nr);
}

/* buddy.c */

void __free_one_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned long pfn, struct kmm_zone *zone, unsigned int order, int migratetype,
		     int fpi_flags);
void free_one_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		   struct kmm_page *page, unsigned long pfn, unsigned int order, int migratetype);
struct kmm_page *__rmqueue_smallest(struct kmm_machine *m, struct kmm_cpu *cpu,
				    struct kmm_zone *zone, unsigned int order, int migratetype);
struct kmm_page *__rmqueue(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
			   unsigned int order, int migratetype, unsigned int alloc_flags);
int rmqueue_bulk(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		 unsigned int order, unsigned long count, struct list_head *list, int migratetype,
		 unsigned int alloc_flags);
struct kmm_page *rmqueue_buddy(struct kmm_machine *m, struct kmm_cpu *cpu,
			       struct kmm_zone *preferred_zone, struct kmm_zone *zone,
			       unsigned int order, unsigned int alloc_flags, int migratetype);
void __isolate_free_block(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_page *page,
			  unsigned int order);
void reserve_highatomic_pageblock(struct kmm_machine *m, struct kmm_page *page,
				  struct kmm_zone *zone, unsigned int order);
bool unreserve_highatomic_pageblock(struct kmm_machine *m, const struct alloc_context *ac,
				    bool force);
/* Is @page the head of a free block of @order? Design-independent (for checks). */
bool page_is_free_head(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_page *page,
		       unsigned int order);
int buddy_bitmap_init(struct kmm_machine *m);
void buddy_bitmap_destroy(struct kmm_machine *m);

/* pcp.c */
struct kmm_page *rmqueue_pcplist_refill(struct kmm_machine *m, struct kmm_cpu *cpu,
					struct kmm_zone *zone, unsigned int order, int migratetype,
					unsigned int alloc_flags, struct per_cpu_pages *pcp,
					struct list_head *list);
struct kmm_page *__rmqueue_pcplist(struct kmm_machine *m, struct kmm_cpu *cpu,
				   struct kmm_zone *zone, unsigned int order, int migratetype,
				   unsigned int alloc_flags, struct per_cpu_pages *pcp,
				   struct list_head *list);
void free_pcp_high(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		   struct per_cpu_pages *pcp, unsigned int order, int pindex);
void free_pcppages_bulk(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
			int count, struct per_cpu_pages *pcp, int pindex);
void drain_pages_cpu(struct kmm_machine *m, int cpu);
void pcp_handle_drain_request(struct kmm_machine *m, struct kmm_cpu *cpu);
int pcp_init(struct kmm_machine *m);

/* The high mark of a pcp list: lower while reclaim runs, so pages are not hoarded. */
static __kmm_always_inline int nr_pcp_high(struct per_cpu_pages *pcp, struct kmm_zone *zone,
					   bool free_high)
{
	int high = READ_ONCE(pcp->high);
	if (unlikely(!high || free_high))
		return 0;
	if (likely(!test_bit(ZONE_RECLAIM_ACTIVE, &zone->flags)))
		return high;
	return kmm_min(READ_ONCE(pcp->batch) << 2, high);
}

/*
 * High orders other than THP fragment memory: while frees run without
 * allocations (free_factor), a free of one trims the lists at once.
 */
static __kmm_always_inline bool pcp_free_high(const struct per_cpu_pages *pcp, unsigned int order)
{
	return order && order <= PAGE_ALLOC_COSTLY_ORDER && pcp->free_factor;
}

/*
 * count >= nr_pcp_high(), ordered so that the usual answer (no) costs
 * least: a high of 0 is also "count >= high", as count is never negative.
 */
static __kmm_always_inline bool pcp_over_high(struct per_cpu_pages *pcp, struct kmm_zone *zone,
					      bool free_high)
{
	int count = pcp->count, high = READ_ONCE(pcp->high);
	if (unlikely(free_high || count >= high))
		return true;
	if (likely(!test_bit(ZONE_RECLAIM_ACTIVE, &zone->flags)))
		return false;
	return count >= kmm_min(READ_ONCE(pcp->batch) << 2, high);
}

/* page_alloc.c */
bool __zone_watermark_ok(struct kmm_zone *z, unsigned int order, unsigned long mark,
			 int highest_zoneidx, unsigned int alloc_flags, long free_pages);
struct kmm_page *get_page_from_freelist(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
					unsigned int alloc_flags, const struct alloc_context *ac);
void __free_pages_ok(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned int order);
void __free_the_page(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_page *page,
		     unsigned int order);
struct kmm_page *__alloc_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order,
			       int preferred_nid, uintptr_t call_site);

/* slowpath.c */
struct kmm_page *__alloc_pages_slowpath(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order,
					struct alloc_context *ac);
void warn_alloc(struct kmm_machine *m, gfp_t gfp_mask, uintptr_t call_site, const char *fmt, ...)
    __kmm_printf(4, 5);
bool __should_fail_alloc_page(struct kmm_machine *m, gfp_t gfp_mask, unsigned int order);
static __kmm_always_inline bool should_fail_alloc_page(struct kmm_machine *m, gfp_t gfp_mask,
						       unsigned int order)
{
	return unlikely(READ_ONCE(m->fail_page_alloc.enabled)) &&
	       __should_fail_alloc_page(m, gfp_mask, order);
}

/* gfp.c */
void gfp_zone_table_init(struct kmm_machine *m);
__kmm_cold __kmm_noreturn void gfp_zone_bug(gfp_t flags);
/* The highest zone an allocation with @flags may use (Linux gfp_zone). */
static __kmm_always_inline enum zone_type gfp_zone(const struct kmm_machine *m, gfp_t flags)
{
	unsigned int z = m->pa->gfp_zone_table[flags & GFP_ZONEMASK];
	if (unlikely(z == 0xff))
		gfp_zone_bug(flags);
	return (enum zone_type)z;
}

static inline int gfp_migratetype(const struct kmm_machine *m, gfp_t gfp)
{
	if (unlikely(m->page_group_by_mobility_disabled))
		return MIGRATE_UNMOVABLE;
	return (int)((gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT);
}

#endif /* KMM_PAGE_INTERNAL_H */
