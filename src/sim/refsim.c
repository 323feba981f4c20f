/*
 * Page-reference simulation: how many faults a reference string takes
 * with a given number of page frames under exact LRU and under Belady's
 * OPT. The yardsticks for kmm's reclaim: real reclaim approximates LRU
 * (active/inactive lists, multi-gen LRU), and no policy beats OPT.
 *
 * Linux counterpart: none (mm/vmscan.c approximates what this computes
 * exactly). Sources: L. A. Belady, "A study of replacement algorithms for
 * a virtual-storage computer", IBM Systems Journal 5(2), 1966 (OPT);
 * R. L. Mattson, J. Gecsei, D. R. Slutz, I. L. Traiger, "Evaluation
 * techniques for storage hierarchies", IBM Systems Journal 9(2), 1970
 * (stack distances: LRU is a stack algorithm, so one pass gives the fault
 * count of every memory size).
 *
 * Theory of operation:
 *  1. Pages are renamed to dense ids 0..D-1 (a hash map, one pass), so
 *     every later structure is a plain array.
 *  2. LRU with F frames: a doubly-linked recency list of the resident
 *     ids; a hit moves the id to the front, a miss with all frames full
 *     evicts the tail. O(1) per reference.
 *  3. OPT with F frames: next[i] is the position of the next reference to
 *     the page of refs[i] (n if none), computed backwards in one pass.
 *     Resident pages sit in a max-heap keyed by their next use; a miss
 *     with all frames full evicts the top, the page needed farthest in the
 *     future. A hit only changes the page's key, so the new key is pushed
 *     and the old entry is left to be recognised as stale (its key is no
 *     longer the page's current next use) when it surfaces. O(log n) per
 *     reference.
 *  4. LRU for several frame counts: the stack distance of a reference is
 *     the number of distinct pages referenced since the previous reference
 *     to the same page, plus one; it faults with F frames iff the distance
 *     is above F (or there was no previous reference). The count of
 *     distinct pages in a window is a prefix sum over positions that are
 *     the latest reference of their page, kept in a Fenwick tree.
 *     O(log n) per reference for all frame counts together.
 */
#include "u64map.h"

#include <errno.h>
#include <kmm/sim.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* Dense ids for refs[0..n); returns the number of distinct pages, or -ENOMEM. */
static long dense_ids(const uint64_t *refs, size_t n, uint32_t *ids)
{
	struct u64map map;
	if (u64map_init(&map, 1024))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool added;
		uint32_t *v = u64map_insert(&map, refs[i], (uint32_t)map.n, &added);
		if (!v) {
			u64map_free(&map);
			return -ENOMEM;
		}
		ids[i] = *v;
	}
	long d = (long)map.n;
	u64map_free(&map);
	return d;
}

size_t kmm_refsim_distinct(const uint64_t *refs, size_t n)
{
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return (size_t)-1;
	long d = dense_ids(refs, n, ids);
	free(ids);
	return d < 0 ? (size_t)-1 : (size_t)d;
}

int kmm_refsim_lru(const uint64_t *refs, size_t n, size_t frames, uint64_t *faults)
{
	if (!frames || n >= NONE)
		return -EINVAL;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	long d = dense_ids(refs, n, ids);
	if (d < 0) {
		free(ids);
		return -ENOMEM;
	}
	uint32_t *prev = malloc(((size_t)d + 1) * sizeof(*prev));
	uint32_t *next = malloc(((size_t)d + 1) * sizeof(*next));
	unsigned char *resident = calloc((size_t)d + 1, 1);
	if (!prev || !next || !resident) {
		free(ids);
		free(prev);
		free(next);
		free(resident);
		return -ENOMEM;
	}
	uint32_t head = NONE, tail = NONE; /* most and least recently used */
	size_t used = 0;
	uint64_t f = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (resident[id]) {
			if (head == id)
				continue;
			/* Unlink, then push at the front. */
			next[prev[id]] = next[id];
			if (next[id] != NONE)
				prev[next[id]] = prev[id];
			else
				tail = prev[id];
		} else {
			f++;
			if (used == frames) {
				uint32_t victim = tail;
				resident[victim] = 0;
				tail = prev[victim];
				if (tail != NONE)
					next[tail] = NONE;
				else
					head = NONE;
			} else {
				used++;
			}
			resident[id] = 1;
		}
		prev[id] = NONE;
		next[id] = head;
		if (head != NONE)
			prev[head] = id;
		head = id;
		if (tail == NONE)
			tail = id;
	}
	*faults = f;
	free(ids);
	free(prev);
	free(next);
	free(resident);
	return 0;
}

