/*
 * The workload program: what the parser builds, the checker validates and
 * the executor runs. Internal to sim/ (and its tests).
 *
 * A program is a flat array of typed operations in source order. Blocks
 * are explicit operations: PHASE ... END_PHASE and REPEAT ... END_REPEAT,
 * each end holding the index of its begin and each begin the index of its
 * end, so an executor walks the array with a small stack of repeat
 * counters and never re-parses. Every name (task, region, pool, cache,
 * file, phase) is resolved to a slot number in its table; a slot is one
 * name, whose object the executor creates and destroys as the program
 * runs (a task name can be spawned again after it exits).
 *
 * Regions belong to a task: the region slot of "heap" in task "web" is
 * not the one of "heap" in task "child". A fork copies every region of the
 * parent to the child's slot of the same name: the parser creates those
 * slots and the fork operation lists the pairs.
 */
#ifndef KMM_SIM_WORKLOAD_H
#define KMM_SIM_WORKLOAD_H

#include <kmm/kmm.h>
#include <kmm/sim.h>

#define WL_PAGE_SIZE   4096UL
/* Largest user mapping: x86_64's 47-bit user address space. */
#define WL_MAX_MAP     (1ULL << 47)
/* Linux 6.1 KMALLOC_MAX_SIZE with 4 KiB pages and MAX_ORDER 11: 4 MiB. */
#define WL_KMALLOC_MAX (1ULL << 22)
/* Blocks and nesting, so that a hostile workload cannot exhaust the checker. */
#define WL_MAX_DEPTH   16
#define WL_MAX_COUNT   (1ULL << 40)
/* mkswap refuses areas of fewer than 10 pages. */
#define WL_MIN_SWAP    (10 * WL_PAGE_SIZE)
#define WL_MAX_CHOICES 64

struct wl_loc {
	int line, col;
};

/*
 * The operations, with the name the language spells them and the layer
 * that executes them (for "not supported yet" messages; see exec.c).
 */
#define WL_OPS(X)                              \
	X(PHASE, "phase")                      \
	X(END_PHASE, "end")                    \
	X(REPEAT, "repeat")                    \
	X(END_REPEAT, "end")                   \
	X(SPAWN, "spawn")                      \
	X(MMAP, "mmap")                        \
	X(MUNMAP, "munmap")                    \
	X(MPROTECT, "mprotect")                \
	X(MADVISE, "madvise")                  \
	X(MLOCK, "mlock")                      \
	X(MUNLOCK, "munlock")                  \
	X(MLOCKALL, "mlockall")                \
	X(MUNLOCKALL, "munlockall")            \
	X(BRK, "brk")                          \
	X(TOUCH, "touch")                      \
	X(FILE_WRITE, "write")                 \
	X(FILE_READ, "read")                   \
	X(FORK, "fork")                        \
	X(EXEC, "exec")                        \
	X(EXIT, "exit")                        \
	X(CACHE_CREATE, "kmem_cache_create")   \
	X(CACHE_DESTROY, "kmem_cache_destroy") \
	X(CACHE_ALLOC, "kmem_cache_alloc")     \
	X(KMALLOC, "kmalloc")                  \
	X(ALLOC_PAGES, "alloc_pages")          \
	X(FREE, "free")                        \
	X(CHURN, "churn")                      \
	X(SYSCTL, "sysctl")                    \
	X(DRAIN, "drain")                      \
	X(VALIDATE, "validate")                \
	X(SNAPSHOT, "snapshot")                \
	X(ECHO, "echo")

enum wl_op_kind {
#define X(k, name) WL_OP_##k,
	WL_OPS(X)
#undef X
	WL_NR_OPS
};
extern const char *const wl_op_names[WL_NR_OPS];

/* Operations that act on a task (written "TASK: op ..."). */
static inline bool wl_op_is_task(enum wl_op_kind k)
{
	return k >= WL_OP_MMAP && k <= WL_OP_EXIT;
}

