/*
 * The workload language: the parser, the checker and the program they
 * build (src/sim/workload_*.c).
 *
 * A table of bad workloads, each with the exact message it must get
 * (file, line, column, what was expected, what was found), including
 * errors that only show in a later pass of a repeat block; a workload
 * using every statement, whose resolved program is compared line by line;
 * command-line overrides; what this version can and cannot run.
 */
#include "kmm_test.h"
#include "sim/workload.h"
#include <errno.h>

/* Parse and check @text as "w.kmm"; the first error's message, or "" if none. */
static const char *check_text(const char *text, size_t len, char *msg, size_t msglen)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	msg[0] = '\0';
	if (kmm_workload_parse(text, len, "w.kmm", &w, &err)) {
		snprintf(msg, msglen, "%s", err.msg);
		return msg;
	}
	if (kmm_workload_check(w, &err))
		snprintf(msg, msglen, "%s", err.msg);
	kmm_workload_free(w);
	return msg;
}

static const struct bad {
	const char *text;
	size_t len;
	const char *msg;
} bad[] = {
    {"mmap heap 4M", 12,
     "w.kmm:1:1: expected TASK: before 'mmap' (a task operation), found 'mmap' alone"},
    {"foo bar", 7,
     "w.kmm:1:1: expected a statement (machine, seed, swap, file, variant, spawn, phase, repeat, "
     "end, alloc_pages, kmalloc, kmem_cache_create, kmem_cache_alloc, kmem_cache_destroy, free, "
     "churn, sysctl, drain, validate, snapshot, echo) or TASK: OPERATION, found 'foo'"},
    {"web: mmap heap 4M", 17,
     "w.kmm:1:1: expected a running task, found 'web' (spawn or fork it first)"},
    {"spawn web\nweb: mmap heap 4000", 29,
     "w.kmm:2:16: expected a size such as 64M (at least 4K, at most 128T), found '4000'"},
    {"spawn web\nweb: touch heap read", 30,
     "w.kmm:2:12: expected a region mapped in task 'web', found 'heap' (mmap it first)"},
    {"spawn web\nweb: mmap heap 4M prot=r\nweb: touch heap write", 56,
     "w.kmm:3:12: expected writable memory for a write, found heap[0..4M] with prot=r"},
    {"spawn web\nweb: mmap heap 4M\nweb: munmap heap[1M..2M]\nweb: touch heap read", 73,
     "w.kmm:4:12: expected mapped memory for a read, found a hole in heap at 1M"},
    {"spawn web\nweb: mmap heap 4M\nweb: touch heap[0..8M] read", 55,
     "w.kmm:3:12: expected a range inside 'heap' (0..4M), found heap[0..8M]"},
    {"repeat 3\n  spawn t\nend", 22,
     "w.kmm:2:9: expected a name that no running task has, found 't' (running since line 2), in "
     "pass 2 of the repeat at line 1"},
    {"phase a\n  alloc_pages p\n", 24,
     "w.kmm:3:1: expected 'end' to close the phase at line 1, found end of file"},
    {"end", 3, "w.kmm:1:1: expected a statement, found 'end' with no open phase or repeat"},
    {"alloc_pages p order=11", 22, "w.kmm:1:21: expected an order from 0 to 10, found '11'"},
    {"kmalloc k size=uniform(64,8)", 28,
     "w.kmm:1:27: expected an upper bound of at least 64, found '8'"},
    {"alloc_pages p\nkmalloc p size=64", 31,
     "w.kmm:2:9: expected a pool for objects from kmalloc, found 'p', which holds pages from "
     "alloc_pages (line 1)"},
    {"free p", 6,
     "w.kmm:1:6: expected a pool an allocation has filled, found 'p' (no alloc_pages, kmalloc or "
     "kmem_cache_alloc into it before)"},
    {"alloc_pages p cpu=9", 19,
     "w.kmm:1:19: expected a CPU from 0 to 3 (the machine has 4), found 9"},
    {"machine --mem 4Q", 16,
     "w.kmm:1:9: --mem: expected a size like 4G, 512M or 0x1000, found '4Q'"},
    {"machine --bogus 1", 17,
     "w.kmm:1:9: expected a machine option of kmm boot (--mem, --nodes, --cpus, --arch, --map, "
     "--from-dmesg, --model, --buddy, ...), found '--bogus'"},
    {"alloc_pages p\nmachine --mem 1G", 30,
     "w.kmm:2:1: expected an operation, found 'machine' (setup statements come before the first "
     "operation, line 1)"},
    {"seed 1\nseed 2", 13, "w.kmm:2:1: expected one seed statement, found a second (line 1)"},
    {"alloc_pages p gfp=GFP_DMA|__GFP_HIGHMEM", 39,
     "w.kmm:1:19: expected a GFP mask with at most one of __GFP_DMA, __GFP_DMA32 and "
     "__GFP_HIGHMEM, found 'GFP_DMA|__GFP_HIGHMEM'"},
    {"spawn web\nweb: mmap heap 4M anon file=f", 39,
     "w.kmm:2:24: expected anon or file=FILE, found both"},
    {"kmem_cache_create c size=64\nkmem_cache_alloc p cache=c count=10\nkmem_cache_destroy c", 84,
     "w.kmm:3:20: expected cache 'c' without live objects, found pool 'p' that may hold some (free "
     "p all before)"},
    {"echo hello", 10, "w.kmm:1:6: expected a \"quoted text\", found 'hello'"},
    {"spawn web\nweb: mmap heap 4M\nweb: touch heap read zipf(0)", 56,
     "w.kmm:3:27: expected a zipf exponent above 0 and at most 10, such as 1.1, found '0'"},
    {"sysctl watermark_scale_factor=0", 31,
     "w.kmm:1:31: expected watermark_scale_factor from 1 to 3000, found '0'"},
    {"sysctl foo=1", 12,
     "w.kmm:1:8: expected a tunable (min_free_kbytes, watermark_scale_factor, "
     "watermark_boost_factor, percpu_pagelist_high_fraction, lowmem_reserve_ratio, "
     "transparent_hugepage/enabled, max_map_count, mmap_min_addr, stack_guard_gap, "
     "fault_around_bytes, dirty_ratio, dirty_background_ratio, swappiness or page-cluster), found "
     "'foo'"},
    {"sysctl swappiness=201", 21, "w.kmm:1:19: expected swappiness from 0 to 200, found '201'"},
    {"sysctl fault_around_bytes=12288", 31,
     "w.kmm:1:27: expected fault_around_bytes as a power of two from 4096 to 262144, found "
     "'12288'"},
    {"alloc_pages p count=0", 21, "w.kmm:1:21: expected a count from 1 to 2^40, found '0'"},
    {"echo \"unterminated", 18,
     "w.kmm:1:6: expected a closing '\"' before the end of the line, found end of file"},
    {"alloc_pages p order=1 order=2", 29,
     "w.kmm:1:23: expected each option once, found a second 'order'"},
    {"spawn a\na: fork a", 17,
     "w.kmm:2:9: expected a child name other than the parent's, found 'a'"},
    {"spawn a\na: exit\na: exec", 23,
     "w.kmm:3:1: expected a running task, found 'a', which exited at line 2"},
    {"variant buddy=pageflag,buddy3", 29,
     "w.kmm:1:24: --buddy buddy3: expected pageflag or bitmap"},
    {"spawn web\nweb: mmap brk 4M", 26,
     "w.kmm:2:11: expected a region name other than 'brk' (the heap that brk sizes), found 'brk'"},
    {"alloc_pages p\0", 14,
     "w.kmm:1:14: expected a name, a number, a \"string\" or one of : = , ( ) [ ] ..; found "
     "'\\x00'"},
    {"12abc", 5, "w.kmm:1:1: expected a number such as 64, 4K, 0x1000 or 1.5, found '12abc'"},
    {"repeat 2\n  spawn t\n  t: exit\nend\nt: exit", 40,
     "w.kmm:5:1: expected a running task, found 't', which exited at line 3"},
    {"spawn t node=5", 14, "w.kmm:1:14: expected a node from 0 to 1 (the machine has 2), found 5"},
    {"spawn t\nt: mmap a 8K\nt: mprotect a[0..4K] r\nt: touch a write", 60,
     "w.kmm:4:10: expected writable memory for a write, found a[0..4K] with prot=r"},
    {"phase a\nphase b\nend\nend", 23,
     "w.kmm:2:1: expected a phase outside other blocks, found one inside the phase at line 1"},
    {"swap s0 size=8K", 15,
     "w.kmm:1:14: expected a swap size of at least 40K (mkswap's 10 pages), found '8K'"},
    {"file f size=64M\nspawn t\nt: mmap m 128M file=f", 45,
     "w.kmm:3:4: expected a mapping inside file 'f' (64M), found offset 0 + size 128M"},
    {"file f size=64M\nspawn t\nt: write f[32M..128M]", 0,
     "w.kmm:3:10: expected a range inside file 'f' (64M), found 32M..128M"},
    {"file f size=64M\nspawn t\nt: read g", 0,
     "w.kmm:3:9: expected a file declared with 'file NAME size=SIZE', found 'g'"},
    {"file f size=64M\nspawn t\nt: read f chunk=5K", 0,
     "w.kmm:3:17: expected a multiple of the page size (4K), found '5K'"},
    {"file f size=64M\nspawn t\nt: write f[4M..2M]", 0,
     "w.kmm:3:10: expected a range inside file 'f' (64M), found 4M..2M"},
    {"file f size=64M\nspawn t\nt: write f fast", 0,
     "w.kmm:3:12: expected chunk=SIZE or end of line, found 'fast'"},
    {"file f size=64M\nt: read f", 0,
     "w.kmm:2:1: expected a running task, found 't' (spawn or fork it first)"},
    {"machine --from-dmesg nonexistent.log", 36,
     "w.kmm:1:9: nonexistent.log: cannot open: No such file or directory"},
    {"spawn web\nweb: mmap heap 4M\nweb: touch heap[2M..1M] read", 56,
     "w.kmm:3:21: expected an end above the start of the range, found '1M'"},
    {"spawn web\nweb: touch", 20, "w.kmm:2:11: expected a region name, found end of file"},
    {"alloc_pages p order=choice(0:5,1:)", 34,
     "w.kmm:1:34: expected a weight from 1 to 10^9, found ')'"},
    {"spawn w\nrepeat 2\n w: mmap a 4M\nend", 34,
     "w.kmm:3:10: expected a region name not mapped in task 'w', found 'a' (munmap it first), in "
     "pass 2 of the repeat at line 2"},
    {"spawn w\nw: brk 8M\nw: touch brk[0..16M] write", 44,
     "w.kmm:3:10: expected a range inside 'brk' (0..8M), found brk[0..16M]"},
    {"spawn w\nw: touch brk read", 25,
     "w.kmm:2:10: expected a region mapped in task 'w', found 'brk' (no brk made a heap yet)"},
    {"alloc_pages p @", 15,
     "w.kmm:1:15: expected a name, a number, a \"string\" or one of : = , ( ) [ ] ..; found '@'"},
    {"spawn w\nw: mmap a 4M\nw: madvise a bogus", 39,
     "w.kmm:3:14: expected an advice (normal, random, sequential, willneed, dontneed, free, "
     "remove, cold, pageout, hugepage, nohugepage, populate_read or populate_write), found "
     "'bogus'"},
    {"spawn w\nw: mmap a 4M\nw: mlock a onfalt", 38,
     "w.kmm:3:12: expected onfault or end of line, found 'onfalt'"},
    {"spawn w\nw: mlockall onfault", 27,
     "w.kmm:2:13: expected current or future with onfault (mlockall(MCL_ONFAULT) alone is EINVAL), "
     "found onfault alone"},
    {"spawn w\nw: mlockall future future", 33,
     "w.kmm:2:20: expected each of current, future or onfault once, found 'future' twice"},
    {"spawn w\nw: mlockall", 19,
     "w.kmm:2:12: expected current, future or onfault, found end of file"},
    {"spawn w\nw: munlockall now", 25,
     "w.kmm:2:15: expected end of line after the operation, found 'now'"},
    {"spawn w\nw: mmap a 4M\nw: munlock a[0..8M]", 40,
     "w.kmm:3:12: expected a range inside 'a' (0..4M), found a[0..8M]"},
    {"spawn w\nw: mmap a 4M\nw: touch a mixed(150%)", 43,
     "w.kmm:3:18: expected a percentage from 0% to 100%, found '150%'"},
    {"spawn w\nw: mmap a 4M\nw: touch a read stride(8M)", 47,
     "w.kmm:3:10: expected a stride of at most the range's 4M, found stride(8M)"},
    {"churn p steps=10", 16,
     "w.kmm:1:7: expected a pool an allocation has filled, found 'p' (no alloc_pages, kmalloc or "
     "kmem_cache_alloc into it before)"},
    {"alloc_pages p\nchurn p", 21, "w.kmm:2:1: expected steps=N for churn, found none"},
    {"kmem_cache_alloc p cache=nope", 29,
     "w.kmm:1:26: expected a cache made by kmem_cache_create, found 'nope'"},
    {"spawn w cpu=1 cpu=2", 19, "w.kmm:1:15: expected each option once, found a second 'cpu'"},
    {"kmem_cache_create kmalloc-64 size=64\n", 0,
     "w.kmm:1:19: expected a cache name the slab allocator does not use itself (kmalloc-*, "
     "dma-kmalloc-*, kmem_cache, kmem_cache_node), found 'kmalloc-64'"},
    {"alloc_pages p\nkmem_cache_create c size=64\nkmem_cache_alloc p cache=c\n", 0,
     "w.kmm:3:18: expected a pool for objects from kmem_cache_alloc, found 'p', which holds "
     "pages from alloc_pages (line 1)"},
    /* Fails only in pass 3: r gets x from q, which lost it in pass 1. */
    {"spawn p\nspawn q\nq: mmap x 8K\nspawn r\nr: mmap x 8K\nrepeat 5\n  r: touch x read\n"
     "  r: exit\n  q: fork r\n  q: exit\n  p: fork q\nend\n",
     0,
     "w.kmm:7:12: expected a region mapped in task 'r', found 'x', unmapped at line 8, in pass "
     "3 of the repeat at line 6"},
};

