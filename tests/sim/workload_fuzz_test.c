/*
 * The workload parser and checker never crash, whatever the text: random
 * bytes, soups of the language's own tokens, and valid workloads mutated
 * byte by byte and line by line. Every input must either check cleanly
 * (and then dump and pass the support check) or get one message that
 * starts with "w.kmm:LINE:COL: ". Run under ASan (make asan), this is
 * also a check for reads past the text and for leaks on every error path.
 *
 * Prints its seed; --seed N replays a run, --scale N runs N times more.
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <ctype.h>

/* Valid workloads to mutate (they avoid file paths: a mutant could name a device). */
static const char *const seeds[] = {
    "machine --mem 256M --nodes 2 --cpus 2\nseed 7\nphase fill\n  alloc_pages small order=0 "
    "count=100\n  alloc_pages big order=choice(0:90,3:9,9:1) count=20 cpu=1\nend\nphase churn\n"
    "  repeat 3\n    churn small steps=50 free=50%\n    free big count=2 pick=random cpu=1\n"
    "  end\n  snapshot \"mid\"\n  free small\n  validate\nend\n",
    "spawn web cpu=1\nweb: mmap heap 8M\nweb: mprotect heap[4M..8M] r\nweb: touch heap[0..4M] "
    "write seq\nweb: touch heap read zipf(1.2) count=10\nrepeat 4\n  web: fork kid\n  kid: "
    "touch heap[..2M] write random\n  kid: exec\n  kid: exit\nend\nweb: brk 1M\nweb: touch brk "
    "mixed(25%) stride(8K)\nweb: madvise heap dontneed\nweb: munmap heap[0..4K]\n",
    "file data size=16M\nswap sw size=64M prio=5\nvariant buddy=pageflag,bitmap\nspawn t\nt: "
    "mmap db 16M file=data shared prot=r\nt: touch db read loop(3)\nkmem_cache_create dentry "
    "size=192 align=8 hwcache_align\nkmem_cache_alloc d cache=dentry count=100\nkmalloc k "
    "size=pow2(8,4096) count=50 gfp=GFP_ATOMIC\nfree d all\nkmem_cache_destroy dentry\nsysctl "
    "lowmem_reserve_ratio \"256 256 32 0\"\ndrain\necho \"x\"\n",
};

/* Pieces of the language for the token soup and insertions. */
static const char *const dict[] = {
    "machine",
    "seed",
    "swap",
    "file",
    "variant",
    "spawn",
    "phase",
    "repeat",
    "end",
    "alloc_pages",
    "kmalloc",
    "kmem_cache_create",
    "kmem_cache_alloc",
    "kmem_cache_destroy",
    "free",
    "churn",
    "sysctl",
    "drain",
    "validate",
    "snapshot",
    "echo",
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "onfault",
    "current",
    "future",
    "brk",
    "touch",
    "fork",
    "exec",
    "exit",
    "t:",
    "web:",
    "kid:",
    "heap",
    "brk[..4K]",
    "heap[4M..]",
    "[",
    "]",
    "..",
    "(",
    ")",
    ",",
    "=",
    ":",
    ";",
    "#",
    "\n",
    "\n",
    "\n",
    " ",
    "\"",
    "\"s\"",
    "\\",
    "0",
    "1",
    "4K",
    "64M",
    "0x1000",
    "1.5",
    "100%",
    "18446744073709551616",
    "99999999999999999999999",
    "count=",
    "order=",
    "size=",
    "cpu=",
    "node=",
    "gfp=",
    "prot=",
    "rw",
    "none",
    "read",
    "write",
    "mixed(",
    "seq",
    "random",
    "stride(",
    "zipf(",
    "loop(",
    "uniform(",
    "pow2(",
    "choice(",
    "exp(",
    "all",
    "pick=",
    "steps=",
    "free=",
    "--mem",
    "--cpus",
    "--nodes",
    "--model",
    "flat",
    "GFP_KERNEL|__GFP_DMA",
    "\r",
    "\t",
    "\x01",
    "\xff",
};

struct outcome {
	unsigned long parsed, checked, supported, rejected;
};

static bool well_formed(const char *msg)
{
	/* "w.kmm:LINE:COL: " then a message. */
	if (strncmp(msg, "w.kmm:", 6))
		return false;
	const char *p = msg + 6;
	for (int field = 0; field < 2; field++) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p++ != ':')
			return false;
	}
	return *p == ' ' && p[1];
}

/* One input through everything that takes workload text. */
static bool try_text(const char *text, size_t len, struct outcome *o)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	if (kmm_workload_parse(text, len, "w.kmm", &w, &err)) {
		o->rejected++;
		if (!well_formed(err.msg)) {
			fprintf(stderr,
				"parse message not well formed: \"%s\"\nfor input: \"%.*s\"\n",
				err.msg, (int)len, text);
			return false;
		}
		return true;
	}
	o->parsed++;
	int ret = kmm_workload_check(w, &err);
	if (!ret) {
		struct kmm_buf b;
		o->checked++;
		kmm_buf_init(&b);
		kmm_workload_dump(w, &b);
		kmm_buf_free(&b);
		if (!kmm_workload_supported(w, &err))
			o->supported++;
	} else if (!well_formed(err.msg) && strncmp(err.msg, "w.kmm: the machine: ", 20)) {
		fprintf(stderr, "check message not well formed: \"%s\"\nfor input: \"%.*s\"\n",
			err.msg, (int)len, text);
		kmm_workload_free(w);
		return false;
	}
	kmm_workload_free(w);
	return true;
}

