/*
 * ingest_internal.h — what the daemon's wiring (serve.c) needs of ingest.c
 * besides ingest_submit(): making one, and the journal hooks a replayed or
 * internal event gets.
 */
#ifndef TRIPLINE_ENGINE_INGEST_INTERNAL_H
#define TRIPLINE_ENGINE_INGEST_INTERNAL_H

#include <uv.h>

#include "ingest.h"

struct batch;
struct bus;
struct journal;

struct ingest {
	uv_loop_t *loop;
	struct bus *bus;
	struct journal *journal;     /* NULL: nothing is journalled (unit tests) */
	struct batch *batches;       /* not answered yet */
};

/* 0 and *ret, or -ENOMEM. bus and journal are borrowed. */
int ingest_new(uv_loop_t *loop, struct bus *bus, struct journal *journal, struct ingest **ret);
/* Batches not answered yet are dropped without their callbacks; the loop
 * must run once more. Before the journal is freed. NULL is fine. */
void ingest_free(struct ingest *in);

/* The orchestration core's own events: journalled, then put on the bus
 * past its bound (the core cannot be told to wait); failures logged. */
void ingest_internal(struct ingest *in, struct event *ev);

/* Sets ev's hooks to record its dispatches in the journal (ev->seq set). */
void ingest_journal_hooks(struct ingest *in, struct event *ev);

#endif
