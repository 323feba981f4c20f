/*
 * read(2) and write(2) of files: buffered I/O through the page cache, with
 * read-ahead of sequential reads and the dirty-page limits of writers.
 *
 * Linux: mm/filemap.c (filemap_read, filemap_get_pages; generic_perform_write
 * and the write_begin/write_end pair of a simple block filesystem such as
 * ext2), mm/readahead.c (page_cache_sync_ra, page_cache_async_ra,
 * ondemand_readahead, get_init_ra_size, get_next_ra_size),
 * mm/page-writeback.c (balance_dirty_pages, domain_dirty_limits,
 * global_dirtyable_memory), fs/read_write.c (ksys_pread64,
 * rw_verify_area, MAX_RW_COUNT), mm/filemap.c generic_write_checks.
 *
 * Theory of operation.
 *  1. A call names the task it runs in (kmm_file_read/kmm_file_write run
 *     it on its CPU, as every system call of kmm does: page allocations
 *     and reclaim happen there) and an explicit offset: these are pread(2)
 *     and pwrite(2); a file position is the caller's business.
 *  2. Reading page by page: look the page up in the cache; on a miss,
 *     read ahead (3) and look again; a page not uptodate (a failed or
 *     racing read) is read alone under its lock. Each page read is
 *     mark_page_accessed(), except the first when the previous read ended
 *     in it (Linux: a program reading a page in small pieces touches it
 *     once), so a page read once stays inactive+referenced and a page
 *     read again is activated: file pages are promoted on their second
 *     use. The copy is made under the page lock, so a read never sees a
 *     write half done (Linux copies unlocked and allows that). A read
 *     stops at the end of the file: short, or 0 at or past it.
 *  3. Read-ahead (ondemand): each open file keeps a window (start, size,
 *     async_size). A miss at the start of the file or right after the
 *     previous read starts a window of get_init_ra_size(request) pages; a
 *     read reaching the window's marker page (start + size - async_size)
 *     reads the next window, twice (or four times) as large up to
 *     ra_pages (32 pages, 128 KiB). Other misses read just what the call
 *     asks for, at most ra_pages. Pages are read in runs with one preadv
 *     each (vm/filemap.c page_cache_readahead); pgpgin counts them. Linux
 *     reads ahead asynchronously; here the I/O is synchronous, so only its
 *     size and timing in the reference string are modelled. A read(2)
 *     never counts a major fault (as in Linux).
 *  4. Writing page by page, under the inode's i_rwsem (writers of a file
 *     in turn, as Linux's inode lock): find or create the page (a new one
 *     from GFP_HIGHUSER_MOVABLE, added to the cache and the inactive file
 *     LRU, not marked accessed: Linux's write_begin does not either); a
 *     partial write of a page that is not uptodate reads it first, unless
 *     it lies wholly beyond the end of the file (zeros then). Copy, mark
 *     dirty (accounted: nr_dirty, nr_dirtied), extend i_size while the
 *     page is still locked. The host file grows when writeback reaches
 *     the new pages (writeback writes up to i_size).
 *  5. Dirty limits (balance_dirty_pages): every 32 pages a writer
 *     dirties (Linux's initial ratelimit), it compares the machine's
 *     dirty pages with the background and hard thresholds, computed as
 *     Linux does from dirtyable memory (free above the reserves plus file
 *     LRU pages) and vm.dirty_background_ratio / vm.dirty_ratio (10, 20).
 *     kmm has no flusher thread: above the background threshold the
 *     writer itself writes back its file's oldest dirty pages, 1024 at a
 *     time (Linux MIN_WRITEBACK_PAGES, 4 MiB), synchronously, which is
 *     the flusher's work done in the writer's time; above the hard
 *     threshold it goes on until below it (Linux sleeps there while the
 *     flusher works). So reclaim rarely meets dirty pages, as in Linux.
 *
 * Errors: -EBADF for a NULL or closed file or one not opened for the
 * access; -EINVAL for a NULL buffer, or an offset Linux would refuse
 * (beyond the largest file, KMM_FILE_MAX_BYTES, for a read that is just
 * end of file); -EFBIG for a write starting at or past the largest file;
 * -ESRCH for a dead task; -ENOMEM when no page could be had; -EIO when the
 * host file could not be read. Bytes already moved are returned instead
 * of an error that comes later, as Linux does.
 *
 * Locks: inode->i_rwsem (writers) > PG_locked > mapping->i_pages_lock.
 */
