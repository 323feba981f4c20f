/*
 * Machine options shared by the subcommands that boot a machine.
 */
#include "cli.h"
#include <string.h>

int cli_machine_option(struct kmm_config *cfg, int argc, char **argv, int *i)
{
	struct kmm_error err = {0};
	const char *arg = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	const char *eq = strchr(arg, '=');
	char opt[64];
	if (eq && (size_t)(eq - arg) < sizeof(opt)) {
		memcpy(opt, arg, (size_t)(eq - arg));
		opt[eq - arg] = '\0';
		val = eq + 1;
	} else {
		snprintf(opt, sizeof(opt), "%s", arg);
	}
	int r = kmm_config_option(cfg, opt, val, &err);
	if (r < 0) {
		cli_error("%s", err.msg);
		/* A bad description file is a workload error, not a usage error. */
		bool file = !strcmp(opt, "--map") || !strcmp(opt, "--from-dmesg");
		return file && val ? CLI_OPT_BAD_FILE : CLI_OPT_BAD;
	}
	if (r == 2 && !eq)
		(*i)++;
	return r > 0 ? CLI_OPT_TAKEN : CLI_OPT_NOT_MINE;
}
