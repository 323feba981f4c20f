/*
 * swap/ private structures: the swap area (Linux struct swap_info_struct),
 * its clusters, the swap cache's address spaces, and the layer's state.
 *
 * Linux: include/linux/swap.h (swap_info_struct, swap_cluster_info,
 * percpu_cluster, SWAP_MAP_* and SWAP_HAS_CACHE), mm/swap.h and
 * mm/swapfile.c's statics (swap_lock, swap_avail_lock, swap_active_head,
 * nr_swap_pages, total_swap_pages, least_priority), which kmm keeps per
 * machine in struct swap_state.
 *
 * Locks, outermost first (as mm/swapfile.c):
 *   swapon_mutex (sleeping; swapon, swapoff and /proc/swaps)
 *     swap_lock (the area table, the active list, total_swap_pages)
 *       si->lock (one area's allocator: lowest/highest_bit, cluster lists,
 *                 per-CPU clusters, inuse_pages)
 *         swap_avail_lock (the list of areas with free slots)
 *         ci->lock (one cluster: its slots' swap_map bytes and its count)
 *           ci_tail->lock (the list tail, only while si->lock is held)
 * The swap cache's per-space lock (swap_address_space::lock) is a leaf and
 * is never held with the locks above. swap_map bytes are written under
 * their cluster lock and read locklessly (READ_ONCE) where a stale value
 * only costs a retry.
 */
#ifndef KMM_SWAP_INTERNAL_H
#define KMM_SWAP_INTERNAL_H

#include <kmm/swap.h>
#include <kmm/radix_tree.h>
#include <kmm/slab.h>
#include <kmm/page_alloc.h>
#include <kmm/random.h>
#include "../phys/phys.h"
#include "swap.h"

/* --- swap_map encoding (Linux include/linux/swap.h) ------------------------------------ */

/*
 * One byte per slot: the number of swap PTEs (and shmem references) that
 * name the slot in the low 6 bits, plus SWAP_HAS_CACHE while a page for it
 * is in the swap cache. 0 is a free slot, SWAP_MAP_BAD a slot never to use
 * (the header, bad pages, the tail of the last cluster).
 *
 * Linux continues counts above SWAP_MAP_MAX in extra pages
 * (COUNT_CONTINUED); kmm caps them: swap_duplicate() of a slot at
 * SWAP_MAP_MAX returns -ENOMEM, which fork turns into a failed fork. 62
 * mappings of one swapped page is far beyond what kmm's workloads make.
 */
#define SWAP_MAP_MAX   0x3e
#define SWAP_MAP_BAD   0x3f
#define SWAP_HAS_CACHE 0x40

static inline unsigned char swap_count(unsigned char ent)
{
	return ent & ~SWAP_HAS_CACHE;
}

/* --- Clusters (Linux mm/swapfile.c, SSD allocation) -------------------------------------- */

/*
 * 256 slots (1 MiB) per cluster: a CPU allocates sequentially inside its
 * own cluster, so neighbouring pages of a task land in neighbouring slots
 * (cheap readahead) and CPUs do not contend on one cluster lock.
 */
#define SWAPFILE_CLUSTER 256
#define LATENCY_LIMIT	 256
/* Slots get_swap_pages() hands out per call at most (Linux SWAP_BATCH). */
#define SWAP_BATCH	 64

#define CLUSTER_FLAG_FREE      1 /* on the free cluster list */
#define CLUSTER_FLAG_NEXT_NULL 2 /* as a list head or tail: the list is empty */

/*
 * A cluster's state. For a cluster in use, @data counts its slots that are
 * not free (used or bad); for a free cluster, @data links to the next free
 * cluster. Heads and tails of cluster lists are the same structure.
 */
struct swap_cluster_info {
	spinlock_t lock;
	unsigned int data : 24;
	unsigned int flags : 8;
};

struct swap_cluster_list {
	struct swap_cluster_info head;
	struct swap_cluster_info tail;
};

/* A CPU's current cluster: @index its number (NEXT_NULL: none), @next the next slot to try. */
struct percpu_cluster {
	struct swap_cluster_info index;
	unsigned int next;
};

/* --- The swap cache (Linux mm/swap_state.c) ----------------------------------------------- */

/*
 * The swap cache is split into one address space per 64 MiB of slots
 * (2^14 slots), each with its own tree and lock, so CPUs swapping in
 * different parts of an area do not share a lock (Linux
 * SWAP_ADDRESS_SPACE_SHIFT).
 */
#define SWAP_ADDRESS_SPACE_SHIFT 14
#define SWAP_ADDRESS_SPACE_PAGES (1UL << SWAP_ADDRESS_SPACE_SHIFT)

struct swap_address_space {
	spinlock_t lock; /* i_pages lock */
	struct radix_tree_root i_pages;
	unsigned long nrpages;
} ____cacheline_aligned;

