/*
 * bench/reclaim: page frame reclamation, measured.
 *
 *  1. Linux 6.1 under pressure, side by side: the oracle's scenario a_anon
 *     (../shared/oracle/linux-6.1-pressure/: a 256 MiB, 1-CPU guest with
 *     512 MiB of swap runs `pressure anon 384 2`: write one byte per page
 *     of 384 MiB twice, then verify) replayed on kmm's twin of that guest
 *     (--from-dmesg its dmesg, the same swap size, swappiness 60). The
 *     counters of each phase beside the mean of Linux's two untraced runs,
 *     with their ratio; the goal is within +-25%. Then scenario c_file
 *     (`pressure file /mnt/f 512 2`, no swap: write(2) a 512 MiB file,
 *     fsync, read(2) it twice) the same way (oracle_file()). The twin holds
 *     the memory the guest used before the program, and shares its one CPU
 *     between the task and kswapd as Linux's scheduler did (share_step).
 *  2. Replacement quality: a task replays a page-reference trace (a loop
 *     larger than memory, a zipf working set, a phase change, and xz -3 as
 *     valgrind lackey recorded it: bench/traces/xz.refs.gz) in a machine
 *     with swap; its faults (first touches + major faults) and its reads
 *     (first touches + pages read from swap, readahead included) beside the
 *     faults of exact LRU and Belady's OPT (src/sim/refsim.c) at the number
 *     of frames the task could hold (free memory above the high watermarks,
 *     less the per-CPU lists, page tables and slab the run made the
 *     machine hold, on average).
 *  3. Reclaim throughput in pages/s: clean file pages, dirty file pages
 *     (written back to their file on the way), anonymous pages and shared
 *     anonymous (shmem) pages written to swap, each reclaimed by kmm_reclaim_pages() from a machine where
 *     they fill memory.
 *
 *  4. Swap I/O through reclaim: a task's anonymous memory (random bytes)
 *     swapped out by kmm_reclaim_pages() and faulted back in with
 *     readahead, in MiB/s beside dd writing and reading a file of the same
 *     size on the same disk in the same run (bench_dd). Each swap-in three
 *     ways: read by the fault (Linux's policy, synchronous), through the
 *     I/O thread (kmm_swap_io_start), and through it with the windows read
 *     ahead (KMM_SWAP_IO_READAHEAD_NEXT). The swap-out two ways, each into
 *     a fresh file: written by reclaim alone, and with the I/O thread
 *     running, which starts the disk's write-back behind reclaim. Goal: at
 *     least 80% of the disk's speed (time <= 1.25x dd's), the swap-out
 *     with the I/O thread and the cold swap-in with the windows read
 *     ahead.
 *
 * The swap layer alone beside dd is bench/swap's table. --quick runs a
 * quarter-size scenario 1 beside Linux's counters scaled by 1/4 (an
 * indication only: the watermarks do not scale). --part NAME runs one part
 * only (oracle, replace, swapio, rate), for working on one figure;
 * --swapio-mib N sizes part 4.
 */
#include "bench.h"
#include "phys/phys.h"
#include <kmm/reclaim.h>
#include <kmm/sim.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB (1UL << 20)

static __attribute__((noreturn)) void die(const char *msg)
{
	fprintf(stderr, "reclaim: %s\n", msg);
	exit(1);
}

static long vmstat_value(struct kmm_machine *m, const char *name)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	long v = 0;
	size_t n = strlen(name);
	for (const char *p = b.data; p && *p;) {
		if (!strncmp(p, name, n) && p[n] == ' ') {
			v = strtol(p + n + 1, NULL, 10);
			break;
		}
		const char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : NULL;
	}
	kmm_buf_free(&b);
	return v;
}

/* --- 1. The oracle's anon scenario --------------------------------------------------------- */

/*
 * The memory Linux's guest used before the program started (its kernel,
 * slab, rootfs: MemTotal - MemFree of the untraced run's meminfo_before),
 * in pages, or 0 if the oracle does not say.
 */
static unsigned long guest_used_pages(const char *scenario)
{
	char path[512], line[128];
	snprintf(path, sizeof(path), "%s/linux-6.1-pressure/%s/notrace_run1/meminfo_before.txt",
		 KMM_ORACLE_DIR, scenario);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long total = -1, free_kb = -1, v;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %ld", &v) == 1)
			total = v;
		else if (sscanf(line, "MemFree: %ld", &v) == 1)
			free_kb = v;
	}
	fclose(f);
	return total > free_kb && free_kb >= 0 ? (unsigned long)(total - free_kb) / 4 : 0;
}

/*
 * The twin holds what the guest had in use as unmovable kernel pages, so
 * that the program starts with Linux's free memory. Returns the array to
 * give back with release_guest_used().
 */
static struct kmm_page **hold_guest_used(struct kmm_machine *m, unsigned long nr)
{
	struct kmm_page **pages = calloc(nr + 1, sizeof(*pages));
	if (!pages)
		die("out of host memory");
	/* The bulk allocator fills what one pass of the per-CPU lists gives: call again. */
	for (unsigned long got = 0, last = ~0UL; got < nr; last = got) {
		got = kmm_alloc_pages_bulk(m, GFP_KERNEL, nr, pages);
		if (got == last)
			die("the twin cannot hold the guest's used memory");
	}
	return pages;
}

static void release_guest_used(struct kmm_machine *m, struct kmm_page **pages, unsigned long nr)
{
	kmm_free_pages_bulk(m, pages, nr);
	free(pages);
}

/*
 * kswapd on the guest's one CPU. Linux's guests ran kswapd and the task on
 * one vCPU; the twin runs them as deterministic steps, and this is its
 * model of how the CPU was shared (docs/reclaim.md, "kswapd on one CPU"):
 *
 *  - While the task does not sleep, CFS gives it and a woken kswapd equal
 *    CPU time. The task's time is its page allocations (one unit each) and
 *    its own direct reclaim; reclaiming a page costs LINUX_RECLAIM_COST
 *    units, in kswapd or in the task. So kswapd may reclaim
 *    allocated / LINUX_RECLAIM_COST + direct-reclaimed pages per step, and
 *    in a steady state the task reclaims (1 - 1/COST) / 2 of what it
 *    allocates itself. The oracle's trace shows the equal split (the first
 *    second of reclaim in a_anon: kswapd 0.50 s, the task 0.53 s of CPU).
 *  - While the task sleeps on I/O (a swap read, a file read, writeback),
 *    kswapd has the CPU to itself and runs until its node is balanced,
 *    and a wake-up runs it at once (a woken sleeper preempts the task;
 *    kmm_kswapd_set_wakeup_slice), as Linux's trace of c_file shows.
 *
 * LINUX_RECLAIM_COST is measured on the one phase where Linux's task never
 * sleeps (a_anon write1, the untraced runs: the task reclaimed 32.7% and
 * 36.7% of the pages reclaimed, 1 / (1 - 2 x 0.347) = 3.27); the traced
 * run's costs differ (tracing adds events to every allocation), so its
 * split is not used. Every other phase of both scenarios is a prediction.
 */
#define LINUX_RECLAIM_COST 3.27

/* The counters the model reads, summed into these slots. */
enum {
	SH_ALLOC,
	SH_DIRECT,
	SH_PGPGIN,
	SH_PGPGOUT,
	SH_N
};

struct cpu_share {
	double credit; /* pages kswapd may reclaim before its share is used */
	long v[SH_N];  /* the counters at the last step */
	bool wait_on_writes;
	bool throttled; /* the writer reached the dirty limits */
};

static const struct {
	const char *name;
	int slot;
} share_counters[] = {
    {"pgalloc_dma", SH_ALLOC},	   {"pgalloc_dma32", SH_ALLOC},	  {"pgalloc_normal", SH_ALLOC},
    {"pgalloc_movable", SH_ALLOC}, {"pgsteal_direct", SH_DIRECT}, {"pgpgin", SH_PGPGIN},
    {"pgpgout", SH_PGPGOUT},
};

