/*
 * test_targets.c — the file, HTTP and event bus targets (targets/file.c,
 * http.c, bus.c) and target_ops_for(), with real parts: real files, the
 * real curl_uv client against the daemon's own HTTP listener on a loopback
 * port (answering what each test asks), and the real bus.
 *
 * The dispatcher is this file's own: dispatch_submit() records what the
 * bus hands on (the event, its depth, the rule), so a re-emitted event can
 * be followed onto its bus.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "bus.h"
#include "config.h"
#include "curl_uv.h"
#include "dispatch.h"
#include "errlist.h"
#include "http.h"
#include "rulegen.h"
#include "statefile.h"
#include "target_fixture.h"

/* ------------------------------------------------------------ the test's dispatcher */

struct submitted {
	char rule[64];
	char id[EVENT_MAX_ID + 1];
	char bus[64];
	uint32_t depth;
	char json[2048];
};

static struct submitted subs[16];
static size_t n_subs;

void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule, uint32_t target)
{
	(void)d;
	(void)target;
	assert_true(n_subs < 16);
	struct submitted *s = &subs[n_subs++];
	snprintf(s->rule, sizeof(s->rule), "%s", gen->rs->rules[rule].name);
	snprintf(s->id, sizeof(s->id), "%s", ev->id);
	snprintf(s->bus, sizeof(s->bus), "%s", ev->bus);
	snprintf(s->json, sizeof(s->json), "%s", ev->json);
	s->depth = ev->depth;
	event_pending_put(ev);
}

/* ------------------------------------------------------------ fixture */

struct seen {
	char method[16], path[256], query[256], auth[256], test[256], ctype[128];
	char body[1024];
};

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	char dir[64];
	struct curl_uv *cu;
	struct http_server *server;
	char base[64];
	unsigned answer;           /* the status the server answers */
	int calls;
	struct seen seen;
	struct bus *bus;
	struct tripline_config cfg;
	struct config_connection conns[3];
	struct target_env env;
};

static void copy_header(const struct http_request *req, const char *name, char *out, size_t cap)
{
	const char *v = http_request_header(req, name);
	snprintf(out, cap, "%s", v ? v : "");
}

