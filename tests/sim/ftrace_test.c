/*
 * The ftrace formatter against real Linux 6.1 traces, byte for byte.
 *
 * Every event line of the four traces in the pressure oracle
 * (KMM_ORACLE_DIR/linux-6.1-pressure/{a_anon,c_file}/trace*.txt.xz, about
 * 600,000 lines of kmem and vmscan events) is parsed back into the task,
 * CPU, flags, time and the record's fields, formatted again by kmm and
 * compared with the original line. Only two things come from the trace
 * itself: the text of %p pointers (Linux hashes them with a per-boot key,
 * so the test hands the formatter the hash the kernel printed for each
 * pfn and shrinker) and the %pS names of shrinker functions. The default
 * flags column is checked against what Linux shows most of the time.
 *
 * The events the oracle has no lines for (kmalloc, kfree, the node
 * reclaim and throttling events, mm_page_free_batched) are checked
 * against lines written from their 6.1 format strings, and the event
 * globs, the header, raw and hashed pointers, and i386's width separately.
 */
#include "kmm_test.h"
#include <errno.h>
#include <inttypes.h>
#include <kmm/kmm.h>
#include <kmm/ftrace.h>

#define PRESSURE_DIR KMM_ORACLE_DIR "/linux-6.1-pressure"

static struct kmm_machine *boot(const char *options)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	char buf[256], *argv[16];
	int argc = 0;
	kmm_config_init(&cfg);
	cfg.quiet = true;
	snprintf(buf, sizeof(buf), "%s", options);
	for (char *tok = strtok(buf, " "); tok && argc < 16; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (kmm_config_parse_args(&cfg, argc, argv, &err) || kmm_config_finish(&cfg, &err)) {
		fprintf(stderr, "config: %s\n", err.msg);
		return NULL;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m)
		fprintf(stderr, "boot: %s\n", err.msg);
	else
		kmm_wait_for_init(m);
	return m;
}

/* --- What the trace itself supplies: pointer hashes and symbol names -------------- */

#define VMEMMAP	      0xffffea0000000000ULL
#define MAX_PFN	      (1UL << 20)
#define SYNTH_PTR     0x700000000000ULL /* shrinker pointers: SYNTH_PTR + 64 * index */
#define SYNTH_SYM     0x600000000000ULL /* shrinker functions: SYNTH_SYM + 64 * index */
#define MAX_SYNTH     4096
#define PTR_TEXT_SIZE 20

struct env {
	char (*page_ptr)[PTR_TEXT_SIZE]; /* by pfn: the text Linux printed for its struct page */
	char ptrs[MAX_SYNTH][PTR_TEXT_SIZE];
	int nptrs;
	char syms[MAX_SYNTH][64];
	int nsyms;
	unsigned long inconsistent; /* a pfn printed with two different page pointers */
};

static void env_pointer(void *arg, uint64_t addr, char *buf, size_t len)
{
	struct env *e = arg;
	const char *text = "?";
	if (addr >= VMEMMAP && (addr - VMEMMAP) / 64 < MAX_PFN)
		text = e->page_ptr[(addr - VMEMMAP) / 64];
	else if (addr >= SYNTH_PTR && (addr - SYNTH_PTR) / 64 < (uint64_t)e->nptrs)
		text = e->ptrs[(addr - SYNTH_PTR) / 64];
	snprintf(buf, len, "%s", text);
}

static bool env_symbol(void *arg, uint64_t addr, char *buf, size_t len)
{
	struct env *e = arg;
	if (addr < SYNTH_SYM || (addr - SYNTH_SYM) / 64 >= (uint64_t)e->nsyms)
		return false;
	snprintf(buf, len, "%s", e->syms[(addr - SYNTH_SYM) / 64]);
	return true;
}

static uint64_t intern(char *t, int *n, size_t width, const char *s, size_t len, uint64_t base)
{
	for (int i = 0; i < *n; i++)
		if (strlen(t + (size_t)i * width) == len && !memcmp(t + (size_t)i * width, s, len))
			return base + 64 * (uint64_t)i;
	if (*n >= MAX_SYNTH || len >= width)
		return 0;
	memcpy(t + (size_t)*n * width, s, len);
	t[(size_t)*n * width + len] = '\0';
	return base + 64 * (uint64_t)(*n)++;
}

/* --- Parsing a line back into its record ----------------------------------------- */

/*
 * The fields of each event as Linux prints them, with placeholders that
 * say where the value goes in the argument array: %dN decimal, %xN hex
 * (after a literal 0x), %GN gfp flags, %RN reclaim flags, %LN an LRU list,
 * %PN a page pointer (of the pfn in argument N), %QN another pointer, %SN a
 * %pS symbol, %_ a value kmm computes (checked by the comparison).
 */
