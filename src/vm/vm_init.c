/*
 * Starting and stopping the address-space layer of a machine: its slab
 * caches, the shared zero page, the per-CPU TLB state and the sysctls.
 *
 * Linux: kernel/fork.c (proc_caches_init: mm_struct, vm_area_struct,
 * files_cachep), fs/inode.c and fs/file_table.c (inode_cache, filp),
 * lib/radix-tree.c (radix_tree_node), mm/rmap.c (anon_vma_init),
 * mm/memory.c (the zero page), mm/mmap.c (sysctl_max_map_count,
 * stack_guard_gap, mmap_min_addr), mm/memory.c fault_around_bytes.
 */
#include "vm.h"
#include "../rmap/rmap.h"
#include <errno.h>
#include <string.h>

#define DEFAULT_MAX_MAP_COUNT 65530 /* Linux: USHRT_MAX - 5 */
#define STACK_GUARD_GAP_PAGES 256   /* 1 MiB */
#define FAULT_AROUND_BYTES    65536

static struct kmm_kmem_cache *cache(struct kmm_machine *m, const char *name, unsigned int size,
				    struct kmm_error *err)
{
	return kmm_kmem_cache_create(m, name, size, 0, SLAB_HWCACHE_ALIGN | SLAB_ACCOUNT, NULL,
				     err);
}

/*
 * Before the free pages go to the buddy allocator: the layer's state and
 * the zero page. Linux's empty_zero_page lives in the kernel image's .bss,
 * so kmm takes the first page of the simulated image's bss; a machine
 * booted without an image gets a page from memblock instead. Either way it
 * is reserved memory, never in the page allocator's counts.
 */
int vm_init_early(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = kmm_port_alloc(sizeof(*vm));
	if (!vm)
		return kmm_error_set(err, -ENOMEM, "no memory for the address-space layer");
	m->vm = vm;
	/* The lists teardown walks, ready even if the boot stops before vm_init. */
	spin_lock_init(&vm->mmlist_lock);
	INIT_LIST_HEAD(&vm->mmlist);
	spin_lock_init(&vm->inode_lock);
	INIT_LIST_HEAD(&vm->inodes);
	INIT_LIST_HEAD(&vm->shmem_inodes);
	spin_lock_init(&vm->task_lock);
	INIT_LIST_HEAD(&vm->tasks);
	shadow_nodes_init(m);
	uint64_t bss = m->kernel_pieces[KP_BSS].start;
	if (m->kernel_pieces[KP_BSS].size >= PAGE_SIZE) {
		kmm_ram_populate(m, PFN_DOWN(bss), 1);
		memset(phys_to_virt(m, bss), 0, PAGE_SIZE);
	} else {
		void *p = memblock_alloc_try_nid(m, PAGE_SIZE, PAGE_SIZE, 0);
		if (!p)
			return kmm_error_set(err, -ENOMEM, "no boot memory for the zero page");
		bss = virt_to_phys(m, p);
	}
	vm->zero_pfn = PFN_DOWN(bss);
	return 0;
}

/* kmm_sysctl_set()'s hand-over: the value is already checked against phys/sysctl.c's table. */
static void vm_sysctl_set(struct kmm_machine *m, const char *name, long value)
{
	kmm_vm_sysctl_set(m, name, value);
}

static long vm_sysctl_get(struct kmm_machine *m, const char *name)
{
	struct vm_state *vm = vm_state(m);
	if (!strcmp(name, "max_map_count"))
		return vm->max_map_count;
	if (!strcmp(name, "mmap_min_addr"))
		return (long)vm->mmap_min_addr;
	if (!strcmp(name, "stack_guard_gap"))
		return (long)(vm->stack_guard_gap >> PAGE_SHIFT);
	if (!strcmp(name, "dirty_ratio"))
		return vm->dirty_ratio;
	if (!strcmp(name, "dirty_background_ratio"))
		return vm->dirty_background_ratio;
	return (long)vm->fault_around_pages << PAGE_SHIFT;
}

