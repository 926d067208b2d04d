#!/bin/sh
# make bench: numbers, not pass/fail. Compare within one run only.
#  1. the record format's cost over raw AES-256-GCM (bench/crypto_bench.c)
#  2. IQ round trips: is the cost per IQ flat over 50,000? (bench/iq_rtt.c)
#  3. five scenarios side by side with the rsync daemon and lsyncd, with
#     the agents' peak memory (bench/scenarios.sh; its variables set the
#     sizes)
#  4. changes to a large file: bytes sent and time beside the rsync daemon
#     (bench/delta.sh; XS_BENCH_DELTA_MIB sets the size)
. "$(dirname "$0")/../tests/lib/harness.sh"
xs_setup
echo "== crypto: record format vs raw AES-256-GCM =="
"$XS_BUILD/bench/crypto_bench" || exit 1

echo
echo "== IQ round trips: is the cost per IQ flat? (50,000 pings to the server, 32 in flight) =="
prosody_start
prosody_adduser m secret-m
"$XS_BUILD/bench/iq_rtt" "m@$XS_DOMAIN/rtt-agent" secret-m 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 50000 service
echo "-- the same with one libstrophe id handler per IQ, as before:"
"$XS_BUILD/bench/iq_rtt" "m@$XS_DOMAIN/rtt-plain" secret-m 127.0.0.1 "$XS_C2S_PORT" "$XS_CA" 50000 libstrophe
prosody_stop

echo
echo "== S1-S5: xmpp-sync, the rsync daemon and lsyncd on the same data =="
sh "$(dirname "$0")/scenarios.sh"

echo
echo "== D1-D3: a changed large file, bytes sent beside the rsync daemon =="
sh "$(dirname "$0")/delta.sh"
