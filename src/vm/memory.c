/*
 * Page faults, unmapping, and copying page tables at fork.
 *
 * Linux: mm/memory.c (handle_mm_fault, handle_pte_fault,
 * do_anonymous_page, do_wp_page, wp_page_copy, wp_page_reuse, do_fault,
 * do_read_fault, do_cow_fault, do_shared_fault, do_fault_around,
 * finish_fault, zap_pte_range, unmap_vmas, zap_page_range,
 * copy_page_range, copy_present_pte), mm/gup.c (populate_vma_page_range,
 * __mm_populate).
 *
 * Faults, by the PTE they find:
 *  - none, anonymous VMA: a read maps the shared zero page read-only; a
 *    write allocates a zeroed page (demand-zero);
 *  - none, file VMA: the page cache supplies the page (filemap.c), mapped
 *    as is for reads and shared writes, copied to an anonymous page for a
 *    private write; read faults also map the cached pages around the fault;
 *  - present but read-only, write access: copy-on-write, or reuse the page
 *    when this mapping holds its only reference; in a shared mapping, mark
 *    the page dirty and make the PTE writable (write-notify);
 *  - a swap entry: swap/'s hook brings the page back.
 * New pages are prepared outside the PTE lock, then installed under it if
 * the PTE still holds what the fault saw; otherwise another CPU got there
 * first and the fault simply returns (the access retries). Under pte
 * chains so is the chain block a mapping of a page-cache page may need,
 * and fork's copy preallocates one too (pte_chain_prealloc, rmap.h).
 *
 * Locks: mmap_lock held (read) by every caller; a PTE table's split lock
 * around reading and setting its entries; the page-cache lock nested
 * inside it (set_page_dirty). The MMU sets accessed and dirty bits with a
 * compare-and-swap without the lock, so PTEs that may be live are cleared
 * with an atomic exchange and write-protected with an atomic AND.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

static inline void set_pte(pte_t *ptep, pte_t pte)
{
	entry_write(ptep, pte);
}
static inline pte_t ptep_get_and_clear(pte_t *ptep)
{
	return __atomic_exchange_n(ptep, 0, __ATOMIC_ACQ_REL);
}
static inline void ptep_set_wrprotect(pte_t *ptep)
{
	__atomic_fetch_and(ptep, ~_PAGE_RW, __ATOMIC_RELAXED);
}
static inline pte_t *pte_of(struct kmm_machine *m, pmd_t *pmd, unsigned long addr)
{
	return entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
}

struct kmm_page *vm_normal_page(struct kmm_vma *vma, unsigned long addr, pte_t pte)
{
	(void)addr;
	if (unlikely(pte_special(pte)))
		return NULL; /* the zero page: no refcount or mapcount per mapping */
	return pfn_to_page(vma->vm_mm->machine, pte_pfn(pte));
}

static void add_mm_rss_vec(struct kmm_mm *mm, const long *rss)
{
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		if (rss[i])
			add_mm_counter(mm, i, rss[i]);
}

/* --- Unmapping ------------------------------------------------------------------------- */

static void zap_pte_range(struct mmu_gather *tlb, struct kmm_vma *vma, pmd_t *pmd,
			  unsigned long addr, unsigned long end, long *rss)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	struct vm_state *vm = vm_state(m);
	spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
	pte_t *pte = pte_of(m, pmd, addr);
	spin_lock(ptl);
	do {
		pte_t ptent = entry_read(pte);
		if (pte_none(ptent))
			continue;
		if (pte_present(ptent)) {
			struct kmm_page *page = vm_normal_page(vma, addr, ptent);
			/* At exit no CPU runs this mm: a plain clear is enough (ptep_get_and_clear_full). */
			if (tlb->fullmm)
				entry_write(pte, 0);
			else
				ptent = ptep_get_and_clear(pte);
			tlb_track_range(tlb, addr, addr + PAGE_SIZE);
			if (!page)
				continue;
			if (!PageAnon(page)) {
				if (pte_dirty(ptent))
					set_page_dirty(page);
				if (pte_young(ptent) && !(vma->vm_flags & VM_SEQ_READ))
					mark_page_accessed(m, page);
			}
			rss[mm_counter(page)]--;
			page_remove_rmap(page, vma, addr, pte);
			tlb_remove_page(tlb, page, addr);
			continue;
		}
		/* A swap entry: the slot loses this reference. */
		entry_write(pte, 0);
		rss[MM_SWAPENTS]--;
		if (vm->swap.free_swap_and_cache)
			vm->swap.free_swap_and_cache(m, pte_to_swp_entry(ptent));
	} while (pte++, addr += PAGE_SIZE, addr != end);
	spin_unlock(ptl);
}

