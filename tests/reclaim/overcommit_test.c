/*
 * Overcommit: tasks touch twice the machine's RAM — anonymous memory and a
 * shared file mapping — with fork (copy-on-write) in the mix and swap on,
 * in deterministic and in concurrent mode; then every byte of every task
 * and of the file is checked against a shadow of what was written. Also
 * with injected swap write errors (nothing may be lost) and read errors
 * (only the faulting task dies, with SIGBUS; the others stay intact), and
 * determinism: one seed, one set of counters.
 *
 * Each page's content is a function of (owner, page, version): the shadow
 * keeps only versions. The file's pages are split between the CPUs so
 * that concurrent writers never race on one page.
 *
 * KMM_TEST_CONCURRENT
 */
#include "reclaim_util.h"
#include <kmm/random.h>
#include <kmm/fault_inject.h>

#define MiB	      (1UL << 20)
#define MAX_TASKS     8
#define NCPUS	      2
#define ANON_PER_TASK (24 * MiB)
#define FILE_SIZE     (32 * MiB)
#define RW	      (KMM_PROT_READ | KMM_PROT_WRITE)
/* Sanitizers slow every access several times: fewer random steps there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STEPS 5000
#else
#define STEPS 20000
#endif

struct vtask {
	struct kmm_task *t;
	int id; /* owner id in the pattern */
	int cpu;
	bool dead; /* killed by a signal (read errors) */
	unsigned long anon;
	uint32_t *ver;	/* per anon page; 0: never written */
	uint32_t *base; /* the owner id whose pattern a page holds (a fork child inherits) */
};

struct world {
	struct kmm_machine *m;
	struct vtask tasks[MAX_TASKS];
	int nr_tasks;
	int next_id;
	unsigned long file_addr; /* the same in every task (fork keeps it) */
	uint32_t *file_ver;
	struct kmm_file *file;
	char path[64];
	char swap[64];
	uint64_t seed;
	struct kmm_rng rnd[NCPUS];
	unsigned long steps_left[NCPUS];
	unsigned long anon_pages, file_pages;
	bool allow_sigbus;
	int failed; /* set by a CPU's step on a mismatch */
	unsigned long forks;
};

static void fill(uint64_t *w, uint64_t seed, unsigned int owner, unsigned long page, uint32_t ver)
{
	uint64_t x = seed ^ ((uint64_t)owner << 48) ^ ((uint64_t)page << 20) ^ ver;
	x *= 0x9e3779b97f4a7c15ULL;
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = x + i * 0xbf58476d1ce4e5b9ULL;
}

/* Check @len bytes read from page @page against (owner, version); 0 if equal. */
static int check_page(const uint64_t *got, uint64_t seed, unsigned int owner, unsigned long page,
		      uint32_t ver, const char *what)
{
	uint64_t want[PAGE_SIZE / 8];
	if (ver == 0)
		memset(want, 0, sizeof(want));
	else
		fill(want, seed, owner, page, ver);
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
		if (got[i] != want[i]) {
			fprintf(stderr,
				"%s page %lu word %u: %#llx, expected %#llx (owner %u v%u)\n", what,
				page, i, (unsigned long long)got[i], (unsigned long long)want[i],
				owner, ver);
			return -1;
		}
	return 0;
}

/* A task died of a signal (an injected read error): allowed only when reads may fail. */
static int task_died(struct world *w, struct vtask *vt, int r)
{
	const struct kmm_task_signal *sig = kmm_task_signal(vt->t);
	if (w->allow_sigbus && sig->signo == KMM_SIGBUS) {
		vt->dead = true;
		return 0;
	}
	fprintf(stderr, "task %d: access failed (%d), signal %d: %s\n", vt->id, r, sig->signo,
		sig->msg);
	const char *log = w->m->log.data ? w->m->log.data : "";
	size_t len = strlen(log);
	fprintf(stderr, "the end of the kernel log:\n%s\n", log + (len > 3000 ? len - 3000 : 0));
	return -1;
}

