/*
 * kswapd: one reclaimer per node that keeps free memory between the low and
 * the high watermark, so that allocations rarely have to reclaim
 * themselves.
 *
 * Linux: mm/vmscan.c of 6.1 (wakeup_kswapd, kswapd, kswapd_try_to_sleep,
 * prepare_kswapd_sleep, balance_pgdat, kswapd_shrink_node, pgdat_balanced,
 * kswapd_age_node).
 *
 * Theory of operation.
 *  1. The page allocator's slow path calls wakeup_kswapd() for the nodes of
 *     its zonelist when an allocation found every zone below its low
 *     watermark. The request (order, highest zone) is merged into the
 *     node's, and kswapd is woken unless the node is balanced already or
 *     kswapd gave up on it (16 runs without progress; a successful direct
 *     reclaim resets that).
 *  2. balance_pgdat() reclaims at priority 12, 11, ... until some eligible
 *     zone is above its high watermark, aging the anonymous active list on
 *     the way, and counts a failure if a whole run reclaimed nothing.
 *  3. Two ways to run: in concurrent mode (kmm_kswapd_start_threads, which
 *     kmm_run does) each node has a host thread sleeping on a wait queue,
 *     as Linux's; otherwise a wake-up only marks the node, and the run
 *     happens when the deterministic scheduler calls
 *     kmm_kswapd_run_pending() between rounds of CPU steps, so a run is a
 *     pure function of its input and seed.
 *  4. Deterministic mode can also give kswapd a time slice rather than the
 *     CPU until it is done (kmm_kswapd_run_pending_budget): the run stops
 *     once it reclaimed its share of pages and stays pending, with its
 *     request, for the next slice, as a kswapd the scheduler preempted
 *     continues where it was. A model of a CPU shared with the workload
 *     decides the shares (bench/reclaim's twin of a 1-CPU guest).
 *
 * Locks: kswapd->wait's mutex around the request fields and the state
 * flags; no other lock is held while reclaiming.
 */
#include "internal.h"
#include <errno.h>
#include <limits.h>

/* The watermark check with every CPU's pending free-page delta folded in (Linux _safe). */
static bool zone_watermark_ok_safe(struct kmm_zone *zone, unsigned int order, unsigned long mark,
				   int highest_zoneidx)
{
	long free = (long)zone_page_state_snapshot(zone, NR_FREE_PAGES);
	return __zone_watermark_ok(zone, order, mark, highest_zoneidx, 0, free);
}

/* Is some zone up to @highest_zoneidx above its high watermark? (Linux pgdat_balanced) */
bool pgdat_balanced(struct kmm_node *pgdat, int order, int highest_zoneidx)
{
	bool any = false;
	for (int i = 0; i <= highest_zoneidx && i < MAX_NR_ZONES; i++) {
		struct kmm_zone *zone = &pgdat->node_zones[i];
		if (!managed_zone(zone))
			continue;
		any = true;
		if (zone_watermark_ok_safe(zone, (unsigned int)order, high_wmark_pages(zone),
					   highest_zoneidx))
			return true;
	}
	/* No managed zone at all: nothing to balance. */
	return !any;
}

/*
 * Linux kswapd_shrink_node(): reclaim up to the high watermarks of the
 * eligible zones, or @budget pages if fewer (the rest of a time slice).
 */
static bool kswapd_shrink_node(struct kmm_machine *m, struct kmm_node *pgdat,
			       struct scan_control *sc, unsigned long budget)
{
	sc->nr_to_reclaim = 0;
	for (int z = 0; z <= (int)sc->reclaim_idx; z++) {
		struct kmm_zone *zone = &pgdat->node_zones[z];
		if (!managed_zone(zone))
			continue;
		sc->nr_to_reclaim += kmm_max(high_wmark_pages(zone), SWAP_CLUSTER_MAX);
	}
	sc->nr_to_reclaim = kmm_min(sc->nr_to_reclaim, kmm_max(budget, 1UL));
	shrink_node(m, pgdat, sc);
	return sc->nr_scanned >= sc->nr_to_reclaim;
}

/*
 * Linux balance_pgdat(). Returns the pages reclaimed. @budget: the pages
 * this slice may reclaim (ULONG_MAX: no limit); a run that reaches it sets
 * *@preempted and ends early, leaving the boosts and the failure count
 * alone (the run is not over).
 */
