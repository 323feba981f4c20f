/*
 * Address spaces and their mappings: mm lifetime, the exec layout, mmap,
 * munmap, brk, stack growth and exit.
 *
 * Linux: kernel/fork.c (mm_alloc, mmput, mmdrop), fs/exec.c
 * (setup_arg_pages: the stack VMA), arch/x86/mm/mmap.c (mmap_base: the
 * top-down layout), mm/mmap.c (do_mmap, mmap_region, get_unmapped_area,
 * do_munmap, unmap_region, brk, do_brk_flags, expand_downwards, exit_mmap).
 *
 * Layout of a fresh address space, as a non-randomised x86-64 process
 * (setarch -R) has it:
 *   0x555555559000  start of the heap (brk), after a PIE program's image
 *   0x7ffff7fff000  mmap_base: TASK_SIZE minus the 128 MiB minimum gap;
 *                   mmap places mappings top-down below it
 *   0x7ffffffde000  the initial 132 KiB stack, growing down (8 MiB limit)
 *   0x7ffffffff000  TASK_SIZE
 * kmm maps no program image or vDSO: the address space starts with the
 * stack and an empty heap.
 *
 * Errors follow Linux 6.1's order of checks, so a program's failures read
 * the same: EINVAL for bad arguments, ENOMEM for no room (or too many
 * mappings), EPERM below mmap_min_addr, EEXIST for MAP_FIXED_NOREPLACE,
 * EACCES for a file opened without the needed access, EOPNOTSUPP for
 * unknown flags with MAP_SHARED_VALIDATE.
 *
 * Locks: every change holds mmap_lock for writing (munmap downgrades
 * nothing: kmm's unmaps are short); populating holds it for reading.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <limits.h>
#include <string.h>

#define STACK_TOP	   KMM_TASK_SIZE
#define STACK_INIT_SIZE	   (132UL * 1024) /* what a small program's [stack] shows */
#define STACK_RLIMIT	   (8UL * 1024 * 1024)
#define MIN_GAP		   (128UL * 1024 * 1024)
#define BRK_START	   0x555555559000UL
#define TASK_UNMAPPED_BASE KMM_ALIGN(KMM_TASK_SIZE / 3, PAGE_SIZE)

/* MAP_SHARED_VALIDATE accepts these (Linux LEGACY_MAP_MASK). */
#define LEGACY_MAP_MASK                                                                \
	(KMM_MAP_SHARED | KMM_MAP_PRIVATE | KMM_MAP_FIXED | KMM_MAP_ANONYMOUS |        \
	 KMM_MAP_DENYWRITE | KMM_MAP_EXECUTABLE | KMM_MAP_GROWSDOWN | KMM_MAP_LOCKED | \
	 KMM_MAP_NORESERVE | KMM_MAP_POPULATE | KMM_MAP_NONBLOCK | KMM_MAP_STACK)

/* --- mm lifetime ------------------------------------------------------------------------ */

struct kmm_mm *mm_alloc(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	struct kmm_mm *mm = kmm_kmem_cache_alloc(vm->mm_cachep, GFP_KERNEL);
	if (!mm)
		return NULL;
	memset(mm, 0, sizeof(*mm));
	mm->machine = m;
	mm->mm_rb = RB_ROOT;
	atomic_set(&mm->mm_users, 1);
	atomic_set(&mm->mm_count, 1);
	spin_lock_init(&mm->page_table_lock);
	init_rwsem(&mm->mmap_lock);
	INIT_LIST_HEAD(&mm->mmlist);
	mm->task_size = KMM_TASK_SIZE;
	mm->memlock_limit = ULONG_MAX;
	mm->mmap_base = KMM_TASK_SIZE - MIN_GAP;
	mm->context.ctx_id = __atomic_add_fetch(&vm->next_ctx_id, 1, __ATOMIC_RELAXED);
	if (!pgd_alloc(mm)) {
		kmm_kmem_cache_free(vm->mm_cachep, mm);
		return NULL;
	}
	spin_lock(&vm->mmlist_lock);
	list_add_tail(&mm->mmlist, &vm->mmlist);
	spin_unlock(&vm->mmlist_lock);
	return mm;
}

void mmdrop(struct kmm_mm *mm)
{
	if (!atomic_dec_and_test(&mm->mm_count))
		return;
	pgd_free(mm);
	kmm_kmem_cache_free(vm_state(mm->machine)->mm_cachep, mm);
}

