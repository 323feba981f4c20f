/*
 * Slab debugging: red zones, poisoning, owner tracking, consistency checks,
 * and the reports they make.
 *
 * Linux: mm/slub.c of 6.1, the CONFIG_SLUB_DEBUG half (init_object,
 * check_object, check_bytes_and_report, check_pad_bytes, slab_pad_check,
 * on_freelist, alloc_debug_processing, free_debug_processing,
 * print_trailer, set_track, list_slab_objects) and slub_debug=FZPU.
 * Differences, each so that what is asked for is also checked:
 *  - P alone checks the poison of an object when it is allocated again
 *    (Linux checks it only under F); Z alone checks the red zones when an
 *    object is freed, and a free of an object whose red zones say "free"
 *    is reported as a double free.
 *  - A newly allocated object of a poisoned cache is filled with
 *    POISON_INUSE (0x5a), so that reading memory nobody wrote is visible.
 *  - Every free into a debug cache checks that the pointer is the start of
 *    an object of the slab (Linux: under F only).
 * A report names the cache, the object, what is damaged and where (offset),
 * prints the owner tracks and the bytes, repairs what it can and keeps the
 * object (or, on allocation, the whole slab) out of use.
 *
 * Runs under n->list_lock and the slab lock of the object's slab (the debug
 * paths in slub.c take both), so reports are whole.
 */
#include "internal.h"
#include <errno.h>
#include <stdarg.h>

/* --- Reports ------------------------------------------------------------------------ */

void slab_print_addr(struct kmm_machine *m, char *buf, size_t len, uintptr_t addr)
{
	(void)m;
	char sym[96];
	if (kmm_port_symbolize(addr, sym, sizeof(sym)))
		kmm_port_snprintf(buf, len, "%s (%#lx)", sym, (unsigned long)addr);
	else
		kmm_port_snprintf(buf, len, "%#lx", (unsigned long)addr);
}

static void report_done(struct kmm_kmem_cache *s, struct kmm_machine *m, const char *summary,
			const void *object)
{
	(void)s;
	atomic_long_inc(&m->slab->nr_reports);
	kmm_slab_report_hook_t hook = READ_ONCE(m->slab->report_hook);
	if (hook)
		hook(m, summary, object);
}

static void slab_bug(struct kmm_machine *m, const char *cache, const char *fmt, va_list ap)
{
	char msg[256];
	kmm_port_vsnprintf(msg, sizeof(msg), fmt, ap);
	pr_warn(m, "=============================================================================");
	pr_warn(m, "BUG %s (kmm): %s", cache, msg);
	pr_warn(m, "-----------------------------------------------------------------------------");
}

static __kmm_printf(2, 3) void slab_fix(struct kmm_kmem_cache *s, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	kmm_port_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn(s->machine, "FIX %s: %s", s->name, msg);
}

/* Hex dump, 16 bytes a line, at most 256 bytes (Linux print_section). */
static void print_section(struct kmm_machine *m, const char *text, const uint8_t *addr,
			  unsigned int length)
{
	unsigned int shown = kmm_min(length, 256u);
	for (unsigned int off = 0; off < shown; off += 16) {
		char hex[16 * 3 + 1], ascii[17];
		unsigned int n = kmm_min(16u, shown - off), i;
		for (i = 0; i < n; i++) {
			uint8_t b = addr[off + i];
			kmm_port_snprintf(hex + 3 * i, 4, "%02x ", b);
			ascii[i] = b >= 0x20 && b < 0x7f ? (char)b : '.';
		}
		hex[n ? 3 * n - 1 : 0] = 0;
		ascii[n] = 0;
		pr_warn(m, "%s%016lx: %-47s  %s", text, (unsigned long)(uintptr_t)(addr + off), hex,
			ascii);
	}
	if (shown < length)
		pr_warn(m, "%s(%u more bytes)", text, length - shown);
}