static void test_bad_workloads(void)
{
	char msg[600];
	int failed = 0;
	for (size_t i = 0; i < KMM_ARRAY_SIZE(bad); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		check_text(bad[i].text, len, msg, sizeof(msg));
		if (strcmp(msg, bad[i].msg)) {
			fprintf(stderr, "case %zu:\n  got:      \"%s\"\n  expected: \"%s\"\n", i,
				msg, bad[i].msg);
			failed++;
		}
	}
	expect_int_eq(failed, 0);
}

/* Every statement of the language, in one workload. */
static const char full[] = "machine --mem 512M --nodes 2 --cpus 4\n"
			   "seed 42\n"
			   "swap sw size=64M prio=5\n"
			   "variant buddy=pageflag,bitmap\n"
			   "file data size=16M\n"
			   "spawn web cpu=1 node=0\n"
			   "phase setup\n"
			   "  web: mmap heap 8M\n"
			   "  web: mmap db 16M file=data shared prot=r populate\n"
			   "  web: brk 1M\n"
			   "  web: mprotect heap[4M..8M] r\n"
			   "  web: madvise heap[0..4M] hugepage\n"
			   "  web: touch heap[0..4M] write seq\n"
			   "  web: touch db read zipf(1.2) count=1000\n"
			   "  web: touch brk mixed(25%) stride(8K)\n"
			   "  web: touch heap read loop(3)\n"
			   "  web: write data[4M..8M] chunk=64K\n"
			   "  web: read data\n"
			   "end\n"
			   "repeat 4\n"
			   "  web: fork kid cpu=2\n"
			   "  kid: touch heap[..2M] write random count=10\n"
			   "  kid: exec\n"
			   "  kid: exit\n"
			   "end\n"
			   "kmem_cache_create dentry size=192 align=8 hwcache_align\n"
			   "kmem_cache_alloc d cache=dentry count=100 cpu=3\n"
			   "kmalloc k size=pow2(8,4096) count=50 gfp=GFP_ATOMIC\n"
			   "alloc_pages p order=exp(1.5) count=10 node=1\n"
			   "churn p steps=100 free=30%\n"
			   "free d all\n"
			   "free k count=10 pick=lifo\n"
			   "kmem_cache_destroy dentry\n"
			   "web: munmap heap\n"
			   "sysctl watermark_scale_factor=200\n"
			   "drain\n"
			   "validate\n"
			   "snapshot \"x\"\n"
			   "echo \"done\"\n";

