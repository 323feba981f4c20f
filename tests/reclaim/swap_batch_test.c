/*
 * Reclaim's swap writes go out plugged: the anonymous pages of one batch
 * (32 isolated pages) are written together, a run of neighbouring slots per
 * pwritev. Checked here through kmm_reclaim_pages on a task's memory:
 *  - every page written once (writes = pswpout = the pages freed), in far
 *    fewer requests than pages;
 *  - an injected write error (EIO, ENOSPC, a short write) in the middle of a
 *    batch leaves exactly that page in memory, dirty, in the swap cache,
 *    counted and logged once, while the rest of its batch goes out;
 *  - every byte of the task reads back afterwards, the failed page from
 *    memory and the others from swap.
 */
#include "reclaim_util.h"
#include "kmm_test_machine.h"
#include <kmm/fault_inject.h>

#define MiB   (1UL << 20)
#define PAGES 2048UL /* 8 MiB of anonymous memory in a 64 MiB machine */

static uint64_t word_of(unsigned long page, unsigned long k)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (k * 0xbf58476d1ce4e5b9ULL) ^ kmm_test_seed;
}

/* The task's region, every word written. */
static int world_setup(struct reclaim_anon *w)
{
	if (reclaim_anon_setup(w, "swapbatch", "--mem 64M --nodes 1 --cpus 1", "32M", PAGES))
		return -1;
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = 0; p < PAGES; p++) {
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			buf[k] = word_of(p, k);
		if (kmm_write(w->t, w->addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
	}
	kmm_task_switch_out(w->m);
	return 0;
}

/* Every byte of every page, as written. */
static int world_check(struct reclaim_anon *w)
{
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = 0; p < PAGES; p++) {
		if (kmm_read(w->t, w->addr + p * PAGE_SIZE, buf, PAGE_SIZE)) {
			fprintf(stderr, "page %lu: read failed\n", p);
			return -1;
		}
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			if (buf[k] != word_of(p, k)) {
				fprintf(stderr, "page %lu word %lu: %#llx\n", p, k,
					(unsigned long long)buf[k]);
				return -1;
			}
	}
	kmm_task_switch_out(w->m);
	return 0;
}

/* Reclaim until the task's pages are in swap (two passes: young PTEs first activate). */
static unsigned long reclaim_all(struct reclaim_anon *w)
{
	unsigned long got = 0;
	kmm_cpu_enter(w->m, 0);
	for (int pass = 0; pass < 8 && vmstat(w->m, "nr_anon_pages") > 0; pass++)
		got += kmm_reclaim_pages(w->m, PAGES);
	kmm_cpu_exit(w->m);
	return got;
}

