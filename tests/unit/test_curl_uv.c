/*
 * test_curl_uv.c — the asynchronous HTTP client, against real servers on the
 * same loop: the daemon's own HTTP listener (libmicrohttpd) on an ephemeral
 * loopback port, a socket that accepts connections and never answers, a port
 * nobody listens on and a unix socket path that does not exist.
 *
 * Every test runs the loop until a condition holds or a deadline passes (a
 * repeating guard timer makes sure the loop wakes up), then frees the client
 * and the server and requires uv_loop_close() to succeed: every handle was
 * closed. ASan checks that nothing leaked, also for requests that were
 * cancelled or dropped by curl_uv_free().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "curl_uv.h"
#include "http.h"

#define DEADLINE_MS 10000u
#define BIG_BODY (300u * 1024u)
#define MAX_DONE 64

struct done_rec {
	bool called;
	int err;
	unsigned status;
	char error[256];
	char content_type[64];
	char *body;
	size_t body_len;
};

struct fixture {
	uv_loop_t loop;
	uv_timer_t guard;
	struct curl_uv *cu;
	struct http_server *server;
	uint16_t port;
	int blackhole_fd;               /* listens, never accepts */
	uint16_t blackhole_port;
	char base[64];                  /* "http://127.0.0.1:<port>" */

	int calls;                      /* handler calls */
	char last_method[16];
	char last_header[64];
	char *last_body;
	size_t last_body_len;
	char *big;                      /* what /big answers */

	struct done_rec done[MAX_DONE];
	int n_done;
	size_t streamed;                /* bytes seen by on_data */
	uint32_t stream_sum;
	bool refuse_stream;
	struct curl_uv_req *victim;     /* cancelled from a done callback */
	bool free_in_done;
	struct curl_uv_req *cancel_in_data[2];   /* cancelled from on_data */
	bool free_in_data;
};

/* ---- the server side ---- */

static void handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	struct fixture *f = ctx;
	const char *h = http_request_header(req, "X-Test");

	f->calls++;
	snprintf(f->last_method, sizeof(f->last_method), "%s", req->method);
	snprintf(f->last_header, sizeof(f->last_header), "%s", h ? h : "");
	free(f->last_body);
	f->last_body = malloc(req->body_len + 1);
	memcpy(f->last_body, req->body, req->body_len + 1);
	f->last_body_len = req->body_len;

	if (strcmp(req->path, "/echo") == 0) {
		ret->status = 201;
		ret->content_type = "application/x-test";
		ret->body = malloc(req->body_len ? req->body_len : 1);
		memcpy(ret->body, req->body, req->body_len);
		ret->body_len = req->body_len;
	} else if (strcmp(req->path, "/big") == 0) {
		ret->status = 200;
		ret->content_type = "application/octet-stream";
		ret->body = malloc(BIG_BODY);
		memcpy(ret->body, f->big, BIG_BODY);
		ret->body_len = BIG_BODY;
	} else {
		ret->status = 404;
		ret->content_type = "application/json";
		ret->body = strdup("{\"message\":\"no such thing\"}");
		ret->body_len = strlen(ret->body);
	}
}

/* ---- loop helpers ---- */

static void on_guard(uv_timer_t *t)
{
	(void)t;   /* only wakes the loop up */
}

