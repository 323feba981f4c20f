/*
 * Zones: their ranges, the movable zone, and each node's zone spans.
 *
 * Linux: arch/x86/mm/init.c (zone_sizes_init), mm/mm_init.c (free_area_init,
 * find_zone_movable_pfns_for_nodes, calculate_node_totalpages,
 * free_area_init_core). The arch says where each zone may lie
 * (x86_64: DMA below 16 MiB, DMA32 below 4 GiB, Normal above; i386: DMA,
 * Normal below 896 MiB, HighMem above). Each node's span is clamped to each
 * zone's range; present pages are the span minus holes; ZONE_MOVABLE takes
 * the top of each node's highest zone when movablecore/kernelcore ask for it,
 * spread so that kernel memory is even across nodes.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* The arch's zone types and limits (x86 zone_sizes_init). */
void zone_sizes_init(struct kmm_machine *m)
{
	memset(m->max_zone_pfn, 0, sizeof(m->max_zone_pfn));
	memset(m->zone_in_arch, 0, sizeof(m->zone_in_arch));
	if (m->cfg.desc.arch == KMM_ARCH_X86_64) {
		m->zone_in_arch[ZONE_DMA] = m->zone_in_arch[ZONE_DMA32] = true;
		m->zone_in_arch[ZONE_NORMAL] = m->zone_in_arch[ZONE_MOVABLE] = true;
		m->zone_in_arch[ZONE_DEVICE] = true;
		/* init_mem_mapping() raised max_low_pfn to max_pfn on 64-bit. */
		m->max_zone_pfn[ZONE_DMA] = kmm_min(16UL << (20 - PAGE_SHIFT), m->max_pfn);
		m->max_zone_pfn[ZONE_DMA32] = kmm_min(1UL << (32 - PAGE_SHIFT), m->max_pfn);
		m->max_zone_pfn[ZONE_NORMAL] = m->max_pfn;
	} else {
		m->zone_in_arch[ZONE_DMA] = m->zone_in_arch[ZONE_NORMAL] = true;
		m->zone_in_arch[ZONE_HIGHMEM] = m->zone_in_arch[ZONE_MOVABLE] = true;
		m->max_zone_pfn[ZONE_DMA] = kmm_min(16UL << (20 - PAGE_SHIFT), m->max_low_pfn);
		m->max_zone_pfn[ZONE_NORMAL] = m->max_low_pfn;
		m->max_zone_pfn[ZONE_HIGHMEM] = m->max_pfn;
	}
	m->nr_arch_zones = 0;
	for (int z = 0; z < MAX_NR_ZONES; z++)
		m->nr_arch_zones += m->zone_in_arch[z];
}

static void get_pfn_range_for_nid(struct kmm_machine *m, int nid, unsigned long *start,
				  unsigned long *end)
{
	int idx = 0;
	unsigned long s, e;
	*start = ~0UL;
	*end = 0;
	while (memblock_next_pfn_range(m, &idx, nid, &s, &e, NULL)) {
		*start = kmm_min(*start, s);
		*end = kmm_max(*end, e);
	}
	if (*start == ~0UL)
		*start = 0;
}

unsigned long absent_pages_in_range(struct kmm_machine *m, int nid, unsigned long start,
				    unsigned long end)
{
	unsigned long absent = end - start, s, e;
	int idx = 0;
	while (memblock_next_pfn_range(m, &idx, nid, &s, &e, NULL)) {
		s = kmm_clamp(s, start, end);
		e = kmm_clamp(e, start, end);
		absent -= e - s;
	}
	return absent;
}

/* The highest zone with any possible pages: ZONE_MOVABLE is carved from it. */
static void find_usable_zone_for_movable(struct kmm_machine *m)
{
	for (int z = MAX_NR_ZONES - 1; z >= 0; z--) {
		if (z == ZONE_MOVABLE || !m->zone_in_arch[z])
			continue;
		if (m->arch_zone_highest_possible_pfn[z] > m->arch_zone_lowest_possible_pfn[z]) {
			m->movable_zone = (enum zone_type)z;
			return;
		}
	}
	m->movable_zone = ZONE_DMA;
}

/*
 * Where ZONE_MOVABLE starts on each node (find_zone_movable_pfns_for_nodes):
 * kernelcore pages are spread evenly over the nodes; whatever each node has
 * above its share of kernelcore, in its highest zone, becomes movable.
 */
