/*
 * The three memory models (FLATMEM, SPARSEMEM, SPARSEMEM_VMEMMAP) on random
 * machines with holes: src/phys/sparse.c, page_init.c and the conversions
 * of include/kmm/memory_model.h.
 *
 * Each layout is a --map text (printed when a check fails, so that it can be
 * booted by hand) of 1-4 nodes with random ranges: sizes in whole pages,
 * most not section-aligned, gaps from one page to several 128 MiB sections,
 * sometimes reserved ranges in the gaps and RAM above 4 GiB. It is booted
 * six times: each model, with deferred struct page init waited for and off.
 * Then, for every pfn:
 *
 *  - RAM (memblock memory): pfn_valid in every model, pfn_to_page and
 *    page_to_pfn are inverse, page_address() is the direct map and
 *    virt_to_page() returns the page, and the page's node and zone are the
 *    same in every model (and the zone spans the pfn);
 *  - everything else: pfn_valid says each model's meaning, written out here
 *    independently: FLATMEM yes for the pfns its mem_map covers (the RAM span
 *    rounded out to MAX_ORDER blocks), the sparse models yes for the pfns of
 *    128 MiB sections that hold RAM; a valid pfn that is not RAM has a
 *    reserved struct page.
 *
 * Zone spans and present pages are the same in every model; managed pages
 * are the same for the two sparse models (they take the same memblock
 * allocations: VMEMMAP reserves the blocks Linux would map), and FLATMEM has
 * fewer by exactly the memmap it allocates beyond theirs (its mem_map covers
 * the holes; theirs covers present sections, plus the mem_section tables).
 * Both invariant checkers must pass, and deferred init must end where
 * initialising everything up front does.
 *
 * The same runs with i386 layouts (HighMem above 896 MiB) and with
 * movablecore/kernelcore: ZONE_MOVABLE starts on a MAX_ORDER boundary, is the
 * top of its node, and its size is what Linux's algorithm gives (at least
 * movablecore up to the rounding of each node's start, see check_movable).
 */
#include <kmm/machine.h>
#include <kmm/memory_model.h>
#include <kmm/page_alloc.h>
#include <kmm/random.h>
#include "phys/internal.h"
#include "../kmm_test.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

enum {
	M_FLAT,
	M_SPARSE,
	M_VMEMMAP,
	NR_MODELS
};
static const enum kmm_memory_model models[NR_MODELS] = {KMM_MODEL_FLATMEM, KMM_MODEL_SPARSEMEM,
							KMM_MODEL_SPARSEMEM_VMEMMAP};
static const char *const model_names[NR_MODELS] = {"FLATMEM", "SPARSEMEM", "SPARSEMEM_VMEMMAP"};

/* --- Random layouts ----------------------------------------------------------------- */

#define MAX_LAYOUT_RANGES 16

struct lrange {
	uint64_t gap;  /* bytes of hole before the range */
	uint64_t size; /* bytes of RAM */
	int node;
	bool to_4g;	   /* the range starts at 4 GiB (or after what came before) */
	bool reserved_gap; /* the firmware lists the gap as reserved */
};

struct layout {
	enum kmm_arch arch;
	int nodes, cpus;
	int nr;
	struct lrange r[MAX_LAYOUT_RANGES];
	uint64_t start[MAX_LAYOUT_RANGES]; /* computed by place() */
	/* Command-line memory options. */
	uint64_t movablecore, kernelcore;
	unsigned int movablecore_percent, kernelcore_percent;
};

static uint64_t rnd_pages(struct kmm_rng *rng, uint64_t lo, uint64_t hi)
{
	return kmm_rng_range(rng, lo / PAGE_SIZE, hi / PAGE_SIZE) * PAGE_SIZE;
}

/* Give every range its address. */
static void place(struct layout *l)
{
	uint64_t at = 0;
	for (int i = 0; i < l->nr; i++) {
		at += l->r[i].gap;
		if (l->r[i].to_4g && at < 4 * GiB)
			at = 4 * GiB;
		l->start[i] = at;
		at += l->r[i].size;
	}
}

static uint64_t layout_end(const struct layout *l)
{
	return l->start[l->nr - 1] + l->r[l->nr - 1].size;
}

/*
 * FLATMEM needs its mem_map (64 bytes per pfn of the span, holes included)
 * in one free stretch of RAM that early allocations can reach; grow the
 * largest usable range until it fits, with room for the other allocations:
 * 8 MiB, and the 64 MiB swiotlb buffer when RAM goes above 4 GiB (without
 * it, a 128 MiB range below 4 GiB could lose 64 MiB to the mem_map and the
 * rest to the swiotlb, and leave the kernel no memory to boot with).
 */
static void make_flatmem_fit(struct layout *l, uint64_t reach)
{
	for (int tries = 0; tries < 8; tries++) {
		place(l);
		uint64_t span = KMM_ALIGN(layout_end(l), MAX_ORDER_NR_PAGES * PAGE_SIZE);
		uint64_t need = span / PAGE_SIZE * 64 + 8 * MiB;
		if (layout_end(l) > 4 * GiB)
			need += 64 * MiB;
		int best = -1;
		for (int i = 0; i < l->nr; i++) {
			if (l->start[i] + l->r[i].size > reach)
				continue;
			if (best < 0 || l->r[i].size > l->r[best].size)
				best = i;
		}
		if (best < 0 || l->r[best].size >= need)
			return;
		l->r[best].size = need;
	}
}

