/*
 * Trace replay: the memory accesses of a real program (a valgrind lackey
 * trace, kmm's binary trace or a page reference list; docs/traces.md)
 * made by one simulated task, page by page, on a machine of the caller's
 * choosing; the faults, reclaim and swap it caused are the result.
 *
 * Linux counterpart: none (the program's own loads and stores, through
 * the MMU and mm/memory.c's fault path, are what is simulated).
 *
 * Theory of operation:
 *  1. A first pass collects the distinct pages of the trace. The task's
 *     address space must cover them, so they are merged into ranges (two
 *     runs of pages closer than SIM_REPLAY_GAP pages become one, so a
 *     program's scattered heap and stack pages do not cost a VMA each)
 *     and each range is mapped anonymous, read-write, at its own address
 *     (MAP_FIXED, replacing the stack and heap the new task started with).
 *     A program's code pages are mapped the same way: a trace says what
 *     was touched, not what a file held. Addresses outside the user
 *     address space (below mmap_min_addr, or the kernel's vsyscall page)
 *     are counted and skipped.
 *  2. A second pass reads the trace again and makes every page reference
 *     with kmm_touch(): loads and instruction fetches read, stores and
 *     modifies write. A reference whose fault finds no memory is counted
 *     and the replay goes on (or stops, with fail_on_oom).
 *  3. Output, as a workload run's: /proc snapshots every N references and
 *     at the end, timeseries.csv, report.html, summary.txt, timing.txt.
 */
#define _GNU_SOURCE
#include "sim.h"
#include "sim_output.h"
#include "timeseries.h"
#include "u64map.h"

#include <errno.h>
#include <kmm/sim.h>
#include <kmm/swap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Runs of pages closer than this (1 MiB) share a mapping. */
#define SIM_REPLAY_GAP 256

