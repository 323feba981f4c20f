/*
 * libkmm-malloc: the heap, a kmm machine booted inside the process.
 *
 * Linux: none directly; the heap is what a kernel would be to its allocators
 * (init/main.c boots them), and the malloc API on top is the C library's.
 *
 * Theory of operation:
 *  1. The machine. One node, one zone (Normal: RAM starts at 4 GiB, so
 *     there is no DMA or DMA32 zone), RAM_BYTES of address space reserved
 *     without backing (64 GiB by default), as many simulated CPUs as
 *     max(8, 2 x host CPUs). It boots with --deferred-init demand: only the
 *     first 128 MiB section has struct pages; allocations that find the zone
 *     short initialise the next section (deferred_grow_zone), and the page
 *     allocator backs RAM with host memory in 4 MiB blocks as it hands
 *     them out (the first 16 MiB on first touch instead, KM_LAZY_BLOCKS). So
 *     a process pays for the memory it uses, not for the 64 GiB: booting
 *     takes about a millisecond and leaves about 8 MiB resident.
 *  2. Bootstrap. The first malloc boots the machine under the state word:
 *     COLD -> BOOTING -> UP. Booting itself never calls malloc (kmm's core
 *     takes host memory from port/, with mmap), but what the heap calls while
 *     it starts (pthread_atfork, atexit, the dynamic loader's TLS setup on
 *     the first call of a thread) may: those calls, from the booting thread,
 *     are served from a static arena and never freed. Other threads wait.
 *  3. Size classes are slab caches named malloc-<size> (kmm_kmem_cache_create),
 *     four per doubling; aligned requests use power-of-two caches aligned to
 *     their size (malloc-a<size>), so realloc knows an aligned block by its
 *     cache. Above 8 KiB: runs of pages (pages.c); above 4 MiB: mappings of
 *     their own (huge.c).
 *  4. Errors: slab reports (double free, and with KMM_MALLOC_DEBUG=1 red
 *     zones, poison, owner tracks) come through kmm_slab_set_report_hook;
 *     the heap prints the report (in debug mode) and a one-line message
 *     naming the pointer, then aborts, as glibc does.
 *
 * Locks: the state word (a spin on BOOTING); the aligned-cache lock, taken
 * only to create a cache (then the slab allocator's cache list lock).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct km_heap km;

/* --- Messages and fatal errors ----------------------------------------------------- */

void km_message(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "kmm-malloc: ");
	va_start(ap, fmt);
	int k = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (k < 0 ? 0 : (size_t)k);
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	ssize_t w = write(2, buf, len);
	(void)w;
}

void km_fatal(const char *what, const void *p)
{
	km_message("%s %p", what, p);
	abort();
}

/* Where the machine's log ended at the last report: the next report follows it. */
static size_t log_mark;

static void report_hook(struct kmm_machine *m, const char *summary, const void *object)
{
	/* The report's text is in the machine's log; in debug mode show it. */
	if (km.debug && m->log.len > log_mark) {
		ssize_t w = write(2, m->log.data + log_mark, m->log.len - log_mark);
		(void)w;
	}
	log_mark = m->log.len;
	if (!strcmp(summary, "double free") || !strcmp(summary, "Object already free"))
		km_fatal("free(): double free of", object);
	if (!strcmp(summary, "Invalid object pointer") || strstr(summary, "not in the machine") ||
	    strstr(summary, "not slab memory") || strstr(summary, "not an object"))
		km_fatal("free(): invalid pointer", object);
	km_message("heap corruption: %s%s", summary,
		   km.debug ? "" : " (KMM_MALLOC_DEBUG=1 shows where)");
	km_fatal("at", object);
}

/* --- The bootstrap arena ------------------------------------------------------------- */

/*
 * Allocations made while the heap boots. Each block has a 16-byte header
 * holding its size, for malloc_usable_size and realloc.
 */
#define ARENA_BYTES (256 * 1024)
static _Alignas(4096) unsigned char arena[ARENA_BYTES];
static size_t arena_used;

