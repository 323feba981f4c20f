/*
 * proc/ private declarations: the /proc views read every layer below them.
 */
#ifndef KMM_PROC_INTERNAL_H
#define KMM_PROC_INTERNAL_H

#include <kmm/proc.h>
#include <kmm/swap.h>
#include "../phys/phys.h"
#include "../page/internal.h"

/* Wait for boot to finish and fold this thread's counters, before printing. */
void proc_prepare(struct kmm_machine *m);

/* Node items Linux prints in huge pages rather than pages (vmstat_item_print_in_thp). */
static inline bool vmstat_item_print_in_thp(int item)
{
	return item == NR_ANON_THPS || item == NR_FILE_THPS || item == NR_SHMEM_THPS ||
	       item == NR_SHMEM_PMDMAPPED || item == NR_FILE_PMDMAPPED;
}

/* MemAvailable (si_mem_available). */
long si_mem_available(struct kmm_machine *m);

#endif /* KMM_PROC_INTERNAL_H */
