/*
 * bench/boot: how fast a machine boots, and what its struct pages cost.
 *
 * Linux: DEFERRED_STRUCT_PAGE_INIT (mm/mm_init.c deferred_init_memmap):
 * the boot CPU initialises only the first section of each node's highest
 * zone and the kernel runs on that while one thread per node initialises
 * the rest. kmm does the same (src/phys/page_init.c), with the memmap backed
 * by host memory section by section as it is initialised (src/phys/sparse.c).
 *
 * For 1, 16 and 64 GiB machines (2 nodes, 4 CPUs) in each memory model this
 * measures, as the median of several boots:
 *  - ready: kmm_boot() returning with KMM_DEFERRED_THREAD, i.e. the time until
 *    the machine can allocate, checked by allocating a page right then;
 *  - full: until every page is initialised and in the zones
 *    (kmm_wait_for_init), also per GiB of present RAM;
 *  - memmap bytes per GiB of RAM, and the host memory the machine holds
 *    (RSS growth), which decides whether a 64 GiB twin fits a 24 GiB host.
 * The peers are Linux's own figures: deferred init on bare metal, and the
 * oracle boots under QEMU (emulated, shown but not comparable).
 *
 * Host memory temperature. Most of a boot is the host backing the memmap
 * (16 MiB per GiB of RAM). On a VM with free page reporting, memory this
 * guest freed more than about 2 s ago has gone back to the hypervisor, and
 * backing it again costs ~5 us per 4 KiB instead of ~0.2 us: a 64 GiB boot
 * takes ~1.5 s instead of ~0.13 s. So the main rows are "warm": just before
 * each boot the bench populates and frees as much memory as the boot will
 * touch, which is what back-to-back boots (tests, benches) see. The "cold"
 * row boots the default model after the host has had time to take the
 * memory back, which is what a first boot after idle sees.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef KMM_ORACLE_DIR
#define KMM_ORACLE_DIR "../shared/oracle"
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Linux 6.1 deferred struct page init on bare metal, per thread (the project brief). */
#define LINUX_MS_PER_GIB  2.8
/* The goals (issue 2, section 7). */
#define GOAL_READY_64G_MS 150.0
#define GOAL_FULL_MS_GIB  4.0
#define GOAL_PAGE_BYTES	  64.0
#define ORACLE_DMESG	  "linux-6.1/e_4G_numa2/dmesg.txt"
/*
 * Idle time after which freed memory has been reported back to the
 * hypervisor: Linux's PAGE_REPORTING_DELAY is 2 s; measured here, memory
 * idle for 2 s is half cold and for 3 s fully cold.
 */
#define COLD_WAIT_S	  4

static const struct boot_size {
	const char *mem; /* --mem, and the figure's tag */
	unsigned int gib;
} sizes[] = {{"1G", 1}, {"16G", 16}, {"64G", 64}};

static const struct boot_model {
	enum kmm_memory_model model;
	const char *tag;  /* in figure names */
	const char *name; /* in the table */
} models[] = {
    {KMM_MODEL_FLATMEM, "flat", "FLATMEM"},
    {KMM_MODEL_SPARSEMEM, "sparse", "SPARSEMEM"},
    {KMM_MODEL_SPARSEMEM_VMEMMAP, "vmemmap", "SPARSEMEM_VMEMMAP"},
};

#define NR_SIZES  KMM_ARRAY_SIZE(sizes)
#define NR_MODELS KMM_ARRAY_SIZE(models)
#define MAX_REPS  64

/* One boot. */
struct boot_sample {
	double ready_ms;    /* boot start -> kmm_boot() returned */
	double alloc_us;    /* the first kmm_alloc_pages(), made right then */
	double full_ms;	    /* boot start -> every page in the zones */
	double rss_mib;	    /* host memory held once initialised */
	double present_gib; /* present RAM */
	double memmap_bytes;
};

/* The boots of one machine size and model, and their medians. */
struct boot_cell {
	const struct boot_size *size;
	const struct boot_model *model;
	bool cold;   /* boot on host memory the hypervisor has taken back */
	bool failed; /* could not boot: printed as n/a with @why */
	char why[512];
	int runs, alloc_failures;
	struct boot_sample s[MAX_REPS];
	struct bench_stats ready, full;
	double alloc_us, rss_mib, present_gib, memmap_bytes;
};

static struct boot_cell cells[NR_SIZES][NR_MODELS];
static struct boot_cell cold_cell;

/*
 * Boot one machine with deferred init in a thread; allocate a page as soon
 * as kmm_boot() returns; wait for the rest; measure; destroy. Returns 0, or
 * -errno with the reason in @why.
 */
