/*
 * The workload checker: follows a parsed program through every pass of
 * every repeat block, without running anything, and reports the first
 * operation that could not run.
 *
 * Linux counterpart: none. What it checks is what the system calls and
 * allocators would refuse: mmap over a live name, munmap/mprotect/madvise
 * of unmapped memory (ENOMEM), a write to read-only memory (SIGSEGV), an
 * operation of a task that has exited, kmem_cache_destroy of a cache with
 * live objects (Linux's "Objects remaining" BUG), a CPU or node the
 * machine does not have.
 *
 * Theory of operation:
 *  1. The state is small and symbolic: which tasks are alive; for each
 *     region slot, its size and its mapped pieces with their protection;
 *     for each pool, whether an allocation has filled it and whether it
 *     may still hold objects; which caches exist.
 *  2. Operations update the state in program order. A repeat block runs
 *     its body pass after pass until a pass leaves the state as it found
 *     it: every later pass would then do exactly the same, so the checker
 *     stops there (typically after one or two passes, whatever N is).
 *     A body that keeps changing the state (a chain of forks passing a
 *     name along) is followed until it settles or a budget of steps runs
 *     out, which is reported as an error rather than left unchecked.
 *  3. Nothing depends on what the allocators return at run time: a free
 *     with count=N frees at most N, so "may still hold objects" is all
 *     the checker needs to know about a pool.
 */
#include "workload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps the checker may take over the whole program (passes included). */
#define CHECK_BUDGET (4UL << 20)

struct seg {
	uint64_t start, end;
	unsigned int prot;
};

struct ck_region {
	uint64_t size; /* 0: not mapped */
	struct seg *segs;
	size_t nsegs, cap;
	struct wl_loc gone_at; /* the munmap, exit or exec that last removed it */
	int file;
};

struct ck_task {
	bool alive;
	struct wl_loc born_at, gone_at;
	bool ever;
};

struct ck_pool {
	bool filled;   /* an allocation has run */
	bool nonempty; /* it may hold objects */
	struct wl_loc last_alloc;
};

struct ck_cache {
	bool alive;
	struct wl_loc gone_at;
};

struct ck_state {
	struct ck_task *tasks;
	struct ck_region *regions;
	struct ck_pool *pools;
	struct ck_cache *caches;
};

struct checker {
	struct wl_program *p;
	struct kmm_error *err;
	struct ck_state st;
	int nr_cpus, nr_nodes;
	unsigned long steps;
	/* The innermost repeat being followed, for messages. */
	struct wl_loc pass_at;
	uint64_t pass;
	bool oom;
};

/* --- State ---------------------------------------------------------------------------------- */

static int state_alloc(const struct wl_program *p, struct ck_state *s)
{
	s->tasks = calloc(p->ntasks + 1, sizeof(*s->tasks));
	s->regions = calloc(p->nregions + 1, sizeof(*s->regions));
	s->pools = calloc(p->npools + 1, sizeof(*s->pools));
	s->caches = calloc(p->ncaches + 1, sizeof(*s->caches));
	if (!s->tasks || !s->regions || !s->pools || !s->caches)
		return -ENOMEM;
	return 0;
}

static void state_free(const struct wl_program *p, struct ck_state *s)
{
	if (s->regions)
		for (size_t i = 0; i < p->nregions; i++)
			free(s->regions[i].segs);
	free(s->tasks);
	free(s->regions);
	free(s->pools);
	free(s->caches);
	memset(s, 0, sizeof(*s));
}

