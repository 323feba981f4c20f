/*
 * The kmm command-line program, end to end: the built binary is run through
 * the shell and its output and exit status checked, as a user would see
 * them. Covers the help texts, `kmm boot` views and errors, `kmm pages`
 * scripts (allocations, buddyinfo before and after, script errors, trace
 * events), and a twin booted from a real Linux 6.1 boot log.
 *
 * Each case starts one to three short processes; the whole file runs in
 * about a second.
 */
#include "e2e/e2e_util.h"
#include "kmm_test.h"
#include <kmm/kmm.h>
#include <regex.h>
#include <stdarg.h>
#include <sys/wait.h>

/*
 * Run "kmm ARGS" through the shell. With @with_stderr, stderr is captured
 * too (after stdout's text, as the shell interleaves it); otherwise it goes
 * to /dev/null.
 */
__attribute__((format(printf, 2, 3))) static struct result kmm(bool with_stderr, const char *fmt,
							       ...)
{
	char args[2048], cmd[2300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s %s", KMM, args, with_stderr ? "2>&1" : "2>/dev/null");
	return e2e_run(cmd);
}

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE))
		return false;
	bool ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static bool file_exists(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f)
		fclose(f);
	return f != NULL;
}

/* --- Help ------------------------------------------------------------------------- */

static void test_help(void)
{
	struct result r = kmm(true, "--help");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "usage: kmm COMMAND");
	expect_str_contains(r.out, "boot");
	expect_str_contains(r.out, "pages");
	free(r.out);

	r = kmm(true, "%s", "");
	expect_int_eq(r.status, 2);
	free(r.out);
	r = kmm(true, "frobnicate");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "unknown command 'frobnicate'");
	free(r.out);
}

/* Every option kmm_config_help() documents is in the help of both commands. */
static void test_help_lists_machine_options(void)
{
	const char *cmds[] = {"boot", "pages"};
	for (int c = 0; c < 2; c++) {
		struct result r = kmm(true, "%s --help", cmds[c]);
		expect_int_eq(r.status, 0);
		int options = 0;
		for (const char *p = kmm_config_help(); (p = strstr(p, "\n  --")); p++) {
			char opt[64];
			size_t n = strcspn(p + 3, " \n");
			snprintf(opt, sizeof(opt), "%.*s", (int)n, p + 3);
			expect_str_contains(r.out, opt);
			options++;
		}
		expect_u64_ge(options, 20);
		free(r.out);
	}
	struct result r = kmm(true, "boot --help");
	expect_str_contains(r.out, "--show VIEW");
	expect_str_contains(r.out, "--sysctl");
	free(r.out);
	r = kmm(true, "pages --help");
	const char *words[] = {"alloc ORDER", "free NAME", "free all",	"bulk N",
			       "drain",	      "show VIEW", "sysctl",	"fail SPEC",
			       "validate",    "cpu N",	   "echo TEXT", "Example:"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		expect_str_contains(r.out, words[i]);
	free(r.out);
}

/* --- kmm boot --------------------------------------------------------------------- */

/* The default machine's populated zones, counted in the library itself. */
static int populated_zones_of_default_machine(void)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m)
		return -1;
	int n = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			n += m->node_data[nid]->node_zones[z].present_pages != 0;
	kmm_machine_destroy(m);
	return n;
}

static void test_boot_buddyinfo_shape(void)
{
	struct result r = kmm(false, "boot --quiet --show buddyinfo");
	expect_int_eq(r.status, 0);
	int lines = 0;
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		/* Linux: "Node %d, zone %8s " then "%6lu " for each of the 11 orders. */
		if (!matches(line, "^Node [0-9]+, zone [ A-Za-z0-9]{8} ( {0,5}[0-9]+ ){11}$")) {
			KMM_EXPECT_FAIL_("not a buddyinfo line: \"%s\"", line);
			return;
		}
		lines++;
	}
	expect_int_eq(lines, populated_zones_of_default_machine());
	expect_int_eq(lines, 4);
	free(r.out);
}

static void test_boot_errors(void)
{
	struct result r = kmm(true, "boot --mem 1M");
	expect_true(r.status == 1 || r.status == 2);
	expect_str_contains(r.out, "--mem");
	free(r.out);

	r = kmm(true, "boot --no-such-option");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "--no-such-option");
	free(r.out);

	r = kmm(true, "boot --quiet --show nonsense");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "nonsense");
	free(r.out);
}

