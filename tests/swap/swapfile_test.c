/*
 * Swap slots against a shadow model: every reference the model holds
 * (PTE counts and the swap cache's SWAP_HAS_CACHE per slot) must be what
 * swap_map says, no slot is handed out twice, allocation fails only when the
 * model has no free slot, and the invariant checker (cluster counts and
 * lists, inuse_pages, nr_swap_pages) holds after every step. Also: the
 * cluster allocator's order, priorities and round robin, automatic
 * priorities, swapoff with and without the unuse hook, bad pages.
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

/* --- The shadow model ------------------------------------------------------------------------------ */

struct shadow {
	unsigned int max;
	unsigned char *refs; /* PTE references */
	bool *cache;	     /* SWAP_HAS_CACHE */
	bool *bad;
	unsigned long used, usable;
};

static unsigned char shadow_byte(const struct shadow *s, unsigned long o)
{
	if (s->bad[o])
		return SWAP_MAP_BAD;
	return (unsigned char)(s->refs[o] | (s->cache[o] ? SWAP_HAS_CACHE : 0));
}

static bool shadow_in_use(const struct shadow *s, unsigned long o)
{
	return !s->bad[o] && (s->refs[o] || s->cache[o]);
}

/* A random slot with @pred true, or 0. */
static unsigned long pick(struct shadow *s, struct kmm_rng *rng,
			  bool (*pred)(const struct shadow *, unsigned long))
{
	unsigned long start = 1 + kmm_rng_below(rng, s->max - 1);
	for (unsigned long i = 0; i < s->max - 1; i++) {
		unsigned long o = 1 + (start - 1 + i) % (s->max - 1);
		if (pred(s, o))
			return o;
	}
	return 0;
}

static bool has_refs(const struct shadow *s, unsigned long o)
{
	return !s->bad[o] && s->refs[o];
}
static bool has_cache(const struct shadow *s, unsigned long o)
{
	return !s->bad[o] && s->cache[o];
}

static void check_whole_map(struct kmm_machine *m, struct shadow *s, int type)
{
	/* Slot 0 of area 0 is entry 0, "no entry": start at 1. */
	for (unsigned long o = 1; o < s->max; o++) {
		int v = swap_map_value(m, swp_entry((unsigned long)type, o));
		if (v != shadow_byte(s, o)) {
			fprintf(stderr, "slot %lu: swap_map %#x, model %#x\n", o, v,
				shadow_byte(s, o));
			expect_int_eq(v, shadow_byte(s, o));
		}
	}
	struct kmm_swap_area_info info;
	expect_int_eq(kmm_swap_area_info(m, type, &info), 0);
	expect_u64_eq(info.inuse_pages, s->used);
	expect_i64_eq(get_nr_swap_pages(m), (int64_t)(s->usable - s->used));
}

/*
 * Random operations on one area of 3000 slots (not a whole number of
 * clusters, with two bad pages), from both CPUs and from no CPU.
 */
