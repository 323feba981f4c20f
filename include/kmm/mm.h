/*
 * Process address spaces: simulated tasks, their memory, and the system
 * calls that shape it.
 *
 * Linux: include/linux/mm.h, mm/mmap.c, mm/memory.c, mm/mprotect.c,
 * mm/mremap.c, mm/madvise.c, mm/msync.c, mm/mlock.c, kernel/fork.c,
 * kernel/exit.c, arch/x86/mm/fault.c. A task owns an mm: a tree of VMAs and
 * x86-64 4-level page tables whose pages come from the buddy allocator.
 * Memory is read and written through a software MMU (kmm_read, kmm_write,
 * kmm_touch) that walks those tables with a per-CPU TLB, sets accessed and
 * dirty bits, and takes page faults: the data lives in simulated page
 * frames. See docs/address-space.md.
 *
 * A task runs on one simulated CPU. Every call below runs the task there:
 * the calling thread moves to the task's CPU if it is elsewhere (leaving
 * the CPU it was on), like a context switch. In concurrent mode each host
 * thread works on the tasks of its own CPU.
 *
 * System calls return 0 (or an address) on success and a negative errno on
 * failure, as the kernel's do; memory accesses return 0, or -EFAULT when the
 * task got SIGSEGV or SIGBUS (it is then dead: see kmm_task_signal()), or
 * -ENOMEM when the fault ran out of memory, or -ESRCH when the task is no
 * longer alive.
 */
#ifndef KMM_MM_H
#define KMM_MM_H

#include <kmm/machine.h>
#include <kmm/buf.h>

struct kmm_task;
struct kmm_file;

/* --- Constants, with Linux's values ------------------------------------------------ */

#define KMM_PROT_NONE  0x0
#define KMM_PROT_READ  0x1
#define KMM_PROT_WRITE 0x2
#define KMM_PROT_EXEC  0x4

#define KMM_MAP_SHARED		0x01
#define KMM_MAP_PRIVATE		0x02
#define KMM_MAP_SHARED_VALIDATE 0x03
#define KMM_MAP_TYPE		0x0f
#define KMM_MAP_FIXED		0x10
#define KMM_MAP_ANONYMOUS	0x20
#define KMM_MAP_GROWSDOWN	0x0100
#define KMM_MAP_DENYWRITE	0x0800
#define KMM_MAP_EXECUTABLE	0x1000
#define KMM_MAP_LOCKED		0x2000
#define KMM_MAP_NORESERVE	0x4000
#define KMM_MAP_POPULATE	0x8000
#define KMM_MAP_NONBLOCK	0x10000
#define KMM_MAP_STACK		0x20000
#define KMM_MAP_FIXED_NOREPLACE 0x100000

#define KMM_MREMAP_MAYMOVE 1
#define KMM_MREMAP_FIXED   2

#define KMM_MADV_NORMAL	    0
#define KMM_MADV_RANDOM	    1
#define KMM_MADV_SEQUENTIAL 2
#define KMM_MADV_WILLNEED   3
#define KMM_MADV_DONTNEED   4
#define KMM_MADV_FREE	    8
#define KMM_MADV_COLD	    20
#define KMM_MADV_PAGEOUT    21

#define KMM_MS_ASYNC	  1
#define KMM_MS_INVALIDATE 2
#define KMM_MS_SYNC	  4

#define KMM_MCL_CURRENT 1
#define KMM_MCL_FUTURE	2
#define KMM_MCL_ONFAULT 4

#define KMM_MLOCK_ONFAULT 1

#define KMM_RLIM_INFINITY UINT64_MAX

/* kmm_file_open() flags. */
#define KMM_O_RDONLY 0x0
#define KMM_O_WRONLY 0x1
#define KMM_O_RDWR   0x2
#define KMM_O_CREAT  0x40
#define KMM_O_TRUNC  0x200

/* The user address space: x86-64 with 4-level tables (47 bits). */
#define KMM_TASK_SIZE	  0x7ffffffff000UL
#define KMM_MMAP_MIN_ADDR 0x10000UL

