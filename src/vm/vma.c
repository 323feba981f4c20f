/*
 * VMAs: the tree and list of an mm, finding holes, splitting and merging,
 * and the interval tree of a file's mappings.
 *
 * Linux: mm/mmap.c of 3.8-5.x (vma_compute_subtree_gap, vma_gap_update,
 * __vma_link_rb, find_vma, find_vma_prev, unmapped_area,
 * unmapped_area_topdown, __split_vma, vma_merge, can_vma_merge_before/after)
 * and mm/interval_tree.c. Linux 6.1 keeps VMAs in a maple tree; kmm keeps
 * the earlier augmented red-black tree, which has the same O(log n)
 * lookups and the same hole search, plus a sorted doubly linked list for
 * walking neighbours.
 *
 * Theory of operation.
 *  1. The tree is ordered by vm_start; VMAs never overlap, so ordering by
 *     start is ordering by end too, and boundary changes that keep VMAs
 *     disjoint need no re-insertion, only an update of the augmented gaps.
 *  2. Each node keeps rb_subtree_gap, the largest hole just below any VMA
 *     of its subtree (the hole between a VMA and its predecessor, with the
 *     stack guard gap of a grows-down VMA counted as used). The hole search
 *     descends only into subtrees whose largest hole is big enough.
 *  3. A VMA's gap depends on its predecessor's end, so changing a VMA's end
 *     updates its successor's gap; the list is always updated before the
 *     tree so gaps are computed from the right neighbours.
 *  4. Merging follows Linux's vma_merge: a new or changed range [start,end)
 *     joins the VMA ending at start and/or the VMA beginning at end when
 *     flags, file, page offsets and anon_vmas agree; the cases where only
 *     part of an existing VMA changes move the boundary between it and its
 *     neighbour instead of splitting.
 *
 * Locking: every change runs under mmap_lock held for writing; find_vma()
 * runs under it held for reading. The tree, the list, a linked VMA's
 * boundaries and its flags also change under mm->page_table_lock, the lock
 * a pte-chain rmap walk looks VMAs up under (as 2.5's vma_link and
 * mprotect did): reclaim may run inside a task that holds its mmap_lock
 * for writing (mmap allocating a VMA), and must find that task's mappings
 * all the same, as objrmap's walk does. i_mmap changes take the file
 * mapping's i_mmap_rwsem for writing.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

/* --- Allocation ---------------------------------------------------------------------- */

struct kmm_vma *vm_area_alloc(struct kmm_mm *mm)
{
	struct kmm_vma *vma = kmm_kmem_cache_alloc(vm_state(mm->machine)->vma_cachep, GFP_KERNEL);
	if (!vma)
		return NULL;
	memset(vma, 0, sizeof(*vma));
	vma->vm_mm = mm;
	INIT_LIST_HEAD(&vma->anon_vma_chain);
	RB_CLEAR_NODE(&vma->vm_rb);
	RB_CLEAR_NODE(&vma->shared.rb);
	return vma;
}

struct kmm_vma *vm_area_dup(struct kmm_vma *orig)
{
	struct kmm_vma *vma =
	    kmm_kmem_cache_alloc(vm_state(orig->vm_mm->machine)->vma_cachep, GFP_KERNEL);
	if (!vma)
		return NULL;
	/*
	 * Field by field: the original's i_mmap node (shared.rb) may be
	 * rotated by another mm inserting into the same file's tree right now
	 * (under i_mmap_rwsem, which we do not hold), so it is not read at all.
	 */
	memset(vma, 0, sizeof(*vma));
	vma->vm_start = orig->vm_start;
	vma->vm_end = orig->vm_end;
	vma->vm_mm = orig->vm_mm;
	vma->vm_page_prot = orig->vm_page_prot;
	vma->vm_flags = orig->vm_flags;
	vma->vm_pgoff = orig->vm_pgoff;
	vma->vm_file = orig->vm_file;
	vma->vm_private_data = orig->vm_private_data;
	INIT_LIST_HEAD(&vma->anon_vma_chain); /* anon_vma: the caller clones it */
	RB_CLEAR_NODE(&vma->vm_rb);
	RB_CLEAR_NODE(&vma->shared.rb);
	return vma;
}

