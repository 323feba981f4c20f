/*
 * Free page reporting (src/page/page_reporting.c): free max-order blocks
 * give their host memory back, the newest are kept, and reused blocks are
 * repopulated in one call.
 *
 *  - Exact figures on a fresh machine: which blocks are reported, which are
 *    kept, host residency of each block (mincore), the page allocator's
 *    invariants, and the data of blocks allocated again.
 *  - Concurrent (KMM_TEST_CONCURRENT): threads allocate, write, check and
 *    free blocks of every order on their CPUs while another thread reports
 *    in a loop; a block discarded while in use would lose its data.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <pthread.h>
#include <kmm/kmm.h>
#include "page/internal.h"
#include "port/port.h"

#define BLOCK_BYTES (PAGE_SIZE << MAX_PAGE_ORDER)

static bool validate(struct kmm_machine *m, const char *what)
{
	struct kmm_error err = {0};
	if (kmm_page_alloc_validate(m, &err)) {
		KMM_EXPECT_FAIL_("%s: %s", what, err.msg);
		return false;
	}
	return true;
}

static bool populated(struct kmm_machine *m, struct kmm_page *page)
{
	return test_bit(page_to_pfn(m, page) >> MAX_PAGE_ORDER, m->ram_populated);
}

static void test_report_keep_newest(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 256M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	struct kmm_page_reporting_count c;
	struct kmm_page *blocks[8];

	/* After boot no free max-order block has host memory: boot wrote none. */
	kmm_page_reporting_count(m, &c);
	expect_u64_eq(c.populated_blocks, 0);
	unsigned long free0 = c.free_blocks;
	unsigned long ram0 = kmm_ram_populated_blocks(m);

	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	for (int i = 0; i < 8; i++) {
		blocks[i] = kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER);
		expect_ptr_not_null(blocks[i]);
		memset(page_address(m, blocks[i]), 0x40 + i, BLOCK_BYTES);
		expect_true(populated(m, blocks[i]));
	}
	expect_u64_eq(kmm_ram_populated_blocks(m), ram0 + 8);
	for (int i = 0; i < 8; i++)
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	kmm_page_reporting_count(m, &c);
	expect_u64_eq(c.free_blocks, free0);
	expect_u64_eq(c.populated_blocks, 8);

	/* Keep the two freed last (at the list heads), report the six others. */
	expect_u64_eq(kmm_page_reporting_run(m, 2, ~0UL), 6);
	for (int i = 0; i < 8; i++) {
		void *addr = page_address(m, blocks[i]);
		size_t resident = kmm_port_resident(addr, BLOCK_BYTES);
		if (i < 6) {
			expect_false(populated(m, blocks[i]));
			expect_u64_eq(resident, 0);
		} else {
			expect_true(populated(m, blocks[i]));
			expect_u64_eq(resident, BLOCK_BYTES);
			expect_u64_eq(((unsigned char *)addr)[BLOCK_BYTES - 1], 0x40 + i);
		}
	}
	expect_u64_eq(kmm_ram_populated_blocks(m), ram0 + 2);
	kmm_page_reporting_count(m, &c);
	expect_u64_eq(c.free_blocks, free0);
	expect_u64_eq(c.populated_blocks, 2);
	expect_u64_eq(kmm_page_reporting_total(m), 6);
	if (!validate(m, "after reporting"))
		return;

	/* Nothing more to report with keep 2; max caps a pass. */
	expect_u64_eq(kmm_page_reporting_run(m, 2, ~0UL), 0);
	expect_u64_eq(kmm_page_reporting_run(m, 0, 1), 1);
	expect_u64_eq(kmm_page_reporting_total(m), 7);

	/* Every block allocated again comes back backed, in one call, and holds data. */
	unsigned long ram1 = kmm_ram_populated_blocks(m);
	for (int i = 0; i < 8; i++) {
		blocks[i] = kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER);
		expect_ptr_not_null(blocks[i]);
		expect_true(populated(m, blocks[i]));
		expect_u64_eq(kmm_port_resident(page_address(m, blocks[i]), BLOCK_BYTES),
			      BLOCK_BYTES);
		memset(page_address(m, blocks[i]), 0x60 + i, BLOCK_BYTES);
	}
	/* The one block still backed was reused first; seven had to be backed again. */
	expect_u64_eq(kmm_ram_populated_blocks(m), ram1 + 7);
	for (int i = 0; i < 8; i++) {
		unsigned char *p = page_address(m, blocks[i]);
		expect_u64_eq(p[0], 0x60 + i);
		expect_u64_eq(p[BLOCK_BYTES - 1], 0x60 + i);
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	}
	kmm_cpu_exit(m);
	validate(m, "after reuse");
	kmm_machine_destroy(m);
}

