/*
 * Workload operations of tasks: spawn, mmap, munmap, mprotect, madvise,
 * brk, touch, fork, exec and exit, run through the address-space layer,
 * and the workload's files and swap areas.
 *
 * Linux: what a process asks of mm through system calls (mm/mmap.c,
 * mm/mprotect.c, mm/madvise.c, kernel/fork.c, fs/exec.c, kernel/exit.c)
 * and through its loads and stores (the page-fault path, mm/memory.c).
 *
 * Each task slot of the program holds the live task of that name (NULL
 * when it is not running); each region slot the address and length the
 * mmap gave it. A fork copies the parent's region addresses into the
 * child's slots, as the address space itself is copied. Task operations
 * run on the task's CPU: the address-space calls move the calling thread
 * there (kmm_task_switch), and the interpreter leaves that CPU afterwards.
 *
 * A touch makes one access per page it names, in the order its pattern
 * gives; a sequential read or write of a whole range is one kmm_touch()
 * call (the MMU walks the range page by page). A fault that runs out of
 * memory is counted (oom_faults) and ends that touch: what a process
 * would see as the OOM killer's work. Anything else unexpected (a
 * signal, a system call refused) stops the run, naming the operation.
 */
#define _GNU_SOURCE
#include "exec.h"
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kmm/mm.h>
#include <kmm/swap.h>
#include <kmm/reclaim.h>

int sim_tasks_init(struct sim_run *r)
{
	const struct wl_program *p = r->p;
	r->tasks = calloc(p->ntasks + 1, sizeof(*r->tasks));
	r->region_addr = calloc(p->nregions + 1, sizeof(*r->region_addr));
	r->region_len = calloc(p->nregions + 1, sizeof(*r->region_len));
	r->files = calloc(p->nfiles + 1, sizeof(*r->files));
	r->file_state = calloc(p->nfiles + 1, sizeof(*r->file_state));
	if (!r->tasks || !r->region_addr || !r->region_len || !r->files || !r->file_state)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfiles; i++) {
		r->file_state[i] = calloc(p->files[i].size / PAGE_SIZE + 1, 1);
		if (!r->file_state[i])
			return -ENOMEM;
	}
	return 0;
}

/*
 * Files and swap areas live in a temporary directory of the host, made
 * here and removed by sim_tasks_release(): the output directory holds
 * results only, and a swap file of the workload's size is no result.
 */
int sim_backing_setup(struct sim_run *r)
{
	const struct wl_program *p = r->p;
	char path[4200];
	struct kmm_error e = {0};
	if (!p->nfiles && !p->nswaps)
		return 0;
	const char *tmp = getenv("TMPDIR");
	snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/kmm-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->tmpdir)) {
		int ret = -errno;
		r->tmpdir[0] = '\0';
		return kmm_error_set(r->err, ret, "cannot make a temporary directory: %s",
				     strerror(-ret));
	}
	for (size_t i = 0; i < p->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/file-%s", r->tmpdir, p->files[i].name);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)p->files[i].size)) {
			int ret = -errno;
			if (fd >= 0)
				close(fd);
			return wl_error(r->err, p, p->files[i].at, "file %s: %s", p->files[i].name,
					strerror(-ret));
		}
		close(fd);
		r->files[i] = kmm_file_open(r->m, path, KMM_O_RDWR, 0600, &e);
		if (!r->files[i])
			return wl_error(r->err, p, p->files[i].at, "file %s: %s", p->files[i].name,
					e.msg);
	}
	for (size_t i = 0; i < p->nswaps; i++) {
		snprintf(path, sizeof(path), "%s/swap-%s", r->tmpdir, p->swaps[i].name);
		int ret = kmm_swapon(r->m, path, p->swaps[i].size, p->swaps[i].prio, 0,
				     p->swaps[i].name, &e);
		if (ret < 0)
			return wl_error(r->err, p, p->swaps[i].at, "swap %s: %s", p->swaps[i].name,
					e.msg);
	}
	return 0;
}

