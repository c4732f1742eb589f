#!/bin/sh
# Installs what the Raspberry Pi cross builds and their tests under
# emulation need, from Debian's archive (bookworm):
#
#   - the cross compilers gcc-aarch64-linux-gnu (arm64) and
#     gcc-arm-linux-gnueabihf (armhf) with their C libraries
#     (libc6-dev-*-cross: a recommendation of theirs, and the multiarch
#     libc6-dev:arm64 does not install beside the host's linux-libc-dev),
#     and qemu-user-static;
#   - libre-dev and libcmocka-dev for arm64 and armhf (multiarch).
#
# Idempotent: quick when everything is there already. As root, or through
# sudo otherwise.
#
# libre0:arm64/:armhf pull libssl3 of that architecture, which is
# "Multi-Arch: same": every architecture must have the same version. The
# resolver does not find that by itself, so libssl3 (all three
# architectures) and the host's libssl-dev are pinned together to the
# version apt offers for arm64 (or, when the archive does not offer that
# one for every architecture, the newest one it offers for all three).
# That may move the host's libssl3 and libssl-dev to that version (up, or
# down with --allow-downgrades).
#
# A failed index download (a mirror in sync, say) is a warning only: what
# matters is that the packages below can be installed, which is checked.
set -e

ARCHES="arm64 armhf"
HOST_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross
           gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
           qemu-user-static make pkg-config binutils"
FOREIGN_PKGS="libre-dev libcmocka-dev"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

missing=""
for p in $HOST_PKGS; do
	installed "$p" || missing="$missing $p"
done
for a in $ARCHES; do
	for p in $FOREIGN_PKGS; do
		installed "$p:$a" || missing="$missing $p:$a"
	done
done
[ -z "$missing" ] && exit 0

echo "srvfailover: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends"

for a in $ARCHES; do
	dpkg --print-foreign-architectures | grep -qx "$a" ||
		$SUDO dpkg --add-architecture "$a"
done
$SUDO apt-get update -q >/dev/null ||
	echo "srvfailover: warning: apt-get update reported errors;" \
	     "going on with the indexes it has" >&2

# shellcheck disable=SC2086
$APT install $HOST_PKGS >/dev/null

# The one libssl3 version every architecture can have
versions() {  # versions of libssl3 that apt offers for architecture $1
	apt-cache madison "libssl3:$1" | awk -F'|' '{gsub(/ /, "", $2); print $2}'
}
offered() {  # offered VERSION ARCH
	versions "$2" | grep -qxF "$1"
}
host=$(dpkg --print-architecture)
ssl=""
for v in $(versions arm64); do
	offered "$v" armhf || continue
	offered "$v" "$host" || continue
	if [ -z "$ssl" ] || dpkg --compare-versions "$v" gt "$ssl"; then
		ssl=$v
	fi
done
cand=$(apt-cache policy libssl3:arm64 | sed -n 's/^ *Candidate: *//p')
if [ -n "$cand" ] && offered "$cand" armhf &&
   offered "$cand" "$host"; then
	ssl=$cand
fi
if [ -z "$ssl" ]; then
	echo "srvfailover: apt offers no libssl3 version for all of" \
	     "$host $ARCHES" >&2
	exit 1
fi

pkgs="libssl3=$ssl libssl-dev=$ssl"
for a in $ARCHES; do
	pkgs="$pkgs libssl3:$a=$ssl"
	for p in $FOREIGN_PKGS; do
		pkgs="$pkgs $p:$a"
	done
done
# shellcheck disable=SC2086
$APT --allow-downgrades install $pkgs >/dev/null

for p in $HOST_PKGS; do
	installed "$p" || { echo "srvfailover: $p not installed" >&2; exit 1; }
done
for a in $ARCHES; do
	for p in $FOREIGN_PKGS; do
		installed "$p:$a" ||
			{ echo "srvfailover: $p:$a not installed" >&2; exit 1; }
	done
done
echo "srvfailover: cross build dependencies installed (libssl3 $ssl)"
