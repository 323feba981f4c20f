/*
 * The executor in concurrent mode (KMM_TEST_CONCURRENT: run under TSan by
 * make tsan): one host thread per simulated CPU, pools shared between
 * CPUs, barriers at phase ends and at global operations.
 *
 * The sizes asked for come from per-CPU random streams, so both modes ask
 * for the same blocks: the pages allocated must match the deterministic
 * run exactly, and every invariant must hold at each validate.
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <errno.h>

static const char text[] = "machine --mem 256M --nodes 2 --cpus 4\n"
			   "phase fill\n"
			   "  alloc_pages a order=uniform(0,3) count=2000 cpu=0\n"
			   "  alloc_pages b order=choice(0:5,2:1) count=2000 cpu=1\n"
			   "  alloc_pages c order=0 count=4000 cpu=2\n"
			   "  alloc_pages shared order=1 count=1000 cpu=3\n"
			   "end\n"
			   "validate\n"
			   "phase mix\n"
			   "  repeat 5\n"
			   "    alloc_pages shared order=0 count=300 cpu=0\n"
			   "    free shared count=250 pick=random cpu=1\n"
			   "    alloc_pages shared order=2 count=100 cpu=2\n"
			   "    free shared count=100 pick=lifo cpu=3\n"
			   "  end\n"
			   "  drain\n"
			   "  validate\n"
			   "end\n"
			   "phase empty\n"
			   "  free a cpu=1\n  free b cpu=2\n  free c cpu=3\n  free shared cpu=0\n"
			   "  drain\n  validate\n"
			   "end\n";

/* Slab objects from four CPUs at once, in a cache made by a barrier. */
static const char slab_text[] = "machine --mem 256M --nodes 2 --cpus 4\n"
				"kmem_cache_create obj size=200 cpu=2\n"
				"repeat 3\n"
				"  kmem_cache_alloc shared cache=obj count=500 cpu=0\n"
				"  kmem_cache_alloc shared cache=obj count=500 cpu=1\n"
				"  kmalloc k1 size=uniform(1,5000) count=400 cpu=2\n"
				"  kmalloc k2 size=pow2(8,2048) count=400 cpu=3\n"
				"  free shared count=600 pick=random cpu=2\n"
				"  free k1 count=300 cpu=3\n"
				"  free k2 cpu=0\n"
				"end\n"
				"validate\n"
				"free shared cpu=3\n"
				"kmem_cache_destroy obj\n"
				"free k1 cpu=1\n"
				"free k2 cpu=2\n"
				"validate\n";

static void run_mode(const char *workload, bool concurrent, struct kmm_sim_result *res)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	struct kmm_sim_opts o = {.concurrent = concurrent};
	expect_int_eq(kmm_workload_parse(workload, strlen(workload), "w.kmm", &w, &err), 0);
	kmm_workload_set_seed(w, kmm_test_seed);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	int ret = kmm_workload_run(w, &o, res, &err);
	if (ret)
		fprintf(stderr, "%s\n", err.msg);
	expect_int_eq(ret, 0);
	kmm_workload_free(w);
}

static void test_concurrent_matches_deterministic(void)
{
	struct kmm_sim_result det, con;
	run_mode(text, false, &det);
	for (unsigned long i = 0; i < 2 * kmm_test_scale; i++) {
		run_mode(text, true, &con);
		expect_u64_eq(con.alloc_calls, 9000 + 5 * 400);
		expect_u64_eq(con.alloc_calls, det.alloc_calls);
		expect_u64_eq(con.alloc_failed, 0);
		expect_u64_eq(con.pages_allocated, det.pages_allocated);
		/* Everything came back. */
		expect_u64_eq(con.pages_freed, con.pages_allocated);
		expect_u64_eq(con.ops, det.ops);
	}
}

static void test_concurrent_slab(void)
{
	struct kmm_sim_result det, con;
	run_mode(slab_text, false, &det);
	for (unsigned long i = 0; i < 2 * kmm_test_scale; i++) {
		run_mode(slab_text, true, &con);
		expect_u64_eq(con.objects_allocated, 3 * 1800);
		expect_u64_eq(con.objects_allocated, det.objects_allocated);
		expect_u64_eq(con.bytes_requested, det.bytes_requested);
		expect_u64_eq(con.alloc_failed, 0);
		/* Everything is freed, from whichever CPU. */
		expect_u64_eq(con.objects_freed, con.objects_allocated);
	}
}

