/*
 * libkmm-malloc: giving free memory back to the host, with hysteresis.
 *
 * Linux: free page reporting (mm/page_reporting.c, src/page/page_reporting.c
 * in kmm) does the giving back; when to do it is the heap's policy, in the
 * spirit of jemalloc's decay: memory freed recently is likely to be needed
 * again, and a block given back costs a repopulation (0.5 us a page in one
 * MADV_POPULATE_WRITE call, or 12 us a page if faulted in) when it is.
 *
 * Policy. The unit is the free max-order block (4 MiB) that the host still
 * backs ("retained"). Calls count down a per-thread tick; every 4096 calls a
 * thread looks at the clock, and at most every 10 ms one thread looks at the
 * heap:
 *  - a threshold: more than KMM_MALLOC_LIMIT_MB (256 MiB) retained goes back
 *    down to that at once;
 *  - a delay: every half of KMM_MALLOC_DECAY_MS (1 s) is an epoch. Blocks
 *    retained at the end of an epoch beyond the ones freed during it (the
 *    newest, nearest the free-list heads) go back; so a block freed and not
 *    reused is given back after one to two epochs;
 *  - a floor: KMM_MALLOC_RETAIN_MB (16 MiB) always stays, so a program that
 *    frees and allocates a few MiB in a loop never pays for repopulation.
 * malloc_trim() drains the per-CPU caches, shrinks the slab caches and
 * gives back everything above its pad at once.
 *
 * No thread of its own: a process that frees memory and then makes no more
 * allocation calls keeps what it retained until it calls malloc_trim() (as
 * with jemalloc without its background thread).
 *
 * Locks: purge_lock (one thread looks at a time; others skip), then the
 * page allocator's reporting and zone locks.
 */
#define _GNU_SOURCE
#include "internal.h"
#include <time.h>

#define TICK_CALLS 4096
#define CHECK_NS   (10 * 1000 * 1000ULL)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Free max-order blocks, backed or not: an upper bound on what could be given back. */
static unsigned long free_max_blocks(struct kmm_machine *m)
{
	unsigned long n = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			n += READ_ONCE(
			    m->node_data[nid]->node_zones[z].free_area[MAX_PAGE_ORDER].nr_free);
	return n;
}

static unsigned long report(unsigned long keep)
{
	unsigned long n = kmm_page_reporting_run(km.m, keep, ~0UL);
	__atomic_fetch_add(&km.st.purged_blocks, n, __ATOMIC_RELAXED);
	return n;
}

/* purge_lock held. */
static void purge_check(uint64_t now)
{
	struct kmm_machine *m = km.m;
	bool epoch = now >= km.next_epoch_ns;
	if (epoch)
		km.next_epoch_ns = now + km.decay_ns / 2;
	if (free_max_blocks(m) <= km.retain_blocks) {
		km.epoch_populated = 0;
		return;
	}
	struct kmm_page_reporting_count c;
	kmm_page_reporting_count(m, &c);
	__atomic_fetch_add(&km.st.purge_checks, 1, __ATOMIC_RELAXED);
	unsigned long retained = c.populated_blocks;
	if (retained > km.limit_blocks)
		retained -= report(km.limit_blocks);
	if (epoch) {
		/* Keep what was freed during this epoch (and the floor); the rest is older. */
		unsigned long fresh =
		    retained > km.epoch_populated ? retained - km.epoch_populated : 0;
		unsigned long keep = kmm_max(fresh, km.retain_blocks);
		if (retained > keep)
			retained -= report(keep);
		km.epoch_populated = retained;
	}
}

void km_tick(struct km_thread *t)
{
	t->tick = TICK_CALLS;
	uint64_t now = now_ns();
	if (now < __atomic_load_n(&km.next_check_ns, __ATOMIC_RELAXED) ||
	    !spin_trylock(&km.purge_lock))
		return;
	if (now >= km.next_check_ns) {
		__atomic_store_n(&km.next_check_ns, now + CHECK_NS, __ATOMIC_RELAXED);
		purge_check(now);
	}
	spin_unlock(&km.purge_lock);
}

int km_trim(size_t pad)
{
	struct kmm_machine *m = km.m;
	if (km_self.cpu >= 0)
		km_cc_drain(km_self.cpu);
	kmm_drain_all_pages(m);
	kmm_slab_shrink_all(m);
	kmm_drain_all_pages(m);
	spin_lock(&km.purge_lock);
	unsigned long n = report(pad >> (PAGE_SHIFT + MAX_PAGE_ORDER));
	km.epoch_populated = 0;
	spin_unlock(&km.purge_lock);
	return n > 0;
}
