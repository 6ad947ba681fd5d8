/*
 * test_dispatch.c — the dispatcher (engine/dispatch.c) on a real loop, with
 * the real in-memory store, real rule files, real dead-letter files and a
 * target kind of the test's own whose answers are scripted (fault
 * injection): success; retries with backoff then a dead-letter line with
 * every attribute; a non-retryable failure dead-lettered at once; the
 * event's age exhausted; dedup; rate limits as THROTTLING retries bounded
 * by the event's age; the concurrency bound and its FIFO order; a replay's
 * skip; the hooks called exactly once; a dispatch without a dead-letter
 * destination dropped and counted; a dead letter that cannot be written
 * retried and not final until it is; http dead letters against a real
 * listener; a redrive, and Tripline.RedriveDeadLetter (engine/api_dlq.c)
 * run on this dispatcher with its answers and errors.
 *
 * The loop runs until a condition holds (never for a fixed time); backoffs
 * are a few milliseconds (backoff_base_ms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "api.h"
#include "api_op.h"
#include "config.h"
#include "curl_uv.h"
#include "digest.h"
#include "dispatch.h"
#include "event.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "rulegen.h"
#include "ruleset.h"
#include "store.h"
#include "target.h"

/* ------------------------------------------------------------ the test's target kind */

enum script {
	SCRIPT_OK,
	SCRIPT_RETRY,     /* always TARGET_RETRY */
	SCRIPT_FAIL,      /* always TARGET_FAIL */
	SCRIPT_HOLD,      /* keep done() for the test to call */
};

struct call_seen {
	char event_id[EVENT_MAX_ID + 1];
	char rule[64], target[64];
	char token[DIGEST_SHA256_HEX_LEN + 1];
	uint32_t attempt;
	char *input;
};

static enum script script;
static struct call_seen calls[64];
static size_t n_calls;
static struct {
	target_done_fn done;
	void *arg;
} held[64];
static size_t n_held;
static size_t max_held;

static void test_invoke(const struct target_env *env, const struct target_call *call, target_done_fn done,
			void *arg)
{
	(void)env;
	if (n_calls < 64) {
		struct call_seen *c = &calls[n_calls++];
		snprintf(c->event_id, sizeof(c->event_id), "%s", call->ev->id);
		snprintf(c->rule, sizeof(c->rule), "%s", call->rule->name);
		snprintf(c->target, sizeof(c->target), "%s", call->target->id);
		snprintf(c->token, sizeof(c->token), "%s", call->token);
		c->attempt = call->attempt;
		c->input = strndup(call->input, call->input_len);
	}
	switch (script) {
	case SCRIPT_OK:
		done(arg, &(struct target_result){.outcome = TARGET_OK});
		return;
	case SCRIPT_RETRY:
		done(arg, &(struct target_result){.outcome = TARGET_RETRY, .code = "SDK_CLIENT_ERROR",
						  .message = "the target answered 503"});
		return;
	case SCRIPT_FAIL:
		done(arg, &(struct target_result){.outcome = TARGET_FAIL, .code = "INVALID_PARAMETER",
						  .message = "no such task definition"});
		return;
	case SCRIPT_HOLD:
		held[n_held].done = done;
		held[n_held].arg = arg;
		n_held++;
		if (n_held > max_held)
			max_held = n_held;
		return;
	}
}

static const struct target_ops test_ops = {.name = "test", .uses_token = true, .invoke = test_invoke};

const struct target_ops *target_ops_for(enum target_kind kind)
{
	return kind == TARGET_KAFKA ? NULL : &test_ops;
}

/* ------------------------------------------------------------ the world */

static char region[] = "local", account[] = "000000000000";
static struct tripline_config cfg = {.region = region, .account = account};

struct world {
	uv_loop_t loop;
	struct metrics *m;
	struct store *store;
	struct target_env env;
	struct dispatch *d;
	char dir[64];
};

static unsigned n_final, n_dispatch_final;
static char last_final_rule[64], last_final_target[64];

static void on_dispatch_final(void *arg, struct event *ev, const char *rule, const char *target_id)
{
	(void)arg, (void)ev;
	n_dispatch_final++;
	snprintf(last_final_rule, sizeof(last_final_rule), "%s", rule);
	snprintf(last_final_target, sizeof(last_final_target), "%s", target_id);
}

