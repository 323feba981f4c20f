/*
 * Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS) goes to swap and comes
 * back: tasks that share regions larger than the machine's RAM through
 * fork write and read them at random with swap on; every byte is checked
 * against one shadow per region (every task sees every write). Then: swap
 * writes that fail leave the pages in memory, dirty, nothing lost; a read
 * that fails kills only the task that faulted, with SIGBUS and the swap
 * layer's message; swapoff brings shmem pages back; and when the last task
 * goes, every slot is free again (exact swap_map and SwapFree figures).
 * Deterministic mode, both rmap designs; the checkers of every layer run
 * after every step.
 */
#include "../reclaim/reclaim_util.h"
#include "swap/swap.h"
#include <kmm/random.h>
#include <kmm/fault_inject.h>

#define MiB	  (1UL << 20)
#define MAX_TASKS 5
#define NREG	  2
#define NCPUS	  2
#define RW	  (KMM_PROT_READ | KMM_PROT_WRITE)

struct stask {
	struct kmm_task *t;
	int cpu;
	bool gone;
};

struct region {
	unsigned long addr; /* the same in every task: fork copies the layout */
	unsigned long pages;
	uint32_t *ver; /* per page: writes so far (0: never written, reads as zeros) */
};

struct world {
	struct kmm_machine *m;
	struct stask tasks[MAX_TASKS];
	int nr_tasks;
	struct region reg[NREG];
	uint64_t seed;
	char swap[96];
	struct kmm_rng rnd[NCPUS];
	unsigned long steps_left[NCPUS];
	int failed;
};

static void fill(uint64_t *w, uint64_t seed, int reg, unsigned long page, uint32_t ver)
{
	uint64_t x = seed ^ ((uint64_t)reg << 52) ^ ((uint64_t)page << 20) ^ ver;
	x *= 0x9e3779b97f4a7c15ULL;
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = x + i * 0xbf58476d1ce4e5b9ULL;
}

static int page_write(struct world *w, struct stask *st, int r, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	struct region *rg = &w->reg[r];
	fill(buf, w->seed, r, page, rg->ver[page] + 1);
	int ret = kmm_write(st->t, rg->addr + page * PAGE_SIZE, buf, PAGE_SIZE);
	if (ret)
		fprintf(stderr, "write of region %d page %lu failed: %d (%s)\n", r, page, ret,
			kmm_task_signal(st->t)->msg);
	else
		rg->ver[page]++;
	return ret;
}

static int page_check(struct world *w, struct stask *st, int r, unsigned long page)
{
	uint64_t got[PAGE_SIZE / 8], want[PAGE_SIZE / 8];
	struct region *rg = &w->reg[r];
	int ret = kmm_read(st->t, rg->addr + page * PAGE_SIZE, got, PAGE_SIZE);
	if (ret) {
		fprintf(stderr, "read of region %d page %lu failed: %d (%s)\n", r, page, ret,
			kmm_task_signal(st->t)->msg);
		return ret;
	}
	if (rg->ver[page])
		fill(want, w->seed, r, page, rg->ver[page]);
	else
		memset(want, 0, sizeof(want));
	if (memcmp(got, want, sizeof(got))) {
		fprintf(stderr, "region %d page %lu (v%u) differs from its shadow\n", r, page,
			rg->ver[page]);
		return -1;
	}
	return 0;
}

/*
 * Every byte of every region, read through the first task that is still
 * there; through the others (the same memory, their own page tables) every
 * 8th page, which keeps a check of regions larger than RAM from swapping
 * them all in once per task.
 */
static int world_check(struct world *w)
{
	unsigned long stride = 1;
	for (int i = 0; i < w->nr_tasks; i++) {
		if (w->tasks[i].gone)
			continue;
		for (int r = 0; r < NREG; r++)
			for (unsigned long p = 0; p < w->reg[r].pages; p += stride)
				if (page_check(w, &w->tasks[i], r, p))
					return -1;
		stride = 8;
	}
	return 0;
}

static int do_fork(struct world *w, int parent)
{
	struct kmm_error err = {0};
	struct stask *pt = &w->tasks[parent];
	struct kmm_task *c = kmm_task_fork(pt->t, (pt->cpu + 1) % NCPUS, &err);
	if (!c) {
		fprintf(stderr, "fork: %s\n", err.msg);
		return -1;
	}
	w->tasks[w->nr_tasks].t = c;
	w->tasks[w->nr_tasks].cpu = (pt->cpu + 1) % NCPUS;
	w->nr_tasks++;
	return 0;
}

/*
 * A machine of @mem_mib MiB with one swap area, and one task with two
 * shared anonymous regions of @reg_mib MiB each, written through.
 */
