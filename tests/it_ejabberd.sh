#!/bin/sh
# weight: 45 (seconds it takes; tests/run.sh starts the longest first)
# it_ejabberd: the product against the other server. it_sync and
# it_pairing run again with XS_SERVER=ejabberd, each against a private
# ejabberd (tests/lib/ejabberd.sh); their results are reported here with
# "ejabberd:SCRIPT:" before each test name. The whole suite runs against
# ejabberd with `XS_SERVER=ejabberd make check` (docs/hacking.md).
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${XS_SERVER:-prosody}" = ejabberd ]; then
	echo "SKIP ejabberd_scripts: the whole suite runs against ejabberd already (XS_SERVER=ejabberd)"
	exit 0
fi
out=$(mktemp "${TMPDIR:-/tmp}/xs-ejabberd.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 1' INT TERM
failed=0
for t in it_sync it_pairing; do
	XS_SERVER=ejabberd timeout -k 5 130 sh "$top/tests/$t.sh" >"$out" 2>&1 </dev/null
	rc=$?
	sed "s/^\(PASS\|FAIL\|SKIP\) /\1 ejabberd:$t:/" "$out"
	if grep -q '^FAIL ' "$out"; then
		failed=1
	elif [ $rc -ne 0 ]; then
		echo "FAIL ejabberd:$t: exited with status $rc without reporting a failure"
		failed=1
	elif ! grep -q '^PASS ' "$out"; then
		echo "FAIL ejabberd:$t: reported no test at all"
		failed=1
	fi
	grep -q '^# server: ejabberd ' "$out" ||
		{ echo "FAIL ejabberd:$t: did not run against ejabberd"; failed=1; }
done
exit $failed
