#!/bin/sh
# make bench's driver: the figures of one baresip, with the module built
# for it, beside that baresip without it.
#
#   test/bench/bench.sh bookworm|trixie|upstream [bench.py ARGS...]
#
# bookworm: this machine's /usr/bin/baresip (1.0.0); trixie: 1.1.0 in
# the trixie test system (test/debian/root.sh; the bench runs in its
# mount namespace, the module is built inside it); upstream: 4.10.0 in
# its prefix (test/upstream/prefix.sh).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
b=${1:-bookworm}
[ $# -gt 0 ] && shift
export PYTHONDONTWRITEBYTECODE=1
bench="/usr/bin/python3 $top/test/bench/bench.py"
case $b in
bookworm)
	exec $bench --module "$top/srvfailover.so" "$@" ;;
trixie)
	mod=build/baresip-1.1.0/srvfailover.so
	root=$("$top/test/debian/root.sh" prepare trixie test)
	"$top/test/debian/root.sh" enter trixie test chroot "$root" \
		make --no-print-directory -C "$top" all MODULE=$mod
	exec "$top/test/debian/root.sh" enter trixie test \
		env SFO_BARESIP_ROOT="$root" $bench --module "$top/$mod" "$@" ;;
upstream)
	mod=build/baresip-4.10.0/srvfailover.so
	prefix=$("$top/test/upstream/prefix.sh" prepare)
	PKG_CONFIG_PATH=$prefix/lib/pkgconfig make --no-print-directory \
		-C "$top" all BARESIP_VERSION=4.10.0 MODULE=$mod
	SFO_BARESIP_PREFIX=$prefix exec $bench --module "$top/$mod" "$@" ;;
*)
	echo "make bench: B=$b: bookworm, trixie or upstream" >&2
	exit 2 ;;
esac
