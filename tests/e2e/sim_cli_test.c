/*
 * `kmm run` and `kmm trace` end to end: the built program run through the
 * shell, its output, files and exit status checked as a user sees them.
 * Help texts; a bad workload's one-line message and status 1; a workload
 * this version cannot run; output directories byte-identical for the
 * same seed; command-line overrides; trace statistics of the checked-in
 * lackey trace, exact; conversions and bad traces.
 */
#include "e2e/e2e_util.h"
#include "kmm_test.h"
#include <kmm/kmm.h>
#include <stdarg.h>
#include <sys/wait.h>

#define WORKLOAD KMM_SOURCE_DIR "/workloads"

static char tmpdir[] = "/tmp/kmm-sim-cli-XXXXXX";

/* Run a shell command line; @with_stderr appends stderr to the output. */
__attribute__((format(printf, 2, 3))) static struct result shx(bool with_stderr, const char *fmt,
							       ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd) - 16, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, "%s", with_stderr ? " 2>&1" : " 2>/dev/null");
	return e2e_run(cmd);
}

static void test_help(void)
{
	struct result r = shx(false, KMM " --help");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "  run        check a workload file");
	expect_str_contains(r.out, "  trace      convert memory-access traces");
	free(r.out);
	r = shx(false, KMM " run --help");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "usage: kmm run WORKLOAD [options] [machine options]");
	free(r.out);
	r = shx(false, KMM " trace --help");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "usage: kmm trace convert IN OUT");
	free(r.out);
}

static void test_run_errors(void)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/bad.kmm", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("alloc_pages p\nfree q count=3 pick=oldest\n", f);
	fclose(f);
	struct result r = shx(true, KMM " run %s", path);
	expect_int_eq(r.status, 1);
	char want[600];
	snprintf(want, sizeof(want),
		 "kmm: %s:2:21: expected fifo, lifo or random, found 'oldest'\n", path);
	expect_str_eq(r.out, want);
	free(r.out);

	/* Task operations run (the address-space layer); --check says so. */
	r = shx(true, KMM " run --quiet " WORKLOAD "/fork-cow.kmm");
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, "");
	free(r.out);
	r = shx(true, KMM " run --check " WORKLOAD "/fork-cow.kmm");
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, WORKLOAD "/fork-cow.kmm: every operation can run\n");
	free(r.out);

	static const struct {
		const char *args;
		int status;
		const char *msg;
	} usage[] = {
	    {"run", 2, "kmm: no workload (try 'kmm run --help')\n"},
	    {"run /nonexistent.kmm", 2, "kmm: /nonexistent.kmm: No such file or directory\n"},
	    {"run " WORKLOAD "/page-churn.kmm --bogus", 2,
	     "kmm: unknown option '--bogus' (try 'kmm run --help')\n"},
	    {"run " WORKLOAD "/page-churn.kmm --concurrent --snapshot-every 5", 2,
	     "kmm: --snapshot-every works in deterministic mode only\n"},
	    {"run " WORKLOAD "/lru-loop.kmm --swap-io ahead", 2,
	     "kmm: --swap-io ahead works in concurrent mode only (add --concurrent)\n"},
	    {"run " WORKLOAD "/lru-loop.kmm --concurrent --swap-io later", 2,
	     "kmm: --swap-io: expected fault, thread or ahead, found 'later'\n"},
	    {"run " WORKLOAD "/lru-loop.kmm --concurrent --swap-io", 2,
	     "kmm: --swap-io needs a value\n"},
	    {"run " WORKLOAD "/page-churn.kmm --seed x", 2,
	     "kmm: --seed: expected a number, found 'x'\n"},
	    {"run " WORKLOAD "/page-churn.kmm --mem 4Q", 2,
	     "kmm: --mem: expected a size like 4G, 512M or 0x1000, found '4Q'\n"},
	    {"run " WORKLOAD "/page-churn.kmm --cpus 1", 1,
	     "kmm: " WORKLOAD "/page-churn.kmm:14:62: expected CPU 0 (the machine has one CPU), "
	     "found 1\n"},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(usage); i++) {
		r = shx(true, KMM " %s", usage[i].args);
		expect_int_eq(r.status, usage[i].status);
		expect_str_eq(r.out, usage[i].msg);
		free(r.out);
	}
}

