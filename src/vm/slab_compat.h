/*
 * The slab API as vm/ uses it (kept as one include point for the layer).
 */
#ifndef KMM_VM_SLAB_COMPAT_H
#define KMM_VM_SLAB_COMPAT_H

#include <kmm/slab.h>

#endif /* KMM_VM_SLAB_COMPAT_H */
