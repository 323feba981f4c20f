/*
 * Swap I/O, the swap cache and the swap header: pages of random bytes go
 * out and come back byte for byte (into other pages); readahead brings the
 * neighbours; a byte changed in the file behind kmm's back is caught by the
 * checksum; every injected error path (write EIO, ENOSPC, short write; read
 * EIO) returns an error, keeps the data and is counted; the header round
 * trips with util-linux (mkswap, blkid, swaplabel) when installed; bad
 * input gets a message naming the file.
 */
#include "swap_util.h"
#include <errno.h>

static struct kmm_machine *boot(void)
{
	return kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
}

static void expect_valid(struct kmm_machine *m)
{
	struct kmm_error err = {0};
	int r = kmm_swap_validate(m, &err);
	if (r)
		fprintf(stderr, "validate: %s\n", err.msg);
	expect_int_eq(r, 0);
}

static unsigned long vmstat_value(struct kmm_machine *m, const char *name)
{
	struct kmm_buf b;
	char key[64];
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *p = strstr(b.data, key);
	unsigned long v = p ? strtoul(p + strlen(key), NULL, 10) : ~0UL;
	kmm_buf_free(&b);
	return v;
}

/* Pages out and back, compared byte for byte; counters and meminfo along the way. */
static void test_round_trip(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	expect_int_eq(swap_test_swapon(m, "rt.swap", 8UL << 20, -1), 0);
	const int n = 256 * (int)kmm_test_scale > 1500 ? 1500 : 256 * (int)kmm_test_scale;
	swp_entry_t *entries = calloc((size_t)n, sizeof(*entries));
	unsigned char *copy = malloc((size_t)n * PAGE_SIZE);
	unsigned long pswpout0 = vmstat_value(m, "pswpout"), pswpin0 = vmstat_value(m, "pswpin");

	kmm_cpu_enter(m, 0);
	for (int i = 0; i < n; i++) {
		struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, page, &rng);
		memcpy(copy + (size_t)i * PAGE_SIZE, page_address(m, page), PAGE_SIZE);
		int werr;
		entries[i] = swap_test_out(m, page, &werr);
		expect_int_eq(werr, 0);
		/* Scribble over the page before it is freed: what comes back must be the file's. */
		memset(page_address(m, page), 0x5a, PAGE_SIZE);
		kmm_put_page(m, page);
	}
	kmm_cpu_exit(m);
	expect_u64_eq(vmstat_value(m, "pswpout") - pswpout0, (uint64_t)n);
	expect_valid(m);

	/*
	 * Back in the reverse order, each into a fresh page: faults on
	 * neighbouring slots grow the readahead window (swapin_nr_pages), which
	 * then brings the neighbours.
	 */
	int faults = 0;
	for (int k = 0; k < n; k++) {
		int i = n - 1 - k;
		struct kmm_page *page = lookup_swap_cache(m, entries[i]);
		if (!page) {
			int err;
			page = swapin_readahead(m, entries[i], GFP_KERNEL, &err);
			expect_ptr_not_null(page);
			faults++;
		}
		expect_true(PageUptodate(page));
		expect_int_eq(
		    memcmp(page_address(m, page), copy + (size_t)i * PAGE_SIZE, PAGE_SIZE), 0);
		swap_free(m, entries[i]); /* mapped: the PTE no longer holds the slot */
		SetPageLocked(page);
		expect_true(try_to_free_swap(m, page));
		ClearPageLocked(page);
		kmm_put_page(m, page);
	}
	/* Every page was read exactly once; readahead saved most faults. */
	expect_u64_eq(vmstat_value(m, "pswpin") - pswpin0, (uint64_t)n);
	expect_u64_eq(vmstat_value(m, "swap_ra"), (uint64_t)(n - faults));
	expect_u64_eq(vmstat_value(m, "swap_ra_hit"), (uint64_t)(n - faults));
	expect_true(faults < n / 2);
	struct kmm_swap_totals t;
	kmm_swap_totals(m, &t);
	expect_u64_eq(t.cached, 0);
	expect_u64_eq(t.free, t.total);
	expect_valid(m);
	free(entries);
	free(copy);
	kmm_machine_destroy(m);
}

