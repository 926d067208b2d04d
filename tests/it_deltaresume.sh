#!/bin/sh
# weight: 35 (seconds it takes; tests/run.sh starts the longest first)
# it_deltaresume: a delta session cut off half way resumes where it was.
# A 12 MiB file is mirrored over IBB (slow enough on loopback to catch a
# session in flight); its second half is rewritten, and the master is
# killed with SIGKILL once a good part of the delta is on the slave. When
# it is back, the slave resumes the delta at a chunk boundary: it logs
# how much it has, the master sends only the rest of the stream, and the
# file ends identical by checksum.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair transports=ibb -- transports=ibb
M1=1048576
size=$((12 * M1))
head -c "$size" /dev/urandom >"$XS_TMP/big"
mv "$XS_TMP/big" "$MD/big"
if wait_trees_equal "$MD" "$SD" 120; then
	pass whole_file_mirrored
else
	fail whole_file_mirrored "$(tail -n 3 "$XS_TMP/s.log")"
	exit 1
fi

# the second half rewritten in place: about 6 MiB of chunks lack
head -c $((size / 2)) /dev/urandom |
    dd of="$MD/big" bs=$M1 seek=6 conv=notrunc status=none
# killed once the slave's temp holds the first half and 2 MiB more
got=0
for i in $(seq 1 1200); do
	got=$(find "$SD" -name '.xmpp-sync-tmp.*' -printf '%s\n' 2>/dev/null | sort -n | tail -1)
	[ -n "$got" ] && [ "$got" -gt $((8 * M1)) ] && break
	sleep 0.05
done
xs_kill "$MPID" KILL
if [ -z "$got" ] || [ "$got" -le $((8 * M1)) ] || [ "$got" -ge "$size" ]; then
	fail delta_cut_off_half_way "the delta was not caught in flight (temp ${got:-0} bytes): $(grep -a 'big' "$XS_TMP/m.log" | tail -n 2)"
	exit 1
fi
pass delta_cut_off_half_way
note "master killed with $got bytes of the new version assembled"

: >"$XS_TMP/m.log"
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
if wait_trees_equal "$MD" "$SD" 120 &&
   [ "$(sha256sum <"$MD/big")" = "$(sha256sum <"$SD/big")" ]; then
	pass resumed_file_identical
else
	fail resumed_file_identical "$(tail -n 3 "$XS_TMP/s.log")"
fi
line=$(grep -a 'resuming the delta of big at byte' "$XS_TMP/s.log" | tail -1)
here=$(printf '%s\n' "$line" | sed -n 's/.*(\([0-9]*\) of \([0-9]*\) bytes of chunks are here).*/\1/p')
total=$(printf '%s\n' "$line" | sed -n 's/.*(\([0-9]*\) of \([0-9]*\) bytes of chunks are here).*/\2/p')
note "${line#*: info: }"
if [ -n "$here" ] && [ "$here" -ge $M1 ]; then
	pass slave_resumes_the_delta
else
	fail slave_resumes_the_delta "$(grep -a 'big' "$XS_TMP/s.log" | tail -n 3)"
fi
sent=$(grep -a 'sent big to .* as a delta .* resumed at byte' "$XS_TMP/m.log" |
    tail -1 | sed -n 's/.*: \([0-9]*\) of [0-9]* bytes, as a delta.*/\1/p')
note "after the restart the master sent ${sent:-nothing} bytes of a ${total:-?}-byte delta"
if [ -n "$sent" ] && [ -n "$total" ] && [ -n "$here" ] &&
   [ "$sent" -le $((total - here + 2 * 65536 + 262144)) ]; then
	pass master_sends_only_the_rest
else
	fail master_sends_only_the_rest "$(grep -a 'big' "$XS_TMP/m.log" | grep -v libstrophe | tail -n 3 | cut -c1-220)"
fi
exit $XS_FAILED
