/*
 * Swap: areas on real host files, their slots, the swap cache and swap I/O.
 *
 * Linux: include/linux/swap.h, mm/swapfile.c (swapon, swapoff, slots),
 * mm/swap_state.c (the swap cache), mm/page_io.c (reading and writing
 * pages). An area is a host file in Linux's on-disk swap format, so
 * `mkswap` files work in kmm and kmm's files are recognised by `blkid` and
 * `swaplabel`. See docs/swap.md.
 *
 * This header is the public side: switching areas on and off, what they
 * hold, the fault attributes of swap I/O, the view /proc/swaps and the
 * invariant checker. The kernel-named functions that vm/ and reclaim/ call
 * (get_swap_page, swap_free, add_to_swap_cache, swap_writepage, ...) are in
 * src/swap/swap.h.
 */
#ifndef KMM_SWAP_H
#define KMM_SWAP_H

#include <kmm/machine.h>
#include <kmm/swapops.h>

/* --- Switching areas on and off -------------------------------------------------- */

/* kmm_swapon() flags. */
#define KMM_SWAP_SYNC 0x2 /* fsync after every write (slow; for durability tests) */

/*
 * Switch on swap on the host file @path with priority @prio (-1: the next
 * automatic one, -2, -3, ... as Linux gives; 0..32767: that priority).
 *
 * With @size 0 the file must exist and hold a swap header (from mkswap or an
 * earlier kmm run); the header's last_page says how big the area is. With a
 * @size in bytes, kmm formats the file first, as `mkswap -L @label` would
 * (creating it, or resizing a file that already holds a swap header; a
 * non-empty file that is not a swap area is refused rather than
 * overwritten). @label may be NULL.
 *
 * Returns the area's type (0..MAX_SWAPFILES-1), or a negative errno with a
 * message naming the file in @err: no such file, not a swap area, a header
 * for another page size or version, too small, more areas than
 * MAX_SWAPFILES, already on.
 */
int kmm_swapon(struct kmm_machine *m, const char *path, uint64_t size, int prio, unsigned int flags,
	       const char *label, struct kmm_error *err);

/*
 * Switch off the area on @path: no new slots are taken from it, every page
 * it holds is brought back into memory through the unuse hook (below), and
 * the file is closed. Returns 0; -EINVAL (not an active area); -EBUSY when
 * slots are in use and no unuse hook is registered, or the hook left some
 * (the area is then back on, nothing lost); or the hook's error.
 */
int kmm_swapoff(struct kmm_machine *m, const char *path, struct kmm_error *err);

/*
 * What the upper layers give the swap layer. Linux's try_to_unuse() walks
 * every mm's page tables; here vm/ provides that walk as a hook.
 */
struct kmm_swap_ops {
	/*
	 * Bring every page of area @type back: for each swap PTE of that type,
	 * read the page in (swap cache), map it, and drop the PTE's slot
	 * reference. Returns 0 or a negative errno (-ENOMEM, -EIO).
	 */
	int (*unuse_area)(struct kmm_machine *m, unsigned int type);
	/* Put a page that swap-in or readahead brought into memory on an LRU list. */
	void (*lru_cache_add)(struct kmm_machine *m, struct kmm_page *page);
};
void kmm_swap_set_ops(struct kmm_machine *m, const struct kmm_swap_ops *ops);

/* --- What the areas hold ----------------------------------------------------------- */

struct kmm_swap_area_info {
	int type;
	int prio;
	bool active; /* on and taking new slots */
	char path[256];
	char uuid[37]; /* "01234567-89ab-cdef-0123-456789abcdef" */
	char label[17];
	unsigned long max;   /* slots including the header slot 0 (last_page + 1) */
	unsigned long pages; /* usable slots */
	unsigned long inuse_pages;
	unsigned long cached; /* pages in this area's swap cache */
	unsigned long nr_clusters, free_clusters;
	/* I/O of this area since swapon. */
	unsigned long writes, reads;
	unsigned long write_errors, read_errors, csum_errors;
	/* Requests to the file (pwrite/pwritev, pread/preadv): below writes, reads when batched. */
	unsigned long write_ios, read_ios;
	/*
	 * Host time spent in those reads, in ns (a wall-clock figure, like
	 * /proc/diskstats' time spent reading; it depends on the host's cache).
	 */
	unsigned long read_ns;
	/* Pages whose write to the disk the I/O thread started right after reclaim wrote them. */
	unsigned long writeback_started;
};
/* Fill @info for area @type; -ENOENT if no area has that type. */
int kmm_swap_area_info(struct kmm_machine *m, int type, struct kmm_swap_area_info *info);

