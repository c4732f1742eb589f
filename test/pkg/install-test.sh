#!/bin/sh
# "A && ok ... || bad ...": ok always succeeds
# (SC2016: for dpkg-query and the inner sh; SC2012: two fixed names)
# shellcheck disable=SC2015,SC2016,SC2012
# A suite's amd64 .deb installed the way a Pi owner does it, into a clean
# Debian system of that suite (a throwaway overlay on test/debian/root.sh's
# debootstrap'd minbase, so every run starts clean):
#
#   - apt-get install ./srvfailover_..._amd64.deb pulls baresip-core,
#     libre, python3, adduser from Debian's archive;
#   - the package made the system user baresip (in group audio), the
#     configuration in /etc/baresip-srvfailover (conffiles, root:baresip,
#     0750/0640), enabled the service and asked systemd to start it (a
#     recording systemctl stands in for systemd, which does not run here);
#   - baresip started as the unit starts it (its User, Group,
#     SupplementaryGroups, UMask and ExecStart, the system read-only and
#     /tmp private like ProtectSystem=strict, PrivateTmp) in a private
#     network namespace: the shipped configuration registers nowhere and
#     serves the web page; with three servers written into it, as
#     contrib/raspberry-pi.md says, it registers with the first of three
#     kamailio of contrib/lab/kamailio.cfg and fails over to the second
#     when the first is stopped; srvfailover-ctl (the package's, with the
#     system's python3) reads the states;
#   - an upgrade (apt-get upgrade from a signed repository of
#     test/pkg/repo.sh) restarts the service and keeps the edited
#     configuration;
#     remove stops it; purge leaves nothing: no user, no /etc files, no
#     state, the file list of the system as before the installation.
#
#   test/pkg/install-test.sh SUITE DEB          (root, or via sudo)
# Ends with one line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
if [ "${1:-}" != --in-root ]; then
	[ $# -eq 2 ] || { echo "usage: $0 SUITE DEB" >&2; exit 2; }
	deb=$(realpath "$2")
	exec nice -n 10 "$top/test/debian/root.sh" enter "$1" minbase \
		"$top/test/pkg/install-test.sh" --in-root "$1" "$deb"
fi
suite=$2 deb=$3
R=$SFO_ROOT
pass=0
fail=0
work=$(mktemp -d /tmp/sfo-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work/log

ok()  { echo "ok   $suite: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $suite: $*"; fail=$((fail + 1)); }
show() { sed 's/^/     | /' "$@"; }
# ch CMD...: CMD in the system, as root, with a plain environment
ch() {
	chroot "$R" env -i HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
check() {  # check "what" CMD...: ok when CMD succeeds, else its output
	what=$1
	shift
	if "$@" >"$log" 2>&1; then ok "$what"; else bad "$what"; show "$log"; fi
}
done_() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# apt's downloads are kept for the next run
debs=${SFO_DEBIAN_CACHE:-/var/cache/srvfailover/debian}/$suite-debs
mkdir -p "$debs/partial"
mount --bind "$debs" "$R/var/cache/apt/archives"
cp "$deb" "$R/root/"

# systemd does not run here: a systemctl that records what it is asked
# (in apt's PATH for dpkg, DPkg::Path, where systemd has none), and
# /run/systemd/system so that the maintainer scripts ask it
mkdir -p "$R/run/systemd/system"
fake=$R/usr/sbin/systemctl
[ ! -e "$fake" ] || { echo "FAIL $suite: $fake exists"; exit 1; }
cat >"$fake" <<'SH'
#!/bin/sh
echo "$*" >>/var/log/systemctl.test
for u; do :; done
case " $* " in
*" --version "*) echo "systemd 252 (252)" ;;
*" is-enabled "*)
	if [ -e "/etc/systemd/system/multi-user.target.wants/$u" ]; then
		echo enabled
	else
		echo disabled; exit 1
	fi ;;
*" is-active "*) exit 3 ;;
esac
exit 0
SH
chmod 755 "$fake"
asked() {  # asked VERB: did a maintainer script ask systemctl VERB the unit?
	grep -q "$1 baresip-srvfailover.service" "$R/var/log/systemctl.test" 2>/dev/null
}

# the system's files before: purge must come back to this list
listing() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp \
		-o -path ./run -o -path ./var/cache -o -path ./var/log \
		-o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./root \
		-o -path ./usr/sbin/systemctl -o -name '*-' \
		-o -path "./${top#/}" \) -prune -o -print | LC_ALL=C sort)
}

