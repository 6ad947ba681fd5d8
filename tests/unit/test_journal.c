/*
 * test_journal.c — the event journal (engine/journal.h) on real files in a
 * fresh directory under /var/tmp (a disk, not tmpfs), with real fsyncs on
 * libuv's threadpool.
 *
 * The loop is run with UV_RUN_DEFAULT: the journal holds no handle, so
 * uv_run() returns exactly when every fsync it queued has completed and its
 * callbacks have run. Group commit is observed through journal_get_stats()
 * (journal_int.h): each callback records how many fsyncs had completed and
 * the highest sequence number they covered when it ran. Torn and corrupt
 * tails are made by truncating a segment file or flipping a byte in it;
 * a write error by RLIMIT_FSIZE (the kernel's EFBIG, partial writes first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "journal.h"
#include "journal_int.h"
#include "metrics.h"
#include "statefile.h"

#define MAX_CALLS 256
#define MAX_REPLAY 64

struct call {
	int result;
	uint64_t seq_hi;             /* the highest sequence of the append */
	uint64_t fsyncs_at_write;    /* fsyncs completed when it was appended */
	uint64_t fsyncs_seen;        /* fsyncs completed when its callback ran */
	uint64_t synced_seen;        /* the highest sequence they covered */
	bool called;
};

struct replayed {
	uint64_t seq;
	char *id, *bus, *json;
	size_t len;
	uint64_t wall;
	uint32_t depth;
	char *done[8];
	size_t n_done;
};

struct fixture {
	uv_loop_t loop;
	char dir[64];
	struct journal *j;
	struct journal_config cfg;
	struct call calls[MAX_CALLS];
	size_t n_calls;
	struct replayed rep[MAX_REPLAY];
	size_t n_rep;
};

static void on_replay(void *arg, const struct journal_replayed *ev)
{
	struct fixture *f = arg;
	struct replayed *r;

	assert_true(f->n_rep < MAX_REPLAY);
	r = &f->rep[f->n_rep++];
	r->seq = ev->seq;
	r->id = strdup(ev->ev.id);
	r->bus = strdup(ev->ev.bus);
	r->json = malloc(ev->ev.len + 1);
	memcpy(r->json, ev->ev.json, ev->ev.len + 1);
	r->len = ev->ev.len;
	r->wall = ev->ev.ingest_wall_ms;
	r->depth = ev->ev.depth;
	assert_true(ev->n_done <= 8);
	r->n_done = ev->n_done;
	for (size_t i = 0; i < ev->n_done; i++)
		r->done[i] = strdup(ev->done[i]);
}

static void replay_clear(struct fixture *f)
{
	for (size_t i = 0; i < f->n_rep; i++) {
		free(f->rep[i].id);
		free(f->rep[i].bus);
		free(f->rep[i].json);
		for (size_t k = 0; k < f->rep[i].n_done; k++)
			free(f->rep[i].done[k]);
	}
	f->n_rep = 0;
}

static void jopen(struct fixture *f)
{
	char err[256];
	int r;

	replay_clear(f);
	r = journal_open(&f->loop, &f->cfg, on_replay, f, &f->j, err, sizeof(err));
	if (r != 0)
		fail_msg("journal_open: %d %s", r, err);
}

