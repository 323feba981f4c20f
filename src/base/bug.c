/*
 * Reports for broken invariants (kmm/bug.h) and warnings.
 *
 * Linux: lib/bug.c, kernel/panic.c (__warn). A bug report names the file and
 * line, the condition, and prints a host backtrace before aborting, so a
 * failure in a randomized test points at the step that broke it.
 */
#include <kmm/bug.h>
#include <kmm/error.h>
#include "../port/port.h"

static void vreport(const char *kind, const char *file, int line, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = kmm_port_snprintf(buf, sizeof(buf), "kmm: %s at %s:%d: ", kind, file, line);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(buf))
		n += kmm_port_vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	kmm_port_write_stderr(buf, (size_t)n);
}

void kmm_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("BUG", file, line, fmt, ap);
	va_end(ap);
	kmm_port_backtrace();
	kmm_port_abort();
}

void kmm_warn(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("WARNING", file, line, fmt, ap);
	va_end(ap);
}

int kmm_error_set(struct kmm_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		kmm_port_vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}
