/*
 * Helpers shared by the address-space tests: booting a machine from
 * command-line style options, checking every invariant with a message,
 * and accounting for pages so a test can prove nothing leaked.
 */
#ifndef KMM_TEST_VM_UTIL_H
#define KMM_TEST_VM_UTIL_H

#include "kmm_test.h"
#include <errno.h>
#include <kmm/kmm.h>
#include <kmm/slab.h>
#include "vm/vm.h"

static inline struct kmm_machine *vm_boot(const char *options)
{
	struct kmm_config cfg;
	struct kmm_error err = {0};
	kmm_config_init(&cfg);
	cfg.quiet = true;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", options);
	char *argv[16];
	int argc = 0;
	for (char *tok = strtok(buf, " "); tok && argc < 16; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	if (kmm_config_parse_args(&cfg, argc, argv, &err)) {
		fprintf(stderr, "config: %s\n", err.msg);
		return NULL;
	}
	struct kmm_machine *m = kmm_boot(&cfg, &err);
	if (!m)
		fprintf(stderr, "boot: %s\n", err.msg);
	else
		kmm_wait_for_init(m);
	return m;
}

/* Run the validator; on failure print why and fail the test case. */
#define expect_vm_valid(m)                                               \
	do {                                                             \
		struct kmm_error e_ = {0};                               \
		if (kmm_vm_validate(m, &e_)) {                           \
			KMM_EXPECT_FAIL_("kmm_vm_validate: %s", e_.msg); \
			return;                                          \
		}                                                        \
	} while (0)

/*
 * Free pages in the buddy lists once the slab caches have given their empty
 * slabs back and every CPU's page lists are drained.
 */
static inline unsigned long vm_free_pages(struct kmm_machine *m)
{
	kmm_slab_shrink_all(m);
	kmm_drain_all_pages(m);
	return kmm_nr_free_pages(m);
}

static inline struct kmm_task *vm_task(struct kmm_machine *m, const char *comm, int cpu)
{
	struct kmm_error err = {0};
	struct kmm_task *t = kmm_task_create(m, comm, cpu, &err);
	if (!t)
		fprintf(stderr, "kmm_task_create: %s\n", err.msg);
	return t;
}

#endif /* KMM_TEST_VM_UTIL_H */