static void on_final(void *arg, struct event *ev)
{
	(void)arg, (void)ev;
	n_final++;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct dispatch_config dc = {0};

	assert_non_null(w);
	assert_int_equal(uv_loop_init(&w->loop), 0);
	assert_non_null(w->m = metrics_new());
	assert_int_equal(store_memory_new(&w->loop, &(struct store_memory_config){.metrics = w->m}, &w->store), 0);
	w->env.loop = &w->loop;
	w->env.cfg = &cfg;
	dc.env = &w->env;
	dc.store = w->store;
	dc.metrics = w->m;
	dc.backoff_base_ms = 2;
	dc.backoff_cap_ms = 20;
	assert_int_equal(dispatch_new(&w->loop, &dc, &w->d), 0);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test_dispatch.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	script = SCRIPT_OK;
	for (size_t i = 0; i < n_calls; i++)
		free(calls[i].input);
	n_calls = n_held = max_held = 0;
	n_final = n_dispatch_final = 0;
	*state = w;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int teardown(void **state)
{
	struct world *w = *state;

	dispatch_free(w->d);
	store_free(w->store);
	/* until every job's timer is closed and a dead letter still being
	 * written on the threadpool has finished */
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	metrics_free(w->m);
	rm_tree(w->dir);
	for (size_t i = 0; i < n_calls; i++)
		free(calls[i].input);
	n_calls = 0;
	free(w);
	return 0;
}

static struct rulegen *gen_from(const char *text)
{
	struct ruleset *rs = NULL;
	struct rulegen *g = NULL;
	struct errlist errs = ERRLIST_INIT;

	if (ruleset_from_text("rules.json", text, strlen(text), NULL, &rs, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fail();
	}
	assert_int_equal(rulegen_from_ruleset(&cfg, rs, &g, &errs), 0);
	errlist_clear(&errs);
	return g;
}

static struct event *make(const char *id, const char *detail)
{
	struct event *ev = NULL;
	struct event_fields f = {.id = id, .source = "app", .detail_type = "Thing", .detail = detail,
				 .detail_len = detail ? strlen(detail) : 0, .time_s = 1700000000,
				 .account = "000000000000", .region = "local"};

	assert_int_equal(event_build(&f, "default", &ev), 0);
	ev->hooks.dispatch_final = on_dispatch_final;
	ev->hooks.final = on_final;
	return ev;
}

/* What the bus does for one dispatch. */
static void submit(struct world *w, struct event *ev, struct rulegen *g, uint32_t rule, uint32_t target)
{
	event_pending_get(ev);
	dispatch_submit(w->d, ev, g, rule, target);
}

/* Runs the loop until cond() holds; a bounded number of turns, not a time. */
static void run_until(struct world *w, bool (*cond)(struct world *w))
{
	for (int i = 0; i < 200000 && !cond(w); i++)
		uv_run(&w->loop, UV_RUN_ONCE);
	assert_true(cond(w));
}

static bool idle(struct world *w)
{
	return dispatch_in_flight(w->d) == 0;
}

static double metric(struct world *w, const char *series)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	double v = -1;

	assert_int_equal(metrics_render(w->m, f), 0);
	fclose(f);
	for (p = text; (p = strstr(p, series)); p++) {
		if ((p == text || p[-1] == '\n') && p[strlen(series)] == ' ') {
			v = strtod(p + strlen(series) + 1, NULL);
			break;
		}
	}
	free(text);
	return v < 0 ? 0 : v;
}

static double invocations(struct world *w, const char *rule, const char *target, const char *result)
{
	char s[256];
	snprintf(s, sizeof(s), "tripline_target_invocations_total{rule=\"%s\",target=\"%s\",result=\"%s\"}", rule,
		 target, result);
	return metric(w, s);
}

/* The dead-letter file's lines, parsed. */
static json_t *dlq_lines(const char *path)
{
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return all;
	while (getline(&line, &cap, f) > 0) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);
		assert_non_null(j);
		json_array_append_new(all, j);
	}
	free(line);
	fclose(f);
	return all;
}

