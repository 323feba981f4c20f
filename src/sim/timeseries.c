/*
 * The run over time: a row of counters at every snapshot (timeseries.csv),
 * a physical memory map at some of them, and the largest slab caches at
 * the end; the HTML report (report.c) draws them.
 *
 * Linux counterpart: what sar, vmstat(8) and /proc/kpageflags-based tools
 * (page-types) show of a live system; the counters are the ones
 * /proc/vmstat and /proc/zoneinfo print (mm/vmstat.c).
 *
 * Columns: the samples are vectors of unsigned counters under a fixed
 * list of column names made when the machine is known (four per zone:
 * free pages and the min/low/high watermarks), so the CSV, the JSON for
 * the report and the report's charts all walk one list.
 *
 * The memory map: every populated zone's span cut into cells of 2^k pages,
 * k the smallest that keeps the whole machine within SIM_TS_MAP_CELLS
 * cells; a cell shows the state most of its pages are in. Free pages are
 * found on the buddy lists (under the zone lock, so both buddy designs
 * are read the same way) and carry their block's order; pages with no
 * reference that are not on a buddy list sit on per-CPU lists; the rest
 * by their flags (reserved, slab, page table) and mapping (anonymous,
 * file), else kernel memory of other kinds. Snapshots come at barriers
 * (concurrent mode) or between operations, so the machine is quiet.
 */
#include "timeseries.h"
#include "sim.h"
#include "../page/internal.h"

#include <kmm/proc.h>
#include <kmm/swap.h>
#include <stdlib.h>
#include <string.h>

#define SIM_TS_MAP_CELLS 16384
#define SIM_TS_MAX_MAPS	 24
#define SIM_TS_SLABS	 12

/* Cell states, one character each in the JSON; the report knows them. */
enum {
	ST_HOLE = '.',
	ST_RESERVED = 'R',
	ST_PCP = 'p',
	ST_ANON = 'A',
	ST_FILE = 'F',
	ST_SLAB = 'S',
	ST_TABLE = 'T',
	ST_KERNEL = 'K',
	ST_FREE0 = 'a', /* 'a' + order */
};

struct ts_zone {
	int node;
	const char *name;
	struct kmm_zone *zone;
	unsigned long start, span;
	size_t first_cell, ncells;
};

struct ts_map {
	size_t sample;
	char *cells;
};

struct ts_slab {
	char name[64];
	unsigned long bytes, objs, objsize;
};

struct sim_ts {
	struct kmm_machine *m;
	FILE *csv;
	struct ts_zone zones[KMM_MAX_NUMNODES * MAX_NR_ZONES];
	int nzones;
	unsigned int cell_order;
	size_t ncells;
	char **cols;
	size_t ncols;
	uint64_t *rows;	      /* nrows x ncols */
	char **labels;	      /* "phase\tlabel" of each row */
	unsigned long *snaps; /* the snapshot number of each row */
	size_t nrows, rows_cap;
	struct ts_map maps[SIM_TS_MAX_MAPS];
	int nmaps;
	size_t map_every, map_next; /* take a map at every map_every-th sample */
	unsigned char *state;	    /* scratch: one state per page of the largest zone */
	struct ts_slab slabs[SIM_TS_SLABS];
	int nslabs;
};

/* The counters after the per-zone ones, in column order. */
enum {
	C_OPS,
	C_ACCESSES,
	C_INACTIVE_ANON,
	C_ACTIVE_ANON,
	C_INACTIVE_FILE,
	C_ACTIVE_FILE,
	C_UNEVICTABLE,
	C_ANON_PAGES,
	C_FILE_PAGES,
	C_PAGE_TABLES,
	C_SLAB_BYTES,
	C_SWAP_USED,
	C_SWAP_TOTAL,
	C_PGFAULT,
	C_PGMAJFAULT,
	C_PGSCAN,
	C_PGSTEAL,
	C_PSWPIN,
	C_PSWPOUT,
	C_PGALLOC,
	C_PGFREE,
	C_NR,
};
static const char *const col_names[C_NR] = {
    "ops",
    "accesses",
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_anon_pages",
    "nr_file_pages",
    "nr_page_table_pages",
    "slab_bytes",
    "swap_used",
    "swap_total",
    "pgfault",
    "pgmajfault",
    "pgscan",
    "pgsteal",
    "pswpin",
    "pswpout",
    "pgalloc",
    "pgfree",
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort(); /* host out of memory in a reporting tool: nothing sensible left */
	return d;
}

