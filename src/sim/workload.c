/*
 * Workloads: the public entry points (parse, override, check, dump) and
 * the distributions operations draw their sizes and orders from.
 *
 * Linux counterpart: none. The lexer, parser, checker and executor live
 * in workload_lex.c, workload_parse.c, workload_check.c and exec.c; this
 * file ties them together in the order a caller needs them: parse (the
 * workload's own machine lines apply as they are read), then command-line
 * overrides, then the check, which finishes the machine configuration so
 * CPU and node numbers can be checked, then kmm_workload_supported() and
 * the run.
 */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kmm_workload_parse(const char *text, size_t len, const char *filename,
		       struct kmm_workload **out, struct kmm_error *err)
{
	struct kmm_workload *w = calloc(1, sizeof(*w));
	struct wl_program *p;
	*out = NULL;
	if (!w)
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	p = &w->p;
	p->filename = strdup(filename ? filename : "workload");
	/* Relative paths inside the workload are relative to its directory. */
	const char *slash = filename ? strrchr(filename, '/') : NULL;
	p->dir = slash ? strndup(filename, (size_t)(slash - filename) + (slash == filename))
		       : strdup("");
	if (!p->filename || !p->dir) {
		wl_program_free(p);
		free(w);
		return kmm_error_set(err, -ENOMEM, "out of host memory");
	}
	kmm_config_init(&p->cfg);
	int ret = wl_parse(p, text ? text : "", text ? len : 0, err);
	/* A variant's first design is the one `kmm run` uses. */
	for (size_t i = 0; !ret && i < p->nvariants; i++) {
		char opt[32];
		struct wl_variant *v = &p->variants[i];
		snprintf(opt, sizeof(opt), "--%s", v->key);
		if (kmm_config_option(&p->cfg, opt, v->values[0], err) < 0)
			ret = wl_error(err, p, v->at, "%s", err->msg);
	}
	if (ret) {
		wl_program_free(p);
		free(w);
		return ret < 0 ? ret : -EINVAL;
	}
	if (!p->seed_given)
		p->seed = p->cfg.seed;
	*out = w;
	return 0;
}

int kmm_workload_load(const char *path, struct kmm_workload **out, struct kmm_error *err)
{
	FILE *f = fopen(path, "rb");
	*out = NULL;
	if (!f)
		return kmm_error_set(err, -errno, "%s: %s", path, strerror(errno));
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap)
			break;
		if (cap >= (1u << 30)) {
			free(buf);
			fclose(f);
			return kmm_error_set(err, -EFBIG, "%s: larger than 1 GiB", path);
		}
		char *bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	bool bad = !buf || ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return kmm_error_set(err, -EIO, "%s: cannot read it", path);
	}
	int ret = kmm_workload_parse(buf, len, path, out, err);
	free(buf);
	return ret;
}

int kmm_workload_machine_option(struct kmm_workload *w, const char *opt, const char *val,
				struct kmm_error *err)
{
	w->p.cfg_finished = false;
	w->p.checked = false;
	return kmm_config_option(&w->p.cfg, opt, val, err);
}

void kmm_workload_set_seed(struct kmm_workload *w, uint64_t seed)
{
	w->p.seed = seed;
	w->p.seed_given = true;
	w->p.cfg.seed = seed;
}

int kmm_workload_check(struct kmm_workload *w, struct kmm_error *err)
{
	return wl_check(&w->p, err);
}

int kmm_workload_supported(const struct kmm_workload *w, struct kmm_error *err)
{
	const struct wl_program *p = &w->p;
	for (size_t i = 0; i < p->nops; i++) {
		const struct wl_op *op = &p->ops[i];
		const char *needs = sim_op_needs(op->kind);
		if (needs)
			return kmm_error_set(
			    err, -ENOSYS, "%s:%d:%d: not supported yet: %s (needs %s)", p->filename,
			    op->loc.line, op->loc.col, wl_op_names[op->kind], needs);
		if (op->kind == WL_OP_MADVISE && (needs = sim_madvise_needs(op->u.area.advice)))
			return kmm_error_set(err, -ENOSYS,
					     "%s:%d:%d: not supported yet: madvise %s (needs %s)",
					     p->filename, op->loc.line, op->loc.col,
					     wl_advice_names[op->u.area.advice], needs);
	}
	return 0;
}

const struct kmm_config *kmm_workload_config(const struct kmm_workload *w)
{
	return &w->p.cfg;
}

void kmm_workload_free(struct kmm_workload *w)
{
	if (!w)
		return;
	wl_program_free(&w->p);
	free(w);
}

void wl_size_str(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
}

/* --- Distributions ----------------------------------------------------------------------------- */

