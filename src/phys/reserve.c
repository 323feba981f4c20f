/*
 * Early reservations: what a booting kernel takes before the page allocator
 * exists, and what it gives back at the end of boot.
 *
 * Linux: arch/x86/kernel/setup.c (early_reserve_memory: the first megabyte,
 * the kernel image, the initrd), kernel/dma/swiotlb.c (the 64 MiB bounce
 * buffer below 4 GiB, when RAM extends above it), init/main.c and
 * arch/x86/mm/init.c (free_initmem, free_initrd_mem, the section gaps).
 *
 * A twin booted from a log reserves exactly what the log shows; its
 * "Memory: ... NK reserved" figure also covers early allocations kmm does
 * not model one by one (page tables, ACPI, percpu details). kmm reserves
 * that remainder in one block, top-down, so that managed pages match.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* The section sizes of Debian's 6.1.0-56-amd64 image, from its boot log. */
static const struct kmm_kernel_sizes debian61 = {
    .code = 14343 * KMM_SZ_1K,
    .rwdata = 2338 * KMM_SZ_1K,
    .rodata = 9132 * KMM_SZ_1K,
    .init = 2824 * KMM_SZ_1K,
    .bss = 17344 * KMM_SZ_1K,
    .text_rodata_gap = 2040 * KMM_SZ_1K,
    .rodata_data_gap = 1108 * KMM_SZ_1K,
    .decrypted = 2036 * KMM_SZ_1K,
    .smp_alternatives = 36 * KMM_SZ_1K,
    .image_tail = 2048 * KMM_SZ_1K,
};

static uint64_t page_up(uint64_t x)
{
	return KMM_ALIGN(x, PAGE_SIZE);
}

static int reserve_kernel_image(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	if (d->kernel_image == KMM_KERNEL_AUTO)
		d->kernel_image =
		    PFN_PHYS(m->max_pfn) >= 128 * KMM_SZ_1M ? KMM_KERNEL_DEBIAN61 : KMM_KERNEL_NONE;
	if (d->kernel_image == KMM_KERNEL_NONE) {
		memset(&d->kernel, 0, sizeof(d->kernel));
		return 0;
	}
	if (d->kernel_image == KMM_KERNEL_DEBIAN61)
		d->kernel = debian61;
	const struct kmm_kernel_sizes *k = &d->kernel;
	const uint64_t sizes[KP_NR] = {
	    [KP_CODE] = k->code,
	    [KP_TEXT_RODATA_GAP] = k->text_rodata_gap,
	    [KP_RODATA] = k->rodata,
	    [KP_RODATA_DATA_GAP] = k->rodata_data_gap,
	    [KP_DATA] = k->rwdata,
	    [KP_INIT] = k->init,
	    [KP_DECRYPTED] = k->decrypted,
	    [KP_BSS] = k->bss,
	    [KP_SMP_ALT] = k->smp_alternatives,
	    [KP_TAIL] = k->image_tail,
	};
	uint64_t at = KERNEL_LOAD_ADDR;
	for (int i = 0; i < KP_NR; i++) {
		m->kernel_pieces[i].start = at;
		m->kernel_pieces[i].size = sizes[i];
		at += page_up(sizes[i]);
	}
	uint64_t end = at;
	for (uint64_t a = KERNEL_LOAD_ADDR; a < end; a += PAGE_SIZE)
		if (!memblock_is_memory(m, a))
			return kmm_error_set(err, -EINVAL,
					     "%s: the kernel image needs RAM at [mem %#llx-%#llx]; "
					     "this machine has a hole or too little memory there "
					     "(use --kernel-image none)",
					     d->source, (unsigned long long)KERNEL_LOAD_ADDR,
					     (unsigned long long)end - 1);
	memblock_reserve(m, KERNEL_LOAD_ADDR, end - KERNEL_LOAD_ADDR);
	return 0;
}

static void free_kernel_piece(struct kmm_machine *m, enum kmm_kernel_piece piece, const char *what)
{
	uint64_t start = m->kernel_pieces[piece].start;
	if (m->kernel_pieces[piece].size)
		free_reserved_area(m, start, start + page_up(m->kernel_pieces[piece].size), what);
}

/* Before the initcalls: the alternatives that patched the kernel's code at boot. */
void free_smp_alternatives(struct kmm_machine *m)
{
	if (m->cfg.desc.kernel_image != KMM_KERNEL_NONE)
		free_kernel_piece(m, KP_SMP_ALT, "SMP alternatives");
}

