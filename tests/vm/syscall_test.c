/*
 * The system calls' error cases, as a table: each row sets up a task with a
 * few known mappings, makes one call and expects one errno (the value Linux
 * 6.1 returns for the same call); the mappings must be unchanged by a
 * failed call. Then VMA merging and splitting on exact VMA counts, and
 * vm.max_map_count.
 */
#include "vm_util.h"
#include <fcntl.h>

#define RW   (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define A0   0x10000000UL /* the fixture's first mapping: 16 pages, RW */
#define A1   0x10020000UL /* second: 4 pages, read-only, with a hole before it */
#define HOLE 0x10010000UL

struct fixture {
	struct kmm_machine *m;
	struct kmm_task *t;
	struct kmm_file *ro; /* opened read-only */
	struct kmm_file *wo; /* opened write-only */
	struct kmm_file *rw;
};

enum call {
	MMAP,
	MUNMAP,
	MPROTECT,
	MREMAP,
	MADVISE,
	MSYNC,
	MLOCK,
};

struct row {
	const char *what;
	enum call call;
	unsigned long addr, len, arg2, arg3; /* per call: see run_row */
	int flags;
	int file; /* 0 none, 1 read-only, 2 write-only, 3 read-write */
	long expect;
};

static const struct row rows[] = {
    {"mmap: zero length", MMAP, 0, 0, RW, 0, ANON, 0, -EINVAL},
    {"mmap: neither private nor shared", MMAP, 0, 4096, RW, 0, KMM_MAP_ANONYMOUS, 0, -EINVAL},
    {"mmap: offset not page aligned", MMAP, 0, 4096, KMM_PROT_READ, 100, KMM_MAP_PRIVATE, 3,
     -EINVAL},
    {"mmap: MAP_FIXED at an unaligned address", MMAP, A0 + 1, 4096, RW, 0, ANON | KMM_MAP_FIXED, 0,
     -EINVAL},
    {"mmap: MAP_FIXED below mmap_min_addr", MMAP, 0x1000, 4096, RW, 0, ANON | KMM_MAP_FIXED, 0,
     -EPERM},
    {"mmap: MAP_FIXED past TASK_SIZE", MMAP, KMM_TASK_SIZE - 4096, 8192, RW, 0,
     ANON | KMM_MAP_FIXED, 0, -ENOMEM},
    {"mmap: longer than the address space", MMAP, 0, KMM_TASK_SIZE, RW, 0, ANON, 0, -ENOMEM},
    {"mmap: length overflows when rounded", MMAP, 0, ~0UL - 100, RW, 0, ANON, 0, -ENOMEM},
    {"mmap: no file and not anonymous", MMAP, 0, 4096, RW, 0, KMM_MAP_PRIVATE, 0, -EBADF},
    {"mmap: shared writable map of a read-only file", MMAP, 0, 4096, RW, 0, KMM_MAP_SHARED, 1,
     -EACCES},
    {"mmap: private map of a write-only file", MMAP, 0, 4096, KMM_PROT_READ, 0, KMM_MAP_PRIVATE, 2,
     -EACCES},
    {"mmap: MAP_SHARED_VALIDATE with an unknown flag", MMAP, 0, 4096, KMM_PROT_READ, 0,
     KMM_MAP_SHARED_VALIDATE | 0x80000, 3, -EOPNOTSUPP},
    {"mmap: MAP_FIXED_NOREPLACE over a mapping", MMAP, A0 + 4096, 4096, RW, 0,
     ANON | KMM_MAP_FIXED_NOREPLACE, 0, -EEXIST},
    {"mmap: shared anonymous growing down", MMAP, 0, 4096, RW, 0,
     KMM_MAP_SHARED | KMM_MAP_ANONYMOUS | KMM_MAP_GROWSDOWN, 0, -EINVAL},
    {"mmap: file mapping growing down", MMAP, 0, 4096, KMM_PROT_READ, 0,
     KMM_MAP_PRIVATE | KMM_MAP_GROWSDOWN, 3, -EINVAL},
    {"munmap: unaligned address", MUNMAP, A0 + 10, 4096, 0, 0, 0, 0, -EINVAL},
    {"munmap: zero length", MUNMAP, A0, 0, 0, 0, 0, 0, -EINVAL},
    {"munmap: past TASK_SIZE", MUNMAP, KMM_TASK_SIZE - 4096, 8192, 0, 0, 0, 0, -EINVAL},
    {"munmap: nothing mapped there", MUNMAP, HOLE, 4096, 0, 0, 0, 0, 0},
    {"mprotect: unaligned address", MPROTECT, A0 + 1, 4096, KMM_PROT_READ, 0, 0, 0, -EINVAL},
    {"mprotect: unknown protection bit", MPROTECT, A0, 4096, 0x100, 0, 0, 0, -EINVAL},
    {"mprotect: nothing mapped", MPROTECT, HOLE, 4096, KMM_PROT_READ, 0, 0, 0, -ENOMEM},
    {"mprotect: range with a hole", MPROTECT, A0, 0x30000, KMM_PROT_READ, 0, 0, 0, -ENOMEM},
    {"mprotect: zero length", MPROTECT, HOLE, 0, KMM_PROT_READ, 0, 0, 0, 0},
    {"mprotect: length wraps", MPROTECT, A0, ~0UL - 8192, KMM_PROT_READ, 0, 0, 0, -ENOMEM},
    {"mremap: unaligned address", MREMAP, A0 + 8, 4096, 8192, 0, KMM_MREMAP_MAYMOVE, 0, -EINVAL},
    {"mremap: new length zero", MREMAP, A0, 4096, 0, 0, KMM_MREMAP_MAYMOVE, 0, -EINVAL},
    {"mremap: unknown flag", MREMAP, A0, 4096, 8192, 0, 0x10, 0, -EINVAL},
    {"mremap: MREMAP_FIXED without MREMAP_MAYMOVE", MREMAP, A0, 4096, 4096, HOLE, KMM_MREMAP_FIXED,
     0, -EINVAL},
    {"mremap: nothing mapped", MREMAP, HOLE, 4096, 8192, 0, KMM_MREMAP_MAYMOVE, 0, -EFAULT},
    {"mremap: old range beyond its mapping", MREMAP, A0, 0x20000, 0x30000, 0, KMM_MREMAP_MAYMOVE, 0,
     -EFAULT},
    {"mremap: no room to grow in place", MREMAP, A0 + 0xc000, 0x4000, 0x20000, 0, 0, 0, -ENOMEM},
    {"mremap: fixed target overlapping the source", MREMAP, A0, 0x4000, 0x4000, A0 + 0x2000,
     KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, 0, -EINVAL},
    {"mremap: fixed target unaligned", MREMAP, A0, 0x4000, 0x4000, HOLE + 8,
     KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED, 0, -EINVAL},
    {"madvise: unknown advice", MADVISE, A0, 4096, 77, 0, 0, 0, -EINVAL},
    {"madvise: unaligned address", MADVISE, A0 + 4, 4096, KMM_MADV_DONTNEED, 0, 0, 0, -EINVAL},
    {"madvise: nothing mapped", MADVISE, HOLE, 4096, KMM_MADV_DONTNEED, 0, 0, 0, -ENOMEM},
    {"madvise: MADV_FREE on a file mapping", MADVISE, 0, 4096, KMM_MADV_FREE, 0, 0, 3, -EINVAL},
    {"madvise: range with a hole", MADVISE, A0, 0x30000, KMM_MADV_DONTNEED, 0, 0, 0, -ENOMEM},
    {"madvise: zero length", MADVISE, A0, 0, KMM_MADV_DONTNEED, 0, 0, 0, 0},
    {"msync: unknown flag", MSYNC, A0, 4096, 0x10, 0, 0, 0, -EINVAL},
    {"msync: MS_ASYNC and MS_SYNC", MSYNC, A0, 4096, KMM_MS_ASYNC | KMM_MS_SYNC, 0, 0, 0, -EINVAL},
    {"msync: unaligned address", MSYNC, A0 + 1, 4096, KMM_MS_SYNC, 0, 0, 0, -EINVAL},
    {"msync: nothing mapped", MSYNC, HOLE, 4096, KMM_MS_SYNC, 0, 0, 0, -ENOMEM},
    {"mlock: nothing mapped", MLOCK, HOLE, 4096, 0, 0, 0, 0, -ENOMEM},
    {"mlock: range with a hole", MLOCK, A0, 0x30000, 0, 0, 0, 0, -ENOMEM},
};

