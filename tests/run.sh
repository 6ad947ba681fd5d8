#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs,
# builds with strict warnings as errors, and runs
#   1. every test (unit, conformance, CLI, orch) under ASan+UBSan (gcc, -Werror);
#   2. the same tree built with clang (warnings as errors), the suite again;
#   3. the release build (gcc -O3) that deploy/run.sh uses, on the examples;
#   4. each libFuzzer target for a short smoke run (FUZZ_SECONDS, default 10).
# Exits non-zero when anything fails. The last line counts test cases, not
# ctest entries: every cmocka and pytest case of both runs (from cmocka's
# output and pytest's JUnit XML, see tests/support/count_results.py), each
# fuzz smoke run and the release check; a test binary that crashes before
# reporting its cases counts as failed, never as zero cases.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
FUZZ_TARGETS="fuzz_pattern fuzz_event fuzz_rulefile fuzz_schedule fuzz_config fuzz_taskdef fuzz_sigv4 fuzz_api fuzz_ecs_request fuzz_transform fuzz_journal fuzz_webhook fuzz_fs_index"
PYTHON=/usr/bin/python3
status=0
# passed and failed, by kind
cmocka_p=0 cmocka_f=0 pytest_p=0 pytest_f=0 fuzz_p=0 fuzz_f=0 release_p=0 release_f=0

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh

# The conformance data is a copy of ../shared/conformance; catch drift where
# that folder exists (the team's checkout). A user's clone has only the copy,
# which the suite tests; the closing line says whether the check ran.
drift="conformance copy: not compared (no ../shared/conformance)"
if [ -d ../shared/conformance ]; then
  for f in event-ruler-cases.jsonl invalid-patterns.jsonl; do
    if ! cmp -s "../shared/conformance/$f" "tests/data/conformance/$f"; then
      echo "tests/data/conformance/$f differs from ../shared/conformance/$f: refresh the copy" >&2
      exit 1
    fi
  done
  drift="conformance copy: same as ../shared/conformance"
fi
echo "$drift"

# suite PRESET: builds the preset and runs its ctest entries, then adds the
# cases they ran to the counts. A build that fails counts as one failure.
suite() {
  local preset="$1" dir="build/$1" counts
  if ! { cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset"; }; then
    echo "$preset: the build failed"
    cmocka_f=$((cmocka_f + 1))
    status=1
    return
  fi
  rm -rf "$dir/test-results" "$dir/ctest-junit.xml"
  ctest --preset "$preset" --output-junit "$PWD/$dir/ctest-junit.xml" \
        --test-output-size-passed 100000000 --test-output-size-failed 100000000 \
        2>&1 | tee "$dir/ctest.log" || status=1
  counts=$("$PYTHON" tests/support/count_results.py "$dir" | tee "$dir/counts.log" | tail -n 1) || counts=""
  head -n -1 "$dir/counts.log"
  if [[ "$counts" =~ ^cmocka\ ([0-9]+)\ ([0-9]+)\ pytest\ ([0-9]+)\ ([0-9]+)$ ]]; then
    cmocka_p=$((cmocka_p + BASH_REMATCH[1])) cmocka_f=$((cmocka_f + BASH_REMATCH[2]))
    pytest_p=$((pytest_p + BASH_REMATCH[3])) pytest_f=$((pytest_f + BASH_REMATCH[4]))
    echo "$preset: cmocka ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed;" \
         "pytest ${BASH_REMATCH[3]} passed, ${BASH_REMATCH[4]} failed"
    [ "${BASH_REMATCH[2]}" -eq 0 ] && [ "${BASH_REMATCH[4]}" -eq 0 ] || status=1
  else
    echo "$preset: the results could not be counted"
    cmocka_f=$((cmocka_f + 1))
    status=1
  fi
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

step "ASan+UBSan build (gcc) and the whole suite"
suite asan

step "clang build (warnings as errors) and the whole suite again"
suite clang

step "release build (gcc -O3, warnings as errors) and the example rules through it"
if cmake --preset release >/dev/null && cmake --build --preset release &&
   build/release/engine/tripline validate deploy/examples/rules &&
   build/release/engine/tripline match --rules deploy/examples/rules \
     < deploy/examples/events.jsonl >build/release/example.out &&
   [ "$(wc -l <build/release/example.out)" -eq "$(wc -l <deploy/examples/events.jsonl)" ]; then
  release_p=1
else
  echo "release: the build or the example rules failed"
  release_f=1
  status=1
fi

step "fuzz smoke runs (${FUZZ_SECONDS}s each)"
if cmake --preset fuzz >/dev/null && cmake --build --preset fuzz; then
  for t in $FUZZ_TARGETS; do
    corpus="build/fuzz/corpus-$t"
    mkdir -p "$corpus"
    seed="tests/fuzz/corpus/${t#fuzz_}"
    if [ -d "$seed" ] && (cd build/fuzz && "tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -max_len=4096 \
         -rss_limit_mb=2048 -print_final_stats=0 "corpus-$t" "../../$seed" >"$t.log" 2>&1); then
      echo "$t: ok ($(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "build/fuzz/$t.log" | tail -n 1)s)"
      fuzz_p=$((fuzz_p + 1))
    else
      echo "$t: FAILED — see build/fuzz/$t.log (a crashing input is kept as build/fuzz/crash-*)"
      tail -n 40 "build/fuzz/$t.log" 2>/dev/null || echo "$seed: no seed corpus"
      fuzz_f=$((fuzz_f + 1))
      status=1
    fi
  done
else
  echo "fuzz: the build failed"
  fuzz_f=1
  status=1
fi

passed=$((cmocka_p + pytest_p + fuzz_p + release_p))
failed=$((cmocka_f + pytest_f + fuzz_f + release_f))
echo
echo "tripline: $passed passed, $failed failed (cmocka $cmocka_p/$cmocka_f, pytest $pytest_p/$pytest_f," \
     "fuzz smoke runs $fuzz_p/$fuzz_f, release examples $release_p/$release_f; passed/failed, gcc and clang;" \
     "$drift)"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