/* --- A swap area ------------------------------------------------------------------------------ */

enum {
	SWP_USED = 1 << 0,	 /* the table slot is taken */
	SWP_WRITEOK = 1 << 1,	 /* on: slots may be allocated */
	SWP_SOLIDSTATE = 1 << 4, /* cluster allocation (always in kmm) */
	SWP_VALID = 1 << 13,	 /* set up: get_swap_device() may use it (swapon to swapoff) */
	SWP_SCANNING = 1 << 14,	 /* counts allocators in scan_swap_map_slots */
};

struct swap_info {
	unsigned long flags; /* SWP_*, under swap_lock and si->lock */
	short prio;
	signed char type;
	struct list_head list;	     /* on swap_active_head, by priority */
	struct list_head avail_list; /* on swap_avail_head while it has free slots */
	bool on_avail;
	unsigned int max;	 /* slots, header included (last_page + 1) */
	unsigned char *swap_map; /* max bytes */
	struct swap_cluster_info *cluster_info;
	unsigned long nr_clusters;
	struct swap_cluster_list free_clusters;
	unsigned int lowest_bit;	/* lowest slot that may be free */
	unsigned int highest_bit;	/* highest slot that may be free; 0: full */
	unsigned int pages;		/* usable slots */
	unsigned int inuse_pages;	/* slots in use */
	unsigned int *cluster_next_cpu; /* per CPU: where the next scan starts */
	struct percpu_cluster *percpu_cluster;
	unsigned int nr_cpu_slots; /* nr_cpus + 1: the last is for threads on no CPU */
	spinlock_t lock;
	/*
	 * get_swap_device() references; swapoff waits for none before freeing.
	 * Taken on a CPU they go to that CPU's counter in users_pcpu, which
	 * only that CPU writes (no atomic operation: Linux's percpu_ref in
	 * per-CPU mode); elsewhere, or when users_pcpu is NULL (no membarrier,
	 * or a TSan build), to users. A counter may go negative when a
	 * reference is dropped on another CPU than took it: only the sum means
	 * anything.
	 */
	atomic_t users;
	struct swap_users_pcpu *users_pcpu; /* [m->nr_cpus]; kept from the first swapon on */
	struct kmm_machine *machine;
	/* The file. */
	int fd;
	uint64_t dev, ino;	 /* the file's identity: swapoff finds the area by it */
	unsigned int swap_flags; /* KMM_SWAP_SYNC */
	char path[256];
	unsigned char uuid[16];
	char label[17];
	unsigned int nr_badpages;

	/* Checksum of each slot's last write; 0: never written since swapon. */
	uint64_t *csum;
	struct swap_address_space *spaces;
	unsigned int nr_spaces;

	atomic_long_t writes, reads, write_errors, read_errors, csum_errors;
	atomic_long_t write_ios, read_ios; /* requests to the file: pwrite(v), pread(v) */
	atomic_long_t read_ns;		   /* host time in those reads (diskstats' time reading) */
	atomic_long_t writeback_started;   /* pages whose disk write the I/O thread started */
	struct kmm_rng rng; /* under si->lock: where a CPU jumps to in set_cluster_next */
};

static inline uint64_t swap_random(struct swap_info *si, uint64_t n)
{
	return kmm_rng_below(&si->rng, n);
}

/* Sequential streams whose windows KMM_SWAP_IO_READAHEAD_NEXT keeps ahead at once. */
#define SWAP_RA_STREAMS 4

struct swap_state {
	struct kmm_machine *m;
	struct kmm_port_waitq swapon_mutex; /* its lock is the mutex */
	spinlock_t swap_lock;
	spinlock_t swap_avail_lock;
	struct swap_info *swap_info[MAX_SWAPFILES];
	unsigned int nr_swapfiles;
	struct list_head swap_active_head; /* every area that is on, by priority */
	struct list_head swap_avail_head;  /* the areas with free slots, by priority */
	atomic_long_t nr_swap_pages;
	long total_swap_pages;
	int least_priority;
	struct kmm_kmem_cache *radix_node_cachep;
	bool own_radix_cache;
	struct kmm_swap_ops ops;
	/* swapoff's own walk of vm/'s page tables (unuse.c), when vm/ exists; ops.unuse_area overrides it. */
	int (*vm_unuse)(struct kmm_machine *m, unsigned int type);
	struct kmm_fault_attr fail_write, fail_read;
	enum kmm_swap_write_fault write_fault;
	unsigned int page_cluster; /* vm.page-cluster: readahead of 2^page_cluster slots */
	/* The readahead window's history (Linux swapin_nr_pages' statics). */
	atomic_t swapin_readahead_hits; /* readahead pages used since the last window */
	unsigned long ra_prev_offset;	/* the slot of the last fault without hits */
	atomic_t ra_last_pages;		/* the last window */
	/*
	 * KMM_SWAP_IO_READAHEAD_NEXT: per stream, the window (the entry of its
	 * first slot) whose first readahead page used reads one more window
	 * ahead; 0: none. ra_victim picks the slot a new stream takes when
	 * every one is in use.
	 */
	unsigned long ra_trigger[SWAP_RA_STREAMS];
	unsigned int ra_victim;
	struct swap_io *io; /* the I/O thread and its queue, from the first kmm_swap_io_start() */
	uint64_t uuid_seq;
};