void sim_tasks_release(struct sim_run *r)
{
	const struct wl_program *p = r->p;
	char path[4200];
	if (r->tasks && r->m)
		for (size_t i = 0; i < p->ntasks; i++)
			if (r->tasks[i]) {
				kmm_task_reap(r->tasks[i]);
				r->tasks[i] = NULL;
			}
	if (r->m)
		kmm_task_switch_out(r->m);
	if (r->files)
		for (size_t i = 0; i < p->nfiles; i++)
			if (r->files[i]) {
				kmm_file_close(r->files[i]);
				r->files[i] = NULL;
			}
	if (r->m)
		for (size_t i = 0; i < p->nswaps && r->tmpdir[0]; i++) {
			struct kmm_error e = {0};
			snprintf(path, sizeof(path), "%s/swap-%s", r->tmpdir, p->swaps[i].name);
			kmm_swapoff(r->m, path, &e);
		}
}

/* Remove the temporary directory (after the machine is gone: it closes the files). */
void sim_backing_remove(struct sim_run *r)
{
	const struct wl_program *p = r->p;
	char path[4200];
	if (!r->tmpdir[0])
		return;
	for (size_t i = 0; i < p->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/file-%s", r->tmpdir, p->files[i].name);
		unlink(path);
	}
	for (size_t i = 0; i < p->nswaps; i++) {
		snprintf(path, sizeof(path), "%s/swap-%s", r->tmpdir, p->swaps[i].name);
		unlink(path);
	}
	rmdir(r->tmpdir);
	r->tmpdir[0] = '\0';
}

void sim_tasks_free(struct sim_run *r)
{
	free(r->tasks);
	free(r->region_addr);
	free(r->region_len);
	free(r->files);
	if (r->file_state)
		for (size_t i = 0; i < r->p->nfiles; i++)
			free(r->file_state[i]);
	free(r->file_state);
	r->file_state = NULL;
	r->tasks = NULL;
	r->region_addr = r->region_len = NULL;
	r->files = NULL;
}

static struct kmm_task *task_of(struct sim_run *r, const struct wl_op *op)
{
	struct kmm_task *t = r->tasks[op->task];
	if (!t)
		sim_fail(r, op, "task %s is not running", r->p->tasks[op->task].name);
	return t;
}

enum {
	FILE_ZERO,
	FILE_PATTERN,
	FILE_UNKNOWN
};

/* A system call refused: the checker lets only calls through that should work. */
static void syscall_failed(struct sim_run *r, const struct wl_op *op, long ret)
{
	if (ret == -ENOMEM) {
		r->oom_faults++;
		if (r->o->fail_on_oom)
			sim_oom(r, op);
		return;
	}
	sim_fail(r, op, "%s failed: %s", wl_op_names[op->kind], strerror((int)-ret));
}

/* The outcome of an access: an OOM is counted, a signal stops the run. */
static bool access_failed(struct sim_run *r, const struct wl_op *op, struct kmm_task *t, int ret)
{
	if (!ret)
		return false;
	if (ret == -ENOMEM) {
		r->oom_faults++;
		if (r->o->fail_on_oom)
			sim_oom(r, op);
		return true;
	}
	const struct kmm_task_signal *sig = kmm_task_signal(t);
	if (sig && sig->signo)
		sim_fail(r, op, "task %s killed by signal %d at 0x%lx: %s",
			 r->p->tasks[op->task].name, sig->signo, sig->addr, sig->msg);
	else
		sim_fail(r, op, "access failed: %s", strerror(-ret));
	return true;
}

void sim_exec_spawn(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_error e = {0};
	int slot = op->task;
	struct kmm_task *t = kmm_task_create(r->m, r->p->tasks[slot].name, op->u.spawn.cpu, &e);
	if (!t) {
		sim_fail(r, op, "spawn: %s", e.msg);
		return;
	}
	/*
	 * The simulator counts faults that find no memory (oom_faults) rather
	 * than have the OOM killer end its tasks: they are never chosen.
	 */
	kmm_task_set_oom_score_adj(t, -1000);
	r->tasks[slot] = t;
}

static void region_span(struct sim_run *r, int region, const struct wl_range *rg,
			unsigned long *addr, unsigned long *len)
{
	uint64_t end = rg->open_end ? r->region_len[region] : rg->end;
	*addr = r->region_addr[region] + rg->start;
	*len = end > rg->start ? end - rg->start : 0;
}

