/*
 * fuzz_journal.c — libFuzzer target for the journal's reader
 * (engine/journal_int.h, engine/journal.h).
 *
 * 1. The input as a segment image: journal_scan_buffer() reads only inside
 *    it (ASan), reports records that tile the valid prefix from the header
 *    on, each one decoding again alone to the same size, with strings that
 *    end where their lengths say.
 * 2. A segment made of records the input describes (first byte: how many,
 *    0–15; then per record a type byte, a sequence byte, a length byte and
 *    that many content bytes), written with the journal's own writers, then
 *    the rest of the input as a tail. The scan gives every written record
 *    back, unchanged, before anything of the tail; the tail is cut or read
 *    as records whose checksums hold.
 * 3. That segment as the only file of a journal directory (on /dev/shm when
 *    there is one): journal_open() replays exactly the events a model built
 *    from the scan says are live (an EVENT seen again counts once, COMPLETE
 *    ends it, DONE keys are a set), in sequence order, byte for byte; the
 *    file is cut to the valid prefix; a second open replays the same.
 * Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "journal.h"
#include "journal_int.h"
#include "logger.h"
#include "statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_GEN 16
#define MAX_MODEL 64

static char dir[64];
static uv_loop_t loop;

static void cleanup(void)
{
	statefile_remove_tree(dir);
}

static void init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/fuzz_journal.XXXXXX", base);
	if (!mkdtemp(dir) || uv_loop_init(&loop) != 0)
		abort();
	logger_setup(LOG_LEVEL_ERROR, false);
	atexit(cleanup);
}

/* ---- 1 and 2: the scan ---- */

struct scan_check {
	const uint8_t *buf;
	size_t next;                 /* where the next record must start */
	size_t n;
	struct journal_rec recs[MAX_GEN];
};

static int check_record(void *arg, const struct journal_rec *rec)
{
	struct scan_check *sc = arg;
	struct journal_rec again;

	if (rec->off != sc->next || rec->size < JOURNAL_REC_HDR)
		abort();
	if (journal_rec_decode(sc->buf + rec->off, rec->size, &again) != rec->size || again.seq != rec->seq ||
	    again.type != rec->type || rec->seq == 0)
		abort();
	if (rec->type == JOURNAL_REC_EVENT) {
		if (strlen(rec->ev.id) > JOURNAL_MAX_NAME || strlen(rec->ev.bus) > JOURNAL_MAX_NAME ||
		    rec->ev.json[rec->ev.len] != '\0')
			abort();
	} else if (rec->type == JOURNAL_REC_DONE) {
		if (strlen(rec->key) != rec->key_len)
			abort();
	}
	if (sc->n < MAX_GEN)
		sc->recs[sc->n] = *rec;
	sc->n++;
	sc->next = rec->off + rec->size;
	return 0;
}

static void scan_raw(const uint8_t *data, size_t size)
{
	struct scan_check sc = { .buf = data, .next = JOURNAL_SEG_HDR };
	uint64_t base;
	size_t valid;

	if (journal_scan_buffer(data, size, &base, &valid, check_record, &sc) != 0)
		abort();
	if (valid > size || (valid != 0 && valid != sc.next) || (valid == 0 && sc.n != 0))
		abort();
}

/* What the input asks to be written. */
struct gen {
	enum journal_rec_type type;
	uint64_t seq;
	char text[256];              /* id, or DONE key: no NUL */
	uint8_t json[256];
	size_t len;
};

static size_t parse_gen(const uint8_t *data, size_t size, struct gen *g, size_t *n_gen)
{
	size_t pos = 1, n = size ? data[0] % MAX_GEN : 0;

	*n_gen = 0;
	for (size_t i = 0; i < n && pos + 3 <= size; i++) {
		struct gen *x = &g[(*n_gen)++];
		size_t len = data[pos + 2] % 64;

		x->type = (enum journal_rec_type)(1 + data[pos] % 3);
		x->seq = 1 + data[pos + 1] % 8;
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		memcpy(x->json, data + pos, len);
		x->len = len;
		for (size_t k = 0; k < len; k++)
			x->text[k] = data[pos + k] ? (char)data[pos + k] : 'x';
		x->text[len] = '\0';
		pos += len;
	}
	return pos > size ? size : pos;
}

static size_t gen_size(const struct gen *x)
{
	struct journal_event ev = { .id = x->text, .bus = "default", .json = (const char *)x->json, .len = x->len };

	switch (x->type) {
	case JOURNAL_REC_EVENT:
		return journal_rec_event_size(&ev);
	case JOURNAL_REC_DONE:
		return journal_rec_done_size(x->len);
	default:
		return JOURNAL_REC_COMPLETE_SIZE;
	}
}

static void gen_put(uint8_t *dst, const struct gen *x)
{
	struct journal_event ev = { .id = x->text, .bus = "default", .json = (const char *)x->json, .len = x->len,
				    .ingest_wall_ms = x->seq * 1000, .depth = (uint32_t)x->len };

	switch (x->type) {
	case JOURNAL_REC_EVENT:
		journal_put_event(dst, x->seq, &ev);
		break;
	case JOURNAL_REC_DONE:
		journal_put_done(dst, x->seq, x->text, x->len);
		break;
	default:
		journal_put_complete(dst, x->seq);
		break;
	}
}

/* ---- 3: the model of what is live, and the replay ---- */

struct model_ev {
	uint64_t seq;
	const struct journal_rec *rec;   /* its EVENT record (the last one) */
	const char *done[MAX_MODEL];
	size_t n_done;
};

struct model {
	const uint8_t *buf;
	struct model_ev evs[MAX_MODEL];
	size_t n;
	struct journal_rec recs[4 * MAX_MODEL];
	size_t n_recs;
	bool overflow;
};

