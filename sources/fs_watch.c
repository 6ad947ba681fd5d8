/*
 * fs_watch.c — the fs source's raw inotify: one inotify instance per watch
 * (inotify_init1(IN_NONBLOCK|IN_CLOEXEC)) polled with a uv_poll_t on the
 * daemon's loop, one inotify watch per directory of the tree, and our own
 * maps from watch descriptor and from relative path to directory.
 *
 * What each kernel event means:
 *   - a file's IN_CLOSE_WRITE: complete, "Object Created" (PutObject);
 *     a file's IN_MOVED_TO: renamed into the tree, "Object Created"
 *     (CopyObject); a bare IN_CREATE of a file: nothing (not complete yet);
 *   - a file's IN_DELETE or IN_MOVED_FROM: "Object Deleted" when the key
 *     was present;
 *   - a directory's IN_CREATE, or IN_MOVED_TO without a pair: watched at
 *     once and scanned (fs_scan.c), so files written into it before its
 *     watch existed are found;
 *   - a directory's IN_MOVED_FROM is held until the next event: an
 *     IN_MOVED_TO with the same cookie makes it a rename inside the tree
 *     (the directory records take the new path, the kernel's watches stay
 *     as they are, each old key is Deleted and each new key Created);
 *     anything else, or ~100 ms with nothing, makes it a rename out of the
 *     tree (each key Deleted, the watches removed);
 *   - a directory's IN_DELETE: its keys still present are Deleted and its
 *     records forgotten; IN_IGNORED: the kernel dropped a watch;
 *   - IN_Q_OVERFLOW: events were lost, the whole tree is rescanned;
 *   - the root's IN_DELETE_SELF or IN_MOVE_SELF: the watch is down.
 * Watches are added with IN_ONLYDIR|IN_DONT_FOLLOW, so a symbolic link is
 * never followed; more directories than max_watches, or the kernel's ENOSPC
 * (fs.inotify.max_user_watches), sets the watch down with a message naming
 * both limits.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "logger.h"

#define MASK (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_CREATE | IN_DELETE_SELF | \
	      IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define RBUF_BYTES 65536u
#define PAIR_WAIT_MS 100u

static struct fs_dir *dir_by_wd(const struct fs_tree *t, int wd)
{
	char k[16];

	snprintf(k, sizeof(k), "%d", wd);
	struct strmap_node *n = strmap_find(&t->dirs_by_wd, k);
	return n ? strmap_entry(n, struct fs_dir, by_wd) : NULL;
}

static struct fs_dir *dir_by_path(const struct fs_tree *t, const char *rel)
{
	struct strmap_node *n = strmap_find(&t->dirs_by_path, rel);
	return n ? strmap_entry(n, struct fs_dir, by_path) : NULL;
}

/* Forgets d; rm: the kernel's watch is removed too (it may be gone). */
static void dir_forget(struct fs_tree *t, struct fs_dir *d, bool rm)
{
	if (rm && t->ifd >= 0)
		inotify_rm_watch(t->ifd, d->wd);
	strmap_remove(&t->dirs_by_path, &d->by_path);
	strmap_remove(&t->dirs_by_wd, &d->by_wd);
	free(d->rel);
	free(d);
}

/* The directories at or below rel, or those whose gen is not gen (gen 0:
 * all of them): a malloc'd array. */
