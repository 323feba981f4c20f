/*
 * bench/page_alloc: the cost of the page allocator's operations, in both
 * bookkeeping designs, on one and two CPUs.
 *
 * Linux: mm/page_alloc.c (alloc_pages, __free_pages, alloc_pages_bulk);
 * the peer figures are J. D. Brouer's page_bench modules (prototype-kernel,
 * kernel/mm/bench/page_bench01.c and page_bench04_bulk.c) on 4.x kernels.
 *
 * Every row is an allocation and its free, timed together, as page_bench
 * times them:
 *  - order-0 through the per-CPU list: the fast path, a pcp hit both ways;
 *  - order-0 with the per-CPU lists off (kmm_page_alloc_options.pcp_disabled):
 *    every page through the buddy lists under the zone lock;
 *  - bulk: kmm_alloc_pages_bulk() of 16, 128 and 512 pages and
 *    kmm_free_pages_bulk() of them, per page; 512 passes the lists' high
 *    mark, so it includes refills and trims;
 *  - orders 3 and 9 (both have per-CPU lists);
 *  - a random mix: blocks of random orders (order o with probability
 *    2^-(o+1), so half are order 0 and a few are order 10) allocated and
 *    then freed in a random order, per block.
 * Each runs on a machine of each design (--buddy pageflag, --buddy bitmap)
 * with one thread on CPU 0, and with two threads, the second on CPU 1
 * running the same loop at the same time: the 2-thread column is the time
 * per operation of each thread, and "x2" the throughput of two threads over
 * one (2 for perfect scaling). One and two threads alternate within every
 * repetition, so drifts in the host's load hit both alike.
 *
 * The fast paths are also counted in instructions under callgrind
 * (bench_instructions), which does not depend on the neighbours' load.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/random.h>
#include "page/internal.h"

/* One node, two CPUs (one per host thread of the 2-thread runs), 4 GiB. */
#define MACHINE_OPTIONS "--mem 4G --nodes 1 --cpus 2"
#define NR_THREADS_MAX	2

/* Goals (issue 3) and Linux's figures (page_bench on 4.x; cycles at ~3.9 GHz). */
#define GOAL_PCP_PAIR_NS    15.0
#define GOAL_BULK_NS	    6.0
#define GOAL_SCALING_2T	    1.8
#define GOAL_BULK_SIZE	    128
#define LINUX_PCP_PAIR	    "40-54 (158-213 cycles)"
#define LINUX_BULK_PER_PAGE "21-25 (84-97 cycles)"

#define MIX_BLOCKS 128 /* blocks allocated, then freed, per iteration of the mix */
#define MIX_ROUNDS 16  /* different random sequences, used in turn */
#define BULK_MAX   512

static const struct design {
	const char *name; /* --buddy value, table heading, figure suffix */
	const char *suffix;
} designs[] = {{"pageflag", ""}, {"bitmap", "_bitmap"}};
#define NR_DESIGNS KMM_ARRAY_SIZE(designs)

enum wl_kind {
	WL_PAIR,
	WL_BULK,
	WL_MIX,
	WL_REFCOUNT
};

