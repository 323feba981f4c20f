/*
 * The ftrace formatter: kmm's trace events as the text Linux 6.1 prints.
 *
 * Linux: kernel/trace/trace_output.c (trace_print_context, trace_print_time,
 * trace_print_lat_fmt: the columns before the event), kernel/trace/trace.c
 * (print_event_info and print_func_help_header_irq: the header of the
 * "trace" file), kernel/trace/trace_output.c trace_print_flags_seq and
 * trace_print_symbols_seq (__print_flags, __print_symbolic), the TP_printk()
 * of include/trace/events/kmem.h and vmscan.h, lib/vsprintf.c (%p, %pS).
 *
 * Theory of operation:
 *  1. kmm_ftrace_open() installs ftrace_hook() as the machine's trace hook
 *     and sets the chosen events' bits in m->trace_mask; the layers' trace
 *     points (kmm/trace.h) then call the hook with the record's fields.
 *  2. The hook fills the context columns (task, CPU, time, flags), formats
 *     the line and writes it, under one mutex: in concurrent runs the file
 *     stays ordered by time, as tracefs's merged per-CPU buffers are.
 *  3. The "trace" style needs the number of events in its header, which is
 *     known only at the end: the events go to a temporary file, and
 *     kmm_ftrace_close() writes the header, then copies them after it. The
 *     "trace_pipe" style writes each line at once.
 *  4. Pointers: Linux prints struct pages at vmemmap_base + pfn (64-byte
 *     struct pages; 0xffffea0000000000 on x86_64 without KASLR) and objects
 *     at their direct-map address (0xffff888000000000 + physical). kmm
 *     prints the same addresses for its pages and for host pointers into
 *     simulated RAM, raw as with no_hash_pointers, or hashed (32 bits) like
 *     Linux's default; NULL and unknown pointers as Linux does.
 */
#define _GNU_SOURCE
#include <kmm/ftrace.h>
#include <kmm/gfp.h>
#include <kmm/memory_model.h>
#include <kmm/bug.h>

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../port/port.h"

/* Simulated kernel addresses of x86_64 without KASLR, and of i386 (3G/1G split). */
#define X86_64_VMEMMAP_BASE 0xffffea0000000000ULL
#define X86_64_PAGE_OFFSET  0xffff888000000000ULL
#define X86_64_STRUCT_PAGE  64
#define I386_PAGE_OFFSET    0xc0000000ULL
#define I386_STRUCT_PAGE    32

struct kmm_ftrace {
	struct kmm_machine *m;
	struct kmm_ftrace_opts o;
	char comm[16];
	uint64_t mask;
	FILE *out;    /* the destination */
	FILE *body;   /* the events, until close (KMM_FTRACE_TRACE) */
	bool own_out; /* opened from o.path */
	int write_error;
	bool is_i386;
	uint64_t page_base, page_size, direct_map; /* see page_addr(), obj_addr() */
	uint64_t hash_key;
	pthread_mutex_t lock;
	unsigned long count[KMM_NR_TRACE_EVENTS];
	unsigned long total;
};

/* --- Event lists --------------------------------------------------------------------- */

/* Name prefixes the list of events groups with braces, to fit in one message. */
static const char *const event_prefixes[] = {"mm_page_", "kmem_cache_", "mm_vmscan_",
					     "mm_shrink_slab_"};

static const char *prefix_of(const char *name)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(event_prefixes); i++)
		if (!strncmp(name, event_prefixes[i], strlen(event_prefixes[i])))
			return event_prefixes[i];
	return NULL;
}

/*
 * Append the events to @err's message, by system, with shared prefixes in
 * braces: "kmem: mm_page_{alloc,free,...}, kmalloc, ...; vmscan: ...".
 */
