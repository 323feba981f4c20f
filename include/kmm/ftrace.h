/*
 * Trace events as text, exactly as Linux 6.1's ftrace prints them.
 *
 * Linux: kernel/trace/trace.c and trace_output.c (the line layout, the
 * header of the trace file), the TP_printk() of include/trace/events/kmem.h
 * and vmscan.h, lib/vsprintf.c (%p, %pS). A user enables events with a
 * glob list, the way tracefs's set_event takes them:
 *
 *	struct kmm_ftrace_opts o = {.events = "mm_page_alloc,vmscan:*", .path = "trace.txt"};
 *	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o, &err);
 *	... run ...
 *	kmm_ftrace_close(ft, &err);
 *
 * and gets lines such as
 *
 *	             kmm-1       [000] .....     0.004127: mm_page_alloc: page=ffffea0000118040
 *	pfn=0x4601 order=0 migratetype=0 gfp_flags=GFP_KERNEL
 *
 * (one line; wrapped here). docs/tracing.md lists every event and field.
 * Host code (stdio, pthreads): it belongs to the simulator, not the core.
 */
#ifndef KMM_FTRACE_H
#define KMM_FTRACE_H

#include <stdio.h>
#include <kmm/machine.h>

/* What the text looks like. */
enum kmm_ftrace_style {
	/* tracefs's "trace" file: the "# tracer: nop" header, then the events. */
	KMM_FTRACE_TRACE,
	/* tracefs's "trace_pipe": the events only, each written as it happens. */
	KMM_FTRACE_PIPE,
};

/* The columns before the event name: who, where, when, in what context. */
struct kmm_ftrace_ctx {
	char comm[16]; /* task name; 15 characters are shown, like TASK_COMM_LEN */
	int pid;
	int cpu;
	uint64_t ts_ns; /* since boot; printed in microseconds, rounded */
	/*
	 * irqs-off ('d'), need-resched ('N'), hardirq/softirq ('h', 's'),
	 * preempt depth (a hex digit), migrate-disable; '.' for none.
	 */
	char flags[6];
};

struct kmm_ftrace_opts {
	/* Which events: a glob list (kmm_ftrace_parse_events); NULL or "" for all. */
	const char *events;
	/* Where the text goes: an open stream, or a file to create (replaced). */
	FILE *out;
	const char *path;
	enum kmm_ftrace_style style;
	/*
	 * Print %p pointers hashed, as Linux does unless booted with
	 * no_hash_pointers (a 32-bit keyed hash of the address, zero-padded;
	 * the key comes from the machine's seed, so a run is reproducible).
	 * The default prints them raw, like no_hash_pointers: a struct page at
	 * the x86_64 vmemmap address of its pfn (0xffffea0000000000 + 64 * pfn,
	 * so page= and pfn= agree), an object at its direct-map address.
	 */
	bool hash_pointers;
	/* The task shown when no context hook says otherwise: "kmm", pid 1. */
	const char *comm;
	int pid;

	/* Optional hooks; each is given hook_arg. */
	void *hook_arg;
	/*
	 * Say which task, CPU, time and context an event comes from. @ctx
	 * arrives filled with the defaults: the task above, the caller's
	 * simulated CPU (0 on none), host time since boot, and the flags Linux
	 * 6.1 shows where it fires the event (kmm_ftrace_default_flags).
	 */
	void (*context)(void *arg, struct kmm_machine *m, enum kmm_trace_event ev,
			const uint64_t *args, struct kmm_ftrace_ctx *ctx);
	/*
	 * Name a code address as %pS does ("shrink_scan+0x0/0x110"); return
	 * false if unknown. Without it, kmm asks the dynamic linker and prints
	 * "0x<address>" for what it cannot name, as Linux does.
	 */
	bool (*symbol)(void *arg, uint64_t addr, char *buf, size_t len);
	/* Replace the text of a %p pointer (the simulated kernel address @addr). */
	void (*pointer)(void *arg, uint64_t addr, char *buf, size_t len);
};

struct kmm_ftrace;

/*
 * Parse an event list into a mask of KMM_TRACE_BIT()s. Items are separated
 * by commas; each is a glob of event names ("mm_page_*"), optionally with a
 * system ("kmem:*", "vmscan:mm_vmscan_kswapd_*", "kmem:"); a leading '!'
 * removes what it matches. Returns 0, or -EINVAL with a message naming the
 * item that matches no event and listing the events.
 */
int kmm_ftrace_parse_events(const char *spec, uint64_t *mask, struct kmm_error *err);

/*
 * Start tracing @m: installs the formatter as the machine's trace hook
 * (one per machine) and enables the chosen events. Returns NULL with a
 * message if the events or the output are bad or a hook is installed.
 * Events may then fire from any thread (lines are written under a lock, in
 * time order); opening and closing must happen while no other thread uses
 * the machine, as the hook is not swapped under running trace points.
 */
struct kmm_ftrace *kmm_ftrace_open(struct kmm_machine *m, const struct kmm_ftrace_opts *o,
				   struct kmm_error *err);
/*
 * Stop tracing, write what is left (the header and the events, for
 * KMM_FTRACE_TRACE), close a file opened by path, and free @ft. Returns 0,
 * or -errno with a message if writing failed. A stream given as @out stays
 * open.
 */
int kmm_ftrace_close(struct kmm_ftrace *ft, struct kmm_error *err);

/* Events of type @ev written so far. */
unsigned long kmm_ftrace_count(const struct kmm_ftrace *ft, enum kmm_trace_event ev);

/*
 * Format one event as a line (with its '\n') into @buf, as the hook does:
 * for tests and for tools that replay recorded events. Returns the length
 * of the line (which is truncated if @len is too small), or -EINVAL if
 * @nargs is not the event's number of arguments.
 */
int kmm_ftrace_format(const struct kmm_ftrace *ft, const struct kmm_ftrace_ctx *ctx,
		      enum kmm_trace_event ev, const uint64_t *args, int nargs, char *buf,
		      size_t len);

/*
 * The flags column Linux 6.1 shows for @ev where it fires it in the common
 * case: "d..3." for buddy allocations that refill a per-CPU list (irqs off,
 * the per-CPU list's lock and the zone lock held), "d..1." for
 * mm_vmscan_lru_isolate (the LRU lock), "....." for most events.
 */
void kmm_ftrace_default_flags(enum kmm_trace_event ev, const uint64_t *args, char flags[6]);

#endif /* KMM_FTRACE_H */
