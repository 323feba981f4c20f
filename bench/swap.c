/*
 * bench/swap: how fast pages go out to a swap file and come back, beside
 * the raw speed of the same disk measured with dd in the same run.
 *
 * Linux counterpart: none in the tree; swap throughput is what
 * `vmstat 1`'s si/so columns show under pressure.
 *
 * What is measured, for SIZE MiB of pages of random bytes (256 MiB; 64
 * under --quick), on a swap file in the build's scratch directory (so on
 * the disk the build is on):
 *
 *   swap-out  pages go the way reclaim sends them, in batches of 32 (the
 *             SWAP_CLUSTER_MAX pages shrink_inactive_list isolates at once):
 *             get_swap_page, add_to_swap_cache, a PTE reference
 *             (swap_duplicate) per page, then swap_writepages for the batch
 *             (checksums + one pwritev per run of neighbouring slots), then
 *             delete_from_swap_cache; at the end fdatasync of the file, so
 *             the bytes are on the disk when the clock stops.
 *   swap-in   the file's pages are first dropped from the host's page cache
 *             (posix_fadvise DONTNEED after the fdatasync), then every page
 *             is faulted back in slot order with swapin_readahead (8-slot
 *             windows: one page read and checksummed per slot), into freshly
 *             allocated pages, and the slot freed.
 *   dd write  dd bs=1M conv=fdatasync of a file of the same size from a file
 *             of random bytes in the page cache: the disk's sequential write
 *             speed, flush included. (Random bytes: the virtual disk here
 *             writes zeros three times faster than data, which would flatter
 *             the disk.)
 *   dd read   dd bs=1M of that file after the same fdatasync + DONTNEED:
 *             the disk's sequential read speed from the same cold start as
 *             swap-in (the host's readahead helps both alike).
 *
 * Each figure is the median of several runs (a fresh swap area each run),
 * after one untimed run that warms the host memory behind kmm's pages.
 * The goal (issue: swap I/O >= 80% of the disk's raw speed) is checked as
 * time: swap time <= 1.25 x dd time.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "swap/swap.h"
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 32 /* SWAP_CLUSTER_MAX */

struct run {
	double out_mibs, in_mibs, dd_write_mibs, dd_read_mibs;
};

static char dir[512];

static void die(const char *what)
{
	fprintf(stderr, "swap: %s\n", what);
	exit(1);
}

static double seconds_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e9;
}

