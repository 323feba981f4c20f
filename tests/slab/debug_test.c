/*
 * Slab debugging: every detection is triggered on purpose and its report
 * is read back from the machine's log: the cache, the object, what was
 * damaged, where (offset), the first wrong byte and what it should be, and
 * the owner tracks. Damaged objects are kept out of use. Also the checks
 * that work without debugging (a double free at the head of a freelist, a
 * free of something that is not an object), the validator on a corrupted
 * freelist, destroy with live objects, run-time switching of debug flags,
 * and the report hook.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <errno.h>
#include <kmm/slab.h>

#define OBJ 100 /* object size of the test cache: not a multiple of 8 */

static struct kmm_machine *m;

static struct kmm_kmem_cache *debug_cache(const char *name, const char *letters)
{
	struct kmm_error err = {0};
	char spec[64];
	snprintf(spec, sizeof(spec), "%s,%s", letters, name);
	if (kmm_slab_set_debug(m, spec, &err))
		fprintf(stderr, "%s\n", err.msg);
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, name, OBJ, 0, 0, NULL, &err);
	if (!s)
		fprintf(stderr, "%s\n", err.msg);
	return s;
}

static char hexaddr[32];
static const char *addr_of(const void *p)
{
	snprintf(hexaddr, sizeof(hexaddr), "%#lx", (unsigned long)(uintptr_t)p);
	return hexaddr;
}

static void test_red_zone_right(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-rz", "FZPU");
	expect_ptr_not_null(s);
	uint8_t *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	expect_ptr_not_null(p);
	unsigned long reports = kmm_slab_nr_reports(m), quarantined = kmm_slab_nr_quarantined(m);
	size_t mark = kmm_test_log_mark(m);
	p[OBJ] = 0x42; /* one byte past the end */
	kmm_kmem_cache_free(s, p);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "BUG dbg-rz (kmm): Right Redzone overwritten");
	expect_str_contains(log, addr_of(p + OBJ));
	expect_str_contains(log, "First byte 0x42 instead of 0xcc");
	expect_str_contains(log, "Allocated in ");
	expect_str_contains(log, "FIX dbg-rz: Restoring Right Redzone");
	expect_str_contains(log, "not freed");
	char off[64];
	snprintf(off, sizeof(off), "Object %s @offset=", addr_of(p));
	expect_str_contains(log, off);
	expect_u64_eq(kmm_slab_nr_reports(m), reports + 1);
	expect_u64_eq(kmm_slab_nr_quarantined(m), quarantined + 1);
	/* Quarantined: the object is never handed out again. */
	for (int i = 0; i < 200; i++) {
		void *q = kmm_kmem_cache_alloc(s, GFP_KERNEL);
		expect_ptr_ne(q, p);
	}
	struct kmm_error err = {0};
	expect_int_eq(kmm_slab_validate(s, &err), 0);
}

static void test_red_zone_left(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-lrz", "Z");
	expect_ptr_not_null(s);
	uint8_t *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	size_t mark = kmm_test_log_mark(m);
	p[-3] = 0x17; /* underflow */
	kmm_kmem_cache_free(s, p);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "BUG dbg-lrz (kmm): Left Redzone overwritten");
	expect_str_contains(log, "First byte 0x17 instead of 0xcc");
	expect_str_contains(log, addr_of(p - 3));
}

static void test_use_after_free(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-uaf", "FZPU");
	expect_ptr_not_null(s);
	uint8_t *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	/* A new object of a poisoned cache reads as "never written". */
	for (int i = 0; i < OBJ; i++)
		expect_int_eq(p[i], 0x5a);
	kmm_kmem_cache_free(s, p);
	for (int i = 0; i < OBJ - 1; i++)
		expect_int_eq(p[i], 0x6b);
	expect_int_eq(p[OBJ - 1], 0xa5);
	size_t mark = kmm_test_log_mark(m);
	p[10] = 0x01; /* write after free */
	/* The freed object heads its slab's freelist: the next allocation checks it. */
	uint8_t *q = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	expect_ptr_not_null(q);
	expect_ptr_ne(q, p);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "BUG dbg-uaf (kmm): Poison overwritten");
	expect_str_contains(log, "First byte 0x1 instead of 0x6b");
	expect_str_contains(log, addr_of(p + 10));
	expect_str_contains(log, "Freed in ");
	expect_str_contains(log, "FIX dbg-uaf: Marking all objects used");
	char off[48];
	snprintf(off, sizeof(off), "@offset=%lu",
		 (unsigned long)((uintptr_t)(p + 10) & (PAGE_SIZE - 1)));
	expect_str_contains(log, off);
}

static void test_double_free_debug(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-df", "F");
	expect_ptr_not_null(s);
	void *p = kmm_kmem_cache_alloc(s, GFP_KERNEL), *other = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kmem_cache_free(s, p);
	kmm_kmem_cache_free(s, other); /* p is no longer at the head */
	size_t mark = kmm_test_log_mark(m);
	unsigned long reports = kmm_slab_nr_reports(m);
	kmm_kmem_cache_free(s, p);
	expect_str_contains(kmm_test_log_since(m, mark), "BUG dbg-df (kmm): Object already free");
	expect_u64_eq(kmm_slab_nr_reports(m), reports + 1);
	struct kmm_error err = {0};
	expect_int_eq(kmm_slab_validate(s, &err), 0);
}

