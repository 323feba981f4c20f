/*
 * The workload executor: boots the workload's machine and runs its
 * checked program.
 *
 * Linux counterpart: none; the operations stand for what processes and
 * kernel code ask of mm (alloc_pages/__free_pages here; mmap, page
 * faults, fork, kmalloc as the layers that serve them arrive).
 *
 * Theory of operation:
 *  1. Dispatch. Each operation kind has an entry in sim_ops[]: the
 *     function that runs it, or, for kinds whose layer does not exist in
 *     this version, the layer it needs. kmm_workload_supported() consults
 *     the table before anything runs, so a workload that uses mmap fails
 *     with "not supported yet: mmap (needs the address-space layer)"
 *     instead of half-running. A new layer plugs in by filling its
 *     entries (task operations: sim_vm_op; slab operations: sim_slab_op).
 *  2. The interpreter walks the flat program with a stack of repeat
 *     counters (workload.h). Kernel operations run on the simulated CPU
 *     they name (cpu=N, default 0); each CPU draws its random numbers from
 *     its own stream, seeded from the workload seed and the CPU number, so
 *     the sizes and orders asked for are the same in both modes.
 *  3. Deterministic mode (the default): one host thread runs every
 *     operation in program order, entering each operation's CPU; the same
 *     workload and seed give the same output directory byte for byte.
 *     Concurrent mode: one host thread per CPU the workload names, each
 *     walking the whole program and running the kernel operations of its
 *     CPU. Phase boundaries and global operations (sysctl, drain, validate,
 *     snapshot, echo) are barriers: every thread leaves its CPU and waits,
 *     the first thread runs the operation alone on a quiet machine, then
 *     all go on. Pools are shared between CPUs under a mutex each.
 *  4. Output (--out DIR): proc/NNNN/ holds /proc views in Linux's formats
 *     at each snapshot (phase ends, snapshot statements, every N
 *     operations with --snapshot-every, and the end); snapshots.csv says
 *     when each was taken; summary.txt holds the run's figures. Wall-clock
 *     times go to timing.txt only, so every other file is reproducible.
 */
#define _GNU_SOURCE
#include "workload.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct sim_run;
typedef void (*sim_exec_fn)(struct sim_run *r, const struct wl_op *op, int cpu);

/* One entry per operation kind: how to run it, or which layer it waits for. */
struct sim_op_desc {
	sim_exec_fn exec; /* NULL: not supported yet */
	const char *needs;
	bool barrier; /* runs alone, all CPUs quiet (concurrent mode) */
};

/* A pool: the blocks or objects one name holds, oldest first (a ring). */
struct sim_pool {
	pthread_mutex_t lock;
	struct kmm_page **pages;
	unsigned char *orders;
	size_t head, count, cap; /* cap: a power of two */
	uint32_t spec;		 /* the allocation op churn repeats */
};

struct sim_stats {
	uint64_t ops, alloc_calls, alloc_failed, pages_allocated, pages_freed, blocks_freed;
} ____cacheline_aligned;

