/*
 * Helpers shared by the reclaim tests: machines with swap, counters from
 * /proc/vmstat and /proc/meminfo, host files with a known pattern, and the
 * checkers of every layer after a step.
 */
#ifndef KMM_TEST_RECLAIM_UTIL_H
#define KMM_TEST_RECLAIM_UTIL_H

#include "../vm/vm_util.h"
#include <fcntl.h>
#include <unistd.h>
#include <kmm/reclaim.h>
#include <kmm/swap.h>

/* A vmstat (or meminfo, without the kB) value by name; -1 if absent. */
static inline long reclaim_stat(struct kmm_machine *m, const char *view, const char *name)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, view, &b);
	long v = -1;
	size_t n = strlen(name);
	for (const char *p = b.data; p && *p;) {
		if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == ':')) {
			const char *q = p + n + 1;
			while (*q == ' ')
				q++;
			v = strtol(q, NULL, 10);
			break;
		}
		const char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : NULL;
	}
	kmm_buf_free(&b);
	return v;
}
#define vmstat(m, name) reclaim_stat(m, "vmstat", name)

/* The byte a pattern file or a task's page holds at @off for @seed. */
static inline unsigned char pattern_byte(uint64_t seed, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ULL + seed;
	x ^= x >> 29;
	return (unsigned char)(x >> (8 * (off & 7)));
}

/* A host file of @size bytes of pattern_byte(seed, ...). Returns its path in @path. */
static inline int make_pattern_file(char *path, size_t len, size_t size, uint64_t seed)
{
	snprintf(path, len, "/tmp/kmm-reclaim-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unsigned char *buf = malloc(1 << 20);
	for (size_t off = 0; off < size; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? size - off : (1 << 20);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(seed, off + i);
		if (write(fd, buf, n) != (ssize_t)n) {
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	close(fd);
	return 0;
}

/* Every checker of the layers reclaim touches; prints what broke. */
static inline int reclaim_check_all(struct kmm_machine *m)
{
	struct kmm_error e = {0};
	if (kmm_lru_validate(m, &e)) {
		fprintf(stderr, "kmm_lru_validate: %s\n", e.msg);
		return -1;
	}
	if (kmm_vm_validate(m, &e)) {
		fprintf(stderr, "kmm_vm_validate: %s\n", e.msg);
		return -1;
	}
	if (kmm_lru_validate(m, &e)) {
		fprintf(stderr, "kmm_lru_validate (after the vm census drained the batches): %s\n",
			e.msg);
		return -1;
	}
	if (kmm_swap_validate(m, &e)) {
		fprintf(stderr, "kmm_swap_validate: %s\n", e.msg);
		return -1;
	}
	if (kmm_swap_validate_references(m, &e)) {
		fprintf(stderr, "kmm_swap_validate_references: %s\n", e.msg);
		return -1;
	}
	return 0;
}
#define expect_all_valid(m) expect_int_eq(reclaim_check_all(m), 0)

#endif /* KMM_TEST_RECLAIM_UTIL_H */
