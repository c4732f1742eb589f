#!/bin/sh
# A live demo of srvfailover (`make demo`):
#
#   contrib/demo/demo.sh /abs/path/srvfailover.so
#
# In a private network namespace: three kamailio servers (127.0.0.2, .3,
# .4) and baresip with the module in cisco mode. Shows the status table and
# every `srvfailover:` line as it happens, stops the main server, waits
# for the switch, starts it again, waits for the fail-back, and cleans up.
# About 30 s; it never touches the network outside the namespace.
set -e
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
module=${1:-$top/srvfailover.so}
case $module in /*) ;; *) module=$(pwd)/$module ;; esac
if [ ! -f "$module" ]; then
	echo "demo: no module at $module (run make first)" >&2
	exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (unshare -n)" >&2
	exit 2
fi
"$top/test/e2e/deps.sh"
PYTHONDONTWRITEBYTECODE=1 exec unshare -n /usr/bin/python3 \
	"$here/demo.py" "$module"
