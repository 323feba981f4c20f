/*
 * Running the kmm program from the end-to-end tests: a command line through
 * the shell, its output captured whole and its exit status decoded.
 */
#ifndef KMM_E2E_UTIL_H
#define KMM_E2E_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#define KMM KMM_BINARY_DIR "/kmm"

struct result {
	char *out;  /* what the command wrote to stdout (and stderr, if the line says 2>&1) */
	int status; /* exit status, or -1 if the process did not exit normally */
};

/* Run @cmd with /bin/sh; the caller frees r.out. */
static inline struct result e2e_run(const char *cmd)
{
	struct result r = {NULL, -1};
	size_t len = 0, cap = 1 << 16, got;
	r.out = malloc(cap);
	FILE *p = popen(cmd, "r");
	if (p) {
		while ((got = fread(r.out + len, 1, cap - len - 1, p)) > 0) {
			len += got;
			if (len + 1 == cap)
				r.out = realloc(r.out, cap *= 2);
		}
		int st = pclose(p);
		r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	r.out[len] = '\0';
	return r;
}

/* e2e_run() of a printf-formatted command line. */
__attribute__((format(printf, 1, 2), unused)) static struct result sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return e2e_run(cmd);
}

__attribute__((unused)) static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

#endif /* KMM_E2E_UTIL_H */
