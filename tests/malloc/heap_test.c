/*
 * The heap of libkmm-malloc through its kmm_libc_ functions (the library's
 * code, without taking over this program's malloc): sizes and the block each
 * gets, alignment, calloc, realloc across the three regimes, errors, the
 * machine's invariants after random sequences, and misuse in child
 * processes (the message and the abort).
 */
#include "kmm_test.h"
#include "internal.h"
#include "kmm_malloc.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#define MiB (1UL << 20)

static bool validate(const char *what)
{
	struct kmm_error err = {0};
	if (kmm_slab_validate_all(km.m, &err) || kmm_page_alloc_validate(km.m, &err)) {
		KMM_EXPECT_FAIL_("%s: %s", what, err.msg);
		return false;
	}
	return true;
}

/* The block a request of @size gets: its usable size. */
static size_t expected_usable(size_t size)
{
	static const unsigned int classes[] = {
	    16,	  32,	48,   64,   80,	  96,	112,  128,  160,  192,	224,
	    256,  320,	384,  448,  512,  640,	768,  896,  1024, 1280, 1536,
	    1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
	};
	if (size <= 8192) {
		for (unsigned int i = 0;; i++)
			if (classes[i] >= (size ? size : 1))
				return classes[i];
	}
	if (size <= 4 * MiB) {
		/* Runs: the whole block up to order 5, then whole quarters of it. */
		unsigned int order = get_order(size);
		if (order <= 5)
			return PAGE_SIZE << order;
		return KMM_ALIGN(size, PAGE_SIZE << (order - 2));
	}
	return KMM_ALIGN(size, 2 * MiB);
}

/*
 * A pattern at sampled offsets (every byte of the first 4 KiB, then every
 * 509th, and the last), each a function of the seed and the offset, so a
 * prefix of a filled block can be checked after realloc.
 */
static size_t next_sample(size_t i, size_t n)
{
	if (i + 1 >= n)
		return n;
	size_t next = i < 4096 ? i + 1 : i + 509;
	return next < n ? next : n - 1;
}
#define FOR_EACH_SAMPLE(i, n) for (size_t i = 0; i < (n); i = next_sample(i, n))

static unsigned char pat(unsigned int seed, size_t i)
{
	return (unsigned char)(seed * 7 + i * 13 + (i >> 9));
}

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	FOR_EACH_SAMPLE(i, n)
	p[i] = pat(seed, i);
}

/* The first @keep bytes of a block filled for @n bytes. */
static bool intact_prefix(const unsigned char *p, size_t keep, size_t n, unsigned int seed)
{
	FOR_EACH_SAMPLE(i, n)
	if (i < keep && p[i] != pat(seed, i))
		return false;
	return true;
}

static bool intact(const unsigned char *p, size_t n, unsigned int seed)
{
	return intact_prefix(p, n, n, seed);
}

/* --- Sizes ------------------------------------------------------------------------------ */

static void test_sizes(void)
{
	static size_t sizes[4000];
	static unsigned char *live[4000];
	size_t n = 0;
	for (size_t s = 0; s <= 1100; s++)
		sizes[n++] = s;
	for (size_t s = 1101; s <= 9000; s += 37)
		sizes[n++] = s;
	const size_t big[] = {8191,	   8192,    8193,	 12288,	  12289,      100000,
			      4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 5 * MiB, 9 * MiB + 3};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		sizes[n++] = big[i];
	for (size_t i = 0; i < n; i++) {
		size_t s = sizes[i];
		unsigned char *p = kmm_libc_malloc(s);
		expect_ptr_not_null(p);
		if ((uintptr_t)p % 16)
			KMM_EXPECT_FAIL_("malloc(%zu) = %p: not 16-byte aligned", s, (void *)p);
		expect_u64_eq(kmm_libc_malloc_usable_size(p), expected_usable(s));
		fill(p, s, (unsigned int)i);
		live[i] = p;
	}
	/* Nothing overlapped: every pattern is intact. */
	for (size_t i = 0; i < n; i++) {
		if (!intact(live[i], sizes[i], (unsigned int)i))
			KMM_EXPECT_FAIL_("block %zu (%zu bytes) at %p was overwritten", i, sizes[i],
					 (void *)live[i]);
		kmm_libc_free(live[i]);
	}
	kmm_libc_free(NULL);
	validate("after the sizes");
}

/* Small sizes come from the malloc-<class> caches: one more object in use there. */
static int active_of(const struct kmm_slabinfo *si, void *arg)
{
	struct kmm_slabinfo *want = arg;
	if (!strcmp(si->name, want->name)) {
		*want = *si;
		return 1;
	}
	return 0;
}

