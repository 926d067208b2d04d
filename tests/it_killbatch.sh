#!/bin/sh
# weight: 40 (seconds it takes; tests/run.sh starts the longest first)
# it_killbatch: 2,000 small files (they travel in bundles, a batch's files
# in one Jingle session, and some inline in the sealed batches) and the
# slave is killed with SIGKILL while they arrive. After it
# starts again everything converges: every file identical (checksums of
# both trees compared), none visible half-written (no temp file left in
# sight, no file of the wrong size at any moment the test looks), and the
# master re-sends only what was not acknowledged.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair
mkdir -p "$XS_TMP/src"
"$XS_BUILD/tests/tools/mktree" "$XS_TMP/src" 2000 20 100 8000 7 >/dev/null ||
	{ fail setup "mktree failed"; exit 1; }
mv "$XS_TMP/src"/d* "$MD/"
# kill the slave once a few hundred files are in
n=0
while [ "$(find "$SD" -type f -name 'f*' | wc -l)" -lt 300 ] && [ $n -lt 600 ]; do
	sleep 0.05; n=$((n + 1))
done
got=$(find "$SD" -type f -name 'f*' | wc -l)
xs_kill "$SPID" KILL
note "slave killed with $got of 2000 files in"
# what is visible now is whole: every file there has the master's bytes
bad=0
for f in $(cd "$SD" && find . -type f -name 'f*'); do
	cmp -s "$MD/$f" "$SD/$f" || bad=$((bad + 1))
done
[ "$got" -lt 2000 ] && [ "$bad" = 0 ] && pass killed_mid_batch_nothing_half_visible ||
	fail killed_mid_batch_nothing_half_visible "$got files in, $bad differ from the master's"
xs_spawn "$XS_TMP/s2.log" "$X" -c "$S" run; SPID=$XS_LASTPID
if wait_trees_equal "$MD" "$SD" 120; then
	pass converges_after_restart
else
	fail converges_after_restart "trees differ"
fi
left=$(find "$SD" -name '.xmpp-sync-tmp.*' | wc -l)
[ "$left" = 0 ] && pass no_temp_files_left || fail no_temp_files_left "$left temp files"
# installs after the restart are at most what was not acked (a batch
# and a bundle may be in flight: the slave finds the files already there
# and only records them)
installs='bytes inline, verified|verified, in a bundle|bytes, verified[)]'
again=$(grep -cE "$installs" "$XS_TMP/s2.log")
before=$(grep -cE "$installs" "$XS_TMP/s.log")
note "installs: $before before the kill, $again after"
[ $((before + again)) -le $((2000 + 128)) ] && [ "$again" -le $((2000 - got + 128)) ] &&
	pass resent_at_most_what_was_not_acknowledged ||
	fail resent_at_most_what_was_not_acknowledged "$before + $again installs for 2000 files"
exit 0