static int boot_once(const struct boot_size *size, const struct boot_model *model,
		     struct boot_sample *s, bool *alloc_ok, char *why, size_t whylen)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	int ret;

	kmm_config_init(&cfg);
	if ((ret = kmm_config_option(&cfg, "--mem", size->mem, &err)) < 0 ||
	    (ret = kmm_config_option(&cfg, "--nodes", "2", &err)) < 0 ||
	    (ret = kmm_config_option(&cfg, "--cpus", "4", &err)) < 0) {
		snprintf(why, whylen, "%s", err.msg);
		return ret;
	}
	cfg.model = model->model;
	cfg.deferred = KMM_DEFERRED_THREAD;
	cfg.quiet = true;

	size_t rss0 = bench_rss_bytes();
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		snprintf(why, whylen, "%s", err.msg);
		return err.code ? err.code : -ENOMEM;
	}
	uint64_t t0 = bench_now_ns();
	struct kmm_page *page = kmm_alloc_pages(m, GFP_KERNEL, 0);
	uint64_t t1 = bench_now_ns();
	*alloc_ok = page != NULL;
	if (page)
		kmm_free_pages(m, page, 0);
	kmm_wait_for_init(m);

	s->ready_ms = (double)(m->ready_ns - m->boot_start_ns) / 1e6;
	s->alloc_us = (double)(t1 - t0) / 1e3;
	s->full_ms = (double)(m->init_done_ns - m->boot_start_ns) / 1e6;
	s->rss_mib = ((double)bench_rss_bytes() - (double)rss0) / KMM_SZ_1M;
	s->present_gib = (double)m->physpages * PAGE_SIZE / KMM_SZ_1G;
	s->memmap_bytes = (double)m->memmap_bytes;
	kmm_machine_destroy(m);
	return 0;
}

/* Host memory a boot of @size touches: the memmap (64 B per 4 KiB) plus boot allocations. */
static size_t boot_footprint(const struct boot_size *size)
{
	return ((size_t)size->gib << 30) / PAGE_SIZE * sizeof(struct kmm_page) * 17 / 16 +
	       48 * KMM_SZ_1M;
}

/* Enough host memory for the machine, with slack? */
static bool host_can_hold(const struct boot_size *size, char *why, size_t whylen)
{
	size_t need = boot_footprint(size) * 3 / 2;
	size_t avail = bench_host_available_bytes();
	if (!avail || avail >= need)
		return true;
	snprintf(why, whylen, "the host has %zu MiB available, the %s machine needs about %zu MiB",
		 avail >> 20, size->mem, need >> 20);
	return false;
}

/*
 * Make the next boot find warm host memory: populate as much as it will
 * touch, in huge pages like kmm's reservations, and free it again. The host
 * kernel hands the same freed blocks to the boot.
 */
static void warm_host_memory(const struct boot_size *size)
{
	size_t len = KMM_ALIGN(boot_footprint(size), 4 * KMM_SZ_1M);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_HUGEPAGE);
	for (size_t off = 0; off < len; off += 4 * KMM_SZ_1M)
		if (madvise(p + off, 4 * KMM_SZ_1M, MADV_POPULATE_WRITE))
			for (size_t b = off; b < off + 4 * KMM_SZ_1M; b += 4096)
				p[b] = 1;
	munmap(p, len);
}

/*
 * What the host alone costs: populating and writing, in 4 MiB blocks as
 * kmm does, the 16 MiB of memmap that a GiB of simulated RAM needs, on warm
 * or (after the idle wait) cold host memory. Full initialisation cannot be
 * faster than this on this machine, whatever kmm does; ms per GiB of RAM.
 */
static double host_floor_ms_per_gib(bool cold)
{
	const size_t len = 256 * KMM_SZ_1M; /* the memmap of 16 GiB */
	if (cold)
		sleep(COLD_WAIT_S);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	madvise(p, len, MADV_HUGEPAGE);
	if (!cold) {
		memset(p, 1, len); /* warm: touched once before the timed pass */
		madvise(p, len, MADV_DONTNEED);
	}
	uint64_t t0 = bench_now_ns();
	for (size_t off = 0; off < len; off += 4 * KMM_SZ_1M) {
		madvise(p + off, 4 * KMM_SZ_1M, MADV_POPULATE_WRITE);
		memset(p + off, 0, 4 * KMM_SZ_1M);
	}
	uint64_t t1 = bench_now_ns();
	munmap(p, len);
	return (double)(t1 - t0) / 1e6 / 16.0;
}

static double floor_warm, floor_cold;

