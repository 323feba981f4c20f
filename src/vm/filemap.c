/*
 * The page cache: a file's pages by index, how faults find them, how they
 * are read ahead, marked dirty and written back.
 *
 * Linux: mm/filemap.c (filemap_fault, filemap_map_pages, find_get_page,
 * __filemap_add_folio, __filemap_remove_folio, filemap_write_and_wait_range,
 * folio_wait_locked), mm/readahead.c (page_cache_ra_unbounded, the mmap
 * read-around of do_sync_mmap_readahead), mm/page-writeback.c
 * (folio_mark_dirty, folio_account_dirtied, folio_clear_dirty_for_io),
 * mm/truncate.c (truncate_inode_pages).
 *
 * Theory of operation.
 *  1. Each address_space holds its pages in a radix tree, tagged DIRTY for
 *     pages that must be written back. A page in the cache has
 *     page->mapping and page->index set and one reference held by the tree.
 *  2. A fault that misses reads a window of pages around it (read-around,
 *     ra_pages = 32, i.e. 128 KiB, as Linux's default): the missing pages
 *     are allocated, inserted locked and not uptodate, read in runs with
 *     one preadv each, then marked uptodate and unlocked. A concurrent fault
 *     on one of them waits on its lock. Such a fault is major (pgmajfault).
 *  3. Writes through shared mappings mark pages dirty (at the write fault,
 *     or from the PTE dirty bit when the PTE goes); writeback clears the
 *     mark and pwrites the page, clamped to the file's size, so the host
 *     file holds what the tasks wrote.
 *  4. A page reclaim evicts leaves a shadow entry in its slot (a radix
 *     tree value entry, made by reclaim/workingset.c through the
 *     workingset_eviction hook); lookups treat it as a miss, and the page
 *     that takes the slot again reports the refault before it goes on the
 *     LRU. Truncation deletes shadows with the pages.
 *
 * Locks: mapping->i_pages_lock around the tree and nrpages; PG_locked
 * around a page's I/O and its first insertion. Both nest inside a PTE lock.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

static struct radix_tree_node *radix_node_alloc(void *ctx)
{
	struct kmm_machine *m = ctx;
	/*
	 * Called under i_pages_lock: no direct reclaim, which would take that
	 * lock again to drop cache pages (Linux's xarray allocates with
	 * GFP_NOWAIT under the lock for the same reason).
	 */
	return kmm_kmem_cache_alloc(vm_state(m)->radix_node_cachep, GFP_ATOMIC | __GFP_NOWARN);
}

static void radix_node_free(void *ctx, struct radix_tree_node *node)
{
	struct kmm_machine *m = ctx;
	kmm_kmem_cache_free(vm_state(m)->radix_node_cachep, node);
}

void mapping_init(struct kmm_address_space *mapping, struct kmm_inode *host,
		  const struct address_space_operations *a_ops)
{
	memset(mapping, 0, sizeof(*mapping));
	mapping->host = host;
	radix_tree_init(&mapping->i_pages, radix_node_alloc, radix_node_free, host->machine);
	spin_lock_init(&mapping->i_pages_lock);
	/* Nodes holding only shadows go on the shadow lists (shadow_nodes.c). */
	radix_tree_set_update(&mapping->i_pages, workingset_update_node, host->machine,
			      &mapping->i_pages_lock);
	mapping->i_mmap = RB_ROOT;
	init_rwsem(&mapping->i_mmap_rwsem);
	atomic_set(&mapping->i_mmap_writable, 0);
	mapping->a_ops = a_ops;
	mapping->ra_pages = 32;
}

void lock_page(struct kmm_page *page)
{
	unsigned int spins = 0;
	while (!trylock_page(page)) {
		if (++spins < 64)
			kmm_port_cpu_relax();
		else
			kmm_port_yield();
	}
}

struct kmm_page *find_get_page(struct kmm_address_space *mapping, unsigned long index)
{
	spin_lock(&mapping->i_pages_lock);
	struct kmm_page *page = radix_tree_lookup(&mapping->i_pages, index);
	if (xa_is_value(page))
		page = NULL; /* the shadow of an evicted page */
	if (page)
		kmm_get_page(page);
	spin_unlock(&mapping->i_pages_lock);
	return page;
}

static void page_cache_stat(struct kmm_address_space *mapping, struct kmm_page *page, long d)
{
	struct kmm_machine *m = mapping->host->machine;
	mod_node_page_state(page_pgdat(m, page), NR_FILE_PAGES, d);
	if (mapping_shmem(mapping))
		mod_node_page_state(page_pgdat(m, page), NR_SHMEM, d);
}

