/*
 * Memory-access traces: opening, format detection, reading in batches,
 * pages from records, writing.
 *
 * Linux counterpart: none. The traces stand for what a task's MMU sees:
 * valgrind's lackey tool records every instruction fetch, load, store and
 * modify of a real program (docs/traces.md shows how to make one), kmm's
 * binary format holds the same in about 2 bytes per record, and a page
 * reference list ("R 17", "W 0x2a") is the textbook input of page
 * replacement exercises.
 *
 * Theory of operation:
 *  1. A trace is read whole into the address space: a file is mapped
 *     (read-only, MAP_PRIVATE; the kernel pages it in as the decoder
 *     walks it, sequentially advised), stdin is copied into memory. The
 *     decoders then work on a byte array with no I/O in their loops.
 *  2. Readers decode in batches (kmm_memtrace_read into an array), so
 *     a consumer's per-record work is a loop over an array and the
 *     format's decoder stays a tight loop of its own.
 *  3. Errors are sticky: the first bad line or byte is reported with the
 *     file, the line (text) or byte offset (binary) and what was expected,
 *     and every later read returns the same error.
 */
#define _GNU_SOURCE
#include "memtrace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SHIFT_4K 12

static const char *const format_names[] = {
    [KMM_MEMTRACE_AUTO] = "auto",
    [KMM_MEMTRACE_LACKEY] = "lackey",
    [KMM_MEMTRACE_BINARY] = "binary",
    [KMM_MEMTRACE_REFS] = "refs",
};

const char *kmm_memtrace_format_name(enum kmm_memtrace_format fmt)
{
	return (unsigned int)fmt < KMM_ARRAY_SIZE(format_names) ? format_names[fmt] : "?";
}

int kmm_memtrace_format_parse(const char *name)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(format_names); i++)
		if (!strcmp(name, format_names[i]))
			return (int)i;
	return -1;
}

int memtrace_fail(struct kmm_memtrace_reader *r, struct kmm_error *err, const char *fmt, ...)
{
	va_list ap;
	if (!r->error) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
		r->error = -EINVAL;
	}
	return kmm_error_set(err, r->error, "%s", r->msg);
}

