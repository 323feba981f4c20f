/*
 * bench/bench.c: the shared benchmark harness (see bench.h for the theory
 * of operation): options, medians, tables, the machine description, the
 * `bench:` figure lines and instruction counts under callgrind.
 *
 * Linux counterpart: none (compare tools/perf/bench/).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND_H 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND_H
#define BENCH_HAVE_CALLGRIND_H 0
#endif

#ifndef KMM_BENCH_BUILD_TYPE
#define KMM_BENCH_BUILD_TYPE "unknown"
#endif

/* Environment of the callgrind child (bench_instructions) and of run.sh. */
#define ENV_REGION	    "KMM_BENCH_REGION"
#define ENV_ITERS	    "KMM_BENCH_ITERS"
#define ENV_MACHINE_PRINTED "KMM_BENCH_MACHINE_PRINTED"

static const struct bench_region *bench_regions;
static bool machine_pending; /* bench_init() left the machine description to print */

/* --- Options ---------------------------------------------------------------------- */

static void print_usage(FILE *out, const char *name, const char *usage)
{
	fprintf(out,
		"usage: %s [--quick] [--reps N] [--machine]%s\n\n"
		"  --quick     finish in about 10 s (fewer repetitions)\n"
		"  --reps N    repetitions per figure (the median is reported)\n"
		"  --machine   print the machine description and exit\n",
		name, usage ? " [options]" : "");
	if (usage)
		fprintf(out, "%s", usage);
	fprintf(out,
		"\nPrints a table and one 'bench: <figure> <value> <unit>' line per figure.\n");
}

void bench_usage_error(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", o->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s --help')\n", o->name);
	exit(2);
}

static __attribute__((noreturn)) void run_region_child(const char *name);

int bench_init(struct bench_opts *o, int argc, char **argv, const char *name, const char *usage,
	       const struct bench_region *regions)
{
	int kept = 1;
	bool machine_only = false;

	memset(o, 0, sizeof(*o));
	o->name = name;
	bench_regions = regions;
	/* Line-buffered: progress shows through pipes (run.sh | tee). */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (getenv(ENV_REGION))
		run_region_child(getenv(ENV_REGION));

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quick")) {
			o->quick = true;
		} else if (!strcmp(a, "--reps") || !strncmp(a, "--reps=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			long n = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || n < 1 || n > 1000)
				bench_usage_error(o, "--reps needs a number from 1 to 1000");
			o->reps = (int)n;
		} else if (!strcmp(a, "--machine")) {
			machine_only = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_usage(stdout, name, usage);
			exit(0);
		} else {
			argv[kept++] = argv[i];
		}
	}
	argv[kept] = NULL;
	if (machine_only) {
		bench_print_machine(stdout);
		exit(0);
	}
	/* run.sh describes the machine once for all programs. */
	machine_pending = !getenv(ENV_MACHINE_PRINTED);
	return kept;
}

/*
 * The machine description goes before the first output, not in
 * bench_init(): a benchmark that rejects its options prints nothing else.
 */
static void print_machine_once(void)
{
	if (machine_pending) {
		machine_pending = false;
		bench_print_machine(stdout);
	}
}

int bench_reps(const struct bench_opts *o, int full, int quick)
{
	if (o->reps)
		return o->reps;
	return o->quick ? quick : full;
}