static void zap_pmd_range(struct mmu_gather *tlb, struct kmm_vma *vma, pud_t *pud,
			  unsigned long addr, unsigned long end, long *rss)
{
	pmd_t *pmd = entry_table(vma->vm_mm->machine, entry_read(pud)) + pmd_index(addr);
	do {
		unsigned long next = pmd_addr_end(addr, end);
		if (entry_read(pmd))
			zap_pte_range(tlb, vma, pmd, addr, next, rss);
		addr = next;
	} while (pmd++, addr != end);
}

static void zap_pud_range(struct mmu_gather *tlb, struct kmm_vma *vma, pgd_t *pgd,
			  unsigned long addr, unsigned long end, long *rss)
{
	pud_t *pud = entry_table(vma->vm_mm->machine, entry_read(pgd)) + pud_index(addr);
	do {
		unsigned long next = pud_addr_end(addr, end);
		if (entry_read(pud))
			zap_pmd_range(tlb, vma, pud, addr, next, rss);
		addr = next;
	} while (pud++, addr != end);
}

static void unmap_single_vma(struct mmu_gather *tlb, struct kmm_vma *vma, unsigned long start,
			     unsigned long end)
{
	struct kmm_mm *mm = vma->vm_mm;
	long rss[NR_MM_COUNTERS] = {0};
	unsigned long addr = start > vma->vm_start ? start : vma->vm_start;
	if (end > vma->vm_end)
		end = vma->vm_end;
	if (addr >= end)
		return;
	pgd_t *pgd = mm->pgd + pgd_index(addr);
	do {
		unsigned long next = pgd_addr_end(addr, end);
		if (entry_read(pgd))
			zap_pud_range(tlb, vma, pgd, addr, next, rss);
		addr = next;
	} while (pgd++, addr != end);
	add_mm_rss_vec(mm, rss);
}

void unmap_vmas(struct mmu_gather *tlb, struct kmm_vma *vma, unsigned long start, unsigned long end)
{
	for (; vma && vma->vm_start < end; vma = vma->vm_next)
		unmap_single_vma(tlb, vma, start, end);
}

void zap_page_range(struct kmm_vma *vma, unsigned long start, unsigned long size)
{
	struct mmu_gather tlb;
	tlb_gather_mmu(&tlb, vma->vm_mm, false);
	unmap_single_vma(&tlb, vma, start, start + size);
	tlb_finish_mmu(&tlb);
}

/* --- Anonymous faults --------------------------------------------------------------------- */

static struct kmm_page *alloc_user_page(struct kmm_machine *m, bool zero)
{
	return kmm_alloc_pages(m, GFP_HIGHUSER_MOVABLE | (zero ? __GFP_ZERO : 0), 0);
}

