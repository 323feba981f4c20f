/*
 * Reclaim meets a shmem page that lost its mapping after it was isolated.
 *
 * A shmem page that readahead left in the swap cache (clean, unmapped,
 * page->mapping NULL) is isolated by reclaim; before reclaim locks it, the
 * region's last unmap truncates the file: the slot's last reference goes,
 * and free_swap_and_cache takes the page out of the swap cache, dirty,
 * as it does for every page whose slot nothing names any more. Reclaim
 * then finds a dirty, swap-backed page that is neither anonymous nor in
 * the swap cache, the look of a shmem page to write out, with no mapping
 * to write it for. It must let it go (the last reference frees it), not
 * hand it to shmem_writepage, which stops on the missing mapping.
 *
 * The steps run in order on one CPU: the interleaving is exact. Both rmap
 * designs; the checkers of every layer at the end, and exact figures: the
 * page freed, no slot in use, no Shmem left.
 */
#include "../reclaim/reclaim_util.h"
#include "reclaim/internal.h"
#include "swap/internal.h"

#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

/* The swap entry slot 0 of @mapping holds (0: it holds a page, or nothing). */
static swp_entry_t slot_entry(struct kmm_address_space *mapping)
{
	swp_entry_t e = {0};
	spin_lock(&mapping->i_pages_lock);
	void *p = radix_tree_lookup(&mapping->i_pages, 0);
	if (xa_is_value(p))
		e = radix_to_swp_entry(p);
	spin_unlock(&mapping->i_pages_lock);
	return e;
}

static void run_orphan(struct kmm_machine *m, struct kmm_task *t)
{
	struct vm_state *vm = vm_state(m);
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		buf[i] = kmm_test_seed + i;
	long a = kmm_mmap(t, 0, PAGE_SIZE, RW, KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;
	expect_int_eq(kmm_write(t, addr, buf, PAGE_SIZE), 0);
	mmap_read_lock(t->mm);
	struct kmm_address_space *mapping = vma_mapping(find_vma(t->mm, addr));
	mmap_read_unlock(t->mm);
	expect_ptr_not_null(mapping);

	/* Out to swap: the mapping holds the slot's entry, the page is gone. */
	expect_int_eq(kmm_madvise(t, addr, PAGE_SIZE, KMM_MADV_PAGEOUT), 0);
	expect_i64_eq(vmstat(m, "pswpout"), 1);
	swp_entry_t e = slot_entry(mapping);
	expect_u64_ne(e.val, 0);
	expect_int_eq(swap_map_value(m, e), 1);

	/* Read back into the swap cache only, as a neighbour's readahead leaves it. */
	int err = 0;
	struct kmm_page *page = swapin_readahead(m, e, GFP_HIGHUSER_MOVABLE, &err);
	expect_ptr_not_null(page);
	vm->lru.lru_add_drain(m);
	expect_true(PageSwapCache(page) && PageUptodate(page) && PageLRU(page));
	expect_false(PageAnon(page) || PageDirty(page));
	expect_ptr_null(page->mapping);
	expect_int_eq(swap_map_value(m, e), SWAP_HAS_CACHE | 1);

	/* Reclaim takes it off the LRU (its reference) ... */
	expect_true(vm->lru.isolate_lru_page(m, page));
	LIST_HEAD(isolated);
	list_add(&page->lru, &isolated);
	kmm_put_page(m, page); /* readahead's: the cache and the isolation hold it */
	expect_int_eq(page_ref_count(page), 2);

	/* ... the last unmap truncates the file: the slot goes, the page leaves the cache ... */
	expect_int_eq(kmm_munmap(t, addr, PAGE_SIZE), 0);
	expect_int_eq(swap_map_value(m, e), 0);
	expect_false(PageSwapCache(page));
	expect_true(PageDirty(page) && PageSwapBacked(page));
	expect_false(PageAnon(page));
	expect_ptr_null(page->mapping);
	expect_int_eq(page_ref_count(page), 1);

	/* ... and reclaim goes on with it: nothing to write, the put frees it. */
	unsigned long pswpout = (unsigned long)vmstat(m, "pswpout");
	vm->lru.reclaim_pages(m, &isolated);
	expect_true(list_empty(&isolated));
	expect_int_eq(page_ref_count(page), 0);
	expect_false(PageLRU(page));
	expect_u64_eq(vmstat(m, "pswpout"), pswpout);
}

static void run(const char *rmap)
{
	char opts[256], swap[96];
	snprintf(swap, sizeof(swap), "/tmp/kmm-shmemorphan-%d-%s.swap", getpid(), rmap);
	snprintf(opts, sizeof(opts), "--mem 16M --seed %llu --rmap %s --swap %s:8M",
		 (unsigned long long)kmm_test_seed, rmap, swap);
	struct kmm_machine *m = vm_boot(opts);
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "orphan", 0);
	if (t) {
		run_orphan(m, t);
		kmm_task_switch_out(m);
	}
	bool ok = t && !kmm_test_case_failed;
	if (ok) {
		expect_all_valid(m);
		struct kmm_swap_totals st;
		kmm_swap_totals(m, &st);
		expect_u64_eq(st.free, st.total);
		expect_u64_eq(st.cached, 0);
		expect_i64_eq(reclaim_stat(m, "meminfo", "Shmem"), 0);
	}
	if (t)
		kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(swap);
	expect_ptr_not_null(t);
}

static void test_orphan_objrmap(void)
{
	run("objrmap");
}

static void test_orphan_ptechain(void)
{
	run("ptechain");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_orphan_objrmap);
	run_test(test_orphan_ptechain);
	return kmm_test_done();
}
