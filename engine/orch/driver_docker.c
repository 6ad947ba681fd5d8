/*
 * driver_docker.c — the docker driver: each container is a Docker container,
 * run through the Docker Engine API over its unix socket (docker_api.c).
 * This file holds the ops table and a container's life; the create
 * request's body is docker_create.c's, health probes are docker_probe.c's,
 * and docker.h is what they share.
 *
 * init:    GET /v1.41/_ping, synchronously: a daemon that does not answer
 *          fails init with the reason; then GET /info for the CPU count
 *          (NanoCpus above it are refused).
 * launch:  POST /containers/create?name=tripline-<task_id>-<container>, then
 *          POST /containers/{id}/start, then `started`. Images are never
 *          pulled: a missing one fails the start with Docker's message. A
 *          stop asked for before the start cancels it: `started` reports
 *          -ECANCELED and no `exited` follows. The create request's body
 *          holds spec->env, so our copy of it is wiped once it was handed
 *          over.
 * running: two long requests per container. GET /containers/{id}/logs?follow=1
 *          streams stdout and stderr, which are demultiplexed (the 8-byte
 *          frame headers of a container without a TTY) and appended to
 *          spec->log_path, kept within spec->log_max_bytes by rotation by
 *          rename (logrot.h). While the daemon is down nothing is written
 *          there; dockerd keeps the output in its json-file log, itself
 *          bounded (max-size and max-file, docker_create.c), and the
 *          container never blocks on it. POST /containers/{id}/wait answers when the
 *          container stops; GET /containers/{id}/json then tells whether the
 *          kernel's OOM killer ended it (a 137 exit without OOMKilled that
 *          no stop of ours explains is looked at again for up to 3.15 s:
 *          dockerd may record the OOM event after the exit, later still on
 *          a loaded host). `exited` is delivered once the log
 *          stream has ended too (at most DOCKER_LOG_DRAIN_MS later), so the
 *          log file is complete when the orchestrator hears of the exit.
 *          A wait that fails while the container may still run (dockerd
 *          restarting) is retried after 1, 2, 4, 8 and 16 s, the log stream
 *          resumed from that moment; then the exit is reported as -1.
 * stop:    POST /containers/{id}/stop?t=<timeout_s> (SIGTERM, SIGKILL after t).
 * adopt:   GET /containers/{id}/json: a running container is followed again
 *          (logs since the moment of adoption, so nothing is written twice),
 *          an exited one reports its exit code, a missing one -1.
 * release: DELETE /containers/{id}?force=1, fire and forget; a delete still
 *          in flight when the driver is shut down is dropped, and the
 *          container stays behind (stopped, with its tripline labels), as does
 *          one whose create was still in flight at release() or forget().
 */
#include "docker.h"
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logger.h"

#define DOCKER_CREATE_TIMEOUT_MS 120000u        /* vfs copies the whole image */
#define DOCKER_START_TIMEOUT_MS 120000u
#define DOCKER_INSPECT_TIMEOUT_MS 30000u
#define DOCKER_STOP_GRACE_MS 60000u             /* on top of the stop timeout */
#define DOCKER_REMOVE_TIMEOUT_MS 120000u
#define DOCKER_LOG_DRAIN_MS 10000u
#define DOCKER_MAX_STOP_TIMEOUT_S 86400u
#define DOCKER_WAIT_RETRIES 5                   /* 1 + 2 + 4 + 8 + 16 s: a dockerd restart */
#define DOCKER_OOM_RECHECKS 6                   /* 50 + 100 + … + 1600 ms: 3.15 s */

static const char OOM_REASON[] = "OutOfMemoryError: Container killed due to memory usage";

void docker_log(struct drv_container *c, int level, const char *f, ...)
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

/* --- container lifecycle -------------------------------------------------- */