struct heap_entry {
	uint32_t key; /* next use */
	uint32_t id;
};

static void heap_push(struct heap_entry *h, size_t *len, struct heap_entry e)
{
	size_t i = (*len)++;
	while (i) {
		size_t parent = (i - 1) / 2;
		if (h[parent].key >= e.key)
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = e;
}

static struct heap_entry heap_pop(struct heap_entry *h, size_t *len)
{
	struct heap_entry top = h[0], last = h[--(*len)];
	size_t i = 0, n = *len;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1].key > h[c].key)
			c++;
		if (h[c].key <= last.key)
			break;
		h[i] = h[c];
		i = c;
	}
	if (n)
		h[i] = last;
	return top;
}

int kmm_refsim_opt(const uint64_t *refs, size_t n, size_t frames, uint64_t *faults)
{
	if (!frames || n >= NONE)
		return -EINVAL;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	uint32_t *nextuse = malloc((n ? n : 1) * sizeof(*nextuse));
	if (!ids || !nextuse) {
		free(ids);
		free(nextuse);
		return -ENOMEM;
	}
	long d = dense_ids(refs, n, ids);
	/* One heap entry per reference at most (a push per hit or miss). */
	struct heap_entry *heap = malloc((n ? n : 1) * sizeof(*heap));
	uint32_t *cur = malloc(((size_t)(d > 0 ? d : 0) + 1) * sizeof(*cur));
	unsigned char *resident = calloc((size_t)(d > 0 ? d : 0) + 1, 1);
	int ret = 0;
	if (d < 0 || !heap || !cur || !resident) {
		ret = -ENOMEM;
		goto out;
	}
	/* next use of each position, walking backwards with the last position seen per id */
	for (long id = 0; id < d; id++)
		cur[id] = (uint32_t)n;
	for (size_t i = n; i-- > 0;) {
		nextuse[i] = cur[ids[i]];
		cur[ids[i]] = (uint32_t)i;
	}
	size_t hlen = 0, used = 0;
	uint64_t f = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (!resident[id]) {
			f++;
			if (used == frames) {
				for (;;) {
					struct heap_entry e = heap_pop(heap, &hlen);
					if (resident[e.id] && cur[e.id] == e.key) {
						resident[e.id] = 0;
						break;
					}
				}
			} else {
				used++;
			}
			resident[id] = 1;
		}
		cur[id] = nextuse[i];
		heap_push(heap, &hlen, (struct heap_entry){nextuse[i], id});
	}
	*faults = f;
out:
	free(ids);
	free(nextuse);
	free(heap);
	free(cur);
	free(resident);
	return ret;
}

int kmm_refsim_lru_multi(const uint64_t *refs, size_t n, const size_t *frames, size_t nframes,
			 uint64_t *faults)
{
	for (size_t k = 0; k < nframes; k++)
		if (!frames[k])
			return -EINVAL;
	if (n >= NONE)
		return -EINVAL;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	long d = dense_ids(refs, n, ids);
	uint32_t *last = malloc(((size_t)(d > 0 ? d : 0) + 1) * sizeof(*last));
	uint32_t *tree = calloc(n + 1, sizeof(*tree)); /* Fenwick tree, 1-based */
	/* hist[k]: references with stack distance k (1..D); cold misses apart */
	uint64_t *hist = calloc((size_t)(d > 0 ? d : 0) + 2, sizeof(*hist));
	uint64_t cold = 0;
	int ret = 0;
	if (d < 0 || !last || !tree || !hist) {
		ret = -ENOMEM;
		goto out;
	}
	for (long id = 0; id < d; id++)
		last[id] = NONE;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		if (last[id] == NONE) {
			cold++;
		} else {
			/* Latest references strictly after last[id]: prefix(i) - prefix(last+1). */
			uint64_t s = 0;
			for (size_t x = i; x; x -= x & -x)
				s += tree[x];
			for (size_t x = (size_t)last[id] + 1; x; x -= x & -x)
				s -= tree[x];
			hist[s + 1]++;
			for (size_t x = (size_t)last[id] + 1; x <= n; x += x & -x)
				tree[x]--;
		}
		for (size_t x = i + 1; x <= n; x += x & -x)
			tree[x]++;
		last[id] = (uint32_t)i;
	}
	/* faults(F) = cold + references with distance > F */
	for (size_t k = 0; k < nframes; k++) {
		uint64_t f = cold;
		for (long dist = (long)frames[k] + 1; dist <= d; dist++)
			f += hist[dist];
		faults[k] = f;
	}
out:
	free(ids);
	free(last);
	free(tree);
	free(hist);
	return ret;
}
