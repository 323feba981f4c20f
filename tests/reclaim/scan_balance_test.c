/*
 * How much of each list one pass over a node scans (get_scan_count), and
 * when it may deactivate the active anonymous list (prepare_scan_count), in
 * exact counts: a task's anonymous pages on the lists of a machine with
 * swap and no page cache, one shrink_node() at a chosen priority, and the
 * pgscan / pgrefill / pgdeactivate it added.
 *
 *  - A type's share of a pass, (list >> priority) * fraction / denominator,
 *    is rounded down: a share under one page scans nothing (Linux 6.1's
 *    get_scan_count for a live or absent memory cgroup).
 *  - With the inactive list not low, the active list is aged only when the
 *    workingset activated refaulting pages since the last snapshot
 *    (lruvec->refaults); then its share is deactivated, used PTEs or not
 *    (only executable file pages keep their place).
 */
#include "reclaim_util.h"
#include "reclaim/internal.h"

#define PAGES 9000UL

struct world {
	struct reclaim_anon a; /* the machine, the task and its region */
	struct kmm_node *pgdat;
	struct lruvec *lruvec;
};

static int world_setup(struct world *w)
{
	if (reclaim_anon_setup(&w->a, "scanbal", "--mem 64M --nodes 1 --cpus 1", "64M", PAGES))
		return -1;
	for (unsigned long p = 0; p < PAGES; p++) {
		uint64_t v = p ^ kmm_test_seed;
		if (kmm_write(w->a.t, w->a.addr + p * PAGE_SIZE, &v, sizeof(v)))
			return -1;
	}
	kmm_task_switch_out(w->a.m);
	if (reclaim_check_all(w->a.m)) /* also drains the add batches onto the lists */
		return -1;
	w->pgdat = NODE_DATA(w->a.m, 0);
	w->lruvec = node_lruvec(w->pgdat);
	return 0;
}

static void world_destroy(struct world *w)
{
	reclaim_anon_destroy(&w->a);
}

static unsigned long list_size(struct world *w, enum lru_list lru)
{
	return lruvec_lru_size(w->a.m, w->lruvec, lru, (enum zone_type)(MAX_NR_ZONES - 1));
}

/* Set the remembered reclaim costs (what refaults and writes charged each type). */
static void set_costs(struct world *w, unsigned long anon_cost, unsigned long file_cost)
{
	spin_lock(&w->lruvec->lru_lock);
	w->lruvec->anon_cost = anon_cost;
	w->lruvec->file_cost = file_cost;
	spin_unlock(&w->lruvec->lru_lock);
}

/*
 * The anonymous share of @size pages at @priority, with swappiness 60 and
 * the costs above: the arithmetic of Linux's get_scan_count(), written out
 * here so that the test does not reuse the code it checks.
 */
static unsigned long anon_share(unsigned long size, int priority, uint64_t anon_cost,
				uint64_t file_cost)
{
	uint64_t sum = anon_cost + file_cost;
	uint64_t a = sum + anon_cost, f = sum + file_cost;
	uint64_t ap = 60 * (a + f + 1) / (a + 1), fp = 140 * (a + f + 1) / (f + 1);
	return (unsigned long)((size >> priority) * ap / (ap + fp));
}

/* One pass over the node at @priority, as kmm_reclaim_pages makes it. */
static void one_pass(struct world *w, int priority)
{
	struct scan_control sc = {
	    .nr_to_reclaim = SWAP_CLUSTER_MAX,
	    .gfp_mask = GFP_KERNEL,
	    .reclaim_idx = (enum zone_type)(MAX_NR_ZONES - 1),
	    .priority = priority,
	    .may_writepage = true,
	    .may_unmap = true,
	    .may_swap = true,
	    .proactive = true,
	};
	kmm_cpu_enter(w->a.m, 0);
	shrink_node(w->a.m, w->pgdat, &sc);
	kmm_cpu_exit(w->a.m);
}

