#!/bin/sh
# it_systemd: what a Type=notify unit sees. Started with NOTIFY_SOCKET and
# WATCHDOG_USEC, the daemon sends READY=1, then STATUS= lines that say
# whether it is online and how many slaves it has, WATCHDOG=1 at half
# the interval from its event loop, and STOPPING=1 on SIGTERM. With
# stderr on the journal (JOURNAL_STREAM names stderr's dev:ino) its log
# lines carry <N> priorities and no timestamp; with another stream they
# keep the timestamp.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }
"$X" -c "$M" slave add s@xs.test >/dev/null
sock=$XS_TMP/notify.sock
xs_spawn "$XS_TMP/notify.log" "$XS_BUILD/tests/tools/notifyrecv" "$sock"
for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done

# the master's stderr is a file; JOURNAL_STREAM names that file
: >"$XS_TMP/m.log"
js=$(stat -c '%d:%i' "$XS_TMP/m.log")
xs_spawn "$XS_TMP/m.log" env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=2000000 \
	JOURNAL_STREAM="$js" "$X" -c "$M" run
MPID=$XS_LASTPID
xs_spawn "$XS_TMP/s.log" env JOURNAL_STREAM=1:1 "$X" -c "$S" run

if xs_wait_log "$XS_TMP/notify.log" '^READY=1$' 20; then
	pass notify_ready
else
	fail notify_ready "$(cat "$XS_TMP/notify.log")"
fi
if xs_wait_log "$XS_TMP/notify.log" '^STATUS=online, 1 slave \(1 online\), backlog 0$' 30; then
	pass notify_status_online
else
	fail notify_status_online "$(grep STATUS "$XS_TMP/notify.log" | tail -n 3)"
fi
n1=$(grep -c '^WATCHDOG=1$' "$XS_TMP/notify.log")
sleep 4
n2=$(grep -c '^WATCHDOG=1$' "$XS_TMP/notify.log")
# every 1 s for a 2 s watchdog: about 4 in 4 s
if [ $((n2 - n1)) -ge 3 ] && [ $((n2 - n1)) -le 6 ]; then
	pass notify_watchdog_fed
else
	fail notify_watchdog_fed "$((n2 - n1)) keep-alives in 4 s"
fi
xs_kill "$MPID"
if grep -q '^STOPPING=1$' "$XS_TMP/notify.log"; then
	pass notify_stopping
else
	fail notify_stopping "$(tail -n 4 "$XS_TMP/notify.log")"
fi
if grep -q '^<6>info: connected as m@xs.test/xmpp-sync' "$XS_TMP/m.log" &&
   ! grep -Ev '^<[3467]>(error|warn|info|debug): ' "$XS_TMP/m.log" | grep -q .; then
	pass journal_priorities_without_timestamps
else
	fail journal_priorities_without_timestamps "$(head -n 3 "$XS_TMP/m.log")"
fi
if grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z xmpp-sync: info: connected as s@' "$XS_TMP/s.log"; then
	pass other_stream_keeps_timestamps
else
	fail other_stream_keeps_timestamps "$(head -n 2 "$XS_TMP/s.log")"
fi
exit $XS_FAILED