static void random_x86_64_layout(struct kmm_rng *rng, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	l->arch = KMM_ARCH_X86_64;
	l->nodes = (int)kmm_rng_range(rng, 1, 4);
	l->cpus = l->nodes + (int)kmm_rng_below(rng, 3);
	bool high = kmm_rng_below(rng, 3) == 0;
	for (int n = 0; n < l->nodes; n++) {
		int nr = (int)kmm_rng_range(rng, 1, 3);
		uint64_t node_ram = 0;
		for (int k = 0; k < nr; k++) {
			struct lrange *r = &l->r[l->nr++];
			r->node = n;
			r->size = rnd_pages(rng, 1 * MiB, 40 * MiB);
			/* Sometimes whole sections. */
			if (kmm_rng_below(rng, 6) == 0)
				r->size = KMM_ALIGN(r->size, PAGES_PER_SECTION * PAGE_SIZE);
			if (l->nr == 1) {
				r->gap = kmm_rng_below(rng, 2) ? 0 : rnd_pages(rng, 0, 48 * MiB);
			} else {
				switch (kmm_rng_below(rng, 10)) {
				case 0:
					r->gap = 0; /* adjacent */
					break;
				case 1:
				case 2:
					/* Several empty sections. */
					r->gap = kmm_rng_range(rng, 2, 4) * PAGES_PER_SECTION *
						     PAGE_SIZE +
						 rnd_pages(rng, 0, 8 * MiB);
					break;
				default:
					r->gap = rnd_pages(rng, PAGE_SIZE, 24 * MiB);
					break;
				}
			}
			r->reserved_gap = r->gap >= 2 * PAGE_SIZE && kmm_rng_below(rng, 3) == 0;
			node_ram += r->size;
		}
		/* Every node gets at least 4 MiB. */
		if (node_ram < 4 * MiB)
			l->r[l->nr - 1].size += 4 * MiB;
	}
	/* RAM above 4 GiB: the last node's last range moves there. */
	if (high)
		l->r[l->nr - 1].to_4g = true;
	make_flatmem_fit(l, ~0ULL);
}

/* i386: 1-2 nodes of lowmem, and RAM above 896 MiB for HighMem. */
static void random_i386_layout(struct kmm_rng *rng, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	l->arch = KMM_ARCH_I386;
	l->nodes = (int)kmm_rng_range(rng, 1, 2);
	l->cpus = l->nodes + (int)kmm_rng_below(rng, 2);
	for (int n = 0; n < l->nodes; n++) {
		int nr = (int)kmm_rng_range(rng, 1, 3);
		for (int k = 0; k < nr; k++) {
			struct lrange *r = &l->r[l->nr++];
			r->node = n;
			r->size = rnd_pages(rng, 4 * MiB, 48 * MiB);
			r->gap =
			    l->nr == 1
				? 0
				: (kmm_rng_below(rng, 4) == 0
				       ? kmm_rng_range(rng, 1, 2) * PAGES_PER_SECTION * PAGE_SIZE
				       : rnd_pages(rng, PAGE_SIZE, 16 * MiB));
			r->reserved_gap = r->gap >= 2 * PAGE_SIZE && kmm_rng_below(rng, 3) == 0;
		}
	}
	/* A range of its own reaches into HighMem: it starts between 700 MiB and 1 GiB. */
	struct lrange *last = &l->r[l->nr++];
	last->node = l->nodes - 1;
	last->size = rnd_pages(rng, 4 * MiB, 32 * MiB);
	place(l);
	uint64_t want = rnd_pages(rng, 700 * MiB, 1 * GiB);
	uint64_t at = l->start[l->nr - 1];
	if (at < want)
		last->gap += want - at;
	place(l);
	if (layout_end(l) < 896 * MiB + 4 * MiB)
		last->size += 896 * MiB + 4 * MiB - layout_end(l);
	last->size += rnd_pages(rng, 4 * MiB, 64 * MiB);
	make_flatmem_fit(l, 896 * MiB);
}

/* The layout as a --map text. */
static void layout_map(const struct layout *l, char *buf, size_t len)
{
	size_t n = 0;
	uint64_t prev_end = 0;
	n += (size_t)snprintf(buf + n, len - n, "cpus %d\n", l->cpus);
	for (int i = 0; i < l->nr && n < len; i++) {
		uint64_t s = l->start[i], e = s + l->r[i].size;
		if (l->r[i].reserved_gap && s > prev_end + PAGE_SIZE)
			n += (size_t)snprintf(buf + n, len - n, "%#llx %#llx reserved\n",
					      (unsigned long long)prev_end + PAGE_SIZE,
					      (unsigned long long)s - PAGE_SIZE / 2);
		n += (size_t)snprintf(buf + n, len - n, "%#llx %#llx usable %d\n",
				      (unsigned long long)s, (unsigned long long)e, l->r[i].node);
		prev_end = e;
	}
}

