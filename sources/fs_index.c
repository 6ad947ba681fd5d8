/*
 * fs_index.c — the fs source's persisted index: for each key of a watch,
 * the file (inode, size, mtime in ns) whose event was last checkpointed and
 * that event's sequencer, plus the sequencers handed out so far.
 *
 * The file, data_dir/sources/fs/<name>.index, is text:
 *
 *   tripline-fs-index 1\n
 *   S <next>\n                                  sequencers below next may be used
 *   P <seq> <inode> <size> <mtime_ns> <len> <key>\n   key present
 *   D <seq> <len> <key>\n                        key gone
 *
 * numbers in decimal (mtime_ns may be negative), the key as <len> raw bytes
 * (it may hold any byte but NUL, a newline included). Records apply in
 * order; the later record of a key wins. It is an append log: each
 * checkpoint appends a record (buffered, written every ~100 ms and at
 * stop), and when the file has grown to several times what its live
 * records take, a snapshot (header, S, one P per key) replaces it with
 * statefile_write() (temporary file, fsync, rename). A crash loses at most
 * the unwritten tail, and a torn last record is cut off at the next open:
 * either way a key's older record remains, so its event is emitted again
 * (the same deterministic id), never lost.
 */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"
#include "statefile.h"

#define HEADER "tripline-fs-index 1\n"
#define INDEX_MAX_BYTES ((size_t)1 << 30)   /* a larger file is not ours */

void fs_buf_free(struct fs_buf *b)
{
	free(b->p);
	*b = (struct fs_buf){0};
}

