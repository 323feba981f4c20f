/*
 * Trace replay (src/sim/replay.c): the checked-in lackey trace replays
 * with its exact number of records, references, pages and faults; a
 * random reference list (seeded) makes exactly its references, faults at
 * least once per distinct page, and on a tiny machine (4 MiB) runs to
 * the end counting the faults that found no memory; pages outside the
 * user address space are skipped and counted; output directories are
 * byte-identical for the same trace; --fail-on-oom stops; a bad trace is
 * reported with its line.
 */
#include "kmm_test.h"
#include <kmm/kmm.h>
#include <kmm/sim.h>
#include <errno.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/kmm-replay-test-XXXXXX";

static int replay(const char *trace, const char *mem, int nodes, struct kmm_replay_opts *o,
		  struct kmm_replay_result *res, struct kmm_error *err)
{
	struct kmm_config cfg;
	char n[8];
	kmm_config_init(&cfg);
	snprintf(n, sizeof(n), "%d", nodes);
	if (kmm_config_option(&cfg, "--mem", mem, err) < 0 ||
	    kmm_config_option(&cfg, "--nodes", n, err) < 0 ||
	    kmm_config_option(&cfg, "--cpus", "1", err) < 0 || kmm_config_finish(&cfg, err))
		return -EINVAL;
	o->cfg = &cfg;
	return kmm_replay(trace, o, res, err);
}

static void test_lackey(void)
{
	struct kmm_error err = {0};
	struct kmm_replay_result res;
	struct kmm_replay_opts o = {0};
	expect_int_eq(
	    replay(KMM_SOURCE_DIR "/workloads/traces/touch.lackey", "64M", 1, &o, &res, &err), 0);
	/* docs/traces.md: 1418 fetches, 32 loads, 256 stores, 64 modifies; 5 pages. */
	expect_u64_eq(res.records, 1770);
	expect_u64_eq(res.refs, 1770);
	expect_u64_eq(res.distinct_pages, 5);
	/* The code page and the 16 KiB buffer are close enough to share a mapping. */
	expect_u64_eq(res.vmas, 1);
	expect_u64_eq(res.minflt + res.majflt, 5);
	expect_u64_eq(res.oom_faults, 0);
	expect_u64_eq(res.outside_refs, 0);
}

/* A seeded random reference list over @pages pages from page 16, @n references. */
static void write_refs(const char *path, unsigned int pages, unsigned int n, bool outside)
{
	FILE *f = fopen(path, "w");
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "%c %llu\n", kmm_rng_below(&rng, 10) < 3 ? 'W' : 'R',
			(unsigned long long)(16 + kmm_rng_below(&rng, pages)));
	if (outside)
		fputs("R 0\nW 0x7ffffffff\n", f); /* below mmap_min_addr; at TASK_SIZE */
	fclose(f);
}

static void test_random_refs(void)
{
	char path[300];
	struct kmm_error err = {0};
	struct kmm_replay_result res;
	struct kmm_replay_opts o = {0};
	unsigned int n = 20000 * (unsigned int)kmm_test_scale;
	snprintf(path, sizeof(path), "%s/r.refs", tmpdir);
	write_refs(path, 1000, n, true);
	expect_int_eq(replay(path, "64M", 1, &o, &res, &err), 0);
	expect_u64_eq(res.records, n + 2);
	expect_u64_eq(res.refs, n);
	expect_u64_eq(res.outside_refs, 2);
	expect_u64_eq(res.outside_pages, 2);
	expect_u64_eq(res.vmas, 1);
	/* Each page faults once, a written one once more if it was read first (zero page). */
	expect_u64_ge(res.minflt, res.distinct_pages - 2);
	expect_u64_le(res.minflt, 2 * (res.distinct_pages - 2));
	expect_u64_eq(res.oom_faults, 0);
}

/* 4 MiB, one node: the machine boots and the replay runs to its end. */
static void test_tiny_machine(void)
{
	char path[300];
	struct kmm_error err = {0};
	struct kmm_replay_result res;
	struct kmm_replay_opts o = {0};
	snprintf(path, sizeof(path), "%s/t.refs", tmpdir);
	write_refs(path, 2000, 20000, false);
	expect_int_eq(replay(path, "4M", 1, &o, &res, &err), 0);
	printf("  4M: %llu faults, %llu found no memory, %lu pages free\n",
	       (unsigned long long)res.minflt, (unsigned long long)res.oom_faults,
	       res.free_pages_end);
	expect_u64_eq(res.refs, 20000);
	expect_u64_gt(res.minflt, 0);
	expect_u64_gt(res.oom_faults, 0); /* 2000 pages do not fit in 1024 */
	o.fail_on_oom = true;
	expect_int_eq(replay(path, "4M", 1, &o, &res, &err), -ENOMEM);
	expect_str_contains(err.msg, "out of memory at reference");
	expect_u64_eq(res.oom_faults, 1);
}

static int same_file(const char *a, const char *b)
{
	char cmd[1000];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return !system(cmd);
}

static void test_output_dir(void)
{
	char path[300], d1[300], d2[300], a[400], b[400];
	struct kmm_error err = {0};
	struct kmm_replay_result res;
	snprintf(path, sizeof(path), "%s/o.refs", tmpdir);
	snprintf(d1, sizeof(d1), "%s/o1", tmpdir);
	snprintf(d2, sizeof(d2), "%s/o2", tmpdir);
	write_refs(path, 3000, 30000, false);
	struct kmm_replay_opts o = {.out_dir = d1, .snapshot_every = 10000, .swap_bytes = 8 << 20};
	expect_int_eq(replay(path, "16M", 1, &o, &res, &err), 0);
	expect_u64_eq(res.snapshots, 4);
	o.out_dir = d2;
	expect_int_eq(replay(path, "16M", 1, &o, &res, &err), 0);
	static const char *const files[] = {"summary.txt", "timeseries.csv", "report.html",
					    "proc/0004/meminfo", "proc/0002/vmstat"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(files); i++) {
		snprintf(a, sizeof(a), "%s/%s", d1, files[i]);
		snprintf(b, sizeof(b), "%s/%s", d2, files[i]);
		expect_true(same_file(a, b));
	}
	snprintf(a, sizeof(a), "%s/proc/0004/meminfo", d1);
	FILE *f = fopen(a, "r");
	char line[200];
	bool swap = false;
	while (f && fgets(line, sizeof(line), f))
		swap |= !strcmp(line, "SwapTotal:          8188 kB\n");
	if (f)
		fclose(f);
	expect_true(swap);
}

static void test_bad_trace(void)
{
	char path[300];
	struct kmm_error err = {0};
	struct kmm_replay_result res;
	struct kmm_replay_opts o = {0};
	snprintf(path, sizeof(path), "%s/bad.refs", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("R 1\nW 2\nX 3\n", f);
	fclose(f);
	expect_int_eq(replay(path, "64M", 1, &o, &res, &err) < 0, 1);
	expect_str_contains(err.msg, "bad.refs:3:1: expected");
	expect_int_eq(replay("/nonexistent/t.refs", "64M", 1, &o, &res, &err), -ENOENT);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_lackey);
	run_test(test_random_refs);
	run_test(test_tiny_machine);
	run_test(test_output_dir);
	run_test(test_bad_trace);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
