#!/bin/sh
# bench/delta.sh -- what a change to a large file costs on the wire:
# xmpp-sync (master and slave through a private Prosody on loopback, TLS,
# encryption on; content-defined chunks, docs/protocol.md 2) beside the
# rsync daemon (rsync -a --stats to an rsyncd on 127.0.0.1, its rolling
# checksum). A file of XS_BENCH_DELTA_MIB MiB (256) is mirrored, then
#
#   D1  1 MiB appended and 4 KiB rewritten in the middle, in place
#   D2  100 bytes inserted at the start, through a temp file and a rename
#   D3  the file copied under a new name
#
# Bytes: for xmpp-sync the growth of bytes_sent in the master's
# status --json (the plaintext of the streams: chunk lists and chunks;
# the record layer adds 16 bytes per 64 KiB); for rsync its "Total bytes
# sent". Time: from the change until the target holds it (rsync: its
# run, started right after the change). Numbers only: compare within one
# run.
. "$(dirname "$0")/../tests/lib/harness.sh"
. "$(dirname "$0")/rsyncd.sh"
xs_setup
X=$XS_BIN
command -v rsync >/dev/null || { echo "bench: rsync is not installed (make bench-deps)"; exit 1; }
mib=${XS_BENCH_DELTA_MIB:-256}
ms_now() { date +%s%N | cut -c1-13; }
until_same() { while ! cmp -s "$1" "$2" 2>/dev/null; do sleep 0.01; done; }
D=$XS_TMP/data
mkdir -p "$D"
head -c $((mib * 1048576)) /dev/urandom >"$D/big"
head -c 1048576 /dev/urandom >"$D/tail"
head -c 4096 /dev/urandom >"$D/mid"
head -c 100 /dev/urandom >"$D/head"
# the three versions, made once, so both tools see the same bytes
cp "$D/big" "$D/v1"; cat "$D/tail" >>"$D/v1"
dd if="$D/mid" of="$D/v1" bs=4096 seek=$((mib * 128)) conv=notrunc status=none
cat "$D/head" "$D/v1" >"$D/v2"
edit1() { cat "$D/tail" >>"$1/big"; dd if="$D/mid" of="$1/big" bs=4096 \
	seek=$((mib * 128)) conv=notrunc status=none; }
edit2() { cat "$D/head" "$1/big" >"$1/.big.tmp"; mv "$1/.big.tmp" "$1/big"; }
edit3() { cp "$1/big" "$1/copy"; }

# ---- the rsync daemon
rsyncd_start rs
R=$XS_TMP/rsrc
mkdir -p "$R"
push() { # prints rsync's Total bytes sent
	rsync -a --delete --stats "$R/" "rsync://127.0.0.1:$RPORT/rs/" |
	    sed -n 's/^Total bytes sent: \([0-9,.]*\).*/\1/p' | tr -d ,.
}
cp "$D/big" "$R/big"; push >/dev/null
for k in 1 2 3; do
	t0=$(ms_now); edit$k "$R"; b=$(push); t1=$(ms_now)
	eval "r_b$k=$b r_t$k=$((t1 - t0))"
done
cmp -s "$R/big" "$XS_TMP/rs/big" && cmp -s "$R/copy" "$XS_TMP/rs/copy" ||
	{ echo "bench: rsync's copy differs"; exit 1; }
# rsync's copies stay until the end, as in scenarios.sh

# ---- xmpp-sync
xs_pair
json_num() { "$X" -c "$M" status --json | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
cp "$D/big" "$XS_TMP/big.stage"; mv "$XS_TMP/big.stage" "$MD/big"
until_same "$D/big" "$SD/big"
sleep 1
want() { case $1 in 1) echo "$D/v1" ;; 2) echo "$D/v2" ;; 3) echo "$D/v2" ;; esac; }
for k in 1 2 3; do
	b0=$(json_num bytes_sent)
	t0=$(ms_now); edit$k "$MD"
	if [ $k = 3 ]; then until_same "$(want $k)" "$SD/copy"; else until_same "$(want $k)" "$SD/big"; fi
	t1=$(ms_now)
	sleep 0.5	# the master counts a transfer once the slave's verdict is in
	eval "x_b$k=$(( $(json_num bytes_sent) - b0 )) x_t$k=$((t1 - t0))"
done

kib() { echo "$(( $1 / 1024 )) KiB"; }
echo
printf '%-52s %14s %14s %10s %10s\n' "change to a $mib MiB file" "xmpp-sync" "rsync daemon" "xs ms" "rsync ms"
printf '%-52s %14s %14s %10s %10s\n' "D1 1 MiB appended + 4 KiB rewritten in the middle" \
	"$(kib "$x_b1")" "$(kib "$r_b1")" "$x_t1" "$r_t1"
printf '%-52s %14s %14s %10s %10s\n' "D2 100 bytes inserted at the start (temp+rename)" \
	"$(kib "$x_b2")" "$(kib "$r_b2")" "$x_t2" "$r_t2"
printf '%-52s %14s %14s %10s %10s\n' "D3 copied under a new name" \
	"$(kib "$x_b3")" "$(kib "$r_b3")" "$x_t3" "$r_t3"
echo "(bytes of content sent: xmpp-sync's bytes_sent growth, rsync's Total bytes sent)"
exit 0