static const struct workload {
	const char *tag;  /* figure name */
	const char *name; /* table row */
	enum wl_kind kind;
	unsigned int order; /* WL_PAIR */
	bool pcp_off;	    /* per-CPU lists disabled */
	unsigned int nr;    /* WL_BULK: pages per call; WL_MIX: blocks per iteration */
	const char *linux_ns;
} workloads[] = {
    {"order0_pcp_pair", "order-0 alloc+free, per-CPU list hit", WL_PAIR, 0, false, 1,
     LINUX_PCP_PAIR},
    {"order0_buddy_pair", "order-0 alloc+free, per-CPU lists off", WL_PAIR, 0, true, 1, NULL},
    {"bulk16_per_page", "bulk 16 alloc+free, per page", WL_BULK, 0, false, 16, NULL},
    {"bulk128_per_page", "bulk 128 alloc+free, per page", WL_BULK, 0, false, 128,
     LINUX_BULK_PER_PAGE},
    {"bulk512_per_page", "bulk 512 alloc+free, per page", WL_BULK, 0, false, 512, NULL},
    {"refcount_drop_per_page", "(floor) refcount drop alone, per page of 128", WL_REFCOUNT, 0,
     false, 128, NULL},
    {"order3_pair", "order-3 alloc+free", WL_PAIR, 3, false, 1, NULL},
    {"order9_pair", "order-9 alloc+free", WL_PAIR, 9, false, 1, NULL},
    {"mix_pair", "random orders, freed in random order, per block", WL_MIX, 0, false, MIX_BLOCKS,
     NULL},
};
#define NR_WORKLOADS KMM_ARRAY_SIZE(workloads)
/* Rows of workloads[] that goals and callgrind regions refer to. */
#define WL_PCP	     0
#define WL_BUDDY     1
#define WL_BULK128   3
#define WL_REFCNT    5

/* The random mix's sequences: the same for every design and thread. */
static struct mix_plan {
	unsigned char order[MIX_ROUNDS][MIX_BLOCKS];
	unsigned short free_order[MIX_ROUNDS][MIX_BLOCKS]; /* a permutation of the blocks */
	double avg_pages;
} mix;

/* One thread's loop: the machine, what to run, and its private arrays. */
struct worker {
	struct kmm_machine *m;
	const struct workload *w;
	int cpu;
	uint64_t iters, round;
	uint64_t start_ns, end_ns;
	bool failed;
	struct kmm_page *pages[BULK_MAX > MIX_BLOCKS ? BULK_MAX : MIX_BLOCKS];
	pthread_barrier_t *barrier;
};

static void plan_mix(void)
{
	struct kmm_rng rng;
	unsigned long pages = 0;

	kmm_rng_seed(&rng, 0x9a6e);
	for (int r = 0; r < MIX_ROUNDS; r++) {
		for (int i = 0; i < MIX_BLOCKS; i++) {
			/* Order o with probability 2^-(o+1); whatever is left is order 10. */
			unsigned int o = 0;
			while (o < MAX_PAGE_ORDER && kmm_rng_below(&rng, 2))
				o++;
			mix.order[r][i] = (unsigned char)o;
			mix.free_order[r][i] = (unsigned short)i;
			pages += 1UL << o;
		}
		for (int i = MIX_BLOCKS - 1; i > 0; i--) {
			int j = (int)kmm_rng_below(&rng, (uint64_t)i + 1);
			unsigned short t = mix.free_order[r][i];
			mix.free_order[r][i] = mix.free_order[r][j];
			mix.free_order[r][j] = t;
		}
	}
	mix.avg_pages = (double)pages / (MIX_ROUNDS * MIX_BLOCKS);
}

static __attribute__((noinline)) void fail_alloc(struct worker *wk, unsigned int order)
{
	if (!wk->failed)
		fprintf(stderr, "page_alloc: %s: an order-%u allocation failed on CPU %d\n",
			wk->w->name, order, wk->cpu);
	wk->failed = true;
}

