#!/bin/sh
# Runs the cmocka unit tests built with ASan + UBSan (make asan):
# prints each suite's cmocka results, any sanitizer report in full, and
# last one line "N passed, N failed". A suite whose tests all passed but
# whose process a sanitizer stopped (an error, or a leak at exit) counts
# one failure more.
#
#   test/asan.sh build-asan/unit/test_*
set -u
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"

for t in "$@"; do
	name=$(basename "$t")
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s),.*/\1/p' "$log")
	san=$(grep -c -E '^==[0-9]+==ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$log")
	if [ -z "$p" ] && [ -z "$f" ]; then
		echo "FAIL $name: stopped (exit $rc) before cmocka's summary"
		fail=$((fail + 1))
		continue
	fi
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] || [ "$san" -gt 0 ]; then
		echo "FAIL $name: sanitizer report (exit $rc, $san report(s))"
		f=$((f + 1))
	fi
	echo "asan $name: $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
