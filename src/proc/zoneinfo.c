/*
 * /proc/zoneinfo: every zone of every node, with its watermarks, lowmem
 * protection, counters and per-CPU lists.
 *
 * Linux: mm/vmstat.c zoneinfo_show_print() of 6.1, line for line: the
 * per-node counters appear under the first populated zone of each node,
 * unpopulated zones stop after their protection line.
 */
#include "internal.h"

static bool is_zone_first_populated(struct kmm_node *pgdat, struct kmm_zone *zone)
{
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *c = &pgdat->node_zones[z];
		if (populated_zone(c))
			return c == zone;
	}
	return false;
}

static void zoneinfo_show_print(struct kmm_machine *m, struct kmm_buf *out, struct kmm_node *pgdat,
				struct kmm_zone *zone)
{
	kmm_buf_printf(out, "Node %d, zone %8s", pgdat->node_id, kmm_zone_type_names[zone->type]);
	if (is_zone_first_populated(pgdat, zone)) {
		kmm_buf_puts(out, "\n  per-node stats");
		for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; i++) {
			unsigned long pages = node_page_state_pages(pgdat, (enum node_stat_item)i);
			if (vmstat_item_print_in_thp(i))
				pages /= pageblock_nr_pages;
			kmm_buf_printf(out, "\n      %-12s %lu", kmm_node_stat_names[i], pages);
		}
	}
	kmm_buf_printf(out,
		       "\n  pages free     %lu"
		       "\n        boost    %lu"
		       "\n        min      %lu"
		       "\n        low      %lu"
		       "\n        high     %lu"
		       "\n        spanned  %lu"
		       "\n        present  %lu"
		       "\n        managed  %lu"
		       "\n        cma      %lu",
		       zone_page_state(zone, NR_FREE_PAGES), READ_ONCE(zone->watermark_boost),
		       min_wmark_pages(zone), low_wmark_pages(zone), high_wmark_pages(zone),
		       zone->spanned_pages, zone->present_pages, zone_managed_pages(zone), 0UL);
	const char *sep = "\n        protection: (";
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		if (!m->zone_in_arch[z])
			continue;
		kmm_buf_printf(out, "%s%ld", sep, zone->lowmem_reserve[z]);
		sep = ", ";
	}
	kmm_buf_puts(out, ")");
	if (!populated_zone(zone)) {
		kmm_buf_puts(out, "\n");
		return;
	}
	for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; i++)
		kmm_buf_printf(out, "\n      %-12s %lu", kmm_zone_stat_names[i],
			       zone_page_state(zone, (enum zone_stat_item)i));
	for (int i = 0; i < NR_VM_NUMA_EVENT_ITEMS; i++)
		kmm_buf_printf(out, "\n      %-12s %lu", kmm_numa_stat_names[i],
			       zone_numa_event_state(zone, (enum numa_stat_item)i));
	kmm_buf_puts(out, "\n  pagesets");
	for (int c = 0; c < m->nr_cpus; c++) {
		struct per_cpu_pages *pcp =
		    zone->per_cpu_pageset ? &zone->per_cpu_pageset[c] : NULL;
		kmm_buf_printf(out,
			       "\n    cpu: %i"
			       "\n              count: %i"
			       "\n              high:  %i"
			       "\n              batch: %i",
			       c, pcp ? READ_ONCE(pcp->count) : 0, pcp ? READ_ONCE(pcp->high) : 0,
			       pcp ? READ_ONCE(pcp->batch) : 1);
		kmm_buf_printf(out, "\n  vm stats threshold: %d",
			       zone->per_cpu_zonestats
				   ? READ_ONCE(zone->per_cpu_zonestats[c].stat_threshold)
				   : 0);
	}
	kmm_buf_printf(out,
		       "\n  node_unreclaimable:  %u"
		       "\n  start_pfn:           %lu",
		       pgdat->kswapd_failures >= 16, zone->zone_start_pfn);
	kmm_buf_puts(out, "\n");
}

void kmm_show_zoneinfo(struct kmm_machine *m, struct kmm_buf *out)
{
	proc_prepare(m);
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		for (int z = 0; z < MAX_NR_ZONES; z++)
			if (m->zone_in_arch[z])
				zoneinfo_show_print(m, out, pgdat, &pgdat->node_zones[z]);
	}
}
