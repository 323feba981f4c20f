/*
 * Starting and stopping reclaim, its hooks into the layers below, and its
 * tunables.
 *
 * Linux: mm/vmscan.c (kswapd_init, vm_swappiness), mm/swap.c
 * (lru_add_drain), mm/oom_kill.c sysctls. reclaim/ sits above vm/ and
 * swap/: it fills the page allocator's hooks (kswapd wake-up, direct
 * reclaim, the OOM killer, taking freed pages off the LRU), vm/'s LRU hooks
 * (new pages, accesses) and swap/'s (pages read in by swap-in).
 */
#include "internal.h"
#include "reclaim.h"
#include <errno.h>
#include <string.h>

static void swap_lru_cache_add(struct kmm_machine *m, struct kmm_page *page)
{
	lru_cache_add(m, page);
}

/* vm.swappiness through kmm_sysctl_set(), which checked the range. */
static void reclaim_sysctl_set(struct kmm_machine *m, const char *name, long value)
{
	(void)name;
	kmm_reclaim_set_swappiness(m, (int)value);
}

static long reclaim_sysctl_get(struct kmm_machine *m, const char *name)
{
	(void)name;
	return kmm_reclaim_swappiness(m);
}

int reclaim_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct reclaim_state *rs = kmm_port_alloc(sizeof(*rs));
	if (!rs)
		return kmm_error_set(err, -ENOMEM, "reclaim: out of host memory");
	memset(rs, 0, sizeof(*rs));
	rs->m = m;
	for (int c = 0; c < KMM_MAX_CPUS; c++)
		spin_lock_init(&rs->batch[c].lock);
	spin_lock_init(&rs->nocpu_batch.lock);
	rs->swappiness = 60;
	rs->oom_dump_tasks = true;
	kmm_port_waitq_init(&rs->oom_lock);
	m->reclaim = rs;
	m->sysctl[KMM_SYSCTL_RECLAIM] =
	    (struct kmm_sysctl_ops){reclaim_sysctl_set, reclaim_sysctl_get};
	kswapd_init(m);
	workingset_init(m);
	lru_register_hooks(m);
	m->hooks.wakeup_kswapd = wakeup_kswapd;
	m->hooks.try_to_free_pages = try_to_free_pages;
	m->hooks.out_of_memory = out_of_memory;
	if (m->swap) {
		struct kmm_swap_ops ops = {.lru_cache_add = swap_lru_cache_add};
		kmm_swap_set_ops(m, &ops);
	}
	return 0;
}

void reclaim_destroy(struct kmm_machine *m)
{
	struct reclaim_state *rs = reclaim_state(m);
	if (!rs)
		return;
	kswapd_destroy(m);
	workingset_destroy(m);
	lru_add_drain_all(m);
	m->hooks.wakeup_kswapd = NULL;
	m->hooks.try_to_free_pages = NULL;
	m->hooks.out_of_memory = NULL;
	m->sysctl[KMM_SYSCTL_RECLAIM] = (struct kmm_sysctl_ops){0};
	lru_unregister_hooks(m);
	kmm_port_waitq_destroy(&rs->oom_lock);
	m->reclaim = NULL;
	kmm_port_free(rs, sizeof(*rs));
}

int kmm_reclaim_set_swappiness(struct kmm_machine *m, int swappiness)
{
	if (swappiness < 0 || swappiness > 200)
		return -EINVAL;
	WRITE_ONCE(reclaim_state(m)->swappiness, swappiness);
	return 0;
}

int kmm_reclaim_swappiness(const struct kmm_machine *m)
{
	return READ_ONCE(reclaim_state(m)->swappiness);
}
