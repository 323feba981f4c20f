/*
 * Address spaces under real concurrency (KMM_TEST_CONCURRENT: the TSan
 * build runs this), and the same workloads in deterministic mode:
 *  - processes on every CPU: random mmap/munmap/mprotect/write/read/fork/
 *    exit against per-CPU shadows, all sharing one file whose pages each CPU
 *    writes in its own range (concurrent page-cache faults and read-around
 *    over the same pages); at the end the host file and every byte match;
 *  - TLB shootdowns: two threads of one address space on two CPUs; one keeps
 *    replacing a region with fresh pages (mremap MREMAP_FIXED, which frees
 *    the old ones), the other keeps reading it: a read that starts after a
 *    replacement finished must see the new data, never a freed page;
 *  - racing faults: threads on every CPU write into the same fresh pages at
 *    once; every byte lands, every page is allocated once.
 */
#include "vm_util.h"
#include "shadow.h"
#include <fcntl.h>

#define RW    (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON  (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define NCPUS 4

/* --- Processes on every CPU ----------------------------------------------------------- */

#define PROCS		   3
#define FILE_PAGES_PER_CPU 4

struct cpu_work {
	struct kmm_task *t[PROCS];
	struct stask s[PROCS];
	unsigned long file_addr[PROCS]; /* where each task maps the shared file, 0 if not */
	struct kmm_rng rng;
	unsigned long steps;
	int failed;
};

struct proc_world {
	struct kmm_file *file;
	struct sobj *fobj; /* the file's shadow: CPU c owns pages [c * 4, c * 4 + 4) */
	struct cpu_work cpu[NCPUS];
	unsigned long nsteps;
	char path[64];
};

static unsigned long cw_rnd(struct cpu_work *cw, unsigned long n)
{
	return (unsigned long)kmm_rng_below(&cw->rng, n);
}

static bool map_file(struct proc_world *pw, struct cpu_work *cw, int i)
{
	long a = kmm_mmap(cw->t[i], 0, pw->fobj->npages * SPAGE, RW, KMM_MAP_SHARED, pw->file, 0);
	if (a < 0)
		return false;
	cw->file_addr[i] = (unsigned long)a;
	return true;
}

