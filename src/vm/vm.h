/*
 * vm/'s interface to the layers that use it (rmap/, reclaim/, swap/, sim/)
 * and to its own files: the structures of an address space and the
 * kernel-named functions that work on them.
 *
 * Linux: include/linux/mm_types.h (struct mm_struct, struct vm_area_struct),
 * include/linux/mm.h, include/linux/fs.h (struct address_space, struct
 * inode, struct file), include/linux/sched.h (the parts of task_struct the
 * memory manager uses), arch/x86/include/asm/tlbflush.h (per-CPU TLB state).
 *
 * Locks, outermost first (mm/rmap.c's order, restricted to what exists):
 *   mm->mmap_lock (rw)
 *     mapping->i_mmap_rwsem
 *       anon_vma->rwsem
 *         mm->page_table_lock (populating upper page-table levels; changing
 *                              the VMA tree, a linked VMA's range or flags;
 *                              a pte-chain rmap walk's VMA lookup)
 *           page-table page's ptl (split PTE lock: struct kmm_page::ptl)
 *             mapping->i_pages_lock (page cache tree)
 * PG_locked (lock_page) is taken outside the page-table locks. A CPU's
 * vm_cpu::ipi_lock is a leaf lock.
 */
#ifndef KMM_VM_VM_H
#define KMM_VM_VM_H

#include <kmm/mm.h>
#include <kmm/rbtree.h>
#include <kmm/rwsem.h>
#include <kmm/page_alloc.h>
#include "../phys/phys.h"
#include <kmm/radix_tree.h>
#include "pgtable.h"
#include <kmm/slab.h>

struct kmm_anon_vma;
struct kmm_inode;
struct kmm_address_space;

/* --- VMA flags (Linux's values) ---------------------------------------------------- */

#define VM_NONE	       0x00000000UL
#define VM_READ	       0x00000001UL
#define VM_WRITE       0x00000002UL
#define VM_EXEC	       0x00000004UL
#define VM_SHARED      0x00000008UL
#define VM_MAYREAD     0x00000010UL
#define VM_MAYWRITE    0x00000020UL
#define VM_MAYEXEC     0x00000040UL
#define VM_MAYSHARE    0x00000080UL
#define VM_GROWSDOWN   0x00000100UL
#define VM_LOCKED      0x00002000UL
#define VM_SEQ_READ    0x00008000UL
#define VM_RAND_READ   0x00010000UL
#define VM_DONTCOPY    0x00020000UL
#define VM_DONTEXPAND  0x00040000UL
#define VM_LOCKONFAULT 0x00080000UL
#define VM_ACCOUNT     0x00100000UL
#define VM_NORESERVE   0x00200000UL
#define VM_STACK       VM_GROWSDOWN

#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)
#define VM_LOCKED_MASK	(VM_LOCKED | VM_LOCKONFAULT)
/* Flags that do not prevent two neighbouring VMAs from merging. */
#define VM_IGNORE_MERGE 0UL
/* Stack VMA flags of a fresh exec. */
#define VM_STACK_FLAGS \
	(VM_GROWSDOWN | VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT)
#define VM_DATA_DEFAULT_FLAGS (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)

/* RSS counters of an mm (Linux enum of mm_types_task.h). */
enum {
	MM_FILEPAGES,  /* resident file pages */
	MM_ANONPAGES,  /* resident anonymous pages */
	MM_SWAPENTS,   /* anonymous pages out in swap */
	MM_SHMEMPAGES, /* resident shared-memory pages */
	NR_MM_COUNTERS
};

/* --- VMAs and address spaces ---------------------------------------------------------- */

/*
 * A virtual memory area: [vm_start, vm_end) with one set of permissions
 * and one backing object (Linux struct vm_area_struct, 6.1 without the
 * maple tree: VMAs are in an augmented red-black tree by address and a
 * sorted list, as in Linux 3.x-5.x).
 */
struct kmm_vma {
	unsigned long vm_start;
	unsigned long vm_end; /* first byte after */
	struct kmm_vma *vm_next, *vm_prev;
	struct rb_node vm_rb;
	/*
	 * Largest free gap below this VMA in its subtree: the tree finds a
	 * hole of a given size in O(log n) (Linux 3.8-6.0 rb_subtree_gap).
	 */
	unsigned long rb_subtree_gap;
	struct kmm_mm *vm_mm;
	pgprot_t vm_page_prot; /* the PTE bits of a page mapped here */
	unsigned long vm_flags;
	/* In the file's i_mmap interval tree, by page-offset range. */
	struct {
		struct rb_node rb;
		unsigned long rb_subtree_last;
	} shared;
	/* rmap/: the anon_vma_chain list, and the anon_vma of this VMA's anonymous pages. */
	struct list_head anon_vma_chain;
	struct kmm_anon_vma *anon_vma;
	/* Offset in the file in pages; for anonymous VMAs vm_start >> PAGE_SHIFT when made. */
	unsigned long vm_pgoff;
	struct kmm_file *vm_file;
	void *vm_private_data;
};

/* The TLB side of an mm (Linux mm_context_t on x86, with PCID). */
struct mm_context {
	uint64_t ctx_id;  /* unique for the machine's lifetime: names the mm in TLB tags */
	uint64_t tlb_gen; /* bumped by every flush of this mm (atomic) */
};

/*
 * An address space (Linux struct mm_struct). mm_users counts the tasks
 * using it; mm_count holds the structure itself (one reference stands for
 * all the users).
 */
