#!/bin/sh
# weight: 15 (seconds it takes; tests/run.sh starts the longest first)
# it_firstsync: a slave stopped during its first sync, after some files
# had arrived, tells what the master sent from what was its own when it
# is back. Its own file, which the master replaces, is kept below
# .xmpp-sync/local/ (once); what the master sent and later deletes or
# replaces is not kept at all, and no local change is reported.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
# IBB is slow enough on loopback to stop a transfer half way
M=$(xs_conf m master m transports=ibb)
S=$(xs_conf s slave s master=m@xs.test transports=ibb)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null
# the slave's own area is never part of a comparison
XS_TREE_SKIP=.xmpp-sync
start_m() { xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID; }
start_s() { xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID; }
kept() { find "$SD/.xmpp-sync/local" -path "*/$1" -type f 2>/dev/null | wc -l; }

echo "the slave's own" >"$SD/own.txt"
echo "the master's own" >"$MD/own.txt"
i=0; while [ $i -lt 10 ]; do echo "small $i" >"$MD/small-$i"; i=$((i + 1)); done
size=$((12 * 1048576))
head -c "$size" /dev/urandom >"$MD/big.bin"
start_m; start_s

# stopped once the small files are in and big.bin is on its way
got=0
for i in $(seq 1 2400); do
	n=$(find "$SD" -maxdepth 1 -name 'small-*' | wc -l)
	got=$(find "$SD" -name '.xmpp-sync-tmp.*' -printf '%s\n' 2>/dev/null | sort -n | tail -1)
	[ "$n" = 10 ] && [ -n "$got" ] && [ "$got" -gt 0 ] && break
	sleep 0.05
done
xs_kill "$SPID"
if [ "$n" != 10 ] || [ -z "$got" ] || [ "$got" -ge "$size" ] ||
   sqlite3 "$XS_TMP/s/state/xmpp-sync.db" \
	"SELECT value FROM meta WHERE key = 'master_seq'" | grep -q .; then
	fail stopped_during_first_sync "small files $n, big.bin ${got:-0} of $size bytes, or the first sync had ended"
	exit 1
fi
pass stopped_during_first_sync

: >"$XS_TMP/s.log"
start_s
# what the master sent before the stop goes or changes while big.bin is
# still on its way: the first sync has not ended when they arrive
rm "$MD"/small-[0-4]
i=5; while [ $i -lt 10 ]; do echo "small $i, v2" >"$MD/small-$i"; i=$((i + 1)); done
if wait_trees_equal "$MD" "$SD" 120; then
	pass first_sync_ends_after_restart
else
	fail first_sync_ends_after_restart "$(tail -n 3 "$XS_TMP/s.log")"
fi
# the changes arrived before the end of the first sync
first=$(grep -n 'in sync with the master' "$XS_TMP/s.log" | head -1 | cut -d: -f1)
v2=$(grep -n 'received small-9 (12 bytes' "$XS_TMP/s.log" | head -1 | cut -d: -f1)
if [ -n "$first" ] && [ -n "$v2" ] && [ "$v2" -lt "$first" ]; then
	pass changed_during_first_sync
else
	fail changed_during_first_sync "line of small-9 v2 ${v2:-none}, of the end of the first sync ${first:-none}"
fi
left=$(find "$SD/.xmpp-sync" -name 'small-*' 2>/dev/null | wc -l)
if [ "$left" = 0 ]; then
	pass sent_files_not_kept_as_local
else
	fail sent_files_not_kept_as_local "$left kept: $(find "$SD/.xmpp-sync" -name 'small-*' | head -3)"
fi
if [ "$(kept own.txt)" = 1 ] &&
   [ "$(find "$SD/.xmpp-sync/local" -name own.txt -exec cat {} +)" = "the slave's own" ]; then
	pass own_file_kept_once
else
	fail own_file_kept_once "$(find "$SD/.xmpp-sync" -type f 2>&1 | head -5)"
fi
if grep -q 'local change' "$XS_TMP/s.log"; then
	fail no_local_change_at_restart "$(grep 'local change' "$XS_TMP/s.log" | head -3)"
else
	pass no_local_change_at_restart
fi
exit $XS_FAILED