static struct world *world_setup(const char *rmap, unsigned long mem_mib, unsigned long reg_mib,
				 bool fill_all)
{
	struct world *w = calloc(1, sizeof(*w));
	char opts[400];
	w->seed = kmm_test_seed;
	snprintf(w->swap, sizeof(w->swap), "/tmp/kmm-shmem-%d-%llx.swap", getpid(),
		 (unsigned long long)w->seed);
	snprintf(opts, sizeof(opts), "--mem %luM --cpus %d --seed %llu --rmap %s --swap %s:128M",
		 mem_mib, NCPUS, (unsigned long long)w->seed, rmap, w->swap);
	w->m = vm_boot(opts);
	if (!w->m)
		return NULL;
	for (int c = 0; c < NCPUS; c++)
		kmm_rng_seed(&w->rnd[c], w->seed + (uint64_t)c * 7919);
	struct kmm_task *t = vm_task(w->m, "shmem", 0);
	if (!t)
		return NULL;
	w->tasks[0].t = t;
	w->nr_tasks = 1;
	for (int r = 0; r < NREG; r++) {
		struct region *rg = &w->reg[r];
		rg->pages = reg_mib * MiB / PAGE_SIZE;
		rg->ver = calloc(rg->pages, sizeof(*rg->ver));
		long a = kmm_mmap(t, 0, rg->pages * PAGE_SIZE, RW,
				  KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
		if (a < 0)
			return NULL;
		rg->addr = (unsigned long)a;
		for (unsigned long p = 0; fill_all && p < rg->pages; p++)
			if (page_write(w, &w->tasks[0], r, p))
				return NULL;
	}
	return w;
}

static void world_teardown(struct world *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nr_tasks; i++)
		if (!w->tasks[i].gone)
			kmm_task_reap(w->tasks[i].t);
	for (int r = 0; r < NREG; r++)
		free(w->reg[r].ver);
	if (w->m)
		kmm_machine_destroy(w->m);
	unlink(w->swap);
	free(w);
}

/* Reap every task; then no swap slot may be in use and no page of shared memory be left. */
static int exit_all(struct world *w)
{
	for (int i = 0; i < w->nr_tasks; i++)
		if (!w->tasks[i].gone) {
			kmm_task_reap(w->tasks[i].t);
			w->tasks[i].gone = true;
		}
	return 0;
}

/* One random access of CPU @cpu's tasks: half writes, half checked reads. */
static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct world *w = arg;
	if (w->failed || !w->steps_left[cpu])
		return false;
	w->steps_left[cpu]--;
	int mine[MAX_TASKS], n = 0;
	for (int i = 0; i < w->nr_tasks; i++)
		if (w->tasks[i].cpu == cpu && !w->tasks[i].gone)
			mine[n++] = i;
	if (!n)
		return false;
	struct stask *st = &w->tasks[mine[kmm_rng_below(&w->rnd[cpu], (uint64_t)n)]];
	int r = (int)kmm_rng_below(&w->rnd[cpu], NREG);
	unsigned long page = kmm_rng_below(&w->rnd[cpu], w->reg[r].pages);
	int ret = kmm_rng_below(&w->rnd[cpu], 100) < 50 ? page_write(w, st, r, page)
							: page_check(w, st, r, page);
	if (ret)
		w->failed = 1;
	return !ret;
}

static int run_steps(struct world *w, unsigned long steps)
{
	for (int c = 0; c < NCPUS; c++)
		w->steps_left[c] = steps;
	int r = kmm_run(w->m, KMM_RUN_DETERMINISTIC, step, w);
	kmm_task_switch_out(w->m);
	return r || w->failed ? -1 : 0;
}

static long swap_inuse(struct kmm_machine *m)
{
	struct kmm_swap_area_info info;
	if (kmm_swap_area_info(m, 0, &info))
		return -1;
	return (long)info.inuse_pages;
}

/* Every slot of area 0 but the header is free: swap_map is all zeros. */
static long swap_map_nonzero(struct kmm_machine *m)
{
	struct kmm_swap_area_info info;
	long n = 0;
	if (kmm_swap_area_info(m, 0, &info))
		return -1;
	for (unsigned long o = 1; o < info.max; o++)
		n += swap_map_value(m, swp_entry(0, o)) != 0;
	return n;
}

/* Every byte and every checker, then the last task goes and every slot is free again. */
static void check_and_finish(struct world *w)
{
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	expect_all_valid(w->m);
	exit_all(w);
	expect_all_valid(w->m);
	expect_i64_eq(swap_map_nonzero(w->m), 0);
	world_teardown(w);
}

/*
 * Two regions of 20 MiB in a 32 MiB machine, shared by up to five tasks
 * through fork; tasks fork and exit between rounds of random accesses.
 */
