/*
 * test_http.c — the HTTP listener, tested with real requests.
 *
 * Each test starts a server on an ephemeral loopback port inside its own uv
 * loop, runs a client function on a separate thread (libcurl, blocking, with
 * timeouts, so nothing waits forever), and when the client is done it wakes
 * the loop with a uv_async_t, which stops the server. uv_run() returning and
 * uv_loop_close() succeeding prove that every handle was closed; ASan proves
 * that nothing leaked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "http.h"
#include "metrics.h"

#define CLIENT_TIMEOUT_MS 10000L
#define MAX_SEEN 4
#define MAX_DEFERRED 40

/* What the handler saw, copied out of the request. */
struct seen {
	char *method, *path, *query, *body, *x_test, *remote_addr;
	size_t body_len;
	size_t n_headers;
};

/* One HTTP exchange as the client saw it. */
struct reply {
	CURLcode rc;
	long status;
	char content_type[128];
	char *body;
	size_t body_len;
	long num_connects;
	char retry_after[64];           /* the Retry-After header, if any */
};

struct fixture;
typedef void (*client_fn)(struct fixture *f);

struct fixture {
	uv_loop_t loop;
	uv_async_t done;
	struct http_server *server;
	bool stopped;
	uint16_t port;
	const char *host;               /* as in URLs: "127.0.0.1" or "[::1]" */
	client_fn client;
	pthread_t thread;

	int calls;                      /* handler calls */
	struct seen seen[MAX_SEEN];
	unsigned reply_status;          /* what the handler answers */
	const char *reply_type;
	bool echo;                      /* answer with the request body */

	struct reply replies[MAX_SEEN];
	const char *upload;             /* client body */
	size_t upload_len;
	size_t upload_off;