static unsigned int do_anonymous_page(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;

	if (!(vmf->flags & FAULT_FLAG_WRITE)) {
		/* A read of never-written memory: the zero page, read-only. */
		pte_t entry =
		    pte_mkspecial(pfn_pte(vm_state(m)->zero_pfn, vma->vm_page_prot)) & ~_PAGE_RW;
		spin_lock(vmf->ptl);
		if (pte_none(entry_read(vmf->pte)))
			set_pte(vmf->pte, entry);
		spin_unlock(vmf->ptl);
		return 0;
	}
	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	struct kmm_page *page = alloc_user_page(m, true);
	if (!page)
		return VM_FAULT_OOM;
	__SetPageUptodate(page);
	pte_t entry = pfn_pte(page_to_pfn(m, page), vma->vm_page_prot);
	if (vma->vm_flags & VM_WRITE)
		entry = pte_mkwrite(pte_mkdirty(entry));

	spin_lock(vmf->ptl);
	if (!pte_none(entry_read(vmf->pte)))
		goto release;
	if (page_add_new_anon_rmap(page, vma, vmf->address, vmf->pte)) {
		spin_unlock(vmf->ptl);
		kmm_free_pages(m, page, 0);
		return VM_FAULT_OOM;
	}
	add_mm_counter(mm, MM_ANONPAGES, 1);
	lru_cache_add(m, page);
	set_pte(vmf->pte, entry);
	spin_unlock(vmf->ptl);
	return 0;
release:
	spin_unlock(vmf->ptl);
	kmm_free_pages(m, page, 0);
	return 0;
}

/* Make the PTE writable in place: the page stays (wp_page_reuse). */
static unsigned int wp_page_reuse(struct vm_fault *vmf)
{
	pte_t entry = pte_mkyoung(pte_mkdirty(pte_mkwrite(vmf->orig_pte)));
	/*
	 * Granting write permission needs no shootdown: no TLB holds a
	 * writable entry for a read-only PTE; each refills on its next write.
	 */
	set_pte(vmf->pte, entry);
	spin_unlock(vmf->ptl);
	return 0;
}

/*
 * Give this mapping its own copy of the page (or a zeroed page in place of
 * the zero page). Entered with the PTE lock held; drops it.
 */
static unsigned int wp_page_copy(struct vm_fault *vmf, struct kmm_page *old_page)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	struct kmm_page *new_page;
	bool replaced = false;

	if (old_page)
		kmm_get_page(old_page);
	spin_unlock(vmf->ptl);
	if (anon_vma_prepare(vma))
		goto oom;
	new_page = alloc_user_page(m, !old_page);
	if (!new_page)
		goto oom;
	if (old_page)
		memcpy(page_address(m, new_page), page_address(m, old_page), PAGE_SIZE);
	__SetPageUptodate(new_page);

	spin_lock(vmf->ptl);
	if (entry_read(vmf->pte) == vmf->orig_pte) {
		if (page_add_new_anon_rmap(new_page, vma, vmf->address, vmf->pte)) {
			spin_unlock(vmf->ptl);
			kmm_free_pages(m, new_page, 0);
			goto oom;
		}
		if (old_page && !PageAnon(old_page))
			add_mm_counter(mm, mm_counter(old_page), -1);
		if (!old_page || !PageAnon(old_page))
			add_mm_counter(mm, MM_ANONPAGES, 1);
		pte_t entry =
		    pte_mkwrite(pte_mkdirty(pfn_pte(page_to_pfn(m, new_page), vma->vm_page_prot)));
		/* Every TLB must forget the old page before the PTE names the new one. */
		ptep_get_and_clear(vmf->pte);
		flush_tlb_page(vma, vmf->address);
		lru_cache_add(m, new_page);
		set_pte(vmf->pte, entry);
		if (old_page)
			page_remove_rmap(old_page, vma, vmf->address, vmf->pte);
		count_vm_event(m, KMM_COW_COPY);
		new_page = NULL;
		replaced = true;
	}
	spin_unlock(vmf->ptl);
	if (new_page)
		kmm_free_pages(m, new_page, 0);
	if (old_page) {
		if (replaced)
			vm_put_page(m, old_page); /* the reference the old PTE held */
		vm_put_page(m, old_page);
	}
	return 0;
