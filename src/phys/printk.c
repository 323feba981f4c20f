/*
 * The machine's kernel log: what `dmesg` would show on the simulated machine.
 *
 * Linux: kernel/printk/printk.c. Every line gets the kernel's timestamp
 * prefix. Boot runs before the simulated clock starts, so, like Linux before
 * timekeeping is up, its lines are stamped 0.000000; that also keeps the log
 * identical from run to run. The log can be fed back to --from-dmesg to boot
 * the same machine again.
 */
#include "internal.h"
#include <string.h>

void printk_init(struct kmm_machine *m)
{
	kmm_buf_init(&m->log);
	spin_lock_init(&m->log_lock);
}

void printk_destroy(struct kmm_machine *m)
{
	kmm_buf_free(&m->log);
}

void kmm_printk(struct kmm_machine *m, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = kmm_port_snprintf(line, sizeof(line), "[%5lu.%06lu] ", 0UL, 0UL);
	va_start(ap, fmt);
	int k = kmm_port_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (k < 0 ? 0 : (size_t)k);
	if (len >= sizeof(line) - 1) {
		len = sizeof(line) - 2;
		line[len++] = '\n';
	}
	if (len == 0 || line[len - 1] != '\n')
		line[len++] = '\n';
	spin_lock(&m->log_lock);
	kmm_buf_write(&m->log, line, len);
	spin_unlock(&m->log_lock);
	if (m->log_echo)
		kmm_port_write_stdout(line, len);
}
