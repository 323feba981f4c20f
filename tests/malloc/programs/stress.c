/*
 * A program for malloc tests, run with and without LD_PRELOAD=libkmm-malloc.so
 * (tests/malloc/preload_test.c): plain C on the C library's allocation API,
 * never instrumented. Each mode prints lines that do not depend on the
 * allocator, so the two runs must print the same.
 *
 *   stress threads N OPS SEED  waves of N threads (more than the heap has
 *                              CPUs) doing random malloc/calloc/realloc/
 *                              memalign/free of 1 byte to 6 MiB, every block
 *                              filled with a pattern checked before it is
 *                              freed; blocks change hands through a shared
 *                              mailbox, so most frees are on another thread
 *   stress fork N FORKS        N threads allocate while the main thread
 *                              forks; each child allocates, frees and exits
 *   stress enomem              allocate 1 MiB blocks until malloc fails
 *   stress rss MODE            peak and fall of the resident set (trim|decay|reuse)
 *   stress doublefree|badfree|overflow|stats
 *                              misuse, for the error messages
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kmm_malloc.h"

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* --- Blocks with a pattern ------------------------------------------------------------ */

struct block {
	unsigned char *p;
	size_t size;
	uint32_t tag;
};

/*
 * The pattern: a byte that depends on the tag and the offset, at both ends,
 * in the middle and every 4 KiB in between (writes that overlap agree).
 */
static unsigned char pattern(const struct block *b, size_t off)
{
	return (unsigned char)(b->tag * 31 + off * 7 + (off >> 8));
}

#define FOR_EACH_MARK(b, off)                                                 \
	for (size_t off_i_ = 0, off; off_i_ < (b)->size / 4096 + 4; off_i_++) \
		if ((off = off_i_ < 3 ? (off_i_ == 0   ? 0                    \
					 : off_i_ == 1 ? (b)->size - 1        \
						       : (b)->size / 2)       \
				      : (off_i_ - 3) * 4096) < (b)->size)

static void fill(struct block *b)
{
	FOR_EACH_MARK(b, off)
	b->p[off] = pattern(b, off);
}

static int check(const struct block *b)
{
	FOR_EACH_MARK(b, off)
	if (b->p[off] != pattern(b, off))
		return 0;
	return 1;
}

static size_t random_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng) % 1000;
	if (r < 700)
		return 1 + rng_next(rng) % 256;
	if (r < 950)
		return 257 + rng_next(rng) % 8000;
	if (r < 998)
		return 8193 + rng_next(rng) % (512 * 1024);
	return (4u << 20) + rng_next(rng) % (2u << 20);
}

/* --- threads ------------------------------------------------------------------------------ */

#define SLOTS	64
#define MAILBOX 256

static struct block mailbox[MAILBOX];
static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long errors, passed;

struct worker {
	int id;
	unsigned long ops;
	uint64_t seed;
};

static void bad(const char *what, const struct block *b)
{
	fprintf(stderr, "stress: %s: block %p size %zu tag %u\n", what, (void *)b->p, b->size,
		b->tag);
	__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
}

static void release(struct block *b)
{
	if (!check(b))
		bad("pattern damaged", b);
	free(b->p);
	b->p = NULL;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->seed;
	struct block slot[SLOTS] = {{0}};
	for (unsigned long op = 0; op < w->ops; op++) {
		struct block *b = &slot[rng_next(&rng) % SLOTS];
		uint64_t what = rng_next(&rng) % 100;
		if (b->p && what < 15) {
			/* realloc: the old contents (the common prefix) must survive. */
			size_t size = random_size(&rng);
			size_t keep = size < b->size ? size : b->size;
			unsigned char first = b->p[0], last = b->p[keep - 1];
			unsigned char *q = realloc(b->p, size);
			if (!q) {
				bad("realloc failed", &(struct block){NULL, size, b->tag});
				continue;
			}
			b->p = q;
			if (q[0] != first || q[keep - 1] != last)
				bad("realloc lost data", b);
			b->size = size;
			fill(b);
		} else if (b->p && what < 55) {
			release(b);
		} else if (b->p) {
			/* Give it to whoever comes next; take what is there. */
			pthread_mutex_lock(&mailbox_lock);
			struct block *m = &mailbox[rng_next(&rng) % MAILBOX];
			struct block tmp = *m;
			*m = *b;
			*b = tmp;
			pthread_mutex_unlock(&mailbox_lock);
			if (b->p && !check(b))
				bad("pattern damaged in the mailbox", b);
			__atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);
		} else {
			size_t size = random_size(&rng);
			uint64_t kind = rng_next(&rng) % 10;
			void *p = NULL;
			if (kind < 6) {
				p = malloc(size);
			} else if (kind < 8) {
				p = calloc(1, size);
				for (size_t i = 0; p && i < size; i += 509)
					if (((unsigned char *)p)[i])
						bad("calloc not zero", &(struct block){p, size, 0});
			} else {
				size_t align = (size_t)1 << (4 + rng_next(&rng) % 9);
				if (posix_memalign(&p, align, size))
					p = NULL;
				if (p && ((uintptr_t)p & (align - 1)))
					bad("misaligned", &(struct block){p, size, 0});
			}
			if (!p) {
				bad("allocation failed", &(struct block){NULL, size, 0});
				continue;
			}
			b->p = p;
			b->size = size;
			b->tag = (uint32_t)rng_next(&rng);
			fill(b);
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].p)
			release(&slot[i]);
	return NULL;
}