/* The swap cache: lookup, SwapCached in meminfo, the slot's SWAP_HAS_CACHE, readahead slots. */
static void test_swap_cache(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 1);
	expect_int_eq(swap_test_swapon(m, "cache.swap", 4UL << 20, -1), 0);
	struct kmm_page *pages[10];
	swp_entry_t e[10];
	kmm_cpu_enter(m, 0);
	for (int i = 0; i < 10; i++) {
		pages[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, pages[i], &rng);
		e[i] = get_swap_page(m);
		SetPageLocked(pages[i]);
		SetPageSwapBacked(pages[i]);
		expect_int_eq(add_to_swap_cache(m, pages[i], e[i], GFP_KERNEL), 0);
		ClearPageLocked(pages[i]);
		expect_int_eq(page_ref_count(pages[i]), 2);
		expect_true(PageSwapCache(pages[i]));
		expect_x64_eq(pages[i]->private, e[i].val);
		expect_int_eq(swap_map_value(m, e[i]), SWAP_HAS_CACHE);
	}
	kmm_cpu_exit(m);
	/* Consecutive slots of one cluster. */
	for (int i = 1; i < 10; i++)
		expect_u64_eq(swp_offset(e[i]), swp_offset(e[0]) + (unsigned long)i);
	struct kmm_page *p = lookup_swap_cache(m, e[3]);
	expect_ptr_eq(p, pages[3]);
	kmm_put_page(m, p);
	expect_ptr_null(lookup_swap_cache(m, swp_entry(0, swp_offset(e[9]) + 1)));
	/* A second add of the same slot is refused. */
	expect_int_eq(swapcache_prepare(m, e[2]), -EEXIST);

	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "meminfo", &b);
	expect_str_contains(b.data, "SwapCached:           40 kB\n");
	expect_str_contains(b.data, "Cached:                0 kB\n");
	kmm_buf_free(&b);

	/* The readahead window of 8 aligned slots holds the in-use ones only, the target first. */
	swp_entry_t ra[16];
	int n = swap_cluster_readahead_slots(m, e[5], ra, 16);
	unsigned long base = swp_offset(e[5]) & ~7UL;
	int want = 0;
	for (int i = 0; i < 10; i++)
		want += (swp_offset(e[i]) & ~7UL) == base;
	expect_int_eq(n, want);
	expect_x64_eq(ra[0].val, e[5].val);

	/* Pages still mapped by a "PTE" are not freed from the cache; unmapped ones are. */
	expect_int_eq(swap_duplicate(m, e[0]), 0);
	for (int i = 0; i < 10; i++) {
		SetPageLocked(pages[i]);
		expect_int_eq(try_to_free_swap(m, pages[i]), i != 0);
		ClearPageLocked(pages[i]);
	}
	expect_int_eq(swap_map_value(m, e[0]), 1 | SWAP_HAS_CACHE);
	expect_valid(m);
	swap_free(m, e[0]);
	SetPageLocked(pages[0]);
	expect_true(try_to_free_swap(m, pages[0]));
	ClearPageLocked(pages[0]);
	expect_true(PageDirty(pages[0])); /* memory holds the only copy */
	/* A slot nobody holds: no page, and the caller is told why. */
	int rerr;
	expect_ptr_null(swapin_readahead(m, swp_entry(0, 1000), GFP_KERNEL, &rerr));
	expect_int_eq(rerr, -ENOENT);
	for (int i = 0; i < 10; i++)
		kmm_put_page(m, pages[i]);
	struct kmm_swap_totals t;
	kmm_swap_totals(m, &t);
	expect_u64_eq(t.cached, 0);
	expect_u64_eq(t.free, t.total);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* A byte changed in the file: the read fails with -EIO and says where. */
