/*
 * ingest.c — events from outside: bus checked, room reserved, journalled,
 * then put on the bus (ingest.h).
 *
 * A batch is one journal append (one write; the group commit's fsync covers
 * it with the others that arrived meanwhile). Its callback puts each
 * journalled event on the bus with the room reserved for it, and gives the
 * results. A batch with nothing to journal still answers from the loop:
 * through a zero timer, never from inside ingest_submit().
 *
 * A journalled event's hooks record its dispatches' ends in the journal
 * (DONE records) and its completion (COMPLETE), which lets the journal
 * compact it away.
 */
#include "ingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "event.h"
#include "ingest_internal.h"
#include "journal.h"
#include "logger.h"

struct batch {
	struct batch *prev, *next;   /* the ingest's batches not answered yet */
	struct ingest *in;
	uv_timer_t timer;            /* answers a batch that needs no journal */
	ingest_done_fn done;
	void *arg;
	size_t n, n_reserved;
	struct event **evs;          /* the batch's events (references) */
	int *results;
	uint64_t *seqs;
	size_t *journalled;          /* indexes into evs of the events appended */
	size_t n_journalled;
	bool no_journal;             /* put them on the bus from the timer */
	bool force;                  /* the core's own events: past the bus's bound */
	bool owned;                  /* the producer's own record, not the journal (hooks its own) */
};

static void on_dispatch_final(void *arg, struct event *ev, const char *rule, const char *target_id)
{
	struct ingest *in = arg;

	if (in->journal && ev->seq)
		journal_dispatch_final(in->journal, ev->seq, rule, target_id);
}

static void on_final(void *arg, struct event *ev)
{
	struct ingest *in = arg;

	if (in->journal && ev->seq)
		journal_complete(in->journal, ev->seq);
}

void ingest_journal_hooks(struct ingest *in, struct event *ev)
{
	ev->hooks.dispatch_final = on_dispatch_final;
	ev->hooks.final = on_final;
	ev->hooks.arg = in;
}

static void unlink_batch(struct batch *bt)
{
	if (bt->prev)
		bt->prev->next = bt->next;
	else
		bt->in->batches = bt->next;
	if (bt->next)
		bt->next->prev = bt->prev;
	bt->prev = bt->next = NULL;
}

static void batch_free(struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++)
		event_unref(bt->evs[i]);
	free(bt->evs);
	free(bt->results);
	free(bt->seqs);
	free(bt->journalled);
	free(bt);
}

static void on_timer_closed(uv_handle_t *h)
{
	batch_free(h->data);
}

static void finish(struct batch *bt)
{
	unlink_batch(bt);
	bus_unreserve(bt->in->bus, bt->n_reserved);
	bt->n_reserved = 0;
	bt->done(bt->arg, bt->results, bt->n);
	uv_close((uv_handle_t *)&bt->timer, on_timer_closed);
}

static void on_journalled(void *arg, int result);

static void on_timer(uv_timer_t *h)
{
	struct batch *bt = h->data;

	if (bt->no_journal)
		on_journalled(bt, 0);
	else
		finish(bt);
}

static void on_journalled(void *arg, int result)
{
	struct batch *bt = arg;

	for (size_t k = 0; k < bt->n_journalled; k++) {
		size_t i = bt->journalled[k];
		struct event *ev = bt->evs[i];
		if (result < 0) {
			bt->results[i] = result;
			continue;
		}
		if (!bt->owned) {
			ev->seq = bt->seqs[k];
			ingest_journal_hooks(bt->in, ev);
		}
		int r = bt->force ? bus_put_force(bt->in->bus, ev) : bus_put_reserved(bt->in->bus, ev);
		if (bt->n_reserved)
			bt->n_reserved--;
		if (r < 0) {
			/* the bus went away under a reload (or a loop): the event is
			 * final without a dispatch */
			log_warn("ingest", "event %s journalled but not queued: %s", ev->id, strerror(-r));
			event_pending_get(ev);
			event_pending_put(ev);
		}
	}
	finish(bt);
}