static const struct {
	enum kmm_trace_event ev;
	const char *fmt;
} templates[] = {
    {KMM_TRACE_MM_PAGE_ALLOC, "page=%P0 pfn=0x%x0 order=%d1 migratetype=%d3 gfp_flags=%G2"},
    {KMM_TRACE_MM_PAGE_FREE, "page=%P0 pfn=0x%x0 order=%d1"},
    {KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED,
     "page=%P0 pfn=0x%x0 order=%d1 migratetype=%d2 percpu_refill=%d3"},
    {KMM_TRACE_MM_PAGE_PCPU_DRAIN, "page=%P0 pfn=0x%x0 order=%d1 migratetype=%d2"},
    {KMM_TRACE_MM_PAGE_ALLOC_EXTFRAG,
     "page=%P0 pfn=0x%x0 alloc_order=%d1 fallback_order=%d2 pageblock_order=%_ "
     "alloc_migratetype=%d3 fallback_migratetype=%d4 fragmenting=%_ change_ownership=%d5"},
    {KMM_TRACE_MM_VMSCAN_KSWAPD_SLEEP, "nid=%d0"},
    {KMM_TRACE_MM_VMSCAN_KSWAPD_WAKE, "nid=%d0 order=%d2"},
    {KMM_TRACE_MM_VMSCAN_WAKEUP_KSWAPD, "nid=%d0 order=%d2 gfp_flags=%G3"},
    {KMM_TRACE_MM_VMSCAN_DIRECT_RECLAIM_BEGIN, "order=%d0 gfp_flags=%G1"},
    {KMM_TRACE_MM_VMSCAN_DIRECT_RECLAIM_END, "nr_reclaimed=%d0"},
    {KMM_TRACE_MM_SHRINK_SLAB_START,
     "%S1 %Q0: nid: %d2 objects to shrink %d3 gfp_flags %G4 cache items %d5 delta %d6 "
     "total_scan %d7 priority %d8"},
    {KMM_TRACE_MM_SHRINK_SLAB_END,
     "%S2 %Q0: nid: %d1 unused scan count %d3 new scan count %d4 total_scan %d6 last "
     "shrinker return val %d5"},
    {KMM_TRACE_MM_VMSCAN_LRU_ISOLATE,
     "isolate_mode=%d6 classzone=%d0 order=%d1 nr_requested=%d2 nr_scanned=%d3 "
     "nr_skipped=%d4 nr_taken=%d5 lru=%L7"},
    {KMM_TRACE_MM_VMSCAN_WRITE_FOLIO, "page=%P0 pfn=0x%x0 flags=%R1"},
    {KMM_TRACE_MM_VMSCAN_LRU_SHRINK_INACTIVE,
     "nid=%d0 nr_scanned=%d1 nr_reclaimed=%d2 nr_dirty=%d3 nr_writeback=%d4 "
     "nr_congested=%d5 nr_immediate=%d6 nr_activate_anon=%d7 nr_activate_file=%d8 "
     "nr_ref_keep=%d9 nr_unmap_fail=%d10 priority=%d11 flags=%R12"},
    {KMM_TRACE_MM_VMSCAN_LRU_SHRINK_ACTIVE,
     "nid=%d0 nr_taken=%d1 nr_active=%d2 nr_deactivated=%d3 nr_referenced=%d4 priority=%d5 "
     "flags=%R6"},
};

static const char *const lru_names[] = {"inactive_anon", "active_anon", "inactive_file",
					"active_file", "unevictable"};
static const char *const reclaim_names[] = {"RECLAIM_WB_ANON", "RECLAIM_WB_FILE",
					    "RECLAIM_WB_MIXED", "RECLAIM_WB_SYNC",
					    "RECLAIM_WB_ASYNC"};
static const unsigned int reclaim_bits[] = {RECLAIM_WB_ANON, RECLAIM_WB_FILE, RECLAIM_WB_MIXED,
					    RECLAIM_WB_SYNC, RECLAIM_WB_ASYNC};

static size_t word_len(const char *s)
{
	size_t n = 0;
	while (s[n] && s[n] != ' ' && s[n] != '\n')
		n++;
	return n;
}

