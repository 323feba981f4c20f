/*
 * Memory-access traces (src/sim/memtrace*.c): the checked-in lackey trace
 * of workloads/traces/touch.S, counted exactly; a fresh lackey trace of
 * /bin/true when valgrind is installed, against the instruction count
 * valgrind itself reports; round trips between the three formats,
 * including random records at the edges of the binary encoding; reads in
 * batches of every size; pages of records that cross page boundaries;
 * and a table of bad traces with the exact messages they get.
 */
#include "kmm_test.h"
#include "sim/memtrace.h"
#include <errno.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/kmm-memtrace-test-XXXXXX";

#define SAMPLE KMM_SOURCE_DIR "/workloads/traces/touch.lackey"

struct counts {
	uint64_t records, kind[4], pages, writes;
	uint64_t first_page, last_page;
};

static void count_page(void *arg, uint64_t page, bool write)
{
	struct counts *c = arg;
	if (!c->pages)
		c->first_page = page;
	c->last_page = page;
	c->pages++;
	c->writes += write;
}

/* Read a whole trace in batches of @batch; -errno on error. */
static int count_trace(const char *path, enum kmm_memtrace_format fmt, size_t batch,
		       struct counts *c, struct kmm_memtrace_rec *all, size_t max_all)
{
	struct kmm_memtrace_reader *r;
	struct kmm_error err = {0};
	struct kmm_memtrace_rec recs[64];
	memset(c, 0, sizeof(*c));
	int ret = kmm_memtrace_open(path, fmt, &r, &err);
	if (ret) {
		fprintf(stderr, "%s\n", err.msg);
		return ret;
	}
	for (;;) {
		long n = kmm_memtrace_read(r, recs, batch, &err);
		if (n < 0) {
			fprintf(stderr, "%s\n", err.msg);
			kmm_memtrace_close(r);
			return (int)n;
		}
		if (!n)
			break;
		for (long i = 0; i < n; i++) {
			if (all && c->records < max_all)
				all[c->records] = recs[i];
			c->kind[recs[i].kind]++;
			c->records++;
		}
		kmm_memtrace_pages(recs, (size_t)n, count_page, c);
	}
	if (c->records != kmm_memtrace_count(r))
		ret = -EINVAL;
	kmm_memtrace_close(r);
	return ret;
}

/* The checked-in trace: what touch.S does, exactly. */
static void test_sample_counts(void)
{
	struct counts c;
	static struct kmm_memtrace_rec recs[2000];
	expect_int_eq(count_trace(SAMPLE, KMM_MEMTRACE_AUTO, 64, &c, recs, 2000), 0);
	/* 2+256*4 + 2+64*4 + 3+32*4 + 3 instructions; 256 stores, 64 adds to memory, 32 loads. */
	expect_u64_eq(c.kind[KMM_MEMTRACE_INSTR], 1418);
	expect_u64_eq(c.kind[KMM_MEMTRACE_STORE], 256);
	expect_u64_eq(c.kind[KMM_MEMTRACE_MODIFY], 64);
	expect_u64_eq(c.kind[KMM_MEMTRACE_LOAD], 32);
	expect_u64_eq(c.records, 1770);
	expect_u64_eq(c.pages, 1770); /* nothing crosses a page */
	expect_u64_eq(c.writes, 320);
	/* The first record: "I  00401000,7", the lea; the first store at the buffer. */
	expect_x64_eq(recs[0].addr, 0x401000);
	expect_u64_eq(recs[0].size, 7);
	expect_x64_eq(recs[3].addr, 0x402000);
	expect_u64_eq(recs[3].kind, KMM_MEMTRACE_STORE);
	expect_u64_eq(recs[3].size, 8);
	/* Stores walk the buffer by 64 bytes. */
	uint64_t want = 0x402000, stores = 0;
	for (size_t i = 0; i < c.records; i++)
		if (recs[i].kind == KMM_MEMTRACE_STORE) {
			check_u64_eq(recs[i].addr, want);
			want += 64;
			stores++;
		}
	expect_u64_eq(stores, 256);
	/* The same, read one record at a time and seven at a time. */
	struct counts c1, c7;
	expect_int_eq(count_trace(SAMPLE, KMM_MEMTRACE_LACKEY, 1, &c1, NULL, 0), 0);
	expect_int_eq(count_trace(SAMPLE, KMM_MEMTRACE_LACKEY, 7, &c7, NULL, 0), 0);
	expect_int_eq(memcmp(&c1, &c, sizeof(c)), 0);
	expect_int_eq(memcmp(&c7, &c, sizeof(c)), 0);
}

