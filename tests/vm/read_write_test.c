/*
 * read(2)/write(2) through the page cache (src/vm/read_write.c): exact
 * counters and page states on small files (the read-ahead windows, the
 * two-touch promotion, dirty accounting and fsync, short reads at the end),
 * the errors of bad calls, and files twice the size of RAM written and read
 * back with every word checked, with the checkers of every layer between
 * steps, in deterministic and in concurrent mode (KMM_TEST_CONCURRENT: the
 * TSan build runs this).
 */
#include "../reclaim/reclaim_util.h"
#include <sys/stat.h>

static void tmp_path(char *path, size_t len)
{
	snprintf(path, len, "/tmp/kmm-rw-XXXXXX");
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
}

static struct kmm_file *open_path(struct kmm_machine *m, const char *path, int flags)
{
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, path, flags, 0644, &err);
	if (!f)
		fprintf(stderr, "%s\n", err.msg);
	return f;
}

/* pressure.c's pattern: word w of page p of the file. */
static uint64_t word_at(uint64_t page, uint64_t w)
{
	return page * 1000003ULL + w;
}

static void fill_chunk(uint64_t *buf, uint64_t first_page, size_t pages)
{
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			buf[p * (PAGE_SIZE / 8) + w] = word_at(first_page + p, w);
}

static size_t check_chunk(const uint64_t *buf, uint64_t first_page, size_t pages)
{
	size_t bad = 0;
	for (size_t p = 0; p < pages; p++)
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			bad += buf[p * (PAGE_SIZE / 8) + w] != word_at(first_page + p, w);
	return bad;
}

static void test_write_fsync_read_exact(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	char path[64];
	tmp_path(path, sizeof(path));
	struct kmm_file *f = open_path(m, path, KMM_O_RDWR | KMM_O_TRUNC);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "io", 0);
	size_t len = 10 * PAGE_SIZE + 100;
	char *src = malloc(len), *dst = malloc(len + PAGE_SIZE);
	for (size_t i = 0; i < len; i++)
		src[i] = (char)(i * 7 + i / 4096);
	long dirtied0 = vmstat(m, "nr_dirtied"), out0 = vmstat(m, "pgpgout");
	long in0 = vmstat(m, "pgpgin");
	expect_int_eq(kmm_file_write(t, f, 0, src, len), (long)len);
	expect_u64_eq(kmm_file_size(f), len);
	unsigned long pages, dirty;
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 11);
	expect_u64_eq(dirty, 11);
	expect_int_eq(vmstat(m, "nr_dirty"), 11);
	expect_int_eq(vmstat(m, "nr_dirtied") - dirtied0, 11);
	/* Nothing was read: whole pages, and a tail page beyond the old end. */
	expect_int_eq(vmstat(m, "pgpgin") - in0, 0);
	expect_int_eq(vmstat(m, "pgpgout") - out0, 0);
	expect_all_valid(m);

	/* Rewriting 10 bytes across a page boundary dirties nothing new. */
	expect_int_eq(kmm_file_write(t, f, 2 * PAGE_SIZE - 5, src + 2 * PAGE_SIZE - 5, 10), 10);
	expect_int_eq(vmstat(m, "nr_dirtied") - dirtied0, 11);

	expect_int_eq(kmm_file_fsync(f), 0);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(dirty, 0);
	expect_int_eq(vmstat(m, "nr_dirty"), 0);
	expect_int_eq(vmstat(m, "pgpgout") - out0, 44); /* KiB, as Linux */
	struct stat st;
	expect_int_eq(stat(path, &st), 0);
	expect_u64_eq((uint64_t)st.st_size, len);
	int fd = open(path, O_RDONLY);
	expect_int_eq(read(fd, dst, len + 1), (long)len);
	close(fd);
	expect_int_eq(memcmp(dst, src, len), 0);

	/* Reads: whole, short at the end, nothing at or past it. */
	memset(dst, 0, len);
	expect_int_eq(kmm_file_read(t, f, 0, dst, len + PAGE_SIZE), (long)len);
	expect_int_eq(memcmp(dst, src, len), 0);
	expect_int_eq(kmm_file_read(t, f, len - 50, dst, 100), 50);
	expect_int_eq(memcmp(dst, src + len - 50, 50), 0);
	expect_int_eq(kmm_file_read(t, f, len, dst, 100), 0);
	expect_int_eq(kmm_file_read(t, f, len + 5 * PAGE_SIZE, dst, 100), 0);
	/* A partial write into a page that is not cached reads it first. */
	kmm_file_close(f);
	f = open_path(m, path, KMM_O_RDWR); /* the last close dropped the cache */
	expect_ptr_not_null(f);
	in0 = vmstat(m, "pgpgin");
	expect_int_eq(kmm_file_write(t, f, 3 * PAGE_SIZE + 10, "xyz", 3), 3);
	expect_int_eq(vmstat(m, "pgpgin") - in0, 4);
	expect_int_eq(kmm_file_read(t, f, 3 * PAGE_SIZE, dst, PAGE_SIZE), (long)PAGE_SIZE);
	memcpy(src + 3 * PAGE_SIZE + 10, "xyz", 3);
	expect_int_eq(memcmp(dst, src + 3 * PAGE_SIZE, PAGE_SIZE), 0);
	/* Writing past the end leaves a hole of zeros. */
	expect_int_eq(kmm_file_write(t, f, 20 * PAGE_SIZE, "end", 3), 3);
	expect_u64_eq(kmm_file_size(f), 20 * PAGE_SIZE + 3);
	expect_int_eq(kmm_file_read(t, f, 15 * PAGE_SIZE, dst, 8), 8);
	expect_int_eq(memcmp(dst, "\0\0\0\0\0\0\0\0", 8), 0);
	expect_all_valid(m);
	kmm_file_close(f);
	expect_int_eq(stat(path, &st), 0);
	expect_u64_eq((uint64_t)st.st_size, 20 * PAGE_SIZE + 3);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(path);
	free(src);
	free(dst);
}

