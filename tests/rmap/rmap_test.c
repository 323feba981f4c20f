/*
 * Reverse mapping, both designs (src/rmap/).
 *
 * - A random world: fork, exit, COW writes, reads, munmap, mprotect and
 *   mremap over up to ten tasks sharing anonymous, file (private and
 *   shared) and shared-anonymous memory; after every step the invariant
 *   checker (kmm_vm_validate, which runs rmap_validate: every mapped page's
 *   rmap walk finds exactly the PTEs a scan of every page table finds, map
 *   counts agree, chains well formed) must pass. page_referenced must
 *   report exactly the young PTEs a scan counts, try_to_unmap must leave
 *   none. The same seed on both designs must give the same results.
 * - try_to_unmap of anonymous pages: each PTE becomes the swap entry.
 * - page_referenced: counts, clearing, VM_LOCKED.
 * - pte chain shapes and their slab objects; anon_vma reuse over a long
 *   chain of fork-and-exit; page_move_anon_rmap on a reused page.
 * - Fault injection on pte_chain, anon_vma and anon_vma_chain allocations:
 *   a clean ENOMEM, nothing leaked.
 * - The checker can fail: a corrupted chain is reported.
 */
#include "vm/vm_util.h"
#include "rmap/internal.h"
#include <kmm/swapops.h>
#include <fcntl.h>
#include <unistd.h>

static const char *const designs[] = {"objrmap", "ptechain"};

static struct kmm_machine *boot(const char *design)
{
	char opts[128];
	snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 2 --rmap %s", design);
	return vm_boot(opts);
}

#define expect_int_ge(a, b) KMM_EXPECT_CMP_(long, "ld", a, >=, b, return )
#define expect_int_le(a, b) KMM_EXPECT_CMP_(long, "ld", a, <=, b, return )

/* The page @t maps at @addr, or NULL. */
static struct kmm_page *mapped_page(struct kmm_task *t, unsigned long addr, pte_t **ptepp)
{
	if (!t->mm)
		return NULL;
	pte_t *ptep = pte_lookup(t->mm, addr);
	if (!ptep || !pte_present(*ptep) || pte_special(*ptep))
		return NULL;
	if (ptepp)
		*ptepp = ptep;
	return pfn_to_page(t->machine, pte_pfn(*ptep));
}

static char tmp_path[64];

static struct kmm_file *make_file(struct kmm_machine *m, unsigned long pages)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/kmm-rmap-XXXXXX");
	int fd = mkstemp(tmp_path);
	if (fd < 0)
		return NULL;
	char buf[PAGE_SIZE];
	for (unsigned long i = 0; i < pages; i++) {
		memset(buf, 'A' + (int)(i % 26), sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return NULL;
	}
	close(fd);
	struct kmm_error err = {0};
	return kmm_file_open(m, tmp_path, KMM_O_RDWR, 0, &err);
}

/* --- The random world ------------------------------------------------------------------ */

#define MAXT	 10
#define NREG	 4
#define MAXPAGES 64

enum {
	R_ANON,
	R_FPRIV,
	R_FSHARED,
	R_SHMEM
};

struct region {
	unsigned long base, npages;
	uint64_t holes, ro; /* per page: unmapped, read-only */
};

struct wtask {
	struct kmm_task *t;
	struct region r[NREG];
};

struct world {
	struct kmm_machine *m;
	struct kmm_rng rng;
	struct wtask w[MAXT];
	int nt;
	struct kmm_file *file;
	uint64_t digest;
	unsigned long referenced_calls, unmap_calls;
	const char *why; /* the first failure */
	char msg[512];
};

static void mix(struct world *w, uint64_t v)
{
	w->digest = (w->digest ^ v) * 0x100000001b3ULL;
}

static void fail(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct world *w, const char *fmt, ...)
{
	if (w->why)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->why = w->msg;
}

static void drop_task(struct world *w, int i)
{
	kmm_task_reap(w->w[i].t);
	w->w[i] = w->w[--w->nt];
}

/* A random mapped, non-hole page of a random live task: 0 if none was found. */
static unsigned long pick(struct world *w, int *ti, int *ri, bool writable)
{
	for (int tries = 0; tries < 8; tries++) {
		int i = (int)kmm_rng_below(&w->rng, (uint64_t)w->nt);
		int r = (int)kmm_rng_below(&w->rng, NREG);
		struct region *rg = &w->w[i].r[r];
		if (!rg->npages)
			continue;
		unsigned long p = kmm_rng_below(&w->rng, rg->npages);
		if ((rg->holes >> p) & 1)
			continue;
		if (writable && ((rg->ro >> p) & 1))
			continue;
		*ti = i;
		*ri = r;
		return rg->base + p * PAGE_SIZE;
	}
	return 0;
}