static void run_random(const char *rmap)
{
	struct world *w = world_setup(rmap, 32, 20, true);
	expect_ptr_not_null(w);
	if (!w)
		return;
	struct kmm_swap_totals t0, t1;
	kmm_swap_totals(w->m, &t0);
	expect_u64_eq(t0.total, 32767);	  /* 128 MiB less the header */
	expect_u64_lt(t0.free, t0.total); /* filling 40 MiB into 32 MiB swapped */
	struct kmm_rng ev;
	kmm_rng_seed(&ev, w->seed ^ 0x5348u);
	unsigned long rounds = 12 * kmm_test_scale;
	for (unsigned long round = 0; round < rounds; round++) {
		expect_int_eq(run_steps(w, 400), 0);
		int live = 0;
		for (int i = 0; i < w->nr_tasks; i++)
			live += !w->tasks[i].gone;
		uint64_t what = kmm_rng_below(&ev, 3);
		if (what == 0 && w->nr_tasks < MAX_TASKS) {
			int parent;
			do
				parent = (int)kmm_rng_below(&ev, (uint64_t)w->nr_tasks);
			while (w->tasks[parent].gone);
			expect_int_eq(do_fork(w, parent), 0);
		} else if (what == 1 && live > 1) {
			int victim;
			do
				victim = (int)kmm_rng_below(&ev, (uint64_t)w->nr_tasks);
			while (w->tasks[victim].gone);
			kmm_task_reap(w->tasks[victim].t);
			w->tasks[victim].gone = true;
		}
		expect_all_valid(w->m);
	}
	/* The regions are larger than RAM together: they went to swap and came back. */
	expect_i64_ge(vmstat(w->m, "pswpout"), 2000);
	expect_i64_ge(vmstat(w->m, "pswpin"), 500);
	expect_i64_ge(swap_inuse(w->m), 1);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "Unevictable"), 0);
	expect_i64_ge(reclaim_stat(w->m, "meminfo", "Shmem"), 1);
	expect_int_eq(world_check(w), 0);
	expect_all_valid(w->m);
	printf("%s: pswpout %ld pswpin %ld, %ld slots in use, Shmem %ld kB, SwapCached %ld kB\n",
	       rmap, vmstat(w->m, "pswpout"), vmstat(w->m, "pswpin"), swap_inuse(w->m),
	       reclaim_stat(w->m, "meminfo", "Shmem"), reclaim_stat(w->m, "meminfo", "SwapCached"));

	/* The last task goes: the regions are truncated, every slot freed. */
	exit_all(w);
	expect_all_valid(w->m);
	kmm_swap_totals(w->m, &t1);
	expect_u64_eq(t1.free, t0.total);
	expect_u64_eq(t1.cached, 0);
	expect_i64_eq(swap_inuse(w->m), 0);
	expect_i64_eq(swap_map_nonzero(w->m), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "Shmem"), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapFree"),
		      reclaim_stat(w->m, "meminfo", "SwapTotal"));
	world_teardown(w);
}

static void test_random_objrmap(void)
{
	run_random("objrmap");
}

/*
 * Pte chains in simulated RAM, as objrmap's objects are: five tasks
 * sharing 40 MiB of shmem in 32 MiB need chain blocks at most faults.
 * Before faults preallocated them with GFP_KERNEL ahead of the PTE lock
 * (docs/rmap.md, "Design 1"), they came from the atomic reserves that
 * reclaim's swap-cache insertions need, and on some seeds (15704723153)
 * reclaim could not move a page to swap and the OOM killer fired with
 * swap free.
 */
static void test_random_ptechain(void)
{
	run_random("ptechain");
}

/* Reclaim until @want pages of shared memory are out (or it cannot): how many went. */
static long push_out(struct world *w, unsigned long want)
{
	long before = reclaim_stat(w->m, "meminfo", "Shmem");
	kmm_reclaim_pages(w->m, want);
	return (before - reclaim_stat(w->m, "meminfo", "Shmem")) / 4;
}

/*
 * Swap writes fail: the pages stay in memory (dirty, in the swap cache or
 * the mapping), nothing is lost; once writes work again they go out.
 */