/* --- Statistics and timing ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct bench_stats bench_stats(const double *v, int n)
{
	struct bench_stats s = {NAN, NAN, NAN, 0};
	double *sorted;
	int k = 0;

	if (n < 1 || !(sorted = malloc((size_t)n * sizeof(*sorted))))
		return s;
	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			sorted[k++] = v[i];
	if (k) {
		qsort(sorted, (size_t)k, sizeof(*sorted), cmp_double);
		s.median = k % 2 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2;
		s.min = sorted[0];
		s.max = sorted[k - 1];
		s.n = k;
	}
	free(sorted);
	return s;
}

double bench_median(const double *v, int n)
{
	return bench_stats(v, n).median;
}

static uint64_t time_loop(bench_loop_fn fn, void *arg, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();
	fn(arg, iters);
	bench_clobber();
	return bench_now_ns() - t0;
}

uint64_t bench_calibrate(bench_loop_fn fn, void *arg, uint64_t target_ns)
{
	uint64_t iters = 1;
	for (;;) {
		uint64_t t = time_loop(fn, arg, iters);
		/* Long enough to extrapolate from without the clock's own cost showing. */
		if (t >= target_ns / 8 || iters >= (UINT64_MAX >> 4)) {
			double scale = t ? (double)target_ns / (double)t : 16.0;
			double n = (double)iters * scale;
			return n < 1 ? 1 : (uint64_t)n;
		}
		iters *= 2;
	}
}

double bench_ns_per_iter(bench_loop_fn fn, void *arg, uint64_t iters, int reps)
{
	double *v;
	double med;

	if (reps < 1 || iters < 1 || !(v = malloc((size_t)reps * sizeof(*v))))
		return NAN;
	time_loop(fn, arg, iters); /* warm-up: caches, lazily built state */
	for (int r = 0; r < reps; r++)
		v[r] = (double)time_loop(fn, arg, iters) / (double)iters;
	med = bench_median(v, reps);
	free(v);
	return med;
}

/* --- The host: memory, CPU, kernel ------------------------------------------------------ */

size_t bench_rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The number after "<key>:" in /proc/meminfo, in bytes (0 if absent). */
static size_t meminfo_bytes(const char *key)
{
	char line[256];
	size_t len = strlen(key), kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':') {
			kb = strtoull(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb << 10;
}

size_t bench_host_available_bytes(void)
{
	return meminfo_bytes("MemAvailable");
}

/* --- The raw disk, measured with dd ------------------------------------------------ */

void bench_drop_file_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

double bench_file_cached(const char *path)
{
	double bytes = NAN;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NAN;
	struct stat st;
	long pg = sysconf(_SC_PAGESIZE);
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pg > 0) {
		size_t len = (size_t)st.st_size, pages = (len + (size_t)pg - 1) / (size_t)pg;
		void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		unsigned char *vec = malloc(pages);
		if (p != MAP_FAILED && vec && mincore(p, len, vec) == 0) {
			size_t in = 0;
			for (size_t i = 0; i < pages; i++)
				in += vec[i] & 1;
			bytes = (double)in * (double)pg;
		}
		free(vec);
		if (p != MAP_FAILED)
			munmap(p, len);
	}
	close(fd);
	return bytes;
}

int bench_dd_source(const char *dir, unsigned long mib)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
		 "head -c %luM /dev/urandom > '%s/random.src' && cat '%s/random.src' > /dev/null",
		 mib, dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* MiB/s of a shell command moving @mib MiB; NAN when it fails. */
static double dd_mibs(const char *cmd, unsigned long mib)
{
	uint64_t t0 = bench_now_ns();
	if (system(cmd) != 0)
		return NAN;
	return (double)mib / ((double)(bench_now_ns() - t0) / 1e9);
}

struct bench_dd bench_dd(const char *dir, unsigned long mib)
{
	struct bench_dd r;
	char path[600], cmd[1400];
	snprintf(path, sizeof(path), "%s/bench.dd", dir);
	snprintf(cmd, sizeof(cmd), "dd if='%s/random.src' of='%s' bs=1M conv=fdatasync status=none",
		 dir, path);
	r.write_mibs = dd_mibs(cmd, mib);
	snprintf(cmd, sizeof(cmd), "dd if='%s' of=/dev/null bs=1M status=none", path);
	r.warm_cached = bench_file_cached(path) / ((double)mib * 1048576);
	r.warm_read_mibs = dd_mibs(cmd, mib);
	bench_drop_file_cache(path);
	r.cold_cached = bench_file_cached(path) / ((double)mib * 1048576);
	r.read_mibs = dd_mibs(cmd, mib);
	unlink(path);
	return r;
}

void bench_dd_cleanup(const char *dir)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/random.src", dir);
	unlink(path);
}

