/*
 * file.c — the file target, file:PATH (or file:///ABSOLUTE/PATH): each
 * delivery appends the target's input to the file as one JSON line, the
 * audit and debug target.
 *
 * A JSON input (the event, Input, InputPath, a JSON template) is written
 * compact: the white space outside strings dropped, everything else as it
 * came, so one delivery is one line. Plain text (a template that is not
 * JSON) is written as a JSON string, its newlines escaped, so every line of
 * the file is JSON whatever the rule renders.
 *
 * The file is opened O_APPEND|O_CREAT (mode 0640) and each line goes out in
 * one write(2), so lines from concurrent deliveries never mix. The open file
 * is kept for the next deliveries and opened again once it is a second old
 * (on the loop's clock), so a file moved away by logrotate is followed
 * within a second, and an error closes it at once. With
 * delivery.file_fsync the line is fsync'd before the delivery counts. Any
 * error (no such directory, a full disk, a short write) is retryable: the
 * dispatcher retries under the RetryPolicy, then dead-letters.
 */
#include "targets_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FILE_REOPEN_MS 1000u

/* A target's state: its path, and the file kept open (loop thread only). */
struct file_target {
	int fd;                    /* -1: not open */
	uint64_t opened_ms;        /* uv_now() when it was opened */
	char path[];
};

static int file_prepare(const struct tripline_config *cfg, const struct rule *rule, size_t i, void **ret,
			struct errlist *errs)
{
	char *path = NULL;
	int r;

	(void)cfg;
	*ret = NULL;
	if ((r = tgt_prepare_resource(rule, i, "a file target needs a path: file:PATH", (void **)&path, errs)) < 0)
		return r;
	size_t len = strlen(path);
	struct file_target *ft = malloc(sizeof(*ft) + len + 1);
	if (!ft) {
		free(path);
		return -ENOMEM;
	}
	ft->fd = -1;
	ft->opened_ms = 0;
	memcpy(ft->path, path, len + 1);
	free(path);
	*ret = ft;
	return 0;
}

static void file_release(void *state)
{
	struct file_target *ft = state;

	if (ft->fd >= 0)
		close(ft->fd);
	free(ft);
}

/* The line for input: compact JSON, or the text as a JSON string; with "\n". */
static char *make_line(const char *input, size_t len, size_t *ret_len)
{
	char *line;
	if (tgt_is_json(input, len)) {
		if (!(line = malloc(len + 2)))
			return NULL;
		*ret_len = tgt_compact_json(input, len, line);
	} else {
		json_t *s = json_stringn(input, len);
		line = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		json_decref(s);
		if (!line)
			return NULL;
		*ret_len = strlen(line);
		char *l2 = realloc(line, *ret_len + 2);
		if (!l2) {
			free(line);
			return NULL;
		}
		line = l2;
	}
	line[(*ret_len)++] = '\n';
	line[*ret_len] = '\0';
	return line;
}

static void file_invoke(const struct target_env *env, const struct target_call *call, target_done_fn done,
			void *arg)
{
	struct file_target *ft = call->state;
	uint64_t now = env->loop ? uv_now(env->loop) : 0;
	size_t len;
	char *line = make_line(call->input, call->input_len, &len);
	int err = 0;

	if (!line) {
		tgt_finish(done, arg, TARGET_RETRY, "INTERNAL_ERROR", "out of memory");
		return;
	}
	if (ft->fd >= 0 && (!env->loop || now - ft->opened_ms >= FILE_REOPEN_MS)) {
		close(ft->fd);
		ft->fd = -1;
	}
	if (ft->fd < 0) {
		ft->fd = open(ft->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		ft->opened_ms = now;
	}
	if (ft->fd < 0) {
		err = errno;
	} else {
		ssize_t w = write(ft->fd, line, len);
		if (w < 0)
			err = errno;
		else if ((size_t)w != len)
			err = ENOSPC;   /* a partial line: the disk filled up during the write */
		else if (env->cfg && env->cfg->delivery.file_fsync && fsync(ft->fd) < 0)
			err = errno;
		if (err) {
			close(ft->fd);
			ft->fd = -1;
		}
	}
	free(line);
	if (err)
		tgt_finish(done, arg, TARGET_RETRY, err == EACCES || err == EPERM ? "NO_PERMISSIONS" : "INTERNAL_ERROR",
			   "%s: %s", ft->path, strerror(err));
	else
		tgt_ok(done, arg);
}

const struct target_ops target_file_ops = {
	.name = "file",
	.prepare = file_prepare,
	.release = file_release,
	.invoke = file_invoke,
};
