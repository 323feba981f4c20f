/*
 * Memory counters: per-zone and per-node page state kept as a shared atomic
 * plus a small per-CPU delta, and VM events counted per CPU.
 *
 * Linux: mm/vmstat.c. A CPU adds to its own signed 8-bit delta and folds it
 * into the zone's atomic counter (and the global one) only when the delta
 * passes the CPU's threshold, so the common update touches one cache line
 * that no other CPU writes. The threshold grows with the zone's size and the
 * number of CPUs (calculate_normal_threshold), bounding the error of a read
 * to threshold x CPUs. Events are plain per-CPU counters summed on read.
 * A thread that has not entered a CPU updates the atomics directly.
 */
#include "internal.h"
#include <string.h>

const char *const kmm_zone_stat_names[NR_VM_ZONE_STAT_ITEMS] = {
#define X(e, name) name,
    KMM_ZONE_STAT_ITEMS(X)
#undef X
};
const char *const kmm_numa_stat_names[NR_VM_NUMA_EVENT_ITEMS] = {
#define X(e, name) name,
    KMM_NUMA_STAT_ITEMS(X)
#undef X
};
const char *const kmm_node_stat_names[NR_VM_NODE_STAT_ITEMS] = {
#define X(e, name) name,
    KMM_NODE_STAT_ITEMS(X)
#undef X
};
const char *const kmm_zone_type_names[KMM_NR_ZONE_TYPES] = {
#define X(e, name, lname) name,
    KMM_FOR_ALL_ZONE_TYPES(X)
#undef X
};

static const char *const vm_event_names[NR_VM_EVENT_ITEMS] = {
#define E(e, name) name,
#define Z(e, name) \
	name "_dma", name "_dma32", name "_normal", name "_high", name "_movable", name "_device",
    KMM_VM_EVENT_ITEMS(E, Z)
#undef Z
	[KMM_PCP_ALLOC_REFILL] = KMM_KMM_EVENT_ITEMS(E)
#undef E
};

const char *kmm_vm_event_name(enum vm_event_item item)
{
	return (unsigned)item < NR_VM_EVENT_ITEMS ? vm_event_names[item] : NULL;
}

static void zone_page_state_add(long x, struct kmm_zone *zone, enum zone_stat_item item)
{
	atomic_long_add(x, &zone->vm_stat[item]);
	atomic_long_add(x, &zone->machine->vm_zone_stat[item]);
}

static void node_page_state_add(long x, struct kmm_node *pgdat, enum node_stat_item item)
{
	atomic_long_add(x, &pgdat->vm_stat[item]);
	atomic_long_add(x, &pgdat->machine->vm_node_stat[item]);
}

void __mod_zone_page_state(struct kmm_zone *zone, enum zone_stat_item item, long delta)
{
	struct kmm_cpu *cpu = this_cpu(zone->machine);
	if (unlikely(!cpu || !zone->per_cpu_zonestats)) {
		zone_page_state_add(delta, zone, item);
		return;
	}
	struct per_cpu_zonestat *pzs = &zone->per_cpu_zonestats[cpu->id];
	long x = delta + READ_ONCE(pzs->vm_stat_diff[item]);
	long t = READ_ONCE(pzs->stat_threshold);
	if (unlikely(x > t || x < -t)) {
		zone_page_state_add(x, zone, item);
		x = 0;
	}
	WRITE_ONCE(pzs->vm_stat_diff[item], (signed char)x);
}

void __mod_node_page_state(struct kmm_node *pgdat, enum node_stat_item item, long delta)
{
	struct kmm_cpu *cpu = this_cpu(pgdat->machine);
	if (vmstat_item_in_bytes(item)) {
		/* Byte counters move in page-sized steps through the per-CPU delta. */
		VM_BUG_ON(delta & (PAGE_SIZE - 1));
		delta >>= PAGE_SHIFT;
	}
	if (unlikely(!cpu || !pgdat->per_cpu_nodestats)) {
		node_page_state_add(delta, pgdat, item);
		return;
	}
	struct per_cpu_nodestat *pns = &pgdat->per_cpu_nodestats[cpu->id];
	long x = delta + READ_ONCE(pns->vm_node_stat_diff[item]);
	long t = READ_ONCE(pns->stat_threshold);
	if (unlikely(x > t || x < -t)) {
		node_page_state_add(x, pgdat, item);
		x = 0;
	}
	WRITE_ONCE(pns->vm_node_stat_diff[item], (signed char)x);
}

