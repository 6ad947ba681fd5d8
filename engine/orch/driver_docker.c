/*
 * driver_docker.c — the docker driver: each container is a Docker container,
 * run through the Docker Engine API (version 1.41, which podman's
 * Docker-compatible socket also serves) over a unix socket, asynchronously
 * with curl_uv.
 *
 * init:    GET /v1.41/_ping, synchronously (a local socket, 5 s at most): a
 *          daemon that does not answer fails init with the reason; then
 *          GET /info for the CPU count (NanoCpus above it are refused).
 * launch:  POST /containers/create?name=tripline-<task_id>-<container>
 *          (labels tripline.task-id, .task-arn, .container, .cluster; network
 *          "none" unless asked; memory, swap = memory, CPUs in HostConfig; the
 *          json-file log driver with rotation, so that Docker's own copy stays
 *          bounded), then POST /containers/{id}/start, then `started`. Images
 *          are never pulled: a missing one fails the start with Docker's
 *          message. A stop asked for before the start cancels it: `started`
 *          reports -ECANCELED and no `exited` follows.
 * running: two long requests per container. GET /containers/{id}/logs?follow=1
 *          streams stdout and stderr, which are demultiplexed (the 8-byte
 *          frame headers of a container without a TTY) and appended to
 *          spec->log_path. POST /containers/{id}/wait answers when the
 *          container stops; GET /containers/{id}/json then tells whether the
 *          kernel's OOM killer ended it. `exited` is delivered once the log
 *          stream has ended too (at most DOCKER_LOG_DRAIN_MS later), so the
 *          log file is complete when the orchestrator hears of the exit.
 *          A wait that fails while the container may still run (dockerd
 *          restarting) is retried after 1, 2, 4, 8 and 16 s, the log stream
 *          resumed from that moment; then the exit is reported as -1.
 * stop:    POST /containers/{id}/stop?t=<timeout_s> (SIGTERM, SIGKILL after t).
 * probe:   an exec (create, start detached, then GET /exec/{id}/json polled
 *          with a growing interval until it is no longer running). The Engine
 *          API cannot kill an exec, so one that outlives its timeout is
 *          reported as -1 and left to finish inside the container. -ESRCH
 *          before the container runs and after it stopped.
 * adopt:   GET /containers/{id}/json: a running container is followed again
 *          (logs since the moment of adoption, so nothing is written twice),
 *          an exited one reports its exit code, a missing one -1.
 * release: DELETE /containers/{id}?force=1, fire and forget; a delete still
 *          in flight when the driver is shut down is dropped, and the
 *          container stays behind (stopped, with its tripline labels), as does
 *          one whose create was still in flight at release() or forget().
 *
 * Every response is capped at DOCKER_MAX_RESPONSE. spec->env goes into the
 * create request's body only: it is validated here so that Docker never has
 * a reason to quote it back, and our copy of that body is wiped once it was
 * handed over.
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "curl_uv.h"
#include "logger.h"

#define DOCKER_API "/v1.41"
#define DOCKER_URL_BASE "http://localhost" DOCKER_API
#define DOCKER_MAX_RESPONSE (1024 * 1024)
#define DOCKER_MAX_ERROR_BODY (64 * 1024)       /* error bodies of streamed requests */
#define DOCKER_PING_TIMEOUT_MS 5000u
#define DOCKER_CREATE_TIMEOUT_MS 120000u        /* vfs copies the whole image */
#define DOCKER_START_TIMEOUT_MS 120000u
#define DOCKER_INSPECT_TIMEOUT_MS 30000u
#define DOCKER_STOP_GRACE_MS 60000u             /* on top of the stop timeout */
#define DOCKER_REMOVE_TIMEOUT_MS 120000u
#define DOCKER_LOG_DRAIN_MS 2000u
#define DOCKER_PROBE_POLL_MIN_MS 50u
#define DOCKER_PROBE_POLL_MAX_MS 500u
#define DOCKER_MAX_PROBES 16                    /* per container, at once */
#define DOCKER_MAX_STOP_TIMEOUT_S 86400u
#define DOCKER_WAIT_RETRIES 5                   /* 1 + 2 + 4 + 8 + 16 s: a dockerd restart */
#define DOCKER_NANO_CPUS_MIN 10000000ull        /* Docker's minimum: 0.01 CPU */
#define DC_ID_MAX 128
#define DC_NAME_MAX 255
#define DC_PATH_MAX 1024
#define DC_REASON_MAX 512

static const char OOM_REASON[] = "OutOfMemoryError: Container killed due to memory usage";

struct driver {
	uv_loop_t *loop;
	struct curl_uv *cu;
	const struct drv_events *ev;
	char *socket;
	uint64_t max_nano_cpus;            /* the daemon's CPUs; 0 unknown */
	struct drv_container *containers;  /* launched or adopted, not yet released */
};

enum dc_phase {
	DC_CREATING,     /* create request in flight */
	DC_STARTING,     /* start request in flight */
	DC_ADOPTING,     /* first inspect of adopt() in flight */
	DC_RUNNING,      /* logs and wait in flight (or a wait retry pending) */
	DC_ENDING,       /* stopped: the inspect after the wait in flight */
	DC_DRAINING,     /* exit known: waiting for the log stream to end */
	DC_DONE,         /* `started` failed or `exited` delivered */
};

struct dc_probe {
	struct drv_container *c;
	struct dc_probe *prev, *next;
	uv_timer_t timer;
	struct curl_uv_req *req;
	char exec_id[DC_ID_MAX + 1];
	uint64_t deadline;                  /* uv_now() ms */
	uint64_t interval;                  /* next poll delay */
	drv_probe_fn done;
	void *arg;
};

