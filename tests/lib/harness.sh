# harness.sh -- sourced by integration tests (tests/it_*.sh) and the demo.
#
# Gives a private Prosody on loopback: a temp directory, a generated CA and
# server certificate, c2s on a free 127.0.0.1 port with TLS required,
# mod_proxy65 as a component on another free port, accounts registered with
# prosodyctl. Every process started here is recorded and killed by PID on
# exit, also when a test fails.
#
#   xs_setup                       temp dir in $XS_TMP, cleanup trap
#   prosody_start                  sets XS_DOMAIN XS_C2S_PORT XS_PROXY_PORT XS_CA
#                                  XS_PROSODY_LIMIT=RATE (before it): load
#                                  mod_limits with that c2s rate ("10kb/s");
#                                  XS_PROSODY_STANZA_LOG=1: every stanza in
#                                  and out in prosody/prosody.log
#   xs_other_ca                    prints a CA that did not sign the server
#   xs_server_cert DOMAIN NAME     pki/NAME.crt, .key for DOMAIN from the test CA
#   prosody_stop / prosody_restart
#   prosody_adduser USER PASS
#   xs_conf NAME ROLE USER [key=value ...]   writes $XS_TMP/NAME/conf, prints its path
#   xs_spawn LOGFILE CMD...        run in background, PID recorded; sets XS_LASTPID
#   xs_wait_log FILE REGEX SECS    wait until a line matching REGEX appears
#   xs_pair [M KEYS] [-- S KEYS]    master m and slave s, paired, running, synced
#   pass NAME / fail NAME MSG / skip NAME WHY   report lines for tests/run.sh

XS_TOP=${XS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
XS_BUILD=${XS_BUILD:-$XS_TOP/build/std}
XS_BIN=${XS_BIN:-$XS_BUILD/xmpp-sync}
XS_FREEPORT=$XS_BUILD/tests/tools/freeport
XS_DOMAIN=xs.test
XS_PIDS=""
XS_FAILED=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; XS_FAILED=1; }
skip() { echo "SKIP $1: $2"; }
note() { echo "# $*"; }

# xs_ours PID: true if PID is still a child of this test's shell. A PID
# recorded earlier may have exited, been reaped and been given to another
# process since (PIDs wrap at 32768 here, and tests start thousands of
# processes): never signal a PID that is not ours any more, or a test
# running beside this one loses its daemon.
xs_ours() {
	[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]
}

xs_cleanup() {
	_ours=""
	for p in $XS_PIDS; do
		xs_ours "$p" && _ours="$_ours $p"
	done
	for p in $_ours; do
		kill "$p" 2>/dev/null
	done
	for p in $_ours; do
		i=0
		while xs_ours "$p" && kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		xs_ours "$p" && kill -9 "$p" 2>/dev/null
	done
	if [ -n "${XS_TMP:-}" ] && [ -z "${XS_KEEP:-}" ]; then
		rm -rf "$XS_TMP"
	fi
}

xs_setup() {
	XS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/xs-it.XXXXXX") || exit 1
	trap 'xs_cleanup' EXIT
	trap 'exit 1' INT TERM
	for t in "$XS_BIN" "$XS_FREEPORT"; do
		[ -x "$t" ] || { echo "FAIL setup: $t not built"; exit 1; }
	done
}

xs_spawn() { # LOGFILE CMD...
	_log=$1; shift
	"$@" >>"$_log" 2>&1 &
	XS_LASTPID=$!
	XS_PIDS="$XS_PIDS $XS_LASTPID"
}

