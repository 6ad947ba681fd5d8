/*
 * fs.c — the file source: each `sources.files` entry watches a directory
 * tree and emits S3's EventBridge notifications for it (DESIGN.md §3), the
 * watch's name as the bucket, the path below the root as the key.
 *
 *   "Object Created" when a file is complete: closed after writing
 *   (PutObject), renamed into the tree (CopyObject), or found by a scan and
 *   unchanged across two looks a second apart (PutObject); "Object Deleted"
 *   (DeleteObject) when a present key is unlinked, renamed out of the tree,
 *   or no longer found by a scan. How inotify events become these is
 *   fs_watch.c's; scans are fs_scan.c's; the index file is fs_index.c's.
 *
 * Each event is built with event_build() — id event_id_digest(name, key,
 * inode, size, mtime_ns, "created"|"deleted"), so the same file re-emitted
 * after a crash has the same id — and handed to the bus with
 * ingest_submit_owned() in sequencer order, in batches; -EAGAIN (the bus is
 * full) keeps it queued and retries from a timer, never drops it. Its
 * hooks.final checkpoints the key in the index, and a key's events are
 * checkpointed in their order (a later event waits for the earlier ones),
 * so the index only ever holds what every dispatch has finished. The
 * sequencer is a counter per watch, reserved in the index ahead of use, so
 * it increases per key across restarts. The etag is the MD5 of the content
 * (computed on the threadpool) for a file of at most etag_max_bytes whose
 * inode, size and mtime did not change while it was read; otherwise 32 hex
 * digits of SHA-256("inode:size:mtime_ns") followed by "-1", which no MD5
 * looks like.
 *
 * include/exclude: a glob without '/' matches the base name, one with '/'
 * the whole key (fnmatch, FNM_PATHNAME); exclude applies to directories too
 * (an excluded directory is neither watched nor scanned), include to files
 * only; no include means every file.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "digest.h"
#include "event.h"
#include "fs_internal.h"
#include "ingest.h"
#include "json_lex.h"
#include "logger.h"
#include "metrics.h"
#include "utf8.h"

#define SEQ_RESERVE 4096u          /* sequencers reserved in the index at a time */
#define RETRY_MS 20u               /* the bus was full: the next try */
#define FLUSH_MS 100u              /* checkpoints buffered at most this long */

struct fs_source {
	struct source_env env;
	size_t n;
	struct fs_tree **trees;
	struct metric *m_events, *m_errors, *m_rescans, *m_watches;
	bool free_when_closed;   /* a failed start: freed once the handles are closed */
};

static void tree_free(struct fs_tree *t);
static void pump(struct fs_tree *t);
static void free_if_failed(struct fs_source *s);

/* ------------------------------------------------------------- helpers */

void fs_count_error(struct fs_tree *t, const char *reason)
{
	const char *labels[] = {"fs", t->name, reason};

	t->n_errors++;
	metric_add(t->src->m_errors, labels, 1);
}

void fs_set_down(struct fs_tree *t, const char *fmt, ...)
{
	char msg[sizeof(t->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, t->error) != 0)
		log_error("fs", "%s: %s", t->name, msg);
	memcpy(t->error, msg, sizeof(msg));
}

static bool glob_match(const char *const *globs, size_t n, const char *key)
{
	const char *base = strrchr(key, '/');

	base = base ? base + 1 : key;
	for (size_t i = 0; i < n; i++) {
		bool path = strchr(globs[i], '/') != NULL;
		if (fnmatch(globs[i], path ? key : base, path ? FNM_PATHNAME : 0) == 0)
			return true;
	}
	return false;
}

bool fs_excluded(const struct fs_tree *t, const char *key, bool dir)
{
	if (glob_match(t->exclude, t->n_exclude, key))
		return true;
	return !dir && t->n_include && !glob_match(t->include, t->n_include, key);
}

bool fs_under(const char *key, const char *rel)
{
	size_t n = strlen(rel);

	if (!n)
		return true;
	return strncmp(key, rel, n) == 0 && (key[n] == '\0' || key[n] == '/');
}

