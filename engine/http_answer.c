/*
 * http_answer.c — the listener's responses: built (content type, extra
 * headers, body) and queued, and answers given later (http.h:
 * http_response_defer(), http_pending_answer()).
 *
 * Deferred answers: the handler call in progress is known to
 * http_response_defer() through a thread-local pointer, so it only defers
 * the response it was handed. After the handler returns, the connection is
 * suspended (MHD_suspend_connection(), which needs MHD_ALLOW_SUSPEND_RESUME):
 * MHD takes it out of its epoll set and its timeout lists, so neither its
 * idle timeout nor the head deadline (ended by the head) runs while it
 * waits, and it keeps its slot. http_pending_answer() builds the MHD
 * response at once (so nothing of the caller's is kept) and resumes the
 * connection (MHD's inter-thread channel wakes its epoll fd; MHD also runs
 * on the next loop turn); MHD then calls the access handler again, which
 * queues it. An answer given before the handler returned is queued without
 * suspending. MHD does not watch a suspended socket; the listener's hup_fd
 * does: a client that shut its end with nothing left unread has its
 * connection resumed only to be closed. The pending handle is freed by
 * whichever comes last: its request's end (completion callback) or
 * http_pending_answer() (which returns -ECONNRESET for a request that ended
 * unanswered). Stopping resumes every suspended connection first:
 * MHD_stop_daemon() panics on a suspended one (libmicrohttpd 0.9.75,
 * close_all_connections()).
 */
#include "http_int.h"

#include <errno.h>
#include <stdlib.h>

_Thread_local struct http_call *http_current_call;

struct MHD_Response *http_make_response(const char *content_type, const struct http_header *headers,
				       size_t n_headers, char *body, size_t body_len)
{
	struct MHD_Response *r;

	if (body) {
		r = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_MUST_FREE);
		if (!r) {
			free(body);
			return NULL;
		}
	} else {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return NULL;
	}
	if (content_type && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
		goto out_destroy;
	for (size_t i = 0; i < n_headers; i++)
		if (!headers[i].name || !headers[i].value ||
		    MHD_add_response_header(r, headers[i].name, headers[i].value) != MHD_YES)
			goto out_destroy;
	return r;

out_destroy:
	MHD_destroy_response(r);
	return NULL;
}

enum MHD_Result http_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ok;

	if (!r) {
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* The pending answer leaves its connection (the request ended, answered or
 * not): http_pending_answer() frees it. */
static void pending_detach(struct http_pending *p)
{
	struct http_server *s = p->s;

	if (!s)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		s->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	if (p->c && p->c->pending == p)
		p->c->pending = NULL;
	if (p->x && p->x->pending == p)
		p->x->pending = NULL;
	p->s = NULL;
	p->conn = NULL;
	p->x = NULL;
	p->c = NULL;
}

static void pending_free(struct http_pending *p)
{
	if (p->answer)
		MHD_destroy_response(p->answer);
	free(p);
}

void http_pending_end(struct http_pending *p)
{
	bool answered = p->answered;

	pending_detach(p);
	if (answered)
		pending_free(p);
}

/* Queue the answer given (on the handler's call, or on the call MHD makes
 * after a resume); the pending handle is done with. */
static enum MHD_Result answer_now(struct http_pending *p)
{
	struct MHD_Connection *conn = p->conn;
	struct MHD_Response *r = p->answer;
	unsigned status = p->status;

	p->answer = NULL;
	pending_detach(p);
	pending_free(p);
	return http_queue_response(conn, status, r);
}

/* Whether the client of a suspended connection is gone: its end is shut
 * and nothing it sent is left unread. */
static bool pending_peer_gone(struct http_pending *p)
{
	return p->c && p->c->peer_closed && http_peer_gone(p->c->fd);
}

static void pending_resume(struct http_pending *p, bool gone);

/* The handler deferred and returned: the connection waits, suspended (MHD
 * neither reads it nor times it out meanwhile). A client already gone is
 * let go at once. */
static enum MHD_Result suspend(struct http_pending *p)
{
	MHD_suspend_connection(p->conn);
	p->suspended = true;
	if (pending_peer_gone(p))
		pending_resume(p, true);
	return MHD_YES;
}

/* Let MHD take the connection up again: it calls the access handler, which
 * queues the answer, or closes the connection when the client is gone. */
static void pending_resume(struct http_pending *p, bool gone)
{
	struct http_server *s = p->s;

	p->gone = p->gone || gone;
	if (!p->suspended)
		return;
	p->suspended = false;
	MHD_resume_connection(p->conn); /* wakes MHD's epoll fd through its ITC */
	http_run_soon(s); /* and MHD runs soon in any case */
}

struct http_pending *http_response_defer(struct http_response *resp)
{
	struct http_call *call = http_current_call;
	struct http_pending *p;

	if (!call || call->resp != resp)
		return NULL; /* not the response of the handler call in progress */
	if (call->pending)
		return call->pending;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->s = call->s;
	p->conn = call->conn;
	p->x = call->x;
	p->c = http_conn_of(call->conn);
	p->in_handler = true;
	p->next = p->s->pending;
	if (p->next)
		p->next->prev = p;
	p->s->pending = p;
	call->x->pending = p;
	if (p->c)
		p->c->pending = p;
	call->pending = p;
	return p;
}

int http_pending_answer(struct http_pending *p, struct http_response *resp)
{
	unsigned status = resp->status >= 100 && resp->status <= 599 ? resp->status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	char *body = resp->body;

	resp->body = NULL;
	if (!p->s || p->gone) {
		/* the client went away or the server stopped: nothing to send to */
		free(body);
		if (!p->s)
			pending_free(p);
		else
			p->answered = true; /* freed when MHD ends the request */
		return -ECONNRESET;
	}
	if (p->answered) {
		free(body);
		return -EALREADY;
	}
	p->answer = http_make_response(resp->content_type, resp->headers, resp->n_headers, body, resp->body_len);
	p->status = p->answer ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	p->answered = true;
	p->s->answers[p->status / 100]++;
	if (!p->in_handler)
		pending_resume(p, false);
	return 0;
}

enum MHD_Result http_pending_handler_done(struct http_pending *p)
{
	p->in_handler = false;
	if (p->answered)
		return answer_now(p);
	return suspend(p);
}

enum MHD_Result http_pending_resumed(struct http_pending *p)
{
	if (p->answered && !p->gone)
		return answer_now(p);
	return MHD_NO; /* the client is gone: MHD closes the connection, and ends the request */
}

bool http_pending_client_gone(struct http_conn *c)
{
	if (!c->pending || !c->pending->suspended || !pending_peer_gone(c->pending))
		return false;
	pending_resume(c->pending, true);
	return true;
}

void http_pending_stop(struct http_server *s)
{
	for (struct http_pending *p = s->pending; p; p = p->next) {
		p->gone = true;
		if (p->suspended) {
			p->suspended = false;
			MHD_resume_connection(p->conn);
		}
	}
}
