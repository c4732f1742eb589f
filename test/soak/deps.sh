#!/bin/sh
# Installs what make valgrind-e2e and make soak need: the e2e lab
# (test/e2e/deps.sh) and valgrind. Idempotent.
set -e
here=$(cd "$(dirname "$0")" && pwd)
"$here/../e2e/deps.sh"
[ -x /usr/bin/valgrind ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "soak: installing valgrind"
if ! $SUDO apt-get install -y -q --no-install-recommends valgrind \
	>/dev/null 2>&1; then
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q --no-install-recommends valgrind >/dev/null
fi