static inline struct swap_state *swap_state(const struct kmm_machine *m)
{
	return (struct swap_state *)m->swap;
}

struct swap_users_pcpu {
	_Alignas(64) long count; /* a line each: CPUs do not share it */
};

static inline struct swap_info *swap_type_to_swap_info(const struct kmm_machine *m,
						       unsigned int type)
{
	struct swap_state *ss = swap_state(m);
	if (!ss || type >= MAX_SWAPFILES)
		return NULL;
	return __atomic_load_n(&ss->swap_info[type], __ATOMIC_ACQUIRE);
}

/* The CPU slot of the caller in per-CPU arrays: its CPU id, or the shared last slot. */
static inline unsigned int swap_cpu_slot(const struct kmm_machine *m, const struct swap_info *si)
{
	struct kmm_cpu *cpu = this_cpu(m);
	return cpu ? (unsigned int)cpu->id : si->nr_cpu_slots - 1;
}

/* --- Between the files of swap/ ----------------------------------------------------------------- */

/* header.c: the on-disk header. */
#define SWAP_SIGNATURE	   "SWAPSPACE2"
#define SWAP_SIGNATURE_LEN 10
#define SWAP_BOOTBITS	   1024
#define MAX_SWAP_BADPAGES  ((PAGE_SIZE - SWAP_SIGNATURE_LEN - SWAP_BOOTBITS - 44 - 117 * 4) / 4)
#define SWAP_MIN_PAGES	   10 /* what mkswap accepts */
struct swap_header_info {
	unsigned int version;
	unsigned int last_page;
	unsigned int nr_badpages;
	unsigned char uuid[16];
	char label[17];
	unsigned int badpages[MAX_SWAP_BADPAGES];
};
/* Parse page 0 of @path (@file_bytes long); 0 or -EINVAL with a message naming the file. */
int swap_header_parse(const unsigned char *page, uint64_t file_bytes, const char *path,
		      struct swap_header_info *hdr, struct kmm_error *err);
/* Build page 0 for an area of @pages pages, as mkswap does. */
void swap_header_make(unsigned char *page, unsigned long pages, const unsigned char uuid[16],
		      const char *label);
void swap_uuid_format(const unsigned char uuid[16], char out[37]);

/* swapfile.c: slots. */
void setup_swap_clusters(struct swap_info *si);
void swap_add_to_avail_list(struct kmm_machine *m, struct swap_info *si);
void swap_del_from_avail_list(struct kmm_machine *m, struct swap_info *si);
struct swap_info *get_swap_device(struct kmm_machine *m, swp_entry_t entry);
void put_swap_device(struct swap_info *si);
/* References held now (swapoff waits for 0); only exact once SWP_USED is gone. */
long swap_device_users(struct swap_info *si);

/* swap_state.c: the swap cache. */
/* swap_fault.c: vm/'s swap hooks (do_swap_page, fork, zap). */
void swap_fault_init(struct kmm_machine *m);
void swap_fault_exit(struct kmm_machine *m);
int init_swap_address_space(struct kmm_machine *m, struct swap_info *si);
void exit_swap_address_space(struct kmm_machine *m, struct swap_info *si);
static inline struct swap_address_space *swap_address_space(struct swap_info *si,
							    unsigned long offset)
{
	return &si->spaces[offset >> SWAP_ADDRESS_SPACE_SHIFT];
}
/* shmem_swap.c: vm/'s shmem swap-in hook, and swapoff's walk of shmem mappings (Linux shmem_unuse). */
void shmem_swap_init(struct kmm_machine *m);
void shmem_swap_exit(struct kmm_machine *m);
int shmem_unuse(struct kmm_machine *m, unsigned int type);
/* unuse.c: swapoff's walk of every mm for swap PTEs of area @type (Linux unuse_mm...). */
int swap_unuse_area(struct kmm_machine *m, unsigned int type);
/*
 * A locked swap-cache page whose read failed leaves the cache, unlocked,
 * and the caller's reference goes: the next access reads the slot again.
 */
void swap_cache_discard(struct kmm_machine *m, struct kmm_page *page);
/*
 * Wait until @page is not locked, with acquire order (a read in flight
 * has then written its bytes and PG_uptodate). While reads wait in the I/O
 * thread's queue it does them (swap_io_help); a read under way is waited
 * for, spinning first, for up to SWAP_READ_SPIN_NS, then yielding.
 */
