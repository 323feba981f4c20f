/*
 * The page allocator's trace points: they fire where Linux 6.1 fires them,
 * with the fields of what happened.
 *
 * Each test enables events through kmm's ftrace formatter and records the
 * arguments of every event from its context hook. Fixed scenarios check
 * the exact sequence (a buddy allocation's mm_page_alloc_zone_locked then
 * mm_page_alloc; a per-CPU refill, the pops, the drain; bulk frees; a
 * failed allocation's NULL page; a pageblock steal's extfrag record). A
 * randomized test checks after every step that the events account for
 * every page that moved: the buddy lists' free count changes by the pages
 * drained from per-CPU lists, plus those freed straight to the buddy, minus
 * those taken under the zone lock; the per-CPU lists change by what was
 * refilled and freed to them, minus what was allocated and drained.
 */
#include "kmm_test.h"
#include <errno.h>
#include <kmm/kmm.h>
#include <kmm/ftrace.h>
#include "page/internal.h"

struct rec {
	enum kmm_trace_event ev;
	uint64_t a[13];
	char flags[6];
};

struct recorder {
	struct kmm_machine *m;
	struct kmm_ftrace *ft;
	FILE *sink;
	struct rec *recs;
	size_t n, cap;
	unsigned long bad_ownership; /* extfrag records whose change_ownership was wrong */
};

static void record(void *arg, struct kmm_machine *m, enum kmm_trace_event ev, const uint64_t *args,
		   struct kmm_ftrace_ctx *ctx)
{
	struct recorder *r = arg;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->recs = realloc(r->recs, r->cap * sizeof(*r->recs));
		if (!r->recs)
			abort();
	}
	struct rec *x = &r->recs[r->n++];
	x->ev = ev;
	memcpy(x->a, args, kmm_trace_event_nargs[ev] * sizeof(uint64_t));
	memcpy(x->flags, ctx->flags, sizeof(x->flags));
	/* change_ownership: the pageblock is the allocation's type after the steal. */
	if (ev == KMM_TRACE_MM_PAGE_ALLOC_EXTFRAG) {
		struct kmm_page *page = pfn_to_page(m, args[0]);
		int mt = get_pfnblock_migratetype(page_zone(m, page), args[0]);
		if ((mt == (int)args[3]) != (args[5] != 0))
			r->bad_ownership++;
	}
}

static struct kmm_machine *boot(const char *options)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	char buf[256], *argv[16];
	int argc = 0;
	kmm_config_init(&cfg);
	cfg.quiet = true;
	cfg.seed = kmm_test_seed;
	snprintf(buf, sizeof(buf), "%s", options);
	for (char *tok = strtok(buf, " "); tok && argc < 16; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (kmm_config_parse_args(&cfg, argc, argv, &err) || kmm_config_finish(&cfg, &err)) {
		fprintf(stderr, "config: %s\n", err.msg);
		return NULL;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m)
		fprintf(stderr, "boot: %s\n", err.msg);
	else
		kmm_wait_for_init(m);
	return m;
}

static bool rec_open(struct recorder *r, const char *machine, const char *events)
{
	memset(r, 0, sizeof(*r));
	r->m = boot(machine);
	r->sink = fopen("/dev/null", "w");
	if (!r->m || !r->sink)
		return false;
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {.events = events,
				    .out = r->sink,
				    .style = KMM_FTRACE_PIPE,
				    .hook_arg = r,
				    .context = record};
	r->ft = kmm_ftrace_open(r->m, &o, &err);
	if (!r->ft)
		fprintf(stderr, "ftrace: %s\n", err.msg);
	return r->ft != NULL;
}

static void rec_close(struct recorder *r)
{
	struct kmm_error err = {0};
	if (kmm_this_cpu(r->m))
		kmm_cpu_exit(r->m);
	if (r->ft)
		kmm_ftrace_close(r->ft, &err);
	if (r->sink)
		fclose(r->sink);
	if (r->m)
		kmm_machine_destroy(r->m);
	free(r->recs);
}

static size_t count(const struct recorder *r, enum kmm_trace_event ev)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->recs[i].ev == ev;
	return n;
}

static int expected_mt(gfp_t gfp)
{
	if (gfp & __GFP_MOVABLE)
		return MIGRATE_MOVABLE;
	return gfp & __GFP_RECLAIMABLE ? MIGRATE_RECLAIMABLE : MIGRATE_UNMOVABLE;
}

