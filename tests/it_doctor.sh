#!/bin/sh
# it_doctor: `xmpp-sync doctor` against the test Prosody finds everything
# good and exits 0; against a Prosody whose mod_limits allows 10 KiB/s per
# client it names the slow in-band rate and the setting to raise (a
# warning: exit 0); with a CA that did not sign the server's certificate
# it names the certificate problem and exits 1.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair
out=$("$X" -c "$M" doctor 2>&1); rc=$?
note "$(printf '%s\n' "$out" | grep -E '^(ok|warn|FAIL) ' | cut -c1-100 | tr '\n' '|')"
if [ $rc = 0 ] && printf '%s\n' "$out" | tail -n 1 | grep -qx 'doctor: all good' &&
   printf '%s\n' "$out" | grep -q '^ok    tls ' &&
   printf '%s\n' "$out" | grep -q '^ok    proxy65  proxy.xs.test at 127.0.0.1 port' &&
   printf '%s\n' "$out" | grep -q '^ok    ibb      in-band rate' &&
   printf '%s\n' "$out" | grep -q '^ok    peer     s@xs.test/xmpp-sync is online' &&
   printf '%s\n' "$out" | grep -q '^ok    key      s@xs.test: key pinned'; then
	pass doctor_all_good_master
else
	fail doctor_all_good_master "rc $rc: $out"
fi
out=$("$X" -c "$S" doctor 2>&1); rc=$?
if [ $rc = 0 ] && printf '%s\n' "$out" | tail -n 1 | grep -qx 'doctor: all good' &&
   printf '%s\n' "$out" | grep -q '^ok    peer     m@xs.test/xmpp-sync is online'; then
	pass doctor_all_good_slave
else
	fail doctor_all_good_slave "rc $rc: $out"
fi
# the daemons were not disturbed: still online, same session
if "$X" -c "$M" status | grep -q '^connection: online' &&
   ! grep -q 'conflict\|in use by another client' "$XS_TMP/m.log"; then
	pass daemon_undisturbed
else
	fail daemon_undisturbed "$(tail -n 3 "$XS_TMP/m.log")"
fi

# a CA that did not sign the server's certificate
other=$(xs_other_ca) || { fail other_ca "openssl"; exit 1; }
sed "s|^ca_file = .*|ca_file = $other|" "$M" >"$XS_TMP/m/wrongca.conf"
out=$("$X" -c "$XS_TMP/m/wrongca.conf" doctor 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q '^FAIL  tls .*certificate' &&
   printf '%s\n' "$out" | grep -q "fix: point 'ca_file =' at the CA that signed"; then
	pass doctor_names_certificate_problem
else
	fail doctor_names_certificate_problem "rc $rc: $out"
fi

# a second server with mod_limits at 10 KiB/s
prosody_stop
XS_PROSODY_LIMIT=10kb/s
XS_C2S_PORT=""
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
M2=$(xs_conf lim master m)
"$X" -c "$M2" init >/dev/null
out=$("$X" -c "$M2" doctor 2>&1); rc=$?
if [ $rc = 0 ] && printf '%s\n' "$out" | grep -Eq '^warn  ibb      in-band rate only [0-9]+ kB/s' &&
   printf '%s\n' "$out" | grep -q 'fix: .*Prosody mod_limits, limits = { c2s = { rate = '; then
	pass doctor_names_slow_inband_rate
	note "$(printf '%s\n' "$out" | grep -A1 '^warn  ibb' | tr -s ' \n' ' ')"
else
	fail doctor_names_slow_inband_rate "rc $rc: $out"
fi
exit $XS_FAILED
