/*
 * Trace points: where the simulated kernel reports events.
 *
 * Linux: include/trace/events/kmem.h and include/trace/events/vmscan.h of
 * 6.1. Each layer calls trace_<event>() at the place the kernel does. When
 * the event's bit is set in m->trace_mask, the arguments go to
 * m->trace_hook as an array of 64-bit words, in the order of the fields of
 * Linux's record (its TP_STRUCT__entry, which is also the order of the
 * "field:" lines of the event's format file). Signed fields travel
 * sign-extended; the hook casts them back. kmm's ftrace formatter (kmm/ftrace.h)
 * turns them into exactly the text Linux 6.1 prints.
 *
 * A disabled event costs one load, one bit test and a branch that is
 * predicted not taken: the arguments are computed only when it is enabled.
 *
 * Argument conventions:
 *  - pages travel as their pfn; KMM_TRACE_NO_PFN stands for a NULL page
 *    (mm_page_alloc of a failed allocation);
 *  - object pointers (kmalloc, kmem_cache_*) are the host addresses the slab
 *    allocator returns; the formatter shows them as simulated kernel
 *    addresses when they lie in simulated RAM;
 *  - call sites and shrinker functions are host code addresses;
 *  - strings (a cache's name) are `const char *` cast to uint64_t; they must
 *    stay valid until the hook returns.
 */
#ifndef KMM_TRACE_H
#define KMM_TRACE_H

#include <kmm/compiler.h>

/*
 * X(ENUM, "system", "name", number of arguments), in Linux's field order:
 */
#define KMM_TRACE_EVENTS(X)                                                                          \
	/* pfn order gfp_flags migratetype */                                                        \
	X(MM_PAGE_ALLOC, "kmem", "mm_page_alloc", 4)                                                 \
	/* pfn order */                                                                              \
	X(MM_PAGE_FREE, "kmem", "mm_page_free", 2)                                                   \
	/* pfn */                                                                                    \
	X(MM_PAGE_FREE_BATCHED, "kmem", "mm_page_free_batched", 1)                                   \
	/* pfn order migratetype percpu_refill */                                                    \
	X(MM_PAGE_ALLOC_ZONE_LOCKED, "kmem", "mm_page_alloc_zone_locked", 4)                         \
	/* pfn order migratetype */                                                                  \
	X(MM_PAGE_PCPU_DRAIN, "kmem", "mm_page_pcpu_drain", 3)                                       \
	/* pfn alloc_order fallback_order alloc_mt fallback_mt change_ownership */                   \
	X(MM_PAGE_ALLOC_EXTFRAG, "kmem", "mm_page_alloc_extfrag", 6)                                 \
	/* call_site ptr bytes_req bytes_alloc gfp_flags node accounted */                           \
	X(KMEM_CACHE_ALLOC, "kmem", "kmem_cache_alloc", 7)                                           \
	/* call_site ptr bytes_req bytes_alloc gfp_flags node */                                     \
	X(KMALLOC, "kmem", "kmalloc", 6)                                                             \
	/* call_site ptr */                                                                          \
	X(KFREE, "kmem", "kfree", 2)                                                                 \
	/* call_site ptr name */                                                                     \
	X(KMEM_CACHE_FREE, "kmem", "kmem_cache_free", 3)                                             \
	/* nid */                                                                                    \
	X(MM_VMSCAN_KSWAPD_SLEEP, "vmscan", "mm_vmscan_kswapd_sleep", 1)                             \
	/* nid zid order */                                                                          \
	X(MM_VMSCAN_KSWAPD_WAKE, "vmscan", "mm_vmscan_kswapd_wake", 3)                               \
	/* nid zid order gfp_flags */                                                                \
	X(MM_VMSCAN_WAKEUP_KSWAPD, "vmscan", "mm_vmscan_wakeup_kswapd", 4)                           \
	/* order gfp_flags */                                                                        \
	X(MM_VMSCAN_DIRECT_RECLAIM_BEGIN, "vmscan", "mm_vmscan_direct_reclaim_begin", 2)             \
	/* nr_reclaimed */                                                                           \
	X(MM_VMSCAN_DIRECT_RECLAIM_END, "vmscan", "mm_vmscan_direct_reclaim_end", 1)                 \
	/* nid order gfp_flags */                                                                    \
	X(MM_VMSCAN_NODE_RECLAIM_BEGIN, "vmscan", "mm_vmscan_node_reclaim_begin", 3)                 \
	/* nr_reclaimed */                                                                           \
	X(MM_VMSCAN_NODE_RECLAIM_END, "vmscan", "mm_vmscan_node_reclaim_end", 1)                     \
	/* shr shrink nid nr_objects_to_shrink gfp_flags cache_items delta total_scan priority */    \
	X(MM_SHRINK_SLAB_START, "vmscan", "mm_shrink_slab_start", 9)                                 \
	/* shr nid shrink unused_scan new_scan retval total_scan */                                  \
	X(MM_SHRINK_SLAB_END, "vmscan", "mm_shrink_slab_end", 7)                                     \
	/* highest_zoneidx order nr_requested nr_scanned nr_skipped nr_taken isolate_mode lru */     \
	X(MM_VMSCAN_LRU_ISOLATE, "vmscan", "mm_vmscan_lru_isolate", 8)                               \
	/* pfn reclaim_flags */                                                                      \
	X(MM_VMSCAN_WRITE_FOLIO, "vmscan", "mm_vmscan_write_folio", 2)                               \
	/* nid nr_scanned nr_reclaimed nr_dirty nr_writeback nr_congested nr_immediate             \
	 * nr_activate_anon nr_activate_file nr_ref_keep nr_unmap_fail priority reclaim_flags */ \
	X(MM_VMSCAN_LRU_SHRINK_INACTIVE, "vmscan", "mm_vmscan_lru_shrink_inactive", 13)              \
	/* nid nr_taken nr_active nr_deactivated nr_referenced priority reclaim_flags */             \
	X(MM_VMSCAN_LRU_SHRINK_ACTIVE, "vmscan", "mm_vmscan_lru_shrink_active", 7)                   \
	/* nid usec_timeout usec_delayed reason */                                                   \
	X(MM_VMSCAN_THROTTLED, "vmscan", "mm_vmscan_throttled", 4)

