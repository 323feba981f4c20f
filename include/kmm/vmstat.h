/*
 * The counter lists: per-zone and per-node page state, NUMA events, and VM
 * events, each declared once (X-macro) with the name /proc/vmstat prints.
 *
 * Linux: include/linux/mmzone.h (enum zone_stat_item, enum node_stat_item,
 * enum numa_stat_item), include/linux/vm_event_item.h, mm/vmstat.c
 * (vmstat_text). The order is Linux 6.1's, so kmm's /proc/vmstat reads line
 * for line like the kernel's. Events that exist per zone (pgalloc_dma, ...)
 * are declared per zone type and printed for the zones the arch has.
 */
#ifndef KMM_VMSTAT_H
#define KMM_VMSTAT_H

#include <kmm/compiler.h>

/* Zone types, in the order zone indices compare (an arch has a subset). */
#define KMM_FOR_ALL_ZONE_TYPES(X)           \
	X(ZONE_DMA, "DMA", dma)             \
	X(ZONE_DMA32, "DMA32", dma32)       \
	X(ZONE_NORMAL, "Normal", normal)    \
	X(ZONE_HIGHMEM, "HighMem", high)    \
	X(ZONE_MOVABLE, "Movable", movable) \
	X(ZONE_DEVICE, "Device", device)

enum zone_type {
#define X(e, name, lname) e,
	KMM_FOR_ALL_ZONE_TYPES(X)
#undef X
	KMM_NR_ZONE_TYPES
};
#define MAX_NR_ZONES KMM_NR_ZONE_TYPES

/* enum zone_stat_item: counted in pages, per zone. */
#define KMM_ZONE_STAT_ITEMS(X)                                                               \
	X(NR_FREE_PAGES, "nr_free_pages")                                                    \
	X(NR_ZONE_INACTIVE_ANON, "nr_zone_inactive_anon")                                    \
	X(NR_ZONE_ACTIVE_ANON, "nr_zone_active_anon")                                        \
	X(NR_ZONE_INACTIVE_FILE, "nr_zone_inactive_file")                                    \
	X(NR_ZONE_ACTIVE_FILE, "nr_zone_active_file")                                        \
	X(NR_ZONE_UNEVICTABLE, "nr_zone_unevictable")                                        \
	X(NR_ZONE_WRITE_PENDING, "nr_zone_write_pending") /* dirty + writeback + unstable */ \
	X(NR_MLOCK, "nr_mlock")                                                              \
	X(NR_BOUNCE, "nr_bounce")                                                            \
	X(NR_ZSPAGES, "nr_zspages")                                                          \
	X(NR_FREE_CMA_PAGES, "nr_free_cma")

enum zone_stat_item {
#define X(e, name) e,
	KMM_ZONE_STAT_ITEMS(X)
#undef X
	NR_VM_ZONE_STAT_ITEMS
};

/* enum numa_stat_item: events counted per zone where the page came from. */
#define KMM_NUMA_STAT_ITEMS(X)                                                   \
	X(NUMA_HIT, "numa_hit")		/* allocated on the intended node */     \
	X(NUMA_MISS, "numa_miss")	/* allocated here, intended elsewhere */ \
	X(NUMA_FOREIGN, "numa_foreign") /* intended here, allocated elsewhere */ \
	X(NUMA_INTERLEAVE_HIT, "numa_interleave")                                \
	X(NUMA_LOCAL, "numa_local") /* allocated on the caller's node */         \
	X(NUMA_OTHER, "numa_other")

enum numa_stat_item {
#define X(e, name) e,
	KMM_NUMA_STAT_ITEMS(X)
#undef X
	NR_VM_NUMA_EVENT_ITEMS
};

