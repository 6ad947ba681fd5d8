/*
 * test_api_events.c — EventBridge's operations of the API (api_events.c),
 * through the real listener and api_handle() with real HTTP requests.
 *
 * The ingest is a test one (the api is given its functions, api.h): it
 * keeps a copy of each envelope and answers on a later loop turn, each
 * event by its source ("throttle" → -EAGAIN, "full" → -ENOSPC, "ioerr" →
 * -EIO, anything else 0), so every per-entry answer can be seen. The rules
 * come from a rule document loaded with ruleset_from_text(). A client
 * thread sends the requests of one table in order; the loop thread serves
 * them; the answers are checked afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "event.h"
#include "http.h"
#include "ingest.h"
#include "rulegen.h"
#include "ruleset.h"

#define MAX_REQ 32
#define MAX_EVENTS 64

struct ingest {
	uv_loop_t *loop;
	char *envelopes[MAX_EVENTS];    /* every event submitted, in order */
	char *buses[MAX_EVENTS];
	size_t n;
	unsigned calls;
};

/* A submission waiting for its later loop turn. */
struct submission {
	uv_timer_t t;
	int results[INGEST_MAX_BATCH];
	size_t n;
	ingest_done_fn done;
	void *arg;
};

struct request {
	const char *op;                 /* after "AWSEvents." */
	char *body;                     /* malloc'd */
	long status;                    /* the answer */
	json_t *answer;
};

struct fixture {
	uv_loop_t loop;
	uv_async_t done;
	struct http_server *server;
	struct api *api;
	struct tripline_config cfg;
	struct ingest ingest;
	struct rulegen gen;
	uint16_t port;
	pthread_t thread;
	struct request req[MAX_REQ];
	size_t n_req;
};

/* ---- the test ingest ---- */

static void on_submission_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_submission(uv_timer_t *t)
{
	struct submission *s = t->data;

	s->done(s->arg, s->results, s->n);
	uv_close((uv_handle_t *)t, on_submission_closed);
}

static int source_result(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	const char *src = json_string_value(json_object_get(j, "source"));
	int r = !src ? -EINVAL : strcmp(src, "throttle") == 0 ? -EAGAIN : strcmp(src, "full") == 0 ? -ENOSPC
		: strcmp(src, "ioerr") == 0 ? -EIO : 0;

	json_decref(j);
	return r;
}

static void fake_submit(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done, void *arg)
{
	struct submission *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_true(n <= INGEST_MAX_BATCH);
	in->calls++;
	for (size_t i = 0; i < n; i++) {
		assert_true(in->n < MAX_EVENTS);
		in->envelopes[in->n] = strdup(evs[i]->json);
		in->buses[in->n] = strdup(evs[i]->bus);
		in->n++;
		s->results[i] = source_result(evs[i]->json);
	}
	s->n = n;
	s->done = done;
	s->arg = arg;
	uv_timer_init(in->loop, &s->t);
	s->t.data = s;
	uv_timer_start(&s->t, on_submission, 0, 0); /* never from inside the call */
}

static int fake_bus_exists(const struct ingest *in, const char *bus)
{
	(void)in;
	return strcmp(bus, "default") == 0 || strcmp(bus, "orders") == 0;
}

static struct rulegen *fake_rules(void *arg)
{
	return arg;
}

/* ---- the server and the client ---- */

static void handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	struct fixture *f = ctx;

	api_handle(f->api, req, ret);
}

static void on_done(uv_async_t *a)
{
	struct fixture *f = a->data;

	http_server_stop(f->server);
	uv_close((uv_handle_t *)a, NULL);
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	char **buf = userp;
	size_t old = *buf ? strlen(*buf) : 0;
	char *p = realloc(*buf, old + size * n + 1);

	if (!p)
		return 0;
	memcpy(p + old, data, size * n);
	p[old + size * n] = '\0';
	*buf = p;
	return size * n;
}