/* Totals in pages (Linux si_swapinfo, nr_swap_pages, total_swap_pages). */
struct kmm_swap_totals {
	unsigned long total;   /* SwapTotal */
	unsigned long free;    /* SwapFree */
	long nr_swap_pages;    /* free slots of the active areas (may dip while allocating) */
	long total_swap_pages; /* usable slots of the active areas */
	unsigned long cached;  /* pages in the swap cache (SwapCached) */
	unsigned long write_errors, read_errors, csum_errors;
};
void kmm_swap_totals(struct kmm_machine *m, struct kmm_swap_totals *t);

/* /proc/swaps, in Linux's text. */
void kmm_show_swaps(struct kmm_machine *m, struct kmm_buf *out);

/* --- The swap I/O thread ------------------------------------------------------------ */

/*
 * Swap reads through a host I/O thread, the disk with its own queue (Linux
 * submits a bio and the fault waits only for its own page: the rest of the
 * readahead window completes behind it). Without the thread (the default,
 * and every deterministic run) a read is done before the fault goes on.
 * A concurrent run starts it when it wants Linux's asynchronous completion
 * (pages locked under I/O while other CPUs run) or the read-ahead below;
 * kmm_run() leaves it as it finds it. While it runs it also starts the
 * disk's write of what reclaim wrote to the swap file, a MiB at a time, so
 * the disk writes while reclaim goes on (Linux's swap_writepage submits
 * its bio at once); without it those bytes wait in the host's page cache
 * for the host's own write-back or an fsync. With KMM_SWAP_IO_READAHEAD_NEXT,
 * once a sequential stream has grown the readahead window to its largest
 * (2^page-cluster slots), the windows after the fault's are read too, and
 * each first use of a page of the next window reads one more, so the reads
 * stay up to 24 windows ahead of the faults: a kmm extension (Linux reads
 * swap one window at a time; its file readahead has such an asynchronous
 * window). See docs/swap.md.
 *
 * kmm_swap_io_start() returns 0 (started), -EALREADY (a thread runs; its
 * flags stay), -EINVAL (unknown flags, or a machine without swap) or the
 * host's error. kmm_swap_io_stop() waits for the queued reads and stops the
 * thread (write-backs too small to have started are left to the host); call both while no simulated CPU runs.
 */
#define KMM_SWAP_IO_READAHEAD_NEXT 0x1
int kmm_swap_io_start(struct kmm_machine *m, unsigned int flags);
void kmm_swap_io_stop(struct kmm_machine *m);

/* --- Fault injection ---------------------------------------------------------------- */

enum kmm_swap_write_fault {
	KMM_SWAP_FAULT_EIO,    /* pwrite fails with EIO */
	KMM_SWAP_FAULT_ENOSPC, /* pwrite fails with ENOSPC (a sparse file on a full disk) */
	KMM_SWAP_FAULT_SHORT,  /* pwrite writes only part of the page */
};
/*
 * The fault attributes of swap I/O (like fail_page_alloc, kmm/fault_inject.h):
 * an injected write error leaves the page dirty and in memory and is counted;
 * an injected read error makes swap_readpage return -EIO. @kind chooses what
 * a failing write does.
 */
struct kmm_fault_attr *kmm_swap_fail_write(struct kmm_machine *m);
struct kmm_fault_attr *kmm_swap_fail_read(struct kmm_machine *m);
void kmm_swap_set_write_fault(struct kmm_machine *m, enum kmm_swap_write_fault kind);

/* --- Checking -------------------------------------------------------------------------- */

/*
 * Check every area: swap_map counts against the cluster counts and the
 * cluster lists, inuse_pages, lowest/highest_bit, the per-CPU clusters, the
 * swap cache against SWAP_HAS_CACHE, nr_swap_pages and total_swap_pages.
 * Returns 0 or -EINVAL with what broke in @err. The swap layer must be
 * quiet (no concurrent allocation or freeing) while it runs.
 */
int kmm_swap_validate(struct kmm_machine *m, struct kmm_error *err);
/*
 * Check that every reference swap_map counts has a holder: the sum of the
 * slots' counts equals the swap PTEs of every mm plus the swap entries of
 * shared memory. Only for machines where nothing but tasks holds slots
 * (unit tests that take slots by hand fail it). 0 or -EINVAL with @err.
 */
int kmm_swap_validate_references(struct kmm_machine *m, struct kmm_error *err);

#endif /* KMM_SWAP_H */
