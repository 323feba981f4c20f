/*
 * Tests of the machine-description parsers: --map (desc_map.c) and
 * --from-dmesg (desc_dmesg.c).
 *
 * The dmesg parser is checked against the six Linux 6.1 boot logs of the
 * oracle (KMM_ORACLE_DIR/linux-6.1/<config>/dmesg.txt): the firmware map
 * after the kernel's own e820 updates, NUMA ranges, CPUs, the kernel's
 * sizes and reservations. The same logs as a serial console capture (CRLF,
 * BIOS noise, /proc dumps), without timestamps, and with syslog prefixes
 * must give the same description. Bad inputs of both parsers are a table of
 * text and the exact message expected; a randomized pass mutates good
 * inputs and checks that every one is either accepted or refused with a
 * message naming the file (run it under ASan to catch the rest).
 */
#include <kmm/machine.h>
#include "phys/internal.h"
#include "../kmm_test.h"

#include <errno.h>

#define ORACLE_61 KMM_ORACLE_DIR "/linux-6.1/"

/* --- Helpers ---------------------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *oracle_file(const char *config, const char *file)
{
	char path[512];
	snprintf(path, sizeof(path), ORACLE_61 "%s/%s", config, file);
	char *text = slurp(path);
	if (!text)
		fprintf(stderr, "cannot read %s\n", path);
	return text;
}

static struct kmm_machine_desc *new_desc(void)
{
	return calloc(1, sizeof(struct kmm_machine_desc));
}

/* Parse an oracle log; returns the description or NULL (with a message printed). */
static struct kmm_machine_desc *parse_oracle(const char *config, const char *file)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err = {0};
	char *text = oracle_file(config, file);
	if (!text) {
		free(d);
		return NULL;
	}
	int ret = kmm_desc_parse_dmesg(d, text, file, &err);
	free(text);
	if (ret) {
		fprintf(stderr, "%s/%s: %s\n", config, file, err.msg);
		free(d);
		return NULL;
	}
	return d;
}

/* Two descriptions are the same machine (the source aside). */
static bool same_desc(const struct kmm_machine_desc *a, const struct kmm_machine_desc *b)
{
	struct kmm_machine_desc *x = new_desc(), *y = new_desc();
	*x = *a;
	*y = *b;
	memset(x->source, 0, sizeof(x->source));
	memset(y->source, 0, sizeof(y->source));
	bool same = !memcmp(x, y, sizeof(*x));
	free(x);
	free(y);
	return same;
}

/* --- The six oracle logs ------------------------------------------------------------ */

struct oracle_config {
	const char *name;
	uint64_t low_top;  /* end of the RAM below 4 GiB (QEMU keeps 128K for the BIOS) */
	uint64_t high_end; /* end of the RAM from 4 GiB, 0 if none */
	bool numa2;
	bool thp_never;
	uint64_t initrd;  /* RAMDISK start; it ends where the low RAM does */
	uint64_t swiotlb; /* software IO TLB start (64 MiB), 0 if none */
	uint64_t reserved_kb, physpages_kb;
};

static const struct oracle_config oracle_configs[] = {
    {"a_256M", 0x0ffe0000, 0, false, false, 0x0fee4000, 0, 62192, 261624},
    {"a_256M_thpnever", 0x0ffe0000, 0, false, true, 0x0fee4000, 0, 62192, 261624},
    {"d_6G", 0xbffe0000, 0x1c0000000, false, false, 0xbfee4000, 0xbbee4000, 234616, 6290936},
    {"d_6G_thpnever", 0xbffe0000, 0x1c0000000, false, true, 0xbfee4000, 0xbbee4000, 234616,
     6290936},
    {"e_4G_numa2", 0xbffe0000, 0x140000000, true, false, 0xbfee4000, 0xbbee4000, 189736, 4193784},
    {"e_4G_numa2_thpnever", 0xbffe0000, 0x140000000, true, true, 0xbfee4000, 0xbbee4000, 189736,
     4193784},
};

/*
 * The firmware map of a QEMU pc guest after Linux's two updates: page 0
 * becomes reserved ("e820: update [mem 0x00000000-0x00000fff] usable ==>
 * reserved"); the removal of 0xa0000-0xfffff as usable finds no RAM there.
 */
static int expected_ranges(const struct oracle_config *c, struct kmm_mem_range *r)
{
	int n = 0;
	r[n++] = (struct kmm_mem_range){0, 0x1000, KMM_E820_RESERVED, -1};
	r[n++] = (struct kmm_mem_range){0x1000, 0x9fc00, KMM_E820_RAM, -1};
	r[n++] = (struct kmm_mem_range){0x9fc00, 0xa0000, KMM_E820_RESERVED, -1};
	r[n++] = (struct kmm_mem_range){0xf0000, 0x100000, KMM_E820_RESERVED, -1};
	r[n++] = (struct kmm_mem_range){0x100000, c->low_top, KMM_E820_RAM, -1};
	r[n++] = (struct kmm_mem_range){c->low_top, c->low_top + 0x20000, KMM_E820_RESERVED, -1};
	r[n++] = (struct kmm_mem_range){0xfffc0000, 0x100000000, KMM_E820_RESERVED, -1};
	if (c->high_end)
		r[n++] = (struct kmm_mem_range){0x100000000, c->high_end, KMM_E820_RAM, -1};
	/* QEMU's -cpu max reserves the AMD HyperTransport hole below 1 TiB. */
	r[n++] = (struct kmm_mem_range){0xfd00000000, 0x10000000000, KMM_E820_RESERVED, -1};
	return n;
}

