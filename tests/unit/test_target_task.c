/*
 * test_target_task.c — the task target (targets/task.c, targets/ecs.c) on
 * a real orchestration core with the process driver (real /bin/sleep
 * tasks), and on a remote cluster: a second core on the same loop behind
 * the daemon's own HTTP listener and ECS API (api.c) with SigV4 auth on,
 * reached through the real curl_uv client.
 *
 * The clocks of the first core are injected (as test_orch.c does), so the
 * lifetime of a rule-made clientToken can be checked past the core's hour
 * and across a restart; every other wait is a condition polled on the
 * loop.
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
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "api.h"
#include "api_ecs.h"
#include "bus.h"
#include "config.h"
#include "curl_uv.h"
#include "errlist.h"
#include "http.h"
#include "metrics.h"
#include "orch.h"
#include "statefile.h"
#include "target_fixture.h"
#include "taskdef.h"
#include "transform.h"

#define HOUR_MS (3600u * 1000u)

/* The bus is only a cause-depth register here; nothing is matched. */
#include "dispatch.h"
void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule, uint32_t target)
{
	(void)d, (void)ev, (void)gen, (void)rule, (void)target;
	fail();
}
#define AKID "AKIDTARGETTEST"
#define SECRET "target-test-secret"

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	char dir[64], dir2[64];
	struct taskdef_registry *reg, *reg2;
	struct orch *o, *o2;
	uint32_t max_tokens;
	uint64_t wall_ms, mono_ms;
	struct bus *bus;
	struct curl_uv *cu;
	struct api *api;
	struct http_server *server;
	struct tripline_config cfg, cfg2;
	struct config_remote_cluster remote;
	struct config_auth_key key;
	char endpoint[64];
	struct target_env env;
	struct metrics *metrics;   /* the core keeps a metric of it: freed after the core */
};

static uint64_t fake_wall(void *ud)
{
	return ((struct fx *)ud)->wall_ms;
}

static uint64_t fake_mono(void *ud)
{
	return ((struct fx *)ud)->mono_ms;
}

static void on_guard(uv_timer_t *t)
{
	(void)t;
}

static void register_def(struct taskdef_registry *reg, const char *json)
{
	struct errlist errs = ERRLIST_INIT;
	int r = taskdef_register(reg, json, strlen(json), "test", NULL, &errs);
	if (r < 0)
		fail_msg("register: %s", errs.n ? errs.msgs[0] : strerror(-r));
	errlist_clear(&errs);
}

static void register_defs(struct taskdef_registry *reg)
{
	register_def(reg, "{\"family\":\"sleeper\",\"containerDefinitions\":[{\"name\":\"main\",\"cpu\":256,"
			  "\"command\":[\"/bin/sleep\",\"600\"]}]}");
	register_def(reg, "{\"family\":\"huge\",\"containerDefinitions\":[{\"name\":\"main\",\"cpu\":65536,"
			  "\"command\":[\"/bin/sleep\",\"600\"]}]}");
}

static void start_orch(struct fx *f)
{
	struct orch_config cfg = {
		.cluster_name = "default", .region = "local", .account = "000000000000",
		.cpu_units = 4096, .memory_mib = 8192, .data_dir = f->dir, .max_tasks = 100, .cgroup_root = "",
		.max_client_tokens = f->max_tokens, .clock = {fake_wall, fake_mono, f},
	};
	char err[256] = "";
	if (orch_new(&f->loop, &cfg, f->reg, &f->o, err, sizeof(err)) < 0)
		fail_msg("orch_new: %s", err);
	f->env.orch = f->o;
}

static void handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	api_handle(((struct fx *)ctx)->api, req, ret);
}

