/*
 * reclaim/'s life, for the boot sequence (src/init/main.c).
 */
#ifndef KMM_RECLAIM_RECLAIM_H
#define KMM_RECLAIM_RECLAIM_H

#include <kmm/machine.h>
#include <kmm/error.h>

/* Start reclaim: its state, kswapd, and the hooks of page/, vm/ and swap/. After swap_init. */
int reclaim_init(struct kmm_machine *m, struct kmm_error *err);
/* Stop kswapd and unhook; before swap and vm go. */
void reclaim_destroy(struct kmm_machine *m);

#endif /* KMM_RECLAIM_RECLAIM_H */
