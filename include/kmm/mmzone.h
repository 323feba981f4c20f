/*
 * Nodes and zones: pg_data_t and struct zone.
 *
 * Linux: include/linux/mmzone.h. A node is a bank of memory with its CPUs
 * (NUMA); its memory is divided into zones by what hardware can address
 * (DMA below 16 MiB, DMA32 below 4 GiB, ...). Each zone owns a buddy
 * allocator (free_area per order and migratetype), watermarks, per-CPU page
 * lists and counters. Field names are Linux's.
 *
 * Locks: zone->lock protects free_area and the pageblock flags; a CPU's
 * per_cpu_pages are touched only by the thread that has entered that CPU.
 */
#ifndef KMM_MMZONE_H
#define KMM_MMZONE_H

#include <kmm/compiler.h>
#include <kmm/list.h>
#include <kmm/atomic.h>
#include <kmm/spinlock.h>
#include <kmm/vmstat.h>
#include <kmm/mm_types.h>

#define KMM_MAX_NUMNODES 64
#define KMM_MAX_CPUS	 256

/* Orders 0..10: 4 KiB .. 4 MiB blocks (Linux 6.1's MAX_ORDER = 11). */
#define MAX_PAGE_ORDER		10
#define NR_PAGE_ORDERS		(MAX_PAGE_ORDER + 1)
#define MAX_ORDER_NR_PAGES	(1UL << MAX_PAGE_ORDER)
/* A pageblock is the unit of migratetype grouping: 2 MiB, one huge page. */
#define pageblock_order		9
#define pageblock_nr_pages	(1UL << pageblock_order)
#define PAGE_ALLOC_COSTLY_ORDER 3

enum migratetype {
	MIGRATE_UNMOVABLE,
	MIGRATE_MOVABLE,
	MIGRATE_RECLAIMABLE,
	MIGRATE_PCPTYPES, /* the number of types on the pcp lists */
	MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES,
	MIGRATE_ISOLATE, /* can't allocate from here */
	MIGRATE_TYPES
};
extern const char *const migratetype_names[MIGRATE_TYPES];

/* Pageblock flags: 3 bits of migratetype and the compaction skip bit. */
#define PB_migratetype_bits 3
#define PB_migrate_skip	    3
#define NR_PAGEBLOCK_BITS   4

struct free_area {
	struct list_head free_list[MIGRATE_TYPES];
	unsigned long nr_free;
	/*
	 * Buddy bookkeeping of the 2.4 era (KMM_BUDDY_BITMAP only): one bit per
	 * pair of buddies at this order, toggled whenever either is allocated
	 * or freed, so a set bit means exactly one of the pair is free.
	 */
	unsigned long *map;
};

/* Per-CPU page lists: one list per migratetype for orders 0..3 and the THP order. */
#define NR_PCP_THP   1
#define NR_PCP_LISTS (MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1 + NR_PCP_THP))

struct per_cpu_pages {
	int count;	   /* pages (in order-0 units) on the lists */
	int high;	   /* above this, free back to the buddy */
	int batch;	   /* refill and free in chunks of this many */
	short free_factor; /* batch scaling during frees (Linux 6.1 nr_pcp_free) */
	struct list_head lists[NR_PCP_LISTS];
} ____cacheline_aligned;

/* Per-CPU counter deltas for one zone (Linux: struct per_cpu_zonestat). */
struct per_cpu_zonestat {
	signed char vm_stat_diff[NR_VM_ZONE_STAT_ITEMS];
	signed char stat_threshold;
	unsigned long vm_numa_event[NR_VM_NUMA_EVENT_ITEMS];
};

struct per_cpu_nodestat {
	signed char stat_threshold;
	signed char vm_node_stat_diff[NR_VM_NODE_STAT_ITEMS];
};

enum zone_watermarks {
	WMARK_MIN,
	WMARK_LOW,
	WMARK_HIGH,
	WMARK_PROMO,
	NR_WMARK
};

struct kmm_node;
struct kmm_machine;

struct kmm_zone {
	/* Read-mostly fields. */
	unsigned long _watermark[NR_WMARK];
	unsigned long watermark_boost;
	unsigned long nr_reserved_highatomic;
	/*
	 * Pages this zone keeps back from allocations that could have been
	 * satisfied by a higher zone: lowmem_reserve[j] protects it against
	 * an allocation whose highest usable zone is j.
	 */
	long lowmem_reserve[MAX_NR_ZONES];
	int node;
	enum zone_type type;
	struct kmm_node *zone_pgdat;
	struct kmm_machine *machine;
	struct per_cpu_pages *per_cpu_pageset;	    /* [nr_cpus] */
	struct per_cpu_zonestat *per_cpu_zonestats; /* [nr_cpus] */
	int pageset_high;
	int pageset_batch;
	/* Pageblock flags, NR_PAGEBLOCK_BITS per pageblock from pageblock_base_pfn. */
	unsigned long *pageblock_flags;
	unsigned long pageblock_base_pfn;
	unsigned long zone_start_pfn;
	/* Pages given to the buddy allocator (present minus reserved). */
	atomic_long_t managed_pages;
	unsigned long spanned_pages; /* zone_end_pfn - zone_start_pfn, holes included */
	unsigned long present_pages; /* physical pages in the span */
	unsigned long present_early_pages;
	const char *name;
	bool initialized;
	/* Deferred struct page initialisation: pages not yet given to the buddy. */
	unsigned long deferred_pages;

