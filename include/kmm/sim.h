/*
 * The simulator: workloads, memory-access traces and page-reference
 * simulation. Host code (it reads files and may start threads), built on
 * the core layers.
 *
 * Linux: none as such. A workload says what the processes and the kernel
 * of a simulated machine do (mmap, touch, fork, kmalloc, alloc_pages, ...);
 * a trace records what a real program did (valgrind lackey, or kmm's
 * compact binary format); the reference simulator computes how many page
 * faults exact LRU and Belady's OPT would take on a reference string.
 *
 * Docs: docs/workloads.md (the language), docs/traces.md (the trace formats).
 */
#ifndef KMM_SIM_H
#define KMM_SIM_H

#include <stdio.h>
#include <kmm/machine.h>

/* --- Workloads ---------------------------------------------------------------------- */

struct kmm_workload;

/*
 * Parse a workload. @filename names it in messages ("FILE:LINE:COL: ...")
 * and gives the directory that relative paths in it (--from-dmesg, --map)
 * are taken from; NULL means "workload" and the current directory. The
 * workload's `machine` lines are applied as they are read, so a bad
 * --from-dmesg file is reported here. Returns 0 and the program in *@out,
 * or a negative errno with the first error in @err. Never aborts on bad
 * input.
 */
int kmm_workload_parse(const char *text, size_t len, const char *filename,
		       struct kmm_workload **out, struct kmm_error *err);
/* Read the file @path and parse it. */
int kmm_workload_load(const char *path, struct kmm_workload **out, struct kmm_error *err);

/*
 * Apply a machine option after the workload's own (a command-line
 * override), as kmm_config_option() takes it. Returns what it returns.
 */
int kmm_workload_machine_option(struct kmm_workload *w, const char *opt, const char *val,
				struct kmm_error *err);
/* Override the workload's seed. */
void kmm_workload_set_seed(struct kmm_workload *w, uint64_t seed);

/*
 * Check the whole program before anything runs: the machine can be
 * described (CPU and node numbers are checked against it), every name is
 * defined before it is used, ranges are inside their regions and mapped
 * with the protection their access needs, pools are freed with the
 * allocator that filled them, and so on, through every pass of every
 * repeat block. Returns 0 or -EINVAL with "FILE:LINE:COL: ..." in @err.
 */
int kmm_workload_check(struct kmm_workload *w, struct kmm_error *err);

/*
 * Whether this version of kmm can run every operation of a checked
 * workload. Returns 0, or -ENOSYS with "FILE:LINE:COL: not supported yet:
 * OP (needs LAYER)" for the first one it cannot.
 */
int kmm_workload_supported(const struct kmm_workload *w, struct kmm_error *err);

/* The checked program, one resolved operation per line (for --dump and tests). */
void kmm_workload_dump(const struct kmm_workload *w, struct kmm_buf *out);

/* The machine configuration the workload will boot (after overrides and check). */
const struct kmm_config *kmm_workload_config(const struct kmm_workload *w);

void kmm_workload_free(struct kmm_workload *w);

/* How a concurrent run reads swap (kmm_swap_io_start; include/kmm/swap.h). */
enum kmm_sim_swap_io {
	KMM_SIM_SWAP_IO_FAULT,	/* the faulting CPU reads its window, as Linux does (the default) */
	KMM_SIM_SWAP_IO_THREAD, /* through the swap I/O thread */
	KMM_SIM_SWAP_IO_AHEAD,	/* through it, windows read ahead (KMM_SWAP_IO_READAHEAD_NEXT) */
};

struct kmm_sim_opts {
	bool concurrent;	      /* one host thread per simulated CPU the workload uses */
	enum kmm_sim_swap_io swap_io; /* concurrent mode only: who reads swap */
	const char *out_dir;	      /* NULL: write no output directory */
	unsigned long snapshot_every; /* also snapshot /proc every N operations (0: never) */
	FILE *log;		      /* progress and the summary; NULL: silent */
	const char *trace_events;     /* trace events (a glob list) into out_dir/trace.txt */
	bool boot_log;		      /* echo the boot log to @log */
	bool fail_on_oom;	      /* stop the run (-ENOMEM) when memory runs out */
	bool progress;		      /* a progress bar on @log (when it is a terminal) */
	bool no_report;		      /* with out_dir: no report.html */
	const char *variant_label;    /* the report's name for this run (kmm compare) */
	struct kmm_buf *report_data;  /* with out_dir: receives the report's data (JSON) */
};

