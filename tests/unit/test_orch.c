/*
 * test_orch.c — the orchestration core through its typed C API (orch.h),
 * with real child processes (the process driver) and injected clocks.
 *
 * The clocks are the point: every duration (service backoff, the health
 * check grace period, the retention of STOPPED tasks, the lifetime of a
 * client token) must follow the monotonic clock, so a step of the wall
 * clock (NTP, a VM resumed) neither skips nor stretches them. Each test
 * freezes the monotonic clock, steps the wall clock by hours, lets the
 * loop's real timers tick, and checks nothing happened early; then moves
 * the monotonic clock past the duration and checks it did happen.
 *
 * Waiting is polling the loop with a deadline (wait_for); a negative check
 * runs the loop for a few real ticks (the core's tick is 1 s) and looks.
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
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "errlist.h"
#include "orch.h"
#include "orch_json.h"
#include "statefile.h"
#include "taskdef.h"

#define HOUR_MS (3600u * 1000u)

struct fx {
	uv_loop_t loop;
	char dir[64];
	struct taskdef_registry *reg;
	struct orch *o;
	uint64_t wall_ms, mono_ms;   /* the injected clocks */
	uint64_t cpu_units;
};

static uint64_t fake_wall(void *ud)
{
	return ((struct fx *)ud)->wall_ms;
}

static uint64_t fake_mono(void *ud)
{
	return ((struct fx *)ud)->mono_ms;
}

static void register_def(struct fx *f, const char *json)
{
	struct errlist errs = ERRLIST_INIT;
	int r = taskdef_register(f->reg, json, strlen(json), "test", NULL, &errs);
	if (r < 0)
		fail_msg("register: %s", errs.n ? errs.msgs[0] : strerror(-r));
	errlist_clear(&errs);
}

