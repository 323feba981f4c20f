/*
 * Watermarks, lowmem reserves and per-CPU list sizes, from the vm tunables
 * that drive them (phys/sysctl.c sets those).
 *
 * Linux: mm/page_alloc.c (calculate_min_free_kbytes, __setup_per_zone_wmarks,
 * setup_per_zone_lowmem_reserve, calculate_totalreserve_pages,
 * zone_batchsize, zone_highsize, init_per_zone_wmark_min), mm/khugepaged.c
 * (set_recommended_min_free_kbytes), mm/huge_memory.c (hugepage_init: THP off below 512 MiB).
 *
 * Each zone gets three watermarks. Below "low" the allocator wakes kswapd;
 * below "min" only privileged allocations proceed and the rest reclaim
 * directly; kswapd sleeps again above "high". min is min_free_kbytes shared
 * among the lowmem zones by size; low and high add a gap of
 * max(min/4, managed * watermark_scale_factor / 10000) each. A zone also
 * keeps lowmem_reserve[j] pages back from allocations that could have used
 * higher zones up to j, so that DMA memory is not eaten by allocations that
 * did not need it. Every formula here is the integer arithmetic of Linux
 * 6.1, checked against real 6.1 boots in tests/phys/oracle_test.c.
 */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SWAP_CLUSTER_MAX 32UL

/* Linux's mult_frac(): x * n / d without overflowing x * n. */
static unsigned long mult_frac(unsigned long x, unsigned long n, unsigned long d)
{
	return (x / d) * n + ((x % d) * n) / d;
}

void watermark_defaults(struct kmm_machine *m)
{
	static const int ratio[MAX_NR_ZONES] = {
	    [ZONE_DMA] = 256,	[ZONE_DMA32] = 256, [ZONE_NORMAL] = 32,
	    [ZONE_HIGHMEM] = 0, [ZONE_MOVABLE] = 0, [ZONE_DEVICE] = 0,
	};
	struct kmm_config *cfg = &m->cfg;
	m->min_free_kbytes = 1024;
	m->user_min_free_kbytes = -1;
	m->watermark_scale_factor =
	    cfg->watermark_scale_factor >= 0 ? cfg->watermark_scale_factor : 10;
	m->watermark_boost_factor =
	    cfg->watermark_boost_factor >= 0 ? cfg->watermark_boost_factor : 15000;
	m->percpu_pagelist_high_fraction =
	    cfg->percpu_pagelist_high_fraction >= 0 ? cfg->percpu_pagelist_high_fraction : 0;
	memcpy(m->lowmem_reserve_ratio, ratio, sizeof(ratio));
	/* A user's list gives the arch's zones in order. */
	for (int i = 0, z = 0; i < cfg->lowmem_reserve_ratio_given && z < MAX_NR_ZONES; z++) {
		if (!m->zone_in_arch[z])
			continue;
		m->lowmem_reserve_ratio[z] = cfg->lowmem_reserve_ratio[i++];
	}
	m->thp = cfg->thp_given ? cfg->thp : KMM_THP_ALWAYS;
}

/* Sum of managed minus high over the zones GFP_USER may use (nr_free_zone_pages). */
unsigned long nr_free_buffer_pages(struct kmm_machine *m)
{
	unsigned long sum = 0;
	int nid;
	struct kmm_zone *zone;
	for_each_zone (m, nid, zone) {
		if (zone->type > ZONE_NORMAL)
			continue;
		unsigned long size = zone_managed_pages(zone), high = high_wmark_pages(zone);
		if (size > high)
			sum += size - high;
	}
	return sum;
}

void calculate_min_free_kbytes(struct kmm_machine *m)
{
	unsigned long lowmem_kbytes = nr_free_buffer_pages(m) * (PAGE_SIZE >> 10);
	long new_min = (long)int_sqrt(lowmem_kbytes * 16);
	if (new_min > m->user_min_free_kbytes)
		m->min_free_kbytes = (int)kmm_clamp(new_min, 128L, 262144L);
	else
		pr_warn(m,
			"min_free_kbytes is not updated to %ld because user defined value %d is "
			"preferred",
			new_min, m->user_min_free_kbytes);
}