void *km_arena_alloc(size_t size, size_t align)
{
	if (align < KM_ALIGN_MIN)
		align = KM_ALIGN_MIN;
	for (;;) {
		size_t old = __atomic_load_n(&arena_used, __ATOMIC_RELAXED);
		size_t start = KMM_ALIGN(old + 16, align);
		if (start + size > ARENA_BYTES || start + size < start)
			return NULL;
		if (__atomic_compare_exchange_n(&arena_used, &old, start + size, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			*(size_t *)(arena + start - 16) = size;
			__atomic_fetch_add(&km.st.arena_bytes, start + size - old,
					   __ATOMIC_RELAXED);
			return arena + start;
		}
	}
}

bool km_in_arena(const void *p)
{
	return (uintptr_t)p - (uintptr_t)arena < ARENA_BYTES;
}

size_t km_arena_usable(const void *p)
{
	return *(const size_t *)((const unsigned char *)p - 16);
}

/* --- Options ------------------------------------------------------------------------- */

/* "64G", "512M", "1T", "123456": bytes; 0 if not a size. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	case 't':
	case 'T':
		v <<= 40;
		end++;
		break;
	default:
		break;
	}
	return *end ? 0 : v;
}

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	long v = strtol(s, &end, 0);
	if (*end) {
		km_message("%s=%s: expected a number; using %ld", name, s, def);
		return def;
	}
	return v;
}

static void read_options(void)
{
	const char *ram = getenv("KMM_MALLOC_RAM");
	km.ram_bytes = 64ULL << 30;
	if (ram && *ram) {
		uint64_t v = parse_size(ram);
		if (v < (64ULL << 20))
			km_message("KMM_MALLOC_RAM=%s: expected a size of at least 64M; using 64G",
				   ram);
		else
			km.ram_bytes = v;
	}
	/* Whole 128 MiB sections. */
	km.ram_bytes = KMM_ALIGN(km.ram_bytes, 128ULL << 20);
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	long cpus = env_long("KMM_MALLOC_CPUS", kmm_max(8L, 2 * (host > 0 ? host : 1)));
	km.nr_cpus = (int)kmm_clamp(cpus, 2L, (long)KMM_MAX_CPUS);
	/* A quarter of the CPUs (at least one) are leased per call to threads beyond the rest. */
	km.nr_exclusive = km.nr_cpus - kmm_max(1, km.nr_cpus / 4);
	km.debug = env_long("KMM_MALLOC_DEBUG", 0) != 0;
	km.stats = env_long("KMM_MALLOC_STATS", 0) != 0;
	km.thp = env_long("KMM_MALLOC_THP", 1) != 0;
	km.decay_ns = (uint64_t)kmm_max(0L, env_long("KMM_MALLOC_DECAY_MS", 1000)) * 1000000;
	km.retain_blocks = (unsigned long)kmm_max(0L, env_long("KMM_MALLOC_RETAIN_MB", 16)) >> 2;
	km.limit_blocks = (unsigned long)kmm_max(1L, env_long("KMM_MALLOC_LIMIT_MB", 256)) >> 2;
	if (km.limit_blocks < km.retain_blocks)
		km.limit_blocks = km.retain_blocks;
}

/* --- Object starts ------------------------------------------------------------------- */

static int find_stride(const struct kmm_slabinfo *si, void *arg)
{
	struct kmm_slabinfo *want = arg;
	if (strcmp(si->name, want->name))
		return 0;
	want->objsize = si->objsize;
	return 1;
}

/* Record @s's stride (slabinfo's objsize) and class (-1: none) for free(). */
static void km_cache_info_add_m(struct kmm_machine *m, struct kmm_kmem_cache *s, int cls)
{
	struct kmm_slabinfo want = {.name = kmm_kmem_cache_name(s)};
	if (!kmm_slab_for_each_cache(m, find_stride, &want) || !want.objsize)
		return;
	for (unsigned int i = km_info_slot(s);; i = (i + 1) % KM_INFO_SLOTS) {
		struct km_cache_info *ci = &km.info[i];
		if (ci->cache)
			continue;
		ci->stride = want.objsize;
		ci->recip = (uint32_t)((((uint64_t)1 << 32) + want.objsize - 1) / want.objsize);
		ci->cls = cls;
		__atomic_store_n(&ci->cache, s, __ATOMIC_RELEASE);
		return;
	}
}

/* The cache was not in its home slot: probe on. */
const struct km_cache_info *km_cache_info_slow(const struct kmm_kmem_cache *s)
{
	unsigned int home = km_info_slot(s);
	for (unsigned int i = (home + 1) % KM_INFO_SLOTS; i != home; i = (i + 1) % KM_INFO_SLOTS) {
		const struct km_cache_info *ci = &km.info[i];
		struct kmm_kmem_cache *c = __atomic_load_n(&ci->cache, __ATOMIC_ACQUIRE);
		if (!c)
			return NULL;
		if (c == s)
			return ci;
	}
	return NULL;
}

/* --- Size classes ---------------------------------------------------------------------- */

