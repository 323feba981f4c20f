/*
 * Reverse-mapping walks racing the address-space changes they walk
 * (KMM_TEST_CONCURRENT: the TSan build runs this), on both designs.
 *
 * Two worker CPUs each run a process that writes and reads its own slice
 * of a shared file mapping and its own anonymous memory, forks a child that
 * reads the slice (so the pages gain and lose mappings in another mm), and
 * reaps it again. A third CPU plays reclaim: it takes a random page of the
 * file from the page cache, locks it and calls page_referenced or
 * try_to_unmap on it. The PTEs it removes are refaulted by the next access;
 * every read must still return what the slice's owner last wrote (a dirty
 * PTE's bit moved to the page, not lost), and at the end every invariant
 * holds and every page is back.
 */
#include "vm/vm_util.h"
#include "rmap/rmap.h"
#include <fcntl.h>
#include <unistd.h>

#define NWORKERS 2
#define SLICE	 16 /* file pages per worker */
#define FPAGES	 (NWORKERS * SLICE)
#define APAGES	 16
#define RW	 (KMM_PROT_READ | KMM_PROT_WRITE)

struct worker {
	struct kmm_task *t, *kid;
	unsigned long fbase, abase;
	uint32_t val[SLICE];
	struct kmm_rng rng;
	unsigned long steps;
	int failed;
	char why[600];
};

struct cworld {
	struct kmm_file *file;
	struct worker w[NWORKERS];
	struct kmm_rng rng;	      /* the reclaimer's */
	unsigned long nsteps, rsteps; /* rsteps: reclaim looks at cached pages */
	unsigned long referenced, unmapped;
	int reclaimer_up; /* the workers start once the reclaimer runs, so they overlap */
};

static bool worker_op(struct worker *w, int c)
{
	unsigned long dice = kmm_rng_below(&w->rng, 100);
	unsigned long p = kmm_rng_below(&w->rng, SLICE);
	unsigned long addr = w->fbase + (c * SLICE + p) * PAGE_SIZE + 64;
	uint32_t v;
	if (dice < 35) {
		v = ++w->val[p];
		if (kmm_write(w->t, addr, &v, sizeof(v)))
			return snprintf(w->why, sizeof(w->why), "write of page %lu failed", p),
			       false;
	} else if (dice < 70) {
		if (kmm_read(w->t, addr, &v, sizeof(v)) || v != w->val[p])
			return snprintf(w->why, sizeof(w->why), "page %lu reads %u, wrote %u", p, v,
					w->val[p]),
			       false;
	} else if (dice < 80) {
		kmm_touch(w->t, w->abase + kmm_rng_below(&w->rng, APAGES) * PAGE_SIZE, 1,
			  KMM_TOUCH_WRITE);
	} else if (dice < 90 && !w->kid) {
		struct kmm_error err = {0};
		w->kid = kmm_task_fork(w->t, c, &err);
		if (!w->kid)
			return snprintf(w->why, sizeof(w->why), "fork: %s", err.msg), false;
		if (kmm_read(w->kid, addr, &v, sizeof(v)) || v != w->val[p])
			return snprintf(w->why, sizeof(w->why), "child: page %lu reads %u, not %u",
					p, v, w->val[p]),
			       false;
	} else if (w->kid) {
		kmm_task_reap(w->kid);
		w->kid = NULL;
	}
	return true;
}

/* One look at a cached page of the file; false if the page was not in the cache. */
static bool reclaim_op(struct kmm_machine *m, struct cworld *cw)
{
	struct kmm_page *page = find_get_page(cw->file->f_mapping, kmm_rng_below(&cw->rng, FPAGES));
	if (!page)
		return false;
	lock_page(page);
	if (kmm_rng_below(&cw->rng, 2)) {
		unsigned long flags;
		page_referenced(m, page, 1, &flags);
		cw->referenced++;
	} else {
		cw->unmapped += try_to_unmap(m, page, 0);
	}
	unlock_page(page);
	vm_put_page(m, page);
	return true;
}

