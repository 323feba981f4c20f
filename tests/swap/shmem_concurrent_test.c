/*
 * Shared anonymous memory and swap with every CPU running at once
 * (concurrent mode: one host thread per simulated CPU, kswapd a thread of
 * its own). Five tasks on two CPUs share two regions through fork, larger
 * than the machine's RAM together, and write and check pages of them at
 * random while:
 *  - kswapd and direct reclaim send shmem pages to swap and the tasks'
 *    faults bring them back;
 *  - the tasks drop their PTEs of random ranges (MADV_DONTNEED), so the
 *    next access faults the page in from the page cache or from swap;
 *  - a churn task on CPU 1 makes short-lived regions again and again: maps
 *    one, fills it, sends it to swap (MADV_PAGEOUT), forks a child onto
 *    CPU 0 that reads it (and the long-lived regions it inherits), unmaps
 *    half of it, then both unmap it at once on their two CPUs, so that the
 *    last unmap truncates the region (freeing its swap entries) while
 *    reclaim and swapoff work on it; the child's exit unmaps its share of
 *    the long-lived regions meanwhile;
 *  - a host thread switches the two swap areas off and on again in turn
 *    (swapoff brings every shmem page of an area back through shmem_unuse
 *    while the tasks fault the same pages);
 *  - swap reads go through the I/O thread (kmm_swap_io_start), so pages
 *    stay locked under reads while the others fault, reclaim and swap off;
 *    the ptechain case also reads windows ahead of the faults.
 * A task that writes a page of a long-lived region has it to itself: a
 * flag per page, taken with a compare-and-swap (readers share it; an
 * access that finds it taken the other way is skipped), orders the tasks'
 * accesses as a user-space lock would, so the shadow of versions stays
 * exact. Between rounds every checker runs; at the end every
 * byte of every region is read through every task, and after the tasks
 * exit no slot is in use (SwapFree == SwapTotal, swap_map all zeros). Both
 * rmap designs.
 *
 * A stress run for races that show once in many runs: KMM_SHMEMCONC_ROUNDS
 * and KMM_SHMEMCONC_SWITCHES (the swap area switches per round) raise the
 * CI size (3 rounds of 2 switches), e.g. 20 rounds of 30 with --scale 2.
 *
 * KMM_TEST_CONCURRENT
 */
#include "../reclaim/reclaim_util.h"
#include "swap/swap.h"
#include <kmm/random.h>
#include <pthread.h>
#include <sched.h>

#define MiB	    (1UL << 20)
#define NCPUS	    2
#define NTASKS	    4 /* two per CPU, all sharing both regions */
#define NREG	    2
#define REG_MIB	    10 /* two of them in a 16 MiB machine */
#define EPH_PAGES   256UL
#define OWNER_HALF  12 /* the owner's reads of a short-lived region before its half unmap */
#define CHILD_READS 8  /* the child's reads of it before the owner unmaps the rest */
#define NAREAS	    2
#define HOT_PAGES   8 /* the window of pages both CPUs access for a while */
#define RW	    (KMM_PROT_READ | KMM_PROT_WRITE)
/* Sanitizers slow every access several times: fewer random steps there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STEPS 2500
#else
#define STEPS 8000
#endif
#define ROUNDS	 3 /* unless KMM_SHMEMCONC_ROUNDS says otherwise */
#define SWITCHES 2 /* per round, unless KMM_SHMEMCONC_SWITCHES says otherwise */
#define LIVES	 8 /* short-lived regions per round, at least */

struct region {
	unsigned long addr; /* the same in every task: fork copies the layout */
	unsigned long pages;
	uint32_t *ver;	     /* per page: writes so far (0: never written, reads as zeros) */
	unsigned char *busy; /* per page: a task on some CPU is accessing it */
};

/*
 * The short-lived region's life, driven by CPU 1 (its owner task) and CPU 0
 * (the child that shares it): EPH_NONE -> (CPU 1 maps, fills, pages out,
 * forks) EPH_SHARED -> (CPU 1) EPH_UNMAP -> (CPU 0 unmapped and reaped
 * the child) EPH_CHILD_GONE -> (CPU 1) EPH_NONE.
 */
enum eph_state {
	EPH_NONE,
	EPH_SHARED,
	EPH_UNMAP,
	EPH_CHILD_GONE
};

