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
#include "cli.h"
#include <kmm/sim.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void run_usage(FILE *out)
{
	fprintf(out, "usage: kmm run WORKLOAD [options] [machine options]\n\n"
		     "Checks the workload, boots its machine and runs it. The language is in\n"
		     "docs/workloads.md; examples are in workloads/.\n\n"
		     "  --seed N           seed of every random choice (overrides the workload's)\n"
		     "  --deterministic    one host thread, program order: same seed, same output\n"
		     "                     (the default)\n"
		     "  --concurrent       one host thread per simulated CPU the workload uses\n"
		     "  --out DIR          write /proc snapshots (proc/NNNN/), snapshots.csv,\n"
		     "                     summary.txt and timing.txt to DIR\n"
		     "  --snapshot-every N also snapshot every N operations (deterministic mode)\n"
		     "  --trace EVENTS     write trace events (a glob list such as 'kmem:*' or\n"
		     "                     'mm_page_alloc,kmalloc') to DIR/trace.txt in Linux's\n"
		     "                     ftrace text (needs --out; docs/tracing.md)\n"
		     "  --check            check the workload and stop; operations this version\n"
		     "                     cannot run yet are listed, not errors\n"
		     "  --dump             print the checked program, one operation per line\n"
		     "  --boot-log         print the boot log\n"
		     "  --quiet            print nothing but errors\n\n"
		     "Machine options (as kmm boot takes them) override the workload's machine\n"
		     "lines; see 'kmm boot --help'.\n\n"
		     "Exit status: 0 ok, 1 an error in the workload (or its machine), 2 a bad\n"
		     "command line.\n");
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
	const char *file = NULL, *out_dir = NULL, *trace = NULL;
	bool concurrent = false, quiet = false, check_only = false, dump = false;
	bool boot_log = false, mode_given = false, seed_given = false;
	uint64_t seed = 0;
	unsigned long every = 0;
	int first_machine = -1;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			run_usage(stdout);
			return KMM_EXIT_OK;
		}
		bool needs_value = !strcmp(a, "--seed") || !strcmp(a, "--out") ||
				   !strcmp(a, "--snapshot-every") || !strcmp(a, "--trace");
		if (needs_value && i + 1 >= argc) {
			cli_error("%s needs a value", a);
			return KMM_EXIT_USAGE;
		}
		if (!strcmp(a, "--seed") || !strcmp(a, "--snapshot-every")) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(argv[i + 1], &end, 0);
			if (*end || errno || !*argv[i + 1] || argv[i + 1][0] == '-') {
				cli_error("%s: expected a number, found '%s'", a, argv[i + 1]);
				return KMM_EXIT_USAGE;
			}
			if (a[2] == 's' && a[3] == 'e') {
				seed = v;
				seed_given = true;
			} else {
				every = (unsigned long)v;
			}
			i++;
		} else if (!strcmp(a, "--out")) {
			out_dir = argv[++i];
		} else if (!strcmp(a, "--trace")) {
			uint64_t mask;
			struct kmm_error e = {0};
			trace = argv[++i];
			if (kmm_ftrace_parse_events(trace, &mask, &e)) {
				cli_error("--trace %s", e.msg);
				return KMM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--deterministic") || !strcmp(a, "--concurrent")) {
			bool c = a[2] == 'c';
			if (mode_given && c != concurrent) {
				cli_error("give --deterministic or --concurrent, not both");
				return KMM_EXIT_USAGE;
			}
			concurrent = c;
			mode_given = true;
		} else if (!strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strcmp(a, "--check")) {
			check_only = true;
		} else if (!strcmp(a, "--dump")) {
			dump = true;
		} else if (!strcmp(a, "--boot-log")) {
			boot_log = true;
		} else if (a[0] == '-' && a[1] == '-') {
			/* A machine option: checked when applied, after the workload is read. */
			if (first_machine < 0)
				first_machine = i;
			struct kmm_config scratch;
			kmm_config_init(&scratch);
			int r = cli_machine_option(&scratch, argc, argv, &i);
			if (r == CLI_OPT_NOT_MINE) {
				cli_error("unknown option '%s' (try 'kmm run --help')", a);
				return KMM_EXIT_USAGE;
			}
			if (r != CLI_OPT_TAKEN)
				return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		} else if (!file) {
			file = a;
		} else {
			cli_error("one workload at a time: '%s' and '%s'", file, a);
			return KMM_EXIT_USAGE;
		}
	}
	if (!file) {
		cli_error("no workload (try 'kmm run --help')");
		return KMM_EXIT_USAGE;
	}
	if (every && concurrent) {
		cli_error("--snapshot-every works in deterministic mode only");
		return KMM_EXIT_USAGE;
	}
	if (trace && !out_dir) {
		cli_error("--trace writes DIR/trace.txt: give --out DIR");
		return KMM_EXIT_USAGE;
	}

	struct kmm_error err = {0};
	struct kmm_workload *w;
	int ret = kmm_workload_load(file, &w, &err);
	if (ret) {
		cli_error("%s", err.msg);
		return ret == -ENOENT || ret == -EACCES || ret == -EISDIR ? KMM_EXIT_USAGE
									  : KMM_EXIT_WORKLOAD;
	}
	/* Command-line machine options apply after the workload's own. */
	for (int i = first_machine; i >= 0 && i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--seed") || !strcmp(a, "--out") || !strcmp(a, "--snapshot-every") ||
		    !strcmp(a, "--trace")) {
			i++;
			continue;
		}
		if (a[0] != '-' || a[1] != '-' || !strcmp(a, "--deterministic") ||
		    !strcmp(a, "--concurrent") || !strcmp(a, "--quiet") || !strcmp(a, "--check") ||
		    !strcmp(a, "--dump") || !strcmp(a, "--boot-log"))
			continue;
		char opt[64];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		const char *eq = strchr(a, '=');
		if (eq && (size_t)(eq - a) < sizeof(opt)) {
			memcpy(opt, a, (size_t)(eq - a));
			opt[eq - a] = '\0';
			val = eq + 1;
		} else {
			snprintf(opt, sizeof(opt), "%s", a);
		}
		int r = kmm_workload_machine_option(w, opt, val, &err);
		if (r < 0) {
			cli_error("%s", err.msg);
			kmm_workload_free(w);
			return KMM_EXIT_WORKLOAD;
		}
		if (r == 2 && !eq)
			i++;
	}
	if (seed_given)
		kmm_workload_set_seed(w, seed);
	if (kmm_workload_check(w, &err)) {
		cli_error("%s", err.msg);
		kmm_workload_free(w);
		return KMM_EXIT_WORKLOAD;
	}
	if (dump) {
		struct kmm_buf b;
		kmm_buf_init(&b);
		kmm_workload_dump(w, &b);
		kmm_buf_flush_stdout(&b);
		kmm_buf_free(&b);
	}
	if (check_only) {
		if (!quiet)
			list_unsupported(w, file);
		kmm_workload_free(w);
		return KMM_EXIT_OK;
	}
	if (dump) {
		kmm_workload_free(w);
		return KMM_EXIT_OK;
	}
	if (kmm_workload_supported(w, &err)) {
		cli_error("%s", err.msg);
		kmm_workload_free(w);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_sim_opts o = {
	    .concurrent = concurrent,
	    .out_dir = out_dir,
	    .snapshot_every = every,
	    .log = quiet ? NULL : stdout,
	    .trace_events = trace,
	    .boot_log = boot_log,
	};
	struct kmm_sim_result res;
	if (!quiet) {
		const struct kmm_config *cfg = kmm_workload_config(w);
		int cpus = cfg->desc.nr_cpus, nodes = cfg->desc.nr_nodes;
		printf("kmm run %s: %d CPU%s, %d node%s, %s mode\n", file, cpus,
		       cpus == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s",
		       concurrent ? "concurrent" : "deterministic");
		fflush(stdout);
	}
	ret = kmm_workload_run(w, &o, &res, &err);
	fflush(stdout);
	kmm_workload_free(w);
	if (ret) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	if (!quiet && out_dir)
		printf("output: %s (%llu snapshots)\n", out_dir, (unsigned long long)res.snapshots);
	return KMM_EXIT_OK;
}