xs_kill() { # PID [SIG]
	xs_ours "$1" || { wait "$1" 2>/dev/null; return 0; }
	kill -"${2:-TERM}" "$1" 2>/dev/null
	_i=0
	while xs_ours "$1" && kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	xs_ours "$1" && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

xs_wait_log() { # FILE REGEX SECS
	_n=$(($3 * 10))
	while [ "$_n" -gt 0 ]; do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1; _n=$((_n - 1))
	done
	return 1
}

xs_gen_certs() {
	_d=$XS_TMP/pki
	mkdir -p "$_d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$_d/ca.key" -out "$_d/ca.crt" -days 2 \
		-subj "/CN=xmpp-sync test CA" >/dev/null 2>&1 || return 1
	xs_server_cert "$XS_DOMAIN" server || return 1
	XS_CA=$_d/ca.crt
}

# xs_server_cert DOMAIN NAME: $XS_TMP/pki/NAME.crt and NAME.key for DOMAIN
# and its subdomains, signed by the test CA (a second server's, for
# federation)
xs_server_cert() {
	_d=$XS_TMP/pki
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$_d/$2.key" -out "$_d/$2.csr" \
		-subj "/CN=$1" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=DNS:%s,DNS:*.%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		"$1" "$1" >"$_d/$2.cnf"
	openssl x509 -req -in "$_d/$2.csr" -CA "$_d/ca.crt" -CAkey "$_d/ca.key" \
		-CAcreateserial -out "$_d/$2.crt" -days 2 \
		-extfile "$_d/$2.cnf" >/dev/null 2>&1 || return 1
	chmod 644 "$_d/$2.key"
}

# another CA, valid but unrelated to the server's certificate
xs_other_ca() {
	_d=$XS_TMP/pki
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$_d/other.key" -out "$_d/other.crt" -days 2 \
		-subj "/CN=some other CA" >/dev/null 2>&1 || return 1
	echo "$_d/other.crt"
}

prosody_write_config() {
	_p=$XS_TMP/prosody
	_mods='"roster", "saslauth", "tls", "disco", "ping", "smacks", "presence"'
	_off='"s2s", "limits", "offline", "register"'
	_limits=""
	if [ -n "${XS_PROSODY_LIMIT:-}" ]; then
		_mods="$_mods, \"limits\""
		_off='"s2s", "offline", "register"'
		_limits="limits = { c2s = { rate = \"$XS_PROSODY_LIMIT\"; burst = \"1s\" } }"
	fi
	_extra="" _level=${XS_PROSODY_LOGLEVEL:-info}
	# mod_stanza_debug logs each stanza's text at debug level
	if [ -n "${XS_PROSODY_STANZA_LOG:-}" ]; then
		_extra=', "stanza_debug"' _level=debug
	fi
	mkdir -p "$_p/data" "$_p/certs"
	cat >"$_p/prosody.cfg.lua" <<LUA
-- generated by tests/lib/harness.sh
run_as_root = true
pidfile = "$_p/prosody.pid"
data_path = "$_p/data"
plugin_paths = { }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $XS_C2S_PORT }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
admins = { }
modules_enabled = { $_mods$_extra }
modules_disabled = { $_off }
$_limits
c2s_require_encryption = true
authentication = "internal_hashed"
allow_registration = false
ssl = { certificate = "$XS_TMP/pki/server.crt", key = "$XS_TMP/pki/server.key" }
log = { $_level = "$_p/prosody.log" }
statistics = nil
certificates = "$_p/certs"
proxy65_ports = { $XS_PROXY_PORT }
proxy65_interfaces = { "127.0.0.1" }

VirtualHost "$XS_DOMAIN"

Component "proxy.$XS_DOMAIN" "proxy65"
	proxy65_address = "127.0.0.1"
LUA
}

prosody_start() {
	if ! command -v prosody >/dev/null; then
		echo "FAIL setup: prosody is not installed (make deps installs it)"
		exit 1
	fi
	if [ -z "${XS_C2S_PORT:-}" ]; then
		set -- $("$XS_FREEPORT" 2)
		XS_C2S_PORT=$1 XS_PROXY_PORT=$2
		xs_gen_certs || { echo "FAIL setup: openssl could not make certificates"; exit 1; }
		prosody_write_config
	fi
	xs_spawn "$XS_TMP/prosody/stdout.log" prosody --config "$XS_TMP/prosody/prosody.cfg.lua" -F
	XS_PROSODY_PID=$XS_LASTPID
	if ! "$XS_FREEPORT" --wait "$XS_C2S_PORT" 20 ||
	   ! "$XS_FREEPORT" --wait "$XS_PROXY_PORT" 20; then
		echo "FAIL setup: prosody did not start"
		tail -n 20 "$XS_TMP/prosody/prosody.log" "$XS_TMP/prosody/stdout.log" 2>/dev/null | sed 's/^/#   /'
		exit 1
	fi
}

prosody_stop() {
	[ -n "${XS_PROSODY_PID:-}" ] && xs_kill "$XS_PROSODY_PID"
	XS_PROSODY_PID=""
}

prosody_restart() {
	prosody_stop
	prosody_start
}

prosody_adduser() { # USER PASS
	prosodyctl --config "$XS_TMP/prosody/prosody.cfg.lua" register "$1" "$XS_DOMAIN" "$2" \
		>>"$XS_TMP/prosody/prosodyctl.log" 2>&1 ||
		{ echo "FAIL setup: prosodyctl register $1 failed"; cat "$XS_TMP/prosody/prosodyctl.log"; exit 1; }
}

