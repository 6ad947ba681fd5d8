/*
 * test_driver_docker.c — the docker driver against a real dockerd.
 *
 * The group setup starts a private dockerd with tests/docker/dockerd.sh
 * (fork + exec, with everything under a fresh /tmp/tl-dk.XXXXXX) and the
 * image tripline-busybox:test it imports; the group teardown stops it and
 * removes the directory (and the script's watchdog does, should this test
 * crash or be killed by ctest's timeout). A dockerd that cannot be started
 * fails the run with the script's reason: this test never skips.
 *
 * Each test has its own loop and driver instance and runs the loop until a
 * condition holds or a deadline passes (a repeating guard timer wakes it);
 * nothing sleeps for a fixed time. Containers run with network "none".
 * The test also talks to dockerd directly, through curl_uv, to check what
 * the driver did (labels, limits, removal) and to act behind its back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "curl_uv.h"
#include "driver.h"

#ifndef TRIPLINE_DOCKERD_SH
#define TRIPLINE_DOCKERD_SH "tests/docker/dockerd.sh"
#endif

#define IMAGE "tripline-busybox:test"
#define DEADLINE_MS 60000u
#define MAX_LOG_FILE (8u << 20)

/* a string literal as a writable array, for the char *const argv[] of drv_spec */
#define S(lit) ((char[]){ lit })

static char g_dir[64];          /* the private dockerd's directory */
static char g_socket[96];
static unsigned g_task_seq;

/* What a container's owner heard. */
struct rec {
	int started;
	int start_err;
	char start_reason[512];
	int exited;
	int exit_code;
	bool oom;
	char exit_reason[512];
};

struct probe_rec {
	int calls;
	int code;
};

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	struct driver *d;
	struct curl_uv *cu;             /* the test's own line to dockerd */
	char dir[64];                   /* scratch: logs, mounts */
	char log_path[128];
	char task_id[33];
	char logs_seen[8192];           /* what the driver said through ev->log */
};

static struct fx *g_fx;             /* for the ev->log callback */

/* ---- the private dockerd ---- */

