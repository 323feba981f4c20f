/*
 * x86-64 page-table entries: the bits, and helpers to read and build them.
 *
 * Linux: arch/x86/include/asm/pgtable_types.h, pgtable.h, pgtable_64.h.
 * Four levels of 512 eight-byte entries, each table one 4 KiB page frame of
 * simulated RAM from the buddy allocator:
 *
 *   virtual address  47      39 38      30 29      21 20      12 11        0
 *                    [ PGD idx ][ PUD idx ][ PMD idx ][ PTE idx ][ offset  ]
 *
 *   entry            63   62..52  51 ............. 12  11 10  9  8  7  6  5  4  3  2  1  0
 *                    [NX][ avail ][  page frame number  ][ - - SP][G][PS][D][A][CD][WT][U][W][P]
 *
 *   P  present          W  writable       U  user-accessible     A  accessed
 *   D  dirty (PTE only) PS huge page (not used: kmm maps 4 KiB pages only)
 *   G  global; in a non-present entry: PROTNONE (a PROT_NONE mapping that
 *      still holds its page: pte_present() is true, the MMU faults on it)
 *   SP special (software bit 9): maps the zero page, which has no refcount
 *      per mapping
 *
 * Upper-level entries (PGD, PUD, PMD) point to the next table and carry
 * P|W|U|A|D (_PAGE_TABLE), so permissions are decided at the PTE. An entry
 * of zero is "none". A non-present PTE that is not none and not PROTNONE
 * holds a swap entry, laid out as Linux's x86-64 (type in bits 59..63, the
 * offset inverted in bits 9..58): see <kmm/swapops.h>, which owns the swap
 * entry and its conversions.
 */
#ifndef KMM_VM_PGTABLE_H
#define KMM_VM_PGTABLE_H

#include <kmm/compiler.h>
#include <kmm/mm_types.h>
#include <kmm/swapops.h>

typedef uint64_t pteval_t;
typedef pteval_t pte_t;
typedef pteval_t pmd_t;
typedef pteval_t pud_t;
typedef pteval_t pgd_t;
typedef pteval_t pgprot_t;

#define PTRS_PER_PGD 512
#define PTRS_PER_PUD 512
#define PTRS_PER_PMD 512
#define PTRS_PER_PTE 512

#define PGDIR_SHIFT 39
#define PUD_SHIFT   30
#define PMD_SHIFT   21
#define PGDIR_SIZE  (1UL << PGDIR_SHIFT)
#define PUD_SIZE    (1UL << PUD_SHIFT)
#define PMD_SIZE    (1UL << PMD_SHIFT)
#define PGDIR_MASK  (~(PGDIR_SIZE - 1))
#define PUD_MASK    (~(PUD_SIZE - 1))
#define PMD_MASK    (~(PMD_SIZE - 1))

#define _PAGE_BIT_PRESENT  0
#define _PAGE_BIT_RW	   1
#define _PAGE_BIT_USER	   2
#define _PAGE_BIT_PWT	   3
#define _PAGE_BIT_PCD	   4
#define _PAGE_BIT_ACCESSED 5
#define _PAGE_BIT_DIRTY	   6
#define _PAGE_BIT_PSE	   7
#define _PAGE_BIT_GLOBAL   8
#define _PAGE_BIT_SPECIAL  9
#define _PAGE_BIT_NX	   63
#define _PAGE_BIT_PROTNONE _PAGE_BIT_GLOBAL

#define _PAGE_PRESENT  (1UL << _PAGE_BIT_PRESENT)
#define _PAGE_RW       (1UL << _PAGE_BIT_RW)
#define _PAGE_USER     (1UL << _PAGE_BIT_USER)
#define _PAGE_ACCESSED (1UL << _PAGE_BIT_ACCESSED)
#define _PAGE_DIRTY    (1UL << _PAGE_BIT_DIRTY)
#define _PAGE_PSE      (1UL << _PAGE_BIT_PSE)
#define _PAGE_GLOBAL   (1UL << _PAGE_BIT_GLOBAL)
#define _PAGE_SPECIAL  (1UL << _PAGE_BIT_SPECIAL)
#define _PAGE_PROTNONE (1UL << _PAGE_BIT_PROTNONE)
#define _PAGE_NX       (1UL << _PAGE_BIT_NX)

#define PTE_PFN_MASK 0x000ffffffffff000UL
#define _PAGE_TABLE  (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)

/* Protections a VMA's vm_page_prot can hold (Linux protection_map, x86). */
#define PAGE_NONE	   (_PAGE_PROTNONE | _PAGE_ACCESSED)
#define PAGE_READONLY	   (_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX)
#define PAGE_READONLY_EXEC (_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
#define PAGE_COPY	   PAGE_READONLY /* private writable: write faults copy */
#define PAGE_COPY_EXEC	   PAGE_READONLY_EXEC
#define PAGE_SHARED	   (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX)
#define PAGE_SHARED_EXEC   (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED)