static char *rules_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *rules_text(const char *fmt, ...)
{
	static char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* ------------------------------------------------------------ tests */

static void test_success(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"}]}");
	struct event *ev = make("e-1", "{\"k\":1}");
	char token[DIGEST_SHA256_HEX_LEN + 1];
	unsigned char md[DIGEST_SHA256_LEN];

	submit(w, ev, g, 0, 0);
	assert_int_equal(n_calls, 0);   /* never from inside dispatch_submit() */
	assert_int_equal(dispatch_in_flight(w->d), 1);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	assert_string_equal(calls[0].input, ev->json);   /* no Input: the event */
	assert_int_equal(calls[0].attempt, 0);
	/* the token: SHA-256 of event id, rule, target, each followed by a 0 byte */
	assert_int_equal(digest_sha256("e-1\0r1\0t1\0", 10, md), 0);
	digest_hex(md, sizeof(md), token);
	assert_string_equal(calls[0].token, token);
	assert_int_equal(n_dispatch_final, 1);
	assert_string_equal(last_final_rule, "r1");
	assert_string_equal(last_final_target, "t1");
	assert_int_equal(n_final, 1);
	assert_true(invocations(w, "r1", "t1", "success") == 1);
	assert_true(metric(w, "tripline_dispatch_latency_seconds_count") == 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_transform_input(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\","
				     "\"InputTransformer\":{\"InputPathsMap\":{\"k\":\"$.detail.k\"},"
				     "\"InputTemplate\":\"{\\\"key\\\": <k>, \\\"rule\\\": <aws.events.rule-name>}\"}}]}");
	struct event *ev = make("e-1", "{\"k\":\"v\"}");

	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	assert_non_null(strstr(calls[0].input, "\"v\""));
	assert_non_null(strstr(calls[0].input, "\"r1\""));
	event_unref(ev);
	rulegen_unref(g);
}

static void check_dlq_line(const json_t *l, const struct event *ev, const char *code, const char *message,
			   const char *exhausted, json_int_t retries)
{
	char *event_text = json_dumps(json_object_get(l, "event"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *orig = json_loads(ev->json, 0, NULL);
	char *orig_text = json_dumps(orig, JSON_COMPACT | JSON_PRESERVE_ORDER);

	assert_string_equal(event_text, orig_text);
	free(event_text);
	free(orig_text);
	json_decref(orig);
	assert_string_equal(json_string_value(json_object_get(l, "RULE_ARN")),
			    "arn:aws:events:local:000000000000:rule/r1");
	assert_string_equal(json_string_value(json_object_get(l, "TARGET_ARN")), "file:/tmp/out.jsonl");
	assert_string_equal(json_string_value(json_object_get(l, "ERROR_CODE")), code);
	assert_string_equal(json_string_value(json_object_get(l, "ERROR_MESSAGE")), message);
	if (exhausted)
		assert_string_equal(json_string_value(json_object_get(l, "EXHAUSTED_RETRY_CONDITION")), exhausted);
	else
		assert_null(json_object_get(l, "EXHAUSTED_RETRY_CONDITION"));
	assert_int_equal(json_integer_value(json_object_get(l, "RETRY_ATTEMPTS")), retries);
	assert_true(json_is_integer(json_object_get(l, "RETRY_ATTEMPTS")));
	assert_string_equal(json_string_value(json_object_get(l, "rule")), "r1");
	assert_string_equal(json_string_value(json_object_get(l, "target_id")), "t1");
	assert_string_equal(json_string_value(json_object_get(l, "bus")), "default");
	assert_non_null(json_string_value(json_object_get(l, "time")));
}

static void test_retries_then_dead_letter(void **state)
{
	struct world *w = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/dlq.jsonl", w->dir);
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"RetryPolicy\":{\"MaximumRetryAttempts\":3},"
		"\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}}]}", path));
	struct event *ev = make("e-1", "{\"n\":1.50e2}");
	json_t *lines;

	script = SCRIPT_RETRY;
	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 4);   /* the first attempt and 3 retries */
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(calls[i].attempt, i);
		assert_string_equal(calls[i].token, calls[0].token);   /* the same on every attempt */
	}
	lines = dlq_lines(path);
	assert_int_equal(json_array_size(lines), 1);
	check_dlq_line(json_array_get(lines, 0), ev, "SDK_CLIENT_ERROR", "the target answered 503",
		       "MaximumRetryAttempts", 3);
	json_decref(lines);
	assert_true(invocations(w, "r1", "t1", "retry") == 3);
	assert_true(invocations(w, "r1", "t1", "failed") == 1);
	assert_true(invocations(w, "r1", "t1", "dead_letter") == 1);
	assert_int_equal(n_dispatch_final, 1);
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_not_retryable(void **state)
{
	struct world *w = *state;
	char path[128];
	snprintf(path, sizeof(path), "file://%s/dlq.jsonl", w->dir);   /* the file:/// form */
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"DeadLetterConfig\":{\"Arn\":\"%s\"}}]}", path));
	struct event *ev = make("e-1", NULL);
	json_t *lines;

	script = SCRIPT_FAIL;
	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	lines = dlq_lines(path + 7);
	assert_int_equal(json_array_size(lines), 1);
	check_dlq_line(json_array_get(lines, 0), ev, "INVALID_PARAMETER", "no such task definition", NULL, 0);
	json_decref(lines);
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_max_age(void **state)
{
	struct world *w = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/dlq.jsonl", w->dir);
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"RetryPolicy\":{\"MaximumEventAgeInSeconds\":60},"
		"\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}}]}", path));
	struct event *ev = make("e-1", NULL);
	json_t *lines;

	ev->ingest_wall_ms -= 61000;   /* accepted 61 s ago (a replay after downtime) */
	script = SCRIPT_RETRY;
	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);   /* 185 retries allowed, but no time left */
	lines = dlq_lines(path);
	assert_int_equal(json_array_size(lines), 1);
	check_dlq_line(json_array_get(lines, 0), ev, "SDK_CLIENT_ERROR", "the target answered 503",
		       "MaximumEventAgeInSeconds", 0);
	json_decref(lines);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_dedup(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\","
				     "\"Dedup\":{\"Key\":\"$.detail.k\",\"WindowSeconds\":600}},"
				     "{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\"}]}");
	struct event *a = make("e-1", "{\"k\":1}"), *b = make("e-2", "{\"k\":1}"), *c = make("e-3", "{\"k\":2}"),
		     *none = make("e-4", "{}"), *none2 = make("e-5", "{}");

	submit(w, a, g, 0, 0);
	submit(w, b, g, 0, 0);
	submit(w, c, g, 0, 0);
	submit(w, none, g, 0, 0);
	submit(w, none2, g, 0, 0);
	submit(w, b, g, 0, 1);   /* the other target has no Dedup */
	run_until(w, idle);
	/* e-2 is a duplicate of e-1 for t1; events without the key are not deduplicated */
	assert_int_equal(n_calls, 5);
	for (size_t i = 0; i < n_calls; i++)
		assert_false(strcmp(calls[i].event_id, "e-2") == 0 && strcmp(calls[i].target, "t1") == 0);
	assert_true(invocations(w, "r1", "t1", "dedup") == 1);
	assert_true(invocations(w, "r1", "t1", "success") == 4);
	assert_int_equal(n_dispatch_final, 6);   /* a duplicate is final too */
	assert_int_equal(n_final, 5);
	event_unref(a), event_unref(b), event_unref(c), event_unref(none), event_unref(none2);
	rulegen_unref(g);
}

