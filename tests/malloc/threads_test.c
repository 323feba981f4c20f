/*
 * The heap with threads (KMM_TEST_CONCURRENT: the TSan build runs it),
 * through the kmm_libc_ functions:
 *  - threads get CPUs of their own while there are some, then share the
 *    pool (exact counts with the threads held at a barrier), and an exited
 *    thread's CPU is free again with its caches given back;
 *  - blocks handed between threads and freed by another thread keep their
 *    data, and the machine's invariants hold afterwards;
 *  - calls after a thread's exit destructor run on no CPU;
 *  - fork() while other threads allocate: the child allocates and frees
 *    and finds the machine consistent; fork() while threads exit.
 */
#include "kmm_test.h"
#include "internal.h"
#include "kmm_malloc.h"
#include "slab/internal.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR_THREADS 8

static bool validate(const char *what)
{
	struct kmm_error err = {0};
	if (kmm_slab_validate_all(km.m, &err) || kmm_page_alloc_validate(km.m, &err)) {
		KMM_EXPECT_FAIL_("%s: %s", what, err.msg);
		return false;
	}
	return true;
}

/* --- Mailbox workers ----------------------------------------------------------------------- */

struct block {
	unsigned char *p;
	size_t size;
	unsigned char tag;
};

#define MAILBOX 64
static struct block mailbox[MAILBOX];
static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started;
static unsigned long damaged;

static void fill(struct block *b)
{
	memset(b->p, b->tag, b->size < 256 ? b->size : 256);
	b->p[b->size - 1] = b->tag;
}

static bool intact(const struct block *b)
{
	for (size_t i = 0; i < (b->size < 256 ? b->size : 256); i++)
		if (b->p[i] != b->tag)
			return false;
	return b->p[b->size - 1] == b->tag;
}

static void drop(struct block *b)
{
	if (!b->p)
		return;
	if (!intact(b))
		__atomic_fetch_add(&damaged, 1, __ATOMIC_RELAXED);
	kmm_libc_free(b->p);
	b->p = NULL;
}

struct worker {
	uint64_t seed;
	unsigned long ops;
	bool wait;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct kmm_rng rng;
	struct block slot[16] = {{0}};
	kmm_rng_seed(&rng, w->seed);
	/* Bind, then wait for everyone: all threads are alive at once. */
	kmm_libc_free(kmm_libc_malloc(8));
	if (w->wait)
		pthread_barrier_wait(&started);
	for (unsigned long op = 0; op < w->ops; op++) {
		struct block *b = &slot[kmm_rng_below(&rng, 16)];
		uint64_t r = kmm_rng_below(&rng, 10);
		if (!b->p) {
			b->size = kmm_rng_below(&rng, 8) ? 1 + kmm_rng_below(&rng, 700)
							 : 1 + kmm_rng_below(&rng, 100000);
			b->p = r < 2 ? kmm_libc_calloc(1, b->size) : kmm_libc_malloc(b->size);
			b->tag = (unsigned char)kmm_rng_next(&rng);
			if (b->p)
				fill(b);
		} else if (r < 5) {
			drop(b);
		} else {
			pthread_mutex_lock(&mailbox_lock);
			struct block *m = &mailbox[kmm_rng_below(&rng, MAILBOX)];
			struct block t = *m;
			*m = *b;
			*b = t;
			pthread_mutex_unlock(&mailbox_lock);
		}
	}
	for (int i = 0; i < 16; i++)
		drop(&slot[i]);
	return NULL;
}

static void run_workers(int n, unsigned long ops, bool wait)
{
	pthread_t t[NR_THREADS];
	struct worker w[NR_THREADS];
	if (wait)
		pthread_barrier_init(&started, NULL, (unsigned int)n);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){kmm_test_seed + (uint64_t)i * 7919, ops, wait};
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (wait)
		pthread_barrier_destroy(&started);
	for (int i = 0; i < MAILBOX; i++)
		drop(&mailbox[i]);
}

/* --- Tests ----------------------------------------------------------------------------------- */

static void test_cpus(void) /* KMM_TEST_CONCURRENT */
{
	struct kmm_libc_stats st;
	kmm_libc_free(kmm_libc_malloc(1)); /* boots the heap: this thread takes CPU 0 */
	kmm_libc_stats(&st);
	expect_u64_eq(st.cpus, 4);
	expect_u64_eq(st.threads, 1);
	expect_u64_eq(st.exclusive, 1);
	int mine = km_self.cpu;

	run_workers(NR_THREADS, 2000 * kmm_test_scale, true);
	kmm_libc_stats(&st);
	/* Three exclusive CPUs (this thread has one), one leased to the six others. */
	expect_u64_eq(st.threads, 1 + NR_THREADS);
	expect_u64_eq(st.shared, NR_THREADS - 2);
	expect_u64_ge(st.exclusive, 3);
	expect_u64_eq(damaged, 0);
	/* Every CPU but this thread's is free, and has no slab of any cache. */
	for (int c = 0; c < km.m->nr_cpus; c++) {
		if (c == mine)
			continue;
		expect_u64_eq(km.m->cpus[c]->owner, 0);
		for (int k = 0; k < KM_NR_CLASSES; k++) {
			struct kmem_cache_cpu *cc = &km.cache[k]->cpu_slab[c];
			if (c < km.nr_exclusive && (cc->slab || cc->partial))
				KMM_EXPECT_FAIL_("cpu %d kept a slab of %s after its thread exited",
						 c, kmm_kmem_cache_name(km.cache[k]));
		}
	}
	validate("after the workers");
}

