/*
 * Slab geometry against Linux 6.1: for each oracle boot (6 layouts), boot
 * its twin (same CPU count), then for every cache the kernel had
 * (/sys/kernel/slab, slab.tsv):
 *  - the kmalloc caches kmm creates itself must have the same object size,
 *    slab size, objects per slab, order, alignment, cpu_partial and
 *    min_partial;
 *  - every other cache is created in kmm with the same object size,
 *    alignment and layout flags, and must get the same geometry. The table
 *    does not say which caches have a constructor (which moves the free
 *    pointer out of the object); a cache whose slab size only matches with
 *    one is counted as such.
 * Also the kmalloc size-class table: the class of every request size.
 */
#include "kmm_test.h"
#include "kmm_test_machine.h"
#include <kmm/slab.h>

static const char *const configs[] = {"a_256M",	       "a_256M_thpnever", "d_6G",
				      "d_6G_thpnever", "e_4G_numa2",	  "e_4G_numa2_thpnever"};

static unsigned long nr_compared, nr_with_ctor;

static void dummy_ctor(void *p)
{
	(void)p;
}

struct row {
	char name[64];
	unsigned int object_size, slab_size, objs, order, align, cpu_partial, min_partial;
	bool hwcache, reclaim, dma, rcu;
};

static bool parse_row(char *line, struct row *r)
{
	char *f[32];
	int n = 0;
	for (char *tok = strtok(line, "\t\n"); tok && n < 32; tok = strtok(NULL, "\t\n"))
		f[n++] = tok;
	if (n < 23 || strcmp(f[1], "-"))
		return false; /* an alias of another cache */
	snprintf(r->name, sizeof(r->name), "%s", f[0]);
	r->object_size = (unsigned int)atoi(f[2]);
	r->slab_size = (unsigned int)atoi(f[3]);
	r->objs = (unsigned int)atoi(f[4]);
	r->order = (unsigned int)atoi(f[5]);
	r->align = (unsigned int)atoi(f[6]);
	r->cpu_partial = (unsigned int)atoi(f[8]);
	r->min_partial = (unsigned int)atoi(f[9]);
	r->hwcache = atoi(f[14]);
	r->reclaim = atoi(f[15]);
	r->dma = atoi(f[16]);
	r->rcu = atoi(f[17]);
	return true;
}

struct find_ctx {
	const char *name;
	struct kmm_slabinfo info;
	bool found;
};

static int find_info(const struct kmm_slabinfo *info, void *arg)
{
	struct find_ctx *f = arg;
	if (strcmp(info->name, f->name))
		return 0;
	f->info = *info;
	f->found = true;
	return 1;
}

static bool info_of(struct kmm_machine *m, const char *name, struct kmm_slabinfo *out)
{
	struct find_ctx f = {.name = name};
	kmm_slab_for_each_cache(m, find_info, &f);
	*out = f.info;
	return f.found;
}

static bool same_geometry(const struct kmm_slabinfo *k, const struct row *r)
{
	return k->object_size == r->object_size && k->objsize == r->slab_size &&
	       k->objperslab == r->objs && k->order == r->order && k->align == r->align &&
	       k->cpu_partial == r->cpu_partial && k->min_partial == r->min_partial;
}

static void report(const char *config, const struct kmm_slabinfo *k, const struct row *r)
{
	KMM_EXPECT_FAIL_("%s %s: kmm object %u size %u objs %u order %u align %u cpu_partial %u "
			 "min_partial %u; Linux %u %u %u %u %u %u %u",
			 config, r->name, k->object_size, k->objsize, k->objperslab, k->order,
			 k->align, k->cpu_partial, k->min_partial, r->object_size, r->slab_size,
			 r->objs, r->order, r->align, r->cpu_partial, r->min_partial);
}

/* Create the cache in kmm (without, then with a constructor) and compare. */
static void check_created(struct kmm_machine *m, const char *config, const struct row *r, int idx)
{
	slab_flags_t flags = (r->hwcache ? SLAB_HWCACHE_ALIGN : 0) |
			     (r->reclaim ? SLAB_RECLAIM_ACCOUNT : 0) |
			     (r->dma ? SLAB_CACHE_DMA : 0) | (r->rcu ? SLAB_TYPESAFE_BY_RCU : 0);
	struct kmm_slabinfo k = {0};
	for (int with_ctor = 0; with_ctor < 2; with_ctor++) {
		char name[48];
		struct kmm_error err = {0};
		snprintf(name, sizeof(name), "oracle-%d-%d", idx, with_ctor);
		struct kmm_kmem_cache *s = kmm_kmem_cache_create(
		    m, name, r->object_size, r->align, flags, with_ctor ? dummy_ctor : NULL, &err);
		if (!s) {
			KMM_EXPECT_FAIL_("%s %s: %s", config, r->name, err.msg);
			return;
		}
		info_of(m, name, &k);
		kmm_kmem_cache_destroy(s);
		k.object_size = r->object_size;
		if (same_geometry(&k, r)) {
			nr_compared++;
			nr_with_ctor += (unsigned long)with_ctor;
			return;
		}
	}
	report(config, &k, r);
}

