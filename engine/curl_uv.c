/*
 * curl_uv.c — libcurl's multi interface on a libuv loop (the only file of the
 * engine that includes <curl/curl.h>).
 *
 * libcurl tells us what to watch and we tell it what happened:
 *   - CURLMOPT_SOCKETFUNCTION: for each socket a transfer uses, a
 *     struct cu_socket with a uv_poll_t, started for the directions curl
 *     asks for and closed on CURL_POLL_REMOVE (its memory is freed from the
 *     close callback);
 *   - CURLMOPT_TIMERFUNCTION: one uv_timer_t, re-armed whenever curl wants to
 *     be called after a delay;
 *   - on either event, curl_multi_socket_action(), then curl_multi_info_read()
 *     for the transfers that ended.
 *
 * Completed transfers are first all taken off the multi handle and only then
 * reported one by one, so a done() callback may start, cancel or free
 * anything. Our own code runs inside libcurl's callbacks only in on_data()
 * (libcurl's write callback), where an easy handle must not be removed: a
 * request cancelled there is only marked, and removed once
 * curl_multi_socket_action() has returned. curl_uv_free() called from any
 * callback is deferred the same way (the `busy` depth).
 */
#include "curl_uv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct cu_socket {
	uv_poll_t poll;
	struct curl_uv *cu;
	curl_socket_t fd;
	struct cu_socket *prev, *next;     /* cu->sockets */
};

struct curl_uv_req {
	struct curl_uv *cu;                /* NULL for curl_uv_perform() */
	CURL *easy;
	struct curl_slist *headers;
	struct curl_uv_req *prev, *next;   /* cu->running while in the multi handle */
	curl_uv_done_fn done;
	curl_uv_data_fn on_data;
	void *arg;
	char *body;                        /* collected body, body_cap bytes */
	size_t body_len;
	size_t body_cap;
	size_t max_response;
	int stream;                        /* on_data: 0 undecided, 1 stream (2xx), -1 collect */
	bool in_multi;
	bool cancelled;
	bool too_large;
	bool refused;                      /* on_data returned non-zero */
	bool no_memory;                    /* for the collected body */
	CURLcode result;                   /* of the ended transfer, until reported */
	char errbuf[CURL_ERROR_SIZE];
};

struct curl_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct cu_socket *sockets;
	struct curl_uv_req *running;
	size_t n_requests;                 /* running, or completed and not yet reported */
	size_t n_doomed;                   /* cancelled inside on_data, still in the multi handle */
	int open_handles;                  /* uv handles not yet closed */
	int busy;                          /* depth of socket_action + reporting */
	int in_write;                      /* inside on_data() */
	bool freeing;                      /* curl_uv_free() was called */
	bool torn_down;                    /* the multi handle is gone */
};

/* --- requests ------------------------------------------------------------ */