void mmput(struct kmm_mm *mm)
{
	if (!atomic_dec_and_test(&mm->mm_users))
		return;
	struct vm_state *vm = vm_state(mm->machine);
	/* Off the list first: walkers of every mm (the validator) never see it half gone. */
	spin_lock(&vm->mmlist_lock);
	list_del_init(&mm->mmlist);
	spin_unlock(&vm->mmlist_lock);
	exit_mmap(mm);
	mmdrop(mm);
}

/* The stack and the empty heap of a new program (setup_arg_pages, arch_pick_mmap_layout). */
int setup_new_exec_mm(struct kmm_mm *mm)
{
	struct kmm_vma *vma = vm_area_alloc(mm);
	if (!vma)
		return -ENOMEM;
	vma->vm_start = STACK_TOP - STACK_INIT_SIZE;
	vma->vm_end = STACK_TOP;
	vma->vm_flags = VM_STACK_FLAGS;
	vma->vm_pgoff = vma->vm_start >> PAGE_SHIFT;
	vma_set_page_prot(vma);
	vma_link(mm, vma, NULL);
	vm_stat_account(mm, vma->vm_flags, (long)vma_pages(vma));
	mm->start_stack = STACK_TOP;
	mm->start_brk = mm->brk = BRK_START;
	mm->mmap_base = mm->task_size - MIN_GAP;
	return 0;
}

void exit_mmap(struct kmm_mm *mm)
{
	struct mmu_gather tlb;
	tlb_gather_mmu(&tlb, mm, true);
	unmap_vmas(&tlb, mm->mmap, 0, ~0UL);
	free_pgtables(&tlb, mm->mmap, 0, 0);
	tlb_finish_mmu(&tlb);
	struct kmm_vma *vma = mm->mmap;
	while (vma) {
		struct kmm_vma *next = vma->vm_next;
		vm_stat_account(mm, vma->vm_flags, -(long)vma_pages(vma));
		unlink_file_vma(vma);
		remove_vma(vma);
		vma = next;
	}
	mm->mmap = NULL;
	mm->mm_rb = RB_ROOT;
	mm->mmap_cache = NULL;
	mm->map_count = 0;
	mm->highest_vm_end = 0;
	mm->locked_vm = 0;
}

bool may_expand_vm(struct kmm_mm *mm, unsigned long flags, unsigned long npages)
{
	(void)flags;
	/* RLIMIT_AS and RLIMIT_DATA are unlimited, as for root: only the address space bounds. */
	return mm->total_vm + npages <= mm->task_size >> PAGE_SHIFT;
}

/* --- Finding room ------------------------------------------------------------------------- */

unsigned long get_unmapped_area(struct kmm_mm *mm, struct kmm_file *file, unsigned long addr,
				unsigned long len, unsigned long pgoff, unsigned long flags)
{
	struct vm_state *vm = vm_state(mm->machine);
	(void)file;
	(void)pgoff;
	if (len > mm->task_size - vm->mmap_min_addr)
		return -ENOMEM;
	if (flags & KMM_MAP_FIXED) {
		if (addr & ~PAGE_MASK)
			return -EINVAL;
		if (addr > mm->task_size - len)
			return -ENOMEM;
		if (addr < vm->mmap_min_addr)
			return -EPERM;
		return addr;
	}
	if (addr) {
		/* A hint: taken when the range is free. */
		addr = KMM_ALIGN(addr, PAGE_SIZE);
		struct kmm_vma *prev, *vma;
		if (mm->task_size - len >= addr && addr >= vm->mmap_min_addr) {
			vma = find_vma_prev(mm, addr, &prev);
			if ((!vma || addr + len <= vm_start_gap(vma)) &&
			    (!prev || addr >= vm_end_gap(prev)))
				return addr;
		}
	}
	unsigned long low = vm->mmap_min_addr > PAGE_SIZE ? vm->mmap_min_addr : PAGE_SIZE;
	addr = unmapped_area_topdown(mm, len, low, mm->mmap_base);
	if (IS_ERR_ADDR(addr))
		addr = unmapped_area(mm, len, TASK_UNMAPPED_BASE, mm->task_size);
	return addr;
}

/* --- mmap ------------------------------------------------------------------------------------ */

static unsigned long calc_vm_prot_bits(unsigned long prot)
{
	return (prot & KMM_PROT_READ ? VM_READ : 0) | (prot & KMM_PROT_WRITE ? VM_WRITE : 0) |
	       (prot & KMM_PROT_EXEC ? VM_EXEC : 0);
}

