#!/bin/sh
# it_unprivileged: master and slave run as an unprivileged uid (65534)
# under the limits of systemd/xmpp-sync@.service as far as they apply
# without systemd: no capabilities at all (bounding set empty),
# no_new_privs, umask 0077, LimitMEMLOCK=1M, and ProtectSystem=strict
# with the drop-in that unit-dropin prints: each daemon runs in a mount
# namespace where every mount is read-only except the ReadWritePaths= of
# its drop-in (the slave's folder and state, the master's state only:
# its folder stays read-only). The slave's folder belongs
# to root and a group the slave runs as (mode 2770 and Group= in the
# unit, as the man page advises for a folder owned by someone else), and
# what it writes there belongs to that group. Files go end to end,
# state stays private, and a file the master may not read waits in its
# outbox instead of stopping the rest.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
command -v setpriv >/dev/null || { skip unprivileged "setpriv is missing"; exit 0; }
[ "$(id -u)" = 0 ] || { skip unprivileged "needs root to change uid"; exit 0; }
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
U=65534 G=65534 FOLDER_GID=4242
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
# the temp tree: traversable, the agents' own parts theirs, the binary's
# path readable; the slave folder root's with a group for the slave
chmod 0711 "$XS_TMP"
if ! setpriv --reuid=$U --regid=$G --clear-groups test -x "$XS_BIN" -a -x "$XS_TMP"; then
	skip unprivileged "uid $U cannot reach $XS_BIN or $XS_TMP (set TMPDIR to a directory others may enter)"
	exit 0
fi
rmdir "$XS_TMP/m/state" "$XS_TMP/s/state"
chown -R $U:$G "$XS_TMP/m" "$XS_TMP/s"
chown -R $U:$FOLDER_GID "$XS_TMP/s"
chown root:$FOLDER_GID "$SD"
chmod 2770 "$SD"

# as GID CMD...: becomes uid $U with group GID and the unit's limits,
# then execs CMD (the process keeps its PID: xs_spawn records the daemon)
as() {
	_gid=$1; shift
	exec setpriv --reuid=$U --regid="$_gid" --clear-groups --inh-caps=-all \
		--ambient-caps=-all --bounding-set=-all --no-new-privs \
		sh -c 'umask 0077; ulimit -l 1024; exec "$0" "$@"' "$@"
}
# jailed CONF GID CMD...: as GID CMD..., in a mount namespace where every
# mount is read-only but the ReadWritePaths= of CONF's unit-dropin
jailed() {
	_conf=$1; shift
	_rw=$("$X" -c "$_conf" unit-dropin | sed -n 's/^ReadWritePaths=//p' | tr '\n' ' ')
	_gid=$1; shift
	exec unshare -m --propagation private sh -c '
		rw=$1; shift
		for m in $(findmnt -rno TARGET | sort -r); do
			mount -o bind,remount,ro "$m" 2>/dev/null
		done
		for p in $rw; do
			mount --bind "$p" "$p" && mount -o bind,remount,rw "$p" || exit 1
		done
		exec "$@"' sh "$_rw" setpriv --reuid=$U --regid="$_gid" --clear-groups \
		--inh-caps=-all --ambient-caps=-all --bounding-set=-all --no-new-privs \
		sh -c 'umask 0077; ulimit -l 1024; exec "$0" "$@"' "$@"
}
if ! unshare -m --propagation private sh -c 'for m in $(findmnt -rno TARGET | sort -r); do
	mount -o bind,remount,ro "$m" 2>/dev/null; done; ! touch "$1/ro-probe"' sh "$XS_TMP" 2>/dev/null; then
	rm -f "$XS_TMP/ro-probe"
	skip unprivileged "cannot make a mount namespace read-only here (unshare -m)"
	exit 0
fi
(as $G "$X" -c "$M" init >/dev/null) && (as $FOLDER_GID "$X" -c "$S" init >/dev/null) ||
	{ fail init "init as uid $U failed"; exit 1; }
