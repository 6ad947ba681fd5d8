/*
 * task.c — the ECS task target, Arn cluster/NAME or
 * arn:aws:ecs:REGION:ACCOUNT:cluster/NAME: EcsParameters.Action RunTask
 * (the default), StopTask or UpdateService (tripline's extension), on the
 * embedded cluster (NAME is cluster.name) or on a remote one (NAME is a key
 * of the config's `clusters`; the name is sent as the request's cluster).
 * The requests themselves are ecs.c's.
 *
 * RunTask: the target's input is RunTask's `overrides` (containerOverrides
 * …), as EventBridge passes it: a rule without Input, InputPath or
 * InputTransformer runs the task without overrides; an input that is not a
 * JSON object is INVALID_PARAMETER (and a transformer or Input that can
 * never yield one is refused when the rule loads). TaskCount, Group and
 * LaunchType are passed on. Every task carries startedBy
 * "events-rule/<rule name>" with each character ECS does not allow in
 * startedBy (anything but A-Z a-z 0-9 - _ /; a rule name's ".") written as
 * "_", cut to 128 characters with "-" and 16 hex digits of the name's
 * SHA-256 when longer. clientToken is the call's token (64 hex digits, ECS's
 * limit: a SHA-256 of event id, rule and target), kept by the embedded
 * cluster at least the target's MaximumEventAgeInSeconds, so a redelivered
 * or replayed event never launches twice. No task launched for lack of
 * capacity (RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:TASKS) is
 * RESOURCE_LIMIT_EXCEEDED and retryable (no token is remembered then); some
 * of TaskCount launched and some not is the same code, not retryable (a
 * retry with the token would only find the same tasks). The tasks started
 * on the embedded cluster are noted as caused at the event's depth + 1
 * (bus_note_cause), so the core's events about them carry it.
 *
 * StopTask: TaskId, a task id or ARN or a JSONPath into the event ("$…",
 * nothing there: INVALID_PARAMETER); or every RUNNING task of StartedBy
 * and/or Group (ListTasks, DescribeTasks for the group, then StopTask each;
 * at most STOP_MAX tasks per event); Reason (extension) is StopTask's
 * reason, default "Stopped by rule <name>".
 *
 * UpdateService: DesiredCount is a number, "+N"/"-N" relative to the
 * service's desiredCount now (DescribeServices first), or a JSONPath into
 * the event (a number, or a string "N", "+N" or "-N" there); the result is
 * clamped to MinCapacity/MaxCapacity (extension) and to 0..1000 (the core's
 * ORCH_MAX_SERVICE_DESIRED). On the embedded cluster the call's token goes
 * with the update, so a redelivery does not apply a relative change twice,
 * across restarts too; a remote cluster has no such token (ECS has none):
 * there a redelivery can apply a relative change again. ForceNewDeployment
 * (extension) starts a new deployment.
 */
#include "targets_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "digest.h"
#include "ecs.h"
#include "event.h"
#include "orch.h"
#include "transform.h"

#define STARTED_BY_PREFIX "events-rule/"
#define STARTED_BY_MAX 128
#define STOP_MAX 1000u
#define DESIRED_MAX ((int64_t)ORCH_MAX_SERVICE_DESIRED)

enum desired_kind {
	DESIRED_ABSOLUTE,
	DESIRED_RELATIVE,
	DESIRED_PATH,
};

struct task_state {
	enum target_action action;
	struct ecs_dest dest;
	bool overrides;             /* the input is RunTask's overrides */
	char *rule_name;
	/* RunTask */
	char *task_definition, *launch_type, *group;
	uint32_t count;
	char started_by[STARTED_BY_MAX + 1];
	/* StopTask */
	char *task_id, *stop_started_by, *reason;
	/* UpdateService */
	char *service;
	enum desired_kind desired_kind;
	int64_t desired;            /* ABSOLUTE: the count; RELATIVE: the change */
	char *desired_path;
	bool has_min, has_max, force;
	int64_t min, max;
};

