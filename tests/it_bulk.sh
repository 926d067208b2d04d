#!/bin/sh
# weight: 78 (seconds it takes; tests/run.sh starts the longest first)
# it_bulk: a slave added to a master that already holds 10,000 files
# converges, content and metadata compared file by file.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }

# 100 directories of 100 small files, each file distinct
i=0
while [ $i -lt 100 ]; do
	mkdir "$MD/d$i"
	(cd "$MD/d$i" && seq -f "dir $i line %g" 1 100 | split -l 1 -a 3 - f)
	i=$((i + 1))
done
n=$(find "$MD" -type f | wc -l)
[ "$n" = 10000 ] || fail setup "made $n files, not 10000"

xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run
xs_wait_log "$XS_TMP/m.log" 'connected as' 60 || { fail master_start "$(tail -3 "$XS_TMP/m.log")"; exit 1; }
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run
start=$(date +%s)
"$X" -c "$M" slave add s@xs.test >/dev/null
if wait_trees_equal "$MD" "$SD" 240; then
	pass new_slave_gets_10000_files
	note "10,000 files converged in $(( $(date +%s) - start )) s"
else
	fail new_slave_gets_10000_files "$(tail -n 3 "$XS_TMP/m.log")"
fi
exit $XS_FAILED
