#!/bin/sh
# Debian systems for the package tests and the trixie package builds, made
# with debootstrap from the host's own Debian archive and kept under
# /var/cache/srvfailover/pkg/ so that later runs (and fresh CI clones) reuse
# them. Needs root (re-runs itself via sudo).
#
#   test/pkg/root.sh prepare SUITE KIND     make sure it exists, print its path
#   test/pkg/root.sh path SUITE KIND        print its path only
#   test/pkg/root.sh enter SUITE KIND CMD [ARG...]
#	CMD on the host in a private mount namespace where ROOT/proc, ROOT/dev
#	and, at the same paths, /tmp and the project's top directory are
#	mounted; CMD gets SFO_ROOT=ROOT. KIND "build" is changed in place
#	(its caches stay); KIND "minbase" is never changed: ROOT is then a
#	throwaway overlay on it (a clean system each time, gone afterwards).
#   test/pkg/root.sh run SUITE KIND CMD [ARG...]
#	the same, with CMD run inside the system (chroot), in the current
#	directory (under the project's top or /tmp)
#
# SUITE: bookworm or trixie. KIND:
#   minbase  debootstrap --variant=minbase and apt's indexes: a clean system
#   build    a copy of minbase with the compilers for amd64, arm64 and armhf
#	     and libre-dev/libcmocka-dev of the three (multiarch), dpkg-dev,
#	     lintian and systemd (systemd-analyze): `make deb-here` runs in it
# (SC2016: '$(...)' are for apt and the inner sh; SC1091: host file)
# shellcheck disable=SC2016,SC1091,SC2086,SC2116
set -eu

CACHE=${SFO_PKG_CACHE:-/var/cache/srvfailover/pkg}
TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
BUILD_PKGS="gcc make pkg-config libc6-dev libre-dev libcmocka-dev dpkg-dev
	binutils gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
	libre-dev:arm64 libcmocka-dev:arm64 libre-dev:armhf libcmocka-dev:armhf
	lintian systemd"
BUILD_PKGS=$(echo $BUILD_PKGS)	# one line (split on purpose)
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "srvfailover: $SUITE $KIND system: $*" >&2; }
die() { say "$*"; exit 1; }
die_log() {	# the end of the log first, so that the cause is visible
	tail -n 20 "$LOG" | sed 's/^/    /' >&2
	die "$* (log $LOG)"
}

# The URI of Debian's main archive in the host's apt sources (as
# test/trixie/root.sh finds it)
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

# ns ROOT TOP|"" CMD...: CMD in a private mount namespace with ROOT/proc
# and ROOT/dev, plus /tmp and TOP at the same paths when TOP is given
ns() {
	r=$1 t=$2
	shift 2
	SFO_ROOT=$r unshare -m --propagation private sh -ec '
		r=$SFO_ROOT t=$1
		shift
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		if [ -n "$t" ]; then for d in /tmp "$t"; do
			mkdir -p "$r$d"; mount --bind "$d" "$r$d"
		done; fi
		exec "$@"' sh "$t" "$@"
}

# in ROOT CMD: a shell command run in ROOT as root, apt non-interactive
in_root() {
	ns "$1" "" chroot "$1" env DEBIAN_FRONTEND=noninteractive \
		LC_ALL=C.UTF-8 sh -ec "$2"
}

setup_apt() {	# the host's proxy and resolver for ROOT's apt
	for s in http https; do
		p=$(apt_proxy $s) && echo "Acquire::$s::Proxy \"$p\";"
	done >"$1/etc/apt/apt.conf.d/01srvfailover-proxy"
	rm -f "$1/etc/resolv.conf"	# may be a dangling symlink
	cp -L /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}

make_minbase() {
	command -v debootstrap >/dev/null ||
		apt-get install -y -q debootstrap >>"$LOG" 2>&1 ||
		die_log "cannot install debootstrap on the host"
	m=$(mirror)
	[ -n "$m" ] || die "no Debian archive found in the host's apt sources"
	p=$(apt_proxy http) && [ -z "${http_proxy:-}" ] && export http_proxy="$p"
	p=$(apt_proxy https) && [ -z "${https_proxy:-}" ] && export https_proxy="$p"
	rm -rf --one-file-system "$ROOT"
	mkdir -p "$ROOT"
	say "debootstrap $SUITE from $m (1-3 min, log $LOG)"
	debootstrap --variant=minbase "$SUITE" "$ROOT" "$m" >>"$LOG" 2>&1 ||
		die_log "debootstrap $SUITE failed"
	setup_apt "$ROOT"
	in_root "$ROOT" 'apt-get update -q; apt-get clean' >>"$LOG" 2>&1 ||
		die_log "apt-get update in $SUITE failed"
}