/* The remote cluster "faraway": a second core behind the ECS API with auth. */
static void start_remote(struct fx *f)
{
	struct errlist errs = ERRLIST_INIT;
	struct http_limits limits = {.max_body = 1 << 20};
	struct orch_config cfg = {
		.cluster_name = "faraway", .region = "local", .account = "000000000000",
		.cpu_units = 4096, .memory_mib = 8192, .data_dir = f->dir2, .max_tasks = 100, .cgroup_root = "",
	};
	char err[256] = "";

	snprintf(f->dir2, sizeof(f->dir2), "/tmp/tripline-tgt2-XXXXXX");
	assert_non_null(mkdtemp(f->dir2));
	assert_int_equal(taskdef_registry_open(NULL, NULL, NULL, &f->reg2, &errs), 0);
	register_defs(f->reg2);
	if (orch_new(&f->loop, &cfg, f->reg2, &f->o2, err, sizeof(err)) < 0)
		fail_msg("orch_new: %s", err);
	f->key.access_key_id = tf_mut(AKID);
	f->key.secret_ref = tf_mut("value:" SECRET);
	f->cfg2.region = tf_mut("local");
	f->cfg2.account = tf_mut("000000000000");
	f->cfg2.listen_host = tf_mut("127.0.0.1");
	f->cfg2.n_auth_keys = 1;
	f->cfg2.auth_keys = &f->key;
	assert_int_equal(api_new(&f->cfg2, f->reg2, f->o2, &f->api, err, sizeof(err)), 0);
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", 0, &limits, handler, f, &f->server), 0);
	snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%u/", (unsigned)http_server_port(f->server));
	f->remote.endpoint = f->endpoint;
	setenv("TGTTEST_ACCESS_KEY_ID", AKID, 1);
	setenv("TGTTEST_SECRET_ACCESS_KEY", SECRET, 1);
	errlist_clear(&errs);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist errs = ERRLIST_INIT;
	struct bus_config bc = {0};

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->guard);
	uv_timer_start(&f->guard, on_guard, 50, 50);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tripline-tgt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(taskdef_registry_open(NULL, NULL, NULL, &f->reg, &errs), 0);
	register_defs(f->reg);
	f->wall_ms = 1765000000000u;
	f->mono_ms = 5u * HOUR_MS;
	assert_int_equal(bus_new(&f->loop, &bc, &f->bus), 0);
	assert_int_equal(curl_uv_new(&f->loop, &f->cu), 0);
	f->remote.name = tf_mut("faraway");
	f->remote.region = tf_mut("local");
	f->remote.credentials = tf_mut("env:TGTTEST");
	f->remote.endpoint = tf_mut("http://127.0.0.1:1/");
	f->cfg.region = tf_mut("local");
	f->cfg.account = tf_mut("000000000000");
	f->cfg.cluster.name = tf_mut("default");
	f->cfg.n_clusters = 1;
	f->cfg.clusters = &f->remote;
	f->env = (struct target_env){.loop = &f->loop, .cfg = &f->cfg, .http = f->cu, .bus = f->bus,
				     .data_dir = f->dir};
	errlist_clear(&errs);
	*state = f;
	return 0;
}

/* Stops every task of o and waits until none is left running. */
static bool none_active(void *arg)
{
	struct orch_metrics m;
	orch_metrics(arg, &m);
	return m.tasks_by_state[0] + m.tasks_by_state[1] + m.tasks_by_state[2] + m.tasks_by_state[3] == 0;
}

static void stop_all(struct fx *f, struct orch *o)
{
	struct list_tasks_request lr = {0};
	struct orch_arn_page page = {0};
	struct orch_error e = {0};
	struct task *t;

	if (!o)
		return;
	assert_int_equal(orch_list_tasks(o, &lr, &page, &e), 0);
	for (size_t i = 0; i < page.n; i++) {
		struct stop_task_request sr = {.task = page.arns[i]};
		orch_stop_task(o, &sr, &t, &e);
	}
	orch_arn_page_clear(&page);
	assert_true(tf_wait(&f->loop, none_active, o));
}

