#!/bin/sh
# weight: 86 (seconds it takes; tests/run.sh starts the longest first)
# it_jingle: Jingle file transfer between two clients of a real Prosody
# (with mod_proxy65), driven by tests/tools/jft.
#
# - 0 B, 1 B, 64 KiB and 100 MiB arrive bit-identical over each transport
#   forced alone: s5b, proxy, ibb (IBB moves ~2 MiB/s through Prosody,
#   so its 100 MiB run takes ~50 s; XS_JINGLE_QUICK=1 uses 8 MiB instead)
# - direct candidates pointing at a closed port: the proxy carries it
# - a transfer killed (-9) at about half resumes with a range request
# - 200 files of 4 KiB with a window of 8 sessions vs one at a time
# - malformed and out-of-order requests get error replies; no crash, no
#   file outside the folder
# - with the proxy gone too, IBB carries it (last: restarts Prosody)
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
prosody_adduser alice secret-alice
prosody_adduser bob secret-bob
CA=$(xs_conf a master alice)
CB=$(xs_conf b slave bob master=alice@xs.test)
JFT=$XS_BUILD/tests/tools/jft
PEER=bob@xs.test/xmpp-sync
[ -x "$JFT" ] || { echo "FAIL setup: $JFT not built"; exit 1; }
MIB=1048576
IBB_MIB=100
[ -n "${XS_JINGLE_QUICK:-}" ] && IBB_MIB=8

now_ms() { date +%s%3N; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }

SRC=$XS_TMP/src
mkdir -p "$SRC"
: >"$SRC/empty.bin"
head -c 1 /dev/urandom >"$SRC/one.bin"
head -c 65536 /dev/urandom >"$SRC/k64.bin"
head -c $((100 * MIB)) /dev/urandom >"$SRC/m100.bin"
if [ "$IBB_MIB" = 100 ]; then
	# a hard link: the file source never reads through a symlink
	ln "$SRC/m100.bin" "$SRC/ibbbig.bin"
else
	head -c $((IBB_MIB * MIB)) /dev/urandom >"$SRC/ibbbig.bin"
fi

# start_recv NAME DIR [jft options...]: a receiver, waits until online
start_recv() {
	_n=$1 _d=$2
	shift 2
	mkdir -p "$_d"
	xs_spawn "$XS_TMP/$_n.log" "$JFT" -c "$CB" "$@" recv "$_d"
	RPID=$XS_LASTPID
	xs_wait_log "$XS_TMP/$_n.log" '^connected as' 20 ||
		{ fail "$_n" "receiver did not connect: $(tail -n 3 "$XS_TMP/$_n.log")"; return 1; }
}

# same_files DIR NAME...: every NAME in DIR is identical to $SRC/NAME
same_files() {
	_d=$1
	shift
	for _f in "$@"; do
		[ -f "$_d/$_f" ] && [ "$(sha "$_d/$_f")" = "$(sha "$SRC/$_f")" ] ||
			{ echo "$_f differs or is missing"; return 1; }
	done
	return 0
}

# ---- each transport alone ----
for T in s5b proxy ibb; do
	big=m100.bin
	[ "$T" = ibb ] && big=ibbbig.bin
	files="empty.bin one.bin k64.bin $big"
	dir=$XS_TMP/recv-$T
	start_recv "recv-$T" "$dir" --transports "$T" --count 4 || continue
	t0=$(now_ms)
	timeout 200 "$JFT" -c "$CA" --transports "$T" send "$PEER" "$SRC" $files \
		>"$XS_TMP/send-$T.log" 2>&1
	rc=$?
	t1=$(now_ms)
	# shellcheck disable=SC2086
	if [ $rc -eq 0 ] && why=$(same_files "$dir" $files); then
		pass "transfer_${T}_0B_1B_64KiB_big_identical"
	else
		fail "transfer_${T}_0B_1B_64KiB_big_identical" "rc=$rc ${why:-} $(grep -v debug "$XS_TMP/send-$T.log" | tail -n 5)"
	fi
	grep -q "over $T in" "$XS_TMP/send-$T.log" ||
		fail "transfer_${T}_used_$T" "$(grep 'done,' "$XS_TMP/send-$T.log" | head -n 2)"
	size=$(($(stat -L -c %s "$SRC/$big") / MIB))
	ms=$(grep "sent $big to" "$XS_TMP/send-$T.log" | sed -n 's/.* in \([0-9]*\) ms.*/\1/p')
	note "$T: 4 files in $((t1 - t0)) ms; $big ($size MiB) took ${ms:-?} ms"
	xs_kill "$RPID"
done

