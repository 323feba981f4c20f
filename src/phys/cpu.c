/*
 * Simulated CPUs: the per-CPU areas, and entering and leaving a CPU.
 *
 * Linux: mm/percpu.c (setup_per_cpu_areas, the embedded first chunk),
 * preempt_disable() for "this code runs on one CPU and owns its per-CPU
 * data". A host thread enters a simulated CPU before it touches per-CPU
 * state (page lists, slab freelists, counters) and leaves it after; while
 * it is inside, no other thread may enter that CPU, so per-CPU data needs no
 * lock. A thread that enters a second CPU (of the same or another machine)
 * stacks the entries; leaving returns to the previous one.
 *
 * Each CPU's area is allocated from memblock on the CPU's node, like the
 * kernel's percpu units.
 */
#include "internal.h"
#include <errno.h>

int cpus_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	size_t unit = KMM_ALIGN(sizeof(struct kmm_cpu), PAGE_SIZE);
	/* A twin of a logged boot reserves the kernel's unit size if it was larger. */
	if (d->percpu_unit_pages * PAGE_SIZE > unit)
		unit = d->percpu_unit_pages * PAGE_SIZE;
	m->nr_cpus = d->nr_cpus;
	for (int c = 0; c < m->nr_cpus; c++) {
		int node = d->numa_off ? 0 : d->cpu_node[c];
		if (node >= m->nr_node_ids)
			node = 0;
		struct kmm_cpu *cpu = memblock_alloc_try_nid(m, unit, PAGE_SIZE, node);
		if (!cpu)
			return kmm_error_set(err, -ENOMEM,
					     "no memory for the per-CPU area of CPU %d", c);
		cpu->machine = m;
		cpu->id = c;
		cpu->node = node;
		m->cpus[c] = cpu;
	}
	pr_info(m, "smpboot: Allowing %d CPUs, 0 hotplug CPUs", m->nr_cpus);
	pr_info(m, "setup_percpu: NR_CPUS:%d nr_cpumask_bits:%d nr_cpu_ids:%d nr_node_ids:%d",
		KMM_MAX_CPUS, m->nr_cpus, m->nr_cpus, m->nr_node_ids);
	pr_info(m, "percpu: Embedded %zu pages/cpu", unit / PAGE_SIZE);
	return 0;
}

void cpus_destroy(struct kmm_machine *m)
{
	m->nr_cpus = 0;
}

static int cpu_claim(struct kmm_machine *m, int cpu, bool wait)
{
	if (cpu < 0 || cpu >= m->nr_cpus)
		return -EINVAL;
	struct kmm_cpu *c = m->cpus[cpu];
	for (struct kmm_cpu *p = kmm_current_cpu; p; p = p->prev)
		if (p == c)
			return -EDEADLK; /* this thread is already on it */
	unsigned int spins = 0;
	while (__atomic_exchange_n(&c->owner, 1, __ATOMIC_ACQUIRE)) {
		if (!wait)
			return -EBUSY;
		while (__atomic_load_n(&c->owner, __ATOMIC_RELAXED)) {
			if (++spins < 64)
				kmm_port_cpu_relax();
			else
				kmm_port_yield();
		}
	}
	c->prev = kmm_current_cpu;
	kmm_current_cpu = c;
	return 0;
}

int kmm_cpu_enter(struct kmm_machine *m, int cpu)
{
	return cpu_claim(m, cpu, true);
}

int kmm_cpu_tryenter(struct kmm_machine *m, int cpu)
{
	return cpu_claim(m, cpu, false);
}

void kmm_cpu_exit(struct kmm_machine *m)
{
	struct kmm_cpu *c = kmm_current_cpu;
	KMM_BUG_ON_MSG(!c || c->machine != m,
		       "kmm_cpu_exit: this thread has not entered a CPU of this machine");
	kmm_current_cpu = c->prev;
	c->prev = NULL;
	__atomic_store_n(&c->owner, 0, __ATOMIC_RELEASE);
}

struct kmm_cpu *kmm_this_cpu(struct kmm_machine *m)
{
	return this_cpu(m);
}