static void test_corruption(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	char path[512];
	kmm_rng_seed(&rng, kmm_test_seed + 2);
	expect_int_eq(swap_test_swapon(m, "bad.swap", 4UL << 20, -1), 0);
	swap_test_path(path, sizeof(path), "bad.swap");
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
	swap_test_fill(m, page, &rng);
	int werr;
	swp_entry_t e = swap_test_out(m, page, &werr);
	expect_int_eq(werr, 0);

	/* Flip one bit behind kmm's back. */
	int fd = open(path, O_RDWR);
	unsigned char byte;
	off_t at = (off_t)(swp_offset(e) * PAGE_SIZE + 1234);
	expect_int_eq(pread(fd, &byte, 1, at), 1);
	byte ^= 0x10;
	expect_int_eq(pwrite(fd, &byte, 1, at), 1);
	size_t mark = kmm_test_log_mark(m);
	int err;
	expect_ptr_null(swapin_readahead(m, e, GFP_KERNEL, &err));
	expect_int_eq(err, -EIO);
	const char *log = kmm_test_log_since(m, mark);
	char want[600], real[512];
	expect_ptr_not_null(realpath(path, real));
	snprintf(want, sizeof(want),
		 "Read-error on swap-device (%s, slot %lu, entry %#lx): checksum mismatch", real,
		 swp_offset(e), e.val);
	expect_str_contains(log, want);
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, 0, &info);
	expect_u64_eq(info.csum_errors, 1);
	expect_u64_eq(info.read_errors, 1);
	/* The failed page is not left in the cache; the slot is still the PTE's. */
	expect_ptr_null(lookup_swap_cache(m, e));
	expect_int_eq(swap_map_value(m, e), 1);

	/* Put the byte back: the same slot reads correctly. */
	byte ^= 0x10;
	expect_int_eq(pwrite(fd, &byte, 1, at), 1);
	close(fd);
	unsigned char copy[PAGE_SIZE];
	memcpy(copy, page_address(m, page), PAGE_SIZE);
	struct kmm_page *back = swapin_readahead(m, e, GFP_KERNEL, &err);
	expect_ptr_not_null(back);
	expect_int_eq(memcmp(page_address(m, back), copy, PAGE_SIZE), 0);
	kmm_put_page(m, back);
	kmm_put_page(m, page);
	free_swap_and_cache(m, e);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* Every injected error: the write fails, the page stays dirty, nothing is lost. */
static void test_injected_errors(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 3);
	expect_int_eq(swap_test_swapon(m, "inj.swap", 4UL << 20, -1), 0);
	const enum kmm_swap_write_fault kinds[] = {KMM_SWAP_FAULT_EIO, KMM_SWAP_FAULT_ENOSPC,
						   KMM_SWAP_FAULT_SHORT};
	const int want[] = {-EIO, -ENOSPC, -EIO};
	for (int k = 0; k < 3; k++) {
		struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, page, &rng);
		unsigned char copy[PAGE_SIZE];
		memcpy(copy, page_address(m, page), PAGE_SIZE);
		kmm_swap_set_write_fault(m, kinds[k]);
		struct kmm_fault_attr *fw = kmm_swap_fail_write(m);
		fw->nth = fw->calls + 1;
		fw->enabled = true;
		size_t mark = kmm_test_log_mark(m);
		ClearPageDirty(page);
		int werr;
		swp_entry_t e = swap_test_out(m, page, &werr);
		fw->enabled = false;
		expect_int_eq(werr, want[k]);
		expect_true(PageDirty(page));
		expect_true(PageSwapCache(page)); /* still there for the PTEs that name it */
		const char *log = kmm_test_log_since(m, mark);
		expect_str_contains(log, "Write-error on swap-device");
		expect_str_contains(log, "page kept in memory");
		struct kmm_swap_area_info info;
		kmm_swap_area_info(m, 0, &info);
		expect_u64_eq(info.write_errors, (uint64_t)k + 1);
		/* Reading the slot now would give no data: refused, not garbage. */
		struct kmm_page *probe = kmm_alloc_pages(m, GFP_KERNEL, 0);
		expect_int_eq(swap_readpage(m, probe, e), -EIO);
		kmm_put_page(m, probe);
		/* The page's bytes are intact; the retry succeeds and reads back. */
		expect_int_eq(memcmp(page_address(m, page), copy, PAGE_SIZE), 0);
		SetPageLocked(page);
		expect_int_eq(swap_duplicate(m, e), 0);
		expect_int_eq(swap_writepage(m, page, e), 0);
		delete_from_swap_cache(m, page);
		ClearPageLocked(page);
		memset(page_address(m, page), 0, PAGE_SIZE);
		kmm_put_page(m, page);
		int err;
		struct kmm_page *back = swapin_readahead(m, e, GFP_KERNEL, &err);
		expect_ptr_not_null(back);
		expect_int_eq(memcmp(page_address(m, back), copy, PAGE_SIZE), 0);
		kmm_put_page(m, back);
		free_swap_and_cache(m, e);
		expect_valid(m);
	}

	/* An injected read error: -EIO with a message; the next try reads the data. */
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
	swap_test_fill(m, page, &rng);
	unsigned char copy[PAGE_SIZE];
	memcpy(copy, page_address(m, page), PAGE_SIZE);
	int werr, err;
	swp_entry_t e = swap_test_out(m, page, &werr);
	kmm_put_page(m, page);
	struct kmm_fault_attr *fr = kmm_swap_fail_read(m);
	fr->nth = fr->calls + 1;
	fr->enabled = true;
	size_t mark = kmm_test_log_mark(m);
	expect_ptr_null(swapin_readahead(m, e, GFP_KERNEL, &err));
	fr->enabled = false;
	expect_int_eq(err, -EIO);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "I/O error (injected)");
	struct kmm_page *back = swapin_readahead(m, e, GFP_KERNEL, &err);
	expect_ptr_not_null(back);
	expect_int_eq(memcmp(page_address(m, back), copy, PAGE_SIZE), 0);
	kmm_put_page(m, back);
	free_swap_and_cache(m, e);
	struct kmm_swap_totals t;
	kmm_swap_totals(m, &t);
	expect_u64_eq(t.write_errors, 3);
	expect_u64_eq(t.read_errors, 4); /* 3 probes of unwritten slots, 1 injected */
	expect_u64_eq(t.free, t.total);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* Batched I/O: neighbouring slots in one write and one read; a failure hits its page only. */