static void *client_main(void *arg)
{
	struct fixture *f = arg;
	char url[64], target[96];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)f->port);
	for (size_t i = 0; i < f->n_req; i++) {
		struct request *r = &f->req[i];
		struct curl_slist *h;
		CURL *c = curl_easy_init();
		char *out = NULL;

		snprintf(target, sizeof(target), "X-Amz-Target: AWSEvents.%s", r->op);
		h = curl_slist_append(NULL, target);
		h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		r->answer = out ? json_loads(out, 0, NULL) : NULL;
		free(out);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
	}
	uv_async_send(&f->done);
	return NULL;
}

static const char rules_text[] =
	"{\"Rules\":["
	"{\"Name\":\"a-rule\",\"Description\":\"first\",\"EventPattern\":{\"source\":[\"app\"]},"
	" \"Targets\":[{\"Id\":\"t1\",\"Arn\":\"file:/tmp/a.jsonl\",\"InputPath\":\"$.detail\"},"
	"              {\"Id\":\"t2\",\"Arn\":\"https://example.com/hook\","
	"               \"RetryPolicy\":{\"MaximumRetryAttempts\":3}}]},"
	"{\"Name\":\"b-rule\",\"State\":\"DISABLED\",\"ScheduleExpression\":\"rate(5 minutes)\","
	" \"Targets\":[{\"Id\":\"t\",\"Arn\":\"file:/tmp/b.jsonl\"}]},"
	"{\"Name\":\"c-rule\",\"EventBusName\":\"orders\",\"EventPattern\":{\"source\":[\"shop\"]},"
	" \"Targets\":[{\"Id\":\"t\",\"Arn\":\"file:/tmp/c.jsonl\"}]}"
	"]}";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static char extra[] = "extra", account[] = "123456789012", region[] = "eu-west-3";
	static char *buses[] = {extra};
	struct errlist errs = ERRLIST_INIT;
	char err[256];

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->cfg.account = account;
	f->cfg.region = region;
	f->cfg.buses.n = 1;
	f->cfg.buses.v = buses;
	assert_int_equal(ruleset_from_text("rules.json", rules_text, strlen(rules_text), NULL, &f->gen.rs, &errs), 0);
	f->ingest.loop = &f->loop;
	assert_int_equal(api_new(&f->cfg, NULL, NULL, &f->api, err, sizeof(err)), 0);
	api_set_events(f->api, &(struct api_events_env){&f->ingest, fake_submit, fake_bus_exists, fake_rules, &f->gen});
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < f->n_req; i++) {
		free(f->req[i].body);
		json_decref(f->req[i].answer);
	}
	for (size_t i = 0; i < f->ingest.n; i++) {
		free(f->ingest.envelopes[i]);
		free(f->ingest.buses[i]);
	}
	api_free(f->api);
	ruleset_unref(f->gen.rs);
	free(f);
	return 0;
}

static struct request *add(struct fixture *f, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct request *add(struct fixture *f, const char *op, const char *fmt, ...)
{
	struct request *r = &f->req[f->n_req++];
	va_list ap;

	assert_true(f->n_req <= MAX_REQ);
	r->op = op;
	va_start(ap, fmt);
	assert_true(vasprintf(&r->body, fmt, ap) >= 0);
	va_end(ap);
	return r;
}

static void run(struct fixture *f)
{
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", 0, &(struct http_limits){.max_body = 4 << 20},
					   handler, f, &f->server), 0);
	f->port = http_server_port(f->server);
	assert_int_equal(uv_async_init(&f->loop, &f->done, on_done), 0);
	f->done.data = f;
	assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- checks ---- */

static const char *str(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s ? s : "(absent)";
}

static void assert_error(const struct request *r, long status, const char *type, const char *message)
{
	assert_int_equal(r->status, status);
	assert_non_null(r->answer);
	assert_string_equal(str(r->answer, "__type"), type);
	assert_string_equal(str(r->answer, "message"), message);
}

