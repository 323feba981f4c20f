/*
 * The --from-dmesg parser: the twin of the machine a Linux x86 boot log
 * describes (dmesg, dmesg -t, dmesg -r, journalctl -k or a serial console).
 *
 * Linux: the lines read here are printed by arch/x86/kernel/e820.c (the
 * firmware map and its updates), arch/x86/mm/srat.c and drivers/acpi/numa
 * (SRAT memory and CPU affinity), mm/mm_init.c (early node ranges, the
 * "Memory:" line), arch/x86/kernel/smpboot.c and kernel/smp.c (CPUs),
 * arch/x86/kernel/setup.c (RAMDISK, crashkernel), kernel/dma/swiotlb.c,
 * mm/percpu.c and init/main.c (the command line).
 *
 * Theory of operation. One pass over the lines, each first stripped of its
 * log prefix ("<6>", "[    0.000000] ", "... kernel: "). A line is either
 * one the parser knows by its opening words, or skipped. A known line that
 * does not parse is an error naming FILE:LINE and what was expected: the
 * log is from a kernel that prints it differently, and a silently wrong
 * twin would be worse than no twin.
 *
 *  1. The firmware map: "BIOS-e820:" lines give the ranges (node -1); then
 *     "e820: update" and "e820: remove" lines are applied in order, as the
 *     kernel applied them, and adjacent ranges of one type are merged as
 *     e820__update_table() merges them.
 *  2. NUMA: SRAT memory affinity lines when there are any, else the
 *     "Early memory node ranges" block, else one node (also with numa=off).
 *  3. CPUs: the most reliable count the log has, and SRAT's CPU -> node
 *     lines when there is one per CPU; else CPUs in equal blocks per node.
 *  4. What the booted kernel reserved: its sizes from "Memory:", the initrd,
 *     the swiotlb buffer, the crash kernel; its percpu unit size.
 *
 * A second "Linux version" line after the map ends the log: only the first
 * boot of a log that holds several is read.
 */
#include "internal.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

struct dmesg_parser {
	struct kmm_machine_desc *desc;
	const char *file;
	struct kmm_error *err;
	int lineno;
	const char *line, *line_end; /* the current line, prefix stripped, for messages */

	bool cmdline_seen;
	bool e820_seen;
	bool in_node_block; /* inside "Early memory node ranges" */
	bool numa_from_srat;
	int cpus_smp;	  /* "smp: Brought up N nodes, C CPUs" */
	int cpus_allowed; /* "smpboot: Allowing C CPUs, H hotplug CPUs": C - H */
	int cpu_ids;	  /* "nr_cpu_ids:C" */
	int nr_srat_cpus;
	short srat_cpu_node[KMM_MAX_CPUS];
};

/* --- Text helpers: each advances *s past what it matched, or leaves it ------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

static bool eat(const char **s, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *s) < n || strncmp(*s, lit, n))
		return false;
	*s += n;
	return true;
}

static bool eat_dec(const char **s, const char *end, uint64_t max, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		p++;
	}
	if (p == *s)
		return false;
	*s = p;
	*out = v;
	return true;
}

static bool eat_hex(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int digits = 0;
	if (!eat(&p, end, "0x") && !eat(&p, end, "0X"))
		return false;
	for (; p < end; p++, digits++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (digits == 16)
			return false;
		v = v << 4 | d;
	}
	if (!digits)
		return false;
	*s = p;
	*out = v;
	return true;
}

/* "[mem 0xA-0xB]" with B as printed (inclusive, except in swiotlb's line). */
static bool eat_mem(const char **s, const char *end, uint64_t *a, uint64_t *b)
{
	const char *p = *s;
	if (!eat(&p, end, "[mem ") || !eat_hex(&p, end, a) || !eat(&p, end, "-") ||
	    !eat_hex(&p, end, b) || !eat(&p, end, "]"))
		return false;
	*s = p;
	return true;
}

/* Inclusive end to exclusive; the top of the address space stays the top. */
static uint64_t excl(uint64_t last)
{
	return last == UINT64_MAX ? UINT64_MAX : last + 1;
}