static void test_double_free_red_zone_only(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-dfz", "Z");
	void *p = kmm_kmem_cache_alloc(s, GFP_KERNEL), *other = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kmem_cache_free(s, p);
	kmm_kmem_cache_free(s, other);
	size_t mark = kmm_test_log_mark(m);
	kmm_kmem_cache_free(s, p);
	expect_str_contains(kmm_test_log_since(m, mark), "BUG dbg-dfz (kmm): Object already free");
}

static void test_invalid_frees(void)
{
	struct kmm_kmem_cache *a = debug_cache("dbg-a", "F");
	struct kmm_error err = {0};
	struct kmm_kmem_cache *b = kmm_kmem_cache_create(m, "plain-b", 64, 0, 0, NULL, &err);
	expect_ptr_not_null(b);
	uint8_t *p = kmm_kmem_cache_alloc(a, GFP_KERNEL);
	size_t mark = kmm_test_log_mark(m);

	kmm_kmem_cache_free(a, p + 4); /* not the start of an object */
	expect_str_contains(kmm_test_log_since(m, mark), "Invalid object pointer");
	expect_str_contains(kmm_test_log_since(m, mark), addr_of(p + 4));

	mark = kmm_test_log_mark(m);
	kmm_kmem_cache_free(b, p); /* wrong cache */
	expect_str_contains(kmm_test_log_since(m, mark), "is an object of dbg-a, not of plain-b");

	mark = kmm_test_log_mark(m);
	void *page = kmm_get_free_pages(m, GFP_KERNEL, 0);
	kmm_kmem_cache_free(b, page); /* a page, not a slab */
	expect_str_contains(kmm_test_log_since(m, mark), "is not slab memory");

	mark = kmm_test_log_mark(m);
	int on_stack;
	kmm_kfree(m, &on_stack); /* not simulated RAM at all */
	expect_str_contains(kmm_test_log_since(m, mark), "is not in the machine's memory");

	mark = kmm_test_log_mark(m);
	kmm_kfree(m, page); /* a page from the page allocator is not a kmalloc block */
	expect_str_contains(kmm_test_log_since(m, mark), "BUG kfree (kmm): invalid free");
	kmm_free_pages_addr(m, page, 0);

	/* The object itself is still fine and can be freed properly. */
	kmm_kmem_cache_free(a, p);
	expect_int_eq(kmm_slab_validate(a, &err), 0);
	expect_int_eq(kmm_slab_validate(b, &err), 0);
}

static void test_double_free_without_debug(void)
{
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, "nodebug", 48, 0, 0, NULL, &err);
	expect_ptr_not_null(s);
	/* With and without a CPU: the CPU freelist and the slab freelist. */
	for (int cpu = 0; cpu < 2; cpu++) {
		if (cpu == 0)
			kmm_cpu_enter(m, 1);
		void *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
		kmm_kmem_cache_free(s, p);
		size_t mark = kmm_test_log_mark(m);
		kmm_kmem_cache_free(s, p); /* the head of the freelist again */
		expect_str_contains(kmm_test_log_since(m, mark), "double free of object");
		expect_str_contains(kmm_test_log_since(m, mark), addr_of(p));
		if (cpu == 0)
			kmm_cpu_exit(m);
		expect_int_eq(kmm_slab_validate(s, &err), 0);
	}
	expect_i64_eq(kmm_kmem_cache_destroy(s), 0);
}

static void test_validator_finds_corrupt_freelist(void)
{
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, "corrupt", 64, 0, 0, NULL, &err);
	void *objs[8];
	for (int i = 0; i < 8; i++)
		objs[i] = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	for (int i = 0; i < 8; i++)
		kmm_kmem_cache_free(s, objs[i]);
	expect_int_eq(kmm_slab_validate(s, &err), 0);
	/* A use after free that hits the stored free pointer (mid-object for this cache). */
	uint64_t saved;
	memcpy(&saved, (char *)objs[3] + 32, 8);
	memset((char *)objs[3] + 32, 0x41, 8);
	expect_int_eq(kmm_slab_validate(s, &err), -EINVAL);
	expect_str_contains(err.msg, "slab cache corrupt:");
	expect_str_contains(err.msg, "not an object of the slab");
	memcpy((char *)objs[3] + 32, &saved, 8);
	expect_int_eq(kmm_slab_validate(s, &err), 0);
}

