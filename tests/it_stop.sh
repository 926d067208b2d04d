#!/bin/sh
# it_stop: stopping is clean in every state. Master and slave are paired
# and trusted, then the server is frozen (SIGSTOP: it accepts nothing and
# closes no stream) and each agent gets SIGTERM. Each must exit 0 within
# its stop deadline, without a sanitizer report or a crash, and a restart
# after the server thaws must still work.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null
echo hello >"$MD/a.txt"

start() { # NAME CONF
	xs_spawn "$XS_TMP/$1.log" "$X" -c "$2" run
	eval "${1}PID=\$XS_LASTPID"
}
# stop_frozen NAME PID: SIGTERM with the server frozen; the exit status and
# the log must be clean
stop_frozen() {
	kill -TERM "$2"
	_i=0
	while kill -0 "$2" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	if kill -0 "$2" 2>/dev/null; then
		fail "stop_$1_server_frozen" "still running 10 s after SIGTERM"
		kill -9 "$2"; wait "$2" 2>/dev/null
		return
	fi
	wait "$2"; _rc=$?
	if [ "$_rc" -ne 0 ]; then
		fail "stop_$1_server_frozen" "exit status $_rc; $(grep -E 'runtime error|ERROR: AddressSanitizer|SUMMARY' "$XS_TMP/$1.log" | head -3)"
	elif grep -Eq 'runtime error|AddressSanitizer|LeakSanitizer' "$XS_TMP/$1.log"; then
		fail "stop_$1_server_frozen" "$(grep -E 'runtime error|Sanitizer' "$XS_TMP/$1.log" | head -3)"
	else
		pass "stop_$1_server_frozen"
	fi
}

start m "$M"; start s "$S"
if wait_trees_equal "$MD" "$SD" 30; then pass paired_and_synced; else fail paired_and_synced "no initial sync"; fi

for who in m s; do
	kill -STOP "$XS_PROSODY_PID"
	eval "stop_frozen $who \$${who}PID"
	kill -CONT "$XS_PROSODY_PID"
done

# both come back and keep mirroring after the thaw
start m "$M"; start s "$S"
echo again >"$MD/b.txt"
if wait_trees_equal "$MD" "$SD" 30; then pass restart_after_frozen_stop; else fail restart_after_frozen_stop "b.txt did not arrive"; fi
exit 0