xs_conf() { # NAME ROLE USER [key=value ...]
	_n=$1 _role=$2 _user=$3
	shift 3
	_d=$XS_TMP/$_n
	mkdir -p "$_d/dir" "$_d/state"
	chmod 700 "$_d/state"   # as init makes it
	printf '%s\n' "${XS_PASS:-secret-$_user}" >"$_d/password"
	chmod 600 "$_d/password"
	{
		echo "role = $_role"
		echo "jid = $_user@$XS_DOMAIN"
		echo "password_file = $_d/password"
		echo "dir = $_d/dir"
		echo "state_dir = $_d/state"
		echo "server = 127.0.0.1:$XS_C2S_PORT"
		echo "ca_file = $XS_CA"
		# direct SOCKS5 listeners and candidates on loopback only,
		# never the host's other interface addresses
		echo "s5b_offer = 127.0.0.1"
		echo "s5b_listen = 127.0.0.1"
		for kv in "$@"; do echo "$kv" | sed 's/=/ = /'; done
	} >"$_d/conf"
	echo "$_d/conf"
}

# tree_manifest DIR: one line per entry below DIR, sorted: type, path,
# mode, size, mtime (files and symlinks), link target; then the SHA-256 of
# every file. Directory mtimes are left out: they change whenever an entry
# is added. Names matching $XS_TREE_SKIP (a find -name pattern) are left
# out too, with everything below them (XS_TREE_SKIP=.xmpp-sync leaves out
# a slave's own area), and so are our temp files.
tree_manifest() {
	(cd "$1" || exit 1
	skip=${XS_TREE_SKIP:-.xmpp-sync-tmp.*}
	find . -mindepth 1 -name "$skip" -prune -o ! -name '.xmpp-sync-tmp.*' \
		\( -type d -printf 'd %P %m\n' -o -type l -printf 'l %P %T@ -> %l\n' \
		-o -type f -printf 'f %P %m %s %T@\n' -o -printf '? %P\n' \) | LC_ALL=C sort
	find . -mindepth 1 -name "$skip" -prune -o -type f ! -name '.xmpp-sync-tmp.*' \
		-exec sha256sum {} + | LC_ALL=C sort -k2)
}

# tree_count DIR: number of entries (cheap, for polling)
tree_count() {
	find "$1" -mindepth 1 -name "${XS_TREE_SKIP:-.xmpp-sync-tmp.*}" -prune -o \
		! -name '.xmpp-sync-tmp.*' -print | wc -l
}

# trees_equal A B: 0 when both trees have the same manifest
trees_equal() {
	[ "$(tree_manifest "$1")" = "$(tree_manifest "$2")" ]
}

# wait_trees_equal A B SECS: wait until equal; on timeout print a diff.
# Polls the cheap entry count first, the full comparison only when the
# counts agree.
wait_trees_equal() {
	_end=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -lt "$_end" ]; do
		if [ "$(tree_count "$1")" = "$(tree_count "$2")" ] && trees_equal "$1" "$2"; then
			return 0
		fi
		sleep 0.3
	done
	tree_manifest "$1" >"$XS_TMP/tree.a"
	tree_manifest "$2" >"$XS_TMP/tree.b"
	diff "$XS_TMP/tree.a" "$XS_TMP/tree.b" | head -20 | sed 's/^/#   /'
	return 1
}

# xs_pair [KEY=VALUE... for the master] [-- KEY=VALUE... for the slave]:
# a private Prosody, accounts m and s, a master m mirroring to a slave s,
# both initialised, paired, running, and a first file synced. Sets X, M, S
# (config paths), MD, SD (their folders), MPID, SPID; logs go to
# $XS_TMP/m.log and $XS_TMP/s.log. Exits the test on failure.
xs_pair() {
	_mkeys="" _skeys="" _side=m
	for _kv in "$@"; do
		if [ "$_kv" = -- ]; then _side=s; continue; fi
		if [ $_side = m ]; then _mkeys="$_mkeys $_kv"; else _skeys="$_skeys $_kv"; fi
	done
	prosody_start
	for _u in m s; do prosody_adduser $_u secret-$_u; done
	X=$XS_BIN
	# shellcheck disable=SC2086
	M=$(xs_conf m master m $_mkeys)
	# shellcheck disable=SC2086
	S=$(xs_conf s slave s master=m@$XS_DOMAIN $_skeys)
	MD=$XS_TMP/m/dir SD=$XS_TMP/s/dir
	for _c in "$M" "$S"; do
		"$X" -c "$_c" init >/dev/null || { fail init "$_c"; exit 1; }
	done
	"$X" -c "$M" slave add s@$XS_DOMAIN >/dev/null
	xs_spawn "$XS_TMP/m.log" "$X" -c "$M" run; MPID=$XS_LASTPID
	xs_spawn "$XS_TMP/s.log" "$X" -c "$S" run; SPID=$XS_LASTPID
	echo ready >"$MD/ready"
	wait_trees_equal "$MD" "$SD" 30 || { fail paired "no initial sync"; exit 1; }
}
