/*
 * test_driver_process.c — the process driver with real processes on a real
 * libuv loop: exit codes, exec failures, the exact environment, PATH lookup in
 * that environment, working directory, stdout+stderr appended to the log,
 * stdin from /dev/null and no inherited fds, stop() escalating to SIGKILL for
 * the whole process group, external kills, save/forget/adopt (in this
 * process and from another one, as after a daemon restart), adopting a
 * process that is gone, cgroup limits and an OOM kill, probes, users, and
 * asynchronous launches: the loop turns while launches are prepared, stop()
 * before `started` cancels, many launches from one loop turn, fds under
 * concurrent launches, forget() before `started`, a probe orphaned while it
 * starts.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for a
 * fixed time. The memory test needs a writable memory cgroup and fails, with
 * the driver's own explanation, when the driver finds none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "driver.h"

#define MIB ((uint64_t)1 << 20)

/* What the driver told one owner. */
struct rec {
	int n_started;
	int start_err;
	char start_reason[512];
	int n_exited;
	int exit_code;
	bool oom;
	char exit_reason[256];
	bool exited_before_started;
	int n_logs;
	char logs[8][1536];
	struct drv_container *release_in_cb;   /* release from `exited` / a failed `started` */
};

static void ev_started(void *owner, int err, const char *reason)
{
	struct rec *r = owner;
	r->n_started++;
	r->start_err = err;
	snprintf(r->start_reason, sizeof(r->start_reason), "%s", reason ? reason : "");
	if (err && r->release_in_cb) {
		driver_process_ops.release(r->release_in_cb);
		r->release_in_cb = NULL;
	}
}

static void ev_exited(void *owner, const struct drv_exit *e)
{
	struct rec *r = owner;
	if (!r->n_started)
		r->exited_before_started = true;
	r->n_exited++;
	r->exit_code = e->exit_code;
	r->oom = e->oom_killed;
	snprintf(r->exit_reason, sizeof(r->exit_reason), "%s", e->reason ? e->reason : "");
	if (r->release_in_cb) {
		driver_process_ops.release(r->release_in_cb);
		r->release_in_cb = NULL;
	}
}

static void ev_log(void *owner, int level, const char *msg)
{
	struct rec *r = owner;
	(void)level;
	if (r->n_logs < 8)
		snprintf(r->logs[r->n_logs++], sizeof(r->logs[0]), "%s", msg);
}

static const struct drv_events events = {ev_started, ev_exited, ev_log};

/* argv and env arrays from literals (which -Wwrite-strings makes const),
 * freed by the teardown */
static char *allocs[512];
static size_t n_allocs;

static char *const *make_strv(const char *first, ...)
{
	const char *items[32];
	size_t n = 0, bytes = 0;
	va_list ap;

	va_start(ap, first);
	for (const char *x = first; x && n < 32; x = va_arg(ap, const char *))
		items[n++] = x;
	va_end(ap);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(items[i]) + 1;
	char **v = malloc((n + 1) * sizeof(char *) + bytes);
	assert_non_null(v);
	assert_true(n_allocs < 512);
	allocs[n_allocs++] = (char *)v;
	char *w = (char *)(v + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(items[i]) + 1;
		memcpy(w, items[i], len);
		v[i] = w;
		w += len;
	}
	v[n] = NULL;
	return v;
}

#define V(...) make_strv(__VA_ARGS__, (const char *)NULL)

struct fx {
	uv_loop_t loop;
	uv_timer_t tick;
	struct driver *d;
	char dir[64];        /* scratch directory */
	char log[128];       /* scratch/out.log */
	char task_id[33];
};

/* ---- loop helpers ------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

typedef bool (*cond_fn)(void *arg);

/* Turns the loop until cond holds or ms have passed; whether it held. */
static bool run_until(struct fx *f, cond_fn cond, void *arg, unsigned ms)
{
	uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
	bool ok;

	uv_timer_start(&f->tick, on_tick, 10, 10);
	while (!(ok = cond(arg)) && uv_hrtime() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->tick);
	return ok;
}

static bool is_started(void *arg)
{
	return ((struct rec *)arg)->n_started > 0;
}

static bool is_exited(void *arg)
{
	return ((struct rec *)arg)->n_exited > 0;
}

static bool pid_gone(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* a zombie waiting for its (new) parent is gone too */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

static bool cond_pid_gone(void *arg)
{
	return pid_gone((pid_t)(intptr_t)arg);
}

static ssize_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	for (ssize_t n; got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0; )
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

struct file_cond {
	const char *path;
	const char *want;    /* NULL: any non-empty content */
};

static bool file_has(void *arg)
{
	struct file_cond *fc = arg;
	char buf[4096];
	if (read_text(fc->path, buf, sizeof(buf)) <= 0)
		return false;
	return !fc->want || !strcmp(buf, fc->want);
}

static pid_t read_pid_file(struct fx *f, const char *path)
{
	struct file_cond fc = {path, NULL};
	char buf[64];

	/* written to a temporary name and renamed: never seen half-written */
	assert_true(run_until(f, file_has, &fc, 5000));
	assert_true(read_text(path, buf, sizeof(buf)) > 0);
	long v = strtol(buf, NULL, 10);
	assert_true(v > 1);
	return (pid_t)v;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- fixture ------------------------------------------------------------ */

static void open_driver(struct fx *f, const char *cgroup_root)
{
	struct drv_config cfg = {.cgroup_root = cgroup_root, .state_dir = f->dir};
	char err[512] = "";

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
	int r = driver_process_ops.init(&f->loop, &cfg, &events, &f->d, err, sizeof(err));
	if (r < 0)
		fail_msg("init: %s", err);
}

static void close_driver(struct fx *f)
{
	driver_process_ops.shutdown(f->d);
	f->d = NULL;
	uv_close((uv_handle_t *)&f->tick, NULL);
	/* close callbacks run on the next turns, and a spawn still in flight
	 * (of a forgotten handle) ends; nothing may stay active */
	uint64_t deadline = uv_hrtime() + 10000000000u;
	int r;
	while ((r = uv_loop_close(&f->loop)) == UV_EBUSY && uv_hrtime() < deadline) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		sched_yield();
	}
	assert_int_equal(r, 0);
}

static int setup(void **state)
{
	static unsigned counter;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tripline-drvproc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->log, sizeof(f->log), "%s/out.log", f->dir);
	snprintf(f->task_id, sizeof(f->task_id), "%016" PRIx64 "%08x%08x", uv_hrtime(),
		 (unsigned)getpid(), ++counter);
	open_driver(f, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->d)
		close_driver(f);
	remove_tree(f->dir);
	free(f);
	while (n_allocs)
		free(allocs[--n_allocs]);
	return 0;
}


static struct drv_spec spec_of(struct fx *f, const char *name, char *const *argv)
{
	struct drv_spec s;

