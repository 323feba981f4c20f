/*
 * The swap device's request queue: reads handed to a host I/O thread, as
 * a disk takes requests while the CPU goes on; and the disk's write of
 * what reclaim wrote, started behind it.
 *
 * Linux: the block layer under mm/page_io.c (swap_readpage submits a bio;
 * end_swap_bio_read, in the completion, marks the page uptodate or not and
 * unlocks it) and mm/memory.c do_swap_page (the fault waits for its own
 * page only, folio_lock). kmm without the thread reads in place, so the
 * faulting CPU copies every page of the window before it goes on; with it
 * the fault waits for its own request and the readahead that follows is
 * read while the fault maps its page. KMM_SWAP_IO_READAHEAD_NEXT (the
 * next-window readahead in swap_state.c) keeps a whole window in flight.
 *
 * Theory of operation:
 *  1. swap_read_submit (page_io.c) cuts the pages into runs of
 *     neighbouring slots and queues each run here: one request, up to
 *     SWAP_IO_RUN pages, each locked in the swap cache. A full queue, or
 *     no thread, means the caller reads the run itself: nothing waits for
 *     room.
 *  2. The thread takes the oldest request, merges the requests queued
 *     behind it that continue it in the same area (the block layer's back
 *     merge), reads them with one preadv (swap_read_run: checksum,
 *     PG_uptodate or PG_error, the counters) and unlocks the pages with
 *     release order, so whoever locks a page next sees its bytes.
 *  3. A fault that waits for a page does not spin while requests wait in
 *     the queue (swap_io_help): it takes the one that holds its page, or
 *     else the oldest, and reads it itself. So the thread never makes a
 *     fault slower than reading in place, and a stream whose faults catch
 *     up with the thread has two readers, the thread and the fault.
 *  4. Idle, the thread polls the queue for SWAP_IO_POLL_NS before it
 *     sleeps: in a stream of faults the next request comes within a few
 *     microseconds, and waking a sleeping thread costs more than that.
 *  5. Writes stay synchronous copies into the host's page cache (the
 *     outcome of each page is known when pageout returns), but the disk's
 *     part need not wait for the host's write-back or an fsync: after
 *     each write (swap_io_written) the slots join a range, and the thread
 *     starts the write-back of a range (sync_file_range's
 *     SYNC_FILE_RANGE_WRITE, through port/) once it has SWAP_IO_FLUSH_MIN
 *     slots or another range follows it, after any waiting read. So the
 *     disk writes while reclaim goes on, as Linux's swap_writepage submits
 *     its bio at once; a swap-out followed by an fsync takes about
 *     max(CPU, disk) instead of their sum. Ranges are hints: a full ring
 *     drops one, the stop drops the small ones, nothing waits for them.
 *  6. Lifetime: a queued page is locked and its slot is in use, so
 *     swapoff cannot finish the area under a request (try_to_unuse waits
 *     for the page lock; its sweep of unused cache pages drains the queue
 *     first, swap_io_drain). The thread touches no area after unlocking the
 *     last page of a request. A write-back range holds nothing: swapoff,
 *     once no user of the area is left, drops its ranges and waits for the
 *     one being started (swap_io_forget) before it closes the file.
 *
 * The thread is no simulated CPU: it allocates nothing and frees nothing;
 * its event counts (pswpin) go to the machine's CPU-less counters.
 *
 * Locks: the wait queue's mutex guards the rings, the flags and the
 * sleeping flag; nothing else is taken under it.
 */
#include "internal.h"
#include <errno.h>

#define SWAP_IO_QUEUE	  64	   /* requests in flight at most */
#define SWAP_IO_POLL_NS	  50000ull /* how long the idle thread polls before it sleeps */
#define SWAP_IO_FLUSHES	  8	   /* write-back ranges waiting at most */
#define SWAP_IO_FLUSH_MIN 256	   /* slots: write-back starts a MiB at a time */

struct swap_io_req {
	struct swap_info *si;
	int nr;
	struct kmm_page *pages[SWAP_IO_RUN];
	swp_entry_t entries[SWAP_IO_RUN];
};

/* Slots [lo, hi) of @si, written to the host's page cache, whose write-back is to start. */
struct swap_io_flush {
	struct swap_info *si;
	unsigned long lo, hi;
};

