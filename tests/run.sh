#!/bin/sh
# Runs every unit test binary and every integration script, each under its
# own time limit, and prints one last line: "N passed, N failed, N skipped".
#
# Unit tests: $XS_BUILD/tests/test_* (one line PASS/FAIL/SKIP per test).
# Integration tests: tests/it_*.sh (same line format; they source
# tests/lib/harness.sh, which starts a private Prosody).
# A binary or script that dies without reporting counts as one failure.
#   XS_TESTS=pattern   run only tests whose file name contains pattern
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XS_BUILD:-build/std}
case $build in /*) ;; *) build=$top/$build ;; esac
export XS_BUILD=$build XS_TOP=$top
export XS_BIN=$build/xmpp-sync
pattern=${XS_TESTS:-}

out=$(mktemp -d "${TMPDIR:-/tmp}/xs-run.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
pass=0 fail=0 skip=0

run_one() { # name limit cmd...
	name=$1 limit=$2
	shift 2
	log=$out/log
	start=$(date +%s)
	timeout -k 5 "$limit" "$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc without reporting a failure" >>"$log"
		f=$((f + 1))
	fi
	if [ "$f" -gt 0 ]; then
		cat "$log"
	else
		grep -E '^(PASS|SKIP) |^#' "$log"
	fi
	echo "# $name: $p passed, $f failed, $s skipped ($((end - start))s)"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	case $n in *"$pattern"*) ;; *) continue ;; esac
	run_one "$n" 300 "$t"
done
for t in "$top"/tests/it_*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t")
	case $n in *"$pattern"*) ;; *) continue ;; esac
	run_one "$n" 300 sh "$t"
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
