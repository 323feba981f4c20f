/*
 * libkmm-malloc: runs of pages, for blocks from 8 KiB to 4 MiB.
 *
 * Linux: mm/page_alloc.c alloc_pages_exact()/free_pages_exact() (a block of
 * the next order up, split, with the pages past the end given back), and
 * kmalloc_large() for the idea of serving big kmallocs from the buddy
 * allocator. A power-of-two block would leave up to half of a request
 * unused (a 260 KiB request in a 512 KiB block), and on a heap unused pages
 * are host memory: so a run is exactly the pages the request needs.
 *
 * Theory of operation: a request of n pages takes a block of order
 * o = get_order(n pages) (or more, for an alignment above a page: a block
 * of order o is aligned to 2^o pages) and frees the pages from n to 2^o
 * straight away, as naturally aligned blocks of decreasing order, so the
 * buddy allocator can merge them with their buddies. The run's head page
 * keeps the length in page->private and a signature with the alignment in
 * page->index (fields an owner of pages may use; both are cleared before
 * the pages go back). Freeing gives the n pages back in the same kind of
 * aligned pieces; they merge with each other and with their buddies.
 */
#include "internal.h"
#include <string.h>

/*
 * page->index of a run's head: the signature, and in the low byte log2 of
 * the alignment the caller asked for (0 for the default), which realloc keeps.
 */
#define RUN_MAGIC 0x6b6d6d2d72756e00UL /* "kmm-run" */
#define RUN_GFP	  (GFP_NOWAIT | __GFP_NOWARN)

static bool is_run_head(const struct kmm_page *page)
{
	return (page->index & ~0xffUL) == RUN_MAGIC;
}

unsigned int km_run_align_shift(struct kmm_page *page)
{
	return (unsigned int)(page->index & 0xff);
}

/*
 * Give back pages [from, to) of the block at @page as naturally aligned
 * blocks (the largest that fits at each step). Each piece's first page gets
 * the reference the page allocator drops (Linux split_page()).
 */
static void free_pieces(struct kmm_machine *m, struct kmm_page *page, unsigned long from,
			unsigned long to)
{
	while (from < to) {
		unsigned int order = from ? (unsigned int)__builtin_ctzl(from) : MAX_PAGE_ORDER;
		if (order > MAX_PAGE_ORDER)
			order = MAX_PAGE_ORDER;
		while (from + (1UL << order) > to)
			order--;
		set_page_count(page + from, 1);
		kmm_free_pages(m, page + from, order);
		from += 1UL << order;
	}
}

void *km_run_alloc(size_t size, unsigned int align_shift, bool zero)
{
	struct kmm_machine *m = km.m;
	unsigned long nr = PFN_UP(size);
	unsigned int order = get_order(size);
	/* A block of order o is aligned to 2^o pages. */
	if (align_shift > PAGE_SHIFT && order < align_shift - PAGE_SHIFT)
		order = align_shift - PAGE_SHIFT;
	struct kmm_page *page = kmm_alloc_pages(m, RUN_GFP, order);
	if (unlikely(!page))
		return NULL;
	/* prep_new_page() gave the head a reference; the rest are 0. */
	if (nr < (1UL << order))
		free_pieces(m, page, nr, 1UL << order);
	page->private = nr;
	page->index = RUN_MAGIC | align_shift;
	void *p = page_address(m, page);
	if (zero)
		memset(p, 0, nr << PAGE_SHIFT);
	return p;
}

void km_run_free(struct kmm_page *page, const void *p)
{
	struct kmm_machine *m = km.m;
	if (unlikely(!is_run_head(page) || p != page_address(m, page) || page_ref_count(page) != 1))
		km_fatal("free(): invalid pointer", p);
	unsigned long nr = page->private;
	page->private = 0;
	page->index = 0;
	free_pieces(m, page, 0, nr);
}

size_t km_run_usable(struct kmm_page *page, const void *p)
{
	if (!is_run_head(page) || p != page_address(km.m, page))
		km_fatal("malloc_usable_size(): invalid pointer", p);
	return page->private << PAGE_SHIFT;
}

void *km_run_realloc_in_place(struct kmm_page *page, void *p, size_t size)
{
	if (!is_run_head(page) || p != page_address(km.m, page))
		km_fatal("realloc(): invalid pointer", p);
	unsigned long nr = page->private, want = PFN_UP(size);
	/* Growing needs other pages; a run shrunk below half its size moves. */
	if (want > nr || size <= KM_SMALL_MAX || want < nr / 2)
		return NULL;
	if (want < nr) {
		free_pieces(km.m, page, want, nr);
		page->private = want;
	}
	return p;
}
