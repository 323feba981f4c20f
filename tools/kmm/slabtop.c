/*
 * kmm slabtop: the slab caches of a machine, biggest first, as procps's
 * slabtop shows a kernel's (its summary lines and columns), after an
 * optional load of kmalloc and cache allocations given on the command line.
 */
#include "cli.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void slabtop_usage(FILE *out)
{
	fprintf(out,
		"usage: kmm slabtop [machine options] [--sort KEY] [--lines N]\n"
		"                   [--kmalloc SIZExCOUNT]... [--cache NAME:SIZExCOUNT]...\n\n"
		"Boots a machine, makes the allocations asked for, and prints its slab caches\n"
		"sorted by KEY, as slabtop does once:\n\n"
		"  --sort KEY             c cache size (default), o objects, a active objects,\n"
		"                         s object size, l slabs, p pages per slab, u use,\n"
		"                         b objects per slab, n name\n"
		"  --lines N              print the first N caches only\n"
		"  --kmalloc SIZExCOUNT   kmalloc COUNT blocks of SIZE bytes (repeatable)\n"
		"  --cache NAME:SIZExCOUNT  create a cache of SIZE-byte objects and allocate\n"
		"                         COUNT of them (repeatable)\n\n");
	fputs(kmm_config_help(), out);
}

struct caches {
	struct kmm_slabinfo *v;
	size_t n, cap;
	char (*names)[48];
};

static int collect(const struct kmm_slabinfo *info, void *arg)
{
	struct caches *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		c->names = realloc(c->names, c->cap * sizeof(*c->names));
	}
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", info->name);
	c->v[c->n] = *info;
	c->v[c->n].name = NULL;
	c->n++;
	return 0;
}

static char sort_key = 'c';

static unsigned long cache_bytes(const struct kmm_slabinfo *i)
{
	return i->num_slabs * i->pagesperslab * 4096UL;
}

static unsigned int use_pct(const struct kmm_slabinfo *i)
{
	return i->num_objs ? (unsigned int)(100 * i->active_objs / i->num_objs) : 0;
}

static int cmp(const void *a, const void *b)
{
	const struct kmm_slabinfo *x = a, *y = b;
	unsigned long vx, vy;
	switch (sort_key) {
	case 'o':
		vx = x->num_objs, vy = y->num_objs;
		break;
	case 'a':
		vx = x->active_objs, vy = y->active_objs;
		break;
	case 's':
		vx = x->objsize, vy = y->objsize;
		break;
	case 'l':
		vx = x->num_slabs, vy = y->num_slabs;
		break;
	case 'p':
		vx = x->pagesperslab, vy = y->pagesperslab;
		break;
	case 'u':
		vx = use_pct(x), vy = use_pct(y);
		break;
	case 'b':
		vx = x->objperslab, vy = y->objperslab;
		break;
	case 'n':
		return strcmp(x->name, y->name);
	default:
		vx = cache_bytes(x), vy = cache_bytes(y);
		break;
	}
	return vx < vy ? 1 : vx > vy ? -1 : 0;
}

/* "SIZExCOUNT" */
static int parse_load(const char *opt, const char *s, unsigned long *size, unsigned long *count)
{
	char *end;
	errno = 0;
	*size = strtoul(s, &end, 0);
	if (errno || end == s || (*end != 'x' && *end != 'X'))
		goto bad;
	s = end + 1;
	*count = strtoul(s, &end, 0);
	if (errno || end == s || *end)
		goto bad;
	if (*size == 0 || *count == 0 || *count > 100000000)
		goto bad;
	return 0;
bad:
	cli_error("%s %s: expected SIZExCOUNT, e.g. 256x1000", opt, s);
	return -1;
}

static void print_summary(struct caches *c)
{
	unsigned long objs = 0, active = 0, slabs = 0, caches_active = 0;
	double size = 0, active_size = 0, min = 1e30, max = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct kmm_slabinfo *k = &c->v[i];
		objs += k->num_objs;
		active += k->active_objs;
		slabs += k->num_slabs;
		caches_active += k->active_objs != 0;
		size += (double)k->num_objs * k->objsize / 1024.0;
		active_size += (double)k->active_objs * k->objsize / 1024.0;
		if (k->objsize < min)
			min = k->objsize;
		if (k->objsize > max)
			max = k->objsize;
	}
	printf(" Active / Total Objects (%% used)    : %lu / %lu (%.1f%%)\n", active, objs,
	       objs ? 100.0 * (double)active / (double)objs : 0.0);
	printf(" Active / Total Slabs (%% used)      : %lu / %lu (%.1f%%)\n", slabs, slabs,
	       slabs ? 100.0 : 0.0);
	printf(" Active / Total Caches (%% used)     : %lu / %zu (%.1f%%)\n", caches_active, c->n,
	       c->n ? 100.0 * (double)caches_active / (double)c->n : 0.0);
	printf(" Active / Total Size (%% used)       : %.2fK / %.2fK (%.1f%%)\n", active_size, size,
	       size > 0 ? 100.0 * active_size / size : 0.0);
	printf(" Minimum / Average / Maximum Object : %.2fK / %.2fK / %.2fK\n\n", min / 1024.0,
	       objs ? size / (double)objs : 0.0, max / 1024.0);
}

