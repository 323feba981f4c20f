/*
 * kmm compare: one workload run on each design variant (memory model,
 * buddy bookkeeping, reverse mapping, ...), the figures side by side, and
 * one report holding every run.
 *
 * Linux counterpart: none; the designs are the ones Linux moved between
 * (FLATMEM to SPARSEMEM, the 2.4 buddy bitmaps to PageBuddy, pte chains to
 * object-based rmap), which kmm keeps side by side so they can be measured
 * on the same workload.
 *
 * The designs are a table (compare_keys[]): a key as the workload's
 * `variant` line and --variant spell it, and the machine option that
 * selects it; adding a design to compare is one line there. Several keys
 * give every combination (at most SIM_COMPARE_MAX_RUNS runs). Each run
 * starts from the workload's own machine, with the variant's options
 * applied last, in deterministic mode unless asked otherwise; wall-clock
 * time is the only figure that differs between two compares.
 */
#include "workload.h"
#include "timeseries.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIM_COMPARE_MAX_RUNS 16

/* The designs a compare can vary, and the option of kmm boot that selects each. */
static const struct {
	const char *key, *option, *what;
} compare_keys[] = {
    {"model", "--model", "memory model"},
    {"buddy", "--buddy", "buddy bookkeeping"},
    {"rmap", "--rmap", "reverse mapping"},
};

const char *kmm_compare_keys(void)
{
	return "model (flat, sparse, vmemmap), buddy (pageflag, bitmap), rmap (objrmap, ptechain)";
}

struct compare_axis {
	int key; /* into compare_keys */
	char *values[8];
	int n;
};

/* "KEY=A,B,..." into @ax; 0 or -EINVAL with a message. */
static int parse_spec(const char *spec, struct compare_axis *ax, struct kmm_error *err)
{
	const char *eq = strchr(spec, '=');
	memset(ax, 0, sizeof(*ax));
	ax->key = -1;
	for (size_t i = 0; eq && i < KMM_ARRAY_SIZE(compare_keys); i++)
		if (strlen(compare_keys[i].key) == (size_t)(eq - spec) &&
		    !strncmp(spec, compare_keys[i].key, (size_t)(eq - spec)))
			ax->key = (int)i;
	if (ax->key < 0)
		return kmm_error_set(err, -EINVAL,
				     "--variant %s: expected KEY=A,B with KEY one of %s", spec,
				     kmm_compare_keys());
	const char *s = eq + 1;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (!len || ax->n == 8)
			return kmm_error_set(err, -EINVAL,
					     "--variant %s: expected 1 to 8 designs separated by "
					     "commas",
					     spec);
		struct kmm_config scratch;
		char opt_val[64];
		snprintf(opt_val, sizeof(opt_val), "%.*s", (int)len, s);
		kmm_config_init(&scratch);
		struct kmm_error e = {0};
		if (kmm_config_option(&scratch, compare_keys[ax->key].option, opt_val, &e) < 0)
			return kmm_error_set(err, -EINVAL, "--variant %s", e.msg);
		ax->values[ax->n] = strdup(opt_val);
		if (!ax->values[ax->n])
			return kmm_error_set(err, -ENOMEM, "out of host memory");
		ax->n++;
		s += len + (comma ? 1 : 0);
		if (comma && !*s)
			return kmm_error_set(err, -EINVAL, "--variant %s: a design after the comma",
					     spec);
	}
	if (!ax->n)
		return kmm_error_set(err, -EINVAL, "--variant %s: expected at least one design",
				     spec);
	return 0;
}

/*
 * The table's rows: the figures of each run, deterministic ones first.
 * Mechanism overhead is host memory the design itself costs: struct pages
 * (the memory model), the buddy bitmaps (2.4's bookkeeping), page tables
 * and slab.
 */