enum kmm_trace_event {
#define X(e, sys, name, nargs) KMM_TRACE_##e,
	KMM_TRACE_EVENTS(X)
#undef X
	KMM_NR_TRACE_EVENTS
};
_Static_assert(KMM_NR_TRACE_EVENTS <= 64, "m->trace_mask has one bit per event");

extern const char *const kmm_trace_event_names[KMM_NR_TRACE_EVENTS];
extern const char *const kmm_trace_event_systems[KMM_NR_TRACE_EVENTS];
extern const unsigned char kmm_trace_event_nargs[KMM_NR_TRACE_EVENTS];

/* The bit of an event in m->trace_mask. */
#define KMM_TRACE_BIT(ev) (1ULL << (ev))

struct kmm_machine;
typedef void (*kmm_trace_hook_t)(struct kmm_machine *m, enum kmm_trace_event ev,
				 const uint64_t *args, int nargs);

/* A NULL page, in the pfn argument (Linux records -1UL). */
#define KMM_TRACE_NO_PFN (~0ULL)

/* reclaim_flags of the vmscan events (Linux include/trace/events/vmscan.h). */
#define RECLAIM_WB_ANON	 0x0001u
#define RECLAIM_WB_FILE	 0x0002u
#define RECLAIM_WB_MIXED 0x0010u
#define RECLAIM_WB_SYNC	 0x0004u
#define RECLAIM_WB_ASYNC 0x0008u
/* What reclaim of one LRU type reports: its type, written asynchronously. */
static inline unsigned int trace_reclaim_flags(bool file)
{
	return (file ? RECLAIM_WB_FILE : RECLAIM_WB_ANON) | RECLAIM_WB_ASYNC;
}

/* The reasons of mm_vmscan_throttled, as bit numbers (Linux enum vmscan_throttle_state). */
enum {
	KMM_VMSCAN_THROTTLE_WRITEBACK,
	KMM_VMSCAN_THROTTLE_ISOLATED,
	KMM_VMSCAN_THROTTLE_NOPROGRESS,
	KMM_VMSCAN_THROTTLE_CONGESTED,
};

/*
 * Fire @ev (KMM_TRACE_ without the prefix) with the given arguments if it is
 * enabled. The arguments are evaluated only then.
 */
