/*
 * /proc/vmstat's nr_dirty_threshold and nr_dirty_background_threshold
 * follow vm.dirty_ratio and vm.dirty_background_ratio, with Linux's
 * arithmetic (mm/page-writeback.c global_dirty_limits, domain_dirty_limits):
 * dirtyable memory = free pages above the reserves + file LRU pages, plus
 * one; each ratio scaled by PAGE_SIZE / 100 first, then applied; a
 * background threshold at or above the hard one becomes half of it.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"

struct dirty_view {
	unsigned long free, file, thresh, bg;
};

/* One read of vmstat, so that the thresholds and their inputs agree. */
static void read_view(struct kmm_machine *m, struct dirty_view *v)
{
	static const char *const keys[] = {"nr_free_pages ", "nr_inactive_file ", "nr_active_file ",
					   "nr_dirty_threshold ", "nr_dirty_background_threshold "};
	unsigned long val[5] = {0};
	struct kmm_buf b;
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	for (int i = 0; i < 5; i++) {
		for (const char *p = b.data; p && *p;) {
			if (!strncmp(p, keys[i], strlen(keys[i]))) {
				val[i] = strtoul(p + strlen(keys[i]), NULL, 10);
				break;
			}
			const char *nl = strchr(p, '\n');
			p = nl ? nl + 1 : NULL;
		}
	}
	kmm_buf_free(&b);
	v->free = val[0];
	v->file = val[1] + val[2];
	v->thresh = val[3];
	v->bg = val[4];
}

static unsigned long linux_threshold(struct kmm_machine *m, const struct dirty_view *v,
				     unsigned long ratio)
{
	unsigned long free =
	    v->free - (v->free < m->totalreserve_pages ? v->free : m->totalreserve_pages);
	unsigned long available = free + v->file + 1;
	return ((ratio * PAGE_SIZE) / 100) * available / PAGE_SIZE;
}

static int set_ratios(struct kmm_machine *m, const char *ratio, const char *bg)
{
	struct kmm_error err = {0};
	if (kmm_sysctl_set(m, "dirty_ratio", ratio, &err) ||
	    kmm_sysctl_set(m, "dirty_background_ratio", bg, &err)) {
		fprintf(stderr, "sysctl: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void test_thresholds_follow_the_ratios(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 1 --cpus 1");
	expect_ptr_ne(m, NULL);
	struct dirty_view v;

	/* Linux's defaults: 20 and 10. */
	read_view(m, &v);
	expect_u64_gt(v.thresh, 0);
	expect_u64_eq(v.thresh, linux_threshold(m, &v, 20));
	expect_u64_eq(v.bg, linux_threshold(m, &v, 10));
	unsigned long thresh20 = v.thresh;

	/* 40 and 5: both move. */
	expect_int_eq(set_ratios(m, "40", "5"), 0);
	read_view(m, &v);
	expect_u64_eq(v.thresh, linux_threshold(m, &v, 40));
	expect_u64_eq(v.bg, linux_threshold(m, &v, 5));
	expect_u64_gt(v.thresh, thresh20 + thresh20 / 2);

	/* A background ratio above the hard one: half the hard threshold. */
	expect_int_eq(set_ratios(m, "15", "30"), 0);
	read_view(m, &v);
	expect_u64_eq(v.thresh, linux_threshold(m, &v, 15));
	expect_u64_eq(v.bg, linux_threshold(m, &v, 15) / 2);

	/* Zero: no dirty memory allowed at all. */
	expect_int_eq(set_ratios(m, "0", "0"), 0);
	read_view(m, &v);
	expect_u64_eq(v.thresh, 0);
	expect_u64_eq(v.bg, 0);

	/* The rounding is Linux's: 20% of 4096 is 819/4096 of a page, not 0.2. */
	expect_u64_eq(((20 * PAGE_SIZE) / 100) * 10000UL / PAGE_SIZE, 1999);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_thresholds_follow_the_ratios);
	return kmm_test_done();
}
