/*
 * task_logs.c — reading container output: each container's stdout and
 * stderr go to data_dir/logs/<task>/<container>.log, written by its driver
 * (process: the container's log monitor, logmon.h; docker: the driver as it
 * follows the stream), which keeps every file within the configured size
 * and rotates by rename to .1 … .ORCH_LOG_KEEP (logrot.h). Reading returns
 * the end of it (the current file, preceded by the end of the rotated .1
 * when needed) as valid UTF-8. A rotation between the two opens can show
 * the same bytes in both; the text stays valid UTF-8 either way.
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
