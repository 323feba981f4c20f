/*
 * kmm replay: a memory-access trace (docs/traces.md) replayed into one
 * simulated task on a machine given by kmm boot's options; prints the
 * faults, reclaim and swap the program's accesses caused.
 */
#include "cli.h"
#include <kmm/sim.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void replay_usage(FILE *out)
{
	fprintf(out,
		"usage: kmm replay TRACE [options] [machine options]\n\n"
		"Replays a memory-access trace into one task: maps anonymous memory over every\n"
		"page the trace touches, then makes each reference (fetches and loads read,\n"
		"stores and modifies write). Prints the faults, reclaim and swap counters.\n"
		"TRACE is valgrind lackey text, kmm's binary trace or an R|W page list\n"
		"(docs/traces.md); '-' is stdin.\n\n"
		"  --from FORMAT      lackey, binary or refs (default: from the first bytes)\n"
		"  --swap SIZE        a swap file of SIZE (64M, 1G) in a temporary directory\n"
		"                     (--swap FILE:SIZE is kmm boot's: a file of your choice)\n"
		"  --out DIR          /proc snapshots, timeseries.csv, report.html, summary.txt\n"
		"  --snapshot-every N also snapshot every N page references\n"
		"  --fail-on-oom      stop at the first reference that finds no page (exit 3)\n"
		"  --no-report        no report.html in DIR\n"
		"  --quiet            print nothing but errors\n\n"
		"Machine options are kmm boot's (--mem 8M replays under memory pressure); see\n"
		"'kmm boot --help'.\n\n"
		"Exit status: 0 ok, 1 a bad trace or a machine that cannot boot, 2 a bad\n"
		"command line, 3 out of memory with --fail-on-oom.\n");
}

/* "64M" and the like: bytes, or 0 on a bad size. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return 0;
	int shift = 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return 0;
	}
	if (*end && end[1])
		return 0;
	if (v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

int cmd_replay(int argc, char **argv)
{
	struct kmm_config cfg;
	struct kmm_replay_opts o = {.cfg = &cfg, .format = KMM_MEMTRACE_AUTO};
	const char *trace = NULL;
	bool quiet = false;
	kmm_config_init(&cfg);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			replay_usage(stdout);
			return KMM_EXIT_OK;
		}
		bool value = !strcmp(a, "--from") || !strcmp(a, "--out") ||
			     !strcmp(a, "--snapshot-every") || !strcmp(a, "--swap");
		if (value && i + 1 >= argc) {
			cli_error("%s needs a value", a);
			return KMM_EXIT_USAGE;
		}
		if (!strcmp(a, "--from")) {
			int f = kmm_memtrace_format_parse(argv[++i]);
			if (f < 0) {
				cli_error("--from %s: expected lackey, binary or refs", argv[i]);
				return KMM_EXIT_USAGE;
			}
			o.format = (enum kmm_memtrace_format)f;
		} else if (!strcmp(a, "--out")) {
			o.out_dir = argv[++i];
		} else if (!strcmp(a, "--snapshot-every")) {
			char *end;
			errno = 0;
			o.snapshot_every = strtoull(argv[++i], &end, 0);
			if (*end || errno || !*argv[i] || argv[i][0] == '-') {
				cli_error("--snapshot-every: expected a number, found '%s'",
					  argv[i]);
				return KMM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--swap") && !strchr(argv[i + 1], ':')) {
			o.swap_bytes = parse_size(argv[++i]);
			if (o.swap_bytes < 40960) {
				cli_error(
				    "--swap %s: expected a size of at least 40K (such as 64M)",
				    argv[i]);
				return KMM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--fail-on-oom")) {
			o.fail_on_oom = true;
		} else if (!strcmp(a, "--no-report")) {
			o.no_report = true;
		} else if (!strcmp(a, "--quiet")) {
			quiet = true;
		} else if (a[0] == '-' && a[1] == '-') {
			int r = cli_machine_option(&cfg, argc, argv, &i);
			if (r == CLI_OPT_NOT_MINE) {
				cli_error("unknown option '%s' (try 'kmm replay --help')", a);
				return KMM_EXIT_USAGE;
			}
			if (r != CLI_OPT_TAKEN)
				return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		} else if (!trace) {
			trace = a;
		} else {
			cli_error("one trace at a time: '%s' and '%s'", trace, a);
			return KMM_EXIT_USAGE;
		}
	}
	if (!trace) {
		cli_error("no trace (try 'kmm replay --help')");
		return KMM_EXIT_USAGE;
	}
	struct kmm_error err = {0};
	if (kmm_config_finish(&cfg, &err)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_replay_result res;
	int ret = kmm_replay(trace, &o, &res, &err);
	if (ret) {
		cli_error("%s", err.msg);
		if (ret == -ENOMEM && o.fail_on_oom && strstr(err.msg, "--fail-on-oom"))
			return KMM_EXIT_OOM;
		return ret == -ENOENT || ret == -EACCES || ret == -EISDIR ? KMM_EXIT_USAGE
									  : KMM_EXIT_WORKLOAD;
	}
	if (quiet)
		return KMM_EXIT_OK;
	printf("kmm replay %s: %llu records, %llu page references, %llu distinct pages in %llu "
	       "mapping%s\n",
	       trace, (unsigned long long)res.records, (unsigned long long)res.refs,
	       (unsigned long long)res.distinct_pages, (unsigned long long)res.vmas,
	       res.vmas == 1 ? "" : "s");
	if (res.outside_refs)
		printf("skipped: %llu references to %llu pages outside the user address space\n",
		       (unsigned long long)res.outside_refs, (unsigned long long)res.outside_pages);
	printf("faults: %llu minor, %llu major; %llu found no memory\n",
	       (unsigned long long)res.minflt, (unsigned long long)res.majflt,
	       (unsigned long long)res.oom_faults);
	printf("reclaim: %llu pages scanned, %llu reclaimed; swap: %llu pages out, %llu in\n",
	       (unsigned long long)res.pgscan, (unsigned long long)res.pgsteal,
	       (unsigned long long)res.pswpout, (unsigned long long)res.pswpin);
	printf("free pages at the end: %lu; %.3f s\n", res.free_pages_end, res.seconds);
	if (o.out_dir)
		printf("output: %s (%llu snapshots)%s%s%s\n", o.out_dir,
		       (unsigned long long)res.snapshots,
		       o.no_report ? "" : "; report: ", o.no_report ? "" : o.out_dir,
		       o.no_report ? "" : "/report.html");
	return KMM_EXIT_OK;
}
