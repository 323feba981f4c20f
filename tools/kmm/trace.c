/*
 * kmm trace: memory-access traces (docs/traces.md).
 *
 *   kmm trace convert IN OUT [--from F] [--to F]
 *       between valgrind lackey text, kmm's binary format and R|W page
 *       reference lists;
 *   kmm trace stats TRACE [--from F] [--frames N,M,...]
 *       records by kind, page references, distinct pages, and the page
 *       faults exact LRU and Belady's OPT take with N, M, ... frames.
 *
 * A bad trace is reported as FILE:LINE:COL (text) or FILE: byte N
 * (binary) with what was expected, and exits 1.
 */
#include "cli.h"
#include <kmm/sim.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void trace_usage(FILE *out)
{
	fprintf(out,
		"usage: kmm trace convert IN OUT [--from FORMAT] [--to FORMAT]\n"
		"       kmm trace stats TRACE [--from FORMAT] [--frames N,M,...]\n\n"
		"Formats: lackey (valgrind --tool=lackey --trace-mem=yes output), binary\n"
		"(kmm's compact format), refs ('R PAGE' / 'W PAGE' lines). The input's format\n"
		"is detected unless --from gives it; the output's comes from --to, else from\n"
		"OUT's extension (.kmt binary, .refs refs, .lackey lackey), else binary.\n"
		"'-' is stdin or stdout.\n\n"
		"stats prints the records by kind, the page references they make (a record\n"
		"crossing a page boundary touches two pages; stores and modifies are\n"
		"writes), the distinct pages, and for each frame count the faults of exact\n"
		"LRU and of Belady's OPT, starting with empty frames. Without --frames it\n"
		"uses 1/8, 1/4, 1/2 and all of the distinct pages.\n\n"
		"Exit status: 0 ok, 1 a bad trace, 2 a bad command line. Docs: docs/traces.md.\n");
}

static int parse_format(const char *opt, const char *name, enum kmm_memtrace_format *fmt)
{
	int f = kmm_memtrace_format_parse(name);
	if (f <= KMM_MEMTRACE_AUTO) {
		cli_error("%s %s: expected lackey, binary or refs", opt, name);
		return -1;
	}
	*fmt = (enum kmm_memtrace_format)f;
	return 0;
}

static enum kmm_memtrace_format format_of_path(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strcmp(dot, ".refs"))
		return KMM_MEMTRACE_REFS;
	if (dot && !strcmp(dot, ".lackey"))
		return KMM_MEMTRACE_LACKEY;
	return KMM_MEMTRACE_BINARY;
}

static int open_reader(const char *path, enum kmm_memtrace_format fmt,
		       struct kmm_memtrace_reader **r)
{
	struct kmm_error err = {0};
	int ret = kmm_memtrace_open(path, fmt, r, &err);
	if (ret) {
		cli_error("%s", err.msg);
		/* A file that cannot be opened is a usage error; a bad one a trace error. */
		return ret == -ENOENT || ret == -EACCES || ret == -EISDIR ? KMM_EXIT_USAGE
									  : KMM_EXIT_WORKLOAD;
	}
	return KMM_EXIT_OK;
}

