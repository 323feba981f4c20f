/*
 * bench/slab: the slab allocator against the host's allocators.
 *
 * Linux counterpart: Jesper Dangaard Brouer's slab_bulk_test01 module
 * (github.com/netoptimizer/prototype-kernel, kernel/mm/bench/), which times
 * kmem_cache_alloc/kmem_cache_free pairs and kmem_cache_alloc_bulk/free_bulk
 * on SLUB. His figures in the commits that added SLUB's bulk API (Linux
 * 0b4d334ff0d8 "slub bulk alloc: extract objects from the per cpu slab" and
 * fbd02630c6e3 "slub: initial bulk free implementation", 2015; an i7-4790K
 * at 4 GHz): 42 cycles (10.55 ns) for a fast-path alloc+free pair, 17-18
 * cycles per object in bulk of 8 to 30.
 *
 * What is measured, in ns per operation, as the median of many short runs
 * timed on the thread's CPU clock (see cpu_ns_per_iter):
 *  - pair: an allocation and its free, one object at a time, so every
 *    call takes the fast path (64 and 256 byte objects);
 *  - alloc N then free N (N = 16, 1024, 100000) in allocation order: small
 *    N stays on the CPU's freelist, large N goes through the slow paths
 *    (new slabs, full slabs, partial lists, slabs back to the page
 *    allocator);
 *  - remote free: one host thread allocates, another frees (producer and
 *    consumer, each on its own simulated CPU), passing the objects through a
 *    ring; the CPU time of both threads per object;
 *  - bulk 16 and 64: kmem_cache_alloc_bulk and kmem_cache_free_bulk, per
 *    object (the peers have no bulk API: N mallocs then N frees);
 *  - kmalloc of mixed sizes: a fixed pseudo-random sequence of sizes from 8
 *    to 8192 bytes, log-uniform (as many 8-15 byte requests as 4096-8192
 *    byte ones), through 256 live slots (each step frees the oldest object
 *    and allocates the next size), and as pairs (each object freed at once);
 *  - instructions per 64-byte pair, per object in bulk 16 and per mixed
 *    step, counted by callgrind.
 *
 * The peers run in the same program and the same loops: glibc's malloc and,
 * when their Debian packages are installed, jemalloc, mimalloc and tcmalloc,
 * loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) so that each keeps its own
 * heap beside glibc's, and called through their malloc and free. A pointer
 * of each is checked to come from that allocator (its own accounting or
 * ownership call). Running as root, the program installs missing peers with
 * apt-get once at the start. kmm's columns call kmm directly; the peers are
 * called through a function pointer, as a shared library's PLT would.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The goals (issue 4): SLUB's figures are above. */
#define GOAL_PAIR_NS	     5.0
#define GOAL_BULK_NS	     3.0
#define GOAL_MIXED_VS_GLIBC  0.5 /* at least twice as fast */
#define GOAL_MIXED_VS_MIMALL 1.2 /* within 1.2 times */
#define SLUB_PAIR_CYCLES     42
#define SLUB_PAIR_NS	     10.55
#define SLUB_BULK_CYCLES     18

#define MACHINE "--mem 512M --nodes 1 --cpus 2"

/* The mixed-size workload. */
#define MIXED_SLOTS  256
#define MIXED_SEQ    (1u << 16)
#define MIXED_SEED   0x5eed2015u
#define VERIFY_BYTES 12345 /* an allocation size no cache or tcache holds */
#define MAX_REPS     1000  /* bench_init accepts --reps up to 1000 */
/*
 * Each timed run is short: on two vCPUs shared with busy neighbours a
 * quarter of a millisecond is often not interrupted, and the median of many
 * such runs is the undisturbed figure.
 */
#define REP_NS	     250000

/* --- The allocators ------------------------------------------------------------------ */

enum kind {
	K_CACHE,   /* kmm_kmem_cache_alloc / kmm_kmem_cache_free */
	K_KMALLOC, /* kmm_kmalloc / kmm_kfree */
	K_PEER,	   /* a host allocator's malloc / free */
};

struct allocator {
	const char *title; /* the table's column */
	const char *tag;   /* in figure names */
	enum kind kind;
	const char *soname;  /* a peer loaded with dlopen (NULL: kmm, or glibc itself) */
	const char *package; /* its Debian package */
	bool present;
	bool missing; /* its library is not installed (rather than failing to load) */
	char version[32];
	char why[200]; /* why a peer is absent */
	void *(*malloc)(size_t);
	void (*free)(void *);
};

enum {
	A_CACHE,
	A_KMALLOC,
	A_GLIBC,
	A_JEMALLOC,
	A_MIMALLOC,
	A_TCMALLOC,
	NR_ALLOCS
};

static struct allocator allocs[NR_ALLOCS] = {
    [A_CACHE] = {.title = "kmm cache", .tag = "kmm_cache", .kind = K_CACHE, .present = true},
    [A_KMALLOC] = {.title = "kmm kmalloc",
		   .tag = "kmm_kmalloc",
		   .kind = K_KMALLOC,
		   .present = true},
    [A_GLIBC] = {.title = "glibc", .tag = "glibc", .kind = K_PEER},
    [A_JEMALLOC] = {.title = "jemalloc",
		    .tag = "jemalloc",
		    .kind = K_PEER,
		    .soname = "libjemalloc.so.2",
		    .package = "libjemalloc2"},
    [A_MIMALLOC] = {.title = "mimalloc",
		    .tag = "mimalloc",
		    .kind = K_PEER,
		    .soname = "libmimalloc.so.2",
		    .package = "libmimalloc2.0"},
    [A_TCMALLOC] = {.title = "tcmalloc",
		    .tag = "tcmalloc",
		    .kind = K_PEER,
		    .soname = "libtcmalloc_minimal.so.4",
		    .package = "libtcmalloc-minimal4"},
};

