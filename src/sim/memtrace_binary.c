/*
 * kmm's binary memory-access trace format: decoder and encoder.
 *
 * Linux counterpart: none (the nearest are perf's mem records and the
 * packed formats of trace compressors such as those in Dinero and
 * ChampSim, which this resembles in spirit: one header byte per record,
 * addresses as deltas from a prediction).
 *
 * Format, version 1 (docs/traces.md has the full description):
 *   header  16 bytes: magic "\x89KMMTRC\n", u16 version (1), u16 header
 *           length (16), u32 flags (0); all little-endian.
 *   record  one byte h: kind = h & 3 (0 I, 1 L, 2 S, 3 M), size code
 *           c = h >> 2: c in 1..62 is the size; c == 63: a varint size
 *           follows; c == 0 is only valid as h == 0x00, the end marker.
 *           Then the address as a zigzag varint delta from a prediction:
 *           for I, the end of the previous I (addr + size: straight-line
 *           code predicts exactly, delta 0); for L, S and M, the address
 *           of the previous data access. Predictions start at 0.
 *   end     0x00, then the record count as u64: a reader knows a trace
 *           that was cut short from one that ended.
 * Varints are LEB128: 7 bits per byte, low first, high bit "more".
 *
 * Speed: the decoder's loop runs while at least MEMTRACE_MAX_RECORD bytes
 * are left, so it checks the bounds once per record, not per byte; the
 * last few records go through the same code with a bounds check per byte.
 * A typical record (lackey of a real program) is 2 bytes, decoded in a
 * few nanoseconds.
 */
#include "memtrace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

int memtrace_binary_open(struct kmm_memtrace_reader *r, struct kmm_error *err)
{
	if (r->len < MEMTRACE_HEADER_LEN || memcmp(r->data, MEMTRACE_MAGIC, MEMTRACE_MAGIC_LEN))
		return memtrace_fail(
		    r, err,
		    "%s: not a kmm binary trace (expected the 16-byte header "
		    "starting \\x89KMMTRC, found %s)",
		    r->name, r->len < MEMTRACE_HEADER_LEN ? "a shorter file" : "other bytes");
	unsigned int version = (unsigned int)get_le(r->data + 8, 2);
	unsigned int hlen = (unsigned int)get_le(r->data + 10, 2);
	uint32_t flags = (uint32_t)get_le(r->data + 12, 4);
	if (version != MEMTRACE_VERSION)
		return memtrace_fail(r, err,
				     "%s: byte 8: expected format version 1, found %u (a newer kmm "
				     "wrote it?)",
				     r->name, version);
	if (hlen < MEMTRACE_HEADER_LEN || hlen > r->len)
		return memtrace_fail(r, err,
				     "%s: byte 10: expected a header length from 16 to the file's "
				     "size, found %u",
				     r->name, hlen);
	if (flags)
		return memtrace_fail(r, err, "%s: byte 12: expected flags 0, found %#x", r->name,
				     flags);
	r->pos = hlen;
	return 0;
}

static int bad(struct kmm_memtrace_reader *r, struct kmm_error *err, size_t at, const char *what)
{
	return memtrace_fail(r, err, "%s: byte %zu (record %llu): %s", r->name, at,
			     (unsigned long long)r->count, what);
}

/* A varint at p, with @end the first byte not to read; NULL if cut short or too long. */
static inline const unsigned char *varint(const unsigned char *p, const unsigned char *end,
					  uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned int shift = 0; shift < 64; shift += 7) {
		if (p >= end)
			return NULL;
		uint64_t b = *p++;
		v |= (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return p;
		}
	}
	return NULL;
}

/*
 * One record at p (not past end); returns the byte after it, or NULL when
 * the bytes do not make a record (the caller finds out why).
 */
static inline const unsigned char *decode_one(struct kmm_memtrace_reader *r, const unsigned char *p,
					      const unsigned char *end,
					      struct kmm_memtrace_rec *rec)
{
	unsigned int h = *p++;
	unsigned int kind = h & 3, code = h >> 2;
	uint64_t size = code, delta;
	if (unlikely(!code))
		return NULL;
	if (unlikely(code == MEMTRACE_SIZE_EXPLICIT)) {
		p = varint(p, end, &size);
		if (!p || size > UINT32_MAX)
			return NULL;
	}
	if (likely(p < end && *p < 0x80)) {
		delta = *p++;
	} else {
		p = varint(p, end, &delta);
		if (!p)
			return NULL;
	}
	uint64_t *pred = kind == KMM_MEMTRACE_INSTR ? &r->pred_i : &r->pred_d;
	uint64_t addr = *pred + ((delta >> 1) ^ -(delta & 1));
	*pred = kind == KMM_MEMTRACE_INSTR ? addr + size : addr;
	rec->addr = addr;
	rec->size = (uint32_t)size;
	rec->kind = kind;
	return p;
}