static void find_zone_movable_pfns_for_nodes(struct kmm_machine *m)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	unsigned long totalpages = 0, s, e;
	int idx = 0, nid, usable_nodes = m->nr_node_ids;
	unsigned long required_kernelcore = (unsigned long)(d->kernelcore >> PAGE_SHIFT);
	unsigned long required_movablecore = (unsigned long)(d->movablecore >> PAGE_SHIFT);

	memset(m->zone_movable_pfn, 0, sizeof(m->zone_movable_pfn));
	find_usable_zone_for_movable(m);
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, NULL))
		totalpages += e - s;

	if (d->kernelcore_percent)
		required_kernelcore = (totalpages * 100 * d->kernelcore_percent) / 10000UL;
	if (d->movablecore_percent)
		required_movablecore = (totalpages * 100 * d->movablecore_percent) / 10000UL;
	if (required_movablecore) {
		/* Round up so ZONE_MOVABLE is at least as large as asked. */
		required_movablecore = KMM_ALIGN(required_movablecore, MAX_ORDER_NR_PAGES);
		required_movablecore = kmm_min(totalpages, required_movablecore);
		required_kernelcore =
		    kmm_max(required_kernelcore, totalpages - required_movablecore);
	}
	if (!required_kernelcore || required_kernelcore >= totalpages)
		return;

	unsigned long usable_startpfn = m->arch_zone_lowest_possible_pfn[m->movable_zone];
restart:;
	unsigned long kernelcore_node = required_kernelcore / (unsigned long)usable_nodes;
	for (nid = 0; nid < m->nr_node_ids; nid++) {
		if (required_kernelcore < kernelcore_node)
			kernelcore_node = required_kernelcore / (unsigned long)usable_nodes;
		unsigned long kernelcore_remaining = kernelcore_node;
		idx = 0;
		while (memblock_next_pfn_range(m, &idx, nid, &s, &e, NULL)) {
			s = kmm_max(s, m->zone_movable_pfn[nid]);
			if (s >= e)
				continue;
			/* Memory below the movable zone's lowest pfn is kernel-only. */
			if (s < usable_startpfn) {
				unsigned long kernel_pages = kmm_min(e, usable_startpfn) - s;
				kernelcore_remaining -= kmm_min(kernel_pages, kernelcore_remaining);
				required_kernelcore -= kmm_min(kernel_pages, required_kernelcore);
				if (e <= usable_startpfn) {
					m->zone_movable_pfn[nid] = e;
					continue;
				}
				s = usable_startpfn;
			}
			unsigned long size_pages = kmm_min(e - s, kernelcore_remaining);
			m->zone_movable_pfn[nid] = s + size_pages;
			required_kernelcore -= kmm_min(required_kernelcore, size_pages);
			kernelcore_remaining -= size_pages;
			if (!kernelcore_remaining)
				break;
		}
	}
	/* Nodes too small for their share: go round again with one node fewer. */
	usable_nodes--;
	if (usable_nodes && required_kernelcore > (unsigned long)usable_nodes)
		goto restart;

	for (nid = 0; nid < m->nr_node_ids; nid++) {
		unsigned long start, end;
		m->zone_movable_pfn[nid] = KMM_ALIGN(m->zone_movable_pfn[nid], MAX_ORDER_NR_PAGES);
		get_pfn_range_for_nid(m, nid, &start, &end);
		if (m->zone_movable_pfn[nid] >= end)
			m->zone_movable_pfn[nid] = 0;
	}
}

static void adjust_zone_range_for_zone_movable(struct kmm_machine *m, int nid,
					       enum zone_type zone_type, unsigned long node_end_pfn,
					       unsigned long *zone_start_pfn,
					       unsigned long *zone_end_pfn)
{
	unsigned long movable = m->zone_movable_pfn[nid];
	if (!movable)
		return;
	if (zone_type == ZONE_MOVABLE) {
		*zone_start_pfn = movable;
		*zone_end_pfn =
		    kmm_min(node_end_pfn, m->arch_zone_highest_possible_pfn[m->movable_zone]);
	} else if (*zone_start_pfn<movable && * zone_end_pfn> movable) {
		*zone_end_pfn = movable;
	} else if (*zone_start_pfn >= movable) {
		*zone_start_pfn = *zone_end_pfn;
	}
}

