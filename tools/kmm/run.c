/*
 * kmm run: check a workload (docs/workloads.md), boot its machine and run
 * it, optionally writing /proc snapshots and figures to an output
 * directory.
 *
 * The whole workload is parsed and checked before the machine boots: a
 * bad workload is reported as FILE:LINE:COL and nothing runs (exit 1).
 * Machine options on the command line override the workload's `machine`
 * lines, so the same workload runs on another machine without editing it.
 */
#include "simargs.h"
#include <string.h>

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: kmm run WORKLOAD [options] [machine options]\n\n"
		"Checks the workload, boots its machine and runs it. The language is in\n"
		"docs/workloads.md; examples are in workloads/.\n\n"
		"  --seed N           seed of every random choice (overrides the workload's)\n"
		"  --deterministic    one host thread, program order: same seed, same output\n"
		"                     (the default)\n"
		"  --concurrent       one host thread per simulated CPU the workload uses,\n"
		"                     and one per node for kswapd\n"
		"  --swap-io MODE     concurrent mode: who reads swap in; fault (the faulting\n"
		"                     CPU, Linux's way; the default), thread (the swap I/O\n"
		"                     thread) or ahead (it, with windows read ahead)\n"
		"  --out DIR          write /proc snapshots (proc/NNNN/), timeseries.csv,\n"
		"                     report.html, snapshots.csv, summary.txt and\n"
		"                     timing.txt to DIR\n"
		"  --snapshot-every N also snapshot every N operations (deterministic mode)\n"
		"  --trace EVENTS     write trace events (a glob list such as 'kmem:*' or\n"
		"                     'mm_page_alloc,kmalloc') to DIR/trace.txt in Linux's\n"
		"                     ftrace text (needs --out; docs/tracing.md)\n"
		"  --check            check the workload and stop; operations this version\n"
		"                     cannot run yet are listed, not errors\n"
		"  --dump             print the checked program, one operation per line\n"
		"  --boot-log         print the boot log\n"
		"  --fail-on-oom      stop when the machine runs out of memory (exit 3)\n"
		"                     rather than counting the failed fault and going on\n"
		"  --no-report        no report.html in DIR\n"
		"  --no-progress      no progress bar (drawn only when stdout is a terminal)\n"
		"  --quiet            print nothing but errors\n\n"
		"Machine options (as kmm boot takes them) override the workload's machine\n"
		"lines; see 'kmm boot --help'.\n\n"
		"Exit status: 0 ok, 1 an error in the workload (or its machine), 2 a bad\n"
		"command line, 3 the machine ran out of memory with --fail-on-oom.\n");
}

/* Operations this version cannot run, one line each, for --check. */
static void list_unsupported(struct kmm_workload *w, const char *file)
{
	struct kmm_error err = {0};
	if (!kmm_workload_supported(w, &err))
		printf("%s: every operation can run\n", file);
	else
		printf("%s: checked; it cannot run in this version: %s\n", file, err.msg);
}

int cmd_run(int argc, char **argv)
{
	struct sim_args a = {.cmd = "run"};
	int ret = sim_args_parse(&a, argc, argv, false, run_usage);
	if (ret >= 0)
		return ret;
	struct kmm_error err = {0};
	struct kmm_workload *w;
	ret = sim_args_load(&a, argc, argv, &w);
	if (ret)
		return ret;
	if (a.dump) {
		struct kmm_buf b;
		kmm_buf_init(&b);
		kmm_workload_dump(w, &b);
		kmm_buf_flush_stdout(&b);
		kmm_buf_free(&b);
	}
	if (a.check_only) {
		if (!a.quiet)
			list_unsupported(w, a.file);
		kmm_workload_free(w);
		return KMM_EXIT_OK;
	}
	if (a.dump) {
		kmm_workload_free(w);
		return KMM_EXIT_OK;
	}
	if (kmm_workload_supported(w, &err)) {
		cli_error("%s", err.msg);
		kmm_workload_free(w);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_sim_opts o = sim_args_opts(&a);
	struct kmm_sim_result res;
	if (!a.quiet) {
		const struct kmm_config *cfg = kmm_workload_config(w);
		int cpus = cfg->desc.nr_cpus, nodes = cfg->desc.nr_nodes;
		printf("kmm run %s: %d CPU%s, %d node%s, %s mode\n", a.file, cpus,
		       cpus == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s",
		       a.concurrent ? "concurrent" : "deterministic");
		fflush(stdout);
	}
	ret = kmm_workload_run(w, &o, &res, &err);
	fflush(stdout);
	kmm_workload_free(w);
	if (ret)
		return sim_args_exit(ret, &err);
	if (!a.quiet && (res.accesses || res.pgfault))
		printf("tasks: %llu pages touched, %llu page faults (%llu major), %llu out of "
		       "memory; %llu pages scanned, %llu reclaimed, %llu swapped out, %llu in\n",
		       (unsigned long long)res.accesses, (unsigned long long)res.pgfault,
		       (unsigned long long)res.pgmajfault, (unsigned long long)res.oom_faults,
		       (unsigned long long)res.pgscan, (unsigned long long)res.pgsteal,
		       (unsigned long long)res.pswpout, (unsigned long long)res.pswpin);
	if (!a.quiet && a.out_dir) {
		printf("output: %s (%llu snapshots)\n", a.out_dir,
		       (unsigned long long)res.snapshots);
		if (!a.no_report)
			printf("report: %s/report.html\n", a.out_dir);
	}
	return KMM_EXIT_OK;
}
