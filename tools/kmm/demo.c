/*
 * kmm demo: the built-in scenario `make demo` runs. A database, a web
 * server forking workers and a batch job larger than free memory run on
 * the default machine's layout (2 nodes, 4 CPUs; 1 GiB so that pressure
 * comes within seconds) with a swap file in a temporary directory, while
 * the kernel churns dentries, inodes and network buffers. Prints what
 * happened, the main figures and where report.html is.
 *
 * When the kernel has no page to give a fault (no reclaim to make room),
 * the fault is counted and the task goes on with its next operation, so
 * the demo finishes either way; with reclaim, kswapd and swap do the work.
 */
#include "simargs.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
static const char demo_workload[] =
	"# kmm demo: a small server machine. A database keeps a table in anonymous\n"
	"# memory, a web server maps its site from a file and forks a worker per\n"
	"# burst of requests, the kernel allocates dentries, inodes and network\n"
	"# buffers; then a batch job asks for more memory than is free, so that\n"
	"# kswapd reclaims and pages go to swap.\n"
	"machine --mem 1G --nodes 2 --cpus 4\n"
	"seed 42\n"
	"swap demo-swap size=512M\n"
	"file site size=64M\n"
	"\n"
	"spawn db cpu=1 node=1\n"
	"spawn web cpu=2\n"
	"kmem_cache_create dentry size=192 hwcache_align\n"
	"kmem_cache_create inode size=600\n"
	"\n"
	"phase start\n"
	"  db: mmap table 192M\n"
	"  db: touch table write seq\n"
	"  web: mmap site 64M file=site shared prot=r\n"
	"  web: touch site read zipf(0.9) count=20000\n"
	"  kmem_cache_alloc dentries cache=dentry count=20000 cpu=3\n"
	"  kmem_cache_alloc inodes cache=inode count=5000 cpu=3\n"
	"end\n"
	"\n"
	"phase serve\n"
	"  repeat 8\n"
	"    web: fork worker cpu=3\n"
	"    worker: mmap heap 32M\n"
	"    worker: touch heap write random count=4000\n"
	"    worker: touch site read zipf(0.9) count=4000\n"
	"    db: touch table mixed(20%) zipf(1.1) count=20000\n"
	"    kmalloc skb size=choice(256:6,1024:3,4096:1) count=2000 gfp=GFP_ATOMIC cpu=2\n"
	"    churn dentries steps=5000 free=50% cpu=3\n"
	"    free skb count=1800 pick=random cpu=2\n"
	"    worker: exit\n"
	"  end\n"
	"end\n"
	"\n"
	"phase pressure\n"
	"  spawn batch cpu=0\n"
	"  batch: mmap buf 960M\n"
	"  batch: touch buf write seq\n"
	"  db: touch table read seq\n"
	"  batch: exit\n"
	"end\n"
	"\n"
	"phase stop\n"
	"  free skb\n"
	"  free dentries\n"
	"  free inodes\n"
	"  kmem_cache_destroy dentry\n"
	"  kmem_cache_destroy inode\n"
	"  web: exit\n"
	"  db: exit\n"
	"end\n";
/* clang-format on */

static void demo_usage(FILE *out)
{
	fprintf(out, "usage: kmm demo [--out DIR] [--print] [--quiet]\n\n"
		     "Runs the built-in scenario: on a machine of 1 GiB, 2 nodes and 4 CPUs with\n"
		     "a 512 MiB swap file, a database and a web server map, touch, fork and exit\n"
		     "while the kernel churns slab objects; then a batch job asks for more memory\n"
		     "than is free. Prints a summary and the path of report.html.\n\n"
		     "  --out DIR   write the output directory there (default: a new directory\n"
		     "              under $TMPDIR or /tmp, kept for the report)\n"
		     "  --print     print the scenario (a workload, docs/workloads.md) and stop\n"
		     "  --quiet     print only the path of the report\n\n"
		     "Exit status: 0 ok, 1 the run failed, 2 a bad command line.\n");
}

int cmd_demo(int argc, char **argv)
{
	const char *out_dir = NULL;
	bool quiet = false;
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			demo_usage(stdout);
			return KMM_EXIT_OK;
		} else if (!strcmp(argv[i], "--print")) {
			fputs(demo_workload, stdout);
			return KMM_EXIT_OK;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out_dir = argv[++i];
		} else {
			cli_error("unknown option '%s' (try 'kmm demo --help')", argv[i]);
			return KMM_EXIT_USAGE;
		}
	}
	char tmp[4096];
	if (!out_dir) {
		const char *t = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/kmm-demo-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(tmp)) {
			cli_error("cannot make a directory for the output in %s",
				  t && *t ? t : "/tmp");
			return KMM_EXIT_USAGE;
		}
		out_dir = tmp;
	}
	struct kmm_error err = {0};
	struct kmm_workload *w;
	if (kmm_workload_parse(demo_workload, strlen(demo_workload), "demo.kmm", &w, &err) ||
	    kmm_workload_check(w, &err)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_sim_opts o = {
	    .out_dir = out_dir,
	    .snapshot_every = 10,
	    .log = quiet ? NULL : stdout,
	    .progress = !quiet && isatty(STDOUT_FILENO),
	};
	struct kmm_sim_result res;
	if (!quiet)
		printf("kmm demo: 1 GiB, 2 nodes, 4 CPUs, a 512 MiB swap file; a database, a web\n"
		       "server forking 8 workers, slab churn, then a batch job larger than free "
		       "memory\n");
	fflush(stdout);
	int ret = kmm_workload_run(w, &o, &res, &err);
	kmm_workload_free(w);
	if (ret)
		return sim_args_exit(ret, &err);
	if (!quiet) {
		printf("\nsummary: %llu operations in %.1f s of simulation\n",
		       (unsigned long long)res.ops, res.seconds);
		printf("  tasks touched %llu pages and took %llu page faults (%llu major: file "
		       "pages read in)\n",
		       (unsigned long long)res.accesses, (unsigned long long)res.pgfault,
		       (unsigned long long)res.pgmajfault);
		printf("  the kernel allocated %llu slab objects (%llu bytes asked for)\n",
		       (unsigned long long)res.objects_allocated,
		       (unsigned long long)res.bytes_requested);
		printf("  reclaim scanned %llu pages and reclaimed %llu; %llu pages went to swap, "
		       "%llu came back\n",
		       (unsigned long long)res.pgscan, (unsigned long long)res.pgsteal,
		       (unsigned long long)res.pswpout, (unsigned long long)res.pswpin);
		if (res.oom_faults)
			printf("  %llu time%s a task found no free page%s\n",
			       (unsigned long long)res.oom_faults, res.oom_faults == 1 ? "" : "s",
			       res.pgsteal ? "" : " (nothing reclaimed memory for it)");
		printf("  %lu pages free at the end\n", res.free_pages_end);
	}
	printf("report: %s/report.html\n", out_dir);
	return KMM_EXIT_OK;
}
