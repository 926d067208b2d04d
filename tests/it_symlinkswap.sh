#!/bin/sh
# it_symlinkswap: a directory replaced by a symlink between planning and
# sending must not make the master read (and send) a file from outside its
# folder. Eight large files over IBB fill the master's window of transfers
# to the slave, so d/x waits in the queue, already planned but not yet
# opened; meanwhile d becomes a symlink to a directory outside the folder
# holding a secret x. The master must never read or send d/x through the
# symlink, the slave must never receive the secret (it would refuse it on
# its checksum: the proof it was sent), and the trees converge with d a
# symlink on both sides.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair transports=ibb -- transports=ibb
out=$XS_TMP/outside
mkdir -p "$out"
i=1
while [ $i -le 8 ]; do
	head -c 3000000 /dev/urandom >"$MD/big$i"
	i=$((i + 1))
done
mkdir "$MD/d"
echo "inside the folder: the file the master planned" >"$MD/d/x"
echo "OUTSIDE THE FOLDER: must never be read or sent." >"$out/x"
# the eight big transfers are under way once the slave holds temp files
n=0
while [ $n -lt 300 ] && ! ls -A "$SD" | grep -q '^\.xmpp-sync-tmp\.'; do
	sleep 0.05; n=$((n + 1))
done
if [ -e "$SD/d/x" ]; then
	fail window_held_d_x "d/x arrived before the swap: the test lost its window"
	exit 0
fi
rm -r "$MD/d"
ln -s "$out" "$MD/d"
if wait_trees_equal "$MD" "$SD" 90; then
	pass trees_converge_with_d_a_symlink
else
	fail trees_converge_with_d_a_symlink "trees differ"
fi
[ -L "$SD/d" ] && [ "$(readlink "$SD/d")" = "$out" ] &&
	pass slave_has_the_symlink || fail slave_has_the_symlink "$(ls -la "$SD")"
if grep -q 'd/x.*does not match its checksum\|refusing d/x' "$XS_TMP/s.log"; then
	fail outside_file_never_sent "the slave received d/x with other content: $(grep 'd/x' "$XS_TMP/s.log" | head -2)"
elif grep -rqs 'OUTSIDE THE FOLDER' "$SD"; then
	fail outside_file_never_sent "the secret is in the slave's folder"
else
	pass outside_file_never_sent
fi
# the master either dropped d/x from its queue when it saw the swap, or
# refused to open it through the symlink (sync/path.c, unit-tested in
# test_jingle: file_source_refuses_symlinked_dir); it never sent it
if grep -a 'sent d/x to' "$XS_TMP/m.log" | grep -q .; then
	fail master_never_sent_d_x "$(grep -a 'sent d/x to' "$XS_TMP/m.log" | cut -c1-200 | head -2)"
else
	pass master_never_sent_d_x
fi
exit 0
