/*
 * Views by name, and what every view does first.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

const char *const kmm_proc_views[] = {"zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "vmstat",
				      "iomem",	  "slabinfo",  "kmmstat",      "swaps",	  NULL};

void proc_prepare(struct kmm_machine *m)
{
	kmm_wait_for_init(m);
	refresh_vm_stats(m);
}

int kmm_show(struct kmm_machine *m, const char *name, struct kmm_buf *out)
{
	static void (*const fns[])(struct kmm_machine *, struct kmm_buf *) = {
	    kmm_show_zoneinfo, kmm_show_buddyinfo, kmm_show_pagetypeinfo,
	    kmm_show_meminfo,  kmm_show_vmstat,	   kmm_show_iomem,
	    kmm_show_slabinfo, kmm_show_kmmstat,   kmm_show_swaps,
	};
	for (size_t i = 0; kmm_proc_views[i]; i++) {
		if (!strcmp(name, kmm_proc_views[i])) {
			fns[i](m, out);
			return 0;
		}
	}
	return -ENOENT;
}