/* Copy the value of the first "<key>\t: value" line of /proc/cpuinfo into @buf. */
static bool cpuinfo_value(const char *key, char *buf, size_t size)
{
	char line[4096];
	size_t len = strlen(key);
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, key, len) || !colon)
			continue;
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		v[strcspn(v, "\n")] = '\0';
		snprintf(buf, size, "%s", v);
		found = true;
	}
	fclose(f);
	return found;
}

/* The selected choice of a sysfs "a [b] c" file, such as THP's "enabled". */
static void read_sysfs_choice(const char *path, char *buf, size_t size)
{
	char line[256] = "";
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
	if (open && close)
		snprintf(buf, size, "%.*s", (int)(close - open - 1), open + 1);
	else if (line[0])
		snprintf(buf, size, "%.*s", (int)strcspn(line, "\n"), line);
	else
		snprintf(buf, size, "unknown");
}

void bench_print_machine(FILE *out)
{
	char cpu[256], flags[4096], thp[128], defrag[128], date[64];
	struct utsname u;
	time_t now = time(NULL);
	long online = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);

	if (!cpuinfo_value("model name", cpu, sizeof(cpu)))
		snprintf(cpu, sizeof(cpu), "unknown");
	bool virt = cpuinfo_value("flags", flags, sizeof(flags)) && strstr(flags, " hypervisor");
	read_sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
	read_sysfs_choice("/sys/kernel/mm/transparent_hugepage/defrag", defrag, sizeof(defrag));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	if (uname(&u))
		memset(&u, 0, sizeof(u));

	fprintf(out, "## Machine\n\n");
	fprintf(out, "- cpu: %s, %ld online CPUs of %ld%s\n", cpu, online, conf,
		virt ? ", virtualised" : "");
	fprintf(out, "- memory: %.1f GiB (MemTotal), %.1f GiB available\n",
		(double)meminfo_bytes("MemTotal") / KMM_SZ_1G,
		(double)bench_host_available_bytes() / KMM_SZ_1G);
	fprintf(out, "- kernel: %s %s %s\n", u.sysname, u.release, u.machine);
#if defined(__clang__)
	fprintf(out, "- compiler: %s", __VERSION__);
#elif defined(__GNUC__)
	fprintf(out, "- compiler: gcc %s", __VERSION__);
#else
	fprintf(out, "- compiler: %s", __VERSION__);
#endif
	fprintf(out, ", build %s, KMM_DEBUG=%d\n", KMM_BENCH_BUILD_TYPE, KMM_DEBUG);
	fprintf(out, "- host THP: enabled=%s, defrag=%s\n", thp, defrag);
	/*
	 * Free page reporting (virtio-balloon) hands memory freed in this VM
	 * back to the hypervisor after about 2 s; touching it again is then
	 * 10-25x slower. Benchmarks that touch much memory care.
	 */
	fprintf(out, "- free page reporting to the hypervisor: %s\n",
		access("/sys/module/page_reporting", F_OK) == 0 ? "yes" : "no");
	fprintf(out, "- date: %s\n\n", date);
}

/* --- Output ---------------------------------------------------------------------- */

void bench_section(const char *fmt, ...)
{
	va_list ap;
	print_machine_once();
	printf("\n## ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n\n");
}

const char *bench_fmt(char *buf, size_t size, double v)
{
	double a = fabs(v);
	if (isnan(v))
		snprintf(buf, size, "n/a");
	else if (a >= 1000 || (a == floor(a) && a < 1e15))
		snprintf(buf, size, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, size, "%.1f", v);
	else if (a >= 1)
		snprintf(buf, size, "%.2f", v);
	else
		snprintf(buf, size, "%.3g", v);
	return buf;
}

void bench_figure(const char *name, double value, const char *unit)
{
	char num[64];
	if (isnan(value))
		return;
	print_machine_once();
	printf("bench: %s %s %s\n", name, bench_fmt(num, sizeof(num), value), unit);
}

static struct bench_table goal_table;