/* --- Tasks ------------------------------------------------------------------------- */

enum kmm_task_state {
	KMM_TASK_RUNNING, /* alive */
	KMM_TASK_DEAD,	  /* killed by a signal or exited; waiting to be reaped */
};

/*
 * Start a task with a fresh address space (as after execve: a stack and an
 * empty heap), on simulated CPU @cpu (-1: CPU 0). Returns NULL with a
 * message in @err.
 */
struct kmm_task *kmm_task_create(struct kmm_machine *m, const char *comm, int cpu,
				 struct kmm_error *err);
/*
 * fork(): a child with a copy of @parent's address space, sharing its
 * anonymous pages copy-on-write, on @cpu (-1: the parent's CPU). Returns
 * NULL on failure (no memory, or too many tasks) with a message in @err.
 */
struct kmm_task *kmm_task_fork(struct kmm_task *parent, int cpu, struct kmm_error *err);
/* clone(CLONE_VM): a thread sharing @parent's address space, on @cpu. */
struct kmm_task *kmm_task_clone_vm(struct kmm_task *parent, int cpu, struct kmm_error *err);
/* execve(): replace the task's address space by a fresh one. Returns 0 or -ENOMEM. */
int kmm_task_exec(struct kmm_task *t, const char *comm);
/* exit(): release the address space; the task stays (dead) until reaped. */
void kmm_task_exit(struct kmm_task *t, int code);
/* Release a task (exiting it first if it is alive). */
void kmm_task_reap(struct kmm_task *t);
/* Run @t on its CPU from this thread (what every call below does first). */
void kmm_task_switch(struct kmm_task *t);
/* Move @t to another CPU. */
int kmm_task_migrate(struct kmm_task *t, int cpu);
/* Leave the CPU this thread runs tasks on, if any. */
void kmm_task_switch_out(struct kmm_machine *m);

int kmm_task_pid(const struct kmm_task *t);
const char *kmm_task_comm(const struct kmm_task *t);
enum kmm_task_state kmm_task_state(const struct kmm_task *t);
/* Minor and major page faults the task has taken. */
void kmm_task_faults(const struct kmm_task *t, unsigned long *min_flt, unsigned long *maj_flt);

/* The signal that killed a task, if any (0 if none). */
struct kmm_task_signal {
	int signo;	    /* KMM_SIGSEGV or KMM_SIGBUS */
	int code;	    /* KMM_SEGV_MAPERR, ..., as si_code */
	unsigned long addr; /* the faulting address */
	char msg[200];	    /* what the kernel log says about it */
};
#define KMM_SIGBUS	7
#define KMM_SIGKILL	9 /* the OOM killer's */
#define KMM_SIGSEGV	11
#define KMM_SEGV_MAPERR 1 /* address not mapped */
#define KMM_SEGV_ACCERR 2 /* mapped, but not with this access */
#define KMM_BUS_ADRERR	2 /* beyond the end of the file */
#define KMM_BUS_OBJERR	3 /* the file could not be read */
const struct kmm_task_signal *kmm_task_signal(const struct kmm_task *t);

/* --- Running the CPUs ---------------------------------------------------------------- */

enum kmm_run_mode {
	KMM_RUN_DETERMINISTIC, /* one host thread steps every CPU in turn: same input, same run */
	KMM_RUN_CONCURRENT,    /* one host thread per simulated CPU, truly in parallel */
};

/*
 * One step of the work of simulated CPU @cpu (the calling thread is on it):
 * return false when that CPU has no more work.
 */
typedef bool (*kmm_cpu_step_fn)(struct kmm_machine *m, int cpu, void *arg);

/*
 * Run @step on every CPU of @m until each has returned false. Deterministic
 * mode calls the CPUs' steps in CPU order, round after round, from the
 * calling thread; concurrent mode starts one host thread per CPU, each
 * calling its CPU's step in a loop, and waits for them. A step should run
 * only the tasks of its own CPU. Returns 0, or a negative errno if the host
 * could not start a thread.
 */