#include "vm.h"
#include <errno.h>
#include <string.h>

#define MAX_RW_COUNT	    (0x7fffffffUL & PAGE_MASK) /* Linux INT_MAX & PAGE_MASK */
#define DIRTY_RATELIMIT	    32UL		       /* pages between limit checks */
#define MIN_WRITEBACK_PAGES 1024UL		       /* 4 MiB: one flusher chunk */
#define PAGE_LOOKUP_RETRIES 8

static int file_check(struct kmm_file *f, unsigned int mode, const void *buf, size_t len)
{
	if (!f || f->f_magic != FILE_MAGIC || !(f->f_mode & mode))
		return -EBADF;
	if (!buf && len)
		return -EINVAL;
	if (mapping_shmem(f->f_mapping))
		return -EINVAL;
	return 0;
}

/* --- Read-ahead --------------------------------------------------------------------------- */

static unsigned long roundup_pow_of_two_ul(unsigned long x)
{
	unsigned long r = 1;
	while (r < x)
		r <<= 1;
	return r;
}

/* The first window for a request of @size pages (Linux get_init_ra_size). */
static unsigned int get_init_ra_size(unsigned long size, unsigned int max)
{
	unsigned long n = roundup_pow_of_two_ul(size);
	if (n <= max / 32)
		n *= 4;
	else if (n <= max / 4)
		n *= 2;
	else
		n = max;
	return (unsigned int)kmm_min(n, (unsigned long)max);
}

/* The window after one of @cur pages (Linux get_next_ra_size). */
static unsigned int get_next_ra_size(unsigned int cur, unsigned int max)
{
	if (cur < max / 16)
		return 4 * cur;
	if (cur <= max / 2)
		return 2 * cur;
	return max;
}

/* A miss at @index in a read of @req pages (Linux page_cache_sync_ra + ondemand_readahead). */
static void page_cache_sync_ra(struct kmm_file *f, unsigned long index, unsigned long req)
{
	struct kmm_address_space *mapping = f->f_mapping;
	struct file_ra_state *ra = &f->f_ra;
	unsigned int max = mapping->ra_pages;
	unsigned long prev =
	    ra->prev_pos == ~0ULL ? ~0UL : (unsigned long)(ra->prev_pos >> PAGE_SHIFT);
	if (!max) {
		page_cache_readahead(mapping, index, 1);
		return;
	}
	bool sequential = index == 0 || index == prev || index == prev + 1 ||
			  (ra->size && index == ra->start + ra->size);
	if (!sequential) {
		/* A random read: just what was asked for, without a window. */
		page_cache_readahead(mapping, index, kmm_min(req, (unsigned long)max));
		return;
	}
	ra->start = index;
	ra->size = get_init_ra_size(req, max);
	ra->async_size = ra->size > req ? (unsigned int)(ra->size - req) : ra->size;
	page_cache_readahead(mapping, ra->start, ra->size);
}

/* The read reached the window's marker page: read the next window (page_cache_async_ra). */
static void page_cache_async_ra(struct kmm_file *f)
{
	struct file_ra_state *ra = &f->f_ra;
	unsigned int max = f->f_mapping->ra_pages;
	ra->start += ra->size;
	ra->size = get_next_ra_size(ra->size, max);
	ra->async_size = ra->size;
	page_cache_readahead(f->f_mapping, ra->start, ra->size);
}

static bool ra_marker(const struct file_ra_state *ra, unsigned long index)
{
	return ra->async_size && index == ra->start + ra->size - ra->async_size;
}

/* --- read(2) ------------------------------------------------------------------------------ */

/*
 * The uptodate page at @index of @f's cache, locked and with a reference,
 * reading ahead on a miss (@req: pages the read still wants). NULL with
 * *@err set when it cannot be had.
 */