/* One random operation of CPU @c's tasks; false on a mismatch. */
static bool proc_op(struct proc_world *pw, int c)
{
	struct cpu_work *cw = &pw->cpu[c];
	int i = (int)cw_rnd(cw, PROCS);
	struct kmm_task *t = cw->t[i];
	struct stask *s = &cw->s[i];
	static __thread uint8_t buf[SPAGE];
	unsigned long op = cw_rnd(cw, 100);
	if (op < 15) {
		unsigned long n = 1 + cw_rnd(cw, 8);
		long a = kmm_mmap(t, 0, n * SPAGE, RW, ANON, NULL, 0);
		if (a < 0)
			return false;
		for (unsigned long k = 0; k < n; k++)
			st_insert(
			    s, &(struct spage){.addr = (unsigned long)a + k * SPAGE, .prot = RW});
	} else if (op < 25 && s->n) {
		/* Unmap a random anonymous page (not the stack, not the file). */
		struct spage *p = &s->pages[cw_rnd(cw, s->n)];
		if (p->obj || p->addr >= KMM_TASK_SIZE - (1UL << 20))
			return true;
		unsigned long a = p->addr;
		if (kmm_munmap(t, a, SPAGE))
			return false;
		st_remove(s, a, a + SPAGE);
	} else if (op < 55 && s->n) {
		struct spage *p = &s->pages[cw_rnd(cw, s->n)];
		if (p->obj)
			return true;
		for (size_t k = 0; k < 64; k++)
			buf[k] = (uint8_t)cw_rnd(cw, 256);
		unsigned long off = cw_rnd(cw, SPAGE - 64);
		if (kmm_write(t, p->addr + off, buf, 64))
			return false;
		memcpy(spage_wdata(p) + off, buf, 64);
	} else if (op < 75 && s->n) {
		struct spage *p = &s->pages[cw_rnd(cw, s->n)];
		if (p->obj)
			return true;
		if (kmm_read(t, p->addr, buf, SPAGE))
			return false;
		const uint8_t *want = spage_data(p);
		for (size_t k = 0; k < SPAGE; k++)
			if (buf[k] != (want ? want[k] : 0)) {
				fprintf(stderr, "cpu %d task %d page %#lx byte %zu: %#x vs %#x\n",
					c, i, p->addr, k, buf[k], want ? want[k] : 0);
				return false;
			}
	} else if (op < 88) {
		/* This CPU's part of the shared file: write, then read back. */
		if (!cw->file_addr[i] && !map_file(pw, cw, i))
			return false;
		unsigned long page =
		    (unsigned long)c * FILE_PAGES_PER_CPU + cw_rnd(cw, FILE_PAGES_PER_CPU);
		unsigned long off = page * SPAGE + cw_rnd(cw, SPAGE - 16);
		for (size_t k = 0; k < 16; k++)
			buf[k] = (uint8_t)cw_rnd(cw, 256);
		if (kmm_write(t, cw->file_addr[i] + off, buf, 16))
			return false;
		memcpy(pw->fobj->data + off, buf, 16);
		if (kmm_read(t, cw->file_addr[i] + page * SPAGE, buf, SPAGE) ||
		    memcmp(buf, pw->fobj->data + page * SPAGE, SPAGE))
			return false;
	} else if (op < 94) {
		/* Replace a task by a fork of another (exit + fork). */
		int j = (int)cw_rnd(cw, PROCS);
		if (j == i)
			return true;
		struct kmm_error err = {0};
		struct kmm_task *child = kmm_task_fork(cw->t[j], c, &err);
		if (!child)
			return false;
		kmm_task_reap(cw->t[i]);
		cw->t[i] = child;
		st_copy(&cw->s[i], &cw->s[j]);
		cw->file_addr[i] = cw->file_addr[j];
	} else if (s->n) {
		struct spage *p = &s->pages[cw_rnd(cw, s->n)];
		if (p->obj || p->addr >= KMM_TASK_SIZE - (1UL << 20))
			return true;
		int prot = cw_rnd(cw, 2) ? KMM_PROT_READ : RW;
		if (kmm_mprotect(t, p->addr, SPAGE, prot))
			return false;
		/* Keep the shadow simple: make it writable again at once. */
		if (kmm_mprotect(t, p->addr, SPAGE, RW))
			return false;
	}
	return true;
}

static bool proc_step(struct kmm_machine *m, int c, void *arg)
{
	struct proc_world *pw = arg;
	struct cpu_work *cw = &pw->cpu[c];
	(void)m;
	if (cw->failed || cw->steps >= pw->nsteps)
		return false;
	for (int k = 0; k < 8 && cw->steps < pw->nsteps; k++, cw->steps++) {
		if (!proc_op(pw, c)) {
			cw->failed = 1;
			return false;
		}
	}
	return true;
}

/*
 * What a run left behind, as text: every task's maps, the frame behind every
 * mapped page, and the machine's VM events. Two deterministic runs with one
 * seed must leave the same text.
 */
static void digest(struct kmm_machine *m, struct proc_world *pw, struct kmm_buf *out)
{
	for (int c = 0; c < NCPUS; c++)
		for (int i = 0; i < PROCS; i++) {
			struct kmm_task *t = pw->cpu[c].t[i];
			/* Not the maps text: it names the file, whose name differs per run. */
			for (struct kmm_vma *v = t->mm->mmap; v; v = v->vm_next) {
				kmm_buf_printf(out, "%lx-%lx %lx\n", v->vm_start, v->vm_end,
					       v->vm_flags);
				for (unsigned long a = v->vm_start; a < v->vm_end; a += SPAGE) {
					pte_t *pte = pte_lookup(t->mm, a);
					if (pte && *pte)
						kmm_buf_printf(out, "%lx:%lx\n", a, pte_pfn(*pte));
				}
			}
		}
	kmm_show_vmstat(m, out);
	kmm_show_kmmstat(m, out);
}

