/*
 * Booting a machine: the kernel's start_kernel(), for the memory manager.
 *
 * Linux: init/main.c (start_kernel, mm_core_init, kernel_init_freeable),
 * which calls into every layer in order. This file is the one place that
 * knows all the layers it starts: phys/ (firmware map, memblock, zones,
 * struct pages), page/ (per-CPU lists, the hand-over of free memory),
 * the slab allocator (kmem_cache_init, right after mem_init as in
 * Linux's mm_core_init), then the late initcalls that need every page
 * counted (watermarks). Upper layers are started here as they are built.
 *
 * Map note: DESIGN.md has no folder for the boot sequence; it sits above
 * every layer because it calls each of them, so it lives in src/init/.
 */
#include "../phys/phys.h"
#include "../page/page.h"
#include "../slab/slab.h"
#include "../vm/vm.h"
#include "../swap/swap.h"
#include "../reclaim/reclaim.h"
#include "../sim/sim.h"
#include <errno.h>
#include <string.h>

static void late_init(struct kmm_machine *m)
{
	phys_late_init(m);
}

struct kmm_machine *kmm_boot(const struct kmm_config *cfg, struct kmm_error *err)
{
	struct kmm_machine *m = kmm_port_alloc(sizeof(*m));
	if (!m) {
		kmm_error_set(err, -ENOMEM, "cannot allocate the machine structure");
		return NULL;
	}
	m->cfg = *cfg;
	m->model = cfg->model;
	m->boot_start_ns = kmm_port_now_ns();
	spin_lock_init(&m->deferred_lock);
	kmm_fault_attr_init(&m->fail_page_alloc, cfg->seed);
	kmm_fault_attr_init(&m->failslab, cfg->seed + 1);
	if (kmm_config_finish(&m->cfg, err))
		goto fail;
	printk_init(m);
	m->log_echo = !cfg->quiet;

	pr_info(m, "kmm version 0.1.0: the Linux 6.1 memory manager, simulated (%s, %s)",
		m->cfg.desc.arch == KMM_ARCH_X86_64 ? "x86_64" : "i386",
		m->model == KMM_MODEL_FLATMEM	  ? "FLATMEM"
		: m->model == KMM_MODEL_SPARSEMEM ? "SPARSEMEM"
						  : "SPARSEMEM_VMEMMAP");
	if (setup_arch(m, err))
		goto fail;
	if (page_alloc_init(m, err))
		goto fail;
	if (vm_init_early(m, err))
		goto fail;
	build_all_zonelists(m);
	mem_init(m);
	if (kmem_cache_init(m, err))
		goto fail;
	if (vm_init(m, err))
		goto fail;
	if (swap_init(m, err))
		goto fail;
	if (reclaim_init(m, err))
		goto fail;
	m->ready_ns = kmm_port_now_ns();
	deferred_init_start(m, late_init);
	/*
	 * The areas the configuration names (--swap) go on last, as an init
	 * script's swapon -a after the kernel is up: every program that boots
	 * from a configuration gets them, not only the CLI.
	 */
	if (swap_boot_areas(m, err))
		goto fail;
	return m;
fail:
	if (m->log.data && cfg->quiet == false && !m->log_echo)
		kmm_buf_flush_stdout(&m->log);
	kmm_machine_destroy(m);
	return NULL;
}

void kmm_machine_destroy(struct kmm_machine *m)
{
	if (!m)
		return;
	kmm_wait_for_init(m);
	/*
	 * Swap goes after the tasks (their swap PTEs give their slots back)
	 * and before the layers whose memory its swap cache uses (vm, slab).
	 */
	sim_reap_all(m);
	reclaim_destroy(m);
	swap_destroy(m);
	vm_destroy(m);
	kmem_cache_destroy_all(m);
	page_alloc_destroy(m);
	phys_destroy(m);
	kmm_port_free(m, sizeof(*m));
}
