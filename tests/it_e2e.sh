#!/bin/sh
# it_e2e: end-to-end encryption as the server and the proxy see it. A
# file full of a unique marker goes through IBB and through the SOCKS5
# proxy; the marker never appears in what the server delivered (the
# slave's raw stanza log, IBB payloads decoded) nor in what crossed the
# proxy (the server's socket reads and writes, traced), while the slave gets
# the file intact. Then the master's key is replaced: the slave refuses it.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m1 s1 m2 s2; do prosody_adduser $u secret-$u; done
X=$XS_BIN
MARK="xs-e2e-marker-$$-$(date +%s%N)"
hexmark=$(printf '%s' "$MARK" | od -An -tx1 | tr -d ' \n' | sed 's/\(..\)/\\x\1/g')

make_pair() { # N TRANSPORT
	M=$(xs_conf m$1 master m$1 transports=$2)
	S=$(xs_conf s$1 slave s$1 master=m$1@xs.test transports=$2 log_level=debug)
	"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init "pair $1"; exit 1; }
	"$X" -c "$M" slave add s$1@xs.test >/dev/null
	xs_spawn "$XS_TMP/m$1.log" "$X" -c "$M" run
	eval "MPID$1=\$XS_LASTPID"
	xs_spawn "$XS_TMP/s$1.log" "$X" -c "$S" run
	xs_wait_log "$XS_TMP/m$1.log" 'pinned the key of s' 20 || { fail pair "pair $1 did not pair"; exit 1; }
}
marked_file() { # PATH: ~120 KiB, every line the marker
	i=0; while [ $i -lt 2000 ]; do echo "$MARK $i"; i=$((i + 1)); done >"$1"
}

# --- IBB: what the server delivered, as the slave's log shows it
make_pair 1 ibb
marked_file "$XS_TMP/m1/dir/secret.txt"
if wait_trees_equal "$XS_TMP/m1/dir" "$XS_TMP/s1/dir" 60 && grep -q "$MARK 1999" "$XS_TMP/s1/dir/secret.txt"; then
	pass ibb_file_arrives_intact
else
	fail ibb_file_arrives_intact "$(tail -n 3 "$XS_TMP/s1.log")"
fi
grep -o '<data [^>]*>[^<]*</data>' "$XS_TMP/s1.log" | sed 's/<[^>]*>//g' >"$XS_TMP/ibb.b64"
chunks=$(wc -l <"$XS_TMP/ibb.b64")
: >"$XS_TMP/ibb.bin"
while read -r b; do printf '%s' "$b" | base64 -d >>"$XS_TMP/ibb.bin" 2>/dev/null; done <"$XS_TMP/ibb.b64"
carried=$(wc -c <"$XS_TMP/ibb.bin")
size=$(wc -c <"$XS_TMP/m1/dir/secret.txt")
if [ "$carried" -ge "$size" ] && ! grep -q "$MARK" "$XS_TMP/ibb.bin" && ! grep -q "$MARK" "$XS_TMP/s1.log" &&
   ! grep -q "$MARK" "$XS_SERVER_LOG"; then
	pass ibb_server_never_sees_plaintext
	note "IBB: $chunks chunks, $carried bytes carried for a $size-byte file; marker found 0 times"
else
	fail ibb_server_never_sees_plaintext "carried $carried of $size bytes; marker in payloads: $(grep -c "$MARK" "$XS_TMP/ibb.bin")"
fi

# --- proxy: every byte the server read or wrote while the file crossed it
make_pair 2 proxy
strace -f -qq -p "$XS_PROSODY_PID" -e trace=read,write,recvfrom,sendto,readv,writev \
	-s 1048576 -xx -o "$XS_TMP/proxy.trace" 2>/dev/null &
STRACE=$!; XS_PIDS="$XS_PIDS $STRACE"
sleep 1
marked_file "$XS_TMP/m2/dir/secret.txt"
if wait_trees_equal "$XS_TMP/m2/dir" "$XS_TMP/s2/dir" 60 && grep -q "$MARK 1999" "$XS_TMP/s2/dir/secret.txt"; then
	pass proxy_file_arrives_intact
else
	fail proxy_file_arrives_intact "$(tail -n 3 "$XS_TMP/s2.log")"
fi
sleep 1
xs_kill "$STRACE"
grep -q 'over proxy\|via proxy\|proxy' "$XS_TMP/m2.log" || note "master log does not name the proxy"
traced=$(wc -c <"$XS_TMP/proxy.trace")
# each byte is written as \xNN: the trace must hold at least the file
if [ "$traced" -gt $((size * 4)) ] && ! grep -qF "$hexmark" "$XS_TMP/proxy.trace"; then
	pass proxy_never_sees_plaintext
	note "proxy: $traced bytes of socket trace for a $size-byte file; marker found 0 times"
else
	fail proxy_never_sees_plaintext "trace $traced bytes; marker found $(grep -cF "$hexmark" "$XS_TMP/proxy.trace") times"
fi

# --- the master's key is replaced: the slave refuses it, nothing arrives
: >"$XS_TMP/s1.log"
xs_kill "$MPID1"	# by PID: a pattern would hit other tests' daemons
sleep 1
rm -rf "$XS_TMP/m1/state"; mkdir "$XS_TMP/m1/state"
"$X" -c "$XS_TMP/m1/conf" init >/dev/null
"$X" -c "$XS_TMP/m1/conf" slave add s1@xs.test >/dev/null
echo "after the key change" >"$XS_TMP/m1/dir/late.txt"
xs_spawn "$XS_TMP/m1b.log" "$X" -c "$XS_TMP/m1/conf" run
if xs_wait_log "$XS_TMP/s1.log" 'KEY CHANGED: m1@xs.test' 20; then
	sleep 3
	[ ! -e "$XS_TMP/s1/dir/late.txt" ] && pass changed_master_key_refused ||
		fail changed_master_key_refused "late.txt arrived"
else
	fail changed_master_key_refused "no KEY CHANGED on the slave: $(tail -n 3 "$XS_TMP/s1.log")"
fi
exit $XS_FAILED
