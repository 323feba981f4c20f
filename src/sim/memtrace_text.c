/*
 * Text memory-access traces: valgrind lackey output and page reference
 * lists, read and written.
 *
 * Linux counterpart: none. Formats:
 *  - lackey (valgrind --tool=lackey --trace-mem=yes): one access per line,
 *    "I  ADDR,SIZE" for an instruction fetch, " L ADDR,SIZE", " S
 *    ADDR,SIZE" and " M ADDR,SIZE" for a load, a store and a modify (a
 *    load and a store of the same bytes, such as "addl $1,(%rax)"); ADDR
 *    is hex (lackey prints at least 8 digits), SIZE decimal. Valgrind's
 *    own lines start "==PID==" (or "--PID--" for its debug output) and are
 *    skipped. lackey writes to stderr, so a trace captured with 2>&1 may
 *    hold the program's own output too: such a line is an error, named
 *    with its line number, rather than silently dropped.
 *  - refs: "R PAGE" or "W PAGE" per line, PAGE a page number (decimal or
 *    0x hex), blank lines and '#' comments allowed. Each becomes a load or
 *    store of one byte at the start of the page.
 * Readers find each line's end with memchr (vectorised in the C library)
 * and parse inside it with no further bounds checks.
 */
#include "memtrace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Show a line in a message: at most 40 characters, unprintables as '?'. */
static const char *shown(const unsigned char *s, size_t n, char *buf)
{
	size_t k = 0;
	for (; k < n && k < 40; k++)
		buf[k] = s[k] >= 0x20 && s[k] < 0x7f ? (char)s[k] : '?';
	if (n > 40) {
		memcpy(buf + 40, "...", 3);
		k = 43;
	}
	buf[k] = '\0';
	return buf;
}

static int line_error(struct kmm_memtrace_reader *r, struct kmm_error *err, size_t col,
		      const char *what, const unsigned char *found, size_t found_len)
{
	char buf[48];
	if (!found_len)
		return memtrace_fail(r, err, "%s:%llu:%zu: expected %s, found the end of the line",
				     r->name, (unsigned long long)r->line, col, what);
	return memtrace_fail(r, err, "%s:%llu:%zu: expected %s, found '%s'", r->name,
			     (unsigned long long)r->line, col, what, shown(found, found_len, buf));
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Advance past the line [p, eol) and its newline. */
static void next_line(struct kmm_memtrace_reader *r, const unsigned char *eol)
{
	const unsigned char *end = r->data + r->len;
	r->pos = eol < end ? (size_t)(eol + 1 - r->data) : r->len;
	r->line++;
}

long memtrace_lackey_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			  struct kmm_error *err)
{
	const unsigned char *base = r->data, *end = base + r->len;
	size_t n = 0;
	static const char what[] = "a lackey record ('I  ADDR,SIZE', ' L ADDR,SIZE', ' S ...', "
				   "' M ...') or a '==PID==' line";
	while (n < max && r->pos < r->len) {
		const unsigned char *p = base + r->pos;
		const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const unsigned char *le = eol;
		if (le > p && le[-1] == '\r')
			le--;
		size_t len = (size_t)(le - p);
		unsigned int kind;
		if (len >= 3 && p[0] == 'I' && p[1] == ' ' && p[2] == ' ') {
			kind = KMM_MEMTRACE_INSTR;
		} else if (len >= 3 && p[0] == ' ' && p[2] == ' ' &&
			   (p[1] == 'L' || p[1] == 'S' || p[1] == 'M')) {
			kind = p[1] == 'L'   ? KMM_MEMTRACE_LOAD
			       : p[1] == 'S' ? KMM_MEMTRACE_STORE
					     : KMM_MEMTRACE_MODIFY;
		} else if (len == 0 || (len >= 2 && ((p[0] == '=' && p[1] == '=') ||
						     (p[0] == '-' && p[1] == '-')))) {
			next_line(r, eol);
			continue;
		} else {
			line_error(r, err, 1, what, p, len);
			break;
		}
		/* ADDR: 1 to 16 hex digits, then ','. */
		const unsigned char *q = p + 3;
		uint64_t addr = 0;
		int d;
		while (q < le && (d = hexval(*q)) >= 0 && q - (p + 3) < 16) {
			addr = addr << 4 | (uint64_t)d;
			q++;
		}
		if (q == p + 3 || q >= le || *q != ',') {
			line_error(r, err, (size_t)(q - p) + 1,
				   q == p + 3 ? "a hex address"
					      : "',' after an address of at most 16 hex digits",
				   q, (size_t)(le - q));
			break;
		}
		/* SIZE: decimal, to the end of the line. */
		const unsigned char *s = ++q;
		uint64_t size = 0;
		while (q < le && *q >= '0' && *q <= '9' && size <= UINT32_MAX) {
			size = size * 10 + (uint64_t)(*q - '0');
			q++;
		}
		if (q == s || q != le || size > UINT32_MAX) {
			line_error(r, err, (size_t)(s - p) + 1,
				   "a decimal size below 2^32 ending the line", s,
				   (size_t)(le - s));
			break;
		}
		recs[n].addr = addr;
		recs[n].size = (uint32_t)size;
		recs[n].kind = kind;
		n++;
		next_line(r, eol);
	}
	/* Records before a bad line are returned; the error comes with the next read. */
	r->count += n;
	return n || !r->error ? (long)n : r->error;
}

