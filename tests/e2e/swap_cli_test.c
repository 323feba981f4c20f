/*
 * Swap from the command line, end to end: `kmm boot --swap FILE:SIZE[:PRIO]`
 * formats and switches on the file, `--show swaps` and `--show meminfo`
 * print it as Linux would, the boot log says "Adding ...k swap", a file
 * formatted in one run is used again with size 0 in the next, and a bad
 * file or option stops with a message naming it and a non-zero exit.
 */
#include "e2e/e2e_util.h"
#include "kmm_test.h"
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 16];
static char dir[64];

/* Run kmm with @args (stdout and stderr); returns the exit status, output in out[]. */
__attribute__((format(printf, 1, 2))) static int kmm(const char *fmt, ...)
{
	char args[1024], cmd[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", KMM, args);
	struct result r = e2e_run(cmd);
	snprintf(out, sizeof(out), "%s", r.out);
	free(r.out);
	return r.status;
}

static void test_boot_with_swap(void)
{
	expect_int_eq(kmm("boot --mem 128M --nodes 1 --swap %s/a.swap:16M:5 --swap %s/b.swap:8M "
			  "--show swaps --show meminfo",
			  dir, dir),
		      0);
	expect_str_contains(out, "Adding 16380k swap on ");
	expect_str_contains(out, "Priority:5 extents:1 across:16384k SS");
	expect_str_contains(out, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	expect_str_contains(out, "a.swap");
	expect_str_contains(out, "file\t\t16380\t\t0\t\t5\n");
	expect_str_contains(out, "file\t\t8188\t\t0\t\t-2\n");
	expect_str_contains(out, "SwapTotal:         24568 kB\n");
	expect_str_contains(out, "SwapFree:          24568 kB\n");
	expect_str_contains(out, "SwapCached:            0 kB\n");
	/* The next run uses the file as it is (size 0). */
	expect_int_eq(kmm("boot --mem 128M --nodes 1 --quiet --swap %s/a.swap:0 --show swaps", dir),
		      0);
	expect_str_contains(out, "file\t\t16380\t\t0\t\t-2\n");
}

static void test_bad_swap(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/notswap.txt", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 3000; i++)
		fputs("not a swap file\n", f);
	fclose(f);
	expect_int_eq(kmm("boot --mem 128M --quiet --swap %s:0", path), 1);
	expect_str_contains(out, path);
	expect_str_contains(out, "not a swap area");
	expect_int_eq(kmm("boot --mem 128M --quiet --swap %s:16M", path), 1);
	expect_str_contains(out, "does not overwrite");
	expect_int_eq(kmm("boot --mem 128M --quiet --swap %s/x.swap", dir), 2);
	expect_str_contains(out, "FILE:SIZE[:PRIO]");
	expect_int_eq(kmm("boot --mem 128M --quiet --swap %s/x.swap:16M:99999", dir), 2);
	expect_str_contains(out, "priority 99999 out of range");
	expect_int_eq(kmm("boot --mem 128M --quiet --swap %s/none/x.swap:0", dir), 1);
	expect_str_contains(out, "cannot open");
}

int main(int argc, char **argv)
{
	kmm_test_init(argc, argv);
	snprintf(dir, sizeof(dir), "/tmp/kmm-swap-cli-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	run_test(test_boot_with_swap);
	run_test(test_bad_swap);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 2;
	return kmm_test_done();
}
