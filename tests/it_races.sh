#!/bin/sh
# it_races: changes that race with their own delivery must never be lost.
#  - a file deleted while its transfer is under way (50 tries, with delays
#    spread over the transfer) is deleted on the slave too.
# After each round the trees must become identical.
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
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
echo ready >"$MD/ready"
wait_trees_equal "$MD" "$SD" 30 || { fail paired "no initial sync"; exit 1; }

# 1. delete during delivery: 50 files, each removed after 0-490 ms
head -c 2000000 /dev/urandom >"$XS_TMP/blob"
i=0
while [ $i -lt 50 ]; do
	cp "$XS_TMP/blob" "$MD/race-$i.bin"
	sleep "0.$(( (i * 7) % 50 ))"
	rm -f "$MD/race-$i.bin"
	i=$((i + 1))
done
if wait_trees_equal "$MD" "$SD" 60; then
	pass delete_during_delivery_50_tries
else
	fail delete_during_delivery_50_tries "$(ls "$SD" | grep -c race-) of 50 deleted files left on the slave"
fi