oom:
	if (old_page)
		vm_put_page(m, old_page);
	return VM_FAULT_OOM;
}

/* A write to a present read-only PTE (do_wp_page). Entered with the PTE lock held. */
static unsigned int do_wp_page(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_machine *m = vma->vm_mm->machine;
	struct kmm_page *page = vm_normal_page(vma, vmf->address, vmf->orig_pte);

	if (vma->vm_flags & VM_SHARED) {
		/* Write-notify on a shared file page: it becomes dirty, the PTE writable. */
		if (page)
			set_page_dirty(page);
		return wp_page_reuse(vmf);
	}
	/* A new page still in this CPU's LRU batch holds a reference of the batch's. */
	if (page && PageAnon(page) && !PageLRU(page) && page_ref_count(page) == 2)
		vm_lru_add_drain(m);
	if (page && PageAnon(page) && !PageSwapCache(page) && page_ref_count(page) == 1) {
		/* Only this PTE holds the page: no one else can see a write to it. */
		page_move_anon_rmap(page, vma);
		count_vm_event(m, PGREUSE);
		return wp_page_reuse(vmf);
	}
	return wp_page_copy(vmf, page);
}

/* --- File faults -------------------------------------------------------------------------- */

/*
 * Map vmf->cow_page (a private copy) or vmf->page (a page-cache page) at
 * the fault address. Returns 0 when mapped (the page's reference now
 * belongs to the PTE), VM_FAULT_NOPAGE when another CPU mapped something
 * first, or VM_FAULT_OOM (finish_fault).
 */
static unsigned int finish_fault(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	struct kmm_page *page = vmf->cow_page ? vmf->cow_page : vmf->page;
	pte_t entry = pfn_pte(page_to_pfn(m, page), vma->vm_page_prot);
	if (write)
		entry = pte_mkwrite(pte_mkdirty(entry));
	/*
	 * A page-cache page may be mapped elsewhere already: its pte chain may
	 * grow (do_fault frees the block if unused).
	 */
	if (!vmf->cow_page && pte_chain_prealloc(m, &vmf->pte_chain))
		return VM_FAULT_OOM;

	spin_lock(vmf->ptl);
	if (!pte_none(entry_read(vmf->pte))) {
		spin_unlock(vmf->ptl);
		return VM_FAULT_NOPAGE;
	}
	if (vmf->cow_page) {
		if (page_add_new_anon_rmap(page, vma, vmf->address, vmf->pte))
			goto oom;
		add_mm_counter(mm, MM_ANONPAGES, 1);
		lru_cache_add(m, page);
	} else {
		if (page_add_file_rmap(page, vma, vmf->address, vmf->pte, &vmf->pte_chain))
			goto oom;
		add_mm_counter(mm, mm_counter(page), 1);
	}
	set_pte(vmf->pte, entry);
	spin_unlock(vmf->ptl);
	return 0;
oom:
	spin_unlock(vmf->ptl);
	return VM_FAULT_OOM;
}

/*
 * Map the cached pages around a read fault in one go (do_fault_around):
 * a window of fault_around_pages aligned to its size, inside the VMA and
 * the PTE table of the fault. Returns VM_FAULT_NOPAGE if the faulting page
 * itself got mapped.
 */
static unsigned int do_fault_around(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	unsigned long nr = vm_state(vma->vm_mm->machine)->fault_around_pages;
	unsigned long start = vmf->address & ~(nr * PAGE_SIZE - 1);
	if (start < vma->vm_start)
		start = vma->vm_start;
	unsigned long end = start + nr * PAGE_SIZE;
	unsigned long pmd_end = (vmf->address & PMD_MASK) + PMD_SIZE;
	if (start < (vmf->address & PMD_MASK))
		start = vmf->address & PMD_MASK;
	if (end > vma->vm_end)
		end = vma->vm_end;
	if (end > pmd_end)
		end = pmd_end;
	filemap_map_pages(vmf, start, end);
	return pte_none(entry_read(vmf->pte)) ? 0 : VM_FAULT_NOPAGE;
}