/*
 * Two tasks over a machine too small for both, with swap: in concurrent
 * mode kswapd is a thread of its own (it scans), the validates run with it
 * stopped, and swap reads go three ways (kmm_sim_opts.swap_io).
 */
static const char swap_text[] = "machine --mem 32M --nodes 1 --cpus 2\n"
				"swap sw size=64M\n"
				"spawn a cpu=0\n"
				"spawn b cpu=1\n"
				"phase fill\n"
				"  a: mmap x 20M\n"
				"  b: mmap y 20M\n"
				"  a: touch x write seq\n"
				"  b: touch y write seq\n"
				"end\n"
				"validate\n"
				"phase again\n"
				"  repeat 2\n"
				"    a: touch x read seq\n"
				"    b: touch y mixed(20%) random count=3000\n"
				"    validate\n"
				"  end\n"
				"end\n"
				"a: exit\n"
				"b: exit\n"
				"validate\n";

static char tmpdir[] = "/tmp/kmm-exec-concurrent-test-XXXXXX";

/* The value of @name in the last snapshot's vmstat under @dir, or -1. */
static long long last_vmstat(const char *dir, int snaps, const char *name)
{
	char path[600], line[256];
	long long v = -1;
	snprintf(path, sizeof(path), "%s/proc/%04d/vmstat", dir, snaps);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = strlen(name);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			v = strtoll(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

static void test_concurrent_kswapd_and_swap_io(void)
{
	static const enum kmm_sim_swap_io modes[] = {KMM_SIM_SWAP_IO_FAULT, KMM_SIM_SWAP_IO_THREAD,
						     KMM_SIM_SWAP_IO_AHEAD};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char dir[300];
		struct kmm_error err = {0};
		struct kmm_workload *w;
		struct kmm_sim_result res;
		snprintf(dir, sizeof(dir), "%s/mode%zu", tmpdir, i);
		struct kmm_sim_opts o = {
		    .concurrent = true, .swap_io = modes[i], .out_dir = dir, .no_report = true};
		expect_int_eq(kmm_workload_parse(swap_text, strlen(swap_text), "w.kmm", &w, &err),
			      0);
		kmm_workload_set_seed(w, kmm_test_seed);
		expect_int_eq(kmm_workload_check(w, &err), 0);
		int ret = kmm_workload_run(w, &o, &res, &err);
		if (ret)
			fprintf(stderr, "mode %zu: %s\n", i, err.msg);
		expect_int_eq(ret, 0);
		kmm_workload_free(w);
		/* 5120 + 5120 written, 2 x (5120 read + 3000 mixed). */
		expect_u64_eq(res.accesses, 10240 + 2 * 8120);
		expect_u64_eq(res.oom_faults, 0);
		expect_true(res.pswpout > 0);
		expect_true(res.pswpin > 0);
		/* kswapd ran as a thread: nothing else scans for it in concurrent mode. */
		expect_true(last_vmstat(dir, (int)res.snapshots, "pgscan_kswapd") > 0);
	}
}

/* The swap I/O thread would make a deterministic run depend on the host's timing. */
static void test_swap_io_needs_concurrent(void)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	struct kmm_sim_result res;
	struct kmm_sim_opts o = {.swap_io = KMM_SIM_SWAP_IO_AHEAD};
	expect_int_eq(kmm_workload_parse(swap_text, strlen(swap_text), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_int_eq(kmm_workload_run(w, &o, &res, &err), -EINVAL);
	expect_str_eq(err.msg, "w.kmm: the swap I/O thread runs in concurrent mode only (a "
			       "deterministic run reads swap in the faulting CPU)");
	o = (struct kmm_sim_opts){.concurrent = true, .swap_io = (enum kmm_sim_swap_io)7};
	expect_int_eq(kmm_workload_run(w, &o, &res, &err), -EINVAL);
	expect_str_eq(err.msg, "w.kmm: no swap read mode 7");
	kmm_workload_free(w);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror(tmpdir);
		return 1;
	}
	run_test(test_concurrent_matches_deterministic);
	run_test(test_concurrent_slab);
	run_test(test_concurrent_kswapd_and_swap_io);
	run_test(test_swap_io_needs_concurrent);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