	memset(&s, 0, sizeof(s));
	s.task_id = f->task_id;
	s.task_arn = "arn:aws:ecs:local:000000000000:task/default/test";
	s.container_name = name;
	s.argv = argv;
	s.env = V("PATH=/usr/bin:/bin");
	s.log_path = f->log;
	s.scratch_dir = f->dir;
	return s;
}

/* launch() returns a handle and calls nothing before it returns. */
static struct drv_container *launch(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = NULL;

	memset(r, 0, sizeof(*r));
	assert_int_equal(driver_process_ops.launch(f->d, s, r, &c), 0);
	assert_non_null(c);
	assert_int_equal(r->n_started, 0);
	assert_int_equal(r->n_exited, 0);
	return c;
}

/* Launches, waits for a successful `started`. */
static struct drv_container *start(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = launch(f, s, r);

	assert_true(run_until(f, is_started, r, 5000));
	if (r->start_err)
		fail_msg("started %d: %s", r->start_err, r->start_reason);
	return c;
}

/* Runs s to its end: the exit code, after `started` ok. */
static int run_to_exit(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = start(f, s, r);

	assert_true(run_until(f, is_exited, r, 10000));
	assert_false(r->exited_before_started);
	assert_int_equal(r->n_started, 1);
	assert_int_equal(r->n_exited, 1);
	driver_process_ops.release(c);
	return r->exit_code;
}

static pid_t pid_of(const struct drv_container *c)
{
	const char *id = driver_process_ops.runtime_id(c);
	char *end;
	long v = strtol(id, &end, 10);

	assert_true(*id && !*end && v > 1);
	return (pid_t)v;
}

static void assert_log(const char *path, const char *want)
{
	char buf[8192];
	assert_true(read_text(path, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, want);
}

static void assert_limits_applied(const struct rec *r);
static int probe(struct fx *f, struct drv_container *c, char *const *argv, unsigned timeout_s);
static bool dir_gone(void *arg);

/* ---- exits and exec failures ------------------------------------------- */

static void test_exit_zero(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("true");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	assert_string_equal(r.start_reason, "");
	pid_t pid = pid_of(c);
	assert_true(run_until(f, is_exited, &r, 5000));
	assert_int_equal(r.exit_code, 0);
	assert_false(r.oom);
	assert_string_equal(r.exit_reason, "");
	/* reaped by the driver: no zombie left behind */
	assert_true(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);
	driver_process_ops.release(c);
}

static void test_exit_code(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("/bin/sh", "-c", "exit 3");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	assert_int_equal(run_to_exit(f, &s, &r), 3);
}

static void expect_start_failure(struct fx *f, const struct drv_spec *s, int err, const char *part1,
				 const char *part2)
{
	struct rec r;
	struct drv_container *c = launch(f, s, &r);

	assert_true(run_until(f, is_started, &r, 5000));
	assert_int_equal(r.start_err, err);
	if (!strstr(r.start_reason, part1) || (part2 && !strstr(r.start_reason, part2)))
		fail_msg("reason \"%s\" lacks \"%s\" / \"%s\"", r.start_reason, part1, part2 ? part2 : "");
	assert_string_equal(driver_process_ops.runtime_id(c), "");
	assert_int_equal(driver_process_ops.stop(c, 1), 0);   /* harmless */
	/* after a failed start, no `exited` ever */
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.n_exited, 0);
	assert_int_equal(r.n_started, 1);
	driver_process_ops.release(c);
}

static void test_exec_failures(void **state)
{
	struct fx *f = *state;
	char noexec[128];
	char *const *argv1 = V("tripline-no-such-program");
	char *const *argv2 = V("/nonexistent/tripline-prog");
	struct drv_spec s = spec_of(f, "main", argv1);

	expect_start_failure(f, &s, -ENOENT, "exec tripline-no-such-program",
			     "No such file or directory");
	s.argv = argv2;
	expect_start_failure(f, &s, -ENOENT, "exec /nonexistent/tripline-prog", NULL);

	snprintf(noexec, sizeof(noexec), "%s/noexec", f->dir);
	write_file(noexec, "#!/bin/sh\nexit 0\n", 0644);
	char *const *argv3 = V(noexec);
	s.argv = argv3;
	/* no x bit at all: refused even to root */
	expect_start_failure(f, &s, -EACCES, noexec, "Permission denied");

	/* executable, but neither ELF nor #!: never handed to a shell */
	char garbage[128];
	snprintf(garbage, sizeof(garbage), "%s/garbage", f->dir);
	write_file(garbage, "echo this is not a program\n", 0755);
	char *const *argv5 = V(garbage);
	s.argv = argv5;
	expect_start_failure(f, &s, -ENOEXEC, garbage, "Exec format error");
	/* a directory */
	char *const *argv6 = V(f->dir);
	s.argv = argv6;
	expect_start_failure(f, &s, -EACCES, f->dir, "Permission denied");

	char *const *argv4 = V("true");
	s.argv = argv4;
	s.working_directory = "/nonexistent/dir";
	expect_start_failure(f, &s, -ENOENT, "chdir /nonexistent/dir", NULL);

	s.working_directory = NULL;
	s.log_path = "/nonexistent/dir/out.log";
	expect_start_failure(f, &s, -ENOENT, "log file /nonexistent/dir/out.log", NULL);
}

static void test_invalid_spec(void **state)
{
	struct fx *f = *state;
	char *empty[] = {NULL};   /* no argv[0] */
	struct drv_spec s = spec_of(f, "main", empty);
	struct drv_container *c = NULL;
	struct rec r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(driver_process_ops.launch(f->d, &s, &r, &c), -EINVAL);
	assert_null(c);
	s.argv = NULL;
	assert_int_equal(driver_process_ops.launch(f->d, &s, &r, &c), -EINVAL);
	assert_null(c);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.n_started, 0);
}

/* The orchestrator releases a handle from inside `exited` (or a failed
 * `started`): the driver must not touch it afterwards (ASan watches). */
static void test_release_from_callbacks(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("/bin/sh", "-c", "echo bye; exit 4");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	s.memory_limit = 64 * MIB;   /* a cgroup to remove too */
	struct drv_container *c = launch(f, &s, &r);
	r.release_in_cb = c;
	assert_true(run_until(f, is_exited, &r, 5000));
	assert_int_equal(r.exit_code, 4);
	assert_null(r.release_in_cb);

	char *const *none = V("tripline-no-such-program");
	s.argv = none;
	c = launch(f, &s, &r);
	r.release_in_cb = c;
	assert_true(run_until(f, is_started, &r, 5000));
	assert_int_equal(r.start_err, -ENOENT);
	assert_null(r.release_in_cb);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.n_exited, 0);
}

/* ---- what the process gets --------------------------------------------- */

