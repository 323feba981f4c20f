/*
 * Reverse mapping, the part both designs share: map counts, the mapped-page
 * counters, and the walks built on rmap_walk (page_referenced,
 * try_to_unmap), dispatched to the machine's design.
 *
 * Linux: mm/rmap.c (page_add_new_anon_rmap, page_add_anon_rmap,
 * page_add_file_rmap, page_remove_rmap, folio_referenced, try_to_unmap,
 * rmap_walk). A page's _mapcount is the number of PTEs that map it, minus
 * one, in both designs; the first mapping counts the page in NR_ANON_MAPPED
 * or NR_FILE_MAPPED (meminfo's AnonPages and Mapped), the last uncounts it.
 * Under ptechain every add and remove also records or drops the PTE's
 * address in the page's chain (pte_chain.c); under objrmap nothing more is
 * recorded per mapping (anon_vma.c, objrmap.c find the VMAs).
 *
 * Lock order of a walk (mm/rmap.c's, restricted to kmm):
 *   page lock (the caller, for file pages)
 *     objrmap: anon_vma root rwsem (read) or mapping->i_mmap_rwsem (read)
 *     ptechain: the page's chain bit lock, dropped before, then
 *               mm->page_table_lock (trylock) of each mapping mm
 *       PTE lock (split ptl)
 *         ptechain: the page's chain bit lock again (page_remove_rmap)
 */
#include "internal.h"
#include <errno.h>

/* --- Bookkeeping -------------------------------------------------------------------------- */

static void mapped_stat(struct kmm_machine *m, struct kmm_page *page, enum node_stat_item item,
			long delta)
{
	mod_node_page_state(page_pgdat(m, page), item, delta);
}

/*
 * A VM_LOCKED VMA maps @page, or stops mapping it: reclaim/ keeps such pages
 * off the lists it scans (PG_mlocked, reclaim/mlock.c; Linux 6.1 does this
 * in page_add_*_rmap and page_remove_rmap too).
 */
static inline void rmap_mlock(struct kmm_machine *m, struct kmm_vma *vma, struct kmm_page *page)
{
	if (unlikely(vma->vm_flags & VM_LOCKED) && vm_state(m)->lru.mlock_page)
		vm_state(m)->lru.mlock_page(m, page);
}
static inline void rmap_munlock(struct kmm_machine *m, struct kmm_vma *vma, struct kmm_page *page)
{
	if (unlikely(vma->vm_flags & VM_LOCKED) && vm_state(m)->lru.munlock_page)
		vm_state(m)->lru.munlock_page(m, page);
}

/* One more PTE maps @page; count it in @item if it is the first. */
static int rmap_add(struct kmm_machine *m, struct kmm_page *page, pte_t *ptep,
		    enum node_stat_item item, struct kmm_pte_chain **pcp)
{
	if (rmap_ptechain(m)) {
		int err = pte_chain_add(m, page, ptep, pcp);
		if (unlikely(err))
			return err;
	}
	if (atomic_inc_and_test(&page->_mapcount))
		mapped_stat(m, page, item, 1);
	return 0;
}

int page_add_new_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			   pte_t *ptep)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	struct kmm_anon_vma *av = READ_ONCE(vma->anon_vma);
	VM_BUG_ON(!av);
	/* A new page is mapped once: the chain is the direct pointer, no block, nothing fails. */
	if (rmap_ptechain(m))
		pte_chain_add_new(page, ptep);
	/*
	 * A page fresh from the allocator is ours alone: a plain write of its
	 * flags is safe. A swap-cache page (swap-in, swapoff) has the bit
	 * already and is on the LRU, where reclaim flips PG_lru atomically
	 * meanwhile: it must not see a plain read-modify-write of its flags.
	 */
	if (!PageSwapBacked(page))
		__SetPageSwapBacked(page);
	atomic_set(&page->_mapcount, 0);
	page->index = linear_page_index(vma, address);
	WRITE_ONCE(page->mapping, (struct kmm_address_space *)((uintptr_t)av + PAGE_MAPPING_ANON));
	mapped_stat(m, page, NR_ANON_MAPPED, 1);
	rmap_mlock(m, vma, page);
	return 0;
}

