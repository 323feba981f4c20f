/*
 * Read-side critical sections and grace periods, the part of RCU kmm needs:
 * an object that readers may reach without a lock is freed only after
 * every reader that could have reached it has left its section.
 *
 * Linux: include/linux/rcupdate.h (rcu_read_lock, synchronize_rcu) and
 * include/linux/srcu.h, whose index-returning read lock this follows.
 * The state hangs off the machine (struct kmm_machine::rcu); all zero is
 * the idle state, so a machine needs no initialisation for it.
 *
 * Mechanism: two reader counters and a phase bit. A reader counts itself
 * in the counter of the current phase and checks that the phase did not
 * flip meanwhile (if it did, it moves to the new counter). A grace period
 * flips the phase and waits for the old counter to drain: every reader
 * that entered before the flip was counted there. A reader entering
 * after the flip sees every store made before it, so it cannot reach an
 * object unpublished before the grace period began.
 *
 * Rules, as for Linux's rcu_read_lock: a read section is short and never
 * blocks (no sleeping lock, no allocation, no freeing that may wait for a
 * grace period); the updater first makes the object unreachable, then
 * calls kmm_rcu_wait_readers() (or kmm_synchronize_rcu()), then frees.
 * The cost: a reader pays two atomic operations on a line that all CPUs
 * share (plus a load); a free with no reader inside pays a fence and two
 * loads.
 */
#ifndef KMM_RCU_H
#define KMM_RCU_H

#include <kmm/atomic.h>
#include <kmm/compiler.h>
#include <kmm/spinlock.h>

struct kmm_rcu {
	unsigned int phase;	     /* bit 0: the counter new readers use */
	long readers[2];	     /* readers inside, by the phase they entered in */
	spinlock_t gp_lock;	     /* one grace period at a time */
	unsigned long grace_periods; /* grace periods that had readers to wait for */
};

/* Enter a read section; pass the returned index to kmm_rcu_read_unlock. */
static inline int kmm_rcu_read_lock(struct kmm_rcu *rcu)
{
	for (;;) {
		int idx = (int)(__atomic_load_n(&rcu->phase, __ATOMIC_SEQ_CST) & 1);
		__atomic_fetch_add(&rcu->readers[idx], 1, __ATOMIC_SEQ_CST);
		if (likely((int)(__atomic_load_n(&rcu->phase, __ATOMIC_SEQ_CST) & 1) == idx))
			return idx;
		/* A grace period began between the two loads: count in the new phase. */
		__atomic_fetch_sub(&rcu->readers[idx], 1, __ATOMIC_RELEASE);
	}
}

static inline void kmm_rcu_read_unlock(struct kmm_rcu *rcu, int idx)
{
	__atomic_fetch_sub(&rcu->readers[idx], 1, __ATOMIC_RELEASE);
}

/* Wait until every read section that began before this call has ended. */
void kmm_synchronize_rcu(struct kmm_rcu *rcu);

/*
 * Before freeing an object made unreachable earlier: wait for a grace
 * period only if some reader is inside a section now (the fast path: two
 * loads). A reader entering after these loads sees the object unreachable.
 */
static inline void kmm_rcu_wait_readers(struct kmm_rcu *rcu)
{
	/*
	 * The store that made the object unreachable may be a plain one; a
	 * full fence keeps it from passing the loads below (on x86 a store can
	 * wait in the store buffer while later loads run). Without it a reader
	 * could enter after the loads and still find the object.
	 */
	smp_mb();
	if (unlikely(__atomic_load_n(&rcu->readers[0], __ATOMIC_SEQ_CST) |
		     __atomic_load_n(&rcu->readers[1], __ATOMIC_SEQ_CST)))
		kmm_synchronize_rcu(rcu);
}

#endif /* KMM_RCU_H */
