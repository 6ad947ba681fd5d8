/*
 * api_op.h — what api.c (the AWS JSON 1.1 entry point) and the files that
 * implement its operations share. Private to engine/.
 *
 * An operation gets the request's body (raw, for operations that read it
 * themselves) and its tree from the strict reader (parsed once, always a
 * JSON object), and fills an answer: an HTTP status and a JSON body. Errors
 * use AWS's shape, {"__type": …, "message": …}: 400 for the caller's
 * mistakes, 5xx only for our own faults.
 */
#ifndef TRIPLINE_ENGINE_API_OP_H
#define TRIPLINE_ENGINE_API_OP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "json.h"

struct orch;
struct taskdef_registry;

/* What an operation may use; everything borrowed. orch may be NULL. */
struct api_ctx {
	const struct tripline_config *cfg;
	struct taskdef_registry *taskdefs;
	struct orch *orch;
};

struct api_answer {
	unsigned status;
	json_t *body;      /* taken by api.c; NULL: out of memory (500) */
};

struct api_op {
	const char *target;   /* the whole X-Amz-Target value */
	void (*run)(const struct api_ctx *x, const char *body, size_t body_len, const struct jnode *in,
		    struct api_answer *ret);
	bool needs_orch;      /* without an orchestrator api.c answers 503 and run is not called */
};

/* An AWS error answer. */
void api_answer_error(struct api_answer *a, unsigned status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* api_ecs.c: ECS's operations and tripline's (Tripline.GetTaskLogs). */
extern const struct api_op api_ecs_ops[];
extern const size_t api_ecs_n_ops;

#endif
