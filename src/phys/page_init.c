/*
 * Initialising struct pages and handing free memory to the page allocator,
 * with deferred initialisation.
 *
 * Linux: mm/mm_init.c (memmap_init, init_unavailable_range, defer_init,
 * deferred_init_memmap, deferred_grow_zone, reserve_bootmem_region),
 * mm/memblock.c (memblock_free_all), mm/page_alloc.c (__free_pages_core,
 * free_reserved_area, adjust_managed_page_count).
 *
 * Theory of operation:
 *  1. memmap_init() walks memblock's memory ranges zone by zone and gives
 *     every page frame its zone and node; pageblocks start MOVABLE. Holes
 *     inside the memmap (pfn 0, the legacy hole, the tail of the last
 *     section, the whole PCI hole for FLATMEM) get reserved struct pages.
 *  2. Deferral: in the highest zone of each node only the first section
 *     (128 MiB) is initialised at boot; the node remembers the first
 *     deferred pfn. Boot memory never needs more.
 *  3. memblock_free_all() marks every reserved range PageReserved and hands
 *     every free range to the buddy allocator in the largest aligned blocks
 *     (through m->hooks.free_boot_pages, registered by page/).
 *  4. The deferred rest is initialised one section at a time, by a thread
 *     per node (or by an allocation that finds its zone short, through
 *     deferred_grow_zone()), each section under m->deferred_lock. In
 *     KMM_DEFERRED_ON_DEMAND mode there is no thread: only allocations grow
 *     the zone, so a machine with a large RAM costs the host only the struct
 *     pages of the memory it has used (the heap of libkmm-malloc).
 *
 * Lock order: m->deferred_lock, then zone->lock (inside the free hook).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

static __kmm_always_inline void __init_single_page(struct kmm_machine *m, struct kmm_page *page,
						   unsigned long pfn, unsigned int zone, int nid)
{
	unsigned long section = m->model == KMM_MODEL_SPARSEMEM ? pfn_to_section_nr(pfn) : 0;
	page->flags = ((unsigned long)zone & ZONES_MASK) << ZONES_PGSHIFT |
		      ((unsigned long)nid & NODES_MASK) << NODES_PGSHIFT |
		      (section & SECTIONS_MASK) << SECTIONS_PGSHIFT;
	page->lru.next = &page->lru;
	page->lru.prev = &page->lru;
	page->mapping = NULL;
	page->index = 0;
	page->private = 0;
	atomic_set(&page->_mapcount, -1);
	atomic_set(&page->_refcount, 1);
	page->pte.chain = NULL;
}

/* Initialise [start, end) of one zone: populate the memmap, then write it. */
static void init_pages(struct kmm_machine *m, unsigned long start, unsigned long end,
		       struct kmm_zone *zone)
{
	memmap_populate(m, start, end);
	for (unsigned long pfn = start; pfn < end;) {
		/* Pages are contiguous in the memmap within a section (all models). */
		unsigned long next = kmm_min(end, KMM_ALIGN(pfn + 1, PAGES_PER_SECTION));
		struct kmm_page *page = pfn_to_page(m, pfn);
		for (unsigned long p = pfn; p < next; p++, page++) {
			__init_single_page(m, page, p, zone->type, zone->node);
			if (!(p & (pageblock_nr_pages - 1)))
				set_pfnblock_migratetype(zone, p, MIGRATE_MOVABLE);
		}
		pfn = next;
	}
}

/* The next valid pfn at or above @pfn, or @end. */
static unsigned long next_valid_pfn(struct kmm_machine *m, unsigned long pfn, unsigned long end)
{
	while (pfn < end && !pfn_valid(m, pfn)) {
		if (m->model != KMM_MODEL_FLATMEM)
			pfn = KMM_ALIGN(pfn + 1, PAGES_PER_SECTION);
		else if (pfn < m->flat_pfn_offset)
			pfn = m->flat_pfn_offset; /* below mem_map: valid again where it starts */
		else
			pfn = end; /* above mem_map: nothing valid */
	}

	return kmm_min(pfn, end);
}

/* The end of the run of valid pfns that @pfn (valid) starts. */
static unsigned long valid_run_end(struct kmm_machine *m, unsigned long pfn)
{
	if (m->model == KMM_MODEL_FLATMEM)
		return m->flat_pfn_offset + m->flat_nr_pages;
	const struct mem_section *ms = __nr_to_section(m, pfn_to_section_nr(pfn));
	return KMM_ALIGN_DOWN(pfn, PAGES_PER_SECTION) + ms->nr_pages;
}