static void test_batched_io(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 6);
	expect_int_eq(swap_test_swapon(m, "batch.swap", 4UL << 20, -1), 0);
	enum {
		N = 40
	};
	struct kmm_page *pages[N], *back[N];
	swp_entry_t e[N];
	int errs[N];
	static unsigned char copy[N][PAGE_SIZE];
	kmm_cpu_enter(m, 0);
	expect_int_eq(get_swap_pages(m, 32, e), 32);
	expect_int_eq(get_swap_pages(m, N - 32, e + 32), N - 32);
	for (int i = 0; i < N; i++) {
		pages[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
		back[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, pages[i], &rng);
		memcpy(copy[i], page_address(m, pages[i]), PAGE_SIZE);
	}
	kmm_cpu_exit(m);
	/* The 10th page's write fails (ENOSPC); the pages around it are written. */
	kmm_swap_set_write_fault(m, KMM_SWAP_FAULT_ENOSPC);
	struct kmm_fault_attr *fw = kmm_swap_fail_write(m);
	fw->nth = fw->calls + 10;
	fw->enabled = true;
	expect_int_eq(swap_writepages(m, pages, e, N, errs), 1);
	fw->enabled = false;
	for (int i = 0; i < N; i++)
		expect_int_eq(errs[i], i == 9 ? -ENOSPC : 0);
	expect_true(PageDirty(pages[9]));
	/* The 20th read fails (injected); the failed write's slot reads as never written. */
	struct kmm_fault_attr *fr = kmm_swap_fail_read(m);
	fr->nth = fr->calls + 20;
	fr->enabled = true;
	expect_int_eq(swap_readpages(m, back, e, N, errs), 2);
	fr->enabled = false;
	for (int i = 0; i < N; i++) {
		expect_int_eq(errs[i], i == 9 || i == 19 ? -EIO : 0);
		if (!errs[i])
			expect_int_eq(memcmp(page_address(m, back[i]), copy[i], PAGE_SIZE), 0);
	}
	/* Retry: everything is there. */
	expect_int_eq(swap_writepages(m, pages + 9, e + 9, 1, errs), 0);
	expect_int_eq(swap_readpages(m, back, e, N, errs), 0);
	for (int i = 0; i < N; i++) {
		expect_int_eq(memcmp(page_address(m, back[i]), copy[i], PAGE_SIZE), 0);
		put_swap_page(m, e[i]);
		kmm_put_page(m, pages[i]);
		kmm_put_page(m, back[i]);
	}
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, 0, &info);
	expect_u64_eq(info.write_errors, 1);
	expect_u64_eq(info.read_errors, 2);
	expect_u64_eq(info.writes, N);
	expect_u64_eq(info.reads, 2 * N - 2);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/*
 * The write plug as reclaim uses it: 32 pages of one batch queued, written
 * by one pwritev per run of neighbouring slots. A short write injected at
 * the 10th page splits the run: 9 pages in one request, the half page, 22
 * pages in one request; the 10th page alone is dirty, its slot unreadable.
 */
