#!/bin/sh
# weight: 30 (seconds it takes; tests/run.sh starts the longest first)
# it_tempgc: nothing is left behind for ever. (a) A transfer cut off by a
# kill -9 of the master, whose file then changes, leaves no prefix once
# the master is back, and the new version arrives. (b) Temp files planted
# in a stopped slave's folder go at its start (old and empty ones) or
# once it is in sync (the rest), with one log line each time; what is not
# ours (a symlink, a directory, anything outside) stays. (c) Tombstones
# go from the master's index once every slave has applied them, not
# while a slave is offline, and a slave whose state is from before the
# collection is reconciled by manifest: nothing deleted comes back. (d) So
# is a slave restored to a state older than the seq it acknowledged.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s1 s2; do prosody_adduser $u secret-$u; done
X=$XS_BIN
# IBB is slow enough on loopback to stop a transfer half way
M=$(xs_conf m master m transports=ibb rescan_interval=10)
S1=$(xs_conf s1 slave s1 master=m@xs.test transports=ibb)
S2=$(xs_conf s2 slave s2 master=m@xs.test transports=ibb)
MD=$XS_TMP/m/dir S1D=$XS_TMP/s1/dir S2D=$XS_TMP/s2/dir
DB=$XS_TMP/m/state/xmpp-sync.db
for c in "$M" "$S1" "$S2"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s1@xs.test >/dev/null
"$X" -c "$M" slave add s2@xs.test >/dev/null
start_m() { xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID; }
start_s1() { xs_spawn "$XS_TMP/s1.log" "$X" -c "$S1" run; S1PID=$XS_LASTPID; }
start_s2() { xs_spawn "$XS_TMP/s2.log" "$X" -c "$S2" run; S2PID=$XS_LASTPID; }
temps() { find "$1" -name '.xmpp-sync-tmp.*' -type f | wc -l; }
sql() { sqlite3 "$DB" "$1"; }
tombstones() { sql "SELECT count(*) FROM files WHERE deleted = 1"; }
wait_tombstones() { # N SECS
	_n=$(($2 * 5))
	while [ "$_n" -gt 0 ]; do
		[ "$(tombstones)" = "$1" ] && return 0
		sleep 0.2; _n=$((_n - 1))
	done
	return 1
}

# ---- (a) a prefix whose file changed on the master ----------------------
size=$((32 * 1048576))
head -c "$size" /dev/urandom >"$MD/big.bin"
start_s1; start_m
got=0
for i in $(seq 1 2400); do
	got=$(find "$S1D" -name '.xmpp-sync-tmp.*' -printf '%s\n' 2>/dev/null | sort -n | tail -1)
	[ -n "$got" ] && [ "$got" -gt $((size / 4)) ] && break
	sleep 0.05
done
xs_kill "$MPID" KILL
stale=$(find "$S1D" -name '.xmpp-sync-tmp.*' -type f | head -1)
if [ -z "$got" ] || [ "$got" -ge "$size" ] || [ -z "$stale" ]; then
	fail interrupted_half_way "the transfer was not caught in progress (got ${got:-0}): $(tail -n 2 "$XS_TMP/m.log")"
	exit 1
fi
note "master killed with $got of $size bytes at the slave"
head -c 2097152 /dev/urandom >"$MD/big.bin"	# another version
start_m
if wait_trees_equal "$MD" "$S1D" 120; then
	pass new_version_arrives_after_kill
else
	fail new_version_arrives_after_kill "$(tail -n 3 "$XS_TMP/s1.log")"
fi
if [ ! -e "$stale" ] && [ "$(temps "$S1D")" = 0 ] &&
   grep -q 'removed the partial transfer of big.bin' "$XS_TMP/s1.log"; then
	pass stale_prefix_removed
else
	fail stale_prefix_removed "left: $(find "$S1D" -name '.xmpp-sync-tmp.*')"
fi

# ---- (b) temp files planted while the slave is stopped ------------------
xs_kill "$S1PID"
echo "outside" >"$XS_TMP/outside.txt"
head -c 5000 /dev/urandom >"$S1D/.xmpp-sync-tmp.0123456789abcdef0123456789abcdef"
touch -d '3 days ago' "$S1D/.xmpp-sync-tmp.0123456789abcdef0123456789abcdef"
: >"$S1D/.xmpp-sync-tmp.empty"
head -c 3000 /dev/urandom >"$S1D/.xmpp-sync-tmp.young"
ln -s "$XS_TMP/outside.txt" "$S1D/.xmpp-sync-tmp.link"
mkdir "$S1D/.xmpp-sync-tmp.dir" && echo x >"$S1D/.xmpp-sync-tmp.dir/f"
touch -d '3 days ago' "$S1D/.xmpp-sync-tmp.dir/f"
: >"$XS_TMP/s1.log"
start_s1
if xs_wait_log "$XS_TMP/s1.log" 'temp files of abandoned transfers at start: 2 removed \(5000 bytes freed\), 1 kept' 20 &&
   [ ! -e "$S1D/.xmpp-sync-tmp.empty" ] &&
   [ ! -e "$S1D/.xmpp-sync-tmp.0123456789abcdef0123456789abcdef" ]; then
	pass planted_temps_removed_at_start
