/*
 * Shadow-node reclaim: radix tree nodes of page caches and swap caches
 * that hold only shadow entries go on their node's shadow list
 * (workingset_nodes), and the shadow_nodes shrinker frees those past the
 * limit of count_shadow_nodes (workingset_nodereclaim), their shadows with
 * them: a page read again after that is a plain miss, not a refault.
 *
 * The figures are checked exactly against walks of the trees: a tree's
 * bottom node covers 64 aligned indices, so a node holds only shadows iff
 * its 64 slots hold values and no page, and a node the shrinker freed
 * leaves its 64 slots empty. Every step runs every layer's checker.
 */
#include "reclaim_util.h"
#include "swap/internal.h"
#include "reclaim/internal.h"
#include <kmm/slab.h>

#define MiB   (1UL << 20)
#define BLOCK (RADIX_TREE_MAP_SIZE * PAGE_SIZE) /* what one bottom node covers */

struct tree_walk {
	unsigned long shadow_only; /* bottom nodes holding only values */
	unsigned long shadows;	   /* value entries */
	unsigned long pages;
	unsigned long shadow_only_values; /* values in those nodes */
};

/* Count @root's entries, and its bottom nodes that hold only values (the owner's lock held). */
static void walk_tree(struct radix_tree_root *root, struct tree_walk *w)
{
	unsigned long index, group = ~0UL, in_group = 0, values_in_group = 0;
	void *entry;
	radix_tree_for_each(root, index, entry, -1)
	{
		if (index / RADIX_TREE_MAP_SIZE != group) {
			if (in_group && in_group == values_in_group) {
				w->shadow_only++;
				w->shadow_only_values += values_in_group;
			}
			group = index / RADIX_TREE_MAP_SIZE;
			in_group = values_in_group = 0;
		}
		in_group++;
		if (xa_is_value(entry)) {
			values_in_group++;
			w->shadows++;
		} else {
			w->pages++;
		}
	}
	if (in_group && in_group == values_in_group) {
		w->shadow_only++;
		w->shadow_only_values += values_in_group;
	}
}

static void walk_file(struct kmm_file *f, struct tree_walk *w)
{
	spin_lock(&f->f_mapping->i_pages_lock);
	walk_tree(&f->f_mapping->i_pages, w);
	spin_unlock(&f->f_mapping->i_pages_lock);
}

static void walk_swap(struct kmm_machine *m, struct tree_walk *w)
{
	struct swap_state *ss = swap_state(m);
	for (unsigned int type = 0; type < ss->nr_swapfiles; type++) {
		struct swap_info *si = swap_type_to_swap_info(m, type);
		if (!si || !si->spaces)
			continue;
		for (unsigned int s = 0; s < si->nr_spaces; s++) {
			spin_lock(&si->spaces[s].lock);
			walk_tree(&si->spaces[s].i_pages, w);
			spin_unlock(&si->spaces[s].lock);
		}
	}
}

/* NUMA node @nid's workingset_nodes. */
static long node_shadow_nodes(struct kmm_machine *m, int nid)
{
	return (long)node_page_state(NODE_DATA(m, nid), WORKINGSET_NODES);
}

/* The shadow-node shrinker's own callbacks for NUMA node @nid, called as shrink_slab would. */
/* SHRINK_EMPTY (none on the list) reads as 0 (none past the limit); both mean: nothing to do. */
static unsigned long shrinker_count(struct kmm_machine *m, int nid)
{
	struct kmm_shrinker *sh = &reclaim_state(m)->shadow_shrinker;
	struct kmm_shrink_control sc = {.gfp_mask = GFP_KERNEL, .nid = nid};
	unsigned long n = sh->count_objects(sh, &sc);
	if (n == SHRINK_EMPTY)
		return node_shadow_nodes(m, nid) ? ~0UL : 0; /* ~0: a list with nodes said empty */
	return n;
}

static unsigned long shrinker_scan(struct kmm_machine *m, int nid, unsigned long nr)
{
	struct kmm_shrinker *sh = &reclaim_state(m)->shadow_shrinker;
	struct kmm_shrink_control sc = {.gfp_mask = GFP_KERNEL, .nid = nid, .nr_to_scan = nr};
	sc.nr_scanned = nr;
	return sh->scan_objects(sh, &sc);
}

