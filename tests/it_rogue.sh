#!/bin/sh
# it_rogue: a master cannot turn a slave against its host.
#  - both daemons say their Landlock sandbox is in force (tests/test_sandbox.c
#    checks what it allows);
#  - modes: a setuid/setgid file and a setgid directory on the master
#    arrive without those bits (a sticky directory keeps its bit); master
#    and slave then agree: digest rounds every 2 s find them in sync and
#    repair nothing, and the slave's own watcher sees no local change;
#  - a rogue master (tests/tools/rogue: the real master's account,
#    resource and identity key, paired through the project's own peer
#    code) plants symlinks out of the folder (to a sibling directory, to
#    "..") and then tries to put, mkdir, rmdir, meta, delete, rename and
#    symlink through them, rename onto and from paths through them, paths
#    with ".." and absolute paths, the same in base64 forms, names longer
#    than NAME_MAX, paths longer than PATH_MAX, a NUL, a digest page after
#    a name holding "/", and setuid/setgid bits. Each is answered as
#    expected (fail, or an error), each refusal is in the slave's log, and
#    nothing outside the slave's folder changes (snapshots of the sibling
#    directory and of the folder's parent, before and after);
#    The slave keeps old versions (versions = 1), so what it replaces or
#    removes for the rogue goes below .xmpp-sync/versions/ too;
#  - the slave is still alive, syncs a normal file from the real master
#    afterwards, and the real master's digest rounds remove what the rogue
#    left (the symlinks themselves, never what they point to).
. "$(dirname "$0")/lib/harness.sh"
xs_setup
XS_TREE_SKIP=.xmpp-sync
export XS_TREE_SKIP
xs_pair digest_interval=2 log_level=debug -- versions=1
MLOG=$XS_TMP/m.log SLOG=$XS_TMP/s.log
ROGUE=$XS_BUILD/tests/tools/rogue
[ -x "$ROGUE" ] || { fail setup "$ROGUE not built"; exit 1; }