	/* deferred answers: paths under /defer are deferred, /now is deferred
	 * and answered inside the handler */
	struct http_limits limits;
	struct http_pending *pending[MAX_DEFERRED];
	char pending_path[MAX_DEFERRED][32];
	int n_pending;
	int answer_rc[MAX_DEFERRED];
	int answer_after;               /* answer every pending once this many are deferred */
	uint64_t answer_delay_ms;
	uv_timer_t answer_timer;
	bool manual_stop;               /* the client's end does not stop the server */
	bool wait_gone;                 /* answer once the server holds no connection */
	int deferred;                   /* read by the client thread (atomic) */
	int sock;                       /* a raw client socket, or -1 */
	struct reply many[MAX_DEFERRED];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The server holds no open connection (its metrics say so). */
static bool no_connection(struct http_server *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct metrics *m = metrics_new();
	bool none;

	assert_non_null(out);
	assert_non_null(m);
	http_server_metrics(s, m);
	assert_int_equal(metrics_render(m, out), 0);
	fclose(out);
	metrics_free(m);
	none = strstr(text, "\ntripline_http_connections 0\n") != NULL;
	free(text);
	return none;
}

/* Answer every deferred request, the last deferred first, each with its path. */
static void on_answer_timer(uv_timer_t *t)
{
	struct fixture *f = t->data;
	static const struct http_header hdr[] = {{"Retry-After", "7"}};

	if (f->wait_gone && !no_connection(f->server))
		return; /* the repeating timer looks again */
	uv_timer_stop(t);
	for (int i = f->n_pending - 1; i >= 0; i--) {
		struct http_response a = {.status = 202, .content_type = "text/plain", .headers = hdr, .n_headers = 1};

		a.body = strdup(f->pending_path[i]);
		a.body_len = strlen(a.body);
		f->answer_rc[i] = http_pending_answer(f->pending[i], &a);
		assert_null(a.body);
		f->pending[i] = NULL;
	}
	if (f->manual_stop) {
		http_server_stop(f->server);
		f->stopped = true;
	}
}

static void handler(void *ctx, const struct http_request *req, struct http_response *ret)
{
	struct fixture *f = ctx;
	struct seen *s;

	if (f->calls < MAX_SEEN) {
		s = &f->seen[f->calls];
		s->method = strdup(req->method);
		s->path = strdup(req->path);
		s->query = strdup(req->query);
		s->body = malloc(req->body_len + 1);
		memcpy(s->body, req->body, req->body_len + 1); /* incl. the promised NUL */
		s->body_len = req->body_len;
		s->x_test = dup_or_null(http_request_header(req, "x-TEST"));
		s->remote_addr = strdup(req->remote_addr);
		s->n_headers = req->n_headers;
	}
	f->calls++;
	if (strncmp(req->path, "/defer", 6) == 0 || strcmp(req->path, "/now") == 0) {
		struct http_pending *p = http_response_defer(ret);
		static const struct http_header hdr[] = {{"Retry-After", "7"}};

		assert_non_null(p);
		assert_ptr_equal(http_response_defer(ret), p); /* the same handle again */
		ret->body = strdup("ignored"); /* a deferred request's own response is dropped */
		ret->body_len = 7;
		if (strcmp(req->path, "/now") == 0) {
			struct http_response a = {.status = 201, .content_type = "text/plain",
						  .body = strdup("now"), .body_len = 3,
						  .headers = hdr, .n_headers = 1};

			assert_int_equal(http_pending_answer(p, &a), 0);
			assert_null(a.body); /* taken */
			return;
		}
		assert_true(f->n_pending < MAX_DEFERRED);
		snprintf(f->pending_path[f->n_pending], sizeof(f->pending_path[0]), "%s", req->path);
		f->pending[f->n_pending++] = p;
		__atomic_store_n(&f->deferred, f->n_pending, __ATOMIC_SEQ_CST);
		if (f->n_pending == f->answer_after)
			uv_timer_start(&f->answer_timer, on_answer_timer, f->answer_delay_ms,
				       f->wait_gone ? 10 : 0);
		return;
	}
	if (strcmp(req->path, "/headers") == 0) {
		static const struct http_header hdr[] = {{"Retry-After", "7"}, {"X-Two", "b"}};

		ret->headers = hdr;
		ret->n_headers = 2;
	}
	if (strcmp(req->path, "/stop") == 0) {
		http_server_stop(f->server);
		f->stopped = true;
		return;
	}
	ret->status = f->reply_status;
	ret->content_type = f->reply_type;
	if (f->echo) {
		ret->body = malloc(req->body_len ? req->body_len : 1);
		memcpy(ret->body, req->body, req->body_len);
		ret->body_len = req->body_len;
	} else {
		ret->body = strdup("{\"ok\":true}");
		ret->body_len = strlen(ret->body);
	}
}

static void on_async_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_done(uv_async_t *a)
{
	struct fixture *f = a->data;

	if (!f->stopped && !f->manual_stop)
		http_server_stop(f->server);
	f->stopped = true;
	uv_close((uv_handle_t *)a, on_async_closed);
}

static void *client_main(void *arg)
{
	struct fixture *f = arg;

	f->client(f);
	uv_async_send(&f->done);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->host = "127.0.0.1";
	f->reply_status = 200;
	f->reply_type = "application/json";
	f->sock = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < MAX_SEEN; i++) {
		struct seen *s = &f->seen[i];

		free(s->method);
		free(s->path);
		free(s->query);
		free(s->body);
		free(s->x_test);
		free(s->remote_addr);
		free(f->replies[i].body);
	}
	for (int i = 0; i < MAX_DEFERRED; i++)
		free(f->many[i].body);
	if (f->sock >= 0)
		close(f->sock);
	free(f);
	return 0;
}

