/*
 * First checks of the address-space layer on exact figures: demand-zero and
 * zero-page faults, COW after fork with reuse, RSS and page-table
 * accounting, munmap freeing pages and tables, exit returning everything.
 */
#include "vm_util.h"

static void test_anon_fault_and_exit(void)
{
	struct kmm_machine *m = vm_boot("--mem 256M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *t = vm_task(m, "a", 0);
	expect_ptr_not_null(t);
	long addr = kmm_mmap(t, 0, 64 * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_true(addr > 0);
	expect_x64_eq(addr, 0x7ffff7fff000UL - 64 * PAGE_SIZE);
	uint64_t v = 0x1234;
	/* A read of untouched memory maps the zero page: reads zero, no RSS. */
	expect_int_eq(kmm_read(t, (unsigned long)addr + 8, &v, sizeof(v)), 0);
	expect_u64_eq(v, 0);
	expect_int_eq(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	/* Writes fault pages in, one each. */
	for (int i = 0; i < 64; i++) {
		uint64_t x = 0xabc0000 + (uint64_t)i;
		expect_int_eq(kmm_write(t, (unsigned long)addr + (unsigned long)i * PAGE_SIZE + 16,
					&x, sizeof(x)),
			      0);
	}
	expect_int_eq(get_mm_counter(t->mm, MM_ANONPAGES), 64);
	for (int i = 0; i < 64; i++) {
		expect_int_eq(kmm_read(t, (unsigned long)addr + (unsigned long)i * PAGE_SIZE + 16,
				       &v, sizeof(v)),
			      0);
		expect_u64_eq(v, 0xabc0000 + (uint64_t)i);
	}
	unsigned long min_flt, maj_flt;
	kmm_task_faults(t, &min_flt, &maj_flt);
	expect_u64_eq(min_flt, 65); /* one zero-page read, then 64 writes */
	expect_u64_eq(maj_flt, 0);
	expect_vm_valid(m);
	/* One PTE table and one PMD table below the mmap base; the stack has its own. */
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 64);
	kmm_task_reap(t);
	expect_vm_valid(m);
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 0);
	expect_u64_eq(global_node_page_state(m, NR_PAGETABLE), 0);
	expect_u64_eq(atomic_long_read(&vm_state(m)->nr_table_pages), 0);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static void test_fork_cow(void)
{
	struct kmm_machine *m = vm_boot("--mem 256M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *p = vm_task(m, "parent", 0);
	long addr = kmm_mmap(p, 0, 16 * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_true(addr > 0);
	for (int i = 0; i < 16; i++)
		expect_int_eq(kmm_memset(p, (unsigned long)addr + (unsigned long)i * PAGE_SIZE,
					 'a' + i, PAGE_SIZE),
			      0);
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(p, 1, &err);
	expect_ptr_not_null(c);
	expect_vm_valid(m);
	/* Shared: 16 pages, each mapped twice. */
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 16);
	char buf[PAGE_SIZE];
	expect_int_eq(kmm_read(c, (unsigned long)addr + 3 * PAGE_SIZE, buf, PAGE_SIZE), 0);
	expect_int_eq(buf[0], 'd');
	expect_int_eq(buf[PAGE_SIZE - 1], 'd');
	/* The child writes: it gets a copy; the parent still sees its data. */
	expect_int_eq(kmm_memset(c, (unsigned long)addr + 3 * PAGE_SIZE + 100, 'X', 10), 0);
	expect_int_eq(kmm_read(p, (unsigned long)addr + 3 * PAGE_SIZE + 100, buf, 10), 0);
	expect_int_eq(buf[0], 'd');
	expect_int_eq(kmm_read(c, (unsigned long)addr + 3 * PAGE_SIZE + 99, buf, 12), 0);
	expect_int_eq(buf[0], 'd');
	expect_int_eq(buf[1], 'X');
	expect_int_eq(buf[11], 'd');
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 17);
	/* The parent writes the same page: now the only mapping, reused in place. */
	unsigned long reuse0 = 0;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		reuse0 += m->cpus[cpu]->vm_events[PGREUSE];
	expect_int_eq(kmm_memset(p, (unsigned long)addr + 3 * PAGE_SIZE, 'Y', 1), 0);
	unsigned long reuse1 = 0;
	for (int cpu = 0; cpu < m->nr_cpus; cpu++)
		reuse1 += m->cpus[cpu]->vm_events[PGREUSE];
	expect_u64_eq(reuse1 - reuse0, 1);
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 17);
	expect_vm_valid(m);
	kmm_task_reap(c);
	expect_vm_valid(m);
	expect_u64_eq(global_node_page_state(m, NR_ANON_MAPPED), 16);
	kmm_task_reap(p);
	expect_vm_valid(m);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

static void test_munmap_frees_tables(void)
{
	struct kmm_machine *m = vm_boot("--mem 256M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "t", 0);
	long pt0 = atomic_long_read(&vm_state(m)->nr_table_pages);
	/* 4 MiB at a fixed, 1 GiB aligned address: its own PUD entry, PMD table, 2 PTE tables. */
	unsigned long a = 0x40000000UL;
	expect_int_eq(kmm_mmap(t, a, 4 << 20, KMM_PROT_READ | KMM_PROT_WRITE,
			       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_FIXED, NULL, 0),
		      (long)a);
	expect_int_eq(kmm_touch(t, a, 4 << 20, KMM_TOUCH_WRITE), 0);
	expect_int_eq(get_mm_counter(t->mm, MM_ANONPAGES), 1024);
	/* PUD table (new PGD slot: 0x40000000 is in PGD entry 0), PMD table, 2 PTE tables. */
	expect_int_eq(atomic_long_read(&vm_state(m)->nr_table_pages) - pt0, 4);
	/* Unmapping the first half frees one PTE table: the rest stays for the second half. */
	expect_int_eq(kmm_munmap(t, a, 2 << 20), 0);
	expect_int_eq(get_mm_counter(t->mm, MM_ANONPAGES), 512);
	expect_int_eq(atomic_long_read(&vm_state(m)->nr_table_pages) - pt0, 3);
	expect_vm_valid(m);
	expect_int_eq(kmm_munmap(t, a + (2 << 20), 2 << 20), 0);
	expect_int_eq(atomic_long_read(&vm_state(m)->nr_table_pages) - pt0, 0);
	expect_int_eq(t->mm->map_count, 1); /* the stack */
	expect_vm_valid(m);
	kmm_machine_destroy(m);
}

static void test_maps_and_status(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "maps", 0);
	unsigned long b = kmm_brk(t, 0);
	expect_x64_eq(b, 0x555555559000UL);
	expect_u64_eq(kmm_brk(t, b + 3 * PAGE_SIZE), b + 3 * PAGE_SIZE);
	long a = kmm_mmap(t, 0, 2 * PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	long x = kmm_mmap(t, 0, PAGE_SIZE, KMM_PROT_READ | KMM_PROT_EXEC,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_int_eq(kmm_touch(t, b, 3 * PAGE_SIZE, KMM_TOUCH_WRITE), 0);
	expect_int_eq(kmm_touch(t, (unsigned long)a, PAGE_SIZE, KMM_TOUCH_WRITE), 0);
	struct kmm_buf buf;
	kmm_buf_init(&buf);
	kmm_show_maps(t, &buf);
	/* Linux's columns, the name at column 73. */
	expect_str_eq(buf.data, "555555559000-55555555c000 rw-p 00000000 00:00 0"
				"                          [heap]\n"
				"7ffff7ffc000-7ffff7ffd000 r-xp 00000000 00:00 0 \n"
				"7ffff7ffd000-7ffff7fff000 rw-s 00000000 00:00 0"
				"                          /dev/zero (deleted)\n"
				"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0"
				"                          [stack]\n");
	expect_x64_eq(a, 0x7ffff7ffd000UL);
	expect_x64_eq(x, 0x7ffff7ffc000UL);
	kmm_buf_reset(&buf);
	kmm_show_task_status(t, &buf);
	expect_str_contains(buf.data, "VmSize:\t     156 kB\n");
	expect_str_contains(buf.data, "VmRSS:\t      16 kB\n");
	expect_str_contains(buf.data, "RssAnon:\t      12 kB\n");
	expect_str_contains(buf.data, "RssShmem:\t       4 kB\n");
	expect_str_contains(buf.data, "VmStk:\t     132 kB\n");
	expect_str_contains(buf.data, "VmData:\t      12 kB\n");
	expect_str_contains(buf.data, "VmExe:\t       4 kB\n");
	kmm_buf_free(&buf);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_anon_fault_and_exit);
	run_test(test_fork_cow);
	run_test(test_munmap_frees_tables);
	run_test(test_maps_and_status);
	return kmm_test_done();
}