static int write_anon(struct world *w, struct vtask *vt, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	vt->ver[page]++;
	vt->base[page] = (uint32_t)vt->id;
	fill(buf, w->seed, vt->id, page, vt->ver[page]);
	int r = kmm_write(vt->t, vt->anon + page * PAGE_SIZE, buf, PAGE_SIZE);
	return r ? task_died(w, vt, r) : 0;
}

static int read_anon(struct world *w, struct vtask *vt, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	int r = kmm_read(vt->t, vt->anon + page * PAGE_SIZE, buf, PAGE_SIZE);
	if (r)
		return task_died(w, vt, r);
	char what[48];
	snprintf(what, sizeof(what), "task %d anon", vt->id);
	return check_page(buf, w->seed, vt->base[page], page, vt->ver[page], what);
}

static int write_file(struct world *w, struct vtask *vt, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	w->file_ver[page]++;
	fill(buf, w->seed, 0xffff, page, w->file_ver[page]);
	int r = kmm_write(vt->t, w->file_addr + page * PAGE_SIZE, buf, PAGE_SIZE);
	return r ? task_died(w, vt, r) : 0;
}

static int read_file(struct world *w, struct vtask *vt, unsigned long page)
{
	uint64_t buf[PAGE_SIZE / 8];
	int r = kmm_read(vt->t, w->file_addr + page * PAGE_SIZE, buf, PAGE_SIZE);
	if (r)
		return task_died(w, vt, r);
	if (w->file_ver[page] == 0) {
		/* Never written by a task: the file's own pattern. */
		for (unsigned int i = 0; i < PAGE_SIZE; i += 97)
			if (((unsigned char *)buf)[i] !=
			    pattern_byte(w->seed, page * PAGE_SIZE + i)) {
				fprintf(stderr,
					"file page %lu byte %u differs from the host file\n", page,
					i);
				return -1;
			}
		return 0;
	}
	return check_page(buf, w->seed, 0xffff, page, w->file_ver[page], "file");
}

/*
 * The next slot of w->tasks, filled in but not yet counted: the caller
 * publishes it with publish_task() once it is complete, because in
 * concurrent mode the other CPUs' steps read the array meanwhile.
 */
static struct vtask *add_task(struct world *w, struct kmm_task *t, int cpu)
{
	struct vtask *vt = &w->tasks[w->nr_tasks];
	vt->t = t;
	vt->id = ++w->next_id;
	vt->cpu = cpu;
	vt->ver = calloc(w->anon_pages, sizeof(*vt->ver));
	vt->base = calloc(w->anon_pages, sizeof(*vt->base));
	return vt;
}

static void publish_task(struct world *w)
{
	__atomic_store_n(&w->nr_tasks, w->nr_tasks + 1, __ATOMIC_RELEASE);
}

/* fork: the child's shadow is the parent's. */
static int do_fork(struct world *w, struct vtask *parent)
{
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(parent->t, parent->cpu, &err);
	if (!c) {
		fprintf(stderr, "fork: %s\n", err.msg);
		return -1;
	}
	struct vtask *vt = add_task(w, c, parent->cpu);
	vt->anon = parent->anon;
	memcpy(vt->ver, parent->ver, w->anon_pages * sizeof(*vt->ver));
	memcpy(vt->base, parent->base, w->anon_pages * sizeof(*vt->base));
	publish_task(w);
	w->forks++;
	return 0;
}

