/*
 * memblock: the boot-time memory allocator.
 *
 * Linux: mm/memblock.c. Two sorted arrays of regions: "memory" (what RAM
 * exists, with the node each range is on) and "reserved" (what is taken:
 * the first megabyte, the kernel image, the initrd, the memmap, node data).
 * Early allocations search the gaps of memory minus reserved, top-down as on
 * x86, and reserve what they take. At the end of boot every page that is in
 * memory but not reserved is handed to the buddy allocator
 * (memblock_free_all in page_init.c) and memblock's job is done.
 *
 * Regions are kept sorted, disjoint, and merged with equal neighbours. The
 * arrays start with room for 128 regions and double when full, from host
 * memory (Linux doubles them from memblock itself).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define INIT_MEMBLOCK_REGIONS 128

static int type_init(struct memblock_type *type, const char *name)
{
	type->regions = kmm_port_alloc(INIT_MEMBLOCK_REGIONS * sizeof(struct memblock_region));
	if (!type->regions)
		return -ENOMEM;
	type->max = INIT_MEMBLOCK_REGIONS;
	type->cnt = 0;
	type->total_size = 0;
	type->name = name;
	return 0;
}

void memblock_init(struct kmm_machine *m)
{
	struct kmm_memblock *mb = &m->memblock;
	memset(mb, 0, sizeof(*mb));
	KMM_BUG_ON(type_init(&mb->memory, "memory") || type_init(&mb->reserved, "reserved"));
	mb->current_limit = MEMBLOCK_ALLOC_ANYWHERE;
}

void memblock_destroy(struct kmm_machine *m)
{
	kmm_port_free(m->memblock.memory.regions,
		      m->memblock.memory.max * sizeof(struct memblock_region));
	kmm_port_free(m->memblock.reserved.regions,
		      m->memblock.reserved.max * sizeof(struct memblock_region));
	m->memblock.memory.regions = m->memblock.reserved.regions = NULL;
}

static int double_array(struct memblock_type *type)
{
	size_t old = type->max * sizeof(struct memblock_region);
	struct memblock_region *n = kmm_port_alloc(old * 2);
	if (!n)
		return -ENOMEM;
	memcpy(n, type->regions, old);
	kmm_port_free(type->regions, old);
	type->regions = n;
	type->max *= 2;
	return 0;
}

static int insert_region(struct memblock_type *type, unsigned long idx, phys_addr_t base,
			 phys_addr_t size, int nid, unsigned int flags)
{
	if (type->cnt == type->max && double_array(type))
		return -ENOMEM;
	memmove(&type->regions[idx + 1], &type->regions[idx],
		(type->cnt - idx) * sizeof(struct memblock_region));
	type->regions[idx] = (struct memblock_region){base, size, nid, flags};
	type->cnt++;
	type->total_size += size;
	return 0;
}

static void remove_region(struct memblock_type *type, unsigned long idx)
{
	type->total_size -= type->regions[idx].size;
	memmove(&type->regions[idx], &type->regions[idx + 1],
		(type->cnt - idx - 1) * sizeof(struct memblock_region));
	type->cnt--;
}

/* Merge neighbours that touch and agree on node and flags. */
static void merge_regions(struct memblock_type *type)
{
	unsigned long i = 0;
	while (i + 1 < type->cnt) {
		struct memblock_region *a = &type->regions[i], *b = &type->regions[i + 1];
		if (a->base + a->size != b->base || a->nid != b->nid || a->flags != b->flags) {
			i++;
			continue;
		}
		phys_addr_t size = b->size;
		a->size += size;
		remove_region(type, i + 1);
		type->total_size += size; /* still counted, now in @a */
	}
}

/*
 * Add [base, base+size): the parts not already covered are inserted, so
 * overlapping adds are harmless (Linux memblock_add_range).
 */
static int add_range(struct memblock_type *type, phys_addr_t base, phys_addr_t size, int nid,
		     unsigned int flags)
{
	phys_addr_t end = base + size;
	unsigned long i;
	if (!size)
		return 0;
	for (i = 0; i < type->cnt && base < end; i++) {
		struct memblock_region *r = &type->regions[i];
		phys_addr_t rbase = r->base, rend = r->base + r->size;
		if (rbase >= end)
			break;
		if (rend <= base)
			continue;
		if (rbase > base) {
			if (insert_region(type, i, base, rbase - base, nid, flags))
				return -ENOMEM;
			i++;
		}
		base = kmm_min(rend, end);
	}
	if (base < end && insert_region(type, i, base, end - base, nid, flags))
		return -ENOMEM;
	merge_regions(type);
	return 0;
}

/*
 * Split regions at @base and @base+@size so that the range is covered by
 * whole regions; return their index range [*start, *end).
 */