static void test_readahead_windows_and_promotion(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	char path[64];
	expect_int_eq(make_pattern_file(path, sizeof(path), 64 * PAGE_SIZE, 3), 0);
	struct kmm_file *f = open_path(m, path, KMM_O_RDONLY);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "ra", 0);
	unsigned char buf[2 * PAGE_SIZE];
	unsigned long pages, dirty;
	long in0 = vmstat(m, "pgpgin");
	/* A one-page read at the start: a first window of 4 pages, marker on page 1. */
	expect_int_eq(kmm_file_read(t, f, 0, buf, PAGE_SIZE), (long)PAGE_SIZE);
	expect_int_eq(buf[77], pattern_byte(3, 77));
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 4);
	expect_int_eq(vmstat(m, "pgpgin") - in0, 16);
	/* Page 1 is the marker: the next window, 8 pages (4..11). */
	expect_int_eq(kmm_file_read(t, f, PAGE_SIZE, buf, PAGE_SIZE), (long)PAGE_SIZE);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 12);
	expect_int_eq(kmm_file_read(t, f, 2 * PAGE_SIZE, buf, 2 * PAGE_SIZE), 2 * (long)PAGE_SIZE);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 12);
	/* Page 4, the new marker: 16 pages (12..27); then 32, the largest window. */
	expect_int_eq(kmm_file_read(t, f, 4 * PAGE_SIZE, buf, PAGE_SIZE), (long)PAGE_SIZE);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 28);
	expect_int_eq(kmm_file_read(t, f, 12 * PAGE_SIZE, buf, PAGE_SIZE), (long)PAGE_SIZE);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 60);
	expect_int_eq(vmstat(m, "pgpgin") - in0, 60 * 4);
	expect_int_eq(vmstat(m, "pgmajfault"), 0); /* read(2) takes no faults */
	/* A random read far away reads what it asks for. */

	/* Two touches promote: page 0 was read once (referenced), now again (active). */
	struct kmm_page *p0 = find_get_page(f->f_mapping, 0);
	expect_ptr_not_null(p0);
	expect_true(PageReferenced(p0) && !PageActive(p0));
	expect_int_eq(kmm_file_read(t, f, 0, buf, 10), 10);
	expect_true(PageActive(p0));
	/* Small reads within one page touch it once. */
	struct kmm_page *p2 = find_get_page(f->f_mapping, 2);
	ClearPageReferenced(p2);
	expect_int_eq(kmm_file_read(t, f, 2 * PAGE_SIZE, buf, 100), 100);
	expect_true(PageReferenced(p2) && !PageActive(p2));
	expect_int_eq(kmm_file_read(t, f, 2 * PAGE_SIZE + 100, buf, 100), 100);
	expect_true(PageReferenced(p2) && !PageActive(p2));
	expect_int_eq(buf[5], pattern_byte(3, 2 * PAGE_SIZE + 105));
	kmm_put_page(m, p0);
	kmm_put_page(m, p2);
	expect_all_valid(m);
	kmm_file_close(f);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(path);
}

