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
#include "timeseries.h"

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
	struct sim_stats phase_start;		  /* totals when the current phase began */
	uint64_t phase_accesses, phase_events[4]; /* and the tasks' figures (vm_events) */
	const char *phase;
	uint64_t phase_ns;
	/* Output. */
	unsigned long nsnap;
	FILE *snapcsv, *timing, *tscsv;
	struct sim_ts *ts; /* the counters at each snapshot, for timeseries.csv and the report */
	uint64_t next_snap_ops;
	struct kmm_ftrace *ftrace;
	uint64_t trace_events; /* deterministic clock of the trace */
	/* Tasks (exec_task.c): live tasks by slot, regions' addresses and lengths. */
	struct kmm_task **tasks;
	unsigned long *region_addr, *region_len;
	struct kmm_file **files;
	/*
	 * What each file's pages hold, for checking reads (exec_task.c
	 * sim_exec_fileio): FILE_ZERO as created, FILE_PATTERN after a write op,
	 * FILE_UNKNOWN once a shared writable mapping may have changed them.
	 */
	uint8_t **file_state;
	uint64_t file_mismatches; /* pages a read found different from what was written */
	char tmpdir[4096];	  /* files and swap areas; "" when none */
	uint64_t oom_faults;	  /* faults and calls that found no memory */
	uint64_t rmap_peak;	  /* the reverse-mapping objects' bytes at their most */
	bool oom;		  /* stopped on one (fail_on_oom) */
	uint64_t accesses[KMM_MAX_CPUS];
	/* Progress bar (a terminal only). */
	bool progress;
	uint64_t total_ops;   /* operations the program will run (repeats expanded) */
	uint64_t progress_ns; /* when the bar was last drawn */
	uint64_t start_ns;    /* when the operations started */
	bool bar_shown;	      /* a bar is on the terminal's last line */
	/* Concurrent mode. */
	bool concurrent;
	pthread_barrier_t barrier;
	int nthreads;
	int leader_cpu;
	/* Concurrent mode: this run started kswapd's threads, the swap I/O thread. */
	bool own_kswapd, own_io;
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

/* Stop the run on an out-of-memory failure (kmm_sim_opts.fail_on_oom). */
void sim_oom(struct sim_run *r, const struct wl_op *op);

/* Redraw the progress bar if it is due (deterministic mode, on a terminal). */
void sim_progress_tick(struct sim_run *r);

/* exec_task.c */
int sim_tasks_init(struct sim_run *r);
int sim_backing_setup(struct sim_run *r);
/* Reap the tasks, close the files, switch the swap areas off (machine still up). */
void sim_tasks_release(struct sim_run *r);
void sim_backing_remove(struct sim_run *r);
void sim_tasks_free(struct sim_run *r);
void sim_exec_spawn(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_mmap(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_area(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_mlockall(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_brk(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_touch(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_fileio(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_fork(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_exec(struct sim_run *r, const struct wl_op *op, int cpu);
void sim_exec_exit(struct sim_run *r, const struct wl_op *op, int cpu);

#endif /* KMM_SIM_EXEC_H */