static void req_free(struct curl_uv_req *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

static void running_unlink(struct curl_uv *cu, struct curl_uv_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		cu->running = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* Takes r off the multi handle and frees it (outside libcurl's callbacks). */
static void req_discard(struct curl_uv *cu, struct curl_uv_req *r)
{
	running_unlink(cu, r);
	curl_multi_remove_handle(cu->multi, r->easy);
	r->in_multi = false;
	cu->n_requests--;
	req_free(r);
}

static int collect(struct curl_uv_req *r, const char *data, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > r->max_response - r->body_len) {
		r->too_large = true;
		return -1;
	}
	need = r->body_len + n + 1;
	if (need > r->body_cap) {
		cap = r->body_cap ? r->body_cap : 1024;
		while (cap < need)
			cap *= 2;
		if (cap > r->max_response + 1)
			cap = r->max_response + 1;
		p = realloc(r->body, cap);
		if (!p) {
			r->no_memory = true;
			return -1;
		}
		r->body = p;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct curl_uv_req *r = userdata;
	size_t n = size * nmemb;
	long code = 0;
	int rc;

	if (r->cancelled || (r->cu && r->cu->freeing))
		return 0;
	if (r->on_data && r->stream == 0) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		r->stream = code >= 200 && code < 300 ? 1 : -1;
	}
	if (r->stream == 1) {
		if (r->cu)
			r->cu->in_write++;
		rc = r->on_data(r->arg, data, n);
		if (r->cu)
			r->cu->in_write--;
		if (rc != 0) {
			r->refused = true;
			return 0;
		}
		/* cancelled or freed from inside on_data: stop reading */
		if (r->cancelled || (r->cu && r->cu->freeing))
			return 0;
		return n;
	}
	return collect(r, data, n) == 0 ? n : 0;
}

static int map_error(struct curl_uv_req *r, CURLcode rc)
{
	long os_errno = 0;

	if (r->too_large)
		return -EMSGSIZE;
	if (r->refused)
		return -ECONNABORTED;
	if (r->no_memory)
		return -ENOMEM;
	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return os_errno > 0 && os_errno < 4096 ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return os_errno > 0 && os_errno < 4096 ? -(int)os_errno : -ECONNRESET;
	default:
		return -EIO;
	}
}

/* Calls r->done with the outcome of its transfer. */
static void report(struct curl_uv_req *r, CURLcode rc)
{
	struct curl_uv_result res = { .error = "", .content_type = "", .body = "" };
	char msg[CURL_ERROR_SIZE + 64];
	long code = 0;
	char *ctype = NULL;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code > 0 && code < 1000)
		res.status = (unsigned)code;
	if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
		res.content_type = ctype;
	if (rc == CURLE_OK && !r->too_large && !r->refused && !r->no_memory) {
		if (r->body) {
			res.body = r->body;
			res.body_len = r->body_len;
		}
	} else {
		res.err = map_error(r, rc);
		if (r->too_large)
			snprintf(msg, sizeof(msg), "response body larger than %zu bytes", r->max_response);
		else if (r->refused)
			snprintf(msg, sizeof(msg), "the receiver refused the response body");
		else
			snprintf(msg, sizeof(msg), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
		res.error = msg;
	}
	r->done(r->arg, &res);
}

static bool method_is(const char *method, const char *name)
{
	return strcmp(method, name) == 0;
}

#define SETOPT(opt, val)                                              \
	do {                                                          \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK) {      \
			err = -EIO;                                   \
			goto out_fail;                                \
		}                                                     \
	} while (0)

/* An HTTP method token, upper case: nothing that could end the request line. */
static bool valid_method(const char *m)
{
	size_t i;

	if (!m || !m[0])
		return false;
	for (i = 0; m[i]; i++) {
		if (i >= 16 || m[i] < 'A' || m[i] > 'Z')
			return false;
	}
	return true;
}

/* "Name: value" on one line: a CR or LF would smuggle in more headers. */
static bool valid_headers(const char *const *h)
{
	size_t i;

	for (i = 0; h && h[i]; i++) {
		if (strpbrk(h[i], "\r\n") || !strchr(h[i], ':'))
			return false;
	}
	return true;
}

/* A request struct with its easy handle configured from rq. */
static int req_create(const struct curl_uv_request *rq, struct curl_uv_req **ret)
{
	struct curl_uv_req *r;
	struct curl_slist *l;
	CURL *e;
	long connect_ms;
	size_t i;
	int err = -ENOMEM;

	*ret = NULL;
	if (!valid_method(rq->method) || !rq->url || !rq->url[0] || !valid_headers(rq->headers) ||
	    rq->max_response == 0 || rq->max_response > CURL_UV_MAX_RESPONSE)
		return -EINVAL;
	if (rq->body_len > 0 && !rq->body)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->done = rq->done;
	r->on_data = rq->on_data;
	r->arg = rq->arg;
	r->max_response = rq->max_response;
	r->easy = e = curl_easy_init();
	if (!e)
		goto out_fail;

	SETOPT(CURLOPT_URL, rq->url);
	SETOPT(CURLOPT_PRIVATE, (void *)r);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_PROXY, "");          /* not http_proxy & co. from the environment */
	SETOPT(CURLOPT_ERRORBUFFER, r->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(CURLOPT_WRITEDATA, (void *)r);
	if (rq->unix_socket)
		SETOPT(CURLOPT_UNIX_SOCKET_PATH, rq->unix_socket);
	connect_ms = CURL_UV_CONNECT_TIMEOUT_MS;
	if (rq->timeout_ms) {
		SETOPT(CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
		if (rq->timeout_ms < CURL_UV_CONNECT_TIMEOUT_MS)
			connect_ms = (long)rq->timeout_ms;
	}
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);

	/* curl would wait up to a second for "100 Continue" before a large body */
	r->headers = curl_slist_append(NULL, "Expect:");
	if (!r->headers)
		goto out_fail;
	for (i = 0; rq->headers && rq->headers[i]; i++) {
		l = curl_slist_append(r->headers, rq->headers[i]);
		if (!l)
			goto out_fail;
		r->headers = l;
	}
	SETOPT(CURLOPT_HTTPHEADER, r->headers);

	if (method_is(rq->method, "HEAD")) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (rq->body || method_is(rq->method, "POST")) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		SETOPT(CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
		if (!method_is(rq->method, "POST"))
			SETOPT(CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (method_is(rq->method, "GET")) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, rq->method);
	}
	*ret = r;
	return 0;

out_fail:
	req_free(r);
	return err;
}

