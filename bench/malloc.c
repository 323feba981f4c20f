/*
 * bench/malloc: libkmm-malloc against glibc, jemalloc, mimalloc and tcmalloc.
 *
 * Linux: none; the kernel's allocators (slab, buddy) are what libkmm-malloc
 * is built from, and this puts them against the C libraries' allocators on
 * classic allocator workloads, written here:
 *
 *   churn      one thread, 50,000 slots: free a random slot and allocate a
 *              random size in it (60% 16-128 B, 30% to 1 KiB, 9% to 8 KiB,
 *              1% to 64 KiB); every new block is written whole
 *   churn-mt   the same in 4 threads, each with its own slots
 *   prodcons   2 producer threads allocate 16-512 B, 2 consumers free them
 *              (every free on another thread than the allocation)
 *   larson     4 threads replace random objects in one shared array
 *              (atomic exchange, then free the old object): the server
 *              pattern where objects die on other threads than their birth
 *   realloc    buffers grow to 96 MiB by realloc()ing 64 KiB more each time
 *              and writing the new part (string builders, vectors)
 *   fragment   phases of small, medium and large objects where one in ten
 *              outlives its phase: peak RSS against peak live bytes shows
 *              how well freed memory of one size serves another
 *
 * Each (workload, allocator) runs in a fresh child process of this program,
 * with LD_PRELOAD for the allocator (none for glibc), so every allocator
 * starts clean; the child reports its wall time and peak RSS (VmHWM). The
 * figures are medians over repetitions. The peers are Debian's packages
 * (libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4), installed with
 * apt-get when missing and running as root, or left out with a note.
 *
 * Goals (the malloc issue): the geometric mean of times at most 1.1x
 * mimalloc's and below glibc's, jemalloc's and tcmalloc's; peak RSS at most
 * 1.2x the smallest peer's, per workload.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1UL << 20)

/* --- Allocators -------------------------------------------------------------------------- */

struct allocator {
	const char *name;
	const char *lib; /* LD_PRELOAD, NULL for glibc; "" until found */
	const char *package;
	bool present;
};

