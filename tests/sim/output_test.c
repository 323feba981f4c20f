/*
 * The simulator's tasks and its output directory: task operations with
 * exact figures read back from timeseries.csv (faults, anonymous pages,
 * page tables at each snapshot); every page a zipf touch picks lies in
 * its range and the first pages are the most popular; byte-identical
 * output directories for the same seed (timing.txt aside), trace and
 * report included; report.html self-contained; kmm_workload_compare's
 * rows on a small workload; out-of-memory counted or fatal
 * (--fail-on-oom).
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/kmm-output-test-XXXXXX";

static int run_text(const char *text, const struct kmm_sim_opts *o, struct kmm_sim_result *res,
		    struct kmm_error *err)
{
	struct kmm_workload *w;
	int ret = kmm_workload_parse(text, strlen(text), "w.kmm", &w, err);
	if (ret)
		return ret;
	ret = kmm_workload_check(w, err);
	if (!ret)
		ret = kmm_workload_run(w, o, res, err);
	kmm_workload_free(w);
	return ret;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap + 1);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Field @name of snapshot @snap's row of DIR/timeseries.csv (0: as booted); -1 if missing. */
static long long ts_field(const char *dir, int snap, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/timeseries.csv", dir);
	char *text = slurp(path, NULL);
	if (!text)
		return -1;
	long long ret = -1;
	int col = -1, i = 0;
	char *save, *line = strtok_r(text, "\n", &save);
	char *hsave, *h = strtok_r(line, ",", &hsave);
	for (; h; h = strtok_r(NULL, ",", &hsave), i++)
		if (!strcmp(h, name))
			col = i;
	while (col >= 0 && (line = strtok_r(NULL, "\n", &save))) {
		if (atoi(line) != snap)
			continue;
		/* Fields may be empty (phase, label): split by hand. */
		const char *p = line;
		for (int c = 0; c < col && p; c++) {
			p = strchr(p, ',');
			if (p)
				p++;
		}
		if (p)
			ret = strtoll(p, NULL, 10);
		break;
	}
	free(text);
	return ret;
}

static const char tasks[] = "machine --mem 64M --nodes 1 --cpus 2\n"
			    "spawn t cpu=1\n"
			    "t: mmap a 1M\n"
			    "t: touch a write seq\n"
			    "snapshot \"touched\"\n"
			    "t: touch a read random count=1000\n"
			    "t: fork c\n"
			    "c: touch a[0..256K] write seq\n"
			    "snapshot \"cow\"\n"
			    "c: exit\n"
			    "t: munmap a\n"
			    "snapshot \"unmapped\"\n"
			    "t: brk 64K\n"
			    "t: touch brk write\n"
			    "t: mmap z 4M\n"
			    "t: touch z read zipf(1.2) count=500\n"
			    "t: touch z write stride(64K)\n"
			    "t: mprotect z[0..64K] r\n"
			    "t: madvise z dontneed\n"
			    "validate\n"
			    "t: exec\n"
			    "t: exit\n";

/*
 * 1 MiB is 256 pages: the first write faults each once; reads of resident
 * pages do not fault; the child's writes to the first 64 pages break COW
 * (64 faults, 64 more anonymous pages); after the child exits and the
 * parent unmaps, no anonymous page is left.
 */
