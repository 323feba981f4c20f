/*
 * libkmm-malloc: the C library's allocation API served by a kmm machine.
 *
 * libkmm-malloc.so defines malloc, free, calloc, realloc and the rest under
 * their standard names (LD_PRELOAD=libkmm-malloc.so, or link with
 * -lkmm-malloc). The same functions exist under kmm_libc_ names, which is
 * how kmm's own tests drive the heap without replacing the malloc of the
 * test program. See docs/malloc.md.
 */
#ifndef KMM_MALLOC_H
#define KMM_MALLOC_H

#include <stddef.h>

#pragma GCC visibility push(default)

void *kmm_libc_malloc(size_t size);
void kmm_libc_free(void *p);
void *kmm_libc_calloc(size_t n, size_t size);
void *kmm_libc_realloc(void *p, size_t size);
void *kmm_libc_reallocarray(void *p, size_t n, size_t size);
void *kmm_libc_memalign(size_t align, size_t size);
int kmm_libc_posix_memalign(void **out, size_t align, size_t size);
void *kmm_libc_aligned_alloc(size_t align, size_t size);
void *kmm_libc_valloc(size_t size);
void *kmm_libc_pvalloc(size_t size);
size_t kmm_libc_malloc_usable_size(void *p);
/* Give free memory back to the host now (glibc's malloc_trim); 1 if some was. */
int kmm_libc_malloc_trim(size_t pad);
/* Print the heap's statistics to stderr (KMM_MALLOC_STATS=1 does at exit). */
void kmm_libc_malloc_stats(void);

/* The heap's own figures, for tests and for KMM_MALLOC_STATS. */
struct kmm_libc_stats {
	unsigned long threads;	     /* threads that called the heap */
	unsigned long exclusive;     /* ... and got a simulated CPU of their own */
	unsigned long shared;	     /* ... and lease a CPU of the shared pool per call */
	unsigned long no_cpu_calls;  /* calls served without a CPU (pool busy, thread exited) */
	unsigned long arena_bytes;   /* bootstrap arena used */
	unsigned long huge_live;     /* mappings of their own, live */
	unsigned long huge_bytes;    /* ... their bytes */
	unsigned long purge_checks;  /* looks at free memory */
	unsigned long purged_blocks; /* max-order blocks given back to the host */
	unsigned long forks;	     /* fork()s the heap went through */
	unsigned long cpus;	     /* simulated CPUs */
	unsigned long ram_mib;	     /* RAM of the machine (address space) */
	unsigned long populated_mib; /* ... backed by host memory now */
};
void kmm_libc_stats(struct kmm_libc_stats *st);

#pragma GCC visibility pop

#endif /* KMM_MALLOC_H */