static unsigned int do_read_fault(struct vm_fault *vmf)
{
	unsigned int ret;
	if (vm_state(vmf->vma->vm_mm->machine)->fault_around_pages > 1) {
		ret = do_fault_around(vmf);
		if (ret)
			return 0;
	}
	ret = filemap_fault(vmf);
	if (ret & VM_FAULT_ERROR)
		return ret;
	unsigned int fin = finish_fault(vmf);
	unlock_page(vmf->page);
	if (fin)
		vm_put_page(vmf->vma->vm_mm->machine, vmf->page);
	return (ret & VM_FAULT_MAJOR) | (fin & VM_FAULT_ERROR);
}

static unsigned int do_cow_fault(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_machine *m = vma->vm_mm->machine;
	if (anon_vma_prepare(vma))
		return VM_FAULT_OOM;
	struct kmm_page *cow = alloc_user_page(m, false);
	if (!cow)
		return VM_FAULT_OOM;
	unsigned int ret = filemap_fault(vmf);
	if (ret & VM_FAULT_ERROR) {
		kmm_free_pages(m, cow, 0);
		return ret;
	}
	memcpy(page_address(m, cow), page_address(m, vmf->page), PAGE_SIZE);
	__SetPageUptodate(cow);
	vmf->cow_page = cow;
	unsigned int fin = finish_fault(vmf);
	unlock_page(vmf->page);
	vm_put_page(m, vmf->page);
	if (fin)
		kmm_free_pages(m, cow, 0);
	return (ret & VM_FAULT_MAJOR) | (fin & VM_FAULT_ERROR);
}

static unsigned int do_shared_fault(struct vm_fault *vmf)
{
	struct kmm_machine *m = vmf->vma->vm_mm->machine;
	unsigned int ret = filemap_fault(vmf);
	if (ret & VM_FAULT_ERROR)
		return ret;
	unsigned int fin = finish_fault(vmf);
	if (!fin)
		set_page_dirty(vmf->page); /* a write through a shared mapping dirties the file */
	unlock_page(vmf->page);
	if (fin)
		vm_put_page(m, vmf->page);
	return (ret & VM_FAULT_MAJOR) | (fin & VM_FAULT_ERROR);
}

static unsigned int do_fault(struct vm_fault *vmf)
{
	unsigned int ret;
	if (!(vmf->flags & FAULT_FLAG_WRITE))
		ret = do_read_fault(vmf);
	else if (!(vmf->vma->vm_flags & VM_SHARED))
		ret = do_cow_fault(vmf);
	else
		ret = do_shared_fault(vmf);
	/* The pte_chain block fault-around or finish_fault preallocated and did not use. */
	pte_chain_release(vmf->vma->vm_mm->machine, &vmf->pte_chain);
	return ret;
}

/* --- The dispatcher -------------------------------------------------------------------------- */

static unsigned int handle_pte_fault(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct vm_state *vm = vm_state(vma->vm_mm->machine);
	pte_t entry = entry_read(vmf->pte);

	if (pte_none(entry))
		return vma_is_anonymous(vma) ? do_anonymous_page(vmf) : do_fault(vmf);
	if (!pte_present(entry)) {
		vmf->orig_pte = entry;
		if (vm->swap.do_swap_page)
			return vm->swap.do_swap_page(vmf);
		return VM_FAULT_SIGBUS;
	}
	spin_lock(vmf->ptl);
	if (entry_read(vmf->pte) != entry) {
		spin_unlock(vmf->ptl); /* changed under us: let the access retry */
		return 0;
	}
	vmf->orig_pte = entry;
	if (vmf->flags & FAULT_FLAG_WRITE) {
		if (!pte_write(entry))
			return do_wp_page(vmf);
		entry = pte_mkdirty(entry);
	}
	entry = pte_mkyoung(entry);
	if (entry != vmf->orig_pte)
		set_pte(vmf->pte, entry);
	spin_unlock(vmf->ptl);
	return 0;
}

