/*
 * target.h — what a target kind is to the dispatcher (DESIGN.md §4, §7).
 *
 * One file per kind (task.c, http.c, file.c, bus.c), each exporting only its
 * `const struct target_ops`; target_ops_for() picks one by the kind the
 * rule's Arn names. A kind that is not implemented has no ops: a rule naming
 * it is refused when it loads, never accepted to drop events.
 *
 * prepare() runs when rules load, possibly off the loop thread: it reads the
 * target's own parameters from rule_target->json (EcsParameters,
 * HttpParameters, …) into a private state, and reports what cannot work
 * (an unknown connection, a task target whose input cannot be a JSON
 * object) as `file: /Targets/N/…: message` — the whole rule set is then
 * refused. It must be pure: no I/O on the loop's objects.
 *
 * invoke() runs on the loop thread, once per attempt. It ends in exactly one
 * call of done (possibly from inside invoke), with the outcome:
 *   TARGET_OK     delivered;
 *   TARGET_RETRY  a retryable failure (throttled, 5xx, a network error, no
 *                 capacity): the dispatcher retries under the RetryPolicy;
 *   TARGET_FAIL   not retryable (bad parameters, 4xx): dead-lettered at once.
 * and EventBridge's error code (the dead letter's ERROR_CODE) and a message.
 * Invocations in flight when the daemon stops get no done(): the shared
 * curl_uv is freed first (see curl_uv.h), and the dispatcher no longer
 * listens.
 */
#ifndef TRIPLINE_TARGETS_TARGET_H
#define TRIPLINE_TARGETS_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "errlist.h"
#include "ruleset.h"

struct bus;
struct curl_uv;
struct event;
struct ingest;
struct metrics;
struct orch;
struct tripline_config;

/* The world targets act on; everything borrowed, on the loop thread. */
struct target_env {
	uv_loop_t *loop;
	const struct tripline_config *cfg;   /* region, account, clusters, connections */
	struct orch *orch;                   /* the embedded cluster; NULL: none */
	struct curl_uv *http;                /* HTTP targets, remote clusters */
	struct bus *bus;                     /* bus targets; causes of the core's events */
	struct ingest *ingest;               /* bus targets: journalled before they answer;
						NULL: straight onto the bus (unit tests) */
	struct metrics *metrics;             /* may be NULL */
	const char *data_dir;
};

/* One attempt. Everything is borrowed for the invoke() call only. */
struct target_call {
	const struct event *ev;
	const struct rule *rule;
	const struct rule_target *target;
	const char *rule_arn;
	void *state;                 /* prepare()'s */
	const char *input;           /* what the target receives: the event, or the rendered
					Input / InputPath / InputTransformer; NUL-terminated */
	size_t input_len;
	const char *token;           /* 64 hex: SHA-256 of (event id, rule name, target id):
					idempotency for RunTask's clientToken and relative
					UpdateService; the same on every attempt and replay.
					NULL unless the kind's uses_token */
	uint32_t attempt;            /* 0 on the first */
	uint32_t max_age_s;          /* the target's MaximumEventAgeInSeconds */
};

enum target_outcome {
	TARGET_OK,
	TARGET_RETRY,
	TARGET_FAIL,
};

struct target_result {
	enum target_outcome outcome;
	const char *code;            /* "THROTTLING", "INVALID_PARAMETER", "SDK_CLIENT_ERROR", …;
					NULL when OK */
	const char *message;         /* for a person; NULL when OK */
};

typedef void (*target_done_fn)(void *arg, const struct target_result *res);

struct target_ops {
	const char *name;            /* "task", "http", "file", "bus" */
	bool uses_token;             /* the call's token is made (a digest per dispatch) */
	/* NULL: nothing to prepare (state NULL). 0, -EINVAL (errors in errs), -ENOMEM. */
	int (*prepare)(const struct tripline_config *cfg, const struct rule *rule, size_t target_index,
		       void **ret_state, struct errlist *errs);
	void (*release)(void *state);   /* NULL: state is NULL or needs nothing */
	void (*invoke)(const struct target_env *env, const struct target_call *call, target_done_fn done,
		       void *arg);
};

extern const struct target_ops target_task_ops;
extern const struct target_ops target_http_ops;
extern const struct target_ops target_file_ops;
extern const struct target_ops target_bus_ops;

/* The ops for a kind, or NULL when the kind is not implemented (kafka). */
const struct target_ops *target_ops_for(enum target_kind kind);

#endif