void bench_goal_header(void)
{
	bench_table_init(&goal_table);
	bench_table_col(&goal_table, "goal", -52);
	bench_table_col(&goal_table, "measured", 14);
	bench_table_col(&goal_table, "limit", 14);
	bench_table_col(&goal_table, "result", -6);
	bench_table_header(&goal_table);
}

bool bench_goal(const char *what, double value, double limit, const char *unit)
{
	char v[64], l[64];
	bool pass = !isnan(value) && value <= limit;

	bench_table_cell(&goal_table, "%s", what);
	if (isnan(value))
		bench_table_cell(&goal_table, "n/a");
	else
		bench_table_cell(&goal_table, "%s %s", bench_fmt(v, sizeof(v), value), unit);
	bench_table_cell(&goal_table, "<= %s %s", bench_fmt(l, sizeof(l), limit), unit);
	bench_table_cell(&goal_table, "%s", isnan(value) ? "n/a" : pass ? "PASS" : "MISS");
	return pass;
}

void bench_table_init(struct bench_table *t)
{
	memset(t, 0, sizeof(*t));
}

void bench_table_col(struct bench_table *t, const char *title, int width)
{
	if (t->ncols >= BENCH_MAX_COLS)
		return;
	snprintf(t->col[t->ncols].title, sizeof(t->col[0].title), "%s", title);
	t->col[t->ncols].left = width < 0;
	width = abs(width);
	if ((size_t)width < strlen(title))
		width = (int)strlen(title);
	t->col[t->ncols].width = width;
	t->ncols++;
}

void bench_table_header(const struct bench_table *t)
{
	print_machine_once();
	for (int i = 0; i < t->ncols; i++)
		printf(t->col[i].left ? "| %-*s " : "| %*s ", t->col[i].width, t->col[i].title);
	printf("|\n");
	for (int i = 0; i < t->ncols; i++) {
		/* Markdown alignment markers: ":---" left, "---:" right. */
		printf("|%c", t->col[i].left ? ':' : '-');
		for (int k = 0; k < t->col[i].width; k++)
			putchar('-');
		printf("%c", t->col[i].left ? '-' : ':');
	}
	printf("|\n");
}

static void table_put(struct bench_table *t, const char *text)
{
	int i = t->cur;
	printf(t->col[i].left ? "| %-*s " : "| %*s ", t->col[i].width, text);
	if (++t->cur == t->ncols) {
		printf("|\n");
		t->cur = 0;
	}
}

void bench_table_cell(struct bench_table *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	table_put(t, buf);
}

void bench_table_num(struct bench_table *t, double v)
{
	char buf[64];
	table_put(t, bench_fmt(buf, sizeof(buf), v));
}

/* --- Machines ---------------------------------------------------------------------- */

struct kmm_machine *bench_boot(const char *options, struct kmm_error *err)
{
	struct kmm_config cfg;
	char buf[1024], *words[64], *save = NULL;
	int n = 0;

	kmm_config_init(&cfg);
	snprintf(buf, sizeof(buf), "%s", options ? options : "");
	for (char *w = strtok_r(buf, " ", &save); w && n < 64; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	for (int i = 0; i < n; i++) {
		int r = kmm_config_option(&cfg, words[i], i + 1 < n ? words[i + 1] : NULL, err);
		if (r < 0)
			return NULL;
		if (r == 0) {
			kmm_error_set(err, -EINVAL, "bench_boot: unknown machine option '%s'",
				      words[i]);
			return NULL;
		}
		i += r - 1;
	}
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, err);
	if (m && cfg.deferred != KMM_DEFERRED_THREAD)
		kmm_wait_for_init(m);
	return m;
}

/* --- Instruction counts under callgrind ---------------------------------------------------- */

/*
 * The counted call. With valgrind/callgrind.h the client requests switch
 * collection on and off around run(); without it the parent names this
 * function in --toggle-collect, which does the same from outside. Either
 * way it must stay a real function.
 */
__attribute__((noinline)) void bench_region_collect(const struct bench_region *r, void *state,
						    uint64_t iters);
