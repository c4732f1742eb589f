#!/bin/sh
# Turns a staging root made by `make install DESTDIR=ROOT` into the
# srvfailover .deb of one Debian suite and architecture: the files the
# package adds (/usr/bin/srvfailover-ctl and its manual page, the systemd
# unit, the example configuration in /etc as conffiles, copyright,
# changelog), the maintainer scripts, control and md5sums. mk/pi.mk calls
# it for each of the six packages.
#
#   contrib/debian/build-deb.sh ROOT SUITE ARCH OUT.deb
#
# From the environment: DEB_VERSION, DEB_MAINTAINER, DEB_DEPENDS (the
# suite's baresip-core and libre), DEB_DATE (RFC 5322, for the changelog),
# BARESIP_VERSION, STRIP (the architecture's strip).
set -eu

root=$1 suite=$2 arch=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
name=srvfailover
doc=$root/usr/share/doc/$name
so=$root/usr/lib/baresip/modules/srvfailover.so

# bookworm's systemd looks in /lib, trixie's (merged /usr) in /usr/lib
case $suite in
bookworm) unitdir=$root/lib/systemd/system ;;
*)        unitdir=$root/usr/lib/systemd/system ;;
esac
install -D -m 0644 "$top/contrib/systemd/baresip-srvfailover.service" \
	"$unitdir/baresip-srvfailover.service"
rm -f "$doc/examples/baresip-srvfailover.service" "$doc/examples/srvfailover-ctl"

# srvfailover-ctl: Debian's python3, named directly
install -d "$root/usr/bin" "$root/usr/share/man/man1"
sed '1s|^#!.*|#!/usr/bin/python3|' "$top/contrib/srvfailover-ctl" \
	>"$root/usr/bin/srvfailover-ctl"
chmod 0755 "$root/usr/bin/srvfailover-ctl"
gzip -9n <"$here/srvfailover-ctl.1" >"$root/usr/share/man/man1/srvfailover-ctl.1.gz"

# the configuration a person edits: registers nowhere as shipped
install -d "$root/etc/baresip-srvfailover"
install -m 0644 "$here/etc/config" "$here/etc/srvfailover" \
	"$root/etc/baresip-srvfailover/"

install -m 0644 "$here/copyright" "$doc/copyright"
{
	echo "$name ($DEB_VERSION) $suite; urgency=medium"
	echo
	echo "  * srvfailover for Debian $suite (baresip $BARESIP_VERSION), $arch."
	echo
	echo " -- $DEB_MAINTAINER  $DEB_DATE"
} | gzip -9n >"$doc/changelog.gz"

"$STRIP" --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$so"
chmod 0644 "$so"

# Depends: the newest GLIBC_ symbol version the module uses; armhf's
# module takes libgcc's helpers (64-bit division) from libgcc_s.so.1
glibc=$(readelf -V --wide "$so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' |
	sort -t. -k1,1n -k2,2n | tail -n 1)
depends="$DEB_DEPENDS, libc6 (>= ${glibc:-2.4})"
if readelf -d "$so" | grep -q 'NEEDED.*libgcc_s\.so\.1'; then
	depends="$depends, libgcc-s1 (>= 3.5)"
fi
# libmosquitto1: MQTT, opened when configured (baresip-core needs it
# too); python3-paho-mqtt: srvfailover-ctl fleet
depends="$depends, libmosquitto1, python3, python3-paho-mqtt, adduser"

install -d "$root/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
install -m 0644 "$here/conffiles" "$root/DEBIAN/"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $DEB_VERSION
Architecture: $arch
Maintainer: $DEB_MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: comm
Priority: optional
Description: SIP server redundancy for baresip $BARESIP_VERSION ($suite)
 A baresip module (module_app srvfailover.so): several SIP servers per
 line, registered in parallel, Cisco or sequential mode, quick notice of
 a dead server, INVITE failover, every server's state on the console, as
 JSON and on a web page. For the baresip $BARESIP_VERSION of Debian and
 Raspberry Pi OS $suite.
 .
 The service baresip-srvfailover runs baresip with the module as the
 system user baresip, configured in /etc/baresip-srvfailover (which
 registers nowhere until its servers are filled in). srvfailover-ctl
 shows and changes the servers' states from a shell.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o \
	-type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "  DEB     $out"
