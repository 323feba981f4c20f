/*
 * msync: write a shared file mapping's changes back to the file.
 *
 * Linux: mm/msync.c (the syscall), mm/filemap.c (file_write_and_wait_range),
 * and Linux 2.4's filemap_sync(), whose idea kmm keeps: walk the caller's
 * PTEs over the range, move each PTE's dirty bit to its page (clearing it,
 * and write-protecting the PTE again where the mapping tracks first writes),
 * then write the file's dirty pages back. Linux 2.6+ instead relies on
 * write faults having marked pages dirty and cleans all mappings through
 * the reverse map (page_mkclean); the PTE walk here covers the caller's own
 * mappings, and other address spaces' dirty PTEs reach the page when they
 * are unmapped or synced.
 *
 * MS_ASYNC does nothing (Linux 2.6.19+: dirty pages are tracked anyway);
 * MS_SYNC writes and waits; MS_INVALIDATE is accepted (kmm's page cache is
 * the only copy, so there is nothing to invalidate) but fails with EBUSY on
 * locked mappings. kmm does not fsync the host file: the host's page cache
 * holds the data, which is what later reads see.
 *
 * Locks: mmap_lock for reading; PTE table locks during the walk.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

void msync_sync_ptes(struct kmm_vma *vma, unsigned long start, unsigned long end)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	bool wrprotect = vma_wants_writenotify(vma);
	bool changed = false;
	for (unsigned long addr = start; addr < end;) {
		unsigned long next = pmd_addr_end(addr, end);
		pmd_t *pmd = pmd_lookup(mm, addr);
		if (!pmd || !entry_read(pmd)) {
			addr = next;
			continue;
		}
		spinlock_t *ptl = pte_lockptr(m, entry_read(pmd));
		pte_t *pte = entry_table(m, entry_read_acquire(pmd)) + pte_index(addr);
		spin_lock(ptl);
		for (; addr < next; pte++, addr += PAGE_SIZE) {
			pte_t old = entry_read(pte);
			if (!pte_present(old) || !(pte_dirty(old) || (wrprotect && pte_write(old))))
				continue;
			old = __atomic_exchange_n(pte, 0, __ATOMIC_ACQ_REL);
			pte_t ptent = pte_mkclean(old);
			if (wrprotect)
				ptent = pte_wrprotect(ptent);
			entry_write(pte, ptent);
			changed = true;
			struct kmm_page *page = vm_normal_page(vma, addr, old);
			if (page && pte_dirty(old))
				set_page_dirty(page);
		}
		spin_unlock(ptl);
	}
	/* A TLB entry that may still write without setting the dirty bit must go. */
	if (changed)
		flush_tlb_mm_range(mm, start, end);
}

int kmm_msync(struct kmm_task *t, unsigned long start, unsigned long len, int flags)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	if (flags & ~(KMM_MS_ASYNC | KMM_MS_INVALIDATE | KMM_MS_SYNC))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if ((flags & KMM_MS_ASYNC) && (flags & KMM_MS_SYNC))
		return -EINVAL;
	unsigned long end = start + KMM_ALIGN(len, PAGE_SIZE);
	if (end < start || (len && !KMM_ALIGN(len, PAGE_SIZE)))
		return -ENOMEM;
	if (end == start)
		return 0;

	struct kmm_mm *mm = t->mm;
	int unmapped_error = 0;
	err = 0;
	mmap_read_lock(mm);
	struct kmm_vma *vma = find_vma(mm, start);
	for (;;) {
		if (!vma) {
			err = -ENOMEM;
			break;
		}
		if (start < vma->vm_start) {
			unmapped_error = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		if ((flags & KMM_MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) {
			err = -EBUSY;
			break;
		}
		unsigned long tmp = vma->vm_end < end ? vma->vm_end : end;
		struct kmm_address_space *mapping = vma_mapping(vma);
		if ((flags & KMM_MS_SYNC) && mapping && (vma->vm_flags & VM_SHARED)) {
			msync_sync_ptes(vma, start, tmp);
			err = filemap_write_and_wait_range(mapping, linear_page_index(vma, start),
							   linear_page_index(vma, tmp) - 1);
			if (!err && mapping->wb_err) {
				/* An earlier background writeback failed: report it once. */
				err = mapping->wb_err;
				mapping->wb_err = 0;
			}
			if (err)
				break;
		}
		start = tmp;
		if (start >= end)
			break;
		vma = vma->vm_next;
	}
	mmap_read_unlock(mm);
	return err ? err : unmapped_error;
}