static inline unsigned long pgd_index(unsigned long addr)
{
	return (addr >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1);
}
static inline unsigned long pud_index(unsigned long addr)
{
	return (addr >> PUD_SHIFT) & (PTRS_PER_PUD - 1);
}
static inline unsigned long pmd_index(unsigned long addr)
{
	return (addr >> PMD_SHIFT) & (PTRS_PER_PMD - 1);
}
static inline unsigned long pte_index(unsigned long addr)
{
	return (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
}

/* The end of the table entry covering @addr, clamped to @end (Linux *_addr_end). */
static inline unsigned long pgd_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long b = (addr + PGDIR_SIZE) & PGDIR_MASK;
	return b - 1 < end - 1 ? b : end;
}
static inline unsigned long pud_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long b = (addr + PUD_SIZE) & PUD_MASK;
	return b - 1 < end - 1 ? b : end;
}
static inline unsigned long pmd_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long b = (addr + PMD_SIZE) & PMD_MASK;
	return b - 1 < end - 1 ? b : end;
}

/* Entries are read and written with single 8-byte accesses: the MMU walks without locks. */
static inline pteval_t entry_read(const pteval_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}
/* Reading a pointer to a lower table: acquire, pairing with entry_write's release. */
static inline pteval_t entry_read_acquire(const pteval_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void entry_write(pteval_t *p, pteval_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline bool pte_none(pte_t pte)
{
	return pte == 0;
}
/* Present to the kernel: mapped to a page (PROTNONE mappings included). */
static inline bool pte_present(pte_t pte)
{
	return pte & (_PAGE_PRESENT | _PAGE_PROTNONE);
}
/* Present to the MMU. */
static inline bool pte_hw_present(pte_t pte)
{
	return pte & _PAGE_PRESENT;
}
static inline bool pte_write(pte_t pte)
{
	return pte & _PAGE_RW;
}
static inline bool pte_dirty(pte_t pte)
{
	return pte & _PAGE_DIRTY;
}
static inline bool pte_young(pte_t pte)
{
	return pte & _PAGE_ACCESSED;
}
static inline bool pte_special(pte_t pte)
{
	return pte & _PAGE_SPECIAL;
}
static inline unsigned long pte_pfn(pte_t pte)
{
	return (unsigned long)((pte & PTE_PFN_MASK) >> PAGE_SHIFT);
}
static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return ((pteval_t)pfn << PAGE_SHIFT) | (prot & ~PTE_PFN_MASK);
}
static inline pte_t pte_mkwrite(pte_t pte)
{
	return pte | _PAGE_RW;
}
static inline pte_t pte_wrprotect(pte_t pte)
{
	return pte & ~_PAGE_RW;
}
static inline pte_t pte_mkdirty(pte_t pte)
{
	return pte | _PAGE_DIRTY;
}
static inline pte_t pte_mkclean(pte_t pte)
{
	return pte & ~_PAGE_DIRTY;
}
static inline pte_t pte_mkyoung(pte_t pte)
{
	return pte | _PAGE_ACCESSED;
}
static inline pte_t pte_mkold(pte_t pte)
{
	return pte & ~_PAGE_ACCESSED;
}
static inline pte_t pte_mkspecial(pte_t pte)
{
	return pte | _PAGE_SPECIAL;
}
/* Change the protection, keeping the frame, the special bit and the A/D history. */
static inline pte_t pte_modify(pte_t pte, pgprot_t newprot)
{
	const pteval_t keep = PTE_PFN_MASK | _PAGE_SPECIAL | _PAGE_ACCESSED | _PAGE_DIRTY;
	return (pte & keep) | (newprot & ~keep);
}

/* Swap entries in non-present PTEs. */
static inline bool is_swap_pte(pte_t pte)
{
	return !pte_none(pte) && !pte_present(pte);
}

/* Upper levels. */
static inline bool pmd_none(pmd_t e)
{
	return e == 0;
}
static inline bool pmd_present(pmd_t e)
{
	return e & _PAGE_PRESENT;
}
static inline unsigned long pmd_pfn(pmd_t e)
{
	return (unsigned long)((e & PTE_PFN_MASK) >> PAGE_SHIFT);
}
static inline pmd_t mk_table_entry(unsigned long pfn)
{
	return ((pteval_t)pfn << PAGE_SHIFT) | _PAGE_TABLE;
}

#endif /* KMM_VM_PGTABLE_H */
