/*
 * kswapd time slices in deterministic mode (kmm_kswapd_run_pending_budget):
 * a reader fills a machine's page cache with kswapd never run, so kswapd is
 * woken and far from its high watermark; a slice of 0 pages does nothing,
 * a slice of 32 reclaims between 32 and 63 pages (one batch may go past)
 * and leaves kswapd pending with its request; the next unlimited run
 * finishes the job as the same run (pageoutrun counts it once) and kswapd
 * is idle; every checker passes in between. Then kswapd run at its
 * wake-ups (kmm_kswapd_set_wakeup_slice): the reader never stalls.
 */
#include "reclaim_util.h"
#include <limits.h>

#define MiB (1UL << 20)

static void test_slices(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	char path[64];
	size_t size = 96 * MiB;
	expect_int_eq(make_pattern_file(path, sizeof(path), size, kmm_test_seed), 0);
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, path, KMM_O_RDONLY, 0, &err);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "reader", 0);
	expect_ptr_not_null(t);

	/* Read until the cache fills memory: the allocator wakes kswapd, nobody runs it. */
	static unsigned char buf[32 * PAGE_SIZE];
	size_t off = 0;
	for (; off < size && !(kmm_kswapd_pending(m) && vmstat(m, "pgsteal_direct") > 0);
	     off += sizeof(buf)) {
		expect_int_eq(kmm_file_read(t, f, off, buf, sizeof(buf)), (long)sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i += 4093)
			expect_int_eq(buf[i], pattern_byte(kmm_test_seed, off + i));
	}
	expect_u64_lt(off, size);
	expect_int_eq(kmm_kswapd_pending(m), 1);
	expect_all_valid(m);

	/* A slice of nothing: nothing happens. */
	long steal = vmstat(m, "pgsteal_kswapd"), runs = vmstat(m, "pageoutrun");
	expect_u64_eq(kmm_kswapd_run_pending_budget(m, 0), 0);
	expect_i64_eq(vmstat(m, "pgsteal_kswapd"), steal);
	expect_i64_eq(vmstat(m, "pageoutrun"), runs);
	expect_int_eq(kmm_kswapd_pending(m), 1);

	/* One slice of 32 pages: that much (one batch may go past), then still pending. */
	unsigned long got = kmm_kswapd_run_pending_budget(m, 32);
	expect_u64_ge(got, 32);
	expect_u64_lt(got, 64);
	expect_i64_eq(vmstat(m, "pgsteal_kswapd"), steal + (long)got);
	expect_i64_eq(vmstat(m, "pageoutrun"), runs + 1);
	expect_int_eq(kmm_kswapd_pending(m), 1);
	expect_all_valid(m);

	/* The rest of the run (the same run: pageoutrun stays): kswapd balances and goes idle. */
	long before = vmstat(m, "pgsteal_kswapd");
	expect_int_eq(kmm_kswapd_run_pending(m), 1);
	expect_i64_ge(vmstat(m, "pgsteal_kswapd"), before + 1);
	expect_i64_eq(vmstat(m, "pageoutrun"), runs + 1);
	expect_int_eq(kmm_kswapd_pending(m), 0);
	expect_u64_eq(kmm_kswapd_run_pending_budget(m, 1000), 0);
	expect_all_valid(m);

	/*
	 * kswapd run at its wake-up: reading on through the rest of the file
	 * (more than RAM), it balances the node inside the allocation that
	 * woke it, so the reader never reclaims itself (wake-ups by
	 * allocations that may not reclaim, like the watermark boost's, still
	 * wait for a run_pending).
	 */
	kmm_kswapd_set_wakeup_slice(m, ULONG_MAX);
	long direct = vmstat(m, "pgsteal_direct"), kswapd = vmstat(m, "pgsteal_kswapd");
	for (size_t o = off; o < size; o += sizeof(buf)) {
		expect_int_eq(kmm_file_read(t, f, o, buf, sizeof(buf)), (long)sizeof(buf));
		expect_int_eq(buf[o % 4093], pattern_byte(kmm_test_seed, o + o % 4093));
	}
	expect_i64_eq(vmstat(m, "pgsteal_direct"), direct);
	expect_i64_ge(vmstat(m, "pgsteal_kswapd"), kswapd + (long)((size - off) / PAGE_SIZE) / 2);
	kmm_kswapd_set_wakeup_slice(m, 0);
	expect_all_valid(m);

	/* The data is still right after reclaim. */
	for (size_t o = 0; o < off; o += 8 * MiB) {
		expect_int_eq(kmm_file_read(t, f, o, buf, PAGE_SIZE), (long)PAGE_SIZE);
		for (size_t i = 0; i < PAGE_SIZE; i += 511)
			expect_int_eq(buf[i], pattern_byte(kmm_test_seed, o + i));
	}
	kmm_file_close(f);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(path);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_slices);
	return kmm_test_done();
}
