/*
 * Reverse mapping: from a page frame to the PTEs that map it.
 *
 * Linux: include/linux/rmap.h. vm/ calls the bookkeeping half whenever it
 * maps, unmaps, copies or moves a page's PTE; reclaim/ (and later
 * migration and compaction) call the walking half: page_referenced,
 * try_to_unmap, rmap_walk. Every bookkeeping call gets the page, the VMA,
 * the virtual address and the PTE's location, so that both of kmm's
 * designs sit behind one interface, chosen per machine at boot
 * (`--rmap objrmap|ptechain`, struct kmm_config::rmap_design):
 *
 *   objrmap   (Linux 2.6.7 on, anon_vma_chain since 2.6.34) records nothing
 *             per PTE: an anonymous page points to its anon_vma, whose
 *             chain lists the VMAs that may map it; a file page points to
 *             its address_space, whose i_mmap tree holds the VMAs by page
 *             offset. The address in each VMA is computed from page->index.
 *   ptechain  (Linux 2.5.27) records every PTE: one pointer in the page
 *             while it is mapped once (PageDirect), else a chain of
 *             cache-line blocks of PTE addresses from the pte_chain cache.
 *
 * The calls that may need memory (a pte_chain block, an anon_vma, an
 * anon_vma_chain) return 0 or -ENOMEM and are made before the PTE is set,
 * so a failure unwinds without touching the page tables. A pte_chain
 * block is never allocated under the PTE lock: the caller preallocates it
 * before taking the lock (pte_chain_prealloc, below), the add consumes it
 * if it needs it, and the caller frees it afterwards if not.
 */
#ifndef KMM_RMAP_RMAP_H
#define KMM_RMAP_RMAP_H

#include "../vm/vm.h"

/*
 * An anon_vma: the set of VMAs that may map a group of anonymous pages.
 * Linux 2.6.34's arrangement: every VMA with anonymous pages has its own
 * anon_vma and one anon_vma_chain link to it and to each anon_vma of its
 * fork ancestors; all the anon_vmas of one fork tree share the lock of its
 * root. Under ptechain only the marker role is used (page->mapping says
 * "anonymous"): one anon_vma is shared by a VMA family, without chains.
 */
struct kmm_anon_vma {
	struct kmm_anon_vma *root;   /* the fork tree's root: its rwsem locks them all */
	struct kmm_anon_vma *parent; /* the anon_vma of the VMA this one was forked from */
	struct rw_semaphore rwsem;   /* used in the root only */
	/* VMAs (through their chains) and anon_vmas whose parent or root this is, plus walkers. */
	atomic_t refcount;
	/*
	 * Reuse accounting (Linux 6.1): anon_vmas forked from this one, and
	 * VMAs that use this as their own anon_vma. A fork reuses an ancestor
	 * that has no VMA of its own and fewer than two children instead of
	 * allocating, so a chain of fork-and-exit does not grow without bound.
	 */
	unsigned int num_children;
	unsigned int num_active_vmas;
	struct list_head head; /* anon_vma_chains of the VMAs that may map its pages */
	struct kmm_machine *machine;
};

/* One link between a VMA and an anon_vma (Linux struct anon_vma_chain). */
struct anon_vma_chain {
	struct kmm_vma *vma;
	struct kmm_anon_vma *anon_vma;
	struct list_head same_vma;	/* on vma->anon_vma_chain, newest first */
	struct list_head same_anon_vma; /* on anon_vma->head */
};

int rmap_init(struct kmm_machine *m);
void rmap_destroy(struct kmm_machine *m);
/* The machine's design (enum kmm_rmap_design). */
static inline bool rmap_ptechain(const struct kmm_machine *m)
{
	return m->cfg.rmap_design == KMM_RMAP_PTECHAIN;
}

/* --- anon_vmas (Linux mm/rmap.c); mmap_lock held for writing except anon_vma_prepare --- */

/* Give @vma an anon_vma before its first anonymous page (a fault); 0 or -ENOMEM. */
int anon_vma_prepare(struct kmm_vma *vma);
/* @dst (a split piece, a merge survivor, an mremap target) may map @src's pages. */
int anon_vma_clone(struct kmm_vma *dst, struct kmm_vma *src);
/* @vma is the fork child of @pvma: link it to @pvma's anon_vmas and give it its own. */
int anon_vma_fork(struct kmm_vma *vma, struct kmm_vma *pvma);
void unlink_anon_vmas(struct kmm_vma *vma);
/* May VMAs with these anon_vmas merge (one of them being @vma)? */
bool is_mergeable_anon_vma(struct kmm_anon_vma *a1, struct kmm_anon_vma *a2, struct kmm_vma *vma);
/* May @vma map anonymous pages of @av (is @av on its chain)? For checkers. */
bool vma_maps_anon_vma(struct kmm_vma *vma, struct kmm_anon_vma *av);