uint64_t wl_dist_sample(const struct wl_dist *d, struct kmm_rng *rng)
{
	switch (d->kind) {
	case WL_DIST_FIXED:
		return d->lo;
	case WL_DIST_UNIFORM:
		return kmm_rng_range(rng, d->lo, d->hi);
	case WL_DIST_POW2: {
		uint64_t p = 1;
		unsigned int k = 0;
		while (p < d->lo)
			p <<= 1;
		for (uint64_t q = p; q <= d->hi && q; q <<= 1)
			k++;
		return p << kmm_rng_below(rng, k);
	}
	case WL_DIST_CHOICE: {
		uint64_t r = kmm_rng_below(rng, d->cumweight[d->n - 1]);
		uint32_t i = 0;
		while (r >= d->cumweight[i])
			i++;
		return d->values[i];
	}
	case WL_DIST_EXP: {
		/* Sizes round up (never 0); orders (lo 0) round down. */
		double x = -d->mean * log1p(-kmm_rng_double(rng));
		double v = d->lo ? ceil(x) : floor(x);
		if (v < (double)d->lo)
			return d->lo;
		if (v > (double)d->hi)
			return d->hi;
		return (uint64_t)v;
	}
	}
	return d->lo;
}

void wl_dist_describe(const struct wl_dist *d, char *buf, size_t len)
{
	size_t n = 0;
	switch (d->kind) {
	case WL_DIST_FIXED:
		snprintf(buf, len, "%llu", (unsigned long long)d->lo);
		break;
	case WL_DIST_UNIFORM:
	case WL_DIST_POW2:
		snprintf(buf, len, "%s(%llu,%llu)", d->kind == WL_DIST_POW2 ? "pow2" : "uniform",
			 (unsigned long long)d->lo, (unsigned long long)d->hi);
		break;
	case WL_DIST_EXP:
		snprintf(buf, len, "exp(%g)", d->mean);
		break;
	case WL_DIST_CHOICE:
		n = (size_t)snprintf(buf, len, "choice(");
		for (uint32_t i = 0; i < d->n && n < len; i++)
			n += (size_t)snprintf(
			    buf + n, len - n, "%s%llu:%llu", i ? "," : "",
			    (unsigned long long)d->values[i],
			    (unsigned long long)(d->cumweight[i] - (i ? d->cumweight[i - 1] : 0)));
		if (n < len)
			snprintf(buf + n, len - n, ")");
		break;
	}
}

/* --- Dump ---------------------------------------------------------------------------------------- */

static void range_str(const struct wl_range *r, char *buf, size_t len)
{
	if (r->open_end && !r->start)
		buf[0] = '\0';
	else if (r->open_end)
		snprintf(buf, len, "[%#llx..]", (unsigned long long)r->start);
	else
		snprintf(buf, len, "[%#llx..%#llx]", (unsigned long long)r->start,
			 (unsigned long long)r->end);
}

static void dump_prot(unsigned int prot, char *buf)
{
	int n = 0;
	if (prot & WL_PROT_READ)
		buf[n++] = 'r';
	if (prot & WL_PROT_WRITE)
		buf[n++] = 'w';
	if (prot & WL_PROT_EXEC)
		buf[n++] = 'x';
	if (!n)
		n = sprintf(buf, "none");
	buf[n] = '\0';
}

