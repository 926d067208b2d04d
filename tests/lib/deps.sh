#!/bin/sh
# Install the Debian packages that building and testing xmpp-sync need.
# As root: apt-get installs what is missing. Otherwise: print the command
# to run and fail, so nothing half-works later.
#   deps.sh        what make check needs
#   deps.sh fuzz   what make fuzz adds: clang and its libFuzzer runtime
#   deps.sh bench  what make bench adds: lsyncd (and rsync) to compare with
#                  (make check replays the fuzz corpus with gcc, not this)
set -u
PKGS="gcc make pkg-config libc6-dev libstrophe-dev libinotifytools0-dev
libgcrypt20-dev libsqlite3-dev libsystemd-dev sqlite3 prosody lua-sec ejabberd
openssl coreutils procps diffutils findutils iproute2 rsync strace bc"
# Debian 12's clang is clang 14; libFuzzer is in its compiler-rt package.
FUZZ_PKGS="clang libclang-rt-14-dev"
# make bench compares with the rsync daemon and lsyncd
BENCH_PKGS="rsync lsyncd bc"
what=${1:-}
case $what in
"") ;;
fuzz) PKGS=$FUZZ_PKGS ;;
bench) PKGS=$BENCH_PKGS ;;
*) echo "usage: deps.sh [fuzz|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root: apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
# The packages of Prosody and ejabberd (and of Erlang, for epmd) start
# their servers on every interface right away; the tests run private ones
# on loopback and never need those. A policy-rc.d that
# answers 101 ("action forbidden") keeps invoke-rc.d and
# deb-systemd-invoke from starting them during the install; one that is
# already there (container images have one) is left as it is.
erlang_was=$(dpkg-query -W -f='${db:Status-Status}' erlang-base 2>/dev/null)
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
	printf '#!/bin/sh\n# written by xmpp-sync tests/lib/deps.sh during apt-get install\nexit 101\n' >$policy &&
		chmod 755 $policy && trap 'rm -f $policy' EXIT && trap 'exit 1' INT TERM
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ echo "deps: apt-get install failed:$missing" >&2; exit 1; }
# ... nor at the next boot: those this run installed (a server that was
# there before is someone's, and stays as it was)
units=""
for p in prosody ejabberd; do
	case " $missing " in *" $p "*) units="$units $p" ;; esac
done
case " $missing " in *" ejabberd "*)
	[ "$erlang_was" = installed ] || units="$units epmd.socket epmd" ;;
esac
for u in $units; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$u" >/dev/null 2>&1 ||
			systemctl disable "$u" >/dev/null 2>&1 || true
	fi
	if [ -e "/etc/init.d/$u" ] && command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d "$u" disable >/dev/null 2>&1 || true
	fi
done
exit 0