static int run_script(const char *verb)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char script[] = TRIPLINE_DOCKERD_SH;
		char verb_arg[16], owner[24];
		/* start: the script's watchdog stops dockerd if this test dies */
		char *const argv[] = { script, verb_arg, g_dir, strcmp(verb, "start") == 0 ? owner : NULL,
				       NULL };

		snprintf(verb_arg, sizeof(verb_arg), "%s", verb);
		snprintf(owner, sizeof(owner), "%d", (int)getppid());

		execv(argv[0], argv);
		fprintf(stderr, "test_driver_docker: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int group_setup(void **state)
{
	double t0 = now_s();

	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/tl-dk.XXXXXX");
	if (!mkdtemp(g_dir)) {
		fprintf(stderr, "test_driver_docker: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(g_socket, sizeof(g_socket), "%s/docker.sock", g_dir);
	if (run_script("start") < 0) {
		fprintf(stderr, "test_driver_docker: FAILED: %s start %s could not start dockerd "
			"(its reason is above); the docker driver cannot be tested\n",
			TRIPLINE_DOCKERD_SH, g_dir);
		run_script("stop");
		return -1;
	}
	fprintf(stderr, "test_driver_docker: dockerd up and %s imported in %.1f s\n", IMAGE, now_s() - t0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (run_script("stop") < 0) {
		fprintf(stderr, "test_driver_docker: %s stop %s failed\n", TRIPLINE_DOCKERD_SH, g_dir);
		return -1;
	}
	return 0;
}

/* ---- driver events ---- */

static void ev_started(void *owner, int err, const char *reason)
{
	struct rec *r = owner;

	r->started++;
	r->start_err = err;
	snprintf(r->start_reason, sizeof(r->start_reason), "%s", reason ? reason : "");
}

static void ev_exited(void *owner, const struct drv_exit *e)
{
	struct rec *r = owner;

	r->exited++;
	r->exit_code = e->exit_code;
	r->oom = e->oom_killed;
	snprintf(r->exit_reason, sizeof(r->exit_reason), "%s", e->reason ? e->reason : "");
}

static void ev_log(void *owner, int level, const char *msg)
{
	size_t n;

	(void)owner;
	fprintf(stderr, "  driver log (%d): %s\n", level, msg);
	if (g_fx) {
		n = strlen(g_fx->logs_seen);
		snprintf(g_fx->logs_seen + n, sizeof(g_fx->logs_seen) - n, "%s\n", msg);
	}
}

static const struct drv_events events = {
	.started = ev_started,
	.exited = ev_exited,
	.log = ev_log,
};

static void on_probe(void *arg, int code)
{
	struct probe_rec *p = arg;

	p->calls++;
	p->code = code;
}

/* ---- loop helpers ---- */

static void on_guard(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until cond(arg) or the deadline; returns cond(arg). */
static bool run_until(struct fx *f, bool (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t deadline;

	uv_update_time(&f->loop);
	deadline = uv_now(&f->loop) + ms;
	while (!cond(arg) && uv_now(&f->loop) < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	return cond(arg);
}

static bool is_started(void *arg)
{
	return ((struct rec *)arg)->started > 0;
}

static bool is_exited(void *arg)
{
	return ((struct rec *)arg)->exited > 0;
}

static bool probe_called(void *arg)
{
	return ((struct probe_rec *)arg)->calls > 0;
}

static void wait_started(struct fx *f, struct rec *r)
{
	assert_true(run_until(f, is_started, r, DEADLINE_MS));
	assert_int_equal(r->started, 1);
}

static void wait_exited(struct fx *f, struct rec *r)
{
	assert_true(run_until(f, is_exited, r, DEADLINE_MS));
	assert_int_equal(r->exited, 1);
}

/* ---- talking to dockerd directly ---- */

struct call {
	bool done;
	int err;
	unsigned status;
	json_t *json;
	char *body;
};

static void on_call_done(void *arg, const struct curl_uv_result *res)
{
	struct call *c = arg;

	c->done = true;
	c->err = res->err;
	c->status = res->status;
	c->body = strndup(res->body, res->body_len);
	c->json = json_loadb(res->body, res->body_len, 0, NULL);
}

static bool call_done(void *arg)
{
	return ((struct call *)arg)->done;
}

/* A request to the private dockerd; path without the version prefix. */
static void docker_call(struct fx *f, const char *method, const char *path, const char *body,
			size_t max_response, struct call *c)
{
	char url[512];
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	struct curl_uv_request rq = {
		.method = method,
		.url = url,
		.unix_socket = g_socket,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.max_response = max_response,
		.timeout_ms = 30000,
		.done = on_call_done,
		.arg = c,
	};

	memset(c, 0, sizeof(*c));
	snprintf(url, sizeof(url), "http://localhost%s", path);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	assert_true(run_until(f, call_done, c, 30000));
}

static void call_free(struct call *c)
{
	json_decref(c->json);
	free(c->body);
}

static json_t *inspect(struct fx *f, const char *id, unsigned *status)
{
	char path[256];
	struct call c;
	json_t *j;

	snprintf(path, sizeof(path), "/v1.41/containers/%s/json", id);
	docker_call(f, "GET", path, NULL, 1 << 20, &c);
	assert_int_equal(c.err, 0);
	*status = c.status;
	j = json_incref(c.json);
	call_free(&c);
	return j;
}

struct gone_arg {
	struct fx *f;
	const char *id;
};

static bool container_gone(void *arg)
{
	struct gone_arg *g = arg;
	unsigned status;
	json_t *j = inspect(g->f, g->id, &status);

	json_decref(j);
	return status == 404;
}

static void wait_gone(struct fx *f, const char *id)
{
	struct gone_arg g = { f, id };

	assert_true(run_until(f, container_gone, &g, DEADLINE_MS));
}

/* ---- files ---- */

static char *read_file(const char *path, size_t *len)
{
	char *buf = malloc(MAX_LOG_FILE + 1);
	ssize_t n;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_non_null(buf);
	if (fd < 0) {
		buf[0] = '\0';
		if (len)
			*len = 0;
		return buf;
	}
	while (off < MAX_LOG_FILE && (n = read(fd, buf + off, MAX_LOG_FILE - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	if (len)
		*len = off;
	return buf;
}

struct contains_arg {
	const char *path;
	const char *needle;
};

static bool file_contains(void *arg)
{
	struct contains_arg *a = arg;
	char *s = read_file(a->path, NULL);
	bool found = strstr(s, a->needle) != NULL;

	free(s);
	return found;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- fixture ---- */

static char g_tmp[] = "/tmp";
static char *g_allowed[] = { g_tmp };   /* the fixtures' directories are below it */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct drv_config cfg = { .docker_socket = g_socket, .state_dir = "/tmp",
				  .allowed_host_paths = g_allowed, .n_allowed_host_paths = 1 };
	char err[512] = "";

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
	assert_int_equal(uv_timer_start(&f->guard, on_guard, 50, 50), 0);
	assert_int_equal(curl_uv_new(&f->loop, &f->cu), 0);
	if (driver_docker_ops.init(&f->loop, &cfg, &events, &f->d, err, sizeof(err)) != 0)
		fail_msg("init: %s", err);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl-dkt.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0755), 0);
	snprintf(f->log_path, sizeof(f->log_path), "%s/out.log", f->dir);
	snprintf(f->task_id, sizeof(f->task_id), "%08x%08x%016x", (unsigned)getpid(),
		 (unsigned)time(NULL), ++g_task_seq);
	g_fx = f;
	*state = f;
	return 0;
}

static void rm_tree(const char *dir)
{
	char path[256];
	const char *names[] = { "out.log", "in/hello.txt", "in", NULL };

	for (int i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0)
			rmdir(path);
	}
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	g_fx = NULL;
	driver_docker_ops.shutdown(f->d);
	curl_uv_free(f->cu);
	uv_close((uv_handle_t *)&f->guard, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static struct drv_spec spec(struct fx *f, const char *name, char *const *argv)
{
	static char *const no_env[] = { NULL };
	struct drv_spec s = {
		.task_id = f->task_id,
		.task_arn = "arn:aws:ecs:local:000000000000:task/test/x",
		.container_name = name,
		.image = IMAGE,
		.argv = argv,
		.env = no_env,
		.log_path = f->log_path,
		.scratch_dir = f->dir,
		.cluster = "test",
	};
	return s;
}

static struct drv_container *launch(struct fx *f, const struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = NULL;

	assert_int_equal(driver_docker_ops.launch(f->d, s, r, &c), 0);
	assert_non_null(c);
	assert_int_equal(r->started, 0);   /* never from inside launch() */
	return c;
}

/* Runs argv to its end; returns its exit code (and c, released). */
static int run_to_exit(struct fx *f, struct drv_spec *s, struct rec *r)
{
	struct drv_container *c = launch(f, s, r);
	char id[128];

	wait_started(f, r);
	assert_int_equal(r->start_err, 0);
	wait_exited(f, r);
	snprintf(id, sizeof(id), "%s", driver_docker_ops.runtime_id(c));
	driver_docker_ops.release(c);
	wait_gone(f, id);
	return r->exit_code;
}

/* ---- tests ---- */

static void test_init_unreachable_socket(void **state)
{
	struct fx *f = *state;
	char path[128], err[512] = "";
	struct drv_config cfg = { .docker_socket = path };
	struct driver *d = (struct driver *)&cfg;

	snprintf(path, sizeof(path), "%s/nope.sock", g_dir);
	assert_int_equal(driver_docker_ops.init(&f->loop, &cfg, &events, &d, err, sizeof(err)), -ENOENT);
	assert_null(d);
	assert_non_null(strstr(err, "docker: cannot reach "));
	assert_non_null(strstr(err, path));

	cfg.docker_socket = NULL;
	assert_int_equal(driver_docker_ops.init(&f->loop, &cfg, &events, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "docker_socket"));
}

static void test_curl_uv_on_the_docker_socket(void **state)
{
	struct fx *f = *state;
	struct call c;

	docker_call(f, "GET", "/_ping", NULL, 64, &c);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.body, "OK");
	call_free(&c);

	docker_call(f, "GET", "/v1.41/version", NULL, 1 << 20, &c);
	assert_int_equal(c.status, 200);
	assert_non_null(json_string_value(json_object_get(c.json, "ApiVersion")));
	call_free(&c);

	docker_call(f, "GET", "/v1.41/version", NULL, 16, &c);     /* over the cap */
	assert_int_equal(c.err, -EMSGSIZE);
	call_free(&c);

	docker_call(f, "GET", "/v1.41/containers/tripline-none/json", NULL, 4096, &c);
	assert_int_equal(c.status, 404);
	assert_non_null(strstr(c.body, "No such container"));
	call_free(&c);
}

static void test_exit_zero(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("true"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	const char *id;
	json_t *saved;
	char idcopy[128];

	wait_started(f, &r);
	assert_int_equal(r.start_err, 0);
	assert_string_equal(r.start_reason, "");
	id = driver_docker_ops.runtime_id(c);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);
	saved = driver_docker_ops.save(c);
	assert_string_equal(json_string_value(json_object_get(saved, "container_id")), id);
	json_decref(saved);
	wait_exited(f, &r);
	assert_int_equal(r.exit_code, 0);
	assert_false(r.oom);
	assert_string_equal(r.exit_reason, "");
	snprintf(idcopy, sizeof(idcopy), "%s", id);
	driver_docker_ops.release(c);
	wait_gone(f, idcopy);     /* release removes the container */
	assert_int_equal(r.started, 1);
	assert_int_equal(r.exited, 1);
}

static void test_exit_code_and_log_appended(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("echo three; exit 3"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct stat st;
	char *log;
	int fd;

	fd = open(f->log_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old\n", 4), 4);
	close(fd);
	assert_int_equal(run_to_exit(f, &s, &r), 3);
	assert_false(r.oom);
	log = read_file(f->log_path, NULL);
	assert_string_equal(log, "old\nthree\n");
	free(log);
	assert_int_equal(stat(f->log_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_missing_image_fails_the_start(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("true"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct drv_container *c;

	s.image = "tripline-nope:none";
	c = launch(f, &s, &r);
	wait_started(f, &r);
	assert_int_equal(r.start_err, -ENOENT);
	assert_non_null(strstr(r.start_reason, "No such image"));
	assert_non_null(strstr(r.start_reason, "tripline-nope:none"));
	assert_string_equal(driver_docker_ops.runtime_id(c), "");
	assert_null(driver_docker_ops.save(c));
	driver_docker_ops.release(c);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.exited, 0);
}

static void test_missing_command_fails_the_start(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("/bin/nope"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	char id[128];

	wait_started(f, &r);
	assert_true(r.start_err < 0);
	assert_non_null(strstr(r.start_reason, "/bin/nope"));
	snprintf(id, sizeof(id), "%s", driver_docker_ops.runtime_id(c));
	assert_int_equal(strlen(id), 64);     /* created, not started */
	driver_docker_ops.release(c);
	wait_gone(f, id);
	assert_int_equal(r.exited, 0);
}

static void test_spec_reaches_the_container(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("-c"),
		S("echo \"greeting=$GREETING\"; echo to-stderr >&2; echo \"pwd=$(pwd)\"; "
		"echo \"uid=$(id -u)\"; cat /mnt/in/hello.txt; "
		"touch /mnt/in/new 2>/dev/null || echo mount-is-read-only"), NULL };
	char *const entry[] = { S("/bin/sh"), NULL };
	char *const env[] = { S("GREETING=hello from env"), S("SECRET_TOKEN=s3cr3t-value"), NULL };
	char in_dir[128], hello[160];
	struct drv_mount mounts[1];
	struct drv_spec s = spec(f, "web.1_x", argv);
	struct rec r = { 0 };
	struct drv_container *c;
	json_t *j, *labels, *host, *envs, *e;
	unsigned status;
	char *log;
	size_t i;
	bool env_ok = false;
	int fd;

	snprintf(in_dir, sizeof(in_dir), "%s/in", f->dir);
	assert_int_equal(mkdir(in_dir, 0755), 0);
	snprintf(hello, sizeof(hello), "%s/hello.txt", in_dir);
	fd = open(hello, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "mounted-file\n", 13), 13);
	close(fd);
	mounts[0] = (struct drv_mount){ .host_path = in_dir, .container_path = "/mnt/in", .read_only = true };
	s.entry_point = entry;
	s.env = env;
	s.working_directory = "/tmp";
	s.user = "65534";
	s.mounts = mounts;
	s.n_mounts = 1;
	s.memory_limit = 64u << 20;
	s.memory_reservation = 32u << 20;
	s.cpu_units = 512;

	c = launch(f, &s, &r);
	wait_started(f, &r);
	assert_int_equal(r.start_err, 0);

	j = inspect(f, driver_docker_ops.runtime_id(c), &status);
	assert_int_equal(status, 200);
	labels = json_object_get(json_object_get(j, "Config"), "Labels");
	assert_string_equal(json_string_value(json_object_get(labels, "tripline.task-id")), f->task_id);
	assert_string_equal(json_string_value(json_object_get(labels, "tripline.task-arn")), s.task_arn);
	assert_string_equal(json_string_value(json_object_get(labels, "tripline.container")), "web.1_x");
	assert_string_equal(json_string_value(json_object_get(labels, "tripline.cluster")), "test");
	host = json_object_get(j, "HostConfig");
	assert_string_equal(json_string_value(json_object_get(host, "NetworkMode")), "none");
	assert_int_equal(json_integer_value(json_object_get(host, "Memory")), 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(host, "MemoryReservation")), 32 << 20);
	assert_int_equal(json_integer_value(json_object_get(host, "NanoCpus")), 500000000);
	assert_false(json_is_true(json_object_get(host, "AutoRemove")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(host, "SecurityOpt"), 0)),
			    "no-new-privileges");
	assert_false(json_is_true(json_object_get(host, "Privileged")));
	envs = json_object_get(json_object_get(j, "Config"), "Env");
	json_array_foreach(envs, i, e) {
		if (strcmp(json_string_value(e), "GREETING=hello from env") == 0)
			env_ok = true;
	}
	assert_true(env_ok);
	json_decref(j);

	wait_exited(f, &r);
	assert_int_equal(r.exit_code, 0);
	log = read_file(f->log_path, NULL);
	assert_non_null(strstr(log, "greeting=hello from env\n"));
	assert_non_null(strstr(log, "to-stderr\n"));
	assert_non_null(strstr(log, "pwd=/tmp\n"));
	assert_non_null(strstr(log, "uid=65534\n"));
	assert_non_null(strstr(log, "mounted-file\n"));
	assert_non_null(strstr(log, "mount-is-read-only\n"));
	free(log);
	/* the environment never reaches the daemon's log */
	assert_null(strstr(f->logs_seen, "s3cr3t"));
	driver_docker_ops.release(c);
}

static void test_container_name(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("true"), NULL };
	struct drv_spec s = spec(f, "app", argv);
	struct rec r = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	char want[128];
	unsigned status;
	json_t *j;

	wait_started(f, &r);
	j = inspect(f, driver_docker_ops.runtime_id(c), &status);
	snprintf(want, sizeof(want), "/tripline-%s-app", f->task_id);
	assert_string_equal(json_string_value(json_object_get(j, "Name")), want);
	json_decref(j);
	wait_exited(f, &r);
	driver_docker_ops.release(c);
}

static void test_bad_specs_refused(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("true"), NULL };
	char *const bad_env[] = { S("=oops"), NULL };
	struct drv_mount colon = { .host_path = "/tmp/a:b", .container_path = "/x" };
	struct drv_spec s;
	struct rec r = { 0 };
	struct drv_container *c = (struct drv_container *)&r;

	s = spec(f, "main", argv);
	s.image = NULL;
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EINVAL);
	assert_null(c);
	s = spec(f, "main/../x", argv);
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EINVAL);
	s = spec(f, "main", argv);
	s.env = bad_env;
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EINVAL);
	s = spec(f, "main", argv);
	s.mounts = &colon;
	s.n_mounts = 1;
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EINVAL);
	/* a host path outside drivers.docker.allowed_host_paths, or through a symlink out of it */
	struct drv_mount etc = { .host_path = "/etc", .container_path = "/x" };
	s = spec(f, "main", argv);
	s.mounts = &etc;
	s.n_mounts = 1;
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EPERM);
	assert_null(c);
	assert_non_null(strstr(f->logs_seen, "drivers.docker.allowed_host_paths"));
	char link[128];
	snprintf(link, sizeof(link), "%s/etc-link", f->dir);
	assert_int_equal(symlink("/etc", link), 0);
	etc.host_path = link;
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -EPERM);
	s = spec(f, "main", argv);
	s.log_path = "/nonexistent/dir/out.log";
	assert_int_equal(driver_docker_ops.launch(f->d, &s, &r, &c), -ENOENT);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.started, 0);
}

static void test_large_output_demultiplexed(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("seq 1 60000; echo end"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	char *log, *want, *p;
	size_t len, cap = 1 << 20;

	assert_int_equal(run_to_exit(f, &s, &r), 0);
	want = malloc(cap);
	assert_non_null(want);
	p = want;
	for (int i = 1; i <= 60000; i++)
		p += snprintf(p, cap - (size_t)(p - want), "%d\n", i);
	p += snprintf(p, cap - (size_t)(p - want), "end\n");
	log = read_file(f->log_path, &len);
	assert_int_equal(len, (size_t)(p - want));
	assert_memory_equal(log, want, len);
	free(log);
	free(want);
}

static void test_stop_escalates_to_sigkill(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("trap '' TERM; while true; do sleep 1; done"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct drv_container *c = launch(f, &s, &r);

	wait_started(f, &r);
	assert_int_equal(r.start_err, 0);
	assert_int_equal(driver_docker_ops.stop(c, 1), 0);
	assert_int_equal(driver_docker_ops.stop(c, 1), 0);   /* idempotent */
	assert_int_equal(r.exited, 0);                       /* not from inside stop() */
	wait_exited(f, &r);
	assert_int_equal(r.exit_code, 137);
	assert_false(r.oom);
	assert_int_equal(driver_docker_ops.stop(c, 1), 0);   /* after the exit too */
	driver_docker_ops.release(c);
}

static void test_stop_before_started_cancels_the_start(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sleep"), S("1000"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	unsigned status;
	json_t *j;

	assert_int_equal(driver_docker_ops.stop(c, 1), 0);
	wait_started(f, &r);
	assert_int_equal(r.start_err, -ECANCELED);
	j = inspect(f, driver_docker_ops.runtime_id(c), &status);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "State"), "Status")),
			    "created");
	json_decref(j);
	driver_docker_ops.release(c);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(r.exited, 0);
}