static void list_events(struct kmm_error *err)
{
	bool done[KMM_NR_TRACE_EVENTS] = {false};
	size_t n = strlen(err->msg);
#define APPEND(...)                                                     \
	(n += (size_t)snprintf(err->msg + kmm_min(n, sizeof(err->msg)), \
			       n < sizeof(err->msg) ? sizeof(err->msg) - n : 0, __VA_ARGS__))
	for (int e = 0; e < KMM_NR_TRACE_EVENTS; e++) {
		if (done[e])
			continue;
		const char *sys = kmm_trace_event_systems[e];
		if (!e || strcmp(sys, kmm_trace_event_systems[e - 1]))
			APPEND("%s%s: ", e ? "; " : "", sys);
		else
			APPEND(", ");
		const char *prefix = prefix_of(kmm_trace_event_names[e]);
		if (!prefix) {
			APPEND("%s", kmm_trace_event_names[e]);
			done[e] = true;
			continue;
		}
		APPEND("%s{", prefix);
		for (int f = e; f < KMM_NR_TRACE_EVENTS; f++)
			if (!strcmp(kmm_trace_event_systems[f], sys) &&
			    prefix_of(kmm_trace_event_names[f]) == prefix) {
				APPEND("%s%s", f == e ? "" : ",",
				       kmm_trace_event_names[f] + strlen(prefix));
				done[f] = true;
			}
		APPEND("}");
	}
#undef APPEND
}

/* The events one item matches: "[system:]glob". */
static uint64_t match_item(const char *item)
{
	const char *colon = strchr(item, ':');
	char sys[64] = "*";
	const char *glob = item;
	if (colon) {
		size_t len = (size_t)(colon - item);
		if (len >= sizeof(sys))
			return 0;
		memcpy(sys, item, len);
		sys[len] = '\0';
		glob = colon[1] ? colon + 1 : "*";
	}
	uint64_t mask = 0;
	for (int e = 0; e < KMM_NR_TRACE_EVENTS; e++)
		if (!fnmatch(sys, kmm_trace_event_systems[e], 0) &&
		    !fnmatch(glob, kmm_trace_event_names[e], 0))
			mask |= KMM_TRACE_BIT(e);
	return mask;
}

int kmm_ftrace_parse_events(const char *spec, uint64_t *maskp, struct kmm_error *err)
{
	uint64_t mask = 0;
	char item[128];
	const char *s = spec ? spec : "";
	while (*s == ' ')
		s++;
	if (!*s) {
		*maskp = KMM_TRACE_BIT(KMM_NR_TRACE_EVENTS) - 1;
		return 0;
	}
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		while (len && s[len - 1] == ' ')
			len--;
		if (!len || len >= sizeof(item))
			return kmm_error_set(err, -EINVAL,
					     "trace events '%s': expected a list of event globs "
					     "separated by commas, found %s",
					     spec, len ? "an item too long" : "an empty item");
		memcpy(item, s, len);
		item[len] = '\0';
		bool remove = item[0] == '!';
		uint64_t m = match_item(item + remove);
		if (!m) {
			kmm_error_set(err, -EINVAL,
				      "trace events: '%s' matches no event; they are ", item);
			list_events(err);
			return -EINVAL;
		}
		mask = remove ? mask & ~m : mask | m;
		if (!end)
			break;
		s = end + 1;
		while (*s == ' ')
			s++;
	}
	*maskp = mask;
	return 0;
}

/* --- Pieces of a line -------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, n;
};

static void put_mem(struct out *o, const char *s, size_t n)
{
	if (o->n < o->len)
		memcpy(o->buf + o->n, s, kmm_min(n, o->len - o->n));
	o->n += n;
}

static void put_fill(struct out *o, char c, int n)
{
	for (; n > 0; n--, o->n++)
		if (o->n < o->len)
			o->buf[o->n] = c;
}

/*
 * printf for the conversions the TP_printk() formats use: flags '-' and
 * '0', a width (or '*'), a precision for strings, the lengths l, ll and z,
 * and d, u, x, s. glibc's vsnprintf() spent two thirds of a line's time in
 * its generic stream machinery; this is about four times faster.
 */