static pthread_key_t late_key;
static void late_destructor(void *arg)
{
	/* Runs after the heap's own destructor for this thread: no CPU any more. */
	kmm_libc_free(kmm_libc_malloc(100));
	kmm_libc_free(arg);
}

static void *late_thread(void *arg)
{
	(void)arg;
	pthread_setspecific(late_key, kmm_libc_malloc(64));
	return NULL;
}

static void test_calls_after_exit(void) /* KMM_TEST_CONCURRENT */
{
	struct kmm_libc_stats before, after;
	kmm_libc_free(kmm_libc_malloc(1));
	pthread_key_create(&late_key, late_destructor);
	kmm_libc_stats(&before);
	pthread_t t;
	pthread_create(&t, NULL, late_thread, NULL);
	pthread_join(t, NULL);
	kmm_libc_stats(&after);
	/* The destructor's malloc and two frees ran without a CPU. */
	expect_u64_eq(after.no_cpu_calls - before.no_cpu_calls, 3);
	validate("after calls past exit");
}

static void test_fork(void) /* KMM_TEST_CONCURRENT */
{
	kmm_libc_free(kmm_libc_malloc(1));
	struct kmm_libc_stats before, after;
	kmm_libc_stats(&before);
	pthread_t t[3];
	struct worker w[3];
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){kmm_test_seed + 100 + (uint64_t)i, 4000 * kmm_test_scale,
				       false};
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	int failed = 0, forks = 0;
	for (int f = 0; f < 6; f++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* Only this thread exists here: every lock must be free. */
			void *v[500];
			for (int i = 0; i < 500; i++)
				v[i] = kmm_libc_malloc((size_t)(i * 37 % 20000) + 1);
			for (int i = 0; i < 500; i++)
				kmm_libc_free(v[i]);
			struct kmm_error err = {0};
			if (kmm_slab_validate_all(km.m, &err) ||
			    kmm_page_alloc_validate(km.m, &err)) {
				fprintf(stderr, "child: %s\n", err.msg);
				_exit(1);
			}
			_exit(0);
		}
		int status = 0;
		forks++;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed++;
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < MAILBOX; i++)
		drop(&mailbox[i]);
	kmm_libc_stats(&after);
	expect_int_eq(failed, 0);
	expect_u64_eq(after.forks - before.forks, (unsigned long)forks);
	expect_u64_eq(damaged, 0);
	validate("after the forks");
}

/* --- Thread exit during fork() -------------------------------------------------------------- */

static int spawners_stop;

static void *short_thread(void *arg)
{
	(void)arg;
	void *v[64];
	for (int i = 0; i < 64; i++)
		v[i] = kmm_libc_malloc((size_t)i * 100 + 1);
	for (int i = 0; i < 64; i++)
		kmm_libc_free(v[i]);
	return NULL; /* the exit destructor gives the CPU's caches back */
}

static void *spawner(void *arg)
{
	unsigned long *spawned = arg;
	while (!__atomic_load_n(&spawners_stop, __ATOMIC_ACQUIRE)) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_thread, NULL) == 0) {
			pthread_join(t, NULL);
			(*spawned)++;
		}
	}
	return NULL;
}

static void watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "threads_test: fork and thread exit deadlocked (60 s)\n";
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

/*
 * Threads exit (and give their caches back) while the main thread forks:
 * an exiting thread must not wait for the registry lock with its calls
 * counted, since fork waits, holding that lock, for them to end.
 */
static void test_fork_thread_exit(void) /* KMM_TEST_CONCURRENT */
{
	kmm_libc_free(kmm_libc_malloc(1));
	__atomic_store_n(&spawners_stop, 0, __ATOMIC_RELEASE);
	unsigned long spawned[2] = {0, 0};
	pthread_t s[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&s[i], NULL, spawner, &spawned[i]);
	signal(SIGALRM, watchdog);
	alarm(60);
	int failed = 0;
	unsigned long forks = 40 * kmm_test_scale;
	for (unsigned long f = 0; f < forks; f++) {
		pid_t pid = fork();
		if (pid == 0) {
			kmm_libc_free(kmm_libc_malloc(5000));
			_exit(0);
		}
		int status = 0;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed++;
	}
	__atomic_store_n(&spawners_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(s[i], NULL);
	alarm(0);
	printf("  %lu forks while %lu threads came and went\n", forks, spawned[0] + spawned[1]);
	expect_int_eq(failed, 0);
	expect_u64_gt(spawned[0] + spawned[1], 0);
	validate("after forks and thread exits");
}

#if defined(__SANITIZE_THREAD__)
/* A child of fork() exits without the parent's threads: not a leak. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "report_thread_leaks=0";
}
#endif

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	setenv("KMM_MALLOC_RAM", "1G", 1);
	setenv("KMM_MALLOC_CPUS", "4", 1);
	run_test(test_cpus);
	run_test(test_calls_after_exit);
	run_test(test_fork);
	run_test(test_fork_thread_exit);
	return kmm_test_done();
}