int early_reserve_memory(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	/* x86 keeps the first megabyte for the BIOS, real mode and trampolines. */
	memblock_reserve(m, 0, KMM_SZ_1M);
	int ret = reserve_kernel_image(m, err);
	if (ret)
		return ret;
	for (int i = 0; i < d->nr_reserves; i++) {
		struct kmm_early_reserve *r = &d->reserves[i];
		if (r->end <= r->start)
			continue; /* placed later */
		if (!strcmp(r->name, "initrd"))
			pr_info(m, "RAMDISK: [mem 0x%08llx-0x%08llx]", (unsigned long long)r->start,
				(unsigned long long)r->end - 1);
		memblock_reserve(m, r->start, r->end - r->start);
	}
	return 0;
}

/*
 * At mem_init, before memory goes to the buddy allocator: the swiotlb bounce
 * buffer of machines with RAM above 4 GiB, and for a twin of a logged boot
 * the reservations the log counts that kmm did not make.
 */
void reserve_late(struct kmm_machine *m)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	bool have_swiotlb = false;
	for (int i = 0; i < d->nr_reserves; i++)
		have_swiotlb |= !strcmp(d->reserves[i].name, "swiotlb");
	if (!have_swiotlb && d->arch == KMM_ARCH_X86_64 &&
	    m->max_pfn > (1UL << (32 - PAGE_SHIFT)) && d->kernel_image != KMM_KERNEL_FROM_LOG) {
		phys_addr_t limit = m->memblock.current_limit;
		m->memblock.current_limit = 1ULL << 32;
		phys_addr_t pa =
		    memblock_phys_alloc_try_nid(m, 64 * KMM_SZ_1M, PAGE_SIZE, NUMA_NO_NODE);
		m->memblock.current_limit = limit;
		if (pa)
			pr_info(m, "software IO TLB: mapped [mem 0x%016llx-0x%016llx] (64MB)",
				(unsigned long long)pa, (unsigned long long)pa + 64 * KMM_SZ_1M);
	} else if (have_swiotlb) {
		for (int i = 0; i < d->nr_reserves; i++)
			if (!strcmp(d->reserves[i].name, "swiotlb"))
				pr_info(
				    m, "software IO TLB: mapped [mem 0x%016llx-0x%016llx] (%lluMB)",
				    (unsigned long long)d->reserves[i].start,
				    (unsigned long long)d->reserves[i].end,
				    (unsigned long long)(d->reserves[i].size >> 20));
	}
	/* Size-only reservations from the description. */
	for (int i = 0; i < d->nr_reserves; i++) {
		struct kmm_early_reserve *r = &d->reserves[i];
		if (r->end <= r->start && r->size)
			memblock_phys_alloc_try_nid(m, r->size, PAGE_SIZE, r->node);
	}
	if (d->log_reserved_kb) {
		unsigned long present = 0;
		for (int nid = 0; nid < m->nr_node_ids; nid++)
			present += m->node_data[nid]->node_present_pages;
		unsigned long free = memblock_free_pages_in(m, 0, m->max_pfn);
		unsigned long ours = present - free;
		unsigned long theirs = (unsigned long)(d->log_reserved_kb >> (PAGE_SHIFT - 10));
		unsigned long other = theirs > ours ? theirs - ours : 0;
		/* Take it in as few pieces as the free ranges allow. */
		for (unsigned long chunk = other; other && chunk;) {
			if (memblock_phys_alloc_try_nid(m, (phys_addr_t)chunk << PAGE_SHIFT,
							PAGE_SIZE, NUMA_NO_NODE))
				other -= chunk;
			else
				chunk /= 2;
			chunk = kmm_min(chunk, other);
		}
	}
}

/* After boot: give back what was only needed to boot (free_initmem and friends). */
void free_late_reserves(struct kmm_machine *m)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	for (int i = 0; i < d->nr_reserves; i++) {
		struct kmm_early_reserve *r = &d->reserves[i];
		if (r->freed_late && r->end > r->start)
			free_reserved_area(m, r->start, r->end,
					   !strcmp(r->name, "initrd") ? "initrd" : r->name);
	}
	if (d->kernel_image == KMM_KERNEL_NONE)
		return;
	/* In Linux's order. */
	free_kernel_piece(m, KP_DECRYPTED, "unused decrypted");
	free_kernel_piece(m, KP_INIT, "unused kernel image (initmem)");
	free_kernel_piece(m, KP_TEXT_RODATA_GAP, "unused kernel image (text/rodata gap)");
	free_kernel_piece(m, KP_RODATA_DATA_GAP, "unused kernel image (rodata/data gap)");
}
