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

/*
 * The start of the tests that send one task's memory to swap: a machine
 * booted with @opts and a swap file of @swap_size ("64M"; NULL: no swap)
 * at a path named for @name and this process, a task @name on CPU 0, and,
 * if @pages, a private anonymous region of that many pages, not yet
 * touched.
 */
struct reclaim_anon {
	struct kmm_machine *m;
	struct kmm_task *t;
	unsigned long addr; /* the region */
	char swap[64];	    /* the swap file's path ("" without swap) */
};

static inline void reclaim_anon_destroy(struct reclaim_anon *ra)
{
	if (ra->t)
		kmm_task_reap(ra->t);
	if (ra->m)
		kmm_machine_destroy(ra->m);
	if (ra->swap[0])
		unlink(ra->swap);
	memset(ra, 0, sizeof(*ra));
}

/* Returns 0, or -1 with a message and nothing left. */
static inline int reclaim_anon_setup(struct reclaim_anon *ra, const char *name, const char *opts,
				     const char *swap_size, unsigned long pages)
{
	char buf[256];
	memset(ra, 0, sizeof(*ra));
	if (swap_size) {
		snprintf(ra->swap, sizeof(ra->swap), "/tmp/kmm-%s-%d.swap", name, getpid());
		snprintf(buf, sizeof(buf), "%s --swap %s:%s", opts, ra->swap, swap_size);
	} else {
		snprintf(buf, sizeof(buf), "%s", opts);
	}
	ra->m = vm_boot(buf);
	ra->t = ra->m ? vm_task(ra->m, name, 0) : NULL;
	long a = 0;
	if (ra->t && pages) {
		a = kmm_mmap(ra->t, 0, pages * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		if (a < 0)
			fprintf(stderr, "%s: mmap of %lu pages: %ld\n", name, pages, a);
	}
	if (!ra->t || a < 0) {
		reclaim_anon_destroy(ra);
		return -1;
	}
	ra->addr = (unsigned long)a;
	return 0;
}

/*
 * Boot a machine of @mem with @ncpus CPUs, the @rmap design and two swap
 * areas of @area each at the same priority, so that slots alternate
 * between them; their files /tmp/kmm-@tag-PID-SEED-N.swap are named into
 * @path0 and @path1 (@len bytes each). NULL if the boot failed.
 */
static inline struct kmm_machine *reclaim_boot_two_swap_areas(char *path0, char *path1, size_t len,
							      const char *tag, uint64_t seed,
							      const char *mem, int ncpus,
							      const char *rmap, const char *area)
{
	char opts[256]; /* vm_boot's limit */
	char *paths[2] = {path0, path1};
	for (int a = 0; a < 2; a++)
		snprintf(paths[a], len, "/tmp/kmm-%s-%d-%llx-%d.swap", tag, getpid(),
			 (unsigned long long)seed, a);
	snprintf(opts, sizeof(opts),
		 "--mem %s --cpus %d --seed %llu --rmap %s --swap %s:%s:5 --swap %s:%s:5", mem,
		 ncpus, (unsigned long long)seed, rmap, path0, area, path1, area);
	return vm_boot(opts);
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
