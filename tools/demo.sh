#!/bin/sh
# make demo: boot kmm's default machine (4 GiB, 2 nodes, 4 CPUs,
# SPARSEMEM_VMEMMAP, x86_64) and show its boot log and /proc/zoneinfo.
# Later layers grow this into the full scenario (see docs/).
set -e
BUILD=${1:-build}
exec "$BUILD/kmm" boot --show zoneinfo --show buddyinfo