/* enum node_stat_item: per node. The _B items count bytes, _KB kilobytes. */
#define KMM_NODE_STAT_ITEMS(X)                                      \
	X(NR_INACTIVE_ANON, "nr_inactive_anon")                     \
	X(NR_ACTIVE_ANON, "nr_active_anon")                         \
	X(NR_INACTIVE_FILE, "nr_inactive_file")                     \
	X(NR_ACTIVE_FILE, "nr_active_file")                         \
	X(NR_UNEVICTABLE, "nr_unevictable")                         \
	X(NR_SLAB_RECLAIMABLE_B, "nr_slab_reclaimable")             \
	X(NR_SLAB_UNRECLAIMABLE_B, "nr_slab_unreclaimable")         \
	X(NR_ISOLATED_ANON, "nr_isolated_anon")                     \
	X(NR_ISOLATED_FILE, "nr_isolated_file")                     \
	X(WORKINGSET_NODES, "workingset_nodes")                     \
	X(WORKINGSET_REFAULT_ANON, "workingset_refault_anon")       \
	X(WORKINGSET_REFAULT_FILE, "workingset_refault_file")       \
	X(WORKINGSET_ACTIVATE_ANON, "workingset_activate_anon")     \
	X(WORKINGSET_ACTIVATE_FILE, "workingset_activate_file")     \
	X(WORKINGSET_RESTORE_ANON, "workingset_restore_anon")       \
	X(WORKINGSET_RESTORE_FILE, "workingset_restore_file")       \
	X(WORKINGSET_NODERECLAIM, "workingset_nodereclaim")         \
	X(NR_ANON_MAPPED, "nr_anon_pages")                          \
	X(NR_FILE_MAPPED, "nr_mapped")                              \
	X(NR_FILE_PAGES, "nr_file_pages")                           \
	X(NR_FILE_DIRTY, "nr_dirty")                                \
	X(NR_WRITEBACK, "nr_writeback")                             \
	X(NR_WRITEBACK_TEMP, "nr_writeback_temp")                   \
	X(NR_SHMEM, "nr_shmem")                                     \
	X(NR_SHMEM_THPS, "nr_shmem_hugepages")                      \
	X(NR_SHMEM_PMDMAPPED, "nr_shmem_pmdmapped")                 \
	X(NR_FILE_THPS, "nr_file_hugepages")                        \
	X(NR_FILE_PMDMAPPED, "nr_file_pmdmapped")                   \
	X(NR_ANON_THPS, "nr_anon_transparent_hugepages")            \
	X(NR_VMSCAN_WRITE, "nr_vmscan_write")                       \
	X(NR_VMSCAN_IMMEDIATE, "nr_vmscan_immediate_reclaim")       \
	X(NR_DIRTIED, "nr_dirtied")                                 \
	X(NR_WRITTEN, "nr_written")                                 \
	X(NR_THROTTLED_WRITTEN, "nr_throttled_written")             \
	X(NR_KERNEL_MISC_RECLAIMABLE, "nr_kernel_misc_reclaimable") \
	X(NR_FOLL_PIN_ACQUIRED, "nr_foll_pin_acquired")             \
	X(NR_FOLL_PIN_RELEASED, "nr_foll_pin_released")             \
	X(NR_KERNEL_STACK_KB, "nr_kernel_stack")                    \
	X(NR_PAGETABLE, "nr_page_table_pages")                      \
	X(NR_SECONDARY_PAGETABLE, "nr_sec_page_table_pages")        \
	X(NR_SWAPCACHE, "nr_swapcached")                            \
	X(PGPROMOTE_SUCCESS, "pgpromote_success")                   \
	X(PGPROMOTE_CANDIDATE, "pgpromote_candidate")

enum node_stat_item {
#define X(e, name) e,
	KMM_NODE_STAT_ITEMS(X)
#undef X
	NR_VM_NODE_STAT_ITEMS
};

/* True for the node items counted in bytes (printed in pages). */
static inline bool vmstat_item_in_bytes(int idx)
{
	return idx == NR_SLAB_RECLAIMABLE_B || idx == NR_SLAB_UNRECLAIMABLE_B;
}

