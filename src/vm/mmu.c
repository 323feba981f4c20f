/*
 * The software MMU: how a task's loads and stores reach simulated page
 * frames, the page-fault entry, context switches, and fatal signals.
 *
 * Linux counterparts: the hardware page walker and TLB of an x86-64 CPU;
 * arch/x86/mm/fault.c (do_user_addr_fault, access_error, bad_area,
 * show_signal_msg), kernel/sched/core.c (context_switch), kernel/exit.c
 * (exit_mm).
 *
 * An access is cut at page boundaries. For each page:
 *  1. Fast path: the TLB entry for the page matches (rtag for a read, wtag
 *     for a write): copy the bytes. About a dozen instructions.
 *  2. Miss: walk the four levels without locks (acquire loads, like the
 *     hardware walker), check present/user/write, set the accessed bit
 *     (and the dirty bit for a write) with a compare-and-swap, fill the
 *     entry, copy.
 *  3. Fault: the walk found no usable PTE. Leave the access section, take
 *     mmap_lock for reading, find the VMA, check the access against its
 *     flags (SIGSEGV if it fails, growing the stack first when the address
 *     is just below a grows-down VMA), call handle_mm_fault(), and retry.
 * Steps 1 and 2 run inside an "access section" (vm_cpu::in_access odd)
 * that TLB shootdowns wait for (see tlb.c); faults run outside it.
 *
 * A fault that ends in SIGSEGV or SIGBUS kills the task: the kernel log
 * gets a line in the shape of Linux's "segfault at" message, the task
 * records the signal, its address space is released, and the call returns
 * -EFAULT. The machine and the other tasks go on.
 */
#include "vm.h"
#include <errno.h>
#include <string.h>

enum access_op {
	OP_READ,
	OP_WRITE,
	OP_MEMSET,
	OP_TOUCH_READ,
	OP_TOUCH_WRITE,
};

static inline bool op_writes(enum access_op op)
{
	return op == OP_WRITE || op == OP_MEMSET || op == OP_TOUCH_WRITE;
}

/*
 * Enter the access section and look for shootdown requests. The store and
 * the load are ordered by the flusher's heavy barrier, or by a full fence
 * here when the host has none (tlb.c, point 3).
 */
static __kmm_always_inline bool access_begin(struct vm_cpu *vc)
{
	unsigned long seq = __atomic_load_n(&vc->in_access, __ATOMIC_RELAXED) + 1;
	if (unlikely(vc->fence)) {
		__atomic_exchange_n(&vc->in_access, seq, __ATOMIC_SEQ_CST);
		return __atomic_load_n(&vc->ipi_pending, __ATOMIC_SEQ_CST) == 0;
	}
	__atomic_store_n(&vc->in_access, seq, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&vc->ipi_pending, __ATOMIC_RELAXED) == 0;
}

