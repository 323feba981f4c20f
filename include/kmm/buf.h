/*
 * A growable text buffer: what views (zoneinfo, buddyinfo, the boot log)
 * print into, like the kernel's seq_file. Host memory comes from port/.
 */
#ifndef KMM_BUF_H
#define KMM_BUF_H

#include <kmm/compiler.h>

struct kmm_buf {
	char *data; /* NUL-terminated */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; the text is truncated */
};

void kmm_buf_init(struct kmm_buf *b);
void kmm_buf_free(struct kmm_buf *b);
void kmm_buf_reset(struct kmm_buf *b);
__kmm_printf(2, 3) void kmm_buf_printf(struct kmm_buf *b, const char *fmt, ...);
void kmm_buf_vprintf(struct kmm_buf *b, const char *fmt, __builtin_va_list ap);
void kmm_buf_puts(struct kmm_buf *b, const char *s);
void kmm_buf_write(struct kmm_buf *b, const char *s, size_t len);
/* Write the buffer to the host's stdout. */
void kmm_buf_flush_stdout(struct kmm_buf *b);

#endif /* KMM_BUF_H */
