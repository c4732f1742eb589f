#!/bin/sh
# A Debian trixie system (baresip 1.1.0, libre 2.0.1) made with debootstrap
# from the host's own Debian archive, kept outside the work tree so that
# later runs (and fresh CI clones) reuse it. Needs root (re-runs via sudo).
#
#   test/trixie/root.sh prepare          make sure it is complete, print its path
#   test/trixie/root.sh path             print its path only
#   test/trixie/root.sh enter CMD [ARG...]
#	run CMD on the host in a private mount namespace where ROOT/proc,
#	ROOT/dev, and /tmp and the project's top directory (at the same paths)
#	are mounted; CMD gets SFO_TRIXIE_ROOT=ROOT, its status is ours.
#	e.g. test/trixie/root.sh enter chroot "$(test/trixie/root.sh path)" make -C "$PWD"
# (SC2016: '$(...)' and '$x' are for apt and the inner sh; SC1091: host file)
# shellcheck disable=SC2016,SC1091
set -eu

ROOT=${SFO_TRIXIE_ROOT:-/var/cache/srvfailover/trixie}
case $ROOT in /*) ;; *) ROOT=$PWD/$ROOT ;; esac
TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
PKGS="baresip-core libre-dev libcmocka-dev gcc make pkg-config libc6-dev coreutils"
STAMP=$ROOT/.srvfailover-stamp	# written last: its presence means "complete"
MARK=$ROOT/.srvfailover-root	# lets us wipe the directory without fear
LOG=$ROOT.log			# debootstrap/apt output: stderr stays short
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "srvfailover: trixie system: $*" >&2; }
die() { say "$*"; exit 1; }
die_log() {	# the end of the log first, so that the cause is visible
	tail -n 20 "$LOG" | sed 's/^/    /' >&2
	die "$* (log $LOG)"
}

# ns TOP|"" CMD...: CMD in a private mount namespace (mounts vanish with it,
# nothing propagates to the host) with ROOT/proc and ROOT/dev, plus /tmp and
# TOP at the same paths when TOP is given.
ns() {
	SFO_TRIXIE_ROOT=$ROOT unshare -m --propagation private sh -ec '
		r=$SFO_TRIXIE_ROOT t=$1
		shift
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"	# rbind: /dev/pts and /dev/shm too
		if [ -n "$t" ]; then for d in /tmp "$t"; do
			mkdir -p "$r$d"; mount --bind "$d" "$r$d"
		done; fi
		exec "$@"' sh "$@"
}

# The URI of Debian's main archive in the host's apt sources (apt parses
# both one-line and deb822 files): the "Debian"-labelled repository when
# its index is present, else the one for the host's own release.
mirror() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	apt-get indextargets --format '$(ORIGIN)|$(LABEL)|$(RELEASE)|$(COMPONENT)|$(REPO_URI)' |
	awk -F'|' -v c="$codename" '
		$4 != "main" || $5 !~ /^https?:\/\// { next }
		$1 == "Debian" && $2 == "Debian" && !l { l = $5 }
		$3 == c && !u { u = $5 }
		END { if (l != "") print l; else if (u != "") print u }'
}

apt_proxy() {	# apt_proxy http|https: the host's apt proxy, false if none
	p=$(apt-config shell p "Acquire::$1::Proxy" | sed -n "s/^p='\(.*\)'$/\1/p")
	[ -n "$p" ] && echo "$p"
}

debootstrap_root() {
	if ! command -v debootstrap >/dev/null; then
		say "installing debootstrap on the host"
		apt-get install -y debootstrap >>"$LOG" 2>&1 ||
			{ apt-get update && apt-get install -y debootstrap; } >>"$LOG" 2>&1 ||
			die_log "cannot install debootstrap on the host"
	fi
	m=$(mirror)
	[ -n "$m" ] || die "no Debian archive found in the host's apt sources"
	# debootstrap's wget knows only the environment's proxies, not apt's
	p=$(apt_proxy http) && [ -z "${http_proxy:-}" ] && export http_proxy="$p"
	p=$(apt_proxy https) && [ -z "${https_proxy:-}" ] && export https_proxy="$p"
	if [ -e "$ROOT" ]; then	# never wipe a directory that is not ours
		[ -e "$MARK" ] || [ -z "$(ls -A "$ROOT")" ] ||
			die "$ROOT exists and was not made here; remove it or set SFO_TRIXIE_ROOT"
		rm -rf --one-file-system "$ROOT"
	fi
	mkdir -p "$ROOT"
	: >"$MARK"
	say "debootstrap trixie from $m into $ROOT (1-3 min, log $LOG)"
	debootstrap --variant=minbase trixie "$ROOT" "$m" >>"$LOG" 2>&1 ||
		die_log "debootstrap trixie from $m failed"
}

install_pkgs() {
	# The host's apt proxy (if any) for the chroot's apt; env proxies pass through.
	for s in http https; do
		p=$(apt_proxy $s) && echo "Acquire::$s::Proxy \"$p\";"
	done >"$ROOT/etc/apt/apt.conf.d/01srvfailover-proxy"
	rm -f "$ROOT/etc/resolv.conf"	# may be a dangling symlink
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"	# start no services
	chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	say "installing $PKGS"
	ns "" chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive sh -ec "
		dpkg --configure -a
		apt-get update
		apt-get install -y --no-install-recommends $PKGS
		apt-get clean" >>"$LOG" 2>&1
}

prepare() {
	mkdir -p "$(dirname "$ROOT")"
	exec 9>"$ROOT.lock"	# one builder at a time; the others wait, then reuse
	flock -n 9 || { say "waiting for another run to prepare $ROOT"; flock 9; }
	if [ "$(cat "$STAMP" 2>/dev/null)" != "$PKGS" ] || [ ! -x "$ROOT/usr/bin/baresip" ]; then
		: >"$LOG"
		rm -f "$STAMP"
		# debootstrap deletes ROOT/debootstrap when it completes
		if [ ! -e "$MARK" ] || [ -d "$ROOT/debootstrap" ] || [ ! -x "$ROOT/usr/bin/apt-get" ]; then
			debootstrap_root
		fi
		# an interrupted apt is usually repaired; else start afresh once
		install_pkgs || { debootstrap_root && install_pkgs; } ||
			die_log "installing $PKGS failed"
		echo "$PKGS" >"$STAMP"
		say "ready: $ROOT"
	fi
	exec 9>&-
}

case ${1:-} in
path) echo "$ROOT" ;;
prepare | enter)
	# debootstrap, chroot and mount namespaces need root
	[ "$(id -u)" = 0 ] || exec sudo env SFO_TRIXIE_ROOT="$ROOT" "$0" "$@"
	if [ "$1" = prepare ]; then prepare; echo "$ROOT"; exit; fi
	shift
	[ $# -gt 0 ] || die "enter needs a command"
	prepare
	ns "$TOP" "$@"
	;;
*)
	echo "usage: $0 prepare | path | enter CMD [ARGS...]" >&2
	exit 2
	;;
esac
