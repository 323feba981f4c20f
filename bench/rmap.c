/*
 * bench/rmap: reverse mapping, pte chains (Linux 2.5.27) beside
 * object-based rmap (anon_vma + i_mmap, 2.6.7 on), on one workload.
 *
 * Linux counterpart: the measurements that decided between them in 2003
 * (Martin Bligh's kernbench and SDET runs with partial objrmap: pte_chain
 * slab objects 24,116 -> 716 on make -j256, fork and exit faster; Andrew
 * Morton's rmap-test, the case where objrmap visits many VMAs that do not
 * map the page).
 *
 * Workload: a parent maps M MiB of anonymous memory (written) and M MiB of
 * a shared file mapping (read), then forks N children (N = 1, 4, 16, 64);
 * each child reads the file region, so every file page is mapped N + 1
 * times, and every anonymous page is shared copy-on-write by N + 1 PTEs.
 * For each design and N, the medians over the repetitions of:
 *  - fork: ms per child (copying the anonymous PTEs; ptechain also adds one
 *    chain entry per copied PTE);
 *  - exit: ms per child reaped (unmapping everything it mapped);
 *  - rmap bytes per mapped page: the design's objects (pte_chain blocks, or
 *    anon_vmas and anon_vma_chains) over the 2M/4 KiB pages;
 *  - page_referenced: ns per page, every page of the parent's two regions;
 *  - try_to_unmap: ns per page, every page (the anonymous ones first put in
 *    a stand-in swap cache, as add_to_swap would).
 * Then Morton's worst case: T tasks each map one 1 MiB file V times (T x V
 * VMAs in i_mmap) and touch one page each; page_referenced and
 * try_to_unmap of one page, in microseconds.
 */
#define _GNU_SOURCE
#include "bench.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vm/vm.h"
#include "rmap/rmap.h"
#include <kmm/swapops.h>

#define RW	    (KMM_PROT_READ | KMM_PROT_WRITE)
#define MACHINE	    "--mem %s --nodes 1 --cpus 2 --rmap %s"
#define MAX_N	    64
#define NR_DESIGNS  2
#define NR_NS	    4
#define MORTON_VMAS 64

static const char *const designs[NR_DESIGNS] = {"objrmap", "ptechain"};
static const int ns[NR_NS] = {1, 4, 16, 64};

struct row {
	double fork_ms, exit_ms, bytes_per_page, ref_ns, unmap_ns;
};

struct morton {
	double ref_us, unmap_us;
	unsigned long vmas;
};

static __attribute__((noreturn)) void die(const char *what, const char *msg)
{
	fprintf(stderr, "rmap: %s: %s\n", what, msg);
	exit(1);
}

static struct kmm_machine *boot_mem(const char *design, const char *mem)
{
	char opts[128];
	struct kmm_error err = {0};
	snprintf(opts, sizeof(opts), MACHINE, mem, design);
	struct kmm_machine *m = bench_boot(opts, &err);
	if (!m)
		die("boot", err.msg);
	return m;
}

static struct kmm_machine *boot(const char *design)
{
	return boot_mem(design, "2G");
}

static char file_path[64];

static struct kmm_file *make_file(struct kmm_machine *m, unsigned long bytes)
{
	snprintf(file_path, sizeof(file_path), "/tmp/kmm-bench-rmap-XXXXXX");
	int fd = mkstemp(file_path);
	if (fd < 0 || ftruncate(fd, (off_t)bytes))
		die("file", "cannot create a temporary file");
	char buf[PAGE_SIZE];
	memset(buf, 'r', sizeof(buf));
	for (unsigned long off = 0; off < bytes; off += PAGE_SIZE)
		if (pwrite(fd, buf, PAGE_SIZE, (off_t)off) != (ssize_t)PAGE_SIZE)
			die("file", "cannot write the temporary file");
	close(fd);
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, file_path, KMM_O_RDWR, 0, &err);
	if (!f)
		die("file", err.msg);
	return f;
}

static struct kmm_task *fork_task(struct kmm_task *p, int cpu)
{
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(p, cpu, &err);
	if (!c)
		die("fork", err.msg);
	return c;
}

