/*
 * struct kmm_page: one per page frame of simulated RAM.
 *
 * Linux: include/linux/mm_types.h (struct page), include/linux/page-flags.h,
 * include/linux/page_ref.h. Same layout idea as Linux 6.1: a flags word, five
 * words of union for whoever owns the page (buddy free lists, page cache and
 * anonymous pages, slab, page tables, compound tails), the map count (or a
 * page type), the reference count, and one word that Linux uses for memcg and
 * kmm uses for the pte-chain reverse map of the 2.5 era. 64 bytes.
 *
 * The flags word:  63 ............ 45 44 ...... 35 34 .. 32 31 ........ 0
 *                  [ section number ] [  node id  ] [ zone ] [ PG_ flags ]
 * (the section number is used by SPARSEMEM without vmemmap only).
 */
#ifndef KMM_MM_TYPES_H
#define KMM_MM_TYPES_H

#include <kmm/compiler.h>
#include <kmm/list.h>
#include <kmm/atomic.h>
#include <kmm/bitops.h>
#include <kmm/spinlock.h>
#include <kmm/bug.h>

#define PAGE_SHIFT  12
#define PAGE_SIZE   (1UL << PAGE_SHIFT)
#define PAGE_MASK   (~(PAGE_SIZE - 1))
#define PFN_UP(x)   (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_PHYS(x) ((uint64_t)(x) << PAGE_SHIFT)
#define PHYS_PFN(x) ((unsigned long)((x) >> PAGE_SHIFT))

typedef uint64_t phys_addr_t;
typedef unsigned int gfp_t;

struct kmm_kmem_cache;
struct kmm_address_space;
struct kmm_mm;
struct kmm_pte_chain;

/* Page flags (Linux 6.1 enum pageflags order, plus PG_direct from 2.5). */
enum pageflags {
	PG_locked,
	PG_referenced,
	PG_uptodate,
	PG_dirty,
	PG_lru,
	PG_active,
	PG_workingset,
	PG_waiters,
	PG_error,
	PG_slab,
	PG_owner_priv_1, /* PG_swapcache when PG_swapbacked */
	PG_arch_1,
	PG_reserved,
	PG_private,
	PG_private_2,
	PG_writeback,
	PG_head,
	PG_mappedtodisk,
	PG_reclaim,
	PG_swapbacked,
	PG_unevictable,
	PG_mlocked,
	PG_young,
	PG_idle,
	PG_direct,    /* pte-chain rmap: page->pte.direct holds the only mapping */
	PG_zeroed,    /* kmm: contents known to be zero (fresh from the host) */
	PG_chainlock, /* pte-chain rmap: bit lock of page->pte (Linux 2.5 pte_chain_lock) */
	__NR_PAGEFLAGS,
	PG_swapcache = PG_owner_priv_1,
};

#define KMM_PAGEFLAGS_BITS 32
#define ZONES_SHIFT	   3
#define ZONES_PGSHIFT	   32
#define NODES_SHIFT	   10
#define NODES_PGSHIFT	   (ZONES_PGSHIFT + ZONES_SHIFT)
#define SECTIONS_SHIFT	   19
#define SECTIONS_PGSHIFT   (NODES_PGSHIFT + NODES_SHIFT)
#define ZONES_MASK	   ((1UL << ZONES_SHIFT) - 1)
#define NODES_MASK	   ((1UL << NODES_SHIFT) - 1)
#define SECTIONS_MASK	   ((1UL << SECTIONS_SHIFT) - 1)

/*
 * Page types live in the map count of pages that are never mapped to user
 * space (Linux's PageType trick): the map count of an unmapped page is -1, so
 * a type is a *cleared* bit under PAGE_TYPE_BASE.
 */
#define PAGE_TYPE_BASE 0xf0000000u
#define PG_buddy       0x00000080u
#define PG_offline     0x00000100u
#define PG_table       0x00000200u
#define PG_guard       0x00000400u

