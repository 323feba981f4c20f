/*
 * Red-black trees, intrusive, with optional augmentation.
 *
 * Linux: include/linux/rbtree.h, include/linux/rbtree_augmented.h,
 * lib/rbtree.c. Same usage as the kernel's: the user embeds a struct
 * rb_node, walks down from the root to find where a new node goes, links it
 * there with rb_link_node() and then calls rb_insert_color() to rebalance.
 * The tree never compares keys itself, so it serves any ordering.
 *
 * Augmented trees keep, in every node, a value computed from the node and
 * its two subtrees (the largest gap below a VMA, the last address of an
 * interval subtree). The user supplies one callback, recompute(), that
 * recomputes a node's value from its children; the tree calls it on every
 * node whose subtree changed shape (the two nodes of a rotation, and the
 * path from the lowest changed node to the root after an insert or erase).
 * That is simpler than Linux's three callbacks (propagate, copy, rotate) and
 * costs the same O(log n).
 *
 * The parent pointer and the colour share one word (nodes are at least
 * 4-byte aligned, colour in bit 0), as in Linux.
 */
#ifndef KMM_RBTREE_H
#define KMM_RBTREE_H

#include <kmm/compiler.h>

struct rb_node {
	uintptr_t __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
} __kmm_aligned(sizeof(long));

struct rb_root {
	struct rb_node *rb_node;
};

#define RB_ROOT          \
	(struct rb_root) \
	{                \
		NULL     \
	}

#define RB_RED	 0
#define RB_BLACK 1

#define rb_entry(ptr, type, member) container_of(ptr, type, member)
#define rb_entry_safe(ptr, type, member)                          \
	({                                                        \
		__typeof__(ptr) ____ptr = (ptr);                  \
		____ptr ? rb_entry(____ptr, type, member) : NULL; \
	})

static inline struct rb_node *rb_parent(const struct rb_node *n)
{
	return (struct rb_node *)(n->__rb_parent_color & ~(uintptr_t)3);
}
static inline int rb_color(const struct rb_node *n)
{
	return (int)(n->__rb_parent_color & 1);
}
static inline bool rb_is_red(const struct rb_node *n)
{
	return rb_color(n) == RB_RED;
}
static inline bool rb_is_black(const struct rb_node *n)
{
	return rb_color(n) == RB_BLACK;
}
static inline bool RB_EMPTY_ROOT(const struct rb_root *root)
{
	return root->rb_node == NULL;
}
/* A node that is in no tree points to itself (after RB_CLEAR_NODE). */
static inline bool RB_EMPTY_NODE(const struct rb_node *n)
{
	return n->__rb_parent_color == (uintptr_t)n;
}
static inline void RB_CLEAR_NODE(struct rb_node *n)
{
	n->__rb_parent_color = (uintptr_t)n;
}

/* Put @node at *@link, below @parent, as a red leaf; then call rb_insert_color(). */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent, struct rb_node **link)
{
	node->__rb_parent_color = (uintptr_t)parent; /* red */
	node->rb_left = node->rb_right = NULL;
	*link = node;
}

/*
 * Recompute @node's augmented value from itself and its children; return
 * true if it changed. NULL for a plain tree.
 */
typedef bool (*rb_recompute_t)(struct rb_node *node);

void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
void rb_insert_augmented(struct rb_node *node, struct rb_root *root, rb_recompute_t recompute);
void rb_erase_augmented(struct rb_node *node, struct rb_root *root, rb_recompute_t recompute);
/*
 * A node's own contribution to the augmented value changed (its key did
 * not move it in the order): recompute it and its ancestors.
 */
void rb_propagate(struct rb_node *node, rb_recompute_t recompute);
/* Put @new where @victim is (same position in the order); augmented value copied by caller. */
void rb_replace_node(struct rb_node *victim, struct rb_node *new, struct rb_root *root);

struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

/*
 * Check the red-black properties (root black, no red node with a red child,
 * equal black height on every path, parent pointers consistent). Returns the
 * black height, or -1 with a reason in @why. For validators and tests.
 */
int rb_check(const struct rb_root *root, const char **why);

#endif /* KMM_RBTREE_H */