static void task_release(void *state)
{
	struct task_state *st = state;
	if (!st)
		return;
	ecs_dest_clear(&st->dest);
	free(st->rule_name);
	free(st->task_definition);
	free(st->launch_type);
	free(st->group);
	free(st->task_id);
	free(st->stop_started_by);
	free(st->reason);
	free(st->service);
	free(st->desired_path);
	free(st);
}

/* startedBy for the rule (see the comment at the top). */
static void started_by(const char *name, char out[STARTED_BY_MAX + 1])
{
	size_t k = (size_t)snprintf(out, STARTED_BY_MAX + 1, "%s", STARTED_BY_PREFIX);
	size_t n = strlen(name);
	for (size_t i = 0; i < n && k < STARTED_BY_MAX; i++) {
		char c = name[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '_' || c == '/';
		out[k++] = ok ? c : '_';
	}
	out[k] = '\0';
	if (strlen(STARTED_BY_PREFIX) + n > STARTED_BY_MAX) {
		unsigned char md[DIGEST_SHA256_LEN];
		char hex[2 * DIGEST_SHA256_LEN + 1];
		digest_sha256(name, n, md);
		digest_hex(md, DIGEST_SHA256_LEN, hex);
		snprintf(out + STARTED_BY_MAX - 17, 18, "-%.16s", hex);
	}
}

static char *dup_opt(const char *s, bool *nomem)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*nomem = true;
	return d;
}

/* Where the requests go: the embedded cluster or a `clusters` entry. */
static int set_dest(const struct tripline_config *cfg, const struct rule *rule, size_t i, struct task_state *st,
		    struct errlist *errs)
{
	const char *name = rule->targets[i].resource;
	const char *local = cfg && cfg->cluster.name ? cfg->cluster.name : CONFIG_DEFAULT_CLUSTER_NAME;

	if (!name || !*name) {
		tgt_error(errs, rule, i, "Arn", "a task target needs a cluster: cluster/NAME or an ECS cluster ARN");
		return -EINVAL;
	}
	if (!(st->dest.cluster = strdup(name)))
		return -ENOMEM;
	if (!strcmp(name, local))
		return 0;
	for (size_t k = 0; cfg && k < cfg->n_clusters; k++) {
		const struct config_remote_cluster *c = &cfg->clusters[k];
		if (strcmp(c->name, name) != 0)
			continue;
		st->dest.remote = true;
		int r = ecs_dest_set_endpoint(&st->dest, c->endpoint);
		if (r == -EINVAL) {
			tgt_error(errs, rule, i, "Arn", "cluster %s: its endpoint %s is not an http(s) URL", name,
				  c->endpoint);
			return r;
		}
		st->dest.region = strdup(c->region ? c->region : cfg->region ? cfg->region : CONFIG_DEFAULT_REGION);
		st->dest.credentials = strdup(c->credentials ? c->credentials : CONFIG_DEFAULT_CLUSTER_CREDENTIALS);
		return r < 0 || !st->dest.region || !st->dest.credentials ? -ENOMEM : 0;
	}
	tgt_error(errs, rule, i, "Arn",
		  "no cluster named %s: the embedded cluster is %s, and the config's clusters name no other of that name",
		  name, local);
	return -EINVAL;
}

/* A RunTask target's input must be able to be a JSON object. */
static int check_input(const struct rule *rule, size_t i, struct errlist *errs)
{
	const struct rule_target *t = &rule->targets[i];
	if (!t->transform || t->input == TARGET_INPUT_EVENT)
		return 0;
	enum transform_shape shape = transform_shape(t->transform);
	if (shape != TRANSFORM_SHAPE_TEXT && shape != TRANSFORM_SHAPE_JSON)
		return 0;
	const char *where = t->input == TARGET_INPUT_TRANSFORMER ? "InputTransformer/InputTemplate"
				: t->input == TARGET_INPUT_CONSTANT ? "Input" : "InputPath";
	tgt_error(errs, rule, i, where,
		  "a task target's input is RunTask's overrides and must be a JSON object; this %s",
		  shape == TRANSFORM_SHAPE_TEXT ? "is plain text" : "is JSON but not always an object");
	return -EINVAL;
}

