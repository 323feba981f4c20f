/*
 * Free page reporting: the host takes back the memory of free max-order
 * blocks.
 *
 * Linux: mm/page_reporting.c (page_reporting_cycle, page_reporting_drain,
 * page_reporting_process_zone) with __isolate_free_page() and
 * __putback_isolated_page() of mm/page_alloc.c. Linux reports free blocks of
 * pageblock order and above to a device (virtio-balloon), which hands their
 * memory back to the hypervisor; a PG_reported flag keeps reported blocks
 * from being reported twice. kmm differs:
 *  - The device is the host itself, and the unit is the max-order block,
 *    the unit in which kmm backs simulated RAM (src/phys/ram.c): reporting a
 *    block discards its host memory, and the RAM population bitmap is the
 *    "reported" flag: a free block whose bit is clear has nothing left to
 *    give. Allocation repopulates it in one host call. No page flag, and no
 *    work in the allocator's own paths.
 *  - There is no delayed worker: the machine's owner calls
 *    kmm_page_reporting_run() when it decides to (libkmm-malloc: after a
 *    delay, or above a threshold), saying how many recently freed blocks to
 *    keep.
 *
 * Theory of operation: a pass over a zone counts the populated free blocks
 * on the max-order lists; the newest @keep of them (nearest the list heads,
 * which the allocator takes first) stay. Walking from the tails, the rest are
 * taken off the lists in batches, their memory is discarded with no lock
 * held, and they go back to the tails. While off the lists nobody can
 * allocate them, so no allocation sees a block being discarded.
 *
 * Lock order: the reporting lock (one pass at a time) -> zone->lock.
 */
#include "internal.h"
#include <kmm/page_reporting.h>

/* Blocks taken off the lists at once (Linux PAGE_REPORTING_CAPACITY). */
#define REPORTING_BATCH 32

static bool block_populated(const struct kmm_machine *m, unsigned long pfn)
{
	return test_bit(pfn >> MAX_PAGE_ORDER, m->ram_populated);
}

static bool reportable_list(int mt)
{
	return !is_migrate_isolate(mt);
}

/* Populated free max-order blocks of @zone; zone->lock held. */
static unsigned long count_populated(struct kmm_machine *m, struct kmm_zone *zone,
				     unsigned long *free_blocks)
{
	struct free_area *area = &zone->free_area[MAX_PAGE_ORDER];
	unsigned long n = 0;
	*free_blocks += area->nr_free;
	for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
		struct kmm_page *page;
		if (!reportable_list(mt))
			continue;
		list_for_each_entry (page, &area->free_list[mt], lru)
			n += block_populated(m, page_to_pfn(m, page));
	}
	return n;
}

void kmm_page_reporting_count(struct kmm_machine *m, struct kmm_page_reporting_count *c)
{
	int nid;
	struct kmm_zone *zone;
	c->free_blocks = c->populated_blocks = 0;
	for_each_populated_zone (m, nid, zone) {
		spin_lock(&zone->lock);
		c->populated_blocks += count_populated(m, zone, &c->free_blocks);
		spin_unlock(&zone->lock);
	}
}

/*
 * Take up to @want populated blocks off @zone's max-order lists, oldest
 * (tail) first, into @batch; zone->lock held. Returns how many.
 */
static unsigned int isolate_batch(struct kmm_machine *m, struct kmm_zone *zone, unsigned int want,
				  struct kmm_page **batch)
{
	struct free_area *area = &zone->free_area[MAX_PAGE_ORDER];
	unsigned int n = 0;
	for (int mt = 0; mt < MIGRATE_TYPES && n < want; mt++) {
		struct kmm_page *page, *prev;
		if (!reportable_list(mt))
			continue;
		/* From the tail: the blocks freed longest ago, or never used. */
		for (page = list_last_entry(&area->free_list[mt], struct kmm_page, lru);
		     &page->lru != &area->free_list[mt] && n < want; page = prev) {
			prev = list_prev_entry(page, lru);
			if (!block_populated(m, page_to_pfn(m, page)))
				continue;
			__isolate_free_block(m, zone, page, MAX_PAGE_ORDER);
			batch[n++] = page;
		}
	}
	return n;
}

/* Give the host the memory of @nr isolated blocks, then put them back; no lock held. */
static void report_batch(struct kmm_machine *m, struct kmm_zone *zone, struct kmm_page **batch,
			 unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		kmm_ram_discard(m, page_to_pfn(m, batch[i]), MAX_ORDER_NR_PAGES);
	spin_lock(&zone->lock);
	for (unsigned int i = 0; i < nr; i++) {
		unsigned long pfn = page_to_pfn(m, batch[i]);
		/* To the tail: reported blocks are the last choice (as Linux). */
		__free_one_page(m, NULL, batch[i], pfn, zone, MAX_PAGE_ORDER,
				get_pfnblock_migratetype(zone, pfn), FPI_TO_TAIL);
	}
	spin_unlock(&zone->lock);
}

unsigned long kmm_page_reporting_run(struct kmm_machine *m, unsigned long keep, unsigned long max)
{
	struct kmm_page_alloc_state *pa = m->pa;
	unsigned long done = 0;
	int nid;
	struct kmm_zone *zone;
	if (!spin_trylock(&pa->reporting_lock))
		return 0;
	for_each_populated_zone (m, nid, zone) {
		if (done >= max)
			break;
		unsigned long free_blocks = 0;
		spin_lock(&zone->lock);
		unsigned long populated = count_populated(m, zone, &free_blocks);
		unsigned long kept = kmm_min(keep, populated);
		keep -= kept;
		unsigned long todo = kmm_min(populated - kept, max - done);
		while (todo) {
			struct kmm_page *batch[REPORTING_BATCH];
			unsigned int n = isolate_batch(
			    m, zone, (unsigned int)kmm_min(todo, (unsigned long)REPORTING_BATCH),
			    batch);
			spin_unlock(&zone->lock);
			if (!n) {
				spin_lock(&zone->lock);
				break;
			}
			report_batch(m, zone, batch, n);
			done += n;
			todo -= n;
			spin_lock(&zone->lock);
		}
		spin_unlock(&zone->lock);
	}
	atomic_long_add((long)done, &pa->nr_reported);
	spin_unlock(&pa->reporting_lock);
	return done;
}

unsigned long kmm_page_reporting_total(struct kmm_machine *m)
{
	return (unsigned long)atomic_long_read(&m->pa->nr_reported);
}

unsigned long kmm_ram_populated_blocks(struct kmm_machine *m)
{
	size_t words = BITS_TO_LONGS(m->ram_size >> (PAGE_SHIFT + MAX_PAGE_ORDER));
	unsigned long n = 0;
	for (size_t i = 0; i < words; i++)
		n += (unsigned long)__builtin_popcountl(
		    __atomic_load_n(&m->ram_populated[i], __ATOMIC_RELAXED));
	return n;
}