static void init_unavailable_range(struct kmm_machine *m, unsigned long spfn, unsigned long epfn,
				   struct kmm_zone *zone)
{
	unsigned long count = 0;
	for (unsigned long pfn = next_valid_pfn(m, spfn, epfn); pfn < epfn;) {
		unsigned long next = kmm_min(epfn, valid_run_end(m, pfn));

		memmap_populate(m, pfn, next);
		for (unsigned long p = pfn; p < next; p++) {
			struct kmm_page *page = pfn_to_page(m, p);
			__init_single_page(m, page, p, zone->type, zone->node);
			__SetPageReserved(page);
		}
		count += next - pfn;
		pfn = next_valid_pfn(m, next, epfn);
	}
	if (count)
		pr_info(m, "On node %d, zone %s: %lu pages in unavailable ranges", zone->node,
			zone->name, count);
}

/*
 * Initialise the pages of [start, end) in @zone, stopping where deferral
 * begins (defer_init): in the node's highest zone, after the first section's
 * worth of pages, at a section boundary.
 */
static void memmap_init_range(struct kmm_machine *m, struct kmm_zone *zone, unsigned long start,
			      unsigned long end, unsigned long *nr_initialised)
{
	struct kmm_node *pgdat = zone->zone_pgdat;
	bool deferrable =
	    m->cfg.deferred != KMM_DEFERRED_OFF && zone_end_pfn(zone) == pgdat_end_pfn(pgdat);
	for (unsigned long pfn = start; pfn < end;) {
		if (deferrable) {
			if (pgdat->first_deferred_pfn != ~0UL)
				return;
			if (!(pfn & (PAGES_PER_SECTION - 1)) &&
			    *nr_initialised >= PAGES_PER_SECTION) {
				pgdat->first_deferred_pfn = pfn;
				return;
			}
		}
		unsigned long next = kmm_min(end, KMM_ALIGN(pfn + 1, PAGES_PER_SECTION));
		init_pages(m, pfn, next, zone);
		*nr_initialised += next - pfn;
		pfn = next;
	}
}

void memmap_init(struct kmm_machine *m)
{
	unsigned long hole_pfn = 0, s, e, end_pfn = 0;
	int idx = 0, nid = 0;
	struct kmm_zone *last = NULL;
	struct kmm_zone *prev_zone = NULL;
	unsigned long nr_initialised = 0;

	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &nid)) {
		struct kmm_node *pgdat = m->node_data[nid];
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &pgdat->node_zones[z];
			if (!populated_zone(zone))
				continue;
			unsigned long zs = kmm_clamp(s, zone->zone_start_pfn, zone_end_pfn(zone));
			unsigned long ze = kmm_clamp(e, zone->zone_start_pfn, zone_end_pfn(zone));
			if (zs >= ze)
				continue;
			if (zone != prev_zone) {
				prev_zone = zone;
				nr_initialised = 0;
			}
			memmap_init_range(m, zone, zs, ze, &nr_initialised);
			/* Holes before this range belong to the zone above them. */
			if (hole_pfn < zs)
				init_unavailable_range(m, hole_pfn, zs, zone);
			hole_pfn = ze;
			last = zone;
		}
		end_pfn = e;
	}
	/* The tail of the last section (or max-order block for FLATMEM). */
	end_pfn = m->model == KMM_MODEL_FLATMEM ? KMM_ALIGN(end_pfn, MAX_ORDER_NR_PAGES)
						: KMM_ALIGN(end_pfn, PAGES_PER_SECTION);
	if (last && hole_pfn < end_pfn)
		init_unavailable_range(m, hole_pfn, end_pfn, last);
}

static bool early_page_initialised(struct kmm_machine *m, unsigned long pfn, int nid)
{
	return pfn < READ_ONCE(m->node_data[nid]->first_deferred_pfn);
}

static struct kmm_zone *zone_of_pfn(struct kmm_machine *m, unsigned long pfn, int nid)
{
	struct kmm_node *pgdat = m->node_data[nid];
	for (int z = 0; z < MAX_NR_ZONES; z++)
		if (zone_spans_pfn(&pgdat->node_zones[z], pfn))
			return &pgdat->node_zones[z];
	return NULL;
}