static void test_dedup_released_after_dead_letter(void **state)
{
	struct world *w = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/dlq.jsonl", w->dir);
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"Dedup\":{\"Key\":\"$.detail.k\"},"
		"\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}}]}", path));
	struct event *a = make("e-1", "{\"k\":1}");

	script = SCRIPT_FAIL;
	submit(w, a, g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	/* the dead letter gave its key back: a redrive of the same event is delivered */
	script = SCRIPT_OK;
	assert_int_equal(dispatch_redrive(w->d, g, a, "r1", "t1"), 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 2);
	assert_true(invocations(w, "r1", "t1", "success") == 1);
	/* and once delivered, the key holds */
	assert_int_equal(dispatch_redrive(w->d, g, a, "r1", "t1"), 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 2);
	assert_true(invocations(w, "r1", "t1", "dedup") == 1);
	event_unref(a);
	rulegen_unref(g);
}

static void test_rate_limit(void **state)
{
	struct world *w = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/dlq.jsonl", w->dir);
	/* one token, refilled every 1000 s: the second event of each target is over the limit */
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":["
		"{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\",\"RateLimit\":{\"PerSecond\":0.001,\"Burst\":1},"
		"\"RetryPolicy\":{\"MaximumRetryAttempts\":0},\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}},"
		"{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\",\"RateLimit\":{\"PerSecond\":0.001,\"Burst\":1},"
		"\"RetryPolicy\":{\"MaximumEventAgeInSeconds\":60},\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}}]}",
		path, path));
	struct event *a = make("e-1", NULL), *b = make("e-2", NULL);
	json_t *lines;

	submit(w, a, g, 0, 0);
	submit(w, a, g, 0, 1);
	run_until(w, idle);
	assert_int_equal(n_calls, 2);
	submit(w, b, g, 0, 0);
	submit(w, b, g, 0, 1);
	run_until(w, idle);
	assert_int_equal(n_calls, 2);   /* never invoked over the limit */
	lines = dlq_lines(path);
	assert_int_equal(json_array_size(lines), 2);
	for (size_t i = 0; i < 2; i++) {
		const json_t *l = json_array_get(lines, i);
		const char *t = json_string_value(json_object_get(l, "target_id"));
		assert_string_equal(json_string_value(json_object_get(l, "ERROR_CODE")), "THROTTLING");
		/* t1: no retries allowed; t2: the next token is due after the event's 60 s */
		assert_string_equal(json_string_value(json_object_get(l, "EXHAUSTED_RETRY_CONDITION")),
				    strcmp(t, "t1") == 0 ? "MaximumRetryAttempts" : "MaximumEventAgeInSeconds");
	}
	json_decref(lines);
	assert_true(invocations(w, "r1", "t1", "throttled") == 1);
	assert_true(invocations(w, "r1", "t2", "throttled") == 1);
	assert_int_equal(n_final, 2);
	event_unref(a), event_unref(b);
	rulegen_unref(g);
}