# ---- plain XEP-0234 as another client speaks it ----
# the receiver answers disco#info (any account may ask: jft talks to
# anyone) with the Jingle and XEP-0300 hash features, and ping
dir=$XS_TMP/recv-plain
if start_recv recv-plain "$dir" --count 2; then
	"$XS_BUILD/tests/tools/xsend" alice@xs.test/probe secret-alice 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 3 \
		"<iq type='get' id='d1' to='$PEER'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" \
		"<iq type='get' id='p1' to='$PEER'><ping xmlns='urn:xmpp:ping'/></iq>" \
		>"$XS_TMP/jft-disco.out" 2>&1
	d=$(grep 'id="d1"' "$XS_TMP/jft-disco.out")
	ok=1
	for f in urn:xmpp:jingle:1 urn:xmpp:jingle:apps:file-transfer:5 \
	    urn:xmpp:jingle:transports:s5b:1 urn:xmpp:jingle:transports:ibb:1 \
	    urn:xmpp:hashes:2 urn:xmpp:hash-function-text-names:sha-256; do
		echo "$d" | grep -q "var=\"$f\"" || ok=0
	done
	if [ $ok = 1 ] && echo "$d" | grep -q 'type="result"' &&
	   grep 'id="p1"' "$XS_TMP/jft-disco.out" | grep -q 'type="result"'; then
		pass jft_answers_disco_with_jingle_and_hash_features
	else
		fail jft_answers_disco_with_jingle_and_hash_features "$(cut -c1-400 "$XS_TMP/jft-disco.out")"
	fi
	# an offer with <hash-used/>: the hash follows the data in a
	# session-info <checksum/>, and the file is verified against it
	for T in s5b ibb; do
		timeout 60 "$JFT" -c "$CA" -v --transports "$T" --hash-used \
			send "$PEER" "$SRC" k64.bin >"$XS_TMP/send-hu-$T.log" 2>&1
		rc=$?
		if [ $rc -eq 0 ] && same_files "$dir" k64.bin >/dev/null &&
		   grep -q '<hash-used[^>]*algo="sha-256"' "$XS_TMP/send-hu-$T.log" &&
		   grep -q 'SENT:.*<checksum' "$XS_TMP/send-hu-$T.log"; then
			pass "hash_used_offer_checksum_after_data_$T"
		else
			fail "hash_used_offer_checksum_after_data_$T" "rc=$rc $(grep -v debug "$XS_TMP/send-hu-$T.log" | tail -n 5)"
		fi
		rm -f "$dir/k64.bin"
	done
	xs_kill "$RPID"
fi

# ---- direct candidates unreachable: the proxy carries it ----
closed=$("$XS_FREEPORT")
dir=$XS_TMP/recv-fb1
if start_recv recv-fb1 "$dir" --s5b-port "$closed" --count 1; then
	timeout 60 "$JFT" -c "$CA" --s5b-port "$closed" send "$PEER" "$SRC" k64.bin \
		>"$XS_TMP/send-fb1.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && same_files "$dir" k64.bin >/dev/null &&
	   grep -q 'over proxy in' "$XS_TMP/send-fb1.log" &&
	   grep -q 'fallback: no direct SOCKS5' "$XS_TMP/send-fb1.log" "$XS_TMP/recv-fb1.log"; then
		pass direct_closed_falls_back_to_proxy
	else
		fail direct_closed_falls_back_to_proxy "rc=$rc $(grep -v debug "$XS_TMP/send-fb1.log" | tail -n 5)"
	fi
	xs_kill "$RPID"
fi

# ---- resume after kill -9 of the sender at about half ----
head -c $((32 * MIB)) /dev/urandom >"$SRC/resume.bin"
dir=$XS_TMP/recv-resume
if start_recv recv-resume "$dir" --transports s5b; then
	xs_spawn "$XS_TMP/send-resume1.log" "$JFT" -c "$CA" --transports s5b \
		--rate $((8 * MIB)) send "$PEER" "$SRC" resume.bin
	spid=$XS_LASTPID
	got=0 i=0
	while [ $i -lt 300 ]; do
		got=$(stat -c %s "$dir"/.xmpp-sync-tmp.* 2>/dev/null | head -n 1)
		[ "${got:-0}" -ge $((16 * MIB)) ] && break
		sleep 0.05; i=$((i + 1))
	done
	kill -9 "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	xs_wait_log "$XS_TMP/recv-resume.log" 'receive resume.bin failed' 15
	kept=$(stat -c %s "$dir"/.xmpp-sync-tmp.* 2>/dev/null | head -n 1)
	note "resume: sender killed with ${kept:-0} of $((32 * MIB)) bytes received"
	timeout 60 "$JFT" -c "$CA" --transports s5b send "$PEER" "$SRC" resume.bin \
		>"$XS_TMP/send-resume2.log" 2>&1
	rc=$?
	off=$(sed -n 's/^received resume.bin ok [0-9]* offset \([0-9]*\)$/\1/p' "$XS_TMP/recv-resume.log")
	if [ $rc -eq 0 ] && [ "${off:-0}" -gt 0 ] && [ "${off:-0}" -eq "${kept:-0}" ] &&
	   same_files "$dir" resume.bin >/dev/null &&
	   [ -z "$(ls -A "$dir" | grep -v '^resume.bin$')" ]; then
		pass resume_with_range_after_kill
		note "resume: second run asked for the rest from offset $off"
	else
		fail resume_with_range_after_kill "rc=$rc offset=${off:-none} kept=${kept:-none} $(ls -A "$dir")"
	fi
	xs_kill "$RPID"