int page_add_anon_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep, struct kmm_pte_chain **pcp)
{
	(void)address;
	struct kmm_machine *m = vma->vm_mm->machine;
	int err = rmap_add(m, page, ptep, NR_ANON_MAPPED, pcp);
	if (!err)
		rmap_mlock(m, vma, page);
	return err;
}

int page_add_file_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		       pte_t *ptep, struct kmm_pte_chain **pcp)
{
	(void)address;
	struct kmm_machine *m = vma->vm_mm->machine;
	int err = rmap_add(m, page, ptep, NR_FILE_MAPPED, pcp);
	if (!err)
		rmap_mlock(m, vma, page);
	return err;
}

int page_dup_rmap(struct kmm_page *page, struct kmm_vma *dst_vma, unsigned long address,
		  pte_t *ptep, struct kmm_pte_chain **pcp)
{
	(void)address;
	struct kmm_machine *m = dst_vma->vm_mm->machine;
	/* fork: the page is mapped already, so this is never its first mapping. */
	if (rmap_ptechain(m)) {
		int err = pte_chain_add(m, page, ptep, pcp);
		if (unlikely(err))
			return err;
	}
	atomic_inc(&page->_mapcount);
	return 0;
}

void page_remove_rmap(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep)
{
	(void)address;
	struct kmm_machine *m = vma->vm_mm->machine;
	if (rmap_ptechain(m))
		pte_chain_remove(m, page, ptep);
	rmap_munlock(m, vma, page);
	if (!atomic_add_negative(-1, &page->_mapcount))
		return;
	mapped_stat(m, page, PageAnon(page) ? NR_ANON_MAPPED : NR_FILE_MAPPED, -1);
}

void page_move_anon_rmap(struct kmm_page *page, struct kmm_vma *vma)
{
	struct kmm_anon_vma *av = vma->anon_vma;
	if (rmap_ptechain(vma->vm_mm->machine) || page_anon_vma(page) == av)
		return;
	/*
	 * Linux holds the page lock here, against a walker between reading
	 * page->mapping and locking. In kmm a walker holds a page reference
	 * and the caller saw the count at 1 under the PTE lock; a walker that
	 * takes its reference now may read either anon_vma: both are alive
	 * (@vma links the old one) and both lists hold @vma.
	 */
	WRITE_ONCE(page->mapping, (struct kmm_address_space *)((uintptr_t)av + PAGE_MAPPING_ANON));
}

void page_move_rmap(struct kmm_page *page, pte_t *old_ptep, struct kmm_vma *new_vma,
		    unsigned long new_address, pte_t *new_ptep)
{
	(void)new_address;
	/* objrmap: the page keeps its index and anon_vma; new_vma's pgoff says where it is. */
	if (rmap_ptechain(new_vma->vm_mm->machine))
		pte_chain_move(page, old_ptep, new_ptep);
}

/* --- Walking ------------------------------------------------------------------------------ */

pte_t *page_check_address(struct kmm_page *page, struct kmm_mm *mm, unsigned long address,
			  spinlock_t **ptlp)
{
	struct kmm_machine *m = mm->machine;
	pmd_t *pmdp = pmd_lookup(mm, address);
	if (!pmdp)
		return NULL;
	pmd_t pmd = entry_read_acquire(pmdp);
	if (!pmd_present(pmd))
		return NULL;
	pte_t *ptep = entry_table(m, pmd) + pte_index(address);
	/* Cheap unlocked look first: most VMAs of a big anon_vma do not map this page. */
	pte_t pte = entry_read(ptep);
	if (!pte_present(pte) || pte_pfn(pte) != page_to_pfn(m, page))
		return NULL;
	spinlock_t *ptl = pte_lockptr(m, pmd);
	spin_lock(ptl);
	pte = entry_read(ptep);
	if (!pte_present(pte) || pte_special(pte) || pte_pfn(pte) != page_to_pfn(m, page)) {
		spin_unlock(ptl);
		return NULL;
	}
	*ptlp = ptl;
	return ptep;
}