/* share_counters in one read of vmstat. */
static void share_read(struct kmm_machine *m, long *v)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	memset(v, 0, sizeof(long) * SH_N);
	for (const char *p = b.data; p && *p;) {
		for (size_t c = 0; c < sizeof(share_counters) / sizeof(share_counters[0]); c++) {
			size_t n = strlen(share_counters[c].name);
			if (!strncmp(p, share_counters[c].name, n) && p[n] == ' ')
				v[share_counters[c].slot] += strtol(p + n + 1, NULL, 10);
		}
		const char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : NULL;
	}
	kmm_buf_free(&b);
}

/*
 * @wait_on_writes: the task is a file writer, which Linux throttles at the
 * dirty limits: from its first writeback on (the disk being slower than
 * the writer), it sleeps in balance_dirty_pages at every ratelimit (32
 * pages) while the flusher writes. Swap-outs are not waited for: reclaim
 * only starts them.
 */
static void share_init(struct kmm_machine *m, struct cpu_share *s, bool wait_on_writes)
{
	s->credit = 0;
	s->wait_on_writes = wait_on_writes;
	s->throttled = false;
	share_read(m, s->v);
}

/*
 * A scheduling point of the twin: the task stops here, and kswapd, if
 * woken, runs for its share. If the task slept on I/O since the last
 * point (@waited: the caller knows, e.g. a swap read; or pgpgin moved; or
 * a throttled writer), kswapd runs until done. Not woken, kswapd earns
 * nothing.
 */
static void share_step(struct kmm_machine *m, struct cpu_share *s, bool waited)
{
	long v[SH_N];
	share_read(m, v);
	if (s->wait_on_writes && v[SH_PGPGOUT] != s->v[SH_PGPGOUT])
		s->throttled = true;
	bool io_wait = waited || s->throttled || v[SH_PGPGIN] != s->v[SH_PGPGIN];
	/*
	 * A task that sleeps on I/O leaves kswapd the CPU whenever it wants
	 * it: until the next point, a wake-up runs kswapd at once.
	 */
	kmm_kswapd_set_wakeup_slice(m, io_wait ? ULONG_MAX : 0);
	bool woken = kmm_kswapd_pending(m);
	if (woken)
		s->credit += (double)(v[SH_ALLOC] - s->v[SH_ALLOC]) / LINUX_RECLAIM_COST +
			     (double)(v[SH_DIRECT] - s->v[SH_DIRECT]);
	else
		s->credit = 0;
	memcpy(s->v, v, sizeof(v));
	if (!woken)
		return;
	kmm_task_switch_out(m);
	kmm_cpu_enter(m, 0);
	if (io_wait) {
		kmm_kswapd_run_pending(m);
		s->credit = 0;
	} else if (s->credit >= 1) {
		s->credit -= (double)kmm_kswapd_run_pending_budget(m, (unsigned long)s->credit);
	}
	kmm_cpu_exit(m);
	/* What kswapd did (its own allocations, writes) is not the task's. */
	share_read(m, s->v);
}

static const char *const counters[] = {
    "pgfault",	     "pgmajfault",     "pswpin",	 "pswpout",    "pgscan_kswapd",
    "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "allocstall", "workingset_refault_anon",
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))
static const char *const phases[] = {"write1", "write2", "verify"};
#define NPHASES 3

static long counter_value(struct kmm_machine *m, const char *name)
{
	if (strcmp(name, "allocstall"))
		return vmstat_value(m, name);
	return vmstat_value(m, "allocstall_dma") + vmstat_value(m, "allocstall_dma32") +
	       vmstat_value(m, "allocstall_normal") + vmstat_value(m, "allocstall_movable");
}

/*
 * Linux's per-phase deltas of @scenario (a_anon, c_file): the "delta PHASE
 * COUNTER N" lines of program.txt, the two untraced runs averaged, into
 * @linux_v[nphases][ncounters], and the smallest and largest run into
 * @lo and @hi; the allocstall_<zone> lines add up.
 */
#define ORACLE_MAX_CELLS 64
static bool read_oracle(const char *dir, const char *scenario, const char *const *phase_names,
			int nphases, const char *const *counter_names, size_t ncounters,
			double *linux_v, double *lo, double *hi)
{
	size_t cells = (size_t)nphases * ncounters;
	double run_v[2][ORACLE_MAX_CELLS];
	if (cells > ORACLE_MAX_CELLS)
		die("read_oracle: too many counters");
	memset(linux_v, 0, sizeof(double) * cells);
	int runs = 0;
	for (int r = 1; r <= 2; r++) {
		char path[512], line[256];
		snprintf(path, sizeof(path), "%s/%s/notrace_run%d/program.txt", dir, scenario, r);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		double *run = run_v[runs++];
		memset(run, 0, sizeof(double) * cells);
		while (fgets(line, sizeof(line), f)) {
			char phase[32], name[64];
			long v;
			if (sscanf(line, "delta %31s %63s %ld", phase, name, &v) != 3)
				continue;
			for (int p = 0; p < nphases; p++) {
				if (strcmp(phase, phase_names[p]))
					continue;
				for (size_t c = 0; c < ncounters; c++) {
					bool stall = !strcmp(counter_names[c], "allocstall") &&
						     !strncmp(name, "allocstall_", 11);
					if (stall || !strcmp(name, counter_names[c]))
						run[(size_t)p * ncounters + c] += (double)v;
				}
			}
		}
		fclose(f);
	}
	if (!runs)
		return false;
	for (size_t k = 0; k < cells; k++) {
		lo[k] = hi[k] = run_v[0][k];
		for (int r = 0; r < runs; r++) {
			linux_v[k] += run_v[r][k] / runs;
			lo[k] = run_v[r][k] < lo[k] ? run_v[r][k] : lo[k];
			hi[k] = run_v[r][k] > hi[k] ? run_v[r][k] : hi[k];
		}
	}
	return true;
}

/*
 * The table of an oracle scenario: each phase's counters, kmm beside Linux
 * (@linux_v NULL: no Linux column) and Linux's two runs, and how many are
 * within 25% of Linux's mean (@figure), and how many within 25% of the
 * range of its runs (@figure_runs: where the runs differ by more than 25%,
 * their spread is the tolerance). The arrays are [nphases][ncounters].
 */
static void print_beside_linux(const char *const *phase_names, int nphases,
			       const char *const *counter_names, size_t ncounters,
			       const double *kmm_v, const double *linux_v, const double *lo,
			       const double *hi, const char *figure, const char *figure_runs)
{
	struct bench_table tb;
	bench_table_init(&tb);
	bench_table_col(&tb, "phase", -7);
	bench_table_col(&tb, "counter", -24);
	bench_table_col(&tb, "kmm", 9);
	bench_table_col(&tb, "Linux", 9);
	bench_table_col(&tb, "kmm/Linux", 9);
	bench_table_col(&tb, "Linux runs", 15);
	bench_table_header(&tb);
	int within = 0, within_runs = 0, total = 0;
	for (int p = 0; p < nphases; p++)
		for (size_t c = 0; c < ncounters; c++) {
			double k = kmm_v[(size_t)p * ncounters + c];
			bench_table_cell(&tb, "%s", phase_names[p]);
			bench_table_cell(&tb, "%s", counter_names[c]);
			bench_table_num(&tb, k);
			if (linux_v) {
				double l = linux_v[(size_t)p * ncounters + c];
				bench_table_num(&tb, l);
				double ratio = l > 0 ? k / l : (k > 0 ? 99 : 1);
				bench_table_num(&tb, ratio);
				size_t i = (size_t)p * ncounters + c;
				bench_table_cell(&tb, "%.0f-%.0f", lo[i], hi[i]);
				total++;
				within += ratio >= 0.75 && ratio <= 1.25;
				within_runs += (ratio >= 0.75 && ratio <= 1.25) ||
					       (k >= lo[i] * 0.75 && k <= hi[i] * 1.25);
			} else {
				bench_table_cell(&tb, "%s", "-");
				bench_table_cell(&tb, "%s", "-");
				bench_table_cell(&tb, "%s", "-");
			}
		}
	printf("\n");
	if (total) {
		printf("%d of %d counters within +-25%% of Linux, %d within +-25%% of the range of "
		       "its two runs\n\n",
		       within, total, within_runs);
		bench_figure(figure, within, "counters");
		bench_figure(figure_runs, within_runs, "counters");
	}
}

