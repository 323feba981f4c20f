/*
 * Reclaim of page-cache pages: a task reads a file twice the size of RAM
 * through a sliding window of mappings, so the cache must be reclaimed to
 * make room, and every byte it reads is checked against the host file.
 * Also: drop_caches, the LRU counters against the lists, kswapd's steps,
 * and the split of scanned/stolen pages between kswapd and direct reclaim.
 */
#include "reclaim_util.h"

#define RO  KMM_PROT_READ
#define MiB (1UL << 20)
#define WIN (1 * MiB)

struct filerun {
	char path[64];
	size_t size;
	uint64_t seed;
};

/* Map @size bytes of @f at @off, check every 512th byte and the last of each page, unmap. */
static int read_window(struct kmm_task *t, struct kmm_file *f, const struct filerun *fr, size_t off,
		       size_t len)
{
	long a = kmm_mmap(t, 0, len, RO, KMM_MAP_PRIVATE, f, off);
	if (a < 0) {
		fprintf(stderr, "mmap at %zu: %ld\n", off, a);
		return -1;
	}
	unsigned char buf[PAGE_SIZE];
	for (size_t p = 0; p < len; p += PAGE_SIZE) {
		int r = kmm_read(t, (unsigned long)a + p, buf, PAGE_SIZE);
		if (r) {
			fprintf(stderr, "read at file offset %zu: %d\n", off + p, r);
			return -1;
		}
		for (size_t i = 0; i < PAGE_SIZE; i += 511)
			if (buf[i] != pattern_byte(fr->seed, off + p + i)) {
				fprintf(stderr, "file offset %zu: read %#x, the file holds %#x\n",
					off + p + i, buf[i], pattern_byte(fr->seed, off + p + i));
				return -1;
			}
	}
	return kmm_munmap(t, (unsigned long)a, len);
}

static void test_page_cache_twice_ram(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --cpus 2");
	expect_ptr_not_null(m);
	struct filerun fr = {.size = 128 * MiB * kmm_test_scale, .seed = kmm_test_seed};
	expect_int_eq(make_pattern_file(fr.path, sizeof(fr.path), fr.size, fr.seed), 0);
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, fr.path, KMM_O_RDONLY, 0, &err);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "reader", 0);
	expect_ptr_not_null(t);

	for (int pass = 0; pass < 2; pass++) {
		for (size_t off = 0; off < fr.size; off += WIN) {
			expect_int_eq(read_window(t, f, &fr, off, WIN), 0);
			if ((off / WIN) % 16 == 0)
				expect_all_valid(m);
			if (pass == 1 && (off / WIN) % 4 == 0)
				kmm_kswapd_run_pending(m);
		}
	}
	/* Each page was read at least twice through a cache a third of its size. */
	long steal_k = vmstat(m, "pgsteal_kswapd"), steal_d = vmstat(m, "pgsteal_direct");
	long scan_k = vmstat(m, "pgscan_kswapd"), scan_d = vmstat(m, "pgscan_direct");
	printf("pgscan kswapd %ld direct %ld, pgsteal kswapd %ld direct %ld, allocstall %ld\n",
	       scan_k, scan_d, steal_k, steal_d, vmstat(m, "allocstall_normal"));
	expect_i64_ge(steal_k + steal_d, (long)(fr.size / PAGE_SIZE) * 3 / 2);
	expect_i64_ge(steal_k, 1);
	expect_i64_ge(steal_d, 1);
	expect_i64_le(steal_k, scan_k);
	expect_i64_le(steal_d, scan_d);
	expect_i64_eq(vmstat(m, "pgsteal_file"), steal_k + steal_d);
	expect_i64_eq(vmstat(m, "pgsteal_anon"), 0);
	expect_i64_eq(vmstat(m, "pgsteal_file") + vmstat(m, "pgsteal_anon"), steal_k + steal_d);
	expect_i64_eq(vmstat(m, "pgscan_file") + vmstat(m, "pgscan_anon"), scan_k + scan_d);
	expect_all_valid(m);

	/* drop_caches takes every clean unmapped cache page. */
	long cached = vmstat(m, "nr_file_pages");
	expect_i64_ge(cached, 1);
	long freed = kmm_drop_caches(m, 1);
	expect_i64_eq(freed, cached);
	expect_i64_eq(vmstat(m, "nr_file_pages"), 0);
	expect_i64_eq(vmstat(m, "nr_inactive_file") + vmstat(m, "nr_active_file"), 0);
	expect_int_eq(kmm_drop_caches(m, 4), -EINVAL);
	expect_all_valid(m);

	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	kmm_file_close(f);
	kmm_machine_destroy(m);
	unlink(fr.path);
}

/* New pages go to the inactive lists; a second access promotes; counters match lists. */
static void test_lru_lists_and_promotion(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --cpus 2");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "anon", 0);
	long a = kmm_mmap(t, 0, 64 * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	long inactive0 = vmstat(m, "nr_inactive_anon");
	expect_int_eq(kmm_memset(t, (unsigned long)a, 7, 64 * PAGE_SIZE), 0);
	expect_all_valid(m); /* drains the batches */
	expect_i64_eq(vmstat(m, "nr_inactive_anon") - inactive0, 64);
	expect_i64_eq(reclaim_stat(m, "meminfo", "Inactive(anon)") * 1024 / (long)PAGE_SIZE,
		      vmstat(m, "nr_inactive_anon"));
	/* Unmapping frees them off the lists. */
	expect_int_eq(kmm_munmap(t, (unsigned long)a, 64 * PAGE_SIZE), 0);
	expect_all_valid(m);
	expect_i64_eq(vmstat(m, "nr_inactive_anon"), inactive0);
	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
}

/* Bad tunables are refused. */
static void test_tunables(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M");
	expect_ptr_not_null(m);
	expect_int_eq(kmm_reclaim_swappiness(m), 60);
	expect_int_eq(kmm_reclaim_set_swappiness(m, 201), -EINVAL);
	expect_int_eq(kmm_reclaim_set_swappiness(m, -1), -EINVAL);
	expect_int_eq(kmm_reclaim_set_swappiness(m, 100), 0);
	expect_int_eq(kmm_reclaim_swappiness(m), 100);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_tunables);
	run_test(test_lru_lists_and_promotion);
	run_test(test_page_cache_twice_ram);
	return kmm_test_done();
}
