/*
 * reclaim/'s private state and the functions its files share: the LRU
 * vectors' helpers (lru.c), the scanner (vmscan.c), kswapd (kswapd.c), the
 * OOM killer (oom_kill.c).
 *
 * Linux: mm/internal.h, include/linux/mm_inline.h, include/linux/swap.h
 * (the reclaim half). See docs/reclaim.md.
 *
 * Lock order, outermost first: PG_locked of a page > mmap_lock (taken by
 * rmap walks) > a PTE lock > lruvec->lru_lock > an LRU add batch's lock.
 * Nothing that may allocate or do I/O runs under lru_lock or a batch lock.
 */
#ifndef KMM_RECLAIM_INTERNAL_H
#define KMM_RECLAIM_INTERNAL_H

#include "../vm/vm.h"
#include "../swap/swap.h"
#include "../page/internal.h"
#include <kmm/reclaim.h>
#include <kmm/trace.h>

#define SWAP_CLUSTER_MAX    32UL /* pages isolated per batch (Linux SWAP_CLUSTER_MAX) */
#define DEF_PRIORITY	    12	 /* scan 1/4096 of a list at first, all of it at 0 */
#define MAX_RECLAIM_RETRIES 16	 /* kswapd gives up on a node after this many failed runs */
#define LRU_BATCH_SIZE	    15	 /* Linux PAGEVEC_SIZE */

#ifndef LIST_HEAD
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
#endif

/* One CPU's batch of pages on their way to an LRU list (Linux cpu_fbatches.lru_add). */
struct lru_batch {
	spinlock_t lock; /* the owning CPU and lru_add_drain_all() from elsewhere */
	unsigned int nr;
	struct kmm_page *pages[LRU_BATCH_SIZE]; /* each holds a reference */
} ____cacheline_aligned;

/* kswapd of one node. */
struct kswapd {
	struct kmm_node *pgdat;
	struct kmm_port_waitq wait; /* pgdat->kswapd_wait */
	struct kmm_port_thread *thread;
	bool stop;
	bool sleeping; /* waiting for a wake-up (Linux waitqueue_active) */
	bool pending;  /* woken and not yet run (both modes) */
	bool running;  /* inside balance_pgdat */
	bool threaded; /* a host thread serves this node (under wait's lock) */
	bool resume;   /* deterministic mode: the last slice ended mid-run */
};

struct reclaim_state {
	struct kmm_machine *m;
	struct lru_batch batch[KMM_MAX_CPUS];
	struct lru_batch nocpu_batch; /* callers on no simulated CPU */
	struct kswapd kswapd[KMM_MAX_NUMNODES];
	/*
	 * kswapd runs as host threads (concurrent mode). Changed only by the
	 * thread that starts and stops them; wake-ups read each kswapd's own
	 * `threaded` under its lock instead, since they come from any thread.
	 */
	bool threads;
	unsigned long wakeup_slice; /* deterministic: kswapd runs at its wake-up (0: not) */
	/* tunables (vm.*) */
	int swappiness;
	int oom_kill_allocating_task;
	bool oom_dump_tasks;
	/* OOM: one kill at a time (Linux oom_lock). */
	struct kmm_port_waitq oom_lock;
	unsigned long nr_oom_kills;
	bool oom_unkillable_reported;
	struct kmm_shrinker shadow_shrinker; /* workingset.c: frees shadow-only tree nodes */
};

static inline struct reclaim_state *reclaim_state(const struct kmm_machine *m)
{
	return (struct reclaim_state *)m->reclaim;
}

static inline struct lruvec *node_lruvec(struct kmm_node *pgdat)
{
	return &pgdat->__lruvec;
}
static inline struct lruvec *page_lruvec(struct kmm_machine *m, const struct kmm_page *page)
{
	return node_lruvec(page_pgdat(m, page));
}

static inline bool is_file_lru(enum lru_list lru)
{
	return lru == LRU_INACTIVE_FILE || lru == LRU_ACTIVE_FILE;
}
static inline bool is_active_lru(enum lru_list lru)
{
	return lru == LRU_ACTIVE_ANON || lru == LRU_ACTIVE_FILE;
}
/* A file page is one whose backing store is a file: not swap-backed (Linux page_is_file_lru). */
static inline bool page_is_file_lru(const struct kmm_page *page)
{
	return !PageSwapBacked(page);
}

/*
 * May reclaim take this page? Not when mlocked (Linux folio_evictable).
 * Shared anonymous memory (shmem) is evictable: it is swap-backed, on the
 * anon lists, and goes to swap like anonymous memory (swap/shmem_swap.c).
 */
static inline bool page_evictable(const struct kmm_page *page)
{
	return !PageMlocked(page);
}

/* The list a page belongs on by its flags (Linux folio_lru_list). */
static inline enum lru_list page_lru(const struct kmm_page *page)
{
	if (PageUnevictable(page))
		return LRU_UNEVICTABLE;
	enum lru_list lru = page_is_file_lru(page) ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON;
	if (PageActive(page))
		lru = (enum lru_list)(lru + 1);
	return lru;
}

/* Linux update_lru_size: the node and zone counters of @lru move by @nr. */
void update_lru_size(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list lru,
		     enum zone_type zid, long nr);