#define COMPARE_ROWS(X)                                                                     \
	X("operations", r->ops)                                                             \
	X("pages touched", r->accesses)                                                     \
	X("page faults", r->pgfault)                                                        \
	X("major faults", r->pgmajfault)                                                    \
	X("out of memory", r->oom_faults)                                                   \
	X("pages scanned", r->pgscan)                                                       \
	X("pages reclaimed", r->pgsteal)                                                    \
	X("swapped out", r->pswpout)                                                        \
	X("swapped in", r->pswpin)                                                          \
	X("page blocks allocated", r->alloc_calls - r->alloc_failed - r->objects_allocated) \
	X("allocations failed", r->alloc_failed)                                            \
	X("objects allocated", r->objects_allocated)                                        \
	X("free pages at the end", r->free_pages_end)                                       \
	X("memmap KiB", r->memmap_bytes / 1024)                                             \
	X("buddy bitmaps KiB", r->buddy_map_bytes / 1024)                                   \
	X("page tables KiB", r->pagetable_pages * 4)                                        \
	X("slab KiB", r->slab_bytes / 1024)                                                 \
	X("rmap objects bytes, peak", r->rmap_peak_bytes)

static uint64_t row_value(const struct kmm_sim_result *r, int row)
{
	int i = 0;
#define X(label, expr)  \
	if (row == i++) \
		return (uint64_t)(expr);
	COMPARE_ROWS(X)
#undef X
	return 0;
}

static const char *const row_labels[] = {
#define X(label, expr) label,
    COMPARE_ROWS(X)
#undef X
};

static void print_table(FILE *out, char labels[][96], const struct kmm_sim_result *res, int n,
			struct kmm_buf *html)
{
	int w = 22;
	for (int i = 0; i < n; i++)
		if ((int)strlen(labels[i]) + 2 > w)
			w = (int)strlen(labels[i]) + 2;
	if (out) {
		fprintf(out, "%-24s", "");
		for (int i = 0; i < n; i++)
			fprintf(out, "%*s", w, labels[i]);
		fprintf(out, "\n%-24s", "time (s, wall clock)");
		for (int i = 0; i < n; i++)
			fprintf(out, "%*.3f", w, res[i].seconds);
		fputc('\n', out);
		for (size_t row = 0; row < KMM_ARRAY_SIZE(row_labels); row++) {
			fprintf(out, "%-24s", row_labels[row]);
			for (int i = 0; i < n; i++)
				fprintf(out, "%*llu", w,
					(unsigned long long)row_value(&res[i], (int)row));
			fputc('\n', out);
		}
	}
	if (html) {
		kmm_buf_puts(html, "<table class=\"cmp\"><tr><th></th>");
		for (int i = 0; i < n; i++)
			kmm_buf_printf(html, "<th>%s</th>", labels[i]);
		kmm_buf_puts(html, "</tr>\n<tr><td>time (s, wall clock)</td>");
		for (int i = 0; i < n; i++)
			kmm_buf_printf(html, "<td>%.3f</td>", res[i].seconds);
		kmm_buf_puts(html, "</tr>\n");
		for (size_t row = 0; row < KMM_ARRAY_SIZE(row_labels); row++) {
			kmm_buf_printf(html, "<tr><td>%s</td>", row_labels[row]);
			for (int i = 0; i < n; i++)
				kmm_buf_printf(html, "<td>%llu</td>",
					       (unsigned long long)row_value(&res[i], (int)row));
			kmm_buf_puts(html, "</tr>\n");
		}
		kmm_buf_puts(html, "</table>\n");
	}
}