static unsigned long balance_pgdat(struct kmm_machine *m, struct kmm_node *pgdat, int order,
				   int highest_zoneidx, unsigned long budget, bool resume,
				   bool *preempted)
{
	struct scan_control sc = {
	    .gfp_mask = GFP_KERNEL,
	    .order = order,
	    .priority = DEF_PRIORITY,
	    .may_writepage = true,
	    .may_unmap = true,
	    .may_swap = true,
	    .is_kswapd = true,
	    .reclaim_idx = (enum zone_type)highest_zoneidx,
	};
	/* A run resumed after a time slice is the same run (Linux: one call). */
	if (!resume)
		count_vm_event(m, PAGEOUTRUN);
	/*
	 * Watermark boosts (raised by the page allocator when a fallback
	 * fragments a zone) ask for this much reclaim on top; the boost stays
	 * until the run ends, so that allocations near the watermark keep
	 * waking us meanwhile (Linux: the boost accounting of balance_pgdat).
	 */
	unsigned long zone_boosts[MAX_NR_ZONES] = {0}, nr_boost_reclaim = 0;
	for (int i = 0; i <= highest_zoneidx && i < MAX_NR_ZONES; i++) {
		struct kmm_zone *zone = &pgdat->node_zones[i];
		if (!managed_zone(zone))
			continue;
		zone_boosts[i] = READ_ONCE(zone->watermark_boost);
		nr_boost_reclaim += zone_boosts[i];
	}
	bool boosted = nr_boost_reclaim != 0;
restart:
	sc.priority = DEF_PRIORITY;
	do {
		unsigned long before = sc.nr_reclaimed;
		bool raise_priority = true;
		bool balanced = pgdat_balanced(pgdat, order, highest_zoneidx);
		/* Short of the real watermarks: forget the boost, reclaim as usual. */
		if (!balanced && nr_boost_reclaim) {
			nr_boost_reclaim = 0;
			goto restart;
		}
		if (!nr_boost_reclaim && balanced)
			break;
		/* Reclaim for a boost only relieves fragmentation: no I/O, no deep priorities. */
		if (nr_boost_reclaim && sc.priority == DEF_PRIORITY - 2)
			raise_priority = false;
		sc.may_writepage = !nr_boost_reclaim;
		sc.may_swap = !nr_boost_reclaim;
		if (sc.priority < DEF_PRIORITY - 2)
			sc.may_writepage = true;
		/* Age the anonymous active list even if only file pages get scanned (kswapd_age_node). */
		struct lruvec *lruvec = node_lruvec(pgdat);
		if (can_reclaim_anon_pages(m) && inactive_is_low(m, lruvec, LRU_INACTIVE_ANON))
			shrink_active_list(m, SWAP_CLUSTER_MAX, lruvec, &sc, LRU_ACTIVE_ANON);
		sc.nr_scanned = 0;
		if (kswapd_shrink_node(m, pgdat, &sc, budget - kmm_min(budget, sc.nr_reclaimed)))
			raise_priority = false;
		unsigned long nr_reclaimed = sc.nr_reclaimed - before;
		if (sc.nr_reclaimed >= budget) {
			*preempted = true;
			return sc.nr_reclaimed;
		}
		nr_boost_reclaim -= kmm_min(nr_boost_reclaim, nr_reclaimed);
		/* A boost that reclaim cannot serve without I/O is dropped, not looped on. */
		if (nr_boost_reclaim && !nr_reclaimed)
			break;
		if (raise_priority || !nr_reclaimed)
			sc.priority--;
	} while (sc.priority >= 1);
	if (!sc.nr_reclaimed)
		WRITE_ONCE(pgdat->kswapd_failures, READ_ONCE(pgdat->kswapd_failures) + 1);
	/* The boosts this run served are gone (later ones stay for the next run). */
	if (boosted) {
		for (int i = 0; i <= highest_zoneidx && i < MAX_NR_ZONES; i++) {
			if (!zone_boosts[i])
				continue;
			struct kmm_zone *zone = &pgdat->node_zones[i];
			spin_lock(&zone->lock);
			WRITE_ONCE(zone->watermark_boost,
				   zone->watermark_boost -
				       kmm_min(zone->watermark_boost, zone_boosts[i]));
			spin_unlock(&zone->lock);
		}
	}
	/* Activations from refaults seen by now no longer ask for deactivation. */
	snapshot_refaults(pgdat);
	return sc.nr_reclaimed;
}

static unsigned long kswapd_run_pending_nodes(struct kmm_machine *m, unsigned long budget,
					      int *nodes);
/*
 * The node whose kswapd the calling thread is running, or -1: Linux's
 * current_is_kswapd() (PF_KSWAPD), per thread as a task flag is per task.
 */
static __thread int kswapd_node = -1;

void wakeup_kswapd(struct kmm_zone *zone, gfp_t gfp, unsigned int order,
		   enum zone_type highest_zoneidx)
{
	struct kmm_machine *m = zone->machine;
	struct reclaim_state *rs = reclaim_state(m);
	if (!rs || !managed_zone(zone))
		return;
	struct kmm_node *pgdat = NODE_DATA(m, zone->node);
	struct kswapd *k = &rs->kswapd[zone->node];