static void run_until(struct fixture *f, bool (*cond)(struct fixture *), unsigned ms)
{
	uint64_t deadline;

	uv_update_time(&f->loop);
	deadline = uv_now(&f->loop) + ms;
	while (!cond(f) && uv_now(&f->loop) < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static int want_done;

static bool enough_done(struct fixture *f)
{
	return f->n_done >= want_done;
}

static void wait_done(struct fixture *f, int n)
{
	want_done = n;
	run_until(f, enough_done, DEADLINE_MS);
	assert_int_equal(f->n_done, n);
}

static void on_done(void *arg, const struct curl_uv_result *res)
{
	struct fixture *f = arg;
	struct done_rec *d;

	assert_true(f->n_done < MAX_DONE);
	d = &f->done[f->n_done++];
	d->called = true;
	d->err = res->err;
	d->status = res->status;
	snprintf(d->error, sizeof(d->error), "%s", res->error);
	snprintf(d->content_type, sizeof(d->content_type), "%s", res->content_type);
	assert_non_null(res->body);
	assert_int_equal(res->body[res->body_len], '\0');
	d->body = malloc(res->body_len + 1);
	memcpy(d->body, res->body, res->body_len + 1);
	d->body_len = res->body_len;
	if (f->victim) {
		curl_uv_cancel(f->victim);
		f->victim = NULL;
	}
	if (f->free_in_done) {
		curl_uv_free(f->cu);
		f->cu = NULL;
	}
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct fixture *f = arg;

	for (size_t i = 0; i < len; i++)
		f->stream_sum = f->stream_sum * 31u + (unsigned char)data[i];
	f->streamed += len;
	for (int i = 0; i < 2; i++) {
		curl_uv_cancel(f->cancel_in_data[i]);
		f->cancel_in_data[i] = NULL;
	}
	if (f->free_in_data) {
		curl_uv_free(f->cu);
		f->cu = NULL;
		f->free_in_data = false;
	}
	return f->refuse_stream ? -1 : 0;
}

static bool streamed_some(struct fixture *f)
{
	return f->streamed > 0;
}

static struct curl_uv_request request(struct fixture *f, const char *method, const char *url)
{
	struct curl_uv_request rq = {
		.method = method,
		.url = url,
		.max_response = 1024 * 1024,
		.timeout_ms = DEADLINE_MS,
		.done = on_done,
		.arg = f,
	};
	return rq;
}

static uint32_t checksum(const char *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = sum * 31u + (unsigned char)p[i];
	return sum;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	uint32_t x = 2463534242u;
	/* one client address opens all the connections (test_many_at_once: 40) */
	struct http_limits limits = {.max_body = 1024 * 1024, .max_connections_per_client = HTTP_MAX_CONNECTIONS};

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
	assert_int_equal(uv_timer_start(&f->guard, on_guard, 50, 50), 0);
	assert_int_equal(curl_uv_new(&f->loop, &f->cu), 0);
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", 0, &limits, handler, f, &f->server), 0);
	f->port = http_server_port(f->server);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)f->port);

	f->big = malloc(BIG_BODY);
	for (size_t i = 0; i < BIG_BODY; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		f->big[i] = (char)(x & 0xff);
	}

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->blackhole_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->blackhole_fd >= 0);
	assert_int_equal(bind(f->blackhole_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->blackhole_fd, 16), 0);
	assert_int_equal(getsockname(f->blackhole_fd, (struct sockaddr *)&sa, &len), 0);
	f->blackhole_port = ntohs(sa.sin_port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	curl_uv_free(f->cu);
	http_server_stop(f->server);
	uv_close((uv_handle_t *)&f->guard, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->blackhole_fd);
	for (int i = 0; i < MAX_DONE; i++)
		free(f->done[i].body);
	free(f->last_body);
	free(f->big);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_post_with_headers_and_body(void **state)
{
	struct fixture *f = *state;
	const char *headers[] = { "X-Test: hello", "Content-Type: text/plain", NULL };
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/echo", f->base);
	rq = request(f, "POST", url);
	rq.headers = headers;
	rq.body = "ping\0pong";
	rq.body_len = 9;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	assert_int_equal(f->n_done, 0);   /* never from inside start */
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, 0);
	assert_string_equal(f->done[0].error, "");
	assert_int_equal(f->done[0].status, 201);
	assert_string_equal(f->done[0].content_type, "application/x-test");
	assert_int_equal(f->done[0].body_len, 9);
	assert_memory_equal(f->done[0].body, "ping\0pong", 9);
	assert_string_equal(f->last_method, "POST");
	assert_string_equal(f->last_header, "hello");
	assert_int_equal(f->last_body_len, 9);
}

static void test_methods(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/echo", f->base);
	rq = request(f, "GET", url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_string_equal(f->last_method, "GET");

	rq = request(f, "DELETE", url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 2);
	assert_string_equal(f->last_method, "DELETE");
	assert_int_equal(f->done[1].status, 201);

	rq = request(f, "PUT", url);
	rq.body = "x";
	rq.body_len = 1;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 3);
	assert_string_equal(f->last_method, "PUT");
	assert_string_equal(f->done[2].body, "x");

	rq = request(f, "POST", url);   /* no body: an empty one */
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 4);
	assert_string_equal(f->last_method, "POST");
	assert_int_equal(f->last_body_len, 0);
	assert_int_equal(f->done[3].body_len, 0);
}

static void test_error_status_is_a_response(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/nope", f->base);
	rq = request(f, "GET", url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, 0);
	assert_int_equal(f->done[0].status, 404);
	assert_string_equal(f->done[0].body, "{\"message\":\"no such thing\"}");
}

static void test_large_body_collected_byte_exact(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/big", f->base);
	rq = request(f, "GET", url);
	rq.max_response = BIG_BODY;    /* exactly enough */
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, 0);
	assert_int_equal(f->done[0].body_len, BIG_BODY);
	assert_memory_equal(f->done[0].body, f->big, BIG_BODY);
}

