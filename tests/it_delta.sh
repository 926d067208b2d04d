#!/bin/sh
# it_delta: a changed large file travels as the chunks the slave lacks,
# through the real Prosody, encrypted. A file of XS_DELTA_MIB MiB (32 by
# default) is mirrored whole; then 1 MiB appended and 4 KiB rewritten in
# the middle, then 100 bytes inserted at the start through a temp file
# and a rename (as editors save), then a copy under a new name: each time
# the trees end identical by checksum, and the bytes of content sent (the
# master's log line, and bytes_sent in status --json) stay within the
# issue's bounds: 4 MiB, 8 MiB and 1 MiB. A file whose delta cannot apply
# on the slave (its copy there was changed behind the slave's back) is
# sent whole, logged, and ends identical too. Last, the copy is renamed
# and edited while the slave is away, which the master sends as a delete
# and a put: the slave draws the delta from the file the batch deletes
# (2 MiB at most for 0.5 MiB appended) and leaves no temp file behind.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair
MIB=${XS_DELTA_MIB:-32}
M1=1048576

# sent_for PATH: the bytes of content the master's last line for PATH
# says it sent ("sent P to J: N of S bytes, as a delta" or "(N bytes)")
sent_for() {
	grep -a "sent $1 to " "$XS_TMP/m.log" | tail -1 |
	    sed -n -e 's/.*: \([0-9]*\) of [0-9]* bytes, as a delta.*/\1/p' \
	    -e 's/.* (\([0-9]*\) bytes)$/\1/p'
}
# wait_sent PATH N: wait until the master logged its Nth send of PATH
wait_sent() {
	_i=0
	while [ "$(grep -ac "sent $1 to " "$XS_TMP/m.log")" -lt "$2" ] &&
	    [ $_i -lt 600 ]; do
		sleep 0.2; _i=$((_i + 1))
	done
}
json_num() { # KEY: from the master's status --json
	"$X" -c "$M" status --json | grep -o "\"$1\":[0-9]*" | head -1 |
	    cut -d: -f2
}
sums_equal() {
	[ "$(cd "$MD" && sha256sum $1)" = "$(cd "$SD" && sha256sum $1)" ]
}
check() { # NAME PATH LIMIT
	if wait_trees_equal "$MD" "$SD" 120 && sums_equal "$2"; then
		pass "$1_identical"
	else
		fail "$1_identical" "trees differ"
	fi
	_s=$(sent_for "$2")
	note "$1: $_s bytes of content sent for a $(stat -c %s "$MD/$2")-byte file"
	if [ -n "$_s" ] && [ "$_s" -le "$3" ]; then
		pass "$1_sends_at_most_$3_bytes"
	else
		fail "$1_sends_at_most_$3_bytes" "sent ${_s:-nothing}; $(grep -a "$2" "$XS_TMP/m.log" | grep -v libstrophe | tail -3 | cut -c1-200)"
	fi
}

head -c $((MIB * M1)) /dev/urandom >"$XS_TMP/big"
mv "$XS_TMP/big" "$MD/big"
wait_sent big 1
wait_trees_equal "$MD" "$SD" 120 && sums_equal big &&
    pass whole_file_mirrored || fail whole_file_mirrored "trees differ"
b0=$(json_num bytes_sent)

# 1 MiB appended and 4 KiB rewritten in the middle, in place
head -c $M1 /dev/urandom >>"$MD/big"
head -c 4096 /dev/urandom | dd of="$MD/big" bs=4096 seek=$((MIB * 128)) \
    conv=notrunc status=none
wait_sent big 2
check append_and_rewrite big $((4 * M1))
grep -aq "sent big to .* as a delta" "$XS_TMP/m.log" &&
    grep -aq "received big (.*, a delta, verified)" "$XS_TMP/s.log" &&
    pass change_travels_as_a_delta ||
    fail change_travels_as_a_delta "$(grep -a 'big' "$XS_TMP/m.log" | tail -2)"

