#!/usr/bin/env bash
# Run kmm's benchmarks: every program in BUILD_DIR/bench, in a fixed order,
# after describing the machine once.
#
#   bench/run.sh BUILD_DIR [--quick] [NAME...]
#
#   BUILD_DIR  a build configured with -DCMAKE_BUILD_TYPE=Release -DKMM_DEBUG=0
#              (make bench does this in build-bench/)
#   --quick    pass --quick to each program: about 10 s each
#   NAME...    run only these benchmarks (default: all that are built)
#
# Every program prints a table and 'bench: <figure> <value> <unit>' lines;
# grep '^bench: ' the output to track figures over time. The exit status is
# non-zero if any benchmark failed (the others still run).
set -euo pipefail

# The order of the layers, bottom up; benchmarks not listed here run after
# these, alphabetically.
ORDER=(boot page_alloc slab malloc vm rmap reclaim replay)

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
	echo "bench/run.sh: $*" >&2
	exit 2
}

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
case "$1" in
-h | --help) usage; exit 0 ;;
esac
build=$1
shift
quick=()
names=()
for a in "$@"; do
	case "$a" in
	--quick) quick=(--quick) ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option '$a' (try --help)" ;;
	*) names+=("$a") ;;
	esac
done

[[ -d "$build" ]] || die "no build directory '$build' (run 'make bench', or configure one with cmake)"
benchdir="$build/bench"
[[ -d "$benchdir" ]] ||
	die "'$build' has no bench/ directory: configure it with -DKMM_BUILD_BENCH=ON and build it"

# The programs to run: the requested ones, or every built one in ORDER first.
progs=()
if [[ ${#names[@]} -gt 0 ]]; then
	for n in "${names[@]}"; do
		[[ -x "$benchdir/$n" && -f "$benchdir/$n" ]] || die "no benchmark '$n' in $benchdir (is it built?)"
		progs+=("$n")
	done
else
	for n in "${ORDER[@]}"; do
		[[ -x "$benchdir/$n" && -f "$benchdir/$n" ]] && progs+=("$n")
	done
	for f in "$benchdir"/*; do
		n=$(basename "$f")
		[[ -f "$f" && -x "$f" ]] || continue
		[[ " ${ORDER[*]} " == *" $n "* ]] && continue
		progs+=("$n")
	done
fi
[[ ${#progs[@]} -gt 0 ]] || die "no benchmark programs in $benchdir (build with 'cmake --build $build')"

if [[ -f "$build/CMakeCache.txt" ]]; then
	type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
	debug=$(sed -n 's/^KMM_DEBUG:[A-Z]*=//p' "$build/CMakeCache.txt")
	if [[ "$type" != "Release" || "$debug" != "0" ]]; then
		echo "warning: $build is a ${type:-default} build with KMM_DEBUG=${debug:-?};" \
			"figures are only comparable from a Release build with KMM_DEBUG=0 (make bench)" >&2
	fi
fi

echo "# kmm benchmarks${quick:+ (quick)}: ${progs[*]}"
echo
"$benchdir/${progs[0]}" --machine || die "cannot run $benchdir/${progs[0]}"
export KMM_BENCH_MACHINE_PRINTED=1

failed=()
for n in "${progs[@]}"; do
	echo "# ${n}"
	start=$(date +%s)
	if "$benchdir/$n" "${quick[@]}"; then
		echo "# ${n}: done in $(($(date +%s) - start)) s"
	else
		rc=$?
		echo "# ${n}: FAILED with exit status $rc" >&2
		failed+=("$n")
	fi
	echo
done

if [[ ${#failed[@]} -gt 0 ]]; then
	echo "bench/run.sh: ${#failed[@]} benchmark(s) failed: ${failed[*]}" >&2
	exit 1
fi
echo "# all ${#progs[@]} benchmark(s) finished"