static void test_env_exact(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("env");
	char *const *env = V("PATH=/usr/bin:/bin", "TRIPLINE_VAR=hello world", "EMPTY=");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	/* nothing of the daemon's environment is inherited */
	assert_int_equal(setenv("TRIPLINE_LEAK", "daemon", 1), 0);
	s.env = env;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "PATH=/usr/bin:/bin\nTRIPLINE_VAR=hello world\nEMPTY=\n");
	unsetenv("TRIPLINE_LEAK");

	/* a variable read by a program (the shell here, as the test's choice) */
	char out[128], script[256];
	snprintf(out, sizeof(out), "%s/var.txt", f->dir);
	snprintf(script, sizeof(script), "printf %%s \"$TRIPLINE_VAR\" > %s", out);
	char *const *argv2 = V("/bin/sh", "-c", script);
	s.argv = argv2;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(out, "hello world");
}

static void test_path_lookup(void **state)
{
	struct fx *f = *state;
	char bin[128], prog[160], path_env[160];
	char *const *argv = V("tripline-hello");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	snprintf(bin, sizeof(bin), "%s/bin", f->dir);
	assert_int_equal(mkdir(bin, 0755), 0);
	snprintf(prog, sizeof(prog), "%s/tripline-hello", bin);
	write_file(prog, "#!/bin/sh\necho hello from PATH\n", 0755);

	/* found through the container's PATH (an empty entry is skipped) */
	snprintf(path_env, sizeof(path_env), "PATH=::/nonexistent:%s", bin);
	char *const *env = V(path_env);
	s.env = env;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "hello from PATH\n");

	/* not through the daemon's PATH: without PATH, the default one is used */
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char daemon_path[200];
	snprintf(daemon_path, sizeof(daemon_path), "%s:%s", bin, old ? old : "/usr/bin:/bin");
	setenv("PATH", daemon_path, 1);
	char *const *no_path = V("X=1");
	s.env = no_path;
	expect_start_failure(f, &s, -ENOENT, "exec tripline-hello", NULL);
	char *const *argv2 = V("env");   /* the default PATH does hold env */
	s.argv = argv2;
	unlink(f->log);
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "X=1\n");
	if (old)
		setenv("PATH", old, 1);
	free(old);
}

static void test_working_directory(void **state)
{
	struct fx *f = *state;
	char sub[128], want[PATH_MAX + 2], real[PATH_MAX];
	char *const *argv = V("pwd");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	snprintf(sub, sizeof(sub), "%s/work", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	s.working_directory = sub;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_non_null(realpath(sub, real));
	snprintf(want, sizeof(want), "%s\n", real);
	assert_log(f->log, want);

	/* default: the scratch directory */
	unlink(f->log);
	s.working_directory = NULL;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_non_null(realpath(f->dir, real));
	snprintf(want, sizeof(want), "%s\n", real);
	assert_log(f->log, want);
}

static void test_log_file(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("/bin/sh", "-c", "echo out; echo err >&2; echo out2");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;
	struct stat st;

	/* created 0600 */
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_log(f->log, "out\nerr\nout2\n");
	/* appended to, never truncated */
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "out\nerr\nout2\nout\nerr\nout2\n");
}

static void test_stdio_and_fds(void **state)
{
	struct fx *f = *state;
	char *const *argv1 = V("readlink", "/proc/self/fd/0");
	char *const *argv2 = V("ls", "/proc/self/fd");
	struct drv_spec s = spec_of(f, "main", argv1);
	struct rec r;

	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "/dev/null\n");

	/* an fd the daemon left inheritable still does not reach the process:
	 * ls sees 0, 1, 2 and the directory it reads (3) */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 3);
	unlink(f->log);
	s.argv = argv2;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	close(leak);
	assert_log(f->log, "0\n1\n2\n3\n");
}

/* A daemon ignores SIGPIPE and blocks signals of its own; its processes
 * start with every disposition at default and nothing blocked. */
static void test_signals_reset(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status");
	struct drv_spec s = spec_of(f, "main", argv);
	struct sigaction ign, old_pipe;
	sigset_t usr1, old_mask;
	struct rec r;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &usr1, &old_mask), 0);
	int code = run_to_exit(f, &s, &r);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	assert_int_equal(code, 0);
	assert_log(f->log, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

/* ---- stopping and dying ------------------------------------------------ */

/* Fields 5 (pgrp) and 6 (session) of /proc/<pid>/stat. */
static void proc_group(pid_t pid, long *pgrp, long *sid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	assert_true(read_text(path, buf, sizeof(buf)) > 0);
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %ld %ld", pgrp, sid), 2);
}

static void stop_escalates_to_kill(struct fx *f)
{
	char childfile[128], script[512];
	struct rec r;

	snprintf(childfile, sizeof(childfile), "%s/child.pid", f->dir);
	unlink(childfile);
	snprintf(script, sizeof(script),
		 "trap '' TERM; sleep 100 & echo $! > %s.tmp; mv %s.tmp %s; sleep 100; wait",
		 childfile, childfile, childfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);

	struct drv_container *c = start(f, &s, &r);
	pid_t pid = pid_of(c);
	long pgrp, sid;
	proc_group(pid, &pgrp, &sid);
	assert_int_equal(pgrp, pid);   /* own process group */
	assert_int_equal(sid, pid);    /* and session */
	pid_t child = read_pid_file(f, childfile);
	assert_false(pid_gone(child));

	assert_int_equal(driver_process_ops.stop(c, 1), 0);
	assert_int_equal(driver_process_ops.stop(c, 1), 0);   /* idempotent */
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 137);   /* SIGTERM was ignored: SIGKILL */
	assert_int_equal(r.n_exited, 1);
	assert_true(run_until(f, cond_pid_gone, (void *)(intptr_t)child, 5000));
	assert_int_equal(driver_process_ops.stop(c, 1), 0);   /* after exit too */
	driver_process_ops.release(c);
}

static void test_stop_escalates_to_kill(void **state)
{
	struct fx *f = *state;

	stop_escalates_to_kill(f);
	/* by the process group alone, without cgroups */
	close_driver(f);
	open_driver(f, "");
	stop_escalates_to_kill(f);
}

static void test_stop_term(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	assert_int_equal(driver_process_ops.stop(c, 60), 0);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 143);
	driver_process_ops.release(c);
}

/* The leader exits 0 and leaves a background child: it is killed. */
static void leader_exit_kills_group(struct fx *f)
{
	char childfile[128], script[512];
	struct rec r;

	snprintf(childfile, sizeof(childfile), "%s/child.pid", f->dir);
	unlink(childfile);
	snprintf(script, sizeof(script), "sleep 100 & echo $! > %s.tmp; mv %s.tmp %s; exit 0",
		 childfile, childfile, childfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);

	struct drv_container *c = start(f, &s, &r);
	pid_t child = read_pid_file(f, childfile);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 0);
	assert_true(run_until(f, cond_pid_gone, (void *)(intptr_t)child, 5000));
	driver_process_ops.release(c);
}

static void test_leader_exit_kills_group(void **state)
{
	struct fx *f = *state;

	leader_exit_kills_group(f);
	/* by the process group alone, without cgroups */
	close_driver(f);
	open_driver(f, "");
	leader_exit_kills_group(f);
}