/* The machine of the process world (a variant runs it on pte-chain rmap). */
static const char *proc_machine = "--mem 512M --nodes 2 --cpus 4";

static void run_processes(enum kmm_run_mode mode, struct kmm_buf *out)
{
	static struct proc_world pw;
	memset(&pw, 0, sizeof(pw));
	struct kmm_machine *m = vm_boot(proc_machine);
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	size_t fpages = NCPUS * FILE_PAGES_PER_CPU;
	pw.fobj = sobj_new(fpages, fpages * SPAGE, 0);
	snprintf(pw.path, sizeof(pw.path), "/tmp/kmm-conc-XXXXXX");
	int fd = mkstemp(pw.path);
	for (size_t k = 0; k < fpages * SPAGE; k++)
		pw.fobj->data[k] = (uint8_t)(k * 7);
	expect_int_eq(write(fd, pw.fobj->data, fpages * SPAGE), (long)(fpages * SPAGE));
	close(fd);
	struct kmm_error err = {0};
	pw.file = kmm_file_open(m, pw.path, KMM_O_RDWR, 0, &err);
	expect_ptr_not_null(pw.file);
	pw.nsteps = 1500 * kmm_test_scale;
	for (int c = 0; c < NCPUS; c++) {
		kmm_rng_seed(&pw.cpu[c].rng, kmm_test_seed * 31 + (uint64_t)c);
		for (int i = 0; i < PROCS; i++) {
			pw.cpu[c].t[i] = vm_task(m, "proc", c);
			expect_ptr_not_null(pw.cpu[c].t[i]);
		}
	}
	kmm_task_switch_out(m);
	expect_int_eq(kmm_run(m, mode, proc_step, &pw), 0);
	for (int c = 0; c < NCPUS; c++)
		expect_int_eq(pw.cpu[c].failed, 0);
	expect_vm_valid(m);
	if (out)
		digest(m, &pw, out);
	for (int c = 0; c < NCPUS; c++)
		for (int i = 0; i < PROCS; i++) {
			kmm_task_reap(pw.cpu[c].t[i]);
			st_free(&pw.cpu[c].s[i]);
		}
	/* The last shared mapping is gone: the file holds every CPU's writes. */
	fd = open(pw.path, O_RDONLY);
	uint8_t *host = malloc(fpages * SPAGE);
	expect_int_eq(pread(fd, host, fpages * SPAGE, 0), (long)(fpages * SPAGE));
	close(fd);
	expect_int_eq(memcmp(host, pw.fobj->data, fpages * SPAGE), 0);
	free(host);
	kmm_file_close(pw.file);
	expect_vm_valid(m);
	expect_u64_eq(vm_free_pages(m), free0);
	sobj_put(pw.fobj);
	unlink(pw.path);
	kmm_machine_destroy(m);
}

static void test_processes_deterministic(void)
{
	/* Twice with the same seed: the same frames, maps and counters, byte for byte. */
	struct kmm_buf a, b;
	kmm_buf_init(&a);
	kmm_buf_init(&b);
	run_processes(KMM_RUN_DETERMINISTIC, &a);
	run_processes(KMM_RUN_DETERMINISTIC, &b);
	expect_true(a.len > 1000);
	expect_u64_eq(a.len, b.len);
	expect_true(!strcmp(a.data, b.data)); /* (too long to print) */
	kmm_buf_free(&a);
	kmm_buf_free(&b);
}

static void test_processes_concurrent(void)
{
	run_processes(KMM_RUN_CONCURRENT, NULL);
}

/* pte chains under concurrent fork, fault and exit of pages shared across CPUs. */
static void test_processes_concurrent_ptechain(void)
{
	proc_machine = "--mem 512M --nodes 2 --cpus 4 --rmap ptechain";
	run_processes(KMM_RUN_CONCURRENT, NULL);
	proc_machine = "--mem 512M --nodes 2 --cpus 4";
}