/*
 * enum vm_event_item. Z(...) items exist once per zone type (pgalloc_dma,
 * pgalloc_dma32, ...); E(...) items once. The last block is kmm's own
 * events (not in /proc/vmstat; shown by `kmm_show_vmstat_kmm`).
 */
#define KMM_VM_EVENT_ITEMS(E, Z)                                          \
	E(PGPGIN, "pgpgin")                                               \
	E(PGPGOUT, "pgpgout")                                             \
	E(PSWPIN, "pswpin")                                               \
	E(PSWPOUT, "pswpout")                                             \
	Z(PGALLOC, "pgalloc")                                             \
	Z(ALLOCSTALL, "allocstall")                                       \
	Z(PGSCAN_SKIP, "pgskip")                                          \
	E(PGFREE, "pgfree")                                               \
	E(PGACTIVATE, "pgactivate")                                       \
	E(PGDEACTIVATE, "pgdeactivate")                                   \
	E(PGLAZYFREE, "pglazyfree")                                       \
	E(PGFAULT, "pgfault")                                             \
	E(PGMAJFAULT, "pgmajfault")                                       \
	E(PGLAZYFREED, "pglazyfreed")                                     \
	E(PGREFILL, "pgrefill")                                           \
	E(PGREUSE, "pgreuse")                                             \
	E(PGSTEAL_KSWAPD, "pgsteal_kswapd")                               \
	E(PGSTEAL_DIRECT, "pgsteal_direct")                               \
	E(PGDEMOTE_KSWAPD, "pgdemote_kswapd")                             \
	E(PGDEMOTE_DIRECT, "pgdemote_direct")                             \
	E(PGSCAN_KSWAPD, "pgscan_kswapd")                                 \
	E(PGSCAN_DIRECT, "pgscan_direct")                                 \
	E(PGSCAN_DIRECT_THROTTLE, "pgscan_direct_throttle")               \
	E(PGSCAN_ANON, "pgscan_anon")                                     \
	E(PGSCAN_FILE, "pgscan_file")                                     \
	E(PGSTEAL_ANON, "pgsteal_anon")                                   \
	E(PGSTEAL_FILE, "pgsteal_file")                                   \
	E(PGSCAN_ZONE_RECLAIM_FAILED, "zone_reclaim_failed")              \
	E(PGINODESTEAL, "pginodesteal")                                   \
	E(SLABS_SCANNED, "slabs_scanned")                                 \
	E(KSWAPD_INODESTEAL, "kswapd_inodesteal")                         \
	E(KSWAPD_LOW_WMARK_HIT_QUICKLY, "kswapd_low_wmark_hit_quickly")   \
	E(KSWAPD_HIGH_WMARK_HIT_QUICKLY, "kswapd_high_wmark_hit_quickly") \
	E(PAGEOUTRUN, "pageoutrun")                                       \
	E(PGROTATED, "pgrotated")                                         \
	E(DROP_PAGECACHE, "drop_pagecache")                               \
	E(DROP_SLAB, "drop_slab")                                         \
	E(OOM_KILL, "oom_kill")                                           \
	E(NUMA_PTE_UPDATES, "numa_pte_updates")                           \
	E(NUMA_HUGE_PTE_UPDATES, "numa_huge_pte_updates")                 \
	E(NUMA_HINT_FAULTS, "numa_hint_faults")                           \
	E(NUMA_HINT_FAULTS_LOCAL, "numa_hint_faults_local")               \
	E(NUMA_PAGE_MIGRATE, "numa_pages_migrated")                       \
	E(PGMIGRATE_SUCCESS, "pgmigrate_success")                         \
	E(PGMIGRATE_FAIL, "pgmigrate_fail")                               \
	E(THP_MIGRATION_SUCCESS, "thp_migration_success")                 \
	E(THP_MIGRATION_FAIL, "thp_migration_fail")                       \
	E(THP_MIGRATION_SPLIT, "thp_migration_split")                     \
	E(COMPACTMIGRATE_SCANNED, "compact_migrate_scanned")              \
	E(COMPACTFREE_SCANNED, "compact_free_scanned")                    \
	E(COMPACTISOLATED, "compact_isolated")                            \
	E(COMPACTSTALL, "compact_stall")                                  \
	E(COMPACTFAIL, "compact_fail")                                    \
	E(COMPACTSUCCESS, "compact_success")                              \
	E(KCOMPACTD_WAKE, "compact_daemon_wake")                          \
	E(KCOMPACTD_MIGRATE_SCANNED, "compact_daemon_migrate_scanned")    \
	E(KCOMPACTD_FREE_SCANNED, "compact_daemon_free_scanned")          \
	E(HTLB_BUDDY_PGALLOC, "htlb_buddy_alloc_success")                 \
	E(HTLB_BUDDY_PGALLOC_FAIL, "htlb_buddy_alloc_fail")               \
	E(UNEVICTABLE_PGCULLED, "unevictable_pgs_culled")                 \
	E(UNEVICTABLE_PGSCANNED, "unevictable_pgs_scanned")               \
	E(UNEVICTABLE_PGRESCUED, "unevictable_pgs_rescued")               \
	E(UNEVICTABLE_PGMLOCKED, "unevictable_pgs_mlocked")               \
	E(UNEVICTABLE_PGMUNLOCKED, "unevictable_pgs_munlocked")           \
	E(UNEVICTABLE_PGCLEARED, "unevictable_pgs_cleared")               \
	E(UNEVICTABLE_PGSTRANDED, "unevictable_pgs_stranded")             \
	E(THP_FAULT_ALLOC, "thp_fault_alloc")                             \
	E(THP_FAULT_FALLBACK, "thp_fault_fallback")                       \
	E(THP_FAULT_FALLBACK_CHARGE, "thp_fault_fallback_charge")         \
	E(THP_COLLAPSE_ALLOC, "thp_collapse_alloc")                       \
	E(THP_COLLAPSE_ALLOC_FAILED, "thp_collapse_alloc_failed")         \
	E(THP_FILE_ALLOC, "thp_file_alloc")                               \
	E(THP_FILE_FALLBACK, "thp_file_fallback")                         \
	E(THP_FILE_FALLBACK_CHARGE, "thp_file_fallback_charge")           \
	E(THP_FILE_MAPPED, "thp_file_mapped")                             \
	E(THP_SPLIT_PAGE, "thp_split_page")                               \
	E(THP_SPLIT_PAGE_FAILED, "thp_split_page_failed")                 \
	E(THP_DEFERRED_SPLIT_PAGE, "thp_deferred_split_page")             \
	E(THP_SPLIT_PMD, "thp_split_pmd")                                 \
	E(THP_SCAN_EXCEED_NONE_PTE, "thp_scan_exceed_none_pte")           \
	E(THP_SCAN_EXCEED_SWAP_PTE, "thp_scan_exceed_swap_pte")           \
	E(THP_SCAN_EXCEED_SHARED_PTE, "thp_scan_exceed_share_pte")        \
	E(THP_SPLIT_PUD, "thp_split_pud")                                 \
	E(THP_ZERO_PAGE_ALLOC, "thp_zero_page_alloc")                     \
	E(THP_ZERO_PAGE_ALLOC_FAILED, "thp_zero_page_alloc_failed")       \
	E(THP_SWPOUT, "thp_swpout")                                       \
	E(THP_SWPOUT_FALLBACK, "thp_swpout_fallback")                     \
	E(BALLOON_INFLATE, "balloon_inflate")                             \
	E(BALLOON_DEFLATE, "balloon_deflate")                             \
	E(BALLOON_MIGRATE, "balloon_migrate")                             \
	E(SWAP_RA, "swap_ra")                                             \
	E(SWAP_RA_HIT, "swap_ra_hit")                                     \
	E(KSM_SWPIN_COPY, "ksm_swpin_copy")                               \
	E(COW_KSM, "cow_ksm")                                             \
	E(ZSWPIN, "zswpin")                                               \
	E(ZSWPOUT, "zswpout")                                             \
	E(DIRECT_MAP_LEVEL2_SPLIT, "direct_map_level2_splits")            \
	E(DIRECT_MAP_LEVEL3_SPLIT, "direct_map_level3_splits")