/* Find @lit inside [s, end); NULL if absent. */
static const char *find(const char *s, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	for (; (size_t)(end - s) >= n; s++)
		if (!strncmp(s, lit, n))
			return s;
	return NULL;
}

/* --- Messages ------------------------------------------------------------------ */

__kmm_printf(2, 3) static int dmesg_error(struct dmesg_parser *p, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	kmm_port_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kmm_error_set(p->err, -EINVAL, "%s:%d: %s", p->file, p->lineno, msg);
}

/* "expected @what, found 'the line'": for a known line that does not parse. */
static int dmesg_bad(struct dmesg_parser *p, const char *what)
{
	char shown[96];
	size_t n = 0, len = (size_t)(p->line_end - p->line);
	for (size_t i = 0; i < len && n + 4 < sizeof(shown); i++) {
		if (i == 80) {
			memcpy(shown + n, "...", 3);
			n += 3;
			break;
		}
		char c = p->line[i];
		shown[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	shown[n] = '\0';
	return dmesg_error(p, "expected %s, found '%s'", what, shown);
}

static int parse_type(struct dmesg_parser *p, const char *s, const char *end,
		      enum kmm_e820_type *type)
{
	s = skip_blanks(s, end);
	while (end > s && is_blank(end[-1]))
		end--;
	if (!kmm_e820_type_parse(s, (size_t)(end - s), type))
		return 0;
	return dmesg_error(p,
			   "unknown e820 type '%.*s': kmm knows usable, reserved, ACPI data, "
			   "ACPI NVS, unusable, persistent (type 7), persistent (type 12) and "
			   "soft reserved",
			   (int)kmm_min(end - s, (long)40), s);
}

/* --- 1. The firmware map --------------------------------------------------------- */

static int add_range(struct dmesg_parser *p, uint64_t start, uint64_t end, enum kmm_e820_type type)
{
	if (kmm_desc_add_range(p->desc, start, end, type, -1))
		return dmesg_error(p, "too many memory ranges: kmm takes at most %d",
				   KMM_MAX_RANGES);
	return 0;
}

static void delete_range(struct kmm_machine_desc *d, int i)
{
	memmove(&d->ranges[i], &d->ranges[i + 1],
		sizeof(d->ranges[0]) * (size_t)(d->nr_ranges - i - 1));
	d->nr_ranges--;
}

/* Merge neighbours of one type, as e820__update_table() does after a change. */
static void merge_ranges(struct kmm_machine_desc *d)
{
	for (int i = 1; i < d->nr_ranges;) {
		struct kmm_mem_range *a = &d->ranges[i - 1], *b = &d->ranges[i];
		if (a->end == b->start && a->type == b->type && a->node == b->node) {
			a->end = b->end;
			delete_range(d, i);
		} else {
			i++;
		}
	}
}

/* Linux __e820__range_update(): the @from parts of [start, end) become @to. */
static int e820_update(struct dmesg_parser *p, uint64_t start, uint64_t end,
		       enum kmm_e820_type from, enum kmm_e820_type to)
{
	struct kmm_machine_desc *d = p->desc;
	int ret;
	if (from == to)
		return 0;
	for (int i = 0; i < d->nr_ranges; i++) {
		struct kmm_mem_range r = d->ranges[i];
		if (r.type != from || r.end <= start || r.start >= end)
			continue;
		uint64_t s = kmm_max(r.start, start), e = kmm_min(r.end, end);
		/* Index i keeps the first piece; the inserts land after it. */
		if (r.start < s) {
			d->ranges[i].end = s;
			ret = add_range(p, s, e, to);
		} else {
			d->ranges[i].end = e;
			d->ranges[i].type = to;
			ret = 0;
		}
		if (!ret && e < r.end)
			ret = add_range(p, e, r.end, from);
		if (ret)
			return ret;
	}
	merge_ranges(d);
	return 0;
}

/* Linux e820__range_remove(): drop [start, end) from ranges of @type (any if !check). */
static int e820_remove(struct dmesg_parser *p, uint64_t start, uint64_t end,
		       enum kmm_e820_type type, bool check)
{
	struct kmm_machine_desc *d = p->desc;
	for (int i = 0; i < d->nr_ranges; i++) {
		struct kmm_mem_range *r = &d->ranges[i];
		if ((check && r->type != type) || r->end <= start || r->start >= end)
			continue;
		uint64_t s = kmm_max(r->start, start), e = kmm_min(r->end, end);
		if (r->start < s && e < r->end) {
			uint64_t old_end = r->end;
			r->end = s;
			int ret = add_range(p, e, old_end, r->type);
			if (ret)
				return ret;
		} else if (r->start < s) {
			r->end = s;
		} else if (e < r->end) {
			r->start = e;
		} else {
			delete_range(d, i);
			i--;
		}
	}
	merge_ranges(d);
	return 0;
}

/* BIOS-e820: [mem 0xA-0xB] TYPE */
static int parse_bios_e820(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t a, b;
	enum kmm_e820_type type;
	if (!eat_mem(&s, end, &a, &b) || b < a)
		return dmesg_bad(p, "'BIOS-e820: [mem 0xSTART-0xEND] TYPE'");
	int ret = parse_type(p, s, end, &type);
	if (!ret)
		ret = add_range(p, a, excl(b), type);
	p->e820_seen = true;
	return ret;
}

/* e820: update [mem A-B] T1 ==> T2, e820: remove [mem A-B] [T] */
static int parse_e820_change(struct dmesg_parser *p, const char *s, const char *end, bool update)
{
	uint64_t a, b;
	enum kmm_e820_type from, to;
	int ret;
	if (!eat_mem(&s, end, &a, &b) || b < a)
		return dmesg_bad(p, update ? "'e820: update [mem 0xSTART-0xEND] TYPE ==> TYPE'"
					   : "'e820: remove [mem 0xSTART-0xEND] [TYPE]'");
	if (update) {
		const char *arrow = find(s, end, "==>");
		if (!arrow)
			return dmesg_bad(p, "'e820: update [mem 0xSTART-0xEND] TYPE ==> TYPE'");
		ret = parse_type(p, s, arrow, &from);
		if (!ret)
			ret = parse_type(p, arrow + 3, end, &to);
		return ret ? ret : e820_update(p, a, excl(b), from, to);
	}
	s = skip_blanks(s, end);
	if (s == end)
		return e820_remove(p, a, excl(b), KMM_E820_RAM, false);
	ret = parse_type(p, s, end, &from);
	return ret ? ret : e820_remove(p, a, excl(b), from, true);
}

/* --- The command line ---------------------------------------------------------- */

/* Kernel parameter names treat '-' and '_' alike (parameq()). */
static bool param_is(const char *s, size_t len, const char *name)
{
	if (strlen(name) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char a = s[i] == '-' ? '_' : s[i], b = name[i] == '-' ? '_' : name[i];
		if (a != b)
			return false;
	}
	return true;
}

/* SIZE or N% (Linux cmdline_parse_core). */
static int parse_core(struct dmesg_parser *p, const char *name, const char *v, size_t len,
		      uint64_t *bytes, unsigned int *percent)
{
	const char *q = v;
	uint64_t n;
	if (len > 1 && v[len - 1] == '%') {
		if (!eat_dec(&q, v + len - 1, 100, &n) || q != v + len - 1)
			return dmesg_error(p, "%s=%.*s: expected a percentage from 0%% to 100%%",
					   name, (int)kmm_min(len, (size_t)40), v);
		*percent = (unsigned int)n;
		*bytes = 0;
		return 0;
	}
	if (!kmm_parse_size(v, len, bytes))
		return dmesg_error(p,
				   "%s=%.*s: expected a size like 512M or a percentage like 20%%",
				   name, (int)kmm_min(len, (size_t)40), v);
	*percent = 0;
	return 0;
}

static int parse_param(struct dmesg_parser *p, const char *k, size_t klen, const char *v,
		       size_t vlen)
{
	struct kmm_machine_desc *d = p->desc;
	if (param_is(k, klen, "mem")) {
		/* mem=nopentium only means something on 32-bit kernels; Linux ignores it. */
		if (vlen == 9 && !strncmp(v, "nopentium", 9))
			return 0;
		if (!kmm_parse_size(v, vlen, &d->mem_limit))
			return dmesg_error(p, "mem=%.*s: expected a size like 2G",
					   (int)kmm_min(vlen, (size_t)40), v);
		return 0;
	}
	if (param_is(k, klen, "movablecore"))
		return parse_core(p, "movablecore", v, vlen, &d->movablecore,
				  &d->movablecore_percent);
	if (param_is(k, klen, "kernelcore")) {
		if (vlen == 6 && !strncmp(v, "mirror", 6))
			return dmesg_error(p, "kernelcore=mirror: kmm does not simulate mirrored "
					      "memory (drop it from the log's command line)");
		return parse_core(p, "kernelcore", v, vlen, &d->kernelcore, &d->kernelcore_percent);
	}
	if (param_is(k, klen, "transparent_hugepage")) {
		/* Any other value: Linux says it cannot parse it and keeps its default. */
		if (vlen == 6 && !strncmp(v, "always", 6))
			d->thp = KMM_THP_ALWAYS;
		else if (vlen == 7 && !strncmp(v, "madvise", 7))
			d->thp = KMM_THP_MADVISE;
		else if (vlen == 5 && !strncmp(v, "never", 5))
			d->thp = KMM_THP_NEVER;
		else
			return 0;
		d->thp_given = true;
		return 0;
	}
	if (param_is(k, klen, "numa") && vlen == 3 && !strncmp(v, "off", 3))
		d->numa_off = true;
	return 0;
}

/* "Command line: a b=c d="e f" -- init args": the options kmm simulates. */
static int parse_cmdline(struct dmesg_parser *p, const char *s, const char *end)
{
	while ((s = skip_blanks(s, end)) < end) {
		const char *tok = s, *eq = NULL;
		bool quoted = false;
		while (s < end && (quoted || !is_blank(*s))) {
			if (*s == '"')
				quoted = !quoted;
			else if (*s == '=' && !eq)
				eq = s;
			s++;
		}
		if (s - tok == 2 && !strncmp(tok, "--", 2))
			break; /* the rest is for init */
		if (!eq)
			continue;
		const char *v = eq + 1, *vend = s;
		if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
			v++;
			vend--;
		}
		int ret = parse_param(p, tok, (size_t)(eq - tok), v, (size_t)(vend - v));
		if (ret)
			return ret;
	}
	return 0;
}

/* --- 2. NUMA ------------------------------------------------------------------- */

static int add_numa(struct dmesg_parser *p, uint64_t a, uint64_t b, uint64_t node)
{
	struct kmm_machine_desc *d = p->desc;
	if (node >= KMM_MAX_NUMNODES)
		return dmesg_error(p, "node %llu: kmm simulates nodes 0 to %d",
				   (unsigned long long)node, KMM_MAX_NUMNODES - 1);
	if (d->nr_numa >= KMM_MAX_RANGES)
		return dmesg_error(p, "too many NUMA ranges: kmm takes at most %d", KMM_MAX_RANGES);
	d->numa[d->nr_numa++] = (struct kmm_numa_range){a, excl(b), (int)node};
	return 0;
}

/*
 * "SRAT: Node N PXM P [mem A-B] [hotplug]" and "SRAT: PXM P -> APIC 0xA ->
 * Node N" (after any "ACPI: "). Other SRAT lines are skipped.
 */
static int parse_srat(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t node, pxm, apic, a, b;
	const char *q = s;
	if (eat(&q, end, "Node ")) {
		if (!eat_dec(&q, end, UINT32_MAX, &node) || !eat(&q, end, " PXM ") ||
		    !eat_dec(&q, end, UINT32_MAX, &pxm) || !eat(&q, end, " ") ||
		    !eat_mem(&q, end, &a, &b) || b < a)
			return dmesg_bad(p, "'SRAT: Node N PXM P [mem 0xSTART-0xEND]'");
		if (!p->numa_from_srat) {
			/* SRAT wins over node ranges read before it. */
			p->desc->nr_numa = 0;
			p->numa_from_srat = true;
		}
		return add_numa(p, a, b, node);
	}
	if (eat(&q, end, "PXM ")) {
		if (!eat_dec(&q, end, UINT32_MAX, &pxm) || !eat(&q, end, " -> APIC ") ||
		    !eat_hex(&q, end, &apic) || !eat(&q, end, " -> Node ") ||
		    !eat_dec(&q, end, UINT32_MAX, &node))
			return dmesg_bad(p, "'SRAT: PXM P -> APIC 0xA -> Node N'");
		if (find(q, end, "skipped"))
			return 0; /* an APIC id Linux could not use */
		if (p->nr_srat_cpus < KMM_MAX_CPUS)
			p->srat_cpu_node[p->nr_srat_cpus] =
			    (short)kmm_min(node, (uint64_t)KMM_MAX_NUMNODES);
		p->nr_srat_cpus++;
	}
	return 0;
}

/* "  node   N: [mem A-B]" inside the "Early memory node ranges" block. */
static bool parse_node_range(struct dmesg_parser *p, const char *s, const char *end, int *ret)
{
	uint64_t node, a, b;
	if (!eat(&s, end, "node"))
		return false;
	s = skip_blanks(s, end);
	if (!eat_dec(&s, end, UINT32_MAX, &node) || !eat(&s, end, ":"))
		return false;
	s = skip_blanks(s, end);
	if (!eat_mem(&s, end, &a, &b) || b < a) {
		*ret =
		    dmesg_bad(p, "'node N: [mem 0xSTART-0xEND]' in the early memory node ranges");
		return true;
	}
	*ret = p->numa_from_srat ? 0 : add_numa(p, a, b, node);
	return true;
}

/* --- 3. CPUs ------------------------------------------------------------------- */

/* "smp: Brought up N node(s), C CPU(s)" */
static int parse_smp(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t nodes, cpus;
	if (!eat_dec(&s, end, UINT32_MAX, &nodes) || !eat(&s, end, " node"))
		return dmesg_bad(p, "'smp: Brought up N nodes, C CPUs'");
	eat(&s, end, "s");
	if (!eat(&s, end, ", ") || !eat_dec(&s, end, INT32_MAX, &cpus) || !eat(&s, end, " CPU") ||
	    !cpus)
		return dmesg_bad(p, "'smp: Brought up N nodes, C CPUs'");
	p->cpus_smp = (int)cpus;
	return 0;
}

/* "smpboot: Allowing C CPUs, H hotplug CPUs" */
static int parse_allowing(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t cpus, hotplug;
	if (!eat_dec(&s, end, INT32_MAX, &cpus) || !eat(&s, end, " CPUs, ") ||
	    !eat_dec(&s, end, INT32_MAX, &hotplug) || !eat(&s, end, " hotplug CPU") ||
	    hotplug >= cpus)
		return dmesg_bad(p, "'smpboot: Allowing C CPUs, H hotplug CPUs'");
	p->cpus_allowed = (int)(cpus - hotplug);
	return 0;
}

/* "setup_percpu: NR_CPUS:8192 nr_cpumask_bits:2 nr_cpu_ids:2 nr_node_ids:1" */
static int parse_setup_percpu(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t ids;
	const char *q = find(s, end, "nr_cpu_ids:");
	if (!q)
		return 0;
	q += strlen("nr_cpu_ids:");
	if (!eat_dec(&q, end, INT32_MAX, &ids) || !ids)
		return dmesg_bad(p, "'nr_cpu_ids:N' with N at least 1");
	p->cpu_ids = (int)ids;
	return 0;
}

/* --- 4. What the booted kernel reserved ---------------------------------------- */

/*
 * "Memory: 199232K/261624K available (14343K kernel code, 2338K rwdata,
 * 9132K rodata, 2824K init, 17344K bss, 62192K reserved, 0K cma-reserved)"
 */
static int parse_memory(struct dmesg_parser *p, const char *s, const char *end)
{
	static const char what[] = "'Memory: NK/NK available (NK kernel code, NK rwdata, NK "
				   "rodata, NK init, NK bss, NK reserved, ...)'";
	struct kmm_machine_desc *d = p->desc;
	struct kmm_kernel_sizes k = d->kernel; /* keeps the gaps freed later */
	uint64_t avail, total, reserved = 0;
	const uint64_t max_kb = UINT64_MAX / 1024;
	const struct {
		const char *name;
		uint64_t *bytes; /* NULL: "reserved", kept in KiB */
	} items[] = {
	    {"kernel code", &k.code}, {"rwdata", &k.rwdata}, {"rodata", &k.rodata},
	    {"init", &k.init},	      {"bss", &k.bss},	     {"reserved", NULL},
	};
	unsigned int found = 0; /* one bit per item */

	if (!eat_dec(&s, end, max_kb, &avail) || !eat(&s, end, "K/") ||
	    !eat_dec(&s, end, max_kb, &total) || !eat(&s, end, "K available ("))
		return dmesg_bad(p, what);
	for (;;) {
		uint64_t kb;
		if (!eat_dec(&s, end, max_kb, &kb) || !eat(&s, end, "K "))
			return dmesg_bad(p, what);
		const char *name = s;
		while (s < end && *s != ',' && *s != ')')
			s++;
		/* Items kmm does not use (cma-reserved, highmem) are skipped. */
		for (size_t i = 0; i < KMM_ARRAY_SIZE(items); i++) {
			if (strlen(items[i].name) != (size_t)(s - name) ||
			    strncmp(name, items[i].name, (size_t)(s - name)))
				continue;
			if (items[i].bytes)
				*items[i].bytes = kb * 1024;
			else
				reserved = kb;
			found |= 1u << i;
		}
		if (eat(&s, end, ")"))
			break;
		if (!eat(&s, end, ", "))
			return dmesg_bad(p, what);
	}
	if (found != (1u << KMM_ARRAY_SIZE(items)) - 1)
		return dmesg_bad(p, what);
	/* The log does not size what follows bss (brk, page-table pool); 6.1 keeps 2 MiB. */
	if (!k.image_tail)
		k.image_tail = 2048 * 1024;
	d->kernel = k;
	d->kernel_image = KMM_KERNEL_FROM_LOG;

	d->log_reserved_kb = reserved;
	d->log_physpages_kb = total;
	return 0;
}

/* "...: NK" at the end of a "Freeing ..." line, in bytes. */
static int parse_freed_kb(struct dmesg_parser *p, const char *s, const char *end, uint64_t *out)
{
	uint64_t kb;
	if (!eat_dec(&s, end, UINT64_MAX / 1024, &kb) || !eat(&s, end, "K"))
		return dmesg_bad(p, "'Freeing ... memory: NK'");
	*out = kb * 1024;
	return 0;
}

static int add_reserve(struct dmesg_parser *p, uint64_t a, uint64_t b, bool freed_late,
		       const char *name)
{
	if (kmm_desc_add_reserve(p->desc, a, b, 0, -1, freed_late, name))
		return dmesg_error(p, "too many early reservations: kmm takes at most %d",
				   KMM_MAX_RESERVES);
	return 0;
}

/* "RAMDISK: [mem A-B]", B inclusive: the initrd, freed once unpacked. */
static int parse_ramdisk(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t a, b;
	if (!eat_mem(&s, end, &a, &b) || b < a)
		return dmesg_bad(p, "'RAMDISK: [mem 0xSTART-0xEND]'");
	return add_reserve(p, a, excl(b), true, "initrd");
}

/* "software IO TLB: mapped [mem A-B] (64MB)": B is exclusive here (A + size). */
static int parse_swiotlb(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t a, b, mb;
	if (!eat_mem(&s, end, &a, &b) || b <= a)
		return dmesg_bad(p, "'software IO TLB: mapped [mem 0xSTART-0xEND] (NMB)'");
	/* Should a kernel print B inclusive, the size in parentheses says so. */
	if (eat(&s, end, " (") && eat_dec(&s, end, UINT64_MAX >> 20, &mb) && b != UINT64_MAX &&
	    b + 1 - a == mb << 20)
		b++;
	return add_reserve(p, a, b, false, "swiotlb");
}

/* "Reserving NMB of memory at MMB for crashkernel (System RAM: XMB)" */
static int parse_crashkernel(struct dmesg_parser *p, const char *s, const char *end)
{
	uint64_t size, base;
	if (!eat_dec(&s, end, UINT64_MAX >> 21, &size) || !eat(&s, end, "MB of memory at ") ||
	    !eat_dec(&s, end, UINT64_MAX >> 21, &base) || !eat(&s, end, "MB for crashkernel") ||
	    !size)
		return dmesg_bad(p, "'Reserving NMB of memory at MMB for crashkernel'");
	return add_reserve(p, base << 20, (base + size) << 20, false, "crashkernel");
}

/* --- The line loop ------------------------------------------------------------- */

/*
 * What follows the log prefix of a line: "<6>" (dmesg -r), a "[    1.234]"
 * or "[Mon Nov 22 04:28:38 2026]" timestamp, or syslog's "... kernel: ".
 */
static const char *strip_prefix(const char *s, const char *end)
{
	const char *q = s;
	if (q < end && *q == '<') {
		const char *r = q + 1;
		while (r < end && *r >= '0' && *r <= '9')
			r++;
		if (r > q + 1 && r < end && *r == '>')
			s = q = r + 1;
	}
	if (q < end && *q != '[') {
		/* journalctl -k and /var/log/kern.log: "Nov 22 04:28:38 host kernel: ". */
		const char *k = find(q, q + kmm_min(end - q, (long)80), "kernel: ");
		if (k)
			s = q = k + strlen("kernel: ");
	}
	if (q < end && *q == '[' && !(end - q >= 5 && !strncmp(q, "[mem ", 5))) {
		const char *r = q + 1;
		while (r < end && r - q < 40 &&
		       ((*r >= '0' && *r <= '9') || (*r >= 'A' && *r <= 'Z') ||
			(*r >= 'a' && *r <= 'z') || *r == ' ' || *r == '.' || *r == ':'))
			r++;
		if (r < end && *r == ']')
			s = r + 1;
	}
	return skip_blanks(s, end);
}

/* One line, prefix stripped. Returns 0, 1 to stop reading, or -errno. */
static int parse_line(struct dmesg_parser *p, const char *s, const char *end)
{
	struct kmm_machine_desc *d = p->desc;
	int ret = 0;

	p->line = s;
	p->line_end = end;
	if (p->in_node_block) {
		if (parse_node_range(p, s, end, &ret))
			return ret;
		p->in_node_block = false;
	}
	if (eat(&s, end, "Linux version "))
		return p->e820_seen ? 1 : 0;
	if (eat(&s, end, "Command line: ")) {
		if (p->cmdline_seen)
			return 0;
		p->cmdline_seen = true;
		return parse_cmdline(p, s, end);
	}
	if (eat(&s, end, "BIOS-e820: "))
		return parse_bios_e820(p, s, end);
	if (eat(&s, end, "e820: update "))
		return parse_e820_change(p, s, end, true);
	if (eat(&s, end, "e820: remove "))
		return parse_e820_change(p, s, end, false);
	if (eat(&s, end, "ACPI: SRAT: ") || eat(&s, end, "SRAT: "))
		return parse_srat(p, s, end);
	if (eat(&s, end, "Early memory node ranges")) {
		p->in_node_block = true;
		return 0;
	}
	if (eat(&s, end, "smp: Brought up "))
		return parse_smp(p, s, end);
	if (eat(&s, end, "smpboot: Allowing "))
		return parse_allowing(p, s, end);
	if (eat(&s, end, "setup_percpu: "))
		return parse_setup_percpu(p, s, end);
	if (eat(&s, end, "Memory: ")) /* "Memory: NK/NK available", not other Memory: lines */
		return s < end && *s >= '0' && *s <= '9' ? parse_memory(p, s, end) : 0;
	if (eat(&s, end, "Freeing unused kernel image (text/rodata gap) memory: "))
		return parse_freed_kb(p, s, end, &d->kernel.text_rodata_gap);
	if (eat(&s, end, "Freeing unused kernel image (rodata/data gap) memory: "))
		return parse_freed_kb(p, s, end, &d->kernel.rodata_data_gap);
	if (eat(&s, end, "Freeing unused decrypted memory: "))
		return parse_freed_kb(p, s, end, &d->kernel.decrypted);
	if (eat(&s, end, "Freeing SMP alternatives memory: "))
		return parse_freed_kb(p, s, end, &d->kernel.smp_alternatives);
	if (eat(&s, end, "RAMDISK: "))
		return parse_ramdisk(p, s, end);
	if (eat(&s, end, "software IO TLB: mapped "))
		return parse_swiotlb(p, s, end);
	if (eat(&s, end, "percpu: Embedded ")) {
		uint64_t pages;
		if (!eat_dec(&s, end, UINT32_MAX, &pages) || !eat(&s, end, " pages/cpu"))
			return dmesg_bad(p, "'percpu: Embedded N pages/cpu'");
		d->percpu_unit_pages = pages;
		return 0;
	}
	if (eat(&s, end, "Reserving ") && find(s, end, "for crashkernel"))
		return parse_crashkernel(p, s, end);
	return 0;
}

/* After the last line: nodes, CPUs and their nodes. */
static void dmesg_finish(struct dmesg_parser *p)
{
	struct kmm_machine_desc *d = p->desc;
	int max_node = 0;

	if (d->numa_off)
		d->nr_numa = 0;
	for (int i = 0; i < d->nr_numa; i++)
		max_node = kmm_max(max_node, d->numa[i].node);
	d->nr_nodes = max_node + 1;

	d->nr_cpus = p->cpus_smp       ? p->cpus_smp
		     : p->cpus_allowed ? p->cpus_allowed
		     : p->cpu_ids      ? p->cpu_ids
				       : 1;
	bool use_srat = !d->numa_off && p->nr_srat_cpus == d->nr_cpus && d->nr_cpus <= KMM_MAX_CPUS;
	for (int c = 0; c < d->nr_cpus && c < KMM_MAX_CPUS; c++)
		d->cpu_node[c] =
		    use_srat ? p->srat_cpu_node[c] : (short)((long)c * d->nr_nodes / d->nr_cpus);
}

/*
 * kmm_desc_parse_dmesg - build the twin of the machine a Linux x86 boot log shows.
 * @desc: filled from scratch (kmm_desc_init first)
 * @text: the log, NUL-terminated; "\r\n" line ends and unrelated lines are fine
 * @filename: for messages and desc->source
 * @err: receives "FILE:LINE: expected ..., found ..." on failure
 *
 * Context: no allocation, no lock.
 * Return: 0, or -EINVAL with a message; never asserts on any input.
 */
int kmm_desc_parse_dmesg(struct kmm_machine_desc *desc, const char *text, const char *filename,
			 struct kmm_error *err)
{
	struct dmesg_parser p = {.desc = desc, .file = filename, .err = err};
	const char *ln = text;
	int ret = 0;

	kmm_desc_init(desc);
	kmm_port_snprintf(desc->source, sizeof(desc->source), "%s", filename);
	while (*ln) {
		const char *nl = strchr(ln, '\n');
		const char *end = nl ? nl : ln + strlen(ln);
		p.lineno++;
		while (end > ln && is_blank(end[-1]))
			end--;
		ret = parse_line(&p, strip_prefix(ln, end), end);
		if (ret)
			break;
		if (!nl)
			break;
		ln = nl + 1;
	}
	if (ret < 0)
		return ret;
	if (!p.e820_seen)
		return kmm_error_set(err, -EINVAL,
				     "%s: no BIOS-e820 memory map found; give the log of a Linux "
				     "x86 boot (dmesg or the serial console)",
				     filename);
	dmesg_finish(&p);
	return kmm_desc_validate(desc, err);
}