#define kmm_trace(m, ev, ...)                                                               \
	do {                                                                                \
		if (unlikely(READ_ONCE((m)->trace_mask) & KMM_TRACE_BIT(KMM_TRACE_##ev))) { \
			const uint64_t __args[] = {__VA_ARGS__};                            \
			(m)->trace_hook((m), KMM_TRACE_##ev, __args,                        \
					(int)(sizeof(__args) / sizeof(__args[0])));         \
		}                                                                           \
	} while (0)

#define __kmm_t(x) ((uint64_t)(int64_t)(x)) /* sign-extend signed arguments */

/*
 * The trace points by Linux's names, with Linux's arguments (a page as its
 * pfn; a struct reclaim_stat as its fields). Callers in the layers use these.
 */
#define trace_mm_page_alloc(m, pfn, order, gfp, migratetype) \
	kmm_trace(m, MM_PAGE_ALLOC, (uint64_t)(pfn), (order), (gfp), __kmm_t(migratetype))
#define trace_mm_page_free(m, pfn, order)  kmm_trace(m, MM_PAGE_FREE, (uint64_t)(pfn), (order))
#define trace_mm_page_free_batched(m, pfn) kmm_trace(m, MM_PAGE_FREE_BATCHED, (uint64_t)(pfn))
#define trace_mm_page_alloc_zone_locked(m, pfn, order, migratetype, percpu_refill)              \
	kmm_trace(m, MM_PAGE_ALLOC_ZONE_LOCKED, (uint64_t)(pfn), (order), __kmm_t(migratetype), \
		  __kmm_t(percpu_refill))
#define trace_mm_page_pcpu_drain(m, pfn, order, migratetype) \
	kmm_trace(m, MM_PAGE_PCPU_DRAIN, (uint64_t)(pfn), (order), __kmm_t(migratetype))
#define trace_mm_page_alloc_extfrag(m, pfn, alloc_order, fallback_order, alloc_mt, fallback_mt, \
				    change_ownership)                                           \
	kmm_trace(m, MM_PAGE_ALLOC_EXTFRAG, (uint64_t)(pfn), __kmm_t(alloc_order),              \
		  __kmm_t(fallback_order), __kmm_t(alloc_mt), __kmm_t(fallback_mt),             \
		  __kmm_t(change_ownership))

#define trace_kmem_cache_alloc(m, call_site, ptr, bytes_req, bytes_alloc, gfp, node, accounted) \
	kmm_trace(m, KMEM_CACHE_ALLOC, (uint64_t)(uintptr_t)(call_site),                        \
		  (uint64_t)(uintptr_t)(ptr), (bytes_req), (bytes_alloc), (gfp), __kmm_t(node), \
		  (uint64_t) !!(accounted))
#define trace_kmalloc(m, call_site, ptr, bytes_req, bytes_alloc, gfp, node)                 \
	kmm_trace(m, KMALLOC, (uint64_t)(uintptr_t)(call_site), (uint64_t)(uintptr_t)(ptr), \
		  (bytes_req), (bytes_alloc), (gfp), __kmm_t(node))
#define trace_kfree(m, call_site, ptr) \
	kmm_trace(m, KFREE, (uint64_t)(uintptr_t)(call_site), (uint64_t)(uintptr_t)(ptr))
#define trace_kmem_cache_free(m, call_site, ptr, name)                  \
	kmm_trace(m, KMEM_CACHE_FREE, (uint64_t)(uintptr_t)(call_site), \
		  (uint64_t)(uintptr_t)(ptr), (uint64_t)(uintptr_t)(const char *)(name))

#define trace_mm_vmscan_kswapd_sleep(m, nid) kmm_trace(m, MM_VMSCAN_KSWAPD_SLEEP, __kmm_t(nid))
#define trace_mm_vmscan_kswapd_wake(m, nid, zid, order) \
	kmm_trace(m, MM_VMSCAN_KSWAPD_WAKE, __kmm_t(nid), __kmm_t(zid), __kmm_t(order))
#define trace_mm_vmscan_wakeup_kswapd(m, nid, zid, order, gfp)                            \
	kmm_trace(m, MM_VMSCAN_WAKEUP_KSWAPD, __kmm_t(nid), __kmm_t(zid), __kmm_t(order), \
		  (uint64_t)(gfp))
#define trace_mm_vmscan_direct_reclaim_begin(m, order, gfp) \
	kmm_trace(m, MM_VMSCAN_DIRECT_RECLAIM_BEGIN, __kmm_t(order), (uint64_t)(gfp))
#define trace_mm_vmscan_direct_reclaim_end(m, nr_reclaimed) \
	kmm_trace(m, MM_VMSCAN_DIRECT_RECLAIM_END, (uint64_t)(nr_reclaimed))
#define trace_mm_vmscan_node_reclaim_begin(m, nid, order, gfp) \
	kmm_trace(m, MM_VMSCAN_NODE_RECLAIM_BEGIN, __kmm_t(nid), __kmm_t(order), (uint64_t)(gfp))
#define trace_mm_vmscan_node_reclaim_end(m, nr_reclaimed) \
	kmm_trace(m, MM_VMSCAN_NODE_RECLAIM_END, (uint64_t)(nr_reclaimed))
#define trace_mm_shrink_slab_start(m, shr, shrink, nid, nr_objects_to_shrink, gfp, cache_items, \
				   delta, total_scan, priority)                                 \
	kmm_trace(m, MM_SHRINK_SLAB_START, (uint64_t)(uintptr_t)(shr),                          \
		  (uint64_t)(uintptr_t)(shrink), __kmm_t(nid), __kmm_t(nr_objects_to_shrink),   \
		  (uint64_t)(gfp), (uint64_t)(cache_items), (uint64_t)(delta),                  \
		  (uint64_t)(total_scan), __kmm_t(priority))
