/*
 * The firmware memory map as the booting kernel reads and fixes it.
 *
 * Linux: arch/x86/kernel/e820.c (e820__print_table, trim_bios_range,
 * parse_memopt/e820__range_remove for mem=, e820__end_of_ram_pfn,
 * e820__memblock_setup). The map printed here is the machine's description;
 * the two fix-ups every x86 kernel makes follow: page 0 is taken by the
 * BIOS data area, and 640 KiB - 1 MiB is the legacy hole whatever the
 * firmware says.
 */
#include "internal.h"

static void print_table(struct kmm_machine *m, const char *who)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	for (int i = 0; i < d->nr_ranges; i++)
		pr_info(m, "%s: [mem 0x%016llx-0x%016llx] %s", who,
			(unsigned long long)d->ranges[i].start,
			(unsigned long long)d->ranges[i].end - 1,
			kmm_e820_type_name(d->ranges[i].type));
}

static void e820_update(struct kmm_machine *m, uint64_t start, uint64_t end,
			enum kmm_e820_type from, enum kmm_e820_type to)
{
	pr_info(m, "e820: update [mem 0x%08llx-0x%08llx] %s ==> %s", (unsigned long long)start,
		(unsigned long long)end - 1, kmm_e820_type_name(from), kmm_e820_type_name(to));
	kmm_desc_e820_update(&m->cfg.desc, start, end, from, to);
}

static void e820_remove(struct kmm_machine *m, uint64_t start, uint64_t end,
			enum kmm_e820_type type)
{
	pr_info(m, "e820: remove [mem 0x%08llx-0x%08llx] %s", (unsigned long long)start,
		(unsigned long long)end - 1, kmm_e820_type_name(type));
	kmm_desc_e820_remove(&m->cfg.desc, start, end, type);
}

unsigned long e820_end_of_ram_pfn(struct kmm_machine *m, unsigned long limit_pfn)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	unsigned long last = 0;
	for (int i = 0; i < d->nr_ranges; i++) {
		if (d->ranges[i].type != KMM_E820_RAM)
			continue;
		unsigned long s = (unsigned long)PFN_DOWN(d->ranges[i].start);
		unsigned long e = (unsigned long)PFN_DOWN(d->ranges[i].end);
		if (s >= limit_pfn)
			continue;
		last = kmm_max(last, kmm_min(e, limit_pfn));
	}
	return last;
}

void e820_setup(struct kmm_machine *m)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	pr_info(m, "BIOS-provided physical RAM map:");
	print_table(m, "BIOS-e820");

	/* trim_bios_range(): the BIOS data area and the legacy hole. */
	e820_update(m, 0, PAGE_SIZE, KMM_E820_RAM, KMM_E820_RESERVED);
	e820_remove(m, 0xa0000, 0x100000, KMM_E820_RAM);

	if (d->mem_limit) {
		/* mem=: drop usable RAM above the limit. */
		e820_remove(m, d->mem_limit, ~0ULL, KMM_E820_RAM);
		pr_info(m, "user-defined physical RAM map:");
		print_table(m, "user");
	}

	m->max_pfn = e820_end_of_ram_pfn(m, ~0UL);
	if (d->arch == KMM_ARCH_X86_64) {
		pr_info(m, "last_pfn = %#lx max_arch_pfn = %#lx", m->max_pfn, 1UL << 40);
		m->max_low_pfn =
		    m->max_pfn > (1UL << 20) ? e820_end_of_ram_pfn(m, 1UL << 20) : m->max_pfn;
		if (m->max_pfn > (1UL << 20))
			pr_info(m, "last_pfn = %#lx max_arch_pfn = %#lx", m->max_low_pfn,
				1UL << 40);
	} else {
		/* i386 with the 3G/1G split: 896 MiB of low memory, the rest is HighMem. */
		pr_info(m, "last_pfn = %#lx max_arch_pfn = %#lx", m->max_pfn, 1UL << 24);
		m->max_low_pfn = kmm_min(m->max_pfn, (unsigned long)(896UL << (20 - PAGE_SHIFT)));
		if (m->max_pfn > m->max_low_pfn)
			pr_info(m, "%luMB HIGHMEM available.",
				(m->max_pfn - m->max_low_pfn) >> (20 - PAGE_SHIFT));
		pr_info(m, "%luMB LOWMEM available.", m->max_low_pfn >> (20 - PAGE_SHIFT));
	}
}
