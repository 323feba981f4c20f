/*
 * phys/'s interface to the layers above it (page/, slab/, init/, proc/).
 *
 * The public structures are in include/kmm/{machine,mmzone,mm_types}.h; this
 * header declares the kernel-named functions that upper layers call:
 * counters, the kernel log, boot-memory allocation, populating simulated
 * RAM, watermark recomputation and the deferred-init hand-off.
 */
#ifndef KMM_PHYS_PHYS_H
#define KMM_PHYS_PHYS_H

#include <kmm/machine.h>
#include <kmm/memory_model.h>
#include <kmm/vmstat.h>
#include "../port/port.h"

/* The CPU the calling thread has entered on @m, or NULL (fast: one TLS load). */
static __kmm_always_inline struct kmm_cpu *this_cpu(const struct kmm_machine *m)
{
	struct kmm_cpu *cpu = kmm_current_cpu;
	return likely(cpu && cpu->machine == m) ? cpu : NULL;
}

/* --- The kernel image (reserve.c) ------------------------------------------------ */

/* The sections of the simulated kernel image, in load order from 16 MiB. */
enum kmm_kernel_piece {
	KP_CODE,
	KP_TEXT_RODATA_GAP, /* freed late */
	KP_RODATA,
	KP_RODATA_DATA_GAP, /* freed late */
	KP_DATA,
	KP_INIT,      /* freed late */
	KP_DECRYPTED, /* freed late */
	KP_BSS,
	KP_SMP_ALT, /* freed before the watermarks */
	KP_TAIL,    /* the rest of the image up to _end, which the log does not itemise */
	KP_NR
};
#define KERNEL_LOAD_ADDR (16 * KMM_SZ_1M)

/* --- Boot steps, called by init/ in the kernel's order (boot.c) --------------- */

void printk_init(struct kmm_machine *m);
/* e820, memblock, early reservations, NUMA, zones, memmap, per-CPU areas. */
int setup_arch(struct kmm_machine *m, struct kmm_error *err);
void build_all_zonelists(struct kmm_machine *m);
/* Hand every free page to the page allocator and print "Memory: ...". */
void mem_init(struct kmm_machine *m);
/* Run deferred struct page init, then @then; in a thread in KMM_DEFERRED_THREAD mode. */
void deferred_init_start(struct kmm_machine *m, void (*then)(struct kmm_machine *m));
/* Watermarks, THP's minimum, freeing the init sections and the initrd. */
void phys_late_init(struct kmm_machine *m);
void phys_destroy(struct kmm_machine *m);

/* --- The kernel log (printk.c) ----------------------------------------------- */

__kmm_printf(2, 3) void kmm_printk(struct kmm_machine *m, const char *fmt, ...);
#define pr_info(m, ...) kmm_printk(m, __VA_ARGS__)
#define pr_warn(m, ...) kmm_printk(m, __VA_ARGS__)

/* --- Simulated RAM (ram.c) --------------------------------------------------- */

void __kmm_ram_populate(struct kmm_machine *m, unsigned long pfn, unsigned long nr);
/*
 * Make sure the host backs [pfn, pfn + nr) before kmm writes to it. Works in
 * max-order blocks and costs one bit test when the block is already backed.
 */
static inline void kmm_ram_populate(struct kmm_machine *m, unsigned long pfn, unsigned long nr)
{
	unsigned long first = pfn >> MAX_PAGE_ORDER;
	if (likely(nr <= MAX_ORDER_NR_PAGES && first == (pfn + nr - 1) >> MAX_PAGE_ORDER &&
		   test_bit(first, m->ram_populated)))
		return;
	__kmm_ram_populate(m, pfn, nr);
}
/* Give the host memory of a free max-order block back (used by libkmm-malloc). */
void kmm_ram_discard(struct kmm_machine *m, unsigned long pfn, unsigned long nr);

/* --- memblock (memblock.c) ----------------------------------------------------- */

#define MEMBLOCK_ALLOC_ANYWHERE (~(phys_addr_t)0)
#define NUMA_NO_NODE		(-1)

int memblock_add_node(struct kmm_machine *m, phys_addr_t base, phys_addr_t size, int nid);
int memblock_remove(struct kmm_machine *m, phys_addr_t base, phys_addr_t size);
int memblock_reserve(struct kmm_machine *m, phys_addr_t base, phys_addr_t size);
int memblock_phys_free(struct kmm_machine *m, phys_addr_t base, phys_addr_t size);
/* Top-down allocation on @nid (falls back to any node), below m->memblock.current_limit. */
phys_addr_t memblock_phys_alloc_try_nid(struct kmm_machine *m, phys_addr_t size, phys_addr_t align,
					int nid);
