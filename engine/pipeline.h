/*
 * pipeline.h — the daemon's event side, put together (pipeline.c): the
 * bus, the journal and its replay, the way in (ingest), the dispatcher with
 * its state store and targets, the shared HTTP client, and rule reloads.
 *
 * Order at start: pipeline_new() (the bus with the first generation of
 * rules, the journal — whose incomplete events are queued again — and the
 * ingest), then the orchestration core is made with pipeline_core_event()
 * as its on_event, then pipeline_attach_orch() makes the dispatcher, which
 * needs the core. Nothing is matched before the loop runs.
 */
#ifndef TRIPLINE_ENGINE_PIPELINE_H
#define TRIPLINE_ENGINE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <uv.h>

struct ingest;
struct metrics;
struct orch;
struct pipeline;
struct rulegen;
struct tripline_config;

/* gen: the first rules (a reference taken). rule_paths: what reloads read
 * and watch. 0 and *ret, or -errno with a reason in err. */
int pipeline_new(uv_loop_t *loop, const struct tripline_config *cfg, struct metrics *metrics,
		 struct rulegen *gen, const char *const *rule_paths, size_t n_rule_paths, struct pipeline **ret,
		 char *err, size_t errlen);
/* 0, or -errno with a reason in err. */
int pipeline_attach_orch(struct pipeline *p, struct orch *orch, char *err, size_t errlen);
/* The core's events (orch_config.on_event; userdata the pipeline). */
void pipeline_core_event(void *p, const char *json, size_t len);
/* SIGHUP. */
void pipeline_reload(struct pipeline *p, const char *why);

/* fn(arg, gen) after a reload put gen in effect (one listener: the sources). */
void pipeline_on_rules(struct pipeline *p, void (*fn)(void *arg, struct rulegen *gen), void *arg);
/* The bus's and the journal's members of /healthz's "components"; false
 * when one is down (the journal refusing appends). */
bool pipeline_health(struct pipeline *p, json_t *components);
struct ingest *pipeline_ingest(struct pipeline *p);
struct dispatch *pipeline_dispatch(struct pipeline *p);
struct rulegen *pipeline_rules(void *p);   /* borrowed; the current generation */

/* Stops everything in flight (the journal replays what was not final);
 * before the core is freed. The loop must run once more. NULL is fine. */
void pipeline_free(struct pipeline *p);

#endif
