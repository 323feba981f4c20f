/*
 * Command-line options of the subcommands that run workloads (kmm run,
 * kmm compare). Machine options are checked as they are read and applied
 * after the workload's own machine lines, so one workload runs on several
 * machines without editing it.
 */
#include "simargs.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Options of ours that take a value. */
static bool takes_value(const char *a, bool compare)
{
	return !strcmp(a, "--seed") || !strcmp(a, "--out") || !strcmp(a, "--snapshot-every") ||
	       !strcmp(a, "--trace") || !strcmp(a, "--swap-io") ||
	       (compare && !strcmp(a, "--variant"));
}

static bool is_flag(const char *a)
{
	static const char *const flags[] = {"--deterministic", "--concurrent", "--quiet",
					    "--check",	       "--dump",       "--boot-log",
					    "--fail-on-oom",   "--no-report",  "--no-progress"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(a, flags[i]))
			return true;
	return false;
}

int sim_args_parse(struct sim_args *a, int argc, char **argv, bool compare, void (*usage)(FILE *))
{
	bool mode_given = false;
	a->first_machine = -1;
	a->progress = true;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (cli_is_help(s)) {
			usage(stdout);
			return KMM_EXIT_OK;
		}
		if (takes_value(s, compare) && i + 1 >= argc) {
			cli_error("%s needs a value", s);
			return KMM_EXIT_USAGE;
		}
		if (!strcmp(s, "--seed") || !strcmp(s, "--snapshot-every")) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(argv[i + 1], &end, 0);
			if (*end || errno || !*argv[i + 1] || argv[i + 1][0] == '-') {
				cli_error("%s: expected a number, found '%s'", s, argv[i + 1]);
				return KMM_EXIT_USAGE;
			}
			if (s[2] == 's' && s[3] == 'e') {
				a->seed = v;
				a->seed_given = true;
			} else {
				a->every = (unsigned long)v;
			}
			i++;
		} else if (!strcmp(s, "--out")) {
			a->out_dir = argv[++i];
		} else if (!strcmp(s, "--variant") && compare) {
			if (a->nvariants == SIM_ARGS_MAX_VARIANTS) {
				cli_error("at most %d --variant options", SIM_ARGS_MAX_VARIANTS);
				return KMM_EXIT_USAGE;
			}
			a->variants[a->nvariants++] = argv[++i];
		} else if (!strcmp(s, "--trace")) {
			uint64_t mask;
			struct kmm_error e = {0};
			a->trace = argv[++i];
			if (kmm_ftrace_parse_events(a->trace, &mask, &e)) {
				cli_error("--trace %s", e.msg);
				return KMM_EXIT_USAGE;
			}
		} else if (!strcmp(s, "--swap-io")) {
			const char *v = argv[++i];
			if (!strcmp(v, "fault"))
				a->swap_io = KMM_SIM_SWAP_IO_FAULT;
			else if (!strcmp(v, "thread"))
				a->swap_io = KMM_SIM_SWAP_IO_THREAD;
			else if (!strcmp(v, "ahead"))
				a->swap_io = KMM_SIM_SWAP_IO_AHEAD;
			else {
				cli_error("--swap-io: expected fault, thread or ahead, found '%s'",
					  v);
				return KMM_EXIT_USAGE;
			}
		} else if (!strcmp(s, "--deterministic") || !strcmp(s, "--concurrent")) {
			bool c = s[2] == 'c';
			if (mode_given && c != a->concurrent) {
				cli_error("give --deterministic or --concurrent, not both");
				return KMM_EXIT_USAGE;
			}
			a->concurrent = c;
			mode_given = true;
		} else if (!strcmp(s, "--quiet")) {
			a->quiet = true;
		} else if (!strcmp(s, "--check") && !compare) {
			a->check_only = true;
		} else if (!strcmp(s, "--dump") && !compare) {
			a->dump = true;
		} else if (!strcmp(s, "--boot-log")) {
			a->boot_log = true;
		} else if (!strcmp(s, "--fail-on-oom")) {
			a->fail_on_oom = true;
		} else if (!strcmp(s, "--no-report")) {
			a->no_report = true;
		} else if (!strcmp(s, "--no-progress")) {
			a->progress = false;
		} else if (s[0] == '-' && s[1] == '-') {
			/* A machine option: checked now, applied after the workload is read. */
			if (a->first_machine < 0)
				a->first_machine = i;
			struct kmm_config scratch;
			kmm_config_init(&scratch);
			int r = cli_machine_option(&scratch, argc, argv, &i);
			if (r == CLI_OPT_NOT_MINE) {
				cli_error("unknown option '%s' (try 'kmm %s --help')", s, a->cmd);
				return KMM_EXIT_USAGE;
			}
			if (r != CLI_OPT_TAKEN)
				return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		} else if (!a->file) {
			a->file = s;
		} else {
			cli_error("one workload at a time: '%s' and '%s'", a->file, s);
			return KMM_EXIT_USAGE;
		}
	}
	if (!a->file) {
		cli_error("no workload (try 'kmm %s --help')", a->cmd);
		return KMM_EXIT_USAGE;
	}
	if (a->swap_io != KMM_SIM_SWAP_IO_FAULT && !a->concurrent) {
		cli_error("--swap-io %s works in concurrent mode only (add --concurrent)",
			  a->swap_io == KMM_SIM_SWAP_IO_AHEAD ? "ahead" : "thread");
		return KMM_EXIT_USAGE;
	}
	if (a->every && a->concurrent) {
		cli_error("--snapshot-every works in deterministic mode only");
		return KMM_EXIT_USAGE;
	}
	if (a->trace && !a->out_dir) {
		cli_error("--trace writes DIR/trace.txt: give --out DIR");
		return KMM_EXIT_USAGE;
	}
	return -1;
}

