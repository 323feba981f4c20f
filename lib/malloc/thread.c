/*
 * libkmm-malloc: threads, their simulated CPUs, thread exit and fork().
 *
 * Linux: a task runs on a CPU and uses that CPU's slab and page caches
 * with preemption off; CPU hotplug (slub_cpu_dead, page_alloc_cpu_dead)
 * gives a dead CPU's caches back. Here a host thread enters a simulated CPU
 * (kmm_cpu_enter, kmm's preempt_disable) and the caches of that CPU are its
 * own, lock free.
 *
 * Theory of operation:
 *  1. On its first call a thread takes a CPU of its own if one of the
 *     exclusive CPUs (three quarters of them) is free, round robin: it keeps
 *     it until it exits, and every call goes straight to the lockless per-CPU
 *     fast paths. Threads beyond those CPUs are SHARED: each call leases a
 *     CPU of the shared pool with kmm_cpu_tryenter (one atomic exchange),
 *     starting at the thread's home CPU; when the whole pool is busy the call
 *     runs on no CPU, which the slab and page allocators serve from their
 *     node lists under locks. A shared thread tries again for a CPU of its
 *     own every 4096 leases, so CPUs freed by exiting threads are taken up.
 *  2. Thread exit (a pthread key destructor): the thread's CPU gives its
 *     slabs and pages back to the nodes (kmm_slab_flush_cpu,
 *     kmm_drain_local_pages) and becomes free for the next thread. Calls after
 *     that (other destructors, the C library's own clean-up) run on no CPU.
 *  3. fork(): every lock of the machine (zone locks, slab list and slab bit
 *     locks, the CPUs themselves) may be held by another thread at the fork,
 *     and the child would inherit it held forever. Instead of taking each
 *     lock, the heap makes sure no thread is inside the allocator: each
 *     call raises its thread's busy counter (a plain store) and then reads
 *     km.forking. The prepare handler sets km.forking, issues
 *     membarrier(PRIVATE_EXPEDITED) (every running thread executes a full
 *     barrier: an asymmetric Dekker, so the call path needs only a compiler
 *     barrier) and waits for every registered thread's counter to drop to
 *     0; threads arriving meanwhile step back and wait. The fork then
 *     happens with every lock free and every per-CPU cache consistent. In
 *     the child the CPUs held by threads that do not exist there are freed.
 *     Cost: about 1 us per fork, and nothing measurable per call.
 *
 * Lock order: threads_lock (the registry) is taken alone, except across
 * fork() where the prepare handler holds it until the parent or child
 * handler.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

KM_TLS struct km_thread km_self;

static pthread_key_t exit_key;

#define SHARED_RETRY 4096

static void count(unsigned long *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* --- The registry ---------------------------------------------------------------------- */

static void registry_add(struct km_thread *t)
{
	spin_lock(&km.threads_lock);
	t->prev = NULL;
	t->next = km.threads;
	if (km.threads)
		km.threads->prev = t;
	km.threads = t;
	spin_unlock(&km.threads_lock);
}

static void registry_del(struct km_thread *t)
{
	spin_lock(&km.threads_lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		km.threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	spin_unlock(&km.threads_lock);
}

/* --- CPUs -------------------------------------------------------------------------------- */

/* A CPU of its own for @t, round robin over the exclusive ones; false if none is free. */
static bool bind_exclusive(struct km_thread *t)
{
	struct kmm_machine *m = km.m;
	unsigned int start = __atomic_fetch_add(&km.next_cpu, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < km.nr_exclusive; i++) {
		int cpu = (int)((start + (unsigned int)i) % (unsigned int)km.nr_exclusive);
		if (kmm_cpu_tryenter(m, cpu) == 0) {
			t->cpu = cpu;
			t->mode = KM_EXCLUSIVE;
			count(&km.st.exclusive);
			return true;
		}
	}
	return false;
}

/* First call of a thread (or first after a fork in the child): register and bind. */
static void bind_thread(struct km_thread *t)
{
	unsigned int seq = __atomic_fetch_add(&km.nr_threads_seen, 1, __ATOMIC_RELAXED);
	count(&km.st.threads);
	registry_add(t);
	t->tick = 1;
	t->cpu = -1;
	if (!bind_exclusive(t)) {
		t->mode = KM_SHARED;
		t->home =
		    km.nr_exclusive + (int)(seq % (unsigned int)(km.nr_cpus - km.nr_exclusive));
		t->retries = SHARED_RETRY;
		count(&km.st.shared);
	}
	/* Any value but NULL: the destructor runs at thread exit. (May allocate.) */
	pthread_setspecific(exit_key, t);
}

/* A shared thread leases a CPU of the pool for one call, or goes without. */
static void lease_cpu(struct km_thread *t)
{
	struct kmm_machine *m = km.m;
	int pool = km.nr_cpus - km.nr_exclusive;
	if (unlikely(--t->retries == 0)) {
		t->retries = SHARED_RETRY;
		if (bind_exclusive(t))
			return;
	}
	for (int i = 0; i < pool; i++) {
		int cpu = km.nr_exclusive + (t->home - km.nr_exclusive + i) % pool;
		if (kmm_cpu_tryenter(m, cpu) == 0) {
			t->cpu = cpu;
			return;
		}
	}
	t->cpu = -1;
	count(&km.st.no_cpu_calls);
}

/* --- Entering and leaving ------------------------------------------------------------------- */

static void wait_for_fork(struct km_thread *t)
{
	while (km_forking()) {
		/* Step back: the forking thread waits for busy == 0. */
		__atomic_store_n(&t->busy, t->busy - 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&km.forking, __ATOMIC_ACQUIRE))
			sched_yield();
		km_busy_inc(t);
	}
}