struct drv_container {
	struct driver *d;
	struct drv_container *prev, *next;
	void *owner;
	enum dc_phase phase;
	char id[DC_ID_MAX + 1];             /* "" until created */
	char name[DC_NAME_MAX + 1];         /* tripline-<task_id>-<container> */
	int log_fd;
	bool tty;
	uv_timer_t timer;                   /* the log drain */

	struct curl_uv_req *req;            /* create, start or inspect */
	struct curl_uv_req *wait_req;
	struct curl_uv_req *logs_req;
	struct curl_uv_req *stop_req;
	bool stop_requested;                /* before it ran: do not start it */
	bool stop_sent;
	unsigned stop_timeout;
	bool waited;                        /* wait answered with exit_code */
	int wait_retries;
	char since[48];                     /* logs after adopt: "sec.nsec" */

	unsigned char frame_hdr[8];         /* log demultiplexing */
	size_t frame_hdr_len;
	uint32_t frame_left;
	bool log_write_failed;

	int exit_code;
	bool oom_killed;
	char reason[DC_REASON_MAX];

	struct dc_probe *probes;
	int n_probes;
};

/* --- helpers -------------------------------------------------------------- */

static int fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Formats into dst, cut to size - 1 bytes: for texts meant for a person. */
static void textf(char *dst, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void textf(char *dst, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(dst, size, f, ap);
	va_end(ap);
}

static void set_text(char *dst, size_t size, const char *src)
{
	textf(dst, size, "%s", src);
}

static void dc_log(struct drv_container *c, int level, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static void dc_log(struct drv_container *c, int level, const char *f, ...)
{
	char msg[DC_REASON_MAX + 256];
	va_list ap;

	if (!c->d->ev->log)
		return;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	c->d->ev->log(c->owner, level, msg);
}

/* Docker names and ids: [A-Za-z0-9_.-], 1..max bytes. */
static bool valid_token(const char *s, size_t max)
{
	size_t i;

	if (!s || !s[0])
		return false;
	for (i = 0; s[i]; i++) {
		char ch = s[i];
		if (i >= max)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static json_t *parse_body(const struct curl_uv_result *res)
{
	if (res->err || res->body_len == 0)
		return NULL;
	return json_loadb(res->body, res->body_len, 0, NULL);
}

/* What went wrong, for a person: Docker's {"message"}, else the transport error. */
static void docker_message(const struct curl_uv_result *res, char *buf, size_t size)
{
	json_t *j;
	const char *m;

	if (res->err) {
		textf(buf, size, "docker: %s", res->error);
		return;
	}
	j = parse_body(res);
	m = json_string_value(json_object_get(j, "message"));
	if (m && m[0])
		textf(buf, size, "%s", m);
	else if (res->body_len > 0)
		textf(buf, size, "docker: HTTP %u: %.*s", res->status,
			 (int)(res->body_len < 200 ? res->body_len : 200), res->body);
	else
		textf(buf, size, "docker: HTTP %u", res->status);
	json_decref(j);
}

static int status_errno(const struct curl_uv_result *res)
{
	if (res->err)
		return res->err;
	switch (res->status) {
	case 400:
		return -EINVAL;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 500:
		return -EIO;
	default:
		return -EPROTO;
	}
}

/* One Engine API request on the driver's socket; path starts with '/'. */
static int dc_request(struct driver *d, const char *method, const char *path, const char *body,
		      unsigned timeout_ms, curl_uv_data_fn on_data, curl_uv_done_fn done, void *arg,
		      struct curl_uv_req **ret)
{
	static const char *const json_headers[] = { "Content-Type: application/json", NULL };
	char url[DC_PATH_MAX + sizeof(DOCKER_URL_BASE)];
	struct curl_uv_request rq = {
		.method = method,
		.url = url,
		.unix_socket = d->socket,
		.headers = body ? json_headers : NULL,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.max_response = on_data ? DOCKER_MAX_ERROR_BODY : DOCKER_MAX_RESPONSE,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.done = done,
		.arg = arg,
	};
	int err;

	err = fmt(url, sizeof(url), "%s%s", DOCKER_URL_BASE, path);
	if (err < 0)
		return err;
	return curl_uv_start(d->cu, &rq, ret);
}

/* --- container lifecycle ---------------------------------------------------- */

static void on_create_done(void *arg, const struct curl_uv_result *res);
static void on_start_done(void *arg, const struct curl_uv_result *res);
static void on_wait_done(void *arg, const struct curl_uv_result *res);
static void on_logs_done(void *arg, const struct curl_uv_result *res);
static int on_logs_data(void *arg, const char *data, size_t len);
static void on_exit_inspect_done(void *arg, const struct curl_uv_result *res);
static void on_adopt_inspect_done(void *arg, const struct curl_uv_result *res);
static void on_stop_done(void *arg, const struct curl_uv_result *res);
static void probe_discard(struct dc_probe *p);

static void on_container_closed(uv_handle_t *h)
{
	free(h->data);
}

/* A container struct with its log file open and its timer ready. */
static int container_new(struct driver *d, const struct drv_spec *spec, void *owner,
			 struct drv_container **ret)
{
	struct drv_container *c;
	int err;

	*ret = NULL;
	if (!spec->log_path || !spec->log_path[0])
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->owner = owner;
	c->exit_code = -1;
	c->log_fd = open(spec->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (c->log_fd < 0) {
		err = -errno;
		free(c);
		return err;
	}
	uv_timer_init(d->loop, &c->timer);
	c->timer.data = c;
	c->next = d->containers;
	if (d->containers)
		d->containers->prev = c;
	d->containers = c;
	*ret = c;
	return 0;
}

/* Frees c: cancels its requests and probes (no callbacks); the memory goes
 * when the timer has closed. */
static void container_free(struct drv_container *c)
{
	struct driver *d = c->d;

	curl_uv_cancel(c->req);
	curl_uv_cancel(c->wait_req);
	curl_uv_cancel(c->logs_req);
	curl_uv_cancel(c->stop_req);
	c->req = c->wait_req = c->logs_req = c->stop_req = NULL;
	while (c->probes)
		probe_discard(c->probes);
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->containers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_container_closed);
}

static void fail_start(struct drv_container *c, int err, const char *reason)
{
	c->phase = DC_DONE;
	c->d->ev->started(c->owner, err, reason);
}

/* `exited`, once: the last thing done with c before release()/forget(). */
static void deliver_exit(struct drv_container *c)
{
	struct drv_exit e = {
		.exit_code = c->exit_code,
		.oom_killed = c->oom_killed,
		.reason = c->reason[0] ? c->reason : NULL,
	};

	if (c->phase == DC_DONE)
		return;
	c->phase = DC_DONE;
	uv_timer_stop(&c->timer);
	curl_uv_cancel(c->logs_req);
	c->logs_req = NULL;
	c->d->ev->exited(c->owner, &e);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct drv_container *c = t->data;

	dc_log(c, LOG_LEVEL_DEBUG, "docker: %s: log stream still open %u ms after the exit; closing it",
	       c->name, DOCKER_LOG_DRAIN_MS);
	deliver_exit(c);
}

/* The exit is known: deliver it once the log stream has ended. */
static void finish_exit(struct drv_container *c)
{
	if (c->phase == DC_DONE)
		return;
	c->phase = DC_DRAINING;
	if (!c->logs_req) {
		deliver_exit(c);
		return;
	}
	uv_timer_start(&c->timer, on_drain_timeout, DOCKER_LOG_DRAIN_MS, 0);
}

static int send_stop(struct drv_container *c)
{
	char path[DC_PATH_MAX];
	unsigned t = c->stop_timeout;
	int err;

	if (t > DOCKER_MAX_STOP_TIMEOUT_S)
		t = DOCKER_MAX_STOP_TIMEOUT_S;
	err = fmt(path, sizeof(path), "/containers/%s/stop?t=%u", c->id, t);
	if (err < 0)
		return err;
	err = dc_request(c->d, "POST", path, NULL, t * 1000u + DOCKER_STOP_GRACE_MS, NULL, on_stop_done,
			 c, &c->stop_req);
	if (err < 0)
		return err;
	c->stop_sent = true;
	return 0;
}

static void on_stop_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	char msg[DC_REASON_MAX];

	c->stop_req = NULL;
	/* 204 stopped, 304 was not running: either way `wait` reports the exit */
	if (res->err || (res->status != 204 && res->status != 304)) {
		docker_message(res, msg, sizeof(msg));
		dc_log(c, LOG_LEVEL_WARN, "docker: stopping %s: %s", c->name, msg);
		c->stop_sent = false;   /* a later stop() may try again */
	}
}

static int start_logs(struct drv_container *c)
{
	char path[DC_PATH_MAX];
	int err;

	err = fmt(path, sizeof(path), "/containers/%s/logs?follow=1&stdout=1&stderr=1%s%s", c->id,
		  c->since[0] ? "&since=" : "", c->since);
	if (err < 0)
		return err;
	c->frame_hdr_len = 0;
	c->frame_left = 0;
	return dc_request(c->d, "GET", path, NULL, 0, on_logs_data, on_logs_done, c, &c->logs_req);
}

static int start_wait(struct drv_container *c)
{
	char path[DC_PATH_MAX];
	int err;

	err = fmt(path, sizeof(path), "/containers/%s/wait", c->id);
	if (err < 0)
		return err;
	return dc_request(c->d, "POST", path, NULL, 0, NULL, on_wait_done, c, &c->wait_req);
}

/* Follows the logs and waits for the exit of a running container. */
static int follow(struct drv_container *c)
{
	int err = start_logs(c);

	if (err < 0)
		return err;
	return start_wait(c);
}

/* logs from now on: "seconds.nanoseconds", as Docker's `since` takes it */
static void set_since_now(struct drv_container *c)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	textf(c->since, sizeof(c->since), "%lld.%09ld", (long long)now.tv_sec, now.tv_nsec);
}

static void on_rewait(uv_timer_t *t)
{
	struct drv_container *c = t->data;
	int err;

	if (!c->logs_req) {
		set_since_now(c);
		if (start_logs(c) < 0)
			dc_log(c, LOG_LEVEL_WARN, "docker: %s: cannot follow its log again", c->name);
	}
	err = start_wait(c);
	if (err < 0) {
		textf(c->reason, sizeof(c->reason), "docker: cannot wait for %s: %s", c->name, strerror(-err));
		finish_exit(c);
	}
}

/* The wait failed while the container may still run (dockerd restarting):
 * waits again after a growing delay; false when the retries are used up. */
static bool rewait_later(struct drv_container *c)
{
	if (c->wait_retries >= DOCKER_WAIT_RETRIES)
		return false;
	c->phase = DC_RUNNING;
	uv_timer_start(&c->timer, on_rewait, 1000u << c->wait_retries, 0);
	c->wait_retries++;
	return true;
}

static void write_log(struct drv_container *c, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0 && !c->log_write_failed) {
		n = write(c->log_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->log_write_failed = true;
			dc_log(c, LOG_LEVEL_WARN, "docker: %s: writing its log: %s; output is dropped",
			       c->name, n < 0 ? strerror(errno) : "short write");
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Log bytes: raw with a TTY, else frames of {stream, 0, 0, 0, size (BE32)} + payload. */
static int on_logs_data(void *arg, const char *data, size_t len)
{
	struct drv_container *c = arg;
	size_t n;

	if (c->tty) {
		write_log(c, data, len);
		return 0;
	}
	while (len > 0) {
		if (c->frame_left == 0) {
			n = sizeof(c->frame_hdr) - c->frame_hdr_len;
			if (n > len)
				n = len;
			memcpy(c->frame_hdr + c->frame_hdr_len, data, n);
			c->frame_hdr_len += n;
			data += n;
			len -= n;
			if (c->frame_hdr_len < sizeof(c->frame_hdr))
				break;
			c->frame_hdr_len = 0;
			c->frame_left = (uint32_t)c->frame_hdr[4] << 24 | (uint32_t)c->frame_hdr[5] << 16 |
					(uint32_t)c->frame_hdr[6] << 8 | (uint32_t)c->frame_hdr[7];
			continue;
		}
		n = len < c->frame_left ? len : c->frame_left;
		write_log(c, data, n);
		data += n;
		len -= n;
		c->frame_left -= (uint32_t)n;
	}
	return 0;
}

static void on_logs_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	char msg[DC_REASON_MAX];

	c->logs_req = NULL;
	if (res->err || res->status != 200) {
		docker_message(res, msg, sizeof(msg));
		dc_log(c, LOG_LEVEL_WARN, "docker: %s: following its log: %s", c->name, msg);
	}
	if (c->phase == DC_DRAINING)
		deliver_exit(c);
}

static int inspect(struct drv_container *c, curl_uv_done_fn done)
{
	char path[DC_PATH_MAX];
	int err;

	err = fmt(path, sizeof(path), "/containers/%s/json", c->id);
	if (err < 0)
		return err;
	return dc_request(c->d, "GET", path, NULL, DOCKER_INSPECT_TIMEOUT_MS, NULL, done, c, &c->req);
}

static void on_wait_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	json_t *j;
	json_t *code;
	const char *werr;
	char msg[DC_REASON_MAX];
	int err;

	c->wait_req = NULL;
	if (c->phase != DC_RUNNING)
		return;
	if (!res->err && res->status == 200) {
		j = parse_body(res);
		code = json_object_get(j, "StatusCode");
		if (json_is_integer(code)) {
			json_int_t v = json_integer_value(code);
			c->exit_code = v >= 0 && v <= 255 ? (int)v : -1;
			c->waited = true;
		}
		werr = json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
		if (werr && werr[0])
			set_text(c->reason, sizeof(c->reason), werr);
		json_decref(j);
	} else {
		docker_message(res, msg, sizeof(msg));
		dc_log(c, LOG_LEVEL_WARN, "docker: %s: waiting for its exit: %s", c->name, msg);
	}
	/* the inspect tells an OOM kill, and whether a failed wait needs a retry */
	c->phase = DC_ENDING;
	err = inspect(c, on_exit_inspect_done);
	if (err < 0) {
		textf(c->reason, sizeof(c->reason), "docker: cannot inspect %s: %s", c->name, strerror(-err));
		finish_exit(c);
	}
}

static void on_exit_inspect_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	json_t *j, *state;
	const char *serr;
	char msg[DC_REASON_MAX];

	c->req = NULL;
	if (res->err || res->status != 200) {
		docker_message(res, msg, sizeof(msg));
		if (!c->waited && res->status != 404 && rewait_later(c))
			return;
		if (!c->waited)
			textf(c->reason, sizeof(c->reason), "docker: lost %s: %s", c->name, msg);
		finish_exit(c);
		return;
	}
	j = parse_body(res);
	state = json_object_get(j, "State");
	if (json_is_true(json_object_get(state, "Running")) && !c->waited) {
		json_decref(j);
		if (rewait_later(c))
			return;
		textf(c->reason, sizeof(c->reason), "docker: cannot wait for %s", c->name);
		finish_exit(c);
		return;
	}
	if (!c->waited) {
		json_t *code = json_object_get(state, "ExitCode");
		json_int_t v = json_is_integer(code) ? json_integer_value(code) : -1;
		c->exit_code = v >= 0 && v <= 255 ? (int)v : -1;
	}
	if (json_is_true(json_object_get(state, "OOMKilled"))) {
		c->oom_killed = true;
		set_text(c->reason, sizeof(c->reason), OOM_REASON);
	} else if (!c->reason[0]) {
		serr = json_string_value(json_object_get(state, "Error"));
		if (serr && serr[0])
			set_text(c->reason, sizeof(c->reason), serr);
	}
	json_decref(j);
	finish_exit(c);
}

static void on_start_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	char msg[DC_REASON_MAX];
	int err;

	c->req = NULL;
	if (res->err || (res->status != 204 && res->status != 304)) {
		docker_message(res, msg, sizeof(msg));
		fail_start(c, status_errno(res), msg);
		return;
	}
	err = follow(c);
	if (err < 0) {
		textf(msg, sizeof(msg), "docker: cannot follow %s: %s", c->name, strerror(-err));
		fail_start(c, err, msg);
		return;
	}
	c->phase = DC_RUNNING;
	if (c->stop_requested && send_stop(c) < 0)
		dc_log(c, LOG_LEVEL_WARN, "docker: cannot stop %s", c->name);
	c->d->ev->started(c->owner, 0, NULL);
}

