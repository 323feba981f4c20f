/*
 * The machine description: RAM ranges (an e820-style firmware map), NUMA
 * nodes and distances, CPUs, and the early reservations of the kernel that
 * booted on it. This file holds the common helpers, the validator, and the
 * layout built from flags (--mem 4G --nodes 2), which follows QEMU's "pc"
 * machine so that a flags-built machine is the twin of a QEMU guest.
 *
 * Linux: arch/x86/kernel/e820.c (the map and its types), drivers/acpi/numa
 * (SRAT/SLIT), QEMU hw/i386/pc_piix.c and SeaBIOS (the layout).
 */
#include "internal.h"
#include <errno.h>
#include <string.h>

const char *kmm_e820_type_name(enum kmm_e820_type type)
{
	switch (type) {
	case KMM_E820_RAM:
		return "usable";
	case KMM_E820_RESERVED:
		return "reserved";
	case KMM_E820_ACPI:
		return "ACPI data";
	case KMM_E820_NVS:
		return "ACPI NVS";
	case KMM_E820_UNUSABLE:
		return "unusable";
	case KMM_E820_PMEM:
		return "persistent (type 7)";
	case KMM_E820_PRAM:
		return "persistent (type 12)";
	case KMM_E820_SOFT_RESERVED:
		return "soft reserved";
	}
	return "type ?";
}

int kmm_e820_type_parse(const char *s, size_t len, enum kmm_e820_type *type)
{
	static const struct {
		const char *name;
		enum kmm_e820_type type;
	} names[] = {
	    {"usable", KMM_E820_RAM},
	    {"ram", KMM_E820_RAM},
	    {"System RAM", KMM_E820_RAM},
	    {"reserved", KMM_E820_RESERVED},
	    {"ACPI data", KMM_E820_ACPI},
	    {"acpi", KMM_E820_ACPI},
	    {"ACPI NVS", KMM_E820_NVS},
	    {"nvs", KMM_E820_NVS},
	    {"unusable", KMM_E820_UNUSABLE},
	    {"persistent (type 7)", KMM_E820_PMEM},
	    {"pmem", KMM_E820_PMEM},
	    {"persistent (type 12)", KMM_E820_PRAM},
	    {"soft reserved", KMM_E820_SOFT_RESERVED},
	};
	/* Linux prints firmware types it does not know as "type N": not RAM. */
	if (len > 5 && !strncmp(s, "type ", 5)) {
		size_t i = 5;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == len) {
			*type = KMM_E820_RESERVED;
			return 0;
		}
	}
	for (size_t i = 0; i < KMM_ARRAY_SIZE(names); i++) {
		if (strlen(names[i].name) == len && !strncasecmp(s, names[i].name, len)) {
			*type = names[i].type;
			return 0;
		}
	}
	return -EINVAL;
}

