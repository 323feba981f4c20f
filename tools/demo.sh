#!/bin/sh
# make demo: run kmm's built-in scenario (kmm demo --help): tasks map,
# touch, fork and exit on a 2-node, 4-CPU machine with a swap file in a
# temporary directory, with slab churn; prints a summary and the path of
# report.html.
set -e
BUILD=${1:-build}
exec "$BUILD/kmm" demo