static void test_classes_are_caches(void)
{
	struct kmm_slabinfo before = {.name = "malloc-112"}, after = {.name = "malloc-112"};
	void *warm = kmm_libc_malloc(100); /* the heap is up and this CPU has a slab */
	kmm_slab_for_each_cache(km.m, active_of, &before);
	expect_u64_eq(before.objsize, 112);
	void *p = kmm_libc_malloc(100);
	expect_ptr_not_null(p);
	struct kmm_page *slab = compound_head(virt_to_page(km.m, p));
	expect_true(PageSlab(slab));
	expect_str_eq(kmm_kmem_cache_name(slab->slab_cache), "malloc-112");
	kmm_libc_free(p);
	kmm_libc_free(warm);
	kmm_slab_for_each_cache(km.m, active_of, &after);
	expect_u64_eq(after.num_objs, before.num_objs);
	/* A run: not a slab, the whole order-5 block for 100,000 bytes. */
	p = kmm_libc_malloc(100000);
	expect_false(PageSlab(compound_head(virt_to_page(km.m, p))));
	expect_u64_eq(kmm_libc_malloc_usable_size(p), 32 * PAGE_SIZE);
	kmm_libc_free(p);
	/* 300,000 bytes: 74 pages of an order-7 block, rounded to quarters: 96. */
	p = kmm_libc_malloc(300000);
	expect_u64_eq(kmm_libc_malloc_usable_size(p), 96 * PAGE_SIZE);
	kmm_libc_free(p);
	/* Huge: outside the machine's RAM. */
	p = kmm_libc_malloc(6 * MiB);
	expect_false(virt_addr_in_ram(km.m, p));
	struct kmm_libc_stats st;
	kmm_libc_stats(&st);
	expect_u64_eq(st.huge_live, 1);
	expect_u64_eq(st.huge_bytes, 6 * MiB);
	kmm_libc_free(p);
	kmm_libc_stats(&st);
	expect_u64_eq(st.huge_live, 0);
	expect_u64_eq(st.huge_bytes, 0);
}

/* --- calloc ------------------------------------------------------------------------------- */

static void test_calloc(void)
{
	const size_t sizes[] = {1, 40, 100, 3000, 8192, 20000, 300000, 6 * MiB};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t s = sizes[i];
		/* Dirty a block of the same size first, so calloc may get it back. */
		unsigned char *d = kmm_libc_malloc(s);
		memset(d, 0xee, s);
		kmm_libc_free(d);
		unsigned char *p = kmm_libc_calloc(1, s);
		expect_ptr_not_null(p);
		for (size_t j = 0; j < s; j++)
			if (p[j]) {
				KMM_EXPECT_FAIL_("calloc(1, %zu): byte %zu is %#x", s, j, p[j]);
				break;
			}
		kmm_libc_free(p);
	}
	errno = 0;
	expect_ptr_null(kmm_libc_calloc(SIZE_MAX / 2, 3));
	expect_int_eq(errno, ENOMEM);
	expect_ptr_null(kmm_libc_calloc(1UL << 40, 1UL << 40));
}

/* --- Alignment --------------------------------------------------------------------------- */

