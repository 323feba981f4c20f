/*
 * File mappings and the page cache, on exact figures and on the host
 * file's bytes: read-around (one major fault reads 32 pages), fault-around
 * (one minor fault maps 16 cached pages), shared writes reaching the file
 * on msync, on munmap of the last shared mapping and on exit, private
 * writes never reaching it, one page cache per host file however often it
 * is opened, and shared anonymous memory shared across fork.
 */
#include "vm_util.h"
#include <fcntl.h>
#include <sys/stat.h>

#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

struct tmpfile {
	char path[64];
	size_t size;
};

static void make_file(struct tmpfile *tf, size_t size, char fill)
{
	snprintf(tf->path, sizeof(tf->path), "/tmp/kmm-file-XXXXXX");
	int fd = mkstemp(tf->path);
	char *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(fill + (char)(i / 4096));
	if (write(fd, buf, size) != (ssize_t)size)
		abort();
	close(fd);
	free(buf);
	tf->size = size;
}

static char host_byte(const struct tmpfile *tf, size_t off)
{
	char c = 0;
	int fd = open(tf->path, O_RDONLY);
	if (pread(fd, &c, 1, (off_t)off) != 1)
		c = -1;
	close(fd);
	return c;
}

static long host_size(const struct tmpfile *tf)
{
	struct stat st;
	return stat(tf->path, &st) ? -1 : (long)st.st_size;
}

static struct kmm_file *open_kfile(struct kmm_machine *m, const struct tmpfile *tf, int flags)
{
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, tf->path, flags, 0, &err);
	if (!f)
		fprintf(stderr, "%s\n", err.msg);
	return f;
}

static void test_readahead_and_fault_around(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	struct tmpfile tf;
	make_file(&tf, 64 * 4096, 'A');
	struct kmm_file *f = open_kfile(m, &tf, KMM_O_RDONLY);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "reader", 0);
	/* Fault-around windows are aligned by virtual address: map at an aligned one. */
	long a = kmm_mmap(t, 0x40000000, 64 * 4096, KMM_PROT_READ, KMM_MAP_PRIVATE | KMM_MAP_FIXED,
			  f, 0);
	expect_int_eq(a, 0x40000000);
	char c;
	/* Page 40: a major fault reads pages 24..55 (read-around: 32 pages centred on it). */
	expect_int_eq(kmm_read(t, (unsigned long)a + 40 * 4096, &c, 1), 0);
	expect_int_eq(c, 'A' + 40);
	unsigned long min_flt, maj_flt, pages, dirty;
	kmm_task_faults(t, &min_flt, &maj_flt);
	expect_u64_eq(maj_flt, 1);
	expect_u64_eq(min_flt, 0);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 32);
	expect_int_eq(get_mm_counter(t->mm, MM_FILEPAGES), 1);
	/* The next fault maps every cached page of its aligned 16-page window (32..47). */
	for (int i = 32; i < 48; i++) {
		expect_int_eq(kmm_read(t, (unsigned long)a + (unsigned long)i * 4096, &c, 1), 0);
		expect_int_eq(c, 'A' + i);
	}
	kmm_task_faults(t, &min_flt, &maj_flt);
	expect_u64_eq(min_flt, 1);
	expect_int_eq(get_mm_counter(t->mm, MM_FILEPAGES), 16);
	/* Page 30: the window 16..31 has 24..31 cached. */
	expect_int_eq(kmm_read(t, (unsigned long)a + 30 * 4096, &c, 1), 0);
	kmm_task_faults(t, &min_flt, &maj_flt);
	expect_u64_eq(min_flt, 2);
	expect_u64_eq(maj_flt, 1);
	expect_int_eq(get_mm_counter(t->mm, MM_FILEPAGES), 24);
	expect_u64_eq(global_node_page_state(m, NR_FILE_PAGES), 32);
	expect_u64_eq(global_node_page_state(m, NR_FILE_MAPPED), 24);
	expect_vm_valid(m);
	/* MADV_RANDOM: no readahead, one page per major fault. */
	expect_int_eq(kmm_madvise(t, (unsigned long)a, 64 * 4096, KMM_MADV_RANDOM), 0);
	expect_int_eq(kmm_read(t, (unsigned long)a + 2 * 4096, &c, 1), 0);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 33);
	/* MADV_WILLNEED reads the rest now. */
	expect_int_eq(kmm_madvise(t, (unsigned long)a, 64 * 4096, KMM_MADV_WILLNEED), 0);
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(pages, 64);
	kmm_task_reap(t);
	kmm_file_close(f);
	/* The last reference to the file drops its page cache. */
	expect_u64_eq(global_node_page_state(m, NR_FILE_PAGES), 0);
	unlink(tf.path);
	kmm_machine_destroy(m);
}

