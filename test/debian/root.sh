#!/bin/sh
# Debian systems for the tests and the package builds, made with
# debootstrap from the host's own Debian archive and kept under
# /var/cache/srvfailover/debian/SUITE-KIND so that later runs (and fresh
# CI clones) reuse them. Needs root (re-runs itself via sudo).
#
#   test/debian/root.sh prepare SUITE KIND     make sure it exists, print its path
#   test/debian/root.sh path SUITE KIND        print its path only
#   test/debian/root.sh enter SUITE KIND CMD [ARG...]
#	CMD on the host in a private mount namespace where ROOT/proc, ROOT/dev
#	and, at the same paths, /tmp and the project's top directory are
#	mounted; CMD gets SFO_ROOT=ROOT, its status is ours. KINDs "test" and
#	"build" are changed in place (their caches stay); "minbase" is never
#	changed: ROOT is then a throwaway overlay on it (a clean system each
#	time, gone afterwards).
#	e.g. test/debian/root.sh enter trixie test sh -c 'chroot "$SFO_ROOT" baresip -h'
#   test/debian/root.sh run SUITE KIND CMD [ARG...]
#	the same, with CMD run inside the system (chroot), in the current
#	directory (under the project's top or /tmp)
#
# SUITE: bookworm or trixie. KIND:
#   minbase  debootstrap --variant=minbase and apt's indexes: a clean system
#   test     a copy of minbase with the suite's baresip-core, libre-dev,
#	     libcmocka-dev and a compiler: make test builds the module in
#	     trixie's and runs trixie's baresip from it (test/run-all.sh)
#   build    a copy of minbase with the compilers for amd64, arm64 and armhf
#	     and libre-dev/libcmocka-dev of the three (multiarch), dpkg-dev,
#	     lintian and systemd (systemd-analyze): `make deb-here` runs in it
#   arm64, armhf
#	     no system: the suite's own baresip-core of that architecture
#	     with the libraries it runs with, unpacked (apt-get download in a
#	     minbase overlay, dpkg-deb -x), merged /usr, an empty
#	     etc/ld.so.cache, for qemu-user -L (test/pkg/qemu-test.sh);
#	     prepare and path only
# SFO_DEBIAN_CACHE: another directory than /var/cache/srvfailover/debian.
# (SC2016: '$(...)' are for apt and the inner sh; SC1091: host file)
# shellcheck disable=SC2016,SC1091,SC2086,SC2116
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
SELF=$TOP/test/debian/root.sh
CACHE=${SFO_DEBIAN_CACHE:-/var/cache/srvfailover/debian}
TEST_PKGS="baresip-core libre-dev libcmocka-dev gcc make pkg-config libc6-dev coreutils valgrind"
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

# ns ROOT TOP|"" CMD...: CMD in a private mount namespace (mounts vanish
# with it, nothing propagates to the host) with ROOT/proc and ROOT/dev,
# plus /tmp and TOP at the same paths when TOP is given. The shell
# becomes CMD (exec): a signal to our pid reaches CMD
ns() {
	r=$1 t=$2
	shift 2
	SFO_ROOT=$r exec unshare -m --propagation private sh -ec '
		r=$SFO_ROOT t=$1
		shift
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"	# rbind: /dev/pts and /dev/shm too
		if [ -n "$t" ]; then for d in /tmp "$t"; do
			mkdir -p "$r$d"; mount --bind "$d" "$r$d"
		done; fi
		exec "$@"' sh "$t" "$@"
}

# in_root ROOT CMD: a shell command run in ROOT as root, apt non-interactive
in_root() {
	(ns "$1" "" chroot "$1" env DEBIAN_FRONTEND=noninteractive \
		LC_ALL=C.UTF-8 sh -ec "$2")
}

setup_apt() {	# the host's proxy and resolver for ROOT's apt
	for s in http https; do
		p=$(apt_proxy $s) && echo "Acquire::$s::Proxy \"$p\";"
	done >"$1/etc/apt/apt.conf.d/01srvfailover-proxy"
	rm -f "$1/etc/resolv.conf"	# may be a dangling symlink
	cp -L /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}

fresh() {	# an empty ROOT; never wipes a directory that is not ours
	if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT")" ] &&
	   [ ! -e "$ROOT/.srvfailover-root" ]; then
		die "$ROOT exists and was not made here; remove it or set SFO_DEBIAN_CACHE"
	fi
	rm -rf --one-file-system "$ROOT"
	mkdir -p "$ROOT"
	: >"$ROOT/.srvfailover-root"
}