/* Figures of a finished run (deterministic ones; wall-clock separately). */
struct kmm_sim_result {
	uint64_t ops;	       /* operations executed (repeat bodies counted each pass) */
	uint64_t alloc_calls;  /* page blocks asked for */
	uint64_t alloc_failed; /* of which the allocator returned NULL */
	uint64_t pages_allocated;
	uint64_t pages_freed;
	uint64_t blocks_freed;
	uint64_t objects_allocated; /* kmalloc and kmem_cache_alloc objects */
	uint64_t objects_freed;
	uint64_t bytes_requested; /* the sizes those objects were asked with */
	uint64_t snapshots;
	double seconds; /* wall-clock of the operations (not deterministic) */
	/* Tasks and the machine at the end (vmstat's events). */
	uint64_t accesses;   /* pages touched by touch operations */
	uint64_t oom_faults; /* faults and calls that found no memory */
	uint64_t pgfault, pgmajfault, pgscan, pgsteal, pswpin, pswpout;
	unsigned long free_pages_end;
	/* Host bytes of the mechanisms' own data (memory map, page tables, slab). */
	uint64_t memmap_bytes, buddy_map_bytes, pagetable_pages, slab_bytes;
	uint64_t rmap_peak_bytes; /* reverse-mapping objects at their most (after a task op) */
};

/*
 * Boot the workload's machine and run it. The workload must have passed
 * kmm_workload_check() and kmm_workload_supported(). Returns 0, or a
 * negative errno with a message in @err (the machine cannot boot, the
 * output directory cannot be written, a sysctl or validate failed).
 */
int kmm_workload_run(struct kmm_workload *w, const struct kmm_sim_opts *opts,
		     struct kmm_sim_result *res, struct kmm_error *err);

/*
 * Run @w once per design variant and print the figures side by side to
 * @out (if not NULL). @specs holds @nspecs "KEY=A,B,..." (KEY: model,
 * buddy, rmap; several keys give every combination); with none, the
 * workload's own `variant` lines. With @opts->out_dir, each run writes
 * DIR/KEY=A/ and DIR/report.html holds them all with the table. Returns 0
 * or a negative errno with the message in @err.
 */
int kmm_workload_compare(struct kmm_workload *w, const char *const *specs, int nspecs,
			 const struct kmm_sim_opts *opts, FILE *out, struct kmm_error *err);
/* The keys kmm_workload_compare() takes, for messages. */
const char *kmm_compare_keys(void);

/* --- Memory-access traces ------------------------------------------------------------- */

enum kmm_memtrace_format {
	KMM_MEMTRACE_AUTO,   /* reading: decide from the first bytes */
	KMM_MEMTRACE_LACKEY, /* valgrind --tool=lackey --trace-mem=yes text */
	KMM_MEMTRACE_BINARY, /* kmm's compact binary format (docs/traces.md) */
	KMM_MEMTRACE_REFS,   /* "R PAGE" / "W PAGE" lines */
};

/* What a record is: lackey's I, L, S and M. */
enum kmm_memtrace_kind {
	KMM_MEMTRACE_INSTR = 0,	 /* instruction fetch */
	KMM_MEMTRACE_LOAD = 1,	 /* data load */
	KMM_MEMTRACE_STORE = 2,	 /* data store */
	KMM_MEMTRACE_MODIFY = 3, /* load and store of the same bytes */
};

struct kmm_memtrace_rec {
	uint64_t addr;
	uint32_t size; /* bytes; a page reference has size 1 */
	uint32_t kind; /* enum kmm_memtrace_kind */
};

struct kmm_memtrace_reader;

/*
 * Open a trace file ("-" reads stdin) in @fmt, or the format its first
 * bytes show for KMM_MEMTRACE_AUTO. Returns 0 or -errno with a message.
 */
int kmm_memtrace_open(const char *path, enum kmm_memtrace_format fmt,
		      struct kmm_memtrace_reader **out, struct kmm_error *err);
/* The same over bytes in memory (not copied: they must outlive the reader). */
int kmm_memtrace_open_mem(const void *data, size_t len, const char *name,
			  enum kmm_memtrace_format fmt, struct kmm_memtrace_reader **out,
			  struct kmm_error *err);
/*
 * Decode up to @max records. Returns how many (0 at the end of the trace),
 * or a negative errno with "FILE:LINE: ..." (text) or "FILE: byte N: ..."
 * (binary) in @err; the reader is then stuck at that error.
 */
long kmm_memtrace_read(struct kmm_memtrace_reader *r, struct kmm_memtrace_rec *recs, size_t max,
		       struct kmm_error *err);