static void test_random_bytes(void)
{
	struct kmm_rng rng;
	struct outcome o = {0};
	char buf[512];
	kmm_rng_seed(&rng, kmm_test_seed);
	for (unsigned long i = 0; i < 10000 * kmm_test_scale; i++) {
		size_t len = kmm_rng_below(&rng, sizeof(buf));
		for (size_t k = 0; k < len; k++) {
			uint64_t r = kmm_rng_below(&rng, 100);
			/* Mostly printable text with newlines, sometimes any byte. */
			buf[k] = r < 5	  ? (char)kmm_rng_below(&rng, 256)
				 : r < 15 ? '\n'
					  : (char)(' ' + kmm_rng_below(&rng, 95));
		}
		/* Heap copy of the exact length: ASan sees any read past the end. */
		char *text = malloc(len ? len : 1);
		memcpy(text, buf, len);
		bool ok = try_text(text, len, &o);
		free(text);
		expect_true(ok);
	}
	printf("  random bytes: %lu parsed, %lu checked, %lu rejected\n", o.parsed, o.checked,
	       o.rejected);
}

static void test_token_soup(void)
{
	struct kmm_rng rng;
	struct outcome o = {0};
	struct kmm_buf b;
	kmm_rng_seed(&rng, kmm_test_seed + 1);
	kmm_buf_init(&b);
	for (unsigned long i = 0; i < 10000 * kmm_test_scale; i++) {
		kmm_buf_reset(&b);
		size_t n = kmm_rng_below(&rng, 40);
		for (size_t k = 0; k < n; k++) {
			kmm_buf_puts(&b, dict[kmm_rng_below(&rng, KMM_ARRAY_SIZE(dict))]);
			if (kmm_rng_below(&rng, 3))
				kmm_buf_puts(&b, " ");
		}
		char *text = malloc(b.len ? b.len : 1);
		memcpy(text, b.data ? b.data : "", b.len);
		bool ok = try_text(text, b.len, &o);
		free(text);
		expect_true(ok);
	}
	kmm_buf_free(&b);
	printf("  token soup: %lu parsed, %lu checked, %lu rejected\n", o.parsed, o.checked,
	       o.rejected);
}

/* One random edit of @s (length *len, room for @cap bytes). */
static void mutate(struct kmm_rng *rng, char *s, size_t *len, size_t cap)
{
	size_t at = *len ? kmm_rng_below(rng, *len) : 0;
	switch (kmm_rng_below(rng, 5)) {
	case 0: /* delete a run */
		if (*len) {
			size_t n = kmm_min((size_t)kmm_rng_range(rng, 1, 8), *len - at);
			memmove(s + at, s + at + n, *len - at - n);
			*len -= n;
		}
		break;
	case 1: /* replace a byte */
		if (*len)
			s[at] = (char)(' ' + kmm_rng_below(rng, 95));
		break;
	case 2: { /* insert a piece of the language */
		const char *d = dict[kmm_rng_below(rng, KMM_ARRAY_SIZE(dict))];
		size_t n = strlen(d);
		if (*len + n <= cap) {
			memmove(s + at + n, s + at, *len - at);
			memcpy(s + at, d, n);
			*len += n;
		}
		break;
	}
	case 3: { /* duplicate a line */
		size_t b = at, e = at;
		while (b > 0 && s[b - 1] != '\n')
			b--;
		while (e < *len && s[e] != '\n')
			e++;
		if (e < *len)
			e++;
		size_t n = e - b;
		if (*len + n <= cap) {
			memmove(s + e + n, s + e, *len - e);
			memcpy(s + e, s + b, n);
			*len += n;
		}
		break;
	}
	default: /* cut the text short */
		*len = at;
		break;
	}
}

static void test_mutants(void)
{
	struct kmm_rng rng;
	struct outcome o = {0};
	char buf[4096];
	kmm_rng_seed(&rng, kmm_test_seed + 2);
	for (unsigned long i = 0; i < 30000 * kmm_test_scale; i++) {
		const char *seed = seeds[i % KMM_ARRAY_SIZE(seeds)];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		int edits = (int)kmm_rng_range(&rng, 1, 4);
		for (int e = 0; e < edits; e++)
			mutate(&rng, buf, &len, sizeof(buf));
		char *text = malloc(len ? len : 1);
		memcpy(text, buf, len);
		bool ok = try_text(text, len, &o);
		free(text);
		expect_true(ok);
	}
	printf("  mutants: %lu parsed, %lu checked, %lu runnable, %lu rejected\n", o.parsed,
	       o.checked, o.supported, o.rejected);
	/* The mutants must exercise both sides, or the test proves little. */
	expect_u64_gt(o.checked, 100);
	expect_u64_gt(o.rejected, 100);
}

/* The unmutated seeds are valid, so mutants start from something that checks. */
static void test_seeds_check(void)
{
	struct outcome o = {0};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(seeds); i++)
		expect_true(try_text(seeds[i], strlen(seeds[i]), &o));
	expect_u64_eq(o.checked, KMM_ARRAY_SIZE(seeds));
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_seeds_check);
	run_test(test_random_bytes);
	run_test(test_token_soup);
	run_test(test_mutants);
	return kmm_test_done();
}
