/*
 * http.c — the HTTP listener, over libmicrohttpd (which only it and
 * http_answer.c include), driven by the libuv loop.
 *
 * We create, bind and listen on the socket ourselves (so start reports the
 * real errno, e.g. -EADDRINUSE), and we accept on it ourselves: a uv_poll_t
 * watches it, accept4() takes each connection, admission applies the limits
 * (http.h) and MHD_add_connection() hands the socket over. libmicrohttpd
 * runs in external-polling epoll mode with no listening socket of its own
 * (MHD_USE_NO_LISTEN_SOCKET) and no thread: its epoll fd is watched by a
 * second uv_poll_t; whenever it is readable, and whenever the uv_timer_t
 * armed from MHD_get_timeout() fires (connection timeouts, and "0" when a
 * connection can make progress without new I/O), we call MHD_run(), which
 * does all the non-blocking reads and writes and calls our access handler.
 *
 * Why accept ourselves: libmicrohttpd 0.9.75, at its connection limit,
 * deletes its listening socket from its epoll set (MHD_epoll() in daemon.c)
 * and adds it back only at the start of a later MHD_epoll() that finds the
 * count below the limit; the count drops in MHD_cleanup_connections(), at
 * the end of MHD_run(). When the last connections close within one run,
 * nothing is left to wake an external loop: the epoll set is empty, and
 * MHD_get_timeout() says "no timeout" with no connections, so the loop
 * sleeps forever while the kernel's listen queue fills. Owning accept, we
 * know our count exactly: we stop watching the listening socket at
 * max_connections and start again in the callback that reports a
 * connection closed (MHD_OPTION_NOTIFY_CONNECTION), so a freed slot is
 * always taken up.
 *
 * Per connection (struct http_conn, libmicrohttpd's socket context): its
 * client address's entry in a small hash table (open connections per
 * address), whether it was accepted into the reserve, and, while it waits
 * for a request head, its deadline on the loop's monotonic clock. Waiting
 * connections sit in one list, oldest deadline first (every deadline is
 * now + the same timeout), and one uv_timer_t is armed for the first; at a
 * deadline the socket is shut down, which libmicrohttpd sees as the
 * client's close. libmicrohttpd's own connection timeout is an idle
 * timeout, which a client sending one byte at a time never meets.
 *
 * A client gone before its request head was complete is noticed at once,
 * not at the deadline: libmicrohttpd registers sockets edge-triggered and
 * takes a read shorter than its buffer to mean "drained", so when the
 * last bytes and the client's FIN arrive together it reads the bytes and
 * never sees the end of file (no further edge comes) until its idle
 * timeout, holding the slot meanwhile. Every connection's socket is also
 * in an epoll set of ours (hup_fd) for EPOLLRDHUP; a connection waiting
 * for a head whose client has shut its end, with nothing left unread
 * (recv MSG_PEEK), is shut down like one past its deadline (checked again
 * after each MHD run while bytes remain unread or a response is going out).
 *
 * Per request: the URI log callback copies the raw request target (MHD
 * rewrites its own copy in place: it cuts off and decodes the query and
 * decodes the path; signature checks need both as sent) into a struct
 * http_exchange, which lives until the completion callback. The access
 * handler sees the headers first: the head is complete, so its deadline
 * ends; the framing checks (http.h) and the reserve may answer at once,
 * and a Content-Length above max_body is answered 413 at once, before any
 * body is read (a client that sent "Expect: 100-continue" never sends it);
 * libmicrohttpd closes a connection whose response was queued before its
 * body was read. Then the body comes in chunks, appended to one buffer
 * capped at max_body; past the cap the rest is read and dropped (at most
 * HTTP_DRAIN_MAX bytes, else the connection is closed) and the answer is
 * 413. Only a complete, in-limit request reaches the caller's handler,
 * synchronously, on the loop thread.
 *
 * Deferred answers (http.h) are http_answer.c's; this file suspends no
 * connection itself but tells it when a handler deferred, when MHD calls
 * back for a resumed request, when a request ends and when the client of a
 * suspended connection is gone (hup_fd). http_int.h holds the structs the
 * two files share.
 *
 * Stopping closes the uv handles first (a poll handle must leave libuv's
 * epoll set before its fd is closed), then MHD_stop_daemon() closes every
 * connection at once, then we close the listening socket. The struct is
 * freed when all handles report closed. A stop requested from inside the
 * handler is deferred until MHD_run() returns, as MHD cannot be stopped
 * from its own callback.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"
#include "metrics.h"

#define LISTEN_BACKLOG 128
#define ACCEPT_BATCH 64                 /* connections accepted per wakeup of the listening socket */
#define ACCEPT_RETRY_MS 500             /* out of file descriptors: try accept() again after this */

