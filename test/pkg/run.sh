#!/bin/sh
# make deb-test: every check of the six .debs, with one line
# "N passed, N failed" at the end over all of them.
#
#   1. test/deb-test.sh: fields, Depends, contents, ARMv6 attributes of the
#      armhf modules; this machine's .deb loaded into its baresip
#   2. lintian of each suite's .debs by that suite's lintian (this
#      machine's, or the one in test/debian/root.sh's build system): no error
#   3. systemd-analyze security --offline of the unit, by bookworm's and
#      trixie's systemd: exposure at most 3.0
#   4. test/pkg/install-test.sh: each suite's amd64 .deb in a clean system
#      of that suite (apt, user, registration, failover, upgrade from a
#      signed repository, remove, purge)
#   4b. test/pkg/qemu-test.sh: each suite's arm64 and armhf .debs unpacked
#      and run in Debian's own baresip of that suite and architecture
#      under qemu-user (registration, failover)
#   5. test/pkg/repo.sh: the repository of all six (what make repo makes)
#
#   test/pkg/run.sh DEB...   (the six; mk/deb.mk passes them)
# (SC2046, SC2086: lists split on purpose; SC1091: a host file; SC2015: ok never fails)
# shellcheck disable=SC2046,SC2086,SC1091,SC2015
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

ok()  { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
add() {  # the last "N passed, N failed" of $log
	set -- $(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 |
		awk '{print $1, $3}') 0 1
	pass=$((pass + $1))
	fail=$((fail + $2))
}
debs_of() {  # debs_of SUITE [ARCH]: the given .debs of a suite
	for d in $all; do
		case $d in *"~$1_${2:-}"*) echo "$d" ;; esac
	done
}
here=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
all="$*"

# 1. the .deb of this machine first: the one test/deb-test.sh loads
host=$(debs_of "$here" "$(dpkg --print-architecture)")
echo "== test/deb-test.sh"
# shellcheck disable=SC2046
test/deb-test.sh $host $(for d in $all; do [ "$d" = "$host" ] || echo "$d"; done) \
	>"$log" 2>&1
grep -v '^ok' "$log"
add

# 2. lintian, 3. systemd-analyze: this machine's or the suite's build system
in_suite() {  # in_suite SUITE CMD...: CMD with that suite's tools
	if [ "$1" = "$here" ]; then
		shift
		"$@"
	else
		s=$1
		shift
		test/debian/root.sh run "$s" build "$@"
	fi
}
command -v lintian >/dev/null || {
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get install -y -q --no-install-recommends lintian >/dev/null 2>&1
}
unit=contrib/systemd/baresip-srvfailover.service
for s in bookworm trixie; do
	echo "== $s: lintian, systemd-analyze security"
	# shellcheck disable=SC2046
	in_suite "$s" lintian --pedantic -I $(debs_of "$s") >"$log" 2>&1
	grep -v '^running with root' "$log" | sort | uniq -c | sed 's/^/     /'
	if grep -q '^E: ' "$log"; then
		bad "$s: lintian errors"
	elif [ -z "$(debs_of "$s")" ]; then
		bad "$s: no .deb"
	else
		ok "$s: lintian: no error on $(debs_of "$s" | wc -l) .debs" \
		   "($(grep -c '^W: ' "$log") warnings, $(grep -c '^I: ' "$log") infos)"
	fi
	in_suite "$s" systemd-analyze security --offline=yes "$unit" >"$log" 2>&1
	e=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$log")
	sv=$(in_suite "$s" systemd-analyze --version 2>/dev/null | head -n 1)
	if [ -n "$e" ] && awk -v e="$e" 'BEGIN { exit !(e <= 3.0) }'; then
		ok "$s: systemd-analyze security: exposure $e (<= 3.0; $sv)"
	else
		bad "$s: systemd-analyze security: exposure '${e:-?}' ($sv)"
		grep '✗' "$log" | sed 's/^/     /'
	fi
done

# 4. installation in clean systems
for s in bookworm trixie; do
	d=$(debs_of "$s" amd64)
	echo "== $s: test/pkg/install-test.sh $d"
	if [ -z "$d" ]; then bad "$s: no amd64 .deb"; continue; fi
	test/pkg/install-test.sh "$s" "$d" >"$log" 2>&1
	grep -v '^ok\|^     |   ' "$log"
	add
done

# 4b. the arm .debs in Debian's own arm baresip under qemu-user
arm=$(for s in bookworm trixie; do debs_of "$s" arm64; debs_of "$s" armhf; done)
echo "== test/pkg/qemu-test.sh (the arm .debs under qemu-user)"
if [ -z "$arm" ]; then
	bad "no arm64 or armhf .deb"
else
	test/pkg/qemu-test.sh $arm >"$log" 2>&1
	grep -v '^ok\|^     |   ' "$log"
	add
fi

# 5. the repository of the six
echo "== test/pkg/repo.sh"
repo=$(mktemp -d)
# shellcheck disable=SC2086
if test/pkg/repo.sh "$repo" $all >"$log" 2>&1; then
	for s in bookworm trixie; do
		for a in amd64 arm64 armhf; do
			p=$repo/dists/$s/main/binary-$a/Packages
			v=$(sed -n 's/^Version: //p' "$p" 2>/dev/null)
			case $v in
			*"~$s") ok "repo: $s $a: srvfailover $v" ;;
			*) bad "repo: $s $a: '$v'" ;;
			esac
		done
		grep -q '^Codename: '"$s" "$repo/dists/$s/Release" &&
			ok "repo: $s Release" || bad "repo: $s Release"
	done
else
	bad "repo.sh failed"
	cat "$log"
fi
rm -rf "$repo"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
