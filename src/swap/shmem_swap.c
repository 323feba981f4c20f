/*
 * Shared anonymous memory and swap: reclaim's writeout of a shmem page,
 * the swap-in of a shmem slot that holds a swap entry, and swapoff's walk
 * of every shmem mapping.
 *
 * Linux: mm/shmem.c of 6.1 (shmem_writepage, shmem_swapin_folio,
 * shmem_unuse, shmem_unuse_inode, shmem_find_swap_entries) and
 * mm/swapfile.c swap_shmem_alloc. The page-cache side is vm/shmem.c.
 *
 * Theory of operation.
 *  1. Writeout (shmem_writepage, called by reclaim for a dirty shmem page
 *     it has unmapped): a slot (SWAP_HAS_CACHE), the page into the swap
 *     cache, one swap_map reference for the mapping's entry, and the page
 *     replaced in its mapping by that entry. The page is then an ordinary
 *     swap-cache page that belongs to nothing: reclaim writes it, and frees
 *     it when the write succeeded; a failed write leaves it dirty in the
 *     swap cache, where the next fault or the next reclaim pass finds it.
 *  2. Swap-in (shmem_swapin, vm/'s swap hook): the swap-cache page of the
 *     entry, or a read of it and its neighbouring slots (swapin_readahead,
 *     checksums checked); with the page locked, still the entry's cache
 *     page, it takes the mapping slot if that still holds the entry
 *     (shmem_add_to_page_cache), leaves the swap cache and frees the slot:
 *     dirty, memory holds the only copy. A read error is -EIO: the faulting
 *     task gets SIGBUS, the slot and the entry stay for a later try.
 *  3. swapoff (shmem_unuse, before the walk of page tables, as Linux's
 *     try_to_unuse): every shmem mapping on the machine's list, every swap
 *     entry of the area going off, swapped in as a fault would.
 *
 * Locks: PG_locked, then the mapping's i_pages_lock or the swap locks
 * (never both); vm_state::inode_lock only to step along the inode list.
 */
#include "internal.h"
#include "../vm/vm.h"
#include "../rmap/rmap.h"
#include <errno.h>

int shmem_writepage(struct kmm_machine *m, struct kmm_page *page)
{
	KMM_BUG_ON(!PageLocked(page) || PageSwapCache(page) || PageAnon(page));
	struct kmm_address_space *mapping = page->mapping;
	KMM_BUG_ON(!mapping || !mapping_shmem(mapping));
	if (page_mapped(page))
		return -EBUSY;
	/* A slot and the swap cache, as for an anonymous page; dirty: the slot has no copy yet. */
	int err = add_to_swap(m, page);
	if (err)
		return err;
	swp_entry_t entry = page_swap_entry(page);
	/* The mapping's entry holds the slot (Linux swap_shmem_alloc): count 1 beside the cache. */
	err = swap_duplicate(m, entry);
	KMM_BUG_ON(err);
	shmem_delete_from_page_cache(page, swp_to_radix_entry(entry));
	/* pageout writes the page from here. */
	return 0;
}

static int shmem_swapin(struct kmm_machine *m, struct kmm_address_space *mapping,
			unsigned long index, swp_entry_t entry, struct kmm_page **pagep,
			bool *major)
{
	struct kmm_page *page = lookup_swap_cache(m, entry);
	*pagep = NULL;
	if (!page) {
		int err = 0;
		page = swapin_readahead(m, entry, GFP_HIGHUSER_MOVABLE, &err);
		if (!page)
			return err == -ENOENT ? -EAGAIN
					      : err; /* -ENOENT: the slot went meanwhile */
		*major = true;
	}
	/* Freed and reused meanwhile, or a read of it failed: the caller retries. */
	if (!swap_cache_lock_entry(m, page, entry))
		return -EAGAIN;
	/* shmem_confirm_swap and the insert in one: the slot must still name @entry. */
	if (shmem_add_to_page_cache(page, mapping, index, swp_to_radix_entry(entry))) {
		unlock_page(page);
		kmm_put_page(m, page);
		return -EAGAIN;
	}
	delete_from_swap_cache(m, page);
	SetPageDirty(page); /* memory holds the only copy now */
	swap_free(m, entry);
	*pagep = page;
	return 0;
}

/* Bring back every swap entry of area @type in @inode's mapping (Linux shmem_unuse_inode). */
static int shmem_unuse_inode(struct kmm_machine *m, struct kmm_inode *inode, unsigned int type)
{
	struct kmm_address_space *mapping = &inode->i_data;
	unsigned long index = 0;
	for (;;) {
		spin_lock(&mapping->i_pages_lock);
		void *entry = NULL;
		while (READ_ONCE(inode->swapped)) {
			entry = radix_tree_next(&mapping->i_pages, &index, -1);
			if (!entry ||
			    (xa_is_value(entry) && swp_type(radix_to_swp_entry(entry)) == type))
				break;
			index++;
		}
		spin_unlock(&mapping->i_pages_lock);
		if (!entry || !xa_is_value(entry))
			return 0;
		struct kmm_page *page;
		bool major = false;
		int err = shmem_swapin(m, mapping, index, radix_to_swp_entry(entry), &page, &major);
		if (!err) {
			unlock_page(page);
			kmm_put_page(m, page);
		} else if (err == -EIO) {
			return err; /* swapoff fails; the entry and its slot stay */
		}
		/* -EAGAIN, -ENOMEM: try_to_unuse walks again while slots remain. */
		index++;
	}
}

int shmem_unuse(struct kmm_machine *m, unsigned int type)
{
	struct vm_state *vm = vm_state(m);
	struct kmm_inode *prev = NULL;
	int ret = 0;
	if (!vm)
		return 0;
	/*
	 * A reference on the inode being worked on keeps it on the list (iput
	 * takes it off only when the last goes), so its link is valid to step
	 * from; an inode whose last reference is going is skipped: truncation
	 * frees its slots.
	 */
	spin_lock(&vm->inode_lock);
	struct list_head *pos = vm->shmem_inodes.next;
	while (pos != &vm->shmem_inodes) {
		struct kmm_inode *inode = list_entry(pos, struct kmm_inode, i_list);
		if (!READ_ONCE(inode->swapped) || !atomic_add_unless(&inode->i_count, 1, 0)) {
			pos = pos->next;
			continue;
		}
		spin_unlock(&vm->inode_lock);
		if (prev)
			iput(prev);
		prev = inode;
		ret = shmem_unuse_inode(m, inode, type);
		spin_lock(&vm->inode_lock);
		if (ret)
			break;
		pos = inode->i_list.next;
	}
	spin_unlock(&vm->inode_lock);
	if (prev)
		iput(prev);
	return ret;
}

void shmem_swap_init(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (vm)
		vm->swap.shmem_swapin = shmem_swapin;
}

void shmem_swap_exit(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (vm)
		vm->swap.shmem_swapin = NULL;
}
