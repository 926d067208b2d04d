#!/bin/sh
# weight: 30 (seconds it takes; tests/run.sh starts the longest first)
# it_resume: an encrypted transfer interrupted at about half (kill -9 of
# the master) resumes after the restart from a record boundary with a
# range request, and the slave's file is identical to the master's.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
# IBB is slow enough on loopback to stop the transfer half way
M=$(xs_conf m master m transports=ibb)
S=$(xs_conf s slave s master=m@xs.test transports=ibb)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }
"$X" -c "$M" slave add s@xs.test >/dev/null
size=$((40 * 1048576))
head -c "$size" /dev/urandom >"$MD/big.bin"
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID

# wait until about a third to a half has arrived, then kill the master
got=0
for i in $(seq 1 600); do
	got=$(find "$SD" -name '.xmpp-sync-tmp.*' -printf '%s\n' 2>/dev/null | sort -n | tail -1)
	[ -n "$got" ] && [ "$got" -gt $((size / 3)) ] && break
	sleep 0.05
done
xs_kill "$MPID" KILL
note "master killed with ${got:-0} of $size bytes at the slave"
if [ -z "$got" ] || [ "$got" -ge "$size" ]; then
	fail interrupted_half_way "the transfer was not caught in progress (got ${got:-0})"
	exit 1
fi
sleep 1
xs_spawn "$XS_TMP/m2.log" "$X" -c "$M" run
if wait_trees_equal "$MD" "$SD" 120; then
	pass resumed_file_identical
else
	fail resumed_file_identical "$(tail -n 3 "$XS_TMP/m2.log")"
fi
from=$(sed -n 's/.*resuming big.bin from byte \([0-9]*\).*/\1/p' "$XS_TMP/s.log" | tail -1)
off=$(sed -n 's/.*sent big.bin to .*(from offset \([0-9]*\)).*/\1/p' "$XS_TMP/m2.log" | tail -1)
if [ -n "$from" ] && [ "$from" -gt 0 ] && [ "$from" = "$off" ] && [ $((from % 65536)) = 0 ]; then
	pass resumed_with_range_at_record_boundary
	note "second session asked for the rest from byte $from (of $size)"
else
	fail resumed_with_range_at_record_boundary "slave resumed from '${from}', master sent from '${off}'"
fi
exit $XS_FAILED
