/*
 * The kmm command-line program: shared declarations of its subcommands.
 */
#ifndef KMM_TOOLS_CLI_H
#define KMM_TOOLS_CLI_H

#include <kmm/kmm.h>
#include <stdio.h>

/* Exit codes (documented in docs/cli.md). */
#define KMM_EXIT_OK	  0
#define KMM_EXIT_WORKLOAD 1 /* bad workload, trace or machine description */
#define KMM_EXIT_USAGE	  2 /* bad command line */
#define KMM_EXIT_OOM	  3 /* the simulated machine ran out of memory (when asked to fail) */

struct kmm_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cmd_boot(int argc, char **argv);
int cmd_pages(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_slabtop(int argc, char **argv);

/*
 * Parse the machine option at argv[*i] (advancing *i past its value):
 * CLI_OPT_TAKEN, CLI_OPT_NOT_MINE, or an error already printed:
 * CLI_OPT_BAD (exit KMM_EXIT_USAGE) or CLI_OPT_BAD_FILE (a bad --map or
 * --from-dmesg file: exit KMM_EXIT_WORKLOAD).
 */
enum {
	CLI_OPT_BAD_FILE = -2,
	CLI_OPT_BAD = -1,
	CLI_OPT_NOT_MINE = 0,
	CLI_OPT_TAKEN = 1
};
int cli_machine_option(struct kmm_config *cfg, int argc, char **argv, int *i);

/* Print "kmm: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if argv[i] is --help or -h. */
int cli_is_help(const char *arg);

#endif
