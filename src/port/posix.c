/*
 * port/posix.c: kmm's host interface for Linux and other POSIX systems.
 *
 * Linux counterpart: none; this is what the kernel gets from hardware.
 *
 * Simulated RAM is one anonymous MAP_NORESERVE mapping: reserving address
 * space is free, and a 64 GiB twin runs on a 24 GiB host as long as it does
 * not touch more than the host has. Population goes through
 * MADV_POPULATE_WRITE (Linux 5.14+), falling back to touching one byte per
 * page where the host kernel lacks it.
 */
#define _GNU_SOURCE
#include "port.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

__thread struct kmm_cpu *kmm_current_cpu __attribute__((tls_model("initial-exec")));

static size_t host_page_size(void)
{
	static size_t ps;
	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

void *kmm_port_reserve(size_t size, size_t align)
{
	size_t total = size + align;
	char *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	/* Trim the slack on both sides so unreserve gets the exact range back. */
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	size_t tail = (uintptr_t)p + total - (start + size);
	if (tail)
		munmap((void *)(start + size), tail);
	return (void *)start;
}

void kmm_port_unreserve(void *addr, size_t size)
{
	if (addr)
		munmap(addr, size);
}

void kmm_port_hugepage_hint(void *addr, size_t size)
{
	madvise(addr, size, MADV_HUGEPAGE);
}

int kmm_port_populate(void *addr, size_t size)
{
	static int no_populate;
	if (!READ_ONCE(no_populate)) {
		if (madvise(addr, size, MADV_POPULATE_WRITE) == 0)
			return 0;
		if (errno != EINVAL)
			return -errno;
		WRITE_ONCE(no_populate, 1);
	}
	/* Older hosts: one write per page (reads would map the zero page). */
	volatile char *p = addr;
	for (size_t off = 0; off < size; off += host_page_size())
		p[off] = p[off];
	return 0;
}

void kmm_port_discard(void *addr, size_t size)
{
	madvise(addr, size, MADV_DONTNEED);
}

size_t kmm_port_resident(void *addr, size_t size)
{
	size_t ps = host_page_size(), n = (size + ps - 1) / ps, res = 0;
	unsigned char vec[4096];
	for (size_t i = 0; i < n; i += sizeof(vec)) {
		size_t chunk = n - i < sizeof(vec) ? n - i : sizeof(vec);
		if (mincore((char *)addr + i * ps, chunk * ps, vec))
			return 0;
		for (size_t j = 0; j < chunk; j++)
			res += vec[j] & 1;
	}
	return res * ps;
}

void *kmm_port_alloc(size_t size)
{
	void *p =
	    mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void kmm_port_free(void *ptr, size_t size)
{
	if (ptr)
		munmap(ptr, size ? size : 1);
}

void *kmm_port_malloc(size_t size, size_t align)
{
	void *p = NULL;
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
		return NULL;
	memset(p, 0, size);
	return p;
}

void kmm_port_mfree(void *ptr)
{
	free(ptr);
}

struct kmm_port_thread {
	pthread_t tid;
};

int kmm_port_thread_create(kmm_port_thread **thread, void *(*fn)(void *), void *arg)
{
	kmm_port_thread *t = kmm_port_alloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	int err = pthread_create(&t->tid, NULL, fn, arg);
	if (err) {
		kmm_port_free(t, sizeof(*t));
		return -err;
	}
	*thread = t;
	return 0;
}

void *kmm_port_thread_join(kmm_port_thread *thread)
{
	void *ret = NULL;
	pthread_join(thread->tid, &ret);
	kmm_port_free(thread, sizeof(*thread));
	return ret;
}

struct waitq_impl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
};
_Static_assert(sizeof(struct waitq_impl) <= sizeof(struct kmm_port_waitq), "waitq too small");

void kmm_port_waitq_init(struct kmm_port_waitq *wq)
{
	struct waitq_impl *w = (struct waitq_impl *)wq->opaque;
	pthread_condattr_t attr;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
}

void kmm_port_waitq_destroy(struct kmm_port_waitq *wq)
{
	struct waitq_impl *w = (struct waitq_impl *)wq->opaque;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

void kmm_port_waitq_lock(struct kmm_port_waitq *wq)
{
	pthread_mutex_lock(&((struct waitq_impl *)wq->opaque)->lock);
}

void kmm_port_waitq_unlock(struct kmm_port_waitq *wq)
{
	pthread_mutex_unlock(&((struct waitq_impl *)wq->opaque)->lock);
}

void kmm_port_waitq_wait(struct kmm_port_waitq *wq, uint64_t timeout_ns)
{
	struct waitq_impl *w = (struct waitq_impl *)wq->opaque;
	if (!timeout_ns) {
		pthread_cond_wait(&w->cond, &w->lock);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

void kmm_port_waitq_wake_all(struct kmm_port_waitq *wq)
{
	pthread_cond_broadcast(&((struct waitq_impl *)wq->opaque)->cond);
}

bool kmm_port_heavy_barrier_init(void)
{
#if defined(__linux__) && defined(__NR_membarrier)
	static int state; /* 0 unknown, 1 registered, -1 unavailable */
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (s)
		return s > 0;
	long mask = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	s = -1;
	if (mask > 0 && (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
		s = 1;
	__atomic_store_n(&state, s, __ATOMIC_RELEASE);
	return s > 0;
#else
	return false;
#endif
}

void kmm_port_heavy_barrier(void)
{
#if defined(__linux__) && defined(__NR_membarrier)
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
#endif
#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer does not model fences (gcc refuses them): an RMW it does model. */
	static int tsan_fence;
	__atomic_fetch_add(&tsan_fence, 0, __ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

void kmm_port_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

void kmm_port_yield(void)
{
	sched_yield();
}

void kmm_port_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t kmm_port_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t kmm_port_random_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32);
}

unsigned int kmm_port_nr_host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned int)n : 1;
}

int kmm_port_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return vsnprintf(buf, size, fmt, ap);
}

int kmm_port_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

void kmm_port_write_stderr(const char *s, size_t len)
{
	write_all(2, s, len);
}

void kmm_port_write_stdout(const char *s, size_t len)
{
	write_all(1, s, len);
}

void kmm_port_abort(void)
{
	abort();
}

void kmm_port_backtrace(void)
{
	void *frames[32];
	int n = backtrace(frames, 32);
	backtrace_symbols_fd(frames, n, 2);
}

bool kmm_port_symbolize(uintptr_t addr, char *buf, size_t len)
{
	Dl_info info;
	if (!addr || !dladdr((void *)addr, &info))
		return false;
	if (info.dli_sname && info.dli_saddr) {
		snprintf(buf, len, "%s+%#lx", info.dli_sname,
			 (unsigned long)(addr - (uintptr_t)info.dli_saddr));
		return true;
	}
	if (info.dli_fname && info.dli_fbase) {
		const char *base = strrchr(info.dli_fname, '/');
		snprintf(buf, len, "%s+%#lx", base ? base + 1 : info.dli_fname,
			 (unsigned long)(addr - (uintptr_t)info.dli_fbase));
		return true;
	}
	return false;
}

int kmm_port_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		int e = errno ? errno : EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -e;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = kmm_port_alloc(cap);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, cap);
		close(fd);
		return -ENOMEM;
	}
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			snprintf(err, errlen, "%s: read error: %s", path, strerror(e));
			kmm_port_free(buf, cap);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

void kmm_port_free_file(char *data, size_t len)
{
	kmm_port_free(data, len + 1);
}

int kmm_port_open(const char *path, int flags_create, int mode)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (flags_create ? O_CREAT : 0), mode);
	return fd < 0 ? -errno : fd;
}