static unsigned long pcp_pages(struct kmm_machine *m)
{
	unsigned long n = 0;
	int nid;
	struct kmm_zone *zone;
	for_each_populated_zone (m, nid, zone)
		if (zone->per_cpu_pageset)
			for (int c = 0; c < m->nr_cpus; c++)
				n += (unsigned long)zone->per_cpu_pageset[c].count;
	return n;
}

/* A buddy allocation with no CPU: the block leaves the zone, then is handed out. */
static void test_buddy_alloc_free(void)
{
	struct recorder r;
	/* A fresh machine's first unmovable block is stolen: leave extfrag out here. */
	if (!rec_open(&r, "--mem 128M --nodes 1 --cpus 2", "kmem:*,!mm_page_alloc_extfrag")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	gfp_t gfp = GFP_KERNEL | __GFP_ZERO;
	struct kmm_page *page = kmm_alloc_pages(m, gfp, 2);
	expect_ptr_not_null(page);
	unsigned long pfn = page_to_pfn(m, page);
	expect_u64_eq(r.n, 2);
	struct rec *zl = &r.recs[0], *al = &r.recs[1];
	expect_int_eq(zl->ev, KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED);
	expect_u64_eq(zl->a[0], pfn);
	expect_u64_eq(zl->a[1], 2);
	expect_u64_eq(zl->a[2], MIGRATE_UNMOVABLE);
	expect_u64_eq(zl->a[3], 1); /* Linux: pcp_allowed_order(order) && pcp migratetype */
	expect_str_eq(zl->flags, "d..3.");
	expect_int_eq(al->ev, KMM_TRACE_MM_PAGE_ALLOC);
	expect_u64_eq(al->a[0], pfn);
	expect_u64_eq(al->a[1], 2);
	expect_x64_eq(al->a[2], gfp);
	expect_u64_eq(al->a[3], MIGRATE_UNMOVABLE);
	expect_str_eq(al->flags, ".....");

	/* An order the per-CPU lists do not keep: allocated and freed through the buddy. */
	struct kmm_page *big = kmm_alloc_pages(m, GFP_HIGHUSER_MOVABLE, 5);
	expect_ptr_not_null(big);
	expect_u64_eq(r.n, 4);
	expect_u64_eq(r.recs[2].a[3], 0); /* order 5 never refills a per-CPU list */
	expect_str_eq(r.recs[2].flags, "d..1.");
	expect_u64_eq(r.recs[3].a[3], MIGRATE_MOVABLE);

	r.n = 0;
	kmm_free_pages(m, page, 2);
	kmm_free_pages(m, big, 5);
	expect_u64_eq(r.n, 2);
	expect_int_eq(r.recs[0].ev, KMM_TRACE_MM_PAGE_FREE);
	expect_u64_eq(r.recs[0].a[0], pfn);
	expect_u64_eq(r.recs[0].a[1], 2);
	expect_u64_eq(r.recs[1].a[0], page_to_pfn(m, big));
	expect_u64_eq(r.recs[1].a[1], 5);
	rec_close(&r);
}

/* On a CPU: a refill of the per-CPU list, pops without the zone lock, then a drain. */
static void test_pcp_refill_and_drain(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 256M --nodes 1 --cpus 2", "mm_page_*")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	kmm_cpu_enter(m, 1);
	enum {
		N = 100
	};
	struct kmm_page *pages[N];
	gfp_t gfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP;
	for (int i = 0; i < N; i++) {
		pages[i] = kmm_alloc_pages(m, gfp, 0);
		expect_ptr_not_null(pages[i]);
	}
	/* The first allocation refilled the list, and got the first page refilled. */
	size_t refills = count(&r, KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED);
	expect_u64_ge(refills, N);
	expect_int_eq(r.recs[0].ev, KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED);
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_ALLOC), N);
	size_t k = 0;
	for (size_t i = 0; i < r.n; i++) {
		struct rec *x = &r.recs[i];
		if (x->ev == KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED) {
			expect_u64_eq(x->a[1], 0);
			expect_u64_eq(x->a[2], MIGRATE_MOVABLE);
			expect_u64_eq(x->a[3], 1);
			continue;
		}
		expect_int_eq(x->ev, KMM_TRACE_MM_PAGE_ALLOC);
		expect_u64_eq(x->a[0], page_to_pfn(m, pages[k]));
		expect_x64_eq(x->a[2], gfp);
		expect_u64_eq(x->a[3], MIGRATE_MOVABLE);
		k++;
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.recs[i].ev == KMM_TRACE_MM_PAGE_ALLOC) {
			expect_u64_eq(r.recs[i].a[0], r.recs[0].a[0]);
			break;
		}
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_PCPU_DRAIN), 0);

	r.n = 0;
	for (int i = 0; i < N; i++)
		kmm_free_pages(m, pages[i], 0);
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_FREE), N);
	unsigned long on_lists = pcp_pages(m);
	size_t trimmed = count(&r, KMM_TRACE_MM_PAGE_PCPU_DRAIN);
	/* Every refilled page is now on the list or was trimmed back. */
	expect_u64_eq(on_lists + trimmed, refills);

	r.n = 0;
	kmm_drain_all_pages(m);
	expect_u64_eq(r.n, on_lists);
	expect_u64_eq(pcp_pages(m), 0);
	for (size_t i = 0; i < r.n; i++) {
		expect_int_eq(r.recs[i].ev, KMM_TRACE_MM_PAGE_PCPU_DRAIN);
		expect_u64_eq(r.recs[i].a[1], 0);
		expect_u64_eq(r.recs[i].a[2], MIGRATE_MOVABLE);
	}
	rec_close(&r);
}