static int convert(const char *in, enum kmm_memtrace_format from, const char *out,
		   enum kmm_memtrace_format to)
{
	struct kmm_memtrace_reader *r;
	struct kmm_memtrace_writer *w;
	struct kmm_error err = {0};
	struct kmm_memtrace_rec recs[100];
	if (kmm_memtrace_open(in, from, &r, &err))
		goto fail;
	if (kmm_memtrace_create(out, to, &w, &err)) {
		kmm_memtrace_close(r);
		goto fail;
	}
	long n;
	while ((n = kmm_memtrace_read(r, recs, 100, &err)) > 0)
		if (kmm_memtrace_write(w, recs, (size_t)n, &err))
			break;
	kmm_memtrace_close(r);
	if (n < 0) {
		struct kmm_error e2 = {0};
		kmm_memtrace_finish(w, &e2);
		goto fail;
	}
	if (kmm_memtrace_finish(w, &err))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "%s\n", err.msg);
	return -1;
}

/* lackey -> binary -> lackey -> refs -> binary: records, then pages, survive. */
static void test_round_trips(void)
{
	char bin[300], lk[300], refs[300], bin2[300];
	struct counts a, b, c, d, e;
	static struct kmm_memtrace_rec ra[2000], rb[2000], rc[2000];
	snprintf(bin, sizeof(bin), "%s/touch.kmt", tmpdir);
	snprintf(lk, sizeof(lk), "%s/touch.lackey", tmpdir);
	snprintf(refs, sizeof(refs), "%s/touch.refs", tmpdir);
	snprintf(bin2, sizeof(bin2), "%s/touch2.kmt", tmpdir);
	expect_int_eq(convert(SAMPLE, KMM_MEMTRACE_AUTO, bin, KMM_MEMTRACE_BINARY), 0);
	expect_int_eq(convert(bin, KMM_MEMTRACE_AUTO, lk, KMM_MEMTRACE_LACKEY), 0);
	expect_int_eq(convert(lk, KMM_MEMTRACE_AUTO, refs, KMM_MEMTRACE_REFS), 0);
	expect_int_eq(convert(refs, KMM_MEMTRACE_AUTO, bin2, KMM_MEMTRACE_BINARY), 0);
	expect_int_eq(count_trace(SAMPLE, KMM_MEMTRACE_AUTO, 64, &a, ra, 2000), 0);
	expect_int_eq(count_trace(bin, KMM_MEMTRACE_AUTO, 64, &b, rb, 2000), 0);
	expect_int_eq(count_trace(lk, KMM_MEMTRACE_AUTO, 13, &c, rc, 2000), 0);
	expect_int_eq(memcmp(ra, rb, sizeof(ra)), 0);
	expect_int_eq(memcmp(ra, rc, sizeof(ra)), 0);
	/* Page references keep the pages and reads/writes, not sizes or kinds. */
	expect_int_eq(count_trace(refs, KMM_MEMTRACE_AUTO, 64, &d, NULL, 0), 0);
	expect_int_eq(count_trace(bin2, KMM_MEMTRACE_AUTO, 64, &e, NULL, 0), 0);
	expect_u64_eq(d.records, a.pages);
	expect_u64_eq(d.pages, a.pages);
	expect_u64_eq(d.writes, a.writes);
	expect_u64_eq(d.first_page, a.first_page);
	expect_u64_eq(d.last_page, a.last_page);
	expect_int_eq(memcmp(&d, &e, sizeof(d)), 0);
	/* Compact: the binary form of a real program's trace, about 2 bytes a record. */
	FILE *f = fopen(bin, "rb");
	expect_ptr_not_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	expect_i64_le(size, 16 + 9 + 3 * 1770);
}