static void test_run_output(void)
{
	struct result r =
	    shx(true, KMM " run " WORKLOAD "/page-churn.kmm --quiet --out %s/a", tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, "");
	free(r.out);
	r = shx(true, KMM " run " WORKLOAD "/page-churn.kmm --out %s/b", tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "kmm run " WORKLOAD "/page-churn.kmm: 2 CPUs, 2 nodes, "
				   "deterministic mode\nphase fill: 2 operations; 4500 blocks "
				   "allocated");
	expect_str_contains(r.out, " (5 snapshots)\n");
	free(r.out);
	/* Same seed, same files (the wall-clock times are in timing.txt alone). */
	r = shx(true, "diff -r -x timing.txt %s/a %s/b", tmpdir, tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, "");
	free(r.out);
	r = shx(true, "cat %s/a/summary.txt", tmpdir);
	expect_str_contains(r.out, "mode deterministic\nseed 1\noperations 27\n");
	free(r.out);
	/* Another seed, other draws. */
	r = shx(true, KMM " run " WORKLOAD "/page-churn.kmm --quiet --seed 9 --out %s/c", tmpdir);
	expect_int_eq(r.status, 0);
	free(r.out);
	r = shx(true, "diff -q %s/a/summary.txt %s/c/summary.txt", tmpdir, tmpdir);
	expect_int_eq(r.status, 1);
	free(r.out);
	/* Overrides reach the machine. */
	r = shx(true, KMM " run " WORKLOAD "/page-churn.kmm --dump --buddy bitmap --mem 512M");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "2 nodes, 2 CPUs, model vmemmap, buddy bitmap\n");
	expect_str_contains(r.out, "machine: 523775 KiB of RAM");
	free(r.out);
	/* The other bookkeeping design runs the same workload. */
	r = shx(true, KMM " run " WORKLOAD "/page-churn.kmm --quiet --buddy bitmap --concurrent");
	expect_int_eq(r.status, 0);
	free(r.out);
}

/* Trace events of a run: Linux's trace file, reproducible in deterministic mode. */
static void test_run_trace(void)
{
	struct result r;
	for (int i = 0; i < 2; i++) {
		r = shx(true,
			KMM " run " WORKLOAD "/slab-churn.kmm --quiet --out %s/t%d --trace "
			    "'kmem:kmalloc,kmem:kfree,kmem_cache_*'",
			tmpdir, i);
		expect_int_eq(r.status, 0);
		free(r.out);
	}
	r = shx(true, "diff -r -x timing.txt %s/t0 %s/t1", tmpdir, tmpdir);
	expect_int_eq(r.status, 0);
	free(r.out);
	r = shx(true, "head -1 %s/t0/trace.txt; grep -c ' kmem_cache_alloc: ' %s/t0/trace.txt",
		tmpdir, tmpdir);
	expect_str_contains(r.out, "# tracer: nop\n");
	/* At least the 5000 of the fill phase and some of the churn's. */
	expect_u64_ge(strtoul(strchr(r.out, '\n') + 1, NULL, 10), 5000);
	free(r.out);
	/* The first object of the dentry cache (before it, the cache's own kmem_cache). */
	r = shx(true, "grep -m1 ' kmem_cache_alloc: .*bytes_req=192 ' %s/t0/trace.txt", tmpdir);
	expect_str_contains(r.out, "             kmm-1       [001] .....     0.0");
	expect_str_contains(r.out, ": kmem_cache_alloc: call_site=");
	expect_str_contains(r.out, " bytes_req=192 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 "
				   "accounted=false\n");
	free(r.out);
	r = shx(true, KMM " run " WORKLOAD "/slab-churn.kmm --trace kmem:kmalloc");
	expect_int_eq(r.status, 2);
	expect_str_eq(r.out, "kmm: --trace writes DIR/trace.txt: give --out DIR\n");
	free(r.out);
}