/* Fill @args from the field text @s per @fmt; false if the line does not fit it. */
static bool parse_fields(struct env *e, const char *fmt, const char *s, uint64_t *args)
{
	const char *page_text = NULL;
	int page_arg = -1;
	while (*fmt) {
		if (*fmt != '%') {
			if (*s != *fmt)
				return false;
			s++, fmt++;
			continue;
		}
		char kind = fmt[1];
		fmt += 2;
		int idx = -1;
		if (kind != '_') {
			idx = (int)strtol(fmt, (char **)&fmt, 10);
			if (idx < 0 || idx >= 16)
				return false;
		}
		size_t len =
		    kind == 'P' || kind == 'Q' ? strspn(s, "0123456789abcdef") : word_len(s);
		char *end;
		switch (kind) {
		case 'd':
		case '_': {
			long long v = strtoll(s, &end, 10);
			if (end == s)
				return false;
			if (idx >= 0)
				args[idx] = (uint64_t)v;
			s = end;
			continue;
		}
		case 'x': {
			unsigned long long v = strtoull(s, &end, 16);
			if (end == s)
				return false;
			/* The pfn after a NULL page reads 0x0: the page says which. */
			if (!(page_arg == idx && args[idx] == KMM_TRACE_NO_PFN))
				args[idx] = v;
			s = end;
			continue;
		}
		case 'G': {
			char text[400];
			gfp_t gfp = 0;
			if (len >= sizeof(text))
				return false;
			memcpy(text, s, len);
			text[len] = '\0';
			if (strcmp(text, "none") && kmm_gfp_parse(text, &gfp))
				return false;
			args[idx] = gfp;
			break;
		}
		case 'R': {
			uint64_t flags = 0;
			const char *p = s;
			while (p < s + len) {
				size_t n = strcspn(p, "| \n");
				bool found = n == 15 && !memcmp(p, "RECLAIM_WB_NONE", 15);
				for (size_t i = 0; i < KMM_ARRAY_SIZE(reclaim_names) && !found; i++)
					if (strlen(reclaim_names[i]) == n &&
					    !memcmp(p, reclaim_names[i], n)) {
						flags |= reclaim_bits[i];
						found = true;
					}
				if (!found)
					return false;
				p += n + (p[n] == '|');
			}
			args[idx] = flags;
			break;
		}
		case 'L': {
			bool found = false;
			for (size_t i = 0; i < KMM_ARRAY_SIZE(lru_names); i++)
				if (strlen(lru_names[i]) == len && !memcmp(s, lru_names[i], len)) {
					args[idx] = i;
					found = true;
				}
			if (!found)
				return false;
			break;
		}
		case 'P':
			if (len != 16)
				return false;
			page_text = s;
			page_arg = idx;
			if (!strncmp(s, "0000000000000000", 16))
				args[idx] = KMM_TRACE_NO_PFN;
			else
				args[idx] = 0;
			break;
		case 'Q':
			if (len != 16 || !(args[idx] = intern(&e->ptrs[0][0], &e->nptrs,
							      PTR_TEXT_SIZE, s, len, SYNTH_PTR)))
				return false;
			break;
		case 'S':
			if (!(args[idx] = intern(&e->syms[0][0], &e->nsyms, 64, s, len, SYNTH_SYM)))
				return false;
			break;
		default:
			return false;
		}
		s += len;
	}
	if (*s != '\n' && *s != '\0')
		return false;
	if (page_text && args[page_arg] != KMM_TRACE_NO_PFN) {
		uint64_t pfn = args[page_arg];
		if (pfn >= MAX_PFN)
			return false;
		char *known = e->page_ptr[pfn];
		if (!known[0])
			memcpy(known, page_text, 16);
		else if (memcmp(known, page_text, 16))
			e->inconsistent++;
	}
	return true;
}

/*
 * "%16s-%-7d [%03d] %5s %5lu.%06lu: event: fields": the context columns,
 * the event and where its fields start.
 */
static bool parse_line(const char *line, struct kmm_ftrace_ctx *ctx, enum kmm_trace_event *ev,
		       const char **fields)
{
	if (strlen(line) < 48 || line[16] != '-')
		return false;
	const char *c = line;
	while (*c == ' ')
		c++;
	if (c >= line + 16)
		return false;
	memset(ctx, 0, sizeof(*ctx));
	memcpy(ctx->comm, c, (size_t)(line + 16 - c));
	unsigned long secs, usecs;
	int n = 0;
	if (sscanf(line + 17, "%d [%d] %5c %lu.%6lu: %n", &ctx->pid, &ctx->cpu, ctx->flags, &secs,
		   &usecs, &n) != 5 ||
	    !n)
		return false;
	ctx->flags[5] = '\0';
	ctx->ts_ns = ((uint64_t)secs * 1000000 + usecs) * 1000;
	const char *name = line + 17 + n;
	size_t len = strcspn(name, ":");
	for (int e = 0; e < KMM_NR_TRACE_EVENTS; e++)
		if (strlen(kmm_trace_event_names[e]) == len &&
		    !memcmp(name, kmm_trace_event_names[e], len) && name[len] == ':' &&
		    name[len + 1] == ' ') {
			*ev = (enum kmm_trace_event)e;
			*fields = name + len + 2;
			return true;
		}
	return false;
}

