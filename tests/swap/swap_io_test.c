/*
 * Swap reads through the I/O thread (kmm_swap_io_start): a task's memory
 * goes to swap and comes back through faults while a host thread does the
 * reads. Checked:
 *  - every byte comes back, each slot is read once (pswpin, reads), and
 *    with the thread but without KMM_SWAP_IO_READAHEAD_NEXT the faults are
 *    exactly those of synchronous reads (same windows, same major faults);
 *  - with KMM_SWAP_IO_READAHEAD_NEXT a sequential stream keeps its reads
 *    ahead: a handful of major faults instead of one per window; and two
 *    streams in turn each keep theirs;
 *  - a readahead read that fails (injected) costs nothing but a second
 *    read: the fault that finds the page drops it and reads the slot
 *    (no SIGBUS), in every mode; a failed read of the faulting page itself
 *    is that task's SIGBUS, and its slots are freed when it goes;
 *  - swapoff while reads are in flight brings everything back;
 *  - reclaim with the thread running has it start the disk's write-back
 *    of all but the last range under 256 slots (writeback_started), none
 *    without it; swapoff with a range waiting drops it;
 *  - the API's answers (-EINVAL, -EALREADY, stop twice, a machine
 *    destroyed with the thread running);
 *  - two CPUs streaming their own regions concurrently (KMM_TEST_CONCURRENT:
 *    the TSan build runs this file), kswapd's thread beside them.
 */
#include "../reclaim/reclaim_util.h"
#include "kmm_test_machine.h"
#include <errno.h>
#include <kmm/fault_inject.h>

#define PAGES 2048UL /* 8 MiB of anonymous memory in a 64 MiB machine */

static uint64_t word_of(unsigned long page, unsigned long k)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (k * 0xbf58476d1ce4e5b9ULL) ^ kmm_test_seed;
}

