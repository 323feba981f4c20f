/*
 * The software TLB: per-CPU translation caches, address-space switches,
 * flushes and cross-CPU shootdowns; and the mmu_gather that frees pages and
 * page tables only after no TLB can still reach them.
 *
 * Linux: arch/x86/mm/tlb.c (switch_mm_irqs_off, choose_new_asid,
 * flush_tlb_mm_range, flush_tlb_func, the tlb_gen protocol),
 * mm/mmu_gather.c (tlb_gather_mmu, tlb_flush_mmu, tlb_finish_mmu).
 *
 * Theory of operation.
 *
 * 1. Entries. Each simulated CPU has a 64-entry direct-mapped TLB
 *    (struct vm_cpu). A tag is the virtual page plus an ASID in the low
 *    bits; a CPU keeps TLB_NR_ASIDS address spaces (contexts) at once, as
 *    x86 does with PCID, so switching between a few tasks flushes nothing.
 *    Only the thread on a CPU reads or writes that CPU's entries.
 *
 * 2. Generations. Every flush of an mm bumps mm->context.tlb_gen. A CPU
 *    remembers, per ASID, the generation at which it last flushed that
 *    context whole; when it switches to an mm whose generation moved on, it
 *    flushes the ASID (Linux's lazy catch-up for CPUs not running the mm).
 *    Range flushes never advance the remembered generation, so a flush
 *    that was missed can never be mistaken for one that was done.
 *
 * 3. Shootdowns. A CPU running the mm right now (its loaded_ctx is the mm's
 *    ctx_id) gets a request in its queue and the ipi_pending flag: the
 *    "IPI". It looks at the flag at the start of every access and applies
 *    the requests before it translates anything. The flushing CPU must also
 *    wait for an access that is already under way (it may be copying to a
 *    page about to be freed, or walking a table about to go): each access
 *    makes vm_cpu::in_access odd while it runs, and the flusher waits for
 *    an odd value to change. Hardware gives this for free (an IPI is taken
 *    between instructions); kmm gets it from a Dekker-style handshake:
 *        accessor: in_access = odd; [barrier]; read ipi_pending
 *        flusher:  ipi_pending = 1; [barrier]; read in_access
 *    Either the accessor sees the request, or the flusher sees the access.
 *    The accessor's barrier would cost a fence on every access, so when the
 *    host has membarrier(2) the flusher pays for both sides instead
 *    (kmm_port_heavy_barrier, which makes every thread execute a barrier),
 *    and the accessor needs only a compiler barrier. Without it (or under
 *    ThreadSanitizer, which does not model membarrier) every access fences.
 *    CPUs that no thread has entered are not waited for: the next thread to
 *    enter takes the CPU with an atomic exchange, ordered against the
 *    flusher's store of the flag.
 *
 * 4. mmu_gather. Unmapping clears PTEs, gathers the pages and the emptied
 *    tables, flushes the TLBs for the range (shootdowns included), and only
 *    then drops the page references and frees the tables.
 *
 * Locks: vm_cpu::ipi_lock is a leaf lock, held only to queue or take
 * requests. A flusher may wait for in_access while holding page-table
 * locks and mmap_lock: accesses take no lock, so the wait ends.
 */
#include "vm.h"

struct vm_cpu *this_vm_cpu(struct kmm_machine *m)
{
	struct kmm_cpu *cpu = this_cpu(m);
	return cpu ? vm_state(m)->cpus[cpu->id] : NULL;
}

int vm_cpus_init(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	vm->heavy_barrier = !KMM_TSAN && kmm_port_heavy_barrier_init();
	for (int c = 0; c < m->nr_cpus; c++) {
		struct vm_cpu *vc = kmm_port_alloc(sizeof(*vc));
		if (!vc)
			return -1;
		vc->cpu = m->cpus[c];
		vc->machine = m;
		vc->fence = !vm->heavy_barrier;
		spin_lock_init(&vc->ipi_lock);
		vm->cpus[c] = vc;
		m->cpus[c]->vm = vc;
	}
	return 0;
}

void vm_cpus_destroy(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	for (int c = 0; c < m->nr_cpus; c++) {
		if (!vm->cpus[c])
			continue;
		m->cpus[c]->vm = NULL;
		kmm_port_free(vm->cpus[c], sizeof(struct vm_cpu));
		vm->cpus[c] = NULL;
	}
}

