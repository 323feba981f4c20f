/*
 * The OOM killer: when reclaim cannot make progress, kill the task whose
 * death frees the most memory, so that the others go on.
 *
 * Linux: mm/oom_kill.c of 6.1 (out_of_memory, select_bad_process,
 * oom_badness, dump_header, dump_tasks, __oom_kill_process), without
 * memory cgroups, cpusets, the oom reaper thread and sysctl_panic_on_oom.
 *
 * Theory of operation.
 *  1. badness(task) = its RSS + its swap entries + its page tables in
 *     pages, plus oom_score_adj thousandths of RAM + swap
 *     (oom_score_adj = -1000 makes a task unkillable). The task with the
 *     highest badness is chosen; ties go to the first on the task list, so
 *     a deterministic run kills the same task every time.
 *  2. The report has Linux's shape: "X invoked oom-killer: gfp_mask=...",
 *     the zones' free memory, the task table ("[  pid  ]   uid  tgid
 *     total_vm      rss pgtables_bytes swapents oom_score_adj name"), the
 *     oom-kill line and "Out of memory: Killed process ...".
 *  3. The kill: a victim that is not running anywhere (deterministic runs:
 *     every task but the current one) loses its address space at once, so
 *     its memory is back before out_of_memory() returns. A victim that runs
 *     (the allocating task itself, or a task on another CPU in concurrent
 *     mode) is marked; it dies with SIGKILL at its next fault or call (Linux
 *     delivers the signal on return to user space), and the allocation that
 *     triggered the kill fails or retries meanwhile, as Linux's does while
 *     the victim exits.
 *
 * Locks: rs->oom_lock (one kill at a time, Linux's oom_lock) > vm's
 * task_lock (walking the tasks).
 */
#include "internal.h"
#include <kmm/gfp.h>
#include <errno.h>
#include <limits.h>

#define OOM_SCORE_ADJ_MIN (-1000)
#define OOM_SCORE_ADJ_MAX 1000

static unsigned long task_pgtables(const struct kmm_mm *mm)
{
	return (unsigned long)atomic_long_read(&mm->pgtables_bytes) / PAGE_SIZE;
}

/* Linux oom_badness(): LONG_MIN for a task that may not be killed. */
static long oom_badness(struct kmm_task *t, unsigned long totalpages)
{
	struct kmm_mm *mm = READ_ONCE(t->mm);
	int adj = READ_ONCE(t->oom_score_adj);
	if (t->state != KMM_TASK_RUNNING || !mm || adj == OOM_SCORE_ADJ_MIN ||
	    READ_ONCE(t->oom_kill_pending))
		return LONG_MIN;
	long points =
	    (long)get_mm_rss(mm) + get_mm_counter(mm, MM_SWAPENTS) + (long)task_pgtables(mm);
	points += (long)adj * (long)(totalpages / 1000);
	return points;
}

static void dump_tasks(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	struct kmm_task *t;
	pr_info(m, "Tasks state (memory values in pages):");
	pr_info(m, "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj "
		   "name");
	spin_lock(&vm->task_lock);
	list_for_each_entry (t, &vm->tasks, tasks) {
		struct kmm_mm *mm = READ_ONCE(t->mm);
		if (t->state != KMM_TASK_RUNNING || !mm)
			continue;
		pr_info(m, "[%7d] %5d %5d %8lu %8lu %8ld %8ld         %5d %s", t->pid, 0, t->pid,
			mm->total_vm, get_mm_rss(mm), atomic_long_read(&mm->pgtables_bytes),
			get_mm_counter(mm, MM_SWAPENTS), t->oom_score_adj, t->comm);
	}
	spin_unlock(&vm->task_lock);
}

static void dump_header(struct kmm_machine *m, struct kmm_task *current, gfp_t gfp,
			unsigned int order)
{
	char flags[256];
	int nid;
	struct kmm_zone *zone;
	pr_warn(m, "%s invoked oom-killer: gfp_mask=%#x(%s), order=%u, oom_score_adj=%d",
		current ? current->comm : "kmm", gfp, kmm_gfp_decode(gfp, flags, sizeof(flags)),
		order, current ? current->oom_score_adj : 0);
	pr_info(m, "Mem-Info:");
	pr_info(m, "active_anon:%lu inactive_anon:%lu isolated_anon:%lu",
		global_node_page_state(m, NR_ACTIVE_ANON),
		global_node_page_state(m, NR_INACTIVE_ANON),
		global_node_page_state(m, NR_ISOLATED_ANON));
	pr_info(m, " active_file:%lu inactive_file:%lu isolated_file:%lu",
		global_node_page_state(m, NR_ACTIVE_FILE),
		global_node_page_state(m, NR_INACTIVE_FILE),
		global_node_page_state(m, NR_ISOLATED_FILE));
	pr_info(m, " unevictable:%lu dirty:%lu writeback:%lu",
		global_node_page_state(m, NR_UNEVICTABLE), global_node_page_state(m, NR_FILE_DIRTY),
		global_node_page_state(m, NR_WRITEBACK));
	pr_info(m, " mapped:%lu shmem:%lu pagetables:%lu",
		global_node_page_state(m, NR_FILE_MAPPED), global_node_page_state(m, NR_SHMEM),
		global_node_page_state(m, NR_PAGETABLE));
	pr_info(m, " free:%lu", global_zone_page_state(m, NR_FREE_PAGES));
	for_each_populated_zone (m, nid, zone)
		pr_info(m, "Node %d %s free:%lukB min:%lukB low:%lukB high:%lukB managed:%lukB",
			zone->node, zone->name, zone_page_state_snapshot(zone, NR_FREE_PAGES) * 4,
			min_wmark_pages(zone) * 4, low_wmark_pages(zone) * 4,
			high_wmark_pages(zone) * 4, zone_managed_pages(zone) * 4);
	pr_info(m, "Free swap  = %ldkB", (m->swap ? get_nr_swap_pages(m) : 0) * 4);
	if (reclaim_state(m)->oom_dump_tasks)
		dump_tasks(m);
}