/* A child that left the process group (setsid) is still in the cgroup. */
static void test_cgroup_catches_escapee(void **state)
{
	struct fx *f = *state;
	char childfile[128], script[512];
	struct rec r;

	snprintf(childfile, sizeof(childfile), "%s/child.pid", f->dir);
	snprintf(script, sizeof(script), "setsid sleep 100 & echo $! > %s.tmp; mv %s.tmp %s; exit 0",
		 childfile, childfile, childfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);

	s.memory_limit = 256 * MIB;   /* also: a warning here means no cgroup */
	struct drv_container *c = start(f, &s, &r);
	assert_limits_applied(&r);
	pid_t child = read_pid_file(f, childfile);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 0);
	/* `exited` waits for the cgroup to be empty */
	assert_true(pid_gone(child));
	driver_process_ops.release(c);
}

static void test_external_kill(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	assert_int_equal(kill(pid_of(c), SIGKILL), 0);
	assert_true(run_until(f, is_exited, &r, 5000));
	assert_int_equal(r.exit_code, 137);
	assert_false(r.oom);
	driver_process_ops.release(c);
}

/* ---- save, forget, adopt ----------------------------------------------- */

static json_t *save_checked(const struct drv_container *c, pid_t pid)
{
	char boot[64];
	json_t *st = driver_process_ops.save(c);

	assert_non_null(st);
	assert_true(json_is_object(st));
	assert_int_equal(json_integer_value(json_object_get(st, "pid")), pid);
	assert_true(json_is_integer(json_object_get(st, "start_time")));
	assert_true(json_integer_value(json_object_get(st, "start_time")) > 0);
	assert_true(read_text("/proc/sys/kernel/random/boot_id", boot, sizeof(boot)) > 0);
	boot[strcspn(boot, "\n")] = '\0';
	assert_string_equal(json_string_value(json_object_get(st, "boot_id")), boot);
	json_t *cg = json_object_get(st, "cgroup");
	assert_true(json_is_string(cg) || json_is_null(cg));
	return st;
}

static void test_adopt_in_process(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r, r2;
	char id[16];

	struct drv_container *c = start(f, &s, &r);
	pid_t pid = pid_of(c);
	snprintf(id, sizeof(id), "%s", driver_process_ops.runtime_id(c));
	json_t *st = save_checked(c, pid);
	driver_process_ops.forget(c);
	close_driver(f);
	assert_false(pid_gone(pid));   /* forget leaves it running */
	assert_int_equal(r.n_exited, 0);

	/* a new driver on a new loop, as after a restart */
	open_driver(f, NULL);
	memset(&r2, 0, sizeof(r2));
	c = NULL;
	assert_int_equal(driver_process_ops.adopt(f->d, &s, st, &r2, &c), 0);
	json_decref(st);
	assert_non_null(c);
	assert_string_equal(driver_process_ops.runtime_id(c), id);
	assert_int_equal(driver_process_ops.stop(c, 5), 0);
	assert_true(run_until(f, is_exited, &r2, 10000));
	assert_int_equal(r2.n_started, 0);   /* never for adopt() */
	/* this test process is still its parent: the code is known */
	assert_int_equal(r2.exit_code, 143);
	assert_true(pid_gone(pid));
	driver_process_ops.release(c);
}

/* Another process launches `sleep 100`, saves, forgets and exits, as a daemon
 * that stops and leaves its tasks running. Its state comes through a pipe. */
static json_t *launch_elsewhere(struct fx *f, const struct drv_spec *s)
{
	int p[2];
	char buf[4096];
	size_t got = 0;

	assert_int_equal(pipe(p), 0);
	pid_t helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		struct fx g;
		struct rec r;
		struct drv_container *c = NULL;
		memset(&g, 0, sizeof(g));
		memset(&r, 0, sizeof(r));
		close(p[0]);
		if (uv_loop_init(&g.loop) || uv_timer_init(&g.loop, &g.tick) ||
		    driver_process_ops.init(&g.loop, NULL, &events, &g.d, buf, sizeof(buf)) ||
		    driver_process_ops.launch(g.d, s, &r, &c) || !run_until(&g, is_started, &r, 5000) ||
		    r.start_err)
			_exit(1);
		json_t *st = driver_process_ops.save(c);
		char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
		if (!text || write(p[1], text, strlen(text)) != (ssize_t)strlen(text))
			_exit(1);
		driver_process_ops.forget(c);
		driver_process_ops.shutdown(g.d);
		_exit(0);
	}
	close(p[1]);
	for (ssize_t n; got + 1 < sizeof(buf) && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0; )
		got += (size_t)n;
	close(p[0]);
	buf[got] = '\0';
	int status;
	assert_int_equal(waitpid(helper, &status, 0), helper);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	json_t *st = json_loads(buf, 0, NULL);
	assert_non_null(st);
	(void)f;
	return st;
}

static void test_adopt_after_restart(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct drv_container *c = NULL;
	struct rec r;
	char id[16];

	json_t *st = launch_elsewhere(f, &s);
	pid_t pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
	assert_true(pid > 1);
	assert_false(pid_gone(pid));
	assert_true(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);   /* not our child */
	snprintf(id, sizeof(id), "%d", (int)pid);

	memset(&r, 0, sizeof(r));
	assert_int_equal(driver_process_ops.adopt(f->d, &s, st, &r, &c), 0);
	assert_non_null(c);
	assert_string_equal(driver_process_ops.runtime_id(c), id);
	json_t *again = save_checked(c, pid);
	assert_true(json_equal(again, st));
	json_decref(again);
	json_decref(st);
	/* probes run in the adopted container's context */
	assert_int_equal(probe(f, c, V("true"), 5), 0);
	assert_int_equal(probe(f, c, V("false"), 5), 1);

	assert_int_equal(driver_process_ops.stop(c, 5), 0);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.n_started, 0);
	assert_int_equal(r.n_exited, 1);
	assert_int_equal(r.exit_code, -1);   /* not our child: unknown */
	assert_true(strstr(r.exit_reason, "unknown") != NULL);
	assert_true(run_until(f, cond_pid_gone, (void *)(intptr_t)pid, 5000));
	driver_process_ops.release(c);
}

static void expect_adopt_gone(struct fx *f, const struct drv_spec *s, json_t *st)
{
	struct drv_container *c = NULL;
	struct rec r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(driver_process_ops.adopt(f->d, s, st, &r, &c), 0);
	assert_non_null(c);
	assert_int_equal(r.n_exited, 0);   /* from the loop, not from adopt() */
	assert_true(run_until(f, is_exited, &r, 5000));
	assert_int_equal(r.n_started, 0);
	assert_int_equal(r.exit_code, -1);
	assert_string_equal(r.exit_reason, "exited while the daemon was down; exit code unknown");
	driver_process_ops.release(c);
}

