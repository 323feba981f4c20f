/*
 * Booting machines: src/phys/boot.c, config.c and the boot sequence of
 * src/init/main.c, seen from outside.
 *
 *  - A flags-built machine's own boot log, fed back with --from-dmesg, gives
 *    the same machine (RAM, nodes, zones, CPUs).
 *  - The default machine boots, and its layout is QEMU's pc machine: with
 *    two CPUs its zones are those of the e_4G_numa2 Linux oracle.
 *  - Tiny machines boot and can hand out every free page and take it back.
 *  - Bad options and bad sysctl writes come back as errors with a message
 *    naming what was wrong. Each bad boot runs in a child process, so that
 *    an abort is reported as a failure of that row instead of ending the run.
 *  - Deferred struct page init in a thread (KMM_TEST_CONCURRENT): the
 *    machine allocates while the thread works and ends equal to a machine
 *    that waited.
 *  - Deferred init on demand: no thread; allocations grow the zone section
 *    by section until it equals a machine that waited.
 */
#include <kmm/machine.h>
#include <kmm/memory_model.h>
#include <kmm/page_alloc.h>
#include <kmm/reclaim.h>
#include "phys/internal.h"
#include "../kmm_test.h"
#include "../kmm_test_machine.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#define ORACLE_61 KMM_ORACLE_DIR "/linux-6.1/"

/* --- Helpers ------------------------------------------------------------------------ */

/* Boot from command-line style options; NULL with the message in @err. */
static struct kmm_machine *boot_args(int argc, char **argv, struct kmm_error *err)
{
	struct kmm_config cfg;
	kmm_config_init(&cfg);
	if (kmm_config_parse_args(&cfg, argc, argv, err))
		return NULL;
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, err);
	if (m)
		kmm_wait_for_init(m);
	return m;
}

static int count_args(char **argv)
{
	int n = 0;
	while (argv[n])
		n++;
	return n;
}

static bool validate(struct kmm_machine *m, const char *what)
{
	struct kmm_error err = {0};
	if (kmm_phys_validate(m, &err)) {
		KMM_EXPECT_FAIL_("%s: kmm_phys_validate: %s", what, err.msg);
		return false;
	}
	if (kmm_page_alloc_validate(m, &err)) {
		KMM_EXPECT_FAIL_("%s: kmm_page_alloc_validate: %s", what, err.msg);
		return false;
	}
	return true;
}

/* Write @size bytes of @text to a new temporary file, its name into @path; false on failure. */
static bool write_temp(char *path, size_t len, const char *text, size_t size)
{
	snprintf(path, len, "/tmp/kmm_boot_test_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, size) == (ssize_t)size;
	close(fd);
	return ok;
}

/* Zone geometry of two machines: the same start, span and present pages everywhere. */
static bool same_zones(struct kmm_machine *a, struct kmm_machine *b, const char *what)
{
	if (a->nr_node_ids != b->nr_node_ids) {
		KMM_EXPECT_FAIL_("%s: %d nodes vs %d", what, a->nr_node_ids, b->nr_node_ids);
		return false;
	}
	for (int n = 0; n < a->nr_node_ids; n++) {
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			const struct kmm_zone *za = &a->node_data[n]->node_zones[z];
			const struct kmm_zone *zb = &b->node_data[n]->node_zones[z];
			if (za->zone_start_pfn != zb->zone_start_pfn ||
			    za->spanned_pages != zb->spanned_pages ||
			    za->present_pages != zb->present_pages) {
				KMM_EXPECT_FAIL_("%s: node %d zone %s: %#lx+%lu (%lu present) vs "
						 "%#lx+%lu (%lu)",
						 what, n, za->name, za->zone_start_pfn,
						 za->spanned_pages, za->present_pages,
						 zb->zone_start_pfn, zb->spanned_pages,
						 zb->present_pages);
				return false;
			}
		}
	}
	return true;
}

/* --- Round trip: a machine's own log describes it ------------------------------------ */