/* What it resolves to: slots, fork pairs, defaults, block links. */
static const char full_dump[] =
    "workload w.kmm: 34 operations, 2 tasks, 6 regions, 3 pools\n"
    "machine: 523775 KiB of RAM, 2 nodes, 4 CPUs, model vmemmap, buddy pageflag\n"
    "seed 42\n"
    "variant buddy=pageflag,bitmap\n"
    "swap sw size=0x4000000 prio=5\n"
    "file data size=0x1000000\n"
    "0 6:1 spawn task=web#0 cpu=1 node=0\n"
    "1 7:1 phase setup end=13\n"
    "2 8:8 mmap task=web#0 region=heap#0 size=0x800000 anon private prot=rw\n"
    "3 9:8 mmap task=web#0 region=db#1 size=0x1000000 file=data offset=0 shared prot=r populate\n"
    "4 10:8 brk task=web#0 region=brk#2 size=0x100000\n"
    "5 11:8 mprotect task=web#0 region=heap#0[0x400000..0x800000] prot=r\n"
    "6 12:8 madvise task=web#0 region=heap#0[0..0x400000] hugepage\n"
    "7 13:8 touch task=web#0 region=heap#0[0..0x400000] write seq\n"
    "8 14:8 touch task=web#0 region=db#1 read zipf(1.2) count=1000\n"
    "9 15:8 touch task=web#0 region=brk#2 mixed(25%) stride(0x2000)\n"
    "10 16:8 touch task=web#0 region=heap#0 read loop(3)\n"
    "11 17:8 write task=web#0 file=data#0[0x400000..0x800000] chunk=0x10000\n"
    "12 18:8 read task=web#0 file=data#0[0..0x1000000] chunk=0x100000\n"
    "13 19:1 end begin=1\n"
    "14 20:1 repeat 4 end=19\n"
    "15 21:8 fork task=web#0 child=kid#1 cpu=2 copies=0>3,1>4,2>5\n"
    "16 22:8 touch task=kid#1 region=heap#3[0..0x200000] write random count=10\n"
    "17 23:8 exec task=kid#1\n"
    "18 24:8 exit task=kid#1\n"
    "19 25:1 end begin=14\n"
    "20 26:1 kmem_cache_create cache=dentry#0 size=192 align=8 hwcache_align cpu=0\n"
    "21 27:1 kmem_cache_alloc pool=d#0 cache=dentry#0 count=100 gfp=GFP_KERNEL node=-1 cpu=3\n"
    "22 28:1 kmalloc pool=k#1 size=pow2(8,4096) count=50 gfp=GFP_ATOMIC node=-1 cpu=0\n"
    "23 29:1 alloc_pages pool=p#2 order=exp(1.5) count=10 gfp=GFP_KERNEL node=1 cpu=0\n"
    "24 30:1 churn pool=p#2 steps=100 free=30% cpu=0\n"
    "25 31:1 free pool=d#0 all pick=fifo cpu=0\n"
    "26 32:1 free pool=k#1 count=10 pick=lifo cpu=0\n"
    "27 33:1 kmem_cache_destroy cache=dentry#0 cpu=0\n"
    "28 34:6 munmap task=web#0 region=heap#0\n"
    "29 35:1 sysctl watermark_scale_factor=\"200\"\n"
    "30 36:1 drain\n"
    "31 37:1 validate\n"
    "32 38:1 snapshot \"x\"\n"
    "33 39:1 echo \"done\"\n";

