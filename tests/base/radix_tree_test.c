/*
 * Radix trees against a shadow array: random inserts, deletes, replaces
 * and tag changes over sparse indices (small ones, and some near the top of
 * the index space so the tree grows and shrinks by many levels). After every
 * step the tree's own check passes, every lookup and tag agrees with the
 * shadow, and iteration (all entries, and entries with each tag) visits
 * exactly the shadow's entries in order. Allocation failures are injected:
 * a failed insert leaves the tree as it was, with no node leaked.
 */
#include "kmm_test.h"
#include <errno.h>
#include <kmm/radix_tree.h>
#include <kmm/random.h>

#define N 512

struct shadow {
	unsigned long index[N];
	bool present[N];
	bool tag[N][RADIX_TREE_MAX_TAGS];
	void *item[N];
};

static long live_nodes;
static int fail_next;

static struct radix_tree_node *node_alloc(void *ctx)
{
	(void)ctx;
	if (fail_next && --fail_next == 0)
		return NULL;
	live_nodes++;
	return calloc(1, sizeof(struct radix_tree_node));
}

static void node_free(void *ctx, struct radix_tree_node *node)
{
	(void)ctx;
	live_nodes--;
	free(node);
}

static void check_all(struct radix_tree_root *root, struct shadow *sh, unsigned long step)
{
	const char *why;
	long n = radix_tree_check(root, &why);
	if (n < 0) {
		KMM_EXPECT_FAIL_("step %lu: %s", step, why);
		return;
	}
	long expect = 0;
	for (int i = 0; i < N; i++) {
		expect += sh->present[i];
		expect_ptr_eq(radix_tree_lookup(root, sh->index[i]),
			      sh->present[i] ? sh->item[i] : NULL);
		for (unsigned t = 0; t < RADIX_TREE_MAX_TAGS; t++)
			expect_int_eq(radix_tree_tag_get(root, sh->index[i], t),
				      sh->present[i] && sh->tag[i][t]);
	}
	expect_int_eq(n, expect);
	/* Iteration: the shadow's indices are sorted, so entries come in shadow order. */
	for (int tag = -1; tag < RADIX_TREE_MAX_TAGS; tag++) {
		unsigned long idx = 0;
		void *item;
		int i = 0;
		while ((item = radix_tree_next(root, &idx, tag)) != NULL) {
			while (i < N && !(sh->present[i] && (tag < 0 || sh->tag[i][tag])))
				i++;
			expect_true(i < N);
			expect_u64_eq(idx, sh->index[i]);
			expect_ptr_eq(item, sh->item[i]);
			i++;
			if (idx == ~0UL)
				break;
			idx++;
		}
		while (i < N && !(sh->present[i] && (tag < 0 || sh->tag[i][tag])))
			i++;
		expect_int_eq(i, N);
		if (tag >= 0) {
			bool any = false;
			for (int k = 0; k < N; k++)
				any |= sh->present[k] && sh->tag[k][tag];
			expect_int_eq(radix_tree_tagged(root, (unsigned)tag), any);
		}
	}
}