static void print_track(struct kmm_kmem_cache *s, const char *what, const struct track *t)
{
	struct kmm_machine *m = s->machine;
	if (!t->addr)
		return;
	char where[128];
	slab_print_addr(m, where, sizeof(where), t->addr);
	unsigned long now = READ_ONCE(s->alloc_seq);
	pr_warn(m, "%s in %s age=%lu cpu=%d pid=%d", what, where, now - t->when, t->cpu, t->pid);
}

void print_tracking(struct kmm_kmem_cache *s, void *object)
{
	if (!(s->flags & SLAB_STORE_USER))
		return;
	print_track(s, "Allocated", get_track(s, object, TRACK_ALLOC));
	print_track(s, "Freed", get_track(s, object, TRACK_FREE));
}

/* The bytes from an object's start (past its left red zone) to the next object. */
static unsigned int size_from_object(const struct kmm_kmem_cache *s)
{
	return (s->flags & SLAB_RED_ZONE) ? s->size - s->red_left_pad : s->size;
}

static unsigned int info_end(const struct kmm_kmem_cache *s)
{
	unsigned int off =
	    freeptr_outside_object(s) ? s->inuse + (unsigned int)sizeof(void *) : s->inuse;
	if (s->flags & SLAB_STORE_USER)
		off += 2 * (unsigned int)sizeof(struct track);
	return off;
}

static void print_trailer(struct kmm_kmem_cache *s, struct kmm_page *slab, uint8_t *p)
{
	struct kmm_machine *m = s->machine;
	uint8_t *addr = slab_address(m, slab);
	print_tracking(s, p);
	pr_warn(m, "Slab pfn=%#lx objects=%u used=%u fp=%#lx flags=%#lx", page_to_pfn(m, slab),
		slab->objects, slab->inuse, (unsigned long)(uintptr_t)slab->freelist,
		slab->flags & ((1UL << KMM_PAGEFLAGS_BITS) - 1));
	pr_warn(m, "Object %#lx @offset=%lu fp=%#lx", (unsigned long)(uintptr_t)p,
		(unsigned long)(p - addr), (unsigned long)(uintptr_t)get_freepointer(s, p));
	if (s->flags & SLAB_RED_ZONE)
		print_section(m, "Redzone  ", p - s->red_left_pad, s->red_left_pad);
	else if (p > addr + 16)
		print_section(m, "Bytes b4 ", p - 16, 16);
	print_section(m, "Object   ", p, s->object_size);
	if (s->flags & SLAB_RED_ZONE)
		print_section(m, "Redzone  ", p + s->object_size, s->inuse - s->object_size);
	unsigned int off = info_end(s);
	if (off != size_from_object(s))
		print_section(m, "Padding  ", p + off, size_from_object(s) - off);
}

void slab_err(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	slab_bug(s->machine, s->name, fmt, ap);
	va_end(ap);
	if (object)
		print_trailer(s, slab, object);
	else if (slab)
		pr_warn(s->machine, "Slab pfn=%#lx objects=%u used=%u fp=%#lx",
			page_to_pfn(s->machine, slab), slab->objects, slab->inuse,
			(unsigned long)(uintptr_t)slab->freelist);
}

/* --- Object layout ------------------------------------------------------------------ */

/* Fill the red zones with @val, and poison a free object (Linux init_object). */
static void init_object(struct kmm_kmem_cache *s, uint8_t *p, uint8_t val)
{
	if (s->flags & SLAB_RED_ZONE)
		memset(p - s->red_left_pad, val, s->red_left_pad);
	if ((s->flags & __OBJECT_POISON) && val == SLUB_RED_INACTIVE) {
		memset(p, POISON_FREE, s->object_size - 1);
		p[s->object_size - 1] = POISON_END;
	}
	if (s->flags & SLAB_RED_ZONE)
		memset(p + s->object_size, val, s->inuse - s->object_size);
}

void setup_slab_debug(struct kmm_kmem_cache *s, struct kmm_page *slab, void *addr)
{
	if (s->flags & SLAB_POISON)
		memset(addr, POISON_INUSE, PAGE_SIZE << slab_order(slab));
}