static void test_shared_writes_reach_the_file(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 2");
	unsigned long free0 = vm_free_pages(m);
	struct tmpfile tf;
	make_file(&tf, 3 * 4096 + 10, 'a'); /* a partial last page */
	struct kmm_file *f = open_kfile(m, &tf, KMM_O_RDWR);
	struct kmm_task *t = vm_task(m, "writer", 0);
	long a = kmm_mmap(t, 0, 4 * 4096, RW, KMM_MAP_SHARED, f, 0);
	expect_true(a > 0);
	expect_int_eq(kmm_memset(t, (unsigned long)a + 100, 'X', 50), 0);
	/* Dirty in the cache, not yet in the file. */
	unsigned long pages, dirty;
	kmm_file_cached(f, &pages, &dirty);
	expect_u64_eq(dirty, 1);
	expect_u64_eq(global_node_page_state(m, NR_FILE_DIRTY), 1);
	expect_int_eq(host_byte(&tf, 100), 'a');
	expect_int_eq(kmm_msync(t, (unsigned long)a, 4096, KMM_MS_SYNC), 0);
	expect_int_eq(host_byte(&tf, 100), 'X');
	expect_int_eq(host_byte(&tf, 150), 'a');
	expect_u64_eq(global_node_page_state(m, NR_FILE_DIRTY), 0);
	/* After the write-back the page is clean and write-protected: the next write faults. */
	unsigned long min0, maj0, min1, maj1;
	kmm_task_faults(t, &min0, &maj0);
	expect_int_eq(kmm_memset(t, (unsigned long)a + 200, 'Y', 1), 0);
	kmm_task_faults(t, &min1, &maj1);
	expect_u64_eq(min1 - min0, 1);
	expect_u64_eq(global_node_page_state(m, NR_FILE_DIRTY), 1);
	/* A write to the tail of the last page beyond the end of the file stays in memory. */
	expect_int_eq(kmm_memset(t, (unsigned long)a + 3 * 4096, 'Z', 4096), 0);
	/* A child shares the mapping; its writes reach the file when the last mapping goes. */
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(t, 1, &err);
	expect_ptr_not_null(c);
	expect_int_eq(kmm_memset(c, (unsigned long)a + 4096 + 7, 'C', 3), 0);
	kmm_task_reap(t);
	expect_int_eq(host_byte(&tf, 4096 + 7), 'b'); /* the child still maps it */
	expect_vm_valid(m);
	kmm_task_reap(c);
	expect_int_eq(host_byte(&tf, 200), 'Y');
	expect_int_eq(host_byte(&tf, 4096 + 7), 'C');
	expect_int_eq(host_byte(&tf, 3 * 4096), 'Z');
	expect_int_eq(host_byte(&tf, 3 * 4096 + 9), 'Z');
	expect_int_eq(host_size(&tf), 3 * 4096 + 10); /* mappings never grow a file */
	expect_u64_eq(global_node_page_state(m, NR_FILE_DIRTY), 0);
	kmm_file_close(f);
	expect_u64_eq(vm_free_pages(m), free0);
	unlink(tf.path);
	kmm_machine_destroy(m);
}

