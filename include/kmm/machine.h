/*
 * The simulated machine: its description, its boot configuration, and the
 * booted struct kmm_machine that everything else hangs off.
 *
 * Linux: arch/x86/kernel/e820.c (the firmware memory map), mm/memblock.c,
 * mm/sparse.c, mm/mm_init.c and mm/page_alloc.c (free_area_init, zones,
 * watermarks), init/main.c (the boot sequence). There is no global state:
 * two machines with different designs live side by side in one process.
 */
#ifndef KMM_MACHINE_H
#define KMM_MACHINE_H

#include <kmm/compiler.h>
#include <kmm/mm_types.h>
#include <kmm/mmzone.h>
#include <kmm/buf.h>
#include <kmm/error.h>
#include <kmm/fault_inject.h>
#include <kmm/trace.h>

/* --- The machine description (what firmware would tell the kernel) ------------ */

#define KMM_MAX_RANGES	 256
#define KMM_MAX_RESERVES 64

/* e820 range types, with the kernel's numbering. */
enum kmm_e820_type {
	KMM_E820_RAM = 1,
	KMM_E820_RESERVED = 2,
	KMM_E820_ACPI = 3,
	KMM_E820_NVS = 4,
	KMM_E820_UNUSABLE = 5,
	KMM_E820_PMEM = 7,
	KMM_E820_PRAM = 12,
	KMM_E820_SOFT_RESERVED = 0xefffffff,
};

struct kmm_mem_range {
	uint64_t start; /* first byte */
	uint64_t end;	/* one past the last byte */
	enum kmm_e820_type type;
	int node; /* NUMA node of RAM, or -1 until NUMA information assigns it */
};

/* A NUMA memory affinity range (ACPI SRAT). */
struct kmm_numa_range {
	uint64_t start, end;
	int node;
};

/* An early reservation the booted kernel made, as its log tells. */
struct kmm_early_reserve {
	uint64_t start, end; /* start == end == 0: size only, placed by kmm */
	uint64_t size;
	int node;	 /* for size-only reservations: node to place on, -1 any */
	bool freed_late; /* given back after boot, like initrd and __init sections */
	char name[40];
};

enum kmm_arch {
	KMM_ARCH_X86_64,
	KMM_ARCH_I386,
};

enum kmm_thp_mode {
	KMM_THP_ALWAYS,
	KMM_THP_MADVISE,
	KMM_THP_NEVER,
};

/* Which kernel image kmm reserves at 16 MiB, to look like a booted Linux. */
enum kmm_kernel_image {
	KMM_KERNEL_AUTO, /* Debian 6.1's when the machine has >= 128 MiB, else none */
	KMM_KERNEL_NONE,
	KMM_KERNEL_DEBIAN61,
	KMM_KERNEL_FROM_LOG, /* sizes read from a boot log */
};

struct kmm_kernel_sizes {
	uint64_t code, rwdata, rodata, init, bss;	      /* bytes, as "Memory:" reports them */
	uint64_t text_rodata_gap, rodata_data_gap, decrypted; /* freed late */
	uint64_t smp_alternatives; /* freed before the watermarks are computed */
	/*
	 * What the image holds besides the listed sections, up to _end (percpu
	 * data, alignment): 2 MiB in Debian's 6.1 image (its /proc/iomem).
	 */
	uint64_t image_tail;
};

struct kmm_port_thread;

struct kmm_machine_desc {
	struct kmm_mem_range ranges[KMM_MAX_RANGES]; /* firmware map, sorted by start */
	int nr_ranges;
	struct kmm_numa_range numa[KMM_MAX_RANGES]; /* empty: node 0 / from ranges */
	int nr_numa;
	int nr_nodes;
	int nr_cpus;
	short cpu_node[KMM_MAX_CPUS];
	unsigned char distance[KMM_MAX_NUMNODES][KMM_MAX_NUMNODES];
	bool distance_given;
	enum kmm_arch arch;

	/* Command-line memory options, as Linux takes them. */
	uint64_t mem_limit;   /* mem= (0: none) */
	uint64_t movablecore; /* movablecore= bytes */
	uint64_t kernelcore;  /* kernelcore= bytes */
	unsigned int movablecore_percent, kernelcore_percent;
	bool kernelcore_mirror;
	bool numa_off;
	bool thp_given;
	enum kmm_thp_mode thp;