static void test_write_plug(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 7);
	expect_int_eq(swap_test_swapon(m, "plug.swap", 4UL << 20, -1), 0);
	enum {
		N = SWAP_PLUG_MAX
	};
	struct kmm_page *pages[N + 1], *back[N];
	swp_entry_t e[N + 1];
	static unsigned char copy[N][PAGE_SIZE];
	kmm_cpu_enter(m, 0);
	expect_int_eq(get_swap_pages(m, N, e), N);
	e[N] = get_swap_page(m);
	for (int i = 0; i <= N; i++) {
		pages[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, pages[i], &rng);
		SetPageLocked(pages[i]);
		SetPageSwapBacked(pages[i]);
		expect_int_eq(add_to_swap_cache(m, pages[i], e[i], GFP_KERNEL), 0);
		if (i < N) {
			back[i] = kmm_alloc_pages(m, GFP_KERNEL, 0);
			memcpy(copy[i], page_address(m, pages[i]), PAGE_SIZE);
		}
	}
	kmm_cpu_exit(m);
	for (int i = 1; i < N; i++)
		expect_u64_eq(swp_offset(e[i]), swp_offset(e[0]) + (unsigned long)i);

	struct swap_plug plug;
	swap_write_plug(&plug);
	expect_int_eq(swap_write_unplug(m, &plug), 0); /* nothing queued: nothing written */
	for (int i = 0; i < N; i++)
		expect_true(swap_writepage_plugged(&plug, pages[i], e[i]));
	expect_false(swap_writepage_plugged(&plug, pages[N], e[N])); /* full: the caller writes */
	expect_int_eq(plug.nr, N);

	kmm_swap_set_write_fault(m, KMM_SWAP_FAULT_SHORT);
	struct kmm_fault_attr *fw = kmm_swap_fail_write(m);
	fw->nth = fw->calls + 10;
	fw->enabled = true;
	size_t mark = kmm_test_log_mark(m);
	expect_int_eq(swap_write_unplug(m, &plug), 1);
	fw->enabled = false;
	for (int i = 0; i < N; i++) {
		expect_int_eq(plug.errs[i], i == 9 ? -EIO : 0);
		expect_int_eq(PageDirty(pages[i]), i == 9);
		expect_int_eq(PageError(pages[i]), i == 9);
		expect_false(PageWriteback(pages[i]));
	}
	char line[160];
	snprintf(line, sizeof(line),
		 "slot %lu, entry %#lx): Input/output error; page kept in memory", swp_offset(e[9]),
		 e[9].val);
	expect_str_contains(kmm_test_log_since(m, mark), line);
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, 0, &info);
	expect_u64_eq(info.writes, N - 1);
	expect_u64_eq(info.write_errors, 1);
	expect_u64_eq(info.write_ios, 3);

	/* Everything but the 10th reads back in one request; the 10th was never written. */
	int errs[N];
	expect_int_eq(swap_readpages(m, back, e, N, errs), 1);
	for (int i = 0; i < N; i++) {
		expect_int_eq(errs[i], i == 9 ? -EIO : 0);
		if (i != 9)
			expect_int_eq(memcmp(page_address(m, back[i]), copy[i], PAGE_SIZE), 0);
	}
	kmm_swap_area_info(m, 0, &info);
	expect_u64_eq(info.read_ios, 2);
	expect_u64_eq(info.reads, N - 1);

	/* The 10th page, still in memory, goes out on the next plug; the full batch reads back. */
	swap_write_plug(&plug);
	expect_true(swap_writepage_plugged(&plug, pages[9], e[9]));
	expect_int_eq(swap_write_unplug(m, &plug), 0);
	expect_int_eq(swap_readpages(m, back, e, N, errs), 0);
	for (int i = 0; i < N; i++)
		expect_int_eq(memcmp(page_address(m, back[i]), copy[i], PAGE_SIZE), 0);
	kmm_swap_area_info(m, 0, &info);
	expect_u64_eq(info.write_ios, 4);
	expect_u64_eq(info.read_ios, 3);
	expect_u64_eq(info.writes, N);

	kmm_cpu_enter(m, 0);
	for (int i = 0; i <= N; i++) {
		delete_from_swap_cache(m, pages[i]);
		ClearPageLocked(pages[i]);
		ClearPageDirty(pages[i]);
		ClearPageError(pages[i]);
		kmm_put_page(m, pages[i]);
		if (i < N)
			kmm_put_page(m, back[i]);
	}
	kmm_cpu_exit(m);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* --- The header -------------------------------------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len, off_t size)
{
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (len && pwrite(fd, data, len, 0) != (ssize_t)len)
		perror("pwrite");
	if (size && ftruncate(fd, size))
		perror("ftruncate");
	close(fd);
}