struct kmm_mm {
	struct kmm_vma *mmap; /* the first VMA; the list is sorted by address */
	struct rb_root mm_rb;
	struct kmm_vma *mmap_cache; /* the last VMA find_vma() returned */
	unsigned long mmap_base;
	unsigned long task_size;
	unsigned long highest_vm_end; /* end of the last VMA */
	pgd_t *pgd;
	struct kmm_page *pgd_page;
	atomic_t mm_users;
	atomic_t mm_count;
	atomic_long_t pgtables_bytes;
	int map_count; /* number of VMAs */
	spinlock_t page_table_lock;
	struct rw_semaphore mmap_lock;
	struct list_head mmlist; /* on the machine's list of every mm */

	unsigned long hiwater_rss, hiwater_vm;
	unsigned long total_vm, locked_vm, data_vm, exec_vm, stack_vm;
	unsigned long def_flags; /* VM_LOCKED after mlockall(MCL_FUTURE) */
	/*
	 * RLIMIT_MEMLOCK in pages (a process's limit; kmm keeps it with the
	 * address space, which fork copies and exec passes on). ULONG_MAX:
	 * unlimited, a task with CAP_IPC_LOCK (the default, as for root).
	 */
	unsigned long memlock_limit;
	unsigned long start_brk, brk, start_stack;
	atomic_long_t rss_stat[NR_MM_COUNTERS];

	struct mm_context context;
	/* CPUs that may hold TLB entries of this mm (set on switch, never cleared). */
	unsigned long cpumask[BITS_TO_LONGS(KMM_MAX_CPUS)];
	struct kmm_machine *machine;
};

/* --- Files and the page cache ------------------------------------------------------- */

/* What an address_space does for the page cache (struct address_space_operations). */
struct address_space_operations {
	/* Fill @nr locked pages at consecutive indices from the backing store; 0 or -errno. */
	int (*read_pages)(struct kmm_address_space *mapping, struct kmm_page **pages,
			  unsigned long index, unsigned int nr);
	/* Write one dirty page back; 0 or -errno. */
	int (*writepage)(struct kmm_address_space *mapping, struct kmm_page *page);
};

/* Bits of address_space::flags. */
#define AS_EIO	       0 /* a writeback failed; reported by the next msync */
#define AS_SHMEM       1 /* shared anonymous memory, no host file */
#define AS_UNEVICTABLE 2

/*
 * The page cache of one file (Linux struct address_space): pages by
 * index in a radix tree with dirty and writeback marks, and the VMAs that
 * map the file in an interval tree by page offset.
 */
struct kmm_address_space {
	struct kmm_inode *host;
	struct radix_tree_root i_pages;
	spinlock_t i_pages_lock;
	unsigned long nrpages;
	struct rb_root i_mmap;
	struct rw_semaphore i_mmap_rwsem;
	atomic_t i_mmap_writable; /* shared writable mappings: written back when the last goes */
	const struct address_space_operations *a_ops;
	unsigned long flags;
	unsigned int ra_pages; /* readahead window in pages (Linux: 128 KiB) */
	int wb_err;	       /* the last writeback error, reported once by msync */
};

/* Marks of the page-cache tree (Linux PAGECACHE_TAG_*). */
#define PAGECACHE_TAG_DIRTY	RADIX_TREE_TAG_0
#define PAGECACHE_TAG_WRITEBACK RADIX_TREE_TAG_1
#define PAGECACHE_TAG_TOWRITE	RADIX_TREE_TAG_2

/*
 * One host file, or one shared anonymous region (Linux struct inode; shmem
 * gets an inode of its own per mapping, like MAP_SHARED|MAP_ANONYMOUS on a
 * hidden tmpfs file).
 */
struct kmm_inode {
	atomic_t i_count;
	struct kmm_machine *machine;
	int fd;		   /* host descriptor, -1 for shmem */
	bool fd_writable;  /* opened O_RDWR on the host */
	uint64_t dev, ino; /* host identity: one inode per host file */
	uint64_t i_size;   /* bytes (READ_ONCE: faults read it without a lock) */
	struct kmm_address_space i_data;
	struct list_head i_list; /* on the machine's list of inodes (shmem: its own list) */
	/* shmem: slots holding swap entries; written under i_pages_lock, swapoff reads it without */
	unsigned long swapped;
	struct rw_semaphore i_rwsem; /* serializes write(2)s and the size they extend */
	char path[256];
};

#define FMODE_READ  0x1u
#define FMODE_WRITE 0x2u

/* Readahead state of an open file (Linux struct file_ra_state), in pages. */
struct file_ra_state {
	unsigned long start;	 /* first page of the current window */
	unsigned int size;	 /* pages in the window */
	unsigned int async_size; /* reading the page at start + size - async_size reads on */
	uint64_t prev_pos;	 /* end of the last read, in bytes (-1: none yet) */
};

#define FILE_MAGIC 0x66696c65u /* "file": f_magic of an open file, 0 once closed */

/* An open file (Linux struct file). */
struct kmm_file {
	atomic_t f_count;
	unsigned int f_magic;
	unsigned int f_mode;
	struct kmm_inode *f_inode;
	struct kmm_address_space *f_mapping;
	struct file_ra_state f_ra; /* read(2) readahead (vm/read_write.c) */
};

static inline struct kmm_address_space *vma_mapping(const struct kmm_vma *vma)
{
	return vma->vm_file ? vma->vm_file->f_mapping : NULL;
}

/* --- Tasks -------------------------------------------------------------------------------- */

/*
 * A simulated task, as the memory manager sees it (the parts of Linux's
 * task_struct that mm/ uses). sim/ creates and schedules tasks.
 */