static struct kmm_page *page_at(struct kmm_task *t, unsigned long addr)
{
	pte_t *ptep = pte_lookup(t->mm, addr);
	if (!ptep || !pte_present(*ptep))
		die("setup", "a touched page is not mapped");
	return pfn_to_page(t->machine, pte_pfn(*ptep));
}

static void touch(struct kmm_task *t, unsigned long a, unsigned long len, int how)
{
	if (kmm_touch(t, a, len, how))
		die("touch", "an access failed");
}

/* One repetition of the N-task workload, its figures in *@r. */
static void one_rep(struct kmm_machine *m, struct kmm_file *f, unsigned long mib, int n,
		    struct row *r, struct kmm_page **pages)
{
	unsigned long len = mib << 20, npages = len / PAGE_SIZE;
	struct kmm_task *p = kmm_task_create(m, "parent", 0, &(struct kmm_error){0});
	if (!p)
		die("task", "cannot create the parent");
	long a = kmm_mmap(p, 0, len, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	long b = kmm_mmap(p, 0, len, KMM_PROT_READ, KMM_MAP_SHARED, f, 0);
	if (a < 0 || b < 0)
		die("mmap", "no room");
	touch(p, (unsigned long)a, len, KMM_TOUCH_WRITE);
	touch(p, (unsigned long)b, len, KMM_TOUCH_READ);
	for (unsigned long i = 0; i < npages; i++) {
		pages[i] = page_at(p, (unsigned long)a + i * PAGE_SIZE);
		pages[npages + i] = page_at(p, (unsigned long)b + i * PAGE_SIZE);
	}

	struct kmm_task *kids[MAX_N];
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < n; i++)
		kids[i] = fork_task(p, i % 2);
	uint64_t t1 = bench_now_ns();
	r->fork_ms = (double)(t1 - t0) / 1e6 / n;
	for (int i = 0; i < n; i++)
		touch(kids[i], (unsigned long)b, len, KMM_TOUCH_READ);
	r->bytes_per_page = (double)rmap_bytes(m) / (2.0 * npages);

	unsigned long flags;
	long seen = 0;
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < 2 * npages; i++)
		seen += page_referenced(m, pages[i], 1, &flags);
	t1 = bench_now_ns();
	bench_keep(&seen);
	r->ref_ns = (double)(t1 - t0) / (2.0 * npages);

	t0 = bench_now_ns();
	for (int i = 0; i < n; i++)
		kmm_task_reap(kids[i]);
	t1 = bench_now_ns();
	r->exit_ms = (double)(t1 - t0) / 1e6 / n;

	/* Again, for try_to_unmap, which takes the mappings away. */
	for (int i = 0; i < n; i++) {
		kids[i] = fork_task(p, i % 2);
		touch(kids[i], (unsigned long)b, len, KMM_TOUCH_READ);
	}
	for (unsigned long i = 0; i < 2 * npages; i++) {
		kmm_get_page(pages[i]);
		lock_page(pages[i]);
		if (i < npages) { /* what add_to_swap does before reclaim unmaps */
			SetPageSwapCache(pages[i]);
			pages[i]->private = swp_entry(0, i + 1).val;
		}
	}
	long unmapped = 0;
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < 2 * npages; i++)
		unmapped += try_to_unmap(m, pages[i], 0);
	t1 = bench_now_ns();
	if (unmapped != (long)(2 * npages))
		die("try_to_unmap", "a page stayed mapped");
	r->unmap_ns = (double)(t1 - t0) / (2.0 * npages);
	for (unsigned long i = 0; i < 2 * npages; i++) {
		if (i < npages) {
			ClearPageSwapCache(pages[i]);
			pages[i]->private = 0;
		}
		unlock_page(pages[i]);
		vm_put_page(m, pages[i]);
	}
	for (int i = 0; i < n; i++)
		kmm_task_reap(kids[i]);
	kmm_task_reap(p);
}