/* Boot @c once more and add the sample (or mark it failed). */
static void cell_run(struct boot_cell *c)
{
	bool alloc_ok = false;

	if (c->failed || c->runs >= MAX_REPS)
		return;
	if (c->runs == 0 && !host_can_hold(c->size, c->why, sizeof(c->why))) {
		c->failed = true;
		return;
	}
	if (c->cold)
		sleep(COLD_WAIT_S);
	else
		warm_host_memory(c->size);
	if (boot_once(c->size, c->model, &c->s[c->runs], &alloc_ok, c->why, sizeof(c->why))) {
		c->failed = true;
		return;
	}
	c->alloc_failures += !alloc_ok;
	c->runs++;
}

/* Statistics of one field (at @offset) over the cell's samples. */
static struct bench_stats cell_stats(const struct boot_cell *c, size_t offset)
{
	double v[MAX_REPS];
	for (int i = 0; i < c->runs; i++)
		v[i] = *(const double *)((const char *)&c->s[i] + offset);
	return bench_stats(v, c->runs);
}

static void cell_summarise(struct boot_cell *c)
{
	if (c->failed || !c->runs) {
		c->failed = true;
		return;
	}
	c->ready = cell_stats(c, offsetof(struct boot_sample, ready_ms));
	c->full = cell_stats(c, offsetof(struct boot_sample, full_ms));
	c->alloc_us = cell_stats(c, offsetof(struct boot_sample, alloc_us)).median;
	c->rss_mib = cell_stats(c, offsetof(struct boot_sample, rss_mib)).median;
	c->present_gib = cell_stats(c, offsetof(struct boot_sample, present_gib)).median;
	c->memmap_bytes = cell_stats(c, offsetof(struct boot_sample, memmap_bytes)).median;
}

static double full_per_gib(const struct boot_cell *c)
{
	return c->failed ? NAN : c->full.median / c->present_gib;
}

static double ready_ms(const struct boot_cell *c)
{
	return c->failed ? NAN : c->ready.median;
}

static void measure(const struct bench_opts *o)
{
	for (size_t si = 0; si < NR_SIZES; si++) {
		/* More runs for 64G: its boots now and then meet memory the host took back. */
		int reps = sizes[si].gib >= 64 ? bench_reps(o, 7, 1) : bench_reps(o, 5, 3);
		reps = reps > MAX_REPS ? MAX_REPS : reps;
		printf("booting %s machines, %d run%s per model, on warm host memory...\n",
		       sizes[si].mem, reps, reps == 1 ? "" : "s");
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			cells[si][mi] =
			    (struct boot_cell){.size = &sizes[si], .model = &models[mi]};
		/* Models alternate within a repetition, so drifts in host load hit them alike. */
		for (int r = 0; r < reps; r++)
			for (size_t mi = 0; mi < NR_MODELS; mi++)
				cell_run(&cells[si][mi]);
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			cell_summarise(&cells[si][mi]);
	}

	int reps = bench_reps(o, 3, 1);
	reps = reps > MAX_REPS ? MAX_REPS : reps;
	cold_cell = (struct boot_cell){
	    .size = &sizes[NR_SIZES - 1], .model = &models[NR_MODELS - 1], .cold = true};
	printf("booting a %s %s machine on cold host memory, %d run%s (%d s idle before "
	       "each)...\n",
	       cold_cell.size->mem, cold_cell.model->name, reps, reps == 1 ? "" : "s", COLD_WAIT_S);
	for (int r = 0; r < reps; r++)
		cell_run(&cold_cell);
	cell_summarise(&cold_cell);
}

static void print_row(struct bench_table *t, const struct boot_cell *c)
{
	bench_table_cell(t, "%s", c->model->name);
	bench_table_cell(t, "%s", c->size->mem);
	bench_table_cell(t, "%s", c->cold ? "cold" : "warm");
	if (c->failed) {
		bench_table_cell(t, "n/a");
		for (int col = 4; col < t->ncols - 1; col++)
			bench_table_cell(t, "%s", "");
		bench_table_cell(t, "0");
		return;
	}
	bench_table_num(t, c->ready.median);
	if (c->alloc_failures)
		bench_table_cell(t, "FAIL %d/%d", c->alloc_failures, c->runs);
	else
		bench_table_cell(t, "ok %.0f us", c->alloc_us);
	bench_table_num(t, c->full.median);
	bench_table_cell(t, "%.0f-%.0f", c->full.min, c->full.max);
	bench_table_num(t, full_per_gib(c));
	bench_table_cell(t, "%.2f", full_per_gib(c) / LINUX_MS_PER_GIB);
	bench_table_cell(t, "%.0f", c->memmap_bytes / c->present_gib);
	bench_table_num(t, c->rss_mib);
	bench_table_cell(t, "%d", c->runs);
}

