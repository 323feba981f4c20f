/*
 * mlock and the unevictable list: an mlocked region under memory pressure
 * is never swapped out (none of its PTEs ever holds a swap entry, its task
 * never takes a major fault, its bytes are intact), with exact counters
 * (nr_mlock, nr_unevictable, meminfo Mlocked and Unevictable,
 * unevictable_pgs_mlocked/munlocked/culled/rescued); munlock makes it
 * reclaimable again; fork does not pass VM_LOCKED on, COW keeps the locked
 * side locked; munlock keeps a page another task still locks; reclaim culls
 * a page it finds in a VM_LOCKED VMA. Under both rmap designs; every checker
 * after each step.
 */
#include "reclaim_util.h"

#define MiB	(1UL << 20)
#define LOCKED	(4 * MiB)
#define NLOCKED (LOCKED / PAGE_SIZE)
#define RW	(KMM_PROT_READ | KMM_PROT_WRITE)

static struct kmm_machine *boot_mlock(const char *rmap, char *swap, size_t len)
{
	char opts[300];
	snprintf(swap, len, "/tmp/kmm-mlock-%d-%llx.swap", getpid(),
		 (unsigned long long)kmm_test_seed);
	snprintf(opts, sizeof(opts), "--mem 32M --cpus 1 --seed %llu --rmap %s --swap %s:128M",
		 (unsigned long long)kmm_test_seed, rmap, swap);
	return vm_boot(opts);
}

static unsigned char byte_of(unsigned long page, unsigned int i, unsigned int salt)
{
	return (unsigned char)(page * 31 + i * 7 + salt);
}

