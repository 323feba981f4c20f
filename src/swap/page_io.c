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
 * The checksum is kmm's own, shaped for vector units: 64 independent
 * 32-bit lanes (lane j takes the page's 32-bit words j, j + 64, j + 128,
 * ...), each step (lane ^ word) * odd constant then a rotation by 13; the
 * four 16-lane groups are added together (each rotated differently) and
 * the 16 sums folded into 64 bits through a multiply-xorshift, a
 * bijection. Each lane step is a bijection of the lane for a fixed word,
 * the group sum is a bijection of any one lane for the others fixed, and
 * so is every fold step: changing any single word always changes the
 * result; other corruptions collide with probability about 2^-64. Written
 * with the compiler's vector types (eight lanes to a vector, one AVX2
 * register or two SSE/NEON ones); on x86-64 the function is
 * built for AVX-512, AVX2 and the base instruction set and the loader
 * picks one (target_clones), so one binary runs everywhere. About 0.1
 * instructions a byte with AVX-512, against 0.5 for the scalar
 * four-lane version it replaces.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* Half a group: one AVX2 register, two SSE/NEON ones. */
typedef uint32_t cs_vec __attribute__((vector_size(32)));

/* Odd multipliers, one per lane of a group (any odd value is a bijection mod 2^32). */
static const cs_vec cs_mul_lo = {0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu,
				 0x165667b1u, 0xd3a2646du, 0xfd7046c5u, 0xb55a4f09u};
static const cs_vec cs_mul_hi = {0x7feb352du, 0x846ca68bu, 0xe817fb2du, 0x2c1b3c6du,
				 0x297a2d39u, 0xa136aaadu, 0x9e6c63d1u, 0xed5ad4bbu};
/* Lane seeds, so that no two lanes start alike. */
static const cs_vec cs_iota_lo = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u,
				  0xa4093822u, 0x299f31d0u, 0x082efa98u, 0xec4e6c89u};
static const cs_vec cs_iota_hi = {0x452821e6u, 0x38d01377u, 0xbe5466cfu, 0x34e90c6cu,
				  0xc0ac29b7u, 0xc97c50ddu, 0x3f84d5b5u, 0xb5470917u};

#define CS_M1 0xd6e8feb86659fd93ULL
#define CS_M2 0xa0761d6478bd642fULL

/*
 * Lane steps are macros: a function taking or returning a vector would
 * have a different calling convention in each clone.
 */
#define CS_ROT(v, r) (((v) << (r)) | ((v) >> (32 - (r))))
#define CS_STEP(lane, mul, p)                   \
	do {                                    \
		cs_vec w_;                      \
		memcpy(&w_, (p), sizeof(w_));   \
		(lane) = ((lane) ^ w_) * (mul); \
		(lane) = CS_ROT(lane, 13);      \
	} while (0)

/* Bijective: a multiplication by an odd constant, then an xorshift. */
static inline uint64_t cs_mix(uint64_t h)
{
	h *= CS_M1;
	return h ^ (h >> 29);
}

/* Fold eight lanes into @h, one 64-bit pair at a time. */
#define CS_FOLD(h, v)                                                                          \
	do {                                                                                   \
		for (int j_ = 0; j_ < 8; j_ += 2)                                              \
			(h) = cs_mix((h) ^ ((uint64_t)(v)[j_] | (uint64_t)(v)[j_ + 1] << 32)); \
	} while (0)

/*
 * The clones' resolver runs while the dynamic loader relocates, before a
 * sanitizer's runtime is up, and the sanitizers instrument it: their
 * builds take the base version only.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CS_NO_CLONES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CS_NO_CLONES 1
#endif
#endif

#define CS_CLONES
#if defined(__x86_64__) && defined(__has_attribute) && !defined(CS_NO_CLONES)
#if __has_attribute(target_clones)
#undef CS_CLONES
#define CS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif

CS_CLONES uint64_t swap_page_checksum(const void *data, swp_entry_t entry)
{
	const unsigned char *p = data;
	const size_t half = sizeof(cs_vec);
	uint32_t lo = (uint32_t)entry.val, hi = (uint32_t)(entry.val >> 32);
	/* Four groups (a, b, c, d), each two halves: eight independent multiply chains. */
	cs_vec a0 = cs_iota_lo ^ lo, a1 = cs_iota_hi ^ lo;
	cs_vec b0 = cs_iota_lo + lo, b1 = cs_iota_hi + lo;
	cs_vec c0 = cs_iota_lo ^ ~hi, c1 = cs_iota_hi ^ ~hi;
	cs_vec d0 = cs_iota_lo - hi, d1 = cs_iota_hi - hi;
	for (size_t i = 0; i < PAGE_SIZE; i += 8 * half) {
		CS_STEP(a0, cs_mul_lo, p + i);
		CS_STEP(a1, cs_mul_hi, p + i + half);
		CS_STEP(b0, cs_mul_lo, p + i + 2 * half);
		CS_STEP(b1, cs_mul_hi, p + i + 3 * half);
		CS_STEP(c0, cs_mul_lo, p + i + 4 * half);
		CS_STEP(c1, cs_mul_hi, p + i + 5 * half);
		CS_STEP(d0, cs_mul_lo, p + i + 6 * half);
		CS_STEP(d1, cs_mul_hi, p + i + 7 * half);
	}
	cs_vec v0 = a0 + CS_ROT(b0, 7) + CS_ROT(c0, 15) + CS_ROT(d0, 23);
	cs_vec v1 = a1 + CS_ROT(b1, 7) + CS_ROT(c1, 15) + CS_ROT(d1, 23);
	uint64_t h = entry.val ^ CS_M2;
	CS_FOLD(h, v0);
	CS_FOLD(h, v1);
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
	else if (!ret)
		swap_io_written(m, si, offset, 1);
	int r = swap_write_done(m, si, page, entry, sum, ret);
	put_swap_device(si);
	return r;
}

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
			if (whole && !(si->swap_flags & KMM_SWAP_SYNC))
				swap_io_written(m, si, first, (unsigned long)k);
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