static void test_shadow_model(void)
{
	struct kmm_machine *m = boot();
	expect_ptr_not_null(m);
	/* A handmade header with two bad pages. */
	char path[512];
	swap_test_path(path, sizeof(path), "shadow.swap");
	const unsigned int max = 3000, badpg[2] = {700, 2999};
	unsigned char page[PAGE_SIZE];
	unsigned char uuid[16] = {1, 2, 3};
	swap_header_make(page, max, uuid, "shadow");
	unsigned int nbad = 2;
	memcpy(page + 1032, &nbad, 4);
	memcpy(page + 1536, badpg, sizeof(badpg));
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	expect_true(fd >= 0);
	expect_int_eq(pwrite(fd, page, PAGE_SIZE, 0), PAGE_SIZE);
	expect_int_eq(ftruncate(fd, (off_t)max * PAGE_SIZE), 0);
	close(fd);
	struct kmm_error err = {0};
	int type = kmm_swapon(m, path, 0, -1, 0, NULL, &err);
	expect_int_eq(type, 0);

	struct shadow s = {.max = max};
	s.refs = calloc(max, 1);
	s.cache = calloc(max, sizeof(bool));
	s.bad = calloc(max, sizeof(bool));
	s.bad[0] = s.bad[700] = s.bad[2999] = true;
	s.usable = max - 3;
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, type, &info);
	expect_u64_eq(info.pages, s.usable);
	expect_str_eq(info.label, "shadow");

	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	unsigned long steps = 20000 * kmm_test_scale;
	for (unsigned long step = 0; step < steps && !kmm_test_case_failed; step++) {
		int cpu = (int)kmm_rng_below(&rng, 3) - 1; /* -1: no CPU */
		if (cpu >= 0)
			kmm_cpu_enter(m, cpu);
		/* Fill up in bursts, then drain, so the area runs full and empty. */
		bool filling = (step / 2500) % 2 == 0;
		unsigned int op = (unsigned int)kmm_rng_below(&rng, 100);
		unsigned long o = 0;
		if (op < (filling ? 55u : 20u)) {
			swp_entry_t e = get_swap_page(m);
			if (!e.val) {
				expect_u64_eq(s.used, s.usable);
			} else {
				o = swp_offset(e);
				expect_int_eq(swp_type(e), type);
				if (o >= max || shadow_in_use(&s, o) || s.bad[o]) {
					fprintf(stderr, "step %lu: slot %lu handed out twice\n",
						step, o);
					expect_true(false);
				}
				s.cache[o] = true;
				s.used++;
			}
		} else if (op < 65) {
			o = pick(&s, &rng, shadow_in_use);
			if (o) {
				int r = swap_duplicate(m, swp_entry((unsigned long)type, o));
				if (s.refs[o] == SWAP_MAP_MAX) {
					expect_int_eq(r, -ENOMEM);
				} else {
					expect_int_eq(r, 0);
					s.refs[o]++;
				}
			}
		} else if (op < 82) {
			o = pick(&s, &rng, has_refs);
			if (o) {
				if (op & 1)
					swap_free(m, swp_entry((unsigned long)type, o));
				else
					free_swap_and_cache(m, swp_entry((unsigned long)type, o));
				if (!--s.refs[o] && !s.cache[o])
					s.used--;
			}
		} else if (op < 94) {
			o = pick(&s, &rng, has_cache);
			if (o) {
				put_swap_page(m, swp_entry((unsigned long)type, o));
				s.cache[o] = false;
				if (!s.refs[o])
					s.used--;
			}
		} else {
			o = 1 + kmm_rng_below(&rng, max - 1);
			int r = swapcache_prepare(m, swp_entry((unsigned long)type, o));
			int want = s.bad[o]	? -ENOENT
				   : s.cache[o] ? -EEXIST
				   : s.refs[o]	? 0
						: -ENOENT;
			expect_int_eq(r, want);
			if (!r)
				s.cache[o] = true;
		}
		if (cpu >= 0)
			kmm_cpu_exit(m);
		if (o) {
			int v = swap_map_value(m, swp_entry((unsigned long)type, o));
			if (v != shadow_byte(&s, o))
				fprintf(stderr, "step %lu op %u slot %lu: map %#x, model %#x\n",
					step, op, o, v, shadow_byte(&s, o));
			expect_int_eq(v, shadow_byte(&s, o));
		}
		expect_valid(m);
		if (step % 1000 == 0)
			check_whole_map(m, &s, type);
	}
	check_whole_map(m, &s, type);
	/* Drop everything: the area is empty again; the clusters with bad slots stay in use. */
	for (unsigned long o = 1; o < max; o++) {
		while (s.refs[o]) {
			swap_free(m, swp_entry((unsigned long)type, o));
			s.refs[o]--;
		}
		if (s.cache[o])
			put_swap_page(m, swp_entry((unsigned long)type, o));
		s.cache[o] = false;
	}
	s.used = 0;
	check_whole_map(m, &s, type);
	expect_valid(m);
	kmm_swap_area_info(m, type, &info);
	expect_u64_eq(info.free_clusters, info.nr_clusters - 3); /* 0, 700/256, 2999/256 */
	expect_int_eq(kmm_swapoff(m, path, &err), 0);
	free(s.refs);
	free(s.cache);
	free(s.bad);
	kmm_machine_destroy(m);
}