bool kmm_parse_size(const char *s, size_t len, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	int base = 10;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	size_t digits = 0;
	for (; i < len; i++, digits++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + d;
	}
	if (!digits)
		return false;
	unsigned shift = 0;
	if (i < len) {
		shift = kmm_size_suffix_shift(s[i]);
		if (!shift)
			return false;
		i++;
		/* Accept "KiB", "MB" etc. as well. */
		if (i < len && (s[i] == 'i' || s[i] == 'I'))
			i++;
		if (i < len && (s[i] == 'b' || s[i] == 'B'))
			i++;
	}
	if (i != len)
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

void kmm_format_size(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (bytes && bytes % 1024 == 0 && u < 3) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		kmm_port_snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		kmm_port_snprintf(buf, len, "%llu%c", (unsigned long long)bytes, units[u]);
}

void kmm_desc_init(struct kmm_machine_desc *desc)
{
	memset(desc, 0, sizeof(*desc));
	desc->nr_nodes = 1;
	desc->nr_cpus = 1;
	desc->arch = KMM_ARCH_X86_64;
	desc->thp = KMM_THP_ALWAYS;
	desc->kernel_image = KMM_KERNEL_AUTO;
	kmm_desc_default_distances(desc);
}

/* ACPI SLIT defaults: 10 for local memory, 20 for every remote node. */
void kmm_desc_default_distances(struct kmm_machine_desc *desc)
{
	for (int i = 0; i < KMM_MAX_NUMNODES; i++)
		for (int j = 0; j < KMM_MAX_NUMNODES; j++)
			desc->distance[i][j] = i == j ? 10 : 20;
}

int kmm_desc_add_range(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
		       enum kmm_e820_type type, int node)
{
	if (desc->nr_ranges >= KMM_MAX_RANGES)
		return -ENOSPC;
	int i = desc->nr_ranges;
	while (i > 0 && desc->ranges[i - 1].start > start) {
		desc->ranges[i] = desc->ranges[i - 1];
		i--;
	}
	desc->ranges[i] = (struct kmm_mem_range){start, end, type, node};
	desc->nr_ranges++;
	return 0;
}

int kmm_desc_add_reserve(struct kmm_machine_desc *desc, uint64_t start, uint64_t end, uint64_t size,
			 int node, bool freed_late, const char *name)
{
	if (desc->nr_reserves >= KMM_MAX_RESERVES)
		return -ENOSPC;
	struct kmm_early_reserve *r = &desc->reserves[desc->nr_reserves++];
	r->start = start;
	r->end = end;
	r->size = end > start ? end - start : size;
	r->node = node;
	r->freed_late = freed_late;
	kmm_port_snprintf(r->name, sizeof(r->name), "%s", name);
	return 0;
}

static void fmt_range(char *buf, size_t len, const struct kmm_mem_range *r)
{
	kmm_port_snprintf(buf, len, "[mem 0x%016llx-0x%016llx] %s", (unsigned long long)r->start,
			  (unsigned long long)r->end - 1, kmm_e820_type_name(r->type));
}

/* The highest physical address kmm simulates: 64 TiB (x86-64 4-level paging). */
#define KMM_MAX_PHYS_ADDR (1ULL << 46)

int kmm_desc_validate(struct kmm_machine_desc *desc, struct kmm_error *err)
{
	const char *src = desc->source[0] ? desc->source : "machine";
	uint64_t ram = 0, node_ram[KMM_MAX_NUMNODES] = {0};
	char a[96], b[96];

	if (desc->nr_nodes < 1 || desc->nr_nodes > KMM_MAX_NUMNODES)
		return kmm_error_set(err, -EINVAL, "%s: %d nodes: kmm supports 1 to %d", src,
				     desc->nr_nodes, KMM_MAX_NUMNODES);
	if (desc->nr_cpus < 1 || desc->nr_cpus > KMM_MAX_CPUS)
		return kmm_error_set(err, -EINVAL, "%s: %d CPUs: kmm supports 1 to %d", src,
				     desc->nr_cpus, KMM_MAX_CPUS);
	if (!desc->nr_ranges)
		return kmm_error_set(err, -EINVAL, "%s: no memory ranges", src);

	for (int i = 0; i < desc->nr_ranges; i++) {
		struct kmm_mem_range *r = &desc->ranges[i];
		fmt_range(a, sizeof(a), r);
		if (r->start >= r->end)
			return kmm_error_set(err, -EINVAL, "%s: empty range %#llx-%#llx", src,
					     (unsigned long long)r->start,
					     (unsigned long long)r->end);
		if (i > 0 && r->start < desc->ranges[i - 1].end) {
			fmt_range(b, sizeof(b), &desc->ranges[i - 1]);
			return kmm_error_set(err, -EINVAL, "%s: ranges overlap: %s and %s", src, b,
					     a);
		}
		if (r->type != KMM_E820_RAM)
			continue;
		if (r->end > KMM_MAX_PHYS_ADDR)
			return kmm_error_set(err, -EINVAL,
					     "%s: %s ends above 64 TiB, the most kmm simulates",
					     src, a);
		if (r->node >= desc->nr_nodes)
			return kmm_error_set(
			    err, -EINVAL, "%s: %s is on node %d but the machine has %d node%s", src,
			    a, r->node, desc->nr_nodes, desc->nr_nodes == 1 ? "" : "s");
		uint64_t pages = r->end / PAGE_SIZE > (r->start + PAGE_SIZE - 1) / PAGE_SIZE
				     ? r->end / PAGE_SIZE - (r->start + PAGE_SIZE - 1) / PAGE_SIZE
				     : 0;
		ram += pages * PAGE_SIZE;
		if (r->node >= 0)
			node_ram[r->node] += pages * PAGE_SIZE;
	}
	for (int i = 0; i < desc->nr_numa; i++) {
		if (desc->numa[i].node < 0 || desc->numa[i].node >= desc->nr_nodes)
			return kmm_error_set(err, -EINVAL,
					     "%s: NUMA range [mem %#llx-%#llx] names node %d of %d",
					     src, (unsigned long long)desc->numa[i].start,
					     (unsigned long long)desc->numa[i].end - 1,
					     desc->numa[i].node, desc->nr_nodes);
		for (int j = 0; j < desc->nr_ranges; j++) {
			struct kmm_mem_range *r = &desc->ranges[j];
			if (r->type != KMM_E820_RAM || r->node >= 0)
				continue;
			uint64_t s = kmm_max(r->start, desc->numa[i].start);
			uint64_t e = kmm_min(r->end, desc->numa[i].end);
			if (s < e)
				node_ram[desc->numa[i].node] += e - s;
		}
	}
	if (!ram)
		return kmm_error_set(err, -EINVAL, "%s: no usable RAM", src);
	if (ram < 2 * KMM_SZ_1M) {
		kmm_format_size(a, sizeof(a), ram);
		return kmm_error_set(err, -EINVAL,
				     "%s: %s of usable RAM is too little; kmm needs at least 2M",
				     src, a);
	}

	if (desc->nr_nodes > 1 || desc->nr_numa) {
		for (int n = 0; n < desc->nr_nodes; n++)
			if (!node_ram[n])
				return kmm_error_set(err, -EINVAL,
						     "%s: node %d has no memory (kmm does not "
						     "simulate memoryless nodes)",
						     src, n);
	}
	for (int c = 0; c < desc->nr_cpus; c++)
		if (desc->cpu_node[c] < 0 || desc->cpu_node[c] >= desc->nr_nodes)
			return kmm_error_set(err, -EINVAL, "%s: CPU %d is on node %d of %d", src, c,
					     desc->cpu_node[c], desc->nr_nodes);
	for (int i = 0; i < desc->nr_nodes; i++)
		for (int j = 0; j < desc->nr_nodes; j++) {
			unsigned d = desc->distance[i][j];
			if ((i == j && d != 10) || (i != j && (d <= 10 || d > 254)))
				return kmm_error_set(err, -EINVAL,
						     "%s: node distance %d->%d is %u (local must "
						     "be 10, remote 11..254)",
						     src, i, j, d);
		}
	if (desc->arch == KMM_ARCH_I386) {
		for (int i = 0; i < desc->nr_ranges; i++)
			if (desc->ranges[i].type == KMM_E820_RAM &&
			    desc->ranges[i].end > 64 * KMM_SZ_1G)
				return kmm_error_set(err, -EINVAL,
						     "%s: i386 (PAE) addresses at most 64 GiB; "
						     "RAM ends at %#llx",
						     src, (unsigned long long)desc->ranges[i].end);
		/* The kernel's own data must sit in the direct map, below 896 MiB. */
		uint64_t low = 0;
		for (int i = 0; i < desc->nr_ranges; i++)
			if (desc->ranges[i].type == KMM_E820_RAM &&
			    desc->ranges[i].start < 896 * KMM_SZ_1M)
				low += kmm_min(desc->ranges[i].end, 896 * KMM_SZ_1M) -
				       desc->ranges[i].start;
		if (low < 4 * KMM_SZ_1M)
			return kmm_error_set(err, -EINVAL,
					     "%s: i386 needs at least 4M of RAM below 896M (its "
					     "direct map) for the kernel's own data; this map has "
					     "%lluK there",
					     src, (unsigned long long)(low >> 10));
	}

	if (desc->movablecore_percent > 100 || desc->kernelcore_percent > 100)
		return kmm_error_set(err, -EINVAL, "%s: kernelcore/movablecore above 100%%", src);
	return 0;
}

/*
 * QEMU's "pc" machine with SeaBIOS: RAM below 640 KiB, the legacy hole up
 * to 1 MiB, RAM up to the top of low memory minus 128 KiB that the BIOS
 * keeps, and the BIOS ROM below 4 GiB. With 3.5 GiB or more, only 3 GiB
 * stays below 4 GiB (the PCI hole) and the rest starts at 4 GiB. Nodes get
 * equal shares of RAM, in 8 MiB units, in address order; CPUs are split into
 * equal blocks per node.
 */
int kmm_desc_qemu_pc(struct kmm_machine_desc *desc, uint64_t mem, int nodes, int cpus,
		     enum kmm_arch arch, struct kmm_error *err)
{
	char sz[32];
	kmm_desc_init(desc);
	desc->arch = arch;
	desc->nr_nodes = nodes;
	desc->nr_cpus = cpus;
	kmm_format_size(sz, sizeof(sz), mem);
	kmm_port_snprintf(desc->source, sizeof(desc->source), "--mem %s --nodes %d --cpus %d", sz,
			  nodes, cpus);
	if (mem % PAGE_SIZE || mem < 4 * KMM_SZ_1M)
		return kmm_error_set(err, -EINVAL,
				     "--mem %s: give at least 4M, in whole 4 KiB pages", sz);
	if (nodes < 1 || nodes > KMM_MAX_NUMNODES)
		return kmm_error_set(err, -EINVAL, "--nodes %d: kmm supports 1 to %d", nodes,
				     KMM_MAX_NUMNODES);
	if (cpus < 1 || cpus > KMM_MAX_CPUS)
		return kmm_error_set(err, -EINVAL, "--cpus %d: kmm supports 1 to %d", cpus,
				     KMM_MAX_CPUS);
	if (mem / (uint64_t)nodes < 4 * KMM_SZ_1M)
		return kmm_error_set(err, -EINVAL,
				     "--mem %s --nodes %d: each node needs at least 4M", sz, nodes);
	if (mem > (KMM_MAX_PHYS_ADDR - 4 * KMM_SZ_1G))
		return kmm_error_set(err, -EINVAL, "--mem %s: kmm simulates at most 64T", sz);
	if (arch == KMM_ARCH_I386 && mem > 63 * KMM_SZ_1G)
		return kmm_error_set(err, -EINVAL, "--mem %s: i386 (PAE) addresses at most 64G",
				     sz);

	uint64_t lowmem = mem >= 0xe0000000ULL ? 0xc0000000ULL : mem;
	uint64_t highmem = mem - lowmem;

	kmm_desc_add_range(desc, 0, 0x9fc00, KMM_E820_RAM, -1);
	kmm_desc_add_range(desc, 0x9fc00, 0xa0000, KMM_E820_RESERVED, -1);
	kmm_desc_add_range(desc, 0xf0000, 0x100000, KMM_E820_RESERVED, -1);
	kmm_desc_add_range(desc, 0x100000, lowmem - 0x20000, KMM_E820_RAM, -1);
	kmm_desc_add_range(desc, lowmem - 0x20000, lowmem, KMM_E820_RESERVED, -1);
	kmm_desc_add_range(desc, 0xfffc0000ULL, 0x100000000ULL, KMM_E820_RESERVED, -1);
	if (highmem)
		kmm_desc_add_range(desc, 0x100000000ULL, 0x100000000ULL + highmem, KMM_E820_RAM,
				   -1);

	/*
	 * Node i owns RAM offsets [i*share, (i+1)*share); the last node the rest.
	 * QEMU splits in 8 MiB units; small nodes fall back to 1 MiB units.
	 */
	uint64_t granule = mem / (uint64_t)nodes >= 8 * KMM_SZ_1M ? 8 * KMM_SZ_1M : KMM_SZ_1M;
	uint64_t share = (mem / (uint64_t)nodes) & ~(granule - 1);

	for (int n = 0; n < nodes && nodes > 1; n++) {
		uint64_t off0 = (uint64_t)n * share;
		uint64_t off1 = n == nodes - 1 ? mem : off0 + share;
		/* Map RAM offsets to physical addresses: offsets >= lowmem start at 4 GiB. */
		if (off0 < lowmem) {
			uint64_t s = off0, e = kmm_min(off1, lowmem);
			/* SRAT leaves out the legacy hole, as QEMU's does. */
			if (s < 0xa0000) {
				desc->numa[desc->nr_numa++] =
				    (struct kmm_numa_range){s, kmm_min(e, 0xa0000ULL), n};
				s = 0x100000;
			}
			if (s < e)
				desc->numa[desc->nr_numa++] = (struct kmm_numa_range){s, e, n};
		}
		if (off1 > lowmem) {
			uint64_t s = kmm_max(off0, lowmem) - lowmem + 0x100000000ULL;
			uint64_t e = off1 - lowmem + 0x100000000ULL;
			desc->numa[desc->nr_numa++] = (struct kmm_numa_range){s, e, n};
		}
	}
	for (int c = 0; c < cpus; c++)
		desc->cpu_node[c] = (short)((long)c * nodes / cpus);
	return kmm_desc_validate(desc, err);
}

/*
 * Change the type of the parts of @old_type ranges inside [start, end)
 * (Linux e820__range_update). Returns the bytes changed, or -ENOSPC.
 */
long kmm_desc_e820_update(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
			  enum kmm_e820_type old_type, enum kmm_e820_type new_type)
{
	long changed = 0;
	for (int i = 0; i < desc->nr_ranges; i++) {
		struct kmm_mem_range r = desc->ranges[i];
		if (r.type != old_type || r.end <= start || r.start >= end)
			continue;
		uint64_t s = kmm_max(r.start, start), e = kmm_min(r.end, end);
		changed += (long)(e - s);
		if (old_type == new_type)
			continue;
		/* Cut r into [r.start, s) old, [s, e) new, [e, r.end) old. */
		desc->ranges[i].start = s;
		desc->ranges[i].end = e;
		desc->ranges[i].type = new_type;
		if (r.start < s && kmm_desc_add_range(desc, r.start, s, old_type, r.node))
			return -ENOSPC;
		if (e < r.end && kmm_desc_add_range(desc, e, r.end, old_type, r.node))
			return -ENOSPC;
	}
	return changed;
}

/* Remove the parts of @old_type ranges inside [start, end) (e820__range_remove). */
long kmm_desc_e820_remove(struct kmm_machine_desc *desc, uint64_t start, uint64_t end,
			  enum kmm_e820_type old_type)
{
	long removed = 0;
	for (int i = 0; i < desc->nr_ranges; i++) {
		struct kmm_mem_range r = desc->ranges[i];
		if (r.type != old_type || r.end <= start || r.start >= end)
			continue;
		uint64_t s = kmm_max(r.start, start), e = kmm_min(r.end, end);
		memmove(&desc->ranges[i], &desc->ranges[i + 1],
			(size_t)(desc->nr_ranges - i - 1) * sizeof(desc->ranges[0]));
		desc->nr_ranges--;
		i--;
		if (r.start < s && kmm_desc_add_range(desc, r.start, s, old_type, r.node))
			return -ENOSPC;
		if (e < r.end && kmm_desc_add_range(desc, e, r.end, old_type, r.node))
			return -ENOSPC;
		removed += (long)(e - s);
	}
	return removed;
}