/*
 * Skip a varint at p for slow_record(): the byte after it, NULL if the
 * file ends inside it, or @end + 1 if it is longer than 10 bytes.
 */
static const unsigned char *skip_varint(const unsigned char *p, const unsigned char *end,
					uint64_t *v)
{
	*v = 0;
	for (unsigned int i = 0; i < 10; i++) {
		if (p >= end)
			return NULL;
		*v |= (uint64_t)(*p & 0x7f) << (7 * i);
		if (!(*p++ & 0x80))
			return p;
	}
	return end + 1;
}

/* The record at r->pos could not be decoded: the end marker, or say why not. */
static long slow_record(struct kmm_memtrace_reader *r, struct kmm_error *err)
{
	const unsigned char *p = r->data + r->pos, *end = r->data + r->len;
	size_t at = r->pos;
	unsigned int h = *p;
	uint64_t v;
	if (h == 0) {
		if ((size_t)(end - p) < MEMTRACE_TRAILER_LEN)
			return bad(r, err, at,
				   "expected the 8-byte record count after the end "
				   "marker, found the end of the file");
		uint64_t n = get_le(p + 1, 8);
		if (n != r->count) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "the trailer says %llu records, but %llu came before it",
				 (unsigned long long)n, (unsigned long long)r->count);
			return bad(r, err, at, msg);
		}
		if ((size_t)(end - p) > MEMTRACE_TRAILER_LEN)
			return bad(
			    r, err, at + MEMTRACE_TRAILER_LEN,
			    "expected the end of the file after the trailer, found more bytes");
		r->ended = true;
		r->pos = r->len;
		return 0;
	}
	if (!(h >> 2))
		return bad(r, err, at,
			   "expected a record header, found a reserved byte (size code "
			   "0 with a kind other than I)");
	p++;
	if ((h >> 2) == MEMTRACE_SIZE_EXPLICIT) {
		const unsigned char *q = skip_varint(p, end, &v);
		if (q == end + 1 || (q && v > UINT32_MAX))
			return bad(r, err, (size_t)(p - r->data),
				   "expected a size below 2^32 as a varint, found a longer one");
		if (!q)
			return bad(
			    r, err, (size_t)(end - r->data),
			    "expected the rest of the record, found the end of the file (the "
			    "trace is cut short)");
		p = q;
	}
	const unsigned char *q = skip_varint(p, end, &v);
	if (q == end + 1)
		return bad(
		    r, err, (size_t)(p - r->data),
		    "expected an address delta of at most 10 varint bytes, found a longer one");
	return bad(r, err, (size_t)(end - r->data),
		   "expected the rest of the record, found the end of the file (the trace is cut "
		   "short)");
}

/*
 * A varint of up to 8 bytes from one 8-byte load (the fast loop may read
 * 16 bytes ahead): the first byte without its high bit ends it, and the
 * 7-bit groups are packed together in three shift-and-mask steps. NULL
 * for a varint of 9 or 10 bytes, which the byte loop then takes.
 */
static inline const unsigned char *varint_word(const unsigned char *p, uint64_t *out)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;
	memcpy(&w, p, 8);
	uint64_t stop = ~w & 0x8080808080808080ULL;
	if (unlikely(!stop))
		return NULL;
	unsigned int bits = (unsigned int)__builtin_ctzll(stop) + 1; /* through the last byte */
	uint64_t x = (bits == 64 ? w : w & ((1ULL << bits) - 1)) & 0x7f7f7f7f7f7f7f7fULL;
	x = ((x & 0x7f007f007f007f00ULL) >> 1) | (x & 0x007f007f007f007fULL);
	x = ((x & 0x3fff00003fff0000ULL) >> 2) | (x & 0x00003fff00003fffULL);
	x = ((x & 0x0fffffff00000000ULL) >> 4) | (x & 0x000000000fffffffULL);
	*out = x;
	return p + bits / 8;
#else
	return varint(p, p + 8, out);
#endif
}

/*
 * The fast loop: at least MEMTRACE_MAX_RECORD bytes remain, so no byte
 * read needs a bounds check. Predictors live in registers, the one to use
 * is picked by index (kind != I), and the common record (size code 1..62,
 * one-byte delta) takes no branch but the loop's and the two tests.
 */
