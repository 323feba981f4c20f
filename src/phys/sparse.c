/*
 * Memory models: where the struct pages live and how a pfn finds its own.
 *
 * Linux: mm/sparse.c, mm/sparse-vmemmap.c, mm/mm_init.c (alloc_node_mem_map
 * for FLATMEM). The three models differ in what they allocate at boot:
 *
 *  FLATMEM            one mem_map over [first pfn, last pfn), MAX_ORDER
 *                     aligned, holes included, from memblock; its struct
 *                     pages live in simulated RAM.
 *  SPARSEMEM          a 2 MiB memmap for every present 128 MiB section,
 *                     allocated per node in one buffer (Linux's
 *                     sparse_buffer); a root table of mem_section pages
 *                     (256 sections each) says where each section's memmap
 *                     is. Struct pages live in simulated RAM.
 *  SPARSEMEM_VMEMMAP  the same per-section 2 MiB blocks are taken from
 *                     memblock, and the struct pages are reached through one
 *                     virtually contiguous array indexed by pfn. kmm cannot
 *                     map simulated RAM at a second address, so the array is
 *                     a host reservation of its own, populated per section;
 *                     the memblock blocks that Linux would map there are
 *                     reserved (so the accounting is Linux's) but not used.
 *
 * The memmap is populated (backed by host memory) section by section as it
 * is initialised, so deferred initialisation defers the cost of the memory
 * too.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define SECTION_MAP_BYTES (PAGES_PER_SECTION * sizeof(struct kmm_page)) /* 2 MiB */

/*
 * Does section @sec hold RAM? Sets the node of its first range and how many
 * of its pages need struct pages: up to the last RAM pfn, rounded up to a
 * max-order block (a whole section unless RAM ends inside it).
 */
static bool section_has_memory(struct kmm_machine *m, unsigned long sec, int *nid,
			       unsigned long *nr_pages)
{
	int idx = 0, n;
	unsigned long s, e, last = 0;
	unsigned long lo = section_nr_to_pfn(sec), hi = lo + PAGES_PER_SECTION;
	bool found = false;
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, &n)) {
		if (s >= hi || e <= lo)
			continue;
		if (!found)
			*nid = n;
		found = true;
		last = kmm_max(last, kmm_min(e, hi));
	}
	if (found)
		*nr_pages = kmm_min(KMM_ALIGN(last - lo, MAX_ORDER_NR_PAGES), PAGES_PER_SECTION);
	return found;
}

static size_t section_map_bytes(unsigned long nr_pages)
{
	return KMM_ALIGN(nr_pages * sizeof(struct kmm_page), PAGE_SIZE);
}

static struct mem_section *section_slot(struct kmm_machine *m, unsigned long sec, int nid)
{
	unsigned long root = sec / SECTIONS_PER_ROOT;
	if (!m->mem_section[root]) {
		/* sparse_index_init(): one page of mem_section entries, on the node. */
		m->mem_section[root] = memblock_alloc_try_nid(m, PAGE_SIZE, PAGE_SIZE, nid);
		if (!m->mem_section[root])
			return NULL;
	}

	return &m->mem_section[root][sec % SECTIONS_PER_ROOT];
}

/*
 * The array of root pointers covers every section a section number can
 * name, as Linux's NR_SECTION_ROOTS under SPARSEMEM_EXTREME (mm/sparse.c
 * memory_present()), not only the sections below max_pfn: 2^19 sections in
 * roots of 256, 2048 pointers, 16 KiB. Being whole pages, it costs the
 * sparse models 4 pages as in Linux and leaves the small boot allocations
 * after it (pageblock flags, per-CPU arrays) packed into pages as under
 * FLATMEM; sized by max_pfn it would be a few bytes in a cacheline of their
 * own, which moves each of those a cacheline down and can push one onto a
 * page more.
 */
#define NR_SECTION_ROOTS ((1UL << SECTIONS_SHIFT) / SECTIONS_PER_ROOT)