/* NUMA ranges: SRAT for the two-node machine, else the early node ranges. */
static int expected_numa(const struct oracle_config *c, struct kmm_numa_range *r)
{
	int n = 0;
	if (c->numa2) {
		r[n++] = (struct kmm_numa_range){0, 0xa0000, 0};
		r[n++] = (struct kmm_numa_range){0x100000, 0x80000000, 0};
		r[n++] = (struct kmm_numa_range){0x80000000, 0xc0000000, 1};
		r[n++] = (struct kmm_numa_range){0x100000000, 0x140000000, 1};
		return n;
	}
	r[n++] = (struct kmm_numa_range){0x1000, 0x9f000, 0};
	r[n++] = (struct kmm_numa_range){0x100000, c->low_top, 0};
	if (c->high_end)
		r[n++] = (struct kmm_numa_range){0x100000000, c->high_end, 0};
	return n;
}

static void check_oracle_desc(const struct oracle_config *c, const struct kmm_machine_desc *d)
{
	struct kmm_mem_range er[16];
	struct kmm_numa_range en[16];
	int n = expected_ranges(c, er);

	expect_int_eq(d->nr_ranges, n);
	for (int i = 0; i < n; i++) {
		expect_x64_eq(d->ranges[i].start, er[i].start);
		expect_x64_eq(d->ranges[i].end, er[i].end);
		expect_int_eq(d->ranges[i].type, er[i].type);
		expect_int_eq(d->ranges[i].node, -1);
	}
	n = expected_numa(c, en);
	expect_int_eq(d->nr_numa, n);
	for (int i = 0; i < n; i++) {
		expect_x64_eq(d->numa[i].start, en[i].start);
		expect_x64_eq(d->numa[i].end, en[i].end);
		expect_int_eq(d->numa[i].node, en[i].node);
	}
	expect_int_eq(d->nr_nodes, c->numa2 ? 2 : 1);
	expect_int_eq(d->nr_cpus, 2);
	expect_int_eq(d->cpu_node[0], 0);
	expect_int_eq(d->cpu_node[1], c->numa2 ? 1 : 0);
	expect_false(d->distance_given);
	expect_int_eq(d->arch, KMM_ARCH_X86_64);

	/* "Memory: ... (14343K kernel code, 2338K rwdata, 9132K rodata, 2824K init, 17344K bss" */
	expect_int_eq(d->kernel_image, KMM_KERNEL_FROM_LOG);
	expect_u64_eq(d->kernel.code, 14343 * 1024);
	expect_u64_eq(d->kernel.rwdata, 2338 * 1024);
	expect_u64_eq(d->kernel.rodata, 9132 * 1024);
	expect_u64_eq(d->kernel.init, 2824 * 1024);
	expect_u64_eq(d->kernel.bss, 17344 * 1024);
	expect_u64_eq(d->kernel.text_rodata_gap, 2040 * 1024);
	expect_u64_eq(d->kernel.rodata_data_gap, 1108 * 1024);
	expect_u64_eq(d->kernel.decrypted, 2036 * 1024);
	expect_u64_eq(d->log_reserved_kb, c->reserved_kb);
	expect_u64_eq(d->log_physpages_kb, c->physpages_kb);
	expect_u64_eq(d->percpu_unit_pages, 62);

	expect_int_eq(d->nr_reserves, c->swiotlb ? 2 : 1);
	const struct kmm_early_reserve *initrd = &d->reserves[0];
	expect_str_eq(initrd->name, "initrd");
	expect_x64_eq(initrd->start, c->initrd);
	expect_x64_eq(initrd->end, c->low_top);
	expect_u64_eq(initrd->size, c->low_top - c->initrd);
	expect_true(initrd->freed_late);
	if (c->swiotlb) {
		const struct kmm_early_reserve *tlb = &d->reserves[1];
		expect_str_eq(tlb->name, "swiotlb");
		expect_x64_eq(tlb->start, c->swiotlb);
		expect_x64_eq(tlb->end, c->swiotlb + (64ULL << 20));
		expect_false(tlb->freed_late);
	}

	expect_u64_eq(d->mem_limit, 0);
	expect_u64_eq(d->movablecore, 0);
	expect_u64_eq(d->kernelcore, 0);
	expect_false(d->numa_off);
	expect_int_eq(d->thp_given, c->thp_never);
	expect_int_eq(d->thp, c->thp_never ? KMM_THP_NEVER : KMM_THP_ALWAYS);
	expect_str_eq(d->source, "dmesg.txt");
}

static void test_dmesg_oracle_logs(void)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(oracle_configs); i++) {
		const struct oracle_config *c = &oracle_configs[i];
		struct kmm_machine_desc *d = parse_oracle(c->name, "dmesg.txt");
		expect_ptr_not_null(d);
		int failed_before = kmm_test_case_failed;
		kmm_test_case_failed = 0;
		check_oracle_desc(c, d);
		if (kmm_test_case_failed)
			fprintf(stderr, "  (in %s)\n", c->name);
		kmm_test_case_failed |= failed_before;
		free(d);
	}
}

/* The serial console capture: CRLF, SeaBIOS escapes, /proc dumps around the log. */
static void test_dmesg_console_capture(void)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(oracle_configs); i++) {
		struct kmm_machine_desc *a = parse_oracle(oracle_configs[i].name, "dmesg.txt");
		struct kmm_machine_desc *b = parse_oracle(oracle_configs[i].name, "console.txt");
		expect_ptr_not_null(a);
		expect_ptr_not_null(b);
		bool same = same_desc(a, b);
		free(a);
		free(b);
		expect_true(same);
	}
}

/* Rewrite every line of a log as @prefix + the line without its timestamp. */
static char *reprefix(const char *text, const char *prefix)
{
	size_t lines = 1, n = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	size_t cap = strlen(text) + lines * (strlen(prefix) + 1) + 1;
	char *out = malloc(cap);
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		const char *line = text;
		if (len && line[0] == '[') {
			const char *close = memchr(line, ']', len);
			if (close && close + 1 < line + len && close[1] == ' ') {
				len -= (size_t)(close + 2 - line);
				line = close + 2;
			}
		}
		n += (size_t)snprintf(out + n, cap - n, "%s%.*s\n", prefix, (int)len, line);
		text = nl ? nl + 1 : text + strlen(text);
	}
	out[n] = '\0';
	return out;
}