void setup_object_debug(struct kmm_kmem_cache *s, void *object)
{
	if (!(s->flags & (SLAB_STORE_USER | SLAB_RED_ZONE | __OBJECT_POISON)))
		return;
	init_object(s, object, SLUB_RED_INACTIVE);
	if (s->flags & SLAB_STORE_USER)
		memset(get_track(s, object, TRACK_ALLOC), 0, 2 * sizeof(struct track));
}

static void set_track(struct kmm_kmem_cache *s, void *object, enum track_item alloc, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	struct track *t = get_track(s, object, alloc);
	struct kmm_cpu *cpu = this_cpu(m);
	t->addr = addr;
	t->cpu = cpu ? cpu->id : -1;
	t->pid = m->hooks.current_pid ? m->hooks.current_pid(m) : 0;
	t->when = __atomic_add_fetch(&s->alloc_seq, 1, __ATOMIC_RELAXED);
}

/* --- Checks ------------------------------------------------------------------------- */

bool check_valid_pointer(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object)
{
	if (!object)
		return true;
	uint8_t *base = slab_address(s->machine, slab);
	uint8_t *p = (uint8_t *)object - s->red_left_pad;
	if (p < base || p >= base + (size_t)slab->objects * s->size)
		return false;
	return (size_t)(p - base) % s->size == 0;
}

/* Report and repair bytes of @object in [start, start+bytes) that are not @value. */
static bool check_bytes_and_report(struct kmm_kmem_cache *s, struct kmm_page *slab, uint8_t *object,
				   const char *what, uint8_t *start, uint8_t value,
				   unsigned int bytes)
{
	uint8_t *fault = NULL, *end = start + bytes;
	for (uint8_t *p = start; p < end; p++)
		if (*p != value) {
			fault = p;
			break;
		}
	if (!fault)
		return true;
	while (end > fault && end[-1] == value)
		end--;
	struct kmm_machine *m = s->machine;
	uint8_t *addr = slab_address(m, slab);
	char summary[160];
	kmm_port_snprintf(summary, sizeof(summary), "%s overwritten", what);
	slab_err(s, NULL, NULL, "%s", summary);

	pr_warn(m, "%#lx-%#lx @offset=%lu. First byte %#x instead of %#x",
		(unsigned long)(uintptr_t)fault, (unsigned long)(uintptr_t)(end - 1),
		(unsigned long)(fault - addr), *fault, value);
	print_trailer(s, slab, object);
	slab_fix(s, "Restoring %s %#lx-%#lx=%#x", what, (unsigned long)(uintptr_t)fault,
		 (unsigned long)(uintptr_t)(end - 1), value);
	memset(fault, value, (size_t)(end - fault));
	report_done(s, m, summary, object);
	return false;
}

/* The padding after an object's metadata keeps POISON_INUSE (Linux check_pad_bytes). */
static bool check_pad_bytes(struct kmm_kmem_cache *s, struct kmm_page *slab, uint8_t *p)
{
	unsigned int off = info_end(s);
	if (off == size_from_object(s))
		return true;
	return check_bytes_and_report(s, slab, p, "Object padding", p + off, POISON_INUSE,
				      size_from_object(s) - off);
}