static struct kmm_file *open_file(struct fixture *f, const char *path, int flags)
{
	struct kmm_error err = {0};
	struct kmm_file *file = kmm_file_open(f->m, path, flags, 0600, &err);
	if (!file)
		fprintf(stderr, "%s\n", err.msg);
	return file;
}

static bool fixture_init(struct fixture *f, const char *path)
{
	f->m = vm_boot("--mem 128M --nodes 1 --cpus 2");
	if (!f->m)
		return false;
	f->t = vm_task(f->m, "err", 0);
	if (!f->t || kmm_mmap(f->t, A0, 16 * 4096, RW, ANON | KMM_MAP_FIXED, NULL, 0) != (long)A0 ||
	    kmm_mmap(f->t, A1, 4 * 4096, KMM_PROT_READ, ANON | KMM_MAP_FIXED, NULL, 0) != (long)A1)
		return false;
	f->ro = open_file(f, path, KMM_O_RDONLY);
	f->wo = open_file(f, path, KMM_O_WRONLY);
	f->rw = open_file(f, path, KMM_O_RDWR);
	return f->ro && f->wo && f->rw;
}

static void fixture_fini(struct fixture *f)
{
	kmm_file_close(f->ro);
	kmm_file_close(f->wo);
	kmm_file_close(f->rw);
	kmm_machine_destroy(f->m);
}