static int isolate_range(struct memblock_type *type, phys_addr_t base, phys_addr_t size,
			 unsigned long *start, unsigned long *end)
{
	phys_addr_t limit = base + size;
	*start = *end = 0;
	for (unsigned long i = 0; i < type->cnt; i++) {
		struct memblock_region *r = &type->regions[i];
		phys_addr_t rbase = r->base, rend = r->base + r->size;
		if (rbase >= limit)
			break;
		if (rend <= base)
			continue;
		if (rbase < base) {
			/* Split off the part below @base and look at this region again. */
			r->base = base;
			r->size = rend - base;
			type->total_size -= base - rbase;
			if (insert_region(type, i, rbase, base - rbase, r->nid, r->flags))
				return -ENOMEM;
			continue;
		}
		if (rend > limit) {
			r->base = limit;
			r->size = rend - limit;
			type->total_size -= limit - rbase;
			if (insert_region(type, i, rbase, limit - rbase, r->nid, r->flags))
				return -ENOMEM;
			i--;
			continue;
		}
		if (!*end)
			*start = i;
		*end = i + 1;
	}
	return 0;
}

static int remove_range(struct memblock_type *type, phys_addr_t base, phys_addr_t size)
{
	unsigned long start, end;
	if (!size)
		return 0;
	if (isolate_range(type, base, size, &start, &end))
		return -ENOMEM;
	for (unsigned long i = end; i > start; i--)
		remove_region(type, i - 1);
	return 0;
}

int memblock_add_node(struct kmm_machine *m, phys_addr_t base, phys_addr_t size, int nid)
{
	return add_range(&m->memblock.memory, base, size, nid, 0);
}

int memblock_remove(struct kmm_machine *m, phys_addr_t base, phys_addr_t size)
{
	return remove_range(&m->memblock.memory, base, size);
}

int memblock_reserve(struct kmm_machine *m, phys_addr_t base, phys_addr_t size)
{
	return add_range(&m->memblock.reserved, base, size, NUMA_NO_NODE, 0);
}

int memblock_phys_free(struct kmm_machine *m, phys_addr_t base, phys_addr_t size)
{
	return remove_range(&m->memblock.reserved, base, size);
}

int memblock_set_node(struct kmm_machine *m, phys_addr_t base, phys_addr_t size, int nid)
{
	unsigned long start, end;
	struct memblock_type *type = &m->memblock.memory;
	if (isolate_range(type, base, size, &start, &end))
		return -ENOMEM;
	for (unsigned long i = start; i < end; i++)
		type->regions[i].nid = nid;
	merge_regions(type);
	return 0;
}

/* Highest aligned start for @size bytes inside the free parts of [lo, hi). */
static bool find_free_topdown(struct kmm_machine *m, phys_addr_t lo, phys_addr_t hi,
			      phys_addr_t size, phys_addr_t align, phys_addr_t *out)
{
	struct memblock_type *res = &m->memblock.reserved;
	phys_addr_t seg_hi = hi;
	/* Walk the reserved regions from the top: the gaps between them are free. */
	for (long j = (long)res->cnt - 1; j >= -1; j--) {
		phys_addr_t rlo = j >= 0 ? res->regions[j].base : 0;
		phys_addr_t rhi = j >= 0 ? rlo + res->regions[j].size : 0;
		if (j >= 0 && rlo >= seg_hi)
			continue;
		phys_addr_t seg_lo = kmm_max(rhi, lo);
		if (seg_lo < seg_hi && seg_hi - seg_lo >= size) {
			phys_addr_t cand = KMM_ALIGN_DOWN(seg_hi - size, align);
			if (cand >= seg_lo) {
				*out = cand;
				return true;
			}
		}
		if (rlo <= lo)
			break;
		seg_hi = rlo;
	}
	return false;
}

static phys_addr_t find_in_range_node(struct kmm_machine *m, phys_addr_t size, phys_addr_t align,
				      int nid)
{
	struct memblock_type *mem = &m->memblock.memory;
	phys_addr_t limit = m->memblock.current_limit, out;
	for (long i = (long)mem->cnt - 1; i >= 0; i--) {
		struct memblock_region *r = &mem->regions[i];
		if (nid != NUMA_NO_NODE && r->nid != nid)
			continue;
		phys_addr_t lo = r->base, hi = kmm_min(r->base + r->size, limit);
		/* Never hand out page 0: a physical address of 0 means "failed". */
		lo = kmm_max(lo, (phys_addr_t)PAGE_SIZE);
		if (lo >= hi)
			continue;
		if (find_free_topdown(m, lo, hi, size, align, &out))
			return out;
	}
	return 0;
}

phys_addr_t memblock_phys_alloc_try_nid(struct kmm_machine *m, phys_addr_t size, phys_addr_t align,
					int nid)
{
	phys_addr_t pa;
	if (!align)
		align = KMM_CACHELINE;
	/* The base is aligned, the size is not rounded (as Linux's memblock). */
	pa = find_in_range_node(m, size, align, nid);

	if (!pa && nid != NUMA_NO_NODE)
		pa = find_in_range_node(m, size, align, NUMA_NO_NODE);
	if (!pa || memblock_reserve(m, pa, size))
		return 0;
	return pa;
}

