#!/bin/sh
# weight: 25 (seconds it takes; tests/run.sh starts the longest first)
# it_federation: master and slave on two federated servers.
#
# Two private Prosody 0.12 instances serve a.test and b.test, each with
# its own mod_proxy65 (tests/lib/federation.sh). Their s2s links are TLS,
# authenticated by certificates from the test CA (SASL EXTERNAL; dialback
# is off, so nothing weaker can stand in), and routed without DNS.
# Prosody 0.12's outgoing s2s looks up SRV _xmpps-server._tcp and
# _xmpp-server._tcp, then A/AAAA on port 5269, with its own resolver,
# which does not read /etc/hosts; no option names a target for a domain.
# A small plugin, tests/lib/prosody/mod_xs_route.lua, replaces that lookup
# for the other test domain with its loopback s2s port and refuses every
# other remote domain. No system file changes, no root needed, no packet
# leaves loopback.
#
# For each transport forced alone on both sides (s5b direct, proxy, ibb),
# a master mP@a.test and a slave sP@b.test:
# - pair after `slave add` while both run, each pinning the other's key
#   (the first pair also checks the fingerprints against `fingerprint`)
# - initial sync of a small tree
# - live changes: a new file, a change, a rename (no content sent again),
#   a delete; trees compared by content after each step
# - every transfer went over the transport that was forced
# Whose proxy carries the bytes: with both servers' proxies offered, the
# slave's (XEP-0260: equal priorities, the initiator's choice wins, and it
# chose the responder's candidate); then b.test restarts without its proxy
# and the master's own carries them. A proxy serves only its own server's
# users: a query from the other domain gets <forbidden/>.
# Last, each server is killed (-9) and restarted in turn: its agent logs
# in again while the other agent, whose server never sent it an
# unavailable presence, still holds it online; changes made meanwhile
# must arrive.
# Always Prosody, whatever XS_SERVER names: this is about federation.
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/federation.sh"
xs_setup
fed_start
X=$XS_BIN
KIB=1024

# done_count LOG [TRANSPORT]: transfers the master finished (over TRANSPORT)
done_count() {
	grep -c "sent .*: done, [0-9]* bytes (from offset [0-9]*) over ${2:-[a-z0-9]*} in" "$1"
}

# proxy_uses LOG: how many sessions used our or the peer's proxy
proxy_uses() {
	echo "our $(grep -c 's5b: using our proxy' "$1")," \
		"peer's $(grep -c "s5b: using the peer's proxy" "$1")"
}

# wait_paired M S SJID MJID: within 20 s, both daemons report the other
# online, pinned and proven (sets mj, sj: their last status)
wait_paired() {
	_end=$(( $(date +%s) + 20 ))
	while [ "$(date +%s)" -lt $_end ]; do
		mj=$("$X" -c "$1" status --json 2>/dev/null)
		sj=$("$X" -c "$2" status --json 2>/dev/null)
		echo "$mj" | grep -q "\"jid\":\"$3\",\"online\":true,\"full_jid\":\"$3/[^\"]*\",\"key\":\"pinned\",\"key_proven\":true" &&
		echo "$sj" | grep -q "\"jid\":\"$4\",\"online\":true,\"full_jid\":\"$4/[^\"]*\",\"key\":\"pinned\",\"key_proven\":true" &&
			return 0
		sleep 0.2
	done
	return 1
}

# step NAME: the trees become equal, PASS/FAIL ${P}_NAME; returns 1 on
# failure (the next steps would only wait for their time limit too)
step() {
	if wait_trees_equal "$MD" "$SD" 20; then
		pass "${P}_$1"
	else
		fail "${P}_$1" "trees differ (see above); $(tail -n 3 "$ML")"
		return 1
	fi
}

