/*
 * ingest.h — the way in for events from outside the daemon (PutEvents,
 * webhooks) and for the orchestration core's aws.ecs events: each event is
 * checked against its bus (it must exist, and have room), journalled
 * (journal.h: group commit), and once durable put on the bus. The answer a
 * producer gives its client waits for the callback.
 *
 * Per event, the result is
 *   0          accepted: durable, and queued for matching;
 *   -ENOENT    no bus of that name;
 *   -ELOOP     deeper than limits.max_event_depth (counted and logged);
 *   -EAGAIN    the bus's queue is full (PutEvents: a ThrottlingException
 *              entry; a webhook: 503 with Retry-After);
 *   -ENOSPC    the journal is full;
 *   -EIO       the journal could not be written;
 *   -ECANCELED the daemon is stopping (ingest_free());
 *   -ENOMEM.
 * Room on the bus is reserved when an event is submitted, so an event that
 * was journalled is never refused by the bus afterwards.
 */
#ifndef TRIPLINE_ENGINE_INGEST_H
#define TRIPLINE_ENGINE_INGEST_H

#include <stddef.h>

struct event;
struct ingest;

/* results[i] for evs[i]; valid during the call only. */
typedef void (*ingest_done_fn)(void *arg, const int *results, size_t n);

/*
 * Submits n events (at most INGEST_MAX_BATCH; references taken). done is
 * called exactly once, from the loop, never from inside this call.
 */
#define INGEST_MAX_BATCH 64u
void ingest_submit(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done, void *arg);

/*
 * The same for events whose producer keeps its own record of what is final
 * (a file watch's index, Kafka offsets): they are not journalled, and their
 * hooks are left as the producer set them (hooks.final: every dispatch is
 * final, the producer may checkpoint). Results 0, -ENOENT, -ELOOP, -EAGAIN,
 * -ECANCELED, -ENOMEM; an event the daemon had not finished when it stopped
 * never reaches hooks.final (the producer emits it again after a restart).
 */
void ingest_submit_owned(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done,
			 void *arg);
/* Whether a bus of that name exists (for early answers). */
int ingest_bus_exists(const struct ingest *in, const char *bus);

#endif
