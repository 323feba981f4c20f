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

/* Print "kmm: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if argv[i] is --help or -h. */
int cli_is_help(const char *arg);

#endif
