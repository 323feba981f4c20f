/*
 * /proc/sys/vm: every tunable kmm has, by its Linux name, with the values it
 * takes.
 *
 * Linux: kernel/sysctl.c and the mm/ files (vm_table: proc_dointvec_minmax with
 * extra1/extra2 bounds, the handlers of min_free_kbytes,
 * watermark_scale_factor, percpu_pagelist_high_fraction and
 * lowmem_reserve_ratio), mm/huge_memory.c (transparent_hugepage/enabled).
 *
 * One table names every tunable, its owner and its range, so that a write
 * is checked the same way wherever it comes from: kmm_sysctl_set() on a
 * running machine, `--sysctl` and `sysctl` in the CLI, and a workload's
 * `sysctl` line before any machine exists (kmm_sysctl_check()). The
 * watermark tunables are phys/'s own and are applied here; the others belong
 * to layers above (vm/, reclaim/, swap/), which register setters in
 * kmm_machine.sysctl at init and are handed values already checked.
 */
#include "internal.h"
#include <errno.h>
#include <kmm/buf.h>
#include <kmm/mm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PERCPU_PAGELIST_HIGH_FRACTION 8

enum sysctl_kind {
	SYSCTL_NUMBER,	   /* one integer from lo to hi */
	SYSCTL_FRACTION,   /* 0, or an integer from lo to hi */
	SYSCTL_POWER_OF_2, /* a power of two from lo to hi */
	SYSCTL_PER_ZONE,   /* one integer per zone */
	SYSCTL_THP,	   /* always, madvise or never */
};

static const struct vm_sysctl {
	const char *name;
	enum kmm_sysctl_owner owner;
	enum sysctl_kind kind;
	long lo, hi;
	const char *what; /* the values it takes, for messages */
} vm_table[] = {
    {"min_free_kbytes", KMM_SYSCTL_PHYS, SYSCTL_NUMBER, 0, 1L << 30, "from 0 to 2^30"},
    {"watermark_scale_factor", KMM_SYSCTL_PHYS, SYSCTL_NUMBER, 1, 3000, "from 1 to 3000"},
    {"watermark_boost_factor", KMM_SYSCTL_PHYS, SYSCTL_NUMBER, 0, 1L << 30, "from 0 to 2^30"},
    {"percpu_pagelist_high_fraction", KMM_SYSCTL_PHYS, SYSCTL_FRACTION,
     MIN_PERCPU_PAGELIST_HIGH_FRACTION, 1L << 30, "0 or from 8 to 2^30"},
    {"lowmem_reserve_ratio", KMM_SYSCTL_PHYS, SYSCTL_PER_ZONE, 0, 1L << 30,
     "as one number per zone such as \"256 256 32 0\""},
    {"transparent_hugepage/enabled", KMM_SYSCTL_PHYS, SYSCTL_THP, 0, 0,
     "as always, madvise or never"},
    {"max_map_count", KMM_SYSCTL_VM, SYSCTL_NUMBER, 0, 0x7fffffff, "from 0 to 2^31-1"},
    {"mmap_min_addr", KMM_SYSCTL_VM, SYSCTL_NUMBER, 0, (long)KMM_TASK_SIZE - 1,
     "from 0 to below the task size, 0x7ffffffff000"},
    {"stack_guard_gap", KMM_SYSCTL_VM, SYSCTL_NUMBER, 0, 1L << 20, "from 0 to 2^20 pages"},
    {"fault_around_bytes", KMM_SYSCTL_VM, SYSCTL_POWER_OF_2, 4096, 262144,
     "as a power of two from 4096 to 262144"},
    {"dirty_ratio", KMM_SYSCTL_VM, SYSCTL_NUMBER, 0, 100, "from 0 to 100"},
    {"dirty_background_ratio", KMM_SYSCTL_VM, SYSCTL_NUMBER, 0, 100, "from 0 to 100"},
    {"swappiness", KMM_SYSCTL_RECLAIM, SYSCTL_NUMBER, 0, 200, "from 0 to 200"},
    {"page-cluster", KMM_SYSCTL_SWAP, SYSCTL_NUMBER, 0, 31, "from 0 to 31"},
};

static const struct vm_sysctl *sysctl_find(const char *name)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(vm_table); i++)
		if (!strcmp(name, vm_table[i].name))
			return &vm_table[i];
	return NULL;
}

static int sysctl_unknown(const char *name, struct kmm_error *err)
{
	char known[400];
	size_t n = 0;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(vm_table) && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s",
				      !i				  ? ""
				      : i + 1 == KMM_ARRAY_SIZE(vm_table) ? " or "
									  : ", ",
				      vm_table[i].name);
	return kmm_error_set(err, -ENOENT, "expected a tunable (%s), found '%s'", known, name);
}

/* One integer, with spaces and a newline (echo's) around it allowed. */
static bool parse_number(const char *s, long *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || errno)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	*out = v;
	return !*end;
}

/* The numbers of a per-zone list; returns how many, or -1 if one is not a number. */
static int parse_per_zone(const char *s, long *v, int max)
{
	int n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			return n;
		char *end;
		errno = 0;
		long x = strtol(s, &end, 10);
		if (end == s || errno || n >= max ||
		    (*end && *end != ' ' && *end != '\t' && *end != '\n'))
			return -1;
		v[n++] = x;
		s = end;
	}
}

static enum kmm_thp_mode parse_thp(const char *s)
{
	static const char *const words[] = {"always", "madvise", "never"};
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(words[i]);
		if (!strncmp(s, words[i], len) && (!s[len] || s[len] == '\n'))
			return (enum kmm_thp_mode)i;
	}
	return (enum kmm_thp_mode) - 1;
}

