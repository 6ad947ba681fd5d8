/*
 * process_spawn.c — starting one process for the process driver, without
 * stalling the loop: a vfork-style clone made from a libuv threadpool
 * thread, the outcome delivered on the loop.
 *
 * How: process_spawn_new() copies argv, lists the PATH candidates (from
 * the run context, process_ctx.c) and allocates a 64 KiB stack for the
 * child, on the loop. process_spawn_start() queues the rest with
 * uv_queue_work(); on a threadpool thread it makes the container's cgroups
 * and writes its limits (a v1 memory cgroup's mkdir alone is ~1 ms here),
 * makes the task's log and scratch directories when missing (mkdir on ext4
 * costs about as much; the scratch directory is given to the task's user),
 * opens the log file (O_APPEND, 0600) — or, for a container, starts its log
 * monitor (logmon.h) and takes the write end of its pipe — /dev/null for
 * stdin and the cgroup.procs files to join; then, with every signal blocked,
 * clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) starts the child on that
 * stack. The child shares the
 * daemon's memory and makes only async-signal-safe calls and raw system
 * calls: default signal dispositions, setsid(), join the cgroups (write
 * "0"), dup2 stdio, chdir into the scratch directory, setgroups/setresgid/
 * setresuid, chdir into a given workingDirectory (as the user: root's
 * right to enter any directory is not handed on), mark every other fd
 * close-on-exec, unblock signals, execve each PATH candidate. What goes
 * wrong is written into the request itself ({step, errno}); the child then
 * _exit()s. CLONE_VFORK suspends the calling thread — only that thread —
 * until the child has exec'd or exited, so when clone() returns the outcome
 * is known: no pipe, no read. A failed child is reaped on the thread; a
 * running one's pidfd (from CLONE_PIDFD, so no pid-reuse window) and start
 * time are handed to the done callback, which libuv calls on the loop.
 *
 * Why this design (measured with bench/spawn_bench.c, see bench/README.md):
 * fork() copies the daemon's page tables (~1.2–1.5 ms a launch on this
 * host, on the loop whatever then waits for the exec), and a vfork on the
 * loop thread makes the loop wait for the child's work before execve and
 * for the execve (~3 ms a child here under load, a third of it joining a
 * v1 memory cgroup). On a threadpool thread the loop waits for neither
 * (longest stall for 10 children ~0.4 ms against ~13 ms for fork with the
 * pipe on the loop), and with no page tables to copy the CPU time per
 * launch drops too (~0.1 against ~0.7 ms).
 *
 * Promises: the child never returns into the daemon's code, never
 * allocates, never takes a lock, never runs a daemon signal handler;
 * nothing of the request is touched by the loop while it is queued or
 * running (it owns copies and a run-context reference) but an atomic
 * cancel flag, read once before the clone; done is called exactly once,
 * from the loop, with 0 or -ECANCELED (process_spawn_cancel() came before
 * the clone). A file without a #! line is an exec error
 * (ENOEXEC), never handed to a shell; EACCES on one PATH candidate wins over
 * ENOENT on the others, as execvp does.
 */
#include "process_internal.h"
#include "logmon.h"
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000   /* Linux 5.2 */
#endif

#define CHILD_STACK ((size_t)64 << 10)

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

/* One read of a /proc file (they are produced whole), NUL-terminated; bytes
 * read or -errno. */
ssize_t process_read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

int process_start_time(pid_t pid, unsigned long long *ret)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = process_read_proc(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm (field 2) may hold spaces and parentheses: fields resume after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return -EIO;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EIO;
	*ret = v;
	return 0;
}

/* ---- the child ------------------------------------------------------------- */