	kmm_port_waitq_lock(&k->wait);
	if (pgdat->kswapd_highest_zoneidx == MAX_NR_ZONES ||
	    pgdat->kswapd_highest_zoneidx < highest_zoneidx)
		pgdat->kswapd_highest_zoneidx = highest_zoneidx;
	if (pgdat->kswapd_order < (int)order)
		pgdat->kswapd_order = (int)order;
	/*
	 * Deterministic mode on a shared CPU: a woken kswapd preempts the
	 * allocating task at once (a sleeper's wake-up preemption), for its
	 * slice; so does one woken earlier that has not run yet. Only where the
	 * allocation could reclaim itself: the caller then holds nothing that
	 * reclaim may not meet.
	 */
	unsigned long slice = READ_ONCE(rs->wakeup_slice);
	bool run_now = !k->threaded && slice && (gfp & __GFP_DIRECT_RECLAIM) && kswapd_node < 0;
	/* Linux: only a sleeping kswapd is woken (waitqueue_active). */
	bool asleep = k->threaded ? k->sleeping : !k->pending;
	if (!asleep || READ_ONCE(pgdat->kswapd_failures) >= MAX_RECLAIM_RETRIES ||
	    pgdat_balanced(pgdat, (int)order, (int)highest_zoneidx)) {
		run_now = run_now && !asleep;
		kmm_port_waitq_unlock(&k->wait);
	} else {
		atomic_inc(&pgdat->kswapd_wakeups);
		trace_mm_vmscan_wakeup_kswapd(m, pgdat->node_id, highest_zoneidx, order, gfp);
		k->pending = true;
		if (k->threaded)
			kmm_port_waitq_wake_all(&k->wait);
		kmm_port_waitq_unlock(&k->wait);
	}
	if (run_now) {
		int nodes;
		kswapd_run_pending_nodes(m, slice, &nodes);
	}
}

void kmm_kswapd_set_wakeup_slice(struct kmm_machine *m, unsigned long nr_pages)
{
	struct reclaim_state *rs = reclaim_state(m);
	if (rs)
		WRITE_ONCE(rs->wakeup_slice, nr_pages);
}

/* Take the node's request (Linux kswapd: reading and resetting kswapd_order/highest_zoneidx). */
static void kswapd_take_request(struct kmm_node *pgdat, int *order, int *highest)
{
	*order = pgdat->kswapd_order;
	*highest = pgdat->kswapd_highest_zoneidx == MAX_NR_ZONES
		       ? pgdat->nr_zones - 1
		       : (int)pgdat->kswapd_highest_zoneidx;
	pgdat->kswapd_order = 0;
	pgdat->kswapd_highest_zoneidx = (enum zone_type)MAX_NR_ZONES;
}

int kmm_current_kswapd_node(void)
{
	return kswapd_node;
}

/*
 * One kswapd run on the calling thread: wake trace, balance, sleep trace.
 * With a @budget (deterministic time slices) the run may be preempted:
 * then no sleep trace, *@preempted is set, and the next slice resumes the
 * run (no wake trace, not counted as a run again). Returns the pages
 * reclaimed.
 */
static unsigned long kswapd_run_once(struct kmm_machine *m, struct kswapd *k, int order,
				     int highest, unsigned long budget, bool *preempted)
{
	struct kmm_node *pgdat = k->pgdat;
	bool resume = k->resume;
	kswapd_node = pgdat->node_id;
	if (!resume)
		trace_mm_vmscan_kswapd_wake(m, pgdat->node_id, highest, order);
	unsigned long nr = balance_pgdat(m, pgdat, order, highest, budget, resume, preempted);
	k->resume = *preempted;
	if (!*preempted)
		trace_mm_vmscan_kswapd_sleep(m, pgdat->node_id);
	kswapd_node = -1;
	return nr;
}

/* Deterministic mode: run each node's pending kswapd work, @budget pages per node. */
static unsigned long kswapd_run_pending_nodes(struct kmm_machine *m, unsigned long budget,
					      int *nodes)
{
	struct reclaim_state *rs = reclaim_state(m);
	unsigned long total = 0;
	int nid;
	*nodes = 0;
	if (!rs || READ_ONCE(rs->threads))
		return 0;
	for_each_online_node (m, nid) {
		struct kswapd *k = &rs->kswapd[nid];
		if (!k->pgdat)
			continue;
		kmm_port_waitq_lock(&k->wait);
		bool pending = k->pending;
		int order = 0, highest = 0;
		if (pending)
			kswapd_take_request(k->pgdat, &order, &highest);
		kmm_port_waitq_unlock(&k->wait);
		if (!pending)
			continue;
		bool preempted = false;
		total += kswapd_run_once(m, k, order, highest, budget, &preempted);
		kmm_port_waitq_lock(&k->wait);
		if (preempted) {
			/* Still pending: the request goes back, merged with any new one. */
			struct kmm_node *pgdat = k->pgdat;
			if (pgdat->kswapd_order < order)
				pgdat->kswapd_order = order;
			if (pgdat->kswapd_highest_zoneidx == MAX_NR_ZONES ||
			    (int)pgdat->kswapd_highest_zoneidx < highest)
				pgdat->kswapd_highest_zoneidx = (enum zone_type)highest;
		} else {
			k->pending = false;
		}
		kmm_port_waitq_unlock(&k->wait);
		*nodes += !preempted;
	}
	return total;
}

