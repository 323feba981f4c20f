/*
 * The options `kmm run` and `kmm compare` share: how a workload runs,
 * where its output goes, and machine options that override its machine
 * lines.
 */
#ifndef KMM_TOOLS_SIMARGS_H
#define KMM_TOOLS_SIMARGS_H

#include "cli.h"
#include <kmm/sim.h>

#define SIM_ARGS_MAX_VARIANTS 4

struct sim_args {
	const char *cmd; /* "run" or "compare", for messages */
	const char *file, *out_dir, *trace;
	bool concurrent, quiet, check_only, dump, boot_log, fail_on_oom, no_report;
	bool progress; /* a progress bar when stdout is a terminal (--no-progress: never) */
	bool seed_given;
	uint64_t seed;
	unsigned long every;
	enum kmm_sim_swap_io swap_io; /* --swap-io fault|thread|ahead */
	int first_machine;	      /* index of the first machine option, -1 if none */
	/* kmm compare: --variant KEY=A,B */
	const char *variants[SIM_ARGS_MAX_VARIANTS];
	int nvariants;
};

/*
 * Parse argv. Returns -1 to go on, or the exit status (after --help, or a
 * usage error already printed). @compare accepts --variant.
 */
int sim_args_parse(struct sim_args *a, int argc, char **argv, bool compare, void (*usage)(FILE *));
/*
 * Load and check the workload, applying the command line's machine options
 * and seed. Returns 0 with *@w, or the exit status (error printed).
 */
int sim_args_load(const struct sim_args *a, int argc, char **argv, struct kmm_workload **w);
/* The run options the arguments ask for. */
struct kmm_sim_opts sim_args_opts(const struct sim_args *a);
/* The exit status for kmm_workload_run()'s return value (error printed). */
int sim_args_exit(int ret, const struct kmm_error *err);

#endif