/* --- The oracle comparison ----------------------------------------------------------- */

struct tally {
	unsigned long lines[KMM_NR_TRACE_EVENTS];
	unsigned long default_flags[KMM_NR_TRACE_EVENTS]; /* lines whose flags are kmm's default */
	unsigned long mismatches, unparsed, total;
};

static void compare_file(struct kmm_ftrace *ft, struct env *e, const char *path, struct tally *t)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "xz -dc '%s'", path);
	FILE *f = popen(cmd, "r");
	if (!f) {
		KMM_EXPECT_FAIL_("cannot run %s", cmd);
		return;
	}
	char *line = NULL, out[2048];
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0, here = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[0] == '#')
			continue;
		struct kmm_ftrace_ctx ctx;
		enum kmm_trace_event ev;
		const char *fields;
		uint64_t args[16] = {0};
		int tmpl = -1;
		if (parse_line(line, &ctx, &ev, &fields))
			for (size_t i = 0; i < KMM_ARRAY_SIZE(templates); i++)
				if (templates[i].ev == ev)
					tmpl = (int)i;
		if (tmpl < 0 || !parse_fields(e, templates[tmpl].fmt, fields, args)) {
			if (t->unparsed++ < 5)
				fprintf(stderr, "%s:%lu: cannot parse: %s", path, lineno, line);
			continue;
		}
		here++;
		t->total++;
		t->lines[ev]++;
		char flags[6];
		kmm_ftrace_default_flags(ev, args, flags);
		if (!memcmp(flags, ctx.flags, 5))
			t->default_flags[ev]++;
		int n = kmm_ftrace_format(ft, &ctx, ev, args, kmm_trace_event_nargs[ev], out,
					  sizeof(out));
		if (n != (int)len || memcmp(out, line, (size_t)len)) {
			if (t->mismatches++ < 10)
				fprintf(stderr, "%s:%lu:\n  linux: %s  kmm:   %s", path, lineno,
					line, out);
		}
	}
	free(line);
	int status = pclose(f);
	if (status != 0 || !here)
		KMM_EXPECT_FAIL_("%s: xz exited with %d after %lu event lines", path, status, here);
}

static void test_oracle_traces(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/a_anon/trace.txt.xz", PRESSURE_DIR);
	if (access(path, R_OK)) {
		printf("SKIP: no Linux 6.1 pressure oracle at %s\n", PRESSURE_DIR);
		return;
	}
	if (system("xz --version >/dev/null 2>&1")) {
		printf("SKIP: xz is not installed (Debian: apt-get install xz-utils)\n");
		return;
	}
	struct kmm_machine *m = boot("--mem 256M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	static struct env e;
	memset(&e, 0, sizeof(e));
	e.page_ptr = calloc(MAX_PFN, PTR_TEXT_SIZE);
	expect_ptr_not_null(e.page_ptr);
	FILE *sink = fopen("/dev/null", "w");
	expect_ptr_not_null(sink);
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {.out = sink,
				    .style = KMM_FTRACE_PIPE,
				    .hook_arg = &e,
				    .pointer = env_pointer,
				    .symbol = env_symbol};
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o, &err);
	expect_ptr_not_null(ft);

	struct tally t = {{0}, {0}, 0, 0, 0};
	const char *files[] = {"a_anon/trace.txt.xz", "a_anon/trace_vmscan.txt.xz",
			       "c_file/trace.txt.xz", "c_file/trace_vmscan.txt.xz"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(files); i++) {
		/* Each scenario booted its own kernel, with its own pointer hash key. */
		if (strstr(files[i], "/trace.txt")) {
			memset(e.page_ptr, 0, (size_t)MAX_PFN * PTR_TEXT_SIZE);
			e.nptrs = 0;
		}
		snprintf(path, sizeof(path), "%s/%s", PRESSURE_DIR, files[i]);
		compare_file(ft, &e, path, &t);
	}
	printf("compared %lu lines of Linux 6.1 traces:", t.total);
	for (int ev = 0; ev < KMM_NR_TRACE_EVENTS; ev++)
		if (t.lines[ev])
			printf(" %s %lu (default flags %.1f%%)", kmm_trace_event_names[ev],
			       t.lines[ev],
			       100.0 * (double)t.default_flags[ev] / (double)t.lines[ev]);
	printf("\n");
	kmm_ftrace_close(ft, &err);
	fclose(sink);
	free(e.page_ptr);
	kmm_machine_destroy(m);

	expect_u64_eq(t.unparsed, 0);
	expect_u64_eq(t.mismatches, 0);
	expect_u64_eq(e.inconsistent, 0);
	/* Every event the oracle traced took part (the files hold ~600k event lines). */
	expect_u64_ge(t.total, 500000);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(templates); i++)
		expect_u64_ge(t.lines[templates[i].ev], 1);
	/*
	 * kmm's default flags are what Linux shows for at least 90% of the lines
	 * of busy events (need-resched and softirq context are not modelled).
	 */
	for (int ev = 0; ev < KMM_NR_TRACE_EVENTS; ev++)
		if (t.lines[ev] >= 100)
			expect_u64_ge(t.default_flags[ev] * 100, t.lines[ev] * 90);
}

