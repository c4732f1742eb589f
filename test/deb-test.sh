#!/bin/sh
# "A && ok ... || bad ...": ok always succeeds
# shellcheck disable=SC2015
# Checks the srvfailover .deb of this machine: its fields, dependencies and
# contents; unpacks it into a scratch root and loads the module from the
# installed path into the real /usr/bin/baresip (in a private network
# namespace, loopback only). Further .debs (the other architectures and
# suite) get the field and content checks; armhf ones the ARMv6 check of
# the module's ARM attributes. Ends with one line "N passed, N failed".
# (test/pkg/run.sh runs it first, then the installation tests.)
#
#   test/deb-test.sh build-deb/srvfailover_V~bookworm_amd64.deb [build-deb/....deb ...]
set -u
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()  { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() {  # check "what" command...
	what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		ok "$what"
	else
		bad "$what"
		sed 's/^/     /' "$tmp/out"
	fi
}

MODFILE=usr/lib/baresip/modules/srvfailover.so
DOC=usr/share/doc/srvfailover
FILES="$MODFILE $DOC/README.md $DOC/raspberry-pi.md $DOC/copyright
       $DOC/docs/packaging.md $DOC/docs/figures.md $DOC/docs/faults.md
       $DOC/changelog.gz
       $DOC/examples/config.snippet $DOC/examples/srvfailover.parallel
       $DOC/examples/srvfailover.cisco $DOC/examples/srvfailover.sequential
       usr/bin/srvfailover-ctl usr/share/man/man1/srvfailover-ctl.1.gz
       etc/baresip-srvfailover/config etc/baresip-srvfailover/srvfailover"
# the unit: where each suite's systemd looks (trixie: merged /usr)
UNIT=lib/systemd/system/baresip-srvfailover.service

elf_machine() {  # the ELF machine a Debian architecture runs
	case $1 in
	amd64) echo "X86-64" ;;
	arm64) echo "AArch64" ;;
	armhf) echo "ARM" ;;
	*)     echo "?" ;;
	esac
}

