/*
 * swap/'s interface to the layers that use it (vm/, rmap/, reclaim/, sim/):
 * the kernel-named functions on swap slots, the swap cache and swap I/O.
 *
 * Linux: include/linux/swap.h and mm/swap.h. The life of an anonymous page
 * that goes out and comes back:
 *
 *   reclaim: entry = get_swap_page(m)          slot count SWAP_HAS_CACHE
 *            add_to_swap_cache(m, page, entry)  page->private = entry, PG_swapcache
 *            try_to_unmap: each PTE -> swp_entry_to_pte(entry), swap_duplicate()
 *            swap_writepage(m, page, entry)     bytes to the file, checksum kept
 *            delete_from_swap_cache(m, page)    the page can be freed
 *   fault:   page = lookup_swap_cache(m, entry), or
 *            page = swapin_readahead(m, entry, &err)  reads the slot (and neighbours)
 *            map the page, swap_free(entry)     one PTE reference less
 *   exit:    free_swap_and_cache(m, entry)      per swap PTE
 *
 * A shmem page goes out through shmem_writepage() (its mapping slot then
 * holds the entry, one reference) and comes back through vm/'s
 * shmem_swapin hook (swap/shmem_swap.c).
 *
 * Every function takes the machine first. "Context" notes say which locks
 * the caller may hold: none of these take the page-table locks.
 */
#ifndef KMM_SWAP_SWAP_H
#define KMM_SWAP_SWAP_H

#include <kmm/swap.h>
#include <kmm/gfp.h>

/* --- Slots (swapfile.c) -------------------------------------------------------------------- */

/*
 * Allocate up to @n slots (n <= SWAP_BATCH) from the highest-priority area
 * with room, round robin between areas of equal priority; each slot starts
 * with count SWAP_HAS_CACHE (the page about to enter the swap cache).
 * Returns how many it got, 0 when swap is full or off.
 */
int get_swap_pages(struct kmm_machine *m, int n, swp_entry_t entries[]);
/* One slot; entry.val == 0 when there is none (Linux get_swap_page/folio_alloc_swap). */
swp_entry_t get_swap_page(struct kmm_machine *m);

/* Drop one PTE reference to @entry; the slot is freed when nothing holds it. */
void swap_free(struct kmm_machine *m, swp_entry_t entry);
/* Drop the swap cache's reference (SWAP_HAS_CACHE) to @entry (Linux put_swap_folio). */
void put_swap_page(struct kmm_machine *m, swp_entry_t entry);
/*
 * One more PTE references @entry (fork copying a swap PTE). Returns 0, or
 * -ENOMEM when the count is at SWAP_MAP_MAX (kmm has no count
 * continuation); an entry that is not in use is reported and ignored, as
 * Linux does.
 */
int swap_duplicate(struct kmm_machine *m, swp_entry_t entry);
/*
 * Claim the right to add a page for @entry to the swap cache: 0, -EEXIST
 * (someone else holds or is adding the cache page), -ENOENT (the slot is
 * free or bad), -EINVAL (no such area).
 */
int swapcache_prepare(struct kmm_machine *m, swp_entry_t entry);
/* A PTE is zapped: drop its reference, and the cache page if nothing else uses it. */
int free_swap_and_cache(struct kmm_machine *m, swp_entry_t entry);
/* PTE references to @entry (without SWAP_HAS_CACHE); 0 for a free or unknown slot. */
int __swap_count(struct kmm_machine *m, swp_entry_t entry);
/* The raw swap_map byte of @entry, for checks; -1 for an unknown entry. */
int swap_map_value(struct kmm_machine *m, swp_entry_t entry);
/* Free slots in all active areas (Linux get_nr_swap_pages). */
long get_nr_swap_pages(struct kmm_machine *m);
/* Is swap more than half full? (Linux vm_swap_full) */
bool vm_swap_full(struct kmm_machine *m);

/* --- The swap cache (swap_state.c) ------------------------------------------------------------ */

/*
 * Add @page (locked, PG_swapbacked, not yet in the cache) under @entry,
 * whose slot must carry SWAP_HAS_CACHE. The cache takes a page reference;
 * page->private = entry, PG_swapcache set, NR_SWAPCACHE and NR_FILE_PAGES
 * counted. Returns 0, -EEXIST, or -ENOMEM (tree node).
 */
int add_to_swap_cache(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry, gfp_t gfp);
/*
 * Remove @page (locked, in the swap cache) from the cache, drop the slot's
 * SWAP_HAS_CACHE and the cache's page reference.
 */
void delete_from_swap_cache(struct kmm_machine *m, struct kmm_page *page);
/* Only the tree and the counters (the slot and the reference are the caller's). */
void __delete_from_swap_cache(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry);
/*
 * Reclaim: give @page (anonymous, locked, PG_swapbacked, not in the cache)
 * a slot and put it in the swap cache, dirty (Linux add_to_swap). Returns
 * 0, -ENOSPC (swap full or off) or -ENOMEM.
 */
int add_to_swap(struct kmm_machine *m, struct kmm_page *page);
/*
 * Reclaim: take @page (locked, clean, unmapped) out of the swap cache and
 * free its slot's cache reference, if only the cache and the caller hold
 * it; its refcount is frozen at 0 for the caller to free (Linux
 * __remove_mapping for swap). Returns true if it did.
 */
bool remove_swap_mapping(struct kmm_machine *m, struct kmm_page *page);
/*
 * Reclaim: send @page (a dirty shmem page, locked, unmapped, isolated) to
 * swap: a slot, the swap cache, and the slot's entry in its mapping in
 * place of the page, holding one swap_map reference (Linux
 * shmem_writepage up to swap_writepage). The page is then a dirty
 * swap-cache page of no mapping, for pageout to write. Returns 0, -ENOSPC
 * (swap full or off), -ENOMEM or -EBUSY (mapped again).
 */
