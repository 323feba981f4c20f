/*
 * Reverse-mapping walks of anonymous pages racing the changes that free or
 * move what they walk (KMM_TEST_CONCURRENT: the TSan build runs this).
 *
 * - Exit: two worker CPUs each, over and over, create a task, map and
 *   write anonymous pages, maybe fork a child that reads them and copies
 *   one, hand one page (with a reference) to the walker CPU, and then reap
 *   the child and the task, which unmaps the page and frees its anon_vma.
 *   The walker walks the handed-over page (rmap_walk, page_referenced)
 *   while that happens, so a walk finds page->mapping naming an anon_vma
 *   whose last VMA is going. With objects in host memory (--rmap-mem host)
 *   ASan sees a walk that reads a freed anon_vma; on both memories a walk
 *   may never report more mappings than the task and its child had.
 * - mremap: a worker moves an anonymous region back and forth between two
 *   places while the walker walks one of its pages, mapped exactly once
 *   throughout: every objrmap walk must find exactly one PTE (the move
 *   holds the anon_vma lock); a pte-chain walk finds one or reports the
 *   mm's mmap_lock contended.
 *
 * Each runs in concurrent mode on both designs, and in deterministic mode.
 */
#include "vm/vm_util.h"
#include "rmap/rmap.h"

#define NWORKERS 2
#define NP	 4  /* pages per task */
#define MP	 64 /* pages mremap moves: the walk of one may fall inside the move */
#define RW	 (KMM_PROT_READ | KMM_PROT_WRITE)

struct aworker {
	struct kmm_task *t, *kid; /* the generation waiting for the walker to take its page */
	struct kmm_rng rng;
	unsigned long gens;
	int failed;
	char why[300];
};

struct aworld {
	struct kmm_machine *m;
	struct aworker w[NWORKERS];
	struct kmm_page *slot[NWORKERS]; /* a page handed to the walker, with a reference */
	unsigned long ngens;
	unsigned long walks, found_none, found_max, wsteps;
	int walker_up, walker_failed;
	char why[300];
	/* mremap */
	struct kmm_task *mt;
	unsigned long a, b; /* the two places */
	struct kmm_page *mpage[MP];
	struct kmm_rng rng; /* the walker's */
	unsigned long moves, contended;
};

static bool wfail(struct aworker *w, const char *what)
{
	snprintf(w->why, sizeof(w->why), "%s", what);
	__atomic_store_n(&w->failed, 1, __ATOMIC_RELEASE);
	return false;
}

static struct kmm_page *page_at(struct kmm_task *t, unsigned long addr)
{
	pte_t *ptep = pte_lookup(t->mm, addr);
	if (!ptep || !pte_present(*ptep))
		return NULL;
	return pfn_to_page(t->machine, pte_pfn(*ptep));
}

/* A generation begins: a task that maps, writes, maybe forks, and hands a page over. */
static bool generation_start(struct aworld *aw, struct aworker *w, int c)
{
	struct kmm_error err = {0};
	struct kmm_task *t = kmm_task_create(aw->m, "gen", c, &err), *kid = NULL;
	if (!t)
		return wfail(w, "task create failed");
	long a = kmm_mmap(t, 0, NP * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0)
		return wfail(w, "mmap failed");
	for (unsigned long i = 0; i < NP; i++) {
		uint32_t v = (uint32_t)(w->gens * NP + i);
		if (kmm_write(t, (unsigned long)a + i * PAGE_SIZE, &v, sizeof(v)))
			return wfail(w, "write failed");
	}
	if (kmm_rng_below(&w->rng, 2)) {
		kid = kmm_task_fork(t, c, &err);
		if (!kid)
			return wfail(w, "fork failed");
		uint32_t v, one = 1;
		if (kmm_read(kid, (unsigned long)a, &v, sizeof(v)) || v != (uint32_t)(w->gens * NP))
			return wfail(w, "the child reads another value");
		if (kmm_write(kid, (unsigned long)a + PAGE_SIZE, &one, sizeof(one)))
			return wfail(w, "the child's write failed");
	}
	struct kmm_page *page =
	    page_at(t, (unsigned long)a + kmm_rng_below(&w->rng, NP) * PAGE_SIZE);
	if (!page)
		return wfail(w, "a written page is not mapped");
	kmm_get_page(page);
	__atomic_store_n(&aw->slot[c], page, __ATOMIC_RELEASE);
	w->t = t;
	w->kid = kid;
	return true;
}