void sim_exec_mmap(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	if (!t)
		return;
	int flags = op->u.mmap.shared ? KMM_MAP_SHARED : KMM_MAP_PRIVATE;
	struct kmm_file *f = NULL;
	if (op->u.mmap.file >= 0)
		f = r->files[op->u.mmap.file];
	else
		flags |= KMM_MAP_ANONYMOUS;
	if (op->u.mmap.populate)
		flags |= KMM_MAP_POPULATE;
	/* WL_PROT_* have Linux's values. */
	long addr = kmm_mmap(t, 0, op->u.mmap.size, (int)op->u.mmap.prot, flags, f,
			     f ? op->u.mmap.offset : 0);
	if (addr < 0) {
		syscall_failed(r, op, addr);
		return;
	}
	r->region_addr[op->u.mmap.region] = (unsigned long)addr;
	r->region_len[op->u.mmap.region] = op->u.mmap.size;
	/* Touches through a shared writable mapping change the file: reads cannot check it. */
	if (f && op->u.mmap.shared && (op->u.mmap.prot & WL_PROT_WRITE))
		memset(r->file_state[op->u.mmap.file] + op->u.mmap.offset / PAGE_SIZE, FILE_UNKNOWN,
		       op->u.mmap.size / PAGE_SIZE);
}

/* pressure.c's pattern: word w of page p of a file written by a write op. */
static uint64_t file_word(uint64_t page, uint64_t w)
{
	return page * 1000003ULL + w;
}

/*
 * write FILE[RANGE] / read FILE[RANGE]: kmm_file_write or kmm_file_read of
 * CHUNK bytes a call over the range, in the task. Writes fill each page
 * with the pattern; reads check each page against what the file holds
 * (the pattern, or zeros where nothing was written), counting the pages
 * that differ: any stops the run. In deterministic mode kswapd runs between
 * calls (a call is as long as one system call of the program).
 */
void sim_exec_fileio(struct sim_run *r, const struct wl_op *op, int cpu)
{
	(void)cpu;
	struct kmm_task *t = task_of(r, op);
	if (!t)
		return;
	bool write = op->kind == WL_OP_FILE_WRITE;
	int fi = op->u.fileio.file;
	struct kmm_file *f = r->files[fi];
	uint8_t *state = r->file_state[fi];
	size_t chunk = (size_t)op->u.fileio.chunk;
	uint64_t *buf = malloc(chunk);
	if (!buf) {
		sim_fail(r, op, "no host memory for a %zu-byte buffer", chunk);
		return;
	}
	uint64_t bad = 0;
	for (uint64_t off = op->u.fileio.start; off < op->u.fileio.end && !r->failed;
	     off += chunk) {
		size_t n = (size_t)kmm_min((uint64_t)chunk, op->u.fileio.end - off);
		uint64_t first = off / PAGE_SIZE, words = PAGE_SIZE / 8;
		long got;
		if (write) {
			for (size_t i = 0; i < n / 8; i++)
				buf[i] = file_word(first + i / words, i % words);
			got = kmm_file_write(t, f, off, buf, n);
		} else {
			got = kmm_file_read(t, f, off, buf, n);
		}
		if (got != (long)n) {
			if (got >= 0)
				sim_fail(r, op, "%s moved %ld of %zu bytes at offset %" PRIu64,
					 wl_op_names[op->kind], got, n, off);
			else if (got == -EFAULT || got == -ESRCH)
				access_failed(r, op, t, (int)got);
			else
				syscall_failed(r, op, got);
			break;
		}
		for (uint64_t pg = 0; pg < n / PAGE_SIZE; pg++) {
			if (write) {
				if (state[first + pg] != FILE_UNKNOWN)
					state[first + pg] = FILE_PATTERN;
				continue;
			}
			if (state[first + pg] == FILE_UNKNOWN)
				continue;
			const uint64_t *w = buf + pg * words;
			bool pattern = state[first + pg] == FILE_PATTERN;
			for (uint64_t i = 0; i < words; i++)
				if (w[i] != (pattern ? file_word(first + pg, i) : 0)) {
					bad++;
					break;
				}
		}
		r->accesses[t->cpu->id] += n / PAGE_SIZE;
		if (!r->concurrent) {
			kmm_task_switch_out(r->m);
			kmm_cpu_enter(r->m, 0);
			kmm_kswapd_run_pending(r->m);
			kmm_cpu_exit(r->m);
		}
	}
	free(buf);
	if (bad) {
		r->file_mismatches += bad;
		sim_fail(r, op, "read %s: %" PRIu64 " pages did not hold what was written",
			 r->p->files[fi].name, bad);
	}
}

