/*
 * Booting machines in tests: one line of machine options, the boot log
 * kept (not echoed), every page initialised before the test starts.
 */
#ifndef KMM_TEST_MACHINE_H
#define KMM_TEST_MACHINE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kmm/kmm.h>

/* Boot with @opts ("--mem 64M --nodes 2 --cpus 4"); NULL (and a message) on failure. */
static inline struct kmm_machine *kmm_test_boot(const char *opts)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	char buf[512], *argv[32];
	int argc = 0;
	kmm_config_init(&cfg);
	cfg.quiet = true;
	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *tok = strtok(buf, " "); tok && argc < 32; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (kmm_config_parse_args(&cfg, argc, argv, &err)) {
		fprintf(stderr, "machine options '%s': %s\n", opts, err.msg);
		return NULL;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m) {
		fprintf(stderr, "boot '%s': %s\n", opts, err.msg);
		return NULL;
	}
	kmm_wait_for_init(m);
	return m;
}

/*
 * Pages the kernel itself holds after boot (slab pages, per-CPU chunks):
 * with them, every managed page is free or accounted for.
 */
static inline unsigned long kmm_test_kernel_pages(struct kmm_machine *m)
{
	struct kmm_buf b;
	unsigned long total = (unsigned long)atomic_long_read(&m->percpu_pages);
	const char *keys[] = {"nr_slab_reclaimable ", "nr_slab_unreclaimable "};
	kmm_buf_init(&b);
	kmm_show(m, "vmstat", &b);
	for (int i = 0; i < 2; i++) {
		const char *p = strstr(b.data, keys[i]);
		total += p ? strtoul(p + strlen(keys[i]), NULL, 10) : 0;
	}
	kmm_buf_free(&b);
	return total;
}

/* Where the machine's log ends now; kmm_test_log_since() returns what came after. */
static inline size_t kmm_test_log_mark(struct kmm_machine *m)
{
	return m->log.len;
}

static inline const char *kmm_test_log_since(struct kmm_machine *m, size_t mark)
{
	return m->log.data ? m->log.data + mark : "";
}

#endif /* KMM_TEST_MACHINE_H */