/* --- TLB shootdowns ---------------------------------------------------------------------- */

#define X      0x50000000UL /* the region the reader reads */
#define Y      0x60000000UL /* where the writer prepares the next contents */
#define XPAGES 4

struct shoot {
	struct kmm_task *writer, *reader;
	unsigned long rounds, round;  /* round: published with release after each mremap */
	unsigned long reads;	      /* the reader's count (atomic) */
	unsigned long reads_at_round; /* the writer's copy at its last round */
	int failed;
	bool done;
	uint64_t words[XPAGES * SPAGE / 8];
};

static bool shoot_step(struct kmm_machine *m, int cpu, void *arg)
{
	struct shoot *sh = arg;
	(void)m;
	if (cpu == 0) {
		unsigned long r = sh->round + 1;
		/* Let the reader get going between replacements, so they overlap. */
		unsigned long reads = __atomic_load_n(&sh->reads, __ATOMIC_ACQUIRE);
		if (reads < sh->reads_at_round + 32 &&
		    !__atomic_load_n(&sh->failed, __ATOMIC_ACQUIRE)) {
			kmm_port_yield();
			return true;
		}
		sh->reads_at_round = reads;
		if (r > sh->rounds || __atomic_load_n(&sh->failed, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&sh->done, true, __ATOMIC_RELEASE);
			return false;
		}
		/* New pages at Y, filled with the round number, then moved over X. */
		for (size_t k = 0; k < KMM_ARRAY_SIZE(sh->words); k++)
			sh->words[k] = r;
		if (kmm_mmap(sh->writer, Y, XPAGES * SPAGE, RW, ANON | KMM_MAP_FIXED, NULL, 0) !=
			(long)Y ||
		    kmm_write(sh->writer, Y, sh->words, sizeof(sh->words)) ||
		    kmm_mremap(sh->writer, Y, XPAGES * SPAGE, XPAGES * SPAGE,
			       KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, X) != (long)X) {
			__atomic_store_n(&sh->failed, 1, __ATOMIC_RELEASE);
			return false;
		}
		__atomic_store_n(&sh->round, r, __ATOMIC_RELEASE);
		return true;
	}
	if (cpu == 1) {
		for (int k = 0; k < 64; k++) {
			unsigned long before = __atomic_load_n(&sh->round, __ATOMIC_ACQUIRE);
			uint64_t v;
			unsigned long a = X + (sh->reads % (XPAGES * SPAGE / 8)) * 8;
			if (kmm_read(sh->reader, a, &v, sizeof(v))) {
				__atomic_store_n(&sh->failed, 2, __ATOMIC_RELEASE);
				return false;
			}
			unsigned long after = __atomic_load_n(&sh->round, __ATOMIC_ACQUIRE);
			__atomic_store_n(&sh->reads, sh->reads + 1, __ATOMIC_RELEASE);
			/* Never a round older than the one finished before the read began. */
			if (v < before || v > after + 1) {
				fprintf(stderr, "read %#lx: round %lu, published %lu..%lu\n", a,
					(unsigned long)v, before, after);
				__atomic_store_n(&sh->failed, 3, __ATOMIC_RELEASE);
				return false;
			}
		}
		return !__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE);
	}
	return false;
}

