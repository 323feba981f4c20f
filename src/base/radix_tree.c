/*
 * Radix trees (see include/kmm/radix_tree.h).
 *
 * Linux: lib/radix-tree.c (radix_tree_extend, __radix_tree_create,
 * radix_tree_shrink, tag propagation in radix_tree_tag_set/clear) and
 * lib/xarray.c. A node at shift s holds 64 slots, slot k covering indices
 * [base + k << s, base + (k + 1) << s); at shift 0 the slots hold the
 * entries. The root node's shift says how tall the tree is: it covers
 * indices [0, 64 << shift).
 *
 * Tags: bit k of node->tags[t] is set iff slot k's entry (shift 0) or some
 * entry below slot k (shift > 0) carries tag t. Setting a tag sets the bit
 * on the whole path; clearing it clears upward only while a node has no
 * other bit of that tag left.
 *
 * Value entries: each node counts the value entries among its slots
 * (nr_values, as Linux's xa_node), which are only ever in bottom-level
 * nodes. A node whose count equals its nr_values (and is not empty)
 * holds nothing but values: for the page cache, only shadows. An owner
 * that keeps shadows watches for those through root->update_node, called
 * with the owner's tree lock held (as for every change) when a bottom node
 * starts or stops holding only values: an entry in or out, a page replaced
 * by a value or back, the node emptied before it is freed. Linux's
 * xas_update calls workingset_update_node at every change of a node and
 * lets it test the same condition; testing it here keeps the call off the
 * page cache's common path, where a node of pages stays one (Linux:
 * lib/xarray.c xas_update, mm/workingset.c workingset_update_node).
 */
#include <kmm/radix_tree.h>
#include <kmm/bitops.h>
#include <errno.h>

void radix_tree_init(struct radix_tree_root *root, struct radix_tree_node *(*node_alloc)(void *ctx),
		     void (*node_free)(void *ctx, struct radix_tree_node *node), void *ctx)
{
	root->rnode = NULL;
	root->node_alloc = node_alloc;
	root->node_free = node_free;
	root->ctx = ctx;
	root->update_node = NULL;
	root->update_ctx = NULL;
	root->lock = NULL;
}

void radix_tree_set_update(struct radix_tree_root *root,
			   void (*update_node)(struct radix_tree_root *, struct radix_tree_node *),
			   void *update_ctx, spinlock_t *lock)
{
	root->update_node = update_node;
	root->update_ctx = update_ctx;
	root->lock = lock;
}

static inline bool only_values(const struct radix_tree_node *node)
{
	return node->count && node->count == node->nr_values;
}

/*
 * A bottom node changed; it held only values before iff @was: tell the
 * owner if that is no longer so (Linux xas_update).
 */
static inline void node_update(struct radix_tree_root *root, struct radix_tree_node *node, bool was)
{
	if (root->update_node && only_values(node) != was)
		root->update_node(root, node);
}

static inline unsigned long node_maxindex(const struct radix_tree_node *node)
{
	unsigned int bits = node->shift + RADIX_TREE_MAP_SHIFT;
	return bits >= BITS_PER_LONG ? ~0UL : (1UL << bits) - 1;
}

static inline unsigned int slot_of(const struct radix_tree_node *node, unsigned long index)
{
	return (unsigned int)((index >> node->shift) & RADIX_TREE_MAP_MASK);
}

static struct radix_tree_node *node_new(struct radix_tree_root *root, unsigned int shift,
					struct radix_tree_node *parent, unsigned int offset)
{
	struct radix_tree_node *node = root->node_alloc(root->ctx);
	if (!node)
		return NULL;
	*node = (struct radix_tree_node){0};
	node->shift = (unsigned char)shift;
	node->parent = parent;
	node->offset = (unsigned char)offset;
	node->root = root;
	INIT_LIST_HEAD(&node->private_list);
	return node;
}

static bool node_any_tag(const struct radix_tree_node *node, unsigned int tag)
{
	return node->tags[tag] != 0;
}