/*
 * Insert a locked page the caller holds a reference to; the tree takes a
 * reference of its own. A shadow entry in the slot (the page reclaim
 * evicted from there) is replaced, and tells the working-set code about the
 * refault before the page goes on the LRU (Linux filemap_add_folio).
 * Returns 0, -EEXIST if the index holds a page (or a shmem swap entry), or
 * -ENOMEM.
 */
int add_to_page_cache(struct kmm_page *page, struct kmm_address_space *mapping, unsigned long index)
{
	struct kmm_machine *m = mapping->host->machine;
	VM_BUG_ON_PAGE(!PageLocked(page), page);
	kmm_get_page(page);
	page->mapping = mapping;
	page->index = index;
	if (mapping_shmem(mapping))
		__SetPageSwapBacked(page);
	spin_lock(&mapping->i_pages_lock);
	void *shadow = radix_tree_lookup(&mapping->i_pages, index);
	int err;
	if (xa_is_value(shadow) && mapping_shmem(mapping)) {
		/* Shared memory's swap entry: only swap-in may take that slot (shmem.c). */
		shadow = NULL;
		err = -EEXIST;
	} else if (xa_is_value(shadow)) {
		radix_tree_replace(&mapping->i_pages, index, page);
		err = 0;
	} else {
		shadow = NULL;
		err = radix_tree_insert(&mapping->i_pages, index, page);
	}
	if (!err) {
		mapping->nrpages++;
		page_cache_stat(mapping, page, 1);
	}
	spin_unlock(&mapping->i_pages_lock);
	if (err) {
		page->mapping = NULL;
		ClearPageSwapBacked(page);
		page_ref_add(page, -1);
		return err;
	}
	if (shadow)
		vm_workingset_refault(m, page, shadow);
	lru_cache_add(m, page);
	return 0;
}

/*
 * Reclaim: take @page (locked, unmapped, isolated) out of @mapping if it is
 * clean and nobody but the cache and the caller holds it (Linux
 * __remove_mapping). Its refcount is frozen from 2 to 0 under the tree
 * lock, so no lookup can take a new reference; the caller frees it.
 */
bool __remove_mapping(struct kmm_address_space *mapping, struct kmm_page *page, bool reclaimed)
{
	VM_BUG_ON_PAGE(!PageLocked(page), page);
	spin_lock(&mapping->i_pages_lock);
	if (page->mapping != mapping || PageDirty(page) || page_mapped(page) ||
	    atomic_cmpxchg(&page->_refcount, 2, 0) != 2) {
		spin_unlock(&mapping->i_pages_lock);
		return false;
	}
	/*
	 * Reclaim leaves a shadow entry, so that a refault can tell how long
	 * the page was out (not for shared memory, which is not evicted).
	 */
	void *shadow = NULL;
	if (reclaimed && !mapping_shmem(mapping))
		shadow = vm_workingset_eviction(mapping->host->machine, page);
	if (shadow) {
		for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
			radix_tree_tag_clear(&mapping->i_pages, page->index, t);
		radix_tree_replace(&mapping->i_pages, page->index, shadow);
	} else {
		radix_tree_delete(&mapping->i_pages, page->index);
	}
	mapping->nrpages--;
	page_cache_stat(mapping, page, -1);
	WRITE_ONCE(page->mapping, NULL);
	spin_unlock(&mapping->i_pages_lock);
	return true;
}

bool remove_mapping(struct kmm_address_space *mapping, struct kmm_page *page)
{
	return __remove_mapping(mapping, page, false);
}

static void account_page_cleaned(struct kmm_address_space *mapping, struct kmm_page *page)
{
	struct kmm_machine *m = mapping->host->machine;
	mod_node_page_state(page_pgdat(m, page), NR_FILE_DIRTY, -1);
	mod_zone_page_state(page_zone(m, page), NR_ZONE_WRITE_PENDING, -1);
}

/* Take an unmapped page out of the cache and drop the tree's reference. */
void delete_from_page_cache(struct kmm_page *page)
{
	struct kmm_address_space *mapping = page_mapping_file(page);
	struct kmm_machine *m = mapping->host->machine;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_delete(&mapping->i_pages, page->index);
	mapping->nrpages--;
	page_cache_stat(mapping, page, -1);
	spin_unlock(&mapping->i_pages_lock);
	if (TestClearPageDirty(page) && !mapping_shmem(mapping))
		account_page_cleaned(mapping, page);
	WRITE_ONCE(page->mapping, NULL);
	vm_put_page(m, page);
}