make_build() {
	base=$CACHE/$SUITE-minbase
	rm -rf --one-file-system "$ROOT"
	say "copying $base"
	cp -a "$base" "$ROOT"
	rm -f "$ROOT/.srvfailover-stamp"
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	say "installing the build tools (2-5 min, log $LOG)"
	in_root "$ROOT" "
		dpkg --add-architecture arm64
		dpkg --add-architecture armhf
		apt-get update -q
		apt-get install -y -q --no-install-recommends $BUILD_PKGS
		apt-get clean" >>"$LOG" 2>&1 ||
		die_log "installing the build tools in $SUITE failed"
}

prepare() {	# prepare SUITE KIND: complete, or made now
	mkdir -p "$CACHE"
	want="$SUITE $KIND"
	[ "$KIND" = minbase ] || want="$want $BUILD_PKGS"
	[ "$(cat "$ROOT/.srvfailover-stamp" 2>/dev/null)" = "$want" ] && return
	exec 9>"$ROOT.lock"	# one builder at a time; the others wait, then reuse
	flock -n 9 || { say "waiting for another run to prepare $ROOT"; flock 9; }
	if [ "$(cat "$ROOT/.srvfailover-stamp" 2>/dev/null)" != "$want" ]; then
		: >"$LOG"
		if [ "$KIND" = build ]; then
			(KIND=minbase ROOT=$CACHE/$SUITE-minbase \
			 LOG=$CACHE/$SUITE-minbase.log prepare)
			make_build
		else
			make_minbase
		fi
		echo "$want" >"$ROOT/.srvfailover-stamp"
		say "ready: $ROOT"
	fi
	exec 9>&-
}

# overlay CMD...: CMD with SFO_ROOT a throwaway overlay on the minbase ROOT
overlay() {
	scratch=$(mktemp -d /tmp/sfo-root.XXXXXX)
	trap 'rm -rf --one-file-system "$scratch"' EXIT
	mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
	SFO_LOWER=$ROOT SFO_SCRATCH=$scratch SFO_TOP=$TOP \
	unshare -m --propagation private sh -ec '
		s=$SFO_SCRATCH r=$SFO_SCRATCH/root
		mount -t overlay overlay -o "lowerdir=$SFO_LOWER,upperdir=$s/upper,workdir=$s/work" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		for d in /tmp "$SFO_TOP"; do
			mkdir -p "$r$d"; mount --bind "$d" "$r$d"
		done
		export SFO_ROOT=$r
		exec "$@"' sh "$@"
}

case ${1:-} in enter | run) min=4 ;; *) min=3 ;; esac
[ $# -ge $min ] || {
	echo "usage: $0 prepare|path SUITE minbase|build | enter|run SUITE KIND CMD [ARGS...]" >&2
	exit 2
}
cmd=$1 SUITE=$2 KIND=$3
shift 3
case $SUITE in bookworm | trixie) ;; *) die "suite: bookworm or trixie" ;; esac
case $KIND in minbase | build) ;; *) die "kind: minbase or build" ;; esac
ROOT=$CACHE/$SUITE-$KIND
LOG=$ROOT.log
case $cmd in
path) echo "$ROOT" ;;
prepare | enter | run)
	[ "$(id -u)" = 0 ] ||
		exec sudo env SFO_PKG_CACHE="$CACHE" "$0" "$cmd" "$SUITE" "$KIND" "$@"
	prepare
	if [ "$cmd" = prepare ]; then echo "$ROOT"; exit; fi
	if [ "$cmd" = run ]; then
		set -- sh -c 'exec chroot "$SFO_ROOT" env --chdir="$0" "$@"' \
			"$PWD" "$@"
	fi
	if [ "$KIND" = build ]; then
		ns "$ROOT" "$TOP" env SFO_ROOT="$ROOT" "$@"
	else
		overlay "$@"
	fi
	;;
*) die "unknown command $cmd" ;;
esac