/* Initialise the struct page of reserved pfn @pfn (if deferral skipped it) and mark it. */
static void init_reserved_pfn(struct kmm_machine *m, unsigned long pfn, int nid)
{
	if (!early_page_initialised(m, pfn, nid)) {
		struct kmm_zone *zone = zone_of_pfn(m, pfn, nid);
		memmap_populate(m, pfn, pfn + 1);
		__init_single_page(m, pfn_to_page(m, pfn), pfn, zone->type, nid);
		if (!(pfn & (pageblock_nr_pages - 1)))
			set_pfnblock_migratetype(zone, pfn, MIGRATE_MOVABLE);
	}
	__SetPageReserved(pfn_to_page(m, pfn));
}

/*
 * Mark the reserved pages of [lo, hi) (reserve_bootmem_region()); holes
 * between memory ranges were initialised as reserved already. Linux
 * initialises reserved pages at boot even where deferred; so does kmm,
 * except in KMM_DEFERRED_ON_DEMAND mode (@skip_deferred), where a deferred
 * section's reserved pages wait for the section, so that a large machine
 * does not pay at boot for struct pages of reservations nobody looks at
 * (the memmap's own blocks at the top of RAM, under SPARSEMEM_VMEMMAP).
 */
static void init_reserved_pages(struct kmm_machine *m, unsigned long lo, unsigned long hi,
				bool skip_deferred)
{
	struct memblock_region *r;
	for_each_memblock_region (&m->memblock.reserved, r) {
		unsigned long start = kmm_max(lo, (unsigned long)PFN_DOWN(r->base));
		unsigned long end = kmm_min(hi, (unsigned long)PFN_UP(r->base + r->size));
		int idx = 0, nid;
		unsigned long s, e;
		while (start < end &&
		       memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &nid)) {
			unsigned long a = kmm_max(start, s), b = kmm_min(end, e);
			if (skip_deferred)
				b = kmm_min(b, READ_ONCE(m->node_data[nid]->first_deferred_pfn));
			for (unsigned long pfn = a; pfn < b; pfn++)
				init_reserved_pfn(m, pfn, nid);
		}
	}
}

static bool on_demand(const struct kmm_machine *m)
{
	return m->cfg.deferred == KMM_DEFERRED_ON_DEMAND;
}

/* Hand a block of boot memory to the page allocator (Linux __free_pages_core). */
static void __free_pages_core(struct kmm_machine *m, struct kmm_page *page, unsigned int order)
{
	unsigned long nr = 1UL << order;
	for (unsigned long i = 0; i < nr; i++) {
		__ClearPageReserved(&page[i]);
		set_page_count(&page[i], 0);
	}
	atomic_long_add((long)nr, &page_zone(m, page)->managed_pages);
	if (m->hooks.free_boot_pages)
		m->hooks.free_boot_pages(m, page, order);
}

/* Free [start, end) in the largest naturally aligned blocks (__free_pages_memory). */
static void free_pages_memory(struct kmm_machine *m, unsigned long start, unsigned long end,
			      bool skip_deferred, int nid)
{
	while (start < end) {
		unsigned int order =
		    start ? kmm_min((unsigned int)MAX_PAGE_ORDER, (unsigned int)__ffs(start))
			  : MAX_PAGE_ORDER;
		while (start + (1UL << order) > end)
			order--;
		if (!skip_deferred || early_page_initialised(m, start, nid))
			__free_pages_core(m, pfn_to_page(m, start), order);
		start += 1UL << order;
	}
}

void memblock_free_all(struct kmm_machine *m)
{
	unsigned long a = 0, b = 0, count = 0;
	phys_addr_t s, e;
	int nid;
	struct kmm_zone *zone;
	/* The boot estimate of managed pages gives way to the real count. */
	for_each_zone (m, nid, zone)
		atomic_long_set(&zone->managed_pages, 0);
	init_reserved_pages(m, 0, ~0UL, on_demand(m));
	while (memblock_next_free_range(m, &a, &b, NUMA_NO_NODE, &s, &e, &nid)) {
		unsigned long spfn = PFN_UP(s), epfn = PFN_DOWN(e);
		if (spfn >= epfn)
			continue;
		free_pages_memory(m, spfn, epfn, true, nid);
		count += epfn - spfn;
	}
	atomic_long_add((long)count, &m->totalram_pages);
}