struct sim_ts *sim_ts_create(struct kmm_machine *m, FILE *csv)
{
	struct sim_ts *ts = calloc(1, sizeof(*ts));
	int nid;
	struct kmm_zone *zone;
	unsigned long total = 0, largest = 0;
	char name[96];
	if (!ts)
		abort();
	ts->m = m;
	ts->csv = csv;
	ts->map_every = 1;
	for_each_populated_zone (m, nid, zone) {
		struct ts_zone *z = &ts->zones[ts->nzones++];
		z->node = nid;
		z->name = zone->name;
		z->zone = zone;
		z->start = zone->zone_start_pfn;
		z->span = zone->spanned_pages;
		total += z->span;
		if (z->span > largest)
			largest = z->span;
	}
	while ((total >> ts->cell_order) > SIM_TS_MAP_CELLS)
		ts->cell_order++;
	for (int i = 0; i < ts->nzones; i++) {
		struct ts_zone *z = &ts->zones[i];
		z->first_cell = ts->ncells;
		z->ncells = (z->span + (1UL << ts->cell_order) - 1) >> ts->cell_order;
		ts->ncells += z->ncells;
	}
	ts->state = malloc(largest ? largest : 1);
	ts->ncols = (size_t)ts->nzones * 4 + C_NR;
	ts->cols = calloc(ts->ncols, sizeof(*ts->cols));
	if (!ts->state || !ts->cols)
		abort();
	size_t c = 0;
	for (int i = 0; i < C_NR; i++)
		ts->cols[c++] = xstrdup(col_names[i]);
	for (int i = 0; i < ts->nzones; i++) {
		static const char *const what[4] = {"free", "min", "low", "high"};
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "node%d_%s_%s", ts->zones[i].node,
				 ts->zones[i].name, what[k]);
			ts->cols[c++] = xstrdup(name);
		}
	}
	if (csv) {
		fputs("snapshot,phase,label", csv);
		for (size_t i = 0; i < ts->ncols; i++)
			fprintf(csv, ",%s", ts->cols[i]);
		fputc('\n', csv);
	}
	return ts;
}

static char page_state(struct kmm_page *page)
{
	if (PageReserved(page))
		return ST_RESERVED;
	if (PageTail(page))
		page = compound_head(page);
	if (PageSlab(page))
		return ST_SLAB;
	if (PageTable(page))
		return ST_TABLE;
	if (!page_ref_count(page))
		return ST_PCP; /* free, not on a buddy list: a per-CPU list */
	if (PageAnon(page))
		return ST_ANON;
	if (READ_ONCE(page->mapping))
		return ST_FILE;
	return ST_KERNEL;
}