int vm_init(struct kmm_machine *m, struct kmm_error *err)
{
	struct vm_state *vm = vm_state(m);
	vm->next_pid = 1;
	vm->max_map_count = DEFAULT_MAX_MAP_COUNT;
	vm->stack_guard_gap = STACK_GUARD_GAP_PAGES << PAGE_SHIFT;
	vm->mmap_min_addr = KMM_MMAP_MIN_ADDR;
	vm->fault_around_pages = FAULT_AROUND_BYTES >> PAGE_SHIFT;
	vm->dirty_ratio = 20;		 /* Linux vm_dirty_ratio */
	vm->dirty_background_ratio = 10; /* Linux dirty_background_ratio */
	vm->zero_page = pfn_to_page(m, vm->zero_pfn);
	m->sysctl[KMM_SYSCTL_VM] = (struct kmm_sysctl_ops){vm_sysctl_set, vm_sysctl_get};

	vm->mm_cachep = cache(m, "mm_struct", sizeof(struct kmm_mm), err);
	vm->vma_cachep = cache(m, "vm_area_struct", sizeof(struct kmm_vma), err);
	vm->task_cachep = cache(m, "task_struct", sizeof(struct kmm_task), err);
	vm->filp_cachep = cache(m, "filp", sizeof(struct kmm_file), err);
	vm->inode_cachep = cache(m, "inode_cache", sizeof(struct kmm_inode), err);
	vm->radix_node_cachep = cache(m, "radix_tree_node", sizeof(struct radix_tree_node), err);
	if (!vm->mm_cachep || !vm->vma_cachep || !vm->task_cachep || !vm->filp_cachep ||
	    !vm->inode_cachep || !vm->radix_node_cachep || rmap_init(m))
		return kmm_error_set(err, -ENOMEM, "no memory for the address-space caches");
	if (vm_cpus_init(m))
		return kmm_error_set(err, -ENOMEM, "no memory for the per-CPU TLBs");
	return 0;
}

void vm_destroy(struct kmm_machine *m)
{
	struct vm_state *vm = vm_state(m);
	if (!vm)
		return;
	vm_cpus_destroy(m);
	/*
	 * Files the user never closed: their structures go with the slab caches
	 * (which report them), but the host descriptors must not outlive the
	 * machine.
	 */
	struct kmm_inode *inode;
	list_for_each_entry (inode, &vm->inodes, i_list)
		if (inode->fd >= 0) {
			kmm_port_close(inode->fd);
			inode->fd = -1;
		}
	rmap_destroy(m);
	kmm_kmem_cache_destroy(vm->radix_node_cachep);
	kmm_kmem_cache_destroy(vm->inode_cachep);
	kmm_kmem_cache_destroy(vm->filp_cachep);
	kmm_kmem_cache_destroy(vm->task_cachep);
	kmm_kmem_cache_destroy(vm->vma_cachep);
	kmm_kmem_cache_destroy(vm->mm_cachep);
	kmm_port_free(vm, sizeof(*vm));
	m->vm = NULL;
}

int kmm_vm_sysctl_set(struct kmm_machine *m, const char *name, long value)
{
	struct vm_state *vm = vm_state(m);
	if (!strcmp(name, "max_map_count")) {
		if (value < 0 || value > 0x7fffffff)
			return -EINVAL;
		vm->max_map_count = (int)value;
		return 0;
	}
	if (!strcmp(name, "mmap_min_addr")) {
		if (value < 0 || (unsigned long)value >= KMM_TASK_SIZE)
			return -EINVAL;
		vm->mmap_min_addr = (unsigned long)value;
		return 0;
	}
	if (!strcmp(name, "stack_guard_gap")) { /* in pages, as the boot option */
		if (value < 0 || value > (1L << 20))
			return -EINVAL;
		vm->stack_guard_gap = (unsigned long)value << PAGE_SHIFT;
		return 0;
	}
	if (!strcmp(name, "dirty_ratio") || !strcmp(name, "dirty_background_ratio")) {
		if (value < 0 || value > 100)
			return -EINVAL;
		if (!strcmp(name, "dirty_ratio"))
			vm->dirty_ratio = (int)value;
		else
			vm->dirty_background_ratio = (int)value;
		return 0;
	}
	if (!strcmp(name, "fault_around_bytes")) {
		if (value < (long)PAGE_SIZE || value > 64 * (long)PAGE_SIZE ||
		    (value & (value - 1)))
			return -EINVAL;
		vm->fault_around_pages = (unsigned int)(value >> PAGE_SHIFT);
		return 0;
	}
	return -ENOENT;
}
