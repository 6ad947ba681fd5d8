/*
 * process_spawn.c — starting one process for the process driver: fork, the
 * child's code up to execve, and what the parent learns about it.
 *
 * Everything that can fail slowly or allocate happens in the parent before
 * fork(): the PATH candidates, the user, the log file (O_APPEND, 0600),
 * /dev/null for stdin and the cgroup.procs files to join
 * (process_spawn_open). The child then makes only async-signal-safe calls:
 * default signal dispositions, setsid(), join the cgroups (write "0"), dup2
 * stdio, chdir, setgroups/setresgid/setresuid, mark every other fd
 * close-on-exec, unblock signals, execve each PATH candidate. What goes
 * wrong in the child is written as {step, errno} to a close-on-exec pipe;
 * the parent reads it until EOF (EOF alone = exec succeeded), which blocks
 * for as long as the child takes to get to its execve.
 *
 * Choices: a file without a #! line is an exec error (ENOEXEC), never handed
 * to a shell; EACCES on one PATH candidate wins over ENOENT on the others,
 * as execvp does. Not thread-safe: call from the loop thread.
 */
#include "process_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Moves fd above stdin/stdout/stderr (the daemon may have closed those) so
 * the child's dup2 onto 0–2 never clobbers it. */
static int fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	if (n < 0)
		errno = e;
	return n;
}

int process_pidfd_open(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0u);
	return r < 0 ? -errno : (int)r;
}


static void child_report(int fd, enum spawn_step step, int err)
{
	struct spawn_report rep = {(int32_t)step, (int32_t)err};
	ssize_t n;
	do
		n = write(fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
}

/* Between fork() and execve(): async-signal-safe calls only (no malloc, no
 * stdio, no locks); every failure goes to the status pipe. */
static _Noreturn void child_exec(const struct spawn_req *r, int status_fd)
{
	struct sigaction dfl;
	sigset_t none;
	enum spawn_step step;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);

	step = STEP_SETSID;
	if (setsid() < 0)
		goto fail;
	for (size_t i = 0; i < r->n_cg; i++) {
		ssize_t n;
		do
			n = write(r->cg_fds[i], "0", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			child_report(status_fd, STEP_CGROUP, n < 0 ? errno : EIO);
	}
	step = STEP_STDIO;
	if (dup2(r->null_fd, 0) < 0 || dup2(r->log_fd, 1) < 0 || dup2(r->log_fd, 2) < 0)
		goto fail;
	step = STEP_CHDIR;
	if (chdir(r->cwd) < 0)
		goto fail;
	if (r->ctx->set_user) {
		/* raw system calls: glibc's wrappers may try to synchronise threads */
		step = STEP_GROUPS;
		if (syscall(SYS_setgroups, r->ctx->n_groups, r->ctx->groups) < 0)
			goto fail;
		step = STEP_GID;
		if (syscall(SYS_setresgid, r->ctx->gid, r->ctx->gid, r->ctx->gid) < 0)
			goto fail;
		step = STEP_UID;
		if (syscall(SYS_setresuid, r->ctx->uid, r->ctx->uid, r->ctx->uid) < 0)
			goto fail;
	}
	/* every fd the daemon opened should be close-on-exec already; make sure */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		/* before Linux 5.11: one fcntl per possible fd, bounded */
		struct rlimit rl;
		rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
		for (int fd = 3; (rlim_t)fd < max && fd < 65536; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	step = STEP_EXEC;
	int err = ENOENT;
	bool eacces = false;
	for (char **c = r->candidates; *c; c++) {
		execve(*c, r->argv, r->env);
		err = errno;
		if (err == EACCES)
			eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
			 err != ETIMEDOUT)
			break;
	}
	errno = eacces && (err == ENOENT || err == ENOTDIR) ? EACCES : err;
fail:
	child_report(status_fd, step, errno);
	_exit(127);
}

/* Forks and execs. 0: *ret_pid runs r->argv; or *fatal holds what failed in
 * the child, which is already reaped (*ret_pid 0). *cg_err: joining a cgroup
 * failed (errno), the process runs regardless. -errno: fork failed. */
int process_spawn(const struct spawn_req *r, pid_t *ret_pid, struct spawn_report *fatal, int *cg_err)
{
	int pfd[2];
	sigset_t all, old;

	*ret_pid = 0;
	fatal->step = 0;
	*cg_err = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if ((pfd[0] = fd_above_stdio(pfd[0])) < 0 || (pfd[1] = fd_above_stdio(pfd[1])) < 0) {
		int e = errno;
		if (pfd[0] >= 0)
			close(pfd[0]);
		if (pfd[1] >= 0)
			close(pfd[1]);
		return -e;
	}
	/* no handler of the daemon may run in the child before it resets them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_exec(r, pfd[1]);
	}
	int fork_err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -fork_err;
	}

	/* EOF when execve closed the pipe (or the child died); blocks for as long
	 * as the child takes to get there, which makes no blocking call */
	struct spawn_report rep[4];
	size_t got = 0;
	for (;;) {
		char *dst = (char *)rep + got;
		char scratch[sizeof(rep)];
		size_t room = sizeof(rep) - got;
		ssize_t n = read(pfd[0], room ? dst : scratch, room ? room : sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			got += (size_t)n;
	}
	close(pfd[0]);
	for (size_t i = 0; i < got / sizeof(rep[0]); i++) {
		if (rep[i].step == STEP_CGROUP)
			*cg_err = rep[i].err;
		else
			*fatal = rep[i];
	}
	if (fatal->step) {
		/* the child _exit()s right after its report */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	*ret_pid = pid;
	return 0;
}

const char *process_step_name(int step)
{
	switch (step) {
	case STEP_SETSID: return "setsid";
	case STEP_CGROUP: return "joining the cgroup";
	case STEP_STDIO: return "redirecting stdio";
	case STEP_CHDIR: return "chdir";
	case STEP_GROUPS: return "setgroups";
	case STEP_GID: return "setgid";
	case STEP_UID: return "setuid";
	case STEP_EXEC: return "exec";
	default: return "start";
	}
}

int process_spawn_open(struct spawn_req *r, const struct run_ctx *ctx, const struct cgroup_set *cg,
		       char *why, size_t whylen)
{
	int fds[2];

	r->log_fd = fd_above_stdio(open(ctx->log_path,
					O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
	if (r->log_fd < 0) {
		int e = errno;
		snprintf(why, whylen, "log file %s: %s", ctx->log_path, strerror(e));
		return -e;
	}
	r->null_fd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (r->null_fd < 0) {
		int e = errno;
		snprintf(why, whylen, "/dev/null: %s", strerror(e));
		return -e;
	}
	size_t n = cgroup_open_procs(cg, fds);
	for (size_t i = 0; i < n; i++) {
		int fd = fd_above_stdio(fds[i]);
		if (fd >= 0)
			r->cg_fds[r->n_cg++] = fd;
	}
	return 0;
}

void process_spawn_close(struct spawn_req *r)
{
	if (r->log_fd >= 0)
		close(r->log_fd);
	if (r->null_fd >= 0)
		close(r->null_fd);
	for (size_t i = 0; i < r->n_cg; i++)
		close(r->cg_fds[i]);
	process_strv_free(r->candidates, false);
	r->candidates = NULL;
	r->log_fd = r->null_fd = -1;
	r->n_cg = 0;
}
