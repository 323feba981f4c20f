/*
 * sim/'s interface to the boot sequence.
 */
#ifndef KMM_SIM_SIM_H
#define KMM_SIM_SIM_H

#include "../vm/vm.h"

/* Reap every task of the machine (at machine teardown). */
void sim_reap_all(struct kmm_machine *m);

#endif /* KMM_SIM_SIM_H */
