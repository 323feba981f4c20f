/*
 * The contended side of kmm's spinlock (kmm/spinlock.h).
 *
 * Linux: kernel/locking/qspinlock.c solves fairness with an MCS queue. kmm's
 * simulated CPUs are host threads on a small shared host, so the cost that
 * matters is a lock holder being descheduled: spin on a plain load with a
 * pause for a short while, then yield the host CPU between attempts.
 */
#include <kmm/spinlock.h>
#include "../port/port.h"

void __spin_lock_slowpath(spinlock_t *lock)
{
	unsigned int spins = 0;
	for (;;) {
		while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED)) {
			if (++spins < 128)
				kmm_port_cpu_relax();
			else
				kmm_port_yield();
		}
		if (__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0)
			return;
	}
}
