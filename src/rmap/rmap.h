/*
 * Reverse mapping: the interface vm/ calls when it maps, unmaps, copies or
 * moves a page's PTE, and the anon_vma objects that tie anonymous pages to
 * the VMAs that may map them.
 *
 * Linux: include/linux/rmap.h. Every call gets the page, the VMA, the
 * virtual address and the PTE's location, so that both of kmm's designs can
 * sit behind it: the pte-chain design records the PTE address, the
 * object-based design needs only the VMA (and computes the address from
 * page->index). The calls that may need memory (a pte_chain block, an
 * anon_vma) return 0 or -ENOMEM and are made before the PTE is set, so a
 * failure unwinds without touching the page tables.
 *
 * This file holds what vm/ needs today: map counts, the NR_ANON_MAPPED and
 * NR_FILE_MAPPED counters, page->mapping and page->index of anonymous
 * pages, and one anon_vma shared by a VMA, its split pieces and its fork
 * children (the 2.6.7 arrangement). The rmap layer proper (walks,
 * page_referenced, try_to_unmap, anon_vma chains, pte chains) builds on it.
 */
#ifndef KMM_RMAP_RMAP_H
#define KMM_RMAP_RMAP_H

#include "../vm/vm.h"

struct kmm_anon_vma {
	struct kmm_anon_vma *root; /* itself, in the 2.6.7 arrangement */
	struct rw_semaphore rwsem;
	atomic_t refcount; /* VMAs using it, plus temporary holders */
	struct kmm_machine *machine;
};

int rmap_init(struct kmm_machine *m);
void rmap_destroy(struct kmm_machine *m);

/* anon_vmas (Linux mm/rmap.c). */
int anon_vma_prepare(struct kmm_vma *vma);
int anon_vma_clone(struct kmm_vma *dst, struct kmm_vma *src);
int anon_vma_fork(struct kmm_vma *vma, struct kmm_vma *pvma);
void unlink_anon_vmas(struct kmm_vma *vma);
/* May VMAs with these anon_vmas merge (one of them being @vma)? */
bool is_mergeable_anon_vma(struct kmm_anon_vma *a1, struct kmm_anon_vma *a2, struct kmm_vma *vma);

/* Adding and removing mappings, under the PTE lock, before set_pte / after clearing it. */
int page_add_new_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			   pte_t *ptep);
int page_add_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep);
int page_add_file_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep);
/* fork: the child's PTE maps the page too. */
int page_dup_rmap(struct kmm_page *page, struct kmm_vma *dst_vma, unsigned long address,
		  pte_t *ptep);
void page_remove_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep);
/* mremap moved the PTE that maps @page. */
void page_move_rmap(struct kmm_page *page, pte_t *old_ptep, struct kmm_vma *new_vma,
		    unsigned long new_address, pte_t *new_ptep);

static inline int page_mapcount(const struct kmm_page *page)
{
	return atomic_read(&page->_mapcount) + 1;
}
static inline bool page_mapped(const struct kmm_page *page)
{
	return page_mapcount(page) > 0;
}

#endif /* KMM_RMAP_RMAP_H */