/* Linux 6.1 count_shadow_nodes' limit for @nid, from its LRU and slab pages. */
static unsigned long shadow_limit(struct kmm_machine *m, int nid)
{
	struct kmm_node *pgdat = NODE_DATA(m, nid);
	unsigned long pages = 0;
	for (int i = NR_INACTIVE_ANON; i <= NR_UNEVICTABLE; i++)
		pages += node_page_state(pgdat, (enum node_stat_item)i);
	pages += node_page_state_pages(pgdat, NR_SLAB_RECLAIMABLE_B) +
		 node_page_state_pages(pgdat, NR_SLAB_UNRECLAIMABLE_B);
	return pages >> 3;
}

/* The machine's limit: the sum of its nodes'. */
static unsigned long total_limit(struct kmm_machine *m)
{
	unsigned long sum = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		sum += shadow_limit(m, nid);
	return sum;
}

/* The first @n nodes on @nid's shadow list, oldest first. */
static unsigned long list_head_nodes(struct kmm_machine *m, int nid, struct radix_tree_node **out,
				     unsigned long n)
{
	struct shadow_node_list *list = &vm_state(m)->shadow_nodes[nid];
	struct radix_tree_node *node;
	unsigned long i = 0;
	spin_lock(&list->lock);
	list_for_each_entry (node, &list->head, private_list) {
		if (i == n)
			break;
		out[i++] = node;
	}
	spin_unlock(&list->lock);
	return i;
}

/* The first index a bottom node covers. */
static unsigned long node_base(const struct radix_tree_node *node)
{
	unsigned long base = 0;
	for (const struct radix_tree_node *n = node; n->parent; n = n->parent)
		base += (unsigned long)n->offset << n->parent->shift;
	return base;
}

/*
 * A sparse host file: page 0 of each 64-page block holds pattern bytes
 * (the rest is a hole), @blocks blocks.
 */
