/*
 * pte chains: every mapping of a page recorded by the address of its PTE.
 *
 * Linux: mm/rmap.c of 2.5.27 (page_add_rmap, page_remove_rmap,
 * try_to_unmap, page_referenced over page->pte.chain, with PG_direct and
 * pte_chain_lock), removed in 2.6.7 for the object-based design.
 *
 * Theory of operation:
 * 1. A page mapped once keeps that PTE's address in page->pte.direct and
 *    PG_direct set: no memory beyond struct page, the common case for
 *    anonymous memory of one process.
 * 2. A second mapping moves both addresses into a chain of blocks from the
 *    pte_chain slab cache, each one cache line: a link and seven PTE
 *    addresses. Only the first block may be partly filled (slots from 0
 *    up); a new mapping goes into its first free slot, or a new first block.
 *    Removing an entry moves the first block's last entry into the hole, so
 *    the chain stays dense; when one mapping is left it goes back to direct.
 * 3. fork adds one entry per copied PTE to every shared page, and exit
 *    removes them: that is the cost 2.6 removed. In return a walk visits
 *    exactly the PTEs that map the page, however many VMAs a file has.
 * 4. A PTE's address names its page-table page, whose struct page holds
 *    the mm (pt_mm) and the first address it maps (pt_addr): the virtual
 *    address follows from the PTE's index, as 2.5 did with ptep_to_mm()
 *    and ptep_to_address().
 * 5. Preallocation (2.5.6x, after 2.5.27 allocated with GFP_ATOMIC under
 *    the page-table lock): adds run under the PTE lock, where an
 *    allocation could only dip into the atomic reserves, which reclaim
 *    needs for the swap cache's tree nodes; under heavy sharing and memory
 *    pressure they can run dry, and the OOM killer fire with swap free. So
 *    every caller that may add an entry to a mapped page (file and shmem
 *    faults, fault-around, swap-in, swapoff, fork's copy) allocates a
 *    block with GFP_KERNEL, which may reclaim, before it takes the PTE
 *    lock (pte_chain_prealloc), and hands it to the add, which takes it
 *    only if the page needs a new block; the caller frees it afterwards
 *    if not (pte_chain_release). A loop adding many entries under one
 *    lock gets the next blocks with GFP_NOWAIT (no reclaim, no reserves),
 *    and when that fails the add says -EAGAIN and the caller drops its
 *    locks to preallocate (pte_chain_prealloc_relock). A new anonymous
 *    page is mapped once (direct) and mremap moves entries in place:
 *    neither needs a block. Under objrmap the preallocation does nothing.
 *
 * Locks: the chain is guarded by a bit lock in page->flags (PG_chainlock,
 * 2.5's pte_chain_lock), taken inside the PTE lock by add/remove/move.
 * A walk cannot hold it while it takes PTE locks (the order is the other
 * way), so it copies the chain under the bit lock, pins each mm
 * (mm_count), drops the bit lock, and then visits each PTE under the mm's
 * page_table_lock (trylock: reclaim must not wait) and the PTE lock,
 * checking that the PTE still maps the page. The VMA tree, a linked VMA's
 * range and flags change under page_table_lock too (vm/vma.c), and
 * mremap moves PTEs under it, as in 2.5, whose walk trylocked it the same
 * way. Not mmap_lock: a task holds that for writing across allocations
 * (mmap allocating its VMA, fork its page tables), so reclaim inside such
 * a task would find its own mm busy and count every page it shares as
 * referenced, where objrmap's walk (anon_vma and i_mmap locks, never held
 * across an allocation) sees the same PTEs as ever: the two designs would
 * decide differently on the same state. page_table_lock is only ever held
 * for a few stores, never across an allocation, so in deterministic mode a
 * walk never finds it busy.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define PG_CHAINLOCK_MASK (1UL << PG_chainlock)

static void pte_chain_lock(struct kmm_page *page)
{
	while (unlikely(__atomic_fetch_or(&page->flags, PG_CHAINLOCK_MASK, __ATOMIC_ACQUIRE) &
			PG_CHAINLOCK_MASK))
		while (__atomic_load_n(&page->flags, __ATOMIC_RELAXED) & PG_CHAINLOCK_MASK)
			;
}

static void pte_chain_unlock(struct kmm_page *page)
{
	__atomic_fetch_and(&page->flags, ~PG_CHAINLOCK_MASK, __ATOMIC_RELEASE);
}

/* Entries in the first block (filled from slot 0 up). */
static unsigned int head_count(const struct kmm_pte_chain *head)
{
	unsigned int n = 0;
	while (n < NRPTE && head->ptes[n])
		n++;
	return n;
}

