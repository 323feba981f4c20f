/*
 * bench/bench.h: the harness every benchmark program in bench/ shares.
 *
 * Linux counterpart: none (the kernel's nearest relatives are
 * tools/testing/selftests/mm and the perf bench harness, tools/perf/bench/).
 *
 * Theory of operation:
 *  1. A benchmark is one program, bench/<name>.c, built as <name> in the
 *     build's bench/ directory. main() calls bench_init(), which takes the
 *     options every benchmark shares (--quick, --reps, --machine, --help)
 *     and returns the arguments it did not know for the benchmark to parse.
 *     The machine description (CPU, cores, memory, kernel, compiler) comes
 *     before the first heading, table or figure, unless run.sh, which runs
 *     every benchmark, printed it once at the top.
 *  2. Wall-clock on the machines kmm runs on (2 shared, virtualised cores) is
 *     noisy, so every figure is the median of several repetitions, and kmm
 *     and its peers are measured in the same run, so ratios compare like with
 *     like. bench_ns_per_iter() and bench_stats() do the repetitions and the
 *     medians.
 *  3. A full run prints a table (bench_table_*), in Markdown pipe syntax so
 *     it pastes into docs/benchmarks.md, with goals marked PASS or MISS
 *     (bench_goal), and then one `bench: <figure> <value> <unit>` line per
 *     figure (bench_figure), which scripts track over time. --quick prints
 *     the same in about 10 s with fewer repetitions.
 *  4. Fast paths are also measured in instructions, which do not depend on
 *     the neighbours' load: bench_instructions() re-executes the program
 *     under `valgrind --tool=callgrind` with KMM_BENCH_REGION set; in that
 *     child bench_init() runs only the named struct bench_region (setup,
 *     then run() with collection switched on, then exit), and the parent
 *     reads the instruction count from callgrind's output file.
 *
 * Everything here is host code (stdio, malloc, fork): benches are host
 * programs, like tools/.
 */
#ifndef KMM_BENCH_H
#define KMM_BENCH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <kmm/kmm.h>

/* --- Options shared by every benchmark ------------------------------------------ */

struct bench_opts {
	bool quick;	  /* --quick: the whole program in about 10 s */
	int reps;	  /* --reps N: repetitions per figure; 0 lets the bench choose */
	const char *name; /* the benchmark's name, for messages */
};

/*
 * A piece of code measured in instructions under callgrind. setup() builds
 * what run() needs (a booted machine, warm lists) and is not counted;
 * run(state, iters) performs @iters iterations of the measured operation and
 * is counted; teardown() may be NULL. Declare them in a NULL-name-terminated
 * array and hand it to bench_init().
 */
struct bench_region {
	const char *name;
	void *(*setup)(void);
	void (*run)(void *state, uint64_t iters);
	void (*teardown)(void *state);
};

/*
 * Parse the shared options out of argv (removing them) and prepare stdout.
 * @name names the benchmark; @usage describes its own options (may be NULL);
 * @regions lists its instruction-counted regions (may be NULL). Exits after
 * --help or --machine, and, in the callgrind child of bench_instructions(),
 * after running the region. Returns the new argc: argv[1..argc) are the options
 * the benchmark must handle itself (bench_usage_error if it takes none).
 */
int bench_init(struct bench_opts *o, int argc, char **argv, const char *name, const char *usage,
	       const struct bench_region *regions);
/* Print "<name>: <message>" and the usage hint to stderr; exit 2. */
__attribute__((format(printf, 2, 3), noreturn)) void bench_usage_error(const struct bench_opts *o,
								       const char *fmt, ...);
/* Repetitions to use: --reps if given, else @full, or @quick under --quick. */
int bench_reps(const struct bench_opts *o, int full, int quick);

/* --- Clocks and measurement ----------------------------------------------------- */

/* Monotonic time in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keep the compiler from deleting a computation whose result is unused. */
static inline void bench_keep(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}
/* Make the compiler forget what it knows about memory (no caching across it). */
static inline void bench_clobber(void)
{
	__asm__ __volatile__("" : : : "memory");
}

struct bench_stats {
	double median, min, max;
	int n;
};
/* Median, minimum and maximum of @v[0..n) (@v is left unchanged). */
struct bench_stats bench_stats(const double *v, int n);
double bench_median(const double *v, int n);

/* A measured loop: perform @iters iterations of the operation on @arg. */
typedef void (*bench_loop_fn)(void *arg, uint64_t iters);
/* Iterations of @fn that take about @target_ns (at least 1). */
uint64_t bench_calibrate(bench_loop_fn fn, void *arg, uint64_t target_ns);
/*
 * Time @fn(arg, iters) @reps times after one untimed warm-up run; returns the
 * median nanoseconds per iteration (NAN if @reps < 1).
 */