static int fill(struct kmm_task *t, unsigned long addr, unsigned long pages, unsigned long first)
{
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = 0; p < pages; p++) {
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			buf[k] = word_of(first + p, k);
		if (kmm_write(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
	}
	return 0;
}

/* Pages [from, to) of a region filled from page @first, in address order; 0 or the bad page + 1. */
static unsigned long check(struct kmm_task *t, unsigned long addr, unsigned long from,
			   unsigned long to, unsigned long first)
{
	uint64_t buf[PAGE_SIZE / 8];
	for (unsigned long p = from; p < to; p++) {
		if (kmm_read(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE)) {
			fprintf(stderr, "page %lu: read failed\n", p);
			return p + 1;
		}
		for (unsigned long k = 0; k < PAGE_SIZE / 8; k++)
			if (buf[k] != word_of(first + p, k)) {
				fprintf(stderr, "page %lu word %lu: %#llx\n", p, k,
					(unsigned long long)buf[k]);
				return p + 1;
			}
	}
	return 0;
}

/* Reclaim until no anonymous page is left in memory. */
static void reclaim_all(struct kmm_machine *m, unsigned long pages)
{
	kmm_cpu_enter(m, 0);
	for (int pass = 0; pass < 8 && vmstat(m, "nr_anon_pages") > 0; pass++)
		kmm_reclaim_pages(m, pages);
	kmm_cpu_exit(m);
}

/* A task's region of PAGES pages, filled, all of it in swap. */
static int world_setup(struct reclaim_anon *w, const char *name)
{
	if (reclaim_anon_setup(w, name, "--mem 64M --nodes 1 --cpus 1", "32M", PAGES))
		return -1;
	if (fill(w->t, w->addr, PAGES, 0))
		return -1;
	kmm_task_switch_out(w->m);
	reclaim_all(w->m, PAGES);
	return vmstat(w->m, "nr_anon_pages") == 0 ? 0 : -1;
}

struct stream {
	long majfault, pswpin, swap_ra;
	unsigned long reads, read_errors;
};

/*
 * Fault the whole region back in address order with the I/O thread started
 * with @flags (-1: no thread); what it cost.
 */
static void stream_back(int flags, struct stream *out)
{
	struct stream s = {0};
	struct reclaim_anon w;
	struct kmm_swap_area_info info;
	*out = s;
	expect_int_eq(world_setup(&w, "swapio"), 0);
	long maj0 = vmstat(w.m, "pgmajfault"), in0 = vmstat(w.m, "pswpin");
	long ra0 = vmstat(w.m, "swap_ra");
	if (flags >= 0)
		expect_int_eq(kmm_swap_io_start(w.m, (unsigned int)flags), 0);
	expect_u64_eq(check(w.t, w.addr, 0, PAGES, 0), 0);
	kmm_task_switch_out(w.m);
	kmm_swap_io_stop(w.m);
	s.majfault = vmstat(w.m, "pgmajfault") - maj0;
	s.pswpin = vmstat(w.m, "pswpin") - in0;
	s.swap_ra = vmstat(w.m, "swap_ra") - ra0;
	expect_int_eq(kmm_swap_area_info(w.m, 0, &info), 0);
	s.reads = info.reads;
	s.read_errors = info.read_errors;
	*out = s;
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

static void test_stream(void)
{
	struct stream sync, async, ahead;
	stream_back(-1, &sync);
	stream_back(0, &async);
	stream_back(KMM_SWAP_IO_READAHEAD_NEXT, &ahead);
	printf("major faults: synchronous %ld, I/O thread %ld, reading ahead %ld\n", sync.majfault,
	       async.majfault, ahead.majfault);
	/* Each slot read once, in every mode. */
	expect_i64_eq(sync.pswpin, (long)PAGES);
	expect_i64_eq(async.pswpin, (long)PAGES);
	expect_i64_eq(ahead.pswpin, (long)PAGES);
	expect_u64_eq(sync.reads, PAGES);
	expect_u64_eq(async.reads, PAGES);
	expect_u64_eq(ahead.reads, PAGES);
	expect_u64_eq(ahead.read_errors, 0);
	/* The thread alone changes no decision: the same windows, the same faults. */
	expect_i64_eq(async.majfault, sync.majfault);
	expect_i64_eq(async.swap_ra, sync.swap_ra);
	/* One major fault per window of 8 once the window has grown. */
	expect_i64_ge(sync.majfault, (long)PAGES / 8);
	/* Reading ahead: the faults find their pages read or being read. */
	expect_i64_le(ahead.majfault, 8);
	expect_i64_eq(ahead.swap_ra, (long)PAGES - ahead.majfault);
}

/*
 * Two sequential streams in turn, 64 pages each (the two halves of the
 * region: their slots are two runs), with the windows read ahead: each
 * keeps its own trigger, so both stay ahead of their faults.
 */
static void test_two_streams(void)
{
	struct reclaim_anon w;
	expect_int_eq(world_setup(&w, "swapio2"), 0);
	long maj0 = vmstat(w.m, "pgmajfault"), in0 = vmstat(w.m, "pswpin");
	expect_int_eq(kmm_swap_io_start(w.m, KMM_SWAP_IO_READAHEAD_NEXT), 0);
	for (unsigned long from = 0; from < PAGES / 2; from += 64)
		for (unsigned long half = 0; half < PAGES; half += PAGES / 2)
			expect_u64_eq(check(w.t, w.addr, half + from, half + from + 64, 0), 0);
	kmm_task_switch_out(w.m);
	kmm_swap_io_stop(w.m);
	long maj = vmstat(w.m, "pgmajfault") - maj0;
	printf("two streams in turn: %ld major faults\n", maj);
	expect_i64_eq(vmstat(w.m, "pswpin") - in0, (long)PAGES);
	/*
	 * One stream alone takes 5 (test_stream); two take about one more.
	 * With one trigger for both, each took the other's: 16.
	 */
	expect_i64_le(maj, 10);
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

/* The 100th read from now fails (injected); the stream goes on, every byte intact. */
static void read_error_in_stream(int flags, long *majfault)
{
	struct reclaim_anon w;
	struct kmm_swap_area_info info;
	expect_int_eq(world_setup(&w, "swapioerr"), 0);
	if (flags >= 0)
		expect_int_eq(kmm_swap_io_start(w.m, (unsigned int)flags), 0);
	struct kmm_fault_attr *fr = kmm_swap_fail_read(w.m);
	/* The 100th slot read: a readahead page (windows have grown by then), not a fault's own. */
	fr->nth = fr->calls + 100;
	fr->enabled = true;
	size_t mark = kmm_test_log_mark(w.m);
	long maj0 = vmstat(w.m, "pgmajfault");
	expect_u64_eq(check(w.t, w.addr, 0, PAGES, 0), 0);
	kmm_task_switch_out(w.m);
	kmm_swap_io_stop(w.m);
	fr->enabled = false;
	expect_int_eq(kmm_swap_area_info(w.m, 0, &info), 0);
	expect_u64_eq(info.read_errors, 1);
	/* Every page read once, and the failed one twice: the first time not counted. */
	expect_u64_eq(info.reads, PAGES);
	expect_str_contains(kmm_test_log_since(w.m, mark), "I/O error (injected)");
	/* Its fault read it itself: one major fault more than the stream without the error. */
	*majfault = vmstat(w.m, "pgmajfault") - maj0;
	printf("flags %d: %ld major faults with one failed readahead read\n", flags, *majfault);
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

static void test_readahead_read_error(void)
{
	long sync, async, ahead;
	read_error_in_stream(-1, &sync);
	read_error_in_stream(0, &async);
	read_error_in_stream(KMM_SWAP_IO_READAHEAD_NEXT, &ahead);
	/* The same decisions with and without the thread; reading ahead keeps them few. */
	expect_i64_eq(async, sync);
	expect_i64_le(ahead, 16);
}

/* The faulting page's own read fails: the task gets SIGBUS; its slots all go when it does. */
static void test_own_read_error(void)
{
	struct reclaim_anon w;
	expect_int_eq(world_setup(&w, "swapiobus"), 0);
	expect_int_eq(kmm_swap_io_start(w.m, KMM_SWAP_IO_READAHEAD_NEXT), 0);
	struct kmm_fault_attr *fr = kmm_swap_fail_read(w.m);
	fr->nth = fr->calls + 1;
	fr->enabled = true;
	uint64_t v;
	expect_int_ne(kmm_read(w.t, w.addr + 100 * PAGE_SIZE, &v, sizeof(v)), 0);
	fr->enabled = false;
	const struct kmm_task_signal *sig = kmm_task_signal(w.t);
	expect_int_eq(sig->signo, KMM_SIGBUS);
	expect_str_contains(sig->msg, "swap-in failed");
	kmm_task_switch_out(w.m);
	kmm_task_reap(w.t);
	w.t = NULL;
	kmm_swap_io_stop(w.m);
	struct kmm_swap_totals t;
	kmm_swap_totals(w.m, &t);
	expect_u64_eq(t.read_errors, 1);
	expect_u64_eq(t.free, t.total);
	expect_u64_eq(t.cached, 0);
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

/* swapoff with reads in flight: every page back, nothing cached, the data intact. */
static void test_swapoff_with_reads_in_flight(void)
{
	struct reclaim_anon w;
	struct kmm_error err = {0};
	expect_int_eq(world_setup(&w, "swapiooff"), 0);
	expect_int_eq(kmm_swap_io_start(w.m, KMM_SWAP_IO_READAHEAD_NEXT), 0);
	/* Half the stream: its last windows ahead are queued or being read. */
	expect_u64_eq(check(w.t, w.addr, 0, PAGES / 2, 0), 0);
	kmm_task_switch_out(w.m);
	expect_int_eq(kmm_swapoff(w.m, w.swap, &err), 0);
	struct kmm_swap_totals t;
	kmm_swap_totals(w.m, &t);
	expect_u64_eq(t.total, 0);
	expect_u64_eq(t.cached, 0);
	expect_i64_eq(vmstat(w.m, "nr_anon_pages"), (long)PAGES);
	expect_u64_eq(check(w.t, w.addr, 0, PAGES, 0), 0);
	kmm_task_switch_out(w.m);
	expect_all_valid(w.m);
	/* Destroyed with the thread still running: the teardown stops it. */
	reclaim_anon_destroy(&w);
}

/*
 * Reclaim with the thread running starts the disk's write of the swap file
 * behind it: every range of SWAP_IO_FLUSH_MIN (256) slots and more, so at
 * most the last 255 pages are left to the host; none without the thread.
 * What comes back is intact either way. With @swapoff the area goes with
 * the thread running, while the last range, too small to start, may wait.
 */
static void writeback(bool thread, bool swapoff)
{
	struct reclaim_anon w;
	struct kmm_swap_area_info info;
	struct kmm_error err = {0};
	expect_int_eq(
	    reclaim_anon_setup(&w, "swapiowb", "--mem 64M --nodes 1 --cpus 1", "32M", PAGES), 0);
	expect_int_eq(fill(w.t, w.addr, PAGES, 0), 0);
	kmm_task_switch_out(w.m);
	if (thread)
		expect_int_eq(kmm_swap_io_start(w.m, 0), 0);
	reclaim_all(w.m, PAGES);
	expect_int_eq(kmm_swap_area_info(w.m, 0, &info), 0);
	printf("%s%s: %lu pages written, the write-back of %lu started by the end of reclaim\n",
	       thread ? "I/O thread" : "no thread", swapoff ? ", then swapoff" : "", info.writes,
	       info.writeback_started);
	expect_u64_eq(info.writes, PAGES);
	if (swapoff) {
		expect_u64_le(info.writeback_started, info.writes);
		expect_int_eq(kmm_swapoff(w.m, w.swap, &err), 0);
		expect_u64_eq(kmm_swap_area_info(w.m, 0, &info), (uint64_t)-ENOENT);
	} else {
		kmm_swap_io_stop(w.m);
		expect_int_eq(kmm_swap_area_info(w.m, 0, &info), 0);
		if (thread)
			expect_u64_ge(info.writeback_started + 255, info.writes);
		expect_u64_le(info.writeback_started, thread ? info.writes : 0);
	}
	expect_u64_eq(check(w.t, w.addr, 0, PAGES, 0), 0);
	kmm_task_switch_out(w.m);
	expect_all_valid(w.m);
	reclaim_anon_destroy(&w);
}

static void test_writeback(void)
{
	writeback(false, false);
	writeback(true, false);
	writeback(true, true);
}

static void test_api(void)
{
	struct kmm_machine *m = vm_boot("--mem 64M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	if (!m)
		return;
	expect_int_eq(kmm_swap_io_start(m, 0x8), -EINVAL);
	expect_int_eq(kmm_swap_io_start(m, 0), 0);
	expect_int_eq(kmm_swap_io_start(m, KMM_SWAP_IO_READAHEAD_NEXT), -EALREADY);
	kmm_swap_io_stop(m);
	kmm_swap_io_stop(m);
	expect_int_eq(kmm_swap_io_start(m, KMM_SWAP_IO_READAHEAD_NEXT), 0);
	kmm_swap_io_stop(m);
	kmm_machine_destroy(m);
}

/* --- Two CPUs streaming concurrently ------------------------------------------------------- */

#define CPAGES 1024UL /* per task */
#define CHUNK  64UL   /* pages a step reads */

struct cworld {
	struct kmm_machine *m;
	struct kmm_task *tasks[2];
	unsigned long addr[2];
	unsigned long next[2]; /* the next page each CPU reads */
	int failed;
};

static bool cstep(struct kmm_machine *m, int cpu, void *arg)
{
	(void)m;
	struct cworld *w = arg;
	if (__atomic_load_n(&w->failed, __ATOMIC_RELAXED) || w->next[cpu] == CPAGES)
		return false;
	unsigned long from = w->next[cpu];
	if (check(w->tasks[cpu], w->addr[cpu], from, from + CHUNK, (unsigned long)cpu * CPAGES)) {
		__atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED);
		return false;
	}
	w->next[cpu] = from + CHUNK;
	return true;
}

static void test_concurrent(void)
{
	char swap[128], opts[256];
	struct cworld w = {0};
	snprintf(swap, sizeof(swap), "/tmp/kmm-swapio-conc-%d.swap", getpid());
	snprintf(opts, sizeof(opts), "--mem 64M --nodes 1 --cpus 2 --swap %s:32M", swap);
	w.m = vm_boot(opts);
	expect_ptr_not_null(w.m);
	if (!w.m)
		return;
	for (int c = 0; c < 2; c++) {
		w.tasks[c] = vm_task(w.m, c ? "streamer1" : "streamer0", c);
		long a = kmm_mmap(w.tasks[c], 0, CPAGES * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
				  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
		expect_i64_ge(a, 0);
		w.addr[c] = (unsigned long)a;
		expect_int_eq(fill(w.tasks[c], w.addr[c], CPAGES, (unsigned long)c * CPAGES), 0);
		kmm_task_switch_out(w.m);
	}
	reclaim_all(w.m, 2 * CPAGES);
	/* A few pages reclaim found young may stay; the rest comes back from swap. */
	long left = vmstat(w.m, "nr_anon_pages");
	expect_i64_le(left, 16);
	long in0 = vmstat(w.m, "pswpin");
	expect_int_eq(kmm_swap_io_start(w.m, KMM_SWAP_IO_READAHEAD_NEXT), 0);
	/* kmm_run leaves the thread as it finds it. */
	expect_int_eq(kmm_run(w.m, KMM_RUN_CONCURRENT, cstep, &w), 0);
	kmm_task_switch_out(w.m);
	kmm_swap_io_stop(w.m);
	expect_int_eq(w.failed, 0);
	expect_i64_eq(vmstat(w.m, "pswpin") - in0, (long)(2 * CPAGES) - left);
	for (int c = 0; c < 2; c++)
		expect_u64_eq(check(w.tasks[c], w.addr[c], 0, CPAGES, (unsigned long)c * CPAGES),
			      0);
	kmm_task_switch_out(w.m);
	expect_all_valid(w.m);
	kmm_machine_destroy(w.m);
	unlink(swap);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_stream);
	run_test(test_two_streams);
	run_test(test_readahead_read_error);
	run_test(test_own_read_error);
	run_test(test_swapoff_with_reads_in_flight);
	run_test(test_writeback);
	run_test(test_api);
	run_test(test_concurrent);
	return kmm_test_done();
}
