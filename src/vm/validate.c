/*
 * The address-space invariant checker (CONFIG_DEBUG_VM's validate_mm and
 * more), for tests: called after every step of a randomized run, it walks
 * every address space and every page cache of the machine and checks what
 * the counters and the struct pages claim against what the page tables
 * hold.
 *
 * Linux: mm/mmap.c validate_mm() and browse_rb(), mm/debug.c; the
 * page-count checks have no single counterpart (they are what
 * CONFIG_DEBUG_VM's scattered VM_BUG_ONs add up to).
 *
 * Per address space: the VMA tree and list agree, VMAs are sorted, disjoint,
 * page aligned and below TASK_SIZE; every present PTE lies in a VMA and
 * has no more permission than the VMA (never writable in a read-only VMA,
 * never writable on the zero page or on an anonymous page that another
 * PTE maps too); an anonymous page's anon_vma and index match the VMA and
 * the address; the RSS counters equal the PTEs counted by type; the
 * page-table pages equal pgtables_bytes.
 *
 * Machine-wide: every page's map count equals the PTEs that map it, and its
 * reference count equals those PTEs plus the page cache's reference;
 * NR_ANON_MAPPED, NR_FILE_MAPPED, NR_FILE_PAGES, NR_SHMEM, NR_FILE_DIRTY and
 * NR_PAGETABLE equal what the walk found.
 *
 * Call it when no other thread changes the machine. It takes each mm's
 * mmap_lock for reading and the page-cache locks.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

struct vm_census {
	struct kmm_machine *m;
	unsigned int *ptes;   /* per pfn: PTEs mapping it */
	unsigned char *cache; /* per pfn: 1 if in a page cache */
	unsigned long nr_pfns;
	unsigned long *seen; /* the pfns marked above, so the page checks visit only them */
	unsigned long nr_seen, max_seen;
	long pte_tables, pmd_tables, all_tables;
	long anon_mapped, file_mapped, file_pages, shmem_pages, file_dirty;
	struct kmm_error *err;
};

/* Note @pfn the first time it is marked; false if the list is full (host memory). */
static bool census_note(struct vm_census *c, unsigned long pfn)
{
	if (c->ptes[pfn] || c->cache[pfn])
		return true;
	if (c->nr_seen == c->max_seen) {
		unsigned long n = c->max_seen ? 2 * c->max_seen : 4096;
		unsigned long *p = kmm_port_alloc(n * sizeof(*p));
		if (!p)
			return false;
		if (c->seen) {
			memcpy(p, c->seen, c->nr_seen * sizeof(*p));
			kmm_port_free(c->seen, c->max_seen * sizeof(*p));
		}
		c->seen = p;
		c->max_seen = n;
	}
	c->seen[c->nr_seen++] = pfn;
	return true;
}

struct mm_walk_state {
	struct vm_census *c;
	struct kmm_mm *mm;
	long rss[NR_MM_COUNTERS];
	long tables; /* PUD, PMD and PTE tables (pgtables_bytes) */
};