struct kmm_task {
	struct kmm_mm *mm;
	struct vm_cpu *vc; /* the vm state of the CPU the task runs on */
	struct kmm_cpu *cpu;
	struct kmm_machine *machine;
	enum kmm_task_state state;
	int pid;
	unsigned long min_flt, maj_flt;
	char comm[16];
	struct kmm_task_signal sig;
	int exit_code;
	struct list_head tasks; /* on the machine's task list (sim/) */
	/* The OOM killer (reclaim/): the task's weight, and a kill waiting for it to run. */
	int oom_score_adj;
	bool oom_kill_pending;
};

/* --- The per-CPU software TLB ------------------------------------------------------------- */

/*
 * A direct-mapped TLB: 64 entries like a first-level data TLB, indexed by
 * the low bits of the virtual page number, tagged with the page and the
 * address-space id (ASID) so that switching between a few address spaces
 * needs no flush (x86 PCID). An entry answers reads when rtag matches and
 * writes when wtag matches: wtag is set only when the PTE is writable and
 * already dirty, so a first write goes to the slow path and sets the dirty
 * bit, as the hardware does.
 */
#define TLB_ENTRIES    64
#define TLB_NR_ASIDS   6 /* Linux TLB_NR_DYN_ASIDS */
#define TLB_FLUSH_REQS 8

struct tlb_entry {
	unsigned long rtag; /* (vaddr & PAGE_MASK) | asid, or 0 */
	unsigned long wtag;
	char *page; /* host address of the page frame */
	unsigned long pfn;
};

struct tlb_flush_req {
	uint64_t ctx_id;
	unsigned long start, end;
};

struct vm_cpu {
	/* Read on every access by the thread on this CPU. */
	struct kmm_task *curr;
	const char *sigbus_reason; /* set by a fault handler that knows why it failed */
	unsigned long asid;	   /* of the loaded context, 1..TLB_NR_ASIDS */
	unsigned long in_access;   /* odd while an access runs (read by shootdowns) */
	unsigned long ipi_pending; /* flush requests from other CPUs wait (written remotely) */
	bool fence;		   /* no heavy barrier on this host: fence every access */
	struct kmm_cpu *cpu;
	struct kmm_machine *machine;
	struct tlb_entry tlb[TLB_ENTRIES] ____cacheline_aligned;

	/* The loaded address space (Linux cpu_tlbstate). */
	struct kmm_mm *loaded_mm; /* compared, not dereferenced, once its tasks are gone */
	uint64_t loaded_ctx;	  /* its ctx_id: read by other CPUs' shootdowns */
	struct {
		uint64_t ctx_id;
		uint64_t tlb_gen; /* the mm's tlb_gen when this ASID was last flushed whole */
	} ctxs[TLB_NR_ASIDS];
	unsigned int next_asid;

	/* Shootdown requests from other CPUs (Linux flush_tlb_info via IPI). */
	spinlock_t ipi_lock;
	int nr_flush_req;
	bool flush_all_req;
	struct tlb_flush_req flush_req[TLB_FLUSH_REQS];
} ____cacheline_aligned;

/* --- Hooks of the layers above ------------------------------------------------------------ */

struct vm_fault;
/* swap/ registers these; without swap, no PTE ever holds a swap entry. */
struct vm_swap_hooks {
	int (*do_swap_page)(struct vm_fault *vmf);			 /* VM_FAULT_* */
	int (*swap_duplicate)(struct kmm_machine *m, swp_entry_t entry); /* fork; 0 or -ENOMEM */
	void (*free_swap_and_cache)(struct kmm_machine *m, swp_entry_t entry);
	/* A swap-cache page lost a mapping: drop it from the cache if nothing maps it. */
	void (*free_swap_cache)(struct kmm_machine *m, struct kmm_page *page);
	/*
	 * Shared memory: bring back the page whose slot @index of @mapping
	 * holds @entry (vm/shmem.c). 0 with *@pagep locked, referenced and in
	 * the mapping (*@major: it was read from the area); -EIO (the read
	 * failed), -ENOMEM, or -EAGAIN (the slot changed: look again).
	 */
	int (*shmem_swapin)(struct kmm_machine *m, struct kmm_address_space *mapping,
			    unsigned long index, swp_entry_t entry, struct kmm_page **pagep,
			    bool *major);
};

/* reclaim/ registers these to keep its LRU lists (NULL until it exists). */
struct vm_lru_hooks {
	/* A new anonymous or page-cache page enters the LRU (lru_cache_add). */
	void (*lru_cache_add)(struct kmm_machine *m, struct kmm_page *page);
	/* An unmapped PTE was young: the page was used (mark_page_accessed). */
	void (*mark_page_accessed)(struct kmm_machine *m, struct kmm_page *page);
	/* Put this CPU's (or every CPU's) batched new pages on their lists. */
	void (*lru_add_drain)(struct kmm_machine *m);
	void (*lru_add_drain_all)(struct kmm_machine *m);
	/*
	 * PG_mlocked (reclaim/mlock.c): a VM_LOCKED VMA maps the page; one
	 * stopped mapping it; munlock() of a locked page (rmap-checked: may
	 * sleep, the page locked, no page-table lock).
	 */
	void (*mlock_page)(struct kmm_machine *m, struct kmm_page *page);
	void (*munlock_page)(struct kmm_machine *m, struct kmm_page *page);
	void (*munlock_vma_page)(struct kmm_machine *m, struct kmm_page *page);
	/*
	 * Reclaim takes a clean page out of a page or swap cache: the shadow
	 * entry to leave in its slot (Linux workingset_eviction). Called under
	 * the cache's lock with the page's refcount frozen at 0.
	 */
	void *(*workingset_eviction)(struct kmm_machine *m, struct kmm_page *page);
	/*
	 * A new page (locked, not yet on the LRU) took the slot of @shadow:
	 * count the refault and activate the page if it belongs to the
	 * working set (Linux workingset_refault).
	 */
	void (*workingset_refault)(struct kmm_machine *m, struct kmm_page *page, void *shadow);
	/*
	 * madvise's LRU side (Linux mm/swap.c, mm/vmscan.c), called under the
	 * PTE lock but for reclaim_pages: MADV_FREE makes a private anonymous
	 * page lazily freeable (folio_mark_lazyfree); MADV_COLD moves an active
	 * page to its inactive list (folio_deactivate); MADV_PAGEOUT takes a
	 * page off its list with a reference (false if it was on none:
	 * folio_isolate_lru) and reclaims the taken pages, with no lock held,
	 * putting back what stays (reclaim_pages; returns the pages freed).
	 */
	void (*mark_page_lazyfree)(struct kmm_machine *m, struct kmm_page *page);
	void (*deactivate_page)(struct kmm_machine *m, struct kmm_page *page);
	bool (*isolate_lru_page)(struct kmm_machine *m, struct kmm_page *page);
	unsigned long (*reclaim_pages)(struct kmm_machine *m, struct list_head *pages);
};

