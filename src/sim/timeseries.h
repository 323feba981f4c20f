/*
 * The run's figures over time (timeseries.c) and the HTML report built
 * from them (report.c). Internal to sim/.
 */
#ifndef KMM_SIM_TIMESERIES_H
#define KMM_SIM_TIMESERIES_H

#include <stdio.h>
#include <kmm/kmm.h>
#include <kmm/buf.h>

struct sim_ts;

/*
 * Start collecting for machine @m: the zones are fixed from here on.
 * @csv, if not NULL, receives timeseries.csv (header now, a row a sample).
 */
struct sim_ts *sim_ts_create(struct kmm_machine *m, FILE *csv);
/*
 * One sample: snapshot number @snap (proc/NNNN; 0 for the machine before
 * the first operation, which has no proc/ directory), the counters now,
 * after @ops operations, in @phase (may be NULL), labelled @label, and a
 * physical memory map while fewer than SIM_TS_MAX_MAPS were taken (then
 * every other one is dropped and the interval doubles, so maps cover the
 * whole run).
 */
void sim_ts_sample(struct sim_ts *ts, unsigned long snap, uint64_t ops, uint64_t accesses,
		   const char *phase, const char *label);
/* The largest slab caches, read once at the end. */
void sim_ts_finish(struct sim_ts *ts);
/* The report's data for this run, as a JSON object, appended to @out. */
void sim_ts_json(const struct sim_ts *ts, const char *name, const char *summary,
		 struct kmm_buf *out);
void sim_ts_destroy(struct sim_ts *ts);

/*
 * report.html: self-contained (data, script and style inline). @runs
 * holds @nruns JSON objects from sim_ts_json (one run, or the variants of
 * kmm compare). Returns 0 or -errno.
 */
int sim_report_write(const char *path, const char *title, const char *const *runs, int nruns,
		     const char *table_html);

#endif /* KMM_SIM_TIMESERIES_H */