	/* Early reservations of the booted kernel. */
	enum kmm_kernel_image kernel_image;
	struct kmm_kernel_sizes kernel;
	struct kmm_early_reserve reserves[KMM_MAX_RESERVES];
	int nr_reserves;
	uint64_t log_reserved_kb; /* "Memory: ... NK reserved" of a boot log, 0 if none */
	uint64_t log_physpages_kb;
	uint64_t percpu_unit_pages; /* "percpu: Embedded N pages/cpu" */

	char source[256]; /* where the description came from, for messages */
};

/* --- Boot configuration --------------------------------------------------------- */

enum kmm_memory_model {
	KMM_MODEL_FLATMEM,
	KMM_MODEL_SPARSEMEM,
	KMM_MODEL_SPARSEMEM_VMEMMAP,
};

/* How the buddy allocator knows a block is free (see docs/page-allocator.md). */
enum kmm_buddy_design {
	KMM_BUDDY_PAGEFLAG, /* modern: PageBuddy + order in struct page */
	KMM_BUDDY_BITMAP,   /* 2.4: free_area[order].map, one bit per buddy pair */
};

enum kmm_deferred_init {
	KMM_DEFERRED_WAIT,   /* kmm_boot() returns with every page in the zones */
	KMM_DEFERRED_THREAD, /* return when ready to allocate; a thread finishes */
	KMM_DEFERRED_OFF,    /* initialise everything up front, in the boot thread */
	/*
	 * Only when an allocation finds its zone short (deferred_grow_zone), one
	 * section at a time, and never in a thread: memory that is never needed
	 * costs no struct page writes. The late initcalls (watermarks) run at boot.
	 * libkmm-malloc grows its heap this way.
	 */
	KMM_DEFERRED_ON_DEMAND,
};

/* A swap area to switch on at boot (--swap FILE:SIZE[:PRIO]). */
#define KMM_MAX_BOOT_SWAP 8
struct kmm_swap_spec {
	char path[256];
	uint64_t size; /* bytes to format the file with; 0: use its swap header */
	int prio;      /* -1: automatic */
};

struct kmm_config {
	struct kmm_machine_desc desc;
	bool desc_given; /* a layout came from --map or --from-dmesg */
	/* Flags-built layouts (--mem/--nodes): resolved by kmm_config_finish(). */
	uint64_t mem_bytes;
	int nodes;
	int cpus; /* 0: from the description */

	enum kmm_memory_model model;
	enum kmm_buddy_design buddy;
	enum kmm_deferred_init deferred;
	int rmap_design; /* enum kmm_rmap_design, see kmm/mm.h */

	/* vm sysctls; -1 means "as Linux computes it". */
	int min_free_kbytes;
	int watermark_scale_factor;
	int watermark_boost_factor;
	int lowmem_reserve_ratio[MAX_NR_ZONES];
	int lowmem_reserve_ratio_given;
	int percpu_pagelist_high_fraction;
	bool thp_given;
	enum kmm_thp_mode thp;

	uint64_t seed;
	bool quiet; /* do not echo the boot log */
	/* Slab debugging for every cache or one ("FZPU[,name]", Linux slub_debug=); "" for none. */
	char slub_debug[64];
	/* Swap areas switched on at the end of boot, as an init script's swapon -a. */
	struct kmm_swap_spec swap[KMM_MAX_BOOT_SWAP];
	int nr_swap;
	/*
	 * The first this many max-order blocks of RAM that kmm backs are left to
	 * the host's first-touch faults instead of populated whole (src/phys/ram.c):
	 * a small user (libkmm-malloc in a short program) pays only for the pages
	 * it touches. 0: populate every block.
	 */
	unsigned int ram_lazy_blocks;
};

/* Defaults: 4 GiB, 2 nodes, 4 CPUs, x86_64, SPARSEMEM_VMEMMAP (kmm's default machine). */
void kmm_config_init(struct kmm_config *cfg);
/*
 * Apply one machine option ("--mem", "4G"). Returns 2 if the option took a
 * value, 1 if it took none, 0 if it is not a machine option, or a negative
 * errno with a message in @err.
 */
int kmm_config_option(struct kmm_config *cfg, const char *opt, const char *val,
		      struct kmm_error *err);
