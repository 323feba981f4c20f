/*
 * /proc/vmstat: every counter, in Linux 6.1's order, and kmm's own.
 *
 * Linux: mm/vmstat.c vmstat_start() and vmstat_text[], mm/page-writeback.c
 * (global_dirty_limits for the two dirty thresholds, from the dirty ratio
 * sysctls).
 */
#include "internal.h"

/*
 * A dirty ratio sysctl (vm.dirty_ratio, vm.dirty_background_ratio) as the
 * vm layer holds it, or Linux's default when the machine runs no vm layer.
 */
static unsigned long dirty_ratio_sysctl(struct kmm_machine *m, const char *name, unsigned long def)
{
	if (!m->sysctl[KMM_SYSCTL_VM].get)
		return def;
	long v = m->sysctl[KMM_SYSCTL_VM].get(m, name);
	return v < 0 ? def : (unsigned long)v;
}

/*
 * global_dirtyable_memory() and domain_dirty_limits() with the machine's
 * vm.dirty_ratio and vm.dirty_background_ratio (kmm has no dirty_bytes
 * sysctls, so the ratios always apply).
 */
static void global_dirty_limits(struct kmm_machine *m, unsigned long *bg, unsigned long *dirty)
{
	unsigned long x = global_zone_page_state(m, NR_FREE_PAGES);
	x -= kmm_min(x, m->totalreserve_pages);
	x += global_node_page_state(m, NR_INACTIVE_FILE);
	x += global_node_page_state(m, NR_ACTIVE_FILE);
	if (m->zone_in_arch[ZONE_HIGHMEM]) {
		/* Highmem is not dirtyable by default (vm_highmem_is_dirtyable = 0). */
		unsigned long high = 0;
		int nid;
		struct kmm_zone *zone;
		for_each_populated_zone (m, nid, zone)
			if (is_highmem_idx(m, zone->type))
				high += zone_page_state(zone, NR_FREE_PAGES);
		x -= kmm_min(x, high);
	}
	unsigned long available = x + 1;
	/* Linux scales the percentages by PAGE_SIZE first, so they round the same way. */
	unsigned long ratio = (dirty_ratio_sysctl(m, "dirty_ratio", 20) * PAGE_SIZE) / 100;
	unsigned long bg_ratio =
	    (dirty_ratio_sysctl(m, "dirty_background_ratio", 10) * PAGE_SIZE) / 100;
	unsigned long thresh = (ratio * available) / PAGE_SIZE;
	unsigned long bg_thresh = (bg_ratio * available) / PAGE_SIZE;
	if (bg_thresh >= thresh)
		bg_thresh = thresh / 2;
	*bg = bg_thresh;
	*dirty = thresh;
}

void kmm_show_vmstat(struct kmm_machine *m, struct kmm_buf *out)
{
	unsigned long events[NR_VM_EVENT_ITEMS], bg, dirty;
	proc_prepare(m);
	for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; i++)
		kmm_buf_printf(out, "%s %lu\n", kmm_zone_stat_names[i],
			       global_zone_page_state(m, (enum zone_stat_item)i));
	for (int i = 0; i < NR_VM_NUMA_EVENT_ITEMS; i++)
		kmm_buf_printf(out, "%s %lu\n", kmm_numa_stat_names[i],
			       global_numa_event_state(m, (enum numa_stat_item)i));
	for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; i++) {
		unsigned long v = global_node_page_state_pages(m, (enum node_stat_item)i);
		if (vmstat_item_print_in_thp(i))
			v /= pageblock_nr_pages;
		kmm_buf_printf(out, "%s %lu\n", kmm_node_stat_names[i], v);
	}
	global_dirty_limits(m, &bg, &dirty);
	kmm_buf_printf(out, "nr_dirty_threshold %lu\n", dirty);
	kmm_buf_printf(out, "nr_dirty_background_threshold %lu\n", bg);
	all_vm_events(m, events);
	/* pgpgin/pgpgout count 512-byte sectors; Linux prints KiB. */
	events[PGPGIN] /= 2;
	events[PGPGOUT] /= 2;
	for (int i = 0; i < NR_LINUX_VM_EVENT_ITEMS; i++) {
		const char *name = kmm_vm_event_name((enum vm_event_item)i);
		/* Per-zone events exist for the arch's zones only (not Device). */
		int zid = -1;
#define Z(e, n)                              \
	if (i >= e##_DMA && i <= e##_DEVICE) \
		zid = i - e##_DMA;
		Z(PGALLOC, 0)
		Z(ALLOCSTALL, 0)
		Z(PGSCAN_SKIP, 0)
#undef Z
		if (zid >= 0 && !m->zone_in_arch[zid])
			continue;
		kmm_buf_printf(out, "%s %lu\n", name, events[i]);
	}
	kmm_buf_puts(out, "nr_unstable 0\n");
}

void kmm_show_kmmstat(struct kmm_machine *m, struct kmm_buf *out)
{
	proc_prepare(m);
	for (int i = NR_LINUX_VM_EVENT_ITEMS; i < NR_VM_EVENT_ITEMS; i++)
		kmm_buf_printf(out, "%s %lu\n", kmm_vm_event_name((enum vm_event_item)i),
			       sum_vm_event(m, (enum vm_event_item)i));
}
