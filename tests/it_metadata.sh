#!/bin/sh
# it_metadata: what the XMPP server learns of a sync. The server logs the
# text of every stanza it receives and sends (Prosody: mod_stanza_debug;
# ejabberd: loglevel debug) while a
# master mirrors a folder named with a random marker that holds a file
# named with another marker. Neither marker, nor the file's SHA-256 (hex
# or base64), nor its size appears anywhere in the server's log, which did
# hold the sealed sync requests and the Jingle offers (so the check can
# fail); the file arrives identical. The same over SOCKS5 (direct), IBB
# and the server's SOCKS5 proxy. Then a sync request in clear is refused.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
XS_PROSODY_STANZA_LOG=1
prosody_start
X=$XS_BIN
LOG=$XS_SERVER_LOG
rnd() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }

one() { # N TRANSPORT
	n=$1 t=$2
	prosody_adduser m$n secret-m$n
	prosody_adduser s$n secret-s$n
	M=$(xs_conf m$n master m$n transports=$t)
	S=$(xs_conf s$n slave s$n master=m$n@xs.test transports=$t)
	"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null ||
		{ fail "${t}_setup" "init"; return; }
	"$X" -c "$M" slave add s$n@xs.test >/dev/null
	dmark="xsdir$(rnd)" fmark="xsfile$(rnd)"
	mkdir "$XS_TMP/m$n/dir/$dmark"
	f=$XS_TMP/m$n/dir/$dmark/$fmark.bin
	head -c 70001 /dev/urandom >"$f"
	size=$(wc -c <"$f")
	hex=$(sha256sum "$f" | cut -d' ' -f1)
	b64=$(printf '%s' "$hex" | xxd -r -p | base64)
	start=$(wc -c <"$LOG")
	xs_spawn "$XS_TMP/m$n.log" "$X" -c "$M" run
	xs_spawn "$XS_TMP/s$n.log" "$X" -c "$S" run
	if wait_trees_equal "$XS_TMP/m$n/dir" "$XS_TMP/s$n/dir" 60 &&
	   cmp -s "$f" "$XS_TMP/s$n/dir/$dmark/$fmark.bin"; then
		pass "${t}_file_arrives_identical"
	else
		fail "${t}_file_arrives_identical" "$(tail -n 3 "$XS_TMP/s$n.log")"
	fi
	sleep 1
	# what the server logged while this pair ran
	tail -c +"$((start + 1))" "$LOG" >"$XS_TMP/server$n.log"
	sealed=$(grep -c "urn:xmpp-sync:sealed:0" "$XS_TMP/server$n.log")
	offers=$(grep -c "session-initiate" "$XS_TMP/server$n.log")
	found=""
	for w in "$dmark" "$fmark" "$hex" "$(echo "$hex" | tr a-f A-F)" "$b64" \
	    "<size>$size</size>"; do
		grep -qF -- "$w" "$XS_TMP/server$n.log" && found="$found $w"
	done
	if [ "$sealed" -gt 0 ] && [ "$offers" -gt 0 ] && [ -z "$found" ]; then
		pass "${t}_server_learns_no_name_checksum_or_size"
		note "$t: $(wc -l <"$XS_TMP/server$n.log") lines of server log, $sealed with sealed stanzas, $offers with offers; markers found 0 times"
	else
		fail "${t}_server_learns_no_name_checksum_or_size" "sealed $sealed, offers $offers, found:$found"
	fi
}

one 1 s5b
one 2 ibb
one 3 proxy

# a sync request in clear, from the master's own account: refused, logged,
# nothing written
"$XS_BUILD/tests/tools/xsend" m1@xs.test secret-m1 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 4 \
	"<iq type='set' id='plain1' to='s1@xs.test/xmpp-sync'><sync xmlns='urn:xmpp-sync:meta:0'><op k='mkdir' p='plain-dir' m='755' t='0' q='1'/></sync></iq>" \
	>"$XS_TMP/plain.out" 2>&1
if grep -q 'type="error"' "$XS_TMP/plain.out" && grep -q 'not-acceptable' "$XS_TMP/plain.out" &&
   grep -q 'refused a sync request from m1@xs.test/.*sent in clear' "$XS_TMP/s1.log" &&
   [ ! -e "$XS_TMP/s1/dir/plain-dir" ]; then
	pass plaintext_sync_request_refused
else
	fail plaintext_sync_request_refused "$(cat "$XS_TMP/plain.out" | tail -n 2)"
fi
exit $XS_FAILED
