/*
 * source.h — what an event source is to the daemon (DESIGN.md §1, §2).
 *
 * Each kind lives in one file of sources/ (fs.c, schedule.c, webhook.c)
 * that exports only its `const struct source_ops`; sources.c lists the
 * kinds and drives them for serve.c. A kind's start() reads its instances
 * from the configuration (none: it starts nothing and says so with a NULL
 * state) and works on the daemon's loop thread from then on: it builds
 * envelopes with event_build() and hands them to the ingest.
 *
 * Two ways in (ingest.h):
 *   - ingest_submit(): journalled before the callback says 0; the journal
 *     replays the event after a crash (webhooks, schedule fires). The
 *     producer's record ("answered 202", "fired at T") may be written once
 *     the callback says 0.
 *   - ingest_submit_owned(): not journalled; the producer keeps its own
 *     record of what is final (a file watch's index, Kafka offsets) and sets
 *     the event's hooks before submitting: hooks.final tells it every
 *     dispatch of the event is final, and only then may it checkpoint. After
 *     a crash it emits again whatever it had not checkpointed, with the same
 *     deterministic id.
 * Either way -EAGAIN means the bus is full: a source slows down (a watch
 * retries, a webhook answers 503 with Retry-After), it never drops.
 *
 * Lifecycle: start() → (rules_changed(), http(), health(), metrics())* →
 * stop() → the loop runs on (the pipeline is freed meanwhile: ingest
 * callbacks answered -ECANCELED and event hooks may still arrive, and must
 * find the state alive) → destroy(). stop() closes the kind's handles and
 * emits nothing more; destroy() frees what is left once they have closed.
 */
#ifndef TRIPLINE_SOURCES_SOURCE_H
#define TRIPLINE_SOURCES_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include <jansson.h>

struct http_request;
struct http_response;
struct ingest;
struct metrics;
struct rulegen;
struct tripline_config;

struct source_env {
	uv_loop_t *loop;
	const struct tripline_config *cfg;   /* outlives every source */
	struct ingest *ingest;
	struct metrics *metrics;             /* register families in start(); may be NULL */
	/* The rules in effect (borrowed: valid until the next rules_changed()). */
	struct rulegen *(*rules)(void *arg);
	void *rules_arg;
};

/* One kind's running state (each kind defines its own struct source_<kind>
 * and casts; opaque to the rest of the daemon). */
struct source;

struct source_ops {
	const char *kind;   /* "fs", "schedule", "webhook": logs, metrics, /healthz */
	/*
	 * Starts every instance of this kind the configuration names. 0 and
	 * *ret (NULL when there is none: nothing else is called then), or
	 * -errno with a sentence for the log in err (the daemon does not start:
	 * a watched path that does not exist, a secret that cannot be read).
	 */
	int (*start)(const struct source_env *env, struct source **ret, char *err, size_t errlen);
	/* A reload put new rules in effect (gen is env->rules()'s). May be NULL. */
	void (*rules_changed)(struct source *s, struct rulegen *gen);
	/*
	 * Requests whose path starts with http_prefix ("/hooks/"), on the loop
	 * thread: fill in resp, or defer it (http.h). http_prefix NULL: none.
	 */
	const char *http_prefix;
	void (*http)(struct source *s, const struct http_request *req, struct http_response *resp);
	/*
	 * Adds one member per instance to the object `components`, named
	 * "<kind>/<name>" (or "<kind>" for a kind with one instance), each
	 * {"status": "ok"|"down", ...details}. Returns false when any is down
	 * (/healthz then answers 503).
	 */
	bool (*health)(struct source *s, json_t *components);
	/* Sets the kind's gauges before /metrics renders (counters are added
	 * as things happen). May be NULL. */
	void (*metrics)(struct source *s, struct metrics *m);
	void (*stop)(struct source *s);
	void (*destroy)(struct source *s);
};

extern const struct source_ops source_fs;
extern const struct source_ops source_schedule;
extern const struct source_ops source_webhook;

#endif