struct swap_io {
	struct kmm_machine *m;
	struct kmm_port_waitq wait;
	kmm_port_thread *thread;
	unsigned int flags;
	bool running;  /* taking requests */
	bool stop;     /* the thread is to finish the queue and leave */
	bool sleeping; /* the thread waits on @wait */
	/* The ring: written under the lock, read by the polling thread without it. */
	unsigned long head, tail;
	/* Pages queued and pages completed, for swap_io_drain. */
	unsigned long queued, completed;
	struct swap_io_req ring[SWAP_IO_QUEUE];
	struct swap_io_req work; /* the thread's request being read (merged) */
	/* Write-back to start, oldest first; the newest may still grow. */
	unsigned long fhead, ftail;
	struct swap_io_flush flush[SWAP_IO_FLUSHES];
	bool flush_ready;	    /* the oldest range is ready: read by the polling thread */
	struct swap_info *flushing; /* the area whose write-back the thread is starting */
};

static bool swap_io_empty(struct swap_io *io)
{
	return __atomic_load_n(&io->head, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&io->tail, __ATOMIC_ACQUIRE);
}

/*
 * Take the oldest request and the ones that continue it into @io->work
 * (called with the lock); false if every queued request was stolen.
 */
static bool swap_io_take(struct swap_io *io)
{
	struct swap_io_req *w = &io->work;
	unsigned long head = io->head;
	while (head != io->tail && !io->ring[head % SWAP_IO_QUEUE].nr)
		head++; /* taken by a waiter (swap_io_help) */
	if (head == io->tail) {
		__atomic_store_n(&io->head, head, __ATOMIC_RELEASE);
		return false;
	}
	*w = io->ring[head % SWAP_IO_QUEUE];
	head++;
	while (head != io->tail) {
		struct swap_io_req *next = &io->ring[head % SWAP_IO_QUEUE];
		swp_entry_t last = w->entries[w->nr - 1];
		if (!next->nr || next->si != w->si || w->nr + next->nr > SWAP_IO_RUN ||
		    swp_offset(next->entries[0]) != swp_offset(last) + 1)
			break;
		for (int i = 0; i < next->nr; i++) {
			w->pages[w->nr + i] = next->pages[i];
			w->entries[w->nr + i] = next->entries[i];
		}
		w->nr += next->nr;
		head++;
	}
	__atomic_store_n(&io->head, head, __ATOMIC_RELEASE);
	return true;
}

/* Read the request @r and unlock its pages (its slots keep its area alive until then). */
static void swap_io_do(struct swap_io *io, struct swap_io_req *r)
{
	swap_read_run(io->m, r->si, r->pages, r->entries, r->nr, NULL);
	for (int i = 0; i < r->nr; i++)
		unlock_page_io(r->pages[i]);
	__atomic_fetch_add(&io->completed, (unsigned long)r->nr, __ATOMIC_RELEASE);
}

/*
 * Is the oldest write-back range ready to start (called with the lock)?
 * The newest may still grow, so it waits for SWAP_IO_FLUSH_MIN slots.
 */
static bool swap_io_flush_ready(const struct swap_io *io)
{
	if (io->fhead == io->ftail)
		return false;
	const struct swap_io_flush *f = &io->flush[io->fhead % SWAP_IO_FLUSHES];
	return io->ftail - io->fhead > 1 || f->hi - f->lo >= SWAP_IO_FLUSH_MIN;
}

/*
 * Start the write-back of the oldest range (called with the lock, which it
 * drops meanwhile). Its result is not waited for and an error is not
 * kept: the bytes are in the host's page cache and their checksums in
 * memory, so a disk that fails them is found when they are read back.
 */
static void swap_io_flush_one(struct swap_io *io)
{
	struct swap_io_flush f = io->flush[io->fhead % SWAP_IO_FLUSHES];
	io->fhead++;
	__atomic_store_n(&io->flush_ready, swap_io_flush_ready(io), __ATOMIC_RELAXED);
	io->flushing = f.si; /* swapoff does not close the file under it (swap_io_forget) */
	kmm_port_waitq_unlock(&io->wait);
	if (!kmm_port_start_writeback(f.si->fd, (uint64_t)f.lo * PAGE_SIZE,
				      (uint64_t)(f.hi - f.lo) * PAGE_SIZE))
		atomic_long_add((long)(f.hi - f.lo), &f.si->writeback_started);
	kmm_port_waitq_lock(&io->wait);
	io->flushing = NULL;
}

