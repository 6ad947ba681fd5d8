/*
 * docker_probe.c — the docker driver's health probes: argv run as an exec
 * in the container (its namespaces, environment, working directory, user).
 *
 * An exec is created, started detached, then GET /exec/{id}/json is polled
 * with a growing interval (DOCKER_PROBE_POLL_MIN_MS doubling up to
 * DOCKER_PROBE_POLL_MAX_MS) until it is no longer running; its exit code is
 * the probe's result. Every request is bounded by the time left before the
 * probe's deadline. The Engine API cannot kill an exec, so one that outlives
 * its timeout is reported as -1 and left to finish inside the container.
 * -ESRCH before the container runs and after it stopped; at most
 * DOCKER_MAX_PROBES at once per container. A probe belongs to its container:
 * releasing the container discards it without calling back.
 */
#include "docker.h"

#include <errno.h>
#include <stdlib.h>

#define DOCKER_PROBE_POLL_MIN_MS 50u
#define DOCKER_PROBE_POLL_MAX_MS 500u
#define DOCKER_MAX_PROBES 16                    /* per container, at once */

static void on_probe_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Unlinks p and frees it once its timer is closed; no callback. */
void docker_probe_discard(struct dc_probe *p)
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

	docker_probe_discard(p);
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
	err = docker_fmt(path, sizeof(path), "/exec/%s/json", p->exec_id);
	if (err == 0)
		err = docker_request(p->c->d, "GET", path, NULL, left, NULL, on_exec_json, p, &p->req);
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
	j = docker_parse_body(res);
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
	j = docker_parse_body(res);
	id = json_string_value(json_object_get(j, "Id"));
	if (id && docker_valid_token(id, DC_ID_MAX)) {
		docker_set_text(p->exec_id, sizeof(p->exec_id), id);
		err = 0;
	}
	json_decref(j);
	left = probe_left(p);
	if (err == 0 && left > 0)
		err = docker_fmt(path, sizeof(path), "/exec/%s/start", p->exec_id);
	else
		err = -ETIMEDOUT;
	if (err == 0)
		err = docker_request(p->c->d, "POST", path, "{\"Detach\":true,\"Tty\":false}", left,
				     NULL, on_exec_started, p, &p->req);
	if (err < 0)
		probe_finish(p, -1);
}

int docker_probe(struct drv_container *c, char *const *argv, unsigned timeout_s, drv_probe_fn done,
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
	body = json_pack("{s:o, s:b, s:b, s:b, s:b}", "Cmd", docker_string_array(argv),
			 "AttachStdin", 0, "AttachStdout", 0, "AttachStderr", 0, "Tty", 0);
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
	err = docker_fmt(path, sizeof(path), "/containers/%s/exec", c->id);
	if (err == 0)
		err = docker_request(c->d, "POST", path, text, probe_left(p), NULL, on_exec_created, p,
				     &p->req);
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
