/*
 * phys/ private declarations, shared between the files of the layer.
 */
#ifndef KMM_PHYS_INTERNAL_H
#define KMM_PHYS_INTERNAL_H

#include "phys.h"

/* desc.c */
const char *kmm_e820_type_name(enum kmm_e820_type type);
int kmm_e820_type_parse(const char *s, size_t len, enum kmm_e820_type *type);
/* Insert a range keeping the array sorted; -ENOSPC when full. */
int kmm_desc_add_range(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
		       enum kmm_e820_type type, int node);
int kmm_desc_add_reserve(struct kmm_machine_desc *desc, uint64_t start, uint64_t end, uint64_t size,
			 int node, bool freed_late, const char *name);
void kmm_desc_init(struct kmm_machine_desc *desc);
long kmm_desc_e820_update(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
			  enum kmm_e820_type old_type, enum kmm_e820_type new_type);
long kmm_desc_e820_remove(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
			  enum kmm_e820_type old_type);
void kmm_desc_default_distances(struct kmm_machine_desc *desc);
/* Parse "4G", "512M", "0x1000", "4096K" (K/M/G/T, binary); false on junk. */
bool kmm_parse_size(const char *s, size_t len, uint64_t *out);
/* Size as "4G"/"512M"/"123K"/bytes for messages. */
void kmm_format_size(char *buf, size_t len, uint64_t bytes);

/* e820.c: the firmware map as the booting kernel fixes it up. */
void e820_setup(struct kmm_machine *m);
unsigned long e820_end_of_ram_pfn(struct kmm_machine *m, unsigned long limit_pfn);

/* memblock.c */
void memblock_init(struct kmm_machine *m);
void memblock_destroy(struct kmm_machine *m);
int memblock_set_node(struct kmm_machine *m, phys_addr_t base, phys_addr_t size, int nid);
#define for_each_memblock_region(type, r) \
	for ((r) = (type)->regions; (r) < (type)->regions + (type)->cnt; (r)++)
/* Iterate the free (memory minus reserved) ranges, in bytes. */
bool memblock_next_free_range(struct kmm_machine *m, unsigned long *state_a, unsigned long *state_b,
			      int nid, phys_addr_t *start, phys_addr_t *end, int *out_nid);
unsigned long memblock_free_pages_in(struct kmm_machine *m, unsigned long start_pfn,
				     unsigned long end_pfn);
void memblock_dump(struct kmm_machine *m, struct kmm_buf *out);

/* ram.c */
int kmm_ram_reserve(struct kmm_machine *m, struct kmm_error *err);
void kmm_ram_release(struct kmm_machine *m);

/* numa.c */
int numa_init(struct kmm_machine *m, struct kmm_error *err);
int alloc_node_data(struct kmm_machine *m, int nid, struct kmm_error *err);

/* sparse.c: memory models */
int memory_model_init(struct kmm_machine *m, struct kmm_error *err);
void memory_model_destroy(struct kmm_machine *m);
/* Make sure the memmap of [start_pfn, end_pfn) is backed and writable. */
void memmap_populate(struct kmm_machine *m, unsigned long start_pfn, unsigned long end_pfn);

/* zone_sizes.c: free_area_init */
void zone_sizes_init(struct kmm_machine *m);
int free_area_init(struct kmm_machine *m, struct kmm_error *err);
void memblock_find_dma_reserve(struct kmm_machine *m);
unsigned long absent_pages_in_range(struct kmm_machine *m, int nid, unsigned long start,
				    unsigned long end);

/* page_init.c: memmap init and the hand-over of free memory */
void memmap_init(struct kmm_machine *m);
void memblock_free_all(struct kmm_machine *m);
void page_alloc_init_late(struct kmm_machine *m);
void free_reserved_area(struct kmm_machine *m, phys_addr_t start, phys_addr_t end,
			const char *what);
void mem_init_print_info(struct kmm_machine *m);

/* reserve.c */
int early_reserve_memory(struct kmm_machine *m, struct kmm_error *err);
void reserve_late(struct kmm_machine *m);
void free_late_reserves(struct kmm_machine *m);
void free_smp_alternatives(struct kmm_machine *m);

/* cpu.c */
int cpus_init(struct kmm_machine *m, struct kmm_error *err);
void cpus_destroy(struct kmm_machine *m);

/* vmstat.c */
void vmstat_init(struct kmm_machine *m);
int calculate_normal_threshold(struct kmm_machine *m, struct kmm_zone *zone);

/* watermark.c */
void watermark_defaults(struct kmm_machine *m);

/* printk.c */
void printk_destroy(struct kmm_machine *m);

#endif /* KMM_PHYS_INTERNAL_H */
