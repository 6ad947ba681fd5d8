#!/usr/bin/env bash
# dockerd.sh — a private Docker daemon for the docker driver's tests.
#
#   dockerd.sh start DIR [OWNER_PID]
#                          starts dockerd with everything under DIR (data,
#                          exec root, DIR/docker.sock, DIR/dockerd.log), waits
#                          until /_ping answers, then imports the image
#                          tripline-busybox:test, built without a registry from
#                          Debian's busybox-static. Prints nothing on success;
#                          on failure says why (with the end of dockerd's log)
#                          on stderr and exits non-zero. With OWNER_PID, a
#                          watchdog runs `stop DIR` once that process is gone,
#                          so a test that crashes or is killed by a timeout
#                          leaves no daemon behind.
#   dockerd.sh stop DIR    stops that dockerd (SIGTERM, SIGKILL after a
#                          deadline), waits until it and its containerd have
#                          exited, unmounts what they left under DIR, removes DIR.
#
# The daemon runs as root with no network of its own (no bridge, no iptables)
# and the vfs storage driver, which works on any filesystem. Keep DIR short:
# the sockets under it must fit the 107 bytes of a unix socket path.
set -euo pipefail

# dockerd, and the runc it runs, live in /usr/sbin, which a user's PATH may lack
export PATH="$PATH:/usr/sbin:/sbin"

PING_DEADLINE_S=${PING_DEADLINE_S:-60}
STOP_DEADLINE_S=${STOP_DEADLINE_S:-30}
IMAGE=tripline-busybox
TAG=test

die() {
	echo "dockerd.sh: $*" >&2
	exit 1
}

log_tail() {
	if [ -f "$DIR/dockerd.log" ]; then
		echo "--- last lines of $DIR/dockerd.log:" >&2
		tail -n 25 "$DIR/dockerd.log" >&2
	fi
}

ping_ok() {
	[ "$(curl -sS --max-time 2 --unix-socket "$DIR/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ]
}

alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

start() {
	local pid deadline busybox rootfs answer a

	command -v dockerd >/dev/null || die "no dockerd on PATH (apt-get install docker.io)"
	command -v curl >/dev/null || die "no curl on PATH"
	busybox=/bin/busybox
	[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"
	# a dynamically linked busybox would not run in an image without libc
	if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		die "$busybox is dynamically linked (apt-get install busybox-static)"
	fi
	[ "$(id -u)" -eq 0 ] || die "dockerd needs root"
	[ "${#DIR}" -le 40 ] || die "$DIR: too long for the sockets under it (40 bytes at most)"

	mkdir -p "$DIR"
	echo '{}' >"$DIR/daemon.json"    # not /etc/docker/daemon.json
	setsid dockerd \
		--config-file "$DIR/daemon.json" \
		--storage-driver=vfs --bridge=none --iptables=false --ip6tables=false \
		--ip-forward=false --ip-masq=false --userland-proxy=false \
		--shutdown-timeout=2 \
		--data-root "$DIR/data" --exec-root "$DIR/exec" \
		--pidfile "$DIR/dockerd.pid" -H "unix://$DIR/docker.sock" \
		</dev/null >"$DIR/dockerd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/dockerd.launched"
	if [ -n "$OWNER" ]; then
		setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
			watchdog "$OWNER" "$SELF" "$DIR" </dev/null >/dev/null 2>&1 &
		echo $! >"$DIR/watchdog.pid"
	fi

	deadline=$((SECONDS + PING_DEADLINE_S))
	until ping_ok; do
		if ! alive "$pid"; then
			log_tail
			die "dockerd exited during start-up (see above)"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			log_tail
			die "dockerd did not answer /_ping on $DIR/docker.sock within ${PING_DEADLINE_S}s"
		fi
		sleep 0.1
	done

	# the image: /bin/busybox and one relative symlink per applet
	rootfs="$DIR/rootfs"
	rm -rf "$rootfs"
	mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
	chmod 1777 "$rootfs/tmp"
	cp "$busybox" "$rootfs/bin/busybox"
	for a in $("$busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
	echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$rootfs/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
	answer=$(tar -C "$rootfs" -c . | curl -sS --max-time 120 --unix-socket "$DIR/docker.sock" \
		-X POST -H 'Content-Type: application/x-tar' --data-binary @- \
		"http://localhost/v1.41/images/create?fromSrc=-&repo=$IMAGE&tag=$TAG") ||
		die "importing $IMAGE:$TAG failed: $answer"
	case "$answer" in
	*'"status":"sha256:'*) ;;
	*) die "importing $IMAGE:$TAG failed: $answer" ;;
	esac
	rm -rf "$rootfs"
}

stop() {
	local pid="" cpid="" deadline m

	[ -d "$DIR" ] || return 0
	# the watchdog, unless this is it
	if [ -f "$DIR/watchdog.pid" ]; then
		m=$(cat "$DIR/watchdog.pid")
		if [ "$m" != "$$" ] && alive "$m"; then
			kill -TERM "$m" 2>/dev/null || true
		fi
	fi
	if [ -f "$DIR/dockerd.launched" ]; then
		pid=$(cat "$DIR/dockerd.launched")
	fi
	if [ -f "$DIR/exec/containerd/containerd.pid" ]; then
		cpid=$(cat "$DIR/exec/containerd/containerd.pid")
	fi
	if alive "$pid"; then
		kill -TERM "$pid"
		deadline=$((SECONDS + STOP_DEADLINE_S))
		while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
			sleep 0.1
		done
		if alive "$pid"; then
			echo "dockerd.sh: dockerd $pid still running after ${STOP_DEADLINE_S}s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		while alive "$pid"; do
			sleep 0.1
		done
	fi
	# containerd normally exits with dockerd; not after a SIGKILL
	if alive "$cpid" && tr '\0' ' ' <"/proc/$cpid/cmdline" 2>/dev/null | grep -qF "$DIR/exec/"; then
		kill -KILL "$cpid" 2>/dev/null || true
	fi
	# dockerd bind-mounts its data root and network namespaces; deepest first
	for m in $(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$DIR"
}

[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: dockerd.sh start DIR [OWNER_PID] | stop DIR"
SELF=$(readlink -f "$0")
DIR=$2
OWNER=${3:-}
case "$OWNER" in
'' | [1-9]*) ;;
*) die "$OWNER: not a process id" ;;
esac
case "$DIR" in
/*) ;;
*) die "$DIR: must be an absolute path" ;;
esac
DIR=${DIR%/}
case "$1" in
start) start ;;
stop) stop ;;
*) die "usage: dockerd.sh start DIR [OWNER_PID] | stop DIR" ;;
esac