/* The walker took the page and walks it now: exit, and the anon_vma goes with the last VMA. */
static void generation_end(struct aworker *w)
{
	if (w->kid && kmm_rng_below(&w->rng, 2)) {
		kmm_task_reap(w->t);
		kmm_task_reap(w->kid);
	} else {
		if (w->kid)
			kmm_task_reap(w->kid);
		kmm_task_reap(w->t);
	}
	w->t = w->kid = NULL;
}

static bool count_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep, void *arg)
{
	(void)page, (void)vma, (void)address, (void)ptep;
	++*(unsigned long *)arg;
	return true;
}

/*
 * Called between two mappings with no lock but the walk's own: dawdle, so
 * that a move has time to land between the visit of the old VMA and the
 * visit of the new one (without the move's rmap locks the page is then
 * found twice).
 */
static bool dawdle(struct kmm_page *page)
{
	(void)page;
	for (volatile int i = 0; i < 2000; i++)
		;
	return false;
}

static bool walker_fail(struct aworld *aw, const char *what, unsigned long n)
{
	snprintf(aw->why, sizeof(aw->why), "%s (%lu)", what, n);
	__atomic_store_n(&aw->walker_failed, 1, __ATOMIC_RELEASE);
	return false;
}

static bool walk_slots(struct aworld *aw)
{
	for (int c = 0; c < NWORKERS; c++) {
		struct kmm_page *page = __atomic_exchange_n(&aw->slot[c], NULL, __ATOMIC_ACQ_REL);
		if (!page)
			continue;
		/* Walk it twice: the exit may come during either. */
		unsigned long found = 0, vm_flags;
		struct rmap_walk_control rwc = {.arg = &found, .rmap_one = count_one};
		rmap_walk(aw->m, page, &rwc);
		int refs = page_referenced(aw->m, page, 0, &vm_flags);
		vm_put_page(aw->m, page);
		/* The task and its child map it at most: anything more is a stale anon_vma. */
		if (found > 2 || refs > 2)
			return walker_fail(aw, "a walk found more mappings than there were",
					   found > 2 ? found : (unsigned long)refs);
		aw->walks++;
		aw->found_none += !found;
		aw->found_max = found > aw->found_max ? found : aw->found_max;
	}
	return true;
}

static bool workers_busy(struct aworld *aw)
{
	bool busy = false;
	for (int i = 0; i < NWORKERS; i++)
		busy |= __atomic_load_n(&aw->w[i].gens, __ATOMIC_ACQUIRE) < aw->ngens &&
			!__atomic_load_n(&aw->w[i].failed, __ATOMIC_ACQUIRE);
	return busy;
}

static bool exit_step(struct kmm_machine *m, int c, void *arg)
{
	(void)m;
	struct aworld *aw = arg;
	if (c == NWORKERS) {
		__atomic_store_n(&aw->walker_up, 1, __ATOMIC_RELEASE);
		bool busy = workers_busy(aw);
		if (busy && !aw->walker_failed && walk_slots(aw))
			__atomic_store_n(&aw->wsteps, aw->wsteps + 1, __ATOMIC_RELEASE);
		return busy && !aw->walker_failed;
	}
	struct aworker *w = &aw->w[c];
	if (w->failed || w->gens >= aw->ngens ||
	    __atomic_load_n(&aw->walker_failed, __ATOMIC_ACQUIRE))
		return false;
	if (!__atomic_load_n(&aw->walker_up, __ATOMIC_ACQUIRE))
		return true;
	if (!w->t)
		return generation_start(aw, w, c);
	/* Exit as soon as the walker has the page, so the walk and the exit overlap. */
	if (__atomic_load_n(&aw->slot[c], __ATOMIC_ACQUIRE))
		return true;
	generation_end(w);
	__atomic_store_n(&w->gens, w->gens + 1, __ATOMIC_RELEASE);
	return true;
}