static struct kmm_page *filemap_get_read_page(struct kmm_file *f, unsigned long index,
					      unsigned long req, int *err)
{
	struct kmm_address_space *mapping = f->f_mapping;
	struct kmm_machine *m = mapping->host->machine;
	struct kmm_page *page = find_get_page(mapping, index);
	if (!page) {
		page_cache_sync_ra(f, index, req);
		page = find_get_page(mapping, index);
		/* Reclaim may take a page between its read and the lookup: read it alone. */
		for (int tries = 0; !page && tries < PAGE_LOOKUP_RETRIES; tries++) {
			page_cache_readahead(mapping, index, 1);
			page = find_get_page(mapping, index);
		}
		if (!page) {
			*err = -ENOMEM;
			return NULL;
		}
	} else if (ra_marker(&f->f_ra, index)) {
		page_cache_async_ra(f);
	}
	lock_page(page);
	if (!PageUptodate(page) && filemap_read_page(mapping, page)) {
		unlock_page(page);
		vm_put_page(m, page);
		*err = -EIO;
		return NULL;
	}
	return page;
}

long kmm_file_read(struct kmm_task *t, struct kmm_file *f, uint64_t pos, void *buf, size_t len)
{
	int err = file_check(f, FMODE_READ, buf, len);
	if (err)
		return err;
	if (pos > KMM_FILE_MAX_BYTES)
		return -EINVAL;
	err = vm_task_enter(t);
	if (err)
		return err;
	struct kmm_address_space *mapping = f->f_mapping;
	struct kmm_machine *m = t->machine;
	uint64_t size = i_size_read(mapping->host);
	if (pos >= size || !len)
		return 0;
	len = kmm_min(len, (size_t)MAX_RW_COUNT);
	uint64_t end = kmm_min(pos + len, size);
	uint64_t prev_pos = f->f_ra.prev_pos;
	char *out = buf;
	size_t done = 0;
	err = 0;
	while (pos < end) {
		unsigned long index = (unsigned long)(pos >> PAGE_SHIFT);
		unsigned long last = (unsigned long)((end - 1) >> PAGE_SHIFT);
		struct kmm_page *page = filemap_get_read_page(f, index, last - index + 1, &err);
		if (!page)
			break;
		/* The first page is not touched again if the last read ended in it. */
		if (done || prev_pos == ~0ULL || !prev_pos ||
		    ((prev_pos - 1) >> PAGE_SHIFT) != index)
			mark_page_accessed(m, page);
		size_t off = (size_t)(pos & ~PAGE_MASK);
		size_t n = kmm_min((size_t)(PAGE_SIZE - off), (size_t)(end - pos));
		memcpy(out + done, (char *)page_address(m, page) + off, n);
		unlock_page(page);
		vm_put_page(m, page);
		pos += n;
		done += n;
	}
	f->f_ra.prev_pos = pos;
	return done ? (long)done : err;
}

/* --- Dirty limits ------------------------------------------------------------------------- */

/*
 * The background and hard dirty thresholds in pages (Linux
 * global_dirtyable_memory + domain_dirty_limits, without highmem: x86-64
 * has none, and without memcg or per-task boosts).
 */
static void dirty_limits(struct kmm_machine *m, unsigned long *bg, unsigned long *thresh)
{
	struct vm_state *vm = vm_state(m);
	unsigned long x = global_zone_page_state(m, NR_FREE_PAGES);
	x -= kmm_min(x, m->totalreserve_pages);
	x +=
	    global_node_page_state(m, NR_INACTIVE_FILE) + global_node_page_state(m, NR_ACTIVE_FILE);
	unsigned long available = x + 1;
	*thresh = (unsigned long)vm->dirty_ratio * available / 100;
	*bg = (unsigned long)vm->dirty_background_ratio * available / 100;
	if (*bg >= *thresh)
		*bg = *thresh / 2;
}