static void expect_swapon_error(struct kmm_machine *m, const char *path, uint64_t size,
				const char *msg)
{
	struct kmm_error err = {0};
	int r = kmm_swapon(m, path, size, -1, 0, NULL, &err);
	expect_true(r < 0);
	expect_str_contains(err.msg, path);
	expect_str_contains(err.msg, msg);
}

static void test_bad_input(void)
{
	struct kmm_machine *m = boot();
	char path[512];
	unsigned char page[65536];
	swap_test_path(path, sizeof(path), "missing.swap");
	expect_swapon_error(m, path, 0, "cannot open");

	swap_test_path(path, sizeof(path), "text.txt");
	memset(page, 'x', sizeof(page));
	write_file(path, page, 8192, 0);
	expect_swapon_error(m, path, 0, "not a swap area");
	/* With a size, a file that is not a swap area is not overwritten. */
	expect_swapon_error(m, path, 1UL << 20, "does not overwrite");
	unsigned char check[16];
	int fd = open(path, O_RDONLY);
	expect_int_eq(pread(fd, check, sizeof(check), 4090), (long)sizeof(check));
	close(fd);
	expect_int_eq(check[0], 'x');

	swap_test_path(path, sizeof(path), "tiny.swap");
	write_file(path, page, 100, 0);
	expect_swapon_error(m, path, 0, "too small");
	expect_swapon_error(m, "/dev/null", 0, "not a regular file");
	expect_swapon_error(m, "/tmp", 0, "cannot open");
	swap_test_path(path, sizeof(path), "small.swap");
	expect_swapon_error(m, path, 5 * PAGE_SIZE, "too small");

	/* A header for 64 KiB pages. */
	memset(page, 0, sizeof(page));
	memcpy(page + 65536 - 10, "SWAPSPACE2", 10);
	swap_test_path(path, sizeof(path), "ppc64.swap");
	write_file(path, page, 65536, 1 << 20);
	expect_swapon_error(m, path, 0, "made for 65536-byte pages");

	unsigned char uuid[16] = {0};
	swap_test_path(path, sizeof(path), "short.swap");
	swap_header_make(page, 1000, uuid, NULL);
	write_file(path, page, PAGE_SIZE, 100 * PAGE_SIZE);
	expect_swapon_error(m, path, 0, "shorter than its header says");

	swap_test_path(path, sizeof(path), "v0.swap");
	memset(page, 0, PAGE_SIZE);
	memcpy(page + PAGE_SIZE - 10, "SWAP-SPACE", 10);
	write_file(path, page, PAGE_SIZE, 100 * PAGE_SIZE);
	expect_swapon_error(m, path, 0, "version 0");

	swap_test_path(path, sizeof(path), "v2.swap");
	swap_header_make(page, 100, uuid, NULL);
	page[1024] = 2;
	write_file(path, page, PAGE_SIZE, 100 * PAGE_SIZE);
	expect_swapon_error(m, path, 0, "version 2");

	/* Fields of the other endianness are read as Linux reads them. */
	swap_test_path(path, sizeof(path), "be.swap");
	swap_header_make(page, 100, uuid, "bigendian");
	unsigned int v = __builtin_bswap32(1), last = __builtin_bswap32(99);
	memcpy(page + 1024, &v, 4);
	memcpy(page + 1028, &last, 4);
	write_file(path, page, PAGE_SIZE, 100 * PAGE_SIZE);
	struct kmm_error err = {0};
	int type = kmm_swapon(m, path, 0, -1, 0, NULL, &err);
	expect_int_eq(type, 0);
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, type, &info);
	expect_u64_eq(info.pages, 99);
	expect_str_eq(info.label, "bigendian");
	/* The same file twice, bad arguments. */
	expect_swapon_error(m, path, 0, "already swap area 0");
	expect_int_eq(kmm_swapon(m, path, 0, 40000, 0, NULL, &err), -EINVAL);
	expect_str_contains(err.msg, "priority 40000 out of range");
	expect_valid(m);
	kmm_machine_destroy(m);

	/* --swap on the command line: a bad file stops the boot with its name. */
	struct kmm_config cfg;
	kmm_config_init(&cfg);
	cfg.quiet = true;
	char opt[600];
	swap_test_path(path, sizeof(path), "text.txt");
	snprintf(opt, sizeof(opt), "%s:0", path);
	expect_int_eq(kmm_config_option(&cfg, "--swap", opt, &err), 2);
	expect_str_eq(cfg.swap[0].path, path);
	expect_ptr_null(kmm_boot(&cfg, &err));
	expect_str_contains(err.msg, "not a swap area");
	kmm_config_init(&cfg);
	cfg.quiet = true;
	swap_test_path(path, sizeof(path), "boot.swap");
	snprintf(opt, sizeof(opt), "%s:4M:7", path);
	expect_int_eq(kmm_config_option(&cfg, "--swap", opt, &err), 2);
	expect_u64_eq(cfg.swap[0].size, 4UL << 20);
	expect_int_eq(cfg.swap[0].prio, 7);
	expect_true(kmm_config_option(&cfg, "--swap", "nosize", &err) < 0);
	expect_str_contains(err.msg, "FILE:SIZE[:PRIO]");
	m = kmm_boot(&cfg, &err);
	expect_ptr_not_null(m);
	kmm_swap_area_info(m, 0, &info);
	expect_int_eq(info.prio, 7);
	expect_u64_eq(info.pages, 1023);
	kmm_machine_destroy(m);
}

