/*
 * journal.h — the write-ahead journal of accepted events (DESIGN.md §7):
 * what PutEvents (and the webhooks, and the orchestration core's aws.ecs
 * events) accepted is on disk before it is acknowledged, and a restart
 * replays every event whose dispatches were not all final.
 *
 * On disk: data_dir/journal/, segment files of checksummed records
 * (journal.c's opening comment has the format). Records: EVENT (sequence
 * number, bus, depth, ingestion wall time, id, the envelope), DONE (one
 * dispatch of an event is final: rule and target id) and COMPLETE (every
 * dispatch of the event is final). A torn or corrupt tail (a crash in the
 * middle of a write) is detected by its checksum and cut off, never replayed.
 *
 * Group commit: journal_append() writes at once (the page cache) and its
 * callback runs once an fsync that began after the write has finished; the
 * fsync runs on the libuv threadpool, and one fsync covers every append
 * written before it began — while one is running, the appends that arrive
 * wait for the next. DONE and COMPLETE records are written without waiting
 * (a crash that loses them replays a dispatch, which idempotency absorbs).
 *
 * Bounded: the live records (events not complete) may hold at most
 * max_bytes; past it journal_append() refuses with -ENOSPC (the caller
 * answers a per-entry error), nothing is dropped. Compaction: a segment
 * whose events are all complete is deleted; a segment still holding a few
 * live events after rolling is rewritten by copying them forward.
 *
 * Metrics: tripline_journal_fsyncs_total, tripline_journal_bytes,
 * tripline_journal_events (live), tripline_journal_appends_total{result}.
 * Loop thread only.
 */
#ifndef TRIPLINE_ENGINE_JOURNAL_H
#define TRIPLINE_ENGINE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define JOURNAL_DEFAULT_MAX_BYTES ((uint64_t)256 << 20)
#define JOURNAL_DEFAULT_SEGMENT_BYTES ((uint64_t)8 << 20)

struct journal;
struct metrics;

struct journal_config {
	const char *dir;             /* created when missing */
	uint64_t max_bytes;          /* 0: JOURNAL_DEFAULT_MAX_BYTES */
	uint64_t segment_bytes;      /* 0: JOURNAL_DEFAULT_SEGMENT_BYTES */
	bool no_fsync;               /* tests and benchmarks of the rest: never fsync */
	struct metrics *metrics;     /* may be NULL; free the journal after its last render */
};

/* One event as the journal keeps it; strings borrowed for the call. */
struct journal_event {
	const char *id;
	const char *bus;             /* the bus, then "\n" and the rule of an event for one
					rule (event.h: rule); opaque to the journal */
	const char *json;
	size_t len;
	uint64_t ingest_wall_ms;
	uint32_t depth;
};

/* An event to replay: not complete when the last daemon stopped. done[]
 * holds the dispatches already final, each "RULE\nTARGET". Valid during the
 * callback only. */
struct journal_replayed {
	uint64_t seq;
	struct journal_event ev;
	const char *const *done;
	size_t n_done;
};

/*
 * Opens (creating) the journal, reads every segment, cuts a torn tail, and
 * calls fn for every event not complete, in sequence order, before
 * returning. 0 and *ret, or -errno with a reason in err.
 */
int journal_open(uv_loop_t *loop, const struct journal_config *cfg,
		 void (*fn)(void *arg, const struct journal_replayed *ev), void *arg, struct journal **ret,
		 char *err, size_t errlen);
/* Waits for nothing: a running fsync's callbacks are not called. The loop
 * must run once more. NULL is fine. */
void journal_free(struct journal *j);

/* result: 0 durable; -errno (the write or the fsync failed: not durable). */
typedef void (*journal_done_fn)(void *arg, int result);

/*
 * Appends n events (one write) and assigns their sequence numbers to
 * seqs[]. 0: done() follows from the loop once they are durable (never
 * from inside this call); -ENOSPC past max_bytes, -EIO the write failed
 * (or an earlier fsync did: then every append fails until the journal is
 * reopened), -ENOMEM: nothing was appended, no callback.
 */
int journal_append(struct journal *j, const struct journal_event *evs, size_t n, uint64_t *seqs,
		   journal_done_fn done, void *arg);

/* A dispatch of event seq is final. */
void journal_dispatch_final(struct journal *j, uint64_t seq, const char *rule, const char *target_id);
/* Every dispatch of event seq is final: its record may go. */
void journal_complete(struct journal *j, uint64_t seq);

/* Live bytes and events, for health and tests. */
/* 0, or the -errno that makes it refuse appends until a restart (a failed fsync). */
int journal_broken(const struct journal *j);
uint64_t journal_live_bytes(const struct journal *j);
size_t journal_live_events(const struct journal *j);

#endif