/* One random operation of CPU @cpu on one of its tasks. */
static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct world *w = arg;
	if (__atomic_load_n(&w->failed, __ATOMIC_RELAXED) || !w->steps_left[cpu])
		return false;
	w->steps_left[cpu]--;
	struct kmm_rng *rnd = &w->rnd[cpu];
	/* This CPU's live tasks. */
	struct vtask *mine[MAX_TASKS];
	int n = 0;
	int nr_tasks = __atomic_load_n(&w->nr_tasks, __ATOMIC_ACQUIRE);
	for (int i = 0; i < nr_tasks; i++)
		if (w->tasks[i].cpu == cpu && !w->tasks[i].dead)
			mine[n++] = &w->tasks[i];
	if (!n)
		return false;
	struct vtask *vt = mine[kmm_rng_below(rnd, (uint64_t)n)];
	uint32_t op = kmm_rng_below(rnd, 100);
	unsigned long apage = kmm_rng_below(rnd, (uint64_t)w->anon_pages);
	/* File pages of this CPU: idx % NCPUS == cpu. */
	unsigned long fpage =
	    kmm_rng_below(rnd, (uint64_t)(w->file_pages / NCPUS)) * NCPUS + (unsigned long)cpu;
	int r = 0;
	if (op < 40)
		r = write_anon(w, vt, apage);
	else if (op < 70)
		r = read_anon(w, vt, apage);
	else if (op < 82)
		r = write_file(w, vt, fpage);
	else if (op < 97)
		r = read_file(w, vt, fpage);
	else if (op < 98 && cpu == 0 && nr_tasks < MAX_TASKS && w->forks < 4)
		r = do_fork(w, vt); /* only CPU 0 adds tasks and counts forks */
	if (r)
		__atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
	return !__atomic_load_n(&w->failed, __ATOMIC_RELAXED);
}