/* mlockall flags (Linux's MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT). */
#define WL_MCL_CURRENT 1u
#define WL_MCL_FUTURE  2u
#define WL_MCL_ONFAULT 4u

#define WL_PROT_READ  1u
#define WL_PROT_WRITE 2u
#define WL_PROT_EXEC  4u

/* madvise advice, as Linux names them (MADV_*). */
#define WL_ADVICE(X)                      \
	X(NORMAL, "normal")               \
	X(RANDOM, "random")               \
	X(SEQUENTIAL, "sequential")       \
	X(WILLNEED, "willneed")           \
	X(DONTNEED, "dontneed")           \
	X(FREE, "free")                   \
	X(REMOVE, "remove")               \
	X(COLD, "cold")                   \
	X(PAGEOUT, "pageout")             \
	X(HUGEPAGE, "hugepage")           \
	X(NOHUGEPAGE, "nohugepage")       \
	X(POPULATE_READ, "populate_read") \
	X(POPULATE_WRITE, "populate_write")

enum wl_advice {
#define X(k, name) WL_MADV_##k,
	WL_ADVICE(X)
#undef X
	WL_NR_ADVICE
};
extern const char *const wl_advice_names[WL_NR_ADVICE];

enum wl_pattern {
	WL_PAT_SEQ,    /* each page in order */
	WL_PAT_RANDOM, /* uniform over the pages */
	WL_PAT_STRIDE, /* every stride bytes, wrapping */
	WL_PAT_ZIPF,   /* page k (from the start) with probability ~ 1/k^s */
	WL_PAT_LOOP,   /* sequential sweeps, repeated */
};

enum wl_access {
	WL_READ,
	WL_WRITE,
	WL_MIXED, /* write_pct percent of accesses write */
};

enum wl_pool_kind {
	WL_POOL_NONE,
	WL_POOL_PAGES,	 /* alloc_pages: blocks of 2^order pages */
	WL_POOL_KMALLOC, /* kmalloc objects */
	WL_POOL_CACHE,	 /* objects of one kmem cache */
};

enum wl_pick {
	WL_PICK_FIFO, /* oldest first */
	WL_PICK_LIFO, /* newest first */
	WL_PICK_RANDOM,
};

/* A distribution of sizes (kmalloc) or orders (alloc_pages). */
enum wl_dist_kind {
	WL_DIST_FIXED,	 /* lo */
	WL_DIST_UNIFORM, /* uniform in [lo, hi] */
	WL_DIST_POW2,	 /* a power of two in [lo, hi], each power equally likely */
	WL_DIST_CHOICE,	 /* values[i] with weight weights[i] */
	WL_DIST_EXP,	 /* exponential with mean `mean`, rounded up, at most hi */
};

struct wl_dist {
	enum wl_dist_kind kind;
	uint64_t lo, hi;
	double mean;
	uint32_t n;
	uint64_t values[WL_MAX_CHOICES];
	uint64_t cumweight[WL_MAX_CHOICES]; /* running sums of the weights */
};

/* A range of a region: [start, end), or [start, size of the region) if open. */
struct wl_range {
	uint64_t start, end;
	bool open_end; /* written "[A..]" or with no brackets */
};