/* --- Events the oracle did not record ------------------------------------------------ */

struct fixture {
	struct kmm_machine *m;
	struct kmm_ftrace *ft;
	FILE *sink;
};

static bool fixture_open(struct fixture *fx, const char *machine, bool hashed)
{
	fx->m = boot(machine);
	if (!fx->m)
		return false;
	fx->sink = fopen("/dev/null", "w");
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {
	    .out = fx->sink, .style = KMM_FTRACE_PIPE, .hash_pointers = hashed};
	fx->ft = kmm_ftrace_open(fx->m, &o, &err);
	if (!fx->ft)
		fprintf(stderr, "ftrace: %s\n", err.msg);
	return fx->ft != NULL;
}

static void fixture_close(struct fixture *fx)
{
	struct kmm_error err = {0};
	if (fx->ft)
		kmm_ftrace_close(fx->ft, &err);
	if (fx->sink)
		fclose(fx->sink);
	if (fx->m)
		kmm_machine_destroy(fx->m);
}

static const struct kmm_ftrace_ctx ctx_task = {"pressure", 148, 0, 3094934000ULL, "....."};

/* Format one event and return the text after "name: ", without the newline. */
static const char *fields_of(struct fixture *fx, enum kmm_trace_event ev, const uint64_t *args)
{
	static char line[2048];
	int n = kmm_ftrace_format(fx->ft, &ctx_task, ev, args, kmm_trace_event_nargs[ev], line,
				  sizeof(line));
	if (n <= 0)
		return "(format failed)";
	line[n - 1] = '\0';
	const char *p = strstr(line, kmm_trace_event_names[ev]);
	return p ? p + strlen(kmm_trace_event_names[ev]) + 2 : line;
}

