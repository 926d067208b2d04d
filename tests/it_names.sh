#!/bin/sh
# it_names: every POSIX file name mirrors, and no name or batch can stop
# the mirror. Names that are not UTF-8, hold a newline, a tab, an escape,
# a backslash, quotes or XML's special characters, symlink targets of the
# same kind, renames between such names, and 150 files with 2.4 KB paths
# (a batch over Prosody's stanza limit if sent at once) all arrive; a
# plain file written afterwards still arrives, so nothing stalled.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m)
S=$(xs_conf s slave s master=m@xs.test)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
for c in "$M" "$S"; do "$X" -c "$c" init >/dev/null || { fail init "$c"; exit 1; }; done
"$X" -c "$M" slave add s@xs.test >/dev/null
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run
echo ready >"$MD/ready"
wait_trees_equal "$MD" "$SD" 30 || { fail paired "no initial sync"; exit 1; }

odd() { # N: the N-th odd name
	case $1 in
	0) printf 'bad\377name' ;;
	1) printf 'new\nline' ;;
	2) printf 'tab\there' ;;
	3) printf 'esc\033[2Jape' ;;
	4) printf 'back\\slash' ;;
	5) printf "q'\"&<>" ;;
	6) printf 'caf\303\251 \342\202\254' ;;
	7) printf 'del\177' ;;
	8) printf '\355\240\200surrogate' ;;
	9) printf ' lead and trail ' ;;
	esac
}
i=0
while [ $i -lt 10 ]; do
	n=$(odd $i)
	printf 'content %s\n' "$i" >"$MD/$n"
	mkdir -p "$MD/d-$n"
	head -c 100000 /dev/urandom >"$MD/d-$n/big-$n"
	ln -s "../$n" "$MD/d-$n/link"
	i=$((i + 1))
done
ln -s "$(printf 'tar\nget\377')" "$MD/odd-target"
if wait_trees_equal "$MD" "$SD" 60; then pass odd_names_arrive; else fail odd_names_arrive "trees differ"; fi

i=0
while [ $i -lt 10 ]; do
	a=$(odd $i) b=$(odd $(( (i + 1) % 10 )))
	mv "$MD/d-$a/big-$a" "$MD/d-$a/moved-$b"
	i=$((i + 1))
done
if wait_trees_equal "$MD" "$SD" 60; then pass renames_between_odd_names; else fail renames_between_odd_names "trees differ"; fi

# 150 files whose paths are 2.4 KB each: ten 240-byte directory names
long=$(printf '%0240d' 0 | tr 0 x)
deep="$MD/$long/$long/$long/$long/$long/$long/$long/$long/$long"
mkdir -p "$deep"
i=0
while [ $i -lt 150 ]; do
	echo "$i" >"$deep/$(printf '%0200d' $i)"
	i=$((i + 1))
done
if wait_trees_equal "$MD" "$SD" 90; then pass long_paths_over_the_stanza_limit; else fail long_paths_over_the_stanza_limit "trees differ"; fi
if grep -q 'not-well-formed\|too big\|stream error' "$XS_TMP/m.log" "$XS_TMP/s.log"; then
	fail no_stream_errors "$(grep -h 'not-well-formed\|too big\|stream error' "$XS_TMP/m.log" "$XS_TMP/s.log" | head -2)"
else
	pass no_stream_errors
fi
echo "after all that" >"$MD/later.txt"
if wait_trees_equal "$MD" "$SD" 30; then pass later_change_still_arrives; else fail later_change_still_arrives "stalled"; fi
if grep -q "$(printf '\033')" "$XS_TMP/m.log" "$XS_TMP/s.log"; then
	fail logs_escape_control_characters "a raw escape reached the log"
else
	pass logs_escape_control_characters
fi
exit 0