static int buf_add(struct fs_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int fs_index_header(struct fs_buf *b)
{
	return buf_add(b, HEADER, strlen(HEADER));
}

int fs_index_put(struct fs_buf *b, const char *key, uint64_t seq, const struct fs_stat *st)
{
	char head[128];
	size_t len = strlen(key);
	int n = snprintf(head, sizeof(head), "P %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %zu ", seq,
			 st->inode, st->size, st->mtime_ns, len);

	if (buf_add(b, head, (size_t)n) < 0 || buf_add(b, key, len) < 0 || buf_add(b, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

int fs_index_del(struct fs_buf *b, const char *key, uint64_t seq)
{
	char head[64];
	size_t len = strlen(key);
	int n = snprintf(head, sizeof(head), "D %" PRIu64 " %zu ", seq, len);

	if (buf_add(b, head, (size_t)n) < 0 || buf_add(b, key, len) < 0 || buf_add(b, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

int fs_index_seq(struct fs_buf *b, uint64_t next)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "S %" PRIu64 "\n", next);

	return buf_add(b, line, (size_t)n);
}

/* A decimal number ending at a space (or a newline with nl): *p moves past
 * the separator. false when malformed or out of range. */
static bool num(const char **p, const char *end, bool neg_ok, bool nl, uint64_t *u, int64_t *s)
{
	const char *q = *p;
	bool neg = false;
	uint64_t v = 0;

	if (neg_ok && q < end && *q == '-') {
		neg = true;
		q++;
	}
	const char *digits = q;
	while (q < end && *q >= '0' && *q <= '9') {
		unsigned d = (unsigned)(*q - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		q++;
	}
	if (q == digits || q - digits > 20 || (q - digits > 1 && *digits == '0'))
		return false;
	if (q >= end || *q != (nl ? '\n' : ' '))
		return false;
	if (neg_ok) {
		if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
			return false;
		*s = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	} else {
		*u = v;
	}
	*p = q + 1;
	return true;
}

/* <len> <key>\n: the key copied into a NUL-terminated buffer. */
static bool key_of(const char **p, const char *end, char *key, size_t *len)
{
	uint64_t n;

	if (!num(p, end, false, false, &n, NULL) || n == 0 || n > FS_KEY_MAX)
		return false;
	if ((uint64_t)(end - *p) < n + 1 || (*p)[n] != '\n' || memchr(*p, '\0', n))
		return false;
	memcpy(key, *p, n);
	key[n] = '\0';
	*len = n;
	*p += n + 1;
	return true;
}

ssize_t fs_index_parse(const char *buf, size_t len, const struct fs_index_sink *sink)
{
	const char *p = buf, *end = buf + len;
	char key[FS_KEY_MAX + 1];

	if (len < strlen(HEADER) || memcmp(buf, HEADER, strlen(HEADER)) != 0)
		return -EINVAL;
	p += strlen(HEADER);
	for (;;) {
		const char *rec = p;
		uint64_t seq, inode, size;
		int64_t mtime;
		size_t klen;
		int r;

		if (end - p < 2 || p[1] != ' ')
			return rec - buf;
		char kind = p[0];
		p += 2;
		if (kind == 'S') {
			if (!num(&p, end, false, true, &seq, NULL))
				return rec - buf;
			r = sink->seq(sink->arg, seq);
		} else if (kind == 'P') {
			if (!num(&p, end, false, false, &seq, NULL) || !num(&p, end, false, false, &inode, NULL) ||
			    !num(&p, end, false, false, &size, NULL) || !num(&p, end, true, false, NULL, &mtime) ||
			    !key_of(&p, end, key, &klen))
				return rec - buf;
			struct fs_stat st = {.inode = inode, .size = size, .mtime_ns = mtime};
			r = sink->put(sink->arg, key, klen, seq, &st);
		} else if (kind == 'D') {
			if (!num(&p, end, false, false, &seq, NULL) || !key_of(&p, end, key, &klen))
				return rec - buf;
			r = sink->del(sink->arg, key, klen, seq);
		} else {
			return rec - buf;
		}
		if (r < 0)
			return r;
	}
}

/* ------------------------------------------------------------ the file */

static char *path_of(const struct fs_log *lg)
{
	size_t n = strlen(lg->dir) + 1 + strlen(lg->name) + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", lg->dir, lg->name);
	return p;
}

static int reopen(struct fs_log *lg)
{
	char *path = path_of(lg);
	struct stat sb;

	if (!path)
		return -ENOMEM;
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (lg->fd < 0)
		return -errno;
	if (fstat(lg->fd, &sb) < 0)
		return -errno;
	lg->file_bytes = (uint64_t)sb.st_size;
	return 0;
}

/* A new index holding only its header, as dir/fname (path for the
 * message). 0, or -errno with a reason in err. */
static int write_empty(const char *dir, const char *fname, const char *path, char *err, size_t errlen)
{
	struct fs_buf b = {0};
	int r = fs_index_header(&b);

	if (r == 0)
		r = statefile_write(dir, fname, b.p, b.len, true);
	fs_buf_free(&b);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	return r;
}

int fs_log_open(struct fs_log *lg, const char *dir, const char *name, const struct fs_index_sink *sink,
		char *err, size_t errlen)
{
	char fname[STATEFILE_NAME_MAX];
	char *data = NULL, *path = NULL;
	size_t len = 0;
	int r;

	*lg = (struct fs_log){.fd = -1};
	if ((r = statefile_name(name, ".index", fname)) < 0) {
		snprintf(err, errlen, "the index's name: %s", strerror(-r));
		return r;
	}
	lg->dir = strdup(dir);
	lg->name = strdup(fname);
	if (!lg->dir || !lg->name || !(path = path_of(lg)))
		return -ENOMEM;
	if ((r = statefile_make_dirs(dir)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		goto out;
	}
	r = readfile(path, INDEX_MAX_BYTES, NULL, &data, &len);
	if (r == -ENOENT) {
		if ((r = write_empty(dir, fname, path, err, errlen)) < 0)
			goto out;
	} else if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, readfile_strerror(r));
		goto out;
	} else {
		ssize_t good = fs_index_parse(data, len, sink);
		if (good == -EINVAL) {
			/* not an index: kept aside for a person, and every file
			 * of the tree is new again (re-emitted, never lost) */
			char aside[4096], corrupt[4096];
			snprintf(corrupt, sizeof(corrupt), "%s/corrupt", dir);
			r = statefile_move_aside(path, corrupt, aside, sizeof(aside));
			if (r < 0) {
				snprintf(err, errlen, "%s: not an index, and it cannot be moved aside: %s",
					 path, strerror(-r));
				goto out;
			}
			if ((r = write_empty(dir, fname, path, err, errlen)) < 0)
				goto out;
		} else if (good < 0) {
			r = (int)good;
			goto out;
		} else {
			lg->live_bytes = (uint64_t)good;
			/* a torn tail: appends go after the last whole record */
			if ((size_t)good < len && truncate(path, (off_t)good) < 0) {
				r = -errno;
				snprintf(err, errlen, "%s: cutting a torn tail: %s", path, strerror(errno));
				goto out;
			}
		}
	}
	if ((r = reopen(lg)) < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
out:
	free(data);
	free(path);
	return r;
}

int fs_log_flush(struct fs_log *lg)
{
	size_t off = 0;

	if (lg->fd < 0)
		return lg->out.len ? -EBADF : 0;
	while (off < lg->out.len) {
		ssize_t n = write(lg->fd, lg->out.p + off, lg->out.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			memmove(lg->out.p, lg->out.p + off, lg->out.len - off);
			lg->out.len -= off;
			lg->file_bytes += off;
			return e;
		}
		off += (size_t)n;
	}
	lg->file_bytes += off;
	lg->out.len = 0;
	return 0;
}

bool fs_log_wants_snapshot(const struct fs_log *lg)
{
	return lg->file_bytes > ((uint64_t)1 << 20) && lg->file_bytes > 4 * lg->live_bytes;
}

int fs_log_replace(struct fs_log *lg, const struct fs_buf *snap)
{
	int r = statefile_write(lg->dir, lg->name, snap->p, snap->len, true);

	if (r < 0)
		return r;
	lg->out.len = 0;   /* the snapshot holds what the buffer did */
	lg->live_bytes = snap->len;
	return reopen(lg);
}

void fs_log_close(struct fs_log *lg)
{
	if (lg->fd >= 0)
		close(lg->fd);
	lg->fd = -1;
	fs_buf_free(&lg->out);
	free(lg->dir);
	free(lg->name);
	lg->dir = lg->name = NULL;
}