/* The same, returned as a zeroed host pointer into simulated RAM (populated). */
void *memblock_alloc_try_nid(struct kmm_machine *m, phys_addr_t size, phys_addr_t align, int nid);
phys_addr_t memblock_start_of_DRAM(struct kmm_machine *m);
phys_addr_t memblock_end_of_DRAM(struct kmm_machine *m);
bool memblock_is_reserved(struct kmm_machine *m, phys_addr_t addr);
bool memblock_is_memory(struct kmm_machine *m, phys_addr_t addr);
phys_addr_t memblock_phys_mem_size(struct kmm_machine *m);
phys_addr_t memblock_reserved_size(struct kmm_machine *m);
/* Iterate memory's pfn ranges (of @nid, or NUMA_NO_NODE for all); start *idx at 0. */
bool memblock_next_pfn_range(struct kmm_machine *m, int *idx, int nid, unsigned long *start_pfn,
			     unsigned long *end_pfn, int *out_nid);

/* --- Counters (vmstat.c) ------------------------------------------------------- */

void __mod_zone_page_state(struct kmm_zone *zone, enum zone_stat_item item, long delta);
void __mod_node_page_state(struct kmm_node *pgdat, enum node_stat_item item, long delta);
static inline void mod_zone_page_state(struct kmm_zone *zone, enum zone_stat_item item, long delta)
{
	__mod_zone_page_state(zone, item, delta);
}
static inline void mod_node_page_state(struct kmm_node *pgdat, enum node_stat_item item, long delta)
{
	__mod_node_page_state(pgdat, item, delta);
}
void __count_numa_events(struct kmm_zone *zone, enum numa_stat_item item, long delta);

static inline unsigned long zone_page_state(const struct kmm_zone *zone, enum zone_stat_item item)
{
	long x = atomic_long_read(&zone->vm_stat[item]);
	return x < 0 ? 0 : (unsigned long)x;
}
/* The counter with every CPU's pending delta folded in (slower, exact). */
unsigned long zone_page_state_snapshot(const struct kmm_zone *zone, enum zone_stat_item item);
unsigned long node_page_state(const struct kmm_node *pgdat, enum node_stat_item item);
/* Node items in pages (bytes items divided by PAGE_SIZE), like Linux's _pages. */
unsigned long node_page_state_pages(const struct kmm_node *pgdat, enum node_stat_item item);
unsigned long global_zone_page_state(const struct kmm_machine *m, enum zone_stat_item item);
unsigned long global_node_page_state(const struct kmm_machine *m, enum node_stat_item item);
unsigned long global_node_page_state_pages(const struct kmm_machine *m, enum node_stat_item item);
unsigned long zone_numa_event_state(const struct kmm_zone *zone, enum numa_stat_item item);
unsigned long global_numa_event_state(const struct kmm_machine *m, enum numa_stat_item item);
/* Fold every CPU's pending deltas into the zone/node counters (refresh_cpu_vm_stats). */
void refresh_vm_stats(struct kmm_machine *m);
/* Recompute the per-CPU fold thresholds (refresh_zone_stat_thresholds). */
void refresh_zone_stat_thresholds(struct kmm_machine *m);

void __count_vm_events_slow(struct kmm_machine *m, enum vm_event_item item, long delta);
static inline void count_vm_events(struct kmm_machine *m, enum vm_event_item item, long delta)
{
	struct kmm_cpu *cpu = this_cpu(m);
	if (likely(cpu))
		WRITE_ONCE(cpu->vm_events[item], cpu->vm_events[item] + (unsigned long)delta);
	else
		__count_vm_events_slow(m, item, delta);
}
static inline void count_vm_event(struct kmm_machine *m, enum vm_event_item item)
{
	count_vm_events(m, item, 1);
}
/* Per-zone events: PGALLOC, ALLOCSTALL, PGSCAN_SKIP. */
static inline void __count_zid_vm_events(struct kmm_machine *m, enum vm_event_item base,
					 enum zone_type zid, long delta)
{
	count_vm_events(m, (enum vm_event_item)(base + zid), delta);
}
/* Sum of one event over every CPU. */
unsigned long sum_vm_event(struct kmm_machine *m, enum vm_event_item item);
void all_vm_events(struct kmm_machine *m, unsigned long *ret);

/* --- Watermarks and tunables (watermark.c) ---------------------------------------- */