static void submit(struct ingest *in, struct event *const *evs, size_t n, bool force, bool owned,
		   ingest_done_fn done, void *arg)
{
	struct batch *bt = calloc(1, sizeof(*bt));
	struct journal_event *jev = NULL;
	int r = 0;

	if (bt) {
		bt->evs = calloc(n ? n : 1, sizeof(*bt->evs));
		bt->results = calloc(n ? n : 1, sizeof(*bt->results));
		bt->seqs = calloc(n ? n : 1, sizeof(*bt->seqs));
		bt->journalled = calloc(n ? n : 1, sizeof(*bt->journalled));
		jev = calloc(n ? n : 1, sizeof(*jev));
	}
	if (!bt || !bt->evs || !bt->results || !bt->seqs || !bt->journalled || !jev) {
		/* cannot even answer later: answer now, the one exception */
		int results[INGEST_MAX_BATCH];
		for (size_t i = 0; i < n && i < INGEST_MAX_BATCH; i++)
			results[i] = -ENOMEM;
		if (bt)
			batch_free(bt);
		free(jev);
		done(arg, results, n);
		return;
	}
	bt->in = in;
	bt->next = in->batches;
	if (bt->next)
		bt->next->prev = bt;
	in->batches = bt;
	bt->done = done;
	bt->arg = arg;
	bt->n = n;
	bt->force = force;
	bt->owned = owned;
	uv_timer_init(in->loop, &bt->timer);
	bt->timer.data = bt;
	for (size_t i = 0; i < n; i++) {
		struct event *ev = bt->evs[i] = event_ref(evs[i]);
		int bad = bus_check(in->bus, ev);
		if (bad < 0) {
			bt->results[i] = bad;
			continue;
		}
		if (!force) {
			if (bus_reserve(in->bus, 1) == 0) {
				bt->results[i] = -EAGAIN;
				continue;
			}
			bt->n_reserved++;
		}
		jev[bt->n_journalled] = (struct journal_event){.id = ev->id, .bus = ev->bus, .json = ev->json,
			.len = ev->len, .ingest_wall_ms = ev->ingest_wall_ms, .depth = ev->depth};
		bt->journalled[bt->n_journalled++] = i;
	}
	/* an event for one rule keeps its rule with its bus (journal.h); only
	 * a schedule's batches have such events, so only they allocate */
	char **directed = NULL;
	for (size_t k = 0; r == 0 && k < bt->n_journalled; k++) {
		const struct event *ev = bt->evs[bt->journalled[k]];
		if (!ev->rule)
			continue;
		if (!directed && !(directed = calloc(bt->n_journalled, sizeof(*directed)))) {
			r = -ENOMEM;
		} else if (asprintf(&directed[k], "%s\n%s", ev->bus, ev->rule) < 0) {
			directed[k] = NULL;
			r = -ENOMEM;
		} else {
			jev[k].bus = directed[k];
		}
	}
	if (r == 0 && bt->n_journalled && in->journal && !owned)
		r = journal_append(in->journal, jev, bt->n_journalled, bt->seqs, on_journalled, bt);
	for (size_t k = 0; directed && k < bt->n_journalled; k++)
		free(directed[k]);
	free(directed);
	free(jev);
	if (r < 0)
		for (size_t k = 0; k < bt->n_journalled; k++)
			bt->results[bt->journalled[k]] = r;
	if (bt->n_journalled && (!in->journal || owned))
		bt->no_journal = true;
	else if (r == 0 && bt->n_journalled)
		return;   /* on_journalled() answers */
	uv_timer_start(&bt->timer, on_timer, 0, 0);
}

void ingest_submit(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done, void *arg)
{
	submit(in, evs, n, false, false, done, arg);
}

void ingest_submit_owned(struct ingest *in, struct event *const *evs, size_t n, ingest_done_fn done,
			 void *arg)
{
	submit(in, evs, n, false, true, done, arg);
}

static void internal_done(void *arg, const int *results, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		if (results[i] < 0)
			log_error("ingest", "an event of the orchestration core was not journalled: %s",
				  strerror(-results[i]));
}

void ingest_internal(struct ingest *in, struct event *ev)
{
	submit(in, &ev, 1, true, false, internal_done, NULL);
}

int ingest_bus_exists(const struct ingest *in, const char *bus)
{
	return bus_exists(in->bus, bus);
}

int ingest_new(uv_loop_t *loop, struct bus *bus, struct journal *journal, struct ingest **ret)
{
	struct ingest *in = calloc(1, sizeof(*in));

	*ret = NULL;
	if (!in)
		return -ENOMEM;
	in->loop = loop;
	in->bus = bus;
	in->journal = journal;
	*ret = in;
	return 0;
}

static void on_abandoned(uv_handle_t *h)
{
	batch_free(h->data);
}

void ingest_free(struct ingest *in)
{
	if (!in)
		return;
	/* batches not answered: answered now with -ECANCELED (the journal,
	 * freed next, calls nothing; what was written is replayed) */
	while (in->batches) {
		struct batch *bt = in->batches;
		unlink_batch(bt);
		bus_unreserve(in->bus, bt->n_reserved);
		for (size_t i = 0; i < bt->n; i++)
			if (bt->results[i] == 0)
				bt->results[i] = -ECANCELED;
		bt->done(bt->arg, bt->results, bt->n);
		uv_close((uv_handle_t *)&bt->timer, on_abandoned);
	}
	free(in);
}