else
	fail planted_temps_removed_at_start "$(grep 'temp files' "$XS_TMP/s1.log")"
fi
if xs_wait_log "$XS_TMP/s1.log" 'temp files of abandoned transfers once in sync: 1 removed \(3000 bytes freed\)' 60 &&
   [ ! -e "$S1D/.xmpp-sync-tmp.young" ]; then
	pass young_temp_removed_once_in_sync
else
	fail young_temp_removed_once_in_sync "$(grep 'temp files' "$XS_TMP/s1.log")"
fi
if [ -L "$S1D/.xmpp-sync-tmp.link" ] && [ -f "$XS_TMP/outside.txt" ] &&
   [ -f "$S1D/.xmpp-sync-tmp.dir/f" ]; then
	pass not_ours_untouched
else
	fail not_ours_untouched "a symlink, a directory or its target was removed"
fi
rm -rf "$S1D/.xmpp-sync-tmp.link" "$S1D/.xmpp-sync-tmp.dir"

# ---- (c) tombstones ----------------------------------------------------
# top-level files: a slave that received files into a directory finds
# that directory's mtime changed at its next start and reports local
# changes, which would hide the case under test
i=0; while [ $i -lt 20 ]; do echo "file $i" >"$MD/gone-$i"; i=$((i + 1)); done
echo keep >"$MD/keep.txt"
start_s2
if wait_trees_equal "$MD" "$S1D" 60 && wait_trees_equal "$MD" "$S2D" 120; then
	pass both_slaves_synced
else
	fail both_slaves_synced "$(tail -n 3 "$XS_TMP/s2.log")"
fi
# slave 2 as it is now, to come back with later
xs_kill "$S2PID"
cp -a "$XS_TMP/s2" "$XS_TMP/s2.old"
start_s2

# slave 1 offline while the deletes happen: it holds collection back
xs_kill "$S1PID"
rm "$MD"/gone-*
wait_trees_equal "$MD" "$S2D" 60 || fail deletes_applied "s2 differs"
sleep 12	# at least one periodic rescan, which collects
n=$(tombstones)
if [ "$n" = 20 ]; then
	pass offline_slave_holds_tombstones
else
	fail offline_slave_holds_tombstones "$n tombstones, want 20"
fi
start_s1
if wait_trees_equal "$MD" "$S1D" 60 && wait_tombstones 0 40; then
	pass tombstones_collected_once_applied
	note "$(grep -o 'collected [0-9]* tombstones.*' "$XS_TMP/m.log" | tail -1)"
else
	fail tombstones_collected_once_applied "$(tombstones) tombstones left"
fi

# slave 2 comes back with its state from before the deletes and the
# collection: its outbox cannot tell it, a manifest reconciliation does
xs_kill "$S2PID"
rm -rf "$XS_TMP/s2"
mv "$XS_TMP/s2.old" "$XS_TMP/s2"
: >"$XS_TMP/m.log"
start_s2
if wait_trees_equal "$MD" "$S2D" 60 && [ ! -e "$S2D/gone-0" ]; then
	pass old_slave_converges_without_resurrection
else
	fail old_slave_converges_without_resurrection "$(ls "$S2D")"
fi
if grep -q 's2@xs.test: its state (seq [0-9]*) is older than the tombstones collected' "$XS_TMP/m.log"; then
	pass old_slave_reconciled_by_manifest
else
	fail old_slave_reconciled_by_manifest "$(grep s2@ "$XS_TMP/m.log" | tail -n 3)"
fi

# ---- (d) a slave behind the seq it acknowledged ---------------------------
# slave 1 restored to a state older than what it acknowledged, with no
# deletion in between: its outbox is empty, yet it lacks a change
xs_kill "$S1PID"
cp -a "$XS_TMP/s1" "$XS_TMP/s1.old"
start_s1
echo "changed after the backup" >"$MD/keep.txt"
wait_trees_equal "$MD" "$S1D" 60 || fail change_applied "s1 differs"
xs_wait_log "$XS_TMP/s1.log" 'in sync with the master' 30
xs_kill "$S1PID"
rm -rf "$XS_TMP/s1"
mv "$XS_TMP/s1.old" "$XS_TMP/s1"
: >"$XS_TMP/m.log"
start_s1
if wait_trees_equal "$MD" "$S1D" 60 &&
   grep -q 's1@xs.test: it reports seq [0-9]*, older than the [0-9]* it acknowledged' "$XS_TMP/m.log"; then
	pass restored_slave_reconciled_by_manifest
else
	fail restored_slave_reconciled_by_manifest "$(grep s1@ "$XS_TMP/m.log" | tail -n 3)"
fi
exit $XS_FAILED