/*
 * Between clone() and execve(), in the daemon's memory, on the request's
 * stack: async-signal-safe calls only (no malloc, no stdio, no locks), raw
 * system calls where glibc would coordinate threads (set*id), errors into
 * the request. AddressSanitizer's instrumentation stays out: this stack is
 * not one it knows, and its reports would land in the container's log.
 */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
	struct spawn *s = arg;
	const struct run_ctx *x = s->ctx;
	struct sigaction dfl;
	sigset_t none;
	enum spawn_step step;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);

	step = STEP_SETSID;
	if (setsid() < 0)
		goto fail;
	for (size_t i = 0; i < s->n_cg; i++) {
		ssize_t n;
		do
			n = write(s->cg_fds[i], "0", 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			s->cg_err = n < 0 ? errno : EIO;   /* not fatal: runs without that cgroup */
	}
	step = STEP_STDIO;
	if (dup2(s->null_fd, 0) < 0 || dup2(s->log_fd, 1) < 0 || dup2(s->log_fd, 2) < 0)
		goto fail;
	step = STEP_CHDIR;
	if (!x->cwd_as_user && chdir(x->cwd) < 0)
		goto fail;
	if (x->set_user) {
		/* raw system calls: glibc's wrappers would signal the daemon's threads */
		step = STEP_GROUPS;
		if (syscall(SYS_setgroups, x->n_groups, x->groups) < 0)
			goto fail;
		step = STEP_GID;
		if (syscall(SYS_setresgid, x->gid, x->gid, x->gid) < 0)
			goto fail;
		step = STEP_UID;
		if (syscall(SYS_setresuid, x->uid, x->uid, x->uid) < 0)
			goto fail;
	}
	step = STEP_CHDIR;   /* as the user: root's right to enter any directory is not handed on */
	if (x->cwd_as_user && chdir(x->cwd) < 0)
		goto fail;
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
	for (char **c = s->candidates; *c; c++) {
		execve(*c, s->argv, x->env);
		err = errno;
		if (err == EACCES)
			eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
			 err != ETIMEDOUT)
			break;
	}
	errno = eacces && (err == ENOENT || err == ENOTDIR) ? EACCES : err;
fail:
	s->fatal.err = errno;
	s->fatal.step = step;
	_exit(127);
}

/* ---- the threadpool side ------------------------------------------------------ */

/* The task's scratch directory (0700) becomes its user's while the daemon
 * still owns it: the first container that runs as someone else takes it.
 * Through an fd opened without following a symlink. */
static int give_scratch(const struct run_ctx *x)
{
	struct stat st;
	int r = 0, fd = open(x->scratch_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (st.st_uid == geteuid() && fchown(fd, x->uid, x->gid) < 0))
		r = -errno;
	close(fd);
	return r;
}

/* On the threadpool: the container's cgroups (launch), its directories, the
 * files the child gets; 0, or -errno with s->prep_why. Nothing here blocks
 * the loop. */
