/*
 * api.h — the AWS JSON 1.1 API of the daemon (POST /, X-Amz-Target), see api.c.
 *
 * Lifecycle: api_new() resolves the configured access keys' secrets once;
 * api_handle() answers one request on the loop thread; api_free() wipes the
 * secrets (NULL is fine). The configuration must outlive the api.
 */
#ifndef TRIPLINE_ENGINE_API_H
#define TRIPLINE_ENGINE_API_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "http.h"
#include "ingest.h"

struct api;
struct dispatch;
struct event;
struct ingest;
struct metrics;
struct orch;
struct rulegen;
struct taskdef_registry;

/* 0, or -errno with a reason in err (a secret reference that cannot be read).
 * taskdefs and orch are borrowed and must outlive the api (orch may be NULL:
 * the task and service operations then answer 503). */
int api_new(const struct tripline_config *cfg, struct taskdef_registry *taskdefs, struct orch *orch,
	    struct api **ret, char *err, size_t errlen);
/*
 * EventBridge's operations: PutEvents hands events to submit(ingest, …)
 * (ingest_submit; the ingest NULL: 503) after checking bus_exists
 * (ingest_bus_exists); the rule operations read rules(rules_arg), the
 * current generation (NULL function or result: no rules). The functions
 * are given rather than called by name so that the API links (and is
 * tested) without the journal. Copied; what it points to is borrowed and
 * must outlive the api.
 */
struct api_events_env {
	struct ingest *ingest;
	void (*submit)(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done, void *arg);
	int (*bus_exists)(const struct ingest *in, const char *bus);
	struct rulegen *(*rules)(void *arg);
	void *rules_arg;
};
void api_set_events(struct api *a, const struct api_events_env *env);
/* Tripline.RedriveDeadLetter (api_dlq.c): dispatch_redrive() and its
 * dispatcher, given the same way (unset: the operation answers 503); the
 * generation is the events environment's rules(). Copied. */
struct api_dlq_env {
	int (*redrive)(struct dispatch *d, struct rulegen *gen, struct event *ev, const char *rule,
		       const char *target_id);
	struct dispatch *dispatch;
};
void api_set_dlq(struct api *a, const struct api_dlq_env *env);
void api_handle(struct api *a, const struct http_request *req, struct http_response *resp);
/* Registers tripline_api_requests_total{operation, code} and
 * tripline_api_auth_failures_total{reason} in m (the same families on every
 * call) and, when a is not NULL, sets them from its counts. */
void api_metrics(const struct api *a, struct metrics *m);
void api_free(struct api *a);

#endif