static void test_random(void)
{
	static struct shadow sh;
	struct radix_tree_root root;
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed);
	radix_tree_init(&root, node_alloc, node_free, NULL);
	memset(&sh, 0, sizeof(sh));
	/* Sorted, distinct indices: dense, sparse, and at the top of the range. */
	for (int i = 0; i < N; i++) {
		if (i < 200)
			sh.index[i] = (unsigned long)i;
		else if (i < 480)
			sh.index[i] = 1000 + (unsigned long)(i - 200) * 4099;
		else
			sh.index[i] = ~0UL - (unsigned long)(N - 1 - i) * 77;
		sh.item[i] = (void *)(uintptr_t)(0x1000 + 16 * (unsigned long)i);
	}
	unsigned long steps = 3000 * kmm_test_scale;
	for (unsigned long s = 0; s < steps; s++) {
		int i = (int)kmm_rng_below(&rng, N);
		unsigned op = (unsigned)kmm_rng_below(&rng, 10);
		if (op < 4) {
			bool inject = kmm_rng_below(&rng, 8) == 0;
			long before = live_nodes;
			fail_next = inject ? (int)kmm_rng_range(&rng, 1, 3) : 0;
			int err = radix_tree_insert(&root, sh.index[i], sh.item[i]);
			if (err == -ENOMEM) {
				expect_true(inject);
				expect_false(sh.present[i]);
				expect_true(live_nodes <= before); /* nothing leaked */
			} else if (sh.present[i]) {
				expect_int_eq(err, -EEXIST);
			} else {
				expect_int_eq(err, 0);
				sh.present[i] = true;
				memset(sh.tag[i], 0, sizeof(sh.tag[i]));
			}
			fail_next = 0;
		} else if (op < 7) {
			void *got = radix_tree_delete(&root, sh.index[i]);
			expect_ptr_eq(got, sh.present[i] ? sh.item[i] : NULL);
			sh.present[i] = false;
		} else if (op < 9) {
			unsigned t = (unsigned)kmm_rng_below(&rng, RADIX_TREE_MAX_TAGS);
			if (kmm_rng_below(&rng, 2)) {
				radix_tree_tag_set(&root, sh.index[i], t);
				if (sh.present[i])
					sh.tag[i][t] = true;
			} else {
				radix_tree_tag_clear(&root, sh.index[i], t);
				sh.tag[i][t] = false;
			}
		} else if (sh.present[i]) {
			void *nw = (void *)((uintptr_t)sh.item[i] ^ 0x8);
			expect_ptr_eq(radix_tree_replace(&root, sh.index[i], nw), sh.item[i]);
			sh.item[i] = nw;
		}
		if (s % 7 == 0 || s == steps - 1)
			check_all(&root, &sh, s);
		if (kmm_test_case_failed)
			return;
	}
	for (int i = 0; i < N; i++)
		radix_tree_delete(&root, sh.index[i]);
	expect_ptr_null(root.rnode);
	expect_int_eq(live_nodes, 0);
}

/*
 * Value entries (the page cache's shadows): stored, found, replaced by a
 * pointer and back, counted apart by the check, which refuses a tagged one.
 */
static void test_value_entries(void)
{
	struct radix_tree_root root;
	radix_tree_init(&root, node_alloc, node_free, NULL);
	void *page = (void *)(uintptr_t)0x4000;
	expect_true(xa_is_value(xa_mk_value(0)));
	expect_false(xa_is_value(page));
	expect_u64_eq(xa_to_value(xa_mk_value(~0UL >> 1)), ~0UL >> 1);
	for (unsigned long i = 0; i < 200; i++)
		expect_int_eq(radix_tree_insert(&root, i * 3, i % 2 ? xa_mk_value(i) : page), 0);
	const char *why;
	unsigned long values = 0;
	expect_i64_eq(radix_tree_check_values(&root, &why, &values), 200);
	expect_u64_eq(values, 100);
	expect_u64_eq(xa_to_value(radix_tree_lookup(&root, 3)), 1);
	/* A shadow gives way to a page, and a page to a shadow. */
	expect_ptr_eq(radix_tree_replace(&root, 3, page), xa_mk_value(1));
	expect_ptr_eq(radix_tree_replace(&root, 6, xa_mk_value(77)), page);
	expect_i64_eq(radix_tree_check_values(&root, &why, &values), 200);
	expect_u64_eq(values, 100);
	/* Iteration sees both kinds, in index order. */
	unsigned long index, n = 0, nv = 0;
	void *item;
	radix_tree_for_each(&root, index, item, -1)
	{
		n++;
		nv += xa_is_value(item);
	}
	expect_u64_eq(n, 200);
	expect_u64_eq(nv, 100);
	/* A tagged value entry is an error the check reports. */
	radix_tree_tag_set(&root, 6, RADIX_TREE_TAG_0);
	expect_i64_eq(radix_tree_check_values(&root, &why, &values), -1);
	expect_str_eq(why, "tag set on a value entry");
	radix_tree_tag_clear(&root, 6, RADIX_TREE_TAG_0);
	expect_i64_eq(radix_tree_check(&root, &why), 200);
	for (unsigned long i = 0; i < 200; i++)
		expect_ptr_not_null(radix_tree_delete(&root, i * 3));
	expect_ptr_null(root.rnode);
	expect_int_eq(live_nodes, 0);
}

/* A watcher as the working-set code's: bottom nodes holding only values on one list. */
static struct list_head watched = LIST_HEAD_INIT(watched);
static long nr_watched, update_calls;