/* Start a server on host (an address literal), run `client` against it, stop. */
static void run_with(struct fixture *f, const char *bind_host, size_t max_body, client_fn client)
{
	f->limits.max_body = max_body;
	assert_int_equal(uv_timer_init(&f->loop, &f->answer_timer), 0);
	f->answer_timer.data = f;
	assert_int_equal(http_server_start(&f->loop, bind_host, 0, &f->limits, handler, f, &f->server), 0);
	f->port = http_server_port(f->server);
	assert_true(f->port > 0);
	f->client = client;
	assert_int_equal(uv_async_init(&f->loop, &f->done, on_done), 0);
	f->done.data = f;
	assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	uv_close((uv_handle_t *)&f->answer_timer, NULL); /* stopped by now: it kept no run going */
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void run(struct fixture *f, size_t max_body, client_fn client)
{
	run_with(f, "127.0.0.1", max_body, client);
}

/* ---- client side ---- */

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct reply *r = userp;
	char *p = realloc(r->body, r->body_len + size * n + 1);

	if (!p)
		return 0;
	memcpy(p + r->body_len, data, size * n);
	r->body = p;
	r->body_len += size * n;
	r->body[r->body_len] = '\0';
	return size * n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *userp)
{
	struct fixture *f = userp;
	size_t left = f->upload_len - f->upload_off;
	size_t k = size * n < left ? size * n : left;

	memcpy(buf, f->upload + f->upload_off, k);
	f->upload_off += k;
	return k;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct reply *r = userp;
	size_t len = size * n;

	if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		size_t k = len - 12;

		while (k && (data[12 + k - 1] == '\r' || data[12 + k - 1] == '\n'))
			k--;
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)k, data + 12);
	}
	return len;
}

static CURL *easy(void)
{
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, CLIENT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	return c;
}

/* Perform one request on `c` into `r`. */
static void perform(CURL *c, struct fixture *f, const char *target, struct reply *r)
{
	char url[256];
	char *ct = NULL;

	snprintf(url, sizeof(url), "http://%s:%u%s", f->host, (unsigned)f->port, target);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct)
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->num_connects);
}

static void client_get(struct fixture *f)
{
	CURL *c = easy();
	struct curl_slist *h = curl_slist_append(NULL, "X-Test: hello world");

	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	perform(c, f, "/hooks/git%20hub?b=2&a=x%2By", &f->replies[0]);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void client_post(struct fixture *f)
{
	CURL *c = easy();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/octet-stream");

	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->upload);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->upload_len);
	perform(c, f, "/", &f->replies[0]);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* A body with a Content-Length over the cap; Expect lets the server refuse it unread. */
static void client_post_expect(struct fixture *f)
{
	CURL *c = easy();
	struct curl_slist *h = curl_slist_append(NULL, "Expect: 100-continue");

	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->upload);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->upload_len);
	perform(c, f, "/", &f->replies[0]);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* A chunked body: no Content-Length, so the cap is found while reading. */
static void client_post_chunked(struct fixture *f)
{
	CURL *c = easy();
	struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");

	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	perform(c, f, "/", &f->replies[0]);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void client_two_on_one_connection(struct fixture *f)
{
	CURL *c = easy();

	perform(c, f, "/one", &f->replies[0]);
	perform(c, f, "/two?x", &f->replies[1]);
	curl_easy_cleanup(c);
}

static void client_stop_in_handler(struct fixture *f)
{
	CURL *c = easy();

	perform(c, f, "/stop", &f->replies[0]);
	curl_easy_cleanup(c);
}

static void client_deferred(struct fixture *f)
{
	CURL *c = easy();

	perform(c, f, "/defer/a", &f->replies[0]);
	perform(c, f, "/now", &f->replies[1]);
	perform(c, f, "/headers", &f->replies[2]);
	curl_easy_cleanup(c);
}

/* MAX_DEFERRED requests at once, each on its own connection. */
static void client_many(struct fixture *f)
{
	CURLM *m = curl_multi_init();
	CURL *c[MAX_DEFERRED];
	char url[MAX_DEFERRED][128];
	int running = 0;

	for (int i = 0; i < MAX_DEFERRED; i++) {
		c[i] = easy();
		snprintf(url[i], sizeof(url[i]), "http://%s:%u/defer/%d", f->host, (unsigned)f->port, i);
		curl_easy_setopt(c[i], CURLOPT_URL, url[i]);
		curl_easy_setopt(c[i], CURLOPT_WRITEDATA, &f->many[i]);
		curl_multi_add_handle(m, c[i]);
	}
	do {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running);
	for (int i = 0; i < MAX_DEFERRED; i++) {
		curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &f->many[i].status);
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
	}
	curl_multi_cleanup(m);
}