/* Extract the lines after "Zone ranges:" of a boot log, without timestamps. */
static void zone_ranges(const char *log, char *out, size_t len)
{
	out[0] = '\0';
	const char *p = strstr(log, "Zone ranges:");
	if (!p)
		return;
	p = strchr(p, '\n');
	size_t n = 0;
	while (p && *++p) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		const char *text = p;
		if (*text == '[') {
			const char *close = memchr(text, ']', l);
			if (close)
				text = close + 2;
		}
		size_t tl = l - (size_t)(text - p);
		if (tl && text[tl - 1] == '\r')
			tl--;
		/* The zones are the indented lines. */
		if (tl < 2 || text[0] != ' ' || text[1] != ' ')
			break;
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%.*s\n", (int)tl, text);
		p = eol;
	}
}

static void test_boot_from_dmesg_matches_oracle(void)
{
	const char *path = KMM_ORACLE_DIR "/linux-6.1/e_4G_numa2/dmesg.txt";
	if (!file_exists(path)) {
		printf("skipped: %s is missing\n", path);
		return;
	}
	FILE *f = fopen(path, "r");
	static char oracle[1 << 20];
	size_t n = fread(oracle, 1, sizeof(oracle) - 1, f);
	oracle[n] = '\0';
	fclose(f);

	struct result r = kmm(false, "boot --from-dmesg %s", path);
	expect_int_eq(r.status, 0);
	char want[2048], got[2048];
	zone_ranges(oracle, want, sizeof(want));
	zone_ranges(r.out, got, sizeof(got));
	expect_str_contains(want, "DMA32");
	expect_str_eq(got, want);
	free(r.out);
}

/* --- kmm pages -------------------------------------------------------------------- */

struct buddyinfo {
	int nr;
	int node[16];
	char zone[16][16];
	unsigned long count[16][11];
};

/* Parse the buddyinfo view that follows the @nth "==> /proc/buddyinfo <==" header. */
static bool parse_buddyinfo(const char *out, int nth, struct buddyinfo *bi)
{
	const char *p = out;
	for (int i = 0; i <= nth; i++) {
		p = strstr(p, "==> /proc/buddyinfo <==\n");
		if (!p)
			return false;
		p += strlen("==> /proc/buddyinfo <==\n");
	}
	bi->nr = 0;
	while (!strncmp(p, "Node ", 5) && bi->nr < 16) {
		unsigned long *c = bi->count[bi->nr];
		int used = 0;
		if (sscanf(p, "Node %d, zone %15s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu%n",
			   &bi->node[bi->nr], bi->zone[bi->nr], &c[0], &c[1], &c[2], &c[3], &c[4],
			   &c[5], &c[6], &c[7], &c[8], &c[9], &c[10], &used) != 13)
			return false;
		bi->nr++;
		p = strchr(p + used, '\n');
		if (!p)
			break;
		p++;
	}
	return bi->nr > 0;
}

static int find_zone(const struct buddyinfo *bi, int node, const char *zone)
{
	for (int i = 0; i < bi->nr; i++)
		if (bi->node[i] == node && !strcmp(bi->zone[i], zone))
			return i;
	return -1;
}