/* The layout's other options, as kmm boot takes them. */
static void layout_options(const struct layout *l, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "--arch %s --kernel-image none",
				    l->arch == KMM_ARCH_I386 ? "i386" : "x86_64");
	if (l->movablecore_percent)
		n += (size_t)snprintf(buf + n, len - n, " --movablecore %u%%",
				      l->movablecore_percent);
	else if (l->movablecore)
		n += (size_t)snprintf(buf + n, len - n, " --movablecore %llu",
				      (unsigned long long)l->movablecore);
	if (l->kernelcore_percent)
		snprintf(buf + n, len - n, " --kernelcore %u%%", l->kernelcore_percent);
	else if (l->kernelcore)
		snprintf(buf + n, len - n, " --kernelcore %llu", (unsigned long long)l->kernelcore);
}

/* The --map text parsed into a description with the layout's options. */
static int layout_desc(const struct layout *l, const char *map, struct kmm_machine_desc *d,
		       struct kmm_error *err)
{
	int ret = kmm_desc_parse_map(d, map, "layout.map", err);
	if (ret)
		return ret;
	d->arch = l->arch;
	d->kernel_image = KMM_KERNEL_NONE; /* random holes may sit at 16 MiB */
	d->movablecore = l->movablecore;
	d->movablecore_percent = l->movablecore_percent;
	d->kernelcore = l->kernelcore;
	d->kernelcore_percent = l->kernelcore_percent;
	return 0;
}

static struct kmm_machine *boot_layout(const struct kmm_machine_desc *d,
				       enum kmm_memory_model model, enum kmm_deferred_init deferred,
				       struct kmm_error *err)
{
	struct kmm_config cfg;
	kmm_config_init(&cfg);
	cfg.desc = *d;
	cfg.desc_given = true;
	cfg.model = model;
	cfg.deferred = deferred;
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, err);
	if (m)
		kmm_wait_for_init(m);
	return m;
}

/* --- Checks --------------------------------------------------------------------------- */

/* The RAM pfn ranges of a booted machine (memblock memory, after the e820 fix-ups). */
struct ram {
	int nr;
	unsigned long start[KMM_MAX_RANGES], end[KMM_MAX_RANGES];
	int nid[KMM_MAX_RANGES];
	unsigned long pages;
};

static void read_ram(struct kmm_machine *m, struct ram *ram)
{
	int idx = 0, nid;
	unsigned long s, e;
	memset(ram, 0, sizeof(*ram));
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &nid) &&
	       ram->nr < KMM_MAX_RANGES) {
		ram->start[ram->nr] = s;
		ram->end[ram->nr] = e;
		ram->nid[ram->nr] = nid;
		ram->pages += e - s;
		ram->nr++;
	}
}

static bool is_ram(const struct ram *ram, unsigned long pfn)
{
	for (int i = 0; i < ram->nr; i++)
		if (ram->start[i] <= pfn && pfn < ram->end[i])
			return true;
	return false;
}

/*
 * Pages of section @sec that have struct pages in the sparse models: up to
 * its last RAM pfn rounded up to a max-order block (0: no RAM in it).
 */
static unsigned long section_valid_pages(const struct ram *ram, unsigned long sec)
{
	unsigned long lo = sec * PAGES_PER_SECTION, hi = lo + PAGES_PER_SECTION, last = 0;
	for (int i = 0; i < ram->nr; i++)
		if (ram->start[i] < hi && ram->end[i] > lo)
			last = kmm_max(last, kmm_min(ram->end[i], hi) - lo);
	return last ? kmm_min(KMM_ALIGN(last, MAX_ORDER_NR_PAGES), PAGES_PER_SECTION) : 0;
}

/* What pfn_valid() must say in @model, from the RAM alone. */

static bool expect_valid(enum kmm_memory_model model, const struct ram *ram, unsigned long pfn)
{
	if (model == KMM_MODEL_FLATMEM) {
		unsigned long lo = KMM_ALIGN_DOWN(ram->start[0], MAX_ORDER_NR_PAGES);
		unsigned long hi = KMM_ALIGN(ram->end[ram->nr - 1], MAX_ORDER_NR_PAGES);
		return lo <= pfn && pfn < hi;
	}
	return pfn % PAGES_PER_SECTION < section_valid_pages(ram, pfn / PAGES_PER_SECTION);
}

static unsigned long sum_managed(struct kmm_machine *m)
{
	unsigned long sum = 0;
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			sum += zone_managed_pages(&m->node_data[n]->node_zones[z]);
	return sum;
}

/*
 * Pages of simulated RAM the model's memmap took from memblock, and (sparse
 * models) the pages of the mem_section tables: the root pages of 256
 * sections each, and the array of root pointers. Linux sizes that array for
 * every section a section number can name (2^19 sections, 2048 roots: 16
 * KiB), so it is whole pages, and *roots_ok says they are its own. Were it
 * a sub-page allocation, the small allocations after it (pageblock flags,
 * per-CPU arrays) would sit a cacheline lower than under FLATMEM and one of
 * them could need a page more: seed 30855599659 had the last per-CPU array
 * of node 2 overflow that way.
 */
