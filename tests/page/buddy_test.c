/*
 * The buddy allocator against a shadow model, in both bookkeeping designs.
 *
 * Random sequences of allocations and frees (every order, migratetype,
 * zone modifier, node, CPU; __GFP_THISNODE, __GFP_ZERO, __GFP_COMP) run on
 * two machines booted alike except for the buddy design: the modern
 * PageBuddy flag and the 2.4 per-order bitmap. After every step both pass
 * the page allocator's validator, return the same pfn, and hold identical
 * free lists; every allocated block carries a pattern checked when it is
 * freed, so two owners of one page are caught on data.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <errno.h>
#include <kmm/kmm.h>
#include "page/internal.h"

struct block {
	unsigned long pfn;
	unsigned int order;
	uint64_t tag;
	gfp_t gfp;
	int nid;
};

static struct kmm_machine *boot(const char *extra, enum kmm_buddy_design design)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	cfg.buddy = design;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", extra);
	char *argv[16];
	int argc = 0;
	for (char *tok = strtok(buf, " "); tok && argc < 16; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (kmm_config_parse_args(&cfg, argc, argv, &err)) {
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

/* Fill a block with a pattern derived from its tag (first and last 64 bytes of each page). */
static void stamp(struct kmm_machine *m, struct block *b)
{
	for (unsigned long i = 0; i < (1UL << b->order); i++) {
		uint64_t *p = pfn_to_virt(m, b->pfn + i);
		for (int w = 0; w < 8; w++) {
			p[w] = b->tag ^ (i << 8) ^ (uint64_t)w;
			p[511 - w] = ~(b->tag ^ (i << 8) ^ (uint64_t)w);
		}
	}
}

static bool check_stamp(struct kmm_machine *m, struct block *b)
{
	for (unsigned long i = 0; i < (1UL << b->order); i++) {
		uint64_t *p = pfn_to_virt(m, b->pfn + i);
		for (int w = 0; w < 8; w++)
			if (p[w] != (b->tag ^ (i << 8) ^ (uint64_t)w) ||
			    p[511 - w] != ~(b->tag ^ (i << 8) ^ (uint64_t)w))
				return false;
	}
	return true;
}

/* Serialise a machine's free lists: every zone, order, migratetype, pfn in order. */
static size_t dump_lists(struct kmm_machine *m, unsigned long *out, size_t cap)
{
	size_t n = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *zone = &m->node_data[nid]->node_zones[z];
			if (!populated_zone(zone))
				continue;
			for (int o = 0; o < NR_PAGE_ORDERS; o++)
				for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
					struct kmm_page *p;
					if (n < cap)
						out[n] =
						    0xffff0000UL | (unsigned long)(o << 4 | mt);
					n++;
					list_for_each_entry (p, &zone->free_area[o].free_list[mt],
							     lru) {
						if (n < cap)
							out[n] = page_to_pfn(m, p);
						n++;
					}
				}
		}
	return n;
}

static gfp_t random_gfp(struct kmm_rng *rng, bool i386)
{
	static const gfp_t base[] = {GFP_KERNEL, GFP_USER,   GFP_HIGHUSER_MOVABLE,
				     GFP_ATOMIC, GFP_NOWAIT, GFP_KERNEL | __GFP_RECLAIMABLE,
				     GFP_DMA32,	 GFP_DMA,    GFP_HIGHUSER};
	gfp_t gfp = base[kmm_rng_below(rng, i386 ? 9 : 9)];
	if (kmm_rng_below(rng, 8) == 0)
		gfp |= __GFP_ZERO;
	if (kmm_rng_below(rng, 8) == 0)
		gfp |= __GFP_COMP;
	if (kmm_rng_below(rng, 16) == 0)
		gfp |= __GFP_THISNODE;
	return gfp | __GFP_NOWARN;
}

static unsigned int random_order(struct kmm_rng *rng)
{
	uint64_t r = kmm_rng_below(rng, 100);
	if (r < 55)
		return 0;
	if (r < 80)
		return (unsigned int)kmm_rng_range(rng, 1, 3);
	if (r < 90)
		return pageblock_order;
	return (unsigned int)kmm_rng_below(rng, NR_PAGE_ORDERS);
}