static void dump_op(const struct wl_program *p, const struct wl_op *op, struct kmm_buf *out)
{
	static const char *const patterns[] = {"seq", "random", "stride", "zipf", "loop"};
	static const char *const picks[] = {"fifo", "lifo", "random"};
	char a[96], b[600], gfp[200];
	kmm_buf_printf(out, "%d:%d %s", op->loc.line, op->loc.col, wl_op_names[op->kind]);
	if (op->task >= 0)
		kmm_buf_printf(out, " task=%s#%d", p->tasks[op->task].name, op->task);
	switch (op->kind) {
	case WL_OP_PHASE:
		kmm_buf_printf(out, " %s end=%u", p->phases[op->u.phase.name].name,
			       op->u.phase.end);
		break;
	case WL_OP_REPEAT:
		kmm_buf_printf(out, " %llu end=%u", (unsigned long long)op->u.repeat.count,
			       op->u.repeat.end);
		break;
	case WL_OP_END_PHASE:
	case WL_OP_END_REPEAT:
		kmm_buf_printf(out, " begin=%u", op->u.end.begin);
		break;
	case WL_OP_SPAWN:
		kmm_buf_printf(out, " cpu=%d node=%d", op->u.spawn.cpu, op->u.spawn.node);
		break;
	case WL_OP_MMAP:
		dump_prot(op->u.mmap.prot, a);
		kmm_buf_printf(out, " region=%s#%d size=%#llx %s",
			       p->regions[op->u.mmap.region].name, op->u.mmap.region,
			       (unsigned long long)op->u.mmap.size,
			       op->u.mmap.file < 0 ? "anon" : "file=");
		if (op->u.mmap.file >= 0)
			kmm_buf_printf(out, "%s offset=%#llx", p->files[op->u.mmap.file].name,
				       (unsigned long long)op->u.mmap.offset);
		kmm_buf_printf(out, " %s prot=%s%s", op->u.mmap.shared ? "shared" : "private", a,
			       op->u.mmap.populate ? " populate" : "");
		break;
	case WL_OP_MUNMAP:
	case WL_OP_MPROTECT:
	case WL_OP_MADVISE:
	case WL_OP_MLOCK:
	case WL_OP_MUNLOCK:
		range_str(&op->u.area.range, a, sizeof(a));
		kmm_buf_printf(out, " region=%s#%d%s", p->regions[op->u.area.region].name,
			       op->u.area.region, a);
		if (op->kind == WL_OP_MPROTECT) {
			dump_prot(op->u.area.prot, a);
			kmm_buf_printf(out, " prot=%s", a);
		} else if (op->kind == WL_OP_MADVISE) {
			kmm_buf_printf(out, " %s", wl_advice_names[op->u.area.advice]);
		} else if (op->kind == WL_OP_MLOCK && op->u.area.onfault) {
			kmm_buf_puts(out, " onfault");
		}
		break;
	case WL_OP_MLOCKALL:
		kmm_buf_printf(out, "%s%s%s",
			       op->u.mlockall.flags & WL_MCL_CURRENT ? " current" : "",
			       op->u.mlockall.flags & WL_MCL_FUTURE ? " future" : "",
			       op->u.mlockall.flags & WL_MCL_ONFAULT ? " onfault" : "");
		break;
	case WL_OP_BRK:
		kmm_buf_printf(out, " region=brk#%d size=%#llx", op->u.brk.region,
			       (unsigned long long)op->u.brk.size);
		break;
	case WL_OP_TOUCH:
		range_str(&op->u.touch.range, a, sizeof(a));
		kmm_buf_printf(out, " region=%s#%d%s", p->regions[op->u.touch.region].name,
			       op->u.touch.region, a);
		if (op->u.touch.access == WL_MIXED)
			kmm_buf_printf(out, " mixed(%u%%)", op->u.touch.write_pct);
		else
			kmm_buf_printf(out, " %s",
				       op->u.touch.access == WL_READ ? "read" : "write");
		kmm_buf_printf(out, " %s", patterns[op->u.touch.pattern]);
		if (op->u.touch.pattern == WL_PAT_STRIDE)
			kmm_buf_printf(out, "(%#llx)", (unsigned long long)op->u.touch.stride);
		else if (op->u.touch.pattern == WL_PAT_ZIPF)
			kmm_buf_printf(out, "(%g)", op->u.touch.zipf_s);
		else if (op->u.touch.pattern == WL_PAT_LOOP)
			kmm_buf_printf(out, "(%llu)", (unsigned long long)op->u.touch.loops);
		if (op->u.touch.count)
			kmm_buf_printf(out, " count=%llu", (unsigned long long)op->u.touch.count);
		break;
	case WL_OP_FILE_WRITE:
	case WL_OP_FILE_READ:
		kmm_buf_printf(
		    out, " file=%s#%d[%#llx..%#llx] chunk=%#llx", p->files[op->u.fileio.file].name,
		    op->u.fileio.file, (unsigned long long)op->u.fileio.start,
		    (unsigned long long)op->u.fileio.end, (unsigned long long)op->u.fileio.chunk);
		break;
	case WL_OP_FORK:
		kmm_buf_printf(out, " child=%s#%d cpu=%d copies=", p->tasks[op->u.fork.child].name,
			       op->u.fork.child, op->u.fork.cpu);
		for (uint32_t i = 0; i < op->u.fork.npairs; i++) {
			const struct wl_pair *pr = &p->fork_pairs[op->u.fork.first_pair + i];
			kmm_buf_printf(out, "%s%d>%d", i ? "," : "", pr->from, pr->to);
		}
		if (!op->u.fork.npairs)
			kmm_buf_puts(out, "none");
		break;
	case WL_OP_CACHE_CREATE:
		kmm_buf_printf(out, " cache=%s#%d size=%llu align=%llu%s",
			       p->caches[op->u.cache.cache].name, op->u.cache.cache,
			       (unsigned long long)op->u.cache.size,
			       (unsigned long long)op->u.cache.align,
			       op->u.cache.hwcache_align ? " hwcache_align" : "");
		break;
	case WL_OP_CACHE_DESTROY:
		kmm_buf_printf(out, " cache=%s#%d", p->caches[op->u.cache.cache].name,
			       op->u.cache.cache);
		break;
	case WL_OP_CACHE_ALLOC:
	case WL_OP_KMALLOC:
	case WL_OP_ALLOC_PAGES:
		kmm_gfp_decode(op->u.alloc.gfp, gfp, sizeof(gfp));
		kmm_buf_printf(out, " pool=%s#%d", p->pools[op->u.alloc.pool].name,
			       op->u.alloc.pool);
		if (op->kind == WL_OP_CACHE_ALLOC) {
			kmm_buf_printf(out, " cache=%s#%d", p->caches[op->u.alloc.cache].name,
				       op->u.alloc.cache);
		} else {
			wl_dist_describe(op->u.alloc.dist, b, sizeof(b));
			kmm_buf_printf(out, " %s=%s", op->kind == WL_OP_KMALLOC ? "size" : "order",
				       b);
		}
		kmm_buf_printf(out, " count=%llu gfp=%s node=%d",
			       (unsigned long long)op->u.alloc.count, gfp, op->u.alloc.node);
		break;
	case WL_OP_FREE:
		kmm_buf_printf(out, " pool=%s#%d", p->pools[op->u.free.pool].name, op->u.free.pool);
		if (op->u.free.all)
			kmm_buf_puts(out, " all");
		else
			kmm_buf_printf(out, " count=%llu", (unsigned long long)op->u.free.count);
		kmm_buf_printf(out, " pick=%s", picks[op->u.free.pick]);
		break;
	case WL_OP_CHURN:
		kmm_buf_printf(out, " pool=%s#%d steps=%llu free=%u%%",
			       p->pools[op->u.churn.pool].name, op->u.churn.pool,
			       (unsigned long long)op->u.churn.steps, op->u.churn.free_pct);
		break;
	case WL_OP_SYSCTL:
		kmm_buf_printf(out, " %s=\"%s\"", op->u.sysctl.name, op->u.sysctl.value);
		break;
	case WL_OP_SNAPSHOT:
	case WL_OP_ECHO:
		if (op->u.echo.text)
			kmm_buf_printf(out, " \"%s\"", op->u.echo.text);
		break;
	default:
		break;
	}
	if (!wl_op_is_task(op->kind) && op->kind >= WL_OP_CACHE_CREATE && op->kind <= WL_OP_CHURN)
		kmm_buf_printf(out, " cpu=%d", op->cpu);
	kmm_buf_puts(out, "\n");
}