static int sparse_init(struct kmm_machine *m, struct kmm_error *err)
{
	unsigned long nr = m->nr_mem_sections;
	m->nr_section_roots = KMM_DIV_ROUND_UP(nr, SECTIONS_PER_ROOT);
	/* memblocks_present(): allocated before anything else of the model, anywhere. */
	m->mem_section = memblock_alloc_try_nid(m, NR_SECTION_ROOTS * sizeof(void *), KMM_CACHELINE,
						NUMA_NO_NODE);
	if (!m->mem_section)
		return kmm_error_set(err, -ENOMEM, "no memory for the mem_section roots");

	if (m->model == KMM_MODEL_SPARSEMEM_VMEMMAP) {
		m->vmemmap_size = nr * SECTION_MAP_BYTES;
		m->vmemmap = kmm_port_reserve(m->vmemmap_size, 2 * KMM_SZ_1M);
		m->vmemmap_populated = kmm_port_alloc(BITS_TO_LONGS(nr) * sizeof(long));
		if (!m->vmemmap || !m->vmemmap_populated)
			return kmm_error_set(err, -ENOMEM,
					     "cannot reserve %zu MiB of address space for the "
					     "vmemmap",
					     m->vmemmap_size >> 20);
		kmm_port_hugepage_hint(m->vmemmap, m->vmemmap_size);
		m->memmap_base = (uintptr_t)m->vmemmap;
	}

	/* sparse_init_nid(): each node's present sections share one memmap buffer. */
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		size_t bytes = 0;
		unsigned long count = 0, nr_pages;
		int n;
		for (unsigned long sec = 0; sec < nr; sec++)
			if (section_has_memory(m, sec, &n, &nr_pages) && n == nid) {
				bytes += section_map_bytes(nr_pages);
				count++;
			}
		if (!count)
			continue;
		/* Whole sections' maps are 2 MiB each, aligned so huge pages can back them. */
		phys_addr_t align = bytes >= SECTION_MAP_BYTES ? SECTION_MAP_BYTES : PAGE_SIZE;
		phys_addr_t buf = memblock_phys_alloc_try_nid(m, bytes, align, nid);
		if (!buf)
			return kmm_error_set(err, -ENOMEM,
					     "node %d: no %zu KiB for the memmap of %lu sections",
					     nid, bytes >> 10, count);
		m->memmap_bytes += bytes;
		for (unsigned long sec = 0; sec < nr; sec++) {
			if (!section_has_memory(m, sec, &n, &nr_pages) || n != nid)
				continue;
			struct mem_section *ms = section_slot(m, sec, nid);
			if (!ms)
				return kmm_error_set(err, -ENOMEM,
						     "no memory for the mem_section root of "
						     "section %lu",
						     sec);
			uintptr_t map;
			if (m->model == KMM_MODEL_SPARSEMEM_VMEMMAP)
				map = (uintptr_t)(m->vmemmap + section_nr_to_pfn(sec));
			else
				map = (uintptr_t)phys_to_virt(m, buf);
			buf += section_map_bytes(nr_pages);
			/* Store the map offset so that map + pfn is the page (Linux's encoding). */
			ms->section_mem_map =
			    (map - section_nr_to_pfn(sec) * sizeof(struct kmm_page)) |
			    SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE |
			    SECTION_IS_EARLY;
			ms->nr_pages = nr_pages;
		}
	}
	return 0;
}

static int flatmem_init(struct kmm_machine *m, struct kmm_error *err)
{
	unsigned long start =
	    KMM_ALIGN_DOWN(PFN_DOWN(memblock_start_of_DRAM(m)), MAX_ORDER_NR_PAGES);
	unsigned long end = KMM_ALIGN(m->max_pfn, MAX_ORDER_NR_PAGES);
	size_t size = (end - start) * sizeof(struct kmm_page);
	phys_addr_t pa = memblock_phys_alloc_try_nid(m, size, KMM_CACHELINE, 0);
	if (!pa)
		return kmm_error_set(err, -ENOMEM,
				     "FLATMEM needs %zu MiB of contiguous memory for mem_map and "
				     "the machine has no such range; use --model sparse or vmemmap",
				     size >> 20);
	m->mem_map = phys_to_virt(m, pa);
	m->flat_pfn_offset = start;
	m->flat_nr_pages = end - start;
	m->memmap_base = (uintptr_t)m->mem_map - start * sizeof(struct kmm_page);
	m->memmap_bytes = size;
	return 0;
}

int memory_model_init(struct kmm_machine *m, struct kmm_error *err)
{
	m->nr_mem_sections = pfn_to_section_nr(m->max_pfn - 1) + 1;
	if (m->model == KMM_MODEL_FLATMEM)
		return flatmem_init(m, err);
	return sparse_init(m, err);
}

void memory_model_destroy(struct kmm_machine *m)
{
	if (m->vmemmap)
		kmm_port_unreserve(m->vmemmap, m->vmemmap_size);
	if (m->vmemmap_populated)
		kmm_port_free(m->vmemmap_populated,
			      BITS_TO_LONGS(m->nr_mem_sections) * sizeof(long));
	m->vmemmap = NULL;
	m->vmemmap_populated = NULL;
}

/*
 * Back the struct pages of [start_pfn, end_pfn) with host memory before they
 * are written: whole sections of the vmemmap, or the simulated RAM that
 * holds a FLATMEM/SPARSEMEM memmap.
 */
void memmap_populate(struct kmm_machine *m, unsigned long start_pfn, unsigned long end_pfn)
{
	if (start_pfn >= end_pfn)
		return;
	if (m->model == KMM_MODEL_SPARSEMEM_VMEMMAP) {
		for (unsigned long sec = pfn_to_section_nr(start_pfn);
		     sec <= pfn_to_section_nr(end_pfn - 1); sec++) {
			if (test_bit(sec, m->vmemmap_populated))
				continue;
			const struct mem_section *ms = __nr_to_section(m, sec);
			kmm_port_populate(m->vmemmap + section_nr_to_pfn(sec),
					  section_map_bytes(ms->nr_pages));
			set_bit(sec, m->vmemmap_populated);
		}
		return;
	}
	/* The memmap is in simulated RAM: populate the RAM that holds it. */
	uintptr_t first = (uintptr_t)pfn_to_page(m, start_pfn);
	uintptr_t last = (uintptr_t)(pfn_to_page(m, end_pfn - 1) + 1);
	if (m->model == KMM_MODEL_SPARSEMEM &&
	    pfn_to_section_nr(start_pfn) != pfn_to_section_nr(end_pfn - 1)) {
		/* Section maps need not be adjacent: one section at a time. */
		for (unsigned long pfn = start_pfn; pfn < end_pfn;) {
			unsigned long next =
			    kmm_min(end_pfn, KMM_ALIGN(pfn + 1, PAGES_PER_SECTION));
			memmap_populate(m, pfn, next);
			pfn = next;
		}
		return;
	}
	unsigned long pa0 = (unsigned long)PFN_DOWN(virt_to_phys(m, (void *)first));
	unsigned long pa1 = (unsigned long)PFN_UP(virt_to_phys(m, (void *)last));
	kmm_ram_populate(m, pa0, pa1 - pa0);
}
