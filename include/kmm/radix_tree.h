/*
 * Radix trees: a sparse array from unsigned long indices to pointers, with
 * three marks (tags) per entry that can be searched for.
 *
 * Linux: lib/radix-tree.c and its successor lib/xarray.c (the page cache's
 * i_pages). Nodes of 64 slots, each node covering 6 bits of the index; the
 * tree grows a level at the top when an index does not fit and shrinks when
 * only its first slot is used. A node's tag bit for a slot is set if the
 * entry (or any entry below it) carries the tag, so "the next dirty page
 * from index i" skips untagged subtrees.
 *
 * The tree allocates nodes through callbacks the owner gives (the page
 * cache gives a slab cache), so it stays in base/. It takes no lock: the
 * owner serialises changes (the page cache holds its i_pages lock).
 */
#ifndef KMM_RADIX_TREE_H
#define KMM_RADIX_TREE_H

#include <kmm/compiler.h>
#include <kmm/list.h>
#include <kmm/spinlock.h>

#define RADIX_TREE_MAP_SHIFT 6
#define RADIX_TREE_MAP_SIZE  (1UL << RADIX_TREE_MAP_SHIFT)
#define RADIX_TREE_MAP_MASK  (RADIX_TREE_MAP_SIZE - 1)
#define RADIX_TREE_MAX_TAGS  3
#define RADIX_TREE_TAG_0     0
#define RADIX_TREE_TAG_1     1
#define RADIX_TREE_TAG_2     2

/*
 * Value entries: a slot may hold a number instead of a pointer, tagged by
 * its low bit (pointers to nodes and to pages are at least 2-aligned).
 * The page cache and the swap cache keep the shadow of an evicted page so
 * (Linux xa_mk_value, xa_is_value, xa_to_value). The tree stores them like
 * any entry; their owners never tag them.
 */
static inline void *xa_mk_value(unsigned long v)
{
	return (void *)((v << 1) | 1UL);
}
static inline bool xa_is_value(const void *entry)
{
	return ((unsigned long)entry & 1UL) != 0;
}
static inline unsigned long xa_to_value(const void *entry)
{
	return (unsigned long)entry >> 1;
}
#define BITS_PER_XA_VALUE 63 /* an unsigned long less the tag bit */

struct radix_tree_root;

struct radix_tree_node {
	unsigned char shift;	  /* index bits below this node's slots (0: slots hold entries) */
	unsigned char offset;	  /* slot in the parent */
	unsigned short count;	  /* slots in use */
	unsigned short nr_values; /* of them, value entries (Linux xa_node nr_values) */
	bool on_list;		  /* on the owner's list (private_list), kept by update_node */
	struct radix_tree_node *parent;
	struct radix_tree_root *root;  /* the tree it belongs to (Linux xa_node array) */
	struct list_head private_list; /* the owner's; the tree only initialises it */
	void *slots[RADIX_TREE_MAP_SIZE];
	unsigned long tags[RADIX_TREE_MAX_TAGS];
};

struct radix_tree_root {
	struct radix_tree_node *rnode;
	struct radix_tree_node *(*node_alloc)(void *ctx); /* zeroed node, or NULL */
	void (*node_free)(void *ctx, struct radix_tree_node *node);
	void *ctx;
	/*
	 * Called, after the change, when a bottom-level node starts or stops
	 * holding only value entries (count == nr_values > 0), including when
	 * the last entry leaves before the node is freed: the working-set code
	 * keeps the nodes that hold only shadows on a list (Linux
	 * xas_set_update / workingset_update_node). NULL: nobody watches.
	 */
	void (*update_node)(struct radix_tree_root *root, struct radix_tree_node *node);
	void *update_ctx;
	spinlock_t *lock; /* the owner's lock around the tree, for who comes from a node */
};

void radix_tree_init(struct radix_tree_root *root, struct radix_tree_node *(*node_alloc)(void *ctx),
		     void (*node_free)(void *ctx, struct radix_tree_node *node), void *ctx);
/* Watch the tree's bottom-level nodes (see update_node); @lock is the owner's tree lock. */
void radix_tree_set_update(struct radix_tree_root *root,
			   void (*update_node)(struct radix_tree_root *, struct radix_tree_node *),
			   void *update_ctx, spinlock_t *lock);
/* Store @item (non-NULL) at @index: 0, -EEXIST if taken, -ENOMEM. */
int radix_tree_insert(struct radix_tree_root *root, unsigned long index, void *item);
void *radix_tree_lookup(const struct radix_tree_root *root, unsigned long index);
/* Replace the entry at @index (which must exist) by @item; returns the old one. */
void *radix_tree_replace(struct radix_tree_root *root, unsigned long index, void *item);
/* Remove the entry at @index and its tags; returns it, or NULL if there was none. */
void *radix_tree_delete(struct radix_tree_root *root, unsigned long index);
void radix_tree_tag_set(struct radix_tree_root *root, unsigned long index, unsigned int tag);
void radix_tree_tag_clear(struct radix_tree_root *root, unsigned long index, unsigned int tag);
bool radix_tree_tag_get(const struct radix_tree_root *root, unsigned long index, unsigned int tag);
/* Does any entry carry @tag? */
bool radix_tree_tagged(const struct radix_tree_root *root, unsigned int tag);
/*
 * The first entry at an index >= *@index (with @tag, unless @tag < 0);
 * *@index is set to its index. NULL when there is none.
 */
void *radix_tree_next(const struct radix_tree_root *root, unsigned long *index, int tag);
/*
 * Delete a bottom-level node that holds only value entries, the values
 * with it, and the ancestors it leaves empty (Linux xa_delete_node).
 * Returns the values deleted.
 */
unsigned long radix_tree_delete_node(struct radix_tree_root *root, struct radix_tree_node *node);
/* Nodes in the tree (for accounting and checks). */
unsigned long radix_tree_nr_nodes(const struct radix_tree_root *root);
/*
 * Check counts, parent links and tag propagation; returns the number of
 * entries (value entries included; *@nr_values, if given, gets how many of
 * them are values), or -1 with a reason in @why. A tagged value entry is an
 * error. Each node's nr_values is checked, and, when update_node watches
 * the tree, that exactly the bottom-level nodes holding only values are
 * on_list and linked into a list (and no other node is).
 */
long radix_tree_check_values(const struct radix_tree_root *root, const char **why,
			     unsigned long *nr_values);
/*
 * Check counts, parent links and tag propagation; returns the number of
 * entries, or -1 with a reason in @why.
 */
long radix_tree_check(const struct radix_tree_root *root, const char **why);

#define radix_tree_for_each(root, index, item, tag) \
	for ((index) = 0; ((item) = radix_tree_next(root, &(index), tag)) != NULL; (index)++)

#endif /* KMM_RADIX_TREE_H */
