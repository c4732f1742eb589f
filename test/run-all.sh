#!/bin/sh
# Runs every suite for the three baresips the module is built for: this
# machine's (Debian bookworm, baresip 1.0.0), Debian trixie's (baresip
# 1.1.0, in the trixie test system test/debian/root.sh makes and reuses;
# the module is built inside it) and upstream's (baresip 4.10.0, built
# from its release sources into the prefix test/upstream/prefix.sh makes
# and reuses). For each: the cmocka unit tests, the symbol check against
# that baresip and the end-to-end scenarios; before them, pyflakes over
# the Python. Ends with one line "N passed, N failed" over all of them.
#
#   test/run-all.sh [-j N] [-b bookworm|trixie|upstream] [NAME...]
#	(make test runs it after building: make test -jN B=... T=...)
#
# What overlaps: the trixie system and upstream's prefix are prepared,
# the module built for each and their unit tests run in the background
# while bookworm's unit tests and the end-to-end tests of all run (one
# pool of N tests at once, test/e2e/run; a target's tests start once its
# build is ready). -b: that baresip only.
# NAME: end-to-end tests to run (a test, a file, a pattern; every
# suite's unit tests and symbol checks still run), e.g. test_mwi.
set -u
cd "$(dirname "$0")/.."
jobs= only=
while getopts j:b: o; do
	case $o in
	j) jobs="-j $OPTARG" ;;
	b) only=$OPTARG ;;
	*) echo "usage: $0 [-j N] [-b bookworm|trixie|upstream] [NAME...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $only in "" | bookworm | trixie | upstream) ;; *)
	echo "$0: -b $only: bookworm, trixie or upstream" >&2; exit 2 ;; esac
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
top=$(pwd)
host=$top/srvfailover.so
trixie_build=build/baresip-1.1.0
trixie=$top/$trixie_build/srvfailover.so
root_sh=$top/test/debian/root.sh
upstream_build=build/baresip-4.10.0
upstream=$top/$upstream_build/srvfailover.so
prefix_sh=$top/test/upstream/prefix.sh
pass=0
fail=0
work=$(mktemp -d /tmp/sfo-run-all.XXXXXX)
log=$work/log
trap 'rm -rf "$work"' EXIT

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

symbols() {  # symbols NAME MODULE VERSION
	"$top/test/check_symbols.sh" "$2" "$3" >"$log" 2>&1
	sed "s/^/$1 /" "$log"
	set -- $(counts) 0 1
	add "$1" "$2"
}

# pyflakes over the project's Python (the lab, the bench, the tools):
# names never used, never defined, imports left over; a test per file
lint() {
	p=0 f=0
	for py in $(find test contrib -name '*.py' | sort) \
	    contrib/srvfailover-ctl; do
		if /usr/bin/python3 -m pyflakes "$py" >"$log" 2>&1; then
			p=$((p + 1))
		else
			f=$((f + 1))
			echo "FAIL lint $py"
			cat "$log"
		fi
	done
	echo "lint python: $p passed, $f failed"
	add "$p" "$f"
}

ready() {  # ready NAME WHAT: NAME's tests may start ("ok") or not (WHAT)
	echo "$2" >"$work/$1.ready.new"
	mv "$work/$1.ready.new" "$work/$1.ready"
}

# side NAME, in the background: NAME_build makes its baresip and the
# module for it (output in $work/NAME.log), NAME_check runs its unit
# tests and symbol check; output and counts in $work/NAME*, and
# $work/NAME.ready says "ok" once the build is there, or why there is none
side() {
	log=$work/$1.log
	if ! "$1_build" >"$log" 2>&1; then
		cat "$log"
		ready "$1" "no $1 baresip or no build for it"
		echo "0 0" >"$work/$1.counts"
		return
	fi
	ready "$1" ok
	"$1_check"
	echo "$pass $fail" >"$work/$1.counts"
}

trixie_build() {  # the trixie system, the module built inside it
	root=$("$root_sh" prepare trixie test) &&
	"$root_sh" enter trixie test chroot "$root" \
		make --no-print-directory -C "$top" all unit \
			MODULE=$trixie_build/srvfailover.so
}

trixie_check() {
	units trixie "$top/$trixie_build" "$root_sh" run trixie test
	SFO_BARESIP_ROOT=$root symbols trixie "$trixie" 1.1.0
}

upstream_build() {  # upstream's prefix, the module built against it
	prefix=$("$prefix_sh" prepare) &&
	PKG_CONFIG_PATH=$prefix/lib/pkgconfig make --no-print-directory \
		-C "$top" all unit BARESIP_VERSION=4.10.0 \
		MODULE=$upstream_build/srvfailover.so
}

upstream_check() {
	units upstream "$top/$upstream_build"
	SFO_BARESIP_PREFIX=$prefix symbols upstream "$upstream" 4.10.0
}

targets=
if want trixie; then
	# a build of an earlier run must not pass for this one's
	rm -f "$trixie"
	echo "trixie: preparing the system and building the module in it" \
	     "(in the background)"
	side trixie >"$work/trixie.out" 2>&1 &
	targets="--target name=trixie,module=$trixie,system=trixie"
	targets="$targets,ready=$work/trixie.ready"
fi

if want upstream; then
	rm -f "$upstream"
	echo "upstream: building baresip 4.10.0 (once) and the module for" \
	     "it (in the background)"
	side upstream >"$work/upstream.out" 2>&1 &
	targets="$targets --target name=upstream,module=$upstream"
	targets="$targets,prefix=$("$prefix_sh" path),ready=$work/upstream.ready"
fi

lint
if want bookworm; then
	units bookworm "$top/build/baresip-1.0.0"
	symbols bookworm "$host" 1.0.0
	targets="--target name=bookworm,module=$host $targets"
fi

# shellcheck disable=SC2086
"$top/test/e2e/run" $jobs $targets "$@" 2>&1 | tee "$log"
set -- $(counts) 0 1
add "$1" "$2"

wait
for name in trixie upstream; do
	want $name || continue
	cat "$work/$name.out"
	set -- $(cat "$work/$name.counts" 2>/dev/null) 0 1
	add "$1" "$2"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