void *memblock_alloc_try_nid(struct kmm_machine *m, phys_addr_t size, phys_addr_t align, int nid)
{
	phys_addr_t pa = memblock_phys_alloc_try_nid(m, size, align, nid);
	if (!pa)
		return NULL;
	kmm_ram_populate(m, PFN_DOWN(pa), PFN_UP(pa + size) - PFN_DOWN(pa));
	void *p = phys_to_virt(m, pa);
	memset(p, 0, size);
	return p;
}

phys_addr_t memblock_start_of_DRAM(struct kmm_machine *m)
{
	return m->memblock.memory.cnt ? m->memblock.memory.regions[0].base : 0;
}

phys_addr_t memblock_end_of_DRAM(struct kmm_machine *m)
{
	struct memblock_type *t = &m->memblock.memory;
	return t->cnt ? t->regions[t->cnt - 1].base + t->regions[t->cnt - 1].size : 0;
}

static bool type_contains(struct memblock_type *t, phys_addr_t addr)
{
	unsigned long lo = 0, hi = t->cnt;
	while (lo < hi) {
		unsigned long mid = (lo + hi) / 2;
		struct memblock_region *r = &t->regions[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr >= r->base + r->size)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool memblock_is_reserved(struct kmm_machine *m, phys_addr_t addr)
{
	return type_contains(&m->memblock.reserved, addr);
}

bool memblock_is_memory(struct kmm_machine *m, phys_addr_t addr)
{
	return type_contains(&m->memblock.memory, addr);
}

phys_addr_t memblock_phys_mem_size(struct kmm_machine *m)
{
	return m->memblock.memory.total_size;
}

phys_addr_t memblock_reserved_size(struct kmm_machine *m)
{
	return m->memblock.reserved.total_size;
}

bool memblock_next_pfn_range(struct kmm_machine *m, int *idx, int nid, unsigned long *start_pfn,
			     unsigned long *end_pfn, int *out_nid)
{
	struct memblock_type *t = &m->memblock.memory;
	while ((unsigned long)*idx < t->cnt) {
		struct memblock_region *r = &t->regions[(*idx)++];
		unsigned long s = (unsigned long)PFN_UP(r->base);
		unsigned long e = (unsigned long)PFN_DOWN(r->base + r->size);
		if (s >= e || (nid != NUMA_NO_NODE && r->nid != nid))
			continue;
		*start_pfn = s;
		*end_pfn = e;
		if (out_nid)
			*out_nid = r->nid;
		return true;
	}
	return false;
}

/*
 * Iterate memory minus reserved, in address order. State: *a is the memory
 * region index, *b the reserved index to resume from; start both at 0.
 */
bool memblock_next_free_range(struct kmm_machine *m, unsigned long *a, unsigned long *b, int nid,
			      phys_addr_t *start, phys_addr_t *end, int *out_nid)
{
	struct memblock_type *mem = &m->memblock.memory, *res = &m->memblock.reserved;
	for (; *a < mem->cnt; (*a)++, *b = 0) {
		struct memblock_region *r = &mem->regions[*a];
		if (nid != NUMA_NO_NODE && r->nid != nid)
			continue;
		phys_addr_t rlo = r->base, rhi = r->base + r->size;
		/* *b counts the gaps of the reserved array: gap k lies before reserved[k]. */
		for (; *b <= res->cnt; (*b)++) {
			phys_addr_t glo =
			    *b ? res->regions[*b - 1].base + res->regions[*b - 1].size : 0;
			phys_addr_t ghi = *b < res->cnt ? res->regions[*b].base : ~(phys_addr_t)0;
			if (ghi <= rlo)
				continue;
			if (glo >= rhi)
				break;
			*start = kmm_max(glo, rlo);
			*end = kmm_min(ghi, rhi);
			if (out_nid)
				*out_nid = r->nid;
			(*b)++;
			return true;
		}
	}
	return false;
}

unsigned long memblock_free_pages_in(struct kmm_machine *m, unsigned long start_pfn,
				     unsigned long end_pfn)
{
	unsigned long a = 0, b = 0, nr = 0;
	phys_addr_t s, e;
	while (memblock_next_free_range(m, &a, &b, NUMA_NO_NODE, &s, &e, NULL)) {
		unsigned long sp = kmm_max((unsigned long)PFN_UP(s), start_pfn);
		unsigned long ep = kmm_min((unsigned long)PFN_DOWN(e), end_pfn);
		if (sp < ep)
			nr += ep - sp;
	}
	return nr;
}

void memblock_dump(struct kmm_machine *m, struct kmm_buf *out)
{
	struct memblock_type *types[] = {&m->memblock.memory, &m->memblock.reserved};
	for (int t = 0; t < 2; t++) {
		struct memblock_region *r;
		kmm_buf_printf(out, " %s.cnt  = 0x%lx\n", types[t]->name, types[t]->cnt);
		unsigned long i = 0;
		for_each_memblock_region (types[t], r)
			kmm_buf_printf(
			    out, " %s[0x%lx]\t[0x%016llx-0x%016llx], %#llx bytes on node %d\n",
			    types[t]->name, i++, (unsigned long long)r->base,
			    (unsigned long long)(r->base + r->size - 1),
			    (unsigned long long)r->size, r->nid);
	}
}