static void check_block_zone(struct kmm_machine *m, struct block *b, int preferred_nid)
{
	struct kmm_page *page = pfn_to_page(m, b->pfn);
	struct kmm_zone *zone = page_zone(m, page);
	expect_u64_le(zone->type, gfp_zone(m, b->gfp));
	if (b->gfp & __GFP_THISNODE)
		expect_int_eq(zone->node, preferred_nid);
	expect_int_eq(page_ref_count(page), 1);
	if (b->gfp & __GFP_ZERO) {
		const char *p = pfn_to_virt(m, b->pfn);
		for (size_t i = 0; i < (PAGE_SIZE << b->order); i++)
			if (p[i]) {
				KMM_EXPECT_FAIL_("__GFP_ZERO page pfn %#lx byte %zu is %d", b->pfn,
						 i, p[i]);
				return;
			}
	}
	if (b->order && (b->gfp & __GFP_COMP)) {
		expect_true(PageHead(page));
		expect_ptr_eq(compound_head(page + (1UL << b->order) - 1), page);
		expect_u64_eq(compound_order(page), b->order);
	}
}

/*
 * The randomized comparison. @opts is the machine; @steps scaled by
 * KMM_TEST_SCALE. Frees go to a random CPU (or none), so pcp lists and the
 * buddy path both run.
 */
static void run_random(const char *opts, unsigned long steps, bool validate_each)
{
	struct kmm_machine *m[2] = {boot(opts, KMM_BUDDY_PAGEFLAG), boot(opts, KMM_BUDDY_BITMAP)};
	expect_ptr_not_null(m[0]);
	expect_ptr_not_null(m[1]);
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	size_t cap = 1 << 16, nblocks = 0;
	struct block *blocks = calloc(cap, sizeof(*blocks));
	unsigned long *la = malloc(sizeof(long) * (1 << 20)),
		      *lb = malloc(sizeof(long) * (1 << 20));
	struct kmm_error err = {0};
	bool i386 = m[0]->cfg.desc.arch == KMM_ARCH_I386;

	for (unsigned long step = 0; step < steps; step++) {
		int cpu = (int)kmm_rng_below(&rng, (uint64_t)m[0]->nr_cpus + 1) - 1;
		bool do_alloc = nblocks == 0 || (nblocks < cap && kmm_rng_below(&rng, 100) < 55);
		unsigned long pfn[2] = {0, 0};
		if (do_alloc) {
			gfp_t gfp = random_gfp(&rng, i386);
			unsigned int order = random_order(&rng);
			int nid = (int)kmm_rng_below(&rng, (uint64_t)m[0]->nr_node_ids);
			for (int d = 0; d < 2; d++) {
				if (cpu >= 0)
					kmm_cpu_enter(m[d], cpu);
				struct kmm_page *p = kmm_alloc_pages_node(m[d], nid, gfp, order);
				pfn[d] = p ? page_to_pfn(m[d], p) : 0;
				if (cpu >= 0)
					kmm_cpu_exit(m[d]);
			}
			if (pfn[0] != pfn[1]) {
				KMM_EXPECT_FAIL_(
				    "step %lu: alloc order %u gfp %#x: pageflag pfn %#lx, "
				    "bitmap pfn %#lx",
				    step, order, gfp, pfn[0], pfn[1]);
				break;
			}
			if (pfn[0]) {
				struct block *b = &blocks[nblocks++];
				*b = (struct block){pfn[0], order, kmm_rng_next(&rng), gfp, nid};
				int pref = cpu >= 0 ? nid : nid;
				check_block_zone(m[0], b, pref);
				if (kmm_test_case_failed)
					break;
				stamp(m[0], b);
				stamp(m[1], b);
			}
		} else {
			size_t i = (size_t)kmm_rng_below(&rng, nblocks);
			struct block b = blocks[i];
			blocks[i] = blocks[--nblocks];
			for (int d = 0; d < 2; d++) {
				if (!check_stamp(m[d], &b)) {
					KMM_EXPECT_FAIL_(
					    "step %lu: block pfn %#lx order %u lost its data "
					    "(design %d)",
					    step, b.pfn, b.order, d);
					goto out;
				}
				if (cpu >= 0)
					kmm_cpu_enter(m[d], cpu);
				kmm_free_pages(m[d], pfn_to_page(m[d], b.pfn), b.order);
				if (cpu >= 0)
					kmm_cpu_exit(m[d]);
			}
		}
		if (kmm_rng_below(&rng, 500) == 0)
			for (int d = 0; d < 2; d++)
				kmm_drain_all_pages(m[d]);
		if (validate_each || step % 64 == 0 || step == steps - 1) {
			for (int d = 0; d < 2; d++)
				if (kmm_page_alloc_validate(m[d], &err)) {
					KMM_EXPECT_FAIL_("step %lu design %d: %s", step, d,
							 err.msg);
					goto out;
				}
			size_t na = dump_lists(m[0], la, 1 << 20),
			       nb = dump_lists(m[1], lb, 1 << 20);
			if (na != nb ||
			    memcmp(la, lb, sizeof(long) * kmm_min(na, (size_t)1 << 20))) {
				KMM_EXPECT_FAIL_(
				    "step %lu: free lists differ between the designs (%zu "
				    "vs %zu entries)",
				    step, na, nb);
				goto out;
			}
		}
	}
	/* Free everything and drain: every managed page is free again or held by the kernel, exactly. */
	for (size_t i = 0; i < nblocks; i++)
		for (int d = 0; d < 2; d++)
			kmm_free_pages(m[d], pfn_to_page(m[d], blocks[i].pfn), blocks[i].order);
	for (int d = 0; d < 2; d++) {
		kmm_drain_all_pages(m[d]);
		unsigned long managed = 0;
		for (int nid = 0; nid < m[d]->nr_node_ids; nid++)
			for (int z = 0; z < MAX_NR_ZONES; z++)
				managed += zone_managed_pages(&m[d]->node_data[nid]->node_zones[z]);
		expect_u64_eq(kmm_nr_free_pages(m[d]) + kmm_test_kernel_pages(m[d]), managed);
		expect_int_eq(kmm_page_alloc_validate(m[d], &err), 0);
	}
out:
	free(blocks);
	free(la);
	free(lb);
	kmm_machine_destroy(m[0]);
	kmm_machine_destroy(m[1]);
}