static int check_pte(struct mm_walk_state *w, unsigned long addr, pte_t pte)
{
	struct vm_census *c = w->c;
	struct kmm_mm *mm = w->mm;
	struct kmm_machine *m = c->m;
	struct kmm_vma *vma = find_vma(mm, addr);
	if (!vma || vma->vm_start > addr)
		return kmm_error_set(c->err, -EINVAL, "mm %p: PTE %#lx at %#lx outside any VMA",
				     (void *)mm, (unsigned long)pte, addr);
	if (!pte_present(pte)) {
		w->rss[MM_SWAPENTS]++;
		return 0;
	}
	if (pte_write(pte) && !(vma->vm_flags & VM_WRITE))
		return kmm_error_set(
		    c->err, -EINVAL,
		    "PTE at %#lx is writable in a VMA without VM_WRITE (%#lx-%#lx)", addr,
		    vma->vm_start, vma->vm_end);
	unsigned long pfn = pte_pfn(pte);
	if (pte_special(pte)) {
		if (!is_zero_pfn(m, pfn) || pte_write(pte))
			return kmm_error_set(c->err, -EINVAL, "special PTE at %#lx maps pfn %#lx%s",
					     addr, pfn,
					     pte_write(pte) ? " writable" : " (not the zero page)");
		return 0;
	}
	if (pfn >= c->nr_pfns || !pfn_valid(m, pfn))
		return kmm_error_set(c->err, -EINVAL, "PTE at %#lx maps invalid pfn %#lx", addr,
				     pfn);
	struct kmm_page *page = pfn_to_page(m, pfn);
	if (!census_note(c, pfn))
		return kmm_error_set(c->err, -ENOMEM, "no host memory for the census");
	c->ptes[pfn]++;
	w->rss[mm_counter(page)]++;
	if (PageAnon(page)) {
		if (!vma_maps_anon_vma(vma, page_anon_vma(page)) ||
		    page->index != linear_page_index(vma, addr))
			return kmm_error_set(c->err, -EINVAL,
					     "anonymous page pfn %#lx at %#lx: anon_vma %p index "
					     "%lu, VMA has %p and "
					     "index %lu",
					     pfn, addr, (void *)page_anon_vma(page), page->index,
					     (void *)vma->anon_vma, linear_page_index(vma, addr));
		if (pte_write(pte) && page_mapcount(page) != 1)
			return kmm_error_set(c->err, -EINVAL,
					     "writable PTE at %#lx maps anonymous pfn %#lx that %d "
					     "PTEs share (copy-on-write broken)",
					     addr, pfn, page_mapcount(page));
	} else {
		struct kmm_address_space *mapping = page_mapping_file(page);
		if (!mapping || mapping != vma_mapping(vma) ||
		    page->index != linear_page_index(vma, addr))
			return kmm_error_set(
			    c->err, -EINVAL,
			    "file page pfn %#lx at %#lx: mapping %p index %lu, VMA "
			    "maps %p index %lu",
			    pfn, addr, (void *)mapping, page->index, (void *)vma_mapping(vma),
			    linear_page_index(vma, addr));
	}
	return 0;
}

static int check_table_page(struct vm_census *c, struct kmm_mm *mm, pteval_t entry)
{
	unsigned long pfn = pmd_pfn(entry);
	if (pfn >= c->nr_pfns || !pfn_valid(c->m, pfn))
		return kmm_error_set(c->err, -EINVAL, "table entry %#lx names invalid pfn",
				     (unsigned long)entry);
	struct kmm_page *page = pfn_to_page(c->m, pfn);
	if (!PageTable(page) || page->pt_mm != mm)
		return kmm_error_set(c->err, -EINVAL,
				     "table page pfn %#lx is not a page table of mm %p", pfn,
				     (void *)mm);
	return 0;
}

static int walk_mm(struct mm_walk_state *w)
{
	struct vm_census *c = w->c;
	struct kmm_machine *m = c->m;
	struct kmm_mm *mm = w->mm;
	int err;
	for (unsigned long i = 0; i < PTRS_PER_PGD; i++) {
		pgd_t pgd = entry_read(mm->pgd + i);
		if (!pgd)
			continue;
		if ((err = check_table_page(c, mm, pgd)))
			return err;
		w->tables++;
		c->all_tables++;
		pud_t *pud = entry_table(m, pgd);
		for (unsigned long j = 0; j < PTRS_PER_PUD; j++) {
			if (!pud[j])
				continue;
			if ((err = check_table_page(c, mm, pud[j])))
				return err;
			w->tables++;
			c->all_tables++;
			c->pmd_tables++;
			pmd_t *pmd = entry_table(m, pud[j]);
			for (unsigned long k = 0; k < PTRS_PER_PMD; k++) {
				if (!pmd[k])
					continue;
				if ((err = check_table_page(c, mm, pmd[k])))
					return err;
				w->tables++;
				c->all_tables++;
				c->pte_tables++;
				pte_t *pte = entry_table(m, pmd[k]);
				for (unsigned long l = 0; l < PTRS_PER_PTE; l++) {
					if (!pte[l])
						continue;
					unsigned long addr = i << PGDIR_SHIFT | j << PUD_SHIFT |
							     k << PMD_SHIFT | l << PAGE_SHIFT;
					if ((err = check_pte(w, addr, pte[l])))
						return err;
				}
			}
		}
	}
	return 0;
}

int mm_validate(struct kmm_mm *mm, struct kmm_error *err)
{
	return vma_tree_validate(mm, err);
}