static size_t decode_fast(struct kmm_memtrace_reader *r, const unsigned char **pp,
			  const unsigned char *safe, struct kmm_memtrace_rec *recs, size_t max)
{
	const unsigned char *p = *pp;
	uint64_t pred[2] = {r->pred_i, r->pred_d};
	size_t n = 0;
	while (n < max && p <= safe) {
		unsigned int h = p[0];
		unsigned int kind = h & 3, code = h >> 2;
		uint64_t size = code, delta;
		if (unlikely(code - 1 >= MEMTRACE_SIZE_EXPLICIT - 1)) {
			/* size code 0 (end marker, reserved) or 63 (explicit size) */
			const unsigned char *q;
			if (!code || !(q = varint(p + 1, p + MEMTRACE_MAX_RECORD, &size)) ||
			    size > UINT32_MAX)
				break;
			p = q - 1;
		}
		delta = p[1];
		if (likely(delta < 0x80)) {
			p += 2;
		} else {
			const unsigned char *q = varint_word(p + 1, &delta);
			if (unlikely(!q) && !(q = varint(p + 1, p + MEMTRACE_MAX_RECORD, &delta)))
				break;
			p = q;
		}
		unsigned int data = kind != KMM_MEMTRACE_INSTR;
		uint64_t addr = pred[data] + ((delta >> 1) ^ -(delta & 1));
		/* I predicts the next I at its end; data accesses at their address. */
		pred[data] = addr + (size & ((uint64_t)data - 1));
		recs[n].addr = addr;
		recs[n].size = (uint32_t)size;
		recs[n].kind = kind;
		n++;
	}
	r->pred_i = pred[0];
	r->pred_d = pred[1];
	*pp = p;
	return n;
}

long memtrace_binary_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			  struct kmm_error *err)
{
	const unsigned char *base = r->data, *end = base + r->len;
	const unsigned char *p = base + r->pos;
	size_t n = 0;
	if (r->ended)
		return 0;
	if (r->len >= MEMTRACE_MAX_RECORD)
		n = decode_fast(r, &p, end - MEMTRACE_MAX_RECORD, recs, max);
	/* The last records, or a record the fast loop would not take. */
	while (n < max && p < end) {
		const unsigned char *q = decode_one(r, p, end, &recs[n]);
		if (!q)
			break;
		p = q;
		n++;
	}
	r->pos = (size_t)(p - base);
	r->count += n;
	if (n)
		return (long)n;
	if (p >= end)
		return bad(r, err, r->pos,
			   "expected a record or the end marker, found the end of the file (the "
			   "trace is cut short)");
	return slow_record(r, err);
}

/* --- Encoder ----------------------------------------------------------------------------------- */

int memtrace_binary_start(struct kmm_memtrace_writer *w, struct kmm_error *err)
{
	memcpy(w->buf, MEMTRACE_MAGIC, MEMTRACE_MAGIC_LEN);
	put_le(w->buf + 8, MEMTRACE_VERSION, 2);
	put_le(w->buf + 10, MEMTRACE_HEADER_LEN, 2);
	put_le(w->buf + 12, 0, 4);
	w->n = MEMTRACE_HEADER_LEN;
	return 0;
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

int memtrace_binary_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			  size_t n, struct kmm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct kmm_memtrace_rec *rec = &recs[i];
		if (w->n + MEMTRACE_MAX_RECORD > sizeof(w->buf)) {
			int ret = memtrace_flush(w, err);
			if (ret)
				return ret;
		}
		unsigned char *p = w->buf + w->n;
		bool explicit_size = rec->size == 0 || rec->size >= MEMTRACE_SIZE_EXPLICIT;
		*p++ = (unsigned char)(rec->kind |
				       (explicit_size ? MEMTRACE_SIZE_EXPLICIT : rec->size) << 2);
		if (explicit_size)
			p = put_varint(p, rec->size);
		uint64_t *pred = rec->kind == KMM_MEMTRACE_INSTR ? &w->pred_i : &w->pred_d;
		int64_t delta = (int64_t)(rec->addr - *pred);
		p = put_varint(p, ((uint64_t)delta << 1) ^ (uint64_t)(delta >> 63));
		*pred = rec->kind == KMM_MEMTRACE_INSTR ? rec->addr + rec->size : rec->addr;
		w->n = (size_t)(p - w->buf);
	}
	w->count += n;
	return 0;
}

int memtrace_binary_end(struct kmm_memtrace_writer *w, struct kmm_error *err)
{
	if (w->n + MEMTRACE_TRAILER_LEN > sizeof(w->buf)) {
		int ret = memtrace_flush(w, err);
		if (ret)
			return ret;
	}
	w->buf[w->n] = 0;
	put_le(w->buf + w->n + 1, w->count, 8);
	w->n += MEMTRACE_TRAILER_LEN;
	return 0;
}
