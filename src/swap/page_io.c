/*
 * Swap I/O: writing a page's bytes to its slot in the swap file and
 * reading them back, with a checksum per slot so that nothing comes back
 * wrong without being noticed.
 *
 * Linux: mm/page_io.c (swap_writepage, __swap_writepage,
 * end_swap_bio_write, swap_readpage, end_swap_bio_read). Linux submits a
 * bio and finishes in the completion handler; kmm's I/O is a synchronous
 * pread/pwrite of one page at slot * 4096 in the file, through port/.
 *
 * Batching: swap_writepages and swap_readpages turn each run of
 * neighbouring slots into one pwritev/preadv of up to 64 pages, as the
 * block layer merges adjacent bios under a plug. Reclaim reaches
 * swap_writepages through the write plug (swap_writepage_plugged, then
 * swap_write_unplug after its batch: Linux 6.1's swap_iocb and
 * swap_write_unplug); each page still gets its own result, checksum and
 * error handling, and an injected failure is decided page by page in the
 * order the pages were queued, so batching changes no outcome.
 *
 * No data lost:
 * - Every successful write records a 64-bit checksum of the page's bytes
 *   (seeded with the swap entry, so a page read from the wrong slot does not
 *   match either), kept in memory beside swap_map. A read recomputes it; a
 *   mismatch (the file changed behind kmm's back) is -EIO, never wrong data.
 * - A failed write (an I/O error, a full disk, a short write; real or
 *   injected through the fault attribute) returns the error, leaves the page
 *   dirty (PG_dirty, PG_error), forgets the slot's checksum, and is counted:
 *   the caller keeps the page mapped and in memory, as Linux's
 *   end_swap_bio_write redirties the page.
 * - A failed read returns -EIO with a message naming the area, the slot and
 *   the entry; the page is not uptodate and must not be mapped (vm/ turns
 *   this into SIGBUS for the faulting task only).
 *
 * The checksum is kmm's own: four independent lanes over the page's 64-bit
 * words, each lane (lane ^ word) * odd constant then a rotation by 29,
 * combined and finished with a multiply-xorshift: four instructions a word. Each step is a bijection of the
 * lane for a fixed word, so changing any single word always changes the
 * result; other corruptions collide with probability about 2^-64.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define CS_K0 0x9b05688c2b3e6c1fULL
#define CS_K1 0xd6e8feb86659fd93ULL
#define CS_K2 0xa0761d6478bd642fULL
#define CS_K3 0xe7037ed1a0b428dbULL

static inline uint64_t cs_rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/*
 * One word into a lane: xor, multiply by an odd constant, rotate. Each is
 * a bijection of the lane for a fixed word; the rotation brings the high
 * bits of the product (which depend on every bit below them) down where
 * the next multiplication spreads them, so two changes to the same lane
 * do not cancel (without it, flipping bit 63 of two words of a lane would).
 */
static inline uint64_t cs_lane(uint64_t lane, const unsigned char *p, uint64_t k)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return cs_rotl((lane ^ w) * k, 29);
}

uint64_t swap_page_checksum(const void *data, swp_entry_t entry)
{
	const unsigned char *p = data;
	uint64_t a = entry.val ^ CS_K0, b = entry.val + CS_K1, c = ~entry.val, d = CS_K3;
	/* 64 bytes a turn: four independent multiply chains, two steps each. */
	for (size_t i = 0; i < PAGE_SIZE; i += 64) {
		a = cs_lane(a, p + i, CS_K0);
		b = cs_lane(b, p + i + 8, CS_K1);
		c = cs_lane(c, p + i + 16, CS_K2);
		d = cs_lane(d, p + i + 24, CS_K3);
		a = cs_lane(a, p + i + 32, CS_K0);
		b = cs_lane(b, p + i + 40, CS_K1);
		c = cs_lane(c, p + i + 48, CS_K2);
		d = cs_lane(d, p + i + 56, CS_K3);
	}
	uint64_t h = a + cs_rotl(b, 17) + cs_rotl(c, 31) + cs_rotl(d, 47);
	h = (h ^ (h >> 32)) * CS_K2;
	h = (h ^ (h >> 29)) * CS_K1;
	h ^= h >> 32;
	return h ? h : 1; /* 0 means "never written" */
}

