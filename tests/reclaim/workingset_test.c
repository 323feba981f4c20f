/*
 * Working-set detection: shadow entries left by reclaim in the page cache
 * and the swap cache, refaults counted from them, activation when the
 * refault distance fits in the working set, and the shadows cleared when
 * the file goes or the swap slot is freed. Every step runs the checkers
 * (the vm census and the swap checker walk the trees, shadows included).
 */
#include "reclaim_util.h"
#include "swap/internal.h"
#include "reclaim/internal.h"
#include <kmm/slab.h>

#define RO  KMM_PROT_READ
#define RW  (KMM_PROT_READ | KMM_PROT_WRITE)
#define MiB (1UL << 20)

/* Shadow entries in a file's page cache. */
static unsigned long file_shadows(struct kmm_file *f)
{
	struct kmm_address_space *mapping = f->f_mapping;
	unsigned long n = 0, index;
	void *entry;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_for_each(&mapping->i_pages, index, entry, -1) n += xa_is_value(entry);
	spin_unlock(&mapping->i_pages_lock);
	return n;
}

/* Shadow entries in every swap cache tree of the machine. */
static unsigned long swap_shadows(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	unsigned long n = 0;
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = swap_type_to_swap_info(m, type);
		if (!si || !si->spaces)
			continue;
		for (unsigned int s = 0; s < si->nr_spaces; s++) {
			unsigned long index;
			void *entry;
			spin_lock(&si->spaces[s].lock);
			radix_tree_for_each(&si->spaces[s].i_pages, index, entry, -1) n +=
			    xa_is_value(entry);
			spin_unlock(&si->spaces[s].lock);
		}
	}
	return n;
}

static int radix_objs_fn(const struct kmm_slabinfo *info, void *arg)
{
	if (!strcmp(info->name, "radix_tree_node"))
		*(unsigned long *)arg += info->active_objs;
	return 0;
}

/* Radix tree nodes in use in the machine (page cache and swap cache trees). */
static unsigned long radix_nodes(struct kmm_machine *m)
{
	unsigned long n = 0;
	kmm_slab_for_each_cache(m, radix_objs_fn, &n);
	return n;
}

/* Read every page of [off, off + len) of @f through a fresh mapping, @times times. */
static void read_range(struct kmm_task *t, struct kmm_file *f, size_t off, size_t len, int times)
{
	for (int k = 0; k < times; k++) {
		long a = kmm_mmap(t, 0, len, RO, KMM_MAP_SHARED, f, off);
		expect_i64_ge(a, 0);
		if (a < 0)
			return;
		unsigned char c;
		for (size_t p = 0; p < len; p += PAGE_SIZE)
			expect_int_eq(kmm_read(t, (unsigned long)a + p, &c, 1), 0);
		expect_int_eq(kmm_munmap(t, (unsigned long)a, len), 0);
	}
}

static struct kmm_file *open_pattern(struct kmm_machine *m, char *path, size_t pathlen, size_t size)
{
	if (make_pattern_file(path, pathlen, size, kmm_test_seed))
		return NULL;
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, path, KMM_O_RDONLY, 0, &err);
	if (!f)
		fprintf(stderr, "open %s: %s\n", path, err.msg);
	return f;
}

/* Pages of @f in the page cache. */
static unsigned long file_cached(struct kmm_file *f)
{
	unsigned long pages, dirty;
	kmm_file_cached(f, &pages, &dirty);
	return pages;
}

/*
 * A file twice RAM read sequentially twice: the second pass refaults every
 * page it reads (each was evicted with a shadow), and activates none (the
 * distance, about the file's size, is far above the working set).
 */