void vm_area_free(struct kmm_vma *vma)
{
	kmm_kmem_cache_free(vm_state(vma->vm_mm->machine)->vma_cachep, vma);
}

/* --- The augmented tree ------------------------------------------------------------------ */

static unsigned long vma_compute_gap(const struct kmm_vma *vma)
{
	unsigned long gap = vm_start_gap(vma);
	if (vma->vm_prev) {
		unsigned long prev_end = vm_end_gap(vma->vm_prev);
		gap = gap > prev_end ? gap - prev_end : 0;
	}
	return gap;
}

static bool vma_gap_recompute(struct rb_node *node)
{
	struct kmm_vma *vma = rb_entry(node, struct kmm_vma, vm_rb);
	unsigned long max = vma_compute_gap(vma);
	if (node->rb_left) {
		unsigned long g = rb_entry(node->rb_left, struct kmm_vma, vm_rb)->rb_subtree_gap;
		if (g > max)
			max = g;
	}
	if (node->rb_right) {
		unsigned long g = rb_entry(node->rb_right, struct kmm_vma, vm_rb)->rb_subtree_gap;
		if (g > max)
			max = g;
	}
	if (vma->rb_subtree_gap == max)
		return false;
	vma->rb_subtree_gap = max;
	return true;
}

/* The gap below @vma changed (its start, or its predecessor's end). */
void vma_gap_update(struct kmm_vma *vma)
{
	rb_propagate(&vma->vm_rb, vma_gap_recompute);
}

static void update_highest_vm_end(struct kmm_mm *mm)
{
	struct rb_node *last = rb_last(&mm->mm_rb);
	mm->highest_vm_end = last ? vm_end_gap(rb_entry(last, struct kmm_vma, vm_rb)) : 0;
}