/* A block in use is never reported; once free, it is. */
static void test_report_skips_used(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER);
	expect_ptr_not_null(page);
	memset(page_address(m, page), 0x77, BLOCK_BYTES);
	expect_u64_eq(kmm_page_reporting_run(m, 0, ~0UL), 0);
	expect_true(populated(m, page));
	expect_u64_eq(((unsigned char *)page_address(m, page))[BLOCK_BYTES - 1], 0x77);
	kmm_free_pages(m, page, MAX_PAGE_ORDER);
	kmm_cpu_exit(m);
	expect_u64_eq(kmm_page_reporting_run(m, 0, ~0UL), 1);
	expect_false(populated(m, page));
	expect_u64_eq(kmm_port_resident(page_address(m, page), BLOCK_BYTES), 0);
	validate(m, "after reporting");
	kmm_machine_destroy(m);
}

/*
 * Lazy blocks (cfg.ram_lazy_blocks, src/phys/ram.c): the first blocks the
 * machine backs are only marked, and the host backs the pages touched; then
 * population is whole blocks again.
 */
static void test_lazy_blocks(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 256M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	m->ram_lazy_left = 2; /* as a boot with cfg.ram_lazy_blocks = 2 would leave it */
	unsigned long ram0 = kmm_ram_populated_blocks(m);
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	struct kmm_page *blocks[3];
	for (int i = 0; i < 3; i++) {
		blocks[i] = kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER);
		expect_ptr_not_null(blocks[i]);
		expect_true(populated(m, blocks[i]));
	}
	expect_u64_eq(kmm_ram_populated_blocks(m), ram0 + 3);
	unsigned char *lazy = page_address(m, blocks[0]);
	expect_u64_eq(kmm_port_resident(lazy, BLOCK_BYTES), 0);
	expect_u64_eq(kmm_port_resident(page_address(m, blocks[1]), BLOCK_BYTES), 0);
	expect_u64_eq(kmm_port_resident(page_address(m, blocks[2]), BLOCK_BYTES), BLOCK_BYTES);
	/* One byte touched: a page (or a huge page), not the block. */
	lazy[0] = 0x5a;
	size_t touched = kmm_port_resident(lazy, BLOCK_BYTES);
	expect_u64_ge(touched, PAGE_SIZE);
	expect_u64_le(touched, BLOCK_BYTES / 2);
	expect_u64_eq(lazy[0], 0x5a);
	/* Reported and reused, a lazy block is populated whole like any other. */
	for (int i = 0; i < 3; i++)
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	kmm_cpu_exit(m);
	expect_u64_eq(kmm_page_reporting_run(m, 0, ~0UL), 3);
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	for (int i = 0; i < 3; i++) {
		blocks[i] = kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER);
		expect_ptr_not_null(blocks[i]);
		expect_u64_eq(kmm_port_resident(page_address(m, blocks[i]), BLOCK_BYTES),
			      BLOCK_BYTES);
	}
	for (int i = 0; i < 3; i++)
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	kmm_cpu_exit(m);
	validate(m, "after lazy blocks");
	kmm_machine_destroy(m);
}

/* --- Concurrent ---------------------------------------------------------------------- */

#define SLOTS 32