/* --- pte_chain blocks preallocated for the adds below ----------------------------------- */

/*
 * Under pte chains a mapping added to a page that is mapped already may
 * need a new chain block, and the add runs under the PTE lock, where
 * allocating could only draw on the atomic reserves, the memory reclaim
 * itself needs. So the caller allocates a block with GFP_KERNEL (which
 * may reclaim) before it takes the PTE lock, passes it to the add, which
 * takes it (setting the caller's pointer to NULL) only if the page needs
 * a new block, and frees it after dropping the lock if it is still there.
 * Linux 2.5.6x: pte_chain_alloc(GFP_KERNEL) / page_add_rmap(page, ptep,
 * pte_chain) / pte_chain_free. Under objrmap all of it does nothing: the
 * pointer stays NULL.
 *
 *	struct kmm_pte_chain *pc = NULL;
 *	if (pte_chain_prealloc(m, &pc))
 *		return -ENOMEM;
 *	spin_lock(ptl);
 *	err = page_add_file_rmap(page, vma, address, ptep, &pc);
 *	spin_unlock(ptl);
 *	pte_chain_release(m, &pc);
 *
 * A loop that adds many mappings under one lock (fork's copy,
 * fault-around) uses its block up; an add that needs another then
 * allocates one under the lock without reclaim and without the reserves
 * (GFP_NOWAIT), and if that fails returns -EAGAIN: the caller undoes what
 * it did for that PTE, calls pte_chain_prealloc_relock and retries it.
 * page_add_new_anon_rmap never needs a block: a new page is mapped once.
 */
struct kmm_pte_chain;
int __pte_chain_prealloc(struct kmm_machine *m, struct kmm_pte_chain **pcp);
void __pte_chain_release(struct kmm_machine *m, struct kmm_pte_chain *pc);

/* Before the PTE lock: make sure *@pcp holds a block (pte chains only). 0 or -ENOMEM. */
static inline int pte_chain_prealloc(struct kmm_machine *m, struct kmm_pte_chain **pcp)
{
	if (!rmap_ptechain(m) || *pcp)
		return 0;
	return __pte_chain_prealloc(m, pcp);
}

/*
 * After an add returned -EAGAIN: drop @ptl2 (if not NULL) and @ptl,
 * preallocate, and take @ptl then @ptl2 again. The caller must read its
 * PTEs anew. 0, or -ENOMEM (with the locks held).
 */
int pte_chain_prealloc_relock(struct kmm_machine *m, struct kmm_pte_chain **pcp, spinlock_t *ptl,
			      spinlock_t *ptl2);

/* After the PTE lock: free the block if the add did not take it. */
static inline void pte_chain_release(struct kmm_machine *m, struct kmm_pte_chain **pcp)
{
	if (*pcp) {
		__pte_chain_release(m, *pcp);
		*pcp = NULL;
	}
}

/* --- Adding and removing mappings, under the PTE lock, before set_pte / after clearing it --- */

/* A new page, mapped once: never needs a pte_chain block. */
int page_add_new_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			   pte_t *ptep);
/*
 * @pcp: the caller's preallocated block (above), taken if needed. 0, or
 * under pte chains -EAGAIN: a block was needed, the caller had none left,
 * and none could be had without reclaim.
 */
int page_add_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep, struct kmm_pte_chain **pcp);
int page_add_file_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep, struct kmm_pte_chain **pcp);
/* fork: the child's PTE maps the page too. */
int page_dup_rmap(struct kmm_page *page, struct kmm_vma *dst_vma, unsigned long address,
		  pte_t *ptep, struct kmm_pte_chain **pcp);
void page_remove_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep);
/*
 * A write fault reuses @page, which only @vma's PTE maps and nobody else
 * holds (do_wp_page): under objrmap the page moves to @vma's own anon_vma,
 * so later walks start there rather than at a fork ancestor's, whose list
 * holds every VMA of the fork tree. pte chains have nothing to move.
 * Linux: mm/rmap.c page_move_anon_rmap() / folio_move_anon_rmap().
 */
void page_move_anon_rmap(struct kmm_page *page, struct kmm_vma *vma);
/* mremap moved the PTE that maps @page (both PTE locks held); needs no memory. */
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