/* The end of a slab that no object uses keeps POISON_INUSE (Linux slab_pad_check). */
bool check_slab_padding(struct kmm_kmem_cache *s, struct kmm_page *slab)
{
	if (!(s->flags & SLAB_POISON))
		return true;
	uint8_t *start = slab_address(s->machine, slab);
	size_t length = PAGE_SIZE << slab_order(slab);
	size_t remainder = length % s->size;
	if (!remainder)
		return true;
	uint8_t *pad = start + length - remainder, *end = start + length, *fault = NULL;
	for (uint8_t *p = pad; p < end; p++)
		if (*p != POISON_INUSE) {
			fault = p;
			break;
		}
	if (!fault)
		return true;
	while (end > fault && end[-1] == POISON_INUSE)
		end--;
	slab_err(s, slab, NULL, "Padding overwritten. %#lx-%#lx @offset=%lu",
		 (unsigned long)(uintptr_t)fault, (unsigned long)(uintptr_t)(end - 1),
		 (unsigned long)(fault - start));
	print_section(s->machine, "Padding  ", pad, (unsigned int)remainder);
	slab_fix(s, "Restoring padding %#lx-%#lx=%#x", (unsigned long)(uintptr_t)fault,
		 (unsigned long)(uintptr_t)(end - 1), POISON_INUSE);
	memset(fault, POISON_INUSE, (size_t)(end - fault));
	report_done(s, s->machine, "Padding overwritten", fault);
	return false;
}

/*
 * Check an object's red zones (against @val: active or inactive), poison
 * (free objects) and free pointer (Linux check_object).
 */
bool check_object(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object, uint8_t val)
{
	uint8_t *p = object, *endobject = p + s->object_size;
	if (s->flags & SLAB_RED_ZONE) {
		if (!check_bytes_and_report(s, slab, p, "Left Redzone", p - s->red_left_pad, val,
					    s->red_left_pad))
			return false;
		if (!check_bytes_and_report(s, slab, p, "Right Redzone", endobject, val,
					    s->inuse - s->object_size))
			return false;
	} else if ((s->flags & SLAB_POISON) && s->object_size < s->inuse) {
		check_bytes_and_report(s, slab, p, "Alignment padding", endobject, POISON_INUSE,
				       s->inuse - s->object_size);
	}
	if (s->flags & SLAB_POISON) {
		if (val != SLUB_RED_ACTIVE && (s->flags & __OBJECT_POISON) &&
		    (!check_bytes_and_report(s, slab, p, "Poison", p, POISON_FREE,
					     s->object_size - 1) ||
		     !check_bytes_and_report(s, slab, p, "End Poison", endobject - 1, POISON_END,
					     1)))
			return false;
		check_pad_bytes(s, slab, p);
	}
	if (!freeptr_outside_object(s) && val == SLUB_RED_ACTIVE)
		return true; /* the free pointer is user data while the object is allocated */
	if (!check_valid_pointer(s, slab, get_freepointer(s, p))) {
		slab_err(s, slab, p, "Freepointer corrupt");
		/* The rest of this slab's free objects are lost; the counts are fixed later. */
		set_freepointer(s, p, NULL);
		report_done(s, s->machine, "Freepointer corrupt", p);
		return false;
	}
	return true;
}

static bool check_slab(struct kmm_kmem_cache *s, struct kmm_page *slab)
{
	if (!PageSlab(slab)) {
		slab_err(s, slab, NULL, "Not a valid slab page");
		report_done(s, s->machine, "Not a valid slab page", NULL);
		return false;
	}
	unsigned int maxobj = (unsigned int)((PAGE_SIZE << slab_order(slab)) / s->size);
	if (slab->objects > maxobj || slab->inuse > slab->objects) {
		slab_err(s, slab, NULL, "objects %u, inuse %u, at most %u fit", slab->objects,
			 slab->inuse, maxobj);
		report_done(s, s->machine, "Slab counters wrong", NULL);
		return false;
	}
	return true;
}

/*
 * Is @search on the slab's freelist? Also repairs a corrupt list by cutting
 * it at the bad pointer and fixing inuse (Linux on_freelist).
 */
bool on_freelist(struct kmm_kmem_cache *s, struct kmm_page *slab, void *search)
{
	void *fp = slab->freelist, *object = NULL;
	unsigned int nr = 0;
	while (fp && nr <= slab->objects) {
		if (fp == search)
			return true;
		if (!check_valid_pointer(s, slab, fp)) {
			if (object) {
				slab_err(s, slab, object, "Freechain corrupt");
				set_freepointer(s, object, NULL);
			} else {
				slab_err(s, slab, NULL, "Freepointer corrupt");
				slab->freelist = NULL;
				slab->inuse = slab->objects;
			}
			report_done(s, s->machine, "Freechain corrupt", object);
			break;
		}
		object = fp;
		fp = get_freepointer(s, object);
		nr++;
	}
	return search == NULL;
}

