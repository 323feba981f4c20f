/*
 * bench/trace: what kmm's trace points cost.
 *
 * Linux counterpart: the static-key trace points of include/linux/tracepoint.h
 * (a disabled event is a patched-out jump) and ftrace's ring buffer.
 *
 * Three figures for the page allocator's hottest operation, an order-0
 * allocation and free on a CPU's per-CPU list (the "pair"): with every
 * event disabled (each trace point is then one load, test and branch), with
 * the page events enabled and a hook that does nothing (the cost of a
 * firing trace point: the arguments and the indirect call), and with
 * kmm's ftrace formatter writing the lines to /dev/null. Each in
 * instructions (callgrind, stable on a shared machine) and nanoseconds;
 * then nanoseconds per formatted line for a short and a long event.
 */
#include "bench.h"
#include <kmm/ftrace.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_EVENTS "mm_page_*"

enum mode {
	MODE_DISABLED,
	MODE_HOOK,
	MODE_FTRACE,
	NR_MODES
};
static const char *const mode_names[NR_MODES] = {"disabled", "no-op hook", "ftrace to /dev/null"};
static const char *const mode_tags[NR_MODES] = {"disabled", "hook", "ftrace"};

struct pair_state {
	struct kmm_machine *m;
	struct kmm_ftrace *ft;
	FILE *sink;
};

static void noop_hook(struct kmm_machine *m, enum kmm_trace_event ev, const uint64_t *args,
		      int nargs)
{
	bench_keep(args);
}

static struct pair_state *pair_setup(enum mode mode)
{
	struct kmm_error err = {0};
	struct pair_state *s = calloc(1, sizeof(*s));
	s->m = bench_boot("--mem 1G --nodes 1 --cpus 1", &err);
	if (!s->m) {
		fprintf(stderr, "trace: %s\n", err.msg);
		exit(1);
	}
	if (mode == MODE_HOOK) {
		uint64_t mask;
		kmm_ftrace_parse_events(PAGE_EVENTS, &mask, &err);
		s->m->trace_hook = noop_hook;
		s->m->trace_mask = (unsigned long)mask;
	} else if (mode == MODE_FTRACE) {
		s->sink = fopen("/dev/null", "w");
		struct kmm_ftrace_opts o = {
		    .events = PAGE_EVENTS, .out = s->sink, .style = KMM_FTRACE_PIPE};
		s->ft = kmm_ftrace_open(s->m, &o, &err);
		if (!s->ft) {
			fprintf(stderr, "trace: %s\n", err.msg);
			exit(1);
		}
	}
	kmm_cpu_enter(s->m, 0);
	/* Warm the list: the measured pairs all hit it. */
	struct kmm_page *p = kmm_alloc_pages(s->m, GFP_KERNEL, 0);
	kmm_free_pages(s->m, p, 0);
	return s;
}

static void pair_run(void *arg, uint64_t iters)
{
	struct pair_state *s = arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct kmm_page *p = kmm_alloc_pages(s->m, GFP_KERNEL, 0);
		bench_keep(p);
		kmm_free_pages(s->m, p, 0);
	}
}

static void pair_teardown(void *arg)
{
	struct pair_state *s = arg;
	struct kmm_error err = {0};
	kmm_cpu_exit(s->m);
	if (s->ft)
		kmm_ftrace_close(s->ft, &err);
	if (s->sink)
		fclose(s->sink);
	s->m->trace_hook = NULL;
	s->m->trace_mask = 0;
	kmm_machine_destroy(s->m);
	free(s);
}

static void *setup_disabled(void)
{
	return pair_setup(MODE_DISABLED);
}
static void *setup_hook(void)
{
	return pair_setup(MODE_HOOK);
}
static void *setup_ftrace(void)
{
	return pair_setup(MODE_FTRACE);
}

static const struct bench_region regions[] = {
    {"pair_disabled", setup_disabled, pair_run, pair_teardown},
    {"pair_hook", setup_hook, pair_run, pair_teardown},
    {"pair_ftrace", setup_ftrace, pair_run, pair_teardown},
    {NULL, NULL, NULL, NULL},
};

/* --- Formatting one line ----------------------------------------------------------- */

struct format_state {
	struct pair_state *s;
	enum kmm_trace_event ev;
	const uint64_t *args;
};