/* @iters iterations of @wk's workload; the calling thread is on wk->cpu. */
static void run_loop(void *arg, uint64_t iters)
{
	struct worker *wk = arg;
	struct kmm_machine *m = wk->m;
	const struct workload *w = wk->w;

	switch (w->kind) {
	case WL_PAIR:
		for (uint64_t i = 0; i < iters; i++) {
			struct kmm_page *p = kmm_alloc_pages(m, GFP_KERNEL, w->order);
			if (unlikely(!p)) {
				fail_alloc(wk, w->order);
				return;
			}
			kmm_free_pages(m, p, w->order);
		}
		break;
	case WL_BULK:
		for (uint64_t i = 0; i < iters; i++) {
			unsigned long n = kmm_alloc_pages_bulk(m, GFP_KERNEL, w->nr, wk->pages);
			if (unlikely(n != w->nr)) {
				fail_alloc(wk, 0);
				kmm_free_pages_bulk(m, wk->pages, n);
				memset(wk->pages, 0, sizeof(wk->pages[0]) * n);
				return;
			}
			kmm_free_pages_bulk(m, wk->pages, n);
			/* The bulk allocator fills empty slots only. */
			memset(wk->pages, 0, sizeof(wk->pages[0]) * n);
		}
		break;
	case WL_REFCOUNT:
		/* What freeing a page cannot avoid: the atomic drop of its reference. */
		for (uint64_t i = 0; i < iters; i++)
			for (unsigned int k = 0; k < w->nr; k++) {
				struct kmm_page *p = wk->pages[k];
				if (unlikely(!put_page_testzero(p)))
					fail_alloc(wk, 0);
				set_page_count(p, 1);
			}
		break;
	case WL_MIX:
		for (uint64_t i = 0; i < iters; i++) {
			unsigned int r = (unsigned int)(wk->round++ % MIX_ROUNDS);
			int got = 0;
			for (; got < MIX_BLOCKS; got++) {
				unsigned int o = mix.order[r][got];
				wk->pages[got] = kmm_alloc_pages(m, GFP_KERNEL, o);
				if (unlikely(!wk->pages[got])) {
					fail_alloc(wk, o);
					break;
				}
			}
			for (int k = 0; k < MIX_BLOCKS; k++) {
				int b = mix.free_order[r][k];
				if (b < got)
					kmm_free_pages(m, wk->pages[b], mix.order[r][b]);
			}
			if (got < MIX_BLOCKS)
				return;
		}
		break;
	}
}

/* Operations per iteration of a workload: the divisor to get per-operation times. */
static double ops_per_iter(const struct workload *w)
{
	return w->kind == WL_PAIR ? 1.0 : (double)w->nr;
}

/* A thread of the 2-thread runs: enter its CPU, warm up, wait, run. */
static void *worker_thread(void *arg)
{
	struct worker *wk = arg;
	kmm_cpu_enter(wk->m, wk->cpu);
	run_loop(wk, wk->iters / 16 + 1);
	pthread_barrier_wait(wk->barrier);
	wk->start_ns = bench_now_ns();
	run_loop(wk, wk->iters);
	wk->end_ns = bench_now_ns();
	kmm_cpu_exit(wk->m);
	return NULL;
}

/*
 * One timed run of @nthreads threads (the caller, on CPU 0, is the first),
 * each doing @iters iterations at once. Returns the wall time per
 * iteration of each thread: from the first start to the last end.
 */
static double run_threads(struct worker *wks, int nthreads, uint64_t iters)
{
	pthread_barrier_t barrier;
	pthread_t tid[NR_THREADS_MAX];
	uint64_t start = UINT64_MAX, end = 0;

	pthread_barrier_init(&barrier, NULL, (unsigned int)nthreads);
	for (int t = 0; t < nthreads; t++) {
		wks[t].iters = iters;
		wks[t].barrier = &barrier;
	}
	for (int t = 1; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker_thread, &wks[t])) {
			fprintf(stderr, "page_alloc: cannot create a thread\n");
			exit(1);
		}
	run_loop(&wks[0], iters / 16 + 1);
	pthread_barrier_wait(&barrier);
	wks[0].start_ns = bench_now_ns();
	run_loop(&wks[0], iters);
	wks[0].end_ns = bench_now_ns();
	for (int t = 1; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	pthread_barrier_destroy(&barrier);
	for (int t = 0; t < nthreads; t++) {
		start = kmm_min(start, wks[t].start_ns);
		end = kmm_max(end, wks[t].end_ns);
	}
	return (double)(end - start) / (double)iters;
}

/* --- The machines ------------------------------------------------------------------------ */

