/*
 * kmm pages: boot a machine, then run a short script of page allocator
 * operations and print what each one did, so that the buddy allocator can
 * be watched as it changes (buddyinfo, pagetypeinfo and kmmstat between
 * steps).
 *
 * Linux counterpart: none as a program; the operations are the kernel's
 * alloc_pages_node(), __free_pages(), alloc_pages_bulk_array(),
 * drain_all_pages(), the /proc/sys/vm tunables and fail_page_alloc.
 *
 * Theory of operation:
 *  1. The script (from -e, -f, a pipe, or typed at a prompt) is parsed in
 *     full before the machine boots. Every block an alloc or bulk command
 *     will make gets its name at parse time (a1, a2, ... and b1, b2, ...),
 *     so a free of a name the script never made, or made and freed
 *     already, is a script error with its line and column, and nothing
 *     runs.
 *  2. After boot, the checks that need the machine run (node and CPU
 *     numbers, tunable names), still before the first command.
 *  3. The commands run in order on one host thread. Until a `cpu` command
 *     the thread is on no simulated CPU, so allocations and frees go
 *     straight to the zones' buddy lists; on a CPU they go through that
 *     CPU's per-CPU lists as in the kernel. Whatever the kernel logs while a
 *     command runs (a failed allocation's warning) is printed after it.
 *
 * Typed at a prompt, each line is parsed, checked and run on its own; an
 * error in a line is reported and the line is dropped.
 */
#include "cli.h"
#include <kmm/ftrace.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Most blocks one alloc (xN) or bulk command may ask for. */
#define MAX_COUNT (1UL << 20)

enum op_kind {
	OP_ALLOC,
	OP_FREE,
	OP_FREE_ALL,
	OP_BULK,
	OP_DRAIN,
	OP_SHOW,
	OP_SYSCTL,
	OP_FAIL,
	OP_VALIDATE,
	OP_CPU,
	OP_ECHO,
	OP_HELP,
};

struct where {
	int line, col;
};

struct op {
	enum op_kind kind;
	struct where at;
	unsigned int order;
	gfp_t gfp;
	unsigned long count; /* alloc xN, bulk N */
	int node, cpu;	     /* -1: not given (OP_CPU: -1 is "cpu none") */
	struct where node_at, cpu_at, arg_at;
	size_t first; /* alloc, bulk: first block; free: first entry of refs[] */
	size_t nrefs; /* free: how many names */
	char *arg;    /* show: view; sysctl: NAME=VALUE; fail: spec; echo: text */
};

/* A block an alloc command makes, or the page array of a bulk command. */
struct block {
	bool bulk;
	unsigned int num;     /* the N of aN or bN */
	unsigned int order;   /* single blocks */
	bool freed_in_script; /* parse time: a free command names it */
	struct where freed_at;
	/* Run time. */
	bool live;
	struct kmm_page *page;	 /* single */
	struct kmm_page **pages; /* bulk: array of count entries */
	unsigned long nr;	 /* bulk: pages obtained */
};

struct script {
	const char *source; /* for messages: "script", a file name, "stdin" */
	struct op *ops;
	size_t nops, ops_cap;
	struct block *blocks;
	size_t nblocks, blocks_cap;
	size_t *refs; /* block indexes named by free commands */
	size_t nrefs, refs_cap;
	/* Block index of each name: single[n - 1] is an, bulk[n - 1] is bn. */
	size_t *single, *bulkset;
	size_t nsingle, single_cap, nbulk, bulk_cap;
	/* Blocks marked freed by the line being parsed, to undo on an error. */
	size_t *undo;
	size_t nundo, undo_cap;
	char msg[600]; /* the first error */
};

static void *grow(void *p, size_t *cap, size_t want, size_t size)
{
	if (want <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < want)
		n *= 2;
	void *q = realloc(p, n * size);
	if (!q) {
		cli_error("out of host memory");
		exit(KMM_EXIT_WORKLOAD);
	}
	*cap = n;
	return q;
}

/* --- Lexing
 ----------------------------------------------------------------------- */

struct lexer {
	const char *line;
	size_t len, pos;
	int lineno;
};