/*
 * Does @p come from the peer loaded as @h? Each allocator's own books say:
 * glibc's and jemalloc's byte counts grow by the allocation, mimalloc and
 * tcmalloc answer an ownership question.
 */
static bool peer_owns(struct allocator *a, void *h, void *(*alloc)(size_t), void (*release)(void *))
{
	bool ok = false;
	if (a - allocs == A_GLIBC) {
		struct mallinfo2 before = mallinfo2();
		void *p = alloc(VERIFY_BYTES);
		ok = p && mallinfo2().uordblks >= before.uordblks + VERIFY_BYTES;
		release(p);
		snprintf(a->version, sizeof(a->version), "%s", gnu_get_libc_version());
	} else if (a - allocs == A_JEMALLOC) {
		int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
		    (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(h, "mallctl");
		uint64_t before = 0, after = 0;
		size_t len = sizeof(before);
		const char *version = NULL;
		if (!mallctl || mallctl("thread.allocated", &before, &len, NULL, 0))
			return false;
		void *p = alloc(VERIFY_BYTES);
		len = sizeof(after);
		ok = p && !mallctl("thread.allocated", &after, &len, NULL, 0) &&
		     after >= before + VERIFY_BYTES;
		release(p);
		len = sizeof(version);
		if (!mallctl("version", &version, &len, NULL, 0) && version)
			snprintf(a->version, sizeof(a->version), "%.*s", (int)strcspn(version, "-"),
				 version);
	} else if (a - allocs == A_MIMALLOC) {
		bool (*in_heap)(const void *) =
		    (bool (*)(const void *))dlsym(h, "mi_is_in_heap_region");
		int (*version)(void) = (int (*)(void))dlsym(h, "mi_version");
		void *p = alloc(VERIFY_BYTES);
		ok = p && in_heap && in_heap(p);
		release(p);
		if (version)
			snprintf(a->version, sizeof(a->version), "%d.%d.%d", version() / 100,
				 version() / 10 % 10, version() % 10);
	} else if (a - allocs == A_TCMALLOC) {
		int (*ownership)(const void *) =
		    (int (*)(const void *))dlsym(h, "MallocExtension_GetOwnership");
		const char *(*version)(int *, int *, const char **) =
		    (const char *(*)(int *, int *, const char **))dlsym(h, "tc_version");
		void *p = alloc(VERIFY_BYTES);
		ok = p && ownership && ownership(p) == 1; /* MallocExtension::kOwned */
		release(p);
		int major, minor;
		const char *patch;
		if (version) {
			version(&major, &minor, &patch);
			snprintf(a->version, sizeof(a->version), "%d.%d%s", major, minor,
				 patch ? patch : "");
		}
	}
	return ok;
}

/* Load one peer (glibc: the process's own malloc). Idempotent; false with a->why. */
static bool load_peer(struct allocator *a)
{
	void *h = RTLD_DEFAULT;
	Dl_info info;

	if (a->present)
		return true;
	if (a->soname) {
		h = dlopen(a->soname, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
		if (!h) {
			const char *msg = dlerror();
			a->missing = msg && strstr(msg, "cannot open shared object file");
			snprintf(a->why, sizeof(a->why), "%s (%s)",
				 a->missing ? "not installed" : "cannot be loaded",
				 msg ? msg : "?");
			return false;
		}
		a->malloc = (void *(*)(size_t))dlsym(h, "malloc");
		a->free = (void (*)(void *))dlsym(h, "free");
	} else {
		a->malloc = malloc;
		a->free = free;
	}
	const char *want = a->soname ? a->soname : "libc.so";
	if (!a->malloc || !a->free || !dladdr((void *)a->malloc, &info) || !info.dli_fname ||
	    !strstr(info.dli_fname, want)) {
		snprintf(a->why, sizeof(a->why), "its malloc is not in %s", want);
		return false;
	}
	if (!peer_owns(a, h, a->malloc, a->free)) {
		snprintf(a->why, sizeof(a->why),
			 "a pointer from its malloc is not %s's (check failed)", a->title);
		return false;
	}
	a->present = true;
	return true;
}

/*
 * Load every peer; as root, install the missing ones with apt-get first
 * (quietly, once), and say what happened.
 */
static void setup_peers(void)
{
	char pkgs[128] = "";
	for (int i = A_GLIBC; i < NR_ALLOCS; i++)
		if (!load_peer(&allocs[i]) && allocs[i].missing)
			snprintf(pkgs + strlen(pkgs), sizeof(pkgs) - strlen(pkgs), " %s",
				 allocs[i].package);
	if (pkgs[0]) {
		char cmd[512];
		if (geteuid() != 0) {
			printf("note: not root, so the missing peers are not installed; as root: "
			       "apt-get install%s\n",
			       pkgs);
		} else if (system("command -v apt-get >/dev/null 2>&1") != 0) {
			printf("note: no apt-get, so the missing peers (%s) are not installed\n",
			       pkgs + 1);
		} else {
			/* The package lists may be stale or missing: update once if needed. */
			snprintf(
			    cmd, sizeof(cmd),
			    "export DEBIAN_FRONTEND=noninteractive; "
			    "apt-get install -y -qq --no-install-recommends%s >/dev/null 2>&1 || "
			    "{ apt-get update -qq >/dev/null 2>&1 && "
			    "apt-get install -y -qq --no-install-recommends%s >/dev/null 2>&1; }",
			    pkgs, pkgs);
			printf("installing the missing peers with apt-get:%s\n", pkgs);
			fflush(stdout);
			if (system(cmd) != 0)
				printf("note: apt-get install%s failed (no network or no package "
				       "lists?); those columns are n/a\n",
				       pkgs);
			for (int i = A_JEMALLOC; i < NR_ALLOCS; i++)
				load_peer(&allocs[i]);
		}
	}
	printf("peers:");
	for (int i = A_GLIBC; i < NR_ALLOCS; i++) {
		const struct allocator *a = &allocs[i];
		if (a->present)
			printf(" %s %s (%s)%s", a->title, a->version,
			       a->soname ? a->soname : "libc.so.6", i + 1 < NR_ALLOCS ? "," : "");
		else
			printf(" %s absent: %s%s", a->title, a->why, i + 1 < NR_ALLOCS ? "," : "");
	}
	printf("\n");
}

/*
 * Time on this thread's CPU clock: a neighbour taking the vCPU does not
 * count, which on two shared vCPUs is the difference between a figure and
 * noise. (The remote row adds up the CPU time of its two threads.)
 */
static uint64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- The measured loops ------------------------------------------------------------------ */

/*
 * What a loop works on. The loops are written once and instantiated per
 * kind of allocator, with the kind a constant, so that kmm's columns call
 * kmm directly and every column runs the same code around the calls.
 */
struct run {
	struct kmm_machine *m;
	struct kmm_kmem_cache *cache; /* K_CACHE */
	const struct allocator *a;    /* K_PEER */
	size_t size;		      /* fixed-size loops */
	size_t n;		      /* objects per round (batch, bulk) */
	void **ptrs;		      /* n entries; MIXED_SLOTS for the mixed loop */
	const uint16_t *sizes;	      /* MIXED_SEQ entries */
	uint32_t step;		      /* where the mixed loop is in @sizes */
};

static __attribute__((always_inline)) inline void *op_alloc(const struct run *r, enum kind k,
							    size_t size)
{
	if (k == K_CACHE)
		return kmm_kmem_cache_alloc(r->cache, GFP_KERNEL);
	if (k == K_KMALLOC)
		return kmm_kmalloc(r->m, size, GFP_KERNEL);
	return r->a->malloc(size);
}

static __attribute__((always_inline)) inline void op_free(const struct run *r, enum kind k, void *p)
{
	if (k == K_CACHE)
		kmm_kmem_cache_free(r->cache, p);
	else if (k == K_KMALLOC)
		kmm_kfree(r->m, p);
	else
		r->a->free(p);
}

static void die_oom(const char *what)
{
	fprintf(stderr, "slab: %s: allocation failed\n", what);
	exit(1);
}

/* One object at a time: allocate, free. */
static __attribute__((always_inline)) inline void pair_loop(struct run *r, uint64_t iters,
							    enum kind k)
{
	for (uint64_t i = 0; i < iters; i++) {
		void *p = op_alloc(r, k, r->size);
		if (__builtin_expect(!p, 0))
			die_oom("pair");
		bench_keep(p);
		op_free(r, k, p);
	}
}

/* Rounds of n allocations, then n frees in allocation order. */
static __attribute__((always_inline)) inline void batch_loop(struct run *r, uint64_t iters,
							     enum kind k)
{
	for (uint64_t i = 0; i < iters; i++) {
		for (size_t j = 0; j < r->n; j++) {
			r->ptrs[j] = op_alloc(r, k, r->size);
			if (__builtin_expect(!r->ptrs[j], 0))
				die_oom("batch");
		}
		bench_clobber();
		for (size_t j = 0; j < r->n; j++)
			op_free(r, k, r->ptrs[j]);
	}
}

/* Each step frees a live slot and refills it with the next size of the sequence. */
static __attribute__((always_inline)) inline void mixed_loop(struct run *r, uint64_t iters,
							     enum kind k)
{
	uint32_t step = r->step;
	for (uint64_t i = 0; i < iters; i++, step++) {
		void **slot = &r->ptrs[step % MIXED_SLOTS];
		op_free(r, k, *slot);
		*slot = op_alloc(r, k, r->sizes[step % MIXED_SEQ]);
		if (__builtin_expect(!*slot, 0))
			die_oom("mixed");
	}
	r->step = step;
}

/* The same sizes with nothing live: each object is freed right after its allocation. */
static __attribute__((always_inline)) inline void mixed_pair_loop(struct run *r, uint64_t iters,
								  enum kind k)
{
	uint32_t step = r->step;
	for (uint64_t i = 0; i < iters; i++, step++) {
		void *p = op_alloc(r, k, r->sizes[step % MIXED_SEQ]);
		if (__builtin_expect(!p, 0))
			die_oom("mixed pair");
		bench_keep(p);
		op_free(r, k, p);
	}
	r->step = step;
}

/* kmem_cache_alloc_bulk and kmem_cache_free_bulk of n objects (kmm caches only). */
static void bulk_loop(void *arg, uint64_t iters)
{
	struct run *r = arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (kmm_kmem_cache_alloc_bulk(r->cache, GFP_KERNEL, r->n, r->ptrs) != r->n)
			die_oom("bulk");
		bench_clobber();
		kmm_kmem_cache_free_bulk(r->cache, r->n, r->ptrs);
	}
}

#define KIND_LOOPS(k, tag)                                      \
	static void pair_##tag(void *arg, uint64_t iters)       \
	{                                                       \
		pair_loop(arg, iters, k);                       \
	}                                                       \
	static void batch_##tag(void *arg, uint64_t iters)      \
	{                                                       \
		batch_loop(arg, iters, k);                      \
	}                                                       \
	static void mixed_##tag(void *arg, uint64_t iters)      \
	{                                                       \
		mixed_loop(arg, iters, k);                      \
	}                                                       \
	static void mixed_pair_##tag(void *arg, uint64_t iters) \
	{                                                       \
		mixed_pair_loop(arg, iters, k);                 \
	}                                                       \
	static void *produce_##tag(struct run *r, size_t size)  \
	{                                                       \
		return op_alloc(r, k, size);                    \
	}                                                       \
	static void consume_##tag(struct run *r, void *p)       \
	{                                                       \
		op_free(r, k, p);                               \
	}

KIND_LOOPS(K_CACHE, cache)
KIND_LOOPS(K_KMALLOC, kmalloc)
KIND_LOOPS(K_PEER, peer)

static const struct kind_loops {
	bench_loop_fn pair, batch, mixed, mixed_pair;
	void *(*produce)(struct run *r, size_t size);
	void (*consume)(struct run *r, void *p);
} kind_loops[] = {
    [K_CACHE] = {pair_cache, batch_cache, mixed_cache, mixed_pair_cache, produce_cache,
		 consume_cache},
    [K_KMALLOC] = {pair_kmalloc, batch_kmalloc, mixed_kmalloc, mixed_pair_kmalloc, produce_kmalloc,
		   consume_kmalloc},
    [K_PEER] = {pair_peer, batch_peer, mixed_peer, mixed_pair_peer, produce_peer, consume_peer},
};

/* --- Remote frees: a producer and a consumer thread ------------------------------------ */

/*
 * The producer (this thread, CPU 0) allocates and publishes objects in
 * batches through a ring; the consumer (a second thread, CPU 1) frees them.
 * Each side spins briefly when it must wait, then sleeps on a futex until
 * the ring is half empty (producer) or half full (consumer), so that on two
 * shared vCPUs a descheduled partner costs a sleep, not a burnt time slice.
 * The figure is the CPU time of both threads per object: alloc, free, and
 * the hand-over, independent of how the neighbours share the vCPUs.
 */
#define RING_SLOTS 4096u
#define RING_BATCH 64u /* objects published at a time */
#define RING_SPINS 200 /* pause loops before sleeping */

struct remote {
	struct run *r;
	const struct kind_loops *l;
	uint32_t objects;
	uint32_t head __attribute__((aligned(64))); /* published by the producer */
	uint32_t consumer_sleeps;
	uint32_t tail __attribute__((aligned(64))); /* freed up to, by the consumer */
	uint32_t producer_sleeps;
	uint64_t consumer_ns; /* the consumer's CPU time */
	void *slot[RING_SLOTS] __attribute__((aligned(64)));
};

static void futex_wait(uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}
static void store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Objects published and not yet freed. */
static uint32_t ring_used(struct remote *q)
{
	return load(&q->head) - load(&q->tail);
}

static void *consumer(void *arg)
{
	struct remote *q = arg;
	uint64_t t0 = thread_ns();
	uint32_t t = 0;
	if (q->r->a == NULL && kmm_cpu_enter(q->r->m, 1)) {
		fprintf(stderr, "slab: cannot enter CPU 1\n");
		exit(1);
	}
	while (t < q->objects) {
		uint32_t h = load(&q->head);
		for (int spin = 0; h == t && spin < RING_SPINS; spin++) {
			cpu_relax();
			h = load(&q->head);
		}
		if (h == t) {
			/* Sleep until half a ring is waiting, or the end. */
			uint32_t want =
			    q->objects - t < RING_SLOTS / 2 ? q->objects - t : RING_SLOTS / 2;
			store(&q->consumer_sleeps, 1);
			while ((h = load(&q->head)) - t < want)
				futex_wait(&q->head, h);
			store(&q->consumer_sleeps, 0);
		}
		for (; t != h; t++)
			q->l->consume(q->r, q->slot[t % RING_SLOTS]);
		store(&q->tail, t);
		if (load(&q->producer_sleeps) && h - t <= RING_SLOTS / 2)
			futex_wake(&q->tail);
	}
	if (q->r->a == NULL)
		kmm_cpu_exit(q->r->m);
	q->consumer_ns = thread_ns() - t0;
	return NULL;
}

/* Both threads' CPU ns per object, for @objects objects produced here and freed there. */
static double remote_run(struct run *r, uint32_t objects)
{
	static struct remote q; /* 32 KiB of ring: not on the stack */
	pthread_t thread;
	uint64_t t0 = thread_ns();

	memset(&q, 0, sizeof(q));
	q.r = r;
	q.l = &kind_loops[r->a ? K_PEER : r->cache ? K_CACHE : K_KMALLOC];
	q.objects = objects;
	if (pthread_create(&thread, NULL, consumer, &q)) {
		fprintf(stderr, "slab: cannot create the consumer thread\n");
		exit(1);
	}
	for (uint32_t h = 0; h < objects;) {
		if (h - load(&q.tail) + RING_BATCH > RING_SLOTS) {
			for (int spin = 0;
			     spin < RING_SPINS && h - load(&q.tail) + RING_BATCH > RING_SLOTS;
			     spin++)
				cpu_relax();
			/* Sleep until the ring is half empty. */
			store(&q.producer_sleeps, 1);
			uint32_t t;
			while (h - (t = load(&q.tail)) > RING_SLOTS / 2)
				futex_wait(&q.tail, t);
			store(&q.producer_sleeps, 0);
		}
		uint32_t end = objects - h > RING_BATCH ? h + RING_BATCH : objects;
		for (; h < end; h++) {
			void *p = q.l->produce(r, r->size);
			if (!p)
				die_oom("remote");
			q.slot[h % RING_SLOTS] = p;
		}
		store(&q.head, h);
		if (load(&q.consumer_sleeps) && (ring_used(&q) >= RING_SLOTS / 2 || h == objects))
			futex_wake(&q.head);
	}
	uint64_t producer_ns = thread_ns() - t0;
	pthread_join(thread, NULL);
	return (double)(producer_ns + q.consumer_ns) / objects;
}

/* Median of @reps runs (after a warm-up run). */
static double remote_ns_per_object(struct run *r, uint32_t objects, int reps)
{
	double v[MAX_REPS];
	remote_run(r, objects);
	if (reps > MAX_REPS)
		reps = MAX_REPS;
	for (int i = 0; i < reps; i++)
		v[i] = remote_run(r, objects);
	return bench_median(v, reps);
}

/* --- The machine and the runs -------------------------------------------------------- */

struct env {
	struct kmm_machine *m;
	struct kmm_kmem_cache *cache64, *cache256;
	uint16_t sizes[MIXED_SEQ];
	void *ptrs[100000];
};

/* The size sequence: log-uniform over 8..8192 (xorshift32, a fixed seed). */
static void make_sizes(uint16_t *sizes)
{
	uint32_t x = MIXED_SEED;
	for (unsigned int i = 0; i < MIXED_SEQ; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		unsigned int shift = 3 + x % 10; /* 8 .. 4096 */
		uint32_t y = x >> 8;
		sizes[i] = (uint16_t)((1u << shift) + y % ((1u << shift) + 1));
	}
}

static struct env *env_setup(void)
{
	struct kmm_error err = {0};
	struct env *e = calloc(1, sizeof(*e));
	if (!e)
		die_oom("env");
	e->m = bench_boot(MACHINE, &err);
	if (!e->m) {
		fprintf(stderr, "slab: cannot boot '%s': %s\n", MACHINE, err.msg);
		exit(1);
	}
	if (kmm_cpu_enter(e->m, 0)) {
		fprintf(stderr, "slab: cannot enter CPU 0\n");
		exit(1);
	}
	e->cache64 = kmm_kmem_cache_create(e->m, "bench-64", 64, 0, 0, NULL, &err);
	e->cache256 =
	    e->cache64 ? kmm_kmem_cache_create(e->m, "bench-256", 256, 0, 0, NULL, &err) : NULL;
	if (!e->cache256) {
		fprintf(stderr, "slab: kmem_cache_create: %s\n", err.msg);
		exit(1);
	}
	make_sizes(e->sizes);
	return e;
}

static void env_teardown(struct env *e)
{
	kmm_kmem_cache_destroy(e->cache64);
	kmm_kmem_cache_destroy(e->cache256);
	kmm_cpu_exit(e->m);
	kmm_machine_destroy(e->m);
	free(e);
}

static struct run run_for(struct env *e, int a, size_t size)
{
	struct run r = {.m = e->m, .size = size, .ptrs = e->ptrs, .sizes = e->sizes};
	if (allocs[a].kind == K_CACHE)
		r.cache = size <= 64 ? e->cache64 : e->cache256;
	else if (allocs[a].kind == K_PEER)
		r.a = &allocs[a];
	return r;
}

/* Fill the mixed loop's slots; and empty them. */
static void mixed_fill(struct run *r, int a)
{
	for (unsigned int i = 0; i < MIXED_SLOTS; i++)
		r->ptrs[i] = kind_loops[allocs[a].kind].produce(r, r->sizes[i]);
	r->step = MIXED_SLOTS;
}
static void mixed_empty(struct run *r, int a)
{
	for (unsigned int i = 0; i < MIXED_SLOTS; i++)
		kind_loops[allocs[a].kind].consume(r, r->ptrs[i]);
}

/* --- Instruction counts ----------------------------------------------------------------- */

/* What a callgrind region runs: iterations of one measured loop. */
enum region_kind {
	RK_PAIR,   /* a 64-byte alloc+free pair */
	RK_BULK16, /* 16 objects in bulk (peers: 16 mallocs, 16 frees): /16 per object */
	RK_MIXED,  /* a mixed-size step */
	NR_REGION_KINDS
};
#define BULK_REGION_N 16

struct region_state {
	struct env *e;
	struct run r;
	int a;
	enum region_kind kind;
};

static void *region_setup(int a, enum region_kind kind)
{
	struct region_state *s = calloc(1, sizeof(*s));
	if (!s || (allocs[a].kind == K_PEER && !load_peer(&allocs[a]))) {
		fprintf(stderr, "slab: %s: %s\n", allocs[a].title, s ? allocs[a].why : "no memory");
		exit(3);
	}
	s->e = env_setup();
	s->a = a;
	s->kind = kind;
	s->r = run_for(s->e, a, 64);
	s->r.n = BULK_REGION_N;
	if (kind == RK_MIXED)
		mixed_fill(&s->r, a);
	return s;
}

static void region_run(void *arg, uint64_t iters)
{
	struct region_state *s = arg;
	const struct kind_loops *l = &kind_loops[allocs[s->a].kind];
	if (s->kind == RK_PAIR)
		l->pair(&s->r, iters);
	else if (s->kind == RK_MIXED)
		l->mixed(&s->r, iters);
	else
		(s->a == A_CACHE ? bulk_loop : l->batch)(&s->r, iters);
}

static void region_teardown(void *arg)
{
	struct region_state *s = arg;
	if (s->kind == RK_MIXED)
		mixed_empty(&s->r, s->a);
	env_teardown(s->e);
	free(s);
}

#define REGION_SETUP(a, kind, tag)              \
	static void *setup_##kind##_##tag(void) \
	{                                       \
		return region_setup(a, kind);   \
	}
#define REGION_SETUPS(a, tag)           \
	REGION_SETUP(a, RK_PAIR, tag)   \
	REGION_SETUP(a, RK_BULK16, tag) \
	REGION_SETUP(a, RK_MIXED, tag)
REGION_SETUPS(A_CACHE, cache)
REGION_SETUPS(A_KMALLOC, kmalloc)
REGION_SETUPS(A_GLIBC, glibc)
REGION_SETUPS(A_JEMALLOC, jemalloc)
REGION_SETUPS(A_MIMALLOC, mimalloc)
REGION_SETUPS(A_TCMALLOC, tcmalloc)

/* regions[NR_REGION_KINDS * a + kind]: named <kind>_<tag> */
#define REGIONS(tag)                                                              \
	{"pair_" #tag, setup_RK_PAIR_##tag, region_run, region_teardown},         \
	    {"bulk16_" #tag, setup_RK_BULK16_##tag, region_run, region_teardown}, \
	{                                                                         \
		"mixed_" #tag, setup_RK_MIXED_##tag, region_run, region_teardown  \
	}
static const struct bench_region regions[] = {
    REGIONS(cache),    REGIONS(kmalloc),  REGIONS(glibc),	    REGIONS(jemalloc),
    REGIONS(mimalloc), REGIONS(tcmalloc), {NULL, NULL, NULL, NULL},
};

/* --- The table ---------------------------------------------------------------------------- */

enum row {
	R_PAIR64,
	R_PAIR256,
	R_BATCH16,
	R_BATCH1024,
	R_BATCH100000,
	R_REMOTE,
	R_BULK16,
	R_BULK64,
	R_MIXED,
	R_MIXED_PAIR,
	R_INSN_PAIR,
	R_INSN_BULK16,
	R_INSN_MIXED,
	NR_ROWS
};

static const struct row_desc {
	const char *what, *unit, *tag;
	size_t size, n;
} rows[NR_ROWS] = {
    [R_PAIR64] = {"alloc+free pair, 64 B", "ns", "pair64_ns", 64, 1},
    [R_PAIR256] = {"alloc+free pair, 256 B", "ns", "pair256_ns", 256, 1},
    [R_BATCH16] = {"alloc 16, free 16, 64 B", "ns/obj", "batch16_ns", 64, 16},
    [R_BATCH1024] = {"alloc 1024, free 1024, 64 B", "ns/obj", "batch1024_ns", 64, 1024},
    [R_BATCH100000] = {"alloc 100000, free 100000, 64 B", "ns/obj", "batch100000_ns", 64, 100000},
    [R_REMOTE] = {"remote free (2 threads), 64 B", "ns/obj", "remote_ns", 64, 1},
    [R_BULK16] = {"bulk 16, 64 B", "ns/obj", "bulk16_ns", 64, 16},
    [R_BULK64] = {"bulk 64, 64 B", "ns/obj", "bulk64_ns", 64, 64},
    [R_MIXED] = {"kmalloc mixed 8-8192 B, 256 live", "ns", "mixed_ns", 0, 1},
    [R_MIXED_PAIR] = {"kmalloc mixed 8-8192 B, pairs", "ns", "mixed_pair_ns", 0, 1},
    [R_INSN_PAIR] = {"instructions per pair, 64 B", "insn", "pair64_instructions", 64, 1},
    [R_INSN_BULK16] = {"instructions per object, bulk 16", "insn", "bulk16_instructions", 64, 16},
    [R_INSN_MIXED] = {"instructions per mixed step, 256 live", "insn", "mixed_instructions", 0, 1},
};

static double result[NR_ROWS][NR_ALLOCS];

/* Which cells exist: the cache column has no mixed sizes, kmalloc no bulk API. */
static bool cell_applies(int row, int a)
{
	if (!allocs[a].present)
		return false;
	if (a == A_CACHE)
		return row != R_MIXED && row != R_MIXED_PAIR && row != R_INSN_MIXED;
	if (a == A_KMALLOC)
		return row != R_BULK16 && row != R_BULK64 && row != R_INSN_BULK16;
	return true;
}

static uint64_t time_on_cpu(bench_loop_fn fn, void *arg, uint64_t iters)
{
	uint64_t t0 = thread_ns();
	fn(arg, iters);
	bench_clobber();
	return thread_ns() - t0;
}

/* Median thread-CPU ns per iteration of @reps runs of about @target_ns each. */
static double cpu_ns_per_iter(bench_loop_fn fn, void *arg, uint64_t target_ns, int reps)
{
	uint64_t iters = 1, t;
	double v[MAX_REPS];
	/*
	 * The least of three runs sizes the loop: one interrupted run (or a
	 * vCPU stolen by the hypervisor, which the thread's clock still
	 * counts) would otherwise make every run too short.
	 */
	for (;;) {
		t = UINT64_MAX;
		for (int k = 0; k < 3; k++) {
			uint64_t u = time_on_cpu(fn, arg, iters);
			t = u < t ? u : t;
		}
		if (t >= target_ns / 4)
			break;
		iters *= 2;
	}
	iters = (uint64_t)((double)iters * (double)target_ns / (double)t) + 1;
	time_on_cpu(fn, arg, iters); /* warm-up */
	if (reps > MAX_REPS)
		reps = MAX_REPS;
	for (int r = 0; r < reps; r++)
		v[r] = (double)time_on_cpu(fn, arg, iters) / (double)iters;
	return bench_median(v, reps);
}

/* The share of the cache column's remote frees that kmm counted as remote (free_remote). */
static double remote_share = NAN;

static uint64_t remote_objects(const struct bench_opts *o)
{
	return o->quick ? 100000 : 500000;
}

static double measure(const struct bench_opts *o, struct env *e, int row, int a, int reps)
{
	const struct row_desc *d = &rows[row];
	const struct kind_loops *l = &kind_loops[allocs[a].kind];
	struct run r = run_for(e, a, d->size ? d->size : 64);
	bench_loop_fn fn;
	double per = 1, ns;

	r.n = d->n;
	switch (row) {
	case R_PAIR64:
	case R_PAIR256:
		fn = l->pair;
		break;
	case R_BATCH16:
	case R_BATCH1024:
	case R_BATCH100000:
		fn = l->batch;
		per = (double)d->n;
		break;
	case R_BULK16:
	case R_BULK64:
		fn = a == A_CACHE ? bulk_loop : l->batch;
		per = (double)d->n;
		break;
	case R_REMOTE:
		fn = NULL;
		break;
	case R_MIXED:
		mixed_fill(&r, a);
		fn = l->mixed;
		break;
	case R_MIXED_PAIR:
		fn = l->mixed_pair;
		break;
	default:
		return NAN;
	}
	if (row == R_REMOTE) {
		long before = a == A_CACHE ? kmm_kmem_cache_stat(r.cache, "free_remote") : 0;
		ns = remote_ns_per_object(&r, (uint32_t)remote_objects(o), reps);
		if (a == A_CACHE) /* the runs and the warm-up */
			remote_share =
			    (double)(kmm_kmem_cache_stat(r.cache, "free_remote") - before) /
			    (double)(remote_objects(o) * (uint64_t)(reps + 1));
	} else
		ns = cpu_ns_per_iter(fn, &r, REP_NS, reps) / per;
	if (row == R_MIXED)
		mixed_empty(&r, a);
	return ns;
}

static void print_table(void)
{
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "operation", -38);
	bench_table_col(&t, "unit", -6);
	for (int a = 0; a < NR_ALLOCS; a++)
		bench_table_col(&t, allocs[a].title, 8);
	bench_table_header(&t);
	for (int row = 0; row < NR_ROWS; row++) {
		bench_table_cell(&t, "%s", rows[row].what);
		bench_table_cell(&t, "%s", rows[row].unit);
		for (int a = 0; a < NR_ALLOCS; a++) {
			if (!allocs[a].present)
				bench_table_cell(&t, "absent");
			else if (!cell_applies(row, a))
				bench_table_cell(&t, "-");
			else
				bench_table_num(&t, result[row][a]);
		}
	}
}

static double ratio(double a, double b)
{
	return isnan(a) || isnan(b) || b <= 0 ? NAN : a / b;
}

/*
 * Debian's jemalloc keeps its thread state in initial-exec TLS, which a
 * library loaded with dlopen takes from the static TLS surplus (512 bytes
 * by default): too little. glibc sizes the surplus from a tunable read at
 * start-up, so the program runs itself again with a larger one.
 */
#define STATIC_TLS_TUNABLE "glibc.rtld.optional_static_tls=16384"

static void reexec_with_static_tls(char **argv)
{
	const char *t = getenv("GLIBC_TUNABLES");
	char buf[1024];
	if (t && strstr(t, "glibc.rtld.optional_static_tls"))
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", t ? t : "", t ? ":" : "", STATIC_TLS_TUNABLE);
	setenv("GLIBC_TUNABLES", buf, 1);
	execv("/proc/self/exe", argv);
	/* Not fatal: jemalloc's column says why it is missing. */
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	reexec_with_static_tls(argv);
	argc = bench_init(&o, argc, argv, "slab", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	int reps = bench_reps(&o, 101, 31);
	int remote_reps = bench_reps(&o, 7, 3);
	uint64_t cg_iters = o.quick ? 20000 : 200000;

	bench_section("slab: kmem_cache and kmalloc against the host's allocators%s",
		      o.quick ? " (quick)" : "");
	setup_peers();

	for (int row = 0; row < NR_ROWS; row++)
		for (int a = 0; a < NR_ALLOCS; a++)
			result[row][a] = NAN;

	/* Instructions first: the callgrind children boot their own machines. */
	/*
	 * Each count is a valgrind run of ~0.7 s: --quick counts kmm's, and
	 * the pair and mixed step of glibc and mimalloc (the goals' peers).
	 */
	static const int insn_rows[NR_REGION_KINDS] = {R_INSN_PAIR, R_INSN_BULK16, R_INSN_MIXED};
	for (int a = 0; a < NR_ALLOCS; a++)
		for (int k = 0; k < NR_REGION_KINDS; k++) {
			const struct bench_region *r = &regions[NR_REGION_KINDS * a + k];
			if (!cell_applies(insn_rows[k], a))
				continue;
			if (o.quick && allocs[a].kind == K_PEER &&
			    (k == RK_BULK16 || (a != A_GLIBC && a != A_MIMALLOC)))
				continue;
			result[insn_rows[k]][a] = bench_instructions(&o, r->name, cg_iters) /
						  (k == RK_BULK16 ? BULK_REGION_N : 1);
		}

	struct env *e = env_setup();
	/*
	 * Mixed sizes first, on fresh heaps: what an allocator did before
	 * changes its mixed figures (mimalloc's by up to 5x after the batch
	 * rows), and the goals compare these rows.
	 */
	for (int i = 0; i < R_INSN_PAIR; i++)
		for (int a = 0; a < NR_ALLOCS; a++) {
			int row = (R_MIXED + i) % R_INSN_PAIR;
			if (cell_applies(row, a))
				result[row][a] =
				    measure(&o, e, row, a, row == R_REMOTE ? remote_reps : reps);
		}
	env_teardown(e);

	printf("\n");
	print_table();
	printf(
	    "\nMedians of %d runs of about %d us, timed on the thread's CPU clock (time "
	    "taken by\nneighbours on the shared vCPUs does not count). ns/obj: per object "
	    "allocated and freed.\nkmm runs on a booted machine (%s), this thread on "
	    "CPU 0. Remote:\n%d runs of %d objects allocated on CPU 0 and freed by a second "
	    "thread on CPU 1, the\nCPU time of both threads per object; kmm's free_remote "
	    "counted %.0f%% of the frees\n(frees to a slab still frozen on CPU 0; the others "
	    "found slabs CPU 0 had let go of).\nThe peers have no bulk API: their bulk rows "
	    "are N mallocs then N frees. Mixed: one\nsequence of sizes, log-uniform over 8-8192 B, "
	    "for all; 256 live: each step frees the\nobject allocated %u steps before and "
	    "allocates the next size; pairs: each object\nis freed at once.\n",
	    reps, REP_NS / 1000, MACHINE, remote_reps, (int)remote_objects(&o), remote_share * 100,
	    MIXED_SLOTS);
	printf("SLUB for reference (J. D. Brouer's slab_bulk_test01, i7-4790K at 4 GHz, Linux "
	       "commits\n0b4d334ff0d8 and fbd02630c6e3): %d cycles (%.2f ns) per fast-path pair, "
	       "%d cycles per\nobject in bulk.\n",
	       SLUB_PAIR_CYCLES, SLUB_PAIR_NS, SLUB_BULK_CYCLES);

	bench_section("Goals");
	bench_goal_header();
	bench_goal("kmem_cache fast-path pair, 64 B", result[R_PAIR64][A_CACHE], GOAL_PAIR_NS,
		   "ns");
	bench_goal("kmem_cache fast-path pair, 256 B", result[R_PAIR256][A_CACHE], GOAL_PAIR_NS,
		   "ns");
	bench_goal("kmem_cache bulk 16, per object", result[R_BULK16][A_CACHE], GOAL_BULK_NS, "ns");
	bench_goal("kmem_cache bulk 64, per object", result[R_BULK64][A_CACHE], GOAL_BULK_NS, "ns");
	for (int row = R_MIXED; row <= R_MIXED_PAIR; row++) {
		const char *w = row == R_MIXED ? "256 live" : "pairs";
		char what[80];
		snprintf(what, sizeof(what), "kmalloc mixed %s: time / glibc's (>= 2x)", w);
		bench_goal(what, ratio(result[row][A_KMALLOC], result[row][A_GLIBC]),
			   GOAL_MIXED_VS_GLIBC, "x");
		snprintf(what, sizeof(what), "kmalloc mixed %s: time / mimalloc's (<= 1.2x)", w);
		bench_goal(what, ratio(result[row][A_KMALLOC], result[row][A_MIMALLOC]),
			   GOAL_MIXED_VS_MIMALL, "x");
	}

	printf("\n");
	for (int row = 0; row < NR_ROWS; row++)
		for (int a = 0; a < NR_ALLOCS; a++) {
			char name[80];
			if (!cell_applies(row, a) || isnan(result[row][a]))
				continue;
			snprintf(name, sizeof(name), "slab_%s_%s", rows[row].tag, allocs[a].tag);
			bench_figure(name, result[row][a],
				     row >= R_INSN_PAIR ? "instructions" : "ns");
		}
	return 0;
}
