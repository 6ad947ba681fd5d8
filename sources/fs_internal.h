/*
 * fs_internal.h — the parts of the fs source (fs.c) shared by its files:
 * the persisted index (fs_index.c), the inotify watch (fs_watch.c) and the
 * reconciling scans (fs_scan.c). Nothing here is exported beyond sources/.
 *
 * One configured watch is a struct fs_tree: a root directory, the
 * directories watched below it (struct fs_dir, by inotify descriptor and by
 * path), the keys it knows (struct fs_key: what the index holds, what was
 * last emitted, what a scan saw) and the queue of events on their way to
 * the bus (struct fs_pend). Everything runs on the loop thread except the
 * MD5 of a file's content (the threadpool).
 *
 * A key is the path relative to the root with '/', as an S3 key: valid
 * UTF-8, at most FS_KEY_MAX bytes. Directories are kept by the same kind of
 * relative path ("" for the root, "a/b" below it).
 */
#ifndef TRIPLINE_SOURCES_FS_INTERNAL_H
#define TRIPLINE_SOURCES_FS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "strmap.h"

struct config_file_source;
struct event;
struct fs_source;
struct metric;

#define FS_KEY_MAX 1024u        /* S3's limit on a key */
#define FS_MAX_DEPTH 128u       /* directory levels below the root */
#define FS_STABLE_MS 1000u      /* a file a scan finds: unchanged across looks this far apart */

/* What identifies a file's content for the index and the event id. */
struct fs_stat {
	uint64_t inode;
	uint64_t size;
	int64_t mtime_ns;
};

