/*
 * /proc/slabinfo, version 2.1, as Linux 6.1 prints it with SLUB.
 *
 * Linux: mm/slab_common.c (slab_show, print_slabinfo_header, cache_show).
 * SLUB has no tunables and no shared arrays: those columns are zero, and
 * active slabs equal all slabs. Caches are listed newest first.
 */
#include "internal.h"
#include "../rmap/rmap.h"
#include <kmm/slab.h>

static int show_cache(const struct kmm_slabinfo *i, void *arg)
{
	struct kmm_buf *out = arg;
	kmm_buf_printf(
	    out, "%-17s %6lu %6lu %6u %4u %4u : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu\n",
	    i->name, i->active_objs, i->num_objs, i->objsize, i->objperslab, i->pagesperslab, 0u,
	    0u, 0u, i->num_slabs, i->num_slabs, 0UL);
	return 0;
}

void kmm_show_slabinfo(struct kmm_machine *m, struct kmm_buf *out)
{
	proc_prepare(m);
	kmm_buf_puts(out,
		     "slabinfo - version: 2.1\n"
		     "# name            <active_objs> <num_objs> <objsize> <objperslab> "
		     "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata "
		     "<active_slabs> <num_slabs> <sharedavail>\n");
	kmm_slab_for_each_cache(m, show_cache, out);
	/* --rmap-mem host: the reverse map's objects live outside any cache; list them too. */
	if (m->vm)
		rmap_show_host_slabinfo(m, out);
}