static void test_rate_limit_retry_delivers(void **state)
{
	struct world *w = *state;
	/* 200 tokens a second, one at a time: a throttled attempt waits for its token
	 * and is then delivered */
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\","
				     "\"RateLimit\":{\"PerSecond\":200,\"Burst\":1}}]}");
	struct event *ev[3] = {make("e-1", NULL), make("e-2", NULL), make("e-3", NULL)};

	for (int i = 0; i < 3; i++)
		submit(w, ev[i], g, 0, 0);
	run_until(w, idle);
	assert_int_equal(n_calls, 3);
	assert_true(invocations(w, "r1", "t1", "success") == 3);
	assert_true(invocations(w, "r1", "t1", "throttled") >= 2);
	assert_int_equal(n_final, 3);
	for (int i = 0; i < 3; i++)
		event_unref(ev[i]);
	rulegen_unref(g);
}

static void test_concurrency_bound(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\",\"MaxConcurrency\":2}]}");
	struct event *ev[5];
	char id[16];

	script = SCRIPT_HOLD;
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "e-%d", i);
		ev[i] = make(id, NULL);
		submit(w, ev[i], g, 0, 0);
	}
	for (size_t completed = 0; completed < 5; completed++) {
		size_t want = 5 - completed < 2 ? 5 - completed : 2;
		for (int k = 0; k < 1000 && n_held < want; k++)
			uv_run(&w->loop, UV_RUN_ONCE);
		assert_int_equal(n_held, want);
		/* complete the oldest one held */
		target_done_fn fn = held[0].done;
		void *arg = held[0].arg;
		memmove(&held[0], &held[1], (n_held - 1) * sizeof(held[0]));
		n_held--;
		fn(arg, &(struct target_result){.outcome = TARGET_OK});
	}
	run_until(w, idle);
	assert_int_equal(max_held, 2);
	assert_int_equal(n_calls, 5);
	for (int i = 0; i < 5; i++) {   /* first come, first served */
		snprintf(id, sizeof(id), "e-%d", i);
		assert_string_equal(calls[i].event_id, id);
	}
	assert_int_equal(n_final, 5);
	for (int i = 0; i < 5; i++)
		event_unref(ev[i]);
	rulegen_unref(g);
}

static void test_replay_leaves_final_dispatches(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"},"
				     "{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\"}]}");
	struct event *ev = make("e-1", NULL);

	assert_int_equal(event_add_final(ev, "r1", "t1"), 0);
	submit(w, ev, g, 0, 0);
	submit(w, ev, g, 0, 1);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	assert_string_equal(calls[0].target, "t2");
	assert_int_equal(n_dispatch_final, 1);   /* t1's was final before */
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_hooks_once_across_targets(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"},"
				     "{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\"},"
				     "{\"Id\":\"t3\",\"Arn\":\"file:/tmp/out.jsonl\"}]}");
	struct event *ev = make("e-1", NULL);

	script = SCRIPT_HOLD;
	event_pending_get(ev);   /* the bus's own while it submits */
	for (uint32_t t = 0; t < 3; t++)
		submit(w, ev, g, 0, t);
	event_pending_put(ev);
	for (int k = 0; k < 1000 && n_held < 3; k++)
		uv_run(&w->loop, UV_RUN_ONCE);
	assert_int_equal(n_held, 3);
	assert_int_equal(n_final, 0);
	for (size_t i = 0; i < 3; i++) {
		held[i].done(held[i].arg, &(struct target_result){.outcome = TARGET_OK});
		assert_int_equal(n_dispatch_final, i + 1);
		assert_int_equal(n_final, i == 2 ? 1 : 0);
	}
	n_held = 0;
	run_until(w, idle);
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_no_dead_letter_dropped(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"},"
				     "{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\","
				     "\"RetryPolicy\":{\"MaximumRetryAttempts\":1}}]}");
	struct event *ev = make("e-1", NULL);

	script = SCRIPT_FAIL;
	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	script = SCRIPT_RETRY;
	submit(w, ev, g, 0, 1);
	run_until(w, idle);
	assert_true(metric(w, "tripline_events_dropped_total{reason=\"not_retryable\"}") == 1);
	assert_true(metric(w, "tripline_events_dropped_total{reason=\"retries_exhausted\"}") == 1);
	assert_int_equal(n_dispatch_final, 2);
	assert_int_equal(n_final, 2);
	event_unref(ev);
	rulegen_unref(g);
}