static const unsigned int class_sizes[KM_NR_CLASSES] = {
    16,	 32,  48,  64,	 80,   96,   112,  128,	 160,  192,  224,  256,	 320,  384,  448,  512,
    640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
};

/*
 * A multiplier for km_info_slot() under which the class caches all have a
 * slot of their own, so that free() finds its cache in one probe (the
 * aligned caches, made later, may have to probe).
 */
static void choose_info_mul(void)
{
	uint64_t mul = 0x9e3779b97f4a7c15ULL;
	for (int tries = 0; tries < 1000; tries++, mul += 0x632be59bd9b4e019ULL * 2) {
		km.info_mul = mul | 1;
		uint64_t used[KM_INFO_SLOTS / 64] = {0};
		bool clash = false;
		for (unsigned int c = 0; c < KM_NR_CLASSES && !clash; c++) {
			unsigned int slot = km_info_slot(km.cache[c]);
			clash = used[slot / 64] >> (slot % 64) & 1;
			used[slot / 64] |= 1ULL << (slot % 64);
		}
		if (!clash)
			return;
	}
}

static bool create_classes(struct kmm_machine *m, struct kmm_error *err)
{
	for (unsigned int c = 0; c < KM_NR_CLASSES; c++) {
		char name[32];
		unsigned int size = class_sizes[c];
		snprintf(name, sizeof(name), "malloc-%u", size);
		km.cache[c] = kmm_kmem_cache_create(m, name, size, KM_ALIGN_MIN, 0, NULL, err);
		if (!km.cache[c])
			return false;
		km.class_size[c] = size;
	}
	choose_info_mul();
	if (!km.debug) /* debug caches check every free themselves */
		for (unsigned int k = 0; k < KM_NR_CLASSES; k++)
			km_cache_info_add_m(m, km.cache[k], (int)k);
	unsigned int c = 0;
	for (size_t s = 0; s <= 1024; s += 8) {
		while (class_sizes[c] < (s ? s : 1))
			c++;
		km.class_small[s >> 3] = (unsigned char)c;
	}
	c = 0;
	for (size_t s = 0; s <= KM_SMALL_MAX; s += 128) {
		while (class_sizes[c] < s)
			c++;
		km.class_large[s >> 7] = (unsigned char)c;
	}
	return true;
}

struct kmm_kmem_cache *km_aligned_cache(unsigned int shift)
{
	unsigned int i = shift - KM_ALIGNED_MIN;
	struct kmm_kmem_cache *s = __atomic_load_n(&km.aligned[i], __ATOMIC_ACQUIRE);
	if (likely(s))
		return s;
	spin_lock(&km.aligned_lock);
	s = km.aligned[i];
	if (!s) {
		char name[32];
		struct kmm_error err = {0};
		snprintf(name, sizeof(name), "malloc-a%u", 1u << shift);
		/* Aligned to its size, up to a page: the largest alignment it serves. */
		unsigned int align = shift > PAGE_SHIFT ? PAGE_SIZE : 1u << shift;
		s = kmm_kmem_cache_create(km.m, name, 1u << shift, align, 0, NULL, &err);
		if (s) {
			if (!km.debug)
				km_cache_info_add_m(km.m, s, -1);
			__atomic_store_n(&km.aligned[i], s, __ATOMIC_RELEASE);
		}
	}
	spin_unlock(&km.aligned_lock);
	return s;
}

/* --- Booting ----------------------------------------------------------------------------- */

