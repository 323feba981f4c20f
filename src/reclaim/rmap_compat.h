/*
 * The two reverse-mapping walks reclaim needs, declared as rmap/ provides
 * them (src/rmap/rmap.h); rmap_compat.c gives weak stand-ins until the
 * rmap layer defines them: no PTE is ever found young, and mapped pages
 * cannot be unmapped, so only unmapped pages are reclaimed.
 */
#ifndef KMM_RECLAIM_RMAP_COMPAT_H
#define KMM_RECLAIM_RMAP_COMPAT_H

#include "../rmap/rmap.h"

#ifndef KMM_RMAP_HAS_WALKS
enum ttu_flags {
	TTU_NONE = 0,
};
int page_referenced(struct kmm_page *page, int is_locked, unsigned long *vm_flags);
bool try_to_unmap(struct kmm_page *page, enum ttu_flags flags);
#endif

#endif /* KMM_RECLAIM_RMAP_COMPAT_H */