static void test_pages_alloc_changes_buddyinfo(void)
{
	struct result r = kmm(false, "pages -e 'show buddyinfo; alloc 10 x2; show buddyinfo' "
				     "-e 'free a1 a2; show buddyinfo; validate'");
	expect_int_eq(r.status, 0);
	regex_t re;
	expect_int_eq(regcomp(&re,
			      "^a([12]): pfn 0x([0-9a-f]+) order 10 node ([0-9]+) zone "
			      "(DMA32|Normal) gfp GFP_KERNEL$",
			      REG_EXTENDED | REG_NEWLINE),
		      0);
	unsigned long pfn[2] = {0, 0};
	char zone[2][8] = {"", ""};
	int node[2] = {-1, -1};
	const char *p = r.out;
	for (int i = 0; i < 2; i++) {
		regmatch_t all[5];
		if (regexec(&re, p, 5, all, 0)) {
			regfree(&re);
			KMM_EXPECT_FAIL_("no allocation line a%d in:\n%s", i + 1, r.out);
			return;
		}
		int idx = (int)strtol(p + all[1].rm_so, NULL, 10) - 1;
		expect_int_eq(idx, i);
		pfn[i] = strtoul(p + all[2].rm_so, NULL, 16);
		node[i] = (int)strtol(p + all[3].rm_so, NULL, 10);
		snprintf(zone[i], sizeof(zone[i]), "%.*s", (int)(all[4].rm_eo - all[4].rm_so),
			 p + all[4].rm_so);
		p += all[0].rm_eo;
	}
	regfree(&re);
	/* Two distinct, naturally aligned blocks from node 0's first zone. */
	expect_u64_eq(pfn[0] % 1024, 0);
	expect_u64_eq(pfn[1] % 1024, 0);
	expect_u64_ne(pfn[0], pfn[1]);
	expect_int_eq(node[0], 0);
	expect_str_eq(zone[0], zone[1]);

	struct buddyinfo before, after, freed;
	expect_true(parse_buddyinfo(r.out, 0, &before));
	expect_true(parse_buddyinfo(r.out, 1, &after));
	expect_true(parse_buddyinfo(r.out, 2, &freed));
	int z = find_zone(&before, 0, zone[0]);
	expect_true(z >= 0);
	expect_u64_eq(after.count[z][10], before.count[z][10] - 2);
	/* Nothing else moved; and freeing them puts everything back. */
	for (int i = 0; i < before.nr; i++)
		for (int o = 0; o < 11; o++) {
			if (i != z || o != 10)
				check_u64_eq(after.count[i][o], before.count[i][o]);
			check_u64_eq(freed.count[i][o], before.count[i][o]);
		}
	expect_str_contains(r.out, "validate: all invariants hold");
	free(r.out);
}

/* Both buddy designs make the same decisions: the same script prints the same text. */
static void test_pages_designs_agree(void)
{
	const char *script = "-e 'alloc 0 x3; alloc 4 GFP_DMA32; alloc 2 node 1; free a2' "
			     "-e 'alloc 1 GFP_ATOMIC; free all; show buddyinfo'";
	struct result a = kmm(false, "pages --buddy pageflag %s", script);
	struct result b = kmm(false, "pages --buddy bitmap %s", script);
	expect_int_eq(a.status, 0);
	expect_int_eq(b.status, 0);
	expect_str_contains(a.out, "a5: pfn ");
	expect_str_contains(a.out, "free all: 5 blocks, 24 pages");
	expect_str_eq(a.out, b.out);
	free(a.out);
	free(b.out);
}

static void test_pages_failures_continue(void)
{
	struct result r =
	    kmm(false, "pages -e 'fail nth=2; alloc 0 x3; fail off' "
		       "-e 'alloc 10 GFP_DMA|__GFP_NOWARN x4; free a1-a3; echo done'");
	expect_int_eq(r.status, 0);
	expect_true(matches(r.out, "^a1: pfn 0x[0-9a-f]+ order 0 "));
	expect_true(matches(r.out, "^a2: NULL: order 0 gfp GFP_KERNEL: failed by fault injection"));
	expect_true(matches(r.out, "^a3: pfn 0x[0-9a-f]+ order 0 "));
	/* The DMA zone has three order-10 blocks: the fourth fails and says why. */
	expect_true(matches(r.out, "^a7: NULL: order 10 gfp GFP_DMA\\|__GFP_NOWARN: no allowed "
				   "zone has a free block of order >= 10"));
	expect_true(matches(r.out, "^free a2: nothing to free"));
	expect_true(matches(r.out, "^done$"));
	free(r.out);
}

static void test_pages_script_errors(void)
{
	/* A script error stops everything before the machine boots: no output. */
	struct result r = kmm(false, "pages -e 'alloc 3 x2' -e 'free a1; free a3'");
	expect_int_eq(r.status, 1);
	expect_str_eq(r.out, "");
	free(r.out);
	r = kmm(true, "pages -e 'alloc 3 x2' -e 'free a1; free a3'");
	expect_str_contains(r.out, "script:2:15: expected the name of a block");
	expect_str_contains(r.out, "found 'a3'");
	free(r.out);

	r = kmm(true, "pages -e 'alloc 12'");
	expect_int_eq(r.status, 1);
	expect_str_contains(r.out, "script:1:7: expected an order from 0 to 10, found '12'");
	free(r.out);

	r = kmm(true, "pages -e 'alloc 0 node 5'");
	expect_int_eq(r.status, 1);
	expect_str_contains(r.out, "script:1:14: expected a node from 0 to 1, found '5'");
	free(r.out);

	char path[] = "/tmp/kmm_cli_test_XXXXXX";
	int fd = mkstemp(path);
	expect_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("# a script with an error on line 3\nalloc 0\n\tshow buddyinf\n", f);
	fclose(f);
	r = kmm(true, "pages -f %s", path);
	unlink(path);
	expect_int_eq(r.status, 1);
	char want[128];
	snprintf(want, sizeof(want), "%s:3:7: expected a view (", path);
	expect_str_contains(r.out, want);
	expect_str_contains(r.out, "found 'buddyinf'");
	free(r.out);
}

