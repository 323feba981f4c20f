/*
 * swapoff with pages in use: tasks (with fork and copy-on-write) touch more
 * than the machine's RAM with two swap areas on; then one area goes off
 * while the other stays, swapoff with injected read errors fails and loses
 * nothing, and finally, once the tasks fit in RAM, every area goes off.
 * After each step every checker runs and every byte of every task is read
 * back against a shadow of what was written. Under both rmap designs, and
 * with the tasks running on their CPUs in concurrent mode while swapoff
 * works.
 *
 * KMM_TEST_CONCURRENT
 */
#include "../reclaim/reclaim_util.h"
#include <kmm/random.h>
#include <kmm/fault_inject.h>
#include <pthread.h>
#include <sched.h>

#define MiB	  (1UL << 20)
#define MAX_TASKS 6
#define NCPUS	  2
#define RW	  (KMM_PROT_READ | KMM_PROT_WRITE)

struct stask {
	struct kmm_task *t;
	int id;
	int cpu;
	bool gone;
	unsigned long addr;
	uint32_t *ver;	/* per page; 0: never written */
	uint32_t *base; /* whose pattern the page holds (a fork child inherits its parent's) */
};

struct sworld {
	struct kmm_machine *m;
	struct stask tasks[MAX_TASKS];
	int nr_tasks, next_id;
	unsigned long pages; /* per task */
	uint64_t seed;
	char swap[2][96];
	struct kmm_rng rnd[NCPUS];
	unsigned long steps_left[NCPUS];
	int failed;
};

static void fill(uint64_t *w, uint64_t seed, unsigned int owner, unsigned long page, uint32_t ver)
{
	uint64_t x = seed ^ ((uint64_t)owner << 48) ^ ((uint64_t)page << 20) ^ ver;
	x *= 0x9e3779b97f4a7c15ULL;
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = x + i * 0xbf58476d1ce4e5b9ULL;
}

static int task_write(struct sworld *w, struct stask *st, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	st->ver[page]++;
	st->base[page] = (uint32_t)st->id;
	fill(buf, w->seed, st->id, page, st->ver[page]);
	int r = kmm_write(st->t, st->addr + page * PAGE_SIZE, buf, PAGE_SIZE);
	if (r)
		fprintf(stderr, "task %d: write of page %lu failed: %d (%s)\n", st->id, page, r,
			kmm_task_signal(st->t)->msg);
	return r;
}

static int task_check(struct sworld *w, struct stask *st, unsigned long page)
{
	uint64_t got[PAGE_SIZE / 8], want[PAGE_SIZE / 8];
	int r = kmm_read(st->t, st->addr + page * PAGE_SIZE, got, PAGE_SIZE);
	if (r) {
		fprintf(stderr, "task %d: read of page %lu failed: %d (%s)\n", st->id, page, r,
			kmm_task_signal(st->t)->msg);
		return r;
	}
	if (st->ver[page])
		fill(want, w->seed, st->base[page], page, st->ver[page]);
	else
		memset(want, 0, sizeof(want));
	if (memcmp(got, want, sizeof(got))) {
		fprintf(stderr, "task %d page %lu differs from its shadow (owner %u v%u)\n", st->id,
			page, st->base[page], st->ver[page]);
		return -1;
	}
	return 0;
}

/* Every byte of every task that is still there. */
static int world_check(struct sworld *w)
{
	for (int i = 0; i < w->nr_tasks; i++)
		for (unsigned long p = 0; p < w->pages && !w->tasks[i].gone; p++)
			if (task_check(w, &w->tasks[i], p))
				return -1;
	return 0;
}

static struct stask *add_task(struct sworld *w, struct kmm_task *t, int cpu)
{
	struct stask *st = &w->tasks[w->nr_tasks];
	st->t = t;
	st->id = ++w->next_id;
	st->cpu = cpu;
	st->ver = calloc(w->pages, sizeof(*st->ver));
	st->base = calloc(w->pages, sizeof(*st->base));
	return st;
}