# 100 bytes at the start, saved through a temp file and a rename
{ head -c 100 /dev/urandom; cat "$MD/big"; } >"$MD/.big.swp"
mv "$MD/.big.swp" "$MD/big"
wait_sent big 3
check insert_at_start big $((8 * M1))

# a copy under a new name: the slave copies what it holds
cp "$MD/big" "$MD/copy"
if wait_trees_equal "$MD" "$SD" 120 && sums_equal copy; then
	pass copy_identical
else
	fail copy_identical "trees differ"
fi
s=$(sent_for copy)
note "copy: ${s:-0} bytes of content sent"
[ "${s:-0}" -le $M1 ] && pass copy_sends_at_most_1_MiB ||
	fail copy_sends_at_most_1_MiB "sent $s"

b1=$(json_num bytes_sent) f1=$(json_num file_bytes_sent)
note "status --json: bytes_sent $b1 for file_bytes_sent $f1 ($(json_num deltas_sent) deltas)"
[ $((b1 - b0)) -le $((12 * M1)) ] && [ "$(json_num deltas_sent)" -ge 2 ] &&
    pass status_reports_content_sent ||
    fail status_reports_content_sent "bytes_sent went $b0 -> $b1"

p=$("$X" -c "$M" status --prometheus)
printf '%s\n' "$p" | grep -q "^xmpp_sync_deltas_sent_total{.*} 2$" &&
    printf '%s\n' "$p" | grep -q "^xmpp_sync_file_bytes_sent_total{.*} $f1$" &&
    pass metrics_count_deltas_and_file_sizes ||
    fail metrics_count_deltas_and_file_sizes "$(printf '%s\n' "$p" | grep -E 'deltas|bytes_sent')"

# the slave's copy changes behind its back (the slave is stopped, so it
# cannot notice): the delta does not apply and the file comes whole
xs_kill "$SPID"
printf 'X' | dd of="$SD/big" bs=1 seek=$((3 * M1)) conv=notrunc status=none
touch -r "$MD/big" "$SD/big"
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
head -c 1000 /dev/urandom >>"$MD/big"
if wait_trees_equal "$MD" "$SD" 120 && sums_equal big; then
	pass stale_slave_copy_ends_identical
else
	fail stale_slave_copy_ends_identical "trees differ"
fi
grep -aq "not using big for big: its content is not what was recorded" \
    "$XS_TMP/s.log" && grep -aq "delta of big to .* failed" "$XS_TMP/m.log" &&
    grep -a "sent big to " "$XS_TMP/m.log" | tail -1 | grep -q "($(stat -c %s "$MD/big") bytes)$" &&
    pass stale_copy_refused_then_sent_whole ||
    fail stale_copy_refused_then_sent_whole "$(grep -a 'big' "$XS_TMP/m.log" | grep -v libstrophe | tail -3 | cut -c1-200)"

# renamed and then edited while the slave is away: the master has one
# delete (copy) and one put (moved) for it, and the slave draws the
# delta from the file the same batch deletes
xs_kill "$SPID"
mv "$MD/copy" "$MD/moved"
head -c $((M1 / 2)) /dev/urandom >>"$MD/moved"
sleep 1	# the master has taken both changes
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
wait_sent moved 1
check renamed_and_edited moved $((2 * M1))
grep -aq "received moved (.*, a delta, verified)" "$XS_TMP/s.log" &&
    pass renamed_and_edited_is_a_delta ||
    fail renamed_and_edited_is_a_delta "$(grep -a 'moved' "$XS_TMP/s.log" | tail -2)"
left=$(find "$SD" -name '.xmpp-sync-tmp.*' | wc -l)
[ "$left" = 0 ] && [ ! -e "$SD/copy" ] && pass deleted_source_gone ||
    fail deleted_source_gone "$left temp files left: $(find "$SD" -name '.xmpp-sync-tmp.*')"
exit 0