static void test_task_figures(void)
{
	char dir[300];
	struct kmm_error err = {0};
	struct kmm_sim_result res;
	snprintf(dir, sizeof(dir), "%s/tasks", tmpdir);
	struct kmm_sim_opts o = {.out_dir = dir};
	expect_int_eq(run_text(tasks, &o, &res, &err), 0);
	expect_u64_eq(res.snapshots, 4);
	expect_u64_eq(res.oom_faults, 0);
	/* 256 + 1000 + 64 + 16 (brk) + 500 (zipf) + 64 (stride). */
	expect_u64_eq(res.accesses, 1900);
	expect_int_eq(ts_field(dir, 0, "ops"), 0);
	expect_int_eq(ts_field(dir, 0, "pgfault"), 0);
	expect_int_eq(ts_field(dir, 0, "nr_anon_pages"), 0);
	expect_int_eq(ts_field(dir, 1, "ops"), 3);
	expect_int_eq(ts_field(dir, 1, "accesses"), 256);
	expect_int_eq(ts_field(dir, 1, "pgfault"), 256);
	expect_int_eq(ts_field(dir, 1, "nr_anon_pages"), 256);
	expect_int_eq(ts_field(dir, 2, "accesses"), 1320);
	expect_int_eq(ts_field(dir, 2, "pgfault"), 320);
	expect_int_eq(ts_field(dir, 2, "nr_anon_pages"), 320);
	expect_int_eq(ts_field(dir, 3, "nr_anon_pages"), 0);
	expect_int_eq(ts_field(dir, 4, "nr_anon_pages"), 0);
	expect_int_eq(ts_field(dir, 4, "nr_page_table_pages"), 0);
	expect_int_eq(ts_field(dir, 4, "ops"), 21);
	/* Free pages per zone and watermarks are there, min < low < high. */
	long long mn = ts_field(dir, 4, "node0_DMA32_min"),
		  lo = ts_field(dir, 4, "node0_DMA32_low");
	long long hi = ts_field(dir, 4, "node0_DMA32_high");
	expect_true(mn > 0 && mn < lo && lo < hi);
	expect_true(ts_field(dir, 4, "node0_DMA32_free") > hi);
}

/* zipf(s) draws pages inside the range, the first ones most often. */
static void test_zipf_skew(void)
{
	char dir[300];
	struct kmm_error err = {0};
	struct kmm_sim_result res;
	snprintf(dir, sizeof(dir), "%s/zipf", tmpdir);
	struct kmm_sim_opts o = {.out_dir = dir};
	/* 4096 pages, 20000 reads: with s = 1.5 only a few hundred distinct pages. */
	static const char text[] = "machine --mem 64M --nodes 1 --cpus 1\n"
				   "spawn t\n"
				   "t: mmap a 16M\n"
				   "t: touch a read zipf(1.5) count=20000\n"
				   "snapshot\n"
				   "t: touch a[0..64K] read\n"
				   "snapshot\n";
	expect_int_eq(run_text(text, &o, &res, &err), 0);
	long long f1 = ts_field(dir, 1, "pgfault"), f2 = ts_field(dir, 2, "pgfault");
	printf("  zipf(1.5): %lld distinct pages of 4096 in 20000 reads\n", f1);
	expect_true(f1 > 50 && f1 < 1000);
	/* The first 16 pages were all touched already. */
	expect_int_eq(f2, f1);
}

/* Every file of @a and @b the same, but timing.txt; returns the files compared. */
static int same_tree(const char *a, const char *b)
{
	DIR *d = opendir(a);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char pa[600], pb[600];
		struct stat st;
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "timing.txt"))
			continue;
		snprintf(pa, sizeof(pa), "%s/%s", a, e->d_name);
		snprintf(pb, sizeof(pb), "%s/%s", b, e->d_name);
		if (stat(pa, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int k = same_tree(pa, pb);
			if (k < 0) {
				closedir(d);
				return -1;
			}
			n += k;
			continue;
		}
		size_t la, lb;
		char *x = slurp(pa, &la), *y = slurp(pb, &lb);
		bool same = x && y && la == lb && !memcmp(x, y, la);
		if (!same)
			fprintf(stderr, "  differs: %s %s\n", pa, pb);
		free(x);
		free(y);
		if (!same) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	return n;
}

static const char mixed[] = "machine --mem 96M --nodes 2 --cpus 2\n"
			    "swap sw size=8M\n"
			    "file data size=2M\n"
			    "spawn a cpu=0\n"
			    "spawn b cpu=1\n"
			    "phase map\n"
			    "  a: mmap heap 8M\n"
			    "  a: touch heap mixed(30%) random count=3000\n"
			    "  b: mmap f 2M file=data shared\n"
			    "  b: touch f read zipf(0.9) count=600\n"
			    "end\n"
			    "phase churn\n"
			    "  repeat 5\n"
			    "    a: fork k\n"
			    "    k: touch heap[0..1M] write random count=100\n"
			    "    kmalloc s size=pow2(32,2048) count=200 cpu=1\n"
			    "    free s count=150 pick=random cpu=1\n"
			    "    k: exit\n"
			    "  end\n"
			    "end\n";