struct header_list {
	struct http_header *items;
	size_t n;
	size_t cap;
};

const char *http_request_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* The address as 16 bytes: IPv6 as is, IPv4 as IPv4-mapped IPv6. */
static void address_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

/* The link that holds the client with this address, or the NULL at the end of its bucket. */
static struct http_client **client_slot(struct http_server *s, const unsigned char key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct http_client **p;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	p = &s->clients[h & (s->n_buckets - 1)];
	while (*p && memcmp((*p)->addr, key, 16) != 0)
		p = &(*p)->next;
	return p;
}

/* Forget a client address with no open connection left. */
static void client_drop_if_unused(struct http_server *s, struct http_client *cl)
{
	struct http_client **p;

	if (cl->n > 0)
		return;
	p = client_slot(s, cl->addr);
	*p = cl->next;
	free(cl);
}

static void waiting_remove(struct http_server *s, struct http_conn *c)
{
	if (!c->waiting)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->waiting_first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->waiting_last = c->prev;
	c->prev = c->next = NULL;
	c->waiting = false;
}

/* The connection now waits for a request head; the deadline timer is armed
 * by the caller (arm_deadline). uv_now() never goes back, so appending keeps
 * the list in deadline order. */
static void waiting_append(struct http_server *s, struct http_conn *c)
{
	waiting_remove(s, c);
	c->head_deadline_ms = uv_now(s->loop) + (uint64_t)s->limits.request_head_timeout_s * 1000u;
	c->prev = s->waiting_last;
	c->next = NULL;
	if (s->waiting_last)
		s->waiting_last->next = c;
	else
		s->waiting_first = c;
	s->waiting_last = c;
	c->waiting = true;
}

struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void exchange_free(struct http_exchange *x)
{
	if (!x)
		return;
	free(x->target);
	free(x->body);
	free(x);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_exchange *x;

	(void)cls;
	(void)conn;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->target = strdup(uri);
	if (!x->target) {
		free(x);
		return NULL; /* the access handler refuses a request without one */
	}
	return x;
}

/* A request is over: on a kept-alive connection, the next head's deadline starts now. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_exchange *x = *con_cls;
	struct http_conn *c;

	if (x && x->pending)
		http_pending_end(x->pending);
	exchange_free(x);
	*con_cls = NULL;
	c = http_conn_of(conn);
	if (c && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !s->closing)
		waiting_append(s, c);
}

/* Queue a response; `body` (malloc'd or NULL) is taken in every case. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *content_type,
			     char *body, size_t body_len)
{
	return http_queue_response(conn, status, http_make_response(content_type, NULL, 0, body, body_len));
}

/* Queue {"message": message}; message holds nothing JSON must escape. */
static enum MHD_Result reply_message(struct MHD_Connection *conn, unsigned status, const char *message)
{
	char *body;
	int n;

	n = snprintf(NULL, 0, "{\"message\":\"%s\"}", message);
	if (n < 0)
		return MHD_NO;
	body = malloc((size_t)n + 1);
	if (!body)
		return MHD_NO;
	snprintf(body, (size_t)n + 1, "{\"message\":\"%s\"}", message);
	return queue(conn, status, "application/json", body, (size_t)n);
}

static enum MHD_Result reply_too_large(const struct http_server *s, struct MHD_Connection *conn)
{
	char message[64];

	snprintf(message, sizeof(message), "request body larger than %zu bytes", s->limits.max_body);
	return reply_message(conn, MHD_HTTP_CONTENT_TOO_LARGE, message);
}

/* Make room for `need` body bytes (need <= max_body), plus a NUL. */
static int body_reserve(struct http_exchange *x, size_t need, size_t max_body)
{
	size_t cap;
	char *p;

	if (need <= x->body_cap && x->body)
		return 0;
	cap = x->body_cap ? x->body_cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > max_body)
		cap = max_body;
	if (cap < need)
		cap = need;
	p = realloc(x->body, cap + 1);
	if (!p)
		return -ENOMEM;
	x->body = p;
	x->body_cap = cap;
	return 0;
}

