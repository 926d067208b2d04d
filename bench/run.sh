#!/bin/sh
# make bench: numbers, not pass/fail.
#  1. the record format's cost over raw AES-256-GCM (bench/crypto_bench.c)
#  2. mirroring a tree to a new slave through a private Prosody on
#     loopback, beside rsync -a of the same tree on the same machine, with
#     the agents' peak memory
#   XS_BENCH_FILES=N small files (default 2000), XS_BENCH_BIG=N files of
#   20 MiB (default 5)
. "$(dirname "$0")/../tests/lib/harness.sh"
xs_setup
X=$XS_BIN
echo "== crypto: record format vs raw AES-256-GCM =="
"$XS_BUILD/bench/crypto_bench" || exit 1

echo
echo "== mirror a tree: xmpp-sync (new slave, s5b on loopback) vs rsync -a =="
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || exit 1
nsmall=${XS_BENCH_FILES:-2000} nbig=${XS_BENCH_BIG:-5}
i=0
while [ $i -lt "$nsmall" ]; do
	d=$MD/d$((i / 100)); mkdir -p "$d"
	head -c 4096 /dev/urandom >"$d/f$i"; i=$((i + 1))
done
i=0
while [ $i -lt "$nbig" ]; do head -c 20971520 /dev/urandom >"$MD/big$i"; i=$((i + 1)); done
bytes=$(du -sb "$MD" | cut -f1)
echo "tree: $nsmall files of 4 KiB + $nbig files of 20 MiB, $bytes bytes"

ms_now() { date +%s%N | cut -c1-13; }
t0=$(ms_now)
rsync -a "$MD/" "$XS_TMP/rsync-copy/"
t1=$(ms_now)
rsync_ms=$((t1 - t0))

xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
xs_wait_log "$XS_TMP/m.log" 'connected as' 60 || exit 1
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
t0=$(ms_now)
"$X" -c "$M" slave add s@xs.test >/dev/null
wait_trees_equal "$MD" "$SD" 600 || { echo "bench: the slave did not converge"; exit 1; }
t1=$(ms_now)
xs_ms=$((t1 - t0))
mrss=$(sed -n 's/VmHWM:[[:space:]]*//p' /proc/$MPID/status)
srss=$(sed -n 's/VmHWM:[[:space:]]*//p' /proc/$SPID/status)
printf '%-34s %10s %12s\n' "" "seconds" "MB/s"
printf '%-34s %10s %12s\n' "rsync -a (local disk to disk)" \
	"$(echo "scale=2; $rsync_ms / 1000" | bc)" "$(echo "scale=1; $bytes / 1000 / $rsync_ms" | bc)"
printf '%-34s %10s %12s\n' "xmpp-sync (encrypted, via XMPP)" \
	"$(echo "scale=2; $xs_ms / 1000" | bc)" "$(echo "scale=1; $bytes / 1000 / $xs_ms" | bc)"
echo "peak memory: master $mrss, slave $srss (tree of $bytes bytes)"
echo "(xmpp-sync's time includes pairing, the slave's manifest, hashing"
echo " checks and an fsync per file; rsync copies locally without network)"

echo
echo "== IQ round trips: is the cost per IQ flat? (50,000 pings to the server, 32 in flight) =="
"$XS_BUILD/bench/iq_rtt" "m@$XS_DOMAIN/rtt-agent" secret-m 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 50000 service
echo "-- the same with one libstrophe id handler per IQ, as before:"
"$XS_BUILD/bench/iq_rtt" "m@$XS_DOMAIN/rtt-plain" secret-m 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 50000 libstrophe
exit 0