/* The task running on this CPU, if any. */
static struct kmm_task *oom_current(struct kmm_machine *m)
{
	struct vm_cpu *vc = this_vm_cpu(m);
	return vc ? vc->curr : NULL;
}

/* Is @t running on a CPU other than ours, or is it our own task? Then it must die itself. */
static bool victim_is_running(struct kmm_machine *m, struct kmm_task *t, struct kmm_task *current)
{
	if (t == current)
		return true;
	/* Its CPU is one this thread has entered (now or before): nobody else runs it. */
	for (struct kmm_cpu *c = this_cpu(m); c; c = c->prev)
		if (c == t->cpu)
			return false;
	return __atomic_load_n(&t->cpu->owner, __ATOMIC_ACQUIRE) != 0;
}

static void oom_kill_process(struct kmm_machine *m, struct kmm_task *victim,
			     struct kmm_task *current)
{
	struct kmm_mm *mm = victim->mm;
	pr_warn(m,
		"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,"
		"global_oom,task_memcg=/,task=%s,pid=%d,uid=0",
		victim->comm, victim->pid);
	pr_warn(m,
		"Out of memory: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, "
		"file-rss:%lukB, shmem-rss:%lukB, UID:0 pgtables:%lukB oom_score_adj:%d",
		victim->pid, victim->comm, mm->total_vm * 4,
		(unsigned long)get_mm_counter(mm, MM_ANONPAGES) * 4,
		(unsigned long)get_mm_counter(mm, MM_FILEPAGES) * 4,
		(unsigned long)get_mm_counter(mm, MM_SHMEMPAGES) * 4, task_pgtables(mm) * 4,
		victim->oom_score_adj);
	count_vm_event(m, OOM_KILL);
	reclaim_state(m)->nr_oom_kills++;
	if (victim_is_running(m, victim, current)) {
		WRITE_ONCE(victim->oom_kill_pending, true);
		return;
	}
	/* Nobody runs it: take its memory now (what the oom reaper does in Linux). */
	victim->sig.signo = KMM_SIGKILL;
	kmm_port_snprintf(victim->sig.msg, sizeof(victim->sig.msg),
			  "%s[%d]: killed by the OOM killer", victim->comm, victim->pid);
	victim->exit_code = 128 + KMM_SIGKILL;
	exit_mm(victim);
}

bool out_of_memory(struct kmm_machine *m, gfp_t gfp, unsigned int order)
{
	struct reclaim_state *rs = reclaim_state(m);
	struct vm_state *vm = vm_state(m);
	if (!rs || !vm)
		return false;
	struct kmm_task *current = oom_current(m);
	/* The victim chosen before us has not died yet: wait for it, as Linux does. */
	if (current && READ_ONCE(current->oom_kill_pending))
		return false;
	kmm_port_waitq_lock(&rs->oom_lock);
	unsigned long totalpages = (unsigned long)atomic_long_read(&m->totalram_pages);
	if (m->swap)
		totalpages += (unsigned long)kmm_max(get_nr_swap_pages(m), 0L);
	struct kmm_task *victim = NULL, *t;
	long best = LONG_MIN;
	bool waiting = false;
	spin_lock(&vm->task_lock);
	list_for_each_entry (t, &vm->tasks, tasks) {
		if (READ_ONCE(t->oom_kill_pending) && t->state == KMM_TASK_RUNNING)
			waiting = true; /* a victim is on its way out: do not kill another */
		long points = oom_badness(t, totalpages);
		if (points > best) {
			best = points;
			victim = t;
		}
	}
	spin_unlock(&vm->task_lock);
	if (waiting) {
		kmm_port_waitq_unlock(&rs->oom_lock);
		return true; /* its memory is coming: retry */
	}
	if (!victim) {
		/* Linux panics here; kmm fails the allocation, and says so once. */
		if (!rs->oom_unkillable_reported) {
			rs->oom_unkillable_reported = true;
			dump_header(m, current, gfp, order);
			pr_warn(m, "Out of memory and no killable processes...");
		}
		kmm_port_waitq_unlock(&rs->oom_lock);
		return false;
	}
	dump_header(m, current, gfp, order);
	oom_kill_process(m, victim, current);
	kmm_port_waitq_unlock(&rs->oom_lock);
	/* Memory came back now, or will when a victim on another CPU runs; ours fails. */
	return victim != current;
}

int kmm_task_set_oom_score_adj(struct kmm_task *t, int adj)
{
	if (!t || adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX)
		return -EINVAL;
	WRITE_ONCE(t->oom_score_adj, adj);
	return 0;
}
