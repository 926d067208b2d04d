#!/bin/sh
# bench/scenarios.sh -- five scenarios, the same data, one run, three tools:
# xmpp-sync (master and slave through a private Prosody on loopback, TLS,
# encryption on), the rsync daemon (rsync -a --delete to an rsyncd on
# 127.0.0.1) and lsyncd (delay 0, pushing to the same rsyncd).
#
#   S1  one new 4 KiB file, written -> identical at the target; p50 of N
#   S2  a new target for a tree of small files (1-16 KiB in 100 dirs)
#   S3  one large file
#   S4  rename a folder of 1,000 files
#   S5  delete 1,000 files
#
# rsync runs once per change, started right after it (it is no watcher);
# the time counts from the change to the end of its run. xmpp-sync and
# lsyncd are timed from the change until the target holds it. Peak RSS is
# each process's VmHWM, reset before each scenario.
#   XS_BENCH_S1=20 samples, XS_BENCH_FILES=10000, XS_BENCH_MIB=1024,
#   XS_BENCH_SETTLE=65 seconds of rest before each tool's S2 (see settle)
# Numbers only: compare within one run, never with another day's.
. "$(dirname "$0")/../tests/lib/harness.sh"
. "$(dirname "$0")/rsyncd.sh"
xs_setup
X=$XS_BIN
for t in rsync lsyncd; do
	command -v $t >/dev/null || { echo "bench: $t is not installed (make bench-deps)"; exit 1; }
