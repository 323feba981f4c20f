/*
 * /proc/iomem: the physical address map as resources.
 *
 * Linux: kernel/resource.c (r_show), arch/x86/kernel/e820.c
 * (e820__reserve_resources: the names of the e820 types) and setup.c (the
 * kernel's code, rodata, data and bss as children of System RAM). Devices
 * and PCI windows are not simulated.
 */
#include "internal.h"

static const char *e820_resource_name(enum kmm_e820_type type)
{
	switch (type) {
	case KMM_E820_RAM:
		return "System RAM";
	case KMM_E820_ACPI:
		return "ACPI Tables";
	case KMM_E820_NVS:
		return "ACPI Non-volatile Storage";
	case KMM_E820_UNUSABLE:
		return "Unusable memory";
	case KMM_E820_PRAM:
		return "Persistent Memory (legacy)";
	case KMM_E820_PMEM:
		return "Persistent Memory";
	case KMM_E820_SOFT_RESERVED:
		return "Soft Reserved";
	default:
		return "Reserved";
	}
}

void kmm_show_iomem(struct kmm_machine *m, struct kmm_buf *out)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	static const struct {
		enum kmm_kernel_piece piece;
		const char *name;
	} kernel[] = {{KP_CODE, "Kernel code"},
		      {KP_RODATA, "Kernel rodata"},
		      {KP_DATA, "Kernel data"},
		      {KP_BSS, "Kernel bss"}};

	for (int i = 0; i < d->nr_ranges; i++) {
		struct kmm_mem_range *r = &d->ranges[i];
		kmm_buf_printf(out, "%08llx-%08llx : %s\n", (unsigned long long)r->start,
			       (unsigned long long)r->end - 1, e820_resource_name(r->type));
		if (r->type != KMM_E820_RAM || d->kernel_image == KMM_KERNEL_NONE)
			continue;
		for (size_t s = 0; s < KMM_ARRAY_SIZE(kernel); s++) {
			uint64_t start = m->kernel_pieces[kernel[s].piece].start;
			uint64_t size = m->kernel_pieces[kernel[s].piece].size;
			if (size && start >= r->start && start + size <= r->end)
				kmm_buf_printf(
				    out, "  %08llx-%08llx : %s\n", (unsigned long long)start,
				    (unsigned long long)(start + size - 1), kernel[s].name);
		}
	}
}