static int segs_reserve(struct ck_region *r, size_t want)
{
	if (want <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap * 2 : 4;
	while (cap < want)
		cap *= 2;
	struct seg *n = realloc(r->segs, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->segs = n;
	r->cap = cap;
	return 0;
}

static int state_copy(const struct wl_program *p, struct ck_state *dst, const struct ck_state *src)
{
	memcpy(dst->tasks, src->tasks, p->ntasks * sizeof(*dst->tasks));
	memcpy(dst->pools, src->pools, p->npools * sizeof(*dst->pools));
	memcpy(dst->caches, src->caches, p->ncaches * sizeof(*dst->caches));
	for (size_t i = 0; i < p->nregions; i++) {
		struct ck_region *d = &dst->regions[i];
		const struct ck_region *s = &src->regions[i];
		if (segs_reserve(d, s->nsegs))
			return -ENOMEM;
		if (s->nsegs)
			memcpy(d->segs, s->segs, s->nsegs * sizeof(*s->segs));
		d->nsegs = s->nsegs;
		d->size = s->size;
		d->gone_at = s->gone_at;
		d->file = s->file;
	}
	return 0;
}

/*
 * Equal for what decides whether later operations can run (where a name
 * went away is only for messages and does not count).
 */
static bool state_equal(const struct wl_program *p, const struct ck_state *a,
			const struct ck_state *b)
{
	for (size_t i = 0; i < p->ntasks; i++)
		if (a->tasks[i].alive != b->tasks[i].alive)
			return false;
	for (size_t i = 0; i < p->npools; i++)
		if (a->pools[i].filled != b->pools[i].filled ||
		    a->pools[i].nonempty != b->pools[i].nonempty)
			return false;
	for (size_t i = 0; i < p->ncaches; i++)
		if (a->caches[i].alive != b->caches[i].alive)
			return false;
	for (size_t i = 0; i < p->nregions; i++) {
		const struct ck_region *x = &a->regions[i], *y = &b->regions[i];
		if (x->size != y->size || x->nsegs != y->nsegs || x->file != y->file)
			return false;
		if (x->nsegs && memcmp(x->segs, y->segs, x->nsegs * sizeof(*x->segs)))
			return false;
	}
	return true;
}

/* --- Messages -------------------------------------------------------------------------------- */

__kmm_printf(3, 4) static int cerr(struct checker *ck, struct wl_loc at, const char *fmt, ...)
{
	va_list ap;
	char msg[400], where[80] = "";
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ck->pass > 1)
		snprintf(where, sizeof(where), ", in pass %llu of the repeat at line %d",
			 (unsigned long long)ck->pass, ck->pass_at.line);
	return wl_error(ck->err, ck->p, at, "%s%s", msg, where);
}

#define size_str wl_size_str

static void prot_str(unsigned int prot, char *buf)
{
	int n = 0;
	if (!prot) {
		strcpy(buf, "none");
		return;
	}
	if (prot & WL_PROT_READ)
		buf[n++] = 'r';
	if (prot & WL_PROT_WRITE)
		buf[n++] = 'w';
	if (prot & WL_PROT_EXEC)
		buf[n++] = 'x';
	buf[n] = '\0';
}

static const char *task_name(const struct checker *ck, int t)
{
	return ck->p->tasks[t].name;
}

/* --- Checks ------------------------------------------------------------------------------------ */

static int need_task(struct checker *ck, const struct wl_op *op)
{
	const struct ck_task *t = &ck->st.tasks[op->task];
	if (t->alive)
		return 0;
	if (t->ever)
		return cerr(ck, op->task_at,
			    "expected a running task, found '%s', which exited at line %d",
			    task_name(ck, op->task), t->gone_at.line);
	return cerr(ck, op->task_at, "expected a running task, found '%s' (spawn or fork it first)",
		    task_name(ck, op->task));
}

static int need_cpu(struct checker *ck, int cpu, struct wl_loc at)
{
	if (cpu < ck->nr_cpus)
		return 0;
	if (ck->nr_cpus == 1)
		return cerr(ck, at, "expected CPU 0 (the machine has one CPU), found %d", cpu);
	return cerr(ck, at, "expected a CPU from 0 to %d (the machine has %d), found %d",
		    ck->nr_cpus - 1, ck->nr_cpus, cpu);
}

static int need_node(struct checker *ck, int node, struct wl_loc at)
{
	if (node < ck->nr_nodes)
		return 0;
	if (ck->nr_nodes == 1)
		return cerr(ck, at, "expected node 0 (the machine has one node), found %d", node);
	return cerr(ck, at, "expected a node from 0 to %d (the machine has %d), found %d",
		    ck->nr_nodes - 1, ck->nr_nodes, node);
}

static int need_region(struct checker *ck, const struct wl_op *op, int region)
{
	const struct ck_region *r = &ck->st.regions[region];
	const char *name = ck->p->regions[region].name;
	if (r->size)
		return 0;
	if (r->gone_at.line)
		return cerr(
		    ck, op->loc2,
		    "expected a region mapped in task '%s', found '%s', unmapped at line %d",
		    task_name(ck, op->task), name, r->gone_at.line);
	if (!strcmp(name, "brk"))
		return cerr(ck, op->loc2,
			    "expected a region mapped in task '%s', found 'brk' (no brk made a "
			    "heap yet)",
			    task_name(ck, op->task));
	return cerr(ck, op->loc2,
		    "expected a region mapped in task '%s', found '%s' (mmap it first)",
		    task_name(ck, op->task), name);
}

/* Resolve a range against the region's size; it must lie inside. */
static int resolve_range(struct checker *ck, const struct wl_op *op, int region,
			 const struct wl_range *rg, uint64_t *start, uint64_t *end)
{
	const struct ck_region *r = &ck->st.regions[region];
	char a[32], b[32], s[32];
	*start = rg->start;
	*end = rg->open_end ? r->size : rg->end;
	if (*start < *end && *end <= r->size)
		return 0;
	size_str(r->size, s, sizeof(s));
	size_str(*start, a, sizeof(a));
	size_str(rg->end, b, sizeof(b));
	return cerr(ck, op->loc2, "expected a range inside '%s' (0..%s), found %s[%s..%s]",
		    ck->p->regions[region].name, s, ck->p->regions[region].name, a,
		    rg->open_end ? "" : b);
}

/* [start, end) must be mapped; each piece must allow @need. */
static int need_mapped(struct checker *ck, const struct wl_op *op, int region, uint64_t start,
		       uint64_t end, unsigned int need, const char *why)
{
	const struct ck_region *r = &ck->st.regions[region];
	const char *name = ck->p->regions[region].name;
	uint64_t at = start;
	char a[32], b[32], pr[8];
	for (size_t i = 0; i < r->nsegs && at < end; i++) {
		const struct seg *s = &r->segs[i];
		if (s->end <= at)
			continue;
		if (s->start > at)
			break;
		if ((s->prot & need) != need) {
			size_str(kmm_max(s->start, start), a, sizeof(a));
			size_str(kmm_min(s->end, end), b, sizeof(b));
			prot_str(s->prot, pr);
			return cerr(ck, op->loc2,
				    "expected %s memory for %s, found %s[%s..%s] with prot=%s",
				    need == (WL_PROT_READ | WL_PROT_WRITE) ? "readable and writable"
				    : need & WL_PROT_WRITE		   ? "writable"
									   : "readable",
				    why, name, a, b, pr);
		}
		at = s->end;
	}
	if (at >= end)
		return 0;
	size_str(at, a, sizeof(a));
	return cerr(ck, op->loc2, "expected mapped memory for %s, found a hole in %s at %s", why,
		    name, a);
}

/* Set [start, end) to @prot (mprotect), or remove it when @unmap (munmap). */
static int set_segs(struct ck_region *r, uint64_t start, uint64_t end, unsigned int prot,
		    bool unmap)
{
	/* Each old piece becomes at most three. */
	struct seg *out = malloc((3 * r->nsegs + 1) * sizeof(*out));
	size_t n = 0;
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < r->nsegs; i++) {
		struct seg s = r->segs[i];
		if (s.end <= start || s.start >= end) {
			out[n++] = s;
			continue;
		}
		/* An old piece splits into what lies before, inside and after the range. */
		if (s.start < start)
			out[n++] = (struct seg){s.start, start, s.prot};
		if (!unmap)
			out[n++] = (struct seg){kmm_max(s.start, start), kmm_min(end, s.end), prot};
		if (s.end > end)
			out[n++] = (struct seg){end, s.end, s.prot};
	}
	/* Merge neighbours with the same protection, so equal states compare equal. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && out[m - 1].end == out[i].start && out[m - 1].prot == out[i].prot)
			out[m - 1].end = out[i].end;
		else
			out[m++] = out[i];
	}
	free(r->segs);
	r->segs = out;
	r->nsegs = m;
	r->cap = 3 * r->nsegs + 1;
	if (!m)
		r->size = 0;
	return 0;
}

static int map_whole(struct ck_region *r, uint64_t size, unsigned int prot, int file)
{
	if (segs_reserve(r, 1))
		return -ENOMEM;
	r->segs[0] = (struct seg){0, size, prot};
	r->nsegs = 1;
	r->size = size;
	r->file = file;
	return 0;
}

static void unmap_all(struct checker *ck, int task, struct wl_loc at)
{
	for (size_t i = 0; i < ck->p->nregions; i++) {
		struct ck_region *r = &ck->st.regions[i];
		if (ck->p->regions[i].task != task || !r->size)
			continue;
		r->size = 0;
		r->nsegs = 0;
		r->gone_at = at;
	}
}

static int check_pool_exists(struct checker *ck, const struct wl_op *op, int pool)
{
	if (ck->st.pools[pool].filled)
		return 0;
	return cerr(ck, op->loc2,
		    "expected a pool an allocation has filled, found '%s' (no alloc_pages, kmalloc "
		    "or kmem_cache_alloc into it before)",
		    ck->p->pools[pool].name);
}

static int check_op(struct checker *ck, const struct wl_op *op)
{
	struct wl_program *p = ck->p;
	struct ck_state *st = &ck->st;
	uint64_t start, end;
	int ret;

	if (!wl_op_is_task(op->kind) && op->kind != WL_OP_SPAWN && op->cpu_at.line &&
	    need_cpu(ck, op->cpu, op->cpu_at))
		return -EINVAL;
	if (op->cpu > p->max_cpu && !wl_op_is_task(op->kind))
		p->max_cpu = op->cpu;

	switch (op->kind) {
	case WL_OP_SPAWN: {
		struct ck_task *t = &st->tasks[op->task];
		if (t->alive)
			return cerr(ck, op->loc2,
				    "expected a name that no running task has, found '%s' (running "
				    "since line %d)",
				    task_name(ck, op->task), t->born_at.line);
		if (op->u.spawn.cpu >= 0 && need_cpu(ck, op->u.spawn.cpu, op->cpu_at))
			return -EINVAL;
		if (op->u.spawn.node >= 0 && need_node(ck, op->u.spawn.node, op->node_at))
			return -EINVAL;
		t->alive = t->ever = true;
		t->born_at = op->loc;
		return 0;
	}
	case WL_OP_MMAP: {
		if (need_task(ck, op))
			return -EINVAL;
		struct ck_region *r = &st->regions[op->u.mmap.region];
		if (r->size)
			return cerr(ck, op->loc2,
				    "expected a region name not mapped in task '%s', found '%s' "
				    "(munmap it first)",
				    task_name(ck, op->task), p->regions[op->u.mmap.region].name);
		return map_whole(r, op->u.mmap.size, op->u.mmap.prot, op->u.mmap.file) ? -ENOMEM
										       : 0;
	}
	case WL_OP_MUNMAP:
	case WL_OP_MPROTECT:
	case WL_OP_MADVISE:
	case WL_OP_MLOCK:
	case WL_OP_MUNLOCK: {
		int region = op->u.area.region;
		if (need_task(ck, op) || need_region(ck, op, region) ||
		    resolve_range(ck, op, region, &op->u.area.range, &start, &end))
			return -EINVAL;
		struct ck_region *r = &st->regions[region];
		if (op->kind == WL_OP_MUNMAP) {
			/* Linux unmaps whatever is mapped in the range, holes are fine. */
			if (set_segs(r, start, end, 0, true))
				return -ENOMEM;
			if (!r->size)
				r->gone_at = op->loc;
			return 0;
		}
		ret = need_mapped(ck, op, region, start, end, 0, wl_op_names[op->kind]);
		if (ret)
			return ret;
		if (op->kind == WL_OP_MPROTECT && set_segs(r, start, end, op->u.area.prot, false))
			return -ENOMEM;
		return 0;
	}
	case WL_OP_BRK: {
		if (need_task(ck, op))
			return -EINVAL;
		struct ck_region *r = &st->regions[op->u.brk.region];
		if (!op->u.brk.size) {
			if (r->size)
				r->gone_at = op->loc;
			r->size = 0;
			r->nsegs = 0;
			return 0;
		}
		return map_whole(r, op->u.brk.size, WL_PROT_READ | WL_PROT_WRITE, -1) ? -ENOMEM : 0;
	}
	case WL_OP_TOUCH: {
		int region = op->u.touch.region;
		unsigned int need = 0;
		if (op->u.touch.access == WL_READ ||
		    (op->u.touch.access == WL_MIXED && op->u.touch.write_pct < 100))
			need |= WL_PROT_READ;
		if (op->u.touch.access == WL_WRITE ||
		    (op->u.touch.access == WL_MIXED && op->u.touch.write_pct > 0))
			need |= WL_PROT_WRITE;
		if (need_task(ck, op) || need_region(ck, op, region) ||
		    resolve_range(ck, op, region, &op->u.touch.range, &start, &end))
			return -EINVAL;
		if (op->u.touch.pattern == WL_PAT_STRIDE && op->u.touch.stride > end - start) {
			char s[32], l[32];
			size_str(op->u.touch.stride, s, sizeof(s));
			size_str(end - start, l, sizeof(l));
			return cerr(ck, op->loc2,
				    "expected a stride of at most the range's %s, found stride(%s)",
				    l, s);
		}
		/* Write needs w; read needs r (Linux x86: w and x imply r, kmm is strict). */
		return need_mapped(ck, op, region, start, end, need,
				   op->u.touch.access == WL_READ    ? "a read"
				   : op->u.touch.access == WL_WRITE ? "a write"
								    : "reads and writes");
	}
	case WL_OP_FILE_WRITE:
	case WL_OP_FILE_READ:
		/* The range was checked against the file's size when parsed. */
		return need_task(ck, op);
	case WL_OP_FORK: {
		if (need_task(ck, op))
			return -EINVAL;
		struct ck_task *c = &st->tasks[op->u.fork.child];
		if (c->alive)
			return cerr(ck, op->loc2,
				    "expected a name that no running task has, found '%s' (running "
				    "since line %d)",
				    task_name(ck, op->u.fork.child), c->born_at.line);
		if (op->u.fork.cpu >= 0 && need_cpu(ck, op->u.fork.cpu, op->cpu_at))
			return -EINVAL;
		c->alive = c->ever = true;
		c->born_at = op->loc;
		unmap_all(ck, op->u.fork.child, op->loc);
		for (uint32_t i = 0; i < op->u.fork.npairs; i++) {
			const struct wl_pair *pr = &p->fork_pairs[op->u.fork.first_pair + i];
			struct ck_region *from = &st->regions[pr->from], *to = &st->regions[pr->to];
			if (!from->size)
				continue;
			if (segs_reserve(to, from->nsegs))
				return -ENOMEM;
			memcpy(to->segs, from->segs, from->nsegs * sizeof(*to->segs));
			to->nsegs = from->nsegs;
			to->size = from->size;
			to->file = from->file;
		}
		return 0;
	}
	case WL_OP_EXEC:
		if (need_task(ck, op))
			return -EINVAL;
		unmap_all(ck, op->task, op->loc);
		return 0;
	case WL_OP_MLOCKALL:
	case WL_OP_MUNLOCKALL:
		return need_task(ck, op) ? -EINVAL : 0;
	case WL_OP_EXIT:
		if (need_task(ck, op))
			return -EINVAL;
		unmap_all(ck, op->task, op->loc);
		st->tasks[op->task].alive = false;
		st->tasks[op->task].gone_at = op->loc;
		return 0;
	case WL_OP_CACHE_CREATE: {
		struct ck_cache *c = &st->caches[op->u.cache.cache];
		if (c->alive)
			return cerr(
			    ck, op->loc2,
			    "expected a name no live cache has, found '%s' (destroy it first)",
			    p->caches[op->u.cache.cache].name);
		c->alive = true;
		return 0;
	}
	case WL_OP_CACHE_DESTROY: {
		int cache = op->u.cache.cache;
		struct ck_cache *c = &st->caches[cache];
		if (!c->alive)
			return cerr(ck, op->loc2, "expected a live cache, found '%s' (%s)",
				    p->caches[cache].name,
				    c->gone_at.line ? "destroyed before" : "not created yet");
		for (size_t i = 0; i < p->npools; i++)
			if (p->pools[i].kind == WL_POOL_CACHE && p->pools[i].cache == cache &&
			    st->pools[i].nonempty)
				return cerr(
				    ck, op->loc2,
				    "expected cache '%s' without live objects, found pool '%s' "
				    "that may hold some (free %s all before)",
				    p->caches[cache].name, p->pools[i].name, p->pools[i].name);
		c->alive = false;
		c->gone_at = op->loc;
		return 0;
	}
	case WL_OP_CACHE_ALLOC:
	case WL_OP_KMALLOC:
	case WL_OP_ALLOC_PAGES: {
		if (op->kind == WL_OP_CACHE_ALLOC && !st->caches[op->u.alloc.cache].alive)
			return cerr(ck, op->loc, "expected a live cache, found '%s' (%s)",
				    p->caches[op->u.alloc.cache].name,
				    st->caches[op->u.alloc.cache].gone_at.line ? "destroyed before"
									       : "not created yet");
		if (op->u.alloc.node >= 0 && need_node(ck, op->u.alloc.node, op->node_at))
			return -EINVAL;
		struct ck_pool *pl = &st->pools[op->u.alloc.pool];
		pl->filled = pl->nonempty = true;
		pl->last_alloc = op->loc;
		return 0;
	}
	case WL_OP_FREE:
		if (check_pool_exists(ck, op, op->u.free.pool))
			return -EINVAL;
		if (op->u.free.all)
			st->pools[op->u.free.pool].nonempty = false;
		return 0;
	case WL_OP_CHURN:
		if (check_pool_exists(ck, op, op->u.churn.pool))
			return -EINVAL;
		st->pools[op->u.churn.pool].nonempty = true;
		return 0;
	default: /* phase, repeat and end are handled by the caller; the rest need no state */
		return 0;
	}
}