static unsigned long memmap_pages(struct kmm_machine *m, unsigned long *root_pages, bool *roots_ok)
{
	*root_pages = 0;
	*roots_ok = true;
	if (m->model != KMM_MODEL_FLATMEM) {
		for (unsigned long r = 0; r < m->nr_section_roots; r++)
			*root_pages += m->mem_section[r] != NULL;
		phys_addr_t pa = virt_to_phys(m, m->mem_section);
		size_t bytes = ((1UL << SECTIONS_SHIFT) / SECTIONS_PER_ROOT) * sizeof(void *);
		*roots_ok = pa % PAGE_SIZE == 0 && bytes % PAGE_SIZE == 0;
		*root_pages += bytes / PAGE_SIZE;
	}
	return (unsigned long)(m->memmap_bytes / PAGE_SIZE);
}

/*
 * The 64 MiB swiotlb bounce buffer of a machine with RAM above 4 GiB, if
 * there was room for it below 4 GiB: FLATMEM's mem_map can take that room,
 * and then kmm (like Linux) boots without it.
 */
static unsigned long swiotlb_pages(struct kmm_machine *m)
{
	const char *l = strstr(m->log.data, "software IO TLB: mapped");
	return l ? (unsigned long)(64 * MiB / PAGE_SIZE) : 0;
}

static bool validate(struct kmm_machine *m, const char *what)
{
	struct kmm_error err = {0};
	if (kmm_phys_validate(m, &err)) {
		KMM_EXPECT_FAIL_("%s: kmm_phys_validate: %s", what, err.msg);
		return false;
	}
	if (kmm_page_alloc_validate(m, &err)) {
		KMM_EXPECT_FAIL_("%s: kmm_page_alloc_validate: %s", what, err.msg);
		return false;
	}
	return true;
}

/* Every pfn of the three models of one layout; false after the first failure. */
static bool check_pfns(struct kmm_machine **ms, const struct ram *ram)
{
	unsigned long limit =
	    KMM_ALIGN(ram->end[ram->nr - 1], PAGES_PER_SECTION) + PAGES_PER_SECTION;
	for (int k = 0; k < NR_MODELS; k++) {
		struct kmm_machine *m = ms[k];
		const char *name = model_names[k];
		if (m->max_pfn != ram->end[ram->nr - 1]) {
			KMM_EXPECT_FAIL_("%s: max_pfn %#lx, RAM ends at %#lx", name, m->max_pfn,
					 ram->end[ram->nr - 1]);
			return false;
		}
		for (unsigned long pfn = 0; pfn < limit; pfn++) {
			bool valid = pfn_valid(m, pfn);
			if (valid != expect_valid(m->model, ram, pfn)) {
				KMM_EXPECT_FAIL_("%s: pfn_valid(%#lx) is %d (RAM: %d)", name, pfn,
						 valid, is_ram(ram, pfn));
				return false;
			}
			if (valid && !is_ram(ram, pfn) && !PageReserved(pfn_to_page(m, pfn))) {
				KMM_EXPECT_FAIL_("%s: hole pfn %#lx has a struct page that is not "
						 "reserved",
						 name, pfn);
				return false;
			}
		}
	}
	for (int i = 0; i < ram->nr; i++) {
		for (unsigned long pfn = ram->start[i]; pfn < ram->end[i]; pfn++) {
			const struct kmm_page *first = NULL;
			for (int k = 0; k < NR_MODELS; k++) {
				struct kmm_machine *m = ms[k];
				const char *name = model_names[k];
				struct kmm_page *page = pfn_to_page(m, pfn);
				void *addr = page_address(m, page);
				if (page_to_pfn(m, page) != pfn ||
				    addr != m->ram + pfn * PAGE_SIZE ||
				    virt_to_page(m, addr) != page ||
				    virt_to_page(m, (char *)addr + PAGE_SIZE - 1) != page) {
					KMM_EXPECT_FAIL_("%s: pfn %#lx: page_to_pfn %#lx, address "
							 "%p (ram %p)",
							 name, pfn, page_to_pfn(m, page), addr,
							 (void *)m->ram);
					return false;
				}
				if (page_to_nid(page) != ram->nid[i] ||
				    !zone_spans_pfn(page_zone(m, page), pfn)) {
					KMM_EXPECT_FAIL_(
					    "%s: pfn %#lx: node %d zone %u, RAM of node "
					    "%d",
					    name, pfn, page_to_nid(page), page_zonenum(page),
					    ram->nid[i]);
					return false;
				}
				if (first && (page_to_nid(page) != page_to_nid(first) ||
					      page_zonenum(page) != page_zonenum(first))) {
					KMM_EXPECT_FAIL_("pfn %#lx: %s puts it in node %d zone %u, "
							 "FLATMEM in node %d zone %u",
							 pfn, name, page_to_nid(page),
							 page_zonenum(page), page_to_nid(first),
							 page_zonenum(first));
					return false;
				}
				if (!first)
					first = page;
			}
		}
	}
	return true;
}