void calculate_totalreserve_pages(struct kmm_machine *m)
{
	unsigned long reserve = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		pgdat->totalreserve_pages = 0;
		for (int i = 0; i < MAX_NR_ZONES; i++) {
			struct kmm_zone *zone = &pgdat->node_zones[i];
			long max = 0;
			for (int j = i; j < MAX_NR_ZONES; j++)
				max = kmm_max(max, zone->lowmem_reserve[j]);
			max += (long)high_wmark_pages(zone);
			max = kmm_min(max, (long)zone_managed_pages(zone));
			pgdat->totalreserve_pages += (unsigned long)max;
			reserve += (unsigned long)max;
		}
	}
	m->totalreserve_pages = reserve;
}

void setup_per_zone_lowmem_reserve(struct kmm_machine *m)
{
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		for (int i = 0; i < MAX_NR_ZONES - 1; i++) {
			struct kmm_zone *zone = &pgdat->node_zones[i];
			int ratio = m->lowmem_reserve_ratio[i];
			bool clear = !ratio || !zone_managed_pages(zone);
			unsigned long managed = 0;
			for (int j = i + 1; j < MAX_NR_ZONES; j++) {
				managed += zone_managed_pages(&pgdat->node_zones[j]);
				WRITE_ONCE(zone->lowmem_reserve[j],
					   clear ? 0 : (long)(managed / (unsigned long)ratio));
			}
		}
	}
	calculate_totalreserve_pages(m);
}

static void __setup_per_zone_wmarks(struct kmm_machine *m)
{
	unsigned long pages_min = (unsigned long)m->min_free_kbytes >> (PAGE_SHIFT - 10);
	unsigned long lowmem_pages = 0;
	int nid;
	struct kmm_zone *zone;

	for_each_zone (m, nid, zone)
		if (!is_highmem_idx(m, zone->type) && zone->type != ZONE_MOVABLE)
			lowmem_pages += zone_managed_pages(zone);

	for_each_zone (m, nid, zone) {
		unsigned long managed = zone_managed_pages(zone);
		/* Zones without memory keep zero watermarks (as Linux 6.1 shows them). */
		if (!managed || !lowmem_pages) {
			for (int w = 0; w < NR_WMARK; w++)
				WRITE_ONCE(zone->_watermark[w], 0);
			WRITE_ONCE(zone->watermark_boost, 0);
			continue;
		}
		spin_lock(&zone->lock);
		uint64_t tmp = (uint64_t)pages_min * managed / lowmem_pages;
		unsigned long wmin;
		if (is_highmem_idx(m, zone->type) || zone->type == ZONE_MOVABLE) {
			/* Highmem and movable pages are no use to __GFP_HIGH: a token min. */
			wmin = kmm_clamp(managed / 1024, SWAP_CLUSTER_MAX, 128UL);
		} else {
			wmin = (unsigned long)tmp;
		}
		/* The kswapd gap: scale factor of the zone, but at least min/4. */
		unsigned long gap =
		    kmm_max((unsigned long)(tmp >> 2),
			    mult_frac(managed, (unsigned long)m->watermark_scale_factor, 10000));
		WRITE_ONCE(zone->watermark_boost, 0);
		WRITE_ONCE(zone->_watermark[WMARK_MIN], wmin);
		WRITE_ONCE(zone->_watermark[WMARK_LOW], wmin + gap);
		WRITE_ONCE(zone->_watermark[WMARK_HIGH], wmin + 2 * gap);
		WRITE_ONCE(zone->_watermark[WMARK_PROMO], wmin + 3 * gap);
		spin_unlock(&zone->lock);
	}
	calculate_totalreserve_pages(m);
}