/* Follow ops [from, to). */
static int check_range(struct checker *ck, uint32_t from, uint32_t to)
{
	struct wl_program *p = ck->p;
	for (uint32_t i = from; i < to; i++) {
		const struct wl_op *op = &p->ops[i];
		if (++ck->steps > CHECK_BUDGET)
			return cerr(
			    ck, op->loc,
			    "cannot check this workload: its repeat blocks keep changing what "
			    "is alive for more than %lu steps",
			    CHECK_BUDGET);
		if (op->kind != WL_OP_REPEAT) {
			if (check_op(ck, op))
				return -EINVAL;
			continue;
		}
		uint32_t end = op->u.repeat.end;
		struct wl_loc saved_at = ck->pass_at;
		uint64_t saved_pass = ck->pass;
		struct ck_state before;
		int ret = 0;
		if (op->u.repeat.count && state_alloc(p, &before))
			ret = -ENOMEM;
		for (uint64_t pass = 1; !ret && pass <= op->u.repeat.count; pass++) {
			if (state_copy(p, &before, &ck->st)) {
				ret = -ENOMEM;
				break;
			}
			ck->pass_at = op->loc;
			ck->pass = pass;
			ret = check_range(ck, i + 1, end);
			if (!ret && state_equal(p, &before, &ck->st))
				break; /* a fixed point: every later pass is the same */
		}
		if (op->u.repeat.count)
			state_free(p, &before);
		if (ret == -ENOMEM && !ck->err->code)
			kmm_error_set(ck->err, -ENOMEM, "%s: out of host memory", p->filename);
		if (ret)
			return ret;
		ck->pass_at = saved_at;
		ck->pass = saved_pass;
		i = end;
	}
	return 0;
}