static void on_create_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	json_t *j, *warnings, *w;
	const char *id;
	char msg[DC_REASON_MAX];
	char path[DC_PATH_MAX];
	size_t i;
	int err;

	c->req = NULL;
	if (res->err || res->status != 201) {
		docker_message(res, msg, sizeof(msg));
		fail_start(c, status_errno(res), msg);
		return;
	}
	j = parse_body(res);
	id = json_string_value(json_object_get(j, "Id"));
	if (!id || !valid_token(id, DC_ID_MAX)) {
		json_decref(j);
		textf(msg, sizeof(msg), "docker: creating %s: no container id in the answer", c->name);
		fail_start(c, -EPROTO, msg);
		return;
	}
	set_text(c->id, sizeof(c->id), id);
	warnings = json_object_get(j, "Warnings");
	json_array_foreach(warnings, i, w) {
		if (json_is_string(w))
			dc_log(c, LOG_LEVEL_WARN, "docker: %s: %s", c->name, json_string_value(w));
	}
	json_decref(j);

	if (c->stop_requested) {
		fail_start(c, -ECANCELED, "docker: stopped before it started");
		return;
	}
	c->phase = DC_STARTING;
	err = fmt(path, sizeof(path), "/containers/%s/start", c->id);
	if (err == 0)
		err = dc_request(c->d, "POST", path, NULL, DOCKER_START_TIMEOUT_MS, NULL, on_start_done, c,
				 &c->req);
	if (err < 0) {
		textf(msg, sizeof(msg), "docker: cannot start %s: %s", c->name, strerror(-err));
		fail_start(c, err, msg);
	}
}