static void take_map(struct sim_ts *ts, char *cells)
{
	struct kmm_machine *m = ts->m;
	for (int i = 0; i < ts->nzones; i++) {
		struct ts_zone *z = &ts->zones[i];
		struct kmm_zone *zone = z->zone;
		unsigned char *st = ts->state;
		memset(st, 0, z->span);
		spin_lock(&zone->lock);
		for (unsigned int o = 0; o < NR_PAGE_ORDERS; o++)
			for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
				struct kmm_page *p;
				list_for_each_entry (p, &zone->free_area[o].free_list[mt], lru) {
					unsigned long pfn = page_to_pfn(m, p) - z->start;
					for (unsigned long k = 0;
					     k < (1UL << o) && pfn + k < z->span; k++)
						st[pfn + k] = (unsigned char)(ST_FREE0 + o);
				}
			}
		spin_unlock(&zone->lock);
		for (unsigned long pfn = 0; pfn < z->span; pfn++) {
			if (st[pfn])
				continue;
			if (!pfn_valid(m, z->start + pfn))
				st[pfn] = ST_HOLE;
			else
				st[pfn] = (unsigned char)page_state(pfn_to_page(m, z->start + pfn));
		}
		/* Each cell: the state most of its pages are in (the first such on a tie). */
		unsigned long per = 1UL << ts->cell_order;
		for (size_t c = 0; c < z->ncells; c++) {
			unsigned int count[128] = {0};
			unsigned long lo = c * per, hi = kmm_min(lo + per, z->span);
			unsigned char best = st[lo];
			for (unsigned long p = lo; p < hi; p++)
				if (++count[st[p] & 127] > count[best & 127])
					best = st[p];
			cells[z->first_cell + c] = (char)best;
		}
	}
	cells[ts->ncells] = '\0';
}

static uint64_t zone_events(const unsigned long *ev, int first)
{
	uint64_t s = 0;
	for (int z = 0; z < KMM_NR_ZONE_TYPES; z++)
		s += ev[first + z];
	return s;
}

void sim_ts_sample(struct sim_ts *ts, unsigned long snap, uint64_t ops, uint64_t accesses,
		   const char *phase, const char *label)
{
	struct kmm_machine *m = ts->m;
	unsigned long ev[NR_VM_EVENT_ITEMS];
	struct kmm_swap_totals sw = {0};
	if (ts->nrows == ts->rows_cap) {
		ts->rows_cap = ts->rows_cap ? ts->rows_cap * 2 : 64;
		ts->rows = realloc(ts->rows, ts->rows_cap * ts->ncols * sizeof(*ts->rows));
		ts->labels = realloc(ts->labels, ts->rows_cap * sizeof(*ts->labels));
		ts->snaps = realloc(ts->snaps, ts->rows_cap * sizeof(*ts->snaps));
		if (!ts->rows || !ts->labels || !ts->snaps)
			abort();
	}
	kmm_wait_for_init(m);
	refresh_vm_stats(m);
	all_vm_events(m, ev);
	kmm_swap_totals(m, &sw);
	uint64_t *row = ts->rows + ts->nrows * ts->ncols;
	row[C_OPS] = ops;
	row[C_ACCESSES] = accesses;
	row[C_INACTIVE_ANON] = global_node_page_state(m, NR_INACTIVE_ANON);
	row[C_ACTIVE_ANON] = global_node_page_state(m, NR_ACTIVE_ANON);
	row[C_INACTIVE_FILE] = global_node_page_state(m, NR_INACTIVE_FILE);
	row[C_ACTIVE_FILE] = global_node_page_state(m, NR_ACTIVE_FILE);
	row[C_UNEVICTABLE] = global_node_page_state(m, NR_UNEVICTABLE);
	row[C_ANON_PAGES] = global_node_page_state(m, NR_ANON_MAPPED);
	row[C_FILE_PAGES] = global_node_page_state(m, NR_FILE_PAGES);
	row[C_PAGE_TABLES] = global_node_page_state(m, NR_PAGETABLE);
	row[C_SLAB_BYTES] = global_node_page_state(m, NR_SLAB_RECLAIMABLE_B) +
			    global_node_page_state(m, NR_SLAB_UNRECLAIMABLE_B);
	row[C_SWAP_USED] = sw.total - sw.free;
	row[C_SWAP_TOTAL] = sw.total;
	row[C_PGFAULT] = ev[PGFAULT];
	row[C_PGMAJFAULT] = ev[PGMAJFAULT];
	row[C_PGSCAN] = ev[PGSCAN_KSWAPD] + ev[PGSCAN_DIRECT];
	row[C_PGSTEAL] = ev[PGSTEAL_KSWAPD] + ev[PGSTEAL_DIRECT];
	row[C_PSWPIN] = ev[PSWPIN];
	row[C_PSWPOUT] = ev[PSWPOUT];
	row[C_PGALLOC] = zone_events(ev, PGALLOC_DMA);
	row[C_PGFREE] = ev[PGFREE];
	for (int i = 0; i < ts->nzones; i++) {
		struct kmm_zone *z = ts->zones[i].zone;
		uint64_t *v = row + C_NR + 4 * i;
		v[0] = zone_page_state(z, NR_FREE_PAGES);
		v[1] = wmark_pages(z, WMARK_MIN);
		v[2] = wmark_pages(z, WMARK_LOW);
		v[3] = wmark_pages(z, WMARK_HIGH);
	}
	char lab[256];
	snprintf(lab, sizeof(lab), "%s\t%s", phase ? phase : "", label ? label : "");
	ts->labels[ts->nrows] = xstrdup(lab);
	ts->snaps[ts->nrows] = snap;
	if (ts->csv) {
		fprintf(ts->csv, "%lu,%s,%s", snap, phase ? phase : "", label ? label : "");
		for (size_t i = 0; i < ts->ncols; i++)
			fprintf(ts->csv, ",%llu", (unsigned long long)row[i]);
		fputc('\n', ts->csv);
	}
	/* Maps: every map_every-th sample; when full, keep every other and double. */
	if (ts->nrows >= ts->map_next) {
		if (ts->nmaps == SIM_TS_MAX_MAPS) {
			int k = 0;
			for (int i = 0; i < ts->nmaps; i++) {
				if (i % 2 == 0)
					ts->maps[k++] = ts->maps[i];
				else
					free(ts->maps[i].cells);
			}
			ts->nmaps = k;
			ts->map_every *= 2;
		}
		if (ts->nrows >= ts->map_next) {
			char *cells = malloc(ts->ncells + 1);
			if (!cells)
				abort();
			take_map(ts, cells);
			ts->maps[ts->nmaps].sample = ts->nrows;
			ts->maps[ts->nmaps++].cells = cells;
			ts->map_next = ts->nrows + ts->map_every;
		}
	}
	ts->nrows++;
}

