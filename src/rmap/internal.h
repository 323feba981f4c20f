/*
 * rmap/ privates: the pte_chain block, the per-design walkers and the
 * helpers both designs share to find and lock one PTE.
 */
#ifndef KMM_RMAP_INTERNAL_H
#define KMM_RMAP_INTERNAL_H

#include "rmap.h"
#include <errno.h>
#include <string.h>

/*
 * One block of a page's pte chain: one cache line, a link and seven PTE
 * addresses (Linux 2.5.27 struct pte_chain, where NRPTE was likewise what
 * fits in L1_CACHE_BYTES beside the link).
 */
#define NRPTE ((64 - sizeof(void *)) / sizeof(pte_t *))
struct kmm_pte_chain {
	struct kmm_pte_chain *next;
	pte_t *ptes[NRPTE];
};
KMM_BUILD_BUG_ON(sizeof(struct kmm_pte_chain) != 64);

/* Where @page would be mapped in @vma (from page->index), or -EFAULT if outside it. */
static inline unsigned long vma_address(const struct kmm_page *page, const struct kmm_vma *vma)
{
	unsigned long pgoff = page->index;
	if (pgoff < vma->vm_pgoff)
		return -EFAULT;
	unsigned long addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	return addr < vma->vm_end ? addr : (unsigned long)-EFAULT;
}

/*
 * The PTE at @address in @mm if it is present and maps @page, returned
 * with its lock held in *@ptlp; else NULL (Linux page_check_address /
 * page_vma_mapped_walk for one small page).
 */
pte_t *page_check_address(struct kmm_page *page, struct kmm_mm *mm, unsigned long address,
			  spinlock_t **ptlp);

/* Call rwc->rmap_one for @vma's mapping of @page at @address, if it exists; false: stop. */
bool rmap_walk_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		   struct rmap_walk_control *rwc);

/* objrmap.c */
void rmap_walk_anon(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc);
void rmap_walk_file(struct kmm_page *page, struct rmap_walk_control *rwc);

/*
 * pte_chain.c (all called under the PTE lock of @ptep). pte_chain_add
 * records @ptep; when that needs a new block it takes *@pcp (setting it to
 * NULL), or if there is none allocates one with GFP_NOWAIT into *@pcp
 * first, returning -EAGAIN if that fails. pte_chain_add_new records the
 * only mapping of a page mapped nowhere: the direct pointer.
 */
int pte_chain_add(struct kmm_machine *m, struct kmm_page *page, pte_t *ptep,
		  struct kmm_pte_chain **pcp);
void pte_chain_add_new(struct kmm_page *page, pte_t *ptep);
void pte_chain_remove(struct kmm_machine *m, struct kmm_page *page, pte_t *ptep);
void pte_chain_move(struct kmm_page *page, pte_t *old_ptep, pte_t *new_ptep);
void pte_chain_walk(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc);
/* Check @page's chain: well formed, @expect entries. 0 or -EINVAL. */
int pte_chain_validate(struct kmm_machine *m, struct kmm_page *page, int expect,
		       struct kmm_error *err);

/* objects.c: rmap's objects from slab or host memory (--rmap-mem), counted. */
void *rmap_obj_alloc(struct kmm_machine *m, enum rmap_obj which, gfp_t gfp);
/* An anon_vma waits for walkers in their read section first. */
void rmap_obj_free(struct kmm_machine *m, enum rmap_obj which, void *obj);
/* A walk's scratch buffer, from the same memory as the objects; NULL if none. */
void *rmap_buf_alloc(struct kmm_machine *m, size_t size);
void rmap_buf_free(struct kmm_machine *m, void *buf);

/* anon_vma.c: drop a reference; the last frees the anon_vma (and may free its root's). */
void put_anon_vma(struct kmm_anon_vma *av);

/* anon_vma.c: check every VMA's anon_vma chain in @mm. */
int anon_vma_validate_mm(struct kmm_mm *mm, struct kmm_error *err);

#endif /* KMM_RMAP_INTERNAL_H */
