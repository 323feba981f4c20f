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
 *     instead of half-running. The kernel's allocations (page allocator,
 *     slab) run in exec_kernel.c; the address-space layer plugs in the same
 *     way, filling the task operations' entries from a file of its own.
 *  2. The interpreter walks the flat program with a stack of repeat
 *     counters (workload.h). Kernel operations run on the simulated CPU
 *     they name (cpu=N, default 0); each CPU draws its random numbers from
 *     streams of its own, seeded from the workload seed and the CPU number,
 *     one for sizes and orders, one for churn's coin flips, one for random
 *     picks, so what allocations ask for is the same in both modes.
 *  3. Deterministic mode (the default): one host thread runs every
 *     operation in program order, entering each operation's CPU; the same
 *     workload and seed give the same output directory byte for byte.
 *     Concurrent mode: one host thread per CPU the workload names, each
 *     walking the whole program and running the kernel operations of its
 *     CPU. Phase boundaries and global operations (sysctl, drain, validate,
 *     snapshot, echo) are barriers: every thread leaves its CPU and waits,
 *     the first thread runs the operation alone on a quiet machine, then
 *     all go on. Pools are shared between CPUs under a mutex each. Each
 *     node's kswapd is a host thread of its own, woken by the allocations
 *     as in Linux (deterministic mode runs it between operations instead),
 *     and kmm_sim_opts.swap_io may hand swap reads to the swap I/O thread;
 *     both stop while a global operation runs.
 *  4. Output (--out DIR): proc/NNNN/ holds /proc views in Linux's formats
 *     at each snapshot (phase ends, snapshot statements, every N
 *     operations with --snapshot-every, and the end); snapshots.csv says
 *     when each was taken; summary.txt holds the run's figures; trace.txt
 *     the trace events asked for (src/sim/ftrace.c formats them), stamped
 *     in deterministic mode by a clock of their own. Wall-clock times go to
 *     timing.txt only, so every other file is reproducible.
 */
#define _GNU_SOURCE
#include "exec.h"
#include "sim_output.h"

#include <kmm/mm.h>
#include <kmm/reclaim.h>
#include <kmm/swap.h>
#include "../page/internal.h"
#include "../rmap/rmap.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void (*sim_exec_fn)(struct sim_run *r, const struct wl_op *op, int cpu);

/* One entry per operation kind: how to run it, or which layer it waits for. */
struct sim_op_desc {
	sim_exec_fn exec; /* NULL: not supported yet */
	const char *needs;
	bool barrier; /* runs alone, all CPUs quiet (concurrent mode) */
	bool task;    /* runs on its task's CPU (a barrier in concurrent mode) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sim_oom(struct sim_run *r, const struct wl_op *op)
{
	if (r->failed)
		return;
	sim_fail(r, op, "out of memory: the machine has no page left for %s (--fail-on-oom)",
		 wl_op_names[op->kind]);
	r->oom = true;
	r->err->code = -ENOMEM;
}

void sim_fail(struct sim_run *r, const struct wl_op *op, const char *fmt, ...)
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

/* Erase the progress bar before a line of output takes its place. */
static void progress_clear(struct sim_run *r)
{
	if (r->bar_shown) {
		fputs("\r\033[K", r->o->log);
		r->bar_shown = false;
	}
}

static void logf_(struct sim_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct sim_run *r, const char *fmt, ...)
{
	va_list ap;
	if (!r->o->log)
		return;
	progress_clear(r);
	va_start(ap, fmt);
	vfprintf(r->o->log, fmt, ap);
	va_end(ap);
}

static uint64_t total_accesses(const struct sim_run *r)
{
	uint64_t n = 0;
	for (int c = 0; c < KMM_MAX_CPUS; c++)
		n += r->accesses[c];
	return n;
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
		t.objects_allocated += r->stats[c].objects_allocated;
		t.objects_freed += r->stats[c].objects_freed;
		t.bytes_requested += r->stats[c].bytes_requested;
	}
	return t;
}

/* --- Output ------------------------------------------------------------------------------------ */

