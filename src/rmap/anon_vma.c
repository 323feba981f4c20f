/*
 * anon_vma and anon_vma_chain: which VMAs may map an anonymous page.
 *
 * Linux: mm/rmap.c (__anon_vma_prepare, anon_vma_clone, anon_vma_fork,
 * unlink_anon_vmas, is_mergeable_anon_vma in mm/mmap.c), as arranged since
 * 2.6.34 with 4.1's anon_vma reuse and 6.1's num_children/num_active_vmas.
 *
 * Theory of operation (objrmap design):
 * 1. A VMA gets its own anon_vma at its first anonymous fault. A page
 *    faulted there points to it (page->mapping, low bit set) and keeps its
 *    offset in page->index, so its address in any VMA is computable.
 * 2. A fork child's VMA is linked (one anon_vma_chain each) to every
 *    anon_vma its parent VMA is linked to, and gets a new anon_vma of its
 *    own for the pages it will create. A page made before the fork is thus
 *    found from its old anon_vma in parent and children; a page a child
 *    makes afterwards is found only from the child's anon_vma (and the
 *    child's own descendants), not in the parent or its siblings. This is
 *    what 2.6.34 fixed in the 2.6.7 design, where one anon_vma per fork
 *    tree made every walk visit every VMA of every process of the tree.
 * 3. All anon_vmas of one fork tree share the rwsem of the tree's root, so
 *    a VMA's chain (which spans several of them) is changed under one lock.
 * 4. Lifetime: an anon_vma holds one reference while any chain links it,
 *    each child anon_vma one on the root, and a walker one while it walks
 *    (page_get_anon_vma); when the last goes the anon_vma is freed, after
 *    a grace period if a walker may still be reading it (objects.c).
 * 5. Reuse: a fork links to ancestors anyway; when one of them has no VMA
 *    of its own any more and at most one child, the new VMA adopts it
 *    instead of allocating (long fork-and-exit chains stay short).
 *
 * Under the ptechain design the anon_vma is only the "anonymous" marker of
 * page->mapping: one anon_vma shared by a VMA, its split pieces and its
 * fork children, with no chains (the pte chains find the mappings).
 *
 * Locks: anon_vma root rwsem (write) -> mm->page_table_lock (prepare).
 * Callers hold mmap_lock for writing, except anon_vma_prepare (a fault,
 * mmap_lock for reading).
 */
#include "internal.h"
#include <errno.h>

static struct kmm_anon_vma *anon_vma_alloc(struct kmm_machine *m)
{
	struct kmm_anon_vma *av = rmap_obj_alloc(m, RMAP_ANON_VMA, GFP_KERNEL);
	if (!av)
		return NULL;
	av->root = av;
	av->parent = av;
	init_rwsem(&av->rwsem);
	atomic_set(&av->refcount, 1);
	av->num_children = 0;
	av->num_active_vmas = 0;
	INIT_LIST_HEAD(&av->head);
	av->machine = m;
	return av;
}

/* After a grace period if a walker is inside its read section (rmap_obj_free). */
static void anon_vma_free(struct kmm_anon_vma *av)
{
	rmap_obj_free(av->machine, RMAP_ANON_VMA, av);
}

void put_anon_vma(struct kmm_anon_vma *av)
{
	if (!atomic_dec_and_test(&av->refcount))
		return;
	struct kmm_anon_vma *root = av->root;
	anon_vma_free(av);
	/* A child held its root (Linux __put_anon_vma). */
	if (root != av && atomic_dec_and_test(&root->refcount))
		anon_vma_free(root);
}

static struct anon_vma_chain *avc_alloc(struct kmm_machine *m)
{
	return rmap_obj_alloc(m, RMAP_ANON_VMA_CHAIN, GFP_KERNEL);
}

static void avc_free(struct kmm_machine *m, struct anon_vma_chain *avc)
{
	rmap_obj_free(m, RMAP_ANON_VMA_CHAIN, avc);
}

static void avc_link(struct kmm_vma *vma, struct anon_vma_chain *avc, struct kmm_anon_vma *av)
{
	avc->vma = vma;
	avc->anon_vma = av;
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	list_add_tail(&avc->same_anon_vma, &av->head);
}

/* Switch the held root lock to @av's root (Linux lock_anon_vma_root). */
static struct kmm_anon_vma *lock_root(struct kmm_anon_vma *held, struct kmm_anon_vma *av)
{
	struct kmm_anon_vma *root = av->root;
	if (root != held) {
		if (held)
			up_write(&held->rwsem);
		down_write(&root->rwsem);
	}
	return root;
}

static void unlock_root(struct kmm_anon_vma *held)
{
	if (held)
		up_write(&held->rwsem);
}

/* --- The ptechain design's marker anon_vma -------------------------------------------- */