/* The largest caches by bytes, from /proc/slabinfo's lines. */
void sim_ts_finish(struct sim_ts *ts)
{
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(ts->m, "slabinfo", &b);
	const char *line = b.data ? b.data : "";
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char text[512], name[64];
		unsigned long active, num, objsize, perslab, pages, t1, t2, t3, aslabs, nslabs;
		snprintf(text, sizeof(text), "%.*s", (int)kmm_min(len, sizeof(text) - 1), line);
		if (text[0] != '#' &&
		    sscanf(text,
			   "%63s %lu %lu %lu %lu %lu : tunables %lu %lu %lu : slabdata %lu %lu",
			   name, &active, &num, &objsize, &perslab, &pages, &t1, &t2, &t3, &aslabs,
			   &nslabs) == 11) {
			struct ts_slab s = {.bytes = nslabs * pages * PAGE_SIZE,
					    .objs = active,
					    .objsize = objsize};
			snprintf(s.name, sizeof(s.name), "%s", name);
			/* Insertion into the top list, largest first (name breaks ties). */
			int pos = ts->nslabs;
			while (pos > 0 && (ts->slabs[pos - 1].bytes < s.bytes ||
					   (ts->slabs[pos - 1].bytes == s.bytes &&
					    strcmp(ts->slabs[pos - 1].name, s.name) > 0)))
				pos--;
			if (pos < SIM_TS_SLABS && s.bytes) {
				int last =
				    ts->nslabs < SIM_TS_SLABS ? ts->nslabs : SIM_TS_SLABS - 1;
				memmove(&ts->slabs[pos + 1], &ts->slabs[pos],
					(size_t)(last - pos) * sizeof(ts->slabs[0]));
				ts->slabs[pos] = s;
				if (ts->nslabs < SIM_TS_SLABS)
					ts->nslabs++;
			}
		}
		line += len + (nl ? 1 : 0);
	}
	kmm_buf_free(&b);
}

