/*
 * The workload executor (src/sim/exec.c) on the page allocator: exact
 * figures for allocations, frees, churn and repeat blocks; free pages
 * before and after, against a machine that ran nothing; byte-identical
 * output directories for the same seed; snapshots; what it refuses.
 *
 * Machines are small (64-128 MiB, one or two nodes) so each run boots in
 * milliseconds.
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <errno.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/kmm-exec-test-XXXXXX";

static struct kmm_workload *checked(const char *text)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	if (kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err) ||
	    kmm_workload_check(w, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	return w;
}

/* Run @text; 0 or the run's error (message in @err). */
static int run(const char *text, const struct kmm_sim_opts *o, struct kmm_sim_result *res,
	       struct kmm_error *err)
{
	struct kmm_workload *w = checked(text);
	if (!w)
		return -EINVAL;
	int ret = kmm_workload_run(w, o, res, err);
	kmm_workload_free(w);
	return ret;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The last data row's field @col (0-based) of snapshots.csv in @dir. */
static unsigned long long csv_last(const char *dir, int col)
{
	char path[512];
	size_t len;
	snprintf(path, sizeof(path), "%s/snapshots.csv", dir);
	char *text = slurp(path, &len);
	if (!text)
		return ~0ULL;
	char *line = text + len - 1;
	while (line > text && line[-1] != '\n')
		line--;
	for (int c = 0; c < col && line; c++) {
		line = strchr(line, ',');
		if (line)
			line++;
	}
	unsigned long long v = line ? strtoull(line, NULL, 10) : ~0ULL;
	free(text);
	return v;
}

static const char machine[] = "machine --mem 128M --nodes 2 --cpus 2\n";

/* Allocations, frees and what they leave in the buddy lists, exactly. */
static void test_alloc_free_figures(void)
{
	char text[512], d0[300], d1[300];
	struct kmm_sim_result res;
	struct kmm_error err = {0};
	struct kmm_sim_opts o = {0};
	snprintf(d0, sizeof(d0), "%s/empty", tmpdir);
	snprintf(d1, sizeof(d1), "%s/figures", tmpdir);

	/* Nothing but a drain: the machine's free pages after boot. */
	snprintf(text, sizeof(text), "%sdrain\n", machine);
	o.out_dir = d0;
	expect_int_eq(run(text, &o, &res, &err), 0);
	unsigned long long free0 = csv_last(d0, 4);

	snprintf(text, sizeof(text),
		 "%salloc_pages a order=2 count=100\nalloc_pages b order=0 count=7 cpu=1 node=1\n"
		 "free a count=30 pick=random\ndrain\n",
		 machine);
	o.out_dir = d1;
	expect_int_eq(run(text, &o, &res, &err), 0);
	expect_u64_eq(res.alloc_calls, 107);
	expect_u64_eq(res.alloc_failed, 0);
	expect_u64_eq(res.pages_allocated, 407);
	expect_u64_eq(res.pages_freed, 120);
	expect_u64_eq(res.ops, 4);
	expect_u64_eq(res.snapshots, 1);
	/* 70 blocks of 4 pages and 7 pages are still held. */
	expect_u64_eq(free0 - csv_last(d1, 4), 287);
	expect_u64_eq(csv_last(d1, 7), 287);
}

/* kmalloc and kmem cache objects: counted, freed with their allocator, caches destroyed. */
static void test_slab_figures(void)
{
	char text[1024], dir[300], path[400];
	struct kmm_sim_result res;
	struct kmm_error err = {0};
	struct kmm_sim_opts o = {0};
	snprintf(dir, sizeof(dir), "%s/slab", tmpdir);
	o.out_dir = dir;
	snprintf(text, sizeof(text),
		 "%skmem_cache_create obj size=100 align=8\nkmem_cache_alloc a cache=obj count=300 "
		 "cpu=1\nkmalloc b size=700 count=50\nkmalloc c size=choice(8:1,4096:1) count=100\n"
		 "free a count=100 pick=random cpu=1\nfree b\nsnapshot \"mid\"\nfree a cpu=1\n"
		 "kmem_cache_destroy obj\nvalidate\n",
		 machine);
	expect_int_eq(run(text, &o, &res, &err), 0);
	expect_u64_eq(res.alloc_calls, 450);
	expect_u64_eq(res.objects_allocated, 450);
	expect_u64_eq(res.objects_freed, 350);
	expect_u64_eq(res.pages_allocated, 0);
	/* 300 x 100 + 50 x 700, and 100 objects of 8 or 4096 bytes. */
	uint64_t c = res.bytes_requested - 300 * 100 - 50 * 700;
	expect_u64_eq((100 * 4096 - c) % (4096 - 8), 0);
	expect_u64_le(c, 100 * 4096);
	expect_u64_ge(c, 100 * 8);
	/* At the end only pool c's 100 objects are held; the cache showed in slabinfo, then went. */
	expect_u64_eq(csv_last(dir, 8), 100);
	size_t len;
	snprintf(path, sizeof(path), "%s/proc/0001/slabinfo", dir);
	char *info = slurp(path, &len);
	expect_ptr_not_null(info);
	bool found = strstr(info, "\nobj ") != NULL;
	char *line = strstr(info, "\nobj ");
	unsigned long active = line ? strtoul(line + 5, NULL, 10) : 0;
	free(info);
	expect_true(found);
	/* Objects on a CPU's slab count as active, as in Linux's slabinfo. */
	expect_u64_ge(active, 200);
	snprintf(path, sizeof(path), "%s/proc/0002/slabinfo", dir);
	info = slurp(path, &len);
	expect_ptr_not_null(info);
	found = strstr(info, "\nobj ") != NULL;
	free(info);
	expect_false(found);
}

/* Each churn step frees or allocates exactly one block. */
static void test_churn_steps(void)
{
	char text[512];
	struct kmm_sim_result res;
	struct kmm_error err = {0};
	for (unsigned int pct = 0; pct <= 100; pct += 25) {
		snprintf(text, sizeof(text),
			 "%salloc_pages p order=uniform(0,3) count=10\nchurn p steps=1000 "
			 "free=%u%%\n",
			 machine, pct);
		expect_int_eq(run(text, NULL, &res, &err), 0);
		expect_u64_eq(res.alloc_failed, 0);
		uint64_t churn_allocs = res.alloc_calls - 10;
		expect_u64_eq(churn_allocs + res.blocks_freed, 1000);
		if (pct == 0)
			expect_u64_eq(res.blocks_freed, 0);
		/* Always free when there is a block: the 10 first, then alternate. */
		if (pct == 100)
			expect_u64_eq(res.blocks_freed, 505);
	}
}

/* Repeat blocks run their bodies the number of times they say, nested too. */
static void test_repeat_counts(void)
{
	static const struct {
		const char *body;
		uint64_t calls, ops;
	} cases[] = {
	    {"repeat 3\n alloc_pages p count=2\nend\n", 6, 3},
	    {"repeat 2\n repeat 3\n  alloc_pages p\n end\n alloc_pages q count=5\nend\n", 16, 8},
	    {"repeat 0\n alloc_pages p\nend\nalloc_pages q\n", 1, 1},
	    {"phase a\n repeat 4\n  alloc_pages p\n  free p\n end\nend\n", 4, 8},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++) {
		char text[512];
		struct kmm_sim_result res;
		struct kmm_error err = {0};
		snprintf(text, sizeof(text), "%s%s", machine, cases[i].body);
		expect_int_eq(run(text, NULL, &res, &err), 0);
		expect_u64_eq(res.alloc_calls, cases[i].calls);
		expect_u64_eq(res.ops, cases[i].ops);
	}
}

/* A request the machine cannot meet is counted, and the run goes on. */
static void test_failures_counted(void)
{
	static const char text[] =
	    "machine --mem 64M --nodes 1 --cpus 1\n"
	    "alloc_pages big order=10 count=100 gfp=GFP_KERNEL|__GFP_NOWARN\n"
	    "free big\nvalidate\n";
	struct kmm_sim_result res;
	struct kmm_error err = {0};
	expect_int_eq(run(text, NULL, &res, &err), 0);
	expect_u64_eq(res.alloc_calls, 100);
	/* 64 MiB holds at most 16 blocks of 4 MiB, fewer after the kernel's share. */
	expect_u64_gt(res.alloc_failed, 84);
	expect_u64_lt(res.alloc_failed, 100);
	expect_u64_eq(res.pages_allocated, (100 - res.alloc_failed) * 1024);
	expect_u64_eq(res.pages_freed, res.pages_allocated);
}

static bool same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	bool same = x && y && la == lb && !memcmp(x, y, la);
	if (!same)
		fprintf(stderr, "differ: %s %s\n", a, b);
	free(x);
	free(y);
	return same;
}