static void on_create_done(void *arg, const struct curl_uv_result *res);
static void on_start_done(void *arg, const struct curl_uv_result *res);
static void on_wait_done(void *arg, const struct curl_uv_result *res);
static void on_logs_done(void *arg, const struct curl_uv_result *res);
static int on_logs_data(void *arg, const char *data, size_t len);
static void on_exit_inspect_done(void *arg, const struct curl_uv_result *res);
static void on_adopt_inspect_done(void *arg, const struct curl_uv_result *res);
static void on_stop_done(void *arg, const struct curl_uv_result *res);

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
	err = statefile_make_dir(spec->log_path, true);
	if (err < 0) {
		free(c);
		return err;
	}
	err = logrot_open(&c->log, spec->log_path, spec->log_max_bytes, spec->log_keep);
	if (err < 0) {
		free(c);
		return err;
	}
	c->log.defer_drop = true;
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
		docker_probe_discard(c->probes);
	logrot_close(&c->log);
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

	docker_log(c, LOG_LEVEL_DEBUG,
		   "docker: %s: log stream still open %u ms after the exit; closing it", c->name,
		   DOCKER_LOG_DRAIN_MS);
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
	err = docker_fmt(path, sizeof(path), "/containers/%s/stop?t=%u", c->id, t);
	if (err < 0)
		return err;
	err = docker_request(c->d, "POST", path, NULL, t * 1000u + DOCKER_STOP_GRACE_MS, NULL,
			     on_stop_done, c, &c->stop_req);
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
		docker_log(c, LOG_LEVEL_WARN, "docker: stopping %s: %s", c->name, msg);
		c->stop_sent = false;   /* a later stop() may try again */
	}
}

static int start_logs(struct drv_container *c)
{
	char path[DC_PATH_MAX];
	int err;

	err = docker_fmt(path, sizeof(path), "/containers/%s/logs?follow=1&stdout=1&stderr=1%s%s",
			 c->id, c->since[0] ? "&since=" : "", c->since);
	if (err < 0)
		return err;
	c->frame_hdr_len = 0;
	c->frame_left = 0;
	return docker_request(c->d, "GET", path, NULL, 0, on_logs_data, on_logs_done, c, &c->logs_req);
}

static int start_wait(struct drv_container *c)
{
	char path[DC_PATH_MAX];
	int err;

	err = docker_fmt(path, sizeof(path), "/containers/%s/wait", c->id);
	if (err < 0)
		return err;
	return docker_request(c->d, "POST", path, NULL, 0, NULL, on_wait_done, c, &c->wait_req);
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
	docker_textf(c->since, sizeof(c->since), "%lld.%09ld", (long long)now.tv_sec, now.tv_nsec);
}

