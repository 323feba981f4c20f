/*
 * NUMA: which node each range of memory is on, the node data, distances.
 *
 * Linux: arch/x86/mm/numa.c (numa_init, numa_register_memblks,
 * alloc_node_data), drivers/acpi/numa/srat.c. The description's NUMA ranges
 * play the part of the ACPI SRAT; ranges of a --map file carry their node
 * directly. Each node's pg_data_t is allocated from memblock on the node
 * itself, top-down, as Linux does, so it shows as reserved memory.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

int alloc_node_data(struct kmm_machine *m, int nid, struct kmm_error *err)
{
	size_t size = KMM_ALIGN(sizeof(struct kmm_node), PAGE_SIZE);
	phys_addr_t pa = memblock_phys_alloc_try_nid(m, size, PAGE_SIZE, nid);
	if (!pa)
		return kmm_error_set(err, -ENOMEM,
				     "%s: no room for node %d's data (%zu bytes) in memory the "
				     "kernel can address early",
				     m->cfg.desc.source, nid, size);

	kmm_ram_populate(m, PFN_DOWN(pa), PFN_UP(size));
	struct kmm_node *pgdat = phys_to_virt(m, pa);
	memset(pgdat, 0, sizeof(*pgdat));
	pgdat->node_id = nid;
	pgdat->machine = m;
	m->node_data[nid] = pgdat;
	pr_info(m, "NODE_DATA(%d) allocated [mem 0x%08llx-0x%08llx]", nid, (unsigned long long)pa,
		(unsigned long long)(pa + size - 1));
	return 0;
}

int numa_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	int nr_nodes = d->numa_off ? 1 : d->nr_nodes;

	if (d->numa_off || (!d->nr_numa && nr_nodes == 1)) {
		pr_info(m, "No NUMA configuration found");
		pr_info(m, "Faking a node at [mem 0x%016llx-0x%016llx]",
			(unsigned long long)memblock_start_of_DRAM(m),
			(unsigned long long)memblock_end_of_DRAM(m) - 1);
		memblock_set_node(m, 0, ~(phys_addr_t)0 >> 1, 0);
	} else if (d->nr_numa) {
		/* The SRAT: each range tells its node; print as Linux does. */
		for (int i = 0; i < d->nr_numa; i++)
			pr_info(m, "ACPI: SRAT: Node %d PXM %d [mem 0x%08llx-0x%08llx]",
				d->numa[i].node, d->numa[i].node,
				(unsigned long long)d->numa[i].start,
				(unsigned long long)d->numa[i].end - 1);
		/* Memory the SRAT does not cover goes to node 0, with a warning. */
		memblock_set_node(m, 0, ~(phys_addr_t)0 >> 1, 0);
		for (int i = 0; i < d->nr_numa; i++)
			memblock_set_node(m, d->numa[i].start, d->numa[i].end - d->numa[i].start,
					  d->numa[i].node);
		/* Linux merges each node's ranges pairwise and says so. */
		for (int n = 0; n < nr_nodes; n++) {
			uint64_t lo = 0, hi = 0;
			bool first = true;
			for (int i = 0; i < d->nr_numa; i++) {
				if (d->numa[i].node != n)
					continue;
				if (first) {
					lo = d->numa[i].start;
					hi = d->numa[i].end;
					first = false;
					continue;
				}
				uint64_t nlo = kmm_min(lo, d->numa[i].start);
				uint64_t nhi = kmm_max(hi, d->numa[i].end);
				pr_info(m,
					"NUMA: Node %d [mem 0x%08llx-0x%08llx] + [mem "
					"0x%08llx-0x%08llx] "
					"-> [mem 0x%08llx-0x%08llx]",
					n, (unsigned long long)lo, (unsigned long long)hi - 1,
					(unsigned long long)d->numa[i].start,
					(unsigned long long)d->numa[i].end - 1,
					(unsigned long long)nlo, (unsigned long long)nhi - 1);
				lo = nlo;
				hi = nhi;
			}
		}
	}
	/* Ranges of a --map file carry their node themselves. */
	for (int i = 0; i < d->nr_ranges; i++)
		if (d->ranges[i].type == KMM_E820_RAM && d->ranges[i].node >= 0)
			memblock_set_node(m, d->ranges[i].start,
					  d->ranges[i].end - d->ranges[i].start, d->ranges[i].node);

	m->nr_node_ids = nr_nodes;
	m->nr_online_nodes = nr_nodes;
	for (int i = 0; i < KMM_MAX_NUMNODES; i++)
		for (int j = 0; j < KMM_MAX_NUMNODES; j++)
			m->node_distance[i][j] = d->distance[i][j];

	/* Every node needs pages to hold its data; validation guaranteed RAM. */
	for (int n = 0; n < nr_nodes; n++) {
		int idx = 0;
		unsigned long s, e;
		bool has = false;
		while (memblock_next_pfn_range(m, &idx, n, &s, &e, NULL))
			has = true;
		if (!has)
			return kmm_error_set(err, -EINVAL,
					     "%s: node %d has no usable memory after the e820 "
					     "fix-ups",
					     d->source, n);
	}
	for (int n = 0; n < nr_nodes; n++) {
		int ret = alloc_node_data(m, n, err);
		if (ret)
			return ret;
	}
	return 0;
}