/* The headers that decide where a request ends, counted. */
struct framing {
	unsigned hosts;
	unsigned lengths;               /* Content-Length headers */
	unsigned encodings;             /* Transfer-Encoding headers */
	const char *length;             /* the first Content-Length */
	const char *encoding;           /* the last Transfer-Encoding */
	bool lengths_differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;

	(void)kind;
	value = value ? value : "";
	if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
		f->hosts++;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->lengths++ == 0)
			f->length = value;
		else if (strcmp(f->length, value) != 0)
			f->lengths_differ = true;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->encodings++;
		f->encoding = value;
	}
	return MHD_YES;
}

/* Why the request's framing is ambiguous (RFC 9112 §3.2, §6.1, §6.3: a
 * request that two parsers could split differently), or NULL. */
static const char *framing_error(struct MHD_Connection *conn, const char *version)
{
	struct framing f = {0};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.encodings && f.lengths)
		return "a request must not carry both Content-Length and Transfer-Encoding";
	if (f.lengths_differ)
		return "a request must not carry Content-Length headers that differ";
	if (f.encodings > 1 || (f.encodings && strcasecmp(f.encoding, "chunked") != 0))
		return "the only Transfer-Encoding accepted is chunked";
	if (strcmp(version, MHD_HTTP_VERSION_1_0) != 0 && f.hosts != 1)
		return f.hosts ? "an HTTP/1.1 request must carry one Host header, not several"
			       : "an HTTP/1.1 request must carry a Host header";
	return NULL;
}

/* Whether a request target is `path`, with or without a query. */
static bool target_is(const char *target, const char *path)
{
	size_t n = strlen(path);

	return strncmp(target, path, n) == 0 && (target[n] == '\0' || target[n] == '?');
}

/* The header call, once the head is complete: the head deadline ends; a
 * request with ambiguous framing is refused, as is any but GET /healthz and
 * GET /metrics on a connection in the reserve while the rest is full; an
 * announced oversized body is refused; the body buffer is sized. Each
 * refusal is queued before the body is read, so MHD closes the connection. */
static enum MHD_Result on_headers(struct http_server *s, struct MHD_Connection *conn, const char *method,
				  const char *version, struct http_exchange *x)
{
	struct http_conn *c = http_conn_of(conn);
	const char *cl, *why;
	char *end;
	unsigned long long len;

	if (c)
		waiting_remove(s, c);
	why = framing_error(conn, version);
	if (why) {
		s->bad_framing++;
		return reply_message(conn, MHD_HTTP_BAD_REQUEST, why);
	}
	if (c && c->reserve && s->open > s->limits.max_connections - s->reserve &&
	    !(strcmp(method, MHD_HTTP_METHOD_GET) == 0 &&
	      (target_is(x->target, "/healthz") || target_is(x->target, "/metrics")))) {
		s->reserve_refused++;
		return reply_message(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				     "too many open connections; try again later");
	}

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return MHD_YES;
	errno = 0;
	len = strtoull(cl, &end, 10);
	if (end == cl)
		return MHD_YES; /* MHD has already rejected a malformed one */
	if (errno == ERANGE || len > s->limits.max_body)
		return reply_too_large(s, conn);
	if (len > 0 && body_reserve(x, (size_t)len, s->limits.max_body) < 0)
		return MHD_NO;
	return MHD_YES;
}

static enum MHD_Result on_body(const struct http_server *s, struct http_exchange *x,
			       const char *data, size_t n)
{
	if (x->too_large || n > s->limits.max_body - x->body_len) {
		x->too_large = true;
		x->dropped += n;
		return x->dropped > HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (body_reserve(x, x->body_len + n, s->limits.max_body) < 0)
		return MHD_NO;
	memcpy(x->body + x->body_len, data, n);
	x->body_len += n;
	return MHD_YES;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct header_list *l = cls;

	(void)kind;
	if (l->n == l->cap)
		return MHD_NO; /* cannot happen: cap was counted first */
	l->items[l->n].name = key;
	l->items[l->n].value = value ? value : "";
	l->n++;
	return MHD_YES;
}

/* The peer's address as text, IPv4-mapped IPv6 shown as IPv4. */
static void peer_address(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	buf[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, buf, (socklen_t)size);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr))
			inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], buf, (socklen_t)size);
		else
			inet_ntop(AF_INET6, &in6.sin6_addr, buf, (socklen_t)size);
	}
}