/* Linux balance_dirty_pages, with the flusher's writeback done here (see 5. above). */
static void balance_dirty_pages(struct kmm_machine *m, struct kmm_address_space *mapping)
{
	unsigned long bg, thresh;
	dirty_limits(m, &bg, &thresh);
	unsigned long dirty =
	    global_node_page_state(m, NR_FILE_DIRTY) + global_node_page_state(m, NR_WRITEBACK);
	if (dirty <= bg)
		return;
	long n = filemap_writeback_pages(mapping, kmm_max(dirty - bg, MIN_WRITEBACK_PAGES));
	while (n > 0) {
		dirty = global_node_page_state(m, NR_FILE_DIRTY) +
			global_node_page_state(m, NR_WRITEBACK);
		if (dirty <= thresh)
			break;
		n = filemap_writeback_pages(mapping, dirty - thresh);
	}
}

/* --- write(2) ----------------------------------------------------------------------------- */

/*
 * The page at @index of @mapping for a write, locked and with a reference,
 * created if missing (Linux grab_cache_page_write_begin). NULL: no memory.
 */
static struct kmm_page *grab_write_page(struct kmm_address_space *mapping, unsigned long index)
{
	struct kmm_machine *m = mapping->host->machine;
	for (;;) {
		struct kmm_page *page = find_get_page(mapping, index);
		if (page) {
			lock_page(page);
			if (page->mapping == mapping)
				return page;
			/* Reclaimed between the lookup and the lock: look again. */
			unlock_page(page);
			vm_put_page(m, page);
			continue;
		}
		page = kmm_alloc_pages(m, GFP_HIGHUSER_MOVABLE, 0);
		if (!page)
			return NULL;
		__SetPageLocked(page);
		int err = add_to_page_cache(page, mapping, index);
		if (!err)
			return page;
		__ClearPageLocked(page);
		kmm_free_pages(m, page, 0);
		if (err != -EEXIST)
			return NULL;
	}
}

long kmm_file_write(struct kmm_task *t, struct kmm_file *f, uint64_t pos, const void *buf,
		    size_t len)
{
	int err = file_check(f, FMODE_WRITE, buf, len);
	if (err)
		return err;
	if (!len)
		return 0;
	if (pos >= KMM_FILE_MAX_BYTES)
		return -EFBIG;
	err = vm_task_enter(t);
	if (err)
		return err;
	len = kmm_min(len, (size_t)MAX_RW_COUNT);
	len = (size_t)kmm_min((uint64_t)len, KMM_FILE_MAX_BYTES - pos);
	struct kmm_address_space *mapping = f->f_mapping;
	struct kmm_inode *inode = mapping->host;
	struct kmm_machine *m = t->machine;
	const char *in = buf;
	size_t done = 0;
	unsigned long dirtied = 0;

	down_write(&inode->i_rwsem);
	while (done < len) {
		if (READ_ONCE(t->oom_kill_pending)) {
			/* Linux: a fatal signal ends the write with what was written. */
			err = -EINTR;
			break;
		}
		unsigned long index = (unsigned long)(pos >> PAGE_SHIFT);
		size_t off = (size_t)(pos & ~PAGE_MASK);
		size_t n = kmm_min((size_t)(PAGE_SIZE - off), len - done);
		struct kmm_page *page = grab_write_page(mapping, index);
		if (!page) {
			err = -ENOMEM;
			break;
		}
		char *data = page_address(m, page);
		if (!PageUptodate(page) && n != PAGE_SIZE) {
			uint64_t size = i_size_read(inode);
			if ((uint64_t)index << PAGE_SHIFT >= size)
				memset(data, 0, PAGE_SIZE); /* beyond the end: nothing to read */
			else if (filemap_read_page(mapping, page)) {
				unlock_page(page);
				vm_put_page(m, page);
				err = -EIO;
				break;
			}
		}
		memcpy(data + off, in + done, n);
		SetPageUptodate(page);
		set_page_dirty(page);
		if (pos + n > i_size_read(inode))
			__atomic_store_n(&inode->i_size, pos + n, __ATOMIC_RELAXED);
		unlock_page(page);
		vm_put_page(m, page);
		pos += n;
		done += n;
		if (++dirtied % DIRTY_RATELIMIT == 0)
			balance_dirty_pages(m, mapping);
	}
	up_write(&inode->i_rwsem);
	if (dirtied % DIRTY_RATELIMIT)
		balance_dirty_pages(m, mapping);
	if (err == -EINTR && !done)
		return oom_kill_self(t);
	return done ? (long)done : err;
}
