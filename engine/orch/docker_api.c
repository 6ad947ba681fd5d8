/*
 * docker_api.c — how the docker driver talks to the Docker Engine API
 * (version 1.41, which podman's Docker-compatible socket also serves): one
 * request on the daemon's unix socket, asynchronously with curl_uv, or
 * blocking for init (a local socket, DOCKER_PING_TIMEOUT_MS at most); and
 * reading an answer: its JSON body, Docker's error message, an errno.
 *
 * Every collected response is capped at DOCKER_MAX_RESPONSE, the error body
 * of a streamed one at DOCKER_MAX_ERROR_BODY. Paths and names are formatted
 * with docker_fmt(), which refuses what does not fit rather than cut it;
 * texts for people with docker_textf(), which cuts them.
 */
#include "docker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DOCKER_MAX_RESPONSE (1024 * 1024)
#define DOCKER_MAX_ERROR_BODY (64 * 1024)       /* error bodies of streamed requests */
#define DOCKER_PING_TIMEOUT_MS 5000u

/* --- formatting ----------------------------------------------------------- */

int docker_fmt(char *buf, size_t size, const char *f, ...)
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
void docker_textf(char *dst, size_t size, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(dst, size, f, ap);
	va_end(ap);
}

void docker_set_text(char *dst, size_t size, const char *src)
{
	docker_textf(dst, size, "%s", src);
}

/* --- requests and answers ------------------------------------------------- */

/* Docker names and ids: [A-Za-z0-9_.-], 1..max bytes. */
bool docker_valid_token(const char *s, size_t max)
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

json_t *docker_parse_body(const struct curl_uv_result *res)
{
	if (res->err || res->body_len == 0)
		return NULL;
	return json_loadb(res->body, res->body_len, 0, NULL);
}

/* What went wrong, for a person: Docker's {"message"}, else the transport error. */
void docker_message(const struct curl_uv_result *res, char *buf, size_t size)
{
	json_t *j;
	const char *m;

	if (res->err) {
		docker_textf(buf, size, "docker: %s", res->error);
		return;
	}
	j = docker_parse_body(res);
	m = json_string_value(json_object_get(j, "message"));
	if (m && m[0])
		docker_textf(buf, size, "%s", m);
	else if (res->body_len > 0)
		docker_textf(buf, size, "docker: HTTP %u: %.*s", res->status,
			     (int)(res->body_len < 200 ? res->body_len : 200), res->body);
	else
		docker_textf(buf, size, "docker: HTTP %u", res->status);
	json_decref(j);
}

int docker_status_errno(const struct curl_uv_result *res)
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
int docker_request(struct driver *d, const char *method, const char *path, const char *body,
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

	err = docker_fmt(url, sizeof(url), "%s%s", DOCKER_URL_BASE, path);
	if (err < 0)
		return err;
	return curl_uv_start(d->cu, &rq, ret);
}

/* --- the blocking request of init ----------------------------------------- */

static void on_sync_done(void *arg, const struct curl_uv_result *res)
{
	struct docker_sync_answer *a = arg;

	a->err = res->err;
	a->status = res->status;
	if (res->err || res->status != 200)
		docker_message(res, a->msg, sizeof(a->msg));
	else
		a->json = docker_parse_body(res);
}

int docker_sync_get(const char *socket, const char *path, struct docker_sync_answer *a)
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
	err = docker_fmt(url, sizeof(url), "%s%s", DOCKER_URL_BASE, path);
	if (err == 0)
		err = curl_uv_perform(&rq);
	if (err < 0) {
		docker_textf(a->msg, sizeof(a->msg), "%s", strerror(-err));
		a->err = err;
	}
	return a->err;
}