/* The final call: the request is complete and in limits; run the handler. */
static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *conn, const char *method,
				struct http_exchange *x)
{
	struct header_list headers = {0};
	struct http_request req = {0};
	struct http_response resp = {.status = MHD_HTTP_INTERNAL_SERVER_ERROR};
	struct http_call call, *outer;
	char addr[INET6_ADDRSTRLEN];
	char *q;
	int n;
	unsigned status;
	enum MHD_Result ok;

	n = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
	if (n > 0) {
		headers.items = calloc((size_t)n, sizeof(*headers.items));
		if (!headers.items)
			return MHD_NO;
		headers.cap = (size_t)n;
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &headers);
	}
	peer_address(conn, addr, sizeof(addr));

	q = strchr(x->target, '?');
	if (q)
		*q++ = '\0';
	if (x->body)
		x->body[x->body_len] = '\0';
	req.method = method;
	req.path = x->target;
	req.query = q ? q : "";
	req.body = x->body ? x->body : "";
	req.body_len = x->body_len;
	req.headers = headers.items;
	req.n_headers = headers.n;
	req.remote_addr = addr;

	call = (struct http_call){.resp = &resp, .s = s, .conn = conn, .x = x};
	outer = http_current_call;
	http_current_call = &call;
	s->handler(s->ctx, &req, &resp);
	http_current_call = outer;
	free(headers.items);

	if (call.pending) {
		free(resp.body); /* the handler's response is ignored */
		return http_pending_handler_done(call.pending);
	}
	status = resp.status >= 100 && resp.status <= 599 ? resp.status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	s->answers[status / 100]++;
	ok = http_queue_response(conn, status, http_make_response(resp.content_type, resp.headers, resp.n_headers,
								   resp.body, resp.body_len));
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *s = cls;
	struct http_exchange *x = *con_cls;
	size_t n;

	(void)url;
	if (!x)
		return MHD_NO; /* out of memory in on_uri: close the connection */
	if (!x->started) {
		x->started = true;
		return on_headers(s, conn, method, version, x);
	}
	if (x->pending) /* resumed: the answer, or the client is gone */
		return http_pending_resumed(x->pending);
	if (*upload_data_size > 0) {
		n = *upload_data_size;
		*upload_data_size = 0;
		return on_body(s, x, upload_data, n);
	}
	if (x->too_large)
		return reply_too_large(s, conn);
	return dispatch(s, conn, method, x);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct http_server *s = h->data;

	if (--s->open_handles == 0)
		free(s);
}

static void server_close(struct http_server *s)
{
	s->closing = true;
	/* a poll handle must leave libuv's epoll set before its fd is closed */
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->listen, on_handle_closed);
	uv_close((uv_handle_t *)&s->deadline, on_handle_closed);
	uv_close((uv_handle_t *)&s->hup, on_handle_closed);
	/* MHD must not be stopped with suspended connections: resumed, they
	 * are closed with the rest, their requests' answers dropped */
	http_pending_stop(s);
	MHD_stop_daemon(s->daemon); /* "closed" for each connection: frees them all */
	while (s->pending) /* every request has ended by now; just in case */
		http_pending_end(s->pending);
	s->daemon = NULL;
	close(s->listen_fd);
	close(s->hup_fd);
	free(s->clients);
	s->clients = NULL;
}

static void on_timer(uv_timer_t *t);

/* The timer for MHD's next timeout, unless a run is already due at once
 * (http_run_soon(): a resumed connection, which MHD's timeout does not
 * count, must not wait for the next timeout or I/O). */
