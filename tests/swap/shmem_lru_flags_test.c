/*
 * A shmem page coming back from swap must not undo reclaim's PG_lru
 * updates (KMM_TEST_CONCURRENT: one host thread per simulated CPU).
 *
 * The page a shmem fault takes from the swap cache is on the LRU, where
 * reclaim on another CPU takes it off (clearing PG_lru) and puts it back
 * (setting PG_lru) with atomic bit operations, under the LRU lock but
 * without the page lock. Moving the page into its mapping
 * (shmem_add_to_page_cache) once set PG_swapbacked with a plain
 * read-modify-write of the flags word: a putback between that read and
 * that write left the page on an LRU list without PG_lru, which no reclaim
 * could take off again and whose free left it on the list.
 *
 * CPU 0, round after round: a version into a one-page shmem region,
 * MADV_PAGEOUT (the page goes to swap), the slot read back into the swap
 * cache and onto the LRU (as another fault's readahead leaves it), then a
 * read that faults the page into the mapping, checked against the
 * version, and the LRU checker. CPU 1 meanwhile takes that page off its
 * list and puts it back, again and again, as reclaim does. The window is
 * a few instructions wide, so a plain build rarely catches the lost
 * update; in the TSan build (make tsan), whose instrumentation of those
 * instructions widens it, the checker found it within 200 rounds. Both
 * rmap designs.
 */
#include "../reclaim/reclaim_util.h"
#include "reclaim/internal.h"
#include "swap/swap.h"
#include <sched.h>

#define ROUNDS 4000 /* times KMM_TEST_SCALE */

struct race {
	struct kmm_machine *m;
	struct kmm_task *t; /* on CPU 0 */
	struct kmm_address_space *mapping;
	unsigned long addr;
	unsigned long rounds_left;
	struct kmm_page *target;  /* atomic: the page CPU 1 is to work on, or NULL */
	struct kmm_page *busy;	  /* atomic: the page CPU 1 is working on, or NULL */
	bool done;		  /* atomic: CPU 0 is through */
	int failed;		  /* atomic */
	unsigned long faulted;	  /* rounds that faulted the page in from the swap cache */
	unsigned long skipped;	  /* rounds in which MADV_PAGEOUT left the page in memory */
	unsigned long isolations; /* atomic: CPU 1's takes of a target page */
	uint32_t ver;
};

static void fill(uint64_t *buf, uint64_t seed, uint32_t ver)
{
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		buf[i] = (seed ^ ver) * 0x9e3779b97f4a7c15ULL + i;
}

/* The swap entry slot 0 of the region's mapping holds, or 0 when it holds a page. */
static swp_entry_t slot_entry(struct race *r)
{
	swp_entry_t e = {0};
	spin_lock(&r->mapping->i_pages_lock);
	void *p = radix_tree_lookup(&r->mapping->i_pages, 0);
	if (xa_is_value(p))
		e = radix_to_swp_entry(p);
	spin_unlock(&r->mapping->i_pages_lock);
	return e;
}

/* CPU 0: one round. False when the run is over (or failed). */
static bool cpu0_round(struct race *r)
{
	uint64_t buf[PAGE_SIZE / 8], got[PAGE_SIZE / 8];
	fill(buf, kmm_test_seed, ++r->ver);
	if (kmm_write(r->t, r->addr, buf, PAGE_SIZE)) {
		fprintf(stderr, "write of v%u failed (%s)\n", r->ver, kmm_task_signal(r->t)->msg);
		return false;
	}
	int err = kmm_madvise(r->t, r->addr, PAGE_SIZE, KMM_MADV_PAGEOUT);
	if (err) {
		fprintf(stderr, "MADV_PAGEOUT failed: %d\n", err);
		return false;
	}
	swp_entry_t e = slot_entry(r);
	struct kmm_page *page = NULL;
	if (e.val) {
		/* Into the swap cache and onto the LRU, unmapped, as readahead leaves a page. */
		page = swapin_readahead(r->m, e, GFP_HIGHUSER_MOVABLE, &err);
		if (!page && err == -EIO) {
			fprintf(stderr, "swap-in of v%u failed\n", r->ver);
			return false;
		}
		vm_state(r->m)->lru.lru_add_drain(r->m);
	}
	if (page) {
		/* CPU 1 at work on the page before the fault, and all through it. */
		__atomic_store_n(&r->target, page, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&r->busy, __ATOMIC_SEQ_CST) != page)
			sched_yield();
	} else {
		r->skipped++; /* CPU 1 held the page off the LRU: no pageout this round */
	}
	/* The fault moves the page from the swap cache into the mapping. */
	err = kmm_read(r->t, r->addr, got, PAGE_SIZE);
	/* The checker wants the lists still: CPU 1 stops before it runs. */
	__atomic_store_n(&r->target, NULL, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&r->busy, __ATOMIC_SEQ_CST))
		sched_yield();
	if (page) {
		kmm_put_page(r->m, page);
		r->faulted++;
	}
	if (err || memcmp(got, buf, PAGE_SIZE)) {
		fprintf(stderr, "read of v%u: %d (%s), %s\n", r->ver, err,
			kmm_task_signal(r->t)->msg, err ? "" : "data differs");
		return false;
	}
	struct kmm_error verr = {0};
	if (kmm_lru_validate(r->m, &verr)) {
		fprintf(stderr, "round %u: kmm_lru_validate: %s\n", r->ver, verr.msg);
		return false;
	}
	return true;
}