static void oracle_anon(const struct bench_opts *o)
{
	char dmesg[512];
	snprintf(dmesg, sizeof(dmesg), "%s/linux-6.1-pressure/a_anon/notrace_run1/dmesg.txt",
		 KMM_ORACLE_DIR);
	double linux_v[NPHASES][NCOUNTERS] = {{0}}, lo[NPHASES][NCOUNTERS] = {{0}},
	       hi[NPHASES][NCOUNTERS] = {{0}};
	bool have = access(dmesg, R_OK) == 0 &&
		    read_oracle(KMM_ORACLE_DIR "/linux-6.1-pressure", "a_anon", phases, NPHASES,
				counters, NCOUNTERS, &linux_v[0][0], &lo[0][0], &hi[0][0]);
	char swap[64], opts[800];
	snprintf(swap, sizeof(swap), "bench-reclaim-%d.swap", getpid());
	unsigned long mib = o->quick ? 96 : 384;
	if (have)
		snprintf(opts, sizeof(opts), "--from-dmesg %s --cpus 1 --swap %s:512M", dmesg,
			 swap);
	else
		snprintf(opts, sizeof(opts), "--mem 256M --nodes 1 --cpus 1 --swap %s:512M", swap);
	if (o->quick)
		snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 1 --swap %s:128M", swap);
	struct kmm_error err = {0};
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die(err.msg);
	/* --quick: a quarter-size twin, beside Linux's counters scaled to it. */
	double scale = o->quick ? 0.25 : 1;
	unsigned long used = have ? (unsigned long)((double)guest_used_pages("a_anon") * scale) : 0;
	struct kmm_page **held = hold_guest_used(m, used);
	struct kmm_task *t = kmm_task_create(m, "pressure", 0, &err);
	if (!t)
		die(err.msg);
	unsigned long n = mib * 256;
	long a = kmm_mmap(t, 0, n * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0)
		die("mmap");
	double kmm_v[NPHASES][NCOUNTERS];
	unsigned long bad = 0, last_majf = 0;
	struct cpu_share share;
	share_init(m, &share, false);
	uint64_t t0 = bench_now_ns();
	for (int p = 0; p < NPHASES; p++) {
		long before[NCOUNTERS];
		for (size_t c = 0; c < NCOUNTERS; c++)
			before[c] = counter_value(m, counters[c]);
		for (unsigned long i = 0; i < n; i++) {
			/* pressure.c's pattern: never 0. */
			uint8_t pat =
			    (uint8_t)(((i * 2654435761ULL) >> 13) + (p == 2 ? 1 : p) * 37) | 1;
			unsigned long addr = (unsigned long)a + i * PAGE_SIZE;
			if (p < 2) {
				if (kmm_write(t, addr, &pat, 1))
					die("write failed");
			} else {
				uint8_t got = 0;
				if (kmm_read(t, addr, &got, 1))
					die("read failed");
				bad += got != pat;
			}
			/*
			 * A scheduling point every 32 pages and after every swap
			 * read (a major fault: the task slept on the I/O), where
			 * kswapd gets its share of the one CPU (share_step).
			 */
			unsigned long minf, majf;
			kmm_task_faults(t, &minf, &majf);
			if ((i & 31) == 31 || majf != last_majf) {
				share_step(m, &share, majf != last_majf);
				last_majf = majf;
			}
		}
		for (size_t c = 0; c < NCOUNTERS; c++)
			kmm_v[p][c] = (double)(counter_value(m, counters[c]) - before[c]);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	if (bad)
		die("the verify phase found wrong bytes");

	bench_section("Linux 6.1 under pressure: `pressure anon %lu 2` on %s (%.1f s)", mib,
		      o->quick ? "a 64 MiB machine (quick: Linux's counters scaled by 1/4)"
			       : "the twin of the oracle's 256 MiB guest",
		      secs);
	for (size_t k = 0; k < NPHASES * NCOUNTERS; k++) {
		(&linux_v[0][0])[k] *= scale;
		(&lo[0][0])[k] *= scale;
		(&hi[0][0])[k] *= scale;
	}
	print_beside_linux(phases, NPHASES, counters, NCOUNTERS, &kmm_v[0][0],
			   have ? &linux_v[0][0] : NULL, &lo[0][0], &hi[0][0],
			   "oracle_a_anon_within25", "oracle_a_anon_within25_runs");
	double steal = kmm_v[0][6] + kmm_v[0][7] + kmm_v[1][6] + kmm_v[1][7];
	bench_figure("oracle_anon_pswpout", kmm_v[0][3] + kmm_v[1][3] + kmm_v[2][3], "pages");
	bench_figure("oracle_anon_pgsteal", steal, "pages");
	bench_figure("oracle_anon_seconds", secs, "s");
	kmm_task_reap(t);
	release_guest_used(m, held, used);
	kmm_machine_destroy(m);
	unlink(swap);
}

/* --- 1b. The oracle's file scenario ---------------------------------------------------------- */

/*
 * c_file: `pressure file /mnt/f 512 2` on the 256 MiB, 1-CPU guest without
 * swap: write(2) a 512 MiB file 1 MiB at a time and fsync it (phase create),
 * then read(2) it back twice, checking every page (read1, read2). kmm runs
 * it through kmm_file_write/kmm_file_read on the twin machine, 32 pages a
 * call with a scheduling point between calls (share_step: kswapd's share
 * of the one CPU, all of it after a call that read or wrote back). Linux keeps a closed file's page cache
 * with its inode; kmm frees it at the last close, so the bench holds one
 * reference for the whole run, and each read pass opens the file anew
 * (fresh read-ahead state, as pressure.c's open()).
 */
static const char *const file_counters[] = {
    "pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd",		 "pgsteal_direct", "allocstall",
    "pgpgin",	     "pgpgout",	      "workingset_refault_file", "pgactivate",	   "pgmajfault",
};
#define NFILE_COUNTERS (sizeof(file_counters) / sizeof(file_counters[0]))
static const char *const file_phases[] = {"create", "read1", "read2"};

static void oracle_file(const struct bench_opts *o)
{
	char dmesg[512];
	snprintf(dmesg, sizeof(dmesg), "%s/linux-6.1-pressure/c_file/notrace_run1/dmesg.txt",
		 KMM_ORACLE_DIR);
	double linux_v[3][NFILE_COUNTERS] = {{0}}, lo[3][NFILE_COUNTERS] = {{0}},
	       hi[3][NFILE_COUNTERS] = {{0}};
	bool have =
	    access(dmesg, R_OK) == 0 &&
	    read_oracle(KMM_ORACLE_DIR "/linux-6.1-pressure", "c_file", file_phases, 3,
			file_counters, NFILE_COUNTERS, &linux_v[0][0], &lo[0][0], &hi[0][0]);
	char path[64], opts[800];
	snprintf(path, sizeof(path), "bench-reclaim-%d.file", getpid());
	unsigned long mib = o->quick ? 128 : 512;
	if (have)
		snprintf(opts, sizeof(opts), "--from-dmesg %s --cpus 1", dmesg);
	else
		snprintf(opts, sizeof(opts), "--mem 256M --nodes 1 --cpus 1");
	if (o->quick)
		snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 1");
	struct kmm_error err = {0};
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die(err.msg);
	double scale = o->quick ? 0.25 : 1;
	unsigned long used = have ? (unsigned long)((double)guest_used_pages("c_file") * scale) : 0;
	struct kmm_page **held = hold_guest_used(m, used);
	struct kmm_task *t = kmm_task_create(m, "pressure", 0, &err);
	if (!t)
		die(err.msg);
	struct kmm_file *inode_ref =
	    kmm_file_open(m, path, KMM_O_RDWR | KMM_O_CREAT | KMM_O_TRUNC, 0644, &err);
	if (!inode_ref)
		die(err.msg);
	const size_t chunk = 32 * PAGE_SIZE; /* pages per call; kswapd runs between calls */
	uint64_t *buf = malloc(chunk);
	unsigned long npages = mib * 256, bad = 0;
	double kmm_v[3][NFILE_COUNTERS];
	/* The writer sleeps on its writeback (balance_dirty_pages), the reader on its reads. */
	struct cpu_share share;
	share_init(m, &share, true);
	uint64_t t0 = bench_now_ns();
	for (int p = 0; p < 3; p++) {
		long before[NFILE_COUNTERS];
		for (size_t c = 0; c < NFILE_COUNTERS; c++)
			before[c] = counter_value(m, file_counters[c]);
		struct kmm_file *f =
		    p == 0 ? inode_ref : kmm_file_open(m, path, KMM_O_RDONLY, 0, &err);
		if (!f)
			die(err.msg);
		for (unsigned long pg = 0; pg < npages; pg += 32) {
			uint64_t off = (uint64_t)pg * PAGE_SIZE;
			if (p == 0) {
				/* pressure.c's pattern: word w of page pg is pg * 1000003 + w. */
				for (size_t i = 0; i < chunk / 8; i++)
					buf[i] = (pg + i / (PAGE_SIZE / 8)) * 1000003ULL +
						 i % (PAGE_SIZE / 8);
				if (kmm_file_write(t, f, off, buf, chunk) != (long)chunk)
					die("file write failed");
			} else {
				if (kmm_file_read(t, f, off, buf, chunk) != (long)chunk)
					die("file read failed");
				for (size_t b = 0; b < 32; b++)
					bad += buf[b * (PAGE_SIZE / 8) + 1] !=
					       (pg + b) * 1000003ULL + 1;
			}
			share_step(m, &share, false);
		}
		if (p == 0 && kmm_file_fsync(f))
			die("fsync failed");
		if (p)
			kmm_file_close(f);
		for (size_t c = 0; c < NFILE_COUNTERS; c++)
			kmm_v[p][c] = (double)(counter_value(m, file_counters[c]) - before[c]);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	free(buf);
	if (bad)
		die("the read phases found wrong data");

	bench_section("Linux 6.1 under pressure: `pressure file /mnt/f %lu 2` on %s (%.1f s)", mib,
		      o->quick ? "a 64 MiB machine (quick: Linux's counters scaled by 1/4)"
			       : "the twin of the oracle's 256 MiB guest, no swap",
		      secs);
	for (size_t k = 0; k < 3 * NFILE_COUNTERS; k++) {
		(&linux_v[0][0])[k] *= scale;
		(&lo[0][0])[k] *= scale;
		(&hi[0][0])[k] *= scale;
	}
	print_beside_linux(file_phases, 3, file_counters, NFILE_COUNTERS, &kmm_v[0][0],
			   have ? &linux_v[0][0] : NULL, &lo[0][0], &hi[0][0],
			   "oracle_c_file_within25", "oracle_c_file_within25_runs");
	bench_figure("oracle_file_pgsteal",
		     kmm_v[0][2] + kmm_v[0][3] + kmm_v[1][2] + kmm_v[1][3] + kmm_v[2][2] +
			 kmm_v[2][3],
		     "pages");
	bench_figure("oracle_file_seconds", secs, "s");
	kmm_file_close(inode_ref);
	kmm_task_reap(t);
	release_guest_used(m, held, used);
	kmm_machine_destroy(m);
	unlink(path);
}

/* --- 2. Reclaim throughput ------------------------------------------------------------------ */

enum kind {
	CLEAN_FILE,
	DIRTY_FILE,
	ANON_SWAP,
	SHMEM_SWAP, /* MAP_SHARED|MAP_ANONYMOUS: shared memory written to swap */
	NR_KINDS
};
static const char *const kind_names[] = {"clean file", "dirty file", "anon to swap",
					 "shmem to swap"};

/* Fill @mib of a @mem_mib machine with pages of @kind, then time reclaiming them. */
static double reclaim_rate(enum kind kind, unsigned long mem_mib, unsigned long mib)
{
	char swap[64], file[64], opts[256];
	snprintf(swap, sizeof(swap), "bench-reclaim-%d.swap", getpid());
	snprintf(file, sizeof(file), "bench-reclaim-%d.data", getpid());
	snprintf(opts, sizeof(opts), "--mem %luM --nodes 1 --cpus 1 --swap %s:%luM", mem_mib, swap,
		 2 * mib);
	struct kmm_error err = {0};
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die(err.msg);
	struct kmm_task *t = kmm_task_create(m, "filler", 0, &err);
	struct kmm_file *f = NULL;
	size_t len = mib * MiB;
	long a;
	if (kind == ANON_SWAP) {
		a = kmm_mmap(t, 0, len, KMM_PROT_READ | KMM_PROT_WRITE,
			     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	} else if (kind == SHMEM_SWAP) {
		a = kmm_mmap(t, 0, len, KMM_PROT_READ | KMM_PROT_WRITE,
			     KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	} else {
		int fd = open(file, O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)len))
			die("cannot make the data file");
		close(fd);
		f = kmm_file_open(m, file, KMM_O_RDWR, 0, &err);
		if (!f)
			die(err.msg);
		a = kmm_mmap(t, 0, len, KMM_PROT_READ | KMM_PROT_WRITE, KMM_MAP_SHARED, f, 0);
	}
	if (a < 0)
		die("mmap");
	for (size_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t v = off;
		int r = kind == CLEAN_FILE ? kmm_read(t, (unsigned long)a + off, &v, 8)
					   : kmm_write(t, (unsigned long)a + off, &v, 8);
		if (r)
			die("touch failed");
	}
	/* File pages stay mapped (reclaim unmaps them); anon pages too. */
	kmm_task_switch_out(m);
	kmm_cpu_enter(m, 0);
	long before = vmstat_value(m, "pgsteal_direct");
	uint64_t t0 = bench_now_ns();
	unsigned long got = kmm_reclaim_pages(m, len / PAGE_SIZE);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	long stolen = vmstat_value(m, "pgsteal_direct") - before;
	kmm_cpu_exit(m);
	(void)stolen;
	kmm_task_reap(t);
	if (f)
		kmm_file_close(f);
	kmm_machine_destroy(m);
	unlink(swap);
	unlink(file);
	return secs > 0 ? (double)got / secs : 0;
}

/* --- 3. Replacement quality ----------------------------------------------------------------- */

/* Reference strings over @npages pages, @n references long. */
static void trace_loop(uint64_t *refs, size_t n, uint64_t npages)
{
	for (size_t i = 0; i < n; i++)
		refs[i] = i % npages;
}

static void trace_zipf(uint64_t *refs, size_t n, uint64_t npages, struct kmm_rng *rng)
{
	/* Zipf(1) by inversion over a harmonic table. */
	double *cdf = malloc(npages * sizeof(*cdf)), sum = 0;
	for (uint64_t k = 0; k < npages; k++)
		cdf[k] = (sum += 1.0 / (double)(k + 1));
	for (size_t i = 0; i < n; i++) {
		double u = kmm_rng_double(rng) * sum;
		uint64_t lo = 0, hi = npages - 1;
		while (lo < hi) {
			uint64_t mid = (lo + hi) / 2;
			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* Scatter the ranks so hot pages are not neighbours (readahead would help). */
		refs[i] = (lo * 2654435761ULL) % npages;
	}
	free(cdf);
}

static void trace_phase(uint64_t *refs, size_t n, uint64_t npages, struct kmm_rng *rng)
{
	/* Two overlapping working sets of 2/3 of the pages, each used uniformly for half the trace. */
	for (size_t i = 0; i < n; i++)
		refs[i] = (i < n / 2 ? 0 : npages / 3) + kmm_rng_below(rng, npages * 2 / 3);
}

struct replay {
	double kmm_faults, kmm_reads, lru, opt;
	unsigned long frames;
};

/*
 * Frames the machine holds for itself that nr_free_pages does not count:
 * free pages parked on the per-CPU lists (kswapd does not see them either),
 * page tables and slab (the swap cache's tree nodes and shadow entries
 * grow with the run). Read straight from the counters: kmm_show() would
 * fold the per-CPU deltas first, which changes what reclaim sees and so
 * the run being measured; with one CPU the unfolded figures are off by a
 * page or two at most.
 */
static long machine_frames(struct kmm_machine *m)
{
	long n = (long)global_node_page_state(m, NR_PAGETABLE) +
		 (long)global_node_page_state_pages(m, NR_SLAB_RECLAIMABLE_B) +
		 (long)global_node_page_state_pages(m, NR_SLAB_UNRECLAIMABLE_B);
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone)
		for (int c = 0; zone->per_cpu_pageset && c < m->nr_cpus; c++)
			n += READ_ONCE(zone->per_cpu_pageset[c].count);
	return n;
}

/* Replay @refs in a task of a @mem_mib machine with swap; LRU and OPT at the frames it had. */
static struct replay replay_trace(const uint64_t *refs, size_t n, uint64_t npages,
				  unsigned long mem_mib)
{
	char swap[64], opts[160];
	snprintf(swap, sizeof(swap), "bench-reclaim-%d.swap", getpid());
	snprintf(opts, sizeof(opts), "--mem %luM --nodes 1 --cpus 1 --swap %s:%luM", mem_mib, swap,
		 npages * PAGE_SIZE / MiB + 16);
	struct kmm_error err = {0};
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die(err.msg);
	struct kmm_task *t = kmm_task_create(m, "replay", 0, &err);
	long a = kmm_mmap(t, 0, npages * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0)
		die("mmap");
	/* Free memory above the high watermarks kswapd keeps (the task's frames, before the run). */
	long free0 = vmstat_value(m, "nr_free_pages");
	struct replay r = {0};
	long high = 0;
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "zoneinfo", &b);
	for (const char *p = b.data; (p = strstr(p, "\n        high ")); p++)
		high += strtol(p + 15, NULL, 10);
	kmm_buf_free(&b);
	long maj0 = vmstat_value(m, "pgmajfault"), in0 = vmstat_value(m, "pswpin");
	long own0 = machine_frames(m), own_sum = 0, samples = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = refs[i];
		if (kmm_write(t, (unsigned long)a + refs[i] * PAGE_SIZE, &v, sizeof(v)))
			die("replay write");
		if ((i & 31) == 0) {
			kmm_task_switch_out(m);
			kmm_cpu_enter(m, 0);
			kmm_kswapd_run_pending(m);
			own_sum += machine_frames(m) - own0;
			samples++;
			kmm_cpu_exit(m);
		}
	}
	/*
	 * LRU and OPT get the frames the task could hold: free memory above
	 * the high watermarks at the start, less what the machine took for
	 * itself meanwhile, on average (per-CPU lists, page tables, slab: on
	 * the 4 MiB machine a tenth of the frames). What kswapd frees beyond
	 * the high watermarks stays kmm's cost: that is reclaim's choice.
	 */
	long own = samples ? (own_sum + samples / 2) / samples : 0;
	r.frames = (unsigned long)(free0 - high - kmm_max(own, 0L));
	size_t distinct = kmm_refsim_distinct(refs, n);
	/* A fault is a page brought in: first touches plus swap-ins (with and without readahead). */
	r.kmm_faults = (double)distinct + (double)(vmstat_value(m, "pgmajfault") - maj0);
	r.kmm_reads = (double)distinct + (double)(vmstat_value(m, "pswpin") - in0);
	uint64_t lru = 0, opt = 0;
	kmm_refsim_lru(refs, n, r.frames, &lru);
	kmm_refsim_opt(refs, n, r.frames, &opt);
	r.lru = (double)lru;
	r.opt = (double)opt;
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(swap);
	return r;
}

