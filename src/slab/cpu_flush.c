/*
 * Flushing one CPU's slabs of every cache: what a CPU going away gives back.
 *
 * Linux: mm/slub.c slub_cpu_dead() (CPU hotplug: a dead CPU's slabs and
 * partial slabs go back to the nodes) and flush_cpu_slab(). In kmm a CPU
 * does not die, but a host thread that leaves it for good (libkmm-malloc at
 * thread exit) should not leave its cached objects pinning slabs that
 * nobody allocates from: they go back to the node partial lists, where any
 * CPU finds them, and empty slabs beyond min_partial go back to the page
 * allocator.
 *
 * Lock order: the cache list lock -> n->list_lock -> slab_lock (slub.c).
 */
#include "internal.h"

void kmm_slab_flush_cpu(struct kmm_machine *m)
{
	struct kmm_cpu *cpu = this_cpu(m);
	struct kmm_slab_state *st = m->slab;
	struct kmm_kmem_cache *s;
	if (!cpu)
		return;
	spin_lock(&st->lock);
	list_for_each_entry (s, &st->caches, list) {
		struct kmem_cache_cpu *c = &s->cpu_slab[cpu->id];
		/* Most caches were never used on this CPU: skip them without a lock. */
		if (c->slab || c->partial || READ_ONCE(c->flush_request))
			flush_cpu_slab(s, cpu->id);
	}
	spin_unlock(&st->lock);
}