within() { # SECS CMD...
	_n=$(($1 * 5)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2; _n=$((_n - 1))
	done
	return 1
}
mode_is() { [ "$(stat -c %a "$1" 2>/dev/null)" = "$2" ]; }

# ---- both daemons run in their Landlock sandbox ------------------------

if grep -q 'sandbox: Landlock (ABI [0-9]*) in force: writes only below' "$SLOG" &&
   grep -q 'sandbox: Landlock (ABI [0-9]*) in force: reads' "$MLOG" &&
   grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$SPID/status"; then
	pass sandbox_in_force_on_both
elif grep -q 'sandbox: this kernel has no Landlock\|too old' "$SLOG"; then
	skip sandbox_in_force_on_both "no usable Landlock in this kernel"
else
	fail sandbox_in_force_on_both "$(grep -h sandbox "$SLOG" "$MLOG" | head -2)"
fi

# ---- modes: what the slave never applies, nobody compares --------------

printf '#!/bin/sh\necho hi\n' >"$MD/suid.sh"
chmod 6755 "$MD/suid.sh"
mkdir "$MD/shared" "$MD/drop"
chmod 2775 "$MD/shared"
chmod 1777 "$MD/drop"
if within 30 mode_is "$SD/suid.sh" 755 && within 10 mode_is "$SD/shared" 775 &&
   within 10 mode_is "$SD/drop" 1777; then
	pass setuid_setgid_dropped_sticky_directory_kept
else
	fail setuid_setgid_dropped_sticky_directory_kept \
		"$(stat -c '%n %a' "$SD/suid.sh" "$SD/shared" "$SD/drop" 2>&1 | tr '\n' ' ')"
fi
grep -q 'refusing the setuid, setgid or sticky bits of suid.sh (mode 6755): applying 0755' "$SLOG" &&
	pass setuid_refusal_logged || fail setuid_refusal_logged "$(grep -i setuid "$SLOG" | tail -2)"
# three digest rounds after the sync: in sync each time, nothing repaired
n0=$(wc -l <"$MLOG")
sleep 8
rounds=$(tail -n +"$((n0 + 1))" "$MLOG" | grep -c 'in sync (digest')
repairs=$(tail -n +"$((n0 + 1))" "$MLOG" | grep -c 'index digest differs')
if [ "$rounds" -ge 2 ] && [ "$repairs" -eq 0 ]; then
	pass setuid_file_converges_${rounds}_digest_rounds_in_sync
else
	fail setuid_file_converges "$rounds rounds in sync, $repairs repairs: $(grep 'index digest differs' "$MLOG" | tail -1)"
fi
grep -q 'local change on the slave' "$SLOG" &&
	fail masked_modes_not_local_changes "$(grep 'local change on the slave' "$SLOG" | head -2)" ||
	pass masked_modes_not_local_changes
# from here on the trees compare modes as they are: drop the special bits
chmod u-s,g-s "$MD/suid.sh" "$MD/shared"
wait_trees_equal "$MD" "$SD" 30 || { fail modes_settle "trees differ"; exit 1; }

# ---- the rogue master ------------------------------------------------

OUT=$XS_TMP/outside		# a sibling directory the links point to
mkdir -p "$OUT/sub"
echo "secret" >"$OUT/secret"
echo "keep" >"$OUT/sub/keep"
UP=$XS_TMP/s			# the slave folder's parent: "..", its password
top_names() { ls -a "$XS_TMP" | grep -v '^rogue\.' | sha256sum; }
snap() { # DIR: what is there, with sizes, modes and file mtimes
	find "$1" \( -name 'xmpp-sync.db*' -o -name control.sock -o -path "$SD" \) -prune -o \
		\( -type d -printf '%p d %m\n' -o -printf '%p %y %s %m %T@ %l\n' \) |
		LC_ALL=C sort | sha256sum
}
snap_out=$(snap "$OUT") snap_up=$(snap "$UP") snap_top=$(top_names)

xs_kill "$MPID"
xs_wait_log "$SLOG" 'went offline' 20 || note "the slave did not log the master going offline"

T=1700000000000000000
H=$(printf 'ready\n' | sha256sum | cut -c1-64)	# content the slave holds
Z=$(printf 'other\n' | sha256sum | cut -c1-64)	# content it does not
b64() { printf '%s' "$1" | base64 -w0; }
LONG=$(printf '%0256d' 0 | tr 0 x)		# NAME_MAX + 1 bytes
DEEP=$(i=0; while [ $i -lt 17 ]; do printf '%0250d/' 0 | tr 0 d; i=$((i + 1)); done; echo f)
SCRIPT=$XS_TMP/rogue.script EXPECT=$XS_TMP/rogue.expect
: >"$SCRIPT"; : >"$EXPECT"
att() { # EXPECT PAYLOAD: ok, fail, need (an op's answer), error (the IQ's)
	echo "$1" >>"$EXPECT"; echo "$2" >>"$SCRIPT"
}
op() { # EXPECT ATTRS: one operation in its own batch
	att "$1" "<sync xmlns='urn:xmpp-sync:meta:0'><op $2 q='1'/></sync>"
}
# leaves the master may plant: links, even pointing outside
op ok   "k='symlink' p='l' l='$OUT' m='777' t='$T'"
op ok   "k='symlink' p='up' l='..' m='777' t='$T'"
op ok   "k='symlink' p='abs' l64='$(b64 "$OUT/sub")' m='777' t='$T'"
op ok   "k='meta' p='l' m='777' t='$T'"		# the link's mtime only
# through a link to a sibling directory
op fail "k='mkdir' p='l/x' m='755' t='$T'"
op fail "k='put' p='l/x' s='6' h='$H' m='644' t='$T'"
op fail "k='put' p='l/pwned' s='6' h='$Z' m='644' t='$T'"
op fail "k='meta' p='l/secret' m='777' t='$T'"
op fail "k='delete' p='l/secret'"
op fail "k='rmdir' p='l/sub'"
op fail "k='rename' f='ready' p='l/pwned' m='644' t='$T'"
op fail "k='rename' f='l/secret' p='stolen' m='644' t='$T'"
op fail "k='symlink' p='l/y' l='x' m='777' t='$T'"
op fail "k='put' p='l/sub/keep' s='6' h='$H' m='644' t='$T'"
# through a link to ".."
op fail "k='mkdir' p='up/pwned' m='755' t='$T'"
op fail "k='put' p='up/password' s='6' h='$H' m='644' t='$T'"
op fail "k='meta' p='up/password' m='666' t='$T'"
op fail "k='delete' p='up/password'"
op fail "k='rename' f='up/conf' p='stolen' m='644' t='$T'"
op fail "k='rename' f='ready' p='up/pwned' m='644' t='$T'"
op fail "k='mkdir' p='abs/pwned' m='755' t='$T'"
# ".." and absolute paths, in clear and in base64
op fail "k='mkdir' p='../pwned' m='755' t='$T'"
op fail "k='put' p='../pwned' s='6' h='$H' m='644' t='$T'"
op fail "k='delete' p='../password'"
op fail "k='delete' p='a/../../password'"
op fail "k='rename' f='ready' p='../pwned' m='644' t='$T'"
op fail "k='rename' f='../password' p='stolen' m='644' t='$T'"
op fail "k='mkdir' p='$XS_TMP/pwned-abs' m='755' t='$T'"
op fail "k='delete' p='$UP/password'"
op fail "k='mkdir' p64='$(b64 ../pwned)' m='755' t='$T'"
op fail "k='mkdir' p64='$(b64 "$XS_TMP/pwned-abs")' m='755' t='$T'"
op fail "k='put' p64='$(b64 a/../../pwned)' s='6' h='$H' m='644' t='$T'"
op fail "k='rename' f64='$(b64 ../password)' p='stolen' m='644' t='$T'"
op fail "k='rename' f='ready' p64='$(b64 ../pwned)' m='644' t='$T'"
op fail "k='mkdir' p64='$(printf 'a\000b' | base64 -w0)' m='755' t='$T'"
op fail "k='mkdir' p64='$(b64 'a//b')' m='755' t='$T'"
op fail "k='delete' p64='$(b64 .xmpp-sync/local)'"
# names too long
op fail "k='mkdir' p='$LONG' m='755' t='$T'"
op fail "k='put' p='d/$LONG' s='6' h='$H' m='644' t='$T'"
op fail "k='mkdir' p='$DEEP' m='755' t='$T'"
# a digest page after a "name" holding "/" once decoded, of ".."
att error "<digest xmlns='urn:xmpp-sync:meta:0' after64='$(b64 a/b)'/>"
att error "<digest xmlns='urn:xmpp-sync:meta:0' after64='$(b64 a/../..)'/>"
att error "<digest xmlns='urn:xmpp-sync:meta:0' path64='$(b64 ../s)'/>"
# setuid and setgid: applied without those bits
op ok   "k='put' p='suid2' s='6' h='$H' m='6755' t='$T'"
op ok   "k='meta' p='ready' m='4755' t='$T'"
op ok   "k='mkdir' p='sg' m='2775' t='$T'"
op ok   "k='mkdir' p='sticky' m='1777' t='$T'"
op ok   "k='rename' f='sticky' p='sticky2' m='3777' t='$T'"
# removing a link removes the link (kept below .xmpp-sync/versions/)
op ok   "k='delete' p='abs'"
op ok   "k='symlink' p='abs' l='$OUT/sub' m='777' t='$T'"
NP=$(wc -l <"$EXPECT")

timeout -k 5 150 "$ROGUE" "$M" "$SCRIPT" 120 >"$XS_TMP/rogue.out" 2>"$XS_TMP/rogue.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^ANSWER ' "$XS_TMP/rogue.out")" -eq "$NP" ]; then
	pass rogue_paired_and_got_${NP}_answers