static bool three_dlq_failures(struct world *w)
{
	return metric(w, "tripline_dead_letter_failures_total{kind=\"file\"}") >= 3;
}

static void test_dead_letter_write_failure(void **state)
{
	struct world *w = *state;
	char sub[96], path[128];
	snprintf(sub, sizeof(sub), "%s/missing", w->dir);
	snprintf(path, sizeof(path), "%s/dlq.jsonl", sub);
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"DeadLetterConfig\":{\"Arn\":\"file:%s\"}}]}", path));
	struct event *ev = make("e-1", NULL);
	json_t *lines;

	script = SCRIPT_FAIL;
	submit(w, ev, g, 0, 0);
	run_until(w, three_dlq_failures);   /* its directory does not exist */
	assert_int_equal(n_dispatch_final, 0);   /* not final while unwritten */
	assert_int_equal(n_final, 0);
	assert_int_equal(dispatch_in_flight(w->d), 1);
	assert_int_equal(mkdir(sub, 0700), 0);   /* the destination recovers */
	run_until(w, idle);
	lines = dlq_lines(path);
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
	assert_int_equal(n_calls, 1);   /* the target was not invoked again */
	assert_int_equal(n_dispatch_final, 1);
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

static void test_dead_letter_never_written_freed(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from(rules_text(
		"{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
		"\"Arn\":\"file:/tmp/out.jsonl\",\"DeadLetterConfig\":{\"Arn\":\"file:%s/no/dlq.jsonl\"}}]}", w->dir));
	struct event *ev = make("e-1", NULL);

	script = SCRIPT_FAIL;
	submit(w, ev, g, 0, 0);
	run_until(w, three_dlq_failures);
	assert_int_equal(n_final, 0);
	/* teardown frees the dispatcher with the dispatch not final: no hook, nothing leaked */
	event_unref(ev);
	rulegen_unref(g);
}

static void test_redrive(void **state)
{
	struct world *w = *state;
	struct rulegen *g = gen_from("{\"Rules\":[{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"},"
				     "{\"Id\":\"t2\",\"Arn\":\"file:/tmp/out.jsonl\"}]},"
				     "{\"Name\":\"r2\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"}]},"
				     "{\"Name\":\"off\",\"State\":\"DISABLED\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"}]}]}");
	struct event *ev = NULL;
	const char *json = "{\"version\":\"0\",\"id\":\"orig-id\",\"detail-type\":\"Thing\",\"source\":\"app\","
			   "\"account\":\"000000000000\",\"time\":\"2026-12-07T08:47:06Z\",\"region\":\"local\","
			   "\"resources\":[],\"detail\":{}}";

	assert_int_equal(event_new("orig-id", "default", json, strlen(json), &ev), 0);
	ev->hooks.final = on_final;
	assert_int_equal(dispatch_redrive(w->d, g, ev, "r2", "t1"), 0);
	assert_int_equal(dispatch_redrive(w->d, g, ev, "r3", "t1"), -ENOENT);
	assert_int_equal(dispatch_redrive(w->d, g, ev, "r2", "t9"), -ENOENT);
	assert_int_equal(dispatch_redrive(w->d, g, ev, "off", "t1"), -ENOENT);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);   /* its own rule and target only */
	assert_string_equal(calls[0].rule, "r2");
	assert_string_equal(calls[0].target, "t1");
	assert_string_equal(calls[0].event_id, "orig-id");
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
}

/* ------------------------------------------------------------ http dead letters */

static unsigned dlq_http_calls, dlq_http_status = 503;
static char *dlq_http_body;

static void dlq_http_handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	(void)ctx;
	dlq_http_calls++;
	free(dlq_http_body);
	dlq_http_body = strndup(req->body, req->body_len);
	ret->status = dlq_http_calls == 1 ? dlq_http_status : 200;
	ret->content_type = "application/json";
	ret->body = strdup("{}");
	ret->body_len = 2;
}

