/*
 * orch_bench_reports.c — the probes' reports: every orch_probe the bench
 * launches, directly or through the daemon, sends one datagram (struct
 * probe_msg: its tag, pid and the CLOCK_MONOTONIC time its main() started)
 * to the unix socket this file binds in the run's directory.
 *
 * A part reads them into a struct collect made for its tag and the number of
 * probes it expects; a report of another tag, beyond that number or
 * malformed counts as stray (printed at the end). The pid of every "sleep"
 * probe (launch-rate and service parts) is kept in the bench whatever part
 * reads it, so that the cleanup can find processes left running. Reading is
 * non-blocking after the first wait, so a slow reader never changes a
 * latency: the time is the probe's own.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "orch_bench.h"
#include "orch_probe.h"

int ob_collect_init(struct collect *c, uint32_t tag, size_t want)
{
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->want = want;
	c->pid = calloc(want ? want : 1, sizeof(*c->pid));
	c->ns = calloc(want ? want : 1, sizeof(*c->ns));
	if (c->pid == NULL || c->ns == NULL) {
		free(c->pid);
		free(c->ns);
		return -ENOMEM;
	}
	return 0;
}

void ob_collect_free(struct collect *c)
{
	free(c->pid);
	free(c->ns);
	memset(c, 0, sizeof(*c));
}

void ob_collect_reset(struct collect *c)
{
	c->got = 0;
	c->max_ns = 0;
}

void ob_drain(struct bench *b, struct collect *c, int timeout_ms)
{
	struct pollfd pfd = {b->sock, POLLIN, 0};

	if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) <= 0)
		return;
	for (;;) {
		struct probe_msg m;
		ssize_t n = recv(b->sock, &m, sizeof(m), MSG_DONTWAIT);

		if (n < 0)
			return;   /* EAGAIN: nothing more (EINTR: the caller loops) */
		if (n != (ssize_t)sizeof(m) || m.magic != PROBE_MAGIC || m.pid <= 0) {
			b->stray++;
			continue;
		}
		if ((m.tag == TAG_LAUNCH || m.tag == TAG_SERVICE) && b->n_sleepers < MAX_SLEEPERS)
			b->sleepers[b->n_sleepers++] = m.pid;
		if (c == NULL || m.tag != c->tag || c->got >= c->want) {
			b->stray++;
			continue;
		}
		c->pid[c->got] = m.pid;
		c->ns[c->got] = m.mono_ns;
		if (m.mono_ns > c->max_ns)
			c->max_ns = m.mono_ns;
		c->got++;
	}
}

int ob_collect_wait(struct bench *b, struct collect *c, size_t want, int64_t deadline)
{
	while (c->got < want) {
		int64_t left = deadline - ob_now_ns();

		if (ob_interrupted)
			return -EINTR;
		if (left <= 0)
			return -ETIMEDOUT;
		ob_drain(b, c, left > 50000000 ? 50 : (int)(left / 1000000) + 1);
	}
	return 0;
}

int ob_sock_open(struct bench *b)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, b->sock_path, strlen(b->sock_path) + 1);
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	b->sock = fd;
	return 0;
}
