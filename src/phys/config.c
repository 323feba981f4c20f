/*
 * Machine options: what `kmm boot`, workloads and tests use to describe the
 * machine to boot and the designs to boot it with.
 *
 * Linux counterpart: the kernel command line (mem=, movablecore=, ...), the
 * /proc/sys/vm tunables, and the build-time choices (memory model) that kmm
 * makes per machine instead.
 */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void kmm_config_init(struct kmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	kmm_desc_init(&cfg->desc);
	cfg->mem_bytes = 4 * KMM_SZ_1G;
	cfg->nodes = 2;
	cfg->cpus = 0;
	cfg->model = KMM_MODEL_SPARSEMEM_VMEMMAP;
	cfg->buddy = KMM_BUDDY_PAGEFLAG;
	cfg->deferred = KMM_DEFERRED_WAIT;
	cfg->min_free_kbytes = -1;
	cfg->watermark_scale_factor = -1;
	cfg->watermark_boost_factor = -1;
	cfg->percpu_pagelist_high_fraction = -1;
	for (int i = 0; i < MAX_NR_ZONES; i++)
		cfg->lowmem_reserve_ratio[i] = -1;
	cfg->thp = KMM_THP_ALWAYS;
	cfg->seed = 1;
}

const char *kmm_config_help(void)
{
	return "Machine options:\n"
	       "  --mem SIZE             RAM (default 4G); a QEMU-pc-like map with the\n"
	       "                         low-memory holes and, from 3.5G, the PCI hole\n"
	       "  --nodes N              NUMA nodes sharing the RAM equally (default 2)\n"
	       "  --cpus N               CPUs, split evenly over the nodes (default 4)\n"
	       "  --arch ARCH            x86_64 (DMA, DMA32, Normal, Movable) or\n"
	       "                         i386 (DMA, Normal, HighMem, Movable)\n"
	       "  --map FILE             memory map: one 'start end type [node]' per line\n"
	       "  --from-dmesg FILE      twin of the machine a Linux boot log describes\n"
	       "  --model MODEL          flat | sparse | vmemmap (default vmemmap)\n"
	       "  --buddy DESIGN         pageflag (modern) | bitmap (2.4 free_area map)\n"
	       "  --rmap DESIGN          objrmap (default) | ptechain\n"
	       "  --rmap-mem WHERE       ram (default) | host: where rmap's objects live\n"
	       "  --deferred-init MODE   wait (default) | thread | off | demand\n"
	       "  --movablecore SIZE|N%  memory for ZONE_MOVABLE\n"
	       "  --kernelcore SIZE|N%   memory not for ZONE_MOVABLE\n"
	       "  --mem-limit SIZE       use only this much RAM (Linux mem=)\n"
	       "  --kernel-image KIND    auto | none | debian61: kernel image reserved at 16M\n"
	       "  --thp MODE             always (Debian's default) | madvise | never\n"
	       "  --min-free-kbytes N    vm.min_free_kbytes (default: computed as Linux)\n"
	       "  --watermark-scale-factor N   vm.watermark_scale_factor (default 10)\n"
	       "  --watermark-boost-factor N   vm.watermark_boost_factor (default 15000)\n"
	       "  --lowmem-reserve-ratio 'A B ...'  vm.lowmem_reserve_ratio per zone\n"
	       "  --percpu-pagelist-high-fraction N  vm.percpu_pagelist_high_fraction\n"
	       "  --slub-debug FZPU[,CACHE]  slab debugging (Linux slub_debug=): F checks,\n"
	       "                         Z red zones, P poisoning, U owner tracking\n"
	       "  --swap FILE:SIZE[:PRIO]  swap on FILE after boot (repeatable): SIZE 0\n"
	       "                         uses an existing swap file (mkswap), else kmm\n"
	       "                         formats FILE with SIZE; PRIO as swapon -p\n"
	       "  --seed N               seed for everything random (default 1)\n"
	       "  --quiet                do not print the boot log\n";
}

static int parse_size_opt(const char *opt, const char *val, uint64_t *out, struct kmm_error *err);

/*
 * --swap FILE:SIZE[:PRIO]: a swap area for the boot sequence to switch on.
 * Fields are split from the right, so FILE may itself contain colons.
 */