/* Under lru_lock: put @page (PG_lru clear) on the head of its list and set PG_lru. */
void lruvec_add_page(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page);
void lruvec_add_page_tail(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page);
/* Under lru_lock: take @page off its list (PG_lru stays as it is). */
void lruvec_del_page(struct kmm_machine *m, struct lruvec *lruvec, struct kmm_page *page);
/* Pages on @lru of @lruvec in zones up to @zid (Linux lruvec_lru_size). */
unsigned long lruvec_lru_size(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list lru,
			      int zid);

/*
 * Put isolated pages (each with the isolation reference) back on their
 * lists and drop that reference; pages whose last reference it was are
 * freed (Linux move_folios_to_lru + putback).
 */
void putback_lru_pages(struct kmm_machine *m, struct list_head *pages);
/* Empty every CPU's add batch onto the lists. */
void lru_add_drain_all(struct kmm_machine *m);
void lru_add_drain(struct kmm_machine *m);

/* Free pages whose refcount reached zero off any list (a list of page->lru). */
void free_unref_page_list(struct kmm_machine *m, struct list_head *list);

void lru_register_hooks(struct kmm_machine *m);
/* mlock.c: PG_mlocked and the unevictable list (vm/'s hooks; see the file). */
void mlock_page(struct kmm_machine *m, struct kmm_page *page);
void munlock_page(struct kmm_machine *m, struct kmm_page *page);
void munlock_vma_page(struct kmm_machine *m, struct kmm_page *page);
void mlock_page_freed(struct kmm_machine *m, struct kmm_page *page);
void lru_unregister_hooks(struct kmm_machine *m);

/* vmscan.c */
struct scan_control {
	unsigned long nr_to_reclaim;
	gfp_t gfp_mask;
	int order;
	int priority;
	enum zone_type reclaim_idx;
	bool may_writepage;
	bool may_unmap;
	bool may_swap;
	bool is_kswapd;
	bool proactive; /* kmm_reclaim_pages(): counted as direct, without an allocstall */
	unsigned int may_deactivate; /* 1 << is_file: may deactivate that type's active list */
	bool force_deactivate;
	bool skipped_deactivate;
	bool cache_trim_mode;
	bool file_is_tiny;
	unsigned long anon_cost, file_cost;
	unsigned long nr_scanned;
	unsigned long nr_reclaimed;
	struct {
		unsigned long dirty, unqueued_dirty, congested, writeback, immediate, file_taken,
		    taken;
	} nr;
};

void shrink_node(struct kmm_machine *m, struct kmm_node *pgdat, struct scan_control *sc);
void shrink_active_list(struct kmm_machine *m, unsigned long nr_to_scan, struct lruvec *lruvec,
			struct scan_control *sc, enum lru_list lru);
bool inactive_is_low(struct kmm_machine *m, struct lruvec *lruvec, enum lru_list inactive_lru);
unsigned long try_to_free_pages(struct kmm_machine *m, struct zonelist *zl, unsigned int order,
				gfp_t gfp);
bool can_reclaim_anon_pages(struct kmm_machine *m);
/* Reclaim isolated pages now, whatever the watermarks (Linux reclaim_pages: MADV_PAGEOUT). */
unsigned long reclaim_pages(struct kmm_machine *m, struct list_head *pages);
/*
 * Remember the node's workingset activations: until they change again,
 * prepare_scan_count deactivates a type only when its inactive list is low
 * (Linux snapshot_refaults, at the end of direct reclaim and of kswapd's run).
 */
void snapshot_refaults(struct kmm_node *pgdat);

/* kswapd.c */
void wakeup_kswapd(struct kmm_zone *zone, gfp_t gfp, unsigned int order,
		   enum zone_type highest_zoneidx);
bool pgdat_balanced(struct kmm_node *pgdat, int order, int highest_zoneidx);
int kswapd_init(struct kmm_machine *m);
void kswapd_destroy(struct kmm_machine *m);

/* oom_kill.c */
bool out_of_memory(struct kmm_machine *m, gfp_t gfp, unsigned int order);

/* workingset.c: shadow entries and refault detection. */
void *workingset_eviction(struct kmm_machine *m, struct kmm_page *page);
void workingset_refault(struct kmm_machine *m, struct kmm_page *page, void *shadow);
void workingset_activation(struct kmm_machine *m, struct kmm_page *page);
void workingset_age_nonresident(struct lruvec *lruvec, unsigned long nr_pages);
/* The shadow-node shrinker (registered with reclaim, gone with it). */
void workingset_init(struct kmm_machine *m);
void workingset_destroy(struct kmm_machine *m);
/* Does @shadow decode to a node of this machine? (For the checkers.) */
bool workingset_shadow_valid(struct kmm_machine *m, const void *shadow);
/* How far the clock of @shadow's node has gone since its eviction. */
unsigned long workingset_refault_distance(struct kmm_machine *m, const void *shadow);
/*
 * Charge @nr_io pages of I/O to the type's reclaim cost (Linux
 * lru_note_cost); get_scan_count scans the dearer type less.
 */
void lru_note_cost(struct kmm_machine *m, struct lruvec *lruvec, bool file, unsigned long nr_io);

#endif /* KMM_RECLAIM_INTERNAL_H */
