/*
 * api.c — the AWS JSON 1.1 entry point: POST / with an X-Amz-Target of
 * "AmazonEC2ContainerServiceV20141113.<Op>" (ECS) or "AWSEvents.<Op>"
 * (EventBridge), so that the AWS CLI and SDKs work with --endpoint-url.
 *
 * A request goes through, in order: the method and target check, SigV4
 * authentication when access keys are configured (sigv4.c; the keys' secrets
 * are resolved once, at start), the JSON body (the project's strict reader,
 * once per request), and the operation. Operations live with their service:
 * api_ecs.c holds ECS's (clusters, task definitions, tasks, services) and
 * tripline's GetTaskLogs, api_events.c EventBridge's; an operation may
 * answer later (api_answer_later(): the HTTP answer is deferred, http.h,
 * and counted when given); a target no table lists answers
 * UnknownOperationException. Errors use AWS's shape, {"__type": "...",
 * "message": "..."}, with 400 for the client's mistakes, 403 for
 * authentication and 5xx only for our own faults. Requests are counted by
 * operation and status for /metrics.
 *
 * A request that fails authentication is counted by reason
 * (tripline_api_auth_failures_total{reason}; sigv4.h's fixed set) and
 * logged at warning level with its access key id and client address — at
 * most one line per reason per second, the next line saying how many were
 * left out meanwhile. The line never holds the Authorization header, the
 * signature or the client's message (which may quote them).
 */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api_op.h"
#include "json.h"
#include "logger.h"
#include "metrics.h"
#include "sigv4.h"
#include "utf8.h"

#define ECS_PREFIX "AmazonEC2ContainerServiceV20141113."
#define EVENTS_PREFIX "AWSEvents."
#define TRIPLINE_PREFIX "Tripline."

struct api_key {
	char *akid;
	char *secret;
};

/* requests by operation and status, for /metrics */
struct api_count {
	unsigned status;
	uint64_t n;
};
#define API_STATUS_SLOTS 8   /* distinct statuses counted per operation */
#define AUTH_LOG_INTERVAL_MS 1000u   /* at most one auth-failure line per reason this often */

/* authentication failures of one reason */
struct auth_failures {
	uint64_t n;
	uint64_t last_log_ms;   /* monotonic; 0: never logged */
	uint64_t suppressed;    /* since the last line */
};

struct api {
	const struct tripline_config *cfg;
	struct taskdef_registry *taskdefs;   /* borrowed */
	struct orch *orch;                   /* borrowed; NULL: no task operations */
	struct api_events_env events;        /* what it points to is borrowed */
	struct api_dlq_env dlq;              /* Tripline.RedriveDeadLetter's; borrowed the same way */
	struct api_key *keys;
	size_t nkeys;
	struct api_count (*counts)[API_STATUS_SLOTS];   /* [op index + 1]; [0]: unknown */
	struct auth_failures auth_failures[SIGV4_N_REASONS];   /* by enum sigv4_reason */
};

static void api_key_wipe(struct api_key *k)
{
	if (k->secret) {
		explicit_bzero(k->secret, strlen(k->secret));
		free(k->secret);
	}
	free(k->akid);
}

static size_t n_ops(void);

int api_new(const struct tripline_config *cfg, struct taskdef_registry *taskdefs, struct orch *orch,
	    struct api **ret, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));

	*ret = NULL;
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	a->taskdefs = taskdefs;
	a->orch = orch;
	a->counts = calloc(n_ops() + 1, sizeof(*a->counts));
	if (!a->counts) {
		free(a);
		return -ENOMEM;
	}
	if (cfg->n_auth_keys) {
		a->keys = calloc(cfg->n_auth_keys, sizeof(*a->keys));
		if (!a->keys) {
			free(a);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < cfg->n_auth_keys; i++) {
		const struct config_auth_key *k = &cfg->auth_keys[i];
		char why[256];
		a->nkeys = i + 1;
		a->keys[i].akid = strdup(k->access_key_id);
		int r = config_resolve_secret(k->secret_ref, &a->keys[i].secret, why, sizeof(why));
		if (!a->keys[i].akid || r < 0) {
			snprintf(err, errlen, "auth key %s: %s", k->access_key_id,
				 a->keys[i].akid ? why : "out of memory");
			api_free(a);
			return r < 0 ? r : -ENOMEM;
		}
	}
	*ret = a;
	return 0;
}