# the installed version of a package of this machine's architecture (or
# of architecture all)
installed_version() {
	{ dpkg-query -W -f='${Version}\n' "$1:$(dpkg --print-architecture)" ||
	  dpkg-query -W -f='${Version}\n' "$1"; } 2>/dev/null | head -n 1
}
# dependency "name (op version)" satisfied by what is installed here?
dep_installed() {
	name=$1 op=$2 ver=$3
	have=$(installed_version "$name")
	[ -n "$have" ] || return 1
	[ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$ver"
}
deps_installed() {  # every relation of a Depends field (no alternatives)
	echo "$1" | tr ',' '\n' | while read -r rel; do
		[ -n "$rel" ] || continue
		name=${rel%% *}
		op=$(echo "$rel" | sed -n 's/.*(\([<>=]*\) *\([^)]*\)).*/\1/p')
		ver=$(echo "$rel" | sed -n 's/.*(\([<>=]*\) *\([^)]*\)).*/\2/p')
		if dep_installed "$name" "$op" "$ver"; then
			echo "  $rel: $(installed_version "$name")"
		else
			echo "  $rel: not satisfied here"
			echo x >>"$tmp/unmet"
		fi
	done
	[ ! -s "$tmp/unmet" ]
}

# Fields and contents of one .deb
check_deb() {
	deb=$1
	name=$(basename "$deb")
	if [ ! -f "$deb" ]; then
		bad "$name: no such file"
		return
	fi
	arch=$(dpkg-deb -f "$deb" Architecture)
	case $name in
	*_"$arch".deb) ok "$name: Architecture $arch" ;;
	*)             bad "$name: Architecture '$arch'" ;;
	esac
	[ "$(dpkg-deb -f "$deb" Package)" = srvfailover ] &&
		ok "$name: Package srvfailover" ||
		bad "$name: Package '$(dpkg-deb -f "$deb" Package)'"
	version=$(dpkg-deb -f "$deb" Version)
	suite=${version##*~}
	case $suite in
	bookworm) libre=libre0 bv="1.0.0), baresip-core (<< 1.1~)" unit=$UNIT ;;
	trixie)   libre=libre1 bv="1.1.0), baresip-core (<< 1.2~)" unit=usr/$UNIT ;;
	*)        bad "$name: Version $version: no ~bookworm or ~trixie"; return ;;
	esac
	case $name in
	*_"$version"_"$arch".deb) ok "$name: Version $version (Debian $suite)" ;;
	*) bad "$name: file name does not say Version $version" ;;
	esac
	depends=$(dpkg-deb -f "$deb" Depends)
	case ", $depends," in
	*", baresip-core (>= $bv,"*) ok "$name: Depends baresip-core (>= $bv" ;;
	*) bad "$name: Depends '$depends': not baresip-core (>= $bv" ;;
	esac
	for d in baresip-core $libre libc6 libmosquitto1 python3 \
		python3-paho-mqtt adduser; do
		case ", $depends" in
		*", $d "*|*", $d,"*|*", $d") ok "$name: Depends $d" ;;
		*) bad "$name: Depends '$depends' lacks $d" ;;
		esac
	done
	dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./||' >"$tmp/list"
	for f in $FILES $unit; do
		grep -qxF "$f" "$tmp/list" && ok "$name: has /$f" ||
			bad "$name: lacks /$f"
	done
	# nothing outside /usr, /lib and the config dir, owned by root
	dpkg-deb -c "$deb" | awk '{print $2, $NF}' |
		grep -Ev '^root/root \./((usr|lib|etc/baresip-srvfailover)/.*|etc/)?$' >"$tmp/odd"
	if [ -s "$tmp/odd" ]; then
		bad "$name: files not root-owned or outside /usr, /lib, /etc/baresip-srvfailover:"
		sed 's/^/     /' "$tmp/odd"
	else
		ok "$name: every file root-owned, under /usr, /lib or /etc/baresip-srvfailover"
	fi
	dpkg-deb --ctrl-tarfile "$deb" | tar -t | sed 's|^\./||' >"$tmp/ctrl"
	for f in control md5sums conffiles postinst prerm postrm; do
		grep -qxF "$f" "$tmp/ctrl" && ok "$name: DEBIAN/$f" ||
			bad "$name: no DEBIAN/$f"
	done
	rm -rf "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x"
	want=$(elf_machine "$arch")
	got=$(readelf -h "$tmp/x/$MODFILE" 2>/dev/null |
	      sed -n 's/^ *Machine: *//p')
	case $got in
	*"$want"*) ok "$name: module is an ELF for $want" ;;
	*)         bad "$name: module is for '$got', not $want" ;;
	esac
	readelf -d "$tmp/x/$MODFILE" | grep NEEDED >"$tmp/needed"
	# libre comes with baresip: no suite's libre soname in the module;
	# armhf's takes libgcc's helpers from libgcc_s (its libgcc.a is v7)
	# (the loader: the stack protector's guard is there on arm)
	allowed='libc\.so\.6|ld-linux-[a-z0-9-]*\.so\.[0-9]'
	[ "$arch" != armhf ] || allowed="$allowed|libgcc_s\.so\.1"
	if grep -q 'libc\.so\.6' "$tmp/needed" &&
	   ! grep -Ev "$allowed" "$tmp/needed" | grep -q .; then
		ok "$name: needs $(grep -o '\[.*\]' "$tmp/needed" | tr -d '[]' | paste -sd' ') only"
	else
		bad "$name: needs $(tr -s '\n' ' ' <"$tmp/needed")"
	fi
	if [ "$arch" = armhf ]; then	# Raspberry Pi 1, Zero, Zero W
		readelf -A "$tmp/x/$MODFILE" >"$tmp/attr"
		grep -q 'Tag_CPU_arch: v6$' "$tmp/attr" &&
		! grep -q 'Tag_THUMB_ISA_use: Thumb-2' "$tmp/attr" &&
			ok "$name: module is ARMv6 without Thumb-2 ($(grep -E 'Tag_CPU_arch:|Tag_FP_arch:' "$tmp/attr" | sed 's/^ *//' | paste -sd,))" ||
			{ bad "$name: module is not ARMv6:"; sed 's/^/     /' "$tmp/attr"; }
	fi
	readelf -S "$tmp/x/$MODFILE" | grep -q '\.debug_info' &&
		bad "$name: module not stripped" ||
		ok "$name: module stripped"
}