static int parse_swap(const char *opt, const char *val, struct kmm_config *cfg,
		      struct kmm_error *err)
{
	struct kmm_swap_spec *s = &cfg->swap[cfg->nr_swap];
	if (cfg->nr_swap >= KMM_MAX_BOOT_SWAP)
		return kmm_error_set(err, -EINVAL, "%s %s: at most %d swap areas at boot", opt, val,
				     KMM_MAX_BOOT_SWAP);
	const char *c1 = strrchr(val, ':');
	if (!c1 || c1 == val)
		return kmm_error_set(err, -EINVAL, "%s %s: expected FILE:SIZE[:PRIO]", opt, val);
	const char *size_start = c1 + 1, *path_end = c1;
	long prio = -1;
	/* FILE:SIZE:PRIO when the last field is a plain integer after another field. */
	const char *c0 = c1;
	while (c0 > val && c0[-1] != ':')
		c0--;
	if (c0 > val + 1) {
		char *end;
		long v = strtol(c1 + 1, &end, 10);
		if (*end == '\0' && end != c1 + 1) {
			prio = v;
			size_start = c0;
			path_end = c0 - 1;
		}
	}
	char sizebuf[64];
	size_t slen = (size_t)((path_end == c1 ? val + strlen(val) : c1) - size_start);
	if (slen == 0 || slen >= sizeof(sizebuf))
		return kmm_error_set(err, -EINVAL, "%s %s: expected FILE:SIZE[:PRIO]", opt, val);
	memcpy(sizebuf, size_start, slen);
	sizebuf[slen] = '\0';
	size_t plen = (size_t)(path_end - val);
	if (plen >= sizeof(s->path))
		return kmm_error_set(err, -EINVAL, "%s: file name too long", opt);
	if (prio < -1 || prio > 32767)
		return kmm_error_set(err, -EINVAL,
				     "%s %s: priority %ld out of range (-1, or 0..32767)", opt, val,
				     prio);
	uint64_t size = 0;
	if (strcmp(sizebuf, "0") && parse_size_opt(opt, sizebuf, &size, err))
		return -EINVAL;
	memcpy(s->path, val, plen);
	s->path[plen] = '\0';
	s->size = size;
	s->prio = (int)prio;
	cfg->nr_swap++;
	return 0;
}

/*
 * --slub-debug FZPU[,cache]: the letters of Linux's slub_debug= that kmm
 * has (F consistency checks, Z red zones, P poisoning, U owner tracking;
 * '-' for none), optionally for one cache only. The slab allocator applies it.
 */
static int parse_slub_debug(const char *opt, const char *val, struct kmm_config *cfg,
			    struct kmm_error *err)
{
	size_t len = strlen(val);
	if (len >= sizeof(cfg->slub_debug))
		return kmm_error_set(err, -EINVAL, "%s '%s': too long (at most %zu characters)",
				     opt, val, sizeof(cfg->slub_debug) - 1);
	for (const char *p = val; *p && *p != ','; p++)
		if (!strchr("FZPU-fzpu", *p))
			return kmm_error_set(err, -EINVAL,
					     "%s '%s': unknown letter '%c' (expected F, Z, P, U or "
					     "'-', then optionally ,CACHE)",
					     opt, val, *p);
	const char *comma = strchr(val, ',');
	if (comma && !comma[1])
		return kmm_error_set(err, -EINVAL, "%s '%s': a cache name must follow the comma",
				     opt, val);
	memcpy(cfg->slub_debug, val, len + 1);
	return 0;
}

static int parse_int(const char *opt, const char *val, long lo, long hi, long *out,
		     struct kmm_error *err)
{
	char *end;
	long v;
	if (!val || !*val)
		return kmm_error_set(err, -EINVAL, "%s needs a number", opt);
	errno = 0;
	v = strtol(val, &end, 0);
	if (*end || errno)
		return kmm_error_set(err, -EINVAL, "%s: expected a number, found '%s'", opt, val);
	if (v < lo || v > hi)
		return kmm_error_set(err, -EINVAL, "%s %ld: must be between %ld and %ld", opt, v,
				     lo, hi);
	*out = v;
	return 0;
}

static int parse_size_opt(const char *opt, const char *val, uint64_t *out, struct kmm_error *err)
{
	if (!val || !kmm_parse_size(val, strlen(val), out))
		return kmm_error_set(err, -EINVAL,
				     "%s: expected a size like 4G, 512M or 0x1000, found '%s'", opt,
				     val ? val : "");
	return 0;
}