#define SWAP_READ_SPIN_NS 200000ull
void wait_on_page_read(struct kmm_machine *m, struct kmm_page *page);
/*
 * Lock @page, a swap-cache page found or read for @entry, once its read is
 * done. True: locked, still @entry's page and uptodate. False: the caller's
 * reference is gone and the caller retries from its entry; the page had left
 * the cache (freed, perhaps reused), or a read of it had failed and it is
 * dropped from the cache (swap_cache_discard), so the retry reads the slot.
 */
bool swap_cache_lock_entry(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry);
/* Drop every page of @si's swap cache whose slot no PTE names any more (try_to_unuse's tail). */
void swap_cache_drop_unused(struct kmm_machine *m, struct swap_info *si);
/* Freed slots [begin, end] lose their shadow entries (Linux clear_shadow_from_swap_cache). */
void clear_shadow_from_swap_cache(struct kmm_machine *m, struct swap_info *si, unsigned long begin,
				  unsigned long end);

/* page_io.c: checksums, and one request's read. */
uint64_t swap_page_checksum(const void *data, swp_entry_t entry);
/* Pages per merged write or read: 256 KiB, a typical block-layer request limit. */
#define SWAP_IO_RUN 64
/*
 * Read @k pages from the consecutive slots of @si that @entries name, in one
 * request, and record each page's outcome (uptodate, or PG_error and the
 * message): the work of a bio and its end_swap_bio_read. Every slot passed
 * swap_read_precheck. @errs (may be NULL) gets 0 or -EIO per page; returns
 * how many failed.
 */
int swap_read_run(struct kmm_machine *m, struct swap_info *si, struct kmm_page **pages,
		  const swp_entry_t *entries, int k, int *errs);
/*
 * Start reading @n locked swap-cache pages (slot order: neighbouring slots
 * become one request). Each page is unlocked when its read is done,
 * uptodate or not uptodate with PG_error; with the I/O thread running that
 * may be after this returns (Linux swap_readpage's bio), otherwise it is
 * before. Whoever waits for a page locks it (or waits for PG_locked to go)
 * and checks PG_uptodate.
 */
void swap_read_submit(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		      int n);
/* PG_locked off with release order: what the read wrote is seen by whoever locks the page next. */
static inline void unlock_page_io(struct kmm_page *page)
{
	__atomic_fetch_and(&page->flags, ~(1UL << PG_locked), __ATOMIC_RELEASE);
}

/* swap_io.c: the I/O thread and its queue. */
struct swap_io;
/*
 * Hand the read of @k locked pages (a run for swap_read_run, whose slots
 * keep @si alive: they are in use until the pages are unlocked) to the I/O
 * thread, which unlocks each page when its outcome is recorded. False when
 * no thread runs or its queue is full: the caller reads them itself.
 */
bool swap_io_queue(struct kmm_machine *m, struct swap_info *si, struct kmm_page **pages,
		   const swp_entry_t *entries, int k);
/*
 * Work instead of waiting for @page: take the queued request that reads it,
 * or else the oldest queued request, and do it on the calling thread.
 * Returns 1 (@page's read is done), 0 (another was; check again) or -1
 * (nothing queued).
 */
int swap_io_help(struct kmm_machine *m, struct kmm_page *page);
/* Wait until every read handed to the I/O thread has completed. */
void swap_io_drain(struct kmm_machine *m);
/*
 * Slots [@first, @first + @nr) of @si are written to the host's page
 * cache: when the I/O thread runs, it starts their write-back to the disk
 * (a MiB at a time, after any waiting read), as a disk writes a bio while
 * the CPU goes on. Without the thread the host writes them back later or
 * at an fsync. A hint: nothing waits for it and it changes no outcome.
 */
void swap_io_written(struct kmm_machine *m, struct swap_info *si, unsigned long first,
		     unsigned long nr);
/* swapoff, with no user of @si left: drop its write-back ranges, wait for the one under way. */
void swap_io_forget(struct kmm_machine *m, struct swap_info *si);
/* Windows read ahead of a stream's faults with KMM_SWAP_IO_READAHEAD_NEXT. */
#define SWAP_RA_AHEAD 24
/* Does the I/O thread run with KMM_SWAP_IO_READAHEAD_NEXT? */
bool swap_io_readahead_next(struct kmm_machine *m);
/* Stop the thread and free the queue (the machine is going away). */
void swap_io_destroy(struct kmm_machine *m);

/* validate.c */
int swap_info_validate(struct kmm_machine *m, struct swap_info *si, struct kmm_error *err);

#endif /* KMM_SWAP_INTERNAL_H */
