/*
 * Simulated tasks: creation, fork, threads, exec, exit and reaping, each
 * with its process id and name, on a simulated CPU.
 *
 * Linux: kernel/fork.c (copy_process, the CLONE_VM case), fs/exec.c
 * (exec_mmap), kernel/exit.c (do_exit, release_task). A task here is
 * what the memory manager needs of a process: an address space, a CPU to
 * run on, fault counters and the signal that may have killed it. There is
 * no program: whoever drives the simulation (a test, a workload, a trace)
 * issues the task's memory accesses and system calls.
 *
 * Locks: vm_state::task_lock around the machine's task list and the pid
 * counter.
 */
#include "sim.h"
#include <errno.h>
#include <string.h>

static struct kmm_task *task_alloc(struct kmm_machine *m, const char *comm, int cpu,
				   struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	if (cpu < 0)
		cpu = 0;
	if (cpu >= m->nr_cpus) {
		kmm_error_set(err, -EINVAL, "cannot run task %s on CPU %d: the machine has %d CPUs",
			      comm, cpu, m->nr_cpus);
		return NULL;
	}
	struct kmm_task *t = kmm_kmem_cache_alloc(vm->task_cachep, GFP_KERNEL);
	if (!t) {
		kmm_error_set(err, -ENOMEM, "no memory for task %s", comm);
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->machine = m;
	t->cpu = m->cpus[cpu];
	t->vc = vm->cpus[cpu];
	t->state = KMM_TASK_RUNNING;
	kmm_port_snprintf(t->comm, sizeof(t->comm), "%s", comm);
	spin_lock(&vm->task_lock);
	t->pid = vm->next_pid++;
	list_add_tail(&t->tasks, &vm->tasks);
	spin_unlock(&vm->task_lock);
	return t;
}

static void task_free(struct kmm_task *t)
{
	struct vm_state *vm = vm_state(t->machine);
	spin_lock(&vm->task_lock);
	list_del(&t->tasks);
	spin_unlock(&vm->task_lock);
	if (t->vc->curr == t)
		t->vc->curr = NULL;
	kmm_kmem_cache_free(vm->task_cachep, t);
}

/* A fresh address space with the stack and heap of a new program. */
static struct kmm_mm *new_exec_mm(struct kmm_machine *m)
{
	struct kmm_mm *mm = mm_alloc(m);
	if (!mm)
		return NULL;
	if (setup_new_exec_mm(mm)) {
		mmput(mm);
		return NULL;
	}
	return mm;
}

struct kmm_task *kmm_task_create(struct kmm_machine *m, const char *comm, int cpu,
				 struct kmm_error *err)
{
	struct kmm_task *t = task_alloc(m, comm, cpu, err);
	if (!t)
		return NULL;
	kmm_task_switch(t);
	t->mm = new_exec_mm(m);
	if (!t->mm) {
		task_free(t);
		kmm_error_set(err, -ENOMEM, "no memory for the address space of task %s", comm);
		return NULL;
	}
	kmm_task_switch(t);
	return t;
}

struct kmm_task *kmm_task_fork(struct kmm_task *parent, int cpu, struct kmm_error *err)
{
	if (vm_task_enter(parent)) {
		kmm_error_set(err, -ESRCH, "cannot fork task %d (%s): it is not alive", parent->pid,
			      parent->comm);
		return NULL;
	}
	struct kmm_task *t =
	    task_alloc(parent->machine, parent->comm, cpu < 0 ? parent->cpu->id : cpu, err);
	if (!t)
		return NULL;
	t->oom_score_adj = parent->oom_score_adj; /* inherited, as Linux's signal->oom_score_adj */
	int e;
	t->mm = dup_mm(parent->mm, &e);
	if (!t->mm) {
		task_free(t);
		kmm_error_set(err, e, "fork of task %d (%s): out of memory", parent->pid,
			      parent->comm);
		return NULL;
	}
	return t;
}

struct kmm_task *kmm_task_clone_vm(struct kmm_task *parent, int cpu, struct kmm_error *err)
{
	if (parent->state != KMM_TASK_RUNNING || !parent->mm) {
		kmm_error_set(err, -ESRCH, "cannot clone task %d (%s): it is not alive",
			      parent->pid, parent->comm);
		return NULL;
	}
	struct kmm_task *t =
	    task_alloc(parent->machine, parent->comm, cpu < 0 ? parent->cpu->id : cpu, err);
	if (!t)
		return NULL;
	mmget(parent->mm);
	t->mm = parent->mm;
	return t;
}

int kmm_task_exec(struct kmm_task *t, const char *comm)
{
	int err = vm_task_enter(t);
	if (err)
		return err;
	struct kmm_mm *mm = new_exec_mm(t->machine);
	if (!mm)
		return -ENOMEM;
	struct kmm_mm *old = t->mm;
	mm->memlock_limit = old->memlock_limit; /* rlimits outlive execve */
	t->mm = mm;
	switch_mm(t->vc, mm);
	if (comm)
		kmm_port_snprintf(t->comm, sizeof(t->comm), "%s", comm);
	mmput(old);
	return 0;
}

void kmm_task_exit(struct kmm_task *t, int code)
{
	if (t->state != KMM_TASK_RUNNING)
		return;
	kmm_task_switch(t);
	t->exit_code = code;
	exit_mm(t);
}

void kmm_task_reap(struct kmm_task *t)
{
	if (!t)
		return;
	kmm_task_exit(t, 0);
	task_free(t);
}

int kmm_task_migrate(struct kmm_task *t, int cpu)
{
	struct kmm_machine *m = t->machine;
	if (cpu < 0 || cpu >= m->nr_cpus)
		return -EINVAL;
	if (t->vc->curr == t)
		t->vc->curr = NULL;
	t->cpu = m->cpus[cpu];
	t->vc = vm_state(m)->cpus[cpu];
	return 0;
}

int kmm_task_pid(const struct kmm_task *t)
{
	return t->pid;
}

const char *kmm_task_comm(const struct kmm_task *t)
{
	return t->comm;
}

enum kmm_task_state kmm_task_state(const struct kmm_task *t)
{
	return t->state;
}

void kmm_task_faults(const struct kmm_task *t, unsigned long *min_flt, unsigned long *maj_flt)
{
	*min_flt = t->min_flt;
	*maj_flt = t->maj_flt;
}

const struct kmm_task_signal *kmm_task_signal(const struct kmm_task *t)
{
	return &t->sig;
}

/* Reap every task (machine teardown). */
void sim_reap_all(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (!vm)
		return;
	while (!list_empty(&vm->tasks))
		kmm_task_reap(list_first_entry(&vm->tasks, struct kmm_task, tasks));
	kmm_task_switch_out(m);
}
