/*
 * A shadow model of tasks' memory for the address-space tests: what every
 * mapped page of every task must contain, kept page by page in host
 * memory, with the semantics Linux gives each kind of mapping:
 *  - private anonymous: zeros until written; copied at fork;
 *  - shared anonymous (shmem) and shared file pages: one object shared by
 *    every mapping (and, for files, the host file once written back);
 *  - private file pages: the file's current contents until the first write,
 *    then a private copy;
 *  - after MADV_FREE: either the old contents or zeros (reclaim may discard
 *    the page), resolved by the next access.
 * The test applies each operation to the machine and to the shadow, and
 * compares bytes.
 */
#ifndef KMM_TEST_VM_SHADOW_H
#define KMM_TEST_VM_SHADOW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPAGE 4096UL

struct sobj {
	uint8_t *data; /* npages * SPAGE bytes */
	size_t npages;
	size_t size; /* file size in bytes (shmem: npages * SPAGE) */
	int refs;    /* mappings holding it, plus one for an open file */
	int file;    /* index of the test file, -1 for shmem */
};

struct spage {
	unsigned long addr;
	int prot;	     /* KMM_PROT_* */
	struct sobj *obj;    /* NULL: private anonymous */
	unsigned long opage; /* page index in obj */
	uint8_t
	    *priv;   /* private copy (anonymous data, or COWed file page); NULL: see obj or zero */
	bool shared; /* writes go to obj */
	bool lazy;   /* MADV_FREE'd: old contents or zeros */
};

struct stask {
	struct spage *pages; /* sorted by addr */
	size_t n, cap;
	unsigned long start_brk, brk;
};

static inline void sobj_get(struct sobj *o)
{
	if (o)
		o->refs++;
}

static inline void sobj_put(struct sobj *o)
{
	if (o && --o->refs == 0) {
		free(o->data);
		free(o);
	}
}

static inline struct sobj *sobj_new(size_t npages, size_t size, int file)
{
	struct sobj *o = calloc(1, sizeof(*o));
	o->data = calloc(npages ? npages : 1, SPAGE);
	o->npages = npages;
	o->size = size;
	o->refs = 1;
	o->file = file;
	return o;
}

/* Index of the first page with addr >= @addr. */
static inline size_t st_lower(const struct stask *s, unsigned long addr)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->pages[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline struct spage *st_find(struct stask *s, unsigned long addr)
{
	size_t i = st_lower(s, addr);
	return i < s->n && s->pages[i].addr == addr ? &s->pages[i] : NULL;
}

static inline void spage_release(struct spage *p)
{
	free(p->priv);
	p->priv = NULL;
	sobj_put(p->obj);
	p->obj = NULL;
}

/* Remove every page in [start, end). */
static inline void st_remove(struct stask *s, unsigned long start, unsigned long end)
{
	size_t i = st_lower(s, start), j = i;
	while (j < s->n && s->pages[j].addr < end)
		spage_release(&s->pages[j++]);
	memmove(&s->pages[i], &s->pages[j], (s->n - j) * sizeof(struct spage));
	s->n -= j - i;
}

/* Insert @p (its addr must be free). */
static inline struct spage *st_insert(struct stask *s, const struct spage *p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->pages = realloc(s->pages, s->cap * sizeof(struct spage));
	}
	size_t i = st_lower(s, p->addr);
	memmove(&s->pages[i + 1], &s->pages[i], (s->n - i) * sizeof(struct spage));
	s->pages[i] = *p;
	s->n++;
	return &s->pages[i];
}

static inline void st_clear(struct stask *s)
{
	for (size_t i = 0; i < s->n; i++)
		spage_release(&s->pages[i]);
	s->n = 0;
}

static inline void st_free(struct stask *s)
{
	st_clear(s);
	free(s->pages);
	s->pages = NULL;
	s->cap = 0;
}

/* fork: every page copied; private data duplicated, objects shared. */
static inline void st_copy(struct stask *dst, const struct stask *src)
{
	st_clear(dst);
	for (size_t i = 0; i < src->n; i++) {
		struct spage p = src->pages[i];
		if (p.priv) {
			p.priv = malloc(SPAGE);
			memcpy(p.priv, src->pages[i].priv, SPAGE);
		}
		sobj_get(p.obj);
		st_insert(dst, &p);
	}
	dst->start_brk = src->start_brk;
	dst->brk = src->brk;
}

/* The bytes a page must hold now (NULL: all zeros). */
static inline const uint8_t *spage_data(const struct spage *p)
{
	if (p->priv)
		return p->priv;
	if (p->obj)
		return p->obj->data + p->opage * SPAGE;
	return NULL;
}

/* Make the page writable in the shadow: the buffer a write goes to. */
static inline uint8_t *spage_wdata(struct spage *p)
{
	if (p->shared)
		return p->obj->data + p->opage * SPAGE;
	if (!p->priv) {
		p->priv = calloc(1, SPAGE);
		if (p->obj)
			memcpy(p->priv, p->obj->data + p->opage * SPAGE, SPAGE);
	}
	return p->priv;
}

#endif /* KMM_TEST_VM_SHADOW_H */
