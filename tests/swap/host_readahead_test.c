/*
 * The host's read-ahead of a sequential swap-in (vm.swap_host_readahead_kb,
 * swap_state.c host_readahead): a host thread reads the swap file ahead of
 * the faults into the host's page cache. It must change nothing kmm can
 * see, so the same task is swapped out and faulted back with it on and off
 * and everything is compared:
 *  - every byte comes back;
 *  - the swap counters (pswpin, swap_ra, swap_ra_hit, pgmajfault) and the
 *    area's reads and requests are equal;
 *  - it hands ranges to the host on a sequential swap-in and none when off,
 *    and none on a random one (the window never widens);
 *  - the tunable refuses what is out of range, and swapoff stops the thread.
 * The read-ahead thread runs beside the faults, so the TSan build runs
 * this too (KMM_TEST_CONCURRENT).
 */
#include "../reclaim/reclaim_util.h"
#include "kmm_test_machine.h"
#include <kmm/swap.h>

#define PAGES 4096UL /* 16 MiB of anonymous memory in a 48 MiB machine */

struct run {
	long pswpin, swap_ra, swap_ra_hit, pgmajfault;
	struct kmm_swap_area_info info;
};

static uint64_t word_of(unsigned long page, unsigned long k)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (k * 0xbf58476d1ce4e5b9ULL) ^ kmm_test_seed;
}

/* The page visited @i-th: in address order, or scattered (an odd stride). */
static unsigned long nth_page(unsigned long i, bool sequential)
{
	return sequential ? i : (i * 2731UL) % PAGES;
}

/*
 * Boot, fill, swap everything out, fault it back in the given order with
 * the tunable at @ra_kb; the counters of the swap-in go to @r.
 */
static void swap_round_trip(const char *ra_kb, bool sequential, struct run *r)
{
	char swap[64], opts[160];
	snprintf(swap, sizeof(swap), "/tmp/kmm-hostra-%d.swap", getpid());
	snprintf(opts, sizeof(opts), "--mem 48M --nodes 1 --cpus 1 --swap %s:32M", swap);
	struct kmm_machine *m = vm_boot(opts);
	expect_true(m != NULL);
	struct kmm_error err = {0};
	expect_int_eq(kmm_sysctl_set(m, "swap_host_readahead_kb", ra_kb, &err), 0);
	struct kmm_task *t = vm_task(m, "reader", 0);
	long a = kmm_mmap(t, 0, PAGES * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_true(a > 0);
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = 0; p < PAGES; p++) {
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			buf[k] = word_of(p, k);
		expect_int_eq(kmm_write(t, (unsigned long)a + p * PAGE_SIZE, buf, PAGE_SIZE), 0);
	}
	kmm_task_switch_out(m);
	kmm_cpu_enter(m, 0);
	for (int pass = 0; pass < 8 && vmstat(m, "nr_anon_pages") > 0; pass++)
		kmm_reclaim_pages(m, PAGES);
	kmm_cpu_exit(m);
	expect_i64_eq(vmstat(m, "nr_anon_pages"), 0);

	long in0 = vmstat(m, "pswpin"), ra0 = vmstat(m, "swap_ra");
	long hit0 = vmstat(m, "swap_ra_hit"), maj0 = vmstat(m, "pgmajfault");
	int bad = 0;
	for (unsigned long i = 0; i < PAGES && !bad; i++) {
		unsigned long p = nth_page(i, sequential);
		expect_int_eq(kmm_read(t, (unsigned long)a + p * PAGE_SIZE, buf, PAGE_SIZE), 0);
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			if (buf[k] != word_of(p, k)) {
				fprintf(stderr, "page %lu word %lu differs\n", p, k);
				bad = 1;
				break;
			}
	}
	expect_int_eq(bad, 0);
	kmm_task_switch_out(m);
	r->pswpin = vmstat(m, "pswpin") - in0;
	r->swap_ra = vmstat(m, "swap_ra") - ra0;
	r->swap_ra_hit = vmstat(m, "swap_ra_hit") - hit0;
	r->pgmajfault = vmstat(m, "pgmajfault") - maj0;
	expect_int_eq(kmm_swap_area_info(m, 0, &r->info), 0);
	expect_all_valid(m);

	/* swapoff stops the area's read-ahead thread (a leak or hang shows under the sanitizers). */
	expect_int_eq(kmm_swapoff(m, swap, &err), 0);
	expect_i64_eq(vmstat(m, "pswpin") - in0, r->pswpin); /* everything was already in */
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(swap);
}

static void expect_same_run(const struct run *a, const struct run *b)
{
	expect_i64_eq(a->pswpin, b->pswpin);
	expect_i64_eq(a->swap_ra, b->swap_ra);
	expect_i64_eq(a->swap_ra_hit, b->swap_ra_hit);
	expect_i64_eq(a->pgmajfault, b->pgmajfault);
	expect_u64_eq(a->info.reads, b->info.reads);
	expect_u64_eq(a->info.read_ios, b->info.read_ios);
}

static void test_sequential(void)
{
	struct run on, off;
	swap_round_trip("2048", true, &on);
	swap_round_trip("0", true, &off);
	expect_same_run(&on, &off);
	expect_i64_eq(on.pswpin, (long)PAGES);
	/* 16 MiB read 2 MiB ahead, a new range every MiB: at least 8 ranges, at most one a window. */
	expect_u64_ge(on.info.host_ra_reqs, 8);
	expect_u64_le(on.info.host_ra_reqs, on.info.read_ios);
	expect_u64_eq(off.info.host_ra_reqs, 0);
	expect_true(on.info.read_ns > 0);
	printf("sequential: %lu pages in %lu reads, %lu ranges read ahead by the host\n",
	       on.info.reads, on.info.read_ios, on.info.host_ra_reqs);
}

static void test_random(void)
{
	struct run on, off;
	swap_round_trip("2048", false, &on);
	swap_round_trip("0", false, &off);
	expect_same_run(&on, &off);
	expect_u64_eq(on.info.host_ra_reqs, 0);
}

static void test_bad_values(void)
{
	struct kmm_machine *m = vm_boot("--mem 16M --nodes 1 --cpus 1");
	expect_true(m != NULL);
	struct kmm_error err = {0};
	expect_int_eq(kmm_sysctl_set(m, "swap_host_readahead_kb", "-1", &err), -EINVAL);
	expect_str_eq(err.msg, "expected swap_host_readahead_kb from 0 to 2^20, found '-1'");
	expect_int_eq(kmm_sysctl_set(m, "swap_host_readahead_kb", "1048577", &err), -EINVAL);
	struct kmm_buf b;
	kmm_buf_init(&b);
	expect_int_eq(kmm_sysctl_get(m, "swap_host_readahead_kb", &b), 0);
	expect_str_eq(b.data, "2048\n");
	kmm_buf_free(&b);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_sequential);
	run_test(test_random);
	run_test(test_bad_values);
	return kmm_test_done();
}