static void run_shootdowns(enum kmm_run_mode mode)
{
	struct kmm_machine *m = vm_boot("--mem 256M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	static struct shoot sh;
	memset(&sh, 0, sizeof(sh));
	sh.rounds = 300 * kmm_test_scale;
	sh.writer = vm_task(m, "writer", 0);
	struct kmm_error err = {0};
	sh.reader = kmm_task_clone_vm(sh.writer, 1, &err);
	expect_ptr_not_null(sh.reader);
	/* Round 0: X holds zeros. */
	expect_int_eq(kmm_mmap(sh.writer, X, XPAGES * SPAGE, RW, ANON | KMM_MAP_FIXED, NULL, 0),
		      (long)X);
	expect_int_eq(kmm_touch(sh.writer, X, XPAGES * SPAGE, KMM_TOUCH_WRITE), 0);
	unsigned long shoot0 = sum_vm_event(m, KMM_TLB_SHOOTDOWN);
	kmm_task_switch_out(m);
	expect_int_eq(kmm_run(m, mode, shoot_step, &sh), 0);
	expect_int_eq(sh.failed, 0);
	expect_u64_eq(sh.round, sh.rounds);
	/* Every replacement had to reach the reader's CPU. */
	expect_true(sum_vm_event(m, KMM_TLB_SHOOTDOWN) - shoot0 >= sh.rounds);
	expect_vm_valid(m);
	kmm_task_reap(sh.reader);
	kmm_task_reap(sh.writer);
	expect_vm_valid(m);
	kmm_machine_destroy(m);
}

static void test_shootdowns_deterministic(void)
{
	run_shootdowns(KMM_RUN_DETERMINISTIC);
}

static void test_shootdowns_concurrent(void)
{
	run_shootdowns(KMM_RUN_CONCURRENT);
}

/* --- Racing faults ------------------------------------------------------------------------- */

#define RACE_PAGES 256

struct race {
	struct kmm_task *t[NCPUS];
	unsigned long addr;
	int pass[NCPUS];
	int failed;
};

static bool race_step(struct kmm_machine *m, int cpu, void *arg)
{
	struct race *r = arg;
	(void)m;
	if (r->pass[cpu] == 2)
		return false;
	for (unsigned long p = 0; p < RACE_PAGES; p++) {
		/* Each CPU owns byte @cpu of every page (and walks the pages in its own order). */
		unsigned long page = (p * (unsigned long)(2 * cpu + 1)) % RACE_PAGES;
		unsigned long a = r->addr + page * SPAGE + (unsigned long)cpu;
		uint8_t v = (uint8_t)(0x40 + cpu), got = 0;
		if (r->pass[cpu] == 0 ? kmm_write(r->t[cpu], a, &v, 1)
				      : kmm_read(r->t[cpu], a, &got, 1))
			r->failed = 1;
		if (r->pass[cpu] == 1 && got != v)
			r->failed = 2;
	}
	r->pass[cpu]++;
	return true;
}

static void run_race(enum kmm_run_mode mode)
{
	struct kmm_machine *m = vm_boot("--mem 256M --nodes 2 --cpus 4");
	expect_ptr_not_null(m);
	static struct race r;
	memset(&r, 0, sizeof(r));
	r.t[0] = vm_task(m, "race", 0);
	long a = kmm_mmap(r.t[0], 0, RACE_PAGES * SPAGE, RW, ANON, NULL, 0);
	expect_true(a > 0);
	r.addr = (unsigned long)a;
	for (int c = 1; c < NCPUS; c++) {
		struct kmm_error err = {0};
		r.t[c] = kmm_task_clone_vm(r.t[0], c, &err);
		expect_ptr_not_null(r.t[c]);
	}
	kmm_task_switch_out(m);
	expect_int_eq(kmm_run(m, mode, race_step, &r), 0);
	expect_int_eq(r.failed, 0);
	expect_int_eq(get_mm_counter(r.t[0]->mm, MM_ANONPAGES), RACE_PAGES);
	expect_vm_valid(m);
	for (int c = NCPUS - 1; c >= 0; c--)
		kmm_task_reap(r.t[c]);
	kmm_machine_destroy(m);
}

static void test_racing_faults_deterministic(void)
{
	run_race(KMM_RUN_DETERMINISTIC);
}

static void test_racing_faults_concurrent(void)
{
	run_race(KMM_RUN_CONCURRENT);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_processes_deterministic);
	run_test(test_processes_concurrent);
	run_test(test_processes_concurrent_ptechain);
	run_test(test_shootdowns_deterministic);
	run_test(test_shootdowns_concurrent);
	run_test(test_racing_faults_deterministic);
	run_test(test_racing_faults_concurrent);
	return kmm_test_done();
}
