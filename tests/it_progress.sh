#!/bin/sh
# weight: 30 (seconds it takes; tests/run.sh starts the longest first)
# it_progress: while a slow (IBB) transfer runs, status --json on both
# sides lists it with 0 < bytes_done < bytes_total and the master's sync
# totals count it; status shows it for people (status --watch once a
# second, plain without a terminal); status --prometheus gives
# the counters in the Prometheus text format once it is done.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
prosody_start
for u in m s; do prosody_adduser $u secret-$u; done
X=$XS_BIN
M=$(xs_conf m master m transports=ibb)
S=$(xs_conf s slave s master=m@xs.test transports=ibb)
MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || { fail init init; exit 1; }
"$X" -c "$M" slave add s@xs.test >/dev/null
size=$((24 * 1048576))
head -c "$size" /dev/urandom >"$MD/big.bin"
xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run
xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run
t0=$(date +%s)

# field NAME JSON: the first number after "NAME":
field() { printf '%s' "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1; }
# the transfers array of a status --json answer
transfers() { printf '%s' "$1" | sed -n 's/.*"transfers":\(\[[^]]*\]\).*/\1/p'; }

seen_m="" seen_s=""
for i in $(seq 1 300); do
	for side in m s; do
		if [ $side = m ]; then c=$M; else c=$S; fi
		t=$(transfers "$("$X" -c "$c" status --json 2>/dev/null)")
		case $t in *'"path":"big.bin"'*) ;; *) continue ;; esac
		done_=$(field bytes_done "$t") total=$(field bytes_total "$t")
		if [ -n "$done_" ] && [ "$done_" -gt 0 ] && [ "$done_" -lt "$total" ]; then
			if [ $side = m ]; then seen_m=$t; else seen_s=$t; fi
		fi
	done
	[ -n "$seen_m" ] && [ -n "$seen_s" ] && break
	sleep 0.1
done
for side in m s; do
	if [ $side = m ]; then t=$seen_m peer=s@xs.test; else t=$seen_s peer=m@xs.test; fi
	case $t in
	*"\"peer\":\"$peer/xmpp-sync\""*"\"bytes_total\":$size,"*"\"rate_bps\":"*)
		pass "status_json_${side}_transfer_in_flight"
		note "$side: $t" ;;
	*) fail "status_json_${side}_transfer_in_flight" "no partial transfer of big.bin seen: '$t'" ;;
	esac
done

j=$("$X" -c "$M" status --json)
sync=$(printf '%s' "$j" | sed -n 's/.*"sync":\({[^}]*}\).*/\1/p')
if [ "$(field files_total "$sync")" = 1 ] && [ "$(field bytes_total "$sync")" = "$size" ]; then
	pass master_sync_totals
	note "master sync: $sync"
else
	fail master_sync_totals "expected 1 file of $size bytes to do: '$sync' (in $j)"
fi
txt=$("$X" -c "$M" status)
if printf '%s\n' "$txt" | grep -Eq "^  sending big.bin to s@xs.test/xmpp-sync: .* of 25.2 MB \([0-9]+%\), .* over ibb$"; then
	pass status_text_transfer_line
else
	fail status_text_transfer_line "$(printf '%s\n' "$txt" | tail -n 4)"
fi

# status --watch without a terminal: one plain report a second
w=$(timeout 2.5 "$X" -c "$M" status --watch)
n=$(printf '%s\n' "$w" | grep -c '^xmpp-sync .*: master m@xs.test')
if [ "$n" -ge 2 ] && [ "$n" -le 3 ] && printf '%s\n' "$w" | grep -q '^  sending big.bin' &&
   ! printf '%s\n' "$w" | grep -q "$(printf '\033')"; then
	pass status_watch_plain_reports
else
	fail status_watch_plain_reports "$n reports: $(printf '%s\n' "$w" | head -n 5)"
fi

if wait_trees_equal "$MD" "$SD" 120; then
	pass transfer_completed
else
	fail transfer_completed "$(tail -n 3 "$XS_TMP/m.log")"
fi
# a sync that lasts more than 10 s logs its progress every 10 s
took=$(( $(date +%s) - t0 ))
line=$(grep -m1 'info: sync progress: 0 of 1 files, .* of 25.2 MB, eta' "$XS_TMP/m.log")
if [ -n "$line" ]; then
	pass progress_logged
	note "${line#*info: }"
elif [ "$took" -le 12 ]; then
	skip progress_logged "the transfer took only $took s"
else
	fail progress_logged "no progress line in $took s: $(grep -c . "$XS_TMP/m.log") lines"
fi
# the master notes the slave complete within a tick or two
sleep 3
p=$("$X" -c "$M" status --prometheus)
d=$XS_TMP/m/dir
if printf '%s\n' "$p" | grep -qx "xmpp_sync_files_sent_total{dir=\"$d\"} 1" &&
   printf '%s\n' "$p" | grep -qx "xmpp_sync_bytes_sent_total{dir=\"$d\"} $size" &&
   printf '%s\n' "$p" | grep -qx "xmpp_sync_backlog{dir=\"$d\",peer=\"s@xs.test\"} 0" &&
   printf '%s\n' "$p" | grep -qx '# TYPE xmpp_sync_transfer_failures_total counter' &&
   printf '%s\n' "$p" | grep -Eqx "xmpp_sync_last_sync_timestamp_seconds\{dir=\"[^\"]*\",peer=\"s@xs.test\"\} [1-9][0-9]+"; then
	pass prometheus_counters
else
	fail prometheus_counters "$(printf '%s\n' "$p" | grep -v '^#' | head -n 12)"
fi
# every line is a comment or NAME{LABELS} VALUE
bad=$(printf '%s\n' "$p" | grep -Ev '^# (HELP|TYPE) xmpp_sync_[a-z_]+ |^xmpp_sync_[a-z_]+\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} -?[0-9]+$' | head -n 3)
if [ -z "$bad" ]; then pass prometheus_format; else fail prometheus_format "$bad"; fi
exit $XS_FAILED