struct wl_op {
	enum wl_op_kind kind;
	struct wl_loc loc;	       /* the operation's keyword */
	struct wl_loc loc2;	       /* its main argument, for messages */
	int task;		       /* task ops: task slot; else -1 */
	int cpu;		       /* kernel ops: the CPU (default 0) */
	struct wl_loc task_at;	       /* task ops: the task's name */
	struct wl_loc cpu_at, node_at; /* where cpu= and node= were given (0: not given) */
	union {
		struct {
			int name; /* phase slot */
			uint32_t end;
		} phase;
		struct {
			uint64_t count;
			uint32_t end;
		} repeat;
		struct {
			uint32_t begin;
		} end;
		struct {
			int cpu, node; /* -1: not given */
		} spawn;
		struct {
			int region;
			uint64_t size;
			int file; /* -1: anonymous */
			uint64_t offset;
			unsigned int prot;
			bool shared, populate;
		} mmap;
		struct {
			int region;
			struct wl_range range;
			unsigned int prot; /* mprotect */
			enum wl_advice advice;
			bool onfault; /* mlock: MLOCK_ONFAULT */
		} area;		      /* munmap, mprotect, madvise, mlock, munlock */
		struct {
			unsigned int flags; /* WL_MCL_*: Linux's MCL_* values */
		} mlockall;
		struct {
			int region; /* the task's "brk" region */
			uint64_t size;
		} brk;
		struct {
			int region;
			struct wl_range range;
			enum wl_access access;
			unsigned int write_pct;
			enum wl_pattern pattern;
			uint64_t stride;
			double zipf_s;
			uint64_t loops;
			uint64_t count; /* 0: the pattern's default */
		} touch;
		struct {
			int file;	     /* file slot */
			uint64_t start, end; /* bytes of the file, page-aligned */
			uint64_t chunk;	     /* bytes per read(2)/write(2) call */
		} fileio;		     /* FILE_WRITE, FILE_READ */
		struct {
			int child;
			int cpu;	     /* -1: the parent's */
			uint32_t first_pair; /* into program.fork_pairs */
			uint32_t npairs;
		} fork;
		struct {
			int cache;
			uint64_t size, align;
			bool hwcache_align;
		} cache;
		struct {
			int pool;
			int cache; /* CACHE_ALLOC */
			struct wl_dist *dist;
			uint64_t count;
			gfp_t gfp;
			int node; /* -1: the CPU's */
		} alloc;
		struct {
			int pool;
			uint64_t count;
			bool all;
			enum wl_pick pick;
		} free;
		struct {
			int pool;
			uint64_t steps;
			unsigned int free_pct;
		} churn;
		struct {
			char *name, *value;
		} sysctl;
		struct {
			char *text; /* echo text, snapshot label (may be NULL) */
		} echo;
	} u;
};

/* One (parent region, child region) pair a fork copies. */
struct wl_pair {
	int from, to;
};

struct wl_task {
	char *name;
	struct wl_loc first; /* where it is first spawned or forked */
};

struct wl_region {
	char *name;
	int task;
};

struct wl_pool {
	char *name;
	enum wl_pool_kind kind; /* from the first allocation that names it */
	int cache;		/* WL_POOL_CACHE: the cache of that allocation */
	struct wl_loc kind_at;
	uint32_t first_alloc; /* op index of that allocation (what churn repeats at first) */
};

struct wl_named {
	char *name;
	struct wl_loc at;
	uint64_t size; /* files: bytes; swaps: bytes */
	int prio;      /* swaps: priority (-1: Linux's default) */
};

struct wl_variant {
	char key[24];
	char *values[8];
	int nvalues;
	struct wl_loc at;
};

struct wl_program {
	char *filename; /* for messages */
	char *dir;	/* relative paths in the workload start here */
	struct kmm_config cfg;
	bool cfg_finished;
	uint64_t seed;
	bool seed_given;
	struct wl_loc machine_at; /* the first machine line (0: none) */
	bool checked;

	struct wl_op *ops;
	size_t nops, ops_cap;
	struct wl_task *tasks;
	size_t ntasks, tasks_cap;
	struct wl_region *regions;
	size_t nregions, regions_cap;
	struct wl_pool *pools;
	size_t npools, pools_cap;
	struct wl_named *caches;
	size_t ncaches, caches_cap;
	struct wl_named *files;
	size_t nfiles, files_cap;
	struct wl_named *swaps;
	size_t nswaps, swaps_cap;
	struct wl_named *phases;
	size_t nphases, phases_cap;
	struct wl_variant *variants;
	size_t nvariants, variants_cap;
	struct wl_pair *fork_pairs;
	size_t npairs, pairs_cap;
	/* Kernel ops name CPUs: the highest one, for the concurrent executor. */
	int max_cpu;
};

/* The opaque public handle is the program. */
struct kmm_workload {
	struct wl_program p;
};

