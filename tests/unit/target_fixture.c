/*
 * target_fixture.c — see target_fixture.h.
 */
#include "target_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "errlist.h"

void tf_rule_init(struct tf_rule *r, const char *name, enum target_kind kind, const char *resource,
		  const char *json, enum target_input input)
{
	memset(r, 0, sizeof(*r));
	r->rule.name = tf_mut(name);
	r->rule.file = tf_mut("rules.json");
	r->rule.enabled = true;
	r->rule.event_bus = tf_mut("default");
	r->rule.ntargets = 1;
	r->rule.targets = &r->target;
	r->target.id = tf_mut("t");
	r->target.arn = tf_mut(resource);
	r->target.kind = kind;
	r->target.resource = tf_mut(resource);
	r->target.json = tf_mut(json);
	r->target.json_len = strlen(json);
	r->target.input = input;
	r->target.task_count = 1;
	r->target.retry.max_attempts = 185;
	r->target.retry.max_age_s = 86400;
}

struct event *tf_event(const char *json, uint32_t depth)
{
	struct event *ev = NULL;
	assert_int_equal(event_new("e-1", "default", json, strlen(json), &ev), 0);
	ev->depth = depth;
	return ev;
}

static void on_done(void *arg, const struct target_result *res)
{
	struct tf_result *r = arg;
	assert_false(r->done);
	r->done = true;
	r->outcome = res->outcome;
	snprintf(r->code, sizeof(r->code), "%s", res->code ? res->code : "");
	snprintf(r->message, sizeof(r->message), "%s", res->message ? res->message : "");
	if (res->outcome == TARGET_OK) {
		assert_null(res->code);
	} else {
		assert_non_null(res->code);
		assert_non_null(res->message);
	}
}

static bool is_done(void *arg)
{
	return ((struct tf_result *)arg)->done;
}

bool tf_wait(uv_loop_t *loop, bool (*cond)(void *arg), void *arg)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (cond(arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 20)
			return false;
		uv_run(loop, UV_RUN_ONCE);
	}
}

void tf_invoke(const struct target_env *env, struct tf_rule *r, void *state, struct event *ev, const char *input,
	       const char *token, struct tf_result *res)
{
	const struct target_ops *ops = target_ops_for(r->target.kind);
	struct target_call call = {
		.ev = ev, .rule = &r->rule, .target = &r->target,
		.rule_arn = "arn:aws:events:local:000000000000:rule/x", .state = state,
		.input = input ? input : ev->json, .input_len = input ? strlen(input) : ev->len,
		.token = token, .max_age_s = r->target.retry.max_age_s,
	};
	memset(res, 0, sizeof(*res));
	ops->invoke(env, &call, on_done, res);
	assert_true(tf_wait(env->loop, is_done, res));
}

void tf_run(const struct target_env *env, struct tf_rule *r, struct event *ev, const char *input,
	    const char *token, struct tf_result *res)
{
	const struct target_ops *ops = target_ops_for(r->target.kind);
	struct errlist errs = ERRLIST_INIT;
	void *state = NULL;

	assert_non_null(ops);
	if (ops->prepare) {
		int rc = ops->prepare(env->cfg, &r->rule, 0, &state, &errs);
		if (rc < 0)
			fail_msg("prepare: %s", errs.n ? errs.msgs[0] : "no message");
	}
	tf_invoke(env, r, state, ev, input, token, res);
	if (ops->release)
		ops->release(state);
	errlist_clear(&errs);
}