static int census_mm(struct vm_census *c, struct kmm_mm *mm)
{
	struct mm_walk_state w = {.c = c, .mm = mm};
	int err = vma_tree_validate(mm, c->err);
	if (err)
		return err;
	c->all_tables++; /* the PGD */
	err = walk_mm(&w);
	if (err)
		return err;
	static const char *const names[NR_MM_COUNTERS] = {"MM_FILEPAGES", "MM_ANONPAGES",
							  "MM_SWAPENTS", "MM_SHMEMPAGES"};
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		if (get_mm_counter(mm, i) != w.rss[i])
			return kmm_error_set(c->err, -EINVAL,
					     "mm %p: %s is %ld but the page tables hold %ld",
					     (void *)mm, names[i], get_mm_counter(mm, i), w.rss[i]);
	long bytes = atomic_long_read(&mm->pgtables_bytes);
	if (bytes != w.tables * (long)PAGE_SIZE)
		return kmm_error_set(c->err, -EINVAL,
				     "mm %p: pgtables_bytes %ld but %ld table pages found",
				     (void *)mm, bytes, w.tables);
	unsigned long total = 0;
	for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next)
		total += vma_pages(vma);
	if (total != mm->total_vm)
		return kmm_error_set(c->err, -EINVAL, "mm %p: total_vm %lu but VMAs span %lu pages",
				     (void *)mm, mm->total_vm, total);
	return 0;
}

static int census_mapping(struct vm_census *c, struct kmm_address_space *mapping)
{
	const char *why;
	if (radix_tree_check(&mapping->i_pages, &why) < 0)
		return kmm_error_set(c->err, -EINVAL, "page cache of %s: %s", mapping->host->path,
				     why);
	unsigned long index, n = 0, swapped = 0;
	struct kmm_page *page;
	radix_tree_for_each(&mapping->i_pages, index, page, -1)
	{
		/*
		 * A value entry: in a file's cache the shadow of an evicted page,
		 * in shared memory a swap entry (swap/'s checker checks its slot).
		 */
		if (xa_is_value(page)) {
			swapped += mapping_shmem(mapping);
			continue;
		}
		unsigned long pfn = page_to_pfn(c->m, page);
		n++;
		if (mapping_shmem(mapping) && (PageSwapCache(page) || !PageSwapBacked(page)))
			return kmm_error_set(
			    c->err, -EINVAL,
			    "shared memory %p: pfn %#lx at index %lu has swapcache "
			    "%d, swapbacked %d",
			    (void *)mapping, pfn, index, PageSwapCache(page), PageSwapBacked(page));
		if (page->mapping != mapping || page->index != index)
			return kmm_error_set(c->err, -EINVAL,
					     "page cache of %s: pfn %#lx at index %lu has mapping "
					     "%p index %lu",
					     mapping->host->path, pfn, index, (void *)page->mapping,
					     page->index);
		if (PageDirty(page) !=
			radix_tree_tag_get(&mapping->i_pages, index, PAGECACHE_TAG_DIRTY) &&
		    !mapping_shmem(mapping))
			return kmm_error_set(
			    c->err, -EINVAL, "page cache of %s: index %lu dirty flag %d, tag %d",
			    mapping->host->path, index, PageDirty(page), !PageDirty(page));
		if (!census_note(c, pfn))
			return kmm_error_set(c->err, -ENOMEM, "no host memory for the census");
		c->cache[pfn] = 1;
		c->file_pages++;
		if (mapping_shmem(mapping))
			c->shmem_pages++;
		else if (PageDirty(page))
			c->file_dirty++;
	}
	if (n != mapping->nrpages)
		return kmm_error_set(c->err, -EINVAL,
				     "page cache of %s: nrpages %lu, tree holds %lu",
				     mapping->host->path, mapping->nrpages, n);
	if (mapping_shmem(mapping) && swapped != mapping->host->swapped)
		return kmm_error_set(c->err, -EINVAL,
				     "shared memory %p: swapped says %lu, tree holds %lu swap "
				     "entries",
				     (void *)mapping, mapping->host->swapped, swapped);
	return 0;
}

