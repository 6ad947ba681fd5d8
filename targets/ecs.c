/*
 * ecs.c — a task target's ECS requests (ecs.h): the embedded cluster through
 * the typed core API, a remote one over SigV4-signed HTTP.
 *
 * Remote credentials are read at each request from the cluster's
 * `credentials` reference: "env:PREFIX" (PREFIX_ACCESS_KEY_ID,
 * PREFIX_SECRET_ACCESS_KEY, optional PREFIX_SESSION_TOKEN) or "file:PATH"
 * (a 0600 JSON file {access_key_id, secret_access_key, session_token}, read
 * with config_resolve_secret()'s checks); they are never logged. Missing
 * credentials are NO_PERMISSIONS and retryable (the environment or the file
 * can be fixed while the event waits).
 *
 * Errors become EventBridge's codes: ServerException and 5xx
 * INTERNAL_ERROR (retryable), throttling THROTTLING (retryable), a full
 * clientToken store RESOURCE_LIMIT_EXCEEDED (retryable), unknown clusters
 * and services NO_RESOURCE, authentication NO_PERMISSIONS, every other
 * client error (an unknown task definition, a bad override, a clientToken
 * conflict) INVALID_PARAMETER; network errors CONNECTION_FAILURE or
 * TIMEOUT (retryable).
 */
#include "ecs.h"
#include "targets_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_ecs.h"
#include "config.h"
#include "curl_uv.h"
#include "json.h"
#include "orch.h"
#include "sigv4.h"

#define ECS_TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."
#define ECS_MAX_ANSWER ((size_t)8 << 20)
#define ECS_TIMEOUT_MS 30000u

int ecs_dest_set_endpoint(struct ecs_dest *d, const char *endpoint)
{
	const char *p = strstr(endpoint, "://");
	if (!p || (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)))
		return -EINVAL;
	p += 3;
	size_t n = strcspn(p, "/?#");
	if (n == 0)
		return -EINVAL;
	free(d->host);
	free(d->endpoint);
	d->host = strndup(p, n);
	d->endpoint = strdup(endpoint);
	return d->host && d->endpoint ? 0 : -ENOMEM;
}

void ecs_dest_clear(struct ecs_dest *d)
{
	free(d->cluster);
	free(d->endpoint);
	free(d->host);
	free(d->region);
	free(d->credentials);
	memset(d, 0, sizeof(*d));
}

static bool has(const char *type, const char *word)
{
	return type && strstr(type, word);
}

void ecs_map_error(const char *type, unsigned status, const char *message, struct ecs_error *err)
{
	err->type = type ? type : "";
	snprintf(err->message, sizeof(err->message), "%s%s%s", type ? type : "", type ? ": " : "",
		 message ? message : "");
	if (has(type, "Throttl") || status == 429) {
		err->outcome = TARGET_RETRY;
		err->code = "THROTTLING";
	} else if (has(type, "LimitExceeded")) {
		err->outcome = TARGET_RETRY;
		err->code = "RESOURCE_LIMIT_EXCEEDED";
	} else if (has(type, "ServerException") || has(type, "ServiceUnavailable") || status >= 500) {
		err->outcome = TARGET_RETRY;
		err->code = "INTERNAL_ERROR";
	} else if (has(type, "NotFoundException") || has(type, "NotActiveException")) {
		err->outcome = TARGET_FAIL;
		err->code = "NO_RESOURCE";
	} else if (has(type, "AccessDenied") || has(type, "Signature") || has(type, "UnrecognizedClient") ||
		   has(type, "AuthenticationToken") || status == 401 || status == 403) {
		err->outcome = TARGET_FAIL;
		err->code = "NO_PERMISSIONS";
	} else {
		err->outcome = TARGET_FAIL;
		err->code = "INVALID_PARAMETER";
	}
}