/* Zones: spans and present equal everywhere; managed as the memmaps explain. */
static bool check_zones(struct kmm_machine **ms)
{
	struct kmm_machine *flat = ms[M_FLAT], *sparse = ms[M_SPARSE];
	for (int k = 1; k < NR_MODELS; k++) {
		if (ms[k]->nr_node_ids != flat->nr_node_ids) {
			KMM_EXPECT_FAIL_("%s has %d nodes, FLATMEM %d", model_names[k],
					 ms[k]->nr_node_ids, flat->nr_node_ids);
			return false;
		}
		for (int n = 0; n < flat->nr_node_ids; n++) {
			for (int z = 0; z < MAX_NR_ZONES; z++) {
				const struct kmm_zone *a = &flat->node_data[n]->node_zones[z];
				const struct kmm_zone *b = &ms[k]->node_data[n]->node_zones[z];
				if (a->zone_start_pfn != b->zone_start_pfn ||
				    a->spanned_pages != b->spanned_pages ||
				    a->present_pages != b->present_pages) {
					KMM_EXPECT_FAIL_("node %d zone %s: %s has %lu+%lu (%lu "
							 "present), FLATMEM %lu+%lu (%lu)",
							 n, a->name, model_names[k],
							 b->zone_start_pfn, b->spanned_pages,
							 b->present_pages, a->zone_start_pfn,
							 a->spanned_pages, a->present_pages);
					return false;
				}
				if (k == M_VMEMMAP &&
				    zone_managed_pages(b) !=
					zone_managed_pages(&sparse->node_data[n]->node_zones[z])) {
					KMM_EXPECT_FAIL_("node %d zone %s: managed %lu in "
							 "SPARSEMEM_VMEMMAP, %lu in "
							 "SPARSEMEM",
							 n, a->name, zone_managed_pages(b),
							 zone_managed_pages(
							     &sparse->node_data[n]->node_zones[z]));
					return false;
				}
			}
		}
	}
	/*
	 * FLATMEM's mem_map against the sparse memmap and its mem_section
	 * tables, and the swiotlb buffer when only one of them had room for
	 * it. Every other boot allocation is the same in both models, and the
	 * pages the small ones share come out the same: everything a model
	 * allocates on its own is whole pages starting on a page boundary, so
	 * the small allocations pack into pages alike.
	 */
	unsigned long flat_roots, sparse_roots;
	bool flat_ok, sparse_ok;
	unsigned long flat_tlb = swiotlb_pages(flat), sparse_tlb = swiotlb_pages(sparse);
	unsigned long flat_map = memmap_pages(flat, &flat_roots, &flat_ok);
	unsigned long sparse_map = memmap_pages(sparse, &sparse_roots, &sparse_ok);
	if (!sparse_ok) {
		KMM_EXPECT_FAIL_("SPARSEMEM's mem_section root array at %#llx is not whole pages",
				 (unsigned long long)virt_to_phys(sparse, sparse->mem_section));
		return false;
	}
	long want = (long)(flat_map + flat_tlb) - (long)(sparse_map + sparse_roots + sparse_tlb);
	long got = (long)sum_managed(sparse) - (long)sum_managed(flat);
	if (got != want) {
		KMM_EXPECT_FAIL_(
		    "managed SPARSEMEM - FLATMEM = %ld pages, memmaps differ by %ld "
		    "(FLATMEM %lu + %lu swiotlb, SPARSEMEM %lu + %lu mem_section pages + "
		    "%lu swiotlb)",
		    got, want, flat_map, flat_tlb, sparse_map, sparse_roots, sparse_tlb);
		return false;
	}
	return true;
}

/* Deferred init waited for must end where initialising everything up front does. */
static bool check_deferred(struct kmm_machine *wait, struct kmm_machine *off, const char *model)
{
	for (int n = 0; n < wait->nr_node_ids; n++) {
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *a = &wait->node_data[n]->node_zones[z];
			struct kmm_zone *b = &off->node_data[n]->node_zones[z];
			unsigned long fa = zone_page_state_snapshot(a, NR_FREE_PAGES);
			unsigned long fb = zone_page_state_snapshot(b, NR_FREE_PAGES);
			if (zone_managed_pages(a) != zone_managed_pages(b) || fa != fb) {
				KMM_EXPECT_FAIL_("%s node %d zone %s: deferred init gives %lu "
						 "managed, %lu free; without it %lu, %lu",
						 model, n, a->name, zone_managed_pages(a), fa,
						 zone_managed_pages(b), fb);
				return false;
			}
		}
	}
	return true;
}

/* Movable-zone statistics over the run, for the log. */
static int movable_layouts, movable_below_request;