static void handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	struct fx *f = ctx;
	f->calls++;
	snprintf(f->seen.method, sizeof(f->seen.method), "%s", req->method);
	snprintf(f->seen.path, sizeof(f->seen.path), "%s", req->path);
	snprintf(f->seen.query, sizeof(f->seen.query), "%s", req->query);
	snprintf(f->seen.body, sizeof(f->seen.body), "%s", req->body);
	copy_header(req, "Authorization", f->seen.auth, sizeof(f->seen.auth));
	copy_header(req, "X-Test", f->seen.test, sizeof(f->seen.test));
	copy_header(req, "Content-Type", f->seen.ctype, sizeof(f->seen.ctype));
	if (!*f->seen.auth)
		copy_header(req, "X-Api-Key", f->seen.auth, sizeof(f->seen.auth));
	ret->status = f->answer ? f->answer : 200;
	ret->content_type = "text/plain";
	ret->body = strdup("answered");
	ret->body_len = strlen(ret->body);
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct http_limits limits = {.max_body = 1 << 20};
	struct bus_config bc = {0};
	static const char *const buses[] = {"other"};

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->guard);
	uv_timer_start(&f->guard, on_guard, 50, 50);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tripline-tgts-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(curl_uv_new(&f->loop, &f->cu), 0);
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", 0, &limits, handler, f, &f->server), 0);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)http_server_port(f->server));
	bc.buses = buses;
	bc.n_buses = 1;
	bc.max_depth = 4;
	assert_int_equal(bus_new(&f->loop, &bc, &f->bus), 0);
	f->cfg.region = tf_mut("local");
	f->cfg.account = tf_mut("000000000000");
	f->conns[0] = (struct config_connection){.name = tf_mut("bearer"), .auth = CONFIG_CONNECTION_BEARER,
						 .secret_ref = tf_mut("env:TGT_HTTP_TOKEN")};
	f->conns[1] = (struct config_connection){.name = tf_mut("basic"), .auth = CONFIG_CONNECTION_BASIC,
						 .username = tf_mut("alice"), .secret_ref = tf_mut("value:open sesame")};
	f->conns[2] = (struct config_connection){.name = tf_mut("apikey"), .auth = CONFIG_CONNECTION_API_KEY,
						 .header = tf_mut("X-Api-Key"), .secret_ref = tf_mut("value:k3y")};
	f->cfg.n_connections = 3;
	f->cfg.connections = f->conns;
	f->env = (struct target_env){.loop = &f->loop, .cfg = &f->cfg, .http = f->cu, .bus = f->bus,
				     .data_dir = f->dir};
	setenv("TGT_HTTP_TOKEN", "t0ken", 1);
	n_subs = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	curl_uv_free(f->cu);
	http_server_stop(f->server);
	bus_free(f->bus);
	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	int r = uv_loop_close(&f->loop);
	statefile_remove_tree(f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

static const char event_json[] =
	"{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"Thing Happened\",\"source\":\"test.src\","
	"\"account\":\"000000000000\",\"time\":\"2026-12-07T08:47:06Z\",\"region\":\"local\",\"resources\":[],"
	"\"detail\":{\"id\":\"a/b 1\",\"name\":\"widget\",\"n\":5,\"tags\":[\"x\"]}}";

/* ------------------------------------------------------------ kinds */

static void test_ops_for_each_kind(void **state)
{
	(void)state;
	assert_ptr_equal(target_ops_for(TARGET_TASK), &target_task_ops);
	assert_ptr_equal(target_ops_for(TARGET_HTTP), &target_http_ops);
	assert_ptr_equal(target_ops_for(TARGET_FILE), &target_file_ops);
	assert_ptr_equal(target_ops_for(TARGET_BUS), &target_bus_ops);
	assert_null(target_ops_for(TARGET_KAFKA));
}

/* ------------------------------------------------------------ file */

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "r");
	static char buf[8192];
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_file_appends_one_json_line_per_delivery(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 0);
	char path[128];

	snprintf(path, sizeof(path), "%s/out.jsonl", f->dir);
	tf_rule_init(&r, "audit", TARGET_FILE, path, "{\"Id\":\"t\",\"Arn\":\"file:x\"}", TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, "{ \"a\" : [ 1, 2 ],\n  \"s\": \"two  words\\n\" }", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	tf_run(&f->env, &r, ev, "line one\nline \"two\"", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	f->cfg.delivery.file_fsync = true;
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	char want[4096];
	snprintf(want, sizeof(want), "{\"a\":[1,2],\"s\":\"two  words\\n\"}\n\"line one\\nline \\\"two\\\"\"\n%s\n",
		 event_json);
	assert_string_equal(read_all(path), want);

	/* a directory that does not exist: retryable */
	snprintf(path, sizeof(path), "%s/no/such/dir/out.jsonl", f->dir);
	tf_rule_init(&r, "audit", TARGET_FILE, path, "{\"Id\":\"t\",\"Arn\":\"file:x\"}", TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_non_null(strstr(res.message, "No such file or directory"));
	event_unref(ev);
}

/* The file stays open between deliveries and is opened again once a second
 * old, so a file moved away (logrotate) is followed. */
static void test_file_follows_a_rotation(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 0);
	struct errlist errs = ERRLIST_INIT;
	void *st = NULL;
	char path[128], moved[160];

	snprintf(path, sizeof(path), "%s/audit.jsonl", f->dir);
	snprintf(moved, sizeof(moved), "%s.1", path);
	tf_rule_init(&r, "audit", TARGET_FILE, path, "{\"Id\":\"t\",\"Arn\":\"file:x\"}", TARGET_INPUT_EVENT);
	assert_int_equal(target_file_ops.prepare(&f->cfg, &r.rule, 0, &st, &errs), 0);
	tf_invoke(&f->env, &r, st, ev, "{\"n\":1}", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_int_equal(rename(path, moved), 0);
	tf_invoke(&f->env, &r, st, ev, "{\"n\":2}", NULL, &res);   /* the open file: the moved one */
	assert_int_equal(res.outcome, TARGET_OK);
	assert_string_equal(read_all(moved), "{\"n\":1}\n{\"n\":2}\n");
	usleep(1100 * 1000);
	uv_update_time(&f->loop);
	tf_invoke(&f->env, &r, st, ev, "{\"n\":3}", NULL, &res);   /* a second later: the path again */
	assert_int_equal(res.outcome, TARGET_OK);
	assert_string_equal(read_all(path), "{\"n\":3}\n");
	target_file_ops.release(st);
	errlist_clear(&errs);
	event_unref(ev);
}

/* ------------------------------------------------------------ http */

static void http_rule(struct fx *f, struct tf_rule *r, char *url, size_t cap, const char *path,
		      const char *params)
{
	static char json[1024];
	snprintf(url, cap, "%s%s", f->base, path);
	snprintf(json, sizeof(json), "{\"Id\":\"t\",\"Arn\":\"%s\"%s%s%s}", url, params ? ",\"HttpParameters\":" : "",
		 params ? params : "", "");
	tf_rule_init(r, "hook", TARGET_HTTP, url, json, TARGET_INPUT_EVENT);
}

static void test_http_parameters_body_and_connection(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 0);
	char url[256];

	http_rule(f, &r, url, sizeof(url), "/things/*/parts/*",
		  "{\"PathParameterValues\":[\"$.detail.id\",\"fixed\"],"
		  "\"HeaderParameters\":{\"X-Test\":\"$.detail.name\"},"
		  "\"QueryStringParameters\":{\"n\":\"$.detail.n\",\"q\":\"a b&c\",\"tags\":\"$.detail.tags\"},"
		  "\"Connection\":\"bearer\"}");
	tf_run(&f->env, &r, ev, "{\"hello\":1}", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_string_equal(f->seen.method, "POST");
	assert_string_equal(f->seen.path, "/things/a%2Fb%201/parts/fixed");
	assert_string_equal(f->seen.query, "n=5&q=a%20b%26c&tags=%5B%22x%22%5D");
	assert_string_equal(f->seen.test, "widget");
	assert_string_equal(f->seen.auth, "Bearer t0ken");
	assert_string_equal(f->seen.ctype, "application/json");
	assert_string_equal(f->seen.body, "{\"hello\":1}");

	/* basic auth, a method, plain text */
	http_rule(f, &r, url, sizeof(url), "/plain", "{\"Method\":\"put\",\"Connection\":\"basic\"}");
	tf_run(&f->env, &r, ev, "state is up", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_string_equal(f->seen.method, "PUT");
	assert_string_equal(f->seen.auth, "Basic YWxpY2U6b3BlbiBzZXNhbWU=");   /* alice:open sesame */
	assert_string_equal(f->seen.ctype, "text/plain; charset=utf-8");
	assert_string_equal(f->seen.body, "state is up");

	/* GET sends no body; the connection's header wins over the rule's */
	http_rule(f, &r, url, sizeof(url), "/get",
		  "{\"Method\":\"GET\",\"Connection\":\"apikey\",\"HeaderParameters\":{\"X-Api-Key\":\"mine\","
		  "\"Content-Type\":\"application/x-mine\"}}");
	tf_run(&f->env, &r, ev, "{\"ignored\":true}", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_string_equal(f->seen.method, "GET");
	assert_string_equal(f->seen.body, "");
	assert_string_equal(f->seen.auth, "k3y");
	assert_string_equal(f->seen.ctype, "application/x-mine");
	event_unref(ev);
}

static void expect_status(struct fx *f, unsigned status, enum target_outcome want, const char *code)
{
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 0);
	char url[256];

	f->answer = status;
	http_rule(f, &r, url, sizeof(url), "/status", NULL);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	if (res.outcome != want || strcmp(res.code, code) != 0)
		fail_msg("status %u: outcome %d code %s (%s)", status, res.outcome, res.code, res.message);
	if (status >= 300)
		assert_non_null(strstr(res.message, "answered"));
	event_unref(ev);
}

static void test_http_statuses_and_network_errors(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 0);

	expect_status(f, 204, TARGET_OK, "");
	expect_status(f, 500, TARGET_RETRY, "ERROR_FROM_TARGET");
	expect_status(f, 503, TARGET_RETRY, "ERROR_FROM_TARGET");
	expect_status(f, 429, TARGET_RETRY, "THROTTLING");
	expect_status(f, 404, TARGET_FAIL, "ERROR_FROM_TARGET");
	expect_status(f, 400, TARGET_FAIL, "ERROR_FROM_TARGET");
	expect_status(f, 401, TARGET_FAIL, "NO_PERMISSIONS");
	expect_status(f, 302, TARGET_FAIL, "ERROR_FROM_TARGET");   /* redirects are not followed */
	expect_status(f, 403, TARGET_FAIL, "NO_PERMISSIONS");

	tf_rule_init(&r, "hook", TARGET_HTTP, "http://127.0.0.1:1/x", "{\"Id\":\"t\",\"Arn\":\"http://127.0.0.1:1/x\"}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "CONNECTION_FAILURE");

	/* a secret that cannot be resolved: named, never shown */
	unsetenv("TGT_HTTP_TOKEN");
	char url[256];
	int calls = f->calls;
	http_rule(f, &r, url, sizeof(url), "/x", "{\"Connection\":\"bearer\"}");
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "NO_PERMISSIONS");
	assert_non_null(strstr(res.message, "TGT_HTTP_TOKEN"));
	assert_int_equal(f->calls, calls);
	event_unref(ev);
}

static void test_http_unknown_connection_is_a_load_error(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct errlist errs = ERRLIST_INIT;
	char url[256];
	void *st = NULL;

	http_rule(f, &r, url, sizeof(url), "/x", "{\"Connection\":\"nosuch\"}");
	assert_int_equal(target_http_ops.prepare(&f->cfg, &r.rule, 0, &st, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0],
			    "rules.json: /Targets/0/HttpParameters/Connection: no connection named 'nosuch' in the config's connections");
	errlist_clear(&errs);
}

/* ------------------------------------------------------------ bus */

static bool got_one(void *arg)
{
	(void)arg;
	return n_subs >= 1;
}

static void set_rules(struct fx *f, char *path)
{
	char text[1024];
	struct ruleset *rs = NULL;
	struct rulegen *g = NULL;
	struct errlist errs = ERRLIST_INIT;

	snprintf(text, sizeof(text),
		 "{\"Rules\":[{\"Name\":\"on-other\",\"EventBusName\":\"other\",\"EventPattern\":{\"source\":[\"test.src\"]},"
		 "\"Targets\":[{\"Id\":\"f\",\"Arn\":\"file:%s\"}]}]}", path);
	if (ruleset_from_text("rules.json", text, strlen(text), NULL, &rs, &errs) < 0 ||
	    rulegen_from_ruleset(&f->cfg, rs, &g, &errs) < 0)
		fail_msg("rules: %s", errs.n ? errs.msgs[0] : "?");
	bus_set_rules(f->bus, g);
	rulegen_unref(g);
	errlist_clear(&errs);
}

static void test_bus_reemits_the_event_one_level_deeper(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = tf_event(event_json, 1);
	char path[128];

	snprintf(path, sizeof(path), "%s/never", f->dir);
	set_rules(f, path);
	tf_rule_init(&r, "fwd", TARGET_BUS, "other",
		     "{\"Id\":\"t\",\"Arn\":\"arn:aws:events:local:000000000000:event-bus/other\"}", TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_true(tf_wait(&f->loop, got_one, NULL));
	assert_string_equal(subs[0].rule, "on-other");
	assert_string_equal(subs[0].id, "e-1");   /* the event itself */
	assert_string_equal(subs[0].bus, "other");
	assert_int_equal(subs[0].depth, 2);
	assert_string_equal(subs[0].json, event_json);

	/* an object that is not an envelope becomes the detail of one */
	n_subs = 0;
	tf_run(&f->env, &r, ev, "{\"status\":\"up\"}", NULL, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	assert_true(tf_wait(&f->loop, got_one, NULL));
	json_t *j = json_loads(subs[0].json, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "test.src");
	assert_string_equal(json_string_value(json_object_get(j, "detail-type")), "Thing Happened");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "detail"), "status")), "up");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "resources"), 0)),
			    "arn:aws:events:local:000000000000:rule/x");
	assert_string_not_equal(subs[0].id, "e-1");
	json_decref(j);

	/* not an object: not an event */
	tf_run(&f->env, &r, ev, "\"text\"", NULL, &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "INVALID_JSON");
	event_unref(ev);

	/* past the depth limit (4 here): refused, never queued */
	n_subs = 0;
	ev = tf_event(event_json, 4);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "LOOP_DETECTED");
	event_unref(ev);

	/* no such bus */
	ev = tf_event(event_json, 0);
	tf_rule_init(&r, "fwd", TARGET_BUS, "nowhere",
		     "{\"Id\":\"t\",\"Arn\":\"arn:aws:events:local:000000000000:event-bus/nowhere\"}", TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, NULL, &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "NO_RESOURCE");
	event_unref(ev);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(n_subs, 0);
}

