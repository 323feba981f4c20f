/*
 * Page frame reclamation: the LRU lists, kswapd, direct reclaim, the OOM
 * killer. See docs/reclaim.md.
 *
 * Linux: mm/vmscan.c, mm/swap.c, mm/oom_kill.c. Reclaim starts at boot and
 * works by itself: the page allocator wakes kswapd below a zone's low
 * watermark and reclaims directly below min. This header is what a program
 * may ask of it besides: the tunables, dropping caches, running kswapd's
 * pending work in deterministic programs, and the invariant checker.
 */
#ifndef KMM_RECLAIM_H
#define KMM_RECLAIM_H

#include <kmm/machine.h>
#include <kmm/error.h>

/*
 * vm.swappiness, 0..200 (Linux default 60): the relative cost of reclaiming
 * anonymous pages (swap I/O) against file pages. Returns 0 or -EINVAL.
 */
int kmm_reclaim_set_swappiness(struct kmm_machine *m, int swappiness);
int kmm_reclaim_swappiness(const struct kmm_machine *m);

/*
 * echo @what > /proc/sys/vm/drop_caches: 1 drops clean unmapped page-cache
 * pages, 2 shrinks the slab caches, 3 both. Returns the number of pages (1)
 * and objects (2) freed, or -EINVAL for another value.
 */
long kmm_drop_caches(struct kmm_machine *m, int what);

/*
 * Reclaim up to @nr_pages from every node as kswapd would, whatever the
 * watermarks say (Linux's memory.reclaim, proactive reclaim). Returns the
 * pages reclaimed.
 */
unsigned long kmm_reclaim_pages(struct kmm_machine *m, unsigned long nr_pages);

/*
 * Run the kswapd work that wake-ups left pending, on the calling thread
 * (deterministic mode does this between rounds of CPU steps). Returns the
 * number of nodes balanced.
 */
int kmm_kswapd_run_pending(struct kmm_machine *m);
/*
 * Deterministic mode on a CPU shared with the workload: run the pending
 * kswapd work for one time slice, in which each node's kswapd may reclaim
 * about @nr_pages (a batch of up to 32 pages may go past it). A run that
 * used its slice stays pending and continues at the next call, as a
 * preempted kswapd does. Returns the pages reclaimed (0 if @nr_pages is 0).
 */
unsigned long kmm_kswapd_run_pending_budget(struct kmm_machine *m, unsigned long nr_pages);
/* Is some node's kswapd woken and not yet done (deterministic mode)? */
bool kmm_kswapd_pending(struct kmm_machine *m);
/*
 * Deterministic mode on a CPU shared with the workload: from now on, a
 * wake-up of kswapd by an allocation that may reclaim runs kswapd at once,
 * inside that allocation, for a slice of @nr_pages (ULONG_MAX: until
 * balanced), as a woken kswapd preempts the task; 0 (the default): runs
 * wait for kmm_kswapd_run_pending().
 */
void kmm_kswapd_set_wakeup_slice(struct kmm_machine *m, unsigned long nr_pages);
/*
 * Start (or stop) one host thread per node for kswapd, as concurrent runs
 * do; without them, wake-ups wait for kmm_kswapd_run_pending(). Start
 * returns 0, -EALREADY (the threads run: whoever started them stops them),
 * -EINVAL (a machine without the reclaim layer) or the host's error.
 */
int kmm_kswapd_start_threads(struct kmm_machine *m);
void kmm_kswapd_stop_threads(struct kmm_machine *m);

/*
 * The node whose kswapd the calling thread is running now, or -1 (Linux
 * current_is_kswapd()): trace context hooks show such events as kswapdN.
 */
int kmm_current_kswapd_node(void);

/*
 * Check the LRU lists: every page on a list belongs to its node, carries
 * PG_lru and the flags of that list, is in use and is not a slab or
 * page-table page; list lengths equal the node and zone counters; no page
 * outside the lists has PG_lru; no page is in an add batch and on a list.
 * Call it when no CPU is running. Returns 0 or -EINVAL with what broke.
 */
int kmm_lru_validate(struct kmm_machine *m, struct kmm_error *err);

/* /proc/<pid>/oom_score_adj of a task: -1000 (never kill) .. 1000. 0 or -EINVAL. */
struct kmm_task;
int kmm_task_set_oom_score_adj(struct kmm_task *t, int adj);

#endif /* KMM_RECLAIM_H */
