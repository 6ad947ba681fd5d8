/*
 * statefile.h — crash-safe replacement of one small state file.
 *
 * statefile_write() writes data to a temporary file in the same directory
 * and renames it over <dir>/<name>, so a reader (or a daemon restarted after
 * kill -9) sees either the old content or the new one, never a mix. With
 * sync, the file and then the directory are fsync'd before returning, which
 * also survives a power loss; without it the rename is atomic for every
 * process on the machine but may be lost with the page cache — right for
 * state that dies with the machine anyway (running tasks).
 */
#ifndef TRIPLINE_ENGINE_STATEFILE_H
#define TRIPLINE_ENGINE_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>

/* 0 or -errno; on failure <dir>/<name> is unchanged and no temp file is left. */
int statefile_write(const char *dir, const char *name, const char *data, size_t len, bool sync);

/* mkdir -p, creating what is missing with mode 0700. 0 or -errno. */
int statefile_make_dirs(const char *path);

/* One directory level, mode 0700: path itself (parent false) or the
 * directory path is in (parent true). An existing one is fine. 0 or -errno. */
int statefile_make_dir(const char *path, bool parent);

/* Removes path and everything below it without following symbolic links or
 * crossing mount points. 0 or -errno (a missing path is 0). */
int statefile_remove_tree(const char *path);

#endif
