/*
 * Red-black trees (see include/kmm/rbtree.h for the interface).
 *
 * Linux: lib/rbtree.c. The algorithms are the textbook ones (Cormen et al.,
 * "Introduction to Algorithms", ch. 13: insert fix-up by recolouring and at
 * most two rotations, erase by splicing out the node or its successor and a
 * fix-up of at most three rotations), written with parent pointers and NULL
 * leaves, tracking the parent of a NULL "x" explicitly during the erase
 * fix-up.
 *
 * Augmentation: a rotation changes the subtrees of exactly the two nodes it
 * turns, so it recomputes them (lower node first); the nodes above keep the
 * same set of descendants. An insert or an erase changes the descendants of
 * the path from the lowest changed node to the root, so that path is
 * recomputed before the fix-up rotations.
 */
#include <kmm/rbtree.h>

static inline void rb_set_parent(struct rb_node *n, struct rb_node *p)
{
	n->__rb_parent_color = (uintptr_t)p | (n->__rb_parent_color & 1);
}
static inline void rb_set_color(struct rb_node *n, int color)
{
	n->__rb_parent_color = (n->__rb_parent_color & ~(uintptr_t)1) | (uintptr_t)color;
}
static inline void rb_set_black(struct rb_node *n)
{
	n->__rb_parent_color |= RB_BLACK;
}
static inline void rb_set_red(struct rb_node *n)
{
	n->__rb_parent_color &= ~(uintptr_t)1;
}
static inline bool is_black_or_nil(const struct rb_node *n)
{
	return !n || rb_is_black(n);
}

/* Make @new take @old's place under @old's parent (or as the root). */
static inline void change_child(struct rb_node *old, struct rb_node *new, struct rb_node *parent,
				struct rb_root *root)
{
	if (!parent)
		root->rb_node = new;
	else if (parent->rb_left == old)
		parent->rb_left = new;
	else
		parent->rb_right = new;
}

static void rotate_left(struct rb_node *x, struct rb_root *root, rb_recompute_t recompute)
{
	struct rb_node *y = x->rb_right;
	struct rb_node *p = rb_parent(x);
	x->rb_right = y->rb_left;
	if (y->rb_left)
		rb_set_parent(y->rb_left, x);
	rb_set_parent(y, p);
	change_child(x, y, p, root);
	y->rb_left = x;
	rb_set_parent(x, y);
	if (recompute) {
		recompute(x);
		recompute(y);
	}
}

static void rotate_right(struct rb_node *x, struct rb_root *root, rb_recompute_t recompute)
{
	struct rb_node *y = x->rb_left;
	struct rb_node *p = rb_parent(x);
	x->rb_left = y->rb_right;
	if (y->rb_right)
		rb_set_parent(y->rb_right, x);
	rb_set_parent(y, p);
	change_child(x, y, p, root);
	y->rb_right = x;
	rb_set_parent(x, y);
	if (recompute) {
		recompute(x);
		recompute(y);
	}
}

static void insert_fixup(struct rb_node *node, struct rb_root *root, rb_recompute_t recompute)
{
	struct rb_node *parent, *gparent, *uncle;
	while ((parent = rb_parent(node)) && rb_is_red(parent)) {
		gparent = rb_parent(parent); /* a red node is never the root */
		if (parent == gparent->rb_left) {
			uncle = gparent->rb_right;
			if (uncle && rb_is_red(uncle)) {
				/* Push the red up: recolour and continue from the grandparent. */
				rb_set_black(parent);
				rb_set_black(uncle);
				rb_set_red(gparent);
				node = gparent;
				continue;
			}
			if (node == parent->rb_right) {
				rotate_left(parent, root, recompute);
				node = parent;
				parent = rb_parent(node);
			}
			rb_set_black(parent);
			rb_set_red(gparent);
			rotate_right(gparent, root, recompute);
		} else {
			uncle = gparent->rb_left;
			if (uncle && rb_is_red(uncle)) {
				rb_set_black(parent);
				rb_set_black(uncle);
				rb_set_red(gparent);
				node = gparent;
				continue;
			}
			if (node == parent->rb_left) {
				rotate_right(parent, root, recompute);
				node = parent;
				parent = rb_parent(node);
			}
			rb_set_black(parent);
			rb_set_red(gparent);
			rotate_left(gparent, root, recompute);
		}
	}
	rb_set_black(root->rb_node);
}

void rb_insert_color(struct rb_node *node, struct rb_root *root)
{
	insert_fixup(node, root, NULL);
}

void rb_propagate(struct rb_node *node, rb_recompute_t recompute)
{
	while (node && recompute(node))
		node = rb_parent(node);
}

void rb_insert_augmented(struct rb_node *node, struct rb_root *root, rb_recompute_t recompute)
{
	recompute(node);
	rb_propagate(rb_parent(node), recompute);
	insert_fixup(node, root, recompute);
}

/*
 * Restore the black height after a black node was removed above @x (which
 * may be NULL, hence @parent).
 */
