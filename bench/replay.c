/*
 * bench/replay: how fast memory-access traces are decoded, from kmm's
 * binary format and from valgrind lackey text (and page reference lists),
 * alone and with each record's pages handed to a callback.
 *
 * Linux counterpart: none. What replay will cost once the address-space
 * layer exists is the decoding measured here plus a simulated access per
 * page; until then the callback counts distinct pages in a hash map, which
 * is the kind of work a replay does per reference (a lookup keyed by page).
 *
 * The trace is synthetic but shaped like the lackey trace of a real
 * program (workloads/traces/, /bin/true): about 70% instruction fetches of
 * 1 to 7 bytes in loops of short basic blocks with calls between
 * functions, and 30% data accesses to the stack, to arrays walked in order
 * and to random heap addresses. It is written to files in /tmp in each
 * format (the binary one about 3 bytes a record; real programs give 2.4-2.6),
 * then read back through kmm_memtrace_open(), which maps the file: the
 * figures are decoding from the page cache, not disk.
 *
 * Goal (issue 9): at least 20 M records/s from the binary format on one
 * core, pages included: at most 50 ns per record.
 */
#include "bench.h"
#include "sim/u64map.h"

#include <kmm/sim.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOAL_NS_PER_RECORD 50.0 /* 20 M records/s */
#define MAX_REPS	   32

/* --- The synthetic trace --------------------------------------------------------------- */

struct gen {
	struct kmm_rng rng;
	uint64_t pc, block_start, block_left, sp, walk, n;
};

static void gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	kmm_rng_seed(&g->rng, seed);
	g->pc = g->block_start = 0x401000;
	g->block_left = 6;
	g->sp = 0x1ffefff000ULL;
	g->walk = 0x4000000;
}

/* The next record of a program-like trace. */
static struct kmm_memtrace_rec gen_next(struct gen *g)
{
	static const uint32_t isize[8] = {1, 2, 3, 3, 4, 5, 5, 7};
	struct kmm_memtrace_rec r;
	uint64_t x = kmm_rng_next(&g->rng);
	if ((x & 1023) < 300) { /* a data access */
		uint64_t kind = (x >> 10) & 15;
		r.kind = kind < 9    ? KMM_MEMTRACE_LOAD
			 : kind < 15 ? KMM_MEMTRACE_STORE
				     : KMM_MEMTRACE_MODIFY;
		uint64_t where = (x >> 14) % 10;
		if (where < 5) { /* the stack */
			r.addr = g->sp - 8 * ((x >> 20) & 63);
			r.size = 8;
		} else if (where < 8) { /* an array walked in order */
			g->walk += 8;
			if (g->walk >= 0x4000000 + (16 << 20))
				g->walk = 0x4000000;
			r.addr = g->walk;
			r.size = 8;
		} else { /* anywhere in a 64 MiB heap */
			r.addr = 0x5000000 + (((x >> 20) % (64 << 20)) & ~7ULL);
			r.size = 4 << ((x >> 50) & 1);
		}
		return r;
	}
	r.kind = KMM_MEMTRACE_INSTR;
	r.addr = g->pc;
	r.size = isize[(x >> 10) & 7];
	g->pc += r.size;
	if (--g->block_left == 0) {
		uint64_t jump = (x >> 13) % 10;
		if (jump < 8) { /* loop back */
			g->pc = g->block_start;
		} else if (jump < 9) { /* call another function, 1 MiB of code */
			g->pc = 0x401000 + (((x >> 20) % (1 << 20)) & ~15ULL);
			g->block_start = g->pc;
		} else {
			g->block_start = g->pc;
		}
		g->block_left = 3 + ((x >> 40) % 10);
	}
	return r;
}

/* Write @n records in @fmt to @path; the file's size, or 0 on failure. */
static size_t write_trace(const char *path, enum kmm_memtrace_format fmt, uint64_t n)
{
	struct kmm_memtrace_writer *w;
	struct kmm_error err = {0};
	struct kmm_memtrace_rec buf[4096];
	struct gen g;
	if (kmm_memtrace_create(path, fmt, &w, &err)) {
		fprintf(stderr, "replay: %s\n", err.msg);
		return 0;
	}
	gen_init(&g, 42);
	for (uint64_t done = 0; done < n;) {
		size_t k = (size_t)kmm_min((uint64_t)KMM_ARRAY_SIZE(buf), n - done);
		for (size_t i = 0; i < k; i++)
			buf[i] = gen_next(&g);
		if (kmm_memtrace_write(w, buf, k, &err))
			break;
		done += k;
	}
	if (kmm_memtrace_finish(w, &err)) {
		fprintf(stderr, "replay: %s\n", err.msg);
		return 0;
	}
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	return size > 0 ? (size_t)size : 0;
}

/* --- Measured loops ---------------------------------------------------------------------- */

struct pages {
	struct u64map map;
	uint64_t refs;
};

static void count_page(void *arg, uint64_t page, bool write)
{
	struct pages *p = arg;
	bool added;
	p->refs++;
	u64map_insert(&p->map, page, 0, &added);
}