static void arm_timer(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (s->run_soon)
		return;
	if (MHD_get_timeout(s->daemon, &ms) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
	else
		uv_timer_stop(&s->timer);
}

static void arm_deadline(struct http_server *s);
static void recheck_peer_closed(struct http_server *s);

static void server_run(struct http_server *s)
{
	s->in_run = true;
	MHD_run(s->daemon);
	s->in_run = false;
	if (s->stop_requested) {
		server_close(s);
		return;
	}
	if (s->n_peer_closed)
		recheck_peer_closed(s);
	arm_timer(s);
	arm_deadline(s);
}

static void on_timer(uv_timer_t *t)
{
	struct http_server *s = t->data;

	s->run_soon = false;
	server_run(s);
}

void http_run_soon(struct http_server *s)
{
	if (!s->in_run && !s->closing) {
		s->run_soon = true;
		uv_timer_start(&s->timer, on_timer, 0, 0);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status; /* on an error, MHD_run() finds out for itself */
	(void)events;
	server_run(p->data);
}

static void on_listen(uv_poll_t *p, int status, int events);

/* Watch the listening socket exactly while a connection may be accepted:
 * below max_connections and not waiting out an accept() retry. */
static void listen_update(struct http_server *s)
{
	bool want = s->open < s->limits.max_connections && s->accept_retry_ms == 0;

	if (s->closing || want == s->accepting)
		return; /* a closing handle is stopped already */
	if (!want)
		uv_poll_stop(&s->listen);
	else if (uv_poll_start(&s->listen, UV_READABLE, on_listen) < 0)
		return; /* cannot fail on a valid socket; the next close tries again */
	s->accepting = want;
}

static void on_deadline(uv_timer_t *t);

/* Arm the deadline timer for the first head deadline or the accept retry. */
static void arm_deadline(struct http_server *s)
{
	uint64_t due = UINT64_MAX, now;

	if (s->closing)
		return;
	if (s->waiting_first)
		due = s->waiting_first->head_deadline_ms;
	if (s->accept_retry_ms && s->accept_retry_ms < due)
		due = s->accept_retry_ms;
	if (due == UINT64_MAX) {
		uv_timer_stop(&s->deadline);
		return;
	}
	now = uv_now(s->loop);
	uv_timer_start(&s->deadline, on_deadline, due > now ? due - now : 0, 0);
}

/* Connections past their head deadline are shut down: MHD sees the client
 * gone and closes them in its next run (the shutdown wakes its epoll fd). */
static void on_deadline(uv_timer_t *t)
{
	struct http_server *s = t->data;
	uint64_t now = uv_now(s->loop);
	struct http_conn *c;

	while ((c = s->waiting_first) && c->head_deadline_ms <= now) {
		waiting_remove(s, c);
		shutdown(c->fd, SHUT_RDWR);
		s->head_timeouts++;
	}
	if (s->accept_retry_ms && s->accept_retry_ms <= now) {
		s->accept_retry_ms = 0;
		listen_update(s);
	}
	arm_deadline(s);
}

/* Whether the client has shut its end and everything it sent has been
 * read: no more request bytes can come. */
bool http_peer_gone(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* A connection waiting for a request head whose client is gone is cut at
 * once (libmicrohttpd would close it too, had it seen the end of file); a
 * suspended one (a deferred answer) is resumed to be closed, its answer
 * dropped. */
static void check_peer_closed(struct http_server *s, struct http_conn *c)
{
	if (c->peer_closed && http_pending_client_gone(c))
		return;
	if (!c->peer_closed || !c->waiting || !http_peer_gone(c->fd))
		return; /* not waiting: checked again when it is; unread bytes: after MHD reads them */
	c->peer_closed = false;
	s->n_peer_closed--;
	waiting_remove(s, c);
	shutdown(c->fd, SHUT_RDWR);
}

/* After an MHD run: the connections whose client is gone, now waiting or
 * with everything read. */
static void recheck_peer_closed(struct http_server *s)
{
	struct http_conn *c, *next;

	for (c = s->waiting_first; c && s->n_peer_closed; c = next) {
		next = c->next;
		check_peer_closed(s, c);
	}
}

static void on_hup(uv_poll_t *p, int status, int events)
{
	struct http_server *s = p->data;
	struct epoll_event ev[64];
	struct http_conn *c;
	int n;

	(void)status;
	(void)events;
	do {
		n = epoll_wait(s->hup_fd, ev, 64, 0);
		for (int i = 0; i < n; i++) {
			c = ev[i].data.ptr;
			if (!c->peer_closed) {
				c->peer_closed = true;
				s->n_peer_closed++;
			}
			check_peer_closed(s, c);
		}
	} while (n == 64);
	arm_deadline(s);
}

/* MHD's connection notifications: "started" (inside MHD_add_connection(),
 * for the connection admit() is adding) counts the connection in; "closed"
 * counts it out and lets the listener accept again. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	struct http_conn *c;

	(void)conn;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = s->adding;
		s->adding = NULL;
		*socket_context = c;
		if (!c)
			return;
		c->client->n++;
		s->open++;
		s->accepted++;
		waiting_append(s, c);
		/* without it, only the head deadline would notice the client gone */
		epoll_ctl(s->hup_fd, EPOLL_CTL_ADD, c->fd,
			  &(struct epoll_event){.events = EPOLLRDHUP | EPOLLET, .data.ptr = c});
		return;
	}
	c = *socket_context;
	*socket_context = NULL;
	if (!c)
		return;
	epoll_ctl(s->hup_fd, EPOLL_CTL_DEL, c->fd, NULL); /* MHD closes the fd after this call */
	if (c->pending)
		c->pending->c = NULL;
	if (c->peer_closed)
		s->n_peer_closed--;
	waiting_remove(s, c);
	c->client->n--;
	client_drop_if_unused(s, c->client);
	free(c);
	s->open--;
	listen_update(s);
}

/* Admit an accepted socket (taken in every case): refused if its address
 * has its share of connections, else handed to MHD. */
static void admit(struct http_server *s, int fd, const struct sockaddr_storage *ss, socklen_t len)
{
	unsigned char key[16];
	struct http_client **slot, *cl;
	struct http_conn *c;

	address_key(ss, key);
	slot = client_slot(s, key);
	cl = *slot;
	if (cl && cl->n >= s->limits.max_connections_per_client) {
		s->refused_per_client++;
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	if (!cl) {
		cl = calloc(1, sizeof(*cl));
		if (!cl) {
			free(c);
			close(fd);
			return;
		}
		memcpy(cl->addr, key, 16);
		*slot = cl;
	}
	c->client = cl;
	c->fd = fd;
	c->reserve = s->open >= s->limits.max_connections - s->reserve;
	s->adding = c;
	MHD_add_connection(s->daemon, fd, (const struct sockaddr *)ss, len); /* closes fd on failure */
	if (s->adding) { /* MHD failed before "started": c is still ours */
		s->adding = NULL;
		free(c);
		client_drop_if_unused(s, cl);
	}
}

static void on_listen(uv_poll_t *p, int status, int events)
{
	struct http_server *s = p->data;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	(void)status; /* accept4() reports an error itself */
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH && s->open < s->limits.max_connections; i++) {
		len = sizeof(ss);
		fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(s, fd, &ss, len);
			continue;
		}
		if (errno == EAGAIN)
			break; /* the queue is empty (EWOULDBLOCK is EAGAIN on Linux) */
		/* accept(2): errors of the one connection being accepted */
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM ||
		    errno == ENETDOWN || errno == ENOPROTOOPT || errno == EHOSTDOWN || errno == ENONET ||
		    errno == EHOSTUNREACH || errno == EOPNOTSUPP || errno == ENETUNREACH)
			continue;
		/* out of file descriptors or memory: a close frees one, or try again later */
		s->accept_retry_ms = uv_now(s->loop) + ACCEPT_RETRY_MS;
		break;
	}
	listen_update(s);
	arm_timer(s);
	arm_deadline(s);
}