/*
 * A zeroed block. Under PTE locks nothing is allocated any more (see
 * "Preallocation" above): @gfp is GFP_KERNEL before the lock, or
 * GFP_NOWAIT for pte_chain_refill's first try under it.
 */
static struct kmm_pte_chain *pte_chain_alloc(struct kmm_machine *m, gfp_t gfp)
{
	struct kmm_pte_chain *pc = rmap_obj_alloc(m, RMAP_PTE_CHAIN, gfp);
	if (pc)
		memset(pc, 0, sizeof(*pc));
	return pc;
}

static void pte_chain_free(struct kmm_machine *m, struct kmm_pte_chain *pc)
{
	if (pc)
		rmap_obj_free(m, RMAP_PTE_CHAIN, pc);
}

int __pte_chain_prealloc(struct kmm_machine *m, struct kmm_pte_chain **pcp)
{
	*pcp = pte_chain_alloc(m, GFP_KERNEL);
	return *pcp ? 0 : -ENOMEM;
}

int pte_chain_prealloc_relock(struct kmm_machine *m, struct kmm_pte_chain **pcp, spinlock_t *ptl,
			      spinlock_t *ptl2)
{
	if (ptl2)
		spin_unlock(ptl2);
	spin_unlock(ptl);
	int err = pte_chain_prealloc(m, pcp);
	spin_lock(ptl);
	if (ptl2)
		spin_lock(ptl2);
	return err;
}

void __pte_chain_release(struct kmm_machine *m, struct kmm_pte_chain *pc)
{
	rmap_obj_free(m, RMAP_PTE_CHAIN, pc);
}

int pte_chain_add(struct kmm_machine *m, struct kmm_page *page, pte_t *ptep,
		  struct kmm_pte_chain **pcp)
{
again:
	pte_chain_lock(page);
	if (!PageDirect(page) && !page->pte.chain) {
		page->pte.direct = ptep;
		SetPageDirect(page);
		goto out;
	}
	struct kmm_pte_chain *head = PageDirect(page) ? NULL : page->pte.chain;
	unsigned int n = head ? head_count(head) : NRPTE;
	if (n < NRPTE) {
		head->ptes[n] = ptep;
		goto out;
	}
	/* A new first block: the caller's. */
	struct kmm_pte_chain *pc = *pcp;
	if (unlikely(!pc)) {
		/*
		 * A loop that adds many mappings under one lock used its block
		 * up: another without reclaim and without the reserves, or
		 * -EAGAIN for the caller to preallocate one outside its locks.
		 */
		pte_chain_unlock(page);
		*pcp = pte_chain_alloc(m, GFP_NOWAIT | __GFP_NOWARN);
		if (!*pcp)
			return -EAGAIN;
		goto again;
	}
	*pcp = NULL;
	if (PageDirect(page)) {
		pc->ptes[0] = page->pte.direct;
		pc->ptes[1] = ptep;
		ClearPageDirect(page);
	} else {
		pc->next = head;
		pc->ptes[0] = ptep;
	}
	page->pte.chain = pc;
out:
	pte_chain_unlock(page);
	return 0;
}

void pte_chain_add_new(struct kmm_page *page, pte_t *ptep)
{
	pte_chain_lock(page);
	KMM_BUG_ON(PageDirect(page) || page->pte.chain);
	page->pte.direct = ptep;
	SetPageDirect(page);
	pte_chain_unlock(page);
}

/*
 * Take out the entry at @pc->ptes[@i]: the first block's last entry fills
 * the hole. Returns the first block if it became empty (to be freed).
 */