void __count_numa_events(struct kmm_zone *zone, enum numa_stat_item item, long delta)
{
	struct kmm_cpu *cpu = this_cpu(zone->machine);
	if (unlikely(!cpu || !zone->per_cpu_zonestats)) {
		atomic_long_add(delta, &zone->vm_numa_event[item]);
		atomic_long_add(delta, &zone->machine->vm_numa_event[item]);
		return;
	}
	unsigned long *v = &zone->per_cpu_zonestats[cpu->id].vm_numa_event[item];
	WRITE_ONCE(*v, *v + (unsigned long)delta);
}

unsigned long zone_page_state_snapshot(const struct kmm_zone *zone, enum zone_stat_item item)
{
	long x = atomic_long_read(&zone->vm_stat[item]);
	if (zone->per_cpu_zonestats)
		for (int c = 0; c < zone->machine->nr_cpus; c++)
			x += READ_ONCE(zone->per_cpu_zonestats[c].vm_stat_diff[item]);
	return x < 0 ? 0 : (unsigned long)x;
}

unsigned long node_page_state(const struct kmm_node *pgdat, enum node_stat_item item)
{
	long x = atomic_long_read(&pgdat->vm_stat[item]);
	if (pgdat->per_cpu_nodestats)
		for (int c = 0; c < pgdat->machine->nr_cpus; c++)
			x += READ_ONCE(pgdat->per_cpu_nodestats[c].vm_node_stat_diff[item]);
	if (x < 0)
		x = 0;
	return vmstat_item_in_bytes(item) ? (unsigned long)x << PAGE_SHIFT : (unsigned long)x;
}

unsigned long node_page_state_pages(const struct kmm_node *pgdat, enum node_stat_item item)
{
	unsigned long v = node_page_state(pgdat, item);
	return vmstat_item_in_bytes(item) ? v >> PAGE_SHIFT : v;
}

unsigned long global_zone_page_state(const struct kmm_machine *m, enum zone_stat_item item)
{
	unsigned long sum = 0;
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			sum += zone_page_state_snapshot(&m->node_data[n]->node_zones[z], item);
	return sum;
}

unsigned long global_node_page_state(const struct kmm_machine *m, enum node_stat_item item)
{
	unsigned long sum = 0;
	for (int n = 0; n < m->nr_node_ids; n++)
		sum += node_page_state(m->node_data[n], item);
	return sum;
}

unsigned long global_node_page_state_pages(const struct kmm_machine *m, enum node_stat_item item)
{
	unsigned long v = global_node_page_state(m, item);
	return vmstat_item_in_bytes(item) ? v >> PAGE_SHIFT : v;
}

unsigned long zone_numa_event_state(const struct kmm_zone *zone, enum numa_stat_item item)
{
	unsigned long x = (unsigned long)atomic_long_read(&zone->vm_numa_event[item]);
	if (zone->per_cpu_zonestats)
		for (int c = 0; c < zone->machine->nr_cpus; c++)
			x += READ_ONCE(zone->per_cpu_zonestats[c].vm_numa_event[item]);
	return x;
}

unsigned long global_numa_event_state(const struct kmm_machine *m, enum numa_stat_item item)
{
	unsigned long sum = 0;
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			sum += zone_numa_event_state(&m->node_data[n]->node_zones[z], item);
	return sum;
}

