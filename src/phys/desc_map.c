/*
 * The --map parser: a machine written down by hand, one firmware memory
 * range per line, plus directives for the CPUs and the NUMA distances.
 *
 * Linux: there is no such file in Linux; the range lines follow what the
 * kernel prints of the firmware map (arch/x86/kernel/e820.c,
 * e820__print_table) so that a map copied out of a boot log pastes in
 * unchanged, and the directives say what ACPI SRAT (CPU affinity) and SLIT
 * (node distances) would tell the kernel.
 *
 * The format (docs/machine-description.md has the user's version):
 *
 *   # comment                         anywhere; blank lines are ignored
 *   START END TYPE [NODE]             END exclusive; START/END as kmm_parse_size
 *   [mem 0xSTART-0xEND] TYPE [NODE]   END inclusive, as Linux prints it; a
 *                                     "[ 0.000000] BIOS-e820:" prefix is skipped
 *   cpus N                            else one CPU per node
 *   cpu C node N                      else CPUs split in equal blocks over nodes
 *   distance A B D                    SLIT distance, both directions
 *
 * Theory of operation. Lines are read one at a time into the description;
 * every check that one line can fail is made right there, so the message
 * points at the token (FILE:LINE:COL, column 1-based). Checks that need the
 * whole file (nodes numbered without gaps, CPU and node numbers against the
 * totals) run after the last line and point back at the line that caused
 * them; that is why the line and node column of every range are kept next
 * to the sorted range array. kmm_desc_validate() runs last as a safety net.
 *
 * RAM written as START END must be 4 KiB aligned: a hand-written map that is
 * not is a typo. RAM in the [mem ...] syntax is taken as the firmware gave
 * it (firmware maps end RAM at 0x9fbff), and Linux's rounding to whole pages
 * applies to it at boot, as it does for a --from-dmesg map.
 */
#include "internal.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define MAP_MAX_NODE (KMM_MAX_NUMNODES - 1)

static const char map_known_types[] =
    "usable, reserved, ACPI data, ACPI NVS, unusable, pmem, persistent (type 12), "
    "soft reserved";

/* Where a range or a node number came from, for messages after the last line. */
struct map_where {
	int line;
	int col;
};

struct map_parser {
	struct kmm_machine_desc *desc;
	const char *file;
	struct kmm_error *err;
	int lineno;
	const char *line; /* first byte of the current line, for columns */

	/* Parallel to desc->ranges (kept sorted the same way): each range's line. */
	int range_line[KMM_MAX_RANGES];
	/* Column of the NODE token of each range, 0 when the node was left out. */
	int range_node_col[KMM_MAX_RANGES];

	int cpus; /* from "cpus N", 0 if none */
	int cpus_line;
	/* "cpu C node N" of CPU C: where C was written, line 0 if none. */
	struct map_where cpu_col[KMM_MAX_CPUS];
	struct map_where cpu_node_col[KMM_MAX_CPUS]; /* where N was written */
	short cpu_node[KMM_MAX_CPUS];

	/* The highest node a distance names, and where, checked after the last line. */
	int dist_max_node;
	struct map_where dist_max_where;
};

struct map_tok {
	const char *s;
	size_t len;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && is_blank(*s))
		s++;
	return s;
}

/* Next blank-separated token of [*pos, end); len 0 at the end of the line. */
static struct map_tok next_tok(const char **pos, const char *end)
{
	const char *s = skip_blanks(*pos, end);
	const char *e = s;
	while (e < end && !is_blank(*e))
		e++;
	*pos = e;
	return (struct map_tok){s, (size_t)(e - s)};
}

static bool tok_is(struct map_tok t, const char *word)
{
	return t.len == strlen(word) && !strncmp(t.s, word, t.len);
}