/* Random records, including the encoding's edges, through binary and lackey. */
static void test_random_records(void)
{
	static const uint32_t sizes[] = {0, 1, 8, 61, 62, 63, 64, 4096, 65536, UINT32_MAX};
	static const uint64_t addrs[] = {
	    0, 1, 0xfff, 0x1000, 0x7fffffffffffULL, UINT64_MAX, UINT64_MAX - 7, 1ULL << 63};
	enum {
		N = 20000
	};
	static struct kmm_memtrace_rec in[N], out[N];
	struct kmm_rng rng;
	struct kmm_error err = {0};
	kmm_rng_seed(&rng, kmm_test_seed);
	for (size_t i = 0; i < N; i++) {
		uint64_t r = kmm_rng_below(&rng, 10);
		in[i].kind = (uint32_t)kmm_rng_below(&rng, 4);
		in[i].size = r < 2 ? sizes[kmm_rng_below(&rng, KMM_ARRAY_SIZE(sizes))]
				   : (uint32_t)kmm_rng_range(&rng, 1, 16);
		in[i].addr = r < 1   ? addrs[kmm_rng_below(&rng, KMM_ARRAY_SIZE(addrs))]
			     : r < 5 ? (i ? in[i - 1].addr + kmm_rng_below(&rng, 64) : 0)
				     : kmm_rng_next(&rng);
	}
	for (int fmt = KMM_MEMTRACE_LACKEY; fmt <= KMM_MEMTRACE_BINARY; fmt++) {
		char path[300];
		struct kmm_memtrace_writer *w;
		struct kmm_memtrace_reader *r;
		snprintf(path, sizeof(path), "%s/random.%d", tmpdir, fmt);
		expect_int_eq(kmm_memtrace_create(path, fmt, &w, &err), 0);
		/* In uneven pieces, so writes straddle the writer's buffer. */
		for (size_t i = 0; i < N;) {
			size_t n = kmm_min((size_t)kmm_rng_range(&rng, 1, 3000), (size_t)N - i);
			expect_int_eq(kmm_memtrace_write(w, in + i, n, &err), 0);
			i += n;
		}
		expect_int_eq(kmm_memtrace_finish(w, &err), 0);
		expect_int_eq(kmm_memtrace_open(path, KMM_MEMTRACE_AUTO, &r, &err), 0);
		expect_int_eq(kmm_memtrace_format(r), fmt);
		size_t got = 0;
		long n;
		while ((n = kmm_memtrace_read(
			    r, out + got,
			    kmm_min((size_t)kmm_rng_range(&rng, 1, 5000), (size_t)N - got), &err)) >
		       0)
			got += (size_t)n;
		if (n < 0)
			fprintf(stderr, "%s\n", err.msg);
		expect_int_eq(n, 0);
		/* After the end, still the end. */
		expect_int_eq(kmm_memtrace_read(r, out, 1, &err), 0);
		kmm_memtrace_close(r);
		expect_u64_eq(got, N);
		for (size_t i = 0; i < N; i++) {
			check_u64_eq(out[i].addr, in[i].addr);
			check_u64_eq(out[i].size, in[i].size);
			check_u64_eq(out[i].kind, in[i].kind);
		}
	}
}

struct pagelist {
	uint64_t page[8];
	bool write[8];
	int n;
};

static void note_page(void *arg, uint64_t page, bool write)
{
	struct pagelist *l = arg;
	if (l->n < 8) {
		l->page[l->n] = page;
		l->write[l->n] = write;
	}
	l->n++;
}

