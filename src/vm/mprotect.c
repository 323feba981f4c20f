/*
 * mprotect: change the permissions of a range, splitting and merging VMAs,
 * and rewrite the PTEs that are already there.
 *
 * Linux: mm/mprotect.c (do_mprotect_pkey, mprotect_fixup,
 * change_protection, change_pte_range, can_change_pte_writable).
 *
 * Each PTE of the range is cleared with an atomic exchange (so a dirty or
 * accessed bit the MMU sets meanwhile is not lost), given the new
 * protection and written back; then the TLBs of the range are flushed,
 * because taking a permission away must reach every CPU. A private page
 * that this mapping alone holds and has already written is made writable
 * at once when write permission comes back, to spare a fault that would
 * only reuse it (Linux 6.1's MM_CP_TRY_CHANGE_WRITABLE).
 *
 * Locks: mmap_lock for writing; each PTE table's lock while its entries
 * change.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

static bool can_change_pte_writable(struct kmm_vma *vma, unsigned long addr, pte_t pte)
{
	if (!(vma->vm_flags & VM_WRITE) || !pte_dirty(pte) || pte_special(pte))
		return false;
	if (vma->vm_flags & VM_SHARED)
		return !vma_wants_writenotify(vma) || pte_dirty(pte);
	struct kmm_page *page = vm_normal_page(vma, addr, pte);
	return page && PageAnon(page) && page_ref_count(page) == 1 && page_mapcount(page) == 1;
}

static unsigned long change_pte_range(struct kmm_vma *vma, pmd_t *pmd, unsigned long addr,
				      unsigned long end, pgprot_t newprot)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
	pte_t *pte = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
	unsigned long pages = 0;
	spin_lock(ptl);
	do {
		pte_t old = entry_read(pte);
		if (!pte_present(old))
			continue;
		old = __atomic_exchange_n(pte, 0, __ATOMIC_ACQ_REL);
		pte_t ptent = pte_modify(old, newprot);
		if (pte_special(old))
			ptent &= ~_PAGE_RW; /* the zero page is never writable */
		else if (!pte_write(ptent) && can_change_pte_writable(vma, addr, ptent))
			ptent = pte_mkwrite(ptent);
		entry_write(pte, ptent);
		if (ptent != old)
			pages++;
	} while (pte++, addr += PAGE_SIZE, addr != end);
	spin_unlock(ptl);
	return pages;
}

unsigned long change_protection(struct kmm_vma *vma, unsigned long start, unsigned long end,
				pgprot_t newprot)
{
	struct kmm_mm *mm = vma->vm_mm;
	unsigned long pages = 0;
	for (unsigned long addr = start; addr < end;) {
		unsigned long next = pmd_addr_end(addr, end);
		pmd_t *pmd = pmd_lookup(mm, addr);
		if (pmd && entry_read(pmd))
			pages += change_pte_range(vma, pmd, addr, next, newprot);
		addr = next;
	}
	if (pages)
		flush_tlb_mm_range(mm, start, end);
	return pages;
}

static int mprotect_fixup(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma **pprev,
			  unsigned long start, unsigned long end, unsigned long newflags)
{
	unsigned long oldflags = vma->vm_flags;
	long nrpages = (long)((end - start) >> PAGE_SHIFT);
	int err = 0;
	if (newflags == oldflags) {
		*pprev = vma;
		return 0;
	}
	vma = vma_modify_flags(mm, *pprev, vma, start, end, newflags, &err);
	if (!vma)
		return err;
	*pprev = vma;
	vma_set_page_prot(vma);
	change_protection(vma, start, end, vma->vm_page_prot);
	vm_stat_account(mm, oldflags, -nrpages);
	vm_stat_account(mm, newflags, nrpages);
	return 0;
}

int kmm_mprotect(struct kmm_task *t, unsigned long start, unsigned long len, int prot)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if (!len)
		return 0;
	len = KMM_ALIGN(len, PAGE_SIZE);
	unsigned long end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~(KMM_PROT_READ | KMM_PROT_WRITE | KMM_PROT_EXEC))
		return -EINVAL;

	struct kmm_mm *mm = t->mm;
	unsigned long vm_prot = (prot & KMM_PROT_READ ? VM_READ : 0) |
				(prot & KMM_PROT_WRITE ? VM_WRITE : 0) |
				(prot & KMM_PROT_EXEC ? VM_EXEC : 0);
	mmap_write_lock(mm);
	struct kmm_vma *vma = find_vma(mm, start), *prev;
	err = -ENOMEM;
	if (!vma || vma->vm_start > start)
		goto out;
	prev = start > vma->vm_start ? vma : vma->vm_prev;
	for (unsigned long nstart = start;;) {
		unsigned long newflags = vm_prot | (vma->vm_flags & ~VM_ACCESS_FLAGS);
		/* Asking for a permission the mapping may never have (VM_MAY*). */
		if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
			err = -EACCES;
			goto out;
		}
		unsigned long tmp = vma->vm_end < end ? vma->vm_end : end;
		err = mprotect_fixup(mm, vma, &prev, nstart, tmp, newflags);
		if (err)
			goto out;
		nstart = tmp;
		if (nstart < prev->vm_end)
			nstart = prev->vm_end; /* the fixup merged with the next VMA too */
		if (nstart >= end)
			break;
		vma = prev->vm_next;
		if (!vma || vma->vm_start != nstart) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = 0;
out:
	mmap_write_unlock(mm);
	return err;
}