static void snapshot(struct sim_run *r, const struct wl_op *op, const char *label)
{
	struct kmm_error e = {0};
	if (!r->o->out_dir || r->failed)
		return;
	r->nsnap++;
	if (sim_proc_snapshot(r->m, r->o->out_dir, r->nsnap, &e)) {
		sim_fail(r, NULL, "%s", e.msg);
		return;
	}
	struct sim_stats t = totals(r);
	fprintf(r->snapcsv, "%lu,%llu,%s,%s,%lu,%llu,%llu,%llu,%llu\n", r->nsnap,
		(unsigned long long)t.ops, r->phase ? r->phase : "", label, kmm_nr_free_pages(r->m),
		(unsigned long long)t.alloc_calls, (unsigned long long)t.alloc_failed,
		(unsigned long long)(t.pages_allocated - t.pages_freed),
		(unsigned long long)(t.objects_allocated - t.objects_freed));
	if (r->ts)
		sim_ts_sample(r->ts, r->nsnap, t.ops, total_accesses(r), r->phase, label);
	(void)op;
}

static int open_out(struct sim_run *r)
{
	char path[4200];
	int ret = sim_mkdir_p(r->o->out_dir);
	if (ret)
		return kmm_error_set(r->err, ret, "%s: %s", r->o->out_dir, strerror(-ret));
	snprintf(path, sizeof(path), "%s/snapshots.csv", r->o->out_dir);
	r->snapcsv = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/timing.txt", r->o->out_dir);
	r->timing = fopen(path, "w");
	if (!r->snapcsv || !r->timing)
		return kmm_error_set(r->err, -errno, "%s: %s", path, strerror(errno));
	fprintf(r->snapcsv, "snapshot,ops,phase,label,free_pages,alloc_calls,alloc_failed,"
			    "pages_held,objects_held\n");
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
		       "blocks_freed %llu\nobjects_allocated %llu\nobjects_freed %llu\n"
		       "bytes_requested %llu\nfree_pages_end %lu\nsnapshots %lu\n",
		       r->p->filename, r->concurrent ? "concurrent" : "deterministic",
		       (unsigned long long)r->seed, (unsigned long long)t.ops,
		       (unsigned long long)t.alloc_calls, (unsigned long long)t.alloc_failed,
		       (unsigned long long)t.pages_allocated, (unsigned long long)t.pages_freed,
		       (unsigned long long)t.blocks_freed, (unsigned long long)t.objects_allocated,
		       (unsigned long long)t.objects_freed, (unsigned long long)t.bytes_requested,
		       kmm_nr_free_pages(r->m), r->nsnap);
	snprintf(path, sizeof(path), "%s/summary.txt", r->o->out_dir);
	int ret = sim_write_file(path, b.data, b.len);
	if (ret)
		sim_fail(r, NULL, "%s: %s", path, strerror(-ret));
	kmm_buf_free(&b);
}

/*
 * The reverse-mapping objects' peak, sampled after each task operation
 * (the only operations that map or unmap): what kmm compare shows of the
 * rmap designs' cost, which is gone again once the tasks exit.
 */
static void note_rmap_peak(struct sim_run *r)
{
	uint64_t bytes = rmap_bytes(r->m);
	if (bytes > r->rmap_peak)
		r->rmap_peak = bytes;
}

/* The machine's figures at the end of a run (kmm compare's table). */
static void machine_figures(struct sim_run *r, struct kmm_sim_result *res)
{
	struct kmm_machine *m = r->m;
	unsigned long ev[NR_VM_EVENT_ITEMS];
	kmm_wait_for_init(m);
	refresh_vm_stats(m);
	all_vm_events(m, ev);
	res->accesses = total_accesses(r);
	res->oom_faults = r->oom_faults;
	res->pgfault = ev[PGFAULT];
	res->pgmajfault = ev[PGMAJFAULT];
	res->pgscan = ev[PGSCAN_KSWAPD] + ev[PGSCAN_DIRECT];
	res->pgsteal = ev[PGSTEAL_KSWAPD] + ev[PGSTEAL_DIRECT];
	res->pswpin = ev[PSWPIN];
	res->pswpout = ev[PSWPOUT];
	res->free_pages_end = kmm_nr_free_pages(m);
	res->memmap_bytes = m->memmap_bytes;
	res->buddy_map_bytes = m->pa->buddy_map_bytes;
	res->pagetable_pages = global_node_page_state(m, NR_PAGETABLE);
	res->slab_bytes = global_node_page_state(m, NR_SLAB_RECLAIMABLE_B) +
			  global_node_page_state(m, NR_SLAB_UNRECLAIMABLE_B);
	res->rmap_peak_bytes = r->rmap_peak;
}