static struct allocator allocs[] = {
    {"glibc", NULL, NULL, true},
    {"kmm", "", NULL, false},
    {"jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "libjemalloc2", false},
    {"mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "libmimalloc2.0", false},
    {"tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4",
     false},
};
#define NR_ALLOCS (sizeof(allocs) / sizeof(allocs[0]))
enum {
	A_GLIBC,
	A_KMM,
	A_JEMALLOC,
	A_MIMALLOC,
	A_TCMALLOC
};

static char kmm_lib[PATH_MAX + 32];

static void find_allocators(void)
{
	/* libkmm-malloc.so sits in the build directory, one up from bench/. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		snprintf(kmm_lib, sizeof(kmm_lib), "%s/../libkmm-malloc.so", exe);
	}
	allocs[A_KMM].lib = kmm_lib;
	allocs[A_KMM].present = access(kmm_lib, R_OK) == 0;

	bool missing = false;
	for (size_t i = A_JEMALLOC; i < NR_ALLOCS; i++)
		missing |= access(allocs[i].lib, R_OK) != 0;
	if (missing && geteuid() == 0) {
		printf("Installing the peers: apt-get install libjemalloc2 libmimalloc2.0 "
		       "libtcmalloc-minimal4\n");
		if (system("apt-get install -y -q libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 "
			   ">/dev/null 2>&1"))
			printf("apt-get install failed: the missing peers are left out\n");
	}
	for (size_t i = A_JEMALLOC; i < NR_ALLOCS; i++) {
		allocs[i].present = access(allocs[i].lib, R_OK) == 0;
		if (!allocs[i].present)
			printf("%s is not installed (Debian: apt-get install %s): left out\n",
			       allocs[i].name, allocs[i].package);
	}
}

/* --- Workloads (run in the child, on whatever malloc it has) ------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t churn_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng) % 100;
	if (r < 60)
		return 16 + rng_next(rng) % 113;
	if (r < 90)
		return 129 + rng_next(rng) % 896;
	if (r < 99)
		return 1025 + rng_next(rng) % 7168;
	return 8193 + rng_next(rng) % (56 * 1024);
}

/*
 * Write a new block as a program would: all of it. (An allocator that backs
 * memory ahead of use, as kmm does in 4 MiB blocks, would otherwise be
 * charged for pages another allocator never had the program touch.)
 */
static void touch(void *p, size_t size)
{
	memset(p, 0x5a, size);
}

static double scale = 1.0;

static unsigned long scaled(double n)
{
	double v = n * scale;
	return v < 1 ? 1 : (unsigned long)v;
}

struct churn_arg {
	uint64_t seed;
	unsigned long slots, iters;
};

static void *churn_thread(void *argp)
{
	struct churn_arg *a = argp;
	uint64_t rng = a->seed;
	void **slot = calloc(a->slots, sizeof(void *));
	for (unsigned long i = 0; i < a->iters; i++) {
		unsigned long s = rng_next(&rng) % a->slots;
		free(slot[s]);
		size_t size = churn_size(&rng);
		slot[s] = malloc(size);
		touch(slot[s], size);
	}
	for (unsigned long s = 0; s < a->slots; s++)
		free(slot[s]);
	free(slot);
	return NULL;
}

static void run_threads(int n, void *(*fn)(void *), void *args, size_t arg_size)
{
	pthread_t t[16];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * arg_size);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void w_churn(void)
{
	struct churn_arg a = {1, 50000, scaled(4e6)};
	churn_thread(&a);
}

static void w_churn_mt(void)
{
	struct churn_arg a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (struct churn_arg){(uint64_t)i + 10, 20000, scaled(1.5e6)};
	run_threads(4, churn_thread, a, sizeof(a[0]));
}

/* A single-producer single-consumer ring of pointers. */
#define RING 4096
struct ring {
	void *slot[RING];
	_Alignas(64) unsigned long head; /* written by the producer */
	_Alignas(64) unsigned long tail; /* written by the consumer */
	unsigned long items;
	uint64_t seed;
};

static void *producer(void *argp)
{
	struct ring *r = argp;
	uint64_t rng = r->seed;
	for (unsigned long i = 0; i < r->items; i++) {
		size_t size = 16 + rng_next(&rng) % 497;
		void *p = malloc(size);
		touch(p, size);
		while (r->head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= RING)
			sched_yield();
		r->slot[r->head % RING] = p;
		__atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *consumer(void *argp)
{
	struct ring *r = argp;
	for (unsigned long i = 0; i < r->items; i++) {
		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == r->tail)
			sched_yield();
		free(r->slot[r->tail % RING]);
		__atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void w_prodcons(void)
{
	static struct ring rings[2];
	pthread_t t[4];
	for (int i = 0; i < 2; i++) {
		rings[i] = (struct ring){.items = scaled(2e6), .seed = (uint64_t)i + 20};
		pthread_create(&t[2 * i], NULL, producer, &rings[i]);
		pthread_create(&t[2 * i + 1], NULL, consumer, &rings[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

#define LARSON_SLOTS 10000
static void *larson_slot[LARSON_SLOTS];

static void *larson_thread(void *argp)
{
	struct churn_arg *a = argp;
	uint64_t rng = a->seed;
	for (unsigned long i = 0; i < a->iters; i++) {
		size_t size = 16 + rng_next(&rng) % 497;
		void *p = malloc(size);
		touch(p, size);
		void *old = __atomic_exchange_n(&larson_slot[rng_next(&rng) % LARSON_SLOTS], p,
						__ATOMIC_ACQ_REL);
		free(old);
	}
	return NULL;
}

static void w_larson(void)
{
	struct churn_arg a[4];
	for (int i = 0; i < 4; i++)
		a[i] = (struct churn_arg){(uint64_t)i + 30, 0, scaled(1.5e6)};
	run_threads(4, larson_thread, a, sizeof(a[0]));
	for (int i = 0; i < LARSON_SLOTS; i++)
		free(larson_slot[i]);
}

static void w_realloc(void)
{
	unsigned long rounds = scale < 1 ? 2 : 4;
	size_t target = (size_t)(96 * MiB * (scale < 1 ? scale : 1));
	for (unsigned long r = 0; r < rounds; r++) {
		char *buf = NULL;
		size_t size = 0;
		while (size < target) {
			size_t more = 64 * 1024 + (size_t)(r * 977 % 4096);
			buf = realloc(buf, size + more);
			memset(buf + size, (int)r, more);
			size += more;
		}
		if (buf[size / 2] != (char)r)
			abort();
		free(buf);
	}
}

/* Live bytes, for the fragmentation workload (one thread). */
static size_t live, max_live;

static void *frag_alloc(size_t size)
{
	void *p = malloc(size);
	memset(p, 0x33, size);
	live += size;
	if (live > max_live)
		max_live = live;
	return p;
}

static void w_fragment(void)
{
	enum {
		PHASES = 9
	};
	unsigned long per_phase = scaled(400000);
	void **keep = calloc(PHASES * per_phase / 10 + 1, sizeof(void *));
	size_t *keep_size = calloc(PHASES * per_phase / 10 + 1, sizeof(size_t));
	void **tmp = calloc(per_phase, sizeof(void *));
	size_t *tmp_size = calloc(per_phase, sizeof(size_t));
	unsigned long nkeep = 0;
	uint64_t rng = 40;
	for (int phase = 0; phase < PHASES; phase++) {
		/* Each phase has its own sizes; the memory of the last must serve it. */
		size_t lo = phase % 3 == 0 ? 16 : phase % 3 == 1 ? 256 : 4096;
		size_t span = phase % 3 == 0 ? 240 : phase % 3 == 1 ? 3840 : 28672;
		unsigned long n = phase % 3 == 2 ? per_phase / 16 : per_phase;
		unsigned long ntmp = 0;
		for (unsigned long i = 0; i < n; i++) {
			size_t size = lo + rng_next(&rng) % span;
			void *p = frag_alloc(size);
			if (rng_next(&rng) % 10 == 0) {
				keep[nkeep] = p;
				keep_size[nkeep++] = size;
			} else {
				tmp[ntmp] = p;
				tmp_size[ntmp++] = size;
			}
		}
		/* The short-lived die in random order. */
		for (unsigned long i = ntmp; i > 1; i--) {
			unsigned long j = rng_next(&rng) % i;
			void *t = tmp[i - 1];
			size_t ts = tmp_size[i - 1];
			tmp[i - 1] = tmp[j];
			tmp_size[i - 1] = tmp_size[j];
			tmp[j] = t;
			tmp_size[j] = ts;
		}
		for (unsigned long i = 0; i < ntmp; i++) {
			free(tmp[i]);
			live -= tmp_size[i];
		}
	}
	for (unsigned long i = 0; i < nkeep; i++)
		free(keep[i]);
	free(keep);
	free(keep_size);
	free(tmp);
	free(tmp_size);
}

struct workload {
	const char *name;
	void (*run)(void);
	const char *what;
};

static const struct workload workloads[] = {
    {"churn", w_churn, "1 thread, random sizes, 4M replacements"},
    {"churn-mt", w_churn_mt, "4 threads, own slots, 1.5M replacements each"},
    {"prodcons", w_prodcons, "2 producers, 2 consumers, 2M objects each pair"},
    {"larson", w_larson, "4 threads, shared array, 1.5M replacements each"},
    {"realloc", w_realloc, "4 buffers grown to 96 MiB by 64 KiB reallocs"},
    {"fragment", w_fragment, "9 phases of three size ranges, 10% long-lived"},
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			v = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* The child: run one workload, print "result <ns> <peak RSS KiB> <peak live bytes>". */
static int child(const char *name)
{
	const char *s = getenv("KMM_BENCH_MALLOC_SCALE");
	if (s)
		scale = strtod(s, NULL);
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		if (strcmp(workloads[i].name, name))
			continue;
		uint64_t t0 = bench_now_ns();
		workloads[i].run();
		uint64_t t1 = bench_now_ns();
		printf("result %llu %ld %zu\n", (unsigned long long)(t1 - t0), vm_hwm_kib(),
		       max_live);
		return 0;
	}
	fprintf(stderr, "malloc: unknown workload '%s'\n", name);
	return 2;
}

/* --- The parent: run children, tabulate ---------------------------------------------------- */

struct sample {
	double ms, rss_mib, live_mib;
	bool ok;
};

static struct sample run_child(const struct workload *w, const struct allocator *a)
{
	struct sample s = {0};
	int fds[2];
	if (pipe(fds))
		return s;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		char sc[32];
		snprintf(sc, sizeof(sc), "%g", scale);
		setenv("KMM_BENCH_MALLOC_SCALE", sc, 1);
		setenv("KMM_BENCH_MALLOC_CHILD", w->name, 1);
		if (a->lib)
			setenv("LD_PRELOAD", a->lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", "malloc", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[256] = "";
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	unsigned long long ns;
	long hwm;
	size_t live_bytes;
	if (n > 0 && WIFEXITED(status) && !WEXITSTATUS(status) &&
	    sscanf(buf, "result %llu %ld %zu", &ns, &hwm, &live_bytes) == 3) {
		s.ms = (double)ns / 1e6;
		s.rss_mib = (double)hwm / 1024;
		s.live_mib = (double)live_bytes / MiB;
		s.ok = true;
	} else {
		fprintf(stderr, "malloc: %s under %s failed (status %#x)\n", w->name, a->name,
			status);
	}
	return s;
}

static struct sample result[NR_WORKLOADS][NR_ALLOCS];

static void measure(int reps)
{
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		for (size_t a = 0; a < NR_ALLOCS; a++) {
			double ms[16], rss[16], lv = 0;
			int n = 0;
			if (!allocs[a].present)
				continue;
			for (int r = 0; r < reps; r++) {
				struct sample s = run_child(&workloads[w], &allocs[a]);
				if (!s.ok)
					break;
				ms[n] = s.ms;
				rss[n++] = s.rss_mib;
				lv = s.live_mib;
			}
			if (n == reps)
				result[w][a] = (struct sample){bench_median(ms, n),
							       bench_median(rss, n), lv, true};
		}
	}
}

/* The smallest present value of a column, over the allocators (kmm included if @with_kmm). */
static double best(size_t w, bool rss, bool with_kmm)
{
	double b = NAN;
	for (size_t a = 0; a < NR_ALLOCS; a++) {
		if (!result[w][a].ok || (!with_kmm && a == A_KMM))
			continue;
		double v = rss ? result[w][a].rss_mib : result[w][a].ms;
		if (isnan(b) || v < b)
			b = v;
	}
	return b;
}

static void print_table(bool rss)
{
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "workload", -9);
	for (size_t a = 0; a < NR_ALLOCS; a++)
		bench_table_col(&t, allocs[a].name, 14);
	bench_table_header(&t);
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		bench_table_cell(&t, "%s", workloads[w].name);
		double b = best(w, rss, true);
		for (size_t a = 0; a < NR_ALLOCS; a++) {
			if (!result[w][a].ok) {
				bench_table_cell(&t, "n/a");
				continue;
			}
			double v = rss ? result[w][a].rss_mib : result[w][a].ms;
			char num[32];
			bench_fmt(num, sizeof(num), v);
			bench_table_cell(&t, "%s (%.2fx)", num, v / b);
		}
	}
}

static double geomean(size_t a, bool *complete)
{
	double sum = 0;
	int n = 0;
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		if (!result[w][a].ok) {
			*complete = false;
			continue;
		}
		sum += log(result[w][a].ms);
		n++;
	}
	return n ? exp(sum / n) : NAN;
}

int main(int argc, char **argv)
{
	const char *c = getenv("KMM_BENCH_MALLOC_CHILD");
	if (c)
		return child(c);

	struct bench_opts o;
	argc = bench_init(&o, argc, argv, "malloc", NULL, NULL);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	if (o.quick)
		scale = 0.1;
	int reps = bench_reps(&o, 3, 1);

	bench_section("malloc: libkmm-malloc and its peers, each workload in a fresh process%s",
		      o.quick ? " (quick: 10% of the work)" : "");
	find_allocators();
	if (!allocs[A_KMM].present) {
		fprintf(stderr, "malloc: %s is missing (build the kmm_malloc target)\n", kmm_lib);
		return 1;
	}
	printf("\nWorkloads (medians of %d runs):\n\n", reps);
	for (size_t w = 0; w < NR_WORKLOADS; w++)
		printf("- %s: %s\n", workloads[w].name, workloads[w].what);
	measure(reps);

	printf("\nWall time, ms (ratio to the best):\n\n");
	print_table(false);
	printf("\nPeak RSS, MiB (ratio to the smallest):\n\n");
	print_table(true);
	size_t fw = NR_WORKLOADS - 1;
	if (result[fw][A_KMM].ok)
		printf(
		    "\nfragment: peak live %.1f MiB; peak RSS / peak live: kmm %.2f, glibc %.2f\n",
		    result[fw][A_KMM].live_mib,
		    result[fw][A_KMM].rss_mib / result[fw][A_KMM].live_mib,
		    result[fw][A_GLIBC].rss_mib / result[fw][A_GLIBC].live_mib);

	printf("\nGoals:\n\n");
	bench_goal_header();
	bool complete = true;
	double g[NR_ALLOCS];
	for (size_t a = 0; a < NR_ALLOCS; a++)
		g[a] = allocs[a].present ? geomean(a, &complete) : NAN;
	int misses = 0;
	if (!bench_goal("time geomean vs mimalloc", g[A_KMM] / g[A_MIMALLOC], 1.1, "x"))
		misses++;
	const size_t below[] = {A_GLIBC, A_JEMALLOC, A_TCMALLOC};
	for (size_t i = 0; i < 3; i++) {
		char what[64];
		snprintf(what, sizeof(what), "time geomean vs %s", allocs[below[i]].name);
		if (!bench_goal(what, g[A_KMM] / g[below[i]], 1.0, "x"))
			misses++;
	}
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		char what[64];
		snprintf(what, sizeof(what), "peak RSS %s vs smallest peer", workloads[w].name);
		double ratio =
		    result[w][A_KMM].ok ? result[w][A_KMM].rss_mib / best(w, true, false) : NAN;
		if (!bench_goal(what, ratio, 1.2, "x"))
			misses++;
	}

	printf("\n");
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		for (size_t a = 0; a < NR_ALLOCS; a++) {
			if (!result[w][a].ok)
				continue;
			char name[96];
			snprintf(name, sizeof(name), "malloc_%s_%s_ms", workloads[w].name,
				 allocs[a].name);
			for (char *p = name; *p; p++)
				if (*p == '-')
					*p = '_';
			bench_figure(name, result[w][a].ms, "ms");
			snprintf(name + strlen(name) - 2, 8, "rss");
			bench_figure(name, result[w][a].rss_mib, "MiB");
		}
	}
	for (size_t a = 0; a < NR_ALLOCS; a++) {
		char name[64];
		snprintf(name, sizeof(name), "malloc_geomean_%s_ms", allocs[a].name);
		bench_figure(name, g[a], "ms");
	}
	bench_figure("malloc_kmm_vs_mimalloc_time", g[A_KMM] / g[A_MIMALLOC], "x");
	(void)complete;
	(void)misses;
	return 0;
}