/* --- The layer's state in the machine (m->vm) --------------------------------------------- */

/*
 * The radix tree nodes of one NUMA node's memory that hold only shadow
 * entries, oldest first (Linux: the shadow_nodes list_lru of
 * mm/workingset.c, one list per node). vm/shadow_nodes.c keeps it;
 * reclaim's shadow-node shrinker frees what is past its limit.
 */
struct shadow_node_list {
	spinlock_t lock; /* nests inside a tree's lock */
	struct list_head head;
	unsigned long nr; /* nodes on it: the node's workingset_nodes */
	int nid;
};

struct vm_state {
	struct kmm_kmem_cache *mm_cachep;
	struct kmm_kmem_cache *vma_cachep;
	struct kmm_kmem_cache *task_cachep;
	struct kmm_kmem_cache *filp_cachep;
	struct kmm_kmem_cache *inode_cachep;
	struct kmm_kmem_cache *radix_node_cachep;
	struct kmm_kmem_cache *anon_vma_cachep;
	struct kmm_kmem_cache *anon_vma_chain_cachep; /* rmap/, objrmap design */
	struct kmm_kmem_cache *pte_chain_cachep;      /* rmap/, ptechain design */
	atomic_long_t nr_rmap_objs[3];		      /* rmap/: enum rmap_obj, in use */
	struct kmm_page *zero_page;
	unsigned long zero_pfn;
	spinlock_t mmlist_lock;
	struct list_head mmlist;
	spinlock_t inode_lock;
	struct list_head inodes;
	struct list_head shmem_inodes; /* shared memory (under inode_lock): what swapoff walks */
	spinlock_t task_lock;
	struct list_head tasks;
	int next_pid;
	unsigned long next_ctx_id;
	atomic_long_t nr_table_pages; /* page-table pages of every level, PGDs included */
	bool heavy_barrier;	      /* the host offers membarrier: accesses need no fence */
	/* sysctls */
	int max_map_count;
	unsigned long stack_guard_gap;
	unsigned long mmap_min_addr;
	unsigned int fault_around_pages;
	int dirty_ratio;	    /* % of dirtyable memory a writer may dirty (Linux 20) */
	int dirty_background_ratio; /* % at which writeback starts (Linux 10) */
	struct vm_swap_hooks swap;
	struct vm_lru_hooks lru;
	struct vm_cpu *cpus[KMM_MAX_CPUS];
	struct shadow_node_list shadow_nodes[KMM_MAX_NUMNODES];
};

static inline struct vm_state *vm_state(const struct kmm_machine *m)
{
	return (struct vm_state *)m->vm;
}

/* A function returning an address or a negative errno failed (Linux IS_ERR_VALUE). */
#define IS_ERR_ADDR(x) ((unsigned long)(x) >= (unsigned long)-4095)

/* --- Page helpers -------------------------------------------------------------------------- */

#define PAGE_MAPPING_ANON 0x1UL

static inline bool PageAnon(const struct kmm_page *page)
{
	return ((uintptr_t)READ_ONCE(page->mapping) & PAGE_MAPPING_ANON) != 0;
}
static inline struct kmm_anon_vma *page_anon_vma(const struct kmm_page *page)
{
	uintptr_t mapping = (uintptr_t)READ_ONCE(page->mapping);
	if (!(mapping & PAGE_MAPPING_ANON))
		return NULL;
	return (struct kmm_anon_vma *)(mapping - PAGE_MAPPING_ANON);
}
static inline struct kmm_address_space *page_mapping_file(const struct kmm_page *page)
{
	uintptr_t mapping = (uintptr_t)READ_ONCE(page->mapping);
	return (mapping & PAGE_MAPPING_ANON) ? NULL : (struct kmm_address_space *)mapping;
}
static inline bool is_zero_pfn(const struct kmm_machine *m, unsigned long pfn)
{
	return pfn == vm_state(m)->zero_pfn;
}
static inline bool mapping_shmem(const struct kmm_address_space *mapping)
{
	return mapping->flags & (1UL << AS_SHMEM);
}

/* --- Shadow nodes (shadow_nodes.c) ------------------------------------------------------- */