/* Report the first errors of an area and then every thousandth (Linux's are ratelimited). */
static bool swap_error_report_due(long nr)
{
	return nr <= 10 || nr % 1000 == 0;
}

/* --- Writing ---------------------------------------------------------------------------------- */

/* What an injected write failure does; 0 when none is due. Called once per page written. */
static long swap_write_fault(struct swap_state *ss, struct swap_info *si, const void *data,
			     unsigned long offset)
{
	if (!kmm_should_fail(&ss->fail_write, PAGE_SIZE))
		return 0;
	switch (READ_ONCE(ss->write_fault)) {
	case KMM_SWAP_FAULT_ENOSPC:
		return -ENOSPC;
	case KMM_SWAP_FAULT_SHORT:
		/* Half the page reaches the file: what is on disk is now neither copy. */
		atomic_long_inc(&si->write_ios);
		kmm_port_pwrite(si->fd, data, PAGE_SIZE / 2, (uint64_t)offset * PAGE_SIZE);
		return -EIO;
	default:
		return -EIO;
	}
}

/* One page, one pwrite: 0 or -errno (a short write is -EIO). */
static long swap_write_slot(struct swap_info *si, const void *data, unsigned long offset)
{
	atomic_long_inc(&si->write_ios);
	long n = kmm_port_pwrite(si->fd, data, PAGE_SIZE, (uint64_t)offset * PAGE_SIZE);
	if (n >= 0 && n < (long)PAGE_SIZE)
		return -EIO; /* the slot holds part of the page */
	return n < 0 ? n : 0;
}

/* Record the outcome of writing @page to @entry's slot. */
static int swap_write_done(struct kmm_machine *m, struct swap_info *si, struct kmm_page *page,
			   swp_entry_t entry, uint64_t sum, long ret)
{
	unsigned long offset = swp_offset(entry);
	if (ret) {
		WRITE_ONCE(si->csum[offset], 0);
		long nr = atomic_long_add_return(1, &si->write_errors);
		SetPageDirty(page);
		SetPageError(page);
		ClearPageReclaim(page);
		if (swap_error_report_due(nr))
			kmm_printk(m,
				   "Write-error on swap-device (%s, slot %lu, entry %#lx): %s; "
				   "page kept in memory (%ld write errors)",
				   si->path, offset, entry.val, kmm_port_strerror((int)-ret), nr);
	} else {
		WRITE_ONCE(si->csum[offset], sum);
		atomic_long_inc(&si->writes);
		count_vm_event(m, PSWPOUT);
	}
	ClearPageWriteback(page);
	return (int)ret;
}

int swap_writepage(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry)
{
	struct swap_info *si = get_swap_device(m, entry);
	if (!si)
		return -EINVAL;
	unsigned long offset = swp_offset(entry);
	const void *data = page_address(m, page);
	uint64_t sum = swap_page_checksum(data, entry);
	SetPageWriteback(page);
	long ret = swap_write_fault(swap_state(m), si, data, offset);
	if (!ret)
		ret = swap_write_slot(si, data, offset);
	if (!ret && (si->swap_flags & KMM_SWAP_SYNC))
		ret = kmm_port_fsync(si->fd);
	int r = swap_write_done(m, si, page, entry, sum, ret);
	put_swap_device(si);
	return r;
}

/* Pages per merged write or read: 256 KiB, a typical block-layer request limit. */
#define SWAP_IO_RUN 64

