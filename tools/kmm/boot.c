/*
 * kmm boot: boot a machine, print its kernel log, then the /proc views asked
 * for with --show, in Linux's formats.
 */
#include "cli.h"
#include <string.h>

static void boot_usage(FILE *out)
{
	fprintf(out, "usage: kmm boot [machine options] [--show VIEW]... [--validate]\n\n"
		     "Boots a simulated machine and prints its boot log (as dmesg would), then\n"
		     "each VIEW in Linux's /proc text format. Views: ");
	for (int i = 0; kmm_proc_views[i]; i++)
		fprintf(out, "%s%s", i ? ", " : "", kmm_proc_views[i]);
	fprintf(out, ".\n\n"
		     "  --show VIEW      print a view after boot (repeatable)\n"
		     "  --validate       run the invariant checkers after boot\n"
		     "  --sysctl NAME=V  set a vm tunable after boot (repeatable), e.g.\n"
		     "                   --sysctl watermark_scale_factor=100\n\n");
	fputs(kmm_config_help(), out);
}

int cmd_boot(int argc, char **argv)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	const char *views[32], *sysctls[32];
	int nviews = 0, nsysctls = 0;
	bool validate = false;

	kmm_config_init(&cfg);
	for (int i = 0; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			boot_usage(stdout);
			return KMM_EXIT_OK;
		}
		if (!strcmp(argv[i], "--show") || !strcmp(argv[i], "--sysctl")) {
			bool show = argv[i][2] == 's' && argv[i][3] == 'h';
			if (i + 1 >= argc) {
				cli_error("%s needs a value", argv[i]);
				return KMM_EXIT_USAGE;
			}
			if (show) {
				bool known = false;
				for (int v = 0; kmm_proc_views[v]; v++)
					known |= !strcmp(kmm_proc_views[v], argv[i + 1]);
				if (!known) {
					cli_error("--show %s: unknown view (try 'kmm boot --help')",
						  argv[i + 1]);
					return KMM_EXIT_USAGE;
				}
				if (nviews < 32)
					views[nviews++] = argv[i + 1];
			} else if (nsysctls < 32) {
				sysctls[nsysctls++] = argv[i + 1];
			}
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--validate")) {
			validate = true;
			continue;
		}
		int r = cli_machine_option(&cfg, argc, argv, &i);
		if (r != CLI_OPT_TAKEN) {
			if (r == CLI_OPT_NOT_MINE)
				cli_error("unknown option '%s' (try 'kmm boot --help')", argv[i]);
			return r == CLI_OPT_BAD_FILE ? KMM_EXIT_WORKLOAD : KMM_EXIT_USAGE;
		}
	}
	if (kmm_config_finish(&cfg, &err)) {
		cli_error("%s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		cli_error("cannot boot: %s", err.msg);
		return KMM_EXIT_WORKLOAD;
	}
	kmm_wait_for_init(m);
	int rc = KMM_EXIT_OK;
	for (int i = 0; i < nsysctls; i++) {
		char name[128];
		const char *eq = strchr(sysctls[i], '=');
		if (!eq || (size_t)(eq - sysctls[i]) >= sizeof(name)) {
			cli_error("--sysctl %s: expected NAME=VALUE", sysctls[i]);
			rc = KMM_EXIT_USAGE;
			goto out;
		}
		memcpy(name, sysctls[i], (size_t)(eq - sysctls[i]));
		name[eq - sysctls[i]] = '\0';
		if (kmm_sysctl_set(m, name, eq + 1, &err)) {
			cli_error("--sysctl %s", err.msg);
			rc = KMM_EXIT_USAGE;
			goto out;
		}
	}
	struct kmm_buf out;
	kmm_buf_init(&out);
	for (int i = 0; i < nviews; i++) {
		if (nviews > 1 || !cfg.quiet)
			kmm_buf_printf(&out, "\n==> /proc/%s <==\n", views[i]);
		kmm_show(m, views[i], &out);
		kmm_buf_flush_stdout(&out);
	}
	kmm_buf_free(&out);
	if (validate) {
		if (kmm_phys_validate(m, &err) || kmm_page_alloc_validate(m, &err) ||
		    kmm_slab_validate_all(m, &err)) {
			cli_error("invariant broken: %s", err.msg);
			rc = KMM_EXIT_WORKLOAD;
		} else {
			printf("validate: all invariants hold\n");
		}
	}
out:
	kmm_machine_destroy(m);
	return rc;
}