static int make_sparse_file(char *path, size_t len, unsigned long blocks)
{
	snprintf(path, len, "/tmp/kmm-shadow-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unsigned char buf[PAGE_SIZE];
	int ret = ftruncate(fd, (off_t)(blocks * BLOCK));
	for (unsigned long b = 0; !ret && b < blocks; b++) {
		for (size_t i = 0; i < PAGE_SIZE; i++)
			buf[i] = pattern_byte(kmm_test_seed, b * BLOCK + i);
		if (pwrite(fd, buf, PAGE_SIZE, (off_t)(b * BLOCK)) != (ssize_t)PAGE_SIZE)
			ret = -1;
	}
	close(fd);
	return ret;
}

static struct kmm_file *open_sparse(struct kmm_machine *m, char *path, size_t len,
				    unsigned long blocks)
{
	if (make_sparse_file(path, len, blocks))
		return NULL;
	struct kmm_error err = {0};
	struct kmm_file *f = kmm_file_open(m, path, KMM_O_RDONLY, 0, &err);
	if (!f)
		fprintf(stderr, "open %s: %s\n", path, err.msg);
	else
		f->f_mapping->ra_pages = 1; /* one page per miss: one tree node per block read */
	return f;
}

/* Read block @b's data page through read(); its bytes must be the pattern's. */
static int read_block(struct kmm_task *t, struct kmm_file *f, unsigned long b)
{
	unsigned char buf[PAGE_SIZE];
	if (kmm_file_read(t, f, b * BLOCK, buf, PAGE_SIZE) != (long)PAGE_SIZE)
		return -1;
	for (size_t i = 0; i < PAGE_SIZE; i++)
		if (buf[i] != pattern_byte(kmm_test_seed, b * BLOCK + i))
			return -1;
	return 0;
}

static void run_kswapd(struct kmm_machine *m)
{
	kmm_task_switch_out(m);
	kmm_cpu_enter(m, 0);
	kmm_kswapd_run_pending(m);
	kmm_cpu_exit(m);
}

/*
 * The figures agree with the trees: workingset_nodes is the number of
 * bottom nodes holding only shadows in @f's cache and the swap caches, and
 * (with @blocks_read blocks of @f read, one page per block) every block
 * read and now absent from the tree is a node the shrinker freed, but for
 * @dropped blocks whose page drop_caches took.
 */
static int check_figures(struct kmm_machine *m, struct kmm_file *f, unsigned long blocks_read,
			 long dropped)
{
	struct tree_walk w = {0};
	if (f)
		walk_file(f, &w);
	walk_swap(m, &w);
	if (vmstat(m, "workingset_nodes") != (long)w.shadow_only) {
		fprintf(stderr, "workingset_nodes %ld, trees hold %lu shadow-only nodes\n",
			vmstat(m, "workingset_nodes"), w.shadow_only);
		return -1;
	}
	if (f && blocks_read) {
		long freed = (long)(blocks_read - w.shadows - w.pages) - dropped;
		long counted = vmstat(m, "workingset_nodereclaim");
		if (freed != counted) {
			fprintf(stderr, "%ld blocks vanished, workingset_nodereclaim says %ld\n",
				freed, counted);
			return -1;
		}
	}
	return reclaim_check_all(m);
}
#define expect_figures(m, f, n, before) expect_int_eq(check_figures(m, f, n, before), 0)

/*
 * A file read once at one page per 64 (the worst density the limit allows
 * for), four times RAM: each page read makes a node, each page evicted
 * leaves it holding one shadow. Reclaim's shrinker keeps the shadow nodes
 * near the limit; the count, the oldest-first scan, and refaults after a
 * node went are checked exactly.
 */
static void test_file_pressure(void)
{
	struct kmm_machine *m = vm_boot("--mem 16M --cpus 1");
	expect_ptr_not_null(m);
	unsigned long ram_pages = (unsigned long)vmstat(m, "nr_free_pages");
	unsigned long blocks = 4 * ram_pages;
	char path[64];
	struct kmm_file *f = open_sparse(m, path, sizeof(path), blocks);
	expect_ptr_not_null(f);
	struct kmm_task *t = vm_task(m, "reader", 0);
	expect_i64_eq(vmstat(m, "workingset_nodes"), 0);
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), 0);

	long max_nodes = 0;
	for (unsigned long b = 0; b < blocks; b++) {
		expect_int_eq(read_block(t, f, b), 0);
		if (b % 512 == 511) {
			run_kswapd(m);
			expect_figures(m, f, b + 1, 0);
			max_nodes = kmm_max(max_nodes, vmstat(m, "workingset_nodes"));
		}
	}
	run_kswapd(m);
	expect_figures(m, f, blocks, 0);
	long nodes = vmstat(m, "workingset_nodes"), reclaimed = vmstat(m, "workingset_nodereclaim");
	printf("%lu blocks read: workingset_nodes %ld (peak %ld), nodereclaim %ld, limit %lu\n",
	       blocks, nodes, max_nodes, reclaimed, total_limit(m));
	/* Pressure made more shadow nodes than the limit, and the shrinker freed the excess. */
	expect_i64_ge(max_nodes, (long)total_limit(m));
	expect_i64_ge(reclaimed, (long)blocks / 4);
	expect_i64_le(nodes, 3 * (long)total_limit(m));
	/* Nothing refaulted: every page was read once. */
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 0);

	/*
	 * Drop the clean cache (no shadows: not reclaim), so that nothing
	 * below reclaims; the limit falls with the LRU and the count follows
	 * it exactly.
	 */
	struct tree_walk cached = {0};
	walk_file(f, &cached);
	kmm_drop_caches(m, 1);
	struct tree_walk left = {0};
	walk_file(f, &left);
	long dropped = (long)(cached.pages - left.pages);
	expect_i64_ge(dropped, 1);
	expect_figures(m, f, blocks, dropped);
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		long n = node_shadow_nodes(m, nid);
		unsigned long limit = shadow_limit(m, nid);
		printf("node %d: %ld shadow nodes, limit %lu\n", nid, n, limit);
		expect_u64_gt((unsigned long)n, limit);
		expect_u64_eq(shrinker_count(m, nid), (unsigned long)n - limit);
	}
	nodes = node_shadow_nodes(m, 0);

	/* A scan frees the oldest nodes on the list, and exactly as many as asked. */
	struct radix_tree_node *oldest[8];
	unsigned long bases[8];
	expect_u64_eq(list_head_nodes(m, 0, oldest, 8), 8);
	for (int i = 0; i < 8; i++)
		bases[i] = node_base(oldest[i]);
	long before = vmstat(m, "workingset_nodereclaim");
	expect_u64_eq(shrinker_scan(m, 0, 8), 8);
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), before + 8);
	expect_i64_eq(node_shadow_nodes(m, 0), nodes - 8);
	for (int i = 0; i < 8; i++)
		expect_ptr_null(radix_tree_lookup(&f->f_mapping->i_pages, bases[i]));
	expect_figures(m, f, blocks, dropped);

	/*
	 * Read back the eight blocks whose nodes went (no shadow: no refault)
	 * and eight that still have one (eight refaults); the bytes are right.
	 */
	long in0 = vmstat(m, "pgpgin"), ref0 = vmstat(m, "workingset_refault_file");
	long scan0 = vmstat(m, "pgscan_kswapd") + vmstat(m, "pgscan_direct");
	for (int i = 0; i < 8; i++)
		expect_int_eq(read_block(t, f, bases[i] / RADIX_TREE_MAP_SIZE), 0);
	expect_i64_eq(vmstat(m, "workingset_refault_file"), ref0);
	expect_i64_eq(vmstat(m, "pgpgin") - in0, 8 * (long)(PAGE_SIZE / 1024));
	unsigned long with_shadow = 0;
	for (unsigned long b = 0; b < blocks && with_shadow < 8; b++) {
		if (!xa_is_value(
			radix_tree_lookup(&f->f_mapping->i_pages, b * RADIX_TREE_MAP_SIZE)))
			continue;
		expect_int_eq(read_block(t, f, b), 0);
		with_shadow++;
	}
	expect_u64_eq(with_shadow, 8);
	expect_i64_eq(vmstat(m, "workingset_refault_file"), ref0 + 8);
	expect_i64_eq(vmstat(m, "pgscan_kswapd") + vmstat(m, "pgscan_direct"), scan0);
	/* The 8 blocks whose nodes were freed are back in the tree, as pages. */
	expect_figures(m, f, blocks, dropped - 8);

	/* At or below the limit, the shrinker reports nothing and reclaim frees nothing. */
	/*
	 * Free each node's excess. That frees slab pages too (the nodes and
	 * their emptied parents, which may be on the other node), lowering
	 * the limits: sweep until one finds nothing to do.
	 */
	bool again = true;
	for (int round = 0; round < 8 && again; round++) {
		again = false;
		for (int nid = 0; nid < m->nr_node_ids; nid++) {
			unsigned long excess = shrinker_count(m, nid);
			if (!excess)
				continue;
			again = true;
			expect_u64_eq(shrinker_scan(m, nid, excess), excess);
		}
	}
	expect_false(again);
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		expect_u64_le((unsigned long)node_shadow_nodes(m, nid), shadow_limit(m, nid));
	expect_figures(m, f, blocks, dropped - 8);
	before = vmstat(m, "workingset_nodereclaim");
	for (int i = 0; i < 4; i++)
		for (int nid = 0; nid < m->nr_node_ids; nid++)
			kmm_shrink_slab(m, GFP_KERNEL, nid, 0);
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), before);

	/* Truncation takes the rest; the lists and the gauge empty. */
	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	truncate_inode_pages(f->f_mapping);
	expect_i64_eq(vmstat(m, "workingset_nodes"), 0);
	expect_all_valid(m);
	kmm_file_close(f);
	kmm_machine_destroy(m);
	unlink(path);
}