static int trace_convert(const char *in, const char *out, enum kmm_memtrace_format from,
			 enum kmm_memtrace_format to)
{
	struct kmm_memtrace_reader *r;
	struct kmm_memtrace_writer *w;
	struct kmm_error err = {0};
	int rc = open_reader(in, from, &r);
	if (rc)
		return rc;
	if (kmm_memtrace_create(out, to, &w, &err)) {
		cli_error("%s", err.msg);
		kmm_memtrace_close(r);
		return KMM_EXIT_USAGE;
	}
	static struct kmm_memtrace_rec recs[8192];
	for (;;) {
		long n = kmm_memtrace_read(r, recs, KMM_ARRAY_SIZE(recs), &err);
		if (n < 0 || (n > 0 && kmm_memtrace_write(w, recs, (size_t)n, &err))) {
			cli_error("%s", err.msg);
			struct kmm_error ignored = {0};
			kmm_memtrace_finish(w, &ignored);
			kmm_memtrace_close(r);
			return KMM_EXIT_WORKLOAD;
		}
		if (!n)
			break;
	}
	uint64_t count = kmm_memtrace_count(r);
	enum kmm_memtrace_format got = kmm_memtrace_format(r);
	kmm_memtrace_close(r);
	if (kmm_memtrace_finish(w, &err)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	FILE *info = strcmp(out, "-") ? stdout : stderr;
	fprintf(info, "%s (%s) -> %s (%s): %llu records\n", in, kmm_memtrace_format_name(got), out,
		kmm_memtrace_format_name(to), (unsigned long long)count);
	return KMM_EXIT_OK;
}

struct refs {
	uint64_t *pages;
	size_t n, cap;
	uint64_t writes;
	bool oom;
};

static void collect(void *arg, uint64_t page, bool write)
{
	struct refs *rf = arg;
	if (rf->n == rf->cap) {
		size_t cap = rf->cap ? rf->cap * 2 : 1 << 16;
		uint64_t *p = rf->oom ? NULL : realloc(rf->pages, cap * sizeof(*p));
		if (!p) {
			rf->oom = true;
			return;
		}
		rf->pages = p;
		rf->cap = cap;
	}
	rf->pages[rf->n++] = page;
	rf->writes += write;
}

/* "3,4,10" into frames[]; false if malformed. */
static bool parse_frames(const char *s, size_t *frames, size_t *n, size_t max)
{
	*n = 0;
	while (*s) {
		char *end;
		errno = 0;
		if (*s < '0' || *s > '9')
			return false;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno || !v || end == s || *n == max || v > (1ULL << 31))
			return false;
		frames[(*n)++] = (size_t)v;
		s = end;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return false;
	}
	return *n > 0;
}

static int trace_stats(const char *path, enum kmm_memtrace_format from, const char *frames_arg)
{
	struct kmm_memtrace_reader *r;
	struct kmm_error err = {0};
	size_t frames[64], nframes = 0;
	if (frames_arg && !parse_frames(frames_arg, frames, &nframes, KMM_ARRAY_SIZE(frames))) {
		cli_error("--frames %s: expected frame counts from 1 to 2^31 such as 3,4,1024",
			  frames_arg);
		return KMM_EXIT_USAGE;
	}
	int rc = open_reader(path, from, &r);
	if (rc)
		return rc;

	/* One pass (stdin can be read once): records by kind, and their pages. */
	uint64_t kinds[4] = {0};
	static struct kmm_memtrace_rec recs[8192];
	struct refs rf = {0};
	for (;;) {
		long n = kmm_memtrace_read(r, recs, KMM_ARRAY_SIZE(recs), &err);
		if (n < 0) {
			cli_error("%s", err.msg);
			kmm_memtrace_close(r);
			free(rf.pages);
			return KMM_EXIT_WORKLOAD;
		}
		if (!n)
			break;
		for (long i = 0; i < n; i++)
			kinds[recs[i].kind & 3]++;
		kmm_memtrace_pages(recs, (size_t)n, collect, &rf);
	}
	enum kmm_memtrace_format got = kmm_memtrace_format(r);
	uint64_t total = kmm_memtrace_count(r);
	kmm_memtrace_close(r);
	if (rf.oom || rf.n >= UINT32_MAX) {
		cli_error("%s: too many page references to simulate (%zu)", path, rf.n);
		free(rf.pages);
		return KMM_EXIT_WORKLOAD;
	}
	size_t distinct = kmm_refsim_distinct(rf.pages, rf.n);
	if (distinct == (size_t)-1) {
		cli_error("out of host memory");
		free(rf.pages);
		return KMM_EXIT_WORKLOAD;
	}
	printf("trace: %s (%s)\n", path, kmm_memtrace_format_name(got));
	printf("records: %llu (I %llu, L %llu, S %llu, M %llu)\n", (unsigned long long)total,
	       (unsigned long long)kinds[0], (unsigned long long)kinds[1],
	       (unsigned long long)kinds[2], (unsigned long long)kinds[3]);
	printf("page references: %zu (%llu reads, %llu writes)\n", rf.n,
	       (unsigned long long)(rf.n - rf.writes), (unsigned long long)rf.writes);
	printf("distinct pages: %zu\n", distinct);
	if (!nframes && distinct) {
		size_t cand[] = {distinct / 8, distinct / 4, distinct / 2, distinct};
		for (size_t i = 0; i < KMM_ARRAY_SIZE(cand); i++)
			if (cand[i] && (!nframes || frames[nframes - 1] != cand[i]))
				frames[nframes++] = cand[i];
	}
	if (!nframes) {
		free(rf.pages);
		return KMM_EXIT_OK;
	}
	uint64_t lru[64];
	if (kmm_refsim_lru_multi(rf.pages, rf.n, frames, nframes, lru)) {
		cli_error("out of host memory");
		free(rf.pages);
		return KMM_EXIT_WORKLOAD;
	}
	printf("%10s %12s %12s\n", "frames", "LRU faults", "OPT faults");
	for (size_t k = 0; k < nframes; k++) {
		uint64_t opt;
		if (kmm_refsim_opt(rf.pages, rf.n, frames[k], &opt)) {
			cli_error("out of host memory");
			free(rf.pages);
			return KMM_EXIT_WORKLOAD;
		}
		printf("%10zu %12llu %12llu\n", frames[k], (unsigned long long)lru[k],
		       (unsigned long long)opt);
	}
	free(rf.pages);
	return KMM_EXIT_OK;
}

