#!/bin/sh
# it_pairing: a master and a slave on a real Prosody find each other after
# `slave add` (no restart), pin each other's keys, survive a server restart,
# answer disco#info and ping from any resource of a peer's account (with
# the hash features), refuse a stranger on either side, notice a replaced
# key, and stop after `slave remove`.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in alice bob mallory; do prosody_adduser $u secret-$u; done
M=$(xs_conf m master alice)
S=$(xs_conf s slave bob master=alice@xs.test log_level=debug)
X="$XS_BIN"

"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null ||
	{ fail init "init failed"; exit 1; }
mfpr=$("$X" -c "$M" fingerprint)
sfpr=$("$X" -c "$S" fingerprint)
[ ${#mfpr} -eq 71 ] && [ "$mfpr" != "$sfpr" ] && pass fingerprint_printed ||
	fail fingerprint_printed "master '$mfpr' slave '$sfpr'"

# status with no daemon: says so, exit 8
out=$("$X" -c "$M" status 2>&1); rc=$?
[ $rc -eq 8 ] && echo "$out" | grep -q 'no daemon is running' &&
	pass status_without_daemon || fail status_without_daemon "rc=$rc $out"

xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
xs_wait_log "$XS_TMP/m.log" 'connected as' 15 && xs_wait_log "$XS_TMP/s.log" 'connected as' 15 ||
	{ fail daemons_start "$(tail -3 "$XS_TMP/m.log" "$XS_TMP/s.log")"; exit 1; }

# the slave is added while the master runs
start=$(date +%s)
"$X" -c "$M" slave add bob@xs.test >/dev/null || fail slave_add "slave add failed"
ok=0
for i in $(seq 1 150); do
	mj=$("$X" -c "$M" status --json 2>/dev/null)
	sj=$("$X" -c "$S" status --json 2>/dev/null)
	if echo "$mj" | grep -q '"jid":"bob@xs.test","online":true,"full_jid":"bob@xs.test/[^"]*","key":"pinned","key_proven":true' &&
	   echo "$sj" | grep -q '"jid":"alice@xs.test","online":true,"full_jid":"alice@xs.test/[^"]*","key":"pinned","key_proven":true'; then
		ok=1; break
	fi
	sleep 0.1
done
if [ $ok = 1 ]; then
	pass paired_after_slave_add_without_restart
	note "paired $(( $(date +%s) - start ))s after slave add"
else
	fail paired_after_slave_add_without_restart "master: $mj slave: $sj"
fi
# each pinned the other's real fingerprint
echo "$mj" | grep -q "\"fingerprint\":\"$sfpr\"" && echo "$sj" | grep -q "\"fingerprint\":\"$mfpr\"" &&
	pass pinned_fingerprints_match || fail pinned_fingerprints_match "$mj / $sj"

# Prosody killed and restarted: both reconnect by themselves within 30 s
prosody_stop
sleep 1
prosody_start
start=$(date +%s)
ok=0
while [ $(( $(date +%s) - start )) -lt 30 ]; do
	mj=$("$X" -c "$M" status --json 2>/dev/null)
	sj=$("$X" -c "$S" status --json 2>/dev/null)
	if echo "$mj" | grep -q '"connection":{"state":"online"' && echo "$sj" | grep -q '"connection":{"state":"online"' &&
	   echo "$mj" | grep -q '"key":"pinned","key_proven":true'; then
		ok=1; break
	fi
	sleep 0.2
done
[ $ok = 1 ] && { pass reconnect_after_server_restart; note "reconnected and re-proven $(( $(date +%s) - start ))s after the restart"; } ||
	fail reconnect_after_server_restart "master: $mj slave: $sj"

# a stranger: an IQ in our namespace, a Jingle session-initiate, a sync
# request, disco#info and ping. Each gets service-unavailable, what the
# server answers for a resource that is not online: the stranger cannot
# even tell that the agent is there (XEP-0166 5.2 for Jingle)
before=$(ls -A "$XS_TMP/s/dir" | wc -l)
keys_before=$(sqlite3 "$XS_TMP/s/state/xmpp-sync.db" 'select count(*), hex(group_concat(x25519)) from peer_keys' 2>&1)
"$XS_BUILD/tests/tools/xsend" mallory@xs.test secret-mallory 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 4 \
	"<iq type='get' id='evil1' to='bob@xs.test/xmpp-sync'><identity xmlns='urn:xmpp-sync:pair:0' nonce='AAAAAAAAAAAAAAAAAAAAAA=='/></iq>" \
	"<iq type='set' id='evil2' to='bob@xs.test/xmpp-sync'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1' initiator='mallory@xs.test/x'><content creator='initiator' name='f'><description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file><name>evil.txt</name><size>5</size></file></description><transport xmlns='urn:xmpp:jingle:transports:ibb:1' sid='t1' block-size='4096'/></content></jingle></iq>" \
	"<iq type='set' id='evil3' to='bob@xs.test/xmpp-sync'><sync xmlns='urn:xmpp-sync:meta:0'><op k='mkdir' p='evil-dir' m='755' t='0' q='1'/><op k='symlink' p='evil-link' l='/etc/passwd' m='777' t='0' q='2'/></sync></iq>" \
	"<iq type='get' id='evil4' to='bob@xs.test/xmpp-sync'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" \
	"<iq type='get' id='evil5' to='bob@xs.test/xmpp-sync'><ping xmlns='urn:xmpp:ping'/></iq>" \
	>"$XS_TMP/mallory.out" 2>&1
unavailable() { # ID FILE: the answer to ID is a service-unavailable error
	grep "id=\"$1\"" "$2" | grep 'type="error"' | grep -q '<service-unavailable'
}
after=$(ls -A "$XS_TMP/s/dir" | wc -l)
keys_after=$(sqlite3 "$XS_TMP/s/state/xmpp-sync.db" 'select count(*), hex(group_concat(x25519)) from peer_keys' 2>&1)
n=0
for id in evil1 evil2 evil3 evil4 evil5; do unavailable $id "$XS_TMP/mallory.out" && n=$((n + 1)); done
if [ "$n" = 5 ] && [ "$before" = "$after" ] && [ "$keys_before" = "$keys_after" ] &&
   ! grep -q 'xmpp-sync [0-9]\|hashes' "$XS_TMP/mallory.out" &&
   grep -q 'refused a request (urn:xmpp-sync:pair:0) from mallory@xs.test/[^ ]*, not a peer' "$XS_TMP/s.log" &&
   grep -q 'refused a Jingle request from mallory@xs.test' "$XS_TMP/s.log"; then
	pass stranger_gets_service_unavailable_nothing_written
else
	fail stranger_gets_service_unavailable_nothing_written "$n of 5 service-unavailable, files $before->$after keys '$keys_before'->'$keys_after': $(cut -c1-300 "$XS_TMP/mallory.out")"
fi
# a peer's account gets disco#info, with the hash features XEP-0300
# requires, and ping, from any resource: the daemon's peer itself is one,
# a probe and a phone of the same account are others. Both daemons.
peer_probe() { # NAME FROM PASSWORD TO
	"$XS_BUILD/tests/tools/xsend" "$2" "$3" 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 3 \
		"<iq type='get' id='d1' to='$4'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" \
		"<iq type='get' id='p1' to='$4'><ping xmlns='urn:xmpp:ping'/></iq>" \
		>"$XS_TMP/$1.out" 2>&1
	d=$(grep 'id="d1"' "$XS_TMP/$1.out")
	echo "$d" | grep -q 'type="result"' && echo "$d" | grep -q 'var="urn:xmpp:hashes:2"' &&
	echo "$d" | grep -q 'var="urn:xmpp:hash-function-text-names:sha-256"' &&
	echo "$d" | grep -q 'var="urn:xmpp:jingle:apps:file-transfer:5"' &&
	grep 'id="p1"' "$XS_TMP/$1.out" | grep -q 'type="result"'
}
ok=1 why=
for r in probe phone; do
	peer_probe "probe-$r" "alice@xs.test/$r" secret-alice bob@xs.test/xmpp-sync ||
		{ ok=0; why="$why alice/$r->slave: $(grep 'id="[dp]1"' "$XS_TMP/probe-$r.out" | cut -c1-300)"; }
	peer_probe "mprobe-$r" "bob@xs.test/$r" secret-bob alice@xs.test/xmpp-sync ||
		{ ok=0; why="$why bob/$r->master: $(grep 'id="[dp]1"' "$XS_TMP/mprobe-$r.out" | cut -c1-300)"; }
done
[ $ok = 1 ] && pass peer_account_gets_disco_with_hashes_and_ping ||
	fail peer_account_gets_disco_with_hashes_and_ping "$why"
# the master answers a stranger the same way as the slave
"$XS_BUILD/tests/tools/xsend" mallory@xs.test secret-mallory 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 3 \
	"<iq type='get' id='evil4' to='alice@xs.test/xmpp-sync'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" \
	"<iq type='get' id='evil5' to='alice@xs.test/xmpp-sync'><ping xmlns='urn:xmpp:ping'/></iq>" \
	"<iq type='set' id='evil2' to='alice@xs.test/xmpp-sync'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s2' initiator='mallory@xs.test/x'><content creator='initiator' name='f' senders='initiator'><description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file><name>evil.txt</name><size>5</size><hash-used xmlns='urn:xmpp:hashes:2' algo='sha-256'/></file></description><transport xmlns='urn:xmpp:jingle:transports:ibb:1' sid='t1' block-size='4096'/></content></jingle></iq>" \
	>"$XS_TMP/mallory-m.out" 2>&1
n=0
for id in evil2 evil4 evil5; do unavailable $id "$XS_TMP/mallory-m.out" && n=$((n + 1)); done
if [ "$n" = 3 ] && ! grep '^RECV' "$XS_TMP/mallory-m.out" | grep -q 'xmpp-sync [0-9]\|hashes' &&
   [ ! -e "$XS_TMP/m/dir/evil.txt" ]; then
	pass stranger_gets_service_unavailable_from_master
else
	fail stranger_gets_service_unavailable_from_master "$n of 3: $(cut -c1-300 "$XS_TMP/mallory-m.out")"
fi
grep -q 'evil.txt' "$XS_TMP/s/dir" 2>/dev/null && fail stranger_file "evil.txt written"

# the slave's identity is replaced (fresh state_dir, same JID)
xs_kill "$SPID"
mv "$XS_TMP/s/state" "$XS_TMP/s/state.old"
mkdir "$XS_TMP/s/state"
"$X" -c "$S" init >/dev/null
xs_spawn "$XS_TMP/s2.log" "$X" -c "$S" run; SPID=$XS_LASTPID
if xs_wait_log "$XS_TMP/m.log" 'KEY CHANGED: bob@xs.test' 20; then
	mj=$("$X" -c "$M" status --json 2>/dev/null)
	echo "$mj" | grep -q '"jid":"bob@xs.test","online":true,[^}]*"key":"CHANGED","key_proven":false' &&
		pass replaced_key_refused || fail replaced_key_refused "status: $mj"
else
	fail replaced_key_refused "no KEY CHANGED line: $(tail -5 "$XS_TMP/m.log")"
fi
"$X" -c "$M" status | grep -q 'key CHANGED' && pass status_text_shows_changed ||
	fail status_text_shows_changed "$("$X" -c "$M" status)"

# slave remove: from then on, nothing from the master reaches the slave
xs_kill "$SPID"
rm -rf "$XS_TMP/s/state"; mv "$XS_TMP/s/state.old" "$XS_TMP/s/state"
"$X" -c "$M" slave remove bob@xs.test >/dev/null || fail slave_remove "remove failed"
xs_wait_log "$XS_TMP/m.log" 'slave bob@xs.test removed' 5 || fail slave_remove "daemon did not notice"
"$X" -c "$M" slave list | grep -q bob && fail slave_remove "still listed"
xs_spawn "$XS_TMP/s3.log" "$X" -c "$S" run; SPID=$XS_LASTPID
xs_wait_log "$XS_TMP/s3.log" 'connected as' 15
sleep 4
# stanzas the master's daemon sent carry its full JID; the server's own
# (presence from the bare JID) are not the master's traffic
n=$(grep -c 'RECV:.*from="alice@xs.test/' "$XS_TMP/s3.log")
[ "$n" = 0 ] && grep -q 'RECV:' "$XS_TMP/s3.log" && pass no_traffic_after_remove ||
	fail no_traffic_after_remove "$n stanzas from the master: $(grep 'RECV:.*from="alice@xs.test/' "$XS_TMP/s3.log" | head -3)"
mj=$("$X" -c "$M" status --json)
echo "$mj" | grep -q '"slaves":\[\]' && pass status_after_remove || fail status_after_remove "$mj"
exit $XS_FAILED
