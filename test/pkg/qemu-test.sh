#!/bin/sh
# "A && ok ... || bad ...": ok always succeeds
# (SC2016: the namespace's script is single-quoted on purpose)
# shellcheck disable=SC2015,SC2016
# The arm64 and armhf .debs, each run in Debian's own baresip of its suite
# and architecture under qemu-user, the way a Raspberry Pi runs it:
#
#   - the suite's baresip-core of that architecture and the libraries it
#     runs with, unpacked into a sysroot (test/debian/root.sh prepare
#     SUITE ARCH: merged /usr and an empty etc/ld.so.cache, so that
#     nothing comes from the host's own arm libraries);
#   - the .deb unpacked (dpkg-deb -x); its /etc/baresip-srvfailover/config
#     as shipped, less the sound card and the codecs whose libraries the
#     sysroot lacks; its srvfailover.so; three servers written into its
#     srvfailover file as contrib/raspberry-pi.md has the owner write them;
#   - qemu-aarch64-static / qemu-arm-static -L SYSROOT SYSROOT/usr/bin/baresip
#     -f CONFDIR in a private network namespace (test/pkg/lab-net.sh: lo,
#     and eth0 192.0.2.10/24 as a Pi's LAN address) beside three
#     kamailio of contrib/lab/kamailio.cfg on 127.0.0.2-4:5070: it
#     registers with the first; the first killed, it fails over to the
#     second (json working 2), states read with the package's
#     srvfailover-ctl through ctrl_tcp.
#
# armhf runs on qemu's default CPU (a Cortex-A): Debian's armhf baresip,
# libc and libre are ARMv7 and die under -cpu arm1176 (ARMv6) before the
# module is loaded; the module's ARMv6 build is checked by its ARM
# attributes (test/deb-test.sh).
#
#   test/pkg/qemu-test.sh DEB...     (root, or via sudo; each run < 60 s)
# Ends with one line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 DEB..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
pass=0
fail=0
work=$(mktemp -d /tmp/sfo-qemu.XXXXXX)
trap 'rm -rf "$work"' EXIT