int sim_args_load(const struct sim_args *a, int argc, char **argv, struct kmm_workload **wp)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	int ret = kmm_workload_load(a->file, &w, &err);
	*wp = NULL;
	if (ret) {
		cli_error("%s", err.msg);
		return ret == -ENOENT || ret == -EACCES || ret == -EISDIR ? KMM_EXIT_USAGE
									  : KMM_EXIT_WORKLOAD;
	}
	/* Command-line machine options apply after the workload's own. */
	for (int i = a->first_machine; i >= 0 && i < argc; i++) {
		const char *s = argv[i];
		if (takes_value(s, true)) {
			i++;
			continue;
		}
		if (s[0] != '-' || s[1] != '-' || is_flag(s))
			continue;
		char opt[64];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		const char *eq = strchr(s, '=');
		if (eq && (size_t)(eq - s) < sizeof(opt)) {
			memcpy(opt, s, (size_t)(eq - s));
			opt[eq - s] = '\0';
			val = eq + 1;
		} else {
			snprintf(opt, sizeof(opt), "%s", s);
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
	if (a->seed_given)
		kmm_workload_set_seed(w, a->seed);
	if (kmm_workload_check(w, &err)) {
		cli_error("%s", err.msg);
		kmm_workload_free(w);
		return KMM_EXIT_WORKLOAD;
	}
	*wp = w;
	return 0;
}

struct kmm_sim_opts sim_args_opts(const struct sim_args *a)
{
	struct kmm_sim_opts o = {
	    .concurrent = a->concurrent,
	    .swap_io = a->swap_io,
	    .out_dir = a->out_dir,
	    .snapshot_every = a->every,
	    .log = a->quiet ? NULL : stdout,
	    .trace_events = a->trace,
	    .boot_log = a->boot_log,
	    .fail_on_oom = a->fail_on_oom,
	    .progress = a->progress && !a->quiet && isatty(STDOUT_FILENO),
	    .no_report = a->no_report,
	};
	return o;
}

int sim_args_exit(int ret, const struct kmm_error *err)
{
	if (!ret)
		return KMM_EXIT_OK;
	cli_error("%s", err->msg);
	return ret == -ENOMEM ? KMM_EXIT_OOM : KMM_EXIT_WORKLOAD;
}