/* SIZE or N% (Linux cmdline_parse_core). */
static int parse_core(const char *opt, const char *val, uint64_t *bytes, unsigned int *percent,
		      struct kmm_error *err)
{
	size_t len = val ? strlen(val) : 0;
	if (len > 1 && val[len - 1] == '%') {
		uint64_t p;
		if (!kmm_parse_size(val, len - 1, &p) || p > 100)
			return kmm_error_set(err, -EINVAL, "%s %s: a percentage is 0%% to 100%%",
					     opt, val);
		*percent = (unsigned int)p;
		*bytes = 0;
		return 0;
	}
	*percent = 0;
	return parse_size_opt(opt, val, bytes, err);
}

/*
 * Read a --map or --from-dmesg file into a fresh description, then keep the
 * options the user gave on the command line (they override the log's).
 */
static int load_file_desc(struct kmm_config *cfg, const char *path, bool dmesg,
			  struct kmm_error *err)
{
	char *data;
	size_t len;
	char msg[300];
	int ret = kmm_port_read_file(path, &data, &len, msg, sizeof(msg));
	if (ret)
		return kmm_error_set(err, ret, "%s", msg);
	if (memchr(data, '\0', len)) {
		kmm_port_free_file(data, len);
		return kmm_error_set(err, -EINVAL, "%s: not a text file (contains NUL bytes)",
				     path);
	}
	struct kmm_machine_desc *tmp = kmm_port_alloc(sizeof(*tmp));
	if (!tmp) {
		kmm_port_free_file(data, len);
		return kmm_error_set(err, -ENOMEM, "%s: out of memory", path);
	}
	ret = dmesg ? kmm_desc_parse_dmesg(tmp, data, path, err)
		    : kmm_desc_parse_map(tmp, data, path, err);
	kmm_port_free_file(data, len);
	if (!ret) {
		struct kmm_machine_desc *d = &cfg->desc;
		struct kmm_machine_desc user = *d;
		*d = *tmp;
		if (!dmesg)
			d->arch = user.arch;
		if (user.mem_limit)
			d->mem_limit = user.mem_limit;
		if (user.movablecore || user.movablecore_percent) {
			d->movablecore = user.movablecore;
			d->movablecore_percent = user.movablecore_percent;
		}
		if (user.kernelcore || user.kernelcore_percent) {
			d->kernelcore = user.kernelcore;
			d->kernelcore_percent = user.kernelcore_percent;
		}
		if (user.kernel_image != KMM_KERNEL_AUTO)
			d->kernel_image = user.kernel_image;
		cfg->desc_given = true;
	}
	kmm_port_free(tmp, sizeof(*tmp));
	return ret;
}

int kmm_config_option(struct kmm_config *cfg, const char *opt, const char *val,
		      struct kmm_error *err)
{
	long v;
	int ret;
#define IS(name) (!strcmp(opt, name))
	if (IS("--quiet")) {
		cfg->quiet = true;
		return 1;
	}
	if (!IS("--mem") && !IS("--nodes") && !IS("--cpus") && !IS("--arch") && !IS("--map") &&
	    !IS("--from-dmesg") && !IS("--model") && !IS("--buddy") && !IS("--rmap") &&
	    !IS("--rmap-mem") && !IS("--deferred-init") && !IS("--movablecore") &&
	    !IS("--kernelcore") && !IS("--mem-limit") && !IS("--kernel-image") && !IS("--thp") &&
	    !IS("--min-free-kbytes") && !IS("--watermark-scale-factor") &&
	    !IS("--watermark-boost-factor") && !IS("--lowmem-reserve-ratio") &&
	    !IS("--percpu-pagelist-high-fraction") && !IS("--seed") && !IS("--slub-debug") &&
	    !IS("--swap"))
		return 0;
	if (!val)
		return kmm_error_set(err, -EINVAL, "%s needs a value", opt);

