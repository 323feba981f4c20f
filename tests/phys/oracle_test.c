/*
 * Fidelity to Linux 6.1: twins of the six oracle boots against what the
 * real kernel reported (KMM_ORACLE_DIR/linux-6.1/<config>/, see its
 * README.md).
 *
 * For every config the machine is booted with --from-dmesg on the kernel's
 * own log, and then:
 *
 *  1. Geometry. Zone start, spanned and present pages of every zone of every
 *     node equal zones.tsv exactly; managed pages are within 0.1% per zone
 *     and exact in total (kmm does not reserve what Linux reserves page for
 *     page; the log's "reserved" figure makes up the sum). The log prints every zone's managed pages

 *     next to Linux's and the difference in percent.
 *  2. Formulas on kmm's own managed pages. min_free_kbytes, watermarks,
 *     lowmem_reserve (zoneinfo's "protection"), pcp high/batch and the vm
 *     stat threshold equal Linux 6.1's formulas, written out again below
 *     from the oracle README without calling kmm. At boot the formulas take
 *     the managed counts as they were when the kernel (and kmm's
 *     phys_late_init) computed them: before the initrd and the kernel's init
 *     sections were freed. The test finds those frees in kmm's own log
 *     ("Freeing initrd memory: 1008K", ...), finds the zone each freed range
 *     lies in (the initrd from kmm's "RAMDISK:" line, the kernel pieces from
 *     m->kernel_pieces[]), and subtracts. Then the experiments x1..x7 of
 *     the oracle's /init are replayed through kmm_sysctl_set() in the same
 *     order, and after each one kmm must equal the formulas again (the stat
 *     threshold is not recomputed by any of them, in Linux or kmm).
 *  3. kmm's formula code against Linux's numbers. Every zone's managed count
 *     is overwritten with Linux's; the boot sequence of watermark
 *     initcalls is run (init_per_zone_wmark_min, then THP's minimum) on
 *     Linux's managed counts as they were at that time (final managed minus
 *     the late frees of Linux's own log, as the README derives them), and
 *     must reproduce zones.tsv and min_free_kbytes.txt; then x1..x7 through
 *     kmm_sysctl_set() must reproduce zones_x*.tsv and experiments.tsv.
 *  4. The boot log: the zone, node-range and zonelist lines of kmm's log
 *     against the kernel's, line by line. A differing "Total pages" is
 *     checked against the formula instead (sum of present minus memmap
 *     minus the DMA reserve over the zones).
 *
 * Linux zone indices (the oracle's, and protection arrays): DMA=0 DMA32=1
 * Normal=2 Movable=3 Device=4; kmm's have HIGHMEM between Normal and
 * Movable, so every lookup goes through kmm_zone_of[].
 */
#include <kmm/machine.h>
#include <kmm/memory_model.h>
#include "phys/internal.h"
#include "../kmm_test.h"

#include <ctype.h>
#include <errno.h>

#define ORACLE_61 KMM_ORACLE_DIR "/linux-6.1/"

static const char *const configs[] = {
    "a_256M", "a_256M_thpnever", "d_6G", "d_6G_thpnever", "e_4G_numa2", "e_4G_numa2_thpnever",
};
#define NR_CONFIGS (sizeof(configs) / sizeof(configs[0]))

/* --- Zones as the oracle numbers them -------------------------------------------- */

enum {
	L_DMA,
	L_DMA32,
	L_NORMAL,
	L_MOVABLE,
	L_DEVICE,
	L_NR
};
static const enum zone_type kmm_zone_of[L_NR] = {ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE,
						 ZONE_DEVICE};
static const char *const lzone_names[L_NR] = {"DMA", "DMA32", "Normal", "Movable", "Device"};

#define MAX_NODES 8

/* One zone: its geometry, and what the watermark code derives from its managed pages. */
struct fz {
	long start; /* -1: empty zone (the oracle prints '-') */
	long spanned, present, managed;
	long min, low, high;
	long prot[L_NR];
	long pcp_high, pcp_batch, thr; /* -1: not shown (unpopulated zone) */
};

/* Every zone of a machine, and the machine-wide inputs of the formulas. */
struct fstate {
	int nr_nodes;
	struct fz z[MAX_NODES][L_NR];
	int node_cpus[MAX_NODES];
	int online_cpus;
	long mfk;
};

struct tunables {
	long mfk, wsf, frac;
	long lrr[L_NR];
	bool thp_never;
};

/* --- Files ------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *oracle_file(const char *config, const char *file)
{
	char path[512];
	snprintf(path, sizeof(path), ORACLE_61 "%s/%s", config, file);
	char *text = slurp(path);
	if (!text)
		fprintf(stderr, "cannot read %s\n", path);
	return text;
}

static void oracle_path(char *buf, size_t len, const char *config, const char *file)
{
	snprintf(buf, len, ORACLE_61 "%s/%s", config, file);
}

/* Split @line at tabs into at most @max fields (in place); returns the count. */
static int split_tabs(char *line, char **fields, int max)
{
	int n = 0;
	fields[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == '\t') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	}
	return n;
}

static int lzone_index(const char *name)
{
	for (int i = 0; i < L_NR; i++)
		if (!strcmp(name, lzone_names[i]))
			return i;
	return -1;
}

static long field_long(const char *s)
{
	return (*s == '\0' || *s == '-') ? -1 : strtol(s, NULL, 10);
}

/* zones.tsv / zones_x*.tsv: one line per zone of every node. Returns false on a bad file. */
static bool read_zones_tsv(const char *config, const char *file, struct fstate *st)
{
	char *text = oracle_file(config, file);
	if (!text)
		return false;
	memset(st, 0, sizeof(*st));
	bool ok = true;
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save); /* header */
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *f[16];
		if (split_tabs(line, f, 16) != 14) {
			fprintf(stderr, "%s/%s: expected 14 fields in '%s'\n", config, file, line);
			ok = false;
			break;
		}
		int node = atoi(f[0]), lz = lzone_index(f[1]);
		if (node < 0 || node >= MAX_NODES || lz < 0) {
			fprintf(stderr, "%s/%s: bad node/zone '%s %s'\n", config, file, f[0], f[1]);
			ok = false;
			break;
		}
		struct fz *z = &st->z[node][lz];
		z->start = field_long(f[2]);
		z->spanned = field_long(f[3]);
		z->present = field_long(f[4]);
		z->managed = field_long(f[5]);
		z->min = field_long(f[7]);
		z->low = field_long(f[8]);
		z->high = field_long(f[9]);
		char *p = f[10];
		for (int j = 0; j < L_NR; j++) {
			z->prot[j] = strtol(p, &p, 10);
			if (*p == ',')
				p++;
		}
		z->pcp_high = field_long(f[11]);
		z->pcp_batch = field_long(f[12]);
		z->thr = field_long(f[13]);
		if (node + 1 > st->nr_nodes)
			st->nr_nodes = node + 1;
	}
	free(text);
	return ok;
}

