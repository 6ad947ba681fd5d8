/*
 * api_ecs.c — the ECS operations of the AWS JSON API
 * ("AmazonEC2ContainerServiceV20141113.<Op>", and tripline's
 * "Tripline.GetTaskLogs"): ECS's JSON requests read into the orchestration
 * core's structs (api_ecs.h), the core called, its results written back as
 * ECS's answers.
 *
 * Clusters: the embedded one (ListClusters, DescribeClusters). Task
 * definitions: the registry (orch/taskdef_registry.c), whose definitions already
 * keep their ECS JSON. Tasks and services: the core (orch/orch.h); without
 * an orchestrator those answer 503.
 *
 * The request readers and the answer writers are also what a client of a
 * remote ECS-compatible endpoint needs; they depend on nothing but the
 * strict reader, jansson and orch.h.
 */
#include "api_ecs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_op.h"
#include "errlist.h"
#include "jtext.h"
#include "logger.h"
#include "orch_json.h"
#include "taskdef.h"

#define ECS_PREFIX "AmazonEC2ContainerServiceV20141113."
#define ECS_LIST_DEFAULT 100u        /* a List page without maxResults, as ECS */
#define ECS_LIST_MAX 100u
#define ECS_MAX_DELETE_TASKDEFS 10u  /* DeleteTaskDefinitions' references, as ECS */
#define ECS_MAX_FAMILY 255u          /* a task definition family's name */
#define TRIPLINE_PREFIX "Tripline."

/* ------------------------------------------------------------ the arena */

static void *arena_alloc(struct ecs_arena *a, size_t n, size_t size)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		void **b = realloc(a->blocks, cap * sizeof(*b));
		if (!b)
			return NULL;
		a->blocks = b;
		a->cap = cap;
	}
	void *p = calloc(n ? n : 1, size);
	if (p)
		a->blocks[a->n++] = p;
	return p;
}

void ecs_arena_free(struct ecs_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	*a = (struct ecs_arena)ECS_ARENA_INIT;
}

/* ------------------------------------------------------------ members */

static const char *const bad_param = "InvalidParameterException";

