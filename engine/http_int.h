/*
 * http_int.h — what http.c (the listener) and http_answer.c (responses,
 * and answers given later) share: the server's, connections' and
 * requests' structs. Private to these two files, the only ones that
 * include libmicrohttpd.
 */
#ifndef TRIPLINE_ENGINE_HTTP_INT_H
#define TRIPLINE_ENGINE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>
#include <uv.h>

#include "http.h"

/* A client address with open connections. */
struct http_client {
	struct http_client *next;       /* in its hash bucket */
	unsigned char addr[16];         /* IPv6; IPv4 as IPv4-mapped IPv6 */
	unsigned n;                     /* open connections */
};

/* One connection, from MHD's "started" notification to its "closed" one. */
struct http_conn {
	struct http_conn *prev, *next;  /* in the server's waiting list, while waiting */
	struct http_client *client;
	uint64_t head_deadline_ms;      /* uv_now() clock */
	int fd;                         /* MHD's socket: we only ever shut it down */
	bool waiting;                   /* for a complete request head */
	bool reserve;                   /* accepted while only the reserve was left */
	bool peer_closed;               /* hup_fd reported the client's end shut */
	struct http_pending *pending;   /* its request's deferred answer, while suspended */
};

struct http_server {
	uv_loop_t *loop;
	struct MHD_Daemon *daemon;
	uv_poll_t poll;                 /* on MHD's epoll fd */
	uv_timer_t timer;               /* MHD_get_timeout() */
	uv_poll_t listen;               /* on listen_fd, while accepting */
	uv_timer_t deadline;            /* the first head deadline, or the accept retry */
	uv_poll_t hup;                  /* on hup_fd */
	int listen_fd;
	int hup_fd;                     /* epoll set: each connection's socket, for EPOLLRDHUP */
	unsigned n_peer_closed;         /* connections with peer_closed set */
	http_handler_fn handler;
	void *ctx;
	struct http_limits limits;      /* every field set */
	unsigned reserve;               /* connections kept for GET /healthz and /metrics */
	unsigned open;                  /* connections MHD holds */
	struct http_client **clients;   /* hash buckets, n_buckets a power of two */
	size_t n_buckets;
	struct http_conn *waiting_first, *waiting_last;   /* waiting for a head, first deadline first */
	struct http_conn *adding;       /* inside MHD_add_connection(): taken by the "started" notification */
	struct http_pending *pending;   /* deferred requests still attached to a connection */
	uint64_t accept_retry_ms;       /* 0, or when accept() may be tried again */
	uint64_t accepted, refused_per_client, head_timeouts, reserve_refused, bad_framing;
	uint64_t answers[6];            /* the handler's answers (deferred ones when given), by
					   status class: [1] 1xx … [5] 5xx */
	uint16_t port;
	int open_handles;               /* uv handles not yet closed */
	bool accepting;                 /* the listen handle is started */
	bool closing;                   /* server_close() has begun */
	bool in_run;                    /* inside MHD_run(): stop must wait */
	bool stop_requested;
	bool run_soon;                  /* the timer is set for a run at once (http_run_soon()) */
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
	struct http_pending *pending;   /* its deferred answer, while attached */
};

/*
 * A deferred answer. Attached (s set) from http_response_defer() until its
 * connection's request ends (answered, client gone, or server stopped);
 * then detached, and freed by http_pending_answer(). While attached and
 * out of the handler, its connection is suspended in MHD.
 */
struct http_pending {
	struct http_pending *prev, *next;   /* in s->pending, while attached */
	struct http_server *s;          /* NULL once detached */
	struct MHD_Connection *conn;
	struct http_exchange *x;
	struct http_conn *c;            /* may be NULL (out of memory at accept) */
	struct MHD_Response *answer;    /* built by http_pending_answer(), queued on resume */
	unsigned status;
	bool in_handler;                /* the handler that deferred has not returned yet */
	bool suspended;
	bool answered;
	bool gone;                      /* the client went away: resumed only to be closed */
};

/* The handler call in progress on this thread (http_response_defer() finds
 * its connection through it). */
struct http_call {
	struct http_response *resp;
	struct http_server *s;
	struct MHD_Connection *conn;
	struct http_exchange *x;
	struct http_pending *pending;
};

extern _Thread_local struct http_call *http_current_call;

/* ---- http.c */

/* The connection's struct (MHD's socket context), or NULL. */
struct http_conn *http_conn_of(struct MHD_Connection *conn);
/* Whether the client has shut its end and everything it sent has been read. */
bool http_peer_gone(int fd);
/* Run MHD on the next loop turn (not while it runs or once closing). */
void http_run_soon(struct http_server *s);

/* ---- http_answer.c */

/* A response with this content type, headers and body (malloc'd or NULL,
 * taken in every case), or NULL: out of memory, or a content type or header
 * MHD rejects (e.g. with a newline: the handler's bug). */
struct MHD_Response *http_make_response(const char *content_type, const struct http_header *headers,
					size_t n_headers, char *body, size_t body_len);
/* Queue a response built by http_make_response() (taken), or a bare 500 for NULL. */
enum MHD_Result http_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);

/* The handler that deferred has returned: queue an answer already given,
 * or suspend the connection until it is. */
enum MHD_Result http_pending_handler_done(struct http_pending *p);
/* MHD called the access handler again for a deferred request (resumed):
 * queue its answer, or close the connection when the client is gone. */
enum MHD_Result http_pending_resumed(struct http_pending *p);
/* Its request has ended: an answered handle is freed now, an unanswered one
 * by http_pending_answer(). */
void http_pending_end(struct http_pending *p);
/* The client of c is gone (hup_fd): a suspended request is resumed to be
 * closed. Whether c had one. */
bool http_pending_client_gone(struct http_conn *c);
/* Before MHD_stop_daemon(): every suspended connection resumed, its answer
 * to be dropped. */
void http_pending_stop(struct http_server *s);

#endif