static void test_adopt_gone(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	pid_t pid = pid_of(c);
	json_t *st = save_checked(c, pid);

	/* the same pid with another start time is another process: left alone */
	json_t *bogus = json_deep_copy(st);
	json_object_set_new(bogus, "start_time",
			    json_integer(json_integer_value(json_object_get(st, "start_time")) + 1));
	json_object_set_new(bogus, "cgroup", json_null());
	expect_adopt_gone(f, &s, bogus);
	json_decref(bogus);
	assert_false(pid_gone(pid));

	/* another boot */
	bogus = json_deep_copy(st);
	json_object_set_new(bogus, "boot_id", json_string("00000000-0000-0000-0000-000000000000"));
	json_object_set_new(bogus, "cgroup", json_null());
	expect_adopt_gone(f, &s, bogus);
	json_decref(bogus);
	assert_false(pid_gone(pid));

	/* really gone */
	assert_int_equal(driver_process_ops.stop(c, 0), 0);
	assert_true(run_until(f, is_exited, &r, 5000));
	driver_process_ops.release(c);
	expect_adopt_gone(f, &s, st);
	json_decref(st);
}

static void test_adopt_not_ours(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("true");
	struct drv_spec s = spec_of(f, "main", argv);
	struct drv_container *c = NULL;
	struct rec r;
	const char *bad[] = {
		"{\"id\": \"4f2a9c\"}",                                         /* docker's */
		"[1, 2]",
		"{\"pid\": \"12\", \"start_time\": 1, \"boot_id\": \"x\"}",
		"{\"pid\": 0, \"start_time\": 1, \"boot_id\": \"x\"}",
		"{\"pid\": 12, \"start_time\": -1, \"boot_id\": \"x\"}",
		"{\"pid\": 12, \"start_time\": 1}",
		"{\"pid\": 12, \"start_time\": 1, \"boot_id\": \"x\", \"cgroup\": 5}",
	};

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *st = json_loads(bad[i], 0, NULL);
		assert_non_null(st);
		assert_int_equal(driver_process_ops.adopt(f->d, &s, st, &r, &c), -EINVAL);
		assert_null(c);
		json_decref(st);
	}
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.n_exited, 0);
}

/* ---- cgroups ------------------------------------------------------------ */

static bool has_log(const struct rec *r, const char *part)
{
	for (int i = 0; i < r->n_logs; i++)
		if (strstr(r->logs[i], part))
			return true;
	return false;
}

static void assert_limits_applied(const struct rec *r)
{
	for (int i = 0; i < r->n_logs; i++)
		if (strstr(r->logs[i], "not applied"))
			fail_msg("the driver found no usable cgroup on this machine: %s", r->logs[i]);
}

static bool dir_gone(void *arg)
{
	struct stat st;
	return stat(arg, &st) < 0 && errno == ENOENT;
}

static void read_cg_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_text(path, buf, size) < 0)
		fail_msg("cannot read %s", path);
	buf[strcspn(buf, "\n")] = '\0';
}

static void test_memory_limit_oom(void **state)
{
	struct fx *f = *state;
	/* dd reads 100 MiB of zeroes into one buffer: every page is touched */
	char *const *argv = V("dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	s.memory_limit = 32 * MIB;
	struct drv_container *c = launch(f, &s, &r);
	assert_true(run_until(f, is_started, &r, 5000));
	assert_limits_applied(&r);
	assert_int_equal(r.start_err, 0);
	json_t *st = driver_process_ops.save(c);
	assert_non_null(st);
	const char *cg = json_string_value(json_object_get(st, "cgroup"));
	if (!cg)
		fail_msg("no cgroup in the saved state although no warning was logged");
	char cgdir[PATH_MAX];
	snprintf(cgdir, sizeof(cgdir), "%s", cg);
	json_decref(st);

	assert_true(run_until(f, is_exited, &r, 20000));
	assert_int_equal(r.exit_code, 137);
	assert_true(r.oom);
	assert_string_equal(r.exit_reason,
			    "OutOfMemoryError: container killed for exceeding its memory limit");
	assert_limits_applied(&r);
	driver_process_ops.release(c);
	/* release removes the container's cgroup */
	assert_true(run_until(f, dir_gone, cgdir, 15000));
}

static void test_limits_written(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "web", argv);
	struct rec r;
	char buf[256], tail[128], line[512];

	s.memory_limit = 64 * MIB;
	s.memory_reservation = 16 * MIB;
	s.cpu_units = 512;
	struct drv_container *c = start(f, &s, &r);
	assert_limits_applied(&r);
	json_t *st = driver_process_ops.save(c);
	const char *cg = json_string_value(json_object_get(st, "cgroup"));
	assert_non_null(cg);
	char cgdir[PATH_MAX];
	snprintf(cgdir, sizeof(cgdir), "%s", cg);
	json_decref(st);
	snprintf(tail, sizeof(tail), "/tripline/%s-web", f->task_id);
	assert_true(strlen(cgdir) > strlen(tail) && !strcmp(cgdir + strlen(cgdir) - strlen(tail), tail));

	/* the process is in that cgroup */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid_of(c));
	FILE *pf = fopen(path, "r");
	assert_non_null(pf);
	bool in_memory = false;
	char cpu_rel[sizeof(line)] = "";
	while (fgets(line, sizeof(line), pf)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctrl = strchr(line, ':'), *rel = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!rel)
			continue;
		*rel++ = '\0';
		ctrl++;
		size_t rl = strlen(rel);
		bool ours = rl >= strlen(tail) && !strcmp(rel + rl - strlen(tail), tail);
		if (ours && (strstr(ctrl, "memory") || !ctrl[0]))
			in_memory = true;
		if (ours && !strcmp(ctrl, "cpu"))
			snprintf(cpu_rel, sizeof(cpu_rel), "%s", rel);
	}
	fclose(pf);
	assert_true(in_memory);

	char probe_path[PATH_MAX + 16];
	snprintf(probe_path, sizeof(probe_path), "%s/memory.max", cgdir);
	if (access(probe_path, F_OK) == 0) {   /* v2 */
		read_cg_file(cgdir, "memory.max", buf, sizeof(buf));
		assert_string_equal(buf, "67108864");
		read_cg_file(cgdir, "memory.low", buf, sizeof(buf));
		assert_string_equal(buf, "16777216");
		read_cg_file(cgdir, "cpu.max", buf, sizeof(buf));
		assert_string_equal(buf, "50000 100000");
	} else {                                /* v1 */
		read_cg_file(cgdir, "memory.limit_in_bytes", buf, sizeof(buf));
		assert_string_equal(buf, "67108864");
		read_cg_file(cgdir, "memory.soft_limit_in_bytes", buf, sizeof(buf));
		assert_string_equal(buf, "16777216");
		assert_true(cpu_rel[0]);   /* in a cpu cgroup of its own */
		char cpudir[PATH_MAX];
		snprintf(cpudir, sizeof(cpudir), "/sys/fs/cgroup/cpu%s", cpu_rel);
		read_cg_file(cpudir, "cpu.cfs_quota_us", buf, sizeof(buf));
		assert_string_equal(buf, "50000");
		read_cg_file(cpudir, "cpu.cfs_period_us", buf, sizeof(buf));
		assert_string_equal(buf, "100000");
	}
	assert_int_equal(driver_process_ops.stop(c, 5), 0);
	assert_true(run_until(f, is_exited, &r, 10000));
	assert_int_equal(r.exit_code, 143);
	assert_false(r.oom);
	driver_process_ops.release(c);
	assert_true(run_until(f, dir_gone, cgdir, 15000));
}

