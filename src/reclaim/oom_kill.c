/*
 * The OOM killer (placeholder until the task side lands).
 */
#include "internal.h"
#include <errno.h>

bool out_of_memory(struct kmm_machine *m, gfp_t gfp, unsigned int order)
{
	(void)m;
	(void)gfp;
	(void)order;
	return false;
}

int kmm_task_set_oom_score_adj(struct kmm_task *t, int adj)
{
	(void)t;
	(void)adj;
	return -EINVAL;
}
