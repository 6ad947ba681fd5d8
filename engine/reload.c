/*
 * reload.c — rules reloaded without stalling the loop (reload.h).
 *
 * A reload builds a whole new generation (rulegen_build: read, validate,
 * compile, prepare the targets) on a threadpool thread with uv_queue_work,
 * and hands it to the caller on the loop, which swaps it in. One build runs
 * at a time; a request that arrives meanwhile runs one more build after it
 * (requests in between fold into that one).
 *
 * The watch: a uv_fs_event (inotify) on every rule directory and each
 * directory below it, and on the directory of each rule file named
 * directly (editors replace a file by renaming over it, which ends a watch
 * on the file itself). Any change restarts a debounce timer; when it fires,
 * a reload is requested. After each reload the watched directories are
 * listed again, so directories created since are watched too. The number
 * of watches is bounded (RELOAD_MAX_WATCHES); past it, the rest is only
 * reloaded on SIGHUP, and a warning says so.
 */
#include "reload.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "logger.h"
#include "rulegen.h"

#define RELOAD_MAX_WATCHES 1024u

struct watch {
	uv_fs_event_t h;
	struct reload *owner;
	char path[];
};

struct reload {
	uv_loop_t *loop;
	const struct tripline_config *cfg;
	char **paths;
	size_t n_paths;
	reload_apply_fn apply;
	void *arg;
	/* the build */
	uv_work_t work;
	bool running, again, closing;
	struct rulegen *built;
	struct errlist errs;
	int result;
	/* the watch */
	uv_timer_t debounce;
	unsigned debounce_ms;
	struct watch **watches;
	size_t n_watches;
	bool warned_watches;
};

static void start_build(struct reload *rl);
static void destroy(struct reload *rl);

static void work_cb(uv_work_t *w)
{
	struct reload *rl = w->data;

	rl->result = rulegen_build(rl->cfg, (const char *const *)rl->paths, rl->n_paths, &rl->built, &rl->errs);
}

static void watch_all(struct reload *rl);

static void after_work_cb(uv_work_t *w, int status)
{
	struct reload *rl = w->data;
	struct rulegen *gen = rl->built;

	rl->built = NULL;
	rl->running = false;
	if (rl->closing) {
		rulegen_unref(gen);
		destroy(rl);
		return;
	}
	if (status < 0 && !gen)
		errlist_add(&rl->errs, "rules", "the reload was cancelled");
	rl->apply(rl->arg, gen, rl->result, &rl->errs);
	errlist_clear(&rl->errs);
	rulegen_unref(gen);
	watch_all(rl);
	if (rl->again) {
		rl->again = false;
		start_build(rl);
	}
}

static void start_build(struct reload *rl)
{
	rl->running = true;
	rl->work.data = rl;
	if (uv_queue_work(rl->loop, &rl->work, work_cb, after_work_cb) < 0) {
		rl->running = false;
		log_error("rules", "cannot start a reload");
	}
}

void reload_request(struct reload *rl, const char *why)
{
	log_info("rules", "reloading (%s)", why);
	if (rl->running)
		rl->again = true;
	else
		start_build(rl);
}

/* ------------------------------------------------------------ watching */

static void on_debounce(uv_timer_t *t)
{
	reload_request(t->data, "rule files changed");
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct watch *w = (struct watch *)h;
	struct reload *rl = w->owner;

	(void)events;
	if (status < 0 || (name && name[0] == '.'))
		return;   /* editors' swap files and our own dotfiles change nothing */
	uv_timer_start(&rl->debounce, on_debounce, rl->debounce_ms, 0);
}

static void on_watch_closed(uv_handle_t *h)
{
	free(h);
}

static bool watching(const struct reload *rl, const char *path)
{
	for (size_t i = 0; i < rl->n_watches; i++)
		if (strcmp(rl->watches[i]->path, path) == 0)
			return true;
	return false;
}

