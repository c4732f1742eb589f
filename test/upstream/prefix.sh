#!/bin/sh
# Upstream re and baresip 4.10.0 built from their release sources into a
# prefix kept under /var/cache/srvfailover/upstream, so that later runs
# (and fresh CI clones) reuse it. The module is built against that prefix
# and the whole test suite runs its baresip as a third target
# (test/run-all.sh).
#
#   test/upstream/prefix.sh prepare    build it unless cached, print its path
#   test/upstream/prefix.sh path       print its path only
#
# The sources come from SRC (SFO_UPSTREAM_SRC, default
# /var/cache/srvfailover/upstream/src): re-4.10.0.tar.gz and
# baresip-4.10.0.tar.gz. .ci/run fills it from the workplace's copy; when
# a file is missing it is downloaded from the projects' GitHub tags. Each
# is checked against test/upstream/SHA256SUMS before it is unpacked
# (SFO_UPSTREAM_NOCHECK=1 skips that for archives that GitHub packed
# differently). Needs cmake, ninja, libssl-dev, zlib1g-dev: installed
# when missing.
# (SC2086: word lists on purpose)
# shellcheck disable=SC2086
set -eu

VERSION=4.10.0
HERE=$(cd "$(dirname "$0")" && pwd -P)
CACHE=${SFO_UPSTREAM_CACHE:-/var/cache/srvfailover/upstream}
SRC=${SFO_UPSTREAM_SRC:-$CACHE/src}
# a changed recipe (this file) is a new prefix
RECIPE=$(cat "$0" "$HERE/SHA256SUMS" | sha256sum | cut -c1-10)
PREFIX=$CACHE/baresip-$VERSION-$RECIPE
# what the tests load: the lab's modules and nothing that needs more
# libraries than Debian's build essentials
MODULES="account;aubridge;auconv;auresamp;contact;ctrl_tcp;g711;menu;mwi"
MODULES="$MODULES;presence;serreg;stdio"
PKGS="cmake ninja-build pkg-config libssl-dev zlib1g-dev gcc make"
TAGS=https://github.com/baresip
URL_re=$TAGS/re/archive/refs/tags/v$VERSION.tar.gz
URL_baresip=$TAGS/baresip/archive/refs/tags/v$VERSION.tar.gz

say() { echo "srvfailover: upstream baresip $VERSION: $*" >&2; }
die() { say "$*"; exit 1; }
die_log() {
	tail -n 20 "$LOG" | sed 's/^/    /' >&2
	die "$* (log $LOG)"
}

packages() {
	missing=
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends $missing >>"$LOG" 2>&1 ||
	{ apt-get update -q >>"$LOG" 2>&1 &&
	  apt-get install -y -q --no-install-recommends $missing \
		>>"$LOG" 2>&1; } || die_log "cannot install$missing"
}

fetch() {	# fetch NAME: SRC/NAME-VERSION.tar.gz, downloaded if missing
	f=$SRC/$1-$VERSION.tar.gz
	[ -s "$f" ] && return
	mkdir -p "$SRC"
	eval url=\$URL_$1
	say "downloading $url"
	command -v curl >/dev/null || PKGS=curl packages
	curl -fsSL -o "$f.part" "$url" >>"$LOG" 2>&1 ||
		die_log "no $1-$VERSION.tar.gz in $SRC and no download"
	mv "$f.part" "$f"
}

check() {	# check NAME: the archive's checksum is the recorded one
	[ "${SFO_UPSTREAM_NOCHECK:-}" = 1 ] && return
	(cd "$SRC" && grep " $1-$VERSION.tar.gz\$" "$HERE/SHA256SUMS" |
		sha256sum -c --quiet -) >>"$LOG" 2>&1 ||
		die_log "$SRC/$1-$VERSION.tar.gz: wrong SHA256 (see" \
			"test/upstream/SHA256SUMS; SFO_UPSTREAM_NOCHECK=1" \
			"accepts it)"
}

# cmake_build NAME [OPTIONS]: configure, build and install into PREFIX
cmake_build() {
	name=$1
	shift
	tar -xzf "$SRC/$name-$VERSION.tar.gz" -C "$WORK"
	# (GitHub's archives unpack to NAME-VERSION as well)
	cmake -S "$WORK/$name-$VERSION" -B "$WORK/$name-build" -G Ninja \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_INSTALL_RPATH="$PREFIX/lib" \
		-DCMAKE_PREFIX_PATH="$PREFIX" "$@" >>"$LOG" 2>&1 ||
		die_log "$name: cmake failed"
	cmake --build "$WORK/$name-build" -j "$(nproc)" >>"$LOG" 2>&1 ||
		die_log "$name: build failed"
	cmake --install "$WORK/$name-build" >>"$LOG" 2>&1 ||
		die_log "$name: install failed"
}

build() {
	packages
	for n in re baresip; do fetch $n; check $n; done
	WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	rm -rf "$PREFIX"
	cmake_build re -DLIBRE_BUILD_STATIC=OFF
	# PKG_CONFIG_PATH: not Debian's libre headers (/usr/include/re)
	PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig cmake_build baresip \
		-DMODULES="$MODULES"
	grep -q "$PREFIX/include/re" "$WORK/baresip-build/CMakeCache.txt" ||
		die_log "baresip was configured against another libre"
	: >"$PREFIX/.complete"
	say "built in $PREFIX"
	# the builds of earlier recipes go
	for old in "$CACHE"/baresip-$VERSION-*; do
		[ "$old" = "$PREFIX" ] || rm -rf "$old"
	done
}

usage() {
	echo "usage: $0 prepare|path" >&2
	exit 2
}

[ $# -eq 1 ] || usage
case $1 in
path) echo "$PREFIX"; exit 0 ;;
prepare) ;;
*) usage ;;
esac

if [ ! -e "$PREFIX/.complete" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		# (the cache variables carried over by name: sudo -E may not)
		exec sudo -n env SFO_UPSTREAM_CACHE="$CACHE" \
			SFO_UPSTREAM_SRC="$SRC" "$0" "$@"
	fi
	mkdir -p "$CACHE"
	# one build at a time (two runs of make test side by side)
	exec 9>"$CACHE/.lock"
	flock 9
	LOG=$CACHE/build-$VERSION.log
	: >"$LOG"
	[ -e "$PREFIX/.complete" ] || build
fi
echo "$PREFIX"
