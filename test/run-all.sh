#!/bin/sh
# Runs every suite: the cmocka unit tests, the symbol check against
# /usr/bin/baresip and the end-to-end scenarios. Ends with one line
# "N passed, N failed" over all of them.
#
#   test/run-all.sh /abs/path/srvfailover.so build/unit/test_*
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
module=$1
shift
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

add() {  # add the counts of one suite: add PASSED FAILED
	pass=$((pass + $1))
	fail=$((fail + $2))
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s),"
for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s),.*/\1/p' "$log")
	if [ -z "$p" ] && [ -z "$f" ]; then
		echo "FAIL $(basename "$t"): crashed (exit $rc)"
		cat "$log"
		add 0 1
		continue
	fi
	[ -n "$f" ] && grep -E '^\[  (ERROR|FAILED)|^\[   LINE' "$log"
	echo "unit $(basename "$t"): ${p:-0} passed, ${f:-0} failed"
	add "${p:-0}" "${f:-0}"
done

counts() {  # the last "N passed, N failed" of a suite's output
	grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 |
		awk '{print $1, $3}'
}

"$top/test/check_symbols.sh" "$module" >"$log" 2>&1
cat "$log"
set -- $(counts) 0 1
add "$1" "$2"

"$top/test/e2e/run" --module "$module" 2>&1 | tee "$log"
set -- $(counts) 0 1
add "$1" "$2"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