/* kmm's own events: the mechanisms' internals that Linux does not count. */
#define KMM_KMM_EVENT_ITEMS(E)                                                                   \
	E(KMM_PCP_ALLOC_REFILL, "pcp_alloc_refill")	/* pcp list refilled from the buddy */   \
	E(KMM_PCP_FREE_BULK, "pcp_free_bulk")		/* pcp list trimmed back to the buddy */ \
	E(KMM_PCP_DRAIN, "pcp_drain")			/* a CPU's lists drained */              \
	E(KMM_BUDDY_SPLIT, "buddy_split")		/* a block split in expand() */          \
	E(KMM_BUDDY_MERGE, "buddy_merge")		/* two buddies coalesced on free */      \
	E(KMM_STEAL_PAGEBLOCK, "pageblock_steal")	/* a whole pageblock changed type */     \
	E(KMM_FALLBACK_ALLOC, "fallback_alloc")		/* served from another migratetype */    \
	E(KMM_ALLOC_FAIL, "alloc_fail")			/* an allocation returned NULL */        \
	E(KMM_KSWAPD_WAKEUP_REQ, "kswapd_wakeup_req")	/* slow path asked for kswapd */         \
	E(KMM_DIRECT_RECLAIM_REQ, "direct_reclaim_req") /* slow path entered direct reclaim */   \
	E(KMM_SLAB_REMOTE_FREE, "slab_remote_free")	/* object freed to another CPU's slab */ \
	E(KMM_TLB_SHOOTDOWN, "tlb_shootdown")		/* cross-CPU TLB flush requests */       \
	E(KMM_TLB_MISS, "tlb_miss")			/* software TLB refills */               \
	E(KMM_TLB_FLUSH, "tlb_flush")			/* local TLB flushes */                  \
	E(KMM_COW_COPY, "cow_copy")			/* pages copied on a write fault */      \
	E(KMM_FAULT_AROUND, "fault_around")		/* file pages mapped around a fault */

