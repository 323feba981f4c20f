/*
 * Shadow nodes: the radix tree nodes of page caches and swap caches that
 * hold nothing but shadow entries, kept on one list per NUMA node so that
 * reclaim can find and free them when they grow past their use.
 *
 * Linux: mm/workingset.c of 6.1 (workingset_update_node, the shadow_nodes
 * list_lru) and mm/list_lru.c (list_lru_add, list_lru_del, one list per
 * node of the item's memory). kmm keeps the lists in vm/ rather than in
 * reclaim/, because the trees outlive reclaim's state: a machine stops
 * reclaim before the last files are closed, and a node must be able to
 * leave its list until the tree goes. The shrinker that frees nodes is
 * reclaim's (reclaim/workingset.c).
 *
 * Theory of operation.
 *  1. A tree that keeps shadows (a file's page cache, a swap cache; not
 *     shared memory, whose value entries are swap entries that must stay,
 *     as Linux's mapping_set_update leaves shmem out) has
 *     workingset_update_node as its update_node. The radix tree calls it,
 *     under the tree's lock, when a bottom-level node starts or stops
 *     holding only values (an entry in or out, a page replaced by a shadow
 *     or back, the node emptied before it is freed).
 *  2. A node with count == nr_values > 0 holds only shadows: it goes to the
 *     tail of the list of the NUMA node its memory is on (the slab page's
 *     node, as list_lru uses) and counts one in that node's
 *     workingset_nodes. Once a page takes one of its slots, or it empties,
 *     it leaves the list and the count.
 *  3. node->on_list says whether it is listed. It changes only with the
 *     tree's lock held (here, and in the shrinker, which trylocks the tree
 *     before it takes a node off), so the fast path tests it without the
 *     list lock; list_empty(&node->private_list) could not be read so,
 *     because a neighbour's insertion writes the node's links.
 *
 * Locks: a tree's lock (mapping->i_pages_lock, swap_address_space::lock),
 * then shadow_node_list::lock. The shrinker comes from the list, so it
 * only trylocks the tree's lock under the list lock. Holding the list lock
 * pins every tree with a node on the list: a tree is emptied, under its
 * lock and through this file, before its owner frees it.
 */
#include "vm.h"
#include <errno.h>

void shadow_nodes_init(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	for (int nid = 0; nid < KMM_MAX_NUMNODES; nid++) {
		spin_lock_init(&vm->shadow_nodes[nid].lock);
		INIT_LIST_HEAD(&vm->shadow_nodes[nid].head);
		vm->shadow_nodes[nid].nr = 0;
		vm->shadow_nodes[nid].nid = nid;
	}
}

static int shadow_node_nid(struct kmm_machine *m, const struct radix_tree_node *node)
{
	return page_to_nid(virt_to_page(m, node));
}

struct shadow_node_list *shadow_node_list_of(struct kmm_machine *m,
					     const struct radix_tree_node *node)
{
	return &vm_state(m)->shadow_nodes[shadow_node_nid(m, node)];
}

void shadow_node_unlist(struct kmm_machine *m, struct shadow_node_list *list,
			struct radix_tree_node *node)
{
	list_del_init(&node->private_list);
	node->on_list = false;
	WRITE_ONCE(list->nr, list->nr - 1); /* the shrinker's count reads it unlocked */
	mod_node_page_state(NODE_DATA(m, list->nid), WORKINGSET_NODES, -1);
}

static void shadow_node_list_add(struct kmm_machine *m, struct radix_tree_node *node)
{
	struct shadow_node_list *list = shadow_node_list_of(m, node);
	spin_lock(&list->lock);
	list_add_tail(&node->private_list, &list->head);
	node->on_list = true;
	WRITE_ONCE(list->nr, list->nr + 1);
	mod_node_page_state(NODE_DATA(m, list->nid), WORKINGSET_NODES, 1);
	spin_unlock(&list->lock);
}

static void shadow_node_list_del(struct kmm_machine *m, struct radix_tree_node *node)
{
	struct shadow_node_list *list = shadow_node_list_of(m, node);
	spin_lock(&list->lock);
	shadow_node_unlist(m, list, node);
	spin_unlock(&list->lock);
}

void workingset_update_node(struct radix_tree_root *root, struct radix_tree_node *node)
{
	struct kmm_machine *m = root->update_ctx;
	bool shadows_only = node->count && node->count == node->nr_values;
	/* The shrinker unlists a node before it deletes it: nothing to do then. */
	if (shadows_only == node->on_list)
		return;
	if (shadows_only)
		shadow_node_list_add(m, node);
	else
		shadow_node_list_del(m, node);
}

/* Is @node still linked into the tree it names? */
static bool node_in_its_tree(const struct radix_tree_node *node)
{
	const struct radix_tree_node *n = node;
	while (n->parent) {
		if (n->parent->slots[n->offset] != n)
			return false;
		n = n->parent;
	}
	return n == node->root->rnode;
}

int shadow_nodes_validate(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	int nid;
	for_each_online_node (m, nid) {
		struct kmm_node *pgdat = NODE_DATA(m, nid);
		struct shadow_node_list *list = &vm->shadow_nodes[nid];
		unsigned long n = 0;
		struct radix_tree_node *node;
		int ret = 0;
		if (!pgdat)
			continue;
		spin_lock(&list->lock);
		list_for_each_entry (node, &list->head, private_list) {
			n++;
			if (!node->on_list || node->shift != 0 || !node->count ||
			    node->count != node->nr_values)
				ret =
				    kmm_error_set(err, -EINVAL,
						  "shadow list of node %d: node %p (on_list %d, "
						  "shift %u) holds %u entries, %u of them shadows",
						  nid, (void *)node, node->on_list, node->shift,
						  node->count, node->nr_values);
			else if (shadow_node_nid(m, node) != nid)
				ret = kmm_error_set(
				    err, -EINVAL,
				    "shadow list of node %d: node %p is node %d's memory", nid,
				    (void *)node, shadow_node_nid(m, node));
			else if (!node->root || node->root->update_node != workingset_update_node ||
				 !node_in_its_tree(node))
				ret = kmm_error_set(err, -EINVAL,
						    "shadow list of node %d: node %p is not in a "
						    "watched tree",
						    nid, (void *)node);
			if (ret)
				break;
		}
		unsigned long nr = list->nr;
		spin_unlock(&list->lock);
		if (ret)
			return ret;
		unsigned long gauge = node_page_state(pgdat, WORKINGSET_NODES);
		if (n != nr || nr != gauge)
			return kmm_error_set(
			    err, -EINVAL,
			    "shadow list of node %d: %lu nodes on it, nr says %lu, "
			    "workingset_nodes %lu",
			    nid, n, nr, gauge);
	}
	return 0;
}