static void test_dead_letter_http(void **state)
{
	struct world *w = *state;
	struct http_limits limits = {.max_body = 1 << 20, .max_connections_per_client = 8};
	struct http_server *server = NULL;
	struct curl_uv *cu = NULL;
	struct rulegen *g;
	struct event *ev;
	json_t *l;

	assert_int_equal(curl_uv_new(&w->loop, &cu), 0);
	w->env.http = cu;
	assert_int_equal(http_server_start(&w->loop, "127.0.0.1", 0, &limits, dlq_http_handler, NULL, &server), 0);
	g = gen_from(rules_text("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},\"Targets\":[{\"Id\":\"t1\","
				"\"Arn\":\"file:/tmp/out.jsonl\",\"DeadLetterConfig\":{\"Arn\":\"http://127.0.0.1:%u/dlq\"}}]}",
				(unsigned)http_server_port(server)));
	ev = make("e-1", "{\"k\":1}");
	script = SCRIPT_FAIL;
	submit(w, ev, g, 0, 0);
	run_until(w, idle);
	/* the first POST answered 503: counted, retried, then written */
	assert_int_equal(dlq_http_calls, 2);
	assert_true(metric(w, "tripline_dead_letter_failures_total{kind=\"http\"}") == 1);
	assert_non_null(l = json_loads(dlq_http_body, 0, NULL));
	check_dlq_line(l, ev, "INVALID_PARAMETER", "no such task definition", NULL, 0);
	json_decref(l);
	assert_int_equal(n_final, 1);
	event_unref(ev);
	rulegen_unref(g);
	curl_uv_free(cu);
	w->env.http = NULL;
	http_server_stop(server);
	free(dlq_http_body);
	dlq_http_body = NULL;
}

/* ------------------------------------------------------------ Tripline.RedriveDeadLetter */

static struct rulegen *current_gen;

static struct rulegen *current_rules(void *arg)
{
	(void)arg;
	return current_gen;
}

/* Runs the operation on body; the answer's status, its body in *ret. */
static unsigned redrive_op(struct world *w, bool with_dispatcher, const char *body, json_t **ret)
{
	struct api_events_env events = {.rules = current_rules};
	struct api_dlq_env dlq = {.redrive = dispatch_redrive, .dispatch = w->d};
	struct api_dlq_env none = {0};
	struct api_ctx x = {.cfg = &cfg, .events = &events, .dlq = with_dispatcher ? &dlq : &none};
	struct api_answer a = {0};
	struct jdoc *doc = NULL;

	assert_int_equal(jdoc_parse(body, strlen(body), NULL, &doc, NULL), 0);
	assert_string_equal(api_dlq_ops[0].target, "Tripline.RedriveDeadLetter");
	api_dlq_ops[0].run(&x, body, strlen(body), jdoc_root(doc), &a);
	jdoc_free(doc);
	*ret = a.body;
	return a.status;
}

static void expect_error(struct world *w, const char *body, unsigned status, const char *type, const char *message)
{
	json_t *j = NULL;

	assert_int_equal(redrive_op(w, true, body, &j), status);
	assert_string_equal(json_string_value(json_object_get(j, "__type")), type);
	assert_string_equal(json_string_value(json_object_get(j, "message")), message);
	json_decref(j);
}

