/*
 * The slab allocator's trace points fire where Linux 6.1's do, with its
 * fields: kmalloc and kfree (also above 8 KiB), kmem_cache_alloc with
 * "accounted", kmem_cache_free with the cache's name; bulk frees trace
 * every object. Checked on the arguments and on the formatted text.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/ftrace.h>
#include <kmm/slab.h>

struct event {
	enum kmm_trace_event ev;
	uint64_t args[8];
	int nargs;
};
static struct event events[64];
static int nr_events;

static void hook(struct kmm_machine *m, enum kmm_trace_event ev, const uint64_t *args, int nargs)
{
	(void)m;
	if (nr_events == 64)
		return;
	events[nr_events].ev = ev;
	events[nr_events].nargs = nargs;
	memcpy(events[nr_events].args, args, sizeof(uint64_t) * (size_t)nargs);
	nr_events++;
}

static void enable(struct kmm_machine *m)
{
	nr_events = 0;
	m->trace_hook = hook;
	WRITE_ONCE(m->trace_mask, KMM_TRACE_BIT(KMM_TRACE_KMALLOC) |
				      KMM_TRACE_BIT(KMM_TRACE_KFREE) |
				      KMM_TRACE_BIT(KMM_TRACE_KMEM_CACHE_ALLOC) |
				      KMM_TRACE_BIT(KMM_TRACE_KMEM_CACHE_FREE));
}

static void test_trace_points(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 64M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	struct kmm_error err = {0};
	struct kmm_kmem_cache *s =
	    kmm_kmem_cache_create(m, "traced", 40, 0, SLAB_ACCOUNT, NULL, &err);
	kmm_cpu_enter(m, 0);
	enable(m);
	void *a = kmm_kmalloc(m, 100, GFP_KERNEL);
	void *big = kmm_kmalloc(m, 20000, GFP_KERNEL);
	void *o = kmm_kmem_cache_alloc(s, GFP_KERNEL);
	kmm_kfree(m, a);
	kmm_kfree(m, big);
	kmm_kmem_cache_free(s, o);
	void *bulk[3];
	expect_u64_eq(kmm_kmem_cache_alloc_bulk(s, GFP_KERNEL, 3, bulk), 3);
	kmm_kmem_cache_free_bulk(s, 3, bulk);
	m->trace_mask = 0;
	m->trace_hook = NULL;
	kmm_cpu_exit(m);

	expect_int_eq(nr_events, 12);
	/* kmalloc: call_site ptr bytes_req bytes_alloc gfp_flags node */
	expect_int_eq(events[0].ev, KMM_TRACE_KMALLOC);
	expect_u64_eq(events[0].args[1], (uintptr_t)a);
	expect_u64_eq(events[0].args[2], 100);
	expect_u64_eq(events[0].args[3], 128);
	expect_u64_eq(events[0].args[4], GFP_KERNEL);
	expect_i64_eq((int64_t)events[0].args[5], -1);
	expect_int_eq(events[1].ev, KMM_TRACE_KMALLOC);
	expect_u64_eq(events[1].args[2], 20000);
	expect_u64_eq(events[1].args[3], 32768);
	/* kmem_cache_alloc: ... node accounted */
	expect_int_eq(events[2].ev, KMM_TRACE_KMEM_CACHE_ALLOC);
	expect_int_eq(events[2].nargs, 7);
	expect_u64_eq(events[2].args[1], (uintptr_t)o);
	expect_u64_eq(events[2].args[2], 40);
	expect_u64_eq(events[2].args[3], 40);
	expect_u64_eq(events[2].args[6], 1);
	expect_int_eq(events[3].ev, KMM_TRACE_KFREE);
	expect_u64_eq(events[3].args[1], (uintptr_t)a);
	expect_int_eq(events[4].ev, KMM_TRACE_KFREE);
	expect_u64_eq(events[4].args[1], (uintptr_t)big);
	expect_int_eq(events[5].ev, KMM_TRACE_KMEM_CACHE_FREE);
	expect_str_eq((const char *)(uintptr_t)events[5].args[2], "traced");
	for (int i = 6; i < 9; i++)
		expect_int_eq(events[i].ev, KMM_TRACE_KMEM_CACHE_ALLOC);
	for (int i = 9; i < 12; i++)
		expect_int_eq(events[i].ev, KMM_TRACE_KMEM_CACHE_FREE);

	/* The same through the ftrace formatter. */
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct kmm_ftrace_opts o2 = {
	    .events = "kmem:kmalloc,kmem:kfree", .out = out, .style = KMM_FTRACE_PIPE};
	struct kmm_ftrace *ft = kmm_ftrace_open(m, &o2, &err);
	if (!ft)
		fprintf(stderr, "%s\n", err.msg);
	expect_ptr_not_null(ft);

	a = kmm_kmalloc(m, 9, GFP_KERNEL | __GFP_ZERO);
	kmm_kfree(m, a);
	expect_int_eq(kmm_ftrace_close(ft, &err), 0);
	fclose(out);
	expect_str_contains(text, "kmalloc: call_site=");
	expect_str_contains(text,
			    "bytes_req=9 bytes_alloc=16 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1");
	expect_str_contains(text, "kfree: call_site=");
	free(text);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_trace_points);
	return kmm_test_done();
}