/* One request to the file for @cnt pages from slot @first, counted and timed (read_ns). */
static long swap_file_read(struct swap_info *si, const struct kmm_port_iovec *iov, int cnt,
			   unsigned long first)
{
	atomic_long_inc(&si->read_ios);
	uint64_t t0 = kmm_port_now_ns();
	long n = kmm_port_preadv(si->fd, iov, cnt, (uint64_t)first * PAGE_SIZE);
	atomic_long_add((long)(kmm_port_now_ns() - t0), &si->read_ns);
	return n;
}

/* One page, one pread; the reason it failed, or NULL. */
static const char *swap_read_slot(struct swap_info *si, void *data, unsigned long offset, char *buf,
				  size_t len)
{
	struct kmm_port_iovec v = {data, PAGE_SIZE};
	long n = swap_file_read(si, &v, 1, offset);
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

int swap_read_run(struct kmm_machine *m, struct swap_info *si, struct kmm_page **pages,
		  const swp_entry_t *entries, int k, int *errs)
{
	struct kmm_port_iovec bufs[SWAP_IO_RUN];
	char buf[160];
	unsigned long first = swp_offset(entries[0]);
	int failed = 0;
	KMM_BUG_ON(k < 1 || k > SWAP_IO_RUN);
	for (int j = 0; j < k; j++) {
		bufs[j].base = page_address(m, pages[j]);
		bufs[j].len = PAGE_SIZE;
	}
	long done = swap_file_read(si, bufs, k, first);
	for (int j = 0; j < k; j++) {
		const char *why = NULL;
		/* A run that fell short is read again page by page, to name the failures. */
		if (done != (long)k * (long)PAGE_SIZE)
			why = swap_read_slot(si, page_address(m, pages[j]),
					     first + (unsigned long)j, buf, sizeof(buf));
		int err = swap_read_done(m, si, pages[j], entries[j], why);
		if (errs)
			errs[j] = err;
		failed += err != 0;
	}
	return failed;
}

/*
 * The runs of @pages: neighbouring slots of one area, each cut at a page
 * whose read fails before it starts (swap_read_precheck). Without @submit
 * each run is read here and @errs filled (swap_readpages); with @submit
 * each run goes to the swap I/O thread when it runs (swap_io_queue), or is
 * read here, and every page is unlocked once its outcome is recorded.
 */
static int swap_read_runs(struct kmm_machine *m, struct kmm_page **pages,
			  const swp_entry_t *entries, int n, int *errs, bool submit)
{
	struct swap_state *ss = swap_state(m);
	int failed = 0, one;
	for (int i = 0; i < n;) {
		struct swap_info *si = get_swap_device(m, entries[i]);
		if (!si) {
			ClearPageUptodate(pages[i]);
			SetPageError(pages[i]);
			failed++;
			if (errs)
				errs[i] = -EIO;
			if (submit)
				unlock_page_io(pages[i]);
			i++;
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
			k++;
		}
		if (k && !(submit && swap_io_queue(m, si, pages + i, entries + i, k))) {
			failed +=
			    swap_read_run(m, si, pages + i, entries + i, k, errs ? errs + i : NULL);
			for (int j = 0; submit && j < k; j++)
				unlock_page_io(pages[i + j]);
		}
		i += k;
		if (why) {
			one = swap_read_done(m, si, pages[i], entries[i], why);
			failed++;
			if (errs)
				errs[i] = one;
			if (submit)
				unlock_page_io(pages[i]);
			i++;
		}
		put_swap_device(si);
	}
	return failed;
}

int swap_readpage(struct kmm_machine *m, struct kmm_page *page, swp_entry_t entry)
{
	int err = 0;
	swap_read_runs(m, &page, &entry, 1, &err, false);
	return err;
}

int swap_readpages(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		   int n, int *errs)
{
	return swap_read_runs(m, pages, entries, n, errs, false);
}

void swap_read_submit(struct kmm_machine *m, struct kmm_page **pages, const swp_entry_t *entries,
		      int n)
{
	swap_read_runs(m, pages, entries, n, NULL, true);
}
