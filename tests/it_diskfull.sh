#!/bin/sh
# weight: 43 (seconds it takes; tests/run.sh starts the longest first)
# it_diskfull: a full disk never starves the mirror. The slave's folder is
# a 20 MiB tmpfs holding a 19 MiB resume prefix an hour old; the master
# has a 50 MiB file and five small ones. The prefix is dropped to make room,
# the small files arrive and verify, the big one waits for space (shown
# by status on both sides, logged once, no ENOSPC retries), and when the
# file system grows to 80 MiB it arrives without restarting anything.
. "$(dirname "$0")/lib/harness.sh"
if [ "$(id -u)" != 0 ]; then
	skip diskfull "needs root to mount a small tmpfs for the slave's folder"
	exit 0
fi
xs_setup
SD=$XS_TMP/s/dir
diskfull_cleanup() {
	for p in $XS_PIDS; do xs_kill "$p"; done
	umount "$SD" 2>/dev/null
	xs_cleanup
}
trap 'diskfull_cleanup' EXIT
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir
# the slave's state_dir stays on the big disk: only the folder is small
if ! mount -t tmpfs -o size=20m xs-diskfull "$SD"; then
	skip diskfull "cannot mount a tmpfs on $SD"
	exit 0
fi
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }
"$X" -c "$M" slave add s@xs.test >/dev/null

head -c $((50 * 1048576)) /dev/urandom >"$MD/big.bin"
mkdir "$MD/small"
for i in 1 2 3 4 5; do
	head -c 262144 /dev/urandom >"$MD/small/s$i.bin"
done
# what an interrupted transfer left an hour ago: young enough to be kept
# at start for a transfer that may resume it (one older than a day would
# be removed then), so it goes only when its room is needed
old=$SD/.xmpp-sync-tmp.0123456789abcdef0123456789abcdef
head -c $((19 * 1048576)) /dev/zero >"$old"
touch -d "@$(( $(date +%s) - 3600 ))" "$old"

xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID

small_arrived() {
	for i in 1 2 3 4 5; do
		cmp -s "$MD/small/s$i.bin" "$SD/small/s$i.bin" || return 1
	done
}
ok=0
for i in $(seq 1 600); do
	small_arrived && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass small_files_arrive_and_verify ||
	fail small_files_arrive_and_verify "$(tail -n 5 "$XS_TMP/s.log")"
if [ ! -e "$old" ] && grep -q 'dropped the resume prefix \.xmpp-sync-tmp\.0123' "$XS_TMP/s.log"; then
	pass old_prefix_dropped_to_make_room
else
	fail old_prefix_dropped_to_make_room "$(ls -la "$SD" | head)"
fi
[ ! -e "$SD/big.bin" ] && pass big_file_not_received ||
	fail big_file_not_received "big.bin is on a 20 MiB disk"

# status on both sides says what waits, with its size, free space, min_free
waits() { # CONF: the waiting entry for big.bin in status --json
	"$X" -c "$1" status --json | grep -o '"waiting_for_space":\[[^]]*big\.bin[^]]*\]'
}
for i in $(seq 1 100); do
	[ -n "$(waits "$M")" ] && [ -n "$(waits "$S")" ] && break
	sleep 0.2
done
sj=$(waits "$S") mj=$(waits "$M")
note "slave: $sj"
note "master: $mj"
case $sj in *'"size":52428800'*'"free":'*'"min_free":209715'*)
	pass slave_status_json_shows_waiting_file ;;
*)	fail slave_status_json_shows_waiting_file "got '$sj'" ;;
esac
case $mj in *'"slave":"s@xs.test"'*'"size":52428800'*'"free":'*'"min_free":209715'*)
	pass master_status_json_shows_waiting_file ;;
*)	fail master_status_json_shows_waiting_file "got '$mj'" ;;
esac
st=$("$X" -c "$S" status) mt=$("$X" -c "$M" status)
if echo "$st" | grep -q '^waiting for space: big\.bin, 52428800 bytes (.* free, min_free 209715)' &&
   echo "$mt" | grep -q '^waiting for space on s@xs\.test: big\.bin, 52428800 bytes'; then
	pass status_text_shows_waiting_file
else
	fail status_text_shows_waiting_file "slave: $(echo "$st" | tail -n 2); master: $(echo "$mt" | tail -n 2)"
fi

# past the master's first retry (30 s): still said once, no ENOSPC storm
sleep 35
nospc=$(cat "$XS_TMP/s.log" "$XS_TMP/m.log" | grep -c 'No space left')
sw=$(grep -c 'big\.bin waits for space' "$XS_TMP/s.log")
mw=$(grep -c 'has no room for big\.bin' "$XS_TMP/m.log")
fails=$(cat "$XS_TMP/s.log" "$XS_TMP/m.log" | grep -c 'transfer of big\.bin.*failed')
note "after 35 s more: $nospc ENOSPC lines, $fails failed transfers, waiting said $sw (slave) / $mw (master) times"
if [ "$nospc" = 0 ] && [ "$fails" = 0 ] && [ "$sw" = 1 ] && [ "$mw" = 1 ]; then
	pass no_enospc_retry_storm_and_logged_once
else
	fail no_enospc_retry_storm_and_logged_once "see the counts above"
fi
# the master did ask again (30 s after the first refusal), and now waits
# twice as long before the next ask
next=$(waits "$M" | sed -n 's/.*"next_try_s":\([0-9]*\).*/\1/p')
if [ -n "$next" ] && [ "$next" -gt 30 ] && [ "$next" -le 60 ]; then
	pass asked_again_later_with_longer_delay
else
	fail asked_again_later_with_longer_delay "next try in '${next}' s"
fi

# the operator makes room: the big file follows without a restart
t0=$(date +%s)
mount -o remount,size=80m "$SD" || { fail remount "cannot grow the tmpfs"; exit 1; }
if wait_trees_equal "$MD" "$SD" 120; then
	pass big_file_arrives_when_space_returns
	note "big.bin identical $(( $(date +%s) - t0 )) s after the file system grew"
else
	fail big_file_arrives_when_space_returns "$(tail -n 5 "$XS_TMP/s.log")"
fi
kill -0 "$SPID" 2>/dev/null && kill -0 "$MPID" 2>/dev/null &&
	pass nothing_restarted || fail nothing_restarted "a daemon is gone"
if grep -q 'room for big\.bin now' "$XS_TMP/s.log" &&
   grep -q 's@xs\.test has room for big\.bin now' "$XS_TMP/m.log" &&
   [ -z "$(waits "$S")" ] && [ -z "$(waits "$M")" ]; then
	pass waiting_ends_in_log_and_status
else
	fail waiting_ends_in_log_and_status "$(grep -i 'room\|space' "$XS_TMP/s.log" "$XS_TMP/m.log" | tail -n 4)"
fi
exit $XS_FAILED