static int write_range(struct kmm_task *t, unsigned long addr, unsigned long pages,
		       unsigned int salt)
{
	unsigned char buf[PAGE_SIZE];
	for (unsigned long p = 0; p < pages; p++) {
		for (unsigned int i = 0; i < PAGE_SIZE; i++)
			buf[i] = byte_of(p, i, salt);
		if (kmm_write(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
	}
	return 0;
}

/* Every byte of @pages pages at @addr; salt[p] says which salt page p was written with. */
static int check_range(struct kmm_task *t, unsigned long addr, unsigned long pages,
		       const unsigned int *salt)
{
	unsigned char buf[PAGE_SIZE];
	for (unsigned long p = 0; p < pages; p++) {
		if (kmm_read(t, addr + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
		for (unsigned int i = 0; i < PAGE_SIZE; i++)
			if (buf[i] != byte_of(p, i, salt[p])) {
				fprintf(stderr, "page %lu byte %u: %#x, expected %#x\n", p, i,
					buf[i], byte_of(p, i, salt[p]));
				return -1;
			}
	}
	return 0;
}

/* PTEs of [addr, addr + pages) that no longer map a page (swapped out or dropped). */
static unsigned long gone_ptes(struct kmm_task *t, unsigned long addr, unsigned long pages)
{
	unsigned long n = 0;
	for (unsigned long p = 0; p < pages; p++) {
		pte_t *pte = pte_lookup(t->mm, addr + p * PAGE_SIZE);
		if (!pte || !pte_present(entry_read(pte)))
			n++;
	}
	return n;
}

/*
 * Memory pressure: a task writes @mib MiB (more than the machine holds) and
 * reads it back, then exits. Returns the PTEs of the watched region that
 * lost its page at any check during it (sampled every 64 pages).
 */
static long pressure(struct kmm_machine *m, unsigned long mib, struct kmm_task *watch,
		     unsigned long addr, unsigned long pages)
{
	struct kmm_task *b = vm_task(m, "hog", 0);
	unsigned long n = mib * MiB / PAGE_SIZE, seen = 0;
	long a = kmm_mmap(b, 0, n * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	if (a < 0)
		return -1;
	unsigned char buf[PAGE_SIZE];
	for (unsigned long p = 0; p < n; p++) {
		memset(buf, (int)(p & 0xff), sizeof(buf));
		if (kmm_write(b, (unsigned long)a + p * PAGE_SIZE, buf, PAGE_SIZE))
			return -1;
		if (watch && p % 64 == 0)
			seen += gone_ptes(watch, addr, pages);
	}
	for (unsigned long p = 0; p < n; p++) {
		if (kmm_read(b, (unsigned long)a + p * PAGE_SIZE, buf, PAGE_SIZE) ||
		    buf[0] != (unsigned char)(p & 0xff) || buf[PAGE_SIZE - 1] != buf[0])
			return -1;
	}
	kmm_task_reap(b);
	return (long)seen;
}

#define ev(m, name) vmstat(m, name)

static void run_mlock_pressure(const char *rmap)
{
	char swap[96];
	struct kmm_machine *m = boot_mlock(rmap, swap, sizeof(swap));
	expect_ptr_not_null(m);
	if (!m)
		return;
	struct kmm_task *t = vm_task(m, "locked", 0);
	long a = kmm_mmap(t, 0, LOCKED, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;
	unsigned int salt[NLOCKED];
	for (unsigned long p = 0; p < NLOCKED; p++)
		salt[p] = 1;
	expect_int_eq(write_range(t, addr, NLOCKED, 1), 0);
	expect_all_valid(m); /* drains the add batches: every page is on a list */

	/* mlock of pages already there: each is mlocked once and moved to the unevictable list. */
	expect_int_eq(kmm_mlock(t, addr, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "nr_unevictable"), NLOCKED);
	expect_i64_eq(reclaim_stat(m, "meminfo", "Mlocked"), LOCKED / 1024);
	expect_i64_eq(reclaim_stat(m, "meminfo", "Unevictable"), LOCKED / 1024);
	expect_i64_eq(ev(m, "unevictable_pgs_mlocked"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_culled"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), 0);

	/* Pressure: 40 MiB through a 32 MiB machine. The locked region never goes out. */
	long out0 = ev(m, "pswpout");
	expect_i64_eq(pressure(m, 40, t, addr, NLOCKED), 0);
	expect_i64_ge(ev(m, "pswpout") - out0, 2000);
	expect_u64_eq(gone_ptes(t, addr, NLOCKED), 0);
	expect_i64_eq(get_mm_counter(t->mm, MM_SWAPENTS), 0);
	unsigned long minf, majf;
	expect_int_eq(check_range(t, addr, NLOCKED, salt), 0);
	kmm_task_faults(t, &minf, &majf);
	expect_u64_eq(majf, 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "nr_unevictable"), NLOCKED);
	/* Reclaim never saw them: nothing more was culled or mlocked. */
	expect_i64_eq(ev(m, "unevictable_pgs_culled"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_mlocked"), NLOCKED);

	/* munlock: back to the evictable lists, and pressure now takes them. */
	expect_int_eq(kmm_munlock(t, addr, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_i64_eq(ev(m, "nr_unevictable"), 0);
	expect_i64_eq(reclaim_stat(m, "meminfo", "Mlocked"), 0);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_rescued"), NLOCKED);
	expect_i64_ge(pressure(m, 40, t, addr, NLOCKED), 1);
	expect_u64_ge(gone_ptes(t, addr, NLOCKED), NLOCKED / 2);
	expect_int_eq(check_range(t, addr, NLOCKED, salt), 0);
	kmm_task_faults(t, &minf, &majf);
	expect_u64_ge(majf, 1);
	expect_all_valid(m);

	/* mlock faults the swapped pages back in and locks them; munmap unlocks them. */
	expect_int_eq(kmm_mlock(t, addr, LOCKED), 0);
	expect_u64_eq(gone_ptes(t, addr, NLOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "nr_unevictable"), NLOCKED);
	/* A page copied on its write fault is mlocked anew: the counters still balance. */
	expect_i64_eq(ev(m, "unevictable_pgs_mlocked") - ev(m, "unevictable_pgs_munlocked"),
		      NLOCKED);
	expect_int_eq(check_range(t, addr, NLOCKED, salt), 0);
	long munlocked = ev(m, "unevictable_pgs_munlocked");
	expect_int_eq(kmm_munmap(t, addr, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_i64_eq(ev(m, "nr_unevictable"), 0);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), munlocked + (long)NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_cleared"), 0);
	kmm_task_reap(t);
	expect_all_valid(m);
	kmm_machine_destroy(m);
	unlink(swap);
}

static void test_mlock_pressure_objrmap(void)
{
	run_mlock_pressure("objrmap");
}

static void test_mlock_pressure_ptechain(void)
{
	run_mlock_pressure("ptechain");
}

/* Fork: the child's VMA is not locked; COW keeps the parent's copies locked. */
static void run_mlock_fork(const char *rmap)
{
	char swap[96];
	struct kmm_error err = {0};
	struct kmm_machine *m = boot_mlock(rmap, swap, sizeof(swap));
	expect_ptr_not_null(m);
	if (!m)
		return;
	struct kmm_task *p = vm_task(m, "parent", 0);
	long a = kmm_mmap(p, 0, LOCKED, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	unsigned long addr = (unsigned long)a;
	unsigned int psalt[NLOCKED], csalt[NLOCKED];
	for (unsigned long i = 0; i < NLOCKED; i++)
		psalt[i] = csalt[i] = 3;
	expect_int_eq(write_range(p, addr, NLOCKED, 3), 0);
	expect_int_eq(kmm_mlock(p, addr, LOCKED), 0);
	struct kmm_task *c = kmm_task_fork(p, 0, &err);
	expect_ptr_not_null(c);
	expect_true(find_vma(p->mm, addr)->vm_flags & VM_LOCKED);
	expect_false(find_vma(c->mm, addr)->vm_flags & VM_LOCKED);
	expect_u64_eq(c->mm->locked_vm, 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);

	/* The child copies half (its copies are not locked), the parent a quarter of the rest. */
	for (unsigned long i = 0; i < NLOCKED / 2; i++)
		csalt[i] = 4;
	expect_int_eq(write_range(c, addr, NLOCKED / 2, 4), 0);
	for (unsigned long i = NLOCKED / 2; i < NLOCKED * 3 / 4; i++)
		psalt[i] = 5;
	unsigned char buf[PAGE_SIZE];
	for (unsigned long i = NLOCKED / 2; i < NLOCKED * 3 / 4; i++) {
		for (unsigned int j = 0; j < PAGE_SIZE; j++)
			buf[j] = byte_of(i, j, 5);
		expect_int_eq(kmm_write(p, addr + i * PAGE_SIZE, buf, PAGE_SIZE), 0);
	}
	expect_all_valid(m);
	/* The parent maps NLOCKED pages, all locked; the old ones it copied from went back. */
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "nr_unevictable"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), NLOCKED / 4);
	expect_i64_eq(ev(m, "unevictable_pgs_rescued"), NLOCKED / 4);

	/* Pressure: the parent's pages stay, the child's own copies may go. */
	expect_i64_eq(pressure(m, 40, p, addr, NLOCKED), 0);
	expect_u64_eq(gone_ptes(p, addr, NLOCKED), 0);
	expect_u64_ge(gone_ptes(c, addr, NLOCKED), 1);
	expect_int_eq(check_range(p, addr, NLOCKED, psalt), 0);
	expect_int_eq(check_range(c, addr, NLOCKED, csalt), 0);
	expect_all_valid(m);

	/* The parent exits: nothing is locked any more, and the child's pages are all evictable. */
	kmm_task_reap(p);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_i64_eq(ev(m, "nr_unevictable"), 0);
	expect_int_eq(check_range(c, addr, NLOCKED, csalt), 0);
	kmm_task_reap(c);
	expect_all_valid(m);
	kmm_machine_destroy(m);
	unlink(swap);
}

static void test_mlock_fork_objrmap(void)
{
	run_mlock_fork("objrmap");
}

static void test_mlock_fork_ptechain(void)
{
	run_mlock_fork("ptechain");
}

/*
 * Two tasks lock the same pages of a shared file mapping. munlock() by one
 * keeps them locked (the rmap finds the other's VM_LOCKED VMA); munmap by
 * one unlocks them (it cannot look), and reclaim culls them back when it
 * meets them: the other task's mapping never loses a page.
 */
static void run_mlock_shared(const char *rmap)
{
	char swap[96], path[64];
	struct kmm_error err = {0};
	struct kmm_machine *m = boot_mlock(rmap, swap, sizeof(swap));
	expect_ptr_not_null(m);
	if (!m)
		return;
	expect_int_eq(make_pattern_file(path, sizeof(path), LOCKED, kmm_test_seed), 0);
	struct kmm_file *f = kmm_file_open(m, path, KMM_O_RDWR, 0, &err);
	expect_ptr_not_null(f);
	struct kmm_task *p = vm_task(m, "one", 0), *c = vm_task(m, "two", 0);
	long pa = kmm_mmap(p, 0, LOCKED, RW, KMM_MAP_SHARED, f, 0);
	long ca = kmm_mmap(c, 0, LOCKED, RW, KMM_MAP_SHARED, f, 0);
	expect_i64_ge(pa, 0);
	expect_i64_ge(ca, 0);
	unsigned long addr = (unsigned long)ca;
	expect_int_eq(kmm_mlock(p, (unsigned long)pa, LOCKED), 0);
	expect_int_eq(kmm_mlock(c, addr, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_mlocked"), NLOCKED);

	expect_int_eq(kmm_munlock(p, (unsigned long)pa, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), 0);

	/* Lock it again in the first task, then unmap it there: unlocked without looking. */
	expect_int_eq(kmm_mlock(p, (unsigned long)pa, LOCKED), 0);
	expect_int_eq(kmm_munmap(p, (unsigned long)pa, LOCKED), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_i64_eq(ev(m, "unevictable_pgs_munlocked"), NLOCKED);
	expect_i64_eq(ev(m, "unevictable_pgs_rescued"), NLOCKED);
	long culled = ev(m, "unevictable_pgs_culled");
	expect_i64_eq(pressure(m, 40, c, addr, NLOCKED), 0);
	expect_u64_eq(gone_ptes(c, addr, NLOCKED), 0);
	unsigned char buf[PAGE_SIZE];
	for (unsigned long i = 0; i < NLOCKED; i++) {
		expect_int_eq(kmm_read(c, addr + i * PAGE_SIZE, buf, PAGE_SIZE), 0);
		for (unsigned int j = 0; j < PAGE_SIZE; j += 61)
			check_u64_eq(buf[j], pattern_byte(kmm_test_seed, i * PAGE_SIZE + j));
	}
	unsigned long minf, majf;
	kmm_task_faults(c, &minf, &majf);
	expect_u64_eq(majf, 0);
	expect_all_valid(m);
	/* Every page reclaim met went back to the unevictable list, locked again. */
	long reculled = ev(m, "unevictable_pgs_culled") - culled;
	expect_i64_ge(reculled, 1);
	expect_i64_eq(ev(m, "nr_mlock"), ev(m, "unevictable_pgs_mlocked") - NLOCKED);
	expect_i64_eq(ev(m, "nr_mlock"), reculled);
	expect_i64_eq(ev(m, "nr_unevictable"), reculled);
	printf("%s: reclaim culled %ld of %lu pages another task still locked\n", rmap, reculled,
	       NLOCKED);
	kmm_task_reap(c);
	kmm_task_reap(p);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_i64_eq(ev(m, "nr_unevictable"), 0);
	kmm_file_close(f);
	kmm_machine_destroy(m);
	unlink(path);
	unlink(swap);
}

static void test_mlock_shared_objrmap(void)
{
	run_mlock_shared("objrmap");
}

static void test_mlock_shared_ptechain(void)
{
	run_mlock_shared("ptechain");
}

/*
 * mlock2(MLOCK_ONFAULT), mlockall (MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT),
 * munlockall, and RLIMIT_MEMLOCK with Linux's errors.
 */
static void test_mlockall_onfault_rlimit(void)
{
	enum {
		N = 64
	};
	char swap[96];
	struct kmm_machine *m = boot_mlock("objrmap", swap, sizeof(swap));
	expect_ptr_not_null(m);
	if (!m)
		return;
	struct kmm_task *t = vm_task(m, "locker", 0);
	long a = kmm_mmap(t, 0, N * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	unsigned long addr = (unsigned long)a;

	/* Locked on fault: nothing comes in now, each page as it is touched. */
	expect_int_eq(kmm_mlock2(t, addr, N * PAGE_SIZE, 2), -EINVAL);
	expect_int_eq(kmm_mlock2(t, addr, N * PAGE_SIZE, KMM_MLOCK_ONFAULT), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_u64_eq(t->mm->locked_vm, N);
	expect_int_eq(kmm_touch(t, addr, 10 * PAGE_SIZE, KMM_TOUCH_WRITE), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 10);
	expect_i64_eq(ev(m, "nr_unevictable"), 10);
	expect_int_eq(kmm_munlock(t, addr, N * PAGE_SIZE), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_u64_eq(t->mm->locked_vm, 0);

	/* mlockall(MCL_CURRENT): every mapping locked and faulted in. */
	expect_int_eq(kmm_mlockall(t, 0), -EINVAL);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_ONFAULT), -EINVAL);
	expect_int_eq(kmm_mlockall(t, 8), -EINVAL);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_CURRENT), 0);
	expect_all_valid(m);
	expect_u64_eq(t->mm->locked_vm, t->mm->total_vm);
	expect_i64_eq(ev(m, "nr_mlock"), (long)t->mm->total_vm);
	/* Not for the future: a new mapping is not locked. */
	long b = kmm_mmap(t, 0, 8 * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(b, 0);
	expect_u64_eq(t->mm->total_vm - t->mm->locked_vm, 8);

	/* MCL_FUTURE: later mappings are locked and populated; with MCL_ONFAULT, on fault. */
	long mlock0 = ev(m, "nr_mlock");
	expect_int_eq(kmm_mlockall(t, KMM_MCL_FUTURE), 0);
	long c = kmm_mmap(t, 0, 8 * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(c, 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock") - mlock0, 8);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_FUTURE | KMM_MCL_ONFAULT), 0);
	long d = kmm_mmap(t, 0, 8 * PAGE_SIZE, RW, KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(d, 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock") - mlock0, 8);
	expect_int_eq(kmm_touch(t, (unsigned long)d, 3 * PAGE_SIZE, KMM_TOUCH_WRITE), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock") - mlock0, 11);

	/* munlockall: nothing locked, now or later. */
	expect_int_eq(kmm_munlockall(t), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	expect_u64_eq(t->mm->locked_vm, 0);
	expect_u64_eq(t->mm->def_flags & VM_LOCKED_MASK, 0);
	expect_int_eq(kmm_munmap(t, (unsigned long)b, 8 * PAGE_SIZE), 0);
	expect_int_eq(kmm_munmap(t, (unsigned long)c, 8 * PAGE_SIZE), 0);
	expect_int_eq(kmm_munmap(t, (unsigned long)d, 8 * PAGE_SIZE), 0);

	/* RLIMIT_MEMLOCK of 16 pages. */
	expect_u64_eq(kmm_task_memlock_limit(t), KMM_RLIM_INFINITY);
	expect_int_eq(kmm_task_set_memlock_limit(t, 16 * PAGE_SIZE), 0);
	expect_u64_eq(kmm_task_memlock_limit(t), 16 * PAGE_SIZE);
	expect_int_eq(kmm_mlock(t, addr, 17 * PAGE_SIZE), -ENOMEM);
	expect_u64_eq(t->mm->locked_vm, 0);
	expect_int_eq(kmm_mlock(t, addr, 16 * PAGE_SIZE), 0);
	expect_int_eq(kmm_mlock(t, addr + 8 * PAGE_SIZE, 8 * PAGE_SIZE), 0); /* locked already */
	expect_int_eq(kmm_mlock(t, addr + 8 * PAGE_SIZE, 9 * PAGE_SIZE), -ENOMEM);
	expect_i64_eq(kmm_mmap(t, 0, PAGE_SIZE, RW,
			       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_LOCKED, NULL, 0),
		      -EAGAIN);
	expect_i64_eq(kmm_mremap(t, addr, 16 * PAGE_SIZE, 17 * PAGE_SIZE, KMM_MREMAP_MAYMOVE, 0),
		      -EAGAIN);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_CURRENT), -ENOMEM);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_FUTURE), 0);
	unsigned long brk0 = kmm_brk(t, 0);
	expect_u64_eq(kmm_brk(t, brk0 + PAGE_SIZE), brk0);
	expect_int_eq(kmm_munlockall(t), 0);
	expect_u64_eq(kmm_brk(t, brk0 + PAGE_SIZE), brk0 + PAGE_SIZE);
	/* fork passes the limit on; a limit of 0 refuses locking with EPERM. */
	struct kmm_error err = {0};
	struct kmm_task *child = kmm_task_fork(t, -1, &err);
	expect_ptr_not_null(child);
	expect_u64_eq(kmm_task_memlock_limit(child), 16 * PAGE_SIZE);
	kmm_task_reap(child);
	expect_int_eq(kmm_task_set_memlock_limit(t, 0), 0);
	expect_int_eq(kmm_mlock(t, addr, PAGE_SIZE), -EPERM);
	expect_int_eq(kmm_mlockall(t, KMM_MCL_FUTURE), -EPERM);
	expect_i64_eq(kmm_mmap(t, 0, PAGE_SIZE, RW,
			       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_LOCKED, NULL, 0),
		      -EPERM);
	expect_int_eq(kmm_munlock(t, addr, N * PAGE_SIZE), 0);
	expect_all_valid(m);
	expect_i64_eq(ev(m, "nr_mlock"), 0);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(swap);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_mlock_pressure_objrmap);
	run_test(test_mlock_pressure_ptechain);
	run_test(test_mlock_fork_objrmap);
	run_test(test_mlock_fork_ptechain);
	run_test(test_mlock_shared_objrmap);
	run_test(test_mlock_shared_ptechain);
	run_test(test_mlockall_onfault_rlimit);
	return kmm_test_done();
}