/* Poll for a request, a write-back or the stop for SWAP_IO_POLL_NS; true if one came. */
static bool swap_io_poll(struct swap_io *io)
{
	uint64_t until = kmm_port_now_ns() + SWAP_IO_POLL_NS;
	for (unsigned int i = 1;; i++) {
		if (!swap_io_empty(io) || __atomic_load_n(&io->flush_ready, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&io->stop, __ATOMIC_ACQUIRE))
			return true;
		kmm_port_cpu_relax();
		if (!(i & 63) && kmm_port_now_ns() > until)
			return false;
	}
}

static void *swap_io_thread(void *arg)
{
	struct swap_io *io = arg;
	kmm_port_waitq_lock(&io->wait);
	for (;;) {
		if (io->head != io->tail) {
			/* Reads first: a fault waits for them; nobody waits for a write-back. */
			if (swap_io_take(io)) {
				kmm_port_waitq_unlock(&io->wait);
				swap_io_do(io, &io->work);
				kmm_port_waitq_lock(&io->wait);
			}
			continue;
		}
		if (io->flush_ready) {
			swap_io_flush_one(io);
			continue;
		}
		if (io->stop)
			break;
		kmm_port_waitq_unlock(&io->wait);
		bool came = swap_io_poll(io);
		kmm_port_waitq_lock(&io->wait);
		if (!came && io->head == io->tail && !io->flush_ready && !io->stop) {
			io->sleeping = true;
			kmm_port_waitq_wait(&io->wait, 0);
			io->sleeping = false;
		}
	}
	/* The ranges too small to start yet are left to the host, as without the thread. */
	io->fhead = io->ftail;
	kmm_port_waitq_unlock(&io->wait);
	return NULL;
}

bool swap_io_queue(struct kmm_machine *m, struct swap_info *si, struct kmm_page **pages,
		   const swp_entry_t *entries, int k)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	if (!io)
		return false;
	kmm_port_waitq_lock(&io->wait);
	if (!io->running || io->tail - io->head == SWAP_IO_QUEUE) {
		kmm_port_waitq_unlock(&io->wait);
		return false;
	}
	struct swap_io_req *r = &io->ring[io->tail % SWAP_IO_QUEUE];
	r->si = si;
	r->nr = k;
	for (int i = 0; i < k; i++) {
		r->pages[i] = pages[i];
		r->entries[i] = entries[i];
	}
	__atomic_fetch_add(&io->queued, (unsigned long)k, __ATOMIC_RELAXED);
	__atomic_store_n(&io->tail, io->tail + 1, __ATOMIC_RELEASE);
	if (io->sleeping)
		kmm_port_waitq_wake_all(&io->wait);
	kmm_port_waitq_unlock(&io->wait);
	return true;
}

void swap_io_written(struct kmm_machine *m, struct swap_info *si, unsigned long first,
		     unsigned long nr)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	if (!io || !__atomic_load_n(&io->running, __ATOMIC_RELAXED))
		return;
	kmm_port_waitq_lock(&io->wait);
	struct swap_io_flush *last = &io->flush[(io->ftail - 1) % SWAP_IO_FLUSHES];
	if (io->running) {
		if (io->ftail != io->fhead && last->si == si && last->hi == first)
			last->hi += nr;
		else if (io->ftail - io->fhead < SWAP_IO_FLUSHES)
			io->flush[io->ftail++ % SWAP_IO_FLUSHES] =
			    (struct swap_io_flush){si, first, first + nr};
		/* else every range is taken: this one's write-back is the host's to start */
	}
	bool ready = swap_io_flush_ready(io);
	__atomic_store_n(&io->flush_ready, ready, __ATOMIC_RELAXED);
	if (ready && io->sleeping)
		kmm_port_waitq_wake_all(&io->wait);
	kmm_port_waitq_unlock(&io->wait);
}

void swap_io_forget(struct kmm_machine *m, struct swap_info *si)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	if (!io)
		return;
	kmm_port_waitq_lock(&io->wait);
	unsigned long keep = io->fhead;
	for (unsigned long i = io->fhead; i != io->ftail; i++) {
		struct swap_io_flush f = io->flush[i % SWAP_IO_FLUSHES];
		if (f.si != si)
			io->flush[keep++ % SWAP_IO_FLUSHES] = f;
	}
	io->ftail = keep;
	__atomic_store_n(&io->flush_ready, swap_io_flush_ready(io), __ATOMIC_RELAXED);
	while (io->flushing == si) {
		kmm_port_waitq_unlock(&io->wait);
		kmm_port_yield();
		kmm_port_waitq_lock(&io->wait);
	}
	kmm_port_waitq_unlock(&io->wait);
}