/* Parse every machine option in argv[0..argc); unknown options are an error. */
int kmm_config_parse_args(struct kmm_config *cfg, int argc, char **argv, struct kmm_error *err);
/* Resolve and validate: builds the layout for --mem/--nodes, checks ranges. */
int kmm_config_finish(struct kmm_config *cfg, struct kmm_error *err);
/* The help text of the machine options. */
const char *kmm_config_help(void);

/* Layout builders and parsers (each fills @desc, or returns -errno with a message). */
int kmm_desc_qemu_pc(struct kmm_machine_desc *desc, uint64_t mem_bytes, int nodes, int cpus,
		     enum kmm_arch arch, struct kmm_error *err);
int kmm_desc_parse_map(struct kmm_machine_desc *desc, const char *text, const char *filename,
		       struct kmm_error *err);
int kmm_desc_parse_dmesg(struct kmm_machine_desc *desc, const char *text, const char *filename,
			 struct kmm_error *err);
/* Check a description: sorted, disjoint, aligned, nodes and CPUs consistent. */
int kmm_desc_validate(struct kmm_machine_desc *desc, struct kmm_error *err);

/* --- The booted machine --------------------------------------------------------- */

/* Memory sections of SPARSEMEM: 128 MiB each. */
#define SECTION_SIZE_BITS 27
#define PFN_SECTION_SHIFT (SECTION_SIZE_BITS - PAGE_SHIFT)
#define PAGES_PER_SECTION (1UL << PFN_SECTION_SHIFT)
#define PAGE_SECTION_MASK (~(PAGES_PER_SECTION - 1))

struct mem_section {
	/*
	 * The section's memmap pointer minus its first pfn (so that adding a
	 * pfn gives its struct page), with flags in the low bits.
	 */
	unsigned long section_mem_map;
	/*
	 * Pages of the section that have struct pages: the whole section,
	 * except a section at the end of RAM, whose memmap stops at the last
	 * RAM pfn rounded up to a max-order block (so a 4 MiB machine does not
	 * spend 2 MiB on a full section's memmap). Linux's subsections.
	 */
	unsigned long nr_pages;
};
#define SECTIONS_PER_ROOT      (PAGE_SIZE / sizeof(struct mem_section))
#define SECTION_MARKED_PRESENT (1UL << 0)
#define SECTION_HAS_MEM_MAP    (1UL << 1)
#define SECTION_IS_ONLINE      (1UL << 2)
#define SECTION_IS_EARLY       (1UL << 3)
#define SECTION_MAP_MASK       (~0xfUL)

/* memblock: the boot-time allocator (Linux mm/memblock.c). */
struct memblock_region {
	phys_addr_t base;
	phys_addr_t size;
	int nid;
	unsigned int flags;
};

struct memblock_type {
	unsigned long cnt;
	unsigned long max;
	phys_addr_t total_size;
	struct memblock_region *regions;
	const char *name;
};

struct kmm_memblock {
	bool bottom_up;
	phys_addr_t current_limit;
	struct memblock_type memory;
	struct memblock_type reserved;
};

/* A simulated CPU. A host thread enters one before touching per-CPU state. */
struct kmm_cpu {
	struct kmm_machine *machine;
	int id;
	int node;
	unsigned int owner;	/* 1 while a thread is on this CPU */
	struct kmm_cpu *prev;	/* what the entering thread had entered before */
	atomic_t drain_request; /* another CPU asked for this CPU's pcp lists */
	void *slab;		/* slab/ per-CPU state */
	void *vm;		/* vm/ per-CPU state (the software TLB) */
	unsigned long vm_events[NR_VM_EVENT_ITEMS];
} ____cacheline_aligned;

/* Hooks an upper layer registers so that a lower one can call it (calls go down). */
struct kmm_hooks {
	/* page/ -> reclaim/: kswapd wake-up below the low watermark. */
	void (*wakeup_kswapd)(struct kmm_zone *zone, gfp_t gfp, unsigned int order,
			      enum zone_type highest_zoneidx);
	/* page/ -> reclaim/: direct reclaim below min; returns pages reclaimed. */
	unsigned long (*try_to_free_pages)(struct kmm_machine *m, struct zonelist *zl,
					   unsigned int order, gfp_t gfp);
	/* page/ -> swap/: free swap pages, so anonymous pages count as reclaimable. */
	long (*nr_swap_pages)(struct kmm_machine *m);
	/* page/ -> reclaim/: a page's last reference went while it had PG_lru: off its list. */
	void (*lru_page_release)(struct kmm_machine *m, struct kmm_page *page);
	/* page/ -> reclaim/: the OOM killer; returns true if it freed memory. */
	bool (*out_of_memory)(struct kmm_machine *m, gfp_t gfp, unsigned int order);
	/* phys/ -> page/: hand a block of free boot memory to the buddy allocator. */
	void (*free_boot_pages)(struct kmm_machine *m, struct kmm_page *page, unsigned int order);
	/* slab/ -> sim/: the pid of the simulated task running now (slab debug tracks); 0 if unset. */
	int (*current_pid)(struct kmm_machine *m);
};