struct ephemeral {
	struct kmm_task *owner; /* on CPU 1 */
	struct kmm_task *child; /* on CPU 0 while the region is shared */
	int state;		/* enum eph_state; release/acquire between the CPUs */
	unsigned long addr;
	unsigned long gen;	  /* which life: the pattern's seed */
	unsigned long lo;	  /* the owner's mapping starts here after its half unmap */
	unsigned long steps;	  /* CPU 1's steps in this life */
	unsigned long life_reads; /* atomic: the child's reads in this life */
	unsigned long lives, child_reads;
};

struct world {
	struct kmm_machine *m;
	struct kmm_task *tasks[NTASKS]; /* task i runs on CPU i % NCPUS */
	struct region reg[NREG];
	struct ephemeral eph;
	uint64_t seed;
	char swap[NAREAS][64];
	struct kmm_rng rnd[NCPUS];
	unsigned long steps_left[NCPUS];
	unsigned long skipped[NCPUS], dontneed[NCPUS];
	unsigned long progress; /* steps taken by both CPUs (atomic) */
	unsigned long hot;	/* atomic: the shared window, region + NREG * first page */
	int failed;		/* atomic */
};

static void fail(struct world *w)
{
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
}

static bool failed(struct world *w)
{
	return __atomic_load_n(&w->failed, __ATOMIC_RELAXED);
}

static void fill(uint64_t *buf, uint64_t seed, unsigned long reg, unsigned long page, uint32_t ver)
{
	uint64_t x = seed ^ ((uint64_t)reg << 52) ^ ((uint64_t)page << 20) ^ ver;
	x *= 0x9e3779b97f4a7c15ULL;
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		buf[i] = x + i * 0xbf58476d1ce4e5b9ULL;
}

/* Read page @page at @addr through @t and compare it with fill(@reg, @page, @ver). */
static int check_page(struct world *w, struct kmm_task *t, unsigned long addr, unsigned long reg,
		      unsigned long page, uint32_t ver)
{
	uint64_t got[PAGE_SIZE / 8], want[PAGE_SIZE / 8];
	int r = kmm_read(t, addr, got, PAGE_SIZE);
	if (r) {
		fprintf(stderr, "task %d: read of region %lu page %lu failed: %d (%s)\n",
			kmm_task_pid(t), reg, page, r, kmm_task_signal(t)->msg);
		return r;
	}
	if (ver)
		fill(want, w->seed, reg, page, ver);
	else
		memset(want, 0, sizeof(want));
	if (memcmp(got, want, sizeof(got))) {
		unsigned int i = 0;
		while (got[i] == want[i])
			i++;
		fprintf(stderr,
			"task %d: region %lu page %lu (v%u) differs from its shadow at byte %u: "
			"%#llx, want %#llx\n",
			kmm_task_pid(t), reg, page, ver, i * 8, (unsigned long long)got[i],
			(unsigned long long)want[i]);
		return -1;
	}
	return 0;
}

/* --- The long-lived regions ----------------------------------------------------------- */

/*
 * A page's flag as a user-space reader/writer lock that never waits: a
 * writer takes it free, readers share it (two CPUs may fault one page in
 * at once). False when it is taken the other way.
 */
#define PAGE_WRITER 0xff

static bool page_trylock(struct region *rg, unsigned long page, bool write)
{
	unsigned char v = write ? 0 : __atomic_load_n(&rg->busy[page], __ATOMIC_RELAXED);
	do {
		if (v >= PAGE_WRITER - 1)
			return false;
	} while (!__atomic_compare_exchange_n(&rg->busy[page], &v, write ? PAGE_WRITER : v + 1,
					      false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) &&
		 !write);
	return !write || v == 0;
}

static void page_unlock(struct region *rg, unsigned long page, bool write)
{
	if (write)
		__atomic_store_n(&rg->busy[page], 0, __ATOMIC_RELEASE);
	else
		__atomic_fetch_sub(&rg->busy[page], 1, __ATOMIC_RELEASE);
}

static int page_write(struct world *w, struct kmm_task *t, int r, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	struct region *rg = &w->reg[r];
	fill(buf, w->seed, (unsigned long)r, page, rg->ver[page] + 1);
	int ret = kmm_write(t, rg->addr + page * PAGE_SIZE, buf, PAGE_SIZE);
	if (ret)
		fprintf(stderr, "task %d: write of region %d page %lu failed: %d (%s)\n",
			kmm_task_pid(t), r, page, ret, kmm_task_signal(t)->msg);
	else
		rg->ver[page]++;
	return ret;
}