void set_page_dirty(struct kmm_page *page)
{
	struct kmm_address_space *mapping = page_mapping_file(page);
	if (!mapping || mapping_shmem(mapping)) {
		/* Anonymous and shared-memory pages have no file to write to. */
		if (!PageDirty(page))
			SetPageDirty(page);
		return;
	}
	if (TestSetPageDirty(page))
		return;
	struct kmm_machine *m = mapping->host->machine;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_tag_set(&mapping->i_pages, page->index, PAGECACHE_TAG_DIRTY);
	spin_unlock(&mapping->i_pages_lock);
	mod_node_page_state(page_pgdat(m, page), NR_FILE_DIRTY, 1);
	mod_zone_page_state(page_zone(m, page), NR_ZONE_WRITE_PENDING, 1);
	mod_node_page_state(page_pgdat(m, page), NR_DIRTIED, 1);
}

void clear_page_dirty_for_io(struct kmm_page *page)
{
	struct kmm_address_space *mapping = page_mapping_file(page);
	if (!TestClearPageDirty(page))
		return;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_tag_clear(&mapping->i_pages, page->index, PAGECACHE_TAG_DIRTY);
	spin_unlock(&mapping->i_pages_lock);
	account_page_cleaned(mapping, page);
}

/*
 * Write @page (referenced by the caller; the reference goes) back if it is
 * still a dirty page of @mapping. Returns 1 if it was written, 0 if there
 * was nothing to write, or the write's error: then the page stays dirty,
 * keeping its data for a later attempt, and the error stays in wb_err.
 */
static int writeback_one(struct kmm_machine *m, struct kmm_address_space *mapping,
			 struct kmm_page *page)
{
	int ret = 0;
	lock_page(page);
	if (page->mapping == mapping && PageDirty(page)) {
		clear_page_dirty_for_io(page);
		ret = mapping->a_ops->writepage(mapping, page);
		if (ret) {
			set_page_dirty(page);
			mapping->wb_err = ret;
		} else {
			mod_node_page_state(page_pgdat(m, page), NR_WRITTEN, 1);
			count_vm_events(m, PGPGOUT, PAGE_SIZE / 512);
			ret = 1;
		}
	}
	unlock_page(page);
	vm_put_page(m, page);
	return ret;
}

/*
 * Write every dirty page of [first, last] back and wait for it (I/O is
 * synchronous here). Returns 0, or the first error (which also stays in
 * mapping->wb_err until msync reports it).
 */
int filemap_write_and_wait_range(struct kmm_address_space *mapping, unsigned long first,
				 unsigned long last)
{
	struct kmm_machine *m = mapping->host->machine;
	int ret = 0;
	if (!mapping->a_ops->writepage)
		return 0;
	unsigned long index = first;
	for (;;) {
		spin_lock(&mapping->i_pages_lock);
		struct kmm_page *page =
		    radix_tree_next(&mapping->i_pages, &index, PAGECACHE_TAG_DIRTY);
		if (page)
			kmm_get_page(page);
		spin_unlock(&mapping->i_pages_lock);
		if (!page || index > last) {
			if (page)
				vm_put_page(m, page);
			break;
		}
		ret = writeback_one(m, mapping, page);
		if (ret > 0)
			ret = 0;
		if (ret || index == ~0UL)
			break;
		index++;
	}
	return ret;
}

/*
 * The flusher's work, done by the caller: write back up to @nr dirty pages
 * of @mapping, lowest index first (for a file written sequentially, the
 * oldest first, as Linux's writeback of an inode by its dirtied_when).
 */
long filemap_writeback_pages(struct kmm_address_space *mapping, unsigned long nr)
{
	struct kmm_machine *m = mapping->host->machine;
	unsigned long index = 0, done = 0;
	if (!mapping->a_ops->writepage)
		return 0;
	while (done < nr) {
		spin_lock(&mapping->i_pages_lock);
		struct kmm_page *page =
		    radix_tree_next(&mapping->i_pages, &index, PAGECACHE_TAG_DIRTY);
		if (page)
			kmm_get_page(page);
		spin_unlock(&mapping->i_pages_lock);
		if (!page)
			break;
		int err = writeback_one(m, mapping, page);
		if (err < 0)
			return err;
		done += (unsigned long)err;
		if (index == ~0UL)
			break;
		index++;
	}
	return (long)done;
}

/*
 * Every page and every shadow entry of the file goes, and every swap entry
 * of shared memory with its slot (Linux truncate_inode_pages_range,
 * shmem_undo_range).
 */