/* experiments.tsv: the tunables after each experiment, by name. */
static bool read_experiment(const char *config, const char *name, struct tunables *t)
{
	char *text = oracle_file(config, "experiments.tsv");
	if (!text)
		return false;
	bool found = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		if (split_tabs(line, f, 8) != 6 || strcmp(f[0], name))
			continue;
		t->mfk = atol(f[1]);
		t->wsf = atol(f[2]);
		t->frac = atol(f[3]);
		char *p = f[4];
		for (int j = 0; j < L_NR; j++)
			t->lrr[j] = strtol(p, &p, 10);
		t->thp_never = strstr(f[5], "[never]") != NULL;
		found = true;
	}
	free(text);
	return found;
}

static long read_number_file(const char *config, const char *file)
{
	char *text = oracle_file(config, file);
	long v = text ? strtol(text, NULL, 10) : -1;
	free(text);
	return v;
}

/* CPUs per node from node_meminfo.txt ("## nodeN" then "cpulist: 0-1"). */
static void read_node_cpus(const char *config, struct fstate *st)
{
	char *text = oracle_file(config, "node_meminfo.txt");
	int node = -1;
	char *save = NULL;
	if (!text)
		return;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "## node", 7)) {
			node = atoi(line + 7);
		} else if (!strncmp(line, "cpulist: ", 9) && node >= 0 && node < MAX_NODES) {
			int n = 0;
			for (char *p = line + 9; *p;) {
				long a = strtol(p, &p, 10), b = a;
				if (*p == '-')
					b = strtol(p + 1, &p, 10);
				n += (int)(b - a + 1);
				if (*p == ',')
					p++;
				else
					break;
			}
			st->node_cpus[node] = n;
		}
	}
	free(text);
}

/* --- Linux 6.1's formulas, written out from the oracle README --------------------- */

static unsigned long fls_ul(unsigned long x)
{
	unsigned long n = 0;
	while (x) {
		n++;
		x >>= 1;
	}
	return n;
}

static unsigned long rounddown_pow2(unsigned long x)
{
	return x ? 1UL << (fls_ul(x) - 1) : 0;
}

/* Linux int_sqrt(): the floor of the square root. */
static unsigned long isqrt(unsigned long x)
{
	unsigned long r = 0;
	for (unsigned long bit = 1UL << 62; bit; bit >>= 2) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
	}
	return r;
}

static long clamp_l(long v, long lo, long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* nr_free_buffer_pages(): zones up to Normal, managed above the high watermark. */
static unsigned long f_nfbp(const struct fstate *st)
{
	unsigned long sum = 0;
	for (int n = 0; n < st->nr_nodes; n++)
		for (int lz = L_DMA; lz <= L_NORMAL; lz++)
			if (st->z[n][lz].managed > st->z[n][lz].high)
				sum += (unsigned long)(st->z[n][lz].managed - st->z[n][lz].high);
	return sum;
}

/* calculate_min_free_kbytes(): int_sqrt(lowmem_kbytes * 16), clamped. */
static long f_min_free_kbytes(const struct fstate *st)
{
	return clamp_l((long)isqrt(f_nfbp(st) * 4 * 16), 128, 262144);
}

/* set_recommended_min_free_kbytes() with THP on; never lowers @old. */
static long f_thp_min_free_kbytes(const struct fstate *st, long old)
{
	unsigned long nr_zones = 0;
	for (int n = 0; n < st->nr_nodes; n++)
		for (int lz = L_DMA; lz <= L_NORMAL; lz++)
			nr_zones += st->z[n][lz].present > 0;
	/* Two free pageblocks per zone plus one per pair of pcp migratetypes (3 x 3). */
	unsigned long rec = 512 * nr_zones * 2 + 512 * nr_zones * 9;
	unsigned long cap = f_nfbp(st) / 20; /* at most 5% of lowmem */
	rec = (rec < cap ? rec : cap) * 4;
	return (long)rec > old ? (long)rec : old;
}

/*
 * __setup_per_zone_wmarks(). Zones without managed pages show zeros in the
 * oracle's zoneinfo (Linux would give an empty Movable zone min = 32 by the
 * formula; the captured kernel shows 0), so they are left at zero.
 */
static void f_wmarks(struct fstate *st, long mfk, long wsf)
{
	unsigned long pages_min = (unsigned long)mfk >> 2, lowmem = 0;
	for (int n = 0; n < st->nr_nodes; n++)
		for (int lz = 0; lz < L_NR; lz++)
			if (lz != L_MOVABLE)
				lowmem += (unsigned long)st->z[n][lz].managed;
	for (int n = 0; n < st->nr_nodes; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			struct fz *z = &st->z[n][lz];
			unsigned long managed = (unsigned long)z->managed;
			if (!managed) {
				z->min = z->low = z->high = 0;
				continue;
			}
			unsigned long tmp = (unsigned long)((uint64_t)pages_min * managed / lowmem);
			unsigned long min = tmp;
			if (lz == L_MOVABLE)
				min = (unsigned long)clamp_l((long)(managed / 1024), 32, 128);
			/* mult_frac(managed, wsf, 10000) */
			unsigned long scaled = (managed / 10000) * (unsigned long)wsf +
					       (managed % 10000) * (unsigned long)wsf / 10000;
			unsigned long gap = (tmp >> 2) > scaled ? tmp >> 2 : scaled;
			z->min = (long)min;
			z->low = (long)(min + gap);
			z->high = (long)(min + 2 * gap);
		}
	}
	st->mfk = mfk;
}