struct result {
	uint64_t records, pages, distinct;
	double seconds;
	bool failed;
};

/* Decode the whole file once (with pages into the map if @pages); time it. */
static struct result decode(const char *path, enum kmm_memtrace_format fmt, bool pages)
{
	static struct kmm_memtrace_rec recs[4096];
	struct result res = {0};
	struct kmm_memtrace_reader *r;
	struct kmm_error err = {0};
	struct pages pg = {0};
	uint64_t sum = 0;
	if (kmm_memtrace_open(path, fmt, &r, &err) || (pages && u64map_init(&pg.map, 1 << 16))) {
		fprintf(stderr, "replay: %s\n", err.msg);
		res.failed = true;
		return res;
	}
	uint64_t t0 = bench_now_ns();
	for (;;) {
		long n = kmm_memtrace_read(r, recs, KMM_ARRAY_SIZE(recs), &err);
		if (n <= 0) {
			res.failed = n < 0;
			break;
		}
		if (pages)
			kmm_memtrace_pages(recs, (size_t)n, count_page, &pg);
		else
			for (long i = 0; i < n; i++)
				sum += recs[i].addr;
	}
	res.seconds = (double)(bench_now_ns() - t0) / 1e9;
	bench_keep(&sum);
	if (res.failed)
		fprintf(stderr, "replay: %s\n", err.msg);
	res.records = kmm_memtrace_count(r);
	res.pages = pg.refs;
	res.distinct = pg.map.n;
	kmm_memtrace_close(r);
	if (pages)
		u64map_free(&pg.map);
	return res;
}