/*
 * The trace of a real program: bench/traces/xz.refs.gz, `xz -3` under
 * valgrind lackey reduced by stack deletion (bench/traces/make-xz-trace.sh
 * says how, and makes it again). Its pages are renumbered densely in address
 * order (neighbours stay neighbours, for readahead) and replayed in machines
 * of three sizes: frames for about 3/8, 1/2 and 2/3 of its pages.
 */
#define XZ_TRACE KMM_SOURCE_DIR "/bench/traces/xz.refs.gz"

struct page_list {
	uint64_t *v;
	size_t n, cap;
};

static void collect_page(void *arg, uint64_t page, bool write)
{
	struct page_list *l = arg;
	(void)write;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1 << 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die("out of memory reading the xz trace");
	}
	l->v[l->n++] = page;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The trace's page references, renumbered 0..*npages-1; NULL (and why in @why) if unavailable. */
static uint64_t *load_xz_trace(size_t *n, uint64_t *npages, char *why, size_t whylen)
{
	if (access(XZ_TRACE, R_OK)) {
		snprintf(why, whylen, "%s is missing (bench/traces/make-xz-trace.sh makes it)",
			 XZ_TRACE);
		return NULL;
	}
	FILE *f = popen("gzip -dc '" XZ_TRACE "'", "r");
	if (!f) {
		snprintf(why, whylen, "cannot run gzip (Debian: apt-get install gzip)");
		return NULL;
	}
	size_t len = 0, cap = 1 << 20;
	char *text = malloc(cap);
	for (size_t got; text && (got = fread(text + len, 1, cap - len, f)) > 0;) {
		len += got;
		if (len == cap)
			text = realloc(text, cap *= 2);
	}
	if (pclose(f) != 0 || !text || !len) {
		snprintf(why, whylen,
			 "gzip -dc %s failed (is gzip installed? Debian: apt-get install gzip)",
			 XZ_TRACE);
		free(text);
		return NULL;
	}
	struct kmm_memtrace_reader *r;
	struct kmm_error err = {0};
	struct page_list l = {0};
	if (kmm_memtrace_open_mem(text, len, XZ_TRACE, KMM_MEMTRACE_REFS, &r, &err) ||
	    kmm_memtrace_for_each_page(r, collect_page, &l, &err)) {
		snprintf(why, whylen, "%s", err.msg);
		free(text);
		free(l.v);
		return NULL;
	}
	kmm_memtrace_close(r);
	free(text);
	/* Dense numbers in address order. */
	uint64_t *sorted = malloc(l.n * sizeof(*sorted));
	memcpy(sorted, l.v, l.n * sizeof(*sorted));
	qsort(sorted, l.n, sizeof(*sorted), cmp_u64);
	size_t d = 0;
	for (size_t i = 0; i < l.n; i++)
		if (!d || sorted[d - 1] != sorted[i])
			sorted[d++] = sorted[i];
	for (size_t i = 0; i < l.n; i++)
		l.v[i] =
		    (uint64_t)((uint64_t *)bsearch(&l.v[i], sorted, d, sizeof(*sorted), cmp_u64) -
			       sorted);
	free(sorted);
	*n = l.n;
	*npages = d;
	return l.v;
}