static void test_file_twice_ram(void)
{
	struct kmm_machine *m = vm_boot("--mem 32M --cpus 1");
	expect_ptr_not_null(m);
	char path[64];
	size_t size = 64 * MiB;
	struct kmm_file *f = open_pattern(m, path, sizeof(path), size);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "reader", 0);

	for (size_t off = 0; off < size; off += 2 * MiB) {
		read_range(t, f, off, 2 * MiB, 1);
		kmm_kswapd_run_pending(m);
		expect_all_valid(m);
	}
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 0);
	expect_i64_eq(vmstat(m, "workingset_activate_file"), 0);
	/* Every page was read, and is either in the cache or a shadow. */
	unsigned long cached = file_cached(f), shadows = file_shadows(f);
	expect_u64_eq(cached + shadows, size / PAGE_SIZE);
	expect_u64_gt(shadows, size / PAGE_SIZE / 2);

	long in0 = vmstat(m, "pgpgin");
	for (size_t off = 0; off < size; off += 2 * MiB) {
		read_range(t, f, off, 2 * MiB, 1);
		kmm_kswapd_run_pending(m);
		expect_all_valid(m);
	}
	/* Each page read in again (pgpgin counts KiB, as Linux shows it) took a shadow's slot. */
	long read_again = (vmstat(m, "pgpgin") - in0) / (long)(PAGE_SIZE / 1024); /* KiB */
	printf("pass 2: %ld pages read, refault_file %ld, activate_file %ld\n", read_again,
	       vmstat(m, "workingset_refault_file"), vmstat(m, "workingset_activate_file"));
	expect_i64_ge(read_again, (long)(size / PAGE_SIZE / 2));
	expect_i64_eq(vmstat(m, "workingset_refault_file"), read_again);
	expect_i64_eq(vmstat(m, "workingset_activate_file"), 0);
	expect_i64_eq(vmstat(m, "workingset_restore_file"), 0);
	expect_i64_eq(vmstat(m, "workingset_refault_anon"), 0);
	expect_u64_eq(file_cached(f) + file_shadows(f), size / PAGE_SIZE);

	/*
	 * Truncation (what evicting the inode at its last close does) takes
	 * the pages and the shadows, and the tree's nodes with them.
	 */
	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	unsigned long nodes = radix_nodes(m);
	expect_u64_ge(radix_tree_nr_nodes(&f->f_mapping->i_pages), size / PAGE_SIZE / 64);
	truncate_inode_pages(f->f_mapping);
	expect_ptr_null(f->f_mapping->i_pages.rnode);
	expect_u64_eq(file_shadows(f), 0);
	expect_u64_eq(f->f_mapping->nrpages, 0);
	expect_u64_lt(radix_nodes(m), nodes);
	expect_i64_eq(vmstat(m, "nr_file_pages"), 0);
	expect_all_valid(m);
	kmm_file_close(f);
	expect_all_valid(m);
	kmm_machine_destroy(m);
	unlink(path);
}

/*
 * Refault distance against the working set, page by page: a file larger
 * than the inactive list's room next to an active one is read once, so
 * its first pages are evicted, each leaving a shadow whose distance grows
 * with every later eviction. Read back one page at a time (no readahead),
 * a page whose distance is within the active list is activated, one beyond
 * it is not: exact counts.
 */
static void test_file_activated(void)
{
	struct kmm_machine *m = vm_boot("--mem 32M --cpus 1");
	expect_ptr_not_null(m);
	char hot_path[64], path[64];
	size_t hot_size = 8 * MiB;
	struct kmm_file *hot = open_pattern(m, hot_path, sizeof(hot_path), hot_size);
	expect_ptr_not_null(hot);
	struct kmm_task *t = vm_task(m, "reader", 0);
	/* Two uses each: the hot file goes to the active list. */
	read_range(t, hot, 0, hot_size, 2);
	expect_all_valid(m);
	expect_i64_ge(vmstat(m, "nr_active_file"), (long)(hot_size / PAGE_SIZE) * 9 / 10);

	/* Free memory plus the hot file's size: about that much of it is evicted. */
	size_t size = ((size_t)vmstat(m, "nr_free_pages") * PAGE_SIZE + hot_size) & ~(MiB - 1);
	struct kmm_file *f = open_pattern(m, path, sizeof(path), size);
	expect_ptr_not_null(f);
	for (size_t off = 0; off < size; off += MiB) {
		read_range(t, f, off, MiB, 1);
		kmm_kswapd_run_pending(m);
		expect_all_valid(m);
	}
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 0);
	expect_all_valid(m);

	/* The shadows: the nearest (smallest distance) and the farthest. */
	struct kmm_address_space *mapping = f->f_mapping;
	unsigned long index, near_idx = ~0UL, far_idx = ~0UL, near_d = ~0UL, far_d = 0, nshadow = 0;
	void *entry;
	spin_lock(&mapping->i_pages_lock);
	radix_tree_for_each(&mapping->i_pages, index, entry, -1)
	{
		if (!xa_is_value(entry))
			continue;
		nshadow++;
		unsigned long d = workingset_refault_distance(m, entry);
		expect_true(workingset_shadow_valid(m, entry));
		if (d < near_d)
			near_d = d, near_idx = index;
		if (d >= far_d)
			far_d = d, far_idx = index;
	}
	spin_unlock(&mapping->i_pages_lock);
	long active = vmstat(m, "nr_active_file");
	printf("%lu shadows, distances %lu (index %lu) to %lu (index %lu), active file %ld\n",
	       nshadow, near_d, near_idx, far_d, far_idx, active);
	/* The scenario puts one on each side of the working set, with room to spare. */
	expect_u64_le(near_d + 64, (unsigned long)active);
	expect_u64_gt(far_d, (unsigned long)active + 64);

	mapping->ra_pages = 1; /* one page per fault: one refault per read */
	read_range(t, f, near_idx * PAGE_SIZE, PAGE_SIZE, 1);
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 1);
	expect_i64_eq(vmstat(m, "workingset_activate_file"), 1);
	read_range(t, f, far_idx * PAGE_SIZE, PAGE_SIZE, 1);
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 2);
	expect_i64_eq(vmstat(m, "workingset_activate_file"), 1);
	/* Neither had been active before its eviction. */
	expect_i64_eq(vmstat(m, "workingset_restore_file"), 0);
	expect_u64_eq(file_shadows(f), nshadow - 2);
	expect_all_valid(m);

	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	kmm_file_close(f);
	kmm_file_close(hot);
	expect_all_valid(m);
	kmm_machine_destroy(m);
	unlink(path);
	unlink(hot_path);
}