void wl_dump(const struct wl_program *p, struct kmm_buf *out)
{
	const struct kmm_machine_desc *d = &p->cfg.desc;
	static const char *const models[] = {"flat", "sparse", "vmemmap"};
	kmm_buf_printf(out, "workload %s: %zu operations, %zu tasks, %zu regions, %zu pools\n",
		       p->filename, p->nops, p->ntasks, p->nregions, p->npools);
	if (p->cfg_finished) {
		uint64_t ram = 0;
		for (int i = 0; i < d->nr_ranges; i++)
			if (d->ranges[i].type == KMM_E820_RAM)
				ram += d->ranges[i].end - d->ranges[i].start;
		kmm_buf_printf(
		    out, "machine: %llu KiB of RAM, %d nodes, %d CPUs, model %s, buddy %s\n",
		    (unsigned long long)(ram >> 10), d->nr_nodes, d->nr_cpus, models[p->cfg.model],
		    p->cfg.buddy == KMM_BUDDY_BITMAP ? "bitmap" : "pageflag");
	}
	kmm_buf_printf(out, "seed %llu\n", (unsigned long long)p->seed);
	for (size_t i = 0; i < p->nvariants; i++) {
		kmm_buf_printf(out, "variant %s=", p->variants[i].key);
		for (int j = 0; j < p->variants[i].nvalues; j++)
			kmm_buf_printf(out, "%s%s", j ? "," : "", p->variants[i].values[j]);
		kmm_buf_puts(out, "\n");
	}
	for (size_t i = 0; i < p->nswaps; i++)
		kmm_buf_printf(out, "swap %s size=%#llx prio=%d\n", p->swaps[i].name,
			       (unsigned long long)p->swaps[i].size, p->swaps[i].prio);
	for (size_t i = 0; i < p->nfiles; i++)
		kmm_buf_printf(out, "file %s size=%#llx\n", p->files[i].name,
			       (unsigned long long)p->files[i].size);
	for (size_t i = 0; i < p->nops; i++) {
		kmm_buf_printf(out, "%zu ", i);
		dump_op(p, &p->ops[i], out);
	}
}

void kmm_workload_dump(const struct kmm_workload *w, struct kmm_buf *out)
{
	wl_dump(&w->p, out);
}