static unsigned long calc_vm_flag_bits(unsigned long flags)
{
	return (flags & KMM_MAP_GROWSDOWN ? VM_GROWSDOWN : 0) |
	       (flags & KMM_MAP_LOCKED ? VM_LOCKED : 0);
}

static long mmap_region(struct kmm_mm *mm, struct kmm_file *file, unsigned long addr,
			unsigned long len, unsigned long vm_flags, unsigned long pgoff)
{
	struct kmm_vma *vma, *prev;
	unsigned long npages = len >> PAGE_SHIFT;
	if (!may_expand_vm(mm, vm_flags, npages))
		return -ENOMEM;
	/* MAP_FIXED replaces what was there. */
	if (do_munmap(mm, addr, len))
		return -ENOMEM;
	find_vma_prev(mm, addr, &prev);
	vma = vma_merge(mm, prev, NULL, addr, addr + len, vm_flags, NULL, file, pgoff);
	if (!vma) {
		vma = vm_area_alloc(mm);
		if (!vma)
			return -ENOMEM;
		vma->vm_start = addr;
		vma->vm_end = addr + len;
		vma->vm_flags = vm_flags;
		vma->vm_pgoff = pgoff;
		if (file) {
			vma->vm_file = get_file(file);
		} else if (vm_flags & VM_SHARED) {
			/* Shared anonymous memory is a file of its own (shmem_zero_setup). */
			vma->vm_file = shmem_file_setup(mm->machine, len);
			if (!vma->vm_file) {
				vm_area_free(vma);
				return -ENOMEM;
			}
		}
		vma_set_page_prot(vma);
		vma_link(mm, vma, prev);
	}
	vm_stat_account(mm, vm_flags, (long)npages);
	if (vm_flags & VM_LOCKED)
		mm->locked_vm += npages;
	return (long)addr;
}

