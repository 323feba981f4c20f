/*
 * The contended side of kmm's reader-writer semaphore (kmm/rwsem.h).
 *
 * Linux: kernel/locking/rwsem.c (rwsem_down_read_slowpath,
 * rwsem_down_write_slowpath). Instead of a wait queue, waiters spin on a
 * plain load with a pause for a short while and then yield the host CPU. A
 * waiting writer sets RWSEM_WRITER_WAITING so that readers arriving after it
 * wait too (Linux's handoff has the same purpose); the bit is cleared when a
 * writer takes the lock, and set again by any writer still waiting.
 */
#include <kmm/rwsem.h>
#include "../port/port.h"

static inline void backoff(unsigned int *spins)
{
	if (++*spins < 128)
		kmm_port_cpu_relax();
	else
		kmm_port_yield();
}

void __down_read_slowpath(struct rw_semaphore *sem)
{
	unsigned int spins = 0;
	while (!down_read_trylock(sem))
		backoff(&spins);
}

void __down_write_slowpath(struct rw_semaphore *sem)
{
	unsigned int spins = 0;
	for (;;) {
		unsigned long c = __atomic_load_n(&sem->count, __ATOMIC_RELAXED);
		if ((c & ~RWSEM_WRITER_WAITING) == 0) {
			if (__atomic_compare_exchange_n(&sem->count, &c, RWSEM_WRITER_LOCKED, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			continue;
		}
		if (!(c & RWSEM_WRITER_WAITING))
			__atomic_fetch_or(&sem->count, RWSEM_WRITER_WAITING, __ATOMIC_RELAXED);
		backoff(&spins);
	}
}