struct sim_run {
	struct wl_program *p;
	struct kmm_machine *m;
	const struct kmm_sim_opts *o;
	struct kmm_error *err;
	bool failed;
	uint64_t seed;
	struct sim_pool *pools;
	struct kmm_rng rng[KMM_MAX_CPUS];
	struct sim_stats stats[KMM_MAX_CPUS];
	struct sim_stats phase_start; /* totals when the current phase began */
	const char *phase;
	uint64_t phase_ns;
	/* Output. */
	unsigned long nsnap;
	FILE *snapcsv, *timing;
	uint64_t next_snap_ops;
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

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__kmm_printf(3, 4) static void run_fail(struct sim_run *r, const struct wl_op *op, const char *fmt,
					...)
{
	va_list ap;
	char msg[400];
	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = true;
	if (op)
		wl_error(r->err, r->p, op->loc, "%s", msg);
	else
		kmm_error_set(r->err, -EIO, "%s", msg);
}

static void logf_(struct sim_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct sim_run *r, const char *fmt, ...)
{
	va_list ap;
	if (!r->o->log)
		return;
	va_start(ap, fmt);
	vfprintf(r->o->log, fmt, ap);
	va_end(ap);
}

static struct sim_stats totals(const struct sim_run *r)
{
	struct sim_stats t = {0};
	for (int c = 0; c < KMM_MAX_CPUS; c++) {
		t.ops += r->stats[c].ops;
		t.alloc_calls += r->stats[c].alloc_calls;
		t.alloc_failed += r->stats[c].alloc_failed;
		t.pages_allocated += r->stats[c].pages_allocated;
		t.pages_freed += r->stats[c].pages_freed;
		t.blocks_freed += r->stats[c].blocks_freed;
	}
	return t;
}

/* --- Pools ---------------------------------------------------------------------------------- */

static bool pool_push(struct sim_pool *pl, struct kmm_page *page, unsigned int order)
{
	if (pl->count == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 64;
		struct kmm_page **pages = malloc(cap * sizeof(*pages));
		unsigned char *orders = malloc(cap);
		if (!pages || !orders) {
			free(pages);
			free(orders);
			return false;
		}
		for (size_t i = 0; i < pl->count; i++) {
			size_t j = (pl->head + i) & (pl->cap - 1);
			pages[i] = pl->pages[j];
			orders[i] = pl->orders[j];
		}
		free(pl->pages);
		free(pl->orders);
		pl->pages = pages;
		pl->orders = orders;
		pl->head = 0;
		pl->cap = cap;
	}
	size_t tail = (pl->head + pl->count) & (pl->cap - 1);
	pl->pages[tail] = page;
	pl->orders[tail] = (unsigned char)order;
	pl->count++;
	return true;
}

/* Take one block out (the pool is not empty). */
static struct kmm_page *pool_pop(struct sim_pool *pl, enum wl_pick pick, struct kmm_rng *rng,
				 unsigned int *order)
{
	size_t mask = pl->cap - 1, idx;
	size_t last = (pl->head + pl->count - 1) & mask;
	if (pick == WL_PICK_FIFO) {
		idx = pl->head;
		pl->head = (pl->head + 1) & mask;
	} else {
		idx =
		    pick == WL_PICK_LIFO ? last : (pl->head + kmm_rng_below(rng, pl->count)) & mask;
		/* The newest block fills the hole. */
		struct kmm_page *page = pl->pages[idx];
		unsigned int o = pl->orders[idx];
		pl->pages[idx] = pl->pages[last];
		pl->orders[idx] = pl->orders[last];
		pl->pages[last] = page;
		pl->orders[last] = (unsigned char)o;
		idx = last;
	}
	pl->count--;
	*order = pl->orders[idx];
	return pl->pages[idx];
}

/* --- Page allocator operations --------------------------------------------------------------- */

static void alloc_one(struct sim_run *r, const struct wl_op *spec, int cpu)
{
	struct sim_pool *pl = &r->pools[spec->u.alloc.pool];
	struct sim_stats *st = &r->stats[cpu];
	unsigned int order = (unsigned int)wl_dist_sample(spec->u.alloc.dist, &r->rng[cpu]);
	struct kmm_page *page =
	    spec->u.alloc.node >= 0
		? kmm_alloc_pages_node(r->m, spec->u.alloc.node, spec->u.alloc.gfp, order)
		: kmm_alloc_pages(r->m, spec->u.alloc.gfp, order);
	st->alloc_calls++;
	if (!page) {
		st->alloc_failed++;
		return;
	}
	st->pages_allocated += 1UL << order;
	pthread_mutex_lock(&pl->lock);
	bool kept = pool_push(pl, page, order);
	pthread_mutex_unlock(&pl->lock);
	if (!kept) { /* no host memory to remember it: give it back */
		kmm_free_pages(r->m, page, order);
		st->pages_freed += 1UL << order;
		st->blocks_freed++;
	}
}

static bool free_one(struct sim_run *r, struct sim_pool *pl, enum wl_pick pick, int cpu)
{
	unsigned int order;
	pthread_mutex_lock(&pl->lock);
	if (!pl->count) {
		pthread_mutex_unlock(&pl->lock);
		return false;
	}
	struct kmm_page *page = pool_pop(pl, pick, &r->rng[cpu], &order);
	pthread_mutex_unlock(&pl->lock);
	kmm_free_pages(r->m, page, order);
	r->stats[cpu].pages_freed += 1UL << order;
	r->stats[cpu].blocks_freed++;
	return true;
}

static void exec_alloc_pages(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct sim_pool *pl = &r->pools[op->u.alloc.pool];
	pl->spec = (uint32_t)(op - r->p->ops);
	for (uint64_t i = 0; i < op->u.alloc.count; i++)
		alloc_one(r, op, cpu);
}

/*
 * free and churn work on page pools only, for now: a pool of kmalloc or
 * cache objects cannot exist until the slab layer runs its allocations
 * (kmm_workload_supported() refuses them first). Then these dispatch on
 * the pool's kind.
 */
static void exec_free(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct sim_pool *pl = &r->pools[op->u.free.pool];
	for (uint64_t i = 0; op->u.free.all || i < op->u.free.count; i++)
		if (!free_one(r, pl, op->u.free.pick, cpu))
			break;
}

static void exec_churn(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct sim_pool *pl = &r->pools[op->u.churn.pool];
	const struct wl_op *spec = &r->p->ops[pl->spec];
	for (uint64_t i = 0; i < op->u.churn.steps; i++) {
		bool do_free = kmm_rng_below(&r->rng[cpu], 100) < op->u.churn.free_pct;
		if (!do_free || !free_one(r, pl, WL_PICK_RANDOM, cpu))
			alloc_one(r, spec, cpu);
	}
}

/* --- Output ------------------------------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0777) && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	size_t n = fwrite(data, 1, len, f);
	int ret = (n != len || ferror(f)) ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

static void snapshot(struct sim_run *r, const struct wl_op *op, const char *label)
{
	static const char *const views[] = {"buddyinfo", "zoneinfo", "pagetypeinfo",
					    "meminfo",	 "vmstat",   "kmmstat"};
	if (!r->o->out_dir || r->failed)
		return;
	char dir[4200], path[4300];
	struct kmm_buf b;
	r->nsnap++;
	snprintf(dir, sizeof(dir), "%s/proc/%04lu", r->o->out_dir, r->nsnap);
	int ret = mkdir_p(dir);
	if (ret) {
		run_fail(r, NULL, "%s: %s", dir, strerror(-ret));
		return;
	}
	kmm_buf_init(&b);
	for (size_t v = 0; v < KMM_ARRAY_SIZE(views); v++) {
		kmm_buf_reset(&b);
		kmm_show(r->m, views[v], &b);
		snprintf(path, sizeof(path), "%s/%s", dir, views[v]);
		ret = write_file(path, b.data ? b.data : "", b.len);
		if (ret) {
			run_fail(r, NULL, "%s: %s", path, strerror(-ret));
			break;
		}
	}
	kmm_buf_free(&b);
	struct sim_stats t = totals(r);
	fprintf(r->snapcsv, "%lu,%llu,%s,%s,%lu,%llu,%llu,%llu\n", r->nsnap,
		(unsigned long long)t.ops, r->phase ? r->phase : "", label, kmm_nr_free_pages(r->m),
		(unsigned long long)t.alloc_calls, (unsigned long long)t.alloc_failed,
		(unsigned long long)(t.pages_allocated - t.pages_freed));
	(void)op;
}

static int open_out(struct sim_run *r)
{
	char path[4200];
	int ret = mkdir_p(r->o->out_dir);
	if (ret)
		return kmm_error_set(r->err, ret, "%s: %s", r->o->out_dir, strerror(-ret));
	snprintf(path, sizeof(path), "%s/snapshots.csv", r->o->out_dir);
	r->snapcsv = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/timing.txt", r->o->out_dir);
	r->timing = fopen(path, "w");
	if (!r->snapcsv || !r->timing)
		return kmm_error_set(r->err, -errno, "%s: %s", path, strerror(errno));
	fprintf(r->snapcsv, "snapshot,ops,phase,label,free_pages,alloc_calls,alloc_failed,"
			    "pages_held\n");
	fprintf(r->timing, "# wall-clock seconds (not reproducible; every other file is)\n");
	return 0;
}

static void write_summary(struct sim_run *r)
{
	char path[4200];
	struct kmm_buf b;
	struct sim_stats t = totals(r);
	if (!r->o->out_dir)
		return;
	kmm_buf_init(&b);
	kmm_buf_printf(&b,
		       "workload %s\nmode %s\nseed %llu\noperations %llu\nalloc_calls %llu\n"
		       "alloc_failed %llu\npages_allocated %llu\npages_freed %llu\n"
		       "blocks_freed %llu\nfree_pages_end %lu\nsnapshots %lu\n",
		       r->p->filename, r->concurrent ? "concurrent" : "deterministic",
		       (unsigned long long)r->seed, (unsigned long long)t.ops,
		       (unsigned long long)t.alloc_calls, (unsigned long long)t.alloc_failed,
		       (unsigned long long)t.pages_allocated, (unsigned long long)t.pages_freed,
		       (unsigned long long)t.blocks_freed, kmm_nr_free_pages(r->m), r->nsnap);
	snprintf(path, sizeof(path), "%s/summary.txt", r->o->out_dir);
	int ret = write_file(path, b.data, b.len);
	if (ret)
		run_fail(r, NULL, "%s: %s", path, strerror(-ret));
	kmm_buf_free(&b);
}

/* --- Global operations (barriers) -------------------------------------------------------------- */

static void phase_report(struct sim_run *r, const char *name)
{
	struct sim_stats t = totals(r), *s = &r->phase_start;
	uint64_t ns = now_ns() - r->phase_ns;
	logf_(r,
	      "phase %s: %llu operations; %llu blocks allocated (%llu pages), %llu failed; "
	      "%llu blocks freed (%llu pages)\n",
	      name, (unsigned long long)(t.ops - s->ops),
	      (unsigned long long)(t.alloc_calls - s->alloc_calls -
				   (t.alloc_failed - s->alloc_failed)),
	      (unsigned long long)(t.pages_allocated - s->pages_allocated),
	      (unsigned long long)(t.alloc_failed - s->alloc_failed),
	      (unsigned long long)(t.blocks_freed - s->blocks_freed),
	      (unsigned long long)(t.pages_freed - s->pages_freed));
	if (r->timing)
		fprintf(r->timing, "phase %s %.6f\n", name, (double)ns / 1e9);
}

static void exec_phase(struct sim_run *r, const struct wl_op *op, int cpu)
{
	r->phase = r->p->phases[op->u.phase.name].name;
	r->phase_start = totals(r);
	r->phase_ns = now_ns();
}

static void exec_end_phase(struct sim_run *r, const struct wl_op *op, int cpu)
{
	const struct wl_op *begin = &r->p->ops[op->u.end.begin];
	const char *name = r->p->phases[begin->u.phase.name].name;
	phase_report(r, name);
	snapshot(r, op, "end of phase");
	r->phase = NULL;
}

static void exec_sysctl(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_error e = {0};
	if (kmm_sysctl_set(r->m, op->u.sysctl.name, op->u.sysctl.value, &e))
		run_fail(r, op, "sysctl %s", e.msg);
}

static void exec_drain(struct sim_run *r, const struct wl_op *op, int cpu)
{
	kmm_drain_all_pages(r->m);
}

static void exec_validate(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_error e = {0};
	if (kmm_phys_validate(r->m, &e) || kmm_page_alloc_validate(r->m, &e))
		run_fail(r, op, "validate: invariant broken: %s", e.msg);
}

static void exec_snapshot(struct sim_run *r, const struct wl_op *op, int cpu)
{
	snapshot(r, op, op->u.echo.text ? op->u.echo.text : "snapshot");
}

static void exec_echo(struct sim_run *r, const struct wl_op *op, int cpu)
{
	logf_(r, "%s\n", op->u.echo.text);
}

/* Block markers: the interpreter handles them; they have no work of their own. */
static void exec_nothing(struct sim_run *r, const struct wl_op *op, int cpu)
{
}

#define VM_LAYER   "the address-space layer"
#define SLAB_LAYER "the slab layer"

static const struct sim_op_desc sim_ops[WL_NR_OPS] = {
    [WL_OP_PHASE] = {exec_phase, NULL, true},
    [WL_OP_END_PHASE] = {exec_end_phase, NULL, true},
    [WL_OP_REPEAT] = {exec_nothing, NULL, false},
    [WL_OP_END_REPEAT] = {exec_nothing, NULL, false},
    /* Tasks and their address spaces: src/vm (sim_vm_op when it lands). */
    [WL_OP_SPAWN] = {NULL, VM_LAYER, false},
    [WL_OP_MMAP] = {NULL, VM_LAYER, false},
    [WL_OP_MUNMAP] = {NULL, VM_LAYER, false},
    [WL_OP_MPROTECT] = {NULL, VM_LAYER, false},
    [WL_OP_MADVISE] = {NULL, VM_LAYER, false},
    [WL_OP_BRK] = {NULL, VM_LAYER, false},
    [WL_OP_TOUCH] = {NULL, VM_LAYER, false},
    [WL_OP_FORK] = {NULL, VM_LAYER, false},
    [WL_OP_EXEC] = {NULL, VM_LAYER, false},
    [WL_OP_EXIT] = {NULL, VM_LAYER, false},
    /* Kernel objects: src/slab (sim_slab_op when it lands). */
    [WL_OP_CACHE_CREATE] = {NULL, SLAB_LAYER, false},
    [WL_OP_CACHE_DESTROY] = {NULL, SLAB_LAYER, false},
    [WL_OP_CACHE_ALLOC] = {NULL, SLAB_LAYER, false},
    [WL_OP_KMALLOC] = {NULL, SLAB_LAYER, false},
    /* The page allocator. */
    [WL_OP_ALLOC_PAGES] = {exec_alloc_pages, NULL, false},
    [WL_OP_FREE] = {exec_free, NULL, false},
    [WL_OP_CHURN] = {exec_churn, NULL, false},
    [WL_OP_SYSCTL] = {exec_sysctl, NULL, true},
    [WL_OP_DRAIN] = {exec_drain, NULL, true},
    [WL_OP_VALIDATE] = {exec_validate, NULL, true},
    [WL_OP_SNAPSHOT] = {exec_snapshot, NULL, true},
    [WL_OP_ECHO] = {exec_echo, NULL, true},
};

const char *sim_op_needs(enum wl_op_kind kind)
{
	if ((unsigned int)kind >= WL_NR_OPS)
		return "a newer kmm";
	return sim_ops[kind].exec ? NULL : sim_ops[kind].needs;
}

/* --- The interpreter ------------------------------------------------------------------------------ */

/* Deterministic mode: the one thread enters the CPU an operation names. */
static void switch_cpu(struct sim_run *r, int *cur, int cpu)
{
	if (*cur == cpu)
		return;
	if (*cur >= 0)
		kmm_cpu_exit(r->m);
	kmm_cpu_enter(r->m, cpu);
	*cur = cpu;
}

/*
 * Walk the program. @self is the CPU of this thread in concurrent mode,
 * or -1 in deterministic mode (this thread runs everything).
 */
static void interpret(struct sim_run *r, int self)
{
	struct wl_program *p = r->p;
	struct {
		uint32_t begin;
		uint64_t left;
	} stack[WL_MAX_DEPTH];
	int sp = 0, cur = -1;
	bool leader = self < 0 || self == r->leader_cpu;

	if (self >= 0) {
		kmm_cpu_enter(r->m, self);
		cur = self;
	}
	for (uint32_t i = 0; i < p->nops && !r->failed; i++) {
		const struct wl_op *op = &p->ops[i];
		const struct sim_op_desc *d = &sim_ops[op->kind];
		if (op->kind == WL_OP_REPEAT) {
			if (!op->u.repeat.count) {
				i = op->u.repeat.end;
				continue;
			}
			stack[sp].begin = i;
			stack[sp].left = op->u.repeat.count;
			sp++;
			continue;
		}
		if (op->kind == WL_OP_END_REPEAT) {
			if (--stack[sp - 1].left)
				i = stack[sp - 1].begin;
			else
				sp--;
			continue;
		}
		if (d->barrier) {
			if (r->concurrent) {
				kmm_cpu_exit(r->m);
				pthread_barrier_wait(&r->barrier);
			}
			if (leader) {
				d->exec(r, op, self < 0 ? 0 : self);
				if (op->kind != WL_OP_PHASE && op->kind != WL_OP_END_PHASE)
					r->stats[self < 0 ? 0 : self].ops++;
			}
			if (r->concurrent) {
				pthread_barrier_wait(&r->barrier);
				kmm_cpu_enter(r->m, self);
			}
			continue;
		}
		int cpu = op->cpu;
		if (self >= 0 && cpu != self)
			continue;
		if (self < 0)
			switch_cpu(r, &cur, cpu);
		d->exec(r, op, cpu);
		r->stats[cpu].ops++;
		if (self < 0 && r->o->snapshot_every && r->stats[cpu].ops &&
		    totals(r).ops >= r->next_snap_ops) {
			snapshot(r, op, "every");
			r->next_snap_ops += r->o->snapshot_every;
		}
	}
	if (cur >= 0)
		kmm_cpu_exit(r->m);
}

struct thread_arg {
	struct sim_run *r;
	int cpu;
};

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct sim_run *r = a->r;
	pthread_mutex_lock(&r->gate_lock);
	while (!r->gate_state)
		pthread_cond_wait(&r->gate, &r->gate_lock);
	int go = r->gate_state > 0;
	pthread_mutex_unlock(&r->gate_lock);
	if (go)
		interpret(r, a->cpu);
	return NULL;
}