unsigned int handle_mm_fault(struct kmm_vma *vma, unsigned long address, unsigned int flags)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	struct vm_fault vmf = {
	    .vma = vma,
	    .address = address & PAGE_MASK,
	    .flags = flags,
	    .pgoff = linear_page_index(vma, address & PAGE_MASK),
	};
	count_vm_event(m, PGFAULT);
	vmf.pte = pte_alloc_map(mm, vmf.address, &vmf.pmd);
	if (!vmf.pte)
		return VM_FAULT_OOM;
	vmf.ptl = pte_lockptr(m, entry_read(vmf.pmd));
	unsigned int ret = handle_pte_fault(&vmf);
	if ((ret & VM_FAULT_SIGBUS) && vmf.sigbus_reason) {
		struct vm_cpu *cur = this_vm_cpu(m);
		if (cur)
			cur->sigbus_reason = vmf.sigbus_reason;
	}

	/* Account the fault to the task running here (mm_account_fault). */
	struct vm_cpu *vc = this_vm_cpu(m);
	struct kmm_task *t = vc ? vc->curr : NULL;
	if (t && t->mm == mm && !(ret & VM_FAULT_ERROR)) {
		if (ret & VM_FAULT_MAJOR)
			t->maj_flt++;
		else
			t->min_flt++;
	}
	return ret;
}

/* --- fork: copying page tables ------------------------------------------------------------- */

static int copy_pte_range(struct kmm_vma *dst_vma, struct kmm_vma *src_vma, pmd_t *dst_pmd,
			  pmd_t *src_pmd, unsigned long addr, unsigned long end)
{
	struct kmm_mm *dst_mm = dst_vma->vm_mm;
	struct kmm_machine *m = dst_mm->machine;
	struct vm_state *vm = vm_state(m);
	long rss[NR_MM_COUNTERS] = {0};
	int err = 0;
	bool cow = is_cow_mapping(src_vma->vm_flags);
	bool shared = src_vma->vm_flags & VM_SHARED;
	/*
	 * The forking task is the only user of its mm: no MMU can set an
	 * accessed or dirty bit in these PTEs meanwhile (the task is here, in
	 * fork), and every kernel path that changes them holds the PTE lock we
	 * hold. So a plain store can take write permission away, saving an
	 * atomic operation per page (Linux always pays it: its MMU is hardware).
	 */
	bool exclusive = atomic_read(&src_vma->vm_mm->mm_users) == 1;
	spinlock_t *dst_ptl = pte_lockptr(m, entry_read(dst_pmd));
	spinlock_t *src_ptl = pte_lockptr(m, entry_read(src_pmd));
	pte_t *dst_pte = pte_of(m, dst_pmd, addr);
	pte_t *src_pte = pte_of(m, src_pmd, addr);
	/*
	 * Under pte chains every copied PTE may need a chain block: one is
	 * preallocated before the locks; once it is used up, page_dup_rmap
	 * gets the next without reclaim, or says -EAGAIN, and the PTE is
	 * copied again after a preallocation with the locks dropped (2.5.6x
	 * copy_page_range did the same).
	 */
	struct kmm_pte_chain *pc = NULL;
	if (pte_chain_prealloc(m, &pc))
		return -ENOMEM;

	spin_lock(dst_ptl);
	spin_lock(src_ptl);
	do {
again:;
		pte_t pte = entry_read(src_pte);
		if (pte_none(pte))
			continue;
		if (!pte_present(pte)) {
			if (vm->swap.swap_duplicate &&
			    vm->swap.swap_duplicate(m, pte_to_swp_entry(pte))) {
				err = -ENOMEM;
				break;
			}
			rss[MM_SWAPENTS]++;
			set_pte(dst_pte, pte);
			continue;
		}
		struct kmm_page *page = vm_normal_page(src_vma, addr, pte);
		if (page) {
			page_ref_inc(page);
			int rc = page_dup_rmap(page, dst_vma, addr, dst_pte, &pc);
			if (unlikely(rc)) {
				page_ref_add(page, -1);
				if (rc == -EAGAIN &&
				    !pte_chain_prealloc_relock(m, &pc, dst_ptl, src_ptl))
					goto again;
				err = -ENOMEM;
				break;
			}
			rss[mm_counter(page)]++;
		}
		/* Private writable: both sides lose write access and share until one writes. */
		if (cow && pte_write(pte)) {
			pte = pte_wrprotect(pte);
			if (exclusive)
				set_pte(src_pte, pte);
			else
				ptep_set_wrprotect(src_pte);
		}
		if (shared)
			pte =
			    pte_mkclean(pte); /* the parent keeps the dirty bit: nothing is lost */
		set_pte(dst_pte, pte_mkold(pte));
	} while (dst_pte++, src_pte++, addr += PAGE_SIZE, addr != end);
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	pte_chain_release(m, &pc);
	add_mm_rss_vec(dst_mm, rss);
	return err;
}