void truncate_inode_pages(struct kmm_address_space *mapping)
{
	unsigned long index = 0;
	for (;;) {
		spin_lock(&mapping->i_pages_lock);
		struct kmm_page *page = radix_tree_next(&mapping->i_pages, &index, -1);
		if (xa_is_value(page)) {
			radix_tree_delete(&mapping->i_pages, index);
			if (mapping_shmem(mapping))
				WRITE_ONCE(mapping->host->swapped, mapping->host->swapped - 1);
			spin_unlock(&mapping->i_pages_lock);
			if (mapping_shmem(mapping))
				shmem_free_swap(mapping, page); /* a swap entry, not a shadow */
			continue;
		}
		if (page)
			kmm_get_page(page);
		spin_unlock(&mapping->i_pages_lock);
		if (!page)
			break;
		lock_page(page);
		if (page->mapping != mapping) {
			/* Reclaim moved it to swap meanwhile (shmem): look at the slot again. */
			unlock_page(page);
			vm_put_page(mapping->host->machine, page);
			continue;
		}
		VM_BUG_ON_PAGE(page_mapped(page), page);
		delete_from_page_cache(page);
		unlock_page(page);
		vm_put_page(mapping->host->machine, page);
	}
}

/* --- Reading ---------------------------------------------------------------------------- */

/* Read @nr locked pages at consecutive indices from @index; mark the good ones uptodate. */
static int read_run(struct kmm_address_space *mapping, struct kmm_page **pages, unsigned long index,
		    unsigned int nr)
{
	int err = mapping->a_ops->read_pages(mapping, pages, index, nr);
	for (unsigned int i = 0; i < nr; i++) {
		if (!err) {
			ClearPageError(pages[i]);
			SetPageUptodate(pages[i]);
		} else {
			SetPageError(pages[i]);
		}
	}
	if (!err && !mapping_shmem(mapping))
		count_vm_events(mapping->host->machine, PGPGIN, (long)(nr * (PAGE_SIZE / 512)));
	return err;
}

int filemap_read_page(struct kmm_address_space *mapping, struct kmm_page *page)
{
	struct kmm_page *one[1] = {page};
	VM_BUG_ON_PAGE(!PageLocked(page), page);
	return read_run(mapping, one, page->index, 1);
}

/*
 * Bring [index, index + nr) into the cache, clamped to the file's end:
 * pages already there are skipped; new pages are read in runs of
 * consecutive indices (page_cache_ra_unbounded + read_pages).
 */
void page_cache_readahead(struct kmm_address_space *mapping, unsigned long index, unsigned long nr)
{
	struct kmm_machine *m = mapping->host->machine;
	unsigned long max_idx = KMM_DIV_ROUND_UP(i_size_read(mapping->host), PAGE_SIZE);
	struct kmm_page *run[32];
	unsigned int n = 0;
	unsigned long run_start = index;

	if (index >= max_idx)
		return;
	if (nr > max_idx - index)
		nr = max_idx - index;
	for (unsigned long i = index; i < index + nr; i++) {
		struct kmm_page *page = NULL;
		spin_lock(&mapping->i_pages_lock);
		void *entry = radix_tree_lookup(&mapping->i_pages, i);
		bool cached = entry && !xa_is_value(entry);
		spin_unlock(&mapping->i_pages_lock);
		if (!cached) {
			page = kmm_alloc_pages(m, GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 0);
			if (page) {
				__SetPageLocked(page);
				if (add_to_page_cache(page, mapping, i)) {
					__ClearPageLocked(page);
					kmm_free_pages(m, page, 0);
					page = NULL;
				}
			}
		}
		if (page) {
			if (!n)
				run_start = i;
			run[n++] = page;
		}
		if (n && (!page || n == KMM_ARRAY_SIZE(run) || i + 1 == index + nr)) {
			read_run(mapping, run, run_start, n);
			for (unsigned int k = 0; k < n; k++) {
				unlock_page(run[k]);
				vm_put_page(m, run[k]);
			}
			n = 0;
		}
	}
}