/* Linux's bulk allocator traces only its refills; its bulk free traces each page twice. */
static void test_bulk(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 256M --nodes 1 --cpus 1", "kmem:*")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	kmm_cpu_enter(m, 0);
	enum {
		N = 40
	};
	struct kmm_page *pages[N] = {0};
	expect_u64_eq(kmm_alloc_pages_bulk(m, GFP_KERNEL, N, pages), N);
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_ALLOC), 0);
	expect_u64_ge(count(&r, KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED), N);
	r.n = 0;
	kmm_free_pages_bulk(m, pages, N);
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_FREE), N);
	expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_FREE_BATCHED), N);
	size_t k = 0;
	for (size_t i = 0; i < r.n; i++) {
		struct rec *x = &r.recs[i];
		if (x->ev != KMM_TRACE_MM_PAGE_FREE_BATCHED)
			continue;
		expect_u64_eq(x->a[0], page_to_pfn(m, pages[k]));
		expect_str_eq(x->flags, "d..2.");
		/* Its mm_page_free came before it. */
		bool freed = false;
		for (size_t j = 0; j < i; j++)
			freed |=
			    r.recs[j].ev == KMM_TRACE_MM_PAGE_FREE && r.recs[j].a[0] == x->a[0];
		expect_true(freed);
		k++;
	}
	rec_close(&r);
}

/* A failed allocation is traced with a NULL page, like Linux's. */
static void test_failed_allocation(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 32M --nodes 1 --cpus 1", "mm_page_alloc")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	unsigned long got = 0;
	while (kmm_alloc_pages(m, gfp, MAX_PAGE_ORDER)) {
		got++;
		expect_u64_lt(got, 64);
	}
	expect_u64_ge(got, 1);
	expect_u64_eq(r.n, got + 1);
	struct rec *last = &r.recs[r.n - 1];
	expect_x64_eq(last->a[0], KMM_TRACE_NO_PFN);
	expect_u64_eq(last->a[1], MAX_PAGE_ORDER);
	expect_x64_eq(last->a[2], gfp);
	/* Orders past the largest are refused before the allocator runs: no event. */
	expect_ptr_null(kmm_alloc_pages(m, gfp, MAX_PAGE_ORDER + 1));
	expect_u64_eq(r.n, got + 1);
	rec_close(&r);
}

/* Unmovable allocations outgrow their pageblocks and steal from movable ones. */
static void test_extfrag(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 64M --nodes 1 --cpus 1", "mm_page_alloc_extfrag")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	enum {
		MAX = 8192
	};
	static struct kmm_page *pages[MAX];
	int n = 0;
	while (n < MAX && !r.n)
		pages[n++] = kmm_alloc_pages(m, GFP_KERNEL, 0);
	expect_u64_ge(r.n, 1);
	struct rec *x = &r.recs[0];
	expect_u64_eq(x->a[1], 0);		   /* alloc_order */
	expect_u64_ge(x->a[2], 0);		   /* fallback_order */
	expect_u64_eq(x->a[3], MIGRATE_UNMOVABLE); /* alloc_migratetype */
	expect_true(x->a[4] == MIGRATE_MOVABLE || x->a[4] == MIGRATE_RECLAIMABLE);
	expect_str_eq(x->flags, "d..3.");
	expect_u64_eq(r.bad_ownership, 0);
	for (int i = 0; i < n; i++)
		if (pages[i])
			kmm_free_pages(m, pages[i], 0);
	struct kmm_error err = {0};
	expect_int_eq(kmm_page_alloc_validate(m, &err), 0);
	rec_close(&r);
}