static struct model_ev *model_find(struct model *m, uint64_t seq)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->evs[i].seq == seq)
			return &m->evs[i];
	return NULL;
}

static int model_record(void *arg, const struct journal_rec *rec)
{
	struct model *m = arg;
	struct journal_rec *r;
	struct model_ev *e;

	if (m->n_recs == 4 * MAX_MODEL) {
		m->overflow = true;
		return 1;
	}
	r = &m->recs[m->n_recs++];
	*r = *rec;
	e = model_find(m, rec->seq);
	switch (rec->type) {
	case JOURNAL_REC_EVENT:
		if (e == NULL) {
			if (m->n == MAX_MODEL) {
				m->overflow = true;
				return 1;
			}
			e = &m->evs[m->n++];
			memset(e, 0, sizeof(*e));
			e->seq = rec->seq;
		}
		e->rec = r;
		break;
	case JOURNAL_REC_DONE:
		if (e != NULL) {
			bool seen = false;

			for (size_t i = 0; i < e->n_done; i++)
				seen |= strcmp(e->done[i], rec->key) == 0;
			if (!seen && e->n_done < MAX_MODEL)
				e->done[e->n_done++] = rec->key;
		}
		break;
	case JOURNAL_REC_COMPLETE:
		if (e != NULL)
			*e = m->evs[--m->n];
		break;
	}
	return 0;
}

static int cmp_model(const void *a, const void *b)
{
	const struct model_ev *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct replay_check {
	struct model *m;
	size_t next;
};

static void on_replay(void *arg, const struct journal_replayed *ev)
{
	struct replay_check *rc = arg;
	const struct model_ev *e;

	if (rc->next >= rc->m->n)
		abort();
	e = &rc->m->evs[rc->next++];
	if (ev->seq != e->seq || ev->n_done != e->n_done || ev->ev.len != e->rec->ev.len ||
	    strcmp(ev->ev.id, e->rec->ev.id) != 0 || strcmp(ev->ev.bus, e->rec->ev.bus) != 0 ||
	    memcmp(ev->ev.json, e->rec->ev.json, ev->ev.len + 1) != 0 || ev->ev.depth != e->rec->ev.depth ||
	    ev->ev.ingest_wall_ms != e->rec->ev.ingest_wall_ms)
		abort();
	for (size_t i = 0; i < ev->n_done; i++) {
		bool found = false;

		for (size_t k = 0; k < e->n_done; k++)
			found |= strcmp(ev->done[i], e->done[k]) == 0;
		if (!found)
			abort();
	}
}

static void open_and_check(struct model *m, size_t valid)
{
	struct journal_config cfg = { .dir = dir, .no_fsync = true, .max_bytes = 1u << 30 };
	char path[128], err[256];
	struct journal *j;
	struct stat st;

	qsort(m->evs, m->n, sizeof(m->evs[0]), cmp_model);
	for (int round = 0; round < 2; round++) {
		struct replay_check rc = { .m = m };

		if (journal_open(&loop, &cfg, on_replay, &rc, &j, err, sizeof(err)) != 0 || rc.next != m->n ||
		    journal_live_events(j) != m->n)
			abort();
		journal_free(j);
		uv_run(&loop, UV_RUN_DEFAULT);
		/* the first open cut the file to its valid prefix (or removed it
		 * when nothing in it was live or its header was bad) */
		snprintf(path, sizeof(path), "%s/%016x.seg", dir, 1u);
		if (round == 0 && stat(path, &st) == 0 && (uint64_t)st.st_size != valid)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct gen g[MAX_GEN];
	struct model m = { 0 };
	size_t n_gen, pos, len, off, valid;
	uint64_t base;
	uint8_t *img;
	char path[128];
	FILE *f;

	if (!ready) {
		init();
		ready = true;
	}
	scan_raw(data, size);

	pos = parse_gen(data, size, g, &n_gen);
	len = JOURNAL_SEG_HDR + (size - pos);
	for (size_t i = 0; i < n_gen; i++)
		len += gen_size(&g[i]);
	img = malloc(len ? len : 1);
	if (img == NULL)
		abort();
	journal_put_seg_header(img, 1);
	off = JOURNAL_SEG_HDR;
	for (size_t i = 0; i < n_gen; i++) {
		gen_put(img + off, &g[i]);
		off += gen_size(&g[i]);
	}
	memcpy(img + off, data + pos, size - pos);

	{
		struct scan_check sc = { .buf = img, .next = JOURNAL_SEG_HDR };

		if (journal_scan_buffer(img, len, &base, &valid, check_record, &sc) != 0 || base != 1 ||
		    valid < off || sc.n < n_gen)
			abort();
		for (size_t i = 0; i < n_gen; i++)
			if (sc.recs[i].type != g[i].type || sc.recs[i].seq != g[i].seq ||
			    (g[i].type == JOURNAL_REC_EVENT &&
			     (sc.recs[i].ev.len != g[i].len || memcmp(sc.recs[i].ev.json, g[i].json, g[i].len) != 0 ||
			      strcmp(sc.recs[i].ev.id, g[i].text) != 0)) ||
			    (g[i].type == JOURNAL_REC_DONE && strcmp(sc.recs[i].key, g[i].text) != 0))
				abort();
	}

	m.buf = img;
	if (journal_scan_buffer(img, len, &base, &valid, model_record, &m) == 0 && !m.overflow) {
		cleanup();
		if (mkdir(dir, 0700) != 0)
			abort();
		snprintf(path, sizeof(path), "%s/%016x.seg", dir, 1u);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(img, 1, len, f) != len || fclose(f) != 0)
			abort();
		open_and_check(&m, valid);
	}
	free(img);
	return 0;
}