/* report.html (and the report's data, for kmm compare). */
static void write_report(struct sim_run *r)
{
	char path[4200];
	struct kmm_buf sum, json;
	struct sim_stats t = totals(r);
	struct kmm_sim_result fig = {0};
	const char *name = r->o->variant_label ? r->o->variant_label : r->p->filename;
	machine_figures(r, &fig);
	sim_ts_finish(r->ts);
	kmm_buf_init(&sum);
	kmm_buf_init(&json);
	kmm_buf_printf(
	    &sum,
	    "workload %s, seed %llu, %s mode\n"
	    "%llu operations, %llu pages touched, %lu snapshots\n"
	    "page faults %llu (major %llu), out of memory %llu\n"
	    "pages scanned %llu, reclaimed %llu, swapped out %llu, in %llu\n"
	    "page blocks allocated %llu, objects allocated %llu, free pages at the end %lu",
	    r->p->filename, (unsigned long long)r->seed,
	    r->concurrent ? "concurrent" : "deterministic", (unsigned long long)t.ops,
	    (unsigned long long)fig.accesses, r->nsnap, (unsigned long long)fig.pgfault,
	    (unsigned long long)fig.pgmajfault, (unsigned long long)fig.oom_faults,
	    (unsigned long long)fig.pgscan, (unsigned long long)fig.pgsteal,
	    (unsigned long long)fig.pswpout, (unsigned long long)fig.pswpin,
	    (unsigned long long)(t.alloc_calls - t.alloc_failed - t.objects_allocated),
	    (unsigned long long)t.objects_allocated, fig.free_pages_end);
	sim_ts_json(r->ts, name, sum.data, &json);
	if (r->o->report_data)
		kmm_buf_puts(r->o->report_data, json.data);
	if (!r->o->no_report) {
		const char *runs[1] = {json.data};
		char title[512];
		snprintf(title, sizeof(title), "kmm run %s", r->p->filename);
		snprintf(path, sizeof(path), "%s/report.html", r->o->out_dir);
		int ret = sim_report_write(path, title, runs, 1, NULL);
		if (ret)
			sim_fail(r, NULL, "%s: %s", path, strerror(-ret));
	}
	kmm_buf_free(&sum);
	kmm_buf_free(&json);
}

/* --- Global operations (barriers) -------------------------------------------------------------- */

/* The events a phase line reports: faults, major faults, pages reclaimed, swapped out. */
static void task_events(struct sim_run *r, uint64_t out[4])
{
	unsigned long ev[NR_VM_EVENT_ITEMS];
	refresh_vm_stats(r->m);
	all_vm_events(r->m, ev);
	out[0] = ev[PGFAULT];
	out[1] = ev[PGMAJFAULT];
	out[2] = ev[PGSTEAL_KSWAPD] + ev[PGSTEAL_DIRECT];
	out[3] = ev[PSWPOUT];
}

static void phase_report(struct sim_run *r, const char *name)
{
	struct sim_stats t = totals(r), *s = &r->phase_start;
	uint64_t ns = now_ns() - r->phase_ns;
	uint64_t objs = t.objects_allocated - s->objects_allocated;
	uint64_t blocks =
	    t.alloc_calls - s->alloc_calls - (t.alloc_failed - s->alloc_failed) - objs;
	uint64_t acc = total_accesses(r) - r->phase_accesses, ev[4];
	bool objects = objs || t.objects_freed != s->objects_freed;
	bool pages =
	    blocks || t.alloc_failed != s->alloc_failed || t.blocks_freed != s->blocks_freed;
	logf_(r, "phase %s: %llu operations", name, (unsigned long long)(t.ops - s->ops));
	/* Page blocks when the phase had some, or nothing else to say. */
	if (pages || (!objects && !acc))
		logf_(r,
		      "; %llu blocks allocated (%llu pages), %llu failed; "
		      "%llu blocks freed (%llu pages)",
		      (unsigned long long)blocks,
		      (unsigned long long)(t.pages_allocated - s->pages_allocated),
		      (unsigned long long)(t.alloc_failed - s->alloc_failed),
		      (unsigned long long)(t.blocks_freed - s->blocks_freed),
		      (unsigned long long)(t.pages_freed - s->pages_freed));
	if (objects)
		logf_(r, "; %llu objects allocated (%llu bytes), %llu freed",
		      (unsigned long long)objs,
		      (unsigned long long)(t.bytes_requested - s->bytes_requested),
		      (unsigned long long)(t.objects_freed - s->objects_freed));
	if (acc) {
		task_events(r, ev);
		logf_(r, "; %llu pages touched, %llu faults (%llu major)", (unsigned long long)acc,
		      (unsigned long long)(ev[0] - r->phase_events[0]),
		      (unsigned long long)(ev[1] - r->phase_events[1]));
		if (ev[2] != r->phase_events[2] || ev[3] != r->phase_events[3])
			logf_(r, ", %llu reclaimed, %llu swapped out",
			      (unsigned long long)(ev[2] - r->phase_events[2]),
			      (unsigned long long)(ev[3] - r->phase_events[3]));
	}
	logf_(r, "\n");
	if (r->timing)
		fprintf(r->timing, "phase %s %.6f\n", name, (double)ns / 1e9);
}