static void json_str(struct kmm_buf *out, const char *s)
{
	kmm_buf_puts(out, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			kmm_buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c == '<' || c == '>' || c == '&')
			kmm_buf_printf(out, "\\u%04x", c); /* also keeps "</script>" out */
		else
			kmm_buf_printf(out, "%c", c);
	}
	kmm_buf_puts(out, "\"");
}

void sim_ts_json(const struct sim_ts *ts, const char *name, const char *summary,
		 struct kmm_buf *out)
{
	kmm_buf_puts(out, "{\"name\":");
	json_str(out, name);
	kmm_buf_puts(out, ",\"summary\":");
	json_str(out, summary ? summary : "");
	kmm_buf_printf(out, ",\"cellPages\":%lu,\"zones\":[", 1UL << ts->cell_order);
	for (int i = 0; i < ts->nzones; i++) {
		const struct ts_zone *z = &ts->zones[i];
		kmm_buf_printf(out,
			       "%s{\"node\":%d,\"name\":\"%s\",\"start\":%lu,\"pages\":%lu,"
			       "\"first\":%zu,\"cells\":%zu}",
			       i ? "," : "", z->node, z->name, z->start, z->span, z->first_cell,
			       z->ncells);
	}
	kmm_buf_puts(out, "],\"cols\":[");
	for (size_t i = 0; i < ts->ncols; i++) {
		kmm_buf_puts(out, i ? "," : "");
		json_str(out, ts->cols[i]);
	}
	kmm_buf_puts(out, "],\"labels\":[");
	for (size_t r = 0; r < ts->nrows; r++) {
		kmm_buf_puts(out, r ? "," : "");
		json_str(out, ts->labels[r]);
	}
	kmm_buf_puts(out, "],\"snaps\":[");
	for (size_t r = 0; r < ts->nrows; r++)
		kmm_buf_printf(out, "%s%lu", r ? "," : "", ts->snaps[r]);
	kmm_buf_puts(out, "],\"rows\":[");
	for (size_t r = 0; r < ts->nrows; r++) {
		kmm_buf_puts(out, r ? ",[" : "[");
		for (size_t i = 0; i < ts->ncols; i++)
			kmm_buf_printf(out, "%s%llu", i ? "," : "",
				       (unsigned long long)ts->rows[r * ts->ncols + i]);
		kmm_buf_puts(out, "]");
	}
	kmm_buf_puts(out, "],\"maps\":[");
	for (int i = 0; i < ts->nmaps; i++) {
		kmm_buf_printf(out, "%s{\"sample\":%zu,\"cells\":", i ? "," : "",
			       ts->maps[i].sample);
		json_str(out, ts->maps[i].cells);
		kmm_buf_puts(out, "}");
	}
	kmm_buf_puts(out, "],\"slabs\":[");
	for (int i = 0; i < ts->nslabs; i++) {
		kmm_buf_printf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, ts->slabs[i].name);
		kmm_buf_printf(out, ",\"bytes\":%lu,\"objs\":%lu,\"objsize\":%lu}",
			       ts->slabs[i].bytes, ts->slabs[i].objs, ts->slabs[i].objsize);
	}
	kmm_buf_puts(out, "]}");
}

void sim_ts_destroy(struct sim_ts *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ncols; i++)
		free(ts->cols[i]);
	for (size_t i = 0; i < ts->nrows; i++)
		free(ts->labels[i]);
	for (int i = 0; i < ts->nmaps; i++)
		free(ts->maps[i].cells);
	free(ts->cols);
	free(ts->labels);
	free(ts->snaps);
	free(ts->rows);
	free(ts->state);
	free(ts);
}