static void test_oom_kill(void **state)
{
	struct fx *f = *state;
	/* busybox dd allocates its block: 64 MiB against a 16 MiB limit. A
	 * second's wait first: on cgroup v1 containerd watches for the OOM
	 * only once the task has started, and on a loaded host an OOM in the
	 * container's first moments can come before that (dockerd then never
	 * says OOMKilled; see engine/orch/README.md, known limits). */
	char *const argv[] = { S("sh"), S("-c"), S("sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=1"),
			       NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };

	s.memory_limit = 16u << 20;
	assert_int_equal(run_to_exit(f, &s, &r), 137);
	assert_true(r.oom);
	assert_non_null(strstr(r.exit_reason, "OutOfMemoryError: "));
}

static void test_within_memory_limit_is_not_oom(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("dd"), S("if=/dev/zero"), S("of=/dev/null"), S("bs=4M"), S("count=1"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };

	s.memory_limit = 16u << 20;
	assert_int_equal(run_to_exit(f, &s, &r), 0);
	assert_false(r.oom);
}

static void test_probe(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("while true; do sleep 1; done"), NULL };
	char *const p_true[] = { S("true"), NULL };
	char *const p_false[] = { S("false"), NULL };
	char *const p_seven[] = { S("sh"), S("-c"), S("exit 7"), NULL };
	char *const p_env[] = { S("sh"), S("-c"), S("[ \"$MODE\" = probe-env ]"), NULL };
	char *const p_slow[] = { S("sleep"), S("30"), NULL };
	char *const env[] = { S("MODE=probe-env"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct probe_rec p1 = { 0 }, p2 = { 0 }, p3 = { 0 }, p4 = { 0 }, p5 = { 0 }, p6 = { 0 };
	struct drv_container *c;
	uint64_t t0;

	s.env = env;
	c = launch(f, &s, &r);
	wait_started(f, &r);
	assert_int_equal(r.start_err, 0);

	assert_int_equal(driver_docker_ops.probe(c, p_true, 10, on_probe, &p1), 0);
	assert_int_equal(driver_docker_ops.probe(c, p_false, 10, on_probe, &p2), 0);
	assert_int_equal(driver_docker_ops.probe(c, p_seven, 10, on_probe, &p3), 0);
	assert_int_equal(driver_docker_ops.probe(c, p_env, 10, on_probe, &p4), 0);
	assert_int_equal(p1.calls, 0);    /* not from inside probe() */
	assert_true(run_until(f, probe_called, &p1, DEADLINE_MS));
	assert_true(run_until(f, probe_called, &p2, DEADLINE_MS));
	assert_true(run_until(f, probe_called, &p3, DEADLINE_MS));
	assert_true(run_until(f, probe_called, &p4, DEADLINE_MS));
	assert_int_equal(p1.code, 0);
	assert_int_equal(p2.code, 1);
	assert_int_equal(p3.code, 7);
	assert_int_equal(p4.code, 0);    /* the container's environment */

	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop);
	assert_int_equal(driver_docker_ops.probe(c, p_slow, 1, on_probe, &p5), 0);
	assert_true(run_until(f, probe_called, &p5, DEADLINE_MS));
	assert_int_equal(p5.code, -1);
	assert_true(uv_now(&f->loop) - t0 >= 1000);
	assert_true(uv_now(&f->loop) - t0 < 5000);

	assert_int_equal(driver_docker_ops.stop(c, 0), 0);
	wait_exited(f, &r);
	assert_int_equal(r.exit_code, 137);
	assert_int_equal(driver_docker_ops.probe(c, p_true, 10, on_probe, &p6), -ESRCH);
	driver_docker_ops.release(c);
	assert_int_equal(p1.calls + p2.calls + p3.calls + p4.calls + p5.calls, 5);
}