__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	while (*fmt) {
		const char *pct = strchr(fmt, '%');
		if (!pct) {
			put_mem(o, fmt, strlen(fmt));
			break;
		}
		put_mem(o, fmt, (size_t)(pct - fmt));
		fmt = pct + 1;
		bool left = false, zero = false;
		int width = 0, prec = -1, lng = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		if (*fmt == '.') {
			prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + *fmt - '0';
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		char conv = *fmt ? *fmt++ : '\0';
		if (conv == 's') {
			const char *str = va_arg(ap, const char *);
			size_t n = prec >= 0 ? strnlen(str, (size_t)prec) : strlen(str);
			if (!left)
				put_fill(o, ' ', width - (int)n);
			put_mem(o, str, n);
			if (left)
				put_fill(o, ' ', width - (int)n);
			continue;
		}
		if (conv != 'd' && conv != 'u' && conv != 'x') {
			if (conv)
				put_mem(o, &conv, 1);
			continue;
		}
		unsigned long long v;
		bool neg = false;
		if (conv == 'd') {
			long long sv = lng >= 2	  ? va_arg(ap, long long)
				       : lng == 1 ? va_arg(ap, long)
						  : va_arg(ap, int);
			neg = sv < 0;
			v = neg ? 0ULL - (unsigned long long)sv : (unsigned long long)sv;
		} else {
			v = lng >= 2   ? va_arg(ap, unsigned long long)
			    : lng == 1 ? va_arg(ap, unsigned long)
				       : va_arg(ap, unsigned int);
		}
		char digits[24];
		int nd = 0;
		/* Constant divisors: the compiler turns them into multiplications. */
		if (conv == 'x')
			do {
				digits[sizeof(digits) - 1 - nd++] = "0123456789abcdef"[v & 15];
				v >>= 4;
			} while (v);
		else
			do {
				digits[sizeof(digits) - 1 - nd++] = (char)('0' + v % 10);
				v /= 10;
			} while (v);
		int len = nd + neg;
		if (!left && !zero)
			put_fill(o, ' ', width - len);
		if (neg)
			put_mem(o, "-", 1);
		if (!left && zero)
			put_fill(o, '0', width - len);
		put_mem(o, digits + sizeof(digits) - nd, (size_t)nd);
		if (left)
			put_fill(o, ' ', width - len);
	}
	va_end(ap);
}

struct flag_name {
	unsigned long mask;
	const char *name;
};

/* __print_flags: names in table order, each taking its bits; leftovers in hex. */
static void put_flags(struct out *o, unsigned long flags, const struct flag_name *t, size_t nt,
		      const char *none)
{
	if (!flags) {
		put(o, "%s", none);
		return;
	}
	bool first = true;
	for (size_t i = 0; i < nt && flags; i++) {
		if ((flags & t[i].mask) != t[i].mask)
			continue;
		flags &= ~t[i].mask;
		put(o, "%s%s", first ? "" : "|", t[i].name);
		first = false;
	}
	if (flags)
		put(o, "%s0x%lx", first ? "" : "|", flags);
}

static const struct flag_name reclaim_flag_names[] = {
    {RECLAIM_WB_ANON, "RECLAIM_WB_ANON"},   {RECLAIM_WB_FILE, "RECLAIM_WB_FILE"},
    {RECLAIM_WB_MIXED, "RECLAIM_WB_MIXED"}, {RECLAIM_WB_SYNC, "RECLAIM_WB_SYNC"},
    {RECLAIM_WB_ASYNC, "RECLAIM_WB_ASYNC"},
};

static const struct flag_name throttle_names[] = {
    {1UL << KMM_VMSCAN_THROTTLE_WRITEBACK, "VMSCAN_THROTTLE_WRITEBACK"},
    {1UL << KMM_VMSCAN_THROTTLE_ISOLATED, "VMSCAN_THROTTLE_ISOLATED"},
    {1UL << KMM_VMSCAN_THROTTLE_NOPROGRESS, "VMSCAN_THROTTLE_NOPROGRESS"},
    {1UL << KMM_VMSCAN_THROTTLE_CONGESTED, "VMSCAN_THROTTLE_CONGESTED"},
};

/* The LRU lists by index (Linux enum lru_list, __print_symbolic of lru_isolate). */
static const char *const lru_names[] = {"inactive_anon", "active_anon", "inactive_file",
					"active_file", "unevictable"};

