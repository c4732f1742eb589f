#!/bin/sh
# Runs the libFuzzer target for N inputs (make fuzz [FUZZ_RUNS=N]).
#
#   test/fuzz/run.sh build-fuzz/fuzz_config N [SEEDS [DICT]]
#
# Starts from the seed corpus SEEDS (test/fuzz/corpus; never written to:
# new inputs go to build-fuzz/corpus-NAME). An input that crashes, leaks,
# trips a sanitizer or takes over 10 s is saved as
# test/fuzz/crashes/NAME-crash-... (leak-, timeout-, ...) and the run
# fails. Ends with one line: the inputs run, and clean or not.
set -u
bin=$1
runs=${2:-1000000}
top=$(cd "$(dirname "$0")/../.." && pwd)
seeds=${3:-$top/test/fuzz/corpus}
dict=${4-$top/test/fuzz/config.dict}
name=$(basename "$bin")
work=$(dirname "$bin")/corpus-${name#fuzz_}
log=$(dirname "$bin")/$name.log
mkdir -p "$work" "$top/test/fuzz/crashes"

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1"

start=$(date +%s)
"$bin" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 ${dict:+-dict="$dict"} \
	-artifact_prefix="$top/test/fuzz/crashes/${name#fuzz_}-" \
	"$work" "$seeds" >"$log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done |stat::number_of_executed_units|stat::peak_rss_mb|^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written' \
	"$log"
done=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log")
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$log"
	echo "$name: FAILED after ${done:-?} inputs, ${took}s (exit $rc);" \
		"input saved in test/fuzz/crashes/, log in $log"
	exit 1
fi
echo "$name: ${done:-?} inputs, clean, ${took}s (corpus $(ls "$work" | wc -l)" \
	"files in $work)"
