#!/bin/sh
# it_antientropy: a slave that diverged behind the protocol's back is found
# by comparing index digests and repaired, without restarting the master.
#  - a mirror in sync compares equal (both sides compute the same digest);
#  - the slave is stopped, two files (one named in Latin-1, not UTF-8) are
#    deleted and another changed on its disk, and its index rows are
#    changed to match (so its own startup scan sees nothing); after it
#    comes back all three are repaired;
#  - an operation is lost: the master's outbox rows for two changes are
#    deleted while the slave is stopped; after it comes back they arrive;
#  - while both run, the slave's index alone goes wrong (a row lost, a
#    row for a file that is not there, a directory's mode) while its disk
#    stays right, so its own watcher sees nothing; the next periodic
#    comparison (digest_interval = 2) repairs all three.
# Each time the trees must become identical and the master's log must name
# the repaired paths.
. "$(dirname "$0")/lib/harness.sh"
export LC_ALL=C	# log lines hold a name that is not UTF-8: grep bytes
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m digest_interval=2 log_level=debug)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
MDB=$XS_TMP/m/state/xmpp-sync.db SDB=$XS_TMP/s/state/xmpp-sync.db
T=1600000000	# a fixed mtime, seconds
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null

sql() { # DB SQL: run SQL while an agent may hold the database
	sqlite3 -cmd ".timeout 10000" "$1" "$2"
}
sha() { sha256sum "$1" | cut -c1-64; }
start_s() { xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID; }
# repaired NAME PATTERN SECS: the trees become equal and the master's log
# gets a repair line matching PATTERN
repaired() {
	if ! wait_trees_equal "$MD" "$SD" "$3"; then
		fail "$1" "trees differ (see above); $(tail -n 3 "$XS_TMP/m.log")"
	elif ! xs_wait_log "$XS_TMP/m.log" "$2" 10; then
		fail "$1" "no repair line matching '$2' in the master's log"
	else
		pass "$1"
	fi
}
# set_file REL CONTENT: writes a slave file behind the master's back and
# makes its index row say the same
set_file() {
	printf '%s' "$2" >"$SD/$1"
	touch -d "@$T" "$SD/$1"
	sql "$SDB" "UPDATE files SET size = $(stat -c %s "$SD/$1"),
	    mtime_ns = ${T}000000000, sha256 = X'$(sha "$SD/$1")'
	    WHERE path = '$1'"
}
# dirs_as_on_disk: makes the slave's directory rows carry the mtimes its
# disk has. They differ after any transfer into a directory (the file
# lands after the directory's own mtime was applied and recorded), and
# the slave's startup scan would then report local changes and the master
# reconcile by manifest: here the divergence must stay silent.
dirs_as_on_disk() {
	(cd "$SD" && find . -mindepth 1 -type d -printf '%P\n') | while read -r d; do
		sql "$SDB" "UPDATE files SET mtime_ns = $(stat -c %.9Y "$SD/$d" | tr -d .)
		    WHERE path = '$d'"
	done
}
# restart_s NAME: starts the slave again; fails NAME if its own scan saw
# what was done behind its back
restart_s() {
	_n=$(wc -l <"$XS_TMP/s.log")
	start_s
	xs_wait_log "$XS_TMP/s.log" 'connected as' 30
	if tail -n +"$((_n + 1))" "$XS_TMP/s.log" | grep -q 'local changes'; then
		fail "$1" "the slave's scan saw the edit: not a silent divergence"
		return 1
	fi
}

mkdir -p "$MD/docs/sub"
echo alpha >"$MD/a.txt"
echo beta >"$MD/docs/b.txt"
echo gamma >"$MD/docs/sub/c.txt"
echo keep >"$MD/keep.txt"
printf 'latin-1 name' >"$MD/docs/$(printf 'caf\351')"
ln -s docs/b.txt "$MD/link"
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
start_s
wait_trees_equal "$MD" "$SD" 30 || { fail initial_sync "no initial sync"; exit 1; }
if xs_wait_log "$XS_TMP/m.log" 's@xs.test: in sync \(digest [0-9a-f]{16}\)' 15 &&
   ! grep -q 'index digest differs' "$XS_TMP/m.log"; then
	pass mirror_in_sync_compares_equal
