#!/bin/sh
# Installs what `make asan` and `make fuzz` need from Debian's archive
# (bookworm): gcc's ASan/UBSan runtimes, clang with libFuzzer and its
# sanitizer runtimes (libclang-rt-N-dev, N = clang's major version: 14 on
# bookworm), cmocka, libre. Idempotent: returns at once when all is there.
# Usage: test/fuzz/deps.sh    (as root, or with sudo available)
set -e

have() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

install() {
	[ -z "$1" ] && return 0
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	echo "fuzz/sanitizers: installing$1"
	# shellcheck disable=SC2086
	if ! $SUDO apt-get install -y -q --no-install-recommends $1 \
		>/dev/null 2>&1; then
		$SUDO apt-get update -q >/dev/null
		$SUDO apt-get install -y -q --no-install-recommends $1 >/dev/null
	fi
}

missing=""
for p in gcc make pkg-config libre-dev libcmocka-dev libasan8 libubsan1 \
	clang; do
	have "$p" || missing="$missing $p"
done
install "$missing"

# libFuzzer and clang's sanitizer runtimes come with the clang version
v=$(clang --version 2>/dev/null |
	sed -n 's/.*clang version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
[ -n "$v" ] || { echo "fuzz: clang not found" >&2; exit 1; }
have "libclang-rt-$v-dev" || install " libclang-rt-$v-dev"
exit 0