static void test_limits_not_applied(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("true");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	close_driver(f);
	open_driver(f, "");   /* cgroups off */
	s.memory_limit = 32 * MIB;
	s.memory_reservation = 16 * MIB;
	s.cpu_units = 256;
	assert_int_equal(run_to_exit(f, &s, &r), 0);   /* runs regardless */
	assert_int_equal(r.n_logs, 2);   /* once per kind, not per limit */
	assert_true(has_log(&r, "main: memory limit not applied: cgroups are disabled by configuration"));
	assert_true(has_log(&r, "main: cpu limit not applied"));
}

/* ---- probes ------------------------------------------------------------- */

struct probe_res {
	int calls;
	int code;
};

static void on_probe(void *arg, int code)
{
	struct probe_res *p = arg;
	p->calls++;
	p->code = code;
}

static bool probe_done(void *arg)
{
	return ((struct probe_res *)arg)->calls > 0;
}

static int probe(struct fx *f, struct drv_container *c, char *const *argv, unsigned timeout_s)
{
	struct probe_res p = {0, 0};

	assert_int_equal(driver_process_ops.probe(c, argv, timeout_s, on_probe, &p), 0);
	assert_int_equal(p.calls, 0);   /* never from inside probe() */
	assert_true(run_until(f, probe_done, &p, 10000));
	assert_int_equal(p.calls, 1);
	return p.code;
}

