/*
 * phys/'s part of booting a machine, in the kernel's order.
 *
 * Linux: arch/x86/kernel/setup.c setup_arch() (e820, memblock, early
 * reservations, NUMA, paging_init -> sparse_init and free_area_init),
 * mm/percpu.c setup_per_cpu_areas(), init/main.c mm_core_init() -> mem_init(),
 * the postcore/subsys initcalls that compute watermarks and THP's minimum,
 * and free_initmem() at the very end. init/main.c calls these steps and
 * slots the page and slab allocators in between.
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

static void print_command_line(struct kmm_machine *m)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	char line[256], sz[32];
	int n = kmm_port_snprintf(line, sizeof(line), "Command line:");
	if (d->mem_limit) {
		kmm_format_size(sz, sizeof(sz), d->mem_limit);
		n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " mem=%s", sz);
	}
	if (d->movablecore_percent)
		n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " movablecore=%u%%",
				       d->movablecore_percent);
	else if (d->movablecore) {
		kmm_format_size(sz, sizeof(sz), d->movablecore);
		n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " movablecore=%s", sz);
	}
	if (d->kernelcore_percent)
		n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " kernelcore=%u%%",
				       d->kernelcore_percent);
	else if (d->kernelcore) {
		kmm_format_size(sz, sizeof(sz), d->kernelcore);
		n += kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " kernelcore=%s", sz);
	}
	if (m->cfg.thp_given) {
		static const char *const s[] = {"always", "madvise", "never"};
		kmm_port_snprintf(line + n, sizeof(line) - (size_t)n, " transparent_hugepage=%s",
				  s[m->cfg.thp]);
	}
	pr_info(m, "%s", line);
}

int setup_arch(struct kmm_machine *m, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &m->cfg.desc;
	int ret;

	print_command_line(m);
	memblock_init(m);
	e820_setup(m);
	ret = kmm_ram_reserve(m, err);
	if (ret)
		return ret;
	for (int i = 0; i < d->nr_ranges; i++)
		if (d->ranges[i].type == KMM_E820_RAM)
			memblock_add_node(m, d->ranges[i].start,
					  d->ranges[i].end - d->ranges[i].start,
					  d->ranges[i].node >= 0 ? d->ranges[i].node : 0);
	/* Early allocations must be in the direct map: all RAM on 64-bit, lowmem on i386. */
	m->memblock.current_limit =
	    d->arch == KMM_ARCH_I386 ? PFN_PHYS(m->max_low_pfn) : MEMBLOCK_ALLOC_ANYWHERE;
	ret = early_reserve_memory(m, err);
	if (ret)
		return ret;
	memblock_find_dma_reserve(m);
	ret = numa_init(m, err);
	if (ret)
		return ret;
	zone_sizes_init(m);
	watermark_defaults(m);
	ret = memory_model_init(m, err);
	if (ret)
		return ret;
	ret = free_area_init(m, err);
	if (ret)
		return ret;
	memmap_init(m);
	return cpus_init(m, err);
}

void mem_init(struct kmm_machine *m)
{
	reserve_late(m);
	memblock_free_all(m);
	mem_init_print_info(m);
}

/* The initcalls that need every page counted: watermarks, then THP's minimum. */
void phys_late_init(struct kmm_machine *m)
{
	free_smp_alternatives(m);
	init_per_zone_wmark_min(m);
	/* hugepage_init(): THP is switched off on machines below 512 MiB. */
	if ((unsigned long)atomic_long_read(&m->totalram_pages) < (512UL << (20 - PAGE_SHIFT)))
		m->thp = KMM_THP_NEVER;
	else
		set_recommended_min_free_kbytes(m);
	/* --min-free-kbytes: as if written to /proc/sys/vm/min_free_kbytes now. */
	if (m->cfg.min_free_kbytes >= 0) {
		m->min_free_kbytes = m->user_min_free_kbytes = m->cfg.min_free_kbytes;
		setup_per_zone_wmarks(m);
	}
	free_late_reserves(m);
}

void phys_destroy(struct kmm_machine *m)
{
	cpus_destroy(m);
	memory_model_destroy(m);
	if (m->ram)
		kmm_ram_release(m);
	if (m->memblock.memory.regions)
		memblock_destroy(m);
	printk_destroy(m);
}