#define trace_mm_shrink_slab_end(m, shr, nid, shrink, unused_scan, new_scan, retval, total_scan) \
	kmm_trace(m, MM_SHRINK_SLAB_END, (uint64_t)(uintptr_t)(shr), __kmm_t(nid),               \
		  (uint64_t)(uintptr_t)(shrink), __kmm_t(unused_scan), __kmm_t(new_scan),        \
		  __kmm_t(retval), __kmm_t(total_scan))
#define trace_mm_vmscan_lru_isolate(m, highest_zoneidx, order, nr_requested, nr_scanned,    \
				    nr_skipped, nr_taken, isolate_mode, lru)                \
	kmm_trace(m, MM_VMSCAN_LRU_ISOLATE, __kmm_t(highest_zoneidx), __kmm_t(order),       \
		  (uint64_t)(nr_requested), (uint64_t)(nr_scanned), (uint64_t)(nr_skipped), \
		  (uint64_t)(nr_taken), (uint64_t)(unsigned int)(isolate_mode), __kmm_t(lru))
#define trace_mm_vmscan_write_folio(m, pfn, reclaim_flags) \
	kmm_trace(m, MM_VMSCAN_WRITE_FOLIO, (uint64_t)(pfn), __kmm_t(reclaim_flags))
#define trace_mm_vmscan_lru_shrink_inactive(                                                 \
    m, nid, nr_scanned, nr_reclaimed, nr_dirty, nr_writeback, nr_congested, nr_immediate,    \
    nr_activate_anon, nr_activate_file, nr_ref_keep, nr_unmap_fail, priority, reclaim_flags) \
	kmm_trace(m, MM_VMSCAN_LRU_SHRINK_INACTIVE, __kmm_t(nid), (uint64_t)(nr_scanned),    \
		  (uint64_t)(nr_reclaimed), (uint64_t)(nr_dirty), (uint64_t)(nr_writeback),  \
		  (uint64_t)(nr_congested), (uint64_t)(nr_immediate),                        \
		  (uint64_t)(unsigned int)(nr_activate_anon),                                \
		  (uint64_t)(unsigned int)(nr_activate_file), (uint64_t)(nr_ref_keep),       \
		  (uint64_t)(nr_unmap_fail), __kmm_t(priority), __kmm_t(reclaim_flags))
#define trace_mm_vmscan_lru_shrink_active(m, nid, nr_taken, nr_active, nr_deactivated,          \
					  nr_referenced, priority, reclaim_flags)               \
	kmm_trace(m, MM_VMSCAN_LRU_SHRINK_ACTIVE, __kmm_t(nid), (uint64_t)(nr_taken),           \
		  (uint64_t)(nr_active), (uint64_t)(nr_deactivated), (uint64_t)(nr_referenced), \
		  __kmm_t(priority), __kmm_t(reclaim_flags))
#define trace_mm_vmscan_throttled(m, nid, usec_timeout, usec_delayed, reason)  \
	kmm_trace(m, MM_VMSCAN_THROTTLED, __kmm_t(nid), __kmm_t(usec_timeout), \
		  __kmm_t(usec_delayed), __kmm_t(reason))

#endif /* KMM_TRACE_H */
