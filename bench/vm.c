/*
 * bench/vm: the address-space layer's fast and slow paths, beside the host
 * kernel doing the same work in the same run.
 *
 * Linux counterpart: the host itself (mmap, page faults, fork, exit), and
 * the published figure of about 14 ms to fork a process with 1 GiB of
 * 4 KiB pages.
 *
 * Figures, each the median of several runs:
 *  - TLB-hit access: kmm_read() of 8 bytes from pages the software TLB
 *    holds (ns per access, and accesses per second); also in instructions;
 *  - demand-zero fault: a write to untouched anonymous memory, zeroing
 *    included, per page. "first touch" on a fresh machine, whose simulated
 *    RAM the host has not backed yet (kmm backs it 4 MiB at a time with
 *    MADV_POPULATE_WRITE when the buddy allocator hands it out); "steady"
 *    on frames that were used and freed before (the common case of a
 *    running machine). The host's figure is a first write to fresh
 *    anonymous memory of this process: a trapped page fault on this VM;
 *  - COW fault: a child's write to a page it shares with its parent after
 *    fork (a 4 KiB copy), per page; the host's child does the same;
 *  - fork+exit: fork a task that has touched 64 MiB or 1 GiB of anonymous
 *    memory, and reap the child; the host forks a process with as much
 *    touched memory and waits for the child to exit;
 *  - mmap+munmap of 1 MiB of anonymous memory, untouched and touched.
 *
 * The host's figures are taken first, while this process is still small (a
 * host fork copies the page tables of everything the process maps, the
 * simulated RAM included).
 */
#define _GNU_SOURCE
#include "bench.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vm/vm.h"

#define RW   (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)

/* Goals (issue: process address spaces). */
#define GOAL_TLB_HIT_NS	   10.0 /* >= 100 M accesses/s */
#define GOAL_ZERO_FAULT_US 0.4
#define GOAL_COW_FAULT_US  0.5
#define GOAL_FORK_1G_MS	   10.0
#define LINUX_FORK_1G_MS   14.0 /* published, bare metal */

#define MACHINE "--mem 3G --nodes 1 --cpus 2"

struct figures {
	double tlb_ns, tlb_instr, host_load_ns;
	double zero_first_us, zero_steady_us, zero_instr, host_zero_us, memset_us;
	double cow_us, cow_instr, host_cow_us, memcpy_us;
	double fork_ms[2], host_fork_ms[2];
	double mmap_us, mmap_touch_us, host_mmap_us, host_mmap_touch_us;
};

static const unsigned long fork_sizes_mib[2] = {64, 1024};

static struct kmm_machine *boot(void)
{
	struct kmm_error err = {0};
	struct kmm_machine *m = bench_boot(MACHINE, &err);
	if (!m) {
		fprintf(stderr, "vm: %s\n", err.msg);
		exit(1);
	}
	return m;
}

static struct kmm_task *task(struct kmm_machine *m, int cpu)
{
	struct kmm_error err = {0};
	struct kmm_task *t = kmm_task_create(m, "bench", cpu, &err);
	if (!t) {
		fprintf(stderr, "vm: %s\n", err.msg);
		exit(1);
	}
	return t;
}

static unsigned long map(struct kmm_task *t, unsigned long len)
{
	long a = kmm_mmap(t, 0, len, RW, ANON, NULL, 0);
	if (a < 0) {
		fprintf(stderr, "vm: mmap of %lu bytes failed: %ld\n", len, a);
		exit(1);
	}
	return (unsigned long)a;
}

static void touch(struct kmm_task *t, unsigned long a, unsigned long len)
{
	if (kmm_touch(t, a, len, KMM_TOUCH_WRITE)) {
		fprintf(stderr, "vm: touching %#lx failed\n", a);
		exit(1);
	}
}

/* --- TLB hits ------------------------------------------------------------------------- */

#define HIT_PAGES 16

struct hit_state {
	struct kmm_machine *m;
	struct kmm_task *t;
	unsigned long a;
};

static void *hit_setup(void)
{
	struct hit_state *s = calloc(1, sizeof(*s));
	s->m = boot();
	s->t = task(s->m, 0);
	s->a = map(s->t, HIT_PAGES * PAGE_SIZE);
	touch(s->t, s->a, HIT_PAGES * PAGE_SIZE);
	return s;
}

