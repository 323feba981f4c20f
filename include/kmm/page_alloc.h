/*
 * The zoned buddy page allocator: the public API.
 *
 * Linux: include/linux/gfp.h (alloc_pages, __free_pages, get_free_pages,
 * alloc_pages_bulk) and mm/page_alloc.c. Allocations are blocks of 2^order
 * contiguous page frames, order 0..10. A thread that has entered a
 * simulated CPU (kmm_cpu_enter) gets that CPU's per-CPU page lists; any
 * other thread goes straight to the zone's free lists under the zone lock.
 *
 * All functions take the machine first: there is no global state.
 */
#ifndef KMM_PAGE_ALLOC_H
#define KMM_PAGE_ALLOC_H

#include <kmm/machine.h>
#include <kmm/gfp.h>
#include <kmm/memory_model.h>

/*
 * Allocate 2^@order pages on the node of the caller's CPU (node 0 without
 * one). Returns the first struct page, with a reference count of 1, or
 * NULL. __GFP_ZERO zeroes the memory; __GFP_COMP makes a compound page.
 */
struct kmm_page *kmm_alloc_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order);
/* The same, preferring node @nid (with __GFP_THISNODE: only that node). */
struct kmm_page *kmm_alloc_pages_node(struct kmm_machine *m, int nid, gfp_t gfp,
				      unsigned int order);
/* Drop a reference to a block from kmm_alloc_pages; freed when it reaches zero. */
void kmm_free_pages(struct kmm_machine *m, struct kmm_page *page, unsigned int order);

/* Address variants (Linux __get_free_pages / free_pages); NULL on failure. */
void *kmm_get_free_pages(struct kmm_machine *m, gfp_t gfp, unsigned int order);
void *kmm_get_zeroed_page(struct kmm_machine *m, gfp_t gfp);
void kmm_free_pages_addr(struct kmm_machine *m, void *addr, unsigned int order);

/*
 * Allocate up to @nr order-0 pages into the empty slots of @pages (slots
 * already holding a page are skipped). Returns how many slots are filled;
 * fewer than @nr only when memory is short. Linux: alloc_pages_bulk_array.
 */
unsigned long kmm_alloc_pages_bulk(struct kmm_machine *m, gfp_t gfp, unsigned long nr,
				   struct kmm_page **pages);
/* Free an array of order-0 pages (release_pages without the LRU part). */
void kmm_free_pages_bulk(struct kmm_machine *m, struct kmm_page **pages, unsigned long nr);

/* The order of the smallest block that holds @size bytes (Linux get_order; size > 0). */
static inline unsigned int get_order(unsigned long size)
{
	size = (size - 1) >> PAGE_SHIFT;
	return size ? (unsigned int)fls64(size) : 0;
}

/* Reference counting (get_page/put_page) for pages from the allocator. */

static inline void kmm_get_page(struct kmm_page *page)
{
	page_ref_inc(page);
}
void kmm_put_page(struct kmm_machine *m, struct kmm_page *page);

/* Return every CPU's per-CPU pages to the buddy lists (drain_all_pages). */
void kmm_drain_all_pages(struct kmm_machine *m);
/* Drain only the calling thread's CPU. */
void kmm_drain_local_pages(struct kmm_machine *m);

/* Pages free in the buddy lists of every zone (not counting per-CPU lists). */
unsigned long kmm_nr_free_pages(struct kmm_machine *m);

/*
 * Check every invariant of the page allocator (like CONFIG_DEBUG_VM plus
 * more): free blocks disjoint, marked and on the right list; counters equal
 * to the lists; pcp lists consistent. Returns 0, or -EINVAL with what broke
 * in @err. Slow: for tests and debugging. Drains nothing.
 */
int kmm_page_alloc_validate(struct kmm_machine *m, struct kmm_error *err);

/* Options of the page allocator, settable at any time. */
struct kmm_page_alloc_options {
	bool init_on_alloc; /* zero every allocation (Debian's kernels default to on) */
	bool pcp_disabled;  /* bypass the per-CPU lists: every page through the buddy */
};
void kmm_page_alloc_set_options(struct kmm_machine *m, const struct kmm_page_alloc_options *o);

#endif /* KMM_PAGE_ALLOC_H */
