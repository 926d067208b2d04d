#!/bin/sh
# soak.sh MINUTES -- a random workload with random faults; after each quiet
# period the trees must be identical.
#
# A master and a slave on a private Prosody. For MINUTES minutes, rounds
# of: a burst of random changes on the master (create, append, truncate,
# rename files and directories, delete, chmod, symlinks, odd names), one
# injected fault while the burst runs (kill -9 of either agent, a SIGSTOP
# stall of either, the server stopped and started, the slave's disk nearly
# full), then a quiet period in which every process is running again and
# the slave must become identical to the master. Prints one PASS/FAIL line
# per round and a summary; exits non-zero if any round failed to converge.
#   XS_SOAK_CONVERGE=SECS  how long a round may take to converge (default 120)
#   XS_SOAK_SEED=N         seed of the workload (default: from the clock)
#   XS_SOAK_LOG=debug      the agents' log_level
. "$(dirname "$0")/lib/harness.sh"
minutes=${1:-1}
converge=${XS_SOAK_CONVERGE:-120}
seed=${XS_SOAK_SEED:-$(date +%s)}
xs_setup
# the slave's own area (local versions it kept) is not part of the mirror
XS_TREE_SKIP=.xmpp-sync
export XS_TREE_SKIP
SFS=$XS_TMP/sfs
soak_cleanup() {
	for p in $XS_PIDS; do xs_ours "$p" && kill -9 "$p" 2>/dev/null; done
	for p in $XS_PIDS; do
		_i=0
		while xs_ours "$p" && kill -0 "$p" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
	done
	if mountpoint -q "$SFS" 2>/dev/null; then
		umount "$SFS" 2>/dev/null || umount -l "$SFS"
	fi
	xs_cleanup
}
trap 'soak_cleanup' EXIT
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
# anti-entropy every 20 s (300 by default), so that a divergence the
# operations left behind is repaired within a round, as it would be
# within 5 minutes in use: a round that converges only through it still
# passes, and the master's log says "index digest differs; repaired"
M=$(xs_conf m master m "rescan_interval=60" "digest_interval=20" ${XS_SOAK_LOG:+log_level=$XS_SOAK_LOG})
S=$(xs_conf s slave s master=m@xs.test ${XS_SOAK_LOG:+log_level=$XS_SOAK_LOG})
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir

# The slave's folder lives on a small filesystem of its own when we may
# mount one, so that "disk nearly full" can be a fault.
diskfault=0
mkdir -p "$SFS"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=96m xs-soak "$SFS" 2>/dev/null; then
	diskfault=1
	rmdir "$SD" && mkdir "$SFS/dir" && sed -i "s#^dir = .*#dir = $SFS/dir#" "$S"
	SD=$SFS/dir
else
	note "not root or no tmpfs: the disk-full fault is left out"
fi
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null

# rnd N: sets R to a pseudo-random number in 0..N-1 (an LCG seeded once;
# never call it in a subshell, or the state does not advance)
state=$seed
rnd() {
	state=$(( (state * 1103515245 + 12345) % 2147483648 ))
	R=$(( (state / 65536) % $1 ))
}

start_m() { xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID; }
start_s() { xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID; }
alive() { kill -0 "$1" 2>/dev/null; }

# odd but legal names: non-UTF-8, newline, backslash, blanks, quotes, UTF-8
odd_name() {
	case $2 in
	0) printf 'bad\377name-%s' "$1" ;;
	1) printf 'new\nline-%s' "$1" ;;
	2) printf 'back\\slash-%s' "$1" ;;
	3) printf ' lead and trail %s ' "$1" ;;
	4) printf "quote'\"&<>-%s" "$1" ;;
	5) printf 'caf\303\251-\342\202\254-%s' "$1" ;;
	*) printf -- '-dash-%s' "$1" ;;
	esac
}