/* How many live PTEs map @page with the accessed bit, by scanning every region. */
static int young_ptes(struct world *w, struct kmm_page *page, int *mapped)
{
	int young = 0;
	*mapped = 0;
	for (int i = 0; i < w->nt; i++)
		for (int r = 0; r < NREG; r++) {
			struct region *rg = &w->w[i].r[r];
			for (unsigned long p = 0; p < rg->npages; p++) {
				pte_t *ptep;
				if (mapped_page(w->w[i].t, rg->base + p * PAGE_SIZE, &ptep) != page)
					continue;
				(*mapped)++;
				young += pte_young(*ptep) ? 1 : 0;
			}
		}
	return young;
}

static void op_referenced(struct world *w)
{
	int ti, ri;
	unsigned long addr = pick(w, &ti, &ri, false);
	struct kmm_page *page = addr ? mapped_page(w->w[ti].t, addr, NULL) : NULL;
	if (!page)
		return;
	int mapped, young = young_ptes(w, page, &mapped);
	if (mapped != page_mapcount(page))
		fail(w, "page at %#lx: %d PTEs found, map count %d", addr, mapped,
		     page_mapcount(page));
	unsigned long flags;
	int ref = page_referenced(w->m, page, 0, &flags);
	if (ref != young)
		fail(w, "page_referenced of %#lx: %d, the page tables had %d young PTEs", addr, ref,
		     young);
	if (young_ptes(w, page, &mapped))
		fail(w, "page_referenced of %#lx left young PTEs", addr);
	if (ref && !(flags & VM_READ))
		fail(w, "page_referenced of %#lx: vm_flags %#lx without VM_READ", addr, flags);
	w->referenced_calls++;
	mix(w, (uint64_t)ref << 32 | (flags & (VM_READ | VM_WRITE | VM_SHARED)));
}

/* try_to_unmap of a file or shmem page: it is mapped nowhere afterwards. */
static void op_unmap_file(struct world *w)
{
	int ti, ri;
	unsigned long addr = pick(w, &ti, &ri, false);
	struct kmm_page *page = addr ? mapped_page(w->w[ti].t, addr, NULL) : NULL;
	if (!page || PageAnon(page))
		return;
	kmm_get_page(page);
	lock_page(page);
	bool ok = try_to_unmap(w->m, page, 0);
	int mapped;
	young_ptes(w, page, &mapped);
	if (!ok || page_mapped(page) || mapped)
		fail(w, "try_to_unmap of %#lx: %d, map count %d, %d PTEs left", addr, ok,
		     page_mapcount(page), mapped);
	unlock_page(page);
	vm_put_page(w->m, page);
	w->unmap_calls++;
	mix(w, ok ? 0x55 : 0xaa);
}

static void op_fork(struct world *w)
{
	if (w->nt == MAXT)
		return;
	int i = (int)kmm_rng_below(&w->rng, (uint64_t)w->nt);
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(w->w[i].t, (int)kmm_rng_below(&w->rng, 2), &err);
	if (!c) {
		fail(w, "fork: %s", err.msg);
		return;
	}
	w->w[w->nt] = w->w[i];
	w->w[w->nt++].t = c;
}

static void op_touch(struct world *w, bool write)
{
	int ti, ri;
	unsigned long addr = pick(w, &ti, &ri, write);
	if (!addr)
		return;
	int ret = kmm_touch(w->w[ti].t, addr, 1, write ? KMM_TOUCH_WRITE : KMM_TOUCH_READ);
	if (ret)
		fail(w, "touch %#lx (%s) of region %d: %d", addr, write ? "write" : "read", ri,
		     ret);
}

static void op_munmap(struct world *w)
{
	int ti, ri;
	unsigned long addr = pick(w, &ti, &ri, false);
	if (!addr)
		return;
	struct region *rg = &w->w[ti].r[ri];
	unsigned long p = (addr - rg->base) / PAGE_SIZE;
	unsigned long n = 1 + kmm_rng_below(&w->rng, 3);
	if (p + n > rg->npages)
		n = rg->npages - p;
	int ret = kmm_munmap(w->w[ti].t, addr, n * PAGE_SIZE);
	mix(w, (uint64_t)ret);
	if (!ret)
		rg->holes |= ((1ULL << n) - 1) << p;
}