static void test_memalign(void)
{
	const size_t sizes[] = {1, 24, 100, 4000, 5000, 20000, 300000, 5 * MiB};
	for (unsigned int shift = 0; shift <= 23; shift++) {
		size_t align = (size_t)1 << shift;
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t s = sizes[i];
			unsigned char *p = kmm_libc_memalign(align, s);
			expect_ptr_not_null(p);
			if ((uintptr_t)p % align)
				KMM_EXPECT_FAIL_("memalign(%zu, %zu) = %p", align, s, (void *)p);
			fill(p, s, (unsigned int)shift);
			/* realloc keeps the alignment and the data, growing and shrinking. */
			size_t sizes2[] = {s * 3 + 1, s / 2 + 1, 9000, 70000};
			for (size_t k = 0; k < 4; k++) {
				unsigned char *q = kmm_libc_realloc(p, sizes2[k]);
				expect_ptr_not_null(q);
				if ((uintptr_t)q % align)
					KMM_EXPECT_FAIL_(
					    "realloc of a %zu-aligned block to %zu: %p", align,
					    sizes2[k], (void *)q);
				if (!intact_prefix(q, kmm_min(s, sizes2[k]), s,
						   (unsigned int)shift))
					KMM_EXPECT_FAIL_("realloc lost data (%zu -> %zu)", s,
							 sizes2[k]);
				p = q;
				s = sizes2[k];
				fill(p, s, (unsigned int)shift);
			}
			kmm_libc_free(p);
		}
	}
	/*
	 * Alignments beyond the largest buddy block, up to 1 GiB: mappings of
	 * their own, which realloc keeps aligned too (moved by copy, not mremap).
	 */
	for (unsigned int shift = 24; shift <= 30; shift += 2) {
		size_t align = (size_t)1 << shift;
		const size_t big_sizes[] = {1, 100, 6 * MiB};
		for (size_t i = 0; i < sizeof(big_sizes) / sizeof(big_sizes[0]); i++) {
			size_t s = big_sizes[i];
			unsigned char *p = kmm_libc_memalign(align, s);
			expect_ptr_not_null(p);
			if ((uintptr_t)p % align)
				KMM_EXPECT_FAIL_("memalign(%zu, %zu) = %p", align, s, (void *)p);
			fill(p, s, shift);
			const size_t sizes2[] = {9 * MiB, 70000, 5 * MiB, 24};
			for (size_t k = 0; k < 4; k++) {
				unsigned char *q = kmm_libc_realloc(p, sizes2[k]);
				expect_ptr_not_null(q);
				if ((uintptr_t)q % align)
					KMM_EXPECT_FAIL_(
					    "realloc of a %zu-aligned block to %zu: %p", align,
					    sizes2[k], (void *)q);
				if (!intact_prefix(q, kmm_min(s, sizes2[k]), s, shift))
					KMM_EXPECT_FAIL_("realloc lost data (%zu -> %zu)", s,
							 sizes2[k]);
				p = q;
				s = sizes2[k];
				fill(p, s, shift);
			}
			kmm_libc_free(p);
		}
	}
	void *out = NULL;
	expect_int_eq(kmm_libc_posix_memalign(&out, 0, 10), EINVAL);
	expect_int_eq(kmm_libc_posix_memalign(&out, 3, 10), EINVAL);
	expect_int_eq(kmm_libc_posix_memalign(&out, 4, 10), EINVAL);
	expect_int_eq(kmm_libc_posix_memalign(&out, 24, 10), EINVAL);
	expect_ptr_null(out);
	expect_int_eq(kmm_libc_posix_memalign(&out, 64, 10), 0);
	expect_u64_eq((uintptr_t)out % 64, 0);
	kmm_libc_free(out);
	errno = 0;
	expect_ptr_null(kmm_libc_aligned_alloc(3, 10));
	expect_int_eq(errno, EINVAL);
	void *v = kmm_libc_valloc(10);
	expect_u64_eq((uintptr_t)v % PAGE_SIZE, 0);
	kmm_libc_free(v);
	v = kmm_libc_pvalloc(5000);
	expect_u64_eq((uintptr_t)v % PAGE_SIZE, 0);
	expect_u64_eq(kmm_libc_malloc_usable_size(v) % PAGE_SIZE, 0);
	expect_u64_ge(kmm_libc_malloc_usable_size(v), 8192);
	kmm_libc_free(v);
	validate("after memalign");
}

/* --- realloc -------------------------------------------------------------------------------- */