static void test_random_small_x86_64(void)
{
	run_random("--mem 64M --nodes 1 --cpus 2", 4000 * kmm_test_scale, true);
}

static void test_random_numa(void)
{
	run_random("--mem 512M --nodes 2 --cpus 4", 6000 * kmm_test_scale, false);
}

static void test_random_i386_highmem(void)
{
	run_random("--mem 1200M --nodes 1 --cpus 2 --arch i386", 4000 * kmm_test_scale, false);
}

static void test_random_tiny_no_mobility(void)
{
	/* Below 10 MiB, mobility grouping is off: every allocation is unmovable. */
	run_random("--mem 6M --nodes 1 --cpus 1", 3000 * kmm_test_scale, true);
}

static void test_random_flatmem_movable(void)
{
	run_random("--mem 256M --nodes 2 --cpus 2 --model flat --movablecore 64M",
		   4000 * kmm_test_scale, false);
}

/*
 * Exhaust memory with order-0 GFP_KERNEL allocations. Without a CPU the
 * counters are exact, so the allocator must stop exactly at DMA32's min
 * watermark and at DMA's min plus its lowmem reserve. With a CPU, the
 * per-CPU counter deltas let it overshoot by at most the fold threshold
 * per CPU, as in Linux (which corrects for it only in kswapd).
 */