/* --- Lexer (workload_lex.c) ------------------------------------------------------------- */

enum wl_tok_kind {
	WL_T_EOF,
	WL_T_EOL, /* end of a statement: newline or ';' */
	WL_T_WORD,
	WL_T_NUMBER,
	WL_T_STRING,
	WL_T_COLON,
	WL_T_EQUALS,
	WL_T_COMMA,
	WL_T_LPAREN,
	WL_T_RPAREN,
	WL_T_LBRACKET,
	WL_T_RBRACKET,
	WL_T_DOTDOT,
	WL_T_BAD, /* a character no token starts with; the error is in the lexer */
};

struct wl_token {
	enum wl_tok_kind kind;
	const char *s; /* the text as written */
	size_t len;
	struct wl_loc at;
	/* WL_T_NUMBER */
	uint64_t u;    /* the value, if integral */
	double d;      /* the value */
	bool integral; /* no fraction (or a suffix made it whole) */
	bool percent;  /* written with a '%' */
	/* WL_T_STRING: the text between the quotes, unescaped (owned by the lexer) */
	char *str;
};

struct wl_lexer {
	const char *src;
	size_t len, pos;
	int line;
	size_t line_start;
	const char *filename;
	/* One token of lookahead. */
	struct wl_token peeked;
	bool have_peeked;
	/* Strings handed out, freed with the lexer. */
	char **strings;
	size_t nstrings, strings_cap;
	/* The first lexing error (a bad number, an unterminated string). */
	char msg[400];
	bool failed;
	bool oom;
};

void wl_lex_init(struct wl_lexer *lx, const char *src, size_t len, const char *filename);
void wl_lex_free(struct wl_lexer *lx);
/* The next token (WL_T_BAD after a lexing error: lx->msg says what). */
struct wl_token wl_lex_next(struct wl_lexer *lx);
struct wl_token wl_lex_peek(struct wl_lexer *lx);
/*
 * A blank-separated word or a quoted string, whatever its characters (the
 * options of a `machine` line). Returns WL_T_EOL/EOF at the end.
 */
struct wl_token wl_lex_raw(struct wl_lexer *lx);
/*
 * Whether the next character after blanks is ':' (a task prefix), without
 * lexing a token: a `machine` or `sysctl` line must not be lexed normally.
 */
bool wl_lex_colon_follows(struct wl_lexer *lx);
/* Skip to the end of the current statement (after an error at the prompt). */
void wl_lex_skip_statement(struct wl_lexer *lx);
/* How messages show a token: 'text', "end of line", "end of file". */
const char *wl_tok_describe(const struct wl_token *t, char *buf, size_t len);

/* --- Parser, checker, dump -------------------------------------------------------------- */

int wl_parse(struct wl_program *p, const char *text, size_t len, struct kmm_error *err);
int wl_check(struct wl_program *p, struct kmm_error *err);
void wl_program_free(struct wl_program *p);
void wl_dump(const struct wl_program *p, struct kmm_buf *out);
void wl_dist_describe(const struct wl_dist *d, char *buf, size_t len);
/* "FILE:LINE:COL: " + message, into @err; returns -EINVAL. */
__kmm_printf(4, 5) int wl_error(struct kmm_error *err, const struct wl_program *p, struct wl_loc at,
				const char *fmt, ...);

/* A byte count as the language writes it: 4K, 64M, 4097. */
void wl_size_str(uint64_t v, char *buf, size_t len);
/* Sample a distribution (exec). */
uint64_t wl_dist_sample(const struct wl_dist *d, struct kmm_rng *rng);

/* --- Executor capabilities (exec.c) ------------------------------------------------------ */

/* NULL if the executor runs @kind, else the layer it needs ("the slab layer"). */
const char *sim_op_needs(enum wl_op_kind kind);
/* NULL if madvise @advice runs, else what it needs (exec_task.c). */
const char *sim_madvise_needs(enum wl_advice advice);

#endif /* KMM_SIM_WORKLOAD_H */