/* A CPU's allocations follow each other inside its cluster; another CPU takes another cluster. */
static void test_cluster_order(void)
{
	struct kmm_machine *m = boot();
	int type = swap_test_swapon(m, "order.swap", 16UL << 20, -1); /* 4096 slots, 16 clusters */
	expect_int_eq(type, 0);
	/* The free list starts with cluster 1 (cluster 0 holds the header). */
	kmm_cpu_enter(m, 0);
	swp_entry_t first = get_swap_page(m);
	expect_u64_eq(swp_offset(first), 256);
	for (unsigned long i = 1; i < 256; i++)
		expect_u64_eq(swp_offset(get_swap_page(m)), 256 + i);
	kmm_cpu_exit(m);
	kmm_cpu_enter(m, 1);
	expect_u64_eq(swp_offset(get_swap_page(m)), 512);
	kmm_cpu_exit(m);
	kmm_cpu_enter(m, 0);
	expect_u64_eq(swp_offset(get_swap_page(m)), 768); /* cluster 1 is used up: next free one */
	kmm_cpu_exit(m);
	/* Batches come from the same cluster too. */
	swp_entry_t batch[SWAP_BATCH];
	kmm_cpu_enter(m, 1);
	expect_int_eq(get_swap_pages(m, SWAP_BATCH, batch), SWAP_BATCH);
	for (int i = 0; i < SWAP_BATCH; i++)
		expect_u64_eq(swp_offset(batch[i]), 513 + (unsigned long)i);
	kmm_cpu_exit(m);
	expect_valid(m);
	/* Freeing every slot of a cluster puts it back on the free list. */
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, type, &info);
	unsigned long free_before = info.free_clusters;
	for (unsigned long o = 256; o < 512; o++)
		put_swap_page(m, swp_entry(0, o));
	kmm_swap_area_info(m, type, &info);
	expect_u64_eq(info.free_clusters, free_before + 1);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* Higher priority first; equal priorities alternate; automatic priorities -2, -3 ... */
static void test_priorities(void)
{
	struct kmm_machine *m = boot();
	expect_int_eq(swap_test_swapon(m, "low.swap", 1UL << 20, -1), 0); /* -2 */
	expect_int_eq(swap_test_swapon(m, "a.swap", 1UL << 20, 5), 1);	  /* 255 slots */
	expect_int_eq(swap_test_swapon(m, "b.swap", 1UL << 20, 5), 2);
	expect_int_eq(swap_test_swapon(m, "lower.swap", 1UL << 20, -1), 3); /* -3 */
	struct kmm_swap_area_info info;
	kmm_swap_area_info(m, 0, &info);
	expect_int_eq(info.prio, -2);
	kmm_swap_area_info(m, 3, &info);
	expect_int_eq(info.prio, -3);

	/* 510 slots of priority 5, taken in turns, then the -2 area, then the -3 one. */
	int last = -1, counts[4] = {0};
	for (int i = 0; i < 510; i++) {
		swp_entry_t e = get_swap_page(m);
		int t = (int)swp_type(e);
		expect_true(t == 1 || t == 2);
		expect_int_ne(t, last);
		last = t;
		counts[t]++;
	}
	expect_int_eq(counts[1], 255);
	expect_int_eq(counts[2], 255);
	for (int i = 0; i < 255; i++)
		expect_int_eq(swp_type(get_swap_page(m)), 0);
	for (int i = 0; i < 255; i++)
		expect_int_eq(swp_type(get_swap_page(m)), 3);
	expect_u64_eq(get_swap_page(m).val, 0);
	expect_i64_eq(get_nr_swap_pages(m), 0);
	expect_valid(m);

	/* /proc/swaps, and meminfo's totals. */
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "swaps", &b);
	char line[600], path[512];
	swap_test_path(path, sizeof(path), "a.swap");
	char real[512];
	expect_ptr_not_null(realpath(path, real));
	int len = (int)strlen(real);
	snprintf(line, sizeof(line), "%s%*s%s\t%lu\t\t%lu\t\t%d\n", real, len < 40 ? 40 - len : 1,
		 " ", "file\t", 1020UL, 1020UL, 5);
	expect_str_contains(b.data, line);
	expect_str_contains(b.data, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	kmm_buf_free(&b);
	kmm_buf_init(&b);
	kmm_show(m, "meminfo", &b);
	expect_str_contains(b.data, "SwapTotal:          4080 kB\n");
	expect_str_contains(b.data, "SwapFree:              0 kB\n");
	kmm_buf_free(&b);

	/* Switching off the -2 area (after freeing it) moves -3 up to -2. */
	for (unsigned long o = 1; o < 256; o++)
		put_swap_page(m, swp_entry(0, o));
	struct kmm_error err = {0};
	swap_test_path(path, sizeof(path), "low.swap");
	expect_int_eq(kmm_swapoff(m, path, &err), 0);
	kmm_swap_area_info(m, 3, &info);
	expect_int_eq(info.prio, -2);
	expect_int_eq(kmm_swap_area_info(m, 0, &info), -ENOENT);
	/* The next automatic priority is -3 again, and type 0 is reused. */
	expect_int_eq(swap_test_swapon(m, "again.swap", 1UL << 20, -1), 0);
	kmm_swap_area_info(m, 0, &info);
	expect_int_eq(info.prio, -3);
	expect_valid(m);
	kmm_machine_destroy(m);
}

/* --- swapoff ------------------------------------------------------------------------------------------ */

