/*
 * fork's half in the memory manager: copying an address space.
 *
 * Linux: kernel/fork.c (dup_mm, dup_mmap). The child gets a copy of every
 * VMA (except VM_DONTCOPY ones) sharing the parent's files and anon_vmas,
 * and copies of the page tables of VMAs that hold anonymous pages; both
 * sides' PTEs of private writable pages lose write permission, so the first
 * write on either side copies the page (memory.c, wp_page_copy). VMAs
 * without anonymous pages are not copied: the child faults their pages in
 * from the page cache. VM_LOCKED is not inherited. The parent's TLBs are
 * flushed once at the end, since its PTEs lost write permission.
 *
 * Failure anywhere (no memory for a VMA, an anon_vma, a page table) leaves
 * the parent intact: the partial child is torn down by mmput() like any
 * address space.
 *
 * Locks: the parent's mmap_lock for writing (its page tables change), then
 * the child's, also for writing: the child is on the machine's list of mms
 * already, and walkers of that list must not see it half built.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

struct kmm_mm *dup_mm(struct kmm_mm *oldmm, int *err)
{
	struct kmm_mm *mm = mm_alloc(oldmm->machine);
	*err = -ENOMEM;
	if (!mm)
		return NULL;
	mm->start_brk = oldmm->start_brk;
	mm->brk = oldmm->brk;
	mm->start_stack = oldmm->start_stack;
	mm->mmap_base = oldmm->mmap_base;
	mm->task_size = oldmm->task_size;
	mm->def_flags = oldmm->def_flags & ~VM_LOCKED_MASK;
	mm->memlock_limit = oldmm->memlock_limit;
	mm->total_vm = oldmm->total_vm;
	mm->data_vm = oldmm->data_vm;
	mm->exec_vm = oldmm->exec_vm;
	mm->stack_vm = oldmm->stack_vm;

	mmap_write_lock(oldmm);
	/*
	 * The new mm is on the machine's list already: walkers of every mm
	 * (swapoff's unuse, the validator) wait until it is complete (Linux
	 * dup_mmap's mmap_write_lock_nested).
	 */
	mmap_write_lock(mm);
	struct kmm_vma *prev = NULL;
	for (struct kmm_vma *mpnt = oldmm->mmap; mpnt; mpnt = mpnt->vm_next) {
		if (mpnt->vm_flags & VM_DONTCOPY) {
			vm_stat_account(mm, mpnt->vm_flags, -(long)vma_pages(mpnt));
			continue;
		}
		struct kmm_vma *tmp = vm_area_dup(mpnt);
		if (!tmp)
			goto fail;
		tmp->vm_mm = mm;
		if (anon_vma_fork(tmp, mpnt)) {
			vm_area_free(tmp);
			goto fail;
		}
		tmp->vm_flags &= ~VM_LOCKED_MASK;
		if (tmp->vm_file)
			get_file(tmp->vm_file);
		vma_link(mm, tmp, prev);
		prev = tmp;
		if (copy_page_range(tmp, mpnt))
			goto fail;
	}
	flush_tlb_mm(oldmm);
	mmap_write_unlock(mm);
	mmap_write_unlock(oldmm);
	*err = 0;
	return mm;
fail:
	flush_tlb_mm(oldmm);
	mmap_write_unlock(mm);
	mmap_write_unlock(oldmm);
	mmput(mm);
	return NULL;
}
