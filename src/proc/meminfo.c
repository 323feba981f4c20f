/*
 * /proc/meminfo and MemAvailable.
 *
 * Linux: fs/proc/meminfo.c meminfo_proc_show() and mm/page_alloc.c
 * si_mem_available() of 6.1, with the lines of Debian's x86_64 config
 * (zswap, THP, hugetlb, DirectMap), and HighTotal/HighFree/LowTotal/LowFree
 * on i386. Counters of layers the machine does not run yet read zero.
 */
#include "internal.h"

static void show_val_kb(struct kmm_buf *out, const char *s, unsigned long pages)
{
	kmm_buf_printf(out, "%s%8lu kB\n", s, pages << (PAGE_SHIFT - 10));
}

long si_mem_available(struct kmm_machine *m)
{
	unsigned long wmark_low = 0, pages[NR_LRU_LISTS];
	int nid;
	struct kmm_zone *zone;
	for (int lru = 0; lru < NR_LRU_LISTS; lru++)
		pages[lru] =
		    global_node_page_state(m, (enum node_stat_item)(NR_INACTIVE_ANON + lru));
	for_each_zone (m, nid, zone)
		wmark_low += low_wmark_pages(zone);
	long available =
	    (long)global_zone_page_state(m, NR_FREE_PAGES) - (long)m->totalreserve_pages;
	/* Half of the page cache, or the low watermarks' worth, must stay. */
	unsigned long pagecache = pages[LRU_ACTIVE_FILE] + pages[LRU_INACTIVE_FILE];
	pagecache -= kmm_min(pagecache / 2, wmark_low);
	available += (long)pagecache;
	unsigned long reclaimable = global_node_page_state_pages(m, NR_SLAB_RECLAIMABLE_B) +
				    global_node_page_state(m, NR_KERNEL_MISC_RECLAIMABLE);
	available += (long)(reclaimable - kmm_min(reclaimable / 2, wmark_low));
	return available < 0 ? 0 : available;
}