/* The task's VMAs as text, to see that a failed call changed nothing. */
static void vma_layout(struct kmm_task *t, char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	for (struct kmm_vma *v = t->mm->mmap; v && n < len; v = v->vm_next)
		n += (size_t)snprintf(out + n, len - n, "%lx-%lx/%lx ", v->vm_start, v->vm_end,
				      v->vm_flags);
}

static long run_row(struct fixture *f, const struct row *r)
{
	struct kmm_file *files[] = {NULL, f->ro, f->wo, f->rw};
	struct kmm_task *t = f->t;
	unsigned long addr = r->addr;
	if (r->file && r->call != MMAP) {
		/* Map the file first, then act on that mapping. */
		long a = kmm_mmap(t, 0, 4096, KMM_PROT_READ, KMM_MAP_SHARED, files[r->file], 0);
		if (a < 0)
			return a;
		addr = (unsigned long)a;
	}
	switch (r->call) {
	case MMAP:
		return kmm_mmap(t, r->addr, r->len, (int)r->arg2, r->flags, files[r->file],
				r->arg3);
	case MUNMAP:
		return kmm_munmap(t, addr, r->len);
	case MPROTECT:
		return kmm_mprotect(t, addr, r->len, (int)r->arg2);
	case MREMAP:
		return kmm_mremap(t, addr, r->len, r->arg2, r->flags, r->arg3);
	case MADVISE:
		return kmm_madvise(t, addr, r->len, (int)r->arg2);
	case MSYNC:
		return kmm_msync(t, addr, r->len, (int)r->arg2);
	case MLOCK:
		return kmm_mlock(t, addr, r->len);
	}
	return -1;
}

static void test_error_table(void)
{
	char path[] = "/tmp/kmm-errors-XXXXXX";
	int fd = mkstemp(path);
	expect_true(fd >= 0);
	static char page[4096];
	memset(page, 'z', sizeof(page));
	expect_int_eq(write(fd, page, sizeof(page)), sizeof(page));
	close(fd);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		struct fixture f = {0};
		if (!fixture_init(&f, path)) {
			KMM_EXPECT_FAIL_("%s", "fixture setup failed");
			break;
		}
		char before[1024], after[1024];
		vma_layout(f.t, before, sizeof(before));
		long got = run_row(&f, r);
		if (got != r->expect) {
			KMM_EXPECT_FAIL_("%s: got %ld, want %ld", r->what, got, r->expect);
		} else if (r->expect < 0 && !r->file) {
			vma_layout(f.t, after, sizeof(after));
			if (strcmp(before, after) && r->call != MPROTECT && r->call != MLOCK &&
			    r->call != MADVISE)
				KMM_EXPECT_FAIL_(
				    "%s: failed call changed the mappings:\n  %s\n  %s", r->what,
				    before, after);
		}
		struct kmm_error e = {0};
		if (kmm_vm_validate(f.m, &e))
			KMM_EXPECT_FAIL_("%s: %s", r->what, e.msg);
		fixture_fini(&f);
	}
	unlink(path);
}

static void test_partial_failures(void)
{
	/* mprotect stops at the hole: the part before it changes, then ENOMEM (as Linux). */
	struct fixture f = {0};
	char path[] = "/tmp/kmm-errors-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	expect_true(fixture_init(&f, path));
	expect_int_eq(kmm_mprotect(f.t, A0, 0x30000, KMM_PROT_READ), -ENOMEM);
	struct kmm_vma *v = find_vma(f.t->mm, A0);
	expect_u64_eq(v->vm_flags & VM_ACCESS_FLAGS, VM_READ);
	expect_u64_eq(v->vm_end, A0 + 16 * 4096);
	/* Every call on a dead task is ESRCH. */
	kmm_task_exit(f.t, 0);
	expect_int_eq(kmm_mmap(f.t, 0, 4096, RW, ANON, NULL, 0), -ESRCH);
	expect_int_eq(kmm_munmap(f.t, A0, 4096), -ESRCH);
	expect_int_eq(kmm_mprotect(f.t, A0, 4096, RW), -ESRCH);
	expect_int_eq(kmm_madvise(f.t, A0, 4096, KMM_MADV_DONTNEED), -ESRCH);
	uint64_t x;
	expect_int_eq(kmm_read(f.t, A0, &x, sizeof(x)), -ESRCH);
	expect_int_eq(kmm_task_exec(f.t, "x"), -ESRCH);
	fixture_fini(&f);
	unlink(path);
}

static int nr_vmas(struct kmm_task *t)
{
	return t->mm->map_count;
}