struct kmm_page {
	unsigned long flags;
	union {
		struct { /* page cache and anonymous pages, buddy free and pcp lists */
			union {
				/* LRU list, or buddy free_list, or pcp list. */
				struct list_head lru;
				struct {
					void *__filler;
					unsigned int mlock_count;
				};
			};
			/* address_space, or anon_vma | PAGE_MAPPING_ANON. */
			struct kmm_address_space *mapping;
			/* Offset within the mapping; on pcp lists, the migratetype. */
			unsigned long index;
			/* Buddy: order of the free block. Swap cache: swap entry. */
			unsigned long private;
		};
		struct { /* slab (Linux 6.1 struct slab) */
			union {
				struct list_head slab_list;
				struct { /* per-CPU partial slabs */
					struct kmm_page *next;
					int slabs; /* number of slabs left in the chain */
				};
			};
			struct kmm_kmem_cache *slab_cache;
			void *freelist; /* first free object */
			union {
				unsigned long counters;
				struct {
					unsigned inuse : 16;
					unsigned objects : 15;
					unsigned frozen : 1;
					/* kmm: the CPU a frozen slab belongs to (to count remote frees) */
					unsigned cpu : 16;
				};
			};
		};
		struct { /* page-table pages */
			unsigned long
			    pt_addr; /* PTE tables: first address mapped (pte-chain rmap) */
			unsigned long _pt_pad_2;
			struct kmm_mm *pt_mm;
			unsigned long pt_nr_used; /* entries in use, to free empty tables */
			spinlock_t ptl;		  /* split page-table lock */
		};
		struct {			     /* tail pages of compound pages */
			unsigned long compound_head; /* bit 0 set */
			unsigned char compound_dtor;
			unsigned char compound_order;
			atomic_t compound_mapcount;
			unsigned int compound_nr;
		};
	};
	union {
		/* Number of PTEs mapping the page, minus one (-1: unmapped). */
		atomic_t _mapcount;
		/* Or a page type, for pages never mapped to user space. */
		unsigned int page_type;
	};
	atomic_t _refcount;
	/* Reverse map of the pte-chain design (Linux 2.5.27's page->pte). */
	union {
		struct kmm_pte_chain *chain;
		uint64_t *direct;
	} pte;
};

KMM_BUILD_BUG_ON(sizeof(struct kmm_page) != 64);

/* --- Flags -------------------------------------------------------------------- */

static inline bool kmm_test_page_flag(const struct kmm_page *page, enum pageflags f)
{
	return test_bit(f, &page->flags);
}