static void format_run(void *arg, uint64_t iters)
{
	struct format_state *f = arg;
	char line[1024];
	struct kmm_ftrace_ctx ctx = {"pressure", 148, 0, 3094934000ULL, "....."};
	for (uint64_t i = 0; i < iters; i++) {
		ctx.ts_ns += 1000;
		kmm_ftrace_format(f->s->ft, &ctx, f->ev, f->args, kmm_trace_event_nargs[f->ev],
				  line, sizeof(line));
		bench_keep(line);
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	argc = bench_init(&o, argc, argv, "trace", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	int reps = bench_reps(&o, 9, 3);
	uint64_t cg_iters = o.quick ? 20000 : 100000;

	bench_section("trace: the cost of trace points on an order-0 pair, and of a formatted "
		      "line%s",
		      o.quick ? " (quick)" : "");
	double instr[NR_MODES], ns[NR_MODES];
	void *(*setups[NR_MODES])(void) = {setup_disabled, setup_hook, setup_ftrace};
	for (int mode = 0; mode < NR_MODES; mode++) {
		instr[mode] = bench_instructions(&o, regions[mode].name, cg_iters);
		struct pair_state *s = setups[mode]();
		uint64_t iters = bench_calibrate(pair_run, s, o.quick ? 20000000 : 100000000);
		ns[mode] = bench_ns_per_iter(pair_run, s, iters, reps);
		pair_teardown(s);
	}

	struct pair_state *s = setup_ftrace();
	const uint64_t alloc_args[] = {0x4601, 0, GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_ZERO,
				       1};
	const uint64_t inactive_args[] = {
	    0, 32, 30, 0, 0, 0, 0, 2, 0, 0, 0, 12, RECLAIM_WB_ANON | RECLAIM_WB_ASYNC};
	struct format_state fa = {s, KMM_TRACE_MM_PAGE_ALLOC, alloc_args};
	struct format_state fi = {s, KMM_TRACE_MM_VMSCAN_LRU_SHRINK_INACTIVE, inactive_args};
	uint64_t iters = bench_calibrate(format_run, &fa, o.quick ? 20000000 : 100000000);
	double ns_alloc = bench_ns_per_iter(format_run, &fa, iters, reps);
	iters = bench_calibrate(format_run, &fi, o.quick ? 20000000 : 100000000);
	double ns_inactive = bench_ns_per_iter(format_run, &fi, iters, reps);
	pair_teardown(s);

	printf("\n");
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "page events", -20);
	bench_table_col(&t, "instructions/pair", 17);
	bench_table_col(&t, "vs disabled", 11);
	bench_table_col(&t, "ns/pair", 8);
	bench_table_header(&t);
	for (int mode = 0; mode < NR_MODES; mode++) {
		bench_table_cell(&t, "%s", mode_names[mode]);
		bench_table_num(&t, instr[mode]);
		if (isnan(instr[mode]) || isnan(instr[0]))
			bench_table_cell(&t, "n/a");
		else
			bench_table_cell(&t, "%+.0f", instr[mode] - instr[0]);
		bench_table_num(&t, ns[mode]);
	}
	printf("\nA pair is kmm_alloc_pages(GFP_KERNEL, 0) and kmm_free_pages() on a warm "
	       "per-CPU list: two\nevents when enabled (mm_page_alloc, mm_page_free). ftrace "
	       "formats each line and writes it\nto /dev/null through stdio.\n\n");
	bench_table_init(&t);
	bench_table_col(&t, "formatted line", -30);
	bench_table_col(&t, "bytes", 5);
	bench_table_col(&t, "ns/line", 7);
	bench_table_header(&t);
	char line[1024];
	struct kmm_ftrace_ctx ctx = {"pressure", 148, 0, 3094934000ULL, "....."};
	s = setup_ftrace();
	bench_table_cell(&t, "mm_page_alloc");
	bench_table_cell(&t, "%d",
			 kmm_ftrace_format(s->ft, &ctx, fa.ev, alloc_args, 4, line, sizeof(line)));
	bench_table_num(&t, ns_alloc);
	bench_table_cell(&t, "mm_vmscan_lru_shrink_inactive");
	bench_table_cell(
	    &t, "%d", kmm_ftrace_format(s->ft, &ctx, fi.ev, inactive_args, 13, line, sizeof(line)));
	bench_table_num(&t, ns_inactive);
	pair_teardown(s);

	bench_section("Goals");
	bench_goal_header();
	bench_goal("a formatted mm_page_alloc line", ns_alloc, 1000, "ns");

	printf("\n");
	for (int mode = 0; mode < NR_MODES; mode++) {
		char name[64];
		snprintf(name, sizeof(name), "trace_pair_instructions_%s", mode_tags[mode]);
		bench_figure(name, instr[mode], "instructions");
		snprintf(name, sizeof(name), "trace_pair_ns_%s", mode_tags[mode]);
		bench_figure(name, ns[mode], "ns");
	}
	bench_figure("trace_format_ns_mm_page_alloc", ns_alloc, "ns");
	bench_figure("trace_format_ns_lru_shrink_inactive", ns_inactive, "ns");
	return 0;
}
