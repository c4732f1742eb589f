#!/bin/sh
# Every baresip function that our declarations for that baresip version
# name (include/sfo_baresip.h and include/baresip-VERSION/), and every
# symbol the built module needs from outside libre and libc, must be
# exported by the stock /usr/bin/baresip of that version (4.x: by its
# libbaresip.so); and no symbol the module defines may be one of
# baresip's. One line per failed check, then a count line for run-all.sh.
#
#   test/check_symbols.sh MODULE VERSION
#
# With SFO_BARESIP_ROOT set, that system's baresip, libre and libc (the
# trixie test system of test/debian/root.sh); with SFO_BARESIP_PREFIX,
# the baresip and libre installed there (upstream's, test/upstream).
set -u
top=$(dirname "$0")/..
module=${1:-$top/srvfailover.so}
version=${2:-1.0.0}
root=${SFO_BARESIP_ROOT:-}
prefix=${SFO_BARESIP_PREFIX:-}
if [ -n "$prefix" ]; then
	baresip=$prefix/lib/libbaresip.so
	librefile=$prefix/lib/libre.so
else
	baresip=$root/usr/bin/baresip
	librefile=$(ls "$root"/usr/lib/*/libre.so.[0-9]* | head -n 1)
fi
pass=0
fail=0

exported=$(nm -D --defined-only "$baresip" | awk '{print $3}')
libre=$(nm -D --defined-only "$librefile" | awk '{print $3}')
libc=$(nm -D --defined-only "$root"/usr/lib/*/libc.so.6 2>/dev/null |
	awk '{print $3}' | sed 's/@.*//')

check() {
	if printf '%s\n' "$exported" | grep -qx "$1"; then
		pass=$((pass + 1))
	else
		echo "FAIL $2: $1 is not exported by $baresip"
		fail=$((fail + 1))
	fi
}

# declared functions: "type name(" at the start of a declaration, in
# the version's header and what it includes of ours
ver=$top/include/baresip-$version/sfo_baresip_ver.h
shared=$(sed -n 's|^#include "\(sfo_[a-z0-9_]*\.h\)"$|\1|p' "$ver" |
	sed "s|^|$top/include/|")
for f in $(cat "$top/include/sfo_baresip.h" "$ver" $shared |
	   grep -vE '^[[:space:]]|^typedef|^#|^/?\*' |
	   sed 's/^__attribute__((weak)) //' |
	   grep -oE '[a-z_0-9]+\(' | tr -d '(' | sort -u); do
	check "$f" "declared"
done

# what the module needs that neither libre nor libc provides
for f in $(nm -D --undefined-only "$module" | awk '{print $2}' | sed 's/@.*//'); do
	printf '%s\n' "$libre" | grep -qx "$f" && continue
	case "$f" in __*|_ITM_*|_Jv_*) continue ;; esac
	printf '%s\n' "$libc" | grep -qx "$f" && continue
	check "$f" "needed by $(basename "$module")"
done

# what the module defines must not be baresip's too: the dynamic linker
# would bind the module's own calls to baresip's function of that name
for f in $(nm -D --defined-only "$module" | awk '{print $3}'); do
	if printf '%s\n' "$exported" | grep -qx "$f"; then
		echo "FAIL $(basename "$module") defines $f, which $baresip" \
		     "exports too: its calls to it would go to baresip's"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done

echo "symbols: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