static void lackey_rows(struct bench_table *tb)
{
	char why[600];
	size_t n;
	uint64_t npages;
	uint64_t *refs = load_xz_trace(&n, &npages, why, sizeof(why));
	if (!refs) {
		printf("\n(the xz row is skipped: %s)\n", why);
		return;
	}
	/* Machines of 4, 5 and 6 MiB hold about 600, 840 and 1080 frames. */
	static const unsigned long mem_mib[] = {4, 5, 6};
	for (int k = 0; k < 3; k++) {
		struct replay r = replay_trace(refs, n, npages, mem_mib[k]);
		bench_table_cell(tb, "%s", "xz");
		bench_table_num(tb, (double)r.frames);
		bench_table_num(tb, r.kmm_faults);
		bench_table_num(tb, r.kmm_reads);
		bench_table_num(tb, r.lru);
		bench_table_num(tb, r.opt);
		bench_table_num(tb, r.kmm_faults / r.lru);
		bench_table_num(tb, r.kmm_reads / r.lru);
		char fig[64];
		snprintf(fig, sizeof(fig), "replace_xz_%lum_faults_vs_lru", mem_mib[k]);
		bench_figure(fig, r.kmm_faults / r.lru, "ratio");
		snprintf(fig, sizeof(fig), "replace_xz_%lum_reads_vs_lru", mem_mib[k]);
		bench_figure(fig, r.kmm_reads / r.lru, "ratio");
	}
	free(refs);
}