else
	fail rogue_paired_and_got_answers "status $rc: $(tail -n 3 "$XS_TMP/rogue.err" | tr '\n' ' ')"
fi
i=0 bad=0
while read -r want; do
	line=$(grep "^ANSWER $i " "$XS_TMP/rogue.out")
	case $want in
	error) echo "$line" | grep -q "^ANSWER $i error .*bad-request" ;;
	*) echo "$line" | grep -q "^ANSWER $i result .*s=.$want." ;;
	esac || { bad=$((bad + 1)); note "payload $i: want $want: $(sed -n "$((i + 1))p" "$SCRIPT" | cut -c1-160)"; note "  got: $(echo "$line" | cut -c1-200)"; }
	i=$((i + 1))
done <"$EXPECT"
[ $bad -eq 0 ] && pass each_attempt_answered_as_expected || fail each_attempt_answered_as_expected "$bad of $NP differ"

# every refusal is logged where it happened
logged() { # NAME REGEX [MIN]
	n=$(grep -Ec "$2" "$SLOG")
	[ "$n" -ge "${3:-1}" ] && pass "$1" || fail "$1" "$n lines match '$2'"
}
logged refusal_logged_mkdir_through_link 'refusing to create directory l/x: a symlink or file is in the way'
logged refusal_logged_put_through_link 'refusing to (look up|receive) l/pwned: a symlink or file is in the way'
logged refusal_logged_meta_through_link 'refusing to set the metadata of l/secret: a symlink'
logged refusal_logged_delete_through_link 'refusing to delete l/secret: a symlink'
logged refusal_logged_rmdir_through_link 'refusing to remove directory l/sub: a symlink'
logged refusal_logged_rename_onto_link 'refusing to rename to l/pwned: a symlink'
logged refusal_logged_rename_from_link 'refusing to rename l/secret: a symlink'
logged refusal_logged_symlink_through_link 'refusing to create symlink l/y: a symlink'
logged refusal_logged_through_dotdot_link 'refusing to (create directory|look up|set the metadata of|delete|rename|rename to) up/[a-z]*: a symlink' 6
# 19 paths (".." or absolute, base64, NUL, the slave's area, too long)
# refused by the parser, 3 digest requests
logged refusal_logged_unsafe_paths 'refused an operation from the master: unsafe or missing path' 19
logged refusal_logged_digest_requests 'refused a digest request from the master: (unsafe path|bad name in after)' 3
logged refusal_logged_setuid 'refusing the setuid, setgid or sticky bits of suid2 \(mode 6755\): applying 0755'
logged refusal_logged_setgid_dir 'refusing the setuid, setgid or sticky bits of sg \(mode 2775\): applying 0775'