static inline bool fs_stat_eq(const struct fs_stat *a, const struct fs_stat *b)
{
	return a->inode == b->inode && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* ------------------------------------------------------------ fs_index.c */

/* A growing byte buffer. */
struct fs_buf {
	char *p;
	size_t len, cap;
};

void fs_buf_free(struct fs_buf *b);

/*
 * The index file (the format opens fs_index.c): a header line, then
 * records, each applied in order by the sink's callbacks (0 or -ENOMEM).
 */
struct fs_index_sink {
	int (*put)(void *arg, const char *key, size_t len, uint64_t seq, const struct fs_stat *st);
	int (*del)(void *arg, const char *key, size_t len, uint64_t seq);
	/* the sequencers below this one may have been used */
	int (*seq)(void *arg, uint64_t next);
	void *arg;
};

/*
 * Applies the records of buf[0..len) to sink, stopping before the first
 * one that is incomplete or malformed (a torn tail). Returns the bytes of
 * the header and the records applied (what may be kept of the file), or
 * -EINVAL when the header is not the index's, or the sink's error.
 */
ssize_t fs_index_parse(const char *buf, size_t len, const struct fs_index_sink *sink);

/* Appends a record (or the header) to b. 0 or -ENOMEM. */
int fs_index_header(struct fs_buf *b);
int fs_index_put(struct fs_buf *b, const char *key, uint64_t seq, const struct fs_stat *st);
int fs_index_del(struct fs_buf *b, const char *key, uint64_t seq);
int fs_index_seq(struct fs_buf *b, uint64_t next);

/*
 * The index on disk: an append log of the records above, written from a
 * buffer (fs_log_flush: every ~100 ms and at stop), replaced by a snapshot
 * (fs_log_replace: statefile_write, fsync'd) when it grows past a few times
 * the live records. Losing the tail to a crash only re-emits events.
 */
struct fs_log {
	char *dir;                  /* data_dir/sources/fs */
	char *name;                 /* <watch name>.index (statefile_name) */
	int fd;                     /* O_APPEND, or -1 */
	struct fs_buf out;          /* records not yet written */
	uint64_t file_bytes;        /* bytes in the file */
	uint64_t live_bytes;        /* about what a snapshot would take */
};

/* Opens (creating) the index of watch `name` under dir and applies it to
 * sink; a torn tail is cut off. 0, or -errno with a sentence in err. */
int fs_log_open(struct fs_log *lg, const char *dir, const char *name, const struct fs_index_sink *sink,
		char *err, size_t errlen);
/* Writes what the buffer holds. 0 or -errno (the buffer is kept). */
int fs_log_flush(struct fs_log *lg);
/* Whether the file is large enough to be worth replacing by a snapshot. */
bool fs_log_wants_snapshot(const struct fs_log *lg);
/* Replaces the file by snap (a header and records) and appends from there. */
int fs_log_replace(struct fs_log *lg, const struct fs_buf *snap);
void fs_log_close(struct fs_log *lg);

/* ------------------------------------------------------------- the tree */

/* A watched directory. */
struct fs_dir {
	struct strmap_node by_path;  /* rel */
	struct strmap_node by_wd;    /* wdkey */
	char *rel;                   /* "" for the root, "a/b" */
	char wdkey[16];
	int wd;
	unsigned gen;                /* the last scan that saw it */
};

/* An event for one key on its way: queued (hashing), submitted, then final. */
struct fs_pend {
	struct fs_pend *next_q;      /* the tree's queue, in sequencer order */
	struct fs_pend *next_k;      /* the key's events not yet checkpointed */
	struct fs_tree *t;
	struct fs_key *k;
	struct event *ev;            /* built once ready; a reference */
	uint64_t seq;
	struct fs_stat st;
	bool deleted;
	bool copy;                   /* renamed into the tree: "CopyObject" */
	bool hashing;                /* the MD5 is being computed */
	bool queued;                 /* in the queue (not yet accepted by the bus) */
	bool final;                  /* every dispatch final (or the kind not emitted) */
	char etag[48];
	uv_work_t work;
	char *path;                  /* the file, for the hash */
	uint64_t hash_max;
};

/* A key the tree knows. */
struct fs_key {
	struct strmap_node node;
	char *key;
	/* checkpointed: in the index file */
	bool indexed;
	struct fs_stat ix;
	uint64_t ix_seq;
	/* the last state emitted (or checkpointed): what a scan compares to */
	bool present;
	struct fs_stat cur;
	struct fs_pend *pend_head, *pend_tail;
	/* a file a scan found that is not (yet) reported: its first look */
	bool cand;
	struct fs_stat cand_st;
	uint64_t cand_mono_ms;
	unsigned gen;                /* the last scan that saw it */
};

struct fs_stash {                 /* a directory's IN_MOVED_FROM waiting for its pair */
	bool set;
	uint32_t cookie;
	char *rel;                   /* the directory's old path */
};

struct fs_tree {
	struct fs_source *src;
	uv_loop_t *loop;
	const struct config_file_source *cfg;
	char *name;
	char *root;                  /* the resolved root, no trailing '/' */
	const char *bus;
	const char *source;
	unsigned events;             /* CONFIG_FS_* */
	bool recursive;
	uint64_t etag_max;
	uint32_t max_watches;
	const char *const *exclude;
	size_t n_exclude;
	const char *const *include;
	size_t n_include;

	int ifd;                     /* inotify, or -1 */
	uv_poll_t poll;              /* on ifd; ifd is closed once it has closed */
	uv_timer_t pair_timer;       /* a stashed IN_MOVED_FROM gives up on its pair */
	uv_timer_t cand_timer;       /* the candidates' second looks */
	uv_timer_t retry_timer;      /* the bus was full */
	uv_timer_t flush_timer;      /* the index's buffer to its file */
	unsigned open_handles;
	struct fs_stash stash;
	char *rbuf;                  /* inotify read buffer */

	struct strmap dirs_by_path, dirs_by_wd;
	struct strmap keys;
	size_t n_cands;
	unsigned gen;

	struct fs_pend *q_head, *q_tail;
	bool submitting;             /* a batch is with the ingest */
	bool bus_full;               /* the last batch met a full bus (logged once) */
	size_t n_hashing;

	struct fs_log log;
	uint64_t next_seq, seq_reserved;
	bool stopped;

	char error[256];             /* health: down with this, or "" */
	uint64_t n_events, n_errors;
};

/* ---------------------------------------------------------------- fs.c */

/* Whether a name (a file's or a directory's base name, its key) is left
 * out: exclude globs (directories too), include globs (files only). */
bool fs_excluded(const struct fs_tree *t, const char *key, bool dir);
/* Counts an error of the tree by reason ("utf8", "watch_limit", "io"…). */
void fs_count_error(struct fs_tree *t, const char *reason);
/* Sets the tree down with a message (logged once per message). */
void fs_set_down(struct fs_tree *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct fs_key *fs_key_get(struct fs_tree *t, const char *key, bool create);
/* Drops k when nothing holds it any more. */
void fs_key_maybe_free(struct fs_tree *t, struct fs_key *k);
/* A file complete under key (a close after writing, a rename in, a scan's
 * second look): Created unless it is what was last emitted (then the key
 * may be freed, as with fs_key_maybe_free). */
void fs_emit_created(struct fs_tree *t, const char *key, const struct fs_stat *st, bool copy);
/* The key is gone: Deleted when it was present. k may be freed. */
void fs_emit_deleted(struct fs_tree *t, struct fs_key *k);
/* lstat of <root>/<rel>: 1 regular file (st filled), 0 something else or
 * gone, -errno. */
int fs_stat_path(const struct fs_tree *t, const char *rel, struct fs_stat *st, bool *is_dir);
/* Checkpoints k as found by a scan (on_start ignore): st, or gone (NULL),
 * without an event. */
void fs_baseline(struct fs_tree *t, struct fs_key *k, const struct fs_stat *st);
/* A key (valid, short enough) for <dir rel>/<name>, or NULL (counted). */
char *fs_make_key(struct fs_tree *t, const char *dir_rel, const char *name, size_t name_len);

/* The keys at or below the directory rel ("" the whole tree) that are
 * present or candidates: a malloc'd array (*ret), its length, or -ENOMEM. */
ssize_t fs_keys_under(struct fs_tree *t, const char *rel, struct fs_key ***ret);
/* Whether key is rel itself or below it. */
bool fs_under(const char *key, const char *rel);
/* A rescan of the whole tree, counted with reason ("overflow", "start"). */
void fs_rescan(struct fs_tree *t, const char *reason);

/* ------------------------------------------------------------ fs_watch.c */

int fs_watch_open(struct fs_tree *t, char *err, size_t errlen);
/* Watches <root>/<rel> (a directory). 0, 1 already watched, or -errno
 * (the watch limit: the tree is down, logged). */
int fs_watch_add(struct fs_tree *t, const char *rel, unsigned gen);
/* Forgets every directory at or below rel (their watches removed). */
void fs_watch_drop_subtree(struct fs_tree *t, const char *rel);
/* Forgets directories no scan of generation gen saw at or below rel. */
void fs_watch_drop_unseen(struct fs_tree *t, const char *rel, unsigned gen);
void fs_watch_close(struct fs_tree *t);
size_t fs_watch_count(const struct fs_tree *t);

/* ------------------------------------------------------------- fs_scan.c */

/*
 * Walks <root>/<rel> (watching each directory before reading it), and
 * reconciles: files unlike what was last emitted become candidates
 * (reported once stable), keys below rel no longer there are Deleted. With
 * baseline (on_start ignore) what is found is checkpointed as it is.
 */
int fs_scan(struct fs_tree *t, const char *rel, bool baseline);
/* A file a scan found: a candidate unless already reported as it is. */
void fs_scan_seen(struct fs_tree *t, struct fs_key *k, const struct fs_stat *st);
/* Forgets k's candidate (reported, or gone). */
void fs_scan_drop_cand(struct fs_tree *t, struct fs_key *k);

#endif
