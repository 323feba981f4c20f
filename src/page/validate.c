/*
 * The page allocator's invariant checker (CONFIG_DEBUG_VM, and more).
 *
 * Linux: the checks scattered through mm/page_alloc.c under DEBUG_VM
 * (bad_range, page_expected_state, check_new_page) and mm/debug.c, gathered
 * into one whole-structure validator that the randomized tests run after
 * every step. Call it while no other thread is allocating: it reads every
 * CPU's lists.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

struct zone_scan {
	unsigned long base, span;
	unsigned long *covered; /* pfns in a free block or on a pcp list */
	unsigned long *heads;	/* first pfns of free blocks */
	size_t bytes;
};

static bool cover(struct zone_scan *s, unsigned long pfn, unsigned long nr)
{
	for (unsigned long i = pfn - s->base; i < pfn - s->base + nr; i++)
		if (__test_and_set_bit(i, s->covered))
			return false;
	return true;
}

static int check_free_lists(struct kmm_machine *m, struct kmm_zone *zone, struct zone_scan *s,
			    struct kmm_error *err)
{
	unsigned long total = 0, isolated = 0;
	for (unsigned int order = 0; order < NR_PAGE_ORDERS; order++) {
		unsigned long nr = 0;
		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct kmm_page *page;
			list_for_each_entry (page, &zone->free_area[order].free_list[mt], lru) {
				unsigned long pfn = page_to_pfn(m, page);
				if (!zone_spans_pfn(zone, pfn) ||
				    !zone_spans_pfn(zone, pfn + (1UL << order) - 1))
					return kmm_error_set(
					    err, -EINVAL,
					    "zone %s: free block pfn %#lx order %u "
					    "(%s list) outside the zone",
					    zone->name, pfn, order, migratetype_names[mt]);
				if (pfn & ((1UL << order) - 1))
					return kmm_error_set(err, -EINVAL,
							     "zone %s: free block pfn %#lx is not "
							     "aligned to its order %u",
							     zone->name, pfn, order);
				if (page_zone(m, page) != zone)
					return kmm_error_set(err, -EINVAL,
							     "free block pfn %#lx is on zone %s's "
							     "list but belongs to node %d zone %u",
							     pfn, zone->name, page_to_nid(page),
							     page_zonenum(page));
				if (!cover(s, pfn, 1UL << order))
					return kmm_error_set(
					    err, -EINVAL,
					    "zone %s: free block pfn %#lx order %u "
					    "overlaps another free block",
					    zone->name, pfn, order);
				__set_bit(pfn - s->base, s->heads);
				if (m->buddy == KMM_BUDDY_PAGEFLAG &&
				    (!PageBuddy(page) || page->private != order))
					return kmm_error_set(
					    err, -EINVAL,
					    "zone %s: free block pfn %#lx order %u "
					    "is not marked (PageBuddy %d, order %lu)",
					    zone->name, pfn, order, PageBuddy(page), page->private);
				if (page_ref_count(page) != 0)
					return kmm_error_set(err, -EINVAL,
							     "zone %s: free page pfn %#lx has "
							     "refcount %d",
							     zone->name, pfn, page_ref_count(page));
				nr++;
				total += 1UL << order;
				if (mt == MIGRATE_ISOLATE)
					isolated += 1UL << order;
			}
		}
		if (nr != zone->free_area[order].nr_free)
			return kmm_error_set(err, -EINVAL,
					     "zone %s order %u: nr_free %lu but the lists hold %lu",
					     zone->name, order, zone->free_area[order].nr_free, nr);
	}
	unsigned long counted = zone_page_state_snapshot(zone, NR_FREE_PAGES);
	if (counted != total - isolated)
		return kmm_error_set(
		    err, -EINVAL, "zone %s: NR_FREE_PAGES is %lu but the free lists hold %lu pages",
		    zone->name, counted, total - isolated);
	return 0;
}

/* The 2.4 maps must equal the XOR of the free blocks at each order. */
static int check_bitmaps(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_error *err)
{
	unsigned long base = KMM_ALIGN_DOWN(zone->zone_start_pfn, MAX_ORDER_NR_PAGES);
	unsigned long span = KMM_ALIGN(zone_end_pfn(zone), MAX_ORDER_NR_PAGES) - base;
	for (unsigned int order = 0; order < MAX_PAGE_ORDER; order++) {
		unsigned long bits = span >> (order + 1);
		size_t bytes = BITS_TO_LONGS(bits) * sizeof(long);
		unsigned long *want = kmm_port_alloc(bytes);
		if (!want)
			return kmm_error_set(err, -ENOMEM, "validator: out of memory");
		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			struct kmm_page *page;
			list_for_each_entry (page, &zone->free_area[order].free_list[mt], lru)
				__change_bit((page_to_pfn(m, page) - base) >> (order + 1), want);
		}
		int bad = memcmp(want, zone->free_area[order].map, bytes);
		unsigned long where = 0;
		if (bad)
			for (where = 0; where < bits; where++)
				if (test_bit(where, want) !=
				    test_bit(where, zone->free_area[order].map))
					break;
		kmm_port_free(want, bytes);
		if (bad)
			return kmm_error_set(err, -EINVAL,
					     "zone %s order %u: free_area map bit %lu (pfn %#lx) "
					     "disagrees with the free lists",
					     zone->name, order, where,
					     base + (where << (order + 1)));
	}
	return 0;
}