(as $G "$X" -c "$M" slave add s@xs.test >/dev/null)
echo hello >"$MD/a.txt"; mkdir "$MD/sub"; echo deep >"$MD/sub/b.txt"
chown -R $U:$G "$MD"
echo secret >"$MD/root-only.txt"; chmod 600 "$MD/root-only.txt"

xs_spawn "$XS_TMP/m.log" jailed "$M" $G "$X" -c "$M" run; MPID=$XS_LASTPID
xs_spawn "$XS_TMP/s.log" jailed "$S" $FOLDER_GID "$X" -c "$S" run; SPID=$XS_LASTPID

ok=0
for i in $(seq 1 300); do
	[ -f "$SD/sub/b.txt" ] && [ -f "$SD/a.txt" ] && { ok=1; break; }
	sleep 0.1
done
if [ $ok = 1 ] && cmp -s "$MD/a.txt" "$SD/a.txt" && cmp -s "$MD/sub/b.txt" "$SD/sub/b.txt"; then
	pass files_mirrored_as_uid_$U
else
	fail files_mirrored_as_uid_$U "$(tail -n 3 "$XS_TMP/s.log")"
fi
# a new file while running
echo later >"$MD/c.txt"; chown $U:$G "$MD/c.txt"
if xs_wait_log "$XS_TMP/s.log" 'c.txt' 30 && sleep 0.5 && cmp -s "$MD/c.txt" "$SD/c.txt"; then
	pass change_mirrored_as_uid_$U
else
	fail change_mirrored_as_uid_$U "$(tail -n 3 "$XS_TMP/s.log")"
fi
owner=$(stat -c '%u:%g' "$SD/sub/b.txt")
if [ "$owner" = "$U:$FOLDER_GID" ]; then
	pass slave_files_owned_by_agent_in_folder_group
else
	fail slave_files_owned_by_agent_in_folder_group "sub/b.txt is $owner"
fi
# what the kernel says about the running daemons
for who in master slave; do
	if [ $who = master ]; then pid=$MPID; else pid=$SPID; fi
	st=/proc/$pid/status
	uid=$(awk '/^Uid:/ {print $2}' "$st") capbnd=$(awk '/^CapBnd:/ {print $2}' "$st")
	capeff=$(awk '/^CapEff:/ {print $2}' "$st") nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$st")
	if [ "$uid" = $U ] && [ "$capbnd" = 0000000000000000 ] &&
	   [ "$capeff" = 0000000000000000 ] && [ "$nnp" = 1 ]; then
		pass "${who}_runs_unprivileged"
	else
		fail "${who}_runs_unprivileged" "uid $uid capbnd $capbnd capeff $capeff nnp $nnp"
	fi
done
# the jail holds: outside the drop-in's paths nothing is writable
# PID PATH: ro or rw, as the mount holding PATH is in PID's namespace
mode_in() { findmnt -N "$1" -T "$2" -no OPTIONS | cut -d, -f1; }
got="$(mode_in $MPID /) $(mode_in $MPID "$MD") $(mode_in $MPID "$XS_TMP/m/state")"
got="$got $(mode_in $SPID /usr) $(mode_in $SPID "$SD") $(mode_in $SPID "$XS_TMP/s/state")"
if [ "$got" = "ro ro rw ro rw rw" ]; then
	pass daemons_confined_to_dropin_paths
else
	fail daemons_confined_to_dropin_paths "master / folder state, slave /usr folder state: $got"
fi
# state: 0700 directories, the database and keys 0600 (umask 0077)
bad=$(find "$XS_TMP/m/state" "$XS_TMP/s/state" \( -type d ! -perm 0700 \) -o \
	\( -type f -perm /0077 \) -print)
if [ -z "$bad" ]; then pass state_private; else fail state_private "$bad"; fi
if grep -q 'root-only.txt' "$XS_TMP/m.log" && [ ! -e "$SD/root-only.txt" ] &&
   kill -0 "$MPID" 2>/dev/null; then
	pass unreadable_file_reported_not_fatal
else
	fail unreadable_file_reported_not_fatal "$(grep -m2 root-only "$XS_TMP/m.log")"
fi
exit $XS_FAILED