static void check_config(const char *config)
{
	char path[512], opts[600];
	snprintf(path, sizeof(path), "%s/linux-6.1/%s/dmesg.txt", KMM_ORACLE_DIR, config);
	snprintf(opts, sizeof(opts), "--from-dmesg %s", path);
	struct kmm_machine *m = kmm_test_boot(opts);
	expect_ptr_not_null(m);
	snprintf(path, sizeof(path), "%s/linux-6.1/%s/slab.tsv", KMM_ORACLE_DIR, config);
	FILE *f = fopen(path, "r");
	expect_ptr_not_null(f);
	char line[1024];
	int idx = 0, kmalloc_seen = 0;
	if (!fgets(line, sizeof(line), f)) /* header */
		KMM_EXPECT_FAIL_("%s: empty slab.tsv", config);
	while (fgets(line, sizeof(line), f)) {
		struct row r;
		if (!parse_row(line, &r))
			continue;
		bool own = !strncmp(r.name, "kmalloc-", 8) ||
			   !strncmp(r.name, "dma-kmalloc-", 12) ||
			   !strcmp(r.name, "kmem_cache_node");
		if (own) {
			struct kmm_slabinfo k;
			if (!info_of(m, r.name, &k)) {
				KMM_EXPECT_FAIL_("%s: kmm has no cache %s", config, r.name);
				continue;
			}
			kmalloc_seen++;
			/* kmm's node structure is smaller; its slots are the same 64 bytes. */
			if (!strcmp(r.name, "kmem_cache_node"))
				k.object_size = r.object_size;
			if (!same_geometry(&k, &r))

				report(config, &k, &r);
			else
				nr_compared++;
		} else {
			check_created(m, config, &r, idx++);
		}
	}
	fclose(f);
	/* 13 classes in 4 types, and kmem_cache_node. */
	expect_int_eq(kmalloc_seen, 13 * 4 + 1);
	kmm_machine_destroy(m);
}

static void test_oracle_geometry(void)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(configs); i++)
		check_config(configs[i]);
	printf("  %lu caches compared (%lu matched only with a constructor)\n", nr_compared,
	       nr_with_ctor);
	expect_u64_gt(nr_compared, 800);
}

/* Linux's kmalloc classes: [first size, last size] -> object size of the class. */
static void test_kmalloc_classes(void)
{
	static const struct {
		size_t lo, hi;
		unsigned int class;
	} table[] = {
	    {1, 8, 8},		{9, 16, 16},	   {17, 32, 32},       {33, 64, 64},
	    {65, 96, 96},	{97, 128, 128},	   {129, 192, 192},    {193, 256, 256},
	    {257, 512, 512},	{513, 1024, 1024}, {1025, 2048, 2048}, {2049, 4096, 4096},
	    {4097, 8192, 8192},
	};
	struct kmm_machine *m = kmm_test_boot("--mem 32M --nodes 1 --cpus 2");
	expect_ptr_not_null(m);
	for (size_t t = 0; t < KMM_ARRAY_SIZE(table); t++)
		for (size_t size = table[t].lo; size <= table[t].hi; size++) {
			struct kmm_kmem_cache *s = kmm_kmalloc_cache(m, size, GFP_KERNEL);
			if (!s || kmm_kmem_cache_size(s) != table[t].class) {
				KMM_EXPECT_FAIL_("kmalloc(%zu) uses %s, expected the %u class",
						 size, s ? kmm_kmem_cache_name(s) : "no cache",
						 table[t].class);
				return;
			}
		}
	expect_ptr_null(kmm_kmalloc_cache(m, 8193, GFP_KERNEL));
	expect_str_eq(
	    kmm_kmem_cache_name(kmm_kmalloc_cache(m, 100, GFP_KERNEL | __GFP_RECLAIMABLE)),
	    "kmalloc-rcl-128");
	expect_str_eq(kmm_kmem_cache_name(kmm_kmalloc_cache(m, 70, GFP_KERNEL_ACCOUNT)),
		      "kmalloc-cg-96");
	expect_str_eq(kmm_kmem_cache_name(kmm_kmalloc_cache(m, 3000, GFP_KERNEL | GFP_DMA)),
		      "dma-kmalloc-4k");
	/* Above 8 KiB: page blocks, up to 4 MiB; kmalloc(0) is the zero-size pointer. */
	void *big = kmm_kmalloc(m, 8193, GFP_KERNEL);
	expect_u64_eq(kmm_ksize(m, big), 16384);
	kmm_kfree(m, big);
	big = kmm_kmalloc(m, 4 << 20, GFP_KERNEL);
	expect_u64_eq(kmm_ksize(m, big), 4 << 20);
	kmm_kfree(m, big);
	expect_ptr_null(kmm_kmalloc(m, (4 << 20) + 1, GFP_KERNEL | __GFP_NOWARN));
	expect_ptr_eq(kmm_kmalloc(m, 0, GFP_KERNEL), KMM_ZERO_SIZE_PTR);
	kmm_kfree(m, KMM_ZERO_SIZE_PTR);
	kmm_kfree(m, NULL);
	kmm_machine_destroy(m);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_oracle_test(test_oracle_geometry);
	run_test(test_kmalloc_classes);
	return kmm_test_done();
}