static struct kmm_pte_chain *chain_remove_at(struct kmm_page *page, struct kmm_pte_chain *pc,
					     unsigned int i)
{
	struct kmm_pte_chain *head = page->pte.chain;
	unsigned int n = head_count(head);
	pc->ptes[i] = head->ptes[n - 1];
	head->ptes[n - 1] = NULL;
	if (n > 1)
		return NULL;
	page->pte.chain = head->next;
	return head;
}

/* One mapping left in a chain: back to the direct pointer. Returns the block to free. */
static struct kmm_pte_chain *chain_collapse(struct kmm_page *page)
{
	struct kmm_pte_chain *head = page->pte.chain;
	if (!head || head->next || head_count(head) != 1)
		return NULL;
	page->pte.direct = head->ptes[0];
	SetPageDirect(page);
	return head;
}

void pte_chain_remove(struct kmm_machine *m, struct kmm_page *page, pte_t *ptep)
{
	struct kmm_pte_chain *gone = NULL, *gone2 = NULL;
	pte_chain_lock(page);
	if (PageDirect(page)) {
		KMM_BUG_ON(page->pte.direct != ptep);
		page->pte.direct = NULL;
		ClearPageDirect(page);
		pte_chain_unlock(page);
		return;
	}
	for (struct kmm_pte_chain *pc = page->pte.chain; pc; pc = pc->next)
		for (unsigned int i = 0; i < NRPTE && pc->ptes[i]; i++)
			if (pc->ptes[i] == ptep) {
				gone = chain_remove_at(page, pc, i);
				gone2 = chain_collapse(page);
				pte_chain_unlock(page);
				pte_chain_free(m, gone);
				pte_chain_free(m, gone2);
				return;
			}
	pte_chain_unlock(page);
	KMM_BUG_ON(1 /* the PTE is not on the page's chain */);
}

void pte_chain_move(struct kmm_page *page, pte_t *old_ptep, pte_t *new_ptep)
{
	pte_chain_lock(page);
	if (PageDirect(page)) {
		KMM_BUG_ON(page->pte.direct != old_ptep);
		page->pte.direct = new_ptep;
		pte_chain_unlock(page);
		return;
	}
	for (struct kmm_pte_chain *pc = page->pte.chain; pc; pc = pc->next)
		for (unsigned int i = 0; i < NRPTE && pc->ptes[i]; i++)
			if (pc->ptes[i] == old_ptep) {
				pc->ptes[i] = new_ptep;
				pte_chain_unlock(page);
				return;
			}
	pte_chain_unlock(page);
	KMM_BUG_ON(1 /* the PTE is not on the page's chain */);
}

/* Entries on the chain, under the chain lock. */
static unsigned long chain_count(const struct kmm_page *page)
{
	if (PageDirect(page))
		return 1;
	unsigned long n = 0;
	for (const struct kmm_pte_chain *pc = page->pte.chain; pc; pc = pc->next)
		n += head_count(pc);
	return n;
}

/* One mapping found on the chain: where it is and its mm, pinned. */
struct ptc_ref {
	pte_t *ptep;
	struct kmm_mm *mm;
	unsigned long address;
};

static void ptc_ref_fill(struct kmm_machine *m, struct ptc_ref *r, pte_t *ptep)
{
	uintptr_t off = (uintptr_t)ptep - (uintptr_t)m->ram;
	struct kmm_page *table = pfn_to_page(m, off >> PAGE_SHIFT);
	unsigned long idx = (off & ~PAGE_MASK) / sizeof(pte_t);
	r->ptep = ptep;
	r->mm = table->pt_mm;
	r->address = table->pt_addr + (idx << PAGE_SHIFT);
	atomic_inc(&r->mm->mm_count); /* the mm structure outlives our visit (mmgrab) */
}

#define PTC_STACK_REFS 16

/*
 * Did the entry for @ptep leave the chain after the walk copied it? Then
 * the walk may have missed the mapping (mremap moved it to a PTE the copy
 * does not have), and says so as it does for a busy page_table_lock. The
 * chain is asked first, under its lock: while the entry is in it the PTE
 * table holding @ptep is alive; once it left, the table may have been
 * freed and reused, and reading @ptep would race with its new owner. The
 * caller holds the mm's page_table_lock, so mremap of this mm is not
 * moving PTEs.
 */
