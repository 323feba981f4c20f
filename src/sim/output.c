/*
 * The simulator's output directory: directories made as needed and the
 * /proc views of a snapshot (proc/NNNN/), shared by workload runs
 * (exec.c) and trace replays (replay.c).
 *
 * Linux counterpart: the files of /proc that describe memory
 * (fs/proc/meminfo.c, mm/vmstat.c, mm/slab_common.c), written here by
 * kmm_show() in Linux's formats.
 */
#include "sim_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int sim_mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0777) && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

int sim_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	size_t n = fwrite(data, 1, len, f);
	int ret = (n != len || ferror(f)) ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

int sim_proc_snapshot(struct kmm_machine *m, const char *out_dir, unsigned long n,
		      struct kmm_error *err)
{
	static const char *const views[] = {"buddyinfo", "zoneinfo", "pagetypeinfo", "meminfo",
					    "vmstat",	 "slabinfo", "kmmstat"};
	char dir[4200], path[4300];
	struct kmm_buf b;
	snprintf(dir, sizeof(dir), "%s/proc/%04lu", out_dir, n);
	int ret = sim_mkdir_p(dir);
	if (ret)
		return kmm_error_set(err, ret, "%s: %s", dir, strerror(-ret));
	kmm_buf_init(&b);
	for (size_t v = 0; v < KMM_ARRAY_SIZE(views) && !ret; v++) {
		kmm_buf_reset(&b);
		kmm_show(m, views[v], &b);
		snprintf(path, sizeof(path), "%s/%s", dir, views[v]);
		ret = sim_write_file(path, b.data ? b.data : "", b.len);
		if (ret)
			kmm_error_set(err, ret, "%s: %s", path, strerror(-ret));
	}
	kmm_buf_free(&b);
	return ret;
}