/* Through the real rule loader and transformer: what a target cannot do
 * refuses the whole generation, each problem at its pointer. */
static void test_a_generation_with_an_impossible_target_is_refused(void **state)
{
	struct fx *f = *state;
	static const char text[] =
		"{\"Name\":\"bad\",\"EventPattern\":{\"source\":[\"x\"]},\"Targets\":["
		"{\"Id\":\"a\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"hello\"},"
		"\"InputTransformer\":{\"InputPathsMap\":{\"s\":\"$.detail.s\"},\"InputTemplate\":\"<s> is up\"}},"
		"{\"Id\":\"b\",\"Arn\":\"cluster/elsewhere\",\"EcsParameters\":{\"TaskDefinitionArn\":\"hello\"}},"
		"{\"Id\":\"c\",\"Arn\":\"http://localhost:1/x\",\"HttpParameters\":{\"Connection\":\"nosuch\"}},"
		"{\"Id\":\"d\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"hello\"},"
		"\"InputTransformer\":{\"InputPathsMap\":{\"s\":\"$.detail.s\"},"
		"\"InputTemplate\":\"{\\\"containerOverrides\\\":[{\\\"name\\\":\\\"main\\\",\\\"command\\\":[<s>]}]}\"}}]}";
	struct ruleset *rs = NULL;
	struct rulegen *g = NULL;
	struct errlist errs = ERRLIST_INIT;

	f->cfg.cluster.name = tf_mut("default");
	if (ruleset_from_text("bad.json", text, strlen(text), NULL, &rs, &errs) < 0)
		fail_msg("load: %s", errs.n ? errs.msgs[0] : "?");
	assert_int_equal(rulegen_from_ruleset(&f->cfg, rs, &g, &errs), -EINVAL);
	assert_null(g);
	assert_int_equal(errs.n, 3);
	assert_non_null(strstr(errs.msgs[0], "bad.json: /Targets/0/InputTransformer/InputTemplate: "));
	assert_non_null(strstr(errs.msgs[1], "bad.json: /Targets/1/Arn: no cluster named elsewhere"));
	assert_non_null(strstr(errs.msgs[2], "bad.json: /Targets/2/HttpParameters/Connection: no connection named 'nosuch'"));
	errlist_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_for_each_kind),
		cmocka_unit_test_setup_teardown(test_file_appends_one_json_line_per_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_follows_a_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_parameters_body_and_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_statuses_and_network_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_unknown_connection_is_a_load_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_reemits_the_event_one_level_deeper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_generation_with_an_impossible_target_is_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