static void test_pages_usage_errors(void)
{
	struct result r = kmm(true, "pages --no-such-option -e drain");
	expect_int_eq(r.status, 2);
	free(r.out);
	r = kmm(true, "pages -f /nonexistent/script.txt");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "/nonexistent/script.txt");
	free(r.out);
	r = kmm(true, "pages -e");
	expect_int_eq(r.status, 2);
	free(r.out);
	r = kmm(true, "pages --mem 4M --nodes 9 -e drain");
	expect_true(r.status == 1 || r.status == 2);
	free(r.out);
}

/* A script on stdin, per-CPU lists, bulk and drain. */
static void test_pages_stdin_cpu_bulk_drain(void)
{
	struct result r = kmm(false, "pages < /dev/null");
	expect_int_eq(r.status, 0);
	free(r.out);
	r = kmm(false, "pages -e 'cpu 1; bulk 8; alloc 0 cpu 3; drain; show kmmstat'");
	expect_int_eq(r.status, 0);
	expect_true(matches(r.out, "^cpu 1 \\(node 0\\)$"));
	expect_true(matches(r.out, "^b1: 8 of 8 pages node 0 zone [A-Za-z0-9]+ gfp GFP_KERNEL "
				   "cpu 1 pfns 0x"));
	expect_true(matches(r.out, "^a1: pfn 0x[0-9a-f]+ order 0 node 1 zone [A-Za-z0-9]+ gfp "
				   "GFP_KERNEL cpu 3$"));
	expect_true(matches(r.out, "^drain: [1-9][0-9]* pages from the per-CPU lists"));
	expect_true(matches(r.out, "^pcp_alloc_refill [1-9]"));
	free(r.out);
}

/* --trace prints Linux's ftrace lines among the script's; --trace-out writes a trace file. */
static void test_pages_trace(void)
{
	struct result r = kmm(false, "pages --mem 64M --nodes 1 --cpus 1 --trace "
				     "mm_page_alloc,mm_page_free -e 'alloc 3; free a1'");
	expect_int_eq(r.status, 0);
	const char *line_re =
	    "^             kmm-1       \\[000\\] \\.\\.\\.\\.\\. +[0-9]+\\.[0-9]{6}: "
	    "mm_page_alloc: page=ffffea[0-9a-f]{10} pfn=0x[0-9a-f]+ order=3 "
	    "migratetype=0 gfp_flags=GFP_KERNEL$";
	expect_true(matches(r.out, line_re));
	/* The trace line comes before the script's, and both name the same page. */
	unsigned long long page = 0;
	unsigned long pfn = 0, pfn2 = 0;
	const char *t = strstr(r.out, "mm_page_alloc: page=");
	const char *a = strstr(r.out, "a1: pfn ");
	expect_true(t && a && t < a);
	expect_int_eq(sscanf(t, "mm_page_alloc: page=%llx pfn=%lx", &page, &pfn), 2);
	expect_int_eq(sscanf(a, "a1: pfn %lx", &pfn2), 1);
	expect_u64_eq(pfn, pfn2);
	expect_x64_eq(page, 0xffffea0000000000ULL + 64ULL * pfn);
	expect_true(
	    matches(r.out, "mm_page_free: page=ffffea[0-9a-f]{10} pfn=0x[0-9a-f]+ order=3$"));
	free(r.out);

	char path[] = "/tmp/kmm-e2e-trace-XXXXXX";
	int fd = mkstemp(path);
	expect_true(fd >= 0);
	close(fd);
	r = kmm(false,
		"pages --mem 256M --nodes 1 --cpus 2 --trace-out %s -e 'cpu 0; alloc 0; free a1; "
		"drain'",
		path);
	expect_int_eq(r.status, 0);
	expect_true(!strstr(r.out, "mm_page_"));
	free(r.out);
	FILE *f = fopen(path, "r");
	expect_ptr_not_null(f);
	static char text[1 << 16];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	unlink(path);
	expect_true(!strncmp(text, "# tracer: nop\n#\n# entries-in-buffer/entries-written: ", 51));
	expect_true(matches(text, "^# entries-in-buffer/entries-written: ([0-9]+)/\\1   #P:2$"));
	expect_true(
	    matches(text, " d\\.\\.3\\. +[0-9.]+: mm_page_alloc_zone_locked: .* percpu_refill=1$"));
	expect_true(matches(text, ": mm_page_alloc: .* gfp_flags=GFP_KERNEL$"));
	expect_true(matches(text, ": mm_page_pcpu_drain: page=ffffea"));

	r = kmm(true, "pages --trace 'mm_page_alocc' -e 'alloc 0'");
	expect_int_eq(r.status, 2);
	expect_true(matches(r.out, "^kmm: trace events: 'mm_page_alocc' matches no event; they are "
				   "kmem: mm_page_\\{alloc,"));
	free(r.out);
	r = kmm(true, "pages --trace-out /nonexistent/t.txt -e 'alloc 0'");
	expect_int_eq(r.status, 2);
	expect_true(matches(r.out, "^kmm: cannot create the trace file /nonexistent/t.txt: "));
	free(r.out);
}