# nothing outside the folder changed
[ "$(snap "$OUT")" = "$snap_out" ] && pass sibling_directory_untouched ||
	fail sibling_directory_untouched "$(find "$OUT" -newer "$SCRIPT" | head -5 | tr '\n' ' ')"
[ "$(snap "$UP")" = "$snap_up" ] && pass folder_parent_untouched ||
	fail folder_parent_untouched "$(find "$UP" -path "$SD" -prune -o -newer "$SCRIPT" -print | head -5 | tr '\n' ' ')"
[ "$(top_names)" = "$snap_top" ] && pass test_root_untouched ||
	fail test_root_untouched "$(ls -a "$XS_TMP" | tr '\n' ' ')"
found=$(find "$XS_TMP" "${TMPDIR:-/tmp}" -maxdepth 3 -name 'pwned*' 2>/dev/null | head -3)
[ -z "$found" ] && pass no_pwned_anywhere || fail no_pwned_anywhere "$found"
[ "$(cat "$OUT/secret")" = secret ] && [ ! -e "$SD/stolen" ] &&
	pass outside_file_neither_changed_nor_stolen || fail outside_file_neither_changed_nor_stolen "$(ls "$SD")"

# what was allowed is there, as the rules say
if [ -L "$SD/l" ] && [ "$(readlink "$SD/l")" = "$OUT" ] && [ -L "$SD/up" ] &&
   [ "$(readlink "$SD/abs")" = "$OUT/sub" ] &&
   mode_is "$SD/suid2" 755 && mode_is "$SD/ready" 755 && mode_is "$SD/sg" 775 &&
   mode_is "$SD/sticky2" 1777; then
	pass leaves_and_masked_modes_on_the_slave
else
	fail leaves_and_masked_modes_on_the_slave "$(ls -l "$SD" | tr '\n' ' ')"
fi

# ---- the slave lives on and follows the real master --------------------

kill -0 "$SPID" 2>/dev/null && pass slave_still_running || fail slave_still_running "it exited"
xs_spawn "$MLOG" "$XS_BIN" -c "$M" run; MPID=$XS_LASTPID
echo "after the rogue" >"$MD/after.txt"
if within 60 cmp -s "$MD/after.txt" "$SD/after.txt"; then
	pass slave_syncs_a_normal_file_afterwards
else
	fail slave_syncs_a_normal_file_afterwards "$(tail -n 3 "$SLOG" | tr '\n' ' ')"
fi
# the digest rounds find what the rogue left and remove it
if wait_trees_equal "$MD" "$SD" 60; then
	pass master_repairs_what_the_rogue_left
else
	fail master_repairs_what_the_rogue_left "trees differ (see above)"
fi
[ "$(snap "$OUT")" = "$snap_out" ] && pass removing_links_left_their_targets ||
	fail removing_links_left_their_targets "$(ls -la "$OUT" | tr '\n' ' ')"
exit 0
