/*
 * Shrinkers: how reclaim asks the owners of reclaimable objects (caches of
 * dentries, inodes, ... in Linux; any kmm user's caches) to give some back.
 *
 * Linux: mm/vmscan.c of 6.1 (register_shrinker, unregister_shrinker,
 * do_shrink_slab, shrink_slab, drop_slab). The formula is Linux's: a pass at
 * priority p asks for (freeable >> p) * 4 / seeks objects plus the work
 * deferred by earlier passes, at most twice the freeable count, in batches;
 * what a pass could not do is deferred to the next.
 *
 * Callbacks run without any allocator lock: the list lock is dropped around
 * them and the shrinker is pinned (active), so unregistering waits for
 * running passes instead of holding a lock across callbacks that may
 * allocate (Linux uses an rwsem for the same reason).
 */
#include "internal.h"
#include <errno.h>

#define SHRINK_BATCH 128

int kmm_register_shrinker(struct kmm_machine *m, struct kmm_shrinker *sh, const char *name)
{
	if (!sh || !sh->count_objects || !sh->scan_objects)
		return -EINVAL;
	struct kmm_slab_state *st = m->slab;
	kmm_port_snprintf(sh->name, sizeof(sh->name), "%s", name ? name : "shrinker");
	sh->nr_deferred = 0;
	atomic_set(&sh->active, 0);
	sh->dead = false;
	spin_lock(&st->shrinker_lock);
	list_add_tail(&sh->list, &st->shrinkers);
	spin_unlock(&st->shrinker_lock);
	return 0;
}

void kmm_unregister_shrinker(struct kmm_machine *m, struct kmm_shrinker *sh)
{
	struct kmm_slab_state *st = m->slab;
	spin_lock(&st->shrinker_lock);
	WRITE_ONCE(sh->dead, true);
	while (atomic_read(&sh->active)) {
		spin_unlock(&st->shrinker_lock);
		kmm_port_yield();
		spin_lock(&st->shrinker_lock);
	}
	list_del(&sh->list);
	spin_unlock(&st->shrinker_lock);
}

/* One shrinker, one pass (Linux do_shrink_slab). */
static unsigned long do_shrink_slab(struct kmm_machine *m, struct kmm_shrink_control *sc,
				    struct kmm_shrinker *sh, int priority)
{
	unsigned long freed = 0, scanned = 0;
	long batch_size = sh->batch ? sh->batch : SHRINK_BATCH;
	long freeable = (long)sh->count_objects(sh, sc);
	if (freeable == 0 || (unsigned long)freeable == SHRINK_EMPTY)
		return 0;
	long nr = __atomic_exchange_n(&sh->nr_deferred, 0, __ATOMIC_RELAXED);
	long delta;
	if (sh->seeks) {
		delta = (freeable >> priority) * 4;
		delta /= sh->seeks;
	} else {
		delta = freeable / 2; /* objects that cost nothing to recreate */
	}
	long total_scan = (nr >> priority) + delta;
	total_scan = kmm_min(total_scan, 2 * freeable);
	while (total_scan >= batch_size || total_scan >= freeable) {
		unsigned long nr_to_scan = (unsigned long)kmm_min(batch_size, total_scan);
		sc->nr_to_scan = nr_to_scan;
		sc->nr_scanned = nr_to_scan;
		unsigned long ret = sh->scan_objects(sh, sc);
		if (ret == SHRINK_STOP)
			break;
		freed += ret;
		count_vm_events(m, SLABS_SCANNED, (long)sc->nr_scanned);
		total_scan -= (long)sc->nr_scanned;
		scanned += sc->nr_scanned;
		if (!sc->nr_scanned)
			break; /* a shrinker that scans nothing would loop forever */
	}
	long next_deferred = kmm_max(nr + delta - (long)scanned, 0L);
	next_deferred = kmm_min(next_deferred, 2 * freeable);
	__atomic_add_fetch(&sh->nr_deferred, next_deferred, __ATOMIC_RELAXED);
	return freed;
}

unsigned long kmm_shrink_slab(struct kmm_machine *m, gfp_t gfp, int nid, int priority)
{
	struct kmm_slab_state *st = m->slab;
	struct kmm_shrink_control sc = {.gfp_mask = gfp, .nid = nid};
	unsigned long freed = 0;
	if (priority < 0)
		priority = 0;
	if (priority > 12)
		priority = 12;
	spin_lock(&st->shrinker_lock);
	struct list_head *pos = st->shrinkers.next;
	while (pos != &st->shrinkers) {
		struct kmm_shrinker *sh = list_entry(pos, struct kmm_shrinker, list);
		if (READ_ONCE(sh->dead)) {
			pos = pos->next;
			continue;
		}
		atomic_inc(&sh->active);
		spin_unlock(&st->shrinker_lock);
		unsigned long ret = do_shrink_slab(m, &sc, sh, priority);
		if (ret != SHRINK_EMPTY)
			freed += ret;
		spin_lock(&st->shrinker_lock);
		/* Still on the list: unregistering waits for active to drop. */
		pos = pos->next;
		atomic_dec(&sh->active);
	}
	spin_unlock(&st->shrinker_lock);
	return freed;
}

unsigned long kmm_drop_slab(struct kmm_machine *m)
{
	unsigned long total = 0, freed;
	count_vm_event(m, DROP_SLAB);
	do {
		freed = 0;
		for (int nid = 0; nid < m->nr_node_ids; nid++)
			if (m->node_data[nid])
				freed += kmm_shrink_slab(m, GFP_KERNEL, nid, 0);
		total += freed;
	} while (freed > 10);
	return total;
}