int swap_writepages(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		    int n, int *errs)
{
	struct swap_state *ss = swap_state(m);
	struct kmm_port_iovec bufs[SWAP_IO_RUN];
	uint64_t sums[SWAP_IO_RUN];
	int failed = 0;
	for (int i = 0; i < n;) {
		struct swap_info *si = get_swap_device(m, entries[i]);
		if (!si) {
			errs[i++] = -EINVAL;
			failed++;
			continue;
		}
		/* The run: neighbouring slots of one area, up to the first injected failure. */
		unsigned long first = swp_offset(entries[i]);
		long injected = 0;
		int k = 0;
		while (i + k < n && k < SWAP_IO_RUN &&
		       swp_type(entries[i + k]) == swp_type(entries[i]) &&
		       swp_offset(entries[i + k]) == first + (unsigned long)k) {
			bufs[k].base = page_address(m, pages[i + k]);
			bufs[k].len = PAGE_SIZE;
			injected = swap_write_fault(ss, si, bufs[k].base, first + (unsigned long)k);
			if (injected)
				break;
			sums[k] = swap_page_checksum(bufs[k].base, entries[i + k]);
			SetPageWriteback(pages[i + k]);
			k++;
		}
		if (k) {
			atomic_long_inc(&si->write_ios);
			long done = kmm_port_pwritev(si->fd, bufs, k, (uint64_t)first * PAGE_SIZE);
			bool whole = done == (long)k * (long)PAGE_SIZE;
			/* One flush for the run: a failed flush fails every page of it. */
			long sync =
			    whole && (si->swap_flags & KMM_SWAP_SYNC) ? kmm_port_fsync(si->fd) : 0;
			for (int j = 0; j < k; j++) {
				/* A run that fell short is finished page by page, to name the failures. */
				long ret = whole ? sync
						 : swap_write_slot(si, bufs[j].base,
								   first + (unsigned long)j);
				if (!whole && !ret && (si->swap_flags & KMM_SWAP_SYNC))
					ret = kmm_port_fsync(si->fd);
				errs[i + j] = swap_write_done(m, si, pages[i + j], entries[i + j],
							      sums[j], ret);
				failed += errs[i + j] != 0;
			}
			i += k;
		}
		if (injected) {
			SetPageWriteback(pages[i]);
			errs[i] = swap_write_done(m, si, pages[i], entries[i], 0, injected);
			failed++;
			i++;
		}
		put_swap_device(si);
	}
	return failed;
}

bool swap_writepage_plugged(struct swap_plug *plug, struct kmm_page *page, swp_entry_t entry)
{
	if (plug->nr == SWAP_PLUG_MAX)
		return false;
	plug->pages[plug->nr] = page;
	plug->entries[plug->nr] = entry;
	plug->errs[plug->nr] = 0;
	plug->nr++;
	return true;
}

int swap_write_unplug(struct kmm_machine *m, struct swap_plug *plug)
{
	if (!plug->nr)
		return 0;
	return swap_writepages(m, plug->pages, plug->entries, plug->nr, plug->errs);
}

/* --- Reading ---------------------------------------------------------------------------------- */

/*
 * Check a page just read from @entry's slot (or why it could not be read)
 * and record the outcome: 0, or -EIO with the message in the log.
 */
static int swap_read_done(struct kmm_machine *m, struct swap_info *si, struct kmm_page *page,
			  swp_entry_t entry, const char *why)
{
	unsigned long offset = swp_offset(entry);
	uint64_t expected = READ_ONCE(si->csum[offset]), found;
	char whybuf[160];
	if (!why && (found = swap_page_checksum(page_address(m, page), entry)) != expected) {
		atomic_long_inc(&si->csum_errors);
		kmm_port_snprintf(whybuf, sizeof(whybuf),
				  "checksum mismatch (wrote %016llx, read %016llx): the file "
				  "changed behind kmm's back",
				  (unsigned long long)expected, (unsigned long long)found);
		why = whybuf;
	}
	if (why) {
		long nr = atomic_long_add_return(1, &si->read_errors);
		ClearPageUptodate(page);
		SetPageError(page);
		if (swap_error_report_due(nr))
			kmm_printk(m, "Read-error on swap-device (%s, slot %lu, entry %#lx): %s",
				   si->path, offset, entry.val, why);
		return -EIO;
	}
	SetPageUptodate(page);
	ClearPageError(page);
	atomic_long_inc(&si->reads);
	count_vm_event(m, PSWPIN);
	return 0;
}