/* One access of a random page of a random region through @t, on CPU @cpu. */
static int region_step(struct world *w, int cpu, struct kmm_task *t, struct kmm_rng *rnd)
{
	int r = (int)kmm_rng_below(rnd, NREG);
	struct region *rg = &w->reg[r];
	uint64_t op = kmm_rng_below(rnd, 100);
	if (op < 4) {
		/* Drop this task's PTEs of a few pages: the data stays in the region. */
		unsigned long n = 1 + kmm_rng_below(rnd, 32);
		unsigned long first = kmm_rng_below(rnd, rg->pages - n);
		w->dontneed[cpu]++;
		int ret =
		    kmm_madvise(t, rg->addr + first * PAGE_SIZE, n * PAGE_SIZE, KMM_MADV_DONTNEED);
		if (ret)
			fprintf(stderr, "task %d: MADV_DONTNEED failed: %d\n", kmm_task_pid(t),
				ret);
		return ret;
	}
	/*
	 * Half the accesses go to a window of a few pages that both CPUs use
	 * for a while, so that they often fault on one page at once.
	 */
	unsigned long page, hot = __atomic_load_n(&w->hot, __ATOMIC_RELAXED);
	if (kmm_rng_below(rnd, 64) == 0) {
		hot = kmm_rng_below(rnd, NREG * (w->reg[0].pages - HOT_PAGES));
		__atomic_store_n(&w->hot, hot, __ATOMIC_RELAXED);
	}
	if (kmm_rng_below(rnd, 2)) {
		r = (int)(hot % NREG);
		rg = &w->reg[r];
		page = hot / NREG + kmm_rng_below(rnd, HOT_PAGES);
	} else {
		page = kmm_rng_below(rnd, rg->pages);
	}
	bool write = op < 52;
	if (!page_trylock(rg, page, write)) {
		w->skipped[cpu]++;
		return 0;
	}
	int ret = write ? page_write(w, t, r, page)
			: check_page(w, t, rg->addr + page * PAGE_SIZE, (unsigned long)r, page,
				     rg->ver[page]);
	page_unlock(rg, page, write);
	return ret;
}

/* --- The short-lived region ----------------------------------------------------------- */

/* Its pages hold fill(region NREG + gen, page, 1): one version, written before the fork. */
static int eph_check(struct world *w, struct kmm_task *t, unsigned long page)
{
	struct ephemeral *e = &w->eph;
	return check_page(w, t, e->addr + page * PAGE_SIZE, NREG + e->gen, page, 1);
}

/* CPU 1: a new region, filled and sent to swap, then shared with a child on CPU 0. */
static int eph_start(struct world *w)
{
	struct ephemeral *e = &w->eph;
	struct kmm_error err = {0};
	uint64_t buf[PAGE_SIZE / 8];
	e->gen++;
	long a = kmm_mmap(e->owner, 0, EPH_PAGES * PAGE_SIZE, RW,
			  KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0) {
		fprintf(stderr, "churn: mmap failed: %ld\n", a);
		return -1;
	}
	e->addr = (unsigned long)a;
	e->lo = 0;
	e->steps = 0;
	e->life_reads = 0;
	for (unsigned long p = 0; p < EPH_PAGES; p++) {
		fill(buf, w->seed, NREG + e->gen, p, 1);
		if (kmm_write(e->owner, e->addr + p * PAGE_SIZE, buf, PAGE_SIZE)) {
			fprintf(stderr, "churn: write of page %lu failed (%s)\n", p,
				kmm_task_signal(e->owner)->msg);
			return -1;
		}
	}
	/* Only the owner maps the pages yet: MADV_PAGEOUT sends them to swap now. */
	int r = kmm_madvise(e->owner, e->addr, EPH_PAGES * PAGE_SIZE, KMM_MADV_PAGEOUT);
	if (r) {
		fprintf(stderr, "churn: MADV_PAGEOUT failed: %d\n", r);
		return -1;
	}
	e->child = kmm_task_fork(e->owner, 0, &err);
	if (!e->child) {
		fprintf(stderr, "churn: fork: %s\n", err.msg);
		return -1;
	}
	__atomic_store_n(&e->state, EPH_SHARED, __ATOMIC_RELEASE);
	return 0;
}