static void read_desired(struct task_state *st, const json_t *dc)
{
	const char *s = json_string_value(dc);
	if (json_is_integer(dc)) {
		st->desired = json_integer_value(dc);
	} else if (s && (s[0] == '+' || s[0] == '-')) {
		st->desired_kind = DESIRED_RELATIVE;
		st->desired = strtoll(s, NULL, 10);
	} else if (s) {
		st->desired_kind = DESIRED_PATH;
	}
}

static int task_prepare(const struct tripline_config *cfg, const struct rule *rule, size_t i, void **ret,
			struct errlist *errs)
{
	const struct rule_target *t = &rule->targets[i];
	json_t *j = tgt_target_json(rule, i, errs), *ecs;
	struct task_state *st = NULL;
	bool nomem = false;
	int r;

	*ret = NULL;
	if (!j)
		return errlist_any(errs) ? -EINVAL : -ENOMEM;
	ecs = json_object_get(j, "EcsParameters");
	if (!(st = calloc(1, sizeof(*st)))) {
		json_decref(j);
		return -ENOMEM;
	}
	st->action = t->action;
	st->count = t->task_count ? t->task_count : 1;
	st->overrides = t->input != TARGET_INPUT_EVENT;
	st->rule_name = dup_opt(rule->name, &nomem);
	st->task_definition = dup_opt(tgt_str(ecs, "TaskDefinitionArn"), &nomem);
	st->launch_type = dup_opt(tgt_str(ecs, "LaunchType"), &nomem);
	st->group = dup_opt(tgt_str(ecs, "Group"), &nomem);
	st->task_id = dup_opt(tgt_str(ecs, "TaskId"), &nomem);
	st->stop_started_by = dup_opt(tgt_str(ecs, "StartedBy"), &nomem);
	st->reason = dup_opt(tgt_str(ecs, "Reason"), &nomem);
	st->service = dup_opt(tgt_str(ecs, "Service"), &nomem);
	json_t *dc = json_object_get(ecs, "DesiredCount");
	read_desired(st, dc);
	if (st->desired_kind == DESIRED_PATH)
		st->desired_path = dup_opt(json_string_value(dc), &nomem);
	json_t *min = json_object_get(ecs, "MinCapacity"), *max = json_object_get(ecs, "MaxCapacity");
	st->has_min = json_is_integer(min);
	st->min = json_integer_value(min);
	st->has_max = json_is_integer(max);
	st->max = json_integer_value(max);
	st->force = json_is_true(json_object_get(ecs, "ForceNewDeployment"));
	started_by(rule->name, st->started_by);
	json_decref(j);

	r = nomem ? -ENOMEM : set_dest(cfg, rule, i, st, errs);
	if (r == 0 && st->action == TARGET_ACTION_RUN_TASK)
		r = check_input(rule, i, errs);
	if (r == 0 && st->has_min && st->has_max && st->min > st->max) {
		tgt_error(errs, rule, i, "EcsParameters/MinCapacity", "must not be above MaxCapacity");
		r = -EINVAL;
	}
	if (r < 0) {
		task_release(st);
		return r;
	}
	*ret = st;
	return 0;
}

/* ------------------------------------------------------------ one invocation */

/* An invocation in flight (a remote cluster answers later). */
struct op {
	struct target_env env;
	const struct task_state *st;
	target_done_fn done;
	void *arg;
	char token[ORCH_MAX_CLIENT_TOKEN + 1];
	uint32_t depth, max_age_s;
	/* StopTask by StartedBy/Group */
	char **arns;
	size_t n_arns, next;
	char next_token[64];
	size_t described;
	/* UpdateService */
	int64_t change;
};

static void op_free(struct op *op)
{
	for (size_t i = 0; i < op->n_arns; i++)
		free(op->arns[i]);
	free(op->arns);
	free(op);
}

static void op_fail(struct op *op, const struct ecs_error *err, const char *what)
{
	tgt_finish(op->done, op->arg, err->outcome, err->code, "%s: %s", what, err->message);
	op_free(op);
}

static void op_finish(struct op *op, enum target_outcome o, const char *code, const char *fmt, ...)
	TGT_FORMAT(4, 5);
