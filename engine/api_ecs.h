/*
 * api_ecs.h — ECS's JSON requests and answers ↔ the orchestration core's
 * C structs (orch.h). Each request is read from the strict reader's tree
 * (common/json.h), in ECS's shape (camelCase members, as the AWS CLI sends
 * them), into a request struct; each result becomes ECS's answer.
 *
 * The readers check what JSON alone can get wrong (a member of the wrong
 * type, an unknown launchType or desiredStatus); the core checks values
 * (lengths, ranges, what must be present). Both speak ECS's words, so a
 * message is the same whichever of the two finds the fault. Unknown members
 * are ignored, as AWS services do; a member given as null counts as absent.
 *
 * Memory: strings in a request point into the tree; arrays come from the
 * arena, which the caller frees with ecs_arena_free() after the call. Each
 * reader returns 0, or -1 with e filled.
 */
#ifndef TRIPLINE_ENGINE_API_ECS_H
#define TRIPLINE_ENGINE_API_ECS_H

#include <jansson.h>

#include "json.h"
#include "orch.h"

struct ecs_arena {
	void **blocks;
	size_t n, cap;
};

#define ECS_ARENA_INIT {NULL, 0, 0}

void ecs_arena_free(struct ecs_arena *a);

int ecs_read_run_task(const struct jnode *in, struct ecs_arena *a, struct run_task_request *ret,
		      struct orch_error *e);
/* RunTask's overrides alone (ECS's TaskOverride), as a rule's input gives them. */
int ecs_read_overrides(const struct jnode *ov, struct ecs_arena *a, struct orch_overrides *ret,
		       struct orch_error *e);
int ecs_read_stop_task(const struct jnode *in, struct stop_task_request *ret, struct orch_error *e);
int ecs_read_describe_tasks(const struct jnode *in, struct ecs_arena *a, struct describe_tasks_request *ret,
			    struct orch_error *e);
int ecs_read_list_tasks(const struct jnode *in, struct list_tasks_request *ret, struct orch_error *e);
int ecs_read_get_task_logs(const struct jnode *in, struct get_task_logs_request *ret, struct orch_error *e);
int ecs_read_create_service(const struct jnode *in, struct create_service_request *ret, struct orch_error *e);
int ecs_read_update_service(const struct jnode *in, struct update_service_request *ret, struct orch_error *e);
int ecs_read_delete_service(const struct jnode *in, struct delete_service_request *ret, struct orch_error *e);
int ecs_read_describe_services(const struct jnode *in, struct ecs_arena *a,
			       struct describe_services_request *ret, struct orch_error *e);
int ecs_read_list_services(const struct jnode *in, struct list_services_request *ret, struct orch_error *e);

/* The answers; each a new reference, or NULL when out of memory. */
json_t *ecs_run_task_answer(const struct run_task_result *r);
json_t *ecs_describe_tasks_answer(const struct describe_tasks_result *r);
json_t *ecs_describe_services_answer(const struct describe_services_result *r);
/* {"<member>": [arns], "nextToken"?} */
json_t *ecs_arn_page_answer(const struct orch_arn_page *p, const char *member);
json_t *ecs_task_logs_answer(const struct get_task_logs_result *r);

#endif