/* Other ways of saving the log give the same machine as plain dmesg. */
static void test_dmesg_log_prefixes(void)
{
	static const char *const prefixes[] = {
	    "",							     /* dmesg -t */
	    "<6>",						     /* dmesg -r -t */
	    "<6>[    0.000000] ",				     /* dmesg -r */
	    "[Sat Nov 22 04:28:38 2026] ",			     /* dmesg -T */
	    "Nov 22 04:28:38 host kernel: ",			     /* journalctl -k */
	    "2026-11-22T04:28:38.123+00:00 host kernel: [    1.5] ", /* kern.log */
	};
	char *text = oracle_file("e_4G_numa2", "dmesg.txt");
	expect_ptr_not_null(text);
	struct kmm_machine_desc *want = parse_oracle("e_4G_numa2", "dmesg.txt");
	expect_ptr_not_null(want);
	for (size_t i = 0; i < KMM_ARRAY_SIZE(prefixes); i++) {
		struct kmm_machine_desc *d = new_desc();
		struct kmm_error err = {0};
		char *t = reprefix(text, prefixes[i]);
		int ret = kmm_desc_parse_dmesg(d, t, "dmesg.txt", &err);
		if (ret)
			fprintf(stderr, "prefix '%s': %s\n", prefixes[i], err.msg);
		bool same = !ret && same_desc(d, want);
		free(t);
		free(d);
		if (!same)
			fprintf(stderr, "prefix '%s' gives another machine\n", prefixes[i]);
		check_u64_eq(same, 1);
	}
	free(want);
	free(text);
}

/* --- Synthetic logs ------------------------------------------------------------------ */

static int parse_dmesg_text(struct kmm_machine_desc *d, const char *text, struct kmm_error *err)
{
	kmm_error_clear(err);
	return kmm_desc_parse_dmesg(d, text, "t.log", err);
}

#define E820_LOW                                                            \
	"BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"   \
	"BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n" \
	"BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable\n"