/* Walk every mm, and every file and shared-memory inode once. */
static int census_all(struct vm_census *c)
{
	struct vm_state *vm = vm_state(c->m);
	struct kmm_mm *mm;
	struct kmm_inode *inode;
	int err = 0;
	list_for_each_entry (inode, &vm->inodes, i_list)
		if ((err = census_mapping(c, &inode->i_data)))
			return err;
	list_for_each_entry (inode, &vm->shmem_inodes, i_list)
		if ((err = census_mapping(c, &inode->i_data)))
			return err;
	list_for_each_entry (mm, &vm->mmlist, mmlist) {
		mmap_read_lock(mm);
		err = census_mm(c, mm);
		mmap_read_unlock(mm);
		if (err)
			return err;
	}
	return 0;
}

static int check_pages(struct vm_census *c)
{
	struct kmm_machine *m = c->m;
	for (unsigned long i = 0; i < c->nr_seen; i++) {
		unsigned long pfn = c->seen[i];
		struct kmm_page *page = pfn_to_page(m, pfn);
		if (page_mapcount(page) != (int)c->ptes[pfn])
			return kmm_error_set(c->err, -EINVAL,
					     "pfn %#lx: map count %d but %u PTEs map it", pfn,
					     page_mapcount(page), c->ptes[pfn]);
		/* The swap cache holds a reference of its own (swap/). */
		int expect = (int)c->ptes[pfn] + c->cache[pfn] + (PageSwapCache(page) ? 1 : 0);
		if (page_ref_count(page) != expect)
			return kmm_error_set(c->err, -EINVAL,
					     "pfn %#lx: refcount %d but %u PTEs%s hold it", pfn,
					     page_ref_count(page), c->ptes[pfn],
					     c->cache[pfn] ? " and the page cache" : "");
		if (c->ptes[pfn]) {
			if (PageAnon(page))
				c->anon_mapped++;
			else
				c->file_mapped++;
		}
	}
	return 0;
}

static int check_counter(struct vm_census *c, enum node_stat_item item, long found)
{
	long v = (long)global_node_page_state(c->m, item);
	if (v != found)
		return kmm_error_set(c->err, -EINVAL, "%s is %ld but the walk found %ld",
				     kmm_node_stat_names[item], v, found);
	return 0;
}

int kmm_vm_validate(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	struct vm_census c = {.m = m, .err = err, .nr_pfns = m->max_pfn};
	c.ptes = kmm_port_alloc(c.nr_pfns * sizeof(*c.ptes));
	c.cache = kmm_port_alloc(c.nr_pfns);
	int ret = -ENOMEM;
	/* Pages in reclaim's per-CPU LRU batches hold a reference the census cannot see. */
	vm_lru_add_drain_all(m);
	if (!c.ptes || !c.cache) {
		kmm_error_set(err, -ENOMEM, "no host memory for the census");
		goto out;
	}
	spin_lock(&vm->mmlist_lock);
	ret = census_all(&c);
	spin_unlock(&vm->mmlist_lock);
	if (ret)
		goto out;
	if ((ret = check_pages(&c)))
		goto out;
	if ((ret = check_counter(&c, NR_ANON_MAPPED, c.anon_mapped)) ||
	    (ret = check_counter(&c, NR_FILE_MAPPED, c.file_mapped)) ||
	    /* As in Linux 6.1, swap-cache pages count as file pages too. */
	    (ret = check_counter(&c, NR_FILE_PAGES,
				 c.file_pages + (long)global_node_page_state(m, NR_SWAPCACHE))) ||
	    (ret = check_counter(&c, NR_SHMEM, c.shmem_pages)) ||
	    (ret = check_counter(&c, NR_FILE_DIRTY, c.file_dirty)) ||
	    (ret = check_counter(&c, NR_PAGETABLE, c.pte_tables + c.pmd_tables)))
		goto out;
	if (atomic_long_read(&vm->nr_table_pages) != c.all_tables) {
		ret = kmm_error_set(err, -EINVAL, "%ld page-table pages allocated, %ld in use",
				    atomic_long_read(&vm->nr_table_pages), c.all_tables);
		goto out;
	}
	if ((ret = shadow_nodes_validate(m, err)))
		goto out;
	ret = rmap_validate(m, err);
out:
	kmm_port_free(c.ptes, c.nr_pfns * sizeof(*c.ptes));
	kmm_port_free(c.cache, c.nr_pfns);
	if (c.seen)
		kmm_port_free(c.seen, c.max_seen * sizeof(*c.seen));
	return ret;
}