static void open_gate(struct sim_run *r, int state)
{
	pthread_mutex_lock(&r->gate_lock);
	r->gate_state = state;
	pthread_cond_broadcast(&r->gate);
	pthread_mutex_unlock(&r->gate_lock);
}

static int run_concurrent(struct sim_run *r)
{
	/* One thread per CPU that some kernel operation names (at least CPU 0). */
	bool used[KMM_MAX_CPUS] = {false};
	struct thread_arg args[KMM_MAX_CPUS];
	pthread_t threads[KMM_MAX_CPUS];
	int n = 0;
	used[0] = true;
	for (size_t i = 0; i < r->p->nops; i++)
		if (!sim_ops[r->p->ops[i].kind].barrier)
			used[r->p->ops[i].cpu] = true;
	r->leader_cpu = -1;
	for (int c = 0; c < KMM_MAX_CPUS; c++)
		if (used[c]) {
			if (r->leader_cpu < 0)
				r->leader_cpu = c;
			args[n++] = (struct thread_arg){r, c};
		}
	r->nthreads = n;
	if (pthread_barrier_init(&r->barrier, NULL, (unsigned int)n))
		return kmm_error_set(r->err, -EAGAIN, "cannot create a barrier for %d threads", n);
	pthread_mutex_init(&r->gate_lock, NULL);
	pthread_cond_init(&r->gate, NULL);
	int started = 0, ret = 0;
	for (; started < n; started++)
		if (pthread_create(&threads[started], NULL, thread_main, &args[started])) {
			ret = kmm_error_set(r->err, -EAGAIN, "cannot start a thread for CPU %d",
					    args[started].cpu);
			break;
		}
	/* With a thread missing, the others would wait at the first barrier forever. */
	open_gate(r, ret ? -1 : 1);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&r->barrier);
	pthread_cond_destroy(&r->gate);
	pthread_mutex_destroy(&r->gate_lock);
	return ret;
}

