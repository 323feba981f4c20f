/*
 * Simulated RAM: one host reservation covering physical addresses 0 to the
 * end of RAM, so a physical address becomes a host pointer by one addition
 * (Linux's direct map, __va()).
 *
 * Linux counterpart: the hardware. The reservation is MAP_NORESERVE and
 * costs nothing until touched; holes (the legacy 640K-1M hole, the PCI hole)
 * are never touched. Because a trapped first touch of fresh host memory
 * costs about 12 us per 4 KiB page on the machines kmm runs on, while
 * populating a range in one call costs about 0.2-0.5 us per page, kmm
 * populates RAM in max-order blocks (4 MiB) the first time any page of the
 * block is handed out or written by the kernel, and remembers which blocks
 * are backed in a bitmap. The reservation is hinted for transparent huge
 * pages, which makes population and later accesses cheaper still.
 *
 * A machine may ask for its first few blocks to be left to first touch
 * (cfg.ram_lazy_blocks): they are marked backed without the host call, so a
 * small user's resident memory is the pages it touched (in huge pages where
 * the host gives them), not whole 4 MiB blocks; past them, population is
 * in bulk as above.
 */
#include "internal.h"
#include <errno.h>

int kmm_ram_reserve(struct kmm_machine *m, struct kmm_error *err)
{
	/* Round up to whole max-order blocks so population never runs off the end. */
	unsigned long pfns = KMM_ALIGN(m->max_pfn, MAX_ORDER_NR_PAGES);
	size_t size = (size_t)pfns << PAGE_SHIFT;
	/*
	 * Aligned to a max-order block (4 MiB, which also suits huge pages):
	 * then every buddy block's address is aligned to its size, as in the
	 * kernel's direct map, and aligned allocations can rely on it.
	 */
	m->ram = kmm_port_reserve(size, PAGE_SIZE << MAX_PAGE_ORDER);
	if (!m->ram)
		return kmm_error_set(err, -ENOMEM,
				     "cannot reserve %zu MiB of address space for simulated RAM",
				     size >> 20);
	m->ram_size = size;
	m->ram_lazy_left = m->cfg.ram_lazy_blocks;
	kmm_port_hugepage_hint(m->ram, size);
	size_t bits = pfns >> MAX_PAGE_ORDER;
	m->ram_populated = kmm_port_alloc(BITS_TO_LONGS(bits) * sizeof(long));
	if (!m->ram_populated)
		return kmm_error_set(err, -ENOMEM, "cannot allocate the RAM population map");
	return 0;
}

void kmm_ram_release(struct kmm_machine *m)
{
	size_t bits = m->ram_size >> (PAGE_SHIFT + MAX_PAGE_ORDER);
	kmm_port_unreserve(m->ram, m->ram_size);
	kmm_port_free(m->ram_populated, BITS_TO_LONGS(bits) * sizeof(long));
	m->ram = NULL;
	m->ram_populated = NULL;
}

void __kmm_ram_populate(struct kmm_machine *m, unsigned long pfn, unsigned long nr)
{
	unsigned long first = pfn >> MAX_PAGE_ORDER;
	unsigned long last = (pfn + nr - 1) >> MAX_PAGE_ORDER;
	unsigned long blk = first;
	while (blk <= last) {
		if (test_bit(blk, m->ram_populated)) {
			blk++;
			continue;
		}
		/* Populate a run of unbacked blocks in one host call. */
		unsigned long run = blk;
		while (run <= last && !test_bit(run, m->ram_populated))
			run++;
		char *addr = m->ram + ((size_t)blk << (PAGE_SHIFT + MAX_PAGE_ORDER));
		size_t len = (size_t)(run - blk) << (PAGE_SHIFT + MAX_PAGE_ORDER);
		/*
		 * A failure only costs speed: the host still backs pages on first
		 * touch, which is also all a lazy block gets.
		 */
		if (__atomic_load_n(&m->ram_lazy_left, __ATOMIC_RELAXED) <= 0 ||
		    __atomic_sub_fetch(&m->ram_lazy_left, (long)(run - blk), __ATOMIC_RELAXED) <=
			-(long)(run - blk))
			kmm_port_populate(addr, len);
		for (unsigned long b = blk; b < run; b++)
			set_bit(b, m->ram_populated);
		blk = run;
	}
}

void kmm_ram_discard(struct kmm_machine *m, unsigned long pfn, unsigned long nr)
{
	KMM_BUG_ON(pfn % MAX_ORDER_NR_PAGES || nr % MAX_ORDER_NR_PAGES);
	for (unsigned long b = pfn >> MAX_PAGE_ORDER; b < (pfn + nr) >> MAX_PAGE_ORDER; b++)
		clear_bit(b, m->ram_populated);
	kmm_port_discard(m->ram + ((size_t)pfn << PAGE_SHIFT), (size_t)nr << PAGE_SHIFT);
}
