#!/bin/sh
# it_folders: several folders on one account, paired folder to folder.
# Account m runs two masters (resources photos and music), account s two
# slaves (same resources); each master registers its slave by full JID and
# each slave names its master by full JID. A third pair lives entirely on
# account m (master m/docs, slave m/docsbak). Each folder arrives only at
# its own slave; trust is pinned per peer folder (each master holds its own
# slave daemon's key, and no KEY CHANGED anywhere although one account
# presents several keys); another resource of the master's account is not
# the master of a folder-paired slave, so its requests are refused.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
D=$XS_DOMAIN
M1=$(xs_conf m1 master m resource=photos)
M2=$(xs_conf m2 master m resource=music)
M3=$(xs_conf m3 master m resource=docs)
S1=$(xs_conf s1 slave s resource=photos master=m@$D/photos)
S2=$(xs_conf s2 slave s resource=music master=m@$D/music)
S3=$(xs_conf s3 slave m resource=docsbak master=m@$D/docs)
for c in "$M1" "$M2" "$M3" "$S1" "$S2" "$S3"; do
	"$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }
done

# the command line takes full JIDs, and refuses what would be ambiguous
out=$("$X" -c "$M3" slave add "m@$D" 2>&1); rc=$?
out2=$("$X" -c "$M3" slave add "m@$D/docs" 2>&1); rc2=$?
out3=$("$X" -c "$M3" slave add "s@$D/a b" 2>&1); rc3=$?
if [ $rc = 2 ] && echo "$out" | grep -q "own account; name the slave daemon by its full JID" &&
   [ $rc2 = 2 ] && echo "$out2" | grep -q "is this master itself" &&
   [ $rc3 = 2 ] && echo "$out3" | grep -q "is not a JID"; then
	pass slave_add_refuses_own_account_and_self
else
	fail slave_add_refuses_own_account_and_self "$rc: $out / $rc2: $out2 / $rc3: $out3"
fi
"$X" -c "$M1" slave add "s@$D/photos" >/dev/null &&
"$X" -c "$M2" slave add "s@$D/music" >/dev/null &&
"$X" -c "$M3" slave add "m@$D/docsbak" >/dev/null || { fail slave_add "full JID refused"; exit 1; }
# a slave naming its own account as master without a resource is refused
bad=$(xs_conf bad slave m master=m@$D)
out=$("$X" -c "$bad" -n 2>&1); rc=$?
[ $rc = 3 ] && echo "$out" | grep -q "master: m@$D is this agent's own account" &&
	pass config_refuses_own_account_as_master || fail config_refuses_own_account_as_master "$rc: $out"

echo "a photo" >"$XS_TMP/m1/dir/photo.jpg"
echo "a song" >"$XS_TMP/m2/dir/song.ogg"
mkdir "$XS_TMP/m3/dir/letters" && echo "a letter" >"$XS_TMP/m3/dir/letters/one.txt"
for n in m1 m2 m3 s1 s2 s3; do
	eval "conf=\$$(echo $n | tr a-z A-Z)"
	xs_spawn "$XS_TMP/$n.log" "$X" -c "$conf" run
	eval "${n}PID=\$XS_LASTPID"
done
if wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 30 &&
   wait_trees_equal "$XS_TMP/m2/dir" "$XS_TMP/s2/dir" 30 &&
   XS_TREE_SKIP=.xmpp-sync wait_trees_equal "$XS_TMP/m3/dir" "$XS_TMP/s3/dir" 30; then
	pass each_folder_reaches_its_own_slave
else
	fail each_folder_reaches_its_own_slave "trees differ"
