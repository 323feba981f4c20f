/*
 * Page tables: allocating the four levels, finding entries, and freeing
 * tables when the address range they cover is unmapped.
 *
 * Linux: mm/memory.c (__pte_alloc, __pmd_alloc, __pud_alloc,
 * free_pgd_range, free_pgtables), arch/x86/mm/pgtable.c (pgd_alloc),
 * include/linux/mm.h (pgtable_pte_page_ctor: PageTable, the split lock,
 * NR_PAGETABLE). A table is one zeroed page from the buddy allocator, marked
 * PageTable, with the owning mm and (for PTE tables) the split lock in its
 * struct page.
 *
 * Accounting as in Linux 6.1: PMD and PTE tables count in NR_PAGETABLE
 * (meminfo's PageTables); PUD, PMD and PTE tables in the mm's
 * pgtables_bytes (the OOM killer's badness); the PGD in neither. kmm also
 * counts every level in vm_state::nr_table_pages, so a test can check that
 * none leaks.
 *
 * Upper levels are populated under mm->page_table_lock; the MMU walks the
 * tables without locks, so a new table is zeroed before the entry that
 * points to it is published (a release store, read with acquire loads).
 * Tables are freed only when the whole range they map lies in a hole
 * between VMAs (the floor/ceiling rule below), after the TLBs have been
 * flushed (they go through the mmu_gather).
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <string.h>

enum pt_level {
	PT_PTE,
	PT_PMD,
	PT_PUD,
	PT_PGD
};

static struct kmm_page *pt_alloc(struct kmm_mm *mm, enum pt_level level)
{
	struct kmm_machine *m = mm->machine;
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL_ACCOUNT | __GFP_ZERO, 0);
	if (!page)
		return NULL;
	__SetPageTable(page);
	page->pt_mm = mm;
	page->pt_nr_used = (unsigned long)level;
	spin_lock_init(&page->ptl);
	if (level <= PT_PMD)
		mod_node_page_state(page_pgdat(m, page), NR_PAGETABLE, 1);
	if (level != PT_PGD)
		atomic_long_add((long)PAGE_SIZE, &mm->pgtables_bytes);
	atomic_long_inc(&vm_state(m)->nr_table_pages);
	return page;
}

/* Undo pt_alloc's marks; the page is then free to go back to the allocator. */
void pt_dtor(struct kmm_mm *mm, struct kmm_page *page)
{
	struct kmm_machine *m = mm->machine;
	enum pt_level level = (enum pt_level)page->pt_nr_used;
	VM_BUG_ON_PAGE(!PageTable(page), page);
	if (level <= PT_PMD)
		mod_node_page_state(page_pgdat(m, page), NR_PAGETABLE, -1);
	if (level != PT_PGD)
		atomic_long_sub((long)PAGE_SIZE, &mm->pgtables_bytes);
	atomic_long_dec(&vm_state(m)->nr_table_pages);
	page->pt_mm = NULL;
	page->pt_nr_used = 0;
	page->ptl.locked = 0;
	__ClearPageTable(page);
}

pgd_t *pgd_alloc(struct kmm_mm *mm)
{
	struct kmm_page *page = pt_alloc(mm, PT_PGD);
	if (!page)
		return NULL;
	mm->pgd_page = page;
	mm->pgd = page_address(mm->machine, page);
	return mm->pgd;
}

void pgd_free(struct kmm_mm *mm)
{
	if (!mm->pgd_page)
		return;
	pt_dtor(mm, mm->pgd_page);
	kmm_free_pages(mm->machine, mm->pgd_page, 0);
	mm->pgd_page = NULL;
	mm->pgd = NULL;
}

/*
 * Make *@entry point to a new table of @level if it is empty. Returns false
 * only when no page could be allocated.
 */
