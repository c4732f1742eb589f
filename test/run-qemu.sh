#!/bin/sh
# Runs cross-built cmocka unit tests under qemu-user and prints their
# results, then one line "N passed, N failed" over all of them.
#
#   test/run-qemu.sh arm64 build-arm64/unit/test_* armhf build-armhf/unit/test_*
#
# An argument that names an architecture (arm64, armhf) applies to the
# test binaries after it. No binfmt is needed: every binary is started as
# "qemu-<cpu>-static -L <prefix> binary".
#
# The prefix: the tests link against the multiarch libre0, libcmocka0 and
# so libc6 of that architecture (/usr/lib/<triplet>), whose loader is
# /lib/ld-linux-*.so.*: with "-L /" loader and libc come from the same
# glibc build. Only when that loader is missing is the cross compiler's C
# library in /usr/<triplet> used (override: QEMU_LD_PREFIX).
set -u
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

qemu=""
arch=""
prefix=""
use_arch() {
	arch=$1
	case $arch in
	arm64) qemu="qemu-aarch64-static"; triplet=aarch64-linux-gnu
	       loader=/lib/ld-linux-aarch64.so.1 ;;
	armhf) qemu="qemu-arm-static"; triplet=arm-linux-gnueabihf
	       loader=/lib/ld-linux-armhf.so.3 ;;
	esac
	if [ -n "${QEMU_LD_PREFIX:-}" ]; then
		prefix=$QEMU_LD_PREFIX
	elif [ -e "$loader" ]; then
		prefix=/
	else
		prefix=/usr/$triplet
	fi
	if ! command -v "$qemu" >/dev/null; then
		echo "FAIL $arch: $qemu not found (make cross-deps)"
		qemu=""
	else
		echo "== $arch: $qemu -L $prefix"
	fi
}

for t in "$@"; do
	case $t in
	arm64|armhf) use_arch "$t"; continue ;;
	esac
	name="$arch $(basename "$t")"
	if [ -z "$arch" ] || [ -z "$qemu" ] || [ ! -x "$t" ]; then
		echo "FAIL $name: cannot run ($t)"
		fail=$((fail + 1))
		continue
	fi
	"$qemu" -L "$prefix" "$t" >"$log" 2>&1
	rc=$?
	# the cmocka results, as they are
	sed 's/^/  /' "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s),.*/\1/p' "$log")
	if [ -z "$p" ] && [ -z "$f" ]; then
		echo "FAIL $name: crashed (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	echo "unit $name: ${p:-0} passed, ${f:-0} failed"
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