static struct run one_run(struct kmm_machine *m, struct kmm_page **pages, unsigned long n,
			  unsigned long mib)
{
	struct run r;
	struct kmm_error err = {0};
	char path[600];
	swp_entry_t *entries = calloc(n, sizeof(*entries));
	snprintf(path, sizeof(path), "%s/bench.swap", dir);
	unlink(path);
	int type = kmm_swapon(m, path, (uint64_t)(n + 1) * 4096, -1, 0, NULL, &err);
	if (type < 0)
		die(err.msg);

	/* swap-out */
	kmm_cpu_enter(m, 0);
	uint64_t t0 = bench_now_ns();
	for (unsigned long b = 0; b < n; b += BATCH) {
		int errs[BATCH], nb = (int)(n - b < BATCH ? n - b : BATCH);
		for (int k = 0; k < nb; k++) {
			struct kmm_page *page = pages[b + (unsigned long)k];
			swp_entry_t e = get_swap_page(m);
			if (!e.val)
				die("swap full");
			SetPageLocked(page);
			SetPageSwapBacked(page);
			if (add_to_swap_cache(m, page, e, GFP_KERNEL))
				die("add_to_swap_cache failed");
			swap_duplicate(m, e);
			entries[b + (unsigned long)k] = e;
		}
		if (swap_writepages(m, pages + b, entries + b, nb, errs))
			die("swap_writepages failed");
		for (int k = 0; k < nb; k++) {
			delete_from_swap_cache(m, pages[b + (unsigned long)k]);
			ClearPageLocked(pages[b + (unsigned long)k]);
		}
	}
	int fd = open(path, O_RDONLY);
	fdatasync(fd);
	r.out_mibs = (double)mib / seconds_since(t0);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);

	/* swap-in, checking a few pages' bytes besides the checksums */
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < n; i++) {
		struct kmm_page *page = lookup_swap_cache(m, entries[i]);
		int rerr;
		if (!page)
			page = swapin_readahead(m, entries[i], GFP_KERNEL, &rerr);
		if (!page)
			die("swap-in failed");
		if (i % 4096 == 0 &&
		    memcmp(page_address(m, page), page_address(m, pages[i]), PAGE_SIZE))
			die("a page came back different");
		swap_free(m, entries[i]);
		SetPageLocked(page);
		try_to_free_swap(m, page);
		ClearPageLocked(page);
		kmm_put_page(m, page);
	}
	r.in_mibs = (double)mib / seconds_since(t0);
	kmm_cpu_exit(m);
	if (kmm_swapoff(m, path, &err))
		die(err.msg);
	unlink(path);

	/* The same disk, raw. */
	struct bench_dd dd = bench_dd(dir, mib);
	r.dd_write_mibs = dd.write_mibs;
	r.dd_read_mibs = dd.read_mibs;
	free(entries);
	return r;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	argc = bench_init(&o, argc, argv, "swap", NULL, NULL);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	unsigned long mib = o.quick ? 64 : 256, n = mib * 256;
	int reps = bench_reps(&o, 5, 2);
	snprintf(dir, sizeof(dir), "%s", "bench-swap-XXXXXX");
	if (!mkdtemp(dir))
		die("cannot make a scratch directory here");

	/* The dd source: random bytes, read once so they sit in the page cache. */
	if (bench_dd_source(dir, mib))
		die("cannot make the dd source file");
	char opts[128];
	struct kmm_error err = {0};
	snprintf(opts, sizeof(opts), "--mem %luM --nodes 1 --cpus 1", 3 * mib + 128);
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die(err.msg);
	struct kmm_page **pages = calloc(n, sizeof(*pages));
	struct kmm_rng rng;
	kmm_rng_seed(&rng, 42);
	kmm_cpu_enter(m, 0);
	for (unsigned long i = 0; i < n; i++) {
		pages[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
		if (!pages[i])
			die("out of simulated memory");
		uint64_t *w = page_address(m, pages[i]);
		for (size_t k = 0; k < PAGE_SIZE / 8; k++)
			w[k] = kmm_rng_next(&rng);
	}
	kmm_cpu_exit(m);

	/* One untimed run first: swap-in's fresh pages then come from warm host memory. */
	one_run(m, pages, n, mib);
	double out[16], in[16], ddw[16], ddr[16];
	for (int i = 0; i < reps; i++) {
		struct run r = one_run(m, pages, n, mib);
		out[i] = r.out_mibs;
		in[i] = r.in_mibs;
		ddw[i] = r.dd_write_mibs;
		ddr[i] = r.dd_read_mibs;
	}
	double mo = bench_median(out, reps), mi = bench_median(in, reps);
	double mdw = bench_median(ddw, reps), mdr = bench_median(ddr, reps);

	bench_section("Swap I/O beside the raw disk (%lu MiB, median of %d runs, MiB/s)", mib,
		      reps);
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "direction", -10);
	bench_table_col(&t, "kmm swap", 9);
	bench_table_col(&t, "dd", 9);
	bench_table_col(&t, "kmm / dd", 9);
	bench_table_header(&t);
	bench_table_cell(&t, "%s", "write");
	bench_table_num(&t, mo);
	bench_table_num(&t, mdw);
	bench_table_num(&t, mo / mdw);
	bench_table_cell(&t, "%s", "read");
	bench_table_num(&t, mi);
	bench_table_num(&t, mdr);
	bench_table_num(&t, mi / mdr);
	printf("\n");
	bench_goal_header();
	bench_goal("swap-out time / dd write time", mdw / mo, 1.25, "x");
	bench_goal("swap-in time / dd read time", mdr / mi, 1.25, "x");
	printf("\n");
	bench_figure("swap_out_mibs", mo, "MiB/s");
	bench_figure("swap_in_mibs", mi, "MiB/s");
	bench_figure("swap_dd_write_mibs", mdw, "MiB/s");
	bench_figure("swap_dd_read_mibs", mdr, "MiB/s");
	bench_figure("swap_out_vs_dd", mo / mdw, "ratio");
	bench_figure("swap_in_vs_dd", mi / mdr, "ratio");

	kmm_cpu_enter(m, 0);
	for (unsigned long i = 0; i < n; i++)
		kmm_put_page(m, pages[i]);
	kmm_cpu_exit(m);
	free(pages);
	kmm_machine_destroy(m);
	bench_dd_cleanup(dir);
	rmdir(dir);
	return 0;
}
