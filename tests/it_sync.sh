#!/bin/sh
# weight: 36 (seconds it takes; tests/run.sh starts the longest first)
# it_sync: the product. A master and two slaves on a real Prosody; every
# kind of change is mirrored (trees compared by content, mode, mtime and
# symlink targets), a folder rename sends no content, an offline slave
# catches up with each path sent at most once, a killed master loses
# nothing, ignored files stay home and a slave's local change is undone.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s1 s2; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m "ignore=*.secret" "rescan_interval=3600")
S1=$(xs_conf s1 slave s1 master=m@xs.test)
S2=$(xs_conf s2 slave s2 master=m@xs.test)
MD=$XS_TMP/m/dir S1D=$XS_TMP/s1/dir S2D=$XS_TMP/s2/dir
for c in "$M" "$S1" "$S2"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s1@xs.test >/dev/null
"$X" -c "$M" slave add s2@xs.test >/dev/null

bytes_sent() { "$X" -c "$M" status --json | sed -n 's/.*"bytes_sent":\([0-9]*\).*/\1/p'; }
start_m() { xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID; }
start_s1() { xs_spawn "$XS_TMP/s1.log" "$X" -c "$S1" run; S1PID=$XS_LASTPID; }
start_s2() { xs_spawn "$XS_TMP/s2.log" "$X" -c "$S2" run; S2PID=$XS_LASTPID; }
both() { # NAME SECS: both slaves equal to the master
	if wait_trees_equal "$MD" "$S1D" "$2" && wait_trees_equal "$MD" "$S2D" "$2"; then
		pass "$1"
	else
		fail "$1" "trees differ (see above); $(tail -n 3 "$XS_TMP/m.log")"
	fi
}

# initial content, then everyone starts
mkdir -p "$MD/docs/old"
echo "first" >"$MD/a.txt"
head -c 300000 /dev/urandom >"$MD/docs/big.bin"
echo "keep me home" >"$MD/docs/x.secret"
start_m; start_s1; start_s2
XS_TREE_SKIP='*.secret' both initial_sync 60
[ ! -e "$S1D/docs/x.secret" ] && [ ! -e "$S2D/docs/x.secret" ] &&
	pass ignored_file_stays_home || fail ignored_file_stays_home "x.secret reached a slave"
# the ignored file must not even be in the trees we compare
rm -f "$MD/docs/x.secret"

# each kind of change
echo "second" >"$MD/a.txt"                       # modify
echo "more" >>"$MD/a.txt"                        # append
head -c 1000 /dev/urandom >"$MD/t.bin"; truncate -s 10 "$MD/t.bin"   # truncate
echo new >"$MD/new.txt"                          # create
echo gone >"$MD/gone.txt"
head -c 20971520 /dev/urandom >"$MD/live-big.bin"  # hashed off the loop
both create_modify_append_truncate 30
rm "$MD/gone.txt"                                # delete
mv "$MD/new.txt" "$MD/renamed.txt"               # rename a file
mkdir -p "$MD/p/q/r"                             # mkdir -p
rmdir "$MD/docs/old"                             # rmdir
chmod 600 "$MD/a.txt"                            # chmod
touch -d '2001-02-03 04:05:06' "$MD/renamed.txt" # touch -d
ln -s ../a.txt "$MD/p/link"                      # symlink
both delete_rename_mkdir_rmdir_chmod_touch_symlink 30

# a folder of 1,000 files, then its rename: no content travels again
mkdir "$MD/many"
i=0; while [ $i -lt 1000 ]; do echo "file $i" >"$MD/many/f$i"; i=$((i + 1)); done
both thousand_files 120
before=$(bytes_sent)
mv "$MD/many" "$MD/many-renamed"
both folder_rename 60
after=$(bytes_sent)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	pass folder_rename_sends_no_content
	note "bytes sent before and after renaming 1,000 files: $before / $after"
else
	fail folder_rename_sends_no_content "bytes sent $before -> $after"
fi