static void jclose(struct fixture *f)
{
	journal_free(f->j);
	f->j = NULL;
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->dir, sizeof(f->dir), "/var/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->cfg.dir = f->dir;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	jclose(f);
	replay_clear(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal(statefile_remove_tree(f->dir), 0);
	free(f);
	return 0;
}

static struct journal_stats stats(const struct fixture *f)
{
	struct journal_stats st;

	journal_get_stats(f->j, &st);
	return st;
}

/* The fixture owning calls[]: set by append() before the journal can call. */
static struct fixture *current;

static void on_done_stats(void *arg, int result)
{
	struct call *c = arg;
	struct journal_stats st = stats(current);

	assert_false(c->called);
	c->called = true;
	c->result = result;
	c->fsyncs_seen = st.fsyncs;
	c->synced_seen = st.synced_seq;
}

/* Event i: id "ev-i", bus "default" or "b1", json of about pad bytes. */
struct evbuf {
	char id[32], bus[16];
	char *json;
	struct journal_event ev;
};

static void make_event(struct evbuf *b, unsigned i, size_t pad)
{
	size_t len;

	snprintf(b->id, sizeof(b->id), "ev-%u", i);
	snprintf(b->bus, sizeof(b->bus), i % 2 ? "b1" : "default");
	b->json = malloc(pad + 64);
	assert_non_null(b->json);
	len = (size_t)snprintf(b->json, pad + 64, "{\"n\":%u,\"pad\":\"", i);
	memset(b->json + len, 'a' + (char)(i % 26), pad);
	len += pad;
	len += (size_t)snprintf(b->json + len, 64, "\"}");
	b->ev = (struct journal_event){ .id = b->id, .bus = b->bus, .json = b->json, .len = len,
					.ingest_wall_ms = 1700000000000ull + i, .depth = i % 9 };
}

/* Appends events first..first+n-1 as one call; 0 or the error. */
static int append(struct fixture *f, unsigned first, size_t n, size_t pad, uint64_t *seqs)
{
	struct evbuf b[16];
	struct journal_event evs[16];
	struct call *c;
	int r;

	assert_true(n <= 16 && f->n_calls < MAX_CALLS);
	current = f;
	for (size_t i = 0; i < n; i++) {
		make_event(&b[i], first + (unsigned)i, pad);
		evs[i] = b[i].ev;
	}
	c = &f->calls[f->n_calls];
	memset(c, 0, sizeof(*c));
	c->fsyncs_at_write = stats(f).fsyncs;
	r = journal_append(f->j, evs, n, seqs, on_done_stats, c);
	for (size_t i = 0; i < n; i++)
		free(b[i].json);
	if (r == 0) {
		assert_false(c->called); /* never from inside the call */
		c->seq_hi = seqs[n - 1];
		f->n_calls++;
	}
	return r;
}

/* The bytes of event i's record. */
static off_t rec_size(unsigned i, size_t pad)
{
	struct evbuf b;
	size_t n;

	make_event(&b, i, pad);
	n = journal_rec_event_size(&b.ev);
	free(b.json);
	return (off_t)n;
}

static void check_replayed(const struct replayed *r, uint64_t seq, unsigned i, size_t pad)
{
	struct evbuf b;

	make_event(&b, i, pad);
	assert_int_equal(r->seq, seq);
	assert_string_equal(r->id, b.id);
	assert_string_equal(r->bus, b.bus);
	assert_int_equal(r->len, b.ev.len);
	assert_memory_equal(r->json, b.json, b.ev.len);
	assert_int_equal(r->json[r->len], '\0');
	assert_int_equal(r->wall, b.ev.ingest_wall_ms);
	assert_int_equal(r->depth, b.ev.depth);
	free(b.json);
}

/* The segment files in the directory: how many, the sum of their sizes, and
 * the path of the newest. */
static size_t segments(const struct fixture *f, uint64_t *bytes, char *newest, size_t newest_len)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	char best[32] = "";
	size_t n = 0;

	assert_non_null(d);
	if (bytes)
		*bytes = 0;
	while ((de = readdir(d)) != NULL) {
		char path[384];
		struct stat st;

		if (strstr(de->d_name, ".seg") == NULL)
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		if (bytes)
			*bytes += (uint64_t)st.st_size;
		if (strlen(de->d_name) < sizeof(best) && strcmp(de->d_name, best) > 0)
			memcpy(best, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	if (newest)
		snprintf(newest, newest_len, "%s/%s", f->dir, best);
	return n;
}

static void test_append_callback_after_fsync(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[3];

	jopen(f);
	assert_int_equal(f->n_rep, 0);
	assert_int_equal(append(f, 1, 3, 100, seqs), 0);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 2);
	assert_int_equal(seqs[2], 3);
	assert_int_equal(stats(f).fsyncs, 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->calls[0].called);
	assert_int_equal(f->calls[0].result, 0);
	assert_int_equal(f->calls[0].fsyncs_seen, 1);
	assert_true(f->calls[0].synced_seen >= 3);
	assert_int_equal(journal_live_events(f->j), 3);
	assert_true(journal_live_bytes(f->j) > 3 * 100);
	assert_int_equal(stats(f).appended_ok, 3);
}

/*
 * One append starts fsync #1; fifty more arrive while it runs (the loop
 * has not turned, so it cannot have completed): they all wait for fsync #2,
 * which covers them together. Every callback ran after an fsync that began
 * after its write and covered its sequence numbers.
 */
static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[2];

	jopen(f);
	assert_int_equal(append(f, 1, 1, 200, seqs), 0);
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(append(f, 10 + 2 * i, 2, 200, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(stats(f).fsyncs, 2);
	assert_int_equal(stats(f).synced_seq, 101);
	assert_int_equal(f->calls[0].fsyncs_seen, 1);
	assert_int_equal(f->calls[0].synced_seen, 1);
	for (size_t i = 0; i < f->n_calls; i++) {
		const struct call *c = &f->calls[i];

		assert_true(c->called);
		assert_int_equal(c->result, 0);
		assert_true(c->seq_hi <= c->synced_seen);
		/* appended while fsync #1 ran: only #2 (begun after) may answer */
		if (i > 0)
			assert_int_equal(c->fsyncs_seen, 2);
	}
	/* later appends, with no fsync running, get an fsync of their own */
	assert_int_equal(append(f, 200, 1, 10, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->calls[f->n_calls - 1].fsyncs_seen, 3);
	assert_int_equal(f->calls[f->n_calls - 1].synced_seen, 102);
}

static void test_replay_after_reopen(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[5];

	jopen(f);
	assert_int_equal(append(f, 1, 5, 300, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	journal_dispatch_final(f->j, 2, "rule-a", "t1");
	journal_dispatch_final(f->j, 2, "rule-b", "t2");
	journal_dispatch_final(f->j, 2, "rule-a", "t1"); /* a set: once */
	journal_dispatch_final(f->j, 3, "rule-a", "t1");
	journal_dispatch_final(f->j, 1, "rule-a", "t1");
	journal_complete(f->j, 1);
	journal_complete(f->j, 4);
	journal_complete(f->j, 99); /* unknown: nothing */
	assert_int_equal(journal_live_events(f->j), 3);
	jclose(f);

	jopen(f);
	assert_int_equal(f->n_rep, 3);
	check_replayed(&f->rep[0], 2, 2, 300);
	check_replayed(&f->rep[1], 3, 3, 300);
	check_replayed(&f->rep[2], 5, 5, 300);
	assert_int_equal(f->rep[0].n_done, 2);
	assert_string_equal(f->rep[0].done[0], "rule-a\nt1");
	assert_string_equal(f->rep[0].done[1], "rule-b\nt2");
	assert_int_equal(f->rep[1].n_done, 1);
	assert_string_equal(f->rep[1].done[0], "rule-a\nt1");
	assert_int_equal(f->rep[2].n_done, 0);
	assert_int_equal(journal_live_events(f->j), 3);

	/* replayed events complete now: the next open replays nothing */
	journal_complete(f->j, 2);
	journal_complete(f->j, 3);
	journal_complete(f->j, 5);
	assert_int_equal(journal_live_events(f->j), 0);
	assert_int_equal(journal_live_bytes(f->j), 0);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 0);
}

static void test_seq_increases_across_reopen(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[4], last = 0;

	for (unsigned round = 0; round < 4; round++) {
		jopen(f);
		assert_int_equal(append(f, round * 10, 4, 50, seqs), 0);
		assert_true(seqs[0] > last);
		last = seqs[3];
		uv_run(&f->loop, UV_RUN_DEFAULT);
		/* everything complete: every segment holding a record may go,
		 * and still the next daemon continues the numbering */
		for (unsigned i = 0; i < 4; i++)
			journal_complete(f->j, seqs[i]);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		jclose(f);
	}
	assert_int_equal(last, 16);
	jopen(f);
	assert_int_equal(f->n_rep, 0);
	assert_int_equal(segments(f, NULL, NULL, 0), 1);
}

static void truncate_by(const char *path, off_t cut)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - cut), 0);
}

static void flip_byte(const char *path, off_t off)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void test_torn_tail(void **state)
{
	struct fixture *f = *state;
	off_t r1 = rec_size(1, 400), r2 = rec_size(2, 400), r3 = rec_size(3, 400);
	char path[128];
	uint64_t seqs[3];
	struct stat st;

	jopen(f);
	assert_int_equal(append(f, 1, 3, 400, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	jclose(f);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 1u);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, JOURNAL_SEG_HDR + r1 + r2 + r3);
	truncate_by(path, 7); /* mid-record: event 3 torn */

	jopen(f);
	assert_int_equal(f->n_rep, 2);
	check_replayed(&f->rep[0], 1, 1, 400);
	check_replayed(&f->rep[1], 2, 2, 400);
	assert_int_equal(stats(f).cut_bytes, (uint64_t)(r3 - 7));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, JOURNAL_SEG_HDR + r1 + r2);
	/* later appends work, and a reopen replays the old two and the new one */
	assert_int_equal(append(f, 7, 1, 400, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->calls[f->n_calls - 1].result, 0);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 3);
	check_replayed(&f->rep[0], 1, 1, 400);
	check_replayed(&f->rep[1], 2, 2, 400);
	check_replayed(&f->rep[2], seqs[0], 7, 400);
	assert_int_equal(stats(f).cut_bytes, 0);
}