static __kmm_always_inline void access_end(struct vm_cpu *vc)
{
	__atomic_store_n(&vc->in_access, __atomic_load_n(&vc->in_access, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELEASE);
}

static __kmm_always_inline unsigned long tlb_tag(const struct vm_cpu *vc, unsigned long addr)
{
	return (addr & PAGE_MASK) | vc->asid;
}

static __kmm_always_inline struct tlb_entry *tlb_slot(struct vm_cpu *vc, unsigned long addr)
{
	return &vc->tlb[(addr >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
}

/* Is the calling thread running @t on its CPU right now? */
static __kmm_always_inline bool running(const struct kmm_task *t, const struct vm_cpu *vc)
{
	return vc->curr == t && kmm_current_cpu == vc->cpu;
}

/* --- Context switches ----------------------------------------------------------------------- */

void kmm_task_switch(struct kmm_task *t)
{
	struct kmm_machine *m = t->machine;
	struct vm_cpu *vc = t->vc;
	struct kmm_cpu *cur = kmm_current_cpu;
	if (cur != vc->cpu) {
		/* Leave the CPU this thread ran tasks on, then take the task's. */
		if (cur && cur->machine == m)
			kmm_cpu_exit(m);
		kmm_cpu_enter(m, vc->cpu->id);
	}
	vc->curr = t;
	if (t->mm)
		switch_mm(vc, t->mm);
}

void kmm_task_switch_out(struct kmm_machine *m)
{
	struct kmm_cpu *cur = kmm_current_cpu;
	if (cur && cur->machine == m)
		kmm_cpu_exit(m);
}

int vm_task_enter(struct kmm_task *t)
{
	if (unlikely(t->state != KMM_TASK_RUNNING || !t->mm))
		return -ESRCH;
	if (!running(t, t->vc) || t->vc->loaded_ctx != t->mm->context.ctx_id)
		kmm_task_switch(t);
	return 0;
}

/* --- Signals and exit ------------------------------------------------------------------------ */

void exit_mm(struct kmm_task *t)
{
	struct kmm_mm *mm = t->mm;
	if (!mm)
		return;
	if (t->vc->curr == t)
		t->vc->curr = NULL;
	t->mm = NULL;
	t->state = KMM_TASK_DEAD;
	mmput(mm);
}

void force_sig_fault(struct kmm_task *t, int signo, int code, unsigned long addr,
		     const char *reason)
{
	struct kmm_machine *m = t->machine;
	t->sig.signo = signo;
	t->sig.code = code;
	t->sig.addr = addr;
	if (signo == KMM_SIGSEGV)
		kmm_port_snprintf(t->sig.msg, sizeof(t->sig.msg), "%s[%d]: segfault at %lx (%s)",
				  t->comm, t->pid, addr, reason);
	else
		kmm_port_snprintf(t->sig.msg, sizeof(t->sig.msg), "%s[%d]: bus error at %lx (%s)",
				  t->comm, t->pid, addr, reason);
	pr_info(m, "%s", t->sig.msg);
	t->exit_code = 128 + signo;
}

/* --- Faults ------------------------------------------------------------------------------------- */

static int bad_area(struct kmm_task *t, unsigned long addr, int code, const char *reason)
{
	force_sig_fault(t, KMM_SIGSEGV, code, addr, reason);
	exit_mm(t);
	return -EFAULT;
}

/* Find (or grow to) the VMA for @addr; returns it with mmap_lock held for reading, or NULL. */
static struct kmm_vma *lock_vma_for_fault(struct kmm_mm *mm, unsigned long addr)
{
	mmap_read_lock(mm);
	struct kmm_vma *vma = find_vma(mm, addr);
	if (vma && vma->vm_start <= addr)
		return vma;
	if (!vma || !(vma->vm_flags & VM_GROWSDOWN)) {
		mmap_read_unlock(mm);
		return NULL;
	}
	/* Below a stack: grow it, which needs the lock for writing. */
	mmap_read_unlock(mm);
	mmap_write_lock(mm);
	vma = find_vma(mm, addr);
	if (vma && vma->vm_start > addr && expand_stack(vma, addr))
		vma = NULL;
	if (!vma) {
		mmap_write_unlock(mm);
		return NULL;
	}
	downgrade_write(&mm->mmap_lock);
	return vma;
}

static int do_user_addr_fault(struct kmm_task *t, unsigned long addr, bool write)
{
	struct kmm_mm *mm = t->mm;
	char reason[160];
	struct kmm_vma *vma = lock_vma_for_fault(mm, addr);
	if (!vma)
		return bad_area(t, addr, KMM_SEGV_MAPERR,
				write ? "write to unmapped address" : "read of unmapped address");
	/* access_error(): x86 lets any accessible mapping be read. */
	if (write ? !(vma->vm_flags & VM_WRITE) : !(vma->vm_flags & VM_ACCESS_FLAGS)) {
		kmm_port_snprintf(reason, sizeof(reason), "%s of a %s mapping %lx-%lx",
				  write ? "write" : "read",
				  (vma->vm_flags & VM_ACCESS_FLAGS) ? "read-only" : "PROT_NONE",
				  vma->vm_start, vma->vm_end);
		mmap_read_unlock(mm);
		return bad_area(t, addr, KMM_SEGV_ACCERR, reason);
	}
	unsigned int ret =
	    handle_mm_fault(vma, addr, (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_USER);
	if (ret & VM_FAULT_SIGBUS) {
		struct kmm_address_space *mapping = vma_mapping(vma);
		unsigned long pgoff = linear_page_index(vma, addr & PAGE_MASK);
		int code = KMM_BUS_ADRERR;
		if (mapping) {
			struct kmm_inode *inode = mapping->host;
			uint64_t size = i_size_read(inode);
			if ((uint64_t)pgoff << PAGE_SHIFT >= size) {
				kmm_port_snprintf(
				    reason, sizeof(reason),
				    "access beyond the end of %s: page %lu, size %llu", inode->path,
				    pgoff, (unsigned long long)size);
			} else {
				code = KMM_BUS_OBJERR;
				kmm_port_snprintf(reason, sizeof(reason),
						  "cannot read page %lu of %s", pgoff, inode->path);
			}
		} else {
			kmm_port_snprintf(reason, sizeof(reason), "no page to map");
		}
		mmap_read_unlock(mm);
		force_sig_fault(t, KMM_SIGBUS, code, addr, reason);
		exit_mm(t);
		return -EFAULT;
	}
	mmap_read_unlock(mm);
	if (ret & VM_FAULT_SIGSEGV)
		return bad_area(t, addr, KMM_SEGV_ACCERR, "fault refused the access");
	if (ret & VM_FAULT_OOM)
		return -ENOMEM; /* pagefault_out_of_memory: the OOM killer's business */
	return 0;
}

/* --- The walk -------------------------------------------------------------------------------- */

/*
 * Translate @addr for this CPU (the hardware walker): fill @e and return
 * true, or return false if a fault is needed. Sets the accessed bit, and
 * the dirty bit on a write, as x86 does, with a compare-and-swap so the
 * kernel's atomic PTE updates and the walker never lose each other's bits.
 */
static bool tlb_fill(struct vm_cpu *vc, struct kmm_mm *mm, unsigned long addr, bool write,
		     struct tlb_entry *e)
{
	pte_t *ptep = pte_lookup(mm, addr);
	if (!ptep)
		return false;
	pte_t pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
	for (;;) {
		if ((pte & (_PAGE_PRESENT | _PAGE_USER)) != (_PAGE_PRESENT | _PAGE_USER))
			return false;
		if (write && !(pte & _PAGE_RW))
			return false;
		pte_t new = pte | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
		if (new == pte || __atomic_compare_exchange_n(ptep, &pte, new, false,
							      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			pte = new;
			break;
		}
	}
	unsigned long tag = tlb_tag(vc, addr);
	e->rtag = tag;
	e->wtag = (pte & (_PAGE_RW | _PAGE_DIRTY)) == (_PAGE_RW | _PAGE_DIRTY) ? tag : 0;
	e->page = mm->machine->ram + (pte & PTE_PFN_MASK);
	e->pfn = pte_pfn(pte);
	count_vm_event(mm->machine, KMM_TLB_MISS);
	return true;
}

static void do_op(enum access_op op, char *page, void *buf, size_t n, int c)
{
	switch (op) {
	case OP_READ:
		memcpy(buf, page, n);
		break;
	case OP_WRITE:
		memcpy(page, buf, n);
		break;
	case OP_MEMSET:
		memset(page, c, n);
		break;
	case OP_TOUCH_READ:
	case OP_TOUCH_WRITE:
		break;
	}
}

/* One access within one page, through the TLB, walking and faulting as needed. */
static int access_page(struct kmm_task *t, struct vm_cpu *vc, unsigned long addr, enum access_op op,
		       void *buf, size_t n, int c)
{
	bool write = op_writes(op);
	for (;;) {
		if (!access_begin(vc))
			tlb_handle_ipi(vc);
		struct tlb_entry *e = tlb_slot(vc, addr);
		unsigned long tag = tlb_tag(vc, addr);
		if ((write ? e->wtag : e->rtag) == tag || tlb_fill(vc, t->mm, addr, write, e)) {
			do_op(op, e->page + (addr & ~PAGE_MASK), buf, n, c);
			access_end(vc);
			return 0;
		}
		access_end(vc);
		int err = do_user_addr_fault(t, addr, write);
		if (err)
			return err;
	}
}

static __kmm_noinline int access_slow(struct kmm_task *t, unsigned long addr, void *buf, size_t len,
				      enum access_op op, int c)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	struct vm_cpu *vc = t->vc;
	char *p = buf;
	while (len) {
		size_t n = PAGE_SIZE - (addr & ~PAGE_MASK);
		if (n > len)
			n = len;
		err = access_page(t, vc, addr, op, p, n, c);
		if (err)
			return err;
		addr += n;
		len -= n;
		if (p)
			p += n;
	}
	return 0;
}

/*
 * Copy a few bytes without a call: most accesses are of a machine word, and
 * a libc memcpy call costs as much as the rest of the fast path.
 */
static __kmm_always_inline void copy_small(void *dst, const void *src, size_t len)
{
	switch (len) {
	case 8:
		__builtin_memcpy(dst, src, 8);
		break;
	case 4:
		__builtin_memcpy(dst, src, 4);
		break;
	case 1:
		*(char *)dst = *(const char *)src;
		break;
	case 2:
		__builtin_memcpy(dst, src, 2);
		break;
	case 16:
		__builtin_memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, len);
		break;
	}
}

/* --- The public accessors: the fast path inline, everything else in access_slow() ----------- */

int kmm_read(struct kmm_task *t, unsigned long addr, void *buf, size_t len)
{
	struct vm_cpu *vc = t->vc;
	if (likely(running(t, vc) && (addr & ~PAGE_MASK) + len <= PAGE_SIZE)) {
		struct tlb_entry *e = tlb_slot(vc, addr);
		bool ok = access_begin(vc) && e->rtag == tlb_tag(vc, addr);
		if (likely(ok))
			copy_small(buf, e->page + (addr & ~PAGE_MASK), len);
		access_end(vc);
		if (likely(ok))
			return 0;
	}
	return access_slow(t, addr, buf, len, OP_READ, 0);
}

int kmm_write(struct kmm_task *t, unsigned long addr, const void *buf, size_t len)
{
	struct vm_cpu *vc = t->vc;
	if (likely(running(t, vc) && (addr & ~PAGE_MASK) + len <= PAGE_SIZE)) {
		struct tlb_entry *e = tlb_slot(vc, addr);
		bool ok = access_begin(vc) && e->wtag == tlb_tag(vc, addr);
		if (likely(ok))
			copy_small(e->page + (addr & ~PAGE_MASK), buf, len);
		access_end(vc);
		if (likely(ok))
			return 0;
	}
	return access_slow(t, addr, (void *)buf, len, OP_WRITE, 0);
}

int kmm_memset(struct kmm_task *t, unsigned long addr, int c, size_t len)
{
	return access_slow(t, addr, NULL, len, OP_MEMSET, c);
}

int kmm_touch(struct kmm_task *t, unsigned long addr, size_t len, int flags)
{
	if (!len)
		return 0;
	/* One access per page: widen the range to whole pages. */
	unsigned long start = addr & PAGE_MASK;
	unsigned long end = KMM_ALIGN(addr + len, PAGE_SIZE);
	return access_slow(t, start, NULL, end - start,
			   (flags & KMM_TOUCH_WRITE) ? OP_TOUCH_WRITE : OP_TOUCH_READ, 0);
}
