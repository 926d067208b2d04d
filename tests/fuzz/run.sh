#!/bin/sh
# make fuzz: runs each fuzz target under libFuzzer for $FUZZ_SECONDS
# seconds, one after the other, then merges what it found into the
# committed corpus tests/fuzz/corpus/<name>/.
#
#   XS_BUILD=build/fuzz FUZZ_SECONDS=60 sh tests/fuzz/run.sh [name ...]
#
# New inputs go to a scratch directory first; `-merge=1` then copies into
# the corpus only those that reach code the corpus does not, so it stays
# small. Inputs already committed are never removed (some are the
# reproducers of fixed bugs). A crash stops that target: its input is
# left in $XS_BUILD/fuzz-work/ and the line says how to replay it.
# Prints one line per target; exits 1 if any target crashed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${XS_BUILD:-build/fuzz}
case $build in /*) ;; *) build=$top/$build ;; esac
secs=${FUZZ_SECONDS:-60}
work=$build/fuzz-work
mkdir -p "$work" || exit 1
if [ $# -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		n=${f##*/fuzz_}
		set -- "$@" "${n%.c}"
	done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

status=0
for t in "$@"; do
	bin=$build/tests/fuzz/fuzz_$t
	corpus=$top/tests/fuzz/corpus/$t
	new=$work/$t.new
	log=$work/$t.log
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$t: no $bin (make FUZZ=1 fuzz-bins)"
		status=1
		continue
	fi
	rm -rf "$new"
	mkdir -p "$new" "$corpus" || exit 1
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$work/$t-" \
	    "$new" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ]; then
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
		    tail -n 1)
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz_check)' \
		    "$log" | head -n 5
		echo "FAIL fuzz_$t: exit $rc after ${execs:-?} runs; input" \
		    "${crash:-(none saved)}; log $log; replay with" \
		    "build/std/tests/test_fuzz_$t ${crash:-FILE}"
		status=1
		continue
	fi
	before=$(ls "$corpus" | wc -l)
	"$bin" -merge=1 "$corpus" "$new" >>"$log" 2>&1 ||
		{ echo "FAIL fuzz_$t: merge failed, see $log"; status=1; continue; }
	after=$(ls "$corpus" | wc -l)
	bytes=$(cat "$corpus"/* | wc -c)
	echo "fuzz_$t: ${execs:-?} runs in ${secs}s, no crash;" \
	    "corpus $before -> $after files ($bytes bytes)"
done
exit $status