/* A raw connection that has sent GET path and whose request the server has
 * deferred (waited for, at most CLIENT_TIMEOUT_MS). */
static int raw_deferred_request(struct fixture *f, const char *path)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	char req[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	assert_true(fd >= 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	assert_int_equal(send(fd, req, (size_t)n, 0), n);
	for (int i = 0; i < (int)CLIENT_TIMEOUT_MS && __atomic_load_n(&f->deferred, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(1000);
	assert_int_equal(__atomic_load_n(&f->deferred, __ATOMIC_SEQ_CST), 1);
	return fd;
}

/* The client goes away while its answer is deferred. */
static void client_gone(struct fixture *f)
{
	close(raw_deferred_request(f, "/defer/gone"));
}

/* The server stops while the request is deferred; the socket stays open. */
static void client_stays(struct fixture *f)
{
	f->sock = raw_deferred_request(f, "/defer/stays");
}

/* ---- tests ---- */

static void test_get_query_and_headers_reach_handler(void **state)
{
	struct fixture *f = *state;

	run(f, 1024, client_get);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->seen[0].method, "GET");
	assert_string_equal(f->seen[0].path, "/hooks/git%20hub");
	assert_string_equal(f->seen[0].query, "b=2&a=x%2By");
	assert_string_equal(f->seen[0].x_test, "hello world");
	assert_string_equal(f->seen[0].remote_addr, "127.0.0.1");
	assert_int_equal(f->seen[0].body_len, 0);
	assert_string_equal(f->seen[0].body, "");
	assert_true(f->seen[0].n_headers >= 3); /* Host, Accept, X-Test */
	assert_int_equal(f->replies[0].rc, CURLE_OK);
	assert_int_equal(f->replies[0].status, 200);
	assert_string_equal(f->replies[0].body, "{\"ok\":true}");
}

static void test_handler_status_type_and_body_returned(void **state)
{
	struct fixture *f = *state;

	f->reply_status = 201;
	f->reply_type = "application/x-amz-json-1.1";
	f->upload = "{\"Entries\":[]}";
	f->upload_len = strlen(f->upload);
	f->echo = true;
	run(f, 1024, client_post);
	assert_int_equal(f->replies[0].rc, CURLE_OK);
	assert_int_equal(f->replies[0].status, 201);
	assert_string_equal(f->replies[0].content_type, "application/x-amz-json-1.1");
	assert_int_equal(f->replies[0].body_len, f->upload_len);
	assert_string_equal(f->replies[0].body, f->upload);
}

static void test_large_post_body_byte_exact(void **state)
{
	struct fixture *f = *state;
	size_t len = 200 * 1024;
	char *body = malloc(len);
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < len; i++) { /* xorshift: every byte value, NULs included */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		body[i] = (char)(x & 0xff);
	}
	f->upload = body;
	f->upload_len = len;
	f->echo = true;
	run(f, 1024 * 1024, client_post);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->seen[0].method, "POST");
	assert_int_equal(f->seen[0].body_len, len);
	assert_memory_equal(f->seen[0].body, body, len);
	assert_int_equal(f->seen[0].body[len], '\0');
	assert_int_equal(f->replies[0].status, 200);
	assert_int_equal(f->replies[0].body_len, len);
	assert_memory_equal(f->replies[0].body, body, len);
	free(body);
}

static void test_body_at_limit_accepted(void **state)
{
	struct fixture *f = *state;
	char body[1024];

	memset(body, 'a', sizeof(body));
	f->upload = body;
	f->upload_len = sizeof(body);
	run(f, sizeof(body), client_post);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->seen[0].body_len, sizeof(body));
	assert_int_equal(f->replies[0].status, 200);
}

static void test_content_length_over_limit_is_413(void **state)
{
	struct fixture *f = *state;
	char body[4096];

	memset(body, 'a', sizeof(body));
	f->upload = body;
	f->upload_len = sizeof(body);
	run(f, 1024, client_post_expect);
	assert_int_equal(f->calls, 0);
	assert_int_equal(f->replies[0].rc, CURLE_OK);
	assert_int_equal(f->replies[0].status, 413);
	assert_string_equal(f->replies[0].content_type, "application/json");
	assert_string_equal(f->replies[0].body, "{\"message\":\"request body larger than 1024 bytes\"}");
}