static const json_t *entry(const struct request *r, size_t i)
{
	const json_t *e = json_array_get(json_object_get(r->answer, "Entries"), i);

	assert_non_null(e);
	return e;
}

static void assert_entry_error(const struct request *r, size_t i, const char *code, const char *message)
{
	assert_string_equal(str(entry(r, i), "ErrorCode"), code);
	assert_string_equal(str(entry(r, i), "ErrorMessage"), message);
	assert_null(json_object_get(entry(r, i), "EventId"));
}

static void assert_entry_ok(const struct request *r, size_t i)
{
	assert_int_equal(strlen(str(entry(r, i), "EventId")), 36);
	assert_null(json_object_get(entry(r, i), "ErrorCode"));
}

static long failed_count(const struct request *r)
{
	assert_int_equal(r->status, 200);
	return (long)json_integer_value(json_object_get(r->answer, "FailedEntryCount"));
}

/* ---- tests ---- */

/* Each entry alone: the good ones accepted, the bad ones with AWS's code
 * and message, every one in request order; the envelopes as EventBridge's. */
static void test_put_events_entries(void **state)
{
	struct fixture *f = *state;
	struct request *mixed, *missing, *failures;
	json_t *env;

	mixed = add(f, "PutEvents", "{\"Entries\":["
		    "{\"Source\":\"app\",\"DetailType\":\"T\",\"Detail\":\"{\\\"a\\\":1}\",\"Time\":1700000000,"
		    " \"Resources\":[\"arn:aws:s3:::b\"]},"
		    "{\"DetailType\":\"T\",\"Detail\":\"{}\"},"
		    "{\"Source\":\"app\",\"DetailType\":\"T\",\"Detail\":\"[1]\"},"
		    "{\"Source\":\"app\",\"DetailType\":\"T\",\"Detail\":\"{nope\"},"
		    "{\"Source\":\"shop\",\"DetailType\":\"T\",\"Detail\":\"{}\","
		    " \"EventBusName\":\"arn:aws:events:eu-west-3:123456789012:event-bus/orders\","
		    " \"Time\":\"2026-12-07T09:47:06+01:00\"}]}");
	missing = add(f, "PutEvents", "{\"Entries\":["
		      "{\"Source\":\"app\",\"Detail\":\"{}\"},"
		      "{\"Source\":\"app\",\"DetailType\":\"T\"},"
		      "{\"Source\":\"\",\"DetailType\":\"T\",\"Detail\":\"{}\"},"
		      "{\"Source\":\"app\",\"DetailType\":\"T\",\"Detail\":\"{}\",\"EventBusName\":\"nope\"}]}");
	failures = add(f, "PutEvents", "{\"Entries\":["
		       "{\"Source\":\"throttle\",\"DetailType\":\"T\",\"Detail\":\"{}\"},"
		       "{\"Source\":\"ok\",\"DetailType\":\"T\",\"Detail\":\"{}\"},"
		       "{\"Source\":\"full\",\"DetailType\":\"T\",\"Detail\":\"{}\"},"
		       "{\"Source\":\"ioerr\",\"DetailType\":\"T\",\"Detail\":\"{}\"}]}");
	run(f);

	assert_int_equal(failed_count(mixed), 3);
	assert_entry_ok(mixed, 0);
	assert_entry_error(mixed, 1, "InvalidArgument",
			   "Parameter Source is not valid. Reason: Source is a required argument.");
	assert_entry_error(mixed, 2, "MalformedDetail", "Detail is malformed.");
	assert_entry_error(mixed, 3, "MalformedDetail", "Detail is malformed.");
	assert_entry_ok(mixed, 4);

	assert_int_equal(failed_count(missing), 4);
	assert_entry_error(missing, 0, "InvalidArgument",
			   "Parameter DetailType is not valid. Reason: DetailType is a required argument.");
	assert_entry_error(missing, 1, "InvalidArgument",
			   "Parameter Detail is not valid. Reason: Detail is a required argument.");
	assert_entry_error(missing, 2, "InvalidArgument",
			   "Parameter Source is not valid. Reason: Source is a required argument.");
	assert_entry_error(missing, 3, "ResourceNotFoundException", "Event bus nope does not exist.");

	assert_int_equal(failed_count(failures), 3);
	assert_entry_error(failures, 0, "ThrottlingException", "Rate exceeded");
	assert_entry_ok(failures, 1);
	assert_string_equal(str(entry(failures, 2), "ErrorCode"), "InternalFailure");
	assert_string_equal(str(entry(failures, 3), "ErrorCode"), "InternalFailure");

	/* what the ingest received: two submissions (the second request had
	 * nothing to submit), six events */
	assert_int_equal(f->ingest.calls, 2);
	assert_int_equal(f->ingest.n, 6);
	env = json_loads(f->ingest.envelopes[0], 0, NULL);
	assert_non_null(env);
	assert_string_equal(str(env, "id"), str(entry(mixed, 0), "EventId"));
	assert_string_equal(str(env, "version"), "0");
	assert_string_equal(str(env, "source"), "app");
	assert_string_equal(str(env, "detail-type"), "T");
	assert_string_equal(str(env, "account"), "123456789012");
	assert_string_equal(str(env, "region"), "eu-west-3");
	assert_string_equal(str(env, "time"), "2023-11-14T22:13:20Z");
	assert_string_equal(json_string_value(json_array_get(json_object_get(env, "resources"), 0)), "arn:aws:s3:::b");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(env, "detail"), "a")), 1);
	assert_string_equal(f->ingest.buses[0], "default");
	json_decref(env);
	env = json_loads(f->ingest.envelopes[1], 0, NULL);
	assert_string_equal(str(env, "time"), "2026-12-07T08:47:06Z");
	assert_string_equal(f->ingest.buses[1], "orders");
	json_decref(env);
}