static void test_probes(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("sleep", "100");
	char *const *env = V("PATH=/usr/bin:/bin", "PROBE_VAR=x");
	char sub[128], check[512];
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;

	snprintf(sub, sizeof(sub), "%s/work", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	s.env = env;
	s.working_directory = sub;
	struct drv_container *c = start(f, &s, &r);

	char *const *p_true = V("true"), *const *p_false = V("false");
	char *const *p_sleep = V("sleep", "10"), *const *p_none = V("tripline-no-such-probe");
	assert_int_equal(probe(f, c, p_true, 5), 0);
	assert_int_equal(probe(f, c, p_false, 5), 1);
	assert_int_equal(probe(f, c, p_sleep, 1), -1);
	assert_int_equal(probe(f, c, p_none, 5), -1);
	/* the container's environment and working directory */
	snprintf(check, sizeof(check),
		 "test \"$PROBE_VAR\" = x && test \"$(pwd -P)\" = \"$(cd %s && pwd -P)\"", sub);
	char *const *p_ctx = V("/bin/sh", "-c", check);
	assert_int_equal(probe(f, c, p_ctx, 5), 0);
	char *const *p_exit = V("/bin/sh", "-c", "exit 7");
	assert_int_equal(probe(f, c, p_exit, 5), 7);
	assert_int_equal(r.n_exited, 0);   /* probes are not the container */

	/* a handle dropped first: done is never called, the probe is killed */
	char ppid[128], script[512];
	snprintf(ppid, sizeof(ppid), "%s/probe.pid", f->dir);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 30", ppid, ppid,
		 ppid);
	char *const *p_slow = V("/bin/sh", "-c", script);
	struct probe_res pr = {0, 0};
	assert_int_equal(driver_process_ops.probe(c, p_slow, 60, on_probe, &pr), 0);
	pid_t probe_pid = read_pid_file(f, ppid);
	pid_t pid = pid_of(c);
	json_t *st = driver_process_ops.save(c);
	assert_non_null(st);
	char cgdir[PATH_MAX] = "";
	if (json_is_string(json_object_get(st, "cgroup")))
		snprintf(cgdir, sizeof(cgdir), "%s", json_string_value(json_object_get(st, "cgroup")));
	json_decref(st);
	driver_process_ops.forget(c);
	assert_true(run_until(f, cond_pid_gone, (void *)(intptr_t)probe_pid, 5000));
	assert_false(pid_gone(pid));   /* forget leaves the container running */
	close_driver(f);
	assert_int_equal(pr.calls, 0);
	/* the test cleans up after the forgotten container, cgroup included */
	assert_int_equal(kill(-pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	if (cgdir[0]) {
		uint64_t deadline = uv_hrtime() + 5000000000u;
		while (rmdir(cgdir) < 0 && errno == EBUSY && uv_hrtime() < deadline)
			sched_yield();
		assert_true(dir_gone(cgdir));
	}
}

static void test_probe_after_exit(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("true");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;
	struct probe_res p = {0, 0};

	struct drv_container *c = start(f, &s, &r);
	assert_true(run_until(f, is_exited, &r, 5000));
	assert_int_equal(driver_process_ops.probe(c, argv, 1, on_probe, &p), -ESRCH);
	driver_process_ops.release(c);
	assert_int_equal(p.calls, 0);
}

/* ---- asynchronous launches ----------------------------------------------- */

/*
 * A launch is prepared and started off the loop (process_spawn.c): the
 * loop keeps turning meanwhile. These tests hold a launch inside its
 * preparation with a FIFO as its log file — opening a FIFO for writing
 * waits for a reader — so what they check does not depend on timing: the
 * launch cannot finish before the test opens the reader.
 */

/* How many launches can be in preparation at once: libuv's threadpool size. */
static unsigned pool_size(void)
{
	const char *v = getenv("UV_THREADPOOL_SIZE");
	long n = v ? strtol(v, NULL, 10) : 4;
	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

struct ticks {
	uv_timer_t timer;
	unsigned n;
};

static void on_count_tick(uv_timer_t *t)
{
	((struct ticks *)t->data)->n++;
}

static bool enough_ticks(void *arg)
{
	return ((struct ticks *)arg)->n >= 20;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

struct recs {
	struct rec *r;
	size_t n;
};

static bool all_started(void *arg)
{
	struct recs *rs = arg;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->r[i].n_started)
			return false;
	return true;
}

static bool all_exited(void *arg)
{
	struct recs *rs = arg;
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->r[i].n_exited)
			return false;
	return true;
}

/* Launches held in their preparation leave the loop free; a launch queued
 * behind them and stopped never runs, nor does one stopped while its
 * preparation is under way (the spawn sees the stop before its clone);
 * `started` reports both as cancelled and no `exited` follows; the others
 * run normally. */
static void test_launch_does_not_block_loop(void **state)
{
	struct fx *f = *state;
	unsigned n = pool_size() + 1;   /* one more than can be prepared at once */
	char (*fifo)[128] = calloc(n, sizeof(*fifo));
	struct drv_container **c = calloc(n + 1, sizeof(*c));
	struct rec *r = calloc(n + 1, sizeof(*r));
	int *rd = calloc(n, sizeof(*rd));
	char marker[160], script[400];
	struct ticks tk;

	assert_true(fifo && c && r && rd);
	/* a launch() that waited for its log file would wait for ever: fail */
	alarm(120);
	/* the queued one would leave a marker if it ever ran */
	snprintf(marker, sizeof(marker), "%s/queued-ran", f->dir);
	snprintf(script, sizeof(script), "touch %s; sleep 100", marker);
	char *const *echo = V("/bin/sh", "-c", "echo hi");
	char *const *queued = V("/bin/sh", "-c", script);
	/* containers of one task: distinct names, so distinct cgroups */
	char (*names)[16] = calloc(n + 1, sizeof(*names));
	assert_non_null(names);
	for (unsigned i = 0; i <= n; i++)
		snprintf(names[i], sizeof(names[i]), "c%u", i);
	for (unsigned i = 0; i < n; i++) {
		snprintf(fifo[i], sizeof(fifo[i]), "%s/log%u.fifo", f->dir, i);
		assert_int_equal(mkfifo(fifo[i], 0600), 0);
		struct drv_spec s = spec_of(f, names[i], echo);
		s.log_path = fifo[i];
		c[i] = launch(f, &s, &r[i]);
	}
	struct drv_spec sq = spec_of(f, names[n], queued);
	c[n] = launch(f, &sq, &r[n]);

	/* the loop turns while every launch waits */
	tk.n = 0;
	tk.timer.data = &tk;
	assert_int_equal(uv_timer_init(&f->loop, &tk.timer), 0);
	assert_int_equal(uv_timer_start(&tk.timer, on_count_tick, 1, 1), 0);
	assert_true(run_until(f, enough_ticks, &tk, 10000));
	uv_close((uv_handle_t *)&tk.timer, NULL);
	for (unsigned i = 0; i <= n; i++) {
		assert_int_equal(r[i].n_started, 0);
		assert_string_equal(driver_process_ops.runtime_id(c[i]), "");
		assert_null(driver_process_ops.save(c[i]));
		struct probe_res pr = {0, 0};
		assert_int_equal(driver_process_ops.probe(c[i], echo, 1, on_probe, &pr), -ESRCH);
	}

	/* stopped while queued: never runs */
	assert_int_equal(driver_process_ops.stop(c[n], 5), 0);
	assert_true(run_until(f, is_started, &r[n], 10000));
	assert_int_equal(r[n].start_err, -ECANCELED);
	assert_string_equal(r[n].start_reason, "stopped before it started");
	/* stopped while being prepared */
	assert_int_equal(driver_process_ops.stop(c[0], 5), 0);
	assert_int_equal(driver_process_ops.stop(c[0], 5), 0);   /* idempotent */

	/* readers let the preparations go on */
	for (unsigned i = 0; i < n; i++) {
		rd[i] = open(fifo[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		assert_true(rd[i] >= 0);
	}
	struct recs all = {r, n};
	assert_true(run_until(f, all_started, &all, 10000));
	assert_int_equal(r[0].start_err, -ECANCELED);
	assert_string_equal(r[0].start_reason, "stopped before it started");
	assert_string_equal(driver_process_ops.runtime_id(c[0]), "");
	struct recs rest = {r + 1, n - 1};
	assert_true(run_until(f, all_exited, &rest, 10000));
	for (unsigned i = 1; i < n; i++) {
		if (r[i].start_err)
			fail_msg("launch %u: started %d: %s", i, r[i].start_err, r[i].start_reason);
		assert_int_equal(r[i].n_started, 1);
		assert_int_equal(r[i].n_exited, 1);
		assert_int_equal(r[i].exit_code, 0);
		char out[16] = "";
		assert_int_equal(read(rd[i], out, sizeof(out) - 1), 3);
		assert_string_equal(out, "hi\n");
	}
	/* no `exited` after a cancelled start, and the queued one never ran */
	run_until(f, never, NULL, 300);
	assert_int_equal(r[0].n_exited, 0);
	assert_int_equal(r[n].n_exited, 0);
	assert_int_equal(r[0].n_started, 1);
	assert_int_equal(r[n].n_started, 1);
	struct stat st;
	assert_int_equal(stat(marker, &st), -1);
	/* and the stopped one never existed: nothing holds its log FIFO (EOF) */
	char buf[16];
	assert_int_equal(read(rd[0], buf, sizeof(buf)), 0);
	for (unsigned i = 0; i <= n; i++)
		driver_process_ops.release(c[i]);
	for (unsigned i = 0; i < n; i++)
		close(rd[i]);
	alarm(0);
	free(fifo);
	free(names);
	free(c);
	free(r);
	free(rd);
}

/* stop() right after launch(), before the loop ran: `started` reports the
 * cancel (-ECANCELED), no `exited` follows, and no process is left. */
static void test_stop_before_started(void **state)
{
	struct fx *f = *state;
	char pidfile[160], script[600];
	struct rec r;

	snprintf(pidfile, sizeof(pidfile), "%s/cancel.pid", f->dir);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 100", pidfile,
		 pidfile, pidfile);
	char *const *argv = V("/bin/sh", "-c", script);
	struct drv_spec s = spec_of(f, "main", argv);
	s.memory_limit = 64 * MIB;   /* a cgroup too */
	for (int round = 0; round < 10; round++) {
		unlink(pidfile);
		struct drv_container *c = launch(f, &s, &r);
		assert_int_equal(driver_process_ops.stop(c, 30), 0);
		assert_int_equal(r.n_started, 0);   /* not from inside stop() either */
		assert_true(run_until(f, is_started, &r, 10000));
		assert_int_equal(r.start_err, -ECANCELED);
		assert_string_equal(r.start_reason, "stopped before it started");
		assert_string_equal(driver_process_ops.runtime_id(c), "");
		assert_null(driver_process_ops.save(c));
		/* if the shell got as far as writing its pid, it is gone now:
		 * killed (not a 30 s SIGTERM grace) and reaped */
		char buf[32];
		if (read_text(pidfile, buf, sizeof(buf)) > 0)
			assert_true(pid_gone((pid_t)strtol(buf, NULL, 10)));
		run_until(f, never, NULL, 50);
		assert_int_equal(r.n_exited, 0);
		assert_int_equal(r.n_started, 1);
		driver_process_ops.release(c);
	}
}

/* Many launches in a row, from one loop turn, some of them failing: each
 * gets exactly one `started` and, when it started, one `exited`. */
static void test_many_launches(void **state)
{
	struct fx *f = *state;
	enum { N = 60 };
	struct drv_container *c[N];
	struct rec *r = calloc(N, sizeof(*r));
	char *const *ok = V("/bin/sh", "-c", "exit 7");
	char *const *bad = V("tripline-no-such-program");
	pid_t pids[N];

	char names[N][16];
	assert_non_null(r);
	for (int i = 0; i < N; i++) {
		/* containers of one task: distinct names, so distinct cgroups */
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		struct drv_spec s = spec_of(f, names[i], i % 10 == 9 ? bad : ok);
		c[i] = launch(f, &s, &r[i]);
	}
	struct recs all = {r, N};
	assert_true(run_until(f, all_started, &all, 30000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].n_started, 1);
		if (i % 10 == 9) {
			assert_int_equal(r[i].start_err, -ENOENT);
			assert_non_null(strstr(r[i].start_reason, "exec tripline-no-such-program"));
			r[i].n_exited = 1;   /* none will come: do not wait for it */
			pids[i] = 0;
			continue;
		}
		if (r[i].start_err)
			fail_msg("launch %d: started %d: %s", i, r[i].start_err, r[i].start_reason);
		pids[i] = pid_of(c[i]);
		for (int k = 0; k < i; k++)
			assert_true(pids[k] != pids[i] || pids[i] == 0);
	}
	assert_true(run_until(f, all_exited, &all, 30000));
	for (int i = 0; i < N; i++) {
		if (i % 10 == 9)
			continue;
		assert_int_equal(r[i].n_exited, 1);
		assert_int_equal(r[i].exit_code, 7);
	}
	run_until(f, never, NULL, 50);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].n_started, 1);
		assert_int_equal(r[i].n_exited, 1);
		driver_process_ops.release(c[i]);
	}
	free(r);
}