/* The dirty limits: with dirty_background_ratio 0 every 32 dirtied pages are written back. */
static void test_dirty_limits(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	char path[64];
	tmp_path(path, sizeof(path));
	struct kmm_file *f = open_path(m, path, KMM_O_RDWR | KMM_O_TRUNC);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "io", 0);
	struct kmm_error err = {0};
	char *buf = calloc(1, 64 * PAGE_SIZE);
	/* Defaults: 64 pages stay dirty (far below 10% of the machine). */
	expect_int_eq(kmm_file_write(t, f, 0, buf, 64 * PAGE_SIZE), 64 * (long)PAGE_SIZE);
	expect_int_eq(vmstat(m, "nr_dirty"), 64);
	expect_int_eq(kmm_sysctl_set(m, "dirty_background_ratio", "0", &err), 0);
	struct kmm_buf b;
	kmm_buf_init(&b);
	expect_int_eq(kmm_sysctl_get(m, "dirty_background_ratio", &b), 0);
	expect_int_eq(atoi(b.data), 0);
	kmm_buf_free(&b);
	long out0 = vmstat(m, "pgpgout");
	expect_int_eq(kmm_file_write(t, f, 64 * PAGE_SIZE, buf, 40 * PAGE_SIZE),
		      40 * (long)PAGE_SIZE);
	/* At the 32nd page: all 96 dirty pages written; at the end of the call, the other 8. */
	expect_int_eq(vmstat(m, "nr_dirty"), 0);
	expect_int_eq(vmstat(m, "pgpgout") - out0, 104 * 4);
	expect_int_eq(kmm_sysctl_set(m, "dirty_ratio", "101", &err), -EINVAL);
	expect_all_valid(m);
	free(buf);
	kmm_file_close(f);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(path);
}

static void test_bad_calls(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	char path[64];
	expect_int_eq(make_pattern_file(path, sizeof(path), 4 * PAGE_SIZE, 1), 0);
	struct kmm_task *t = vm_task(m, "bad", 0);
	char buf[16];
	expect_int_eq(kmm_file_read(t, NULL, 0, buf, 1), -EBADF);
	expect_int_eq(kmm_file_write(t, NULL, 0, buf, 1), -EBADF);
	struct kmm_file *ro = open_path(m, path, KMM_O_RDONLY);
	struct kmm_file *wo = open_path(m, path, KMM_O_WRONLY);
	expect_int_eq(kmm_file_write(t, ro, 0, buf, 1), -EBADF);
	expect_int_eq(kmm_file_read(t, wo, 0, buf, 1), -EBADF);
	expect_int_eq(kmm_file_read(t, ro, 0, NULL, 1), -EINVAL);
	expect_int_eq(kmm_file_read(t, ro, KMM_FILE_MAX_BYTES + 1, buf, 1), -EINVAL);
	expect_int_eq(kmm_file_write(t, wo, KMM_FILE_MAX_BYTES, buf, 1), -EFBIG);
	expect_int_eq(kmm_file_write(t, wo, 0, buf, 0), 0);
	/* A write ending at the largest size is cut there. */
	expect_int_eq(kmm_file_write(t, wo, KMM_FILE_MAX_BYTES - 3, buf, 16), 3);
	kmm_file_close(wo);
	struct kmm_file *stale = ro;
	kmm_file_close(ro);
	expect_int_eq(kmm_file_read(t, stale, 0, buf, 1), -EBADF);
	/* A dead task does no I/O. */
	struct kmm_file *f = open_path(m, path, KMM_O_RDWR);
	kmm_task_exit(t, 0);
	expect_int_eq(kmm_file_read(t, f, 0, buf, 1), -ESRCH);
	kmm_file_close(f);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(path);
}