int swap_io_help(struct kmm_machine *m, struct kmm_page *page)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	struct swap_io_req r, *oldest = NULL;
	if (!io || swap_io_empty(io))
		return -1;
	kmm_port_waitq_lock(&io->wait);
	for (unsigned long i = io->head; i != io->tail; i++) {
		struct swap_io_req *q = &io->ring[i % SWAP_IO_QUEUE];
		if (q->nr && !oldest)
			oldest = q;
		for (int k = 0; k < q->nr; k++)
			if (q->pages[k] == page) {
				oldest = q;
				goto found;
			}
	}
	if (!oldest) {
		kmm_port_waitq_unlock(&io->wait);
		return -1;
	}
found:
	r = *oldest;
	oldest->nr = 0; /* the thread skips it */
	kmm_port_waitq_unlock(&io->wait);
	swap_io_do(io, &r);
	for (int k = 0; k < r.nr; k++)
		if (r.pages[k] == page)
			return 1;
	return 0;
}

void swap_io_drain(struct kmm_machine *m)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	if (!io)
		return;
	kmm_port_waitq_lock(&io->wait);
	unsigned long queued = __atomic_load_n(&io->queued, __ATOMIC_RELAXED);
	kmm_port_waitq_unlock(&io->wait);
	while (__atomic_load_n(&io->completed, __ATOMIC_ACQUIRE) < queued)
		kmm_port_yield();
}

bool swap_io_readahead_next(struct kmm_machine *m)
{
	struct swap_io *io = __atomic_load_n(&swap_state(m)->io, __ATOMIC_ACQUIRE);
	return io && (__atomic_load_n(&io->flags, __ATOMIC_RELAXED) & KMM_SWAP_IO_READAHEAD_NEXT) &&
	       __atomic_load_n(&io->running, __ATOMIC_RELAXED);
}

int kmm_swap_io_start(struct kmm_machine *m, unsigned int flags)
{
	struct swap_state *ss = swap_state(m);
	if (!ss || (flags & ~(unsigned int)KMM_SWAP_IO_READAHEAD_NEXT))
		return -EINVAL;
	struct swap_io *io = ss->io;
	if (!io) {
		io = kmm_port_alloc(sizeof(*io));
		if (!io)
			return -ENOMEM;
		io->m = m;
		kmm_port_waitq_init(&io->wait);
		__atomic_store_n(&ss->io, io, __ATOMIC_RELEASE);
	}
	kmm_port_waitq_lock(&io->wait);
	if (io->running) {
		kmm_port_waitq_unlock(&io->wait);
		return -EALREADY;
	}
	io->stop = false;
	__atomic_store_n(&io->flags, flags, __ATOMIC_RELAXED);
	kmm_port_waitq_unlock(&io->wait);
	int err = kmm_port_thread_create(&io->thread, swap_io_thread, io);
	if (err)
		return err;
	kmm_port_waitq_lock(&io->wait);
	__atomic_store_n(&io->running, true, __ATOMIC_RELAXED);
	kmm_port_waitq_unlock(&io->wait);
	return 0;
}

void kmm_swap_io_stop(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	struct swap_io *io = ss ? ss->io : NULL;
	if (!io)
		return;
	kmm_port_waitq_lock(&io->wait);
	if (!io->running) {
		kmm_port_waitq_unlock(&io->wait);
		return;
	}
	/* No new requests; the thread finishes the queued ones before it leaves. */
	__atomic_store_n(&io->running, false, __ATOMIC_RELAXED);
	__atomic_store_n(&io->stop, true, __ATOMIC_RELEASE);
	kmm_port_waitq_wake_all(&io->wait);
	kmm_port_waitq_unlock(&io->wait);
	kmm_port_thread_join(io->thread);
	io->thread = NULL;
	/* No trigger is left for a window nobody would read ahead any more. */
	for (int i = 0; i < SWAP_RA_STREAMS; i++)
		__atomic_store_n(&ss->ra_trigger[i], 0, __ATOMIC_RELAXED);
}

void swap_io_destroy(struct kmm_machine *m)
{
	struct swap_state *ss = swap_state(m);
	if (!ss->io)
		return;
	kmm_swap_io_stop(m);
	kmm_port_waitq_destroy(&ss->io->wait);
	kmm_port_free(ss->io, sizeof(*ss->io));
	ss->io = NULL;
}
