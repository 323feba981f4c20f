/*
 * Per-CPU page lists: the allocator's fast path.
 *
 * Linux: mm/page_alloc.c of 6.1 (rmqueue_pcplist, __rmqueue_pcplist,
 * free_unref_page, free_unref_page_commit, nr_pcp_high, nr_pcp_free,
 * free_pcppages_bulk, drain_pages, drain_all_pages).
 *
 * Each CPU keeps, per zone, lists of free pages for orders 0..3 (one list
 * per pcp migratetype) and one list for the pageblock order. Allocation pops
 * the head of a list and frees push onto it, with no lock: only the thread
 * that has entered the CPU touches its lists. An empty list is refilled from
 * the buddy lists in a batch under one hold of the zone lock; a list above
 * "high" is trimmed back in batches that double while a CPU frees without
 * allocating (free_factor), so one-way traffic returns memory quickly.
 *
 * Draining another CPU's lists needs that CPU: the drainer enters it if
 * nobody is on it; otherwise it leaves a request that the CPU's owner honours
 * at its next refill or trim (the kernel sends an IPI-driven work item).
 */
#include "internal.h"
#include <errno.h>

/*
 * The list is empty: refill it from the buddy in one batch and take the
 * first page (the slow part of Linux's __rmqueue_pcplist). A pending drain
 * request is honoured first.
 */
struct kmm_page *rmqueue_pcplist_refill(struct kmm_machine *m, struct kmm_cpu *cpu,
					struct kmm_zone *zone, unsigned int order, int migratetype,
					unsigned int alloc_flags, struct per_cpu_pages *pcp,
					struct list_head *list)
{
	if (unlikely(atomic_read(&cpu->drain_request)))
		pcp_handle_drain_request(m, cpu);
	int batch = READ_ONCE(pcp->batch);
	/* Batches shrink with order; batch 1 means "do not cache" (boot pagesets). */
	if (batch > 1)
		batch = kmm_max(batch >> order, 2);
	int got =
	    rmqueue_bulk(m, cpu, zone, order, (unsigned long)batch, list, migratetype, alloc_flags);
	WRITE_ONCE(pcp->count, pcp->count + (got << order));
	cpu_count_events(m, cpu, KMM_PCP_ALLOC_REFILL, 1);
	if (unlikely(list_empty(list)))
		return NULL;
	struct kmm_page *page = list_first_entry(list, struct kmm_page, lru);
	list_del(&page->lru);
	WRITE_ONCE(pcp->count, pcp->count - (1 << order));
	return page;
}

/* Take a page from a pcp list, refilling it when empty (Linux __rmqueue_pcplist). */
struct kmm_page *__rmqueue_pcplist(struct kmm_machine *m, struct kmm_cpu *cpu,
				   struct kmm_zone *zone, unsigned int order, int migratetype,
				   unsigned int alloc_flags, struct per_cpu_pages *pcp,
				   struct list_head *list)
{
	if (unlikely(list_empty(list)))
		return rmqueue_pcplist_refill(m, cpu, zone, order, migratetype, alloc_flags, pcp,
					      list);
	struct kmm_page *page = list_first_entry(list, struct kmm_page, lru);
	list_del(&page->lru);
	WRITE_ONCE(pcp->count, pcp->count - (1 << order));
	return page;
}

static int nr_pcp_free(struct per_cpu_pages *pcp, int high, int batch, bool free_high)
{
	if (unlikely(free_high))
		return pcp->count;
	/* pcp disabled (boot pageset): free one at a time. */
	if (unlikely(high < batch))
		return 1;
	int min_nr_free = batch, max_nr_free = high - batch;
	/* Double the batch on each trim without an allocation in between. */
	batch <<= pcp->free_factor;
	if (batch < max_nr_free)
		pcp->free_factor++;
	return kmm_clamp(batch, min_nr_free, max_nr_free);
}

/*
 * Return @count pages of the lists to the buddy, round-robin over the lists
 * starting after @pindex so the list just freed to goes first
 * (free_pcppages_bulk).
 */
