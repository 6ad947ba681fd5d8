/*
 * http.h — the daemon's HTTP listener: one socket, served from the libuv
 * loop, no threads of its own.
 *
 * The server reads a whole request (headers and body, the body capped at
 * `max_body`), then calls one handler synchronously on the loop thread; the
 * handler fills in a response, which the server sends. Routing, auth and
 * JSON belong to the caller. libmicrohttpd is the implementation; only
 * http.c and http_answer.c include it, so nothing here names it.
 *
 * Admission (struct http_limits), the listener's promises:
 *   - it never stops accepting for longer than it holds max_connections
 *     open connections: past that, new ones wait in the kernel's listen
 *     queue, and the first connection to close lets the next one in;
 *   - a client address holds at most max_connections_per_client open
 *     connections; more are closed as they are accepted;
 *   - a request line and headers must be complete within
 *     request_head_timeout_s of the connection's accept (or of the end of
 *     the previous response on a kept-alive connection), on the monotonic
 *     clock; else the connection is closed, however steadily it trickles;
 *   - the last eighth of max_connections (at least 2) is a reserve: a
 *     request arriving on a connection accepted into it while the rest is
 *     still full is served only if it is GET /healthz or GET /metrics, and
 *     gets 503 (connection closed) otherwise;
 *   - framing is strict: Content-Length together with Transfer-Encoding,
 *     Content-Lengths that differ, a Transfer-Encoding other than
 *     "chunked", and an HTTP/1.1 request without exactly one Host get 400
 *     and the connection closed, before any body is read.
 *
 * Lifecycle of struct http_server:
 *   - http_server_start() binds, listens and registers its handles on the
 *     loop; on failure it returns -errno and nothing is left behind.
 *   - While the loop runs, requests reach the handler on the loop thread.
 *   - http_server_stop() closes the listening socket and every open
 *     connection at once (in-flight requests are dropped), and closes the
 *     uv handles; the struct is freed from their close callbacks, so the
 *     loop must run once more to finish. The caller must not use the pointer
 *     after stop. stop may be called from inside the handler: it then takes
 *     effect when the handler's batch of I/O is done. stop(NULL) is a no-op.
 *   - The server owns the struct, the socket and all per-request memory;
 *     the handler's ctx stays the caller's and must outlive the server.
 */
#ifndef TRIPLINE_HTTP_H
#define TRIPLINE_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <uv.h>

#define HTTP_MAX_CONNECTIONS 256          /* open connections, when http_limits says 0 */
#define HTTP_MAX_CONNECTIONS_PER_CLIENT 32 /* open connections from one address, when http_limits says 0 */
#define HTTP_REQUEST_HEAD_TIMEOUT_S 10    /* request head deadline, when http_limits says 0 */
#define HTTP_CONNECTION_TIMEOUT_S 30      /* idle seconds before a connection is closed */
#define HTTP_CONNECTION_MEMORY (32 * 1024)  /* bytes per connection for the request line and headers */
#define HTTP_DRAIN_MAX (1024 * 1024)      /* body bytes read and dropped past max_body before giving up on a connection */

/* One request header, as received (name in the client's case). */
struct http_header {
	const char *name;
	const char *value;
};

/* A complete request. Everything in it is valid during the handler call only. */
struct http_request {
	const char *method;                  /* "GET", "POST", as sent */
	const char *path;                    /* as sent, still percent-encoded, e.g. "/hooks/git%20hub" */
	const char *query;                   /* as sent, without '?'; "" if none */
	const char *body;                    /* the whole body, NUL-terminated for convenience; "" if none */
	size_t body_len;                     /* <= max_body */
	const struct http_header *headers;   /* in the order received, repeats kept */
	size_t n_headers;
	const char *remote_addr;             /* peer address, "127.0.0.1" or "::1"; "" if unknown */
};

/*
 * What the handler returns. On entry: status 500, no content type, no body.
 * body is malloc'd by the handler and taken by the server (freed even on
 * error); content_type must stay valid until the handler returns (it is
 * copied). A status outside 100..599 is sent as 500.
 */
struct http_response {
	unsigned status;
	const char *content_type;
	char *body;
	size_t body_len;
	const struct http_header *headers;   /* more response headers (copied), e.g. Retry-After */
	size_t n_headers;
};

/*
 * Answering later: inside the handler, http_response_defer() keeps the
 * connection waiting (the response the handler was given is then ignored,
 * and the request's memory is still valid only during the handler call).
 * The answer is given with http_pending_answer() from the loop thread,
 * exactly once, later; its body is taken. If the client went away
 * meanwhile (or the server stopped), the answer is freed unsent and
 * http_pending_answer() returns -ECONNRESET (the pending handle stays valid
 * until it is answered). A deferred request holds its connection slot;
 * the head and idle timeouts do not apply while it waits. Only the
 * response handed to the handler in progress can be deferred (anything
 * else gives NULL); deferring it twice gives the same handle. An answer
 * given before the handler returns is sent when it returns. A client is
 * taken to have gone when it has shut its end and nothing it sent is left
 * unread (a half-closing client is not waited for).
 */
struct http_pending;
struct http_pending *http_response_defer(struct http_response *resp);   /* NULL: out of memory */
int http_pending_answer(struct http_pending *p, struct http_response *resp);

/* What the listener admits; a 0 field takes its HTTP_* default above. */
struct http_limits {
	size_t max_body;                     /* request body bytes; more is answered 413 */
	unsigned max_connections;            /* open connections in all (>= 4), the reserve included */
	unsigned max_connections_per_client; /* open connections from one client address */
	unsigned request_head_timeout_s;     /* seconds for a complete request line and headers */
};

/* Called on the loop thread for each complete request. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *ret);

struct http_server;
struct metrics;

/* The first header named `name` (any case), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/*
 * Listen on host:port (host is an IPv4 or IPv6 literal; port 0 picks an
 * ephemeral port) and serve requests from `loop` within `limits` (copied).
 * A body larger than limits->max_body is answered 413 without calling the
 * handler. Returns 0, -EINVAL for a bad host or max_connections below 4,
 * -errno from socket/bind/listen (-EADDRINUSE…), -ENOMEM, or -EIO when
 * libmicrohttpd refuses to start.
 */
int http_server_start(uv_loop_t *loop, const char *host, uint16_t port, const struct http_limits *limits,
		      http_handler_fn handler, void *ctx, struct http_server **ret_server);

/* The port the server is bound to (useful after port 0). */
uint16_t http_server_port(const struct http_server *s);

/* Registers the listener's metrics in m (requests answered by status class,
 * a deferred answer when it is given; open connections, connections
 * accepted, closed or refused by each limit: the same families on every
 * call) and, when s is not NULL, sets them from its counters. */
void http_server_metrics(const struct http_server *s, struct metrics *m);

/* Stop serving and free the server once its handles have closed (see above). */
void http_server_stop(struct http_server *s);

#endif