/* setup_per_zone_lowmem_reserve(): protection against allocations that could use zone j. */
static void f_protection(struct fstate *st, const long *lrr)
{
	for (int n = 0; n < st->nr_nodes; n++) {
		for (int i = 0; i < L_NR; i++) {
			struct fz *z = &st->z[n][i];
			bool clear = lrr[i] == 0 || z->managed == 0;
			long above = 0;
			for (int j = 0; j < L_NR; j++) {
				if (j > i)
					above += st->z[n][j].managed;
				z->prot[j] = (j <= i || clear) ? 0 : above / lrr[i];
			}
		}
	}
}

/* zone_batchsize() and zone_highsize(): pcp high follows the low watermark. */
static void f_pcp(struct fstate *st, long frac)
{
	for (int n = 0; n < st->nr_nodes; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			struct fz *z = &st->z[n][lz];
			if (z->present <= 0) {
				z->pcp_high = z->pcp_batch = -1;
				continue;
			}
			long b = (z->managed >> 10) < 256 ? z->managed >> 10 : 256;
			b /= 4;
			if (b < 1)
				b = 1;
			long batch = (long)rounddown_pow2((unsigned long)(b + b / 2)) - 1;
			if (batch < 1)
				batch = 1;
			long total = frac ? z->managed / frac : z->low;
			long split = st->node_cpus[n] ? st->node_cpus[n] : st->online_cpus;
			long high = total / split;
			z->pcp_high = high > batch * 4 ? high : batch * 4;
			z->pcp_batch = batch;
		}
	}
}

/* calculate_normal_threshold(). */
static void f_thresholds(struct fstate *st)
{
	for (int n = 0; n < st->nr_nodes; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			struct fz *z = &st->z[n][lz];
			if (z->present <= 0) {
				z->thr = -1;
				continue;
			}
			long t = 2 * (long)fls_ul((unsigned long)st->online_cpus) *
				 (1 + (long)fls_ul((unsigned long)z->managed >> 15));
			z->thr = t < 125 ? t : 125;
		}
	}
}

static unsigned long total_managed(const struct fstate *st)
{
	unsigned long sum = 0;
	for (int n = 0; n < st->nr_nodes; n++)
		for (int lz = 0; lz < L_NR; lz++)
			sum += (unsigned long)st->z[n][lz].managed;
	return sum;
}

/*
 * The boot sequence (README, "Boot sequence"): postcore
 * init_per_zone_wmark_min() with every high watermark still 0, then
 * hugepage_init(): nothing below 512 MiB; with THP on, raise to the
 * recommended minimum; with THP off, calculate_min_free_kbytes() again.
 */
static void f_boot(struct fstate *st, bool thp_never)
{
	static const long lrr[L_NR] = {256, 256, 32, 0, 0};
	for (int n = 0; n < st->nr_nodes; n++)
		for (int lz = 0; lz < L_NR; lz++)
			st->z[n][lz].high = 0;
	long mfk = f_min_free_kbytes(st);
	f_wmarks(st, mfk, 10);
	if (total_managed(st) >= 512UL << 8) {
		mfk = thp_never ? f_min_free_kbytes(st) : f_thp_min_free_kbytes(st, mfk);
		f_wmarks(st, mfk, 10);
	}
	f_protection(st, lrr);
	f_pcp(st, 0);
	f_thresholds(st);
}

/* --- kmm's side ------------------------------------------------------------------------ */

/* Read every zone of @m into @st (CPUs and node CPUs included). */
static void read_kmm(struct kmm_machine *m, struct fstate *st)
{
	memset(st, 0, sizeof(*st));
	st->nr_nodes = m->nr_node_ids;
	st->online_cpus = m->nr_cpus;
	st->mfk = m->min_free_kbytes;
	for (int c = 0; c < m->nr_cpus; c++)
		st->node_cpus[m->cpus[c]->node]++;
	for (int n = 0; n < m->nr_node_ids && n < MAX_NODES; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			struct kmm_zone *zone = &m->node_data[n]->node_zones[kmm_zone_of[lz]];
			struct fz *z = &st->z[n][lz];
			z->start = zone->spanned_pages ? (long)zone->zone_start_pfn : -1;
			z->spanned = (long)zone->spanned_pages;
			z->present = (long)zone->present_pages;
			z->managed = (long)zone_managed_pages(zone);
			z->min = (long)zone->_watermark[WMARK_MIN];
			z->low = (long)zone->_watermark[WMARK_LOW];
			z->high = (long)zone->_watermark[WMARK_HIGH];
			for (int j = 0; j < L_NR; j++)
				z->prot[j] = zone->lowmem_reserve[kmm_zone_of[j]];
			z->pcp_high = z->pcp_batch = z->thr = -1;
			if (!populated_zone(zone))
				continue;
			z->pcp_high = zone->pageset_high;
			z->pcp_batch = zone->pageset_batch;
			if (zone->per_cpu_zonestats)
				z->thr = zone->per_cpu_zonestats[0].stat_threshold;
			/* Every CPU's list and counter threshold agree with the zone's. */
			for (int c = 0; c < m->nr_cpus; c++) {
				if (zone->per_cpu_pageset &&
				    (zone->per_cpu_pageset[c].high != zone->pageset_high ||
				     zone->per_cpu_pageset[c].batch != zone->pageset_batch))
					z->pcp_high = -2;
				if (zone->per_cpu_zonestats &&
				    zone->per_cpu_zonestats[c].stat_threshold != z->thr)
					z->thr = -2;
			}
		}
	}
}

/* Copy @from's managed pages into kmm's zones (the stronger check). */
static void set_kmm_managed(struct kmm_machine *m, const struct fstate *from)
{
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int lz = 0; lz < L_NR; lz++)
			atomic_long_set(&m->node_data[n]->node_zones[kmm_zone_of[lz]].managed_pages,
					from->z[n][lz].managed);
}

/* --- Comparing ----------------------------------------------------------------------- */

