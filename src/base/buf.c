/*
 * Growable text buffer (kmm/buf.h), the seq_file of kmm's views.
 */
#include <kmm/buf.h>
#include <string.h>
#include "../port/port.h"

void kmm_buf_init(struct kmm_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

void kmm_buf_free(struct kmm_buf *b)
{
	kmm_port_free(b->data, b->cap);
	kmm_buf_init(b);
}

void kmm_buf_reset(struct kmm_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static bool buf_reserve(struct kmm_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *n = kmm_port_alloc(cap);
	if (!n) {
		b->failed = true;
		return false;
	}
	if (b->data) {
		memcpy(n, b->data, b->len + 1);
		kmm_port_free(b->data, b->cap);
	}
	b->data = n;
	b->cap = cap;
	return true;
}

void kmm_buf_write(struct kmm_buf *b, const char *s, size_t len)
{
	if (!buf_reserve(b, len))
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void kmm_buf_puts(struct kmm_buf *b, const char *s)
{
	kmm_buf_write(b, s, strlen(s));
}

void kmm_buf_vprintf(struct kmm_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char tmp[256];
	int n = kmm_port_vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		kmm_buf_write(b, tmp, (size_t)n);
	} else if (buf_reserve(b, (size_t)n)) {
		kmm_port_vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
		b->len += (size_t)n;
	}
	va_end(ap2);
}

void kmm_buf_printf(struct kmm_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kmm_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void kmm_buf_flush_stdout(struct kmm_buf *b)
{
	if (b->len)
		kmm_port_write_stdout(b->data, b->len);
	kmm_buf_reset(b);
}