/*
 * ZONE_MOVABLE (find_zone_movable_pfns_for_nodes): on every node that has
 * one, it starts on a MAX_ORDER boundary, ends where the node ends, and
 * every other zone of the node ends at or below its start. Its size follows
 * from movablecore rounded up to MAX_ORDER blocks; rounding each node's
 * start up to a block boundary gives back up to MAX_ORDER_NR_PAGES - 1
 * pages per node to the kernel, and memory below the zone movable is taken
 * from can never be movable, so Linux itself can end a little short of the
 * request. The bounds checked are those; how often the plain "at least
 * movablecore" holds is printed.
 */
static bool check_movable(struct kmm_machine *m, const struct layout *l, const struct ram *ram)
{
	unsigned long movable = 0;
	int nodes_with = 0;
	for (int n = 0; n < m->nr_node_ids; n++) {
		struct kmm_node *pgdat = m->node_data[n];
		struct kmm_zone *mz = &pgdat->node_zones[ZONE_MOVABLE];
		unsigned long start = m->zone_movable_pfn[n];
		if (!start) {
			if (mz->spanned_pages) {
				KMM_EXPECT_FAIL_(
				    "node %d: ZONE_MOVABLE of %lu pages without a start", n,
				    mz->spanned_pages);
				return false;
			}
			continue;
		}
		nodes_with++;
		movable += mz->present_pages;
		if (start % MAX_ORDER_NR_PAGES || mz->zone_start_pfn != start ||
		    zone_end_pfn(mz) != pgdat_end_pfn(pgdat)) {
			KMM_EXPECT_FAIL_(
			    "node %d: ZONE_MOVABLE [%#lx, %#lx), start %#lx, node ends "
			    "at %#lx",
			    n, mz->zone_start_pfn, zone_end_pfn(mz), start, pgdat_end_pfn(pgdat));
			return false;
		}
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &pgdat->node_zones[z];
			if (z == ZONE_MOVABLE || !zone->spanned_pages)
				continue;
			if (zone_end_pfn(zone) > start) {
				KMM_EXPECT_FAIL_(
				    "node %d: zone %s ends at %#lx, above ZONE_MOVABLE "
				    "at %#lx",
				    n, zone->name, zone_end_pfn(zone), start);
				return false;
			}
		}
	}
	/* Memory ZONE_MOVABLE may take: from the lowest pfn of the zone it is carved from. */
	unsigned long usable_start = m->arch_zone_lowest_possible_pfn[m->movable_zone];
	unsigned long capable = 0;
	for (int i = 0; i < ram->nr; i++)
		if (ram->end[i] > usable_start)
			capable += ram->end[i] - kmm_max(ram->start[i], usable_start);
	unsigned long slack = (unsigned long)m->nr_node_ids * MAX_ORDER_NR_PAGES;
	if (l->movablecore || l->movablecore_percent) {
		unsigned long asked = l->movablecore_percent
					  ? ram->pages * l->movablecore_percent / 100
					  : (unsigned long)(l->movablecore / PAGE_SIZE);
		unsigned long rounded =
		    kmm_min(KMM_ALIGN(asked, MAX_ORDER_NR_PAGES), (unsigned long)ram->pages);
		/* All of RAM asked for: no kernel memory left, so no ZONE_MOVABLE at all. */
		unsigned long floor = rounded >= ram->pages ? 0 : kmm_min(rounded, capable);
		movable_layouts++;
		movable_below_request += movable < asked;
		printf("    movablecore %lu pages: ZONE_MOVABLE has %lu on %d node(s)\n", asked,
		       movable, nodes_with);
		if (movable + slack < floor) {
			KMM_EXPECT_FAIL_("ZONE_MOVABLE has %lu pages, movablecore asked %lu (%lu "
					 "could be movable)",
					 movable, asked, capable);
			return false;
		}
	}
	if (l->kernelcore || l->kernelcore_percent) {
		unsigned long kernel = l->kernelcore_percent
					   ? ram->pages * l->kernelcore_percent / 100
					   : (unsigned long)(l->kernelcore / PAGE_SIZE);
		printf("    kernelcore %lu pages: ZONE_MOVABLE has %lu of %lu\n", kernel, movable,
		       ram->pages);
		/* The kernel keeps at least kernelcore, less one page per node of division. */
		if (kernel < ram->pages &&
		    movable > ram->pages - kernel + (unsigned long)m->nr_node_ids) {
			KMM_EXPECT_FAIL_("ZONE_MOVABLE has %lu of %lu pages, kernelcore is %lu",
					 movable, ram->pages, kernel);
			return false;
		}
	}
	return true;
}

/* i386: HighMem is everything above 896 MiB, and only that. */
static bool check_i386_zones(struct kmm_machine *m)
{
	const unsigned long lowmem_end = 896UL << (20 - PAGE_SHIFT);
	if (m->zone_in_arch[ZONE_DMA32] || !m->zone_in_arch[ZONE_HIGHMEM]) {
		KMM_EXPECT_FAIL_("%s", "i386 zones: expected DMA, Normal, HighMem and no DMA32");
		return false;
	}
	unsigned long high = 0;
	for (int n = 0; n < m->nr_node_ids; n++) {
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &m->node_data[n]->node_zones[z];
			if (!zone->spanned_pages)
				continue;
			bool above = zone->zone_start_pfn >= lowmem_end;
			bool below = zone_end_pfn(zone) <= lowmem_end;
			bool highzone = z == ZONE_HIGHMEM ||
					(z == ZONE_MOVABLE && m->movable_zone == ZONE_HIGHMEM);
			if (highzone ? !above : !below) {
				KMM_EXPECT_FAIL_(
				    "node %d zone %s [%#lx, %#lx) on the wrong side of "
				    "896 MiB",
				    n, zone->name, zone->zone_start_pfn, zone_end_pfn(zone));
				return false;
			}
			if (highzone)
				high += zone->present_pages;
		}
	}
	if (!high) {
		KMM_EXPECT_FAIL_("%s", "no HighMem (or movable HighMem) although RAM lies above "
				       "896 MiB");
		return false;
	}
	return true;
}