/*
 * Anonymous memory 1.5x RAM written twice with swap: every page swap-in
 * reads (readahead included) refaults from its slot's shadow; the shadows
 * go with the slots when the memory is unmapped. On both reverse-mapping
 * designs.
 */
static void anon_refaults(const char *design)
{
	char opts[64];
	struct reclaim_anon ra;
	size_t len = 48 * MiB;
	snprintf(opts, sizeof(opts), "--mem 32M --cpus 1 --rmap %s", design);
	expect_int_eq(reclaim_anon_setup(&ra, "ws", opts, "80M", len / PAGE_SIZE), 0);
	struct kmm_machine *m = ra.m;
	struct kmm_task *t = ra.t;
	unsigned long a = ra.addr;
	for (int pass = 0; pass < 2; pass++) {
		long in0 = vmstat(m, "pswpin"), ref0 = vmstat(m, "workingset_refault_anon");
		for (size_t off = 0; off < len; off += PAGE_SIZE) {
			uint64_t v = off + (uint64_t)pass;
			expect_int_eq(kmm_write(t, a + off, &v, sizeof(v)), 0);
			if ((off / PAGE_SIZE) % 32 == 31) {
				kmm_task_switch_out(m);
				kmm_cpu_enter(m, 0);
				kmm_kswapd_run_pending(m);
				kmm_cpu_exit(m);
			}
			if ((off / PAGE_SIZE) % 4096 == 4095)
				expect_all_valid(m);
		}
		long in = vmstat(m, "pswpin") - in0;
		long refaults = vmstat(m, "workingset_refault_anon") - ref0;
		printf("%s pass %d: pswpin %ld, refault_anon %ld, activate_anon %ld, shadows %lu\n",
		       design, pass, in, refaults, vmstat(m, "workingset_activate_anon"),
		       swap_shadows(m));
		/* Linux counts a refault per page read into the swap cache over a shadow. */
		expect_i64_eq(refaults, in);
		if (pass == 1)
			expect_i64_ge(in, (long)(len / PAGE_SIZE) / 4);
		expect_all_valid(m);
	}
	/* Every page written twice still holds the second value. */
	for (size_t off = 0; off < len; off += 97 * PAGE_SIZE) {
		uint64_t v = 0;
		expect_int_eq(kmm_read(t, a + off, &v, sizeof(v)), 0);
		expect_u64_eq(v, off + 1);
	}
	expect_u64_gt(swap_shadows(m), 0);
	/* Unmapping frees the slots, and with them their shadows. */
	expect_int_eq(kmm_munmap(t, a, len), 0);
	expect_u64_eq(swap_shadows(m), 0);
	expect_all_valid(m);
	kmm_task_exit(t, 0);
	reclaim_anon_destroy(&ra);
}

static void test_anon_objrmap(void)
{
	anon_refaults("objrmap");
}

static void test_anon_ptechain(void)
{
	anon_refaults("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_file_twice_ram);
	run_test(test_file_activated);
	run_test(test_anon_objrmap);
	run_test(test_anon_ptechain);
	return kmm_test_done();
}