static void op_finish(struct op *op, enum target_outcome o, const char *code, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o == TARGET_OK)
		tgt_ok(op->done, op->arg);
	else
		tgt_finish(op->done, op->arg, o, code, "%s", msg);
	op_free(op);
}

static struct ecs_ext op_ext(const struct op *op, bool with_token)
{
	struct ecs_ext x = {with_token && *op->token ? op->token : NULL, op->max_age_s};
	return x;
}

/* ---- RunTask */

static void run_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "RunTask");
		return;
	}
	json_t *tasks = json_object_get(ans, "tasks"), *failures = json_object_get(ans, "failures");
	size_t n = json_array_size(tasks), nf = json_array_size(failures);
	for (size_t i = 0; i < n && !op->st->dest.remote && op->env.bus; i++) {
		const char *arn = tgt_str(json_array_get(tasks, i), "taskArn");
		if (arn)
			bus_note_cause(op->env.bus, arn, op->depth + 1);
	}
	if (nf == 0) {
		/* n == 0 too: a known clientToken whose tasks are gone (purged
		 * after they stopped): that RunTask happened already */
		op_finish(op, TARGET_OK, NULL, "%s", "");
		return;
	}
	const char *reason = nf ? tgt_str(json_array_get(failures, 0), "reason") : NULL;
	if (n == 0)
		op_finish(op, TARGET_RETRY, "RESOURCE_LIMIT_EXCEEDED", "RunTask started no task: %s",
			  reason ? reason : "no reason given");
	else
		op_finish(op, TARGET_FAIL, "RESOURCE_LIMIT_EXCEEDED",
			  "RunTask started %zu of %zu tasks (%s); a retry with the same clientToken would start no more",
			  n, n + nf, reason ? reason : "no reason given");
}

static void run_task(struct op *op, const struct target_call *call)
{
	const struct task_state *st = op->st;
	json_t *overrides = NULL;

	if (st->overrides) {
		overrides = json_loadb(call->input, call->input_len, 0, NULL);
		if (!json_is_object(overrides)) {
			json_decref(overrides);
			op_finish(op, TARGET_FAIL, "INVALID_PARAMETER",
				  "the input of a RunTask target is RunTask's overrides and must be a JSON object");
			return;
		}
	}
	json_t *req = json_pack("{s:s,s:I,s:s}", "taskDefinition", st->task_definition, "count",
				(json_int_t)st->count, "startedBy", st->started_by);
	if (req && *op->token)
		json_object_set_new(req, "clientToken", json_string(op->token));
	if (req && st->group)
		json_object_set_new(req, "group", json_string(st->group));
	if (req && st->launch_type)
		json_object_set_new(req, "launchType", json_string(st->launch_type));
	if (req && overrides)
		json_object_set(req, "overrides", overrides);
	json_decref(overrides);
	struct ecs_ext x = op_ext(op, false);
	ecs_call(&op->env, &st->dest, "RunTask", req, &x, run_done, op);
}

/* ---- StopTask */

static void stop_next(struct op *op);

static void stop_one_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "StopTask");
		return;
	}
	stop_next(op);
}

static json_t *stop_request(const struct op *op, const char *task)
{
	char reason[300];
	if (op->st->reason)
		snprintf(reason, sizeof(reason), "%s", op->st->reason);
	else
		snprintf(reason, sizeof(reason), "Stopped by rule %.200s", op->st->rule_name);
	return json_pack("{s:s,s:s}", "task", task, "reason", reason);
}

/* Stops arns[next], or ends when every one is stopped. */
static void stop_next(struct op *op)
{
	if (op->next >= op->n_arns) {
		op_finish(op, TARGET_OK, NULL, "%s", "");
		return;
	}
	const char *arn = op->arns[op->next++];
	struct ecs_ext x = op_ext(op, false);
	ecs_call(&op->env, &op->st->dest, "StopTask", stop_request(op, arn), &x, stop_one_done, op);
}

static void describe_next(struct op *op);