static int do_fork(struct sworld *w, struct stask *parent)
{
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(parent->t, parent->cpu, &err);
	if (!c) {
		fprintf(stderr, "fork: %s\n", err.msg);
		return -1;
	}
	struct stask *st = add_task(w, c, parent->cpu);
	st->addr = parent->addr;
	memcpy(st->ver, parent->ver, w->pages * sizeof(*st->ver));
	memcpy(st->base, parent->base, w->pages * sizeof(*st->base));
	__atomic_store_n(&w->nr_tasks, w->nr_tasks + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Two areas of equal priority (slots alternate between them), @tasks tasks of @mib MiB. */
static struct sworld *world_setup(const char *rmap, int tasks, unsigned long mib)
{
	struct sworld *w = calloc(1, sizeof(*w));
	w->seed = kmm_test_seed;
	w->m = reclaim_boot_two_swap_areas(w->swap[0], w->swap[1], sizeof(w->swap[0]), "swapoff",
					   w->seed, "32M", NCPUS, rmap, "64M");
	if (!w->m)
		return NULL;
	w->pages = mib * MiB / PAGE_SIZE;
	for (int c = 0; c < NCPUS; c++)
		kmm_rng_seed(&w->rnd[c], w->seed + (uint64_t)c * 7919);
	for (int i = 0; i < tasks; i++) {
		struct kmm_task *t = vm_task(w->m, "swapoff", i % NCPUS);
		if (!t)
			return NULL;
		struct stask *st = add_task(w, t, i % NCPUS);
		w->nr_tasks++;
		long a = kmm_mmap(t, 0, w->pages * PAGE_SIZE, RW,
				  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		if (a < 0)
			return NULL;
		st->addr = (unsigned long)a;
		for (unsigned long p = 0; p < w->pages; p++)
			if (task_write(w, st, p))
				return NULL;
	}
	/* A child of the first task shares its pages, swapped or not, until either writes. */
	if (do_fork(w, &w->tasks[0]))
		return NULL;
	return w;
}

static void world_teardown(struct sworld *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nr_tasks; i++) {
		if (!w->tasks[i].gone)
			kmm_task_reap(w->tasks[i].t);
		free(w->tasks[i].ver);
		free(w->tasks[i].base);
	}
	if (w->m)
		kmm_machine_destroy(w->m);
	for (int a = 0; a < 2; a++)
		unlink(w->swap[a]);
	free(w);
}

/* One random access of CPU @cpu's tasks: writes (COW after the fork) and checked reads. */
static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct sworld *w = arg;
	if (__atomic_load_n(&w->failed, __ATOMIC_RELAXED) || !w->steps_left[cpu])
		return false;
	w->steps_left[cpu]--;
	struct stask *mine[MAX_TASKS];
	int n = 0, nr = __atomic_load_n(&w->nr_tasks, __ATOMIC_ACQUIRE);
	for (int i = 0; i < nr; i++)
		if (w->tasks[i].cpu == cpu && !w->tasks[i].gone)
			mine[n++] = &w->tasks[i];
	if (!n)
		return false;
	struct stask *st = mine[kmm_rng_below(&w->rnd[cpu], (uint64_t)n)];
	unsigned long page = kmm_rng_below(&w->rnd[cpu], w->pages);
	int r = kmm_rng_below(&w->rnd[cpu], 100) < 50 ? task_write(w, st, page)
						      : task_check(w, st, page);
	if (r)
		__atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
	return !r;
}

static int run_steps(struct sworld *w, unsigned long steps)
{
	for (int c = 0; c < NCPUS; c++)
		w->steps_left[c] = steps;
	int r = kmm_run(w->m, KMM_RUN_DETERMINISTIC, step, w);
	kmm_task_switch_out(w->m);
	return r || w->failed ? -1 : 0;
}

static long area_type(struct kmm_machine *m, const char *path)
{
	for (int type = 0; type < MAX_SWAPFILES; type++) {
		struct kmm_swap_area_info info;
		if (!kmm_swap_area_info(m, type, &info) && !strcmp(info.path, path))
			return type;
	}
	return -1;
}

static void run_swapoff(const char *rmap)
{
	struct kmm_error err = {0};
	struct kmm_swap_totals t0, t1;
	/* 4 tasks of 10 MiB and a fork child: 40+ MiB in a 32 MiB machine. */
	struct sworld *w = world_setup(rmap, 4, 10);
	expect_ptr_not_null(w);
	if (!w)
		return;
	expect_int_eq(run_steps(w, 2000 * kmm_test_scale), 0);
	expect_all_valid(w->m);
	expect_i64_ge(vmstat(w->m, "pswpout"), 2000);

	/* 1. Area 0 goes off; area 1 stays and takes what memory cannot hold. */
	long type0 = area_type(w->m, w->swap[0]);
	expect_i64_ge(type0, 0);
	struct kmm_swap_area_info info0;
	expect_int_eq(kmm_swap_area_info(w->m, (int)type0, &info0), 0);
	expect_u64_ge(info0.inuse_pages, 100);
	kmm_swap_totals(w->m, &t0);
	long anon_before = reclaim_stat(w->m, "meminfo", "AnonPages");
	expect_int_eq(kmm_swapoff(w->m, w->swap[0], &err), 0);
	if (err.msg[0])
		fprintf(stderr, "swapoff: %s\n", err.msg);
	kmm_swap_totals(w->m, &t1);
	expect_u64_eq(t1.total, t0.total - info0.pages);
	expect_int_eq(area_type(w->m, w->swap[0]), -1);
	struct kmm_swap_area_info info1;
	expect_int_eq(kmm_swap_area_info(w->m, (int)area_type(w->m, w->swap[1]), &info1), 0);
	expect_u64_eq(t1.total, info1.pages);
	expect_u64_eq(t1.free, info1.pages - info1.inuse_pages);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	printf("%s: swapoff of %lu slots in use (area 1 keeps %lu); AnonPages %ld -> %ld kB\n",
	       rmap, info0.inuse_pages, info1.inuse_pages, anon_before,
	       reclaim_stat(w->m, "meminfo", "AnonPages"));

	/* 2. More work, now with area 1 only; then swapoff with every read failing. */
	expect_int_eq(run_steps(w, 1000 * kmm_test_scale), 0);
	expect_all_valid(w->m);
	expect_int_eq(kmm_swap_area_info(w->m, (int)area_type(w->m, w->swap[1]), &info1), 0);
	expect_u64_ge(info1.inuse_pages, 100);
	struct kmm_fault_attr *fail = kmm_swap_fail_read(w->m);
	expect_int_eq(kmm_fault_attr_parse(fail, "probability=100", &err), 0);
	kmm_swap_totals(w->m, &t0);
	expect_int_eq(kmm_swapoff(w->m, w->swap[1], &err), -EIO);
	expect_str_contains(err.msg, "bringing pages back failed");
	expect_str_contains(err.msg, w->swap[1]);
	fail->enabled = false;
	expect_i64_ge(area_type(w->m, w->swap[1]), 0);
	kmm_swap_totals(w->m, &t1);
	expect_u64_eq(t1.total, t0.total);
	expect_int_eq(kmm_swap_area_info(w->m, (int)area_type(w->m, w->swap[1]), &info1), 0);
	expect_true(info1.active);
	expect_u64_ge(info1.read_errors, 1);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);

	/* 3. Two tasks exit: the rest fit in memory, and the last area goes off too. */
	for (int i = 1; i <= 2; i++) {
		kmm_task_reap(w->tasks[i].t);
		w->tasks[i].gone = true;
	}
	expect_all_valid(w->m);
	memset(&err, 0, sizeof(err));
	expect_int_eq(kmm_swapoff(w->m, w->swap[1], &err), 0);
	if (err.msg[0])
		fprintf(stderr, "swapoff: %s\n", err.msg);
	kmm_swap_totals(w->m, &t1);
	expect_u64_eq(t1.total, 0);
	expect_u64_eq(t1.free, 0);
	expect_u64_eq(t1.cached, 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapTotal"), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapCached"), 0);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	/* No swap PTE is left: every task's swap count is 0. */
	for (int i = 0; i < w->nr_tasks; i++)
		if (!w->tasks[i].gone)
			expect_i64_eq(get_mm_counter(w->tasks[i].t->mm, MM_SWAPENTS), 0);
	/* And the tasks go on working without swap. */
	expect_int_eq(run_steps(w, 300), 0);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	world_teardown(w);
}