# pair_start P T: accounts, configurations (transports=T) and a small
# tree; both daemons run, then `slave add`. Sets M S MD SD ML SL MPID SPID.
pair_start() {
	P=$1 T=$2
	fed_adduser a "m$P" "secret-m$P"
	fed_adduser b "s$P" "secret-s$P"
	MJ=m$P@$FED_A SJ=s$P@$FED_B
	M=$(fed_conf a "m$P" master "m$P" "transports=$T")
	S=$(fed_conf b "s$P" slave "s$P" "master=$MJ" "transports=$T")
	MD=$XS_TMP/m$P/dir SD=$XS_TMP/s$P/dir ML=$XS_TMP/m$P.log SL=$XS_TMP/s$P.log
	"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null ||
		{ fail "${P}_init" "init failed"; return 1; }
	size=$((768 * KIB))
	[ "$T" = ibb ] && size=$((256 * KIB))
	# files above the inline limit (8 KiB) travel by Jingle, smaller
	# ones inside the sync batch
	mkdir -p "$MD/docs/deep"
	echo "hello from $FED_A" >"$MD/hello.txt"
	head -c $((40 * KIB)) /dev/urandom >"$MD/docs/first.bin"
	head -c $size /dev/urandom >"$MD/docs/deep/second.bin"
	xs_spawn "$ML" "$X" -c "$M" run; MPID=$XS_LASTPID
	xs_spawn "$SL" "$X" -c "$S" run; SPID=$XS_LASTPID
	if ! xs_wait_log "$ML" 'connected as' 20 || ! xs_wait_log "$SL" 'connected as' 20; then
		fail "${P}_daemons_connect" "$(tail -n 3 "$ML" "$SL")"
		return 1
	fi
	t0=$(date +%s)
	"$X" -c "$M" slave add "$SJ" >/dev/null || fail "${P}_slave_add" "slave add $SJ failed"
	if wait_paired "$M" "$S" "$SJ" "$MJ"; then
		pass "${P}_paired_across_domains"
		note "$P: $MJ and $SJ paired $(( $(date +%s) - t0 ))s after slave add"
	else
		fail "${P}_paired_across_domains" "master: $mj slave: $sj"
		return 1
	fi
}

# wait_done N: the master logged at least N finished transfers (its line
# comes after the slave's verdict, so maybe after the trees are equal)
wait_done() {
	_end=$(( $(date +%s) + 10 ))
	while [ "$(done_count "$ML")" -lt "$1" ] && [ "$(date +%s)" -lt $_end ]; do
		sleep 0.1
	done
	[ "$(done_count "$ML")" -ge "$1" ]
}

# pair_changes: initial sync, then each live change; every transfer over $T
pair_changes() {
	step initial_sync || return 1
	head -c $size /dev/urandom >"$MD/new.bin"
	step live_new_file || return 1
	head -c $((size + 1000)) /dev/urandom >"$MD/new.bin"
	step live_change || return 1
	# the two files of the initial tree (one bundle: one session), the
	# new one, its change
	wait_done 3
	n1=$(done_count "$ML")
	mv "$MD/new.bin" "$MD/docs/renamed.bin"
	step live_rename || return 1
	rm "$MD/docs/first.bin"
	step live_delete || return 1
	sleep 0.5
	n2=$(done_count "$ML")
	[ "$n1" = "$n2" ] && pass "${P}_rename_sends_no_content" ||
		fail "${P}_rename_sends_no_content" "$((n2 - n1)) transfers after the rename"
	over=$(done_count "$ML" "$T")
	if [ "$n2" -ge 3 ] && [ "$n2" = "$over" ]; then
		pass "${P}_every_transfer_over_$T"
	else
		fail "${P}_every_transfer_over_$T" "$n2 transfers, $over over $T: $(grep ': done,' "$ML" | tail -n 3)"
	fi
}

pair_stop() {
	xs_kill "$MPID"; xs_kill "$SPID"
}

# ---- s5b direct ----
if pair_start s5b s5b; then
	mf=$("$X" -c "$M" fingerprint) sf=$("$X" -c "$S" fingerprint)
	echo "$mj" | grep -q "\"fingerprint\":\"$sf\"" && echo "$sj" | grep -q "\"fingerprint\":\"$mf\"" &&
		pass pinned_fingerprints_match_across_domains ||
		fail pinned_fingerprints_match_across_domains "$mj / $sj"
	pair_changes
fi
pair_stop

