/*
 * journal_state.h — the journal's state, shared by the writer (journal.c)
 * and the reader of a directory at open (journal_open.c); nothing else
 * includes it. Segments count the live records in them (EVENT and DONE
 * records of events not complete); the index maps a live event's sequence
 * number to where its records are. Loop thread only.
 */
#ifndef TRIPLINE_ENGINE_JOURNAL_STATE_H
#define TRIPLINE_ENGINE_JOURNAL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "journal_int.h"

struct jseg {
	uint64_t num;
	int fd;
	uint64_t size;               /* bytes written: the valid prefix */
	uint64_t live_bytes;         /* bytes of live records in it */
	size_t live_refs;            /* live records (EVENT and DONE) in it */
	bool dirty;                  /* written since the last fsync began */
	uint64_t unlink_wgen;        /* 0; or removed once an fsync covering this write generation completes */
};

struct jdone {
	char *key;                   /* "RULE\nTARGET" */
	struct jseg *seg;            /* where its DONE record is */
	uint32_t size;
};

struct jlive {
	struct jlive *next;          /* hash chain */
	uint64_t seq;
	struct jseg *seg;            /* where its EVENT record is */
	uint64_t off;
	uint32_t size;
	struct jdone *done;
	size_t n_done;
};

struct jwaiter {
	struct jwaiter *next;
	journal_done_fn done;
	void *arg;
	size_t n;                    /* events */
};

/* One fsync on the threadpool; outlives a journal freed meanwhile. */
struct jsync {
	uv_work_t req;
	struct journal *j;           /* NULL once the journal was freed */
	int *fds;                    /* the journal's own: no segment is closed
					while a sync runs, except by journal_free,
					which hands them over (close_fds) */
	size_t n_fds;
	int *close_fds;              /* closed by after_work: the journal was freed */
	size_t n_close;
	bool no_fsync;
	int result;
	uint64_t wgen;               /* the write generation it covers */
	uint64_t seq;                /* the highest sequence it covers */
	uint64_t ns;
	size_t synced;               /* fdatasync calls that succeeded */
	struct jwaiter *waiters;
};

struct journal {
	uv_loop_t *loop;
	int dirfd;
	uint64_t max_bytes;
	uint64_t segment_bytes;
	bool no_fsync;
	struct jseg **segs;          /* oldest first; the last is the active one */
	size_t n_segs, cap_segs;
	struct jlive **buckets;
	size_t n_buckets;
	size_t n_live;
	uint64_t live_bytes;
	uint64_t next_seq;
	uint64_t wgen;               /* bumped by every write */
	bool opening;                /* journal_open is reading the segments */
	bool dir_dirty;              /* a segment was made since the last fsync began */
	size_t n_doomed;             /* segments waiting for an fsync to be removed */
	struct jwaiter *wait_head, **wait_tail;
	struct jsync *running;
	int broken;                  /* 0, or -errno of a failed fsync */
	bool compacting;
	int in_callbacks;
	bool free_pending;
	uint8_t *buf;                /* scratch for encoding */
	size_t buf_cap;
	uint8_t *tail;               /* DONE and COMPLETE records not yet written */
	size_t tail_len, tail_cap;
	struct journal_stats stats;
	struct {                     /* journal_metrics.c */
		struct metric *fsyncs, *bytes, *events, *appends;
		struct journal_stats last;   /* what the counters hold */
	} mx;
};

static inline struct jseg *journal_active(const struct journal *j)
{
	return j->segs[j->n_segs - 1];
}

/* the index: find, make room for n more (0 or -ENOMEM), insert; drop takes
 * the event out of the index and its records out of their segments' counts */
struct jlive *journal_index_find(const struct journal *j, uint64_t seq);
int journal_index_grow(struct journal *j);
int journal_index_reserve(struct journal *j, size_t n);
void journal_index_insert(struct journal *j, struct jlive *l);
void journal_event_drop(struct journal *j, struct jlive *l);
/* Puts key in l's done set, its record (size bytes) in segment s; a key
 * already there moves to the new record. 0 or -ENOMEM. */
int journal_done_set(struct journal *j, struct jlive *l, const char *key, struct jseg *s, uint32_t size);

/* segments: a live record of size bytes in s, or one less (a non-active
 * segment left with none is doomed: removed after the next fsync); the
 * file name of segment num; push onto j->segs; make segment num with its
 * header as the new active one; remove the doomed ones an fsync through
 * write generation wgen made safe */
void journal_seg_ref(struct journal *j, struct jseg *s, uint32_t size);
void journal_seg_unref(struct journal *j, struct jseg *s, uint32_t size);
void journal_seg_name(char *name, size_t len, uint64_t num);
int journal_seg_push(struct journal *j, struct jseg *s);
int journal_seg_create(struct journal *j, uint64_t num);
void journal_seg_reap(struct journal *j, uint64_t wgen);

int journal_buf_reserve(struct journal *j, size_t len);
/* 0, -errno, or -EIO at an early end of file */
int journal_pread_all(int fd, uint8_t *buf, size_t len, uint64_t off);
void journal_destroy(struct journal *j);
/* Registers the journal's families in m (NULL: nothing), kept current at
 * each render (journal_metrics.c). 0 or -errno. */
int journal_metrics_attach(struct journal *j, struct metrics *m);

#endif
