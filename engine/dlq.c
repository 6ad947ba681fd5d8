/*
 * dlq.c — dead-letter lines and their writing (dlq.h).
 *
 * The line is built as text: "event" is the envelope's own compact JSON,
 * spliced in verbatim (a reader gets back exactly the bytes that were
 * dispatched, numbers as written), followed by the attributes serialised
 * by jansson in insertion order.
 *
 * A file write is one uv_queue_work job: open(O_WRONLY|O_APPEND|O_CREAT,
 * 0640), one write(2) of the whole line (O_APPEND keeps concurrent lines
 * whole), fsync, close. A write owns itself: dlq_cancel() only stops its
 * callback, and the job frees it when the threadpool is done with it.
 */
#include "dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "curl_uv.h"

struct dlq_write {
	uv_work_t work;
	struct curl_uv_req *req;     /* http: the request, until done */
	char *path;                  /* file: the path */
	char *data;
	size_t len;
	int result;
	char why[256];
	bool cancelled;
	dlq_done_fn done;
	void *arg;
};

static void time_text(uint64_t ms, char buf[64])
{
	time_t s = (time_t)(ms / 1000u);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000u));
}

int dlq_line(const struct dlq_record *r, char **ret, size_t *ret_len)
{
	char when[64];
	json_t *a = json_object();
	char *attrs = NULL, *line;
	size_t alen, n;
	int err = -ENOMEM;

	*ret = NULL;
	time_text(r->time_wall_ms, when);
	if (!a || json_object_set_new(a, "RULE_ARN", json_string(r->rule_arn ? r->rule_arn : "")) < 0 ||
	    json_object_set_new(a, "TARGET_ARN", json_string(r->target_arn ? r->target_arn : "")) < 0 ||
	    json_object_set_new(a, "ERROR_CODE", json_string(r->error_code ? r->error_code : "")) < 0 ||
	    json_object_set_new(a, "ERROR_MESSAGE", json_string(r->error_message ? r->error_message : "")) < 0 ||
	    (r->exhausted && json_object_set_new(a, "EXHAUSTED_RETRY_CONDITION", json_string(r->exhausted)) < 0) ||
	    json_object_set_new(a, "RETRY_ATTEMPTS", json_integer(r->retry_attempts)) < 0 ||
	    json_object_set_new(a, "rule", json_string(r->rule)) < 0 ||
	    json_object_set_new(a, "target_id", json_string(r->target_id)) < 0 ||
	    json_object_set_new(a, "bus", json_string(r->bus)) < 0 ||
	    json_object_set_new(a, "time", json_string(when)) < 0)
		goto out;
	if (!(attrs = json_dumps(a, JSON_COMPACT)))
		goto out;
	alen = strlen(attrs);
	/* {"event":EVENT,ATTRS-without-its-brace\n */
	n = 9 + r->event_len + 1 + (alen - 1) + 1;
	if (!(line = malloc(n + 1)))
		goto out;
	memcpy(line, "{\"event\":", 9);
	memcpy(line + 9, r->event_json, r->event_len);
	line[9 + r->event_len] = ',';
	memcpy(line + 10 + r->event_len, attrs + 1, alen - 1);
	line[n - 1] = '\n';
	line[n] = '\0';
	*ret = line;
	*ret_len = n;
	err = 0;
out:
	free(attrs);
	json_decref(a);
	return err;
}

/* The path of a file: ARN, or NULL. */
static const char *file_path(const char *arn)
{
	if (strncmp(arn, "file://", 7) == 0)
		return arn[7] == '/' ? arn + 7 : NULL;
	if (strncmp(arn, "file:", 5) == 0)
		return arn[5] ? arn + 5 : NULL;
	return NULL;
}

static bool is_http(const char *arn)
{
	return strncmp(arn, "http://", 7) == 0 || strncmp(arn, "https://", 8) == 0;
}