/* A bound, listening, non-blocking socket for host:port, or -errno. */
static int listen_socket(const char *host, uint16_t port, uint16_t *ret_port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, r, one = 1;

	if (!host)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof(*in6);
	} else {
		return -EINVAL;
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto out_close_fd;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto out_close_fd;
	*ret_port = ntohs(ss.ss_family == AF_INET6 ? in6->sin6_port : in->sin_port);
	return fd;

out_close_fd:
	r = -errno;
	close(fd);
	return r;
}

/* The limits with every 0 replaced by its default, or -EINVAL. */
static int resolve_limits(const struct http_limits *in, struct http_limits *out)
{
	*out = *in;
	if (!out->max_connections)
		out->max_connections = HTTP_MAX_CONNECTIONS;
	if (!out->max_connections_per_client)
		out->max_connections_per_client = HTTP_MAX_CONNECTIONS_PER_CLIENT;
	if (!out->request_head_timeout_s)
		out->request_head_timeout_s = HTTP_REQUEST_HEAD_TIMEOUT_S;
	if (out->max_connections < 4 || out->max_connections > 1u << 20 ||
	    out->request_head_timeout_s > 86400)
		return -EINVAL;
	if (out->max_connections_per_client > out->max_connections)
		out->max_connections_per_client = out->max_connections;
	return 0;
}

