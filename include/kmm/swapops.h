/*
 * Swap entries: which swap area and which slot of it hold a page, and how
 * that pair is written into a non-present x86-64 page-table entry.
 *
 * Linux: include/linux/swapops.h (the arch-independent swp_entry_t) and
 * arch/x86/include/asm/pgtable_64.h (__swp_entry, __swp_type, __swp_offset).
 * Two encodings, as in Linux:
 *
 *   swp_entry_t      63 ... 58 57 ................................... 0
 *   (everywhere but  [  type  ][                offset                 ]
 *    in PTEs)
 *   The offset is dense in the low bits, so the swap cache's radix tree
 *   (indexed by offset) stays compact.
 *
 *   swap PTE         63 ... 59 58 .......................... 9  8  7 .. 1  0
 *                    [  type  ][     ~offset (inverted)      ][0][ 0 .. 0][0]
 *   Bit 0 (present) and bit 8 (PROTNONE) are clear, so the entry is neither
 *   present nor a PROT_NONE mapping. The offset is stored inverted: Linux
 *   does so since 4.19 so that a non-present entry never points into real
 *   memory (the L1TF mitigation); kmm keeps the layout so that a PTE dump
 *   reads like the kernel's. Every swap PTE is non-zero because the high
 *   bits of an inverted small offset are all ones.
 *
 * kmm has no migration, device-private, hwpoison or marker entries, so all
 * 32 types name swap areas (Linux reserves the top few types for those).
 */
#ifndef KMM_SWAPOPS_H
#define KMM_SWAPOPS_H

#include <kmm/compiler.h>

#define MAX_SWAPFILES_SHIFT 5
#define MAX_SWAPFILES	    (1 << MAX_SWAPFILES_SHIFT)

/* The arch-independent entry: type in the top bits, offset below (swapops.h). */
#define SWP_TYPE_SHIFT	(63 - MAX_SWAPFILES_SHIFT) /* BITS_PER_XA_VALUE - 5 */
#define SWP_OFFSET_MASK ((1UL << SWP_TYPE_SHIFT) - 1)

/* The x86-64 PTE layout (pgtable_64.h): offset from bit 9, type in bits 59..63. */
#define SWP_TYPE_BITS	     5
#define SWP_OFFSET_FIRST_BIT 9 /* _PAGE_BIT_PROTNONE + 1 */
#define SWP_OFFSET_SHIFT     (SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS)

typedef struct {
	unsigned long val;
} swp_entry_t;

static inline swp_entry_t swp_entry(unsigned long type, unsigned long offset)
{
	swp_entry_t e = {(type << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK)};
	return e;
}
static inline unsigned int swp_type(swp_entry_t e)
{
	return (unsigned int)(e.val >> SWP_TYPE_SHIFT);
}
static inline unsigned long swp_offset(swp_entry_t e)
{
	return e.val & SWP_OFFSET_MASK;
}

/* The PTE value of a swap entry (__swp_entry + __swp_entry_to_pte). */
static inline uint64_t swp_entry_to_pte(swp_entry_t e)
{
	uint64_t offset = swp_offset(e), type = swp_type(e);
	return (~offset << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS) | (type << (64 - SWP_TYPE_BITS));
}
/* The swap entry a non-present, non-none PTE holds (__pte_to_swp_entry + __swp_type/offset). */
static inline swp_entry_t pte_to_swp_entry(uint64_t pte)
{
	unsigned long type = (unsigned long)(pte >> (64 - SWP_TYPE_BITS));
	unsigned long offset = (unsigned long)(~pte << SWP_TYPE_BITS >> SWP_OFFSET_SHIFT);
	return swp_entry(type, offset);
}
/*
 * The largest slot count an area can have: what survives the round trip
 * through a PTE (Linux generic_max_swapfile_size), 2^50 slots here.
 */
static inline unsigned long swp_max_offset(void)
{
	return swp_offset(pte_to_swp_entry(swp_entry_to_pte(swp_entry(0, ~0UL)))) + 1;
}

#endif /* KMM_SWAPOPS_H */
