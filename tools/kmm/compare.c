/*
 * kmm compare: run one workload on each design variant and print the
 * figures side by side (docs/workloads.md#kmm-compare); with --out, a
 * directory per run and one report.html holding them all.
 */
#include "simargs.h"
#include <errno.h>
#include <string.h>

static void compare_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: kmm compare WORKLOAD --variant KEY=A,B[,...] [options] [machine options]\n\n"
	    "Runs the workload once per design and prints one table: time, faults, scans,\n"
	    "reclaim, swap and the memory each mechanism costs. KEY is one of\n"
	    "  %s.\n"
	    "Several --variant options run every combination (at most 16 runs). Without\n"
	    "--variant, the workload's own 'variant' lines are used.\n\n"
	    "  --variant KEY=A,B  the designs to compare\n"
	    "  --out DIR          each run's output in DIR/KEY=A/ (as kmm run --out) and\n"
	    "                     DIR/report.html with every run side by side\n"
	    "  --seed N, --snapshot-every N, --trace EVENTS, --concurrent, --swap-io MODE,\n"
	    "  --boot-log,\n"
	    "  --fail-on-oom, --no-report, --no-progress, --quiet: as kmm run\n\n"
	    "Machine options (as kmm boot takes them) override the workload's machine\n"
	    "lines; see 'kmm boot --help'.\n\n"
	    "Exit status: 0 ok, 1 an error in the workload (or its machine), 2 a bad\n"
	    "command line (an unknown design), 3 a run ran out of memory with\n"
	    "--fail-on-oom.\n",
	    kmm_compare_keys());
}

int cmd_compare(int argc, char **argv)
{
	struct sim_args a = {.cmd = "compare"};
	int ret = sim_args_parse(&a, argc, argv, true, compare_usage);
	if (ret >= 0)
		return ret;
	struct kmm_error err = {0};
	struct kmm_workload *w;
	ret = sim_args_load(&a, argc, argv, &w);
	if (ret)
		return ret;
	struct kmm_sim_opts o = sim_args_opts(&a);
	o.log = a.quiet ? NULL : stderr;
	o.progress = false;
	ret = kmm_workload_compare(w, a.variants, a.nvariants, &o, stdout, &err);
	kmm_workload_free(w);
	if (ret == -EINVAL && !strncmp(err.msg, "--variant", 9)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_USAGE;
	}
	if (ret)
		return sim_args_exit(ret, &err);
	if (!a.quiet && a.out_dir && !a.no_report)
		printf("report: %s/report.html\n", a.out_dir);
	return KMM_EXIT_OK;
}