/* Disabled events cost nothing visible: no hook call, no argument evaluated. */
static void test_disabled_events(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 64M --nodes 1 --cpus 1", "mm_page_free")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	expect_x64_eq(m->trace_mask, KMM_TRACE_BIT(KMM_TRACE_MM_PAGE_FREE));
	kmm_cpu_enter(m, 0);
	struct kmm_page *p = kmm_alloc_pages(m, GFP_KERNEL, 0);
	expect_ptr_not_null(p);
	kmm_drain_all_pages(m);
	expect_u64_eq(r.n, 0);
	kmm_free_pages(m, p, 0);
	expect_u64_eq(r.n, 1);
	int calls = 0;
	kmm_trace(m, MM_PAGE_ALLOC, (uint64_t)++calls, 0, 0, 0);
	expect_int_eq(calls, 0);
	expect_u64_eq(kmm_ftrace_count(r.ft, KMM_TRACE_MM_PAGE_FREE), 1);
	rec_close(&r);
}

/* --- Randomized: the events account for every page that moves ------------------- */

struct live {
	struct kmm_page *page;
	unsigned int order;
	bool bulk;
};

struct flow {
	long zone_locked, alloc, freed_pcp, freed_buddy, drained, batched;
};

/* @on_cpu: frees of per-CPU orders go to this CPU's lists, the others to the buddy. */
static struct flow sum_flow(const struct recorder *r, bool on_cpu)
{
	struct flow f = {0};
	for (size_t i = 0; i < r->n; i++) {
		const struct rec *x = &r->recs[i];
		long pages = 1L << x->a[1];
		switch (x->ev) {
		case KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED:
			f.zone_locked += pages;
			break;
		case KMM_TRACE_MM_PAGE_ALLOC:
			if (x->a[0] != KMM_TRACE_NO_PFN)
				f.alloc += pages;
			break;
		case KMM_TRACE_MM_PAGE_FREE:
			if (on_cpu && pcp_allowed_order((unsigned int)x->a[1]))
				f.freed_pcp += pages;
			else
				f.freed_buddy += pages;
			break;
		case KMM_TRACE_MM_PAGE_PCPU_DRAIN:
			f.drained += pages;
			break;
		case KMM_TRACE_MM_PAGE_FREE_BATCHED:
			f.batched++;
			break;
		default:
			break;
		}
	}
	return f;
}