/* What a churn step returns when it had nothing to do but wait for the other CPU. */
#define EPH_WAIT 1

/* CPU 1's part of the churn: one step of the owner (0, EPH_WAIT, or -1 on a failure). */
static int eph_owner_step(struct world *w, struct kmm_rng *rnd)
{
	struct ephemeral *e = &w->eph;
	switch (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE)) {
	case EPH_NONE:
		return eph_start(w);
	case EPH_SHARED:
		e->steps++;
		if (e->steps == OWNER_HALF) {
			/* The first half goes from the owner only: its PTEs, not the pages. */
			e->lo = EPH_PAGES / 2;
			int r = kmm_munmap(e->owner, e->addr, e->lo * PAGE_SIZE);
			if (r) {
				fprintf(stderr, "churn: munmap of half failed: %d\n", r);
				return -1;
			}
		}
		/* Until the child has read a few pages of it too. */
		if (e->steps < 2 * OWNER_HALF)
			return eph_check(w, e->owner,
					 e->lo + kmm_rng_below(rnd, EPH_PAGES - e->lo));
		if (__atomic_load_n(&e->life_reads, __ATOMIC_RELAXED) < CHILD_READS)
			return EPH_WAIT;
		/* The owner unmaps the rest while the child unmaps on CPU 0: the last truncates. */
		__atomic_store_n(&e->state, EPH_UNMAP, __ATOMIC_RELEASE);
		int r = kmm_munmap(e->owner, e->addr + e->lo * PAGE_SIZE,
				   (EPH_PAGES - e->lo) * PAGE_SIZE);
		if (r)
			fprintf(stderr, "churn: munmap failed: %d\n", r);
		return r;
	case EPH_UNMAP:
		return EPH_WAIT; /* the child has not gone yet */
	case EPH_CHILD_GONE:
		e->lives++;
		__atomic_store_n(&e->state, EPH_NONE, __ATOMIC_RELAXED);
		return 0;
	}
	return -1;
}

/*
 * Is it the child's turn on CPU 0? Always while the owner waits for it (to
 * read its first pages, or to unmap and go), else one step in eight: the
 * region's lives then follow CPU 1's pace, however fast the CPUs run.
 */
static bool eph_child_due(struct world *w, struct kmm_rng *rnd)
{
	struct ephemeral *e = &w->eph;
	int state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
	if (state == EPH_UNMAP || (state == EPH_SHARED && e->life_reads < CHILD_READS))
		return true;
	return kmm_rng_below(rnd, 8) == 0;
}

/* CPU 0's part: the child reads the region until told to go, then unmaps it and exits. */
static int eph_child_step(struct world *w, struct kmm_rng *rnd)
{
	struct ephemeral *e = &w->eph;
	int state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
	if (state == EPH_SHARED && kmm_rng_below(rnd, 2)) {
		/* It inherited the long-lived regions too. */
		return region_step(w, 0, e->child, rnd);
	}
	if (state == EPH_SHARED) {
		e->child_reads++;
		__atomic_store_n(&e->life_reads, e->life_reads + 1, __ATOMIC_RELAXED);
		return eph_check(w, e->child, kmm_rng_below(rnd, EPH_PAGES));
	}
	if (state != EPH_UNMAP)
		return EPH_WAIT;
	int r = kmm_munmap(e->child, e->addr, EPH_PAGES * PAGE_SIZE);
	if (r)
		fprintf(stderr, "churn child: munmap failed: %d\n", r);
	kmm_task_reap(e->child);
	e->child = NULL;
	__atomic_store_n(&e->state, EPH_CHILD_GONE, __ATOMIC_RELEASE);
	return r;
}

/* --- Swap areas going off and on ----------------------------------------------------- */

struct toggler {
	struct world *w;
	pthread_t th;
	bool started;
	unsigned long every; /* steps of progress between two switches */
	int want;	     /* switches to make */
	int done;	     /* atomic: switches made, or -1 when one failed */
	bool finished;	     /* atomic: the thread is through */
	bool stop;	     /* atomic: the run is over, stop waiting */
	struct kmm_error err;
};

