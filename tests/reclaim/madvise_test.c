/*
 * madvise's reclaim side: MADV_FREE (lazily freed pages move to the
 * inactive file list; reclaim drops the clean ones without swap, keeps and
 * swap-backs the ones written since), MADV_COLD (active pages to their
 * inactive list, PTEs made old) and MADV_PAGEOUT (the range reclaimed now:
 * anonymous pages to swap, dirty file pages written back, clean ones
 * dropped). Pages another mapping shares are left alone; VM_LOCKED ranges
 * are refused. Exact counters, every byte checked, under both rmap designs,
 * every checker after each step.
 */
#include "reclaim_util.h"

#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

/* A machine with (or without) swap and one task; on failure, nothing is left. */
static bool setup(struct reclaim_anon *f, const char *rmap, bool swap)
{
	char opts[128];
	snprintf(opts, sizeof(opts), "--mem 32M --cpus 1 --seed %llu --rmap %s",
		 (unsigned long long)kmm_test_seed, rmap);
	return reclaim_anon_setup(f, "madv", opts, swap ? "64M" : NULL, 0) == 0;
}

static unsigned char byte_of(unsigned long page, unsigned int i, unsigned int salt)
{
	return (unsigned char)(page * 131 + i * 7 + salt * 29 + 1);
}