static ssize_t dirs_under(struct fs_tree *t, const char *rel, unsigned gen, struct fs_dir ***ret)
{
	struct fs_dir **v = malloc((t->dirs_by_path.n ? t->dirs_by_path.n : 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t b = 0; b < t->dirs_by_path.nbuckets; b++)
		for (struct strmap_node *x = t->dirs_by_path.buckets[b]; x; x = x->next) {
			struct fs_dir *d = strmap_entry(x, struct fs_dir, by_path);
			if (fs_under(d->rel, rel) && (!gen || d->gen != gen))
				v[n++] = d;
		}
	*ret = v;
	return (ssize_t)n;
}

static void watch_limit(struct fs_tree *t, const char *path, bool kernel)
{
	fs_count_error(t, "watch_limit");
	if (kernel)
		fs_set_down(t, "cannot watch %s: the kernel's limit of inotify watches is reached "
			    "(raise sysctl fs.inotify.max_user_watches; this watch allows %u directories, max_watches)",
			    path, t->max_watches);
	else
		fs_set_down(t, "cannot watch %s: more than max_watches (%u) directories "
			    "(raise max_watches, and sysctl fs.inotify.max_user_watches if needed)",
			    path, t->max_watches);
}

int fs_watch_add(struct fs_tree *t, const char *rel, unsigned gen)
{
	char path[PATH_MAX];
	struct fs_dir *d = dir_by_path(t, rel);

	if (t->ifd < 0)
		return -EBADF;
	if (snprintf(path, sizeof(path), "%s%s%s", t->root, *rel ? "/" : "", rel) >= (int)sizeof(path)) {
		fs_count_error(t, "io");
		return -ENAMETOOLONG;
	}
	if (!d && t->dirs_by_path.n >= t->max_watches) {
		watch_limit(t, path, false);
		return -ENOSPC;
	}
	int wd = inotify_add_watch(t->ifd, path, MASK);
	if (wd < 0) {
		int e = errno;
		if (e == ENOSPC)
			watch_limit(t, path, true);
		else if (e != ENOENT && e != ENOTDIR) {
			fs_count_error(t, "io");
			log_warn("fs", "%s: cannot watch %s: %s", t->name, path, strerror(e));
		}
		return -e;
	}
	struct fs_dir *same = dir_by_wd(t, wd);
	if (same) {
		/* already watched: found again under its path, or under a new
		 * one after a rename the lost events did not tell */
		if (d && d != same)
			dir_forget(t, d, false);
		if (strcmp(same->rel, rel) != 0) {
			char *r = strdup(rel);
			if (!r)
				return -ENOMEM;
			strmap_remove(&t->dirs_by_path, &same->by_path);
			free(same->rel);
			same->rel = r;
			strmap_insert(&t->dirs_by_path, &same->by_path, same->rel);   /* removed just above */
		}
		same->gen = gen;
		return 1;
	}
	if (d)   /* another directory was there under this path before */
		dir_forget(t, d, true);
	d = calloc(1, sizeof(*d));
	if (!d || !(d->rel = strdup(rel))) {
		free(d);
		inotify_rm_watch(t->ifd, wd);
		return -ENOMEM;
	}
	d->wd = wd;
	d->gen = gen;
	snprintf(d->wdkey, sizeof(d->wdkey), "%d", wd);
	if (strmap_insert(&t->dirs_by_path, &d->by_path, d->rel) < 0) {
		inotify_rm_watch(t->ifd, wd);
		free(d->rel);
		free(d);
		return -ENOMEM;
	}
	if (strmap_insert(&t->dirs_by_wd, &d->by_wd, d->wdkey) < 0) {
		strmap_remove(&t->dirs_by_path, &d->by_path);
		inotify_rm_watch(t->ifd, wd);
		free(d->rel);
		free(d);
		return -ENOMEM;
	}
	return 0;
}

static void drop_dirs(struct fs_tree *t, const char *rel, unsigned gen)
{
	struct fs_dir **v;
	ssize_t n = dirs_under(t, rel, gen, &v);

	for (ssize_t i = 0; i < n; i++)
		dir_forget(t, v[i], true);
	if (n >= 0)
		free(v);
}

void fs_watch_drop_subtree(struct fs_tree *t, const char *rel)
{
	drop_dirs(t, rel, 0);
}

void fs_watch_drop_unseen(struct fs_tree *t, const char *rel, unsigned gen)
{
	drop_dirs(t, rel, gen);
}

size_t fs_watch_count(const struct fs_tree *t)
{
	return t->dirs_by_path.n;
}

/* <dir>/<name> as a relative path, or NULL. */
static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s%s%s", dir, *dir ? "/" : "", name);
	return p;
}

/* Every key still present at or below rel is Deleted. */
static void keys_gone(struct fs_tree *t, const char *rel)
{
	struct fs_key **v;
	ssize_t n = fs_keys_under(t, rel, &v);

	if (n < 0) {
		fs_count_error(t, "io");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		fs_scan_drop_cand(t, v[i]);
		fs_emit_deleted(t, v[i]);
	}
	free(v);
}