/* Why @entry cannot be read before trying: an injected error or a slot never written. */
static const char *swap_read_precheck(struct swap_state *ss, struct swap_info *si,
				      swp_entry_t entry)
{
	if (kmm_should_fail(&ss->fail_read, PAGE_SIZE))
		return "I/O error (injected)";
	if (!READ_ONCE(si->csum[swp_offset(entry)]))
		return "the slot was never written (or its write failed)";
	return NULL;
}

/* One page, one pread; the reason it failed, or NULL. */
static const char *swap_read_slot(struct swap_info *si, void *data, unsigned long offset, char *buf,
				  size_t len)
{
	atomic_long_inc(&si->read_ios);
	long n = kmm_port_pread(si->fd, data, PAGE_SIZE, (uint64_t)offset * PAGE_SIZE);
	if (n < 0) {
		kmm_port_snprintf(buf, len, "%s", kmm_port_strerror((int)-n));
		return buf;
	}
	if (n < (long)PAGE_SIZE) {
		kmm_port_snprintf(buf, len, "short read of %ld bytes (the file was truncated?)", n);
		return buf;
	}
	return NULL;
}

int swap_readpage(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry)
{
	struct swap_info *si = get_swap_device(m, entry);
	char buf[160];
	if (!si) {
		ClearPageUptodate(page);
		return -EIO;
	}
	const char *why = swap_read_precheck(swap_state(m), si, entry);
	if (!why)
		why =
		    swap_read_slot(si, page_address(m, page), swp_offset(entry), buf, sizeof(buf));
	int ret = swap_read_done(m, si, page, entry, why);
	put_swap_device(si);
	return ret;
}

int swap_readpages(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		   int n, int *errs)
{
	struct swap_state *ss = swap_state(m);
	struct kmm_port_iovec bufs[SWAP_IO_RUN];
	char buf[160];
	int failed = 0;
	for (int i = 0; i < n;) {
		struct swap_info *si = get_swap_device(m, entries[i]);
		if (!si) {
			ClearPageUptodate(pages[i]);
			errs[i++] = -EIO;
			failed++;
			continue;
		}
		unsigned long first = swp_offset(entries[i]);
		const char *why = NULL;
		int k = 0;
		while (i + k < n && k < SWAP_IO_RUN &&
		       swp_type(entries[i + k]) == swp_type(entries[i]) &&
		       swp_offset(entries[i + k]) == first + (unsigned long)k) {
			why = swap_read_precheck(ss, si, entries[i + k]);
			if (why)
				break;
			bufs[k].base = page_address(m, pages[i + k]);
			bufs[k].len = PAGE_SIZE;
			k++;
		}
		if (k) {
			atomic_long_inc(&si->read_ios);
			long done = kmm_port_preadv(si->fd, bufs, k, (uint64_t)first * PAGE_SIZE);
			for (int j = 0; j < k; j++) {
				const char *w = NULL;
				if (done != (long)k * (long)PAGE_SIZE)
					w = swap_read_slot(si, bufs[j].base,
							   first + (unsigned long)j, buf,
							   sizeof(buf));
				errs[i + j] =
				    swap_read_done(m, si, pages[i + j], entries[i + j], w);
				failed += errs[i + j] != 0;
			}
			i += k;
		}
		if (why) {
			errs[i] = swap_read_done(m, si, pages[i], entries[i], why);
			failed++;
			i++;
		}
		put_swap_device(si);
	}
	return failed;
}
