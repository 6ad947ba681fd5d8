#!/usr/bin/env bash
# Installs every Debian 12 package that tripline's build, tests and benchmarks
# need. Idempotent: packages already present are not reinstalled, and apt is
# not touched at all when nothing is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang lld libclang-rt-14-dev
  # libraries (DESIGN.md §8)
  libuv1-dev libjansson-dev libpcre2-dev librdkafka-dev libhiredis-dev
  libcurl4-openssl-dev libmicrohttpd-dev libcmocka-dev libssl-dev
  # benchmarks (gzip'd event streams; wrk drives PutEvents in events_bench.py)
  zlib1g-dev wrk
  # tests (awscli: Debian's AWS CLI v2 at /usr/bin/aws drives the daemon's API)
  python3 python3-pytest curl redis-server awscli
  inotify-tools             # inotifywait: the fs source's tests' independent oracle
  docker.io busybox-static  # docker driver tests: a private dockerd, an image without a registry
  systemd                   # systemd-analyze verify of deploy/tripline.service
  openssl                   # the README signs a webhook request with `openssl dgst`
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