static void test_unrecorded_events(void)
{
	struct fixture fx = {0};
	if (!fixture_open(&fx, "--mem 256M --nodes 1 --cpus 2", false)) {
		fixture_close(&fx);
		expect_true(false);
	}
	uint64_t obj = (uint64_t)(uintptr_t)(fx.m->ram + 0x123440);
	const char *name = "kmalloc-128";
	struct {
		enum kmm_trace_event ev;
		uint64_t a[13];
		const char *want;
	} cases[] = {
	    {KMM_TRACE_MM_PAGE_FREE_BATCHED, {0x4601}, "page=ffffea0000118040 pfn=0x4601 order=0"},
	    {KMM_TRACE_MM_PAGE_ALLOC,
	     {KMM_TRACE_NO_PFN, 3, GFP_KERNEL | __GFP_NOWARN, 0},
	     "page=0000000000000000 pfn=0x0 order=3 migratetype=0 "
	     "gfp_flags=GFP_KERNEL|__GFP_NOWARN"},
	    {KMM_TRACE_KMALLOC,
	     {0x1234, obj, 100, 128, GFP_KERNEL, (uint64_t)-1},
	     "call_site=0x1234 ptr=ffff888000123440 bytes_req=100 bytes_alloc=128 "
	     "gfp_flags=GFP_KERNEL node=-1 accounted=false"},
	    {KMM_TRACE_KMALLOC,
	     {0x1234, obj, 8, 8, GFP_KERNEL_ACCOUNT | __GFP_ZERO, 0},
	     "call_site=0x1234 ptr=ffff888000123440 bytes_req=8 bytes_alloc=8 "
	     "gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=0 accounted=true"},
	    {KMM_TRACE_KMEM_CACHE_ALLOC,
	     {0x1234, obj, 96, 128, GFP_KERNEL, 1, 1},
	     "call_site=0x1234 ptr=ffff888000123440 bytes_req=96 bytes_alloc=128 "
	     "gfp_flags=GFP_KERNEL node=1 accounted=true"},
	    {KMM_TRACE_KFREE, {0x1234, 0}, "call_site=0x1234 ptr=0000000000000000"},
	    {KMM_TRACE_KMEM_CACHE_FREE,
	     {0x1234, obj, (uint64_t)(uintptr_t)name},
	     "call_site=0x1234 ptr=ffff888000123440 name=kmalloc-128"},
	    {KMM_TRACE_MM_VMSCAN_NODE_RECLAIM_BEGIN,
	     {1, 2, GFP_ATOMIC},
	     "nid=1 order=2 gfp_flags=GFP_ATOMIC"},
	    {KMM_TRACE_MM_VMSCAN_NODE_RECLAIM_END, {77}, "nr_reclaimed=77"},
	    {KMM_TRACE_MM_VMSCAN_THROTTLED,
	     {0, 100000, 4000,
	      1u << KMM_VMSCAN_THROTTLE_WRITEBACK | 1u << KMM_VMSCAN_THROTTLE_CONGESTED},
	     "nid=0 usec_timeout=100000 usect_delayed=4000 "
	     "reason=VMSCAN_THROTTLE_WRITEBACK|VMSCAN_THROTTLE_CONGESTED"},
	    {KMM_TRACE_MM_VMSCAN_THROTTLED,
	     {0, 20000, 0, 0},
	     "nid=0 usec_timeout=20000 usect_delayed=0 reason=VMSCAN_THROTTLE_NONE"},
	    {KMM_TRACE_MM_VMSCAN_WRITE_FOLIO,
	     {0x10, 0},
	     "page=ffffea0000000400 pfn=0x10 flags=RECLAIM_WB_NONE"},
	    {KMM_TRACE_MM_VMSCAN_WRITE_FOLIO,
	     {0x10, RECLAIM_WB_MIXED | RECLAIM_WB_SYNC | RECLAIM_WB_ANON | 0x20},
	     "page=ffffea0000000400 pfn=0x10 "
	     "flags=RECLAIM_WB_ANON|RECLAIM_WB_MIXED|RECLAIM_WB_SYNC|0x20"},
	    {KMM_TRACE_MM_VMSCAN_LRU_ISOLATE,
	     {2, 0, 32, 40, 8, 32, 0, 7},
	     "isolate_mode=0 classzone=2 order=0 nr_requested=32 nr_scanned=40 nr_skipped=8 "
	     "nr_taken=32 lru=0x7"},
	    {KMM_TRACE_MM_VMSCAN_WAKEUP_KSWAPD, {0, 1, 0, 0}, "nid=0 order=0 gfp_flags=none"},
	    {KMM_TRACE_MM_VMSCAN_DIRECT_RECLAIM_BEGIN,
	     {0, GFP_KERNEL | 0x1000000},
	     "order=0 gfp_flags=GFP_KERNEL|0x1000000"},
	    {KMM_TRACE_MM_PAGE_ALLOC_EXTFRAG,
	     {0x8300, 0, 9, 1, 2, 1},
	     "page=ffffea000020c000 pfn=0x8300 alloc_order=0 fallback_order=9 pageblock_order=9 "
	     "alloc_migratetype=1 fallback_migratetype=2 fragmenting=0 change_ownership=1"},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++)
		expect_str_eq(fields_of(&fx, cases[i].ev, cases[i].a), cases[i].want);

	/* The whole line, with a long task name and a time past a second. */
	char line[512];
	struct kmm_ftrace_ctx ctx = {"", 12345678, 1, 1234567891499ULL, "dNs4."};
	memcpy(ctx.comm, "kworker/u2:1-evX", 16); /* 16 characters, no NUL: 15 are shown */
	uint64_t a[] = {0x4601};
	kmm_ftrace_format(fx.ft, &ctx, KMM_TRACE_MM_PAGE_FREE_BATCHED, a, 1, line, sizeof(line));
	expect_str_eq(line, " kworker/u2:1-ev-12345678 [001] dNs4.  1234.567891: "
			    "mm_page_free_batched: page=ffffea0000118040 pfn=0x4601 order=0\n");
	/* A wrong number of arguments is refused, not read past. */
	expect_int_eq(
	    kmm_ftrace_format(fx.ft, &ctx, KMM_TRACE_MM_PAGE_ALLOC, a, 1, line, sizeof(line)),
	    -EINVAL);
	/* A short buffer gets a truncated, terminated line and the full length. */
	int n = kmm_ftrace_format(fx.ft, &ctx, KMM_TRACE_MM_PAGE_FREE_BATCHED, a, 1, line, 10);
	expect_int_eq(n, 115);
	expect_str_eq(line, " kworker/");
	fixture_close(&fx);
}

