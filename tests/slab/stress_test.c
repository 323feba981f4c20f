/*
 * Concurrent stress of the slab allocator (KMM_TEST_CONCURRENT: the TSan
 * build runs it): 2 host threads driving 4 simulated CPUs (each thread
 * moves between two CPUs of its own), allocating from two caches and
 * kmalloc, handing objects to the other thread (which frees them: remote
 * frees, the producer/consumer pattern), bulk allocations and frees, and
 * shrinking the caches while they are in use. Objects carry their owner's
 * pattern, checked by whoever frees them. Afterwards the allocator holds
 * what it held before, the validator is happy, and the remote frees the
 * caches counted are the ones vmstat counted.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <pthread.h>
#include <kmm/slab.h>

#define QUEUE 1024

struct queue {
	pthread_mutex_t lock;
	void *items[QUEUE];
	size_t sizes[QUEUE];
	int head, count;
};

static struct kmm_machine *m;
static struct kmm_kmem_cache *caches[2];
static struct queue queues[2]; /* queues[t]: objects for thread t to free */
static unsigned long iterations;
static int failed;

static bool push(struct queue *q, void *p, size_t size)
{
	pthread_mutex_lock(&q->lock);
	bool ok = q->count < QUEUE;
	if (ok) {
		int slot = (q->head + q->count++) % QUEUE;
		q->items[slot] = p;
		q->sizes[slot] = size;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

static void *pop(struct queue *q, size_t *size)
{
	void *p = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->count) {
		p = q->items[q->head];
		*size = q->sizes[q->head];
		q->head = (q->head + 1) % QUEUE;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return p;
}

static void stamp(uint8_t *p, size_t size, uint8_t v)
{
	memset(p, v, size);
}

static bool stamped(const uint8_t *p, size_t size, uint8_t v)
{
	for (size_t i = 0; i < size; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Free an object (cache objects are sized by their cache; kmalloc'ed ones by size). */
static void release(void *p, size_t size)
{
	if (size == kmm_kmem_cache_size(caches[0]))
		kmm_kmem_cache_free(caches[0], p);
	else if (size == kmm_kmem_cache_size(caches[1]))
		kmm_kmem_cache_free(caches[1], p);
	else
		kmm_kfree(m, p);
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + (uint64_t)t);
	void *mine[64] = {0};
	size_t mine_size[64] = {0};
	uint8_t tag = (uint8_t)(0x10 + t);
	for (unsigned long it = 0; it < iterations && !READ_ONCE(failed); it++) {
		int cpu = t + 2 * (int)((it / 64) % 2);
		kmm_cpu_enter(m, cpu);
		for (int op = 0; op < 16; op++) {
			unsigned int r = (unsigned int)kmm_rng_below(&rng, 100);
			int slot = (int)kmm_rng_below(&rng, 64);
			if (r < 40) {
				/* Allocate into a slot, freeing what was there. */
				if (mine[slot])
					release(mine[slot], mine_size[slot]);
				size_t size;
				void *p;
				if (r < 15) {
					p = kmm_kmem_cache_alloc(caches[0], GFP_KERNEL);
					size = kmm_kmem_cache_size(caches[0]);
				} else if (r < 30) {
					p = kmm_kmem_cache_alloc(caches[1], GFP_KERNEL);
					size = kmm_kmem_cache_size(caches[1]);
				} else {
					size = 1 + kmm_rng_below(&rng, 2000);
					if (size == kmm_kmem_cache_size(caches[0]) ||
					    size == kmm_kmem_cache_size(caches[1]))
						size++;
					p = kmm_kmalloc(m, size, GFP_KERNEL);
				}
				if (!p) {
					WRITE_ONCE(failed, 1);
					break;
				}
				stamp(p, size, tag);
				mine[slot] = p;
				mine_size[slot] = size;
			} else if (r < 60) {
				/* Hand an object to the other thread. */
				if (mine[slot] && push(&queues[1 - t], mine[slot], mine_size[slot]))
					mine[slot] = NULL;
			} else if (r < 85) {
				/* Free what the other thread sent. */
				size_t size;
				void *p = pop(&queues[t], &size);
				if (p) {
					if (!stamped(p, size, (uint8_t)(0x10 + 1 - t))) {
						fprintf(stderr,
							"object %p from thread %d corrupted\n", p,
							1 - t);
						WRITE_ONCE(failed, 1);
					}
					release(p, size);
				}
			} else if (r < 95) {
				void *b[32];
				size_t n = 1 + kmm_rng_below(&rng, 32);
				struct kmm_kmem_cache *s = caches[r % 2];
				if (kmm_kmem_cache_alloc_bulk(s, GFP_KERNEL, n, b) != n) {
					WRITE_ONCE(failed, 1);
					break;
				}
				for (size_t i = 0; i < n; i++)
					stamp(b[i], kmm_kmem_cache_size(s), tag);
				kmm_kmem_cache_free_bulk(s, n, b);
			} else if (r < 97 && t == 1) {
				kmm_kmem_cache_shrink(caches[r % 2]);
			}
		}
		kmm_cpu_exit(m);
	}
	kmm_cpu_enter(m, t);
	for (int i = 0; i < 64; i++)
		if (mine[i])
			release(mine[i], mine_size[i]);
	kmm_cpu_exit(m);
	return NULL;
}

static int sum_active(const struct kmm_slabinfo *info, void *arg)
{
	*(unsigned long *)arg += info->active_objs;
	return 0;
}

static void test_two_threads_four_cpus(void)
{
	m = kmm_test_boot("--mem 128M --nodes 2 --cpus 4");
	expect_ptr_not_null(m);
	struct kmm_error err = {0};
	caches[0] = kmm_kmem_cache_create(m, "stress-64", 64, 0, 0, NULL, &err);
	caches[1] = kmm_kmem_cache_create(m, "stress-256", 256, 0, SLAB_HWCACHE_ALIGN, NULL, &err);
	expect_ptr_not_null(caches[0]);
	expect_ptr_not_null(caches[1]);
	unsigned long before = 0;
	kmm_slab_for_each_cache(m, sum_active, &before);
	struct kmm_buf b;
	kmm_buf_init(&b);
	for (int i = 0; i < 2; i++) {
		pthread_mutex_init(&queues[i].lock, NULL);
		queues[i].head = queues[i].count = 0;
	}
	iterations = 3000 * kmm_test_scale;
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	expect_int_eq(failed, 0);
	/* What is still queued is freed from a CPU neither thread used last. */
	kmm_cpu_enter(m, 3);
	for (int i = 0; i < 2; i++) {
		size_t size;
		void *p;
		while ((p = pop(&queues[i], &size)))
			release(p, size);
	}
	kmm_cpu_exit(m);
	expect_int_eq(kmm_slab_validate_all(m, &err), 0);
	/* Objects in CPU freelists count as active: flush every CPU first. */
	kmm_slab_shrink_all(m);
	unsigned long after = 0;
	kmm_slab_for_each_cache(m, sum_active, &after);
	expect_u64_eq(after, before);
	long remote = kmm_kmem_cache_stat(caches[0], "free_remote") +
		      kmm_kmem_cache_stat(caches[1], "free_remote");
	printf("  remote frees: %ld of %ld slow-path frees\n", remote,
	       kmm_kmem_cache_stat(caches[0], "free_slowpath") +
		   kmm_kmem_cache_stat(caches[1], "free_slowpath"));
	expect_i64_ge(remote, 1);
	for (int i = 0; i < 2; i++)
		expect_i64_eq(kmm_kmem_cache_destroy(caches[i]), 0);
	kmm_show(m, "kmmstat", &b);
	const char *line = strstr(b.data, "slab_remote_free ");
	expect_ptr_not_null(line);
	/* Every remote free is counted once by its cache and once in vmstat (kmalloc's too). */
	expect_i64_ge(strtol(line + strlen("slab_remote_free "), NULL, 10), remote);
	kmm_buf_free(&b);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_two_threads_four_cpus);
	return kmm_test_done();
}