static struct kmm_machine *boot_design(const struct design *d)
{
	char options[128];
	struct kmm_error err = {0};

	snprintf(options, sizeof(options), "%s --buddy %s", MACHINE_OPTIONS, d->name);
	struct kmm_machine *m = bench_boot(options, &err);
	if (!m) {
		fprintf(stderr, "page_alloc: cannot boot '%s': %s\n", options, err.msg);
		exit(1);
	}
	return m;
}

static void set_pcp(struct kmm_machine *m, bool off)
{
	struct kmm_page_alloc_options o = {.init_on_alloc = m->init_on_alloc, .pcp_disabled = off};
	kmm_page_alloc_set_options(m, &o);
}

/* Every page back in the free lists: the bench must leave nothing allocated. */
static void check_machine(struct kmm_machine *m, const char *when)
{
	struct kmm_error err = {0};
	kmm_drain_all_pages(m);
	if (kmm_page_alloc_validate(m, &err)) {
		fprintf(stderr, "page_alloc: the allocator is inconsistent %s: %s\n", when,
			err.msg);
		exit(1);
	}
}

/* --- Wall-clock measurements --------------------------------------------------------- */

#define MAX_REPS 64

struct cell {
	double ns_1t, ns_2t; /* medians, per operation */
	double scaling;	     /* median over the repetitions of 2 * t1 / t2 */
	double min_1t, max_1t;
};

static struct cell cells[NR_DESIGNS][NR_WORKLOADS];
static size_t bitmap_bytes;
static unsigned long managed_pages;
static double buddy_splits, buddy_merges; /* per order-0 pair with the per-CPU lists off */

static bool measure_cell(struct kmm_machine *m, const struct workload *w, int reps,
			 uint64_t target_ns, struct cell *c)
{
	static struct worker wks[NR_THREADS_MAX];
	double t1[MAX_REPS], t2[MAX_REPS], ratio[MAX_REPS];
	double per = ops_per_iter(w);

	for (int t = 0; t < NR_THREADS_MAX; t++)
		wks[t] = (struct worker){.m = m, .w = w, .cpu = t, .round = (uint64_t)t * 5};
	set_pcp(m, w->pcp_off);
	if (w->kind == WL_REFCOUNT)
		for (int t = 0; t < NR_THREADS_MAX; t++)
			if (kmm_alloc_pages_bulk(m, GFP_KERNEL, w->nr, wks[t].pages) != w->nr)
				fail_alloc(&wks[t], 0);
	run_loop(&wks[0], 64); /* lists and host memory warm before calibrating */
	if (w->pcp_off) {
		/* What one pair does in the buddy lists. */
		unsigned long s0 = sum_vm_event(m, KMM_BUDDY_SPLIT),
			      m0 = sum_vm_event(m, KMM_BUDDY_MERGE);
		run_loop(&wks[0], 1000);
		buddy_splits = (double)(sum_vm_event(m, KMM_BUDDY_SPLIT) - s0) / 1000;
		buddy_merges = (double)(sum_vm_event(m, KMM_BUDDY_MERGE) - m0) / 1000;
	}
	uint64_t iters = bench_calibrate(run_loop, &wks[0], target_ns);
	for (int r = 0; r < reps; r++) {
		t1[r] = run_threads(wks, 1, iters) / per;
		t2[r] = run_threads(wks, 2, iters) / per;
		ratio[r] = 2.0 * t1[r] / t2[r];
	}
	set_pcp(m, false);
	if (w->kind == WL_REFCOUNT)
		for (int t = 0; t < NR_THREADS_MAX; t++) {
			kmm_free_pages_bulk(m, wks[t].pages, w->nr);
			memset(wks[t].pages, 0, sizeof(wks[t].pages));
		}
	struct bench_stats s1 = bench_stats(t1, reps);
	c->ns_1t = s1.median;
	c->min_1t = s1.min;
	c->max_1t = s1.max;
	c->ns_2t = bench_median(t2, reps);
	c->scaling = bench_median(ratio, reps);
	return !wks[0].failed && !wks[1].failed;
}

