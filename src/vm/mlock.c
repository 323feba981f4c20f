/*
 * mlock and munlock: keep a range resident.
 *
 * Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags, mlock_fixup,
 * munlock), mm/gup.c (__mm_populate). mlock sets VM_LOCKED on the VMAs of
 * the range (splitting and merging as mprotect does), counts the pages in
 * locked_vm, and faults every page in. MADV_DONTNEED refuses locked
 * ranges, MS_INVALIDATE fails on them, and fork does not pass VM_LOCKED on.
 * Keeping locked pages off the reclaim lists (PG_mlocked, the unevictable
 * LRU, NR_MLOCK) belongs to reclaim/, which hooks page mapping for it.
 * RLIMIT_MEMLOCK is unlimited, as for root.
 *
 * Locks: mmap_lock for writing to change the flags, then for reading to
 * populate.
 */
#include "vm.h"
#include <errno.h>

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
	if (newflags & VM_LOCKED)
		mm->locked_vm += (unsigned long)nr_pages;
	else
		mm->locked_vm -= (unsigned long)nr_pages;
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