static bool valid_utf8(const char *s, size_t n)
{
	const char *p = s, *end = s + n;

	while (p < end) {
		if ((unsigned char)*p < 0x80) {
			p++;
			continue;
		}
		if (!(p = json_lex_utf8(p, end)))
			return false;
	}
	return true;
}

char *fs_make_key(struct fs_tree *t, const char *dir_rel, const char *name, size_t name_len)
{
	size_t dlen = strlen(dir_rel), n = dlen + (dlen ? 1 : 0) + name_len;

	if (!valid_utf8(name, name_len)) {
		size_t clen;
		char *clean = utf8_clean(name, name_len, &clen);
		fs_count_error(t, "utf8");
		log_warn("fs", "%s: %s%s%s: the name is not valid UTF-8, skipped", t->name, dir_rel,
			 dlen ? "/" : "", clean ? clean : "?");
		free(clean);
		return NULL;
	}
	if (n > FS_KEY_MAX) {
		fs_count_error(t, "key_length");
		log_warn("fs", "%s: %s/%.*s: a key longer than %u bytes, skipped", t->name, dir_rel,
			 (int)(name_len > 64 ? 64 : name_len), name, FS_KEY_MAX);
		return NULL;
	}
	char *key = malloc(n + 1);
	if (!key) {
		fs_count_error(t, "io");
		return NULL;
	}
	memcpy(key, dir_rel, dlen);
	if (dlen)
		key[dlen] = '/';
	memcpy(key + n - name_len, name, name_len);
	key[n] = '\0';
	return key;
}

