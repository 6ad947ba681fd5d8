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

struct api;
struct ingest;
struct orch;
struct rulegen;
struct taskdef_registry;

/* 0, or -errno with a reason in err (a secret reference that cannot be read).
 * taskdefs and orch are borrowed and must outlive the api (orch may be NULL:
 * the task and service operations then answer 503). */
int api_new(const struct tripline_config *cfg, struct taskdef_registry *taskdefs, struct orch *orch,
	    struct api **ret, char *err, size_t errlen);
/* EventBridge's operations: PutEvents submits to ingest (NULL: 503); the
 * rule operations read rules(rules_arg), the current generation (NULL
 * function or result: no rules). Borrowed; they must outlive the api. */
void api_set_events(struct api *a, struct ingest *ingest, struct rulegen *(*rules)(void *arg), void *rules_arg);
void api_handle(struct api *a, const struct http_request *req, struct http_response *resp);
/* tripline_api_requests_total{operation, code} in Prometheus text. */
void api_metrics(const struct api *a, FILE *f);
void api_free(struct api *a);

#endif
