/*
 * orch_bench_proc.c — processes as /proc shows them: the daemon's CPU time,
 * whether a probe still runs or has been reaped, whether a pid is one of
 * this run's probes, and the cgroups the daemon made for a task.
 *
 * Every answer is read afresh from /proc (no cache), so polling loops see a
 * process end as soon as the kernel does. A pid is only ever signalled by
 * the cleanup after ob_is_our_probe() has checked its command line: the
 * probe's path then this run's socket, which no other process has.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "orch_bench.h"

#define MAX_CMDLINE 8192

/* Reads /proc/<pid>/<what> into buf (NUL-terminated); its length, or -1. */
static ssize_t read_proc(int32_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

long long ob_cpu_of(pid_t pid)
{
	char buf[1024];
	unsigned long long ut, st;
	long tick = sysconf(_SC_CLK_TCK);
	char *rp, *end, *end2;
	int i;

	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0 || tick <= 0)
		return -EIO;
	/* after "(comm)": state ppid pgrp session tty_nr tpgid flags minflt
	 * cminflt majflt cmajflt utime stime; comm may hold spaces, not ')' last */
	rp = strrchr(buf, ')');
	if (rp == NULL)
		return -EIO;
	for (i = 0; i < 12 && rp != NULL; i++)
		rp = strchr(rp + 1, ' ');
	if (rp == NULL)
		return -EIO;
	errno = 0;
	ut = strtoull(rp + 1, &end, 10);
	st = strtoull(end, &end2, 10);
	if (errno != 0 || end == rp + 1 || end2 == end)
		return -EIO;
	return (long long)((ut + st) * (1000000000ull / (unsigned long long)tick));
}

bool ob_pid_alive(int32_t pid)
{
	char buf[512];
	char *rp;

	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return false;
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* Whether /proc/<pid> is gone altogether (reaped by its parent). */
static bool pid_reaped(int32_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) != 0 && errno == ENOENT;
}

bool ob_is_our_probe(const struct bench *b, int32_t pid)
{
	char buf[MAX_CMDLINE];
	size_t l0, l1;
	ssize_t n = read_proc(pid, "cmdline", buf, sizeof(buf));

	if (n < 0)
		return false;
	l0 = strlen(buf);
	if (strcmp(buf, b->probe) != 0 || l0 + 1 >= (size_t)n)
		return false;
	l1 = strlen(buf + l0 + 1);
	return l0 + 1 + l1 < (size_t)n && strcmp(buf + l0 + 1, b->sock_path) == 0;
}

size_t ob_count_alive(const int32_t *pids, size_t n)
{
	size_t i, alive = 0;

	for (i = 0; i < n; i++)
		alive += ob_pid_alive(pids[i]);
	return alive;
}

int ob_wait_gone(const int32_t *pids, size_t n, int64_t deadline, size_t *ret_alive)
{
	for (;;) {
		int r;

		*ret_alive = ob_count_alive(pids, n);
		if (*ret_alive == 0)
			return 0;
		if ((r = ob_poll_pause(deadline, POLL_SLEEP_NS)) < 0)
			return r;
	}
}

int ob_wait_reaped(int32_t pid, int64_t deadline)
{
	while (!pid_reaped(pid)) {
		int r = ob_poll_pause(deadline, 200000L);

		if (r < 0)
			return r;
	}
	return 0;
}

void ob_sweep_proc(const struct bench *b, int32_t *pids, size_t *n, size_t cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && *n < cap) {
		unsigned long v;

		if (parse_uint(e->d_name, 1, INT32_MAX, &v) == 0 && ob_is_our_probe(b, (int32_t)v))
			pids[(*n)++] = (int32_t)v;
	}
	closedir(d);
}

/*
 * The daemon's cgroup directories have "/tripline/" in their path (see
 * driver_process.c); /proc/<pid>/cgroup names them "N:controllers:/path"
 * (v1, under /sys/fs/cgroup/<first controller>) or "0::/path" (v2, under
 * /sys/fs/cgroup).
 */
void ob_task_cgroups(int32_t pid, char **dirs, size_t *n, size_t cap)
{
	char path[64], line[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL && *n < cap) {
		char *ctrl = strchr(line, ':'), *cg, *comma, *nl, dir[PATH_MAX + 64];

		cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (cg == NULL || strstr(cg, "/tripline/") == NULL)
			continue;
		*cg++ = '\0';
		ctrl++;
		if ((nl = strchr(cg, '\n')) != NULL)
			*nl = '\0';
		if ((comma = strchr(ctrl, ',')) != NULL)
			*comma = '\0';
		if (strncmp(ctrl, "name=", 5) == 0)
			continue;
		if (snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s%s%s", *ctrl ? "/" : "", ctrl, cg) <
		    (int)sizeof(dir) && (dirs[*n] = strdup(dir)) != NULL)
			(*n)++;
	}
	fclose(f);
}

int ob_cmp_pid(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}