#define KMM_PAGEFLAG(uname, lname)                                                      \
	static inline bool Page##uname(const struct kmm_page *page)                     \
	{                                                                               \
		return test_bit(PG_##lname, &page->flags);                              \
	}                                                                               \
	static inline void SetPage##uname(struct kmm_page *page)                        \
	{                                                                               \
		set_bit(PG_##lname, &page->flags);                                      \
	}                                                                               \
	static inline void ClearPage##uname(struct kmm_page *page)                      \
	{                                                                               \
		clear_bit(PG_##lname, &page->flags);                                    \
	}                                                                               \
	static inline void __SetPage##uname(struct kmm_page *page)                      \
	{                                                                               \
		WRITE_ONCE(page->flags, READ_ONCE(page->flags) | (1UL << PG_##lname));  \
	}                                                                               \
	static inline void __ClearPage##uname(struct kmm_page *page)                    \
	{                                                                               \
		WRITE_ONCE(page->flags, READ_ONCE(page->flags) & ~(1UL << PG_##lname)); \
	}                                                                               \
	static inline bool TestSetPage##uname(struct kmm_page *page)                    \
	{                                                                               \
		return test_and_set_bit(PG_##lname, &page->flags);                      \
	}                                                                               \
	static inline bool TestClearPage##uname(struct kmm_page *page)                  \
	{                                                                               \
		return test_and_clear_bit(PG_##lname, &page->flags);                    \
	}

KMM_PAGEFLAG(Locked, locked)
KMM_PAGEFLAG(Referenced, referenced)
KMM_PAGEFLAG(Uptodate, uptodate)
KMM_PAGEFLAG(Dirty, dirty)
KMM_PAGEFLAG(LRU, lru)
KMM_PAGEFLAG(Active, active)
KMM_PAGEFLAG(Workingset, workingset)
KMM_PAGEFLAG(Error, error)
KMM_PAGEFLAG(Slab, slab)
KMM_PAGEFLAG(Reserved, reserved)
KMM_PAGEFLAG(Private, private)
KMM_PAGEFLAG(Writeback, writeback)
KMM_PAGEFLAG(Head, head)
KMM_PAGEFLAG(Reclaim, reclaim)
KMM_PAGEFLAG(SwapBacked, swapbacked)
KMM_PAGEFLAG(SwapCache, swapcache)
KMM_PAGEFLAG(Unevictable, unevictable)
KMM_PAGEFLAG(Mlocked, mlocked)
KMM_PAGEFLAG(Young, young)
KMM_PAGEFLAG(Direct, direct)
KMM_PAGEFLAG(Zeroed, zeroed)

/* --- Page types ---------------------------------------------------------------- */

#define KMM_PAGE_TYPE(uname, flag)                                                                 \
	static inline bool Page##uname(const struct kmm_page *page)                                \
	{                                                                                          \
		return (READ_ONCE(page->page_type) & (PAGE_TYPE_BASE | (flag))) == PAGE_TYPE_BASE; \
	}                                                                                          \
	static inline void __SetPage##uname(struct kmm_page *page)                                 \
	{                                                                                          \
		WRITE_ONCE(page->page_type, page->page_type & ~(flag));                            \
	}                                                                                          \
	static inline void __ClearPage##uname(struct kmm_page *page)                               \
	{                                                                                          \
		WRITE_ONCE(page->page_type, page->page_type | (flag));                             \
	}

KMM_PAGE_TYPE(Buddy, PG_buddy)
KMM_PAGE_TYPE(Offline, PG_offline)
KMM_PAGE_TYPE(Table, PG_table)
KMM_PAGE_TYPE(Guard, PG_guard)

/* --- Node, zone and section ids in the flags word --------------------------------- */

static inline unsigned int page_zonenum(const struct kmm_page *page)
{
	return (unsigned int)((READ_ONCE(page->flags) >> ZONES_PGSHIFT) & ZONES_MASK);
}
static inline int page_to_nid(const struct kmm_page *page)
{
	return (int)((READ_ONCE(page->flags) >> NODES_PGSHIFT) & NODES_MASK);
}
static inline unsigned long page_to_section(const struct kmm_page *page)
{
	return (READ_ONCE(page->flags) >> SECTIONS_PGSHIFT) & SECTIONS_MASK;
}
static inline void set_page_links(struct kmm_page *page, unsigned int zone, int nid,
				  unsigned long section)
{
	page->flags &= (1UL << ZONES_PGSHIFT) - 1;
	page->flags |= ((unsigned long)zone & ZONES_MASK) << ZONES_PGSHIFT |
		       ((unsigned long)nid & NODES_MASK) << NODES_PGSHIFT |
		       (section & SECTIONS_MASK) << SECTIONS_PGSHIFT;
}

/* --- Reference and map counts ------------------------------------------------------ */

static inline int page_ref_count(const struct kmm_page *page)
{
	return atomic_read(&page->_refcount);
}
static inline void set_page_count(struct kmm_page *page, int v)
{
	atomic_set(&page->_refcount, v);
}
static inline void init_page_count(struct kmm_page *page)
{
	set_page_count(page, 1);
}
static inline void page_ref_inc(struct kmm_page *page)
{
	atomic_inc(&page->_refcount);
}
static inline void page_ref_add(struct kmm_page *page, int nr)
{
	atomic_add(nr, &page->_refcount);
}
static inline bool page_ref_dec_and_test(struct kmm_page *page)
{
	return atomic_dec_and_test(&page->_refcount);
}
/* Take a reference only if the page is in use (refcount > 0). */
static inline bool get_page_unless_zero(struct kmm_page *page)
{
	return atomic_add_unless(&page->_refcount, 1, 0);
}
static inline bool put_page_testzero(struct kmm_page *page)
{
	return page_ref_dec_and_test(page);
}
static inline int page_mapcount_raw(const struct kmm_page *page)
{
	return atomic_read(&page->_mapcount) + 1;
}
static inline void page_mapcount_reset(struct kmm_page *page)
{
	atomic_set(&page->_mapcount, -1);
}

/* --- Compound pages ------------------------------------------------------------------ */

static inline bool PageTail(const struct kmm_page *page)
{
	return READ_ONCE(page->compound_head) & 1;
}
static inline bool PageCompound(const struct kmm_page *page)
{
	return PageHead(page) || PageTail(page);
}
static inline struct kmm_page *compound_head(struct kmm_page *page)
{
	unsigned long head = READ_ONCE(page->compound_head);
	return (head & 1) ? (struct kmm_page *)(head - 1) : page;
}
static inline unsigned int compound_order(const struct kmm_page *page)
{
	return PageHead(page) ? page[1].compound_order : 0;
}

#endif /* KMM_MM_TYPES_H */
