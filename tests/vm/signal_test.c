/*
 * Fatal faults: SIGSEGV for an unmapped address, a write to a read-only
 * mapping or any access to PROT_NONE; SIGBUS beyond the end of a mapped
 * file; stack growth within its limit and SIGSEGV beyond it. Each signal
 * kills only the faulting task, with the kernel-log message, and returns
 * its memory; the other tasks go on.
 */
#include "vm_util.h"
#include <fcntl.h>

#define RW   (KMM_PROT_READ | KMM_PROT_WRITE)
#define ANON (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)

struct scene {
	struct kmm_machine *m;
	struct kmm_task *victim, *bystander;
	unsigned long free0;
	uint64_t canary;
};

static bool scene_init(struct scene *s)
{
	s->m = vm_boot("--mem 128M --nodes 1 --cpus 2");
	if (!s->m)
		return false;
	s->free0 = vm_free_pages(s->m);
	s->victim = vm_task(s->m, "victim", 0);
	s->bystander = vm_task(s->m, "bystander", 1);
	s->canary = 0x5eed5eed;
	long a = kmm_mmap(s->bystander, 0x20000000, 4096, RW, ANON | KMM_MAP_FIXED, NULL, 0);
	return a == 0x20000000 &&
	       !kmm_write(s->bystander, 0x20000000, &s->canary, sizeof(s->canary));
}

/* The victim is dead with @signo/@code at @addr; the log says so; the rest is intact. */
static void expect_killed(struct scene *s, int ret, int signo, int code, unsigned long addr,
			  const char *words)
{
	const struct kmm_task_signal *sig = kmm_task_signal(s->victim);
	expect_int_eq(ret, -EFAULT);
	expect_int_eq(kmm_task_state(s->victim), KMM_TASK_DEAD);
	expect_int_eq(sig->signo, signo);
	expect_int_eq(sig->code, code);
	expect_x64_eq(sig->addr, addr);
	expect_str_contains(sig->msg, words);
	expect_str_contains(s->m->log.data, sig->msg);
	uint64_t v = 0;
	expect_int_eq(kmm_read(s->victim, addr, &v, sizeof(v)), -ESRCH);
	expect_int_eq(kmm_read(s->bystander, 0x20000000, &v, sizeof(v)), 0);
	expect_u64_eq(v, s->canary);
	expect_vm_valid(s->m);
	kmm_task_reap(s->victim);
	kmm_task_reap(s->bystander);
	expect_u64_eq(vm_free_pages(s->m), s->free0);
}

static void test_segv_unmapped(void)
{
	struct scene s;
	expect_true(scene_init(&s));
	char buf[8];
	int r = kmm_read(s.victim, 0x30000010, buf, sizeof(buf));
	expect_killed(&s, r, KMM_SIGSEGV, KMM_SEGV_MAPERR, 0x30000010,
		      "victim[1]: segfault at 30000010 (read of unmapped address)");
	kmm_machine_destroy(s.m);
}

static void test_segv_readonly(void)
{
	struct scene s;
	expect_true(scene_init(&s));
	long a = kmm_mmap(s.victim, 0, 3 * 4096, KMM_PROT_READ, ANON, NULL, 0);
	expect_true(a > 0);
	/* Reading is fine (the zero page), writing is not. */
	uint64_t v = 1;
	expect_int_eq(kmm_read(s.victim, (unsigned long)a + 4096, &v, sizeof(v)), 0);
	expect_u64_eq(v, 0);
	/* A write to a read-only mapping. */
	int r = kmm_write(s.victim, (unsigned long)a + 8, &v, sizeof(v));
	expect_killed(&s, r, KMM_SIGSEGV, KMM_SEGV_ACCERR, (unsigned long)a + 8,
		      "write of a read-only mapping");
	kmm_machine_destroy(s.m);
}

static void test_segv_prot_none(void)
{
	struct scene s;
	expect_true(scene_init(&s));
	long a = kmm_mmap(s.victim, 0, 2 * 4096, RW, ANON, NULL, 0);
	uint64_t v = 7;
	expect_int_eq(kmm_write(s.victim, (unsigned long)a, &v, sizeof(v)), 0);
	/* The page stays but PROT_NONE hides it: even reads fault. */
	expect_int_eq(kmm_mprotect(s.victim, (unsigned long)a, 4096, KMM_PROT_NONE), 0);
	expect_int_eq(get_mm_counter(s.victim->mm, MM_ANONPAGES), 1);
	expect_vm_valid(s.m);
	int r = kmm_read(s.victim, (unsigned long)a, &v, sizeof(v));
	expect_killed(&s, r, KMM_SIGSEGV, KMM_SEGV_ACCERR, (unsigned long)a, "PROT_NONE");
	kmm_machine_destroy(s.m);
}

static void test_sigbus_beyond_eof(void)
{
	struct scene s;
	expect_true(scene_init(&s));
	char path[] = "/tmp/kmm-sigbus-XXXXXX";
	int fd = mkstemp(path);
	static char data[4096 + 100];
	memset(data, 'q', sizeof(data));
	expect_int_eq(write(fd, data, sizeof(data)), sizeof(data));
	close(fd);
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(s.m, path, KMM_O_RDONLY, 0, &err);
	expect_ptr_not_null(f);
	long a = kmm_mmap(s.victim, 0, 4 * 4096, KMM_PROT_READ, KMM_MAP_SHARED, f, 0);
	expect_true(a > 0);
	/* The partial last page reads the file's tail, then zeros. */
	char buf[200];
	expect_int_eq(kmm_read(s.victim, (unsigned long)a + 4096, buf, sizeof(buf)), 0);
	expect_int_eq(buf[99], 'q');
	expect_int_eq(buf[100], 0);
	/* The page after the file's end is mapped but has no file behind it: SIGBUS. */
	int r = kmm_read(s.victim, (unsigned long)a + 2 * 4096 + 16, buf, 8);
	char words[600];
	snprintf(words, sizeof(words), "access beyond the end of %s: page 2, size 4196", path);
	kmm_file_close(f);
	expect_killed(&s, r, KMM_SIGBUS, KMM_BUS_ADRERR, (unsigned long)a + 2 * 4096 + 16, words);
	unlink(path);
	kmm_machine_destroy(s.m);
}

static void test_stack_growth(void)
{
	struct scene s;
	expect_true(scene_init(&s));
	struct kmm_vma *stack = find_vma(s.victim->mm, KMM_TASK_SIZE - 1);
	expect_true(stack->vm_flags & VM_GROWSDOWN);
	unsigned long bottom = stack->vm_start;
	/* 1 MiB below the stack: it grows to cover the access. */
	uint64_t v = 0xfeed;
	unsigned long a = bottom - (1 << 20);
	expect_int_eq(kmm_write(s.victim, a, &v, sizeof(v)), 0);
	stack = find_vma(s.victim->mm, KMM_TASK_SIZE - 1);
	expect_x64_eq(stack->vm_start, a);
	expect_vm_valid(s.m);
	/* Past the 8 MiB limit: SIGSEGV, like a stack overflow. */
	unsigned long far = KMM_TASK_SIZE - (9UL << 20);
	int r = kmm_write(s.victim, far, &v, sizeof(v));
	expect_killed(&s, r, KMM_SIGSEGV, KMM_SEGV_MAPERR, far, "write to unmapped address");
	kmm_machine_destroy(s.m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_segv_unmapped);
	run_test(test_segv_readonly);
	run_test(test_segv_prot_none);
	run_test(test_sigbus_beyond_eof);
	run_test(test_stack_growth);
	return kmm_test_done();
}