static void test_merge_and_split(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "merge", 0);
	int base = nr_vmas(t); /* the stack */
	/* Three adjacent anonymous mappings become one VMA. */
	for (int i = 0; i < 3; i++)
		expect_int_eq(kmm_mmap(t, A0 + (unsigned long)i * 0x4000, 0x4000, RW,
				       ANON | KMM_MAP_FIXED, NULL, 0),
			      (long)(A0 + (unsigned long)i * 0x4000));
	expect_int_eq(nr_vmas(t), base + 1);
	/* Protecting the middle splits it in three; restoring merges them back. */
	expect_int_eq(kmm_mprotect(t, A0 + 0x4000, 0x4000, KMM_PROT_READ), 0);
	expect_int_eq(nr_vmas(t), base + 3);
	expect_int_eq(kmm_mprotect(t, A0 + 0x4000, 0x4000, RW), 0);
	expect_int_eq(nr_vmas(t), base + 1);
	/* Moving a boundary: protect the first page, then the next: still two VMAs. */
	expect_int_eq(kmm_mprotect(t, A0, 0x1000, KMM_PROT_READ), 0);
	expect_int_eq(kmm_mprotect(t, A0 + 0x1000, 0x1000, KMM_PROT_READ), 0);
	expect_int_eq(nr_vmas(t), base + 2);
	expect_u64_eq(find_vma(t->mm, A0)->vm_end, A0 + 0x2000);
	/* A hole in the middle: munmap splits; mapping it again merges all three. */
	expect_int_eq(kmm_mprotect(t, A0, 0x2000, RW), 0);
	expect_int_eq(kmm_munmap(t, A0 + 0x5000, 0x1000), 0);
	expect_int_eq(nr_vmas(t), base + 2);
	expect_int_eq(kmm_mmap(t, A0 + 0x5000, 0x1000, RW, ANON | KMM_MAP_FIXED, NULL, 0),
		      (long)(A0 + 0x5000));
	expect_int_eq(nr_vmas(t), base + 1);
	/* Different protections do not merge; different files do not either. */
	expect_int_eq(
	    kmm_mmap(t, A0 + 0xc000, 0x1000, KMM_PROT_READ, ANON | KMM_MAP_FIXED, NULL, 0),
	    (long)(A0 + 0xc000));
	expect_int_eq(nr_vmas(t), base + 2);
	/* brk grows the heap VMA in place. */
	unsigned long b = kmm_brk(t, 0);
	expect_u64_eq(kmm_brk(t, b + 0x3000), b + 0x3000);
	expect_u64_eq(kmm_brk(t, b + 0x9000), b + 0x9000);
	expect_int_eq(nr_vmas(t), base + 3);
	expect_u64_eq(kmm_brk(t, b), b);
	expect_int_eq(nr_vmas(t), base + 2);
	expect_vm_valid(m);
	kmm_machine_destroy(m);
}

static void test_max_map_count(void)
{
	struct kmm_machine *m = vm_boot("--mem 128M --nodes 1 --cpus 1");
	expect_ptr_not_null(m);
	struct kmm_task *t = vm_task(m, "maps", 0);
	expect_int_eq(kmm_vm_sysctl_set(m, "max_map_count", 10), 0);
	/* Alternate protections so no two mappings merge. */
	int made = 0;
	for (int i = 0; i < 20; i++) {
		/* The first mapping is three pages, so a split inside it is possible. */
		unsigned long a = i ? A0 + 0x2000 + (unsigned long)i * 0x1000 : A0;
		long r = kmm_mmap(t, a, i ? 0x1000 : 0x3000, i % 2 ? KMM_PROT_READ : RW,
				  ANON | KMM_MAP_FIXED, NULL, 0);
		if (r < 0) {
			expect_int_eq(r, -ENOMEM);
			break;
		}
		made++;
	}
	/* The stack plus mappings up to the limit: Linux refuses above map_count > max. */
	expect_int_eq(nr_vmas(t), 11);
	expect_int_eq(made, 10);
	/* Splitting a VMA in the middle would need two more: refused. */
	expect_int_eq(kmm_mprotect(t, A0 + 0x1000, 0x1000, KMM_PROT_EXEC), -ENOMEM);
	/* Changing a whole VMA needs no split: allowed. */
	expect_int_eq(kmm_mprotect(t, A0, 0x3000, KMM_PROT_EXEC), 0);
	expect_int_eq(kmm_vm_sysctl_set(m, "max_map_count", -1), -EINVAL);
	expect_int_eq(kmm_vm_sysctl_set(m, "no_such_knob", 1), -ENOENT);
	expect_vm_valid(m);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_error_table);
	run_test(test_partial_failures);
	run_test(test_merge_and_split);
	run_test(test_max_map_count);
	return kmm_test_done();
}