int wl_check(struct wl_program *p, struct kmm_error *err)
{
	struct checker ck;
	int ret;
	memset(&ck, 0, sizeof(ck));
	ck.p = p;
	ck.err = err;

	/* The machine first: CPU and node numbers are checked against it. */
	if (!p->cfg_finished) {
		struct kmm_error e = {0};
		ret = kmm_config_finish(&p->cfg, &e);
		if (ret) {
			if (p->machine_at.line)
				return wl_error(err, p, p->machine_at, "the machine: %s", e.msg);
			return kmm_error_set(err, ret, "%s: the machine: %s", p->filename, e.msg);
		}
		p->cfg_finished = true;
	}
	ck.nr_cpus = p->cfg.desc.nr_cpus > 0 ? p->cfg.desc.nr_cpus : 1;
	ck.nr_nodes = p->cfg.desc.nr_nodes > 0 ? p->cfg.desc.nr_nodes : 1;
	if (p->cfg.desc.numa_off)
		ck.nr_nodes = 1;
	p->max_cpu = 0;

	if (state_alloc(p, &ck.st)) {
		state_free(p, &ck.st);
		return kmm_error_set(err, -ENOMEM, "%s: out of host memory", p->filename);
	}
	for (size_t i = 0; i < p->nregions; i++)
		ck.st.regions[i].file = -1;
	ret = check_range(&ck, 0, (uint32_t)p->nops);
	state_free(p, &ck.st);
	if (!ret)
		p->checked = true;
	return ret;
}