static void replacement_quality(const struct bench_opts *o)
{
	unsigned long mem_mib = o->quick ? 32 : 64;
	uint64_t npages = (uint64_t)mem_mib * 256 * 3 / 2; /* 1.5x RAM */
	size_t n = o->quick ? 200000 : 1000000;
	uint64_t *refs = malloc(n * sizeof(*refs));
	struct kmm_rng rng;
	kmm_rng_seed(&rng, 7);
	bench_section("Replacement quality: page faults of kmm beside exact LRU and OPT (%lu MiB "
		      "machine, %llu pages touched, %zu references)",
		      mem_mib, (unsigned long long)npages, n);
	struct bench_table tb;
	bench_table_init(&tb);
	bench_table_col(&tb, "trace", -8);
	bench_table_col(&tb, "frames", 7);
	bench_table_col(&tb, "kmm faults", 10);
	bench_table_col(&tb, "kmm reads", 10);
	bench_table_col(&tb, "LRU", 9);
	bench_table_col(&tb, "OPT", 9);
	bench_table_col(&tb, "faults/LRU", 10);
	bench_table_col(&tb, "reads/LRU", 9);
	bench_table_header(&tb);
	static const char *const names[] = {"loop", "zipf", "phase"};
	for (int k = 0; k < 3; k++) {
		if (k == 0)
			trace_loop(refs, n, npages);
		else if (k == 1)
			trace_zipf(refs, n, npages, &rng);
		else
			trace_phase(refs, n, npages, &rng);
		struct replay r = replay_trace(refs, n, npages, mem_mib);
		bench_table_cell(&tb, "%s", names[k]);
		bench_table_num(&tb, (double)r.frames);
		bench_table_num(&tb, r.kmm_faults);
		bench_table_num(&tb, r.kmm_reads);
		bench_table_num(&tb, r.lru);
		bench_table_num(&tb, r.opt);
		bench_table_num(&tb, r.kmm_faults / r.lru);
		bench_table_num(&tb, r.kmm_reads / r.lru);
		char fig[64];
		snprintf(fig, sizeof(fig), "replace_%s_faults_vs_lru", names[k]);
		bench_figure(fig, r.kmm_faults / r.lru, "ratio");
		snprintf(fig, sizeof(fig), "replace_%s_reads_vs_lru", names[k]);
		bench_figure(fig, r.kmm_reads / r.lru, "ratio");
	}
	lackey_rows(&tb);
	printf("\n");
	free(refs);
}

/* --- 4. Swap I/O through reclaim, beside dd ------------------------------------------------- */

/* A task whose anonymous memory (random bytes) goes to swap and comes back. */
struct swapio_task {
	struct kmm_machine *m;
	struct kmm_task *t;
	unsigned long addr, n;
	uint64_t *first;    /* each page's first word, to check what comes back */
	unsigned long next; /* the next page the callgrind region faults in */
	double swapped;	    /* bytes the last swapio_out() wrote */
	char path[600];	    /* the swap file */
};

/* Boot a machine with a swap file at @path and fill @mib MiB of a task's memory. */
static void swapio_setup(struct swapio_task *s, const char *path, unsigned long mib)
{
	char opts[800];
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(opts, sizeof(opts), "--mem %luM --nodes 1 --cpus 1 --swap %s:%luM", mib + 96, path,
		 mib + 32);
	struct kmm_error err = {0};
	s->m = bench_boot(opts, &err);
	if (!s->m)
		die(err.msg);
	s->t = kmm_task_create(s->m, "swapper", 0, &err);
	if (!s->t)
		die(err.msg);
	s->n = mib * 256;
	long a = kmm_mmap(s->t, 0, s->n * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0)
		die("mmap");
	s->addr = (unsigned long)a;
	s->first = malloc(s->n * sizeof(*s->first));
	if (!s->first)
		die("out of memory");
	uint64_t buf[PAGE_SIZE / 8];
	struct kmm_rng rng;
	kmm_rng_seed(&rng, 11);
	for (unsigned long i = 0; i < s->n; i++) {
		for (size_t k = 0; k < PAGE_SIZE / 8; k++)
			buf[k] = kmm_rng_next(&rng);
		s->first[i] = buf[0];
		if (kmm_write(s->t, s->addr + i * PAGE_SIZE, buf, PAGE_SIZE))
			die("fill failed");
	}
	kmm_task_switch_out(s->m);
}

/*
 * Reclaim until (nearly) every page is in swap, then fdatasync the swap
 * file; with @drop the file then leaves the host's page cache. With
 * @thread the swap I/O thread runs meanwhile and starts the disk's
 * write-back of what reclaim writes. Returns the MiB/s written (the clock
 * stops after the fdatasync).
 */
static double swapio_out(struct swapio_task *s, bool drop, bool thread)
{
	kmm_cpu_enter(s->m, 0);
	long out0 = vmstat_value(s->m, "pswpout");
	uint64_t t0 = bench_now_ns();
	if (thread && kmm_swap_io_start(s->m, 0))
		die("cannot start the swap I/O thread");
	for (int pass = 0; pass < 16 && vmstat_value(s->m, "nr_anon_pages") > (long)s->n / 64;
	     pass++)
		kmm_reclaim_pages(s->m, s->n);
	kmm_swap_io_stop(s->m);
	int fd = open(s->path, O_RDONLY);
	if (fd < 0 || fdatasync(fd))
		die("cannot flush the swap file");
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	if (drop)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	long out = vmstat_value(s->m, "pswpout") - out0;
	s->swapped = (double)out * PAGE_SIZE;
	kmm_cpu_exit(s->m);
	return (double)out * PAGE_SIZE / MiB / secs;
}

/* One read fault per page of [from, to), in address order; readahead brings the neighbours. */
static void swapio_in(struct swapio_task *s, unsigned long from, unsigned long to)
{
	for (unsigned long i = from; i < to; i++) {
		uint64_t v;
		if (kmm_read(s->t, s->addr + i * PAGE_SIZE, &v, sizeof(v)))
			die("swap-in failed");
		if (v != s->first[i])
			die("a page came back different");
	}
}

/* The host's time in the swap file's reads so far, in ns. */
static double swapio_read_ns(struct swapio_task *s)
{
	struct kmm_swap_area_info info;
	if (kmm_swap_area_info(s->m, 0, &info))
		die("no swap area");
	return (double)info.read_ns;
}

/* How swap-in reads: in the faulting thread (Linux's policy), or through the I/O thread. */
enum swapin_mode {
	SWAPIN_SYNC,  /* the fault reads its window itself */
	SWAPIN_QUEUE, /* kmm_swap_io_start(0): the I/O thread reads the windows */
	SWAPIN_AHEAD, /* and KMM_SWAP_IO_READAHEAD_NEXT: windows read ahead of the faults */
};

/*
 * swapio_in over every page, in MiB/s of pages read from swap; *@wait_us
 * is the time spent in the host's reads per page read, in microseconds.
 */
static double swapio_in_mibs(struct swapio_task *s, enum swapin_mode mode, double *wait_us)
{
	long in0 = vmstat_value(s->m, "pswpin");
	double w0 = swapio_read_ns(s);
	if (mode != SWAPIN_SYNC &&
	    kmm_swap_io_start(s->m, mode == SWAPIN_AHEAD ? KMM_SWAP_IO_READAHEAD_NEXT : 0))
		die("cannot start the swap I/O thread");
	uint64_t t0 = bench_now_ns();
	swapio_in(s, 0, s->n);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	kmm_swap_io_stop(s->m);
	long in = vmstat_value(s->m, "pswpin") - in0;
	*wait_us = (swapio_read_ns(s) - w0) / 1e3 / (double)(in ? in : 1);
	return (double)in * PAGE_SIZE / MiB / secs;
}

static void swapio_teardown(struct swapio_task *s)
{
	kmm_task_switch_out(s->m);
	kmm_task_reap(s->t);
	kmm_machine_destroy(s->m);
	unlink(s->path);
	free(s->first);
}