/* Why @c has no figures, after the table; returns how many lines it printed. */
static int print_failure(const struct boot_cell *c, int printed)
{
	if (!c->failed)
		return 0;
	printf("%sn/a: %s %s (%s host memory): %s\n", printed ? "" : "\n", c->model->name,
	       c->size->mem, c->cold ? "cold" : "warm", c->why[0] ? c->why : "no boot completed");
	return 1;
}

static void print_table(void)
{
	struct bench_table t;
	int failed = 0;

	bench_table_init(&t);
	bench_table_col(&t, "model", -17);
	bench_table_col(&t, "RAM", 4);
	bench_table_col(&t, "host", -4);
	bench_table_col(&t, "ready ms", 8);
	bench_table_col(&t, "1st alloc", 9);
	bench_table_col(&t, "full ms", 7);
	bench_table_col(&t, "full min-max", 12);
	bench_table_col(&t, "ms/GiB", 6);
	bench_table_col(&t, "x Linux", 7);
	bench_table_col(&t, "memmap B/GiB", 12);
	bench_table_col(&t, "host MiB", 8);
	bench_table_col(&t, "runs", 4);
	bench_table_header(&t);
	for (size_t si = 0; si < NR_SIZES; si++)
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			print_row(&t, &cells[si][mi]);
	print_row(&t, &cold_cell);
	for (size_t si = 0; si < NR_SIZES; si++)
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			failed += print_failure(&cells[si][mi], failed);
	print_failure(&cold_cell, failed);
	printf("\nready: kmm_boot() returned (deferred init goes on in a thread) and a GFP_KERNEL\n"
	       "page was allocated right then ('1st alloc': that allocation's latency). full:\n"
	       "every page initialised and in the zones; ms/GiB: full per GiB of present RAM,\n"
	       "end to end; x Linux: against Linux's %.1f ms/GiB per thread on bare metal.\n"
	       "host: warm = the host backed this memory recently, cold = after %d s idle, when\n"
	       "the hypervisor has taken freed memory back. host MiB: RSS growth of this\n"
	       "process with the machine booted. Times are medians of 'runs' boots.\n",
	       LINUX_MS_PER_GIB, COLD_WAIT_S);
	printf("\nhost floor, measured now: populating and writing the 16 MiB of memmap of one\n"
	       "GiB of RAM takes %.2f ms on warm and %.2f ms on cold host memory (the facts\n"
	       "this machine was specified with, 0.5 us to populate and 0.2 us to write a\n"
	       "4 KiB page, give 2.9 ms). Full initialisation cannot beat these.\n",
	       floor_warm, floor_cold);
}

/*
 * Linux's own deferred-init lines from the oracle boot log, with the node
 * sizes from its "Early memory node ranges".
 */