static void test_chunked_body_over_limit_is_413(void **state)
{
	struct fixture *f = *state;
	char body[5000];

	memset(body, 'b', sizeof(body));
	f->upload = body;
	f->upload_len = sizeof(body);
	run(f, 1024, client_post_chunked);
	assert_int_equal(f->calls, 0);
	assert_int_equal(f->replies[0].rc, CURLE_OK);
	assert_int_equal(f->replies[0].status, 413);
	assert_string_equal(f->replies[0].body, "{\"message\":\"request body larger than 1024 bytes\"}");
}

static void test_chunked_body_within_limit(void **state)
{
	struct fixture *f = *state;
	char body[3000];

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	f->upload = body;
	f->upload_len = sizeof(body);
	run(f, sizeof(body), client_post_chunked);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->seen[0].body_len, sizeof(body));
	assert_memory_equal(f->seen[0].body, body, sizeof(body));
	assert_int_equal(f->replies[0].status, 200);
}

static void test_keep_alive_two_requests_one_connection(void **state)
{
	struct fixture *f = *state;

	run(f, 1024, client_two_on_one_connection);
	assert_int_equal(f->calls, 2);
	assert_string_equal(f->seen[0].path, "/one");
	assert_string_equal(f->seen[1].path, "/two");
	assert_string_equal(f->seen[1].query, "x");
	assert_int_equal(f->replies[0].status, 200);
	assert_int_equal(f->replies[1].status, 200);
	assert_int_equal(f->replies[0].num_connects, 1);
	assert_int_equal(f->replies[1].num_connects, 0); /* reused */
}

static void test_stop_from_inside_handler(void **state)
{
	struct fixture *f = *state;

	run(f, 1024, client_stop_in_handler);
	/* the loop finished (run() checks that every handle closed); the
	 * handler's own reply (the default 500, as it set nothing) may or may
	 * not have left before the connection was closed */
	assert_int_equal(f->calls, 1);
	if (f->replies[0].rc == CURLE_OK)
		assert_int_equal(f->replies[0].status, 500);
}

static void test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct http_server *s;
	int r;

	r = http_server_start(&f->loop, "::1", 0, &(struct http_limits){.max_body = 1024}, handler, f, &s);
	if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT)
		fail_msg("this host has no IPv6 loopback (::1): %s — the IPv6 listener cannot be tested",
			 strerror(-r));
	assert_int_equal(r, 0);
	http_server_stop(s);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);

	f->host = "[::1]";
	run_with(f, "::1", 1024, client_get);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->seen[0].remote_addr, "::1");
	assert_int_equal(f->replies[0].status, 200);
}

static const struct http_limits one_byte = {.max_body = 1};

static void on_noop(void *ctx, const struct http_request *req, struct http_response *ret)
{
	(void)ctx;
	(void)req;
	(void)ret;
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct http_server *a, *b = NULL;

	assert_int_equal(http_server_start(&f->loop, "localhost", 0, &one_byte, on_noop, NULL, &b), -EINVAL);
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1:80", 0, &one_byte, on_noop, NULL, &b), -EINVAL);
	assert_int_equal(http_server_start(&f->loop, NULL, 0, &one_byte, on_noop, NULL, &b), -EINVAL);
	assert_null(b);

	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", 0, &one_byte, on_noop, NULL, &a), 0);
	assert_int_equal(http_server_start(&f->loop, "127.0.0.1", http_server_port(a), &one_byte, on_noop, NULL, &b),
			 -EADDRINUSE);
	assert_null(b);
	http_server_stop(a);
	http_server_stop(NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_port_free_after_stop(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in in = {.sin_family = AF_INET};
	uint16_t port;
	int fd;

	run(f, 1024, client_get); /* a served request: connections existed */
	port = f->port;

	/* the listening socket is gone: another listener can take the port */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)), 0);
	in.sin_port = htons(port);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);

	/* and so can a new server (a daemon restart) */
	{
		uv_loop_t loop;
		struct http_server *s;

		assert_int_equal(uv_loop_init(&loop), 0);
		assert_int_equal(http_server_start(&loop, "127.0.0.1", port, &one_byte, on_noop, NULL, &s), 0);
		assert_int_equal(http_server_port(s), port);
		http_server_stop(s);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
		assert_int_equal(uv_loop_close(&loop), 0);
	}
}

