/*
 * A stand-in for the slab allocator's cache API (see slab_compat.h), used
 * only while <kmm/slab.h> is not in the tree: objects come from host memory
 * in 64 KiB chunks with a free list per cache. It honours failslab fault
 * injection so vm/'s error paths can be tested already.
 */
#include "slab_compat.h"
#ifdef KMM_VM_SLAB_SHIM
#include "../port/port.h"
#include <errno.h>

#define CHUNK (64 * 1024)

struct kmm_kmem_cache {
	struct kmm_machine *m;
	unsigned int size;
	void (*ctor)(void *);
	void *free;   /* free objects, linked through their first word */
	void *chunks; /* chunks, linked through their first word */
	spinlock_t lock;
	long inuse;
};

struct kmm_kmem_cache *kmm_kmem_cache_create(struct kmm_machine *m, const char *name,
					     unsigned int size, unsigned int align,
					     slab_flags_t flags, void (*ctor)(void *),
					     struct kmm_error *err)
{
	(void)name;
	(void)flags;
	struct kmm_kmem_cache *s = kmm_port_alloc(sizeof(*s));
	if (!s) {
		kmm_error_set(err, -ENOMEM, "no memory for cache %s", name);
		return NULL;
	}
	unsigned int a = align > 16 ? align : 16;
	s->m = m;
	s->size = KMM_ALIGN(size < 8 ? 8 : size, a);
	s->ctor = ctor;
	spin_lock_init(&s->lock);
	return s;
}

long kmm_kmem_cache_destroy(struct kmm_kmem_cache *s)
{
	if (!s)
		return 0;
	long inuse = s->inuse;
	void *c = s->chunks;
	while (c) {
		void *next = *(void **)c;
		kmm_port_free(c, CHUNK);
		c = next;
	}
	kmm_port_free(s, sizeof(*s));
	return inuse;
}

void *kmm_kmem_cache_alloc(struct kmm_kmem_cache *s, gfp_t gfp)
{
	(void)gfp;
	if (kmm_should_fail(&s->m->failslab, s->size))
		return NULL;
	spin_lock(&s->lock);
	if (!s->free) {
		char *c = kmm_port_alloc(CHUNK);
		if (!c) {
			spin_unlock(&s->lock);
			return NULL;
		}
		*(void **)c = s->chunks;
		s->chunks = c;
		for (char *p = c + 64; p + s->size <= c + CHUNK; p += s->size) {
			if (s->ctor)
				s->ctor(p);
			*(void **)p = s->free;
			s->free = p;
		}
	}
	void *obj = s->free;
	s->free = *(void **)obj;
	s->inuse++;
	spin_unlock(&s->lock);
	return obj;
}

void kmm_kmem_cache_free(struct kmm_kmem_cache *s, void *obj)
{
	if (!obj)
		return;
	spin_lock(&s->lock);
	*(void **)obj = s->free;
	s->free = obj;
	s->inuse--;
	spin_unlock(&s->lock);
}
#endif
