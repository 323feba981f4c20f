/*
 * Helpers of the swap tests: a scratch directory for swap files, a machine
 * booted for swapping, pages going out to swap and coming back the way
 * reclaim and the fault path will move them.
 */
#ifndef KMM_TESTS_SWAP_UTIL_H
#define KMM_TESTS_SWAP_UTIL_H

#include "kmm_test.h"
#include "kmm_test_machine.h"
#include "swap/internal.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char swap_test_dir[256];

/* A fresh scratch directory (removed with its files by swap_test_cleanup). */
static inline const char *swap_test_tmpdir(void)
{
	if (!swap_test_dir[0]) {
		snprintf(swap_test_dir, sizeof(swap_test_dir), "/tmp/kmm-swap-test-XXXXXX");
		if (!mkdtemp(swap_test_dir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return swap_test_dir;
}

static inline void swap_test_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", swap_test_tmpdir(), name);
}

static inline void swap_test_cleanup(void)
{
	char cmd[512];
	if (!swap_test_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", swap_test_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", swap_test_dir);
	swap_test_dir[0] = '\0';
}

/* Is a host program there (mkswap, blkid)? */
static inline bool swap_test_have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "command -v %s >/dev/null 2>&1 || test -x /usr/sbin/%s || test -x /sbin/%s", prog,
		 prog, prog);
	return system(cmd) == 0;
}

/* Run a shell command, capturing its output into @out; returns the exit status. */
static inline int swap_test_run(const char *cmd, char *out, size_t len)
{
	char full[1024];
	snprintf(full, sizeof(full), "PATH=$PATH:/usr/sbin:/sbin; %s 2>&1", cmd);
	FILE *f = popen(full, "r");
	if (!f)
		return -1;
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return pclose(f);
}

static inline int swap_test_swapon(struct kmm_machine *m, const char *name, uint64_t size, int prio)
{
	char path[512];
	struct kmm_error err = {0};
	swap_test_path(path, sizeof(path), name);
	int type = kmm_swapon(m, path, size, prio, 0, NULL, &err);
	if (type < 0)
		fprintf(stderr, "swapon %s: %s\n", path, err.msg);
	return type;
}

static inline void swap_test_fill(struct kmm_machine *m, struct kmm_page *page, struct kmm_rng *rng)
{
	uint64_t *w = page_address(m, page);
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = kmm_rng_next(rng);
}

/*
 * Send @page out as reclaim will: a slot, the swap cache, one "PTE"
 * reference, the write, out of the cache. The page itself is not freed.
 * Returns the entry (0 if swap is full) and the write's result in *@werr.
 */
static inline swp_entry_t swap_test_out(struct kmm_machine *m, struct kmm_page *page, int *werr)
{
	swp_entry_t e = get_swap_page(m);
	*werr = 0;
	if (!e.val)
		return e;
	SetPageLocked(page);
	SetPageSwapBacked(page);
	if (add_to_swap_cache(m, page, e, GFP_KERNEL)) {
		put_swap_page(m, e);
		ClearPageLocked(page);
		e.val = 0;
		return e;
	}
	swap_duplicate(m, e); /* try_to_unmap: the PTE now holds the entry */
	*werr = swap_writepage(m, page, e);
	if (*werr) {
		/* The write failed: the page stays, as reclaim keeps it mapped. */
		swap_free(m, e);
		ClearPageLocked(page);
		return e;
	}
	delete_from_swap_cache(m, page);
	ClearPageLocked(page);
	return e;
}

#endif /* KMM_TESTS_SWAP_UTIL_H */