/* Hashed pointers: 32-bit hashes, stable per address, zero-padded to the pointer width. */
static void test_pointers(void)
{
	struct fixture fx = {0};
	if (!fixture_open(&fx, "--mem 128M --nodes 1 --cpus 1", true)) {
		fixture_close(&fx);
		expect_true(false);
	}
	char seen[64][20];
	for (uint64_t pfn = 0; pfn < 64; pfn++) {
		uint64_t a[] = {pfn, 0};
		const char *f = fields_of(&fx, KMM_TRACE_MM_PAGE_FREE, a);
		expect_true(!strncmp(f, "page=00000000", 13));
		memcpy(seen[pfn], f + 5, 16);
		seen[pfn][16] = '\0';
		for (int i = 0; i < 16; i++)
			expect_true(strchr("0123456789abcdef", seen[pfn][i]) != NULL);
		for (uint64_t q = 0; q < pfn; q++)
			expect_true(strcmp(seen[q], seen[pfn]) != 0);
		expect_str_eq(fields_of(&fx, KMM_TRACE_MM_PAGE_FREE, a) + 5, f + 5);
	}
	uint64_t null_page[] = {KMM_TRACE_NO_PFN, 0, GFP_KERNEL, 0};
	expect_true(!strncmp(fields_of(&fx, KMM_TRACE_MM_PAGE_ALLOC, null_page),
			     "page=0000000000000000 pfn=0x0", 29));
	fixture_close(&fx);

	/* i386: 32-bit pointers, 8 digits; struct pages in lowmem below the direct map's top. */
	if (!fixture_open(&fx, "--arch i386 --mem 512M --cpus 1", false)) {
		fixture_close(&fx);
		expect_true(false);
	}
	uint64_t a[] = {1, 0};
	const char *f = fields_of(&fx, KMM_TRACE_MM_PAGE_FREE, a);
	unsigned long p1 = strtoul(f + 5, NULL, 16);
	expect_int_eq(strcspn(f + 5, " "), 8);
	a[0] = 2;
	unsigned long p2 = strtoul(fields_of(&fx, KMM_TRACE_MM_PAGE_FREE, a) + 5, NULL, 16);
	expect_u64_eq(p2 - p1, 32);
	expect_u64_ge(p1, 0xc0000000UL);
	fixture_close(&fx);
}

static void test_event_globs(void)
{
	struct {
		const char *spec;
		uint64_t want;
	} ok[] = {
	    {NULL, KMM_TRACE_BIT(KMM_NR_TRACE_EVENTS) - 1},
	    {"*", KMM_TRACE_BIT(KMM_NR_TRACE_EVENTS) - 1},
	    {"*:*", KMM_TRACE_BIT(KMM_NR_TRACE_EVENTS) - 1},
	    {"mm_page_alloc", KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_ALLOC)},
	    {"kmem:mm_page_alloc", KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_ALLOC)},
	    {"mm_page_alloc, mm_page_free",
	     KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_ALLOC) | KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE)},
	    {"mm_page_*,!mm_page_alloc_*", KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_ALLOC) |
					       KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE) |
					       KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE_BATCHED) |
					       KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_PCPU_DRAIN)},
	    {"mm_vmscan_kswapd_*", KMM_TRACE_BIT(KMM_TRACE_MM_VMSCAN_KSWAPD_SLEEP) |
				       KMM_TRACE_BIT(KMM_TRACE_MM_VMSCAN_KSWAPD_WAKE)},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(ok); i++) {
		uint64_t mask = 0;
		struct kmm_error err = {0};
		expect_int_eq(kmm_ftrace_parse_events(ok[i].spec, &mask, &err), 0);
		expect_x64_eq(mask, ok[i].want);
	}
	/* Whole systems: 10 kmem events, 14 vmscan events, disjoint. */
	uint64_t kmem = 0, vmscan = 0;
	struct kmm_error err = {0};
	expect_int_eq(kmm_ftrace_parse_events("kmem:*", &kmem, &err), 0);
	expect_int_eq(kmm_ftrace_parse_events("vmscan:", &vmscan, &err), 0);
	expect_int_eq(__builtin_popcountll(kmem), 10);
	expect_int_eq(__builtin_popcountll(vmscan), 14);
	expect_x64_eq(kmem & vmscan, 0);
	expect_x64_eq(kmem | vmscan, KMM_TRACE_BIT(KMM_NR_TRACE_EVENTS) - 1);

	const char *bad[] = {"mm_pgae_alloc", "kmem:mm_vmscan_*", "mm_page_alloc,,kfree", "slab:*",
			     "mm_page_alloc,"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(bad); i++) {
		uint64_t mask = 0x5a;
		kmm_error_clear(&err);
		expect_int_eq(kmm_ftrace_parse_events(bad[i], &mask, &err), -EINVAL);
		expect_x64_eq(mask, 0x5a);
		expect_str_contains(err.msg, "trace events");
	}
	kmm_ftrace_parse_events("mm_pgae_alloc", &kmem, &err);
	expect_str_contains(err.msg, "'mm_pgae_alloc' matches no event");
	expect_str_contains(err.msg,
			    "they are kmem: mm_page_{alloc,free,free_batched,alloc_zone_locked,"
			    "pcpu_drain,alloc_extfrag}, kmem_cache_{alloc,free}, kmalloc, kfree; "
			    "vmscan: mm_vmscan_{kswapd_sleep,");
	expect_str_contains(err.msg, ",throttled}, mm_shrink_slab_{start,end}");
}

