/*
 * Red-black trees against a shadow array: random inserts and erases, with
 * the red-black properties, the order, iteration both ways, and two
 * augmented values (subtree size and subtree maximum of a per-node value)
 * checked after every step against a recomputation from scratch.
 */
#include "kmm_test.h"
#include <kmm/rbtree.h>
#include <kmm/random.h>

struct item {
	struct rb_node rb;
	unsigned long key;
	unsigned long val;
	unsigned long subtree_max; /* augmented: max of val below */
	unsigned long subtree_size;
	bool in_tree;
};

static bool recompute(struct rb_node *n)
{
	struct item *it = rb_entry(n, struct item, rb);
	unsigned long max = it->val, size = 1;
	if (n->rb_left) {
		struct item *l = rb_entry(n->rb_left, struct item, rb);
		max = l->subtree_max > max ? l->subtree_max : max;
		size += l->subtree_size;
	}
	if (n->rb_right) {
		struct item *r = rb_entry(n->rb_right, struct item, rb);
		max = r->subtree_max > max ? r->subtree_max : max;
		size += r->subtree_size;
	}
	bool changed = max != it->subtree_max || size != it->subtree_size;
	it->subtree_max = max;
	it->subtree_size = size;
	return changed;
}

static void insert(struct rb_root *root, struct item *it, bool augmented)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	while (*link) {
		parent = *link;
		struct item *p = rb_entry(parent, struct item, rb);
		link = it->key < p->key ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&it->rb, parent, link);
	if (augmented)
		rb_insert_augmented(&it->rb, root, recompute);
	else
		rb_insert_color(&it->rb, root);
	it->in_tree = true;
}

/* Returns the number of nodes, or -1 after reporting a mismatch. */
static long check_aug(struct rb_node *n, unsigned long *max)
{
	if (!n) {
		*max = 0;
		return 0;
	}
	struct item *it = rb_entry(n, struct item, rb);
	unsigned long lm, rm;
	long l = check_aug(n->rb_left, &lm);
	long r = check_aug(n->rb_right, &rm);
	if (l < 0 || r < 0)
		return -1;
	unsigned long m = it->val;
	if (lm > m)
		m = lm;
	if (rm > m)
		m = rm;
	if (m != it->subtree_max || (unsigned long)(l + r + 1) != it->subtree_size) {
		fprintf(stderr,
			"augmented value wrong at key %lu: max %lu vs %lu, size %lu vs %ld\n",
			it->key, it->subtree_max, m, it->subtree_size, l + r + 1);
		return -1;
	}
	*max = m;
	return l + r + 1;
}

static void run_random(bool augmented)
{
	enum {
		N = 600
	};
	static struct item items[N];
	struct kmm_rng rng;
	kmm_rng_seed(&rng, kmm_test_seed + augmented);
	struct rb_root root = RB_ROOT;
	memset(items, 0, sizeof(items));
	for (int i = 0; i < N; i++)
		items[i].key = (unsigned long)i * 7; /* distinct keys, in index order */
	unsigned long steps = 6000 * kmm_test_scale;
	for (unsigned long s = 0; s < steps; s++) {
		struct item *it = &items[kmm_rng_below(&rng, N)];
		if (it->in_tree) {
			if (augmented)
				rb_erase_augmented(&it->rb, &root, recompute);
			else
				rb_erase(&it->rb, &root);
			it->in_tree = false;
		} else {
			it->val = kmm_rng_below(&rng, 1000000);
			insert(&root, it, augmented);
		}
		if (augmented && kmm_rng_below(&rng, 4) == 0) {
			/* Change a value in place and propagate. */
			struct item *v = &items[kmm_rng_below(&rng, N)];
			if (v->in_tree) {
				v->val = kmm_rng_below(&rng, 1000000);
				rb_propagate(&v->rb, recompute);
			}
		}
		const char *why;
		int bh = rb_check(&root, &why);
		if (bh < 0) {
			KMM_EXPECT_FAIL_("step %lu: %s", s, why);
			return;
		}
		/* In-order iteration visits exactly the shadow's members, in key order. */
		struct rb_node *n = rb_first(&root);
		for (int i = 0; i < N; i++) {
			if (!items[i].in_tree)
				continue;
			expect_ptr_eq(n, &items[i].rb);
			n = rb_next(n);
		}
		expect_ptr_null(n);
		n = rb_last(&root);
		for (int i = N - 1; i >= 0; i--) {
			if (!items[i].in_tree)
				continue;
			expect_ptr_eq(n, &items[i].rb);
			n = rb_prev(n);
		}
		expect_ptr_null(n);
		if (augmented) {
			unsigned long max;
			expect_true(check_aug(root.rb_node, &max) >= 0);
		}
	}
}

static void test_plain(void)
{
	run_random(false);
}

static void test_augmented(void)
{
	run_random(true);
}

static void test_replace(void)
{
	struct item a[5] = {{.key = 1}, {.key = 2}, {.key = 3}, {.key = 4}, {.key = 5}};
	struct rb_root root = RB_ROOT;
	for (int i = 0; i < 5; i++)
		insert(&root, &a[i], false);
	struct item nw = {.key = 3};
	rb_replace_node(&a[2].rb, &nw.rb, &root);
	const char *why;
	expect_true(rb_check(&root, &why) > 0);
	expect_ptr_eq(rb_next(&a[1].rb), &nw.rb);
	expect_ptr_eq(rb_next(&nw.rb), &a[3].rb);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_plain);
	run_test(test_augmented);
	run_test(test_replace);
	return kmm_test_done();
}
