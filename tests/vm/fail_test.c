/*
 * Running out of memory in the middle of an operation (SQLite's habit):
 * fail the 1st, 2nd, ... page or slab allocation of fork, mmap, mprotect,
 * munmap and faults until the operation completes, and check after each
 * failure that it failed cleanly: the right error, the parent's memory and
 * mappings intact, the invariants holding, and, at the end, every page back
 * in the buddy allocator.
 */
#include "vm_util.h"
#include <fcntl.h>

#define RW   (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define A0   0x10000000UL

static void fail_nth(struct kmm_fault_attr *attr, unsigned long n)
{
	attr->calls = 0;
	attr->nth = n;
	WRITE_ONCE(attr->enabled, n != 0);
}

/* A parent with anonymous pages in two VMAs, shared memory and a second page table. */
static struct kmm_task *make_parent(struct kmm_machine *m)
{
	struct kmm_task *p = vm_task(m, "parent", 0);
	if (!p || kmm_mmap(p, A0, 8 * PAGE_SIZE, RW, ANON | KMM_MAP_FIXED, NULL, 0) != (long)A0 ||
	    kmm_mmap(p, A0 + (4UL << 20), 4 * PAGE_SIZE, KMM_PROT_READ, ANON | KMM_MAP_FIXED, NULL,
		     0) < 0 ||
	    kmm_mmap(p, 0, 2 * PAGE_SIZE, RW, KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0) < 0)
		return NULL;
	for (unsigned long i = 0; i < 8; i++)
		if (kmm_memset(p, A0 + i * PAGE_SIZE, (int)('a' + i), PAGE_SIZE))
			return NULL;
	if (kmm_touch(p, A0 + (4UL << 20), PAGE_SIZE, KMM_TOUCH_READ))
		return NULL;
	return p;
}

static bool parent_intact(struct kmm_task *p)
{
	char c;
	for (unsigned long i = 0; i < 8; i++)
		if (kmm_read(p, A0 + i * PAGE_SIZE + 77, &c, 1) || c != (char)('a' + i))
			return false;
	return true;
}

static void run_fork(struct kmm_fault_attr *(*which)(struct kmm_machine *), const char *what)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *p = make_parent(m);
	expect_ptr_not_null(p);
	struct kmm_fault_attr *attr = which(m);
	unsigned long n;
	struct kmm_task *c = NULL;
	for (n = 1; n < 1000; n++) {
		struct kmm_error err = {0};
		fail_nth(attr, n);
		c = kmm_task_fork(p, 1, &err);
		fail_nth(attr, 0);
		if (c)
			break;
		expect_str_contains(err.msg, "memory");
		if (!parent_intact(p)) {
			KMM_EXPECT_FAIL_("%s: parent damaged after failure %lu", what, n);
			return;
		}
		struct kmm_error e = {0};
		if (kmm_vm_validate(m, &e)) {
			KMM_EXPECT_FAIL_("%s failure %lu: %s", what, n, e.msg);
			return;
		}
	}
	expect_ptr_not_null(c);
	expect_true(n > 1); /* fork allocates: some failure must have been injected */
	/* The child that finally forked is complete: it sees the data and copies on write. */
	char x = 'Z', y;
	expect_int_eq(kmm_write(c, A0, &x, 1), 0);
	expect_int_eq(kmm_read(c, A0 + PAGE_SIZE, &y, 1), 0);
	expect_int_eq(y, 'b');
	expect_true(parent_intact(p));
	expect_vm_valid(m);
	kmm_task_reap(c);
	kmm_task_reap(p);
	expect_vm_valid(m);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static struct kmm_fault_attr *page_attr(struct kmm_machine *m)
{
	return &m->fail_page_alloc;
}

static struct kmm_fault_attr *slab_attr(struct kmm_machine *m)
{
	return &m->failslab;
}

static void test_fork_page_failures(void)
{
	run_fork(page_attr, "fork, page allocations");
}

static void test_fork_slab_failures(void)
{
	run_fork(slab_attr, "fork, slab allocations");
}

static void test_fault_out_of_memory(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "oom", 0);
	long a = kmm_mmap(t, 0, 4 * PAGE_SIZE, RW, ANON, NULL, 0);
	expect_true(a > 0);
	/* Every page allocation fails: the write returns -ENOMEM, the task lives on. */
	m->fail_page_alloc.nth = 0;
	m->fail_page_alloc.probability = 100;
	m->fail_page_alloc.times = -1;
	WRITE_ONCE(m->fail_page_alloc.enabled, true);
	uint64_t v = 42;
	expect_int_eq(kmm_write(t, (unsigned long)a + 3 * PAGE_SIZE, &v, sizeof(v)), -ENOMEM);
	WRITE_ONCE(m->fail_page_alloc.enabled, false);
	expect_int_eq(kmm_task_state(t), KMM_TASK_RUNNING);
	expect_int_eq(kmm_write(t, (unsigned long)a + 3 * PAGE_SIZE, &v, sizeof(v)), 0);
	v = 0;
	expect_int_eq(kmm_read(t, (unsigned long)a + 3 * PAGE_SIZE, &v, sizeof(v)), 0);
	expect_u64_eq(v, 42);
	expect_vm_valid(m);
	kmm_machine_destroy(m);
}

/* mmap, mprotect (a split) and munmap (a split) under slab failures: clean -ENOMEM. */
static void test_syscalls_under_slab_failures(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *t = vm_task(m, "sys", 0);
	expect_int_eq(kmm_mmap(t, A0, 16 * PAGE_SIZE, RW, ANON | KMM_MAP_FIXED, NULL, 0), (long)A0);
	expect_int_eq(kmm_touch(t, A0, 16 * PAGE_SIZE, KMM_TOUCH_WRITE), 0);
	int vmas = t->mm->map_count;
	for (int op = 0; op < 3; op++) {
		int r;
		fail_nth(&m->failslab, 1);
		if (op == 0)
			r = (int)kmm_mmap(t, A0 + (1UL << 30), PAGE_SIZE, KMM_PROT_READ,
					  ANON | KMM_MAP_FIXED, NULL, 0);
		else if (op == 1)
			r = kmm_mprotect(t, A0 + 4 * PAGE_SIZE, PAGE_SIZE, KMM_PROT_READ);
		else
			r = kmm_munmap(t, A0 + 4 * PAGE_SIZE, PAGE_SIZE);
		fail_nth(&m->failslab, 0);
		expect_int_eq(r, -ENOMEM);
		expect_int_eq(t->mm->map_count, vmas);
		expect_u64_eq(get_mm_counter(t->mm, MM_ANONPAGES), 16);
		expect_vm_valid(m);
	}
	kmm_task_reap(t);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_fork_page_failures);
	run_test(test_fork_slab_failures);
	run_test(test_fault_out_of_memory);
	run_test(test_syscalls_under_slab_failures);
	return kmm_test_done();
}
