/*
 * webhook.c — the webhook source: POST /hooks/<name> on the daemon's
 * listener becomes an event on the hook's bus (DESIGN.md §3), answered
 * once the event is durable.
 *
 * start() reads sources.webhooks, resolves each hook's secret reference
 * (a secret that cannot be read stops the daemon, naming the reference,
 * never the value) and the trusted proxies. Each request is checked and
 * turned into its event by webhook_request() (webhook_request.c: the
 * order of the checks and the shape of the event); an accepted event goes
 * to ingest_submit() and the HTTP answer is deferred (http.h) until the
 * ingest says what became of it, so the loop never waits on the journal:
 *   0           202 {"EventId": id}: journalled (group commit), replayed
 *               after a crash;
 *   -EAGAIN     503 with Retry-After: 1, the bus is full;
 *   -ENOSPC/-EIO 503, the journal cannot take it;
 *   -ECANCELED  503, the daemon is stopping;
 *   -ENOENT     500, the hook's bus does not exist (a configuration fault).
 * Refusals answer at once with {"message": …}. The secret never reaches a
 * log line, an answer or an event (webhook_extension() leaves out the
 * headers that carry it).
 *
 * Metrics: tripline_webhook_requests_total{name,code} (name "" for a path
 * that names no hook), tripline_source_events_total{kind="webhook",name},
 * tripline_source_errors_total{kind="webhook",name,reason}. Health: one
 * component "webhook/<name>" per hook, {"status":"ok","auth":…}.
 *
 * Lifecycle (source.h): requests come only between start() and stop();
 * ingest callbacks may come after stop() (answered -ECANCELED), so the
 * state lives until destroy() has been called and the last of them has
 * come back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"
#include "http.h"
#include "ingest.h"
#include "logger.h"
#include "metrics.h"
#include "source.h"
#include "webhook_internal.h"

#define HOOK_PREFIX "/hooks/"
#define REFUSAL_LOG_INTERVAL_MS 10000u   /* a hook's refused requests: one warning per interval */

static const char *const auth_names[] = {
	[CONFIG_WEBHOOK_AUTH_NONE] = "none",
	[CONFIG_WEBHOOK_AUTH_GITHUB] = "github",
	[CONFIG_WEBHOOK_AUTH_BEARER] = "bearer",
	[CONFIG_WEBHOOK_AUTH_HMAC] = "hmac",
};

/* What one hook keeps besides its struct webhook_hook. */
struct hook_state {
	char *source;                  /* "webhook.<name>" when not configured */
	char *secret;                  /* resolved; wiped when freed */
	uint64_t last_log_ms;          /* the last refusal logged (loop clock) */
	unsigned long suppressed;      /* refusals not logged since */
};

struct source_webhook {
	uv_loop_t *loop;
	struct ingest *ingest;
	struct webhook_hook *hooks;
	struct hook_state *state;
	size_t n;
	struct webhook_proxies proxies;
	struct webhook_set set;
	struct metric *requests, *events, *errors;
	size_t calls;                  /* requests waiting for the ingest */
	bool destroyed;                /* destroy() came: the last call frees */
};

/* One accepted request waiting for the ingest's answer. */
struct call {
	struct source_webhook *w;
	const struct webhook_hook *hook;
	struct http_pending *pending;
	struct event *ev;
};

static void webhook_free(struct source_webhook *w)
{
	for (size_t i = 0; w->state && i < w->n; i++) {
		struct hook_state *st = &w->state[i];

		if (st->secret) {
			explicit_bzero(st->secret, strlen(st->secret));
			free(st->secret);
		}
		free(st->source);
	}
	free(w->state);
	free(w->hooks);
	webhook_proxies_free(&w->proxies);
	free(w);
}

/* ------------------------------------------------------------ answers */

static void count(struct source_webhook *w, const struct webhook_hook *h, unsigned status, const char *reason)
{
	char code[16];
	const char *name = h ? h->name : "";

	snprintf(code, sizeof(code), "%u", status);
	metric_add(w->requests, (const char *[]){name, code}, 1);
	if (h && status == 202)
		metric_add(w->events, (const char *[]){"webhook", name}, 1);
	else if (h && reason)
		metric_add(w->errors, (const char *[]){"webhook", name, reason}, 1);
}

