/*
 * Memory models: from a page frame number to its struct page and back.
 *
 * Linux: include/asm-generic/memory_model.h, include/linux/mmzone.h
 * (__pfn_to_section, pfn_valid), mm/sparse.c. The model is chosen per
 * machine at boot:
 *
 *  FLATMEM            one mem_map array over the whole pfn span, holes
 *                     included: conversion is one subtraction, but a large
 *                     hole costs its struct pages.
 *  SPARSEMEM          memory in 128 MiB sections; a two-level table of
 *                     mem_section roots says which sections exist and where
 *                     each section's memmap is: no memmap for absent sections,
 *                     two loads per conversion.
 *  SPARSEMEM_VMEMMAP  one virtually contiguous memmap indexed by pfn, backed
 *                     only for present sections: FLATMEM's arithmetic with
 *                     SPARSEMEM's memory.
 *
 * pfn_valid() keeps each model's meaning: FLATMEM says yes for every pfn its
 * mem_map covers (holes have reserved struct pages); the sparse models say
 * yes for every pfn of a present section. All three agree on RAM.
 */
#ifndef KMM_MEMORY_MODEL_H
#define KMM_MEMORY_MODEL_H

#include <kmm/machine.h>
#include <kmm/bug.h>

static inline unsigned long pfn_to_section_nr(unsigned long pfn)
{
	return pfn >> PFN_SECTION_SHIFT;
}
static inline unsigned long section_nr_to_pfn(unsigned long sec)
{
	return sec << PFN_SECTION_SHIFT;
}

static inline struct mem_section *__nr_to_section(const struct kmm_machine *m, unsigned long nr)
{
	unsigned long root = nr / SECTIONS_PER_ROOT;
	if (unlikely(root >= m->nr_section_roots || !m->mem_section[root]))
		return NULL;
	return &m->mem_section[root][nr % SECTIONS_PER_ROOT];
}

static inline bool valid_section(const struct mem_section *ms)
{
	return ms && (ms->section_mem_map & SECTION_HAS_MEM_MAP);
}
static inline bool present_section(const struct mem_section *ms)
{
	return ms && (ms->section_mem_map & SECTION_MARKED_PRESENT);
}
/* The section's memmap, offset so that adding a pfn gives its struct page. */
static inline uintptr_t __section_mem_map_addr(const struct mem_section *ms)
{
	return ms->section_mem_map & SECTION_MAP_MASK;
}

static inline bool pfn_valid(const struct kmm_machine *m, unsigned long pfn)
{
	switch (m->model) {
	case KMM_MODEL_FLATMEM:
		return pfn - m->flat_pfn_offset < m->flat_nr_pages;
	case KMM_MODEL_SPARSEMEM:
	case KMM_MODEL_SPARSEMEM_VMEMMAP:
		if (pfn_to_section_nr(pfn) >= m->nr_mem_sections)
			return false;
		const struct mem_section *ms = __nr_to_section(m, pfn_to_section_nr(pfn));
		return valid_section(ms) && (pfn & ~PAGE_SECTION_MASK) < ms->nr_pages;
	}
	return false;
}

/*
 * The struct page of @pfn; @pfn must be valid. FLATMEM and VMEMMAP share one
 * subtraction (m->memmap_base); classic SPARSEMEM looks up the section.
 */
static __kmm_always_inline struct kmm_page *pfn_to_page(const struct kmm_machine *m,
							unsigned long pfn)
{
	if (likely(m->memmap_base))
		return (struct kmm_page *)(m->memmap_base + pfn * sizeof(struct kmm_page));
	const struct mem_section *ms = __nr_to_section(m, pfn_to_section_nr(pfn));
	return (struct kmm_page *)(__section_mem_map_addr(ms) + pfn * sizeof(struct kmm_page));
}

static __kmm_always_inline unsigned long page_to_pfn(const struct kmm_machine *m,
						     const struct kmm_page *page)
{
	if (likely(m->memmap_base))
		return ((uintptr_t)page - m->memmap_base) / sizeof(struct kmm_page);
	const struct mem_section *ms = __nr_to_section(m, page_to_section(page));
	return ((uintptr_t)page - __section_mem_map_addr(ms)) / sizeof(struct kmm_page);
}

/* The host address of a page frame's bytes (Linux's direct map). */
static inline void *page_address(const struct kmm_machine *m, const struct kmm_page *page)
{
	return m->ram + ((uintptr_t)page_to_pfn(m, page) << PAGE_SHIFT);
}
static inline void *pfn_to_virt(const struct kmm_machine *m, unsigned long pfn)
{
	return m->ram + ((uintptr_t)pfn << PAGE_SHIFT);
}
static inline phys_addr_t virt_to_phys(const struct kmm_machine *m, const void *addr)
{
	return (phys_addr_t)((const char *)addr - m->ram);
}
static inline void *phys_to_virt(const struct kmm_machine *m, phys_addr_t pa)
{
	return m->ram + pa;
}
/* True if @addr points into the machine's simulated RAM. */
static inline bool virt_addr_in_ram(const struct kmm_machine *m, const void *addr)
{
	return (uintptr_t)addr - (uintptr_t)m->ram < m->ram_size;
}
static inline struct kmm_page *virt_to_page(const struct kmm_machine *m, const void *addr)
{
	return pfn_to_page(m, (unsigned long)(virt_to_phys(m, addr) >> PAGE_SHIFT));
}

static inline struct kmm_zone *page_zone(const struct kmm_machine *m, const struct kmm_page *page)
{
	return &m->node_data[page_to_nid(page)]->node_zones[page_zonenum(page)];
}
static inline struct kmm_node *page_pgdat(const struct kmm_machine *m, const struct kmm_page *page)
{
	return m->node_data[page_to_nid(page)];
}

#endif /* KMM_MEMORY_MODEL_H */
