#!/bin/sh
# run_one.sh OUTDIR NAME LIMIT CMD...: runs one test binary or script
# under a time limit and leaves its report in OUTDIR/NAME.out and its
# counts "passed failed skipped" in OUTDIR/NAME.sum (written last, so its
# presence means the report is complete).
out=$1 name=$2 limit=$3
shift 3
log=$out/$name.log
start=$(date +%s)
timeout -k 5 "$limit" "$@" >"$log" 2>&1 </dev/null
rc=$?
end=$(date +%s)
p=$(grep -c '^PASS ' "$log")
f=$(grep -c '^FAIL ' "$log")
s=$(grep -c '^SKIP ' "$log")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	echo "FAIL $name: exited with status $rc without reporting a failure" >>"$log"
	f=$((f + 1))
fi
{
	if [ "$f" -gt 0 ]; then
		cat "$log"
	else
		grep -E '^(PASS|SKIP) |^#' "$log"
	fi
	echo "# $name: $p passed, $f failed, $s skipped ($((end - start))s)"
} >"$out/$name.out"
echo "$p $f $s" >"$out/$name.sum.tmp" && mv "$out/$name.sum.tmp" "$out/$name.sum"