static bool same_machine(struct kmm_machine *a, struct kmm_machine *b, const char *what)
{
	const struct memblock_type *ma = &a->memblock.memory, *mb = &b->memblock.memory;
	if (ma->cnt != mb->cnt) {
		KMM_EXPECT_FAIL_("%s: %lu RAM ranges vs %lu", what, ma->cnt, mb->cnt);
		return false;
	}
	for (unsigned long i = 0; i < ma->cnt; i++) {
		const struct memblock_region *ra = &ma->regions[i], *rb = &mb->regions[i];
		if (ra->base != rb->base || ra->size != rb->size || ra->nid != rb->nid) {
			KMM_EXPECT_FAIL_("%s: RAM range %lu: %#llx+%#llx node %d vs %#llx+%#llx "
					 "node %d",
					 what, i, (unsigned long long)ra->base,
					 (unsigned long long)ra->size, ra->nid,
					 (unsigned long long)rb->base, (unsigned long long)rb->size,
					 rb->nid);
			return false;
		}
	}
	if (!same_zones(a, b, what))
		return false;
	if (a->nr_cpus != b->nr_cpus) {
		KMM_EXPECT_FAIL_("%s: %d CPUs vs %d", what, a->nr_cpus, b->nr_cpus);
		return false;
	}
	for (int c = 0; c < a->nr_cpus; c++) {
		if (a->cpus[c]->node != b->cpus[c]->node) {
			KMM_EXPECT_FAIL_("%s: CPU %d on node %d vs %d", what, c, a->cpus[c]->node,
					 b->cpus[c]->node);
			return false;
		}
	}
	return true;
}

static void test_dmesg_round_trip(void)
{
	static char *machines[][10] = {
	    {"--mem", "4G", "--nodes", "2", "--cpus", "2", NULL},
	    {"--mem", "6G", "--nodes", "3", "--cpus", "5", NULL},
	    {"--mem", "256M", "--nodes", "1", "--cpus", "1", NULL},
	    {"--mem", "1G", "--nodes", "4", "--cpus", "4", NULL},
	    {"--mem", "2G", "--nodes", "2", "--movablecore", "25%", NULL},
	    {"--mem", "5G", "--nodes", "2", "--kernelcore", "1G", "--thp", "never", NULL},
	};
	for (size_t i = 0; i < sizeof(machines) / sizeof(machines[0]); i++) {
		struct kmm_error err = {0};
		char what[128] = "", path[64];
		for (char **a = machines[i]; *a; a++)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s ", *a);
		struct kmm_machine *m = boot_args(count_args(machines[i]), machines[i], &err);
		if (!m) {
			KMM_EXPECT_FAIL_("%s: %s", what, err.msg);
			continue;
		}
		expect_true(write_temp(path, sizeof(path), m->log.data, m->log.len));
		char *twin_args[] = {"--from-dmesg", path, NULL};
		struct kmm_machine *twin = boot_args(2, twin_args, &err);
		unlink(path);
		if (!twin) {
			KMM_EXPECT_FAIL_("%s: its own log does not boot: %s", what, err.msg);
			kmm_machine_destroy(m);
			continue;
		}
		bool ok = same_machine(m, twin, what) && validate(twin, what);
		if (ok && m->thp != twin->thp)
			KMM_EXPECT_FAIL_("%s: THP %d, the twin's %d", what, m->thp, twin->thp);
		printf("  %s-> the twin of its log is the same machine%s\n", what,
		       ok ? "" : ": NO");
		kmm_machine_destroy(twin);
		kmm_machine_destroy(m);
	}
}

/* --- The default machine ------------------------------------------------------------ */

