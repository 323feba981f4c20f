/*
 * The workload language's parser: tokens to the program of workload.h,
 * with every name resolved to a slot.
 *
 * Linux counterpart: none (workloads play the part of the processes and
 * kernel threads whose system calls and allocations Linux serves).
 *
 * Theory of operation:
 *  1. One statement per line (or per ';'). The first word says what it is:
 *     a setup statement (machine, seed, swap, variant, file), a block
 *     (phase NAME, repeat N, end), a kernel operation (spawn, alloc_pages,
 *     kmalloc, kmem_cache_*, free, churn, sysctl, drain, validate,
 *     snapshot, echo), or "TASK:" followed by an operation of that task
 *     (mmap, munmap, mprotect, madvise, brk, touch, fork, exec, exit).
 *     docs/workloads.md is the reference.
 *  2. Setup statements come before the first operation; `machine` options
 *     go through kmm_config_option() exactly as `kmm boot` hands them over,
 *     so the two accept the same options with the same messages.
 *  3. Arguments after the positional ones are options, `key=value` or a
 *     bare flag, in any order, each at most once. Values are numbers with
 *     size suffixes, words, or calls such as uniform(8,4096) and zipf(1.1).
 *  4. Names become slots: a task, a region of a task, a pool, a cache, a
 *     file, a phase. Whether a name is alive where it is used (spawned and
 *     not exited, mapped and not unmapped) is the checker's job
 *     (workload_check.c), which follows the program pass by pass. What
 *     the parser can tell from the text alone it reports here: syntax,
 *     value ranges, a pool filled by two different allocators, unbalanced
 *     blocks.
 *  5. The first error stops the parse; nothing is half-built for a caller
 *     to run. Every message is "FILE:LINE:COL: expected WHAT, found WHAT".
 */
#include "workload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const wl_op_names[WL_NR_OPS] = {
#define X(k, name) name,
    WL_OPS(X)
#undef X
};

const char *const wl_advice_names[WL_NR_ADVICE] = {
#define X(k, name) name,
    WL_ADVICE(X)
#undef X
};

struct parser {
	struct wl_program *p;
	struct wl_lexer lx;
	struct kmm_error *err;
	/* Open blocks: op indexes of PHASE and REPEAT. */
	uint32_t stack[WL_MAX_DEPTH];
	int depth;
	bool seen_op;
	struct wl_loc first_op;
	struct wl_loc seed_at;
	bool failed;
};

int wl_error(struct kmm_error *err, const struct wl_program *p, struct wl_loc at, const char *fmt,
	     ...)
{
	va_list ap;
	char msg[sizeof(err->msg)];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kmm_error_set(err, -EINVAL, "%s:%d:%d: %s", p->filename, at.line, at.col, msg);
}

__kmm_printf(3, 4) static int perr(struct parser *ps, struct wl_loc at, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(ps->err->msg)];
	if (ps->failed)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->failed = true;
	return kmm_error_set(ps->err, -EINVAL, "%s:%d:%d: %s", ps->p->filename, at.line, at.col,
			     msg);
}

/* "expected WHAT, found TOKEN"; a lexing error wins, as it came first. */
static int expected(struct parser *ps, const struct wl_token *t, const char *what)
{
	char f[64];
	if (t->kind == WL_T_BAD) {
		if (ps->failed)
			return -EINVAL;
		ps->failed = true;
		return kmm_error_set(ps->err, ps->lx.oom ? -ENOMEM : -EINVAL, "%s", ps->lx.msg);
	}
	return perr(ps, t->at, "expected %s, found %s", what, wl_tok_describe(t, f, sizeof(f)));
}

static int oom(struct parser *ps)
{
	if (!ps->failed) {
		ps->failed = true;
		kmm_error_set(ps->err, -ENOMEM, "%s: out of host memory", ps->p->filename);
	}
	return -ENOMEM;
}

/* Grow @*arr (of @size-byte elements) to hold @want; false on host memory failure. */
static bool grow(void **arr, size_t *cap, size_t want, size_t size)
{
	if (want <= *cap)
		return true;
	size_t n = *cap ? *cap : 8;
	while (n < want)
		n *= 2;
	void *q = realloc(*arr, n * size);
	if (!q)
		return false;
	*arr = q;
	*cap = n;
	return true;
}
#define GROW(ps, arr, cap, want) grow((void **)&(arr), &(cap), (want), sizeof(*(arr)))

static struct wl_token next(struct parser *ps)
{
	return wl_lex_next(&ps->lx);
}

static struct wl_token peek(struct parser *ps)
{
	return wl_lex_peek(&ps->lx);
}

static bool at_end(const struct wl_token *t)
{
	return t->kind == WL_T_EOL || t->kind == WL_T_EOF;
}

static bool tok_is(const struct wl_token *t, const char *word)
{
	return t->kind == WL_T_WORD && t->len == strlen(word) && !memcmp(t->s, word, t->len);
}

