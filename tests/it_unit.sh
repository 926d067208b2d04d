#!/bin/sh
# it_unit: the shipped unit, drop-in and manual pages. systemd-analyze
# rates systemd/xmpp-sync@.service at most 2.5 (empty capability bounding
# set, a syscall filter, UMask=0077, Type=notify, a watchdog, its own
# user, and still RestartPreventExitStatus with 9); unit-dropin grants a
# master's folder read-only, a slave's read-write, the state directory
# read-write, and binds what lies below /home; both manual pages render
# without a warning.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
unit=$XS_TOP/systemd/xmpp-sync@.service
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze security --offline=true "$unit" 2>&1)
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	if [ -n "$score" ] && [ "$(echo "$score <= 2.5" | bc)" = 1 ]; then
		pass "unit_exposure_${score}"
	else
		fail unit_exposure "score '$score': $(printf '%s\n' "$out" | grep '✗' | head -n 5)"
	fi
else
	skip unit_exposure "no systemd-analyze"
fi
missing=""
for l in '^Type=notify$' '^WatchdogSec=[1-9]' '^User=xmpp-sync$' '^CapabilityBoundingSet=$' \
	'^UMask=0077$' '^SystemCallFilter=@system-service$' '^PrivateDevices=yes$' \
	'^ProtectHome=' '^ProtectClock=yes$' '^ProtectHostname=yes$' '^RestrictRealtime=yes$' \
	'^RestartPreventExitStatus=.* 9$' '^ProtectSystem=strict$'; do
	grep -Eq "$l" "$unit" || missing="$missing $l"
done
if [ -z "$missing" ]; then pass unit_settings; else fail unit_settings "missing:$missing"; fi
grep -Eq '^u xmpp-sync ' "$XS_TOP/systemd/xmpp-sync.sysusers" && pass sysusers_user ||
	fail sysusers_user "$(cat "$XS_TOP/systemd/xmpp-sync.sysusers")"

XS_C2S_PORT=5222 XS_CA=$XS_TMP/ca.pem
: >"$XS_CA"
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
dm=$("$XS_BIN" -c "$M" unit-dropin) ds=$("$XS_BIN" -c "$S" unit-dropin)
if printf '%s\n' "$dm" | grep -qx "ReadOnlyPaths=$XS_TMP/m/dir" &&
   printf '%s\n' "$dm" | grep -qx "ReadWritePaths=$XS_TMP/m/state" &&
   ! printf '%s\n' "$dm" | grep -q "ReadWritePaths=$XS_TMP/m/dir" &&
   printf '%s\n' "$ds" | grep -qx "ReadWritePaths=$XS_TMP/s/dir" &&
   printf '%s\n' "$ds" | grep -qx "ReadWritePaths=$XS_TMP/s/state" &&
   printf '%s\n' "$ds" | grep -qx '\[Service\]'; then
	pass dropin_grants_folder_and_state
else
	fail dropin_grants_folder_and_state "master: $dm / slave: $ds"
fi
# a folder below /home is bound into the unit's empty /home
sed "s|^dir = .*|dir = /home|" "$S" >"$XS_TMP/home.conf"
if [ -d /home ] && "$XS_BIN" -c "$XS_TMP/home.conf" unit-dropin | grep -qx 'BindPaths=/home'; then
	pass dropin_binds_home
else
	fail dropin_binds_home "$("$XS_BIN" -c "$XS_TMP/home.conf" unit-dropin 2>&1 | head -n 8)"
fi
if command -v groff >/dev/null; then
	for m in xmpp-sync.1 xmpp-sync.conf.5; do
		w=$(groff -man -ww -z "$XS_TOP/man/$m" 2>&1)
		if [ -z "$w" ]; then pass "man_${m}_clean"; else fail "man_${m}_clean" "$w"; fi
	done
else
	skip man_clean "no groff"
fi
exit $XS_FAILED