static void print_linux_reference(void)
{
	char path[1024], line[512];
	double node_bytes[64] = {0};
	const char *dir = getenv("KMM_ORACLE_DIR") ? getenv("KMM_ORACLE_DIR") : KMM_ORACLE_DIR;
	FILE *f;
	bool any = false;

	bench_section("Linux reference");
	printf("- bare metal: Linux 6.1 initialises deferred struct pages at about %.1f ms/GiB "
	       "per thread (one thread per node).\n",
	       LINUX_MS_PER_GIB);
	snprintf(path, sizeof(path), "%s/%s", dir, ORACLE_DMESG);
	if (!(f = fopen(path, "r"))) {
		printf("- oracle boot log %s: not found (set KMM_ORACLE_DIR)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "node ");
		unsigned long long s, e;
		unsigned long ms;
		int nid;
		if (!p)
			continue;
		if (sscanf(p, "node %d: [mem %llx-%llx]", &nid, &s, &e) == 3 && nid >= 0 &&
		    nid < 64 && e >= s)
			node_bytes[nid] += (double)(e + 1 - s);
		else if (sscanf(p, "node %d deferred pages initialised in %lums", &nid, &ms) == 2 &&
			 nid >= 0 && nid < 64) {
			double gib = node_bytes[nid] / KMM_SZ_1G;
			printf("- QEMU TCG oracle (%s): \"node %d deferred pages initialised in "
			       "%lums\" for a %.2f GiB node (%.0f ms/GiB)\n",
			       ORACLE_DMESG, nid, ms, gib, gib > 0 ? (double)ms / gib : NAN);
			any = true;
		}
	}
	fclose(f);
	if (any)
		printf("  The oracle ran under QEMU TCG, an emulated CPU, so its times are not "
		       "comparable with kmm's; they are shown for scale only.\n");
	else
		printf("- %s: no deferred-init lines\n", path);
}

static void print_goals(void)
{
	char what[96];
	const struct boot_cell *big = cells[NR_SIZES - 1];

	bench_section("Goals");
	bench_goal_header();
	for (size_t mi = 0; mi < NR_MODELS; mi++) {
		snprintf(what, sizeof(what), "64 GiB ready, %s", models[mi].name);
		bench_goal(what, ready_ms(&big[mi]), GOAL_READY_64G_MS, "ms");
	}
	snprintf(what, sizeof(what), "64 GiB ready, %s, cold", cold_cell.model->name);
	bench_goal(what, ready_ms(&cold_cell), GOAL_READY_64G_MS, "ms");
	for (size_t mi = 0; mi < NR_MODELS; mi++) {
		snprintf(what, sizeof(what), "64 GiB full init per GiB, %s", models[mi].name);
		bench_goal(what, full_per_gib(&big[mi]), GOAL_FULL_MS_GIB, "ms/GiB");
	}
	snprintf(what, sizeof(what), "64 GiB full init per GiB, %s, cold", cold_cell.model->name);
	bench_goal(what, full_per_gib(&cold_cell), GOAL_FULL_MS_GIB, "ms/GiB");
	bench_goal("sizeof(struct kmm_page)", (double)sizeof(struct kmm_page), GOAL_PAGE_BYTES,
		   "B");
}

static void print_cell_figures(const struct boot_cell *c)
{
	char name[96];
	const char *suffix = c->cold ? "_cold" : "";

	if (c->failed)
		return;
	snprintf(name, sizeof(name), "boot_ready_%s_%s%s", c->size->mem, c->model->tag, suffix);
	bench_figure(name, c->ready.median, "ms");
	snprintf(name, sizeof(name), "boot_full_%s_%s%s", c->size->mem, c->model->tag, suffix);
	bench_figure(name, c->full.median, "ms");
	snprintf(name, sizeof(name), "boot_host_rss_%s_%s%s", c->size->mem, c->model->tag, suffix);
	bench_figure(name, c->rss_mib, "MiB");
}

static void print_figures(void)
{
	char name[96];

	printf("\n");
	for (size_t si = 0; si < NR_SIZES; si++)
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			print_cell_figures(&cells[si][mi]);
	print_cell_figures(&cold_cell);
	/* Per-GiB figures from the largest machine, where fixed costs weigh least. */
	for (size_t mi = 0; mi < NR_MODELS; mi++) {
		const struct boot_cell *c = &cells[NR_SIZES - 1][mi];
		if (c->failed)
			continue;
		snprintf(name, sizeof(name), "boot_full_per_gib_%s", models[mi].tag);
		bench_figure(name, full_per_gib(c), "ms/GiB");
		snprintf(name, sizeof(name), "memmap_bytes_per_gib_%s", models[mi].tag);
		bench_figure(name, round(c->memmap_bytes / c->present_gib), "B");
	}
	snprintf(name, sizeof(name), "boot_full_per_gib_%s_cold", cold_cell.model->tag);
	bench_figure(name, full_per_gib(&cold_cell), "ms/GiB");
	bench_figure("struct_page_bytes", (double)sizeof(struct kmm_page), "B");
	bench_figure("host_floor_per_gib_warm", floor_warm, "ms/GiB");
	bench_figure("host_floor_per_gib_cold", floor_cold, "ms/GiB");
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct boot_sample warm;
	bool alloc_ok;
	char why[512];
	int failures = 0;

	argc = bench_init(&o, argc, argv, "boot", NULL, NULL);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);

	bench_section("boot: machines of 1, 16 and 64 GiB, 2 nodes, 4 CPUs%s",
		      o.quick ? " (quick)" : "");
	/* One untimed boot first: page in the code, warm the host's allocator. */
	boot_once(&sizes[0], &models[NR_MODELS - 1], &warm, &alloc_ok, why, sizeof(why));
	measure(&o);
	floor_warm = host_floor_ms_per_gib(false);
	floor_cold = host_floor_ms_per_gib(true);
	printf("\n");
	print_table();
	print_linux_reference();
	print_goals();
	print_figures();

	for (size_t si = 0; si < NR_SIZES; si++)
		for (size_t mi = 0; mi < NR_MODELS; mi++)
			failures += cells[si][mi].alloc_failures;
	failures += cold_cell.alloc_failures;
	if (failures) {
		fprintf(stderr,
			"boot: %d boot(s) could not allocate a page when kmm_boot() "
			"returned\n",
			failures);
		return 1;
	}
	return 0;
}
