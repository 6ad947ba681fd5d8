/*
 * logrot.c — a size-bounded log file rotated by rename (logrot.h says what
 * it promises). Used by the log monitor (logmon.c), which owns a process
 * driver container's output, and by the docker driver, which writes the
 * output it follows from dockerd.
 */
#include "logrot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<path>.<k>" into buf (k 0: the path itself); -ENAMETOOLONG when it does not fit. */
static int rotated_name(const struct logrot *l, unsigned k, char *buf, size_t cap)
{
	size_t n = strlen(l->path);
	char digits[4];
	size_t d = 0;

	if (k == 0) {
		memcpy(buf, l->path, n + 1);
		return 0;
	}
	/* no snprintf: this runs in a monitor that keeps to async-signal-safe calls */
	for (unsigned v = k; v && d < sizeof(digits); v /= 10)
		digits[d++] = (char)('0' + v % 10);
	if (n + 2 + d > cap)
		return -ENAMETOOLONG;
	memcpy(buf, l->path, n);
	buf[n++] = '.';
	while (d)
		buf[n++] = digits[--d];
	buf[n] = '\0';
	return 0;
}

static int open_append(const char *path, int extra)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | extra, 0600);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int open_current(struct logrot *l)
{
	int fd = open_append(l->path, 0);

	if (fd < 0)
		return fd;
	l->fd = fd;
	return 0;
}

int logrot_open(struct logrot *l, const char *path, uint64_t max, unsigned keep)
{
	size_t n = strlen(path);

	l->fd = l->dropped_fd = -1;
	l->defer_drop = false;
	l->max = max;
	l->keep = keep > LOGROT_KEEP_MAX ? LOGROT_KEEP_MAX : keep;
	l->rotations = 0;
	if (n == 0 || n + 5 > sizeof(l->path))   /* room for ".NN" and ".new" */
		return -EINVAL;
	memcpy(l->path, path, n + 1);
	return open_current(l);
}

int logrot_rotate(struct logrot *l)
{
	char from[LOGROT_PATH_MAX], to[LOGROT_PATH_MAX], fresh[LOGROT_PATH_MAX];
	size_t n = strlen(l->path);
	int r = 0;

	/* the oldest goes first, so that no rename below replaces a file: ext4
	 * (auto_da_alloc) writes back the data of a file renamed over another
	 * before the rename returns, ~10 ms for 10 MiB here */
	if (l->keep > 0) {
		if ((r = rotated_name(l, l->keep, to, sizeof(to))) < 0)
			return r;
		int old = l->defer_drop ? open(to, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
		if (unlink(to) < 0 && errno != ENOENT) {
			r = -errno;
			if (old >= 0)
				close(old);
			return r;
		}
		if (old >= 0) {
			/* its blocks are freed when this last descriptor closes */
			if (l->dropped_fd >= 0)
				close(l->dropped_fd);
			l->dropped_fd = old;
		}
	}
	/* .{keep-1} → .keep, …, .1 → .2 */
	for (unsigned k = l->keep; k > 1 && r == 0; k--) {
		if ((r = rotated_name(l, k - 1, from, sizeof(from))) < 0 ||
		    (r = rotated_name(l, k, to, sizeof(to))) < 0)
			break;
		if (rename(from, to) < 0 && errno != ENOENT)
			r = -errno;
	}
	if (r < 0)
		return r;
	/* a new empty file takes the path's place in one step, so a reader
	 * never finds no current file; then the old one becomes .1 */
	memcpy(fresh, l->path, n);
	memcpy(fresh + n, ".new", 5);
	int fd = open_append(fresh, O_TRUNC);
	if (fd < 0)
		return fd;
	if (renameat2(AT_FDCWD, fresh, AT_FDCWD, l->path, RENAME_EXCHANGE) == 0) {
		/* fresh names the old file now */
		if (l->keep == 0)
			r = unlink(fresh) < 0 ? -errno : 0;
		else if ((r = rotated_name(l, 1, to, sizeof(to))) == 0 && rename(fresh, to) < 0)
			r = -errno;
	} else {
		/* a file system without RENAME_EXCHANGE, or no current file */
		if (l->keep == 0)
			r = unlink(l->path) < 0 && errno != ENOENT ? -errno : 0;
		else if ((r = rotated_name(l, 1, to, sizeof(to))) == 0 && rename(l->path, to) < 0 &&
			 errno != ENOENT)
			r = -errno;
		if (r == 0 && rename(fresh, l->path) < 0)
			r = -errno;
	}
	if (r < 0) {
		close(fd);
		unlink(fresh);
		return r;
	}
	/* the old descriptor names the renamed (or removed) file now */
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->rotations++;
	return 0;
}

ssize_t logrot_write(struct logrot *l, const void *data, size_t len)
{
	const char *p = data;
	size_t left = len;
	struct stat st;
	int r;

	if (l->fd < 0 && (r = open_current(l)) < 0)
		return r;
	if (fstat(l->fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	while (left > 0) {
		if (l->max && size >= l->max) {
			if ((r = logrot_rotate(l)) < 0)
				return r;
			size = 0;
		}
		size_t take = left;
		if (l->max && take > l->max - size)
			take = (size_t)(l->max - size);
		ssize_t n = write(l->fd, p, take);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		left -= (size_t)n;
		size += (uint64_t)n;
	}
	return (ssize_t)len;
}

int logrot_take_dropped(struct logrot *l)
{
	int fd = l->dropped_fd;

	l->dropped_fd = -1;
	return fd;
}

void logrot_close(struct logrot *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->dropped_fd >= 0)
		close(l->dropped_fd);
	l->fd = l->dropped_fd = -1;
}