/* kmm's files pass blkid and swaplabel; mkswap's files work in kmm. */
static void test_util_linux(void)
{
	if (!swap_test_have("mkswap") || !swap_test_have("blkid")) {
		printf("(util-linux not installed: skipped)\n");
		return;
	}
	struct kmm_machine *m = boot();
	char path[512], cmd[2048], out[4096], want[256];
	struct kmm_error err = {0};
	struct kmm_swap_area_info info;

	swap_test_path(path, sizeof(path), "kmm-made.swap");
	int type = kmm_swapon(m, path, 8UL << 20, -1, 0, "kmmlabel", &err);
	expect_int_eq(type, 0);
	kmm_swap_area_info(m, type, &info);
	snprintf(cmd, sizeof(cmd), "blkid -p -o export '%s'", path);
	expect_int_eq(swap_test_run(cmd, out, sizeof(out)), 0);
	expect_str_contains(out, "TYPE=swap\n");
	expect_str_contains(out, "LABEL=kmmlabel\n");
	expect_str_contains(out, "VERSION=1\n");
	snprintf(want, sizeof(want), "UUID=%s\n", info.uuid);
	expect_str_contains(out, want);
	if (swap_test_have("swaplabel")) {
		snprintf(cmd, sizeof(cmd), "swaplabel '%s'", path);
		expect_int_eq(swap_test_run(cmd, out, sizeof(out)), 0);
		expect_str_contains(out, "LABEL: kmmlabel");
		snprintf(want, sizeof(want), "UUID:  %s", info.uuid);
		expect_str_contains(out, want);
	}
	expect_int_eq(kmm_swapoff(m, path, &err), 0);

	swap_test_path(path, sizeof(path), "mkswap-made.swap");
	snprintf(cmd, sizeof(cmd),
		 "rm -f '%s' && truncate -s 6M '%s' && mkswap -L fromlinux "
		 "-U 0123abcd-1111-4222-8333-456789abcdef '%s'",
		 path, path, path);
	expect_int_eq(swap_test_run(cmd, out, sizeof(out)), 0);
	type = kmm_swapon(m, path, 0, 3, 0, NULL, &err);
	if (type < 0)
		fprintf(stderr, "%s\n", err.msg);
	expect_int_eq(type, 0);
	kmm_swap_area_info(m, type, &info);
	expect_str_eq(info.label, "fromlinux");
	expect_str_eq(info.uuid, "0123abcd-1111-4222-8333-456789abcdef");
	expect_u64_eq(info.pages, 1535); /* 1536 pages less the header */
	expect_int_eq(info.prio, 3);
	/* And it carries data. */
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
	swap_test_fill(m, page, &rng);
	int werr, rerr;
	swp_entry_t e = swap_test_out(m, page, &werr);
	expect_int_eq(werr, 0);
	struct kmm_page *back = swapin_readahead(m, e, GFP_KERNEL, &rerr);
	expect_ptr_not_null(back);
	expect_int_eq(memcmp(page_address(m, back), page_address(m, page), PAGE_SIZE), 0);
	kmm_put_page(m, back);
	kmm_put_page(m, page);
	free_swap_and_cache(m, e);

	/* mkswap for 64 KiB pages: refused with the page size named. */
	swap_test_path(path, sizeof(path), "pagesize.swap");
	snprintf(cmd, sizeof(cmd),
		 "rm -f '%s' && truncate -s 8M '%s' && mkswap --pagesize 65536 '%s'", path, path,
		 path);
	if (swap_test_run(cmd, out, sizeof(out)) == 0)
		expect_swapon_error(m, path, 0, "made for 65536-byte pages");
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* The checksum sees any single changed byte and a page read from the wrong slot. */
static void test_checksum(void)
{
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 4);
	static unsigned char page[PAGE_SIZE];
	for (size_t i = 0; i < PAGE_SIZE; i++)
		page[i] = (unsigned char)kmm_rng_next(&rng);
	swp_entry_t e = swp_entry(1, 77);
	uint64_t sum = swap_page_checksum(page, e);
	expect_u64_ne(sum, swap_page_checksum(page, swp_entry(1, 78)));
	expect_u64_ne(sum, swap_page_checksum(page, swp_entry(2, 77)));
	for (size_t i = 0; i < PAGE_SIZE; i++) {
		unsigned char old = page[i];
		page[i] ^= (unsigned char)(1u << (i % 8));
		if (swap_page_checksum(page, e) == sum) {
			fprintf(stderr, "byte %zu: checksum unchanged\n", i);
			expect_true(false);
		}
		page[i] = old;
	}
	expect_u64_eq(swap_page_checksum(page, e), sum);
	/*
	 * Two changes that a lane without its rotation would cancel: bit 31 of
	 * two 32-bit words of one lane (words w and w + 64), and two such words
	 * swapped.
	 */
	uint32_t words[PAGE_SIZE / 4];
	memcpy(words, page, sizeof(words));
	for (size_t w = 0; w + 64 < PAGE_SIZE / 4; w += 37) {
		uint32_t x = words[w], y = words[w + 64];
		words[w] ^= 1u << 31;
		words[w + 64] ^= 1u << 31;
		expect_u64_ne(swap_page_checksum(words, e), sum);
		words[w] = y;
		words[w + 64] = x;
		if (x != y)
			expect_u64_ne(swap_page_checksum(words, e), sum);
		words[w] = x;
		words[w + 64] = y;
	}
	expect_u64_eq(swap_page_checksum(words, e), sum);
	/* Every single changed word (each bit of it), and a pair of pages' words exchanged. */
	for (size_t w = 0; w < PAGE_SIZE / 4; w++) {
		uint32_t x = words[w];
		words[w] ^= 1u << (w % 32);
		expect_u64_ne(swap_page_checksum(words, e), sum);
		words[w] = x;
	}
	static unsigned char zero[PAGE_SIZE];
	expect_u64_ne(swap_page_checksum(zero, swp_entry(0, 0)), 0);
}