bool alloc_debug_processing(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object,
			    uintptr_t addr)
{
	if ((s->flags & SLAB_CONSISTENCY_CHECKS)) {
		if (!check_slab(s, slab))
			goto bad;
		if (!check_valid_pointer(s, slab, object)) {
			slab_err(s, slab, NULL, "Freelist Pointer check fails at %#lx",
				 (unsigned long)(uintptr_t)object);
			report_done(s, s->machine, "Freelist pointer check fails", object);
			goto bad;
		}
	}
	if ((s->flags & (SLAB_CONSISTENCY_CHECKS | SLAB_POISON | SLAB_RED_ZONE)) &&
	    !check_object(s, slab, object, SLUB_RED_INACTIVE))
		goto bad;
	if (s->flags & SLAB_STORE_USER)
		set_track(s, object, TRACK_ALLOC, addr);
	init_object(s, object, SLUB_RED_ACTIVE);
	if (s->flags & __OBJECT_POISON)
		memset(object, POISON_INUSE, s->object_size);
	return true;
bad:
	/* Every free object of this slab is suspect: keep them all out of use. */
	slab_fix(s, "Marking all objects used");
	atomic_long_add((long)(slab->objects - slab->inuse), &s->machine->slab->nr_quarantined);
	return false;
}

/* A free into a debug cache (Linux free_debug_processing, one object). */
bool free_debug_processing(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object,
			   uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	if (!check_valid_pointer(s, slab, object)) {
		slab_err(s, slab, NULL, "Invalid object pointer %#lx",
			 (unsigned long)(uintptr_t)object);
		report_done(s, m, "Invalid object pointer", object);
		return false; /* not an object: nothing to quarantine */
	}
	if (s->flags & SLAB_CONSISTENCY_CHECKS) {
		if (!check_slab(s, slab))
			goto out;
		if (on_freelist(s, slab, object)) {
			slab_err(s, slab, object, "Object already free");
			report_done(s, m, "Object already free", object);
			return false; /* already free: not quarantined twice */
		}
	} else if (s->flags & SLAB_RED_ZONE) {
		/* A red zone that says "free" all along: this object was freed before. */
		uint8_t *p = object;
		bool inactive = true;
		for (unsigned int i = 0; i < s->red_left_pad && inactive; i++)
			inactive = p[-(int)s->red_left_pad + (int)i] == SLUB_RED_INACTIVE;
		for (unsigned int i = s->object_size; i < s->inuse && inactive; i++)
			inactive = p[i] == SLUB_RED_INACTIVE;
		if (inactive) {
			slab_err(s, slab, object, "Object already free");
			report_done(s, m, "Object already free", object);
			return false;
		}
	}
	if ((s->flags & (SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE)) &&
	    !check_object(s, slab, object, SLUB_RED_ACTIVE))
		goto out;
	if (s->flags & SLAB_STORE_USER)
		set_track(s, object, TRACK_FREE, addr);
	init_object(s, object, SLUB_RED_INACTIVE);
	return true;
out:
	slab_fix(s, "Object at %#lx not freed", (unsigned long)(uintptr_t)object);
	atomic_long_inc(&m->slab->nr_quarantined);
	return false;
}

/* --- Reports without debugging -------------------------------------------------------- */

void slab_double_free(struct kmm_kmem_cache *s, struct kmm_page *slab, void *object, uintptr_t addr)
{
	struct kmm_machine *m = s->machine;
	char where[128] = "";
	if (addr)
		slab_print_addr(m, where, sizeof(where), addr);
	slab_err(s, slab, NULL, "double free of object %#lx%s%s", (unsigned long)(uintptr_t)object,
		 addr ? " from " : "", where);
	print_tracking(s, object);
	report_done(s, m, "double free", object);
}