int cmd_trace(int argc, char **argv)
{
	const char *files[2] = {NULL, NULL}, *frames = NULL;
	enum kmm_memtrace_format from = KMM_MEMTRACE_AUTO, to = KMM_MEMTRACE_AUTO;
	int nfiles = 0;
	if (argc < 1 || cli_is_help(argv[0])) {
		trace_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? KMM_EXIT_USAGE : KMM_EXIT_OK;
	}
	bool convert = !strcmp(argv[0], "convert"), stats = !strcmp(argv[0], "stats");
	if (!convert && !stats) {
		cli_error("trace %s: expected convert or stats (try 'kmm trace --help')", argv[0]);
		return KMM_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			trace_usage(stdout);
			return KMM_EXIT_OK;
		}
		if (!strcmp(a, "--from") || !strcmp(a, "--to") || !strcmp(a, "--frames")) {
			if (i + 1 >= argc) {
				cli_error("%s needs a value", a);
				return KMM_EXIT_USAGE;
			}
			const char *v = argv[++i];
			if (!strcmp(a, "--frames")) {
				if (!stats) {
					cli_error("--frames is an option of 'kmm trace stats'");
					return KMM_EXIT_USAGE;
				}
				frames = v;
			} else if (!strcmp(a, "--to") && !convert) {
				cli_error("--to is an option of 'kmm trace convert'");
				return KMM_EXIT_USAGE;
			} else if (parse_format(a, v, a[2] == 'f' ? &from : &to)) {
				return KMM_EXIT_USAGE;
			}
		} else if (a[0] == '-' && a[1]) {
			cli_error("unknown option '%s' (try 'kmm trace --help')", a);
			return KMM_EXIT_USAGE;
		} else if (nfiles < (convert ? 2 : 1)) {
			files[nfiles++] = a;
		} else {
			cli_error("too many files: '%s'", a);
			return KMM_EXIT_USAGE;
		}
	}
	if (nfiles < (convert ? 2 : 1)) {
		cli_error(convert ? "convert needs IN and OUT" : "stats needs a TRACE");
		return KMM_EXIT_USAGE;
	}
	if (convert) {
		if (to == KMM_MEMTRACE_AUTO)
			to = format_of_path(files[1]);
		return trace_convert(files[0], files[1], from, to);
	}
	return trace_stats(files[0], from, frames);
}
