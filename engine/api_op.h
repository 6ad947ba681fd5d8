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

struct api_dlq_env;
struct api_events_env;
struct orch;
struct taskdef_registry;

/* What an operation may use; everything borrowed. orch may be NULL. */
struct api_ctx {
	const struct tripline_config *cfg;
	struct taskdef_registry *taskdefs;
	struct orch *orch;
	const struct api_events_env *events;     /* EventBridge's (api.h); never NULL */
	const struct api_dlq_env *dlq;           /* Tripline.RedriveDeadLetter's (api.h); never NULL */
};

struct api_later;

struct api_answer {
	unsigned status;
	json_t *body;      /* taken by api.c; NULL: out of memory (500) */
	struct api_later *later;   /* private to api.c: set once the answer is deferred */
	void *priv;                /* private to api.c: the HTTP exchange */
};

/*
 * Answering later (PutEvents waits for the journal): inside run, an
 * operation calls api_answer_later() and leaves ret's status and body
 * alone; NULL means it cannot wait (out of memory, or no HTTP exchange to
 * hold) and must answer now. The answer is then given exactly once, from
 * the loop thread, with api_later_answer() (body taken; NULL: out of memory,
 * 500); it is counted for /metrics then. The api must outlive its deferred
 * answers.
 */
struct api_later *api_answer_later(struct api_answer *ret);
void api_later_answer(struct api_later *l, unsigned status, json_t *body);

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

/* api_events.c: EventBridge's operations. */
extern const struct api_op api_events_ops[];
extern const size_t api_events_n_ops;

/* api_dlq.c: Tripline.RedriveDeadLetter. */
extern const struct api_op api_dlq_ops[];
extern const size_t api_dlq_n_ops;

#endif