fi

# ---- 200 small files: window of 8 vs one at a time ----
mkdir -p "$SRC/small"
i=0
while [ $i -lt 200 ]; do
	head -c 4096 /dev/urandom >"$SRC/small/s$i.bin"
	i=$((i + 1))
done
for w in 1 8; do
	dir=$XS_TMP/recv-w$w
	start_recv "recv-w$w" "$dir" --count 200 || continue
	t0=$(now_ms)
	timeout 120 "$JFT" -c "$CA" --window $w send "$PEER" "$SRC/small" \
		>"$XS_TMP/send-w$w.log" 2>&1
	rc=$?
	t1=$(now_ms)
	eval "took$w=$((t1 - t0)) rc$w=$rc n$w=$(ls "$dir" | grep -c '^s.*\.bin$')"
	xs_kill "$RPID"
done
note "200 files of 4 KiB: one at a time ${took1:-?} ms, window of 8 ${took8:-?} ms"
if [ "${rc1:-1}" -eq 0 ] && [ "${rc8:-1}" -eq 0 ] && [ "${n1:-0}" -eq 200 ] &&
   [ "${n8:-0}" -eq 200 ] && [ $((took8 * 4)) -lt $((took1 * 3)) ]; then
	pass window_of_sessions_faster_than_one_at_a_time
else
	fail window_of_sessions_faster_than_one_at_a_time \
		"rc=${rc1:-?}/${rc8:-?} files=${n1:-?}/${n8:-?} ms=${took1:-?}/${took8:-?}"
fi

# ---- hostile requests ----
dir=$XS_TMP/recv-probe
if start_recv recv-probe "$dir" --max-size 1000000; then
	out=$(timeout 30 "$JFT" -c "$CA" probe "$PEER" 2>&1)
	ok=1
	for want in "missing_sid error bad-request" \
	    "unknown_action error feature-not-implemented" \
	    "bad_candidate_port error bad-request" \
	    "dotdot_name error not-acceptable" \
	    "absolute_name error not-acceptable" \
	    "inner_dotdot_name error not-acceptable" \
	    "unknown_session error item-not-found unknown-session" \
	    "too_large result" "peer session-terminate p8 media-error" \
	    "ooo_accept error unexpected-request out-of-order" \
	    "ibb_unknown_sid error item-not-found" \
	    "no_hash error bad-request"; do
		echo "$out" | grep -qx "probe $want\|$want" ||
			{ ok=0; fail "hostile_requests_get_errors" "no '$want' in: $out"; }
	done
	[ $ok = 1 ] && pass hostile_requests_get_errors
	if kill -0 "$RPID" 2>/dev/null && [ ! -e "$XS_TMP/b/evil" ] &&
	   [ ! -e "$XS_TMP/evil" ] && [ ! -e "$XS_TMP/evil2" ] &&
	   [ ! -e /tmp/xs-evil-abs ] && [ -z "$(ls "$dir")" ]; then
		pass hostile_requests_no_crash_no_file
	else
		fail hostile_requests_no_crash_no_file "$(ls -A "$dir" "$XS_TMP")"
	fi
	xs_kill "$RPID"
fi

# ---- the proxy gone as well: IBB carries it ----
# (prosody_start would wait for the proxy port: start it by hand)
sed -i '/^Component "proxy/,$d' "$XS_TMP/prosody/prosody.cfg.lua"
prosody_stop
xs_spawn "$XS_TMP/prosody/stdout.log" prosody --config "$XS_TMP/prosody/prosody.cfg.lua" -F
XS_PROSODY_PID=$XS_LASTPID
"$XS_FREEPORT" --wait "$XS_C2S_PORT" 20 || fail prosody_restart "prosody did not come back"
dir=$XS_TMP/recv-fb2
if start_recv recv-fb2 "$dir" --s5b-port "$closed" --count 1; then
	timeout 90 "$JFT" -c "$CA" --s5b-port "$closed" send "$PEER" "$SRC" k64.bin \
		>"$XS_TMP/send-fb2.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && same_files "$dir" k64.bin >/dev/null &&
	   grep -q 'over ibb in' "$XS_TMP/send-fb2.log" &&
	   grep -q 'fallback: .*replacing the transport with ibb' "$XS_TMP/send-fb2.log"; then
		pass direct_and_proxy_gone_falls_back_to_ibb
	else
		fail direct_and_proxy_gone_falls_back_to_ibb "rc=$rc $(grep -v debug "$XS_TMP/send-fb2.log" | tail -n 5)"
	fi
	xs_kill "$RPID"
fi
exit $XS_FAILED