static void test_deterministic_dirs(void)
{
	char d1[300], d2[300];
	struct kmm_error err = {0};
	snprintf(d1, sizeof(d1), "%s/det1", tmpdir);
	snprintf(d2, sizeof(d2), "%s/det2", tmpdir);
	struct kmm_sim_opts o = {.out_dir = d1, .snapshot_every = 3, .trace_events = "kmem:*"};
	struct kmm_sim_result res;
	expect_int_eq(run_text(mixed, &o, &res, &err), 0);
	o.out_dir = d2;
	expect_int_eq(run_text(mixed, &o, NULL, &err), 0);
	int n = same_tree(d1, d2);
	printf("  %d files identical\n", n);
	/* Every 3 operations, at phase ends and at the end: 7 views each, 5 files at the top. */
	expect_u64_eq(res.snapshots, 13);
	expect_int_eq(n, 13 * 7 + 5);
	char path[400];
	static const char *const files[] = {"timeseries.csv", "report.html",   "trace.txt",
					    "summary.txt",    "snapshots.csv", "timing.txt"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(files); i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", d1, files[i]);
		expect_int_eq(stat(path, &st), 0);
	}
	snprintf(path, sizeof(path), "%s/proc/0013/meminfo", d1);
	char *m = slurp(path, NULL);
	expect_ptr_not_null(m);
	expect_str_contains(m, "SwapTotal:          8188 kB\n");
	free(m);
	/* Another seed: another run. */
	snprintf(d2, sizeof(d2), "%s/det3", tmpdir);
	o.out_dir = d2;
	struct kmm_workload *w;
	expect_int_eq(kmm_workload_parse(mixed, strlen(mixed), "w.kmm", &w, &err), 0);
	kmm_workload_set_seed(w, 99);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_int_eq(kmm_workload_run(w, &o, NULL, &err), 0);
	kmm_workload_free(w);
	expect_int_eq(same_tree(d1, d2), -1);
}

/* report.html: one file, nothing fetched, data and every section inside. */
static void test_report_self_contained(void)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/det1/report.html", tmpdir);
	char *h = slurp(path, NULL);
	expect_ptr_not_null(h);
	expect_str_contains(h, "<!DOCTYPE html>");
	/* The only URL is SVG's namespace name, which is never fetched. */
	int urls = 0;
	for (const char *u = h; (u = strstr(u, "http")); u++, urls++)
		expect_true(!strncmp(u, "http://www.w3.org/2000/svg\"", 27));
	expect_int_eq(urls, 1);
	expect_true(!strstr(h, " src=") && !strstr(h, "<link") && !strstr(h, "@import"));
	static const char *const parts[] = {"Free pages per zone",
					    "Memory use",
					    "LRU lists",
					    "Faults, scans and reclaim",
					    "Swap",
					    "Largest slab caches",
					    "Physical memory map",
					    "\"cols\":[\"ops\"",
					    "\"maps\":[{\"sample\":0,\"cells\":\""};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(parts); i++)
		expect_str_contains(h, parts[i]);
	/* Every script closes where it should: the data cannot end a <script>. */
	const char *data = strstr(h, "id=\"data\">");
	expect_ptr_not_null(data);
	const char *end = strstr(data, "</script>");
	expect_true(end && !memchr(data + 10, '<', (size_t)(end - data - 10)));
	free(h);
}

static const char small[] = "machine --mem 64M --nodes 1 --cpus 2\n"
			    "spawn t\n"
			    "t: mmap a 2M\n"
			    "t: touch a write seq\n"
			    "alloc_pages p order=2 count=10\n"
			    "t: exit\n";

