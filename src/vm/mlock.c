/*
 * mlock and munlock: keep a range resident.
 *
 * Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags, mlock_fixup,
 * mlock_vma_pages_range, mlock_pte_range, munlock), mm/gup.c
 * (__mm_populate). mlock sets VM_LOCKED on the VMAs of the range (splitting
 * and merging as mprotect does), counts the pages in locked_vm, and faults
 * every page in. MADV_DONTNEED refuses locked ranges, MS_INVALIDATE fails
 * on them, and fork does not pass VM_LOCKED on.
 *
 * Keeping locked pages off the reclaim lists (PG_mlocked, the unevictable
 * LRU, NR_MLOCK) belongs to reclaim/ (reclaim/mlock.c), through vm/'s LRU
 * hooks: rmap/ mlocks a page mapped in a VM_LOCKED VMA and munlocks it when
 * unmapped from one; here, changing the flags of a range walks the pages
 * already mapped in it, mlocking them, or munlocking them unless another
 * VM_LOCKED VMA still maps them (an rmap walk, in the hook). RLIMIT_MEMLOCK
 * is unlimited, as for root.
 *
 * Locks: mmap_lock for writing to change the flags and walk the pages
 * (then PG_locked of a page to munlock, or the PTE lock to mlock), then
 * for reading to populate.
 */
#include "vm.h"
#include <errno.h>

/*
 * The pages mapped in [start, end) of @vma follow its VM_LOCKED (Linux
 * mlock_vma_pages_range). Context: mmap_lock held for writing.
 */
static void mlock_vma_pages_range(struct kmm_vma *vma, unsigned long start, unsigned long end)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	struct vm_state *vm = vm_state(m);
	bool lock = vma->vm_flags & VM_LOCKED;
	if (!vm->lru.mlock_page || !vm->lru.munlock_vma_page)
		return;
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		pmd_t *pmd = pmd_lookup(mm, addr);
		if (!pmd || !entry_read_acquire(pmd)) {
			addr = pmd_addr_end(addr, end) - PAGE_SIZE;
			continue;
		}
		spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
		pte_t *ptep = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
		spin_lock(ptl);
		pte_t pte = entry_read(ptep);
		struct kmm_page *page = pte_present(pte) ? vm_normal_page(vma, addr, pte) : NULL;
		if (page && lock)
			vm->lru.mlock_page(m, page);
		if (page && !lock && PageMlocked(page))
			page_ref_inc(page);
		else
			page = NULL;
		spin_unlock(ptl);
		if (page) {
			/* The rmap walk of munlock takes the PTE locks itself. */
			lock_page(page);
			vm->lru.munlock_vma_page(m, page);
			unlock_page(page);
			vm_put_page(m, page);
		}
	}
}

int mlock_fixup(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma **prev, unsigned long start,
		unsigned long end, unsigned long newflags)
{
	unsigned long oldflags = vma->vm_flags;
	long nr_pages = (long)((end - start) >> PAGE_SHIFT);
	int err = 0;
	if (newflags == oldflags) {
		*prev = vma;
		return 0;
	}
	vma = vma_modify_flags(mm, *prev, vma, start, end, newflags, &err);
	if (!vma)
		return err;
	*prev = vma;
	if ((newflags ^ oldflags) & VM_LOCKED) {
		if (newflags & VM_LOCKED)
			mm->locked_vm += (unsigned long)nr_pages;
		else
			mm->locked_vm -= (unsigned long)nr_pages;
		mlock_vma_pages_range(vma, start, end);
	}
	return 0;
}

static int apply_vma_lock_flags(struct kmm_mm *mm, unsigned long start, unsigned long len,
				unsigned long flags)
{
	unsigned long end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	struct kmm_vma *prev, *vma = find_vma_prev(mm, start, &prev);
	if (!vma || vma->vm_start > start)
		return -ENOMEM;
	if (start > vma->vm_start)
		prev = vma;
	for (unsigned long nstart = start;;) {
		unsigned long newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | flags;
		unsigned long tmp = vma->vm_end < end ? vma->vm_end : end;
		int err = mlock_fixup(mm, vma, &prev, nstart, tmp, newflags);
		if (err)
			return err;
		nstart = tmp;
		if (nstart < prev->vm_end)
			nstart = prev->vm_end; /* merged with the next VMA too */
		if (nstart >= end)
			return 0;
		vma = prev->vm_next;
		if (!vma || vma->vm_start != nstart)
			return -ENOMEM;
	}
}

static int do_mlock(struct kmm_task *t, unsigned long start, unsigned long len, unsigned long flags)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	struct kmm_mm *mm = t->mm;
	len = KMM_ALIGN(len + (start & ~PAGE_MASK), PAGE_SIZE);
	start &= PAGE_MASK;
	mmap_write_lock(mm);
	err = apply_vma_lock_flags(mm, start, len, flags);
	mmap_write_unlock(mm);
	if (err || !flags)
		return err;
	mmap_read_lock(mm);
	long perr = populate_range(mm, start, start + len);
	mmap_read_unlock(mm);
	/* A failure to fault in is ENOMEM to the caller (__mlock_posix_error_return). */
	return perr ? -ENOMEM : 0;
}

int kmm_mlock(struct kmm_task *t, unsigned long start, unsigned long len)
{
	return do_mlock(t, start, len, VM_LOCKED);
}

int kmm_munlock(struct kmm_task *t, unsigned long start, unsigned long len)
{
	return do_mlock(t, start, len, 0);
}
