/*
 * orch_bench_api.c — the daemon's ECS API as the bench calls it, over HTTP
 * through libcurl; the only file of orch_bench that includes <curl/curl.h>.
 *
 * One easy handle (struct api_conn) POSTs every request to the daemon's
 * loopback port on one kept-alive connection, with the AWS JSON 1.1 headers
 * and the X-Amz-Target of the operation; /healthz gets a handle of its own.
 * A request whose latency is measured is built first (ob_req_init) and sent
 * later (ob_api_send), so that only the round trip is timed. An answer is
 * accepted when it is HTTP 200 with a JSON object of at most MAX_BODY
 * bytes; anything else is printed with the operation's name and is -EPROTO.
 * On top of that: registering the probe as a task definition, reading the
 * tasks out of a RunTask answer, and polling DescribeTasks for a status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench_util.h"
#include "orch_bench.h"

#define MAX_BODY ((size_t)16 << 20) /* largest answer accepted */
#define REQUEST_TIMEOUT_S 10L
#define DESCRIBE_BATCH 100u         /* DescribeTasks takes at most 100 */
#define MAX_LIST_PAGES 200u
#define ECS_TARGET "AmazonEC2ContainerServiceV20141113."

struct api_conn {
	CURL *curl;
	char url[64];
	char *body;                 /* the last answer */
	size_t body_len;
};

int ob_api_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void ob_api_global_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct api_conn *a = ud;
	size_t n = size * nmemb;
	char *nb;

	if (n > MAX_BODY - a->body_len)
		return 0;   /* curl fails the transfer: CURLE_WRITE_ERROR */
	nb = realloc(a->body, a->body_len + n + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + a->body_len, ptr, n);
	a->body = nb;
	a->body_len += n;
	a->body[a->body_len] = '\0';
	return n;
}

int ob_api_open(struct bench *b)
{
	struct api_conn *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	a->curl = curl_easy_init();
	if (a->curl == NULL) {
		free(a);
		return -ENOMEM;
	}
	b->api = a;
	snprintf(a->url, sizeof(a->url), "http://127.0.0.1:%u/", (unsigned)b->port);
	if (curl_easy_setopt(a->curl, CURLOPT_URL, a->url) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, (void *)a) != CURLE_OK)
		return -EINVAL;
	return 0;
}

void ob_api_close(struct bench *b)
{
	struct api_conn *a = b->api;

	if (a == NULL)
		return;
	curl_easy_cleanup(a->curl);
	free(a->body);
	free(a);
	b->api = NULL;
}

bool ob_api_healthz(const struct bench *b)
{
	char url[80];
	long status = 0;
	CURL *h = curl_easy_init();
	FILE *sink = fopen("/dev/null", "we");
	bool ok = false;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", (unsigned)b->port);
	if (h != NULL && sink != NULL && curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, 2L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)sink) == CURLE_OK &&
	    curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		ok = status == 200;
	if (sink != NULL)
		fclose(sink);
	curl_easy_cleanup(h);
	return ok;
}