/* The whole request fails: no entries, more than 10, 256 KB or more. */
static void test_put_events_request_limits(void **state)
{
	struct fixture *f = *state;
	struct request *none, *eleven, *big, *fits, *absent;
	char *entries = NULL, *detail;
	size_t len = 0;
	FILE *m = open_memstream(&entries, &len);
	const size_t fixed = 1 + 1 + 14; /* Source "a", DetailType "T", Time */

	for (int i = 0; i < 11; i++)
		fprintf(m, "%s{\"Source\":\"a\",\"DetailType\":\"T\",\"Detail\":\"{}\"}", i ? "," : "");
	fclose(m);
	/* a Detail making the entry exactly 256 KB: refused; one byte less: accepted */
	detail = malloc(256 * 1024);
	assert_non_null(detail);
	memset(detail, 'x', 256 * 1024);

	none = add(f, "PutEvents", "{\"Entries\":[]}");
	absent = add(f, "PutEvents", "{}");
	eleven = add(f, "PutEvents", "{\"Entries\":[%s]}", entries);
	big = add(f, "PutEvents", "{\"Entries\":[{\"Source\":\"a\",\"DetailType\":\"T\",\"Time\":0,"
		  "\"Detail\":\"{\\\"k\\\":\\\"%.*s\\\"}\"}]}", (int)(256 * 1024 - fixed - 8), detail);
	fits = add(f, "PutEvents", "{\"Entries\":[{\"Source\":\"a\",\"DetailType\":\"T\",\"Time\":0,"
		   "\"Detail\":\"{\\\"k\\\":\\\"%.*s\\\"}\"}]}", (int)(256 * 1024 - fixed - 9), detail);
	free(entries);
	free(detail);
	run(f);

	assert_error(none, 400, "ValidationException", "1 validation error detected: Value '[]' at 'entries' failed "
		     "to satisfy constraint: Member must have length greater than or equal to 1");
	assert_error(absent, 400, "ValidationException", "1 validation error detected: Value null at 'entries' "
		     "failed to satisfy constraint: Member must not be null");
	assert_error(eleven, 400, "ValidationException", "1 validation error detected: Value "
		     "'[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length "
		     "less than or equal to 10");
	assert_error(big, 400, "ValidationException", "Total size of the entries in the request is over the limit.");
	assert_int_equal(failed_count(fits), 0);
	assert_int_equal(f->ingest.n, 1);
}