static int marker_prepare(struct kmm_vma *vma)
{
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_anon_vma *av = anon_vma_alloc(mm->machine);
	if (!av)
		return -ENOMEM;
	spin_lock(&mm->page_table_lock);
	if (!vma->anon_vma) {
		WRITE_ONCE(vma->anon_vma, av);
		av = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (av) /* another fault of this VMA won */
		put_anon_vma(av);
	return 0;
}

static int marker_clone(struct kmm_vma *dst, struct kmm_vma *src)
{
	if (src->anon_vma) {
		atomic_inc(&src->anon_vma->refcount);
		dst->anon_vma = src->anon_vma;
	}
	return 0;
}

/* --- anon_vma_chain (objrmap) ---------------------------------------------------------- */

int anon_vma_prepare(struct kmm_vma *vma)
{
	if (likely(READ_ONCE(vma->anon_vma)))
		return 0;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	if (rmap_ptechain(m))
		return marker_prepare(vma);

	struct anon_vma_chain *avc = avc_alloc(m);
	if (!avc)
		return -ENOMEM;
	struct kmm_anon_vma *av = anon_vma_alloc(m);
	if (!av) {
		avc_free(m, avc);
		return -ENOMEM;
	}
	down_write(&av->rwsem);
	spin_lock(&mm->page_table_lock);
	if (likely(!vma->anon_vma)) {
		avc_link(vma, avc, av);
		av->num_active_vmas++;
		WRITE_ONCE(vma->anon_vma, av);
		avc = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	up_write(&av->rwsem);
	if (avc) { /* another fault of this VMA won */
		avc_free(m, avc);
		put_anon_vma(av);
	}
	return 0;
}

/*
 * Link @dst to every anon_vma @src is linked to. @fork: @dst is a fork
 * child that has no anon_vma yet and may adopt an unused ancestor's.
 */
static int __anon_vma_clone(struct kmm_vma *dst, struct kmm_vma *src, bool fork)
{
	struct kmm_machine *m = src->vm_mm->machine;
	struct kmm_anon_vma *root = NULL;
	struct anon_vma_chain *pavc;

	/* Oldest first, so @dst's list keeps @src's order (newest first). */
	list_for_each_entry_reverse (pavc, &src->anon_vma_chain, same_vma) {
		/*
		 * Not into reclaim with a root lock held: reclaim's walk of a page
		 * of this fork tree would wait for it (Linux anon_vma_clone, the
		 * same two tries).
		 */
		struct anon_vma_chain *avc =
		    root ? rmap_obj_alloc(m, RMAP_ANON_VMA_CHAIN, GFP_NOWAIT | __GFP_NOWARN) : NULL;
		if (!avc) {
			unlock_root(root);
			root = NULL;
			avc = avc_alloc(m);
		}
		if (unlikely(!avc)) {
			dst->anon_vma = NULL;
			unlink_anon_vmas(dst);
			return -ENOMEM;
		}
		struct kmm_anon_vma *av = pavc->anon_vma;
		root = lock_root(root, av);
		avc_link(dst, avc, av);
		/* Linux 4.1 / 6.1: adopt an ancestor nobody uses as its own any more. */
		if (fork && !dst->anon_vma && av != src->anon_vma && av->num_active_vmas == 0 &&
		    av->num_children < 2)
			dst->anon_vma = av;
	}
	if (dst->anon_vma)
		dst->anon_vma->num_active_vmas++;
	unlock_root(root);
	return 0;
}

int anon_vma_clone(struct kmm_vma *dst, struct kmm_vma *src)
{
	if (!src->anon_vma)
		return 0;
	if (rmap_ptechain(src->vm_mm->machine))
		return marker_clone(dst, src);
	dst->anon_vma = src->anon_vma;
	return __anon_vma_clone(dst, src, false);
}

int anon_vma_fork(struct kmm_vma *vma, struct kmm_vma *pvma)
{
	vma->anon_vma = NULL;
	if (!pvma->anon_vma)
		return 0;
	struct kmm_machine *m = pvma->vm_mm->machine;
	if (rmap_ptechain(m))
		return marker_clone(vma, pvma);

	int err = __anon_vma_clone(vma, pvma, true);
	if (err)
		return err;
	if (vma->anon_vma) /* reused an ancestor's */
		return 0;

	struct kmm_anon_vma *av = anon_vma_alloc(m);
	struct anon_vma_chain *avc = av ? avc_alloc(m) : NULL;
	if (!avc) {
		if (av)
			anon_vma_free(av);
		unlink_anon_vmas(vma);
		return -ENOMEM;
	}
	av->num_active_vmas++;
	av->root = pvma->anon_vma->root;
	av->parent = pvma->anon_vma;
	atomic_inc(&av->root->refcount); /* a child holds its root */
	vma->anon_vma = av;
	down_write(&av->root->rwsem);
	avc_link(vma, avc, av);
	av->parent->num_children++;
	up_write(&av->root->rwsem);
	return 0;
}

void unlink_anon_vmas(struct kmm_vma *vma)
{
	struct kmm_machine *m = vma->vm_mm->machine;
	if (rmap_ptechain(m)) {
		if (vma->anon_vma) {
			put_anon_vma(vma->anon_vma);
			vma->anon_vma = NULL;
		}
		return;
	}

	struct kmm_anon_vma *root = NULL;
	struct anon_vma_chain *avc, *next;
	list_for_each_entry_safe (avc, next, &vma->anon_vma_chain, same_vma) {
		struct kmm_anon_vma *av = avc->anon_vma;
		root = lock_root(root, av);
		list_del(&avc->same_anon_vma);
		/* An anon_vma left with no VMA stays on our list, to be put outside the lock. */
		if (list_empty(&av->head)) {
			av->parent->num_children--;
			continue;
		}
		list_del(&avc->same_vma);
		avc_free(m, avc);
	}
	if (vma->anon_vma) {
		vma->anon_vma->num_active_vmas--;
		vma->anon_vma = NULL;
	}
	unlock_root(root);

	list_for_each_entry_safe (avc, next, &vma->anon_vma_chain, same_vma) {
		struct kmm_anon_vma *av = avc->anon_vma;
		list_del(&avc->same_vma);
		avc_free(m, avc);
		put_anon_vma(av);
	}
}

bool is_mergeable_anon_vma(struct kmm_anon_vma *a1, struct kmm_anon_vma *a2, struct kmm_vma *vma)
{
	/*
	 * A VMA without an anon_vma may join one that has it, unless @vma was
	 * forked and links to more anon_vmas than its own (Linux mm/mmap.c:
	 * its pages could then be found through only one of them).
	 */
	if ((!a1 || !a2) &&
	    (!vma || list_empty(&vma->anon_vma_chain) || list_is_singular(&vma->anon_vma_chain)))
		return true;
	return a1 == a2;
}

bool vma_maps_anon_vma(struct kmm_vma *vma, struct kmm_anon_vma *av)
{
	if (rmap_ptechain(vma->vm_mm->machine))
		return vma->anon_vma == av;
	struct anon_vma_chain *avc;
	list_for_each_entry (avc, &vma->anon_vma_chain, same_vma)
		if (avc->anon_vma == av)
			return true;
	return false;
}

int anon_vma_validate_mm(struct kmm_mm *mm, struct kmm_error *err)
{
	for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next) {
		struct anon_vma_chain *avc;
		struct kmm_anon_vma *root = NULL;
		bool own = false;
		list_for_each_entry (avc, &vma->anon_vma_chain, same_vma) {
			struct kmm_anon_vma *av = avc->anon_vma;
			if (avc->vma != vma)
				return kmm_error_set(
				    err, -EINVAL, "VMA %#lx-%#lx: anon_vma_chain %p names VMA %p",
				    vma->vm_start, vma->vm_end, (void *)avc, (void *)avc->vma);
			if (root && av->root != root)
				return kmm_error_set(err, -EINVAL,
						     "VMA %#lx-%#lx links anon_vmas of two roots",
						     vma->vm_start, vma->vm_end);
			root = av->root;
			if (av == vma->anon_vma)
				own = true;
			if (atomic_read(&av->refcount) <= 0 || list_empty(&av->head))
				return kmm_error_set(
				    err, -EINVAL,
				    "VMA %#lx-%#lx links anon_vma %p with refcount "
				    "%d and %s list",
				    vma->vm_start, vma->vm_end, (void *)av,
				    atomic_read(&av->refcount),
				    list_empty(&av->head) ? "an empty" : "a");
			bool found = false;
			struct anon_vma_chain *x;
			list_for_each_entry (x, &av->head, same_anon_vma)
				if (x == avc)
					found = true;
			if (!found)
				return kmm_error_set(
				    err, -EINVAL,
				    "VMA %#lx-%#lx: chain %p missing from anon_vma %p",
				    vma->vm_start, vma->vm_end, (void *)avc, (void *)av);
		}
		if (vma->anon_vma && !own)
			return kmm_error_set(err, -EINVAL,
					     "VMA %#lx-%#lx: its anon_vma %p is not on its chain",
					     vma->vm_start, vma->vm_end, (void *)vma->anon_vma);
		if (!vma->anon_vma && !list_empty(&vma->anon_vma_chain))
			return kmm_error_set(err, -EINVAL,
					     "VMA %#lx-%#lx has chains but no anon_vma",
					     vma->vm_start, vma->vm_end);
	}
	return 0;
}