fi
echo "later" >"$XS_TMP/m1/dir/later.jpg"
echo "later" >"$XS_TMP/m2/dir/later.ogg"
echo "later" >"$XS_TMP/m3/dir/later.txt"
if wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 30 &&
   wait_trees_equal "$XS_TMP/m2/dir" "$XS_TMP/s2/dir" 30 &&
   XS_TREE_SKIP=.xmpp-sync wait_trees_equal "$XS_TMP/m3/dir" "$XS_TMP/s3/dir" 30 &&
   [ ! -e "$XS_TMP/s1/dir/song.ogg" ] && [ ! -e "$XS_TMP/s2/dir/photo.jpg" ] &&
   [ ! -e "$XS_TMP/s1/dir/later.txt" ] && [ ! -e "$XS_TMP/s3/dir/later.jpg" ]; then
	pass live_changes_stay_in_their_folder
else
	fail live_changes_stay_in_their_folder "a change crossed folders or did not arrive"
fi

# trust per peer folder: each master pinned its own slave daemon's key
f1=$("$X" -c "$S1" fingerprint) f2=$("$X" -c "$S2" fingerprint) f3=$("$X" -c "$S3" fingerprint)
j1=$("$X" -c "$M1" status --json) j2=$("$X" -c "$M2" status --json) j3=$("$X" -c "$M3" status --json)
if [ "$f1" != "$f2" ] &&
   echo "$j1" | grep -q "\"jid\":\"s@$D/photos\",\"online\":true,\"full_jid\":\"s@$D/photos\",\"key\":\"pinned\",\"key_proven\":true,\"fingerprint\":\"$f1\"" &&
   echo "$j2" | grep -q "\"jid\":\"s@$D/music\",\"online\":true,\"full_jid\":\"s@$D/music\",\"key\":\"pinned\",\"key_proven\":true,\"fingerprint\":\"$f2\"" &&
   echo "$j3" | grep -q "\"jid\":\"m@$D/docsbak\",\"online\":true,\"full_jid\":\"m@$D/docsbak\",\"key\":\"pinned\",\"key_proven\":true,\"fingerprint\":\"$f3\""; then
	pass trust_pinned_per_peer_folder
else
	fail trust_pinned_per_peer_folder "$j1 / $j2 / $j3"
fi
if grep -l 'KEY CHANGED' "$XS_TMP"/m?.log "$XS_TMP"/s?.log >/dev/null 2>&1; then
	fail no_key_changed_between_folders "$(grep -h 'KEY CHANGED' "$XS_TMP"/*.log | head -2)"
else
	pass no_key_changed_between_folders
fi

# another resource of the master's account is not s/photos's master
before=$(tree_manifest "$XS_TMP/s1/dir")
"$XS_BUILD/tests/tools/xsend" "m@$D/intruder" secret-m 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 4 \
	"<iq type='get' id='x1' to='s@$D/photos'><identity xmlns='urn:xmpp-sync:pair:0' nonce='AAAAAAAAAAAAAAAAAAAAAA=='/></iq>" \
	"<iq type='set' id='x2' to='s@$D/photos'><sync xmlns='urn:xmpp-sync:meta:0'><op k='mkdir' p='crossed' m='755' t='0' q='1'/></sync></iq>" \
	>"$XS_TMP/intruder.out" 2>&1
e1=$(grep -c 'id="x1"[^>]*type="error"\|type="error"[^>]*id="x1"' "$XS_TMP/intruder.out")
e2=$(grep -c 'id="x2"[^>]*type="error"\|type="error"[^>]*id="x2"' "$XS_TMP/intruder.out")
if [ "$e1" = 1 ] && [ "$e2" = 1 ] && [ "$before" = "$(tree_manifest "$XS_TMP/s1/dir")" ] &&
   grep -q "refused an identity query from m@$D/intruder" "$XS_TMP/s1.log" &&
   grep -q "refused a sync request from m@$D/intruder" "$XS_TMP/s1.log"; then
	pass other_resource_of_master_account_refused
else
	fail other_resource_of_master_account_refused "errors $e1/$e2: $(cat "$XS_TMP/intruder.out" | head -5)"
fi
# and the pairs still work after that
echo "after" >"$XS_TMP/m1/dir/after.jpg"
wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 30 &&
	pass folder_pair_still_syncs || fail folder_pair_still_syncs "after.jpg did not arrive"
exit 0