static void fail_with(ecs_done_fn done, void *arg, enum target_outcome o, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void fail_with(ecs_done_fn done, void *arg, enum target_outcome o, const char *code, const char *fmt, ...)
{
	struct ecs_error err = {o, code, "", ""};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	done(arg, NULL, &err);
}

/* ------------------------------------------------------------ the embedded cluster */

/* Runs one operation on the core; the answer (a new reference) or NULL with e set. */
static json_t *run_local(struct orch *o, const char *op, const struct jnode *in, const struct ecs_ext *ext,
			 struct orch_error *e)
{
	struct ecs_arena a = ECS_ARENA_INIT;
	json_t *ans = NULL;

	if (!strcmp(op, "RunTask")) {
		struct run_task_request req;
		struct run_task_result res;
		if (ecs_read_run_task(in, &a, &req, e) == 0) {
			req.client_token_ttl_s = ext ? ext->token_ttl_s : 0;
			if (orch_run_task(o, &req, &res, e) == 0)
				ans = ecs_run_task_answer(&res);
		}
	} else if (!strcmp(op, "StopTask")) {
		struct stop_task_request req;
		struct task *t;
		if (ecs_read_stop_task(in, &req, e) == 0 && orch_stop_task(o, &req, &t, e) == 0)
			ans = json_pack("{s:{s:s}}", "task", "taskArn", orch_task_arn(t));
	} else if (!strcmp(op, "ListTasks")) {
		struct list_tasks_request req;
		struct orch_arn_page page = {0};
		if (ecs_read_list_tasks(in, &req, e) == 0 && orch_list_tasks(o, &req, &page, e) == 0) {
			ans = ecs_arn_page_answer(&page, "taskArns");
			orch_arn_page_clear(&page);
		}
	} else if (!strcmp(op, "DescribeTasks")) {
		struct describe_tasks_request req;
		struct describe_tasks_result res;
		if (ecs_read_describe_tasks(in, &a, &req, e) == 0 && orch_describe_tasks(o, &req, &res, e) == 0)
			ans = ecs_describe_tasks_answer(&res);
	} else if (!strcmp(op, "DescribeServices")) {
		struct describe_services_request req;
		struct describe_services_result res;
		if (ecs_read_describe_services(in, &a, &req, e) == 0 && orch_describe_services(o, &req, &res, e) == 0)
			ans = ecs_describe_services_answer(&res);
	} else if (!strcmp(op, "UpdateService")) {
		struct update_service_request req;
		struct service *s;
		if (ecs_read_update_service(in, &req, e) == 0) {
			req.client_token = ext ? ext->client_token : NULL;
			req.client_token_ttl_s = ext ? ext->token_ttl_s : 0;
			if (orch_update_service(o, &req, &s, e) == 0)
				ans = json_pack("{s:{s:s}}", "service", "serviceArn", orch_service_arn(s));
		}
	} else {
		e->type = "InvalidParameterException";
		snprintf(e->message, sizeof(e->message), "%s is not an operation a target uses", op);
	}
	ecs_arena_free(&a);
	if (!ans && !e->type) {
		e->type = "ServerException";
		snprintf(e->message, sizeof(e->message), "out of memory");
	}
	return ans;
}

static void call_local(const struct target_env *env, const char *op, json_t *req, const struct ecs_ext *ext,
		       ecs_done_fn done, void *arg)
{
	char *text = json_dumps(req, JSON_COMPACT);
	struct jdoc *doc = NULL;
	struct json_error jerr;
	struct orch_error e = {0};
	json_t *ans = NULL;

	if (!env->orch) {
		fail_with(done, arg, TARGET_FAIL, "NO_RESOURCE", "this daemon runs no cluster of its own");
		free(text);
		return;
	}
	if (!text || jdoc_parse(text, strlen(text), NULL, &doc, &jerr) < 0) {
		free(text);
		fail_with(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
		return;
	}
	ans = run_local(env->orch, op, jdoc_root(doc), ext, &e);
	jdoc_free(doc);
	free(text);
	if (ans) {
		done(arg, ans, NULL);
		json_decref(ans);
	} else {
		struct ecs_error err;
		ecs_map_error(e.type, 0, e.message, &err);
		done(arg, NULL, &err);
	}
}

/* ------------------------------------------------------------ a remote cluster */

struct creds {
	char *akid, *secret, *token;
};

static void creds_clear(struct creds *c)
{
	tgt_wipe_free(c->akid);
	tgt_wipe_free(c->secret);
	tgt_wipe_free(c->token);
}

static char *env_dup(const char *prefix, const char *suffix)
{
	char name[300];
	snprintf(name, sizeof(name), "%s_%s", prefix, suffix);
	const char *v = getenv(name);
	return v && *v ? strdup(v) : NULL;
}

/* 0, or -EACCES with why (the reference, never a secret). */
static int creds_load(const char *ref, struct creds *c, char *why, size_t whylen)
{
	memset(c, 0, sizeof(*c));
	if (!strncmp(ref, "env:", 4)) {
		c->akid = env_dup(ref + 4, "ACCESS_KEY_ID");
		c->secret = env_dup(ref + 4, "SECRET_ACCESS_KEY");
		c->token = env_dup(ref + 4, "SESSION_TOKEN");
		if (c->akid && c->secret)
			return 0;
		snprintf(why, whylen, "credentials %s: %s_ACCESS_KEY_ID and %s_SECRET_ACCESS_KEY must both be set",
			 ref, ref + 4, ref + 4);
	} else if (!strncmp(ref, "file:", 5)) {
		char *text = NULL, err[300];
		if (config_resolve_secret(ref, &text, err, sizeof(err)) < 0) {
			snprintf(why, whylen, "credentials: %s", err);
		} else {
			json_t *j = json_loads(text, 0, NULL);
			const char *a = json_string_value(json_object_get(j, "access_key_id"));
			const char *s = json_string_value(json_object_get(j, "secret_access_key"));
			const char *t = json_string_value(json_object_get(j, "session_token"));
			c->akid = a ? strdup(a) : NULL;
			c->secret = s ? strdup(s) : NULL;
			c->token = t ? strdup(t) : NULL;
			json_decref(j);
			tgt_wipe_free(text);
			if (c->akid && c->secret)
				return 0;
			snprintf(why, whylen, "credentials %s: a JSON object with access_key_id and "
				 "secret_access_key is needed", ref);
		}
	} else {
		snprintf(why, whylen, "credentials %s: must be env:PREFIX or file:PATH", ref);
	}
	creds_clear(c);
	return -EACCES;
}

struct remote_call {
	ecs_done_fn done;
	void *arg;
};

static void on_remote(void *arg, const struct curl_uv_result *res)
{
	struct remote_call *rc = arg;
	ecs_done_fn done = rc->done;
	void *darg = rc->arg;
	free(rc);

	if (res->err < 0 && !res->status) {
		fail_with(done, darg, TARGET_RETRY, res->err == -ETIMEDOUT ? "TIMEOUT" : "CONNECTION_FAILURE",
			  "remote cluster: %s", res->error);
		return;
	}
	json_t *j = json_loadb(res->body, res->body_len, 0, NULL);
	if (res->status == 200 && json_is_object(j)) {
		done(darg, j, NULL);
	} else {
		const char *type = json_string_value(json_object_get(j, "__type"));
		const char *msg = json_string_value(json_object_get(j, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "Message"));
		if (type && strchr(type, '#'))
			type = strchr(type, '#') + 1;   /* "com.amazonaws.ecs#ClientException" */
		struct ecs_error err;
		char m[400];
		snprintf(m, sizeof(m), "%s (HTTP %u)", msg ? msg : res->status == 200 ? "not a JSON answer" : "",
			 res->status);
		ecs_map_error(type, res->status, m, &err);
		done(darg, NULL, &err);
	}
	json_decref(j);
}

static void call_remote(const struct target_env *env, const struct ecs_dest *d, const char *op, json_t *req,
			ecs_done_fn done, void *arg)
{
	static const char ctype[] = "application/x-amz-json-1.1";
	char target[96], why[512], auth[SIGV4_HEADER_MAX + 1], date[SIGV4_AMZ_DATE_LEN + 1];
	char *body = json_dumps(req, JSON_COMPACT), *hl[6] = {0};
	const char *after = strstr(d->endpoint, "://") + 3 + strlen(d->host);
	const char *path = *after == '/' ? after : "/";
	struct creds c;
	struct remote_call *rc = NULL;
	int r;

	snprintf(target, sizeof(target), ECS_TARGET_PREFIX "%s", op);
	if (!body) {
		fail_with(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
		return;
	}
	if (creds_load(d->credentials, &c, why, sizeof(why)) < 0) {
		free(body);
		fail_with(done, arg, TARGET_RETRY, "NO_PERMISSIONS", "remote cluster %s: %s", d->cluster, why);
		return;
	}
	struct sigv4_header h[4] = {
		{"host", 4, d->host, strlen(d->host)},
		{"content-type", 12, ctype, sizeof(ctype) - 1},
		{"x-amz-target", 12, target, strlen(target)},
		{"x-amz-security-token", 20, c.token, c.token ? strlen(c.token) : 0},
	};
	struct sigv4_request sr = {"POST", path, NULL, h, c.token ? 4 : 3, body, strlen(body)};
	r = sigv4_sign(&sr, time(NULL), c.akid, c.secret, d->region, "ecs", auth, sizeof(auth), date);
	if (r < 0) {
		creds_clear(&c);
		free(body);
		fail_with(done, arg, TARGET_FAIL, "NO_PERMISSIONS",
			  "remote cluster %s: cannot sign the request (access key id, secret or region unusable)",
			  d->cluster);
		return;
	}
	bool ok = asprintf(&hl[0], "Host: %s", d->host) >= 0 && asprintf(&hl[1], "Content-Type: %s", ctype) >= 0 &&
		  asprintf(&hl[2], "X-Amz-Target: %s", target) >= 0 && asprintf(&hl[3], "X-Amz-Date: %s", date) >= 0 &&
		  asprintf(&hl[4], "Authorization: %s", auth) >= 0 &&
		  (!c.token || asprintf(&hl[5], "X-Amz-Security-Token: %s", c.token) >= 0);
	explicit_bzero(auth, sizeof(auth));
	creds_clear(&c);
	if (ok && (rc = malloc(sizeof(*rc)))) {
		rc->done = done;
		rc->arg = arg;
		const char *headers[7] = {hl[0], hl[1], hl[2], hl[3], hl[4], hl[5], NULL};
		struct curl_uv_request rq = {
			.method = "POST", .url = d->endpoint, .headers = headers, .body = body,
			.body_len = strlen(body), .max_response = ECS_MAX_ANSWER, .timeout_ms = ECS_TIMEOUT_MS,
			.done = on_remote, .arg = rc,
		};
		r = env->http ? curl_uv_start(env->http, &rq, NULL) : -ESHUTDOWN;
	} else {
		r = -ENOMEM;
	}
	for (size_t i = 0; i < 6; i++)
		tgt_wipe_free(hl[i]);
	free(body);
	if (r < 0) {
		free(rc);
		fail_with(done, arg, r == -EINVAL ? TARGET_FAIL : TARGET_RETRY,
			  r == -EINVAL ? "INVALID_PARAMETER" : r == -EAGAIN ? "THROTTLING" : "INTERNAL_ERROR",
			  "remote cluster %s: cannot send the request: %s", d->cluster, strerror(-r));
	}
}

void ecs_call(const struct target_env *env, const struct ecs_dest *d, const char *op, json_t *req,
	      const struct ecs_ext *ext, ecs_done_fn done, void *arg)
{
	if (!req) {
		fail_with(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
		return;
	}
	if (d->cluster && !json_object_get(req, "cluster"))
		json_object_set_new(req, "cluster", json_string(d->cluster));
	if (d->remote)
		call_remote(env, d, op, req, done, arg);
	else
		call_local(env, op, req, ext, done, arg);
	json_decref(req);
}