int kmm_run(struct kmm_machine *m, enum kmm_run_mode mode, kmm_cpu_step_fn step, void *arg);

/* --- Memory access through the software MMU ---------------------------------------- */

int kmm_read(struct kmm_task *t, unsigned long addr, void *buf, size_t len);
int kmm_write(struct kmm_task *t, unsigned long addr, const void *buf, size_t len);
/* Fill @len bytes at @addr with @c. */
int kmm_memset(struct kmm_task *t, unsigned long addr, int c, size_t len);
/*
 * Access every page of [addr, addr+len) without moving data: a read, or
 * with KMM_TOUCH_WRITE a write that leaves the bytes as they are (it faults,
 * breaks COW and sets the dirty bit like a real write).
 */
#define KMM_TOUCH_READ	0
#define KMM_TOUCH_WRITE 1
int kmm_touch(struct kmm_task *t, unsigned long addr, size_t len, int flags);

/* --- System calls --------------------------------------------------------------------- */

/* mmap(): returns the address, or a negative errno. @file is NULL for anonymous maps. */
long kmm_mmap(struct kmm_task *t, unsigned long addr, unsigned long len, int prot, int flags,
	      struct kmm_file *file, unsigned long off);
int kmm_munmap(struct kmm_task *t, unsigned long addr, unsigned long len);
int kmm_mprotect(struct kmm_task *t, unsigned long addr, unsigned long len, int prot);
/* brk(): returns the new break (the old one when it cannot move). */
unsigned long kmm_brk(struct kmm_task *t, unsigned long brk);
/* mremap(): returns the new address, or a negative errno. */
long kmm_mremap(struct kmm_task *t, unsigned long addr, unsigned long old_len,
		unsigned long new_len, int flags, unsigned long new_addr);
int kmm_madvise(struct kmm_task *t, unsigned long addr, unsigned long len, int advice);
int kmm_msync(struct kmm_task *t, unsigned long addr, unsigned long len, int flags);
int kmm_mlock(struct kmm_task *t, unsigned long addr, unsigned long len);
int kmm_munlock(struct kmm_task *t, unsigned long addr, unsigned long len);
/* mlock2(): with KMM_MLOCK_ONFAULT, pages are locked as they are faulted in, not now. */
int kmm_mlock2(struct kmm_task *t, unsigned long addr, unsigned long len, unsigned int flags);
/*
 * mlockall(): KMM_MCL_CURRENT locks every mapping now, KMM_MCL_FUTURE every
 * later one, KMM_MCL_ONFAULT (with either) on fault only. munlockall()
 * undoes both.
 */
int kmm_mlockall(struct kmm_task *t, int flags);
int kmm_munlockall(struct kmm_task *t);
/*
 * The task's RLIMIT_MEMLOCK in bytes (setrlimit/getrlimit). Tasks start
 * unlimited (KMM_RLIM_INFINITY: as root, with CAP_IPC_LOCK); a limit makes
 * mlock, mlock2 and mlockall(MCL_CURRENT) fail with ENOMEM (EPERM at 0),
 * and MAP_LOCKED mmap, brk and mremap of locked memory with EAGAIN, beyond
 * it. Shared by the tasks of one address space, copied by fork, kept by
 * exec. Returns 0 or -ESRCH.
 */
int kmm_task_set_memlock_limit(struct kmm_task *t, uint64_t bytes);
uint64_t kmm_task_memlock_limit(const struct kmm_task *t);

/* --- Files ------------------------------------------------------------------------------ */

/*
 * Open a host file for mapping. Opening the same host file twice shares one
 * page cache. Returns NULL with a message in @err (the host's reason).
 */
struct kmm_file *kmm_file_open(struct kmm_machine *m, const char *path, int flags, int mode,
			       struct kmm_error *err);
/* Drop the caller's reference (mappings keep their own). */
void kmm_file_close(struct kmm_file *f);
uint64_t kmm_file_size(const struct kmm_file *f);
/*
 * fsync(): write every dirty page of the file's page cache back. Dirty bits
 * still in PTEs are not seen (msync moves them to the pages). 0 or -errno.
 */