void kmm_show_meminfo(struct kmm_machine *m, struct kmm_buf *out)
{
	proc_prepare(m);
	bool highmem = m->zone_in_arch[ZONE_HIGHMEM];
	unsigned long totalram = (unsigned long)atomic_long_read(&m->totalram_pages);
	unsigned long freeram = global_zone_page_state(m, NR_FREE_PAGES);
	unsigned long freehigh = 0, pages[NR_LRU_LISTS];
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone)
		if (is_highmem_idx(m, zone->type))
			freehigh += zone_page_state(zone, NR_FREE_PAGES);
	for (int lru = 0; lru < NR_LRU_LISTS; lru++)
		pages[lru] =
		    global_node_page_state(m, (enum node_stat_item)(NR_INACTIVE_ANON + lru));
	unsigned long swapcache = global_node_page_state(m, NR_SWAPCACHE);
	long cached = (long)global_node_page_state(m, NR_FILE_PAGES) - (long)swapcache;
	if (cached < 0)
		cached = 0;
	unsigned long sreclaimable = global_node_page_state_pages(m, NR_SLAB_RECLAIMABLE_B);
	unsigned long sunreclaim = global_node_page_state_pages(m, NR_SLAB_UNRECLAIMABLE_B);
	struct kmm_swap_totals swap;
	kmm_swap_totals(m, &swap);
	unsigned long totalswap = swap.total, freeswap = swap.free;

	show_val_kb(out, "MemTotal:       ", totalram);
	show_val_kb(out, "MemFree:        ", freeram);
	show_val_kb(out, "MemAvailable:   ", (unsigned long)si_mem_available(m));
	show_val_kb(out, "Buffers:        ", 0);
	show_val_kb(out, "Cached:         ", (unsigned long)cached);
	show_val_kb(out, "SwapCached:     ", swapcache);
	show_val_kb(out, "Active:         ", pages[LRU_ACTIVE_ANON] + pages[LRU_ACTIVE_FILE]);
	show_val_kb(out, "Inactive:       ", pages[LRU_INACTIVE_ANON] + pages[LRU_INACTIVE_FILE]);
	show_val_kb(out, "Active(anon):   ", pages[LRU_ACTIVE_ANON]);
	show_val_kb(out, "Inactive(anon): ", pages[LRU_INACTIVE_ANON]);
	show_val_kb(out, "Active(file):   ", pages[LRU_ACTIVE_FILE]);
	show_val_kb(out, "Inactive(file): ", pages[LRU_INACTIVE_FILE]);
	show_val_kb(out, "Unevictable:    ", pages[LRU_UNEVICTABLE]);
	show_val_kb(out, "Mlocked:        ", global_zone_page_state(m, NR_MLOCK));
	if (highmem) {
		show_val_kb(out, "HighTotal:      ", m->totalhigh_pages);
		show_val_kb(out, "HighFree:       ", freehigh);
		show_val_kb(out, "LowTotal:       ", totalram - m->totalhigh_pages);
		show_val_kb(out, "LowFree:        ", freeram - freehigh);
	}
	show_val_kb(out, "SwapTotal:      ", totalswap);
	show_val_kb(out, "SwapFree:       ", freeswap);
	kmm_buf_printf(out, "Zswap:          %8lu kB\n", 0UL);
	kmm_buf_printf(out, "Zswapped:       %8lu kB\n", 0UL);
	show_val_kb(out, "Dirty:          ", global_node_page_state(m, NR_FILE_DIRTY));
	show_val_kb(out, "Writeback:      ", global_node_page_state(m, NR_WRITEBACK));
	show_val_kb(out, "AnonPages:      ", global_node_page_state(m, NR_ANON_MAPPED));
	show_val_kb(out, "Mapped:         ", global_node_page_state(m, NR_FILE_MAPPED));
	show_val_kb(out, "Shmem:          ", global_node_page_state(m, NR_SHMEM));
	show_val_kb(out, "KReclaimable:   ",
		    sreclaimable + global_node_page_state(m, NR_KERNEL_MISC_RECLAIMABLE));
	show_val_kb(out, "Slab:           ", sreclaimable + sunreclaim);
	show_val_kb(out, "SReclaimable:   ", sreclaimable);
	show_val_kb(out, "SUnreclaim:     ", sunreclaim);
	kmm_buf_printf(out, "KernelStack:    %8lu kB\n",
		       global_node_page_state(m, NR_KERNEL_STACK_KB));
	show_val_kb(out, "PageTables:     ", global_node_page_state(m, NR_PAGETABLE));
	show_val_kb(out, "SecPageTables:  ", global_node_page_state(m, NR_SECONDARY_PAGETABLE));
	show_val_kb(out, "NFS_Unstable:   ", 0);
	show_val_kb(out, "Bounce:         ", global_zone_page_state(m, NR_BOUNCE));
	show_val_kb(out, "WritebackTmp:   ", global_node_page_state(m, NR_WRITEBACK_TEMP));
	/* vm_commit_limit() with overcommit_ratio 50 and no hugetlb pages. */
	show_val_kb(out, "CommitLimit:    ", totalram * 50 / 100 + totalswap);
	show_val_kb(out, "Committed_AS:   ", 0);
	kmm_buf_printf(out, "VmallocTotal:   %8lu kB\n",
		       m->cfg.desc.arch == KMM_ARCH_X86_64 ? 34359738367UL : 122880UL);
	show_val_kb(out, "VmallocUsed:    ", 0);
	show_val_kb(out, "VmallocChunk:   ", 0);
	show_val_kb(out, "Percpu:         ",
		    (unsigned long)m->nr_cpus *
			    KMM_DIV_ROUND_UP(sizeof(struct kmm_cpu), PAGE_SIZE) +
			(unsigned long)atomic_long_read(&m->percpu_pages));
	kmm_buf_printf(out, "HardwareCorrupted: %5lu kB\n", 0UL);
	show_val_kb(out, "AnonHugePages:  ", global_node_page_state(m, NR_ANON_THPS));
	show_val_kb(out, "ShmemHugePages: ", global_node_page_state(m, NR_SHMEM_THPS));
	show_val_kb(out, "ShmemPmdMapped: ", global_node_page_state(m, NR_SHMEM_PMDMAPPED));
	show_val_kb(out, "FileHugePages:  ", global_node_page_state(m, NR_FILE_THPS));
	show_val_kb(out, "FilePmdMapped:  ", global_node_page_state(m, NR_FILE_PMDMAPPED));
	kmm_buf_puts(out, "HugePages_Total:       0\n"
			  "HugePages_Free:        0\n"
			  "HugePages_Rsvd:        0\n"
			  "HugePages_Surp:        0\n"
			  "Hugepagesize:       2048 kB\n"
			  "Hugetlb:               0 kB\n");
	/* The direct map: 4 KiB pages around holes, 2 MiB pages elsewhere. */
	unsigned long pages_4k = 0, pages_2m = 0;
	int idx = 0;
	unsigned long s, e;
	while (memblock_next_pfn_range(m, &idx, NUMA_NO_NODE, &s, &e, NULL)) {
		unsigned long as = KMM_ALIGN(s, 512UL), ae = KMM_ALIGN_DOWN(e, 512UL);
		if (as < ae) {
			pages_2m += ae - as;
			pages_4k += (as - s) + (e - ae);
		} else {
			pages_4k += e - s;
		}
	}
	kmm_buf_printf(out, "DirectMap4k:    %8lu kB\n", pages_4k << (PAGE_SHIFT - 10));
	kmm_buf_printf(out, "DirectMap2M:    %8lu kB\n", pages_2m << (PAGE_SHIFT - 10));
	if (m->cfg.desc.arch == KMM_ARCH_X86_64)
		kmm_buf_printf(out, "DirectMap1G:    %8lu kB\n", 0UL);
}