/* Swap PTEs as Linux lays them out on x86-64. */
static void test_swp_pte(void)
{
	/* Linux: __swp_entry(type 1, offset 5) = (~5 << 14 >> 5) | 1 << 59. */
	uint64_t pte = swp_entry_to_pte(swp_entry(1, 5));
	expect_x64_eq(pte, ((~5ULL << 14) >> 5) | (1ULL << 59));
	expect_u64_eq(pte & 1, 0);	  /* not present */
	expect_u64_eq(pte & (1 << 8), 0); /* not PROTNONE */
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + 5);
	for (int i = 0; i < 10000; i++) {
		unsigned long type = kmm_rng_below(&rng, MAX_SWAPFILES);
		unsigned long offset = kmm_rng_below(&rng, swp_max_offset());
		swp_entry_t e = swp_entry(type, offset);
		swp_entry_t back = pte_to_swp_entry(swp_entry_to_pte(e));
		check_u64_eq(back.val, e.val);
		check_u64_eq(swp_type(back), type);
		check_u64_eq(swp_offset(back), offset);
		expect_u64_ne(swp_entry_to_pte(e), 0);
	}
	expect_u64_eq(swp_max_offset(), 1ULL << 50);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_swp_pte);
	run_test(test_checksum);
	run_test(test_round_trip);
	run_test(test_swap_cache);
	run_test(test_corruption);
	run_test(test_injected_errors);
	run_test(test_batched_io);
	run_test(test_write_plug);
	run_test(test_bad_input);
	run_test(test_util_linux);
	swap_test_cleanup();
	return kmm_test_done();
}