static void test_full_workload(void)
{
	struct kmm_error err = {0};
	struct kmm_workload *w;
	struct kmm_buf b;
	expect_int_eq(kmm_workload_parse(full, strlen(full), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	kmm_buf_init(&b);
	kmm_workload_dump(w, &b);
	expect_str_eq(b.data, full_dump);
	kmm_buf_free(&b);
	/* Everything runs in this version but MADV_HUGEPAGE (no huge pages yet). */
	expect_int_eq(kmm_workload_supported(w, &err), -ENOSYS);
	expect_str_eq(err.msg, "w.kmm:12:8: not supported yet: madvise hugepage (needs transparent "
			       "huge pages)");
	kmm_workload_free(w);
}

/* The first operation this version cannot run, and which layer it waits for. */
static void test_not_supported_yet(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"alloc_pages p\nspawn t\n", ""},
	    {"spawn t\nt: mmap a 1M\nt: madvise a populate_write\nt: madvise a cold\n"
	     "t: madvise a pageout\nt: madvise a hugepage\n",
	     "w.kmm:6:4: not supported yet: madvise hugepage (needs transparent huge pages)"},
	    {"spawn t\nt: mmap a 1M\nt: madvise a dontneed\nt: madvise a free\n", ""},
	    {"kmem_cache_create c size=64\nkmem_cache_alloc p cache=c\nkmalloc k size=64\n", ""},
	    {"alloc_pages p order=uniform(0,3) count=4\nfree p\nvalidate\n", ""},
	};
	for (size_t i = 0; i < KMM_ARRAY_SIZE(cases); i++) {
		struct kmm_error err = {0};
		struct kmm_workload *w;
		expect_int_eq(
		    kmm_workload_parse(cases[i].text, strlen(cases[i].text), "w.kmm", &w, &err), 0);
		expect_int_eq(kmm_workload_check(w, &err), 0);
		int ret = kmm_workload_supported(w, &err);
		expect_int_eq(ret, cases[i].msg[0] ? -ENOSYS : 0);
		if (ret)
			expect_str_eq(err.msg, cases[i].msg);
		kmm_workload_free(w);
	}
}