static int fail(struct orch_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct orch_error *e, const char *fmt, ...)
{
	va_list ap;
	e->type = bad_param;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int nomem(struct orch_error *e)
{
	e->type = "ServerException";
	snprintf(e->message, sizeof(e->message), "out of memory");
	return -1;
}

/* A member, or NULL when absent or null. */
static const struct jnode *member(const struct jnode *obj, const char *key)
{
	const struct jnode *n = obj && obj->type == JNODE_OBJECT ? jnode_get(obj, key) : NULL;
	return n && n->type != JNODE_NULL ? n : NULL;
}

static bool is_string(const struct jnode *n)
{
	return n && n->type == JNODE_STRING && !memchr(n->u.str, '\0', n->len);
}

/* An optional string member (max is the core's limit, for the message). */
static bool get_str(const struct jnode *obj, const char *key, size_t max, const char **ret, struct orch_error *e)
{
	const struct jnode *n = member(obj, key);
	*ret = NULL;
	if (!n)
		return true;
	if (!is_string(n)) {
		fail(e, "%s must be a string of 1 to %zu characters", key, max);
		return false;
	}
	*ret = n->u.str;
	return true;
}

/* An optional integer member (lo and hi are the core's range, for the message). */
static bool get_int(const struct jnode *obj, const char *key, int64_t lo, int64_t hi, bool *has, int64_t *ret,
		    struct orch_error *e)
{
	const struct jnode *n = member(obj, key);
	*has = false;
	if (!n)
		return true;
	if (n->type != JNODE_NUMBER || !jtext_int(n->u.num, n->len, INT64_MIN + 1, INT64_MAX, ret)) {
		fail(e, "%s must be an integer from %lld to %lld", key, (long long)lo, (long long)hi);
		return false;
	}
	*has = true;
	return true;
}

static bool get_launch_type(const struct jnode *obj, size_t max, enum orch_launch_type *ret, struct orch_error *e)
{
	const char *s;
	*ret = ORCH_LAUNCH_DEFAULT;
	if (!get_str(obj, "launchType", max, &s, e))
		return false;
	if (!s)
		return true;
	if (!s[0] || strlen(s) > max) {
		fail(e, "launchType must be a string of 1 to %zu characters", max);
		return false;
	}
	if (strcmp(s, "EC2") == 0)
		*ret = ORCH_LAUNCH_EC2;
	else if (strcmp(s, "FARGATE") == 0)
		*ret = ORCH_LAUNCH_FARGATE;
	else if (strcmp(s, "EXTERNAL") == 0)
		*ret = ORCH_LAUNCH_EXTERNAL;
	else {
		fail(e, "launchType must be EC2, FARGATE or EXTERNAL");
		return false;
	}
	return true;
}

/* Every request may name the cluster; a name that is not ours is the core's to refuse. */
static bool get_cluster(const struct jnode *in, const char **ret, struct orch_error *e)
{
	const struct jnode *n = in ? jnode_get(in, "cluster") : NULL;
	*ret = NULL;
	if (!n)
		return true;
	if (!is_string(n)) {
		fail(e, "cluster must be a string");
		return false;
	}
	*ret = n->u.str;
	return true;
}

/* A list of references (DescribeTasks, DescribeServices); an item that is
 * not a string stays NULL (the core reports it MISSING). */
static bool get_refs(const struct jnode *in, const char *key, struct ecs_arena *a, const char *const **ret,
		     size_t *ret_n, const char *what, struct orch_error *e)
{
	const struct jnode *list = member(in, key);
	*ret = NULL;
	*ret_n = 0;
	if (!list || list->type != JNODE_ARRAY) {
		fail(e, "%s must be a list of %s", key, what);
		return false;
	}
	const char **v = arena_alloc(a, list->len, sizeof(*v));
	if (!v)
		return nomem(e) == 0;
	for (size_t i = 0; i < list->len; i++)
		v[i] = is_string(list->u.items[i]) ? list->u.items[i]->u.str : NULL;
	*ret = v;
	*ret_n = list->len;
	return true;
}

/* ------------------------------------------------------------ reading requests */

static int read_container_override(const struct jnode *co, size_t i, struct ecs_arena *a,
				   struct orch_container_override *ret, struct orch_error *e)
{
	const struct jnode *name = co->type == JNODE_OBJECT ? jnode_get(co, "name") : NULL;
	if (!is_string(name))
		return fail(e, "overrides.containerOverrides[%zu].name is required", i);
	ret->name = name->u.str;
	const struct jnode *cmd = jnode_get(co, "command");
	if (cmd) {
		bool ok = cmd->type == JNODE_ARRAY;
		for (size_t k = 0; ok && k < cmd->len; k++)
			ok = is_string(cmd->u.items[k]);
		if (!ok)
			return fail(e, "containerOverrides[%zu].command must be a list of strings", i);
		const char **v = arena_alloc(a, cmd->len, sizeof(*v));
		if (!v)
			return nomem(e);
		for (size_t k = 0; k < cmd->len; k++)
			v[k] = cmd->u.items[k]->u.str;
		ret->command = v;
		ret->n_command = cmd->len;
		ret->has_command = true;
	}
	const struct jnode *env = jnode_get(co, "environment");
	if (env) {
		bool ok = env->type == JNODE_ARRAY;
		for (size_t k = 0; ok && k < env->len; k++) {
			const struct jnode *kv = env->u.items[k];
			ok = kv->type == JNODE_OBJECT && is_string(jnode_get(kv, "name")) &&
			     is_string(jnode_get(kv, "value"));
		}
		if (!ok)
			return fail(e, "containerOverrides[%zu].environment must be a list of {name, value} strings", i);
		struct orch_kv *v = arena_alloc(a, env->len, sizeof(*v));
		if (!v)
			return nomem(e);
		for (size_t k = 0; k < env->len; k++) {
			v[k].name = jnode_get(env->u.items[k], "name")->u.str;
			v[k].value = jnode_get(env->u.items[k], "value")->u.str;
		}
		ret->environment = v;
		ret->n_environment = env->len;
		ret->has_environment = true;
	}
	if (!get_int(co, "cpu", 0, ORCH_MAX_OVERRIDE_CPU, &ret->has_cpu, &ret->cpu, e) ||
	    !get_int(co, "memory", 1, ORCH_MAX_OVERRIDE_MEMORY, &ret->has_memory, &ret->memory, e))
		return -1;
	return 0;
}

int ecs_read_overrides(const struct jnode *ov, struct ecs_arena *a, struct orch_overrides *ret,
		       struct orch_error *e)
{
	ret->containers = NULL;
	ret->n_containers = 0;
	if (!ov)
		return 0;
	const struct jnode *list = ov->type == JNODE_OBJECT ? jnode_get(ov, "containerOverrides") : NULL;
	if (ov->type != JNODE_OBJECT || (list && list->type != JNODE_ARRAY))
		return fail(e, "overrides must be an object with a containerOverrides list");
	if (!list)
		return 0;
	struct orch_container_override *cs = arena_alloc(a, list->len, sizeof(*cs));
	if (!cs)
		return nomem(e);
	for (size_t i = 0; i < list->len; i++)
		if (read_container_override(list->u.items[i], i, a, &cs[i], e) < 0)
			return -1;
	ret->containers = cs;
	ret->n_containers = list->len;
	return 0;
}

int ecs_read_run_task(const struct jnode *in, struct ecs_arena *a, struct run_task_request *ret,
		      struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) ||
	    !get_str(in, "taskDefinition", ORCH_MAX_REF, &ret->task_definition, e) ||
	    !get_str(in, "group", ORCH_MAX_GROUP, &ret->group, e) ||
	    !get_str(in, "startedBy", ORCH_MAX_STARTED_BY, &ret->started_by, e) ||
	    !get_str(in, "clientToken", ORCH_MAX_CLIENT_TOKEN, &ret->client_token, e) ||
	    !get_launch_type(in, ORCH_MAX_STATUS, &ret->launch_type, e) ||
	    !get_int(in, "count", 1, ORCH_MAX_RUN_COUNT, &ret->has_count, &ret->count, e))
		return -1;
	/* "overrides": null is refused, as ECS's own reader does */
	const struct jnode *ov = jnode_get(in, "overrides");
	return ecs_read_overrides(ov, a, &ret->overrides, e);
}

int ecs_read_stop_task(const struct jnode *in, struct stop_task_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) || !get_str(in, "task", ORCH_MAX_REF, &ret->task, e) ||
	    !get_str(in, "reason", ORCH_MAX_REASON, &ret->reason, e))
		return -1;
	return 0;
}

