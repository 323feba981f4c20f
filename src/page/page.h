/*
 * page/'s interface to the layers above it (slab/, vm/, reclaim/, init/).
 */
#ifndef KMM_PAGE_PAGE_H
#define KMM_PAGE_PAGE_H

#include <kmm/page_alloc.h>

/* Set up the page allocator's per-CPU lists and hand-off hook (before mem_init). */
int page_alloc_init(struct kmm_machine *m, struct kmm_error *err);
void page_alloc_destroy(struct kmm_machine *m);

/* Free a block with refcount already zero (Linux free_the_page). */
void free_the_page(struct kmm_machine *m, struct kmm_page *page, unsigned int order);

#endif /* KMM_PAGE_PAGE_H */