/* Records that cross pages touch each page they cover, and never wrap. */
static void test_pages_of_records(void)
{
	static const struct {
		struct kmm_memtrace_rec rec;
		int n;
		uint64_t first, last;
		bool write;
	} cases[] = {
	    {{0xfff, 2, KMM_MEMTRACE_LOAD}, 2, 0, 1, false},
	    {{0xffe, 2, KMM_MEMTRACE_STORE}, 1, 0, 0, true},
	    {{0x5000, 0, KMM_MEMTRACE_MODIFY}, 1, 5, 5, true},
	    {{0x1800, 8192, KMM_MEMTRACE_INSTR}, 3, 1, 3, false},
	    {{UINT64_MAX - 1, 8, KMM_MEMTRACE_LOAD}, 1, UINT64_MAX >> 12, UINT64_MAX >> 12, false},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++) {
		struct pagelist l = {0};
		kmm_memtrace_pages(&cases[i].rec, 1, note_page, &l);
		expect_int_eq(l.n, cases[i].n);
		expect_x64_eq(l.page[0], cases[i].first);
		expect_x64_eq(l.page[l.n - 1], cases[i].last);
		expect_int_eq(l.write[0], cases[i].write);
	}
}

/* A trace in memory; the message of the first error, "" if none; *count records. */
static const char *read_all(const void *data, size_t len, enum kmm_memtrace_format fmt,
			    uint64_t *count, char *msg, size_t msglen)
{
	struct kmm_memtrace_reader *r;
	struct kmm_error err = {0};
	struct kmm_memtrace_rec recs[16];
	msg[0] = '\0';
	*count = 0;
	if (kmm_memtrace_open_mem(data, len, "t", fmt, &r, &err)) {
		snprintf(msg, msglen, "%s", err.msg);
		return msg;
	}
	long n;
	while ((n = kmm_memtrace_read(r, recs, 16, &err)) > 0)
		;
	if (n < 0) {
		snprintf(msg, msglen, "%s", err.msg);
		/* Sticky: the same error again. */
		struct kmm_error again = {0};
		if (kmm_memtrace_read(r, recs, 16, &again) != n || strcmp(again.msg, err.msg))
			snprintf(msg, msglen, "error not sticky");
	}
	*count = kmm_memtrace_count(r);
	kmm_memtrace_close(r);
	return msg;
}

static void test_bad_text(void)
{
	static const struct {
		const char *text;
		enum kmm_memtrace_format fmt;
		uint64_t count; /* records before the error */
		const char *msg;
	} cases[] = {
	    {"I  zz,4\n", KMM_MEMTRACE_AUTO, 0, "t:1:4: expected a hex address, found 'zz,4'"},
	    {" L 1000\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:8: expected ',' after an address of at most 16 hex digits, found the end of the "
	     "line"},
	    {"==1== banner\n L 1000,x\n", KMM_MEMTRACE_AUTO, 0,
	     "t:2:9: expected a decimal size below 2^32 ending the line, found 'x'"},
	    {" L 12345678901234567,4\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:20: expected ',' after an address of at most 16 hex digits, found '7,4'"},
	    {" S 10,4294967296\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:7: expected a decimal size below 2^32 ending the line, found '4294967296'"},
	    {"I  10,4\n L 20,4\nhello from the program\nI  30,4\n", KMM_MEMTRACE_AUTO, 2,
	     "t:3:1: expected a lackey record ('I  ADDR,SIZE', ' L ADDR,SIZE', ' S ...', ' M ...') "
	     "or a '==PID==' line, found 'hello from the program'"},
	    {" X 1000,4\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1: expected a lackey record, '==PID==' or 'R|W PAGE', found ' X 1000,4' (or give "
	     "--from lackey, binary or refs)"},
	    {" X 1000,4\n", KMM_MEMTRACE_LACKEY, 0,
	     "t:1:1: expected a lackey record ('I  ADDR,SIZE', ' L ADDR,SIZE', ' S ...', ' M ...') "
	     "or a '==PID==' line, found ' X 1000,4'"},
	    {"R 1\n# comment\n\nw 0x2\nQ 3\n", KMM_MEMTRACE_AUTO, 2,
	     "t:5:1: expected R or W, a blank and a page number, found 'Q 3'"},
	    {"R 0x\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:3: expected a page number below 2^52 (decimal or 0x hex) ending the line, found "
	     "'0x'"},
	    {"W 12 junk\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:3: expected a page number below 2^52 (decimal or 0x hex) ending the line, found "
	     "'12 junk'"},
	    {"R 4503599627370496\n", KMM_MEMTRACE_AUTO, 0,
	     "t:1:3: expected a page number below 2^52 (decimal or 0x hex) ending the line, found "
	     "'4503599627370496'"},
	    {"R 4503599627370495 # the last page\r\n", KMM_MEMTRACE_AUTO, 1, ""},
	    {"I  0401ab70,3\r\n L 7ff0,8", KMM_MEMTRACE_AUTO, 2, ""},
	    {"", KMM_MEMTRACE_AUTO, 0, ""},
	    {"\n\n# nothing\n", KMM_MEMTRACE_REFS, 0, ""},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++) {
		char msg[600];
		uint64_t count;
		read_all(cases[i].text, strlen(cases[i].text), cases[i].fmt, &count, msg,
			 sizeof(msg));
		if (strcmp(msg, cases[i].msg))
			fprintf(stderr, "case %zu\n", i);
		expect_str_eq(msg, cases[i].msg);
		expect_u64_eq(count, cases[i].count);
	}
}

