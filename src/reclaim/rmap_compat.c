/*
 * Weak stand-ins for rmap/'s page_referenced() and try_to_unmap() (see
 * rmap_compat.h): the strong definitions of the rmap layer replace them.
 */
#include "rmap_compat.h"

#ifndef KMM_RMAP_HAS_WALKS
__attribute__((weak)) int page_referenced(struct kmm_page *page, int is_locked,
					  unsigned long *vm_flags)
{
	(void)page;
	(void)is_locked;
	*vm_flags = 0;
	return 0;
}

__attribute__((weak)) bool try_to_unmap(struct kmm_page *page, enum ttu_flags flags)
{
	(void)flags;
	return !page_mapped(page);
}
#endif
