/*
 * http.c — the HTTP target, Arn http://… or https://…: the target's input
 * is the request body, sent through the shared curl_uv client (never
 * blocking the loop).
 *
 * HttpParameters, as EventBridge's API destinations read them:
 *   PathParameterValues    replace the Arn's "*" characters in order (each
 *                          percent-encoded); a "*" without a value stays;
 *   HeaderParameters       request headers;
 *   QueryStringParameters  appended to the URL's query, percent-encoded;
 * and tripline's extensions:
 *   Method                 the request method; default POST. GET and HEAD
 *                          send no body;
 *   Connection             the name of a `connections` entry of the config:
 *                          basic, bearer or API-key header authentication
 *                          (EventBridge names a connection on its API
 *                          destination; here the URL is in the target, so
 *                          the connection is named there too).
 * A parameter value starting with "$." is a JSONPath into the event (as
 * EventBridge's dynamic values): a string inserted as it is, anything else
 * as compact JSON, nothing found as "". A header value that would carry CR
 * or LF is refused (INVALID_PARAMETER, not retryable).
 *
 * Content-Type is application/json when the body is JSON, text/plain;
 * charset=utf-8 otherwise (a plain-text template). A header the rule sets
 * itself wins over that; the connection's Authorization or API-key header
 * wins over the rule's.
 *
 * The connection's secret is resolved at the first delivery and kept (wiped
 * when the rules are replaced); it is never logged, and a failure to resolve
 * it names the reference only (NO_PERMISSIONS, retryable: an environment or
 * a file can be fixed). The timeout is delivery.http_timeout_s (default 10).
 *
 * Outcomes: 2xx delivered; 429 THROTTLING and 5xx ERROR_FROM_TARGET are
 * retryable, and so are network errors (CONNECTION_FAILURE, TIMEOUT); 401
 * and 403 NO_PERMISSIONS and every other status ERROR_FROM_TARGET are not.
 */
#include "targets_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "curl_uv.h"

#define HTTP_MAX_ERROR_BODY ((size_t)1 << 20)

struct kv {
	char *name, *value;
};

struct http_state {
	char *url;                 /* the Arn, "*" not yet replaced */
	char *method;
	char **path_values;
	size_t n_path;
	struct kv *headers, *query;
	size_t n_headers, n_query;
	bool any_path;             /* some value is a JSONPath */
	/* the connection */
	bool has_conn;
	char *conn_name;
	enum config_connection_auth auth;
	char *username, *auth_header, *secret_ref;
	char *secret;              /* resolved at the first use */
};

struct http_call {
	target_done_fn done;
	void *arg;
};

static void http_release(void *state)
{
	struct http_state *st = state;
	if (!st)
		return;
	free(st->url);
	free(st->method);
	for (size_t i = 0; i < st->n_path; i++)
		free(st->path_values[i]);
	free(st->path_values);
	for (size_t i = 0; i < st->n_headers; i++) {
		free(st->headers[i].name);
		free(st->headers[i].value);
	}
	for (size_t i = 0; i < st->n_query; i++) {
		free(st->query[i].name);
		free(st->query[i].value);
	}
	free(st->headers);
	free(st->query);
	free(st->conn_name);
	free(st->username);
	free(st->auth_header);
	free(st->secret_ref);
	tgt_wipe_free(st->secret);
	free(st);
}

static bool is_path(const char *v)
{
	return v[0] == '$' && v[1] == '.';
}

/* An object of strings into kvs; false when out of memory. */
static bool read_map(json_t *obj, struct kv **ret, size_t *n, bool *any_path)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return true;
	if (!(*ret = calloc(json_object_size(obj) + 1, sizeof(**ret))))
		return false;
	json_object_foreach (obj, k, v) {
		const char *s = json_string_value(v);
		if (!s)
			continue;
		struct kv *e = &(*ret)[(*n)++];
		if (!(e->name = strdup(k)) || !(e->value = strdup(s)))
			return false;
		*any_path |= is_path(s);
	}
	return true;
}

static bool copy_connection(struct http_state *st, const struct config_connection *c)
{
	st->has_conn = true;
	st->auth = c->auth;
	return (st->conn_name = strdup(c->name)) && (!c->username || (st->username = strdup(c->username))) &&
	       (!c->header || (st->auth_header = strdup(c->header))) &&
	       (st->secret_ref = strdup(c->secret_ref ? c->secret_ref : ""));
}

static int http_prepare(const struct tripline_config *cfg, const struct rule *rule, size_t i, void **ret,
			struct errlist *errs)
{
	const struct rule_target *t = &rule->targets[i];
	json_t *j = tgt_target_json(rule, i, errs), *hp;
	struct http_state *st = NULL;
	int r = -ENOMEM;

