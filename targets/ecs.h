/*
 * ecs.h — one ECS request from a task target, to the embedded cluster or to
 * a remote one (private to targets/).
 *
 * A request is ECS's JSON (engine/api_ecs.h has the shapes) whichever way
 * it goes: to the embedded cluster it is read by the API's own readers and
 * run through the typed core API (orch.h), with tripline's extensions (a
 * clientToken's lifetime, UpdateService's clientToken) set on the typed
 * request; to a remote cluster (the config's `clusters`) it is POSTed to
 * the endpoint as AWS JSON 1.1, signed with SigV4 (service "ecs") through
 * curl_uv. Either way the answer is ECS's JSON, or an error already mapped
 * to EventBridge's error code and retryability.
 */
#ifndef TRIPLINE_TARGETS_ECS_H
#define TRIPLINE_TARGETS_ECS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "target.h"

/* Where the requests go; owned by the target's state. */
struct ecs_dest {
	char *cluster;          /* the name sent as "cluster" */
	bool remote;
	char *endpoint;         /* remote: the URL */
	char *host;             /* remote: "host[:port]" as signed */
	char *region;
	char *credentials;      /* remote: "env:PREFIX" or "file:PATH" */
};

/* Tripline's extensions, honoured by the embedded cluster only. */
struct ecs_ext {
	const char *client_token;   /* UpdateService's (RunTask's is in the JSON) */
	uint32_t token_ttl_s;       /* keep RunTask's/UpdateService's token this long */
};

/* How a request failed, in EventBridge's terms. */
struct ecs_error {
	enum target_outcome outcome;   /* TARGET_RETRY or TARGET_FAIL */
	const char *code;              /* static */
	const char *type;              /* ECS's error type ("" for a network error) */
	char message[600];
};

/* answer: ECS's answer (borrowed), or NULL with err set. */
typedef void (*ecs_done_fn)(void *arg, json_t *answer, const struct ecs_error *err);

/* Parses an endpoint into d->host; 0 or -EINVAL. */
int ecs_dest_set_endpoint(struct ecs_dest *d, const char *endpoint);
void ecs_dest_clear(struct ecs_dest *d);

/* Runs op ("RunTask", "StopTask", "ListTasks", "DescribeTasks",
 * "DescribeServices", "UpdateService") with req (a reference taken).
 * done is called once, possibly before ecs_call() returns. */
void ecs_call(const struct target_env *env, const struct ecs_dest *d, const char *op, json_t *req,
	      const struct ecs_ext *ext, ecs_done_fn done, void *arg);

/* An ECS error type and message as EventBridge's code and retryability. */
void ecs_map_error(const char *type, unsigned status, const char *message, struct ecs_error *err);

#endif