int cmd_slabtop(int argc, char **argv)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	const char *loads[64];
	int nloads = 0;
	long lines = -1;

	kmm_config_init(&cfg);
	cfg.quiet = true;
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			slabtop_usage(stdout);
			return KMM_EXIT_OK;
		}
		if (!strcmp(argv[i], "--sort") || !strcmp(argv[i], "--lines") ||
		    !strcmp(argv[i], "--kmalloc") || !strcmp(argv[i], "--cache")) {
			if (i + 1 >= argc) {
				cli_error("%s needs a value", argv[i]);
				return KMM_EXIT_USAGE;
			}
			const char *v = argv[i + 1];
			if (argv[i][2] == 's') {
				if (strlen(v) != 1 || !strchr("coaslpubn", v[0])) {
					cli_error("--sort %s: expected one of c o a s l p u b n",
						  v);
					return KMM_EXIT_USAGE;
				}
				sort_key = v[0];
			} else if (argv[i][2] == 'l') {
				char *end;
				lines = strtol(v, &end, 10);
				if (*end || lines < 1) {
					cli_error("--lines %s: expected a positive number", v);
					return KMM_EXIT_USAGE;
				}
			} else if (nloads < 64) {
				loads[nloads++] = argv[i] + 2;
				loads[nloads++] = v;
			}
			i++;
			continue;
		}
		int r = cli_machine_option(&cfg, argc, argv, &i);
		if (r != CLI_OPT_TAKEN) {
			if (r == CLI_OPT_NOT_MINE)
				cli_error("unknown option '%s' (try 'kmm slabtop --help')",
					  argv[i]);
			return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		}
	}
	/* Check the loads before booting anything. */
	for (int i = 0; i < nloads; i += 2) {
		unsigned long size, count;
		const char *spec = loads[i + 1];
		if (loads[i][0] == 'c') {
			const char *colon = strchr(spec, ':');
			if (!colon || colon == spec || colon - spec >= 48) {
				cli_error("--cache %s: expected NAME:SIZExCOUNT", spec);
				return KMM_EXIT_USAGE;
			}
			spec = colon + 1;
		}
		if (parse_load(loads[i][0] == 'c' ? "--cache" : "--kmalloc", spec, &size, &count))
			return KMM_EXIT_USAGE;
	}
	if (kmm_config_finish(&cfg, &err)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		cli_error("cannot boot: %s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	kmm_wait_for_init(m);
	int rc = KMM_EXIT_OK;
	kmm_cpu_enter(m, 0);
	for (int i = 0; i < nloads && rc == KMM_EXIT_OK; i += 2) {
		unsigned long size, count;
		const char *spec = loads[i + 1];
		struct kmm_kmem_cache *s = NULL;
		if (loads[i][0] == 'c') {
			char name[48];
			const char *colon = strchr(spec, ':');
			snprintf(name, sizeof(name), "%.*s", (int)(colon - spec), spec);
			parse_load("--cache", colon + 1, &size, &count);
			s = kmm_kmem_cache_create(m, name, (unsigned int)size, 0, 0, NULL, &err);
			if (!s) {
				cli_error("--cache %s: %s", spec, err.msg);
				rc = KMM_EXIT_USAGE;
				break;
			}
		} else {
			parse_load("--kmalloc", spec, &size, &count);
		}
		for (unsigned long k = 0; k < count; k++) {
			void *p = s ? kmm_kmem_cache_alloc(s, GFP_KERNEL | __GFP_NOWARN)
				    : kmm_kmalloc(m, size, GFP_KERNEL | __GFP_NOWARN);
			if (!p) {
				cli_error("--%s %s: out of memory after %lu allocations", loads[i],
					  loads[i + 1], k);

				rc = KMM_EXIT_OOM;
				break;
			}
		}
	}
	kmm_cpu_exit(m);

	struct caches c = {0};
	kmm_slab_for_each_cache(m, collect, &c);
	for (size_t i = 0; i < c.n; i++)
		c.v[i].name = c.names[i];
	qsort(c.v, c.n, sizeof(*c.v), cmp);
	print_summary(&c);
	printf("  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n");
	for (size_t i = 0; i < c.n && (lines < 0 || (long)i < lines); i++) {
		const struct kmm_slabinfo *k = &c.v[i];
		printf("%6lu %6lu %3u%% %7.2fK %6lu %8u %9luK %s\n", k->num_objs, k->active_objs,
		       use_pct(k), k->objsize / 1024.0, k->num_slabs, k->objperslab,
		       cache_bytes(k) / 1024, k->name);
	}
	free(c.v);
	free(c.names);
	kmm_machine_destroy(m);
	return rc;
}
