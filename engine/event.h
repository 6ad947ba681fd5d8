/*
 * event.h — one event on its way through the daemon, and the one envelope
 * builder every producer uses (DESIGN.md §3).
 *
 * An envelope is EventBridge's:
 *   {"version":"0","id","detail-type","source","account","time","region",
 *    "resources":[],"detail":{}}
 * plus, for some sources, tripline's extension member "tripline". It is kept
 * as compact JSON text (what the matcher reads and what targets receive);
 * `time` is written as EventBridge writes it: RFC 3339, whole seconds, UTC,
 * "2026-12-07T08:47:06Z".
 *
 * Ids: event_uuid4() for PutEvents, event_id_digest() for the sources whose
 * origin allows a deterministic id (a file, a schedule tick, a Kafka offset):
 * the SHA-256 of the parts (each followed by a 0 byte) shaped as a UUID, so
 * a redelivery of the same thing gets the same id.
 *
 * Lifecycle: event_new() gives one reference; whoever keeps the event past
 * a call takes one (event_ref) and drops it (event_unref). Events live on
 * the loop thread only. The hooks tell the producer what became of its
 * event: each dispatch's end (journal: a DONE record) and the end of all of
 * them (journal: the event is complete; a source: acknowledge). A producer
 * with nothing to learn leaves them NULL.
 */
#ifndef TRIPLINE_ENGINE_EVENT_H
#define TRIPLINE_ENGINE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_MAX_ID 128u          /* bytes of an envelope id (a provider's delivery id) */
#define EVENT_DEFAULT_MAX_DEPTH 8u /* limits.max_event_depth when 0 */

struct event;

/* What becomes of an event (all optional; called on the loop thread). */
struct event_hooks {
	/* one (rule, target) dispatch reached a final state: success, dead
	 * letter, or dropped with a count */
	void (*dispatch_final)(void *arg, struct event *ev, const char *rule, const char *target_id);
	/* every dispatch of the event is final (also when nothing matched) */
	void (*final)(void *arg, struct event *ev);
	void *arg;
};

struct event {
	unsigned refs;               /* private: event_ref()/event_unref() */
	char *id;                    /* the envelope's id */
	char *bus;                   /* the bus it is on: "default", … */
	char *json;                  /* the envelope, compact, NUL-terminated */
	size_t len;
	uint64_t ingest_wall_ms;     /* when it was accepted (kept across a replay): event age,
					<aws.events.event.ingestion-time> */
	uint64_t ingest_mono_ms;     /* the same on the loop's clock (this process): latency */
	uint32_t depth;              /* causal depth: 0 from outside; events a dispatch causes +1 */
	uint64_t seq;                /* journal sequence number; 0: not journalled */
	/* the (rule, target id) dispatches already final before a replay, each
	 * "RULE\nTARGET" (the journal's DONE records) */
	char **final_before;
	size_t n_final;
	struct event_hooks hooks;
	/* dispatches not yet final, plus one the bus holds while it submits
	 * them: event_pending_get()/event_pending_put() */
	unsigned pending;
	char *source;                /* the envelope's source (metrics labels); may be NULL */
	/* a scheduled event: the one rule it is for (its targets only, never
	 * matched against patterns), or NULL; event_set_rule() */
	char *rule;
};

/* One more dispatch of ev is under way. */
void event_pending_get(struct event *ev);
/* One dispatch is final: at 0 the event's hooks.final is called (once). */
void event_pending_put(struct event *ev);

/* The fields of a new envelope. Strings are borrowed for the call. */
struct event_fields {
	const char *id;              /* NULL: a random UUID v4 */
	const char *source;          /* required */
	const char *detail_type;     /* required */
	const char *detail;          /* JSON object text; NULL: {} */
	size_t detail_len;
	const char *const *resources;   /* may be NULL when n_resources is 0 */
	size_t n_resources;
	int64_t time_s;              /* seconds since the epoch; -1: now */
	const char *account;         /* required */
	const char *region;          /* required */
	const char *extension;       /* JSON object text for the "tripline" member, or NULL */
	size_t extension_len;
};

/*
 * Builds the envelope as compact JSON into a new event (one reference) on
 * bus, with ingest times now. The detail (and extension) must be a JSON
 * object: it is copied as compact text. 0 and *ret, -EINVAL (a required
 * field missing, detail not an object, an id over EVENT_MAX_ID), -ENOMEM.
 */
int event_build(const struct event_fields *f, const char *bus, struct event **ret);

/*
 * An event from an envelope already built (a replay, a Kafka message that is
 * an envelope): json is copied; id is the envelope's. 0, -EINVAL, -ENOMEM.
 */
int event_new(const char *id, const char *bus, const char *json, size_t len, struct event **ret);

/* Makes ev an event for one rule only (a schedule's fire). 0 or -ENOMEM. */
int event_set_rule(struct event *ev, const char *rule);
struct event *event_ref(struct event *ev);
void event_unref(struct event *ev);   /* NULL is fine */

/* Records that the dispatch (rule, target id) was final before a replay:
 * event_was_final() then says so and the dispatcher leaves it. key is the
 * journal's "RULE\nTARGET". 0 or -ENOMEM. */
int event_add_final(struct event *ev, const char *rule, const char *target_id);
int event_add_final_key(struct event *ev, const char *key);
bool event_was_final(const struct event *ev, const char *rule, const char *target_id);

/* "2026-12-07T08:47:06Z" for seconds since the epoch. */
void event_time_text(int64_t s, char buf[32]);

/* A random UUID v4, lower-case, 36 characters + NUL. */
void event_uuid4(char out[37]);

/* SHA-256 of the parts (each followed by a 0 byte), shaped as a UUID (the
 * version nibble 5, the variant 10xx): 36 characters + NUL. */
void event_id_digest(const char *const *parts, size_t n, char out[37]);

#endif