/* Same workload, same seed: the same output directory, byte for byte. */
static void test_deterministic_output(void)
{
	static const char *const views[] = {"buddyinfo", "zoneinfo", "pagetypeinfo",
					    "meminfo",	 "vmstat",   "kmmstat"};
	char text[1024], dirs[3][300], a[400], b[400];
	struct kmm_sim_result res[3];
	struct kmm_error err = {0};
	snprintf(text, sizeof(text),
		 "%sphase one\n alloc_pages p order=choice(0:8,1:1,4:1) count=3000\n"
		 " alloc_pages q order=uniform(0,5) count=300 cpu=1\nend\nphase two\n repeat 5\n"
		 "  churn p steps=3000 free=50%%\n  churn q steps=100 cpu=1\n end\n snapshot "
		 "\"x\"\n free p pick=random\nend\n",
		 machine);
	for (int i = 0; i < 3; i++) {
		struct kmm_sim_opts o = {0};
		snprintf(dirs[i], sizeof(dirs[i]), "%s/det%d", tmpdir, i);
		o.out_dir = dirs[i];
		o.snapshot_every = i == 2 ? 5 : 0;
		expect_int_eq(run(text, &o, &res[i], &err), 0);
	}
	expect_u64_eq(res[0].snapshots, 4); /* two phase ends, "x", the end */
	expect_u64_eq(res[1].snapshots, 4);
	expect_u64_eq(res[2].snapshots, 6); /* and after operations 5 and 10 of 14 */
	expect_u64_eq(res[0].pages_allocated, res[1].pages_allocated);
	for (unsigned int s = 1; s <= 4; s++)
		for (size_t v = 0; v < KMM_ARRAY_SIZE(views); v++) {
			snprintf(a, sizeof(a), "%s/proc/%04u/%s", dirs[0], s, views[v]);
			snprintf(b, sizeof(b), "%s/proc/%04u/%s", dirs[1], s, views[v]);
			expect_true(same_file(a, b));
		}
	snprintf(a, sizeof(a), "%s/snapshots.csv", dirs[0]);
	snprintf(b, sizeof(b), "%s/snapshots.csv", dirs[1]);
	expect_true(same_file(a, b));
	snprintf(a, sizeof(a), "%s/summary.txt", dirs[0]);
	snprintf(b, sizeof(b), "%s/summary.txt", dirs[1]);
	expect_true(same_file(a, b));
	/* Every snapshot holds every view. */
	for (unsigned int s = 1; s <= 6; s++) {
		struct stat st;
		snprintf(a, sizeof(a), "%s/proc/%04u/zoneinfo", dirs[2], s);
		expect_int_eq(stat(a, &st), 0);
		expect_u64_gt(st.st_size, 100);
	}
}