/* The "page tables" of the swapoff test: entries standing for swap PTEs, or pages. */
#define NPTE 600
static struct {
	swp_entry_t entry[NPTE];
	struct kmm_page *page[NPTE];
	uint64_t sum[NPTE];
	int calls;
} ptes;

static uint64_t page_sum(struct kmm_machine *m, struct kmm_page *page)
{
	return swap_page_checksum(page_address(m, page), (swp_entry_t){0});
}

/* vm/'s part of swapoff, as the test's page tables have it (Linux unuse_pte_range). */
static int test_unuse_area(struct kmm_machine *m, unsigned int type)
{
	ptes.calls++;
	for (int i = 0; i < NPTE; i++) {
		if (!ptes.entry[i].val || swp_type(ptes.entry[i]) != type)
			continue;
		int err;
		struct kmm_page *page = lookup_swap_cache(m, ptes.entry[i]);
		if (!page)
			page = swapin_readahead(m, ptes.entry[i], GFP_KERNEL, &err);
		if (!page)
			return err;
		swap_free(m, ptes.entry[i]);
		ptes.entry[i].val = 0;
		ptes.page[i] = page; /* "mapped": the reference is the PTE's */
		SetPageLocked(page);
		try_to_free_swap(m, page);
		ClearPageLocked(page);
	}
	return 0;
}

static void test_swapoff(void)
{
	struct kmm_machine *m = boot();
	struct kmm_rng rng;
	struct kmm_error err = {0};
	char path[512];
	kmm_rng_seed(&rng, kmm_test_seed + 1);
	memset(&ptes, 0, sizeof(ptes));
	int type = swap_test_swapon(m, "off.swap", 4UL << 20, -1);
	expect_int_eq(type, 0);
	swap_test_path(path, sizeof(path), "off.swap");

	/* An empty area goes off without a hook. */
	expect_int_eq(kmm_swapoff(m, path, &err), 0);
	expect_int_eq(kmm_swapoff(m, path, &err), -EINVAL);
	expect_str_contains(err.msg, "not an active swap area");
	type = swap_test_swapon(m, "off.swap", 0, -1); /* the same file, its header kept */
	expect_int_eq(type, 0);

	for (int i = 0; i < NPTE; i++) {
		struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
		swap_test_fill(m, page, &rng);
		ptes.sum[i] = page_sum(m, page);
		int werr;
		ptes.entry[i] = swap_test_out(m, page, &werr);
		expect_int_eq(werr, 0);
		expect_u64_ne(ptes.entry[i].val, 0);
		/* Keep a few pages in the swap cache, as a just-faulted page would be. */
		if (i % 50 == 0) {
			SetPageLocked(page);
			SetPageSwapBacked(page);
			expect_int_eq(swapcache_prepare(m, ptes.entry[i]), 0);
			expect_int_eq(add_to_swap_cache(m, page, ptes.entry[i], GFP_KERNEL), 0);
			ClearPageLocked(page);
		}
		kmm_put_page(m, page);
	}
	expect_valid(m);
	/*
	 * No hook: swap/'s own walk of the page tables finds none of these
	 * "PTEs" (they are the test's), so the slots stay in use: refused after
	 * its rounds, nothing lost, the area still on.
	 */
	expect_int_eq(kmm_swapoff(m, path, &err), -EBUSY);
	expect_str_contains(err.msg, "600 slots still in use after bringing pages back");
	struct kmm_swap_area_info info;
	expect_int_eq(kmm_swap_area_info(m, type, &info), 0);
	expect_true(info.active);
	expect_u64_eq(info.inuse_pages, NPTE);
	expect_valid(m);

	struct kmm_swap_ops ops = {.unuse_area = test_unuse_area};
	kmm_swap_set_ops(m, &ops);
	expect_int_eq(kmm_swapoff(m, path, &err), 0);
	expect_int_eq(ptes.calls, 1);
	struct kmm_swap_totals t;
	kmm_swap_totals(m, &t);
	expect_u64_eq(t.total, 0);
	expect_u64_eq(t.cached, 0);
	for (int i = 0; i < NPTE; i++) {
		expect_ptr_not_null(ptes.page[i]);
		check_u64_eq(page_sum(m, ptes.page[i]), ptes.sum[i]);
		expect_false(PageSwapCache(ptes.page[i]));
		kmm_put_page(m, ptes.page[i]);
	}
	expect_valid(m);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_shadow_model);
	run_test(test_cluster_order);
	run_test(test_priorities);
	run_test(test_swapoff);
	swap_test_cleanup();
	return kmm_test_done();
}