/* Drop this CPU's entries of ASID @asid that map [start, end). */
static void flush_entries(struct vm_cpu *vc, unsigned long asid, unsigned long start,
			  unsigned long end)
{
	if (end - start < TLB_ENTRIES * PAGE_SIZE) {
		/* Direct-mapped: a page can only be in its own slot. Look at those only. */
		for (unsigned long a = start & PAGE_MASK; a < end; a += PAGE_SIZE) {
			struct tlb_entry *e = &vc->tlb[(a >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
			if (e->rtag == (a | asid))
				e->rtag = e->wtag = 0;
		}
		return;
	}
	for (int i = 0; i < TLB_ENTRIES; i++) {
		struct tlb_entry *e = &vc->tlb[i];
		unsigned long tag = e->rtag;
		if (tag && (tag & ~PAGE_MASK) == asid && (tag & PAGE_MASK) >= start &&
		    (tag & PAGE_MASK) < end)
			e->rtag = e->wtag = 0;
	}
}

static void flush_all_entries(struct vm_cpu *vc)
{
	for (int i = 0; i < TLB_ENTRIES; i++)
		vc->tlb[i].rtag = vc->tlb[i].wtag = 0;
}

void switch_mm(struct vm_cpu *vc, struct kmm_mm *mm)
{
	uint64_t ctx = mm->context.ctx_id;
	if (vc->loaded_ctx == ctx)
		return;
	/*
	 * Be findable by flushers first (cpumask, then loaded_ctx), then read
	 * the generation: a flusher either queues a request for us or we see
	 * its generation and flush here.
	 */
	set_bit((unsigned long)vc->cpu->id, mm->cpumask);
	__atomic_store_n(&vc->loaded_ctx, ctx, __ATOMIC_SEQ_CST);
	uint64_t gen = __atomic_load_n(&mm->context.tlb_gen, __ATOMIC_SEQ_CST);
	int slot = -1;
	for (int i = 0; i < TLB_NR_ASIDS; i++)
		if (vc->ctxs[i].ctx_id == ctx)
			slot = i;
	if (slot < 0) {
		/* A context this CPU does not hold: evict one round-robin (choose_new_asid). */
		slot = (int)(vc->next_asid++ % TLB_NR_ASIDS);
		vc->ctxs[slot].ctx_id = ctx;
		flush_entries(vc, (unsigned long)slot + 1, 0, ~0UL);
		vc->ctxs[slot].tlb_gen = gen;
	} else if (vc->ctxs[slot].tlb_gen != gen) {
		flush_entries(vc, (unsigned long)slot + 1, 0, ~0UL);
		vc->ctxs[slot].tlb_gen = gen;
		count_vm_event(vc->machine, KMM_TLB_FLUSH);
	}
	vc->asid = (unsigned long)slot + 1;
	vc->loaded_mm = mm;
}

void tlb_handle_ipi(struct vm_cpu *vc)
{
	struct tlb_flush_req req[TLB_FLUSH_REQS];
	spin_lock(&vc->ipi_lock);
	int n = vc->nr_flush_req;
	bool all = vc->flush_all_req;
	for (int i = 0; i < n; i++)
		req[i] = vc->flush_req[i];
	vc->nr_flush_req = 0;
	vc->flush_all_req = false;
	__atomic_store_n(&vc->ipi_pending, 0, __ATOMIC_RELAXED);
	spin_unlock(&vc->ipi_lock);
	if (all) {
		flush_all_entries(vc);
		return;
	}
	for (int i = 0; i < n; i++)
		for (int s = 0; s < TLB_NR_ASIDS; s++)
			if (vc->ctxs[s].ctx_id == req[i].ctx_id)
				flush_entries(vc, (unsigned long)s + 1, req[i].start, req[i].end);
}

/* Queue a flush on another CPU that has the mm loaded (the IPI). */
static void send_flush_request(struct vm_cpu *vc, uint64_t ctx, unsigned long start,
			       unsigned long end)
{
	spin_lock(&vc->ipi_lock);
	if (vc->nr_flush_req < TLB_FLUSH_REQS)
		vc->flush_req[vc->nr_flush_req++] = (struct tlb_flush_req){ctx, start, end};
	else
		vc->flush_all_req = true;
	__atomic_store_n(&vc->ipi_pending, 1, __ATOMIC_SEQ_CST);
	spin_unlock(&vc->ipi_lock);
}

/* Wait until an access that @vc had under way when we looked has finished. */
static void wait_for_access(struct vm_cpu *vc)
{
	unsigned long seq = __atomic_load_n(&vc->in_access, __ATOMIC_ACQUIRE);
	unsigned int spins = 0;
	if (!(seq & 1))
		return;
	while (__atomic_load_n(&vc->in_access, __ATOMIC_ACQUIRE) == seq) {
		if (++spins < 256)
			kmm_port_cpu_relax();
		else
			kmm_port_yield();
	}
}

void flush_tlb_mm_range(struct kmm_mm *mm, unsigned long start, unsigned long end)
{
	struct kmm_machine *m = mm->machine;
	struct vm_state *vm = vm_state(m);
	uint64_t ctx = mm->context.ctx_id;
	struct vm_cpu *self = this_vm_cpu(m);
	struct vm_cpu *waiters[KMM_MAX_CPUS];
	int nwait = 0;

	__atomic_add_fetch(&mm->context.tlb_gen, 1, __ATOMIC_SEQ_CST);
	if (self && self->loaded_ctx == ctx) {
		flush_entries(self, self->asid, start, end);
		count_vm_event(m, KMM_TLB_FLUSH);
	}
	for (int c = 0; c < m->nr_cpus; c++) {
		if (!test_bit((unsigned long)c, mm->cpumask))
			continue;
		struct vm_cpu *vc = vm->cpus[c];
		if (vc == self || __atomic_load_n(&vc->loaded_ctx, __ATOMIC_SEQ_CST) != ctx)
			continue;
		send_flush_request(vc, ctx, start, end);
		count_vm_event(m, KMM_TLB_SHOOTDOWN);
		if (__atomic_load_n(&vc->cpu->owner, __ATOMIC_SEQ_CST))
			waiters[nwait++] = vc;
	}
	if (!nwait)
		return;
	if (vm->heavy_barrier)
		kmm_port_heavy_barrier();
	for (int i = 0; i < nwait; i++)
		wait_for_access(waiters[i]);
}

/* --- mmu_gather ---------------------------------------------------------------------- */

void tlb_gather_mmu(struct mmu_gather *tlb, struct kmm_mm *mm, bool fullmm)
{
	tlb->mm = mm;
	tlb->fullmm = fullmm;
	tlb->freed_tables = false;
	tlb->start = ~0UL;
	tlb->end = 0;
	tlb->nr = 0;
	tlb->nr_tables = 0;
}

void tlb_remove_page(struct mmu_gather *tlb, struct kmm_page *page, unsigned long addr)
{
	tlb_track_range(tlb, addr, addr + PAGE_SIZE);
	tlb->pages[tlb->nr++] = page;
	if (tlb->nr == MMU_GATHER_BATCH)
		tlb_flush_mmu(tlb);
}

void tlb_remove_table(struct mmu_gather *tlb, struct kmm_page *table, unsigned long addr)
{
	/* Any flush waits for walks under way: that is what makes freeing a table safe. */
	tlb_track_range(tlb, addr, addr + PAGE_SIZE);
	tlb->freed_tables = true;
	tlb->tables[tlb->nr_tables++] = table;
	if (tlb->nr_tables == KMM_ARRAY_SIZE(tlb->tables))
		tlb_flush_mmu(tlb);
}

void tlb_flush_mmu(struct mmu_gather *tlb)
{
	struct kmm_mm *mm = tlb->mm;
	struct kmm_machine *m = mm->machine;
	if (tlb->end > tlb->start) {
		if (tlb->fullmm) {
			/*
			 * The mm is going away: no task can run it on any CPU, and
			 * its ctx_id is never reused, so only this CPU's entries
			 * need dropping (and only to keep the TLB tidy).
			 */
			struct vm_cpu *self = this_vm_cpu(m);
			if (self && self->loaded_ctx == mm->context.ctx_id)
				flush_entries(self, self->asid, 0, ~0UL);
		} else {
			flush_tlb_mm_range(mm, tlb->start, tlb->end);
		}
	}
	tlb->start = ~0UL;
	tlb->end = 0;
	if (tlb->nr) {
		/* Unmapped swap-cache pages give their slots back (free_pages_and_swap_cache). */
		struct vm_state *vm = vm_state(m);
		if (vm->swap.free_swap_cache)
			for (unsigned int i = 0; i < tlb->nr; i++)
				if (PageSwapCache(tlb->pages[i]))
					vm->swap.free_swap_cache(m, tlb->pages[i]);
		release_pages(m, tlb->pages, tlb->nr);
	}
	tlb->nr = 0;
	for (unsigned int i = 0; i < tlb->nr_tables; i++) {
		pt_dtor(mm, tlb->tables[i]);
		kmm_free_pages(m, tlb->tables[i], 0);
	}
	tlb->nr_tables = 0;
	tlb->freed_tables = false;
}

void tlb_finish_mmu(struct mmu_gather *tlb)
{
	tlb_flush_mmu(tlb);
}