/* Free @node and its ancestors while they are empty (after a failed insert or a delete). */
static void delete_empty_nodes(struct radix_tree_root *root, struct radix_tree_node *node)
{
	while (node && node->count == 0) {
		struct radix_tree_node *parent = node->parent;
		if (parent) {
			parent->slots[node->offset] = NULL;
			parent->count--;
			for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
				parent->tags[t] &= ~(1UL << node->offset);
		} else {
			root->rnode = NULL;
		}
		root->node_free(root->ctx, node);
		node = parent;
	}
}

/* Drop root levels whose only child is in slot 0 (radix_tree_shrink). */
static void shrink(struct radix_tree_root *root)
{
	struct radix_tree_node *node = root->rnode;
	while (node && node->shift > 0 && node->count == 1 && node->slots[0]) {
		struct radix_tree_node *child = node->slots[0];
		child->parent = NULL;
		child->offset = 0;
		root->rnode = child;
		root->node_free(root->ctx, node);
		node = child;
	}
}

/* Add levels on top until the root covers @index (radix_tree_extend). */
static int extend(struct radix_tree_root *root, unsigned long index)
{
	if (!root->rnode) {
		unsigned int shift = 0;
		while (shift + RADIX_TREE_MAP_SHIFT < BITS_PER_LONG &&
		       index > (1UL << (shift + RADIX_TREE_MAP_SHIFT)) - 1)
			shift += RADIX_TREE_MAP_SHIFT;
		root->rnode = node_new(root, shift, NULL, 0);
		return root->rnode ? 0 : -ENOMEM;
	}
	while (index > node_maxindex(root->rnode)) {
		struct radix_tree_node *old = root->rnode;
		struct radix_tree_node *top =
		    node_new(root, old->shift + RADIX_TREE_MAP_SHIFT, NULL, 0);
		if (!top)
			return -ENOMEM;
		top->slots[0] = old;
		top->count = 1;
		for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
			if (node_any_tag(old, t))
				top->tags[t] = 1;
		old->parent = top;
		old->offset = 0;
		root->rnode = top;
	}
	return 0;
}

int radix_tree_insert(struct radix_tree_root *root, unsigned long index, void *item)
{
	int err = extend(root, index);
	if (err) {
		shrink(root);
		return err;
	}
	struct radix_tree_node *node = root->rnode;
	while (node->shift > 0) {
		unsigned int off = slot_of(node, index);
		struct radix_tree_node *child = node->slots[off];
		if (!child) {
			child = node_new(root, node->shift - RADIX_TREE_MAP_SHIFT, node, off);
			if (!child) {
				delete_empty_nodes(root, node);
				shrink(root);
				return -ENOMEM;
			}
			node->slots[off] = child;
			node->count++;
		}
		node = child;
	}
	unsigned int off = slot_of(node, index);
	if (node->slots[off])
		return -EEXIST;
	bool was = only_values(node);
	node->slots[off] = item;
	node->count++;
	if (xa_is_value(item))
		node->nr_values++;
	node_update(root, node, was);
	return 0;
}

/* The leaf node holding @index, or NULL. */
static struct radix_tree_node *find_leaf(const struct radix_tree_root *root, unsigned long index)
{
	struct radix_tree_node *node = root->rnode;
	if (!node || index > node_maxindex(node))
		return NULL;
	while (node && node->shift > 0)
		node = node->slots[slot_of(node, index)];
	return node;
}

void *radix_tree_lookup(const struct radix_tree_root *root, unsigned long index)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	return leaf ? leaf->slots[index & RADIX_TREE_MAP_MASK] : NULL;
}

void *radix_tree_replace(struct radix_tree_root *root, unsigned long index, void *item)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	if (!leaf || !leaf->slots[index & RADIX_TREE_MAP_MASK] || !item)
		return NULL;
	void *old = leaf->slots[index & RADIX_TREE_MAP_MASK];
	leaf->slots[index & RADIX_TREE_MAP_MASK] = item;
	if (xa_is_value(old) != xa_is_value(item)) {
		bool was = only_values(leaf);
		if (xa_is_value(item))
			leaf->nr_values++;
		else
			leaf->nr_values--;
		node_update(root, leaf, was);
	}
	return old;
}

