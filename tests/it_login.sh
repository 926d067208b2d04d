#!/bin/sh
# it_login: `xmpp-sync run` logs in to a real Prosody over TLS with the
# certificate verified against the generated CA; a wrong password, a CA
# that does not vouch for the server, and a closed port each give a clear
# message instead of a hang; `-n` catches bad configs.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
prosody_adduser alice secret-alice
conf=$(xs_conf a master alice)
"$XS_BIN" -c "$conf" init >/dev/null || fail init "init failed"

# -n on a good config
out=$("$XS_BIN" -c "$conf" -n 2>&1)
[ "$out" = "configuration OK" ] && pass check_config_ok || fail check_config_ok "$out"

# -n on a config with an unknown key: FILE:LINE:, non-zero
cp "$conf" "$XS_TMP/bad.conf"
echo "colour = blue" >>"$XS_TMP/bad.conf"
line=$(wc -l <"$XS_TMP/bad.conf")
out=$("$XS_BIN" -c "$XS_TMP/bad.conf" -n 2>&1); rc=$?
case $out in
"$XS_TMP/bad.conf:$line: unknown key 'colour'") [ $rc -eq 3 ] && pass check_config_unknown_key ||
	fail check_config_unknown_key "exit $rc" ;;
*) fail check_config_unknown_key "got: $out" ;;
esac

# a world-readable password file is refused, by -n and by run
chmod 644 "$XS_TMP/a/password"
out=$("$XS_BIN" -c "$conf" -n 2>&1); rc=$?
out2=$(timeout 10 "$XS_BIN" -c "$conf" run 2>&1); rc2=$?
chmod 600 "$XS_TMP/a/password"
if [ $rc -ne 0 ] && [ $rc2 -ne 0 ] && echo "$out" | grep -q 'readable by group or others' &&
   echo "$out2" | grep -q 'readable by group or others'; then
	pass password_file_mode_refused
else
	fail password_file_mode_refused "rc=$rc rc2=$rc2: $out / $out2"
fi

# good login: the log says connected, with the bound JID; SIGTERM exits 0
log=$XS_TMP/run.log
xs_spawn "$log" "$XS_BIN" -c "$conf" run
pid=$XS_LASTPID
if xs_wait_log "$log" 'connected as alice@xs\.test/' 15; then
	kill -TERM "$pid"; wait "$pid"; rc=$?
	[ $rc -eq 0 ] && pass login_tls_verified || fail login_tls_verified "exit $rc after SIGTERM"
else
	fail login_tls_verified "no login within 15 s: $(tail -n 5 "$log")"
fi
grep -q 'c2s.*authenticated\|Authenticated as alice\|authentication for alice@' "$XS_SERVER_LOG" 2>/dev/null ||
	note "$XS_SERVER log does not show the authentication at info level"

# wrong password: exit 5 (XS_EXIT_AUTH) with a clear message, well before the limit
echo wrong-password >"$XS_TMP/a/password"
start=$(date +%s)
out=$(timeout 25 "$XS_BIN" -c "$conf" run 2>&1); rc=$?
took=$(( $(date +%s) - start ))
echo secret-alice >"$XS_TMP/a/password"
if [ $rc -eq 5 ] && echo "$out" | grep -q 'authentication failed'; then
	pass wrong_password_clear_error
	note "wrong password: exit 5 after ${took}s"
else
	fail wrong_password_clear_error "exit $rc: $out"
fi

# a CA that did not sign the server certificate: exit 6 (XS_EXIT_TLS)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$XS_TMP/other.key" -out "$XS_TMP/other-ca.crt" -days 1 \
	-subj "/CN=some other CA" >/dev/null 2>&1
sed "s|^ca_file = .*|ca_file = $XS_TMP/other-ca.crt|" "$conf" >"$XS_TMP/otherca.conf"
out=$(timeout 25 "$XS_BIN" -c "$XS_TMP/otherca.conf" run 2>&1); rc=$?
if [ $rc -eq 6 ] && echo "$out" | grep -q 'certificate not trusted'; then
	pass untrusted_certificate_refused
else
	fail untrusted_certificate_refused "exit $rc: $out"
fi

# nothing listening: no exit, but a retry with backoff that says so
port=$("$XS_FREEPORT")
sed "s|^server = .*|server = 127.0.0.1:$port|" "$conf" >"$XS_TMP/closed.conf"
log=$XS_TMP/closed.log
xs_spawn "$log" "$XS_BIN" -c "$XS_TMP/closed.conf" run
pid=$XS_LASTPID
if xs_wait_log "$log" 'cannot connect.*retrying in [0-9]+ s' 10 && kill -0 "$pid" 2>/dev/null; then
	pass unreachable_server_retried
else
	fail unreachable_server_retried "$(cat "$log")"
fi
xs_kill "$pid"
exit $XS_FAILED