enum {
	CMP_GEOM = 1,	 /* start, spanned, present */
	CMP_MANAGED = 2, /* managed, exactly */
	CMP_WMARK = 4,	 /* min, low, high */
	CMP_PROT = 8,	 /* lowmem_reserve */
	CMP_PCP = 16,	 /* pcp high and batch */
	CMP_THR = 32,	 /* vm stats threshold */
	CMP_MFK = 64,	 /* min_free_kbytes */
	CMP_FORMULA = 4 | 8 | 16 | 64,
};

/* Fields compared, mismatches found: the log shows both. */
static int nr_compared, nr_mismatched;

static void cmp_field(const char *what, int n, int lz, const char *field, long got, long want)
{
	nr_compared++;
	if (got == want)
		return;
	nr_mismatched++;
	KMM_EXPECT_FAIL_("%s: node %d %-6s %-10s got %ld, expected %ld", what, n, lzone_names[lz],
			 field, got, want);
}

static void compare_states(const char *what, const struct fstate *got, const struct fstate *want,
			   int mask)
{
	if (got->nr_nodes != want->nr_nodes) {
		KMM_EXPECT_FAIL_("%s: kmm has %d nodes, expected %d", what, got->nr_nodes,
				 want->nr_nodes);
		return;
	}
	if (mask & CMP_MFK)
		cmp_field(what, 0, 0, "min_free_kbytes", got->mfk, want->mfk);
	for (int n = 0; n < want->nr_nodes; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			const struct fz *g = &got->z[n][lz], *w = &want->z[n][lz];
			if (mask & CMP_GEOM) {
				cmp_field(what, n, lz, "spanned", g->spanned, w->spanned);
				cmp_field(what, n, lz, "present", g->present, w->present);
				if (w->spanned > 0)
					cmp_field(what, n, lz, "start_pfn", g->start, w->start);
			}
			if (mask & CMP_MANAGED)
				cmp_field(what, n, lz, "managed", g->managed, w->managed);
			if (mask & CMP_WMARK) {
				cmp_field(what, n, lz, "min", g->min, w->min);
				cmp_field(what, n, lz, "low", g->low, w->low);
				cmp_field(what, n, lz, "high", g->high, w->high);
			}
			if (mask & CMP_PROT) {
				for (int j = 0; j < L_NR; j++) {
					char name[24];
					snprintf(name, sizeof(name), "prot[%s]", lzone_names[j]);
					cmp_field(what, n, lz, name, g->prot[j], w->prot[j]);
				}
			}
			if ((mask & CMP_PCP) && w->present > 0) {
				cmp_field(what, n, lz, "pcp_high", g->pcp_high, w->pcp_high);
				cmp_field(what, n, lz, "pcp_batch", g->pcp_batch, w->pcp_batch);
			}
			if ((mask & CMP_THR) && w->present > 0)
				cmp_field(what, n, lz, "stat_thr", g->thr, w->thr);
		}
	}
}

/* --- The boot-time managed counts ------------------------------------------------------ */

/* Strip a "[    0.000000] " prefix; NULL-safe on lines without one. */
static const char *strip_prefix(const char *line)
{
	if (line[0] == '[') {
		const char *p = strstr(line, "] ");
		if (p)
			return p + 2;
	}
	return line;
}

/* Split a log into an array of prefix-free lines (a copy; free both with free_lines). */
static char **log_lines(const char *log, int *nr)
{
	size_t len = strlen(log);
	char *copy = malloc(len + 1);
	memcpy(copy, log, len + 1);
	int cap = 64, n = 0;
	char **lines = malloc(sizeof(char *) * (size_t)(cap + 1));
	lines[n++] = copy; /* slot 0 owns the copy */
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t ll = strlen(l);
		if (ll && l[ll - 1] == '\r')
			l[ll - 1] = '\0';
		if (n == cap) {
			cap *= 2;
			lines = realloc(lines, sizeof(char *) * (size_t)(cap + 1));
		}
		lines[n++] = (char *)strip_prefix(l);
	}
	*nr = n - 1;
	return lines;
}
#define LINE(lines, i) ((lines)[(i) + 1])

static void free_lines(char **lines)
{
	free(lines[0]);
	free(lines);
}

/*
 * kmm's watermark inputs at boot: its final managed pages minus what
 * free_late_reserves() gave back after the watermarks were computed. Each
 * "Freeing X memory: NK" line of kmm's log is placed in its zone by where
 * kmm put X. Returns false (with a message) on a line it cannot place.
 */
static bool kmm_boot_managed(struct kmm_machine *m, struct fstate *st)
{
	static const struct {
		const char *what;
		int idx; /* m->kernel_pieces[] */
	} kernel_pieces[] = {
	    {"unused kernel image (text/rodata gap)", KP_TEXT_RODATA_GAP},
	    {"unused kernel image (rodata/data gap)", KP_RODATA_DATA_GAP},
	    {"unused kernel image (initmem)", KP_INIT},
	    {"unused decrypted", KP_DECRYPTED},
	};
	int nr;
	char **lines = log_lines(m->log.data, &nr);
	uint64_t initrd_start = 0, initrd_end = 0;
	bool ok = true;
	for (int i = 0; i < nr; i++) {
		unsigned long long a, b;
		if (sscanf(LINE(lines, i), "RAMDISK: [mem %llx-%llx]", &a, &b) == 2) {
			initrd_start = a;
			initrd_end = b + 1;
		}
	}
	for (int i = 0; i < nr && ok; i++) {
		const char *l = LINE(lines, i);
		char what[96];
		unsigned long kb;
		if (strncmp(l, "Freeing ", 8) || !strstr(l, " memory: "))
			continue;
		const char *colon = strstr(l, " memory: ");
		size_t wl = (size_t)(colon - (l + 8));
		if (wl >= sizeof(what) || sscanf(colon, " memory: %luK", &kb) != 1) {
			fprintf(stderr, "cannot read kmm's log line '%s'\n", l);
			ok = false;
			break;
		}
		memcpy(what, l + 8, wl);
		what[wl] = '\0';
		/* Freed before the initcalls: already counted when the watermarks were made. */
		if (!strcmp(what, "SMP alternatives"))
			continue;
		uint64_t start = 0, end = 0;
		if (!strcmp(what, "initrd")) {
			start = initrd_start;
			end = initrd_end;
		}
		for (size_t k = 0; k < sizeof(kernel_pieces) / sizeof(kernel_pieces[0]); k++) {
			if (!strcmp(what, kernel_pieces[k].what)) {
				start = m->kernel_pieces[kernel_pieces[k].idx].start;
				end = start + KMM_ALIGN(m->kernel_pieces[kernel_pieces[k].idx].size,
							PAGE_SIZE);
			}
		}
		for (int r = 0; r < m->cfg.desc.nr_reserves && !end; r++) {
			const struct kmm_early_reserve *res = &m->cfg.desc.reserves[r];
			if (res->freed_late && !strcmp(res->name, what)) {
				start = res->start;
				end = res->end;
			}
		}
		if (end <= start) {
			fprintf(stderr, "cannot place kmm's '%s' in a zone\n", l);
			ok = false;
			break;
		}
		unsigned long first = (unsigned long)(start >> PAGE_SHIFT);
		unsigned long last = (unsigned long)((end - 1) >> PAGE_SHIFT);
		struct kmm_zone *zone = page_zone(m, pfn_to_page(m, first));
		if (zone != page_zone(m, pfn_to_page(m, last))) {
			fprintf(stderr, "'%s' spans two zones\n", l);
			ok = false;
			break;
		}
		int lz = -1;
		for (int j = 0; j < L_NR; j++)
			if (kmm_zone_of[j] == zone->type)
				lz = j;
		st->z[zone->node][lz].managed -= (long)(kb / 4);
	}
	free_lines(lines);
	return ok;
}

