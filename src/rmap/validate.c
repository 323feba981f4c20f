/*
 * The reverse-mapping checker (CONFIG_DEBUG_VM's spirit): what every
 * page's rmap says against what the page tables say.
 *
 * Linux has no single equivalent; this is the check its rmap code asserts
 * piecemeal (page_mapcount vs. walks in DEBUG_VM, anon_vma_chain sanity in
 * validate_mm). Two phases: (1) under mmlist_lock, scan every page table of
 * every mm and note each present PTE that maps a normal page, and check
 * each VMA's anon_vma chain; (2) without it (a ptechain walk may need to
 * pin and release mms), for each mapped page compare the PTEs that
 * rmap_walk reports with those of the scan, and the map count and, under
 * ptechain, the chain's shape. Slow: for tests.
 */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <kmm/mm.h>
#include "../port/port.h"

struct pte_seen {
	unsigned long pfn;
	pte_t *ptep;
};

struct rmap_census {
	struct pte_seen *v;
	size_t n, cap;
	struct kmm_error *err;
};

static int census_add(struct rmap_census *c, unsigned long pfn, pte_t *ptep)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct pte_seen *v = kmm_port_alloc(cap * sizeof(*v));
		if (!v)
			return kmm_error_set(c->err, -ENOMEM, "no host memory for the rmap census");
		if (c->v) {
			memcpy(v, c->v, c->n * sizeof(*v));
			kmm_port_free(c->v, c->cap * sizeof(*v));
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct pte_seen){pfn, ptep};
	return 0;
}

static int census_mm(struct rmap_census *c, struct kmm_mm *mm)
{
	struct kmm_machine *m = mm->machine;
	for (struct kmm_vma *vma = mm->mmap; vma; vma = vma->vm_next) {
		unsigned long addr = vma->vm_start;
		while (addr < vma->vm_end) {
			unsigned long next = pmd_addr_end(addr, vma->vm_end);
			pmd_t *pmdp = pmd_lookup(mm, addr);
			pmd_t pmd = pmdp ? entry_read_acquire(pmdp) : 0;
			if (pmd_present(pmd)) {
				pte_t *ptep = entry_table(m, pmd) + pte_index(addr);
				for (; addr < next; addr += PAGE_SIZE, ptep++) {
					pte_t pte = entry_read(ptep);
					if (!pte_present(pte))
						continue;
					struct kmm_page *page = vm_normal_page(vma, addr, pte);
					if (page && census_add(c, page_to_pfn(m, page), ptep))
						return -ENOMEM;
				}
			}
			addr = next;
		}
	}
	return 0;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct pte_seen *x = a, *y = b;
	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return x->ptep < y->ptep ? -1 : x->ptep > y->ptep;
}

static int cmp_ptep(const void *a, const void *b)
{
	pte_t *const *x = a, *const *y = b;
	return *x < *y ? -1 : *x > *y;
}

/* What a walk of one page found. */
struct walk_found {
	pte_t **ptes;
	size_t n, cap;
	bool overflow;
};

static bool collect_one(struct kmm_page *page, struct kmm_vma *vma, unsigned long address,
			pte_t *ptep, void *arg)
{
	(void)page;
	(void)vma;
	(void)address;
	struct walk_found *f = arg;
	if (f->n == f->cap)
		f->overflow = true;
	else
		f->ptes[f->n++] = ptep;
	return true;
}

static int check_page(struct kmm_machine *m, struct pte_seen *v, size_t nr, struct kmm_error *err)
{
	unsigned long pfn = v[0].pfn;
	struct kmm_page *page = pfn_to_page(m, pfn);
	if (page_mapcount(page) != (int)nr)
		return kmm_error_set(err, -EINVAL, "pfn %#lx: map count %d, %zu PTEs map it", pfn,
				     page_mapcount(page), nr);
	if (rmap_ptechain(m)) {
		int ret = pte_chain_validate(m, page, (int)nr, err);
		if (ret)
			return ret;
	}
	size_t cap = nr + 1;
	struct walk_found f = {.ptes = kmm_port_alloc(cap * sizeof(pte_t *)), .cap = cap};
	if (!f.ptes)
		return kmm_error_set(err, -ENOMEM, "no host memory for the rmap census");
	struct rmap_walk_control rwc = {.arg = &f, .rmap_one = collect_one};
	rmap_walk(m, page, &rwc);
	int ret = 0;
	if (rwc.contended)
		goto out; /* a busy mm: nothing to conclude */
	if (f.overflow || f.n != nr) {
		ret = kmm_error_set(
		    err, -EINVAL, "pfn %#lx (%s): rmap_walk found %s%zu PTEs, %zu map it", pfn,
		    PageAnon(page) ? "anon" : "file", f.overflow ? "more than " : "", f.n, nr);
		goto out;
	}
	qsort(f.ptes, f.n, sizeof(pte_t *), cmp_ptep);
	for (size_t i = 0; i < nr; i++)
		if (f.ptes[i] != v[i].ptep) {
			ret = kmm_error_set(err, -EINVAL,
					    "pfn %#lx: rmap_walk found PTE %p, the page tables %p",
					    pfn, (void *)f.ptes[i], (void *)v[i].ptep);
			goto out;
		}
out:
	kmm_port_free(f.ptes, cap * sizeof(pte_t *));
	return ret;
}

int rmap_validate(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	struct rmap_census c = {.err = err};
	int ret = 0;

	spin_lock(&vm->mmlist_lock);
	struct kmm_mm *mm;
	list_for_each_entry (mm, &vm->mmlist, mmlist) {
		if ((ret = census_mm(&c, mm)))
			break;
		if (!rmap_ptechain(m) && (ret = anon_vma_validate_mm(mm, err)))
			break;
	}
	spin_unlock(&vm->mmlist_lock);
	if (ret)
		goto out;

	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_seen);
	for (size_t i = 0; i < c.n;) {
		size_t j = i + 1;
		while (j < c.n && c.v[j].pfn == c.v[i].pfn)
			j++;
		if ((ret = check_page(m, c.v + i, j - i, err)))
			break;
		i = j;
	}
out:
	if (c.v)
		kmm_port_free(c.v, c.cap * sizeof(*c.v));
	return ret;
}

int kmm_rmap_validate(struct kmm_machine *m, struct kmm_error *err)
{
	return rmap_validate(m, err);
}
