#!/bin/sh
# it_inline: a small file travels inside its put, sealed with the batch,
# instead of in a Jingle session of its own. A 4 KiB file, an empty one
# and one of exactly 8192 bytes arrive identical with no Jingle session
# (the slave logs them as inline, the master sends no transfer); a file
# of 8193 bytes still goes by Jingle. Also prints how long the 4 KiB file
# took from write to identical on the slave (not asserted: timing). And
# the SOCKS5 listener binds only the address s5b_listen names.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair
head -c 4096 /dev/urandom >"$XS_TMP/small"
t0=$(date +%s%N)
cp "$XS_TMP/small" "$MD/small"
n=0
while ! cmp -s "$XS_TMP/small" "$SD/small" 2>/dev/null && [ $n -lt 3000 ]; do
	sleep 0.005; n=$((n + 1))
done
t1=$(date +%s%N)
note "4 KiB file identical on the slave $(( (t1 - t0) / 1000000 )) ms after it was written"
: >"$MD/empty"
head -c 8192 /dev/urandom >"$MD/edge"
head -c 8193 /dev/urandom >"$MD/over"
if wait_trees_equal "$MD" "$SD" 30; then
	pass small_files_arrive_identical
else
	fail small_files_arrive_identical "trees differ"
fi
inline=0
for f in small empty edge; do
	grep -q "received $f (.* bytes inline, verified)" "$XS_TMP/s.log" &&
	   ! grep -q "sent $f to" "$XS_TMP/m.log" && inline=$((inline + 1))
done
[ $inline = 3 ] && pass files_up_to_8192_bytes_travel_inline ||
	fail files_up_to_8192_bytes_travel_inline "$inline of 3; $(grep -E 'received|sent' "$XS_TMP/s.log" "$XS_TMP/m.log" | cut -c1-160 | tail -6)"
if grep -q "sent over to .* (8193 bytes)" "$XS_TMP/m.log" && ! grep -q "received over (.*inline" "$XS_TMP/s.log"; then
	pass larger_file_goes_by_jingle
else
	fail larger_file_goes_by_jingle "$(grep 'over' "$XS_TMP/m.log" | grep -v libstrophe | tail -2)"
fi
# the harness sets s5b_listen = 127.0.0.1: the master's SOCKS5 listener
# (open since the 8193-byte transfer) is bound to loopback only
l=$(ss -Hltnp 2>/dev/null | grep "pid=$MPID,")
if [ -n "$l" ] && ! echo "$l" | awk '{print $4}' | grep -qv '^127\.0\.0\.1:'; then
	pass s5b_listener_bound_to_s5b_listen_only
else
	fail s5b_listener_bound_to_s5b_listen_only "$(echo "$l" | awk '{print $4}' | tr '\n' ' ')"
fi
exit 0