static void test_body_over_cap_fails(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/big", f->base);
	rq = request(f, "GET", url);
	rq.max_response = BIG_BODY - 1;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, -EMSGSIZE);
	assert_non_null(strstr(f->done[0].error, "larger than"));
	assert_int_equal(f->done[0].body_len, 0);
}

static void test_streamed_body_has_no_cap(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/big", f->base);
	rq = request(f, "GET", url);
	rq.max_response = 16;          /* applies to error bodies only */
	rq.on_data = on_data;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, 0);
	assert_int_equal(f->done[0].status, 200);
	assert_int_equal(f->done[0].body_len, 0);
	assert_int_equal(f->streamed, BIG_BODY);
	assert_int_equal(f->stream_sum, checksum(f->big, BIG_BODY));
}

static void test_streamed_error_body_is_collected(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/nope", f->base);
	rq = request(f, "GET", url);
	rq.on_data = on_data;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].status, 404);
	assert_string_equal(f->done[0].body, "{\"message\":\"no such thing\"}");
	assert_int_equal(f->streamed, 0);
}

static void test_stream_refused_by_receiver(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/big", f->base);
	rq = request(f, "GET", url);
	rq.on_data = on_data;
	f->refuse_stream = true;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, -ECONNABORTED);
	assert_true(f->streamed > 0 && f->streamed < BIG_BODY);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	rq = request(f, "GET", url);
	rq.timeout_ms = 200;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, -ETIMEDOUT);
	assert_int_equal(f->done[0].status, 0);
	assert_true(strlen(f->done[0].error) > 0);
}

static void test_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char url[128];
	struct curl_uv_request rq;
	int fd;

	/* a port that was just free: bound, never listened on */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)ntohs(sa.sin_port));
	rq = request(f, "GET", url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	close(fd);
	assert_int_equal(f->done[0].err, -ECONNREFUSED);
	assert_true(strlen(f->done[0].error) > 0);
}

static void test_missing_unix_socket(void **state)
{
	struct fixture *f = *state;
	struct curl_uv_request rq = request(f, "GET", "http://localhost/_ping");

	rq.unix_socket = "/nonexistent/tripline-test.sock";
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].err, -ENOENT);
	assert_true(strlen(f->done[0].error) > 0);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	char url[128], ok_url[128];
	struct curl_uv_request rq;
	struct curl_uv_req *hanging, *victim;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	snprintf(ok_url, sizeof(ok_url), "%s/echo", f->base);
	rq = request(f, "GET", url);
	rq.timeout_ms = 300;
	assert_int_equal(curl_uv_start(f->cu, &rq, &hanging), 0);
	rq.timeout_ms = 1000;
	assert_int_equal(curl_uv_start(f->cu, &rq, &victim), 0);
	assert_non_null(hanging);
	curl_uv_cancel(hanging);        /* before the loop ever ran */

	/* cancelled from the done callback of another request */
	f->victim = victim;
	rq = request(f, "GET", ok_url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 1);
	assert_int_equal(f->done[0].status, 201);
	assert_null(f->victim);

	/* neither cancelled request reports, not even after its timeout */
	rq = request(f, "GET", url);
	rq.timeout_ms = 1500;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 2);
	assert_int_equal(f->done[1].err, -ETIMEDOUT);
	curl_uv_cancel(NULL);
}

