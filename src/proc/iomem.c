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
	const struct kmm_kernel_sizes *k = &d->kernel;
	const uint64_t base = 16 * KMM_SZ_1M;
	/* The kernel's sections, laid out as reserve.c placed them. */
	struct {
		const char *name;
		uint64_t start, size;
	} kernel[4];
	uint64_t at = base;
	uint64_t sizes[8] = {k->code, k->text_rodata_gap, k->rodata, k->rodata_data_gap, k->rwdata,
			     k->init, k->decrypted,	  k->bss};
	uint64_t starts[8];
	for (int i = 0; i < 8; i++) {
		starts[i] = at;
		at += KMM_ALIGN(sizes[i], PAGE_SIZE);
	}
	kernel[0].name = "Kernel code", kernel[0].start = starts[0], kernel[0].size = k->code;
	kernel[1].name = "Kernel rodata", kernel[1].start = starts[2], kernel[1].size = k->rodata;
	kernel[2].name = "Kernel data", kernel[2].start = starts[4], kernel[2].size = k->rwdata;
	kernel[3].name = "Kernel bss", kernel[3].start = starts[7], kernel[3].size = k->bss;

	for (int i = 0; i < d->nr_ranges; i++) {
		struct kmm_mem_range *r = &d->ranges[i];
		kmm_buf_printf(out, "%08llx-%08llx : %s\n", (unsigned long long)r->start,
			       (unsigned long long)r->end - 1, e820_resource_name(r->type));
		if (r->type != KMM_E820_RAM || d->kernel_image == KMM_KERNEL_NONE)
			continue;
		for (int s = 0; s < 4; s++)
			if (kernel[s].size && kernel[s].start >= r->start &&
			    kernel[s].start + kernel[s].size <= r->end)
				kmm_buf_printf(
				    out, "  %08llx-%08llx : %s\n",
				    (unsigned long long)kernel[s].start,
				    (unsigned long long)(kernel[s].start + kernel[s].size - 1),
				    kernel[s].name);
	}
}