/* --- the create request's body --------------------------------------------- */

static json_t *string_array(char *const *v)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; v && v[i]; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int set_str(json_t *o, const char *key, const char *value)
{
	return value ? json_object_set_new(o, key, json_string(value)) : 0;
}

static int set_int(json_t *o, const char *key, uint64_t value)
{
	if (value > INT64_MAX)
		return -1;
	return json_object_set_new(o, key, json_integer((json_int_t)value));
}

/* "NAME=value" with a non-empty NAME: anything else Docker would reject and quote. */
static bool valid_env(char *const *env)
{
	size_t i;

	for (i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq || eq == env[i])
			return false;
	}
	return true;
}

static int build_create(struct driver *d, struct drv_container *c, const struct drv_spec *s,
			char **ret)
{
	json_t *root = json_object(), *host = json_object(), *labels = json_object();
	json_t *binds = json_array(), *logcfg = json_object(), *logopts = json_object();
	uint64_t nano = 0;
	char bind[2 * DC_PATH_MAX];
	size_t i;
	int bad = 0;

	*ret = NULL;
	if (!root || !host || !labels || !binds || !logcfg || !logopts) {
		bad = 1;
		goto out;
	}
	bad |= set_str(root, "Image", s->image);
	if (s->argv && s->argv[0])
		bad |= json_object_set_new(root, "Cmd", string_array(s->argv));
	if (s->entry_point)
		bad |= json_object_set_new(root, "Entrypoint", string_array(s->entry_point));
	bad |= json_object_set_new(root, "Env", string_array(s->env));
	bad |= set_str(root, "WorkingDir", s->working_directory);
	bad |= set_str(root, "User", s->user);
	bad |= json_object_set_new(root, "Tty", json_false());
	bad |= json_object_set_new(root, "OpenStdin", json_false());
	bad |= json_object_set_new(root, "AttachStdin", json_false());
	bad |= json_object_set_new(root, "AttachStdout", json_false());
	bad |= json_object_set_new(root, "AttachStderr", json_false());

	bad |= set_str(labels, "tripline.task-id", s->task_id);
	bad |= set_str(labels, "tripline.task-arn", s->task_arn);
	bad |= set_str(labels, "tripline.container", s->container_name);
	bad |= set_str(labels, "tripline.cluster", s->cluster);
	bad |= json_object_set(root, "Labels", labels);

	bad |= set_str(host, "NetworkMode", s->network_mode ? s->network_mode : "none");
	if (s->memory_limit) {
		bad |= set_int(host, "Memory", s->memory_limit);
		bad |= set_int(host, "MemorySwap", s->memory_limit);   /* no swap: the limit is the limit */
	}
	if (s->memory_reservation)
		bad |= set_int(host, "MemoryReservation", s->memory_reservation);
	if (s->cpu_units) {
		nano = (uint64_t)s->cpu_units * 1000000000ull / 1024u;
		if (nano < DOCKER_NANO_CPUS_MIN)
			nano = DOCKER_NANO_CPUS_MIN;
		if (d->max_nano_cpus && nano > d->max_nano_cpus) {
			dc_log(c, LOG_LEVEL_WARN, "docker: %s: %" PRIu32 " CPU units are more than the "
			       "daemon's %" PRIu64 " CPUs; limited to those", c->name, s->cpu_units,
			       (uint64_t)(d->max_nano_cpus / 1000000000u));
			nano = d->max_nano_cpus;
		}
		bad |= set_int(host, "NanoCpus", nano);
	}
	for (i = 0; i < s->n_mounts; i++) {
		const struct drv_mount *m = &s->mounts[i];
		if (fmt(bind, sizeof(bind), "%s:%s%s", m->host_path, m->container_path,
			m->read_only ? ":ro" : "") < 0) {
			bad = 1;
			break;
		}
		bad |= json_array_append_new(binds, json_string(bind));
	}
	if (s->n_mounts)
		bad |= json_object_set(host, "Binds", binds);
	bad |= json_object_set_new(host, "AutoRemove", json_false());
	bad |= set_str(logcfg, "Type", "json-file");
	bad |= set_str(logopts, "max-size", "10m");
	bad |= set_str(logopts, "max-file", "2");
	bad |= json_object_set(logcfg, "Config", logopts);
	bad |= json_object_set(host, "LogConfig", logcfg);
	bad |= json_object_set(root, "HostConfig", host);
	if (!bad) {
		*ret = json_dumps(root, JSON_COMPACT);
		if (!*ret)
			bad = 1;
	}
out:
	json_decref(logopts);
	json_decref(logcfg);
	json_decref(binds);
	json_decref(labels);
	json_decref(host);
	json_decref(root);
	return bad ? -EINVAL : 0;
}