host_deb=$1
shift
check_deb "$host_deb"
for d in "$@"; do
	check_deb "$d"
done

# --- this machine's .deb: dependencies, unpack, load into baresip ------
name=$(basename "$host_deb")
depends=$(dpkg-deb -f "$host_deb" Depends 2>/dev/null)
rm -f "$tmp/unmet"
deps_installed "$depends" >"$tmp/deps"
[ ! -s "$tmp/unmet" ] && ok "$name: Depends satisfied by the installed packages" ||
	bad "$name: Depends not satisfied here"
sed 's/^/     /' "$tmp/deps"
check "$name: apt resolves its dependencies (apt-get -s install)" \
	sh -c "apt-get -s -q install '$(realpath "$host_deb")' |
	       grep -q '^Inst srvfailover '"

root=$tmp/root
mkdir -p "$root"
check "$name: dpkg -x into a scratch root" dpkg -x "$host_deb" "$root"
so=$root/$MODFILE
if ldd "$so" >"$tmp/ldd" 2>&1 && ! grep -q 'not found' "$tmp/ldd"; then
	ok "$name: installed module finds its libraries (ldd)"
else
	bad "$name: ldd:"
	sed 's/^/     /' "$tmp/ldd"
fi

# baresip: the stock modules and the installed srvfailover.so
cfg=$tmp/cfg
mkdir -p "$cfg/modules"
ln -s /usr/lib/baresip/modules/*.so "$cfg/modules/"
rm -f "$cfg/modules/srvfailover.so" "$cfg/modules/stdio.so"
ln -s "$so" "$cfg/modules/srvfailover.so"
cat >"$cfg/config" <<EOF
module_path	$cfg/modules
sip_listen	127.0.0.1:5060
net_interface	127.0.0.1
ctrl_tcp_listen	127.0.0.1:4444
audio_source	aubridge,x
audio_player	aubridge,x
audio_alert	aubridge,x
module		g711.so
module		aubridge.so
module		menu.so
module		ctrl_tcp.so
module_app	srvfailover.so
srvfailover_mode	cisco
EOF
# one line, server 127.0.0.2: nothing listens there, the module finds it
# unreachable through the ICMP port unreachable
printf '%s\n' '<sip:100@127.0.0.2>;auth_pass=x;regint=600;mwi=no' \
	>"$cfg/srvfailover"

if [ "$(id -u)" -eq 0 ]; then
	ns="unshare -n"
else
	ns="unshare -r -n"
fi
out=$tmp/baresip.out
# shellcheck disable=SC2016,SC2086
timeout 30 $ns sh -c 'ip link set lo up && exec /usr/bin/baresip -f "$1" -t 3' \
	sh "$cfg" >"$out" 2>&1
rc=$?
echo "     baresip (exit $rc):"
sed 's/^/     | /' "$out"
[ "$rc" -eq 0 ] && ok "baresip ran its 3 s and quit (exit 0)" ||
	bad "baresip exit $rc"
grep -q '^srvfailover: ' "$out" && ok "baresip output has srvfailover: lines" ||
	bad "no srvfailover: line in baresip's output"
grep -q '^srvfailover: 1 line' "$out" &&
	ok "the module loaded its srvfailover file (1 line)" ||
	bad "no 'srvfailover: 1 line'"
grep -q 'srvfailover: 100: server 1 sip:127.0.0.2: ' "$out" &&
	ok "the module reports server 1's state" ||
	bad "no state report of server 1"
grep -iq 'srvfailover\.so.*\(error\|fail\|not found\)\|could not load' "$out" &&
	bad "a module load error in baresip's output" ||
	ok "no module load error"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