else
	fail mirror_in_sync_compares_equal "$(grep -E 'digest' "$XS_TMP/m.log" | tail -n 3)"
fi

# 1. the slave's disk and index changed while it was stopped
xs_kill "$SPID"
rm "$SD/docs/b.txt"
sql "$SDB" "DELETE FROM files WHERE path = 'docs/b.txt'"
rm "$SD/docs/$(printf 'caf\351')"	# a name that is not UTF-8: base64 on the wire
sql "$SDB" "DELETE FROM files WHERE path = CAST(X'646f63732f636166e9' AS TEXT)"
set_file docs/sub/c.txt "not gamma at all"
dirs_as_on_disk
restart_s slave_divergence_repaired_after_reconnect &&
	repaired slave_divergence_repaired_after_reconnect \
		'index digest differs; repaired 3 entries \(docs/b.txt, docs/caf.+, docs/sub/c.txt\)' 30

# 2. operations lost from the master's outbox while the slave was stopped
xs_kill "$SPID"
echo "keep, changed" >"$MD/keep.txt"
echo new >"$MD/docs/new.txt"
n=0
while [ "$(sql "$MDB" "SELECT count(*) FROM outbox WHERE path IN ('keep.txt', 'docs/new.txt')")" != 2 ] &&
      [ $n -lt 100 ]; do
	sleep 0.1; n=$((n + 1))
done
sql "$MDB" "DELETE FROM outbox WHERE slave = 's@xs.test'"
dirs_as_on_disk
restart_s lost_operations_repaired_after_reconnect &&
	repaired lost_operations_repaired_after_reconnect \
		'index digest differs; repaired 2 entries \((docs/new.txt, keep.txt|keep.txt, docs/new.txt)\)' 30

# 3. periodic, both running: the slave's index alone goes wrong while its
#    disk stays right (so its own watcher sees nothing): a row lost, a row
#    for a file that is not there, a directory's mode
sql "$SDB" "DELETE FROM files WHERE path = 'a.txt'"
sql "$SDB" "INSERT INTO files (path, type, size, mtime_ns, mode, sha256, seq)
    VALUES ('extra.txt', 'file', 5, ${T}000000000, 420,
    X'$(printf extra | sha256sum | cut -c1-64)', 900000000)"
sql "$SDB" "UPDATE files SET mode = 448 WHERE path = 'docs/sub'"
index_right() {
	[ "$(sql "$SDB" "SELECT count(*) FROM files WHERE deleted = 0 AND
	    ((path = 'a.txt' AND type = 'file') OR
	     (path = 'docs/sub' AND mode = 493) OR path = 'extra.txt')")" = 2 ]
}
if xs_wait_log "$XS_TMP/m.log" \
	'index digest differs; repaired 3 entries \(a.txt, extra.txt, docs/sub\)' 30 &&
   wait_trees_equal "$MD" "$SD" 10; then
	n=0
	while ! index_right && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	if index_right; then
		pass index_divergence_repaired_periodically_while_running
	else
		fail index_divergence_repaired_periodically_while_running "the slave's index is still wrong"
	fi
else
	fail index_divergence_repaired_periodically_while_running "no repair line; $(grep -a 'digest' "$XS_TMP/m.log" | grep -v libstrophe | tail -n 2)"
fi

# nothing was restarted but the slave
if kill -0 "$MPID" 2>/dev/null && [ "$(grep -c 'scan (start)' "$XS_TMP/m.log")" = 1 ]; then
	pass master_never_restarted
else
	fail master_never_restarted "the master stopped or started again"
fi
exit $XS_FAILED