static void watch_node(struct radix_tree_root *root, struct radix_tree_node *node)
{
	(void)root;
	update_calls++;
	bool only_values = node->count && node->count == node->nr_values;
	if (only_values && !node->on_list) {
		list_add_tail(&node->private_list, &watched);
		node->on_list = true;
		nr_watched++;
	} else if (!only_values && node->on_list) {
		list_del_init(&node->private_list);
		node->on_list = false;
		nr_watched--;
	}
}

/*
 * The update callback and nr_values: a node holding only values is
 * watched, one that gets a page is not, one emptied is not; deleting a
 * node of values takes its values and its emptied parents. The check
 * refuses a wrong nr_values and a node off its list.
 */
static void test_update_node(void)
{
	struct radix_tree_root root;
	const char *why;
	radix_tree_init(&root, node_alloc, node_free, NULL);
	radix_tree_set_update(&root, watch_node, NULL, NULL);
	void *page = (void *)(uintptr_t)0x4000;
	/* Block 0 (indices 0..63): two values; block 5 (320..383): a page. */
	expect_int_eq(radix_tree_insert(&root, 1, xa_mk_value(1)), 0);
	expect_int_eq(radix_tree_insert(&root, 2, xa_mk_value(2)), 0);
	expect_int_eq(radix_tree_insert(&root, 320, page), 0);
	expect_int_eq(nr_watched, 1);
	expect_i64_eq(radix_tree_check(&root, &why), 3);
	struct radix_tree_node *leaf0 =
	    list_first_entry(&watched, struct radix_tree_node, private_list);
	expect_u64_eq(leaf0->nr_values, 2);
	expect_u64_eq(leaf0->count, 2);
	/* A page joins: off the list; it turns into a value: back on. */
	expect_int_eq(radix_tree_insert(&root, 3, page), 0);
	expect_int_eq(nr_watched, 0);
	expect_i64_eq(radix_tree_check(&root, &why), 4);
	expect_ptr_eq(radix_tree_replace(&root, 3, xa_mk_value(3)), page);
	expect_int_eq(nr_watched, 1);
	/* Value for value, or a page beside a page: still (not) all values, no call. */
	long calls = update_calls;
	radix_tree_replace(&root, 3, xa_mk_value(33));
	expect_int_eq(radix_tree_insert(&root, 321, page), 0);
	expect_ptr_eq(radix_tree_delete(&root, 321), page);
	expect_int_eq(update_calls, calls);
	/* The block-5 page turns into a value: two watched nodes. */
	radix_tree_replace(&root, 320, xa_mk_value(320));
	expect_int_eq(nr_watched, 2);
	expect_i64_eq(radix_tree_check(&root, &why), 4);

	/* The check sees a wrong nr_values, and a node that should be on the list. */
	leaf0->nr_values--;
	expect_i64_eq(radix_tree_check(&root, &why), -1);
	expect_str_eq(why, "node's nr_values differs from its value entries");
	leaf0->nr_values++;
	leaf0->on_list = false;
	expect_i64_eq(radix_tree_check(&root, &why), -1);
	expect_str_eq(why, "node holding only values is not on its list");
	leaf0->on_list = true;
	expect_i64_eq(radix_tree_check(&root, &why), 4);

	/* Deleting a node of values: they go, it goes (the root stays: block 5 is in slot 5). */
	long nodes = live_nodes;
	expect_u64_eq(leaf0->root == &root, 1);
	list_del_init(&leaf0->private_list); /* as the shrinker takes it off first */
	leaf0->on_list = false;
	nr_watched--;
	expect_u64_eq(radix_tree_delete_node(&root, leaf0), 3);
	expect_ptr_null(radix_tree_lookup(&root, 1));
	expect_ptr_null(radix_tree_lookup(&root, 3));
	expect_u64_eq(xa_to_value(radix_tree_lookup(&root, 320)), 320);
	expect_i64_eq(live_nodes, nodes - 1);
	expect_i64_eq(radix_tree_check(&root, &why), 1);
	expect_int_eq(nr_watched, 1);
	/* A node holding a page is not deleted. */
	radix_tree_replace(&root, 320, page);
	expect_u64_eq(radix_tree_delete_node(&root, root.rnode), 0);
	expect_ptr_eq(radix_tree_delete(&root, 320), page);
	expect_ptr_null(root.rnode);
	expect_int_eq(nr_watched, 0);
	expect_true(list_empty(&watched));
	expect_int_eq(live_nodes, 0);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_random);
	run_test(test_value_entries);
	run_test(test_update_node);
	return kmm_test_done();
}
