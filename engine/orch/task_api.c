/*
 * task_api.c — the task operations of orch.h: RunTask, StopTask,
 * DescribeTasks, ListTasks and tripline's GetTaskLogs.
 *
 * Each checks its request the way ECS does, in ECS's words (member names
 * and limits), then acts; nothing is changed by a request that fails a
 * check. RunTask places up to ORCH_MAX_RUN_COUNT tasks; one that does not
 * fit is a failures[] entry (RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:TASKS),
 * not an error. A clientToken seen within its lifetime (ORCH_CLIENT_TOKEN_TTL_S,
 * or the longer client_token_ttl_s the request asked for) answers
 * with the tasks of the first call and launches nothing when the request's
 * parameters are the same (a SHA-256 of their JSON form, clientToken and
 * cluster left out); with other parameters it is ECS's ConflictException.
 * A new clientToken when the token store is full is refused
 * (LimitExceededException, counted) before anything is launched.
 * Every task RunTask answers with is on disk already (task.c), and so is
 * its clientToken (client_token.c). List operations
 * page with nextToken (the index of the next item, as text).
 */
#include "orch_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logger.h"
#include "orch_state.h"

#define LIST_TASKS_DEFAULT 100
#define LIST_MAX 100

static const char *const no_capacity = "no capacity left on the cluster for this task";

/* The task a request names, or NULL with e filled. */
static struct task *required_task(struct orch *o, const char *ref, struct orch_error *e)
{
	struct task *t = ref ? orch_task_find(o, ref) : NULL;
	if (!ref)
		orch_set_error(e, "InvalidParameterException", "task is required");
	else if (!t)
		orch_set_error(e, "InvalidParameterException", "The referenced task was not found.");
	return t;
}

/* The digest (hex) of what a RunTask asks for, for its clientToken. */
static int request_digest(const struct run_task_request *req, int64_t count,
			  char out[CLIENT_TOKEN_PARAMS_LEN + 1])
{
	json_t *j = json_pack("{s:s,s:I,s:s?,s:s?,s:i,s:o?}", "taskDefinition", req->task_definition, "count",
			      (json_int_t)count, "group", req->group, "startedBy", req->started_by,
			      "launchType", (int)req->launch_type, "overrides",
			      orch_overrides_json(&req->overrides));
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int r = text ? client_token_digest(text, strlen(text), out) : -ENOMEM;

	json_decref(j);
	free(text);
	return r;
}

int orch_run_task(struct orch *o, const struct run_task_request *req, struct run_task_result *ret,
		  struct orch_error *e)
{
	const struct taskdef *td = NULL;
	int64_t count = req->has_count ? req->count : 1;

	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e) ||
	    !orch_check_string("taskDefinition", req->task_definition, ORCH_MAX_REF, e) ||
	    !orch_check_string("group", req->group, ORCH_MAX_GROUP, e) ||
	    !orch_check_string("startedBy", req->started_by, ORCH_MAX_STARTED_BY, e) ||
	    !orch_check_string("clientToken", req->client_token, ORCH_MAX_CLIENT_TOKEN, e) ||
	    !orch_check_int("count", count, 1, ORCH_MAX_RUN_COUNT, e))
		return -1;
	if (!req->task_definition) {
		orch_set_error(e, "InvalidParameterException", "taskDefinition is required");
		return -1;
	}
	if (!orch_active_taskdef(o, req->task_definition, &td, e) || !orch_overrides_check(&req->overrides, td, e))
		return -1;

	char ids[ORCH_MAX_RUN_COUNT][33], params[CLIENT_TOKEN_PARAMS_LEN + 1] = "";
	uint64_t now = orch_mono_ms(o);
	bool mismatch = false, seen = false;
	size_t known = 0;
	if (req->client_token) {
		if (request_digest(req, count, params) < 0) {
			orch_set_error(e, "ServerException", "out of memory");
			return -1;
		}
		seen = client_tokens_get(o->tokens, req->client_token, params, now, ids, ORCH_MAX_RUN_COUNT,
					 &known, &mismatch);
		if (!seen && !orch_client_token_room(o, e))
			return -1;
	}
	if (seen && mismatch) {
		char list[400] = "";
		size_t len = 0;
		for (size_t i = 0; i < known && len + 40 < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", ids[i]);
		orch_set_error(e, "ConflictException",
			       "The provided clientToken is already in use with a different RunTask request "
			       "(its tasks: %s). Use a unique clientToken, or the original parameters.", list);
		return -1;
	}
	if (seen) {
		/* the same token within its lifetime: the same tasks, nothing new */
		for (size_t i = 0; i < known; i++) {
			struct task *t = orch_task_find(o, ids[i]);
			if (t)
				ret->tasks[ret->n_tasks++] = t;
		}
		return 0;
	}
	if (req->client_token) {
		o->launch_token = req->client_token;
		o->launch_params = params;
		o->launch_ttl_s = req->client_token_ttl_s;
	}
	bool failed = false;
	for (int64_t i = 0; i < count; i++) {
		const char *failure = NULL;
		struct task *t = orch_launch_task(o, td, req->group, req->started_by, NULL, NULL, &req->overrides,
						  req->launch_type, e, &failure);
		if (!t && !failure) {
			failed = true;   /* what was launched stays launched */
			break;
		}
		if (!t) {
			ret->failures[ret->n_failures++] = (struct orch_failure){o->instance_arn, failure, no_capacity};
			continue;
		}
		log_info("orch", "task %s started from %s", t->id, td->arn);
		memcpy(ids[ret->n_tasks], t->id, sizeof(ids[0]));
		ret->tasks[ret->n_tasks++] = t;
	}
	o->launch_token = o->launch_params = NULL;
	if (failed && ret->n_tasks == 0)
		return -1;   /* nothing launched, for the reason in e */
	if (req->client_token && ret->n_tasks) {
		client_tokens_put(o->tokens, req->client_token, params, now, orch_wall_ms(o),
				  req->client_token_ttl_s, (const char(*)[33])ids, ret->n_tasks);
	}
	return 0;
}