/* TestEventPattern answers {"Result": bool}, and EventBridge's errors. */
static void test_test_event_pattern(void **state)
{
	struct fixture *f = *state;
	static const char event[] = "{\\\"id\\\":\\\"1\\\",\\\"account\\\":\\\"1\\\",\\\"source\\\":\\\"app\\\","
				    "\\\"time\\\":\\\"2026-12-07T08:47:06Z\\\",\\\"region\\\":\\\"r\\\","
				    "\\\"detail-type\\\":\\\"T\\\",\\\"resources\\\":[],\\\"detail\\\":{\\\"n\\\":5}}";
	struct request *yes, *no, *bad_pattern, *bad_event, *no_id;

	yes = add(f, "TestEventPattern", "{\"EventPattern\":\"{\\\"source\\\":[\\\"app\\\"],\\\"detail\\\":"
		  "{\\\"n\\\":[{\\\"numeric\\\":[\\\">\\\",4]}]}}\",\"Event\":\"%s\"}", event);
	no = add(f, "TestEventPattern", "{\"EventPattern\":\"{\\\"source\\\":[\\\"other\\\"]}\",\"Event\":\"%s\"}", event);
	bad_pattern = add(f, "TestEventPattern", "{\"EventPattern\":\"{\\\"source\\\":\\\"app\\\"}\",\"Event\":\"%s\"}",
			  event);
	bad_event = add(f, "TestEventPattern", "{\"EventPattern\":\"{\\\"source\\\":[\\\"app\\\"]}\",\"Event\":\"{x\"}");
	no_id = add(f, "TestEventPattern", "{\"EventPattern\":\"{\\\"source\\\":[\\\"app\\\"]}\","
		    "\"Event\":\"{\\\"source\\\":\\\"app\\\"}\"}");
	run(f);

	assert_int_equal(yes->status, 200);
	assert_true(json_is_true(json_object_get(yes->answer, "Result")));
	assert_int_equal(no->status, 200);
	assert_true(json_is_false(json_object_get(no->answer, "Result")));
	assert_int_equal(bad_pattern->status, 400);
	assert_string_equal(str(bad_pattern->answer, "__type"), "InvalidEventPatternException");
	assert_true(strncmp(str(bad_pattern->answer, "message"), "Event pattern is not valid. Reason: ", 36) == 0);
	assert_error(bad_event, 400, "ValidationException", "Parameter Event is not valid.");
	assert_error(no_id, 400, "ValidationException", "Parameter Event is not valid.");
}