struct replay {
	const struct kmm_replay_opts *o;
	struct kmm_replay_result *res;
	struct kmm_error *err;
	struct kmm_machine *m;
	struct kmm_task *t;
	struct u64map pages;
	uint64_t *list; /* the distinct pages, then sorted */
	size_t nlist, cap;
	bool failed, oom_stop;
	uint64_t next_snap, nsnap;
	struct sim_ts *ts;
	FILE *csv;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Pages a user mapping can hold: [mmap_min_addr, TASK_SIZE). */
static bool user_page(uint64_t page)
{
	return page >= (KMM_MMAP_MIN_ADDR >> PAGE_SHIFT) && page < (KMM_TASK_SIZE >> PAGE_SHIFT);
}

static void collect_page(void *arg, uint64_t page, bool write)
{
	struct replay *rp = arg;
	bool added;
	(void)write;
	if (rp->failed)
		return;
	if (!u64map_insert(&rp->pages, page, 0, &added)) {
		rp->failed = true;
		return;
	}
	if (!added)
		return;
	if (rp->nlist == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 4096;
		uint64_t *l = realloc(rp->list, cap * sizeof(*l));
		if (!l) {
			rp->failed = true;
			return;
		}
		rp->list = l;
		rp->cap = cap;
	}
	rp->list[rp->nlist++] = page;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Map the ranges that cover the trace's pages. */
static int map_ranges(struct replay *rp)
{
	qsort(rp->list, rp->nlist, sizeof(*rp->list), cmp_u64);
	size_t i = 0;
	while (i < rp->nlist) {
		if (!user_page(rp->list[i])) {
			rp->res->outside_pages++;
			i++;
			continue;
		}
		uint64_t first = rp->list[i], last = first;
		while (++i < rp->nlist && user_page(rp->list[i]) &&
		       rp->list[i] - last <= SIM_REPLAY_GAP)
			last = rp->list[i];
		long ret = kmm_mmap(rp->t, first << PAGE_SHIFT, (last - first + 1) << PAGE_SHIFT,
				    KMM_PROT_READ | KMM_PROT_WRITE,
				    KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_FIXED, NULL, 0);
		if (ret < 0)
			return kmm_error_set(
			    rp->err, (int)ret, "cannot map 0x%llx-0x%llx for the trace: %s",
			    (unsigned long long)(first << PAGE_SHIFT),
			    (unsigned long long)((last + 1) << PAGE_SHIFT), strerror((int)-ret));
		rp->res->vmas++;
		rp->res->mapped_pages += last - first + 1;
	}
	return 0;
}

static void figures(struct replay *rp)
{
	unsigned long ev[NR_VM_EVENT_ITEMS], min = 0, maj = 0;
	refresh_vm_stats(rp->m);
	all_vm_events(rp->m, ev);
	kmm_task_faults(rp->t, &min, &maj);
	rp->res->minflt = min;
	rp->res->majflt = maj;
	rp->res->pgscan = ev[PGSCAN_KSWAPD] + ev[PGSCAN_DIRECT];
	rp->res->pgsteal = ev[PGSTEAL_KSWAPD] + ev[PGSTEAL_DIRECT];
	rp->res->pswpin = ev[PSWPIN];
	rp->res->pswpout = ev[PSWPOUT];
	rp->res->free_pages_end = kmm_nr_free_pages(rp->m);
}

static void snapshot(struct replay *rp, const char *label)
{
	if (!rp->o->out_dir || rp->failed)
		return;
	kmm_task_switch_out(rp->m);
	rp->nsnap++;
	if (sim_proc_snapshot(rp->m, rp->o->out_dir, rp->nsnap, rp->err)) {
		rp->failed = true;
		return;
	}
	sim_ts_sample(rp->ts, rp->nsnap, rp->res->refs, rp->res->refs, NULL, label);
}

static void replay_page(void *arg, uint64_t page, bool write)
{
	struct replay *rp = arg;
	if (rp->failed || rp->oom_stop)
		return;
	if (!user_page(page)) {
		rp->res->outside_refs++;
		return;
	}
	int ret = kmm_touch(rp->t, (unsigned long)(page << PAGE_SHIFT), PAGE_SIZE,
			    write ? KMM_TOUCH_WRITE : KMM_TOUCH_READ);
	rp->res->refs++;
	if (ret == -ENOMEM) {
		rp->res->oom_faults++;
		if (rp->o->fail_on_oom)
			rp->oom_stop = true;
	} else if (ret) {
		const struct kmm_task_signal *sig = kmm_task_signal(rp->t);
		kmm_error_set(rp->err, ret, "reference %llu to 0x%llx: %s",
			      (unsigned long long)rp->res->refs,
			      (unsigned long long)(page << PAGE_SHIFT),
			      sig && sig->signo ? sig->msg : strerror(-ret));
		rp->failed = true;
	}
	if (rp->o->snapshot_every && rp->res->refs >= rp->next_snap) {
		snapshot(rp, "every");
		rp->next_snap += rp->o->snapshot_every;
	}
}

static int pass(struct replay *rp, const char *trace, kmm_memtrace_page_fn fn)
{
	struct kmm_memtrace_reader *r;
	int ret = kmm_memtrace_open(trace, rp->o->format, &r, rp->err);
	if (ret)
		return ret;
	ret = kmm_memtrace_for_each_page(r, fn, rp, rp->err);
	rp->res->records = kmm_memtrace_count(r);
	kmm_memtrace_close(r);
	return ret;
}

static void write_outputs(struct replay *rp, const char *trace, double boot_s, double run_s)
{
	char path[4200];
	struct kmm_buf b;
	const struct kmm_replay_result *res = rp->res;
	kmm_buf_init(&b);
	kmm_buf_printf(
	    &b,
	    "trace %s\nrecords %llu\nreferences %llu\ndistinct_pages %llu\nvmas %llu\n"
	    "mapped_pages %llu\noutside_refs %llu\nminor_faults %llu\nmajor_faults %llu\n"
	    "out_of_memory %llu\npgscan %llu\npgsteal %llu\npswpin %llu\npswpout %llu\n"
	    "free_pages_end %lu\nsnapshots %llu\n",
	    trace, (unsigned long long)res->records, (unsigned long long)res->refs,
	    (unsigned long long)res->distinct_pages, (unsigned long long)res->vmas,
	    (unsigned long long)res->mapped_pages, (unsigned long long)res->outside_refs,
	    (unsigned long long)res->minflt, (unsigned long long)res->majflt,
	    (unsigned long long)res->oom_faults, (unsigned long long)res->pgscan,
	    (unsigned long long)res->pgsteal, (unsigned long long)res->pswpin,
	    (unsigned long long)res->pswpout, res->free_pages_end, (unsigned long long)rp->nsnap);
	snprintf(path, sizeof(path), "%s/summary.txt", rp->o->out_dir);
	int ret = sim_write_file(path, b.data, b.len);
	kmm_buf_reset(&b);
	kmm_buf_printf(&b,
		       "# wall-clock seconds (not reproducible; every other file is)\nboot %.6f\n"
		       "replay %.6f\n",
		       boot_s, run_s);
	snprintf(path, sizeof(path), "%s/timing.txt", rp->o->out_dir);
	if (!ret)
		ret = sim_write_file(path, b.data, b.len);
	if (!ret && !rp->o->no_report) {
		struct kmm_buf sum, json;
		kmm_buf_init(&sum);
		kmm_buf_init(&json);
		kmm_buf_printf(
		    &sum,
		    "trace %s: %llu records, %llu page references, %llu distinct pages\n"
		    "faults %llu minor, %llu major; out of memory %llu\n"
		    "pages scanned %llu, reclaimed %llu, swapped out %llu, in %llu",
		    trace, (unsigned long long)res->records, (unsigned long long)res->refs,
		    (unsigned long long)res->distinct_pages, (unsigned long long)res->minflt,
		    (unsigned long long)res->majflt, (unsigned long long)res->oom_faults,
		    (unsigned long long)res->pgscan, (unsigned long long)res->pgsteal,
		    (unsigned long long)res->pswpout, (unsigned long long)res->pswpin);
		sim_ts_finish(rp->ts);
		sim_ts_json(rp->ts, trace, sum.data, &json);
		const char *runs[1] = {json.data};
		char title[4200];
		snprintf(title, sizeof(title), "kmm replay %s", trace);
		snprintf(path, sizeof(path), "%s/report.html", rp->o->out_dir);
		ret = sim_report_write(path, title, runs, 1, NULL);
		kmm_buf_free(&sum);
		kmm_buf_free(&json);
	}
	if (ret)
		kmm_error_set(rp->err, ret, "%s: %s", path, strerror(-ret));
	kmm_buf_free(&b);
}

int kmm_replay(const char *trace, const struct kmm_replay_opts *o, struct kmm_replay_result *res,
	       struct kmm_error *err)
{
	struct replay rp = {.o = o, .res = res, .err = err};
	char tmp[4096] = "", swap[4200] = "";
	int ret;
	memset(res, 0, sizeof(*res));
	if (u64map_init(&rp.pages, 1 << 16))
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	/* 1. The pages the trace touches. */
	ret = pass(&rp, trace, collect_page);
	if (!ret && rp.failed)
		ret = kmm_error_set(err, -ENOMEM, "out of host memory");
	res->distinct_pages = rp.nlist;
	struct kmm_config cfg = *o->cfg;
	cfg.quiet = true;
	uint64_t t0 = now_ns(), t1 = t0, t2 = t0;
	if (!ret)
		rp.m = kmm_boot(&cfg, err);
	if (!ret && !rp.m)
		ret = err->code ? err->code : -EINVAL;
	if (!ret) {
		kmm_wait_for_init(rp.m);
		t1 = now_ns();
	}
	if (!ret && o->swap_bytes) {
		const char *td = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/kmm-replay-XXXXXX", td && *td ? td : "/tmp");
		if (!mkdtemp(tmp)) {
			ret = kmm_error_set(err, -errno, "cannot make a temporary directory: %s",
					    strerror(errno));
			tmp[0] = '\0';
		} else {
			snprintf(swap, sizeof(swap), "%s/swap", tmp);
			int type = kmm_swapon(rp.m, swap, o->swap_bytes, -1, 0, "replay", err);
			if (type < 0)
				ret = type;
		}
	}
	if (!ret && o->out_dir) {
		char path[4200];
		ret = sim_mkdir_p(o->out_dir);
		if (ret)
			kmm_error_set(err, ret, "%s: %s", o->out_dir, strerror(-ret));
		snprintf(path, sizeof(path), "%s/timeseries.csv", o->out_dir);
		if (!ret && !(rp.csv = fopen(path, "w")))
			ret = kmm_error_set(err, -errno, "%s: %s", path, strerror(errno));
		if (!ret) {
			rp.ts = sim_ts_create(rp.m, rp.csv);
			sim_ts_sample(rp.ts, 0, 0, 0, NULL, "boot");
		}
	}
	if (!ret) {
		rp.t = kmm_task_create(rp.m, "replay", 0, err);
		if (!rp.t)
			ret = err->code ? err->code : -ENOMEM;
	}
	if (!ret)
		ret = map_ranges(&rp);
	/* 2. The references, in order. */
	rp.next_snap = o->snapshot_every;
	if (!ret) {
		t1 = now_ns();
		ret = pass(&rp, trace, replay_page);
		t2 = now_ns();
		res->seconds = (double)(t2 - t1) / 1e9;
	}
	if (!ret && rp.failed)
		ret = err->code ? err->code : -EIO;
	if (!ret && rp.oom_stop)
		ret = kmm_error_set(err, -ENOMEM,
				    "%s: out of memory at reference %llu (--fail-on-oom)", trace,
				    (unsigned long long)res->refs);
	if (rp.t) {
		figures(&rp);
		if (!ret && o->out_dir) {
			snapshot(&rp, "end");
			if (rp.failed)
				ret = err->code ? err->code : -EIO;
			else
				write_outputs(&rp, trace, (double)(t1 - t0) / 1e9, res->seconds);
			if (!ret && err->code)
				ret = err->code;
		}
		kmm_task_reap(rp.t);
		kmm_task_switch_out(rp.m);
	}
	res->snapshots = rp.nsnap;
	if (rp.m && swap[0]) {
		struct kmm_error e = {0};
		kmm_swapoff(rp.m, swap, &e);
	}
	if (rp.m)
		kmm_machine_destroy(rp.m);
	if (swap[0])
		unlink(swap);
	if (tmp[0])
		rmdir(tmp);
	sim_ts_destroy(rp.ts);
	if (rp.csv && fclose(rp.csv) && !ret)
		ret =
		    kmm_error_set(err, -EIO, "%s/timeseries.csv: %s", o->out_dir, strerror(errno));
	u64map_free(&rp.pages);
	free(rp.list);
	return ret;
}
