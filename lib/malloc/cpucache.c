/*
 * libkmm-malloc: per-CPU arrays of free objects in front of the slab caches.
 *
 * Linux: mm/slab.c (the SLAB allocator, up to 6.7): struct array_cache,
 * ____cache_alloc (pop from the CPU's array), ___cache_free and
 * cache_flusharray (push; when full, give a batch back), cache_alloc_refill;
 * and the "sheaves" that Linux 6.18 put in front of SLUB for the same reason.
 * SLUB's lockless fast path serves only the objects of the CPU's current
 * slab. A program that frees objects of many slabs (random lifetimes, or
 * objects freed by another thread than the one that allocated them) takes
 * SLUB's slow path, with the slab's lock, on almost every free. An array of
 * recently freed objects per CPU and size class absorbs that: free() pushes
 * and malloc() pops, no lock and no atomic operation, and the slab allocator
 * sees batches (kmm_kmem_cache_alloc_bulk / free_bulk) when an array runs
 * empty or full.
 *
 * Theory of operation:
 *  - One array per simulated CPU and class (the arrays belong to the CPU,
 *    like its slabs: a thread on the CPU, exclusively or on lease, owns
 *    them). Limit: 32 KiB of objects, between 4 and 64 of them.
 *  - Empty on malloc: refill half the limit in bulk from the slab cache.
 *    Full on free: give back the older half in bulk.
 *  - A freed object in an array carries a per-process random key in its
 *    second word (glibc's tcache has the same check); a free of an object
 *    that already carries it looks the array over and reports a double free.
 *    malloc clears the key.
 *  - Thread exit (and malloc_trim) drain the CPU's arrays into the slab
 *    caches before the slabs themselves go back to the nodes.
 *  - Debug mode (KMM_MALLOC_DEBUG=1) has no arrays: slab debugging sees
 *    every allocation and free.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

bool km_cc_init(struct kmm_error *err)
{
	size_t bytes = sizeof(struct km_cpu_cache) * (size_t)km.nr_cpus;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		kmm_error_set(err, -12, "no memory for %zu bytes of per-CPU arrays", bytes);
		return false;
	}
	km.cc = p;
	for (unsigned int c = 0; c < KM_NR_CLASSES; c++) {
		unsigned int n = 32768 / km.class_size[c];
		km.cc_limit[c] = kmm_clamp(n, 4u, (unsigned int)KM_CC_MAX);
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	km.cc_key = ((uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL) ^ ((uintptr_t)getpid() << 17) ^
		    (uintptr_t)&km;
	return true;
}

void *km_cc_refill(struct km_cc_class *cc, unsigned int cls, uintptr_t caller)
{
	unsigned int n = km.cc_limit[cls] / 2;
	struct kmm_kmem_cache *s = km.cache[cls];
	if (n > 1 && kmm_kmem_cache_alloc_bulk(s, GFP_NOWAIT | __GFP_NOWARN, n, cc->obj) == n) {
		/* Hand out the last; the others wait in the array. */
		cc->count = n - 1;
		return cc->obj[n - 1];
	}
	return kmm_kmem_cache_alloc_track_caller(s, GFP_NOWAIT | __GFP_NOWARN, caller);
}

void km_cc_flush_half(struct km_cc_class *cc, unsigned int cls, void *p)
{
	unsigned int half = cc->count / 2;
	/* The oldest half (the bottom of the array) goes back to the slab cache. */
	kmm_kmem_cache_free_bulk(km.cache[cls], half, cc->obj);
	memmove(cc->obj, cc->obj + half, (cc->count - half) * sizeof(void *));
	cc->count -= half;
	*km_cc_key_slot(p) = km.cc_key;
	cc->obj[cc->count++] = p;
}

void km_cc_check_double(struct km_cc_class *cc, void *p)
{
	for (unsigned int i = 0; i < cc->count; i++)
		if (cc->obj[i] == p)
			km_fatal("free(): double free of", p);
}

void km_cc_drain(int cpu)
{
	if (!km.cc)
		return;
	struct km_cpu_cache *c = &km.cc[cpu];
	for (unsigned int cls = 0; cls < KM_NR_CLASSES; cls++) {
		struct km_cc_class *cc = &c->cls[cls];
		if (cc->count)
			kmm_kmem_cache_free_bulk(km.cache[cls], cc->count, cc->obj);
		cc->count = 0;
	}
}