/* resp as a JSON answer: {"EventId": id} or {"message": msg}. */
static void answer(struct http_response *resp, unsigned status, const char *key, const char *value)
{
	json_t *j = json_pack("{s:s}", key, value);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	resp->status = text ? status : 500;
	resp->content_type = "application/json";
	resp->body = text ? text : strdup("{\"message\":\"out of memory\"}");
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* A refused request's warning, at most one per hook per interval. */
static void log_refusal(struct source_webhook *w, const struct webhook_hook *h, const char *ip)
{
	struct hook_state *st = &w->state[h - w->hooks];
	uint64_t now = uv_now(w->loop);

	if (st->last_log_ms && now - st->last_log_ms < REFUSAL_LOG_INTERVAL_MS) {
		st->suppressed++;
		return;
	}
	log_warn("webhook", "%s: refused a request from %s: the signature or token is missing or not valid "
		 "(%lu more refused since the last warning)", h->name, ip[0] ? ip : "an unknown address",
		 st->suppressed);
	st->last_log_ms = now ? now : 1;
	st->suppressed = 0;
}

static void on_ingested(void *arg, const int *results, size_t n)
{
	static const struct http_header retry_after[] = {{"Retry-After", "1"}};
	struct call *c = arg;
	struct source_webhook *w = c->w;
	struct http_response resp = {.status = 500};
	int r = n ? results[0] : -EIO;
	struct webhook_verdict v;

	webhook_ingested(r, &v);
	if (v.status == 202)
		answer(&resp, 202, "EventId", c->ev->id);
	else
		answer(&resp, v.status, "message", v.message);
	if (v.retry_after) {
		resp.headers = retry_after;
		resp.n_headers = 1;
	}
	if (!w->destroyed)
		count(w, c->hook, resp.status, v.reason);
	if (r == -ENOENT)
		log_error("webhook", "%s: the event bus %s does not exist", c->hook->name, c->hook->bus);
	http_pending_answer(c->pending, &resp);   /* a client gone meanwhile: dropped (it retries) */
	event_unref(c->ev);
	free(c);
	if (--w->calls == 0 && w->destroyed)
		webhook_free(w);
}

static void http(struct source *s, const struct http_request *req, struct http_response *resp)
{
	static const struct http_header allow[] = {{"Allow", "POST"}};
	struct source_webhook *w = (struct source_webhook *)s;
	struct webhook_verdict v;
	struct call *c;

	webhook_request(&w->set, req, (int64_t)time(NULL), &v);
	if (v.status) {
		answer(resp, v.status, "message", v.message);
		if (v.status == 405) {
			resp->headers = allow;
			resp->n_headers = 1;
		}
		if (v.status == 401) {
			char ip[WEBHOOK_ADDR_MAX];

			webhook_client_addr(&w->proxies, req, ip);
			log_refusal(w, v.hook, ip);
		}
		count(w, v.hook, resp->status, v.reason);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->pending = http_response_defer(resp))) {
		free(c);
		event_unref(v.ev);
		answer(resp, 500, "message", "out of memory");
		count(w, v.hook, resp->status, "internal");
		return;
	}
	c->w = w;
	c->hook = v.hook;
	c->ev = v.ev;
	w->calls++;
	ingest_submit(w->ingest, &c->ev, 1, on_ingested, c);
}

/* ------------------------------------------------------------ lifecycle */