static bool chain_entry_went(struct kmm_page *page, pte_t *ptep)
{
	bool found = false;
	pte_chain_lock(page);
	if (PageDirect(page))
		found = page->pte.direct == ptep;
	else
		for (struct kmm_pte_chain *pc = page->pte.chain; pc && !found; pc = pc->next)
			for (unsigned int i = 0; i < NRPTE && pc->ptes[i]; i++)
				found |= pc->ptes[i] == ptep;
	pte_chain_unlock(page);
	return !found;
}

void pte_chain_walk(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc)
{
	struct ptc_ref stack[PTC_STACK_REFS], *refs = stack;
	unsigned long cap = PTC_STACK_REFS, n;

	for (;;) {
		pte_chain_lock(page);
		n = chain_count(page);
		if (n <= cap)
			break;
		pte_chain_unlock(page);
		if (refs != stack)
			rmap_buf_free(m, refs);
		cap = n * 2;
		refs = rmap_buf_alloc(m, cap * sizeof(*refs));
		if (!refs) {
			rwc->contended = true;
			return;
		}
	}
	unsigned long k = 0;
	if (PageDirect(page))
		ptc_ref_fill(m, &refs[k++], page->pte.direct);
	else
		for (struct kmm_pte_chain *pc = page->pte.chain; pc; pc = pc->next)
			for (unsigned int i = 0; i < NRPTE && pc->ptes[i]; i++)
				ptc_ref_fill(m, &refs[k++], pc->ptes[i]);
	pte_chain_unlock(page);

	bool more = true;
	for (unsigned long i = 0; i < n; i++) {
		struct kmm_mm *mm = refs[i].mm;
		/* An mm on its way out (mm_users 0) is tearing its PTEs down itself. */
		if (more && atomic_add_unless(&mm->mm_users, 1, 0)) {
			if (spin_trylock(&mm->page_table_lock)) {
				struct kmm_vma *vma = find_vma(mm, refs[i].address);
				if (unlikely(chain_entry_went(page, refs[i].ptep)))
					rwc->contended = true;
				else if (vma && vma->vm_start <= refs[i].address)
					more = rmap_walk_one(page, vma, refs[i].address, rwc);
				spin_unlock(&mm->page_table_lock);
			} else {
				rwc->contended = true;
			}
			mmput(mm);
		}
		mmdrop(mm);
	}
	if (refs != stack)
		rmap_buf_free(m, refs);
}

int pte_chain_validate(struct kmm_machine *m, struct kmm_page *page, int expect,
		       struct kmm_error *err)
{
	unsigned long pfn = page_to_pfn(m, page);
	int ret = 0;
	pte_chain_lock(page);
	if (PageDirect(page)) {
		if (expect != 1 || !page->pte.direct)
			ret = kmm_error_set(err, -EINVAL,
					    "pfn %#lx: PG_direct with %d mappings (direct %p)", pfn,
					    expect, (void *)page->pte.direct);
		goto out;
	}
	if (expect <= 1) {
		if (page->pte.chain)
			ret = kmm_error_set(err, -EINVAL,
					    "pfn %#lx: %d mapping(s) but a pte chain (not direct)",
					    pfn, expect);
		goto out;
	}
	long n = 0;
	for (struct kmm_pte_chain *pc = page->pte.chain; pc; pc = pc->next) {
		unsigned int c = head_count(pc);
		for (unsigned int i = c; i < NRPTE; i++)
			if (pc->ptes[i]) {
				ret = kmm_error_set(err, -EINVAL,
						    "pfn %#lx: pte chain block with a hole", pfn);
				goto out;
			}
		if (c == 0 || (pc != page->pte.chain && c != NRPTE)) {
			ret = kmm_error_set(err, -EINVAL,
					    "pfn %#lx: pte chain block %s with %u entries", pfn,
					    pc == page->pte.chain ? "first" : "not first", c);
			goto out;
		}
		n += c;
	}
	if (n != expect)
		ret = kmm_error_set(err, -EINVAL,
				    "pfn %#lx: pte chain has %ld entries, %d PTEs map it", pfn, n,
				    expect);
out:
	pte_chain_unlock(page);
	return ret;
}