# both directions of s2s: TLS, and each server took the other's
# certificate as its identity (SASL EXTERNAL; dialback is not loaded)
ok=1
for s in a b; do
	[ $s = a ] && other=$FED_B || other=$FED_A
	l=$(fed_log $s)
	grep -q "Accepting SASL EXTERNAL identity from $other" "$l" &&
		[ "$(grep -c 's2s\(in\|out\)[0-9a-f]*.*Stream encrypted (TLS' "$l")" -ge 2 ] &&
		grep -q 'Outgoing s2s connection .* complete' "$l" || ok=0
done
[ $ok = 1 ] && pass s2s_tls_authenticated_by_certificates ||
	fail s2s_tls_authenticated_by_certificates "$(grep -h 's2s' "$XS_TMP"/prosody-*/prosody.log | tail -n 6)"

# ---- proxy: both servers' proxies offered; the slave's carries it ----
if pair_start proxy proxy && pair_changes; then
	m=$(proxy_uses "$ML") s=$(proxy_uses "$SL")
	note "proxy: master used $m; slave used $s"
	case "$m/$s" in
	"our 0, peer's "[1-9]*"/our "[1-9]*", peer's 0")
		pass proxy_slaves_server_proxy_carries ;;
	*)	fail proxy_slaves_server_proxy_carries "master $m, slave $s" ;;
	esac
fi
# a proxy serves its own server's users only: from a.test, b.test's
# proxy refuses a request (the agents never ask the other server's).
# And a domain with no route fails at once, without a DNS query.
"$XS_BUILD/tests/tools/xsend" "mproxy@$FED_A/probe" secret-mproxy 127.0.0.1 "$FED_A_C2S" "$XS_CA" 2 \
	"<iq type='get' id='own' to='proxy.$FED_A'><query xmlns='http://jabber.org/protocol/bytestreams'/></iq>" \
	"<iq type='get' id='other' to='proxy.$FED_B'><query xmlns='http://jabber.org/protocol/bytestreams'/></iq>" \
	"<iq type='get' id='nowhere' to='nowhere.invalid'><ping xmlns='urn:xmpp:ping'/></iq>" \
	>"$XS_TMP/probe.out" 2>&1
answer() { grep "RECV.*id=\"$1\"" "$XS_TMP/probe.out"; }
if answer own | grep 'type="result"' | grep -q "port=\"$FED_A_PROXY\"" &&
   answer other | grep 'type="error"' | grep -q '<forbidden'; then
	pass proxy_refuses_the_other_domain
else
	fail proxy_refuses_the_other_domain "$(answer own; answer other)"
fi
if answer nowhere | grep -q '<remote-server-not-found' &&
   grep -q 'no route to nowhere.invalid' "$(fed_log a)"; then
	pass unrouted_domain_fails_without_dns
else
	fail unrouted_domain_fails_without_dns "$(answer nowhere | cut -c1-300)"
fi
pair_stop

# ---- ibb ----
pair_start ibb ibb && pair_changes
pair_stop

# ---- proxy, b.test without one: the master's own proxy carries it ----
sed -i '/^Component "proxy/,$d' "$XS_TMP/prosody-b/prosody.cfg.lua"
fed_restart b
if pair_start proxya proxy && pair_changes; then
	m=$(proxy_uses "$ML") s=$(proxy_uses "$SL")
	note "proxy, b.test without one: master used $m; slave used $s"
	if grep -q 'no SOCKS5 proxy on the server' "$SL"; then
		case "$m/$s" in
		"our "[1-9]*", peer's 0/our 0, peer's "[1-9]*)
			pass proxy_masters_server_proxy_carries ;;
		*)	fail proxy_masters_server_proxy_carries "master $m, slave $s" ;;
		esac
	else
		fail proxy_masters_server_proxy_carries "the slave found a proxy: $(grep 'SOCKS5 proxy' "$SL")"
	fi
fi
pair_stop

# ---- one server killed: its users come back, the other server never
# told that they had gone (no unavailable presence crossed) ----
if pair_start crash s5b && step initial_sync; then
	for side in b a; do
		[ $side = b ] && who=slave || who=master
		fed_restart $side KILL
		head -c $((100 * KIB)) /dev/urandom >"$MD/after-$side.bin"
		step "${who}s_server_killed_changes_arrive" || break
	done
fi
pair_stop
exit $XS_FAILED