/* Command-line machine options apply after the workload's machine lines. */
static void test_overrides(void)
{
	static const char text[] = "machine --cpus 8 --nodes 2 --mem 1G\nalloc_pages p cpu=6\n";
	struct kmm_error err = {0};
	struct kmm_workload *w;
	expect_int_eq(kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_int_eq(kmm_workload_config(w)->desc.nr_cpus, 8);
	/* Fewer CPUs on the command line: the same workload no longer fits. */
	expect_int_eq(kmm_workload_machine_option(w, "--cpus", "4", &err), 2);
	expect_int_eq(kmm_workload_check(w, &err), -EINVAL);
	expect_str_eq(err.msg,
		      "w.kmm:2:19: expected a CPU from 0 to 3 (the machine has 4), found 6");
	expect_int_eq(kmm_workload_machine_option(w, "--cpus", "1", &err), 2);
	expect_int_eq(kmm_workload_check(w, &err), -EINVAL);
	expect_str_eq(err.msg, "w.kmm:2:19: expected CPU 0 (the machine has one CPU), found 6");
	/* A machine that cannot be described is reported at the machine line. */
	expect_int_eq(kmm_workload_machine_option(w, "--nodes", "64", &err), 2);
	expect_int_eq(kmm_workload_machine_option(w, "--mem", "64M", &err), 2);
	expect_int_eq(kmm_workload_check(w, &err), -EINVAL);
	expect_true(!strncmp(err.msg, "w.kmm:1:1: the machine: ", 24));
	kmm_workload_free(w);
}

/*
 * A machine from a real Linux boot log, named relative to the workload's
 * directory: the twin has the log's nodes and CPUs, and the checker holds
 * the workload to them.
 */
static void test_machine_from_dmesg(void)
{
	static const char log[] = KMM_ORACLE_DIR "/linux-6.1/e_4G_numa2/dmesg.txt";
	FILE *f = fopen(log, "r");
	if (!f) {
		printf("  skipped: no Linux 6.1 boot log at %s\n", log);
		return;
	}
	fclose(f);
	/* "w.kmm" in the oracle directory, naming the log relative to it. */
	static const char text[] = "machine --from-dmesg linux-6.1/e_4G_numa2/dmesg.txt\n"
				   "alloc_pages p node=1 cpu=1\n";
	struct kmm_error err = {0};
	struct kmm_workload *w;
	expect_int_eq(kmm_workload_parse(text, strlen(text), KMM_ORACLE_DIR "/w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_int_eq(kmm_workload_config(w)->desc.nr_nodes, 2);
	expect_true(kmm_workload_config(w)->desc_given);
	kmm_workload_free(w);
	/* The same line from elsewhere does not find the log, and says where it looked. */
	expect_int_eq(kmm_workload_parse(text, strlen(text), "/nonexistent/w.kmm", &w, &err),
		      -EINVAL);
	expect_str_contains(err.msg, "/nonexistent/w.kmm:1:9: /nonexistent/linux-6.1/e_4G_numa2/");
}

/* Lexical corners: ';', comments, CRLF, strings, ranges, suffixes. */
static void test_lexical(void)
{
	static const char text[] = "# a comment line\r\n"
				   "seed 0x10 # trailing comment\r\n"
				   "alloc_pages a order=1 ; alloc_pages b count=2K;free a\r\n"
				   "echo \"tab\\there \\\"quoted\\\" \\\\ #not a comment\"\n"
				   "repeat 1099511627776\n  churn b steps=1 free=100%\nend\n";
	struct kmm_error err = {0};
	struct kmm_workload *w;
	expect_int_eq(kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	const struct wl_program *p = &w->p;
	expect_u64_eq(p->seed, 16);
	expect_u64_eq(p->nops, 7);
	expect_int_eq(p->ops[1].kind, WL_OP_ALLOC_PAGES);
	expect_u64_eq(p->ops[1].u.alloc.count, 2048);
	expect_int_eq(p->ops[1].loc.line, 3);
	expect_int_eq(p->ops[1].loc.col, 25);
	expect_int_eq(p->ops[2].kind, WL_OP_FREE);
	expect_str_eq(p->ops[3].u.echo.text, "tab\there \"quoted\" \\ #not a comment");
	expect_u64_eq(p->ops[4].u.repeat.count, 1ULL << 40);
	expect_u64_eq(p->ops[4].u.repeat.end, 6);
	expect_u64_eq(p->ops[6].u.end.begin, 4);
	kmm_workload_free(w);

	/* An empty workload is a valid one that does nothing. */
	expect_int_eq(kmm_workload_parse("", 0, "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	expect_u64_eq(w->p.nops, 0);
	kmm_workload_free(w);
}

/* Ranges and the default counts they give the executor. */
static void test_ranges(void)
{
	static const char text[] = "spawn t\nt: mmap a 16M\nt: touch a[4M..] read\n"
				   "t: touch a[..8K] write\nt: touch a[0x1000..0x3000] read\n"
				   "t: munmap a[12M..16M]\nt: touch a[..12M] read\n";
	struct kmm_error err = {0};
	struct kmm_workload *w;
	expect_int_eq(kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err), 0);
	expect_int_eq(kmm_workload_check(w, &err), 0);
	const struct wl_op *ops = w->p.ops;
	expect_u64_eq(ops[2].u.touch.range.start, 4 << 20);
	expect_true(ops[2].u.touch.range.open_end);
	expect_u64_eq(ops[3].u.touch.range.start, 0);
	expect_u64_eq(ops[3].u.touch.range.end, 8192);
	expect_false(ops[3].u.touch.range.open_end);
	expect_u64_eq(ops[4].u.touch.range.start, 0x1000);
	expect_u64_eq(ops[4].u.touch.range.end, 0x3000);
	kmm_workload_free(w);
}

/* Distributions draw what they say. */
static void test_distributions(void)
{
	static const char text[] = "alloc_pages a order=choice(0:3,2:1)\n"
				   "kmalloc b size=pow2(24,300)\nkmalloc c size=exp(100)\n"
				   "kmalloc d size=uniform(10,12)\n";
	struct kmm_error err = {0};
	struct kmm_workload *w;
	struct kmm_rng rng;
	uint64_t n[4] = {0};
	expect_int_eq(kmm_workload_parse(text, strlen(text), "w.kmm", &w, &err), 0);
	kmm_rng_seed(&rng, kmm_test_seed);
	const struct wl_op *ops = w->p.ops;
	for (int i = 0; i < 4000; i++) {
		uint64_t o = wl_dist_sample(ops[0].u.alloc.dist, &rng);
		expect_true(o == 0 || o == 2);
		n[o]++;
		uint64_t s = wl_dist_sample(ops[1].u.alloc.dist, &rng);
		expect_true(s == 32 || s == 64 || s == 128 || s == 256);
		uint64_t e = wl_dist_sample(ops[2].u.alloc.dist, &rng);
		expect_true(e >= 1 && e <= WL_KMALLOC_MAX);
		uint64_t u = wl_dist_sample(ops[3].u.alloc.dist, &rng);
		expect_true(u >= 10 && u <= 12);
	}
	/* 3:1 weights: order 0 about three times as often (4000 draws, 6 sigma). */
	expect_u64_ge(n[0], 3000 - 165);
	expect_u64_le(n[0], 3000 + 165);
	kmm_workload_free(w);
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	run_test(test_bad_workloads);
	run_test(test_full_workload);
	run_test(test_not_supported_yet);
	run_test(test_overrides);
	run_oracle_test(test_machine_from_dmesg);
	run_test(test_lexical);
	run_test(test_ranges);
	run_test(test_distributions);
	return kmm_test_done();
}