static void test_trace_stats(void)
{
	struct result r =
	    shx(true, KMM " trace stats " WORKLOAD "/traces/touch.lackey --frames 1,2,5");
	expect_int_eq(r.status, 0);
	expect_str_eq(r.out, "trace: " WORKLOAD "/traces/touch.lackey (lackey)\n"
			     "records: 1770 (I 1418, L 32, S 256, M 64)\n"
			     "page references: 1770 (1450 reads, 320 writes)\n"
			     "distinct pages: 5\n"
			     "    frames   LRU faults   OPT faults\n"
			     "         1          705          705\n"
			     "         2           13           13\n"
			     "         5            5            5\n");
	free(r.out);
	/* The textbook string as a reference list, from stdin. */
	r = shx(true, "printf 'R %%s\\n' 7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1 | " KMM
		      " trace stats - --frames 3,4");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "(refs)\nrecords: 20 (I 0, L 20, S 0, M 0)\n");
	expect_str_contains(r.out, "         3           12            9\n"
				   "         4            8            8\n");
	free(r.out);
}

static void test_trace_convert(void)
{
	struct result r =
	    shx(true, KMM " trace convert " WORKLOAD "/traces/touch.lackey %s/t.kmt", tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "(lackey) -> ");
	expect_str_contains(r.out, "(binary): 1770 records\n");
	free(r.out);
	/* Back to lackey: the records as valgrind wrote them, without its banner. */
	r = shx(true,
		KMM " trace convert %s/t.kmt %s/back.lackey && grep -v '^==' " WORKLOAD
		    "/traces/touch.lackey | cmp - %s/back.lackey",
		tmpdir, tmpdir, tmpdir);
	expect_int_eq(r.status, 0);
	free(r.out);
	r = shx(true,
		KMM " trace convert %s/t.kmt %s/t.refs && head -3 %s/t.refs && wc -l < %s/t.refs",
		tmpdir, tmpdir, tmpdir, tmpdir);
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "R 0x401\nR 0x401\nR 0x401\n1770\n");
	free(r.out);

	static const struct {
		const char *args;
		int status;
		const char *msg;
	} bad[] = {
	    {"trace", 2, NULL},
	    {"trace bogus", 2,
	     "kmm: trace bogus: expected convert or stats (try 'kmm trace --help')\n"},
	    {"trace stats /nonexistent", 2, "kmm: /nonexistent: No such file or directory\n"},
	    {"trace stats " WORKLOAD "/traces/touch.lackey --frames 0", 2,
	     "kmm: --frames 0: expected frame counts from 1 to 2^31 such as 3,4,1024\n"},
	    {"trace convert a", 2, "kmm: convert needs IN and OUT\n"},
	    {"trace convert a b --to xml", 2, "kmm: --to xml: expected lackey, binary or refs\n"},
	    {"trace stats " WORKLOAD "/page-churn.kmm", 1,
	     "kmm: " WORKLOAD
	     "/page-churn.kmm:7: expected a lackey record, '==PID==' or 'R|W PAGE', "
	     "found 'machine --mem 256M --nodes 2 --cpus 2' (or give --from lackey, binary or "
	     "refs)\n"},
	    {"trace stats " WORKLOAD "/page-churn.kmm --from refs", 1,
	     "kmm: " WORKLOAD "/page-churn.kmm:7:1: expected R or W, a blank and a page number, "
	     "found 'machine --mem 256M --nodes 2 --cpus 2'\n"},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(bad); i++) {
		r = shx(true, KMM " %s", bad[i].args);
		expect_int_eq(r.status, bad[i].status);
		if (bad[i].msg)
			expect_str_eq(r.out, bad[i].msg);
		free(r.out);
	}
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_help);
	run_test(test_run_errors);
	run_test(test_run_output);
	run_test(test_run_trace);
	run_test(test_trace_stats);
	run_test(test_trace_convert);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