static void measure(const char *design, unsigned long mib, int reps, struct row out[NR_NS])
{
	struct kmm_machine *m = boot(design);
	struct kmm_file *f = make_file(m, mib << 20);
	struct kmm_page **pages = malloc(2 * (mib << 20) / PAGE_SIZE * sizeof(*pages));
	for (int k = 0; k < NR_NS; k++) {
		double v[5][16];
		for (int r = -1; r < reps; r++) { /* one warm-up repetition */
			struct row x;
			one_rep(m, f, mib, ns[k], &x, pages);
			if (r < 0)
				continue;
			v[0][r] = x.fork_ms;
			v[1][r] = x.exit_ms;
			v[2][r] = x.bytes_per_page;
			v[3][r] = x.ref_ns;
			v[4][r] = x.unmap_ns;
		}
		out[k] = (struct row){bench_median(v[0], reps), bench_median(v[1], reps),
				      bench_median(v[2], reps), bench_median(v[3], reps),
				      bench_median(v[4], reps)};
	}
	free(pages);
	kmm_file_close(f);
	unlink(file_path);
	kmm_machine_destroy(m);
}

/*
 * Morton's case: @tasks tasks map one 1 MiB file MORTON_VMAS times each and
 * touch one page in each mapping, at different offsets; the page at offset
 * 0 is mapped by one PTE per task but i_mmap holds tasks x MORTON_VMAS
 * VMAs that cover it.
 */
static struct morton morton(const char *design, int tasks, int reps)
{
	struct kmm_machine *m = boot(design);
	const unsigned long fpages = 256;
	struct kmm_file *f = make_file(m, fpages * PAGE_SIZE);
	double ref[16], unmap[16];
	struct kmm_task *t[MAX_N];
	for (int r = 0; r < reps; r++) {
		for (int i = 0; i < tasks; i++) {
			t[i] = kmm_task_create(m, "morton", i % 2, &(struct kmm_error){0});
			if (!t[i])
				die("task", "cannot create a task");
			for (int v = 0; v < MORTON_VMAS; v++) {
				long a = kmm_mmap(t[i], 0, fpages * PAGE_SIZE, KMM_PROT_READ,
						  KMM_MAP_SHARED, f, 0);
				if (a < 0)
					die("mmap", "no room");
				/* Mapping 0 touches page 0; the others one page each elsewhere. */
				unsigned long pg =
				    v ? 1 + (unsigned long)(v * 3 + i) % (fpages - 1) : 0;
				touch(t[i], (unsigned long)a + pg * PAGE_SIZE, 1, KMM_TOUCH_READ);
			}
		}
		struct kmm_address_space *mapping = f->f_mapping;
		struct kmm_page *page = find_get_page(mapping, 0);
		if (!page || page_mapcount(page) != tasks)
			die("morton", "page 0 is not mapped once per task");
		unsigned long flags;
		/* A first walk brings the VMAs into the cache; the timed ones find them there. */
		if (page_referenced(m, page, 0, &flags) != tasks)
			die("morton", "page_referenced missed a mapping");
		uint64_t t0 = bench_now_ns();
		int seen = page_referenced(m, page, 0, &flags);
		uint64_t t1 = bench_now_ns();
		bench_keep(&seen);
		lock_page(page);
		uint64_t t2 = bench_now_ns();
		bool ok = try_to_unmap(m, page, 0);
		uint64_t t3 = bench_now_ns();
		unlock_page(page);
		vm_put_page(m, page);
		if (!ok)
			die("morton", "try_to_unmap left a mapping");
		ref[r] = (double)(t1 - t0) / 1e3;
		unmap[r] = (double)(t3 - t2) / 1e3;
		for (int i = 0; i < tasks; i++)
			kmm_task_reap(t[i]);
	}
	kmm_file_close(f);
	unlink(file_path);
	kmm_machine_destroy(m);
	return (struct morton){bench_median(ref, reps), bench_median(unmap, reps),
			       (unsigned long)tasks * MORTON_VMAS};
}

/* --- Instruction counts (callgrind): the walk and the fork/exit bookkeeping --------------- */

#define CG_PAGES 1024
#define CG_KIDS	 16

struct cg_state {
	struct kmm_machine *m;
	struct kmm_task *p, *kids[CG_KIDS];
	struct kmm_page *pages[CG_PAGES];
};