/* Clear @tag of slot @off in @node and upward while nodes lose their last bit. */
static void clear_tag_up(struct radix_tree_node *node, unsigned int off, unsigned int tag)
{
	while (node) {
		if (!(node->tags[tag] & (1UL << off)))
			return;
		node->tags[tag] &= ~(1UL << off);
		if (node->tags[tag])
			return;
		off = node->offset;
		node = node->parent;
	}
}

void *radix_tree_delete(struct radix_tree_root *root, unsigned long index)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	if (!leaf)
		return NULL;
	unsigned int off = index & RADIX_TREE_MAP_MASK;
	void *item = leaf->slots[off];
	if (!item)
		return NULL;
	for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
		clear_tag_up(leaf, off, t);
	bool was = only_values(leaf);
	leaf->slots[off] = NULL;
	leaf->count--;
	if (xa_is_value(item))
		leaf->nr_values--;
	node_update(root, leaf, was);
	delete_empty_nodes(root, leaf);
	shrink(root);
	return item;
}

unsigned long radix_tree_delete_node(struct radix_tree_root *root, struct radix_tree_node *node)
{
	unsigned long values = node->nr_values;
	if (node->shift != 0 || node->count != node->nr_values)
		return 0; /* holds a page (or is not a bottom node): not ours to drop */
	for (unsigned int i = 0; i < RADIX_TREE_MAP_SIZE; i++)
		node->slots[i] = NULL;
	node->count = 0;
	node->nr_values = 0;
	node_update(root, node, true);
	delete_empty_nodes(root, node);
	shrink(root);
	return values;
}

void radix_tree_tag_set(struct radix_tree_root *root, unsigned long index, unsigned int tag)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	if (!leaf || !leaf->slots[index & RADIX_TREE_MAP_MASK])
		return;
	unsigned int off = index & RADIX_TREE_MAP_MASK;
	for (struct radix_tree_node *node = leaf; node; node = node->parent) {
		if (node->tags[tag] & (1UL << off))
			return; /* the path above is tagged already */
		node->tags[tag] |= 1UL << off;
		off = node->offset;
	}
}

void radix_tree_tag_clear(struct radix_tree_root *root, unsigned long index, unsigned int tag)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	if (leaf)
		clear_tag_up(leaf, index & RADIX_TREE_MAP_MASK, tag);
}

bool radix_tree_tag_get(const struct radix_tree_root *root, unsigned long index, unsigned int tag)
{
	struct radix_tree_node *leaf = find_leaf(root, index);
	return leaf && (leaf->tags[tag] & (1UL << (index & RADIX_TREE_MAP_MASK)));
}

bool radix_tree_tagged(const struct radix_tree_root *root, unsigned int tag)
{
	return root->rnode && node_any_tag(root->rnode, tag);
}

/* First entry >= *index below @node, which covers indices from @base. */
static void *next_below(const struct radix_tree_node *node, unsigned long base,
			unsigned long *index, int tag)
{
	unsigned long off = *index > base ? (*index - base) >> node->shift : 0;
	for (; off < RADIX_TREE_MAP_SIZE; off++) {
		if (tag >= 0) {
			unsigned long word = node->tags[tag] >> off;
			if (!word)
				return NULL;
			off += __ffs(word);
		} else if (!node->slots[off]) {
			continue;
		}
		unsigned long child_base = base + (off << node->shift);
		if (node->shift == 0) {
			*index = child_base;
			return node->slots[off];
		}
		if (*index < child_base)
			*index = child_base;
		void *item = next_below(node->slots[off], child_base, index, tag);
		if (item)
			return item;
	}
	return NULL;
}

void *radix_tree_next(const struct radix_tree_root *root, unsigned long *index, int tag)
{
	struct radix_tree_node *node = root->rnode;
	if (!node || *index > node_maxindex(node))
		return NULL;
	return next_below(node, 0, index, tag);
}