/* Fold the deltas of @cpu into the counters; the caller owns that CPU. */
static void fold_cpu_stats(struct kmm_machine *m, int cpu)
{
	int nid;
	struct kmm_zone *zone;
	for_each_zone (m, nid, zone) {
		if (!zone->per_cpu_zonestats)
			continue;
		struct per_cpu_zonestat *pzs = &zone->per_cpu_zonestats[cpu];
		for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; i++) {
			long v = READ_ONCE(pzs->vm_stat_diff[i]);
			if (v) {
				WRITE_ONCE(pzs->vm_stat_diff[i], 0);
				zone_page_state_add(v, zone, (enum zone_stat_item)i);
			}
		}
	}
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = m->node_data[nid];
		if (!pgdat->per_cpu_nodestats)
			continue;
		struct per_cpu_nodestat *pns = &pgdat->per_cpu_nodestats[cpu];
		for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; i++) {
			long v = READ_ONCE(pns->vm_node_stat_diff[i]);
			if (v) {
				WRITE_ONCE(pns->vm_node_stat_diff[i], 0);
				node_page_state_add(v, pgdat, (enum node_stat_item)i);
			}
		}
	}
}

/*
 * Fold every CPU's deltas: the caller's own CPU directly, the others only if
 * no thread is on them (a busy CPU folds its own at its next threshold).
 */
void refresh_vm_stats(struct kmm_machine *m)
{
	struct kmm_cpu *self = this_cpu(m);
	for (int c = 0; c < m->nr_cpus; c++) {
		if (self && self->id == c) {
			fold_cpu_stats(m, c);
		} else if (kmm_cpu_tryenter(m, c) == 0) {
			fold_cpu_stats(m, c);
			kmm_cpu_exit(m);
		}
	}
}

/*
 * The fold threshold (calculate_normal_threshold in mm/vmstat.c): grows with
 * log2 of the CPU count and of the zone size in 128 MiB units, at most 125.
 */
int calculate_normal_threshold(struct kmm_machine *m, struct kmm_zone *zone)
{
	unsigned long mem = zone_managed_pages(zone) >> (27 - PAGE_SHIFT);
	int threshold = 2 * fls((unsigned)m->nr_cpus) * (1 + fls((unsigned)mem));
	return kmm_min(125, threshold);
}

void refresh_zone_stat_thresholds(struct kmm_machine *m)
{
	int nid;
	struct kmm_zone *zone;
	/* Zero the node thresholds; each becomes the largest of its zones'. */
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = m->node_data[nid];
		if (pgdat->per_cpu_nodestats)
			for (int c = 0; c < m->nr_cpus; c++)
				WRITE_ONCE(pgdat->per_cpu_nodestats[c].stat_threshold, 0);
	}
	for_each_populated_zone (m, nid, zone) {
		struct kmm_node *pgdat = zone->zone_pgdat;
		int threshold = calculate_normal_threshold(m, zone);
		if (!zone->per_cpu_zonestats)
			continue;
		for (int c = 0; c < m->nr_cpus; c++) {
			WRITE_ONCE(zone->per_cpu_zonestats[c].stat_threshold,
				   (signed char)threshold);
			if (pgdat->per_cpu_nodestats) {
				signed char *t = &pgdat->per_cpu_nodestats[c].stat_threshold;
				WRITE_ONCE(*t, (signed char)kmm_max((int)*t, threshold));
			}
		}
	}
}

void __count_vm_events_slow(struct kmm_machine *m, enum vm_event_item item, long delta)
{
	__atomic_fetch_add(&m->vm_events_nocpu[item], (unsigned long)delta, __ATOMIC_RELAXED);
}

unsigned long sum_vm_event(struct kmm_machine *m, enum vm_event_item item)
{
	unsigned long sum = __atomic_load_n(&m->vm_events_nocpu[item], __ATOMIC_RELAXED);
	for (int c = 0; c < m->nr_cpus; c++)
		sum += READ_ONCE(m->cpus[c]->vm_events[item]);
	return sum;
}

void all_vm_events(struct kmm_machine *m, unsigned long *ret)
{
	for (int i = 0; i < NR_VM_EVENT_ITEMS; i++)
		ret[i] = sum_vm_event(m, (enum vm_event_item)i);
}

void vmstat_init(struct kmm_machine *m)
{
	memset(m->vm_events_nocpu, 0, sizeof(m->vm_events_nocpu));
}
