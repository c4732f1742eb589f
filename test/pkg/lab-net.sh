#!/bin/sh
# The lab of the package tests, run as the first thing in a new network
# namespace (unshare -n test/pkg/lab-net.sh DIR CMD...): lo up, and eth0
# 192.0.2.10/24 (a veth, default route via 192.0.2.1) as a Pi's LAN
# address (baresip wants one besides lo); three kamailio of
# contrib/lab/kamailio.cfg on 127.0.0.2, .3 and .4, port 5070 (their
# files in DIR/kam-ADDR/). Then CMD, with k1 k2 k3 their pids in its
# environment; then the kamailio stopped. Its status is CMD's.
#
#   test/pkg/lab-net.sh DIR CMD [ARG...]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
[ $# -ge 2 ] || { echo "usage: $0 DIR CMD [ARG...]" >&2; exit 2; }
dir=$1
shift
ip link set lo up
ip link add eth0 type veth peer name eth0peer
ip addr add 192.0.2.10/24 dev eth0
ip link set eth0 up
ip link set eth0peer up
ip route add default via 192.0.2.1 dev eth0
kam() {
	d=$dir/kam-$1
	mkdir -p "$d"
	kamailio -DD -E -f "$top/contrib/lab/kamailio.cfg" \
		-Y "$d" -P "$d/pid" -m 32 -M 4 -A "LADDR=$1" \
		-A LPORT=5070 -A "CTLSOCK=\"unix:$d/ctl\"" \
		-A "CALLEE=\"sip:127.0.0.99:5060\"" >"$d/log" 2>&1 &
	echo $!
}
k1=$(kam 127.0.0.2) k2=$(kam 127.0.0.3) k3=$(kam 127.0.0.4)
export k1 k2 k3
"$@"
rc=$?
kill "$k1" "$k2" "$k3" 2>/dev/null
wait
exit $rc