int fs_stat_path(const struct fs_tree *t, const char *rel, struct fs_stat *st, bool *is_dir)
{
	char path[PATH_MAX];
	struct stat sb;

	if (snprintf(path, sizeof(path), "%s%s%s", t->root, *rel ? "/" : "", rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (lstat(path, &sb) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	*is_dir = S_ISDIR(sb.st_mode);
	if (!S_ISREG(sb.st_mode))
		return 0;
	*st = (struct fs_stat){.inode = (uint64_t)sb.st_ino, .size = (uint64_t)sb.st_size,
			       .mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec};
	return 1;
}

/* ---------------------------------------------------------------- keys */

struct fs_key *fs_key_get(struct fs_tree *t, const char *key, bool create)
{
	struct strmap_node *n = strmap_find(&t->keys, key);

	if (n || !create)
		return n ? strmap_entry(n, struct fs_key, node) : NULL;
	struct fs_key *k = calloc(1, sizeof(*k));
	if (!k || !(k->key = strdup(key))) {
		free(k);
		return NULL;
	}
	if (strmap_insert(&t->keys, &k->node, k->key) < 0) {
		free(k->key);
		free(k);
		return NULL;
	}
	return k;
}

void fs_key_maybe_free(struct fs_tree *t, struct fs_key *k)
{
	if (k->indexed || k->present || k->pend_head || k->cand)
		return;
	strmap_remove(&t->keys, &k->node);
	free(k->key);
	free(k);
}

ssize_t fs_keys_under(struct fs_tree *t, const char *rel, struct fs_key ***ret)
{
	struct fs_key **v = malloc((t->keys.n ? t->keys.n : 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t b = 0; b < t->keys.nbuckets; b++)
		for (struct strmap_node *x = t->keys.buckets[b]; x; x = x->next) {
			struct fs_key *k = strmap_entry(x, struct fs_key, node);
			if ((k->present || k->cand) && fs_under(k->key, rel))
				v[n++] = k;
		}
	*ret = v;
	return (ssize_t)n;
}

/* ----------------------------------------------------------- the index */

static void checkpoint_flush(struct fs_tree *t);

static void on_flush_timer(uv_timer_t *h)
{
	checkpoint_flush(h->data);
}

static void log_changed(struct fs_tree *t)
{
	if (t->stopped || t->flush_timer.loop == NULL)
		checkpoint_flush(t);
	else if (!uv_is_active((uv_handle_t *)&t->flush_timer))
		uv_timer_start(&t->flush_timer, on_flush_timer, FLUSH_MS, 0);
}

static void checkpoint_flush(struct fs_tree *t)
{
	int r = fs_log_flush(&t->log);

	if (r < 0) {
		fs_count_error(t, "io");
		log_error("fs", "%s: writing the index %s/%s: %s (its events will be emitted again after a restart)",
			  t->name, t->log.dir, t->log.name, strerror(-r));
		return;
	}
	if (!fs_log_wants_snapshot(&t->log))
		return;
	struct fs_buf snap = {0};
	r = fs_index_header(&snap);
	if (r == 0)
		r = fs_index_seq(&snap, t->seq_reserved);
	for (size_t b = 0; r == 0 && b < t->keys.nbuckets; b++)
		for (struct strmap_node *x = t->keys.buckets[b]; r == 0 && x; x = x->next) {
			struct fs_key *k = strmap_entry(x, struct fs_key, node);
			if (k->indexed)
				r = fs_index_put(&snap, k->key, k->ix_seq, &k->ix);
		}
	if (r == 0)
		r = fs_log_replace(&t->log, &snap);
	if (r < 0) {
		fs_count_error(t, "io");
		log_error("fs", "%s: compacting the index: %s", t->name, strerror(-r));
	}
	fs_buf_free(&snap);
}

static void index_put(struct fs_tree *t, struct fs_key *k, uint64_t seq, const struct fs_stat *st)
{
	size_t before = t->log.out.len;

	if (!k->indexed)
		t->log.live_bytes += 64 + strlen(k->key);
	k->indexed = true;
	k->ix = *st;
	k->ix_seq = seq;
	if (fs_index_put(&t->log.out, k->key, seq, st) < 0) {
		t->log.out.len = before;
		fs_count_error(t, "io");
	}
	log_changed(t);
}

static void index_del(struct fs_tree *t, struct fs_key *k, uint64_t seq)
{
	size_t before = t->log.out.len;

	k->indexed = false;
	if (fs_index_del(&t->log.out, k->key, seq) < 0) {
		t->log.out.len = before;
		fs_count_error(t, "io");
	}
	log_changed(t);
}

static uint64_t next_seq(struct fs_tree *t)
{
	if (t->next_seq >= t->seq_reserved) {
		t->seq_reserved = t->next_seq + SEQ_RESERVE;
		/* written at once: a sequencer is never handed out twice */
		if (fs_index_seq(&t->log.out, t->seq_reserved) < 0 || fs_log_flush(&t->log) < 0)
			fs_count_error(t, "io");
	}
	return t->next_seq++;
}

void fs_baseline(struct fs_tree *t, struct fs_key *k, const struct fs_stat *st)
{
	if (k->pend_head)
		return;   /* an event is on its way: its checkpoint will say */
	if (st) {
		k->present = true;
		k->cur = *st;
		if (!k->indexed || !fs_stat_eq(&k->ix, st))
			index_put(t, k, k->indexed ? k->ix_seq : 0, st);
	} else {
		k->present = false;
		if (k->indexed)
			index_del(t, k, k->ix_seq);
	}
}

static int load_put(void *arg, const char *key, size_t len, uint64_t seq, const struct fs_stat *st)
{
	struct fs_tree *t = arg;
	struct fs_key *k = fs_key_get(t, key, true);

	(void)len;
	if (!k)
		return -ENOMEM;
	k->indexed = k->present = true;
	k->ix = k->cur = *st;
	k->ix_seq = seq;
	if (seq >= t->next_seq)
		t->next_seq = seq + 1;
	return 0;
}

static int load_del(void *arg, const char *key, size_t len, uint64_t seq)
{
	struct fs_tree *t = arg;
	struct fs_key *k = fs_key_get(t, key, false);

	(void)len;
	if (seq >= t->next_seq)
		t->next_seq = seq + 1;
	if (k) {
		k->indexed = k->present = false;
		fs_key_maybe_free(t, k);
	}
	return 0;
}

static int load_seq(void *arg, uint64_t next)
{
	struct fs_tree *t = arg;

	if (next > t->next_seq)
		t->next_seq = next;
	return 0;
}

/* ---------------------------------------------------------- the events */

static void request_id(const char *id, char out[17])
{
	size_t n = 0;

	for (const char *p = id; *p && n < 16; p++)
		if (*p != '-')
			out[n++] = (*p >= 'a' && *p <= 'f') ? (char)(*p - 'a' + 'A') : *p;
	out[n] = '\0';
}

static int build(struct fs_pend *p)
{
	struct fs_tree *t = p->t;
	char inode[24], size[24], mtime[24], seq[17], id[37], rid[17];
	const char *parts[] = {t->name, p->k->key, inode, size, mtime, p->deleted ? "deleted" : "created"};
	const char *resources[1];
	char arn[300];
	int r;

	snprintf(inode, sizeof(inode), "%" PRIu64, p->st.inode);
	snprintf(size, sizeof(size), "%" PRIu64, p->st.size);
	snprintf(mtime, sizeof(mtime), "%" PRId64, p->st.mtime_ns);
	snprintf(seq, sizeof(seq), "%016" PRIx64, p->seq);
	event_id_digest(parts, sizeof(parts) / sizeof(parts[0]), id);
	request_id(id, rid);
	snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", t->name);
	resources[0] = arn;

	json_t *object = p->deleted
		? json_pack("{s:s, s:s}", "key", p->k->key, "sequencer", seq)
		: json_pack("{s:s, s:I, s:s, s:s}", "key", p->k->key, "size", (json_int_t)p->st.size, "etag",
			    p->etag, "sequencer", seq);
	json_t *detail = json_pack("{s:s, s:{s:s}, s:o, s:s, s:s, s:s, s:s}", "version", "0", "bucket", "name",
				   t->name, "object", object, "request-id", rid, "requester", "tripline",
				   "source-ip-address", "127.0.0.1", "reason",
				   p->deleted ? "DeleteObject" : p->copy ? "CopyObject" : "PutObject");
	if (detail && p->deleted)
		json_object_set_new(detail, "deletion-type", json_string("Permanently Deleted"));
	char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	if (!text)
		return -ENOMEM;
	struct event_fields f = {
		.id = id,
		.source = t->source,
		.detail_type = p->deleted ? "Object Deleted" : "Object Created",
		.detail = text,
		.detail_len = strlen(text),
		.resources = resources,
		.n_resources = 1,
		.time_s = -1,
		.account = t->src->env.cfg->account,
		.region = t->src->env.cfg->region,
	};
	r = event_build(&f, t->bus, &p->ev);
	free(text);
	return r;
}

static void pend_free(struct fs_pend *p)
{
	if (p->ev) {
		p->ev->hooks = (struct event_hooks){0};
		event_unref(p->ev);
	}
	free(p->path);
	free(p);
}

/* Checkpoints the key's events that are final, in order. */
static void advance(struct fs_tree *t, struct fs_key *k)
{
	while (k->pend_head && k->pend_head->final) {
		struct fs_pend *p = k->pend_head;
		k->pend_head = p->next_k;
		if (!k->pend_head)
			k->pend_tail = NULL;
		if (p->deleted) {
			if (k->indexed)
				index_del(t, k, p->seq);
		} else {
			index_put(t, k, p->seq, &p->st);
		}
		pend_free(p);
	}
	fs_key_maybe_free(t, k);
}

static void on_final(void *arg, struct event *ev)
{
	struct fs_pend *p = arg;

	(void)ev;
	p->final = true;
	advance(p->t, p->k);
}

/* Queues an event for k; st is the file's (the last known, for Deleted). */
static struct fs_pend *pend_new(struct fs_tree *t, struct fs_key *k, const struct fs_stat *st, bool deleted)
{
	struct fs_pend *p = calloc(1, sizeof(*p));

	if (!p) {
		fs_count_error(t, "io");
		return NULL;
	}
	p->t = t;
	p->k = k;
	p->st = *st;
	p->deleted = deleted;
	p->seq = next_seq(t);
	if (k->pend_tail)
		k->pend_tail->next_k = p;
	else
		k->pend_head = p;
	k->pend_tail = p;
	unsigned bit = deleted ? CONFIG_FS_DELETED : CONFIG_FS_CREATED;
	if (!(t->events & bit)) {
		/* not emitted: checkpointed as if final */
		p->final = true;
		advance(t, k);
		return NULL;
	}
	p->queued = true;
	if (t->q_tail)
		t->q_tail->next_q = p;
	else
		t->q_head = p;
	t->q_tail = p;
	return p;
}

static void derived_etag(const struct fs_stat *st, char out[48])
{
	char text[80];
	unsigned char h[DIGEST_SHA256_LEN];

	snprintf(text, sizeof(text), "%" PRIu64 ":%" PRIu64 ":%" PRId64, st->inode, st->size, st->mtime_ns);
	if (digest_sha256(text, strlen(text), h) < 0)
		memset(h, 0, sizeof(h));
	digest_hex(h, 16, out);   /* 32 hex digits */
	memcpy(out + 32, "-1", 3);
}

static bool same_file(const struct stat *sb, const struct fs_stat *st)
{
	return S_ISREG(sb->st_mode) && (uint64_t)sb->st_ino == st->inode && (uint64_t)sb->st_size == st->size &&
	       (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec == st->mtime_ns;
}

/* On the threadpool: the MD5 of the file when it is still the one stat'd. */
static void hash_work(uv_work_t *w)
{
	struct fs_pend *p = w->data;
	struct stat sb;
	char buf[65536];
	uint64_t left = p->st.size;
	unsigned char h[DIGEST_MD5_LEN];
	bool ok = false;

	int fd = open(p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		goto out;
	struct digest_md5 *d = NULL;
	if (fstat(fd, &sb) < 0 || !same_file(&sb, &p->st) || !(d = digest_md5_new()))
		goto out_close;
	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || digest_md5_update(d, buf, (size_t)n) < 0)
			break;
		left -= (uint64_t)n;
	}
	if (!left && digest_md5_final(d, h) == 0) {
		d = NULL;
		ok = fstat(fd, &sb) == 0 && same_file(&sb, &p->st);
	}
	digest_md5_free(d);
out_close:
	close(fd);
out:
	if (ok)
		digest_hex(h, sizeof(h), p->etag);
	else
		derived_etag(&p->st, p->etag);
}

static void hash_done(uv_work_t *w, int status)
{
	struct fs_pend *p = w->data;

	(void)status;
	if (status < 0)
		derived_etag(&p->st, p->etag);
	p->hashing = false;
	p->t->n_hashing--;
	free(p->path);
	p->path = NULL;
	if (p->t->stopped)
		free_if_failed(p->t->src);
	else
		pump(p->t);
}

void fs_emit_created(struct fs_tree *t, const char *key, const struct fs_stat *st, bool copy)
{
	struct fs_key *k = fs_key_get(t, key, true);

	if (!k) {
		fs_count_error(t, "io");
		return;
	}
	if (k->cand)
		fs_scan_drop_cand(t, k);
	if (k->present && fs_stat_eq(&k->cur, st)) {
		/* already reported as it is (a close after a scan's look,
		 * a close without a write) */
		fs_key_maybe_free(t, k);
		return;
	}
	k->present = true;
	k->cur = *st;
	struct fs_pend *p = pend_new(t, k, st, false);
	if (!p)
		return;
	p->copy = copy;
	if (st->size > t->etag_max) {
		derived_etag(st, p->etag);
		pump(t);
		return;
	}
	size_t n = strlen(t->root) + 1 + strlen(key) + 1;
	if ((p->path = malloc(n)) != NULL) {
		snprintf(p->path, n, "%s/%s", t->root, key);
		p->work.data = p;
		p->hashing = true;
		if (uv_queue_work(t->loop, &p->work, hash_work, hash_done) == 0) {
			t->n_hashing++;
			return;
		}
		p->hashing = false;
	}
	derived_etag(st, p->etag);
	pump(t);
}

void fs_emit_deleted(struct fs_tree *t, struct fs_key *k)
{
	if (!k->present) {
		fs_key_maybe_free(t, k);
		return;
	}
	k->present = false;
	if (pend_new(t, k, &k->cur, true))
		pump(t);
}

static void on_retry(uv_timer_t *h)
{
	pump(h->data);
}

struct batch {
	struct fs_tree *t;
	size_t n;
	struct fs_pend *p[INGEST_MAX_BATCH];
};

static void on_submitted(void *arg, const int *results, size_t n)
{
	struct batch *b = arg;
	struct fs_tree *t = b->t;
	struct fs_pend *back = NULL, *last = NULL;
	bool retry = false;

	t->submitting = false;
	for (size_t i = 0; i < n; i++) {
		struct fs_pend *p = b->p[i];
		int r = results[i];
		if (r == 0) {
			const char *labels[] = {"fs", t->name};
			t->n_events++;
			metric_add(t->src->m_events, labels, 1);
			continue;
		}
		if (r == -EAGAIN || r == -ENOMEM) {
			/* kept, in order, at the head of the queue */
			p->queued = true;
			if (last)
				last->next_q = p;
			else
				back = p;
			last = p;
			retry = true;
			continue;
		}
		if (r != -ECANCELED) {
			fs_count_error(t, "ingest");
			log_error("fs", "%s: an event for %s was refused: %s (emitted again after a restart)",
				  t->name, p->k->key, strerror(-r));
		}
		/* never final: not checkpointed, so the next start emits it again;
		 * the key's later events are not held behind it */
		struct fs_key *k = p->k;
		struct fs_pend **pp = &k->pend_head;
		while (*pp != p)
			pp = &(*pp)->next_k;
		*pp = p->next_k;
		if (k->pend_tail == p) {
			k->pend_tail = NULL;
			for (struct fs_pend *x = k->pend_head; x; x = x->next_k)
				k->pend_tail = x;
		}
		pend_free(p);
		advance(t, k);
	}
	if (back) {
		last->next_q = t->q_head;
		if (!t->q_head)
			t->q_tail = last;
		t->q_head = back;
	}
	free(b);
	if (t->stopped)
		return;
	if (retry && !t->bus_full)
		log_warn("fs", "%s: the bus %s is full: its events wait and are retried", t->name, t->bus);
	t->bus_full = retry;
	if (retry)
		uv_timer_start(&t->retry_timer, on_retry, RETRY_MS, 0);
	else
		pump(t);
}

/* Hands the ready head of the queue to the bus, one batch at a time. */
static void pump(struct fs_tree *t)
{
	if (t->stopped || t->submitting || uv_is_active((uv_handle_t *)&t->retry_timer))
		return;
	struct batch *b = calloc(1, sizeof(*b));
	if (!b) {
		uv_timer_start(&t->retry_timer, on_retry, RETRY_MS, 0);
		return;
	}
	b->t = t;
	while (b->n < INGEST_MAX_BATCH && t->q_head && !t->q_head->hashing) {
		struct fs_pend *p = t->q_head;
		if (!p->ev) {
			if (build(p) < 0) {
				fs_count_error(t, "io");
				uv_timer_start(&t->retry_timer, on_retry, RETRY_MS, 0);
				break;
			}
			p->ev->hooks = (struct event_hooks){.final = on_final, .arg = p};
		}
		t->q_head = p->next_q;
		if (!t->q_head)
			t->q_tail = NULL;
		p->next_q = NULL;
		p->queued = false;
		b->p[b->n++] = p;
	}
	if (!b->n) {
		free(b);
		return;
	}
	struct event *evs[INGEST_MAX_BATCH];
	for (size_t i = 0; i < b->n; i++)
		evs[i] = b->p[i]->ev;
	t->submitting = true;
	ingest_submit_owned(t->src->env.ingest, evs, b->n, on_submitted, b);
}

void fs_rescan(struct fs_tree *t, const char *reason)
{
	const char *labels[] = {t->name, reason};

	metric_add(t->src->m_rescans, labels, 1);
	fs_scan(t, "", false);
}

/* ------------------------------------------------------------- the ops */

/* After a failed start: everything freed once no handle is open and no
 * hash runs (the daemon never calls destroy() then). */
static void free_if_failed(struct fs_source *s)
{
	if (!s->free_when_closed)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->trees[i] && (s->trees[i]->open_handles || s->trees[i]->n_hashing))
			return;
	for (size_t i = 0; i < s->n; i++)
		tree_free(s->trees[i]);
	free(s->trees);
	free(s);
}

static void on_tree_closed(uv_handle_t *h)
{
	struct fs_tree *t = h->data;

	t->open_handles--;
	free_if_failed(t->src);
}

static void tree_stop(struct fs_tree *t)
{
	uv_timer_t *timers[] = {&t->pair_timer, &t->cand_timer, &t->retry_timer, &t->flush_timer};

	if (t->stopped)
		return;
	t->stopped = true;
	fs_watch_close(t);
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if (timers[i]->loop && !uv_is_closing((uv_handle_t *)timers[i]))
			uv_close((uv_handle_t *)timers[i], on_tree_closed);
	checkpoint_flush(t);
}

static void tree_free(struct fs_tree *t)
{
	if (!t)
		return;
	checkpoint_flush(t);
	for (size_t b = 0; b < t->keys.nbuckets; b++) {
		struct strmap_node *x = t->keys.buckets[b];
		while (x) {
			struct fs_key *k = strmap_entry(x, struct fs_key, node);
			x = x->next;
			while (k->pend_head) {
				struct fs_pend *p = k->pend_head;
				k->pend_head = p->next_k;
				pend_free(p);
			}
			free(k->key);
			free(k);
		}
	}
	strmap_clear(&t->keys);
	strmap_clear(&t->dirs_by_path);
	strmap_clear(&t->dirs_by_wd);
	fs_log_close(&t->log);
	free(t->stash.rel);
	free(t->rbuf);
	free(t->name);
	free(t->root);
	free(t);
}

static int tree_start(struct fs_source *s, const struct config_file_source *c, struct fs_tree **ret, char *err,
		      size_t errlen)
{
	const struct tripline_config *cfg = s->env.cfg;
	struct fs_tree *t = calloc(1, sizeof(*t));
	char dir[PATH_MAX], why[400];
	struct stat sb;
	int r;

	*ret = t;
	if (!t)
		return -ENOMEM;
	t->src = s;
	t->loop = s->env.loop;
	t->cfg = c;
	t->ifd = -1;
	t->name = strdup(c->name ? c->name : "");
	t->recursive = c->recursive;
	t->bus = c->bus ? c->bus : "default";
	t->source = c->source ? c->source : CONFIG_DEFAULT_FILE_SOURCE;
	t->events = c->events ? c->events : CONFIG_FS_CREATED | CONFIG_FS_DELETED;
	t->etag_max = c->etag_max_bytes ? c->etag_max_bytes : CONFIG_FS_DEFAULT_ETAG_MAX_BYTES;
	t->max_watches = c->max_watches ? c->max_watches : CONFIG_FS_DEFAULT_MAX_WATCHES;
	/* the parser fills in the default excludes ([] is none) */
	t->exclude = (const char *const *)c->exclude.v;
	t->n_exclude = c->exclude.n;
	t->include = (const char *const *)c->include.v;
	t->n_include = c->include.n;
	if (!t->name)
		return -ENOMEM;
	if (!c->name || !*c->name || !c->path) {
		snprintf(err, errlen, "a watch needs a name and a path");
		return -EINVAL;
	}
	if (!ingest_bus_exists(s->env.ingest, t->bus)) {
		snprintf(err, errlen, "%s: no event bus named %s", t->name, t->bus);
		return -ENOENT;
	}
	/* the root itself is resolved once; nothing below it is followed */
	t->root = realpath(c->path, NULL);
	if (!t->root || stat(t->root, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		r = t->root ? -ENOTDIR : -errno;
		snprintf(err, errlen, "%s: %s: %s", t->name, c->path, strerror(-r));
		return r;
	}
	snprintf(dir, sizeof(dir), "%s/sources/fs", cfg->data_dir);
	struct fs_index_sink sink = {.put = load_put, .del = load_del, .seq = load_seq, .arg = t};
	if ((r = fs_log_open(&t->log, dir, t->name, &sink, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: the index: %s", t->name, why[0] ? why : strerror(-r));
		return r;
	}
	t->seq_reserved = t->next_seq;   /* the first sequencer reserves more */
	/* about what a snapshot of the loaded keys takes (the file may be
	 * much longer): the measure of when to write one */
	t->log.live_bytes = 0;
	for (size_t b = 0; b < t->keys.nbuckets; b++)
		for (struct strmap_node *x = t->keys.buckets[b]; x; x = x->next)
			t->log.live_bytes += 64 + strlen(x->key);
	uv_timer_t *timers[] = {&t->pair_timer, &t->cand_timer, &t->retry_timer, &t->flush_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uv_timer_init(t->loop, timers[i]);
		timers[i]->data = t;
		t->open_handles++;
	}
	if ((r = fs_watch_open(t, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", t->name, why);
		return r;
	}
	const char *labels[] = {"fs", t->name};
	metric_touch(s->m_events, labels);
	if (c->on_start == CONFIG_FS_ON_START_IGNORE) {
		fs_scan(t, "", true);
	} else {
		fs_rescan(t, "start");
	}
	log_info("fs", "%s: watching %s (%zu directories, %zu keys known)", t->name, t->root, fs_watch_count(t),
		 t->keys.n);
	return 0;
}

static void stop(struct source *src)
{
	struct fs_source *s = (struct fs_source *)src;

	for (size_t i = 0; i < s->n; i++)
		if (s->trees[i])
			tree_stop(s->trees[i]);
}

static int start(const struct source_env *env, struct source **ret, char *err, size_t errlen)
{
	const struct tripline_config *cfg = env->cfg;
	struct fs_source *s;
	int r = 0;

	*ret = NULL;
	if (!cfg->sources.n_files)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->trees = calloc(cfg->sources.n_files, sizeof(*s->trees)))) {
		free(s);
		return -ENOMEM;
	}
	s->env = *env;
	s->m_events = metrics_counter(env->metrics, "tripline_source_events_total",
				      "Events a source emitted and the bus accepted", "kind,name");
	s->m_errors = metrics_counter(env->metrics, "tripline_source_errors_total",
				      "Errors of a source, by reason", "kind,name,reason");
	s->m_rescans = metrics_counter(env->metrics, "tripline_fs_rescans_total",
				       "Reconciling scans of a file watch (at start, after an inotify overflow)",
				       "name,reason");
	s->m_watches = metrics_gauge(env->metrics, "tripline_fs_watches",
				     "Directories a file watch has inotify watches on", "name");
	for (size_t i = 0; i < cfg->sources.n_files; i++) {
		s->n = i + 1;
		err[0] = '\0';
		r = tree_start(s, &cfg->sources.files[i], &s->trees[i], err, errlen);
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* nothing keeps running: freed once the loop has closed the handles */
		stop((struct source *)s);
		s->free_when_closed = true;
		free_if_failed(s);
		return r;
	}
	*ret = (struct source *)s;
	return 0;
}

static bool health(struct source *src, json_t *components)
{
	struct fs_source *s = (struct fs_source *)src;
	bool ok = true;

	for (size_t i = 0; i < s->n; i++) {
		struct fs_tree *t = s->trees[i];
		char member[300];
		bool down = t->error[0] != '\0';
		json_t *o = json_pack("{s:s, s:s, s:I}", "status", down ? "down" : "ok", "path", t->root,
				      "watches", (json_int_t)fs_watch_count(t));
		if (o && down)
			json_object_set_new(o, "error", json_string(t->error));
		snprintf(member, sizeof(member), "fs/%s", t->name);
		if (o)
			json_object_set_new(components, member, o);
		if (down)
			ok = false;
	}
	return ok;
}

static void metrics(struct source *src, struct metrics *m)
{
	struct fs_source *s = (struct fs_source *)src;

	(void)m;
	for (size_t i = 0; i < s->n; i++) {
		const char *labels[] = {s->trees[i]->name};
		metric_set(s->m_watches, labels, (double)fs_watch_count(s->trees[i]));
	}
}

static void destroy(struct source *src)
{
	struct fs_source *s = (struct fs_source *)src;

	for (size_t i = 0; i < s->n; i++)
		tree_free(s->trees[i]);
	free(s->trees);
	free(s);
}

const struct source_ops source_fs = {
	.kind = "fs",
	.start = start,
	.health = health,
	.metrics = metrics,
	.stop = stop,
	.destroy = destroy,
};