static void test_realloc(void)
{
	/* Through every regime and back, the data following along. */
	const size_t chain[] = {1,	 17,	   200,	    8192,    8193,   100000, 4 * MiB,
				5 * MiB, 20 * MiB, 3 * MiB, 2 * MiB, 100000, 9000,   10};
	unsigned char *p = NULL;
	size_t have = 0;
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		unsigned char *q = kmm_libc_realloc(p, chain[i]);
		expect_ptr_not_null(q);
		if (!intact_prefix(q, kmm_min(have, chain[i]), have, 7))
			KMM_EXPECT_FAIL_("realloc %zu -> %zu lost data", have, chain[i]);
		expect_u64_ge(kmm_libc_malloc_usable_size(q), chain[i]);
		p = q;
		have = chain[i];
		fill(p, have, 7);
	}
	kmm_libc_free(p);

	/* A run shrinks in place, giving its tail pages back. */
	p = kmm_libc_malloc(200 * PAGE_SIZE);
	expect_u64_eq(kmm_libc_malloc_usable_size(p), 256 * PAGE_SIZE);
	fill(p, 200 * PAGE_SIZE, 3);
	unsigned char *q = kmm_libc_realloc(p, 130 * PAGE_SIZE);
	expect_ptr_eq(q, p);
	expect_u64_eq(kmm_libc_malloc_usable_size(q), 192 * PAGE_SIZE); /* three quarters */
	expect_true(intact_prefix(q, 130 * PAGE_SIZE, 200 * PAGE_SIZE, 3));
	/* Within the block: the same pointer. */
	expect_ptr_eq(kmm_libc_realloc(q, 129 * PAGE_SIZE + 1), q);
	kmm_libc_free(q);
	p = kmm_libc_malloc(100);
	expect_ptr_eq(kmm_libc_realloc(p, 112), p);
	expect_ptr_eq(kmm_libc_realloc(p, 60), p);
	/* Less than half: to a smaller class. */
	q = kmm_libc_realloc(p, 20);
	expect_ptr_ne(q, p);
	expect_u64_eq(kmm_libc_malloc_usable_size(q), 32);

	/* realloc(p, 0) frees (glibc) and realloc(NULL, n) allocates. */
	expect_ptr_null(kmm_libc_realloc(q, 0));
	q = kmm_libc_realloc(NULL, 50);
	expect_ptr_not_null(q);
	errno = 0;
	expect_ptr_null(kmm_libc_reallocarray(q, SIZE_MAX / 4, 8));
	expect_int_eq(errno, ENOMEM);
	kmm_libc_free(q);
	validate("after realloc");
}

/* --- Errors ---------------------------------------------------------------------------------- */

static void test_enomem(void)
{
	const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4096, PTRDIFF_MAX, (size_t)1 << 62};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		expect_ptr_null(kmm_libc_malloc(sizes[i]));
		expect_int_eq(errno, ENOMEM);
		errno = 0;
		expect_ptr_null(kmm_libc_memalign(64, sizes[i]));
		expect_int_eq(errno, ENOMEM);
	}
	errno = 0;
	expect_ptr_null(kmm_libc_memalign((size_t)1 << 62, 10));
	expect_int_eq(errno, ENOMEM);
	void *out = NULL;
	expect_int_eq(kmm_libc_posix_memalign(&out, 64, SIZE_MAX), ENOMEM);
}

/*
 * Misuse in a child: it must abort (SIGABRT) with the one-line message
 * naming the pointer on stderr.
 */