static int teardown(void **state)
{
	struct fx *f = *state;
	stop_all(f, f->o);
	stop_all(f, f->o2);
	curl_uv_free(f->cu);
	if (f->server)
		http_server_stop(f->server);
	api_free(f->api);
	orch_free(f->o);
	orch_free(f->o2);
	bus_free(f->bus);
	metrics_free(f->metrics);
	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	int r = uv_loop_close(&f->loop);
	taskdef_registry_free(f->reg);
	taskdef_registry_free(f->reg2);
	statefile_remove_tree(f->dir);
	if (f->reg2)
		statefile_remove_tree(f->dir2);
	free(f);
	return r == 0 ? 0 : -1;
}

static bool no_launch_in_flight(void *arg)
{
	return orch_launches_in_flight(arg) == 0;
}

/* A clean restart: the launches under way are recorded first (as the
 * daemon's shutdown waits for them), then the core goes and comes back. */
static void restart_orch(struct fx *f)
{
	assert_true(tf_wait(&f->loop, no_launch_in_flight, f->o));
	orch_free(f->o);
	f->o = NULL;
	uv_run(&f->loop, UV_RUN_NOWAIT);
	start_orch(f);
}

/* Runs the loop for ms of real time (the core's 1 s tick acts). */
static void run_for(struct fx *f, uint64_t ms)
{
	uint64_t end = uv_hrtime() / 1000000u + ms;
	while (uv_hrtime() / 1000000u < end)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static const char event_json[] =
	"{\"version\":\"0\",\"id\":\"e-1\",\"detail-type\":\"Thing\",\"source\":\"test\",\"account\":\"000000000000\","
	"\"time\":\"2026-12-07T08:47:06Z\",\"region\":\"local\",\"resources\":[],"
	"\"detail\":{\"count\":7,\"change\":\"+1\",\"taskArn\":\"%s\"}}";

static struct event *event_with(const char *task_arn, uint32_t depth)
{
	char text[1024];
	snprintf(text, sizeof(text), event_json, task_arn ? task_arn : "");
	return tf_event(text, depth);
}

/* The RUNNING tasks of o started by sb (NULL: any), their ARNs in arns. */
static size_t running(struct orch *o, const char *sb, char arns[][128], size_t max)
{
	struct list_tasks_request lr = {.started_by = sb};
	struct orch_arn_page page = {0};
	struct orch_error e = {0};
	assert_int_equal(orch_list_tasks(o, &lr, &page, &e), 0);
	size_t n = page.n;
	for (size_t i = 0; i < n && i < max; i++)
		snprintf(arns[i], 128, "%s", page.arns[i]);
	orch_arn_page_clear(&page);
	return n;
}

/* The DescribeTasks answer of one task (a new reference). */
static json_t *describe_task(struct orch *o, const char *arn)
{
	struct describe_tasks_request dr = {.tasks = &arn, .n_tasks = 1};
	struct describe_tasks_result res;
	struct orch_error e = {0};
	assert_int_equal(orch_describe_tasks(o, &dr, &res, &e), 0);
	return ecs_describe_tasks_answer(&res);
}

static int64_t desired_of(struct orch *o, const char *service)
{
	struct describe_services_request dr = {.services = &service, .n_services = 1};
	struct describe_services_result res;
	struct orch_error e = {0};
	assert_int_equal(orch_describe_services(o, &dr, &res, &e), 0);
	json_t *j = ecs_describe_services_answer(&res);
	int64_t v = json_integer_value(json_object_get(json_array_get(json_object_get(j, "services"), 0),
						       "desiredCount"));
	json_decref(j);
	return v;
}

static void create_service(struct orch *o, const char *name, int64_t desired)
{
	struct create_service_request cr = {.service_name = name, .task_definition = "sleeper",
					    .has_desired_count = true, .desired_count = desired};
	struct service *s;
	struct orch_error e = {0};
	if (orch_create_service(o, &cr, &s, &e) < 0)
		fail_msg("CreateService: %s", e.message);
}

/* One successful attempt, then sb's RUNNING tasks on o must be want. */
static void run_counting(struct fx *f, struct tf_rule *r, struct event *ev, const char *input, const char *token,
			 struct orch *o, const char *sb, size_t want)
{
	struct tf_result res;
	char arns[8][128];
	tf_run(&f->env, r, ev, input, token, &res);
	if (res.outcome != TARGET_OK)
		fail_msg("%s: %s", res.code, res.message);
	assert_int_equal(running(o, sb, arns, 8), want);
}

#define TOKEN(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		 c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

/* ------------------------------------------------------------ RunTask */

static void test_run_task_overrides_started_by_and_token(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 2);
	char arns[4][128];

	start_orch(f);
	tf_rule_init(&r, "my.rule", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_CONSTANT);
	const char *input = "{\"containerOverrides\":[{\"name\":\"main\",\"environment\":[{\"name\":\"FROM_RULE\",\"value\":\"42\"}]}]}";
	tf_run(&f->env, &r, ev, input, TOKEN("a"), &res);
	assert_int_equal(res.outcome, TARGET_OK);
	/* startedBy names the rule in ECS's characters: "." became "_" */
	assert_int_equal(running(f->o, "events-rule/my_rule", arns, 4), 1);
	json_t *d = describe_task(f->o, arns[0]);
	json_t *t = json_array_get(json_object_get(d, "tasks"), 0);
	char *ov = json_dumps(json_object_get(t, "overrides"), JSON_COMPACT);
	assert_non_null(strstr(ov, "FROM_RULE"));
	free(ov);
	json_decref(d);
	/* what the task causes is one level deeper than the event */
	assert_int_equal(bus_cause_depth(f->bus, arns[0]), 3);

	/* a redelivery (the same token) launches nothing */
	run_counting(f, &r, ev, input, TOKEN("a"), f->o, "events-rule/my_rule", 1);
	assert_int_equal(running(f->o, "events-rule/my_rule", arns, 4), 1);
	/* another event does */
	run_counting(f, &r, ev, input, TOKEN("b"), f->o, "events-rule/my_rule", 2);
	event_unref(ev);
}

