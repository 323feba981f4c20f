/*
 * Zonelists: the order in which an allocation tries zones.
 *
 * Linux: mm/page_alloc.c (build_all_zonelists, build_zonelists,
 * find_next_best_node, build_zonerefs_node). Each node gets a fallback list:
 * nodes nearest first (ties broken against nodes below this one and against
 * nodes already chosen at this distance, spreading the load), and within a
 * node the highest zone first, so a GFP_KERNEL allocation uses Normal before
 * DMA32 before DMA. A second list holds only the node's own zones, for
 * __GFP_THISNODE.
 */
#include "internal.h"
#include <string.h>

#define PENALTY_FOR_NODE_WITH_CPUS 1

static bool node_has_cpus(struct kmm_machine *m, int nid)
{
	for (int c = 0; c < m->nr_cpus; c++)
		if (m->cpus[c]->node == nid)
			return true;
	return false;
}

static int find_next_best_node(struct kmm_machine *m, int node, bool *used, int *node_load)
{
	int best = -1, min_val = 1 << 30;
	if (!used[node]) {
		used[node] = true;
		return node;
	}
	for (int n = 0; n < m->nr_node_ids; n++) {
		if (used[n])
			continue;
		int val = m->node_distance[node][n];
		val += n < node; /* prefer the next node over a lower one */
		if (node_has_cpus(m, n))
			val += PENALTY_FOR_NODE_WITH_CPUS;
		val *= KMM_MAX_NUMNODES;
		val += node_load[n];
		if (val < min_val) {
			min_val = val;
			best = n;
		}
	}
	if (best >= 0)
		used[best] = true;
	return best;
}

static int build_zonerefs_node(struct kmm_node *pgdat, struct zoneref *zonerefs)
{
	int nr = 0;
	for (int z = MAX_NR_ZONES - 1; z >= 0; z--) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		if (populated_zone(zone)) {
			zonerefs[nr].zone = zone;
			zonerefs[nr].zone_idx = z;
			nr++;
		}
	}
	return nr;
}

void build_all_zonelists(struct kmm_machine *m)
{
	int node_load[KMM_MAX_NUMNODES] = {0};
	for (int local = 0; local < m->nr_node_ids; local++) {
		struct kmm_node *pgdat = m->node_data[local];
		bool used[KMM_MAX_NUMNODES] = {false};
		int order[KMM_MAX_NUMNODES], nr_nodes = 0, node, prev = local;
		while ((node = find_next_best_node(m, local, used, node_load)) >= 0) {
			/* Nodes at a new distance get load so the next node's list differs. */
			if (m->node_distance[local][node] != m->node_distance[local][prev])
				node_load[node] += 1;
			order[nr_nodes++] = node;
			prev = node;
		}
		struct zoneref *zr = pgdat->node_zonelists[ZONELIST_FALLBACK]._zonerefs;
		int nr = 0;
		char line[16 + 4 * KMM_MAX_NUMNODES];
		int len =
		    kmm_port_snprintf(line, sizeof(line), "Fallback order for Node %d: ", local);
		for (int i = 0; i < nr_nodes; i++) {
			nr += build_zonerefs_node(m->node_data[order[i]], zr + nr);
			len += kmm_port_snprintf(line + len, sizeof(line) - (size_t)len, "%d ",
						 order[i]);
		}
		zr[nr].zone = NULL;
		zr[nr].zone_idx = 0;
		struct zoneref *self = pgdat->node_zonelists[ZONELIST_NOFALLBACK]._zonerefs;
		nr = build_zonerefs_node(pgdat, self);
		self[nr].zone = NULL;
		self[nr].zone_idx = 0;
		if (m->nr_node_ids > 1)
			pr_info(m, "%s", line);
		for (int list = 0; list < MAX_ZONELISTS; list++)
			for (int z = 0; z < MAX_NR_ZONES; z++)
				pgdat->first_zoneref[list][z] =
				    first_zones_zonelist(&pgdat->node_zonelists[list], z);
	}

	/* vm_total_pages: the managed estimate over the zones a user page may use. */
	unsigned long total = 0;
	struct zoneref *z;
	struct kmm_zone *zone;
	for_each_zone_zonelist (zone, z, node_zonelist(m, 0, false), ZONE_MOVABLE) {
		unsigned long size = zone_managed_pages(zone), high = high_wmark_pages(zone);
		if (size > high)
			total += size - high;
	}
	/* Too little memory to group pages by mobility: everything is unmovable. */
	m->page_group_by_mobility_disabled = total < pageblock_nr_pages * MIGRATE_TYPES;
	pr_info(m, "Built %d zonelists, mobility grouping %s.  Total pages: %lu", m->nr_node_ids,
		m->page_group_by_mobility_disabled ? "off" : "on", total);
	/* The highest zone below ZONE_MOVABLE that has memory (check_highest_zone). */
	m->policy_zone = ZONE_DMA;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		for (int zt = 0; zt < ZONE_MOVABLE; zt++)
			if (populated_zone(&m->node_data[nid]->node_zones[zt]) &&
			    (enum zone_type)zt > m->policy_zone)
				m->policy_zone = (enum zone_type)zt;
	pr_info(m, "Policy zone: %s", kmm_zone_type_names[m->policy_zone]);
}