void shadow_nodes_init(struct kmm_machine *m);
/* A tree's update_node for trees that keep shadows: page caches of files, swap caches. */
void workingset_update_node(struct radix_tree_root *root, struct radix_tree_node *node);
/* The shadow list of the NUMA node whose memory holds @node. */
struct shadow_node_list *shadow_node_list_of(struct kmm_machine *m,
					     const struct radix_tree_node *node);
/* Take @node off its list (the list's lock and the tree's lock held). */
void shadow_node_unlist(struct kmm_machine *m, struct shadow_node_list *list,
			struct radix_tree_node *node);
/* Every node on the lists holds only shadows, is in its tree, and the counts agree. */
int shadow_nodes_validate(struct kmm_machine *m, struct kmm_error *err);

/* Lock a page for I/O (PG_locked), spinning and yielding while another holds it. */
void lock_page(struct kmm_page *page);
static inline bool trylock_page(struct kmm_page *page)
{
	return !TestSetPageLocked(page);
}
/* Release: what was written to the page under the lock is visible to the next holder. */
static inline void unlock_page(struct kmm_page *page)
{
	__atomic_fetch_and(&page->flags, ~(1UL << PG_locked), __ATOMIC_RELEASE);
}
/* Drop a reference; the last one returns the page to the allocator (put_page). */
static inline void vm_put_page(struct kmm_machine *m, struct kmm_page *page)
{
	kmm_put_page(m, page);
}
/* Drop one reference to each of @nr pages (release_pages). */
static inline void release_pages(struct kmm_machine *m, struct kmm_page **pages, unsigned long nr)
{
	kmm_free_pages_bulk(m, pages, nr);
}

static inline void lru_cache_add(struct kmm_machine *m, struct kmm_page *page)
{
	if (vm_state(m)->lru.lru_cache_add)
		vm_state(m)->lru.lru_cache_add(m, page);
}
static inline void mark_page_accessed(struct kmm_machine *m, struct kmm_page *page)
{
	if (vm_state(m)->lru.mark_page_accessed)
		vm_state(m)->lru.mark_page_accessed(m, page);
}
static inline void *vm_workingset_eviction(struct kmm_machine *m, struct kmm_page *page)
{
	struct vm_state *vm = vm_state(m);
	return vm && vm->lru.workingset_eviction ? vm->lru.workingset_eviction(m, page) : NULL;
}
static inline void vm_workingset_refault(struct kmm_machine *m, struct kmm_page *page, void *shadow)
{
	struct vm_state *vm = vm_state(m);
	if (vm && vm->lru.workingset_refault)
		vm->lru.workingset_refault(m, page, shadow);
}
static inline void vm_lru_add_drain(struct kmm_machine *m)
{
	if (vm_state(m)->lru.lru_add_drain)
		vm_state(m)->lru.lru_add_drain(m);
}
static inline void vm_lru_add_drain_all(struct kmm_machine *m)
{
	if (vm_state(m)->lru.lru_add_drain_all)
		vm_state(m)->lru.lru_add_drain_all(m);
}

/* RSS counters. */
static inline void add_mm_counter(struct kmm_mm *mm, int member, long value)
{
	atomic_long_add(value, &mm->rss_stat[member]);
}
static inline long get_mm_counter(const struct kmm_mm *mm, int member)
{
	return atomic_long_read(&mm->rss_stat[member]);
}
static inline unsigned long get_mm_rss(const struct kmm_mm *mm)
{
	return (unsigned long)(get_mm_counter(mm, MM_FILEPAGES) + get_mm_counter(mm, MM_ANONPAGES) +
			       get_mm_counter(mm, MM_SHMEMPAGES));
}
/* The high-water marks /proc/<pid>/status shows (VmHWM, VmPeak); mmap_lock held for writing. */
static inline void update_hiwater(struct kmm_mm *mm)
{
	unsigned long rss = get_mm_rss(mm);
	if (mm->hiwater_rss < rss)
		mm->hiwater_rss = rss;
	if (mm->hiwater_vm < mm->total_vm)
		mm->hiwater_vm = mm->total_vm;
}
/* Which counter a mapped page counts in (Linux mm_counter). */
static inline int mm_counter(const struct kmm_page *page)
{
	if (PageAnon(page))
		return MM_ANONPAGES;
	if (PageSwapBacked(page))
		return MM_SHMEMPAGES;
	return MM_FILEPAGES;
}