const char *dlq_arn_problem(const char *arn)
{
	if (file_path(arn) || is_http(arn))
		return NULL;
	if (strncmp(arn, "kafka:", 6) == 0)
		return "kafka dead-letter destinations are not implemented yet: use file:PATH or an http(s):// URL";
	return "a dead-letter destination must be file:PATH or an http(s):// URL";
}

/* ------------------------------------------------------------ files */

static void file_work(uv_work_t *work)
{
	struct dlq_write *w = work->data;
	const char *p = w->data;
	size_t left = w->len;
	int fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	w->result = 0;
	if (fd < 0) {
		w->result = -errno;
		snprintf(w->why, sizeof(w->why), "%s: %s", w->path, strerror(errno));
		return;
	}
	while (left) {
		ssize_t k = write(fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->result = k < 0 ? -errno : -EIO;
			break;
		}
		/* a short write leaves a partial line: the next line starts after it, and a
		 * reader skips what does not parse (README) */
		p += k;
		left -= (size_t)k;
	}
	if (!w->result && fsync(fd) < 0)
		w->result = -errno;
	if (close(fd) < 0 && !w->result && errno != EINTR)
		w->result = -errno;
	if (w->result)
		snprintf(w->why, sizeof(w->why), "%s: %s", w->path, strerror(-w->result));
}

static void write_free(struct dlq_write *w)
{
	free(w->path);
	free(w->data);
	free(w);
}

static void file_after(uv_work_t *work, int status)
{
	struct dlq_write *w = work->data;

	if (status < 0 && !w->result) {
		w->result = status;
		snprintf(w->why, sizeof(w->why), "%s: %s", w->path, uv_strerror(status));
	}
	if (!w->cancelled)
		w->done(w->arg, w->result, w->why);
	write_free(w);
}

/* ------------------------------------------------------------ http */

static void http_done(void *arg, const struct curl_uv_result *res)
{
	struct dlq_write *w = arg;

	w->req = NULL;
	if (res->err < 0) {
		w->result = res->err;
		snprintf(w->why, sizeof(w->why), "%s", res->error);
	} else if (res->status < 200 || res->status > 299) {
		w->result = -EIO;
		snprintf(w->why, sizeof(w->why), "HTTP status %u", res->status);
	}
	w->done(w->arg, w->result, w->why);
	write_free(w);
}

int dlq_write(uv_loop_t *loop, struct curl_uv *cu, const char *arn, const char *line, size_t len,
	      unsigned http_timeout_ms, dlq_done_fn done, void *arg, struct dlq_write **ret)
{
	const char *path = file_path(arn);
	struct dlq_write *w;
	int r;

	*ret = NULL;
	if (!path && (!is_http(arn) || !cu))
		return -EINVAL;
	if (!(w = calloc(1, sizeof(*w))) || !(w->data = malloc(len ? len : 1))) {
		free(w);
		return -ENOMEM;
	}
	memcpy(w->data, line, len);
	w->len = len;
	w->done = done;
	w->arg = arg;
	if (path) {
		if (!(w->path = strdup(path))) {
			write_free(w);
			return -ENOMEM;
		}
		w->work.data = w;
		if ((r = uv_queue_work(loop, &w->work, file_work, file_after)) < 0) {
			write_free(w);
			return r;
		}
	} else {
		static const char *const headers[] = {"Content-Type: application/json", NULL};
		struct curl_uv_request rq = {
			.method = "POST",
			.url = arn,
			.headers = headers,
			.body = w->data,
			.body_len = len,
			.max_response = 64u << 10,
			.timeout_ms = http_timeout_ms ? http_timeout_ms : DLQ_HTTP_TIMEOUT_MS,
			.done = http_done,
			.arg = w,
		};
		if ((r = curl_uv_start(cu, &rq, &w->req)) < 0) {
			write_free(w);
			return r;
		}
	}
	*ret = w;
	return 0;
}

void dlq_cancel(struct dlq_write *w)
{
	if (!w)
		return;
	if (w->path) {
		w->cancelled = true;
		return;
	}
	curl_uv_cancel(w->req);
	write_free(w);
}
