#!/bin/sh
# it_resource: several folders on one account. Two masters log in as the
# same account with different resources, each with its own slave; both
# mirror their own folder side by side and nothing crosses over. A third
# daemon that takes a resource already in use evicts the running one,
# which stops with a clear error and exit status 9 instead of logging back
# in and evicting the newcomer in a loop.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s1 s2; do prosody_adduser $u secret-$u; done
X=$XS_BIN
export XS_PASS=secret-m
M1=$(xs_conf m1 master m resource=photos)
M2=$(xs_conf m2 master m resource=music)
unset XS_PASS
S1=$(xs_conf s1 slave s1 master=m@xs.test)
S2=$(xs_conf s2 slave s2 master=m@xs.test)
for c in "$M1" "$M2" "$S1" "$S2"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M1" slave add s1@xs.test >/dev/null
"$X" -c "$M2" slave add s2@xs.test >/dev/null
echo "a photo" >"$XS_TMP/m1/dir/photo.jpg"
echo "a song" >"$XS_TMP/m2/dir/song.ogg"
for n in m1 m2 s1 s2; do
	eval "conf=\$$(echo $n | tr a-z A-Z)"
	xs_spawn "$XS_TMP/$n.log" "$X" -c "$conf" run
	eval "${n}PID=\$XS_LASTPID"
done
if wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 30 &&
   wait_trees_equal "$XS_TMP/m2/dir" "$XS_TMP/s2/dir" 30; then
	pass two_resources_mirror_their_own_folders
else
	fail two_resources_mirror_their_own_folders "trees differ"
fi
echo "later" >"$XS_TMP/m1/dir/later.jpg"
echo "later" >"$XS_TMP/m2/dir/later.ogg"
if wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 30 &&
   wait_trees_equal "$XS_TMP/m2/dir" "$XS_TMP/s2/dir" 30 &&
   [ ! -e "$XS_TMP/s1/dir/song.ogg" ] && [ ! -e "$XS_TMP/s2/dir/photo.jpg" ]; then
	pass live_changes_stay_in_their_folder
else
	fail live_changes_stay_in_their_folder "a change crossed folders or did not arrive"
fi
grep -q 'm@xs.test/photos' "$XS_TMP/m1.log" && grep -q 'm@xs.test/music' "$XS_TMP/m2.log" &&
	pass each_daemon_binds_its_resource || fail each_daemon_binds_its_resource "resource not in the log"

# a copy of m1 (same account and resource, its own state) evicts m1
cp -r "$XS_TMP/m1" "$XS_TMP/m3"
sed -i "s#$XS_TMP/m1/#$XS_TMP/m3/#" "$XS_TMP/m3/conf"
xs_spawn "$XS_TMP/m3.log" "$X" -c "$XS_TMP/m3/conf" run
m3PID=$XS_LASTPID
i=0
while kill -0 "$m1PID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$m1PID" 2>/dev/null; then
	fail evicted_daemon_stops "still running 15 s after the conflict"
else
	wait "$m1PID"; rc=$?
	if [ "$rc" = 9 ] && grep -q 'm@xs.test/photos is in use by another client' "$XS_TMP/m1.log"; then
		pass evicted_daemon_stops_with_status_9
	else
		fail evicted_daemon_stops_with_status_9 "status $rc; $(grep -i 'error' "$XS_TMP/m1.log" | tail -1)"
	fi
fi
sleep 3
if kill -0 "$m3PID" 2>/dev/null && grep -q 'connected as m@xs.test/photos' "$XS_TMP/m3.log" &&
   [ "$(grep -c 'connected as' "$XS_TMP/m3.log")" = 1 ]; then
	pass newcomer_keeps_its_session
else
	fail newcomer_keeps_its_session "$(tail -n 3 "$XS_TMP/m3.log")"
fi
exit 0
