# bench/rsyncd.sh -- sourced by the bench scripts after tests/lib/harness.sh:
#   rsyncd_start MODULE...   an rsync daemon on a free 127.0.0.1 port, one
#                            writable module per name, each the directory
#                            $XS_TMP/MODULE; sets RPORT and RSPID, exits
#                            the bench if it does not start
rsyncd_start() {
	_mods=$*
	set -- $("$XS_FREEPORT" 1)
	RPORT=$1
	echo "use chroot = false" >"$XS_TMP/rsyncd.conf"
	for _m in $_mods; do
		mkdir -p "$XS_TMP/$_m"
		printf '[%s]\n\tpath = %s\n\tread only = false\n\tuid = 0\n\tgid = 0\n' \
			"$_m" "$XS_TMP/$_m" >>"$XS_TMP/rsyncd.conf"
	done
	xs_spawn "$XS_TMP/rsyncd.log" rsync --daemon --no-detach \
		--address=127.0.0.1 --port="$RPORT" --config="$XS_TMP/rsyncd.conf"
	RSPID=$XS_LASTPID
	"$XS_FREEPORT" --wait "$RPORT" 10 ||
		{ echo "bench: rsyncd did not start"; exit 1; }
}