/* Keeps the described tasks of the group (arns[described…] in place). */
static void describe_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "DescribeTasks");
		return;
	}
	json_t *tasks = json_object_get(ans, "tasks");
	size_t end = op->described + 100 < op->n_arns ? op->described + 100 : op->n_arns;
	size_t keep = op->next;   /* kept so far, compacted to the front */
	for (size_t i = op->described; i < end; i++) {
		bool in_group = false;
		for (size_t k = 0; k < json_array_size(tasks); k++) {
			json_t *t = json_array_get(tasks, k);
			const char *arn = tgt_str(t, "taskArn"), *group = tgt_str(t, "group");
			if (arn && !strcmp(arn, op->arns[i]) && group && !strcmp(group, op->st->group))
				in_group = true;
		}
		if (in_group) {
			char *a = op->arns[i];
			op->arns[i] = NULL;
			op->arns[keep++] = a;
		} else {
			free(op->arns[i]);
			op->arns[i] = NULL;
		}
	}
	op->next = keep;
	op->described = end;
	describe_next(op);
}

static void describe_next(struct op *op)
{
	if (op->described >= op->n_arns) {
		op->n_arns = op->next;   /* the group's tasks */
		op->next = 0;
		stop_next(op);
		return;
	}
	json_t *list = json_array();
	size_t end = op->described + 100 < op->n_arns ? op->described + 100 : op->n_arns;
	for (size_t i = op->described; list && i < end; i++)
		json_array_append_new(list, json_string(op->arns[i]));
	json_t *req = list ? json_pack("{s:o}", "tasks", list) : NULL;
	struct ecs_ext x = op_ext(op, false);
	ecs_call(&op->env, &op->st->dest, "DescribeTasks", req, &x, describe_done, op);
}

static void list_page(struct op *op);

static void list_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "ListTasks");
		return;
	}
	json_t *arns = json_object_get(ans, "taskArns");
	for (size_t i = 0; i < json_array_size(arns) && op->n_arns < STOP_MAX; i++) {
		const char *a = json_string_value(json_array_get(arns, i));
		char **v = a ? realloc(op->arns, (op->n_arns + 1) * sizeof(*v)) : NULL;
		if (!v || !(v[op->n_arns] = strdup(a))) {
			if (v)
				op->arns = v;
			op_finish(op, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
			return;
		}
		op->arns = v;
		op->n_arns++;
	}
	const char *next = tgt_str(ans, "nextToken");
	if (next && *next && op->n_arns < STOP_MAX && strlen(next) < sizeof(op->next_token)) {
		snprintf(op->next_token, sizeof(op->next_token), "%s", next);
		list_page(op);
		return;
	}
	op->next = 0;
	op->described = 0;
	if (op->st->group)
		describe_next(op);
	else
		stop_next(op);
}

static void list_page(struct op *op)
{
	json_t *req = json_pack("{s:s}", "desiredStatus", "RUNNING");
	if (req && op->st->stop_started_by)
		json_object_set_new(req, "startedBy", json_string(op->st->stop_started_by));
	if (req && *op->next_token)
		json_object_set_new(req, "nextToken", json_string(op->next_token));
	struct ecs_ext x = op_ext(op, false);
	ecs_call(&op->env, &op->st->dest, "ListTasks", req, &x, list_done, op);
}

static void stop_task(struct op *op, const struct target_call *call)
{
	const struct task_state *st = op->st;
	if (!st->task_id) {
		list_page(op);
		return;
	}
	char *id = NULL;
	if (st->task_id[0] == '$') {
		json_t *ev = tgt_event_json(call);
		json_t *v = tgt_path_get(ev, st->task_id);
		id = json_is_string(v) && *json_string_value(v) ? strdup(json_string_value(v)) : NULL;
		json_decref(ev);
		if (!id) {
			op_finish(op, TARGET_FAIL, "INVALID_PARAMETER", "TaskId %s: no task id or ARN in the event there",
				  st->task_id);
			return;
		}
	}
	struct ecs_ext x = op_ext(op, false);
	json_t *req = stop_request(op, id ? id : st->task_id);
	free(id);
	op->n_arns = 0;
	ecs_call(&op->env, &st->dest, "StopTask", req, &x, stop_one_done, op);
}

/* ---- UpdateService */