static void add_watch(struct reload *rl, const char *path)
{
	if (watching(rl, path))
		return;
	if (rl->n_watches >= RELOAD_MAX_WATCHES) {
		if (!rl->warned_watches)
			log_warn("rules", "more than %u rule directories: changes below %s are seen on SIGHUP only",
				 RELOAD_MAX_WATCHES, path);
		rl->warned_watches = true;
		return;
	}
	size_t len = strlen(path);
	struct watch *w = calloc(1, sizeof(*w) + len + 1);
	struct watch **v = realloc(rl->watches, (rl->n_watches + 1) * sizeof(*v));
	if (!w || !v) {
		free(w);
		if (v)
			rl->watches = v;
		return;
	}
	rl->watches = v;
	memcpy(w->path, path, len + 1);
	w->owner = rl;
	uv_fs_event_init(rl->loop, &w->h);
	int r = uv_fs_event_start(&w->h, on_fs_event, path, 0);
	if (r < 0) {
		if (r == UV_ENOSPC)
			log_warn("rules", "%s: cannot watch for changes: the inotify watch limit is reached "
				 "(sysctl fs.inotify.max_user_watches); reload with SIGHUP", path);
		else
			log_warn("rules", "%s: cannot watch for changes: %s", path, uv_strerror(r));
		uv_close((uv_handle_t *)&w->h, on_watch_closed);
		return;
	}
	rl->watches[rl->n_watches++] = w;
}

/* path and every directory below it (symlinks not followed). */
static void add_tree(struct reload *rl, const char *path, unsigned depth)
{
	DIR *d;
	struct dirent *de;

	add_watch(rl, path);
	if (depth > 32 || !(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			add_tree(rl, sub, depth + 1);
	}
	closedir(d);
}

static void watch_all(struct reload *rl)
{
	for (size_t i = 0; i < rl->n_paths; i++) {
		struct stat st;
		const char *p = rl->paths[i];
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			add_tree(rl, p, 0);
		} else {
			char dir[PATH_MAX];
			const char *slash = strrchr(p, '/');
			if (!slash)
				snprintf(dir, sizeof(dir), ".");
			else if (slash == p)
				snprintf(dir, sizeof(dir), "/");
			else
				snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
			add_watch(rl, dir);
		}
	}
}

/* ------------------------------------------------------------ lifecycle */

int reload_new(uv_loop_t *loop, const struct tripline_config *cfg, const char *const *paths, size_t n,
	       unsigned debounce_ms, reload_apply_fn apply, void *arg, struct reload **ret)
{
	struct reload *rl = calloc(1, sizeof(*rl));

	*ret = NULL;
	if (!rl || !(rl->paths = calloc(n + 1, sizeof(*rl->paths)))) {
		free(rl);
		return -ENOMEM;
	}
	rl->errs = (struct errlist)ERRLIST_INIT;
	for (size_t i = 0; i < n; i++)
		if (!(rl->paths[rl->n_paths++] = strdup(paths[i]))) {
			destroy(rl);
			return -ENOMEM;
		}
	rl->loop = loop;
	rl->cfg = cfg;
	rl->apply = apply;
	rl->arg = arg;
	rl->errs = (struct errlist)ERRLIST_INIT;
	rl->debounce_ms = debounce_ms ? debounce_ms : RELOAD_DEBOUNCE_MS;
	uv_timer_init(loop, &rl->debounce);
	rl->debounce.data = rl;
	watch_all(rl);
	*ret = rl;
	return 0;
}

static void destroy(struct reload *rl)
{
	for (size_t i = 0; i < rl->n_paths; i++)
		free(rl->paths[i]);
	free(rl->paths);
	errlist_clear(&rl->errs);
	free(rl);
}

static void on_debounce_closed(uv_handle_t *h)
{
	struct reload *rl = h->data;

	if (rl->running)
		rl->closing = true;   /* after_work_cb() destroys it */
	else
		destroy(rl);
}

void reload_free(struct reload *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < rl->n_watches; i++)
		uv_close((uv_handle_t *)&rl->watches[i]->h, on_watch_closed);
	free(rl->watches);
	rl->watches = NULL;
	rl->n_watches = 0;
	if (rl->loop)
		uv_close((uv_handle_t *)&rl->debounce, on_debounce_closed);
	else
		destroy(rl);
}
