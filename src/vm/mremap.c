/*
 * mremap: shrink a mapping, grow it in place, or move it (with its pages)
 * somewhere else.
 *
 * Linux: mm/mremap.c (mremap syscall, vma_to_resize, vma_expandable,
 * move_vma, move_page_tables, move_ptes, mremap_to) and copy_vma in
 * mm/mmap.c.
 *
 * Moving keeps the pages: the PTEs are carried from the old range to the
 * new one, and the new VMA keeps the old page offset (vm_pgoff), so every
 * anonymous page keeps its page->index and its anon_vma, and the reverse
 * map still finds it. The new range's page tables are all allocated before
 * the first PTE moves, so running out of memory leaves the old mapping
 * untouched.
 *
 * A reverse-map walk must not see a page in mid-move: under objrmap it
 * finds the page's VMAs through the anon_vma or the file's i_mmap and
 * looks at one address in each, so a PTE taken from the old place after
 * the walk passed the new one (or the other way round) would be missed, or
 * counted twice. The move therefore holds the file's i_mmap_rwsem and the
 * anon_vma root's rwsem for writing (Linux take_rmap_locks, which Linux
 * skips when the new VMA is known to be walked after the old one; kmm
 * always takes them). pte chains need neither: their walk takes the mm's
 * mmap_lock, which mremap holds for writing.
 *
 * Locks: mmap_lock (write) -> i_mmap_rwsem (write) -> anon_vma root rwsem
 * (write) -> the old and the new PTE table's locks (old first) while
 * entries move.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

/* A copy of @vma's attributes for [addr, addr + len) at page offset @pgoff (copy_vma). */
static struct kmm_vma *copy_vma(struct kmm_vma *vma, unsigned long addr, unsigned long len,
				unsigned long pgoff)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_vma *prev;
	/* An anonymous VMA never faulted can take the offset of its new place, to merge there. */
	if (!vma->vm_file && !vma->anon_vma)
		pgoff = addr >> PAGE_SHIFT;
	find_vma_prev(mm, addr, &prev);
	struct kmm_vma *new_vma = vma_merge(mm, prev, NULL, addr, addr + len, vma->vm_flags,
					    vma->anon_vma, vma->vm_file, pgoff);
	if (new_vma)
		return new_vma;
	new_vma = vm_area_dup(vma);
	if (!new_vma)
		return NULL;
	new_vma->vm_start = addr;
	new_vma->vm_end = addr + len;
	new_vma->vm_pgoff = pgoff;
	if (anon_vma_clone(new_vma, vma)) {
		vm_area_free(new_vma);
		return NULL;
	}
	if (new_vma->vm_file)
		get_file(new_vma->vm_file);
	vma_link(mm, new_vma, prev);
	return new_vma;
}

static void move_ptes(struct kmm_vma *vma, pmd_t *old_pmd, unsigned long old_addr,
		      unsigned long old_end, struct kmm_vma *new_vma, pmd_t *new_pmd,
		      unsigned long new_addr)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	spinlock_t *old_ptl = pte_lockptr(m, entry_read(old_pmd));
	spinlock_t *new_ptl = pte_lockptr(m, entry_read(new_pmd));
	pte_t *old_pte = entry_table(m, entry_read(old_pmd)) + pte_index(old_addr);
	pte_t *new_pte = entry_table(m, entry_read(new_pmd)) + pte_index(new_addr);
	spin_lock(old_ptl);
	if (new_ptl != old_ptl)
		spin_lock(new_ptl);
	for (; old_addr < old_end;
	     old_pte++, new_pte++, old_addr += PAGE_SIZE, new_addr += PAGE_SIZE) {
		if (pte_none(entry_read(old_pte)))
			continue;
		pte_t pte = __atomic_exchange_n(old_pte, 0, __ATOMIC_ACQ_REL);
		if (pte_present(pte)) {
			struct kmm_page *page = vm_normal_page(vma, old_addr, pte);
			if (page)
				page_move_rmap(page, old_pte, new_vma, new_addr, new_pte);
		}
		entry_write(new_pte, pte);
	}
	if (new_ptl != old_ptl)
		spin_unlock(new_ptl);
	spin_unlock(old_ptl);
}

/* Keep objrmap walks out while PTEs move (Linux take_rmap_locks / drop_rmap_locks). */
static void take_rmap_locks(struct kmm_vma *vma)
{
	if (rmap_ptechain(vma->vm_mm->machine))
		return;
	if (vma->vm_file)
		down_write(&vma->vm_file->f_mapping->i_mmap_rwsem);
	if (vma->anon_vma)
		down_write(&vma->anon_vma->root->rwsem);
}

