/*
 * logmon.c — the log monitor (logmon.h): the daemon's side that starts one
 * (logmon_start, on a threadpool thread) and the monitor itself
 * (logmon_main, the hidden `tripline log-monitor` mode).
 *
 * Starting: two pipes (the output pipe and the done pipe), moved above fd 3;
 * posix_spawn (a vfork-style clone in glibc) of program with POSIX_SPAWN_SETSID,
 * default signal dispositions and an empty mask, the output pipe's read end
 * as stdin, /dev/null as stdout and stderr, the done pipe's write end as
 * fd 3 and every other descriptor closed; then the daemon closes its
 * copies of those two ends and waits for the spawned process, which opens
 * the log file, forks and exits: its status says whether the file could
 * be opened (0, or the errno).
 *
 * Monitoring: read up to LOGMON_BUFFER bytes, write them with logrot_write
 * (so no file passes its bound at any moment), repeat until end-of-file. A
 * write that fails (a full disk) drops that chunk and the monitor goes on
 * reading, so the container never blocks on its output. SIGHUP, SIGINT and
 * SIGPIPE are ignored; SIGTERM and SIGKILL end it.
 */
#include "logmon.h"
#include "logrot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MON_FD_DONE 3

/* ---- the monitor --------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void pump(struct logrot *l)
{
	static char buf[LOGMON_BUFFER];

	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		/* a failed write drops the chunk; the next one tries again */
		(void)logrot_write(l, buf, (size_t)n);
	}
}

int logmon_main(int argc, char **argv)
{
	struct logrot l;
	uint64_t max, keep;
	int r;

	/* nothing of the daemon's but what logmon_start handed over */
	if (syscall(SYS_close_range, MON_FD_DONE + 1u, ~0u, 0u) < 0)
		for (int fd = MON_FD_DONE + 1; fd < 1024; fd++)
			(void)close(fd);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 4 || parse_u64(argv[2], &max) < 0 || parse_u64(argv[3], &keep) < 0 ||
	    keep > LOGROT_KEEP_MAX) {
		fprintf(stderr, "usage: tripline %s PATH MAX_BYTES KEEP (internal)\n", LOGMON_ARG);
		return EINVAL;
	}
	if ((r = logrot_open(&l, argv[1], max, (unsigned)keep)) < 0)
		return -r & 0xff;
	pid_t pid = fork();
	if (pid < 0)
		return errno & 0xff;
	if (pid > 0)
		_exit(0);   /* the daemon reaps this one; init adopts the monitor */
	pump(&l);
	logrot_close(&l);
	return 0;
}

/* ---- the daemon's side --------------------------------------------------- */

const char *logmon_program(char *buf, size_t cap)
{
	char self[LOGROT_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(buf, cap, "%s/%s", self, LOGMON_PROGRAM) < cap &&
			    access(buf, X_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, cap, "/proc/self/exe");
	return buf;
}

/* fd moved to MON_FD_DONE + 1 or above (close-on-exec), so that the
 * monitor's dup2 onto 0–3 never clobbers another of them. */
static int fd_high(int fd)
{
	if (fd < 0 || fd > MON_FD_DONE)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, MON_FD_DONE + 1);
	int e = errno;
	close(fd);
	if (n < 0)
		errno = e;
	return n;
}

static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fds[0] = fd_high(fds[0]);
	fds[1] = fd_high(fds[1]);
	if (fds[0] < 0 || fds[1] < 0) {
		int e = errno;
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return -e;
	}
	return 0;
}

static int spawn_monitor(const char *program, char *const argv[], int out_rd, int done_wr, pid_t *ret)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char *const env[] = {NULL};
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return -r;
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	sigfillset(&all);
	sigemptyset(&none);
	if (!(r = posix_spawn_file_actions_adddup2(&fa, out_rd, 0)) &&
	    !(r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, 1, 2)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, done_wr, MON_FD_DONE)) &&
	    !(r = posix_spawn_file_actions_addclosefrom_np(&fa, MON_FD_DONE + 1)) &&
	    !(r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
					   POSIX_SPAWN_SETSIGMASK)) &&
	    !(r = posix_spawnattr_setsigdefault(&at, &all)) &&
	    !(r = posix_spawnattr_setsigmask(&at, &none)))
		r = posix_spawn(ret, program, &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

int logmon_start(const char *program, const char *path, uint64_t max_bytes, unsigned keep,
		 int *ret_out, int *ret_done, char *why, size_t whylen)
{
	int out[2], done[2], r, st = 0;
	char max_s[24], keep_s[12];
	pid_t pid;

	*ret_out = *ret_done = -1;
	if ((r = make_pipe(out)) < 0) {
		snprintf(why, whylen, "log monitor: pipe: %s", strerror(-r));
		return r;
	}
	if ((r = make_pipe(done)) < 0) {
		snprintf(why, whylen, "log monitor: pipe: %s", strerror(-r));
		goto out_close_out;
	}
	/* argv wants char *: copies, so nothing is cast away */
	char prog_s[LOGROT_PATH_MAX], mode_s[] = LOGMON_ARG, path_s[LOGROT_PATH_MAX];
	if ((size_t)snprintf(prog_s, sizeof(prog_s), "%s", program) >= sizeof(prog_s) ||
	    (size_t)snprintf(path_s, sizeof(path_s), "%s", path) >= sizeof(path_s)) {
		r = -ENAMETOOLONG;
		snprintf(why, whylen, "log monitor: %s", strerror(-r));
		goto out_close_both;
	}
	snprintf(max_s, sizeof(max_s), "%" PRIu64, max_bytes);
	snprintf(keep_s, sizeof(keep_s), "%u", keep);
	char *const argv[] = {prog_s, mode_s, path_s, max_s, keep_s, NULL};
	r = spawn_monitor(program, argv, out[0], done[1], &pid);
	close(out[0]);
	close(done[1]);
	if (r < 0) {
		snprintf(why, whylen, "log monitor %s: %s", program, strerror(-r));
		goto out_close_rest;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			snprintf(why, whylen, "log monitor: waitpid: %s", strerror(-r));
			goto out_close_rest;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		r = WIFEXITED(st) ? -WEXITSTATUS(st) : -EIO;
		if (WIFEXITED(st))
			snprintf(why, whylen, "log file %s: %s", path, strerror(WEXITSTATUS(st)));
		else
			snprintf(why, whylen, "log monitor: killed by signal %d", WTERMSIG(st));
		goto out_close_rest;
	}
	*ret_out = out[1];
	*ret_done = done[0];
	return 0;
out_close_rest:
	close(done[0]);
	close(out[1]);
	return r;
out_close_both:
	close(done[0]);
	close(done[1]);
out_close_out:
	close(out[0]);
	close(out[1]);
	return r;
}

bool logmon_done(int done_fd)
{
	struct pollfd p = {.fd = done_fd, .events = POLLIN};

	/* the write end closes only when the monitor exits; nothing is written */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLIN | POLLERR | POLLNVAL));
}