static void test_run_task_without_input_runs_without_overrides(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct event *ev = event_with(NULL, 0);
	char arns[4][128];

	start_orch(f);
	tf_rule_init(&r, "plain", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"arn:aws:ecs:local:000000000000:cluster/default\","
		     "\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\",\"TaskCount\":2,\"Group\":\"g\"}}",
		     TARGET_INPUT_EVENT);
	r.target.task_count = 2;
	run_counting(f, &r, ev, NULL, TOKEN("c"), f->o, "events-rule/plain", 2);
	assert_int_equal(running(f->o, "events-rule/plain", arns, 4), 2);
	json_t *d = describe_task(f->o, arns[0]);
	json_t *t = json_array_get(json_object_get(d, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "group")), "g");
	assert_int_equal(json_array_size(json_object_get(json_object_get(t, "overrides"), "containerOverrides")), 0);
	json_decref(d);
	event_unref(ev);
}

static void test_run_task_errors_map_to_eventbridge_codes(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);

	start_orch(f);
	tf_rule_init(&r, "bad", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"nosuch\"}}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, TOKEN("d"), &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "INVALID_PARAMETER");

	tf_rule_init(&r, "big", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"huge\"}}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, TOKEN("e"), &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "RESOURCE_LIMIT_EXCEEDED");
	assert_non_null(strstr(res.message, "RESOURCE:"));

	/* overrides must be an object */
	tf_rule_init(&r, "arr", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_PATH);
	tf_run(&f->env, &r, ev, "[1,2]", TOKEN("f"), &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "INVALID_PARAMETER");
	event_unref(ev);
}

/* A rule keeps its tokens for its MaximumEventAgeInSeconds: past the core's
 * hour and across a restart; a token kept only for the hour is gone then. */
static void test_rule_token_outlives_the_hour_and_a_restart(void **state)
{
	struct fx *f = *state;
	struct tf_rule r, short_r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);

	start_orch(f);
	tf_rule_init(&r, "long", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	r.target.retry.max_age_s = 6 * 3600;
	tf_rule_init(&short_r, "short", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	short_r.target.retry.max_age_s = 60;
	tf_run(&f->env, &r, ev, NULL, TOKEN("1"), &res);
	assert_int_equal(res.outcome, TARGET_OK);
	tf_run(&f->env, &short_r, ev, NULL, TOKEN("2"), &res);
	assert_int_equal(res.outcome, TARGET_OK);

	f->mono_ms += 2 * HOUR_MS;
	f->wall_ms += 2 * HOUR_MS;
	run_for(f, 1200);   /* the core's tick forgets what expired */
	run_counting(f, &r, ev, NULL, TOKEN("1"), f->o, "events-rule/long", 1);
	run_counting(f, &short_r, ev, NULL, TOKEN("2"), f->o, "events-rule/short", 2);

	/* across a restart, by the wall clock: 3 h old, still kept */
	restart_orch(f);
	f->wall_ms += HOUR_MS;
	restart_orch(f);
	run_counting(f, &r, ev, NULL, TOKEN("1"), f->o, "events-rule/long", 1);
	event_unref(ev);
}

/* A crash after a task's state file and before its token's file: the
 * token, kept in the task's state, is remembered again at the restart, so
 * the replayed RunTask launches nothing. */
static void test_token_lost_in_a_crash_is_taken_from_its_task(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	char path[128];

	start_orch(f);
	tf_rule_init(&r, "crash", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, TOKEN("9"), &res);
	assert_int_equal(res.outcome, TARGET_OK);
	snprintf(path, sizeof(path), "%s/tokens", f->dir);
	assert_int_equal(statefile_remove_tree(path), 0);   /* the token's file never made it */
	assert_int_equal(mkdir(path, 0700), 0);
	restart_orch(f);
	run_counting(f, &r, ev, NULL, TOKEN("9"), f->o, "events-rule/crash", 1);
	event_unref(ev);
}

static void test_full_token_store_refuses_new_tokens(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	struct orch_metrics m;
	char arns[8][128];

	f->max_tokens = 2;
	start_orch(f);
	tf_rule_init(&r, "full", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, TOKEN("1"), &res);
	assert_int_equal(res.outcome, TARGET_OK);
	tf_run(&f->env, &r, ev, NULL, TOKEN("2"), &res);
	assert_int_equal(res.outcome, TARGET_OK);
	tf_run(&f->env, &r, ev, NULL, TOKEN("3"), &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "RESOURCE_LIMIT_EXCEEDED");
	assert_int_equal(running(f->o, "events-rule/full", arns, 8), 2);
	orch_metrics(f->o, &m);
	assert_int_equal(m.client_tokens_refused, 1);
	assert_int_equal(m.client_tokens, 2);
	/* and /metrics shows it */
	struct metrics *reg = f->metrics = metrics_new();
	char *text = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&text, &len);
	orch_metrics_update(f->o, reg);
	assert_int_equal(metrics_render(reg, mf), 0);
	fclose(mf);
	assert_non_null(strstr(text, "\ntripline_client_tokens 2\n"));
	assert_non_null(strstr(text, "\ntripline_client_tokens_refused_total 1\n"));
	free(text);
	/* the remembered ones are not forgotten for it */
	run_counting(f, &r, ev, NULL, TOKEN("1"), f->o, "events-rule/full", 2);
	event_unref(ev);
}

/* ------------------------------------------------------------ StopTask */

static void run_some(struct fx *f, const char *rule, const char *group, const char *token)
{
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	char json[300];

	snprintf(json, sizeof(json),
		 "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"%s%s%s}}",
		 group ? ",\"Group\":\"" : "", group ? group : "", group ? "\"" : "");
	tf_rule_init(&r, rule, TARGET_TASK, "default", json, TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, token, &res);
	assert_int_equal(res.outcome, TARGET_OK);
	event_unref(ev);
}

