/*
 * A hash map from 64-bit keys (page numbers) to 32-bit values, for host
 * code in sim/ and its benchmarks: open addressing with linear probing,
 * power-of-two capacity kept at most half full, Fibonacci hashing
 * (multiply by 2^64/phi, keep the top bits), which spreads the sequential
 * page numbers of real traces evenly. No deletion: the users map every
 * distinct page once (refsim.c gives each a dense id).
 */
#ifndef KMM_SIM_U64MAP_H
#define KMM_SIM_U64MAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct u64map {
	uint64_t *keys;
	uint32_t *vals;
	unsigned char *used;
	size_t cap, n;
	unsigned int shift; /* 64 - log2(cap) */
};

static inline int u64map_init(struct u64map *m, size_t hint)
{
	size_t cap = 64;
	unsigned int bits = 6;
	while (cap < 2 * hint && bits < 40) {
		cap <<= 1;
		bits++;
	}
	m->keys = malloc(cap * sizeof(*m->keys));
	m->vals = malloc(cap * sizeof(*m->vals));
	m->used = calloc(cap, 1);
	m->cap = cap;
	m->n = 0;
	m->shift = 64 - bits;
	if (!m->keys || !m->vals || !m->used) {
		free(m->keys);
		free(m->vals);
		free(m->used);
		m->keys = NULL;
		m->vals = NULL;
		m->used = NULL;
		return -1;
	}
	return 0;
}

static inline void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	m->keys = NULL;
	m->vals = NULL;
	m->used = NULL;
}

static inline size_t u64map_slot(const struct u64map *m, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> m->shift);
}

static inline int u64map_grow(struct u64map *m)
{
	struct u64map big;
	if (u64map_init(&big, m->cap))
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		size_t s = u64map_slot(&big, m->keys[i]);
		while (big.used[s])
			s = (s + 1) & (big.cap - 1);
		big.used[s] = 1;
		big.keys[s] = m->keys[i];
		big.vals[s] = m->vals[i];
	}
	big.n = m->n;
	u64map_free(m);
	*m = big;
	return 0;
}

/* The value of @key, or NULL. */
static inline uint32_t *u64map_find(const struct u64map *m, uint64_t key)
{
	size_t s = u64map_slot(m, key);
	while (m->used[s]) {
		if (m->keys[s] == key)
			return &m->vals[s];
		s = (s + 1) & (m->cap - 1);
	}
	return NULL;
}

/*
 * The value slot of @key, inserted with @val if it was missing (*@added
 * says which). NULL if the map could not grow.
 */
static inline uint32_t *u64map_insert(struct u64map *m, uint64_t key, uint32_t val, bool *added)
{
	size_t s = u64map_slot(m, key);
	while (m->used[s]) {
		if (m->keys[s] == key) {
			*added = false;
			return &m->vals[s];
		}
		s = (s + 1) & (m->cap - 1);
	}
	if (2 * (m->n + 1) > m->cap) {
		if (u64map_grow(m))
			return NULL;
		s = u64map_slot(m, key);
		while (m->used[s])
			s = (s + 1) & (m->cap - 1);
	}
	m->used[s] = 1;
	m->keys[s] = key;
	m->vals[s] = val;
	m->n++;
	*added = true;
	return &m->vals[s];
}

#endif /* KMM_SIM_U64MAP_H */