static unsigned long
zone_spanned_pages_in_node(struct kmm_machine *m, int nid, enum zone_type zone_type,
			   unsigned long node_start_pfn, unsigned long node_end_pfn,
			   unsigned long *zone_start_pfn, unsigned long *zone_end_pfn)
{
	unsigned long lo = m->arch_zone_lowest_possible_pfn[zone_type];
	unsigned long hi = m->arch_zone_highest_possible_pfn[zone_type];
	*zone_start_pfn = kmm_clamp(node_start_pfn, lo, hi);
	*zone_end_pfn = kmm_clamp(node_end_pfn, lo, hi);
	adjust_zone_range_for_zone_movable(m, nid, zone_type, node_end_pfn, zone_start_pfn,
					   zone_end_pfn);
	if (*zone_end_pfn < node_start_pfn || *zone_start_pfn > node_end_pfn)
		return 0;
	*zone_end_pfn = kmm_min(*zone_end_pfn, node_end_pfn);
	*zone_start_pfn = kmm_max(*zone_start_pfn, node_start_pfn);
	return *zone_end_pfn - *zone_start_pfn;
}

static void calculate_node_totalpages(struct kmm_machine *m, struct kmm_node *pgdat,
				      unsigned long node_start_pfn, unsigned long node_end_pfn)
{
	unsigned long spanned_total = 0, present_total = 0;
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		unsigned long zs = 0, ze = 0, spanned = 0, absent = 0;
		if (m->zone_in_arch[z]) {
			spanned =
			    zone_spanned_pages_in_node(m, pgdat->node_id, (enum zone_type)z,
						       node_start_pfn, node_end_pfn, &zs, &ze);
			if (spanned)
				absent = absent_pages_in_range(m, pgdat->node_id, zs, ze);
		}
		zone->zone_start_pfn = spanned ? zs : 0;
		zone->spanned_pages = spanned;
		zone->present_pages = spanned - absent;
		zone->present_early_pages = zone->present_pages;
		spanned_total += spanned;
		present_total += spanned - absent;
	}
	pgdat->node_spanned_pages = spanned_total;
	pgdat->node_present_pages = present_total;
}

/*
 * Linux 6.1 estimated each zone's managed pages before memblock hands them
 * over: present pages minus the memmap that describes them (calc_memmap_size)
 * and, for the first zone, the pages reserved below 16 MiB. The estimate is
 * what "Total pages" in the boot log is computed from.
 */
static unsigned long calc_memmap_size(unsigned long spanned, unsigned long present, bool sparse)
{
	unsigned long pages = spanned;
	if (spanned > present + (present >> 4) && sparse)
		pages = present;
	return KMM_ALIGN(pages * sizeof(struct kmm_page), PAGE_SIZE) >> PAGE_SHIFT;
}

/* Pages reserved below 16 MiB at this point of boot (memblock_find_dma_reserve). */
void memblock_find_dma_reserve(struct kmm_machine *m)
{
	unsigned long limit = 16UL << (20 - PAGE_SHIFT), mem = 0, s, e;
	int idx = 0;
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, NULL))
		if (s < limit)
			mem += kmm_min(e, limit) - s;
	m->dma_reserve = mem - memblock_free_pages_in(m, 0, limit);
}

static void zone_init_internals(struct kmm_machine *m, struct kmm_zone *zone, enum zone_type idx,
				int nid, unsigned long remaining)
{
	atomic_long_set(&zone->managed_pages, (long)remaining);
	zone->node = nid;
	zone->type = idx;
	zone->name = kmm_zone_type_names[idx];
	zone->zone_pgdat = m->node_data[nid];
	zone->machine = m;
	spin_lock_init(&zone->lock);
	zone->pageset_high = 0;
	zone->pageset_batch = 1;
	for (int o = 0; o < NR_PAGE_ORDERS; o++) {
		for (int t = 0; t < MIGRATE_TYPES; t++)
			INIT_LIST_HEAD(&zone->free_area[o].free_list[t]);
		zone->free_area[o].nr_free = 0;
	}
}

/* Pageblock flags for the zone (setup_usemap): 4 bits per 2 MiB pageblock. */
static int setup_usemap(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_error *err)
{
	unsigned long base = KMM_ALIGN_DOWN(zone->zone_start_pfn, pageblock_nr_pages);
	unsigned long end = KMM_ALIGN(zone_end_pfn(zone), pageblock_nr_pages);
	unsigned long bits = ((end - base) >> pageblock_order) * NR_PAGEBLOCK_BITS;
	size_t bytes = KMM_ALIGN(bits, BITS_PER_LONG) / 8;
	zone->pageblock_base_pfn = base;
	zone->pageblock_flags = memblock_alloc_try_nid(m, bytes, KMM_CACHELINE, zone->node);
	if (!zone->pageblock_flags)
		return kmm_error_set(err, -ENOMEM, "no memory for the pageblock flags of zone %s",
				     zone->name);
	return 0;
}