int ecs_read_describe_tasks(const struct jnode *in, struct ecs_arena *a, struct describe_tasks_request *ret,
			    struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) ||
	    !get_refs(in, "tasks", a, &ret->tasks, &ret->n_tasks, "1 to 100 task IDs or ARNs", e))
		return -1;
	return 0;
}

int ecs_read_list_tasks(const struct jnode *in, struct list_tasks_request *ret, struct orch_error *e)
{
	const char *desired;

	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) || !get_str(in, "family", ORCH_MAX_NAME, &ret->family, e) ||
	    !get_str(in, "serviceName", ORCH_MAX_NAME, &ret->service_name, e) ||
	    !get_str(in, "startedBy", ORCH_MAX_STARTED_BY, &ret->started_by, e) ||
	    !get_str(in, "desiredStatus", ORCH_MAX_STATUS, &desired, e) ||
	    !get_int(in, "maxResults", 1, 100, &ret->has_max_results, &ret->max_results, e) ||
	    !get_str(in, "nextToken", ORCH_MAX_NEXT_TOKEN, &ret->next_token, e))
		return -1;
	if (!desired || strcmp(desired, "RUNNING") == 0)
		ret->desired_status = ORCH_DESIRED_RUNNING;
	else if (strcmp(desired, "STOPPED") == 0)
		ret->desired_status = ORCH_DESIRED_STOPPED;
	else if (strcmp(desired, "PENDING") == 0)
		ret->desired_status = ORCH_DESIRED_PENDING;
	else if (!desired[0] || strlen(desired) > ORCH_MAX_STATUS)
		return fail(e, "desiredStatus must be a string of 1 to %u characters", ORCH_MAX_STATUS);
	else
		return fail(e, "desiredStatus must be RUNNING, PENDING or STOPPED");
	return 0;
}

int ecs_read_get_task_logs(const struct jnode *in, struct get_task_logs_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) || !get_str(in, "task", ORCH_MAX_REF, &ret->task, e) ||
	    !get_str(in, "container", ORCH_MAX_NAME, &ret->container, e) ||
	    !get_int(in, "tailBytes", 1, (int64_t)ORCH_MAX_TAIL_BYTES, &ret->has_tail_bytes, &ret->tail_bytes, e))
		return -1;
	return 0;
}

/* deploymentConfiguration and healthCheckGracePeriodSeconds. */
static int read_deployment_config(const struct jnode *in, struct orch_deployment_config *ret, struct orch_error *e)
{
	const struct jnode *dc = member(in, "deploymentConfiguration");
	if (dc && dc->type != JNODE_OBJECT)
		return fail(e, "deploymentConfiguration must be an object");
	if (!get_int(dc, "minimumHealthyPercent", 0, 100, &ret->has_minimum_healthy_percent,
		     &ret->minimum_healthy_percent, e) ||
	    !get_int(dc, "maximumPercent", 100, 200, &ret->has_maximum_percent, &ret->maximum_percent, e) ||
	    !get_int(in, "healthCheckGracePeriodSeconds", 0, 2147483647, &ret->has_health_check_grace_period,
		     &ret->health_check_grace_period_s, e))
		return -1;
	const struct jnode *cb = dc ? jnode_get(dc, "deploymentCircuitBreaker") : NULL;
	if (cb) {
		const struct jnode *en = cb->type == JNODE_OBJECT ? jnode_get(cb, "enable") : NULL;
		const struct jnode *rb = cb->type == JNODE_OBJECT ? jnode_get(cb, "rollback") : NULL;
		bool bools = en && rb && (en->type == JNODE_TRUE || en->type == JNODE_FALSE) &&
			     (rb->type == JNODE_TRUE || rb->type == JNODE_FALSE);
		if (!bools)
			return fail(e, "deploymentCircuitBreaker needs enable and rollback, both booleans");
		ret->has_circuit_breaker = true;
		ret->circuit_breaker_enable = en->type == JNODE_TRUE;
		ret->circuit_breaker_rollback = rb->type == JNODE_TRUE;
	}
	return 0;
}

int ecs_read_create_service(const struct jnode *in, struct create_service_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) ||
	    !get_str(in, "serviceName", ORCH_MAX_REF, &ret->service_name, e) ||
	    !get_str(in, "taskDefinition", ORCH_MAX_REF, &ret->task_definition, e) ||
	    !get_launch_type(in, ORCH_MAX_REF, &ret->launch_type, e) ||
	    !get_int(in, "desiredCount", 0, ORCH_MAX_SERVICE_DESIRED, &ret->has_desired_count, &ret->desired_count, e))
		return -1;
	return read_deployment_config(in, &ret->config, e);
}

int ecs_read_update_service(const struct jnode *in, struct update_service_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) || !get_str(in, "service", ORCH_MAX_REF, &ret->service, e) ||
	    !get_str(in, "taskDefinition", ORCH_MAX_REF, &ret->task_definition, e) ||
	    !get_int(in, "desiredCount", 0, ORCH_MAX_SERVICE_DESIRED, &ret->has_desired_count, &ret->desired_count, e))
		return -1;
	const struct jnode *force = member(in, "forceNewDeployment");
	if (force && force->type != JNODE_TRUE && force->type != JNODE_FALSE)
		return fail(e, "forceNewDeployment must be a boolean");
	ret->force_new_deployment = force && force->type == JNODE_TRUE;
	return read_deployment_config(in, &ret->config, e);
}

int ecs_read_delete_service(const struct jnode *in, struct delete_service_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) || !get_str(in, "service", ORCH_MAX_REF, &ret->service, e))
		return -1;
	const struct jnode *force = member(in, "force");
	ret->force = force && force->type == JNODE_TRUE;
	return 0;
}

