/*
 * /proc views of a machine, in Linux 6.1's exact text formats, so scripts
 * written for the kernel's files read kmm's too.
 *
 * Linux: mm/vmstat.c (zoneinfo, buddyinfo, pagetypeinfo, vmstat),
 * fs/proc/meminfo.c, kernel/resource.c (iomem). Each function appends the
 * file's text to @out.
 */
#ifndef KMM_PROC_H
#define KMM_PROC_H

#include <kmm/machine.h>
#include <kmm/buf.h>

void kmm_show_zoneinfo(struct kmm_machine *m, struct kmm_buf *out);
void kmm_show_buddyinfo(struct kmm_machine *m, struct kmm_buf *out);
void kmm_show_pagetypeinfo(struct kmm_machine *m, struct kmm_buf *out);
void kmm_show_meminfo(struct kmm_machine *m, struct kmm_buf *out);
void kmm_show_vmstat(struct kmm_machine *m, struct kmm_buf *out);
void kmm_show_iomem(struct kmm_machine *m, struct kmm_buf *out);
/* Every slab cache, newest first (Linux mm/slab_common.c slab_show). */
void kmm_show_slabinfo(struct kmm_machine *m, struct kmm_buf *out);
/* kmm's own counters (pcp hits, buddy splits and merges, ...), "name value" lines. */
void kmm_show_kmmstat(struct kmm_machine *m, struct kmm_buf *out);

/* Show a view by name ("zoneinfo", ...); returns -ENOENT for an unknown name. */
int kmm_show(struct kmm_machine *m, const char *name, struct kmm_buf *out);
/* The names kmm_show() knows, NULL-terminated. */
extern const char *const kmm_proc_views[];

#endif /* KMM_PROC_H */
