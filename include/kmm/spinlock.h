/*
 * Spinlocks for the simulated kernel.
 *
 * Linux: include/linux/spinlock.h. kmm's lock is a test-and-test-and-set
 * word: uncontended acquire is one atomic exchange, release one store.
 * Under contention it spins on a plain load (no cache-line ping-pong) and,
 * after a while, yields the host CPU, because the simulated CPUs are host
 * threads that the host may deschedule while they hold the lock (the machines
 * kmm runs on are small and shared). There are no interrupts to disable, so
 * spin_lock_irqsave() has no counterpart.
 */
#ifndef KMM_SPINLOCK_H
#define KMM_SPINLOCK_H

#include <kmm/compiler.h>

typedef struct {
	unsigned int locked;
} spinlock_t;

#define SPINLOCK_INIT \
	{             \
		0     \
	}

void __spin_lock_slowpath(spinlock_t *lock);

static inline void spin_lock_init(spinlock_t *lock)
{
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELAXED);
}

static inline bool spin_trylock(spinlock_t *lock)
{
	return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) == 0 &&
	       __atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

static inline void spin_lock(spinlock_t *lock)
{
	if (likely(__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0))
		return;
	__spin_lock_slowpath(lock);
}

static inline void spin_unlock(spinlock_t *lock)
{
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

static inline bool spin_is_locked(spinlock_t *lock)
{
	return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0;
}

#endif /* KMM_SPINLOCK_H */