void api_set_events(struct api *a, const struct api_events_env *env)
{
	a->events = *env;
}

void api_set_dlq(struct api *a, const struct api_dlq_env *env)
{
	a->dlq = *env;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nkeys; i++)
		api_key_wipe(&a->keys[i]);
	free(a->keys);
	free(a->counts);
	free(a);
}

static int lookup_secret(void *ctx, const char *akid, const char **ret_secret)
{
	const struct api *a = ctx;
	for (size_t i = 0; i < a->nkeys; i++) {
		if (strcmp(a->keys[i].akid, akid) == 0) {
			*ret_secret = a->keys[i].secret;
			return 0;
		}
	}
	return -ENOENT;
}

/* Fills resp with a JSON document (takes j). */
static void reply(struct http_response *resp, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	resp->status = text ? status : 500;
	resp->content_type = "application/x-amz-json-1.1";
	resp->body = text ? text : strdup("{\"__type\":\"ServerException\",\"message\":\"out of memory\"}");
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* An AWS error body. The message may quote what the client sent (a header,
 * a target): it is made valid UTF-8 first, or JSON could not carry it. */
static json_t *error_json(const char *type, const char *msg)
{
	size_t len;
	char *clean = utf8_clean(msg, strlen(msg), &len);
	json_t *j = clean ? json_pack("{s:s,s:s%}", "__type", type, "message", clean, len) : NULL;
	free(clean);
	return j;
}

static void reply_error(struct http_response *resp, unsigned status, const char *type, const char *msg)
{
	reply(resp, status, error_json(type, msg));
}

void api_answer_error(struct api_answer *a, unsigned status, const char *type, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->status = status;
	a->body = error_json(type, msg);
}

/* ------------------------------------------------------------ dispatch */

/* Every operation's table, in order; an operation's index across them is its
 * metrics slot. */
static const struct {
	const struct api_op *ops;
	const size_t *n;
} op_tables[] = {
	{api_ecs_ops, &api_ecs_n_ops},
	{api_events_ops, &api_events_n_ops},
	{api_dlq_ops, &api_dlq_n_ops},
};

static size_t n_ops(void)
{
	size_t n = 0;
	for (size_t t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++)
		n += *op_tables[t].n;
	return n;
}

/* The operation with metrics slot i (0-based across the tables). */
static const struct api_op *op_at(size_t i)
{
	size_t t = 0;

	/* i < n_ops(): the last table holds what the others do not */
	while (t + 1 < sizeof(op_tables) / sizeof(op_tables[0]) && i >= *op_tables[t].n)
		i -= *op_tables[t++].n;
	return &op_tables[t].ops[i];
}

static void count(struct api *a, size_t slot, unsigned status)
{
	struct api_count *c = a->counts[slot];
	for (size_t i = 0; i < API_STATUS_SLOTS; i++) {
		if (c[i].status == status || c[i].status == 0) {
			c[i].status = status;
			c[i].n++;
			return;
		}
	}
	c[API_STATUS_SLOTS - 1].n++;   /* more statuses than slots: lumped into the last */
}

void api_metrics(const struct api *a, struct metrics *m)
{
	struct metric *requests = metrics_counter(m, "tripline_api_requests_total",
						  "API requests by operation and HTTP status.", "operation,code");
	struct metric *auth = metrics_counter(m, "tripline_api_auth_failures_total",
					      "API requests refused by authentication, by reason.", "reason");

	for (int r = SIGV4_REASON_NONE + 1; r < SIGV4_N_REASONS; r++)
		metric_touch(auth, (const char *[]){sigv4_reason_name((enum sigv4_reason)r)});
	if (!a)
		return;
	/* rebuilt each time, so the series go by operation, then status */
	metric_clear(requests);
	for (size_t op = 0; op <= n_ops(); op++) {
		const char *name = op ? strchr(op_at(op - 1)->target, '.') + 1 : "unknown";
		for (size_t i = 0; i < API_STATUS_SLOTS && a->counts[op][i].status; i++) {
			char code[16];
			snprintf(code, sizeof(code), "%u", a->counts[op][i].status);
			metric_set(requests, (const char *[]){name, code}, (double)a->counts[op][i].n);
		}
	}
	for (int r = SIGV4_REASON_NONE + 1; r < SIGV4_N_REASONS; r++)
		metric_set(auth, (const char *[]){sigv4_reason_name((enum sigv4_reason)r)},
			   (double)a->auth_failures[r].n);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Counts a refused request and logs it, rate-limited per reason. akid is
 * what sigv4.c parsed ("" when it got no further): printable, no spaces. */
static void auth_failed(struct api *a, const struct http_request *req, enum sigv4_reason reason,
			const char *akid, const char *code)
{
	struct auth_failures *f = &a->auth_failures[reason];
	uint64_t now = mono_ms();
	char more[96] = "";

	f->n++;
	if (f->last_log_ms && now - f->last_log_ms < AUTH_LOG_INTERVAL_MS) {
		f->suppressed++;
		return;
	}
	if (f->suppressed)
		snprintf(more, sizeof(more), " (%" PRIu64 " more %s refusals since the last line were not logged)",
			 f->suppressed, sigv4_reason_name(reason));
	log_warn("auth", "refused a request from %s: %s, access key %s (%s)%s",
		 req->remote_addr && req->remote_addr[0] ? req->remote_addr : "unknown address",
		 sigv4_reason_name(reason), akid[0] ? akid : "none", code, more);
	f->last_log_ms = now ? now : 1;
	f->suppressed = 0;
}

/* ------------------------------------------------------------ answering later */

/* The HTTP exchange an operation's answer belongs to (api_answer.priv). */
struct api_exchange {
	struct api *api;
	struct http_response *resp;
	size_t slot;
};

struct api_later {
	struct api *api;
	struct http_pending *pending;
	size_t slot;
};

struct api_later *api_answer_later(struct api_answer *ret)
{
	struct api_exchange *ex = ret->priv;
	struct api_later *l;

	if (ret->later)
		return ret->later;
	if (!ex)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->pending = http_response_defer(ex->resp);
	if (!l->pending) {
		free(l);
		return NULL;
	}
	l->api = ex->api;
	l->slot = ex->slot;
	ret->later = l;
	return l;
}

void api_later_answer(struct api_later *l, unsigned status, json_t *body)
{
	struct http_response resp = {.status = 500};

	reply(&resp, status, body);
	http_pending_answer(l->pending, &resp); /* a client gone meanwhile: dropped */
	count(l->api, l->slot, resp.status);
	free(l);
}

static bool authenticate(struct api *a, const struct http_request *req, const char *service,
			 struct http_response *resp)
{
	struct sigv4_header hv[64];
	struct sigv4_request sr;
	struct sigv4_result res;
	const char *code = NULL;
	char why[256];

	if (!a->nkeys)
		return true;   /* no keys: allowed on loopback only, which the configuration enforces */
	if (req->n_headers > sizeof(hv) / sizeof(hv[0])) {
		auth_failed(a, req, SIGV4_REASON_MALFORMED, "", "ClientException");
		reply_error(resp, 400, "ClientException", "too many request headers");
		return false;
	}
	for (size_t i = 0; i < req->n_headers; i++) {
		hv[i].name = req->headers[i].name;
		hv[i].name_len = strlen(req->headers[i].name);
		hv[i].value = req->headers[i].value;
		hv[i].value_len = strlen(req->headers[i].value);
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = req->method;
	sr.path = req->path;
	sr.query = req->query;
	sr.headers = hv;
	sr.nheaders = req->n_headers;
	sr.body = req->body;
	sr.body_len = req->body_len;
	int r = sigv4_verify(&sr, time(NULL), service, lookup_secret, a, &res, &code, why, sizeof(why));
	if (r == 0)
		return true;
	if (code) {
		auth_failed(a, req, res.reason, res.akid, code);
		reply_error(resp, 403, code, why);
	} else {
		log_error("auth", "verifying a request from %s failed: %s",
			  req->remote_addr && req->remote_addr[0] ? req->remote_addr : "an unknown address", why);
		reply_error(resp, 500, "ServerException", "authentication failed to complete");
	}
	return false;
}

static void handle(struct api *a, const struct http_request *req, struct http_response *resp, size_t *slot,
		   bool *deferred)
{
	const char *target = http_request_header(req, "X-Amz-Target");
	const char *service;

	if (strcmp(req->method, "POST") != 0) {
		reply_error(resp, 405, "ClientException", "the AWS JSON API takes POST requests");
		return;
	}
	if (!target) {
		reply_error(resp, 400, "MissingTargetException", "the X-Amz-Target header is required");
		return;
	}
	if (strncmp(target, ECS_PREFIX, strlen(ECS_PREFIX)) == 0 ||
	    strncmp(target, TRIPLINE_PREFIX, strlen(TRIPLINE_PREFIX)) == 0)
		service = "ecs";
	else if (strncmp(target, EVENTS_PREFIX, strlen(EVENTS_PREFIX)) == 0)
		service = "events";
	else
		service = NULL;
	if (!authenticate(a, req, service, resp))
		return;

	const struct api_op *op = NULL;
	for (size_t i = 0; !op && i < n_ops(); i++) {
		if (strcmp(op_at(i)->target, target) == 0) {
			op = op_at(i);
			*slot = i + 1;
		}
	}
	if (!op) {
		char msg[300];
		snprintf(msg, sizeof(msg), "unknown operation %.200s", target);
		reply_error(resp, 400, "UnknownOperationException", msg);
		return;
	}

	struct jdoc *doc = NULL;
	struct json_error je;
	const char *body = req->body_len ? req->body : "{}";
	size_t len = req->body_len ? req->body_len : 2;
	int r = jdoc_parse(body, len, NULL, &doc, &je);
	if (r < 0 || jdoc_root(doc)->type != JNODE_OBJECT) {
		char msg[200];
		if (r < 0)
			snprintf(msg, sizeof(msg), "malformed JSON at line %u, column %u: %s", je.line, je.column,
				 je.message);
		else
			snprintf(msg, sizeof(msg), "the request body must be a JSON object");
		jdoc_free(doc);
		reply_error(resp, 400, "SerializationException", msg);
		return;
	}
	if (op->needs_orch && !a->orch) {
		jdoc_free(doc);
		reply_error(resp, 503, "ServerException", "the orchestrator is not running");
		return;
	}
	struct api_ctx ctx = {a->cfg, a->taskdefs, a->orch, &a->events, &a->dlq};
	struct api_exchange ex = {a, resp, *slot};
	struct api_answer ans = {.status = 500, .priv = &ex};
	op->run(&ctx, req->body, req->body_len, jdoc_root(doc), &ans);
	jdoc_free(doc);
	if (ans.later) {
		json_decref(ans.body);
		*deferred = true; /* answered and counted by api_later_answer() */
		return;
	}
	reply(resp, ans.status, ans.body);
}

void api_handle(struct api *a, const struct http_request *req, struct http_response *resp)
{
	size_t slot = 0;
	bool deferred = false;

	handle(a, req, resp, &slot, &deferred);
	if (!deferred)
		count(a, slot, resp->status);
}
