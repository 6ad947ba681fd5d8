#!/usr/bin/env bash
# Runs the benchmarks: installs the build dependencies, generates the
# citylots2 event stream on first use (~16 s), builds match_bench, tripline
# and the orchestration benchmarks with the release preset, then runs every
# citylots rule set (in-process, and the whole `tripline match` process on
# the same stream), the scaling run and the orchestration runs: orch_bench
# (a daemon of its own, ~40 s), orch_lag_bench (the loop's stalls during
# RunTask, ~10 s), spawn_bench (launch designs side by side, ~15 s),
# logrot_bench (a log write's cost with rotation, ~2 s) and
# log_burst_bench.py (/healthz and log sizes during 100/400 MB bursts, ~30 s),
# then the event path: events_bench.py (PutEvents latency, throughput with
# wrk, task launches from events, ~40 s), reload_lag_bench (the loop's
# stalls while 100,000 rules are reloaded, ~20 s), journal_bench (the
# journal's group commit, ~15 s) and schedule_bench.py (fire lateness and
# CPU with 10,000 scheduled rules, ~3.5 min); then fs_bench.py (the file
# source: file closed → target written, and a burst of 10,000 files, ~10 s).
#
#   bench/run.sh                         all sets, scaling, then the orchestration benchmarks
#   bench/run.sh --sets EXACT,COMBO      arguments go to the set run
#   MATCH_BENCH_SIZES=10,1000 bench/run.sh
#   BENCH=match bench/run.sh             only the matcher (BENCH=orch: only the orchestration
#                                        ones; BENCH=events: only the event path;
#                                        BENCH=fs: only the file source)
#   ORCH_BENCH_ARGS="--runs 100 --tasks 500" bench/run.sh
#   ORCH_LAG_BENCH_ARGS="--rounds 50 --dir /dev/shm" SPAWN_BENCH_ARGS="--rounds 10" bench/run.sh
#   LOG_BURST_BENCH_ARGS="--rounds 5 --sizes 100,400,1000" bench/run.sh
#   EVENTS_BENCH_ARGS="--duration 30 --connections 128" RELOAD_LAG_BENCH_ARGS="--rules 10000" bench/run.sh
#   SCHEDULE_BENCH_ARGS="--rules 1000 --duration 70" bench/run.sh
#
# Exits non-zero only when a match count is wrong, an orch_bench wait passes
# its deadline or the daemon answers wrongly, or something fails to run;
# timings never fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

which="${BENCH:-all}"
case "$which" in
  all|match|orch|events|fs) ;;
  *) echo "run.sh: BENCH must be all, match, orch, events or fs" >&2; exit 2 ;;
esac

deploy/install-deps.sh

data=bench/data/citylots2.json.gz
if { [ "$which" = all ] || [ "$which" = match ]; } && [ ! -s "$data" ]; then
  partial=bench/data/citylots2.partial.json.gz
  trap 'rm -f "$partial"' EXIT
  echo "run.sh: generating $data (213,068 events, about 16 s)" >&2
  python3 bench/data/gen_citylots2.py "$partial"
  mv "$partial" "$data"
  trap - EXIT
fi

targets=()
case "$which" in all|match) targets+=(match_bench tripline) ;; esac
case "$which" in all|orch) targets+=(orch_bench orch_lag_bench spawn_bench logrot_bench) ;; esac
case "$which" in all|events) targets+=(tripline reload_lag_bench journal_bench) ;; esac
case "$which" in all|fs) targets+=(tripline) ;; esac
cmake --preset release
cmake --build --preset release --target "${targets[@]}"

status=0
if [ "$which" = all ] || [ "$which" = match ]; then
  bin=build/release/bench/match_bench
  rules=bench/data/citylots2-rules.json
  "$bin" --rules "$rules" --events "$data" --tripline build/release/engine/tripline "$@" || status=$?
  echo
  "$bin" --scaling --rules "$rules" --events "$data" \
    --sizes "${MATCH_BENCH_SIZES:-10,1000,100000}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi

if [ "$which" = all ] || [ "$which" = orch ]; then
  [ "$which" = orch ] || echo
  read -ra orch_args <<< "${ORCH_BENCH_ARGS:-}"
  build/release/bench/orch_bench "${orch_args[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  read -ra lag_args <<< "${ORCH_LAG_BENCH_ARGS:-}"
  build/release/bench/orch_lag_bench "${lag_args[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  read -ra spawn_args <<< "${SPAWN_BENCH_ARGS:-}"
  build/release/bench/spawn_bench "${spawn_args[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  build/release/bench/logrot_bench || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  read -ra burst_args <<< "${LOG_BURST_BENCH_ARGS:-}"
  python3 bench/log_burst_bench.py "${burst_args[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi

if [ "$which" = all ] || [ "$which" = events ]; then
  [ "$which" = events ] || echo
  read -ra events_args <<< "${EVENTS_BENCH_ARGS:-}"
  python3 bench/events_bench.py --bin build/release/engine/tripline "${events_args[@]}" ||
    { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  read -ra reload_args <<< "${RELOAD_LAG_BENCH_ARGS:-}"
  build/release/bench/reload_lag_bench "${reload_args[@]}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  build/release/bench/journal_bench || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
  echo
  read -ra schedule_args <<< "${SCHEDULE_BENCH_ARGS:-}"
  python3 bench/schedule_bench.py --bin build/release/engine/tripline "${schedule_args[@]}" ||
    { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi

if [ "$which" = all ] || [ "$which" = fs ]; then
  [ "$which" = fs ] || echo
  read -ra fs_args <<< "${FS_BENCH_ARGS:-}"
  python3 bench/fs_bench.py --bin build/release/engine/tripline "${fs_args[@]}" ||
    { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi
exit "$status"