/*
 * madvise advice the address-space layer does not take yet, and what it
 * waits for; NULL when the advice runs. MADV_POPULATE_READ/WRITE run here
 * as what they are, a fault on every page of the range.
 */
const char *sim_madvise_needs(enum wl_advice advice)
{
	switch (advice) {
	case WL_MADV_REMOVE:
		return "shared memory (MADV_REMOVE punches a hole in shmem)";
	case WL_MADV_HUGEPAGE:
	case WL_MADV_NOHUGEPAGE:
		return "transparent huge pages";
	default:
		return NULL;
	}
}

void sim_exec_area(struct sim_run *r, const struct wl_op *op, int cpu)
{
	/* Linux's MADV_* numbers, in enum wl_advice order. */
	static const int advice[WL_NR_ADVICE] = {0, 1, 2, 3, 4, 8, 9, 20, 21, 14, 15, 22, 23};
	struct kmm_task *t = task_of(r, op);
	unsigned long addr, len;
	long ret = 0;
	if (!t)
		return;
	region_span(r, op->u.area.region, &op->u.area.range, &addr, &len);
	if (op->kind == WL_OP_MUNMAP) {
		ret = kmm_munmap(t, addr, len);
		if (!ret && addr == r->region_addr[op->u.area.region] &&
		    len == r->region_len[op->u.area.region])
			r->region_addr[op->u.area.region] = r->region_len[op->u.area.region] = 0;
	} else if (op->kind == WL_OP_MPROTECT) {
		ret = kmm_mprotect(t, addr, len, (int)op->u.area.prot);
	} else if (op->kind == WL_OP_MLOCK) {
		ret = kmm_mlock2(t, addr, len, op->u.area.onfault ? KMM_MLOCK_ONFAULT : 0);
	} else if (op->kind == WL_OP_MUNLOCK) {
		ret = kmm_munlock(t, addr, len);
	} else if (op->u.area.advice == WL_MADV_POPULATE_READ ||
		   op->u.area.advice == WL_MADV_POPULATE_WRITE) {
		bool w = op->u.area.advice == WL_MADV_POPULATE_WRITE;
		access_failed(r, op, t,
			      kmm_touch(t, addr, len, w ? KMM_TOUCH_WRITE : KMM_TOUCH_READ));
		return;
	} else {
		ret = kmm_madvise(t, addr, len, advice[op->u.area.advice]);
		if (ret == -EINVAL) {
			sim_fail(r, op, "madvise %s: not implemented by kmm's address-space layer",
				 wl_advice_names[op->u.area.advice]);
			return;
		}
	}
	if (ret)
		syscall_failed(r, op, ret);
}

void sim_exec_mlockall(struct sim_run *r, const struct wl_op *op, int cpu)
{
	(void)cpu;
	struct kmm_task *t = task_of(r, op);
	if (!t)
		return;
	/* The language's flags are Linux's MCL_* values, as kmm's are. */
	long ret = op->kind == WL_OP_MUNLOCKALL ? kmm_munlockall(t)
						: kmm_mlockall(t, (int)op->u.mlockall.flags);
	if (ret)
		syscall_failed(r, op, ret);
}

void sim_exec_brk(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	int reg = op->u.brk.region;
	if (!t)
		return;
	if (!r->region_addr[reg])
		r->region_addr[reg] = kmm_brk(t, 0); /* the program break's start */
	unsigned long want = r->region_addr[reg] + op->u.brk.size;
	if (kmm_brk(t, want) != want) {
		syscall_failed(r, op, -ENOMEM);
		return;
	}
	r->region_len[reg] = op->u.brk.size;
}

/*
 * Page k in 0..n-1 with probability ~ 1/(k+1)^s: the inverse of the
 * continuous density x^-s on [1, n+1), floored. Exact enough for access
 * skew and O(1) per draw without a table (a range may be terabytes).
 */
