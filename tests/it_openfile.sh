#!/bin/sh
# weight: 23 (seconds it takes; tests/run.sh starts the longest first)
# it_openfile: a file held open for writing (a log, a database) is
# mirrored while it is still open: once it has been quiet for a few
# seconds, and at the latest every 30 s while it keeps changing; each copy
# on the slave is a snapshot the master hashed while it did not change.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair

# a writer that keeps the file open: writes a line, pauses 5 s, writes
# another, then holds it open 15 s more before closing
(
	exec 3>"$MD/app.log"
	echo "first line" >&3
	sleep 5
	echo "second line" >&3
	sleep 15
	exec 3>&-
) &
WPID=$!
XS_PIDS="$XS_PIDS $WPID"
i=0
while [ $i -lt 40 ] && ! grep -q 'first line' "$SD/app.log" 2>/dev/null; do sleep 0.25; i=$((i + 1)); done
if grep -q 'first line' "$SD/app.log" 2>/dev/null && kill -0 "$WPID" 2>/dev/null; then
	pass open_file_mirrored_while_open
else
	fail open_file_mirrored_while_open "not on the slave within 10 s of the first write"
fi
i=0
while [ $i -lt 60 ] && ! grep -q 'second line' "$SD/app.log" 2>/dev/null; do sleep 0.25; i=$((i + 1)); done
if grep -q 'second line' "$SD/app.log" 2>/dev/null && kill -0 "$WPID" 2>/dev/null; then
	pass later_write_mirrored_while_still_open
else
	fail later_write_mirrored_while_still_open "second write not mirrored while open"
fi
wait "$WPID"
if wait_trees_equal "$MD" "$SD" 20; then pass identical_after_close; else fail identical_after_close "trees differ"; fi
exit 0
