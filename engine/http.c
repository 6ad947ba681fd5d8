/*
 * http.c — the HTTP listener, over libmicrohttpd (the only file that
 * includes it), driven by the libuv loop.
 *
 * We create, bind and listen on the socket ourselves (so start reports the
 * real errno, e.g. -EADDRINUSE) and hand it to libmicrohttpd, which runs in
 * external-polling epoll mode: no thread of its own. Its epoll fd is watched
 * by a uv_poll_t; whenever it is readable, and whenever the uv_timer_t armed
 * from MHD_get_timeout() fires (connection timeouts, and "0" when a
 * connection can make progress without new I/O), we call MHD_run(), which
 * does all the non-blocking reads and writes and calls our access handler.
 *
 * Per request: the URI log callback copies the raw request target (MHD
 * rewrites its own copy in place: it cuts off and decodes the query and
 * decodes the path; signature checks need both as sent) into a struct
 * http_exchange, which lives until the completion callback. The access
 * handler sees the headers first (a Content-Length above max_body is answered
 * 413 at once, before any body is read, so a client that sent
 * "Expect: 100-continue" never sends it), then the body in chunks, which are
 * appended to one buffer capped at max_body; past the cap the rest is read
 * and dropped (at most HTTP_DRAIN_MAX bytes, else the connection is closed)
 * and the answer is 413. Only a complete, in-limit request reaches the
 * caller's handler, synchronously, on the loop thread.
 *
 * Stopping closes the uv handles first (the poll handle must leave libuv's
 * epoll set before MHD closes the fd it watches), then MHD_stop_daemon()
 * closes the listening socket and every connection at once. The struct is
 * freed when both handles report closed. A stop requested from inside the
 * handler is deferred until MHD_run() returns, as MHD cannot be stopped from
 * its own callback.
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
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define LISTEN_BACKLOG 128

struct http_server {
	uv_loop_t *loop;
	struct MHD_Daemon *daemon;
	uv_poll_t poll;                 /* on MHD's epoll fd */
	uv_timer_t timer;               /* MHD_get_timeout() */
	http_handler_fn handler;
	void *ctx;
	size_t max_body;
	uint16_t port;
	int open_handles;               /* uv handles not yet closed */
	bool in_run;                    /* inside MHD_run(): stop must wait */
	bool stop_requested;
};

/* One request, from the URI log callback to the completion callback. */
struct http_exchange {
	char *target;                   /* raw request target: path['?'query] */
	char *body;                     /* body_cap + 1 bytes, or NULL */
	size_t body_len;
	size_t body_cap;
	size_t dropped;                 /* bytes read and dropped past max_body */
	bool started;                   /* the header call has been made */
	bool too_large;
};

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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	exchange_free(*con_cls);
	*con_cls = NULL;
}