static void exec_phase(struct sim_run *r, const struct wl_op *op, int cpu)
{
	r->phase = r->p->phases[op->u.phase.name].name;
	r->phase_start = totals(r);
	r->phase_accesses = total_accesses(r);
	task_events(r, r->phase_events);
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
		sim_fail(r, op, "sysctl %s", e.msg);
}

static void exec_drain(struct sim_run *r, const struct wl_op *op, int cpu)
{
	kmm_drain_all_pages(r->m);
}

static void exec_validate(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_error e = {0};
	if (kmm_phys_validate(r->m, &e) || kmm_page_alloc_validate(r->m, &e) ||
	    kmm_slab_validate_all(r->m, &e) || kmm_vm_validate(r->m, &e))
		sim_fail(r, op, "validate: invariant broken: %s", e.msg);
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

static const struct sim_op_desc sim_ops[WL_NR_OPS] = {
    [WL_OP_PHASE] = {exec_phase, NULL, true},
    [WL_OP_END_PHASE] = {exec_end_phase, NULL, true},
    [WL_OP_REPEAT] = {exec_nothing, NULL, false},
    [WL_OP_END_REPEAT] = {exec_nothing, NULL, false},
    /*
     * Tasks and their address spaces (exec_task.c): each runs on its
     * task's CPU; in concurrent mode one thread runs them alone.
     */
    [WL_OP_SPAWN] = {sim_exec_spawn, NULL, false, true},
    [WL_OP_MMAP] = {sim_exec_mmap, NULL, false, true},
    [WL_OP_MUNMAP] = {sim_exec_area, NULL, false, true},
    [WL_OP_MPROTECT] = {sim_exec_area, NULL, false, true},
    [WL_OP_MADVISE] = {sim_exec_area, NULL, false, true},
    [WL_OP_MLOCK] = {sim_exec_area, NULL, false, true},
    [WL_OP_MUNLOCK] = {sim_exec_area, NULL, false, true},
    [WL_OP_MLOCKALL] = {sim_exec_mlockall, NULL, false, true},
    [WL_OP_MUNLOCKALL] = {sim_exec_mlockall, NULL, false, true},
    [WL_OP_BRK] = {sim_exec_brk, NULL, false, true},
    [WL_OP_TOUCH] = {sim_exec_touch, NULL, false, true},
    [WL_OP_FILE_WRITE] = {sim_exec_fileio, NULL, false, true},
    [WL_OP_FILE_READ] = {sim_exec_fileio, NULL, false, true},
    [WL_OP_FORK] = {sim_exec_fork, NULL, false, true},
    [WL_OP_EXEC] = {sim_exec_exec, NULL, false, true},
    [WL_OP_EXIT] = {sim_exec_exit, NULL, false, true},
    /*
     * The kernel's allocators (exec_kernel.c). Creating and destroying a
     * cache are barriers, so in concurrent mode every CPU sees the cache
     * exist before it allocates from it.
     */
    [WL_OP_CACHE_CREATE] = {sim_exec_cache_create, NULL, true},
    [WL_OP_CACHE_DESTROY] = {sim_exec_cache_destroy, NULL, true},
    [WL_OP_CACHE_ALLOC] = {sim_exec_alloc, NULL, false},
    [WL_OP_KMALLOC] = {sim_exec_alloc, NULL, false},
    [WL_OP_ALLOC_PAGES] = {sim_exec_alloc, NULL, false},
    [WL_OP_FREE] = {sim_exec_free, NULL, false},
    [WL_OP_CHURN] = {sim_exec_churn, NULL, false},
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

/* --- Trace events (--trace) ------------------------------------------------------------------ */

/*
 * In deterministic mode the timestamp column is a clock of its own, one
 * microsecond per event, so trace.txt is as reproducible as the rest of
 * the output directory; in concurrent mode it is host time.
 */
static void trace_context(void *arg, struct kmm_machine *m, enum kmm_trace_event ev,
			  const uint64_t *args, struct kmm_ftrace_ctx *ctx)
{
	struct sim_run *r = arg;
	if (!r->concurrent)
		ctx->ts_ns = ++r->trace_events * 1000;
}

/*
 * %pS of a call site the dynamic linker cannot name (kmm's own functions,
 * in an executable that exports none): "OBJECT+0xOFFSET", the same in
 * every run of one build, where a raw address would move with ASLR.
 */
static bool trace_symbol(void *arg, uint64_t addr, char *buf, size_t len)
{
	Dl_info info;
	if (!addr || !dladdr((void *)(uintptr_t)addr, &info) || info.dli_sname || !info.dli_fbase ||
	    !info.dli_fname)
		return false;
	const char *base = strrchr(info.dli_fname, '/');
	snprintf(buf, len, "%s+0x%llx", base ? base + 1 : info.dli_fname,
		 (unsigned long long)(addr - (uint64_t)(uintptr_t)info.dli_fbase));
	return true;
}

static int open_trace(struct sim_run *r)
{
	char path[4200];
	struct kmm_ftrace_opts fo = {0};
	if (!r->o->out_dir)
		return kmm_error_set(r->err, -EINVAL, "trace events need an output directory");
	snprintf(path, sizeof(path), "%s/trace.txt", r->o->out_dir);
	fo.events = r->o->trace_events;
	fo.path = path;
	fo.style = KMM_FTRACE_TRACE;
	fo.hook_arg = r;
	fo.context = trace_context;
	fo.symbol = trace_symbol;
	r->ftrace = kmm_ftrace_open(r->m, &fo, r->err);
	return r->ftrace ? 0 : (r->err->code ? r->err->code : -EINVAL);
}

/* --- Progress ----------------------------------------------------------------------------------- */

/* Operations the program runs, repeats expanded (what the bar counts to). */
static uint64_t count_ops(const struct wl_program *p)
{
	uint64_t mult[WL_MAX_DEPTH + 1] = {1}, total = 0;
	int sp = 0;
	for (size_t i = 0; i < p->nops; i++) {
		const struct wl_op *op = &p->ops[i];
		if (op->kind == WL_OP_REPEAT) {
			uint64_t c = op->u.repeat.count, m = mult[sp];
			mult[sp + 1] = c && m > UINT64_MAX / c ? UINT64_MAX : m * c;
			sp++;
		} else if (op->kind == WL_OP_END_REPEAT) {
			sp--;
		} else if (op->kind != WL_OP_PHASE && op->kind != WL_OP_END_PHASE) {
			total = total + mult[sp] < total ? UINT64_MAX : total + mult[sp];
		}
	}
	return total;
}

/*
 * The bar on a terminal: phase, operations per second and the time left
 * at that rate, redrawn at most ten times a second on one line.
 */
void sim_progress_tick(struct sim_run *r)
{
	uint64_t now = now_ns();
	if (now - r->progress_ns < 100000000u)
		return;
	r->progress_ns = now;
	uint64_t done = totals(r).ops, total = r->total_ops;
	double secs = (double)(now - r->start_ns) / 1e9;
	double rate = secs > 0 ? (double)done / secs : 0;
	double frac = total ? (double)done / (double)total : 0;
	if (frac > 1)
		frac = 1;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	char eta[32] = "?";
	if (rate > 0 && total >= done)
		snprintf(eta, sizeof(eta), "%.0fs", (double)(total - done) / rate);
	fprintf(r->o->log, "\r\033[K[%s] %3.0f%% %s %.0f ops/s ETA %s", bar, frac * 100,
		r->phase ? r->phase : "-", rate, eta);
	fflush(r->o->log);
	r->bar_shown = true;
}

/* --- The interpreter ------------------------------------------------------------------------------ */

/* Stop the threads start_machine_threads() started (the flags stay, for restarts). */
static void stop_machine_threads(struct sim_run *r)
{
	if (r->own_io)
		kmm_swap_io_stop(r->m);
	if (r->own_kswapd)
		kmm_kswapd_stop_threads(r->m);
}

static unsigned int swap_io_flags(const struct sim_run *r)
{
	return r->o->swap_io == KMM_SIM_SWAP_IO_AHEAD ? KMM_SWAP_IO_READAHEAD_NEXT : 0;
}

/*
 * The machine's own threads of a concurrent run: each node's kswapd, and
 * the swap I/O thread when asked for. Threads running already stay their
 * starter's.
 */
static int start_machine_threads(struct sim_run *r)
{
	int err = kmm_kswapd_start_threads(r->m);
	r->own_kswapd = !err;
	r->own_io = false;
	if (err && err != -EALREADY && err != -EINVAL)
		return kmm_error_set(r->err, err, "cannot start the kswapd threads: %s",
				     strerror(-err));
	if (r->o->swap_io == KMM_SIM_SWAP_IO_FAULT)
		return 0;
	err = kmm_swap_io_start(r->m, swap_io_flags(r));
	r->own_io = !err;
	if (err && err != -EALREADY) {
		stop_machine_threads(r);
		return kmm_error_set(r->err, err, "cannot start the swap I/O thread: %s",
				     strerror(-err));
	}
	return 0;
}

/*
 * A global operation (validate, snapshot, drain, sysctl, a phase's end)
 * runs on a quiet machine: kswapd and the swap I/O thread (its queued
 * reads done) stop before it (stop_machine_threads) and start again after.
 */
static void restart_machine_threads(struct sim_run *r, const struct wl_op *op)
{
	int err = r->own_kswapd ? kmm_kswapd_start_threads(r->m) : 0;
	if (!err && r->own_io)
		err = kmm_swap_io_start(r->m, swap_io_flags(r));
	if (err)
		sim_fail(r, op, "cannot restart the machine's threads after it: %s",
			 strerror(-err));
}

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
		if (d->barrier || (d->task && r->concurrent)) {
			if (r->concurrent) {
				kmm_cpu_exit(r->m);
				pthread_barrier_wait(&r->barrier);
			}
			if (leader) {
				bool quiet = r->concurrent && d->barrier;
				if (quiet)
					stop_machine_threads(r);
				d->exec(r, op, self < 0 ? 0 : self);
				if (quiet)
					restart_machine_threads(r, op);
				if (d->task) {
					kmm_task_switch_out(r->m);
					note_rmap_peak(r);
				}
				if (op->kind != WL_OP_PHASE && op->kind != WL_OP_END_PHASE)
					r->stats[self < 0 ? 0 : self].ops++;
				/* Concurrent mode: the bar moves at barriers, all CPUs quiet. */
				if (r->progress)
					sim_progress_tick(r);
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
		if (d->task) {
			/* The address-space calls enter the task's CPU themselves. */
			if (cur >= 0)
				kmm_cpu_exit(r->m);
			cur = -1;
			d->exec(r, op, cpu);
			kmm_task_switch_out(r->m);
			note_rmap_peak(r);
		} else {
			if (self < 0)
				switch_cpu(r, &cur, cpu);
			d->exec(r, op, cpu);
		}
		r->stats[cpu].ops++;
		if (r->progress && self < 0)
			sim_progress_tick(r);
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
	int ret = start_machine_threads(r);
	if (ret) {
		pthread_barrier_destroy(&r->barrier);
		return ret;
	}
	pthread_mutex_init(&r->gate_lock, NULL);
	pthread_cond_init(&r->gate, NULL);
	int started = 0;
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
	stop_machine_threads(r);
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
	if (o->swap_io > KMM_SIM_SWAP_IO_AHEAD)
		return kmm_error_set(err, -EINVAL, "%s: no swap read mode %d", p->filename,
				     (int)o->swap_io);
	if (o->swap_io != KMM_SIM_SWAP_IO_FAULT && !o->concurrent)
		return kmm_error_set(err, -EINVAL,
				     "%s: the swap I/O thread runs in concurrent mode only (a "
				     "deterministic run reads swap in the faulting CPU)",
				     p->filename);
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
	r->total_ops = count_ops(p);
	r->progress = o->progress && o->log && isatty(fileno(o->log));
	if (sim_pools_init(r) || sim_tasks_init(r)) {
		sim_pools_release(r);
		sim_tasks_free(r);
		free(r);
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	}
	/* Each CPU its own stream: the same choices in both modes. */
	for (int c = 0; c < KMM_MAX_CPUS; c++) {
		uint64_t base = p->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1));
		kmm_rng_seed(&r->rng[c].size, base);
		kmm_rng_seed(&r->rng[c].coin, base ^ 0xc0c0c0c0c0c0c0c0ULL);
		kmm_rng_seed(&r->rng[c].pick, base ^ 0x5151515151515151ULL);
	}

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
	r->start_ns = t1;
	if (r->timing)
		fprintf(r->timing, "boot %.6f\n", (double)(t1 - t0) / 1e9);

	ret = sim_backing_setup(r);
	if (!ret && o->out_dir) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/timeseries.csv", o->out_dir);
		r->tscsv = fopen(path, "w");
		if (!r->tscsv)
			ret = kmm_error_set(err, -errno, "%s: %s", path, strerror(errno));
		else
			r->ts = sim_ts_create(r->m, r->tscsv);
		/* Row 0: the machine as booted, where the charts start. */
		if (r->ts)
			sim_ts_sample(r->ts, 0, 0, 0, NULL, "boot");
	}
	if (!ret && o->trace_events)
		ret = open_trace(r);
	if (!ret && o->concurrent)
		ret = run_concurrent(r);
	else if (!ret)
		interpret(r, -1);
	uint64_t t2 = now_ns();
	if (r->o->log)
		progress_clear(r);
	if (r->ftrace) {
		/* Whatever happened, the events so far are written. */
		struct kmm_error te = {0};
		if (kmm_ftrace_close(r->ftrace, &te) && !ret && !r->failed)
			sim_fail(r, NULL, "%s", te.msg);
		r->ftrace = NULL;
	}
	if (!ret && !r->failed) {
		snapshot(r, NULL, "end");
		write_summary(r);
		if (r->ts)
			write_report(r);
	}
	if (r->failed)
		ret = err->code ? err->code : -EINVAL;
	struct sim_stats t = totals(r);
	if (!ret) {
		uint64_t blocks = t.alloc_calls - t.alloc_failed - t.objects_allocated;
		logf_(r, "done: %llu operations in %.3f s", (unsigned long long)t.ops,
		      (double)(t2 - t1) / 1e9);
		/* Page blocks when there were some, or nothing else to say (as phase lines). */
		if (blocks || t.alloc_failed || t.pages_freed ||
		    (!t.objects_allocated && !total_accesses(r)))
			logf_(r, "; %llu blocks allocated (%llu pages)", (unsigned long long)blocks,
			      (unsigned long long)t.pages_allocated);
		if (t.objects_allocated)
			logf_(r, "%s %llu objects allocated", blocks || t.alloc_failed ? "," : ";",
			      (unsigned long long)t.objects_allocated);
		if (blocks || t.alloc_failed || t.objects_allocated)
			logf_(r, ", %llu failed", (unsigned long long)t.alloc_failed);
		if (blocks || t.pages_freed)
			logf_(r, "; %llu pages freed", (unsigned long long)t.pages_freed);
		logf_(r, "; %lu pages free at the end\n", kmm_nr_free_pages(r->m));
	}
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
		res->objects_allocated = t.objects_allocated;
		res->objects_freed = t.objects_freed;
		res->bytes_requested = t.bytes_requested;
		res->snapshots = r->nsnap;
		res->seconds = (double)(t2 - t1) / 1e9;
		machine_figures(r, res);
	}
	/* Tasks, blocks and objects still held go back before the machine goes away. */
	sim_tasks_release(r);
	sim_pools_release(r);
	kmm_machine_destroy(r->m);
	r->m = NULL;
out:
	sim_ts_destroy(r->ts);
	if (r->tscsv && fclose(r->tscsv) && !ret)
		ret =
		    kmm_error_set(err, -EIO, "%s/timeseries.csv: %s", o->out_dir, strerror(errno));
	sim_backing_remove(r);
	sim_tasks_free(r);
	if (r->snapcsv && fclose(r->snapcsv) && !ret)
		ret = kmm_error_set(err, -EIO, "%s/snapshots.csv: %s", o->out_dir, strerror(errno));
	if (r->timing)
		fclose(r->timing);
	sim_pools_release(r);
	free(r);
	return ret;
}