#define KMM_EV_E(e, name) e,
#define KMM_EV_Z(e, name) e##_DMA, e##_DMA32, e##_NORMAL, e##_HIGH, e##_MOVABLE, e##_DEVICE,
enum vm_event_item {
	KMM_VM_EVENT_ITEMS(KMM_EV_E, KMM_EV_Z) NR_LINUX_VM_EVENT_ITEMS,
	KMM_VM_EVENT_KMM_BASE = NR_LINUX_VM_EVENT_ITEMS - 1,
	KMM_KMM_EVENT_ITEMS(KMM_EV_E) NR_VM_EVENT_ITEMS
};
#undef KMM_EV_E
#undef KMM_EV_Z

/* Names, in enum order; per-zone events are listed as their prefix. */
extern const char *const kmm_zone_stat_names[NR_VM_ZONE_STAT_ITEMS];
extern const char *const kmm_numa_stat_names[NR_VM_NUMA_EVENT_ITEMS];
extern const char *const kmm_node_stat_names[NR_VM_NODE_STAT_ITEMS];
extern const char *const kmm_zone_type_names[KMM_NR_ZONE_TYPES];
/* "pgalloc_dma", ... for every event, or NULL for none. */
const char *kmm_vm_event_name(enum vm_event_item item);

#endif /* KMM_VMSTAT_H */