done
n1=${XS_BENCH_S1:-20} nfiles=${XS_BENCH_FILES:-10000} mib=${XS_BENCH_MIB:-1024}
ms_now() { date +%s%N | cut -c1-13; }
secs() { echo "scale=2; $1 / 1000" | bc; }
p50() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
rss_reset() { for p in "$@"; do echo 5 >/proc/$p/clear_refs 2>/dev/null; done; }
rss() { sed -n 's/VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$1/status 2>/dev/null; }
# until_gone PATH / until_same A B [SIZE]: poll (1 ms) for a change to show
until_gone() { while [ -e "$1" ]; do sleep 0.001; done; }
until_same() {
	while ! cmp -s "$1" "$2" 2>/dev/null; do sleep 0.001; done
}
# until_count DIR N: DIR holds N entries (files and dirs) below it
until_count() {
	while [ "$(find "$1" -mindepth 1 ! -name '.xmpp-sync*' 2>/dev/null | wc -l)" != "$2" ]; do
		sleep 0.05
	done
}
# file_bytes DIR: the sizes of the files below DIR added up (du would
# count directories too, whose size depends on how they were filled)
file_bytes() {
	find "$1" -type f ! -name '.xmpp-sync*' -printf '%s\n' 2>/dev/null |
		awk '{ n += $1 } END { print n + 0 }'
}
# settle: before each tool's S2. On ext4 without a journal (as on the test
# machines) a new inode skips, one by one, every inode freed less than 60 s
# ago (6 minutes while its inode table block is not yet written), so files
# deleted just before (an earlier tool's S4 and S5, another job) would
# slow the creation of S2's 10,000 files. sync, then wait that out.
settle() { sync; sleep "${XS_BENCH_SETTLE:-65}"; }
check_tree() { # NAME A B: the copy must be right, else the number is void
	if ! diff -r -q -x '.xmpp-sync*' "$2" "$3" >/dev/null 2>&1; then
		echo "bench: $1: the target differs from the source; figures void"
		diff -r -q -x '.xmpp-sync*' "$2" "$3" 2>&1 | head -5
		exit 1
	fi
}

# ---- the data, made once
D=$XS_TMP/data
mkdir -p "$D/tree" "$D/s1" "$D/s4" "$D/s5"
tree_bytes=$("$XS_BUILD/tests/tools/mktree" "$D/tree" "$nfiles" 100 1024 16384 1) || exit 1
"$XS_BUILD/tests/tools/mktree" "$D/s4" 1000 1 1024 4096 2 >/dev/null
"$XS_BUILD/tests/tools/mktree" "$D/s5" 1000 1 1024 4096 3 >/dev/null
n4=$(find "$D/s4" -mindepth 1 | wc -l) n5=$(find "$D/s5" -mindepth 1 | wc -l)
i=0
while [ $i -lt "$n1" ]; do head -c 4096 /dev/urandom >"$D/s1/f$i"; i=$((i + 1)); done
head -c $((mib * 1048576)) /dev/urandom >"$D/big"
echo "data: S2 tree of $nfiles files in 100 dirs, $tree_bytes bytes; S3 file of $mib MiB"

# ---- the rsync daemon (also lsyncd's target)
rsyncd_start rs ls
RS=rsync://127.0.0.1:$RPORT/rs
push() { rsync -a --delete "$1/" "$RS/$2/"; }

# ---- rsync: S2, S1, S3, S4, S5
R=$XS_TMP/rsrc
mkdir -p "$R"
cp -r "$D/tree" "$R/s2"
settle
t0=$(ms_now); push "$R/s2" s2; t1=$(ms_now); r_s2=$((t1 - t0))
check_tree rsync-S2 "$R/s2" "$XS_TMP/rs/s2"
mkdir -p "$R/s1"; push "$R/s1" s1
i=0; : >"$XS_TMP/r_s1"
while [ $i -lt "$n1" ]; do
	t0=$(ms_now); cp "$D/s1/f$i" "$R/s1/f$i"; push "$R/s1" s1; t1=$(ms_now)
	echo $((t1 - t0)) >>"$XS_TMP/r_s1"; i=$((i + 1))
done
r_s1=$(p50 <"$XS_TMP/r_s1")
mkdir -p "$R/s3" "$XS_TMP/stage"; push "$R/s3" s3
cp "$D/big" "$XS_TMP/stage/big"
t0=$(ms_now); mv "$XS_TMP/stage/big" "$R/s3/big"; push "$R/s3" s3; t1=$(ms_now); r_s3=$((t1 - t0))
cmp -s "$D/big" "$XS_TMP/rs/s3/big" || { echo "bench: rsync S3 differs"; exit 1; }
mkdir -p "$R/s4"; cp -r "$D/s4" "$R/s4/a"; push "$R/s4" s4
t0=$(ms_now); mv "$R/s4/a" "$R/s4/b"; push "$R/s4" s4; t1=$(ms_now); r_s4=$((t1 - t0))
mkdir -p "$R/s5"; cp -r "$D/s5" "$R/s5/x"; push "$R/s5" s5
t0=$(ms_now); rm -rf "$R/s5/x"; push "$R/s5" s5; t1=$(ms_now); r_s5=$((t1 - t0))
r_rss=$(rss "$RSPID")
# each tool's copies stay until the end: on ext4 without a journal (as on
# the test machines) inodes freed within the last seconds to minutes are
# skipped, one by one, when new ones are taken, so a cleanup here would
# slow the next tool's creation of files (S2) for reasons of its own

# ---- lsyncd: S2 is its start-up sync of the tree, then S1, S3, S4, S5
L=$XS_TMP/lsrc
mkdir -p "$L/s1" "$L/s3" "$L/s4" "$L/s5"
cp -r "$D/tree" "$L/s2"
cp -r "$D/s4" "$L/s4/a"
cp -r "$D/s5" "$L/s5/x"
settle
cat >"$XS_TMP/lsyncd.lua" <<EOF
settings { nodaemon = true, logfile = "$XS_TMP/lsyncd.log", insist = true }
sync { default.rsync, source = "$L", target = "rsync://127.0.0.1:$RPORT/ls/",
	delay = 0, rsync = { archive = true } }
EOF
want=$(find "$L" -mindepth 1 | wc -l)
t0=$(ms_now)
xs_spawn "$XS_TMP/lsyncd.out" lsyncd "$XS_TMP/lsyncd.lua"
LSPID=$XS_LASTPID
until_count "$XS_TMP/ls" "$want"
t1=$(ms_now); l_s2=$((t1 - t0))
sleep 1
check_tree lsyncd-S2 "$L/s2" "$XS_TMP/ls/s2"
i=0; : >"$XS_TMP/l_s1"
while [ $i -lt "$n1" ]; do
	t0=$(ms_now); cp "$D/s1/f$i" "$L/s1/f$i"; until_same "$D/s1/f$i" "$XS_TMP/ls/s1/f$i"; t1=$(ms_now)
	echo $((t1 - t0)) >>"$XS_TMP/l_s1"; i=$((i + 1)); sleep 0.2
done
l_s1=$(p50 <"$XS_TMP/l_s1")
cp "$D/big" "$XS_TMP/stage/big"
t0=$(ms_now); mv "$XS_TMP/stage/big" "$L/s3/big"
while [ "$(stat -c %s "$XS_TMP/ls/s3/big" 2>/dev/null)" != "$((mib * 1048576))" ]; do sleep 0.01; done
until_same "$D/big" "$XS_TMP/ls/s3/big"; t1=$(ms_now); l_s3=$((t1 - t0))
t0=$(ms_now); mv "$L/s4/a" "$L/s4/b"; until_gone "$XS_TMP/ls/s4/a"; until_count "$XS_TMP/ls/s4/b" "$n4"
t1=$(ms_now); l_s4=$((t1 - t0))
t0=$(ms_now); rm -rf "$L/s5/x"; until_gone "$XS_TMP/ls/s5/x"; t1=$(ms_now); l_s5=$((t1 - t0))
l_rss=$(rss "$LSPID")
xs_kill "$LSPID"

# ---- xmpp-sync
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@$XS_DOMAIN)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || exit 1
cp -r "$D/tree" "$MD/s2"
settle
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
xs_wait_log "$XS_TMP/m.log" 'connected as' 120 || { echo "bench: master did not start"; exit 1; }
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
xs_wait_log "$XS_TMP/s.log" 'connected as' 60 || { echo "bench: slave did not start"; exit 1; }
t0=$(ms_now)
"$X" -c "$M" slave add "s@$XS_DOMAIN" >/dev/null
until_count "$SD/s2" "$(find "$MD/s2" -mindepth 1 | wc -l)"
while [ "$(file_bytes "$SD/s2")" != "$(file_bytes "$MD/s2")" ]; do sleep 0.05; done
t1=$(ms_now); x_s2=$((t1 - t0))
x_rss2="$(rss $MPID)/$(rss $SPID)"
check_tree xmpp-sync-S2 "$MD/s2" "$SD/s2"
mkdir -p "$MD/s1" "$MD/s3" "$MD/s4" "$MD/s5"
cp -r "$D/s4" "$MD/s4/a"
cp -r "$D/s5" "$MD/s5/x"
until_count "$SD/s4/a" "$n4"; until_count "$SD/s5/x" "$n5"
sleep 2
rss_reset "$MPID" "$SPID"
i=0; : >"$XS_TMP/x_s1"
while [ $i -lt "$n1" ]; do
	t0=$(ms_now); cp "$D/s1/f$i" "$MD/s1/f$i"; until_same "$D/s1/f$i" "$SD/s1/f$i"; t1=$(ms_now)
	echo $((t1 - t0)) >>"$XS_TMP/x_s1"; i=$((i + 1)); sleep 0.2