static char *tok_dup(struct parser *ps, const struct wl_token *t)
{
	const char *s = t->kind == WL_T_STRING ? t->str : t->s;
	size_t len = t->kind == WL_T_STRING ? strlen(t->str) : t->len;
	char *d = malloc(len + 1);
	if (!d) {
		oom(ps);
		return NULL;
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* The statement must end here. */
static int expect_end(struct parser *ps, const char *what)
{
	struct wl_token t = next(ps);
	if (at_end(&t))
		return 0;
	return expected(ps, &t, what);
}

/* --- Values ------------------------------------------------------------------------------ */

static int expect_name(struct parser *ps, const char *what, struct wl_token *out)
{
	*out = next(ps);
	if (out->kind != WL_T_WORD)
		return expected(ps, out, what);
	if (out->len > 64)
		return perr(ps, out->at,
			    "expected %s of at most 64 characters, found a name of %zu", what,
			    out->len);
	return 0;
}

/* A whole number in [lo, hi] (no '%'); @what says what it is. */
static int expect_uint(struct parser *ps, const struct wl_token *t, uint64_t lo, uint64_t hi,
		       const char *what, uint64_t *out)
{
	if (t->kind != WL_T_NUMBER || !t->integral || t->percent || t->u < lo || t->u > hi)
		return expected(ps, t, what);
	*out = t->u;
	return 0;
}

/* A size in bytes, a multiple of the page size when @page. */
static int expect_size(struct parser *ps, const struct wl_token *t, uint64_t lo, uint64_t hi,
		       bool page, const char *what, uint64_t *out)
{
	if (expect_uint(ps, t, lo, hi, what, out))
		return -EINVAL;
	if (page && *out % WL_PAGE_SIZE) {
		char f[64];
		return perr(ps, t->at, "expected a multiple of the page size (4K), found %s",
			    wl_tok_describe(t, f, sizeof(f)));
	}
	return 0;
}

static int expect_percent(struct parser *ps, const struct wl_token *t, unsigned int *out)
{
	if (t->kind != WL_T_NUMBER || !t->percent || !t->integral || t->u > 100)
		return expected(ps, t, "a percentage from 0% to 100%");
	*out = (unsigned int)t->u;
	return 0;
}

static int expect_punct(struct parser *ps, enum wl_tok_kind kind, const char *what)
{
	struct wl_token t = next(ps);
	if (t.kind != kind)
		return expected(ps, &t, what);
	return 0;
}

/* prot: none, or the letters r, w, x (each at most once). */
static int parse_prot(struct parser *ps, const struct wl_token *t, unsigned int *prot)
{
	static const char what[] = "a protection: none, r, rw, rx, rwx (letters r, w, x)";
	*prot = 0;
	if (t->kind != WL_T_WORD)
		return expected(ps, t, what);
	if (tok_is(t, "none"))
		return 0;
	for (size_t i = 0; i < t->len; i++) {
		unsigned int bit = t->s[i] == 'r'   ? WL_PROT_READ
				   : t->s[i] == 'w' ? WL_PROT_WRITE
				   : t->s[i] == 'x' ? WL_PROT_EXEC
						    : 0;
		if (!bit || (*prot & bit))
			return expected(ps, t, what);
		*prot |= bit;
	}
	return 0;
}

/* Zone modifiers: at most one of DMA, DMA32 and HIGHMEM (Linux's GFP_ZONE_BAD). */
static int parse_gfp(struct parser *ps, const struct wl_token *t, gfp_t *gfp)
{
	char buf[200];
	if (t->kind != WL_T_WORD && t->kind != WL_T_NUMBER)
		return expected(ps, t, "a GFP mask such as GFP_KERNEL or GFP_ATOMIC|__GFP_ZERO");
	if (t->len >= sizeof(buf) || t->kind == WL_T_NUMBER)
		return expected(ps, t, "a GFP mask such as GFP_KERNEL or GFP_ATOMIC|__GFP_ZERO");
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	if (kmm_gfp_parse(buf, gfp))
		return expected(ps, t, "a GFP mask such as GFP_KERNEL or GFP_ATOMIC|__GFP_ZERO");
	gfp_t z = *gfp & (__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM);
	if (z & (z - 1))
		return expected(ps, t,
				"a GFP mask with at most one of __GFP_DMA, __GFP_DMA32 and "
				"__GFP_HIGHMEM");
	return 0;
}

/*
 * A distribution of whole numbers in [lo, hi]: N, uniform(A,B), pow2(A,B),
 * choice(V[:W],...), exp(MEAN). @unit names one value in messages ("an
 * order from 0 to 10").
 */
static int parse_dist(struct parser *ps, struct wl_dist **out, uint64_t lo, uint64_t hi,
		      const char *unit)
{
	static const char what[] = "a value or a distribution: N, uniform(A,B), pow2(A,B), "
				   "choice(V:W,...) or exp(MEAN)";
	struct wl_dist *d = calloc(1, sizeof(*d));
	if (!d)
		return oom(ps);
	*out = d;
	d->lo = lo;
	d->hi = hi;
	struct wl_token t = next(ps);
	uint64_t v = 0;
	if (t.kind == WL_T_NUMBER) {
		if (expect_uint(ps, &t, lo, hi, unit, &v))
			return -EINVAL;
		d->kind = WL_DIST_FIXED;
		d->lo = d->hi = v;
		return 0;
	}
	if (t.kind != WL_T_WORD || peek(ps).kind != WL_T_LPAREN)
		return expected(ps, &t, what);
	next(ps);
	if (tok_is(&t, "uniform") || tok_is(&t, "pow2")) {
		bool pow2 = t.s[0] == 'p';
		struct wl_token a = next(ps), b;
		uint64_t x, y;
		if (expect_uint(ps, &a, lo, hi, unit, &x) ||
		    expect_punct(ps, WL_T_COMMA, "',' between the two bounds"))
			return -EINVAL;
		b = next(ps);
		if (expect_uint(ps, &b, lo, hi, unit, &y))
			return -EINVAL;
		if (y < x)
			return perr(ps, b.at,
				    "expected an upper bound of at least %llu, found '%.*s'",
				    (unsigned long long)x, (int)b.len, b.s);
		if (expect_punct(ps, WL_T_RPAREN, "')' after the upper bound"))
			return -EINVAL;
		d->kind = pow2 ? WL_DIST_POW2 : WL_DIST_UNIFORM;
		d->lo = x;
		d->hi = y;
		if (pow2) {
			/* The powers of two in [x, y]: there must be one. */
			uint64_t p2 = 1;
			while (p2 < x && p2 <= (UINT64_MAX >> 1))
				p2 <<= 1;
			if (p2 < x || p2 > y)
				return perr(ps, a.at,
					    "expected bounds with a power of two between them, "
					    "found pow2(%llu,%llu)",
					    (unsigned long long)x, (unsigned long long)y);
		}
		return 0;
	}
	if (tok_is(&t, "exp")) {
		struct wl_token m = next(ps);
		if (m.kind != WL_T_NUMBER || m.percent || !(m.d > 0) || m.d > (double)hi)
			return expected(ps, &m, "a mean above 0 and at most the largest value");
		d->kind = WL_DIST_EXP;
		d->mean = m.d;
		return expect_punct(ps, WL_T_RPAREN, "')' after the mean");
	}
	if (tok_is(&t, "choice")) {
		uint64_t total = 0;
		d->kind = WL_DIST_CHOICE;
		for (;;) {
			struct wl_token c = next(ps);
			uint64_t w = 1;
			if (d->n == WL_MAX_CHOICES)
				return perr(ps, c.at, "expected at most %d choices, found more",
					    WL_MAX_CHOICES);
			if (expect_uint(ps, &c, lo, hi, unit, &v))
				return -EINVAL;
			struct wl_token sep = next(ps);
			if (sep.kind == WL_T_COLON) {
				struct wl_token wt = next(ps);
				if (expect_uint(ps, &wt, 1, 1000000000, "a weight from 1 to 10^9",
						&w))
					return -EINVAL;
				sep = next(ps);
			}
			total += w;
			d->values[d->n] = v;
			d->cumweight[d->n] = total;
			d->n++;
			if (sep.kind == WL_T_RPAREN)
				return 0;
			if (sep.kind != WL_T_COMMA)
				return expected(ps, &sep, "',', ':WEIGHT' or ')' in choice(...)");
		}
	}
	return expected(ps, &t, what);
}

/* --- Names ------------------------------------------------------------------------------- */

static bool name_eq(const char *name, const struct wl_token *t)
{
	return strlen(name) == t->len && !memcmp(name, t->s, t->len);
}

static int task_slot(struct parser *ps, const struct wl_token *t)
{
	struct wl_program *p = ps->p;
	for (size_t i = 0; i < p->ntasks; i++)
		if (name_eq(p->tasks[i].name, t))
			return (int)i;
	if (!GROW(ps, p->tasks, p->tasks_cap, p->ntasks + 1))
		return oom(ps);
	struct wl_task *task = &p->tasks[p->ntasks];
	task->name = tok_dup(ps, t);
	if (!task->name)
		return -ENOMEM;
	task->first = t->at;
	return (int)p->ntasks++;
}

static int region_slot_named(struct parser *ps, int task, const char *name, size_t len)
{
	struct wl_program *p = ps->p;
	for (size_t i = 0; i < p->nregions; i++)
		if (p->regions[i].task == task && strlen(p->regions[i].name) == len &&
		    !memcmp(p->regions[i].name, name, len))
			return (int)i;
	if (!GROW(ps, p->regions, p->regions_cap, p->nregions + 1))
		return oom(ps);
	struct wl_region *r = &p->regions[p->nregions];
	r->name = malloc(len + 1);
	if (!r->name)
		return oom(ps);
	memcpy(r->name, name, len);
	r->name[len] = '\0';
	r->task = task;
	return (int)p->nregions++;
}

/* Slot of a name in a table of struct wl_named; creates it if @create. */
static int named_slot(struct parser *ps, struct wl_named **arr, size_t *n, size_t *cap,
		      const struct wl_token *t, bool create)
{
	for (size_t i = 0; i < *n; i++)
		if (name_eq((*arr)[i].name, t))
			return (int)i;
	if (!create)
		return -ENOENT;
	if (!grow((void **)arr, cap, *n + 1, sizeof(**arr)))
		return oom(ps);
	struct wl_named *e = &(*arr)[*n];
	memset(e, 0, sizeof(*e));
	e->name = tok_dup(ps, t);
	if (!e->name)
		return -ENOMEM;
	e->at = t->at;
	e->prio = -1;
	return (int)(*n)++;
}

static int pool_slot(struct parser *ps, const struct wl_token *t)
{
	struct wl_program *p = ps->p;
	for (size_t i = 0; i < p->npools; i++)
		if (name_eq(p->pools[i].name, t))
			return (int)i;
	if (!GROW(ps, p->pools, p->pools_cap, p->npools + 1))
		return oom(ps);
	struct wl_pool *pool = &p->pools[p->npools];
	memset(pool, 0, sizeof(*pool));
	pool->name = tok_dup(ps, t);
	if (!pool->name)
		return -ENOMEM;
	pool->cache = -1;
	return (int)p->npools++;
}

static const char *pool_kind_name(enum wl_pool_kind k)
{
	switch (k) {
	case WL_POOL_PAGES:
		return "pages from alloc_pages";
	case WL_POOL_KMALLOC:
		return "objects from kmalloc";
	case WL_POOL_CACHE:
		return "objects from kmem_cache_alloc";
	default:
		return "nothing";
	}
}

/* An allocation names @pool: the first one fixes what the pool holds. */
static int pool_fill(struct parser *ps, int pool, enum wl_pool_kind kind, int cache,
		     const struct wl_token *name_tok, const struct wl_op *op)
{
	struct wl_pool *pl = &ps->p->pools[pool];
	if (pl->kind == WL_POOL_NONE) {
		pl->kind = kind;
		pl->cache = cache;
		pl->kind_at = op->loc;
		pl->first_alloc = (uint32_t)(op - ps->p->ops);
		return 0;
	}
	if (pl->kind != kind)
		return perr(ps, name_tok->at,
			    "expected a pool for %s, found '%s', which holds %s (line %d)",
			    pool_kind_name(kind), pl->name, pool_kind_name(pl->kind),
			    pl->kind_at.line);
	if (kind == WL_POOL_CACHE && pl->cache != cache)
		return perr(ps, name_tok->at,
			    "expected a pool of objects of cache '%s', found '%s', which holds "
			    "objects of cache '%s' (line %d)",
			    ps->p->caches[cache].name, pl->name, ps->p->caches[pl->cache].name,
			    pl->kind_at.line);
	return 0;
}

/* --- Options ----------------------------------------------------------------------------- */

struct optdesc {
	const char *name;
	bool value; /* key=value, else a bare flag */
};

/*
 * The next option of a statement: returns its index in @opts, -1 at the
 * end of the statement, or -2 after an error. A value-taking option has
 * consumed its '='; the caller reads the value.
 */
static int next_option(struct parser *ps, const struct optdesc *opts, int nopts, const char *what,
		       unsigned int *seen, struct wl_token *name)
{
	*name = next(ps);
	if (at_end(name))
		return -1;
	if (name->kind == WL_T_WORD)
		for (int i = 0; i < nopts; i++) {
			if (!name_eq(opts[i].name, name))
				continue;
			if (*seen & (1u << i)) {
				perr(ps, name->at, "expected each option once, found a second '%s'",
				     opts[i].name);
				return -2;
			}
			*seen |= 1u << i;
			struct wl_token eq = peek(ps);
			if (opts[i].value && eq.kind != WL_T_EQUALS) {
				char f[64];
				perr(ps, eq.at, "expected '=' and a value after '%s', found %s",
				     opts[i].name, wl_tok_describe(&eq, f, sizeof(f)));
				return -2;
			}
			if (!opts[i].value && eq.kind == WL_T_EQUALS) {
				perr(ps, eq.at, "expected no value after '%s', found '='",
				     opts[i].name);
				return -2;
			}
			if (opts[i].value)
				next(ps);
			return i;
		}
	expected(ps, name, what);
	return -2;
}

/* --- Operations -------------------------------------------------------------------------- */

static struct wl_op *new_op(struct parser *ps, enum wl_op_kind kind, struct wl_loc at)
{
	struct wl_program *p = ps->p;
	if (!GROW(ps, p->ops, p->ops_cap, p->nops + 1)) {
		oom(ps);
		return NULL;
	}
	struct wl_op *op = &p->ops[p->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->loc = at;
	op->loc2 = at;
	op->task = -1;
	return op;
}

/* cpu=N and node=N: the checker compares them with the machine. */
static int cpu_option(struct parser *ps, struct wl_op *op, int *cpu)
{
	struct wl_token t = next(ps);
	uint64_t v = 0;
	if (expect_uint(ps, &t, 0, KMM_MAX_CPUS - 1, "a CPU number", &v))
		return -EINVAL;
	*cpu = (int)v;
	op->cpu_at = t.at;
	return 0;
}

static int node_option(struct parser *ps, struct wl_op *op, int *node)
{
	struct wl_token t = next(ps);
	uint64_t v = 0;
	if (expect_uint(ps, &t, 0, KMM_MAX_NUMNODES - 1, "a node number", &v))
		return -EINVAL;
	*node = (int)v;
	op->node_at = t.at;
	return 0;
}

static int count_value(struct parser *ps, uint64_t *count)
{
	struct wl_token t = next(ps);
	return expect_uint(ps, &t, 1, WL_MAX_COUNT, "a count from 1 to 2^40", count);
}

/* REGION or REGION[A..B], [A..], [..B]; the task's slot for it in *region. */
static int parse_region_range(struct parser *ps, int task, int *region, struct wl_range *range,
			      struct wl_loc *at)
{
	struct wl_token t;
	if (expect_name(ps, "a region name", &t))
		return -EINVAL;
	*at = t.at;
	*region = region_slot_named(ps, task, t.s, t.len);
	if (*region < 0)
		return *region;
	range->start = 0;
	range->end = 0;
	range->open_end = true;
	if (peek(ps).kind != WL_T_LBRACKET)
		return 0;
	next(ps);
	struct wl_token a = next(ps);
	if (a.kind == WL_T_NUMBER) {
		if (expect_size(ps, &a, 0, WL_MAX_MAP, true, "an offset into the region",
				&range->start))
			return -EINVAL;
		a = next(ps);
	}
	if (a.kind != WL_T_DOTDOT)
		return expected(ps, &a, "'..' in a range such as heap[4M..8M]");
	struct wl_token b = next(ps);
	if (b.kind == WL_T_NUMBER) {
		if (expect_size(ps, &b, 0, WL_MAX_MAP, true, "an offset into the region",
				&range->end))
			return -EINVAL;
		if (range->end <= range->start) {
			char f[64];
			return perr(ps, b.at,
				    "expected an end above the start of the range, found %s",
				    wl_tok_describe(&b, f, sizeof(f)));
		}
		range->open_end = false;
		b = next(ps);
	}
	if (b.kind != WL_T_RBRACKET)
		return expected(ps, &b, "']' to close the range");
	return 0;
}

static int parse_mmap(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {
	    {"anon", false},   {"file", true}, {"offset", true},    {"private", false},
	    {"shared", false}, {"prot", true}, {"populate", false},
	};
	static const char what[] = "an mmap option (anon, file=FILE, offset=SIZE, private, "
				   "shared, prot=PROT or populate)";
	struct wl_token t, name;
	unsigned int seen = 0;
	if (expect_name(ps, "a name for the new region", &t))
		return -EINVAL;
	if (name_eq("brk", &t))
		return perr(ps, t.at,
			    "expected a region name other than 'brk' (the heap that brk sizes), "
			    "found 'brk'");
	op->loc2 = t.at;
	op->u.mmap.region = region_slot_named(ps, op->task, t.s, t.len);
	if (op->u.mmap.region < 0)
		return -EINVAL;
	t = next(ps);
	if (expect_size(ps, &t, WL_PAGE_SIZE, WL_MAX_MAP, true,
			"a size such as 64M (at least 4K, at most 128T)", &op->u.mmap.size))
		return -EINVAL;
	op->u.mmap.file = -1;
	op->u.mmap.prot = WL_PROT_READ | WL_PROT_WRITE;
	for (;;) {
		int o = next_option(ps, opts, KMM_ARRAY_SIZE(opts), what, &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		switch (o) {
		case 0: /* anon */
			if (seen & 2)
				return perr(ps, name.at, "expected anon or file=FILE, found both");
			break;
		case 1: { /* file */
			if (seen & 1)
				return perr(ps, name.at, "expected anon or file=FILE, found both");
			struct wl_token f;
			if (expect_name(ps, "a file name", &f))
				return -EINVAL;
			int slot = named_slot(ps, &ps->p->files, &ps->p->nfiles, &ps->p->files_cap,
					      &f, false);
			if (slot < 0)
				return perr(ps, f.at,
					    "expected a file declared with 'file NAME size=SIZE', "
					    "found '%.*s'",
					    (int)f.len, f.s);
			op->u.mmap.file = slot;
			break;
		}
		case 2:
			t = next(ps);
			if (expect_size(ps, &t, 0, WL_MAX_MAP, true, "an offset into the file",
					&op->u.mmap.offset))
				return -EINVAL;
			break;
		case 3:
			if (seen & 16)
				return perr(ps, name.at, "expected private or shared, found both");
			break;
		case 4:
			if (seen & 8)
				return perr(ps, name.at, "expected private or shared, found both");
			op->u.mmap.shared = true;
			break;
		case 5:
			t = next(ps);
			if (parse_prot(ps, &t, &op->u.mmap.prot))
				return -EINVAL;
			break;
		case 6:
			op->u.mmap.populate = true;
			break;
		}
	}
	if ((seen & 4) && op->u.mmap.file < 0)
		return perr(ps, op->loc,
			    "expected file=FILE with offset=, found an anonymous mmap");
	if (op->u.mmap.file >= 0) {
		const struct wl_named *f = &ps->p->files[op->u.mmap.file];
		char fs[32], off[32], sz[32];
		wl_size_str(f->size, fs, sizeof(fs));
		wl_size_str(op->u.mmap.offset, off, sizeof(off));
		wl_size_str(op->u.mmap.size, sz, sizeof(sz));
		if (op->u.mmap.offset + op->u.mmap.size > f->size)
			return perr(
			    ps, op->loc,
			    "expected a mapping inside file '%s' (%s), found offset %s + size %s",
			    f->name, fs, off, sz);
	}
	return 0;
}

static int parse_area(struct parser *ps, struct wl_op *op)
{
	if (parse_region_range(ps, op->task, &op->u.area.region, &op->u.area.range, &op->loc2))
		return -EINVAL;
	if (op->kind == WL_OP_MPROTECT) {
		struct wl_token t = next(ps);
		if (parse_prot(ps, &t, &op->u.area.prot))
			return -EINVAL;
	} else if (op->kind == WL_OP_MADVISE) {
		struct wl_token t = next(ps);
		char what[300];
		size_t n = (size_t)snprintf(what, sizeof(what), "an advice (");
		for (int i = 0; i < WL_NR_ADVICE && n < sizeof(what); i++)
			n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s",
					      i ? (i == WL_NR_ADVICE - 1 ? " or " : ", ") : "",
					      wl_advice_names[i]);
		if (n < sizeof(what))
			snprintf(what + n, sizeof(what) - n, ")");
		int a = -1;
		for (int i = 0; i < WL_NR_ADVICE; i++)
			if (tok_is(&t, wl_advice_names[i]))
				a = i;
		if (a < 0)
			return expected(ps, &t, what);
		op->u.area.advice = (enum wl_advice)a;
	} else if (op->kind == WL_OP_MLOCK) {
		struct wl_token t = peek(ps);
		if (tok_is(&t, "onfault")) {
			next(ps);
			op->u.area.onfault = true;
		}
		return expect_end(ps, "onfault or end of line");
	}
	return expect_end(ps, "end of line after the operation");
}

/* mlockall WORD...: current, future and onfault, as Linux's MCL_* flags. */
static int parse_mlockall(struct parser *ps, struct wl_op *op)
{
	static const char what[] = "current, future or onfault";
	static const char *const words[] = {"current", "future", "onfault"};
	struct wl_token t = next(ps), first = t;
	do {
		unsigned int flag = 0;
		for (unsigned int i = 0; i < KMM_ARRAY_SIZE(words); i++)
			if (tok_is(&t, words[i]))
				flag = 1u << i;
		if (!flag)
			return expected(ps, &t,
					op->u.mlockall.flags ? "current, future, onfault or "
							       "end of line"
							     : what);
		if (op->u.mlockall.flags & flag)
			return perr(ps, t.at, "expected each of %s once, found '%.*s' twice", what,
				    (int)t.len, t.s);
		op->u.mlockall.flags |= flag;
		t = next(ps);
	} while (!at_end(&t));
	if (op->u.mlockall.flags == WL_MCL_ONFAULT)
		return perr(
		    ps, first.at,
		    "expected current or future with onfault (mlockall(MCL_ONFAULT) alone is "
		    "EINVAL), found onfault alone");
	return 0;
}

static int parse_touch(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {{"count", true}};
	static const char access[] = "an access: read, write or mixed(P%)";
	static const char pattern[] = "a pattern (seq, random, stride(SIZE), zipf(S) or loop(N)) "
				      "or count=N";
	struct wl_token t, name;
	unsigned int seen = 0;
	if (parse_region_range(ps, op->task, &op->u.touch.region, &op->u.touch.range, &op->loc2))
		return -EINVAL;
	t = next(ps);
	if (tok_is(&t, "read")) {
		op->u.touch.access = WL_READ;
	} else if (tok_is(&t, "write")) {
		op->u.touch.access = WL_WRITE;
	} else if (tok_is(&t, "mixed") && peek(ps).kind == WL_T_LPAREN) {
		next(ps);
		struct wl_token pc = next(ps);
		if (expect_percent(ps, &pc, &op->u.touch.write_pct) ||
		    expect_punct(ps, WL_T_RPAREN, "')' after the percentage of writes"))
			return -EINVAL;
		op->u.touch.access = WL_MIXED;
	} else {
		return expected(ps, &t, access);
	}
	op->u.touch.pattern = WL_PAT_SEQ;
	t = peek(ps);
	if (t.kind == WL_T_WORD && !tok_is(&t, "count")) {
		next(ps);
		bool call = peek(ps).kind == WL_T_LPAREN;
		if (!call && (tok_is(&t, "seq") || tok_is(&t, "sequential"))) {
			op->u.touch.pattern = WL_PAT_SEQ;
		} else if (!call && tok_is(&t, "random")) {
			op->u.touch.pattern = WL_PAT_RANDOM;
		} else if (call && tok_is(&t, "stride")) {
			next(ps);
			struct wl_token s = next(ps);
			if (expect_size(ps, &s, WL_PAGE_SIZE, WL_MAX_MAP, true,
					"a stride such as 64K (a multiple of 4K)",
					&op->u.touch.stride))
				return -EINVAL;
			op->u.touch.pattern = WL_PAT_STRIDE;
		} else if (call && tok_is(&t, "zipf")) {
			next(ps);
			struct wl_token s = next(ps);
			if (s.kind != WL_T_NUMBER || s.percent || !(s.d > 0) || s.d > 10)
				return expected(
				    ps, &s, "a zipf exponent above 0 and at most 10, such as 1.1");
			op->u.touch.zipf_s = s.d;
			op->u.touch.pattern = WL_PAT_ZIPF;
		} else if (call && tok_is(&t, "loop")) {
			next(ps);
			struct wl_token s = next(ps);
			if (expect_uint(ps, &s, 1, WL_MAX_COUNT,
					"a number of passes from 1 to 2^40", &op->u.touch.loops))
				return -EINVAL;
			op->u.touch.pattern = WL_PAT_LOOP;
		} else {
			return expected(ps, &t, pattern);
		}
		if (call && expect_punct(ps, WL_T_RPAREN, "')' to close the pattern"))
			return -EINVAL;
	}
	for (;;) {
		int o = next_option(ps, opts, 1, "count=N or end of line", &seen, &name);
		if (o == -1)
			return 0;
		if (o == -2)
			return -EINVAL;
		if (count_value(ps, &op->u.touch.count))
			return -EINVAL;
	}
}

/*
 * TASK: write FILE[RANGE] [chunk=SIZE], TASK: read FILE[RANGE] [chunk=SIZE]:
 * write(2) or read(2) a range of a declared file (default: all of it),
 * CHUNK bytes a call (default 1M, pressure.c's block).
 */
static int parse_fileio(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {{"chunk", true}};
	struct wl_token f, name;
	unsigned int seen = 0;
	if (expect_name(ps, "a file name", &f))
		return -EINVAL;
	op->loc2 = f.at;
	int slot = named_slot(ps, &ps->p->files, &ps->p->nfiles, &ps->p->files_cap, &f, false);
	if (slot < 0)
		return perr(ps, f.at,
			    "expected a file declared with 'file NAME size=SIZE', found '%.*s'",
			    (int)f.len, f.s);
	const struct wl_named *file = &ps->p->files[slot];
	op->u.fileio.file = slot;
	op->u.fileio.start = 0;
	op->u.fileio.end = file->size;
	op->u.fileio.chunk = 1 << 20;
	if (peek(ps).kind == WL_T_LBRACKET) {
		next(ps);
		struct wl_token a = next(ps);
		if (a.kind == WL_T_NUMBER) {
			if (expect_size(ps, &a, 0, WL_MAX_MAP, true, "an offset into the file",
					&op->u.fileio.start))
				return -EINVAL;
			a = next(ps);
		}
		if (a.kind != WL_T_DOTDOT)
			return expected(ps, &a, "'..' in a range such as data[4M..8M]");
		struct wl_token b = next(ps);
		if (b.kind == WL_T_NUMBER) {
			if (expect_size(ps, &b, 0, WL_MAX_MAP, true, "an offset into the file",
					&op->u.fileio.end))
				return -EINVAL;
			b = next(ps);
		}
		if (b.kind != WL_T_RBRACKET)
			return expected(ps, &b, "']' to close the range");
	}
	char fs[32], st[32], en[32];
	wl_size_str(file->size, fs, sizeof(fs));
	wl_size_str(op->u.fileio.start, st, sizeof(st));
	wl_size_str(op->u.fileio.end, en, sizeof(en));
	if (op->u.fileio.end > file->size || op->u.fileio.end <= op->u.fileio.start)
		return perr(ps, f.at, "expected a range inside file '%s' (%s), found %s..%s",
			    file->name, fs, st, en);
	for (;;) {
		int o = next_option(ps, opts, 1, "chunk=SIZE or end of line", &seen, &name);
		if (o == -1)
			return 0;
		if (o == -2)
			return -EINVAL;
		struct wl_token t = next(ps);
		if (expect_size(ps, &t, WL_PAGE_SIZE, 64ULL << 20, true,
				"a chunk size such as 1M (4K to 64M, a multiple of 4K)",
				&op->u.fileio.chunk))
			return -EINVAL;
	}
}

static int parse_task_op(struct parser *ps, const struct wl_token *task_tok)
{
	static const char what[] = "a task operation (mmap, munmap, mprotect, madvise, mlock, "
				   "munlock, mlockall, munlockall, brk, touch, write, read, fork, "
				   "exec or exit)";
	int task = task_slot(ps, task_tok);
	if (task < 0)
		return task;
	next(ps); /* the ':' */
	struct wl_token t = next(ps);
	enum wl_op_kind kind = WL_NR_OPS;
	for (int k = WL_OP_MMAP; k <= WL_OP_EXIT; k++)
		if (tok_is(&t, wl_op_names[k]))
			kind = (enum wl_op_kind)k;
	if (kind == WL_NR_OPS)
		return expected(ps, &t, what);
	struct wl_op *op = new_op(ps, kind, t.at);
	if (!op)
		return -ENOMEM;
	op->task = task;
	op->task_at = op->loc2 = task_tok->at;
	switch (kind) {
	case WL_OP_MMAP:
		return parse_mmap(ps, op);
	case WL_OP_MUNMAP:
	case WL_OP_MPROTECT:
	case WL_OP_MADVISE:
	case WL_OP_MLOCK:
	case WL_OP_MUNLOCK:
		return parse_area(ps, op);
	case WL_OP_MLOCKALL:
		return parse_mlockall(ps, op);
	case WL_OP_BRK: {
		struct wl_token s = next(ps);
		if (expect_size(ps, &s, 0, WL_MAX_MAP, true,
				"a heap size such as 16M (0 empties it)", &op->u.brk.size))
			return -EINVAL;
		op->u.brk.region = region_slot_named(ps, task, "brk", 3);
		if (op->u.brk.region < 0)
			return -EINVAL;
		return expect_end(ps, "end of line after the heap size");
	}
	case WL_OP_TOUCH:
		return parse_touch(ps, op);
	case WL_OP_FILE_WRITE:
	case WL_OP_FILE_READ:
		return parse_fileio(ps, op);
	case WL_OP_FORK: {
		static const struct optdesc opts[] = {{"cpu", true}};
		struct wl_token c, name;
		unsigned int seen = 0;
		if (expect_name(ps, "a name for the child task", &c))
			return -EINVAL;
		if (name_eq(ps->p->tasks[task].name, &c))
			return perr(ps, c.at,
				    "expected a child name other than the parent's, found '%.*s'",
				    (int)c.len, c.s);
		op->loc2 = c.at;
		op->u.fork.child = task_slot(ps, &c);
		if (op->u.fork.child < 0)
			return -EINVAL;
		op->u.fork.cpu = -1;
		for (;;) {
			int o = next_option(ps, opts, 1, "cpu=N or end of line", &seen, &name);
			if (o == -1)
				return 0;
			if (o == -2 || cpu_option(ps, op, &op->u.fork.cpu))
				return -EINVAL;
		}
	}
	default: /* exec, exit, munlockall */
		return expect_end(ps, "end of line after the operation");
	}
}

/* Options shared by the kernel allocation statements. */
enum {
	KO_COUNT = 1u << 0,
	KO_GFP = 1u << 1,
	KO_NODE = 1u << 2,
	KO_CPU = 1u << 3,
	KO_ORDER = 1u << 4,
	KO_SIZE = 1u << 5,
	KO_CACHE = 1u << 6,
};

static int parse_alloc(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {
	    {"count", true}, {"gfp", true},  {"node", true},  {"cpu", true},
	    {"order", true}, {"size", true}, {"cache", true},
	};
	unsigned int allowed = KO_COUNT | KO_GFP | KO_NODE | KO_CPU;
	const char *what;
	enum wl_pool_kind kind;
	if (op->kind == WL_OP_ALLOC_PAGES) {
		allowed |= KO_ORDER;
		kind = WL_POOL_PAGES;
		what = "an alloc_pages option (order=DIST, count=N, gfp=MASK, node=N or cpu=N)";
	} else if (op->kind == WL_OP_KMALLOC) {
		allowed |= KO_SIZE;
		kind = WL_POOL_KMALLOC;
		what = "a kmalloc option (size=DIST, count=N, gfp=MASK, node=N or cpu=N)";
	} else {
		allowed |= KO_CACHE;
		kind = WL_POOL_CACHE;
		what = "a kmem_cache_alloc option (cache=NAME, count=N, gfp=MASK, node=N or cpu=N)";
	}
	struct wl_token pool_tok, name, t;
	unsigned int seen = 0;
	if (expect_name(ps, "a pool name (the objects allocated are kept under it)", &pool_tok))
		return -EINVAL;
	op->loc2 = pool_tok.at;
	op->u.alloc.pool = pool_slot(ps, &pool_tok);
	if (op->u.alloc.pool < 0)
		return -EINVAL;
	op->u.alloc.count = 1;
	op->u.alloc.gfp = GFP_KERNEL;
	op->u.alloc.node = -1;
	op->u.alloc.cache = -1;
	struct optdesc mine[KMM_ARRAY_SIZE(opts)];
	for (size_t i = 0; i < KMM_ARRAY_SIZE(opts); i++) {
		mine[i] = opts[i];
		if (!(allowed & (1u << i)))
			mine[i].name = "";
	}
	for (;;) {
		int o = next_option(ps, mine, KMM_ARRAY_SIZE(mine), what, &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		switch (1u << o) {
		case KO_COUNT:
			if (count_value(ps, &op->u.alloc.count))
				return -EINVAL;
			break;
		case KO_GFP:
			t = next(ps);
			if (parse_gfp(ps, &t, &op->u.alloc.gfp))
				return -EINVAL;
			break;
		case KO_NODE:
			if (node_option(ps, op, &op->u.alloc.node))
				return -EINVAL;
			break;
		case KO_CPU:
			if (cpu_option(ps, op, &op->cpu))
				return -EINVAL;
			break;
		case KO_ORDER:
			if (parse_dist(ps, &op->u.alloc.dist, 0, MAX_PAGE_ORDER,
				       "an order from 0 to 10"))
				return -EINVAL;
			break;
		case KO_SIZE:
			if (parse_dist(ps, &op->u.alloc.dist, 1, WL_KMALLOC_MAX,
				       "a size from 1 to 4M (KMALLOC_MAX_SIZE)"))
				return -EINVAL;
			break;
		case KO_CACHE: {
			if (expect_name(ps, "a cache name", &t))
				return -EINVAL;
			int c = named_slot(ps, &ps->p->caches, &ps->p->ncaches, &ps->p->caches_cap,
					   &t, false);
			if (c < 0)
				return perr(
				    ps, t.at,
				    "expected a cache made by kmem_cache_create, found '%.*s'",
				    (int)t.len, t.s);
			op->u.alloc.cache = c;
			break;
		}
		}
	}
	if (kind == WL_POOL_KMALLOC && !op->u.alloc.dist)
		return perr(ps, op->loc, "expected size=DIST for kmalloc, found none");
	if (kind == WL_POOL_CACHE && op->u.alloc.cache < 0)
		return perr(ps, op->loc, "expected cache=NAME for kmem_cache_alloc, found none");
	if (kind == WL_POOL_PAGES && !op->u.alloc.dist) {
		op->u.alloc.dist = calloc(1, sizeof(*op->u.alloc.dist));
		if (!op->u.alloc.dist)
			return oom(ps);
		op->u.alloc.dist->kind = WL_DIST_FIXED; /* order 0 */
	}
	return pool_fill(ps, op->u.alloc.pool, kind, op->u.alloc.cache, &pool_tok, op);
}

static int parse_free(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {
	    {"count", true}, {"all", false}, {"pick", true}, {"cpu", true}};
	static const char what[] = "a free option (count=N, all, pick=fifo|lifo|random or cpu=N)";
	struct wl_token pool_tok, name, t;
	unsigned int seen = 0;
	if (expect_name(ps, "a pool name", &pool_tok))
		return -EINVAL;
	op->loc2 = pool_tok.at;
	op->u.free.pool = pool_slot(ps, &pool_tok);
	if (op->u.free.pool < 0)
		return -EINVAL;
	op->u.free.all = true;
	op->u.free.pick = WL_PICK_FIFO;
	for (;;) {
		int o = next_option(ps, opts, KMM_ARRAY_SIZE(opts), what, &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		if (o == 0) {
			if (count_value(ps, &op->u.free.count))
				return -EINVAL;
			op->u.free.all = false;
		} else if (o == 2) {
			t = next(ps);
			if (tok_is(&t, "fifo"))
				op->u.free.pick = WL_PICK_FIFO;
			else if (tok_is(&t, "lifo"))
				op->u.free.pick = WL_PICK_LIFO;
			else if (tok_is(&t, "random"))
				op->u.free.pick = WL_PICK_RANDOM;
			else
				return expected(ps, &t, "fifo, lifo or random");
		} else if (o == 3) {
			if (cpu_option(ps, op, &op->cpu))
				return -EINVAL;
		}
	}
	if ((seen & 1) && (seen & 2))
		return perr(ps, op->loc2, "expected count=N or all, found both");
	return 0;
}

static int parse_churn(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {{"steps", true}, {"free", true}, {"cpu", true}};
	static const char what[] = "a churn option (steps=N, free=P% or cpu=N)";
	struct wl_token pool_tok, name, t;
	unsigned int seen = 0;
	if (expect_name(ps, "a pool name", &pool_tok))
		return -EINVAL;
	op->loc2 = pool_tok.at;
	op->u.churn.pool = pool_slot(ps, &pool_tok);
	if (op->u.churn.pool < 0)
		return -EINVAL;
	op->u.churn.free_pct = 50;
	for (;;) {
		int o = next_option(ps, opts, KMM_ARRAY_SIZE(opts), what, &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		if (o == 0) {
			if (count_value(ps, &op->u.churn.steps))
				return -EINVAL;
		} else if (o == 1) {
			t = next(ps);
			if (expect_percent(ps, &t, &op->u.churn.free_pct))
				return -EINVAL;
		} else if (cpu_option(ps, op, &op->cpu)) {
			return -EINVAL;
		}
	}
	if (!(seen & 1))
		return perr(ps, op->loc, "expected steps=N for churn, found none");
	return 0;
}

static int parse_cache_create(struct parser *ps, struct wl_op *op)
{
	static const struct optdesc opts[] = {
	    {"size", true}, {"align", true}, {"hwcache_align", false}, {"cpu", true}};
	static const char what[] = "a kmem_cache_create option (size=SIZE, align=N, hwcache_align "
				   "or cpu=N)";
	struct wl_token t, name;
	unsigned int seen = 0;
	if (expect_name(ps, "a name for the cache", &t))
		return -EINVAL;
	/* The slab layer's names are 47 characters; kmalloc's caches are its own. */
	if (t.len > 47)
		return perr(ps, t.at,
			    "expected a cache name of at most 47 characters, found one of %zu",
			    t.len);
	if ((t.len >= 8 && !memcmp(t.s, "kmalloc-", 8)) ||
	    (t.len >= 12 && !memcmp(t.s, "dma-kmalloc-", 12)) || name_eq("kmem_cache", &t) ||
	    name_eq("kmem_cache_node", &t))
		return perr(
		    ps, t.at,
		    "expected a cache name the slab allocator does not use itself (kmalloc-*, "
		    "dma-kmalloc-*, kmem_cache, kmem_cache_node), found '%.*s'",
		    (int)t.len, t.s);
	op->loc2 = t.at;
	op->u.cache.cache =
	    named_slot(ps, &ps->p->caches, &ps->p->ncaches, &ps->p->caches_cap, &t, true);
	if (op->u.cache.cache < 0)
		return -EINVAL;
	for (;;) {
		int o = next_option(ps, opts, KMM_ARRAY_SIZE(opts), what, &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		if (o == 0) {
			t = next(ps);
			if (expect_size(ps, &t, 1, WL_KMALLOC_MAX, false,
					"an object size from 1 to 4M", &op->u.cache.size))
				return -EINVAL;
		} else if (o == 1) {
			t = next(ps);
			if (expect_uint(ps, &t, 1, WL_PAGE_SIZE,
					"an alignment: a power of two up to 4K",
					&op->u.cache.align))
				return -EINVAL;
			if (op->u.cache.align & (op->u.cache.align - 1))
				return expected(ps, &t, "an alignment: a power of two up to 4K");
		} else if (o == 2) {
			op->u.cache.hwcache_align = true;
		} else if (cpu_option(ps, op, &op->cpu)) {
			return -EINVAL;
		}
	}
	if (!(seen & 1))
		return perr(ps, op->loc, "expected size=SIZE for kmem_cache_create, found none");
	return 0;
}

/* The tunables kmm_sysctl_set() knows, with the values each takes (phys/sysctl.c). */
static int check_sysctl(struct parser *ps, const struct wl_token *nt, const char *name,
			const struct wl_token *vt, const char *value)
{
	struct kmm_error e = {0};
	int ret = kmm_sysctl_check(name, value, &e);
	if (ret)
		return perr(ps, ret == -ENOENT ? nt->at : vt->at, "%s", e.msg);
	return 0;
}

/* sysctl NAME=VALUE, sysctl NAME VALUE, sysctl NAME "A B C" */
static int parse_sysctl(struct parser *ps, struct wl_op *op)
{
	struct wl_token t = wl_lex_raw(&ps->lx);
	if (t.kind != WL_T_WORD)
		return expected(ps, &t, "NAME=VALUE, such as watermark_scale_factor=100");
	struct wl_token vt = t;
	const char *eq = memchr(t.s, '=', t.len);
	size_t nlen = eq ? (size_t)(eq - t.s) : t.len;
	char *name = malloc(nlen + 1), *value;
	if (!name)
		return oom(ps);
	memcpy(name, t.s, nlen);
	name[nlen] = '\0';
	op->u.sysctl.name = name;
	op->loc2 = t.at;
	if (eq && eq + 1 < t.s + t.len) {
		vt.s = eq + 1;
		vt.len = t.len - nlen - 1;
		vt.at.col += (int)nlen + 1;
		value = tok_dup(ps, &vt);
	} else {
		vt = wl_lex_raw(&ps->lx);
		if (vt.kind != WL_T_WORD && vt.kind != WL_T_STRING)
			return expected(ps, &vt, "a value after the tunable's name");
		value = tok_dup(ps, &vt);
	}
	if (!value)
		return -ENOMEM;
	op->u.sysctl.value = value;
	if (check_sysctl(ps, &t, name, &vt, value))
		return -EINVAL;
	struct wl_token e = wl_lex_raw(&ps->lx);
	if (!at_end(&e))
		return expected(ps, &e, "end of line after the value (quote a value with blanks)");
	return 0;
}

/* --- Setup statements -------------------------------------------------------------------- */

/* A relative path in a workload is relative to the workload's directory. */
static char *workload_path(struct parser *ps, const char *path)
{
	const char *dir = ps->p->dir;
	size_t n = strlen(dir) + strlen(path) + 2;
	char *full = malloc(n);
	if (!full) {
		oom(ps);
		return NULL;
	}
	if (path[0] == '/' || !dir[0])
		snprintf(full, n, "%s", path);
	else
		snprintf(full, n, "%s/%s", dir, path);
	return full;
}

static int parse_machine(struct parser *ps, struct wl_token *kw)
{
	struct wl_token words[64];
	char *vals[64];
	int n = 0, ret = 0;
	if (!ps->p->machine_at.line)
		ps->p->machine_at = kw->at;
	for (;;) {
		struct wl_token t = wl_lex_raw(&ps->lx);
		if (at_end(&t))
			break;
		if (t.kind == WL_T_BAD)
			return expected(ps, &t, "");
		if (n == (int)KMM_ARRAY_SIZE(words))
			return perr(ps, t.at,
				    "expected at most 64 words on a machine line, found more");
		words[n++] = t;
	}
	if (!n)
		return perr(ps, kw->at,
			    "expected machine options as kmm boot takes them (such as --mem 512M "
			    "--nodes 1), found end of line");
	for (int i = 0; i < n; i++)
		vals[i] = NULL;
	for (int i = 0; i < n && !ret; i++) {
		vals[i] = tok_dup(ps, &words[i]);
		if (!vals[i])
			ret = -ENOMEM;
	}
	for (int i = 0; i < n && !ret; i++) {
		struct kmm_error e = {0};
		char opt[64];
		const char *arg = vals[i], *val = i + 1 < n ? vals[i + 1] : NULL;
		const char *eq = words[i].kind == WL_T_WORD ? strchr(arg, '=') : NULL;
		if (eq && (size_t)(eq - arg) < sizeof(opt)) {
			memcpy(opt, arg, (size_t)(eq - arg));
			opt[eq - arg] = '\0';
			val = eq + 1;
		} else {
			snprintf(opt, sizeof(opt), "%s", arg);
		}
		char *path = NULL;
		if (val && (!strcmp(opt, "--map") || !strcmp(opt, "--from-dmesg"))) {
			path = workload_path(ps, val);
			if (!path) {
				ret = -ENOMEM;
				break;
			}
			val = path;
		}
		int r = kmm_config_option(&ps->p->cfg, opt, val, &e);
		free(path);
		if (r == 0) {
			char f[64];
			ret = perr(ps, words[i].at,
				   "expected a machine option of kmm boot (--mem, --nodes, --cpus, "
				   "--arch, --map, --from-dmesg, --model, --buddy, ...), found %s",
				   wl_tok_describe(&words[i], f, sizeof(f)));
		} else if (r < 0) {
			ret = perr(ps, words[i].at, "%s", e.msg);
		} else if (r == 2 && !eq) {
			i++;
		}
	}
	for (int i = 0; i < n; i++)
		free(vals[i]);
	return ret;
}

static int parse_swap(struct parser *ps)
{
	static const struct optdesc opts[] = {{"size", true}, {"prio", true}};
	struct wl_token t, name;
	unsigned int seen = 0;
	struct wl_program *p = ps->p;
	if (expect_name(ps, "a name for the swap file", &t))
		return -EINVAL;
	if (named_slot(ps, &p->swaps, &p->nswaps, &p->swaps_cap, &t, false) >= 0)
		return perr(ps, t.at, "expected a new swap name, found '%.*s' (declared before)",
			    (int)t.len, t.s);
	int s = named_slot(ps, &p->swaps, &p->nswaps, &p->swaps_cap, &t, true);
	if (s < 0)
		return s;
	for (;;) {
		int o =
		    next_option(ps, opts, 2, "a swap option (size=SIZE or prio=N)", &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		struct wl_token v = next(ps);
		uint64_t x = 0;
		if (o == 0 && expect_size(ps, &v, WL_MIN_SWAP, 1ULL << 50, true,
					  "a swap size of at least 40K (mkswap's 10 pages)",
					  &p->swaps[s].size))
			return -EINVAL;
		if (o == 1) {
			if (expect_uint(ps, &v, 0, 32767, "a priority from 0 to 32767", &x))
				return -EINVAL;
			p->swaps[s].prio = (int)x;
		}
	}
	if (!(seen & 1))
		return perr(ps, t.at, "expected size=SIZE for swap '%s', found none",
			    p->swaps[s].name);
	return 0;
}

static int parse_file(struct parser *ps)
{
	static const struct optdesc opts[] = {{"size", true}};
	struct wl_token t, name;
	unsigned int seen = 0;
	struct wl_program *p = ps->p;
	if (expect_name(ps, "a name for the file", &t))
		return -EINVAL;
	if (named_slot(ps, &p->files, &p->nfiles, &p->files_cap, &t, false) >= 0)
		return perr(ps, t.at, "expected a new file name, found '%.*s' (declared before)",
			    (int)t.len, t.s);
	int f = named_slot(ps, &p->files, &p->nfiles, &p->files_cap, &t, true);
	if (f < 0)
		return f;
	for (;;) {
		int o = next_option(ps, opts, 1, "size=SIZE", &seen, &name);
		if (o == -1)
			break;
		if (o == -2)
			return -EINVAL;
		struct wl_token v = next(ps);
		if (expect_size(ps, &v, WL_PAGE_SIZE, 1ULL << 50, true,
				"a file size such as 64M (a multiple of 4K)", &p->files[f].size))
			return -EINVAL;
	}
	if (!(seen & 1))
		return perr(ps, t.at, "expected size=SIZE for file '%s', found none",
			    p->files[f].name);
	return 0;
}

static int parse_variant(struct parser *ps)
{
	static const char *const keys[] = {"model", "buddy", "rmap"};
	struct wl_program *p = ps->p;
	struct wl_token k = next(ps);
	int key = -1;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(keys); i++)
		if (tok_is(&k, keys[i]))
			key = (int)i;
	if (key < 0)
		return expected(ps, &k, "a design to vary: model, buddy or rmap");
	for (size_t i = 0; i < p->nvariants; i++)
		if (!strcmp(p->variants[i].key, keys[key]))
			return perr(ps, k.at,
				    "expected each design once, found a second '%s' (line %d)",
				    keys[key], p->variants[i].at.line);
	if (expect_punct(ps, WL_T_EQUALS, "'=' and the designs, such as buddy=pageflag,bitmap"))
		return -EINVAL;
	if (!GROW(ps, p->variants, p->variants_cap, p->nvariants + 1))
		return oom(ps);
	struct wl_variant *v = &p->variants[p->nvariants++];
	memset(v, 0, sizeof(*v));
	snprintf(v->key, sizeof(v->key), "%s", keys[key]);
	v->at = k.at;
	struct kmm_config *scratch = malloc(sizeof(*scratch));
	if (!scratch)
		return oom(ps);
	int ret = 0;
	for (;;) {
		struct wl_token t = next(ps);
		char opt[32], val[64];
		struct kmm_error e = {0};
		if (t.kind != WL_T_WORD || t.len >= sizeof(val)) {
			ret = expected(ps, &t, "a design name");
			break;
		}
		if (v->nvalues == (int)KMM_ARRAY_SIZE(v->values)) {
			ret = perr(ps, t.at, "expected at most 8 designs, found more");
			break;
		}
		snprintf(opt, sizeof(opt), "--%s", keys[key]);
		memcpy(val, t.s, t.len);
		val[t.len] = '\0';
		kmm_config_init(scratch);
		if (kmm_config_option(scratch, opt, val, &e) < 0) {
			ret = perr(ps, t.at, "%s", e.msg);
			break;
		}
		for (int i = 0; i < v->nvalues; i++)
			if (!strcmp(v->values[i], val)) {
				ret = perr(ps, t.at, "expected each design once, found '%s' twice",
					   val);
				break;
			}
		if (ret)
			break;
		v->values[v->nvalues] = tok_dup(ps, &t);
		if (!v->values[v->nvalues]) {
			ret = -ENOMEM;
			break;
		}
		v->nvalues++;
		t = next(ps);
		if (at_end(&t))
			break;
		if (t.kind != WL_T_COMMA) {
			ret = expected(ps, &t, "',' and another design, or end of line");
			break;
		}
	}
	free(scratch);
	return ret;
}

/* --- Statements ---------------------------------------------------------------------------- */

static int open_block(struct parser *ps, struct wl_op *op)
{
	if (ps->depth == WL_MAX_DEPTH)
		return perr(ps, op->loc, "expected at most %d nested blocks, found more",
			    WL_MAX_DEPTH);
	ps->stack[ps->depth++] = (uint32_t)(op - ps->p->ops);
	return 0;
}

static int parse_end(struct parser *ps, struct wl_token *kw)
{
	struct wl_program *p = ps->p;
	if (!ps->depth)
		return perr(ps, kw->at,
			    "expected a statement, found 'end' with no open phase or "
			    "repeat");
	uint32_t begin = ps->stack[--ps->depth];
	enum wl_op_kind kind =
	    p->ops[begin].kind == WL_OP_PHASE ? WL_OP_END_PHASE : WL_OP_END_REPEAT;
	struct wl_op *op = new_op(ps, kind, kw->at);
	if (!op)
		return -ENOMEM;
	uint32_t end = (uint32_t)(op - p->ops);
	op->u.end.begin = begin;
	if (kind == WL_OP_END_PHASE)
		p->ops[begin].u.phase.end = end;
	else
		p->ops[begin].u.repeat.end = end;
	return expect_end(ps, "end of line after 'end'");
}

static const char statement_what[] =
    "a statement (machine, seed, swap, file, variant, spawn, phase, repeat, end, "
    "alloc_pages, kmalloc, kmem_cache_create, kmem_cache_alloc, kmem_cache_destroy, free, "
    "churn, sysctl, drain, validate, snapshot, echo) or TASK: OPERATION";

static int parse_statement(struct parser *ps)
{
	struct wl_program *p = ps->p;
	struct wl_token t = next(ps);
	if (at_end(&t))
		return 0;
	if (t.kind != WL_T_WORD)
		return expected(ps, &t, statement_what);
	if (wl_lex_colon_follows(&ps->lx)) {
		if (!ps->seen_op) {
			ps->seen_op = true;
			ps->first_op = t.at;
		}
		return parse_task_op(ps, &t);
	}

	/* Setup statements: before the first operation, outside blocks. */
	static const char *const setup[] = {"machine", "seed", "swap", "file", "variant"};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(setup); i++) {
		if (!tok_is(&t, setup[i]))
			continue;
		if (ps->seen_op)
			return perr(
			    ps, t.at,
			    "expected an operation, found '%s' (setup statements come before "
			    "the first operation, line %d)",
			    setup[i], ps->first_op.line);
		switch (i) {
		case 0:
			return parse_machine(ps, &t);
		case 1: {
			struct wl_token v = next(ps);
			if (p->seed_given)
				return perr(ps, t.at,
					    "expected one seed statement, found a second (line %d)",
					    ps->seed_at.line);
			if (expect_uint(ps, &v, 0, UINT64_MAX, "a seed (a whole number)", &p->seed))
				return -EINVAL;
			p->seed_given = true;
			ps->seed_at = t.at;
			return expect_end(ps, "end of line after the seed");
		}
		case 2:
			return parse_swap(ps);
		case 3:
			return parse_file(ps);
		default:
			return parse_variant(ps);
		}
	}

	enum wl_op_kind kind = WL_NR_OPS;
	for (int k = 0; k < WL_NR_OPS; k++)
		if (!wl_op_is_task((enum wl_op_kind)k) && tok_is(&t, wl_op_names[k]))
			kind = (enum wl_op_kind)k;
	if (kind == WL_OP_END_PHASE || kind == WL_OP_END_REPEAT)
		return parse_end(ps, &t);
	if (kind == WL_NR_OPS) {
		/* A task operation without its task is the likeliest slip. */
		for (int k = WL_OP_MMAP; k <= WL_OP_EXIT; k++)
			if (tok_is(&t, wl_op_names[k]))
				return perr(ps, t.at,
					    "expected TASK: before '%s' (a task operation), found "
					    "'%s' alone",
					    wl_op_names[k], wl_op_names[k]);
		return expected(ps, &t, statement_what);
	}
	if (!ps->seen_op) {
		ps->seen_op = true;
		ps->first_op = t.at;
	}
	struct wl_op *op = new_op(ps, kind, t.at);
	if (!op)
		return -ENOMEM;
	struct wl_token v;
	switch (kind) {
	case WL_OP_PHASE: {
		if (ps->depth)
			return perr(
			    ps, t.at,
			    "expected a phase outside other blocks, found one inside the %s at "
			    "line %d",
			    p->ops[ps->stack[ps->depth - 1]].kind == WL_OP_PHASE ? "phase"
										 : "repeat",
			    p->ops[ps->stack[ps->depth - 1]].loc.line);
		if (expect_name(ps, "a name for the phase", &v))
			return -EINVAL;
		int old = named_slot(ps, &p->phases, &p->nphases, &p->phases_cap, &v, false);
		if (old >= 0)
			return perr(ps, v.at, "expected a new phase name, found '%.*s' (line %d)",
				    (int)v.len, v.s, p->phases[old].at.line);
		op->u.phase.name =
		    named_slot(ps, &p->phases, &p->nphases, &p->phases_cap, &v, true);
		if (op->u.phase.name < 0)
			return -EINVAL;
		op->loc2 = v.at;
		if (open_block(ps, op))
			return -EINVAL;
		return expect_end(ps, "end of line after the phase name");
	}
	case WL_OP_REPEAT:
		v = next(ps);
		if (expect_uint(ps, &v, 0, WL_MAX_COUNT, "a number of passes from 0 to 2^40",
				&op->u.repeat.count))
			return -EINVAL;
		op->loc2 = v.at;
		if (open_block(ps, op))
			return -EINVAL;
		return expect_end(ps, "end of line after the number of passes");
	case WL_OP_SPAWN: {
		static const struct optdesc opts[] = {{"cpu", true}, {"node", true}};
		struct wl_token name;
		unsigned int seen = 0;
		if (expect_name(ps, "a name for the new task", &v))
			return -EINVAL;
		op->task_at = op->loc2 = v.at;
		op->task = task_slot(ps, &v);
		if (op->task < 0)
			return -EINVAL;
		op->u.spawn.cpu = op->u.spawn.node = -1;
		for (;;) {
			int o = next_option(ps, opts, 2, "a spawn option (cpu=N or node=N)", &seen,
					    &name);
			if (o == -1)
				return 0;
			if (o == -2)
				return -EINVAL;
			if (o == 0 ? cpu_option(ps, op, &op->u.spawn.cpu)
				   : node_option(ps, op, &op->u.spawn.node))
				return -EINVAL;
		}
	}
	case WL_OP_CACHE_CREATE:
		return parse_cache_create(ps, op);
	case WL_OP_CACHE_DESTROY: {
		static const struct optdesc opts[] = {{"cpu", true}};
		struct wl_token name;
		unsigned int seen = 0;
		if (expect_name(ps, "a cache name", &v))
			return -EINVAL;
		op->loc2 = v.at;
		op->u.cache.cache =
		    named_slot(ps, &p->caches, &p->ncaches, &p->caches_cap, &v, false);
		if (op->u.cache.cache < 0)
			return perr(ps, v.at,
				    "expected a cache made by kmem_cache_create, found '%.*s'",
				    (int)v.len, v.s);
		for (;;) {
			int o = next_option(ps, opts, 1, "cpu=N or end of line", &seen, &name);
			if (o == -1)
				return 0;
			if (o == -2 || cpu_option(ps, op, &op->cpu))
				return -EINVAL;
		}
	}
	case WL_OP_CACHE_ALLOC:
	case WL_OP_KMALLOC:
	case WL_OP_ALLOC_PAGES:
		return parse_alloc(ps, op);
	case WL_OP_FREE:
		return parse_free(ps, op);
	case WL_OP_CHURN:
		return parse_churn(ps, op);
	case WL_OP_SYSCTL:
		return parse_sysctl(ps, op);
	case WL_OP_DRAIN:
	case WL_OP_VALIDATE:
		return expect_end(ps, "end of line");
	case WL_OP_SNAPSHOT:
	case WL_OP_ECHO:
		v = next(ps);
		if (v.kind == WL_T_STRING) {
			op->u.echo.text = tok_dup(ps, &v);
			if (!op->u.echo.text)
				return -ENOMEM;
			return expect_end(ps, "end of line after the text");
		}
		if (kind == WL_OP_SNAPSHOT && at_end(&v))
			return 0;
		return expected(ps, &v,
				kind == WL_OP_ECHO ? "a \"quoted text\""
						   : "a \"quoted label\" or end of line");
	default:
		return expected(ps, &t, statement_what);
	}
}

/*
 * A fork copies every region of the parent, including regions the parent
 * maps only after the fork's line (in a later pass of a repeat), and the
 * child may fork in turn: create the child's slots until nothing changes.
 */
static int resolve_forks(struct parser *ps)
{
	struct wl_program *p = ps->p;
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < p->nops; i++) {
			struct wl_op *op = &p->ops[i];
			if (op->kind != WL_OP_FORK)
				continue;
			for (size_t r = 0; r < p->nregions; r++) {
				if (p->regions[r].task != op->task)
					continue;
				size_t before = p->nregions;
				const char *name = p->regions[r].name;
				if (region_slot_named(ps, op->u.fork.child, name, strlen(name)) < 0)
					return -ENOMEM;
				changed |= p->nregions != before;
			}
		}
	}
	for (size_t i = 0; i < p->nops; i++) {
		struct wl_op *op = &p->ops[i];
		if (op->kind != WL_OP_FORK)
			continue;
		op->u.fork.first_pair = (uint32_t)p->npairs;
		for (size_t r = 0; r < p->nregions; r++) {
			if (p->regions[r].task != op->task)
				continue;
			const char *name = p->regions[r].name;
			int to = region_slot_named(ps, op->u.fork.child, name, strlen(name));
			if (to < 0)
				return -ENOMEM;
			if (!GROW(ps, p->fork_pairs, p->pairs_cap, p->npairs + 1))
				return oom(ps);
			p->fork_pairs[p->npairs++] = (struct wl_pair){(int)r, to};
			op->u.fork.npairs++;
		}
	}
	return 0;
}

int wl_parse(struct wl_program *p, const char *text, size_t len, struct kmm_error *err)
{
	struct parser ps;
	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.err = err;
	wl_lex_init(&ps.lx, text, len, p->filename);
	int ret = 0;
	for (;;) {
		struct wl_token t = peek(&ps);
		if (t.kind == WL_T_EOF)
			break;
		ret = parse_statement(&ps);
		if (ret || ps.failed)
			break;
	}
	if (!ret && !ps.failed && ps.depth) {
		struct wl_op *open = &p->ops[ps.stack[ps.depth - 1]];
		struct wl_token eof = peek(&ps);
		ret = perr(&ps, eof.at,
			   "expected 'end' to close the %s at line %d, found end of file",
			   open->kind == WL_OP_PHASE ? "phase" : "repeat", open->loc.line);
	}
	if (!ret && !ps.failed)
		ret = resolve_forks(&ps);
	if (ps.failed && !ret)
		ret = err->code ? err->code : -EINVAL;
	wl_lex_free(&ps.lx);
	return ret;
}

void wl_program_free(struct wl_program *p)
{
	for (size_t i = 0; i < p->nops; i++) {
		struct wl_op *op = &p->ops[i];
		switch (op->kind) {
		case WL_OP_CACHE_ALLOC:
		case WL_OP_KMALLOC:
		case WL_OP_ALLOC_PAGES:
			free(op->u.alloc.dist);
			break;
		case WL_OP_SYSCTL:
			free(op->u.sysctl.name);
			free(op->u.sysctl.value);
			break;
		case WL_OP_ECHO:
		case WL_OP_SNAPSHOT:
			free(op->u.echo.text);
			break;
		default:
			break;
		}
	}
	free(p->ops);
	for (size_t i = 0; i < p->ntasks; i++)
		free(p->tasks[i].name);
	free(p->tasks);
	for (size_t i = 0; i < p->nregions; i++)
		free(p->regions[i].name);
	free(p->regions);
	for (size_t i = 0; i < p->npools; i++)
		free(p->pools[i].name);
	free(p->pools);
	struct wl_named *tables[] = {p->caches, p->files, p->swaps, p->phases};
	size_t counts[] = {p->ncaches, p->nfiles, p->nswaps, p->nphases};
	for (size_t t = 0; t < KMM_ARRAY_SIZE(tables); t++) {
		for (size_t i = 0; i < counts[t]; i++)
			free(tables[t][i].name);
		free(tables[t]);
	}
	for (size_t i = 0; i < p->nvariants; i++)
		for (int j = 0; j < p->variants[i].nvalues; j++)
			free(p->variants[i].values[j]);
	free(p->variants);
	free(p->fork_pairs);
	free(p->filename);
	free(p->dir);
	memset(p, 0, sizeof(*p));
}