int kmm_file_fsync(struct kmm_file *f);
/* Pages of the file in the page cache, and how many of them are dirty. */
void kmm_file_cached(const struct kmm_file *f, unsigned long *pages, unsigned long *dirty);

/* The largest file read and write work on (Linux MAX_LFS_FILESIZE is 8 EiB; kmm: 1 TiB). */
#define KMM_FILE_MAX_BYTES (1ULL << 40)
/*
 * pread(2): copy up to @len bytes of @f from offset @pos into @buf, through
 * the page cache, in task @t (run on its CPU: page allocations and reclaim
 * happen there). Returns the bytes read (short at the end of the file, 0 at
 * or past it), or -EBADF (NULL or closed file, or not open for reading),
 * -EINVAL (NULL @buf, @pos beyond KMM_FILE_MAX_BYTES), -ESRCH (dead task),
 * -ENOMEM, -EIO (the host file could not be read). See docs/address-space.md.
 */
long kmm_file_read(struct kmm_task *t, struct kmm_file *f, uint64_t pos, void *buf, size_t len);
/*
 * pwrite(2): copy @len bytes from @buf into @f at @pos through the page
 * cache, extending the file; the pages are dirty until writeback (fsync,
 * the dirty limits, reclaim, the last close). Returns the bytes written or
 * -EBADF (not open for writing), -EINVAL, -EFBIG (@pos at or beyond
 * KMM_FILE_MAX_BYTES), -ESRCH, -ENOMEM, -EIO (a partly written page could
 * not be read first).
 */
long kmm_file_write(struct kmm_task *t, struct kmm_file *f, uint64_t pos, const void *buf,
		    size_t len);

/* --- Views and checks ----------------------------------------------------------------- */

/* /proc/<pid>/maps. */
void kmm_show_maps(struct kmm_task *t, struct kmm_buf *out);
/* The Vm* and Rss* lines of /proc/<pid>/status. */
void kmm_show_task_status(struct kmm_task *t, struct kmm_buf *out);

/*
 * Check every invariant of the address spaces of the machine: VMAs sorted,
 * disjoint and within limits, the tree consistent with the list, RSS
 * counters equal to the present PTEs, every page's map count equal to the
 * PTEs that map it and its reference count covering them, page-table pages
 * counted. Returns 0, or -EINVAL with what broke in @err. Slow: for tests.
 */
int kmm_vm_validate(struct kmm_machine *m, struct kmm_error *err);

/*
 * Reverse-mapping designs (struct kmm_config::rmap_design, `--rmap`):
 * object-based (anon_vma + i_mmap, Linux 2.6.7 on) or pte chains (2.5.27).
 */
enum kmm_rmap_design {
	KMM_RMAP_OBJRMAP = 0,
	KMM_RMAP_PTECHAIN = 1,
};

/*
 * Where the reverse map's own objects (anon_vmas, anon_vma_chains,
 * pte_chain blocks) live (struct kmm_config::rmap_mem, `--rmap-mem`): in
 * simulated RAM from slab caches, as in Linux (the default), or in host
 * memory, counted apart, so the two designs leave the same free memory to
 * the workload and their reclaim decisions can be compared exactly.
 */
enum kmm_rmap_mem {
	KMM_RMAP_MEM_RAM = 0,
	KMM_RMAP_MEM_HOST = 1,
};

/*
 * Check every reverse-mapping invariant: each mapped page's rmap walk finds
 * exactly the PTEs that a scan of every page table finds, map counts
 * agree, pte chains and anon_vma chains are well formed. 0 or -EINVAL.
 */
int kmm_rmap_validate(struct kmm_machine *m, struct kmm_error *err);

/* vm sysctls of this layer ("max_map_count"). */
int kmm_vm_sysctl_set(struct kmm_machine *m, const char *name, long value);

#endif /* KMM_MM_H */