static void exhaust(bool with_cpu)
{
	/* No watermark boosting: fallbacks would raise the marks as memory fragments. */
	struct kmm_machine *m =
	    boot("--mem 64M --nodes 1 --cpus 1 --watermark-boost-factor 0", KMM_BUDDY_PAGEFLAG);
	expect_ptr_not_null(m);
	struct kmm_zone *dma = &m->node_data[0]->node_zones[ZONE_DMA];
	struct kmm_zone *dma32 = &m->node_data[0]->node_zones[ZONE_DMA32];
	size_t n = 0, cap = 1 << 15;
	struct kmm_page **pages = calloc(cap, sizeof(*pages));
	if (with_cpu)
		kmm_cpu_enter(m, 0);
	while (n < cap && (pages[n] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 0)))
		n++;
	if (with_cpu) {
		kmm_drain_local_pages(m);
		kmm_cpu_exit(m);
	}
	refresh_vm_stats(m);
	long free32 = (long)zone_page_state_snapshot(dma32, NR_FREE_PAGES);
	long freedma = (long)zone_page_state_snapshot(dma, NR_FREE_PAGES);
	long dma_floor = (long)min_wmark_pages(dma) + dma->lowmem_reserve[ZONE_NORMAL];
	if (!with_cpu) {
		expect_i64_eq(free32, (long)min_wmark_pages(dma32));
		expect_i64_eq(freedma, dma_floor);
	} else {
		long slack = dma32->per_cpu_zonestats[0].stat_threshold;
		expect_i64_le(free32, (long)min_wmark_pages(dma32));
		expect_i64_ge(free32, (long)min_wmark_pages(dma32) - slack);
		expect_i64_ge(freedma, dma_floor - dma->per_cpu_zonestats[0].stat_threshold);
	}
	/* An atomic allocation may still dip below min (ALLOC_HIGH | ALLOC_HARDER). */
	struct kmm_page *atomic = kmm_alloc_pages(m, GFP_ATOMIC | __GFP_NOWARN, 0);
	expect_ptr_not_null(atomic);
	kmm_free_pages(m, atomic, 0);
	/* GFP_DMA may use the DMA pages GFP_KERNEL was denied. */
	struct kmm_page *d = kmm_alloc_pages(m, GFP_DMA | __GFP_NOWARN, 0);
	expect_ptr_not_null(d);
	expect_u64_eq(page_zonenum(d), ZONE_DMA);
	kmm_free_pages(m, d, 0);
	for (size_t i = 0; i < n; i++)
		kmm_free_pages(m, pages[i], 0);
	struct kmm_error err = {0};
	expect_int_eq(kmm_page_alloc_validate(m, &err), 0);
	free(pages);
	kmm_machine_destroy(m);
}

static void test_exhaustion_exact(void)
{
	exhaust(false);
}

static void test_exhaustion_with_pcp_drift(void)
{
	exhaust(true);
}

/* The failure warning names the order and the decoded mask, once per call site. */
static void test_failure_warning(void)
{
	struct kmm_machine *m = boot("--mem 32M --nodes 1 --cpus 1", KMM_BUDDY_PAGEFLAG);
	expect_ptr_not_null(m);
	struct kmm_page *blocks[64];
	int n = 0;
	while (n < 64 &&
	       (blocks[n] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, MAX_PAGE_ORDER)))
		n++;
	size_t before = m->log.len;
	for (int i = 0; i < 3; i++)
		expect_ptr_null(kmm_alloc_pages(m, GFP_KERNEL, MAX_PAGE_ORDER));
	expect_ptr_null(kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, MAX_PAGE_ORDER));
	const char *log = m->log.data + before;
	expect_str_contains(log, "page allocation failure: order:10, mode:0xcc0(GFP_KERNEL)");
	expect_str_contains(log, "Node 0 DMA32: ");
	const char *second = strstr(strstr(log, "allocation failure") + 1, "allocation failure");
	expect_ptr_null(second);
	for (int i = 0; i < n; i++)
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	kmm_machine_destroy(m);
}

static void test_gfp_decode(void)
{
	char buf[256];
	expect_str_eq(kmm_gfp_decode(GFP_KERNEL, buf, sizeof(buf)), "GFP_KERNEL");
	expect_str_eq(
	    kmm_gfp_decode(GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_ZERO, buf, sizeof(buf)),
	    "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO");
	expect_str_eq(kmm_gfp_decode(GFP_NOWAIT | __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC,
				     buf, sizeof(buf)),
		      "GFP_NOWAIT|__GFP_NOWARN|__GFP_NORETRY|__GFP_NOMEMALLOC");
	expect_str_eq(kmm_gfp_decode(GFP_KERNEL_ACCOUNT | __GFP_ZERO, buf, sizeof(buf)),
		      "GFP_KERNEL_ACCOUNT|__GFP_ZERO");
	expect_str_eq(kmm_gfp_decode(0, buf, sizeof(buf)), "none");
	gfp_t g;
	expect_int_eq(kmm_gfp_parse("GFP_KERNEL|__GFP_ZERO", &g), 0);
	expect_u64_eq(g, GFP_KERNEL | __GFP_ZERO);
	expect_int_eq(kmm_gfp_parse("GFP_BOGUS", &g), -EINVAL);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_gfp_decode);
	run_test(test_random_small_x86_64);
	run_test(test_random_tiny_no_mobility);
	run_test(test_random_numa);
	run_test(test_random_i386_highmem);
	run_test(test_random_flatmem_movable);
	run_test(test_exhaustion_exact);
	run_test(test_exhaustion_with_pcp_drift);
	run_test(test_failure_warning);
	return kmm_test_done();
}