	/* Write-intensive fields. */
	spinlock_t lock ____cacheline_aligned;
	struct free_area free_area[NR_PAGE_ORDERS];
	unsigned long flags;

	atomic_long_t vm_stat[NR_VM_ZONE_STAT_ITEMS] ____cacheline_aligned;
	atomic_long_t vm_numa_event[NR_VM_NUMA_EVENT_ITEMS];
};

enum zone_flags {
	ZONE_BOOSTED_WATERMARK,
	ZONE_RECLAIM_ACTIVE,
};

static inline unsigned long zone_end_pfn(const struct kmm_zone *zone)
{
	return zone->zone_start_pfn + zone->spanned_pages;
}
static inline bool zone_spans_pfn(const struct kmm_zone *zone, unsigned long pfn)
{
	return zone->zone_start_pfn <= pfn && pfn < zone_end_pfn(zone);
}
static inline unsigned long zone_managed_pages(const struct kmm_zone *zone)
{
	return (unsigned long)atomic_long_read(&zone->managed_pages);
}
static inline bool populated_zone(const struct kmm_zone *zone)
{
	return zone->present_pages != 0;
}
static inline bool managed_zone(const struct kmm_zone *zone)
{
	return zone_managed_pages(zone) != 0;
}
/* Watermarks are read without the zone lock; sysctls and boosting change them. */
static inline unsigned long wmark_pages(const struct kmm_zone *z, enum zone_watermarks w)
{
	return READ_ONCE(z->_watermark[w]) + READ_ONCE(z->watermark_boost);
}
static inline unsigned long min_wmark_pages(const struct kmm_zone *z)
{
	return wmark_pages(z, WMARK_MIN);
}
static inline unsigned long low_wmark_pages(const struct kmm_zone *z)
{
	return wmark_pages(z, WMARK_LOW);
}
static inline unsigned long high_wmark_pages(const struct kmm_zone *z)
{
	return wmark_pages(z, WMARK_HIGH);
}
static inline int zone_idx(const struct kmm_zone *zone)
{
	return (int)zone->type;
}

/* Zonelists: the order in which an allocation tries zones. */
#define MAX_ZONES_PER_ZONELIST (KMM_MAX_NUMNODES * MAX_NR_ZONES)
enum {
	ZONELIST_FALLBACK,   /* every node, nearest first */
	ZONELIST_NOFALLBACK, /* this node only (__GFP_THISNODE) */
	MAX_ZONELISTS
};

struct zoneref {
	struct kmm_zone *zone;
	int zone_idx;
};

struct zonelist {
	struct zoneref _zonerefs[MAX_ZONES_PER_ZONELIST + 1];
};

/* LRU lists (filled by reclaim/). */
enum lru_list {
	LRU_INACTIVE_ANON,
	LRU_ACTIVE_ANON,
	LRU_INACTIVE_FILE,
	LRU_ACTIVE_FILE,
	LRU_UNEVICTABLE,
	NR_LRU_LISTS
};

struct lruvec {
	struct list_head lists[NR_LRU_LISTS];
	spinlock_t lru_lock;
	unsigned long anon_cost;
	unsigned long file_cost;
	atomic_long_t nonresident_age;
	unsigned long refaults[2];
	unsigned long flags;
	struct kmm_node *pgdat;
};

/* pg_data_t: one per NUMA node. */
struct kmm_node {
	struct kmm_zone node_zones[MAX_NR_ZONES];
	struct zonelist node_zonelists[MAX_ZONELISTS];
	/* The first zoneref of each zonelist usable at or below each zone type (fast path). */
	struct zoneref *first_zoneref[MAX_ZONELISTS][MAX_NR_ZONES];

	int nr_zones; /* index of the highest populated zone + 1 */
	struct kmm_machine *machine;
	unsigned long node_start_pfn;
	unsigned long node_present_pages; /* total physical pages */
	unsigned long node_spanned_pages; /* total span, holes included */
	int node_id;

	/* Reclaim: kswapd's request, filled in by the page allocator. */
	int kswapd_order;
	enum zone_type kswapd_highest_zoneidx;
	int kswapd_failures;
	atomic_t kswapd_wakeups;

	/* Deferred struct page init: first pfn not yet initialised. */
	unsigned long first_deferred_pfn;

	unsigned long totalreserve_pages;
	struct lruvec __lruvec;

	struct per_cpu_nodestat *per_cpu_nodestats; /* [nr_cpus] */
	atomic_long_t vm_stat[NR_VM_NODE_STAT_ITEMS] ____cacheline_aligned;
};

static inline unsigned long pgdat_end_pfn(const struct kmm_node *pgdat)
{
	return pgdat->node_start_pfn + pgdat->node_spanned_pages;
}

#endif /* KMM_MMZONE_H */