/*
 * The swap cache's shadow nodes: anonymous memory 1.5x RAM written once
 * leaves slots whose pages were evicted with shadows; the nodes holding
 * only those are listed and counted, and freeing them all (the scan frees
 * what it is asked, as Linux's) deletes their shadows. Read back without
 * swap readahead, each slot that still has a shadow refaults once; the
 * slots whose nodes went are read without one. Every byte is right.
 */
static void test_swap(void)
{
	char opts[256], swap[64];
	snprintf(swap, sizeof(swap), "/tmp/kmm-shadow-%d.swap", getpid());
	snprintf(opts, sizeof(opts), "--mem 16M --cpus 1 --swap %s:40M", swap);
	struct kmm_machine *m = vm_boot(opts);
	expect_ptr_not_null(m);
	if (!m)
		return;
	struct kmm_task *t = vm_task(m, "anon", 0);
	swap_state(m)->page_cluster = 0; /* no swap readahead: one slot per fault */
	size_t len = 24 * MiB;
	long a = kmm_mmap(t, 0, len, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, NULL, 0);
	expect_i64_ge(a, 0);
	for (size_t off = 0; off < len; off += PAGE_SIZE) {
		uint64_t v = off ^ kmm_test_seed;
		expect_int_eq(kmm_write(t, (unsigned long)a + off, &v, sizeof(v)), 0);
		if ((off / PAGE_SIZE) % 32 == 31)
			run_kswapd(m);
		if ((off / PAGE_SIZE) % 1024 == 1023)
			expect_figures(m, NULL, 0, 0);
	}
	run_kswapd(m);
	expect_figures(m, NULL, 0, 0);
	struct tree_walk w = {0};
	walk_swap(m, &w);
	long nodes = vmstat(m, "workingset_nodes");
	printf("swap: %lu shadows, %ld shadow-only nodes, limit %lu\n", w.shadows, nodes,
	       total_limit(m));
	expect_i64_ge(nodes, 8);
	/* Below the limit: reclaim's passes leave them. */
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), 0);
	for (int nid = 0; nid < m->nr_node_ids; nid++)
		expect_u64_eq(shrinker_count(m, nid), 0);

	/*
	 * Free the older half of each node's list (the scan frees what it is
	 * asked, as Linux's): their shadows go, the others stay.
	 */
	unsigned long freed_nodes = 0, freed_shadows = 0;
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		struct radix_tree_node *oldest[256];
		unsigned long n = kmm_min((unsigned long)node_shadow_nodes(m, nid) / 2, 256UL);
		expect_u64_eq(list_head_nodes(m, nid, oldest, n), n);
		for (unsigned long i = 0; i < n; i++)
			freed_shadows += oldest[i]->nr_values;
		expect_u64_eq(shrinker_scan(m, nid, n), n);
		freed_nodes += n;
	}
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), (long)freed_nodes);
	expect_i64_eq(vmstat(m, "workingset_nodes"), nodes - (long)freed_nodes);
	struct tree_walk after = {0};
	walk_swap(m, &after);
	expect_u64_eq(after.shadows, w.shadows - freed_shadows);
	expect_figures(m, NULL, 0, 0);

	/*
	 * Unmap all but the first 8 MiB (their slots and shadows go), so the
	 * rest comes back without reclaim running. Read back one slot per
	 * fault, each slot out of memory is read once: it refaults iff its
	 * shadow is still there. Those whose nodes were freed do not.
	 */
	size_t keep = 8 * MiB;
	expect_int_eq(kmm_munmap(t, (unsigned long)a + keep, len - keep), 0);
	expect_figures(m, NULL, 0, 0);
	unsigned long out = 0, out_shadow = 0;
	{
		struct swap_info *si = swap_type_to_swap_info(m, 0);
		for (unsigned long i = 1; i < (unsigned long)si->max; i++) {
			unsigned char c = si->swap_map[i];
			if (!c || c == SWAP_MAP_BAD || !(c & ~SWAP_HAS_CACHE))
				continue;
			void *e = radix_tree_lookup(&swap_address_space(si, i)->i_pages, i);
			out += !e || xa_is_value(e);
			out_shadow += xa_is_value(e);
		}
	}
	long in0 = vmstat(m, "pswpin"), ref0 = vmstat(m, "workingset_refault_anon");
	long scan0 = vmstat(m, "pgscan_kswapd") + vmstat(m, "pgscan_direct");
	for (size_t off = 0; off < keep; off += PAGE_SIZE) {
		uint64_t v = 0;
		expect_int_eq(kmm_read(t, (unsigned long)a + off, &v, sizeof(v)), 0);
		expect_u64_eq(v, off ^ kmm_test_seed);
	}
	long in = vmstat(m, "pswpin") - in0, refaults = vmstat(m, "workingset_refault_anon") - ref0;
	printf("swap read back: %lu slots out (%lu with a shadow): pswpin %ld, refault_anon %ld\n",
	       out, out_shadow, in, refaults);
	expect_i64_eq(vmstat(m, "pgscan_kswapd") + vmstat(m, "pgscan_direct"), scan0);
	expect_i64_eq(in, (long)out);
	expect_i64_eq(refaults, (long)out_shadow);
	expect_u64_ge(out - out_shadow, 64); /* at least one freed node's slots */
	expect_u64_gt(out_shadow, 0);
	expect_figures(m, NULL, 0, 0);

	expect_int_eq(kmm_munmap(t, (unsigned long)a, keep), 0);
	expect_i64_eq(vmstat(m, "workingset_nodes"), 0);
	expect_all_valid(m);
	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	kmm_machine_destroy(m);
	unlink(swap);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random steps over two sparse files on a small machine: reads of random
 * blocks (new ones, and ones read before: refaults or plain misses),
 * scans of the shrinker, reclaim's own passes, drop_caches, truncation of
 * one file. After every step the checkers run and the gauge equals the
 * trees' shadow-only nodes.
 */