/* The read-only rule operations, in the shapes `aws events` prints. */
static void test_rules_and_buses(void **state)
{
	struct fixture *f = *state;
	struct request *page1, *page2, *orders, *prefix, *desc, *desc_sched, *desc_missing, *targets, *targets_page,
		*buses, *unknown_bus;
	const json_t *r, *t;

	page1 = add(f, "ListRules", "{\"Limit\":1}");
	page2 = add(f, "ListRules", "{\"Limit\":1,\"NextToken\":\"b-rule\"}");
	orders = add(f, "ListRules", "{\"EventBusName\":\"orders\"}");
	prefix = add(f, "ListRules", "{\"NamePrefix\":\"b-\"}");
	desc = add(f, "DescribeRule", "{\"Name\":\"a-rule\"}");
	desc_sched = add(f, "DescribeRule", "{\"Name\":\"b-rule\",\"EventBusName\":\"default\"}");
	desc_missing = add(f, "DescribeRule", "{\"Name\":\"c-rule\"}");
	targets = add(f, "ListTargetsByRule", "{\"Rule\":\"a-rule\"}");
	targets_page = add(f, "ListTargetsByRule", "{\"Rule\":\"a-rule\",\"Limit\":1}");
	buses = add(f, "ListEventBuses", "{}");
	unknown_bus = add(f, "ListRules", "{\"EventBusName\":\"nope\"}");
	run(f);

	assert_int_equal(page1->status, 200);
	assert_int_equal(json_array_size(json_object_get(page1->answer, "Rules")), 1);
	r = json_array_get(json_object_get(page1->answer, "Rules"), 0);
	assert_string_equal(str(r, "Name"), "a-rule");
	assert_string_equal(str(r, "Arn"), "arn:aws:events:eu-west-3:123456789012:rule/a-rule");
	assert_string_equal(str(r, "State"), "ENABLED");
	assert_string_equal(str(r, "EventPattern"), "{\"source\":[\"app\"]}");
	assert_string_equal(str(r, "Description"), "first");
	assert_string_equal(str(r, "EventBusName"), "default");
	assert_string_equal(str(page1->answer, "NextToken"), "b-rule");
	r = json_array_get(json_object_get(page2->answer, "Rules"), 0);
	assert_string_equal(str(r, "Name"), "b-rule");
	assert_null(json_object_get(page2->answer, "NextToken"));

	r = json_array_get(json_object_get(orders->answer, "Rules"), 0);
	assert_int_equal(json_array_size(json_object_get(orders->answer, "Rules")), 1);
	assert_string_equal(str(r, "Arn"), "arn:aws:events:eu-west-3:123456789012:rule/orders/c-rule");
	assert_int_equal(json_array_size(json_object_get(prefix->answer, "Rules")), 1);

	assert_int_equal(desc->status, 200);
	assert_string_equal(str(desc->answer, "Name"), "a-rule");
	assert_string_equal(str(desc->answer, "EventPattern"), "{\"source\":[\"app\"]}");
	assert_string_equal(str(desc_sched->answer, "State"), "DISABLED");
	assert_string_equal(str(desc_sched->answer, "ScheduleExpression"), "rate(5 minutes)");
	assert_null(json_object_get(desc_sched->answer, "EventPattern"));
	assert_error(desc_missing, 400, "ResourceNotFoundException", "Rule c-rule does not exist on EventBus default.");

	assert_int_equal(targets->status, 200);
	assert_int_equal(json_array_size(json_object_get(targets->answer, "Targets")), 2);
	t = json_array_get(json_object_get(targets->answer, "Targets"), 0);
	assert_string_equal(str(t, "Id"), "t1");
	assert_string_equal(str(t, "Arn"), "file:/tmp/a.jsonl");
	assert_string_equal(str(t, "InputPath"), "$.detail");
	t = json_array_get(json_object_get(targets->answer, "Targets"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "RetryPolicy"), "MaximumRetryAttempts")),
			 3);
	assert_int_equal(json_array_size(json_object_get(targets_page->answer, "Targets")), 1);
	assert_string_equal(str(targets_page->answer, "NextToken"), "1");

	assert_int_equal(buses->status, 200);
	assert_int_equal(json_array_size(json_object_get(buses->answer, "EventBuses")), 3);
	r = json_array_get(json_object_get(buses->answer, "EventBuses"), 0);
	assert_string_equal(str(r, "Name"), "default");
	assert_string_equal(str(r, "Arn"), "arn:aws:events:eu-west-3:123456789012:event-bus/default");
	assert_string_equal(str(json_array_get(json_object_get(buses->answer, "EventBuses"), 1), "Name"), "extra");
	assert_string_equal(str(json_array_get(json_object_get(buses->answer, "EventBuses"), 2), "Name"), "orders");
	assert_error(unknown_bus, 400, "ResourceNotFoundException", "Event bus nope does not exist.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_events_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_events_request_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_test_event_pattern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_and_buses, setup, teardown),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