struct shared {
	struct kmm_machine *m;
	unsigned long iterations;
	int stop;
	int failed;
};

struct worker {
	struct shared *sh;
	int cpu;
	uint64_t seed;
};

/* Every page of a block carries a tag in its first and last word. */
static void tag_block(struct kmm_machine *m, struct kmm_page *page, unsigned int order,
		      uint64_t tag)
{
	for (unsigned long i = 0; i < (1UL << order); i++) {
		uint64_t *w = page_address(m, page + i);
		w[0] = tag + i;
		w[PAGE_SIZE / 8 - 1] = ~(tag + i);
	}
}

static bool check_block(struct kmm_machine *m, struct kmm_page *page, unsigned int order,
			uint64_t tag)
{
	for (unsigned long i = 0; i < (1UL << order); i++) {
		uint64_t *w = page_address(m, page + i);
		if (w[0] != tag + i || w[PAGE_SIZE / 8 - 1] != ~(tag + i))
			return false;
	}
	return true;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct kmm_machine *m = sh->m;
	struct kmm_rng rng;
	struct kmm_page *slot[SLOTS] = {0};
	unsigned int order[SLOTS];
	uint64_t tag[SLOTS];
	kmm_rng_seed(&rng, w->seed);
	kmm_cpu_enter(m, w->cpu);
	for (unsigned long it = 0; it < sh->iterations && !__atomic_load_n(&sh->failed, 0); it++) {
		int s = (int)kmm_rng_below(&rng, SLOTS);
		if (slot[s]) {
			if (!check_block(m, slot[s], order[s], tag[s])) {
				fprintf(stderr,
					"cpu %d: block at pfn %#lx order %u lost its data\n",
					w->cpu, page_to_pfn(m, slot[s]), order[s]);
				__atomic_store_n(&sh->failed, 1, 0);
			}
			kmm_free_pages(m, slot[s], order[s]);
			slot[s] = NULL;
			continue;
		}
		order[s] = kmm_rng_below(&rng, 4)
			       ? (unsigned int)kmm_rng_below(&rng, 4)
			       : MAX_PAGE_ORDER - (unsigned int)kmm_rng_below(&rng, 2);
		slot[s] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, order[s]);
		if (slot[s]) {
			tag[s] = kmm_rng_next(&rng) << 12;
			tag_block(m, slot[s], order[s], tag[s]);
		}
	}
	for (int s = 0; s < SLOTS; s++)
		if (slot[s])
			kmm_free_pages(m, slot[s], order[s]);
	kmm_drain_local_pages(m);
	kmm_cpu_exit(m);
	return NULL;
}

static void *reporter(void *arg)
{
	struct shared *sh = arg;
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
		kmm_page_reporting_run(sh->m, 0, ~0UL);
	return NULL;
}

static void test_report_concurrent(void) /* KMM_TEST_CONCURRENT */
{
	struct kmm_machine *m = kmm_test_boot("--mem 128M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	struct shared sh = {.m = m, .iterations = 3000 * kmm_test_scale};
	struct worker w[2];
	pthread_t t[2], r;
	pthread_create(&r, NULL, reporter, &sh);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){&sh, i, kmm_test_seed + (uint64_t)i};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	expect_int_eq(sh.failed, 0);
	kmm_drain_all_pages(m);
	if (!validate(m, "after the concurrent run"))
		return;
	unsigned long managed = 0;
	for (int z = 0; z < MAX_NR_ZONES; z++)
		managed += zone_managed_pages(&m->node_data[0]->node_zones[z]);
	expect_u64_eq(kmm_nr_free_pages(m) + kmm_test_kernel_pages(m), managed);
	printf("  %lu blocks reported while the workers ran\n", kmm_page_reporting_total(m));
	expect_u64_gt(kmm_page_reporting_total(m), 0);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_report_keep_newest);
	run_test(test_report_skips_used);
	run_test(test_lazy_blocks);
	run_test(test_report_concurrent);
	return kmm_test_done();
}
