/*
 * The workload executor's state, shared by the driver (exec.c) and the
 * files that run one family of operations each (exec_kernel.c: the page
 * allocator and the slab allocator; the address-space layer's operations
 * will get their own). Internal to sim/.
 */
#ifndef KMM_SIM_EXEC_H
#define KMM_SIM_EXEC_H

#include <pthread.h>
#include <stdio.h>
#include "workload.h"

/*
 * A pool: the blocks or objects one name holds, oldest first, in a ring.
 * @info is the block's order (pages) or the bytes asked for (objects).
 */
struct sim_pool {
	pthread_mutex_t lock;
	enum wl_pool_kind kind;
	void **items;
	uint32_t *info;
	size_t head, count, cap; /* cap: a power of two */
	uint32_t spec;		 /* the allocation op churn repeats */
};

/* Per-CPU counters (summed when read); see struct kmm_sim_result. */
struct sim_stats {
	uint64_t ops, alloc_calls, alloc_failed;
	uint64_t pages_allocated, pages_freed, blocks_freed;
	uint64_t objects_allocated, objects_freed, bytes_requested;
} ____cacheline_aligned;

struct sim_run {
	struct wl_program *p;
	struct kmm_machine *m;
	const struct kmm_sim_opts *o;
	struct kmm_error *err;
	bool failed;
	uint64_t seed;
	struct sim_pool *pools;
	struct kmm_kmem_cache **caches; /* live caches by slot, NULL when destroyed */
	/*
	 * Each CPU's random streams, one per kind of choice, so that the
	 * sizes and orders asked for and churn's coin flips do not depend on
	 * how many random picks a free made (which depends on what the pool
	 * held, and so on the mode).
	 */
	struct {
		struct kmm_rng size, coin, pick;
	} rng[KMM_MAX_CPUS];
	struct sim_stats stats[KMM_MAX_CPUS];
	struct sim_stats phase_start; /* totals when the current phase began */
	const char *phase;
	uint64_t phase_ns;
	/* Output. */
	unsigned long nsnap;
	FILE *snapcsv, *timing;
	uint64_t next_snap_ops;
	struct kmm_ftrace *ftrace;
	uint64_t trace_events; /* deterministic clock of the trace */
	/* Concurrent mode. */
	bool concurrent;
	pthread_barrier_t barrier;
	int nthreads;
	int leader_cpu;
	/* Threads start together, or not at all if one could not be created. */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate;
	int gate_state; /* 0 wait, 1 go, -1 give up */
};

/* Stop the run with a message at @op (or without a place); the first one wins. */
__kmm_printf(3, 4) void sim_fail(struct sim_run *r, const struct wl_op *op, const char *fmt, ...);

/* exec_kernel.c */
int sim_pools_init(struct sim_run *r);
/* Give back whatever the pools still hold, then free them. */
void sim_pools_release(struct sim_run *r);
void sim_exec_alloc(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_free(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_churn(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_cache_create(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_cache_destroy(struct sim_run *r, const struct wl_op *op, int cpu);

#endif /* KMM_SIM_EXEC_H */