echo "== $suite: apt-get install ./$(basename "$deb") (log in case of failure)"
check "apt-get update" ch apt-get update -q
listing >"$work/before"
check "apt-get install ./$(basename "$deb") (Depends from Debian's $suite)" \
	ch apt-get install -y -q --no-install-recommends "/root/$(basename "$deb")"
ch dpkg-query -W -f='${Status} ${Version}\n' srvfailover baresip-core >"$log" 2>&1
grep -q '^install ok installed .*~'"$suite"'$' "$log" &&
	ok "srvfailover installed: $(head -n 1 "$log")" ||
	{ bad "srvfailover not installed"; show "$log"; done_; }
ok "baresip-core $(sed -n '2s/.* //p' "$log") came with it"

# --- what postinst did -------------------------------------------------
pw=$(ch getent passwd baresip)
uid=$(echo "$pw" | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && ok "system user baresip (uid $uid)" ||
	bad "no system user baresip ('$pw')"
ch id -nG baresip | tr ' ' '\n' | grep -qx audio &&
	ok "baresip is in group audio" || bad "baresip not in group audio"
bgid=$(ch getent group baresip | cut -d: -f3)
[ -n "$bgid" ] && ok "group baresip ($bgid)" || bad "no group baresip"
for f in /etc/baresip-srvfailover:750 /etc/baresip-srvfailover/config:640 \
	 /etc/baresip-srvfailover/srvfailover:640; do
	p=${f%:*} m=${f##*:}
	got=$(stat -c '%a %u:%g' "$R$p" 2>&1)
	[ "$got" = "$m 0:$bgid" ] && ok "$p $m root:baresip" ||
		bad "$p: $got (want $m 0:$bgid, root:baresip)"
done
ch dpkg-query -W -f='${Conffiles}\n' srvfailover >"$log"
grep -q ' /etc/baresip-srvfailover/config ' "$log" &&
grep -q ' /etc/baresip-srvfailover/srvfailover ' "$log" &&
	ok "both files in /etc are conffiles" || { bad "conffiles"; show "$log"; }
[ -L "$R/etc/systemd/system/multi-user.target.wants/baresip-srvfailover.service" ] &&
	ok "service enabled (multi-user.target.wants)" || bad "service not enabled"
asked start && ok "postinst started the service" ||
	{ bad "postinst did not start the service"; show "$R/var/log/systemctl.test"; }
ch srvfailover-ctl status >"$log" 2>&1
[ $? -eq 2 ] && grep -q '127.0.0.1:4444' "$log" &&
	ok "srvfailover-ctl runs with the system's python3 (no baresip yet: exit 2)" ||
	{ bad "srvfailover-ctl"; show "$log"; }

# --- baresip as the unit runs it ---------------------------------------
unit=$(ls "$R"/lib/systemd/system/baresip-srvfailover.service \
	"$R"/usr/lib/systemd/system/baresip-srvfailover.service 2>/dev/null | head -n 1)
key() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
user=$(key User) group=$(key Group) sgroups=$(key SupplementaryGroups)
exec_start=$(key ExecStart) umask=$(key UMask)
gids=$(for g in $sgroups; do ch getent group "$g" | cut -d: -f3; done | paste -sd,)
echo "== $suite: ${unit#"$R"}: User=$user Group=$group SupplementaryGroups=$sgroups UMask=$umask"
echo "   ExecStart=$exec_start"

# run_phone NAME SECONDS_MAX SCRIPT: baresip as the unit starts it, in a
# private network and mount namespace (test/pkg/lab-net.sh: eth0
# 192.0.2.10/24 and lo; the system read-only, a private /tmp), beside
# three kamailio on 127.0.0.2-4:5070; SCRIPT runs
# meanwhile (sh, with $bpid, $k1 $k2 $k3 the kamailio pids); its status is
# run_phone's. baresip's output: $work/NAME.log
run_phone() {
	SFO_R=$R SFO_WORK=$work SFO_TOP=$top SFO_EXEC=$exec_start \
	SFO_USER=$user SFO_GROUP=$group SFO_GIDS=$gids SFO_UMASK=${umask:-0022} \
	SFO_NAME=$1 timeout "$2" unshare -m -n --propagation private \
	"$top/test/pkg/lab-net.sh" "$work" sh -c '
		R=$SFO_R work=$SFO_WORK
		mount --rbind "$R" "$R"
		mount -o remount,bind,ro "$R"
		mount -t tmpfs tmpfs "$R/tmp"
		mount -t tmpfs tmpfs "$R/var/tmp"
		sleep 1
		(umask "$SFO_UMASK"
		 exec chroot "$R" setpriv --reuid="$SFO_USER" --regid="$SFO_GROUP" \
			--groups="$SFO_GIDS" -- env -i PATH=/usr/bin:/bin \
			$SFO_EXEC) >"$work/$SFO_NAME.log" 2>&1 </dev/null &
		bpid=$!
		export bpid
		sh -c "$0"
		rc=$?
		kill "$bpid" 2>/dev/null; sleep 1; kill -9 "$bpid" 2>/dev/null
		wait "$bpid"
		exit $rc' "$3"
}
ctl="chroot $R /usr/bin/srvfailover-ctl"

# 1. as shipped: no line, nothing registered, the web page served
run_phone shipped 30 "
	i=0; until grep -q 'srvfailover: 0 lines' '$work/shipped.log'; do
		i=\$((i+1)); [ \$i -le 50 ] || exit 1; sleep 0.2; done
	$ctl json >'$work/shipped.json' &&
	chroot '$R' python3 -c 'import urllib.request as u; r = u.urlopen(\"http://127.0.0.1:8088/\", timeout=5); print(r.status, len(r.read()))' >'$work/shipped.web' 2>&1
" && ok "as shipped: baresip runs the module with 0 lines, registers nowhere" ||
	{ bad "as shipped"; show "$work/shipped.log"; }
grep -q '"lines":\[\]' "$work/shipped.json" 2>/dev/null &&
	ok "as shipped: srvfailover json shows no line" ||
	bad "as shipped: json '$(cat "$work/shipped.json" 2>/dev/null)'"
grep -q '^200 ' "$work/shipped.web" 2>/dev/null &&
	ok "as shipped: the web page answers 200 on 127.0.0.1:8088" ||
	{ bad "as shipped: web page"; show "$work/shipped.web"; }

# 2. three servers, as contrib/raspberry-pi.md has the owner write them
cat >"$R/etc/baresip-srvfailover/srvfailover" <<CFG
<sip:100@127.0.0.2:5070>;auth_pass=secret;regint=600;sfo_mode=cisco;sfo_probe_interval=2;sfo_failback=probes:3
<sip:100@127.0.0.3:5070>;auth_pass=secret;regint=600
<sip:100@127.0.0.4:5070>;auth_pass=secret;regint=600
CFG
run_phone three 90 "
	'$top/test/pkg/wait_state.py' 30 1 Registered 2 Reachable 3 Reachable -- $ctl json >'$work/reg' || exit 1
	kill \$k1
	'$top/test/pkg/wait_state.py' 30 1 Unreachable 2 Registered -- $ctl json >'$work/fo' || exit 2
	$ctl status >'$work/status'
"
rc=$?
[ $rc -ne 1 ] && [ $rc -ne 124 ] && ok "three servers: registered with kamailio 1 ($(cat "$work/reg"))" ||
	{ bad "three servers: no registration with kamailio 1 ($(cat "$work/reg" 2>/dev/null))"; show "$work/three.log"; }
[ $rc -eq 0 ] && ok "kamailio 1 stopped: failed over to kamailio 2 ($(cat "$work/fo"))" ||
	{ [ $rc -ne 2 ] || { bad "no failover ($(cat "$work/fo"))"; show "$work/three.log"; }; }
[ -s "$work/status" ] && show "$work/status"
grep -qi 'read-only file system\|permission denied' "$work/three.log" &&
	{ bad "baresip wanted to write or read something it may not"; show "$work/three.log"; } ||
	ok "baresip ran with the system read-only, as its user"

# --- upgrade, remove, purge --------------------------------------------
cp "$R/etc/baresip-srvfailover/srvfailover" "$work/edited"
# the upgrade comes from an apt repository made by test/pkg/repo.sh (as
# make repo makes it) and signed with a throwaway key, as a fleet gets it
rm -rf "$work/x"
dpkg-deb -R "$deb" "$work/x"
v1=$(dpkg-deb -f "$deb" Version)
v2=${v1%"~$suite"}+test1~$suite	# newer, and still for this suite
sed -i "s/^Version: .*/Version: $v2/" "$work/x/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -b "$work/x" "$work/srvfailover_${v2}_amd64.deb" >/dev/null
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--quick-gen-key 'srvfailover test <test@example.org>' ed25519 sign never 2>"$log" ||
	{ bad "gpg key"; show "$log"; }
key=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
[ -n "$key" ] || bad "no gpg key made"
check "repo.sh: a signed repository with $v2" \
	env REPO_KEY="$key" "$top/test/pkg/repo.sh" "$R/srv/repo" "$work/srvfailover_${v2}_amd64.deb"
echo "deb [signed-by=/srv/repo/srvfailover.gpg] file:/srv/repo $suite main" \
	>"$R/etc/apt/sources.list.d/srvfailover.list"
: >"$R/var/log/systemctl.test"
check "apt-get update (the repository's InRelease verified)" \
	sh -c "chroot '$R' apt-get update 2>&1 | tee /dev/stderr | grep -q 'srvfailover\\|/srv/repo' &&
	       ! chroot '$R' apt-get update 2>&1 | grep -qi 'not signed\\|NO_PUBKEY\\|^[WE]:'"
check "apt-get upgrade to $v2 from the repository" \
	ch apt-get upgrade -y -q
ch dpkg-query -W -f='${Version}' srvfailover | grep -qxF "$v2" &&
	ok "upgrade: srvfailover $v2 installed" ||
	bad "upgrade: srvfailover $(ch dpkg-query -W -f='${Version}' srvfailover), not $v2"
asked restart && ok "upgrade: postinst restarted the service" ||
	{ bad "upgrade: no restart"; show "$R/var/log/systemctl.test"; }
asked stop && bad "upgrade: the service was stopped before (prerm)" || true
cmp -s "$work/edited" "$R/etc/baresip-srvfailover/srvfailover" &&
	ok "upgrade: the edited servers file kept" || bad "upgrade: servers file changed"
stat -c '%a %u:%g' "$R/etc/baresip-srvfailover/srvfailover" | grep -qx "640 0:$bgid" &&
	ok "upgrade: its owner and mode kept" || bad "upgrade: owner or mode changed"

: >"$R/var/log/systemctl.test"
check "apt-get remove srvfailover" ch apt-get remove -y -q srvfailover
asked stop && ok "remove: prerm stopped the service" ||
	{ bad "remove: not stopped"; show "$R/var/log/systemctl.test"; }
[ -f "$R/etc/baresip-srvfailover/srvfailover" ] && ch getent passwd baresip >/dev/null &&
	ok "remove: configuration and user kept (until purge)" ||
	bad "remove: configuration or user gone"
check "apt-get purge srvfailover" ch apt-get purge -y -q srvfailover
[ ! -e "$R/etc/baresip-srvfailover" ] && ok "purge: /etc/baresip-srvfailover gone" ||
	bad "purge: /etc/baresip-srvfailover left: $(ls -A "$R/etc/baresip-srvfailover")"
ch getent passwd baresip >/dev/null && bad "purge: user baresip left" ||
	ok "purge: user baresip gone"
ch getent group baresip >/dev/null && bad "purge: group baresip left" ||
	ok "purge: group baresip gone"
ch dpkg-statoverride --list | grep -q baresip &&
	bad "purge: statoverrides left" || ok "purge: no statoverride left"
check "apt-get autoremove --purge (what came with it)" \
	ch apt-get autoremove --purge -y -q
rm -f "$fake" "$R/etc/apt/sources.list.d/srvfailover.list"
rm -rf "$R/srv/repo"
listing >"$work/after"
# what is new and owned by a package still installed (adduser, python3 of
# priority important, which autoremove keeps) is not a leftover
cat "$R"/var/lib/dpkg/info/*.list | sed 's|^|.|' | LC_ALL=C sort -u >"$work/owned"
# (netbase, a dependency of python3, writes /etc/hosts when there is none)
LC_ALL=C comm -13 "$work/before" "$work/after" | LC_ALL=C comm -23 - "$work/owned" |
	grep -vx './etc/hosts' >"$log"
LC_ALL=C comm -23 "$work/before" "$work/after" | sed 's/^/gone: /' >>"$log"
if [ ! -s "$log" ]; then
	ok "purge: no file left that no installed package owns, none gone"
else
	bad "purge: files left behind or gone:"
	show "$log"
fi
gpgconf --kill gpg-agent 2>/dev/null
done_
