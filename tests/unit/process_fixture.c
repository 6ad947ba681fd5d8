/*
 * process_fixture.c — what the process driver's tests share (declared, with
 * what each does, in process_fixture.h): the recorder of the driver's
 * callbacks, the argv/env arrays, the loop helpers, the fixture (a real
 * libuv loop, a process driver, a scratch directory) and the helpers that
 * launch real processes and wait for them.
 *
 * Every wait is a loop turn with a deadline (run_until); nothing sleeps for a
 * fixed time.
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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <uv.h>

#include "driver.h"
#include "process_fixture.h"

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

const struct drv_events rec_events = {ev_started, ev_exited, ev_log};

/* the arrays make_strv() made, freed by the teardown */
static char *allocs[512];
static size_t n_allocs;

char *const *make_strv(const char *first, ...)
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

/* ---- loop helpers ------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Turns the loop until cond holds or ms have passed; whether it held. */
bool run_until(struct fx *f, cond_fn cond, void *arg, unsigned ms)
{
	uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
	bool ok;

	uv_timer_start(&f->tick, on_tick, 10, 10);
	while (!(ok = cond(arg)) && uv_hrtime() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->tick);
	return ok;
}

bool is_started(void *arg)
{
	return ((struct rec *)arg)->n_started > 0;
}

bool is_exited(void *arg)
{
	return ((struct rec *)arg)->n_exited > 0;
}

bool pid_gone(pid_t pid)
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

bool dir_gone(void *arg)
{
	struct stat st;
	return stat(arg, &st) < 0 && errno == ENOENT;
}

/* ---- files -------------------------------------------------------------- */

ssize_t read_text(const char *path, char *buf, size_t size)
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

pid_t read_pid_file(struct fx *f, const char *path)
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

void assert_log(const char *path, const char *want)
{
	char buf[8192];
	assert_true(read_text(path, buf, sizeof(buf)) >= 0);
	assert_string_equal(buf, want);
}

/* ---- fixture ------------------------------------------------------------ */

void open_driver(struct fx *f, const char *cgroup_root)
{
	struct drv_config cfg = {.cgroup_root = cgroup_root, .state_dir = f->dir};
	char err[512] = "";

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
	int r = driver_process_ops.init(&f->loop, &cfg, &rec_events, &f->d, err, sizeof(err));
	if (r < 0)
		fail_msg("init: %s", err);
}

void close_driver(struct fx *f)
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

int setup(void **state)
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

int teardown(void **state)
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

struct drv_spec spec_of(struct fx *f, const char *name, char *const *argv)
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
struct drv_container *launch(struct fx *f, const struct drv_spec *s, struct rec *r)
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
struct drv_container *start(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = launch(f, s, r);

	assert_true(run_until(f, is_started, r, 5000));
	if (r->start_err)
		fail_msg("started %d: %s", r->start_err, r->start_reason);
	return c;
}

/* Runs s to its end: the exit code, after `started` ok. */
int run_to_exit(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = start(f, s, r);

	assert_true(run_until(f, is_exited, r, 10000));
	assert_false(r->exited_before_started);
	assert_int_equal(r->n_started, 1);
	assert_int_equal(r->n_exited, 1);
	driver_process_ops.release(c);
	return r->exit_code;
}

pid_t pid_of(const struct drv_container *c)
{
	const char *id = driver_process_ops.runtime_id(c);
	char *end;
	long v = strtol(id, &end, 10);

	assert_true(*id && !*end && v > 1);
	return (pid_t)v;
}

/* ---- probes ------------------------------------------------------------- */

void on_probe(void *arg, int code)
{
	struct probe_res *p = arg;
	p->calls++;
	p->code = code;
}