/* Boot one layout six ways and check everything; returns false on the first failure. */
static bool run_layout(const struct layout *l, int iter)
{
	static char map[4096];
	char options[128];
	struct kmm_machine_desc *d = calloc(1, sizeof(*d));
	struct kmm_machine *ms[2][NR_MODELS] = {{NULL}};
	struct kmm_error err = {0};
	bool ok = true;
	layout_map(l, map, sizeof(map));
	layout_options(l, options, sizeof(options));
	/* Printed before booting: a crash in kmm_boot leaves the reproducer in the log. */
	printf("%s    options: %s\n", map, options);
	fflush(stdout);
	if (layout_desc(l, map, d, &err)) {
		KMM_EXPECT_FAIL_("layout %d does not parse: %s\n%s", iter, err.msg, map);
		free(d);
		return false;
	}
	for (int dm = 0; dm < 2 && ok; dm++) {
		enum kmm_deferred_init deferred = dm ? KMM_DEFERRED_OFF : KMM_DEFERRED_WAIT;
		for (int k = 0; k < NR_MODELS && ok; k++) {
			ms[dm][k] = boot_layout(d, models[k], deferred, &err);
			if (!ms[dm][k]) {
				KMM_EXPECT_FAIL_("%s (deferred %s) does not boot: %s",
						 model_names[k], dm ? "off" : "wait", err.msg);
				ok = false;
				break;
			}
			ok = validate(ms[dm][k], model_names[k]);
		}
		struct ram ram;
		if (ok) {
			read_ram(ms[dm][M_FLAT], &ram);
			for (int k = 1; k < NR_MODELS && ok; k++) {
				struct ram other;
				read_ram(ms[dm][k], &other);
				if (memcmp(&ram, &other, sizeof(ram))) {
					KMM_EXPECT_FAIL_("%s sees other RAM than FLATMEM",
							 model_names[k]);
					ok = false;
				}
			}
		}
		ok = ok && check_pfns(ms[dm], &ram) && check_zones(ms[dm]);
		if (ok && dm == 0)
			ok = check_movable(ms[dm][M_SPARSE], l, &ram);
		if (ok && dm == 0 && l->arch == KMM_ARCH_I386)
			ok = check_i386_zones(ms[dm][M_SPARSE]);
	}
	for (int k = 0; k < NR_MODELS && ok; k++)
		ok = check_deferred(ms[0][k], ms[1][k], model_names[k]);
	if (!ok)
		fprintf(stderr, "layout %d (kmm boot %s), as --map:\n%s", iter, options, map);
	for (int dm = 0; dm < 2; dm++)
		for (int k = 0; k < NR_MODELS; k++)
			kmm_machine_destroy(ms[dm][k]);
	free(d);
	return ok;
}

static void describe(const struct layout *l, int iter)
{
	uint64_t ram = 0;
	for (int i = 0; i < l->nr; i++)
		ram += l->r[i].size;
	fflush(stderr);
	printf("  layout %2d: %s, %d node(s), %d CPU(s), %2d ranges, %4llu MiB RAM, ends at "
	       "%#llx\n",
	       iter, l->arch == KMM_ARCH_I386 ? "i386  " : "x86_64", l->nodes, l->cpus, l->nr,
	       (unsigned long long)(ram >> 20), (unsigned long long)layout_end(l));
}

/* Optionally ask for ZONE_MOVABLE: movablecore or kernelcore, bytes or percent. */
static void random_core_options(struct kmm_rng *rng, struct layout *l)
{
	switch (kmm_rng_below(rng, 6)) {
	case 0:
		l->movablecore_percent = (unsigned int)kmm_rng_range(rng, 5, 60);
		break;
	case 1:
		l->movablecore = rnd_pages(rng, 1 * MiB, 64 * MiB);
		break;
	case 2:
		l->kernelcore_percent = (unsigned int)kmm_rng_range(rng, 30, 90);
		break;
	case 3:
		l->kernelcore = rnd_pages(rng, 8 * MiB, 128 * MiB);
		break;
	default:
		break;
	}
}

static void test_random_x86_64_layouts(void)
{
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	int iters = (int)(10 * kmm_test_scale);
	for (int i = 0; i < iters; i++) {
		struct layout l;
		random_x86_64_layout(&rng, &l);
		random_core_options(&rng, &l);
		describe(&l, i);
		if (!run_layout(&l, i))
			return;
	}
}

