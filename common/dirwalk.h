/*
 * dirwalk.h — what a configured path means, once for the whole project: a
 * file is itself; a directory is every `*.json` regular file below it,
 * recursively, names starting with '.' skipped (files and directories),
 * symbolic links followed, each directory's entries in byte order, so the
 * order of the list is the same on every run. An entry named `*.json` that
 * is not a regular file or a directory (a FIFO, a device, a socket) or is a
 * symbolic link to nothing is an error, never skipped in silence. Used for the `rules` and
 * `task_definitions` paths of the configuration and the CLI.
 *
 * Limits: directories nested at most DIRWALK_MAX_DEPTH deep, at most
 * DIRWALK_MAX_FILES files in one list; a symbolic link back to a directory
 * being walked is an error, not a loop. Problems with one entry are added to
 * the error list as "PATH: message" and the walk goes on, so a person sees
 * every one of them at once. Nothing logs.
 */
#ifndef TRIPLINE_COMMON_DIRWALK_H
#define TRIPLINE_COMMON_DIRWALK_H

#include <stddef.h>

#include "errlist.h"

#define DIRWALK_MAX_DEPTH 64u
#define DIRWALK_MAX_FILES 100000u

/* A list of paths, each malloc'd and owned by the list. */
struct dirwalk_list {
	size_t n, cap;
	char **paths;
};

#define DIRWALK_LIST_INIT {0, 0, NULL}

/*
 * Appends the files path stands for to list. Returns 0 when nothing was
 * wrong, 1 when some problem was added to errs (the list holds what could be
 * read), or -ENOMEM (list and errs hold what was done before). A path that
 * does not exist is an error like any other; callers that accept a missing
 * default directory check for it first.
 */
int dirwalk_expand(const char *path, struct dirwalk_list *list, struct errlist *errs);

/* Frees every path; the list is empty and reusable afterwards. */
void dirwalk_list_clear(struct dirwalk_list *list);

#endif