/* A deferred answer given later from a timer, past the head timeout: the
 * connection waited and got it, then served a request answered inside the
 * handler and one with plain extra headers. */
static void test_deferred_answer_from_timer(void **state)
{
	struct fixture *f = *state;

	f->limits.request_head_timeout_s = 1;
	f->answer_after = 1;
	f->answer_delay_ms = 1500; /* longer than the head timeout, which must not apply */
	run(f, 1024, client_deferred);
	assert_int_equal(f->calls, 3);
	assert_int_equal(f->answer_rc[0], 0);
	assert_int_equal(f->replies[0].rc, CURLE_OK);
	assert_int_equal(f->replies[0].status, 202);
	assert_string_equal(f->replies[0].body, "/defer/a");
	assert_string_equal(f->replies[0].content_type, "text/plain");
	assert_string_equal(f->replies[0].retry_after, " 7");
	assert_int_equal(f->replies[1].status, 201);
	assert_string_equal(f->replies[1].body, "now");
	assert_string_equal(f->replies[1].retry_after, " 7");
	assert_int_equal(f->replies[1].num_connects, 0); /* the same connection */
	assert_int_equal(f->replies[2].status, 200);
	assert_string_equal(f->replies[2].retry_after, " 7");
}

/* Many requests deferred at once, each answered with its own path. */
static void test_many_deferred(void **state)
{
	struct fixture *f = *state;

	f->limits.max_connections = 2 * MAX_DEFERRED;
	f->limits.max_connections_per_client = 2 * MAX_DEFERRED;
	f->answer_after = MAX_DEFERRED;
	run(f, 1024, client_many);
	assert_int_equal(f->n_pending, MAX_DEFERRED);
	for (int i = 0; i < MAX_DEFERRED; i++) {
		char want[32];

		snprintf(want, sizeof(want), "/defer/%d", i);
		assert_int_equal(f->answer_rc[i], 0);
		assert_int_equal(f->many[i].status, 202);
		assert_non_null(f->many[i].body);
		assert_string_equal(f->many[i].body, want);
	}
}

/* The client closes before the answer: its connection is let go (the
 * server holds none), and the answer is refused with -ECONNRESET. */
static void test_deferred_client_gone(void **state)
{
	struct fixture *f = *state;

	f->answer_after = 1;
	f->manual_stop = true;
	f->wait_gone = true;
	run(f, 1024, client_gone);
	assert_int_equal(f->n_pending, 1);
	assert_int_equal(f->answer_rc[0], -ECONNRESET);
}

/* The server stops with a request deferred: the connection is closed, and
 * the answer given afterwards is refused and freed (ASan: nothing leaks). */
static void test_stop_with_deferred(void **state)
{
	struct fixture *f = *state;
	struct http_response a = {.status = 200};
	char b;

	run(f, 1024, client_stays);
	assert_int_equal(f->n_pending, 1);
	assert_true(recv(f->sock, &b, 1, 0) <= 0); /* closed without an answer */
	a.body = strdup("late");
	a.body_len = 4;
	assert_int_equal(http_pending_answer(f->pending[0], &a), -ECONNRESET);
	assert_null(a.body);
}

/* Outside a handler call, or for another response, nothing is deferred. */
static void test_defer_outside_handler(void **state)
{
	struct fixture *f = *state;
	struct http_response r = {0};

	assert_null(http_response_defer(&r));
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_query_and_headers_reach_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_status_type_and_body_returned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_post_body_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_at_limit_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_length_over_limit_is_413, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_body_over_limit_is_413, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_body_within_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_two_requests_one_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_inside_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_free_after_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_answer_from_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_client_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_outside_handler, setup, teardown),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
