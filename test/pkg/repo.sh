#!/bin/sh
# Writes a small apt repository with srvfailover .debs, one suite per
# Debian release, so that a fleet of phones installs and upgrades from a
# LAN web server or a USB stick:
#
#   DIR/pool/srvfailover_VERSION~SUITE_ARCH.deb
#   DIR/dists/SUITE/Release (+ InRelease, Release.gpg when signed)
#   DIR/dists/SUITE/main/binary-ARCH/Packages, Packages.gz
#   DIR/srvfailover.gpg            the public key, when signed
#
#   test/pkg/repo.sh DIR DEB...    (make repo: the six of make deb)
#
# REPO_KEY (a gpg key ID or fingerprint with its secret key in gpg's
# keyring; GNUPGHOME as usual) signs the Release files. A phone's
# /etc/apt/sources.list.d/srvfailover.list then says, e.g.
#   deb [signed-by=/usr/share/keyrings/srvfailover.gpg] http://10.0.0.5/repo trixie main
# or, unsigned,  deb [trusted=yes] file:/media/usb/repo bookworm main
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR DEB..." >&2; exit 2; }
dir=$1
shift
command -v apt-ftparchive >/dev/null || {
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get install -y -q --no-install-recommends apt-utils >/dev/null
}
rm -rf "$dir/dists" "$dir/pool"
mkdir -p "$dir/pool"
cp "$@" "$dir/pool/"
suites=$(for d in "$@"; do dpkg-deb -f "$d" Version | sed 's/.*~//'; done | sort -u)
for s in $suites; do
	archs=$(for d in "$@"; do
		case $(dpkg-deb -f "$d" Version) in *"~$s") dpkg-deb -f "$d" Architecture ;; esac
	done | sort -u | paste -sd' ')
	for a in $archs; do
		b=dists/$s/main/binary-$a
		mkdir -p "$dir/$b"
		# only this suite's packages of this architecture
		(cd "$dir" && apt-ftparchive packages pool 2>/dev/null |
			awk -v s="~$s" -v a="$a" 'BEGIN { RS = ""; ORS = "\n\n" }
				$0 ~ "\nArchitecture: " a "\n" &&
				$0 ~ "\nVersion: [^\n]*" s "\n" { print }' >"$b/Packages")
		gzip -9n <"$dir/$b/Packages" >"$dir/$b/Packages.gz"
	done
	(cd "$dir/dists/$s" && apt-ftparchive \
		-o APT::FTPArchive::Release::Origin=srvfailover \
		-o APT::FTPArchive::Release::Label=srvfailover \
		-o APT::FTPArchive::Release::Suite="$s" \
		-o APT::FTPArchive::Release::Codename="$s" \
		-o APT::FTPArchive::Release::Architectures="$archs" \
		-o APT::FTPArchive::Release::Components=main \
		-o APT::FTPArchive::Release::Description="srvfailover for Debian $s" \
		release . >Release.new && mv Release.new Release)
	if [ -n "${REPO_KEY:-}" ]; then
		rm -f "$dir/dists/$s/InRelease" "$dir/dists/$s/Release.gpg"
		gpg --batch --yes --local-user "$REPO_KEY" --clearsign \
			-o "$dir/dists/$s/InRelease" "$dir/dists/$s/Release"
		gpg --batch --yes --local-user "$REPO_KEY" -abs \
			-o "$dir/dists/$s/Release.gpg" "$dir/dists/$s/Release"
	fi
	echo "  REPO    $dir/dists/$s: $archs"
done
if [ -n "${REPO_KEY:-}" ]; then
	gpg --batch --yes --export "$REPO_KEY" >"$dir/srvfailover.gpg"
	echo "  REPO    signed by $REPO_KEY; public key $dir/srvfailover.gpg"
fi