static void test_swapoff_objrmap(void)
{
	run_swapoff("objrmap");
}

static void test_swapoff_ptechain(void)
{
	run_swapoff("ptechain");
}

/* Concurrent mode: the tasks keep running on their CPUs while an area goes off. */
struct conc_arg {
	struct sworld *w;
	int ret;
	struct kmm_error err;
	pthread_t th;
	bool started;
	bool done; /* swapoff returned: CPU 0 may stop (the machine's threads stop with it) */
};

static void *swapoff_thread(void *arg)
{
	struct conc_arg *a = arg;
	a->ret = kmm_swapoff(a->w->m, a->w->swap[0], &a->err);
	__atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * CPU 0's first step starts swapoff on a thread of its own: the machine's
 * threads (kswapd) are up by then, and the CPUs go on with their steps;
 * CPU 0 keeps the run up until swapoff has returned.
 */
static bool conc_step(struct kmm_machine *m, int cpu, void *arg)
{
	struct conc_arg *a = arg;
	if (cpu == 0 && !a->started) {
		a->started = true;
		if (pthread_create(&a->th, NULL, swapoff_thread, a)) {
			a->started = false;
			a->ret = -1;
			return false;
		}
	}
	bool more = step(m, cpu, a->w);
	if (cpu == 0 && !more && !__atomic_load_n(&a->w->failed, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) {
		sched_yield();
		return true; /* out of steps: wait for swapoff while the run is up */
	}
	return more;
}

static void run_concurrent(const char *rmap)
{
	struct sworld *w = world_setup(rmap, 4, 8);
	expect_ptr_not_null(w);
	if (!w)
		return;
	expect_all_valid(w->m);
	struct conc_arg a = {.w = w};
	for (int c = 0; c < NCPUS; c++)
		w->steps_left[c] = 3000 * kmm_test_scale;
	kmm_task_switch_out(w->m);
	expect_int_eq(kmm_run(w->m, KMM_RUN_CONCURRENT, conc_step, &a), 0);
	expect_true(a.started);
	if (a.started)
		pthread_join(a.th, NULL);
	kmm_task_switch_out(w->m);
	expect_int_eq(w->failed, 0);
	if (a.ret)
		fprintf(stderr, "swapoff: %s\n", a.err.msg);
	expect_int_eq(a.ret, 0);
	expect_int_eq(area_type(w->m, w->swap[0]), -1);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	world_teardown(w);
}

static void test_swapoff_concurrent(void)
{
	run_concurrent("objrmap");
	if (!kmm_test_case_failed)
		run_concurrent("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_swapoff_objrmap);
	run_test(test_swapoff_ptechain);
	run_test(test_swapoff_concurrent);
	return kmm_test_done();
}