bool rmap_walk_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		   struct rmap_walk_control *rwc)
{
	spinlock_t *ptl;
	rwc->visited++;
	pte_t *ptep = page_check_address(page, vma->vm_mm, address, &ptl);
	if (!ptep)
		return true;
	bool more = rwc->rmap_one(page, vma, address, ptep, rwc->arg);
	spin_unlock(ptl);
	if (more && rwc->done && rwc->done(page))
		more = false;
	return more;
}

void rmap_walk(struct kmm_machine *m, struct kmm_page *page, struct rmap_walk_control *rwc)
{
	if (!page_mapped(page))
		return;
	if (rmap_ptechain(m))
		pte_chain_walk(m, page, rwc);
	else if (PageAnon(page))
		rmap_walk_anon(m, page, rwc);
	else
		rmap_walk_file(page, rwc);
}

/* --- page_referenced ------------------------------------------------------------------------ */

struct page_referenced_arg {
	int mapcount; /* mappings not yet seen: the walk stops at 0 */
	int referenced;
	unsigned long vm_flags;
};

/* Test and clear the accessed bit without dirtying the line when it is clear. */
static bool ptep_test_and_clear_young(pte_t *ptep)
{
	if (!pte_young(entry_read(ptep)))
		return false;
	return __atomic_fetch_and(ptep, ~_PAGE_ACCESSED, __ATOMIC_RELAXED) & _PAGE_ACCESSED;
}

static bool page_referenced_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
				pte_t *ptep, void *arg)
{
	(void)address;
	struct page_referenced_arg *pra = arg;
	if (vma->vm_flags & VM_LOCKED) {
		/*
		 * Reclaim leaves mlocked pages alone: the page goes to the
		 * unevictable list and its locked PTE is not asked. Linux
		 * (folio_referenced_one) ends the walk here; kmm goes on with the
		 * other mappings, so that which accessed bits a walk clears (and
		 * the count and flags it returns) does not depend on the order it
		 * meets the mappings in: pte chains and anon_vma lists order them
		 * differently, and the two designs must decide alike.
		 */
		rmap_mlock(vma->vm_mm->machine, vma, page);
		pra->vm_flags |= VM_LOCKED;
		return --pra->mapcount > 0;
	}
	/*
	 * The bit is cleared either way, but a sequential reader's use is not
	 * counted: it will not come back soon (Linux folio_referenced_one).
	 */
	if (ptep_test_and_clear_young(ptep) && !(vma->vm_flags & VM_SEQ_READ)) {
		pra->referenced++;
		pra->vm_flags |= vma->vm_flags;
	}
	return --pra->mapcount > 0;
}

int page_referenced(struct kmm_machine *m, struct kmm_page *page, int is_locked,
		    unsigned long *vm_flags)
{
	*vm_flags = 0;
	if (!page_mapped(page) || !page->mapping)
		return 0;
	bool we_locked = false;
	/* A file page must stay in its mapping while i_mmap is searched. */
	if (!is_locked && !PageAnon(page)) {
		if (!trylock_page(page))
			return 1;
		we_locked = true;
	}
	struct page_referenced_arg pra = {.mapcount = page_mapcount(page)};
	struct rmap_walk_control rwc = {.arg = &pra, .rmap_one = page_referenced_one};
	rmap_walk(m, page, &rwc);
	*vm_flags = pra.vm_flags;
	if (we_locked)
		unlock_page(page);
	/* A mapping skipped because its lock was busy counts as a use (Linux: ret = 1 on contention). */
	if (rwc.contended && !pra.referenced)
		pra.referenced = 1;
	return pra.referenced;
}