void setup_per_zone_wmarks(struct kmm_machine *m);
void setup_per_zone_lowmem_reserve(struct kmm_machine *m);
void calculate_min_free_kbytes(struct kmm_machine *m);
void init_per_zone_wmark_min(struct kmm_machine *m);
void zone_pcp_update_all(struct kmm_machine *m);
unsigned long nr_free_buffer_pages(struct kmm_machine *m);
void calculate_totalreserve_pages(struct kmm_machine *m);
/* THP's effect on min_free_kbytes (khugepaged's set_recommended_min_free_kbytes). */
void set_recommended_min_free_kbytes(struct kmm_machine *m);

/* --- Pageblock flags (Linux mm/page_alloc.c get/set_pfnblock_flags_mask) ------------ */

static inline unsigned long *pageblock_word(const struct kmm_zone *zone, unsigned long pfn,
					    unsigned int *shift)
{
	unsigned long bit =
	    ((pfn - zone->pageblock_base_pfn) >> pageblock_order) * NR_PAGEBLOCK_BITS;
	*shift = (unsigned int)(bit % BITS_PER_LONG);
	return &zone->pageblock_flags[bit / BITS_PER_LONG];
}

static inline int get_pfnblock_migratetype(const struct kmm_zone *zone, unsigned long pfn)
{
	unsigned int shift;
	unsigned long *word = pageblock_word(zone, pfn, &shift);
	return (int)((READ_ONCE(*word) >> shift) & ((1UL << PB_migratetype_bits) - 1));
}

/* Readers look without the zone lock, so the update is one atomic store of the word. */
static inline void set_pfnblock_bits(const struct kmm_zone *zone, unsigned long pfn,
				     unsigned long value, unsigned long mask)
{
	unsigned int shift;
	unsigned long *word = pageblock_word(zone, pfn, &shift);
	unsigned long old = READ_ONCE(*word);
	while (!__atomic_compare_exchange_n(word, &old, (old & ~(mask << shift)) | (value << shift),
					    true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static inline void set_pfnblock_migratetype(const struct kmm_zone *zone, unsigned long pfn,
					    int migratetype)
{
	set_pfnblock_bits(zone, pfn, (unsigned long)migratetype, (1UL << PB_migratetype_bits) - 1);
}

/* --- Zones ------------------------------------------------------------------------- */

/* Give a zone more pages from deferred init; true if it grew. */
bool deferred_grow_zone(struct kmm_zone *zone, unsigned int order);
/* Managed-pages accounting when pages enter or leave the page allocator for good. */
void adjust_managed_page_count(struct kmm_machine *m, struct kmm_page *page, long count);

#define for_each_online_node(m, nid) for ((nid) = 0; (nid) < (m)->nr_node_ids; (nid)++)
#define for_each_zone_in_node(pgdat, zone) \
	for ((zone) = (pgdat)->node_zones; (zone) < (pgdat)->node_zones + MAX_NR_ZONES; (zone)++)
/* Every zone of every node, empty ones included. */
#define for_each_zone(m, nid, zone)   \
	for_each_online_node (m, nid) \
		for_each_zone_in_node ((m)->node_data[nid], zone)
#define for_each_populated_zone(m, nid, zone) \
	for_each_zone (m, nid, zone)          \
		if (!populated_zone(zone)) {  \
		} else

/* ZONE_MOVABLE is highmem when it was carved out of ZONE_HIGHMEM (i386). */
static inline bool is_highmem_idx(const struct kmm_machine *m, enum zone_type idx)
{
	return idx == ZONE_HIGHMEM || (idx == ZONE_MOVABLE && m->movable_zone == ZONE_HIGHMEM);
}

/* Zonelist iteration (Linux: for_each_zone_zonelist_nodemask without a nodemask). */
static inline struct zoneref *first_zones_zonelist(struct zonelist *zl, int highest_zoneidx)
{
	struct zoneref *z = zl->_zonerefs;
	while (z->zone && z->zone_idx > highest_zoneidx)
		z++;
	return z;
}
static inline struct zoneref *next_zones_zonelist(struct zoneref *z, int highest_zoneidx)
{
	z++;
	while (z->zone && z->zone_idx > highest_zoneidx)
		z++;
	return z;
}
#define for_each_zone_zonelist(zone, z, zl, highidx)                      \
	for (z = first_zones_zonelist(zl, highidx), zone = z->zone; zone; \
	     z = next_zones_zonelist(z, highidx), zone = z->zone)

static inline struct zonelist *node_zonelist(struct kmm_machine *m, int nid, bool thisnode)
{
	return &m->node_data[nid]
		    ->node_zonelists[thisnode ? ZONELIST_NOFALLBACK : ZONELIST_FALLBACK];
}

#endif /* KMM_PHYS_PHYS_H */