struct token {
	const char *s;
	size_t len;
	int col;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The next word of the current command. Returns false at the end of the
 * command: a ';', the end of the line, or a '#' that starts a word (a
 * comment, as in the shell). The token then says where the command ended.
 */
static bool next_token(struct lexer *lx, struct token *t)
{
	while (lx->pos < lx->len && is_blank(lx->line[lx->pos]))
		lx->pos++;
	t->s = lx->line + lx->pos;
	t->col = (int)lx->pos + 1;
	t->len = 0;
	if (lx->pos >= lx->len || lx->line[lx->pos] == ';')
		return false;
	if (lx->line[lx->pos] == '#') {
		lx->pos = lx->len;
		return false;
	}
	while (lx->pos < lx->len && !is_blank(lx->line[lx->pos]) && lx->line[lx->pos] != ';')
		lx->pos++;
	t->len = (size_t)(lx->line + lx->pos - t->s);
	return true;
}

/* The rest of the command as written (for echo and sysctl), without outer blanks. */
static struct token rest_of_command(struct lexer *lx)
{
	struct token first, t;
	if (!next_token(lx, &first))
		return first;
	const char *end = first.s + first.len;
	while (next_token(lx, &t))
		end = t.s + t.len;
	first.len = (size_t)(end - first.s);
	return first;
}

static bool tok_is(const struct token *t, const char *word)
{
	return t->len == strlen(word) && !memcmp(t->s, word, t->len);
}

static char *tok_dup(const struct token *t)
{
	char *s = malloc(t->len + 1);
	if (!s) {
		cli_error("out of host memory");
		exit(KMM_EXIT_WORKLOAD);
	}
	memcpy(s, t->s, t->len);
	s[t->len] = '\0';
	return s;
}

/* How an error message shows a token: quoted, or what ended the command. */
static const char *found(const struct token *t, char *buf, size_t len)
{
	if (t->len)
		snprintf(buf, len, "'%.*s'", (int)kmm_min(t->len, (size_t)80), t->s);
	else if (*t->s == ';')
		snprintf(buf, len, "';'");
	else
		snprintf(buf, len, "end of line");
	return buf;
}

__attribute__((format(printf, 4, 5))) static int parse_error(struct script *s, int line, int col,
							     const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(s->msg, sizeof(s->msg), "%s:%d:%d: ", s->source, line, col);
	va_start(ap, fmt);
	vsnprintf(s->msg + n, sizeof(s->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* "expected WHAT, found TOKEN" at the token. */
static int expected(struct script *s, struct lexer *lx, const struct token *t, const char *what)
{
	char f[100];
	return parse_error(s, lx->lineno, t->col, "expected %s, found %s", what,
			   found(t, f, sizeof(f)));
}

/* A decimal number of at most @max. */
static bool tok_number(const struct token *t, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (!t->len || t->len > 9)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(t->s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* --- Parsing ---------------------------------------------------------------------- */

static struct op *new_op(struct script *s, enum op_kind kind, struct where at)
{
	s->ops = grow(s->ops, &s->ops_cap, s->nops + 1, sizeof(*s->ops));
	struct op *op = &s->ops[s->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->at = at;
	op->node = op->cpu = -1;
	op->gfp = GFP_KERNEL;
	op->count = 1;
	return op;
}

static size_t new_block(struct script *s, bool bulk, unsigned int order)
{
	s->blocks = grow(s->blocks, &s->blocks_cap, s->nblocks + 1, sizeof(*s->blocks));
	size_t idx = s->nblocks++;
	struct block *b = &s->blocks[idx];
	memset(b, 0, sizeof(*b));
	b->bulk = bulk;
	b->order = order;
	if (bulk) {
		s->bulkset = grow(s->bulkset, &s->bulk_cap, s->nbulk + 1, sizeof(size_t));
		s->bulkset[s->nbulk++] = idx;
		b->num = (unsigned int)s->nbulk;
	} else {
		s->single = grow(s->single, &s->single_cap, s->nsingle + 1, sizeof(size_t));
		s->single[s->nsingle++] = idx;
		b->num = (unsigned int)s->nsingle;
	}
	return idx;
}

static void block_name(const struct block *b, char *buf, size_t len)
{
	snprintf(buf, len, "%c%u", b->bulk ? 'b' : 'a', b->num);
}

static void mark_freed(struct script *s, size_t idx, struct where at)
{
	s->blocks[idx].freed_in_script = true;
	s->blocks[idx].freed_at = at;
	s->undo = grow(s->undo, &s->undo_cap, s->nundo + 1, sizeof(size_t));
	s->undo[s->nundo++] = idx;
}

/* Zone modifiers: at most one of DMA, DMA32 and HIGHMEM (Linux's GFP_ZONE_BAD). */
static bool gfp_zone_ok(gfp_t gfp)
{
	gfp_t z = gfp & (__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
	return !(z & (z - 1));
}

static int parse_gfp(struct script *s, struct lexer *lx, const struct token *t, gfp_t *gfp)
{
	char *text = tok_dup(t);
	int ret = kmm_gfp_parse(text, gfp);
	free(text);
	if (ret)
		return expected(s, lx, t,
				"a GFP mask such as GFP_KERNEL, GFP_ATOMIC|__GFP_ZERO or "
				"GFP_DMA32, or xN, node N, cpu N");
	if (!gfp_zone_ok(*gfp))
		return expected(s, lx, t,
				"a GFP mask with at most one of __GFP_DMA, __GFP_DMA32 and "
				"__GFP_HIGHMEM");
	return 0;
}

static int parse_alloc(struct script *s, struct lexer *lx, struct op *op)
{
	struct token t;
	unsigned long v;
	bool have_gfp = false, have_count = false;

	if (!next_token(lx, &t) || !tok_number(&t, MAX_PAGE_ORDER, &v))
		return expected(s, lx, &t, "an order from 0 to 10");
	op->order = (unsigned int)v;
	while (next_token(lx, &t)) {
		if (tok_is(&t, "node") || tok_is(&t, "cpu")) {
			bool node = t.s[0] == 'n';
			if ((node && op->node >= 0) || (!node && op->cpu >= 0))
				return expected(s, lx, &t, "each of node and cpu at most once");
			struct where at = {lx->lineno, t.col};
			if (!next_token(lx, &t) || !tok_number(&t, 100000, &v))
				return expected(s, lx, &t,
						node ? "a node number after 'node'"
						     : "a CPU number after 'cpu'");
			at.col = t.col;
			if (node) {
				op->node = (int)v;
				op->node_at = at;
			} else {
				op->cpu = (int)v;
				op->cpu_at = at;
			}
		} else if (t.s[0] == 'x' && t.len > 1 && t.s[1] >= '0' && t.s[1] <= '9') {
			struct token n = {t.s + 1, t.len - 1, t.col + 1};
			if (have_count)
				return expected(s, lx, &t, "one count xN");
			if (!tok_number(&n, MAX_COUNT, &v) || !v)
				return expected(s, lx, &t, "a count xN with N from 1 to 1048576");
			op->count = v;
			have_count = true;
		} else {
			if (have_gfp)
				return expected(s, lx, &t,
						"one GFP mask, then xN, node N or cpu N");
			if (parse_gfp(s, lx, &t, &op->gfp))
				return -1;
			have_gfp = true;
		}
	}
	op->first = s->nblocks;
	for (unsigned long i = 0; i < op->count; i++)
		new_block(s, false, op->order);
	return 0;
}

/* One name (a3, b1) or a range (a1-a8) of names to free. */
static int parse_free_name(struct script *s, struct lexer *lx, const struct token *t, struct op *op)
{
	char kind = t->s[0];
	const char *dash = memchr(t->s, '-', t->len);
	struct token lo = {t->s + 1, (dash ? (size_t)(dash - t->s) : t->len) - 1, t->col + 1};
	struct token hi = lo;
	unsigned long from, to;
	if (dash) {
		if (dash + 1 >= t->s + t->len || dash[1] != kind)
			return expected(s, lx, t, "a range of names such as a1-a8");
		hi.s = dash + 2;
		hi.len = (size_t)(t->s + t->len - hi.s);
	}
	if ((kind != 'a' && kind != 'b') || !tok_number(&lo, 1UL << 30, &from) ||
	    !tok_number(&hi, 1UL << 30, &to) || !from || to < from)
		return expected(s, lx, t, "a block name (a1, b2), a range (a1-a8) or 'all'");
	size_t have = kind == 'a' ? s->nsingle : s->nbulk;
	if (to > have) {
		char f[100];
		if (!have)
			return parse_error(s, lx->lineno, t->col,
					   "expected the name of a block the script allocated "
					   "before, found %s (no '%s' command before it)",
					   found(t, f, sizeof(f)), kind == 'a' ? "alloc" : "bulk");
		if (have == 1)
			return parse_error(s, lx->lineno, t->col,
					   "expected the name of a block the script allocated "
					   "before, found %s (the only one so far is %c1)",
					   found(t, f, sizeof(f)), kind);
		return parse_error(s, lx->lineno, t->col,
				   "expected the name of a block the script allocated before, "
				   "found %s (names so far: %c1 to %c%zu)",
				   found(t, f, sizeof(f)), kind, kind, have);
	}
	for (unsigned long n = from; n <= to; n++) {
		size_t idx = kind == 'a' ? s->single[n - 1] : s->bulkset[n - 1];
		struct block *b = &s->blocks[idx];
		if (b->freed_in_script) {
			char f[100], name[16];
			block_name(b, name, sizeof(name));
			return parse_error(s, lx->lineno, t->col,
					   "expected a block that is still allocated, found %s "
					   "(%s was freed at line %d, column %d)",
					   found(t, f, sizeof(f)), name, b->freed_at.line,
					   b->freed_at.col);
		}
		mark_freed(s, idx, (struct where){lx->lineno, t->col});
		s->refs = grow(s->refs, &s->refs_cap, s->nrefs + 1, sizeof(size_t));
		s->refs[s->nrefs++] = idx;
		op->nrefs++;
	}
	return 0;
}

static int parse_free(struct script *s, struct lexer *lx, struct op *op)
{
	struct token t;
	if (!next_token(lx, &t))
		return expected(s, lx, &t, "a block name (a1, b2), a range (a1-a8) or 'all'");
	if (tok_is(&t, "all")) {
		op->kind = OP_FREE_ALL;
		for (size_t i = 0; i < s->nblocks; i++)
			if (!s->blocks[i].freed_in_script)
				mark_freed(s, i, (struct where){lx->lineno, t.col});
		if (next_token(lx, &t))
			return expected(s, lx, &t, "nothing after 'free all'");
		return 0;
	}
	op->first = s->nrefs;
	do {
		if (parse_free_name(s, lx, &t, op))
			return -1;
	} while (next_token(lx, &t));
	return 0;
}

static int parse_bulk(struct script *s, struct lexer *lx, struct op *op)
{
	struct token t;
	unsigned long v;
	if (!next_token(lx, &t) || !tok_number(&t, MAX_COUNT, &v) || !v)
		return expected(s, lx, &t, "a number of pages from 1 to 1048576");
	op->count = v;
	if (next_token(lx, &t)) {
		if (parse_gfp(s, lx, &t, &op->gfp))
			return -1;
		if (next_token(lx, &t))
			return expected(s, lx, &t, "nothing after the GFP mask");
	}
	op->first = new_block(s, true, 0);
	return 0;
}

static const char *view_list(void)
{
	static char list[200];
	if (!list[0]) {
		size_t n = 0;
		for (int v = 0; kmm_proc_views[v] && n < sizeof(list); v++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", v ? ", " : "",
					      kmm_proc_views[v]);
	}
	return list;
}

static int parse_show(struct script *s, struct lexer *lx, struct op *op)
{
	struct token t;
	char what[260];
	snprintf(what, sizeof(what), "a view (%s)", view_list());
	if (!next_token(lx, &t))
		return expected(s, lx, &t, what);
	for (int v = 0; kmm_proc_views[v]; v++)
		if (tok_is(&t, kmm_proc_views[v]))
			op->arg = tok_dup(&t);
	if (!op->arg)
		return expected(s, lx, &t, what);
	if (next_token(lx, &t))
		return expected(s, lx, &t, "one view per 'show'");
	return 0;
}

static int parse_fail(struct script *s, struct lexer *lx, struct op *op)
{
	struct token t;
	if (!next_token(lx, &t))
		return expected(s, lx, &t, "a fault injection spec such as nth=3 or 'off'");
	op->arg = tok_dup(&t);
	op->arg_at = (struct where){lx->lineno, t.col};
	if (strcmp(op->arg, "off")) {
		struct kmm_fault_attr scratch;
		struct kmm_error err = {0};
		kmm_fault_attr_init(&scratch, 1);
		if (kmm_fault_attr_parse(&scratch, op->arg, &err))
			return parse_error(s, lx->lineno, t.col, "%s", err.msg);
	}
	if (next_token(lx, &t))
		return expected(s, lx, &t, "one spec, with keys joined by ',' and no blanks");
	return 0;
}

static int parse_command(struct script *s, struct lexer *lx, const struct token *word)
{
	static const struct {
		const char *name;
		enum op_kind kind;
	} words[] = {
	    {"alloc", OP_ALLOC}, {"free", OP_FREE},	    {"bulk", OP_BULK},
	    {"drain", OP_DRAIN}, {"show", OP_SHOW},	    {"sysctl", OP_SYSCTL},
	    {"fail", OP_FAIL},	 {"validate", OP_VALIDATE}, {"cpu", OP_CPU},
	    {"echo", OP_ECHO},	 {"help", OP_HELP},
	};
	struct token t;
	struct op *op = NULL;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(words) && !op; i++)
		if (tok_is(word, words[i].name))
			op = new_op(s, words[i].kind, (struct where){lx->lineno, word->col});
	if (!op)
		return expected(s, lx, word,
				"a command (alloc, free, bulk, drain, show, sysctl, fail, "
				"validate, cpu, echo, help)");
	switch (op->kind) {
	case OP_ALLOC:
		return parse_alloc(s, lx, op);
	case OP_FREE:
		return parse_free(s, lx, op);
	case OP_BULK:
		return parse_bulk(s, lx, op);
	case OP_SHOW:
		return parse_show(s, lx, op);
	case OP_FAIL:
		return parse_fail(s, lx, op);
	case OP_SYSCTL:
		t = rest_of_command(lx);
		if (!t.len || !memchr(t.s, '=', t.len) || t.s[0] == '=')
			return expected(s, lx, &t, "NAME=VALUE, e.g. watermark_scale_factor=100");
		op->arg = tok_dup(&t);
		op->arg_at = (struct where){lx->lineno, t.col};
		return 0;
	case OP_ECHO:
		t = rest_of_command(lx);
		op->arg = tok_dup(&t);
		return 0;
	case OP_CPU: {
		unsigned long v;
		if (!next_token(lx, &t))
			return expected(s, lx, &t, "a CPU number or 'none'");
		op->cpu_at = (struct where){lx->lineno, t.col};
		if (tok_is(&t, "none"))
			op->cpu = -1;
		else if (tok_number(&t, 100000, &v))
			op->cpu = (int)v;
		else
			return expected(s, lx, &t, "a CPU number or 'none'");
		break;
	}
	default:
		break;
	}
	if (next_token(lx, &t))
		return expected(s, lx, &t, "';' or the end of the line");
	return 0;
}

/* How much of a script there was before a line, to drop the line again. */
struct script_mark {
	size_t nops, nblocks, nrefs, nsingle, nbulk;
};

static struct script_mark script_mark(const struct script *s)
{
	return (struct script_mark){s->nops, s->nblocks, s->nrefs, s->nsingle, s->nbulk};
}

/* Drop what the line parsed since @mark made: ops, names, and its frees. */
static void script_rollback(struct script *s, const struct script_mark *mark)
{
	for (size_t i = s->nops; i > mark->nops; i--)
		free(s->ops[i - 1].arg);
	for (size_t i = 0; i < s->nundo; i++)
		if (s->undo[i] < mark->nblocks)
			s->blocks[s->undo[i]].freed_in_script = false;
	s->nundo = 0;
	s->nops = mark->nops;
	s->nblocks = mark->nblocks;
	s->nrefs = mark->nrefs;
	s->nsingle = mark->nsingle;
	s->nbulk = mark->nbulk;
}

/*
 * Parse one line into ops. On an error, the line's ops and block names are
 * dropped, as if it had not been given (the prompt goes on after one).
 */
static int parse_line(struct script *s, const char *line, size_t len, int lineno)
{
	struct lexer lx = {line, len, 0, lineno};
	struct script_mark mark = script_mark(s);
	struct token word;
	s->nundo = 0;
	for (;;) {
		if (next_token(&lx, &word) && parse_command(s, &lx, &word)) {
			script_rollback(s, &mark);
			return -1;
		}
		if (lx.pos >= lx.len)
			return 0;
		lx.pos++; /* the ';' */
	}
}

static int parse_text(struct script *s, const char *text)
{
	int lineno = 1;
	for (const char *p = text; *p; lineno++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (parse_line(s, p, len, lineno))
			return -1;
		p += len + (nl != NULL);
	}
	return 0;
}

static void script_free(struct script *s)
{
	for (size_t i = 0; i < s->nops; i++)
		free(s->ops[i].arg);
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i].pages);
	free(s->ops);
	free(s->blocks);
	free(s->refs);
	free(s->single);
	free(s->bulkset);
	free(s->undo);
}

/* --- Checks that need the machine ------------------------------------------------- */

static int check_ops(struct script *s, struct kmm_machine *m, size_t from)
{
	for (size_t i = from; i < s->nops; i++) {
		struct op *op = &s->ops[i];
		if (op->node >= m->nr_node_ids && m->nr_node_ids == 1)
			return parse_error(s, op->node_at.line, op->node_at.col,
					   "expected node 0 (the machine has one node), found '%d'",
					   op->node);
		if (op->node >= m->nr_node_ids)
			return parse_error(s, op->node_at.line, op->node_at.col,
					   "expected a node from 0 to %d, found '%d'",
					   m->nr_node_ids - 1, op->node);
		if (op->cpu >= m->nr_cpus && m->nr_cpus == 1)
			return parse_error(s, op->cpu_at.line, op->cpu_at.col,
					   "expected CPU 0 (the machine has one CPU), found '%d'",
					   op->cpu);
		if (op->cpu >= m->nr_cpus)
			return parse_error(s, op->cpu_at.line, op->cpu_at.col,
					   "expected a CPU from 0 to %d, found '%d'",
					   m->nr_cpus - 1, op->cpu);
		if (op->kind == OP_SYSCTL) {
			struct kmm_buf scratch;
			char name[128];
			size_t n = (size_t)(strchr(op->arg, '=') - op->arg);
			snprintf(name, sizeof(name), "%.*s", (int)n, op->arg);
			kmm_buf_init(&scratch);
			int ret = kmm_sysctl_get(m, name, &scratch);
			kmm_buf_free(&scratch);
			if (ret)
				return parse_error(
				    s, op->arg_at.line, op->arg_at.col,
				    "expected a tunable (min_free_kbytes, "
				    "watermark_scale_factor, watermark_boost_factor, "
				    "percpu_pagelist_high_fraction, lowmem_reserve_ratio, "
				    "transparent_hugepage/enabled), found '%s'",
				    name);
		}
	}
	return 0;
}

/* --- Running ---------------------------------------------------------------------- */

struct run {
	struct kmm_machine *m;
	struct script *s;
	size_t log_seen; /* how much of the kernel log is printed */
};

/* Print what the kernel logged since the last call. */
static void flush_log(struct run *r)
{
	struct kmm_buf *log = &r->m->log;
	if (log->len > r->log_seen) {
		fwrite(log->data + r->log_seen, 1, log->len - r->log_seen, stdout);
		r->log_seen = log->len;
	}
}

/*
 * The highest zone a mask allows (the kernel's gfp_zone()), for explaining
 * failures. Masks with conflicting zone modifiers never get this far.
 */
static enum zone_type highest_zone(const struct kmm_machine *m, gfp_t gfp)
{
	if (gfp & __GFP_DMA)
		return ZONE_DMA;
	if (gfp & __GFP_DMA32)
		return m->zone_in_arch[ZONE_DMA32] ? ZONE_DMA32 : ZONE_NORMAL;
	if (gfp & __GFP_HIGHMEM) {
		if (gfp & __GFP_MOVABLE)
			return ZONE_MOVABLE;
		return m->zone_in_arch[ZONE_HIGHMEM] ? ZONE_HIGHMEM : ZONE_NORMAL;
	}
	return ZONE_NORMAL;
}

static struct zonelist *zonelist_of(struct kmm_machine *m, int nid, gfp_t gfp)
{
	return &NODE_DATA(m, nid)->node_zonelists[(gfp & __GFP_THISNODE) ? ZONELIST_NOFALLBACK
									 : ZONELIST_FALLBACK];
}

/* The largest order with a free block on the lists an allocation may take from. */
static int largest_free_order(struct kmm_zone *zone)
{
	for (int o = MAX_PAGE_ORDER; o >= 0; o--)
		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			if (!list_empty(&zone->free_area[o].free_list[mt]))
				return o;
	return -1;
}

static unsigned long buddy_free_pages(struct kmm_zone *zone)
{
	unsigned long free = 0;
	for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++)
		free += zone->free_area[o].nr_free << o;
	return free;
}

/* Could a no-watermark allocation find a block? (So __GFP_NOFAIL would not spin.) */
static bool some_zone_has_block(struct kmm_machine *m, int nid, gfp_t gfp, unsigned int order)
{
	enum zone_type high = highest_zone(m, gfp);
	for (struct zoneref *z = zonelist_of(m, nid, gfp)->_zonerefs; z->zone; z++)
		if (z->zone_idx <= (int)high && largest_free_order(z->zone) >= (int)order)
			return true;
	return false;
}

/* One line on why an allocation returned NULL. */
static void explain_failure(struct run *r, int nid, gfp_t gfp, unsigned int order,
			    unsigned long injected)
{
	struct kmm_machine *m = r->m;
	if (m->fail_page_alloc.failed > injected) {
		printf("failed by fault injection (fail_page_alloc)\n");
		return;
	}
	enum zone_type high = highest_zone(m, gfp);
	const char *sep = "";
	bool any = false;
	printf("no allowed zone has a free block of order >= %u above its watermark (", order);
	for (struct zoneref *z = zonelist_of(m, nid, gfp)->_zonerefs; z->zone; z++) {
		if (z->zone_idx > (int)high)
			continue;
		struct kmm_zone *zone = z->zone;
		printf("%sNode %d %s: free %lu, min %lu + reserve %ld, largest order %d", sep,
		       zone->node, zone->name, buddy_free_pages(zone), min_wmark_pages(zone),
		       zone->lowmem_reserve[high], largest_free_order(zone));
		sep = "; ";
		any = true;
	}
	printf("%s)\n", any ? "" : "no zone of the zonelist is allowed by the mask");
}

static void print_gfp(gfp_t gfp)
{
	char buf[300];
	printf("gfp %s", kmm_gfp_decode(gfp, buf, sizeof(buf)));
}

/* Enter @cpu for one command unless the thread is on it; returns true if it entered. */
static bool enter_for(struct kmm_machine *m, int cpu)
{
	struct kmm_cpu *now = kmm_this_cpu(m);
	if (cpu < 0 || (now && now->id == cpu))
		return false;
	return kmm_cpu_enter(m, cpu) == 0;
}

static void run_alloc(struct run *r, struct op *op)
{
	struct kmm_machine *m = r->m;
	for (unsigned long i = 0; i < op->count; i++) {
		struct block *b = &r->s->blocks[op->first + i];
		char name[16];
		block_name(b, name, sizeof(name));
		bool entered = enter_for(m, op->cpu);
		struct kmm_cpu *cpu = kmm_this_cpu(m);
		int nid = op->node >= 0 ? op->node : cpu ? cpu->node : 0;
		unsigned long injected = m->fail_page_alloc.failed;
		struct kmm_page *page = NULL;
		bool refused =
		    (op->gfp & __GFP_NOFAIL) && !some_zone_has_block(m, nid, op->gfp, op->order);
		if (refused) {
			/* Pages on per-CPU lists may be all that is left. */
			kmm_drain_all_pages(m);
			refused = !some_zone_has_block(m, nid, op->gfp, op->order);
		}
		if (!refused)
			page = op->node >= 0 ? kmm_alloc_pages_node(m, op->node, op->gfp, op->order)
					     : kmm_alloc_pages(m, op->gfp, op->order);
		if (entered)
			kmm_cpu_exit(m);
		flush_log(r);
		if (!page) {
			printf("%s: NULL: order %u ", name, op->order);
			print_gfp(op->gfp);
			if (refused)
				printf(": not tried: __GFP_NOFAIL would wait forever, for no "
				       "allowed zone has a free block of order >= %u and kmm has "
				       "no reclaim yet\n",
				       op->order);
			else {
				printf(": ");
				explain_failure(r, nid, op->gfp, op->order, injected);
			}
			continue;
		}
		b->page = page;
		b->live = true;
		printf("%s: pfn %#lx order %u node %d zone %s ", name, page_to_pfn(m, page),
		       op->order, page_to_nid(page), kmm_zone_type_names[page_zonenum(page)]);
		print_gfp(op->gfp);
		if (cpu)
			printf(" cpu %d", cpu->id);
		printf("\n");
	}
}

/* Print pfns as ranges: "0x1000-0x100f,0x2000" (at most a few, then how many more). */
static void print_pfn_ranges(struct kmm_machine *m, struct kmm_page **pages, unsigned long nr)
{
	unsigned long *pfns = malloc(nr * sizeof(*pfns));
	if (!pfns)
		return;
	for (unsigned long i = 0; i < nr; i++)
		pfns[i] = page_to_pfn(m, pages[i]);
	int shown = 0;
	unsigned long i = 0;
	while (i < nr && shown < 8) {
		unsigned long j = i;
		while (j + 1 < nr && pfns[j + 1] == pfns[j] + 1)
			j++;
		if (j > i)
			printf("%s%#lx-%#lx", shown ? "," : "", pfns[i], pfns[j]);
		else
			printf("%s%#lx", shown ? "," : "", pfns[i]);
		shown++;
		i = j + 1;
	}
	if (i < nr)
		printf(",... (%lu more pages)", nr - i);
	free(pfns);
}

static void run_bulk(struct run *r, struct op *op)
{
	struct kmm_machine *m = r->m;
	struct block *b = &r->s->blocks[op->first];
	struct kmm_cpu *cpu = kmm_this_cpu(m);
	char name[16];
	block_name(b, name, sizeof(name));
	b->pages = calloc(op->count, sizeof(*b->pages));
	if (!b->pages) {
		cli_error("out of host memory");
		exit(KMM_EXIT_WORKLOAD);
	}
	int nid = cpu ? cpu->node : 0;
	if ((op->gfp & __GFP_NOFAIL) && !some_zone_has_block(m, nid, op->gfp, 0))
		kmm_drain_all_pages(m);
	if (!(op->gfp & __GFP_NOFAIL) || some_zone_has_block(m, nid, op->gfp, 0))
		b->nr = kmm_alloc_pages_bulk(m, op->gfp, op->count, b->pages);
	flush_log(r);
	b->live = b->nr > 0;
	printf("%s: %lu of %lu pages", name, b->nr, op->count);
	if (b->nr) {
		struct kmm_page *first = b->pages[0];
		printf(" node %d zone %s", page_to_nid(first),
		       kmm_zone_type_names[page_zonenum(first)]);
	}
	printf(" ");
	print_gfp(op->gfp);
	if (cpu)
		printf(" cpu %d", cpu->id);
	if (b->nr) {
		printf(" pfns ");
		print_pfn_ranges(m, b->pages, b->nr);
	}
	if (b->nr < op->count && !cpu)
		printf(" (on no CPU the bulk allocator takes one page per call: enter one with "
		       "'cpu N')");
	printf("\n");
}

/* Free one block; returns the pages freed. */
static unsigned long free_block(struct run *r, struct block *b, bool quiet)
{
	struct kmm_machine *m = r->m;
	char name[16];
	block_name(b, name, sizeof(name));
	if (!b->live) {
		if (!quiet)
			printf("free %s: nothing to free (its allocation failed)\n", name);
		return 0;
	}
	b->live = false;
	if (b->bulk) {
		kmm_free_pages_bulk(m, b->pages, b->nr);
		free(b->pages);
		b->pages = NULL;
		if (!quiet)
			printf("free %s: %lu pages\n", name, b->nr);
		return b->nr;
	}
	unsigned long pfn = page_to_pfn(m, b->page);
	kmm_free_pages(m, b->page, b->order);
	b->page = NULL;
	if (!quiet)
		printf("free %s: pfn %#lx order %u\n", name, pfn, b->order);
	return 1UL << b->order;
}

static unsigned long pcp_pages(struct kmm_machine *m)
{
	unsigned long n = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &NODE_DATA(m, nid)->node_zones[z];
			if (!zone->per_cpu_pageset)
				continue;
			for (int c = 0; c < m->nr_cpus; c++)
				n += (unsigned long)zone->per_cpu_pageset[c].count;
		}
	return n;
}

static int run_sysctl(struct run *r, struct op *op)
{
	struct kmm_error err = {0};
	char *eq = strchr(op->arg, '=');
	*eq = '\0';
	int ret = kmm_sysctl_set(r->m, op->arg, eq + 1, &err);
	if (ret) {
		fflush(stdout);
		cli_error("%s:%d:%d: sysctl %s", r->s->source, op->arg_at.line, op->arg_at.col,
			  err.msg);
		*eq = '=';
		return -1;
	}
	struct kmm_buf now;
	kmm_buf_init(&now);
	kmm_sysctl_get(r->m, op->arg, &now);
	printf("%s = %s", op->arg, now.data ? now.data : "\n");
	kmm_buf_free(&now);
	*eq = '=';
	return 0;
}

static void run_fail(struct run *r, struct op *op)
{
	struct kmm_fault_attr *attr = &r->m->fail_page_alloc;
	struct kmm_error err = {0};
	/* Each spec starts afresh: call counts (for nth) are from this command on. */
	kmm_fault_attr_init(attr, r->m->cfg.seed);
	if (!strcmp(op->arg, "off")) {
		printf("fail_page_alloc: off\n");
		return;
	}
	kmm_fault_attr_parse(attr, op->arg, &err); /* checked when parsed */
	printf("fail_page_alloc: probability=%u interval=%lu times=%ld space=%ld nth=%lu "
	       "min_order=%u\n",
	       attr->probability, attr->interval, attr->times, attr->space, attr->nth,
	       attr->min_order);
}

static const char commands_help[] =
    "Commands (separated by ';' or newlines; '#' starts a comment):\n"
    "  alloc ORDER [GFP] [xN] [node N] [cpu N]\n"
    "                    allocate N blocks (default 1) of 2^ORDER pages, ORDER 0-10.\n"
    "                    GFP is a mask such as GFP_KERNEL (the default), GFP_ATOMIC,\n"
    "                    GFP_DMA32 or GFP_KERNEL|__GFP_ZERO; 'node N' prefers node N;\n"
    "                    'cpu N' runs this allocation on CPU N. The blocks are\n"
    "                    named a1, a2, ... in the order the script allocates them.\n"
    "  free NAME...      free blocks by name (a3, b1) or by range (a1-a8)\n"
    "  free all          free every block still allocated\n"
    "  bulk N [GFP]      allocate up to N order-0 pages in one call; the arrays are\n"
    "                    named b1, b2, ...\n"
    "  drain             return every CPU's per-CPU pages to the buddy lists\n"
    "  show VIEW         print a view: zoneinfo, buddyinfo, pagetypeinfo, meminfo,\n"
    "                    vmstat, iomem or kmmstat\n"
    "  sysctl NAME=VALUE set a tunable: min_free_kbytes, watermark_scale_factor,\n"
    "                    watermark_boost_factor, percpu_pagelist_high_fraction,\n"
    "                    lowmem_reserve_ratio, transparent_hugepage/enabled\n"
    "  fail SPEC         make page allocations fail: nth=3 (the 3rd from now),\n"
    "                    probability=50,times=2, interval=4, min_order=1, ...;\n"
    "                    'fail off' stops\n"
    "  validate          check every invariant of the physical layer and the\n"
    "                    page allocator\n"
    "  cpu N             run the next commands on CPU N; 'cpu none' leaves it\n"
    "  echo TEXT         print TEXT\n"
    "  help              print this list\n";

static int run_op(struct run *r, struct op *op)
{
	struct kmm_machine *m = r->m;
	struct kmm_error err = {0};
	unsigned long n = 0, pages = 0;
	switch (op->kind) {
	case OP_ALLOC:
		run_alloc(r, op);
		break;
	case OP_BULK:
		run_bulk(r, op);
		break;
	case OP_FREE:
		for (size_t i = 0; i < op->nrefs; i++)
			free_block(r, &r->s->blocks[r->s->refs[op->first + i]], false);
		break;
	case OP_FREE_ALL:
		for (size_t i = 0; i < r->s->nblocks; i++) {
			struct block *b = &r->s->blocks[i];
			if (b->live) {
				pages += free_block(r, b, true);
				n++;
			}
		}
		printf("free all: %lu blocks, %lu pages\n", n, pages);
		break;
	case OP_DRAIN:
		n = pcp_pages(m);
		kmm_drain_all_pages(m);
		printf("drain: %lu pages from the per-CPU lists back to the buddy lists\n",
		       n - pcp_pages(m));
		break;
	case OP_SHOW: {
		struct kmm_buf out;
		kmm_buf_init(&out);
		kmm_show(m, op->arg, &out);
		printf("==> /proc/%s <==\n%s", op->arg, out.data ? out.data : "");
		kmm_buf_free(&out);
		break;
	}
	case OP_SYSCTL:
		if (run_sysctl(r, op))
			return -1;
		break;
	case OP_FAIL:
		run_fail(r, op);
		break;
	case OP_VALIDATE:
		if (kmm_phys_validate(m, &err) || kmm_page_alloc_validate(m, &err)) {
			fflush(stdout);
			cli_error("%s:%d:%d: validate: invariant broken: %s", r->s->source,
				  op->at.line, op->at.col, err.msg);
			return -1;
		}
		printf("validate: all invariants hold\n");
		break;
	case OP_CPU:
		if (kmm_this_cpu(m))
			kmm_cpu_exit(m);
		if (op->cpu >= 0) {
			kmm_cpu_enter(m, op->cpu);
			printf("cpu %d (node %d)\n", op->cpu, kmm_this_cpu(m)->node);
		} else {
			printf("cpu none\n");
		}
		break;
	case OP_ECHO:
		printf("%s\n", op->arg);
		break;
	case OP_HELP:
		fputs(commands_help, stdout);
		break;
	}
	flush_log(r);
	return 0;
}

static int run_ops(struct run *r, size_t from)
{
	for (size_t i = from; i < r->s->nops; i++)
		if (run_op(r, &r->s->ops[i]))
			return -1;
	fflush(stdout);
	return 0;
}

/* Drop ops that have run (the prompt keeps the blocks, which later lines name). */
static void forget_ops(struct script *s)
{
	for (size_t i = 0; i < s->nops; i++)
		free(s->ops[i].arg);
	s->nops = 0;
}

static void interactive(struct run *r)
{
	struct kmm_machine *m = r->m;
	struct script *s = r->s;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	printf("kmm pages: %lu MiB of RAM, %d node%s, %d CPU%s. Type 'help' for the commands, "
	       "Ctrl-D to quit.\n",
	       m->physpages >> (20 - PAGE_SHIFT), m->nr_node_ids, m->nr_node_ids > 1 ? "s" : "",
	       m->nr_cpus, m->nr_cpus > 1 ? "s" : "");
	for (;;) {
		printf("kmm> ");
		fflush(stdout);
		ssize_t len = getline(&line, &cap, stdin);
		if (len < 0)
			break;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!strcmp(line, "quit") || !strcmp(line, "exit"))
			break;
		struct script_mark mark = script_mark(s);
		if (parse_line(s, line, (size_t)len, lineno) || check_ops(s, m, 0)) {
			cli_error("%s", s->msg);
			script_rollback(s, &mark);
			continue;
		}
		run_ops(r, 0);
		forget_ops(s);
	}
	printf("\n");
	free(line);
}

/* Read all of @f into a NUL-terminated string; NULL with errno on failure. */
static char *read_all(FILE *f)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (buf && ferror(f)) {
		free(buf);
		return NULL;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

static void pages_usage(FILE *out)
{
	fprintf(out,
		"usage: kmm pages [machine options] [-e SCRIPT]... [-f FILE] [--boot-log]\n"
		"                 [--trace EVENTS] [--trace-out FILE]\n\n"
		"Boots a simulated machine, then runs a script of page allocator operations\n"
		"and prints what each one did. The script comes from -e (each -e adds a\n"
		"line), from -f FILE ('-' reads stdin), from stdin when it is a pipe, or is\n"
		"typed at a prompt when stdin is a terminal. A script is checked whole before\n"
		"anything runs: an error is reported as SOURCE:LINE:COLUMN ('script' for -e)\n"
		"and the exit status is 1.\n\n"
		"  -e SCRIPT         commands to run (repeatable)\n"
		"  -f FILE           read the commands from FILE\n"
		"  --boot-log        print the boot log first (it is not printed by default)\n"
		"  --trace EVENTS    print trace events as Linux's ftrace does, among the\n"
		"                    script's output: a comma-separated list of globs such\n"
		"                    as mm_page_alloc, 'mm_page_*', kmem:*, '*,!mm_page_free'\n"
		"  --trace-out FILE  write the events to FILE instead, with the header of\n"
		"                    tracefs's trace file (all events unless --trace says)\n\n");
	fputs(commands_help, out);
	fprintf(out,
		"\nUntil the first 'cpu' command the script runs on no CPU: allocations and\n"
		"frees go straight to the buddy lists, so buddyinfo shows each of them. On a\n"
		"CPU, orders 0 to 3 and 9 go through that CPU's per-CPU lists, as in Linux.\n\n"
		"Each allocated block prints one line, and a failed allocation prints NULL\n"
		"and why; the script goes on:\n"
		"  a1: pfn 0x4400 order 10 node 0 zone DMA32 gfp GFP_KERNEL\n\n"
		"Example:\n"
		"  kmm pages -e 'alloc 10 x2; alloc 0 GFP_DMA; show buddyinfo' \\\n"
		"            -e 'free a1; cpu 0; bulk 16; drain; validate'\n\n"
		"Exit status: 0 ok, 1 an error in the script or the machine, 2 a bad command\n"
		"line. Docs: docs/cli.md, docs/page-allocator.md.\n\n");
	fputs(kmm_config_help(), out);
}

int cmd_pages(int argc, char **argv)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	struct kmm_buf text;
	const char *file = NULL, *trace = NULL, *trace_out = NULL;
	bool have_e = false, boot_log = false;
	int rc = KMM_EXIT_OK;

	kmm_config_init(&cfg);
	kmm_buf_init(&text);
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			pages_usage(stdout);
			kmm_buf_free(&text);
			return KMM_EXIT_OK;
		}
		if (!strcmp(argv[i], "-e") || !strcmp(argv[i], "-f")) {
			if (i + 1 >= argc) {
				cli_error("%s needs a value", argv[i]);
				kmm_buf_free(&text);
				return KMM_EXIT_USAGE;
			}
			if (argv[i][1] == 'e') {
				kmm_buf_printf(&text, "%s\n", argv[++i]);
				have_e = true;
			} else if (file) {
				cli_error("-f: give one script file");
				kmm_buf_free(&text);
				return KMM_EXIT_USAGE;
			} else {
				file = argv[++i];
			}
			continue;
		}
		if (!strcmp(argv[i], "--boot-log")) {
			boot_log = true;
			continue;
		}
		if (!strcmp(argv[i], "--trace") || !strcmp(argv[i], "--trace-out")) {
			if (i + 1 >= argc) {
				cli_error("%s needs a value", argv[i]);
				kmm_buf_free(&text);
				return KMM_EXIT_USAGE;
			}
			*(argv[i][7] ? &trace_out : &trace) = argv[i + 1];
			i++;
			continue;
		}
		int r = cli_machine_option(&cfg, argc, argv, &i);
		if (r != CLI_OPT_TAKEN) {
			if (r == CLI_OPT_NOT_MINE)
				cli_error("unknown option '%s' (try 'kmm pages --help')", argv[i]);
			kmm_buf_free(&text);
			return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		}
	}
	if (have_e && file) {
		cli_error("give the script with -e or with -f, not both");
		kmm_buf_free(&text);
		return KMM_EXIT_USAGE;
	}
	uint64_t trace_mask;
	if ((trace || trace_out) && kmm_ftrace_parse_events(trace, &trace_mask, &err)) {
		cli_error("%s", err.msg);
		kmm_buf_free(&text);
		return KMM_EXIT_USAGE;
	}