/* The directory rel left the tree (deleted, or renamed out of it). */
static void dir_gone(struct fs_tree *t, const char *rel)
{
	keys_gone(t, rel);
	fs_watch_drop_subtree(t, rel);
}

/* A directory appeared at rel (created, or renamed in from outside). */
static void dir_new(struct fs_tree *t, const char *rel)
{
	if (!t->recursive || fs_excluded(t, rel, true))
		return;
	fs_scan(t, rel, false);
}

/* A directory renamed inside the tree, from → to. */
static void dir_moved(struct fs_tree *t, const char *from, const char *to)
{
	size_t flen = strlen(from);
	struct fs_dir **dv;
	struct fs_key **kv;
	ssize_t nd, nk;

	if (!dir_by_path(t, from)) {
		dir_new(t, to);
		return;
	}
	if (fs_excluded(t, to, true)) {
		dir_gone(t, from);
		return;
	}
	nd = dirs_under(t, from, 0, &dv);
	nk = fs_keys_under(t, from, &kv);
	if (nd < 0 || nk < 0) {
		if (nd >= 0)
			free(dv);
		if (nk >= 0)
			free(kv);
		fs_rescan(t, "overflow");
		return;
	}
	/* the watches follow the directories: only their paths change */
	for (ssize_t i = 0; i < nd; i++) {
		char *r = join(to, dv[i]->rel[flen] ? dv[i]->rel + flen + 1 : "");
		if (!r)
			continue;
		if (!dv[i]->rel[flen])   /* the directory itself: "to", not "to/" */
			r[strlen(to)] = '\0';
		struct fs_dir *there = dir_by_path(t, r);
		if (there && there != dv[i])
			dir_forget(t, there, true);
		strmap_remove(&t->dirs_by_path, &dv[i]->by_path);
		free(dv[i]->rel);
		dv[i]->rel = r;
		strmap_insert(&t->dirs_by_path, &dv[i]->by_path, r);   /* removed just above */
	}
	free(dv);
	/* S3 sees each object deleted under its old key, created under its new one */
	for (ssize_t i = 0; i < nk; i++) {
		struct fs_key *k = kv[i];
		char *nkey = join(to, k->key + flen + 1);
		struct fs_stat st, was = k->cur;
		bool present = k->present, is_dir;
		fs_scan_drop_cand(t, k);
		fs_emit_deleted(t, k);
		if (nkey && present && !fs_excluded(t, nkey, false) &&
		    fs_stat_path(t, nkey, &st, &is_dir) == 1 && st.inode == was.inode)
			fs_emit_created(t, nkey, &st, true);
		free(nkey);
	}
	free(kv);
	/* and whatever the keys did not know (files not yet complete) */
	fs_scan(t, to, false);
}

static void stash_flush(struct fs_tree *t)
{
	if (!t->stash.set)
		return;
	t->stash.set = false;
	uv_timer_stop(&t->pair_timer);
	dir_gone(t, t->stash.rel);
	free(t->stash.rel);
	t->stash.rel = NULL;
}

static void on_pair_timer(uv_timer_t *h)
{
	stash_flush(h->data);
}