static void test_destroy_with_live_objects(void)
{
	struct kmm_kmem_cache *s = debug_cache("dbg-leak", "U");
	void *a = kmm_kmem_cache_alloc(s, GFP_KERNEL), *b = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	void *c = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kmem_cache_free(s, b);
	size_t mark = kmm_test_log_mark(m);
	expect_i64_eq(kmm_kmem_cache_destroy(s), 2);
	const char *log = kmm_test_log_since(m, mark);
	expect_str_contains(log, "kmem_cache_destroy dbg-leak: Slab cache still has objects");
	expect_str_contains(log, "Objects remaining in dbg-leak on kmem_cache_destroy()");
	char line[64];
	snprintf(line, sizeof(line), "Object %s @offset=", addr_of(a));
	expect_str_contains(log, line);
	snprintf(line, sizeof(line), "Object %s @offset=", addr_of(c));
	expect_str_contains(log, line);
	expect_true(strstr(log, "Allocated in ") != NULL);
	/* The cache is still there and usable; freed, it goes. */
	expect_ptr_eq(kmm_kmem_cache_find(m, "dbg-leak"), s);
	kmm_kmem_cache_free(s, a);
	kmm_kmem_cache_free(s, c);
	expect_i64_eq(kmm_kmem_cache_destroy(s), 0);
	expect_ptr_null(kmm_kmem_cache_find(m, "dbg-leak"));
	/* The allocator's own caches are never destroyed. */
	expect_i64_eq(kmm_kmem_cache_destroy(kmm_kmalloc_cache(m, 64, GFP_KERNEL)), -EINVAL);
}

static void test_set_debug_rules(void)
{
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, "busy", 200, 0, 0, NULL, &err);
	void *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	/* Layout flags on a cache with objects: refused, nothing changed. */
	expect_int_eq(kmm_slab_set_debug(m, "Z,busy", &err), -EBUSY);
	expect_str_contains(err.msg, "busy has objects");
	expect_int_eq(kmm_slab_set_debug(m, "FX", &err), -EINVAL);
	expect_str_contains(err.msg, "unknown letter 'X'");
	/* F switches on a busy cache: a double free is then caught by the checks. */
	expect_int_eq(kmm_slab_set_debug(m, "F,busy", &err), 0);
	void *q = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kmem_cache_free(s, p);
	kmm_kmem_cache_free(s, q);
	size_t mark = kmm_test_log_mark(m);
	kmm_kmem_cache_free(s, p);
	expect_str_contains(kmm_test_log_since(m, mark), "Object already free");
	expect_int_eq(kmm_slab_set_debug(m, "-", &err), 0);
	expect_int_eq(kmm_slab_validate(s, &err), 0);
	expect_i64_eq(kmm_kmem_cache_destroy(s), 0);
	/* An empty cache takes a new layout: red zones appear around the object. */
	s = kmm_kmem_cache_create(m, "relayout", 64, 0, 0, NULL, &err);
	expect_int_eq(kmm_slab_set_debug(m, "ZP,relayout", &err), 0);
	uint8_t *r = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	expect_int_eq(r[64], 0xcc);
	expect_int_eq(r[-1], 0xcc);
	kmm_kmem_cache_free(s, r);
	expect_int_eq(kmm_slab_set_debug(m, "-", &err), 0);
	expect_i64_eq(kmm_kmem_cache_destroy(s), 0);
}

static int hook_calls;
static const void *hook_object;
static void hook(struct kmm_machine *mm, const char *summary, const void *object)
{
	(void)mm;
	(void)summary;
	hook_calls++;
	hook_object = object;
}

static void test_report_hook(void)
{
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s = kmm_kmem_cache_create(m, "hooked", 32, 0, 0, NULL, &err);
	kmm_slab_set_report_hook(m, hook);
	void *p = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kmem_cache_free(s, p);
	kmm_kmem_cache_free(s, p);
	expect_int_eq(hook_calls, 1);
	expect_ptr_eq(hook_object, p);
	kmm_slab_set_report_hook(m, NULL);
}

static void test_padding_and_boot_option(void)
{
	/* --slub-debug at boot applies to the caches it names. */
	struct kmm_machine *m2 =
	    kmm_test_boot("--mem 32M --nodes 1 --cpus 2 --slub-debug P,kmalloc-64");
	expect_ptr_not_null(m2);
	uint8_t *p = kmm_kmalloc(m2, 60, GFP_KERNEL);
	expect_int_eq(p[0], 0x5a);
	kmm_kfree(m2, p);
	expect_int_eq(p[0], 0x6b);
	uint8_t *q = kmm_kmalloc(m2, 20, GFP_KERNEL); /* kmalloc-32: not debugged */
	expect_int_ne(q[0], 0x5a);
	kmm_kfree(m2, q);
	kmm_machine_destroy(m2);
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	expect_int_eq(kmm_config_option(&cfg, "--slub-debug", "FQ", &err), -EINVAL);
	expect_str_contains(err.msg, "unknown letter 'Q'");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	m = kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
	if (!m)
		return 1;
	run_test(test_red_zone_right);
	run_test(test_red_zone_left);
	run_test(test_use_after_free);
	run_test(test_double_free_debug);
	run_test(test_double_free_red_zone_only);
	run_test(test_invalid_frees);
	run_test(test_double_free_without_debug);
	run_test(test_validator_finds_corrupt_freelist);
	run_test(test_destroy_with_live_objects);
	run_test(test_set_debug_rules);
	run_test(test_report_hook);
	run_test(test_padding_and_boot_option);
	kmm_machine_destroy(m);
	return kmm_test_done();
}