/* What launch() accepts; mounts whose paths Docker's "host:container" form cannot carry are refused. */
static int check_spec(const struct drv_spec *s)
{
	size_t i;

	if (!s->image || !s->image[0] || !valid_token(s->task_id, 64) ||
	    !valid_token(s->container_name, 180) || !valid_env(s->env))
		return -EINVAL;
	if (s->n_mounts && !s->mounts)
		return -EINVAL;
	for (i = 0; i < s->n_mounts; i++) {
		const struct drv_mount *m = &s->mounts[i];
		if (!m->host_path || m->host_path[0] != '/' || strchr(m->host_path, ':') ||
		    !m->container_path || m->container_path[0] != '/' || strchr(m->container_path, ':'))
			return -EINVAL;
	}
	return 0;
}

/* --- driver_ops ------------------------------------------------------------------ */

struct sync_answer {
	int err;
	unsigned status;
	char msg[DC_REASON_MAX];
	json_t *json;
};

static void on_sync_done(void *arg, const struct curl_uv_result *res)
{
	struct sync_answer *a = arg;

	a->err = res->err;
	a->status = res->status;
	if (res->err || res->status != 200)
		docker_message(res, a->msg, sizeof(a->msg));
	else
		a->json = parse_body(res);
}

/* A blocking GET against the local socket, for init only. */
static int sync_get(const char *socket, const char *path, struct sync_answer *a)
{
	char url[DC_PATH_MAX];
	struct curl_uv_request rq = {
		.method = "GET",
		.url = url,
		.unix_socket = socket,
		.max_response = DOCKER_MAX_RESPONSE,
		.timeout_ms = DOCKER_PING_TIMEOUT_MS,
		.done = on_sync_done,
		.arg = a,
	};
	int err;

	memset(a, 0, sizeof(*a));
	err = fmt(url, sizeof(url), "%s%s", DOCKER_URL_BASE, path);
	if (err == 0)
		err = curl_uv_perform(&rq);
	if (err < 0) {
		textf(a->msg, sizeof(a->msg), "%s", strerror(-err));
		a->err = err;
	}
	return a->err;
}

