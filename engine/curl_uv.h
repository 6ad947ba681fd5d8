/*
 * curl_uv.h — an asynchronous HTTP client: libcurl's multi interface driven
 * by a libuv loop, no threads.
 *
 * A struct curl_uv is one libcurl multi handle on one loop; any number of
 * requests run on it at once (up to CURL_UV_MAX_REQUESTS), each to its own URL,
 * over TCP (http:// or https://) or a unix socket. Connections are kept and
 * reused between requests to the same place. No proxy is used (the
 * environment's http_proxy and the like are ignored), redirects are not
 * followed, and "Expect: 100-continue" is never sent. Only curl_uv.c includes
 * <curl/curl.h>, so nothing here names it.
 *
 * A request ends in exactly one call of its `done` callback, always from the
 * loop, never from inside curl_uv_start(): with the HTTP status and the body
 * (any status: a 404 is a response, not an error), or with err < 0 when no
 * complete response arrived (connection refused, timeout, the body cap).
 * Unless the request is cancelled first, or its curl_uv freed: then `done` is
 * never called.
 *
 * Two ways to receive the body:
 *   - collected (on_data NULL): up to max_response bytes are kept and handed
 *     to done(), NUL-terminated; a longer body ends the request with
 *     -EMSGSIZE at once (nothing more is read).
 *   - streamed (on_data set): the bytes of a 2xx response are handed to
 *     on_data() as they arrive and nothing is kept, so there is no cap (a
 *     followed log, a long poll). The body of any other status is collected
 *     as above, so done() can show the server's error message.
 *
 * Lifecycle: curl_uv_new() → curl_uv_start() … → curl_uv_free(). free aborts
 * every request still running without calling its callbacks and closes the
 * uv handles; the memory is released from their close callbacks, so the loop
 * must run once more. free may be called from inside a callback; it then
 * takes effect when the callback returns, and no other callback is made.
 * curl_uv_cancel() may be called from anywhere, including callbacks.
 */
#ifndef TRIPLINE_CURL_UV_H
#define TRIPLINE_CURL_UV_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define CURL_UV_MAX_REQUESTS 4096          /* running at once; more are refused with -EAGAIN */
#define CURL_UV_MAX_RESPONSE (64u << 20)   /* the largest max_response accepted */
#define CURL_UV_CONNECT_TIMEOUT_MS 10000u  /* connect phase, also of requests without a timeout */

struct curl_uv;
struct curl_uv_req;

/* How a request ended. Everything in it is valid during the done() call only. */
struct curl_uv_result {
	int err;                   /* 0: a response arrived; else -ETIMEDOUT, -ECONNREFUSED,
				      -ENOENT (no such unix socket), -EMSGSIZE (body over
				      max_response), -ECONNABORTED (on_data refused bytes),
				      another -errno from the socket, or -EIO */
	const char *error;         /* "" when err is 0; else a text for a person (curl's) */
	unsigned status;           /* HTTP status; 0 when none was received */
	const char *content_type;  /* the response's Content-Type, or "" */
	const char *body;          /* collected body, NUL-terminated; "" when streamed */
	size_t body_len;
};

/* The request is over; res is valid during the call only. */
typedef void (*curl_uv_done_fn)(void *arg, const struct curl_uv_result *res);

/* Streamed body bytes of a 2xx response, in order. Return 0 to go on, anything
 * else to end the request (done() then gets -ECONNABORTED). */
typedef int (*curl_uv_data_fn)(void *arg, const char *data, size_t len);

/* One request. Every pointer is borrowed for the curl_uv_start() call only
 * (everything is copied), except arg. */
struct curl_uv_request {
	const char *method;            /* "GET", "POST", "PUT", "DELETE", "HEAD", …: A-Z only */
	const char *url;               /* "http://localhost/v1.41/_ping" */
	const char *unix_socket;       /* NULL: connect to the URL's host; else this socket */
	const char *const *headers;    /* "Name: value" (no CR, no LF), NULL-terminated, or NULL */
	const char *body;              /* NULL: no body (POST sends an empty one) */
	size_t body_len;
	size_t max_response;           /* collected-body cap, 1 … CURL_UV_MAX_RESPONSE */
	unsigned timeout_ms;           /* the whole request; 0: none (long polls, streams) */
	curl_uv_data_fn on_data;       /* NULL: collect the body; else stream it */
	curl_uv_done_fn done;          /* NULL: fire and forget */
	void *arg;                     /* for done and on_data */
};

/* A client on loop; *ret until curl_uv_free(). 0, -ENOMEM or -EIO. */
int curl_uv_new(uv_loop_t *loop, struct curl_uv **ret);

/* Aborts every request (no callbacks), closes the handles; see above. NULL: no-op. */
void curl_uv_free(struct curl_uv *cu);

/*
 * Begins a request. 0: done() follows from the loop; *ret_req (when ret_req
 * is not NULL) identifies it for curl_uv_cancel() until done() is called.
 * -EINVAL (a bad method, header or max_response, no URL), -EAGAIN (too many
 * running), -ESHUTDOWN (after curl_uv_free()), -ENOMEM, -EIO: nothing was
 * begun and no callback follows.
 */
int curl_uv_start(struct curl_uv *cu, const struct curl_uv_request *rq, struct curl_uv_req **ret_req);

/* Ends a request that has not been completed: no callback follows. NULL: no-op.
 * Not valid after done() has been called for it. */
void curl_uv_cancel(struct curl_uv_req *req);

/*
 * Runs one request synchronously on the calling thread, without a loop, and
 * calls rq->done before returning. Blocks up to rq->timeout_ms (which must
 * not be 0): meant for start-up checks against a local socket. 0, or the
 * errors of curl_uv_start() (then no callback).
 */
int curl_uv_perform(const struct curl_uv_request *rq);

#endif