static int write_pages(struct kmm_task *t, unsigned long addr, unsigned long first, unsigned long n,
		       unsigned int salt)
{
	unsigned char buf[PAGE_SIZE];
	for (unsigned long p = first; p < first + n; p++) {
		for (unsigned int i = 0; i < PAGE_SIZE; i++)
			buf[i] = byte_of(p, i, salt);
		if (kmm_write(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
	}
	return 0;
}

/* Pages [first, first + n) hold @salt's bytes (salt 0: zeros). */
static int check_pages(struct kmm_task *t, unsigned long addr, unsigned long first, unsigned long n,
		       unsigned int salt)
{
	unsigned char buf[PAGE_SIZE];
	for (unsigned long p = first; p < first + n; p++) {
		if (kmm_read(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
		for (unsigned int i = 0; i < PAGE_SIZE; i++) {
			unsigned char want = salt ? byte_of(p, i, salt) : 0;
			if (buf[i] != want) {
				fprintf(stderr, "page %lu byte %u: %#x, expected %#x\n", p, i,
					buf[i], want);
				return -1;
			}
		}
	}
	return 0;
}

enum pte_kind {
	PTE_NONE,
	PTE_SWAP,
	PTE_OLD,
	PTE_YOUNG
};

/* How many PTEs of pages [first, first + n) are of @kind. */
static unsigned long count_ptes(struct kmm_task *t, unsigned long addr, unsigned long first,
				unsigned long n, enum pte_kind kind)
{
	unsigned long c = 0;
	for (unsigned long p = first; p < first + n; p++) {
		pte_t *pte = pte_lookup(t->mm, addr + p * PAGE_SIZE);
		pte_t v = pte ? entry_read(pte) : 0;
		enum pte_kind k = !v		    ? PTE_NONE
				  : !pte_present(v) ? PTE_SWAP
				  : pte_young(v)    ? PTE_YOUNG
						    : PTE_OLD;
		c += k == kind;
	}
	return c;
}

#define ev(m, name) vmstat(m, name)

/*
 * MADV_FREE, then MADV_PAGEOUT: the pages nobody wrote since are dropped
 * (zeros afterwards, no swap), the ones written since keep their bytes and
 * become swap-backed again; a second MADV_PAGEOUT swaps those out.
 */
static void run_lazyfree(const char *rmap)
{
	enum {
		N = 512,
		REDIRTY = 16
	};
	struct reclaim_anon f = {0};
	expect_true(setup(&f, rmap, true));
	struct kmm_machine *m = f.m;
	long a = kmm_mmap(f.t, 0, N * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;
	expect_int_eq(write_pages(f.t, addr, 0, N, 1), 0);
	expect_all_valid(m);
	long anon0 = ev(m, "nr_inactive_anon") + ev(m, "nr_active_anon");
	long file0 = ev(m, "nr_inactive_file");

	expect_int_eq(kmm_madvise(f.t, addr, N * PAGE_SIZE, KMM_MADV_FREE), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pglazyfree"), N);
	expect_i64_eq(ev(m, "nr_inactive_file") - file0, N);
	expect_i64_eq(anon0 - (ev(m, "nr_inactive_anon") + ev(m, "nr_active_anon")), N);
	expect_u64_eq(count_ptes(f.t, addr, 0, N, PTE_OLD), N);

	/* Written again before reclaim: those pages must keep the new bytes. */
	expect_int_eq(write_pages(f.t, addr, 0, REDIRTY, 2), 0);
	long active0 = ev(m, "nr_active_anon"), act0 = ev(m, "pgactivate");
	expect_int_eq(kmm_madvise(f.t, addr, N * PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pglazyfreed"), N - REDIRTY);
	expect_i64_eq(ev(m, "pswpout"), 0);
	expect_i64_eq(ev(m, "nr_inactive_file"), file0);
	expect_i64_eq(ev(m, "nr_active_anon") - active0, REDIRTY);
	expect_i64_eq(ev(m, "pgactivate") - act0, REDIRTY);
	expect_u64_eq(count_ptes(f.t, addr, REDIRTY, N - REDIRTY, PTE_NONE), N - REDIRTY);
	expect_int_eq(check_pages(f.t, addr, 0, REDIRTY, 2), 0);
	expect_int_eq(check_pages(f.t, addr, REDIRTY, N - REDIRTY, 0), 0);
	expect_all_valid(m);

	/* Swap-backed again, they go to swap now; the zero-page mappings are skipped. */
	expect_int_eq(kmm_madvise(f.t, addr, N * PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pswpout"), REDIRTY);
	expect_u64_eq(count_ptes(f.t, addr, 0, REDIRTY, PTE_SWAP), REDIRTY);
	expect_int_eq(check_pages(f.t, addr, 0, REDIRTY, 2), 0);
	expect_i64_eq(ev(m, "pswpin"), REDIRTY);
	expect_i64_eq(ev(m, "pglazyfreed"), N - REDIRTY);
	expect_all_valid(m);
	reclaim_anon_destroy(&f);
}

/*
 * MADV_COLD: active file pages mapped once go to the inactive list with old
 * PTEs; inactive anonymous pages stay where they are; pages a fork child
 * shares keep their young PTEs.
 */
static void run_cold(const char *rmap)
{
	enum {
		N = 256
	};
	struct reclaim_anon f = {0};
	expect_true(setup(&f, rmap, true));
	struct kmm_machine *m = f.m;
	char path[64];
	expect_int_eq(make_pattern_file(path, sizeof(path), N * PAGE_SIZE, kmm_test_seed), 0);
	struct kmm_error err = {0};
	struct kmm_file *file = kmm_file_open(m, path, KMM_O_RDONLY, 0, &err);
	expect_ptr_not_null(file);
	if (!file) {
		reclaim_anon_destroy(&f);
		return;
	}
	/* Two reads activate every page (mark_page_accessed twice). */
	static unsigned char buf[N * PAGE_SIZE];
	expect_i64_eq(kmm_file_read(f.t, file, 0, buf, sizeof(buf)), (long)sizeof(buf));
	expect_i64_eq(kmm_file_read(f.t, file, 0, buf, sizeof(buf)), (long)sizeof(buf));
	expect_all_valid(m);
	long active_file = ev(m, "nr_active_file");
	expect_i64_ge(active_file, N);
	long fm = kmm_mmap(f.t, 0, N * PAGE_SIZE, KMM_PROT_READ, KMM_MAP_SHARED, file, 0);
	expect_i64_ge(fm, 0);
	expect_int_eq(kmm_touch(f.t, (unsigned long)fm, N * PAGE_SIZE, KMM_TOUCH_READ), 0);
	expect_u64_eq(count_ptes(f.t, (unsigned long)fm, 0, N, PTE_YOUNG), N);

	long deact0 = ev(m, "pgdeactivate"), inactive_file = ev(m, "nr_inactive_file");
	expect_int_eq(kmm_madvise(f.t, (unsigned long)fm, N * PAGE_SIZE, KMM_MADV_COLD), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pgdeactivate") - deact0, N);
	expect_i64_eq(active_file - ev(m, "nr_active_file"), N);
	expect_i64_eq(ev(m, "nr_inactive_file") - inactive_file, N);
	expect_u64_eq(count_ptes(f.t, (unsigned long)fm, 0, N, PTE_OLD), N);
	for (unsigned long p = 0; p < N; p++) {
		unsigned char c;
		expect_int_eq(kmm_read(f.t, (unsigned long)fm + p * PAGE_SIZE + 5, &c, 1), 0);
		expect_int_eq(c, pattern_byte(kmm_test_seed, p * PAGE_SIZE + 5));
	}

	/* Anonymous pages are inactive already: made old, not moved. */
	long a = kmm_mmap(f.t, 0, N * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;
	expect_int_eq(write_pages(f.t, addr, 0, N, 3), 0);
	expect_all_valid(m);
	deact0 = ev(m, "pgdeactivate");
	long inactive_anon = ev(m, "nr_inactive_anon");
	expect_int_eq(kmm_madvise(f.t, addr, N / 2 * PAGE_SIZE, KMM_MADV_COLD), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pgdeactivate"), deact0);
	expect_i64_eq(ev(m, "nr_inactive_anon"), inactive_anon);
	expect_u64_eq(count_ptes(f.t, addr, 0, N / 2, PTE_OLD), N / 2);
	expect_u64_eq(count_ptes(f.t, addr, N / 2, N / 2, PTE_YOUNG), N / 2);

	/* Shared with a child: not this task's to judge. */
	struct kmm_task *child = kmm_task_fork(f.t, -1, &err);
	expect_ptr_not_null(child);
	expect_int_eq(kmm_madvise(f.t, addr, N * PAGE_SIZE, KMM_MADV_COLD), 0);
	expect_u64_eq(count_ptes(f.t, addr, N / 2, N / 2, PTE_YOUNG), N / 2);
	expect_all_valid(m);
	kmm_task_reap(child);
	expect_int_eq(check_pages(f.t, addr, 0, N, 3), 0);
	expect_int_eq(kmm_munmap(f.t, (unsigned long)fm, N * PAGE_SIZE), 0);
	kmm_file_close(file);
	unlink(path);
	reclaim_anon_destroy(&f);
}

/*
 * MADV_PAGEOUT: of a region half shared with a fork child, exactly the
 * parent's own pages go to swap and come back intact; dirty pages of a
 * shared file mapping are written to the host file and dropped; without
 * swap, anonymous pages are activated and kept.
 */
static void run_pageout(const char *rmap)
{
	enum {
		N = 1024
	};
	struct reclaim_anon f = {0};
	expect_true(setup(&f, rmap, true));
	struct kmm_machine *m = f.m;
	struct kmm_error err = {0};
	long a = kmm_mmap(f.t, 0, N * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;
	expect_int_eq(write_pages(f.t, addr, 0, N, 1), 0);
	struct kmm_task *child = kmm_task_fork(f.t, -1, &err);
	expect_ptr_not_null(child);
	if (!child) {
		reclaim_anon_destroy(&f);
		return;
	}
	/* The child's writes to the upper half give the parent's pages back to it alone. */
	expect_int_eq(write_pages(child, addr, N / 2, N / 2, 2), 0);
	expect_all_valid(m);

	expect_int_eq(kmm_madvise(f.t, addr, N * PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pswpout"), N / 2);
	expect_u64_eq(count_ptes(f.t, addr, N / 2, N / 2, PTE_SWAP), N / 2);
	expect_u64_eq(count_ptes(f.t, addr, 0, N / 2, PTE_SWAP) +
			  count_ptes(f.t, addr, 0, N / 2, PTE_NONE),
		      0);
	expect_i64_eq(ev(m, "pgscan_kswapd") + ev(m, "pgscan_direct"), 0);
	expect_int_eq(check_pages(f.t, addr, 0, N, 1), 0);
	expect_i64_eq(ev(m, "pswpin"), N / 2);
	expect_int_eq(check_pages(child, addr, 0, N / 2, 1), 0);
	expect_int_eq(check_pages(child, addr, N / 2, N / 2, 2), 0);
	expect_all_valid(m);
	kmm_task_reap(child);

	/* Errors: a locked range, a hole, an unaligned start. */
	expect_int_eq(kmm_mlock(f.t, addr, 4 * PAGE_SIZE), 0);
	expect_int_eq(kmm_madvise(f.t, addr, 8 * PAGE_SIZE, KMM_MADV_PAGEOUT), -EINVAL);
	expect_int_eq(kmm_madvise(f.t, addr, 8 * PAGE_SIZE, KMM_MADV_COLD), -EINVAL);
	expect_int_eq(kmm_munlock(f.t, addr, 4 * PAGE_SIZE), 0);
	expect_int_eq(kmm_madvise(f.t, addr + 1, PAGE_SIZE, KMM_MADV_PAGEOUT), -EINVAL);
	expect_int_eq(kmm_munmap(f.t, addr + 8 * PAGE_SIZE, PAGE_SIZE), 0);
	long out0 = ev(m, "pswpout");
	expect_int_eq(kmm_madvise(f.t, addr, 16 * PAGE_SIZE, KMM_MADV_PAGEOUT), -ENOMEM);
	expect_i64_eq(ev(m, "pswpout") - out0, 15); /* the hole is skipped, the rest done */
	expect_all_valid(m);

	/* A shared file mapping: dirty pages are written back, then dropped. */
	enum {
		NF = 64
	};
	char path[64];
	expect_int_eq(make_pattern_file(path, sizeof(path), NF * PAGE_SIZE, 7), 0);
	struct kmm_file *file = kmm_file_open(m, path, KMM_O_RDWR, 0, &err);
	expect_ptr_not_null(file);
	long fm = kmm_mmap(f.t, 0, NF * PAGE_SIZE, RW, KMM_MAP_SHARED, file, 0);
	expect_i64_ge(fm, 0);
	expect_int_eq(write_pages(f.t, (unsigned long)fm, 0, NF / 2, 4), 0);
	expect_int_eq(kmm_touch(f.t, (unsigned long)fm, NF * PAGE_SIZE, KMM_TOUCH_READ), 0);
	long written0 = ev(m, "nr_written");
	expect_int_eq(kmm_madvise(f.t, (unsigned long)fm, NF * PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_all_valid(m);
	unsigned long cached, dirty;
	kmm_file_cached(file, &cached, &dirty);
	expect_u64_eq(cached, 0);
	expect_u64_eq(dirty, 0);
	expect_i64_eq(ev(m, "nr_written") - written0, NF / 2);
	expect_u64_eq(count_ptes(f.t, (unsigned long)fm, 0, NF, PTE_NONE), NF);
	int fd = open(path, O_RDONLY);
	expect_i64_ge(fd, 0);
	unsigned char pg[PAGE_SIZE];
	bool same = true;
	for (unsigned long p = 0; p < NF && fd >= 0; p++) {
		expect_i64_eq(pread(fd, pg, PAGE_SIZE, (off_t)(p * PAGE_SIZE)), PAGE_SIZE);
		for (unsigned int i = 0; i < PAGE_SIZE; i++)
			same &= pg[i] == (p < NF / 2 ? byte_of(p, i, 4)
						     : pattern_byte(7, p * PAGE_SIZE + i));
	}
	expect_true(same);
	if (fd >= 0)
		close(fd);
	expect_int_eq(check_pages(f.t, (unsigned long)fm, 0, NF / 2, 4), 0);
	expect_int_eq(kmm_munmap(f.t, (unsigned long)fm, NF * PAGE_SIZE), 0);
	kmm_file_close(file);
	unlink(path);
	reclaim_anon_destroy(&f);

	/* No swap: anonymous pages cannot go, and are activated. */
	expect_true(setup(&f, rmap, false));
	m = f.m;
	a = kmm_mmap(f.t, 0, 64 * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_int_eq(write_pages(f.t, (unsigned long)a, 0, 64, 5), 0);
	expect_all_valid(m);
	long act0 = ev(m, "pgactivate"), active0 = ev(m, "nr_active_anon");
	expect_int_eq(kmm_madvise(f.t, (unsigned long)a, 64 * PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "pgactivate") - act0, 64);
	expect_i64_eq(ev(m, "nr_active_anon") - active0, 64);
	expect_int_eq(check_pages(f.t, (unsigned long)a, 0, 64, 5), 0);
	reclaim_anon_destroy(&f);
}

static void test_lazyfree_objrmap(void)
{
	run_lazyfree("objrmap");
}
static void test_lazyfree_ptechain(void)
{
	run_lazyfree("ptechain");
}
static void test_cold_objrmap(void)
{
	run_cold("objrmap");
}
static void test_cold_ptechain(void)
{
	run_cold("ptechain");
}
static void test_pageout_objrmap(void)
{
	run_pageout("objrmap");
}
static void test_pageout_ptechain(void)
{
	run_pageout("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_lazyfree_objrmap);
	run_test(test_lazyfree_ptechain);
	run_test(test_cold_objrmap);
	run_test(test_cold_ptechain);
	run_test(test_pageout_objrmap);
	run_test(test_pageout_ptechain);
	return kmm_test_done();
}
