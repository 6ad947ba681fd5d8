/*
 * fuzz_ecs_request.c — libFuzzer target for the ECS request readers of the
 * API edge (engine/api_ecs.h): every reader gets the same document, read by
 * the strict reader as the API reads a request body.
 *
 * What must hold: no crash, no leak, no read outside the tree (ASan); a
 * reader either fails with an AWS error type and a non-empty message, or
 * fills its request with strings readable to their NUL and arrays whose
 * lengths match what they hold. The core is not involved (no orchestrator
 * runs here: it would launch processes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_ecs.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A request string: readable to its NUL (ASan checks the read). */
static size_t check_str(const char *s)
{
	return s ? strlen(s) : 0;
}

static void check_error(int r, const struct orch_error *e)
{
	if (r < 0 && (!e->type || !e->message[0]))
		abort();
}

static void check_overrides(const struct orch_overrides *ov)
{
	for (size_t i = 0; i < ov->n_containers; i++) {
		const struct orch_container_override *c = &ov->containers[i];
		check_str(c->name);
		for (size_t k = 0; k < c->n_command; k++)
			check_str(c->command[k]);
		for (size_t k = 0; k < c->n_environment; k++) {
			check_str(c->environment[k].name);
			check_str(c->environment[k].value);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jdoc *doc = NULL;
	struct json_error je;

	if (jdoc_parse((const char *)data, size, NULL, &doc, &je) < 0)
		return 0;
	const struct jnode *in = jdoc_root(doc);
	if (in->type == JNODE_OBJECT) {
		struct ecs_arena a = ECS_ARENA_INIT;
		struct orch_error e;
		int r;

		struct run_task_request rt;
		check_error(r = ecs_read_run_task(in, &a, &rt, &e), &e);
		if (r == 0) {
			check_str(rt.task_definition);
			check_str(rt.group);
			check_str(rt.client_token);
			check_overrides(&rt.overrides);
		}
		struct stop_task_request st;
		check_error(ecs_read_stop_task(in, &st, &e), &e);
		struct describe_tasks_request dt;
		check_error(r = ecs_read_describe_tasks(in, &a, &dt, &e), &e);
		for (size_t i = 0; r == 0 && i < dt.n_tasks; i++)
			check_str(dt.tasks[i]);
		struct list_tasks_request lt;
		check_error(ecs_read_list_tasks(in, &lt, &e), &e);
		struct get_task_logs_request gl;
		check_error(ecs_read_get_task_logs(in, &gl, &e), &e);
		struct create_service_request cs;
		check_error(ecs_read_create_service(in, &cs, &e), &e);
		struct update_service_request us;
		check_error(ecs_read_update_service(in, &us, &e), &e);
		struct delete_service_request ds;
		check_error(ecs_read_delete_service(in, &ds, &e), &e);
		struct describe_services_request dss;
		check_error(r = ecs_read_describe_services(in, &a, &dss, &e), &e);
		for (size_t i = 0; r == 0 && i < dss.n_services; i++)
			check_str(dss.services[i]);
		struct list_services_request ls;
		check_error(ecs_read_list_services(in, &ls, &e), &e);
		ecs_arena_free(&a);
	}
	jdoc_free(doc);
	return 0;
}