static bool docker_configured(const struct drv_config *cfg)
{
	return cfg->docker_socket && cfg->docker_socket[0];
}

static int docker_init(uv_loop_t *loop, const struct drv_config *cfg, const struct drv_events *events,
		       struct driver **ret, char *err, size_t errlen)
{
	struct sync_answer a;
	struct driver *d;
	json_t *ncpu;
	int rc;

	*ret = NULL;
	if (!cfg->docker_socket || !cfg->docker_socket[0]) {
		textf(err, errlen, "docker: no docker_socket configured");
		return -EINVAL;
	}
	if (strlen(cfg->docker_socket) >= 108) {
		textf(err, errlen, "docker: %s: a unix socket path is at most 107 bytes",
			 cfg->docker_socket);
		return -ENAMETOOLONG;
	}
	rc = sync_get(cfg->docker_socket, "/_ping", &a);
	json_decref(a.json);
	if (rc < 0) {
		textf(err, errlen, "docker: cannot reach %s: %s", cfg->docker_socket, a.msg);
		return rc;
	}
	if (a.status != 200) {
		textf(err, errlen, "docker: %s does not serve Engine API %s: %s", cfg->docker_socket,
		      &DOCKER_API[2], a.msg);
		return a.status == 400 ? -EPROTONOSUPPORT : -EPROTO;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->ev = events;
	d->socket = strdup(cfg->docker_socket);
	if (!d->socket) {
		free(d);
		return -ENOMEM;
	}
	/* NanoCpus above the daemon's CPU count is refused: learn it once */
	if (sync_get(cfg->docker_socket, "/info", &a) == 0 && a.status == 200) {
		ncpu = json_object_get(a.json, "NCPU");
		if (json_is_integer(ncpu) && json_integer_value(ncpu) > 0 &&
		    json_integer_value(ncpu) < 1000000)
			d->max_nano_cpus = (uint64_t)json_integer_value(ncpu) * 1000000000ull;
	}
	json_decref(a.json);
	rc = curl_uv_new(loop, &d->cu);
	if (rc < 0) {
		textf(err, errlen, "docker: %s", strerror(-rc));
		free(d->socket);
		free(d);
		return rc;
	}
	*ret = d;
	return 0;
}

static void docker_shutdown(struct driver *d)
{
	if (!d)
		return;
	while (d->containers) {
		log_warn("docker", "shutdown: %s was neither released nor forgotten",
			 d->containers->name[0] ? d->containers->name : d->containers->id);
		container_free(d->containers);
	}
	curl_uv_free(d->cu);
	free(d->socket);
	free(d);
}

static int docker_launch(struct driver *d, const struct drv_spec *spec, void *owner,
			 struct drv_container **ret)
{
	struct drv_container *c;
	char path[DC_PATH_MAX];
	char *body = NULL;
	int err;