/* --- Slab ------------------------------------------------------------------------- */

static void test_slabinfo_and_slabtop(void)
{
	struct result r = kmm(false, "boot --quiet --mem 256M --nodes 1 --cpus 2 --show slabinfo");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "slabinfo - version: 2.1\n# name            <active_objs>");
	/* Linux's columns: "%-17s %6lu %6lu %6u %4u %4d : tunables ... : slabdata ..." */
	expect_true(matches(r.out, "^kmalloc-8k +[0-9]+ +[0-9]+ +8192 +4 +8 : tunables +0 +0 +0 "
				   ": slabdata +[0-9]+ +[0-9]+ +0$"));
	expect_true(matches(r.out, "^kmem_cache_node +[0-9]+ +[0-9]+ +64 +64 +1 :"));
	free(r.out);

	r = kmm(false, "slabtop --mem 256M --nodes 1 --cpus 2 --kmalloc 100x5000 "
		       "--cache dentry:192x3000 --lines 2");
	expect_int_eq(r.status, 0);
	expect_str_contains(r.out, "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n");
	/*
	 * 5000 of 128 bytes need 157 slabs of 32; 3000 of 192, 143 slabs of 21.
	 * The CPU slab's free objects count as active, as in Linux.
	 */
	expect_true(
	    matches(r.out, "^ +[0-9]+ +[0-9]+ +[0-9]+% +0.12K +157 +32 +628K kmalloc-128$"));
	expect_true(matches(r.out, "^ +3003 +3003 +100% +0.19K +143 +21 +572K dentry$"));

	free(r.out);

	r = kmm(false, "slabtop --quiet --mem 64M --sort n --lines 1");
	expect_int_eq(r.status, 0);
	expect_true(matches(r.out, "anon_vma$")); /* first by name, as in Linux */
	free(r.out);

	r = kmm(true, "slabtop --kmalloc 64by10");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "expected SIZExCOUNT");
	free(r.out);
	r = kmm(true, "slabtop --sort q");
	expect_int_eq(r.status, 2);
	expect_str_contains(r.out, "--sort q");
	free(r.out);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	if (!file_exists(KMM)) {
		fprintf(stderr, "%s is not built\n", KMM);
		return 1;
	}
	run_test(test_help);
	run_test(test_help_lists_machine_options);
	run_test(test_boot_buddyinfo_shape);
	run_test(test_boot_errors);
	run_oracle_test(test_boot_from_dmesg_matches_oracle);
	run_test(test_pages_alloc_changes_buddyinfo);
	run_test(test_pages_designs_agree);
	run_test(test_pages_failures_continue);
	run_test(test_pages_script_errors);
	run_test(test_pages_usage_errors);
	run_test(test_pages_stdin_cpu_bulk_drain);
	run_test(test_pages_trace);
	run_test(test_slabinfo_and_slabtop);
	return kmm_test_done();
}