enum kmm_memtrace_format kmm_memtrace_format(const struct kmm_memtrace_reader *r);
/* Records decoded so far. */
uint64_t kmm_memtrace_count(const struct kmm_memtrace_reader *r);
void kmm_memtrace_close(struct kmm_memtrace_reader *r);

/*
 * Call @fn for every page each record touches (a record that crosses a
 * page boundary touches two), in order: @write is true for stores and
 * modifies. Returns 0, or the reader's error.
 */
typedef void (*kmm_memtrace_page_fn)(void *arg, uint64_t page, bool write);
int kmm_memtrace_for_each_page(struct kmm_memtrace_reader *r, kmm_memtrace_page_fn fn, void *arg,
			       struct kmm_error *err);
/* The same for records already read. */
void kmm_memtrace_pages(const struct kmm_memtrace_rec *recs, size_t n, kmm_memtrace_page_fn fn,
			void *arg);

struct kmm_memtrace_writer;

/* Create @path ("-": stdout) for writing in @fmt (not AUTO). */
int kmm_memtrace_create(const char *path, enum kmm_memtrace_format fmt,
			struct kmm_memtrace_writer **out, struct kmm_error *err);
int kmm_memtrace_write(struct kmm_memtrace_writer *w, const struct kmm_memtrace_rec *recs, size_t n,
		       struct kmm_error *err);
/* Finish the file (the binary trailer), close it and free @w; 0 or -errno. */
int kmm_memtrace_finish(struct kmm_memtrace_writer *w, struct kmm_error *err);

/* "lackey", "binary", "refs" <-> the format; parse returns -1 if unknown. */
const char *kmm_memtrace_format_name(enum kmm_memtrace_format fmt);
int kmm_memtrace_format_parse(const char *name);

/* --- Page-reference simulation ------------------------------------------------------------- */

/*
 * Page faults a reference string @refs[0..n) takes with @frames page
 * frames, starting empty, under exact LRU and under Belady's OPT (evict the
 * page used farthest in the future). Each returns 0 with the count in
 * *@faults, or -ENOMEM (host memory) / -EINVAL (@frames == 0).
 */
int kmm_refsim_lru(const uint64_t *refs, size_t n, size_t frames, uint64_t *faults);
int kmm_refsim_opt(const uint64_t *refs, size_t n, size_t frames, uint64_t *faults);
/*
 * LRU faults for several frame counts in one pass (Mattson's stack
 * distances): @faults[i] for @frames[i]. Same returns.
 */
int kmm_refsim_lru_multi(const uint64_t *refs, size_t n, const size_t *frames, size_t nframes,
			 uint64_t *faults);
/* Distinct pages in @refs; (size_t)-1 on host memory failure. */
size_t kmm_refsim_distinct(const uint64_t *refs, size_t n);

/* --- Trace replay ---------------------------------------------------------------------- */

struct kmm_replay_opts {
	const struct kmm_config *cfg;	 /* the machine (kmm_config_init + options) */
	enum kmm_memtrace_format format; /* KMM_MEMTRACE_AUTO: from the first bytes */
	uint64_t swap_bytes;	 /* a swap file of this size in a temporary directory (0: none) */
	const char *out_dir;	 /* as kmm_workload_run's (NULL: none) */
	uint64_t snapshot_every; /* also snapshot every N page references */
	bool fail_on_oom;	 /* stop (-ENOMEM) at the first reference that finds no page */
	bool no_report;		 /* with out_dir: no report.html */
};

struct kmm_replay_result {
	uint64_t records;	 /* trace records read */
	uint64_t refs;		 /* page references made (a record may touch two pages) */
	uint64_t distinct_pages; /* distinct pages in the trace */
	uint64_t vmas, mapped_pages;
	uint64_t outside_pages, outside_refs; /* outside the user address space: skipped */
	uint64_t minflt, majflt;	      /* the task's faults */
	uint64_t oom_faults;		      /* references whose fault found no page */
	uint64_t pgscan, pgsteal, pswpin, pswpout;
	unsigned long free_pages_end;
	uint64_t snapshots;
	double seconds; /* wall-clock of the references */
};

/*
 * Replay @trace into one task of a machine booted from @o->cfg: map
 * anonymous memory over every page the trace touches, then make each
 * page reference in order (docs/traces.md). Returns 0, or a negative
 * errno with the message in @err (a bad trace, a machine that cannot
 * boot, -ENOMEM with fail_on_oom).
 */
int kmm_replay(const char *trace, const struct kmm_replay_opts *o, struct kmm_replay_result *res,
	       struct kmm_error *err);

#endif /* KMM_SIM_H */