#undef SETOPT

/* --- the multi handle on the loop ------------------------------------------ */

static void maybe_free(struct curl_uv *cu)
{
	if (cu->torn_down && cu->open_handles == 0)
		free(cu);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct curl_uv *cu = h->data;

	cu->open_handles--;
	maybe_free(cu);
}

static void on_socket_closed(uv_handle_t *h)
{
	struct cu_socket *cs = h->data;
	struct curl_uv *cu = cs->cu;

	free(cs);
	cu->open_handles--;
	maybe_free(cu);
}

static void socket_close(struct curl_uv *cu, struct cu_socket *cs)
{
	if (cs->prev)
		cs->prev->next = cs->next;
	else
		cu->sockets = cs->next;
	if (cs->next)
		cs->next->prev = cs->prev;
	cs->prev = cs->next = NULL;
	uv_poll_stop(&cs->poll);
	uv_close((uv_handle_t *)&cs->poll, on_socket_closed);
}

/* Takes every ended transfer off the multi handle, then reports each. */
static void process_done(struct curl_uv *cu)
{
	struct curl_uv_req *head = NULL, *tail = NULL, *r;
	CURLMsg *m;
	CURLcode rc;
	CURL *easy;
	char *priv;
	int left;

	while ((m = curl_multi_info_read(cu->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		easy = m->easy_handle;
		rc = m->data.result;        /* m is invalid once the handle is removed */
		priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		r = (struct curl_uv_req *)(void *)priv;
		if (!r)
			continue;
		running_unlink(cu, r);
		curl_multi_remove_handle(cu->multi, easy);
		r->in_multi = false;
		if (r->cancelled)
			cu->n_doomed--;
		r->result = rc;
		r->next = NULL;
		if (tail)
			tail->next = r;
		else
			head = r;
		tail = r;
	}
	while (head) {
		r = head;
		head = r->next;
		r->next = NULL;
		if (!r->cancelled && !cu->freeing && r->done)
			report(r, r->result);
		cu->n_requests--;
		req_free(r);
	}
}

/* After libcurl was driven: removes what was cancelled inside on_data and
 * finishes a deferred curl_uv_free(). */
static void teardown(struct curl_uv *cu);

static void settle(struct curl_uv *cu)
{
	struct curl_uv_req *r, *next;

	if (cu->busy > 0)
		return;
	if (cu->freeing) {
		teardown(cu);
		return;
	}
	for (r = cu->running; r && cu->n_doomed > 0; r = next) {
		next = r->next;
		if (r->cancelled) {
			cu->n_doomed--;
			req_discard(cu, r);
		}
	}
}

static void drive(struct curl_uv *cu, curl_socket_t fd, int flags)
{
	int running = 0;

	cu->busy++;
	curl_multi_socket_action(cu->multi, fd, flags, &running);
	process_done(cu);
	cu->busy--;
	settle(cu);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct cu_socket *cs = h->data;
	int flags = 0;

	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	drive(cs->cu, cs->fd, flags);
}

static void on_timeout(uv_timer_t *t)
{
	drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_uv *cu = userp;
	struct cu_socket *cs = socketp;
	int events = 0;

	(void)easy;
	if (cu->torn_down)
		return 0;
	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			socket_close(cu, cs);
			curl_multi_assign(cu->multi, s, NULL);
		}
		return 0;
	}
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return -1;
		if (uv_poll_init_socket(cu->loop, &cs->poll, s) != 0) {
			free(cs);
			return -1;
		}
		cs->poll.data = cs;
		cs->cu = cu;
		cs->fd = s;
		cs->next = cu->sockets;
		if (cu->sockets)
			cu->sockets->prev = cs;
		cu->sockets = cs;
		cu->open_handles++;
		curl_multi_assign(cu->multi, s, cs);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&cs->poll, events, on_poll) != 0)
		return -1;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_uv *cu = userp;

	(void)multi;
	if (cu->torn_down)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&cu->timer);
	else
		uv_timer_start(&cu->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static void teardown(struct curl_uv *cu)
{
	struct curl_uv_req *r;

	while ((r = cu->running))
		req_discard(cu, r);
	while (cu->sockets)
		socket_close(cu, cu->sockets);
	cu->torn_down = true;     /* libcurl's callbacks from here on are ignored */
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	curl_global_cleanup();
	uv_timer_stop(&cu->timer);
	uv_close((uv_handle_t *)&cu->timer, on_handle_closed);
}

/* --- API ------------------------------------------------------------------ */

int curl_uv_new(uv_loop_t *loop, struct curl_uv **ret)
{
	struct curl_uv *cu;
	int err;

	*ret = NULL;
	cu = calloc(1, sizeof(*cu));
	if (!cu)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err = -EIO;
		goto out_free;
	}
	cu->loop = loop;
	cu->multi = curl_multi_init();
	if (!cu->multi) {
		err = -ENOMEM;
		goto out_global;
	}
	if (curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, (void *)cu) != CURLM_OK ||
	    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, (void *)cu) != CURLM_OK) {
		err = -EIO;
		goto out_multi;
	}
	err = uv_timer_init(loop, &cu->timer);
	if (err < 0)
		goto out_multi;
	cu->timer.data = cu;
	cu->open_handles = 1;
	*ret = cu;
	return 0;