ok()  { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
show() { sed 's/^/     | /' "$@"; }

# run_arm NAME QEMU SYSROOT CONFDIR CTL: baresip under qemu beside three
# kamailio in a private network namespace; registration, then failover.
# Exit 1: no registration, 2: no failover, 124: out of time.
run_arm() {
	SFO_TOP=$top SFO_D=$work/$1 SFO_QEMU=$2 SFO_SYSROOT=$3 SFO_CONF=$4 \
	SFO_CTL=$5 nice -n 10 timeout 60 unshare -n \
	"$top/test/pkg/lab-net.sh" "$work/$1" sh -c '
		d=$SFO_D
		"$SFO_QEMU" -L "$SFO_SYSROOT" "$SFO_SYSROOT/usr/bin/baresip" \
			-f "$SFO_CONF" >"$d/baresip.log" 2>&1 </dev/null &
		bpid=$!
		w="$SFO_TOP/test/pkg/wait_state.py"
		rc=0
		if ! "$w" 35 working 1 1 Registered 2 Reachable 3 Reachable -- \
			$SFO_CTL json >"$d/reg" 2>&1; then
			rc=1
		else
			cp "/proc/$bpid/maps" "$d/maps"	# the files qemu mapped
			kill "$k1"
			"$w" 20 working 2 1 Unreachable 2 Registered -- \
				$SFO_CTL json >"$d/fo" 2>&1 || rc=2
			$SFO_CTL status >"$d/status" 2>&1
		fi
		kill "$bpid" 2>/dev/null; sleep 1; kill -9 "$bpid" 2>/dev/null
		wait "$bpid"
		exit $rc'
}

for deb; do
	name=$(basename "$deb")
	arch=$(dpkg-deb -f "$deb" Architecture 2>/dev/null)
	version=$(dpkg-deb -f "$deb" Version 2>/dev/null)
	suite=${version##*~}
	case $arch in
	arm64) qemu="qemu-aarch64-static" ;;
	armhf) qemu="qemu-arm-static" ;;
	*) bad "$name: not an arm .deb ('$arch')"; continue ;;
	esac
	case $suite in bookworm | trixie) ;; *)
		bad "$name: Version $version: no ~bookworm or ~trixie"; continue ;;
	esac
	command -v "$qemu" >/dev/null ||
		{ bad "$name: $qemu not found (make cross-deps)"; continue; }
	d=$work/$suite-$arch
	mkdir -p "$d/conf/modules"
	if ! sysroot=$(nice -n 10 "$top/test/debian/root.sh" prepare "$suite" "$arch" 2>"$d/prep"); then
		bad "$name: no sysroot of $suite's baresip-core:$arch"
		show "$d/prep"
		continue
	fi
	bv=$(sed -n 's/^baresip-core //p' "$sysroot/.srvfailover-packages")
	dpkg-deb -x "$deb" "$d/x" || { bad "$name: dpkg-deb -x"; continue; }

	# the shipped config: modules from here, no sound card or codec
	# libraries (not in the sysroot); the shipped servers file, edited
	sed -e "s|^module_path[[:space:]].*|module_path	$d/conf/modules|" \
	    -e '/^audio_\|alsa\|opus\|g722/d' \
	    "$d/x/etc/baresip-srvfailover/config" >"$d/conf/config"
	awk '$1 == "module" || $1 == "module_app" { print $2 }' "$d/conf/config" |
	while read -r m; do
		[ "$m" = srvfailover.so ] && continue
		ln -s "$sysroot/usr/lib/baresip/modules/$m" "$d/conf/modules/$m"
	done
	ln -s "$d/x/usr/lib/baresip/modules/srvfailover.so" "$d/conf/modules/"
	{ grep '^#' "$d/x/etc/baresip-srvfailover/srvfailover"
	  cat <<CFG
<sip:100@127.0.0.2:5070>;auth_pass=secret;regint=600;sfo_mode=cisco;sfo_probe_interval=2;sfo_failback=probes:3
<sip:100@127.0.0.3:5070>;auth_pass=secret;regint=600
<sip:100@127.0.0.4:5070>;auth_pass=secret;regint=600
CFG
	} >"$d/conf/srvfailover"

	echo "== $suite $arch: $qemu -L $sysroot baresip-core $bv, $name"
	start=$(date +%s)
	run_arm "$suite-$arch" "$qemu" "$sysroot" "$d/conf" \
		"python3 $d/x/usr/bin/srvfailover-ctl"
	rc=$?
	took=$(($(date +%s) - start))
	head -n 1 "$d/baresip.log" | grep -q "^baresip v${bv%%-*} " &&
		ok "$suite $arch: Debian's own baresip $bv started under $qemu ($(head -n 1 "$d/baresip.log" | cut -d' ' -f1-2))" ||
		{ bad "$suite $arch: baresip did not start as $bv"; show "$d/baresip.log"; continue; }
	grep -q '^srvfailover: 1 line' "$d/baresip.log" &&
		ok "$suite $arch: the .deb's module loaded (1 line)" ||
		bad "$suite $arch: the .deb's module did not load its file"
	[ $rc -ne 1 ] && [ -s "$d/reg" ] && grep -q 'working 1' "$d/reg" &&
		ok "$suite $arch: registered with kamailio 1 ($(cat "$d/reg"))" ||
		{ bad "$suite $arch: no registration with kamailio 1 (exit $rc): $(cat "$d/reg" 2>/dev/null)"
		  show "$d/baresip.log"; continue; }
	# the sysroot trap: a library from the host's own arm packages
	awk '$6 ~ /\.so/ { print $6 }' "$d/maps" | sort -u >"$d/libs"
	grep -v "^$sysroot/\|^$d/" "$d/libs" >"$d/foreign"
	[ -s "$d/libs" ] && [ ! -s "$d/foreign" ] &&
		ok "$suite $arch: every library from the sysroot or the .deb ($(sed 's|.*/||' "$d/libs" | paste -sd' '))" ||
		{ bad "$suite $arch: libraries from elsewhere:"; show "$d/foreign"; }
	[ $rc -eq 0 ] &&
		ok "$suite $arch: kamailio 1 killed: failed over to kamailio 2 ($(cat "$d/fo")) in a run of ${took}s" ||
		{ bad "$suite $arch: no failover (exit $rc, ${took}s): $(cat "$d/fo" 2>/dev/null)"
		  show "$d/baresip.log"; }
	[ -s "$d/status" ] && show "$d/status"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
