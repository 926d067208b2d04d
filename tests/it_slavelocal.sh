#!/bin/sh
# it_slavelocal: a running slave watches its own folder. An edit, a new
# file and a deletion made on the slave while both run are each undone
# from the master's copy within 10 s, without a restart, and logged; what
# the user wrote is kept below .xmpp-sync/local/; a burst of local changes
# costs one reconciliation; the applier's own writes are never taken for
# local changes; with versions = 1, a file changed on the master leaves
# its previous version below .xmpp-sync/versions/.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m "rescan_interval=3600")
S=$(xs_conf s slave s master=m@xs.test "versions=1")
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
SLOG=$XS_TMP/s.log MLOG=$XS_TMP/m.log
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null
# the slave's own area is never part of a comparison
XS_TREE_SKIP=.xmpp-sync

# within SECS seconds, CMD succeeds (polled every 0.2 s)
within() { # SECS CMD...
	_n=$(($1 * 5)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2; _n=$((_n - 1))
	done
	return 1
}
same() { cmp -s "$MD/$1" "$SD/$1"; }
gone() { [ ! -e "$SD/$1" ]; }
# the content of the local version of PATH kept below .xmpp-sync/local/
kept() { find "$SD/.xmpp-sync/local" -path "*/$1" -type f -exec cat {} + 2>/dev/null; }
changes() { grep -c 'local change on the slave' "$SLOG"; }
rounds() { grep -c 'reconciled against its manifest' "$MLOG"; }

mkdir -p "$MD/docs"
echo "master a" >"$MD/a.txt"
echo "master b" >"$MD/b.txt"
echo "master c, first version" >"$MD/docs/c.txt"
head -c 200000 /dev/urandom >"$MD/docs/big.bin"
xs_spawn "$MLOG" "$X" -c "$M" run; MPID=$XS_LASTPID
xs_spawn "$SLOG" "$X" -c "$S" run; SPID=$XS_LASTPID
if wait_trees_equal "$MD" "$SD" 60 && xs_wait_log "$SLOG" 'in sync with the master' 30; then
	pass initial_sync
else
	fail initial_sync "$(tail -n 5 "$SLOG")"; exit 1
fi
[ "$(changes)" = 0 ] && pass applier_writes_not_local_changes ||
	fail applier_writes_not_local_changes "$(grep 'local change' "$SLOG" | head -3)"

# (a) an edit on the slave
echo "edited on the slave" >"$SD/a.txt"
if within 10 same a.txt; then
	pass edit_undone_within_10s
else
	fail edit_undone_within_10s "a.txt: $(cat "$SD/a.txt"); $(tail -n 3 "$SLOG")"
fi
grep -q 'local change on the slave: a.txt (modified)' "$SLOG" &&
	pass edit_logged || fail edit_logged "no line for a.txt"
[ "$(kept a.txt)" = "edited on the slave" ] && pass edit_kept ||
	fail edit_kept "kept: $(kept a.txt)"
grep -q 'kept the local version of a.txt as .xmpp-sync/local/' "$SLOG" &&
	pass edit_kept_logged || fail edit_kept_logged "no line for a.txt"

# (b) a file created on the slave
echo "an extra on the slave" >"$SD/extra.txt"
if within 10 gone extra.txt; then
	pass extra_removed_within_10s
else
	fail extra_removed_within_10s "$(tail -n 3 "$SLOG")"
fi
grep -q 'local change on the slave: extra.txt (created)' "$SLOG" &&
	pass extra_logged || fail extra_logged "no line for extra.txt"
[ "$(kept extra.txt)" = "an extra on the slave" ] && pass extra_kept ||
	fail extra_kept "kept: $(kept extra.txt)"

# (c) a file deleted on the slave
rm "$SD/b.txt"
if within 10 same b.txt; then
	pass delete_restored_within_10s
else
	fail delete_restored_within_10s "$(tail -n 3 "$SLOG")"
fi
grep -q 'local change on the slave: b.txt (deleted)' "$SLOG" &&
	pass delete_logged || fail delete_logged "no line for b.txt"

# a folder renamed on the slave: one line, restored, the new name removed
mv "$SD/docs" "$SD/docs2"
if within 10 gone docs2 && within 10 same docs/big.bin; then
	pass rename_undone_within_10s
else
	fail rename_undone_within_10s "$(tail -n 3 "$SLOG")"
fi
grep -q 'local change on the slave: docs (renamed to docs2)' "$SLOG" &&
	pass rename_logged || fail rename_logged "no line for docs"

# a burst: a new folder of 50 files and an edit, one reconciliation
before=$(rounds)
mkdir "$SD/burst"
i=0; while [ $i -lt 50 ]; do echo "$i" >"$SD/burst/f$i"; i=$((i + 1)); done
echo "edited again" >"$SD/docs/c.txt"
if within 10 gone burst && within 10 same docs/c.txt; then
	pass burst_undone_within_10s
else
	fail burst_undone_within_10s "$(tail -n 3 "$SLOG")"
fi
n=$(( $(rounds) - before ))
[ "$n" = 1 ] && pass burst_one_reconciliation ||
	fail burst_one_reconciliation "$n reconciliations"
[ "$(find "$SD/.xmpp-sync/local" -path '*/burst/f*' -type f -printf '%f\n' |
	sort -u | wc -l)" = 50 ] &&
	pass burst_kept || fail burst_kept "not all 50 files kept"

# (d) versions = 1: a file changed on the master keeps its old version
xs_wait_log "$SLOG" 'local changes replaced by the master' 10
before=$(changes)
echo "master c, second version" >"$MD/docs/c.txt"
if within 10 same docs/c.txt; then
	v=$(find "$SD/.xmpp-sync/versions/docs" -name 'c.txt~*' -type f \
		-exec grep -l 'master c, first version' {} + 2>/dev/null | head -1)
	[ -n "$v" ] && pass master_change_leaves_a_version ||
		fail master_change_leaves_a_version "$(ls -R "$SD/.xmpp-sync/versions" 2>&1 | head -5)"
	note "kept as ${v#$SD/}"
else
	fail master_change_leaves_a_version "c.txt not updated"
fi
sleep 1
[ "$(changes)" = "$before" ] && pass master_change_not_a_local_change ||
	fail master_change_not_a_local_change "$(grep 'local change' "$SLOG" | tail -1)"

kill -0 "$SPID" 2>/dev/null && kill -0 "$MPID" 2>/dev/null &&
	pass both_still_running || fail both_still_running "$(tail -n 3 "$SLOG")"

# an edit seen while the master is away, then the slave restarts: its
# dirty mark survives, and the master's copy comes back after all
edits() { grep -c 'local change on the slave: a.txt (modified)' "$SLOG"; }
edit_seen() { [ "$(edits)" -gt "$n" ]; }
xs_kill "$MPID"
n=$(edits)
echo "edited while the master is away" >"$SD/a.txt"
within 10 edit_seen || note "the edit was not seen"
sleep 1
xs_kill "$SPID"
xs_spawn "$MLOG" "$X" -c "$M" run; MPID=$XS_LASTPID
xs_spawn "$SLOG" "$X" -c "$S" run; SPID=$XS_LASTPID
if within 30 same a.txt; then
	pass dirty_mark_survives_a_restart
else
	fail dirty_mark_survives_a_restart "a.txt: $(cat "$SD/a.txt"); $(tail -n 3 "$SLOG")"
fi

if wait_trees_equal "$MD" "$SD" 20; then
	pass trees_equal_at_the_end
else
	fail trees_equal_at_the_end "see above"
fi
[ ! -e "$MD/.xmpp-sync" ] && pass master_has_no_slave_area ||
	fail master_has_no_slave_area "$MD/.xmpp-sync exists"
exit $XS_FAILED