/* Linux's managed pages at boot, as the README derives them from Linux's log. */
static bool linux_boot_managed(const char *config, struct fstate *st)
{
	char *text = oracle_file(config, "dmesg.txt");
	if (!text)
		return false;
	int nr;
	char **lines = log_lines(text, &nr);
	free(text);
	struct node_span {
		unsigned long long start, end;
		int node;
	} nodes[MAX_NODES];
	int nr_ranges = 0;
	unsigned long long ramdisk = 0;
	for (int i = 0; i < nr; i++) {
		unsigned long long a, b;
		int n;
		if (sscanf(LINE(lines, i), "Initmem setup node %d [mem %llx-%llx]", &n, &a, &b) ==
			3 &&
		    nr_ranges < MAX_NODES)
			nodes[nr_ranges++] = (struct node_span){a, b, n};
		if (sscanf(LINE(lines, i), "RAMDISK: [mem %llx-", &a) == 1)
			ramdisk = a;
	}
	for (int i = 0; i < nr; i++) {
		const char *l = LINE(lines, i);
		const char *colon = strstr(l, " memory: ");
		unsigned long kb;
		if (strncmp(l, "Freeing ", 8) || !colon || strstr(l, "SMP alternatives") ||
		    sscanf(colon, " memory: %luK", &kb) != 1)
			continue;
		/* The initrd at the top of low RAM; every kernel piece in the image at 16 MiB. */
		unsigned long long at = !strncmp(l, "Freeing initrd", 14) ? ramdisk : 16ULL << 20;
		int node = 0;
		for (int r = 0; r < nr_ranges; r++)
			if (nodes[r].start <= at && at <= nodes[r].end)
				node = nodes[r].node;
		int lz = at < (16ULL << 20) ? L_DMA : at < (4ULL << 30) ? L_DMA32 : L_NORMAL;
		st->z[node][lz].managed -= (long)(kb / 4);
	}
	free_lines(lines);
	return true;
}

/* --- Booting a twin -------------------------------------------------------------------- */

static struct kmm_machine *boot_twin(const char *config)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	char path[512];
	oracle_path(path, sizeof(path), config, "dmesg.txt");
	kmm_config_init(&cfg);
	if (kmm_config_option(&cfg, "--from-dmesg", path, &err) < 0) {
		fprintf(stderr, "%s: %s\n", config, err.msg);
		return NULL;
	}
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		fprintf(stderr, "%s: boot failed: %s\n", config, err.msg);
		return NULL;
	}
	kmm_wait_for_init(m);
	return m;
}

/* --- The experiments ---------------------------------------------------------------- */

struct sysctl_write {
	const char *name, *value; /* value NULL: the current value, read back */
};

/* The oracle's /init, step by step: writes, the dump, then writes that restore. */
static const struct experiment {
	const char *name;
	struct sysctl_write before[2];
	struct sysctl_write after[1];
} experiments[] = {
    {"x1_recomputed",
     {{"watermark_scale_factor", NULL}, {"lowmem_reserve_ratio", NULL}},
     {{NULL, NULL}}},
    {"x2_wsf1000", {{"watermark_scale_factor", "1000"}}, {{"watermark_scale_factor", "10"}}},
    {"x3_pcpfrac8",
     {{"percpu_pagelist_high_fraction", "8"}},
     {{"percpu_pagelist_high_fraction", "0"}}},
    {"x4_lrr32",
     {{"lowmem_reserve_ratio", "32 32 32 0 0"}},
     {{"lowmem_reserve_ratio", "256 256 32 0 0"}}},
    {"x5_thp_never", {{"transparent_hugepage/enabled", "never"}}, {{NULL, NULL}}},
    {"x6_thp_always", {{"transparent_hugepage/enabled", "always"}}, {{NULL, NULL}}},
    {"x7_mfk16384", {{"min_free_kbytes", "16384"}}, {{NULL, NULL}}},
};
#define NR_EXPERIMENTS (sizeof(experiments) / sizeof(experiments[0]))

static bool sysctl_write(struct kmm_machine *m, const struct sysctl_write *w)
{
	struct kmm_error err = {0};
	struct kmm_buf cur;
	if (!w->name)
		return true;
	kmm_buf_init(&cur);
	const char *value = w->value;
	if (!value) {
		kmm_sysctl_get(m, w->name, &cur);
		value = cur.data;
	}
	int ret = kmm_sysctl_set(m, w->name, value, &err);
	kmm_buf_free(&cur);
	if (ret)
		KMM_EXPECT_FAIL_("sysctl %s=%s: %s", w->name, w->value ? w->value : "(current)",
				 err.msg);
	return ret == 0;
}