long do_mmap(struct kmm_mm *mm, struct kmm_file *file, unsigned long addr, unsigned long len,
	     unsigned long prot, unsigned long flags, unsigned long pgoff, unsigned long *populate)
{
	struct vm_state *vm = vm_state(mm->machine);
	*populate = 0;
	if (!len)
		return -EINVAL;
	if (!(flags & KMM_MAP_FIXED) && addr && addr < vm->mmap_min_addr)
		addr = KMM_ALIGN(vm->mmap_min_addr, PAGE_SIZE); /* round_hint_to_min */
	len = KMM_ALIGN(len, PAGE_SIZE);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	if (mm->map_count > vm->max_map_count)
		return -ENOMEM;
	if (flags & KMM_MAP_FIXED_NOREPLACE)
		flags |= KMM_MAP_FIXED;
	addr = get_unmapped_area(mm, file, addr, len, pgoff, flags);
	if (IS_ERR_ADDR(addr))
		return (long)addr;
	if ((flags & KMM_MAP_FIXED_NOREPLACE) && find_vma_intersection(mm, addr, addr + len))
		return -EEXIST;

	unsigned long vm_flags = calc_vm_prot_bits(prot) | calc_vm_flag_bits(flags) |
				 mm->def_flags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	if ((flags & KMM_MAP_LOCKED) && !mm->memlock_limit)
		return -EPERM; /* can_do_mlock */
	if (mlock_future_check(mm, vm_flags, len))
		return -EAGAIN;
	if (file) {
		switch (flags & KMM_MAP_TYPE) {
		case KMM_MAP_SHARED:
		case KMM_MAP_SHARED_VALIDATE:
			if ((flags & KMM_MAP_TYPE) == KMM_MAP_SHARED_VALIDATE &&
			    (flags & ~LEGACY_MAP_MASK))
				return -EOPNOTSUPP;
			if ((prot & KMM_PROT_WRITE) && !(file->f_mode & FMODE_WRITE))
				return -EACCES;
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			if (!(file->f_mode & FMODE_WRITE))
				vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
			/* fallthrough */
		case KMM_MAP_PRIVATE:
			if (!(file->f_mode & FMODE_READ))
				return -EACCES;
			if (vm_flags & VM_GROWSDOWN)
				return -EINVAL; /* file mappings do not grow (file_operations) */
			break;
		default:
			return -EINVAL;
		}
	} else {
		switch (flags & KMM_MAP_TYPE) {
		case KMM_MAP_SHARED:
			if (vm_flags & VM_GROWSDOWN)
				return -EINVAL;
			pgoff = 0;
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			break;
		case KMM_MAP_PRIVATE:
			pgoff = addr >> PAGE_SHIFT;
			break;
		default:
			return -EINVAL;
		}
	}
	if (flags & KMM_MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;
	long ret = mmap_region(mm, file, addr, len, vm_flags, pgoff);
	if (ret >= 0 && ((vm_flags & VM_LOCKED) ||
			 (flags & (KMM_MAP_POPULATE | KMM_MAP_NONBLOCK)) == KMM_MAP_POPULATE))
		*populate = len;
	return ret;
}

/* --- munmap ---------------------------------------------------------------------------------- */

static void unmap_region(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma *prev,
			 struct kmm_vma *next, unsigned long start, unsigned long end)
{
	struct mmu_gather tlb;
	tlb_gather_mmu(&tlb, mm, false);
	unmap_vmas(&tlb, vma, start, end);
	free_pgtables(&tlb, vma, prev ? prev->vm_end : 0, next ? next->vm_start : 0);
	tlb_finish_mmu(&tlb);
}

int do_munmap(struct kmm_mm *mm, unsigned long start, unsigned long len)
{
	struct vm_state *vm = vm_state(mm->machine);
	if ((start & ~PAGE_MASK) || start > mm->task_size || len > mm->task_size - start)
		return -EINVAL;
	len = KMM_ALIGN(len, PAGE_SIZE);
	if (!len)
		return -EINVAL;
	unsigned long end = start + len;
	struct kmm_vma *vma = find_vma(mm, start);
	if (!vma || vma->vm_start >= end)
		return 0;
	struct kmm_vma *prev = vma->vm_prev;
	if (start > vma->vm_start) {
		/* Unmapping the middle of a VMA makes two of it: check the limit once. */
		if (end < vma->vm_end && mm->map_count >= vm->max_map_count)
			return -ENOMEM;
		int err = __split_vma(mm, vma, start, 0);
		if (err)
			return err;
		prev = vma;
	}
	struct kmm_vma *last = find_vma(mm, end);
	if (last && end > last->vm_start) {
		int err = __split_vma(mm, last, end, 1);
		if (err)
			return err;
	}
	update_hiwater(mm);
	/* Detach the VMAs in [start, end) into a list of their own. */
	vma = prev ? prev->vm_next : mm->mmap;
	struct kmm_vma *detached = NULL, *tail = NULL;
	while (vma && vma->vm_start < end) {
		struct kmm_vma *next = vma->vm_next;
		if (vma->vm_flags & VM_LOCKED)
			mm->locked_vm -= vma_pages(vma);
		vma_unlink(mm, vma);
		if (tail)
			tail->vm_next = vma;
		else
			detached = vma;
		tail = vma;
		vma = next;
	}
	struct kmm_vma *next = prev ? prev->vm_next : mm->mmap;
	unmap_region(mm, detached, prev, next, start, end);
	while (detached) {
		struct kmm_vma *n = detached->vm_next;
		vm_stat_account(mm, detached->vm_flags, -(long)vma_pages(detached));
		remove_vma(detached);
		detached = n;
	}
	return 0;
}

/* --- brk --------------------------------------------------------------------------------------- */

static int do_brk_flags(struct kmm_mm *mm, unsigned long addr, unsigned long len)
{
	struct vm_state *vm = vm_state(mm->machine);
	unsigned long flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm->def_flags;
	unsigned long err = get_unmapped_area(mm, NULL, addr, len, 0, KMM_MAP_FIXED);
	if (IS_ERR_ADDR(err))
		return (int)(long)err;
	if (mlock_future_check(mm, flags, len))
		return -EAGAIN;
	if (!may_expand_vm(mm, flags, len >> PAGE_SHIFT) || mm->map_count > vm->max_map_count)
		return -ENOMEM;
	struct kmm_vma *prev;
	find_vma_prev(mm, addr, &prev);
	if (!vma_merge(mm, prev, NULL, addr, addr + len, flags, NULL, NULL, addr >> PAGE_SHIFT)) {
		struct kmm_vma *vma = vm_area_alloc(mm);
		if (!vma)
			return -ENOMEM;
		vma->vm_start = addr;
		vma->vm_end = addr + len;
		vma->vm_flags = flags;
		vma->vm_pgoff = addr >> PAGE_SHIFT;
		vma_set_page_prot(vma);
		vma_link(mm, vma, prev);
	}
	vm_stat_account(mm, flags, (long)(len >> PAGE_SHIFT));
	if (flags & VM_LOCKED)
		mm->locked_vm += len >> PAGE_SHIFT;
	return 0;
}

unsigned long kmm_brk(struct kmm_task *t, unsigned long brk)
{
	if (vm_task_enter(t))
		return 0;
	struct kmm_mm *mm = t->mm;
	bool populate = false;
	mmap_write_lock(mm);
	unsigned long origbrk = mm->brk;
	unsigned long newbrk = KMM_ALIGN(brk, PAGE_SIZE), oldbrk = KMM_ALIGN(mm->brk, PAGE_SIZE);
	if (brk < mm->start_brk)
		goto out;
	if (oldbrk == newbrk) {
		mm->brk = brk;
		goto out;
	}
	if (brk <= mm->brk) {
		/* Shrinking: always allowed. */
		mm->brk = brk;
		if (do_munmap(mm, newbrk, oldbrk - newbrk))
			mm->brk = origbrk;
		goto out;
	}
	struct kmm_vma *next = find_vma(mm, oldbrk);
	if (next && newbrk + PAGE_SIZE > vm_start_gap(next))
		goto out; /* would run into the next mapping (or its stack guard) */
	if (do_brk_flags(mm, oldbrk, newbrk - oldbrk))
		goto out;
	mm->brk = brk;
	populate = mm->def_flags & VM_LOCKED;
out:;
	unsigned long ret = mm->brk;
	mmap_write_unlock(mm);
	if (populate) {
		mmap_read_lock(mm);
		populate_range(mm, oldbrk, newbrk);
		mmap_read_unlock(mm);
	}
	return ret;
}

/* --- The stack --------------------------------------------------------------------------------- */

/* Grow a grows-down VMA to cover @address (expand_downwards). mmap_lock held for writing. */
int expand_stack(struct kmm_vma *vma, unsigned long address)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct vm_state *vm = vm_state(mm->machine);
	address &= PAGE_MASK;
	if (!(vma->vm_flags & VM_GROWSDOWN))
		return -EFAULT;
	if (address >= vma->vm_start)
		return 0;
	if (address < vm->mmap_min_addr)
		return -EPERM;
	struct kmm_vma *prev = vma->vm_prev;
	/* Keep stack_guard_gap to the mapping below (unless it is a stack too or PROT_NONE). */
	if (prev && !(prev->vm_flags & VM_GROWSDOWN) && (prev->vm_flags & VM_ACCESS_FLAGS) &&
	    address - prev->vm_end < vm->stack_guard_gap)
		return -ENOMEM;
	unsigned long grow = (vma->vm_start - address) >> PAGE_SHIFT;
	if (vma->vm_end - address > STACK_RLIMIT || !may_expand_vm(mm, vma->vm_flags, grow))
		return -ENOMEM;
	if (anon_vma_prepare(vma))
		return -ENOMEM;
	vma_set_range(vma, address, vma->vm_end, vma->vm_pgoff - grow);
	vm_stat_account(mm, vma->vm_flags, (long)grow);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += grow;
	return 0;
}

/* --- The system calls ----------------------------------------------------------------------------- */

long kmm_mmap(struct kmm_task *t, unsigned long addr, unsigned long len, int prot, int flags,
	      struct kmm_file *file, unsigned long off)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	if (off & ~PAGE_MASK)
		return -EINVAL;
	if (flags & KMM_MAP_ANONYMOUS)
		file = NULL;
	else if (!file)
		return -EBADF;
	struct kmm_mm *mm = t->mm;
	unsigned long populate;
	mmap_write_lock(mm);
	long ret = do_mmap(mm, file, addr, len, (unsigned long)prot, (unsigned long)flags,
			   off >> PAGE_SHIFT, &populate);
	mmap_write_unlock(mm);
	if (ret >= 0 && populate) {
		/* MAP_POPULATE ignores failures: the mapping is there either way. */
		mmap_read_lock(mm);
		populate_range(mm, (unsigned long)ret, (unsigned long)ret + populate);
		mmap_read_unlock(mm);
	}
	return ret;
}

int kmm_munmap(struct kmm_task *t, unsigned long addr, unsigned long len)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	mmap_write_lock(t->mm);
	err = do_munmap(t->mm, addr, len);
	mmap_write_unlock(t->mm);
	return err;
}