static void handle(struct fs_tree *t, const struct inotify_event *e)
{
	if (e->mask & IN_Q_OVERFLOW) {
		stash_flush(t);
		log_warn("fs", "%s: the kernel's inotify queue overflowed: rescanning %s", t->name, t->root);
		fs_rescan(t, "overflow");
		return;
	}
	bool paired = t->stash.set && (e->mask & IN_MOVED_TO) && (e->mask & IN_ISDIR) &&
		      e->cookie == t->stash.cookie;
	if (!paired)
		stash_flush(t);   /* may forget directories: d is looked up after */
	struct fs_dir *d = dir_by_wd(t, e->wd);
	if (!d)
		return;   /* a watch already forgotten */
	if (e->mask & IN_IGNORED) {
		if (!*d->rel)
			fs_set_down(t, "the watched root %s is gone", t->root);
		dir_forget(t, d, false);
		return;
	}
	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		if (!*d->rel)
			fs_set_down(t, "the watched root %s was removed or moved", t->root);
		return;
	}
	if (!e->len || !e->name[0])
		return;
	char *rel = join(d->rel, e->name);
	if (!rel) {
		fs_count_error(t, "io");
		return;
	}
	if (e->mask & IN_ISDIR) {
		if (paired) {
			char *from = t->stash.rel;
			char *to = fs_make_key(t, d->rel, e->name, strlen(e->name));
			t->stash.set = false;
			t->stash.rel = NULL;
			uv_timer_stop(&t->pair_timer);
			if (to)
				dir_moved(t, from, to);
			else   /* a name that cannot be a key: out of the tree */
				dir_gone(t, from);
			free(from);
			free(to);
		} else if (e->mask & (IN_CREATE | IN_MOVED_TO)) {
			char *key = fs_make_key(t, d->rel, e->name, strlen(e->name));
			if (key)
				dir_new(t, key);
			free(key);
		} else if (e->mask & IN_MOVED_FROM) {
			t->stash = (struct fs_stash){.set = true, .cookie = e->cookie, .rel = rel};
			rel = NULL;
			uv_timer_start(&t->pair_timer, on_pair_timer, PAIR_WAIT_MS, 0);
		} else if (e->mask & IN_DELETE) {
			dir_gone(t, rel);
		}
	} else if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
		char *key = fs_make_key(t, d->rel, e->name, strlen(e->name));
		struct fs_stat st;
		bool is_dir;
		if (key && !fs_excluded(t, key, false) && fs_stat_path(t, key, &st, &is_dir) == 1)
			fs_emit_created(t, key, &st, (e->mask & IN_MOVED_TO) != 0);
		free(key);
	} else if (e->mask & (IN_DELETE | IN_MOVED_FROM)) {
		struct fs_key *k = fs_key_get(t, rel, false);
		if (k) {
			fs_scan_drop_cand(t, k);
			fs_emit_deleted(t, k);
		}
	}
	free(rel);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct fs_tree *t = h->data;

	(void)events;
	if (status < 0) {
		fs_count_error(t, "io");
		fs_set_down(t, "polling inotify: %s", uv_strerror(status));
		uv_poll_stop(h);
		return;
	}
	for (;;) {
		ssize_t n = read(t->ifd, t->rbuf, RBUF_BYTES);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				fs_count_error(t, "io");
				fs_set_down(t, "reading inotify: %s", strerror(errno));
				uv_poll_stop(h);
			}
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n && !t->stopped;) {
			const struct inotify_event *e = (const void *)(t->rbuf + off);
			off += (ssize_t)(sizeof(*e) + e->len);
			handle(t, e);
		}
		if (t->stopped)
			return;
	}
	/* a held IN_MOVED_FROM waits a little for its pair in the next read */
	if (t->stash.set)
		uv_timer_start(&t->pair_timer, on_pair_timer, PAIR_WAIT_MS, 0);
}

int fs_watch_open(struct fs_tree *t, char *err, size_t errlen)
{
	int r;

	t->rbuf = aligned_alloc(__alignof__(struct inotify_event), RBUF_BYTES);
	if (!t->rbuf)
		return -ENOMEM;
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->ifd < 0) {
		r = -errno;
		snprintf(err, errlen, "inotify_init1: %s%s", strerror(errno),
			 errno == EMFILE ? " (sysctl fs.inotify.max_user_instances)" : "");
		return r;
	}
	if ((r = uv_poll_init(t->loop, &t->poll, t->ifd)) < 0) {
		snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(r));
		close(t->ifd);
		t->ifd = -1;
		return r;
	}
	t->poll.data = t;
	t->open_handles++;
	t->pair_timer.data = t;
	uv_poll_start(&t->poll, UV_READABLE, on_readable);
	return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
	struct fs_tree *t = h->data;

	close(t->ifd);
	t->ifd = -1;
	t->open_handles--;
}

void fs_watch_close(struct fs_tree *t)
{
	if (t->stash.set) {
		free(t->stash.rel);
		t->stash = (struct fs_stash){0};
	}
	drop_dirs(t, "", 0);
	if (t->ifd >= 0 && !uv_is_closing((uv_handle_t *)&t->poll))
		uv_close((uv_handle_t *)&t->poll, on_poll_closed);
}