static uint64_t zipf_page(struct kmm_rng *rng, uint64_t n, double s)
{
	double u = kmm_rng_double(rng);
	double top = (double)n + 1, x;
	if (fabs(s - 1.0) < 1e-9) {
		x = pow(top, u);
	} else {
		double a = 1.0 - s;
		x = pow(1.0 + u * (pow(top, a) - 1.0), 1.0 / a);
	}
	uint64_t k = x < 1.0 ? 0 : (uint64_t)x - 1;
	return k < n ? k : n - 1;
}

void sim_exec_touch(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	unsigned long addr, len;
	if (!t)
		return;
	region_span(r, op->u.touch.region, &op->u.touch.range, &addr, &len);
	uint64_t npages = len / WL_PAGE_SIZE;
	if (!npages)
		return;
	int tcpu = t->cpu->id;
	struct kmm_rng *pick = &r->rng[tcpu].pick, *coin = &r->rng[tcpu].coin;
	enum wl_pattern pat = op->u.touch.pattern;
	uint64_t stride_pages = op->u.touch.stride / WL_PAGE_SIZE;
	uint64_t count = op->u.touch.count;
	if (!count) {
		if (pat == WL_PAT_STRIDE)
			count = (npages + stride_pages - 1) / stride_pages;
		else if (pat == WL_PAT_LOOP)
			count = npages * op->u.touch.loops;
		else
			count = npages;
	}
	if (pat == WL_PAT_SEQ && op->u.touch.access != WL_MIXED && count == npages) {
		int flags = op->u.touch.access == WL_WRITE ? KMM_TOUCH_WRITE : KMM_TOUCH_READ;
		access_failed(r, op, t, kmm_touch(t, addr, len, flags));
		r->accesses[tcpu] += npages;
		return;
	}
	uint64_t page = 0;
	for (uint64_t i = 0; i < count && !r->failed; i++) {
		switch (pat) {
		case WL_PAT_SEQ:
		case WL_PAT_LOOP:
			page = i % npages;
			break;
		case WL_PAT_RANDOM:
			page = kmm_rng_below(pick, npages);
			break;
		case WL_PAT_STRIDE:
			page = (i * stride_pages) % npages;
			break;
		case WL_PAT_ZIPF:
			page = zipf_page(pick, npages, op->u.touch.zipf_s);
			break;
		}
		bool write = op->u.touch.access == WL_WRITE ||
			     (op->u.touch.access == WL_MIXED &&
			      kmm_rng_below(coin, 100) < op->u.touch.write_pct);
		r->accesses[tcpu]++;
		if (r->progress && !(i & 4095))
			sim_progress_tick(r);
		if (access_failed(r, op, t,
				  kmm_touch(t, addr + page * WL_PAGE_SIZE, WL_PAGE_SIZE,
					    write ? KMM_TOUCH_WRITE : KMM_TOUCH_READ)))
			return;
	}
}

void sim_exec_fork(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	struct kmm_error e = {0};
	if (!t)
		return;
	struct kmm_task *c = kmm_task_fork(t, op->u.fork.cpu, &e);
	if (!c) {
		if (e.code == -ENOMEM || !e.code) {
			r->oom_faults++;
			if (r->o->fail_on_oom)
				sim_oom(r, op);
			return;
		}
		sim_fail(r, op, "fork: %s", e.msg);
		return;
	}
	r->tasks[op->u.fork.child] = c;
	for (uint32_t i = 0; i < op->u.fork.npairs; i++) {
		const struct wl_pair *pr = &r->p->fork_pairs[op->u.fork.first_pair + i];
		r->region_addr[pr->to] = r->region_addr[pr->from];
		r->region_len[pr->to] = r->region_len[pr->from];
	}
}

static void forget_regions(struct sim_run *r, int task)
{
	for (size_t i = 0; i < r->p->nregions; i++)
		if (r->p->regions[i].task == task)
			r->region_addr[i] = r->region_len[i] = 0;
}

void sim_exec_exec(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	if (!t)
		return;
	int ret = kmm_task_exec(t, r->p->tasks[op->task].name);
	forget_regions(r, op->task);
	if (ret)
		syscall_failed(r, op, ret);
}

void sim_exec_exit(struct sim_run *r, const struct wl_op *op, int cpu)
{
	struct kmm_task *t = task_of(r, op);
	if (!t)
		return;
	kmm_task_reap(t);
	r->tasks[op->task] = NULL;
	forget_regions(r, op->task);
}