static void drop_rmap_locks(struct kmm_vma *vma)
{
	if (rmap_ptechain(vma->vm_mm->machine))
		return;
	if (vma->anon_vma)
		up_write(&vma->anon_vma->root->rwsem);
	if (vma->vm_file)
		up_write(&vma->vm_file->f_mapping->i_mmap_rwsem);
}

/*
 * Move the PTEs of [old_addr, old_addr + len) to @new_addr. The new
 * range's tables are allocated first: -ENOMEM then means nothing moved.
 */
static int move_page_tables(struct kmm_vma *vma, unsigned long old_addr, struct kmm_vma *new_vma,
			    unsigned long new_addr, unsigned long len)
{
	struct kmm_mm *mm = vma->vm_mm;
	unsigned long old_end = old_addr + len;
	for (unsigned long a = old_addr; a < old_end;) {
		unsigned long next = pmd_addr_end(a, old_end);
		pmd_t *pmd = pmd_lookup(mm, a);
		if (pmd && entry_read(pmd)) {
			/* The destination of [a, next) may straddle two PTE tables. */
			unsigned long d = new_addr + (a - old_addr);
			if (!pte_alloc_map(mm, d, NULL) ||
			    !pte_alloc_map(mm, d + (next - a) - PAGE_SIZE, NULL))
				return -ENOMEM;
		}
		a = next;
	}
	take_rmap_locks(vma);
	for (unsigned long a = old_addr; a < old_end;) {
		unsigned long next = pmd_addr_end(a, old_end);
		unsigned long d = new_addr + (a - old_addr);
		/* Keep each step inside one destination table too. */
		unsigned long dnext = pmd_addr_end(d, d + (next - a));
		next = a + (dnext - d);
		pmd_t *old_pmd = pmd_lookup(mm, a);
		if (old_pmd && entry_read(old_pmd))
			move_ptes(vma, old_pmd, a, next, new_vma, pmd_lookup(mm, d), d);
		a = next;
	}
	drop_rmap_locks(vma);
	flush_tlb_mm_range(mm, old_addr, old_end);
	return 0;
}

static long move_vma(struct kmm_vma *vma, unsigned long old_addr, unsigned long old_len,
		     unsigned long new_len, unsigned long new_addr)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct vm_state *vm = vm_state(mm->machine);
	/* Moving may split the old VMA in up to three and add one: leave room (move_vma). */
	if (mm->map_count >= vm->max_map_count - 3)
		return -ENOMEM;
	unsigned long vm_flags = vma->vm_flags;
	unsigned long pgoff = vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT);
	struct kmm_vma *new_vma = copy_vma(vma, new_addr, new_len, pgoff);
	if (!new_vma)
		return -ENOMEM;
	/* The old VMA may have merged into the new one (they were neighbours). */
	vma = find_vma(mm, old_addr);
	/* copy_vma may have merged into a neighbour: the accounting follows the pages. */
	vm_stat_account(mm, vm_flags, (long)(new_len >> PAGE_SHIFT));
	if (vm_flags & VM_LOCKED)
		mm->locked_vm += new_len >> PAGE_SHIFT;
	if (move_page_tables(vma, old_addr, new_vma, new_addr, old_len)) {
		do_munmap(mm, new_addr, new_len);
		return -ENOMEM;
	}
	do_munmap(mm, old_addr, old_len);
	return (long)new_addr;
}

/* Find the VMA for [addr, addr + old_len) and check it may become @new_len (vma_to_resize). */
static struct kmm_vma *vma_to_resize(struct kmm_mm *mm, unsigned long addr, unsigned long old_len,
				     unsigned long new_len, long *err)
{
	struct kmm_vma *vma = find_vma(mm, addr);
	*err = -EFAULT;
	if (!vma || vma->vm_start > addr)
		return NULL;
	if (old_len > vma->vm_end - addr)
		return NULL;
	if (new_len == old_len)
		return vma;
	if (new_len > old_len && (vma->vm_flags & VM_DONTEXPAND))
		return NULL;
	*err = -EAGAIN;
	if (new_len > old_len && mlock_future_check(mm, vma->vm_flags, new_len - old_len))
		return NULL;
	*err = -ENOMEM;
	if (!may_expand_vm(mm, vma->vm_flags, (new_len - old_len) >> PAGE_SHIFT))
		return NULL;
	return vma;
}