int ecs_read_describe_services(const struct jnode *in, struct ecs_arena *a,
			       struct describe_services_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) ||
	    !get_refs(in, "services", a, &ret->services, &ret->n_services, "1 to 10 names or ARNs", e))
		return -1;
	return 0;
}

int ecs_read_list_services(const struct jnode *in, struct list_services_request *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!get_cluster(in, &ret->cluster, e) ||
	    !get_int(in, "maxResults", 1, 100, &ret->has_max_results, &ret->max_results, e) ||
	    !get_str(in, "nextToken", ORCH_MAX_REF, &ret->next_token, e))
		return -1;
	return 0;
}

/* ------------------------------------------------------------ answers */

static json_t *failures_json(const struct orch_failure *f, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *j = f[i].detail ? json_pack("{s:s,s:s,s:s}", "arn", f[i].arn, "reason", f[i].reason, "detail",
						    f[i].detail)
					: json_pack("{s:s,s:s}", "arn", f[i].arn, "reason", f[i].reason);
		if (!j || json_array_append_new(a, j) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *tasks_json(struct task *const *tasks, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *t = orch_task_json(tasks[i]);
		if (!t || json_array_append_new(a, t) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *ecs_run_task_answer(const struct run_task_result *r)
{
	return json_pack("{s:o*,s:o*}", "tasks", tasks_json(r->tasks, r->n_tasks), "failures",
			 failures_json(r->failures, r->n_failures));
}

json_t *ecs_describe_tasks_answer(const struct describe_tasks_result *r)
{
	return json_pack("{s:o*,s:o*}", "tasks", tasks_json(r->tasks, r->n_tasks), "failures",
			 failures_json(r->failures, r->n_failures));
}

json_t *ecs_describe_services_answer(const struct describe_services_result *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n_services; i++) {
		json_t *s = orch_service_json(r->services[i]);
		if (!s || json_array_append_new(a, s) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return json_pack("{s:o*,s:o*}", "services", a, "failures", failures_json(r->failures, r->n_failures));
}

json_t *ecs_arn_page_answer(const struct orch_arn_page *p, const char *member_name)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < p->n; i++) {
		if (json_array_append_new(a, json_string(p->arns[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	json_t *j = json_pack("{s:o*}", member_name, a);
	if (j && p->next_token[0] && json_object_set_new(j, "nextToken", json_string(p->next_token)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *ecs_task_logs_answer(const struct get_task_logs_result *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n; i++) {
		const struct orch_task_log *l = &r->containers[i];
		json_t *j = json_pack("{s:s,s:s%,s:b}", "name", l->name, "log", l->text, l->len, "truncated", l->truncated);
		if (!j || json_array_append_new(a, j) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return json_pack("{s:o*}", "containers", a);
}

/* ------------------------------------------------------------ clusters */

static char *static_cluster_arn(const struct tripline_config *cfg)
{
	char *s = NULL;
	if (asprintf(&s, "arn:aws:ecs:%s:%s:cluster/%s", cfg->region, cfg->account, cfg->cluster.name) < 0)
		return NULL;
	return s;
}

/* The cluster without an orchestrator: no tasks, no services. */
static json_t *static_cluster_json(const struct tripline_config *cfg)
{
	char *arn = static_cluster_arn(cfg);
	json_t *j = arn ? json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i}", "clusterArn", arn, "clusterName",
				    cfg->cluster.name, "status", "ACTIVE", "registeredContainerInstancesCount", 1,
				    "runningTasksCount", 0, "pendingTasksCount", 0, "activeServicesCount", 0)
			: NULL;
	free(arn);
	return j;
}

static json_t *cluster_json(const struct api_ctx *x)
{
	return x->orch ? orch_cluster_json(x->orch) : static_cluster_json(x->cfg);
}

static bool is_our_cluster(const struct tripline_config *cfg, const char *s, size_t n)
{
	char *arn = static_cluster_arn(cfg);
	bool ok = (strlen(cfg->cluster.name) == n && memcmp(s, cfg->cluster.name, n) == 0) ||
		  (arn && strlen(arn) == n && memcmp(s, arn, n) == 0);
	free(arn);
	return ok;
}

static void op_list_clusters(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			     struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	bool has_max;
	int64_t max;

	(void)body, (void)len;
	/* one cluster: the first page is the whole list, and there is no token to give back */
	if (!get_int(in, "maxResults", 1, ECS_LIST_MAX, &has_max, &max, &e) ||
	    (has_max && (max < 1 || max > ECS_LIST_MAX))) {
		api_answer_error(ret, 400, bad_param, "maxResults must be an integer from 1 to %u", ECS_LIST_MAX);
		return;
	}
	if (member(in, "nextToken")) {
		api_answer_error(ret, 400, bad_param, "nextToken is not valid");
		return;
	}
	char *arn = static_cluster_arn(x->cfg);
	ret->status = 200;
	ret->body = arn ? json_pack("{s:[s]}", "clusterArns", arn) : NULL;
	free(arn);
}

static void op_describe_clusters(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
				 struct api_answer *ret)
{
	const struct jnode *names = jnode_get(in, "clusters");
	json_t *clusters = json_array(), *failures = json_array();

	(void)body, (void)len;
	if (names && names->type != JNODE_ARRAY) {
		json_decref(clusters);
		json_decref(failures);
		api_answer_error(ret, 400, bad_param, "clusters must be a list of names or ARNs");
		return;
	}
	if (!names)
		json_array_append_new(clusters, cluster_json(x));   /* the default cluster */
	for (size_t i = 0; names && i < names->len; i++) {
		const struct jnode *n = names->u.items[i];
		if (n->type != JNODE_STRING) {
			json_decref(clusters);
			json_decref(failures);
			api_answer_error(ret, 400, bad_param, "clusters must be a list of names or ARNs");
			return;
		}
		if (is_our_cluster(x->cfg, n->u.str, n->len))
			json_array_append_new(clusters, cluster_json(x));
		else
			json_array_append_new(failures, json_pack("{s:s#,s:s}", "arn", n->u.str, (int)n->len, "reason",
								  "MISSING"));
	}
	ret->status = 200;
	ret->body = json_pack("{s:o*,s:o*}", "clusters", clusters, "failures", failures);
}

/* ------------------------------------------------------------ task definitions */

/* The registry's view of a definition as ECS returns it: {"taskDefinition": …, "tags": […]}. */
static json_t *taskdef_out(const struct taskdef *td, bool with_tags)
{
	json_error_t je;
	json_t *t = json_loads(td->json, 0, &je);
	if (!t)
		return NULL;
	json_t *out = json_pack("{s:o}", "taskDefinition", t);
	if (out && with_tags) {
		json_t *tags = json_loads(td->tags_json, 0, &je);
		if (!tags || json_object_set_new(out, "tags", tags) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* RegisterTaskDefinition: an "env:NAME" secret reference this daemon would
 * never resolve (orch_secret_ref_allowed) is refused now, each with its
 * pointer, rather than failing every launch. False with ret filled. */
static bool secret_refs_allowed(const struct api_ctx *x, const struct jnode *in, struct api_answer *ret)
{
	const struct jnode *cds = jnode_get(in, "containerDefinitions");
	char *msg = NULL, why[512];
	size_t mlen = 0, bad = 0;
	FILE *f;

	if (!x->orch || !cds || cds->type != JNODE_ARRAY || !(f = open_memstream(&msg, &mlen)))
		return true;   /* no orchestrator, nothing to launch; a malformed request is taskdef.c's to report */
	for (size_t i = 0; i < cds->len; i++) {
		const struct jnode *sec = cds->u.items[i]->type == JNODE_OBJECT ? jnode_get(cds->u.items[i], "secrets")
										 : NULL;
		for (size_t k = 0; sec && sec->type == JNODE_ARRAY && k < sec->len; k++) {
			const struct jnode *ref = sec->u.items[k]->type == JNODE_OBJECT
							  ? jnode_get(sec->u.items[k], "valueFrom") : NULL;
			if (!is_string(ref) || orch_secret_ref_allowed(x->orch, ref->u.str, why, sizeof(why)))
				continue;
			fprintf(f, "%srequest: /containerDefinitions/%zu/secrets/%zu/valueFrom: %s", bad++ ? "\n" : "",
				i, k, why);
		}
	}
	if (fclose(f) != 0 || !msg) {
		free(msg);
		return true;   /* out of memory: every launch still checks */
	}
	if (bad)
		api_answer_error(ret, 400, "ClientException", "%s", msg);
	free(msg);
	return bad == 0;
}

static void op_register_task_definition(const struct api_ctx *x, const char *body, size_t len,
					const struct jnode *in, struct api_answer *ret)
{
	struct errlist errs = ERRLIST_INIT;
	const struct taskdef *td;

	if (!secret_refs_allowed(x, in, ret))
		return;
	int r = taskdef_register(x->taskdefs, body, len, "request", &td, &errs);

	if (r == -EINVAL) {
		/* every problem, one per line, as the rest of tripline reports them */
		char *msg = NULL;
		size_t mlen = 0;
		FILE *f = open_memstream(&msg, &mlen);
		for (size_t i = 0; f && i < errs.n; i++)
			fprintf(f, "%s%s", i ? "\n" : "", errs.msgs[i]);
		if (f)
			fclose(f);
		api_answer_error(ret, 400, "ClientException", "%s", msg ? msg : "invalid task definition");
		free(msg);
	} else if (r < 0) {
		/* the disk (full, failing) or memory: ours, never the caller's */
		log_error("api", "RegisterTaskDefinition: cannot store the task definition: %s", strerror(-r));
		api_answer_error(ret, 500, "ServerException", "the task definition could not be stored: %s",
				 strerror(-r));
	} else {
		log_info("api", "registered %s", td->arn);
		ret->status = 200;
		ret->body = taskdef_out(td, true);
	}
	errlist_clear(&errs);
}

/* The string member key of in, or NULL (with a 400 written) when missing or not a string. */
static const char *required_string(const struct jnode *in, const char *key, struct api_answer *ret)
{
	const struct jnode *n = jnode_get(in, key);
	if (!is_string(n)) {
		api_answer_error(ret, 400, "ClientException", "%s is required and must be a string", key);
		return NULL;
	}
	return n->u.str;
}

static void taskdef_lookup_answer(int r, const struct taskdef *td, bool tags, struct api_answer *ret)
{
	if (r == -EINVAL)
		api_answer_error(ret, 400, "ClientException", "Invalid revision number or task definition reference.");
	else if (r == -ENOENT)
		api_answer_error(ret, 400, "ClientException", "Unable to describe task definition.");
	else if (r < 0) {
		log_error("api", "cannot store the task definition's new status: %s", strerror(-r));
		api_answer_error(ret, 500, "ServerException", "the task definition could not be stored: %s",
				 strerror(-r));
	} else {
		ret->status = 200;
		ret->body = taskdef_out(td, tags);
	}
}

static void op_describe_task_definition(const struct api_ctx *x, const char *body, size_t len,
					const struct jnode *in, struct api_answer *ret)
{
	const struct taskdef *td = NULL;
	(void)body, (void)len;
	const char *ref = required_string(in, "taskDefinition", ret);
	if (!ref)
		return;
	const struct jnode *inc = jnode_get(in, "include");
	bool tags = false;
	for (size_t i = 0; inc && inc->type == JNODE_ARRAY && i < inc->len; i++)
		tags |= jnode_streq(inc->u.items[i], "TAGS");
	int r = taskdef_describe(x->taskdefs, ref, &td);
	taskdef_lookup_answer(r, td, tags, ret);
}

static void op_deregister_task_definition(const struct api_ctx *x, const char *body, size_t len,
					  const struct jnode *in, struct api_answer *ret)
{
	const struct taskdef *td = NULL;
	(void)body, (void)len;
	const char *ref = required_string(in, "taskDefinition", ret);
	if (!ref)
		return;
	int r = taskdef_deregister(x->taskdefs, ref, &td);
	taskdef_lookup_answer(r, td, false, ret);
}

/* DeleteTaskDefinitions: each reference deleted or a failure; the revisions
 * nothing holds any more are removed once the answer is made. */
static void op_delete_task_definitions(const struct api_ctx *x, const char *body, size_t len,
				       const struct jnode *in, struct api_answer *ret)
{
	const struct jnode *refs = member(in, "taskDefinitions");
	json_t *tds = json_array(), *failures = json_array();
	int r = 0;

	(void)body, (void)len;
	if (!refs || refs->type != JNODE_ARRAY || refs->len < 1 || refs->len > ECS_MAX_DELETE_TASKDEFS) {
		json_decref(tds);
		json_decref(failures);
		api_answer_error(ret, 400, "ClientException",
				 "taskDefinitions must be a list of 1 to %u family:revision references or ARNs",
				 ECS_MAX_DELETE_TASKDEFS);
		return;
	}
	for (size_t i = 0; i < refs->len && tds && failures; i++) {
		const struct jnode *n = refs->u.items[i];
		const struct taskdef *td = NULL;
		const char *why = NULL;

		if (!is_string(n)) {
			json_decref(tds);
			json_decref(failures);
			api_answer_error(ret, 400, "ClientException", "taskDefinitions[%zu] must be a string", i);
			return;
		}
		r = taskdef_delete(x->taskdefs, n->u.str, &td);
		if (r == -EINVAL)
			why = "The specified task definition is not valid: it must be family:revision or an ARN with "
			      "a revision.";
		else if (r == -ENOENT)
			why = "The specified task definition does not exist.";
		else if (r == -EBUSY)
			why = "The specified task definition is still in ACTIVE status. Please deregister the target "
			      "and try again.";
		else if (r < 0)
			break;
		if (why) {
			json_array_append_new(failures, json_pack("{s:s,s:s}", "arn", n->u.str, "reason", why));
			r = 0;
			continue;
		}
		json_error_t je;
		json_array_append_new(tds, json_loads(td->json, 0, &je));
	}
	if (r < 0) {
		json_decref(tds);
		json_decref(failures);
		log_error("api", "DeleteTaskDefinitions: cannot store the task definition's new status: %s",
			  strerror(-r));
		api_answer_error(ret, 500, "ServerException", "the task definition could not be stored: %s",
				 strerror(-r));
	} else {
		ret->status = 200;
		ret->body = json_pack("{s:o*,s:o*}", "taskDefinitions", tds, "failures", failures);
	}
	taskdef_registry_sweep(x->taskdefs);
}

/* One page of a task-definition listing: at most max names; one more
 * seen means there is a next page, which starts after `last`. */
struct taskdef_page {
	json_t *names;
	size_t max, n;
	bool more;
	char last[ECS_MAX_FAMILY + 16];   /* family[:revision] of the last name */
};

static int page_add(struct taskdef_page *p, const char *name)
{
	if (p->n == p->max) {
		p->more = true;
		return 1;
	}
	p->n++;
	return json_array_append_new(p->names, json_string(name)) < 0 ? -ENOMEM : 0;
}

static int add_arn(const struct taskdef *td, void *ud)
{
	struct taskdef_page *p = ud;
	int r = page_add(p, td->arn);

	if (r == 0)
		snprintf(p->last, sizeof(p->last), "%s:%u", td->family, td->revision);
	return r;
}

static int add_family(const char *family, void *ud)
{
	struct taskdef_page *p = ud;
	int r = page_add(p, family);

	if (r == 0)
		snprintf(p->last, sizeof(p->last), "%s", family);
	return r;
}

/* A nextToken of ListTaskDefinitions ("family:revision") or of
 * ListTaskDefinitionFamilies ("family"), as page_add() made it. */
static bool read_token(const char *tok, bool families, char family[ECS_MAX_FAMILY + 1], unsigned *ret_rev)
{
	const char *colon = families ? NULL : strrchr(tok, ':');
	size_t flen = colon ? (size_t)(colon - tok) : strlen(tok);
	unsigned long long rev = 0;
	char *end = NULL;

	if ((!families && !colon) || flen < 1 || flen > ECS_MAX_FAMILY ||
	    strspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != flen)
		return false;
	if (colon) {
		errno = 0;
		rev = strtoull(colon + 1, &end, 10);
		if (!(colon[1] >= '1' && colon[1] <= '9') || *end || errno || rev > TASKDEF_MAX_REVISIONS)
			return false;
	}
	memcpy(family, tok, flen);
	family[flen] = '\0';
	*ret_rev = (unsigned)rev;
	return true;
}

/* ListTaskDefinitions and ListTaskDefinitionFamilies: the same request
 * members (status, familyPrefix, maxResults, nextToken; and sort for the
 * first), a page of names under `member_name` and the nextToken of the next
 * page, if any. */
static void list_taskdefs(const struct api_ctx *x, const struct jnode *in, bool families, const char *member_name,
			  struct api_answer *ret)
{
	const struct jnode *s = member(in, "status"), *prefix = member(in, "familyPrefix");
	const struct jnode *token = member(in, "nextToken");
	enum taskdef_filter f = TASKDEF_FILTER_ACTIVE;
	struct orch_error e = {NULL, ""};
	struct taskdef_page page = {.max = ECS_LIST_DEFAULT};
	char after[ECS_MAX_FAMILY + 1];
	unsigned after_rev = 0;
	bool ok = true, has_max;
	int64_t max;

	if (s && jnode_streq(s, "INACTIVE"))
		f = TASKDEF_FILTER_INACTIVE;
	else if (s && jnode_streq(s, "ALL"))
		f = TASKDEF_FILTER_ALL;
	else if (s && !families && jnode_streq(s, "DELETE_IN_PROGRESS"))
		f = TASKDEF_FILTER_DELETE_IN_PROGRESS;
	else if (s)
		ok = jnode_streq(s, "ACTIVE");
	const struct jnode *sort = families ? NULL : member(in, "sort");
	bool desc = sort && jnode_streq(sort, "DESC");
	if (sort && !desc && !jnode_streq(sort, "ASC")) {
		api_answer_error(ret, 400, "ClientException", "sort must be ASC or DESC");
		return;
	}
	if (!ok || (prefix && !is_string(prefix))) {
		api_answer_error(ret, 400, "ClientException", "status must be %s; familyPrefix a string",
				 families ? "ACTIVE, INACTIVE or ALL" : "ACTIVE, INACTIVE, DELETE_IN_PROGRESS or ALL");
		return;
	}
	if (!get_int(in, "maxResults", 1, ECS_LIST_MAX, &has_max, &max, &e) ||
	    (has_max && (max < 1 || max > ECS_LIST_MAX))) {
		api_answer_error(ret, 400, bad_param, "maxResults must be an integer from 1 to %u", ECS_LIST_MAX);
		return;
	}
	if (token && (!is_string(token) || !read_token(token->u.str, families, after, &after_rev))) {
		api_answer_error(ret, 400, bad_param, "nextToken is not valid");
		return;
	}
	if (has_max)
		page.max = (size_t)max;
	const char *p = prefix ? prefix->u.str : NULL;
	const char *from = token ? after : NULL;
	int r = !(page.names = json_array()) ? -ENOMEM
		: families ? taskdef_list_families(x->taskdefs, p, f, from, add_family, &page)
			   : taskdef_list(x->taskdefs, p, f, desc, from, after_rev, add_arn, &page);
	json_t *body = r >= 0 ? json_pack("{s:o}", member_name, page.names) : NULL;
	if (!body || (page.more && json_object_set_new(body, "nextToken", json_string(page.last)) < 0)) {
		if (!body)
			json_decref(page.names);
		json_decref(body);
		api_answer_error(ret, 500, "ServerException", "out of memory");
		return;
	}
	ret->status = 200;
	ret->body = body;
}

static void op_list_task_definitions(const struct api_ctx *x, const char *body, size_t len,
				     const struct jnode *in, struct api_answer *ret)
{
	(void)body, (void)len;
	list_taskdefs(x, in, false, "taskDefinitionArns", ret);
}

static void op_list_task_definition_families(const struct api_ctx *x, const char *body, size_t len,
					     const struct jnode *in, struct api_answer *ret)
{
	(void)body, (void)len;
	list_taskdefs(x, in, true, "families", ret);
}

/* ------------------------------------------------------------ tasks and services */

/* api.c answers 503 for these when no orchestrator runs, so x->orch is set. */

/* The answer to a request read (r from the reader, then from the core):
 * body when both succeeded; else the error, a 4xx for the caller's mistakes
 * and a 500 (logged) for the core's own faults. */
static void respond(struct api_answer *ret, int r, const struct orch_error *e, json_t *body)
{
	if (r == 0) {
		ret->status = 200;
		ret->body = body;
		return;
	}
	json_decref(body);
	bool ours = !e->type || strcmp(e->type, "ServerException") == 0;
	if (ours)
		log_error("api", "%s", e->message);
	api_answer_error(ret, ours ? 500 : 400, e->type ? e->type : "ServerException", "%s", e->message);
}

static json_t *service_answer(const struct service *s)
{
	return json_pack("{s:o*}", "service", orch_service_json(s));
}

static void op_run_task(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			struct api_answer *ret)
{
	struct ecs_arena a = ECS_ARENA_INIT;
	struct orch_error e = {NULL, ""};
	struct run_task_request req;
	struct run_task_result res;
	int r = ecs_read_run_task(in, &a, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_run_task(x->orch, &req, &res, &e);
	respond(ret, r, &e, r == 0 ? ecs_run_task_answer(&res) : NULL);
	ecs_arena_free(&a);
}

static void op_stop_task(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			 struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct stop_task_request req;
	struct task *t = NULL;
	int r = ecs_read_stop_task(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_stop_task(x->orch, &req, &t, &e);
	respond(ret, r, &e, r == 0 ? json_pack("{s:o*}", "task", orch_task_json(t)) : NULL);
}

static void op_describe_tasks(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			      struct api_answer *ret)
{
	struct ecs_arena a = ECS_ARENA_INIT;
	struct orch_error e = {"ServerException", "out of memory"};
	struct describe_tasks_request req;
	struct describe_tasks_result *res = malloc(sizeof(*res));   /* 100 of each: not on the stack */
	int r = res ? ecs_read_describe_tasks(in, &a, &req, &e) : -1;

	(void)body, (void)len;
	if (r == 0)
		r = orch_describe_tasks(x->orch, &req, res, &e);
	respond(ret, r, &e, r == 0 ? ecs_describe_tasks_answer(res) : NULL);
	free(res);
	ecs_arena_free(&a);
}

static void op_list_tasks(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			  struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct list_tasks_request req;
	struct orch_arn_page page = {NULL, 0, ""};
	int r = ecs_read_list_tasks(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_list_tasks(x->orch, &req, &page, &e);
	respond(ret, r, &e, r == 0 ? ecs_arn_page_answer(&page, "taskArns") : NULL);
	orch_arn_page_clear(&page);
}

static void op_get_task_logs(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			     struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct get_task_logs_request req;
	struct get_task_logs_result res = {.n = 0};
	int r = ecs_read_get_task_logs(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_get_task_logs(x->orch, &req, &res, &e);
	respond(ret, r, &e, r == 0 ? ecs_task_logs_answer(&res) : NULL);
	orch_task_logs_clear(&res);
}

static void op_create_service(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			      struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct create_service_request req;
	struct service *s = NULL;
	int r = ecs_read_create_service(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_create_service(x->orch, &req, &s, &e);
	respond(ret, r, &e, r == 0 ? service_answer(s) : NULL);
}

static void op_update_service(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			      struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct update_service_request req;
	struct service *s = NULL;
	int r = ecs_read_update_service(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_update_service(x->orch, &req, &s, &e);
	respond(ret, r, &e, r == 0 ? service_answer(s) : NULL);
}

static void op_delete_service(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			      struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct delete_service_request req;
	struct service *s = NULL;
	int r = ecs_read_delete_service(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_delete_service(x->orch, &req, &s, &e);
	respond(ret, r, &e, r == 0 ? service_answer(s) : NULL);
}

static void op_describe_services(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
				 struct api_answer *ret)
{
	struct ecs_arena a = ECS_ARENA_INIT;
	struct orch_error e = {NULL, ""};
	struct describe_services_request req;
	struct describe_services_result res;
	int r = ecs_read_describe_services(in, &a, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_describe_services(x->orch, &req, &res, &e);
	respond(ret, r, &e, r == 0 ? ecs_describe_services_answer(&res) : NULL);
	ecs_arena_free(&a);
}

static void op_list_services(const struct api_ctx *x, const char *body, size_t len, const struct jnode *in,
			     struct api_answer *ret)
{
	struct orch_error e = {NULL, ""};
	struct list_services_request req;
	struct orch_arn_page page = {NULL, 0, ""};
	int r = ecs_read_list_services(in, &req, &e);

	(void)body, (void)len;
	if (r == 0)
		r = orch_list_services(x->orch, &req, &page, &e);
	respond(ret, r, &e, r == 0 ? ecs_arn_page_answer(&page, "serviceArns") : NULL);
	orch_arn_page_clear(&page);
}

const struct api_op api_ecs_ops[] = {
	{ECS_PREFIX "ListClusters", op_list_clusters, false},
	{ECS_PREFIX "DescribeClusters", op_describe_clusters, false},
	{ECS_PREFIX "RegisterTaskDefinition", op_register_task_definition, false},
	{ECS_PREFIX "DescribeTaskDefinition", op_describe_task_definition, false},
	{ECS_PREFIX "DeregisterTaskDefinition", op_deregister_task_definition, false},
	{ECS_PREFIX "DeleteTaskDefinitions", op_delete_task_definitions, false},
	{ECS_PREFIX "ListTaskDefinitions", op_list_task_definitions, false},
	{ECS_PREFIX "ListTaskDefinitionFamilies", op_list_task_definition_families, false},
	{ECS_PREFIX "RunTask", op_run_task, true},
	{ECS_PREFIX "StopTask", op_stop_task, true},
	{ECS_PREFIX "DescribeTasks", op_describe_tasks, true},
	{ECS_PREFIX "ListTasks", op_list_tasks, true},
	{ECS_PREFIX "CreateService", op_create_service, true},
	{ECS_PREFIX "UpdateService", op_update_service, true},
	{ECS_PREFIX "DeleteService", op_delete_service, true},
	{ECS_PREFIX "DescribeServices", op_describe_services, true},
	{ECS_PREFIX "ListServices", op_list_services, true},
	{TRIPLINE_PREFIX "GetTaskLogs", op_get_task_logs, true},
};
const size_t api_ecs_n_ops = sizeof(api_ecs_ops) / sizeof(api_ecs_ops[0]);