static void op_mprotect(struct world *w)
{
	int ti, ri;
	unsigned long addr = pick(w, &ti, &ri, false);
	if (!addr)
		return;
	struct region *rg = &w->w[ti].r[ri];
	unsigned long p = (addr - rg->base) / PAGE_SIZE;
	unsigned long n = 1 + kmm_rng_below(&w->rng, 4);
	if (p + n > rg->npages)
		n = rg->npages - p;
	uint64_t mask = ((1ULL << n) - 1) << p;
	if (rg->holes & mask)
		return;
	bool ro = kmm_rng_below(&w->rng, 2);
	int ret = kmm_mprotect(w->w[ti].t, addr, n * PAGE_SIZE,
			       KMM_PROT_READ | (ro ? 0 : KMM_PROT_WRITE));
	mix(w, (uint64_t)ret);
	if (!ret)
		rg->ro = ro ? rg->ro | mask : rg->ro & ~mask;
}

/* Grow or shrink a whole region with MREMAP_MAYMOVE (anonymous and file ones). */
static void op_mremap(struct world *w)
{
	int i = (int)kmm_rng_below(&w->rng, (uint64_t)w->nt);
	int r = (int)kmm_rng_below(&w->rng, 3);
	struct region *rg = &w->w[i].r[r];
	if (!rg->npages || rg->holes)
		return;
	unsigned long n = 4 + kmm_rng_below(&w->rng, 29); /* 4..32 pages: files have room */
	long ret = kmm_mremap(w->w[i].t, rg->base, rg->npages * PAGE_SIZE, n * PAGE_SIZE,
			      KMM_MREMAP_MAYMOVE, 0);
	mix(w, ret < 0 ? (uint64_t)ret : 1);
	if (ret < 0)
		return;
	uint64_t ro0 = rg->ro & 1;
	if (n > rg->npages && ro0)
		rg->ro |= ((1ULL << n) - 1) & ~((1ULL << rg->npages) - 1);
	rg->ro &= (n == 64) ? ~0ULL : (1ULL << n) - 1;
	rg->base = (unsigned long)ret;
	rg->npages = n;
}

static void op_exit(struct world *w)
{
	if (w->nt <= 2)
		return;
	drop_task(w, 1 + (int)kmm_rng_below(&w->rng, (uint64_t)w->nt - 1));
}

