/*
 * task_logs.c — container output: each container's stdout and stderr go to
 * data_dir/logs/<task>/<container>.log (the driver appends with O_APPEND).
 * Reading returns the end of it (the current file, preceded by the end of
 * the rotated .1 when needed) as valid UTF-8; rotation copies and truncates
 * a file past the configured size, keeping ORCH_LOG_KEEP old ones, so the
 * writer's descriptor never changes.
 */
#include "orch_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger.h"
#include "utf8.h"

/* The last `tail` bytes of the container's output: the end of the current
 * file, preceded by the end of the rotated .1 when the current one is
 * shorter. truncated: older output exists that is not returned. */
int orch_task_log_read(const struct tcontainer *c, size_t tail, struct orch_task_log *ret)
{
	char path[3][4300];
	int fd[2] = {-1, -1};
	size_t size[2] = {0, 0}, take[2] = {0, 0}, have = 0, need = tail;
	struct stat st;

	memset(ret, 0, sizeof(*ret));
	ret->name = c->name;
	orch_container_log_path(c, path[0], sizeof(path[0]));
	snprintf(path[1], sizeof(path[1]), "%.4200s.1", path[0]);
	snprintf(path[2], sizeof(path[2]), "%.4200s.2", path[0]);
	for (int f = 0; f < 2; f++) {
		fd[f] = open(path[f], O_RDONLY | O_CLOEXEC);
		if (fd[f] >= 0 && fstat(fd[f], &st) == 0)
			size[f] = (size_t)st.st_size;
		take[f] = size[f] < need ? size[f] : need;
		need -= take[f];
	}
	ret->truncated = take[0] < size[0] || take[1] < size[1] || access(path[2], F_OK) == 0;
	char *buf = malloc(take[0] + take[1] + 1);
	for (int f = 1; buf && f >= 0; f--) {
		ssize_t r = take[f] ? pread(fd[f], buf + have, take[f], (off_t)(size[f] - take[f])) : 0;
		have += r > 0 ? (size_t)r : 0;
	}
	for (int f = 0; f < 2; f++)
		if (fd[f] >= 0)
			close(fd[f]);
	ret->text = buf ? utf8_clean(buf, have, &ret->len) : NULL;
	free(buf);
	return ret->text ? 0 : -ENOMEM;
}

/* Copy-and-truncate rotation: the writer keeps its O_APPEND descriptor. */
void orch_task_log_rotate(const struct orch *o, const struct tcontainer *c)
{
	char path[4200], from[4300], to[4300], tmp[4300];
	struct stat st;
	char buf[65536];
	ssize_t n = 0;

	orch_container_log_path(c, path, sizeof(path));
	uint64_t max = o->cfg.log_max_bytes ? o->cfg.log_max_bytes : ORCH_LOG_MAX_BYTES;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size <= max)
		return;
	snprintf(tmp, sizeof(tmp), "%s.rotating", path);
	int in = open(path, O_RDWR | O_CLOEXEC);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool copied = in >= 0 && out >= 0;
	while (copied && (n = read(in, buf, sizeof(buf))) > 0)
		copied = write(out, buf, (size_t)n) == n;
	copied = copied && n == 0;
	/* truncate only what was copied in full; then .1 appears with it */
	if (copied && ftruncate(in, 0) == 0) {
		for (unsigned k = ORCH_LOG_KEEP; k > 1; k--) {
			snprintf(from, sizeof(from), "%s.%u", path, k - 1);
			snprintf(to, sizeof(to), "%s.%u", path, k);
			rename(from, to);
		}
		snprintf(to, sizeof(to), "%s.1", path);
		rename(tmp, to);
	} else {
		log_warn("orch", "task %s: cannot rotate %s: %s", c->task->id, path, strerror(errno));
		unlink(tmp);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}
