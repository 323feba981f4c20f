/*
 * The vmscan trace events agree with the counters: the nr_scanned and
 * nr_reclaimed of every mm_vmscan_lru_shrink_inactive add up to vmstat's
 * pgscan and pgsteal, for kswapd (events of kswapdN) and direct reclaim
 * (the others) separately, as they do in Linux's own traces; one
 * mm_vmscan_direct_reclaim_begin per allocstall, one
 * mm_vmscan_write_folio per nr_vmscan_write; every kswapd wake has its
 * sleep. Lines are in Linux 6.1's format.
 */
#include "reclaim_util.h"
#include <kmm/ftrace.h>

#define MiB  (1UL << 20)
#define AREA (48 * MiB)

struct tw {
	struct kmm_task *t[2];
	unsigned long addr[2];
	unsigned long next[2];
};

/* Each CPU writes its 48 MiB area page by page, twice: 96 MiB through 64 MiB of RAM. */
static bool step(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct tw *w = arg;
	if (w->next[cpu] >= 2 * AREA / PAGE_SIZE)
		return false;
	unsigned long p = w->next[cpu]++ % (AREA / PAGE_SIZE);
	uint64_t v = p * 31 + (uint64_t)cpu;
	return kmm_write(w->t[cpu], w->addr[cpu] + p * PAGE_SIZE, &v, sizeof(v)) == 0;
}

static void kswapd_context(void *arg, struct kmm_machine *m, enum kmm_trace_event ev,
			   const uint64_t *args, struct kmm_ftrace_ctx *ctx)
{
	(void)arg;
	(void)m;
	(void)ev;
	(void)args;
	int nid = kmm_current_kswapd_node();
	if (nid >= 0) {
		snprintf(ctx->comm, sizeof(ctx->comm), "kswapd%d", nid & 1023);
		ctx->pid = 100 + nid;
	}
}

static unsigned long field(const char *line, const char *name)
{
	const char *p = strstr(line, name);
	return p ? strtoul(p + strlen(name), NULL, 10) : 0;
}

static void test_trace_agrees_with_counters(void)
{
	char swap[64];
	snprintf(swap, sizeof(swap), "/tmp/kmm-trace-%d.swap", getpid());
	char opts[160];
	snprintf(opts, sizeof(opts), "--mem 64M --cpus 2 --swap %s:256M", swap);
	struct kmm_machine *m = vm_boot(opts);
	expect_ptr_not_null(m);
	char *text = NULL;
	size_t text_len = 0;
	FILE *out = open_memstream(&text, &text_len);
	struct kmm_error err = {0};
	struct kmm_ftrace_opts o = {
	    .events = "vmscan:*", .out = out, .style = KMM_FTRACE_PIPE, .context = kswapd_context};
	struct tw w = {0};
	for (int c = 0; c < 2; c++) {
		w.t[c] = vm_task(m, "writer", c);
		long a = kmm_mmap(w.t[c], 0, AREA, KMM_PROT_READ | KMM_PROT_WRITE,
				  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		expect_i64_ge(a, 0);
		w.addr[c] = (unsigned long)a;
	}
	kmm_task_switch_out(m);
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o, &err);
	expect_ptr_not_null(ft);
	expect_int_eq(kmm_run(m, KMM_RUN_DETERMINISTIC, step, &w), 0);
	kmm_task_switch_out(m);
	/*
	 * kswapd, run after every round of steps, may keep every allocation
	 * above min (it does in some builds): reclaim some pages outside
	 * kswapd too, as memory.reclaim does (counted as direct, without an
	 * allocstall), so that both sums have something to add up.
	 */
	kmm_cpu_enter(m, 0);
	expect_u64_ge(kmm_reclaim_pages(m, 256), 1);
	kmm_cpu_exit(m);
	expect_int_eq(kmm_ftrace_close(ft, &err), 0);
	fclose(out);

	unsigned long scan[2] = {0}, steal[2] = {0}, begins = 0, writes = 0, wakes = 0, sleeps = 0;
	unsigned long lines = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		lines++;
		bool kswapd = strstr(line, "kswapd") == line + strspn(line, " ");
		if (strstr(line, "mm_vmscan_lru_shrink_inactive: ")) {
			expect_true(strstr(line, "nid=") && strstr(line, "nr_scanned=") &&
				    strstr(line, "nr_reclaimed=") && strstr(line, "priority=") &&
				    strstr(line, "flags=RECLAIM_WB_"));
			scan[kswapd] += field(line, "nr_scanned=");
			steal[kswapd] += field(line, "nr_reclaimed=");
		} else if (strstr(line, "mm_vmscan_direct_reclaim_begin: ")) {
			expect_false(kswapd);
			begins++;
		} else if (strstr(line, "mm_vmscan_write_folio: ")) {
			writes++;
		} else if (strstr(line, "mm_vmscan_kswapd_wake: ")) {
			expect_true(kswapd);
			wakes++;
		} else if (strstr(line, "mm_vmscan_kswapd_sleep: ")) {
			sleeps++;
		}
	}
	long allocstall = vmstat(m, "allocstall_dma") + vmstat(m, "allocstall_dma32") +
			  vmstat(m, "allocstall_normal") + vmstat(m, "allocstall_movable");
	printf("%lu lines: kswapd scanned %lu reclaimed %lu, direct scanned %lu reclaimed %lu, "
	       "%lu direct reclaims, %lu writes, %lu kswapd runs\n",
	       lines, scan[1], steal[1], scan[0], steal[0], begins, writes, wakes);
	expect_u64_ge(steal[1], 1000);
	expect_u64_ge(steal[0], 1);
	expect_i64_eq(vmstat(m, "pgscan_kswapd"), (long)scan[1]);
	expect_i64_eq(vmstat(m, "pgsteal_kswapd"), (long)steal[1]);
	expect_i64_eq(vmstat(m, "pgscan_direct"), (long)scan[0]);
	expect_i64_eq(vmstat(m, "pgsteal_direct"), (long)steal[0]);
	expect_i64_eq(allocstall, (long)begins);
	expect_i64_eq(vmstat(m, "nr_vmscan_write"), (long)writes);
	expect_u64_eq(wakes, sleeps);
	expect_u64_ge(wakes, 1);
	free(text);
	expect_all_valid(m);
	for (int c = 0; c < 2; c++)
		kmm_task_reap(w.t[c]);
	kmm_machine_destroy(m);
	unlink(swap);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_trace_agrees_with_counters);
	return kmm_test_done();
}
