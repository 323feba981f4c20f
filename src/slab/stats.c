/*
 * What the slab allocator tells about its caches: the figures of
 * /proc/slabinfo and slabtop, and the per-cache event counters.
 *
 * Linux: mm/slub.c get_slabinfo, count_partial, show_stat (the
 * /sys/kernel/slab/<cache>/<stat> files of CONFIG_SLUB_STATS). Active
 * objects are, as in Linux, all objects minus the free ones on the node
 * partial lists: objects cached by CPUs count as active.
 */
#include "internal.h"
#include <errno.h>

static void get_slabinfo(struct kmm_kmem_cache *s, struct kmm_slabinfo *info)
{
	struct kmm_machine *m = s->machine;
	unsigned long nr_slabs = 0, nr_objs = 0, nr_free = 0, nr_partial = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct kmem_cache_node *n = s->node[nid];
		if (!n)
			continue;
		nr_slabs += (unsigned long)atomic_long_read(&n->nr_slabs);
		nr_objs += (unsigned long)atomic_long_read(&n->total_objects);
		nr_free += count_partial_free(n);
		nr_partial += READ_ONCE(n->nr_partial);
	}
	*info = (struct kmm_slabinfo){
	    .name = s->name,
	    .active_objs = nr_objs - nr_free,
	    .num_objs = nr_objs,
	    .num_slabs = nr_slabs,
	    .partial_slabs = nr_partial,
	    .objsize = s->size,
	    .object_size = s->object_size,
	    .objperslab = s->objects,
	    .pagesperslab = 1u << s->order,
	    .order = s->order,
	    .cpu_partial = s->cpu_partial,
	    .min_partial = (unsigned int)s->min_partial,
	    .align = s->align,
	    .flags = s->flags & SLAB_FLAGS_PERMITTED,
	};
}

int kmm_slab_for_each_cache(struct kmm_machine *m,
			    int (*fn)(const struct kmm_slabinfo *info, void *arg), void *arg)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s;
	int ret = 0;
	spin_lock(&st->lock);
	list_for_each_entry (s, &st->caches, list) {
		struct kmm_slabinfo info;
		get_slabinfo(s, &info);
		ret = fn(&info, arg);
		if (ret)
			break;
	}
	spin_unlock(&st->lock);
	return ret;
}

long kmm_kmem_cache_stat(struct kmm_kmem_cache *s, const char *stat)
{
	unsigned long sum[NR_SLUB_STAT_ITEMS];
	for (int i = 0; i < NR_SLUB_STAT_ITEMS; i++) {
		if (strcmp(stat, slub_stat_names[i]))
			continue;
		slab_stats_sum(s, sum);
		return (long)sum[i];
	}
	return -1;
}

void kmm_kmem_cache_stats(struct kmm_kmem_cache *s, struct kmm_buf *out)
{
	struct kmm_machine *m = s->machine;
	unsigned long sum[NR_SLUB_STAT_ITEMS];
	slab_stats_sum(s, sum);
	for (int i = 0; i < NR_SLUB_STAT_ITEMS; i++) {
		kmm_buf_printf(out, "%-24s %lu", slub_stat_names[i], sum[i]);
		for (int cpu = 0; cpu < m->nr_cpus; cpu++) {
			unsigned int x = READ_ONCE(s->cpu_slab[cpu].stat[i]);
			if (x)
				kmm_buf_printf(out, " C%d=%u", cpu, x);
		}
		kmm_buf_puts(out, "\n");
	}
}