/* A flipped byte in the middle record: the checksum catches it, that record
 * and everything after it in the segment are cut; nothing is replayed that
 * was not written as it reads. */
static void test_corrupt_record(void **state)
{
	struct fixture *f = *state;
	off_t r1 = rec_size(1, 400), r2 = rec_size(2, 400), r3 = rec_size(3, 400);
	char path[128];
	uint64_t seqs[3];

	jopen(f);
	assert_int_equal(append(f, 1, 3, 400, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	jclose(f);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 1u);
	flip_byte(path, JOURNAL_SEG_HDR + r1 + r2 / 2); /* inside event 2's JSON */

	jopen(f);
	assert_int_equal(f->n_rep, 1);
	check_replayed(&f->rep[0], 1, 1, 400);
	assert_int_equal(stats(f).cut_bytes, (uint64_t)(r2 + r3));
	assert_int_equal(append(f, 8, 1, 400, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 2);
	check_replayed(&f->rep[0], 1, 1, 400);
	check_replayed(&f->rep[1], seqs[0], 8, 400);
}

/* A bad segment header: the whole file is dropped, the journal opens. */
static void test_bad_header(void **state)
{
	struct fixture *f = *state;
	char path[128];
	uint64_t seqs[1];
	struct stat st;

	jopen(f);
	assert_int_equal(append(f, 1, 1, 10, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	jclose(f);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 1u);
	assert_int_equal(stat(path, &st), 0);
	flip_byte(path, 3); /* in the magic */
	jopen(f);
	assert_int_equal(f->n_rep, 0);
	assert_int_equal(stats(f).cut_bytes, (uint64_t)st.st_size);
	assert_int_equal(stat(path, &st), -1);
}

static void test_full_then_room_again(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[1], live;
	unsigned n = 0;
	int r;

	f->cfg.max_bytes = 8192;
	jopen(f);
	while ((r = append(f, n, 1, 1000, seqs)) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(n, 7); /* 7 records of ~1.07 KB fit in 8 KiB */
	live = journal_live_bytes(f->j);
	assert_true(live <= 8192);
	assert_int_equal(journal_live_events(f->j), 7);
	assert_int_equal(stats(f).appended_full, 1);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < f->n_calls; i++)
		assert_int_equal(f->calls[i].result, 0);
	journal_dispatch_final(f->j, 1, "r", "t");
	journal_complete(f->j, 1);
	assert_true(journal_live_bytes(f->j) < live);
	assert_int_equal(append(f, 100, 1, 1000, seqs), 0);
	assert_int_equal(append(f, 101, 1, 1000, seqs), -ENOSPC);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->calls[f->n_calls - 1].result, 0);
	assert_int_equal(stats(f).appended_full, 2);
	assert_int_equal(stats(f).appended_ok, 8);
	/* nothing refused was written: a reopen replays exactly the accepted */
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 7);
	check_replayed(&f->rep[6], 8, 100, 1000);
}

/*
 * Small segments (4 KiB, about seven 500-byte events each); event 1 stays
 * live with a DONE record, every other completes as soon as it is durable.
 * Segments left with nothing live are deleted; the first one, holding only
 * event 1 once the rest completed, is copied forward and deleted; the
 * files stay a few segments in all; a reopen replays event 1 with its done
 * set.
 */
static void test_compaction_frees_disk(void **state)
{
	struct fixture *f = *state;
	char path[128];
	uint64_t seqs[1], bytes;
	struct stat st;

	f->cfg.segment_bytes = 4096;
	jopen(f);
	assert_int_equal(append(f, 1, 1, 500, seqs), 0);
	journal_dispatch_final(f->j, 1, "keep", "me");
	for (unsigned i = 2; i <= 200; i++) {
		assert_int_equal(append(f, i, 1, 500, seqs), 0);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		journal_complete(f->j, seqs[0]);
	}
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(stats(f).copied_events >= 1);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 1u);
	assert_int_equal(stat(path, &st), -1);
	/* 200 events of ~550 bytes were written: 110 KB; what is left is about
	 * the active segment and the one event */
	assert_true(segments(f, &bytes, NULL, 0) <= 3);
	assert_true(bytes <= 3 * 4096 + 1024);
	assert_int_equal(stats(f).segments, segments(f, NULL, NULL, 0));
	assert_int_equal(stats(f).disk_bytes, bytes);
	assert_int_equal(journal_live_events(f->j), 1);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 1);
	check_replayed(&f->rep[0], 1, 1, 500);
	assert_int_equal(f->rep[0].n_done, 1);
	assert_string_equal(f->rep[0].done[0], "keep\nme");
}