double bench_ns_per_iter(bench_loop_fn fn, void *arg, uint64_t iters, int reps);

/* Resident set of this process, in bytes (/proc/self/statm; 0 if unknown). */
size_t bench_rss_bytes(void);
/* MemAvailable of the host, in bytes (/proc/meminfo; 0 if unknown). */
size_t bench_host_available_bytes(void);

/*
 * Instructions per iteration of the region @name (declared in the regions
 * given to bench_init), counted by callgrind over @iters iterations (the
 * loop's own few instructions included). Returns NAN, after printing why,
 * when valgrind is missing or the child fails.
 */
double bench_instructions(const struct bench_opts *o, const char *name, uint64_t iters);

/*
 * The raw sequential speed of the disk a directory is on, for swap I/O to be
 * measured beside it (bench/swap, bench/reclaim):
 *  - bench_dd_source() makes @dir/random.src, @mib MiB of random bytes, and
 *    reads it once so it sits in the host's page cache (random, because
 *    virtual disks often write zeros much faster than data);
 *  - bench_dd() copies it with `dd bs=1M conv=fdatasync` (the write speed,
 *    flush included), reads the copy back with `dd bs=1M` while it is still
 *    in the page cache (warm_read_mibs), then drops it from the page cache
 *    and reads it again (read_mibs: the disk's read speed); NAN when dd
 *    fails; before each read it notes the share of the file in the cache;
 *  - bench_dd_cleanup() removes the source.
 * bench_drop_file_cache() flushes a file and drops it from the host's page
 * cache (fdatasync, then posix_fadvise DONTNEED), for cold reads;
 * bench_file_cached() is how many bytes of a file are in the host's page
 * cache (mincore), NAN if unknown.
 */
struct bench_dd {
	double write_mibs, read_mibs;
	double warm_read_mibs;		 /* the same read from the page cache */
	double cold_cached, warm_cached; /* the file's share (0..1) in the cache before each read */
};
int bench_dd_source(const char *dir, unsigned long mib);
struct bench_dd bench_dd(const char *dir, unsigned long mib);
void bench_dd_cleanup(const char *dir);
void bench_drop_file_cache(const char *path);
double bench_file_cached(const char *path);

/*
 * Boot a machine for a benchmark: @options are machine options as the CLI
 * takes them, separated by spaces ("--mem 4G --nodes 1"); the boot log is
 * not echoed. Waits for deferred initialisation unless the options ask for
 * "--deferred-init thread". Returns NULL with a message in @err.
 */
struct kmm_machine *bench_boot(const char *options, struct kmm_error *err);

/* --- Output ------------------------------------------------------------------------ */

/* Print the machine the numbers were taken on (CPU, cores, memory, kernel, compiler). */
void bench_print_machine(FILE *out);
/* A section heading: "## <title>". */
void bench_section(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format @v with about four significant digits ("93.1", "2.94", "16777216"). */
const char *bench_fmt(char *buf, size_t size, double v);
/*
 * The tracked figure: "bench: <name> <value> <unit>". A NAN value prints
 * nothing (the table says why the figure is missing).
 */
void bench_figure(const char *name, double value, const char *unit);

/*
 * A goal next to a figure: prints a row "<what> | <value> <unit> | <= <limit>
 * <unit> | PASS or MISS" of the goal table that bench_goal_header() starts.
 * Lower is better. A NAN value (not measured) prints n/a. Returns true on
 * PASS.
 */
void bench_goal_header(void);
bool bench_goal(const char *what, double value, double limit, const char *unit);

#define BENCH_MAX_COLS 16

/*
 * A table printed row by row in Markdown pipe syntax, padded so it reads
 * well in a terminal too:
 *
 *	struct bench_table t;
 *	bench_table_init(&t);
 *	bench_table_col(&t, "model", -8);	(negative width: left-aligned)
 *	bench_table_col(&t, "ready ms", 9);
 *	bench_table_header(&t);
 *	bench_table_cell(&t, "%s", "vmemmap");
 *	bench_table_cell(&t, "%.1f", 93.1);	(the row ends after the last column)
 */
struct bench_table {
	int ncols, cur;
	struct {
		char title[40];
		int width;
		bool left;
	} col[BENCH_MAX_COLS];
};
void bench_table_init(struct bench_table *t);
void bench_table_col(struct bench_table *t, const char *title, int width);
void bench_table_header(const struct bench_table *t);
void bench_table_cell(struct bench_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A cell holding a number formatted by bench_fmt, or "n/a" for NAN. */
void bench_table_num(struct bench_table *t, double v);

#endif /* KMM_BENCH_H */