/* A handle forgotten with a probe in flight: its callback never comes. */
static void test_forget_drops_probes(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("while true; do sleep 1; done"), NULL };
	char *const p_slow[] = { S("sleep"), S("2"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 };
	struct probe_rec p = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	char id[128], path[256];
	struct call call;

	wait_started(f, &r);
	snprintf(id, sizeof(id), "%s", driver_docker_ops.runtime_id(c));
	assert_int_equal(driver_docker_ops.probe(c, p_slow, 10, on_probe, &p), 0);
	driver_docker_ops.forget(c);
	/* the probe's sleep ends well within this */
	snprintf(path, sizeof(path), "/v1.41/containers/%s/stop?t=3", id);
	docker_call(f, "POST", path, NULL, 4096, &call);
	assert_int_equal(call.status, 204);
	call_free(&call);
	snprintf(path, sizeof(path), "/v1.41/containers/%s?force=1", id);
	docker_call(f, "DELETE", path, NULL, 4096, &call);
	assert_int_equal(call.status, 204);
	call_free(&call);
	assert_int_equal(p.calls, 0);
	assert_int_equal(r.exited, 0);
}

static void test_save_forget_adopt_running(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"),
		S("echo before; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after; "
		"while true; do sleep 0.1; done"), NULL };
	char *const p_go[] = { S("touch"), S("/tmp/go"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 }, r2 = { 0 };
	struct probe_rec p = { 0 };
	struct drv_config cfg = { .docker_socket = g_socket, .state_dir = "/tmp" };
	struct contains_arg before = { f->log_path, "before\n" }, after = { f->log_path, "after\n" };
	struct drv_container *c = launch(f, &s, &r);
	struct driver *d2;
	char id[128], path[256], err[512] = "", *log;
	json_t *saved;
	struct call call;

	wait_started(f, &r);
	assert_int_equal(r.start_err, 0);
	assert_true(run_until(f, file_contains, &before, DEADLINE_MS));
	snprintf(id, sizeof(id), "%s", driver_docker_ops.runtime_id(c));
	saved = driver_docker_ops.save(c);
	assert_non_null(saved);

	/* the daemon goes away, leaving the container running */
	driver_docker_ops.forget(c);
	driver_docker_ops.shutdown(f->d);
	f->d = NULL;
	uv_run(&f->loop, UV_RUN_NOWAIT);

	/* and comes back */
	assert_int_equal(driver_docker_ops.init(&f->loop, &cfg, &events, &d2, err, sizeof(err)), 0);
	f->d = d2;
	c = NULL;
	assert_int_equal(driver_docker_ops.adopt(d2, &s, saved, &r2, &c), 0);
	json_decref(saved);
	assert_non_null(c);
	assert_string_equal(driver_docker_ops.runtime_id(c), id);
	assert_int_equal(driver_docker_ops.probe(c, p_go, 10, on_probe, &p), 0);
	assert_true(run_until(f, probe_called, &p, DEADLINE_MS));
	assert_int_equal(p.code, 0);
	assert_true(run_until(f, file_contains, &after, DEADLINE_MS));
	assert_int_equal(r2.exited, 0);
	assert_int_equal(r2.started, 0);     /* never for adopt() */

	/* stopped behind the driver's back: `exited` still comes */
	snprintf(path, sizeof(path), "/v1.41/containers/%s/stop?t=1", id);
	docker_call(f, "POST", path, NULL, 4096, &call);
	assert_int_equal(call.status, 204);
	call_free(&call);
	wait_exited(f, &r2);
	assert_int_equal(r2.exit_code, 137);
	assert_int_equal(r.exited, 0);       /* the forgotten handle hears nothing */

	log = read_file(f->log_path, NULL);
	assert_int_equal(count_of(log, "before\n"), 1);   /* not replayed by the adoption */
	assert_int_equal(count_of(log, "after\n"), 1);
	free(log);
	driver_docker_ops.release(c);
	wait_gone(f, id);
}