out_multi:
	curl_multi_cleanup(cu->multi);
out_global:
	curl_global_cleanup();
out_free:
	free(cu);
	return err;
}

void curl_uv_free(struct curl_uv *cu)
{
	if (!cu || cu->freeing)
		return;
	cu->freeing = true;
	settle(cu);          /* now, or when the callback we are inside returns */
}

int curl_uv_start(struct curl_uv *cu, const struct curl_uv_request *rq, struct curl_uv_req **ret_req)
{
	struct curl_uv_req *r;
	int err;

	if (ret_req)
		*ret_req = NULL;
	if (cu->freeing)
		return -ESHUTDOWN;
	if (cu->n_requests >= CURL_UV_MAX_REQUESTS)
		return -EAGAIN;
	err = req_create(rq, &r);
	if (err < 0)
		return err;
	r->cu = cu;
	if (curl_multi_add_handle(cu->multi, r->easy) != CURLM_OK) {
		req_free(r);
		return -EIO;
	}
	r->in_multi = true;
	r->next = cu->running;
	if (cu->running)
		cu->running->prev = r;
	cu->running = r;
	cu->n_requests++;
	if (ret_req)
		*ret_req = r;
	return 0;
}

void curl_uv_cancel(struct curl_uv_req *req)
{
	struct curl_uv *cu;

	if (!req || req->cancelled)
		return;
	req->cancelled = true;
	cu = req->cu;
	if (!req->in_multi || cu->freeing)
		return;   /* being reported (the reporter frees it), or teardown will */
	if (cu->in_write > 0) {
		cu->n_doomed++;
		return;
	}
	req_discard(cu, req);
}

int curl_uv_perform(const struct curl_uv_request *rq)
{
	struct curl_uv_req *r;
	CURLcode rc;
	int err;

	if (rq->timeout_ms == 0)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	err = req_create(rq, &r);
	if (err < 0)
		goto out_global;
	rc = curl_easy_perform(r->easy);
	if (r->done)
		report(r, rc);
	req_free(r);
out_global:
	curl_global_cleanup();
	return err;
}