/* Reading the file's bytes, 8 at a time: the floor under any decoder. */
static double read_bytes_seconds(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NAN;
	static uint64_t buf[1 << 16];
	uint64_t sum = 0, t0 = bench_now_ns();
	size_t n;
	while ((n = fread(buf, 8, KMM_ARRAY_SIZE(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			sum += buf[i];
	double s = (double)(bench_now_ns() - t0) / 1e9;
	bench_keep(&sum);
	fclose(f);
	return s;
}

struct format_row {
	const char *name;
	enum kmm_memtrace_format fmt;
	const char *tag;
	uint64_t records; /* written */
	char path[256];
	size_t bytes;
	double decode_ns, pages_ns, read_ns; /* medians per record */
	uint64_t refs, distinct;
	bool failed;
};

static void measure(const struct bench_opts *o, struct format_row *row)
{
	double d[MAX_REPS], p[MAX_REPS], b[MAX_REPS];
	int reps = bench_reps(o, 7, 3);
	reps = reps > MAX_REPS ? MAX_REPS : reps;
	/* One untimed pass: the file into the page cache, the code into the caches. */
	struct result warm = decode(row->path, row->fmt, true);
	if (warm.failed || warm.records != row->records) {
		row->failed = true;
		return;
	}
	row->refs = warm.pages;
	row->distinct = warm.distinct;
	for (int i = 0; i < reps; i++) {
		struct result a = decode(row->path, row->fmt, false);
		struct result c = decode(row->path, row->fmt, true);
		d[i] = a.seconds * 1e9 / (double)row->records;
		p[i] = c.seconds * 1e9 / (double)row->records;
		b[i] = read_bytes_seconds(row->path) * 1e9 / (double)row->records;
	}
	row->decode_ns = bench_median(d, reps);
	row->pages_ns = bench_median(p, reps);
	row->read_ns = bench_median(b, reps);
}

/* --- Instructions per record (callgrind) ---------------------------------------------------- */

struct region_state {
	unsigned char *data;
	size_t len;
};

static void *region_setup(void)
{
	static char path[] = "/tmp/kmm-bench-replay-cg-XXXXXX";
	struct region_state *s = calloc(1, sizeof(*s));
	int fd = mkstemp(path);
	if (fd < 0)
		return s;
	close(fd);
	s->len = write_trace(path, KMM_MEMTRACE_BINARY, 1 << 20);
	FILE *f = fopen(path, "rb");
	s->data = malloc(s->len);
	if (f && s->data && fread(s->data, 1, s->len, f) != s->len)
		s->len = 0;
	if (f)
		fclose(f);
	unlink(path);
	return s;
}

/* Decode @iters records, from the start again whenever the trace ends. */
static void region_binary_decode(void *state, uint64_t iters)
{
	struct region_state *s = state;
	static struct kmm_memtrace_rec recs[1024];
	uint64_t sum = 0;
	while (iters && s->len) {
		struct kmm_memtrace_reader *r;
		struct kmm_error err = {0};
		if (kmm_memtrace_open_mem(s->data, s->len, "cg", KMM_MEMTRACE_BINARY, &r, &err))
			return;
		long n;
		while (iters &&
		       (n = kmm_memtrace_read(r, recs, kmm_min((uint64_t)1024, iters), &err)) > 0) {
			for (long i = 0; i < n; i++)
				sum += recs[i].addr;
			iters -= (uint64_t)n;
		}
		kmm_memtrace_close(r);
	}
	bench_keep(&sum);
}

static void region_teardown(void *state)
{
	struct region_state *s = state;
	free(s->data);
	free(s);
}

static const struct bench_region regions[] = {
    {"binary_decode", region_setup, region_binary_decode, region_teardown},
    {NULL, NULL, NULL, NULL},
};

/* --- Output ------------------------------------------------------------------------------------- */

static double mrps(double ns)
{
	return ns > 0 ? 1e3 / ns : NAN;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	argc = bench_init(&o, argc, argv, "replay", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);

	/* Binary: 20 M records (the goal's scale); text: fewer, it is ~6x the bytes. */
	uint64_t nbin = o.quick ? 4000000 : 20000000, ntext = o.quick ? 1000000 : 4000000;
	struct format_row rows[] = {
	    {"binary (kmm)", KMM_MEMTRACE_BINARY, "binary", nbin, "", 0, 0, 0, 0, 0, 0, false},
	    {"lackey text", KMM_MEMTRACE_LACKEY, "lackey", ntext, "", 0, 0, 0, 0, 0, 0, false},
	    {"R|W page list", KMM_MEMTRACE_REFS, "refs", ntext, "", 0, 0, 0, 0, 0, 0, false},
	};
	bench_section("replay: trace records decoded per second, one core%s",
		      o.quick ? " (quick)" : "");
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++) {
		snprintf(rows[i].path, sizeof(rows[i].path), "/tmp/kmm-bench-replay-%d.%s",
			 (int)getpid(), rows[i].tag);
		printf("writing %llu records as %s...\n", (unsigned long long)rows[i].records,
		       rows[i].tag);
		fflush(stdout);
		rows[i].bytes = write_trace(rows[i].path, rows[i].fmt, rows[i].records);
		rows[i].failed = !rows[i].bytes;
		/* A reference list holds one record per page touched, not per access. */
		if (!rows[i].failed && rows[i].fmt == KMM_MEMTRACE_REFS) {
			struct result c = decode(rows[i].path, rows[i].fmt, false);
			rows[i].records = c.records;
		}
	}
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++)
		if (!rows[i].failed)
			measure(&o, &rows[i]);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++)
		unlink(rows[i].path);

	double ins = bench_instructions(&o, "binary_decode", o.quick ? 200000 : 1000000);

	struct bench_table t;
	printf("\n");
	bench_table_init(&t);
	bench_table_col(&t, "format", -14);
	bench_table_col(&t, "records", 9);
	bench_table_col(&t, "B/record", 8);
	bench_table_col(&t, "decode M/s", 10);
	bench_table_col(&t, "+pages M/s", 10);
	bench_table_col(&t, "ns/record", 9);
	bench_table_col(&t, "read bytes ns", 13);
	bench_table_header(&t);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++) {
		const struct format_row *r = &rows[i];
		bench_table_cell(&t, "%s", r->name);
		bench_table_cell(&t, "%lluk", (unsigned long long)r->records / 1000);
		if (r->failed) {
			for (int c = 2; c < t.ncols; c++)
				bench_table_cell(&t, "n/a");
			continue;
		}
		bench_table_cell(&t, "%.2f", (double)r->bytes / (double)r->records);
		bench_table_num(&t, mrps(r->decode_ns));
		bench_table_num(&t, mrps(r->pages_ns));
		bench_table_num(&t, r->pages_ns);
		bench_table_num(&t, r->read_ns);
	}
	printf("\ndecode: records into an array, batch by batch (kmm_memtrace_read). +pages:\n"
	       "also each record's pages to a callback that counts distinct pages in a hash\n"
	       "map (kmm_memtrace_pages), what a replay does per reference; ns/record is for\n"
	       "that. read bytes: summing the file's bytes, the floor under any decoder.\n"
	       "Files mapped from the page cache; medians of %d passes.",
	       bench_reps(&o, 7, 3));
	if (!rows[0].failed)
		printf(" The trace touches %llu\ndistinct pages in %llu page references.",
		       (unsigned long long)rows[0].distinct, (unsigned long long)rows[0].refs);
	printf("\n");
	if (!isnan(ins))
		printf("binary decode: %.1f instructions per record (callgrind)\n", ins);

	printf("\n");
	bench_goal_header();
	bench_goal("binary trace, decode + pages, per record",
		   rows[0].failed ? NAN : rows[0].pages_ns, GOAL_NS_PER_RECORD, "ns");

	printf("\n");
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++) {
		char name[64];
		if (rows[i].failed)
			continue;
		snprintf(name, sizeof(name), "replay_%s_decode", rows[i].tag);
		bench_figure(name, mrps(rows[i].decode_ns), "Mrecords/s");
		snprintf(name, sizeof(name), "replay_%s_pages", rows[i].tag);
		bench_figure(name, mrps(rows[i].pages_ns), "Mrecords/s");
		snprintf(name, sizeof(name), "replay_%s_bytes_per_record", rows[i].tag);
		bench_figure(name, (double)rows[i].bytes / (double)rows[i].records, "B");
	}
	bench_figure("replay_binary_decode_instructions", ins, "instructions/record");
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++)
		if (rows[i].failed)
			return 1;
	return 0;
}
