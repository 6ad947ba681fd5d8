/*
 * dirwalk.c — expands a file-or-directory path into a list of JSON files.
 *
 * Each directory is read whole, its names sorted with strcmp, then visited
 * in that order (depth first), so the list is deterministic. The identity
 * (device, inode) of every directory on the current branch is kept on a
 * stack: a link back to one of them is reported instead of walked.
 */
#include "dirwalk.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dir_id {
	dev_t dev;
	ino_t ino;
};

struct walk {
	struct dirwalk_list *out;
	struct errlist *errs;
	bool problems;
	struct dir_id stack[DIRWALK_MAX_DEPTH];
};

static void walk_err(struct walk *w, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void walk_err(struct walk *w, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(w->errs, where, fmt, ap);
	va_end(ap);
	w->problems = true;
}

/* Appends path, which the list owns from now on (freed here on failure). */
static int list_add(struct dirwalk_list *l, char *path)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->paths, nc * sizeof(*nv));
		if (!nv) {
			free(path);
			return -ENOMEM;
		}
		l->paths = nv;
		l->cap = nc;
	}
	l->paths[l->n++] = path;
	return 0;
}

static int add_file(struct walk *w, char *path)
{
	if (w->out->n >= DIRWALK_MAX_FILES) {
		walk_err(w, path, "more than %u files in the configured paths", DIRWALK_MAX_FILES);
		free(path);
		return 0;
	}
	return list_add(w->out, path);
}

void dirwalk_list_clear(struct dirwalk_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	l->n = l->cap = 0;
	l->paths = NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl > 0 && dir[dl - 1] != '/';
	char *p = malloc(dl + slash + nl + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + slash, name, nl + 1);
	return p;
}

static bool is_json_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* What a non-regular, non-directory file is, for a message. */
static const char *kind_of(mode_t mode)
{
	return S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "special";
}

/* path cannot be stat'ed (errno says why): a dangling symbolic link is
 * named so, anything else by its error. */
static void stat_err(struct walk *w, const char *path)
{
	int e = errno;
	struct stat lst;

	if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
		walk_err(w, path, "a symbolic link to nothing (dangling)");
	else
		walk_err(w, path, "%s", strerror(e));
}

/* The names in dir, sorted, hidden ones left out. */
static int read_names(struct walk *w, const char *dir, struct dirwalk_list *names)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		walk_err(w, dir, "%s", strerror(errno));
		return 0;
	}
	for (;;) {
		char *name;
		errno = 0;
		if (!(de = readdir(d)))
			break;
		if (de->d_name[0] == '.')
			continue;
		/* list_add() frees name when it fails */
		if (!(name = strdup(de->d_name)) || list_add(names, name) < 0) {
			closedir(d);
			return -ENOMEM;
		}
	}
	if (errno)
		walk_err(w, dir, "%s", strerror(errno));
	closedir(d);
	if (names->n)
		qsort(names->paths, names->n, sizeof(*names->paths), str_cmp);
	return 0;
}

/* Adds the JSON files below dir, whose identity is w->stack[depth]. */
static int walk_dir(struct walk *w, const char *dir, size_t depth)
{
	struct dirwalk_list names = DIRWALK_LIST_INIT;
	int r = read_names(w, dir, &names);

	for (size_t i = 0; i < names.n && r == 0; i++) {
		char *path = path_join(dir, names.paths[i]);
		struct stat st;
		if (!path) {
			r = -ENOMEM;
			break;
		}
		if (stat(path, &st) < 0) {
			if (is_json_name(names.paths[i]))
				stat_err(w, path);
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			bool loop = false;
			for (size_t k = 0; k <= depth; k++)
				loop |= w->stack[k].dev == st.st_dev && w->stack[k].ino == st.st_ino;
			if (loop) {
				walk_err(w, path, "directory loop (a symbolic link to a parent directory)");
			} else if (depth + 1 >= DIRWALK_MAX_DEPTH) {
				walk_err(w, path, "directories nested more than %u deep", DIRWALK_MAX_DEPTH);
			} else {
				w->stack[depth + 1] = (struct dir_id){st.st_dev, st.st_ino};
				r = walk_dir(w, path, depth + 1);
			}
			free(path);
		} else if (S_ISREG(st.st_mode) && is_json_name(names.paths[i])) {
			r = add_file(w, path);
		} else if (is_json_name(names.paths[i])) {
			walk_err(w, path, "not a regular file (%s)", kind_of(st.st_mode));
			free(path);
		} else {
			free(path);
		}
	}
	dirwalk_list_clear(&names);
	return r;
}

int dirwalk_expand(const char *path, struct dirwalk_list *list, struct errlist *errs)
{
	struct walk w = {.out = list, .errs = errs};
	struct stat st;
	int r = 0;

	if (stat(path, &st) < 0) {
		stat_err(&w, path);
	} else if (S_ISDIR(st.st_mode)) {
		w.stack[0] = (struct dir_id){st.st_dev, st.st_ino};
		r = walk_dir(&w, path, 0);
	} else if (!S_ISREG(st.st_mode)) {
		walk_err(&w, path, "not a regular file or directory (%s)", kind_of(st.st_mode));
	} else {
		char *copy = strdup(path);
		r = copy ? add_file(&w, copy) : -ENOMEM;
	}
	if (r < 0)
		return r;
	return w.problems ? 1 : 0;
}