static bool populate_entry(struct kmm_mm *mm, pteval_t *entry, enum pt_level level,
			   unsigned long addr)
{
	struct kmm_page *page = pt_alloc(mm, level);
	if (!page)
		return false;
	/* A PTE table knows where it maps: pte-chain rmap turns a PTE's address into a VA. */
	if (level == PT_PTE)
		page->pt_addr = addr & PMD_MASK;
	spin_lock(&mm->page_table_lock);
	if (!entry_read(entry)) {
		entry_write(entry, mk_table_entry(page_to_pfn(mm->machine, page)));
		page = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (page) { /* another thread populated it meanwhile */
		pt_dtor(mm, page);
		kmm_free_pages(mm->machine, page, 0);
	}
	return true;
}

/* The next level's entry for @addr below @entry, allocating the table if needed. */
static pteval_t *level_alloc(struct kmm_mm *mm, pteval_t *entry, enum pt_level level,
			     unsigned long idx, unsigned long addr)
{
	if (unlikely(!entry_read_acquire(entry)) && !populate_entry(mm, entry, level, addr))
		return NULL;
	return entry_table(mm->machine, entry_read_acquire(entry)) + idx;
}

pmd_t *pmd_alloc_map(struct kmm_mm *mm, unsigned long addr)
{
	pud_t *pud = level_alloc(mm, mm->pgd + pgd_index(addr), PT_PUD, pud_index(addr), addr);
	if (!pud)
		return NULL;
	return level_alloc(mm, pud, PT_PMD, pmd_index(addr), addr);
}

pte_t *pte_alloc_map(struct kmm_mm *mm, unsigned long addr, pmd_t **pmdp)
{
	pmd_t *pmd = pmd_alloc_map(mm, addr);
	if (!pmd)
		return NULL;
	pte_t *pte = level_alloc(mm, pmd, PT_PTE, pte_index(addr), addr);
	if (pte && pmdp)
		*pmdp = pmd;
	return pte;
}

pmd_t *pmd_lookup(struct kmm_mm *mm, unsigned long addr)
{
	struct kmm_machine *m = mm->machine;
	pgd_t pgd = entry_read_acquire(mm->pgd + pgd_index(addr));
	if (!pgd)
		return NULL;
	pud_t pud = entry_read_acquire(entry_table(m, pgd) + pud_index(addr));
	if (!pud)
		return NULL;
	return entry_table(m, pud) + pmd_index(addr);
}

pte_t *pte_lookup(struct kmm_mm *mm, unsigned long addr)
{
	pmd_t *pmd = pmd_lookup(mm, addr);
	if (!pmd)
		return NULL;
	pmd_t e = entry_read_acquire(pmd);
	if (!e)
		return NULL;
	return entry_table(mm->machine, e) + pte_index(addr);
}

/* --- Freeing tables ------------------------------------------------------------------ */

/*
 * The rule (Linux free_pgd_range): a table may go only if every address it
 * maps lies in [floor, ceiling), the hole between the VMAs left on either
 * side; ceiling 0 means the top of the address space. So for each level
 * we round the range to the level's coverage and shrink it from both ends
 * until it stays inside the hole.
 */
static void free_table_at(struct mmu_gather *tlb, pteval_t *entry, unsigned long addr)
{
	struct kmm_page *table = pfn_to_page(tlb->mm->machine, pmd_pfn(entry_read(entry)));
	entry_write(entry, 0);
	tlb_remove_table(tlb, table, addr);
}

/* Is the whole span [start & mask, +size) of a table inside [floor, ceiling)? */
static bool table_in_hole(unsigned long start, unsigned long end, unsigned long mask,
			  unsigned long floor, unsigned long ceiling)
{
	start &= mask;
	if (start < floor)
		return false;
	if (ceiling) {
		ceiling &= mask;
		if (!ceiling)
			return false;
	}
	return end - 1 <= ceiling - 1;
}

static void free_pmd_range(struct mmu_gather *tlb, pud_t *pud, unsigned long addr,
			   unsigned long end, unsigned long floor, unsigned long ceiling)
{
	struct kmm_machine *m = tlb->mm->machine;
	unsigned long start = addr;
	pmd_t *pmd = entry_table(m, entry_read(pud)) + pmd_index(addr);
	do {
		unsigned long next = pmd_addr_end(addr, end);
		if (entry_read(pmd))
			free_table_at(tlb, pmd, addr);
		pmd++;
		addr = next;
	} while (addr != end);
	if (table_in_hole(start, end, PUD_MASK, floor, ceiling))
		free_table_at(tlb, pud, start);
}

static void free_pud_range(struct mmu_gather *tlb, pgd_t *pgd, unsigned long addr,
			   unsigned long end, unsigned long floor, unsigned long ceiling)
{
	struct kmm_machine *m = tlb->mm->machine;
	unsigned long start = addr;
	pud_t *pud = entry_table(m, entry_read(pgd)) + pud_index(addr);
	do {
		unsigned long next = pud_addr_end(addr, end);
		if (entry_read(pud))
			free_pmd_range(tlb, pud, addr, next, floor, ceiling);
		pud++;
		addr = next;
	} while (addr != end);
	if (table_in_hole(start, end, PGDIR_MASK, floor, ceiling))
		free_table_at(tlb, pgd, start);
}

void free_pgd_range(struct mmu_gather *tlb, unsigned long addr, unsigned long end,
		    unsigned long floor, unsigned long ceiling)
{
	/*
	 * PTE tables cover 2 MiB: start at the first PMD-aligned address
	 * above the floor, and end at the last one at or below the ceiling.
	 */
	addr &= PMD_MASK;
	if (addr < floor) {
		addr += PMD_SIZE;
		if (!addr)
			return;
	}
	if (ceiling) {
		ceiling &= PMD_MASK;
		if (!ceiling)
			return;
	}
	if (end - 1 > ceiling - 1)
		end -= PMD_SIZE;
	if (addr > end - 1)
		return;
	pgd_t *pgd = tlb->mm->pgd + pgd_index(addr);
	do {
		unsigned long next = pgd_addr_end(addr, end);
		if (entry_read(pgd))
			free_pud_range(tlb, pgd, addr, next, floor, ceiling);
		pgd++;
		addr = next;
	} while (addr != end);
}

void free_pgtables(struct mmu_gather *tlb, struct kmm_vma *vma, unsigned long floor,
		   unsigned long ceiling)
{
	while (vma) {
		struct kmm_vma *next = vma->vm_next;
		unsigned long addr = vma->vm_start;
		/*
		 * Out of reach of rmap walks before its tables go (Linux 6.1
		 * free_pgtables): a walk holding the anon_vma or i_mmap lock
		 * then never looks into a table being freed.
		 */
		unlink_anon_vmas(vma);
		unlink_file_vma(vma);
		/* Neighbours in the list share tables: free their span in one pass. */
		while (next && next->vm_start <= vma->vm_end + PMD_SIZE) {
			vma = next;
			next = vma->vm_next;
			unlink_anon_vmas(vma);
			unlink_file_vma(vma);
		}
		free_pgd_range(tlb, addr, vma->vm_end, floor, next ? next->vm_start : ceiling);
		vma = next;
	}
}