static void expect_abort(const char *what, void (*misuse)(void **), const char *message)
{
	int fds[2];
	expect_int_eq(pipe(fds), 0);
	void *ptr = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		misuse(&ptr);
		_exit(0);
	}
	close(fds[1]);
	char buf[4096] = "";
	size_t len = 0;
	ssize_t r;
	while ((r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		KMM_EXPECT_FAIL_("%s: expected an abort, got status %#x; stderr: %s", what, status,
				 buf);
	expect_str_contains(buf, message);
}

static void double_free_small(void **p)
{
	*p = kmm_libc_malloc(48);
	kmm_libc_free(*p);
	kmm_libc_free(*p);
}
static void double_free_run(void **p)
{
	*p = kmm_libc_malloc(100000);
	kmm_libc_free(*p);
	kmm_libc_free(*p);
}
static void double_free_huge(void **p)
{
	*p = kmm_libc_malloc(10 * MiB);
	kmm_libc_free(*p);
	kmm_libc_free(*p);
}
static void interior_free(void **p)
{
	*p = kmm_libc_malloc(48);
	kmm_libc_free((char *)*p + 16);
}
static void interior_run_free(void **p)
{
	*p = kmm_libc_malloc(100000);
	kmm_libc_free((char *)*p + PAGE_SIZE);
}
static void stack_free(void **p)
{
	char local[64];
	*p = local;
	kmm_libc_free(local + (((uintptr_t)p) & 1));
}
static void never_allocated_free(void **p)
{
	/* RAM the heap never handed out: the last page of the machine. */
	kmm_libc_free(kmm_libc_malloc(1));
	*p = km.m->ram + km.m->ram_size - PAGE_SIZE;
	kmm_libc_free(*p);
}
static void usable_of_garbage(void **p)
{
	char local[64];
	*p = local;
	kmm_libc_malloc_usable_size(local);
}

static void test_misuse(void)
{
	expect_abort("double free (small)", double_free_small,
		     "kmm-malloc: free(): double free of 0x");
	expect_abort("double free (run)", double_free_run,
		     "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("double free (huge)", double_free_huge,
		     "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("interior pointer", interior_free, "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("interior of a run", interior_run_free,
		     "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("stack pointer", stack_free, "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("never allocated", never_allocated_free,
		     "kmm-malloc: free(): invalid pointer 0x");
	expect_abort("malloc_usable_size", usable_of_garbage, "kmm-malloc: invalid pointer 0x");
}

/* --- Random sequences against the machine's invariants ------------------------------------- */

struct live {
	unsigned char *p;
	size_t size, align;
	unsigned int seed;
};

static void test_random(void)
{
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	enum {
		SLOTS = 512
	};
	static struct live slot[SLOTS];
	unsigned long steps = 20000 * kmm_test_scale;
	for (unsigned long step = 0; step < steps; step++) {
		struct live *l = &slot[kmm_rng_below(&rng, SLOTS)];
		uint64_t r = kmm_rng_below(&rng, 100);
		size_t size = kmm_rng_below(&rng, 10) < 7 ? kmm_rng_below(&rng, 600)
			      : kmm_rng_below(&rng, 50)	  ? kmm_rng_below(&rng, 200000)
							  : kmm_rng_below(&rng, 12 * MiB);
		if (l->p && r < 40) {
			if (!intact(l->p, l->size, l->seed))
				KMM_EXPECT_FAIL_("step %lu: block %p (%zu bytes) damaged", step,
						 (void *)l->p, l->size);
			kmm_libc_free(l->p);
			l->p = NULL;
		} else if (l->p && r < 60) {
			unsigned char *q = kmm_libc_realloc(l->p, size + 1);
			expect_ptr_not_null(q);
			if (!intact_prefix(q, kmm_min(l->size, size + 1), l->size, l->seed))
				KMM_EXPECT_FAIL_("step %lu: realloc %zu -> %zu lost data", step,
						 l->size, size + 1);
			if (l->align && (uintptr_t)q % l->align)
				KMM_EXPECT_FAIL_("step %lu: realloc lost alignment %zu", step,
						 l->align);
			l->p = q;
			l->size = size + 1;
			fill(q, l->size, l->seed);
		} else if (!l->p) {
			l->align = r < 10 ? (size_t)1 << kmm_rng_below(&rng, 14) : 0;
			l->p = l->align ? kmm_libc_memalign(l->align, size + 1)
			       : r < 70 ? kmm_libc_calloc(1, size + 1)
					: kmm_libc_malloc(size + 1);
			expect_ptr_not_null(l->p);
			if (l->align && (uintptr_t)l->p % l->align)
				KMM_EXPECT_FAIL_("step %lu: memalign(%zu) misaligned", step,
						 l->align);
			l->size = size + 1;
			l->seed = (unsigned int)step;
			fill(l->p, l->size, l->seed);
		}
		if (step % 2000 == 0 && !validate("random step"))
			return;
	}
	for (int i = 0; i < SLOTS; i++) {
		if (slot[i].p && !intact(slot[i].p, slot[i].size, slot[i].seed))
			KMM_EXPECT_FAIL_("slot %d damaged at the end", i);
		kmm_libc_free(slot[i].p);
		slot[i].p = NULL;
	}
	validate("after the random sequence");
}

/* --- Giving memory back ---------------------------------------------------------------------- */

static void test_trim(void)
{
	enum {
		N = 512
	};
	static void *v[N];
	struct kmm_libc_stats before, peak, after;
	kmm_libc_malloc_trim(0);
	kmm_libc_stats(&before);
	for (int i = 0; i < N; i++) {
		v[i] = kmm_libc_malloc(256 << 10);
		memset(v[i], i, 256 << 10);
	}
	kmm_libc_stats(&peak);
	expect_u64_ge(peak.populated_mib, before.populated_mib + 128);
	for (int i = 0; i < N; i++)
		kmm_libc_free(v[i]);
	expect_int_eq(kmm_libc_malloc_trim(0), 1);
	kmm_libc_stats(&after);
	printf("  populated: %lu MiB before, %lu at the peak, %lu after malloc_trim\n",
	       before.populated_mib, peak.populated_mib, after.populated_mib);
	expect_u64_le(after.populated_mib, before.populated_mib + 8);
	expect_u64_ge(after.purged_blocks, before.purged_blocks + 30);
	validate("after malloc_trim");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	/* A small machine: the validators walk its whole memmap. */
	setenv("KMM_MALLOC_RAM", "1G", 1);
	run_test(test_sizes);
	run_test(test_classes_are_caches);
	run_test(test_calloc);
	run_test(test_memalign);
	run_test(test_realloc);
	run_test(test_enomem);
	run_test(test_misuse);
	run_test(test_random);
	run_test(test_trim);
	return kmm_test_done();
}
