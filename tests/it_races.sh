#!/bin/sh
# weight: 30 (seconds it takes; tests/run.sh starts the longest first)
# it_races: changes that race with their own delivery must never be lost.
#  - a file deleted while its transfer is under way (50 tries, with delays
#    spread over the transfer) is deleted on the slave too;
#  - files and new directories renamed while the slave is stalled (SIGSTOP
#    for 2 s, like a slow disk) leave no old names behind, and a directory
#    made, filled and renamed at once arrives with its content.
# After each round the trees must become identical.
. "$(dirname "$0")/lib/harness.sh"
xs_setup
xs_pair

# 1. delete during delivery: 50 files, each removed after 0-490 ms
head -c 2000000 /dev/urandom >"$XS_TMP/blob"
i=0
while [ $i -lt 50 ]; do
	cp "$XS_TMP/blob" "$MD/race-$i.bin"
	sleep "0.$(( (i * 7) % 50 ))"
	rm -f "$MD/race-$i.bin"
	i=$((i + 1))
done
if wait_trees_equal "$MD" "$SD" 60; then
	pass delete_during_delivery_50_tries
else
	fail delete_during_delivery_50_tries "$(ls "$SD" | grep -c race-) of 50 deleted files left on the slave"
fi

# 2. renames while the slave is stalled, three rounds
mkdir -p "$MD/r"
i=0; while [ $i -lt 100 ]; do echo "file $i" >"$MD/r/f$i"; i=$((i + 1)); done
wait_trees_equal "$MD" "$SD" 60 || fail renames_setup "100 files did not arrive"
round=1
while [ $round -le 3 ]; do
	kill -STOP "$SPID"
	i=0; while [ $i -lt 100 ]; do mv "$MD/r/f$i" "$MD/r/g$i"; i=$((i + 1)); done
	j=0; while [ $j -lt 20 ]; do
		mkdir "$MD/d$round-$j"; echo x >"$MD/d$round-$j/x"
		mv "$MD/d$round-$j" "$MD/e$round-$j"
		j=$((j + 1))
	done
	sleep 2
	kill -CONT "$SPID"
	if wait_trees_equal "$MD" "$SD" 60; then
		pass "renames_while_slave_stalled_round_$round"
	else
		fail "renames_while_slave_stalled_round_$round" "old names left on the slave"
	fi
	i=0; while [ $i -lt 100 ]; do mv "$MD/r/g$i" "$MD/r/f$i"; i=$((i + 1)); done
	wait_trees_equal "$MD" "$SD" 60 || fail "renames_back_round_$round" "trees differ"
	round=$((round + 1))
done
exit 0
