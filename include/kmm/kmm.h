/*
 * kmm: the Linux memory manager as a userspace C library. The umbrella
 * header: include this to get every public API.
 */
#ifndef KMM_KMM_H
#define KMM_KMM_H

#include <kmm/compiler.h>
#include <kmm/machine.h>
#include <kmm/memory_model.h>
#include <kmm/gfp.h>
#include <kmm/page_alloc.h>
#include <kmm/mm.h>
#include <kmm/page_reporting.h>
#include <kmm/proc.h>
#include <kmm/slab.h>
#include <kmm/random.h>
#include <kmm/ftrace.h>
#include <kmm/swap.h>
#include <kmm/reclaim.h>

#endif /* KMM_KMM_H */