/* A different seed draws different orders. */
static void test_seed_changes_draws(void)
{
	static const char text[] = "machine --mem 128M --nodes 1 --cpus 1\n"
				   "alloc_pages p order=uniform(0,6) count=500\n";
	struct kmm_sim_result r1, r2;
	struct kmm_error err = {0};
	struct kmm_workload *w = checked(text);
	expect_ptr_not_null(w);
	kmm_workload_set_seed(w, 1);
	expect_int_eq(kmm_workload_run(w, NULL, &r1, &err), 0);
	kmm_workload_set_seed(w, 2);
	expect_int_eq(kmm_workload_run(w, NULL, &r2, &err), 0);
	kmm_workload_free(w);
	expect_u64_ne(r1.pages_allocated, r2.pages_allocated);
}

/* What the executor refuses, before booting anything. */
/*
 * write/read of a file larger than RAM: every page read back is checked
 * against what was written (zeros where nothing was); the pages moved are
 * counted as accesses, reclaim ran, in both modes.
 */
static void test_file_io(void)
{
	static const char text[] = "machine --mem 64M --nodes 1 --cpus 2\n"
				   "file data size=96M\n"
				   "spawn t\n"
				   "spawn u cpu=1\n"
				   "t: write data[0..64M]\n"
				   "t: read data\n"
				   "u: write data[64M..] chunk=64K\n"
				   "u: read data chunk=128K\n"
				   "t: mmap m 4M file=data shared\n"
				   "t: touch m write random count=100\n"
				   "u: read data[0..8M] chunk=4K\n"
				   "validate\n";
	for (int conc = 0; conc < 2; conc++) {
		struct kmm_sim_opts o = {.concurrent = conc};
		struct kmm_sim_result res = {0};
		struct kmm_error err = {0};
		int ret = run(text, &o, &res, &err);
		if (ret)
			fprintf(stderr, "%s\n", err.msg);
		expect_int_eq(ret, 0);
		/* 16384 + 24576 + 8192 + 24576 + 2048 pages by write and read, 100 touched. */
		expect_u64_eq(res.accesses, 75776 + 100);
		expect_u64_ge(res.pgsteal, 24576);
		expect_u64_eq(res.oom_faults, 0);
	}
}