static int free_area_init_core(struct kmm_machine *m, struct kmm_node *pgdat, struct kmm_error *err)
{
	int nid = pgdat->node_id;
	bool sparse = m->model != KMM_MODEL_FLATMEM;
	INIT_LIST_HEAD(&pgdat->__lruvec.lists[0]);
	for (int l = 0; l < NR_LRU_LISTS; l++)
		INIT_LIST_HEAD(&pgdat->__lruvec.lists[l]);
	spin_lock_init(&pgdat->__lruvec.lru_lock);
	pgdat->__lruvec.pgdat = pgdat;

	for (int z = 0; z < MAX_NR_ZONES; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		unsigned long size = zone->spanned_pages, freesize = zone->present_pages;
		unsigned long memmap_pages = calc_memmap_size(size, freesize, sparse);
		if (!is_highmem_idx(m, (enum zone_type)z) && freesize >= memmap_pages)
			freesize -= memmap_pages;
		if (z == 0 && freesize > m->dma_reserve)
			freesize -= m->dma_reserve;
		m->nr_all_pages += freesize;
		zone_init_internals(m, zone, (enum zone_type)z, nid, freesize);
		if (!size)
			continue;
		if (setup_usemap(m, zone, err))
			return err->code;
		if (z + 1 > pgdat->nr_zones)
			pgdat->nr_zones = z + 1;
		zone->initialized = true;
	}
	return 0;
}

int free_area_init(struct kmm_machine *m, struct kmm_error *err)
{
	unsigned long start_pfn = PFN_DOWN(memblock_start_of_DRAM(m)), end_pfn;
	int nid;

	memset(m->arch_zone_lowest_possible_pfn, 0, sizeof(m->arch_zone_lowest_possible_pfn));
	memset(m->arch_zone_highest_possible_pfn, 0, sizeof(m->arch_zone_highest_possible_pfn));
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		if (z == ZONE_MOVABLE || !m->zone_in_arch[z])
			continue;
		end_pfn = kmm_max(m->max_zone_pfn[z], start_pfn);
		m->arch_zone_lowest_possible_pfn[z] = start_pfn;
		m->arch_zone_highest_possible_pfn[z] = end_pfn;
		start_pfn = end_pfn;
	}
	find_zone_movable_pfns_for_nodes(m);

	pr_info(m, "Zone ranges:");
	for (int z = 0; z < MAX_NR_ZONES; z++) {
		if (z == ZONE_MOVABLE || !m->zone_in_arch[z])
			continue;
		if (m->arch_zone_lowest_possible_pfn[z] == m->arch_zone_highest_possible_pfn[z])
			pr_info(m, "  %-8s empty", kmm_zone_type_names[z]);
		else
			pr_info(m, "  %-8s [mem 0x%016llx-0x%016llx]", kmm_zone_type_names[z],
				(unsigned long long)PFN_PHYS(m->arch_zone_lowest_possible_pfn[z]),
				(unsigned long long)PFN_PHYS(m->arch_zone_highest_possible_pfn[z]) -
				    1);
	}
	pr_info(m, "Movable zone start for each node");
	for (nid = 0; nid < m->nr_node_ids; nid++)
		if (m->zone_movable_pfn[nid])
			pr_info(m, "  Node %d: 0x%016llx", nid,
				(unsigned long long)PFN_PHYS(m->zone_movable_pfn[nid]));
	pr_info(m, "Early memory node ranges");
	{
		int idx = 0, n;
		unsigned long s, e;
		while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &n))
			pr_info(m, "  node %3d: [mem 0x%016llx-0x%016llx]", n,
				(unsigned long long)PFN_PHYS(s),
				(unsigned long long)PFN_PHYS(e) - 1);
	}

	for (nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		unsigned long s, e;
		get_pfn_range_for_nid(m, nid, &s, &e);
		pgdat->node_start_pfn = s;
		pgdat->first_deferred_pfn = ~0UL;
		pr_info(m, "Initmem setup node %d [mem 0x%016llx-0x%016llx]", nid,
			(unsigned long long)PFN_PHYS(s),
			e ? (unsigned long long)PFN_PHYS(e) - 1 : 0);
		calculate_node_totalpages(m, pgdat, s, e);
		if (free_area_init_core(m, pgdat, err))
			return err->code;
	}
	return 0;
}