void ob_req_free(struct api_req *r)
{
	curl_slist_free_all(r->hdrs);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int ob_req_init(struct api_req *r, const char *op, json_t *body)
{
	char target[128];
	struct curl_slist *h = NULL, *n;

	memset(r, 0, sizeof(*r));
	r->op = op;
	if (body == NULL)
		return -ENOMEM;
	r->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	snprintf(target, sizeof(target), "X-Amz-Target: " ECS_TARGET "%s", op);
	if (r->body == NULL)
		return -ENOMEM;
	if ((n = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1")) == NULL)
		goto nomem;
	h = n;
	if ((n = curl_slist_append(h, target)) == NULL)
		goto nomem;
	h = n;
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto nomem;
	r->hdrs = n;
	return 0;
nomem:
	curl_slist_free_all(h);
	free(r->body);
	r->body = NULL;
	return -ENOMEM;
}

int ob_api_send(struct bench *b, const struct api_req *r, json_t **ret)
{
	struct api_conn *a = b->api;
	json_error_t je;
	long status = 0;
	CURLcode cc;
	json_t *j;

	*ret = NULL;
	a->body_len = 0;
	if (ob_interrupted)
		return -EINTR;
	if (curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, r->hdrs) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, r->body) != CURLE_OK ||
	    curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body)) != CURLE_OK)
		return -EINVAL;
	cc = curl_easy_perform(a->curl);
	if (cc != CURLE_OK) {
		fprintf(stderr, "orch_bench: %s: %s\n", r->op, curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	j = json_loadb(a->body ? a->body : "", a->body_len, 0, &je);
	if (status != 200 || !json_is_object(j)) {
		fprintf(stderr, "orch_bench: %s: HTTP %ld: %.300s\n", r->op, status, a->body ? a->body : "");
		json_decref(j);
		return -EPROTO;
	}
	*ret = j;
	return 0;
}

int ob_api(struct bench *b, const char *op, json_t *body, json_t **ret)
{
	struct api_req r;
	int rc = ob_req_init(&r, op, body);

	if (rc == 0)
		rc = ob_api_send(b, &r, ret);
	ob_req_free(&r);
	return rc;
}

int ob_register_probe(struct bench *b, const char *family, const char *mode, unsigned tag)
{
	char tagstr[16];
	json_t *ans = NULL;
	int r;

	snprintf(tagstr, sizeof(tagstr), "%u", tag);
	r = ob_api(b, "RegisterTaskDefinition",
		   json_pack("{s:s, s:[{s:s, s:s, s:b, s:i, s:[s,s,s,s]}]}", "family", family,
			     "containerDefinitions", "name", "probe", "image", "local", "essential", 1,
			     "stopTimeout", 2, "command", b->probe, b->sock_path, mode, tagstr),
		   &ans);
	json_decref(ans);
	return r;
}

long ob_take_tasks(const json_t *ans, char **arns, size_t *n, size_t cap)
{
	const json_t *tasks = json_object_get(ans, "tasks");
	const json_t *fails = json_object_get(ans, "failures");
	size_t i;
	json_t *t;

	if (json_array_size(fails) > 0) {
		char *txt = json_dumps(json_array_get(fails, 0), JSON_COMPACT);

		fprintf(stderr, "orch_bench: RunTask: %zu failures, the first: %s\n", json_array_size(fails),
			txt ? txt : "?");
		free(txt);
		return -EPROTO;
	}
	json_array_foreach(tasks, i, t) {
		const char *arn = json_string_value(json_object_get(t, "taskArn"));

		if (arn == NULL)
			return -EPROTO;
		if (arns != NULL && *n < cap) {
			arns[*n] = strdup(arn);
			if (arns[*n] == NULL)
				return -ENOMEM;
			(*n)++;
		}
	}
	return (long)json_array_size(tasks);
}

int ob_describe_count(struct bench *b, char **arns, size_t n, const char *status, size_t *ret_n,
		      int32_t *pids)
{
	size_t done = 0, off;

	for (off = 0; off < n; off += DESCRIBE_BATCH) {
		size_t k, m = n - off < DESCRIBE_BATCH ? n - off : DESCRIBE_BATCH;
		json_t *list = json_array(), *ans = NULL, *t;
		int r;

		if (list == NULL)
			return -ENOMEM;
		for (k = 0; k < m; k++)
			json_array_append_new(list, json_string(arns[off + k]));
		if ((r = ob_api(b, "DescribeTasks", json_pack("{s:o}", "tasks", list), &ans)) < 0)
			return r;
		if (json_array_size(json_object_get(ans, "failures")) > 0 ||
		    json_array_size(json_object_get(ans, "tasks")) != m) {
			fprintf(stderr, "orch_bench: DescribeTasks: some tasks are missing\n");
			json_decref(ans);
			return -EPROTO;
		}
		json_array_foreach(json_object_get(ans, "tasks"), k, t) {
			const char *st = json_string_value(json_object_get(t, "lastStatus"));

			if (st != NULL && strcmp(st, status) == 0)
				done++;
			if (pids != NULL) {
				const char *rid = json_string_value(
					json_object_get(json_array_get(json_object_get(t, "containers"), 0), "runtimeId"));
				unsigned long v;

				pids[off + k] = rid && parse_uint(rid, 1, INT32_MAX, &v) == 0 ? (int32_t)v : 0;
			}
		}
		json_decref(ans);
	}
	*ret_n = done;
	return 0;
}

int ob_wait_status(struct bench *b, char **arns, size_t n, const char *status, int64_t deadline,
		   size_t *ret_n, int32_t *pids)
{
	*ret_n = 0;
	for (;;) {
		int r = ob_describe_count(b, arns, n, status, ret_n, pids);

		if (r < 0)
			return r;
		if (*ret_n == n)
			return 0;
		if ((r = ob_poll_pause(deadline, POLL_SLEEP_NS)) < 0)
			return r;
	}
}

size_t ob_running_task_pids(struct bench *b, int32_t *pids, size_t cap)
{
	char *next = NULL;
	size_t n = 0;
	unsigned page;

	for (page = 0; page < MAX_LIST_PAGES; page++) {
		json_t *req = json_pack("{s:s, s:i}", "desiredStatus", "RUNNING", "maxResults", 100);
		json_t *ans = NULL, *arns, *a;
		char **list = NULL;
		size_t i, k = 0;

		if (req != NULL && next != NULL)
			json_object_set_new(req, "nextToken", json_string(next));
		free(next);
		next = NULL;
		if (ob_api(b, "ListTasks", req, &ans) < 0)
			break;
		arns = json_object_get(ans, "taskArns");
		list = calloc(json_array_size(arns) + 1, sizeof(*list));
		if (list != NULL) {
			json_array_foreach(arns, i, a)
				if (json_is_string(a) && (list[k] = strdup(json_string_value(a))) != NULL)
					k++;
		}
		if (list != NULL && k > 0 && n + k <= cap) {
			size_t dummy;

			if (ob_describe_count(b, list, k, "RUNNING", &dummy, pids + n) == 0)
				n += k;
		}
		for (i = 0; list != NULL && i < k; i++)
			free(list[i]);
		free(list);
		if (json_is_string(json_object_get(ans, "nextToken")))
			next = strdup(json_string_value(json_object_get(ans, "nextToken")));
		json_decref(ans);
		if (next == NULL)
			break;
	}
	free(next);
	return n;
}
