#!/bin/sh
# weight: 25 (seconds it takes; tests/run.sh starts the longest first)
# it_syscalls: every system call master and slave make while they sync
# (start, scan, watch, transfers, renames, chmod, status, metrics, stop)
# is one that the unit's filter allows (systemd/xmpp-sync@.service:
# @system-service and Landlock's calls, without @privileged and
# @resources). Seen with strace -f, the sets from systemd-analyze
# syscall-filter. The one
# exception is fchown, which SQLite makes only when it runs as root (to
# give its journal the database's owner); the unit never runs as root.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
for t in strace systemd-analyze; do
	command -v $t >/dev/null || { skip syscalls "$t is missing"; exit 0; }
done
unit=$XS_TOP/systemd/xmpp-sync@.service
grep -qx 'SystemCallFilter=@system-service' "$unit" ||
	{ fail syscalls "the unit's filter does not start from @system-service"; exit 1; }
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }
"$X" -c "$M" slave add s@xs.test >/dev/null
head -c 3000000 /dev/urandom >"$MD/big"; echo a >"$MD/a"
# traced SIDE CONF: runs the daemon as a child of this shell (so that
# the harness may stop it) stopped at first, has strace attach to it,
# then lets it go on into exec: every call from the start is seen. Sets
# TPID to the daemon.
traced() {
	xs_spawn "$XS_TMP/$1.log" sh -c 'kill -STOP $$; exec "$@"' sh "$X" -c "$2" run
	TPID=$XS_LASTPID
	for _i in $(seq 1 50); do
		[ "$(ps -o stat= -p "$TPID" | cut -c1)" = T ] && break
		sleep 0.1
	done
	xs_spawn "$XS_TMP/$1.strace.log" strace -f -qq -o "$XS_TMP/$1.strace" -p "$TPID"
	for _i in $(seq 1 50); do
		[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$TPID/status")" != 0 ] && break
		sleep 0.1
	done
	kill -CONT "$TPID"
}
traced m "$M"; MPID=$TPID
traced s "$S"; SPID=$TPID
wait_trees_equal "$MD" "$SD" 60 || { fail synced "$(tail -n 3 "$XS_TMP/s.log")"; exit 1; }
mkdir "$MD/sub"; mv "$MD/a" "$MD/sub/b"; chmod 600 "$MD/big"; echo more >>"$MD/big"
ln -s sub/b "$MD/link"; rm -f "$MD/big"
wait_trees_equal "$MD" "$SD" 60 || { fail synced_changes "$(tail -n 3 "$XS_TMP/s.log")"; exit 1; }
for c in "$M" "$S"; do
	"$X" -c "$c" status --json >/dev/null; "$X" -c "$c" status --prometheus >/dev/null
done
xs_kill "$MPID"; xs_kill "$SPID"
sleep 1 # strace writes the last calls as the daemons go

# expand NAME...: the system calls named, groups (@name) expanded
expand() {
	for g in "$@"; do
		case $g in @*) ;; *) echo "$g"; continue ;; esac
		systemd-analyze syscall-filter "$g" | awk 'NR > 1 && NF && $1 !~ /^#/ {print $1}' |
		while read -r x; do
			case $x in @*) expand "$x" ;; *) echo "$x" ;; esac
		done
	done
}
# the unit's SystemCallFilter= lines: allowed ones, then ~denied ones
filters=$(sed -n 's/^SystemCallFilter=//p' "$unit")
# shellcheck disable=SC2046
expand $(printf '%s\n' "$filters" | grep -v '^~') | sort -u >"$XS_TMP/allow"
# shellcheck disable=SC2046
expand $(printf '%s\n' "$filters" | sed -n 's/^~//p') | sort -u >"$XS_TMP/deny"
comm -23 "$XS_TMP/allow" "$XS_TMP/deny" >"$XS_TMP/allowed"
cat "$XS_TMP/m.strace" "$XS_TMP/s.strace" |
	sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p; s/^[0-9]* *<\.\.\. \([a-z_0-9]*\) resumed>.*/\1/p' |
	grep -vx fchown | sort -u >"$XS_TMP/used"
n=$(wc -l <"$XS_TMP/used")
if [ "$n" -lt 30 ]; then
	fail syscalls_seen "only $n system calls seen: $(tr '\n' ' ' <"$XS_TMP/used")"
	exit 1
fi
bad=$(comm -23 "$XS_TMP/used" "$XS_TMP/allowed" | tr '\n' ' ')
if [ -z "$bad" ]; then
	pass syscalls_all_allowed_by_unit_filter
	note "$n distinct system calls, all allowed by: $(printf '%s\n' "$filters" | tr '\n' ' ')"
else
	fail syscalls_all_allowed_by_unit_filter "outside the unit's filter: $bad"
fi
exit $XS_FAILED