/* A parent with CG_PAGES written anonymous pages shared with CG_KIDS children. */
static void *cg_setup(const char *design)
{
	struct cg_state *s = calloc(1, sizeof(*s));
	s->m = boot_mem(design, "256M"); /* small: it boots under valgrind */
	s->p = kmm_task_create(s->m, "parent", 0, &(struct kmm_error){0});
	if (!s->p)
		die("task", "cannot create the parent");
	long a = kmm_mmap(s->p, 0, CG_PAGES * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS,
			  NULL, 0);
	if (a < 0)
		die("mmap", "no room");
	touch(s->p, (unsigned long)a, CG_PAGES * PAGE_SIZE, KMM_TOUCH_WRITE);
	for (unsigned long i = 0; i < CG_PAGES; i++)
		s->pages[i] = page_at(s->p, (unsigned long)a + i * PAGE_SIZE);
	for (int i = 0; i < CG_KIDS; i++)
		s->kids[i] = fork_task(s->p, i % 2);
	return s;
}
static void *cg_setup_obj(void)
{
	return cg_setup("objrmap");
}
static void *cg_setup_ptc(void)
{
	return cg_setup("ptechain");
}

/* page_referenced of a page mapped by 17 PTEs. */
static void cg_referenced(void *arg, uint64_t iters)
{
	struct cg_state *s = arg;
	unsigned long flags;
	for (uint64_t i = 0; i < iters; i++)
		bench_keep(
		    (void *)(uintptr_t)page_referenced(s->m, s->pages[i % CG_PAGES], 1, &flags));
}

/* fork and exit of one more child: every page gets one mapping more, then one less. */
static void cg_fork_exit(void *arg, uint64_t iters)
{
	struct cg_state *s = arg;
	for (uint64_t i = 0; i < iters; i++)
		kmm_task_reap(fork_task(s->p, 0));
}

/*
 * Faults, per page: a task maps CG_FAULT_PAGES pages, touches them all (a
 * fault per fault_around_pages) and unmaps them again. Anonymous memory is
 * written (every page new, mapped once: no pte_chain block needed); the
 * file is read, a shared mapping of pages in the page cache that
 * CG_FAULT_OTHERS other tasks map already (under pte chains every page
 * then goes from the direct pointer to a chain block and back).
 */
#define CG_FAULT_PAGES	256
#define CG_FAULT_OTHERS 1

struct cg_fault {
	struct kmm_machine *m;
	struct kmm_task *t;
	struct kmm_file *f;
};

static void *cg_fault_setup(const char *design, bool file)
{
	struct cg_fault *s = calloc(1, sizeof(*s));
	s->m = boot_mem(design, "256M");
	s->t = kmm_task_create(s->m, "faulter", 0, &(struct kmm_error){0});
	if (!s->t)
		die("task", "cannot create the task");
	if (!file)
		return s;
	s->f = make_file(s->m, CG_FAULT_PAGES * PAGE_SIZE);
	unlink(file_path); /* open: the machine holds it */
	for (int i = 0; i < CG_FAULT_OTHERS; i++) {
		struct kmm_task *o = kmm_task_create(s->m, "other", 1, &(struct kmm_error){0});
		long a = o ? kmm_mmap(o, 0, CG_FAULT_PAGES * PAGE_SIZE, KMM_PROT_READ,
				      KMM_MAP_SHARED, s->f, 0)
			   : -1;
		if (a < 0)
			die("mmap", "no room");
		touch(o, (unsigned long)a, CG_FAULT_PAGES * PAGE_SIZE, KMM_TOUCH_READ);
	}
	return s;
}
static void *cg_fault_setup_anon_obj(void)
{
	return cg_fault_setup("objrmap", false);
}
static void *cg_fault_setup_anon_ptc(void)
{
	return cg_fault_setup("ptechain", false);
}
static void *cg_fault_setup_file_obj(void)
{
	return cg_fault_setup("objrmap", true);
}
static void *cg_fault_setup_file_ptc(void)
{
	return cg_fault_setup("ptechain", true);
}