/* A share under one page scans nothing; above it, the whole pages of it. */
static void test_fraction_rounds_down(void)
{
	struct world w;
	expect_int_eq(world_setup(&w), 0);
	unsigned long inactive = list_size(&w, LRU_INACTIVE_ANON);
	expect_u64_ge(inactive, PAGES);
	expect_u64_eq(list_size(&w, LRU_ACTIVE_ANON), 0);
	expect_u64_eq(list_size(&w, LRU_INACTIVE_FILE) + list_size(&w, LRU_ACTIVE_FILE), 0);
	/* Anonymous refaults cost a lot lately: anon gets about a sixth of its size share. */
	set_costs(&w, 1000, 0);
	snapshot_refaults(w.pgdat);

	long scan0 = vmstat(w.a.m, "pgscan_anon");
	expect_u64_eq(anon_share(inactive, DEF_PRIORITY, 1000, 0), 0); /* 2 pages * 0.18 */
	one_pass(&w, DEF_PRIORITY);
	expect_i64_eq(vmstat(w.a.m, "pgscan_anon") - scan0, 0);
	expect_all_valid(w.a.m);

	/* Priority 10: 8 pages * 0.18 -> 1 page scanned (rounding up scanned 2). */
	unsigned long share = anon_share(inactive, DEF_PRIORITY - 2, 1000, 0);
	expect_u64_eq(share, 1);
	one_pass(&w, DEF_PRIORITY - 2);
	expect_i64_eq(vmstat(w.a.m, "pgscan_anon") - scan0, (long)share);
	/* Its PTE was young from the fault: kept, not reclaimed. */
	expect_i64_eq(vmstat(w.a.m, "pgsteal_anon"), 0);
	expect_all_valid(w.a.m);
	world_destroy(&w);
}

/*
 * The active list is aged only when the workingset refaults (or the
 * inactive list is low), and then its share is deactivated in full.
 */
static void test_deactivate_on_refault(void)
{
	struct world w;
	expect_int_eq(world_setup(&w), 0);
	/* 4000 of the task's pages active, the rest (more) inactive: the inactive list is not low. */
	unsigned long nr_active = 4000;
	spin_lock(&w.lruvec->lru_lock);
	for (unsigned long k = 0; k < nr_active; k++) {
		struct kmm_page *page =
		    list_first_entry(&w.lruvec->lists[LRU_INACTIVE_ANON], struct kmm_page, lru);
		lruvec_del_page(w.a.m, w.lruvec, page);
		SetPageActive(page);
		lruvec_add_page(w.a.m, w.lruvec, page);
	}
	spin_unlock(&w.lruvec->lru_lock);
	expect_u64_eq(list_size(&w, LRU_ACTIVE_ANON), nr_active);
	expect_false(inactive_is_low(w.a.m, w.lruvec, LRU_INACTIVE_ANON));
	expect_all_valid(w.a.m);
	set_costs(&w, 0, 0);
	snapshot_refaults(w.pgdat);
	int prio = 6;

	/* No refault since the snapshot: the active list is left alone. */
	long refill0 = vmstat(w.a.m, "pgrefill"), deact0 = vmstat(w.a.m, "pgdeactivate");
	one_pass(&w, prio);
	expect_i64_eq(vmstat(w.a.m, "pgrefill") - refill0, 0);
	expect_i64_eq(vmstat(w.a.m, "pgdeactivate") - deact0, 0);
	expect_u64_eq(list_size(&w, LRU_ACTIVE_ANON), nr_active);

	/* One refault activated a page: the next pass deactivates the active list's share. */
	mod_node_page_state(w.pgdat, WORKINGSET_ACTIVATE_ANON, 1);
	unsigned long share = anon_share(nr_active, prio, 0, 0); /* 62 * 60 / 200 */
	expect_u64_eq(share, 18);
	one_pass(&w, prio);
	expect_i64_eq(vmstat(w.a.m, "pgrefill") - refill0, (long)share);
	/* Every one of them had a young PTE, and every one went: anonymous pages do not rotate. */
	expect_i64_eq(vmstat(w.a.m, "pgdeactivate") - deact0, (long)share);
	expect_u64_eq(list_size(&w, LRU_ACTIVE_ANON), nr_active - share);
	expect_all_valid(w.a.m);

	/* The snapshot taken at the end of a reclaim run: no more deactivation. */
	snapshot_refaults(w.pgdat);
	one_pass(&w, prio);
	expect_i64_eq(vmstat(w.a.m, "pgrefill") - refill0, (long)share);
	expect_u64_eq(list_size(&w, LRU_ACTIVE_ANON), nr_active - share);
	expect_all_valid(w.a.m);
	world_destroy(&w);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_fraction_rounds_down);
	run_test(test_deactivate_on_refault);
	return kmm_test_done();
}
