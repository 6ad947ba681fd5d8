/*
 * test_driver_process.c — the process driver with real processes on a real
 * libuv loop, as a user of driver.h sees it: exit codes, exec failures, the
 * exact environment, PATH lookup in that environment, working directory,
 * stdout+stderr appended to the log, stdin from /dev/null and no inherited
 * fds, stop() escalating to SIGKILL for the whole process group, external
 * kills, save/forget/adopt (in this process and from another one, as after a
 * daemon restart), adopting a process that is gone, probes, users and dynamic uids. Cgroup
 * limits are tested in test_cgroup.c, asynchronous launches in
 * test_process_spawn.c; the fixture they share is process_fixture.h.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for a
 * fixed time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
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
#include "process_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

static bool cond_pid_gone(void *arg)
{
	return pid_gone((pid_t)(intptr_t)arg);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int probe(struct fx *f, struct drv_container *c, char *const *argv, unsigned timeout_s);

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
		    driver_process_ops.init(&g.loop, NULL, &rec_events, &g.d, buf, sizeof(buf)) ||
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

/* ---- probes ------------------------------------------------------------- */

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

/* A dynamic uid (DynamicUser=): that uid, the same gid, no supplementary
 * groups, and the scratch directory made its own. */
static void test_dynamic_uid(void **state)
{
	struct fx *f = *state;
	char *const *argv = V("/bin/sh", "-c",
			      "id -u; id -g; awk '/^Groups:/ { print NF - 1 }' /proc/self/status; "
			      "touch mine && echo wrote");
	struct drv_spec s = spec_of(f, "main", argv);
	struct rec r;
	char scratch[128];
	struct stat st;

	snprintf(scratch, sizeof(scratch), "%s/scratch", f->dir);
	s.scratch_dir = scratch;
	s.dynamic_uid = 61999;
	assert_null(getpwuid(61999));
	if (geteuid() != 0) {
		expect_start_failure(f, &s, -EPERM, "dynamic uid 61999", "needs root");
		return;
	}
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_log(f->log, "61999\n61999\n0\nwrote\n");
	assert_int_equal(stat(scratch, &st), 0);
	assert_int_equal(st.st_uid, 61999);
	assert_int_equal(st.st_gid, 61999);
	assert_int_equal(st.st_mode & 0777, 0700);
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
		cmocka_unit_test_setup_teardown(test_external_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_in_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_after_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_uid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