static int prepare(struct spawn *s)
{
	const struct run_ctx *x = s->ctx;
	int fds[2], r;

	if (s->cg_host)
		cgroup_create(s->cg_host, s->cg_name[0] ? s->cg_name : NULL, &s->cg_limits, &s->cg,
			      &s->cg_warn);
	if ((r = statefile_make_dir(x->log_path, true)) < 0) {
		snprintf(s->prep_why, sizeof(s->prep_why), "log file %s: %s", x->log_path, strerror(-r));
		return r;
	}
	if (x->scratch_dir && ((r = statefile_make_dir(x->scratch_dir, false)) < 0 ||
			       (x->own_scratch && (r = give_scratch(x)) < 0))) {
		snprintf(s->prep_why, sizeof(s->prep_why), "scratch directory %s: %s", x->scratch_dir, strerror(-r));
		return r;
	}
	if (s->mon_program) {
		r = logmon_start(s->mon_program, x->log_path, s->mon_max, s->mon_keep, &s->log_fd,
				 &s->mon_fd, s->prep_why, sizeof(s->prep_why));
		if (r < 0)
			return r;
	} else {
		s->log_fd = fd_above_stdio(open(x->log_path,
						O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
	}
	if (s->log_fd < 0) {
		r = -errno;
		snprintf(s->prep_why, sizeof(s->prep_why), "log file %s: %s", x->log_path, strerror(-r));
		return r;
	}
	s->null_fd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (s->null_fd < 0) {
		r = -errno;
		snprintf(s->prep_why, sizeof(s->prep_why), "/dev/null: %s", strerror(-r));
		return r;
	}
	size_t n = cgroup_open_procs(&s->cg, fds);
	for (size_t i = 0; i < n; i++) {
		int fd = fd_above_stdio(fds[i]);
		if (fd >= 0)
			s->cg_fds[s->n_cg++] = fd;
	}
	return 0;
}

/* On a threadpool thread: prepare, clone and wait (CLONE_VFORK) for exec or
 * exit. */
static void spawn_work(uv_work_t *w)
{
	struct spawn *s = w->data;
	sigset_t all, old;
	int pidfd = -1;

	if ((s->prep_err = prepare(s)) < 0)
		return;
	if (atomic_load(&s->cancel)) {
		s->skipped = true;   /* stopped or given up meanwhile */
		return;
	}

	/* no handler of the daemon may run in the child before it resets them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(child_main, s->stack + CHILD_STACK,
			  CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, s, &pidfd);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		s->clone_err = e;
		return;
	}
	if (s->fatal.step) {
		/* the child _exit()s right after its report */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(pidfd);
		return;
	}
	s->pid = pid;
	s->pidfd = pidfd;
	(void)process_start_time(pid, &s->start_time);
}

static void spawn_after(uv_work_t *w, int status)
{
	struct spawn *s = w->data;

	s->queued = false;
	s->done(s, status == UV_ECANCELED || s->skipped ? -ECANCELED : 0);
}

/* ---- requests ------------------------------------------------------------------ */

int process_spawn_new(struct run_ctx *ctx, char *const *argv, struct spawn **ret)
{
	int r;
	struct spawn *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->log_fd = s->null_fd = s->pidfd = s->mon_fd = -1;
	atomic_init(&s->cancel, false);
	s->ctx = process_ctx_ref(ctx);
	s->work.data = s;
	if ((r = process_strv_copy(argv, &s->argv)) < 0 ||
	    (r = process_exec_candidates(argv[0], ctx->env, &s->candidates)) < 0 ||
	    !(s->stack = malloc(CHILD_STACK))) {
		process_spawn_free(s);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = s;
	return 0;
}

void process_spawn_make_cgroups(struct spawn *s, struct cgroup_host *h, const char *name,
				const struct cgroup_limits *lim)
{
	s->cg_host = h;
	snprintf(s->cg_name, sizeof(s->cg_name), "%s", name ? name : "");
	s->cg_limits = *lim;
}

void process_spawn_monitor_log(struct spawn *s, const char *program, uint64_t max, unsigned keep)
{
	s->mon_program = program;
	s->mon_max = max;
	s->mon_keep = keep;
}

void process_spawn_join_cgroups(struct spawn *s, const struct cgroup_set *cg)
{
	s->cg = *cg;
}

int process_spawn_start(uv_loop_t *loop, struct spawn *s, process_spawn_fn done, void *arg)
{
	s->done = done;
	s->arg = arg;
	int r = uv_queue_work(loop, &s->work, spawn_work, spawn_after);
	if (r == 0)
		s->queued = true;
	return r;
}

bool process_spawn_cancel(struct spawn *s)
{
	atomic_store(&s->cancel, true);
	return s->queued && uv_cancel((uv_req_t *)&s->work) == 0;
}

void process_spawn_free(struct spawn *s)
{
	if (!s)
		return;
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->null_fd >= 0)
		close(s->null_fd);
	for (size_t i = 0; i < s->n_cg; i++)
		close(s->cg_fds[i]);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->mon_fd >= 0)
		close(s->mon_fd);
	process_strv_free(s->argv, false);
	process_strv_free(s->candidates, false);
	free(s->stack);
	process_ctx_unref(s->ctx);
	free(s);
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

int process_spawn_reason(const struct spawn *s, const char *argv0, char *why, size_t whylen)
{
	const struct run_ctx *x = s->ctx;
	int e = s->fatal.err;

	if (s->prep_err) {
		snprintf(why, whylen, "%s", s->prep_why);
		return s->prep_err;
	}
	if (s->clone_err) {
		snprintf(why, whylen, "clone: %s", strerror(s->clone_err));
		return -s->clone_err;
	}
	switch (s->fatal.step) {
	case 0:
		return 0;
	case STEP_EXEC:
		snprintf(why, whylen, "exec %s: %s", argv0, strerror(e));
		break;
	case STEP_CHDIR:
		snprintf(why, whylen, "chdir %s: %s", x->cwd, strerror(e));
		break;
	case STEP_GROUPS:
	case STEP_GID:
	case STEP_UID:
		snprintf(why, whylen, "user %s: %s: %s", x->user ? x->user : "?",
			 process_step_name(s->fatal.step), strerror(e));
		break;
	default:
		snprintf(why, whylen, "%s: %s", process_step_name(s->fatal.step), strerror(e));
		break;
	}
	return e ? -e : -EIO;
}