static unsigned long count_nodes(const struct radix_tree_node *node)
{
	unsigned long n = 1;
	if (node->shift > 0)
		for (unsigned int i = 0; i < RADIX_TREE_MAP_SIZE; i++)
			if (node->slots[i])
				n += count_nodes(node->slots[i]);
	return n;
}

unsigned long radix_tree_nr_nodes(const struct radix_tree_root *root)
{
	return root->rnode ? count_nodes(root->rnode) : 0;
}

/* The list links of a node on its owner's list, and off it, are sound. */
static bool check_listed(const struct radix_tree_root *root, const struct radix_tree_node *node,
			 const char **why)
{
	const struct list_head *l = &node->private_list;
	bool shadows_only = node->shift == 0 && node->count && node->count == node->nr_values;
	if (!root->update_node) {
		if (node->on_list || l->next != l) {
			*why = "node on a list in a tree nobody watches";
			return false;
		}
		return true;
	}
	if (shadows_only != node->on_list) {
		*why = shadows_only ? "node holding only values is not on its list"
				    : "node on the list holds a page";
		return false;
	}
	if (node->on_list ? (l->next == l || l->next->prev != l || l->prev->next != l)
			  : l->next != l || l->prev != l) {
		*why = "node's list links disagree with on_list";
		return false;
	}
	return true;
}

static long check_node(const struct radix_tree_root *root, const struct radix_tree_node *node,
		       const char **why, unsigned long *nr_values)
{
	long entries = 0;
	unsigned int used = 0, values = 0;
	if (node->root != root) {
		*why = "node's root is another tree";
		return -1;
	}
	unsigned long tags[RADIX_TREE_MAX_TAGS] = {0};
	for (unsigned int i = 0; i < RADIX_TREE_MAP_SIZE; i++) {
		if (!node->slots[i])
			continue;
		used++;
		if (node->shift == 0) {
			entries++;
			if (xa_is_value(node->slots[i])) {
				(*nr_values)++;
				values++;
				for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
					if (node->tags[t] & (1UL << i)) {
						*why = "tag set on a value entry";
						return -1;
					}
			}
			continue;
		}
		if (xa_is_value(node->slots[i])) {
			*why = "value entry in an inner node";
			return -1;
		}
		const struct radix_tree_node *child = node->slots[i];
		if (child->parent != node || child->offset != i ||
		    child->shift + RADIX_TREE_MAP_SHIFT != node->shift) {
			*why = "child's parent, offset or shift is wrong";
			return -1;
		}
		long n = check_node(root, child, why, nr_values);
		if (n < 0)
			return -1;
		if (n == 0) {
			*why = "empty node left in the tree";
			return -1;
		}
		entries += n;
		for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++)
			if (child->tags[t])
				tags[t] |= 1UL << i;
	}
	if (used != node->count) {
		*why = "node count differs from its used slots";
		return -1;
	}
	if (values != node->nr_values) {
		*why = "node's nr_values differs from its value entries";
		return -1;
	}
	if (!check_listed(root, node, why))
		return -1;
	for (unsigned int t = 0; t < RADIX_TREE_MAX_TAGS; t++) {
		if (node->shift == 0) {
			unsigned long present = 0;
			for (unsigned int i = 0; i < RADIX_TREE_MAP_SIZE; i++)
				if (node->slots[i])
					present |= 1UL << i;
			if (node->tags[t] & ~present) {
				*why = "tag set on an empty slot";
				return -1;
			}
		} else if (tags[t] != node->tags[t]) {
			*why = "tag bits do not match the subtrees";
			return -1;
		}
	}
	return entries;
}

long radix_tree_check_values(const struct radix_tree_root *root, const char **why,
			     unsigned long *nr_values)
{
	unsigned long values = 0;
	*why = NULL;
	if (nr_values)
		*nr_values = 0;
	if (!root->rnode)
		return 0;
	if (root->rnode->parent) {
		*why = "root node has a parent";
		return -1;
	}
	long n = check_node(root, root->rnode, why, &values);
	if (nr_values)
		*nr_values = values;
	return n;
}

long radix_tree_check(const struct radix_tree_root *root, const char **why)
{
	return radix_tree_check_values(root, why, NULL);
}