static void run_exit(const char *design, const char *mem, enum kmm_run_mode mode)
{
	static struct aworld aw;
	memset(&aw, 0, sizeof(aw));
	char opts[128];
	snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus %d --rmap %s --rmap-mem %s",
		 NWORKERS + 1, design, mem);
	aw.m = vm_boot(opts);
	expect_ptr_not_null(aw.m);
	unsigned long free0 = vm_free_pages(aw.m);
	aw.ngens = 400 * kmm_test_scale;
	for (int c = 0; c < NWORKERS; c++)
		kmm_rng_seed(&aw.w[c].rng, kmm_test_seed * 5 + (uint64_t)c);
	kmm_task_switch_out(aw.m);
	expect_int_eq(kmm_run(aw.m, mode, exit_step, &aw), 0);
	for (int c = 0; c < NWORKERS; c++) {
		if (aw.w[c].failed)
			KMM_EXPECT_FAIL_("%s/%s: worker %d: %s", design, mem, c, aw.w[c].why);
		if (aw.slot[c])
			vm_put_page(aw.m, aw.slot[c]);
		if (aw.w[c].t)
			generation_end(&aw.w[c]);
	}
	if (aw.walker_failed)
		KMM_EXPECT_FAIL_("%s/%s: walker: %s", design, mem, aw.why);
	printf("  exit %s/%s %s: %lu walks, %lu found no mapping, at most %lu\n", design, mem,
	       mode == KMM_RUN_CONCURRENT ? "concurrent" : "deterministic", aw.walks, aw.found_none,
	       aw.found_max);
	expect_true(aw.walks > 0);
	expect_vm_valid(aw.m);
	expect_u64_eq(rmap_bytes(aw.m), 0);
	expect_u64_eq(vm_free_pages(aw.m), free0);
	kmm_machine_destroy(aw.m);
}

/* --- mremap ------------------------------------------------------------------------------ */

static bool mremap_step(struct kmm_machine *m, int c, void *arg)
{
	struct aworld *aw = arg;
	if (c == 1) { /* the walker */
		__atomic_store_n(&aw->walker_up, 1, __ATOMIC_RELEASE);
		bool busy = __atomic_load_n(&aw->moves, __ATOMIC_ACQUIRE) < aw->ngens &&
			    !__atomic_load_n(&aw->w[0].failed, __ATOMIC_ACQUIRE);
		if (!busy || aw->walker_failed)
			return false;
		unsigned long found = 0;
		struct rmap_walk_control rwc = {
		    .arg = &found, .rmap_one = count_one, .done = dawdle};
		rmap_walk(m, aw->mpage[kmm_rng_below(&aw->rng, MP)], &rwc);
		if (rwc.contended && !found)
			aw->contended++;
		else if (found != 1)
			return walker_fail(aw, "a walk during mremap found a count other than 1",
					   found);
		aw->walks++;
		__atomic_store_n(&aw->wsteps, aw->wsteps + 1, __ATOMIC_RELEASE);
		return true;
	}
	if (c != 0)
		return false;
	struct aworker *w = &aw->w[0];
	if (w->failed || aw->moves >= aw->ngens ||
	    __atomic_load_n(&aw->walker_failed, __ATOMIC_ACQUIRE))
		return false;
	if (!__atomic_load_n(&aw->walker_up, __ATOMIC_ACQUIRE) ||
	    aw->moves > 2 * __atomic_load_n(&aw->wsteps, __ATOMIC_ACQUIRE) + 16)
		return true;
	unsigned long from = aw->moves % 2 ? aw->b : aw->a, to = aw->moves % 2 ? aw->a : aw->b;
	long r = kmm_mremap(aw->mt, from, MP * PAGE_SIZE, MP * PAGE_SIZE,
			    KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, to);
	if (r != (long)to)
		return wfail(w, "mremap failed");
	uint32_t v, i = (uint32_t)(aw->moves % MP);
	if (kmm_read(aw->mt, to + i * PAGE_SIZE, &v, sizeof(v)) || v != i)
		return wfail(w, "a moved page reads another value");
	__atomic_store_n(&aw->moves, aw->moves + 1, __ATOMIC_RELEASE);
	return true;
}