/* zones.tsv of the oracle: node, zone, start, spanned, present for each zone. */
static bool oracle_geometry_matches(struct kmm_machine *m, const char *config)
{
	static const char *const names[] = {"DMA", "DMA32", "Normal", "Movable", "Device"};
	static const enum zone_type types[] = {ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE,
					       ZONE_DEVICE};
	char path[512], line[512];
	snprintf(path, sizeof(path), ORACLE_61 "%s/zones.tsv", config);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("  SKIP: no oracle at %s\n", path);
		return true;
	}
	bool ok = true;
	int rows = 0;
	if (!fgets(line, sizeof(line), f)) /* header */
		ok = false;
	while (ok && fgets(line, sizeof(line), f)) {
		int node;
		char zname[16], start[32];
		unsigned long spanned, present;
		if (sscanf(line, "%d\t%15s\t%31s\t%lu\t%lu", &node, zname, start, &spanned,
			   &present) != 5)
			continue;
		int t = -1;
		for (int i = 0; i < 5; i++)
			if (!strcmp(zname, names[i]))
				t = (int)types[i];
		if (t < 0 || node >= m->nr_node_ids) {
			KMM_EXPECT_FAIL_("%s: zone %s of node %d is not in kmm's machine", config,
					 zname, node);
			ok = false;
			break;
		}
		const struct kmm_zone *z = &m->node_data[node]->node_zones[t];
		unsigned long want_start = start[0] == '-' ? 0 : strtoul(start, NULL, 10);
		if (z->spanned_pages != spanned || z->present_pages != present ||
		    (spanned && z->zone_start_pfn != want_start)) {
			KMM_EXPECT_FAIL_("%s: node %d zone %s: kmm %lu+%lu (%lu present), Linux "
					 "%s+%lu (%lu)",
					 config, node, zname, z->zone_start_pfn, z->spanned_pages,
					 z->present_pages, start, spanned, present);
			ok = false;
		}
		rows++;
	}
	fclose(f);
	if (ok)
		printf("  %d zones equal to %s's\n", rows, config);
	return ok;
}

static void test_default_machine(void)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	expect_ptr_not_null(m);
	kmm_wait_for_init(m);
	bool ok = validate(m, "default machine");
	expect_int_eq(m->nr_node_ids, 2);
	expect_int_eq(m->nr_cpus, 4);
	expect_u64_gt(kmm_nr_free_pages(m), 0);
	kmm_machine_destroy(m);
	if (!ok)
		return;

	char *args[] = {"--cpus", "2", NULL};
	m = boot_args(2, args, &err);
	if (!m) {
		KMM_EXPECT_FAIL_("--cpus 2: %s", err.msg);
		return;
	}
	oracle_geometry_matches(m, "e_4G_numa2");
	kmm_machine_destroy(m);
}

/* --- Tiny machines -------------------------------------------------------------------- */

/* Allocate every order-0 page the allocator gives, then free them all. */
static void drain_machine(struct kmm_machine *m, const char *what)
{
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	kmm_drain_all_pages(m);
	unsigned long free_before = kmm_nr_free_pages(m);
	size_t cap = 1024, n = 0;
	struct kmm_page **pages = malloc(cap * sizeof(*pages));
	struct kmm_page *page;
	while ((page = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, 0))) {
		if (n == cap) {
			cap *= 2;
			pages = realloc(pages, cap * sizeof(*pages));
		}
		/* Real bytes: every page can be written. */
		memset(page_address(m, page), 0xa5, PAGE_SIZE);
		pages[n++] = page;
	}
	bool ok = validate(m, what);
	for (size_t i = 0; i < n; i++)
		kmm_free_pages(m, pages[i], 0);
	free(pages);
	kmm_drain_all_pages(m);
	unsigned long free_after = kmm_nr_free_pages(m);
	kmm_cpu_exit(m);
	printf("  %s: %lu pages free, allocated %zu of them, %lu free again\n", what, free_before,
	       n, free_after);
	expect_true(ok);
	expect_u64_gt(n, 0);
	expect_u64_le(n, free_before);
	expect_u64_eq(free_after, free_before);
	validate(m, what);
}

/*
 * The smallest machines the options accept: --mem takes 4M and up, and
 * --nodes asks for 4M per node, so 4M on one node and 8M on two must boot.
 */
