#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# builds with strict warnings as errors, and runs
#   1. every test (unit, conformance, CLI) under ASan+UBSan (gcc, -Werror);
#   2. the same tree built with clang (warnings as errors), the suite again;
#   3. the release build (gcc -O3) that deploy/run.sh uses, on the examples;
#   4. each libFuzzer target for a short smoke run (FUZZ_SECONDS, default 20).
# Exits non-zero when anything fails; the last line sums up the counts.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
passed=0
failed=0

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh

# The conformance data is a copy of ../shared/conformance; catch drift.
if [ -d ../shared/conformance ]; then
  for f in event-ruler-cases.jsonl invalid-patterns.jsonl; do
    if ! cmp -s "../shared/conformance/$f" "tests/data/conformance/$f"; then
      echo "tests/data/conformance/$f differs from ../shared/conformance/$f: refresh the copy" >&2
      exit 1
    fi
  done
fi

# ctest's summary line reads "N% tests passed, F tests failed out of T".
count_ctest() {
  local log="$1" line total fails
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -z "$line" ]; then
    failed=$((failed + 1))
    return
  fi
  fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - fails))
  failed=$((failed + fails))
}

status=0

step "ASan+UBSan build (gcc) and the whole suite"
cmake --preset asan >/dev/null
cmake --build --preset asan
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --preset asan 2>&1 | tee build/asan/ctest.log || status=1
count_ctest build/asan/ctest.log

step "clang build (warnings as errors) and the whole suite again"
cmake --preset clang >/dev/null
cmake --build --preset clang
ctest --preset clang 2>&1 | tee build/clang/ctest.log || status=1
count_ctest build/clang/ctest.log

step "release build (gcc -O3, warnings as errors) and the example rules through it"
cmake --preset release >/dev/null
cmake --build --preset release
if build/release/engine/tripline validate deploy/examples/rules &&
   build/release/engine/tripline match --rules deploy/examples/rules \
     < deploy/examples/events.jsonl >build/release/example.out &&
   [ "$(wc -l <build/release/example.out)" -eq "$(wc -l <deploy/examples/events.jsonl)" ]; then
  passed=$((passed + 1))
else
  echo "release: the example rules failed"
  failed=$((failed + 1))
  status=1
fi

step "fuzz smoke runs (${FUZZ_SECONDS}s each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
for t in fuzz_pattern fuzz_event fuzz_rulefile; do
  corpus="build/fuzz/corpus-$t"
  mkdir -p "$corpus"
  seed="tests/fuzz/corpus/${t#fuzz_}"
  if build/fuzz/tests/fuzz/$t -max_total_time="$FUZZ_SECONDS" -max_len=4096 \
       -rss_limit_mb=2048 -print_final_stats=0 "$corpus" "$seed" >"build/fuzz/$t.log" 2>&1; then
    echo "$t: ok ($(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "build/fuzz/$t.log" | tail -n 1)s)"
    passed=$((passed + 1))
  else
    echo "$t: FAILED — see build/fuzz/$t.log"
    tail -n 40 "build/fuzz/$t.log"
    failed=$((failed + 1))
    status=1
  fi
done

echo
echo "tripline: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