int shmem_writepage(struct kmm_machine *m, struct kmm_page *page);
/* The cache page of @entry with a reference taken, or NULL. */
struct kmm_page *lookup_swap_cache(struct kmm_machine *m, swp_entry_t entry);
/*
 * If @page (locked) is in the swap cache and no PTE names its slot any
 * more, drop it from the cache and free the slot; the page becomes dirty
 * (its only copy is in memory again). Returns true if it did.
 */
bool try_to_free_swap(struct kmm_machine *m, struct kmm_page *page);
/* The swap entry of a swap-cache page. */
static inline swp_entry_t page_swap_entry(const struct kmm_page *page)
{
	swp_entry_t e = {page->private};
	return e;
}

/*
 * Find or create the swap-cache page of @entry: a cached page is returned
 * as is (with a reference, *@new_page false); otherwise a page is
 * allocated, added to the cache locked and *@new_page set: the caller
 * reads it (swap_readpage) and unlocks it. NULL when the slot is not in
 * use or memory is short.
 */
struct kmm_page *__read_swap_cache_async(struct kmm_machine *m, swp_entry_t entry, gfp_t gfp,
					 bool *new_page);
/*
 * Read @entry's page, with readahead of its neighbours: the aligned
 * window of 2^page_cluster slots around it (Linux swap_cluster_readahead
 * with vm.page-cluster = 3: 8 slots). Returns the page of @entry, unlocked,
 * uptodate, with a reference; NULL with *@err = -EIO (the read failed:
 * checksum or I/O; the message is in the log), -ENOENT (nothing holds the
 * slot any more: the PTE changed under the caller) or -ENOMEM.
 */
struct kmm_page *swapin_readahead(struct kmm_machine *m, swp_entry_t entry, gfp_t gfp, int *err);
/*
 * The slots swapin_readahead() would read for @entry: the in-use slots of
 * its aligned window, @entry first. Returns how many were written to @out
 * (at most @max).
 */
int swap_cluster_readahead_slots(struct kmm_machine *m, swp_entry_t entry, swp_entry_t *out,
				 int max);

/* --- Swap I/O (page_io.c) ---------------------------------------------------------------------- */

/*
 * Write the bytes of @page to @entry's slot and remember their checksum.
 * Returns 0, or a negative errno (-EIO, -ENOSPC; a short write is -EIO):
 * then the page is left dirty and the error counted, so the caller keeps
 * it mapped and in memory. Context: may block (file I/O); no spinlocks.
 */
int swap_writepage(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry);
/*
 * Write @n pages to their slots at once (what reclaim does with the batch it
 * isolated): runs of neighbouring slots of one area become one write of up
 * to 64 pages, as Linux's block layer merges adjacent bios under a plug.
 * Each page's result is in @errs[i], with swap_writepage()'s meaning.
 * Returns how many failed.
 */
int swap_writepages(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		    int n, int *errs);
/*
 * Read @entry's slot into @page and check it against the checksum of the
 * last write. Returns 0 (the page is uptodate), or -EIO with a message
 * naming the area, the slot and the entry (I/O error, short file, a slot
 * never written, or a checksum mismatch: the file changed behind kmm's back).
 */
int swap_readpage(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry);

/*
 * Swap writes plugged: reclaim queues the pages of one batch as it decides
 * about them and issues them together when the batch is done, so that the
 * neighbouring slots add_to_swap handed out go to the file in one pwritev
 * (Linux 6.1: the struct swap_iocb that swap_writepage_fs fills and
 * swap_write_unplug submits; for block devices, the blk_plug around
 * shrink_folio_list). The plug lives on the caller's stack:
 *
 *	struct swap_plug plug;
 *	swap_write_plug(&plug);
 *	... swap_writepage_plugged(&plug, page, entry) per locked, unmapped page ...
 *	swap_write_unplug(m, &plug);	(plug.errs[i]: swap_writepage()'s result)
 *
 * A queued page stays locked and in the swap cache until the unplug; its
 * result (and PG_dirty, PG_error on failure) is exactly what swap_writepage
 * would have given.
 */
#define SWAP_PLUG_MAX 32 /* one reclaim batch (SWAP_CLUSTER_MAX) */
struct swap_plug {
	int nr;
	struct kmm_page *pages[SWAP_PLUG_MAX];
	swp_entry_t entries[SWAP_PLUG_MAX];
	int errs[SWAP_PLUG_MAX];
};
static inline void swap_write_plug(struct swap_plug *plug)
{
	plug->nr = 0;
}
/* Queue @page for @entry's slot; false when the plug is full (write it now instead). */
bool swap_writepage_plugged(struct swap_plug *plug, struct kmm_page *page, swp_entry_t entry);
/* Write what is queued (swap_writepages): plug->errs[0..nr) filled; returns how many failed. */
int swap_write_unplug(struct kmm_machine *m, struct swap_plug *plug);

/* Read @n slots into @n pages, merging neighbouring slots into one read; as swap_writepages. */
int swap_readpages(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		   int n, int *errs);

/* --- Life of the layer (swapon.c) --------------------------------------------------------------- */

int swap_init(struct kmm_machine *m, struct kmm_error *err);
/* Switch every area off without bringing pages back (the machine is going away). */
void swap_destroy(struct kmm_machine *m);
/* Switch on the areas of the machine options (--swap), as an init script's swapon -a. */
int swap_boot_areas(struct kmm_machine *m, struct kmm_error *err);

#endif /* KMM_SWAP_SWAP_H */
