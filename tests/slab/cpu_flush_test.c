/*
 * kmm_slab_flush_cpu (src/slab/cpu_flush.c): a CPU's slabs of every cache
 * go back to the nodes, other CPUs' slabs stay, nothing is lost, and the
 * objects are found again from another CPU.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/slab.h>
#include "slab/internal.h"

#define NR 200

static bool validate(struct kmm_machine *m, const char *what)
{
	struct kmm_error err = {0};
	if (kmm_slab_validate_all(m, &err)) {
		KMM_EXPECT_FAIL_("%s: %s", what, err.msg);
		return false;
	}
	return true;
}

static void test_flush_cpu(void)
{
	struct kmm_machine *m = kmm_test_boot("--mem 128M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	struct kmm_kmem_cache *k64 = kmm_kmalloc_cache(m, 64, GFP_KERNEL);
	struct kmm_kmem_cache *k512 = kmm_kmalloc_cache(m, 512, GFP_KERNEL);
	void *a[NR], *b[NR];

	/* CPU 1 keeps a slab of kmalloc-64: a flush of CPU 0 must not touch it. */
	expect_int_eq(kmm_cpu_enter(m, 1), 0);
	void *other = kmm_kmalloc(m, 64, GFP_KERNEL);
	expect_ptr_not_null(other);
	kmm_cpu_exit(m);

	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	for (int i = 0; i < NR; i++) {
		a[i] = kmm_kmalloc(m, 64, GFP_KERNEL);
		b[i] = kmm_kmalloc(m, 512, GFP_KERNEL);
		expect_ptr_not_null(a[i]);
		expect_ptr_not_null(b[i]);
		memset(a[i], 0xa0, 64);
		memset(b[i], 0xb0, 512);
	}
	/* Every other object back: partial slabs on CPU 0 (its slab and partial list). */
	for (int i = 0; i < NR; i += 2) {
		kmm_kfree(m, a[i]);
		kmm_kfree(m, b[i]);
	}
	expect_ptr_not_null(k64->cpu_slab[0].slab);
	long flushes64 = kmm_kmem_cache_stat(k64, "cpuslab_flush");
	long flushes512 = kmm_kmem_cache_stat(k512, "cpuslab_flush");
	kmm_slab_flush_cpu(m);
	expect_ptr_null(k64->cpu_slab[0].slab);
	expect_ptr_null(k64->cpu_slab[0].partial);
	expect_ptr_null(k64->cpu_slab[0].freelist);
	expect_ptr_null(k512->cpu_slab[0].slab);
	expect_ptr_null(k512->cpu_slab[0].partial);
	expect_ptr_not_null(k64->cpu_slab[1].slab);
	expect_int_eq(kmm_kmem_cache_stat(k64, "cpuslab_flush"), flushes64 + 1);
	expect_int_eq(kmm_kmem_cache_stat(k512, "cpuslab_flush"), flushes512 + 1);
	kmm_cpu_exit(m);
	if (!validate(m, "after the flush"))
		return;

	/* The live objects kept their data; CPU 1 frees them all. */
	expect_int_eq(kmm_cpu_enter(m, 1), 0);
	for (int i = 1; i < NR; i += 2) {
		expect_u64_eq(((unsigned char *)a[i])[63], 0xa0);
		expect_u64_eq(((unsigned char *)b[i])[511], 0xb0);
		kmm_kfree(m, a[i]);
		kmm_kfree(m, b[i]);
	}
	kmm_kfree(m, other);
	kmm_slab_flush_cpu(m);
	kmm_cpu_exit(m);
	validate(m, "after freeing everything");

	/* Without a CPU there is nothing to flush. */
	kmm_slab_flush_cpu(m);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_flush_cpu);
	return kmm_test_done();
}