# slave 2 offline while 1,000 changes happen
xs_kill "$S2PID"
: >"$XS_TMP/s2.log"
i=0; while [ $i -lt 10 ]; do echo "version $i" >"$MD/ten-times.txt"; i=$((i + 1)); done
echo short-lived >"$MD/short.txt"; rm "$MD/short.txt"
i=0; while [ $i -lt 988 ]; do echo "change $i" >"$MD/many-renamed/f$i"; i=$((i + 1)); done
mkdir "$MD/offline-dir"; echo x >"$MD/offline-dir/y"
wait_trees_equal "$MD" "$S1D" 120 && pass online_slave_follows || fail online_slave_follows "s1 differs"
start_s2
if wait_trees_equal "$MD" "$S2D" 180; then
	pass offline_slave_converges
else
	fail offline_slave_converges "$(tail -n 5 "$XS_TMP/s2.log")"
fi
# one line per file the slave verified and installed
dups=$(grep -o 'received [^ ]* ([0-9]* bytes, verified)' "$XS_TMP/s2.log" | cut -d' ' -f2 | sort | uniq -d | head -3)
n=$(grep -c 'received [^ ]* ([0-9]* bytes, verified)' "$XS_TMP/s2.log")
if [ -z "$dups" ] && ! grep -q 'received short.txt' "$XS_TMP/s2.log"; then
	pass offline_each_path_at_most_once
	note "slave 2 received $n files after reconnecting"
else
	fail offline_each_path_at_most_once "sent twice: $dups"
fi

# master killed with pending work; restarted, everyone converges
xs_kill "$S1PID"
i=0; while [ $i -lt 50 ]; do echo "pending $i" >"$MD/pend$i"; i=$((i + 1)); done
sleep 1
xs_kill "$MPID" KILL
echo "while down" >"$MD/while-down.txt"
start_m; start_s1
both master_killed_nothing_lost 120

# a slave's local change made while it was stopped is replaced by the
# master's version at its start, and kept below its own area
xs_kill "$S1PID"
echo "local edit" >"$S1D/a.txt"
echo "local extra" >"$S1D/extra.txt"
start_s1
if XS_TREE_SKIP=.xmpp-sync wait_trees_equal "$MD" "$S1D" 60; then
	pass slave_local_change_replaced
else
	fail slave_local_change_replaced "$(tail -n 5 "$XS_TMP/s1.log")"
fi
grep -q 'local changes' "$XS_TMP/s1.log" && pass slave_local_change_logged ||
	fail slave_local_change_logged "no log line"
if [ "$(find "$S1D/.xmpp-sync/local" -path '*/a.txt' -exec cat {} +)" = "local edit" ] &&
   [ "$(find "$S1D/.xmpp-sync/local" -path '*/extra.txt' -exec cat {} +)" = "local extra" ]; then
	pass slave_local_change_kept
else
	fail slave_local_change_kept "$(find "$S1D/.xmpp-sync" 2>&1 | head -5)"
fi

# slave 2 loses its store: re-sync by manifest, identical files not re-sent
xs_kill "$S2PID"
rm -rf "$XS_TMP/s2/state"; mkdir "$XS_TMP/s2/state"
"$X" -c "$S2" init >/dev/null
"$X" -c "$M" slave remove s2@xs.test >/dev/null
"$X" -c "$M" slave add s2@xs.test >/dev/null
: >"$XS_TMP/s2.log"
start_s2
if wait_trees_equal "$MD" "$S2D" 120 && xs_wait_log "$XS_TMP/s2.log" 'in sync with the master' 30; then
	n=$(grep -c 'received [^ ]* ([0-9]* bytes, verified)' "$XS_TMP/s2.log")
	[ "$n" = 0 ] && pass lost_store_resync_sends_nothing_identical ||
		fail lost_store_resync_sends_nothing_identical "$n files received again"
else
	fail lost_store_resync_sends_nothing_identical "did not converge: $(tail -n 5 "$XS_TMP/s2.log")"
fi
exit $XS_FAILED