unsigned int filemap_fault(struct vm_fault *vmf)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_address_space *mapping = vma_mapping(vma);
	struct kmm_machine *m = vma->vm_mm->machine;
	unsigned long index = vmf->pgoff;
	unsigned int ret = 0;

	if (index >= KMM_DIV_ROUND_UP(i_size_read(mapping->host), PAGE_SIZE)) {
		vmf->sigbus_code = KMM_BUS_ADRERR;
		return VM_FAULT_SIGBUS;
	}
	if (mapping_shmem(mapping))
		return shmem_fault(vmf);
	struct kmm_page *page = find_get_page(mapping, index);
	if (!page) {
		unsigned long start = index, nr = 1;
		if (!mapping_shmem(mapping)) {
			count_vm_event(m, PGMAJFAULT);
			ret = VM_FAULT_MAJOR;
			nr = mapping->ra_pages;
			if (vma->vm_flags & VM_RAND_READ)
				nr = 1;
			else if (!(vma->vm_flags & VM_SEQ_READ))
				start = index > nr / 2 ? index - nr / 2 : 0; /* read-around */
		}
		page_cache_readahead(mapping, start, nr);
		page = find_get_page(mapping, index);
		/*
		 * Reclaim on another CPU may take the page between the read and
		 * the lookup (it is unlocked and unmapped then): read it alone
		 * again, as Linux's filemap_fault retries its lookup.
		 */
		for (int tries = 0; !page && tries < 8; tries++) {
			page_cache_readahead(mapping, index, 1);
			page = find_get_page(mapping, index);
		}
		if (!page)
			return VM_FAULT_OOM;
	}
	lock_page(page);
	if (!PageUptodate(page)) {
		/* A read failed earlier (or raced with us and failed): try once more. */
		struct kmm_page *one[1] = {page};
		if (read_run(mapping, one, index, 1)) {
			unlock_page(page);
			vm_put_page(m, page);
			vmf->sigbus_code = KMM_BUS_OBJERR;
			return VM_FAULT_SIGBUS;
		}
	}
	vmf->page = page;
	return ret | VM_FAULT_LOCKED;
}

void filemap_map_pages(struct vm_fault *vmf, unsigned long start, unsigned long end)
{
	struct kmm_vma *vma = vmf->vma;
	struct kmm_mm *mm = vma->vm_mm;
	struct kmm_machine *m = mm->machine;
	struct kmm_address_space *mapping = vma_mapping(vma);
	unsigned long max_idx = KMM_DIV_ROUND_UP(i_size_read(mapping->host), PAGE_SIZE);
	pte_t *table = vmf->pte - pte_index(vmf->address);
	long mapped = 0;
	/*
	 * Under pte chains: a block preallocated for the pages that need one,
	 * the next ones without reclaim under the lock or, failing that, with
	 * the lock dropped (rmap.h); do_fault frees what is left.
	 */
	if (pte_chain_prealloc(m, &vmf->pte_chain))
		return;

	spin_lock(vmf->ptl);
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
again:;
		pte_t *pte = table + pte_index(addr);
		unsigned long idx = linear_page_index(vma, addr);
		if (idx >= max_idx)
			break;
		if (!pte_none(entry_read(pte)))
			continue;
		spin_lock(&mapping->i_pages_lock);
		struct kmm_page *page = radix_tree_lookup(&mapping->i_pages, idx);
		/* A locked page (under I/O, reclaim or truncation) is skipped, not referenced. */
		if (xa_is_value(page) || (page && PageLocked(page)))
			page = NULL;
		if (page)
			kmm_get_page(page);
		spin_unlock(&mapping->i_pages_lock);
		if (!page)
			continue;
		/*
		 * Mapped under its lock, as a fault maps a page (Linux
		 * next_uptodate_page): reclaim and truncation change
		 * page->mapping only with the page locked. Unlocked when looked
		 * up is not enough: reclaim may lock it next, find it unmapped
		 * and move a shmem page to the swap cache, which left a mapped
		 * page with no mapping in the swap cache (a stress run's crash
		 * in rmap_walk_file).
		 */
		if (!trylock_page(page)) {
			vm_put_page(m, page);
			continue;
		}
		if (page->mapping != mapping || page->index != idx || !PageUptodate(page)) {
			unlock_page(page);
			vm_put_page(m, page);
			continue;
		}
		int rc = page_add_file_rmap(page, vma, addr, pte, &vmf->pte_chain);
		if (unlikely(rc)) {
			unlock_page(page);
			vm_put_page(m, page);
			if (rc == -EAGAIN &&
			    !pte_chain_prealloc_relock(m, &vmf->pte_chain, vmf->ptl, NULL))
				goto again;
			break;
		}
		add_mm_counter(mm, mm_counter(page), 1);
		entry_write(pte, pfn_pte(page_to_pfn(m, page), vma->vm_page_prot));
		unlock_page(page);
		if (addr != vmf->address)
			mapped++;
	}
	spin_unlock(vmf->ptl);
	if (mapped)
		count_vm_events(m, KMM_FAULT_AROUND, mapped);
}