static void test_stop_task_by_started_by_group_and_path(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	char arns[8][128];

	start_orch(f);
	run_some(f, "starter", NULL, TOKEN("1"));
	run_some(f, "starter", NULL, TOKEN("2"));
	run_some(f, "grouped", "g1", TOKEN("3"));
	run_some(f, "grouped", "g2", TOKEN("4"));
	run_some(f, "single", NULL, TOKEN("5"));
	assert_int_equal(running(f->o, NULL, arns, 8), 5);

	struct event *ev = event_with(NULL, 0);
	tf_rule_init(&r, "stopper", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"StopTask\","
		     "\"StartedBy\":\"events-rule/starter\",\"Reason\":\"cleaning up\"}}",
		     TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_STOP_TASK;
	run_counting(f, &r, ev, NULL, TOKEN("6"), f->o, "events-rule/starter", 0);
	assert_int_equal(running(f->o, NULL, arns, 8), 3);

	tf_rule_init(&r, "stopper", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"StopTask\","
		     "\"Group\":\"g1\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_STOP_TASK;
	run_counting(f, &r, ev, NULL, TOKEN("7"), f->o, "events-rule/grouped", 1);
	assert_int_equal(running(f->o, "events-rule/grouped", arns, 8), 1);
	json_t *d = describe_task(f->o, arns[0]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "tasks"), 0), "group")),
			    "g2");
	json_decref(d);
	event_unref(ev);

	/* TaskId from the event */
	assert_int_equal(running(f->o, "events-rule/single", arns, 8), 1);
	ev = event_with(arns[0], 0);
	tf_rule_init(&r, "stopper", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"StopTask\","
		     "\"TaskId\":\"$.detail.taskArn\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_STOP_TASK;
	run_counting(f, &r, ev, NULL, TOKEN("8"), f->o, "events-rule/single", 0);
	event_unref(ev);

	/* nothing at the path */
	ev = event_with(NULL, 0);
	tf_rule_init(&r, "stopper", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"StopTask\","
		     "\"TaskId\":\"$.detail.nothing\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_STOP_TASK;
	tf_run(&f->env, &r, ev, NULL, TOKEN("9"), &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "INVALID_PARAMETER");
	event_unref(ev);
}

/* ------------------------------------------------------------ UpdateService */

static void update(struct fx *f, const char *params, const char *token, enum target_outcome want)
{
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	char json[400];

	snprintf(json, sizeof(json),
		 "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"UpdateService\","
		 "\"Service\":\"web\",%s}}", params);
	tf_rule_init(&r, "scaler", TARGET_TASK, "default", json, TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_UPDATE_SERVICE;
	tf_run(&f->env, &r, ev, NULL, token, &res);
	if (res.outcome != want)
		fail_msg("UpdateService %s: %s %s", params, res.code, res.message);
	event_unref(ev);
}

static void test_update_service_absolute_relative_path_clamped(void **state)
{
	struct fx *f = *state;

	start_orch(f);
	create_service(f->o, "web", 1);
	update(f, "\"DesiredCount\":3", TOKEN("1"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 3);
	update(f, "\"DesiredCount\":\"+2\"", TOKEN("2"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 5);
	/* the same event again: applied once */
	update(f, "\"DesiredCount\":\"+2\"", TOKEN("2"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 5);
	/* and after a restart too */
	restart_orch(f);
	update(f, "\"DesiredCount\":\"+2\"", TOKEN("2"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 5);
	/* a crash after the service's state file and before the token's own
	 * file: the service's state holds the token, so still once */
	char path[128];
	snprintf(path, sizeof(path), "%s/tokens", f->dir);
	assert_int_equal(statefile_remove_tree(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	restart_orch(f);
	update(f, "\"DesiredCount\":\"+2\"", TOKEN("2"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 5);
	update(f, "\"DesiredCount\":\"-10\",\"MinCapacity\":1", TOKEN("3"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 1);
	update(f, "\"DesiredCount\":\"$.detail.count\",\"MaxCapacity\":4", TOKEN("4"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 4);
	update(f, "\"DesiredCount\":\"$.detail.change\"", TOKEN("5"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 5);
	update(f, "\"DesiredCount\":\"$.detail.nothing\"", TOKEN("6"), TARGET_FAIL);
	update(f, "\"DesiredCount\":0,\"ForceNewDeployment\":true", TOKEN("7"), TARGET_OK);
	assert_int_equal(desired_of(f->o, "web"), 0);

	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	tf_rule_init(&r, "scaler", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"Action\":\"UpdateService\","
		     "\"Service\":\"nosuch\",\"DesiredCount\":\"+1\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_UPDATE_SERVICE;
	tf_run(&f->env, &r, ev, NULL, TOKEN("8"), &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "NO_RESOURCE");
	event_unref(ev);
}

/* ------------------------------------------------------------ a remote cluster */

static void test_remote_cluster_with_sigv4(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct tf_result res;
	struct event *ev = event_with(NULL, 0);
	char arns[4][128];

	start_orch(f);
	start_remote(f);
	tf_rule_init(&r, "far.rule", TARGET_TASK, "faraway",
		     "{\"Id\":\"t\",\"Arn\":\"arn:aws:ecs:local:000000000000:cluster/faraway\","
		     "\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_CONSTANT);
	const char *input = "{\"containerOverrides\":[{\"name\":\"main\",\"command\":[\"/bin/sleep\",\"500\"]}]}";
	tf_run(&f->env, &r, ev, input, TOKEN("1"), &res);
	if (res.outcome != TARGET_OK)
		fail_msg("RunTask: %s %s", res.code, res.message);
	assert_int_equal(running(f->o2, "events-rule/far_rule", arns, 4), 1);
	assert_int_equal(running(f->o, NULL, arns, 4), 0);
	/* the remote's own clientToken memory */
	run_counting(f, &r, ev, input, TOKEN("1"), f->o2, "events-rule/far_rule", 1);

	create_service(f->o2, "web", 1);
	tf_rule_init(&r, "far.scale", TARGET_TASK, "faraway",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/faraway\",\"EcsParameters\":{\"Action\":\"UpdateService\","
		     "\"Service\":\"web\",\"DesiredCount\":\"+2\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_UPDATE_SERVICE;
	tf_run(&f->env, &r, ev, NULL, TOKEN("2"), &res);
	if (res.outcome != TARGET_OK)
		fail_msg("UpdateService: %s %s", res.code, res.message);
	assert_int_equal(desired_of(f->o2, "web"), 3);

	tf_rule_init(&r, "far.stop", TARGET_TASK, "faraway",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/faraway\",\"EcsParameters\":{\"Action\":\"StopTask\","
		     "\"StartedBy\":\"events-rule/far_rule\"}}", TARGET_INPUT_EVENT);
	r.target.action = TARGET_ACTION_STOP_TASK;
	tf_run(&f->env, &r, ev, NULL, TOKEN("3"), &res);
	if (res.outcome != TARGET_OK)
		fail_msg("StopTask: %s %s", res.code, res.message);
	assert_int_equal(running(f->o2, "events-rule/far_rule", arns, 4), 0);

	struct update_service_request ur = {.service = "web", .has_desired_count = true, .desired_count = 0};
	struct service *svc;
	struct orch_error e = {0};
	assert_int_equal(orch_update_service(f->o2, &ur, &svc, &e), 0);

	/* a wrong secret: the remote refuses the signature */
	setenv("TGTTEST_SECRET_ACCESS_KEY", "not-the-secret", 1);
	tf_rule_init(&r, "far.rule", TARGET_TASK, "faraway",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/faraway\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	tf_run(&f->env, &r, ev, NULL, TOKEN("4"), &res);
	assert_int_equal(res.outcome, TARGET_FAIL);
	assert_string_equal(res.code, "NO_PERMISSIONS");
	assert_null(strstr(res.message, "not-the-secret"));
	/* no credentials at all: retryable, the environment can be fixed */
	unsetenv("TGTTEST_SECRET_ACCESS_KEY");
	tf_run(&f->env, &r, ev, NULL, TOKEN("5"), &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "NO_PERMISSIONS");
	/* nobody listening: a connection failure, retryable */
	setenv("TGTTEST_SECRET_ACCESS_KEY", SECRET, 1);
	f->remote.endpoint = tf_mut("http://127.0.0.1:1/");
	tf_run(&f->env, &r, ev, NULL, TOKEN("6"), &res);
	assert_int_equal(res.outcome, TARGET_RETRY);
	assert_string_equal(res.code, "CONNECTION_FAILURE");
	event_unref(ev);
}

/* ------------------------------------------------------------ load-time errors */

static void expect_prepare_error(struct fx *f, struct tf_rule *r, const char *needle)
{
	struct errlist errs = ERRLIST_INIT;
	void *st = NULL;
	assert_int_equal(target_task_ops.prepare(f->env.cfg, &r->rule, 0, &st, &errs), -EINVAL);
	assert_null(st);
	assert_true(errs.n >= 1);
	if (!strstr(errs.msgs[0], needle))
		fail_msg("'%s' does not say '%s'", errs.msgs[0], needle);
	errlist_clear(&errs);
}

static void test_prepare_refuses_what_cannot_work(void **state)
{
	struct fx *f = *state;
	struct tf_rule r;
	struct transform *t = NULL;
	char why[200];

	tf_rule_init(&r, "nowhere", TARGET_TASK, "elsewhere",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/elsewhere\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_EVENT);
	expect_prepare_error(f, &r, "rules.json: /Targets/0/Arn: no cluster named elsewhere");

	const char *names[] = {"s"}, *paths[] = {"$.detail.status"};
	struct transform_spec spec = {.names = names, .paths = paths, .n_paths = 1,
				      .template_text = "\"<s> is the status\"", .template_len = 19};
	spec.template_text = "<s> is the status";
	spec.template_len = strlen(spec.template_text);
	assert_int_equal(transform_compile(&spec, &t, why, sizeof(why)), 0);
	assert_int_equal(transform_shape(t), TRANSFORM_SHAPE_TEXT);
	tf_rule_init(&r, "texty", TARGET_TASK, "default",
		     "{\"Id\":\"t\",\"Arn\":\"cluster/default\",\"EcsParameters\":{\"TaskDefinitionArn\":\"sleeper\"}}",
		     TARGET_INPUT_TRANSFORMER);
	r.target.transform = t;
	expect_prepare_error(f, &r, "rules.json: /Targets/0/InputTransformer/InputTemplate: ");
	transform_free(t);

	/* a template that is always an object is fine */
	spec.template_text = "{\"containerOverrides\":[{\"name\":\"main\",\"environment\":[{\"name\":\"S\",\"value\":<s>}]}]}";
	spec.template_len = strlen(spec.template_text);
	assert_int_equal(transform_compile(&spec, &t, why, sizeof(why)), 0);
	r.target.transform = t;
	void *st = NULL;
	struct errlist errs = ERRLIST_INIT;
	assert_int_equal(target_task_ops.prepare(f->env.cfg, &r.rule, 0, &st, &errs), 0);
	target_task_ops.release(st);
	transform_free(t);
	errlist_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_lost_in_a_crash_is_taken_from_its_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_task_overrides_started_by_and_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_task_without_input_runs_without_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_task_errors_map_to_eventbridge_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_token_outlives_the_hour_and_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_token_store_refuses_new_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_task_by_started_by_group_and_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_service_absolute_relative_path_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_cluster_with_sigv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_refuses_what_cannot_work, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