/* Queue a response; `body` (malloc'd or NULL) is taken in every case. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *content_type,
			     char *body, size_t body_len)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	if (body) {
		r = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_MUST_FREE);
		if (!r) {
			free(body);
			return MHD_NO;
		}
	} else {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
	}
	if (content_type && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		/* a content type MHD rejects (e.g. with a newline) is the handler's bug */
		MHD_destroy_response(r);
		return queue(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, 0);
	}
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_too_large(const struct http_server *s, struct MHD_Connection *conn)
{
	char *body;
	int n;

	n = snprintf(NULL, 0, "{\"message\":\"request body larger than %zu bytes\"}", s->max_body);
	if (n < 0)
		return MHD_NO;
	body = malloc((size_t)n + 1);
	if (!body)
		return MHD_NO;
	snprintf(body, (size_t)n + 1, "{\"message\":\"request body larger than %zu bytes\"}", s->max_body);
	return queue(conn, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", body, (size_t)n);
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

/* The header call: reject an announced oversized body, size the buffer. */
static enum MHD_Result on_headers(const struct http_server *s, struct MHD_Connection *conn,
				  struct http_exchange *x)
{
	const char *cl;
	char *end;
	unsigned long long len;

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return MHD_YES;
	errno = 0;
	len = strtoull(cl, &end, 10);
	if (end == cl)
		return MHD_YES; /* MHD has already rejected a malformed one */
	if (errno == ERANGE || len > s->max_body)
		return reply_too_large(s, conn);
	if (len > 0 && body_reserve(x, (size_t)len, s->max_body) < 0)
		return MHD_NO;
	return MHD_YES;
}

static enum MHD_Result on_body(const struct http_server *s, struct http_exchange *x,
			       const char *data, size_t n)
{
	if (x->too_large || n > s->max_body - x->body_len) {
		x->too_large = true;
		x->dropped += n;
		return x->dropped > HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (body_reserve(x, x->body_len + n, s->max_body) < 0)
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

	s->handler(s->ctx, &req, &resp);
	free(headers.items);

	status = resp.status >= 100 && resp.status <= 599 ? resp.status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	ok = queue(conn, status, resp.content_type, resp.body, resp.body_len);
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
	(void)version;
	if (!x)
		return MHD_NO; /* out of memory in on_uri: close the connection */
	if (!x->started) {
		x->started = true;
		return on_headers(s, conn, x);
	}
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
	/* the poll handle must leave libuv's epoll set before its fd is closed */
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
}

static void on_timer(uv_timer_t *t);

static void arm_timer(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(s->daemon, &ms) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
	else
		uv_timer_stop(&s->timer);
}

static void server_run(struct http_server *s)
{
	s->in_run = true;
	MHD_run(s->daemon);
	s->in_run = false;
	if (s->stop_requested) {
		server_close(s);
		return;
	}
	arm_timer(s);
}

static void on_timer(uv_timer_t *t)
{
	server_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status; /* on an error, MHD_run() finds out for itself */
	(void)events;
	server_run(p->data);
}

/* A bound, listening, non-blocking socket for host:port, or -errno. */
static int listen_socket(const char *host, uint16_t port, bool *ret_ipv6, uint16_t *ret_port)
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
	*ret_ipv6 = ss.ss_family == AF_INET6;
	*ret_port = ntohs(ss.ss_family == AF_INET6 ? in6->sin6_port : in->sin_port);
	return fd;

out_close_fd:
	r = -errno;
	close(fd);
	return r;
}

int http_server_start(uv_loop_t *loop, const char *host, uint16_t port, size_t max_body,
		      http_handler_fn handler, void *ctx, struct http_server **ret_server)
{
	const union MHD_DaemonInfo *info;
	struct http_server *s;
	unsigned flags;
	bool ipv6 = false;
	int fd, r;

	if (!loop || !handler || !ret_server)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->handler = handler;
	s->ctx = ctx;
	s->max_body = max_body;

	fd = listen_socket(host, port, &ipv6, &s->port);
	if (fd < 0) {
		r = fd;
		goto out_free;
	}

	/* No MHD_USE_ERROR_LOG: MHD would print to stderr behind our back;
	 * start failures are reported by our return value instead. */
	flags = MHD_USE_EPOLL | (ipv6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
				     MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
				     MHD_OPTION_END);
	if (!s->daemon) {
		r = -EIO;
		goto out_close_fd; /* MHD leaves a socket it was given open on failure */
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		r = -EIO;
		goto out_stop_daemon;
	}
	r = uv_poll_init(loop, &s->poll, info->epoll_fd);
	if (r < 0)
		goto out_stop_daemon;
	uv_timer_init(loop, &s->timer);
	s->poll.data = s;
	s->timer.data = s;
	s->open_handles = 2;

	r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
	if (r < 0) {
		server_close(s); /* frees s once the loop has run the close callbacks */
		return r;
	}
	arm_timer(s);
	*ret_server = s;
	return 0;

out_stop_daemon:
	MHD_stop_daemon(s->daemon); /* closes the listening socket */
	free(s);
	return r;
out_close_fd:
	close(fd);
out_free:
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