void free_pcppages_bulk(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
			int count, struct per_cpu_pages *pcp, int pindex)
{
	int min_pindex = 0, max_pindex = NR_PCP_LISTS - 1;
	count = kmm_min(pcp->count, count);
	pindex = pindex - 1;
	spin_lock(&zone->lock);
	while (count > 0) {
		struct list_head *list;
		do {
			if (++pindex > max_pindex)
				pindex = min_pindex;
			list = &pcp->lists[pindex];
			if (!list_empty(list))
				break;
			if (pindex == max_pindex)
				max_pindex--;
			if (pindex == min_pindex)
				min_pindex++;
		} while (1);
		unsigned int order = pindex_to_order(pindex);
		int nr_pages = 1 << order;
		do {
			struct kmm_page *page = list_last_entry(list, struct kmm_page, lru);
			int mt = get_pcppage_migratetype(page);
			list_del(&page->lru);
			count -= nr_pages;
			WRITE_ONCE(pcp->count, pcp->count - nr_pages);
			unsigned long pfn = page_to_pfn(m, page);
			__free_one_page(m, cpu, page, pfn, zone, order, mt, FPI_NONE);
			kmm_trace(m, MM_PAGE_PCPU_DRAIN, pfn, order, (uint64_t)mt);
		} while (count > 0 && !list_empty(list));
	}
	spin_unlock(&zone->lock);
	cpu_count_events(m, cpu, KMM_PCP_FREE_BULK, 1);
}

/* A pcp list passed its high mark: trim it (the slow part of free_unref_page_commit). */
void free_pcp_high(struct kmm_machine *m, struct kmm_cpu *cpu, struct kmm_zone *zone,
		   struct per_cpu_pages *pcp, unsigned int order, int pindex)
{
	bool free_high = pcp_free_high(pcp, order);
	int high = nr_pcp_high(pcp, zone, free_high);
	int batch = READ_ONCE(pcp->batch);
	free_pcppages_bulk(m, cpu, zone, nr_pcp_free(pcp, high, batch, free_high), pcp, pindex);
	if (unlikely(atomic_read(&cpu->drain_request)))
		pcp_handle_drain_request(m, cpu);
}

/* Empty one CPU's lists in every zone; the caller is on that CPU (drain_pages). */
static void drain_pages_own(struct kmm_machine *m, int cpu)
{
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone) {
		if (!zone->per_cpu_pageset)
			continue;
		struct per_cpu_pages *pcp = &zone->per_cpu_pageset[cpu];
		if (pcp->count)
			free_pcppages_bulk(m, m->cpus[cpu], zone, pcp->count, pcp, 0);
	}
	cpu_count_events(m, m->cpus[cpu], KMM_PCP_DRAIN, 1);
}

void pcp_handle_drain_request(struct kmm_machine *m, struct kmm_cpu *cpu)
{
	if (atomic_xchg(&cpu->drain_request, 0))
		drain_pages_own(m, cpu->id);
}

/* Drain @cpu's lists now if nobody is on it, else ask its owner to. */
void drain_pages_cpu(struct kmm_machine *m, int cpu)
{
	struct kmm_cpu *self = this_cpu(m);
	if (self && self->id == cpu) {
		drain_pages_own(m, cpu);
	} else if (kmm_cpu_tryenter(m, cpu) == 0) {
		drain_pages_own(m, cpu);
		kmm_cpu_exit(m);
	} else {
		atomic_set(&m->cpus[cpu]->drain_request, 1);
	}
}

void kmm_drain_all_pages(struct kmm_machine *m)
{
	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		drain_pages_cpu(m, cpu);
}

void kmm_drain_local_pages(struct kmm_machine *m)
{
	struct kmm_cpu *self = this_cpu(m);
	if (self)
		drain_pages_own(m, self->id);
}

/* Per-CPU lists and counters for every populated zone, from memblock (percpu). */
int pcp_init(struct kmm_machine *m)
{
	int nid;
	struct kmm_zone *zone;
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = m->node_data[nid];
		pgdat->per_cpu_nodestats = memblock_alloc_try_nid(
		    m, sizeof(struct per_cpu_nodestat) * (size_t)m->nr_cpus, KMM_CACHELINE, nid);
		if (!pgdat->per_cpu_nodestats)
			return -ENOMEM;
	}
	for_each_populated_zone (m, nid, zone) {
		zone->per_cpu_pageset = memblock_alloc_try_nid(
		    m, sizeof(struct per_cpu_pages) * (size_t)m->nr_cpus, KMM_CACHELINE, nid);
		zone->per_cpu_zonestats = memblock_alloc_try_nid(
		    m, sizeof(struct per_cpu_zonestat) * (size_t)m->nr_cpus, KMM_CACHELINE, nid);
		if (!zone->per_cpu_pageset || !zone->per_cpu_zonestats)
			return -ENOMEM;
		for (int c = 0; c < m->nr_cpus; c++) {
			struct per_cpu_pages *pcp = &zone->per_cpu_pageset[c];
			for (int i = 0; i < NR_PCP_LISTS; i++)
				INIT_LIST_HEAD(&pcp->lists[i]);
			/* Boot pageset: cache nothing until the watermarks are known. */
			pcp->high = 0;
			pcp->batch = 1;
		}
	}
	return 0;
}