/* CPU 1: reclaim's take and putback of the target page, a few times over. */
static void cpu1_burst(struct race *r)
{
	struct kmm_page *page = __atomic_load_n(&r->target, __ATOMIC_SEQ_CST);
	if (!page) {
		sched_yield();
		return;
	}
	/*
	 * Busy first, then the target checked again: CPU 0, which clears the
	 * target and then waits for busy to clear, cannot miss this burst.
	 */
	__atomic_store_n(&r->busy, page, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 4096 && __atomic_load_n(&r->target, __ATOMIC_SEQ_CST) == page; i++) {
		if (!vm_state(r->m)->lru.isolate_lru_page(r->m, page))
			continue;
		__atomic_fetch_add(&r->isolations, 1, __ATOMIC_RELAXED);
		LIST_HEAD(one);
		list_add(&page->lru, &one);
		putback_lru_pages(r->m, &one);
	}
	__atomic_store_n(&r->busy, NULL, __ATOMIC_SEQ_CST);
}

static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct race *r = arg;
	if (cpu == 1) {
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			return false;
		cpu1_burst(r);
		return true;
	}
	if (r->rounds_left && cpu0_round(r)) {
		r->rounds_left--;
		return true;
	}
	if (r->rounds_left)
		__atomic_store_n(&r->failed, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return false;
}

static void run_race(const char *rmap)
{
	char opts[256], swap[96];
	snprintf(swap, sizeof(swap), "/tmp/kmm-shmemlru-%d-%s.swap", getpid(), rmap);
	snprintf(opts, sizeof(opts), "--mem 16M --cpus 2 --seed %llu --rmap %s --swap %s:8M",
		 (unsigned long long)kmm_test_seed, rmap, swap);
	struct race r = {.rounds_left = ROUNDS * kmm_test_scale};
	r.m = vm_boot(opts);
	expect_ptr_not_null(r.m);
	r.t = vm_task(r.m, "shmemlru", 0);
	expect_ptr_not_null(r.t);
	long a = kmm_mmap(r.t, 0, PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	r.addr = (unsigned long)a;
	mmap_read_lock(r.t->mm);
	r.mapping = vma_mapping(find_vma(r.t->mm, r.addr));
	mmap_read_unlock(r.t->mm);
	kmm_task_switch_out(r.m);
	expect_ptr_not_null(r.mapping);
	int run = kmm_run(r.m, KMM_RUN_CONCURRENT, step, &r);
	printf("%s: %lu rounds faulted the page in from the swap cache, %lu kept it in memory, "
	       "CPU 1 took it off the LRU %lu times\n",
	       rmap, r.faulted, r.skipped, r.isolations);
	struct kmm_error err = {0};
	int valid = kmm_lru_validate(r.m, &err);
	if (valid)
		fprintf(stderr, "kmm_lru_validate: %s\n", err.msg);
	kmm_task_reap(r.t);
	kmm_machine_destroy(r.m);
	unlink(swap);
	expect_int_eq(run, 0);
	expect_int_eq(r.failed, 0);
	expect_u64_eq(r.rounds_left, 0);
	expect_int_eq(valid, 0);
	/* The race was run: most rounds faulted from the swap cache while CPU 1 worked on the page. */
	expect_u64_ge(r.faulted, ROUNDS * kmm_test_scale / 2);
	expect_u64_ge(r.isolations, r.faulted / 2);
}

static void test_race_objrmap(void)
{
	run_race("objrmap");
}

static void test_race_ptechain(void)
{
	run_race("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_race_objrmap);
	run_test(test_race_ptechain);
	return kmm_test_done();
}
