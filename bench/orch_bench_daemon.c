/*
 * orch_bench_daemon.c — the daemon under test: `tripline serve --config
 * FILE`, started and stopped by the bench.
 *
 * The config (in the run's directory) listens on a loopback port found free
 * just before, keeps its data_dir under the run's directory too, logs at
 * warn and allows MAX_TASKS tasks; no rules, no task definitions (the parts
 * register theirs). The daemon's stdout and stderr go to the run's
 * daemon.log, its stdin is /dev/null. Starting waits, with a deadline, until
 * /healthz answers 200, and fails early when the daemon exits first;
 * stopping is SIGTERM, SIGKILL past a deadline, and always reaps it. Tasks
 * it leaves running are the cleanup's business (orch_bench.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch_bench.h"

#define READY_DEADLINE_S 15.0
#define DAEMON_EXIT_DEADLINE_S 15.0

static int free_port(uint16_t *ret)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		r = -errno;
	else
		*ret = ntohs(sa.sin_port);
	close(fd);
	return r;
}

static int write_config(struct bench *b, char *cfg_path, size_t cap)
{
	char listen[32], data_dir[PATH_MAX];
	json_t *cfg;
	int r;

	if (snprintf(cfg_path, cap, "%s/tripline.json", b->dir) >= (int)cap ||
	    snprintf(data_dir, sizeof(data_dir), "%s/var", b->dir) >= (int)sizeof(data_dir))
		return -ENAMETOOLONG;
	if (mkdir(data_dir, 0700) < 0)
		return -errno;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)b->port);
	cfg = json_pack("{s:s, s:s, s:s, s:[], s:[], s:{s:i}}", "listen", listen, "data_dir", data_dir,
			"log_level", "warn", "rules", "task_definitions", "limits", "max_tasks", (int)MAX_TASKS);
	if (cfg == NULL)
		return -ENOMEM;
	r = json_dump_file(cfg, cfg_path, JSON_COMPACT) == 0 ? 0 : -EIO;
	json_decref(cfg);
	return r;
}

int ob_daemon_start(struct bench *b)
{
	char cfg_path[PATH_MAX];
	char arg_serve[] = "serve", arg_config[] = "--config";
	char *argv[5];
	int64_t deadline;
	int r, logfd;
	pid_t pid;

	if ((r = free_port(&b->port)) < 0 || (r = write_config(b, cfg_path, sizeof(cfg_path))) < 0) {
		fprintf(stderr, "orch_bench: preparing the daemon's config: %s\n", strerror(-r));
		return r;
	}
	logfd = open(b->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		r = -errno;
		fprintf(stderr, "orch_bench: %s: %s\n", b->log_path, strerror(errno));
		return r;
	}
	argv[0] = b->tripline;
	argv[1] = arg_serve;
	argv[2] = arg_config;
	argv[3] = cfg_path;
	argv[4] = NULL;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(logfd);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execv(b->tripline, argv);
		_exit(127);
	}
	close(logfd);
	b->daemon = pid;

	deadline = ob_deadline_after(READY_DEADLINE_S);
	for (;;) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			b->daemon = 0;
			fprintf(stderr, "orch_bench: the daemon exited (status %d) before it was ready; see %s\n",
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), b->log_path);
			return -ECHILD;
		}
		if (ob_api_healthz(b))
			return 0;
		if (ob_interrupted)
			return -EINTR;
		if (ob_now_ns() > deadline) {
			fprintf(stderr, "orch_bench: /healthz not ready after %.0f s; see %s\n", READY_DEADLINE_S,
				b->log_path);
			return -ETIMEDOUT;
		}
		ob_sleep_ns(10000000L);
	}
}

void ob_daemon_stop(struct bench *b)
{
	int64_t deadline = ob_deadline_after(DAEMON_EXIT_DEADLINE_S);
	int st;

	if (b->daemon <= 0)
		return;
	kill(b->daemon, SIGTERM);
	for (;;) {
		pid_t w = waitpid(b->daemon, &st, WNOHANG);

		if (w == b->daemon || (w < 0 && errno != EINTR))
			break;
		if (ob_now_ns() > deadline) {
			fprintf(stderr, "orch_bench: the daemon did not exit %.0f s after SIGTERM: SIGKILL\n",
				DAEMON_EXIT_DEADLINE_S);
			kill(b->daemon, SIGKILL);
			waitpid(b->daemon, &st, 0);
			break;
		}
		ob_sleep_ns(10000000L);
	}
	b->daemon = 0;
}