void adjust_managed_page_count(struct kmm_machine *m, struct kmm_page *page, long count)
{
	struct kmm_zone *zone = page_zone(m, page);
	atomic_long_add(count, &zone->managed_pages);
	atomic_long_add(count, &m->totalram_pages);
	if (is_highmem_idx(m, zone->type))
		m->totalhigh_pages += (unsigned long)count;
}

/* Give a reserved range back to the page allocator (free_reserved_area). */
void free_reserved_area(struct kmm_machine *m, phys_addr_t start, phys_addr_t end, const char *what)
{
	unsigned long pages = 0;
	for (unsigned long pfn = PFN_UP(start); pfn < PFN_DOWN(end); pfn++) {
		if (!pfn_valid(m, pfn) || !memblock_is_memory(m, PFN_PHYS(pfn)))
			continue;
		struct kmm_page *page = pfn_to_page(m, pfn);
		if (!PageReserved(page))
			continue;
		__ClearPageReserved(page);
		set_page_count(page, 0);
		adjust_managed_page_count(m, page, 1);
		if (m->hooks.free_boot_pages)
			m->hooks.free_boot_pages(m, page, 0);
		pages++;
	}
	if (what)
		pr_info(m, "Freeing %s memory: %luK", what, pages << (PAGE_SHIFT - 10));
}

/* --- Deferred initialisation ------------------------------------------------------ */

static struct kmm_zone *deferred_zone(struct kmm_node *pgdat)
{
	return &pgdat->node_zones[pgdat->nr_zones - 1];
}

/* Initialise and free one section of @pgdat's deferred pages; m->deferred_lock held. */
static bool deferred_init_section(struct kmm_machine *m, struct kmm_node *pgdat)
{
	unsigned long spfn = pgdat->first_deferred_pfn;
	if (spfn == ~0UL)
		return false;
	unsigned long epfn = kmm_min(KMM_ALIGN(spfn + 1, PAGES_PER_SECTION), pgdat_end_pfn(pgdat));
	struct kmm_zone *zone = deferred_zone(pgdat);
	unsigned long a = 0, b = 0;
	phys_addr_t s, e;
	int nid;

	/* Initialise every free page first: freeing looks at buddies ahead. */
	while (memblock_next_free_range(m, &a, &b, pgdat->node_id, &s, &e, &nid)) {
		unsigned long fs = kmm_max((unsigned long)PFN_UP(s), spfn);
		unsigned long fe = kmm_min((unsigned long)PFN_DOWN(e), epfn);
		if (fs < fe)
			init_pages(m, fs, fe, zone);
	}
	if (on_demand(m))
		init_reserved_pages(m, spfn, epfn, false);
	WRITE_ONCE(pgdat->first_deferred_pfn, epfn >= pgdat_end_pfn(pgdat) ? ~0UL : epfn);
	a = b = 0;
	while (memblock_next_free_range(m, &a, &b, pgdat->node_id, &s, &e, &nid)) {
		unsigned long fs = kmm_max((unsigned long)PFN_UP(s), spfn);
		unsigned long fe = kmm_min((unsigned long)PFN_DOWN(e), epfn);
		if (fs < fe)
			free_pages_memory(m, fs, fe, false, nid);
	}
	return true;
}

bool deferred_grow_zone(struct kmm_zone *zone, unsigned int order)
{
	struct kmm_machine *m = zone->machine;
	struct kmm_node *pgdat = zone->zone_pgdat;
	unsigned long want = KMM_ALIGN(1UL << order, PAGES_PER_SECTION), before, grown = 0;
	if (READ_ONCE(pgdat->first_deferred_pfn) == ~0UL || zone != deferred_zone(pgdat))
		return false;
	before = zone_managed_pages(zone);
	spin_lock(&m->deferred_lock);
	while (grown < want && deferred_init_section(m, pgdat))
		grown = zone_managed_pages(zone) - before;
	spin_unlock(&m->deferred_lock);
	return grown > 0 || zone_managed_pages(zone) > before;
}

struct deferred_job {
	struct kmm_machine *m;
	struct kmm_node *pgdat;
};

