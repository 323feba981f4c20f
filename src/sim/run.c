/*
 * The two run modes: every simulated CPU stepping in turn on one host
 * thread (deterministic), or one host thread per CPU (concurrent).
 *
 * Linux counterpart: the scheduler's per-CPU run loop, reduced to what the
 * memory manager's tests and workloads need: each CPU has its own stream of
 * work (its tasks' accesses and system calls), given as a step function.
 * Deterministic mode makes a run a pure function of its input and seed (one
 * thread, a fixed interleaving: CPU 0's step, CPU 1's step, ...); concurrent
 * mode is where races show, and what ThreadSanitizer checks.
 *
 * kswapd follows the mode: in concurrent mode each node's kswapd is a host
 * thread for the length of the run; in deterministic mode the wake-ups of
 * a round are served after it, on the calling thread (reclaim/kswapd.c).
 */
#include "sim.h"
#include <kmm/reclaim.h>
#include <errno.h>

struct cpu_thread {
	struct kmm_machine *m;
	int cpu;
	kmm_cpu_step_fn step;
	void *arg;
	struct kmm_port_thread *thread;
};

static void *cpu_thread_fn(void *p)
{
	struct cpu_thread *ct = p;
	kmm_cpu_enter(ct->m, ct->cpu);
	while (ct->step(ct->m, ct->cpu, ct->arg))
		;
	/* A task switch may have moved this thread; leave whatever CPU it is on. */
	kmm_task_switch_out(ct->m);
	return NULL;
}

static int run_concurrent(struct kmm_machine *m, kmm_cpu_step_fn step, void *arg)
{
	int n = m->nr_cpus, started = 0, err = 0;
	struct cpu_thread *ct = kmm_port_alloc((size_t)n * sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	bool own_kswapd = kmm_kswapd_start_threads(m) == 0;
	for (int c = 0; c < n; c++) {
		ct[c] = (struct cpu_thread){.m = m, .cpu = c, .step = step, .arg = arg};
		err = kmm_port_thread_create(&ct[c].thread, cpu_thread_fn, &ct[c]);
		if (err)
			break;
		started++;
	}
	for (int c = 0; c < started; c++)
		kmm_port_thread_join(ct[c].thread);
	if (own_kswapd)
		kmm_kswapd_stop_threads(m);
	kmm_port_free(ct, (size_t)n * sizeof(*ct));
	return err;
}

static int run_deterministic(struct kmm_machine *m, kmm_cpu_step_fn step, void *arg)
{
	int n = m->nr_cpus, left = n;
	bool *done = kmm_port_alloc((size_t)n);
	if (!done)
		return -ENOMEM;
	while (left) {
		for (int c = 0; c < n; c++) {
			if (done[c])
				continue;
			kmm_task_switch_out(m);
			kmm_cpu_enter(m, c);
			if (!step(m, c, arg)) {
				done[c] = true;
				left--;
			}
			kmm_task_switch_out(m);
		}
		/* kswapd's turn: what this round's allocations woke it for. */
		kmm_cpu_enter(m, 0);
		kmm_kswapd_run_pending(m);
		kmm_cpu_exit(m);
	}
	kmm_port_free(done, (size_t)n);
	return 0;
}

int kmm_run(struct kmm_machine *m, enum kmm_run_mode mode, kmm_cpu_step_fn step, void *arg)
{
	if (mode == KMM_RUN_CONCURRENT)
		return run_concurrent(m, step, arg);
	return run_deterministic(m, step, arg);
}