static void test_compare_rows(void)
{
	char dir[300], *text = NULL;
	size_t len = 0;
	struct kmm_error err = {0};
	struct kmm_workload *w;
	snprintf(dir, sizeof(dir), "%s/cmp", tmpdir);
	expect_int_eq(kmm_workload_parse(small, strlen(small), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	FILE *out = open_memstream(&text, &len);
	const char *specs[] = {"buddy=pageflag,bitmap"};
	struct kmm_sim_opts o = {.out_dir = dir};
	expect_int_eq(kmm_workload_compare(w, specs, 1, &o, out, &err), 0);
	fclose(out);
	printf("%s", text);
	/* Figures equal in both designs; the bitmaps cost 2.4's bookkeeping only. */
	static const struct {
		const char *label, *a, *b;
	} rows[] = {
	    {"", "buddy=pageflag", "buddy=bitmap"},
	    {"operations", "5", "5"},
	    {"pages touched", "512", "512"},
	    {"page faults", "512", "512"},
	    {"out of memory", "0", "0"},
	    {"page blocks allocated", "10", "10"},
	    {"page tables KiB", "0", "0"},
	    {"buddy bitmaps KiB", "0", "2"},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++) {
		char want[200];
		snprintf(want, sizeof(want), "%s%-24s%22s%22s\n", i ? "\n" : "", rows[i].label,
			 rows[i].a, rows[i].b);
		expect_str_contains(text, want);
	}
	const char *bm = strstr(text, "\nbuddy bitmaps KiB");
	expect_ptr_not_null(bm);
	unsigned long a = 1, b = 0;
	expect_int_eq(sscanf(bm, "\nbuddy bitmaps KiB %lu %lu", &a, &b), 2);
	expect_u64_eq(a, 0);
	/* 64M, one zone of 16384 pages: bits for orders 0..9, rounded to longs. */
	expect_u64_gt(b, 0);
	free(text);
	char path[400];
	snprintf(path, sizeof(path), "%s/report.html", dir);
	char *h = slurp(path, NULL);
	expect_ptr_not_null(h);
	expect_str_contains(h, "<table class=\"cmp\">");
	expect_str_contains(h, "{\"name\":\"buddy=pageflag\"");
	expect_str_contains(h, "{\"name\":\"buddy=bitmap\"");
	free(h);
	snprintf(path, sizeof(path), "%s/buddy=bitmap/timeseries.csv", dir);
	struct stat st;
	expect_int_eq(stat(path, &st), 0);

	/* Bad designs are refused before anything runs. */
	const char *bad[] = {"colour=red"};
	expect_int_eq(kmm_workload_compare(w, bad, 1, &o, NULL, &err), -EINVAL);
	expect_str_contains(err.msg, "--variant colour=red: expected KEY=A,B with KEY one of");
	const char *bad2[] = {"buddy=pageflag,lists"};
	expect_int_eq(kmm_workload_compare(w, bad2, 1, &o, NULL, &err), -EINVAL);
	expect_str_eq(err.msg, "--variant --buddy lists: expected pageflag or bitmap");
	kmm_workload_free(w);
}

/* A machine too small for the task: faults that find no memory. */
static void test_oom(void)
{
	static const char text[] = "machine --mem 16M --nodes 1 --cpus 1\n"
				   "spawn t\n"
				   "t: mmap a 64M\n"
				   "t: touch a write seq\n"
				   "t: exit\n";
	struct kmm_error err = {0};
	struct kmm_sim_result res;
	expect_int_eq(run_text(text, NULL, &res, &err), 0);
	expect_u64_eq(res.oom_faults, 1);
	expect_u64_lt(res.pgfault, 16384);
	struct kmm_sim_opts o = {.fail_on_oom = true};
	expect_int_eq(run_text(text, &o, &res, &err), -ENOMEM);
	expect_str_contains(err.msg, "w.kmm:4:4: out of memory: the machine has no page left for "
				     "touch (--fail-on-oom)");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_task_figures);
	run_test(test_zipf_skew);
	run_test(test_deterministic_dirs);
	run_test(test_report_self_contained);
	run_test(test_compare_rows);
	run_test(test_oom);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
