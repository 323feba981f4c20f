/*
 * The OOM killer: when memory and swap are full, the task with the highest
 * badness (RSS + swap entries + page tables, weighted by oom_score_adj)
 * dies with SIGKILL, its memory comes back, the report is in Linux's
 * shape, an oom_score_adj of -1000 protects a task, and the survivors'
 * bytes are intact.
 */
#include "reclaim_util.h"
#include "kmm_test_machine.h"

#define MiB (1UL << 20)
#define RW  (KMM_PROT_READ | KMM_PROT_WRITE)

struct area {
	struct kmm_task *t;
	unsigned long addr, len, written;
};

/* Map @len bytes and write a word per page until done or the task dies; returns 0 or -errno. */
static int fill_area(struct kmm_machine *m, struct area *a, const char *comm, int cpu,
		     unsigned long len)
{
	a->t = vm_task(m, comm, cpu);
	a->len = len;
	long addr = kmm_mmap(a->t, 0, len, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (addr < 0)
		return (int)addr;
	a->addr = (unsigned long)addr;
	for (unsigned long off = 0; off < len; off += PAGE_SIZE) {
		uint64_t v = (uint64_t)kmm_task_pid(a->t) << 40 | off;
		int r = kmm_write(a->t, a->addr + off, &v, sizeof(v));
		if (r)
			return r;
		a->written = off + PAGE_SIZE;
	}
	return 0;
}

static int check_area(struct area *a)
{
	for (unsigned long off = 0; off < a->written; off += PAGE_SIZE) {
		uint64_t v = 0;
		if (kmm_read(a->t, a->addr + off, &v, sizeof(v)) ||
		    v != ((uint64_t)kmm_task_pid(a->t) << 40 | off)) {
			fprintf(stderr, "%s at +%#lx: %#llx\n", kmm_task_comm(a->t), off,
				(unsigned long long)v);
			return -1;
		}
	}
	return 0;
}

static struct kmm_machine *boot_small(char *swap, size_t len)
{
	snprintf(swap, len, "/tmp/kmm-oom-%d.swap", getpid());
	char opts[160];
	snprintf(opts, sizeof(opts), "--mem 64M --cpus 2 --swap %s:8M", swap);
	return vm_boot(opts);
}

/* The allocating task is the biggest: it dies at its own fault; the others live. */
static void test_oom_kills_the_biggest(void)
{
	char swap[64];
	struct kmm_machine *m = boot_small(swap, sizeof(swap));
	expect_ptr_not_null(m);
	size_t mark = kmm_test_log_mark(m);
	struct area c = {0}, b = {0}, a = {0};
	expect_int_eq(fill_area(m, &c, "protected", 0, 24 * MiB), 0);
	expect_int_eq(kmm_task_set_oom_score_adj(c.t, -1000), 0);
	expect_int_eq(kmm_task_set_oom_score_adj(c.t, -1001), -EINVAL);
	expect_int_eq(fill_area(m, &b, "small", 1, 8 * MiB), 0);
	long free_before = vmstat(m, "nr_free_pages");
	int r = fill_area(m, &a, "big", 0, 80 * MiB);
	expect_int_eq(r, -EFAULT);
	expect_int_eq(kmm_task_signal(a.t)->signo, KMM_SIGKILL);
	expect_int_eq(kmm_task_state(a.t), KMM_TASK_DEAD);
	expect_i64_eq(vmstat(m, "oom_kill"), 1);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "big invoked oom-killer: gfp_mask=");
	expect_str_contains(log, "Tasks state (memory values in pages):");
	expect_str_contains(log, "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents "
				 "oom_score_adj name");
	char line[96];
	snprintf(line, sizeof(line), "Out of memory: Killed process %d (big)", kmm_task_pid(a.t));
	expect_str_contains(log, line);
	/* Its memory came back. */
	expect_i64_ge(vmstat(m, "nr_free_pages"), free_before);
	expect_int_eq(check_area(&c), 0);
	expect_int_eq(check_area(&b), 0);
	expect_all_valid(m);
	kmm_task_reap(a.t);
	kmm_task_reap(b.t);
	kmm_task_reap(c.t);
	kmm_machine_destroy(m);
	unlink(swap);
}

/* oom_score_adj 1000 makes a small idle task the victim; it dies at once, not running. */
static void test_oom_score_adj_picks_victim(void)
{
	char swap[64];
	struct kmm_machine *m = boot_small(swap, sizeof(swap));
	expect_ptr_not_null(m);
	size_t mark = kmm_test_log_mark(m);
	struct area c = {0}, b = {0}, a = {0};
	expect_int_eq(fill_area(m, &c, "protected", 0, 24 * MiB), 0);
	expect_int_eq(kmm_task_set_oom_score_adj(c.t, -1000), 0);
	expect_int_eq(fill_area(m, &b, "preferred", 1, 8 * MiB), 0);
	expect_int_eq(kmm_task_set_oom_score_adj(b.t, 1000), 0);
	int r = fill_area(m, &a, "big", 0, 80 * MiB);
	/* b went first; then big itself when memory ran out again. */
	expect_int_eq(kmm_task_signal(b.t)->signo, KMM_SIGKILL);
	expect_int_eq(kmm_task_state(b.t), KMM_TASK_DEAD);
	expect_int_eq(r, -EFAULT);
	expect_i64_eq(vmstat(m, "oom_kill"), 2);
	const char *log = kmm_test_log_since(m, mark);
	const char *first = strstr(log, "Out of memory: Killed process");
	expect_ptr_not_null(first);
	char want[96];
	snprintf(want, sizeof(want), "Out of memory: Killed process %d (preferred)",
		 kmm_task_pid(b.t));
	expect_true(!strncmp(first, want, strlen(want)));
	expect_int_eq(check_area(&c), 0);
	expect_all_valid(m);
	kmm_task_reap(a.t);
	kmm_task_reap(b.t);
	kmm_task_reap(c.t);
	kmm_machine_destroy(m);
	unlink(swap);
}

/* __GFP_NOFAIL never returns NULL: the OOM killer makes room. */
static void test_nofail(void)
{
	char swap[64];
	struct kmm_machine *m = boot_small(swap, sizeof(swap));
	expect_ptr_not_null(m);
	struct area c = {0};
	expect_int_eq(fill_area(m, &c, "hog", 1, 60 * MiB), 0);
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	struct kmm_page *pages[2048];
	unsigned long n = 0;
	for (; n < 2048; n++) {
		pages[n] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOFAIL, 0);
		expect_ptr_not_null(pages[n]);
	}
	expect_i64_ge(vmstat(m, "oom_kill"), 1);
	expect_int_eq(kmm_task_state(c.t), KMM_TASK_DEAD);
	for (unsigned long i = 0; i < n; i++)
		kmm_free_pages(m, pages[i], 0);
	kmm_cpu_exit(m);
	expect_all_valid(m);
	kmm_task_reap(c.t);
	kmm_machine_destroy(m);
	unlink(swap);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_oom_kills_the_biggest);
	run_test(test_oom_score_adj_picks_victim);
	run_test(test_nofail);
	return kmm_test_done();
}