/* No errors: each page written once, in runs. */
static void test_batched_swapout(void)
{
	struct reclaim_anon w;
	expect_int_eq(world_setup(&w), 0);
	long out0 = vmstat(w.m, "pswpout");
	reclaim_all(&w);
	struct kmm_swap_area_info info;
	kmm_swap_area_info(w.m, 0, &info);
	expect_i64_eq(vmstat(w.m, "nr_anon_pages"), 0);
	expect_u64_eq(info.writes, PAGES);
	expect_i64_eq(vmstat(w.m, "pswpout") - out0, (long)PAGES);
	expect_i64_eq(vmstat(w.m, "nr_vmscan_write"), (long)PAGES);
	expect_u64_eq(info.write_errors, 0);
	/* Batches of up to 32 neighbouring slots: 64 requests at best; at most one per 8 pages. */
	expect_u64_ge(info.write_ios, PAGES / 32);
	expect_u64_le(info.write_ios, PAGES / 8);
	printf("%lu pages written in %lu requests\n", info.writes, info.write_ios);
	expect_all_valid(w.m);
	expect_int_eq(world_check(&w), 0);
	kmm_swap_area_info(w.m, 0, &info);
	expect_u64_eq(info.reads, PAGES);
	expect_u64_le(info.read_ios, PAGES / 4); /* readahead windows of 8 slots */
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

/* One write error in a batch: that page alone stays, dirty; the rest goes out. */
static void test_batched_write_error(enum kmm_swap_write_fault kind, const char *why)
{
	struct reclaim_anon w;
	expect_int_eq(world_setup(&w), 0);
	kmm_swap_set_write_fault(w.m, kind);
	struct kmm_fault_attr *fw = kmm_swap_fail_write(w.m);
	fw->nth = fw->calls + 100;
	fw->enabled = true;
	size_t mark = kmm_test_log_mark(w.m);
	kmm_cpu_enter(w.m, 0);
	unsigned long got = kmm_reclaim_pages(w.m, PAGES / 2);
	kmm_cpu_exit(w.m);
	fw->enabled = false;

	struct kmm_swap_area_info info;
	kmm_swap_area_info(w.m, 0, &info);
	expect_u64_eq(info.write_errors, 1);
	/*
	 * Every written page was freed; the failed one is unmapped (its PTE holds
	 * the swap entry) but in memory: the task's pages are the ones written,
	 * the ones still mapped, and that one.
	 */
	expect_i64_eq(vmstat(w.m, "pswpout"), (long)info.writes);
	expect_i64_eq(vmstat(w.m, "nr_vmscan_write"), (long)info.writes);
	expect_i64_eq((long)info.writes + vmstat(w.m, "nr_anon_pages") + 1, (long)PAGES);
	expect_i64_ge((long)info.writes, 99);
	expect_u64_eq(got, info.writes);
	printf("%s: %lu pages written in %lu requests\n", why, info.writes, info.write_ios);
	/*
	 * The same run with another kind of error: the same pages written; a
	 * short write costs one request more (the half page reaches the file).
	 */
	static unsigned long eio_writes, eio_ios;
	if (kind == KMM_SWAP_FAULT_EIO) {
		eio_writes = info.writes;
		eio_ios = info.write_ios;
	} else if (eio_ios) {
		expect_u64_eq(info.writes, eio_writes);
		expect_u64_eq(info.write_ios, eio_ios + (kind == KMM_SWAP_FAULT_SHORT));
	}
	const char *log = kmm_test_log_since(w.m, mark);
	const char *hit = strstr(log, "Write-error on swap-device");
	expect_ptr_not_null(hit);
	if (hit) {
		expect_str_contains(hit, why);
		expect_str_contains(hit, "page kept in memory (1 write errors)");
		expect_ptr_null(strstr(hit + 1, "Write-error on swap-device"));
	}
	/* The page whose write failed is the one page left in the swap cache, not freed. */
	struct kmm_swap_totals tot;
	kmm_swap_totals(w.m, &tot);
	expect_u64_eq(tot.cached, 1);
	expect_u64_eq(tot.write_errors, 1);
	expect_all_valid(w.m);

	/* Reclaim again without errors: everything goes; then every byte comes back. */
	reclaim_all(&w);
	expect_i64_eq(vmstat(w.m, "nr_anon_pages"), 0);
	kmm_swap_area_info(w.m, 0, &info);
	expect_u64_eq(info.writes, PAGES);
	expect_u64_eq(info.write_errors, 1);
	expect_int_eq(world_check(&w), 0);
	kmm_swap_area_info(w.m, 0, &info);
	expect_u64_eq(info.read_errors, 0);
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

static void test_batched_eio(void)
{
	test_batched_write_error(KMM_SWAP_FAULT_EIO, "Input/output error");
}

static void test_batched_enospc(void)
{
	test_batched_write_error(KMM_SWAP_FAULT_ENOSPC, "No space left on device");
}

static void test_batched_short(void)
{
	test_batched_write_error(KMM_SWAP_FAULT_SHORT, "Input/output error");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_batched_swapout);
	run_test(test_batched_eio);
	run_test(test_batched_enospc);
	run_test(test_batched_short);
	return kmm_test_done();
}
