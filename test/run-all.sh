#!/bin/sh
# Runs every suite for both baresips the module is built for: this
# machine's (Debian bookworm, baresip 1.0.0) and Debian trixie's
# (baresip 1.1.0, in the trixie test system test/debian/root.sh makes and
# reuses; the module is built inside it). For each: the cmocka unit tests, the
# symbol check against that /usr/bin/baresip and the end-to-end
# scenarios. Ends with one line "N passed, N failed" over all of them.
#
#   test/run-all.sh              (make test runs it after building)
#   test/run-all.sh --in-root    (itself, inside `root.sh enter trixie test`)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
host=$top/srvfailover.so
trixie_build=build/baresip-1.1.0
trixie=$top/$trixie_build/srvfailover.so
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

add() {  # add the counts of one suite: add PASSED FAILED
	pass=$((pass + $1))
	fail=$((fail + $2))
}

counts() {  # the last "N passed, N failed" of a suite's output
	grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 |
		awk '{print $1, $3}'
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s),"
# (trixie's cmocka: "[  FAILED  ] GROUP: N test(s),")
units() {  # units NAME UNIT_DIR [RUN_PREFIX...]
	name=$1 dir=$2
	shift 2
	for t in "$dir"/unit/test_*; do
		"$@" "$t" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
		f=$(sed -n 's/^\[  FAILED  \] \([^ ]*: \)\{0,1\}\([0-9]*\) test(s),.*/\2/p' "$log")
		if [ -z "$p" ] && [ -z "$f" ]; then
			echo "FAIL $name $(basename "$t"): crashed (exit $rc)"
			cat "$log"
			add 0 1
			continue
		fi
		r=$(sed -n 's/^\[=*\] \([^ ]*: \)\{0,1\}\([0-9]*\) test(s) run\..*/\2/p' "$log")
		# a count that does not add up is a format we misread: fail
		[ "$((${p:-0} + ${f:-0}))" = "${r:-x}" ] || f=$((${f:-0} + 1))
		[ -n "$f" ] && grep -E '^\[  (ERROR|FAILED)|^\[   LINE' "$log"
		echo "unit $name $(basename "$t"): ${p:-0} passed, ${f:-0} failed"
		add "${p:-0}" "${f:-0}"
	done
}

suite() {  # suite NAME MODULE VERSION OTHER_MODULE
	"$top/test/check_symbols.sh" "$2" "$3" >"$log" 2>&1
	sed "s/^/$1 /" "$log"
	set -- "$@" $(counts) 0 1
	add "$5" "$6"

	echo "end-to-end, $1 (baresip $3):"
	SFO_OTHER_MODULE=$4 "$top/test/e2e/run" --module "$2" 2>&1 |
		tee "$log"
	set -- $(counts) 0 1
	add "$1" "$2"
}

total() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

if [ "${1:-}" = --in-root ]; then
	units trixie "$top/$trixie_build" chroot "$SFO_ROOT" \
		env --chdir="$top"
	export SFO_BARESIP_ROOT="$SFO_ROOT"
	suite trixie "$trixie" 1.1.0 "$host"
	total
fi

# The trixie build first: each suite loads the other's build too
echo "trixie: preparing the system and building the module in it"
if ! root=$("$top/test/debian/root.sh" prepare trixie test) ||
   ! "$top/test/debian/root.sh" enter trixie test chroot "$root" \
	make --no-print-directory -C "$top" all unit \
		MODULE=$trixie_build/srvfailover.so >"$log" 2>&1; then
	cat "$log"
	echo "FAIL trixie: no trixie system or no build in it: its" \
	     "tests did not run"
	add 0 1
	trixie=
fi

units bookworm "$top/build/baresip-1.0.0"
suite bookworm "$host" 1.0.0 "$trixie"

if [ -n "$trixie" ]; then
	"$top/test/debian/root.sh" enter trixie test "$0" --in-root 2>&1 |
		tee "$log"
	set -- $(counts) 0 1
	add "$1" "$2"
fi

total
