#!/bin/sh
# The layer rule of docs/hacking.md, checked with greps: which folder may
# include which headers, private *_int.h headers stay in their folder, and
# rules that must live in one place stay there. Prints each violation as
# FILE: message and exits 1 if there was any.
set -u
cd "$(dirname "$0")/../.." || exit 1
bad=0
say() { echo "$1: $2"; bad=1; }

# allowed FOLDER PATTERN...: every #include "x" in FOLDER/*.[ch] (not
# below it) must match one of the shell patterns.
allowed() {
	dir=$1
	shift
	for f in "$dir"/*.[ch]; do
		[ -f "$f" ] || continue
		grep -o '^#include "[^"]*"' "$f" | sed 's/^#include "//; s/"$//' |
		while read -r inc; do
			ok=0
			for p in "$@"; do
				case $inc in $p) ok=1 ;; esac
			done
			[ $ok = 1 ] || echo "$f: includes $inc, outside what $dir/ may use"
		done
	done
}

# The program's own helpers every module may use.
base='agent/log.h agent/util.h'
out=$(
allowed store 'store/*' $base
allowed sync 'sync/*' store/store.h $base
allowed agent/crypto 'agent/crypto/*' $base
allowed agent/jingle 'agent/jingle/*' sync/path.h agent/config.h agent/loop.h $base
allowed agent/xmpp 'agent/xmpp/*' agent/crypto/crypto.h store/store.h \
	agent/config.h agent/loop.h agent/json.h $base
allowed agent/mirror 'agent/mirror/*' agent/xmpp/xmpp.h agent/jingle/jingle.h \
	agent/crypto/crypto.h 'sync/*.h' store/store.h \
	agent/config.h agent/loop.h agent/json.h $base
allowed agent 'agent/*.h' store/store.h 'sync/*.h'
)
[ -n "$out" ] && { echo "$out"; bad=1; }

# A private header is for the files of its own folder (and unit tests).
for h in $(find agent sync store -name '*_int.h'); do
	d=$(dirname "$h")
	for f in $(grep -rl "#include \"$h\"" agent sync store 2>/dev/null); do
		[ "$(dirname "$f")" = "$d" ] || say "$f" "includes $h, private to $d/"
	done
done
for f in $(grep -l '#include "agent/[a-z]*/[a-z]*_int.h"' agent/*.[ch] 2>/dev/null); do
	say "$f" "includes a module's private header"
done

# One rule in one place.
for f in $(grep -rl 'fnmatch' agent sync store); do
	[ "$f" = sync/path.c ] || [ "$f" = sync/path.h ] || say "$f" "uses fnmatch: ignore patterns are matched only in sync/path.c"
done
for f in $(grep -rl '/proc/self/fd' agent sync store); do
	say "$f" "reads /proc/self/fd"
done
# libstrophe never forgets an id handler's id: answers are awaited with
# service_expect() (or the Jingle engine's own list), never by id handler
for f in $(grep -rl 'xmpp_id_handler_add([^)]' agent sync store); do
	say "$f" "uses xmpp_id_handler_add: wait for answers with service_expect()"
done
# the store keeps prepared statements for reuse: one that is finalized
# behind its back would be handed out again, dead
for f in $(grep -rl 'sqlite3_finalize(' agent sync store); do
	[ "$f" = store/store.c ] || say "$f" "calls sqlite3_finalize: give statements back with store_finalize()"
done
n=$(grep -rl '#include <inotifytools/' agent sync store | wc -l)
[ "$n" -le 1 ] || say sync "libinotifytools is used by $n files; keep its globals in one"

[ $bad = 0 ] && echo "layers OK"
exit $bad