static void cg_fault(void *arg, uint64_t iters)
{
	struct cg_fault *s = arg;
	const unsigned long len = CG_FAULT_PAGES * PAGE_SIZE;
	for (uint64_t i = 0; i < iters; i++) {
		long a =
		    s->f ? kmm_mmap(s->t, 0, len, KMM_PROT_READ, KMM_MAP_SHARED, s->f, 0)
			 : kmm_mmap(s->t, 0, len, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		if (a < 0)
			die("mmap", "no room");
		touch(s->t, (unsigned long)a, len, s->f ? KMM_TOUCH_READ : KMM_TOUCH_WRITE);
		if (kmm_munmap(s->t, (unsigned long)a, len))
			die("munmap", "failed");
	}
}

static const struct bench_region regions[] = {
    {"referenced_objrmap", cg_setup_obj, cg_referenced, NULL},
    {"referenced_ptechain", cg_setup_ptc, cg_referenced, NULL},
    {"fork_exit_objrmap", cg_setup_obj, cg_fork_exit, NULL},
    {"fork_exit_ptechain", cg_setup_ptc, cg_fork_exit, NULL},
    {"fault_anon_objrmap", cg_fault_setup_anon_obj, cg_fault, NULL},
    {"fault_anon_ptechain", cg_fault_setup_anon_ptc, cg_fault, NULL},
    {"fault_file_objrmap", cg_fault_setup_file_obj, cg_fault, NULL},
    {"fault_file_ptechain", cg_fault_setup_file_ptc, cg_fault, NULL},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	struct bench_opts o;
	argc = bench_init(&o, argc, argv, "rmap", NULL, regions);
	if (argc > 1)
		bench_usage_error(&o, "unknown option '%s'", argv[1]);
	const unsigned long mib = o.quick ? 8 : 64;
	int reps = bench_reps(&o, 5, 3);
	if (reps > 16)
		reps = 16;
	const int morton_tasks = o.quick ? 16 : 64;
	bench_section("rmap: pte chains beside objrmap, N tasks forked from a parent with %lu MiB "
		      "anonymous + %lu MiB file touched%s",
		      mib, mib, o.quick ? " (quick)" : "");

	struct row rows[NR_DESIGNS][NR_NS];
	struct morton worst[NR_DESIGNS];
	for (int d = 0; d < NR_DESIGNS; d++) {
		measure(designs[d], mib, reps, rows[d]);
		worst[d] = morton(designs[d], morton_tasks, reps);
	}

	/* Instructions: a page_referenced of 17 mappings, a fork+exit of 1024 shared pages. */
	double instr[NR_DESIGNS][4];
	for (int d = 0; d < NR_DESIGNS; d++) {
		char name[48];
		snprintf(name, sizeof(name), "referenced_%s", designs[d]);
		instr[d][0] = bench_instructions(&o, name, o.quick ? 2000 : 20000);
		snprintf(name, sizeof(name), "fork_exit_%s", designs[d]);
		instr[d][1] = bench_instructions(&o, name, o.quick ? 4 : 20) / CG_PAGES;
		const uint64_t fault_iters = o.quick ? 8 : 40;
		snprintf(name, sizeof(name), "fault_anon_%s", designs[d]);
		instr[d][2] = bench_instructions(&o, name, fault_iters) / CG_FAULT_PAGES;
		snprintf(name, sizeof(name), "fault_file_%s", designs[d]);
		instr[d][3] = bench_instructions(&o, name, fault_iters) / CG_FAULT_PAGES;
	}

	printf("\n");
	struct bench_table t;
	bench_table_init(&t);
	bench_table_col(&t, "N", 3);
	bench_table_col(&t, "design", -9);
	bench_table_col(&t, "fork ms/task", 12);
	bench_table_col(&t, "exit ms/task", 12);
	bench_table_col(&t, "rmap B/page", 11);
	bench_table_col(&t, "referenced ns/page", 18);
	bench_table_col(&t, "unmap ns/page", 13);
	bench_table_header(&t);
	for (int k = 0; k < NR_NS; k++)
		for (int d = 0; d < NR_DESIGNS; d++) {
			struct row *r = &rows[d][k];
			bench_table_cell(&t, "%d", ns[k]);
			bench_table_cell(&t, "%s", designs[d]);
			bench_table_num(&t, r->fork_ms);
			bench_table_num(&t, r->exit_ms);
			bench_table_num(&t, r->bytes_per_page);
			bench_table_num(&t, r->ref_ns);
			bench_table_num(&t, r->unmap_ns);
		}

	printf("\nMorton's worst case: %d tasks x %d mappings of one 1 MiB file, one page "
	       "mapped once per task\n\n",
	       morton_tasks, MORTON_VMAS);
	bench_table_init(&t);
	bench_table_col(&t, "design", -9);
	bench_table_col(&t, "VMAs on i_mmap", 14);
	bench_table_col(&t, "page_referenced us", 18);
	bench_table_col(&t, "try_to_unmap us", 15);
	bench_table_header(&t);
	for (int d = 0; d < NR_DESIGNS; d++) {
		bench_table_cell(&t, "%s", designs[d]);
		bench_table_cell(&t, "%lu", worst[d].vmas);
		bench_table_num(&t, worst[d].ref_us);
		bench_table_num(&t, worst[d].unmap_us);
	}

	printf(
	    "\nInstructions (callgrind): page_referenced of a page mapped %d times; fork+exit of "
	    "a child sharing %d pages already mapped %d times, per page; mmap, fault in and "
	    "munmap %d pages, per page: anonymous (written), and a shared file mapping %d "
	    "other task(s) map already (read)\n\n",
	    CG_KIDS + 1, CG_PAGES, CG_KIDS + 1, CG_FAULT_PAGES, CG_FAULT_OTHERS);
	bench_table_init(&t);
	bench_table_col(&t, "design", -9);
	bench_table_col(&t, "page_referenced", 15);
	bench_table_col(&t, "fork+exit per page", 18);
	bench_table_col(&t, "anon fault per page", 19);
	bench_table_col(&t, "file fault per page", 19);
	bench_table_header(&t);
	for (int d = 0; d < NR_DESIGNS; d++) {
		bench_table_cell(&t, "%s", designs[d]);
		bench_table_num(&t, instr[d][0]);
		bench_table_num(&t, instr[d][1]);
		bench_table_num(&t, instr[d][2]);
		bench_table_num(&t, instr[d][3]);
	}

	printf("\n");
	char name[96];
	for (int d = 0; d < NR_DESIGNS; d++) {
		for (int k = 0; k < NR_NS; k++) {
			struct row *r = &rows[d][k];
			snprintf(name, sizeof(name), "rmap_%s_n%d_fork", designs[d], ns[k]);
			bench_figure(name, r->fork_ms, "ms/task");
			snprintf(name, sizeof(name), "rmap_%s_n%d_exit", designs[d], ns[k]);
			bench_figure(name, r->exit_ms, "ms/task");
			snprintf(name, sizeof(name), "rmap_%s_n%d_bytes", designs[d], ns[k]);
			bench_figure(name, r->bytes_per_page, "B/page");
			snprintf(name, sizeof(name), "rmap_%s_n%d_referenced", designs[d], ns[k]);
			bench_figure(name, r->ref_ns, "ns/page");
			snprintf(name, sizeof(name), "rmap_%s_n%d_unmap", designs[d], ns[k]);
			bench_figure(name, r->unmap_ns, "ns/page");
		}
		snprintf(name, sizeof(name), "rmap_%s_referenced17_instructions", designs[d]);
		bench_figure(name, instr[d][0], "instructions");
		snprintf(name, sizeof(name), "rmap_%s_fork_exit_instructions", designs[d]);
		bench_figure(name, instr[d][1], "instructions/page");
		snprintf(name, sizeof(name), "rmap_%s_fault_anon_instructions", designs[d]);
		bench_figure(name, instr[d][2], "instructions/page");
		snprintf(name, sizeof(name), "rmap_%s_fault_file_instructions", designs[d]);
		bench_figure(name, instr[d][3], "instructions/page");
		snprintf(name, sizeof(name), "rmap_%s_morton_referenced", designs[d]);
		bench_figure(name, worst[d].ref_us, "us");
		snprintf(name, sizeof(name), "rmap_%s_morton_unmap", designs[d]);
		bench_figure(name, worst[d].unmap_us, "us");
	}
	return 0;
}
