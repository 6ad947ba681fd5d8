#!/usr/bin/env bash
# Runs the matching benchmarks: installs the build dependencies, generates the
# citylots2 event stream on first use (~16 s), builds match_bench with the
# release preset, then runs every citylots rule set and the scaling run.
#
#   bench/run.sh                         all sets, then scaling
#   bench/run.sh --sets EXACT,COMBO      arguments go to the set run
#   MATCH_BENCH_SIZES=10,1000 bench/run.sh
#
# Exits non-zero only when a match count is wrong or something fails to run;
# timings never fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

data=bench/data/citylots2.json.gz
if [ ! -s "$data" ]; then
  partial=bench/data/citylots2.partial.json.gz
  trap 'rm -f "$partial"' EXIT
  echo "run.sh: generating $data (213,068 events, about 16 s)" >&2
  python3 bench/data/gen_citylots2.py "$partial"
  mv "$partial" "$data"
  trap - EXIT
fi

cmake --preset release
cmake --build --preset release --target match_bench
bin=build/release/bench/match_bench
rules=bench/data/citylots2-rules.json

status=0
"$bin" --rules "$rules" --events "$data" "$@" || status=$?
echo
"$bin" --scaling --rules "$rules" --events "$data" \
  --sizes "${MATCH_BENCH_SIZES:-10,1000,100000}" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