int kmm_port_open_flags(const char *path, int flags, int mode)
{
	int oflags = O_CLOEXEC | ((flags & KMM_PORT_O_WRITE) ? O_RDWR : O_RDONLY) |
		     ((flags & KMM_PORT_O_CREAT) ? O_CREAT : 0) |
		     ((flags & KMM_PORT_O_TRUNC) ? O_TRUNC : 0);
	int fd = open(path, oflags, mode);
	return fd < 0 ? -errno : fd;
}

int kmm_port_fstat(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	*size = (uint64_t)st.st_size;
	return 0;
}

long kmm_port_preadv(int fd, const struct kmm_port_iovec *iov, int cnt, uint64_t off)
{
	struct iovec v[64];
	if (cnt > 64)
		cnt = 64;
	for (int i = 0; i < cnt; i++) {
		v[i].iov_base = iov[i].base;
		v[i].iov_len = iov[i].len;
	}
	ssize_t n;
	do
		n = preadv(fd, v, cnt, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

long kmm_port_pwritev(int fd, const struct kmm_port_iovec *iov, int cnt, uint64_t off)
{
	struct iovec v[64];
	if (cnt > 64)
		cnt = 64;
	for (int i = 0; i < cnt; i++) {
		v[i].iov_base = iov[i].base;
		v[i].iov_len = iov[i].len;
	}
	ssize_t n;
	do
		n = pwritev(fd, v, cnt, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

long kmm_port_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

long kmm_port_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	do
		n = pwrite(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int kmm_port_ftruncate(int fd, uint64_t len)
{
	return ftruncate(fd, (off_t)len) ? -errno : 0;
}

int kmm_port_fsync(int fd)
{
	return fsync(fd) ? -errno : 0;
}

int kmm_port_start_writeback(int fd, uint64_t off, uint64_t len)
{
#if defined(__linux__)
	return sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) ? -errno : 0;
#else
	(void)fd;
	(void)off;
	(void)len;
	return -ENOSYS;
#endif
}

int kmm_port_close(int fd)
{
	return close(fd) ? -errno : 0;
}

const char *kmm_port_strerror(int errnum)
{
	return strerror(errnum);
}

bool kmm_port_fd_is_regular(int fd)
{
	struct stat st;
	return !fstat(fd, &st) && S_ISREG(st.st_mode);
}

int kmm_port_realpath(const char *path, char *out, size_t len)
{
	char buf[4096]; /* PATH_MAX on Linux */
	if (!realpath(path, buf))
		return -errno;
	if (strlen(buf) >= len)
		return -ENAMETOOLONG;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}