static struct kmm_machine *boot_machine(uint64_t ram, struct kmm_error *err)
{
	struct kmm_config cfg;
	kmm_config_init(&cfg);
	cfg.quiet = true;
	memset(&cfg.desc, 0, sizeof(cfg.desc));
	struct kmm_machine_desc *d = &cfg.desc;
	d->ranges[0] = (struct kmm_mem_range){4ULL << 30, (4ULL << 30) + ram, KMM_E820_RAM, 0};
	d->nr_ranges = 1;
	d->nr_nodes = 1;
	d->nr_cpus = km.nr_cpus;
	d->distance[0][0] = 10;
	d->arch = KMM_ARCH_X86_64;
	d->kernel_image = KMM_KERNEL_NONE;
	snprintf(d->source, sizeof(d->source), "libkmm-malloc");
	cfg.desc_given = true;
	cfg.deferred = KMM_DEFERRED_ON_DEMAND;
	/*
	 * The first 16 MiB (the machine's own data and the heap's first blocks)
	 * are backed as the program touches them, in huge pages where the host
	 * gives them: a small program does not pay for whole 4 MiB blocks.
	 */
	cfg.ram_lazy_blocks = KM_LAZY_BLOCKS;
	/* Freelist hardening and shuffling key: different in every process. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cfg.seed =
	    ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	return kmm_boot(&cfg, err);
}

static void boot(void)
{
	struct kmm_error err = {0};
	read_options();
	struct kmm_machine *m = NULL;
	/* Address space may be limited (ulimit -v): halve the RAM until it fits. */
	for (uint64_t ram = km.ram_bytes; ram >= (64ULL << 20) && !m; ram /= 2) {
		m = boot_machine(KMM_ALIGN(ram, 128ULL << 20), &err);
		if (m)
			km.ram_bytes = KMM_ALIGN(ram, 128ULL << 20);
	}
	if (!m) {
		km_message("cannot boot the heap: %s", err.msg);
		abort();
	}
	log_mark = m->log.len;
	kmm_slab_set_report_hook(m, report_hook);
	if (km.debug && kmm_slab_set_debug(m, "FZPU", &err))
		km_message("KMM_MALLOC_DEBUG: %s", err.msg);
	if (!create_classes(m, &err)) {
		km_message("cannot create the size classes: %s", err.msg);
		abort();
	}
	km.m = m;
	if (!km.debug && !km_cc_init(&err)) {
		km_message("cannot allocate the per-CPU arrays: %s", err.msg);
		abort();
	}
	km.ram_start = (uintptr_t)m->ram;
	km.ram_size = m->ram_size;
	km_threads_init();
}

bool km_boot_slow(void)
{
	int s = __atomic_load_n(&km.state, __ATOMIC_ACQUIRE);
	if (s == KM_UP)
		return true;
	static KM_TLS bool booting;
	if (s == KM_COLD) {
		int cold = KM_COLD;
		if (__atomic_compare_exchange_n(&km.state, &cold, KM_BOOTING, false,
						__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			booting = true;
			boot();
			__atomic_store_n(&km.state, KM_UP, __ATOMIC_RELEASE);
			booting = false;
			/* After UP: these may allocate, and now they can. */
			if (km.stats)
				atexit(km_print_stats);
			return true;
		}
	}
	/* The booting thread's own calls are served from the arena. */
	if (booting)
		return false;
	while (__atomic_load_n(&km.state, __ATOMIC_ACQUIRE) != KM_UP)
		sched_yield();
	return true;
}

/* --- Statistics ---------------------------------------------------------------------------- */

void kmm_libc_stats(struct kmm_libc_stats *st)
{
	*st = km.st;
	if (!km.m)
		return;
	st->cpus = (unsigned long)km.nr_cpus;
	st->ram_mib = (unsigned long)(km.ram_bytes >> 20);
	st->populated_mib = kmm_ram_populated_blocks(km.m) * (KM_RUN_MAX >> 20);
}

static int show_malloc_cache(const struct kmm_slabinfo *si, void *arg)
{
	struct kmm_buf *b = arg;
	if (strncmp(si->name, "malloc-", 7) || !si->num_objs)
		return 0;
	kmm_buf_printf(b, "%-16s %10lu %10lu %7u %8lu %8lu KiB\n", si->name, si->active_objs,
		       si->num_objs, si->objsize, si->num_slabs,
		       (si->num_slabs << si->order) * (PAGE_SIZE >> 10));
	return 0;
}

void km_print_stats(void)
{
	if (!km.m)
		return;
	struct kmm_libc_stats st;
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_libc_stats(&st);
	kmm_buf_printf(&b,
		       "kmm-malloc: %lu MiB of RAM, %lu MiB backed by host memory; %lu CPUs; "
		       "%lu threads (%lu with a CPU of their own, %lu sharing); %lu calls "
		       "without a CPU\n",
		       st.ram_mib, st.populated_mib, st.cpus, st.threads, st.exclusive, st.shared,
		       st.no_cpu_calls);
	kmm_buf_printf(&b,
		       "kmm-malloc: %lu huge mappings live (%lu MiB); %lu blocks of 4 MiB given "
		       "back to the host in %lu checks; %lu forks; %lu bytes of bootstrap arena\n",
		       st.huge_live, st.huge_bytes >> 20, st.purged_blocks, st.purge_checks,
		       st.forks, st.arena_bytes);
	kmm_buf_printf(&b, "# name               active    objects objsize    slabs     memory\n");
	kmm_slab_for_each_cache(km.m, show_malloc_cache, &b);
	kmm_show_buddyinfo(km.m, &b);
	ssize_t w = write(2, b.data, b.len);
	(void)w;
	kmm_buf_free(&b);
}