int http_server_start(uv_loop_t *loop, const char *host, uint16_t port, const struct http_limits *limits,
		      http_handler_fn handler, void *ctx, struct http_server **ret_server)
{
	const union MHD_DaemonInfo *info;
	struct http_server *s;
	int fd, r;

	if (!loop || !limits || !handler || !ret_server)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->handler = handler;
	s->ctx = ctx;
	s->hup_fd = -1;
	r = resolve_limits(limits, &s->limits);
	if (r < 0)
		goto out_free;
	s->reserve = s->limits.max_connections / 8 < 2 ? 2 : s->limits.max_connections / 8;
	for (s->n_buckets = 16; s->n_buckets < s->limits.max_connections; s->n_buckets *= 2)
		;
	s->clients = calloc(s->n_buckets, sizeof(*s->clients));
	if (!s->clients) {
		r = -ENOMEM;
		goto out_free;
	}

	fd = listen_socket(host, port, &s->port);
	if (fd < 0) {
		r = fd;
		goto out_free;
	}
	s->listen_fd = fd;
	s->hup_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->hup_fd < 0) {
		r = -errno;
		goto out_close_fd;
	}

	/* No MHD_USE_ERROR_LOG: MHD would print to stderr behind our back;
	 * start failures are reported by our return value instead. MHD's own
	 * connection limit is ours: admit() never goes past it. */
	s->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_CONNECTION_LIMIT, s->limits.max_connections,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
				     MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)s,
				     MHD_OPTION_END);
	if (!s->daemon) {
		r = -EIO;
		goto out_close_fd;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = -EIO;
		goto out_stop_daemon;
	}
	{
		uv_poll_t *polls[] = {&s->poll, &s->listen, &s->hup};
		int fds[] = {info->epoll_fd, fd, s->hup_fd};

		for (size_t i = 0; i < 3 && r >= 0; i++) {
			r = uv_poll_init(loop, polls[i], fds[i]);
			if (r < 0)
				break;
			polls[i]->data = s;
			s->open_handles++;
		}
		if (r < 0 && s->open_handles) {
			/* the handles free s once the loop has run their close callbacks */
			for (int i = 0; i < s->open_handles; i++)
				uv_close((uv_handle_t *)polls[i], on_handle_closed);
			MHD_stop_daemon(s->daemon);
			close(fd);
			close(s->hup_fd);
			free(s->clients);
			return r;
		}
		if (r < 0)
			goto out_stop_daemon;
	}
	uv_timer_init(loop, &s->timer);
	uv_timer_init(loop, &s->deadline);
	s->timer.data = s;
	s->deadline.data = s;
	s->open_handles += 2;

	r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
	if (r >= 0)
		r = uv_poll_start(&s->hup, UV_READABLE, on_hup);
	if (r >= 0) {
		listen_update(s);
		r = s->accepting ? 0 : -EIO;
	}
	if (r < 0) {
		server_close(s); /* frees s once the loop has run the close callbacks */
		return r;
	}
	*ret_server = s;
	return 0;

out_stop_daemon:
	MHD_stop_daemon(s->daemon);
out_close_fd:
	close(fd);
	if (s->hup_fd >= 0)
		close(s->hup_fd);
out_free:
	free(s->clients);
	free(s);
	return r;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s || s->stop_requested)
		return;
	s->stop_requested = true;
	if (!s->in_run)
		server_close(s);
}

void http_server_metrics(const struct http_server *s, struct metrics *m)
{
	static const char *const reasons[] = {"per_client", "head_timeout", "reserve", "framing"};
	static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	struct metric *answers = metrics_counter(m, "tripline_http_requests_total",
						 "HTTP requests by status class.", "code");
	struct metric *conns = metrics_gauge(m, "tripline_http_connections", "Open HTTP connections.", NULL);
	struct metric *accepted = metrics_counter(m, "tripline_http_connections_accepted_total",
						  "HTTP connections accepted and admitted.", NULL);
	struct metric *refused = metrics_counter(m, "tripline_http_refused_total",
						 "Connections and requests the listener refused, by limit.", "reason");

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		metric_touch(refused, &reasons[i]);
	for (size_t i = 1; i < 6; i++)
		metric_touch(answers, &classes[i]);
	if (!s)
		return;
	for (size_t i = 1; i < 6; i++)
		metric_set(answers, &classes[i], (double)s->answers[i]);
	const uint64_t counts[] = {s->refused_per_client, s->head_timeouts, s->reserve_refused, s->bad_framing};
	metric_set(conns, NULL, s->open);
	metric_set(accepted, NULL, (double)s->accepted);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		metric_set(refused, &reasons[i], (double)counts[i]);
}