/* --- Files larger than RAM ------------------------------------------------------------------ */

#define CHUNK_PAGES 64

struct bigfile {
	struct kmm_machine *m;
	struct kmm_task *t[2];
	struct kmm_file *f[2];
	char path[2][64];
	uint64_t pages; /* per file */
	uint64_t next[2];
	int pass[2]; /* 0: write, 1 and 2: read */
	size_t bad[2];
	long err[2];
	uint64_t *buf[2];
};

/* One chunk of CPU @cpu's file: written, or read back and checked. */
static bool bigfile_step(struct kmm_machine *m, int cpu, void *arg)
{
	struct bigfile *b = arg;
	(void)m;
	if (b->pass[cpu] > 2 || b->err[cpu])
		return false;
	uint64_t first = b->next[cpu];
	size_t n = (size_t)kmm_min((uint64_t)CHUNK_PAGES, b->pages - first);
	uint64_t off = first * PAGE_SIZE;
	long r;
	if (b->pass[cpu] == 0) {
		fill_chunk(b->buf[cpu], first, n);
		r = kmm_file_write(b->t[cpu], b->f[cpu], off, b->buf[cpu], n * PAGE_SIZE);
	} else {
		memset(b->buf[cpu], 0, n * PAGE_SIZE);
		r = kmm_file_read(b->t[cpu], b->f[cpu], off, b->buf[cpu], n * PAGE_SIZE);
		b->bad[cpu] += check_chunk(b->buf[cpu], first, n);
	}
	if (r != (long)(n * PAGE_SIZE)) {
		b->err[cpu] = r < 0 ? r : -1000;
		return false;
	}
	b->next[cpu] += n;
	if (b->next[cpu] == b->pages) {
		b->next[cpu] = 0;
		b->pass[cpu]++;
	}
	return true;
}