/* The host's 1-minute load average (/proc/loadavg), NAN if unknown: neighbours skew 2T. */
static double host_load(void)
{
	double load = NAN;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = NAN;
		fclose(f);
	}
	return load;
}

static double load_before, load_after;

static bool measure(const struct bench_opts *o)
{
	int reps = kmm_min(bench_reps(o, 9, 3), MAX_REPS);
	uint64_t target_ns = o->quick ? 8000000 : 40000000;
	bool ok = true;

	load_before = host_load();
	printf("%zu operations x %zu designs, 1 and 2 threads, %d repetitions of ~%.0f ms...\n",
	       NR_WORKLOADS, NR_DESIGNS, reps, (double)target_ns / 1e6);
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		struct kmm_machine *m = boot_design(&designs[d]);
		if (designs[d].name[0] == 'b')
			bitmap_bytes = m->pa->buddy_map_bytes;
		managed_pages = kmm_nr_free_pages(m);
		kmm_cpu_enter(m, 0);
		for (size_t i = 0; i < NR_WORKLOADS; i++)
			ok &= measure_cell(m, &workloads[i], reps, target_ns, &cells[d][i]);
		check_machine(m, "after the runs");
		kmm_cpu_exit(m);
		kmm_machine_destroy(m);
	}
	load_after = host_load();
	return ok;
}

/* --- Instruction counts (callgrind) ------------------------------------------------------ */

/* The state of a region: one booted machine, the calling thread on CPU 0. */
struct region_state {
	struct worker wk;
};

static void *region_setup(const struct design *d, const struct workload *w)
{
	struct region_state *s = calloc(1, sizeof(*s));
	if (!s)
		exit(1);
	s->wk = (struct worker){.m = boot_design(d), .w = w, .cpu = 0};
	kmm_cpu_enter(s->wk.m, 0);
	set_pcp(s->wk.m, w->pcp_off);
	run_loop(&s->wk, 256);
	return s;
}

static void region_run(void *state, uint64_t iters)
{
	struct region_state *s = state;
	run_loop(&s->wk, iters);
}

#define REGION_SETUP(fn, design, wl)                                   \
	static void *fn(void)                                          \
	{                                                              \
		return region_setup(&designs[design], &workloads[wl]); \
	}
REGION_SETUP(setup_pcp_pageflag, 0, WL_PCP)
REGION_SETUP(setup_pcp_bitmap, 1, WL_PCP)
REGION_SETUP(setup_buddy_pageflag, 0, WL_BUDDY)
REGION_SETUP(setup_buddy_bitmap, 1, WL_BUDDY)
REGION_SETUP(setup_bulk_pageflag, 0, WL_BULK128)
REGION_SETUP(setup_bulk_bitmap, 1, WL_BULK128)

static const struct bench_region regions[] = {
    {"pcp_pageflag", setup_pcp_pageflag, region_run, NULL},
    {"pcp_bitmap", setup_pcp_bitmap, region_run, NULL},
    {"buddy_pageflag", setup_buddy_pageflag, region_run, NULL},
    {"buddy_bitmap", setup_buddy_bitmap, region_run, NULL},
    {"bulk_pageflag", setup_bulk_pageflag, region_run, NULL},
    {"bulk_bitmap", setup_bulk_bitmap, region_run, NULL},
    {NULL, NULL, NULL, NULL},
};

/* Instructions per operation: [design][0 pcp pair, 1 buddy pair, 2 bulk-128 page]. */
static double instr[NR_DESIGNS][3];
static const char *const instr_rows[3] = {"order-0 alloc+free, per-CPU list hit",
					  "order-0 alloc+free, per-CPU lists off",
					  "bulk 128 alloc+free, per page"};