static void *deferred_init_memmap(void *arg)
{
	struct deferred_job *job = arg;
	struct kmm_machine *m = job->m;
	uint64_t t0 = kmm_port_now_ns();
	bool any = false;
	for (;;) {
		spin_lock(&m->deferred_lock);
		bool more = deferred_init_section(m, job->pgdat);
		spin_unlock(&m->deferred_lock);
		if (!more)
			break;
		any = true;
	}
	if (any)
		pr_info(m, "node %d deferred pages initialised in %lums", job->pgdat->node_id,
			(unsigned long)((kmm_port_now_ns() - t0) / 1000000));
	return NULL;
}

/*
 * Run deferred init for every node, one host thread per node, and wait.
 * (The lock serialises the sections; the threads still overlap the
 * population of the memmap, which is most of the cost.)
 */
static void deferred_init_all(struct kmm_machine *m)
{
	struct deferred_job jobs[KMM_MAX_NUMNODES];
	struct kmm_port_thread *threads[KMM_MAX_NUMNODES] = {0};
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		jobs[nid] = (struct deferred_job){m, m->node_data[nid]};
		if (READ_ONCE(m->node_data[nid]->first_deferred_pfn) == ~0UL)
			continue;
		if (m->nr_node_ids > 1 &&
		    !kmm_port_thread_create(&threads[nid], deferred_init_memmap, &jobs[nid]))
			continue;
		threads[nid] = NULL;
		deferred_init_memmap(&jobs[nid]);
	}
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		if (threads[nid])
			kmm_port_thread_join(threads[nid]);
}

struct late_job {
	struct kmm_machine *m;
	void (*then)(struct kmm_machine *m);
};

static void deferred_finish(struct kmm_machine *m, void (*then)(struct kmm_machine *m))
{
	deferred_init_all(m);
	then(m);
	m->init_done_ns = kmm_port_now_ns();
	__atomic_store_n(&m->deferred_done, true, __ATOMIC_RELEASE);
}

static void *deferred_thread(void *arg)
{
	struct late_job job = *(struct late_job *)arg;
	kmm_port_free(arg, sizeof(job));
	deferred_finish(job.m, job.then);
	return NULL;
}

/*
 * Finish initialisation: the deferred pages, then @then (the late boot
 * steps that need every page counted, such as the watermarks). In
 * KMM_DEFERRED_THREAD mode this runs in a thread and the machine is usable
 * meanwhile; kmm_wait_for_init() waits for it.
 */
void deferred_init_start(struct kmm_machine *m, void (*then)(struct kmm_machine *m))
{
	if (m->cfg.deferred == KMM_DEFERRED_ON_DEMAND) {
		/*
		 * No thread: deferred_grow_zone() adds sections as allocations
		 * need them, for as long as m->deferred_done stays false. The
		 * watermarks are computed now, from the memory there is.
		 */
		then(m);
		m->init_done_ns = kmm_port_now_ns();
		return;
	}
	if (m->cfg.deferred == KMM_DEFERRED_THREAD) {
		struct late_job *job = kmm_port_alloc(sizeof(*job));
		if (job) {
			job->m = m;
			job->then = then;
			if (!kmm_port_thread_create(&m->deferred_thread, deferred_thread, job))
				return;
			kmm_port_free(job, sizeof(*job));
		}
	}
	deferred_finish(m, then);
}

void kmm_wait_for_init(struct kmm_machine *m)
{
	if (m->deferred_thread) {
		kmm_port_thread_join(m->deferred_thread);
		m->deferred_thread = NULL;
	}
}

void mem_init_print_info(struct kmm_machine *m)
{
	const struct kmm_kernel_sizes *k = &m->cfg.desc.kernel;
	unsigned long physpages = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		physpages += m->node_data[nid]->node_present_pages;
	m->physpages = physpages;
	unsigned long totalram = (unsigned long)atomic_long_read(&m->totalram_pages);
#define K(pages) ((pages) << (PAGE_SHIFT - 10))
	pr_info(m,
		"Memory: %luK/%luK available (%lluK kernel code, %lluK rwdata, %lluK rodata, "
		"%lluK init, %lluK bss, %luK reserved, 0K cma-reserved%s)",
		K(global_zone_page_state(m, NR_FREE_PAGES)), K(physpages),
		(unsigned long long)k->code >> 10, (unsigned long long)k->rwdata >> 10,
		(unsigned long long)k->rodata >> 10, (unsigned long long)k->init >> 10,
		(unsigned long long)k->bss >> 10, K(physpages - totalram), "");
#undef K
}
