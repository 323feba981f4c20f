/*
 * libkmm-malloc: blocks above 4 MiB, each a mapping of its own.
 *
 * Linux: none in the kernel (vmalloc is the nearest); the C library's
 * mmap()ed chunks (glibc's mmap threshold) are the model. A block larger
 * than the largest buddy block cannot come from the machine's RAM, so it is
 * an anonymous mapping, given back with munmap() when freed: its memory
 * returns to the host at once. realloc() moves it with mremap(), which moves
 * page tables instead of copying bytes.
 *
 * Mappings are aligned to 2 MiB and asked for transparent huge pages
 * (KMM_MALLOC_THP=0 turns that off): a trapped first touch costs about
 * 12 us per 4 KiB page on the hosts kmm is measured on, one fault per 2 MiB
 * instead of 512 makes large buffers that are written once 20-50 times
 * cheaper to fill. The RSS cost is at most the unused part of the last
 * 2 MiB, on blocks of more than 4 MiB.
 *
 * A registry (an open-addressing hash table in host memory, under
 * huge_lock) holds every live mapping: free() of a pointer the heap does not
 * know is reported as an invalid pointer instead of unmapping whatever is
 * there, and a double free is caught.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_ALIGN (2UL << 20)

struct huge_entry {
	uintptr_t addr; /* 0: empty; 1: deleted */
	size_t len;	/* bytes mapped (a multiple of HUGE_ALIGN) */
	size_t align;	/* alignment the caller asked for (realloc keeps it) */
};

static struct huge_entry *table;
static size_t table_cap, table_used, table_tomb;

static size_t slot_of(uintptr_t addr, size_t cap)
{
	return (size_t)((addr >> 21) * 0x9e3779b97f4a7c15ULL >> 20) & (cap - 1);
}

static struct huge_entry *lookup(uintptr_t addr)
{
	if (!table)
		return NULL;
	for (size_t i = slot_of(addr, table_cap);; i = (i + 1) & (table_cap - 1)) {
		if (table[i].addr == addr)
			return &table[i];
		if (table[i].addr == 0)
			return NULL;
	}
}

static bool grow_table(void)
{
	size_t cap = table_cap ? table_cap * 2 : 256;
	struct huge_entry *t = mmap(NULL, cap * sizeof(*t), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return false;
	for (size_t i = 0; i < table_cap; i++) {
		if (table[i].addr <= 1)
			continue;
		size_t j = slot_of(table[i].addr, cap);
		while (t[j].addr)
			j = (j + 1) & (cap - 1);
		t[j] = table[i];
	}
	if (table)
		munmap(table, table_cap * sizeof(*table));
	table = t;
	table_cap = cap;
	table_tomb = 0;
	return true;
}

static bool insert(uintptr_t addr, size_t len, size_t align)
{
	if ((table_used + table_tomb + 1) * 2 > table_cap && !grow_table())
		return false;
	size_t i = slot_of(addr, table_cap);
	while (table[i].addr > 1)
		i = (i + 1) & (table_cap - 1);
	if (table[i].addr == 1)
		table_tomb--;
	table[i] = (struct huge_entry){addr, len, align};
	table_used++;
	return true;
}

static void erase(struct huge_entry *e)
{
	e->addr = 1;
	table_used--;
	table_tomb++;
}

/* Map @len bytes aligned to @align (a power of two, at least HUGE_ALIGN). */
static void *map_aligned(size_t len, size_t align)
{
	size_t total = len + align;
	if (total < len)
		return NULL;
	char *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t start = KMM_ALIGN((uintptr_t)p, align);
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	size_t tail = (uintptr_t)p + total - (start + len);
	if (tail)
		munmap((void *)(start + len), tail);
	if (km.thp)
		madvise((void *)start, len, MADV_HUGEPAGE);
	return (void *)start;
}

static void account(long live, long bytes)
{
	__atomic_add_fetch(&km.st.huge_live, (unsigned long)live, __ATOMIC_RELAXED);
	__atomic_add_fetch(&km.st.huge_bytes, (unsigned long)bytes, __ATOMIC_RELAXED);
}

void *km_huge_alloc(size_t size, size_t align)
{
	if (size > PTRDIFF_MAX - 2 * HUGE_ALIGN || align > PTRDIFF_MAX / 2)
		return NULL;
	size_t len = KMM_ALIGN(size, HUGE_ALIGN);
	void *p = map_aligned(len, align > HUGE_ALIGN ? align : HUGE_ALIGN);
	if (!p)
		return NULL;
	spin_lock(&km.huge_lock);
	bool ok = insert((uintptr_t)p, len, align);
	spin_unlock(&km.huge_lock);
	if (!ok) {
		munmap(p, len);
		return NULL;
	}
	account(1, (long)len);
	return p;
}

bool km_huge_free(void *p)
{
	spin_lock(&km.huge_lock);
	struct huge_entry *e = lookup((uintptr_t)p);
	if (!e) {
		spin_unlock(&km.huge_lock);
		return false;
	}
	size_t len = e->len;
	erase(e);
	spin_unlock(&km.huge_lock);
	munmap(p, len);
	account(-1, -(long)len);
	return true;
}

size_t km_huge_usable(const void *p, size_t *align)
{
	spin_lock(&km.huge_lock);
	struct huge_entry *e = lookup((uintptr_t)p);
	size_t len = e ? e->len : 0;
	if (e && align)
		*align = e->align;
	spin_unlock(&km.huge_lock);
	return len;
}

/*
 * Resize a huge block: mremap() moves or extends the mapping without
 * copying. A moved mapping is only page aligned, so a block the caller asked
 * to be aligned beyond a page is resized in place or copied.
 */
void *km_huge_realloc(void *p, size_t size)
{
	if (size > PTRDIFF_MAX - 2 * HUGE_ALIGN)
		return NULL;
	size_t len = KMM_ALIGN(size, HUGE_ALIGN);
	spin_lock(&km.huge_lock);
	struct huge_entry *e = lookup((uintptr_t)p);
	if (!e) {
		spin_unlock(&km.huge_lock);
		km_fatal("realloc(): invalid pointer", p);
	}
	size_t old_len = e->len, align = e->align;
	erase(e);
	spin_unlock(&km.huge_lock);
	if (len == old_len)
		goto reinsert;
	/* A moved mapping is only page aligned: blocks aligned beyond a page stay put or copy. */
	void *q = mremap(p, old_len, len, align > PAGE_SIZE ? 0 : MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		/* In place failed (alignment kept) or no memory: map anew and copy. */
		q = map_aligned(len, align > HUGE_ALIGN ? align : HUGE_ALIGN);
		if (!q)
			goto fail;
		memcpy(q, p, kmm_min(old_len, len));
		munmap(p, old_len);
	} else if (q != p || len > old_len) {
		/* mremap keeps huge pages for the moved part; ask for them for the new part. */
		if (km.thp)
			madvise(q, len, MADV_HUGEPAGE);
	}
	account(0, (long)len - (long)old_len);
	p = q;
reinsert:
	spin_lock(&km.huge_lock);
	bool ok = insert((uintptr_t)p, len, align);
	spin_unlock(&km.huge_lock);
	if (!ok)
		km_fatal("realloc(): out of memory for the huge-block registry at", p);
	return p;
fail:
	spin_lock(&km.huge_lock);
	insert((uintptr_t)p, old_len, align);
	spin_unlock(&km.huge_lock);
	return NULL;
}