/* Off with area @a, and on again: the other area takes what memory cannot hold. */
static int toggle_area(struct toggler *tg, int a)
{
	struct world *w = tg->w;
	memset(&tg->err, 0, sizeof(tg->err));
	int r = kmm_swapoff(w->m, w->swap[a], &tg->err);
	if (r) {
		fprintf(stderr, "swapoff %s: %d (%s)\n", w->swap[a], r, tg->err.msg);
		return r;
	}
	r = kmm_swapon(w->m, w->swap[a], 32 * MiB, 5, 0, NULL, &tg->err);
	if (r < 0) {
		fprintf(stderr, "swapon %s: %d (%s)\n", w->swap[a], r, tg->err.msg);
		return r;
	}
	return 0;
}

static void *toggler_thread(void *arg)
{
	struct toggler *tg = arg;
	struct world *w = tg->w;
	for (int i = 0; i < tg->want; i++) {
		unsigned long at = (unsigned long)(i + 1) * tg->every;
		while (__atomic_load_n(&w->progress, __ATOMIC_RELAXED) < at && !failed(w) &&
		       !__atomic_load_n(&tg->stop, __ATOMIC_RELAXED))
			usleep(1000);
		if (failed(w) || __atomic_load_n(&tg->stop, __ATOMIC_RELAXED) ||
		    toggle_area(tg, i % NAREAS)) {
			__atomic_store_n(&tg->done, -1, __ATOMIC_RELEASE);
			break;
		}
		__atomic_store_n(&tg->done, i + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&tg->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

/* --- The run ------------------------------------------------------------------------------ */

struct run_arg {
	struct world *w;
	struct toggler *tg;
	unsigned long lives; /* CPU 1 goes on until the short-lived regions have lived so many */
	bool cpu1_done;	     /* atomic: CPU 1 is through, the last short-lived region gone */
};

/*
 * One step of CPU @cpu: mostly an access of a long-lived region; every
 * fourth step the churn's (CPU 1 the owner, CPU 0 the child). Out of
 * steps, CPU 1 goes on with the short-lived regions until the round has
 * seen its number of lives and the last child is gone; CPU 0 keeps the run
 * up until CPU 1 is through and the toggler has made its switches.
 */
static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct run_arg *ra = arg;
	struct world *w = ra->w;
	struct kmm_rng *rnd = &w->rnd[cpu];
	if (failed(w))
		return false;
	if (!w->steps_left[cpu]) {
		int state = __atomic_load_n(&w->eph.state, __ATOMIC_ACQUIRE);
		if (cpu == 1) {
			if (state == EPH_NONE && w->eph.lives >= ra->lives) {
				__atomic_store_n(&ra->cpu1_done, true, __ATOMIC_RELEASE);
				return false;
			}
			int r = eph_owner_step(w, rnd);
			if (r < 0)
				fail(w);
			else if (r == EPH_WAIT)
				sched_yield();
			return true;
		}
		if (__atomic_load_n(&ra->cpu1_done, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&ra->tg->finished, __ATOMIC_ACQUIRE))
			return false;
		if (eph_child_step(w, rnd) < 0)
			fail(w);
		sched_yield();
		return true;
	}
	w->steps_left[cpu]--;
	__atomic_fetch_add(&w->progress, 1, __ATOMIC_RELAXED);
	int ret = EPH_WAIT;
	if (cpu == 1 ? kmm_rng_below(rnd, 4) == 0 : eph_child_due(w, rnd))
		ret = cpu == 1 ? eph_owner_step(w, rnd) : eph_child_step(w, rnd);
	if (ret == EPH_WAIT)
		ret = region_step(
		    w, cpu, w->tasks[cpu + NCPUS * (int)kmm_rng_below(rnd, NTASKS / NCPUS)], rnd);
	if (ret)
		fail(w);
	return !ret;
}

/* Every byte of every long-lived region through every task (the churn's owner last). */
static int world_check(struct world *w)
{
	for (int i = 0; i <= NTASKS; i++) {
		struct kmm_task *t = i < NTASKS ? w->tasks[i] : w->eph.owner;
		for (int r = 0; r < NREG; r++)
			for (unsigned long p = 0; p < w->reg[r].pages; p++)
				if (check_page(w, t, w->reg[r].addr + p * PAGE_SIZE,
					       (unsigned long)r, p, w->reg[r].ver[p]))
					return -1;
	}
	kmm_task_switch_out(w->m);
	return 0;
}

static struct world *world_setup(const char *rmap)
{
	struct world *w = calloc(1, sizeof(*w));
	struct kmm_error err = {0};
	w->seed = kmm_test_seed;
	/* Two areas of equal priority, each able to hold everything alone. */
	w->m = reclaim_boot_two_swap_areas(w->swap[0], w->swap[1], sizeof(w->swap[0]), "shmemconc",
					   w->seed, "16M", NCPUS, rmap, "32M");
	if (!w->m)
		return w;
	for (int c = 0; c < NCPUS; c++)
		kmm_rng_seed(&w->rnd[c], w->seed + (uint64_t)c * 7919);
	w->tasks[0] = vm_task(w->m, "shmem", 0);
	if (!w->tasks[0])
		return w;
	uint64_t buf[PAGE_SIZE / 8];
	for (int r = 0; r < NREG; r++) {
		struct region *rg = &w->reg[r];
		rg->pages = REG_MIB * MiB / PAGE_SIZE;
		rg->ver = calloc(rg->pages, sizeof(*rg->ver));
		rg->busy = calloc(rg->pages, 1);
		long a = kmm_mmap(w->tasks[0], 0, rg->pages * PAGE_SIZE, RW,
				  KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
		if (a < 0)
			return w;
		rg->addr = (unsigned long)a;
		/* Every other page written; the rest are holes that read as zeros. */
		for (unsigned long p = 0; p < rg->pages; p += 2) {
			fill(buf, w->seed, (unsigned long)r, p, ++rg->ver[p]);
			if (kmm_write(w->tasks[0], rg->addr + p * PAGE_SIZE, buf, PAGE_SIZE))
				return w;
		}
	}
	for (int i = 1; i < NTASKS; i++) {
		w->tasks[i] = kmm_task_fork(w->tasks[0], i % NCPUS, &err);
		if (!w->tasks[i]) {
			fprintf(stderr, "fork: %s\n", err.msg);
			return w;
		}
	}
	/* The churn's owner maps the long-lived regions too: its children inherit them. */
	w->eph.owner = kmm_task_fork(w->tasks[0], 1, &err);
	kmm_task_switch_out(w->m);
	return w;
}

static bool world_ready(struct world *w)
{
	return w->m && w->tasks[NTASKS - 1] && w->eph.owner;
}

static void world_teardown(struct world *w)
{
	for (int i = 0; i < NTASKS; i++)
		if (w->tasks[i])
			kmm_task_reap(w->tasks[i]);
	if (w->eph.child)
		kmm_task_reap(w->eph.child);
	if (w->eph.owner)
		kmm_task_reap(w->eph.owner);
	for (int r = 0; r < NREG; r++) {
		free(w->reg[r].ver);
		free(w->reg[r].busy);
	}
	if (w->m)
		kmm_machine_destroy(w->m);
	for (int a = 0; a < NAREAS; a++)
		unlink(w->swap[a]);
	free(w);
}

/* Every slot of every area but the headers is free: swap_map all zeros. */
static long swap_map_nonzero(struct kmm_machine *m)
{
	long n = 0;
	for (int type = 0; type < MAX_SWAPFILES; type++) {
		struct kmm_swap_area_info info;
		if (kmm_swap_area_info(m, type, &info))
			continue;
		for (unsigned long o = 1; o < info.max; o++)
			n += swap_map_value(m, swp_entry((unsigned int)type, o)) != 0;
	}
	return n;
}

/*
 * One concurrent round: the CPUs' steps, and @switches swap areas off and
 * on meanwhile; swap reads go through the I/O thread, started with
 * @io_flags for the round.
 */
static void run_round(struct world *w, int switches, unsigned int io_flags)
{
	struct toggler tg = {.w = w, .want = switches};
	struct run_arg ra = {.w = w, .tg = &tg, .lives = w->eph.lives + LIVES * kmm_test_scale};
	for (int c = 0; c < NCPUS; c++)
		w->steps_left[c] = STEPS * kmm_test_scale;
	w->progress = 0;
	tg.every = NCPUS * STEPS * kmm_test_scale / (unsigned long)(switches + 1);
	int err = pthread_create(&tg.th, NULL, toggler_thread, &tg);
	expect_int_eq(err, 0);
	expect_int_eq(kmm_swap_io_start(w->m, io_flags), 0);
	int run = kmm_run(w->m, KMM_RUN_CONCURRENT, step, &ra);
	kmm_swap_io_stop(w->m); /* the reads still queued complete: the checkers need quiet */
	__atomic_store_n(&tg.stop, true, __ATOMIC_RELAXED); /* if the run ended early */
	pthread_join(tg.th, NULL);
	kmm_task_switch_out(w->m);
	expect_int_eq(run, 0);
	expect_int_eq(w->failed, 0);
	for (int c = 0; c < NCPUS; c++)
		expect_u64_eq(w->steps_left[c], 0);
	expect_int_eq(tg.done, switches);
	expect_int_eq(w->eph.state, EPH_NONE);
}

/* A positive count from the environment variable @name, else @dflt. */
static int env_count(const char *name, int dflt)
{
	const char *s = getenv(name);
	if (!s)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 100000) {
		fprintf(stderr, "%s=%s: want a count from 1 to 100000\n", name, s);
		exit(2);
	}
	return (int)v;
}

static void run_concurrent(const char *rmap)
{
	int rounds = env_count("KMM_SHMEMCONC_ROUNDS", ROUNDS);
	int switches = env_count("KMM_SHMEMCONC_SWITCHES", SWITCHES);
	struct world *w = world_setup(rmap);
	expect_true(world_ready(w));
	if (!world_ready(w)) {
		world_teardown(w);
		return;
	}
	struct kmm_swap_totals t0, t1;
	kmm_swap_totals(w->m, &t0);
	expect_u64_eq(t0.total, 2 * 8191); /* two areas of 32 MiB less their headers */
	expect_all_valid(w->m);
	long pswpin0 = vmstat(w->m, "pswpin");
	for (int round = 0; round < rounds && !kmm_test_case_failed; round++) {
		/* Reads done asynchronously, and for ptechain with the windows read ahead too. */
		run_round(w, switches, strcmp(rmap, "objrmap") ? KMM_SWAP_IO_READAHEAD_NEXT : 0);
		expect_all_valid(w->m);
		kmm_swap_totals(w->m, &t1);
		expect_u64_eq(t1.total, t0.total); /* both areas on again */
	}
	if (kmm_test_case_failed) {
		world_teardown(w);
		return;
	}
	printf("%s: %d rounds of %d swapoff+swapon, pswpout %ld pswpin %ld pgmajfault %ld, %lu "
	       "short-lived regions, %lu+%lu accesses skipped (page busy), %lu+%lu MADV_DONTNEED, "
	       "%ld slots in use\n",
	       rmap, rounds, switches, vmstat(w->m, "pswpout"), vmstat(w->m, "pswpin"),
	       vmstat(w->m, "pgmajfault"), w->eph.lives, w->skipped[0], w->skipped[1],
	       w->dontneed[0], w->dontneed[1], (long)(t1.total - t1.free));
	/* The regions went to swap and came back, the churn lived many lives. */
	expect_i64_ge(vmstat(w->m, "pswpout"), 2000);
	expect_i64_ge(vmstat(w->m, "pswpin") - pswpin0, 1000);
	expect_u64_ge(w->eph.lives, (unsigned long)rounds * LIVES * kmm_test_scale);
	expect_u64_ge(w->eph.child_reads, w->eph.lives);
	expect_int_eq(world_check(w), 0);
	expect_all_valid(w->m);

	/* Every task goes: the regions are truncated, every slot is free again. */
	for (int i = 0; i < NTASKS; i++) {
		kmm_task_reap(w->tasks[i]);
		w->tasks[i] = NULL;
	}
	kmm_task_reap(w->eph.owner);
	w->eph.owner = NULL;
	expect_all_valid(w->m);
	kmm_swap_totals(w->m, &t1);
	expect_u64_eq(t1.total, t0.total);
	expect_u64_eq(t1.free, t1.total);
	expect_u64_eq(t1.cached, 0);
	expect_i64_eq(swap_map_nonzero(w->m), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "Shmem"), 0);
	expect_i64_eq(reclaim_stat(w->m, "meminfo", "SwapFree"),
		      reclaim_stat(w->m, "meminfo", "SwapTotal"));
	world_teardown(w);
}

static void test_concurrent_objrmap(void)
{
	run_concurrent("objrmap");
}

static void test_concurrent_ptechain(void)
{
	run_concurrent("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_concurrent_objrmap);
	run_test(test_concurrent_ptechain);
	return kmm_test_done();
}