struct kmm_vma *find_vma(struct kmm_mm *mm, unsigned long addr)
{
	struct kmm_vma *vma = READ_ONCE(mm->mmap_cache);
	if (vma && vma->vm_start <= addr && vma->vm_end > addr)
		return vma;
	struct rb_node *node = mm->mm_rb.rb_node;
	vma = NULL;
	while (node) {
		struct kmm_vma *tmp = rb_entry(node, struct kmm_vma, vm_rb);
		if (tmp->vm_end > addr) {
			vma = tmp;
			if (tmp->vm_start <= addr)
				break;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	if (vma)
		WRITE_ONCE(mm->mmap_cache, vma);
	return vma;
}

struct kmm_vma *find_vma_prev(struct kmm_mm *mm, unsigned long addr, struct kmm_vma **pprev)
{
	struct kmm_vma *vma = find_vma(mm, addr);
	if (vma) {
		*pprev = vma->vm_prev;
	} else {
		struct rb_node *last = rb_last(&mm->mm_rb);
		*pprev = last ? rb_entry(last, struct kmm_vma, vm_rb) : NULL;
	}
	return vma;
}

/* --- i_mmap: VMAs of a file by page-offset range (Linux mm/interval_tree.c) ------------ */

static inline unsigned long vma_last_pgoff(const struct kmm_vma *vma)
{
	return vma->vm_pgoff + vma_pages(vma) - 1;
}

static bool itree_recompute(struct rb_node *node)
{
	struct kmm_vma *vma = rb_entry(node, struct kmm_vma, shared.rb);
	unsigned long last = vma_last_pgoff(vma);
	if (node->rb_left) {
		unsigned long l =
		    rb_entry(node->rb_left, struct kmm_vma, shared.rb)->shared.rb_subtree_last;
		if (l > last)
			last = l;
	}
	if (node->rb_right) {
		unsigned long l =
		    rb_entry(node->rb_right, struct kmm_vma, shared.rb)->shared.rb_subtree_last;
		if (l > last)
			last = l;
	}
	if (vma->shared.rb_subtree_last == last)
		return false;
	vma->shared.rb_subtree_last = last;
	return true;
}

void vma_interval_tree_insert(struct kmm_vma *vma, struct rb_root *root)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	while (*link) {
		parent = *link;
		struct kmm_vma *p = rb_entry(parent, struct kmm_vma, shared.rb);
		link = vma->vm_pgoff < p->vm_pgoff ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&vma->shared.rb, parent, link);
	rb_insert_augmented(&vma->shared.rb, root, itree_recompute);
}

void vma_interval_tree_remove(struct kmm_vma *vma, struct rb_root *root)
{
	rb_erase_augmented(&vma->shared.rb, root, itree_recompute);
	RB_CLEAR_NODE(&vma->shared.rb);
}

/* Leftmost VMA of the subtree at @node overlapping [first, last], or NULL. */
static struct kmm_vma *itree_subtree_search(struct rb_node *node, unsigned long first,
					    unsigned long last)
{
	while (node) {
		struct kmm_vma *vma = rb_entry(node, struct kmm_vma, shared.rb);
		if (node->rb_left) {
			struct kmm_vma *l = rb_entry(node->rb_left, struct kmm_vma, shared.rb);
			if (l->shared.rb_subtree_last >= first) {
				node = node->rb_left;
				continue;
			}
		}
		if (vma->vm_pgoff > last)
			return NULL;
		if (vma_last_pgoff(vma) >= first)
			return vma;
		node = node->rb_right;
		if (node &&
		    rb_entry(node, struct kmm_vma, shared.rb)->shared.rb_subtree_last < first)
			return NULL;
	}
	return NULL;
}

struct kmm_vma *vma_interval_tree_iter_first(struct rb_root *root, unsigned long first,
					     unsigned long last)
{
	if (!root->rb_node)
		return NULL;
	if (rb_entry(root->rb_node, struct kmm_vma, shared.rb)->shared.rb_subtree_last < first)
		return NULL;
	return itree_subtree_search(root->rb_node, first, last);
}

struct kmm_vma *vma_interval_tree_iter_next(struct kmm_vma *vma, unsigned long first,
					    unsigned long last)
{
	struct rb_node *node = &vma->shared.rb;
	for (;;) {
		/* Right subtree first: everything in it starts at or after this VMA. */
		struct rb_node *right = node->rb_right;
		if (right &&
		    rb_entry(right, struct kmm_vma, shared.rb)->shared.rb_subtree_last >= first) {
			struct kmm_vma *found = itree_subtree_search(right, first, last);
			if (found)
				return found;
		}
		/* Climb until we come up from a left child: that parent is next in order. */
		struct rb_node *prev;
		do {
			prev = node;
			node = rb_parent(node);
			if (!node)
				return NULL;
		} while (node->rb_right == prev);
		struct kmm_vma *cand = rb_entry(node, struct kmm_vma, shared.rb);
		if (cand->vm_pgoff > last)
			return NULL;
		if (vma_last_pgoff(cand) >= first)
			return cand;
	}
}

static void vma_link_file(struct kmm_vma *vma)
{
	struct kmm_address_space *mapping = vma_mapping(vma);
	if (!mapping)
		return;
	down_write(&mapping->i_mmap_rwsem);
	vma_interval_tree_insert(vma, &mapping->i_mmap);
	up_write(&mapping->i_mmap_rwsem);
}

void unlink_file_vma(struct kmm_vma *vma)
{
	struct kmm_address_space *mapping = vma_mapping(vma);
	if (!mapping)
		return;
	/* The node's links change under other mms' insertions: look only under the lock. */
	down_write(&mapping->i_mmap_rwsem);
	if (!RB_EMPTY_NODE(&vma->shared.rb))
		vma_interval_tree_remove(vma, &mapping->i_mmap);
	up_write(&mapping->i_mmap_rwsem);
}

/* --- Linking and unlinking ---------------------------------------------------------------- */

void vma_link(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma *prev)
{
	/* The list first: the tree's gaps are computed from list neighbours. */
	spin_lock(&mm->page_table_lock); /* pte-chain walks look VMAs up under it */
	struct kmm_vma *next = prev ? prev->vm_next : mm->mmap;
	vma->vm_prev = prev;
	vma->vm_next = next;
	if (prev)
		prev->vm_next = vma;
	else
		mm->mmap = vma;
	if (next)
		next->vm_prev = vma;

	/*
	 * The successor's gap shrinks: update the tree for it before inserting,
	 * so that the insertion's rotations start from consistent values (a
	 * rotation recomputing it afterwards would leave its ancestors stale).
	 */
	if (next)
		vma_gap_update(next);
	else
		mm->highest_vm_end = vm_end_gap(vma);
	struct rb_node **link = &mm->mm_rb.rb_node, *parent = NULL;
	while (*link) {
		parent = *link;
		struct kmm_vma *p = rb_entry(parent, struct kmm_vma, vm_rb);
		link = vma->vm_start < p->vm_start ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&vma->vm_rb, parent, link);
	rb_insert_augmented(&vma->vm_rb, &mm->mm_rb, vma_gap_recompute);
	spin_unlock(&mm->page_table_lock);
	vma_link_file(vma);
	if (vma->vm_file && (vma->vm_flags & VM_SHARED))
		atomic_inc(&vma->vm_file->f_mapping->i_mmap_writable);
	mm->map_count++;
}

void vma_unlink(struct kmm_mm *mm, struct kmm_vma *vma)
{
	struct kmm_vma *prev = vma->vm_prev, *next = vma->vm_next;
	spin_lock(&mm->page_table_lock);
	rb_erase_augmented(&vma->vm_rb, &mm->mm_rb, vma_gap_recompute);
	RB_CLEAR_NODE(&vma->vm_rb);
	if (prev)
		prev->vm_next = next;
	else
		mm->mmap = next;
	if (next) {
		next->vm_prev = prev;
		vma_gap_update(next);
	} else {
		update_highest_vm_end(mm);
	}
	vma->vm_next = vma->vm_prev = NULL;
	WRITE_ONCE(mm->mmap_cache, NULL);
	spin_unlock(&mm->page_table_lock);
	unlink_file_vma(vma);
	mm->map_count--;
}

/*
 * Move @vma's boundaries (and page offset) in place; it must stay disjoint
 * from its neighbours (Linux vma_adjust without the merge logic).
 */
void vma_set_range(struct kmm_vma *vma, unsigned long start, unsigned long end, unsigned long pgoff)
{
	bool file = vma_mapping(vma) != NULL; /* a linked file VMA is in i_mmap */
	if (file)
		unlink_file_vma(vma);
	/* An anon_vma walk computes addresses from these: it must not see them half changed. */
	struct kmm_anon_vma *av = vma->anon_vma;
	struct kmm_mm *mm = vma->vm_mm;
	if (av)
		down_write(&av->root->rwsem);
	/* So must a pte-chain walk, which finds the VMA in the mm's tree. */
	spin_lock(&mm->page_table_lock);
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	vma_gap_update(vma);
	if (vma->vm_next)
		vma_gap_update(vma->vm_next);
	else
		mm->highest_vm_end = vm_end_gap(vma);
	spin_unlock(&mm->page_table_lock);
	if (av)
		up_write(&av->root->rwsem);
	if (file)
		vma_link_file(vma);
}

/*
 * Free a VMA that is out of the tree and whose pages have been unmapped
 * (or taken over by a merged neighbour): drop its file and anon_vma. The
 * last shared mapping of a file writes the file's dirty pages back.
 */
void remove_vma(struct kmm_vma *vma)
{
	struct kmm_file *file = vma->vm_file;
	unlink_anon_vmas(vma);
	if (file) {
		struct kmm_address_space *mapping = file->f_mapping;
		if ((vma->vm_flags & VM_SHARED) && atomic_dec_and_test(&mapping->i_mmap_writable) &&
		    mapping->a_ops->writepage)
			filemap_write_and_wait_range(mapping, 0, ~0UL);
		fput(file);
	}
	vm_area_free(vma);
}

/* --- Protection bits ------------------------------------------------------------------- */

/* Linux protection_map[] for x86: index by VM_READ|VM_WRITE|VM_EXEC|VM_SHARED. */
static const pgprot_t protection_map[16] = {
    PAGE_NONE,		PAGE_READONLY,	    PAGE_COPY,	      PAGE_COPY,
    PAGE_READONLY_EXEC, PAGE_READONLY_EXEC, PAGE_COPY_EXEC,   PAGE_COPY_EXEC,
    PAGE_NONE,		PAGE_READONLY,	    PAGE_SHARED,      PAGE_SHARED,
    PAGE_READONLY_EXEC, PAGE_READONLY_EXEC, PAGE_SHARED_EXEC, PAGE_SHARED_EXEC,
};

pgprot_t vm_get_page_prot(unsigned long vm_flags)
{
	return protection_map[vm_flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)];
}

