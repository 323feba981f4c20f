/*
 * Reader-writer semaphores: many readers or one writer (mmap_lock).
 *
 * Linux: include/linux/rwsem.h, kernel/locking/rwsem.c. One word holds the
 * state: bit 0 a writer owns it, bit 1 a writer is waiting (new readers hold
 * back, so a stream of readers cannot starve a writer), and the reader count
 * in the bits above. The uncontended paths are one compare-and-swap (down)
 * or one atomic add (up). Waiters spin briefly, then yield the host CPU:
 * simulated CPUs are host threads, and holders of mmap_lock may do host I/O
 * (a page-cache read) while they hold it. There is no sleeping queue and no
 * optimistic spinning on the owner, which Linux needs for fairness at scale
 * and kmm's few simulated CPUs do not.
 */
#ifndef KMM_RWSEM_H
#define KMM_RWSEM_H

#include <kmm/compiler.h>

struct rw_semaphore {
	unsigned long count;
};

#define RWSEM_WRITER_LOCKED  1UL
#define RWSEM_WRITER_WAITING 2UL
#define RWSEM_READER_BIAS    4UL

void __down_read_slowpath(struct rw_semaphore *sem);
void __down_write_slowpath(struct rw_semaphore *sem);

static inline void init_rwsem(struct rw_semaphore *sem)
{
	__atomic_store_n(&sem->count, 0, __ATOMIC_RELAXED);
}

static inline bool down_read_trylock(struct rw_semaphore *sem)
{
	unsigned long c = __atomic_load_n(&sem->count, __ATOMIC_RELAXED);
	return !(c & (RWSEM_WRITER_LOCKED | RWSEM_WRITER_WAITING)) &&
	       __atomic_compare_exchange_n(&sem->count, &c, c + RWSEM_READER_BIAS, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void down_read(struct rw_semaphore *sem)
{
	if (likely(down_read_trylock(sem)))
		return;
	__down_read_slowpath(sem);
}

static inline void up_read(struct rw_semaphore *sem)
{
	__atomic_fetch_sub(&sem->count, RWSEM_READER_BIAS, __ATOMIC_RELEASE);
}

static inline bool down_write_trylock(struct rw_semaphore *sem)
{
	unsigned long c = __atomic_load_n(&sem->count, __ATOMIC_RELAXED);
	return (c & ~RWSEM_WRITER_WAITING) == 0 &&
	       __atomic_compare_exchange_n(&sem->count, &c, RWSEM_WRITER_LOCKED, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void down_write(struct rw_semaphore *sem)
{
	if (likely(down_write_trylock(sem)))
		return;
	__down_write_slowpath(sem);
}

/* Leaves the waiting bit alone: a waiting writer goes before new readers. */
static inline void up_write(struct rw_semaphore *sem)
{
	__atomic_fetch_and(&sem->count, ~RWSEM_WRITER_LOCKED, __ATOMIC_RELEASE);
}

/* Turn a held write lock into a read lock without letting another writer in. */
static inline void downgrade_write(struct rw_semaphore *sem)
{
	__atomic_fetch_add(&sem->count, RWSEM_READER_BIAS - RWSEM_WRITER_LOCKED, __ATOMIC_RELEASE);
}

static inline bool rwsem_is_locked(const struct rw_semaphore *sem)
{
	return (__atomic_load_n(&sem->count, __ATOMIC_RELAXED) & ~RWSEM_WRITER_WAITING) != 0;
}
static inline bool rwsem_is_write_locked(const struct rw_semaphore *sem)
{
	return __atomic_load_n(&sem->count, __ATOMIC_RELAXED) & RWSEM_WRITER_LOCKED;
}

#endif /* KMM_RWSEM_H */