	if (IS("--mem"))
		ret = parse_size_opt(opt, val, &cfg->mem_bytes, err);
	else if (IS("--nodes")) {
		ret = parse_int(opt, val, 1, KMM_MAX_NUMNODES, &v, err);
		cfg->nodes = (int)v;
	} else if (IS("--cpus")) {
		ret = parse_int(opt, val, 1, KMM_MAX_CPUS, &v, err);
		cfg->cpus = (int)v;
	} else if (IS("--arch")) {
		ret = 0;
		if (!strcmp(val, "x86_64") || !strcmp(val, "x86-64"))
			cfg->desc.arch = KMM_ARCH_X86_64;
		else if (!strcmp(val, "i386") || !strcmp(val, "x86"))
			cfg->desc.arch = KMM_ARCH_I386;
		else
			ret =
			    kmm_error_set(err, -EINVAL, "--arch %s: expected x86_64 or i386", val);
	} else if (IS("--map"))
		ret = load_file_desc(cfg, val, false, err);
	else if (IS("--from-dmesg"))
		ret = load_file_desc(cfg, val, true, err);
	else if (IS("--model")) {
		ret = 0;
		if (!strcmp(val, "flat") || !strcmp(val, "flatmem"))
			cfg->model = KMM_MODEL_FLATMEM;
		else if (!strcmp(val, "sparse") || !strcmp(val, "sparsemem"))
			cfg->model = KMM_MODEL_SPARSEMEM;
		else if (!strcmp(val, "vmemmap") || !strcmp(val, "sparsemem-vmemmap") ||
			 !strcmp(val, "sparse-vmemmap"))
			cfg->model = KMM_MODEL_SPARSEMEM_VMEMMAP;
		else
			ret = kmm_error_set(err, -EINVAL,
					    "--model %s: expected flat, sparse or vmemmap", val);
	} else if (IS("--buddy")) {
		ret = 0;
		if (!strcmp(val, "pageflag") || !strcmp(val, "modern"))
			cfg->buddy = KMM_BUDDY_PAGEFLAG;
		else if (!strcmp(val, "bitmap") || !strcmp(val, "2.4"))
			cfg->buddy = KMM_BUDDY_BITMAP;
		else
			ret = kmm_error_set(err, -EINVAL, "--buddy %s: expected pageflag or bitmap",
					    val);
	} else if (IS("--rmap")) {
		ret = 0;
		if (!strcmp(val, "objrmap") || !strcmp(val, "object"))
			cfg->rmap_design = 0;
		else if (!strcmp(val, "ptechain") || !strcmp(val, "pte-chain"))
			cfg->rmap_design = 1;
		else
			ret = kmm_error_set(err, -EINVAL, "--rmap %s: expected objrmap or ptechain",
					    val);
	} else if (IS("--rmap-mem")) {
		ret = 0;
		if (!strcmp(val, "ram"))
			cfg->rmap_mem = 0;
		else if (!strcmp(val, "host"))
			cfg->rmap_mem = 1;
		else
			ret =
			    kmm_error_set(err, -EINVAL, "--rmap-mem %s: expected ram or host", val);
	} else if (IS("--deferred-init")) {
		ret = 0;
		if (!strcmp(val, "wait"))
			cfg->deferred = KMM_DEFERRED_WAIT;
		else if (!strcmp(val, "thread"))
			cfg->deferred = KMM_DEFERRED_THREAD;
		else if (!strcmp(val, "off"))
			cfg->deferred = KMM_DEFERRED_OFF;
		else if (!strcmp(val, "demand"))
			cfg->deferred = KMM_DEFERRED_ON_DEMAND;
		else
			ret = kmm_error_set(
			    err, -EINVAL,
			    "--deferred-init %s: expected wait, thread, off or demand", val);
	} else if (IS("--movablecore"))
		ret = parse_core(opt, val, &cfg->desc.movablecore, &cfg->desc.movablecore_percent,
				 err);
	else if (IS("--kernelcore")) {
		if (!strcmp(val, "mirror"))
			ret = kmm_error_set(err, -EINVAL,
					    "--kernelcore mirror: kmm does not simulate mirrored "
					    "memory; give a size or a percentage");
		else
			ret = parse_core(opt, val, &cfg->desc.kernelcore,
					 &cfg->desc.kernelcore_percent, err);
	} else if (IS("--mem-limit"))
		ret = parse_size_opt(opt, val, &cfg->desc.mem_limit, err);
	else if (IS("--kernel-image")) {
		ret = 0;
		if (!strcmp(val, "auto"))
			cfg->desc.kernel_image = KMM_KERNEL_AUTO;
		else if (!strcmp(val, "none"))
			cfg->desc.kernel_image = KMM_KERNEL_NONE;
		else if (!strcmp(val, "debian61"))
			cfg->desc.kernel_image = KMM_KERNEL_DEBIAN61;
		else
			ret = kmm_error_set(err, -EINVAL,
					    "--kernel-image %s: expected auto, none or debian61",
					    val);
	} else if (IS("--thp")) {
		ret = 0;
		cfg->thp_given = true;
		if (!strcmp(val, "always"))
			cfg->thp = KMM_THP_ALWAYS;
		else if (!strcmp(val, "madvise"))
			cfg->thp = KMM_THP_MADVISE;
		else if (!strcmp(val, "never"))
			cfg->thp = KMM_THP_NEVER;
		else
			ret = kmm_error_set(err, -EINVAL,
					    "--thp %s: expected always, madvise or never", val);
	} else if (IS("--slub-debug")) {
		ret = parse_slub_debug(opt, val, cfg, err);
	} else if (IS("--swap")) {
		ret = parse_swap(opt, val, cfg, err);
	} else if (IS("--min-free-kbytes")) {
		ret = parse_int(opt, val, 0, 1L << 30, &v, err);
		cfg->min_free_kbytes = (int)v;
	} else if (IS("--watermark-scale-factor")) {
		ret = parse_int(opt, val, 1, 3000, &v, err);
		cfg->watermark_scale_factor = (int)v;
	} else if (IS("--watermark-boost-factor")) {
		ret = parse_int(opt, val, 0, 1L << 30, &v, err);
		cfg->watermark_boost_factor = (int)v;
	} else if (IS("--percpu-pagelist-high-fraction")) {
		ret = parse_int(opt, val, 0, 1L << 30, &v, err);
		if (!ret && v != 0 && v < 8)
			ret = kmm_error_set(
			    err, -EINVAL, "%s %ld: must be 0 or at least 8 (as in Linux)", opt, v);
		cfg->percpu_pagelist_high_fraction = (int)v;
	} else if (IS("--lowmem-reserve-ratio")) {
		const char *p = val;
		int n = 0;
		ret = 0;
		while (*p && !ret) {
			char *end;
			while (*p == ' ' || *p == ',' || *p == '\t')
				p++;
			if (!*p)
				break;
			long r = strtol(p, &end, 10);
			if (end == p || r < 0 || r > 1L << 30 || n >= MAX_NR_ZONES)
				ret =
				    kmm_error_set(err, -EINVAL,
						  "--lowmem-reserve-ratio '%s': expected up to %d "
						  "non-negative numbers, one per zone",
						  val, MAX_NR_ZONES);
			else
				cfg->lowmem_reserve_ratio[n++] = (int)r;
			p = end;
		}
		cfg->lowmem_reserve_ratio_given = n;
	} else { /* --seed */
		char *end;
		errno = 0;
		cfg->seed = strtoull(val, &end, 0);
		ret = (*end || errno) ? kmm_error_set(err, -EINVAL,
						      "--seed: expected a number, found '%s'", val)
				      : 0;
	}
#undef IS
	return ret ? ret : 2;
}

