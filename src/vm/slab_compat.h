/*
 * The slab API as vm/ uses it. While the slab allocator is not in the
 * tree, slab_shim.c serves these calls from host memory so the address-space
 * layer can be built and tested; once <kmm/slab.h> exists it is used and
 * the shim compiles to nothing.
 */
#ifndef KMM_VM_SLAB_COMPAT_H
#define KMM_VM_SLAB_COMPAT_H

#if __has_include(<kmm/slab.h>)
#include <kmm/slab.h>
#else
#include <kmm/machine.h>
#include <kmm/gfp.h>
#define KMM_VM_SLAB_SHIM   1
typedef unsigned int slab_flags_t;
#define SLAB_HWCACHE_ALIGN 0x00002000U
#define SLAB_PANIC	   0x00040000U
#define SLAB_ACCOUNT	   0x04000000U
struct kmm_kmem_cache;
struct kmm_kmem_cache *kmm_kmem_cache_create(struct kmm_machine *m, const char *name,
					     unsigned int size, unsigned int align,
					     slab_flags_t flags, void (*ctor)(void *),
					     struct kmm_error *err);
long kmm_kmem_cache_destroy(struct kmm_kmem_cache *s);
void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *s, gfp_t gfp);
void kmm_kmem_cache_free(struct kmm_kmem_cache *s, void *obj);
#endif

#endif /* KMM_VM_SLAB_COMPAT_H */
