/*
 * Atomic integers with the kernel's names, built on the compiler's __atomic
 * builtins (freestanding: no libatomic, no host calls).
 *
 * Linux: include/linux/atomic.h. Ordering follows the kernel's rules: plain
 * read/set are relaxed, value-returning RMW operations are fully ordered,
 * the _relaxed/_acquire/_release variants say what they give.
 */
#ifndef KMM_ATOMIC_H
#define KMM_ATOMIC_H

#include <kmm/compiler.h>

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	long counter;
} atomic_long_t;

#define ATOMIC_INIT(i) \
	{              \
		(i)    \
	}

static inline int atomic_read(const atomic_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}
static inline void atomic_set(atomic_t *v, int i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_add(int i, atomic_t *v)
{
	__atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_sub(int i, atomic_t *v)
{
	__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_inc(atomic_t *v)
{
	atomic_add(1, v);
}
static inline void atomic_dec(atomic_t *v)
{
	atomic_sub(1, v);
}
static inline int atomic_add_return(int i, atomic_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline int atomic_sub_return(int i, atomic_t *v)
{
	return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline int atomic_inc_return(atomic_t *v)
{
	return atomic_add_return(1, v);
}
static inline int atomic_dec_return(atomic_t *v)
{
	return atomic_sub_return(1, v);
}
static inline bool atomic_dec_and_test(atomic_t *v)
{
	return atomic_sub_return(1, v) == 0;
}
static inline bool atomic_inc_and_test(atomic_t *v)
{
	return atomic_add_return(1, v) == 0;
}
static inline bool atomic_add_negative(int i, atomic_t *v)
{
	return atomic_add_return(i, v) < 0;
}
static inline int atomic_xchg(atomic_t *v, int i)
{
	return __atomic_exchange_n(&v->counter, i, __ATOMIC_SEQ_CST);
}
/* Returns the old value; the swap happened iff it equals @old. */
static inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	__atomic_compare_exchange_n(&v->counter, &old, new, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_RELAXED);
	return old;
}
/* Add @a unless the value is @u; returns true if it added. */
static inline bool atomic_add_unless(atomic_t *v, int a, int u)
{
	int c = atomic_read(v);
	do {
		if (unlikely(c == u))
			return false;
	} while (!__atomic_compare_exchange_n(&v->counter, &c, c + a, true, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return true;
}

static inline long atomic_long_read(const atomic_long_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}
static inline void atomic_long_set(atomic_long_t *v, long i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_long_add(long i, atomic_long_t *v)
{
	__atomic_fetch_add(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_long_sub(long i, atomic_long_t *v)
{
	__atomic_fetch_sub(&v->counter, i, __ATOMIC_RELAXED);
}
static inline void atomic_long_inc(atomic_long_t *v)
{
	atomic_long_add(1, v);
}
static inline void atomic_long_dec(atomic_long_t *v)
{
	atomic_long_sub(1, v);
}
static inline long atomic_long_add_return(long i, atomic_long_t *v)
{
	return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline long atomic_long_xchg(atomic_long_t *v, long i)
{
	return __atomic_exchange_n(&v->counter, i, __ATOMIC_SEQ_CST);
}
static inline long atomic_long_cmpxchg(atomic_long_t *v, long old, long new)
{
	__atomic_compare_exchange_n(&v->counter, &old, new, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_RELAXED);
	return old;
}

/* KMM_TSAN: 1 in a ThreadSanitizer build (gcc or clang), else 0. */
#if defined(__SANITIZE_THREAD__)
#define KMM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KMM_TSAN 1
#endif
#endif
#ifndef KMM_TSAN
#define KMM_TSAN 0
#endif

/* Memory barriers with the kernel's names. */
#if KMM_TSAN
/*
 * TSan does not model fences (gcc refuses them under -Werror=tsan): a
 * sequentially consistent read-modify-write is a full barrier too, and one
 * TSan understands.
 */
#define smp_mb()                                                              \
	({                                                                    \
		static long kmm_mb_word_;                                     \
		(void)__atomic_fetch_add(&kmm_mb_word_, 0, __ATOMIC_SEQ_CST); \
	})
#else
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#define smp_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_load_acquire(p)	__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#define barrier()		__asm__ __volatile__("" ::: "memory")

#endif /* KMM_ATOMIC_H */