/* The table's check of @value; *v is the number for the one-number kinds. */
static int sysctl_check_value(const struct vm_sysctl *t, const char *value, long *v,
			      struct kmm_error *err)
{
	long zones[MAX_NR_ZONES];
	bool ok;
	switch (t->kind) {
	case SYSCTL_NUMBER:
		ok = parse_number(value, v) && *v >= t->lo && *v <= t->hi;
		break;
	case SYSCTL_FRACTION:
		ok = parse_number(value, v) && (!*v || (*v >= t->lo && *v <= t->hi));
		break;
	case SYSCTL_POWER_OF_2:
		ok = parse_number(value, v) && *v >= t->lo && *v <= t->hi && !(*v & (*v - 1));
		break;
	case SYSCTL_PER_ZONE:
		ok = parse_per_zone(value, zones, MAX_NR_ZONES) > 0;
		break;
	default:
		ok = (int)parse_thp(value) >= 0;
		break;
	}
	if (!ok)
		return kmm_error_set(err, -EINVAL, "expected %s %s, found '%s'", t->name, t->what,
				     value);
	return 0;
}

int kmm_sysctl_check(const char *name, const char *value, struct kmm_error *err)
{
	const struct vm_sysctl *t = sysctl_find(name);
	long v;
	if (!t)
		return sysctl_unknown(name, err);
	return sysctl_check_value(t, value, &v, err);
}

/* lowmem_reserve_ratio: one ratio per zone the architecture has; below 1 means no reserve. */
static int set_lowmem_reserve_ratio(struct kmm_machine *m, const char *value, struct kmm_error *err)
{
	long ratios[MAX_NR_ZONES];
	int n = parse_per_zone(value, ratios, m->nr_arch_zones);
	if (n <= 0)
		return kmm_error_set(err, -EINVAL,
				     "expected lowmem_reserve_ratio as %d numbers, one per zone, "
				     "found '%s'",
				     m->nr_arch_zones, value);
	for (int z = 0, i = 0; z < MAX_NR_ZONES && i < n; z++) {
		if (!m->zone_in_arch[z])
			continue;
		m->lowmem_reserve_ratio[z] = ratios[i] < 1 ? 0 : (int)ratios[i];
		i++;
	}
	setup_per_zone_lowmem_reserve(m);
	return 0;
}

static int sysctl_set_phys(struct kmm_machine *m, const char *name, const char *value, long v,
			   struct kmm_error *err)
{
	if (!strcmp(name, "min_free_kbytes")) {
		m->min_free_kbytes = (int)v;
		m->user_min_free_kbytes = (int)v;
		setup_per_zone_wmarks(m);
	} else if (!strcmp(name, "watermark_scale_factor")) {
		m->watermark_scale_factor = (int)v;
		setup_per_zone_wmarks(m);
	} else if (!strcmp(name, "watermark_boost_factor")) {
		m->watermark_boost_factor = (int)v;
	} else if (!strcmp(name, "percpu_pagelist_high_fraction")) {
		m->percpu_pagelist_high_fraction = (int)v;
		zone_pcp_update_all(m);
	} else if (!strcmp(name, "lowmem_reserve_ratio")) {
		return set_lowmem_reserve_ratio(m, value, err);
	} else {
		m->thp = parse_thp(value);
		set_recommended_min_free_kbytes(m);
	}
	return 0;
}

int kmm_sysctl_set(struct kmm_machine *m, const char *name, const char *value,
		   struct kmm_error *err)
{
	const struct vm_sysctl *t = sysctl_find(name);
	long v = 0;
	if (!t)
		return sysctl_unknown(name, err);
	int ret = sysctl_check_value(t, value, &v, err);
	if (ret)
		return ret;
	kmm_wait_for_init(m);
	if (t->owner == KMM_SYSCTL_PHYS)
		return sysctl_set_phys(m, name, value, v, err);
	if (!m->sysctl[t->owner].set)
		return kmm_error_set(err, -ENOENT,
				     "%s: this machine does not run the layer it tunes", name);
	m->sysctl[t->owner].set(m, name, v);
	return 0;
}

int kmm_sysctl_get(struct kmm_machine *m, const char *name, struct kmm_buf *out)
{
	const struct vm_sysctl *t = sysctl_find(name);
	if (!t)
		return -ENOENT;
	kmm_wait_for_init(m);
	if (t->owner != KMM_SYSCTL_PHYS) {
		if (!m->sysctl[t->owner].get)
			return -ENOENT;
		kmm_buf_printf(out, "%ld\n", m->sysctl[t->owner].get(m, name));
	} else if (!strcmp(name, "min_free_kbytes"))
		kmm_buf_printf(out, "%d\n", m->min_free_kbytes);
	else if (!strcmp(name, "watermark_scale_factor"))
		kmm_buf_printf(out, "%d\n", m->watermark_scale_factor);
	else if (!strcmp(name, "watermark_boost_factor"))
		kmm_buf_printf(out, "%d\n", m->watermark_boost_factor);
	else if (!strcmp(name, "percpu_pagelist_high_fraction"))
		kmm_buf_printf(out, "%d\n", m->percpu_pagelist_high_fraction);
	else if (!strcmp(name, "lowmem_reserve_ratio")) {
		const char *sep = "";
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			if (!m->zone_in_arch[z])
				continue;
			kmm_buf_printf(out, "%s%d", sep, m->lowmem_reserve_ratio[z]);
			sep = "\t";
		}
		kmm_buf_puts(out, "\n");
	} else {
		static const char *const s[] = {"[always] madvise never", "always [madvise] never",
						"always madvise [never]"};
		kmm_buf_printf(out, "%s\n", s[m->thp]);
	}
	return 0;
}