static void test_random_flow(void)
{
	struct recorder r;
	if (!rec_open(&r, "--mem 256M --nodes 2 --cpus 2", "kmem:mm_page_*")) {
		rec_close(&r);
		expect_true(false);
	}
	struct kmm_machine *m = r.m;
	struct kmm_rng rnd;
	kmm_rng_seed(&rnd, kmm_test_seed);
	enum {
		MAX_LIVE = 512
	};
	static struct live live[MAX_LIVE];
	int nlive = 0;
	const gfp_t gfps[] = {GFP_KERNEL, GFP_HIGHUSER_MOVABLE | __GFP_ZERO,
			      GFP_KERNEL | __GFP_RECLAIMABLE, GFP_NOWAIT | __GFP_NOWARN,
			      GFP_DMA32 | GFP_KERNEL};
	unsigned long steps = 3000 * kmm_test_scale;
	struct kmm_error err = {0};
	int cpu = -1;

	for (unsigned long step = 0; step < steps; step++) {
		if (kmm_rng_below(&rnd, 200) == 0) {
			if (cpu >= 0)
				kmm_cpu_exit(m);
			cpu = (int)kmm_rng_below(&rnd, 3) - 1;
			if (cpu >= 0)
				kmm_cpu_enter(m, cpu);
		}
		long buddy0 = (long)kmm_nr_free_pages(m), pcp0 = (long)pcp_pages(m);
		r.n = 0;
		long untraced = 0; /* pages the bulk allocator hands out (Linux traces none) */
		unsigned int op = (unsigned int)kmm_rng_below(&rnd, 10);
		if (op < 5 && nlive < MAX_LIVE) {
			/* On a CPU, per-CPU orders only: their pages always cross the lists. */
			unsigned int order = (unsigned int)kmm_rng_below(&rnd, cpu >= 0 ? 4 : 11);
			gfp_t gfp = gfps[kmm_rng_below(&rnd, KMM_ARRAY_SIZE(gfps))];
			struct kmm_page *p = kmm_alloc_pages(m, gfp, order);
			size_t allocs = count(&r, KMM_TRACE_MM_PAGE_ALLOC);
			expect_u64_eq(allocs, 1);
			struct rec *x = NULL;
			for (size_t i = 0; i < r.n; i++)
				if (r.recs[i].ev == KMM_TRACE_MM_PAGE_ALLOC)
					x = &r.recs[i];
			expect_u64_eq(x->a[0], p ? page_to_pfn(m, p) : KMM_TRACE_NO_PFN);
			expect_u64_eq(x->a[1], order);
			expect_x64_eq(x->a[2], gfp);
			expect_u64_eq(x->a[3], expected_mt(gfp));
			if (p)
				live[nlive++] = (struct live){p, order, false};
		} else if (op < 9 && nlive) {
			int i = (int)kmm_rng_below(&rnd, (uint64_t)nlive);
			struct live b = live[i];
			live[i] = live[--nlive];
			unsigned long pfn = page_to_pfn(m, b.page);
			if (b.bulk) {
				kmm_free_pages_bulk(m, &b.page, 1);
				expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_FREE_BATCHED), 1);
			} else {
				kmm_free_pages(m, b.page, b.order);
			}
			expect_u64_eq(count(&r, KMM_TRACE_MM_PAGE_FREE), 1);
			struct rec *x = &r.recs[0];
			expect_int_eq(x->ev, KMM_TRACE_MM_PAGE_FREE);
			expect_u64_eq(x->a[0], pfn);
			expect_u64_eq(x->a[1], b.order);
		} else if (op == 9 && cpu >= 0 && nlive + 32 <= MAX_LIVE) {
			struct kmm_page *pages[32] = {0};
			unsigned long want = 2 + kmm_rng_below(&rnd, 31);
			unsigned long got = kmm_alloc_pages_bulk(m, GFP_KERNEL, want, pages);
			/*
			 * The per-CPU path traces nothing. When it cannot start (no local
			 * zone above its low watermark plus the request, or no first page)
			 * the bulk call makes one ordinary, traced allocation instead, as
			 * Linux's __alloc_pages_bulk does.
			 */
			size_t fallback = count(&r, KMM_TRACE_MM_PAGE_ALLOC);
			expect_true(fallback <= 1);
			if (fallback) {
				expect_true(got <= 1);
				struct rec *x = NULL;
				for (size_t i = 0; i < r.n; i++)
					if (r.recs[i].ev == KMM_TRACE_MM_PAGE_ALLOC)
						x = &r.recs[i];
				expect_u64_eq(x->a[0],
					      got ? page_to_pfn(m, pages[0]) : KMM_TRACE_NO_PFN);
				expect_u64_eq(x->a[1], 0);
				expect_x64_eq(x->a[2], GFP_KERNEL);
			}
			untraced = fallback ? 0 : (long)got;
			for (unsigned long i = 0; i < got; i++)
				live[nlive++] = (struct live){pages[i], 0, true};
		} else {
			kmm_drain_all_pages(m);
		}
		/* Every page that moved between the buddy and the per-CPU lists was traced. */
		struct flow f = sum_flow(&r, cpu >= 0);
		f.alloc += untraced;
		if (getenv("KMM_TRACE_DEBUG"))
			for (size_t i = 0; i < r.n; i++)
				fprintf(stderr, "step %lu op %u cpu %d: %s %#lx %lu\n", step, op,
					cpu, kmm_trace_event_names[r.recs[i].ev],
					(unsigned long)r.recs[i].a[0],
					(unsigned long)r.recs[i].a[1]);
		long dbuddy = (long)kmm_nr_free_pages(m) - buddy0, dpcp = (long)pcp_pages(m) - pcp0;
		expect_i64_eq(dbuddy, f.drained + f.freed_buddy - f.zone_locked);
		if (cpu >= 0) {
			expect_i64_eq(dpcp, f.zone_locked - f.alloc + f.freed_pcp - f.drained);
		} else {
			expect_i64_eq(dpcp, -f.drained);
			expect_i64_eq(f.zone_locked, f.alloc);
		}
		if (step % 256 == 0) {
			expect_int_eq(kmm_page_alloc_validate(m, &err), 0);
			expect_u64_eq(r.bad_ownership, 0);
		}
	}
	for (int i = 0; i < nlive; i++)
		kmm_free_pages(m, live[i].page, live[i].order);
	expect_int_eq(kmm_page_alloc_validate(m, &err), 0);
	rec_close(&r);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_buddy_alloc_free);
	run_test(test_pcp_refill_and_drain);
	run_test(test_bulk);
	run_test(test_failed_allocation);
	run_test(test_extfrag);
	run_test(test_disabled_events);
	run_test(test_random_flow);
	return kmm_test_done();
}