static void hit_run(void *arg, uint64_t iters)
{
	struct hit_state *s = arg;
	uint64_t v, sum = 0;
	for (uint64_t i = 0; i < iters; i++) {
		/* Walk 16 pages with a stride, like a loop over an array. */
		unsigned long off = (i * 520) & (HIT_PAGES * PAGE_SIZE - 8);
		kmm_read(s->t, s->a + off, &v, sizeof(v));
		sum += v;
	}
	bench_keep(&sum);
}

static void hit_teardown(void *arg)
{
	struct hit_state *s = arg;
	kmm_machine_destroy(s->m);
	free(s);
}

/* --- Demand-zero faults --------------------------------------------------------------------- */

#define ZERO_PAGES 16384UL /* 64 MiB */

struct zero_state {
	struct kmm_machine *m;
	struct kmm_task *t;
	unsigned long a;
	unsigned long next; /* next page to fault */
};

static void *zero_setup(void)
{
	struct zero_state *s = calloc(1, sizeof(*s));
	s->m = boot();
	s->t = task(s->m, 0);
	s->a = map(s->t, ZERO_PAGES * PAGE_SIZE);
	/* Steady state: the frames were used once; the page tables exist. */
	touch(s->t, s->a, ZERO_PAGES * PAGE_SIZE);
	kmm_madvise(s->t, s->a, ZERO_PAGES * PAGE_SIZE, KMM_MADV_DONTNEED);
	return s;
}

/* Fault @iters pages in, dropping the region again whenever it is full. */
static void zero_run(void *arg, uint64_t iters)
{
	struct zero_state *s = arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (s->next == ZERO_PAGES) {
			kmm_madvise(s->t, s->a, ZERO_PAGES * PAGE_SIZE, KMM_MADV_DONTNEED);
			s->next = 0;
		}
		kmm_touch(s->t, s->a + s->next++ * PAGE_SIZE, 1, KMM_TOUCH_WRITE);
	}
}

static void zero_teardown(void *arg)
{
	struct zero_state *s = arg;
	kmm_machine_destroy(s->m);
	free(s);
}

/* Steady state, timed per pass over the region (the madvise outside the timing). */
static double zero_steady_us(int reps)
{
	struct zero_state *s = zero_setup();
	double v[64];
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		touch(s->t, s->a, ZERO_PAGES * PAGE_SIZE);
		uint64_t t1 = bench_now_ns();
		kmm_madvise(s->t, s->a, ZERO_PAGES * PAGE_SIZE, KMM_MADV_DONTNEED);
		v[r] = (double)(t1 - t0) / 1e3 / ZERO_PAGES;
	}
	zero_teardown(s);
	return bench_median(v, reps);
}

/* First touch: a fresh machine each time, its RAM not yet backed by the host. */
static double zero_first_us(int reps)
{
	double v[64];
	for (int r = 0; r < reps; r++) {
		struct kmm_machine *m = boot();
		struct kmm_task *t = task(m, 0);
		unsigned long a = map(t, ZERO_PAGES * PAGE_SIZE);
		uint64_t t0 = bench_now_ns();
		touch(t, a, ZERO_PAGES * PAGE_SIZE);
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e3 / ZERO_PAGES;
		kmm_machine_destroy(m);
	}
	return bench_median(v, reps);
}

/* --- COW faults -------------------------------------------------------------------------------- */

#define COW_PAGES 16384UL

struct cow_state {
	struct kmm_machine *m;
	struct kmm_task *parent, *child;
	unsigned long a, next;
};

static void cow_refork(struct cow_state *s)
{
	struct kmm_error err = {0};
	if (s->child)
		kmm_task_reap(s->child);
	s->child = kmm_task_fork(s->parent, 0, &err);
	if (!s->child) {
		fprintf(stderr, "vm: fork: %s\n", err.msg);
		exit(1);
	}
	s->next = 0;
}

static void *cow_setup(void)
{
	struct cow_state *s = calloc(1, sizeof(*s));
	s->m = boot();
	s->parent = task(s->m, 0);
	s->a = map(s->parent, COW_PAGES * PAGE_SIZE);
	touch(s->parent, s->a, COW_PAGES * PAGE_SIZE);
	cow_refork(s);
	/* Warm: one pass of copies, so the frames are host-backed. */
	touch(s->child, s->a, COW_PAGES * PAGE_SIZE);
	cow_refork(s);
	return s;
}