/* Launches prepared at the same time never hand each other (or the
 * daemon) a file descriptor: each process sees 0, 1, 2 and the directory
 * ls reads, even with an inheritable fd opened while they start. */
static void test_fds_with_concurrent_launches(void **state)
{
	struct fx *f = *state;
	enum { N = 8 };
	struct drv_container *c[N];
	struct rec *r = calloc(N, sizeof(*r));
	char logs[N][160];
	char *const *argv = V("ls", "/proc/self/fd");

	assert_non_null(r);
	int leak1 = open("/dev/null", O_RDONLY);   /* not close-on-exec */
	assert_true(leak1 >= 3);
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(logs[i], sizeof(logs[i]), "%s/fds%d.log", f->dir, i);
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		struct drv_spec s = spec_of(f, names[i], argv);
		s.log_path = logs[i];
		c[i] = launch(f, &s, &r[i]);
	}
	int leak2 = open("/dev/null", O_RDONLY);   /* opened while they start */
	assert_true(leak2 >= 3);
	struct recs all = {r, N};
	assert_true(run_until(f, all_exited, &all, 30000));
	close(leak1);
	close(leak2);
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].start_err, 0);
		assert_int_equal(r[i].exit_code, 0);
		assert_log(logs[i], "0\n1\n2\n3\n");
		driver_process_ops.release(c[i]);
	}
	free(r);
}

/* A probe whose container is forgotten, and the driver shut down, while
 * the probe is still starting: done is never called, the probe process is
 * killed and reaped once it exists, the container runs on. */
static void test_probe_orphaned_while_starting(void **state)
{
	struct fx *f = *state;
	char ppid[160], script[600];
	char *const *argv = V("sleep", "100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct probe_res pr = {0, 0};
	struct rec r;

	struct drv_container *c = start(f, &s, &r);
	pid_t pid = pid_of(c);
	snprintf(ppid, sizeof(ppid), "%s/probe.pid", f->dir);
	snprintf(script, sizeof(script), "echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 100", ppid, ppid,
		 ppid);
	char *const *p_slow = V("/bin/sh", "-c", script);
	assert_int_equal(driver_process_ops.probe(c, p_slow, 60, on_probe, &pr), 0);
	driver_process_ops.forget(c);
	close_driver(f);   /* waits for the spawn in flight to end */
	assert_int_equal(pr.calls, 0);
	char buf[32];
	if (read_text(ppid, buf, sizeof(buf)) > 0)
		assert_true(pid_gone((pid_t)strtol(buf, NULL, 10)));
	assert_false(pid_gone(pid));
	assert_int_equal(kill(-pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* forget() before `started`, while the launch is being prepared (its log
 * file a FIFO nobody reads yet): no callback ever, and no process is made,
 * as the spawn had not cloned yet. The FIFO tells: once the driver is gone,
 * nothing holds its write end (EOF). */
static void test_forget_before_started(void **state)
{
	struct fx *f = *state;
	char fifo[160], buf[16];
	char *const *argv = V("/bin/sh", "-c", "echo ran; exec sleep 100");
	struct drv_spec s = spec_of(f, "main", argv);
	struct ticks tk;
	struct rec r;

	snprintf(fifo, sizeof(fifo), "%s/forget.fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	s.log_path = fifo;
	alarm(120);
	struct drv_container *c = launch(f, &s, &r);
	tk.n = 0;
	tk.timer.data = &tk;
	assert_int_equal(uv_timer_init(&f->loop, &tk.timer), 0);
	assert_int_equal(uv_timer_start(&tk.timer, on_count_tick, 1, 1), 0);
	assert_true(run_until(f, enough_ticks, &tk, 10000));
	uv_close((uv_handle_t *)&tk.timer, NULL);
	driver_process_ops.forget(c);
	int rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	close_driver(f);   /* waits for the spawn to end */
	assert_int_equal(r.n_started, 0);
	assert_int_equal(r.n_exited, 0);
	assert_int_equal(read(rd, buf, sizeof(buf)), 0);
	close(rd);
	alarm(0);
}

/* ---- users -------------------------------------------------------------- */

static void test_user(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("/bin/sh", "-c", "id -u; id -g; id -G");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;
	char want[128];

	s.working_directory = "/";   /* the scratch directory is 0700 */
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		assert_non_null(pw);
		s.user = "nobody";
		assert_int_equal(run_to_exit(f, &s, &r), 0);
		snprintf(want, sizeof(want), "%u\n%u\n", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
		char buf[256];
		assert_true(read_text(f->log, buf, sizeof(buf)) > 0);
		assert_memory_equal(buf, want, strlen(want));

		unlink(f->log);
		s.user = "1234:5678";
		assert_int_equal(run_to_exit(f, &s, &r), 0);
		assert_log(f->log, "1234\n5678\n5678\n");
	} else {
		snprintf(want, sizeof(want), "%u", (unsigned)geteuid());
		s.user = want;
		assert_int_equal(run_to_exit(f, &s, &r), 0);
		s.user = "0";
		expect_start_failure(f, &s, -EPERM, "user 0", "needs root");
	}
	s.user = "tripline-no-such-user";
	expect_start_failure(f, &s, -ENOENT, "user tripline-no-such-user: no such user", NULL);
	s.user = "root:tripline-no-such-group";
	expect_start_failure(f, &s, -ENOENT, "no such group", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_from_callbacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_working_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdio_and_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_escalates_to_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_term, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_exit_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_catches_escapee, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_not_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_after_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_launch_does_not_block_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_before_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_launches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_with_concurrent_launches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_before_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_orphaned_while_starting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