/* A valid binary trace of @n records; returns its length. */
static size_t make_binary(unsigned char *buf, size_t cap, size_t n)
{
	char path[300];
	struct kmm_memtrace_writer *w;
	struct kmm_error err = {0};
	snprintf(path, sizeof(path), "%s/small.kmt", tmpdir);
	if (kmm_memtrace_create(path, KMM_MEMTRACE_BINARY, &w, &err))
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct kmm_memtrace_rec rec = {0x1000 + 8 * i, i == 2 ? 100 : 4, (uint32_t)(i & 3)};
		kmm_memtrace_write(w, &rec, 1, &err);
	}
	if (kmm_memtrace_finish(w, &err))
		return 0;
	FILE *f = fopen(path, "rb");
	size_t len = fread(buf, 1, cap, f);
	fclose(f);
	return len;
}

static void test_bad_binary(void)
{
	unsigned char good[256], bad[256];
	char msg[600];
	uint64_t count;
	size_t len = make_binary(good, sizeof(good), 5);
	/* header 16; records I 3, L 3, S (size 100) 3, M 2, I 2; end 1 + 8 */
	expect_u64_eq(len, 16 + 13 + 9);
	expect_str_eq(read_all(good, len, KMM_MEMTRACE_AUTO, &count, msg, sizeof(msg)), "");
	expect_u64_eq(count, 5);

	static const struct {
		int at;		  /* byte to change, or -1 */
		unsigned char to; /* its new value */
		size_t cut;	  /* bytes to drop from the end */
		uint64_t count;
		const char *msg;
	} cases[] = {
	    {0, 'X', 0, 0,
	     "t:1: expected a lackey record, '==PID==' or 'R|W PAGE', found 'XKMMTRC' (or give "
	     "--from lackey, binary or refs)"},
	    {8, 2, 0, 0, "t: byte 8: expected format version 1, found 2 (a newer kmm wrote it?)"},
	    {12, 1, 0, 0, "t: byte 12: expected flags 0, found 0x1"},
	    {16, 0x01, 0, 0,
	     "t: byte 16 (record 0): expected a record header, found a reserved byte (size code 0 "
	     "with a kind other than I)"},
	    {30, 6, 0, 5,
	     "t: byte 29 (record 5): the trailer says 6 records, but 5 came before it"},
	    {-1, 0, 1, 5,
	     "t: byte 29 (record 5): expected the 8-byte record count after the end marker, found "
	     "the end of the file"},
	    {-1, 0, 9, 5,
	     "t: byte 29 (record 5): expected a record or the end marker, found the end of the "
	     "file "
	     "(the trace is cut short)"},
	    {-1, 0, 10, 4,
	     "t: byte 28 (record 4): expected the rest of the record, found the end of the file "
	     "(the trace is cut short)"},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++) {
		memcpy(bad, good, len);
		if (cases[i].at >= 0)
			bad[cases[i].at] = cases[i].to;
		read_all(bad, len - cases[i].cut, KMM_MEMTRACE_AUTO, &count, msg, sizeof(msg));
		if (strcmp(msg, cases[i].msg))
			fprintf(stderr, "case %zu\n", i);
		expect_str_eq(msg, cases[i].msg);
		expect_u64_eq(count, cases[i].count);
	}
	/* Bytes after the trailer. */
	memcpy(bad, good, len);
	bad[len] = 7;
	read_all(bad, len + 1, KMM_MEMTRACE_BINARY, &count, msg, sizeof(msg));
	expect_str_eq(msg, "t: byte 38 (record 5): expected the end of the file after the trailer, "
			   "found more bytes");
	/* A varint that never ends. */
	memcpy(bad, good, 16);
	bad[16] = 4; /* I, size 1 */
	memset(bad + 17, 0xff, 40);
	read_all(bad, 57, KMM_MEMTRACE_BINARY, &count, msg, sizeof(msg));
	expect_str_eq(msg, "t: byte 17 (record 0): expected an address delta of at most 10 varint "
			   "bytes, found a longer one");
	/* Not binary at all, read as binary. */
	read_all("I  10,4\n", 8, KMM_MEMTRACE_BINARY, &count, msg, sizeof(msg));
	expect_str_eq(msg, "t: not a kmm binary trace (expected the 16-byte header starting "
			   "\\x89KMMTRC, found a shorter file)");
}

