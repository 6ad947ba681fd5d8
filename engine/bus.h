/*
 * bus.h — the event buses: events in, matched against their bus's rules on
 * a later loop turn, one dispatch per (event, matching rule, target).
 *
 * Buses: "default", those named in the config's `buses`, and those named by
 * a loaded rule's EventBusName. An event is matched only against the rules
 * of its own bus (one matcher for every bus, its answers filtered by bus).
 *
 * The queue is bounded (limits.bus_queue): bus_put() says -EAGAIN when it is
 * full, so a producer can pause or refuse (PutEvents answers the entry with
 * a per-entry error); nothing queued is ever dropped. Events deeper than
 * limits.max_event_depth (loop protection: an event caused by a dispatch is
 * one deeper than its cause) are refused with -ELOOP, logged and counted
 * (tripline_events_dropped_total{reason="loop"}).
 *
 * Rules come as a generation (rulegen.h), swapped with bus_set_rules(); an
 * event is matched against the generation current when it is matched, and
 * each dispatch keeps a reference to it until it is final.
 *
 * Everything runs on the loop thread.
 */
#ifndef TRIPLINE_ENGINE_BUS_H
#define TRIPLINE_ENGINE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define BUS_DEFAULT_QUEUE 10000u
#define BUS_MAX_NAME 256u

struct bus;
struct dispatch;
struct event;
struct metrics;
struct rulegen;

struct bus_config {
	uint32_t queue_max;               /* events waiting to be matched; 0: BUS_DEFAULT_QUEUE */
	uint32_t max_depth;               /* 0: EVENT_DEFAULT_MAX_DEPTH */
	const char *const *buses;         /* the config's `buses`, besides "default" */
	size_t n_buses;
	struct metrics *metrics;          /* may be NULL */
};

/* 0 and *ret, or -ENOMEM. d receives the dispatches (set later with
 * bus_set_dispatch() when it is made after the bus). */
int bus_new(uv_loop_t *loop, const struct bus_config *cfg, struct bus **ret);
void bus_set_dispatch(struct bus *b, struct dispatch *d);
/* Stops matching; queued events are released (their hooks not called: a
 * journalled event is replayed by the next daemon). The loop must run once
 * more. NULL is fine. */
void bus_free(struct bus *b);

/* The generation to match against from now on (a reference taken; the old
 * one's dropped). */
void bus_set_rules(struct bus *b, struct rulegen *gen);
struct rulegen *bus_rules(const struct bus *b);   /* borrowed */

/* Whether a bus of that name exists now. */
bool bus_exists(const struct bus *b, const char *name);

/* What bus_put() would say about ev but for room: 0, -ENOENT, or -ELOOP
 * (counted and logged, as bus_put() does). */
int bus_check(struct bus *b, const struct event *ev);

/* Queues ev (a reference taken). 0; -ENOENT no such bus; -EAGAIN the queue
 * is full; -ELOOP deeper than max_depth (counted and logged here). */
int bus_put(struct bus *b, struct event *ev);
/* How many more events bus_put() would take now (reservations count as
 * taken). */
size_t bus_room(const struct bus *b);
size_t bus_depth(const struct bus *b);

/* Room held for events on their way (being journalled): up to n slots;
 * returns how many were reserved. bus_put_reserved() uses one and never
 * says -EAGAIN; bus_unreserve() gives back what was not used. */
size_t bus_reserve(struct bus *b, size_t n);
void bus_unreserve(struct bus *b, size_t n);
int bus_put_reserved(struct bus *b, struct event *ev);
/* Past the bound: events that cannot wait and cannot be refused (a replay,
 * the orchestration core's own events). Still -ENOENT and -ELOOP. */
int bus_put_force(struct bus *b, struct event *ev);

/* Loop protection across the orchestration core: what a dispatch started
 * (a task ARN, "service:NAME") carries its cause's depth + 1, so the core's
 * events about it are put at that depth. Bounded; forgotten when a task
 * stops. */
void bus_note_cause(struct bus *b, const char *key, uint32_t depth);
uint32_t bus_cause_depth(const struct bus *b, const char *key);
void bus_forget_cause(struct bus *b, const char *key);

#endif