static void test_random_i386_layouts(void)
{
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed ^ 0x1386);
	int iters = (int)(5 * kmm_test_scale);
	for (int i = 0; i < iters; i++) {
		struct layout l;
		random_i386_layout(&rng, &l);
		random_core_options(&rng, &l);
		describe(&l, i);
		if (!run_layout(&l, i))
			return;
	}
}

/* Fixed cases: movablecore on a two-node machine, and the same with 4 GiB of holes. */
static void test_movable_fixed(void)
{
	static const struct {
		enum kmm_arch arch;
		uint64_t movablecore;
		unsigned int percent;
		uint64_t kernelcore;
	} cases[] = {
	    {KMM_ARCH_X86_64, 64 * MiB, 0, 0},
	    {KMM_ARCH_X86_64, 0, 50, 0},
	    {KMM_ARCH_X86_64, 0, 0, 100 * MiB},
	    {KMM_ARCH_I386, 32 * MiB, 0, 0},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct layout l;
		memset(&l, 0, sizeof(l));
		l.arch = cases[c].arch;
		l.nodes = 2;
		l.cpus = 2;
		l.nr = 2;
		l.r[0] = (struct lrange){.gap = 0, .size = 96 * MiB, .node = 0};
		l.r[1] = (struct lrange){.gap = 24 * MiB, .size = 96 * MiB, .node = 1};
		if (l.arch == KMM_ARCH_I386)
			l.r[1].gap = 800 * MiB; /* node 1 is all HighMem */
		l.movablecore = cases[c].movablecore;
		l.movablecore_percent = cases[c].percent;
		l.kernelcore = cases[c].kernelcore;
		place(&l);
		describe(&l, (int)c);
		if (!run_layout(&l, (int)c))
			return;
	}
	printf("  movablecore: %d layouts, %d ended below the request (node starts rounded up, or "
	       "memory that can only be kernel; Linux does the same)\n",
	       movable_layouts, movable_below_request);
}

/*
 * Layouts that once failed, fixed so that a change of the random generator
 * cannot lose them. Each is its --map text, rebuilt from the ranges.
 *
 * seed 30855599659, layout 2: three nodes, RAM above 4 GiB, movablecore.
 * FLATMEM's mem_map took the room below 4 GiB that SPARSEMEM gave the
 * swiotlb, and SPARSEMEM's array of mem_section roots was 8 bytes (sized by
 * max_pfn) in a cacheline of its own above node 2's small allocations; the
 * last of them (a zone's per-CPU counters, 192 bytes) then no longer fitted
 * in the page above node 2's memmap and took a page below it: managed pages
 * differed by one more than the memmaps. The array now has Linux's size.
 */
static void test_fixed_layouts(void)
{
	static const struct {
		uint64_t start, end;
		int node;
		bool reserved_gap;
	} ranges[] = {
	    {0, 0x4850000, 0, false},		{0x4850000, 0x53c0000, 0, false},
	    {0x625e000, 0x6fe7000, 0, false},	{0x7b92000, 0x93c3000, 1, false},
	    {0x9d5e000, 0xb26a000, 1, false},	{0x2b930000, 0x2c74e000, 2, true},
	    {0x2c74f000, 0x2e116000, 2, false}, {0x100000000, 0x101342000, 2, true},
	};
	static const char expected_map[] = "cpus 3\n"
					   "0 0x4850000 usable 0\n"
					   "0x4850000 0x53c0000 usable 0\n"
					   "0x625e000 0x6fe7000 usable 0\n"
					   "0x7b92000 0x93c3000 usable 1\n"
					   "0x9d5e000 0xb26a000 usable 1\n"
					   "0xb26b000 0x2b92f800 reserved\n"
					   "0x2b930000 0x2c74e000 usable 2\n"
					   "0x2c74f000 0x2e116000 usable 2\n"
					   "0x2e117000 0xfffff800 reserved\n"
					   "0x100000000 0x101342000 usable 2\n";
	struct layout l;
	char map[1024];
	memset(&l, 0, sizeof(l));
	l.arch = KMM_ARCH_X86_64;
	l.nodes = 3;
	l.cpus = 3;
	l.movablecore = 9195520;
	uint64_t prev_end = 0;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		l.r[l.nr++] = (struct lrange){.gap = ranges[i].start - prev_end,
					      .size = ranges[i].end - ranges[i].start,
					      .node = ranges[i].node,
					      .reserved_gap = ranges[i].reserved_gap};
		prev_end = ranges[i].end;
	}
	place(&l);
	layout_map(&l, map, sizeof(map));
	expect_str_eq(map, expected_map);
	describe(&l, 0);
	expect_true(run_layout(&l, 0));
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_movable_fixed);
	run_test(test_fixed_layouts);
	run_test(test_random_x86_64_layouts);
	run_test(test_random_i386_layouts);
	printf("movablecore: %d layouts, %d ended below the request (node starts rounded up, or "
	       "memory that can only be kernel; Linux does the same)\n",
	       movable_layouts, movable_below_request);
	return kmm_test_done();
}