static void run_bigfile(enum kmm_run_mode mode, int ncpus)
{
	struct bigfile *b = calloc(1, sizeof(*b));
	char opts[64];
	unsigned long mem_mib = 32;
	snprintf(opts, sizeof(opts), "--mem %luM --nodes 1 --cpus %d", mem_mib, ncpus);
	b->m = vm_boot(opts);
	expect_ptr_not_null(b->m);
	/* Twice the RAM in all, at scale 1. */
	b->pages = (uint64_t)mem_mib * 256 * 2 * kmm_test_scale / (uint64_t)ncpus;
	for (int c = 0; c < ncpus; c++) {
		tmp_path(b->path[c], sizeof(b->path[c]));
		b->f[c] = open_path(b->m, b->path[c], KMM_O_RDWR | KMM_O_TRUNC);
		expect_ptr_not_null(b->f[c]);
		b->t[c] = vm_task(b->m, "big", c);
		b->buf[c] = malloc(CHUNK_PAGES * PAGE_SIZE);
	}
	long out0 = vmstat(b->m, "pgpgout"), in0 = vmstat(b->m, "pgpgin");
	long refault0 = vmstat(b->m, "workingset_refault_file");
	if (mode == KMM_RUN_DETERMINISTIC) {
		/* In rounds of one chunk a CPU, kswapd between them, every checker after each. */
		bool more = true;
		for (unsigned long round = 0; more; round++) {
			more = false;
			for (int c = 0; c < ncpus; c++)
				more |= bigfile_step(b->m, c, b);
			kmm_task_switch_out(b->m);
			kmm_cpu_enter(b->m, 0);
			kmm_kswapd_run_pending(b->m);
			kmm_cpu_exit(b->m);
			if (round % 16 == 0)
				expect_all_valid(b->m);
		}
	} else {
		kmm_task_switch_out(b->m);
		expect_int_eq(kmm_run(b->m, mode, bigfile_step, b), 0);
		kmm_task_switch_out(b->m);
	}
	expect_all_valid(b->m);
	for (int c = 0; c < ncpus; c++) {
		expect_int_eq(b->err[c], 0);
		expect_u64_eq(b->bad[c], 0);
		expect_int_eq(b->pass[c], 3);
		expect_u64_eq(kmm_file_size(b->f[c]), b->pages * PAGE_SIZE);
	}
	/*
	 * With no flusher, pages written last can still be dirty: in a
	 * concurrent run one CPU may finish early, and the other's last pages
	 * then stay cached (and dirty) through its reads. fsync writes them.
	 * Then every page was written back exactly once, nothing lost.
	 */
	for (int c = 0; c < ncpus; c++)
		expect_int_eq(kmm_file_fsync(b->f[c]), 0);
	expect_int_eq(vmstat(b->m, "nr_dirty"), 0);
	long written = vmstat(b->m, "pgpgout") - out0, read = vmstat(b->m, "pgpgin") - in0;
	long refaults = vmstat(b->m, "workingset_refault_file") - refault0;
	uint64_t total = b->pages * (uint64_t)ncpus;
	printf("%s: %" PRIu64 " pages a file, pgpgout %ld KiB, pgpgin %ld KiB, refaults %ld, "
	       "pgsteal_kswapd %ld pgsteal_direct %ld\n",
	       mode == KMM_RUN_DETERMINISTIC ? "deterministic" : "concurrent", b->pages, written,
	       read, refaults, vmstat(b->m, "pgsteal_kswapd"), vmstat(b->m, "pgsteal_direct"));
	expect_i64_eq(written, (int64_t)total * 4);
	/*
	 * Two passes over files twice the RAM: most pages come from the disk,
	 * as refaults. At least 3/4 of them in rounds (all of them, in fact);
	 * concurrently, a CPU that runs ahead leaves the other's file more of
	 * the RAM (a loaded CI run read 74.1%), so more than half there.
	 */
	int64_t most = mode == KMM_RUN_DETERMINISTIC ? 3 : 1, of = most + 1;
	expect_i64_ge(read, (int64_t)total * 4 * 2 * most / of);
	expect_i64_le(read, (int64_t)total * 4 * 2);
	expect_i64_ge(refaults, (int64_t)total * 2 * most / of);
	for (int c = 0; c < ncpus; c++) {
		kmm_file_close(b->f[c]);
		kmm_task_reap(b->t[c]);
		/* The host file holds what was written. */
		int fd = open(b->path[c], O_RDONLY);
		size_t bad = 0;
		for (uint64_t p = 0; p < b->pages; p += CHUNK_PAGES) {
			size_t n = (size_t)kmm_min((uint64_t)CHUNK_PAGES, b->pages - p);
			if (pread(fd, b->buf[c], n * PAGE_SIZE, (off_t)(p * PAGE_SIZE)) !=
			    (ssize_t)(n * PAGE_SIZE))
				bad++;
			else
				bad += check_chunk(b->buf[c], p, n);
		}
		close(fd);
		expect_u64_eq(bad, 0);
		unlink(b->path[c]);
		free(b->buf[c]);
	}
	kmm_machine_destroy(b->m);
	free(b);
}

static void test_bigger_than_ram_deterministic(void)
{
	run_bigfile(KMM_RUN_DETERMINISTIC, 1);
}

static void test_bigger_than_ram_concurrent(void)
{
	run_bigfile(KMM_RUN_CONCURRENT, 2);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_write_fsync_read_exact);
	run_test(test_readahead_windows_and_promotion);
	run_test(test_dirty_limits);
	run_test(test_bad_calls);
	run_test(test_bigger_than_ram_deterministic);
	run_test(test_bigger_than_ram_concurrent);
	return kmm_test_done();
}
