/*
 * Error messages for bad user input.
 *
 * Parsers of configs, machine descriptions, workloads and traces fill a
 * struct kmm_error with one line that names the file, the line (and column
 * where it helps), what was expected and what was found; they return a
 * negative errno. Callers print it and exit non-zero. User input never
 * reaches a KMM_BUG_ON.
 */
#ifndef KMM_ERROR_H
#define KMM_ERROR_H

#include <kmm/compiler.h>

struct kmm_error {
	int code; /* negative errno, 0 if no error */
	char msg[512];
};

/* Set the message (printf-style) and return @code, for `return kmm_error_set(...)`. */
__kmm_printf(3, 4) int kmm_error_set(struct kmm_error *err, int code, const char *fmt, ...);
static inline void kmm_error_clear(struct kmm_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

#endif /* KMM_ERROR_H */