/*
 * The layers above phys/ that own tunables (vm/: max_map_count, reclaim/:
 * swappiness, swap/: page-cluster). Each fills its slot of
 * kmm_machine.sysctl at init; phys/sysctl.c checks the value against its
 * table of every tunable's range and hands it over.
 */
enum kmm_sysctl_owner {
	KMM_SYSCTL_PHYS,
	KMM_SYSCTL_VM,
	KMM_SYSCTL_RECLAIM,
	KMM_SYSCTL_SWAP,
	KMM_SYSCTL_NR_OWNERS
};

struct kmm_sysctl_ops {
	void (*set)(struct kmm_machine *m, const char *name,
		    long value); /* value already checked */
	long (*get)(struct kmm_machine *m, const char *name);
};

struct kmm_machine {
	struct kmm_config cfg; /* as booted; cfg.desc after sanitising */
	enum kmm_memory_model model;
	enum kmm_buddy_design buddy;

	/* Simulated RAM: host address of physical address 0 (the direct map). */
	char *ram;
	size_t ram_size;
	/* One bit per max-order block of RAM already backed by host memory. */
	unsigned long *ram_populated;
	long ram_lazy_left; /* blocks still to leave to first touch (cfg.ram_lazy_blocks) */

	unsigned long min_low_pfn, max_low_pfn, max_pfn;
	unsigned long max_zone_pfn[MAX_NR_ZONES];
	unsigned long arch_zone_lowest_possible_pfn[MAX_NR_ZONES];
	unsigned long arch_zone_highest_possible_pfn[MAX_NR_ZONES];
	unsigned long dma_reserve; /* pages reserved below 16 MiB early in boot */
	/* Where reserve.c placed the kernel image's sections (enum kmm_kernel_piece). */
	struct {
		uint64_t start, size;
	} kernel_pieces[10];
	unsigned long zone_movable_pfn[KMM_MAX_NUMNODES];
	/* Zone types this arch has, in index order. */
	bool zone_in_arch[MAX_NR_ZONES];
	int nr_arch_zones;
	enum zone_type policy_zone;
	enum zone_type movable_zone; /* the zone ZONE_MOVABLE is taken from */
	bool page_group_by_mobility_disabled;

	/* Memory model state. */
	/*
	 * Where the struct page of pfn 0 would be, for the two models whose
	 * memmap is one array indexed by pfn (FLATMEM, SPARSEMEM_VMEMMAP):
	 * the conversions are then one subtraction. 0 for SPARSEMEM.
	 */
	uintptr_t memmap_base;
	struct kmm_page *mem_map; /* FLATMEM: struct page of pfn flat_pfn_offset */

	unsigned long flat_pfn_offset;
	unsigned long flat_nr_pages;
	struct mem_section **mem_section; /* SPARSEMEM roots */
	unsigned long nr_section_roots;
	unsigned long nr_mem_sections;
	struct kmm_page *vmemmap; /* SPARSEMEM_VMEMMAP: struct page of pfn 0 */
	size_t vmemmap_size;
	unsigned long *vmemmap_populated; /* one bit per section */
	unsigned long memmap_bytes;	  /* struct page storage, for the benchmark */

	struct kmm_memblock memblock;

	int nr_node_ids;
	int nr_online_nodes;
	struct kmm_node *node_data[KMM_MAX_NUMNODES];
	int nr_cpus;
	struct kmm_cpu *cpus[KMM_MAX_CPUS];
	unsigned char node_distance[KMM_MAX_NUMNODES][KMM_MAX_NUMNODES];