/* The tunables as kmm reports them, against the experiment's row of experiments.tsv. */
static void check_tunables(struct kmm_machine *m, const char *what, const struct tunables *t,
			   bool check_mfk)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	char want[64];
	kmm_sysctl_get(m, "watermark_scale_factor", &b);
	cmp_field(what, 0, 0, "wsf", strtol(b.data, NULL, 10), t->wsf);
	kmm_buf_reset(&b);
	kmm_sysctl_get(m, "percpu_pagelist_high_fraction", &b);
	cmp_field(what, 0, 0, "pcp_frac", strtol(b.data, NULL, 10), t->frac);
	kmm_buf_reset(&b);
	kmm_sysctl_get(m, "lowmem_reserve_ratio", &b);
	char *p = b.data;
	for (int j = 0; j < L_NR; j++)
		cmp_field(what, 0, j, "lrr", strtol(p, &p, 10), t->lrr[j]);
	kmm_buf_reset(&b);
	kmm_sysctl_get(m, "transparent_hugepage/enabled", &b);
	snprintf(want, sizeof(want), "%s", t->thp_never ? "[never]" : "[always]");
	if (!strstr(b.data, want))
		KMM_EXPECT_FAIL_("%s: THP is '%s', expected %s", what, b.data, want);
	if (check_mfk) {
		kmm_buf_reset(&b);
		kmm_sysctl_get(m, "min_free_kbytes", &b);
		cmp_field(what, 0, 0, "mfk(sysctl)", strtol(b.data, NULL, 10), t->mfk);
	}
	kmm_buf_free(&b);
}

/*
 * What the formulas say an experiment leaves: watermarks from @t on @st's
 * managed pages; min_free_kbytes as the write that ran computes it from the
 * state before (@prev).
 */
static void f_experiment(struct fstate *st, const struct fstate *prev, const char *name,
			 const struct tunables *t)
{
	long mfk = prev->mfk;
	if (!strcmp(name, "x5_thp_never"))
		mfk = f_min_free_kbytes(prev);
	else if (!strcmp(name, "x6_thp_always"))
		mfk = f_thp_min_free_kbytes(prev, prev->mfk);
	else if (!strcmp(name, "x7_mfk16384"))
		mfk = 16384;
	f_wmarks(st, mfk, t->wsf);
	f_protection(st, t->lrr);
	f_pcp(st, t->frac);
}

/* --- 1 and 2: the twin against the oracle and against the formulas ----------------- */

static void check_geometry(const char *config, struct kmm_machine *m, const struct fstate *lin)
{
	struct fstate got;
	char what[64];
	read_kmm(m, &got);
	snprintf(what, sizeof(what), "%s geometry", config);
	compare_states(what, &got, lin, CMP_GEOM);
	/* CPUs: as many as the kernel had, on the same nodes. */
	int cpus = (int)read_number_file(config, "cpus.txt");
	if (m->nr_cpus != cpus)
		KMM_EXPECT_FAIL_("%s: %d CPUs, Linux had %d", config, m->nr_cpus, cpus);
	for (int n = 0; n < lin->nr_nodes; n++)
		if (got.node_cpus[n] != lin->node_cpus[n])
			KMM_EXPECT_FAIL_("%s: node %d has %d CPUs, Linux's had %d", config, n,
					 got.node_cpus[n], lin->node_cpus[n]);
	/*
	 * Managed pages: the issue asks for 2% of the kernel's final count per
	 * zone; kmm reaches 0.1%, and the total is exact because the twin
	 * reserves the log's "reserved" figure. Guard what is reached.
	 */
	long total_got = 0, total_want = 0;
	for (int n = 0; n < lin->nr_nodes; n++) {
		for (int lz = 0; lz < L_NR; lz++) {
			const struct fz *g = &got.z[n][lz], *w = &lin->z[n][lz];
			if (w->present <= 0)
				continue;
			double pct = 100.0 * (double)(g->managed - w->managed) / (double)w->managed;
			printf("  %-20s node %d %-6s managed kmm %7ld linux %7ld  %+.3f%%\n",
			       config, n, lzone_names[lz], g->managed, w->managed, pct);
			total_got += g->managed;
			total_want += w->managed;
			if (pct > 0.1 || pct < -0.1)
				KMM_EXPECT_FAIL_(
				    "%s: node %d %s managed %ld is %.2f%% from Linux's %ld", config,
				    n, lzone_names[lz], g->managed, pct, w->managed);
		}
	}
	if (total_got != total_want)
		KMM_EXPECT_FAIL_("%s: total managed %ld, Linux %ld", config, total_got, total_want);

	/* kmm's HIGHMEM slot is not a zone on x86_64. */
	for (int n = 0; n < m->nr_node_ids; n++)
		if (m->node_data[n]->node_zones[ZONE_HIGHMEM].spanned_pages)
			KMM_EXPECT_FAIL_("%s: node %d has a HighMem zone on x86_64", config, n);
}

/* Boot state and x1..x7 replayed on kmm, each against the formulas on kmm's managed. */
static void check_formulas_on_kmm(const char *config, struct kmm_machine *m)
{
	struct fstate got, want;
	char what[96];
	read_kmm(m, &got);
	/* At boot: the managed counts before the late frees. */
	want = got;
	if (!kmm_boot_managed(m, &want)) {
		KMM_EXPECT_FAIL_("%s: cannot reconstruct the boot-time managed pages", config);
		return;
	}
	f_boot(&want, m->cfg.thp_given && m->cfg.thp == KMM_THP_NEVER);
	snprintf(what, sizeof(what), "%s boot (formulas on kmm's managed)", config);
	compare_states(what, &got, &want, CMP_FORMULA | CMP_THR);
	for (int n = 0; n < want.nr_nodes; n++)
		for (int lz = 0; lz < L_NR; lz++)
			if (want.z[n][lz].managed != got.z[n][lz].managed)
				printf("  %-20s node %d %-6s managed at boot %ld, after the late "
				       "frees %ld\n",
				       config, n, lzone_names[lz], want.z[n][lz].managed,
				       got.z[n][lz].managed);

	/* The experiments: formulas on the final managed pages; thresholds stay. */
	struct fstate prev = got;
	prev.mfk = want.mfk;
	for (size_t e = 0; e < NR_EXPERIMENTS; e++) {
		const struct experiment *x = &experiments[e];
		struct tunables t;
		if (!read_experiment(config, x->name, &t)) {
			KMM_EXPECT_FAIL_("%s: no %s in experiments.tsv", config, x->name);
			return;
		}
		for (int w = 0; w < 2; w++)
			sysctl_write(m, &x->before[w]);
		read_kmm(m, &got);
		struct fstate exp = got;
		f_experiment(&exp, &prev, x->name, &t);
		snprintf(what, sizeof(what), "%s %s (formulas on kmm's managed)", config, x->name);
		compare_states(what, &got, &exp, CMP_FORMULA);
		/* Thresholds are computed once, at boot. */
		for (int n = 0; n < exp.nr_nodes; n++)
			for (int lz = 0; lz < L_NR; lz++)
				exp.z[n][lz].thr = want.z[n][lz].thr;
		compare_states(what, &got, &exp, CMP_THR);
		prev = exp;
		for (int w = 0; w < 1; w++)
			sysctl_write(m, &x->after[w]);
	}
}