struct swapio {
	double out_mibs[2];		   /* written by reclaim; with the I/O thread */
	double cold_mibs[3], warm_mibs[3]; /* by enum swapin_mode */
	/* The host's page cache before each read: cached bytes of the swap file / bytes swapped. */
	double cold_cached, warm_cached;
	double cold_wait_us[3], warm_wait_us[3]; /* host read time per page read */
	struct bench_dd dd;
};

/*
 * @mib MiB of a task's anonymous memory swapped out and faulted back twice:
 * warm (the swap file as the swap-out left it, in the host's page cache),
 * then, swapped out again, cold (the file dropped from the host's page
 * cache after the fdatasync, so the reads go to the disk); then dd on the
 * same disk, whose read is timed in the same two states (bench_dd). The
 * timed swap-out is the first, into a fresh file, as dd's write is. The
 * host's time in kmm's reads is measured too (read_ns).
 */
static struct swapio swapio_run(const char *dir, unsigned long mib)
{
	struct swapio r;
	struct swapio_task s;
	char swap[600];
	snprintf(swap, sizeof(swap), "%s/reclaim.swap", dir);
	swapio_setup(&s, swap, mib);
	r.out_mibs[0] = swapio_out(&s, false, false);
	r.warm_cached = bench_file_cached(swap) / s.swapped;
	/* The swap-outs after the first write nothing: the slots still hold the pages. */
	for (int mode = SWAPIN_SYNC; mode <= SWAPIN_AHEAD; mode++) {
		if (mode != SWAPIN_SYNC)
			swapio_out(&s, false, false);
		r.warm_mibs[mode] = swapio_in_mibs(&s, mode, &r.warm_wait_us[mode]);
	}
	for (int mode = SWAPIN_SYNC; mode <= SWAPIN_AHEAD; mode++) {
		swapio_out(&s, true, false);
		if (mode == SWAPIN_SYNC)
			r.cold_cached = bench_file_cached(swap) / s.swapped;
		r.cold_mibs[mode] = swapio_in_mibs(&s, mode, &r.cold_wait_us[mode]);
	}
	swapio_teardown(&s);
	/* The swap-out with the I/O thread, into a fresh file too. */
	swapio_setup(&s, swap, mib);
	r.out_mibs[1] = swapio_out(&s, false, true);
	swapio_teardown(&s);
	r.dd = bench_dd(dir, mib);
	return r;
}

/*
 * Instructions per page swapped in (callgrind): the machine and its swapped
 * out task are set up uncounted; run() faults the next @iters pages in, cold.
 */
#define SWAPIN_CG_MIB 16

static void *swapin_cg_setup(void)
{
	static struct swapio_task s;
	char path[64];
	snprintf(path, sizeof(path), "bench-reclaim-cg-%d.swap", getpid());
	swapio_setup(&s, path, SWAPIN_CG_MIB);
	swapio_out(&s, true, false);
	s.next = 0;
	return &s;
}

static void swapin_cg_run(void *state, uint64_t iters)
{
	struct swapio_task *s = state;
	unsigned long to = s->next + iters;
	if (to > s->n)
		die("swapin region: more iterations than pages");
	swapio_in(s, s->next, to);
	s->next = to;
}

static void swapin_cg_teardown(void *state)
{
	swapio_teardown(state);
}

/*
 * Instructions per page swapped out (callgrind): the task's memory is
 * filled uncounted; run() has kmm_reclaim_pages() put @iters of its pages
 * to swap (the scan, the unmap, the checksum, the write: the host's
 * pwritev is one instruction to callgrind).
 */
static void *swapout_cg_setup(void)
{
	static struct swapio_task s;
	char path[64];
	snprintf(path, sizeof(path), "bench-reclaim-cgout-%d.swap", getpid());
	swapio_setup(&s, path, SWAPIN_CG_MIB);
	kmm_cpu_enter(s.m, 0);
	return &s;
}

static void swapout_cg_run(void *state, uint64_t iters)
{
	struct swapio_task *s = state;
	if (iters > s->n)
		die("swapout region: more iterations than pages");
	for (unsigned long done = 0, got; done < iters; done += got)
		if (!(got = kmm_reclaim_pages(s->m, iters - done)))
			die("swapout region: reclaim made no progress");
}

static void swapout_cg_teardown(void *state)
{
	struct swapio_task *s = state;
	kmm_cpu_exit(s->m);
	swapio_teardown(s);
}

static const struct bench_region regions[] = {
    {"swapin", swapin_cg_setup, swapin_cg_run, swapin_cg_teardown},
    {"swapout", swapout_cg_setup, swapout_cg_run, swapout_cg_teardown},
    {NULL, NULL, NULL, NULL},
};

#define RAMREAD_RUN 64 /* pages a pread: kmm's largest swap read */

/*
 * The ceiling of a cold swap-in on this host: one thread reads the dd
 * source file (@mib MiB, dropped from the host's page cache) with preads of
 * RAMREAD_RUN pages into a buffer of the same size, huge-page hinted and
 * populated, as kmm's RAM is. dd reads into one 1 MiB buffer that stays in
 * the CPU's cache; every page kmm reads goes to memory, and on this
 * project's VM that alone costs 10-20% of dd's speed. MiB/s, NAN on failure.
 */
