/*
 * journal.c — the write-ahead journal of accepted events (journal.h).
 *
 * Files: <dir>/<16 hex digits>.seg, segments numbered in the order they
 * were made; the last one is the active segment, where every write goes
 * (pwrite at its end, from the loop thread: the page cache). Anything else
 * in the directory is left alone. All numbers are little-endian.
 *
 *   segment header (24 bytes): "TRPLJNL1", base_seq u64 (the next sequence
 *       number when the segment was made), reserved u32 = 0,
 *       crc u32 = CRC32C of the 20 bytes before it
 *   record: crc u32 = CRC32C of everything after it up to the end of the
 *       payload, len u32 (payload bytes, at most 64 MiB), type u8,
 *       3 bytes 0, seq u64 (never 0), payload:
 *     EVENT (1): depth u32, ingest_wall_ms u64, id_len u32, bus_len u32,
 *       json_len u32, then id NUL, bus NUL, envelope NUL (id and bus hold
 *       no other NUL; both at most 4096 bytes)
 *     DONE (2): "RULE\nTARGET" NUL — one dispatch of event seq is final
 *     COMPLETE (3): empty — every dispatch of event seq is final
 *
 * A record never refers to an offset, so compaction copies an EVENT record
 * forward byte for byte. Sequence numbers only grow: at open the next one
 * is past every record's and every header's base_seq, and a segment is
 * made (its header written and, at open, fsync'd with the directory)
 * before older ones may go.
 *
 * Reading (journal_open): each segment is scanned (journal_read.c); the
 * first record that fails its checks ends it and the file is truncated
 * there (counted, logged), so a torn write is cut, never replayed, and
 * later appends land after valid records only. A segment whose header is
 * bad is removed. An EVENT seen twice (copied forward before a crash
 * removed the old segment) counts at its later place; DONE keys are a set.
 * A new active segment is made at every open.
 *
 * DONE and COMPLETE records are queued in memory while an fsync (or its
 * callbacks) runs and written in one write when it completes, or before
 * the next append's records or a new segment; with no fsync running they
 * are written at once. They never wait for an fsync: the page cache keeps
 * them across a kill, and a power loss may replay a dispatch, which
 * idempotency absorbs. All the DONE records of an event follow its EVENT
 * record (a copy forward rewrites them after the copy).
 *
 * Group commit: an append writes its records at once and queues its
 * callback. When no fsync is running, one starts on the threadpool
 * (uv_queue_work: fdatasync of every segment written since the last one
 * began, and of the directory when a segment was made; segments are closed
 * only between fsyncs, or handed to the running one by journal_free) and takes every queued callback with it; callbacks queued while it
 * runs wait for the next, which starts when it completes. A failed write
 * is truncated away (nothing appended, -EIO); a failed fsync fails its
 * callbacks and every later append (-EIO: what the page cache holds is no
 * longer known; restart to reread the files).
 *
 * Bounds and compaction: live bytes are the records (EVENT and DONE) of the
 * events not complete; an append past max_bytes is refused with -ENOSPC.
 * Each segment counts the live records in it; one that holds none (and is
 * not the active one) is removed once an fsync that began after the last
 * write has completed (the COMPLETE records and the newer segments are
 * durable first). When the active segment fills and a new one is made,
 * the oldest segment whose live records are at most a quarter of its bytes
 * has them moved into the active one (copy_forward), and is removed
 * likewise once the copies are durable; so the files settle at about four
 * times the live bytes plus two segments.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_int.h"
#include "journal_state.h"
#include "logger.h"

static void maybe_compact(struct journal *j);

/* ---- the index of live events ---- */

static struct jlive **bucket_of(const struct journal *j, uint64_t seq)
{
	return &j->buckets[(seq * 0x9e3779b97f4a7c15ull) >> 32 & (j->n_buckets - 1)];
}

struct jlive *journal_index_find(const struct journal *j, uint64_t seq)
{
	struct jlive *l;

	for (l = *bucket_of(j, seq); l != NULL; l = l->next)
		if (l->seq == seq)
			return l;
	return NULL;
}