/* Faults of a run of "machine, spawn t" plus @body (deterministic). */
static struct kmm_sim_result faults_of(const char *body)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "machine --mem 32M --nodes 1 --cpus 1\nswap s size=128M\nspawn t\n%s", body);
	struct kmm_sim_opts o = {0};
	struct kmm_sim_result res = {0};
	struct kmm_error err = {0};
	if (run(text, &o, &res, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		res.pgfault = ~0ULL;
	}
	return res;
}

/*
 * mlock, mlock onfault, mlockall and munlockall in workloads: locking
 * faults a region in at once (1024 faults for 4 MiB), onfault does not, a
 * locked region survives pressure (touching it again takes no fault at
 * all), an unlocked one does not.
 */
static void test_mlock(void)
{
	static const char map[] = "t: mmap l 4M\n";
	uint64_t plain = faults_of("t: mmap l 4M\nt: touch l[0..1M] write\n").pgfault;
	expect_u64_eq(
	    faults_of("t: mmap l 4M\nt: mlock l onfault\nt: touch l[0..1M] write\n").pgfault,
	    plain);
	expect_u64_eq(faults_of("t: mmap l 4M\nt: mlock l\nt: touch l[0..1M] write\n").pgfault,
		      plain + 768);
	uint64_t mapped = faults_of(map).pgfault;
	expect_u64_eq(faults_of("t: mlockall future\nt: mmap l 4M\n").pgfault, mapped + 1024);
	expect_u64_eq(faults_of("t: mlockall future onfault\nt: mmap l 4M\n").pgfault, mapped);
	expect_u64_eq(faults_of("t: mlockall future\nt: munlockall\nt: mmap l 4M\n").pgfault,
		      mapped);

	static const char pressure[] = "t: mmap h 40M\nt: touch h write\n";
	static const char again[] = "t: touch l read\n";
	char a[256], b[512];
	snprintf(a, sizeof(a), "%st: mlock l\n%s", map, pressure);
	snprintf(b, sizeof(b), "%s%s", a, again);
	struct kmm_sim_result before = faults_of(a), after = faults_of(b);
	expect_u64_ge(before.pswpout, 1024);
	expect_u64_eq(after.pgfault, before.pgfault);
	expect_u64_eq(after.pgmajfault, before.pgmajfault);
	snprintf(a, sizeof(a), "%st: touch l write\n%s", map, pressure);
	snprintf(b, sizeof(b), "%s%s", a, again);
	before = faults_of(a);
	after = faults_of(b);
	expect_u64_ge(after.pgmajfault, before.pgmajfault + 1);
}

static void test_refusals(void)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	static const char vm[] = "spawn t\n";
	expect_int_eq(kmm_workload_parse(vm, strlen(vm), "w.kmm", &w, &err), 0);
	/* Not checked yet. */
	expect_int_eq(kmm_workload_run(w, NULL, NULL, &err), -EINVAL);
	expect_str_eq(err.msg, "w.kmm: the workload must be checked before it runs");
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_int_eq(kmm_workload_run(w, NULL, NULL, &err), 0);
	kmm_workload_free(w);

	/* An output directory that cannot be made. */
	struct kmm_sim_opts o = {.out_dir = "/proc/kmm-cannot-exist/out"};
	expect_int_eq(run("alloc_pages p\n", &o, NULL, &err) < 0, 1);
	expect_str_contains(err.msg, "/proc/kmm-cannot-exist");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	run_test(test_alloc_free_figures);
	run_test(test_slab_figures);
	run_test(test_churn_steps);
	run_test(test_repeat_counts);
	run_test(test_failures_counted);
	run_test(test_deterministic_output);
	run_test(test_seed_changes_draws);
	run_test(test_refusals);
	run_test(test_file_io);
	run_test(test_mlock);
	kmm_test_remove_dir(tmpdir);
	return kmm_test_done();
}