static bool step(struct kmm_machine *m, int c, void *arg)
{
	struct cworld *cw = arg;
	if (c == NWORKERS) { /* the reclaimer runs until the workers are done */
		__atomic_store_n(&cw->reclaimer_up, 1, __ATOMIC_RELEASE);
		bool busy = false;
		for (int i = 0; i < NWORKERS; i++)
			busy |= __atomic_load_n(&cw->w[i].steps, __ATOMIC_ACQUIRE) < cw->nsteps &&
				!__atomic_load_n(&cw->w[i].failed, __ATOMIC_ACQUIRE);
		for (int k = 0; k < 8 && busy; k++)
			if (reclaim_op(m, cw))
				__atomic_store_n(&cw->rsteps, cw->rsteps + 1, __ATOMIC_RELEASE);
		return busy;
	}
	struct worker *w = &cw->w[c];
	if (w->failed || w->steps >= cw->nsteps)
		return false;
	/* Keep pace with the reclaimer, so the two overlap however the host schedules them. */
	if (!__atomic_load_n(&cw->reclaimer_up, __ATOMIC_ACQUIRE) ||
	    w->steps > 4 * __atomic_load_n(&cw->rsteps, __ATOMIC_ACQUIRE) + 64)
		return true;
	for (int k = 0; k < 8 && w->steps < cw->nsteps; k++) {
		if (!worker_op(w, c)) {
			__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
			return false;
		}
		__atomic_store_n(&w->steps, w->steps + 1, __ATOMIC_RELEASE);
	}
	return true;
}

static void run(const char *design, enum kmm_run_mode mode)
{
	static struct cworld cw;
	memset(&cw, 0, sizeof(cw));
	char opts[96];
	snprintf(opts, sizeof(opts), "--mem 128M --nodes 1 --cpus %d --rmap %s", NWORKERS + 1,
		 design);
	struct kmm_machine *m = vm_boot(opts);
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	char path[64];
	snprintf(path, sizeof(path), "/tmp/kmm-rmapc-XXXXXX");
	int fd = mkstemp(path);
	expect_true(fd >= 0);
	expect_int_eq(ftruncate(fd, FPAGES * PAGE_SIZE), 0);
	close(fd);
	struct kmm_error err = {0};
	cw.file = kmm_file_open(m, path, KMM_O_RDWR, 0, &err);
	expect_ptr_not_null(cw.file);
	cw.nsteps = 3000 * kmm_test_scale;
	kmm_rng_seed(&cw.rng, kmm_test_seed);
	for (int c = 0; c < NWORKERS; c++) {
		struct worker *w = &cw.w[c];
		kmm_rng_seed(&w->rng, kmm_test_seed * 7 + (uint64_t)c);
		w->t = vm_task(m, "worker", c);
		expect_ptr_not_null(w->t);
		long f = kmm_mmap(w->t, 0, FPAGES * PAGE_SIZE, RW, KMM_MAP_SHARED, cw.file, 0);
		long a = kmm_mmap(w->t, 0, APAGES * PAGE_SIZE, RW,
				  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		expect_true(f > 0 && a > 0);
		w->fbase = (unsigned long)f;
		w->abase = (unsigned long)a;
	}
	kmm_task_switch_out(m);
	expect_int_eq(kmm_run(m, mode, step, &cw), 0);
	for (int c = 0; c < NWORKERS; c++)
		if (cw.w[c].failed)
			KMM_EXPECT_FAIL_("%s: worker %d: %s", design, c, cw.w[c].why);
	printf("  %s: %lu reclaim steps, %lu page_referenced, %lu pages unmapped\n", design,
	       cw.rsteps, cw.referenced, cw.unmapped);
	expect_true(cw.referenced > 0 && cw.unmapped > 0);
	expect_vm_valid(m);
	for (int c = 0; c < NWORKERS; c++) {
		if (cw.w[c].kid)
			kmm_task_reap(cw.w[c].kid);
		kmm_task_reap(cw.w[c].t);
	}
	kmm_file_close(cw.file);
	unlink(path);
	expect_vm_valid(m);
	expect_u64_eq(rmap_bytes(m), 0);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static void test_objrmap_concurrent(void)
{
	run("objrmap", KMM_RUN_CONCURRENT);
}

static void test_ptechain_concurrent(void)
{
	run("ptechain", KMM_RUN_CONCURRENT);
}

static void test_both_deterministic(void)
{
	run("objrmap", KMM_RUN_DETERMINISTIC);
	run("ptechain", KMM_RUN_DETERMINISTIC);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_both_deterministic);
	run_test(test_objrmap_concurrent);
	run_test(test_ptechain_concurrent);
	return kmm_test_done();
}