/* show_gfp_flags(): Linux's table of masks, composite ones first (see kmm/gfp.h). */
static void put_gfp(struct out *o, uint64_t gfp)
{
	if (!gfp) {
		put_mem(o, "none", 4);
		return;
	}
	bool first = true;
	for (size_t i = 0; i < kmm_nr_gfp_names && gfp; i++) {
		uint64_t mask = kmm_gfp_names[i].mask;
		if ((gfp & mask) != mask)
			continue;
		gfp &= ~mask;
		put(o, "%s%s", first ? "" : "|", kmm_gfp_names[i].name);
		first = false;
	}
	if (gfp)
		put(o, "%s0x%" PRIx64, first ? "" : "|", gfp);
}

/* A keyed 64-bit mix (splitmix64's finaliser); Linux uses siphash with a boot key. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* %p: 2 * sizeof(void *) hex digits, no 0x; NULL as zeros. */
static void put_ptr(const struct kmm_ftrace *ft, struct out *o, uint64_t addr)
{
	int width = ft->is_i386 ? 8 : 16;
	if (ft->is_i386)
		addr = (uint32_t)addr;
	if (ft->o.pointer && addr) {
		char text[64];
		text[0] = '\0';
		ft->o.pointer(ft->o.hook_arg, addr, text, sizeof(text));
		put(o, "%s", text);
	} else if (ft->o.hash_pointers && addr) {
		put(o, "%0*" PRIx64, width, mix64(addr ^ ft->hash_key) & 0xffffffffu);
	} else {
		put(o, "%0*" PRIx64, width, addr);
	}
}

/* Where Linux's struct page of @pfn lives (pfn_to_page). */
static uint64_t page_addr(const struct kmm_ftrace *ft, uint64_t pfn)
{
	return ft->page_base + pfn * ft->page_size;
}

static void put_page_ptr(const struct kmm_ftrace *ft, struct out *o, uint64_t pfn)
{
	put_ptr(ft, o, pfn == KMM_TRACE_NO_PFN ? 0 : page_addr(ft, pfn));
}

/* A host pointer into simulated RAM as its direct-map address; others as they are. */
static uint64_t obj_addr(const struct kmm_ftrace *ft, uint64_t host)
{
	uint64_t ram = (uint64_t)(uintptr_t)ft->m->ram;
	if (host >= ram && host - ram < ft->m->ram_size)
		return ft->direct_map + (host - ram);
	return host;
}

/* %pS: "symbol+0xoff/0xsize", or the address in hex. */
static void put_symbol(const struct kmm_ftrace *ft, struct out *o, uint64_t addr)
{
	char text[256];
	if (ft->o.symbol && ft->o.symbol(ft->o.hook_arg, addr, text, sizeof(text))) {
		put(o, "%s", text);
		return;
	}
	Dl_info info;
	const ElfW(Sym) *sym = NULL;
	if (addr && dladdr1((void *)(uintptr_t)addr, &info, (void **)&sym, RTLD_DL_SYMENT) &&
	    info.dli_sname && sym && info.dli_saddr) {
		uint64_t start = (uint64_t)(uintptr_t)info.dli_saddr;
		if (addr >= start && addr - start < (uint64_t)sym->st_size) {
			put(o, "%s+0x%" PRIx64 "/0x%" PRIx64, info.dli_sname, addr - start,
			    (uint64_t)sym->st_size);
			return;
		}
	}
	put(o, "0x%" PRIx64, addr);
}

#define I(k)  ((int)(int64_t)a[k])
#define L(k)  ((long)(int64_t)a[k])
#define UL(k) ((unsigned long)a[k])

