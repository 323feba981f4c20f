/*
 * The simulator's command line as a user meets it: `kmm demo` (the
 * built-in scenario behind `make demo`: its summary, its report, its
 * workload), --help on every subcommand, the documented exit statuses
 * (0 ok, 1 workload error, 2 usage, 3 out of memory with --fail-on-oom),
 * `kmm compare` on the command line, and the progress bar: drawn on a
 * terminal (through script(1), when it is installed), never into a pipe.
 */
#include "e2e/e2e_util.h"
#include "kmm_test.h"
#include <kmm/kmm.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/kmm-demo-cli-XXXXXX";

static void test_help_everywhere(void)
{
	static const char *const cmds[] = {"boot",    "pages", "slabtop", "run",
					   "compare", "demo",  "replay",  "trace"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cmds); i++) {
		char want[64];
		struct result r = sh(KMM " %s --help 2>&1", cmds[i]);
		snprintf(want, sizeof(want), "usage: kmm %s", cmds[i]);
		expect_int_eq(r.status, 0);
		expect_true(!strncmp(r.out, want, strlen(want)));
		free(r.out);
	}
	struct result r = sh(KMM " --help");
	expect_str_contains(r.out, "  compare    run a workload on each design variant");
	expect_str_contains(r.out, "  demo       run the built-in scenario");
	free(r.out);
}

static void test_demo(void)
{
	char dir[300], path[400];
	snprintf(dir, sizeof(dir), "%s/demo", tmpdir);
	struct result r = sh(KMM " demo --out %s 2>&1", dir);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "kmm demo: 1 GiB, 2 nodes, 4 CPUs, a 512 MiB swap file");
	expect_str_contains(r.out, "phase serve: 72 operations; 36031 objects allocated");
	expect_str_contains(r.out, "\nsummary: 94 operations in ");
	expect_str_contains(r.out, "\n  tasks touched 588064 pages and took ");
	char want[500];
	snprintf(want, sizeof(want), "\nreport: %s/report.html\n", dir);
	expect_str_contains(r.out, want);
	/* Never a progress bar into a pipe. */
	expect_true(!strchr(r.out, '\r'));
	free(r.out);
	struct stat st;
	snprintf(path, sizeof(path), "%s/report.html", dir);
	expect_int_eq(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/proc/0014/zoneinfo", dir);
	expect_int_eq(stat(path, &st), 0);
	/* The scenario is a workload like any other. */
	r = sh(KMM " demo --print > %s/demo.kmm && " KMM " run --check %s/demo.kmm", tmpdir,
	       tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "demo.kmm: every operation can run\n");
	free(r.out);
	r = sh(KMM " demo --bogus 2>&1");
	expect_int_eq(r.status, 2);
	expect_str_eq(r.out, "kmm: unknown option '--bogus' (try 'kmm demo --help')\n");
	free(r.out);
}

static void test_exit_codes(void)
{
	char wl[300];
	snprintf(wl, sizeof(wl), "%s/oom.kmm", tmpdir);
	write_file(wl, "machine --mem 16M --nodes 1 --cpus 1\n"
		       "spawn t\n"
		       "t: mmap a 64M\n"
		       "t: touch a write seq\n");
	struct result r = sh(KMM " run %s --quiet 2>&1", wl);
	expect_int_eq(r.status, 0);
	free(r.out);
	r = sh(KMM " run %s --quiet --fail-on-oom 2>&1", wl);
	expect_int_eq(r.status, 3);
	char want[500];
	snprintf(want, sizeof(want),
		 "kmm: %s:4:4: out of memory: the machine has no page left for touch "
		 "(--fail-on-oom)\n",
		 wl);
	expect_str_eq(r.out, want);
	free(r.out);
	snprintf(wl, sizeof(wl), "%s/bad.kmm", tmpdir);
	write_file(wl, "spawn t\nt: touch a write\n");
	r = sh(KMM " run %s 2>&1", wl);
	expect_int_eq(r.status, 1);
	free(r.out);
	r = sh(KMM " run %s --no-such-option 2>&1", wl);
	expect_int_eq(r.status, 2);
	free(r.out);
}

static void test_compare_cli(void)
{
	char wl[300];
	snprintf(wl, sizeof(wl), "%s/small.kmm", tmpdir);
	write_file(wl, "machine --mem 64M --nodes 1 --cpus 2\n"
		       "variant model=flat,sparse\n"
		       "spawn t\n"
		       "t: mmap a 1M\n"
		       "t: touch a write seq\n");
	/* The workload's variant line, without --variant. */
	struct result r = sh(KMM " compare %s 2>/dev/null", wl);
	expect_int_eq(r.status, 0);
	char want[200];
	snprintf(want, sizeof(want), "%-24s%22s%22s\n", "", "model=flat", "model=sparse");
	expect_str_contains(r.out, want);
	snprintf(want, sizeof(want), "\n%-24s%22s%22s\n", "page faults", "256", "256");
	expect_str_contains(r.out, want);
	free(r.out);
	r = sh(KMM " compare %s --variant buddy=pageflag,heap 2>&1", wl);
	expect_int_eq(r.status, 2);
	expect_str_eq(r.out, "kmm: --variant --buddy heap: expected pageflag or bitmap\n");
	free(r.out);
}

static void test_replay_cli(void)
{
	struct result r =
	    sh(KMM " replay " KMM_SOURCE_DIR "/workloads/traces/touch.lackey --mem 8M "
		   "--nodes 1 2>&1");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out,
			    "touch.lackey: 1770 records, 1770 page references, 5 distinct "
			    "pages in 1 mapping\nfaults: 5 minor, 0 major; 0 found no memory\n");
	free(r.out);
	r = sh(KMM " replay /nonexistent.lackey 2>&1");
	expect_int_eq(r.status, 2);
	free(r.out);
	r = sh(KMM " replay " KMM_SOURCE_DIR "/workloads/traces/touch.lackey --swap 1K 2>&1");
	expect_int_eq(r.status, 2);
	expect_str_eq(r.out, "kmm: --swap 1K: expected a size of at least 40K (such as 64M)\n");
	free(r.out);
}

static void test_progress_bar(void)
{
	if (system("command -v script >/dev/null 2>&1")) {
		printf("  script(1) missing: the progress bar on a terminal is not checked\n");
		return;
	}
	char wl[300];
	snprintf(wl, sizeof(wl), "%s/long.kmm", tmpdir);
	/* Long enough (a few tenths of a second) for the bar's first redraw. */
	write_file(wl, "machine --mem 256M --nodes 1 --cpus 1\n"
		       "spawn t\n"
		       "t: mmap a 64M\n"
		       "phase sweep\n"
		       "  t: touch a read loop(20)\n"
		       "end\n");
	struct result r = sh("script -qc '" KMM " run %s' /dev/null", wl);
	expect_int_eq(r.status, 0);
	/* Drawn at the first operation, then at most ten times a second. */
	expect_str_contains(r.out, "deterministic mode\r\n\r\033[K[");
	expect_str_contains(r.out, " ops/s ETA ");
	/* Erased before the phase line. */
	expect_str_contains(r.out, "\r\033[Kphase sweep: 1 operations; 327680 pages touched");
	free(r.out);
	r = sh(KMM " run %s", wl);
	expect_true(!strchr(r.out, '\r'));
	free(r.out);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_help_everywhere);
	run_test(test_demo);
	run_test(test_exit_codes);
	run_test(test_compare_cli);
	run_test(test_replay_cli);
	run_test(test_progress_bar);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
