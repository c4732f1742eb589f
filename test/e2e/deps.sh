#!/bin/sh
# Installs what the end-to-end lab needs (test/e2e, contrib/lab,
# contrib/demo) from Debian bookworm's archive. Idempotent; when all is
# present it only looks at a few paths and returns at once.
# Usage: test/e2e/deps.sh            (as root, or with sudo available)
set -e

# "path-that-must-exist package" pairs
NEEDS="
/usr/bin/python3 python3
/usr/bin/baresip baresip-core
/usr/lib/baresip/modules/ctrl_tcp.so baresip-core
/usr/sbin/kamailio kamailio
/usr/sbin/kamcmd kamailio
@kamailio/modules/auth.so kamailio
@kamailio/modules/tls.so kamailio-tls-modules
@kamailio/modules/presence_mwi.so kamailio-presence-modules
/usr/bin/openssl openssl
/usr/bin/twinkle twinkle
/usr/bin/sipp sip-tester
/usr/bin/tcpdump tcpdump
/usr/sbin/dnsmasq dnsmasq-base
/usr/sbin/nft nftables
/bin/ip iproute2
/usr/bin/unshare util-linux
/usr/bin/stdbuf coreutils
/usr/sbin/mosquitto mosquitto
/usr/bin/mosquitto_sub mosquitto-clients
/usr/lib/python3/dist-packages/paho/mqtt/client.py python3-paho-mqtt
/usr/bin/valgrind valgrind
"

# "@rel" paths are under the machine's multiarch lib dir (/usr/lib/TRIPLET)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
	gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
missing=$(echo "$NEEDS" | while read -r path pkg; do
	case $path in @*) path=/usr/lib/$triplet/${path#@} ;; esac
	[ -n "$path" ] && [ ! -e "$path" ] && echo "$pkg"
done | sort -u | tr '\n' ' ')
# python3-minimal alone lacks modules the lab uses
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c \
	'import json, ctypes, argparse, fnmatch' 2>/dev/null; then
	missing="$missing python3"
fi
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "e2e lab: installing $missing"
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing \
	>/dev/null 2>&1; then
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