int copy_page_range(struct kmm_vma *dst_vma, struct kmm_vma *src_vma)
{
	/* Without anonymous pages the child can fault everything in again (vma_needs_copy). */
	if (!src_vma->anon_vma)
		return 0;
	struct kmm_mm *src_mm = src_vma->vm_mm, *dst_mm = dst_vma->vm_mm;
	unsigned long addr = src_vma->vm_start, end = src_vma->vm_end;
	do {
		unsigned long next = pmd_addr_end(addr, end);
		pmd_t *src_pmd = pmd_lookup(src_mm, addr);
		if (src_pmd && entry_read(src_pmd)) {
			pmd_t *dst_pmd;
			if (!pte_alloc_map(dst_mm, addr, &dst_pmd))
				return -ENOMEM;
			int err = copy_pte_range(dst_vma, src_vma, dst_pmd, src_pmd, addr, next);
			if (err)
				return err;
		}
		addr = next;
	} while (addr != end);
	return 0;
}

/* --- Populating ------------------------------------------------------------------------------- */

int populate_vma_range(struct kmm_vma *vma, unsigned long start, unsigned long end, bool write)
{
	struct kmm_mm *mm = vma->vm_mm;
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		pte_t *pte = pte_lookup(mm, addr);
		pte_t e = pte ? entry_read(pte) : 0;
		if (pte_hw_present(e) && (!write || pte_write(e)))
			continue;
		unsigned int ret =
		    handle_mm_fault(vma, addr, (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_REMOTE);
		if (ret & VM_FAULT_OOM)
			return -ENOMEM;
		if (ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV))
			return -EFAULT;
	}
	return 0;
}

/*
 * Fault in [start, end) of @mm (Linux __mm_populate): writable private
 * mappings with write faults so COW is broken now, the rest with read
 * faults; PROT_NONE mappings are skipped. Returns 0 or the first error.
 * Called with mmap_lock held for reading.
 */
long populate_range(struct kmm_mm *mm, unsigned long start, unsigned long end)
{
	for (struct kmm_vma *vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = vma->vm_next) {
		/* Locked on fault (mlock2's MLOCK_ONFAULT): nothing to bring in now. */
		if (!(vma->vm_flags & VM_ACCESS_FLAGS) || (vma->vm_flags & VM_LOCKONFAULT))
			continue;
		unsigned long s = start > vma->vm_start ? start : vma->vm_start;
		unsigned long e = end < vma->vm_end ? end : vma->vm_end;
		bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
		int err = populate_vma_range(vma, s, e, write);
		if (err)
			return err;
	}
	return 0;
}