static void test_random(void)
{
	struct kmm_machine *m = vm_boot("--mem 16M --cpus 1");
	expect_ptr_not_null(m);
	uint64_t s = kmm_test_seed | 1;
	printf("seed: %" PRIu64 "\n", kmm_test_seed);
	unsigned long blocks = 4096;
	char path[2][64];
	struct kmm_file *f[2];
	for (int i = 0; i < 2; i++) {
		f[i] = open_sparse(m, path[i], sizeof(path[i]), blocks);
		expect_ptr_not_null(f[i]);
	}
	struct kmm_task *t = vm_task(m, "random", 0);
	unsigned long steps = 300 * kmm_test_scale;
	for (unsigned long step = 0; step < steps; step++) {
		struct kmm_file *ff = f[rnd(&s) % 2];
		unsigned int op = (unsigned int)(rnd(&s) % 100);
		if (op < 80) {
			/* A run of blocks from a random place. */
			unsigned long b = rnd(&s) % blocks, n = 1 + rnd(&s) % 128;
			for (unsigned long i = 0; i < n && b + i < blocks; i++)
				expect_int_eq(read_block(t, ff, b + i), 0);
			run_kswapd(m);
		} else if (op < 92) {
			int nid = (int)(rnd(&s) % (uint64_t)m->nr_node_ids);
			long before = node_shadow_nodes(m, nid);
			unsigned long n = rnd(&s) % 32, freed = shrinker_scan(m, nid, n);
			expect_u64_eq(freed, kmm_min(n, (unsigned long)before));
			expect_i64_eq(node_shadow_nodes(m, nid), before - (long)freed);
		} else if (op < 98) {
			kmm_shrink_slab(m, GFP_KERNEL, (int)(rnd(&s) % (uint64_t)m->nr_node_ids),
					(int)(rnd(&s) % 13));
		} else if (op < 99) {
			kmm_drop_caches(m, 1 + (int)(rnd(&s) % 3));
		} else {
			truncate_inode_pages(ff->f_mapping);
		}
		struct tree_walk w = {0};
		walk_file(f[0], &w);
		walk_file(f[1], &w);
		if (vmstat(m, "workingset_nodes") != (long)w.shadow_only)
			printf("step %lu (op %u): workingset_nodes %ld, trees %lu\n", step, op,
			       vmstat(m, "workingset_nodes"), w.shadow_only);
		expect_i64_eq(vmstat(m, "workingset_nodes"), (long)w.shadow_only);
		expect_all_valid(m);
	}
	printf("random: workingset_nodes %ld, nodereclaim %ld, refault_file %ld\n",
	       vmstat(m, "workingset_nodes"), vmstat(m, "workingset_nodereclaim"),
	       vmstat(m, "workingset_refault_file"));
	kmm_task_exit(t, 0);
	kmm_task_reap(t);
	for (int i = 0; i < 2; i++) {
		truncate_inode_pages(f[i]->f_mapping);
		kmm_file_close(f[i]);
		unlink(path[i]);
	}
	expect_i64_eq(vmstat(m, "workingset_nodes"), 0);
	expect_all_valid(m);
	kmm_machine_destroy(m);
}