int orch_stop_task(struct orch *o, const struct stop_task_request *req, struct task **ret_task,
		   struct orch_error *e)
{
	*ret_task = NULL;
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_string("task", req->task, ORCH_MAX_REF, e) ||
	    !orch_check_string("reason", req->reason, ORCH_MAX_REASON, e))
		return -1;
	struct task *t = required_task(o, req->task, e);
	if (!t)
		return -1;
	orch_task_stop(t, SC_USER_INITIATED, req->reason ? req->reason : "Task stopped by the user");
	if (t->service)
		orch_want_converge(o);
	*ret_task = t;
	return 0;
}

int orch_describe_tasks(struct orch *o, const struct describe_tasks_request *req,
			struct describe_tasks_result *ret, struct orch_error *e)
{
	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e))
		return -1;
	if (req->n_tasks > ORCH_MAX_DESCRIBE_TASKS) {
		orch_set_error(e, "InvalidParameterException", "tasks must be a list of 1 to 100 task IDs or ARNs");
		return -1;
	}
	for (size_t i = 0; i < req->n_tasks; i++) {
		const char *ref = req->tasks[i] ? req->tasks[i] : "";
		struct task *t = orch_task_find(o, ref);
		if (t)
			ret->tasks[ret->n_tasks++] = t;
		else
			ret->failures[ret->n_failures++] = (struct orch_failure){ref, "MISSING", NULL};
	}
	return 0;
}

void orch_arn_page_clear(struct orch_arn_page *p)
{
	free(p->arns);
	memset(p, 0, sizeof(*p));
}

int orch_list_tasks(struct orch *o, const struct list_tasks_request *req, struct orch_arn_page *ret,
		    struct orch_error *e)
{
	int64_t max = req->has_max_results ? req->max_results : LIST_TASKS_DEFAULT;
	size_t start = 0;

	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_string("family", req->family, ORCH_MAX_NAME, e) ||
	    !orch_check_string("serviceName", req->service_name, ORCH_MAX_NAME, e) ||
	    !orch_check_string("startedBy", req->started_by, ORCH_MAX_STARTED_BY, e))
		return -1;
	/* PENDING is never a desired status here: an empty list, as ECS */
	enum task_status want = req->desired_status == ORCH_DESIRED_STOPPED   ? TS_STOPPED
				: req->desired_status == ORCH_DESIRED_PENDING ? TS_PENDING
									      : TS_RUNNING;
	struct service *s = NULL;
	if (req->service_name && !(s = service_find(o, req->service_name))) {
		orch_set_error(e, "ServiceNotFoundException", "Service not found.");
		return -1;
	}
	if (!orch_check_int("maxResults", max, 1, LIST_MAX, e) ||
	    !orch_check_string("nextToken", req->next_token, ORCH_MAX_NEXT_TOKEN, e))
		return -1;
	if (!orch_page_start(req->next_token, o->n_tasks, &start, e))
		return -1;
	ret->arns = calloc((size_t)max, sizeof(*ret->arns));
	if (!ret->arns) {
		orch_set_error(e, "ServerException", "out of memory");
		return -1;
	}
	size_t idx = 0;   /* among the matching tasks */
	for (struct task *t = o->tasks_head; t; t = t->next) {
		if (t->desired != want || (req->family && strcmp(t->td->family, req->family) != 0) ||
		    (req->service_name && t->service != s) ||
		    (req->started_by && (!t->started_by || strcmp(t->started_by, req->started_by) != 0)))
			continue;
		if (idx++ < start)
			continue;
		if (ret->n == (size_t)max) {
			snprintf(ret->next_token, sizeof(ret->next_token), "%zu", start + ret->n);
			break;
		}
		ret->arns[ret->n++] = t->arn;
	}
	if (start > idx) {
		orch_arn_page_clear(ret);
		orch_set_error(e, "InvalidParameterException", "nextToken is not valid");
		return -1;
	}
	return 0;
}

void orch_task_logs_clear(struct get_task_logs_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->containers[i].text);
	memset(r, 0, sizeof(*r));
}

int orch_get_task_logs(struct orch *o, const struct get_task_logs_request *req,
		       struct get_task_logs_result *ret, struct orch_error *e)
{
	int64_t tail = req->has_tail_bytes ? req->tail_bytes : (int64_t)ORCH_DEFAULT_TAIL_BYTES;

	memset(ret, 0, sizeof(*ret));
	if (!orch_check_cluster(o, req->cluster, e) || !orch_check_string("task", req->task, ORCH_MAX_REF, e) ||
	    !orch_check_string("container", req->container, ORCH_MAX_NAME, e) ||
	    !orch_check_int("tailBytes", tail, 1, (int64_t)ORCH_MAX_TAIL_BYTES, e))
		return -1;
	struct task *t = required_task(o, req->task, e);
	if (!t)
		return -1;
	for (size_t i = 0; i < t->nc && ret->n < ORCH_MAX_CONTAINERS; i++) {
		if (req->container && strcmp(req->container, t->c[i].name) != 0)
			continue;
		if (orch_task_log_read(&t->c[i], (size_t)tail, &ret->containers[ret->n]) < 0) {
			orch_task_logs_clear(ret);
			orch_set_error(e, "ServerException", "out of memory");
			return -1;
		}
		ret->n++;
	}
	if (req->container && ret->n == 0) {
		orch_set_error(e, "InvalidParameterException", "the task has no container named %.100s", req->container);
		return -1;
	}
	return 0;
}
