/*
 * slab/'s interface to the boot sequence (init/).
 */
#ifndef KMM_SLAB_SLAB_H
#define KMM_SLAB_SLAB_H

#include <kmm/slab.h>

/* Start the slab allocator: the boot caches and kmalloc (after mem_init). */
int kmem_cache_init(struct kmm_machine *m, struct kmm_error *err);
/* Release the slab allocator's host memory when the machine goes. */
void kmem_cache_destroy_all(struct kmm_machine *m);

#endif /* KMM_SLAB_SLAB_H */