static inline unsigned long vma_pages(const struct kmm_vma *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
/* The page offset of @addr in the VMA's object (Linux linear_page_index). */
static inline unsigned long linear_page_index(const struct kmm_vma *vma, unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}
static inline bool vma_is_anonymous(const struct kmm_vma *vma)
{
	return !vma->vm_file;
}
/* A private writable mapping: writes copy (Linux is_cow_mapping). */
static inline bool is_cow_mapping(unsigned long flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}
static inline unsigned long vm_start_gap(const struct kmm_vma *vma)
{
	unsigned long start = vma->vm_start;
	if (vma->vm_flags & VM_GROWSDOWN) {
		unsigned long gap = vm_state(vma->vm_mm->machine)->stack_guard_gap;
		start = start > gap ? start - gap : 0;
	}
	return start;
}
static inline unsigned long vm_end_gap(const struct kmm_vma *vma)
{
	return vma->vm_end;
}

/* --- Functions, by file ------------------------------------------------------------------- */

/* pgtable.c: allocating, walking and freeing page tables. */
pgd_t *pgd_alloc(struct kmm_mm *mm);
void pgd_free(struct kmm_mm *mm);
static inline pteval_t *entry_table(const struct kmm_machine *m, pteval_t entry)
{
	return (pteval_t *)(m->ram + (entry & PTE_PFN_MASK));
}
void pt_dtor(struct kmm_mm *mm, struct kmm_page *table);
/* The PMD entry for @addr, allocating the PUD and PMD tables (NULL: no memory). */
pmd_t *pmd_alloc_map(struct kmm_mm *mm, unsigned long addr);
/* The PTE for @addr, allocating the tables above it (NULL: no memory). */
pte_t *pte_alloc_map(struct kmm_mm *mm, unsigned long addr, pmd_t **pmdp);
/* The PTE for @addr if its tables exist, else NULL. */
pte_t *pte_lookup(struct kmm_mm *mm, unsigned long addr);
/* The PMD entry for @addr if its upper tables exist. */
pmd_t *pmd_lookup(struct kmm_mm *mm, unsigned long addr);
/* The split lock of the PTE table that @pmd points to. */
static inline spinlock_t *pte_lockptr(struct kmm_machine *m, pmd_t pmd)
{
	return &pfn_to_page(m, pmd_pfn(pmd))->ptl;
}
struct mmu_gather;
void free_pgd_range(struct mmu_gather *tlb, unsigned long addr, unsigned long end,
		    unsigned long floor, unsigned long ceiling);
void free_pgtables(struct mmu_gather *tlb, struct kmm_vma *vma, unsigned long floor,
		   unsigned long ceiling);

/* tlb.c: the software TLB, context switches and shootdowns. */
int vm_cpus_init(struct kmm_machine *m);
void vm_cpus_destroy(struct kmm_machine *m);
void switch_mm(struct vm_cpu *vc, struct kmm_mm *mm);
void flush_tlb_mm_range(struct kmm_mm *mm, unsigned long start, unsigned long end);
static inline void flush_tlb_mm(struct kmm_mm *mm)
{
	flush_tlb_mm_range(mm, 0, ~0UL);
}
static inline void flush_tlb_page(struct kmm_vma *vma, unsigned long addr)
{
	flush_tlb_mm_range(vma->vm_mm, addr, addr + PAGE_SIZE);
}
/* Handle shootdown requests that wait for this CPU (the access slow path). */
void tlb_handle_ipi(struct vm_cpu *vc);
/* An mm goes away: forget it on this CPU. */
void tlb_mm_exit(struct kmm_mm *mm);
struct vm_cpu *this_vm_cpu(struct kmm_machine *m);

/* mmu_gather (tlb.c): pages and tables to free once the TLBs no longer map them. */
#define MMU_GATHER_BATCH 256
struct mmu_gather {
	struct kmm_mm *mm;
	bool fullmm; /* the whole mm goes (exit): no other CPU can use it */
	bool freed_tables;
	unsigned long start, end; /* range to flush */
	unsigned int nr, nr_tables;
	struct kmm_page *pages[MMU_GATHER_BATCH];
	struct kmm_page *tables[64];
};
void tlb_gather_mmu(struct mmu_gather *tlb, struct kmm_mm *mm, bool fullmm);
void tlb_remove_page(struct mmu_gather *tlb, struct kmm_page *page, unsigned long addr);
void tlb_remove_table(struct mmu_gather *tlb, struct kmm_page *table, unsigned long addr);
static inline void tlb_track_range(struct mmu_gather *tlb, unsigned long start, unsigned long end)
{
	if (start < tlb->start)
		tlb->start = start;
	if (end > tlb->end)
		tlb->end = end;
}
void tlb_flush_mmu(struct mmu_gather *tlb);
void tlb_finish_mmu(struct mmu_gather *tlb);

/* memory.c: faults, zapping, copying at fork. */
#define FAULT_FLAG_WRITE  0x01u
#define FAULT_FLAG_USER	  0x02u
#define FAULT_FLAG_REMOTE 0x04u /* populate / mlock, not a task's own access */

#define VM_FAULT_OOM	 0x0001u
#define VM_FAULT_SIGBUS	 0x0002u
#define VM_FAULT_MAJOR	 0x0004u
#define VM_FAULT_SIGSEGV 0x0040u
#define VM_FAULT_NOPAGE	 0x0100u
#define VM_FAULT_LOCKED	 0x0200u
#define VM_FAULT_RETRY	 0x0400u
#define VM_FAULT_ERROR	 (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

struct vm_fault {
	struct kmm_vma *vma;
	unsigned long address; /* page aligned */
	unsigned int flags;
	unsigned long pgoff;
	pmd_t *pmd;
	pte_t *pte;
	pte_t orig_pte;
	spinlock_t *ptl;
	struct kmm_page *page;	   /* the page found or made */
	struct kmm_page *cow_page; /* the copy for a private write */
	int sigbus_code;	   /* KMM_BUS_* when VM_FAULT_SIGBUS */
	const char *sigbus_reason; /* what the log says, when the handler knows better */
	/* pte chains: a block preallocated for the rmap add (rmap.h); freed by the handler if unused. */
	struct kmm_pte_chain *pte_chain;
};
unsigned int handle_mm_fault(struct kmm_vma *vma, unsigned long address, unsigned int flags);
struct kmm_page *vm_normal_page(struct kmm_vma *vma, unsigned long addr, pte_t pte);
void unmap_vmas(struct mmu_gather *tlb, struct kmm_vma *vma, unsigned long start,
		unsigned long end);
void zap_page_range(struct kmm_vma *vma, unsigned long start, unsigned long size);
int copy_page_range(struct kmm_vma *dst_vma, struct kmm_vma *src_vma);
/* Fault in every page of [start, end) of @vma (MAP_POPULATE, mlock); 0 or -errno. */
int populate_vma_range(struct kmm_vma *vma, unsigned long start, unsigned long end, bool write);
long populate_range(struct kmm_mm *mm, unsigned long start, unsigned long end);

/* vma.c: the VMA tree and list. */
struct kmm_vma *vm_area_alloc(struct kmm_mm *mm);
struct kmm_vma *vm_area_dup(struct kmm_vma *orig);
void vm_area_free(struct kmm_vma *vma);
struct kmm_vma *find_vma(struct kmm_mm *mm, unsigned long addr);
struct kmm_vma *find_vma_prev(struct kmm_mm *mm, unsigned long addr, struct kmm_vma **pprev);
/* The VMA intersecting [start, end), if any. */
static inline struct kmm_vma *find_vma_intersection(struct kmm_mm *mm, unsigned long start,
						    unsigned long end)
{
	struct kmm_vma *vma = find_vma(mm, start);
	return vma && end > vma->vm_start ? vma : NULL;
}
void vma_link(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma *prev);
void vma_unlink(struct kmm_mm *mm, struct kmm_vma *vma);
/* Take @vma out of its file's i_mmap tree (a no-op if it is not in one). */
void unlink_file_vma(struct kmm_vma *vma);
void vma_set_range(struct kmm_vma *vma, unsigned long start, unsigned long end,
		   unsigned long pgoff);
void vma_gap_update(struct kmm_vma *vma);
void remove_vma(struct kmm_vma *vma);
/* Split @vma at @addr; the new VMA is the lower part if @new_below. Checks max_map_count. */
int split_vma(struct kmm_mm *mm, struct kmm_vma *vma, unsigned long addr, int new_below);
/* The same without the max_map_count check (Linux __split_vma). */
int __split_vma(struct kmm_mm *mm, struct kmm_vma *vma, unsigned long addr, int new_below);
struct kmm_vma *vma_merge(struct kmm_mm *mm, struct kmm_vma *prev, struct kmm_vma *curr,
			  unsigned long start, unsigned long end, unsigned long vm_flags,
			  struct kmm_anon_vma *anon_vma, struct kmm_file *file,
			  unsigned long pgoff);
struct kmm_vma *vma_modify_flags(struct kmm_mm *mm, struct kmm_vma *prev, struct kmm_vma *vma,
				 unsigned long start, unsigned long end, unsigned long newflags,
				 int *err);
pgprot_t vm_get_page_prot(unsigned long vm_flags);
bool vma_wants_writenotify(const struct kmm_vma *vma);
void vma_set_page_prot(struct kmm_vma *vma);
void vm_stat_account(struct kmm_mm *mm, unsigned long flags, long npages);
unsigned long unmapped_area_topdown(struct kmm_mm *mm, unsigned long length,
				    unsigned long low_limit, unsigned long high_limit);
unsigned long unmapped_area(struct kmm_mm *mm, unsigned long length, unsigned long low_limit,
			    unsigned long high_limit);
/* i_mmap interval tree. */
void vma_interval_tree_insert(struct kmm_vma *vma, struct rb_root *root);
void vma_interval_tree_remove(struct kmm_vma *vma, struct rb_root *root);
struct kmm_vma *vma_interval_tree_iter_first(struct rb_root *root, unsigned long first,
					     unsigned long last);
struct kmm_vma *vma_interval_tree_iter_next(struct kmm_vma *vma, unsigned long first,
					    unsigned long last);
int vma_tree_validate(struct kmm_mm *mm, struct kmm_error *err);
/* KMM_DEBUG >= 2: check @mm's VMA tree after a change (Linux validate_mm), or BUG. */
void vm_debug_check_mm(struct kmm_mm *mm, const char *after);
static inline void vm_debug_check(struct kmm_mm *mm, const char *after)
{
	if (KMM_DEBUG >= 2)
		vm_debug_check_mm(mm, after);
}

/* mmap.c */
struct kmm_mm *mm_alloc(struct kmm_machine *m);
void mmput(struct kmm_mm *mm);
void mmdrop(struct kmm_mm *mm);
static inline void mmget(struct kmm_mm *mm)
{
	atomic_inc(&mm->mm_users);
}
int setup_new_exec_mm(struct kmm_mm *mm);
long do_mmap(struct kmm_mm *mm, struct kmm_file *file, unsigned long addr, unsigned long len,
	     unsigned long prot, unsigned long flags, unsigned long pgoff, unsigned long *populate);
int do_munmap(struct kmm_mm *mm, unsigned long start, unsigned long len);
void exit_mmap(struct kmm_mm *mm);
unsigned long get_unmapped_area(struct kmm_mm *mm, struct kmm_file *file, unsigned long addr,
				unsigned long len, unsigned long pgoff, unsigned long flags);
int expand_stack(struct kmm_vma *vma, unsigned long address);
bool may_expand_vm(struct kmm_mm *mm, unsigned long flags, unsigned long npages);

/* fork.c */
struct kmm_mm *dup_mm(struct kmm_mm *oldmm, int *err);

/* filemap.c, file.c, shmem.c: the page cache and its backing stores. */
struct kmm_page *find_get_page(struct kmm_address_space *mapping, unsigned long index);
int add_to_page_cache(struct kmm_page *page, struct kmm_address_space *mapping,
		      unsigned long index);
void delete_from_page_cache(struct kmm_page *page);
/* Reclaim: drop a clean, unmapped, locked page only the cache and the caller hold. */
bool remove_mapping(struct kmm_address_space *mapping, struct kmm_page *page);
/* remove_mapping; @reclaimed: reclaim evicts it, leave a shadow entry in its slot. */
bool __remove_mapping(struct kmm_address_space *mapping, struct kmm_page *page, bool reclaimed);
/* Read one locked page of @mapping from its backing store: 0 (uptodate) or -errno. */
int filemap_read_page(struct kmm_address_space *mapping, struct kmm_page *page);
/* Write back up to @nr dirty pages of @mapping, lowest index first; pages written, or -errno. */
long filemap_writeback_pages(struct kmm_address_space *mapping, unsigned long nr);
unsigned int filemap_fault(struct vm_fault *vmf);
void filemap_map_pages(struct vm_fault *vmf, unsigned long start_pgoff, unsigned long end_pgoff);
void set_page_dirty(struct kmm_page *page);
void clear_page_dirty_for_io(struct kmm_page *page);
int filemap_write_and_wait_range(struct kmm_address_space *mapping, unsigned long first,
				 unsigned long last);
void truncate_inode_pages(struct kmm_address_space *mapping);
void page_cache_readahead(struct kmm_address_space *mapping, unsigned long index, unsigned long nr);
void mapping_init(struct kmm_address_space *mapping, struct kmm_inode *host,
		  const struct address_space_operations *a_ops);
static inline uint64_t i_size_read(const struct kmm_inode *inode)
{
	return __atomic_load_n(&inode->i_size, __ATOMIC_RELAXED);
}
struct kmm_file *get_file(struct kmm_file *f);
void fput(struct kmm_file *f);
struct kmm_file *shmem_file_setup(struct kmm_machine *m, uint64_t size);
extern const struct address_space_operations shmem_aops;
void iput(struct kmm_inode *inode);

/*
 * shmem.c: shared memory's pages and swap entries. A slot of a shmem
 * mapping holds a page, nothing (a hole: zeros), or a swap entry as a
 * radix-tree value entry. Shadows of evicted pages never go there (the
 * swap cache keeps a swapped shmem page's shadow), so in a shmem mapping
 * every value entry is a swap entry, and in a file's mapping a shadow.
 */
static inline void *swp_to_radix_entry(swp_entry_t entry)
{
	return xa_mk_value(entry.val);
}
static inline swp_entry_t radix_to_swp_entry(const void *entry)
{
	swp_entry_t e = {xa_to_value(entry)};
	return e;
}
unsigned int shmem_fault(struct vm_fault *vmf);
/*
 * Put @page (locked, referenced, not in any mapping) into slot @index of
 * @mapping in place of @expected (a swap entry); the tree takes a
 * reference. The page is not added to an LRU list (it is on one already).
 * Returns 0, or -EEXIST when the slot no longer holds @expected.
 */
int shmem_add_to_page_cache(struct kmm_page *page, struct kmm_address_space *mapping,
			    unsigned long index, void *expected);
/*
 * Replace @page (locked, unmapped, in a shmem mapping) by @radswap in its
 * slot, and drop the tree's reference (Linux shmem_delete_from_page_cache).
 */
void shmem_delete_from_page_cache(struct kmm_page *page, void *radswap);
/* Truncation met swap entry @radswap at @index: it is gone from the tree; free its slot. */
void shmem_free_swap(struct kmm_address_space *mapping, void *radswap);

/* mmu.c: the software MMU, context switches, signals. */
/* Run @t on its CPU from this thread; returns 0, or -ESRCH if the task is dead. */
int vm_task_enter(struct kmm_task *t);
void force_sig_fault(struct kmm_task *t, int signo, int code, unsigned long addr,
		     const char *reason);
/* The task gives up its mm (exit_mm): mmput, and off the CPU. */
void exit_mm(struct kmm_task *t);
/* The OOM killer chose @t while it ran: it dies now with SIGKILL (its memory returns). */
int oom_kill_self(struct kmm_task *t);
/* Run-time knobs of mmap_lock for the public wrappers. */
static inline void mmap_read_lock(struct kmm_mm *mm)
{
	down_read(&mm->mmap_lock);
}
static inline void mmap_read_unlock(struct kmm_mm *mm)
{
	up_read(&mm->mmap_lock);
}
static inline void mmap_write_lock(struct kmm_mm *mm)
{
	down_write(&mm->mmap_lock);
}
/* With KMM_DEBUG >= 2, every change to the VMAs is checked before the lock goes. */
#define mmap_write_unlock(mm)                  \
	do {                                   \
		struct kmm_mm *mm_ = (mm);     \
		vm_debug_check(mm_, __func__); \
		up_write(&mm_->mmap_lock);     \
	} while (0)

/* mprotect.c, mlock.c */
unsigned long change_protection(struct kmm_vma *vma, unsigned long start, unsigned long end,
				pgprot_t newprot);
/*
 * May @mm lock @len more bytes of VMAs with @flags (Linux
 * mlock_future_check)? 0 or -EAGAIN.
 */
int mlock_future_check(struct kmm_mm *mm, unsigned long flags, unsigned long len);
int mlock_fixup(struct kmm_mm *mm, struct kmm_vma *vma, struct kmm_vma **prev, unsigned long start,
		unsigned long end, unsigned long newflags);

/* msync.c: move dirty bits from PTEs to their pages (Linux 2.4 filemap_sync). */
void msync_sync_ptes(struct kmm_vma *vma, unsigned long start, unsigned long end);

/* vm_init.c */
int vm_init_early(struct kmm_machine *m, struct kmm_error *err);
int vm_init(struct kmm_machine *m, struct kmm_error *err);
void vm_destroy(struct kmm_machine *m);

/* validate.c */
int mm_validate(struct kmm_mm *mm, struct kmm_error *err);

#endif /* KMM_VM_VM_H */