int kmm_config_parse_args(struct kmm_config *cfg, int argc, char **argv, struct kmm_error *err)
{
	for (int i = 0; i < argc; i++) {
		char opt[64];
		const char *val = NULL;
		const char *eq = strchr(argv[i], '=');
		if (eq && (size_t)(eq - argv[i]) < sizeof(opt)) {
			memcpy(opt, argv[i], (size_t)(eq - argv[i]));
			opt[eq - argv[i]] = '\0';
			val = eq + 1;
		} else {
			kmm_port_snprintf(opt, sizeof(opt), "%s", argv[i]);
			val = i + 1 < argc ? argv[i + 1] : NULL;
		}
		int r = kmm_config_option(cfg, opt, val, err);
		if (r < 0)
			return r;
		if (r == 0)
			return kmm_error_set(err, -EINVAL, "unknown option '%s'", argv[i]);
		if (r == 2 && !eq)
			i++;
	}
	return 0;
}

int kmm_config_finish(struct kmm_config *cfg, struct kmm_error *err)
{
	struct kmm_machine_desc *d = &cfg->desc;
	int ret;
	if (!cfg->desc_given) {
		/* Keep the options that were set on the description before the layout. */
		struct kmm_machine_desc opts = *d;
		int cpus = cfg->cpus ? cfg->cpus : 4;
		ret = kmm_desc_qemu_pc(d, cfg->mem_bytes, cfg->nodes, cpus, opts.arch, err);
		if (ret)
			return ret;
		d->mem_limit = opts.mem_limit;
		d->movablecore = opts.movablecore;
		d->movablecore_percent = opts.movablecore_percent;
		d->kernelcore = opts.kernelcore;
		d->kernelcore_percent = opts.kernelcore_percent;
		d->kernel_image = opts.kernel_image;
	} else if (cfg->cpus && cfg->cpus != d->nr_cpus) {
		d->nr_cpus = cfg->cpus;
		for (int c = 0; c < d->nr_cpus; c++)
			d->cpu_node[c] = (short)((long)c * d->nr_nodes / d->nr_cpus);
	}
	if (d->thp_given && !cfg->thp_given) {
		cfg->thp = d->thp;
		cfg->thp_given = true;
	}
	return kmm_desc_validate(d, err);
}