static void cow_run(void *arg, uint64_t iters)
{
	struct cow_state *s = arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (s->next == COW_PAGES)
			cow_refork(s);
		kmm_touch(s->child, s->a + s->next++ * PAGE_SIZE, 1, KMM_TOUCH_WRITE);
	}
}

static void cow_teardown(void *arg)
{
	struct cow_state *s = arg;
	kmm_machine_destroy(s->m);
	free(s);
}

static double cow_us(int reps)
{
	struct cow_state *s = cow_setup();
	double v[64];
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		touch(s->child, s->a, COW_PAGES * PAGE_SIZE);
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e3 / COW_PAGES;
		cow_refork(s);
	}
	cow_teardown(s);
	return bench_median(v, reps);
}

/* --- fork + exit -------------------------------------------------------------------------------- */

static double fork_exit_ms(unsigned long mib, int reps)
{
	struct kmm_machine *m = boot();
	struct kmm_task *p = task(m, 0);
	unsigned long len = mib << 20;
	unsigned long a = map(p, len);
	touch(p, a, len);
	double v[64];
	/* One untimed round: the child's page tables come from frames the host backs then. */
	for (int r = -1; r < reps; r++) {
		struct kmm_error err = {0};
		uint64_t t0 = bench_now_ns();
		struct kmm_task *c = kmm_task_fork(p, 0, &err);
		if (!c) {
			fprintf(stderr, "vm: fork: %s\n", err.msg);
			exit(1);
		}
		kmm_task_reap(c);
		uint64_t t1 = bench_now_ns();
		if (r >= 0)
			v[r] = (double)(t1 - t0) / 1e6;
	}
	kmm_machine_destroy(m);
	return bench_median(v, reps);
}

/* --- mmap + munmap ----------------------------------------------------------------------------- */

static double mmap_munmap_us(bool touched, int reps)
{
	struct kmm_machine *m = boot();
	struct kmm_task *t = task(m, 0);
	double v[64];
	int n = touched ? 64 : 4096;
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < n; i++) {
			unsigned long a = map(t, 1 << 20);
			if (touched)
				touch(t, a, 1 << 20);
			kmm_munmap(t, a, 1 << 20);
		}
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e3 / n;
	}
	kmm_machine_destroy(m);
	return bench_median(v, reps);
}

/* --- The host kernel ------------------------------------------------------------------------------ */

static char *host_map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("vm: host mmap");
		exit(1);
	}
	return p;
}

static void host_touch(char *p, size_t len)
{
	for (size_t o = 0; o < len; o += 4096)
		((volatile char *)p)[o] = 1;
}

static double host_zero_us(int reps)
{
	double v[64];
	size_t len = ZERO_PAGES * 4096;
	for (int r = 0; r < reps; r++) {
		char *p = host_map(len);
		uint64_t t0 = bench_now_ns();
		host_touch(p, len);
		uint64_t t1 = bench_now_ns();
		munmap(p, len);
		v[r] = (double)(t1 - t0) / 1e3 / ZERO_PAGES;
	}
	return bench_median(v, reps);
}

/* The child writes every page once; it reports its time through a pipe. */
static double host_cow_us(int reps)
{
	double v[64];
	size_t len = COW_PAGES * 4096;
	char *p = host_map(len);
	host_touch(p, len);
	for (int r = 0; r < reps; r++) {
		int fds[2];
		if (pipe(fds))
			exit(1);
		pid_t pid = fork();
		if (pid == 0) {
			uint64_t t0 = bench_now_ns();
			host_touch(p, len);
			uint64_t dt = bench_now_ns() - t0;
			if (write(fds[1], &dt, sizeof(dt)) != sizeof(dt))
				_exit(1);
			_exit(0);
		}
		uint64_t dt = 0;
		if (read(fds[0], &dt, sizeof(dt)) != sizeof(dt))
			dt = 0;
		waitpid(pid, NULL, 0);
		close(fds[0]);
		close(fds[1]);
		v[r] = (double)dt / 1e3 / COW_PAGES;
	}
	munmap(p, len);
	return bench_median(v, reps);
}

static double host_fork_ms(unsigned long mib, int reps)
{
	double v[64];
	size_t len = mib << 20;
	char *p = host_map(len);
	host_touch(p, len);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e6;
	}
	munmap(p, len);
	return bench_median(v, reps);
}