static const char *const instr_tags[3] = {"order0_pcp_pair_instr", "order0_buddy_pair_instr",
					  "bulk128_per_page_instr"};

static void count_instructions(const struct bench_opts *o)
{
	static const char *const kinds[3] = {"pcp", "buddy", "bulk"};
	char name[64];

	printf("counting instructions under callgrind...\n");
	for (size_t d = 0; d < NR_DESIGNS; d++)
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "%s_%s", kinds[k], designs[d].name);
			uint64_t iters = k == 2 ? 200 : 20000;
			instr[d][k] = bench_instructions(o, name, iters) / (k == 2 ? 128.0 : 1.0);
		}
}

/* --- Output ------------------------------------------------------------------------------ */

static void print_tables(void)
{
	struct bench_table t;

	bench_table_init(&t);
	bench_table_col(&t, "operation (ns per alloc+free)", -48);
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		char title[40];
		snprintf(title, sizeof(title), "%s 1T", designs[d].name);
		bench_table_col(&t, title, (int)strlen(title));
		snprintf(title, sizeof(title), "%s 2T", designs[d].name);
		bench_table_col(&t, title, (int)strlen(title));
		bench_table_col(&t, "x2", 4);
	}
	bench_table_col(&t, "Linux 4.x", -22);
	bench_table_header(&t);
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		bench_table_cell(&t, "%s", workloads[i].name);
		for (size_t d = 0; d < NR_DESIGNS; d++) {
			bench_table_num(&t, cells[d][i].ns_1t);
			bench_table_num(&t, cells[d][i].ns_2t);
			bench_table_cell(&t, "%.2f", cells[d][i].scaling);
		}
		bench_table_cell(&t, "%s", workloads[i].linux_ns ? workloads[i].linux_ns : "-");
	}
	printf("\n1T: one thread on CPU 0; 2T: two threads on CPUs 0 and 1 at once, time per\n"
	       "operation of each; x2: throughput of two threads over one (2 = perfect).\n"
	       "Medians of the repetitions. Bulk rows are per page; the random mix is per\n"
	       "block (%.1f pages on average, orders 0-10). With the per-CPU lists off each\n"
	       "order-0 pair splits a block %.1f times and merges %.1f times, under the zone\n"
	       "lock, which two threads take in turns. The floor row\n"
	       "is only the atomic decrement of each page's reference count that every free\n"
	       "makes (put_page_testzero), for the 128 pages of a bulk batch.\n"
	       "Linux 4.x: J. D. Brouer's page_bench (prototype-kernel,\n"
	       "kernel/mm/bench/page_bench01.c, alloc_page + __free_page;\n"
	       "page_bench04_bulk.c, bulk alloc + put_page per page), cycles converted at\n"
	       "~3.9 GHz. Machine: %s, %lu pages free at boot; the bitmap\n"
	       "design's maps take %zu KiB of host memory, the page-flag design none\n"
	       "(PageBuddy and the order live in struct page).\n",
	       mix.avg_pages, buddy_splits, buddy_merges, MACHINE_OPTIONS, managed_pages,
	       bitmap_bytes >> 10);
	printf("Host load average %.2f before the runs, %.2f after (2 CPUs: above ~0.5 the\n"
	       "2T column shares its CPUs with other programs).\n",
	       load_before, load_after);

	bench_section("Instructions per operation (callgrind)");
	bench_table_init(&t);
	bench_table_col(&t, "operation", -40);
	for (size_t d = 0; d < NR_DESIGNS; d++)
		bench_table_col(&t, designs[d].name, 8);
	bench_table_header(&t);
	for (int k = 0; k < 3; k++) {
		bench_table_cell(&t, "%s", instr_rows[k]);
		for (size_t d = 0; d < NR_DESIGNS; d++)
			bench_table_num(&t, instr[d][k]);
	}
}

/*
 * A goal where higher is better, as a row of the goal table that
 * bench_goal_header() started (same columns, so it lines up).
 */