/* The "trace" file: Linux's header with the event count, then the events. */
static void test_trace_file_header(void)
{
	struct kmm_machine *m = boot("--mem 128M --nodes 1 --cpus 3");
	expect_ptr_not_null(m);
	char path[] = "/tmp/kmm-ftrace-test-XXXXXX";
	int fd = mkstemp(path);
	expect_true(fd >= 0);
	close(fd);
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {.events = "mm_page_alloc,mm_page_free", .path = path};
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o, &err);
	expect_ptr_not_null(ft);
	kmm_cpu_enter(m, 2);
	struct kmm_page *p = kmm_alloc_pages(m, GFP_KERNEL, 1);
	expect_ptr_not_null(p);
	unsigned long pfn = page_to_pfn(m, p);
	kmm_free_pages(m, p, 1);
	kmm_cpu_exit(m);
	expect_u64_eq(kmm_ftrace_count(ft, KMM_TRACE_MM_PAGE_ALLOC), 1);
	expect_u64_eq(kmm_ftrace_count(ft, KMM_TRACE_MM_PAGE_FREE), 1);
	expect_u64_eq(kmm_ftrace_count(ft, KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED), 0);
	expect_int_eq(kmm_ftrace_close(ft, &err), 0);
	kmm_machine_destroy(m);

	FILE *f = fopen(path, "r");
	expect_ptr_not_null(f);
	char text[8192];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	unlink(path);
	const char *header = "# tracer: nop\n"
			     "#\n"
			     "# entries-in-buffer/entries-written: 2/2   #P:3\n"
			     "#\n"
			     "#                                _-----=> irqs-off/BH-disabled\n"
			     "#                               / _----=> need-resched\n"
			     "#                              | / _---=> hardirq/softirq\n"
			     "#                              || / _--=> preempt-depth\n"
			     "#                              ||| / _-=> migrate-disable\n"
			     "#                              |||| /     delay\n"
			     "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
			     "#              | |         |   |||||     |         |\n";
	expect_true(!strncmp(text, header, strlen(header)));
	/* Then two events from CPU 2, task kmm-1. */
	const char *ev = text + strlen(header);
	expect_true(!strncmp(ev, "             kmm-1       [002] ..... ", 37));
	char want[200];
	snprintf(want, sizeof(want),
		 ": mm_page_alloc: page=%016" PRIx64 " pfn=0x%lx order=1 migratetype=0 "
		 "gfp_flags=GFP_KERNEL\n",
		 (uint64_t)0xffffea0000000000ULL + 64 * (uint64_t)pfn, pfn);
	expect_str_contains(ev, want);
	snprintf(want, sizeof(want), ": mm_page_free: page=%016" PRIx64 " pfn=0x%lx order=1\n",
		 (uint64_t)0xffffea0000000000ULL + 64 * (uint64_t)pfn, pfn);
	expect_str_contains(ev, want);
	const char *second = strchr(ev, '\n') + 1;
	expect_u64_eq(strlen(second), (size_t)(strchr(second, '\n') - second) + 1);
}

static void test_open_errors(void)
{
	struct kmm_machine *m = boot("--mem 64M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {.path = "/nonexistent-dir/trace.txt"};
	expect_ptr_null(kmm_ftrace_open(m, &o, &err));
	expect_str_contains(err.msg, "cannot create the trace file /nonexistent-dir/trace.txt");
	struct kmm_ftrace_opts both = {.path = "/tmp/x", .out = stdout};
	expect_ptr_null(kmm_ftrace_open(m, &both, &err));
	struct kmm_ftrace_opts bad = {.out = stdout, .events = "nothing"};
	expect_ptr_null(kmm_ftrace_open(m, &bad, &err));
	expect_str_contains(err.msg, "'nothing' matches no event");
	expect_ptr_eq(m->trace_hook, NULL);
	expect_u64_eq(m->trace_mask, 0);
	/* One hook per machine. */
	struct kmm_ftrace_opts pipe = {.out = stdout, .style = KMM_FTRACE_PIPE, .events = "kfree"};
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &pipe, &err);
	expect_ptr_not_null(ft);
	expect_ptr_null(kmm_ftrace_open(m, &pipe, &err));
	expect_str_contains(err.msg, "already has a trace hook");
	expect_int_eq(kmm_ftrace_close(ft, &err), 0);
	expect_ptr_eq(m->trace_hook, NULL);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_oracle_traces);
	run_test(test_unrecorded_events);
	run_test(test_pointers);
	run_test(test_event_globs);
	run_test(test_trace_file_header);
	run_test(test_open_errors);
	return kmm_test_done();
}
