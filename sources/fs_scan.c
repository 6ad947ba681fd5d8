/*
 * fs_scan.c — the fs source's reconciling scans: at start (on_start
 * reconcile), after an inotify queue overflow, and for a directory that
 * appeared (created, or renamed into the tree).
 *
 * A scan walks the directory, watching each directory before it reads it
 * (so nothing written after the look escapes both the scan and inotify),
 * never following a symbolic link (lstat; directories opened with
 * O_NOFOLLOW), skipping excluded names and names that cannot be keys. It
 * compares each regular file with what was last emitted for its key (or
 * checkpointed, at start):
 *   - the same inode, size and mtime: nothing;
 *   - anything else: a candidate. A scan cannot see a close, so a file is
 *     reported ("Object Created", PutObject) only once a second look, at
 *     least FS_STABLE_MS later on the monotonic clock, finds the same size
 *     and mtime; a change starts the wait again; a close seen by inotify
 *     meanwhile reports it at once and the candidate goes;
 *   - a key below the scanned directory that was present and is no longer
 *     found: "Object Deleted".
 * Directories watched below the scanned one that the walk no longer finds
 * are forgotten. A directory that cannot be read keeps its keys as they
 * were (nothing is deleted for a read error). With baseline (on_start
 * ignore) what the walk finds is checkpointed as it is, without events.
 */
#include "fs_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger.h"

static uint64_t mono_ms(void)
{
	return uv_hrtime() / 1000000u;
}

void fs_scan_drop_cand(struct fs_tree *t, struct fs_key *k)
{
	if (!k->cand)
		return;
	k->cand = false;
	t->n_cands--;
}

/* Marks every key at or below rel seen: a directory that could not be read
 * deletes nothing. */
static void keep_keys(struct fs_tree *t, const char *rel, unsigned gen)
{
	struct fs_key **v;
	ssize_t n = fs_keys_under(t, rel, &v);

	for (ssize_t i = 0; i < n; i++)
		v[i]->gen = gen;
	if (n >= 0)
		free(v);
}

static void walk(struct fs_tree *t, const char *rel, unsigned depth, unsigned gen, bool baseline)
{
	char path[PATH_MAX];
	struct stat sb;

	fs_watch_add(t, rel, gen);
	if (snprintf(path, sizeof(path), "%s%s%s", t->root, *rel ? "/" : "", rel) >= (int)sizeof(path)) {
		keep_keys(t, rel, gen);
		return;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
			fs_count_error(t, "io");
			log_warn("fs", "%s: cannot read %s: %s", t->name, path, strerror(errno));
			keep_keys(t, rel, gen);
		}
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(dirfd(dir), name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;   /* gone meanwhile */
		if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			continue;   /* symbolic links, FIFOs, sockets, devices: never reported */
		if (S_ISDIR(sb.st_mode) && !t->recursive)
			continue;
		char *key = fs_make_key(t, rel, name, strlen(name));
		if (!key)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (fs_excluded(t, key, true)) {
				/* not watched, not reported */
			} else if (depth + 1 >= FS_MAX_DEPTH) {
				fs_count_error(t, "depth");
				log_warn("fs", "%s: %s/%s: deeper than %u levels, not watched", t->name, t->root, key,
					 FS_MAX_DEPTH);
			} else {
				walk(t, key, depth + 1, gen, baseline);
			}
		} else if (!fs_excluded(t, key, false)) {
			struct fs_stat st = {.inode = (uint64_t)sb.st_ino, .size = (uint64_t)sb.st_size,
					     .mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec};
			struct fs_key *k = fs_key_get(t, key, true);
			if (k) {
				k->gen = gen;
				if (baseline)
					fs_baseline(t, k, &st);
				else
					fs_scan_seen(t, k, &st);
				fs_key_maybe_free(t, k);
			} else {
				fs_count_error(t, "io");
			}
		}
		free(key);
	}
	closedir(dir);
}

static void on_cand_timer(uv_timer_t *h);

static void arm(struct fs_tree *t, uint64_t delay_ms)
{
	if (!t->stopped && t->n_cands && !uv_is_active((uv_handle_t *)&t->cand_timer))
		uv_timer_start(&t->cand_timer, on_cand_timer, delay_ms, 0);
}

int fs_scan(struct fs_tree *t, const char *rel, bool baseline)
{
	struct fs_key **v;
	ssize_t n;
	unsigned gen = ++t->gen ? t->gen : ++t->gen;

	walk(t, rel, 0, gen, baseline);
	/* what the walk no longer found */
	n = fs_keys_under(t, rel, &v);
	if (n < 0) {
		fs_count_error(t, "io");
		return (int)n;
	}
	for (ssize_t i = 0; i < n; i++) {
		struct fs_key *k = v[i];
		if (k->gen == gen)
			continue;
		fs_scan_drop_cand(t, k);
		if (baseline) {
			fs_baseline(t, k, NULL);
			fs_key_maybe_free(t, k);
		} else {
			fs_emit_deleted(t, k);   /* frees k when nothing holds it */
		}
	}
	free(v);
	fs_watch_drop_unseen(t, rel, gen);
	arm(t, FS_STABLE_MS);
	return 0;
}

void fs_scan_seen(struct fs_tree *t, struct fs_key *k, const struct fs_stat *st)
{
	if (k->present && fs_stat_eq(&k->cur, st)) {
		fs_scan_drop_cand(t, k);
		return;
	}
	if (k->cand && fs_stat_eq(&k->cand_st, st))
		return;
	if (!k->cand)
		t->n_cands++;
	k->cand = true;
	k->cand_st = *st;
	k->cand_mono_ms = mono_ms();
}

/* The second looks of the candidates whose first is old enough. */
static void on_cand_timer(uv_timer_t *h)
{
	struct fs_tree *t = h->data;
	struct fs_key **v;
	ssize_t n = fs_keys_under(t, "", &v);
	uint64_t now = mono_ms(), next = FS_STABLE_MS;

	if (n < 0) {
		arm(t, FS_STABLE_MS);
		return;
	}
	for (ssize_t i = 0; i < n && !t->stopped; i++) {
		struct fs_key *k = v[i];
		struct fs_stat st;
		bool is_dir;
		if (!k->cand)
			continue;
		if (now - k->cand_mono_ms < FS_STABLE_MS) {
			if (FS_STABLE_MS - (now - k->cand_mono_ms) < next)
				next = FS_STABLE_MS - (now - k->cand_mono_ms);
			continue;
		}
		int r = fs_stat_path(t, k->key, &st, &is_dir);
		if (r == 1 && !fs_stat_eq(&st, &k->cand_st)) {
			/* still changing: wait again */
			k->cand_st = st;
			k->cand_mono_ms = now;
			continue;
		}
		fs_scan_drop_cand(t, k);
		if (r == 1 && !(k->present && fs_stat_eq(&k->cur, &st)))
			fs_emit_created(t, k->key, &st, false);
		else
			fs_key_maybe_free(t, k);
	}
	free(v);
	arm(t, next ? next : 1);
}