static double host_read_into_ram(const char *dir, unsigned long mib)
{
	char path[600];
	size_t size = mib * MiB;
	snprintf(path, sizeof(path), "%s/random.src", dir);
	int fd = open(path, O_RDONLY);
	char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double mibs = NAN;
	if (fd >= 0 && buf != MAP_FAILED) {
		madvise(buf, size, MADV_HUGEPAGE);
		memset(buf, 1, size);
		bench_drop_file_cache(path);
		const size_t chunk = RAMREAD_RUN * PAGE_SIZE;
		uint64_t t0 = bench_now_ns();
		size_t off = 0;
		while (off < size) {
			ssize_t n = pread(fd, buf + off, size - off < chunk ? size - off : chunk,
					  (off_t)off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (off == size)
			mibs = (double)mib / ((double)(bench_now_ns() - t0) / 1e9);
	}
	if (buf != MAP_FAILED)
		munmap(buf, size);
	if (fd >= 0)
		close(fd);
	return mibs;
}

static void swap_io_beside_dd(const struct bench_opts *o, unsigned long swapio_mib)
{
	unsigned long mib = swapio_mib ? swapio_mib : o->quick ? 64 : 256;
	int reps = bench_reps(o, 5, 1);
	char dir[64];
	snprintf(dir, sizeof(dir), "bench-reclaim-XXXXXX");
	if (!mkdtemp(dir))
		die("cannot make a scratch directory here");
	if (bench_dd_source(dir, mib))
		die("cannot make the dd source file");
	enum {
		OUT,
		OUT_THREAD,
		DDW,
		DDC,
		DDWARM,
		C_COLD,
		C_WARM,
		DDC_COLD,
		DDC_WARM,
		RAMREAD,
		COLD, /* three each, by enum swapin_mode */
		WARM = COLD + 3,
		W_COLD = WARM + 3,
		W_WARM = W_COLD + 3,
		NV = W_WARM + 3
	};
	double v[NV][16];
	reps = reps < 16 ? reps : 16;
	for (int i = 0; i < reps; i++) {
		struct swapio r = swapio_run(dir, mib);
		v[OUT][i] = r.out_mibs[0];
		v[OUT_THREAD][i] = r.out_mibs[1];
		v[DDW][i] = r.dd.write_mibs;
		v[DDC][i] = r.dd.read_mibs;
		v[DDWARM][i] = r.dd.warm_read_mibs;
		v[C_COLD][i] = r.cold_cached;
		v[C_WARM][i] = r.warm_cached;
		v[DDC_COLD][i] = r.dd.cold_cached;
		v[DDC_WARM][i] = r.dd.warm_cached;
		v[RAMREAD][i] = host_read_into_ram(dir, mib);
		for (int mode = 0; mode < 3; mode++) {
			v[COLD + mode][i] = r.cold_mibs[mode];
			v[WARM + mode][i] = r.warm_mibs[mode];
			v[W_COLD + mode][i] = r.cold_wait_us[mode];
			v[W_WARM + mode][i] = r.warm_wait_us[mode];
		}
	}
	bench_dd_cleanup(dir);
	rmdir(dir);
	double med[NV];
	for (int k = 0; k < NV; k++)
		med[k] = bench_median(v[k], reps);
	double instr = bench_instructions(o, "swapin", 3000);
	double instr_out = bench_instructions(o, "swapout", 2048);

	bench_section("Swap I/O through reclaim beside the raw disk (%lu MiB of anonymous memory, "
		      "median of %d runs, MiB/s)",
		      mib, reps);
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "direction", -44);
	bench_table_col(&t, "in host cache (kmm / dd)", -24);
	bench_table_col(&t, "kmm", 9);
	bench_table_col(&t, "dd", 9);
	bench_table_col(&t, "kmm / dd", 9);
	bench_table_col(&t, "host read us/page", 17);
	bench_table_header(&t);
	for (int thread = 0; thread < 2; thread++) {
		bench_table_cell(&t, "out: %s",
				 thread ? "I/O thread starts the write-back"
					: "written by reclaim");
		bench_table_cell(&t, "%s", "written, fdatasync");
		bench_table_num(&t, med[OUT + thread]);
		bench_table_num(&t, med[DDW]);
		bench_table_num(&t, med[OUT + thread] / med[DDW]);
		bench_table_cell(&t, "%s", "");
	}
	static const char *const how[] = {"read by the fault", "I/O thread",
					  "I/O thread, windows ahead"};
	for (int warm = 0; warm < 2; warm++)
		for (int mode = 0; mode < 3; mode++) {
			int kmm = (warm ? WARM : COLD) + mode, dd = warm ? DDWARM : DDC;
			bench_table_cell(&t, "in, %s: %s", warm ? "warm" : "cold", how[mode]);
			bench_table_cell(&t, "%s: %.0f%% / %.0f%%", warm ? "kept" : "dropped",
					 100 * med[warm ? C_WARM : C_COLD],
					 100 * med[warm ? DDC_WARM : DDC_COLD]);
			bench_table_num(&t, med[kmm]);
			bench_table_num(&t, med[dd]);
			bench_table_num(&t, med[kmm] / med[dd]);
			bench_table_num(&t, med[(warm ? W_WARM : W_COLD) + mode]);
		}
	printf("\nThe same file read cold by one thread, %d pages a pread, into a %lu MiB buffer "
	       "(huge pages, as kmm's RAM): %.0f MiB/s, %.3f of dd's read; kmm's cold swap-in with "
	       "windows ahead is %.3f of it. dd copies into one buffer that stays in the CPU's "
	       "cache, kmm into memory.\n",
	       RAMREAD_RUN, mib, med[RAMREAD], med[RAMREAD] / med[DDC],
	       med[COLD + SWAPIN_AHEAD] / med[RAMREAD]);
	printf("\n");
	bench_goal_header();
	bench_goal("swap-out time (I/O thread) / dd write time", med[DDW] / med[OUT_THREAD], 1.25,
		   "x");
	bench_goal("cold swap-in time (I/O thread, windows ahead) / dd cold read time",
		   med[DDC] / med[COLD + SWAPIN_AHEAD], 1.25, "x");
	printf("\n");
	static const char *const suffix[] = {"", "_queue", "_ahead"};
	char name[64];
	bench_figure("reclaim_swapout_mibs", med[OUT], "MiB/s");
	bench_figure("reclaim_swapout_thread_mibs", med[OUT_THREAD], "MiB/s");
	for (int mode = 0; mode < 3; mode++) {
		snprintf(name, sizeof(name), "reclaim_swapin%s_mibs", suffix[mode]);
		bench_figure(name, med[COLD + mode], "MiB/s");
		snprintf(name, sizeof(name), "reclaim_swapin%s_warm_mibs", suffix[mode]);
		bench_figure(name, med[WARM + mode], "MiB/s");
	}
	bench_figure("dd_write_mibs", med[DDW], "MiB/s");
	bench_figure("dd_read_mibs", med[DDC], "MiB/s");
	bench_figure("dd_read_warm_mibs", med[DDWARM], "MiB/s");
	bench_figure("host_read_into_ram_mibs", med[RAMREAD], "MiB/s");
	bench_figure("host_read_into_ram_vs_dd", med[RAMREAD] / med[DDC], "ratio");
	bench_figure("reclaim_swapin_ahead_vs_host_read_into_ram",
		     med[COLD + SWAPIN_AHEAD] / med[RAMREAD], "ratio");
	bench_figure("reclaim_swapout_vs_dd", med[OUT] / med[DDW], "ratio");
	bench_figure("reclaim_swapout_thread_vs_dd", med[OUT_THREAD] / med[DDW], "ratio");
	for (int mode = 0; mode < 3; mode++) {
		snprintf(name, sizeof(name), "reclaim_swapin%s_vs_dd", suffix[mode]);
		bench_figure(name, med[COLD + mode] / med[DDC], "ratio");
		snprintf(name, sizeof(name), "reclaim_swapin%s_warm_vs_dd", suffix[mode]);
		bench_figure(name, med[WARM + mode] / med[DDWARM], "ratio");
	}
	bench_figure("swapin_host_read_us_cold", med[W_COLD], "us/page");
	bench_figure("swapin_host_read_us_warm", med[W_WARM], "us/page");
	bench_figure("swapin_instr_per_page", instr, "instr");
	bench_figure("swapout_instr_per_page", instr_out, "instr");
	printf("\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	argc =
	    bench_init(&o, argc, argv, "reclaim",
		       "  --part NAME       run one part only: oracle, replace, swapio or rate\n"
		       "  --swapio-mib N    swap I/O with N MiB (default 256, 64 with --quick)\n",
		       regions);
	const char *part = NULL;
	unsigned long swapio_mib = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--part") && i + 1 < argc) {
			part = argv[++i];
		} else if (!strcmp(argv[i], "--swapio-mib") && i + 1 < argc) {
			char *end;
			swapio_mib = strtoul(argv[++i], &end, 10);
			if (*end || swapio_mib < 1 || swapio_mib > 65536)
				bench_usage_error(
				    &o, "--swapio-mib needs a number of MiB from 1 to 65536");
		} else
			bench_usage_error(&o, "unknown option '%s'", argv[i]);
	}
	static const char *const parts[] = {"oracle", "replace", "swapio", "rate"};
	bool run[4];
	bool known = false;
	for (int k = 0; k < 4; k++) {
		run[k] = !part || !strcmp(part, parts[k]);
		known |= run[k];
	}
	if (!known)
		bench_usage_error(&o, "unknown part '%s' (oracle, replace, swapio or rate)", part);
	int reps = bench_reps(&o, 3, 1);

	if (run[0]) {
		oracle_anon(&o);
		oracle_file(&o);
	}
	if (run[1])
		replacement_quality(&o);
	if (run[2])
		swap_io_beside_dd(&o, swapio_mib);
	if (!run[3])
		return 0;

	unsigned long mib = o.quick ? 32 : 128;
	bench_section("Reclaim throughput: %lu MiB reclaimed by kmm_reclaim_pages (median of %d, "
		      "pages/s)",
		      mib, reps);
	struct bench_table tb;
	bench_table_init(&tb);
	bench_table_col(&tb, "pages", -14);
	bench_table_col(&tb, "pages/s", 10);
	bench_table_col(&tb, "MiB/s", 8);
	bench_table_header(&tb);
	static const char *const fig[] = {"reclaim_clean_file_pps", "reclaim_dirty_file_pps",
					  "reclaim_anon_swap_pps", "shmem_swapout"};
	for (int k = 0; k < NR_KINDS; k++) {
		double v[8];
		for (int r = 0; r < reps; r++)
			v[r] = reclaim_rate((enum kind)k, 2 * mib + 64, mib);
		double med = bench_median(v, reps);
		bench_table_cell(&tb, "%s", kind_names[k]);
		bench_table_num(&tb, med);
		bench_table_num(&tb, med * PAGE_SIZE / MiB);
		bench_figure(fig[k], med, "pages/s");
	}
	printf("\n");
	return 0;
}
