/*
 * Task operations in concurrent mode: one thread runs each of them alone
 * (a barrier) while the kernel operations of other CPUs run in parallel
 * between them, so what the tasks see (pages touched, faults, COW copies)
 * is the same as in deterministic mode, exactly (KMM_TEST_CONCURRENT: run
 * under TSan by make tsan, which checks the hand-over between the CPU
 * threads and the task's CPU).
 */
#include "kmm_test.h"
#include "sim/workload.h"

static const char text[] = "machine --mem 128M --nodes 2 --cpus 4\n"
			   "kmem_cache_create c size=128\n"
			   "spawn a cpu=0\n"
			   "spawn b cpu=2\n"
			   "a: mmap heap 4M\n"
			   "b: mmap heap 2M\n"
			   "repeat 4\n"
			   "  a: touch heap write random count=500\n"
			   "  kmem_cache_alloc p cache=c count=300 cpu=1\n"
			   "  b: touch heap mixed(50%) zipf(0.8) count=300\n"
			   "  alloc_pages q order=choice(0:3,1:1) count=100 cpu=3\n"
			   "  a: fork k cpu=1\n"
			   "  k: touch heap[0..1M] write seq\n"
			   "  churn p steps=400 cpu=1\n"
			   "  free q cpu=3\n"
			   "  k: exit\n"
			   "end\n"
			   "validate\n"
			   "free p\n"
			   "a: exit\n"
			   "b: exit\n";

static int run(bool concurrent, struct kmm_sim_result *res)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	int ret = kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err);
	if (!ret)
		ret = kmm_workload_check(w, &err);
	kmm_workload_set_seed(w, kmm_test_seed);
	struct kmm_sim_opts o = {.concurrent = concurrent};
	if (!ret)
		ret = kmm_workload_run(w, &o, res, &err);
	if (ret)
		fprintf(stderr, "%s\n", err.msg);
	kmm_workload_free(w);
	return ret;
}

static void test_same_task_figures(void)
{
	struct kmm_sim_result d, c;
	expect_int_eq(run(false, &d), 0);
	expect_int_eq(run(true, &c), 0);
	/* 4 x (500 + 300 + 256) pages touched. */
	expect_u64_eq(d.accesses, 4224);
	expect_u64_eq(c.accesses, d.accesses);
	expect_u64_eq(c.pgfault, d.pgfault);
	expect_u64_eq(c.oom_faults, 0);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_same_task_figures);
	return kmm_test_done();
}
