/*
 * port/: the only code that talks to the host.
 *
 * Everything kmm needs from the machine it runs on goes through these
 * functions: reserving and populating simulated RAM, host memory for
 * bookkeeping, threads, clocks, text formatting, the error stream and files.
 * posix.c implements them for Linux/POSIX hosts; a kernel or a hypervisor
 * that embeds the core (phys/, page/, slab/, base/) provides its own.
 *
 * Nothing here may call the C library's malloc: libkmm-malloc *is* malloc
 * when it is preloaded, so host memory comes from mmap.
 */
#ifndef KMM_PORT_H
#define KMM_PORT_H

#include <stdarg.h>
#include <kmm/compiler.h>

struct kmm_cpu;

/* --- Simulated RAM and other large reservations ---------------------------- */

/*
 * Reserve @size bytes of address space aligned to @align (a power of two),
 * readable and writable, committing nothing: pages cost host memory only
 * once touched or populated. Returns NULL on failure.
 */
void *kmm_port_reserve(size_t size, size_t align);
void kmm_port_unreserve(void *addr, size_t size);
/* Ask the host to back [addr, addr+size) with huge pages where it can. */
void kmm_port_hugepage_hint(void *addr, size_t size);
/*
 * Back [addr, addr+size) with host memory now, in one call: about 25-50x
 * cheaper per page here than trapping on first touch. Returns 0 or -errno.
 */
int kmm_port_populate(void *addr, size_t size);
/* Give the host memory behind [addr, addr+size) back; reads then see zeros. */
void kmm_port_discard(void *addr, size_t size);
/* Bytes of host memory currently resident in [addr, addr+size) (mincore). */
size_t kmm_port_resident(void *addr, size_t size);

/* --- Host memory for bookkeeping (zeroed; page granular; not malloc) ------- */

void *kmm_port_alloc(size_t size);
void kmm_port_free(void *ptr, size_t size);
/*
 * Small zeroed objects from the host's malloc, @align a power of two
 * (ASan sees their lifetime). Not for code that libkmm-malloc runs as the
 * process's malloc: there it would call itself.
 */
void *kmm_port_malloc(size_t size, size_t align);
void kmm_port_mfree(void *ptr);

/* --- Threads and waiting ---------------------------------------------------- */

typedef struct kmm_port_thread kmm_port_thread;
int kmm_port_thread_create(kmm_port_thread **thread, void *(*fn)(void *), void *arg);
void *kmm_port_thread_join(kmm_port_thread *thread);

/* A sleeping mutex and condition variable (kswapd's wait queue, not hot). */
struct kmm_port_waitq {
	_Alignas(8) unsigned char opaque[128];
};
void kmm_port_waitq_init(struct kmm_port_waitq *wq);
void kmm_port_waitq_destroy(struct kmm_port_waitq *wq);
void kmm_port_waitq_lock(struct kmm_port_waitq *wq);
void kmm_port_waitq_unlock(struct kmm_port_waitq *wq);
/* Sleep (lock held, released while asleep) until woken or @timeout_ns passes (0: forever). */
void kmm_port_waitq_wait(struct kmm_port_waitq *wq, uint64_t timeout_ns);
void kmm_port_waitq_wake_all(struct kmm_port_waitq *wq);

/*
 * An asymmetric barrier: make every thread of the process execute a full
 * memory barrier before this returns (Linux membarrier(2), private
 * expedited). It lets the hot path of the software TLB go without a fence:
 * a CPU that shoots down another's TLB entries pays for the ordering instead.
 * kmm_port_heavy_barrier_init() registers the process and returns false
 * if the host cannot do it (callers then fence on the hot path).
 */
bool kmm_port_heavy_barrier_init(void);
void kmm_port_heavy_barrier(void);

void kmm_port_cpu_relax(void);
void kmm_port_yield(void);
/* Sleep for about @ns nanoseconds (at least; a signal does not cut it short). */
void kmm_port_sleep_ns(uint64_t ns);

/* The simulated CPU the calling thread has entered (see phys/cpu.c). */
extern __thread struct kmm_cpu *kmm_current_cpu __attribute__((tls_model("initial-exec")));

/* --- Time, randomness ------------------------------------------------------- */

uint64_t kmm_port_now_ns(void);
uint64_t kmm_port_random_seed(void);
unsigned int kmm_port_nr_host_cpus(void);

/* --- Text and errors -------------------------------------------------------- */

int kmm_port_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
__kmm_printf(3, 4) int kmm_port_snprintf(char *buf, size_t size, const char *fmt, ...);
void kmm_port_write_stderr(const char *s, size_t len);
void kmm_port_write_stdout(const char *s, size_t len);
__kmm_noreturn void kmm_port_abort(void);
void kmm_port_backtrace(void);
/*
 * Name the code at @addr as "symbol+0xoff" (or "object+0xoff" when the
 * symbol is not exported) into @buf; returns false if nothing is known.
 */
bool kmm_port_symbolize(uintptr_t addr, char *buf, size_t len);

/* --- Files -------------------------------------------------------------------- */

/*
 * Read a whole file into host memory (NUL-terminated). Returns 0, or -errno
 * with a message in @err naming the file.
 */
int kmm_port_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen);
void kmm_port_free_file(char *data, size_t len);

int kmm_port_open(const char *path, int flags_create, int mode);
long kmm_port_pread(int fd, void *buf, size_t len, uint64_t off);
long kmm_port_pwrite(int fd, const void *buf, size_t len, uint64_t off);
int kmm_port_ftruncate(int fd, uint64_t len);
int kmm_port_fsync(int fd);
/*
 * Start writing [off, off + len) of @fd to its disk and return without
 * waiting for it (Linux: sync_file_range's SYNC_FILE_RANGE_WRITE); 0, or
 * -errno (-ENOSYS where the host has no such call). The bytes are safe
 * in the host's page cache either way: this only moves the disk's work
 * earlier.
 */
int kmm_port_start_writeback(int fd, uint64_t off, uint64_t len);
int kmm_port_close(int fd);
/* Open with a choice of access: KMM_PORT_O_* flags; returns the descriptor or -errno. */
#define KMM_PORT_O_WRITE 0x1 /* read and write (else read only) */
#define KMM_PORT_O_CREAT 0x2
#define KMM_PORT_O_TRUNC 0x4
int kmm_port_open_flags(const char *path, int flags, int mode);
/* Identity and size of an open file (fstat); 0 or -errno. */
int kmm_port_fstat(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size);
/* Read into / write from several buffers at consecutive offsets (preadv/pwritev). */
struct kmm_port_iovec {
	void *base;
	size_t len;
};
long kmm_port_preadv(int fd, const struct kmm_port_iovec *iov, int cnt, uint64_t off);
long kmm_port_pwritev(int fd, const struct kmm_port_iovec *iov, int cnt, uint64_t off);
const char *kmm_port_strerror(int errnum);

/* Is the open file @fd a regular file (not a device, pipe or directory)? */
bool kmm_port_fd_is_regular(int fd);
/* The absolute path of @path (symbolic links resolved) into @out: 0 or -errno. */
int kmm_port_realpath(const char *path, char *out, size_t len);

#endif /* KMM_PORT_H */