/* From inside on_data (libcurl's write callback): itself and an idle one. */
static void test_cancel_inside_on_data(void **state)
{
	struct fixture *f = *state;
	char big[128], hang[128], ok[128];
	struct curl_uv_request rq;

	snprintf(big, sizeof(big), "%s/big", f->base);
	snprintf(hang, sizeof(hang), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	snprintf(ok, sizeof(ok), "%s/echo", f->base);
	rq = request(f, "GET", hang);
	rq.timeout_ms = 1000;
	assert_int_equal(curl_uv_start(f->cu, &rq, &f->cancel_in_data[1]), 0);
	rq = request(f, "GET", big);
	rq.on_data = on_data;
	assert_int_equal(curl_uv_start(f->cu, &rq, &f->cancel_in_data[0]), 0);
	run_until(f, streamed_some, DEADLINE_MS);
	assert_true(f->streamed > 0 && f->streamed < BIG_BODY);
	assert_null(f->cancel_in_data[0]);
	/* the loop goes on; neither reports, not even after the idle one's timeout */
	rq = request(f, "GET", hang);
	rq.timeout_ms = 1500;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	rq = request(f, "GET", ok);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	wait_done(f, 2);
	assert_int_equal(f->done[0].status, 201);
	assert_int_equal(f->done[1].err, -ETIMEDOUT);
	assert_true(f->streamed < BIG_BODY);
}

static void test_free_inside_on_data(void **state)
{
	struct fixture *f = *state;
	char big[128], ok[128];
	struct curl_uv_request rq;

	snprintf(big, sizeof(big), "%s/big", f->base);
	snprintf(ok, sizeof(ok), "%s/echo", f->base);
	rq = request(f, "GET", ok);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	rq = request(f, "GET", big);
	rq.on_data = on_data;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	f->free_in_data = true;
	run_until(f, streamed_some, DEADLINE_MS);
	assert_null(f->cu);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_true(f->streamed < BIG_BODY);
	/* the echo may have been reported before; never after the free */
	assert_true(f->n_done <= 1);
}

static void test_many_at_once(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;
	int n = 40;

	snprintf(url, sizeof(url), "%s/echo", f->base);
	for (int i = 0; i < n; i++) {
		rq = request(f, "POST", url);
		rq.body = "abc";
		rq.body_len = 3;
		assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	}
	wait_done(f, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(f->done[i].err, 0);
		assert_string_equal(f->done[i].body, "abc");
	}
	assert_int_equal(f->calls, n);
}

static void test_free_with_requests_in_flight(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	rq = request(f, "GET", url);
	rq.timeout_ms = 0;              /* would wait forever */
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	rq.on_data = on_data;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);  /* connected and sent */
	curl_uv_free(f->cu);
	f->cu = NULL;
	/* teardown runs the loop to the end: no callback, every handle closed */
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_done, 0);
}

static void test_free_inside_done(void **state)
{
	struct fixture *f = *state;
	char url[128], hang[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "%s/echo", f->base);
	snprintf(hang, sizeof(hang), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	rq = request(f, "GET", hang);
	rq.timeout_ms = 0;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	rq = request(f, "GET", url);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), 0);
	f->free_in_done = true;
	wait_done(f, 1);
	assert_null(f->cu);
	assert_int_equal(f->done[0].status, 201);
}

static void test_bad_requests_refused(void **state)
{
	struct fixture *f = *state;
	struct curl_uv_request rq = request(f, "GET", "http://127.0.0.1/");
	struct curl_uv_req *r = (struct curl_uv_req *)&rq;   /* must be cleared */

	rq.max_response = 0;
	assert_int_equal(curl_uv_start(f->cu, &rq, &r), -EINVAL);
	assert_null(r);
	rq.max_response = CURL_UV_MAX_RESPONSE + 1;
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	rq = request(f, "", "http://127.0.0.1/");
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	rq = request(f, "GET", NULL);
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	rq = request(f, "POST", "http://127.0.0.1/");
	rq.body_len = 3;               /* without a body */
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	rq = request(f, "GET / HTTP/1.1\r\nX:", "http://127.0.0.1/");
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	rq = request(f, "get", "http://127.0.0.1/");
	assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	{
		const char *smuggle[] = { "X-A: 1\r\nX-B: 2", NULL };
		const char *no_colon[] = { "X-A", NULL };

		rq = request(f, "GET", "http://127.0.0.1/");
		rq.headers = smuggle;
		assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
		rq.headers = no_colon;
		assert_int_equal(curl_uv_start(f->cu, &rq, NULL), -EINVAL);
	}
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_done, 0);
}

static void test_perform_blocks_and_reports(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct curl_uv_request rq;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)f->blackhole_port);
	rq = request(f, "GET", url);
	rq.timeout_ms = 200;
	assert_int_equal(curl_uv_perform(&rq), 0);
	assert_int_equal(f->n_done, 1);          /* before it returned */
	assert_int_equal(f->done[0].err, -ETIMEDOUT);

	rq = request(f, "GET", "http://localhost/_ping");
	rq.unix_socket = "/nonexistent/tripline-test.sock";
	assert_int_equal(curl_uv_perform(&rq), 0);
	assert_int_equal(f->n_done, 2);
	assert_int_equal(f->done[1].err, -ENOENT);

	rq.timeout_ms = 0;                       /* would block forever */
	assert_int_equal(curl_uv_perform(&rq), -EINVAL);
	assert_int_equal(f->n_done, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_post_with_headers_and_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_status_is_a_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_body_collected_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_over_cap_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streamed_body_has_no_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streamed_error_body_is_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_refused_by_receiver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_unix_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_inside_on_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_inside_on_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_requests_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_inside_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perform_blocks_and_reports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