/*
 * A DONE record written long after its event, in a later segment that
 * then empties: compaction moves just that record (the event's segment is
 * full of live events and stays), the emptied segments go, and a reopen
 * still replays the event with its done set.
 */
static void test_compaction_moves_a_late_done(void **state)
{
	struct fixture *f = *state;
	char path[128];
	uint64_t seqs[7];
	struct stat st;

	f->cfg.segment_bytes = 4096;
	jopen(f);
	assert_int_equal(append(f, 1, 7, 500, seqs), 0); /* segment 1, all live */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (unsigned i = 8; i <= 100; i++) {
		assert_int_equal(append(f, i, 1, 500, seqs), 0);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		if (i == 10)
			journal_dispatch_final(f->j, 1, "late", "done");
		journal_complete(f->j, seqs[0]);
	}
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(stats(f).copied_events, 0);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 1u);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/%016x.seg", f->dir, 2u);
	assert_int_equal(stat(path, &st), -1);
	assert_true(segments(f, NULL, NULL, 0) <= 3);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 7);
	for (unsigned i = 0; i < 7; i++)
		check_replayed(&f->rep[i], i + 1, i + 1, 500);
	assert_int_equal(f->rep[0].n_done, 1);
	assert_string_equal(f->rep[0].done[0], "late\ndone");
	assert_int_equal(f->rep[1].n_done, 0);
}

