#!/bin/sh
# Runs every unit test binary and every integration script, each under its
# own time limit, and prints one last line: "N passed, N failed, N skipped".
#
# Unit tests: $XS_BUILD/tests/test_* (one line PASS/FAIL/SKIP per test).
# Integration tests: tests/it_*.sh (same line format; they source
# tests/lib/harness.sh, which starts a private Prosody on free loopback
# ports in a temp dir of its own, so several can run side by side).
# A binary or script that dies without reporting counts as one failure.
#   XS_TESTS=pattern   run only tests whose file name contains pattern
#                      (several, separated by spaces: any of them)
#   XS_JOBS=N          integration tests run N at a time (default 2; they
#                      mostly wait on the network, timers and each other)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${XS_BUILD:-build/std}
case $build in /*) ;; *) build=$top/$build ;; esac
export XS_BUILD=$build XS_TOP=$top
export XS_BIN=$build/xmpp-sync
pattern=${XS_TESTS:-}
jobs=${XS_JOBS:-2}
case $jobs in ''|*[!0-9]*|0) echo "XS_JOBS must be a positive number" >&2; exit 2 ;; esac

# wanted NAME: whether NAME contains one of the patterns (or there is none)
wanted() {
	[ -z "$pattern" ] && return 0
	for p in $pattern; do
		case $1 in *"$p"*) return 0 ;; esac
	done
	return 1
}

out=$(mktemp -d "${TMPDIR:-/tmp}/xs-run.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM
pass=0 fail=0 skip=0

# collect NAME: prints the report of one finished test and adds its counts
collect() {
	cat "$out/$1.out"
	read -r p f s <"$out/$1.sum"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

list=$out/list
: >"$list"
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	wanted "$n" || continue
	sh "$top/tests/lib/run_one.sh" "$out" "$n" 300 "$t"
	collect "$n"
done
for t in "$top"/tests/it_*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t")
	wanted "$n" || continue
	echo "$n" >>"$list"
done
# the integration tests, longest first so that the pool drains evenly;
# each report is printed as soon as it is complete, in list order
sort_list() {
	while read -r n; do
		w=$(sed -n 's/^# weight: *\([0-9]*\).*/\1/p' "$top/tests/$n" | head -n 1)
		echo "${w:-10} $n"
	done <"$list" | sort -k1,1nr -k2 | cut -d' ' -f2
}
sort_list | xargs -P "$jobs" -I{} sh "$top/tests/lib/run_one.sh" "$out" {} 300 sh "$top/tests/{}" &
pool=$!
while read -r n; do
	[ -n "$n" ] || continue
	while [ ! -f "$out/$n.sum" ]; do
		if ! kill -0 "$pool" 2>/dev/null && [ ! -f "$out/$n.sum" ]; then
			echo "FAIL $n: never ran"
			echo "0 1 0" >"$out/$n.sum"
			: >"$out/$n.out"
			break
		fi
		sleep 0.2
	done
	collect "$n"
done <<EOF2
$(sort_list)
EOF2
wait "$pool" 2>/dev/null

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