__attribute__((noinline)) void bench_region_collect(const struct bench_region *r, void *state,
						    uint64_t iters)
{
#if BENCH_HAVE_CALLGRIND_H
	CALLGRIND_TOGGLE_COLLECT;
#endif
	r->run(state, iters);
#if BENCH_HAVE_CALLGRIND_H
	CALLGRIND_TOGGLE_COLLECT;
#endif
	bench_clobber();
}

/* In the child under callgrind: run only the region @name, then exit. */
static void run_region_child(const char *name)
{
	const char *it = getenv(ENV_ITERS);
	uint64_t iters = it ? strtoull(it, NULL, 10) : 0;
	const struct bench_region *r = bench_regions;

	while (r && r->name && strcmp(r->name, name))
		r++;
	if (!r || !r->name || !iters) {
		fprintf(stderr, "bench: no region '%s' (or no %s) in this program\n", name,
			ENV_ITERS);
		exit(3);
	}
	void *state = r->setup ? r->setup() : NULL;
	r->run(state, iters / 8 + 1); /* warm-up, not counted */
	bench_region_collect(r, state, iters);
	if (r->teardown)
		r->teardown(state);
	exit(0);
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
		if (len && access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/* The instruction total of a callgrind output file ("totals:" or "summary:"), or -1. */
static double callgrind_total(const char *file)
{
	char line[512];
	double total = -1;
	FILE *f = fopen(file, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "totals:", 7))
			total = strtod(line + 7, NULL);
		else if (!strncmp(line, "summary:", 8) && total < 0)
			total = strtod(line + 8, NULL);
	}
	fclose(f);
	return total;
}

double bench_instructions(const struct bench_opts *o, const char *name, uint64_t iters)
{
	char exe[PATH_MAX], out[] = "/tmp/kmm-bench-cg-XXXXXX",
			    log[] = "/tmp/kmm-bench-cglog-XXXXXX";
	char outarg[64], itersbuf[32];
	ssize_t n;
	int status, ofd, lfd;
	double total;

	static bool told;

	if (!in_path("valgrind")) {
		if (!told)
			printf("note: valgrind is not installed, so instruction counts are "
			       "skipped (Debian: apt-get install valgrind)\n");
		told = true;
		return NAN;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NAN;
	exe[n] = '\0';
	ofd = mkstemp(out);
	lfd = mkstemp(log);
	if (ofd < 0 || lfd < 0) {
		printf("note: cannot create temporary files for callgrind: %s\n", strerror(errno));
		return NAN;
	}
	close(ofd);
	snprintf(outarg, sizeof(outarg), "--callgrind-out-file=%s", out);
	snprintf(itersbuf, sizeof(itersbuf), "%llu", (unsigned long long)iters);
	fflush(stdout);
	fflush(stderr);

	pid_t pid = fork();
	if (pid == 0) {
		char *argv[8];
		int a = 0;
		argv[a++] = "valgrind";
		argv[a++] = "--tool=callgrind";
		argv[a++] = outarg;
		argv[a++] = "--collect-atstart=no";
		if (!BENCH_HAVE_CALLGRIND_H)
			argv[a++] = "--toggle-collect=bench_region_collect";
		argv[a++] = exe;
		argv[a] = NULL;
		setenv(ENV_REGION, name, 1);
		setenv(ENV_ITERS, itersbuf, 1);
		setenv(ENV_MACHINE_PRINTED, "1", 1);
		dup2(lfd, 1);
		dup2(lfd, 2);
		execvp("valgrind", argv);
		_exit(127);
	}
	close(lfd);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		printf("note: %s: the callgrind run of region '%s' failed; its log is %s\n",
		       o->name, name, log);
		unlink(out);
		return NAN;
	}
	total = callgrind_total(out);
	unlink(out);
	if (total < 0) {
		printf("note: %s: no instruction total in callgrind's output; log %s\n", o->name,
		       log);
		return NAN;
	}
	unlink(log);
	return total / (double)iters;
}