static int mode_threads(int n, unsigned long ops, uint64_t seed)
{
	/* Three waves: threads exit and new ones take their CPUs. */
	for (int wave = 0; wave < 3; wave++) {
		pthread_t *t = calloc((size_t)n, sizeof(*t));
		struct worker *w = calloc((size_t)n, sizeof(*w));
		for (int i = 0; i < n; i++) {
			w[i] = (struct worker){i, ops, seed * 1000003 + (uint64_t)(wave * n + i)};
			pthread_create(&t[i], NULL, worker, &w[i]);
		}
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		free(t);
		free(w);
	}
	for (int i = 0; i < MAILBOX; i++)
		if (mailbox[i].p)
			release(&mailbox[i]);
	printf("threads: %d threads x 3 waves x %lu operations: %lu errors\n", n, ops, errors);
	return errors != 0;
}

/* --- fork ---------------------------------------------------------------------------------- */

static int stop_workers;

static void *fork_worker(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	struct block slot[SLOTS] = {{0}};
	while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
		struct block *b = &slot[rng_next(&rng) % SLOTS];
		if (b->p) {
			release(b);
			continue;
		}
		b->size = random_size(&rng) % 70000 + 1;
		b->p = malloc(b->size);
		b->tag = (uint32_t)rng_next(&rng);
		if (b->p)
			fill(b);
	}
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].p)
			release(&slot[i]);
	return NULL;
}

static int mode_fork(int n, int forks)
{
	pthread_t t[64];
	int failed = 0;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fork_worker, (void *)(uintptr_t)(i + 1));
	for (int f = 0; f < forks; f++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The child: only this thread; every lock must be free. */
			uint64_t rng = (uint64_t)f;
			struct block b[200];
			for (int i = 0; i < 200; i++) {
				b[i].size = random_size(&rng) % 100000 + 1;
				b[i].p = malloc(b[i].size);
				b[i].tag = (uint32_t)i;
				fill(&b[i]);
			}
			for (int i = 0; i < 200; i++)
				if (!check(&b[i]))
					_exit(3);
			for (int i = 0; i < 200; i++)
				free(b[i].p);
			/* The child may have threads of its own. */
			pthread_t c;
			pthread_create(&c, NULL, worker,
				       &(struct worker){0, 2000, (uint64_t)f * 7919});
			pthread_join(c, NULL);
			_exit(errors ? 4 : 0);
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "fork %d: child failed (status %#x)\n", f,
				pid < 0 ? -1 : status);
			failed++;
		}
	}
	__atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("fork: %d threads, %d forks: %d children failed, %lu errors\n", n, forks, failed,
	       errors);
	return failed || errors;
}

/* --- enomem ---------------------------------------------------------------------------------- */

/* 1 MiB blocks until malloc says no; the heap must say ENOMEM, and work again after. */
static int mode_enomem(void)
{
	static void *v[1 << 16];
	size_t n = 0;
	errno = 0;
	while (n < sizeof(v) / sizeof(v[0])) {
		v[n] = malloc(1 << 20);
		if (!v[n])
			break;
		memset(v[n], 0x11, 4096);
		n++;
	}
	int err = errno;
	printf("enomem: %zu blocks of 1 MiB, then %s\n", n,
	       err == ENOMEM ? "ENOMEM" : strerror(err));
	/* Small blocks may still come from partial slabs; large ones cannot. */
	errno = 0;
	void *big = malloc(4 << 20);
	printf("enomem: 4 MiB: %s\n", big ? "allocated" : errno == ENOMEM ? "ENOMEM" : "?");
	free(big);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	void *again = malloc(1 << 20);
	printf("enomem: after freeing: %s\n", again ? "allocated" : "failed");
	free(again);
	return err != ENOMEM || !again;
}