/* --- try_to_unmap --------------------------------------------------------------------------- */

struct ttu_arg {
	enum ttu_flags flags;
	bool failed;
};

/*
 * A lazily freed page (MADV_FREE, no longer swap-backed) is dropped, its
 * PTE left empty, so the next access finds a zero page, unless someone
 * wrote it since (a dirty PTE or PG_dirty) or holds it besides its
 * mappings and the caller: then it keeps its data, becomes swap-backed
 * again and stays mapped (Linux try_to_unmap_one's MADV_FREE case).
 */
static bool try_to_unmap_lazyfree(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
				  pte_t *ptep, struct ttu_arg *ta)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	pte_t pteval = __atomic_exchange_n(ptep, 0, __ATOMIC_ACQ_REL);
	flush_tlb_page(vma, address);
	if (pte_dirty(pteval))
		set_page_dirty(page);
	smp_mb(); /* the PTE is gone before the counts are read */
	int refs = page_ref_count(page), maps = page_mapcount(page);
	if (refs != 1 + maps || PageDirty(page)) {
		entry_write(ptep, pteval);
		SetPageSwapBacked(page);
		ta->failed = true;
		return false;
	}
	add_mm_counter(mm, MM_ANONPAGES, -1);
	page_remove_rmap(page, vma, address, ptep);
	vm_put_page(m, page); /* the reference the PTE held */
	return true;
}

static bool try_to_unmap_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			     pte_t *ptep, void *arg)
{
	struct ttu_arg *ta = arg;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	struct vm_state *vm = vm_state(m);
	swp_entry_t entry = {0};

	if ((vma->vm_flags & VM_LOCKED) && !(ta->flags & TTU_IGNORE_MLOCK)) {
		/*
		 * Cull it: reclaim will not meet it again. The locked PTE stays;
		 * Linux ends the walk here too, leaving the mappings it had not
		 * reached yet, but which those are depends on the walk's order
		 * (chain order against anon_vma order), so kmm unmaps every other
		 * mapping all the same: the same PTEs go on both designs.
		 */
		rmap_mlock(m, vma, page);
		ta->failed = true;
		return true;
	}
	if (PageAnon(page) && !PageSwapBacked(page))
		return try_to_unmap_lazyfree(page, vma, address, ptep, ta);
	if (PageAnon(page)) {
		/* The caller put the page in the swap cache: that slot replaces the page. */
		if (!PageSwapCache(page))
			goto fail;
		entry.val = page->private;
		if (vm->swap.swap_duplicate && vm->swap.swap_duplicate(m, entry))
			goto fail;
	}
	pte_t pteval = __atomic_exchange_n(ptep, 0, __ATOMIC_ACQ_REL);
	/* No TLB may keep the page once its PTE is gone (Linux ptep_clear_flush). */
	flush_tlb_page(vma, address);
	if (pte_dirty(pteval))
		set_page_dirty(page);
	if (PageAnon(page)) {
		entry_write(ptep, swp_entry_to_pte(entry));
		add_mm_counter(mm, MM_ANONPAGES, -1);
		add_mm_counter(mm, MM_SWAPENTS, 1);
	} else {
		add_mm_counter(mm, mm_counter(page), -1);
	}
	page_remove_rmap(page, vma, address, ptep);
	vm_put_page(m, page); /* the reference the PTE held */
	return true;
fail:
	ta->failed = true;
	return false;
}

static bool page_not_mapped(struct kmm_page *page)
{
	return !page_mapped(page);
}

bool try_to_unmap(struct kmm_machine *m, struct kmm_page *page, enum ttu_flags flags)
{
	struct ttu_arg ta = {.flags = flags};
	struct rmap_walk_control rwc = {
	    .arg = &ta, .rmap_one = try_to_unmap_one, .done = page_not_mapped};
	rmap_walk(m, page, &rwc);
	return !page_mapped(page);
}