static double host_mmap_us(bool touched, int reps)
{
	double v[64];
	int n = touched ? 64 : 4096;
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		for (int i = 0; i < n; i++) {
			char *p = host_map(1 << 20);
			if (touched)
				host_touch(p, 1 << 20);
			munmap(p, 1 << 20);
		}
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e3 / n;
	}
	return bench_median(v, reps);
}

/*
 * What moving one cold 4 KiB page costs by itself here: zeroing it (the
 * floor of a demand-zero fault) and copying it (of a COW fault), over 64 MiB
 * so the pages are not in the caches, like the faults' frames.
 */
static double host_page_op_us(bool copy, int reps)
{
	double v[64];
	size_t len = 2 * ZERO_PAGES * 4096;
	char *p = host_map(len);
	memset(p, 1, len);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();
		for (size_t o = 0; o < len / 2; o += 4096) {
			if (copy)
				memcpy(p + len / 2 + o, p + o, 4096);
			else
				memset(p + o, 0, 4096);
			bench_clobber();
		}
		uint64_t t1 = bench_now_ns();
		v[r] = (double)(t1 - t0) / 1e3 / ZERO_PAGES;
	}
	munmap(p, len);
	return bench_median(v, reps);
}

static void host_load(void *arg, uint64_t iters)
{
	uint64_t *p = arg, sum = 0;
	for (uint64_t i = 0; i < iters; i++) {
		bench_clobber();
		sum += p[(i * 65) & (HIT_PAGES * 512 - 1)];
	}
	bench_keep(&sum);
}

/* --- Output ---------------------------------------------------------------------------------- */

static const struct bench_region regions[] = {
    {"tlb_hit", hit_setup, hit_run, hit_teardown},
    {"zero_fault", zero_setup, zero_run, zero_teardown},
    {"cow_fault", cow_setup, cow_run, cow_teardown},
    {NULL, NULL, NULL, NULL},
};

