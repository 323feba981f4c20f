/*
 * /proc/buddyinfo and /proc/pagetypeinfo: the buddy allocator's free lists
 * by order, and by migratetype, and the pageblocks of each type.
 *
 * Linux: mm/vmstat.c frag_show_print(), pagetypeinfo_showfree_print(),
 * pagetypeinfo_showblockcount_print() of 6.1. Only populated zones appear.
 */
#include "internal.h"

void kmm_show_buddyinfo(struct kmm_machine *m, struct kmm_buf *out)
{
	int nid;
	struct kmm_zone *zone;
	proc_prepare(m);
	for_each_populated_zone (m, nid, zone) {
		kmm_buf_printf(out, "Node %d, zone %8s ", nid, zone->name);
		spin_lock(&zone->lock);
		for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++)
			kmm_buf_printf(out, "%6lu ", zone->free_area[o].nr_free);
		spin_unlock(&zone->lock);
		kmm_buf_puts(out, "\n");
	}
}

static void showfree(struct kmm_machine *m, struct kmm_buf *out, struct kmm_node *pgdat)
{
	kmm_buf_printf(out, "%-43s ", "Free pages count per migrate type at order");
	for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++)
		kmm_buf_printf(out, "%6u ", o);
	kmm_buf_puts(out, "\n");
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		if (!populated_zone(zone))
			continue;
		spin_lock(&zone->lock);
		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			kmm_buf_printf(out, "Node %4d, zone %8s, type %12s ", pgdat->node_id,
				       zone->name, migratetype_names[mt]);
			for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++) {
				/* Linux stops counting a list at 100000 entries ("100000 or more"). */
				unsigned long n = 0;
				struct list_head *p;
				list_for_each (p, &zone->free_area[o].free_list[mt])
					if (++n >= 100000)
						break;
				kmm_buf_printf(out, "%s%6lu ", n >= 100000 ? ">" : "", n);
			}
			kmm_buf_puts(out, "\n");
		}
		spin_unlock(&zone->lock);
	}
}

static void showblockcount(struct kmm_machine *m, struct kmm_buf *out, struct kmm_node *pgdat)
{
	kmm_buf_printf(out, "\n%-23s", "Number of blocks type ");
	for (int mt = 0; mt < MIGRATE_TYPES; mt++)
		kmm_buf_printf(out, "%12s ", migratetype_names[mt]);
	kmm_buf_puts(out, "\n");
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		unsigned long count[MIGRATE_TYPES] = {0};
		if (!populated_zone(zone))
			continue;
		/* Every pageblock that starts inside the zone with a valid page. */
		for (unsigned long pfn = zone->zone_start_pfn; pfn < zone_end_pfn(zone);
		     pfn = KMM_ALIGN(pfn + 1, pageblock_nr_pages)) {
			if (!pfn_valid(m, pfn))
				continue;
			if (page_zone(m, pfn_to_page(m, pfn)) != zone)
				continue;
			int mt = get_pfnblock_migratetype(zone, pfn);
			if (mt < MIGRATE_TYPES)
				count[mt]++;
		}
		kmm_buf_printf(out, "Node %d, zone %8s ", pgdat->node_id, zone->name);
		for (int mt = 0; mt < MIGRATE_TYPES; mt++)
			kmm_buf_printf(out, "%12lu ", count[mt]);
		kmm_buf_puts(out, "\n");
	}
}

void kmm_show_pagetypeinfo(struct kmm_machine *m, struct kmm_buf *out)
{
	proc_prepare(m);
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		if (!pgdat->node_present_pages)
			continue;
		kmm_buf_printf(out, "Page block order: %d\n", pageblock_order);
		kmm_buf_printf(out, "Pages per block:  %lu\n", pageblock_nr_pages);
		kmm_buf_puts(out, "\n");
		showfree(m, out, pgdat);
		showblockcount(m, out, pgdat);
	}
}
