/*
 * Slot allocation from several CPUs at once (KMM_TEST_CONCURRENT: the TSan
 * build runs it): two host threads, each moving between two simulated CPUs
 * of its own and sometimes running on none, take slots in batches from two
 * small areas of equal priority (so they fill up, alternate, and fall back
 * to scanning), duplicate and drop references, and write and read pages of
 * their own slots. A shared map of who holds each slot catches a slot
 * handed out twice. At the end every reference is dropped: the areas are
 * empty, the invariant checker is happy, nr_swap_pages is back to the total.
 */
#include "swap_util.h"
#include <pthread.h>

#define NTHREADS 2
#define MAXHELD	 1100 /* two threads can hold more than both areas have */
#define NAREAS	 2

static struct kmm_machine *m;
static unsigned char owner[NAREAS][1024]; /* 0 free, else thread + 1 */
static unsigned long iterations;
static int failed;

struct held {
	swp_entry_t e;
	int refs;
	bool cache;
};

struct worker {
	int id;
	struct kmm_rng rng;
	struct held held[MAXHELD];
	int nheld;
	struct kmm_page *pages[2];
	unsigned long allocated, written;
};

static void claim(struct worker *w, swp_entry_t e)
{
	unsigned char expected = 0;
	unsigned char *o = &owner[swp_type(e)][swp_offset(e)];
	if (!__atomic_compare_exchange_n(o, &expected, (unsigned char)(w->id + 1), false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		fprintf(stderr, "thread %d: slot %u:%lu handed out while thread %d holds it\n",
			w->id, swp_type(e), swp_offset(e), expected - 1);
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
	}
}

/* Drop the slot's last reference: unmark first, as the slot may be reused at once. */
static void release_last(struct worker *w, struct held *h, bool cache_ref)
{
	__atomic_store_n(&owner[swp_type(h->e)][swp_offset(h->e)], 0, __ATOMIC_SEQ_CST);
	if (cache_ref)
		put_swap_page(m, h->e);
	else
		swap_free(m, h->e);
	*h = w->held[--w->nheld];
}

static void step(struct worker *w)
{
	unsigned int op = (unsigned int)kmm_rng_below(&w->rng, 100);
	if (op < 45 && w->nheld < MAXHELD - 16) {
		swp_entry_t batch[16];
		int want = 1 + (int)kmm_rng_below(&w->rng, 16);
		int n = get_swap_pages(m, want, batch);
		for (int i = 0; i < n; i++) {
			claim(w, batch[i]);
			w->held[w->nheld++] = (struct held){batch[i], 0, true};
		}
		w->allocated += (unsigned long)n;
		return;
	}
	if (!w->nheld)
		return;
	struct held *h = &w->held[kmm_rng_below(&w->rng, (uint64_t)w->nheld)];
	if (op < 55) {
		if (h->refs < 3 && !swap_duplicate(m, h->e))
			h->refs++;
	} else if (op < 75) {
		if (h->refs) {
			if (--h->refs == 0 && !h->cache)
				release_last(w, h, false);
			else
				swap_free(m, h->e);
		}
	} else if (op < 95) {
		if (h->cache) {
			h->cache = false;
			if (!h->refs)
				release_last(w, h, true);
			else
				put_swap_page(m, h->e);
		}
	} else {
		/* I/O on a slot this thread holds: write a page, read it into the other. */
		uint64_t *a = page_address(m, w->pages[0]);
		for (int i = 0; i < 8; i++)
			a[i * 64] = kmm_rng_next(&w->rng);
		if (swap_writepage(m, w->pages[0], h->e)) {
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
			return;
		}
		if (swap_readpage(m, w->pages[1], h->e) ||
		    memcmp(page_address(m, w->pages[0]), page_address(m, w->pages[1]), PAGE_SIZE)) {
			fprintf(stderr, "thread %d: slot %lu read back wrong\n", w->id,
				swp_offset(h->e));
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
		}
		w->written++;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 2; i++)
		w->pages[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
	for (unsigned long it = 0; it < iterations && !__atomic_load_n(&failed, __ATOMIC_RELAXED);
	     it++) {
		int slot = (int)(it / 64 % 3);
		int cpu = slot == 2 ? -1 : w->id * 2 + slot; /* CPUs 0,1 | 2,3, or none */
		if (cpu >= 0)
			kmm_cpu_enter(m, cpu);
		for (int k = 0; k < 64; k++, it++)
			step(w);
		if (cpu >= 0)
			kmm_cpu_exit(m);
	}
	while (w->nheld) {
		struct held *h = &w->held[w->nheld - 1];
		while (h->refs > 1) {
			swap_free(m, h->e);
			h->refs--;
		}
		if (h->refs && h->cache) {
			put_swap_page(m, h->e);
			h->cache = false;
		}
		release_last(w, h, h->cache);
	}
	for (int i = 0; i < 2; i++)
		kmm_put_page(m, w->pages[i]);
	return NULL;
}

static void test_concurrent_slots(void)
{
	m = kmm_test_boot("--mem 64M --nodes 1 --cpus 4");
	expect_ptr_not_null(m);
	for (int a = 0; a < NAREAS; a++) {
		char name[32];
		snprintf(name, sizeof(name), "conc%d.swap", a);
		expect_int_eq(swap_test_swapon(m, name, 1024 * PAGE_SIZE, 10), a);
	}
	iterations = 40000 * kmm_test_scale;
	static struct worker workers[NTHREADS];
	pthread_t threads[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		workers[t].id = t;
		kmm_rng_seed(&workers[t].rng, kmm_test_seed + (uint64_t)t);
		pthread_create(&threads[t], NULL, run, &workers[t]);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(threads[t], NULL);
	expect_int_eq(failed, 0);
	unsigned long allocated = 0, written = 0;
	for (int t = 0; t < NTHREADS; t++) {
		allocated += workers[t].allocated;
		written += workers[t].written;
	}
	printf("%lu slots allocated, %lu pages written and read back\n", allocated, written);
	expect_true(allocated > 4 * 1023); /* the areas were filled more than once */
	struct kmm_error err = {0};
	int r = kmm_swap_validate(m, &err);
	if (r)
		fprintf(stderr, "validate: %s\n", err.msg);
	expect_int_eq(r, 0);
	struct kmm_swap_totals t;
	kmm_swap_totals(m, &t);
	expect_u64_eq(t.free, t.total);
	expect_u64_eq(t.total, 2 * 1023);
	for (int a = 0; a < NAREAS; a++) {
		struct kmm_swap_area_info info;
		kmm_swap_area_info(m, a, &info);
		expect_u64_eq(info.inuse_pages, 0);
		expect_u64_eq(info.free_clusters, info.nr_clusters - 1);
	}
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_concurrent_slots);
	swap_test_cleanup();
	return kmm_test_done();
}