static int world_setup(struct world *w, const char *opts_extra)
{
	char opts[256];
	memset(w, 0, sizeof(*w));
	w->seed = kmm_test_seed;
	snprintf(w->swap, sizeof(w->swap), "/tmp/kmm-oc-%d-%llx.swap", getpid(),
		 (unsigned long long)w->seed);
	snprintf(opts, sizeof(opts), "--mem 64M --cpus %d --seed %llu --swap %s:256M %s", NCPUS,
		 (unsigned long long)w->seed, w->swap, opts_extra);
	w->m = vm_boot(opts);
	if (!w->m)
		return -1;
	w->anon_pages = ANON_PER_TASK / PAGE_SIZE;
	w->file_pages = FILE_SIZE / PAGE_SIZE;
	w->file_ver = calloc(w->file_pages, sizeof(*w->file_ver));
	if (make_pattern_file(w->path, sizeof(w->path), FILE_SIZE, w->seed))
		return -1;
	struct kmm_error err = {0};
	w->file = kmm_file_open(w->m, w->path, KMM_O_RDWR, 0, &err);
	if (!w->file)
		return -1;
	for (int c = 0; c < NCPUS; c++)
		kmm_rng_seed(&w->rnd[c], w->seed + (uint64_t)c * 7919);
	/* Two tasks per CPU, each with its anonymous area and the shared file. */
	for (int i = 0; i < 2 * NCPUS; i++) {
		struct kmm_task *t = vm_task(w->m, "oc", i % NCPUS);
		if (!t)
			return -1;
		struct vtask *vt = add_task(w, t, i % NCPUS);
		publish_task(w);
		long a =
		    kmm_mmap(t, 0, ANON_PER_TASK, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		long f = kmm_mmap(t, 0, FILE_SIZE, RW, KMM_MAP_SHARED, w->file, 0);
		if (a < 0 || f < 0)
			return -1;
		vt->anon = (unsigned long)a;
		if (i == 0)
			w->file_addr = (unsigned long)f;
		else if ((unsigned long)f != w->file_addr)
			return -1; /* every task has the same layout */
	}
	/* First touch: every anonymous page and the whole file: 2x RAM. */
	for (int i = 0; i < w->nr_tasks; i++)
		for (unsigned long p = 0; p < w->anon_pages; p++)
			if (write_anon(w, &w->tasks[i], p))
				return -1;
	for (unsigned long p = 0; p < w->file_pages; p++)
		if (read_file(w, &w->tasks[p % w->nr_tasks], p))
			return -1;
	return 0;
}

/* Every byte of every live task and of the file, through the tasks and on the host. */
static int world_check(struct world *w)
{
	for (int i = 0; i < w->nr_tasks; i++) {
		struct vtask *vt = &w->tasks[i];
		for (unsigned long p = 0; p < w->anon_pages && !vt->dead; p++)
			if (read_anon(w, vt, p))
				return -1;
	}
	struct vtask *any = NULL;
	for (int i = 0; i < w->nr_tasks; i++)
		if (!w->tasks[i].dead)
			any = &w->tasks[i];
	if (!any)
		return 0;
	for (unsigned long p = 0; p < w->file_pages; p++)
		if (read_file(w, any, p))
			return -1;
	/* msync writes the shared file back: the host file must hold the same. */
	if (kmm_msync(any->t, w->file_addr, FILE_SIZE, KMM_MS_SYNC))
		return -1;
	int fd = open(w->path, O_RDONLY);
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = 0; p < w->file_pages; p++) {
		if (pread(fd, buf, PAGE_SIZE, (off_t)(p * PAGE_SIZE)) != (ssize_t)PAGE_SIZE)
			return -1;
		if (w->file_ver[p] &&
		    check_page(buf, w->seed, 0xffff, p, w->file_ver[p], "host file")) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

static void world_teardown(struct world *w)
{
	for (int i = 0; i < w->nr_tasks; i++) {
		kmm_task_reap(w->tasks[i].t);
		free(w->tasks[i].ver);
		free(w->tasks[i].base);
	}
	if (w->file)
		kmm_file_close(w->file);
	if (w->m)
		kmm_machine_destroy(w->m);
	free(w->file_ver);
	unlink(w->path);
	unlink(w->swap);
}

struct oc_opts {
	enum kmm_run_mode mode;
	unsigned long steps;
	const char *fail_write; /* kmm_fault_attr spec for swap writes, or NULL */
	enum kmm_swap_write_fault write_kind;
	const char *fail_read;
	struct kmm_buf *vmstat_out; /* the final /proc/vmstat, for determinism */
};

static void run_overcommit(const struct oc_opts *o)
{
	struct world *w = calloc(1, sizeof(*w));
	expect_int_eq(world_setup(w, ""), 0);
	expect_all_valid(w->m);
	struct kmm_error err = {0};
	if (o->fail_write) {
		kmm_swap_set_write_fault(w->m, o->write_kind);
		expect_int_eq(kmm_fault_attr_parse(kmm_swap_fail_write(w->m), o->fail_write, &err),
			      0);
	}
	if (o->fail_read) {
		expect_int_eq(kmm_fault_attr_parse(kmm_swap_fail_read(w->m), o->fail_read, &err),
			      0);
		w->allow_sigbus = true;
	}
	if (o->mode == KMM_RUN_DETERMINISTIC) {
		/* In rounds, with every checker between them. */
		for (int round = 0; round < 10 && !w->failed; round++) {
			for (int c = 0; c < NCPUS; c++)
				w->steps_left[c] = o->steps / 10;
			expect_int_eq(kmm_run(w->m, o->mode, step, w), 0);
			kmm_task_switch_out(w->m);
			expect_all_valid(w->m);
		}
	} else {
		for (int c = 0; c < NCPUS; c++)
			w->steps_left[c] = o->steps;
		kmm_task_switch_out(w->m); /* the CPU threads need every CPU free */
		expect_int_eq(kmm_run(w->m, o->mode, step, w), 0);
		kmm_task_switch_out(w->m);
	}
	expect_int_eq(w->failed, 0);
	/* Reads fail no more: the survivors must read back everything. */
	kmm_swap_fail_read(w->m)->enabled = false;
	expect_all_valid(w->m);
	expect_int_eq(world_check(w), 0);
	long out = vmstat(w->m, "pswpout"), in = vmstat(w->m, "pswpin");
	struct kmm_swap_totals tot;
	kmm_swap_totals(w->m, &tot);
	int dead = 0;
	for (int i = 0; i < w->nr_tasks; i++)
		dead += w->tasks[i].dead;
	printf("%s: %lu forks, %d killed, pswpout %ld pswpin %ld pgsteal_anon %ld pgsteal_file "
	       "%ld pgsteal_kswapd %ld pgsteal_direct %ld pgmajfault %ld, swap write errors %lu "
	       "read errors %lu\n",
	       o->mode == KMM_RUN_DETERMINISTIC ? "deterministic" : "concurrent", w->forks, dead,
	       out, in, vmstat(w->m, "pgsteal_anon"), vmstat(w->m, "pgsteal_file"),
	       vmstat(w->m, "pgsteal_kswapd"), vmstat(w->m, "pgsteal_direct"),
	       vmstat(w->m, "pgmajfault"), tot.write_errors, tot.read_errors);
	/* 2x RAM touched: much went to swap and came back, and file pages were reclaimed. */
	expect_i64_ge(out, (long)(w->anon_pages * 2));
	expect_i64_ge(in, 1000);
	expect_i64_ge(vmstat(w->m, "pgsteal_file"), 1000);
	if (o->fail_write)
		expect_u64_ge(tot.write_errors, 10);
	if (o->fail_read) {
		expect_u64_ge(tot.read_errors, 1);
		/* Only a task whose own fault failed dies (a failed readahead kills nobody). */
		expect_u64_le((uint64_t)dead, tot.read_errors);
		expect_int_ne(dead, w->nr_tasks);
	} else {
		expect_int_eq(dead, 0);
	}
	expect_all_valid(w->m);
	if (o->vmstat_out)
		kmm_show(w->m, "vmstat", o->vmstat_out);
	world_teardown(w);
	free(w);
}

static void test_overcommit_deterministic(void)
{
	struct oc_opts o = {.mode = KMM_RUN_DETERMINISTIC, .steps = STEPS * kmm_test_scale};
	run_overcommit(&o);
}

static void test_overcommit_concurrent(void)
{
	struct oc_opts o = {.mode = KMM_RUN_CONCURRENT, .steps = STEPS * kmm_test_scale};
	run_overcommit(&o);
}

/* Injected write errors (EIO, ENOSPC, short writes) lose nothing. */
static void test_swap_write_errors(void)
{
	static const enum kmm_swap_write_fault kinds[] = {KMM_SWAP_FAULT_EIO, KMM_SWAP_FAULT_SHORT};
	for (unsigned int k = 0; k < KMM_ARRAY_SIZE(kinds); k++) {
		struct oc_opts o = {.mode = KMM_RUN_DETERMINISTIC,
				    .steps = 6000 * kmm_test_scale,
				    .fail_write = "probability=5",
				    .write_kind = kinds[k]};
		run_overcommit(&o);
		if (kmm_test_case_failed)
			return;
	}
}

/*
 * Injected read errors kill the faulting task only; the others read back
 * every byte. The first 8 MiB of swap reads succeed (space=): the swap
 * readahead window shrinks to the faulting page on random access, so most
 * failed reads are a task's own, and errors from the start would kill the
 * tasks before the run has swapped much.
 */
static void test_swap_read_errors(void)
{
	struct oc_opts o = {.mode = KMM_RUN_DETERMINISTIC,
			    .steps = 6000 * kmm_test_scale,
			    .fail_read = "probability=2,times=3,space=8388608"};
	run_overcommit(&o);
}

/* One seed, one run: the counters are byte-identical. */
static void test_determinism(void)
{
	struct kmm_buf a, b;
	kmm_buf_init(&a);
	kmm_buf_init(&b);
	struct oc_opts o = {.mode = KMM_RUN_DETERMINISTIC, .steps = 4000, .vmstat_out = &a};
	run_overcommit(&o);
	o.vmstat_out = &b;
	run_overcommit(&o);
	expect_true(a.len > 1000);
	expect_str_eq(a.data, b.data);
	kmm_buf_free(&a);
	kmm_buf_free(&b);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_overcommit_deterministic);
	run_test(test_overcommit_concurrent);
	run_test(test_swap_write_errors);
	run_test(test_swap_read_errors);
	run_test(test_determinism);
	return kmm_test_done();
}