/* The format from the first bytes: the binary magic, else the first line of text. */
static int detect(struct kmm_memtrace_reader *r, struct kmm_error *err)
{
	const unsigned char *d = r->data;
	size_t len = r->len, i = 0;
	if (len >= MEMTRACE_MAGIC_LEN && !memcmp(d, MEMTRACE_MAGIC, MEMTRACE_MAGIC_LEN)) {
		r->fmt = KMM_MEMTRACE_BINARY;
		return 0;
	}
	/* Skip blank lines and '#' comments (which only reference lists have). */
	for (;;) {
		while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
			i++;
		if (i < len && d[i] == '#') {
			while (i < len && d[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	/* Back to the start of that line: lackey's leading blank is significant. */
	while (i > 0 && d[i - 1] != '\n')
		i--;
	if (i >= len) {
		r->fmt = KMM_MEMTRACE_LACKEY; /* an empty trace, in any format */
		return 0;
	}
	const unsigned char *s = d + i;
	size_t left = len - i;
	if (left >= 2 && ((s[0] == '=' && s[1] == '=') || (s[0] == '-' && s[1] == '-'))) {
		r->fmt = KMM_MEMTRACE_LACKEY;
		return 0;
	}
	if (left >= 3 &&
	    ((s[0] == 'I' && s[1] == ' ' && s[2] == ' ') ||
	     (s[0] == ' ' && (s[1] == 'L' || s[1] == 'S' || s[1] == 'M') && s[2] == ' '))) {
		r->fmt = KMM_MEMTRACE_LACKEY;
		return 0;
	}
	size_t b = 0;
	while (b < left && (s[b] == ' ' || s[b] == '\t'))
		b++;
	if (left - b >= 2 && (s[b] == 'R' || s[b] == 'W' || s[b] == 'r' || s[b] == 'w') &&
	    (s[b + 1] == ' ' || s[b + 1] == '\t')) {
		r->fmt = KMM_MEMTRACE_REFS;
		return 0;
	}
	size_t n = 0;
	while (n < left && n < 40 && s[n] != '\n' && s[n] != '\r')
		n++;
	char shown[48];
	for (size_t k = 0; k < n; k++)
		shown[k] = s[k] >= 0x20 && s[k] < 0x7f ? (char)s[k] : '?';
	shown[n] = '\0';
	unsigned long line = 1;
	for (size_t k = 0; k < i; k++)
		line += d[k] == '\n';
	return memtrace_fail(
	    r, err,
	    "%s:%lu: expected a lackey record, '==PID==' or 'R|W PAGE', found '%s' "
	    "(or give --from lackey, binary or refs)",
	    r->name, line, shown);
}

static int open_common(struct kmm_memtrace_reader *r, enum kmm_memtrace_format fmt,
		       struct kmm_error *err)
{
	r->line = 1;
	if (fmt == KMM_MEMTRACE_AUTO) {
		int ret = detect(r, err);
		if (ret)
			return ret;
	} else {
		r->fmt = fmt;
	}
	if (r->fmt == KMM_MEMTRACE_BINARY)
		return memtrace_binary_open(r, err);
	return 0;
}

int kmm_memtrace_open_mem(const void *data, size_t len, const char *name,
			  enum kmm_memtrace_format fmt, struct kmm_memtrace_reader **out,
			  struct kmm_error *err)
{
	struct kmm_memtrace_reader *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (!r)
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "trace");
	r->data = data;
	r->len = len;
	int ret = open_common(r, fmt, err);
	if (ret) {
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

/* All of stdin, in host memory. */
static int slurp_stdin(struct kmm_memtrace_reader *r, struct kmm_error *err)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return kmm_error_set(err, -ENOMEM, "stdin: out of host memory");
		ssize_t n = read(0, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return kmm_error_set(err, -e, "stdin: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	r->heap = buf;
	r->data = (const unsigned char *)buf;
	r->len = len;
	return 0;
}

int kmm_memtrace_open(const char *path, enum kmm_memtrace_format fmt,
		      struct kmm_memtrace_reader **out, struct kmm_error *err)
{
	struct kmm_memtrace_reader *r = calloc(1, sizeof(*r));
	int ret = 0;
	*out = NULL;
	if (!r)
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	if (!strcmp(path, "-")) {
		snprintf(r->name, sizeof(r->name), "stdin");
		ret = slurp_stdin(r, err);
	} else {
		snprintf(r->name, sizeof(r->name), "%s", path);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0) {
			ret = kmm_error_set(err, -errno, "%s: %s", path, strerror(errno));
		} else if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			ret = kmm_error_set(err, -EINVAL, "%s: not a regular file", path);
		} else if (st.st_size > 0) {
			void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (map == MAP_FAILED) {
				ret = kmm_error_set(err, -errno, "%s: %s", path, strerror(errno));
			} else {
				madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
				r->map = map;
				r->map_len = (size_t)st.st_size;
				r->data = map;
				r->len = (size_t)st.st_size;
			}
		}
		if (fd >= 0)
			close(fd);
	}
	if (!ret)
		ret = open_common(r, fmt, err);
	if (ret) {
		kmm_memtrace_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

long kmm_memtrace_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
		       struct kmm_error *err)
{
	if (r->error)
		return kmm_error_set(err, r->error, "%s", r->msg);
	if (!max)
		return 0;
	switch (r->fmt) {
	case KMM_MEMTRACE_BINARY:
		return memtrace_binary_read(r, recs, max, err);
	case KMM_MEMTRACE_LACKEY:
		return memtrace_lackey_read(r, recs, max, err);
	case KMM_MEMTRACE_REFS:
		return memtrace_refs_read(r, recs, max, err);
	default:
		return memtrace_fail(r, err, "%s: no format", r->name);
	}
}

enum kmm_memtrace_format kmm_memtrace_format(const struct kmm_memtrace_reader *r)
{
	return r->fmt;
}

uint64_t kmm_memtrace_count(const struct kmm_memtrace_reader *r)
{
	return r->count;
}

void kmm_memtrace_close(struct kmm_memtrace_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->map_len);
	free(r->heap);
	free(r);
}

void kmm_memtrace_pages(const struct kmm_memtrace_rec *recs, size_t n, kmm_memtrace_page_fn fn,
			void *arg)
{
	for (size_t i = 0; i < n; i++) {
		const struct kmm_memtrace_rec *rec = &recs[i];
		bool write = rec->kind >= KMM_MEMTRACE_STORE;
		uint64_t first = rec->addr >> PAGE_SHIFT_4K;
		uint64_t end = rec->size ? rec->addr + (rec->size - 1) : rec->addr;
		/* A record at the top of the address space does not wrap. */
		uint64_t last =
		    end < rec->addr ? UINT64_MAX >> PAGE_SHIFT_4K : end >> PAGE_SHIFT_4K;
		fn(arg, first, write);
		for (uint64_t pg = first; pg != last;)
			fn(arg, ++pg, write);
	}
}

int kmm_memtrace_for_each_page(struct kmm_memtrace_reader *r, kmm_memtrace_page_fn fn, void *arg,
			       struct kmm_error *err)
{
	struct kmm_memtrace_rec recs[4096];
	for (;;) {
		long n = kmm_memtrace_read(r, recs, KMM_ARRAY_SIZE(recs), err);
		if (n <= 0)
			return (int)n;
		kmm_memtrace_pages(recs, (size_t)n, fn, arg);
	}
}

/* --- Writers ------------------------------------------------------------------------------- */

int memtrace_flush(struct kmm_memtrace_writer *w, struct kmm_error *err)
{
	if (w->n && fwrite(w->buf, 1, w->n, w->f) != w->n)
		return kmm_error_set(err, -EIO, "%s: %s", w->name, strerror(errno));
	w->n = 0;
	return 0;
}

int kmm_memtrace_create(const char *path, enum kmm_memtrace_format fmt,
			struct kmm_memtrace_writer **out, struct kmm_error *err)
{
	*out = NULL;
	if (fmt != KMM_MEMTRACE_LACKEY && fmt != KMM_MEMTRACE_BINARY && fmt != KMM_MEMTRACE_REFS)
		return kmm_error_set(err, -EINVAL, "%s: choose a format to write", path);
	struct kmm_memtrace_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	w->fmt = fmt;
	snprintf(w->name, sizeof(w->name), "%s", strcmp(path, "-") ? path : "stdout");
	if (!strcmp(path, "-")) {
		w->f = stdout;
	} else {
		w->f = fopen(path, "wb");
		w->close_f = true;
		if (!w->f) {
			int e = errno;
			free(w);
			return kmm_error_set(err, -e, "%s: %s", path, strerror(e));
		}
	}
	if (fmt == KMM_MEMTRACE_BINARY) {
		int ret = memtrace_binary_start(w, err);
		if (ret) {
			if (w->close_f)
				fclose(w->f);
			free(w);
			return ret;
		}
	}
	*out = w;
	return 0;
}

int kmm_memtrace_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs, size_t n,
		       struct kmm_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (recs[i].kind > KMM_MEMTRACE_MODIFY)
			return kmm_error_set(err, -EINVAL, "%s: record %llu has kind %u", w->name,
					     (unsigned long long)(w->count + i), recs[i].kind);
	switch (w->fmt) {
	case KMM_MEMTRACE_BINARY:
		return memtrace_binary_write(w, recs, n, err);
	case KMM_MEMTRACE_LACKEY:
		return memtrace_lackey_write(w, recs, n, err);
	default:
		return memtrace_refs_write(w, recs, n, err);
	}
}

int kmm_memtrace_finish(struct kmm_memtrace_writer *w, struct kmm_error *err)
{
	int ret = 0;
	if (w->fmt == KMM_MEMTRACE_BINARY)
		ret = memtrace_binary_end(w, err);
	if (!ret)
		ret = memtrace_flush(w, err);
	if (!ret && fflush(w->f))
		ret = kmm_error_set(err, -EIO, "%s: %s", w->name, strerror(errno));
	if (w->close_f && fclose(w->f) && !ret)
		ret = kmm_error_set(err, -EIO, "%s: %s", w->name, strerror(errno));
	free(w);
	return ret;
}