# pick_file / pick_dir: an existing entry of the master, or nothing
# (names holding a newline are left out: find prints one name a line)
NL='
'
pick() { # find-type; sets P
	cnt=$(find "$MD" -mindepth 1 -type "$1" ! -name "*$NL*" | wc -l)
	[ "$cnt" -gt 0 ] || return 1
	rnd "$cnt"
	P=$(find "$MD" -mindepth 1 -type "$1" ! -name "*$NL*" | sed -n "$((R + 1))p")
	case $P in "$MD"/*) return 0 ;; esac
	return 1
}

one_change() { # i
	d=$MD
	rnd 3; [ $R = 0 ] && pick d && d=$P
	rnd 4; big=$R; rnd 2000000; n1=$R; rnd 65536; n2=$R; rnd 20000; n3=$R
	rnd 5000; n4=$R; rnd 256; n5=$R; rnd 50; n6=$R; rnd 7; n7=$R
	rnd 12
	case $R in
	0|1|2) head -c "$([ $big = 0 ] && echo $n1 || echo $n2)" /dev/urandom >"$d/f$1" ;;
	3) pick f && head -c "$n3" /dev/urandom >>"$P" ;;
	4) pick f && [ -f "$P" ] && truncate -s "$n4" "$P" ;;
	5) pick f && mv "$P" "$d/r$1" 2>/dev/null ;;
	6) pick d && mv "$P" "$MD/dir$1" 2>/dev/null ;;
	7) pick f && rm -f "$P" ;;
	8) mkdir -p "$d/d$1/sub" && echo "$1" >"$d/d$1/sub/x" ;;
	9) pick f && chmod "$(printf '%o' $((0400 + n5)))" "$P" 2>/dev/null ;;
	10) ln -s "f$n6" "$d/l$1" 2>/dev/null ;;
	11) echo "$1" >"$MD/$(odd_name "$1" "$n7")" ;;
	esac
	return 0
}

fill=""
fault() { # round
	rnd $((5 + diskfault))
	case $R in
	0) note "round $1: kill -9 master"; kill -9 "$MPID"; wait "$MPID" 2>/dev/null; sleep 1; start_m ;;
	1) note "round $1: kill -9 slave"; kill -9 "$SPID"; wait "$SPID" 2>/dev/null; sleep 1; start_s ;;
	2) note "round $1: slave stalled 2 s"; kill -STOP "$SPID"; sleep 2; kill -CONT "$SPID" ;;
	3) note "round $1: master stalled 2 s"; kill -STOP "$MPID"; sleep 2; kill -CONT "$MPID" ;;
	4) note "round $1: server stopped for 2 s"; prosody_stop; sleep 2; prosody_start ;;
	5) note "round $1: slave disk nearly full for 4 s"
	   avail=$(df -k --output=avail "$SFS" | tail -1)
	   fill=$SFS/filler
	   [ "$avail" -gt 2048 ] && fallocate -l "$(( (avail - 1024) * 1024 ))" "$fill" 2>/dev/null
	   sleep 4; rm -f "$fill" ;;
	esac
	faults=$((faults + 1))
}

start_m; start_s
echo start >"$MD/start"
wait_trees_equal "$MD" "$SD" 60 || { fail soak_start "no initial sync"; exit 1; }
end=$(( $(date +%s) + minutes * 60 ))
round=0 faults=0 converged=0 failed=0 i=0
note "seed $seed, $minutes min, converge within $converge s"
while [ "$(date +%s)" -lt "$end" ]; do
	round=$((round + 1))
	rnd 60; n=$((20 + R)); k=0
	rnd "$n"; at=$R
	while [ $k -lt "$n" ]; do
		one_change "$i"
		[ $k = "$at" ] && fault "$round"
		i=$((i + 1)); k=$((k + 1))
	done
	alive "$MPID" || start_m
	alive "$SPID" || start_s
	t0=$(date +%s)
	if wait_trees_equal "$MD" "$SD" "$converge"; then
		converged=$((converged + 1))
		pass "soak_round_${round}_converged_in_$(( $(date +%s) - t0 ))s"
	else
		failed=$((failed + 1))
		fail "soak_round_$round" "no convergence within $converge s (seed $seed)"
		tail -n 5 "$XS_TMP/m.log" "$XS_TMP/s.log" | sed 's/^/#   /'
		break
	fi
done
note "$round rounds, $faults faults injected, $converged converged, $failed failed, $i changes"
# what the operations left behind and anti-entropy repaired: each one is
# a lost or misapplied operation worth a look
rep=$(grep -ac 'index digest differs; repaired' "$XS_TMP/m.log")
note "anti-entropy repaired a divergence $rep times$([ "$rep" -gt 0 ] && printf ', e.g. %s' "$(grep -ao 'repaired [0-9]* entries ([^)]*)' "$XS_TMP/m.log" | head -3 | tr '\n' ';')")"
[ "$failed" = 0 ]