static int hook_init(struct source_webhook *w, size_t i, const struct config_webhook *cfg, char *err,
		     size_t errlen)
{
	struct webhook_hook *h = &w->hooks[i];
	struct hook_state *st = &w->state[i];
	char why[400];
	int r;

	h->name = cfg->name;
	h->cfg = cfg;
	h->detail_type = cfg->detail_type ? cfg->detail_type : CONFIG_WEBHOOK_DEFAULT_DETAIL_TYPE;
	h->bus = cfg->bus ? cfg->bus : "default";
	if (cfg->source)
		h->source = cfg->source;
	else if (asprintf(&st->source, "webhook.%s", cfg->name) < 0)
		return -ENOMEM;
	else
		h->source = st->source;
	if (cfg->auth != CONFIG_WEBHOOK_AUTH_NONE) {
		if (!cfg->secret_ref) {
			snprintf(err, errlen, "%s: auth %s needs a secret", cfg->name, auth_names[cfg->auth]);
			return -EINVAL;
		}
		why[0] = '\0';
		if ((r = config_resolve_secret(cfg->secret_ref, &st->secret, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "%s: %s", cfg->name, why[0] ? why : strerror(-r));
			return r;
		}
	}
	if (cfg->auth == CONFIG_WEBHOOK_AUTH_HMAC && !cfg->signature_header) {
		snprintf(err, errlen, "%s: auth hmac needs a signature_header", cfg->name);
		return -EINVAL;
	}
	return webhook_auth_init(&h->auth, cfg, st->secret);
}

static int start(const struct source_env *env, struct source **ret, char *err, size_t errlen)
{
	const struct tripline_config *cfg = env->cfg;
	struct source_webhook *w;
	int r;

	*ret = NULL;
	if (cfg->sources.n_webhooks == 0)
		return 0;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->loop = env->loop;
	w->ingest = env->ingest;
	w->n = cfg->sources.n_webhooks;
	w->hooks = calloc(w->n, sizeof(*w->hooks));
	w->state = calloc(w->n, sizeof(*w->state));
	if (!w->hooks || !w->state) {
		webhook_free(w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w->n; i++) {
		if ((r = hook_init(w, i, &cfg->sources.webhooks[i], err, errlen)) < 0) {
			webhook_free(w);
			return r;
		}
	}
	if ((r = webhook_proxies_parse(&cfg->trusted_proxies, &w->proxies, err, errlen)) < 0) {
		webhook_free(w);
		return r;
	}
	w->set = (struct webhook_set){
		.hooks = w->hooks,
		.n = w->n,
		.proxies = &w->proxies,
		.prefix = HOOK_PREFIX,
		.account = cfg->account,
		.region = cfg->region,
		.max_event_bytes = cfg->limits.max_event_bytes ? (size_t)cfg->limits.max_event_bytes
							       : (size_t)CONFIG_DEFAULT_MAX_EVENT_BYTES,
	};
	w->requests = metrics_counter(env->metrics, "tripline_webhook_requests_total",
				      "Webhook requests, by hook and HTTP status.", "name,code");
	w->events = metrics_counter(env->metrics, "tripline_source_events_total",
				    "Events a source put on the bus.", "kind,name");
	w->errors = metrics_counter(env->metrics, "tripline_source_errors_total",
				    "A source's refusals and failures, by reason.", "kind,name,reason");
	for (size_t i = 0; i < w->n; i++) {
		const struct webhook_hook *h = &w->hooks[i];

		metric_touch(w->events, (const char *[]){"webhook", h->name});
		if (env->ingest && !ingest_bus_exists(env->ingest, h->bus))
			log_warn("webhook", "%s: the event bus %s does not exist: its requests will get 500",
				 h->name, h->bus);
		log_info("webhook", "%s: POST %s%s (auth %s), events on bus %s", h->name, HOOK_PREFIX, h->name,
			 auth_names[h->auth.kind], h->bus);
	}
	*ret = (struct source *)w;
	return 0;
}

static bool health(struct source *s, json_t *components)
{
	struct source_webhook *w = (struct source_webhook *)s;
	char key[300];

	for (size_t i = 0; i < w->n; i++) {
		snprintf(key, sizeof(key), "webhook/%s", w->hooks[i].name);
		json_object_set_new(components, key, json_pack("{s:s,s:s}", "status", "ok", "auth",
								auth_names[w->hooks[i].auth.kind]));
	}
	return true;
}

static void stop(struct source *s)
{
	(void)s;   /* no handles: requests stop coming with the listener */
}

static void destroy(struct source *s)
{
	struct source_webhook *w = (struct source_webhook *)s;

	w->destroyed = true;
	if (w->calls == 0)
		webhook_free(w);
}

const struct source_ops source_webhook = {
	.kind = "webhook",
	.start = start,
	.http_prefix = HOOK_PREFIX,
	.http = http,
	.health = health,
	.stop = stop,
	.destroy = destroy,
};