static int world_setup(struct world *w, const char *design, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	kmm_rng_seed(&w->rng, seed);
	w->digest = 0xcbf29ce484222325ULL;
	w->m = boot(design);
	if (!w->m)
		return -1;
	w->file = make_file(w->m, 128);
	struct kmm_task *t = vm_task(w->m, "world", 0);
	if (!w->file || !t)
		return -1;
	w->w[0].t = t;
	w->nt = 1;
	const int rw = KMM_PROT_READ | KMM_PROT_WRITE;
	long a = kmm_mmap(t, 0, 32 * PAGE_SIZE, rw, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	long fp = kmm_mmap(t, 0, 32 * PAGE_SIZE, rw, KMM_MAP_PRIVATE, w->file, 0);
	long fs = kmm_mmap(t, 0, 32 * PAGE_SIZE, rw, KMM_MAP_SHARED, w->file, 64 * PAGE_SIZE);
	long sh = kmm_mmap(t, 0, 16 * PAGE_SIZE, rw, KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0 || fp < 0 || fs < 0 || sh < 0)
		return -1;
	w->w[0].r[R_ANON] = (struct region){(unsigned long)a, 32, 0, 0};
	w->w[0].r[R_FPRIV] = (struct region){(unsigned long)fp, 32, 0, 0};
	w->w[0].r[R_FSHARED] = (struct region){(unsigned long)fs, 32, 0, 0};
	w->w[0].r[R_SHMEM] = (struct region){(unsigned long)sh, 16, 0, 0};
	/* Some pages in before the first fork, so the children share them. */
	kmm_touch(t, (unsigned long)a, 16 * PAGE_SIZE, KMM_TOUCH_WRITE);
	kmm_touch(t, (unsigned long)fp, 8 * PAGE_SIZE, KMM_TOUCH_READ);
	kmm_touch(t, (unsigned long)fs, 8 * PAGE_SIZE, KMM_TOUCH_WRITE);
	kmm_touch(t, (unsigned long)sh, 8 * PAGE_SIZE, KMM_TOUCH_WRITE);
	return 0;
}

static void world_teardown(struct world *w)
{
	while (w->nt)
		drop_task(w, w->nt - 1);
	if (w->file)
		kmm_file_close(w->file);
	unlink(tmp_path);
}

/* Run @steps random steps; the validator after each. Returns the digest (0: failed). */
static uint64_t run_world(const char *design, uint64_t seed, unsigned long steps)
{
	static struct world w;
	if (world_setup(&w, design, seed)) {
		KMM_EXPECT_FAIL_("%s: world setup failed", design);
		return 0;
	}
	unsigned long free0 = 0;
	for (unsigned long s = 0; s < steps && !w.why; s++) {
		unsigned long dice = kmm_rng_below(&w.rng, 100);
		if (dice < 30)
			op_touch(&w, true);
		else if (dice < 45)
			op_touch(&w, false);
		else if (dice < 55)
			op_fork(&w);
		else if (dice < 61)
			op_exit(&w);
		else if (dice < 67)
			op_munmap(&w);
		else if (dice < 75)
			op_mprotect(&w);
		else if (dice < 80)
			op_mremap(&w);
		else if (dice < 93)
			op_referenced(&w);
		else
			op_unmap_file(&w);
		struct kmm_error e = {0};
		if (!w.why && kmm_vm_validate(w.m, &e))
			fail(&w, "step %lu: %s", s, e.msg);
	}
	uint64_t digest = w.digest;
	if (w.why) {
		KMM_EXPECT_FAIL_("%s, seed %" PRIu64 ": %s", design, seed, w.why);
		digest = 0;
	}
	world_teardown(&w);
	/* Everything went: no rmap object is left behind. */
	if (digest) {
		check_u64_eq(rmap_bytes(w.m), 0);
		free0 = vm_free_pages(w.m);
		check_u64_eq(atomic_long_read(&vm_state(w.m)->nr_table_pages), 0);
	}
	(void)free0;
	kmm_machine_destroy(w.m);
	printf("  %s: %lu page_referenced, %lu try_to_unmap, digest %016" PRIx64 "\n", design,
	       w.referenced_calls, w.unmap_calls, digest);
	return digest;
}

static void test_random_objrmap(void)
{
	run_world("objrmap", kmm_test_seed, 800 * kmm_test_scale);
}

static void test_random_ptechain(void)
{
	run_world("ptechain", kmm_test_seed + 1, 800 * kmm_test_scale);
}

/* The same workload on both designs: the same page_referenced and try_to_unmap results. */
static void test_designs_agree(void)
{
	uint64_t a = run_world("objrmap", kmm_test_seed + 2, 400 * kmm_test_scale);
	uint64_t b = run_world("ptechain", kmm_test_seed + 2, 400 * kmm_test_scale);
	expect_u64_ne(a, 0);
	expect_x64_eq(a, b);
}

/* --- Directed tests ------------------------------------------------------------------------- */

#define NPAGES 8

/* A parent with NPAGES written anonymous pages and @nchildren forked children. */
static struct kmm_task *family(struct kmm_machine *m, long *addr, struct kmm_task **kids,
			       int nchildren)
{
	struct kmm_task *p = vm_task(m, "parent", 0);
	if (!p)
		return NULL;
	*addr = kmm_mmap(p, 0, NPAGES * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			 KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (*addr < 0 || kmm_touch(p, (unsigned long)*addr, NPAGES * PAGE_SIZE, KMM_TOUCH_WRITE))
		return NULL;
	for (int i = 0; i < nchildren; i++) {
		struct kmm_error err = {0};
		kids[i] = kmm_task_fork(p, i % 2, &err);
		if (!kids[i])
			return NULL;
	}
	return p;
}

static void try_to_unmap_anon(const char *design)
{
	struct kmm_machine *m = boot(design);
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *kids[3];
	long a;
	struct kmm_task *p = family(m, &a, kids, 3);
	expect_ptr_not_null(p);
	/* Child 0 copies page 0: that copy is its own, the original stays with the others. */
	expect_int_eq(kmm_touch(kids[0], (unsigned long)a, 1, KMM_TOUCH_WRITE), 0);
	struct kmm_task *all[4] = {p, kids[0], kids[1], kids[2]};
	for (unsigned long i = 0; i < NPAGES; i++) {
		unsigned long addr = (unsigned long)a + i * PAGE_SIZE;
		struct kmm_page *page = mapped_page(p, addr, NULL);
		expect_ptr_not_null(page);
		expect_int_eq(page_mapcount(page), i == 0 ? 3 : 4);
		/* What add_to_swap would have done: the page is in the swap cache. */
		swp_entry_t entry = swp_entry(1, 100 + i);
		kmm_get_page(page);
		lock_page(page);
		SetPageSwapCache(page);
		page->private = entry.val;
		expect_true(try_to_unmap(m, page, 0));
		expect_int_eq(page_mapcount(page), 0);
		for (int t = 0; t < 4; t++) {
			if (i == 0 && t == 1) { /* the child's own copy is not this page */
				expect_true(mapped_page(all[t], addr, NULL) != NULL);
				continue;
			}
			pte_t *ptep = pte_lookup(all[t]->mm, addr);
			expect_ptr_not_null(ptep);
			expect_x64_eq(*ptep, swp_entry_to_pte(entry));
		}
		ClearPageSwapCache(page);
		page->private = 0;
		unlock_page(page);
		vm_put_page(m, page); /* the last reference: the page is free */
	}
	expect_int_eq(get_mm_counter(p->mm, MM_SWAPENTS), NPAGES);
	expect_int_eq(get_mm_counter(kids[0]->mm, MM_SWAPENTS), NPAGES - 1);
	expect_int_eq(get_mm_counter(kids[0]->mm, MM_ANONPAGES), 1);
	expect_vm_valid(m);
	for (int t = 3; t >= 0; t--)
		kmm_task_reap(all[t]);
	expect_vm_valid(m);
	expect_u64_eq(rmap_bytes(m), 0);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static void test_try_to_unmap_anon(void)
{
	for (int d = 0; d < 2; d++)
		try_to_unmap_anon(designs[d]);
}

/* Of the PTEs at @addr in @p and @kids, those mapping @page (*@mapped) and the young ones. */
static int count_young(unsigned long addr, struct kmm_page *page, struct kmm_task *p,
		       struct kmm_task **kids, int nkids, int *mapped)
{
	int young = 0;
	*mapped = 0;
	for (int t = -1; t < nkids; t++) {
		pte_t *ptep;
		if (mapped_page(t < 0 ? p : kids[t], addr, &ptep) != page)
			continue;
		(*mapped)++;
		young += pte_young(*ptep) ? 1 : 0;
	}
	return young;
}

static void page_referenced_counts(const char *design)
{
	struct kmm_machine *m = boot(design);
	expect_ptr_not_null(m);
	struct kmm_task *kids[4];
	long a;
	struct kmm_task *p = family(m, &a, kids, 4);
	expect_ptr_not_null(p);
	struct kmm_page *page = mapped_page(p, (unsigned long)a + PAGE_SIZE, NULL);
	expect_ptr_not_null(page);
	unsigned long flags;
	/* The parent's write left its PTE young; fork copies the young bit (copy_present_pte). */
	int first = page_referenced(m, page, 0, &flags);
	expect_int_ge(first, 1);
	expect_true(flags & VM_WRITE);
	expect_int_eq(page_referenced(m, page, 0, &flags), 0);
	expect_x64_eq(flags, 0);
	/* Two children read it: two young PTEs. */
	kmm_touch(kids[1], (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	kmm_touch(kids[3], (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	expect_int_eq(page_referenced(m, page, 1, &flags), 2);
	/*
	 * Reclaim inside a task that holds its mmap_lock for writing (mmap
	 * allocating its VMA) still sees that task's mappings, on both designs:
	 * a pte-chain walk that needed the lock counted the page referenced on
	 * contention instead (1 here), where objrmap's walk counts 2.
	 */
	kmm_touch(kids[1], (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	kmm_touch(kids[3], (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	mmap_write_lock(kids[1]->mm);
	expect_int_eq(page_referenced(m, page, 1, &flags), 2);
	int mapped;
	expect_int_eq(count_young((unsigned long)a + PAGE_SIZE, page, p, kids, 4, &mapped), 0);
	mmap_write_unlock(kids[1]->mm);
	/* An mlocked mapping says so (read-only first: mlock would copy). */
	expect_int_eq(kmm_mprotect(kids[2], (unsigned long)a, NPAGES * PAGE_SIZE, KMM_PROT_READ),
		      0);
	expect_int_eq(kmm_mlock(kids[2], (unsigned long)a, NPAGES * PAGE_SIZE), 0);
	expect_ptr_eq(mapped_page(kids[2], (unsigned long)a + PAGE_SIZE, NULL), page);
	/*
	 * Every PTE young: the walk goes past the locked mapping whatever the
	 * order it meets it in, clears the other four bits and counts them, and
	 * leaves the locked PTE's bit (so both designs leave the same bits).
	 */
	kmm_touch(p, (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	for (int k = 0; k < 4; k++)
		kmm_touch(kids[k], (unsigned long)a + PAGE_SIZE, 1, KMM_TOUCH_READ);
	expect_int_eq(count_young((unsigned long)a + PAGE_SIZE, page, p, kids, 4, &mapped), 5);
	expect_int_eq(mapped, 5);
	expect_int_eq(page_referenced(m, page, 0, &flags), 4);
	expect_true(flags & VM_LOCKED);
	expect_true(PageMlocked(page));
	expect_int_eq(count_young((unsigned long)a + PAGE_SIZE, page, p, kids, 4, &mapped), 1);
	pte_t *locked_ptep;
	expect_ptr_eq(mapped_page(kids[2], (unsigned long)a + PAGE_SIZE, &locked_ptep), page);
	expect_true(pte_young(*locked_ptep));
	/* try_to_unmap: the locked PTE stays, every other one goes (any order). */
	swp_entry_t entry = swp_entry(1, 200);
	kmm_get_page(page);
	lock_page(page);
	SetPageSwapCache(page);
	page->private = entry.val;
	expect_false(try_to_unmap(m, page, 0));
	expect_int_eq(page_mapcount(page), 1);
	expect_ptr_eq(mapped_page(kids[2], (unsigned long)a + PAGE_SIZE, NULL), page);
	struct kmm_task *others[4] = {p, kids[0], kids[1], kids[3]};
	for (int t = 0; t < 4; t++) {
		pte_t *ptep = pte_lookup(others[t]->mm, (unsigned long)a + PAGE_SIZE);
		expect_ptr_not_null(ptep);
		expect_x64_eq(*ptep, swp_entry_to_pte(entry));
	}
	ClearPageSwapCache(page);
	page->private = 0;
	unlock_page(page);
	vm_put_page(m, page);
	expect_vm_valid(m);
	for (int t = 3; t >= 0; t--)
		kmm_task_reap(kids[t]);
	kmm_task_reap(p);
	kmm_machine_destroy(m);
}

static void test_page_referenced(void)
{
	for (int d = 0; d < 2; d++)
		page_referenced_counts(designs[d]);
}

/* One page mapped by 1..20 tasks: direct, then ceil(n / 7) pte_chain blocks. */
static void test_pte_chain_shape(void)
{
	struct kmm_machine *m = boot("ptechain");
	expect_ptr_not_null(m);
	struct kmm_task *kids[20];
	long a;
	struct kmm_task *p = family(m, &a, kids, 0);
	expect_ptr_not_null(p);
	struct kmm_page *page = mapped_page(p, (unsigned long)a, NULL);
	expect_true(PageDirect(page));
	expect_int_eq(rmap_objects(m, RMAP_PTE_CHAIN), 0);
	for (int n = 0; n < 20; n++) {
		struct kmm_error err = {0};
		kids[n] = kmm_task_fork(p, 0, &err);
		expect_ptr_not_null(kids[n]);
		int maps = n + 2;
		expect_int_eq(page_mapcount(page), maps);
		expect_false(PageDirect(page));
		/* Every page of the parent's region has the same number of mappings. */
		expect_int_eq(rmap_objects(m, RMAP_PTE_CHAIN), NPAGES * ((maps + 6) / 7));
	}
	expect_vm_valid(m);
	for (int n = 19; n >= 0; n--) {
		kmm_task_reap(kids[n]);
		int maps = n + 1;
		expect_int_eq(page_mapcount(page), maps);
		expect_int_eq(PageDirect(page), maps == 1);
		expect_int_eq(rmap_objects(m, RMAP_PTE_CHAIN),
			      maps == 1 ? 0 : NPAGES * ((maps + 6) / 7));
		if (n % 5 == 0)
			expect_vm_valid(m);
	}
	kmm_task_reap(p);
	expect_false(PageDirect(page));
	kmm_machine_destroy(m);
}

/*
 * A chain of 40 generations, each forking the next, writing its pages and
 * exiting: without anon_vma reuse every generation would add a link to
 * every child; with it the chains stay short.
 */
static void test_anon_vma_reuse(void)
{
	struct kmm_machine *m = boot("objrmap");
	expect_ptr_not_null(m);
	struct kmm_task *kids[1];
	long a;
	struct kmm_task *t = family(m, &a, kids, 0);
	expect_ptr_not_null(t);
	long max_avc = 0, max_av = 0;
	for (int g = 0; g < 40; g++) {
		struct kmm_error err = {0};
		struct kmm_task *c = kmm_task_fork(t, g % 2, &err);
		expect_ptr_not_null(c);
		expect_int_eq(kmm_touch(c, (unsigned long)a, NPAGES * PAGE_SIZE, KMM_TOUCH_WRITE),
			      0);
		kmm_task_reap(t);
		t = c;
		long avc = rmap_objects(m, RMAP_ANON_VMA_CHAIN),
		     av = rmap_objects(m, RMAP_ANON_VMA);
		max_avc = avc > max_avc ? avc : max_avc;
		max_av = av > max_av ? av : max_av;
	}
	expect_vm_valid(m);
	/* Linux 4.1's bound: a reused ancestor keeps the chain at two or three links. */
	expect_int_le(max_avc, 4);
	expect_int_le(max_av, 4);
	kmm_task_reap(t);
	expect_int_eq(rmap_objects(m, RMAP_ANON_VMA_CHAIN), 0);
	expect_int_eq(rmap_objects(m, RMAP_ANON_VMA), 0);
	kmm_machine_destroy(m);
}

static bool count_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
		      pte_t *ptep, void *arg)
{
	(void)page, (void)vma, (void)address, (void)ptep;
	++*(int *)arg;
	return true;
}

/* Walk @page: the PTEs found in *@found, the mappings looked at returned. */
static unsigned long walk_cost(struct kmm_machine *m, struct kmm_page *page, int *found)
{
	*found = 0;
	struct rmap_walk_control rwc = {.arg = found, .rmap_one = count_one};
	kmm_get_page(page);
	rmap_walk(m, page, &rwc);
	vm_put_page(m, page);
	return rwc.visited;
}

/*
 * page_move_anon_rmap: a page made by a parent that exited, left mapped by
 * one of its two children only, moves to that child's own anon_vma when
 * the child writes it (a reuse, not a copy); the walk then looks at one
 * VMA instead of every VMA of the fork tree.
 */
static void move_anon_rmap(const char *design)
{
	struct kmm_machine *m = boot(design);
	expect_ptr_not_null(m);
	struct kmm_task *kids[2];
	long a;
	struct kmm_task *p = family(m, &a, kids, 2);
	expect_ptr_not_null(p);
	struct kmm_anon_vma *parent_av = find_vma(p->mm, (unsigned long)a)->anon_vma;
	kmm_task_reap(p);
	/* Child 1 copies page 0; the original is now mapped by child 0 only. */
	expect_int_eq(kmm_touch(kids[1], (unsigned long)a, 1, KMM_TOUCH_WRITE), 0);
	struct kmm_page *page = mapped_page(kids[0], (unsigned long)a, NULL);
	expect_ptr_not_null(page);
	expect_int_eq(page_mapcount(page), 1);
	expect_ptr_eq(page_anon_vma(page), parent_av);
	int found;
	bool obj = !strcmp(design, "objrmap");
	/* objrmap looks at both children's VMAs (the parent's anon_vma lists them), ptechain at one PTE. */
	expect_u64_eq(walk_cost(m, page, &found), obj ? 2 : 1);
	expect_int_eq(found, 1);

	struct kmm_vma *vma = find_vma(kids[0]->mm, (unsigned long)a);
	unsigned long reuse0 = sum_vm_event(m, PGREUSE);
	expect_int_eq(kmm_touch(kids[0], (unsigned long)a, 1, KMM_TOUCH_WRITE), 0);
	expect_u64_eq(sum_vm_event(m, PGREUSE), reuse0 + 1);
	expect_ptr_eq(mapped_page(kids[0], (unsigned long)a, NULL), page);
	/* objrmap: the child's own anon_vma now; ptechain: the family's marker stays. */
	expect_ptr_eq(page_anon_vma(page), obj ? vma->anon_vma : parent_av);
	expect_true(!obj || vma->anon_vma != parent_av);
	expect_u64_eq(walk_cost(m, page, &found), 1);
	expect_int_eq(found, 1);
	/* Page 1 was not written: still the parent's, both children map it. */
	struct kmm_page *page1 = mapped_page(kids[0], (unsigned long)a + PAGE_SIZE, NULL);
	expect_ptr_eq(page_anon_vma(page1), parent_av);
	expect_u64_eq(walk_cost(m, page1, &found), 2);
	expect_int_eq(found, 2);
	expect_vm_valid(m);
	kmm_task_reap(kids[1]);
	kmm_task_reap(kids[0]);
	expect_u64_eq(rmap_bytes(m), 0);
	kmm_machine_destroy(m);
}

static void test_move_anon_rmap(void)
{
	for (int d = 0; d < 2; d++)
		move_anon_rmap(designs[d]);
}

/*
 * fork and a first write with the nth slab allocation failing, n = 1, 2,
 * ...; @mem: the rmap objects from slab ("ram") or host memory, where
 * failslab reaches them too.
 */
static void fail_injection(const char *design, const char *mem)
{
	char opts[128];
	snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 2 --rmap %s --rmap-mem %s", design,
		 mem);
	struct kmm_machine *m = vm_boot(opts);
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *kids[2];
	long a;
	struct kmm_task *p = family(m, &a, kids, 2);
	expect_ptr_not_null(p);
	struct kmm_fault_attr *attr = &m->failslab;
	unsigned long n, failures = 0;
	struct kmm_task *c = NULL;
	for (n = 1; n < 500 && !c; n++) {
		struct kmm_error err = {0};
		attr->nth = n;
		attr->calls = 0;
		attr->times = -1;
		attr->probability = 0;
		WRITE_ONCE(attr->enabled, true);
		c = kmm_task_fork(p, 1, &err);
		WRITE_ONCE(attr->enabled, false);
		if (!c) {
			failures++;
			expect_str_contains(err.msg, "memory");
			expect_vm_valid(m);
		}
	}
	expect_ptr_not_null(c);
	expect_u64_gt(failures, 2); /* fork needs several objects of both designs' caches */
	/* A first anonymous write in a new mapping needs an anon_vma (objrmap: and a chain). */
	long b = kmm_mmap(c, 0x10000000, PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_FIXED, NULL, 0);
	expect_true(b > 0);
	attr->nth = 1;
	attr->calls = 0;
	WRITE_ONCE(attr->enabled, true);
	int ret = kmm_touch(c, (unsigned long)b, 1, KMM_TOUCH_WRITE);
	WRITE_ONCE(attr->enabled, false);
	expect_int_eq(ret, -ENOMEM);
	expect_int_eq(kmm_task_state(c), KMM_TASK_RUNNING);
	expect_int_eq(kmm_touch(c, (unsigned long)b, 1, KMM_TOUCH_WRITE), 0);
	expect_vm_valid(m);
	kmm_task_reap(c);
	kmm_task_reap(kids[1]);
	kmm_task_reap(kids[0]);
	kmm_task_reap(p);
	expect_vm_valid(m);
	expect_u64_eq(rmap_bytes(m), 0);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static void test_fail_injection(void)
{
	for (int d = 0; d < 2; d++) {
		fail_injection(designs[d], "ram");
		fail_injection(designs[d], "host");
	}
}

/* The checker fails on a broken rmap: a chain that lost an entry, a wrong map count. */
static void test_checker_catches(void)
{
	for (int d = 0; d < 2; d++) {
		struct kmm_machine *m = boot(designs[d]);
		expect_ptr_not_null(m);
		struct kmm_task *kids[2];
		long a;
		struct kmm_task *p = family(m, &a, kids, 2);
		expect_ptr_not_null(p);
		struct kmm_page *page = mapped_page(p, (unsigned long)a, NULL);
		struct kmm_error e = {0};
		expect_int_eq(kmm_rmap_validate(m, &e), 0);
		atomic_inc(&page->_mapcount);
		expect_int_eq(kmm_rmap_validate(m, &e), -EINVAL);
		expect_str_contains(e.msg, "map count 4, 3 PTEs");
		atomic_dec(&page->_mapcount);
		if (d == 1) { /* swap two entries' worth: point one at the wrong PTE */
			struct kmm_pte_chain *pc = page->pte.chain;
			pte_t *saved = pc->ptes[1];
			pc->ptes[1] = pc->ptes[0];
			e = (struct kmm_error){0};
			expect_int_eq(kmm_rmap_validate(m, &e), -EINVAL);
			expect_str_contains(e.msg, "rmap_walk found");
			pc->ptes[1] = saved;
		} else { /* an anon_vma_chain that lost its VMA */
			struct kmm_vma *vma = find_vma(kids[1]->mm, (unsigned long)a);
			struct anon_vma_chain *avc =
			    list_first_entry(&vma->anon_vma_chain, struct anon_vma_chain, same_vma);
			avc->vma = NULL;
			e = (struct kmm_error){0};
			expect_int_eq(kmm_rmap_validate(m, &e), -EINVAL);
			expect_str_contains(e.msg, "anon_vma_chain");
			avc->vma = vma;
		}
		expect_int_eq(kmm_rmap_validate(m, &e), 0);
		kmm_task_reap(kids[1]);
		kmm_task_reap(kids[0]);
		kmm_task_reap(p);
		kmm_machine_destroy(m);
	}
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_random_objrmap);
	run_test(test_random_ptechain);
	run_test(test_designs_agree);
	run_test(test_try_to_unmap_anon);
	run_test(test_page_referenced);
	run_test(test_pte_chain_shape);
	run_test(test_anon_vma_reuse);
	run_test(test_move_anon_rmap);
	run_test(test_fail_injection);
	run_test(test_checker_catches);
	return kmm_test_done();
}