static void test_private_writes_stay_private(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	struct tmpfile tf;
	make_file(&tf, 2 * 4096, 'p');
	struct kmm_file *f = open_kfile(m, &tf, KMM_O_RDWR);
	struct kmm_task *t = vm_task(m, "cow", 0);
	long priv = kmm_mmap(t, 0, 2 * 4096, RW, KMM_MAP_PRIVATE, f, 0);
	long shared = kmm_mmap(t, 0, 2 * 4096, RW, KMM_MAP_SHARED, f, 0);
	expect_true(priv > 0 && shared > 0);
	char c;
	/* Before a private write, the private mapping sees shared writes to the file. */
	expect_int_eq(kmm_read(t, (unsigned long)priv, &c, 1), 0);
	expect_int_eq(kmm_memset(t, (unsigned long)shared, 'S', 1), 0);
	expect_int_eq(kmm_read(t, (unsigned long)priv, &c, 1), 0);
	expect_int_eq(c, 'S');
	/* The private write copies the page: it is anonymous now, and the file never sees it. */
	expect_int_eq(kmm_memset(t, (unsigned long)priv + 1, 'P', 1), 0);
	expect_int_eq(get_mm_counter(t->mm, MM_ANONPAGES), 1);
	expect_int_eq(kmm_memset(t, (unsigned long)shared + 2, 'T', 1), 0);
	expect_int_eq(kmm_read(t, (unsigned long)priv + 2, &c, 1), 0);
	expect_int_eq(c, 'p');
	expect_vm_valid(m);
	kmm_task_reap(t);
	expect_int_eq(host_byte(&tf, 0), 'S');
	expect_int_eq(host_byte(&tf, 1), 'p');
	expect_int_eq(host_byte(&tf, 2), 'T');
	/* MADV_DONTNEED on a private file mapping drops the copy: the file's bytes return. */
	t = vm_task(m, "again", 0);
	priv = kmm_mmap(t, 0, 4096, RW, KMM_MAP_PRIVATE, f, 0);
	expect_int_eq(kmm_memset(t, (unsigned long)priv, 'Q', 1), 0);
	expect_int_eq(kmm_madvise(t, (unsigned long)priv, 4096, KMM_MADV_DONTNEED), 0);
	expect_int_eq(kmm_read(t, (unsigned long)priv, &c, 1), 0);
	expect_int_eq(c, 'S');
	kmm_task_reap(t);
	kmm_file_close(f);
	unlink(tf.path);
	kmm_machine_destroy(m);
}

static void test_one_page_cache_per_file(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	struct tmpfile tf;
	make_file(&tf, 4096, 'o');
	struct kmm_file *f1 = open_kfile(m, &tf, KMM_O_RDONLY);
	struct kmm_file *f2 = open_kfile(m, &tf, KMM_O_RDWR);
	struct kmm_task *t = vm_task(m, "two", 0);
	long a = kmm_mmap(t, 0, 4096, KMM_PROT_READ, KMM_MAP_SHARED, f1, 0);
	long b = kmm_mmap(t, 0, 4096, RW, KMM_MAP_SHARED, f2, 0);
	expect_int_eq(kmm_memset(t, (unsigned long)b, 'W', 1), 0);
	char c;
	expect_int_eq(kmm_read(t, (unsigned long)a, &c, 1), 0);
	expect_int_eq(c, 'W');
	unsigned long pages, dirty;
	kmm_file_cached(f1, &pages, &dirty);
	expect_u64_eq(pages, 1);
	kmm_task_reap(t);
	kmm_file_close(f1);
	kmm_file_close(f2);
	expect_int_eq(host_byte(&tf, 0), 'W');
	/* A file that does not exist: a clear message. */
	struct kmm_error err = {0};
	expect_ptr_null(kmm_file_open(m, "/nonexistent/kmm/file", KMM_O_RDONLY, 0, &err));
	expect_str_contains(err.msg, "cannot open /nonexistent/kmm/file: No such file");
	unlink(tf.path);
	kmm_machine_destroy(m);
}

static void test_shared_anonymous_across_fork(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 2");
	unsigned long free0 = vm_free_pages(m);
	struct kmm_task *p = vm_task(m, "shm", 0);
	long a = kmm_mmap(p, 0, 8 * 4096, RW, KMM_MAP_SHARED | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_true(a > 0);
	struct kmm_error err = {0};
	struct kmm_task *c = kmm_task_fork(p, 1, &err);
	uint64_t v = 0xc0ffee, w = 0;
	expect_int_eq(kmm_write(c, (unsigned long)a + 5 * 4096, &v, sizeof(v)), 0);
	expect_int_eq(kmm_read(p, (unsigned long)a + 5 * 4096, &w, sizeof(w)), 0);
	expect_u64_eq(w, v);
	expect_int_eq(get_mm_counter(c->mm, MM_SHMEMPAGES), 1);
	expect_int_eq(get_mm_counter(p->mm, MM_SHMEMPAGES), 1);
	expect_u64_eq(global_node_page_state(m, NR_SHMEM), 1);
	expect_vm_valid(m);
	kmm_task_reap(p);
	expect_int_eq(kmm_read(c, (unsigned long)a + 5 * 4096, &w, sizeof(w)), 0);
	expect_u64_eq(w, v);
	kmm_task_reap(c);
	expect_u64_eq(global_node_page_state(m, NR_SHMEM), 0);
	expect_u64_eq(vm_free_pages(m), free0);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_readahead_and_fault_around);
	run_test(test_shared_writes_reach_the_file);
	run_test(test_private_writes_stay_private);
	run_test(test_one_page_cache_per_file);
	run_test(test_shared_anonymous_across_fork);
	return kmm_test_done();
}
