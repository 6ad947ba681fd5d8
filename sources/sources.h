/*
 * sources.h — every event source kind (source.h) started, asked and
 * stopped together: what serve.c calls.
 */
#ifndef TRIPLINE_SOURCES_SOURCES_H
#define TRIPLINE_SOURCES_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "source.h"

struct sources;

/* Starts every kind (source.h: start()). 0 and *ret, or -errno with
 * "<kind>: <reason>" in err and nothing left running. */
int sources_start(const struct source_env *env, struct sources **ret, char *err, size_t errlen);
void sources_rules_changed(struct sources *ss, struct rulegen *gen);
/* A request some kind serves (its http_prefix): true when answered (or
 * deferred) by it. */
bool sources_http(struct sources *ss, const struct http_request *req, struct http_response *resp);
/* Each kind's components into `components`; false when any is down. */
bool sources_health(struct sources *ss, json_t *components);
void sources_metrics(struct sources *ss, struct metrics *m);
/* stop() every kind; sources_free() once the loop has run on (source.h). */
void sources_stop(struct sources *ss);
void sources_free(struct sources *ss);   /* NULL is fine */

#endif