	*ret = NULL;
	err = check_spec(spec);
	if (err < 0)
		return err;
	err = container_new(d, spec, owner, &c);
	if (err < 0)
		return err;
	err = fmt(c->name, sizeof(c->name), "tripline-%s-%s", spec->task_id, spec->container_name);
	if (err < 0)
		goto out_free;
	err = build_create(d, c, spec, &body);
	if (err < 0)
		goto out_free;
	err = fmt(path, sizeof(path), "/containers/create?name=%s", c->name);
	if (err == 0)
		err = dc_request(d, "POST", path, body, DOCKER_CREATE_TIMEOUT_MS, NULL, on_create_done, c,
				 &c->req);
	explicit_bzero(body, strlen(body));   /* the environment's secrets */
	free(body);
	if (err < 0)
		goto out_free;
	c->phase = DC_CREATING;
	*ret = c;
	return 0;

out_free:
	container_free(c);
	return err;
}

static int docker_stop(struct drv_container *c, unsigned timeout_s)
{
	switch (c->phase) {
	case DC_CREATING:
	case DC_STARTING:
	case DC_ADOPTING:
		if (!c->stop_requested)
			c->stop_timeout = timeout_s;
		c->stop_requested = true;
		return 0;
	case DC_RUNNING:
		if (c->stop_sent)
			return 0;
		c->stop_timeout = timeout_s;
		return send_stop(c);
	case DC_ENDING:
	case DC_DRAINING:
	case DC_DONE:
		return 0;
	}
	return 0;
}

/* --- probes ------------------------------------------------------------------- */

static void on_probe_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Unlinks p and frees it once its timer is closed; no callback. */
static void probe_discard(struct dc_probe *p)
{
	struct drv_container *c = p->c;

	curl_uv_cancel(p->req);
	p->req = NULL;
	if (p->prev)
		p->prev->next = p->next;
	else
		c->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	c->n_probes--;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, on_probe_closed);
}

static void probe_finish(struct dc_probe *p, int code)
{
	drv_probe_fn done = p->done;
	void *arg = p->arg;

	probe_discard(p);
	done(arg, code);
}

/* ms left before the probe's deadline; 0 when it has passed. */
static unsigned probe_left(struct dc_probe *p)
{
	uint64_t now = uv_now(p->c->d->loop);

	if (now >= p->deadline)
		return 0;
	return p->deadline - now > UINT32_MAX ? UINT32_MAX : (unsigned)(p->deadline - now);
}

static void on_exec_json(void *arg, const struct curl_uv_result *res);

static void probe_poll(struct dc_probe *p)
{
	char path[DC_PATH_MAX];
	unsigned left = probe_left(p);
	int err;

	if (left == 0) {
		probe_finish(p, -1);
		return;
	}
	err = fmt(path, sizeof(path), "/exec/%s/json", p->exec_id);
	if (err == 0)
		err = dc_request(p->c->d, "GET", path, NULL, left, NULL, on_exec_json, p, &p->req);
	if (err < 0)
		probe_finish(p, -1);
}

static void on_probe_timer(uv_timer_t *t)
{
	probe_poll(t->data);
}

static void on_exec_json(void *arg, const struct curl_uv_result *res)
{
	struct dc_probe *p = arg;
	json_t *j, *code;
	unsigned left, delay;
	int result = -2;

	p->req = NULL;
	if (res->err || res->status != 200) {
		probe_finish(p, -1);
		return;
	}
	j = parse_body(res);
	code = json_object_get(j, "ExitCode");
	/* ExitCode is null until the process has run */
	if (json_is_false(json_object_get(j, "Running")) && json_is_integer(code)) {
		json_int_t v = json_integer_value(code);
		result = v >= 0 && v <= 255 ? (int)v : -1;
	}
	json_decref(j);
	if (result != -2) {
		probe_finish(p, result);
		return;
	}
	left = probe_left(p);
	if (left == 0) {
		probe_finish(p, -1);
		return;
	}
	delay = (unsigned)p->interval < left ? (unsigned)p->interval : left;
	p->interval = p->interval * 2 > DOCKER_PROBE_POLL_MAX_MS ? DOCKER_PROBE_POLL_MAX_MS : p->interval * 2;
	uv_timer_start(&p->timer, on_probe_timer, delay, 0);
}

static void on_exec_started(void *arg, const struct curl_uv_result *res)
{
	struct dc_probe *p = arg;

	p->req = NULL;
	if (res->err || (res->status != 200 && res->status != 204)) {
		probe_finish(p, -1);
		return;
	}
	probe_poll(p);
}

static void on_exec_created(void *arg, const struct curl_uv_result *res)
{
	struct dc_probe *p = arg;
	json_t *j;
	const char *id;
	char path[DC_PATH_MAX];
	unsigned left;
	int err = -EPROTO;

	p->req = NULL;
	if (res->err || res->status != 201) {
		probe_finish(p, -1);
		return;
	}
	j = parse_body(res);
	id = json_string_value(json_object_get(j, "Id"));
	if (id && valid_token(id, DC_ID_MAX)) {
		set_text(p->exec_id, sizeof(p->exec_id), id);
		err = 0;
	}
	json_decref(j);
	left = probe_left(p);
	if (err == 0 && left > 0)
		err = fmt(path, sizeof(path), "/exec/%s/start", p->exec_id);
	else
		err = -ETIMEDOUT;
	if (err == 0)
		err = dc_request(p->c->d, "POST", path, "{\"Detach\":true,\"Tty\":false}", left, NULL,
				 on_exec_started, p, &p->req);
	if (err < 0)
		probe_finish(p, -1);
}