	*ret = NULL;
	if (!j)
		return errlist_any(errs) ? -EINVAL : -ENOMEM;
	hp = json_object_get(j, "HttpParameters");
	const char *method = tgt_str(hp, "Method"), *conn = tgt_str(hp, "Connection");
	if (!(st = calloc(1, sizeof(*st))) || !(st->url = strdup(t->resource ? t->resource : t->arn)) ||
	    !(st->method = strdup(method ? method : "POST")))
		goto out;
	for (char *p = st->method; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	json_t *pv = json_object_get(hp, "PathParameterValues");
	if (json_array_size(pv)) {
		if (!(st->path_values = calloc(json_array_size(pv), sizeof(char *))))
			goto out;
		for (size_t k = 0; k < json_array_size(pv); k++) {
			const char *s = json_string_value(json_array_get(pv, k));
			if (!(st->path_values[st->n_path++] = strdup(s ? s : "")))
				goto out;
			st->any_path |= is_path(st->path_values[k]);
		}
	}
	if (!read_map(json_object_get(hp, "HeaderParameters"), &st->headers, &st->n_headers, &st->any_path) ||
	    !read_map(json_object_get(hp, "QueryStringParameters"), &st->query, &st->n_query, &st->any_path))
		goto out;
	if (conn) {
		const struct config_connection *c = NULL;
		for (size_t k = 0; cfg && k < cfg->n_connections; k++)
			if (!strcmp(cfg->connections[k].name, conn))
				c = &cfg->connections[k];
		if (!c) {
			tgt_error(errs, rule, i, "HttpParameters/Connection",
				  "no connection named '%s' in the config's connections", conn);
			r = -EINVAL;
			goto out;
		}
		if (!copy_connection(st, c))
			goto out;
	}
	*ret = st;
	st = NULL;
	r = 0;
out:
	http_release(st);
	json_decref(j);
	return r;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* The connection's header line ("Authorization: …"), malloc'd, into *ret. 0;
 * -EACCES with a message (the reference, never the secret); -ENOMEM. */
static int auth_line(struct http_state *st, char **ret, char *why, size_t whylen)
{
	char err[300];
	*ret = NULL;
	if (!st->secret) {
		int r = config_resolve_secret(st->secret_ref, &st->secret, err, sizeof(err));
		if (r < 0) {
			snprintf(why, whylen, "connection %s: %s", st->conn_name, err);
			return r == -ENOMEM ? r : -EACCES;
		}
	}
	char *line = NULL, *pair = NULL, *enc = NULL;
	int n = -1;
	switch (st->auth) {
	case CONFIG_CONNECTION_BASIC:
		if (asprintf(&pair, "%s:%s", st->username ? st->username : "", st->secret) >= 0 &&
		    (enc = base64(pair, strlen(pair))))
			n = asprintf(&line, "Authorization: Basic %s", enc);
		tgt_wipe_free(pair);
		tgt_wipe_free(enc);
		break;
	case CONFIG_CONNECTION_BEARER:
		n = asprintf(&line, "Authorization: Bearer %s", st->secret);
		break;
	case CONFIG_CONNECTION_API_KEY:
		n = asprintf(&line, "%s: %s", st->auth_header ? st->auth_header : "x-api-key", st->secret);
		break;
	}
	if (n < 0)
		return -ENOMEM;
	if (strpbrk(line, "\r\n")) {
		tgt_wipe_free(line);
		snprintf(why, whylen, "connection %s: the secret %s holds a line break", st->conn_name, st->secret_ref);
		return -EACCES;
	}
	*ret = line;
	return 0;
}

/* A parameter's value for this event, malloc'd. */
static char *param_value(const char *v, json_t *event)
{
	if (!is_path(v))
		return strdup(v);
	json_t *x = tgt_path_get(event, v);
	return x ? tgt_value_text(x) : strdup("");
}

static int build_url(const struct http_state *st, json_t *event, char **ret)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, k = 0;
	int r = 0;

	for (const char *p = st->url; *p && r == 0; p++) {
		if (*p == '*' && k < st->n_path) {
			char *v = param_value(st->path_values[k++], event);
			r = v ? tgt_url_encode(v, &buf, &len, &cap) : -ENOMEM;
			free(v);
		} else {
			r = tgt_append(&buf, &len, &cap, p, 1);
		}
	}
	for (size_t i = 0; i < st->n_query && r == 0; i++) {
		char *v = param_value(st->query[i].value, event);
		const char *sep = i == 0 && !strchr(st->url, '?') ? "?" : "&";
		if (!v || tgt_append(&buf, &len, &cap, sep, 1) < 0 ||
		    tgt_url_encode(st->query[i].name, &buf, &len, &cap) < 0 || tgt_append(&buf, &len, &cap, "=", 1) < 0 ||
		    tgt_url_encode(v, &buf, &len, &cap) < 0)
			r = -ENOMEM;
		free(v);
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

static bool has_header(const struct http_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_headers; i++)
		if (!strcasecmp(st->headers[i].name, name))
			return true;
	return false;
}

static void on_response(void *arg, const struct curl_uv_result *res)
{
	struct http_call *hc = arg;
	target_done_fn done = hc->done;
	void *darg = hc->arg;
	unsigned s = res->status;

	free(hc);
	if (res->err < 0 && !s)
		tgt_finish(done, darg, TARGET_RETRY, res->err == -ETIMEDOUT ? "TIMEOUT" : "CONNECTION_FAILURE", "%s",
			   res->error);
	else if (s >= 200 && s < 300)
		tgt_ok(done, darg);
	else if (s == 429)
		tgt_finish(done, darg, TARGET_RETRY, "THROTTLING", "the endpoint answered %u: %.300s", s, res->body);
	else if (s >= 500)
		tgt_finish(done, darg, TARGET_RETRY, "ERROR_FROM_TARGET", "the endpoint answered %u: %.300s", s,
			   res->body);
	else
		tgt_finish(done, darg, TARGET_FAIL, s == 401 || s == 403 ? "NO_PERMISSIONS" : "ERROR_FROM_TARGET",
			   "the endpoint answered %u: %.300s", s, res->body);
}

static int discard(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	return 0;
}

static void http_invoke(const struct target_env *env, const struct target_call *call, target_done_fn done,
			void *arg)
{
	struct http_state *st = call->state;
	json_t *event = st->any_path ? tgt_event_json(call) : NULL;
	size_t nh = 0;
	const char **headers = calloc(st->n_headers + 4, sizeof(char *));
	char **owned = calloc(st->n_headers + 4, sizeof(char *));
	char *url = NULL, *auth = NULL, why[512] = "";
	const char *code = "INTERNAL_ERROR";
	enum target_outcome outcome = TARGET_RETRY;
	struct http_call *hc = NULL;
	int r = -ENOMEM;

	if (!headers || !owned || build_url(st, event, &url) < 0)
		goto fail;
	if (st->has_conn && (r = auth_line(st, &auth, why, sizeof(why))) < 0) {
		code = r == -EACCES ? "NO_PERMISSIONS" : code;
		goto fail;
	}
	for (size_t i = 0; i < st->n_headers; i++) {
		char *v = param_value(st->headers[i].value, event);
		if (!v || asprintf(&owned[nh], "%s: %s", st->headers[i].name, v) < 0) {
			free(v);
			r = -ENOMEM;
			goto fail;
		}
		free(v);
		if (strpbrk(owned[nh], "\r\n")) {
			snprintf(why, sizeof(why), "header %s: the value from the event holds a line break",
				 st->headers[i].name);
			outcome = TARGET_FAIL;
			code = "INVALID_PARAMETER";
			free(owned[nh]);
			owned[nh] = NULL;
			r = -EINVAL;
			goto fail;
		}
		/* the connection's header wins over the rule's */
		if (!(auth && !strncasecmp(owned[nh], auth, (size_t)(strchr(auth, ':') - auth) + 1)))
			headers[nh] = owned[nh];
		nh++;
	}
	const char **hv = headers + nh;
	bool json = tgt_is_json(call->input, call->input_len);
	if (!has_header(st, "Content-Type"))
		*hv++ = json ? "Content-Type: application/json" : "Content-Type: text/plain; charset=utf-8";
	if (auth)
		*hv++ = auth;
	/* the skipped rule headers left NULL holes: compact */
	size_t k = 0;
	for (size_t i = 0; i < (size_t)(hv - headers); i++)
		if (headers[i])
			headers[k++] = headers[i];
	headers[k] = NULL;

	bool body = strcmp(st->method, "GET") && strcmp(st->method, "HEAD");
	uint32_t timeout_s = env->cfg && env->cfg->delivery.http_timeout_s ? env->cfg->delivery.http_timeout_s
									   : CONFIG_DEFAULT_HTTP_TIMEOUT_S;
	if (!(hc = malloc(sizeof(*hc))))
		goto fail;
	hc->done = done;
	hc->arg = arg;
	struct curl_uv_request rq = {
		.method = st->method, .url = url, .headers = headers,
		.body = body ? call->input : NULL, .body_len = body ? call->input_len : 0,
		.max_response = HTTP_MAX_ERROR_BODY, .timeout_ms = timeout_s * 1000u,
		.on_data = discard, .done = on_response, .arg = hc,
	};
	r = env->http ? curl_uv_start(env->http, &rq, NULL) : -ESHUTDOWN;
	if (r < 0) {
		free(hc);
		if (r == -EINVAL) {
			outcome = TARGET_FAIL;
			code = "INVALID_PARAMETER";
			snprintf(why, sizeof(why), "cannot make the request (%s %s): bad method, URL or header", st->method, url);
		} else if (r == -EAGAIN) {
			code = "THROTTLING";
			snprintf(why, sizeof(why), "too many HTTP requests in flight");
		}
		goto fail;
	}
	r = 0;
fail:
	for (size_t i = 0; owned && i < st->n_headers; i++)
		free(owned[i]);
	free(owned);
	free(headers);
	free(url);
	tgt_wipe_free(auth);
	json_decref(event);
	if (r < 0)
		tgt_finish(done, arg, outcome, code, "%s", *why ? why : strerror(-r));
}

const struct target_ops target_http_ops = {
	.name = "http",
	.prepare = http_prepare,
	.release = http_release,
	.invoke = http_invoke,
};
