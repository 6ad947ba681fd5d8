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
 * Rotation costs keep + 1 renames and an open: no copying, so the time it
 * takes does not grow with the file (bench/README.md, "Log bursts").
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
/* Closes the current file. Safe on a closed or zeroed writer with fd -1. */
void logrot_close(struct logrot *l);

#endif