/* A write that fails (the file-size limit: a partial write, then EFBIG) is
 * cut back: nothing appended, no callback, and the next append after the
 * limit is lifted lands after valid records only. */
static void test_write_error_cut_back(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	uint64_t seqs[4];
	void (*prev)(int);

	jopen(f);
	assert_int_equal(append(f, 1, 1, 100, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	prev = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 300;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(append(f, 2, 4, 100, seqs), -EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(stats(f).appended_error, 4);
	assert_int_equal(journal_live_events(f->j), 1);
	/* shorter than what the failed write left: no garbage may follow it */
	assert_int_equal(append(f, 9, 1, 10, seqs), 0);
	assert_int_equal(seqs[0], 2);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	jclose(f);
	jopen(f);
	assert_int_equal(f->n_rep, 2);
	check_replayed(&f->rep[0], 1, 1, 100);
	check_replayed(&f->rep[1], 2, 9, 10);
	assert_int_equal(stats(f).cut_bytes, 0);
}

/* Copies the segment files of f's directory into a new directory, as a
 * crash would leave them (the journal is not freed, nothing more written),
 * and opens a journal there into g. */
static void open_copy(struct fixture *f, struct fixture *g)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	static char buf[1 << 16];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char from[384], to[384];
		ssize_t n;
		int in, out;

		if (strstr(de->d_name, ".seg") == NULL)
			continue;
		snprintf(from, sizeof(from), "%s/%s", f->dir, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", g->dir, de->d_name);
		in = open(from, O_RDONLY);
		out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(in >= 0 && out >= 0);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		close(in);
		close(out);
	}
	closedir(d);
	jopen(g);
}

/*
 * DONE and COMPLETE records made while an fsync runs wait in memory and are
 * written when it completes — without any later append and without
 * journal_free: a crash then (the files copied as they are) replays the
 * done set and not the completed event.
 */
static void test_done_complete_written_without_append(void **state)
{
	struct fixture *f = *state;
	struct fixture *g;
	uint64_t seqs[2], bytes, before;

	jopen(f);
	assert_int_equal(append(f, 1, 2, 100, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(append(f, 3, 1, 100, seqs), 0); /* an fsync runs */
	segments(f, &before, NULL, 0);
	journal_dispatch_final(f->j, 1, "r", "t");
	journal_complete(f->j, 2);
	segments(f, &bytes, NULL, 0);
	assert_int_equal(bytes, before); /* queued */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	segments(f, &bytes, NULL, 0);
	assert_int_equal(bytes, before + journal_rec_done_size(3) + JOURNAL_REC_COMPLETE_SIZE);
	/* with no fsync running, they are written at once */
	journal_dispatch_final(f->j, 3, "r", "t");
	segments(f, &before, NULL, 0);
	assert_int_equal(before, bytes + journal_rec_done_size(3));

	assert_int_equal(setup((void **)&g), 0);
	open_copy(f, g);
	assert_int_equal(g->n_rep, 2);
	check_replayed(&g->rep[0], 1, 1, 100);
	assert_int_equal(g->rep[0].n_done, 1);
	assert_string_equal(g->rep[0].done[0], "r\nt");
	check_replayed(&g->rep[1], 3, 3, 100);
	assert_int_equal(g->rep[1].n_done, 1);
	assert_int_equal(teardown((void **)&g), 0);
}

/* Freed with an fsync running: its callbacks are never called, nothing
 * leaks (ASan), no descriptor is left open once it completes, the loop
 * closes, and the records queued meanwhile are written. */
static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void test_free_while_syncing(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[1];
	size_t fds = open_fds();

	jopen(f);
	assert_int_equal(append(f, 1, 1, 100, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(append(f, 2, 1, 100, seqs), 0);
	assert_int_equal(append(f, 3, 1, 100, seqs), 0);
	journal_complete(f->j, 1); /* queued: an fsync runs */
	jclose(f);
	assert_false(f->calls[1].called);
	assert_false(f->calls[2].called);
	assert_int_equal(open_fds(), fds); /* the fsync's thread closed them */
	jopen(f);
	assert_int_equal(f->n_rep, 2);
	check_replayed(&f->rep[0], 2, 2, 100);
	check_replayed(&f->rep[1], 3, 3, 100);
}

static char *render(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(metrics_render(m, out), 0);
	fclose(out);
	return text;
}

/* The journal's families in the registry its configuration names. */
static void test_metrics(void **state)
{
	struct fixture *f = *state;
	struct metrics *m = metrics_new();
	uint64_t seqs[2];
	char *text, line[128];

	assert_non_null(m);
	f->cfg.metrics = m;
	f->cfg.max_bytes = 2048;
	jopen(f);
	text = render(m);
	assert_non_null(strstr(text, "\ntripline_journal_fsyncs_total 0\n"));
	assert_non_null(strstr(text, "\ntripline_journal_appends_total{result=\"full\"} 0\n"));
	free(text);
	assert_int_equal(append(f, 1, 2, 100, seqs), 0);
	assert_int_equal(append(f, 3, 2, 900, seqs), -ENOSPC);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	text = render(m);
	assert_non_null(strstr(text, "# TYPE tripline_journal_fsyncs_total counter\n"));
	assert_non_null(strstr(text, "\ntripline_journal_fsyncs_total 1\n"));
	assert_non_null(strstr(text, "\ntripline_journal_events 2\n"));
	snprintf(line, sizeof(line), "\ntripline_journal_bytes %llu\n",
		 (unsigned long long)journal_live_bytes(f->j));
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "\ntripline_journal_appends_total{result=\"ok\"} 2\n"));
	assert_non_null(strstr(text, "\ntripline_journal_appends_total{result=\"full\"} 2\n"));
	assert_non_null(strstr(text, "\ntripline_journal_appends_total{result=\"error\"} 0\n"));
	free(text);
	/* a second render adds nothing twice */
	text = render(m);
	assert_non_null(strstr(text, "\ntripline_journal_appends_total{result=\"ok\"} 2\n"));
	free(text);
	jclose(f);
	metrics_free(m);
}

/* no_fsync: callbacks still come from the loop, no fsync is counted. */
static void test_no_fsync(void **state)
{
	struct fixture *f = *state;
	uint64_t seqs[2];

	f->cfg.no_fsync = true;
	jopen(f);
	assert_int_equal(append(f, 1, 2, 100, seqs), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->calls[0].called);
	assert_int_equal(f->calls[0].result, 0);
	assert_int_equal(stats(f).fsyncs, 0);
	assert_int_equal(stats(f).synced_seq, 2);
}

/* CRC32C against a bit-at-a-time reference, and its check value: whichever
 * implementation the machine picks (SSE4.2 or the tables). */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

static void test_crc32c(void **state)
{
	(void)state;
	uint8_t buf[300];

	uint32_t (*const impl[])(uint32_t, const void *, size_t) = {journal_crc32c, journal_crc32c_tables};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(impl[k](0, "123456789", 9), 0xe3069283u);
		for (size_t n = 0; n <= sizeof(buf); n += 13)
			for (size_t off = 0; off < 8; off++)
				if (off + n <= sizeof(buf))
					assert_int_equal(impl[k](0, buf + off, n), crc32c_bitwise(buf + off, n));
		/* in pieces, as a record's header and payload are */
		assert_int_equal(impl[k](impl[k](0, buf, 100), buf + 100, 200), crc32c_bitwise(buf, 300));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test_setup_teardown(test_append_callback_after_fsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_after_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_increases_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_then_room_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_frees_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_moves_a_late_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_cut_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_complete_written_without_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_syncing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