static void on_rewait(uv_timer_t *t)
{
	struct drv_container *c = t->data;
	int err;

	if (!c->logs_req) {
		set_since_now(c);
		if (start_logs(c) < 0)
			docker_log(c, LOG_LEVEL_WARN, "docker: %s: cannot follow its log again", c->name);
	}
	err = start_wait(c);
	if (err < 0) {
		docker_textf(c->reason, sizeof(c->reason), "docker: cannot wait for %s: %s", c->name,
			     strerror(-err));
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

static void on_dropped_closed(uv_fs_t *req)
{
	uv_fs_req_cleanup(req);
	free(req);
}

/* On the loop: a rotation is an unlink, a few renames and an open, never a
 * copy; the dropped file's blocks are freed by its last close, on the
 * threadpool. */
static void write_log(struct drv_container *c, const char *data, size_t len)
{
	if (c->log_write_failed)
		return;
	ssize_t n = logrot_write(&c->log, data, len);
	int fd = logrot_take_dropped(&c->log);
	if (fd >= 0) {
		uv_fs_t *req = malloc(sizeof(*req));
		if (!req || uv_fs_close(c->d->loop, req, fd, on_dropped_closed) < 0) {
			free(req);
			close(fd);
		}
	}
	if (n < 0) {
		c->log_write_failed = true;
		docker_log(c, LOG_LEVEL_WARN, "docker: %s: writing its log: %s; output is dropped",
			   c->name, strerror((int)-n));
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
		docker_log(c, LOG_LEVEL_WARN, "docker: %s: following its log: %s", c->name, msg);
	}
	if (c->phase == DC_DRAINING)
		deliver_exit(c);
}

static int inspect(struct drv_container *c, curl_uv_done_fn done)
{
	char path[DC_PATH_MAX];
	int err;

	err = docker_fmt(path, sizeof(path), "/containers/%s/json", c->id);
	if (err < 0)
		return err;
	return docker_request(c->d, "GET", path, NULL, DOCKER_INSPECT_TIMEOUT_MS, NULL, done, c, &c->req);
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
		j = docker_parse_body(res);
		code = json_object_get(j, "StatusCode");
		if (json_is_integer(code)) {
			json_int_t v = json_integer_value(code);
			c->exit_code = v >= 0 && v <= 255 ? (int)v : -1;
			c->waited = true;
		}
		werr = json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
		if (werr && werr[0])
			docker_set_text(c->reason, sizeof(c->reason), werr);
		json_decref(j);
	} else {
		docker_message(res, msg, sizeof(msg));
		docker_log(c, LOG_LEVEL_WARN, "docker: %s: waiting for its exit: %s", c->name, msg);
	}
	/* the inspect tells an OOM kill, and whether a failed wait needs a retry */
	c->phase = DC_ENDING;
	err = inspect(c, on_exit_inspect_done);
	if (err < 0) {
		docker_textf(c->reason, sizeof(c->reason), "docker: cannot inspect %s: %s", c->name,
			     strerror(-err));
		finish_exit(c);
	}
}

static void on_oom_recheck(uv_timer_t *t)
{
	struct drv_container *c = t->data;
	int err = inspect(c, on_exit_inspect_done);
	if (err < 0)
		finish_exit(c);
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
			docker_textf(c->reason, sizeof(c->reason), "docker: lost %s: %s", c->name, msg);
		finish_exit(c);
		return;
	}
	j = docker_parse_body(res);
	state = json_object_get(j, "State");
	if (json_is_true(json_object_get(state, "Running")) && !c->waited) {
		json_decref(j);
		if (rewait_later(c))
			return;
		docker_textf(c->reason, sizeof(c->reason), "docker: cannot wait for %s", c->name);
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
		docker_set_text(c->reason, sizeof(c->reason), OOM_REASON);
	} else if (c->exit_code == 137 && !c->stop_sent && c->oom_rechecks < DOCKER_OOM_RECHECKS) {
		/* dockerd may handle containerd's OOM event after the exit: a
		 * SIGKILL exit is looked at again before it is reported */
		json_decref(j);
		uv_timer_start(&c->timer, on_oom_recheck, 50u << c->oom_rechecks, 0);
		c->oom_rechecks++;
		return;
	} else if (!c->reason[0]) {
		serr = json_string_value(json_object_get(state, "Error"));
		if (serr && serr[0])
			docker_set_text(c->reason, sizeof(c->reason), serr);
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
		fail_start(c, docker_status_errno(res), msg);
		return;
	}
	err = follow(c);
	if (err < 0) {
		docker_textf(msg, sizeof(msg), "docker: cannot follow %s: %s", c->name, strerror(-err));
		fail_start(c, err, msg);
		return;
	}
	c->phase = DC_RUNNING;
	if (c->stop_requested && send_stop(c) < 0)
		docker_log(c, LOG_LEVEL_WARN, "docker: cannot stop %s", c->name);
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
		fail_start(c, docker_status_errno(res), msg);
		return;
	}
	j = docker_parse_body(res);
	id = json_string_value(json_object_get(j, "Id"));
	if (!id || !docker_valid_token(id, DC_ID_MAX)) {
		json_decref(j);
		docker_textf(msg, sizeof(msg), "docker: creating %s: no container id in the answer",
			     c->name);
		fail_start(c, -EPROTO, msg);
		return;
	}
	docker_set_text(c->id, sizeof(c->id), id);
	warnings = json_object_get(j, "Warnings");
	json_array_foreach(warnings, i, w) {
		if (json_is_string(w))
			docker_log(c, LOG_LEVEL_WARN, "docker: %s: %s", c->name, json_string_value(w));
	}
	json_decref(j);

	if (c->stop_requested) {
		fail_start(c, -ECANCELED, "docker: stopped before it started");
		return;
	}
	c->phase = DC_STARTING;
	err = docker_fmt(path, sizeof(path), "/containers/%s/start", c->id);
	if (err == 0)
		err = docker_request(c->d, "POST", path, NULL, DOCKER_START_TIMEOUT_MS, NULL,
				     on_start_done, c, &c->req);
	if (err < 0) {
		docker_textf(msg, sizeof(msg), "docker: cannot start %s: %s", c->name, strerror(-err));
		fail_start(c, err, msg);
	}
}

/* --- driver_ops ----------------------------------------------------------- */

static bool docker_configured(const struct drv_config *cfg)
{
	return cfg->docker_socket && cfg->docker_socket[0];
}

static int docker_init(uv_loop_t *loop, const struct drv_config *cfg, const struct drv_events *events,
		       struct driver **ret, char *err, size_t errlen)
{
	struct docker_sync_answer a;
	struct driver *d;
	json_t *ncpu;
	int rc;

