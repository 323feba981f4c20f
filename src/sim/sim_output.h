/*
 * The output directory's common files (output.c). Internal to sim/.
 */
#ifndef KMM_SIM_OUTPUT_H
#define KMM_SIM_OUTPUT_H

#include <kmm/kmm.h>
#include <kmm/proc.h>

/* mkdir -p; 0 or -errno. */
int sim_mkdir_p(const char *path);
/* Create @path holding @len bytes of @data; 0 or -errno. */
int sim_write_file(const char *path, const char *data, size_t len);
/* The /proc views into OUT/proc/NNNN/ (NNNN = @n); 0 or -errno with a message. */
int sim_proc_snapshot(struct kmm_machine *m, const char *out_dir, unsigned long n,
		      struct kmm_error *err);

#endif /* KMM_SIM_OUTPUT_H */
