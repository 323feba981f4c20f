/*
 * The contended side of a slab's bit lock (Linux slab_lock(), bit_spin_lock).
 *
 * The simulated CPUs are host threads, and the host may deschedule one
 * while it holds a slab's lock (more threads than host CPUs is the common
 * case for a malloc). Spinning on until it runs again would burn the
 * waiter's whole time slice: like kmm's spinlock (src/base/spinlock.c), spin
 * on a plain read for a while, then yield the host CPU between attempts.
 */
#include "internal.h"

void slab_lock_contended(struct kmm_page *slab)
{
	unsigned int spins = 0;
	do {
		while (kmm_test_page_flag(slab, PG_locked)) {
			if (++spins < 128)
				kmm_port_cpu_relax();
			else
				kmm_port_yield();
		}
	} while (test_and_set_bit(PG_locked, &slab->flags));
}
