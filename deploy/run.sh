#!/usr/bin/env bash
# The main job from a fresh Debian 12 machine: install what the build needs,
# build tripline (release), install it as /usr/local/bin/tripline (so that
# the README's `tripline …` commands work as written), and run the daemon on
# the embedded defaults with the example rules, task definitions and
# services (deploy/examples/tripline.json): the API on 127.0.0.1:8088, state
# in ./var, the process driver, no Redis; ./var/uploads watched as the
# "uploads" bucket and POST /hooks/github signed with the secret in
# ./var/github-webhook-secret (made on the first run). Stop it with Ctrl-C (tasks it
# started keep running, the example workers service's too; the next start
# takes them back).
#
# CONFIG=FILE runs another configuration; MATCH=1 instead matches the example
# events (deploy/examples/events.jsonl, or EVENTS=FILE) against the example
# rules and prints one JSON line per event with the rules it matched.
# Run as root or as a user with sudo (for apt-get and the install).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tripline
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo cmake --install build/release --prefix /usr/local >/dev/null
echo "run.sh: installed $(command -v tripline || echo /usr/local/bin/tripline) ($(tripline --version))"
tripline validate deploy/examples/rules
if [ "${MATCH:-0}" = 1 ]; then
  exec tripline match --rules deploy/examples/rules < "${EVENTS:-deploy/examples/events.jsonl}"
fi
if [ -z "${CONFIG:-}" ]; then
  # what the example config's sources need: the watched directory, and the
  # GitHub webhook's secret (made once, readable by this user only)
  mkdir -p var/uploads
  if [ ! -s var/github-webhook-secret ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > var/github-webhook-secret)
  fi
fi
exec tripline serve --config "${CONFIG:-deploy/examples/tripline.json}"