int kmm_kswapd_run_pending(struct kmm_machine *m)
{
	int nodes;
	kswapd_run_pending_nodes(m, ULONG_MAX, &nodes);
	return nodes;
}

unsigned long kmm_kswapd_run_pending_budget(struct kmm_machine *m, unsigned long nr_pages)
{
	int nodes;
	if (!nr_pages)
		return 0;
	return kswapd_run_pending_nodes(m, nr_pages, &nodes);
}

bool kmm_kswapd_pending(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	bool pending = false;
	int nid;
	if (!rs)
		return false;
	for_each_online_node (m, nid) {
		struct kswapd *k = &rs->kswapd[nid];
		if (!k->pgdat)
			continue;
		kmm_port_waitq_lock(&k->wait);
		pending |= k->pending;
		kmm_port_waitq_unlock(&k->wait);
	}
	return pending;
}

static void *kswapd_thread(void *arg)
{
	struct kswapd *k = arg;
	struct kmm_machine *m = k->pgdat->machine;
	kmm_port_waitq_lock(&k->wait);
	for (;;) {
		while (!k->pending && !k->stop) {
			k->sleeping = true;
			kmm_port_waitq_wait(&k->wait, 0);
			k->sleeping = false;
		}
		if (k->stop)
			break;
		int order, highest;
		kswapd_take_request(k->pgdat, &order, &highest);
		k->running = true;
		kmm_port_waitq_unlock(&k->wait);
		bool preempted = false;
		kswapd_run_once(m, k, order, highest, ULONG_MAX, &preempted);
		kmm_port_waitq_lock(&k->wait);
		k->running = false;
		k->pending = false;
		kmm_port_waitq_wake_all(&k->wait); /* anyone waiting for kswapd to go idle */
	}
	k->sleeping = false;
	kmm_port_waitq_unlock(&k->wait);
	return NULL;
}

int kmm_kswapd_start_threads(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	int nid;
	if (!rs)
		return -EINVAL;
	if (rs->threads)
		return -EALREADY;
	WRITE_ONCE(rs->threads, true);
	for_each_online_node (m, nid) {
		struct kswapd *k = &rs->kswapd[nid];
		if (!k->pgdat)
			continue;
		kmm_port_waitq_lock(&k->wait);
		k->stop = false;
		k->resume = false;
		k->threaded = true;
		kmm_port_waitq_unlock(&k->wait);
		int err = kmm_port_thread_create(&k->thread, kswapd_thread, k);
		if (err) {
			kmm_port_waitq_lock(&k->wait);
			k->threaded = false;
			kmm_port_waitq_unlock(&k->wait);
			k->thread = NULL;
			kmm_kswapd_stop_threads(m);
			return err;
		}
	}
	return 0;
}

void kmm_kswapd_stop_threads(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	int nid;
	if (!rs || !rs->threads)
		return;
	for_each_online_node (m, nid) {
		struct kswapd *k = &rs->kswapd[nid];
		if (!k->thread)
			continue;
		kmm_port_waitq_lock(&k->wait);
		k->stop = true;
		kmm_port_waitq_wake_all(&k->wait);
		kmm_port_waitq_unlock(&k->wait);
		kmm_port_thread_join(k->thread);
		k->thread = NULL;
		/* A wake-up the thread did not get to is dropped: the node is checked again later. */
		kmm_port_waitq_lock(&k->wait);
		k->threaded = false;
		k->pending = false;
		kmm_port_waitq_unlock(&k->wait);
	}
	WRITE_ONCE(rs->threads, false);
}

int kswapd_init(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	int nid;
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = NODE_DATA(m, nid);
		if (!pgdat)
			continue;
		rs->kswapd[nid].pgdat = pgdat;
		kmm_port_waitq_init(&rs->kswapd[nid].wait);
		pgdat->kswapd_highest_zoneidx = (enum zone_type)MAX_NR_ZONES;
		pgdat->kswapd_order = 0;
	}
	return 0;
}

void kswapd_destroy(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	int nid;
	kmm_kswapd_stop_threads(m);
	for_each_online_node (m, nid)
		if (rs->kswapd[nid].pgdat)
			kmm_port_waitq_destroy(&rs->kswapd[nid].wait);
}