long memtrace_refs_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
			struct kmm_error *err)
{
	const unsigned char *base = r->data, *end = base + r->len;
	size_t n = 0;
	while (n < max && r->pos < r->len) {
		const unsigned char *p = base + r->pos;
		const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const unsigned char *q = p, *le = eol;
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == le || *q == '#') {
			next_line(r, eol);
			continue;
		}
		unsigned char c = *q | 0x20;
		if ((c != 'r' && c != 'w') || q + 1 >= le || (q[1] != ' ' && q[1] != '\t')) {
			line_error(r, err, (size_t)(q - p) + 1, "R or W, a blank and a page number",
				   q, (size_t)(le - q));
			break;
		}
		unsigned int kind = c == 'r' ? KMM_MEMTRACE_LOAD : KMM_MEMTRACE_STORE;
		q++;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		const unsigned char *num = q;
		uint64_t page = 0;
		bool ok = q < le;
		if (le - q > 2 && q[0] == '0' && (q[1] | 0x20) == 'x') {
			int d;
			q += 2;
			ok = q < le && hexval(*q) >= 0;
			while (q < le && (d = hexval(*q)) >= 0) {
				ok &= page <= ((1ULL << 52) - 1) >> 4;
				page = page << 4 | (uint64_t)d;
				q++;
			}
		} else {
			ok = q < le && *q >= '0' && *q <= '9';
			while (q < le && *q >= '0' && *q <= '9') {
				ok &= page <= ((1ULL << 52) - 1 - (uint64_t)(*q - '0')) / 10;
				page = page * 10 + (uint64_t)(*q - '0');
				q++;
			}
		}
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < le && *q != '#')
			ok = false;
		if (!ok || page >= (1ULL << 52)) {
			line_error(r, err, (size_t)(num - p) + 1,
				   "a page number below 2^52 (decimal or 0x hex) ending the line",
				   num, (size_t)(le - num));
			break;
		}
		recs[n].addr = page << 12;
		recs[n].size = 1;
		recs[n].kind = kind;
		n++;
		next_line(r, eol);
	}
	/* Records before a bad line are returned; the error comes with the next read. */
	r->count += n;
	return n || !r->error ? (long)n : r->error;
}

/* --- Writers ----------------------------------------------------------------------------------- */

static unsigned char *put_hex(unsigned char *p, uint64_t v, int min_digits)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char tmp[16];
	int n = 0;
	do {
		tmp[n++] = (unsigned char)digits[v & 15];
		v >>= 4;
	} while (v);
	while (n < min_digits)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

static unsigned char *put_dec(unsigned char *p, uint64_t v)
{
	unsigned char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (unsigned char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

int memtrace_lackey_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			  size_t n, struct kmm_error *err)
{
	static const char prefix[4][4] = {"I  ", " L ", " S ", " M "};
	for (size_t i = 0; i < n; i++) {
		if (w->n + 48 > sizeof(w->buf)) {
			int ret = memtrace_flush(w, err);
			if (ret)
				return ret;
		}
		unsigned char *p = w->buf + w->n;
		memcpy(p, prefix[recs[i].kind], 3);
		/* lackey's "%08lx,%lu" */
		p = put_hex(p + 3, recs[i].addr, 8);
		*p++ = ',';
		p = put_dec(p, recs[i].size);
		*p++ = '\n';
		w->n = (size_t)(p - w->buf);
	}
	w->count += n;
	return 0;
}

int memtrace_refs_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs,
			size_t n, struct kmm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct kmm_memtrace_rec *rec = &recs[i];
		uint64_t first = rec->addr >> 12;
		uint64_t last_byte = rec->size ? rec->addr + (rec->size - 1) : rec->addr;
		uint64_t last = last_byte < rec->addr ? UINT64_MAX >> 12 : last_byte >> 12;
		char rw = rec->kind >= KMM_MEMTRACE_STORE ? 'W' : 'R';
		for (uint64_t pg = first;; pg++) {
			if (w->n + 32 > sizeof(w->buf)) {
				int ret = memtrace_flush(w, err);
				if (ret)
					return ret;
			}
			unsigned char *p = w->buf + w->n;
			*p++ = (unsigned char)rw;
			*p++ = ' ';
			*p++ = '0';
			*p++ = 'x';
			p = put_hex(p, pg, 1);
			*p++ = '\n';
			w->n = (size_t)(p - w->buf);
			if (pg == last)
				break;
		}
	}
	w->count += n;
	return 0;
}
