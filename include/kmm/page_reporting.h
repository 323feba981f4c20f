/*
 * Free page reporting: giving the host back the memory of free blocks.
 *
 * Linux: mm/page_reporting.c, include/linux/page_reporting.h. A guest
 * kernel tells its hypervisor which free blocks of at least pageblock order
 * it does not need, and the hypervisor takes their memory back; the guest
 * faults it in again when it reuses them. kmm's simulated RAM is host
 * memory that the host backs on first touch, so the "hypervisor" here is
 * the host itself: reporting a free max-order block discards its host
 * memory (MADV_DONTNEED), and the page allocator repopulates it in one call
 * when the block is handed out again (see src/phys/ram.c).
 *
 * Unlike Linux, kmm runs no worker of its own: the owner of the machine
 * decides when to report (libkmm-malloc does it with a delay and a
 * threshold, so that memory freed and reused soon keeps its pages).
 */
#ifndef KMM_PAGE_REPORTING_H
#define KMM_PAGE_REPORTING_H

#include <kmm/machine.h>

struct kmm_page_reporting_count {
	unsigned long free_blocks;	/* free blocks of MAX_PAGE_ORDER in the zones */
	unsigned long populated_blocks; /* ... of them still backed by host memory */
};

/*
 * Count the free max-order blocks and how many of them the host still
 * backs (a walk of the max-order free lists under each zone's lock).
 */
void kmm_page_reporting_count(struct kmm_machine *m, struct kmm_page_reporting_count *c);

/*
 * Report free max-order blocks that the host still backs: their memory is
 * given back. The @keep most recently freed such blocks (those nearest the
 * heads of the free lists, which are allocated first) are left alone, and at
 * most @max are reported, oldest first. Blocks are taken off the free lists
 * while their memory is given back, so concurrent allocations never see a
 * block half discarded, and go back to the tails of the lists. Only one
 * report runs at a time: a caller that finds one running returns 0.
 * Returns the number of blocks reported.
 */
unsigned long kmm_page_reporting_run(struct kmm_machine *m, unsigned long keep, unsigned long max);

/* Blocks reported since boot. */
unsigned long kmm_page_reporting_total(struct kmm_machine *m);

/* Max-order blocks of RAM the host backs now, free or not (host memory in use). */
unsigned long kmm_ram_populated_blocks(struct kmm_machine *m);

#endif /* KMM_PAGE_REPORTING_H */