/* No page outside the lists may carry PageBuddy (pageflag design). */
static int check_stray_buddies(struct kmm_machine *m, struct kmm_zone *zone, struct zone_scan *s,
			       struct kmm_error *err)
{
	unsigned long deferred = READ_ONCE(zone->zone_pgdat->first_deferred_pfn);
	for (unsigned long pfn = zone->zone_start_pfn; pfn < zone_end_pfn(zone); pfn++) {
		if (pfn >= deferred)
			break;
		if (!pfn_valid(m, pfn)) {
			pfn = KMM_ALIGN(pfn + 1, PAGES_PER_SECTION) - 1;
			continue;
		}
		struct kmm_page *page = pfn_to_page(m, pfn);
		if (PageBuddy(page) && !test_bit(pfn - s->base, s->heads))
			return kmm_error_set(err, -EINVAL,
					     "zone %s: pfn %#lx is marked PageBuddy but is not the "
					     "head of a listed free block",
					     zone->name, pfn);
	}
	return 0;
}

static int check_pcp(struct kmm_machine *m, struct kmm_zone *zone, struct zone_scan *s,
		     struct kmm_error *err)
{
	if (!zone->per_cpu_pageset)
		return 0;
	for (int c = 0; c < m->nr_cpus; c++) {
		struct per_cpu_pages *pcp = &zone->per_cpu_pageset[c];
		long count = 0;
		for (int i = 0; i < NR_PCP_LISTS; i++) {
			unsigned int order = pindex_to_order(i);
			struct kmm_page *page;
			list_for_each_entry (page, &pcp->lists[i], lru) {
				unsigned long pfn = page_to_pfn(m, page);
				if (!zone_spans_pfn(zone, pfn) || page_zone(m, page) != zone)
					return kmm_error_set(
					    err, -EINVAL,
					    "cpu %d zone %s: pcp list %d holds pfn "
					    "%#lx of another zone",
					    c, zone->name, i, pfn);
				if (!cover(s, pfn, 1UL << order))
					return kmm_error_set(
					    err, -EINVAL,
					    "cpu %d zone %s: pcp page pfn %#lx "
					    "(order %u) is also free in the buddy or "
					    "on another pcp list",
					    c, zone->name, pfn, order);
				/* Highatomic pages are freed onto the movable list (as Linux does). */
				int mt = get_pcppage_migratetype(page);
				if (order <= PAGE_ALLOC_COSTLY_ORDER &&
				    mt != i % MIGRATE_PCPTYPES &&
				    !(mt == MIGRATE_HIGHATOMIC &&
				      i % MIGRATE_PCPTYPES == MIGRATE_MOVABLE))

					return kmm_error_set(
					    err, -EINVAL,
					    "cpu %d zone %s: pcp page pfn %#lx has "
					    "migratetype %d on list %d",
					    c, zone->name, pfn, get_pcppage_migratetype(page), i);
				if (page_ref_count(page) != 0 ||
				    (m->buddy == KMM_BUDDY_PAGEFLAG && PageBuddy(page)))
					return kmm_error_set(
					    err, -EINVAL,
					    "cpu %d zone %s: pcp page pfn %#lx is in "
					    "use (refcount %d) or marked buddy",
					    c, zone->name, pfn, page_ref_count(page));
				count += 1L << order;
			}
		}
		if (count != pcp->count)
			return kmm_error_set(err, -EINVAL,
					     "cpu %d zone %s: pcp count %d but the lists hold %ld",
					     c, zone->name, pcp->count, count);
	}
	return 0;
}

int kmm_page_alloc_validate(struct kmm_machine *m, struct kmm_error *err)
{
	int nid, ret = 0;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone) {
		struct zone_scan s;
		s.base = zone->zone_start_pfn;
		s.span = zone->spanned_pages;
		s.bytes = BITS_TO_LONGS(s.span) * sizeof(long);
		s.covered = kmm_port_alloc(s.bytes);
		s.heads = kmm_port_alloc(s.bytes);
		if (!s.covered || !s.heads) {
			kmm_error_set(err, -ENOMEM, "validator: out of memory");
			ret = -ENOMEM;
			goto next;
		}
		if (min_wmark_pages(zone) > low_wmark_pages(zone) ||
		    low_wmark_pages(zone) > high_wmark_pages(zone)) {
			ret = kmm_error_set(err, -EINVAL, "zone %s: watermarks out of order",
					    zone->name);
			goto next;
		}
		spin_lock(&zone->lock);
		ret = check_free_lists(m, zone, &s, err);
		if (!ret && m->buddy == KMM_BUDDY_BITMAP)
			ret = check_bitmaps(m, zone, err);
		if (!ret && m->buddy == KMM_BUDDY_PAGEFLAG)
			ret = check_stray_buddies(m, zone, &s, err);
		if (!ret)
			ret = check_pcp(m, zone, &s, err);
		spin_unlock(&zone->lock);
next:
		kmm_port_free(s.covered, s.bytes);
		kmm_port_free(s.heads, s.bytes);
		if (ret)
			return ret;
	}
	return 0;
}
