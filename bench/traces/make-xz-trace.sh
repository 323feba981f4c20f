#!/bin/sh
# Regenerate bench/traces/xz.refs.gz, the page-reference trace of a real
# program that bench/reclaim's replacement-quality table replays.
#
#   bench/traces/make-xz-trace.sh KMM [OUT]
#
# KMM is the kmm command-line tool (build/kmm). The program traced is
# `xz -3 -c` compressing 68 KiB of text made here (the sha256 of the numbers
# 1..1024, one hex line each), so the input is the same on every machine.
# Steps:
#  1. valgrind --tool=lackey --trace-mem=yes: every instruction fetch, load,
#     store and modify (about 38 million records, 540 MB of text; several
#     minutes).
#  2. kmm trace convert ... --to refs: one page reference per record (two
#     for a record that crosses a page).
#  3. Stack deletion with K = 16 (A. J. Smith, "Two methods for the
#     efficient analysis of memory address trace data", IEEE TSE 1977): a
#     reference to one of the 16 most recently used pages is dropped. Such a
#     reference hits in LRU with 16 frames or more, so the faults of LRU (and
#     of any policy close to it) at the frame counts the bench uses change by
#     well under 1%, and the trace shrinks a hundredfold (about 400 000
#     references). Everything the bench reports (kmm, LRU, OPT) runs on the
#     reduced trace.
#  4. gzip -9 (gzip is on every Debian system).
# The result depends a little on the versions of xz, glibc and valgrind
# (addresses and instruction counts), not on the machine's load.
set -eu
KMM=${1:?usage: make-xz-trace.sh KMM [OUT]}
OUT=${2:-$(dirname "$0")/xz.refs.gz}
command -v valgrind >/dev/null || { echo "make-xz-trace: valgrind is missing (Debian: apt-get install valgrind)" >&2; exit 1; }
command -v xz >/dev/null || { echo "make-xz-trace: xz is missing (Debian: apt-get install xz-utils)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
i=1
while [ $i -le 1024 ]; do echo $i | sha256sum; i=$((i + 1)); done > "$TMP/input.txt"
valgrind --tool=lackey --trace-mem=yes --log-file="$TMP/xz.lackey" xz -3 -c "$TMP/input.txt" > /dev/null
"$KMM" trace convert "$TMP/xz.lackey" - --from lackey --to refs |
awk -v K=16 '
{
	p = $2; w = ($1 == "W")
	hit = 0
	for (i = 0; i < n; i++) if (st[i] == p) { hit = 1; break }
	if (hit) { for (; i > 0; i--) st[i] = st[i - 1] }
	else { if (n < K) n++; for (i = n - 1; i > 0; i--) st[i] = st[i - 1] }
	st[0] = p
	if (!hit) print (w ? "W " : "R ") p
}' > "$TMP/xz.refs"
{
	echo "# xz -3 -c of 68 KiB of text under valgrind lackey, page references after"
	echo "# stack deletion (K = 16); made by bench/traces/make-xz-trace.sh"
	cat "$TMP/xz.refs"
} | gzip -9 -n > "$OUT"
echo "make-xz-trace: $(wc -l < "$TMP/xz.refs") references -> $OUT"