int journal_index_grow(struct journal *j)
{
	size_t n = j->n_buckets ? j->n_buckets * 2 : 1024;
	struct jlive **old = j->buckets;
	size_t n_old = j->n_buckets;

	j->buckets = calloc(n, sizeof(*j->buckets));
	if (j->buckets == NULL) {
		j->buckets = old;
		return -ENOMEM;
	}
	j->n_buckets = n;
	for (size_t i = 0; i < n_old; i++) {
		struct jlive *l = old[i], *next;

		for (; l != NULL; l = next) {
			struct jlive **b = bucket_of(j, l->seq);

			next = l->next;
			l->next = *b;
			*b = l;
		}
	}
	free(old);
	return 0;
}

/* Makes room for n more entries. 0 or -ENOMEM. */
int journal_index_reserve(struct journal *j, size_t n)
{
	while (j->n_live + n > j->n_buckets)
		if (journal_index_grow(j) < 0)
			return -ENOMEM;
	return 0;
}

void journal_index_insert(struct journal *j, struct jlive *l)
{
	struct jlive **b = bucket_of(j, l->seq);

	l->next = *b;
	*b = l;
	j->n_live++;
}

static void live_unlink(struct journal *j, struct jlive *l)
{
	struct jlive **p;

	for (p = bucket_of(j, l->seq); *p != l; p = &(*p)->next)
		;
	*p = l->next;
	j->n_live--;
}

static void live_free(struct jlive *l)
{
	for (size_t i = 0; i < l->n_done; i++)
		free(l->done[i].key);
	free(l->done);
	free(l);
}

/* ---- segments ---- */

void journal_seg_ref(struct journal *j, struct jseg *s, uint32_t size)
{
	s->live_refs++;
	s->live_bytes += size;
	j->live_bytes += size;
}

/* One live record in s is gone; a segment left with none is doomed. */
void journal_seg_unref(struct journal *j, struct jseg *s, uint32_t size)
{
	s->live_refs--;
	s->live_bytes -= size;
	j->live_bytes -= size;
	if (s->live_refs == 0 && !j->opening && s != journal_active(j) && s->unlink_wgen == 0) {
		s->unlink_wgen = j->wgen;
		j->n_doomed++;
	}
}

void journal_seg_name(char *path, size_t len, uint64_t num)
{
	snprintf(path, len, "%016" PRIx64 ".seg", num);
}

