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
 * VM_LOCKED VMA still maps them (an rmap walk, in the hook).
 *
 * mlock2(MLOCK_ONFAULT) adds VM_LOCKONFAULT: the range is locked but not
 * faulted in; pages are mlocked as faults map them. mlockall applies the
 * flags to every VMA (MCL_CURRENT) and to later ones through
 * mm->def_flags (MCL_FUTURE). RLIMIT_MEMLOCK (mm->memlock_limit) is
 * unlimited unless the task sets one, as for root with CAP_IPC_LOCK; with
 * one, the checks are Linux's: ENOMEM beyond it, EPERM when it is 0.
 *
 * Locks: mmap_lock for writing to change the flags and walk the pages
 * (then PG_locked of a page to munlock, or the PTE lock to mlock), then
 * for reading to populate.
 */
#include "vm.h"
#include <errno.h>
#include <limits.h>

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

int mlock_future_check(struct kmm_mm *mm, unsigned long flags, unsigned long len)
{
	if (!(flags & VM_LOCKED) || mm->memlock_limit == ULONG_MAX)
		return 0;
	unsigned long locked = mm->locked_vm + (len >> PAGE_SHIFT);
	return locked > mm->memlock_limit ? -EAGAIN : 0;
}

/* Pages of [start, start + len) in VMAs locked already (Linux count_mm_mlocked_page_nr). */
static unsigned long count_mm_mlocked_page_nr(struct kmm_mm *mm, unsigned long start,
					      unsigned long len)
{
	unsigned long end = start + len, n = 0;
	for (struct kmm_vma *vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = vma->vm_next) {
		if (!(vma->vm_flags & VM_LOCKED))
			continue;
		unsigned long s = vma->vm_start > start ? vma->vm_start : start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;
		n += (e - s) >> PAGE_SHIFT;
	}
	return n;
}

static int do_mlock(struct kmm_task *t, unsigned long start, unsigned long len, unsigned long flags)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	struct kmm_mm *mm = t->mm;
	len = KMM_ALIGN(len + (start & ~PAGE_MASK), PAGE_SIZE);
	start &= PAGE_MASK;
	if (flags && !mm->memlock_limit)
		return -EPERM; /* can_do_mlock */
	mmap_write_lock(mm);
	if (flags && mm->memlock_limit != ULONG_MAX) {
		/* Pages locked already do not count twice (Linux do_mlock). */
		unsigned long locked = mm->locked_vm + (len >> PAGE_SHIFT);
		if (locked > mm->memlock_limit)
			locked -= count_mm_mlocked_page_nr(mm, start, len);
		if (locked > mm->memlock_limit) {
			mmap_write_unlock(mm);
			return -ENOMEM;
		}
	}
	err = apply_vma_lock_flags(mm, start, len, flags);
	mmap_write_unlock(mm);
	if (err || !flags || (flags & VM_LOCKONFAULT))
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

int kmm_mlock2(struct kmm_task *t, unsigned long start, unsigned long len, unsigned int flags)
{
	if (flags & ~(unsigned int)KMM_MLOCK_ONFAULT)
		return -EINVAL;
	return do_mlock(t, start, len,
			VM_LOCKED | (flags & KMM_MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
}

/*
 * mlockall/munlockall's flags on every VMA and on the ones to come (Linux
 * apply_mlockall_flags). Context: mmap_lock held for writing.
 */
static int apply_mlockall_flags(struct kmm_mm *mm, int flags)
{
	unsigned long to_add = 0;
	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & KMM_MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & KMM_MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & KMM_MCL_CURRENT))
			return 0;
	}
	if (flags & KMM_MCL_CURRENT) {
		to_add |= VM_LOCKED;
		if (flags & KMM_MCL_ONFAULT)
			to_add |= VM_LOCKONFAULT;
	}
	struct kmm_vma *prev = NULL;
	for (struct kmm_vma *vma = mm->mmap; vma; vma = prev->vm_next) {
		unsigned long newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | to_add;
		/* Failures (no memory to split) are ignored, as Linux does. */
		if (mlock_fixup(mm, vma, &prev, vma->vm_start, vma->vm_end, newflags))
			prev = vma;
	}
	return 0;
}

int kmm_mlockall(struct kmm_task *t, int flags)
{
	if (!flags || (flags & ~(KMM_MCL_CURRENT | KMM_MCL_FUTURE | KMM_MCL_ONFAULT)) ||
	    flags == KMM_MCL_ONFAULT)
		return -EINVAL;
	int err = vm_task_enter(t);
	if (err)
		return err;
	struct kmm_mm *mm = t->mm;
	if (!mm->memlock_limit)
		return -EPERM;
	mmap_write_lock(mm);
	/* The whole address space must fit under the limit (Linux mlockall). */
	if ((flags & KMM_MCL_CURRENT) && mm->memlock_limit != ULONG_MAX &&
	    mm->total_vm > mm->memlock_limit) {
		mmap_write_unlock(mm);
		return -ENOMEM;
	}
	apply_mlockall_flags(mm, flags);
	mmap_write_unlock(mm);
	if ((flags & KMM_MCL_CURRENT) && !(flags & KMM_MCL_ONFAULT)) {
		mmap_read_lock(mm);
		populate_range(mm, 0, mm->task_size);
		mmap_read_unlock(mm);
	}
	return 0;
}

int kmm_munlockall(struct kmm_task *t)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	mmap_write_lock(t->mm);
	apply_mlockall_flags(t->mm, 0);
	mmap_write_unlock(t->mm);
	return 0;
}

int kmm_task_set_memlock_limit(struct kmm_task *t, uint64_t bytes)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	mmap_write_lock(t->mm);
	t->mm->memlock_limit =
	    bytes == KMM_RLIM_INFINITY ? ULONG_MAX : (unsigned long)(bytes >> PAGE_SHIFT);
	mmap_write_unlock(t->mm);
	return 0;
}

uint64_t kmm_task_memlock_limit(const struct kmm_task *t)
{
	unsigned long l = t->mm ? t->mm->memlock_limit : ULONG_MAX;
	return l == ULONG_MAX ? KMM_RLIM_INFINITY : (uint64_t)l << PAGE_SHIFT;
}