static void erase_fixup(struct rb_node *x, struct rb_node *parent, struct rb_root *root,
			rb_recompute_t recompute)
{
	struct rb_node *w;
	while (x != root->rb_node && is_black_or_nil(x)) {
		if (x == parent->rb_left) {
			w = parent->rb_right;
			if (rb_is_red(w)) {
				rb_set_black(w);
				rb_set_red(parent);
				rotate_left(parent, root, recompute);
				w = parent->rb_right;
			}
			if (is_black_or_nil(w->rb_left) && is_black_or_nil(w->rb_right)) {
				rb_set_red(w);
				x = parent;
				parent = rb_parent(x);
				continue;
			}
			if (is_black_or_nil(w->rb_right)) {
				rb_set_black(w->rb_left);
				rb_set_red(w);
				rotate_right(w, root, recompute);
				w = parent->rb_right;
			}
			rb_set_color(w, rb_color(parent));
			rb_set_black(parent);
			rb_set_black(w->rb_right);
			rotate_left(parent, root, recompute);
			x = root->rb_node;
		} else {
			w = parent->rb_left;
			if (rb_is_red(w)) {
				rb_set_black(w);
				rb_set_red(parent);
				rotate_right(parent, root, recompute);
				w = parent->rb_left;
			}
			if (is_black_or_nil(w->rb_left) && is_black_or_nil(w->rb_right)) {
				rb_set_red(w);
				x = parent;
				parent = rb_parent(x);
				continue;
			}
			if (is_black_or_nil(w->rb_left)) {
				rb_set_black(w->rb_right);
				rb_set_red(w);
				rotate_left(w, root, recompute);
				w = parent->rb_left;
			}
			rb_set_color(w, rb_color(parent));
			rb_set_black(parent);
			rb_set_black(w->rb_left);
			rotate_right(parent, root, recompute);
			x = root->rb_node;
		}
	}
	if (x)
		rb_set_black(x);
}

/* Replace the subtree at @u by the subtree at @v (which may be NULL). */
static void transplant(struct rb_node *u, struct rb_node *v, struct rb_root *root)
{
	struct rb_node *p = rb_parent(u);
	change_child(u, v, p, root);
	if (v)
		rb_set_parent(v, p);
}

static void erase(struct rb_node *z, struct rb_root *root, rb_recompute_t recompute)
{
	struct rb_node *x, *x_parent;
	int removed_color = rb_color(z);

	if (!z->rb_left) {
		x = z->rb_right;
		x_parent = rb_parent(z);
		transplant(z, x, root);
	} else if (!z->rb_right) {
		x = z->rb_left;
		x_parent = rb_parent(z);
		transplant(z, x, root);
	} else {
		/* Two children: the successor y takes z's place (and colour). */
		struct rb_node *y = z->rb_right;
		while (y->rb_left)
			y = y->rb_left;
		removed_color = rb_color(y);
		x = y->rb_right;
		if (rb_parent(y) == z) {
			x_parent = y;
		} else {
			x_parent = rb_parent(y);
			transplant(y, x, root);
			y->rb_right = z->rb_right;
			rb_set_parent(y->rb_right, y);
		}
		transplant(z, y, root);
		y->rb_left = z->rb_left;
		rb_set_parent(y->rb_left, y);
		rb_set_color(y, rb_color(z));
	}
	/* Every node from x_parent up lost a descendant (and y moved onto that path). */
	if (recompute)
		for (struct rb_node *n = x_parent; n; n = rb_parent(n))
			recompute(n);
	if (removed_color == RB_BLACK)
		erase_fixup(x, x_parent, root, recompute);
}

void rb_erase(struct rb_node *node, struct rb_root *root)
{
	erase(node, root, NULL);
}

void rb_erase_augmented(struct rb_node *node, struct rb_root *root, rb_recompute_t recompute)
{
	erase(node, root, recompute);
}

void rb_replace_node(struct rb_node *victim, struct rb_node *new, struct rb_root *root)
{
	struct rb_node *parent = rb_parent(victim);
	*new = *victim;
	if (victim->rb_left)
		rb_set_parent(victim->rb_left, new);
	if (victim->rb_right)
		rb_set_parent(victim->rb_right, new);
	change_child(victim, new, parent, root);
}

struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;
	if (!n)
		return NULL;
	while (n->rb_left)
		n = n->rb_left;
	return n;
}

struct rb_node *rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;
	if (!n)
		return NULL;
	while (n->rb_right)
		n = n->rb_right;
	return n;
}

struct rb_node *rb_next(const struct rb_node *node)
{
	struct rb_node *parent;
	if (node->rb_right) {
		node = node->rb_right;
		while (node->rb_left)
			node = node->rb_left;
		return (struct rb_node *)node;
	}
	while ((parent = rb_parent(node)) && node == parent->rb_right)
		node = parent;
	return parent;
}

struct rb_node *rb_prev(const struct rb_node *node)
{
	struct rb_node *parent;
	if (node->rb_left) {
		node = node->rb_left;
		while (node->rb_right)
			node = node->rb_right;
		return (struct rb_node *)node;
	}
	while ((parent = rb_parent(node)) && node == parent->rb_left)
		node = parent;
	return parent;
}

static int check_subtree(const struct rb_node *n, const struct rb_node *parent, const char **why)
{
	if (!n)
		return 1;
	if (rb_parent(n) != parent) {
		*why = "parent pointer does not match the tree";
		return -1;
	}
	if (rb_is_red(n) &&
	    ((n->rb_left && rb_is_red(n->rb_left)) || (n->rb_right && rb_is_red(n->rb_right)))) {
		*why = "red node with a red child";
		return -1;
	}
	int l = check_subtree(n->rb_left, n, why);
	if (l < 0)
		return -1;
	int r = check_subtree(n->rb_right, n, why);
	if (r < 0)
		return -1;
	if (l != r) {
		*why = "black heights differ";
		return -1;
	}
	return l + (rb_is_black(n) ? 1 : 0);
}

int rb_check(const struct rb_root *root, const char **why)
{
	*why = NULL;
	if (root->rb_node && !rb_is_black(root->rb_node)) {
		*why = "red root";
		return -1;
	}
	return check_subtree(root->rb_node, NULL, why);
}