	*ret = NULL;
	if (!cfg->docker_socket || !cfg->docker_socket[0]) {
		docker_textf(err, errlen, "docker: no docker_socket configured");
		return -EINVAL;
	}
	if (strlen(cfg->docker_socket) >= 108) {
		docker_textf(err, errlen, "docker: %s: a unix socket path is at most 107 bytes",
			     cfg->docker_socket);
		return -ENAMETOOLONG;
	}
	rc = docker_sync_get(cfg->docker_socket, "/_ping", &a);
	json_decref(a.json);
	if (rc < 0) {
		docker_textf(err, errlen, "docker: cannot reach %s: %s", cfg->docker_socket, a.msg);
		return rc;
	}
	if (a.status != 200) {
		docker_textf(err, errlen, "docker: %s does not serve Engine API %s: %s",
			     cfg->docker_socket, &DOCKER_API[2], a.msg);
		return a.status == 400 ? -EPROTONOSUPPORT : -EPROTO;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->ev = events;
	d->allowed_host_paths = cfg->allowed_host_paths;
	d->n_allowed_host_paths = cfg->n_allowed_host_paths;
	d->socket = strdup(cfg->docker_socket);
	if (!d->socket) {
		free(d);
		return -ENOMEM;
	}
	/* NanoCpus above the daemon's CPU count is refused: learn it once */
	if (docker_sync_get(cfg->docker_socket, "/info", &a) == 0 && a.status == 200) {
		ncpu = json_object_get(a.json, "NCPU");
		if (json_is_integer(ncpu) && json_integer_value(ncpu) > 0 &&
		    json_integer_value(ncpu) < 1000000)
			d->max_nano_cpus = (uint64_t)json_integer_value(ncpu) * 1000000000ull;
	}
	json_decref(a.json);
	rc = curl_uv_new(loop, &d->cu);
	if (rc < 0) {
		docker_textf(err, errlen, "docker: %s", strerror(-rc));
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
	err = docker_check_spec(spec);
	if (err < 0)
		return err;
	err = container_new(d, spec, owner, &c);
	if (err < 0)
		return err;
	err = docker_fmt(c->name, sizeof(c->name), "tripline-%s-%s", spec->task_id, spec->container_name);
	if (err < 0)
		goto out_free;
	err = docker_build_create(d, c, spec, &body);
	if (err < 0)
		goto out_free;
	err = docker_fmt(path, sizeof(path), "/containers/create?name=%s", c->name);
	if (err == 0)
		err = docker_request(d, "POST", path, body, DOCKER_CREATE_TIMEOUT_MS, NULL,
				     on_create_done, c, &c->req);
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

/* --- save, adopt, release ------------------------------------------------- */

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
			docker_textf(c->reason, sizeof(c->reason), "docker: container %s is gone", c->id);
		else {
			docker_message(res, msg, sizeof(msg));
			docker_textf(c->reason, sizeof(c->reason), "docker: cannot inspect %s: %s", c->id,
				     msg);
		}
		c->exit_code = -1;
		deliver_exit(c);
		return;
	}
	j = docker_parse_body(res);
	state = json_object_get(j, "State");
	id = json_string_value(json_object_get(j, "Id"));
	if (id && docker_valid_token(id, DC_ID_MAX))
		docker_set_text(c->id, sizeof(c->id), id);
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
			docker_set_text(c->reason, sizeof(c->reason), OOM_REASON);
		}
		json_decref(j);
		deliver_exit(c);
		return;
	}
	json_decref(j);
	err = follow(c);
	if (err < 0) {
		docker_textf(c->reason, sizeof(c->reason), "docker: cannot follow %s: %s", c->id,
			     strerror(-err));
		deliver_exit(c);
		return;
	}
	c->phase = DC_RUNNING;
	if (c->stop_requested && send_stop(c) < 0)
		docker_log(c, LOG_LEVEL_WARN, "docker: cannot stop %s", c->id);
}

static int docker_adopt(struct driver *d, const struct drv_spec *spec, const json_t *state, void *owner,
			struct drv_container **ret)
{
	struct drv_container *c;
	const char *id;
	int err;

	*ret = NULL;
	id = json_string_value(json_object_get(state, "container_id"));
	if (!json_is_object(state) || !id || !docker_valid_token(id, DC_ID_MAX))
		return -EINVAL;
	err = container_new(d, spec, owner, &c);
	if (err < 0)
		return err;
	docker_set_text(c->id, sizeof(c->id), id);
	if (docker_valid_token(spec->task_id, 64) && docker_valid_token(spec->container_name, 180))
		docker_fmt(c->name, sizeof(c->name), "tripline-%s-%s", spec->task_id, spec->container_name);
	else
		docker_set_text(c->name, sizeof(c->name), id);
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

	if (c->id[0] && docker_fmt(path, sizeof(path), "/containers/%s?force=1", c->id) == 0 &&
	    docker_request(c->d, "DELETE", path, NULL, DOCKER_REMOVE_TIMEOUT_MS, NULL, NULL, NULL,
			   NULL) < 0)
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
