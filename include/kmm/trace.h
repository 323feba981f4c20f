/*
 * Trace points: where the simulated kernel reports events.
 *
 * Linux: include/trace/events/kmem.h, include/trace/events/vmscan.h. Each
 * layer calls trace_<event>() at the same place the kernel does; when the
 * event is enabled in m->trace_mask the arguments go to m->trace_hook, which
 * the simulator (sim/) installs to format them exactly as Linux 6.1's ftrace
 * prints them. Disabled events cost one bit test.
 */
#ifndef KMM_TRACE_H
#define KMM_TRACE_H

#include <kmm/compiler.h>

#define KMM_TRACE_EVENTS(X)                                                                        \
	X(MM_PAGE_ALLOC, "mm_page_alloc")			  /* pfn order gfp migratetype */  \
	X(MM_PAGE_FREE, "mm_page_free")				  /* pfn order */                  \
	X(MM_PAGE_FREE_BATCHED, "mm_page_free_batched")		  /* pfn */                        \
	X(MM_PAGE_ALLOC_ZONE_LOCKED, "mm_page_alloc_zone_locked") /* pfn order mt percpu_refill */ \
	X(MM_PAGE_PCPU_DRAIN, "mm_page_pcpu_drain")		  /* pfn order migratetype */      \
	X(MM_PAGE_ALLOC_EXTFRAG, "mm_page_alloc_extfrag")	  /* pfn order forder mt fmt */    \
	X(KMEM_CACHE_ALLOC, "kmem_cache_alloc") /* call_site ptr bytes_req bytes_alloc gfp node */ \
	X(KMALLOC, "kmalloc")			/* call_site ptr bytes_req bytes_alloc gfp node */ \
	X(KFREE, "kfree")			/* call_site ptr */                                \
	X(KMEM_CACHE_FREE, "kmem_cache_free")	/* call_site ptr name */                           \
	X(MM_VMSCAN_KSWAPD_SLEEP, "mm_vmscan_kswapd_sleep")                                        \
	X(MM_VMSCAN_KSWAPD_WAKE, "mm_vmscan_kswapd_wake")                                          \
	X(MM_VMSCAN_WAKEUP_KSWAPD, "mm_vmscan_wakeup_kswapd")                                      \
	X(MM_VMSCAN_DIRECT_RECLAIM_BEGIN, "mm_vmscan_direct_reclaim_begin")                        \
	X(MM_VMSCAN_DIRECT_RECLAIM_END, "mm_vmscan_direct_reclaim_end")                            \
	X(MM_VMSCAN_LRU_SHRINK_INACTIVE, "mm_vmscan_lru_shrink_inactive")                          \
	X(MM_VMSCAN_LRU_SHRINK_ACTIVE, "mm_vmscan_lru_shrink_active")                              \
	X(MM_VMSCAN_WRITE_FOLIO, "mm_vmscan_write_folio")

enum kmm_trace_event {
#define X(e, name) KMM_TRACE_##e,
	KMM_TRACE_EVENTS(X)
#undef X
	KMM_NR_TRACE_EVENTS
};

extern const char *const kmm_trace_event_names[KMM_NR_TRACE_EVENTS];

struct kmm_machine;
typedef void (*kmm_trace_hook_t)(struct kmm_machine *m, enum kmm_trace_event ev,
				 const uint64_t *args, int nargs);

#endif /* KMM_TRACE_H */
