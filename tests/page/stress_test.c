/*
 * Concurrent stress of the page allocator (KMM_TEST_CONCURRENT: the TSan
 * build runs it). Host threads drive more simulated CPUs than there are
 * threads, hopping between CPUs; they allocate random orders and GFP
 * masks, hand blocks to each other through a shared pool so that pages are
 * freed on other CPUs than they were allocated on, and drain every CPU's
 * lists now and then. At the end every page must be back: the free count
 * equals the managed count and the validator passes.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <pthread.h>
#include <kmm/kmm.h>
#include "page/internal.h"

#define POOL 256

struct shared {
	struct kmm_machine *m;
	pthread_mutex_t lock;
	struct kmm_page *pool[POOL];
	unsigned int order[POOL];
	unsigned long iterations;
	unsigned long remote_frees;
	int failed;
};

struct worker {
	struct shared *sh;
	uint64_t seed;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct kmm_machine *m = sh->m;
	struct kmm_rng rng;
	kmm_rng_seed(&rng, w->seed);
	struct kmm_page *mine[64] = {0};
	unsigned int my_order[64];

	for (unsigned long it = 0; it < sh->iterations; it++) {
		int cpu = (int)kmm_rng_below(&rng, (uint64_t)m->nr_cpus);
		kmm_cpu_enter(m, cpu);
		for (int k = 0; k < 16; k++) {
			int slot = (int)kmm_rng_below(&rng, 64);
			if (mine[slot]) {
				kmm_free_pages(m, mine[slot], my_order[slot]);
				mine[slot] = NULL;
				continue;
			}
			unsigned int order = kmm_rng_below(&rng, 10)
						 ? (unsigned int)kmm_rng_below(&rng, 4)
						 : pageblock_order;
			gfp_t gfp = kmm_rng_below(&rng, 2) ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE;
			if (kmm_rng_below(&rng, 8) == 0)
				gfp = GFP_ATOMIC;
			mine[slot] = kmm_alloc_pages(m, gfp | __GFP_NOWARN, order);
			my_order[slot] = order;
			if (mine[slot])
				*(volatile uint64_t *)page_address(m, mine[slot]) = it;
		}
		/* Trade a block through the pool: the other thread frees it elsewhere. */
		int slot = (int)kmm_rng_below(&rng, 64), p = (int)kmm_rng_below(&rng, POOL);
		pthread_mutex_lock(&sh->lock);
		struct kmm_page *old = sh->pool[p];
		unsigned int old_order = sh->order[p];
		sh->pool[p] = mine[slot];
		sh->order[p] = my_order[slot];
		pthread_mutex_unlock(&sh->lock);
		mine[slot] = NULL;
		if (old) {
			kmm_free_pages(m, old, old_order);
			__atomic_fetch_add(&sh->remote_frees, 1, __ATOMIC_RELAXED);
		}
		kmm_cpu_exit(m);
		if (kmm_rng_below(&rng, 64) == 0)
			kmm_drain_all_pages(m);
	}
	kmm_cpu_enter(m, 0);
	for (int i = 0; i < 64; i++)
		if (mine[i])
			kmm_free_pages(m, mine[i], my_order[i]);
	kmm_cpu_exit(m);
	return NULL;
}

static void stress(const char *mem, enum kmm_buddy_design design, int threads)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	cfg.buddy = design;
	char *argv[] = {"--mem", (char *)mem, "--nodes", "2", "--cpus", "4"};
	expect_int_eq(kmm_config_parse_args(&cfg, 6, argv, &err), 0);
	struct shared sh = {.iterations = 1500 * kmm_test_scale};
	pthread_mutex_init(&sh.lock, NULL);
	sh.m = kmm_boot(&cfg, &err);
	expect_ptr_not_null(sh.m);
	kmm_wait_for_init(sh.m);

	pthread_t tid[8];
	struct worker w[8];
	for (int t = 0; t < threads; t++) {
		w[t] = (struct worker){&sh, kmm_test_seed + (uint64_t)t * 7919};
		pthread_create(&tid[t], NULL, work, &w[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	for (int p = 0; p < POOL; p++)
		if (sh.pool[p])
			kmm_free_pages(sh.m, sh.pool[p], sh.order[p]);
	kmm_drain_all_pages(sh.m);

	unsigned long managed = 0;
	for (int nid = 0; nid < sh.m->nr_node_ids; nid++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			managed += zone_managed_pages(&sh.m->node_data[nid]->node_zones[z]);
	expect_u64_gt(sh.remote_frees, 0);
	expect_u64_eq(kmm_nr_free_pages(sh.m) + kmm_test_kernel_pages(sh.m), managed);
	expect_int_eq(kmm_page_alloc_validate(sh.m, &err), 0);
	kmm_machine_destroy(sh.m);
	pthread_mutex_destroy(&sh.lock);
}

static void test_stress_pageflag(void)
{
	stress("256M", KMM_BUDDY_PAGEFLAG, 2);
}

static void test_stress_bitmap(void)
{
	stress("256M", KMM_BUDDY_BITMAP, 2);
}

/* Tiny machine: memory runs out, the slow path and drains race with frees. */
static void test_stress_under_pressure(void)
{
	stress("24M", KMM_BUDDY_PAGEFLAG, 3);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_stress_pageflag);
	run_test(test_stress_bitmap);
	run_test(test_stress_under_pressure);
	return kmm_test_done();
}
