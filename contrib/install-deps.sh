#!/bin/sh
# Installs what srvfailover needs to build and test, from Debian's archive.
# Quick when everything is there already.
set -e

PKGS="gcc make pkg-config baresip-core libre-dev libcmocka-dev
      kamailio sip-tester tcpdump iproute2 nftables dnsmasq-base gnuplot-nox
      chromium python3-pyflakes"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "srvfailover: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null ||
	echo "srvfailover: warning: apt-get update reported errors" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