/* 3: kmm's code on Linux's managed pages must give Linux's numbers. */
static void check_kmm_on_linux_managed(const char *config, struct kmm_machine *m,
				       const struct fstate *lin)
{
	struct fstate boot_in = *lin, got, want;
	char what[96];
	if (!linux_boot_managed(config, &boot_in)) {
		KMM_EXPECT_FAIL_("%s: cannot read Linux's late frees", config);
		return;
	}
	/* The boot initcalls, as phys_late_init() runs them, on Linux's managed at that time. */
	set_kmm_managed(m, &boot_in);
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			memset(m->node_data[n]->node_zones[z]._watermark, 0,
			       sizeof(m->node_data[n]->node_zones[z]._watermark));
	m->user_min_free_kbytes = -1;
	m->thp = m->cfg.thp_given ? m->cfg.thp : KMM_THP_ALWAYS;
	init_per_zone_wmark_min(m);
	if (total_managed(&boot_in) < 512UL << 8)
		m->thp = KMM_THP_NEVER;
	else
		set_recommended_min_free_kbytes(m);
	read_kmm(m, &got);
	want = *lin;
	want.mfk = read_number_file(config, "min_free_kbytes.txt");
	for (int n = 0; n < want.nr_nodes; n++)
		for (int lz = 0; lz < L_NR; lz++)
			want.z[n][lz].managed = boot_in.z[n][lz].managed;
	snprintf(what, sizeof(what), "%s boot (kmm on Linux's boot-time managed)", config);
	compare_states(what, &got, &want, CMP_FORMULA | CMP_THR);

	/* x1..x7 on Linux's final managed, through the sysctl interface. */
	for (size_t e = 0; e < NR_EXPERIMENTS; e++) {
		const struct experiment *x = &experiments[e];
		char file[64];
		struct tunables t;
		snprintf(file, sizeof(file), "zones_%s.tsv", x->name);
		if (!read_zones_tsv(config, file, &want) || !read_experiment(config, x->name, &t)) {
			KMM_EXPECT_FAIL_("%s: cannot read %s", config, x->name);
			return;
		}
		set_kmm_managed(m, &want);
		for (int w = 0; w < 2; w++)
			sysctl_write(m, &x->before[w]);
		read_kmm(m, &got);
		want.mfk = t.mfk;
		snprintf(what, sizeof(what), "%s %s (kmm on Linux's managed)", config, x->name);
		compare_states(what, &got, &want, CMP_FORMULA | CMP_THR | CMP_MANAGED);
		check_tunables(m, what, &t, true);
		for (int w = 0; w < 1; w++)
			sysctl_write(m, &x->after[w]);
	}
}

/* --- 4: the boot log -------------------------------------------------------------------- */

#define MAX_SHAPE_LINES 64

/*
 * The lines of a boot log that describe zones and nodes, from "Zone ranges:"
 * to "Built N zonelists": the zone ranges block, the movable zone starts,
 * the early node ranges, "Initmem setup node", the unavailable ranges and
 * the zonelist line. Returns how many were found.
 */
static int shape_lines(char **lines, int nr, const char **out)
{
	int n = 0, state = 0;
	for (int i = 0; i < nr && n < MAX_SHAPE_LINES; i++) {
		const char *l = LINE(lines, i);
		bool keep = false;
		if (state == 0) {
			if (!strcmp(l, "Zone ranges:")) {
				keep = true;
				state = 1;
			}
		} else if (!strcmp(l, "Movable zone start for each node")) {
			keep = true;
			state = 2;
		} else if (!strcmp(l, "Early memory node ranges")) {
			keep = true;
			state = 3;
		} else if (state == 1 && !strncmp(l, "  ", 2) && isalpha((unsigned char)l[2])) {
			keep = true;
		} else if (state == 2 && !strncmp(l, "  Node ", 7)) {
			keep = true;
		} else if (state == 3 && !strncmp(l, "  node ", 7)) {
			keep = true;
		} else if (state >= 3 &&
			   (!strncmp(l, "Initmem setup node ", 19) ||
			    (!strncmp(l, "On node ", 8) && strstr(l, "unavailable")))) {
			keep = true;
			state = 4;
		} else if (state >= 3 && !strncmp(l, "Built ", 6) && strstr(l, "zonelists")) {
			out[n++] = l;
			break;
		}
		if (keep)
			out[n++] = l;
	}
	return n;
}

/*
 * vm_total_pages at build_all_zonelists(): the managed estimate of
 * free_area_init_core() (present minus the memmap of the span, 64-byte struct
 * pages, minus the DMA reserve for the first zone), watermarks still 0.
 */
static unsigned long f_total_pages(struct kmm_machine *m)
{
	unsigned long total = 0;
	for (int n = 0; n < m->nr_node_ids; n++) {
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			const struct kmm_zone *zone = &m->node_data[n]->node_zones[z];
			unsigned long spanned = zone->spanned_pages, present = zone->present_pages;
			unsigned long pages = spanned;
			if (spanned > present + (present >> 4))
				pages = present; /* SPARSEMEM: no memmap for big holes */
			unsigned long memmap = (pages * 64 + PAGE_SIZE - 1) / PAGE_SIZE;
			unsigned long size = present;
			if (size >= memmap)
				size -= memmap;
			if (z == ZONE_DMA && size > m->dma_reserve)
				size -= m->dma_reserve;
			total += size;
		}
	}
	return total;
}