void slab_free_bad(struct kmm_machine *m, struct kmm_kmem_cache *s, const void *x, uintptr_t addr)
{
	char where[128], why[160];
	slab_print_addr(m, where, sizeof(where), addr);
	if (!virt_addr_in_ram(m, x)) {
		kmm_port_snprintf(why, sizeof(why), "%#lx is not in the machine's memory",
				  (unsigned long)(uintptr_t)x);
	} else {
		struct kmm_page *page = virt_to_slab_page(m, x);
		if (!PageSlab(page))
			kmm_port_snprintf(why, sizeof(why),
					  "%#lx is not slab memory (pfn %#lx) nor a kmalloc block",
					  (unsigned long)(uintptr_t)x, page_to_pfn(m, page));
		else
			kmm_port_snprintf(why, sizeof(why), "%#lx is an object of %s, not of %s",
					  (unsigned long)(uintptr_t)x, page->slab_cache->name,
					  s ? s->name : "kmalloc");
	}
	pr_warn(m, "=============================================================================");
	pr_warn(m, "BUG %s (kmm): invalid free: %s", s ? s->name : "kfree", why);
	pr_warn(m, "-----------------------------------------------------------------------------");
	pr_warn(m, "Freed from %s; the pointer is left alone", where);
	atomic_long_inc(&m->slab->nr_reports);
	kmm_slab_report_hook_t hook = READ_ONCE(m->slab->report_hook);
	if (hook)
		hook(m, why, x);
}

/* Objects still allocated in a slab of a cache being destroyed (Linux list_slab_objects). */
void list_slab_objects(struct kmm_kmem_cache *s, struct kmm_page *slab)
{
	struct kmm_machine *m = s->machine;
	uint8_t *addr = slab_address(m, slab);
	unsigned int nr = slab->objects;
	uint8_t freemap[(MAX_OBJS_PER_PAGE + 7) / 8];
	memset(freemap, 0, (nr + 7) / 8);
	for (void *p = slab->freelist; p && check_valid_pointer(s, slab, p);
	     p = get_freepointer(s, p)) {
		unsigned int idx = obj_to_index(s, addr, p);
		if (freemap[idx / 8] & (1u << (idx % 8)))
			break;
		freemap[idx / 8] |= (uint8_t)(1u << (idx % 8));
	}
	slab_err(s, slab, NULL, "Objects remaining in %s on kmem_cache_destroy()", s->name);
	for (unsigned int i = 0; i < nr; i++) {
		if (freemap[i / 8] & (1u << (i % 8)))
			continue;
		uint8_t *p = fixup_red_left(s, addr + (size_t)i * s->size);
		pr_warn(m, "Object %#lx @offset=%lu", (unsigned long)(uintptr_t)p,
			(unsigned long)(p - addr));
		print_tracking(s, p);
	}
}

/* --- Choosing what to debug ---------------------------------------------------------- */

slab_flags_t kmem_cache_flags(struct kmm_machine *m, unsigned int object_size, slab_flags_t flags,
			      const char *name)
{
	(void)object_size;
	struct kmm_slab_state *st = m->slab;
	if (st->debug_flags && (!st->debug_only[0] || !strcmp(st->debug_only, name)))
		flags |= st->debug_flags;
	return flags;
}

void kmm_slab_set_report_hook(struct kmm_machine *m, kmm_slab_report_hook_t hook)
{
	WRITE_ONCE(m->slab->report_hook, hook);
}

unsigned long kmm_slab_nr_reports(struct kmm_machine *m)
{
	return (unsigned long)atomic_long_read(&m->slab->nr_reports);
}

unsigned long kmm_slab_nr_quarantined(struct kmm_machine *m)
{
	return (unsigned long)atomic_long_read(&m->slab->nr_quarantined);
}
