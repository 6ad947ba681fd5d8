/*
 * orch_probe.c — the process that orch_bench launches, both directly
 * (fork + exec) and as the command of its tasks, to learn when it runs.
 *
 *   orch_probe SOCKET exit|sleep TAG
 *
 * First thing in main() it reads CLOCK_MONOTONIC (one clock for every
 * process of the machine, so the bench can subtract its own readings), then
 * connects a unix datagram socket to SOCKET and sends one struct probe_msg:
 * magic, TAG, its pid and that time. "exit" then exits 0; "sleep" waits in
 * pause() until a signal ends it (SIGTERM, as StopTask sends, with the
 * default disposition the process driver restores).
 *
 * Contract: exit 0 after a sent report in "exit" mode; 2 on a usage error;
 * 3 when the report cannot be sent (no socket, refused). The send blocks
 * while the bench's receive queue is full (unix datagram sockets queue only
 * net.unix.max_dgram_qlen messages); the time in the report was taken
 * before, so a slow reader does not change it.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "orch_probe.h"

int main(int argc, char **argv)
{
	struct timespec ts;
	struct sockaddr_un sa;
	struct probe_msg msg;
	unsigned long tag;
	char *end;
	size_t len;
	int fd;
	int sleep_mode;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (argc != 4 || (strcmp(argv[2], "exit") != 0 && strcmp(argv[2], "sleep") != 0)) {
		fprintf(stderr, "usage: orch_probe SOCKET exit|sleep TAG\n");
		return 2;
	}
	sleep_mode = strcmp(argv[2], "sleep") == 0;
	errno = 0;
	tag = strtoul(argv[3], &end, 10);
	if (errno != 0 || end == argv[3] || *end != '\0' || tag > UINT32_MAX) {
		fprintf(stderr, "orch_probe: TAG must be an integer from 0 to %u\n", UINT32_MAX);
		return 2;
	}
	len = strlen(argv[1]);
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		fprintf(stderr, "orch_probe: SOCKET must be 1 to %zu bytes\n", sizeof(sa.sun_path) - 1);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, argv[1], len + 1);
	memset(&msg, 0, sizeof(msg));
	msg.magic = PROBE_MAGIC;
	msg.tag = (uint32_t)tag;
	msg.pid = (int32_t)getpid();
	msg.mono_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, &msg, sizeof(msg), 0) != (ssize_t)sizeof(msg)) {
		fprintf(stderr, "orch_probe: %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	close(fd);

	if (sleep_mode)
		for (;;)
			pause();
	return 0;
}