/* Keep the compiler from seeing through a pointer (elided pairs, misuse on purpose). */
static char *hide(char *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* --- rss -------------------------------------------------------------------------------------- */

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Small allocations and frees for @ms milliseconds: the heap's clock ticks on calls. */
static void churn(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 10000; i++)
			free(hide(malloc(64)));
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

/*
 * 256 MiB in 64 KiB runs and 64 MiB in 100-byte objects, touched, then
 * freed. "trim": malloc_trim(0) right away; "decay": small calls for two
 * seconds; "reuse": the same again at once (the heap must not give the
 * memory back in between). Prints the resident set before, at the peak
 * and after, in MiB.
 */
static int mode_rss(const char *how)
{
	enum {
		RUNS = 4096,
		SMALL = (64 << 20) / 100
	};
	static void *run[RUNS], *small[SMALL];
	long base = rss_kib();
	for (int round = 0; round < (strcmp(how, "reuse") ? 1 : 2); round++) {
		for (int i = 0; i < RUNS; i++) {
			run[i] = malloc(64 << 10);
			memset(run[i], i, 64 << 10);
		}
		for (int i = 0; i < SMALL; i++) {
			small[i] = malloc(100);
			memset(small[i], i, 100);
		}
		long peak = rss_kib();
		struct timespec f0, f1;
		clock_gettime(CLOCK_MONOTONIC, &f0);
		for (int i = 0; i < RUNS; i++)
			free(run[i]);
		for (int i = 0; i < SMALL; i++)
			free(small[i]);
		long freed = rss_kib();
		clock_gettime(CLOCK_MONOTONIC, &f1);
		printf(
		    "rss: round %d: base %ld MiB, peak %ld MiB, after free %ld MiB (frees took %ld "
		    "ms)\n",
		    round, base >> 10, peak >> 10, freed >> 10,
		    (long)((f1.tv_sec - f0.tv_sec) * 1000 + (f1.tv_nsec - f0.tv_nsec) / 1000000));
	}
	if (!strcmp(how, "trim")) {
		int r = malloc_trim(0);
		printf("rss: after malloc_trim (%d): %ld MiB\n", r, rss_kib() >> 10);
	} else if (!strcmp(how, "decay")) {
		churn(2500);
		printf("rss: after 2.5 s of small calls: %ld MiB\n", rss_kib() >> 10);
	}
	/* Only under libkmm-malloc: its own figures. */
	void (*stats)(struct kmm_libc_stats *) =
	    (void (*)(struct kmm_libc_stats *))dlsym(RTLD_DEFAULT, "kmm_libc_stats");
	if (stats) {
		struct kmm_libc_stats st;
		stats(&st);
		fprintf(stderr, "rss: the heap gave %lu MiB back to the host\n",
			st.purged_blocks * 4);
	}
	return 0;
}

/* --- misuse ------------------------------------------------------------------------------------- */

static int mode_misuse(const char *what)
{
	char *volatile p = malloc(48);
	memset(p, 1, 48);
	if (!strcmp(what, "doublefree")) {
		char *again = hide(p);
		free(p);
		free(again);
	} else if (!strcmp(what, "badfree")) {
		free(hide(p + 16));
	} else if (!strcmp(what, "stackfree")) {
		char local[32];
		free(hide(local + (p[0] - 1)));
	} else if (!strcmp(what, "overflow")) {
		p[48] = 0x42; /* one past the end: the red zone (KMM_MALLOC_DEBUG=1) */
		free(p);
		p = malloc(48);
		free(p);
	} else if (!strcmp(what, "bigdouble")) {
		char *b = malloc(100 << 10);
		char *again = hide(b);
		free(b);
		free(again);
	} else if (!strcmp(what, "stats")) {
		free(p);
		printf("stats: done\n");
		return 0;
	} else {
		fprintf(stderr, "stress: unknown mode %s\n", what);
		return 2;
	}
	printf("misuse: %s was not caught\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && !strcmp(argv[1], "threads"))
		return mode_threads(atoi(argv[2]), strtoul(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0));
	if (argc >= 4 && !strcmp(argv[1], "fork"))
		return mode_fork(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "enomem"))
		return mode_enomem();
	if (argc >= 3 && !strcmp(argv[1], "rss"))
		return mode_rss(argv[2]);
	if (argc >= 2)
		return mode_misuse(argv[1]);
	fprintf(stderr,
		"usage: stress threads N OPS SEED | fork N FORKS | enomem | rss "
		"trim|decay|reuse | doublefree|badfree|stackfree|overflow|bigdouble|stats\n");
	return 2;
}