/* The event's fields, as its TP_printk() prints them. */
static void put_fields(const struct kmm_ftrace *ft, struct out *o, enum kmm_trace_event ev,
		       const uint64_t *a)
{
	switch (ev) {
	case KMM_TRACE_MM_PAGE_ALLOC:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx order=%d migratetype=%d gfp_flags=",
		    a[0] == KMM_TRACE_NO_PFN ? 0 : UL(0), I(1), I(3));
		put_gfp(o, a[2]);
		break;
	case KMM_TRACE_MM_PAGE_FREE:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx order=%d", UL(0), I(1));
		break;
	case KMM_TRACE_MM_PAGE_FREE_BATCHED:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx order=0", UL(0));
		break;
	case KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx order=%u migratetype=%d percpu_refill=%d",
		    a[0] == KMM_TRACE_NO_PFN ? 0 : UL(0), (unsigned int)a[1], I(2), I(3));
		break;
	case KMM_TRACE_MM_PAGE_PCPU_DRAIN:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx order=%d migratetype=%d", UL(0), I(1), I(2));
		break;
	case KMM_TRACE_MM_PAGE_ALLOC_EXTFRAG:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o,
		    " pfn=0x%lx alloc_order=%d fallback_order=%d pageblock_order=%d "
		    "alloc_migratetype=%d fallback_migratetype=%d fragmenting=%d "
		    "change_ownership=%d",
		    UL(0), I(1), I(2), pageblock_order, I(3), I(4), I(2) < pageblock_order, I(5));
		break;
	case KMM_TRACE_KMEM_CACHE_ALLOC:
	case KMM_TRACE_KMALLOC:
		put(o, "call_site=");
		put_symbol(ft, o, a[0]);
		put(o, " ptr=");
		put_ptr(ft, o, obj_addr(ft, a[1]));
		put(o, " bytes_req=%zu bytes_alloc=%zu gfp_flags=", (size_t)a[2], (size_t)a[3]);
		put_gfp(o, a[4]);
		/* kmalloc is accounted when asked to be; a cache also when it always is. */
		put(o, " node=%d accounted=%s", I(5),
		    (ev == KMM_TRACE_KMALLOC ? (a[4] & __GFP_ACCOUNT) : a[6]) ? "true" : "false");
		break;
	case KMM_TRACE_KFREE:
	case KMM_TRACE_KMEM_CACHE_FREE:
		put(o, "call_site=");
		put_symbol(ft, o, a[0]);
		put(o, " ptr=");
		put_ptr(ft, o, obj_addr(ft, a[1]));
		if (ev == KMM_TRACE_KMEM_CACHE_FREE)
			put(o, " name=%s", a[2] ? (const char *)(uintptr_t)a[2] : "(null)");
		break;
	case KMM_TRACE_MM_VMSCAN_KSWAPD_SLEEP:
		put(o, "nid=%d", I(0));
		break;
	case KMM_TRACE_MM_VMSCAN_KSWAPD_WAKE:
		put(o, "nid=%d order=%d", I(0), I(2));
		break;
	case KMM_TRACE_MM_VMSCAN_WAKEUP_KSWAPD:
		put(o, "nid=%d order=%d gfp_flags=", I(0), I(2));
		put_gfp(o, a[3]);
		break;
	case KMM_TRACE_MM_VMSCAN_DIRECT_RECLAIM_BEGIN:
		put(o, "order=%d gfp_flags=", I(0));
		put_gfp(o, a[1]);
		break;
	case KMM_TRACE_MM_VMSCAN_DIRECT_RECLAIM_END:
	case KMM_TRACE_MM_VMSCAN_NODE_RECLAIM_END:
		put(o, "nr_reclaimed=%lu", UL(0));
		break;
	case KMM_TRACE_MM_VMSCAN_NODE_RECLAIM_BEGIN:
		put(o, "nid=%d order=%d gfp_flags=", I(0), I(1));
		put_gfp(o, a[2]);
		break;
	case KMM_TRACE_MM_SHRINK_SLAB_START:
		put_symbol(ft, o, a[1]);
		put(o, " ");
		put_ptr(ft, o, a[0]);
		put(o, ": nid: %d objects to shrink %ld gfp_flags ", I(2), L(3));
		put_gfp(o, a[4]);
		put(o, " cache items %ld delta %lld total_scan %ld priority %d", L(5),
		    (long long)a[6], L(7), I(8));
		break;
	case KMM_TRACE_MM_SHRINK_SLAB_END:
		put_symbol(ft, o, a[2]);
		put(o, " ");
		put_ptr(ft, o, a[0]);
		put(o,
		    ": nid: %d unused scan count %ld new scan count %ld total_scan %ld last "
		    "shrinker return val %d",
		    I(1), L(3), L(4), L(6), I(5));
		break;
	case KMM_TRACE_MM_VMSCAN_LRU_ISOLATE:
		put(o,
		    "isolate_mode=%d classzone=%d order=%d nr_requested=%lu nr_scanned=%lu "
		    "nr_skipped=%lu nr_taken=%lu lru=",
		    (int)(unsigned int)a[6], I(0), I(1), UL(2), UL(3), UL(4), UL(5));
		if (a[7] < KMM_ARRAY_SIZE(lru_names))
			put(o, "%s", lru_names[a[7]]);
		else
			put(o, "0x%lx", UL(7));
		break;
	case KMM_TRACE_MM_VMSCAN_WRITE_FOLIO:
		put(o, "page=");
		put_page_ptr(ft, o, a[0]);
		put(o, " pfn=0x%lx flags=", UL(0));
		put_flags(o, (unsigned long)L(1), reclaim_flag_names,
			  KMM_ARRAY_SIZE(reclaim_flag_names), "RECLAIM_WB_NONE");
		break;
	case KMM_TRACE_MM_VMSCAN_LRU_SHRINK_INACTIVE:
		put(o,
		    "nid=%d nr_scanned=%ld nr_reclaimed=%ld nr_dirty=%ld nr_writeback=%ld "
		    "nr_congested=%ld nr_immediate=%ld nr_activate_anon=%d nr_activate_file=%d "
		    "nr_ref_keep=%ld nr_unmap_fail=%ld priority=%d flags=",
		    I(0), L(1), L(2), L(3), L(4), L(5), L(6), (int)(unsigned int)a[7],
		    (int)(unsigned int)a[8], L(9), L(10), I(11));
		put_flags(o, (unsigned long)L(12), reclaim_flag_names,
			  KMM_ARRAY_SIZE(reclaim_flag_names), "RECLAIM_WB_NONE");
		break;
	case KMM_TRACE_MM_VMSCAN_LRU_SHRINK_ACTIVE:
		put(o,
		    "nid=%d nr_taken=%ld nr_active=%ld nr_deactivated=%ld nr_referenced=%ld "
		    "priority=%d flags=",
		    I(0), L(1), L(2), L(3), L(4), I(5));
		put_flags(o, (unsigned long)L(6), reclaim_flag_names,
			  KMM_ARRAY_SIZE(reclaim_flag_names), "RECLAIM_WB_NONE");
		break;
	case KMM_TRACE_MM_VMSCAN_THROTTLED:
		/* "usect_delayed" is Linux's spelling. */
		put(o, "nid=%d usec_timeout=%d usect_delayed=%d reason=", I(0), I(1), I(2));
		put_flags(o, (unsigned long)L(3), throttle_names, KMM_ARRAY_SIZE(throttle_names),
			  "VMSCAN_THROTTLE_NONE");
		break;
	case KMM_NR_TRACE_EVENTS:
		break;
	}
}