static void run_write_errors(const char *rmap)
{
	struct world *w = world_setup(rmap, 64, 4, true); /* 8 MiB written, fits in RAM */
	expect_ptr_not_null(w);
	if (!w)
		return;
	expect_int_eq(do_fork(w, 0), 0);
	struct kmm_error err = {0};
	struct kmm_fault_attr *fail = kmm_swap_fail_write(w->m);
	expect_int_eq(kmm_fault_attr_parse(fail, "probability=100", &err), 0);
	long shmem0 = reclaim_stat(w->m, "meminfo", "Shmem");
	expect_i64_eq(shmem0, 8 * 1024);
	push_out(w, 2048);
	struct kmm_swap_totals t;
	kmm_swap_totals(w->m, &t);
	expect_u64_ge(t.write_errors, 1);
	expect_i64_eq(vmstat(w->m, "pswpout"), 0);
	/* The pages that failed wait dirty in the swap cache; their slots hold the entries. */
	expect_u64_eq(reclaim_stat(w->m, "meminfo", "Shmem") / 4 + t.cached, 2048);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0); /* through both tasks: every page back in the mapping */
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "Shmem"), shmem0);
	expect_all_valid(w->m);

	/* Writes work again: the same pages go out and come back whole. */
	fail->enabled = false;
	long out = push_out(w, 2048);
	expect_i64_ge(out, 1024);
	expect_i64_ge(vmstat(w->m, "pswpout"), out);
	check_and_finish(w);
}

static void test_write_errors(void)
{
	run_write_errors("objrmap");
	if (!kmm_test_case_failed)
		run_write_errors("ptechain");
}

/*
 * A read from swap fails: the task that faulted gets SIGBUS with the swap
 * layer's message; its sibling sharing the region is untouched and reads
 * every page once reads work again.
 */
static void run_read_errors(const char *rmap)
{
	struct world *w = world_setup(rmap, 64, 4, true);
	expect_ptr_not_null(w);
	if (!w)
		return;
	expect_int_eq(do_fork(w, 0), 0);
	expect_i64_ge(push_out(w, 2048), 1024);
	expect_all_valid(w->m);
	/* A page that is out: its mapping slot holds a swap entry. */
	unsigned long victim = ~0UL;
	struct kmm_address_space *mapping = NULL;
	struct kmm_vma *vma = w->tasks[1].t->mm->mmap;
	for (; vma; vma = vma->vm_next)
		if (vma->vm_start == w->reg[0].addr)
			mapping = vma_mapping(vma);
	expect_ptr_not_null(mapping);
	for (unsigned long p = 0; p < w->reg[0].pages && victim == ~0UL; p++)
		if (xa_is_value(radix_tree_lookup(&mapping->i_pages, p)))
			victim = p;
	expect_u64_ne(victim, ~0UL);

	struct kmm_error err = {0};
	struct kmm_fault_attr *fail = kmm_swap_fail_read(w->m);
	expect_int_eq(kmm_fault_attr_parse(fail, "probability=100", &err), 0);
	uint64_t buf[PAGE_SIZE / 8];
	int r = kmm_read(w->tasks[1].t, w->reg[0].addr + victim * PAGE_SIZE, buf, PAGE_SIZE);
	expect_int_ne(r, 0);
	const struct kmm_task_signal *sig = kmm_task_signal(w->tasks[1].t);
	expect_int_eq(sig->signo, KMM_SIGBUS);
	expect_str_contains(sig->msg, "swap-in failed");
	fail->enabled = false;
	kmm_task_reap(w->tasks[1].t);
	w->tasks[1].gone = true;
	/* The entry is still there, its slot still holds the data. */
	expect_true(xa_is_value(radix_tree_lookup(&mapping->i_pages, victim)));
	check_and_finish(w);
}

static void test_read_errors(void)
{
	run_read_errors("objrmap");
	if (!kmm_test_case_failed)
		run_read_errors("ptechain");
}

/* swapoff with shared memory in swap: every page comes back, and the area goes. */
static void run_swapoff(const char *rmap)
{
	struct world *w = world_setup(rmap, 64, 4, true);
	expect_ptr_not_null(w);
	if (!w)
		return;
	expect_int_eq(do_fork(w, 0), 0);
	long out = push_out(w, 2048);
	expect_i64_ge(out, 1024);
	long inuse = swap_inuse(w->m);
	expect_i64_ge(inuse, out);
	expect_all_valid(w->m);
	long pswpin0 = vmstat(w->m, "pswpin");
	struct kmm_error err = {0};
	expect_int_eq(kmm_swapoff(w->m, w->swap, &err), 0);
	if (err.msg[0])
		fprintf(stderr, "swapoff: %s\n", err.msg);
	expect_i64_ge(vmstat(w->m, "pswpin") - pswpin0, inuse);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "Shmem"), 8 * 1024);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapTotal"), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapCached"), 0);
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	expect_all_valid(w->m);
	world_teardown(w);
}

static void test_swapoff(void)
{
	run_swapoff("objrmap");
	if (!kmm_test_case_failed)
		run_swapoff("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_random_objrmap);
	run_test(test_random_ptechain);
	run_test(test_write_errors);
	run_test(test_read_errors);
	run_test(test_swapoff);
	return kmm_test_done();
}