static bool goal_at_least(const char *what, double value, double limit, const char *unit)
{
	struct bench_table t;
	char v[64], l[64];
	bool pass = !isnan(value) && value >= limit;

	bench_table_init(&t);
	bench_table_col(&t, "goal", -52);
	bench_table_col(&t, "measured", 14);
	bench_table_col(&t, "limit", 14);
	bench_table_col(&t, "result", -6);
	bench_table_cell(&t, "%s", what);
	if (isnan(value))
		bench_table_cell(&t, "n/a");
	else
		bench_table_cell(&t, "%s %s", bench_fmt(v, sizeof(v), value), unit);
	bench_table_cell(&t, ">= %s %s", bench_fmt(l, sizeof(l), limit), unit);
	bench_table_cell(&t, "%s", isnan(value) ? "n/a" : pass ? "PASS" : "MISS");
	return pass;
}

static void print_goals(void)
{
	char what[96];
	const size_t pcp = WL_PCP, bulk = WL_BULK128;

	bench_section("Goals");
	bench_goal_header();
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		snprintf(what, sizeof(what), "order-0 pcp alloc+free, %s", designs[d].name);
		bench_goal(what, cells[d][pcp].ns_1t, GOAL_PCP_PAIR_NS, "ns");
	}
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		snprintf(what, sizeof(what), "bulk %d alloc+free per page, %s", GOAL_BULK_SIZE,
			 designs[d].name);
		bench_goal(what, cells[d][bulk].ns_1t, GOAL_BULK_NS, "ns");
	}
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		snprintf(what, sizeof(what), "order-0 pcp, 2 threads over 1, %s", designs[d].name);
		goal_at_least(what, cells[d][pcp].scaling, GOAL_SCALING_2T, "x");
	}
	printf("\nOf the bulk goal's %.0f ns per page, the atomic reference drop alone (the floor\n"
	       "row) takes %.2f ns here: the allocator's own work per page is %.2f ns.\n",
	       GOAL_BULK_NS, cells[0][WL_REFCNT].ns_1t,
	       cells[0][bulk].ns_1t - cells[0][WL_REFCNT].ns_1t);
}

static void print_figures(void)
{
	char name[96];

	printf("\n");
	for (size_t i = 0; i < NR_WORKLOADS; i++)
		for (size_t d = 0; d < NR_DESIGNS; d++) {
			snprintf(name, sizeof(name), "%s%s", workloads[i].tag, designs[d].suffix);
			bench_figure(name, cells[d][i].ns_1t, "ns");
			snprintf(name, sizeof(name), "%s%s_2t", workloads[i].tag,
				 designs[d].suffix);
			bench_figure(name, cells[d][i].ns_2t, "ns");
		}
	for (size_t d = 0; d < NR_DESIGNS; d++) {
		snprintf(name, sizeof(name), "order0_pcp_scaling_2t%s", designs[d].suffix);
		bench_figure(name, cells[d][WL_PCP].scaling, "x");
	}
	for (size_t d = 0; d < NR_DESIGNS; d++)
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "%s%s", instr_tags[k], designs[d].suffix);
			bench_figure(name, round(instr[d][k]), "instructions");
		}
	bench_figure("buddy_bitmap_bytes", (double)bitmap_bytes, "B");
}

int main(int argc, char **argv)
{
	struct bench_opts o;

	plan_mix();
	argc = bench_init(&o, argc, argv, "page_alloc", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);

	bench_section("page_alloc: order-0, bulk, orders 3 and 9, random mix; pageflag and "
		      "bitmap designs; 1 and 2 threads%s",
		      o.quick ? " (quick)" : "");
	bool ok = measure(&o);
	count_instructions(&o);
	printf("\n");
	print_tables();
	print_goals();
	print_figures();
	if (!ok) {
		fprintf(stderr, "page_alloc: some allocations failed; their figures are wrong\n");
		return 1;
	}
	return 0;
}