static void test_dmesg_e820_updates(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	const char *log =
	    E820_LOW "e820: update [mem 0x00001000-0x00001fff] usable ==> reserved\n"
		     /* Grows the reserved piece: the two reserved ranges merge. */
		     "e820: update [mem 0x00001000-0x00002fff] usable ==> reserved\n"
		     /* No type: whatever is there goes. */
		     "e820: remove [mem 0x00000000-0x00000fff]\n"
		     /* Typed: only the RAM of the span goes, from the middle of a range. */
		     "e820: remove [mem 0x10000000-0x10ffffff] usable\n"
		     "e820: remove [mem 0x0009f000-0x000fffff] reserved\n"
		     /* RAM to RAM (E820_TYPE_RESERVED_KERN prints as usable): no change. */
		     "e820: update [mem 0x20000000-0x20000fff] usable ==> usable\n"
		     "e820: update [mem 0x3ff00000-0x3fffffff] usable ==> ACPI NVS\n"
		     "e820: reserve RAM buffer [mem 0x0009fc00-0x0009ffff]\n";
	int ret = parse_dmesg_text(d, log, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	const struct kmm_mem_range want[] = {
	    {0x1000, 0x3000, KMM_E820_RESERVED, -1},	{0x3000, 0x9fc00, KMM_E820_RAM, -1},
	    {0x100000, 0x10000000, KMM_E820_RAM, -1},	{0x11000000, 0x3ff00000, KMM_E820_RAM, -1},
	    {0x3ff00000, 0x40000000, KMM_E820_NVS, -1},
	};
	expect_int_eq(d->nr_ranges, KMM_ARRAY_SIZE(want));
	for (size_t i = 0; i < KMM_ARRAY_SIZE(want); i++) {
		expect_x64_eq(d->ranges[i].start, want[i].start);
		expect_x64_eq(d->ranges[i].end, want[i].end);
		expect_int_eq(d->ranges[i].type, want[i].type);
	}
	/* No NUMA information and no CPU line: one node, one CPU, no kernel sizes. */
	expect_int_eq(d->nr_nodes, 1);
	expect_int_eq(d->nr_numa, 0);
	expect_int_eq(d->nr_cpus, 1);
	expect_int_eq(d->kernel_image, KMM_KERNEL_AUTO);
	free(d);
}

static void test_dmesg_command_line(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	const char *log =
	    "Command line: BOOT_IMAGE=/vmlinuz root=UUID=x ro mem=768M movablecore=20% "
	    "kernelcore=256M transparent-hugepage=madvise numa=off foo=\"a b\" -- mem=1G\n"
	    "Command line: mem=64M\n" /* only the first one counts */
	    E820_LOW
	    /* What Linux prints for mem=768M: the RAM from there up goes. */
	    "e820: remove [mem 0x30000000-0xfffffffffffffffe] usable\n"
	    "ACPI: SRAT: Node 1 PXM 1 [mem 0x00000000-0x3fffffff]\n"
	    "SRAT: PXM 0 -> APIC 0x00 -> Node 1\n"
	    "smp: Brought up 1 node, 4 CPUs\n";
	int ret = parse_dmesg_text(d, log, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	expect_u64_eq(d->mem_limit, 768ULL << 20);
	expect_int_eq(d->nr_ranges, 3);
	expect_x64_eq(d->ranges[2].end, 768ULL << 20);
	expect_u64_eq(d->movablecore, 0);
	expect_int_eq(d->movablecore_percent, 20);
	expect_u64_eq(d->kernelcore, 256ULL << 20);
	expect_int_eq(d->kernelcore_percent, 0);
	expect_true(d->thp_given);
	expect_int_eq(d->thp, KMM_THP_MADVISE);
	/* numa=off: SRAT is not looked at; one node with every CPU. */
	expect_true(d->numa_off);
	expect_int_eq(d->nr_numa, 0);
	expect_int_eq(d->nr_nodes, 1);
	expect_int_eq(d->nr_cpus, 4);
	for (int c = 0; c < 4; c++)
		expect_int_eq(d->cpu_node[c], 0);

	/* An unknown THP mode is ignored, as Linux ignores it. */
	ret = parse_dmesg_text(d, "Command line: transparent_hugepage=sometimes\n" E820_LOW, &err);
	expect_int_eq(ret, 0);
	expect_false(d->thp_given);
	free(d);
}

static void test_dmesg_cpus_and_reserves(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	/* Two SRAT CPU lines for four CPUs: they are not used, CPUs go in blocks. */
	const char *log =
	    "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000007fffffff] usable\r\n"
	    "[    0.000000] SRAT: PXM 0 -> APIC 0x00 -> Node 1\r\n"
	    "[    0.000000] SRAT: PXM 1 -> APIC 0x01 -> Node 0\r\n"
	    "[    0.000000] ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x3fffffff]\r\n"
	    "[    0.000000] ACPI: SRAT: Node 1 PXM 1 [mem 0x40000000-0x7fffffff] hotplug\r\n"
	    "[    0.000000] Reserving 128MB of memory at 1024MB for crashkernel (System RAM: "
	    "2047MB)\r\n"
	    "[    0.000000] smpboot: Allowing 8 CPUs, 4 hotplug CPUs\r\n"
	    "[    0.000000] setup_percpu: NR_CPUS:8192 nr_cpumask_bits:8 nr_cpu_ids:8 "
	    "nr_node_ids:2\r\n"
	    "[    0.000000] Early memory node ranges\r\n"
	    "[    0.000000]   node   0: [mem 0x0000000000001000-0x000000003fffffff]\r\n";
	int ret = parse_dmesg_text(d, log, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	expect_int_eq(d->nr_nodes, 2);
	expect_int_eq(d->nr_numa, 2); /* SRAT wins over the early node ranges */
	expect_x64_eq(d->numa[1].start, 0x40000000);
	expect_x64_eq(d->numa[1].end, 0x80000000);
	expect_int_eq(d->nr_cpus, 4); /* 8 allowed, 4 of them hotplug */
	expect_int_eq(d->cpu_node[0], 0);
	expect_int_eq(d->cpu_node[1], 0);
	expect_int_eq(d->cpu_node[2], 1);
	expect_int_eq(d->cpu_node[3], 1);
	expect_int_eq(d->nr_reserves, 1);
	expect_str_eq(d->reserves[0].name, "crashkernel");
	expect_x64_eq(d->reserves[0].start, 1024ULL << 20);
	expect_x64_eq(d->reserves[0].end, 1152ULL << 20);
	expect_false(d->reserves[0].freed_late);

	/* With one SRAT line per CPU, they give the CPUs' nodes. */
	ret = parse_dmesg_text(d,
			       "BIOS-e820: [mem 0x0000000000000000-0x000000007fffffff] usable\n"
			       "SRAT: PXM 0 -> APIC 0x00 -> Node 1\n"
			       "SRAT: PXM 1 -> APIC 0x01 -> Node 0\n"
			       "SRAT: PXM 1 -> APIC 0x02 -> Node 0 skipped apicid that is too big\n"
			       "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x3fffffff]\n"
			       "ACPI: SRAT: Node 1 PXM 1 [mem 0x40000000-0x7fffffff]\n"
			       "setup_percpu: NR_CPUS:64 nr_cpumask_bits:2 nr_cpu_ids:2 "
			       "nr_node_ids:2\n",
			       &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(d->nr_cpus, 2);
	expect_int_eq(d->cpu_node[0], 1);
	expect_int_eq(d->cpu_node[1], 0);

	/* Only the first boot of a log with two is read. */
	ret = parse_dmesg_text(d,
			       "Linux version 6.1.0\n" E820_LOW "Linux version 6.1.0\n"
			       "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n",
			       &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(d->nr_ranges, 3);
	free(d);
}

/* --- Bad inputs ----------------------------------------------------------------------- */

struct bad_input {
	const char *text;
	const char *msg; /* a substring of the message */
};

static const struct bad_input bad_dmesg[] = {
    {"hello\nworld\n", "t.log: no BIOS-e820 memory map found; give the log of a Linux x86 "
		       "boot (dmesg or the serial console)"},
    {"", "t.log: no BIOS-e820 memory map found"},
    {"[    0.000000] BIOS-e820: [mem 0xzz00000000000000-0x000000000009fbff] usable\n",
     "t.log:1: expected 'BIOS-e820: [mem 0xSTART-0xEND] TYPE', found 'BIOS-e820: [mem 0xzz"},
    {"x\nBIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] firmware\n",
     "t.log:2: unknown e820 type 'firmware': kmm knows usable, reserved, ACPI data"},
    {"BIOS-e820: [mem 0x0000000000100000-0x00000000000fffff] usable\n",
     "t.log:1: expected 'BIOS-e820: [mem 0xSTART-0xEND] TYPE'"},
    {"Command line: ro kernelcore=mirror\n" E820_LOW,
     "t.log:1: kernelcore=mirror: kmm does not simulate mirrored memory"},
    {"Command line: mem=lots\n" E820_LOW, "t.log:1: mem=lots: expected a size like 2G"},
    {"Command line: movablecore=120%\n" E820_LOW,
     "t.log:1: movablecore=120%: expected a percentage from 0% to 100%"},
    {E820_LOW "e820: update [mem 0x00000000-0x00000fff] usable => reserved\n",
     "t.log:4: expected 'e820: update [mem 0xSTART-0xEND] TYPE ==> TYPE'"},
    {E820_LOW "e820: remove [mem 0x00000000-0x00000fff] lava\n",
     "t.log:4: unknown e820 type 'lava'"},
    {E820_LOW "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-]\n",
     "t.log:4: expected 'SRAT: Node N PXM P [mem 0xSTART-0xEND]'"},
    {E820_LOW "ACPI: SRAT: Node 64 PXM 0 [mem 0x00000000-0x3fffffff]\n",
     "t.log:4: node 64: kmm simulates nodes 0 to 63"},
    {E820_LOW "SRAT: PXM 0 -> APIC zz -> Node 0\n",
     "t.log:4: expected 'SRAT: PXM P -> APIC 0xA -> Node N'"},
    {E820_LOW "smp: Brought up 1 node, many CPUs\n",
     "t.log:4: expected 'smp: Brought up N nodes, C CPUs'"},
    {E820_LOW "smp: Brought up 1 node, 300 CPUs\n", "t.log: 300 CPUs: kmm supports 1 to 256"},
    {E820_LOW "Memory: 199232K/261624K available (14343K kernel code, 2338K rwdata)\n",
     "t.log:4: expected 'Memory: NK/NK available (NK kernel code"},
    {E820_LOW "RAMDISK: [mem 0x0fee4000]\n", "t.log:4: expected 'RAMDISK: [mem 0xSTART-0xEND]'"},
    {E820_LOW "software IO TLB: mapped [mem 0xbbee4000-0xbbee4000] (0MB)\n",
     "t.log:4: expected 'software IO TLB: mapped [mem 0xSTART-0xEND] (NMB)'"},
    {E820_LOW "percpu: Embedded lots of pages/cpu\n",
     "t.log:4: expected 'percpu: Embedded N pages/cpu'"},
    {E820_LOW "Freeing unused decrypted memory: 2036\n",
     "t.log:4: expected 'Freeing ... memory: NK'"},
    {E820_LOW "Early memory node ranges\n  node   0: [mem 0x1000]\n",
     "t.log:5: expected 'node N: [mem 0xSTART-0xEND]' in the early memory node ranges"},
    /* Node 1 has only a hotplug range with no RAM. */
    {E820_LOW "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x3fffffff]\n"
	      "ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x13fffffff] hotplug\n",
     "t.log: node 1 has no memory"},
    {"BIOS-e820: [mem 0x0000000000000000-0x00000000000fffff] usable\n",
     "t.log: 1M of usable RAM is too little; kmm needs at least 2M"},

};

/* 257 ranges, one too many. */
static char *too_many_ranges(bool map)
{
	char *text = malloc(300 * 64);
	size_t n = 0;
	for (int i = 0; i <= KMM_MAX_RANGES; i++)
		n += (size_t)sprintf(text + n,
				     map ? "0x%x 0x%x usable\n"
					 : "BIOS-e820: [mem 0x%08x-0x%08x] usable\n",
				     i << 20, map ? (i << 20) + 0x1000 : (i << 20) + 0xfff);
	return text;
}

static void test_dmesg_bad_inputs(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(bad_dmesg); i++) {
		int ret = parse_dmesg_text(d, bad_dmesg[i].text, &err);
		check_u64_eq(ret, (uint64_t)-EINVAL);
		if (!strstr(err.msg, bad_dmesg[i].msg)) {
			fprintf(stderr, "row %zu:\n  got:      %s\n  expected: %s\n", i, err.msg,
				bad_dmesg[i].msg);
			kmm_test_case_failed = 1;
		}
	}
	char *text = too_many_ranges(false);
	int ret = parse_dmesg_text(d, text, &err);
	free(text);
	free(d);
	expect_int_eq(ret, -EINVAL);
	expect_str_contains(err.msg, "t.log:257: too many memory ranges: kmm takes at most 256");
}

static int parse_map_text(struct kmm_machine_desc *d, const char *text, struct kmm_error *err)
{
	kmm_error_clear(err);
	return kmm_desc_parse_map(d, text, "m.map", err);
}

static const struct bad_input bad_map[] = {
    {"hello world\n", "m.map:1:1: expected a range 'START END TYPE [NODE]', '[mem START-END] "
		      "TYPE [NODE]' or a directive (cpus, cpu, distance), found 'hello'"},
    {"\x01\x02\x03\n", "m.map:1:1: expected a range"},
    {"# fine\n  0 zz usable\n", "m.map:2:5: expected an end address (exclusive, like "
				"0xc0000000 or 3G) after the start, found 'zz'"},
    {"0 1G\n", "m.map:1:5: expected a type (usable, reserved, ACPI data, ACPI NVS, "
	       "unusable, pmem, persistent (type 12), soft reserved), found end of line"},
    {"0 1G ram2 1\n", "m.map:1:6: unknown type: expected one of usable, reserved, ACPI data, "
		      "ACPI NVS, unusable, pmem, persistent (type 12), soft reserved; found "
		      "'ram2'"},
    {"0 1G ACPI stuff 1\n", "m.map:1:6: unknown type: expected one of usable, reserved, ACPI "
			    "data, ACPI NVS, unusable, pmem, persistent (type 12), soft reserved; "
			    "found 'ACPI stuff'"},
    {"1G 1G usable\n", "m.map:1:4: empty range: expected an end above the start 0x40000000, "
		       "found 0x40000000"},
    {"[mem 0x2000-0x1000] reserved\n", "m.map:1:13: empty range: expected an end at or above "
				       "the start 0x2000, found 0x1000"},
    {"0x1800 1G usable\n", "m.map:1:1: unaligned: expected usable RAM to start on a 4 KiB "
			   "page, found 0x1800"},
    {"0 0x10000800 usable\n", "m.map:1:3: unaligned: expected usable RAM to end on a 4 KiB "
			      "page, found 0x10000800"},
    {"0 1G usable\n\n512M 2G reserved\n",
     "m.map:3:1: range [mem 0x20000000-0x7fffffff] overlaps [mem 0x0-0x3fffffff] from line "
     "1; ranges must not overlap"},
    {"0 1G usable 0\n2G 3G usable 2\n1G 2G usable 0\n",
     "m.map:2:14: node 1 has no memory: nodes are numbered from 0 without gaps and each needs "
     "usable RAM, found RAM on node 2"},
    {"0 1G usable 64\n", "m.map:1:13: node 64 is above 63, the highest node kmm simulates"},
    {"0 1G usable -1\n", "m.map:1:13: expected a node number (0 to 63) after the type, found "
			 "'-1'"},
    {"0 1G usable\n1G 2G reserved 1\n2G 3G usable 1\n# node 1 has RAM\n0x1000000000 "
     "0x1000001000 ACPI NVS 99\n",
     "m.map:5:36: node 99 is above 63"},
    {"0 1G usable\ncpus 0\n", "m.map:2:6: expected a CPU count from 1 to 256 after 'cpus', "
			      "found '0'"},
    {"0 1G usable\ncpus 257\n", "m.map:2:6: expected a CPU count from 1 to 256"},
    {"0 1G usable\ncpus\n", "m.map:2:5: expected a CPU count from 1 to 256 after 'cpus', "
			    "found end of line"},
    {"0 1G usable\ncpus 2 # two\ncpus 4\n", "m.map:3:6: 'cpus' given twice (first on line 2)"},
    {"0 1G usable\ncpus 2 4\n", "m.map:2:8: expected end of line after 'cpus N', found '4'"},
    {"0 1G usable\ncpus 2\ncpu 2 node 0\n", "m.map:3:5: cpu 2 is beyond 'cpus 2' of line 2 "
					    "(CPUs are numbered from 0 to 1)"},
    {"0 1G usable\ncpu 1 node 0\n", "m.map:2:5: cpu 1 is beyond the 1 CPU of the machine"},
    {"0 1G usable\ncpu 0 node 1\n", "m.map:2:12: expected a node with memory (0 to 0) for "
				    "cpu 0, found node 1"},
    {"0 1G usable\ncpu 0 on 0\n", "m.map:2:7: expected 'node' in 'cpu C node N', found 'on'"},
    {"0 1G usable\ncpu 0 node 0\ncpu 0 node 0\n", "m.map:3:5: cpu 0 given twice (first on line 2)"},
    {"0 1G usable\ncpu 256 node 0\n", "m.map:2:5: expected a CPU number from 0 to 255"},
    {"0 1G usable\ndistance 0 0 20\n", "m.map:2:14: bad distance: expected 10 from node 0 to "
				       "itself, found 20"},
    {"0 1G usable\n1G 2G usable 1\ndistance 0 1 300\n",
     "m.map:3:14: bad distance: expected 11 to 254 between nodes 0 and 1, found 300"},
    {"0 1G usable\ndistance 0 1 20\n", "m.map:2:12: bad distance: node 1 has no memory (the "
				       "machine has 1 node)"},
    {"0 1G usable\ndistance 0 x 20\n", "m.map:2:12: expected a node number from 0 to 63 in "
				       "'distance A B D', found 'x'"},
    {"[mem 0x0-0xzz] usable\n", "m.map:1:10: expected an end address like 0xbffdffff after "
				"'-', found '0xzz'"},
    {"[mem 0x0-0x1000 usable\n", "m.map:1:16: expected ']' to close '[mem' of column 1, "
				 "found ' '"},
    {"[    0.000000] BIOS-e820: [mem 0x0000000000000000 0x9fbff] usable\n",
     "m.map:1:50: expected '-' between the start and the end"},
    {"[mem 0x0-0xffffffffffffffff] reserved\n", "m.map:1:10: expected an end below "
						"0xffffffffffffffff"},
    {"", "m.map: no memory ranges"},
    {"# only comments\n\n", "m.map: no memory ranges"},
    {"0 1G reserved\n", "m.map: no usable RAM"},
    {"0 1G usable\n0x400000000000 0x400000001000 usable\n", "above 64 TiB"},
};

static void test_map_bad_inputs(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(bad_map); i++) {
		int ret = parse_map_text(d, bad_map[i].text, &err);
		check_u64_eq(ret, (uint64_t)-EINVAL);
		if (!strstr(err.msg, bad_map[i].msg)) {
			fprintf(stderr, "row %zu:\n  got:      %s\n  expected: %s\n", i, err.msg,
				bad_map[i].msg);
			kmm_test_case_failed = 1;
		}
	}
	char *text = too_many_ranges(true);
	int ret = parse_map_text(d, text, &err);
	free(text);
	free(d);
	expect_int_eq(ret, -EINVAL);
	expect_str_eq(err.msg, "m.map:257:1: too many ranges: kmm takes at most 256");
}

/* --- Good maps ------------------------------------------------------------------------ */

static void test_map_plain_syntax(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	const char *map = "# A two-node machine, written by hand.\r\n"
			  "\r\n"
			  "0        0x9f000   usable      # below 640K\r\n"
			  "0x9f000  1M        reserved\r\n"
			  "1M       2G        usable  0\r\n"
			  "\t3G  0xc0100000 ACPI   data\r\n" /* runs of blanks inside a type */
			  "4G       6G        usable  1\r\n"
			  "6G 6G+   \n" /* never reached: see below */
			  "";
	/* "6G+" is not a size: the parser stops at line 8. */
	int ret = parse_map_text(d, map, &err);
	expect_int_eq(ret, -EINVAL);
	expect_str_contains(err.msg, "m.map:8:4: expected an end address");

	map = "# A two-node machine, written by hand.\r\n"
	      "\r\n"
	      "0        0x9f000   usable      # below 640K\r\n"
	      "0x9f000  1M        reserved\r\n"
	      "1M       2G        usable  0\r\n"
	      "\t3G  0xc0100000 ACPI   data\r\n"
	      "0xc0100000 0xc0200000 acpi nvs 1\r\n" /* a node on non-RAM is ignored */
	      "4G       6G        usable  1\r\n"
	      "cpus 4\r\n"
	      "cpu 3 node 0   # CPU 3 moves to node 0\r\n"
	      "distance 0 1 21\r\n";
	ret = parse_map_text(d, map, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	const struct kmm_mem_range want[] = {
	    {0, 0x9f000, KMM_E820_RAM, 0},
	    {0x9f000, 0x100000, KMM_E820_RESERVED, -1},
	    {0x100000, 0x80000000, KMM_E820_RAM, 0},
	    {0xc0000000, 0xc0100000, KMM_E820_ACPI, -1},
	    {0xc0100000, 0xc0200000, KMM_E820_NVS, -1},
	    {0x100000000, 0x180000000, KMM_E820_RAM, 1},
	};
	expect_int_eq(d->nr_ranges, KMM_ARRAY_SIZE(want));
	for (size_t i = 0; i < KMM_ARRAY_SIZE(want); i++) {
		expect_x64_eq(d->ranges[i].start, want[i].start);
		expect_x64_eq(d->ranges[i].end, want[i].end);
		expect_int_eq(d->ranges[i].type, want[i].type);
		expect_int_eq(d->ranges[i].node, want[i].node);
	}
	expect_int_eq(d->nr_numa, 0);
	expect_int_eq(d->nr_nodes, 2);
	expect_int_eq(d->nr_cpus, 4);
	expect_int_eq(d->cpu_node[0], 0);
	expect_int_eq(d->cpu_node[1], 0);
	expect_int_eq(d->cpu_node[2], 1);
	expect_int_eq(d->cpu_node[3], 0);
	expect_true(d->distance_given);
	expect_int_eq(d->distance[0][1], 21);
	expect_int_eq(d->distance[1][0], 21);
	expect_int_eq(d->distance[0][0], 10);
	expect_str_eq(d->source, "m.map");
	expect_int_eq(d->kernel_image, KMM_KERNEL_AUTO);
	free(d);
}

/* The firmware map pasted out of a boot log, with and without its prefixes. */
static void test_map_e820_syntax(void)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err;
	const char *map =
	    "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
	    "[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
	    "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
	    "[mem 0x0000000000100000-0x000000007fffffff] usable\n"
	    "[mem 0x0000000080000000-0x00000000bffdffff] usable 1\n"
	    "[mem 0x00000000bffe0000-0x00000000bfffffff] reserved\n"
	    "[mem 0x00000000fffc0000-0x00000000ffffffff] reserved\n"
	    "[mem 0x0000000100000000-0x000000013fffffff] usable 1\n"
	    "[mem 0x000000fd00000000-0x000000ffffffffff] reserved\n"
	    "[mem 0x0000000140000000-0x000000014fffffff] persistent (type 7)\n";
	int ret = parse_map_text(d, map, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	expect_int_eq(d->nr_ranges, 10);
	/* Firmware RAM that ends mid-page is kept as given; boot rounds it. */
	expect_x64_eq(d->ranges[0].end, 0x9fc00);
	expect_x64_eq(d->ranges[4].start, 0x80000000);
	expect_x64_eq(d->ranges[4].end, 0xbffe0000);
	expect_int_eq(d->ranges[4].node, 1);
	expect_int_eq(d->ranges[8].type, KMM_E820_PMEM);
	expect_x64_eq(d->ranges[9].end, 0x10000000000);
	expect_int_eq(d->nr_nodes, 2);
	expect_int_eq(d->nr_cpus, 2); /* one per node without a cpus line */
	expect_int_eq(d->cpu_node[0], 0);
	expect_int_eq(d->cpu_node[1], 1);
	expect_false(d->distance_given);
	expect_int_eq(d->distance[0][1], 20);
	free(d);
}

/*
 * The QEMU-pc layout built from flags is the twin of the guest the oracle
 * booted with the same flags (-m 4G, two nodes of 2G, -smp 2): the same
 * NUMA ranges, CPUs and nodes, and the same RAM once Linux has turned page 0
 * into reserved memory. The log's map has two more reserved ranges (page 0
 * and the HyperTransport hole of -cpu max); every reserved range of the
 * flags-built map is in the log's.
 */
static void test_qemu_pc_twin(void)
{
	struct kmm_machine_desc *q = new_desc();
	struct kmm_error err = {0};
	int ret = kmm_desc_qemu_pc(q, 4 * KMM_SZ_1G, 2, 2, KMM_ARCH_X86_64, &err);
	expect_str_eq(err.msg, "");
	expect_int_eq(ret, 0);
	struct kmm_machine_desc *d = parse_oracle("e_4G_numa2", "dmesg.txt");
	expect_ptr_not_null(d);

	expect_int_eq(q->nr_numa, d->nr_numa);
	for (int i = 0; i < q->nr_numa; i++) {
		expect_x64_eq(q->numa[i].start, d->numa[i].start);
		expect_x64_eq(q->numa[i].end, d->numa[i].end);
		expect_int_eq(q->numa[i].node, d->numa[i].node);
	}
	expect_int_eq(q->nr_nodes, d->nr_nodes);
	expect_int_eq(q->nr_cpus, d->nr_cpus);
	for (int c = 0; c < q->nr_cpus; c++)
		expect_int_eq(q->cpu_node[c], d->cpu_node[c]);

	/* RAM: identical, but for page 0 that Linux reserves. */
	int j = 0;
	for (int i = 0; i < q->nr_ranges; i++) {
		struct kmm_mem_range r = q->ranges[i];
		if (r.type != KMM_E820_RAM)
			continue;
		if (r.start == 0)
			r.start = 0x1000;
		while (j < d->nr_ranges && d->ranges[j].type != KMM_E820_RAM)
			j++;
		expect_true(j < d->nr_ranges);
		expect_x64_eq(d->ranges[j].start, r.start);
		expect_x64_eq(d->ranges[j].end, r.end);
		expect_int_eq(d->ranges[j].node, r.node);
		j++;
	}
	while (j < d->nr_ranges && d->ranges[j].type != KMM_E820_RAM)
		j++;
	expect_int_eq(j, d->nr_ranges);

	/* Reserved: the flags-built ones are all in the log's map. */
	for (int i = 0; i < q->nr_ranges; i++) {
		if (q->ranges[i].type == KMM_E820_RAM)
			continue;
		bool found = false;
		for (int k = 0; k < d->nr_ranges; k++)
			found |= !memcmp(&q->ranges[i], &d->ranges[k], sizeof(q->ranges[i]));
		expect_true(found);
	}
	expect_int_eq(d->nr_ranges, q->nr_ranges + 2);
	free(q);
	free(d);
}

/* --- Robustness -------------------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	/* splitmix64: a seeded, reproducible stream. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Flip, insert and delete bytes, and splice in tokens the parsers look for. */
static void mutate(char *buf, size_t *len, size_t cap)
{
	static const char *const tokens[] = {
	    "[mem ",
	    "0x",
	    "-",
	    "]",
	    "\n",
	    " ",
	    "usable",
	    "ACPI data",
	    "==>",
	    "#",
	    "node",
	    "cpus ",
	    "cpu 1 node 3\n",
	    "distance 0 1 ",
	    "9999999999999999999",
	    "0xffffffffffffffff",
	    "BIOS-e820: ",
	    "e820: update ",
	    "e820: remove ",
	    "Early memory node ranges\n",
	    "  node   1: ",
	    "SRAT: PXM 3 -> APIC 0x1 -> Node ",
	    "ACPI: SRAT: Node 2 PXM 2 ",
	    "Memory: ",
	    "K ",
	    "(",
	    ")",
	    ", ",
	    "%",
	    "=",
	    "Command line: mem=",
	    "kernelcore=",
	    "movablecore=",
	    "\r\n",
	    "\t",
	    "[    0.1] ",
	};
	size_t nmut = 1 + rnd() % 8;
	for (size_t m = 0; m < nmut; m++) {
		size_t pos = *len ? rnd() % (*len + 1) : 0;
		switch (rnd() % 4) {
		case 0:
			if (pos < *len)
				buf[pos] = (char)(1 + rnd() % 255);
			break;
		case 1:
			if (pos < *len) {
				size_t n = kmm_min(*len - pos, (size_t)(1 + rnd() % 16));
				memmove(buf + pos, buf + pos + n, *len - pos - n);
				*len -= n;
			}
			break;
		default: {
			const char *t = tokens[rnd() % KMM_ARRAY_SIZE(tokens)];
			size_t n = strlen(t);
			if (*len + n >= cap)
				break;
			memmove(buf + pos + n, buf + pos, *len - pos);
			memcpy(buf + pos, t, n);
			*len += n;
		}
		}
	}
	buf[*len] = '\0';
}

/* Every mutated input is either a valid machine or an error that names the file. */
static void check_one(bool map, const char *text)
{
	struct kmm_machine_desc *d = new_desc();
	struct kmm_error err = {0};
	int ret = map ? kmm_desc_parse_map(d, text, "f.in", &err)
		      : kmm_desc_parse_dmesg(d, text, "f.in", &err);
	if (ret) {
		check_u64_eq(ret, (uint64_t)-EINVAL);
		check_u64_eq(strncmp(err.msg, "f.in", 4), 0);
	} else {
		struct kmm_error again = {0};
		check_u64_eq(kmm_desc_validate(d, &again), 0);
	}
	free(d);
}

static void test_fuzz_parsers(void)
{
	char *logs[2] = {oracle_file("e_4G_numa2", "dmesg.txt"), NULL};
	const char *seed_map = "0 0x9f000 usable\n0x9f000 1M reserved\n1M 2G usable 0\n"
			       "[mem 0x80000000-0xbfffffff] usable 1\n3G 4G ACPI NVS\ncpus 4\n"
			       "cpu 0 node 1\ndistance 0 1 21\n";
	expect_ptr_not_null(logs[0]);
	logs[1] = (char *)seed_map;
	rng_state = kmm_test_seed;
	unsigned long rounds = 400 * kmm_test_scale;
	for (unsigned long r = 0; r < rounds && !kmm_test_case_failed; r++) {
		bool map = r & 1;
		const char *src = logs[map];
		size_t len = strlen(src), cap = len + 4096;
		char *buf = malloc(cap);
		memcpy(buf, src, len + 1);
		for (int step = 0; step < 4; step++) {
			mutate(buf, &len, cap);
			check_one(map, buf);
		}
		/* Random bytes, too. */
		size_t n = rnd() % 512;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(1 + rnd() % 255);
		buf[n] = '\0';
		check_one(map, buf);
		free(buf);
	}
	free(logs[0]);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_oracle_test(test_dmesg_oracle_logs);
	run_oracle_test(test_dmesg_console_capture);
	run_oracle_test(test_dmesg_log_prefixes);
	run_test(test_dmesg_e820_updates);
	run_test(test_dmesg_command_line);
	run_test(test_dmesg_cpus_and_reserves);
	run_test(test_dmesg_bad_inputs);
	run_test(test_map_bad_inputs);
	run_test(test_map_plain_syntax);
	run_test(test_map_e820_syntax);
	run_oracle_test(test_qemu_pc_twin);
	run_oracle_test(test_fuzz_parsers);
	return kmm_test_done();
}