int kmm_workload_run(struct kmm_workload *w, const struct kmm_sim_opts *opts,
		     struct kmm_sim_result *res, struct kmm_error *err)
{
	static const struct kmm_sim_opts none = {0};
	struct wl_program *p = &w->p;
	const struct kmm_sim_opts *o = opts ? opts : &none;
	struct sim_run *r;
	int ret;

	if (!p->checked)
		return kmm_error_set(
		    err, -EINVAL, "%s: the workload must be checked before it runs", p->filename);
	ret = kmm_workload_supported(w, err);
	if (ret)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r)
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	r->p = p;
	r->o = o;
	r->err = err;
	r->concurrent = o->concurrent;
	r->seed = p->seed;
	r->next_snap_ops = o->snapshot_every;
	r->pools = calloc(p->npools + 1, sizeof(*r->pools));
	if (!r->pools) {
		free(r);
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	}
	for (size_t i = 0; i < p->npools; i++) {
		pthread_mutex_init(&r->pools[i].lock, NULL);
		r->pools[i].spec = p->pools[i].first_alloc;
	}
	/* Each CPU its own stream: the same choices in both modes. */
	for (int c = 0; c < KMM_MAX_CPUS; c++)
		kmm_rng_seed(&r->rng[c], p->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1)));

	if (o->out_dir) {
		ret = open_out(r);
		if (ret)
			goto out;
	}

	struct kmm_config cfg = p->cfg;
	cfg.seed = p->seed;
	cfg.quiet = !(o->boot_log && o->log);
	struct kmm_error e = {0};
	uint64_t t0 = now_ns();
	r->m = kmm_boot(&cfg, &e);
	if (!r->m) {
		ret = kmm_error_set(err, -EINVAL, "%s: cannot boot the machine: %s", p->filename,
				    e.msg);
		goto out;
	}
	kmm_wait_for_init(r->m);
	uint64_t t1 = now_ns();
	if (r->timing)
		fprintf(r->timing, "boot %.6f\n", (double)(t1 - t0) / 1e9);

	if (o->concurrent)
		ret = run_concurrent(r);
	else
		interpret(r, -1);
	uint64_t t2 = now_ns();
	if (!ret && !r->failed) {
		snapshot(r, NULL, "end");
		write_summary(r);
	}
	if (r->failed)
		ret = err->code ? err->code : -EINVAL;
	struct sim_stats t = totals(r);
	if (!ret)
		logf_(r,
		      "done: %llu operations in %.3f s; %llu blocks allocated (%llu pages), %llu "
		      "failed; %llu pages freed; %lu pages free at the end\n",
		      (unsigned long long)t.ops, (double)(t2 - t1) / 1e9,
		      (unsigned long long)(t.alloc_calls - t.alloc_failed),
		      (unsigned long long)t.pages_allocated, (unsigned long long)t.alloc_failed,
		      (unsigned long long)t.pages_freed, kmm_nr_free_pages(r->m));
	if (r->timing)
		fprintf(r->timing, "run %.6f\n", (double)(t2 - t1) / 1e9);
	if (res) {
		memset(res, 0, sizeof(*res));
		res->ops = t.ops;
		res->alloc_calls = t.alloc_calls;
		res->alloc_failed = t.alloc_failed;
		res->pages_allocated = t.pages_allocated;
		res->pages_freed = t.pages_freed;
		res->blocks_freed = t.blocks_freed;
		res->snapshots = r->nsnap;
		res->seconds = (double)(t2 - t1) / 1e9;
	}
	/* Blocks still in pools go back before the machine goes away. */
	for (size_t i = 0; i < p->npools; i++)
		while (r->pools[i].count) {
			unsigned int order;
			struct kmm_page *page = pool_pop(&r->pools[i], WL_PICK_LIFO, NULL, &order);
			kmm_free_pages(r->m, page, order);
		}
	kmm_machine_destroy(r->m);
out:
	if (r->snapcsv && fclose(r->snapcsv) && !ret)
		ret = kmm_error_set(err, -EIO, "%s/snapshots.csv: %s", o->out_dir, strerror(errno));
	if (r->timing)
		fclose(r->timing);
	for (size_t i = 0; i < p->npools; i++) {
		pthread_mutex_destroy(&r->pools[i].lock);
		free(r->pools[i].pages);
		free(r->pools[i].orders);
	}
	free(r->pools);
	free(r);
	return ret;
}
