#!/usr/bin/env bash
# The main job from a fresh Debian 12 machine: install what the build needs,
# build tripline (release), and run it on the example rules.
#
# Until the daemon lands this is `tripline match` over deploy/examples/rules
# with the example events in deploy/examples/events.jsonl: one JSON line per
# event, naming the rules it matched. Set EVENTS=FILE to match your own
# JSON-lines events instead.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tripline
build/release/engine/tripline validate deploy/examples/rules
exec build/release/engine/tripline match --rules deploy/examples/rules < "${EVENTS:-deploy/examples/events.jsonl}"