static void test_redrive_operation(void **state)
{
	struct world *w = *state;
	json_t *j = NULL;
	const char *good = "{\"Event\":\"{\\\"version\\\":\\\"0\\\",\\\"id\\\":\\\"orig-id\\\","
			   "\\\"source\\\":\\\"app\\\",\\\"detail\\\":{\\\"n\\\":1.50e2}}\","
			   "\"RuleName\":\"r1\",\"TargetId\":\"t1\",\"EventBusName\":\"default\"}";

	current_gen = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
			       "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\"}]}");
	assert_int_equal(redrive_op(w, true, good, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "EventId")), "orig-id");
	assert_string_equal(json_string_value(json_object_get(j, "RuleName")), "r1");
	assert_string_equal(json_string_value(json_object_get(j, "TargetId")), "t1");
	json_decref(j);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);
	assert_string_equal(calls[0].event_id, "orig-id");
	/* the envelope as it was sent (numbers as written) */
	assert_string_equal(calls[0].input, "{\"version\":\"0\",\"id\":\"orig-id\",\"source\":\"app\","
					    "\"detail\":{\"n\":1.50e2}}");

	expect_error(w, "{\"Event\":\"{\\\"id\\\":\\\"x\\\"}\",\"RuleName\":\"nope\",\"TargetId\":\"t1\"}", 400,
		     "ResourceNotFoundException", "Rule nope does not exist.");
	expect_error(w, "{\"Event\":\"{\\\"id\\\":\\\"x\\\"}\",\"RuleName\":\"r1\",\"TargetId\":\"t9\"}", 400,
		     "ResourceNotFoundException", "Target t9 does not exist on rule r1.");
	expect_error(w, "{\"Event\":\"[1]\",\"RuleName\":\"r1\",\"TargetId\":\"t1\"}", 400,
		     "ValidationException", "Parameter Event is not valid.");
	expect_error(w, "{\"Event\":\"{\\\"source\\\":\\\"app\\\"}\",\"RuleName\":\"r1\",\"TargetId\":\"t1\"}",
		     400, "ValidationException", "Parameter Event is not valid.");
	expect_error(w, "{\"Event\":{\"id\":\"x\"},\"RuleName\":\"r1\",\"TargetId\":\"t1\"}", 400,
		     "ValidationException", "Event is required and must be a non-empty string.");
	expect_error(w, "{\"Event\":\"{\\\"id\\\":\\\"x\\\"}\",\"TargetId\":\"t1\"}", 400,
		     "ValidationException", "RuleName is required and must be a non-empty string.");
	assert_int_equal(redrive_op(w, false, good, &j), 503);
	json_decref(j);
	run_until(w, idle);
	assert_int_equal(n_calls, 1);   /* nothing refused was dispatched */
	rulegen_unref(current_gen);
	current_gen = NULL;
}

/* ------------------------------------------------------------ a store that answers later */

struct later_store {
	struct store base;
	store_claim_fn done;
	void *arg;
};

static void later_claim(struct store *s, const char *key, uint32_t window_s, store_claim_fn done, void *arg)
{
	struct later_store *ls = (struct later_store *)(void *)s;
	(void)key, (void)window_s;
	ls->done = done;
	ls->arg = arg;
}

static void later_release(struct store *s, const char *key)
{
	(void)s, (void)key;
}

static void later_take(struct store *s, const char *key, double per_second, uint32_t burst, store_take_fn done,
		       void *arg)
{
	(void)s, (void)key, (void)per_second, (void)burst;
	done(arg, 0, 0);
}

static void later_free(struct store *s)
{
	(void)s;
}

static const struct store_ops later_ops = {"later", later_claim, later_release, later_take, later_free};

static void test_async_store(void **state)
{
	struct world *w = *state;
	struct later_store ls = {.base = {&later_ops}};
	struct dispatch *d2 = NULL;
	struct rulegen *g = gen_from("{\"Name\":\"r1\",\"EventPattern\":{\"source\":[\"app\"]},"
				     "\"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/out.jsonl\","
				     "\"Dedup\":{\"Key\":\"$.detail.k\"}}]}");
	struct event *a = make("e-1", "{\"k\":1}"), *b = make("e-2", "{\"k\":2}");

	assert_int_equal(dispatch_new(&w->loop, &(struct dispatch_config){.env = &w->env, .store = &ls.base}, &d2), 0);
	event_pending_get(a);
	dispatch_submit(d2, a, g, 0, 0);
	for (int k = 0; k < 100 && !ls.done; k++)
		uv_run(&w->loop, UV_RUN_ONCE);
	assert_non_null(ls.done);
	assert_int_equal(n_calls, 0);   /* waiting for the store */
	store_claim_fn done = ls.done;
	ls.done = NULL;
	done(ls.arg, 1);   /* the answer comes later: claimed */
	assert_int_equal(n_calls, 1);
	assert_int_equal(n_final, 1);
	assert_int_equal(dispatch_in_flight(d2), 0);

	/* freed while the store has not answered: the answer still comes, into nothing */
	event_pending_get(b);
	dispatch_submit(d2, b, g, 0, 0);
	for (int k = 0; k < 100 && !ls.done; k++)
		uv_run(&w->loop, UV_RUN_ONCE);
	assert_non_null(ls.done);
	dispatch_free(d2);
	ls.done(ls.arg, 1);
	assert_int_equal(n_calls, 1);
	assert_int_equal(n_final, 1);   /* no hook for a dispatch dropped at shutdown */
	event_unref(a), event_unref(b);
	rulegen_unref(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transform_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_then_dead_letter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_retryable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_released_after_dead_letter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_retry_delivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_leaves_final_dispatches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_once_across_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dead_letter_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_write_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_never_written_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redrive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redrive_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