static void test_tiny_machines(void)
{
	static const struct {
		const char *mem, *nodes;
	} sizes[] = {{"4M", "1"}, {"8M", "1"}, {"16M", "1"}, {"8M", "2"}};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct kmm_error err = {0};
		char what[32];
		char *args[] = {"--mem", (char *)sizes[i].mem, "--nodes", (char *)sizes[i].nodes,
				NULL};
		snprintf(what, sizeof(what), "--mem %s --nodes %s", sizes[i].mem, sizes[i].nodes);
		struct kmm_machine *m = boot_args(4, args, &err);
		if (!m) {
			KMM_EXPECT_FAIL_("%s does not boot: %s", what, err.msg);
			continue;
		}
		if (validate(m, what) && kmm_nr_free_pages(m) > 0)
			drain_machine(m, what);
		else
			KMM_EXPECT_FAIL_("%s: no free memory after boot", what);
		kmm_machine_destroy(m);
	}
}

/* --- Bad inputs --------------------------------------------------------------------- */

/*
 * Run options through kmm_config_parse_args, kmm_config_finish and kmm_boot
 * in a child process. Returns the error code (0 if it booted) and the
 * message in @msg, or -1000 - signal if the child died.
 */
static int try_boot_in_child(char **argv, char *msg, size_t len)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		struct kmm_config cfg;
		struct kmm_error err = {0};
		close(fds[0]);
		kmm_config_init(&cfg);
		cfg.quiet = true;
		int ret = kmm_config_parse_args(&cfg, count_args(argv), argv, &err);
		if (!ret)
			ret = kmm_config_finish(&cfg, &err);
		if (!ret) {
			cfg.quiet = true;
			struct kmm_machine *m = kmm_boot(&cfg, &err);
			ret = m ? 0 : err.code ? err.code : -EINVAL;
			kmm_machine_destroy(m);
		}
		if (write(fds[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    write(fds[1], err.msg, sizeof(err.msg)) != sizeof(err.msg))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	int ret = 0, status = 0;
	char buf[sizeof(((struct kmm_error *)0)->msg)] = "";
	bool got = read(fds[0], &ret, sizeof(ret)) == sizeof(ret) &&
		   read(fds[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf);
	close(fds[0]);
	waitpid(pid, &status, 0);
	snprintf(msg, len, "%s", buf);
	if (WIFSIGNALED(status))
		return -1000 - WTERMSIG(status);
	return got ? ret : -1;
}

static void test_bad_options(void)
{
	char notdmesg[64], binary[64], highonly[64], nokernel[64];
	const char text[] = "hello\nthis is not a boot log\n";
	const char bin[] = "BIOS-e820: \0\1\2";
	/* An i386 machine whose RAM is all above 896 MiB: no lowmem to boot with. */
	const char high[] = "0x3ac00000 0x3f000000 usable\n";
	/*
	 * FLATMEM whose memmap and swiotlb take all the RAM below 4 GiB, the
	 * rest in ZONE_MOVABLE: the slab allocator has no page to start from.
	 */
	const char nok[] = "cpus 2\n0x1000 0xe9c800 reserved\n0xe9d000 0x8e9d000 usable 0\n"
			   "0x100000000 0x1009f7000 usable 0\n";
	expect_true(write_temp(nokernel, sizeof(nokernel), nok, sizeof(nok) - 1));
	expect_true(write_temp(notdmesg, sizeof(notdmesg), text, sizeof(text) - 1));
	expect_true(write_temp(binary, sizeof(binary), bin, sizeof(bin) - 1));
	expect_true(write_temp(highonly, sizeof(highonly), high, sizeof(high) - 1));
	const struct {
		char *argv[10];
		const char *expect; /* in the message */
	} cases[] = {
	    {{"--mem", "1M"}, "--mem"},
	    {{"--mem", "junk"}, "--mem"},
	    {{"--nodes", "0"}, "--nodes"},
	    {{"--nodes", "65"}, "--nodes"},
	    {{"--cpus", "0"}, "--cpus"},
	    {{"--model", "foo"}, "--model"},
	    {{"--buddy", "foo"}, "--buddy"},
	    {{"--deferred-init", "later"}, "--deferred-init"},
	    {{"--map", "/nonexistent/missing-file"}, "missing-file"},
	    {{"--from-dmesg", notdmesg}, notdmesg},
	    {{"--from-dmesg", binary}, binary},
	    {{"--mem", "64M", "--kernel-image", "debian61"}, "--kernel-image"},
	    {{"--movablecore", "200%"}, "--movablecore"},
	    {{"--lowmem-reserve-ratio", "a b"}, "--lowmem-reserve-ratio"},
	    {{"--percpu-pagelist-high-fraction", "3"}, "--percpu-pagelist-high-fraction"},
	    {{"--watermark-scale-factor", "0"}, "--watermark-scale-factor"},
	    {{"--mem"}, "--mem"},
	    {{"--no-such-option"}, "--no-such-option"},
	    {{"--arch", "i386", "--kernel-image", "none", "--map", highonly}, highonly},
	    {{"--map", nokernel, "--model", "flat", "--kernel-image", "none", "--kernelcore",
	      "46%"},
	     "no memory left to start its slab allocator"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char msg[512], what[256] = "";
		for (char *const *a = cases[i].argv; *a; a++)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s ", *a);
		int ret = try_boot_in_child((char **)cases[i].argv, msg, sizeof(msg));
		printf("  %-50s -> %d: %s\n", what, ret, msg);
		if (ret <= -1000)
			KMM_EXPECT_FAIL_("%s: aborted (signal %d) instead of returning an error",
					 what, -1000 - ret);
		else if (ret >= 0)
			KMM_EXPECT_FAIL_("%s: booted (or failed without an error code)", what);
		else if (!msg[0] || !strstr(msg, cases[i].expect))
			KMM_EXPECT_FAIL_("%s: message '%s' does not name '%s'", what, msg,
					 cases[i].expect);
	}
	unlink(notdmesg);
	unlink(binary);
	unlink(highonly);
	unlink(nokernel);
}

/* --- sysctl errors -------------------------------------------------------------------- */

static void test_sysctl_errors(void)
{
	char *args[] = {"--mem", "512M", "--nodes", "1", NULL};
	struct kmm_error err = {0};
	struct kmm_machine *m = boot_args(4, args, &err);
	expect_ptr_not_null(m);
	const struct {
		const char *name, *value;
		int code;
	} cases[] = {
	    {"min_free_kbytes", "-1", -EINVAL},
	    {"min_free_kbytes", "abc", -EINVAL},
	    {"min_free_kbytes", "", -EINVAL},
	    {"watermark_scale_factor", "0", -EINVAL},
	    {"watermark_scale_factor", "3001", -EINVAL},
	    {"watermark_scale_factor", "10x", -EINVAL},
	    {"watermark_boost_factor", "-5", -EINVAL},
	    {"percpu_pagelist_high_fraction", "3", -EINVAL},
	    {"percpu_pagelist_high_fraction", "-8", -EINVAL},
	    {"lowmem_reserve_ratio", "a b", -EINVAL},
	    {"lowmem_reserve_ratio", "32 x", -EINVAL},
	    {"lowmem_reserve_ratio", "1 2 3 4 5 6 7", -EINVAL},
	    {"transparent_hugepage/enabled", "sometimes", -EINVAL},
	    {"no_such_tunable", "1", -ENOENT},
	    {"vm/min_free_kbytes", "1024", -ENOENT},
	    {"swappiness", "201", -EINVAL},
	    {"swappiness", "-1", -EINVAL},
	    {"page-cluster", "32", -EINVAL},
	    {"max_map_count", "1e3", -EINVAL},
	    {"fault_around_bytes", "12288", -EINVAL},
	    {"stack_guard_gap", "99999999999999999999", -EINVAL},
	};
	/* A rejected write changes nothing: remember the state. */
	struct kmm_zone *zone = &m->node_data[0]->node_zones[ZONE_DMA32];
	unsigned long wmark[NR_WMARK];
	long reserve[MAX_NR_ZONES];
	memcpy(wmark, zone->_watermark, sizeof(wmark));
	memcpy(reserve, m->node_data[0]->node_zones[ZONE_DMA].lowmem_reserve, sizeof(reserve));
	int mfk = m->min_free_kbytes, wsf = m->watermark_scale_factor;
	int frac = m->percpu_pagelist_high_fraction;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kmm_error_clear(&err);
		int ret = kmm_sysctl_set(m, cases[i].name, cases[i].value, &err);
		printf("  %s=%-16s -> %d: %s\n", cases[i].name, cases[i].value, ret, err.msg);
		if (ret != cases[i].code)
			KMM_EXPECT_FAIL_("%s=%s: returned %d, expected %d", cases[i].name,
					 cases[i].value, ret, cases[i].code);
		else if (!strstr(err.msg, cases[i].name))
			KMM_EXPECT_FAIL_("%s=%s: message '%s' does not name the tunable",
					 cases[i].name, cases[i].value, err.msg);
	}
	struct kmm_buf b;
	kmm_buf_init(&b);
	expect_int_eq(kmm_sysctl_get(m, "no_such_tunable", &b), -ENOENT);
	kmm_buf_free(&b);
	expect_int_eq(m->min_free_kbytes, mfk);
	expect_int_eq(m->watermark_scale_factor, wsf);
	expect_int_eq(m->percpu_pagelist_high_fraction, frac);
	expect_true(!memcmp(wmark, zone->_watermark, sizeof(wmark)));
	expect_true(!memcmp(reserve, m->node_data[0]->node_zones[ZONE_DMA].lowmem_reserve,
			    sizeof(reserve)));
	/* And a good write still works afterwards. */
	expect_int_eq(kmm_sysctl_set(m, "watermark_scale_factor", "100", &err), 0);
	expect_u64_gt(zone->_watermark[WMARK_HIGH], wmark[WMARK_HIGH]);
	kmm_machine_destroy(m);
}

/* The tunables of the layers above phys/ go through the same table and read back. */
static void test_sysctl_other_layers(void)
{
	char *args[] = {"--mem", "512M", "--nodes", "1", NULL};
	struct kmm_error err = {0};
	struct kmm_machine *m = boot_args(4, args, &err);
	expect_ptr_not_null(m);
	const struct {
		const char *name, *before, *write, *after;
	} cases[] = {
	    {"swappiness", "60\n", "133\n", "133\n"},
	    {"page-cluster", "3\n", "0", "0\n"},
	    {"max_map_count", "65530\n", "100", "100\n"},
	    {"stack_guard_gap", "256\n", "16", "16\n"},
	    {"fault_around_bytes", "65536\n", "4096", "4096\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kmm_buf b;
		kmm_buf_init(&b);
		expect_int_eq(kmm_sysctl_get(m, cases[i].name, &b), 0);
		expect_str_eq(b.data, cases[i].before);
		expect_int_eq(kmm_sysctl_set(m, cases[i].name, cases[i].write, &err), 0);
		kmm_buf_reset(&b);
		expect_int_eq(kmm_sysctl_get(m, cases[i].name, &b), 0);
		expect_str_eq(b.data, cases[i].after);
		kmm_buf_free(&b);
	}
	expect_int_eq(kmm_reclaim_swappiness(m), 133);
	kmm_machine_destroy(m);
}

/* --- Deferred init in a thread -------------------------------------------------------- */

static unsigned long total_managed(struct kmm_machine *m)
{
	unsigned long sum = 0;
	for (int n = 0; n < m->nr_node_ids; n++)
		for (int z = 0; z < MAX_NR_ZONES; z++)
			sum += zone_managed_pages(&m->node_data[n]->node_zones[z]);
	return sum;
}

static void test_deferred_thread(void)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	char *args[] = {"--mem", "4G", "--nodes", "2", "--cpus", "2", NULL};
	kmm_config_init(&cfg);
	expect_int_eq(kmm_config_parse_args(&cfg, 6, args, &err), 0);
	cfg.quiet = true;

	cfg.deferred = KMM_DEFERRED_WAIT;
	struct kmm_machine *ref = kmm_boot(&cfg, &err);
	expect_ptr_not_null(ref);
	kmm_wait_for_init(ref);

	cfg.deferred = KMM_DEFERRED_THREAD;
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	expect_ptr_not_null(m);
	/* Racy by nature: usually the thread has not finished yet. */
	unsigned long early = total_managed(m);
	printf("  at return: %lu of %lu managed pages in the zones (%s)\n", early,
	       total_managed(ref),
	       early < total_managed(ref) ? "deferred init still running" : "done already");

	/* The machine allocates at once, small and large blocks, on both nodes. */
	struct kmm_page *pages[16];
	int n = 0;
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	for (int i = 0; i < 8; i++) {
		unsigned int order = i % 2 ? MAX_PAGE_ORDER : 0;
		pages[n] = kmm_alloc_pages_node(m, i % 4 < 2 ? 0 : 1, GFP_KERNEL, order);
		if (!pages[n]) {
			KMM_EXPECT_FAIL_("allocation %d (order %u) failed during deferred init", i,
					 order);
			break;
		}
		memset(page_address(m, pages[n]), 0x5a, PAGE_SIZE << order);
		n++;
	}
	for (int i = 0; i < n; i++)
		kmm_free_pages(m, pages[i], i % 2 ? MAX_PAGE_ORDER : 0);
	kmm_drain_all_pages(m);
	kmm_cpu_exit(m);

	kmm_wait_for_init(m);
	validate(m, "deferred thread");
	for (int nid = 0; nid < m->nr_node_ids; nid++) {
		for (int z = 0; z < MAX_NR_ZONES; z++) {
			struct kmm_zone *a = &m->node_data[nid]->node_zones[z];
			struct kmm_zone *b = &ref->node_data[nid]->node_zones[z];
			unsigned long fa = zone_page_state_snapshot(a, NR_FREE_PAGES);
			unsigned long fb = zone_page_state_snapshot(b, NR_FREE_PAGES);
			if (zone_managed_pages(a) != zone_managed_pages(b) || fa != fb ||
			    memcmp(a->_watermark, b->_watermark, sizeof(a->_watermark)) ||
			    memcmp(a->lowmem_reserve, b->lowmem_reserve, sizeof(a->lowmem_reserve)))
				KMM_EXPECT_FAIL_(
				    "node %d zone %s: thread mode %lu managed, %lu free, "
				    "min %lu; wait mode %lu, %lu, min %lu",
				    nid, a->name, zone_managed_pages(a), fa,
				    a->_watermark[WMARK_MIN], zone_managed_pages(b), fb,
				    b->_watermark[WMARK_MIN]);
		}
	}
	expect_int_eq(m->min_free_kbytes, ref->min_free_kbytes);
	kmm_machine_destroy(m);
	kmm_machine_destroy(ref);
}

/* --- Deferred init on demand ------------------------------------------------------------ */

static unsigned long bits_set(const unsigned long *map, unsigned long nbits)
{
	unsigned long n = 0;
	for (unsigned long i = 0; i < nbits; i++)
		n += test_bit(i, map);
	return n;
}

/*
 * --deferred-init demand: boot initialises the first section of the
 * highest zone only, with no thread; allocations grow the zone one section
 * at a time until the machine has what a machine that waited has. The
 * reserved pages at the top of RAM (the vmemmap's memblock blocks) are
 * initialised with their section, not at boot.
 */
static void test_deferred_on_demand(void)
{
	char *wait_args[] = {"--mem", "512M", "--nodes", "1", "--cpus", "2", NULL};
	char *demand_args[] = {"--mem",		  "512M",   "--nodes", "1", "--cpus", "2",
			       "--deferred-init", "demand", NULL};
	struct kmm_error err = {0};
	struct kmm_machine *ref = boot_args(count_args(wait_args), wait_args, &err);
	expect_ptr_not_null(ref);
	struct kmm_machine *m = boot_args(count_args(demand_args), demand_args, &err);
	expect_ptr_not_null(m);
	struct kmm_node *pgdat = m->node_data[0];
	unsigned long sections = m->nr_mem_sections;

	/*
	 * At boot: DMA32 (from 16 MiB) up to the first section boundary past a
	 * section's worth of pages, 256 MiB; the rest waits, its memmap unbacked.
	 */
	expect_u64_eq(pgdat->first_deferred_pfn, 2 * PAGES_PER_SECTION);
	expect_u64_eq(sections, 4);
	expect_false(test_bit(2, m->vmemmap_populated));
	expect_u64_eq(bits_set(ref->vmemmap_populated, sections), sections);
	/*
	 * The last RAM page holds NODE_DATA (memblock allocates top down). Its
	 * section is backed at boot only for the 32 unavailable pages past the
	 * end of RAM; the reserved page itself is not initialised yet.
	 */
	unsigned long last_pfn = pgdat_end_pfn(pgdat) - 1;
	expect_true(PageReserved(pfn_to_page(ref, last_pfn)));
	expect_false(PageReserved(pfn_to_page(m, last_pfn)));
	expect_u64_lt(total_managed(m) + PAGES_PER_SECTION, total_managed(ref));
	validate(m, "on demand, at boot");

	/* Allocate until every section is in: each growth step leaves a valid machine. */
	struct kmm_page **blocks = calloc(4096, sizeof(*blocks));
	expect_ptr_not_null(blocks);
	unsigned int nr = 0, grown = 0;
	unsigned long deferred = pgdat->first_deferred_pfn;
	expect_int_eq(kmm_cpu_enter(m, 0), 0);
	while (nr < 4096 && READ_ONCE(pgdat->first_deferred_pfn) != ~0UL) {
		blocks[nr] = kmm_alloc_pages(m, GFP_KERNEL | __GFP_NOWARN, MAX_PAGE_ORDER);
		if (!blocks[nr])
			break;
		/* The bytes are real: write the block's first and last word. */
		char *p = page_address(m, blocks[nr]);
		p[0] = 1;
		p[(PAGE_SIZE << MAX_PAGE_ORDER) - 1] = 2;
		nr++;
		if (pgdat->first_deferred_pfn != deferred) {
			deferred = pgdat->first_deferred_pfn;
			grown++;
			if (!validate(m, "on demand, grown"))
				break;
		}
	}
	expect_u64_eq(pgdat->first_deferred_pfn, ~0UL);
	printf("  %u blocks of 4 MiB allocated, %u growth steps\n", nr, grown);
	expect_u64_eq(grown, sections - 2);
	expect_u64_eq(total_managed(m), total_managed(ref));
	expect_u64_eq(bits_set(m->vmemmap_populated, sections), sections);
	expect_true(PageReserved(pfn_to_page(m, last_pfn)));
	for (unsigned int i = 0; i < nr; i++)
		kmm_free_pages(m, blocks[i], MAX_PAGE_ORDER);
	kmm_drain_all_pages(m);
	kmm_cpu_exit(m);
	free(blocks);
	validate(m, "on demand, freed");
	expect_u64_eq(kmm_nr_free_pages(m) + kmm_test_kernel_pages(m), total_managed(m));
	kmm_machine_destroy(m);
	kmm_machine_destroy(ref);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_dmesg_round_trip);
	run_test(test_default_machine);
	run_test(test_tiny_machines);
	run_test(test_bad_options);
	run_test(test_sysctl_errors);
	run_test(test_sysctl_other_layers);
	run_test(test_deferred_thread);
	run_test(test_deferred_on_demand);
	return kmm_test_done();
}