static void row(struct bench_table *t, const char *what, double kmm, double host, const char *unit)
{
	bench_table_cell(t, "%s", what);
	bench_table_num(t, kmm);
	bench_table_num(t, host);
	if (isnan(host) || isnan(kmm) || kmm == 0)
		bench_table_cell(t, "n/a");
	else
		bench_table_cell(t, "%.2fx", host / kmm);
	bench_table_cell(t, "%s", unit);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct figures f;
	argc = bench_init(&o, argc, argv, "vm", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	int reps = bench_reps(&o, 9, 3);
	int big_reps = bench_reps(&o, 5, 2);
	bench_section("vm: faults, TLB hits, fork and mmap, beside the host kernel%s",
		      o.quick ? " (quick)" : "");

	/* The host first, while this process is small. */
	static uint64_t host_buf[HIT_PAGES * 512];
	uint64_t iters = bench_calibrate(host_load, host_buf, o.quick ? 20000000 : 100000000);
	f.host_load_ns = bench_ns_per_iter(host_load, host_buf, iters, reps);
	f.host_zero_us = host_zero_us(reps);
	f.memset_us = host_page_op_us(false, reps);
	f.memcpy_us = host_page_op_us(true, reps);
	f.host_cow_us = host_cow_us(reps);
	for (int i = 0; i < 2; i++)
		f.host_fork_ms[i] = host_fork_ms(fork_sizes_mib[i], i ? big_reps : reps);
	f.host_mmap_us = host_mmap_us(false, reps);
	f.host_mmap_touch_us = host_mmap_us(true, reps);

	/* kmm. */
	struct hit_state *hs = hit_setup();
	iters = bench_calibrate(hit_run, hs, o.quick ? 20000000 : 100000000);
	f.tlb_ns = bench_ns_per_iter(hit_run, hs, iters, reps);
	hit_teardown(hs);
	f.zero_first_us = zero_first_us(big_reps);
	f.zero_steady_us = zero_steady_us(reps);
	f.cow_us = cow_us(reps);
	for (int i = 0; i < 2; i++)
		f.fork_ms[i] = fork_exit_ms(fork_sizes_mib[i], i ? big_reps : reps);
	f.mmap_us = mmap_munmap_us(false, reps);
	f.mmap_touch_us = mmap_munmap_us(true, reps);
	uint64_t cg = o.quick ? 20000 : 100000;
	f.tlb_instr = bench_instructions(&o, "tlb_hit", cg);
	f.zero_instr = bench_instructions(&o, "zero_fault", cg / 20);
	f.cow_instr = bench_instructions(&o, "cow_fault", cg / 20);

	printf("\n");
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "operation", -34);
	bench_table_col(&t, "kmm", 9);
	bench_table_col(&t, "host", 9);
	bench_table_col(&t, "host/kmm", 8);
	bench_table_col(&t, "unit", -9);
	bench_table_header(&t);
	row(&t, "TLB-hit 8-byte read", f.tlb_ns, f.host_load_ns, "ns");
	row(&t, "demand-zero fault, first touch", f.zero_first_us, f.host_zero_us, "us/page");
	row(&t, "demand-zero fault, steady", f.zero_steady_us, NAN, "us/page");
	row(&t, "COW fault (4 KiB copy)", f.cow_us, f.host_cow_us, "us/page");
	row(&t, "zeroing a cold page (memset)", NAN, f.memset_us, "us/page");
	row(&t, "copying a cold page (memcpy)", NAN, f.memcpy_us, "us/page");
	row(&t, "fork+exit, 64 MiB touched", f.fork_ms[0], f.host_fork_ms[0], "ms");
	row(&t, "fork+exit, 1 GiB touched", f.fork_ms[1], f.host_fork_ms[1], "ms");
	row(&t, "mmap+munmap 1 MiB", f.mmap_us, f.host_mmap_us, "us");
	row(&t, "mmap+touch+munmap 1 MiB", f.mmap_touch_us, f.host_mmap_touch_us, "us");
	printf(
	    "\nkmm's own part of a fault, beyond moving the page: %.2f us (demand-zero), %.2f us "
	    "(COW).\n",
	    f.zero_steady_us - f.memset_us, f.cow_us - f.memcpy_us);
	printf("Instructions: %.0f per TLB-hit read, %.0f per demand-zero fault, %.0f per COW "
	       "fault.\nTLB hits: %.0f M accesses/s. The host column's first touch is a trapped "
	       "fault of this\nprocess on fresh memory; kmm's steady fault reuses frames the "
	       "host already backs\n(the host kernel has no such figure from user space). Linux "
	       "bare metal: fork of\n1 GiB about %.0f ms (published).\n",
	       f.tlb_instr, f.zero_instr, f.cow_instr, 1e3 / f.tlb_ns, LINUX_FORK_1G_MS);

	bench_section("Goals");
	bench_goal_header();
	bench_goal("TLB-hit access (>= 100 M/s)", f.tlb_ns, GOAL_TLB_HIT_NS, "ns");
	bench_goal("demand-zero fault, steady", f.zero_steady_us, GOAL_ZERO_FAULT_US, "us");
	bench_goal("COW fault", f.cow_us, GOAL_COW_FAULT_US, "us");
	bench_goal("fork+exit of 1 GiB", f.fork_ms[1], GOAL_FORK_1G_MS, "ms");

	printf("\n");
	bench_figure("vm_tlb_hit_ns", f.tlb_ns, "ns");
	bench_figure("vm_tlb_hit_instructions", f.tlb_instr, "instructions");
	bench_figure("vm_zero_fault_first_us", f.zero_first_us, "us");
	bench_figure("vm_zero_fault_steady_us", f.zero_steady_us, "us");
	bench_figure("vm_zero_fault_instructions", f.zero_instr, "instructions");
	bench_figure("vm_cow_fault_us", f.cow_us, "us");
	bench_figure("vm_cow_fault_instructions", f.cow_instr, "instructions");
	bench_figure("vm_fork_exit_64M_ms", f.fork_ms[0], "ms");
	bench_figure("vm_fork_exit_1G_ms", f.fork_ms[1], "ms");
	bench_figure("vm_mmap_munmap_1M_us", f.mmap_us, "us");
	bench_figure("vm_mmap_touch_munmap_1M_us", f.mmap_touch_us, "us");
	bench_figure("host_zero_fault_us", f.host_zero_us, "us");
	bench_figure("host_cow_fault_us", f.host_cow_us, "us");
	bench_figure("host_fork_exit_64M_ms", f.host_fork_ms[0], "ms");
	bench_figure("host_fork_exit_1G_ms", f.host_fork_ms[1], "ms");
	bench_figure("host_mmap_munmap_1M_us", f.host_mmap_us, "us");
	bench_figure("host_memset_cold_page_us", f.memset_us, "us");
	bench_figure("host_memcpy_cold_page_us", f.memcpy_us, "us");
	return 0;
}
