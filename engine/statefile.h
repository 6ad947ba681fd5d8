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

/* A state file's name made from a key a user chose (a family, a service
 * name: up to 255 characters, more than a file name holds with a suffix):
 * <key><suffix> while the key has at most STATEFILE_KEY_MAX characters,
 * else <first STATEFILE_KEY_MAX characters>~<16 hex digits of the key's
 * SHA-256><suffix>. With a suffix of at most 24 characters the name, and
 * the temporary name statefile_write() makes from it, fit in 255 bytes. */
#define STATEFILE_KEY_MAX 200u
#define STATEFILE_NAME_MAX (STATEFILE_KEY_MAX + 1 + 16 + 24 + 1)

/* 0 or -errno; on failure <dir>/<name> is unchanged and no temp file is left. */
int statefile_write(const char *dir, const char *name, const char *data, size_t len, bool sync);

/* Whether name is one of statefile_write()'s temporary files (".NAME.XXXXXX"):
 * one left in a state directory is from a write cut short (a crash), never
 * anything to load, and may be removed. */
bool statefile_is_temp(const char *name);

/* Writes the name for key and suffix into name. 0, -ENAMETOOLONG (a suffix
 * over 24 characters) or the digest's error. */
int statefile_name(const char *key, const char *suffix, char name[STATEFILE_NAME_MAX]);

/* Moves the file path, which could not be loaded, into the directory
 * corrupt_dir (created when missing) as <its name>.<UTC time>[.<n>], so the
 * daemon can start without it and a person can look at it. The new path
 * goes to dest. 0 or -errno (then path is where it was). */
int statefile_move_aside(const char *path, const char *corrupt_dir, char *dest, size_t dest_len);

/* mkdir -p, creating what is missing with mode 0700. 0 or -errno. */
int statefile_make_dirs(const char *path);

/* One directory level, mode 0700: path itself (parent false) or the
 * directory path is in (parent true). An existing one is fine. 0 or -errno. */
int statefile_make_dir(const char *path, bool parent);

/* Removes path and everything below it without following symbolic links or
 * crossing mount points. 0 or -errno (a missing path is 0). */
int statefile_remove_tree(const char *path);

#endif