make_minbase() {
	command -v debootstrap >/dev/null ||
		apt-get install -y -q debootstrap >>"$LOG" 2>&1 ||
		{ apt-get update -q && apt-get install -y -q debootstrap; } >>"$LOG" 2>&1 ||
		die_log "cannot install debootstrap on the host"
	m=$(mirror)
	[ -n "$m" ] || die "no Debian archive found in the host's apt sources"
	# debootstrap's wget knows only the environment's proxies, not apt's
	p=$(apt_proxy http) && [ -z "${http_proxy:-}" ] && export http_proxy="$p"
	p=$(apt_proxy https) && [ -z "${https_proxy:-}" ] && export https_proxy="$p"
	fresh
	say "debootstrap $SUITE from $m (1-3 min, log $LOG)"
	debootstrap --variant=minbase "$SUITE" "$ROOT" "$m" >>"$LOG" 2>&1 ||
		die_log "debootstrap $SUITE failed"
	setup_apt "$ROOT"
	in_root "$ROOT" 'apt-get update -q; apt-get clean' >>"$LOG" 2>&1 ||
		die_log "apt-get update in $SUITE failed"
}

# make_system "PKGS" [ARCH...]: a copy of minbase with PKGS (and the
# foreign architectures ARCH) installed
make_system() {
	pkgs=$1
	shift
	base=$CACHE/$SUITE-minbase
	fresh
	say "copying $base"
	cp -a "$base/." "$ROOT/"
	rm -f "$ROOT/.srvfailover-stamp"
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"	# start no services
	chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	say "installing $pkgs (2-5 min, log $LOG)"
	in_root "$ROOT" "
		for a in $*; do dpkg --add-architecture \$a; done
		apt-get update -q
		apt-get install -y -q --no-install-recommends $pkgs
		apt-get clean" >>"$LOG" 2>&1 ||
		die_log "installing $pkgs in $SUITE failed"
}

# The packages of an arm sysroot: baresip-core, the libre and librem it
# depends on, everything those depend on, and libgcc-s1 (the armhf module
# takes libgcc's helpers from it). In SUITE's minbase overlay, with ARCH added.
SYSROOT_APT='
	dpkg --add-architecture "$1"
	apt-get update -q >&2
	lib=$(apt-cache depends "baresip-core:$1" |
	      sed -n "s/^ *Depends: \(libre[m]\{0,1\}[0-9][a-z0-9]*\)\(:$1\)\{0,1\}$/\1:$1/p")
	[ -n "$lib" ] || { echo "baresip-core:$1 depends on no libre" >&2; exit 1; }
	{ echo "baresip-core:$1 libgcc-s1:$1"
	  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances --no-pre-depends $lib |
		sed -n "s/^\([a-z0-9][^ <>]*:$1\)$/\1/p"; } | tr " " "\n" | sort -u >"$2/list"
	cd "$2" && apt-get download $(cat list) >&2'