static void test_adopt_exited_gone_and_foreign(void **state)
{
	struct fx *f = *state;
	char *const argv[] = { S("sh"), S("-c"), S("exit 5"), NULL };
	struct drv_spec s = spec(f, "main", argv);
	struct rec r = { 0 }, r2 = { 0 }, r3 = { 0 };
	struct drv_container *c = launch(f, &s, &r);
	char id[128];
	json_t *saved, *bad;

	wait_started(f, &r);
	wait_exited(f, &r);
	assert_int_equal(r.exit_code, 5);
	snprintf(id, sizeof(id), "%s", driver_docker_ops.runtime_id(c));
	saved = driver_docker_ops.save(c);
	driver_docker_ops.forget(c);

	/* it ended while nobody watched */
	assert_int_equal(driver_docker_ops.adopt(f->d, &s, saved, &r2, &c), 0);
	assert_int_equal(r2.exited, 0);      /* from the loop, not from adopt() */
	wait_exited(f, &r2);
	assert_int_equal(r2.exit_code, 5);
	assert_int_equal(r2.started, 0);
	driver_docker_ops.release(c);
	wait_gone(f, id);

	/* it is gone */
	assert_int_equal(driver_docker_ops.adopt(f->d, &s, saved, &r3, &c), 0);
	wait_exited(f, &r3);
	assert_int_equal(r3.exit_code, -1);
	assert_non_null(strstr(r3.exit_reason, "gone"));
	driver_docker_ops.release(c);
	json_decref(saved);

	/* not docker's state */
	bad = json_pack("{s:i, s:i, s:s}", "pid", 1234, "start_time", 99, "boot_id", "x");
	assert_int_equal(driver_docker_ops.adopt(f->d, &s, bad, &r3, &c), -EINVAL);
	json_decref(bad);
	bad = json_pack("{s:s}", "container_id", "../../images");
	assert_int_equal(driver_docker_ops.adopt(f->d, &s, bad, &r3, &c), -EINVAL);
	json_decref(bad);
	bad = json_string("abc");
	assert_int_equal(driver_docker_ops.adopt(f->d, &s, bad, &r3, &c), -EINVAL);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_unreachable_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_curl_uv_on_the_docker_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_code_and_log_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_image_fails_the_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_command_fails_the_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_reaches_the_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_output_demultiplexed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_escalates_to_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_before_started_cancels_the_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_within_memory_limit_is_not_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_drops_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_forget_adopt_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_exited_gone_and_foreign, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
