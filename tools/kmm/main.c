/*
 * kmm: the command-line front end. One file per subcommand; this one
 * dispatches and prints the top-level help.
 */
#include "cli.h"
#include <stdarg.h>
#include <string.h>

static const struct kmm_cmd commands[] = {
    {"boot", "boot a machine and show its boot log and /proc views", cmd_boot},
    {"pages", "boot a machine and run a script of page allocations and frees", cmd_pages},
    {"slabtop", "boot a machine, load its slab caches, show them sorted as slabtop", cmd_slabtop},
    {"run", "check a workload file, boot its machine and run it", cmd_run},
    {"compare", "run a workload on each design variant; figures side by side", cmd_compare},
    {"demo", "run the built-in scenario and write its report", cmd_demo},
    {"replay", "replay a memory-access trace into a simulated task", cmd_replay},
    {"trace", "convert memory-access traces; LRU and OPT fault counts", cmd_trace},
};

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("kmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: kmm COMMAND [options]\n\n"
		     "kmm runs the Linux memory manager as a userspace simulation.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'kmm COMMAND --help' for a command's options. Docs: docs/ in the "
		     "source tree.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return KMM_EXIT_USAGE;
	}
	if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		usage(stdout);
		return KMM_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 2, argv + 2);
	cli_error("unknown command '%s' (try 'kmm --help')", argv[1]);
	return KMM_EXIT_USAGE;
}
