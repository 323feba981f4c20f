/*
 * libkmm-malloc: runs of pages, for blocks from 8 KiB to 4 MiB.
 *
 * Linux: kmalloc_large() (a big kmalloc is a block of the buddy allocator,
 * of the next order up), and alloc_pages_exact()/free_pages_exact() (the
 * same block, split, with the pages past the end given back).
 *
 * Theory of operation: a request of n pages takes a block of order
 * o = get_order(n pages) (or more, for an alignment above a page: a block
 * of order o is aligned to 2^o pages). What happens to the pages past n is
 * a trade between two kinds of waste:
 *  - given back exactly (alloc_pages_exact), they are small pieces that
 *    other allocations take; when the run is freed its pages cannot merge
 *    back, and the buddy lists fill with fragments. Measured on a random
 *    churn of 16 B - 64 KiB blocks (bench/malloc), exact runs left 43 MiB
 *    free in fragments next to 48 MiB in use; whole blocks, 6 MiB.
 *  - kept, up to half of the block is unused (a 9-page request in 16).
 * So runs up to order 5 (128 KiB) keep their whole block, and larger ones
 * give back whole unused quarters (at most 25% unused, and the pieces are
 * large). Either way the block's pages past the run are naturally aligned
 * blocks that the buddy allocator can merge with their buddies.
 *
 * The run's head page keeps the length in page->private and a signature
 * with the alignment in page->index (fields an owner of pages may use; both
 * are cleared before the pages go back). Freeing gives the pages back as
 * naturally aligned blocks, largest first.
 */
#include "internal.h"
#include <string.h>

/*
 * page->index of a run's head: the signature, and in the low byte log2 of
 * the alignment the caller asked for (0 for the default), which realloc keeps.
 */
#define RUN_MAGIC	0x6b6d6d2d72756e00UL /* "kmm-run" */
#define RUN_GFP		(GFP_NOWAIT | __GFP_NOWARN)
/* Runs of up to this order keep their whole block. */
#define RUN_WHOLE_ORDER 5

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
	/*
	 * Small runs keep their whole block; larger ones give back the unused
	 * quarters (see the header: exact trimming fragments the buddy lists).
	 */
	if (order <= RUN_WHOLE_ORDER)
		nr = 1UL << order;
	else
		nr = KMM_ALIGN(nr, 1UL << (order - 2));
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
	/* What the run would be if allocated now: whole quarters of its block. */
	unsigned int order = get_order(nr << PAGE_SHIFT);
	want = order <= RUN_WHOLE_ORDER ? nr : KMM_ALIGN(want, 1UL << (order - 2));
	if (want < nr) {
		free_pieces(km.m, page, want, nr);
		page->private = want;
	}
	return p;
}