static void start_orch(struct fx *f)
{
	struct orch_config cfg = {
		.cluster_name = "default", .region = "local", .account = "000000000000",
		.cpu_units = f->cpu_units ? f->cpu_units : 4096, .memory_mib = 8192, .data_dir = f->dir,
		.max_tasks = 100, .cgroup_root = "",
		.clock = {fake_wall, fake_mono, f},
	};
	char err[256] = "";
	if (orch_new(&f->loop, &cfg, f->reg, &f->o, err, sizeof(err)) < 0)
		fail_msg("orch_new: %s", err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errlist errs = ERRLIST_INIT;

	if (!f || uv_loop_init(&f->loop) < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tripline-orch-XXXXXX");
	if (!mkdtemp(f->dir) || taskdef_registry_open(NULL, NULL, NULL, &f->reg, &errs) < 0)
		return -1;
	f->wall_ms = 1765000000000u;   /* 2025-12-06 */
	f->mono_ms = 5u * HOUR_MS;
	register_def(f, "{\"family\":\"crash\",\"containerDefinitions\":[{\"name\":\"c\",\"command\":[\"/bin/false\"]}]}");
	register_def(f, "{\"family\":\"sleeper\",\"containerDefinitions\":[{\"name\":\"s\",\"cpu\":1024,"
			"\"command\":[\"/bin/sleep\",\"600\"]}]}");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	orch_free(f->o);
	uv_run(&f->loop, UV_RUN_DEFAULT);   /* the handles close */
	int r = uv_loop_close(&f->loop);
	taskdef_registry_free(f->reg);
	statefile_remove_tree(f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

/* Runs the loop until cond holds (true) or 20 s of real time pass (false). */
static bool wait_for(struct fx *f, bool (*cond)(struct fx *f, void *arg), void *arg)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (cond(f, arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 20)
			return false;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
}

static void on_wake(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop for ms of real time: enough ticks of the core to have
 * acted on anything due. */
static void run_for(struct fx *f, uint64_t ms)
{
	uint64_t end = uv_hrtime() / 1000000u + ms;
	uv_timer_t t;
	uv_timer_init(&f->loop, &t);
	while (uv_hrtime() / 1000000u < end) {
		uv_timer_start(&t, on_wake, end - uv_hrtime() / 1000000u, 0);
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static size_t count_tasks(struct fx *f, enum orch_desired_status st, const char *service)
{
	struct list_tasks_request req = {.desired_status = st, .service_name = service};
	struct orch_arn_page page;
	struct orch_error e;
	assert_int_equal(orch_list_tasks(f->o, &req, &page, &e), 0);
	size_t n = page.n;
	orch_arn_page_clear(&page);
	return n;
}

static bool stopped_at_least(struct fx *f, void *arg)
{
	return count_tasks(f, ORCH_DESIRED_STOPPED, "crashy") >= *(size_t *)arg;
}

static json_t *describe_service(struct fx *f, const char *name)
{
	const char *names[] = {name};
	struct describe_services_request req = {.services = names, .n_services = 1};
	struct describe_services_result res;
	struct orch_error e;
	assert_int_equal(orch_describe_services(f->o, &req, &res, &e), 0);
	assert_int_equal(res.n_services, 1);
	return orch_service_json(res.services[0]);
}

/* Whether the service's events[] holds a message containing text. */
static bool service_said(struct fx *f, const char *name, const char *text)
{
	json_t *s = describe_service(f, name), *ev;
	size_t i;
	bool found = false;
	json_array_foreach(json_object_get(s, "events"), i, ev)
		found |= strstr(json_string_value(json_object_get(ev, "message")), text) != NULL;
	json_decref(s);
	return found;
}

static void create_service(struct fx *f, const char *name, const char *def, int64_t desired, int64_t grace_s)
{
	struct create_service_request req = {
		.service_name = name, .task_definition = def, .has_desired_count = true, .desired_count = desired,
		.config = {.has_health_check_grace_period = grace_s >= 0, .health_check_grace_period_s = grace_s},
	};
	struct service *s;
	struct orch_error e;
	if (orch_create_service(f->o, &req, &s, &e) < 0)
		fail_msg("CreateService: %s: %s", e.type, e.message);
}

/* Stops every running task and waits for them, so no process outlives the test. */
static bool none_running(struct fx *f, void *arg)
{
	(void)arg;
	return count_tasks(f, ORCH_DESIRED_RUNNING, NULL) == 0;
}

static bool all_stopped(struct fx *f, void *arg)
{
	struct orch_metrics m;
	(void)arg;
	orch_metrics(f->o, &m);
	return m.tasks_by_state[0] + m.tasks_by_state[1] + m.tasks_by_state[2] + m.tasks_by_state[3] == 0;
}

static void stop_everything(struct fx *f, const char *service)
{
	if (service) {
		struct delete_service_request req = {.service = service, .force = true};
		struct service *s;
		struct orch_error e;
		assert_int_equal(orch_delete_service(f->o, &req, &s, &e), 0);
	}
	struct list_tasks_request lr = {.desired_status = ORCH_DESIRED_RUNNING};
	struct orch_arn_page page;
	struct orch_error e;
	assert_int_equal(orch_list_tasks(f->o, &lr, &page, &e), 0);
	for (size_t i = 0; i < page.n; i++) {
		struct stop_task_request req = {.task = page.arns[i]};
		struct task *t;
		assert_int_equal(orch_stop_task(f->o, &req, &t, &e), 0);
	}
	orch_arn_page_clear(&page);
	assert_true(wait_for(f, none_running, NULL));
	assert_true(wait_for(f, all_stopped, NULL));
}

/* ------------------------------------------------------------ tests */

static void test_backoff_follows_the_monotonic_clock(void **state)
{
	struct fx *f = *state;
	size_t one = 1, two = 2;

	start_orch(f);
	create_service(f, "crashy", "crash", 1, -1);
	assert_true(wait_for(f, stopped_at_least, &one));
	run_for(f, 300);   /* the stop is settled and the backoff set */
	assert_true(service_said(f, "crashy", "backs off: the next launch waits 1000 ms (1 failed launches in a row)"));

	/* the wall clock jumps an hour ahead, then two back: no launch before
	 * the monotonic clock has moved the backoff's 1000 ms */
	f->wall_ms += HOUR_MS;
	run_for(f, 2200);
	f->wall_ms -= 2 * HOUR_MS;
	run_for(f, 1200);
	assert_int_equal(count_tasks(f, ORCH_DESIRED_STOPPED, "crashy") + count_tasks(f, ORCH_DESIRED_RUNNING, "crashy"), 1);

	f->mono_ms += 999;
	run_for(f, 1200);
	assert_int_equal(count_tasks(f, ORCH_DESIRED_STOPPED, "crashy") + count_tasks(f, ORCH_DESIRED_RUNNING, "crashy"), 1);
	f->mono_ms += 1;
	assert_true(wait_for(f, stopped_at_least, &two));
	run_for(f, 300);
	assert_true(service_said(f, "crashy", "the next launch waits 2000 ms (2 failed launches in a row)"));
	stop_everything(f, "crashy");
}

static bool one_running(struct fx *f, void *arg)
{
	(void)arg;
	json_t *s = describe_service(f, "web");
	bool ok = json_integer_value(json_object_get(s, "runningCount")) == 1;
	json_decref(s);
	return ok;
}

static bool steady(struct fx *f, void *arg)
{
	(void)arg;
	return service_said(f, "web", "has reached a steady state");
}

static void test_grace_period_follows_the_monotonic_clock(void **state)
{
	struct fx *f = *state;

	start_orch(f);
	create_service(f, "web", "sleeper", 1, 60);
	assert_true(wait_for(f, one_running, NULL));
	f->wall_ms += 2 * HOUR_MS;
	run_for(f, 2200);
	assert_false(steady(f, NULL));   /* 60 s of grace have not passed */
	f->mono_ms += 59 * 1000;
	run_for(f, 1200);
	assert_false(steady(f, NULL));
	f->mono_ms += 1000;
	assert_true(wait_for(f, steady, NULL));
	stop_everything(f, "web");
}

static struct task *run_one(struct fx *f, const char *token)
{
	struct run_task_request req = {.task_definition = "sleeper", .client_token = token};
	struct run_task_result res;
	struct orch_error e;
	if (orch_run_task(f->o, &req, &res, &e) < 0)
		fail_msg("RunTask: %s: %s", e.type, e.message);
	assert_int_equal(res.n_tasks, 1);
	assert_int_equal(res.n_failures, 0);
	return res.tasks[0];
}

static void test_client_tokens_follow_the_monotonic_clock(void **state)
{
	struct fx *f = *state;

	start_orch(f);
	char arn[200];
	snprintf(arn, sizeof(arn), "%s", orch_task_arn(run_one(f, "token-1")));
	f->wall_ms += 2 * HOUR_MS;   /* past the token's hour by the wall clock */
	run_for(f, 1200);
	assert_string_equal(orch_task_arn(run_one(f, "token-1")), arn);   /* the same task */
	assert_int_equal(count_tasks(f, ORCH_DESIRED_RUNNING, NULL), 1);
	f->mono_ms += HOUR_MS + 1000;
	run_for(f, 1200);
	assert_string_not_equal(orch_task_arn(run_one(f, "token-1")), arn);   /* a new one */
	assert_int_equal(count_tasks(f, ORCH_DESIRED_RUNNING, NULL), 2);
	stop_everything(f, NULL);
}

static bool task_gone(struct fx *f, void *arg)
{
	const char *ref = arg;
	struct describe_tasks_request req = {.tasks = &ref, .n_tasks = 1};
	struct describe_tasks_result *res = malloc(sizeof(*res));
	struct orch_error e;
	assert_non_null(res);
	assert_int_equal(orch_describe_tasks(f->o, &req, res, &e), 0);
	bool gone = res->n_failures == 1;
	free(res);
	return gone;
}

static void test_retention_follows_the_monotonic_clock(void **state)
{
	struct fx *f = *state;
	char arn[200];

	start_orch(f);
	snprintf(arn, sizeof(arn), "%s", orch_task_arn(run_one(f, NULL)));
	stop_everything(f, NULL);
	f->wall_ms += 3 * HOUR_MS;
	run_for(f, 2200);
	assert_false(task_gone(f, arn));   /* STOPPED tasks stay describable for an hour */
	f->mono_ms += HOUR_MS + 1000;
	assert_true(wait_for(f, task_gone, arn));
}

/* The typed API's RunTask: placement failures are failures[], not errors;
 * overrides reach the process; checks answer in ECS's words. */
static void test_run_task_typed(void **state)
{
	struct fx *f = *state;
	struct orch_error e;
	struct run_task_result res;

	f->cpu_units = 2048;   /* two sleepers */
	start_orch(f);
	struct run_task_request req = {.task_definition = "sleeper", .has_count = true, .count = 3, .group = "g1"};
	assert_int_equal(orch_run_task(f->o, &req, &res, &e), 0);
	assert_int_equal(res.n_tasks, 2);
	assert_int_equal(res.n_failures, 1);
	assert_string_equal(res.failures[0].reason, "RESOURCE:CPU");

	req.count = 11;
	assert_int_equal(orch_run_task(f->o, &req, &res, &e), -1);
	assert_string_equal(e.type, "InvalidParameterException");
	assert_string_equal(e.message, "count must be an integer from 1 to 10");

	struct orch_kv env[] = {{"GREETING", "hello"}};
	struct orch_container_override co = {.name = "nope", .environment = env, .n_environment = 1,
					     .has_environment = true};
	struct run_task_request bad = {.task_definition = "sleeper", .overrides = {&co, 1}};
	assert_int_equal(orch_run_task(f->o, &bad, &res, &e), -1);
	assert_string_equal(e.message, "Override for container named nope is not a container in the TaskDefinition.");

	struct run_task_request none = {.group = "g1"};
	assert_int_equal(orch_run_task(f->o, &none, &res, &e), -1);
	assert_string_equal(e.message, "taskDefinition is required");

	struct run_task_request other = {.task_definition = "sleeper", .cluster = "prod"};
	assert_int_equal(orch_run_task(f->o, &other, &res, &e), -1);
	assert_string_equal(e.type, "ClusterNotFoundException");
	stop_everything(f, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backoff_follows_the_monotonic_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_period_follows_the_monotonic_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_tokens_follow_the_monotonic_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_follows_the_monotonic_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_task_typed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