/* A token for a message: printable, at most 40 characters, quoted. */
static void tok_show(char *buf, size_t size, const char *s, size_t len)
{
	size_t n = 0;
	if (!len) {
		kmm_port_snprintf(buf, size, "end of line");
		return;
	}
	if (size < 8)
		return;
	buf[n++] = '\'';
	for (size_t i = 0; i < len && n + 5 < size; i++) {
		if (i == 40) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		char c = s[i];
		buf[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	buf[n++] = '\'';
	buf[n] = '\0';
}

/* The 1-based column of @at on the current line. */
static int col_of(struct map_parser *p, const char *at)
{
	return (int)(at - p->line) + 1;
}

static int map_verror(struct map_parser *p, struct map_where w, const char *fmt, va_list ap)
{
	char msg[400];
	kmm_port_vsnprintf(msg, sizeof(msg), fmt, ap);
	return kmm_error_set(p->err, -EINVAL, "%s:%d:%d: %s", p->file, w.line, w.col, msg);
}

/* "FILE:LINE:COL: ..." for the token at @at of the current line. */
__kmm_printf(3, 4) static int map_error_at(struct map_parser *p, const char *at, const char *fmt,
					   ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = map_verror(p, (struct map_where){p->lineno, col_of(p, at)}, fmt, ap);
	va_end(ap);
	return ret;
}

/* The same for a token of an earlier line. */
__kmm_printf(3, 4) static int map_error_where(struct map_parser *p, struct map_where w,
					      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = map_verror(p, w, fmt, ap);
	va_end(ap);
	return ret;
}

/* A decimal number no larger than @max; false on anything else. */
static bool parse_uint(struct map_tok t, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!t.len)
		return false;
	for (size_t i = 0; i < t.len; i++) {
		if (t.s[i] < '0' || t.s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(t.s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/*
 * TYPE [NODE] from the rest of a range line, [s, end) with no trailing
 * blanks. Types may be several words ("ACPI data"); runs of blanks inside a
 * type count as one space. Returns 0 with the type, node (0 if left out)
 * and the node's column (0 if left out), or an error.
 */
static int parse_type_node(struct map_parser *p, const char *s, const char *end,
			   enum kmm_e820_type *type, int *node, int *node_col)
{
	char name[64], shown[64];
	size_t n = 0;
	bool too_long = false;
	const char *pos = s, *last = NULL, *last_end = NULL;
	const char *type_end;

	s = skip_blanks(s, end);
	if (s == end)
		return map_error_at(p, s, "expected a type (%s), found end of line",
				    map_known_types);
	/* Find the last token: it is NODE if what comes before it is a type. */
	for (pos = s; pos < end;) {
		struct map_tok t = next_tok(&pos, end);
		if (t.len) {
			last = t.s;
			last_end = t.s + t.len;
		}
	}
	*node = 0;
	*node_col = 0;
	/* Try the whole rest as a type first, then all but the last token. */
	for (int attempt = 0; attempt < 2; attempt++) {
		type_end = attempt == 0 ? end : last;
		if (attempt == 1 && last == s)
			break;
		n = 0;
		too_long = false;
		for (pos = s; pos < type_end;) {
			struct map_tok t = next_tok(&pos, type_end);
			if (!t.len)
				break;
			if (n + t.len + 1 >= sizeof(name)) {
				too_long = true;
				break;
			}
			if (n)
				name[n++] = ' ';
			memcpy(name + n, t.s, t.len);
			n += t.len;
		}
		if (too_long || kmm_e820_type_parse(name, n, type))
			continue;
		if (attempt == 0)
			return 0;
		/* The last token is the node. */
		struct map_tok nt = {last, (size_t)(last_end - last)};
		uint64_t v;
		tok_show(shown, sizeof(shown), nt.s, nt.len);
		if (!parse_uint(nt, UINT32_MAX, &v))
			return map_error_at(p, last,
					    "expected a node number (0 to %d) after the type, "
					    "found %s",
					    MAP_MAX_NODE, shown);
		if (v > MAP_MAX_NODE)
			return map_error_at(p, last,
					    "node %llu is above %d, the highest node kmm simulates",
					    (unsigned long long)v, MAP_MAX_NODE);
		*node = (int)v;
		*node_col = col_of(p, last);
		return 0;
	}
	/* Neither: name what was found, without a trailing number. */
	type_end = end;
	if (last != s) {
		uint64_t v;
		if (parse_uint((struct map_tok){last, (size_t)(last_end - last)}, UINT64_MAX, &v))
			type_end = last;
		while (type_end > s && is_blank(type_end[-1]))
			type_end--;
	}
	tok_show(shown, sizeof(shown), s, (size_t)(type_end - s));
	return map_error_at(p, s, "unknown type: expected one of %s; found %s", map_known_types,
			    shown);
}

/* "[mem 0xSTART-0xEND]" at *pos; END inclusive as printed. Moves *pos past ']'. */
static int parse_mem_bracket(struct map_parser *p, const char **pos, const char *end,
			     uint64_t *start, uint64_t *last, const char **start_at,
			     const char **end_at)
{
	char shown[64];
	const char *s = *pos;
	const char *open = s;
	if (end - s < 5 || strncmp(s, "[mem", 4) || !is_blank(s[4])) {
		tok_show(shown, sizeof(shown), s, (size_t)(end - s));
		return map_error_at(p, s, "expected '[mem START-END]', found %s", shown);
	}
	s = skip_blanks(s + 4, end);
	const char *a = s;
	while (s < end && *s != '-' && *s != ']' && !is_blank(*s))
		s++;
	*start_at = a;
	if (!kmm_parse_size(a, (size_t)(s - a), start)) {
		tok_show(shown, sizeof(shown), a, (size_t)(s - a));
		return map_error_at(p, a,
				    "expected a start address like 0x100000 after '[mem', "
				    "found %s",
				    shown);
	}
	if (s == end || *s != '-') {
		tok_show(shown, sizeof(shown), s, (size_t)(end - s) > 1 ? 1 : (size_t)(end - s));
		return map_error_at(p, s, "expected '-' between the start and the end, found %s",
				    shown);
	}
	const char *b = ++s;
	while (s < end && *s != ']' && !is_blank(*s))
		s++;
	*end_at = b;
	if (!kmm_parse_size(b, (size_t)(s - b), last)) {
		tok_show(shown, sizeof(shown), b, (size_t)(s - b));
		return map_error_at(p, b,
				    "expected an end address like 0xbffdffff after '-', "
				    "found %s",
				    shown);
	}
	if (s == end || *s != ']') {
		tok_show(shown, sizeof(shown), s, (size_t)(end - s) > 1 ? 1 : (size_t)(end - s));
		return map_error_at(p, s, "expected ']' to close '[mem' of column %d, found %s",
				    col_of(p, open), shown);
	}
	*pos = s + 1;
	return 0;
}

/* Add one range after the checks every range gets; the tokens are for messages. */
static int map_add_range(struct map_parser *p, uint64_t start, uint64_t end,
			 enum kmm_e820_type type, int node, int node_col, const char *start_at,
			 const char *end_at)
{
	struct kmm_machine_desc *d = p->desc;
	if (start >= end)
		return map_error_at(p, end_at,
				    "empty range: expected an end above the start 0x%llx, found "
				    "0x%llx",
				    (unsigned long long)start, (unsigned long long)end);
	for (int i = 0; i < d->nr_ranges; i++) {
		struct kmm_mem_range *r = &d->ranges[i];
		if (r->start < end && start < r->end)
			return map_error_at(
			    p, start_at,
			    "range [mem 0x%llx-0x%llx] overlaps [mem 0x%llx-0x%llx] "
			    "from line %d; ranges must not overlap",
			    (unsigned long long)start, (unsigned long long)end - 1,
			    (unsigned long long)r->start, (unsigned long long)r->end - 1,
			    p->range_line[i]);
	}
	if (d->nr_ranges >= KMM_MAX_RANGES)
		return map_error_at(p, start_at, "too many ranges: kmm takes at most %d",
				    KMM_MAX_RANGES);
	if (kmm_desc_add_range(d, start, end, type, type == KMM_E820_RAM ? node : -1))
		return map_error_at(p, start_at, "too many ranges: kmm takes at most %d",
				    KMM_MAX_RANGES);
	/* Find where the sorted insert put it and keep the side arrays in step. */
	int i = d->nr_ranges - 1;
	while (i > 0 && d->ranges[i].start != start)
		i--;
	memmove(&p->range_line[i + 1], &p->range_line[i],
		sizeof(p->range_line[0]) * (size_t)(d->nr_ranges - 1 - i));
	memmove(&p->range_node_col[i + 1], &p->range_node_col[i],
		sizeof(p->range_node_col[0]) * (size_t)(d->nr_ranges - 1 - i));
	p->range_line[i] = p->lineno;
	p->range_node_col[i] = type == KMM_E820_RAM ? node_col : 0;
	return 0;
}

/* START END TYPE [NODE], END exclusive. */
static int parse_plain_range(struct map_parser *p, const char *s, const char *end)
{
	char shown[64];
	const char *pos = s;
	struct map_tok a = next_tok(&pos, end);
	struct map_tok b = next_tok(&pos, end);
	uint64_t start, stop;
	enum kmm_e820_type type;
	int node, node_col, ret;

	if (!kmm_parse_size(a.s, a.len, &start)) {
		tok_show(shown, sizeof(shown), a.s, a.len);
		return map_error_at(p, a.s,
				    "expected a range 'START END TYPE [NODE]', '[mem START-END] "
				    "TYPE [NODE]' or a directive (cpus, cpu, distance), found %s",
				    shown);
	}
	if (!kmm_parse_size(b.s, b.len, &stop)) {
		tok_show(shown, sizeof(shown), b.s, b.len);
		return map_error_at(p, b.s,
				    "expected an end address (exclusive, like 0xc0000000 or 3G) "
				    "after the start, found %s",
				    shown);
	}
	ret = parse_type_node(p, pos, end, &type, &node, &node_col);
	if (ret)
		return ret;
	if (type == KMM_E820_RAM && !KMM_IS_ALIGNED(start, PAGE_SIZE))
		return map_error_at(p, a.s,
				    "unaligned: expected usable RAM to start on a 4 KiB page, "
				    "found 0x%llx",
				    (unsigned long long)start);
	if (type == KMM_E820_RAM && !KMM_IS_ALIGNED(stop, PAGE_SIZE))
		return map_error_at(p, b.s,
				    "unaligned: expected usable RAM to end on a 4 KiB page, found "
				    "0x%llx",
				    (unsigned long long)stop);
	return map_add_range(p, start, stop, type, node, node_col, a.s, b.s);
}

/* "[mem 0xSTART-0xEND] TYPE [NODE]", END inclusive, after any log prefix. */
static int parse_e820_range(struct map_parser *p, const char *s, const char *end)
{
	uint64_t start = 0, last = 0;
	const char *start_at = s, *end_at = s;
	enum kmm_e820_type type;
	int node, node_col;
	int ret = parse_mem_bracket(p, &s, end, &start, &last, &start_at, &end_at);
	if (ret)
		return ret;
	ret = parse_type_node(p, s, end, &type, &node, &node_col);
	if (ret)
		return ret;
	if (last == UINT64_MAX)
		return map_error_at(p, end_at,
				    "expected an end below 0xffffffffffffffff, found "
				    "the top of the address space");
	if (last < start)
		return map_error_at(p, end_at,
				    "empty range: expected an end at or above the start 0x%llx, "
				    "found 0x%llx",
				    (unsigned long long)start, (unsigned long long)last);
	return map_add_range(p, start, last + 1, type, node, node_col, start_at, end_at);
}

static int expect_line_end(struct map_parser *p, const char *pos, const char *end,
			   const char *after)
{
	char shown[64];
	struct map_tok t = next_tok(&pos, end);
	if (!t.len)
		return 0;
	tok_show(shown, sizeof(shown), t.s, t.len);
	return map_error_at(p, t.s, "expected end of line after %s, found %s", after, shown);
}

/* cpus N */
static int parse_cpus(struct map_parser *p, const char *pos, const char *end)
{
	char shown[64];
	struct map_tok t = next_tok(&pos, end);
	uint64_t v;
	if (p->cpus_line)
		return map_error_at(p, t.s, "'cpus' given twice (first on line %d)", p->cpus_line);
	tok_show(shown, sizeof(shown), t.s, t.len);
	if (!parse_uint(t, UINT32_MAX, &v) || v < 1 || v > KMM_MAX_CPUS)
		return map_error_at(p, t.s,
				    "expected a CPU count from 1 to %d after 'cpus', found %s",
				    KMM_MAX_CPUS, shown);
	p->cpus = (int)v;
	p->cpus_line = p->lineno;
	return expect_line_end(p, pos, end, "'cpus N'");
}

/* cpu C node N */
static int parse_cpu(struct map_parser *p, const char *pos, const char *end)
{
	char shown[64];
	struct map_tok c = next_tok(&pos, end);
	struct map_tok kw, n;
	uint64_t cpu, node;

	tok_show(shown, sizeof(shown), c.s, c.len);
	if (!parse_uint(c, UINT32_MAX, &cpu) || cpu >= KMM_MAX_CPUS)
		return map_error_at(p, c.s,
				    "expected a CPU number from 0 to %d after 'cpu', found %s",
				    KMM_MAX_CPUS - 1, shown);
	if (p->cpu_col[cpu].line)
		return map_error_at(p, c.s, "cpu %llu given twice (first on line %d)",
				    (unsigned long long)cpu, p->cpu_col[cpu].line);
	kw = next_tok(&pos, end);
	if (!tok_is(kw, "node")) {
		tok_show(shown, sizeof(shown), kw.s, kw.len);
		return map_error_at(p, kw.s, "expected 'node' in 'cpu C node N', found %s", shown);
	}
	n = next_tok(&pos, end);
	tok_show(shown, sizeof(shown), n.s, n.len);
	if (!parse_uint(n, UINT32_MAX, &node))
		return map_error_at(p, n.s,
				    "expected a node number from 0 to %d after 'node', found %s",
				    MAP_MAX_NODE, shown);
	if (node > MAP_MAX_NODE)
		return map_error_at(p, n.s, "node %llu is above %d, the highest node kmm simulates",
				    (unsigned long long)node, MAP_MAX_NODE);
	p->cpu_col[cpu] = (struct map_where){p->lineno, col_of(p, c.s)};
	p->cpu_node_col[cpu] = (struct map_where){p->lineno, col_of(p, n.s)};
	p->cpu_node[cpu] = (short)node;
	return expect_line_end(p, pos, end, "'cpu C node N'");
}

/* distance A B D */
static int parse_distance(struct map_parser *p, const char *pos, const char *end)
{
	char shown[64];
	struct map_tok t[3];
	uint64_t v[3];
	for (int i = 0; i < 3; i++) {
		t[i] = next_tok(&pos, end);
		tok_show(shown, sizeof(shown), t[i].s, t[i].len);
		if (i < 2 && !parse_uint(t[i], UINT32_MAX, &v[i]))
			return map_error_at(p, t[i].s,
					    "expected a node number from 0 to %d in 'distance A B "
					    "D', found %s",
					    MAP_MAX_NODE, shown);
		if (i < 2 && v[i] > MAP_MAX_NODE)
			return map_error_at(p, t[i].s,
					    "node %llu is above %d, the highest node kmm simulates",
					    (unsigned long long)v[i], MAP_MAX_NODE);
		if (i == 2 && !parse_uint(t[i], UINT32_MAX, &v[i]))
			return map_error_at(p, t[i].s,
					    "expected a distance (10 to a node itself, 11 to 254 "
					    "to another) in 'distance A B D', found %s",
					    shown);
	}
	if (v[0] == v[1] && v[2] != 10)
		return map_error_at(
		    p, t[2].s, "bad distance: expected 10 from node %llu to itself, found %llu",
		    (unsigned long long)v[0], (unsigned long long)v[2]);
	if (v[0] != v[1] && (v[2] < 11 || v[2] > 254))
		return map_error_at(p, t[2].s,
				    "bad distance: expected 11 to 254 between nodes %llu and %llu, "
				    "found %llu",
				    (unsigned long long)v[0], (unsigned long long)v[1],
				    (unsigned long long)v[2]);
	for (int i = 0; i < 2; i++) {
		if ((int)v[i] > p->dist_max_node) {
			p->dist_max_node = (int)v[i];
			p->dist_max_where = (struct map_where){p->lineno, col_of(p, t[i].s)};
		}
	}
	p->desc->distance[v[0]][v[1]] = (unsigned char)v[2];
	p->desc->distance[v[1]][v[0]] = (unsigned char)v[2];
	p->desc->distance_given = true;
	return expect_line_end(p, pos, end, "'distance A B D'");
}

/* A "[    0.000000] " timestamp at s: returns what follows it, or s. */
static const char *skip_timestamp(const char *s, const char *end)
{
	const char *q = s;
	if (q == end || *q != '[')
		return s;
	q++;
	while (q < end && *q == ' ')
		q++;
	const char *digits = q;
	while (q < end && ((*q >= '0' && *q <= '9') || *q == '.'))
		q++;
	if (q == digits || q == end || *q != ']')
		return s;
	return skip_blanks(q + 1, end);
}

static int parse_line(struct map_parser *p, const char *s, const char *end)
{
	const char *pos;
	struct map_tok first;

	s = skip_blanks(skip_timestamp(s, end), end);
	if (end - s >= 10 && !strncmp(s, "BIOS-e820:", 10))
		s = skip_blanks(s + 10, end);
	if (s < end && *s == '[')
		return parse_e820_range(p, s, end);
	pos = s;
	first = next_tok(&pos, end);
	if (tok_is(first, "cpus"))
		return parse_cpus(p, pos, end);
	if (tok_is(first, "cpu"))
		return parse_cpu(p, pos, end);
	if (tok_is(first, "distance"))
		return parse_distance(p, pos, end);
	return parse_plain_range(p, s, end);
}

/*
 * The checks that need the whole file: nodes 0..N-1 all with RAM, CPU and
 * node numbers within the totals. Then the CPUs' nodes are filled in.
 */
static int map_finish(struct map_parser *p)
{
	struct kmm_machine_desc *d = p->desc;
	uint64_t has_ram = 0;
	int max_node = -1;

	for (int i = 0; i < d->nr_ranges; i++) {
		if (d->ranges[i].type != KMM_E820_RAM)
			continue;
		has_ram |= 1ULL << d->ranges[i].node;
		max_node = kmm_max(max_node, d->ranges[i].node);
	}
	d->nr_nodes = max_node < 0 ? 1 : max_node + 1;
	/* No RAM at all is kmm_desc_validate()'s to report. */
	for (int n = 0; n <= max_node; n++) {
		if (has_ram & (1ULL << n))
			continue;
		/* Blame the first line, in file order, that named a higher node. */
		int blame = -1;
		for (int i = 0; i < d->nr_ranges; i++)
			if (d->ranges[i].type == KMM_E820_RAM && d->ranges[i].node > n &&
			    (blame < 0 || p->range_line[i] < p->range_line[blame]))
				blame = i;
		struct map_where w = {p->range_line[blame], p->range_node_col[blame]};
		return map_error_where(p, w,
				       "node %d has no memory: nodes are numbered from 0 without "
				       "gaps and each needs usable RAM, found RAM on node %d",
				       n, d->ranges[blame].node);
	}

	d->nr_cpus = p->cpus ? p->cpus : d->nr_nodes;
	for (int c = 0; c < d->nr_cpus; c++)
		d->cpu_node[c] = (short)((long)c * d->nr_nodes / d->nr_cpus);
	for (int c = 0; c < KMM_MAX_CPUS; c++) {
		if (!p->cpu_col[c].line)
			continue;
		if (c >= d->nr_cpus) {
			if (p->cpus)
				return map_error_where(
				    p, p->cpu_col[c],
				    "cpu %d is beyond 'cpus %d' of line %d (CPUs "
				    "are numbered from 0 to %d)",
				    c, p->cpus, p->cpus_line, d->nr_cpus - 1);
			return map_error_where(
			    p, p->cpu_col[c],
			    "cpu %d is beyond the %d CPU%s of the machine (one per "
			    "node without a 'cpus' line)",
			    c, d->nr_cpus, d->nr_cpus == 1 ? "" : "s");
		}
		if (p->cpu_node[c] >= d->nr_nodes)
			return map_error_where(p, p->cpu_node_col[c],
					       "expected a node with memory (0 to %d) for cpu %d, "
					       "found node %d",
					       d->nr_nodes - 1, c, p->cpu_node[c]);
		d->cpu_node[c] = p->cpu_node[c];
	}
	if (p->dist_max_node >= d->nr_nodes)
		return map_error_where(p, p->dist_max_where,
				       "bad distance: node %d has no memory (the machine has %d "
				       "node%s)",
				       p->dist_max_node, d->nr_nodes, d->nr_nodes == 1 ? "" : "s");
	return 0;
}

/*
 * kmm_desc_parse_map - build a machine description from a --map text.
 * @desc: filled from scratch (kmm_desc_init first)
 * @text: the file's contents, NUL-terminated
 * @filename: for messages and desc->source
 * @err: receives "FILE:LINE:COL: expected ..., found ..." on failure
 *
 * Context: host memory only for the parser's bookkeeping; takes no lock.
 * Return: 0, or -EINVAL with a message; never asserts on any input.
 */
int kmm_desc_parse_map(struct kmm_machine_desc *desc, const char *text, const char *filename,
		       struct kmm_error *err)
{
	struct map_parser *p = kmm_port_alloc(sizeof(*p));
	const char *ln = text;
	int ret = 0;

	kmm_desc_init(desc);
	kmm_port_snprintf(desc->source, sizeof(desc->source), "%s", filename);
	if (!p)
		return kmm_error_set(err, -ENOMEM, "%s: out of memory", filename);
	p->desc = desc;
	p->file = filename;
	p->err = err;
	p->dist_max_node = -1;

	while (*ln && !ret) {
		const char *nl = strchr(ln, '\n');
		const char *end = nl ? nl : ln + strlen(ln);
		const char *hash = memchr(ln, '#', (size_t)(end - ln));
		p->lineno++;
		p->line = ln;
		if (hash)
			end = hash;
		while (end > ln && is_blank(end[-1]))
			end--;
		if (skip_blanks(ln, end) < end)
			ret = parse_line(p, ln, end);
		if (!nl)
			break;
		ln = nl + 1;
	}
	if (!ret)
		ret = map_finish(p);
	kmm_port_free(p, sizeof(*p));
	if (ret)
		return ret;
	return kmm_desc_validate(desc, err);
}
