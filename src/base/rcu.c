/*
 * The grace period of kmm's read sections (kmm/rcu.h).
 *
 * Linux: kernel/rcu/srcutiny.c is the closest: a reader counter per phase,
 * and a grace period that flips the phase and waits for the old phase's
 * readers to leave. Linux's tree RCU waits for every CPU to pass a
 * quiescent state instead, which needs the scheduler's help that kmm's
 * host threads do not give; read sections in kmm are a few loads long, so
 * waiting for them by spinning costs little.
 *
 * Lock order: gp_lock alone (readers take no lock).
 */
#include <kmm/rcu.h>
#include "../port/port.h"

void kmm_synchronize_rcu(struct kmm_rcu *rcu)
{
	spin_lock(&rcu->gp_lock);
	unsigned int old = __atomic_load_n(&rcu->phase, __ATOMIC_RELAXED) & 1;
	/* From here new readers count in the other phase; the old one only drains. */
	__atomic_store_n(&rcu->phase, old ^ 1, __ATOMIC_SEQ_CST);
	unsigned int spins = 0;
	while (__atomic_load_n(&rcu->readers[old], __ATOMIC_ACQUIRE)) {
		/* A reader may have been descheduled by the host inside its section. */
		if (++spins < 128)
			kmm_port_cpu_relax();
		else
			kmm_port_yield();
	}
	rcu->grace_periods++;
	spin_unlock(&rcu->gp_lock);
}
