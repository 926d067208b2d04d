#!/bin/sh
# make demo: a private Prosody on loopback, a master mirroring demo/master
# to a slave's demo/slave. Ctrl-C stops everything.
#   XS_DEMO_CHECK=1   instead of waiting, check that the samples arrived
#                     (used by tests/it_demo.sh) and stop
. "$(dirname "$0")/lib/harness.sh"
xs_setup
demo=$XS_TOP/demo
X=$XS_BIN

prosody_start
prosody_adduser master secret-master
prosody_adduser slave secret-slave
# demo/ is the demo's own folder (ignored by git): start from scratch
rm -rf "$demo"
mkdir -p "$demo/master" "$demo/slave"
M=$(xs_conf m master master)
S=$(xs_conf s slave slave master=master@xs.test)
# the demo folders live in the checkout, state and config in the temp dir
sed -i "s|^dir = .*|dir = $demo/master|" "$M"
sed -i "s|^dir = .*|dir = $demo/slave|" "$S"
"$X" -c "$M" init >/dev/null && "$X" -c "$S" init >/dev/null || exit 1
"$X" -c "$M" slave add slave@xs.test >/dev/null || exit 1

mkdir -p "$demo/master/docs"
cp "$XS_TOP/README.md" "$demo/master/README.md"
cp "$XS_TOP/LICENSE" "$demo/master/docs/LICENSE"
echo "hello from the master" >"$demo/master/hello.txt"
ln -sf hello.txt "$demo/master/link-to-hello"

xs_spawn "$demo/master.log" "$X" -c "$M" run
xs_spawn "$demo/slave.log" "$X" -c "$S" run

if [ -n "${XS_DEMO_CHECK:-}" ]; then
	for i in $(seq 1 300); do
		if cmp -s "$demo/master/docs/LICENSE" "$demo/slave/docs/LICENSE" &&
		   cmp -s "$demo/master/hello.txt" "$demo/slave/hello.txt" &&
		   [ "$(readlink "$demo/slave/link-to-hello")" = hello.txt ]; then
			echo "PASS demo_mirrors_samples"
			exit 0
		fi
		sleep 0.1
	done
	echo "FAIL demo_mirrors_samples: samples did not arrive in 30 s"
	tail -n 20 "$demo/master.log" "$demo/slave.log"
	exit 1
fi

cat <<TXT

xmpp-sync demo is running (Prosody on 127.0.0.1:$XS_C2S_PORT).
  master: $demo/master   (log: demo/master.log)
  slave:  $demo/slave    (log: demo/slave.log)

Try, in another terminal:
  echo hi > demo/master/x            # appears in demo/slave/x
  mkdir -p demo/master/a/b/c         # directories too
  mv demo/master/docs demo/master/papers   # renamed there, not re-sent
  $X -c $M status                   # what the master sees
  $X -c $S status                   # and the slave

Ctrl-C stops Prosody and both agents.
TXT
trap 'echo; echo "stopping"; exit 0' INT TERM
while :; do sleep 1; done
