/*
 * Compiler helpers shared by every layer: branch hints, alignment,
 * READ_ONCE/WRITE_ONCE and the integer helpers kernel code expects.
 *
 * Linux: include/linux/compiler.h, include/linux/kernel.h, include/linux/math.h.
 */
#ifndef KMM_COMPILER_H
#define KMM_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define __kmm_always_inline inline __attribute__((always_inline))
#define __kmm_noinline	    __attribute__((noinline))
#define __kmm_cold	    __attribute__((cold, noinline))
#define __kmm_unused	    __attribute__((unused))
#define __kmm_printf(a, b)  __attribute__((format(printf, a, b)))
#define __kmm_noreturn	    __attribute__((noreturn))
#define __kmm_aligned(x)    __attribute__((aligned(x)))

/* One cache line on the machines kmm runs on (x86-64, arm64). */
#define KMM_CACHELINE	      64
#define ____cacheline_aligned __kmm_aligned(KMM_CACHELINE)

#define KMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * READ_ONCE/WRITE_ONCE: relaxed atomic accesses. They compile to plain
 * loads and stores on x86-64, and tell ThreadSanitizer that a racy read of a
 * counter owned by another simulated CPU is intended.
 */
#define READ_ONCE(x)	 __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define __kmm_cat2(a, b) a##b
#define __kmm_cat(a, b)	 __kmm_cat2(a, b)
#define __kmm_cmp(a, b, op, u)                                                              \
	({                                                                                  \
		__typeof__(a) __kmm_cat(_x, u) = (a);                                       \
		__typeof__(b) __kmm_cat(_y, u) = (b);                                       \
		__kmm_cat(_x, u) op __kmm_cat(_y, u) ? __kmm_cat(_x, u) : __kmm_cat(_y, u); \
	})
#define kmm_min(a, b)	     __kmm_cmp(a, b, <, __COUNTER__)
#define kmm_max(a, b)	     __kmm_cmp(a, b, >, __COUNTER__)
#define kmm_clamp(v, lo, hi) kmm_min(kmm_max(v, lo), hi)

/* The shift of a size suffix, as in "512M" (K, M, G, T, either case); 0 for any other letter. */
static inline unsigned int kmm_size_suffix_shift(char c)
{
	switch (c | 0x20) {
	case 'k':
		return 10;
	case 'm':
		return 20;
	case 'g':
		return 30;
	case 't':
		return 40;
	default:
		return 0;
	}
}

#define KMM_ALIGN(x, a)	       (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define KMM_ALIGN_DOWN(x, a)   ((x) & ~((__typeof__(x))(a)-1))
#define KMM_IS_ALIGNED(x, a)   (((x) & ((__typeof__(x))(a)-1)) == 0)
#define KMM_DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

#define KMM_SZ_1K (1UL << 10)
#define KMM_SZ_1M (1UL << 20)
#define KMM_SZ_1G (1UL << 30)

/*
 * Debug level, fixed at build time (cmake -DKMM_DEBUG=N) but always compiled
 * so debug code is type-checked (jemalloc's config_debug habit):
 *   0  no checks (benchmarks)
 *   1  cheap assertions (VM_BUG_ON and friends)
 *   2  also whole-structure validators after operations (slow)
 */
#ifndef KMM_DEBUG
#define KMM_DEBUG 1
#endif
static const int kmm_debug_level __kmm_unused = KMM_DEBUG;

#endif /* KMM_COMPILER_H */
