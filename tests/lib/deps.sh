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
libgcrypt20-dev libsqlite3-dev libsystemd-dev sqlite3 prosody lua-sec openssl
coreutils procps diffutils findutils iproute2 rsync strace bc"
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
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ echo "deps: apt-get install failed:$missing" >&2; exit 1; }
# The package starts a system-wide Prosody where an init system runs;
# the tests run their own and never need that one.
if [ -z "$what" ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now prosody >/dev/null 2>&1 || true
fi
exit 0