#undef I
#undef L
#undef UL

void kmm_ftrace_default_flags(enum kmm_trace_event ev, const uint64_t *args, char flags[6])
{
	const char *f = ".....";
	switch (ev) {
	case KMM_TRACE_MM_PAGE_ALLOC_ZONE_LOCKED:
		/* rmqueue_bulk() under the pcp lock, or rmqueue_buddy() for one block. */
		f = args[3] ? "d..3." : "d..1.";
		break;
	case KMM_TRACE_MM_PAGE_ALLOC_EXTFRAG: {
		unsigned int order = (unsigned int)args[1];
		f = order <= 3 || order == pageblock_order ? "d..3." : "d..1.";
		break;
	}
	case KMM_TRACE_MM_PAGE_PCPU_DRAIN:
		/* free_pcppages_bulk() trimming a list on a free. */
		f = "d..3.";
		break;
	case KMM_TRACE_MM_PAGE_FREE_BATCHED:
		/* free_unref_page_list() with the pcp lock held, irqs off. */
		f = "d..2.";
		break;
	case KMM_TRACE_MM_VMSCAN_LRU_ISOLATE:
		/* isolate_lru_folios() under spin_lock_irq(&lruvec->lru_lock). */
		f = "d..1.";
		break;
	default:
		break;
	}
	memcpy(flags, f, 6);
}

