/*
 * logrot.h — a log file that never passes its bound: writes go to
 * <path> (O_APPEND) until the next byte would make it larger than max; then
 * the file is rotated by rename (<path>.{keep-1} → <path>.{keep}, …,
 * <path> → <path>.1; the oldest is replaced), a new empty <path> taking
 * the old one's place in one step (renameat2 RENAME_EXCHANGE with
 * <path>.new, where the file system has it), so <path> always exists.
 * A write is split across files when it straddles the bound, so no file
 * is ever larger than max and the set on disk is at most (keep + 1) × max.
 *
 * Rotation costs an unlink, keep + 1 renames and an open: no copying, so
 * the time it takes does not grow with the file (bench/README.md,
 * logrot_bench); the oldest file is unlinked first, so no rename replaces
 * a file, and freeing its blocks can be left to another thread
 * (defer_drop).
 * Someone else appending to <path> through a descriptor of their own (a
 * health-check probe) is counted: the size is read with fstat before each
 * write. Only system calls that are async-signal-safe; no allocation.
 *
 * Lifecycle: logrot_open(), logrot_write() as often as needed,
 * logrot_close(). Errors are -errno; a write that fails leaves the
 * writer usable (the next write reopens the file when it has none).
 */
#ifndef TRIPLINE_LOGROT_H
#define TRIPLINE_LOGROT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOGROT_PATH_MAX 4096
#define LOGROT_KEEP_MAX 99u

struct logrot {
	int fd;                    /* the current file; -1: none open */
	uint64_t max;              /* bytes per file; 0: no bound, never rotated */
	unsigned keep;             /* rotated files kept: .1 … .keep */
	uint64_t rotations;        /* done so far */
	bool defer_drop;           /* set after open: the dropped oldest file is left open,
				      for logrot_take_dropped() */
	int dropped_fd;
	char path[LOGROT_PATH_MAX];
};

/* Opens (creates, 0600) path for appending. max 0: unbounded; keep at most
 * LOGROT_KEEP_MAX (0: the old file is dropped at rotation). 0, -EINVAL
 * (path too long), or -errno of open. */
int logrot_open(struct logrot *l, const char *path, uint64_t max, unsigned keep);
/* Appends all len bytes, rotating as needed: len, or -errno of the step
 * that failed (bytes before it were written). */
ssize_t logrot_write(struct logrot *l, const void *data, size_t len);
/* Rotates now (the current file becomes .1). 0 or -errno. */
int logrot_rotate(struct logrot *l);
/* With defer_drop: the oldest file a rotation dropped (unlinked), still
 * open, or -1. Freeing a file's blocks takes ~1 ms for 10 MiB on ext4 and
 * happens when its last descriptor closes: the caller closes this one
 * where that may take time (the docker driver, off the loop). */
int logrot_take_dropped(struct logrot *l);
/* Closes the current file (and a dropped one not taken). Safe on a closed
 * writer. */
void logrot_close(struct logrot *l);

#endif
