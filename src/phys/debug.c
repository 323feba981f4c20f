/*
 * Debugging the physical layer: page dumps for bug reports, and the phys
 * invariant checker that tests run after every step.
 *
 * Linux: mm/debug.c (dump_page), and the checks CONFIG_DEBUG_VM and
 * mminit_verify_* make, gathered into one validator.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

static const char *const pageflag_names[__NR_PAGEFLAGS] = {
    "locked",	 "referenced", "uptodate", "dirty",	   "lru",     "active",	    "workingset",
    "waiters",	 "error",      "slab",	   "owner_priv_1", "arch_1",  "reserved",   "private",
    "private_2", "writeback",  "head",	   "mappedtodisk", "reclaim", "swapbacked", "unevictable",
    "mlocked",	 "young",      "idle",	   "direct",	   "zeroed",
};

void kmm_dump_page(const struct kmm_page *page, const char *reason)
{
	char buf[512], flags[256] = "";
	size_t n = 0;
	for (int f = 0; f < __NR_PAGEFLAGS; f++)
		if (page->flags & (1UL << f))
			n += (size_t)kmm_port_snprintf(flags + n,
						       n < sizeof(flags) ? sizeof(flags) - n : 0,
						       "%s%s", n ? "|" : "", pageflag_names[f]);
	const char *type = PageBuddy(page) ? " buddy" : PageTable(page) ? " table" : "";
	int len = kmm_port_snprintf(
	    buf, sizeof(buf),
	    "page:%p refcount:%d mapcount:%d mapping:%p index:%#lx private:%#lx node:%d "
	    "zone:%u%s\nflags: %#lx(%s)\npage dumped because: %s\n",
	    (const void *)page, atomic_read(&page->_refcount),
	    PageBuddy(page) || PageTable(page) ? 0 : atomic_read(&page->_mapcount) + 1,
	    (void *)page->mapping, page->index, page->private, page_to_nid(page),
	    page_zonenum(page), type, page->flags, flags, reason ? reason : "(none)");
	kmm_port_write_stderr(buf, (size_t)kmm_min(len, (int)sizeof(buf) - 1));
}

void kmm_bug_page(const char *file, int line, const char *cond, const struct kmm_page *page)
{
	kmm_dump_page(page, cond);
	kmm_bug(file, line, "VM_BUG_ON_PAGE(%s)", cond);
}

#define FAIL(...) return kmm_error_set(err, -EINVAL, __VA_ARGS__)

/*
 * The phys invariants: memblock regions sorted and disjoint; node and zone
 * spans nested and covering their present pages; managed <= present <=
 * spanned; every present pfn valid, with a struct page naming its node and
 * zone (skipping pages deferred init has not reached yet).
 */
int kmm_phys_validate(struct kmm_machine *m, struct kmm_error *err)
{
	struct memblock_type *types[] = {&m->memblock.memory, &m->memblock.reserved};
	for (int t = 0; t < 2; t++) {
		struct memblock_type *type = types[t];
		phys_addr_t total = 0;
		for (unsigned long i = 0; i < type->cnt; i++) {
			struct memblock_region *r = &type->regions[i];
			total += r->size;
			if (!r->size)
				FAIL("memblock.%s[%lu] is empty", type->name, i);
			if (i && r->base < type->regions[i - 1].base + type->regions[i - 1].size)
				FAIL("memblock.%s[%lu] at %#llx overlaps or is out of order",
				     type->name, i, (unsigned long long)r->base);
		}
		if (total != type->total_size)
			FAIL("memblock.%s total %#llx != sum of regions %#llx", type->name,
			     (unsigned long long)type->total_size, (unsigned long long)total);
	}

	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmm_node *pgdat = m->node_data[nid];
		unsigned long present = 0, spanned = 0;
		if (pgdat->node_id != nid)
			FAIL("node %d: node_id is %d", nid, pgdat->node_id);
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &pgdat->node_zones[z];
			present += zone->present_pages;
			spanned += zone->spanned_pages;
			if (!zone->spanned_pages)
				continue;
			if (zone->present_pages > zone->spanned_pages)
				FAIL("node %d zone %s: present %lu > spanned %lu", nid, zone->name,
				     zone->present_pages, zone->spanned_pages);
			if (zone_managed_pages(zone) > zone->present_pages)
				FAIL("node %d zone %s: managed %lu > present %lu", nid, zone->name,
				     zone_managed_pages(zone), zone->present_pages);
			if (zone->zone_start_pfn < pgdat->node_start_pfn ||
			    zone_end_pfn(zone) > pgdat_end_pfn(pgdat))
				FAIL("node %d zone %s: span [%#lx, %#lx) outside the node's", nid,
				     zone->name, zone->zone_start_pfn, zone_end_pfn(zone));
			if (!m->zone_in_arch[z])
				FAIL("node %d: zone %s has pages but the arch has no such zone",
				     nid, zone->name);
			unsigned long counted =
			    zone->spanned_pages -
			    absent_pages_in_range(m, nid, zone->zone_start_pfn, zone_end_pfn(zone));
			if (counted != zone->present_pages)
				FAIL(
				    "node %d zone %s: present %lu but memblock has %lu pages there",
				    nid, zone->name, zone->present_pages, counted);
		}
		if (present != pgdat->node_present_pages)
			FAIL("node %d: present %lu != sum over zones %lu", nid,
			     pgdat->node_present_pages, present);
	}

	/* Every present pfn: valid, its struct page in the right node and zone. */
	int idx = 0, nid;
	unsigned long s, e;
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &nid)) {
		struct kmm_node *pgdat = m->node_data[nid];
		unsigned long deferred = READ_ONCE(pgdat->first_deferred_pfn);
		for (unsigned long pfn = s; pfn < e; pfn++) {
			if (!pfn_valid(m, pfn))
				FAIL("pfn %#lx is RAM on node %d but pfn_valid() says no", pfn,
				     nid);
			if (pfn >= deferred)
				continue;
			struct kmm_page *page = pfn_to_page(m, pfn);
			if (page_to_pfn(m, page) != pfn)
				FAIL("pfn %#lx: page_to_pfn(pfn_to_page()) = %#lx", pfn,
				     page_to_pfn(m, page));
			if (page_to_nid(page) != nid)
				FAIL("pfn %#lx: struct page says node %d, memblock says %d", pfn,
				     page_to_nid(page), nid);
			struct kmm_zone *zone = page_zone(m, page);
			if (!zone_spans_pfn(zone, pfn))
				FAIL("pfn %#lx: struct page says zone %s, which spans [%#lx, %#lx)",
				     pfn, zone->name, zone->zone_start_pfn, zone_end_pfn(zone));
			if (page_address(m, page) != pfn_to_virt(m, pfn))
				FAIL("pfn %#lx: page_address() disagrees with the direct map", pfn);
		}
	}
	return 0;
}