done
x_s1=$(p50 <"$XS_TMP/x_s1")
x_rss1="$(rss $MPID)/$(rss $SPID)"
rss_reset "$MPID" "$SPID"
cp "$D/big" "$XS_TMP/stage/big"
t0=$(ms_now); mv "$XS_TMP/stage/big" "$MD/s3/big"
while [ "$(stat -c %s "$SD/s3/big" 2>/dev/null)" != "$((mib * 1048576))" ]; do sleep 0.01; done
until_same "$D/big" "$SD/s3/big"; t1=$(ms_now); x_s3=$((t1 - t0))
x_rss3="$(rss $MPID)/$(rss $SPID)"
rss_reset "$MPID" "$SPID"
t0=$(ms_now); mv "$MD/s4/a" "$MD/s4/b"; until_gone "$SD/s4/a"; until_count "$SD/s4/b" "$n4"
t1=$(ms_now); x_s4=$((t1 - t0))
x_rss4="$(rss $MPID)/$(rss $SPID)"
rss_reset "$MPID" "$SPID"
t0=$(ms_now); rm -rf "$MD/s5/x"; until_gone "$SD/s5/x"; t1=$(ms_now); x_s5=$((t1 - t0))
x_rss5="$(rss $MPID)/$(rss $SPID)"
check_tree xmpp-sync-all "$MD" "$SD"

# ---- the table
mbs() { echo "scale=0; $mib * 1048576 / 1000 / $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo
printf '%-38s %12s %12s %12s %10s %10s\n' scenario xmpp-sync "rsync daemon" lsyncd "xs/rsync" "xs/lsyncd"
printf '%-38s %10s ms %10s ms %10s ms %10s %10s\n' "S1 new 4 KiB file, p50 of $n1" \
	"$x_s1" "$r_s1" "$l_s1" "$(ratio "$x_s1" "$r_s1")" "$(ratio "$x_s1" "$l_s1")"
printf '%-38s %11s s %11s s %11s s %10s %10s\n' "S2 new target, $nfiles small files" \
	"$(secs $x_s2)" "$(secs $r_s2)" "$(secs $l_s2)" "$(ratio "$x_s2" "$r_s2")" "$(ratio "$x_s2" "$l_s2")"
printf '%-38s %7s MB/s %7s MB/s %7s MB/s %10s %10s\n' "S3 one $mib MiB file" \
	"$(mbs $x_s3)" "$(mbs $r_s3)" "$(mbs $l_s3)" "$(ratio "$x_s3" "$r_s3")" "$(ratio "$x_s3" "$l_s3")"
printf '%-38s %11s s %11s s %11s s %10s %10s\n' "S4 rename a folder of 1,000 files" \
	"$(secs $x_s4)" "$(secs $r_s4)" "$(secs $l_s4)" "$(ratio "$x_s4" "$r_s4")" "$(ratio "$x_s4" "$l_s4")"
printf '%-38s %11s s %11s s %11s s %10s %10s\n' "S5 delete 1,000 files" \
	"$(secs $x_s5)" "$(secs $r_s5)" "$(secs $l_s5)" "$(ratio "$x_s5" "$r_s5")" "$(ratio "$x_s5" "$l_s5")"
echo "(ratios are xmpp-sync's time over the other's: below 1 is faster; for S3 too)"
echo "peak RSS, kB, master/slave: S1 $x_rss1, S2 $x_rss2, S3 $x_rss3, S4 $x_rss4, S5 $x_rss5"
echo "peak RSS, kB: rsync daemon $r_rss (its parent; each run forks), lsyncd $l_rss"
exit 0