static long mremap_to(struct kmm_mm *mm, unsigned long addr, unsigned long old_len,
		      unsigned long new_addr, unsigned long new_len)
{
	struct vm_state *vm = vm_state(mm->machine);
	if (new_addr & ~PAGE_MASK)
		return -EINVAL;
	if (new_len > mm->task_size || new_addr > mm->task_size - new_len)
		return -EINVAL;
	/* The two ranges may not overlap. */
	if (addr + old_len > new_addr && new_addr + new_len > addr)
		return -EINVAL;
	/* Unmapping the destination and the old tail both may split: keep room. */
	if (mm->map_count + 2 >= vm->max_map_count - 3)
		return -ENOMEM;
	if (new_addr < vm->mmap_min_addr)
		return -EPERM;
	long ret = do_munmap(mm, new_addr, new_len);
	if (ret)
		return ret;
	if (old_len > new_len) {
		ret = do_munmap(mm, addr + new_len, old_len - new_len);
		if (ret)
			return ret;
		old_len = new_len;
	}
	struct kmm_vma *vma = vma_to_resize(mm, addr, old_len, new_len, &ret);
	if (!vma)
		return ret;
	return move_vma(vma, addr, old_len, new_len, new_addr);
}

long kmm_mremap(struct kmm_task *t, unsigned long addr, unsigned long old_len,
		unsigned long new_len, int flags, unsigned long new_addr)
{
	long ret = vm_task_enter(t);
	if (ret)
		return ret;
	struct kmm_mm *mm = t->mm;
	if (flags & ~(KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED))
		return -EINVAL;
	if ((flags & KMM_MREMAP_FIXED) && !(flags & KMM_MREMAP_MAYMOVE))
		return -EINVAL;
	if (addr & ~PAGE_MASK)
		return -EINVAL;
	old_len = KMM_ALIGN(old_len, PAGE_SIZE);
	new_len = KMM_ALIGN(new_len, PAGE_SIZE);
	/* old_len 0 duplicates a shared mapping in Linux; kmm does not offer that. */
	if (!new_len || !old_len)
		return -EINVAL;

	mmap_write_lock(mm);
	unsigned long populate_from = 0, populate_len = 0;
	if (flags & KMM_MREMAP_FIXED) {
		ret = mremap_to(mm, addr, old_len, new_addr, new_len);
		goto out;
	}
	if (old_len >= new_len) {
		/* Shrinking (or no change) always succeeds in place. */
		ret = (long)addr;
		if (old_len > new_len) {
			long err = do_munmap(mm, addr + new_len, old_len - new_len);
			if (err)
				ret = err;
		}
		goto out;
	}
	struct kmm_vma *vma = vma_to_resize(mm, addr, old_len, new_len, &ret);
	if (!vma)
		goto out;
	unsigned long delta = new_len - old_len;
	if (old_len == vma->vm_end - addr &&
	    (!vma->vm_next || vma->vm_next->vm_start >= addr + new_len) &&
	    addr + new_len <= mm->task_size) {
		/* Room right after: grow in place (merging with the next VMA if it fits). */
		unsigned long ext = vma->vm_end;
		unsigned long pgoff = vma->vm_pgoff + vma_pages(vma);
		if (!vma_merge(mm, vma, NULL, ext, ext + delta, vma->vm_flags, vma->anon_vma,
			       vma->vm_file, pgoff)) {
			ret = -ENOMEM;
			goto out;
		}
		vm_stat_account(mm, vma->vm_flags, (long)(delta >> PAGE_SHIFT));
		if (vma->vm_flags & VM_LOCKED) {
			mm->locked_vm += delta >> PAGE_SHIFT;
			populate_from = ext;
			populate_len = delta;
		}
		ret = (long)addr;
		goto out;
	}
	ret = -ENOMEM;
	if (flags & KMM_MREMAP_MAYMOVE) {
		unsigned long map_flags = (vma->vm_flags & VM_MAYSHARE) ? KMM_MAP_SHARED : 0;
		unsigned long pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
		unsigned long dst =
		    get_unmapped_area(mm, vma->vm_file, 0, new_len, pgoff, map_flags);
		if (IS_ERR_ADDR(dst)) {
			ret = (long)dst;
			goto out;
		}
		bool locked = vma->vm_flags & VM_LOCKED;
		ret = move_vma(vma, addr, old_len, new_len, dst);
		if (ret >= 0 && locked) {
			populate_from = dst + old_len;
			populate_len = delta;
		}
	}
out:
	mmap_write_unlock(mm);
	if (populate_len) {
		mmap_read_lock(mm);
		populate_range(mm, populate_from, populate_from + populate_len);
		mmap_read_unlock(mm);
	}
	return ret;
}
