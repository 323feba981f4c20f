/*
 * Fault injection: make chosen allocations fail on purpose.
 *
 * Linux: lib/fault-inject.c, mm/fail_page_alloc.c, mm/failslab.c. The same
 * knobs (probability in percent, interval, times, space, plus the page
 * allocator's min-order and ignore-highmem filters), and one more that
 * SQLite's test_malloc made popular: fail exactly the nth call, so a test can
 * fail the 1st, 2nd, ... allocation of an operation until it completes and
 * check that every failure unwinds cleanly.
 */
#ifndef KMM_FAULT_INJECT_H
#define KMM_FAULT_INJECT_H

#include <kmm/compiler.h>
#include <kmm/random.h>
#include <kmm/spinlock.h>

struct kmm_fault_attr {
	bool enabled;
	unsigned int probability; /* percent, 0..100 */
	unsigned long interval;	  /* fail one call in this many (1: every eligible call) */
	long times;		  /* failures left; -1 is unlimited */
	long space;		  /* bytes to let through before failing */
	unsigned long nth;	  /* if nonzero, fail exactly the nth eligible call */
	/* page allocator filters */
	unsigned int min_order;
	bool ignore_gfp_highmem;
	bool ignore_gfp_reclaim;
	/* state */
	unsigned long calls;  /* eligible calls seen */
	unsigned long failed; /* failures injected */
	struct kmm_rng rng;
	spinlock_t lock;
};

void kmm_fault_attr_init(struct kmm_fault_attr *attr, uint64_t seed);
/* Decide whether this eligible call of @size bytes fails (thread-safe). */
bool __kmm_should_fail(struct kmm_fault_attr *attr, size_t size);
static inline bool kmm_should_fail(struct kmm_fault_attr *attr, size_t size)
{
	return unlikely(READ_ONCE(attr->enabled)) && __kmm_should_fail(attr, size);
}
/* Parse "probability=10,interval=1,times=-1,nth=3,min_order=0,..."; returns 0 or -EINVAL. */
struct kmm_error;
int kmm_fault_attr_parse(struct kmm_fault_attr *attr, const char *spec, struct kmm_error *err);

#endif /* KMM_FAULT_INJECT_H */