static void seg_close(struct journal *j, struct jseg *s, bool remove)
{
	char name[32];

	if (remove) {
		journal_seg_name(name, sizeof(name), s->num);
		if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
			log_warn("journal", "cannot remove segment %s: %s", name, strerror(errno));
		j->stats.disk_bytes -= s->size;
		j->stats.segments--;
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int journal_seg_push(struct journal *j, struct jseg *s)
{
	if (j->n_segs == j->cap_segs) {
		size_t cap = j->cap_segs ? j->cap_segs * 2 : 16;
		struct jseg **segs = realloc(j->segs, cap * sizeof(*segs));

		if (segs == NULL)
			return -ENOMEM;
		j->segs = segs;
		j->cap_segs = cap;
	}
	j->segs[j->n_segs++] = s;
	j->stats.segments++;
	return 0;
}

/* Removes the doomed segments an fsync covering through wgen made safe to go
 * (all of them when wgen is UINT64_MAX). */
void journal_seg_reap(struct journal *j, uint64_t wgen)
{
	size_t k = 0;

	for (size_t i = 0; i < j->n_segs; i++) {
		struct jseg *s = j->segs[i];

		if (s->unlink_wgen != 0 && s->unlink_wgen <= wgen && i + 1 < j->n_segs) {
			seg_close(j, s, true);
			j->n_doomed--;
		} else {
			j->segs[k++] = s;
		}
	}
	j->n_segs = k;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int journal_pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* Makes segment num with its header and appends it (the new active one). */
int journal_seg_create(struct journal *j, uint64_t num)
{
	uint8_t hdr[JOURNAL_SEG_HDR];
	char name[32];
	struct jseg *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->num = num;
	journal_seg_name(name, sizeof(name), num);
	s->fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	journal_put_seg_header(hdr, j->next_seq);
	r = pwrite_all(s->fd, hdr, sizeof(hdr), 0);
	if (r == 0)
		r = journal_seg_push(j, s);
	if (r < 0) {
		close(s->fd);
		unlinkat(j->dirfd, name, 0);
		free(s);
		return r;
	}
	s->size = JOURNAL_SEG_HDR;
	j->stats.disk_bytes += JOURNAL_SEG_HDR;
	s->dirty = true;
	j->dir_dirty = true;
	j->wgen++;
	return 0;
}

/* A new active segment; the old one is doomed when nothing live is in it,
 * and the oldest sparse segment is copied forward. */
/* Writes the queued DONE and COMPLETE records at the end of the active
 * segment (the one they were counted in). On failure they are dropped (a
 * dispatch or an event may be replayed) and the segment cut back. */
static int tail_flush(struct journal *j)
{
	struct jseg *s = journal_active(j);
	int r;

	if (j->tail_len == 0)
		return 0;
	r = pwrite_all(s->fd, j->tail, j->tail_len, s->size);
	if (r < 0) {
		log_warn("journal", "cannot write segment %016" PRIx64 ": %s; %zu bytes of DONE/COMPLETE records lost",
			 s->num, strerror(-r), j->tail_len);
		if (ftruncate(s->fd, (off_t)s->size) < 0)
			log_error("journal", "cannot cut segment %016" PRIx64 " back: %s", s->num, strerror(errno));
	} else {
		s->size += j->tail_len;
		s->dirty = true;
		j->stats.disk_bytes += j->tail_len;
	}
	j->tail_len = 0;
	return r;
}

/* Room for len more bytes of queued records (flushed past 1 MiB), or NULL.
 * Queuing counts as a write: it bumps the write generation. */
static uint8_t *tail_reserve(struct journal *j, size_t len)
{
	uint8_t *p;

	if (j->tail_len + len > ((size_t)1 << 20))
		tail_flush(j);
	if (j->tail_len + len > j->tail_cap) {
		size_t cap = j->tail_cap ? j->tail_cap : 4096;

		while (cap < j->tail_len + len)
			cap *= 2;
		p = realloc(j->tail, cap);
		if (p == NULL)
			return NULL;
		j->tail = p;
		j->tail_cap = cap;
	}
	p = j->tail + j->tail_len;
	j->tail_len += len;
	j->wgen++;
	return p;
}

static int seg_roll(struct journal *j)
{
	struct jseg *old = journal_active(j);
	int r = journal_seg_create(j, old->num + 1);

	if (r < 0) {
		log_error("journal", "cannot make segment %016" PRIx64 ": %s", old->num + 1, strerror(-r));
		return r;
	}
	if (old->live_refs == 0) {
		old->unlink_wgen = j->wgen;
		j->n_doomed++;
	}
	maybe_compact(j);
	return 0;
}

/* Rolls to a new segment when len more bytes would not fit in the active
 * one (which may compact, using j->buf: call it before filling j->buf). */
static int seg_room(struct journal *j, size_t len)
{
	struct jseg *s = journal_active(j);

	if (s->size > JOURNAL_SEG_HDR && s->size + j->tail_len + len > j->segment_bytes) {
		tail_flush(j);
		return seg_roll(j);
	}
	return 0;
}

/* Writes the queued records, then len bytes of j->buf at the end of the
 * active segment. On failure
 * the segment is cut back to where it was. Returns the segment, or NULL
 * with *err. */
static struct jseg *seg_write(struct journal *j, size_t len, uint64_t *off, int *err)
{
	struct jseg *s = journal_active(j);
	int r;

	tail_flush(j);
	r = pwrite_all(s->fd, j->buf, len, s->size);
	if (r < 0) {
		log_error("journal", "cannot write segment %016" PRIx64 ": %s", s->num, strerror(-r));
		if (ftruncate(s->fd, (off_t)s->size) < 0)
			log_error("journal", "cannot cut segment %016" PRIx64 " back: %s", s->num, strerror(errno));
		*err = -EIO;
		return NULL;
	}
	*off = s->size;
	s->size += len;
	s->dirty = true;
	j->stats.disk_bytes += len;
	j->wgen++;
	return s;
}

int journal_buf_reserve(struct journal *j, size_t len)
{
	uint8_t *buf;

	if (len <= j->buf_cap)
		return 0;
	buf = realloc(j->buf, len);
	if (buf == NULL)
		return -ENOMEM;
	j->buf = buf;
	j->buf_cap = len;
	return 0;
}

/* ---- group commit ---- */

static void sync_work(uv_work_t *req)
{
	struct jsync *sy = req->data;
	uint64_t t0 = uv_hrtime();

	if (sy->no_fsync || sy->result < 0)
		return;
	for (size_t i = 0; i < sy->n_fds; i++) {
		if (fdatasync(sy->fds[i]) < 0) {
			sy->result = -errno;
			break;
		}
		sy->synced++;
	}
	sy->ns = uv_hrtime() - t0;
}

static void sync_after(uv_work_t *req, int status);

/* Starts an fsync when none is running and something waits for one. */
static void sync_kick(struct journal *j)
{
	struct jsync *sy;

	if (j->running != NULL || j->in_callbacks)
		return; /* the queued records wait for it to complete */
	tail_flush(j);
	if (j->wait_head == NULL && (j->n_doomed == 0 || j->broken))
		return;
	sy = calloc(1, sizeof(*sy));
	if (sy == NULL)
		return; /* retried at the next append or completion */
	sy->fds = calloc(j->n_segs + 1, sizeof(*sy->fds));
	if (sy->fds == NULL) {
		free(sy);
		return;
	}
	if (!j->no_fsync) {
		for (size_t i = 0; i < j->n_segs; i++)
			if (j->segs[i]->dirty)
				sy->fds[sy->n_fds++] = j->segs[i]->fd;
		if (j->dir_dirty)
			sy->fds[sy->n_fds++] = j->dirfd;
	}
	for (size_t i = 0; i < j->n_segs; i++)
		j->segs[i]->dirty = false;
	j->dir_dirty = false;
	sy->req.data = sy;
	sy->j = j;
	sy->no_fsync = j->no_fsync;
	sy->wgen = j->wgen;
	sy->seq = j->next_seq - 1;
	sy->waiters = j->wait_head;
	j->wait_head = NULL;
	j->wait_tail = &j->wait_head;
	j->running = sy;
	uv_queue_work(j->loop, &sy->req, sync_work, sync_after);
}

static void sync_after(uv_work_t *req, int status)
{
	struct jsync *sy = req->data;
	struct journal *j = sy->j;
	struct jwaiter *w, *next;
	int result = status < 0 ? status : sy->result;

	free(sy->fds);
	if (j == NULL) {
		for (size_t i = 0; i < sy->n_close; i++)
			close(sy->close_fds[i]);
		free(sy->close_fds);
		for (w = sy->waiters; w != NULL; w = next) {
			next = w->next;
			free(w);
		}
		free(sy);
		return;
	}
	j->running = NULL;
	if (result == 0) {
		if (sy->synced > 0) {
			j->stats.fsyncs++;
			j->stats.fsync_ns_last = sy->ns;
		}
		if (sy->seq > j->stats.synced_seq)
			j->stats.synced_seq = sy->seq;
		journal_seg_reap(j, sy->wgen);
	} else {
		j->stats.fsync_failures++;
		if (j->broken == 0)
			log_error("journal", "fsync failed: %s; refusing appends until restart", strerror(-result));
		j->broken = -EIO;
		result = -EIO;
	}
	sync_kick(j);
	j->in_callbacks++;
	for (w = sy->waiters; w != NULL; w = next) {
		next = w->next;
		if (result == 0)
			j->stats.appended_ok += w->n;
		else
			j->stats.appended_error += w->n;
		w->done(w->arg, result);
		free(w);
	}
	j->in_callbacks--;
	free(sy);
	if (j->in_callbacks == 0 && j->free_pending)
		journal_destroy(j);
	else
		sync_kick(j); /* what the callbacks appended or completed */
}

/* ---- appending ---- */

int journal_append(struct journal *j, const struct journal_event *evs, size_t n, uint64_t *seqs,
		   journal_done_fn done, void *arg)
{
	struct jlive **lives;
	struct jwaiter *w;
	struct jseg *s = NULL;
	size_t total = 0, pos = 0;
	uint64_t off = 0;
	int r;

	if (j->broken) {
		j->stats.appended_error += n;
		return j->broken;
	}
	for (size_t i = 0; i < n; i++) {
		size_t sz = journal_rec_event_size(&evs[i]);

		if (sz == 0 || sz > j->max_bytes) {
			j->stats.appended_full += n;
			return -ENOSPC;
		}
		total += sz;
	}
	if (j->live_bytes + total > j->max_bytes) {
		j->stats.appended_full += n;
		return -ENOSPC;
	}
	lives = calloc(n + 1, sizeof(*lives));
	w = calloc(1, sizeof(*w));
	r = lives == NULL || w == NULL ? -ENOMEM : 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if ((lives[i] = calloc(1, sizeof(**lives))) == NULL)
			r = -ENOMEM;
	if (r == 0)
		r = journal_index_reserve(j, n);
	if (r == 0)
		r = seg_room(j, total);
	if (r == 0)
		r = journal_buf_reserve(j, total);
	if (r == 0 && n > 0) {
		for (size_t i = 0; i < n; i++) {
			size_t sz = journal_rec_event_size(&evs[i]);

			journal_put_event(j->buf + pos, j->next_seq + i, &evs[i]);
			lives[i]->seq = j->next_seq + i;
			lives[i]->off = pos;
			lives[i]->size = (uint32_t)sz;
			pos += sz;
		}
		s = seg_write(j, total, &off, &r);
	}
	if (r < 0) {
		for (size_t i = 0; lives != NULL && i < n; i++)
			free(lives[i]);
		free(lives);
		free(w);
		j->stats.appended_error += n;
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		lives[i]->seg = s;
		lives[i]->off += off;
		journal_seg_ref(j, s, lives[i]->size);
		journal_index_insert(j, lives[i]);
		seqs[i] = lives[i]->seq;
	}
	free(lives);
	j->next_seq += n;
	j->stats.written_seq = j->next_seq - 1;
	w->done = done;
	w->arg = arg;
	w->n = n;
	*j->wait_tail = w;
	j->wait_tail = &w->next;
	sync_kick(j);
	return 0;
}

/* Writes the DONE record of key for l (roll: may make a new segment first)
 * and adds key to l's set, or moves it to the new record when it is in it
 * already. */
static int write_done(struct journal *j, struct jlive *l, const char *key, bool roll)
{
	size_t key_len = strlen(key), sz = journal_rec_done_size(key_len);
	uint8_t *p;
	int r;

	if (sz == 0)
		return -EINVAL;
	r = roll ? seg_room(j, sz) : 0;
	if (r < 0)
		return r;
	p = tail_reserve(j, sz);
	if (p == NULL)
		return -ENOMEM;
	journal_put_done(p, l->seq, key, key_len);
	return journal_done_set(j, l, key, journal_active(j), (uint32_t)sz);
}

int journal_done_set(struct journal *j, struct jlive *l, const char *key, struct jseg *s, uint32_t size)
{
	struct jdone *set;
	size_t i;

	for (i = 0; i < l->n_done; i++)
		if (strcmp(l->done[i].key, key) == 0)
			break;
	if (i < l->n_done) {
		journal_seg_unref(j, l->done[i].seg, l->done[i].size);
	} else {
		set = realloc(l->done, (l->n_done + 1) * sizeof(*set));
		if (set == NULL)
			return -ENOMEM;
		l->done = set;
		if ((set[i].key = strdup(key)) == NULL)
			return -ENOMEM;
		l->n_done++;
	}
	l->done[i].seg = s;
	l->done[i].size = size;
	journal_seg_ref(j, s, size);
	return 0;
}

void journal_dispatch_final(struct journal *j, uint64_t seq, const char *rule, const char *target_id)
{
	struct jlive *l = j == NULL ? NULL : journal_index_find(j, seq);
	size_t len;
	char *key;

	if (l == NULL || j->broken)
		return;
	len = strlen(rule) + 1 + strlen(target_id);
	key = malloc(len + 1);
	if (key == NULL)
		return;
	snprintf(key, len + 1, "%s\n%s", rule, target_id);
	for (size_t i = 0; i < l->n_done; i++) {
		if (strcmp(l->done[i].key, key) == 0) {
			free(key);
			return;
		}
	}
	if (write_done(j, l, key, true) < 0)
		log_warn("journal", "event %" PRIu64 ": DONE record not written (the dispatch may be replayed)", seq);
	free(key);
	sync_kick(j);
}

void journal_event_drop(struct journal *j, struct jlive *l)
{
	live_unlink(j, l);
	journal_seg_unref(j, l->seg, l->size);
	for (size_t i = 0; i < l->n_done; i++)
		journal_seg_unref(j, l->done[i].seg, l->done[i].size);
	live_free(l);
}

void journal_complete(struct journal *j, uint64_t seq)
{
	struct jlive *l = j == NULL ? NULL : journal_index_find(j, seq);
	uint8_t *p;

	if (l == NULL)
		return;
	if (!j->broken) {
		if (seg_room(j, JOURNAL_REC_COMPLETE_SIZE) == 0 &&
		    (p = tail_reserve(j, JOURNAL_REC_COMPLETE_SIZE)) != NULL)
			journal_put_complete(p, seq);
		else
			log_warn("journal", "event %" PRIu64 ": COMPLETE record not written (it may be replayed)", seq);
	}
	journal_event_drop(j, l);
	sync_kick(j);
}

/* ---- compaction ---- */

/* Moves l's records out of victim into the active segment: its EVENT
 * record (copied as it is on disk) and then all its DONE records, which
 * must follow it; or, when the EVENT is elsewhere, the DONE records that
 * are in victim. */
static int copy_forward(struct journal *j, struct jlive *l, struct jseg *victim)
{
	struct jseg *s;
	uint64_t off;
	int r;

	if (l->seg != victim) {
		/* only DONE records here: the EVENT is in an older segment,
		 * so they may move on their own */
		for (size_t i = 0; i < l->n_done; i++) {
			if (l->done[i].seg == victim && (r = write_done(j, l, l->done[i].key, false)) < 0)
				return r;
		}
		return 0;
	}
	r = journal_buf_reserve(j, l->size);
	if (r == 0)
		r = journal_pread_all(l->seg->fd, j->buf, l->size, l->off);
	if (r < 0)
		return r;
	s = seg_write(j, l->size, &off, &r);
	if (s == NULL)
		return r;
	journal_seg_unref(j, l->seg, l->size);
	l->seg = s;
	l->off = off;
	journal_seg_ref(j, s, l->size);
	for (size_t i = 0; i < l->n_done; i++) {
		r = write_done(j, l, l->done[i].key, false);
		if (r < 0)
			return r;
	}
	j->stats.copied_events++;
	return 0;
}

static void maybe_compact(struct journal *j)
{
	struct jseg *victim = NULL;

	if (j->compacting)
		return;
	for (size_t i = 0; i + 1 < j->n_segs && victim == NULL; i++) {
		struct jseg *s = j->segs[i];

		if (s->unlink_wgen == 0 && s->live_refs > 0 && s->live_bytes * 4 <= s->size - JOURNAL_SEG_HDR)
			victim = s;
	}
	if (victim == NULL)
		return;
	j->compacting = true;
	for (size_t b = 0; b < j->n_buckets && victim->live_refs > 0; b++) {
		for (struct jlive *l = j->buckets[b]; l != NULL; l = l->next) {
			bool here = l->seg == victim;

			for (size_t i = 0; i < l->n_done && !here; i++)
				here = l->done[i].seg == victim;
			if (here && copy_forward(j, l, victim) < 0) {
				log_warn("journal", "compaction of segment %016" PRIx64 " stopped", victim->num);
				j->compacting = false;
				return;
			}
		}
	}
	j->compacting = false;
	sync_kick(j);
}

/* ---- the rest ---- */

void journal_destroy(struct journal *j)
{
	struct jwaiter *w, *next;

	if (j->n_segs > 0)
		tail_flush(j);
	if (j->running != NULL) {
		/* its thread may be in fdatasync() on these: it closes them */
		struct jsync *sy = j->running;

		sy->j = NULL;
		sy->close_fds = calloc(j->n_segs + 1, sizeof(*sy->close_fds));
		for (size_t i = 0; sy->close_fds != NULL && i < j->n_segs; i++) {
			sy->close_fds[sy->n_close++] = j->segs[i]->fd;
			j->segs[i]->fd = -1;
		}
		if (sy->close_fds != NULL && j->dirfd >= 0) {
			sy->close_fds[sy->n_close++] = j->dirfd;
			j->dirfd = -1;
		}
		/* without memory for the list, the descriptors stay open */
		for (size_t i = 0; i < j->n_segs; i++)
			j->segs[i]->fd = -1;
		j->dirfd = -1;
	}
	for (w = j->wait_head; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	for (size_t b = 0; b < j->n_buckets; b++) {
		struct jlive *l = j->buckets[b], *nl;

		for (; l != NULL; l = nl) {
			nl = l->next;
			live_free(l);
		}
	}
	free(j->buckets);
	for (size_t i = 0; i < j->n_segs; i++)
		seg_close(j, j->segs[i], false);
	free(j->segs);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->buf);
	free(j->tail);
	free(j);
}

void journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->in_callbacks) {
		j->free_pending = true;
		return;
	}
	journal_destroy(j);
}

int journal_broken(const struct journal *j)
{
	return j->broken;
}

uint64_t journal_live_bytes(const struct journal *j)
{
	return j->live_bytes;
}

size_t journal_live_events(const struct journal *j)
{
	return j->n_live;
}

void journal_get_stats(const struct journal *j, struct journal_stats *ret)
{
	*ret = j->stats;
}