int kmm_ftrace_format(const struct kmm_ftrace *ft, const struct kmm_ftrace_ctx *ctx,
		      enum kmm_trace_event ev, const uint64_t *args, int nargs, char *buf,
		      size_t len)
{
	if ((unsigned int)ev >= KMM_NR_TRACE_EVENTS || nargs != kmm_trace_event_nargs[ev])
		return -EINVAL;
	struct out o = {buf, len, 0};
	/* ns2usecs() rounds to the nearest microsecond. */
	uint64_t usecs = (ctx->ts_ns + 500) / 1000;
	put(&o, "%16.15s-%-7d [%03d] %.5s %5" PRIu64 ".%06" PRIu64 ": %s: ", ctx->comm, ctx->pid,
	    ctx->cpu, ctx->flags, usecs / 1000000, usecs % 1000000, kmm_trace_event_names[ev]);
	put_fields(ft, &o, ev, args);
	put(&o, "\n");
	if (len)
		buf[kmm_min(o.n, len - 1)] = '\0';
	return (int)kmm_min(o.n, (size_t)INT32_MAX);
}

/* --- The hook ---------------------------------------------------------------------- */

static void ftrace_hook(struct kmm_machine *m, enum kmm_trace_event ev, const uint64_t *args,
			int nargs)
{
	struct kmm_ftrace *ft = m->trace_arg;
	struct kmm_ftrace_ctx ctx;
	char line[1024];

	pthread_mutex_lock(&ft->lock);
	memcpy(ctx.comm, ft->comm, sizeof(ctx.comm));
	ctx.pid = ft->o.pid;
	struct kmm_cpu *cpu = kmm_this_cpu(m);
	ctx.cpu = cpu ? cpu->id : 0;
	uint64_t now = kmm_port_now_ns();
	ctx.ts_ns = now > m->boot_start_ns ? now - m->boot_start_ns : 0;
	kmm_ftrace_default_flags(ev, args, ctx.flags);
	if (ft->o.context)
		ft->o.context(ft->o.hook_arg, m, ev, args, &ctx);
	int n = kmm_ftrace_format(ft, &ctx, ev, args, nargs, line, sizeof(line));
	KMM_BUG_ON_MSG(n < 0, "trace point %s fired with %d arguments, expected %d",
		       kmm_trace_event_names[ev], nargs, kmm_trace_event_nargs[ev]);
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	FILE *f = ft->body ? ft->body : ft->out;
	if (fwrite(line, 1, (size_t)n, f) != (size_t)n && !ft->write_error)
		ft->write_error = errno ? errno : EIO;
	ft->count[ev]++;
	ft->total++;
	pthread_mutex_unlock(&ft->lock);
}

/* --- Open and close ---------------------------------------------------------------- */