static int64_t clamp(const struct task_state *st, int64_t v)
{
	if (st->has_min && v < st->min)
		v = st->min;
	if (st->has_max && v > st->max)
		v = st->max;
	return v < 0 ? 0 : v > DESIRED_MAX ? DESIRED_MAX : v;
}

static void update_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "UpdateService");
		return;
	}
	if (!op->st->dest.remote && op->env.bus) {
		char key[ORCH_MAX_NAME + 16];
		snprintf(key, sizeof(key), "service:%s", op->st->service);
		bus_note_cause(op->env.bus, key, op->depth + 1);
	}
	op_finish(op, TARGET_OK, NULL, "%s", "");
}

static void update(struct op *op, int64_t desired, bool with_token)
{
	json_t *req = json_pack("{s:s,s:I}", "service", op->st->service, "desiredCount", (json_int_t)desired);
	if (req && op->st->force)
		json_object_set_new(req, "forceNewDeployment", json_true());
	struct ecs_ext x = op_ext(op, with_token);
	ecs_call(&op->env, &op->st->dest, "UpdateService", req, &x, update_done, op);
}

static void describe_service_done(void *arg, json_t *ans, const struct ecs_error *err)
{
	struct op *op = arg;
	if (!ans) {
		op_fail(op, err, "DescribeServices");
		return;
	}
	json_t *svc = json_array_get(json_object_get(ans, "services"), 0);
	json_t *cur = json_object_get(svc, "desiredCount");
	if (!json_is_integer(cur)) {
		json_t *f = json_array_get(json_object_get(ans, "failures"), 0);
		op_finish(op, TARGET_FAIL, "NO_RESOURCE", "UpdateService: service %s: %s", op->st->service,
			  f && tgt_str(f, "reason") ? tgt_str(f, "reason") : "not found");
		return;
	}
	update(op, clamp(op->st, json_integer_value(cur) + op->change), true);
}

static void update_service(struct op *op, const struct target_call *call)
{
	const struct task_state *st = op->st;
	int64_t v = st->desired;
	bool relative = st->desired_kind == DESIRED_RELATIVE;

	if (st->desired_kind == DESIRED_PATH) {
		json_t *ev = tgt_event_json(call);
		json_t *x = tgt_path_get(ev, st->desired_path);
		const char *s = json_string_value(x);
		char *end = NULL;
		bool ok = json_is_integer(x);
		if (ok) {
			v = json_integer_value(x);
		} else if (s && *s) {
			relative = s[0] == '+' || s[0] == '-';
			v = strtoll(s, &end, 10);
			ok = *end == '\0' && (s[0] != '-' || relative);
		}
		json_decref(ev);
		if (!ok) {
			op_finish(op, TARGET_FAIL, "INVALID_PARAMETER",
				  "DesiredCount %s: the event holds no integer, \"+N\" or \"-N\" there", st->desired_path);
			return;
		}
	}
	if (!relative) {
		update(op, clamp(st, v), false);
		return;
	}
	op->change = v;
	json_t *req = json_pack("{s:[s]}", "services", st->service);
	struct ecs_ext x = op_ext(op, false);
	ecs_call(&op->env, &st->dest, "DescribeServices", req, &x, describe_service_done, op);
}

static void task_invoke(const struct target_env *env, const struct target_call *call, target_done_fn done,
			void *arg)
{
	struct op *op = calloc(1, sizeof(*op));
	if (!op) {
		tgt_finish(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
		return;
	}
	op->env = *env;
	op->st = call->state;
	op->done = done;
	op->arg = arg;
	snprintf(op->token, sizeof(op->token), "%s", call->token ? call->token : "");
	op->depth = call->ev->depth;
	op->max_age_s = call->max_age_s;
	switch (op->st->action) {
	case TARGET_ACTION_RUN_TASK:
		run_task(op, call);
		break;
	case TARGET_ACTION_STOP_TASK:
		stop_task(op, call);
		break;
	case TARGET_ACTION_UPDATE_SERVICE:
		update_service(op, call);
		break;
	}
}

const struct target_ops target_task_ops = {
	.name = "task",
	.uses_token = true,
	.prepare = task_prepare,
	.release = task_release,
	.invoke = task_invoke,
};