make_sysroot() {
	arch=$KIND
	dl=$(mktemp -d /tmp/sfo-sysroot.XXXXXX)
	chmod 755 "$dl"	# apt downloads as _apt
	trap 'rm -rf "$dl"' EXIT
	say "apt-get download of $SUITE's baresip-core:$arch and its libraries (log $LOG)"
	(cd /tmp && "$SELF" run "$SUITE" minbase sh -ec "$SYSROOT_APT" sh "$arch" "$dl") \
		>>"$LOG" 2>&1 ||
		die_log "apt-get download of baresip-core:$arch failed"
	fresh
	for d in "$dl"/*.deb; do
		dpkg-deb -x "$d" "$ROOT" || die "dpkg-deb -x $d failed"
	done
	# merged /usr (the loader is /lib/ld-linux-*; bookworm's packages
	# still put files in /lib)
	for d in bin sbin lib; do
		if [ -d "$ROOT/$d" ] && [ ! -L "$ROOT/$d" ]; then
			mkdir -p "$ROOT/usr/$d"
			cp -a "$ROOT/$d/." "$ROOT/usr/$d/"
			rm -rf "$ROOT/${d:?}"
		fi
		ln -sfn "usr/$d" "$ROOT/$d"
	done
	# the guest's loader reads /etc/ld.so.cache: an empty one here, or
	# qemu hands it the host's, which points at the host's arm libraries
	mkdir -p "$ROOT/etc"
	: >"$ROOT/etc/ld.so.cache"
	for d in "$dl"/*.deb; do	# what is in it: "PACKAGE VERSION" lines
		echo "$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)"
	done >"$ROOT/.srvfailover-packages"
	# every library baresip needs is in here: none may come from the host
	case $arch in arm64) t=aarch64-linux-gnu ;; *) t=arm-linux-gnueabihf ;; esac
	[ -x "$ROOT/usr/bin/baresip" ] || die "no usr/bin/baresip in the sysroot"
	todo=$ROOT/usr/bin/baresip seen=" "
	while [ -n "$todo" ]; do
		set -- $todo
		f=$1
		shift
		todo=$*
		for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $n "*) continue ;; esac
			seen="$seen$n "
			l=$ROOT/usr/lib/$t/$n
			[ -e "$l" ] || l=$ROOT/usr/lib/$n
			[ -e "$l" ] || die "baresip needs $n, not in the sysroot"
			todo="$todo $l"
		done
	done
	say "baresip-core:$arch and$(echo "$seen" | sed "s/ $//")"
}

prepare() {	# prepare: complete, or made now (SUITE KIND ROOT LOG)
	mkdir -p "$CACHE"
	case $KIND in
	minbase) want="$SUITE minbase" ;;
	test) want="$SUITE test $TEST_PKGS" ;;
	build) want="$SUITE build $BUILD_PKGS" ;;
	*) want="$SUITE $KIND sysroot" ;;
	esac
	[ "$(cat "$ROOT/.srvfailover-stamp" 2>/dev/null)" = "$want" ] && return
	exec 9>"$ROOT.lock"	# one builder at a time; the others wait, then reuse
	flock -n 9 || { say "waiting for another run to prepare $ROOT"; flock 9; }
	if [ "$(cat "$ROOT/.srvfailover-stamp" 2>/dev/null)" != "$want" ]; then
		: >"$LOG"
		case $KIND in
		minbase) make_minbase ;;
		*)	(KIND=minbase ROOT=$CACHE/$SUITE-minbase \
			 LOG=$CACHE/$SUITE-minbase.log prepare)
			case $KIND in
			test) make_system "$TEST_PKGS" ;;
			build) make_system "$BUILD_PKGS" arm64 armhf ;;
			*) make_sysroot ;;
			esac ;;
		esac
		echo "$want" >"$ROOT/.srvfailover-stamp"
		say "ready: $ROOT"
	fi
	exec 9>&-
}

# The systems of the two scripts this one replaces (test/trixie/root.sh,
# test/pkg/root.sh) are taken over once instead of being made again: as
# hard-linked copies (seconds, no space), the old ones left to whoever
# still has them open (rm -rf them when nothing runs there)
migrate() {
	[ -z "${SFO_DEBIAN_CACHE:-}" ] || return 0
	old=/var/cache/srvfailover
	[ -d "$old/pkg" ] || [ -d "$old/trixie" ] || return 0
	exec 8>"$old/.migrate.lock"
	flock 8
	if [ -d "$old/pkg" ] && [ ! -e "$CACHE" ]; then
		cp -al "$old/pkg" "$CACHE.new"
		for r in "$CACHE.new"/*-minbase "$CACHE.new"/*-build; do
			[ ! -d "$r" ] || : >"$r/.srvfailover-root"
		done
		mv -T "$CACHE.new" "$CACHE"
		echo "srvfailover: $old/pkg taken over as $CACHE" >&2
	fi
	if [ -d "$old/trixie" ] && [ ! -e "$CACHE/trixie-test" ] &&
	   [ "$(cat "$old/trixie/.srvfailover-stamp" 2>/dev/null)" = "$TEST_PKGS" ]; then
		mkdir -p "$CACHE"
		rm -rf --one-file-system "$CACHE/trixie-test.new"
		cp -al "$old/trixie" "$CACHE/trixie-test.new"
		rm "$CACHE/trixie-test.new/.srvfailover-stamp"	# a new file, not a link
		echo "trixie test $TEST_PKGS" >"$CACHE/trixie-test.new/.srvfailover-stamp"
		mv -T "$CACHE/trixie-test.new" "$CACHE/trixie-test"
		echo "srvfailover: $old/trixie taken over as $CACHE/trixie-test" >&2
	fi
	exec 8>&-
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

usage() {
	echo "usage: $0 prepare|path SUITE KIND | enter|run SUITE KIND CMD [ARGS...]" >&2
	echo "       SUITE: bookworm trixie; KIND: minbase test build arm64 armhf" >&2
	exit 2
}
case ${1:-} in enter | run) min=4 ;; *) min=3 ;; esac
[ $# -ge $min ] || usage
cmd=$1 SUITE=$2 KIND=$3
shift 3
case $SUITE in bookworm | trixie) ;; *) usage ;; esac
case $KIND in minbase | test | build | arm64 | armhf) ;; *) usage ;; esac
ROOT=$CACHE/$SUITE-$KIND
LOG=$ROOT.log
case $cmd in
path) echo "$ROOT" ;;
prepare | enter | run)
	[ "$(id -u)" = 0 ] || exec sudo env ${SFO_DEBIAN_CACHE:+SFO_DEBIAN_CACHE="$CACHE"} \
		"$0" "$cmd" "$SUITE" "$KIND" "$@"
	migrate
	prepare
	if [ "$cmd" = prepare ]; then echo "$ROOT"; exit; fi
	case $KIND in arm64 | armhf) die "a sysroot is for qemu-user -L: prepare or path" ;; esac
	if [ "$cmd" = run ]; then
		set -- sh -c 'exec chroot "$SFO_ROOT" env --chdir="$0" "$@"' \
			"$PWD" "$@"
	fi
	if [ "$KIND" = minbase ]; then
		overlay "$@"
	else
		ns "$ROOT" "$TOP" env SFO_ROOT="$ROOT" "$@"
	fi
	;;
*) usage ;;
esac