/* --- Walking a page's mappings ------------------------------------------------------------- */

/*
 * How rmap_walk visits a page's mappings (Linux struct rmap_walk_control).
 * @rmap_one is called once per present PTE that maps the page, with that
 * PTE's lock held (and the anon_vma or i_mmap lock, or under ptechain the
 * mm's page_table_lock); it may clear the PTE and call
 * page_remove_rmap. It returns false to end the walk.
 */
struct rmap_walk_control {
	void *arg;
	bool (*rmap_one)(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			 pte_t *ptep, void *arg);
	/* Optional: checked after each mapping; true ends the walk (Linux rwc->done). */
	bool (*done)(struct kmm_page *page);
	/* Out: a lock was contended (or a walk buffer could not be had) and a mapping skipped. */
	bool contended;
	/* Out: the mappings looked at (VMAs covering the page, or pte-chain entries): the cost. */
	unsigned long visited;
};

/*
 * Visit every mapping of @page, a page of machine @m (which the page alone
 * cannot name safely: its anon_vma may be going). The caller holds a
 * reference to the page and, for file pages, the page lock (so it stays
 * in its mapping). Locks
 * of other mms are only tried, never waited for: a contended one sets
 * @rwc->contended, as Linux's trylock walks do.
 */
void rmap_walk(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc);

/*
 * Test and clear the accessed bit of every PTE that maps @page. Returns how
 * many were set (a contended walk counts as referenced, as in Linux), and
 * ORs the flags of the VMAs seen into *@vm_flags. A VM_LOCKED VMA adds
 * VM_LOCKED and mlocks the page, and its own PTE is left alone; unlike
 * Linux the walk goes on past it, so the result and the bits left do not
 * depend on the order of the walk (the same on both designs).
 * @is_locked: the caller holds the page lock; otherwise a file page
 * is trylocked and counts as referenced if that fails.
 *
 * Linux: mm/rmap.c folio_referenced() without the memcg argument.
 */
int page_referenced(struct kmm_machine *m, struct kmm_page *page, int is_locked,
		    unsigned long *vm_flags);

/* try_to_unmap's flags (Linux enum ttu_flags). */
enum ttu_flags {
	TTU_IGNORE_MLOCK = 0x8, /* unmap VM_LOCKED mappings too */
	TTU_SYNC = 0x10,	/* the caller will not retry: report a contended walk */
};

/*
 * Remove every PTE that maps @page. An anonymous page must be in the swap
 * cache (add_to_swap: PageSwapCache, entry in page->private): each PTE
 * becomes that swap entry and the slot gains a reference (swap_duplicate)
 * and the mm a swap entry (MM_SWAPENTS). A file or shmem page's PTEs just
 * go. A dirty PTE dirties the page; each TLB is flushed as vm/ does it.
 * A VM_LOCKED mapping (without TTU_IGNORE_MLOCK) stays and mlocks the
 * page; the others go all the same, whatever the order of the walk. The
 * caller holds the page lock and a reference. Returns true when the
 * page is mapped nowhere any more.
 *
 * Linux: mm/rmap.c try_to_unmap(), try_to_unmap_one().
 */
bool try_to_unmap(struct kmm_machine *m, struct kmm_page *page, enum ttu_flags flags);

/*
 * Check every invariant of reverse mapping on the machine: for every
 * mapped page, the walk finds exactly the PTEs a scan of every page table
 * finds, the map count equals their number, and (per design) the pte
 * chains and anon_vma chains are well formed. 0, or -EINVAL with what broke.
 */
int rmap_validate(struct kmm_machine *m, struct kmm_error *err);

/* rmap's objects, counted exactly (slabinfo's active_objs includes CPU-cached ones). */
enum rmap_obj {
	RMAP_ANON_VMA,
	RMAP_ANON_VMA_CHAIN,
	RMAP_PTE_CHAIN
};
static inline long rmap_objects(struct kmm_machine *m, enum rmap_obj which)
{
	return atomic_long_read(&vm_state(m)->nr_rmap_objs[which]);
}
/*
 * Bytes of rmap metadata in use (slab strides, also for --rmap-mem host):
 * anon_vmas, their chains, pte_chain blocks.
 */
unsigned long rmap_bytes(struct kmm_machine *m);
/*
 * With --rmap-mem host: one /proc/slabinfo line per kind of rmap object
 * (in use, bytes each; no slabs), as if its cache still held them.
 */
void rmap_show_host_slabinfo(struct kmm_machine *m, struct kmm_buf *out);

#endif /* KMM_RMAP_RMAP_H */