static int docker_probe(struct drv_container *c, char *const *argv, unsigned timeout_s, drv_probe_fn done,
			void *arg)
{
	struct dc_probe *p;
	json_t *body;
	char *text;
	char path[DC_PATH_MAX];
	int err;

	if (!argv || !argv[0] || !done || timeout_s == 0)
		return -EINVAL;
	/* adopting: the exec tells whether it still runs */
	if (c->phase != DC_RUNNING && c->phase != DC_ADOPTING)
		return -ESRCH;
	if (c->n_probes >= DOCKER_MAX_PROBES)
		return -EBUSY;
	body = json_pack("{s:o, s:b, s:b, s:b, s:b}", "Cmd", string_array(argv), "AttachStdin", 0,
			 "AttachStdout", 0, "AttachStderr", 0, "Tty", 0);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(text);
		return -ENOMEM;
	}
	p->c = c;
	p->done = done;
	p->arg = arg;
	p->interval = DOCKER_PROBE_POLL_MIN_MS;
	p->deadline = uv_now(c->d->loop) + (uint64_t)timeout_s * 1000u;
	err = fmt(path, sizeof(path), "/containers/%s/exec", c->id);
	if (err == 0)
		err = dc_request(c->d, "POST", path, text, probe_left(p), NULL, on_exec_created, p, &p->req);
	free(text);
	if (err < 0) {
		free(p);
		return err;
	}
	uv_timer_init(c->d->loop, &p->timer);
	p->timer.data = p;
	p->next = c->probes;
	if (c->probes)
		c->probes->prev = p;
	c->probes = p;
	c->n_probes++;
	return 0;
}

/* --- save, adopt, release ------------------------------------------------------- */

static json_t *docker_save(const struct drv_container *c)
{
	if (!c->id[0])
		return NULL;
	return json_pack("{s:s}", "container_id", c->id);
}

static void on_adopt_inspect_done(void *arg, const struct curl_uv_result *res)
{
	struct drv_container *c = arg;
	json_t *j, *state, *code;
	const char *id, *status;
	char msg[DC_REASON_MAX];
	bool running;
	int err;

	c->req = NULL;
	if (res->err || res->status != 200) {
		if (!res->err && res->status == 404)
			textf(c->reason, sizeof(c->reason), "docker: container %s is gone", c->id);
		else {
			docker_message(res, msg, sizeof(msg));
			textf(c->reason, sizeof(c->reason), "docker: cannot inspect %s: %s", c->id, msg);
		}
		c->exit_code = -1;
		deliver_exit(c);
		return;
	}
	j = parse_body(res);
	state = json_object_get(j, "State");
	id = json_string_value(json_object_get(j, "Id"));
	if (id && valid_token(id, DC_ID_MAX))
		set_text(c->id, sizeof(c->id), id);
	status = json_string_value(json_object_get(state, "Status"));
	running = json_is_true(json_object_get(state, "Running"));
	c->tty = json_is_true(json_object_get(json_object_get(j, "Config"), "Tty"));
	if (!running) {
		code = json_object_get(state, "ExitCode");
		c->exit_code = -1;
		if (json_is_integer(code) && !(status && strcmp(status, "created") == 0) &&
		    json_integer_value(code) >= 0 && json_integer_value(code) <= 255)
			c->exit_code = (int)json_integer_value(code);
		if (json_is_true(json_object_get(state, "OOMKilled"))) {
			c->oom_killed = true;
			set_text(c->reason, sizeof(c->reason), OOM_REASON);
		}
		json_decref(j);
		deliver_exit(c);
		return;
	}
	json_decref(j);
	err = follow(c);
	if (err < 0) {
		textf(c->reason, sizeof(c->reason), "docker: cannot follow %s: %s", c->id, strerror(-err));
		deliver_exit(c);
		return;
	}
	c->phase = DC_RUNNING;
	if (c->stop_requested && send_stop(c) < 0)
		dc_log(c, LOG_LEVEL_WARN, "docker: cannot stop %s", c->id);
}

static int docker_adopt(struct driver *d, const struct drv_spec *spec, const json_t *state, void *owner,
			struct drv_container **ret)
{
	struct drv_container *c;
	const char *id;
	int err;

	*ret = NULL;
	id = json_string_value(json_object_get(state, "container_id"));
	if (!json_is_object(state) || !id || !valid_token(id, DC_ID_MAX))
		return -EINVAL;
	err = container_new(d, spec, owner, &c);
	if (err < 0)
		return err;
	set_text(c->id, sizeof(c->id), id);
	if (valid_token(spec->task_id, 64) && valid_token(spec->container_name, 180))
		fmt(c->name, sizeof(c->name), "tripline-%s-%s", spec->task_id, spec->container_name);
	else
		set_text(c->name, sizeof(c->name), id);
	/* what it writes from now on; what it wrote while we were away was lost
	 * or is already in the file */
	set_since_now(c);
	err = inspect(c, on_adopt_inspect_done);
	if (err < 0) {
		container_free(c);
		return err;
	}
	c->phase = DC_ADOPTING;
	*ret = c;
	return 0;
}

static const char *docker_runtime_id(const struct drv_container *c)
{
	return c->id;
}

static void docker_release(struct drv_container *c)
{
	char path[DC_PATH_MAX];

	if (c->id[0] && fmt(path, sizeof(path), "/containers/%s?force=1", c->id) == 0 &&
	    dc_request(c->d, "DELETE", path, NULL, DOCKER_REMOVE_TIMEOUT_MS, NULL, NULL, NULL, NULL) < 0)
		log_warn("docker", "cannot remove container %s", c->id);
	container_free(c);
}

static void docker_forget(struct drv_container *c)
{
	container_free(c);
}

const struct driver_ops driver_docker_ops = {
	.name = "docker",
	.image_command = true,
	.configured = docker_configured,
	.unavailable_hint = "drivers.docker.socket is not configured or does not answer",
	.init = docker_init,
	.shutdown = docker_shutdown,
	.launch = docker_launch,
	.stop = docker_stop,
	.probe = docker_probe,
	.save = docker_save,
	.adopt = docker_adopt,
	.runtime_id = docker_runtime_id,
	.release = docker_release,
	.forget = docker_forget,
};