int kmm_workload_compare(struct kmm_workload *w, const char *const *specs, int nspecs,
			 const struct kmm_sim_opts *opts, FILE *out, struct kmm_error *err)
{
	struct wl_program *p = &w->p;
	struct compare_axis axes[8];
	int naxes = 0, nruns = 1, ret = 0;
	memset(axes, 0, sizeof(axes));
	if (nspecs > 8)
		return kmm_error_set(err, -EINVAL, "at most 8 designs to vary");
	/* The command line's variants, else the workload's own `variant` lines. */
	for (int i = 0; i < nspecs && !ret; i++)
		ret = parse_spec(specs[i], &axes[naxes++], err);
	for (size_t i = 0; !nspecs && i < p->nvariants && naxes < 8; i++) {
		struct compare_axis *ax = &axes[naxes++];
		ax->key = -1;
		for (size_t k = 0; k < KMM_ARRAY_SIZE(compare_keys); k++)
			if (!strcmp(compare_keys[k].key, p->variants[i].key))
				ax->key = (int)k;
		for (int v = 0; v < p->variants[i].nvalues && ax->key >= 0; v++)
			ax->values[ax->n++] = strdup(p->variants[i].values[v]);
		if (ax->key < 0)
			naxes--;
	}
	if (!ret && !naxes)
		ret = kmm_error_set(err, -EINVAL,
				    "%s: nothing to compare: give --variant KEY=A,B (KEY: %s) or "
				    "write variant lines in the workload",
				    p->filename, kmm_compare_keys());
	for (int i = 0; !ret && i < naxes; i++) {
		for (int v = 0; v < axes[i].n; v++)
			if (!axes[i].values[v])
				ret = kmm_error_set(err, -ENOMEM, "out of host memory");
		nruns *= axes[i].n;
		if (nruns > SIM_COMPARE_MAX_RUNS)
			ret = kmm_error_set(err, -EINVAL,
					    "%d runs or more: compare at most %d combinations",
					    nruns, SIM_COMPARE_MAX_RUNS);
	}
	struct kmm_config saved = p->cfg;
	struct kmm_sim_result res[SIM_COMPARE_MAX_RUNS];
	char labels[SIM_COMPARE_MAX_RUNS][96];
	struct kmm_buf data[SIM_COMPARE_MAX_RUNS];
	int done = 0;
	for (int run = 0; !ret && run < nruns; run++) {
		/* The run's designs: axis 0 varies slowest. */
		int idx = run;
		char *lab = labels[run];
		size_t len = 0;
		lab[0] = '\0';
		p->cfg = saved;
		for (int i = naxes - 1; i >= 0; i--) {
			int v = idx % axes[i].n;
			idx /= axes[i].n;
			if (kmm_config_option(&p->cfg, compare_keys[axes[i].key].option,
					      axes[i].values[v], err) < 0) {
				ret = -EINVAL;
				break;
			}
		}
		idx = run;
		int pick[8];
		for (int i = naxes - 1; i >= 0; i--) {
			pick[i] = idx % axes[i].n;
			idx /= axes[i].n;
		}
		/* A label longer than its 96 bytes is cut, never written past. */
		for (int i = 0; i < naxes && len < sizeof(labels[0]) - 1; i++) {
			int n =
			    snprintf(lab + len, sizeof(labels[0]) - len, "%s%s=%s", i ? "," : "",
				     compare_keys[axes[i].key].key, axes[i].values[pick[i]]);
			if (n < 0)
				break;
			len = kmm_min(len + (size_t)n, sizeof(labels[0]) - 1);
		}
		if (ret)
			break;
		struct kmm_sim_opts o = *opts;
		char dir[4200];
		kmm_buf_init(&data[run]);
		done = run + 1;
		if (opts->out_dir) {
			snprintf(dir, sizeof(dir), "%s/%s", opts->out_dir, lab);
			o.out_dir = dir;
			o.report_data = &data[run];
			o.variant_label = lab;
		}
		o.log = NULL; /* one line a run here; the table says the rest */
		ret = kmm_workload_run(w, &o, &res[run], err);
		if (opts->log && !ret)
			fprintf(opts->log, "run %d of %d: %s: %.3f s\n", run + 1, nruns, lab,
				res[run].seconds);
	}
	p->cfg = saved;
	if (!ret) {
		struct kmm_buf html;
		kmm_buf_init(&html);
		print_table(out, labels, res, nruns, opts->out_dir ? &html : NULL);
		if (opts->out_dir && !opts->no_report) {
			const char *runs[SIM_COMPARE_MAX_RUNS];
			char path[4200], title[512];
			for (int i = 0; i < nruns; i++)
				runs[i] = data[i].data ? data[i].data : "{}";
			snprintf(path, sizeof(path), "%s/report.html", opts->out_dir);
			snprintf(title, sizeof(title), "kmm compare %s", p->filename);
			ret = sim_report_write(path, title, runs, nruns, html.data);
			if (ret)
				kmm_error_set(err, ret, "%s: %s", path, strerror(-ret));
		}
		kmm_buf_free(&html);
	}
	for (int i = 0; i < done; i++)
		kmm_buf_free(&data[i]);
	for (int i = 0; i < naxes; i++)
		for (int v = 0; v < axes[i].n; v++)
			free(axes[i].values[v]);
	return ret;
}