/* Per-CPU list batch (zone_batchsize): about a quarter of a MiB's worth, power of 2 minus 1. */
static int zone_batchsize(struct kmm_zone *zone)
{
	unsigned long batch = kmm_min(zone_managed_pages(zone) >> 10, 1UL << (20 - PAGE_SHIFT));
	batch /= 4;
	if (batch < 1)
		batch = 1;
	/* Avoid powers of two: batches aligned with the buddy sizes would cycle. */
	return (int)rounddown_pow_of_two(batch + batch / 2) - 1;
}

/* Per-CPU list high mark (zone_highsize): the low watermark split over the node's CPUs. */
static int zone_highsize(struct kmm_machine *m, struct kmm_zone *zone, int batch)
{
	unsigned long total;
	if (!m->percpu_pagelist_high_fraction)
		total = low_wmark_pages(zone);
	else
		total = zone_managed_pages(zone) / (unsigned long)m->percpu_pagelist_high_fraction;
	int nr_split_cpus = 0;
	for (int c = 0; c < m->nr_cpus; c++)
		nr_split_cpus += m->cpus[c]->node == zone->node;
	if (!nr_split_cpus)
		nr_split_cpus = m->nr_cpus;
	int high = (int)(total / (unsigned long)nr_split_cpus);
	return kmm_max(high, batch << 2);
}

static void zone_set_pageset_high_and_batch(struct kmm_machine *m, struct kmm_zone *zone)
{
	int batch = kmm_max(1, zone_batchsize(zone));
	int high = zone_highsize(m, zone, batch);
	zone->pageset_high = high;
	zone->pageset_batch = batch;
	if (!zone->per_cpu_pageset)
		return;
	for (int c = 0; c < m->nr_cpus; c++) {
		WRITE_ONCE(zone->per_cpu_pageset[c].batch, batch);
		WRITE_ONCE(zone->per_cpu_pageset[c].high, high);
	}
}

void zone_pcp_update_all(struct kmm_machine *m)
{
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone)
		zone_set_pageset_high_and_batch(m, zone);
}

void setup_per_zone_wmarks(struct kmm_machine *m)
{
	__setup_per_zone_wmarks(m);
	/* pcp high follows the low watermark. */
	zone_pcp_update_all(m);
}

void init_per_zone_wmark_min(struct kmm_machine *m)
{
	calculate_min_free_kbytes(m);
	setup_per_zone_wmarks(m);
	refresh_zone_stat_thresholds(m);
	setup_per_zone_lowmem_reserve(m);
}

/*
 * khugepaged wants free pageblocks to assemble huge pages from: two per
 * populated lowmem zone plus one per pair of pcp migratetypes, capped at 5%
 * of lowmem. With THP off, the plain formula applies again.
 */
void set_recommended_min_free_kbytes(struct kmm_machine *m)
{
	if (m->thp == KMM_THP_NEVER) {
		calculate_min_free_kbytes(m);
	} else {
		int nid, nr_zones = 0;
		struct kmm_zone *zone;
		for_each_populated_zone (m, nid, zone)
			if (zone->type <= ZONE_NORMAL)
				nr_zones++;
		unsigned long recommended = pageblock_nr_pages * (unsigned long)nr_zones * 2;
		recommended += pageblock_nr_pages * (unsigned long)nr_zones * MIGRATE_PCPTYPES *
			       MIGRATE_PCPTYPES;
		recommended = kmm_min(recommended, nr_free_buffer_pages(m) / 20);
		recommended <<= PAGE_SHIFT - 10;
		if (recommended > (unsigned long)m->min_free_kbytes) {
			if (m->user_min_free_kbytes >= 0)
				pr_info(
				    m,
				    "raising min_free_kbytes from %d to %lu to help transparent "
				    "hugepage allocations",
				    m->min_free_kbytes, recommended);
			m->min_free_kbytes = (int)recommended;
		}
	}
	setup_per_zone_wmarks(m);
}
