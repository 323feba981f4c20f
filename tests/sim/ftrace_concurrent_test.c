/*
 * Tracing from several simulated CPUs at once (KMM_TEST_CONCURRENT: the
 * TSan build runs it). Host threads on different CPUs allocate and free
 * while the ftrace formatter writes to one file; afterwards every event is
 * there exactly once, as a whole line naming the right CPU, and the lines
 * are in time order, as a merged tracefs buffer is.
 */
#include "kmm_test.h"
#include <pthread.h>
#include <kmm/kmm.h>
#include <kmm/ftrace.h>

#define THREADS 3

struct worker {
	struct kmm_machine *m;
	int cpu;
	unsigned long pairs;
	unsigned long got; /* allocations that succeeded */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	kmm_cpu_enter(w->m, w->cpu);
	for (unsigned long i = 0; i < w->pairs; i++) {
		struct kmm_page *p = kmm_alloc_pages(w->m, GFP_KERNEL | __GFP_NOWARN, i % 4);
		if (p) {
			w->got++;
			kmm_free_pages(w->m, p, i % 4);
		}
	}
	kmm_cpu_exit(w->m);
	return NULL;
}

static void test_threads_share_one_trace(void)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	char *argv[] = {"--mem", "256M", "--nodes", "1", "--cpus", "3"};
	expect_int_eq(kmm_config_parse_args(&cfg, 6, argv, &err), 0);
	expect_int_eq(kmm_config_finish(&cfg, &err), 0);
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	expect_ptr_not_null(m);
	kmm_wait_for_init(m);
	FILE *out = tmpfile();
	expect_ptr_not_null(out);
	struct kmm_ftrace_opts o = {
	    .events = "mm_page_alloc,mm_page_free", .out = out, .style = KMM_FTRACE_PIPE};
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o, &err);
	expect_ptr_not_null(ft);

	struct worker w[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){m, i, 2000 * kmm_test_scale, 0};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	unsigned long got = 0, pairs = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		got += w[i].got;
		pairs += w[i].pairs;
	}
	expect_u64_eq(kmm_ftrace_count(ft, KMM_TRACE_MM_PAGE_ALLOC), pairs);
	expect_u64_eq(kmm_ftrace_count(ft, KMM_TRACE_MM_PAGE_FREE), got);
	expect_int_eq(kmm_ftrace_close(ft, &err), 0);
	kmm_machine_destroy(m);

	rewind(out);
	char line[512];
	unsigned long lines = 0, per_cpu[THREADS] = {0};
	double last = 0;
	while (fgets(line, sizeof(line), out)) {
		int cpu = -1;
		double ts = -1;
		char event[64];
		expect_int_eq(sscanf(line + 17, "%*d [%d] %*5c %lf: %63[a-z_]:", &cpu, &ts, event),
			      3);
		expect_true(cpu >= 0 && cpu < THREADS);
		expect_true(!strcmp(event, "mm_page_alloc") || !strcmp(event, "mm_page_free"));
		expect_true(ts >= last);
		expect_true(line[strlen(line) - 1] == '\n');
		last = ts;
		per_cpu[cpu]++;
		lines++;
	}
	fclose(out);
	expect_u64_eq(lines, pairs + got);
	for (int i = 0; i < THREADS; i++)
		expect_u64_eq(per_cpu[i], w[i].pairs + w[i].got);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_threads_share_one_trace);
	return kmm_test_done();
}