static void run_mremap(const char *design, enum kmm_run_mode mode)
{
	static struct aworld aw;
	memset(&aw, 0, sizeof(aw));
	char opts[128];
	snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 2 --rmap %s", design);
	aw.m = vm_boot(opts);
	expect_ptr_not_null(aw.m);
	aw.mt = vm_task(aw.m, "mover", 0);
	expect_ptr_not_null(aw.mt);
	aw.a = 0x40000000;
	aw.b = 0x80000000;
	long a = kmm_mmap(aw.mt, aw.a, MP * PAGE_SIZE, RW,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_FIXED, NULL, 0);
	expect_int_eq(a, (long)aw.a);
	kmm_rng_seed(&aw.rng, kmm_test_seed);
	for (uint32_t i = 0; i < MP; i++) {
		expect_int_eq(kmm_write(aw.mt, aw.a + i * PAGE_SIZE, &i, sizeof(i)), 0);
		aw.mpage[i] = page_at(aw.mt, aw.a + i * PAGE_SIZE);
		expect_ptr_not_null(aw.mpage[i]);
		kmm_get_page(aw.mpage[i]);
	}
	aw.ngens = 1000 * kmm_test_scale;
	kmm_task_switch_out(aw.m);
	expect_int_eq(kmm_run(aw.m, mode, mremap_step, &aw), 0);
	if (aw.w[0].failed)
		KMM_EXPECT_FAIL_("%s: mover: %s", design, aw.w[0].why);
	if (aw.walker_failed)
		KMM_EXPECT_FAIL_("%s: walker: %s", design, aw.why);
	printf("  mremap %s %s: %lu moves, %lu walks (%lu contended)\n", design,
	       mode == KMM_RUN_CONCURRENT ? "concurrent" : "deterministic", aw.moves, aw.walks,
	       aw.contended);
	expect_u64_eq(aw.moves, aw.ngens);
	expect_true(aw.walks > 0);
	/* objrmap walks take the anon_vma lock, never a trylock: nothing is skipped. */
	if (!strcmp(design, "objrmap"))
		expect_u64_eq(aw.contended, 0);
	for (int i = 0; i < MP; i++) {
		expect_ptr_eq(page_at(aw.mt, aw.a + i * PAGE_SIZE), aw.mpage[i]);
		vm_put_page(aw.m, aw.mpage[i]);
	}
	expect_vm_valid(aw.m);
	kmm_task_reap(aw.mt);
	expect_u64_eq(rmap_bytes(aw.m), 0);
	kmm_machine_destroy(aw.m);
}

static void test_exit_concurrent(void)
{
	run_exit("objrmap", "host", KMM_RUN_CONCURRENT);
	run_exit("ptechain", "host", KMM_RUN_CONCURRENT);
	run_exit("objrmap", "ram", KMM_RUN_CONCURRENT);
	run_exit("ptechain", "ram", KMM_RUN_CONCURRENT);
}

static void test_exit_deterministic(void)
{
	run_exit("objrmap", "ram", KMM_RUN_DETERMINISTIC);
	run_exit("ptechain", "host", KMM_RUN_DETERMINISTIC);
}

static void test_mremap_concurrent(void)
{
	run_mremap("objrmap", KMM_RUN_CONCURRENT);
	run_mremap("ptechain", KMM_RUN_CONCURRENT);
}

static void test_mremap_deterministic(void)
{
	run_mremap("objrmap", KMM_RUN_DETERMINISTIC);
	run_mremap("ptechain", KMM_RUN_DETERMINISTIC);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_exit_deterministic);
	run_test(test_mremap_deterministic);
	run_test(test_exit_concurrent);
	run_test(test_mremap_concurrent);
	return kmm_test_done();
}