void km_enter_slow(struct km_thread *t)
{
	/*
	 * A nested call (the C library allocating on the heap's behalf) runs
	 * inside the outer one, on its CPU; it must not wait for a fork, which
	 * waits for the outer call.
	 */
	if (t->busy > 1 && t->mode != KM_UNBOUND)
		return;
	if (unlikely(km_forking()) && t->mode != KM_DEAD)
		wait_for_fork(t);
	switch (t->mode) {
	case KM_EXCLUSIVE:
		return;
	case KM_UNBOUND:
		bind_thread(t);
		if (t->mode == KM_SHARED)
			lease_cpu(t);
		return;
	case KM_SHARED:
		lease_cpu(t);
		return;
	case KM_DEAD:
		/* Not in the registry: fork() counts these calls globally. */
		__atomic_fetch_add(&km.dead_busy, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&km.forking, __ATOMIC_SEQ_CST)) {
			__atomic_fetch_sub(&km.dead_busy, 1, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&km.forking, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_fetch_add(&km.dead_busy, 1, __ATOMIC_SEQ_CST);
		}
		count(&km.st.no_cpu_calls);
		return;
	}
}

void km_leave_slow(struct km_thread *t)
{
	if (t->busy > 1)
		return; /* the outer call leaves */
	if (t->mode == KM_SHARED && t->cpu >= 0) {
		kmm_cpu_exit(km.m);
		t->cpu = -1;
	} else if (t->mode == KM_DEAD) {
		__atomic_fetch_sub(&km.dead_busy, 1, __ATOMIC_RELEASE);
	}
}

/* --- Thread exit ------------------------------------------------------------------------------ */

static void thread_exit(void *arg)
{
	struct km_thread *t = arg;
	struct kmm_machine *m = km.m;
	km_busy_inc(t);
	wait_for_fork(t);
	if (t->mode == KM_EXCLUSIVE) {
		km_cc_drain(t->cpu);
		kmm_slab_flush_cpu(m);
		kmm_drain_local_pages(m);
		kmm_cpu_exit(m);
	}
	t->mode = KM_DEAD;
	t->cpu = -1;
	/*
	 * Out of the allocator before the registry lock: a fork in progress
	 * holds that lock while it waits for this counter to drop (taking the
	 * lock with the counter raised deadlocked against fork_prepare). The
	 * thread holds nothing of the machine any more; a fork that sees it in
	 * the registry sees it idle, and the child does not have it.
	 */
	__atomic_store_n(&t->busy, t->busy - 1, __ATOMIC_RELEASE);
	registry_del(t);
}

/* --- fork() ---------------------------------------------------------------------------------------- */

static void fork_prepare(void)
{
	struct km_thread *self = &km_self;
	spin_lock(&km.threads_lock);
	__atomic_store_n(&km.forking, 1, __ATOMIC_SEQ_CST);
	if (km.membarrier)
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	for (struct km_thread *t = km.threads; t; t = t->next)
		if (t != self)
			while (__atomic_load_n(&t->busy, __ATOMIC_SEQ_CST))
				sched_yield();
	while (__atomic_load_n(&km.dead_busy, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void fork_parent(void)
{
	count(&km.st.forks);
	__atomic_store_n(&km.forking, 0, __ATOMIC_RELEASE);
	spin_unlock(&km.threads_lock);
}

static void fork_child(void)
{
	struct km_thread *self = &km_self;
	struct kmm_machine *m = km.m;
	count(&km.st.forks);
	/* Only this thread exists: free the CPUs the others held (their caches stay). */
	for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
		if (self->mode == KM_EXCLUSIVE && cpu == self->cpu)
			continue;
		__atomic_store_n(&m->cpus[cpu]->owner, 0, __ATOMIC_RELEASE);
		m->cpus[cpu]->prev = NULL;
	}
	km.threads = NULL;
	if (self->mode == KM_EXCLUSIVE || self->mode == KM_SHARED) {
		self->next = self->prev = NULL;
		km.threads = self;
	}
	km.dead_busy = 0;
	spin_lock_init(&km.threads_lock);
	spin_lock_init(&km.purge_lock);
	spin_lock_init(&km.huge_lock);
	spin_lock_init(&km.aligned_lock);
	__atomic_store_n(&km.forking, 0, __ATOMIC_RELEASE);
}

void km_threads_init(void)
{
	long r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	km.membarrier =
	    r > 0 && (r & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	pthread_key_create(&exit_key, thread_exit);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