	/* vm sysctls, live. */
	int min_free_kbytes;
	int user_min_free_kbytes;
	int watermark_scale_factor;
	int watermark_boost_factor;
	int lowmem_reserve_ratio[MAX_NR_ZONES];
	int percpu_pagelist_high_fraction;
	enum kmm_thp_mode thp;

	/* Totals. */
	atomic_long_t totalram_pages;
	unsigned long totalreserve_pages;
	unsigned long totalhigh_pages;
	unsigned long physpages; /* present RAM pages */
	unsigned long nr_all_pages;

	/* Global counters (the sums of the per-zone and per-node ones). */
	atomic_long_t vm_zone_stat[NR_VM_ZONE_STAT_ITEMS];
	atomic_long_t vm_node_stat[NR_VM_NODE_STAT_ITEMS];
	atomic_long_t vm_numa_event[NR_VM_NUMA_EVENT_ITEMS];
	/* Events from threads that have not entered a CPU. */
	unsigned long vm_events_nocpu[NR_VM_EVENT_ITEMS];

	/* Deferred struct page initialisation. */
	spinlock_t deferred_lock;
	struct kmm_port_thread *deferred_thread;
	bool deferred_done;
	uint64_t boot_start_ns, ready_ns, init_done_ns;

	struct kmm_hooks hooks;
	struct kmm_sysctl_ops sysctl[KMM_SYSCTL_NR_OWNERS]; /* [KMM_SYSCTL_PHYS] unused */
	/* Pages of the page allocator holding per-CPU data (slab's first percpu chunk). */
	atomic_long_t percpu_pages;
	/* init_on_alloc=: zero every page and slab object as it is allocated. */
	bool init_on_alloc;
	/* Trace points (kmm/trace.h): enabled events and where they go. */
	unsigned long trace_mask;
	kmm_trace_hook_t trace_hook;
	void *trace_arg; /* the hook's own state (kmm/ftrace.h) */
	struct kmm_fault_attr fail_page_alloc;
	struct kmm_fault_attr failslab;

	/* The kernel log (dmesg) of this machine. */
	struct kmm_buf log;
	spinlock_t log_lock;
	bool log_echo;

	/* Per-layer state of the layers above phys/. */
	struct kmm_page_alloc_state *pa;
	struct kmm_slab_state *slab;
	void *vm;
	void *reclaim;
	void *swap;
};

/*
 * Boot a machine. Returns NULL with a message in @err if the configuration
 * cannot be booted (it is validated first). The boot log is kept in m->log
 * and echoed to stdout unless cfg->quiet.
 */
struct kmm_machine *kmm_boot(const struct kmm_config *cfg, struct kmm_error *err);
void kmm_machine_destroy(struct kmm_machine *m);
/* Wait until deferred struct page initialisation has finished. */
void kmm_wait_for_init(struct kmm_machine *m);

/* Enter a simulated CPU (waits while another thread is on it); returns 0 or -EINVAL. */
int kmm_cpu_enter(struct kmm_machine *m, int cpu);
/* Enter only if free; returns 0, -EBUSY, or -EINVAL. */
int kmm_cpu_tryenter(struct kmm_machine *m, int cpu);
void kmm_cpu_exit(struct kmm_machine *m);
/* The CPU the calling thread is on in @m, or NULL. */
struct kmm_cpu *kmm_this_cpu(struct kmm_machine *m);

/*
 * Check the physical layer's invariants (memblock, nodes, zones, struct
 * pages). Returns 0, or -EINVAL with what broke in @err. For tests.
 */
int kmm_phys_validate(struct kmm_machine *m, struct kmm_error *err);

/*
 * Change a vm tunable at run time, by its /proc/sys/vm name (swappiness,
 * page-cluster, min_free_kbytes, ...: docs/cli.md lists them). A refused
 * value changes nothing and returns -EINVAL, an unknown name -ENOENT, each
 * with a message naming the tunable.
 */
int kmm_sysctl_set(struct kmm_machine *m, const char *name, const char *value,
		   struct kmm_error *err);
int kmm_sysctl_get(struct kmm_machine *m, const char *name, struct kmm_buf *out);
/* Check a write without a machine (a workload before it runs): 0, -ENOENT or -EINVAL. */
int kmm_sysctl_check(const char *name, const char *value, struct kmm_error *err);

static inline struct kmm_node *NODE_DATA(struct kmm_machine *m, int nid)
{
	return m->node_data[nid];
}

#endif /* KMM_MACHINE_H */
