/*
 * Fault injection decisions (kmm/fault_inject.h).
 *
 * Linux: lib/fault-inject.c should_fail(). The order of the checks follows
 * the kernel's: times exhausted -> no; space left -> consume and no;
 * interval -> only every interval-th call; probability -> a coin. kmm adds
 * "nth", which overrides the rest.
 */
#include <kmm/fault_inject.h>
#include <kmm/error.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void kmm_fault_attr_init(struct kmm_fault_attr *attr, uint64_t seed)
{
	memset(attr, 0, sizeof(*attr));
	attr->interval = 1;
	attr->times = -1;
	kmm_rng_seed(&attr->rng, seed);
	spin_lock_init(&attr->lock);
}

bool __kmm_should_fail(struct kmm_fault_attr *attr, size_t size)
{
	bool fail = false;
	spin_lock(&attr->lock);
	unsigned long call = ++attr->calls;
	if (attr->nth) {
		fail = call == attr->nth;
		goto out;
	}
	if (attr->times == 0)
		goto out;
	if (attr->space > 0) {
		attr->space -= (long)size;
		if (attr->space > 0)
			goto out;
	}
	if (attr->interval > 1 && call % attr->interval)
		goto out;
	if (attr->probability < 100 && kmm_rng_below(&attr->rng, 100) >= attr->probability)
		goto out;
	fail = true;
	if (attr->times > 0)
		attr->times--;
out:
	if (fail)
		attr->failed++;
	spin_unlock(&attr->lock);
	return fail;
}

int kmm_fault_attr_parse(struct kmm_fault_attr *attr, const char *spec, struct kmm_error *err)
{
	const char *p = spec;
	attr->enabled = true;
	if (attr->probability == 0 && !strstr(spec, "probability"))
		attr->probability = 100;
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end)
			return kmm_error_set(err, -EINVAL,
					     "fault injection: expected key=value, found '%.*s'",
					     (int)(end - p), p);
		size_t klen = (size_t)(eq - p);
		char *vend;
		long v = strtol(eq + 1, &vend, 0);
		if (vend != end)
			return kmm_error_set(err, -EINVAL,
					     "fault injection: '%.*s' needs a number, found '%.*s'",
					     (int)klen, p, (int)(end - eq - 1), eq + 1);
#define KEY(name) (klen == sizeof(name) - 1 && !memcmp(p, name, klen))
		if (KEY("probability") && v >= 0 && v <= 100)
			attr->probability = (unsigned int)v;
		else if (KEY("interval") && v >= 1)
			attr->interval = (unsigned long)v;
		else if (KEY("times") && v >= -1)
			attr->times = v;
		else if (KEY("space") && v >= 0)
			attr->space = v;
		else if (KEY("nth") && v >= 0)
			attr->nth = (unsigned long)v;
		else if (KEY("min_order") && v >= 0 && v <= 10)
			attr->min_order = (unsigned int)v;
		else if (KEY("ignore_gfp_highmem") && (v == 0 || v == 1))
			attr->ignore_gfp_highmem = v;
		else if (KEY("ignore_gfp_reclaim") && (v == 0 || v == 1))
			attr->ignore_gfp_reclaim = v;
		else
			return kmm_error_set(
			    err, -EINVAL,
			    "fault injection: unknown key or value out of range: '%.*s' "
			    "(keys: probability 0-100, interval >=1, times >=-1, "
			    "space, nth, min_order 0-10, ignore_gfp_highmem, "
			    "ignore_gfp_reclaim)",
			    (int)(end - p), p);
#undef KEY
		p = *end ? end + 1 : end;
	}
	return 0;
}