/*
 * Shared writable file mappings start their pages read-only, so the first
 * write to a clean page faults and marks it dirty (Linux
 * vma_wants_writenotify); shared memory has no dirty accounting.
 */
bool vma_wants_writenotify(const struct kmm_vma *vma)
{
	if ((vma->vm_flags & (VM_WRITE | VM_SHARED)) != (VM_WRITE | VM_SHARED))
		return false;
	struct kmm_address_space *mapping = vma_mapping(vma);
	return mapping && !mapping_shmem(mapping);
}

void vma_set_page_prot(struct kmm_vma *vma)
{
	pgprot_t prot = vm_get_page_prot(vma->vm_flags);
	if (vma_wants_writenotify(vma))
		prot &= ~_PAGE_RW;
	vma->vm_page_prot = prot;
}

/* Account pages to total_vm and the exec/stack/data classes (Linux vm_stat_account). */
void vm_stat_account(struct kmm_mm *mm, unsigned long flags, long npages)
{
	mm->total_vm += (unsigned long)npages;
	if ((flags & (VM_EXEC | VM_WRITE)) == VM_EXEC)
		mm->exec_vm += (unsigned long)npages;
	else if (flags & VM_STACK)
		mm->stack_vm += (unsigned long)npages;
	else if ((flags & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE)
		mm->data_vm += (unsigned long)npages;
}

/* --- Splitting and merging -------------------------------------------------------------- */

int split_vma(struct kmm_mm *mm, struct kmm_vma *vma, unsigned long addr, int new_below)
{
	if (mm->map_count >= vm_state(mm->machine)->max_map_count)
		return -ENOMEM;
	return __split_vma(mm, vma, addr, new_below);
}

int __split_vma(struct kmm_mm *mm, struct kmm_vma *vma, unsigned long addr, int new_below)
{
	struct kmm_vma *new = vm_area_dup(vma);
	if (!new)
		return -ENOMEM;
	if (anon_vma_clone(new, vma)) {
		vm_area_free(new);
		return -ENOMEM;
	}
	if (new->vm_file)
		get_file(new->vm_file);
	unsigned long off = (addr - vma->vm_start) >> PAGE_SHIFT;
	if (new_below) {
		new->vm_end = addr;
		vma_set_range(vma, addr, vma->vm_end, vma->vm_pgoff + off);
		vma_link(mm, new, vma->vm_prev);
	} else {
		new->vm_start = addr;
		new->vm_pgoff = vma->vm_pgoff + off;
		vma_set_range(vma, vma->vm_start, addr, vma->vm_pgoff);
		vma_link(mm, new, vma);
	}
	return 0;
}

static bool is_mergeable_vma(const struct kmm_vma *vma, struct kmm_file *file,
			     unsigned long vm_flags)
{
	return ((vma->vm_flags ^ vm_flags) & ~VM_IGNORE_MERGE) == 0 && vma->vm_file == file &&
	       !vma->vm_private_data;
}

/* May [.., end) with page offset @pgoff go in front of @vma? */
static bool can_vma_merge_before(struct kmm_vma *vma, unsigned long vm_flags,
				 struct kmm_anon_vma *anon_vma, struct kmm_file *file,
				 unsigned long pgoff_end)
{
	return is_mergeable_vma(vma, file, vm_flags) &&
	       is_mergeable_anon_vma(anon_vma, vma->anon_vma, vma) && vma->vm_pgoff == pgoff_end;
}

/* May [start, ..) with page offset @pgoff follow @vma? */
static bool can_vma_merge_after(struct kmm_vma *vma, unsigned long vm_flags,
				struct kmm_anon_vma *anon_vma, struct kmm_file *file,
				unsigned long pgoff)
{
	return is_mergeable_vma(vma, file, vm_flags) &&
	       is_mergeable_anon_vma(anon_vma, vma->anon_vma, vma) &&
	       vma->vm_pgoff + vma_pages(vma) == pgoff;
}

/* @keep absorbs @gone's pages: it takes @gone's anon_vma if it has none (vma_expand). */
static int adopt_anon_vma(struct kmm_vma *keep, struct kmm_vma *gone)
{
	if (gone && gone->anon_vma && !keep->anon_vma)
		return anon_vma_clone(keep, gone);
	return 0;
}

/* Unlink and free a VMA whose pages now belong to a neighbour. */
static void vma_merged_away(struct kmm_mm *mm, struct kmm_vma *vma)
{
	vma_unlink(mm, vma);
	remove_vma(vma);
}

/*
 * Merge the range [start, end), with the given attributes, into the VMAs
 * around it (Linux vma_merge). @curr is NULL when the range is a hole about
 * to be mapped (@prev is the VMA before it or NULL), or the VMA that holds
 * the whole range when its attributes change (@prev is curr's predecessor
 * when start == curr->vm_start, else curr). Returns the VMA now covering
 * the range, or NULL when nothing could merge (the caller then creates or
 * splits a VMA).
 */
struct kmm_vma *vma_merge(struct kmm_mm *mm, struct kmm_vma *prev, struct kmm_vma *curr,
			  unsigned long start, unsigned long end, unsigned long vm_flags,
			  struct kmm_anon_vma *anon_vma, struct kmm_file *file, unsigned long pgoff)
{
	unsigned long pglen = (end - start) >> PAGE_SHIFT;
	struct kmm_vma *next;

	if (curr) {
		if (prev == curr)
			prev = NULL; /* the range starts inside curr: no merge at the front */
		next = end == curr->vm_end ? curr->vm_next : NULL;
	} else {
		next = prev ? prev->vm_next : mm->mmap;
	}
	bool merge_prev = prev && prev->vm_end == start &&
			  can_vma_merge_after(prev, vm_flags, anon_vma, file, pgoff);
	bool merge_next = next && next->vm_start == end &&
			  can_vma_merge_before(next, vm_flags, anon_vma, file, pgoff + pglen);
	if (merge_prev && merge_next &&
	    !is_mergeable_anon_vma(prev->anon_vma, next->anon_vma, NULL))
		merge_next = false; /* two different anon_vmas cannot become one */

	if (curr && start == curr->vm_start && end == curr->vm_end) {
		/* The whole of curr changes: it may disappear into its neighbours. */
		if (merge_prev) {
			if (adopt_anon_vma(prev, curr) ||
			    (merge_next && adopt_anon_vma(prev, next)))
				return NULL;
			unsigned long new_end = merge_next ? next->vm_end : end;
			vma_merged_away(mm, curr);
			if (merge_next)
				vma_merged_away(mm, next);
			vma_set_range(prev, prev->vm_start, new_end, prev->vm_pgoff);
			return prev;
		}
		if (merge_next) {
			if (adopt_anon_vma(next, curr))
				return NULL;
			vma_merged_away(mm, curr);
			vma_set_range(next, start, next->vm_end, pgoff);
			return next;
		}
		return NULL;
	}
	if (curr) {
		/* Part of curr changes: move the boundary with a neighbour that matches. */
		if (merge_prev && start == curr->vm_start) {
			if (adopt_anon_vma(prev, curr))
				return NULL;
			vma_set_range(curr, end, curr->vm_end,
				      curr->vm_pgoff + ((end - curr->vm_start) >> PAGE_SHIFT));
			vma_set_range(prev, prev->vm_start, end, prev->vm_pgoff);
			return prev;
		}
		if (merge_next && end == curr->vm_end) {
			if (adopt_anon_vma(next, curr))
				return NULL;
			vma_set_range(curr, curr->vm_start, start, curr->vm_pgoff);
			vma_set_range(next, start, next->vm_end, pgoff);
			return next;
		}
		return NULL;
	}
	/* A hole being mapped. */
	if (merge_prev) {
		if (merge_next && adopt_anon_vma(prev, next))
			return NULL;
		unsigned long new_end = end;
		if (merge_next) {
			new_end = next->vm_end;
			vma_merged_away(mm, next);
		}
		vma_set_range(prev, prev->vm_start, new_end, prev->vm_pgoff);
		return prev;
	}
	if (merge_next) {
		vma_set_range(next, start, next->vm_end, pgoff);
		return next;
	}
	return NULL;
}

struct kmm_vma *vma_modify_flags(struct kmm_mm *mm, struct kmm_vma *prev, struct kmm_vma *vma,
				 unsigned long start, unsigned long end, unsigned long newflags,
				 int *err)
{
	unsigned long pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	struct kmm_vma *merged =
	    vma_merge(mm, prev, vma, start, end, newflags, vma->anon_vma, vma->vm_file, pgoff);
	if (merged)
		return merged;
	if (start != vma->vm_start) {
		*err = split_vma(mm, vma, start, 1);
		if (*err)
			return NULL;
	}
	if (end != vma->vm_end) {
		*err = split_vma(mm, vma, end, 0);
		if (*err)
			return NULL;
	}
	/* A pte-chain walk reads the flags under this lock (VM_LOCKED, VM_SEQ_READ). */
	spin_lock(&mm->page_table_lock);
	vma->vm_flags = newflags;
	spin_unlock(&mm->page_table_lock);
	return vma;
}

/* --- Finding holes ----------------------------------------------------------------------- */

/*
 * The highest (topdown) or lowest hole of @length in [low, high): descend
 * only into subtrees whose largest gap fits, visiting higher (or lower)
 * addresses first. Returns the address, or -ENOMEM.
 */
static unsigned long search_gap(struct rb_node *node, unsigned long length, unsigned long low,
				unsigned long high, bool topdown)
{
	if (!node || rb_entry(node, struct kmm_vma, vm_rb)->rb_subtree_gap < length)
		return -ENOMEM;
	struct kmm_vma *vma = rb_entry(node, struct kmm_vma, vm_rb);
	unsigned long addr;
	/*
	 * Holes in the right subtree lie above this VMA's end, holes in the
	 * left subtree below its start: skip a side that is out of range.
	 */
	bool try_right = vma->vm_end<high, try_left = vma->vm_start> low;
	if (topdown ? try_right : try_left) {
		addr = search_gap(topdown ? node->rb_right : node->rb_left, length, low, high,
				  topdown);
		if (!IS_ERR_ADDR(addr))
			return addr;
	}
	unsigned long gap_start = vma->vm_prev ? vm_end_gap(vma->vm_prev) : 0;
	unsigned long gap_end = vm_start_gap(vma);
	if (gap_start < low)
		gap_start = low;
	if (gap_end > high)
		gap_end = high;
	if (gap_end > gap_start && gap_end - gap_start >= length)
		return topdown ? gap_end - length : gap_start;
	if (topdown ? try_left : try_right)
		return search_gap(topdown ? node->rb_left : node->rb_right, length, low, high,
				  topdown);
	return -ENOMEM;
}

unsigned long unmapped_area_topdown(struct kmm_mm *mm, unsigned long length,
				    unsigned long low_limit, unsigned long high_limit)
{
	if (high_limit < length || high_limit - length < low_limit)
		return -ENOMEM;
	/* The hole above the last VMA first. */
	unsigned long gap_start = mm->highest_vm_end > low_limit ? mm->highest_vm_end : low_limit;
	if (high_limit > gap_start && high_limit - gap_start >= length)
		return high_limit - length;
	return search_gap(mm->mm_rb.rb_node, length, low_limit, high_limit, true);
}

unsigned long unmapped_area(struct kmm_mm *mm, unsigned long length, unsigned long low_limit,
			    unsigned long high_limit)
{
	if (high_limit < length || high_limit - length < low_limit)
		return -ENOMEM;
	unsigned long addr = search_gap(mm->mm_rb.rb_node, length, low_limit, high_limit, false);
	if (!IS_ERR_ADDR(addr))
		return addr;
	unsigned long gap_start = mm->highest_vm_end > low_limit ? mm->highest_vm_end : low_limit;
	if (high_limit > gap_start && high_limit - gap_start >= length)
		return gap_start;
	return -ENOMEM;
}

/* --- Checks ------------------------------------------------------------------------------ */

static __thread char gap_why[200];

static unsigned long check_gaps(struct rb_node *node, int *bad)
{
	if (!node)
		return 0;
	struct kmm_vma *vma = rb_entry(node, struct kmm_vma, vm_rb);
	unsigned long max = vma_compute_gap(vma);
	unsigned long l = check_gaps(node->rb_left, bad);
	unsigned long r = check_gaps(node->rb_right, bad);
	if (l > max)
		max = l;
	if (r > max)
		max = r;
	if (max != vma->rb_subtree_gap) {
		if (!*bad)
			kmm_port_snprintf(
			    gap_why, sizeof(gap_why),
			    "VMA %#lx-%#lx: rb_subtree_gap %#lx, should be %#lx (own gap "
			    "%#lx)",
			    vma->vm_start, vma->vm_end, vma->rb_subtree_gap, max,
			    vma_compute_gap(vma));
		*bad = 1;
	}
	return max;
}

int vma_tree_validate(struct kmm_mm *mm, struct kmm_error *err)
{
	const char *why;
	if (rb_check(&mm->mm_rb, &why) < 0)
		return kmm_error_set(err, -EINVAL, "mm %p: VMA tree broken: %s", (void *)mm, why);
	struct rb_node *node = rb_first(&mm->mm_rb);
	struct kmm_vma *prev = NULL;
	int n = 0;
	for (struct kmm_vma *vma = mm->mmap; vma; prev = vma, vma = vma->vm_next, n++) {
		if (!node || rb_entry(node, struct kmm_vma, vm_rb) != vma)
			return kmm_error_set(err, -EINVAL,
					     "mm %p: VMA list and tree differ at %#lx-%#lx",
					     (void *)mm, vma->vm_start, vma->vm_end);
		node = rb_next(node);
		if (vma->vm_prev != prev)
			return kmm_error_set(err, -EINVAL, "VMA %#lx-%#lx: wrong vm_prev",
					     vma->vm_start, vma->vm_end);
		if (vma->vm_start >= vma->vm_end || (vma->vm_start | vma->vm_end) & ~PAGE_MASK ||
		    vma->vm_end > mm->task_size)
			return kmm_error_set(err, -EINVAL, "VMA %#lx-%#lx: bad bounds",
					     vma->vm_start, vma->vm_end);
		if (prev && prev->vm_end > vma->vm_start)
			return kmm_error_set(err, -EINVAL, "VMAs %#lx-%#lx and %#lx-%#lx overlap",
					     prev->vm_start, prev->vm_end, vma->vm_start,
					     vma->vm_end);
		if (vma->vm_mm != mm)
			return kmm_error_set(err, -EINVAL, "VMA %#lx-%#lx: wrong vm_mm",
					     vma->vm_start, vma->vm_end);
	}
	if (node)
		return kmm_error_set(err, -EINVAL, "mm %p: tree has VMAs the list lacks",
				     (void *)mm);
	if (n != mm->map_count)
		return kmm_error_set(err, -EINVAL, "mm %p: map_count %d but %d VMAs", (void *)mm,
				     mm->map_count, n);
	if (mm->highest_vm_end != (prev ? vm_end_gap(prev) : 0))
		return kmm_error_set(err, -EINVAL, "mm %p: highest_vm_end %#lx, last VMA ends %#lx",
				     (void *)mm, mm->highest_vm_end, prev ? prev->vm_end : 0);
	int bad = 0;
	check_gaps(mm->mm_rb.rb_node, &bad);
	if (bad)
		return kmm_error_set(err, -EINVAL, "mm %p: %s", (void *)mm, gap_why);
	return 0;
}

void vm_debug_check_mm(struct kmm_mm *mm, const char *after)
{
	struct kmm_error err = {0};
	if (vma_tree_validate(mm, &err))
		KMM_BUG_ON_MSG(1, "after %s: %s", after, err.msg);
}