/* --- Concurrent: readers, reclaim and scans on two CPUs (KMM_TEST_CONCURRENT) ---------------- */

struct race {
	struct kmm_file *f[2];
	struct kmm_task *t[2];
	unsigned long blocks, next[2], stride;
	unsigned long bad[2], scans[2];
};

/*
 * CPU @cpu reads the next block of its file in a fixed permutation (every
 * block once), and every 64 blocks scans a node's shadow list itself: the
 * scan trylocks the tree the other CPU is filling, and reclaim's own passes
 * (kswapd, direct reclaim) run meanwhile.
 */
static bool race_step(struct kmm_machine *m, int cpu, void *arg)
{
	struct race *r = arg;
	if (r->next[cpu] == r->blocks)
		return false;
	unsigned long i = r->next[cpu]++;
	r->bad[cpu] += read_block(r->t[cpu], r->f[cpu], (i * r->stride) % r->blocks) != 0;
	if (i % 64 == 63) {
		shrinker_scan(m, (int)(i / 64) % m->nr_node_ids, 16);
		r->scans[cpu]++;
	}
	return true;
}

static void run_race(enum kmm_run_mode mode)
{
	struct kmm_machine *m = vm_boot("--mem 16M --cpus 2");
	expect_ptr_not_null(m);
	struct race r = {.blocks = 2 * (unsigned long)vmstat(m, "nr_free_pages"), .stride = 7919};
	char path[2][64];
	for (int c = 0; c < 2; c++) {
		r.f[c] = open_sparse(m, path[c], sizeof(path[c]), r.blocks);
		expect_ptr_not_null(r.f[c]);
		r.t[c] = vm_task(m, "race", c);
	}
	expect_u64_ne(r.blocks % r.stride, 0); /* the stride is prime: a permutation */
	kmm_task_switch_out(m);
	expect_int_eq(kmm_run(m, mode, race_step, &r), 0);
	kmm_task_switch_out(m);
	run_kswapd(m);
	struct tree_walk w = {0};
	walk_file(r.f[0], &w);
	walk_file(r.f[1], &w);
	long vanished = (long)(2 * r.blocks - w.shadows - w.pages);
	printf("%s: %lu blocks a file, workingset_nodes %ld, nodereclaim %ld, %lu+%lu scans\n",
	       mode == KMM_RUN_DETERMINISTIC ? "deterministic" : "concurrent", r.blocks,
	       vmstat(m, "workingset_nodes"), vmstat(m, "workingset_nodereclaim"), r.scans[0],
	       r.scans[1]);
	expect_u64_eq(r.bad[0] + r.bad[1], 0);
	/* Every block read once: a block gone from its tree is one node freed. */
	expect_i64_eq(vmstat(m, "workingset_nodereclaim"), vanished);
	expect_i64_eq(vmstat(m, "workingset_nodes"), (long)w.shadow_only);
	expect_i64_eq(vmstat(m, "workingset_refault_file"), 0);
	expect_i64_ge(vanished, 1);
	expect_all_valid(m);
	for (int c = 0; c < 2; c++) {
		kmm_task_exit(r.t[c], 0);
		kmm_task_reap(r.t[c]);
		truncate_inode_pages(r.f[c]->f_mapping);
		kmm_file_close(r.f[c]);
		unlink(path[c]);
	}
	expect_i64_eq(vmstat(m, "workingset_nodes"), 0);
	expect_all_valid(m);
	kmm_machine_destroy(m);
}

static void test_race_deterministic(void)
{
	run_race(KMM_RUN_DETERMINISTIC);
}

static void test_race_concurrent(void)
{
	run_race(KMM_RUN_CONCURRENT);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_file_pressure);
	run_test(test_swap);
	run_test(test_random);
	run_test(test_race_deterministic);
	run_test(test_race_concurrent);
	return kmm_test_done();
}