static void check_boot_log(const char *config, struct kmm_machine *m)
{
	char *text = oracle_file(config, "dmesg.txt");
	if (!text) {
		KMM_EXPECT_FAIL_("%s: no dmesg.txt", config);
		return;
	}
	int nr_lin, nr_kmm;
	char **lin_lines = log_lines(text, &nr_lin);
	char **kmm_lines = log_lines(m->log.data, &nr_kmm);
	free(text);
	const char *lin[MAX_SHAPE_LINES], *kmm[MAX_SHAPE_LINES];
	int nl = shape_lines(lin_lines, nr_lin, lin);
	int nk = shape_lines(kmm_lines, nr_kmm, kmm);
	int matched = 0;
	if (nl != nk)
		KMM_EXPECT_FAIL_("%s: %d zone/node lines in kmm's log, %d in Linux's", config, nk,
				 nl);
	for (int i = 0; i < nl && i < nk; i++) {
		if (!strcmp(lin[i], kmm[i])) {
			matched++;
			printf("  %-20s same:     %s\n", config, kmm[i]);
			continue;
		}
		const char *tl = strstr(lin[i], "Total pages: "),
			   *tk = strstr(kmm[i], "Total pages: ");
		if (tl && tk && tl - lin[i] == tk - kmm[i] &&
		    !strncmp(lin[i], kmm[i], tl - lin[i])) {
			unsigned long total = strtoul(tk + 13, NULL, 10);
			printf("  %-20s differs:  %s\n  %-20s    Linux:  %s\n", config, kmm[i], "",
			       lin[i]);
			if (total != f_total_pages(m))
				KMM_EXPECT_FAIL_("%s: kmm's Total pages %lu, formula %lu", config,
						 total, f_total_pages(m));
			continue;
		}
		KMM_EXPECT_FAIL_("%s: boot log line differs:\n  kmm:   '%s'\n  Linux: '%s'", config,
				 kmm[i], lin[i]);
	}
	/* Whatever the line says, Total pages must be the formula's. */
	for (int i = 0; i < nk; i++) {
		const char *tk = strstr(kmm[i], "Total pages: ");
		if (tk && strtoul(tk + 13, NULL, 10) != f_total_pages(m))
			KMM_EXPECT_FAIL_("%s: Total pages %lu, formula %lu", config,
					 strtoul(tk + 13, NULL, 10), f_total_pages(m));
	}
	printf("  %-20s boot log: %d of %d zone/node lines identical to Linux's\n", config, matched,
	       nl);
	free_lines(lin_lines);
	free_lines(kmm_lines);
}

/* --- The tests ---------------------------------------------------------------------- */

static void test_oracle_configs(void)
{
	for (size_t c = 0; c < NR_CONFIGS; c++) {
		const char *config = configs[c];
		struct fstate lin;
		int before = nr_mismatched;
		if (!read_zones_tsv(config, "zones.tsv", &lin)) {
			KMM_EXPECT_FAIL_("%s: cannot read zones.tsv", config);
			continue;
		}
		read_node_cpus(config, &lin);
		lin.online_cpus = (int)read_number_file(config, "cpus.txt");
		struct kmm_machine *m = boot_twin(config);
		if (!m) {
			KMM_EXPECT_FAIL_("%s: the twin does not boot", config);
			continue;
		}
		struct kmm_error err = {0};
		if (kmm_phys_validate(m, &err))
			KMM_EXPECT_FAIL_("%s: kmm_phys_validate: %s", config, err.msg);
		check_geometry(config, m, &lin);
		check_boot_log(config, m);
		check_formulas_on_kmm(config, m);
		check_kmm_on_linux_managed(config, m, &lin);
		printf("  %-20s %d fields compared so far, %d mismatched in this config\n", config,
		       nr_compared, nr_mismatched - before);
		kmm_machine_destroy(m);
	}
}

/* The formulas of this file against the oracle's own numbers: a check of the test itself. */
static void test_formulas_reproduce_oracle(void)
{
	for (size_t c = 0; c < NR_CONFIGS; c++) {
		const char *config = configs[c];
		struct fstate lin, st;
		char what[96];
		if (!read_zones_tsv(config, "zones.tsv", &lin))
			continue;
		read_node_cpus(config, &lin);
		lin.online_cpus = (int)read_number_file(config, "cpus.txt");
		lin.mfk = read_number_file(config, "min_free_kbytes.txt");
		st = lin;
		expect_true(linux_boot_managed(config, &st));
		f_boot(&st, strstr(config, "thpnever") != NULL);
		for (int n = 0; n < st.nr_nodes; n++)
			for (int lz = 0; lz < L_NR; lz++)
				st.z[n][lz].managed = lin.z[n][lz].managed;
		snprintf(what, sizeof(what), "%s boot (formulas on Linux's managed)", config);
		compare_states(what, &lin, &st, CMP_FORMULA | CMP_THR);

		struct fstate prev = lin;
		for (size_t e = 0; e < NR_EXPERIMENTS; e++) {
			char file[64];
			struct tunables t;
			struct fstate x;
			snprintf(file, sizeof(file), "zones_%s.tsv", experiments[e].name);
			expect_true(read_zones_tsv(config, file, &x));
			expect_true(read_experiment(config, experiments[e].name, &t));
			x.nr_nodes = lin.nr_nodes;
			memcpy(x.node_cpus, lin.node_cpus, sizeof(x.node_cpus));
			x.online_cpus = lin.online_cpus;
			x.mfk = t.mfk;
			struct fstate exp = x;
			f_experiment(&exp, &prev, experiments[e].name, &t);
			snprintf(what, sizeof(what), "%s %s (formulas on Linux's managed)", config,
				 experiments[e].name);
			compare_states(what, &x, &exp, CMP_FORMULA);
			prev = x;
		}
	}
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_oracle_test(test_formulas_reproduce_oracle);
	run_oracle_test(test_oracle_configs);
	printf("%d fields compared, %d mismatched\n", nr_compared, nr_mismatched);
	return kmm_test_done();
}
