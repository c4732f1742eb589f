#!/bin/sh
# Every baresip function that include/sfo_baresip.h declares, and every
# symbol the built module needs from outside libre and libc, must be
# exported by the stock /usr/bin/baresip. One line per check, then a
# count line for run-all.sh.
set -u
top=$(dirname "$0")/..
module=${1:-$top/srvfailover.so}
baresip=${BARESIP:-/usr/bin/baresip}
pass=0
fail=0

exported=$(nm -D --defined-only "$baresip" | awk '{print $3}')
libre=$(nm -D --defined-only "$(ldconfig -p | awk '/libre\.so[^ ]* /{print $NF; exit}')" | awk '{print $3}')

check() {
	if printf '%s\n' "$exported" | grep -qx "$1"; then
		pass=$((pass + 1))
	else
		echo "FAIL $2: $1 is not exported by $baresip"
		fail=$((fail + 1))
	fi
}

# declared functions: "type name(" at the start of a declaration
for f in $(grep -vE '^[[:space:]]|^typedef|^#|^/?\*' "$top/include/sfo_baresip.h" |
	   grep -oE '[a-z_0-9]+\(' | tr -d '(' | sort -u); do
	check "$f" "declared"
done

# what the module needs that neither libre nor libc provides
for f in $(nm -D --undefined-only "$module" | awk '{print $2}' | sed 's/@.*//'); do
	printf '%s\n' "$libre" | grep -qx "$f" && continue
	case "$f" in __*|_ITM_*|_Jv_*) continue ;; esac
	nm -D --defined-only /lib/*/libc.so.6 2>/dev/null | awk '{print $3}' |
		sed 's/@.*//' | grep -qx "$f" && continue
	check "$f" "needed by $(basename "$module")"
done

echo "symbols: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