	/* The script: parsed whole before the machine boots. */
	struct script s = {.source = "script"};
	bool prompt = false;
	char *body = NULL;
	if (file || (!have_e && !isatty(0))) {
		bool from_stdin = !file || !strcmp(file, "-");
		FILE *f = from_stdin ? stdin : fopen(file, "r");
		if (!f) {
			cli_error("%s: %s", file, strerror(errno));
			kmm_buf_free(&text);
			return KMM_EXIT_USAGE;
		}
		body = read_all(f);
		if (!from_stdin)
			fclose(f);
		if (!body) {
			cli_error("%s: cannot read it", from_stdin ? "stdin" : file);
			kmm_buf_free(&text);
			return KMM_EXIT_USAGE;
		}
		s.source = from_stdin ? "stdin" : file;
	} else if (!have_e) {
		prompt = true;
		s.source = "stdin";
	}
	if (!prompt && parse_text(&s, body ? body : text.data ? text.data : "")) {
		cli_error("%s", s.msg);
		rc = KMM_EXIT_WORKLOAD;
		goto out;
	}

	if (kmm_config_finish(&cfg, &err)) {
		cli_error("%s", err.msg);
		rc = KMM_EXIT_WORKLOAD;
		goto out;
	}
	cfg.quiet = !boot_log;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		cli_error("cannot boot: %s", err.msg);
		rc = KMM_EXIT_WORKLOAD;
		goto out;
	}
	kmm_wait_for_init(m);
	fflush(stdout);
	struct kmm_ftrace *ft = NULL;
	if (trace || trace_out) {
		struct kmm_ftrace_opts o = {.events = trace,
					    .out = trace_out ? NULL : stdout,
					    .path = trace_out,
					    .style =
						trace_out ? KMM_FTRACE_TRACE : KMM_FTRACE_PIPE};
		ft = kmm_ftrace_open(m, &o, &err);
		if (!ft) {
			cli_error("%s", err.msg);
			kmm_machine_destroy(m);
			rc = KMM_EXIT_USAGE;
			goto out;
		}
	}
	struct run r = {m, &s, m->log.len};
	if (prompt) {
		interactive(&r);
	} else if (check_ops(&s, m, 0)) {
		cli_error("%s", s.msg);
		rc = KMM_EXIT_WORKLOAD;
	} else if (run_ops(&r, 0)) {
		rc = KMM_EXIT_WORKLOAD;
	}
	fflush(stdout);
	if (kmm_this_cpu(m))
		kmm_cpu_exit(m);
	if (ft && kmm_ftrace_close(ft, &err)) {
		cli_error("%s", err.msg);
		rc = KMM_EXIT_WORKLOAD;
	}
	kmm_machine_destroy(m);
out:
	script_free(&s);
	free(body);
	kmm_buf_free(&text);
	return rc;
}