/* A real program's trace: valgrind's own instruction count must match. */
static void test_valgrind_true(void)
{
	char trace[300], cmd[600];
	if (system("valgrind --version >/dev/null 2>&1")) {
		printf("  skipped: valgrind is not installed (apt-get install valgrind)\n");
		return;
	}
	snprintf(trace, sizeof(trace), "%s/true.lackey", tmpdir);
	snprintf(cmd, sizeof(cmd), "valgrind --tool=lackey --trace-mem=yes /bin/true 2>%s", trace);
	int st = system(cmd);
	expect_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* "==PID==   guest instrs:  131,162" */
	FILE *f = fopen(trace, "r");
	expect_ptr_not_null(f);
	char line[256];
	uint64_t instrs = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "guest instrs:");
		if (p && line[0] == '=')
			for (p += 13; *p && *p != '\n'; p++)
				if (*p >= '0' && *p <= '9')
					instrs = instrs * 10 + (uint64_t)(*p - '0');
	}
	fclose(f);
	struct counts c;
	expect_int_eq(count_trace(trace, KMM_MEMTRACE_AUTO, 64, &c, NULL, 0), 0);
	printf("  /bin/true: %llu records, %llu instructions (valgrind says %llu)\n",
	       (unsigned long long)c.records, (unsigned long long)c.kind[0],
	       (unsigned long long)instrs);
	expect_u64_gt(instrs, 1000);
	expect_u64_eq(c.kind[KMM_MEMTRACE_INSTR], instrs);
	/* And through the binary format, the same counts. */
	char bin[300];
	struct counts b;
	snprintf(bin, sizeof(bin), "%s/true.kmt", tmpdir);
	expect_int_eq(convert(trace, KMM_MEMTRACE_AUTO, bin, KMM_MEMTRACE_BINARY), 0);
	expect_int_eq(count_trace(bin, KMM_MEMTRACE_AUTO, 64, &b, NULL, 0), 0);
	expect_int_eq(memcmp(&b, &c, sizeof(b)), 0);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_sample_counts);
	run_test(test_round_trips);
	run_test(test_random_records);
	run_test(test_pages_of_records);
	run_test(test_bad_text);
	run_test(test_bad_binary);
	run_test(test_valgrind_true);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