struct kmm_ftrace *kmm_ftrace_open(struct kmm_machine *m, const struct kmm_ftrace_opts *o,
				   struct kmm_error *err)
{
	uint64_t mask;
	if (kmm_ftrace_parse_events(o->events, &mask, err))
		return NULL;
	if (!o->out == !o->path) {
		kmm_error_set(err, -EINVAL, "ftrace: give either an output stream or a path");
		return NULL;
	}
	if (m->trace_hook) {
		kmm_error_set(err, -EBUSY, "ftrace: the machine already has a trace hook");
		return NULL;
	}
	struct kmm_ftrace *ft = calloc(1, sizeof(*ft));
	if (!ft) {
		kmm_error_set(err, -ENOMEM, "ftrace: out of host memory");
		return NULL;
	}
	ft->m = m;
	ft->o = *o;
	ft->mask = mask;
	snprintf(ft->comm, sizeof(ft->comm), "%s", o->comm ? o->comm : "kmm");
	if (!o->comm && !o->pid)
		ft->o.pid = 1;
	ft->out = o->out;
	if (o->path) {
		ft->out = fopen(o->path, "w");
		if (!ft->out) {
			kmm_error_set(err, -errno, "cannot create the trace file %s: %s", o->path,
				      strerror(errno));
			free(ft);
			return NULL;
		}
		ft->own_out = true;
	}
	if (o->style == KMM_FTRACE_TRACE) {
		ft->body = tmpfile();
		if (!ft->body) {
			kmm_error_set(err, -errno, "ftrace: no temporary file for the events: %s",
				      strerror(errno));
			if (ft->own_out)
				fclose(ft->out);
			free(ft);
			return NULL;
		}
	}
	ft->is_i386 = m->cfg.desc.arch == KMM_ARCH_I386;
	if (ft->is_i386) {
		/* mem_map sits at the top of lowmem, where memblock puts it top-down. */
		uint64_t memmap = (uint64_t)m->max_pfn * I386_STRUCT_PAGE;
		uint64_t top = I386_PAGE_OFFSET + ((uint64_t)m->max_low_pfn << PAGE_SHIFT);
		ft->page_base = KMM_ALIGN_DOWN(top - memmap, (uint64_t)PAGE_SIZE);
		ft->page_size = I386_STRUCT_PAGE;
		ft->direct_map = I386_PAGE_OFFSET;
	} else {
		ft->page_base = X86_64_VMEMMAP_BASE;
		ft->page_size = X86_64_STRUCT_PAGE;
		ft->direct_map = X86_64_PAGE_OFFSET;
	}
	ft->hash_key = mix64(m->cfg.seed ^ 0x6b6d6d2d70747273ULL);
	pthread_mutex_init(&ft->lock, NULL);
	m->trace_arg = ft;
	m->trace_hook = ftrace_hook;
	/* The hook is in place before any trace point can see its bit. */
	__atomic_store_n(&m->trace_mask, (unsigned long)mask, __ATOMIC_RELEASE);
	return ft;
}

/* The header of tracefs's trace file (print_event_info, print_func_help_header_irq). */
static void write_header(struct kmm_ftrace *ft)
{
	fprintf(ft->out,
		"# tracer: nop\n"
		"#\n"
		"# entries-in-buffer/entries-written: %lu/%lu   #P:%d\n"
		"#\n"
		"#                                _-----=> irqs-off/BH-disabled\n"
		"#                               / _----=> need-resched\n"
		"#                              | / _---=> hardirq/softirq\n"
		"#                              || / _--=> preempt-depth\n"
		"#                              ||| / _-=> migrate-disable\n"
		"#                              |||| /     delay\n"
		"#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
		"#              | |         |   |||||     |         |\n",
		ft->total, ft->total, ft->m->nr_cpus);
}

int kmm_ftrace_close(struct kmm_ftrace *ft, struct kmm_error *err)
{
	struct kmm_machine *m = ft->m;
	WRITE_ONCE(m->trace_mask, 0UL);
	pthread_mutex_lock(&ft->lock);
	m->trace_hook = NULL;
	m->trace_arg = NULL;
	pthread_mutex_unlock(&ft->lock);

	int error = ft->write_error;
	if (ft->body) {
		write_header(ft);
		rewind(ft->body);
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), ft->body)) > 0)
			if (fwrite(chunk, 1, n, ft->out) != n && !error)
				error = errno ? errno : EIO;
		if (ferror(ft->body) && !error)
			error = EIO;
		fclose(ft->body);
	}
	if (fflush(ft->out) && !error)
		error = errno ? errno : EIO;
	if (ft->own_out && fclose(ft->out) && !error)
		error = errno ? errno : EIO;
	if (error)
		kmm_error_set(err, -error, "writing the trace%s%s failed: %s",
			      ft->o.path ? " file " : "", ft->o.path ? ft->o.path : "",
			      strerror(error));
	pthread_mutex_destroy(&ft->lock);
	free(ft);
	return error ? -error : 0;
}

unsigned long kmm_ftrace_count(const struct kmm_ftrace *ft, enum kmm_trace_event ev)
{
	return (unsigned int)ev < KMM_NR_TRACE_EVENTS ? ft->count[ev] : 0;
}
