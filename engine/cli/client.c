/*
 * client.c — the synchronous AWS JSON 1.1 client (client.h) over libcurl's
 * easy interface; the only file of the CLI that includes libcurl.
 *
 * The endpoint is parsed once, with libcurl's URL parser, into the URL to
 * fetch, the Host header (host as written, ":port" when the URL has one) and
 * the path; the request is signed over exactly those, and the Host header is
 * sent explicitly so that what was signed is what goes on the wire. One easy
 * handle is kept for the client's life, so consecutive calls reuse the
 * connection. Redirects are not followed (a signed request must not wander),
 * only http and https are spoken, and the answer is capped at
 * CLIENT_MAX_RESPONSE bytes: past it the transfer is aborted.
 */
#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "sigv4.h"

#define CLIENT_MAX_TARGET 256       /* bytes of an X-Amz-Target */
#define CLIENT_TEXT_SNIPPET 200     /* bytes of a non-JSON answer kept for messages */

struct client {
	CURL *curl;
	char *endpoint;       /* as given */
	char *url;            /* normalised by libcurl */
	char *host_header;    /* "host[:port]" */
	char *path;           /* percent-encoded, as sent */
	char *region;
	char *service;
	char *akid;           /* NULL: unsigned */
	char *secret;
	char *session_token;
	long connect_timeout_ms;
	long timeout_ms;
	bool global_init;
};

struct resp_buf {
	char *p;
	size_t len, cap;
	bool too_big;
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* A header value must be one line of printable text. */
static bool header_safe(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return false;
	return n > 0 && n <= max;
}

/* Splits the endpoint into the client's url, host_header and path. */
static int parse_endpoint(struct client *c, const char *endpoint, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
	     *frag = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (strlen(endpoint) > CLIENT_MAX_ENDPOINT || !header_safe(endpoint, CLIENT_MAX_ENDPOINT)) {
		snprintf(err, errlen, "the endpoint must be an http:// or https:// URL of at most %d bytes",
			 CLIENT_MAX_ENDPOINT);
		goto out_free;
	}
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, endpoint, 0);
	if (uc == CURLUE_OUT_OF_MEMORY) {
		r = -ENOMEM;
		goto out_free;
	}
	if (uc != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
		snprintf(err, errlen, "endpoint '%.300s': not an http:// or https:// URL with a host",
			 endpoint);
		goto out_free;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
		snprintf(err, errlen, "endpoint '%.300s': user info, a query or a fragment is not allowed",
			 endpoint);
		goto out_free;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);   /* absent: the scheme's default */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &c->url, 0) != CURLUE_OK) {
		r = -ENOMEM;
		goto out_free;
	}
	size_t hlen = strlen(host) + (port ? 1 + strlen(port) : 0) + 1;
	c->host_header = malloc(hlen);
	c->path = strdup(path[0] ? path : "/");
	if (!c->host_header || !c->path) {
		r = -ENOMEM;
		goto out_free;
	}
	snprintf(c->host_header, hlen, "%s%s%s", host, port ? ":" : "", port ? port : "");
	r = 0;
out_free:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_free(frag);
	curl_url_cleanup(u);
	return r;
}

static char *dup_or_null(const char *s, bool *nomem)
{
	char *d;
	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		*nomem = true;
	return d;
}

/* Signs one throw-away request, so that a key or region SigV4 cannot carry
 * is reported when the client is made rather than at the first call. */
static int check_signing(const struct client *c, char *err, size_t errlen)
{
	struct sigv4_header h = {"host", 4, c->host_header, strlen(c->host_header)};
	struct sigv4_request req = {"POST", c->path, NULL, &h, 1, NULL, 0};
	char auth[SIGV4_HEADER_MAX + 1], date[SIGV4_AMZ_DATE_LEN + 1];

	int r = sigv4_sign(&req, time(NULL), c->akid, c->secret, c->region, c->service, auth,
			   sizeof(auth), date);
	explicit_bzero(auth, sizeof(auth));
	if (r == -EINVAL)
		snprintf(err, errlen, "cannot sign requests with access key id '%.130s' in region '%.70s' "
			 "(a key id of 1 to %d printable characters, a secret of at most %d bytes and a "
			 "region of [a-z0-9-] are needed)", c->akid, c->region, SIGV4_AKID_MAX,
			 SIGV4_SECRET_MAX);
	else if (r < 0)
		snprintf(err, errlen, "cannot sign requests: %s", strerror(-r));
	return r;
}

int client_new(const struct client_options *opt, struct client **ret, char *err, size_t errlen)
{
	struct client *c;
	bool nomem = false;
	int r;

	*ret = NULL;
	if (errlen)
		err[0] = '\0';
	if (!opt->endpoint) {
		snprintf(err, errlen, "no endpoint");
		return -EINVAL;
	}
	if (!opt->access_key_id != !opt->secret_access_key) {
		snprintf(err, errlen, "an access key id needs its secret access key, and the other way round");
		return -EINVAL;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl could not be initialised");
		free(c);
		return -ENOMEM;
	}
	c->global_init = true;
	c->connect_timeout_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms
							    : CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
	c->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
	c->endpoint = dup_or_null(opt->endpoint, &nomem);
	c->region = dup_or_null(opt->region ? opt->region : "local", &nomem);
	c->service = dup_or_null(opt->service ? opt->service : "ecs", &nomem);
	c->akid = dup_or_null(opt->access_key_id, &nomem);
	c->secret = dup_or_null(opt->secret_access_key, &nomem);
	c->session_token = dup_or_null(opt->session_token, &nomem);
	if (nomem) {
		r = -ENOMEM;
		goto out_free;
	}
	if (c->session_token && !header_safe(c->session_token, SIGV4_HEADER_MAX)) {
		snprintf(err, errlen, "the session token must be one line of at most %d bytes",
			 SIGV4_HEADER_MAX);
		r = -EINVAL;
		goto out_free;
	}
	if ((r = parse_endpoint(c, opt->endpoint, err, errlen)) < 0)
		goto out_free;
	if (c->akid && (r = check_signing(c, err, errlen)) < 0)
		goto out_free;
	if (!(c->curl = curl_easy_init())) {
		r = -ENOMEM;
		goto out_free;
	}
	*ret = c;
	return 0;
out_free:
	if (r == -ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "out of memory");
	client_free(c);
	return r;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->endpoint);
	curl_free(c->url);
	free(c->host_header);
	free(c->path);
	free(c->region);
	free(c->service);
	free(c->akid);
	wipe_free(c->secret);
	wipe_free(c->session_token);
	if (c->global_init)
		curl_global_cleanup();
	free(c);
}

const char *client_endpoint(const struct client *c)
{
	return c->endpoint;
}

void client_reply_clear(struct client_reply *r)
{
	json_decref(r->body);
	free(r->text);
	r->body = NULL;
	r->text = NULL;
	r->status = 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
	struct resp_buf *b = ud;
	size_t n = size * nmemb;

	if (n > CLIENT_MAX_RESPONSE - b->len) {
		b->too_big = true;
		return 0;   /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* Adds "Name: value" to *list. */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *line = malloc(n);
	if (!line)
		return -ENOMEM;
	snprintf(line, n, "%s: %s", name, value);
	struct curl_slist *l = curl_slist_append(*list, line);
	explicit_bzero(line, n);   /* it may be the Authorization header */
	free(line);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* Signs the request: adds X-Amz-Date and Authorization to *list. */
static int sign(const struct client *c, const char *target, const char *body, size_t body_len,
		struct curl_slist **list, char *err, size_t errlen)
{
	static const char ctype[] = "application/x-amz-json-1.1";
	struct sigv4_header h[4] = {
		{"host", 4, c->host_header, strlen(c->host_header)},
		{"content-type", 12, ctype, sizeof(ctype) - 1},
		{"x-amz-target", 12, target, strlen(target)},
		{"x-amz-security-token", 20, c->session_token,
		 c->session_token ? strlen(c->session_token) : 0},
	};
	struct sigv4_request req = {"POST", c->path, NULL, h, c->session_token ? 4 : 3, body, body_len};
	char auth[SIGV4_HEADER_MAX + 1], date[SIGV4_AMZ_DATE_LEN + 1];
	int r = sigv4_sign(&req, time(NULL), c->akid, c->secret, c->region, c->service, auth,
			   sizeof(auth), date);

	if (r < 0) {
		snprintf(err, errlen, "cannot sign the request: %s", strerror(-r));
		return r;
	}
	r = add_header(list, "X-Amz-Date", date);
	if (r == 0)
		r = add_header(list, "Authorization", auth);
	explicit_bzero(auth, sizeof(auth));
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	return r;
}

/* Turns a failed transfer into a negative errno and a message. */
static int transfer_error(const struct client *c, CURLcode cc, const struct resp_buf *b,
			  const char *detail, char *err, size_t errlen)
{
	const char *why = detail[0] ? detail : curl_easy_strerror(cc);

	if (b->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "the answer from %s is larger than %zu bytes", c->endpoint,
			 CLIENT_MAX_RESPONSE);
		return -EFBIG;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errlen, "cannot connect to %s: %s", c->endpoint, why);
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(err, errlen, "cannot reach %s: %s", c->endpoint, why);
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "no answer from %s in time: %s", c->endpoint, why);
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	case CURLE_WRITE_ERROR:   /* not too big: on_data could not grow the buffer */
		snprintf(err, errlen, "out of memory reading the answer from %s", c->endpoint);
		return -ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_HTTP2:
		snprintf(err, errlen, "talking to %s failed: %s", c->endpoint, why);
		return -EPROTO;
	default:
		snprintf(err, errlen, "the request to %s failed: %s", c->endpoint, why);
		return -EIO;
	}
}

/* The first bytes of a non-JSON answer, one line of printable text. */
static char *snippet(const char *p, size_t len)
{
	size_t n = len < CLIENT_TEXT_SNIPPET ? len : CLIENT_TEXT_SNIPPET;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		s[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	s[n] = '\0';
	return s;
}

int client_call(struct client *c, const char *target, const json_t *request, struct client_reply *ret,
		char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct resp_buf b = {NULL, 0, 0, false};
	char detail[CURL_ERROR_SIZE];
	char *body = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (errlen)
		err[0] = '\0';
	if (!header_safe(target, CLIENT_MAX_TARGET)) {
		snprintf(err, errlen, "invalid operation name");
		return -EINVAL;
	}
	body = request ? json_dumps(request, JSON_COMPACT) : strdup("{}");
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	size_t body_len = strlen(body);

	if ((r = add_header(&hdrs, "Host", c->host_header)) < 0 ||
	    (r = add_header(&hdrs, "Content-Type", "application/x-amz-json-1.1")) < 0 ||
	    (r = add_header(&hdrs, "X-Amz-Target", target)) < 0 ||
	    (c->session_token && (r = add_header(&hdrs, "X-Amz-Security-Token", c->session_token)) < 0)) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	/* no "Expect: 100-continue" round trip for bodies over 1 KiB */
	struct curl_slist *l = curl_slist_append(hdrs, "Expect:");
	if (!l) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	hdrs = l;
	if (c->akid && (r = sign(c, target, body, body_len, &hdrs, err, errlen)) < 0)
		goto out_free;

	CURL *h = c->curl;
	detail[0] = '\0';
	curl_easy_reset(h);
	if (curl_easy_setopt(h, CURLOPT_URL, c->url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "tripline/" TRIPLINE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CLIENT_MAX_RESPONSE) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) != CURLE_OK) {
		r = -ENOMEM;
		snprintf(err, errlen, "libcurl refused an option (out of memory?)");
		goto out_free;
	}
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		r = transfer_error(c, cc, &b, detail, err, errlen);
		goto out_free;
	}
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	ret->status = status;
	if (b.len) {
		json_error_t je;
		ret->body = json_loadb(b.p, b.len, JSON_ALLOW_NUL, &je);   /* logs may hold NUL bytes */
		if (!ret->body && !(ret->text = snippet(b.p, b.len))) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out_free;
		}
	}
	r = 0;
out_free:
	if (r < 0)
		client_reply_clear(ret);
	/* the options point at body, hdrs and detail: drop them with those */
	curl_easy_reset(c->curl);
	curl_slist_free_all(hdrs);
	free(body);
	free(b.p);
	return r;
}

const char *client_error_type(const struct client_reply *r)
{
	const char *t = json_string_value(json_object_get(r->body, "__type"));
	if (!t)
		return NULL;
	const char *hash = strrchr(t, '#');
	return hash ? hash + 1 : t;
}

const char *client_error_message(const struct client_reply *r)
{
	const char *m = json_string_value(json_object_get(r->body, "message"));
	return m ? m : json_string_value(json_object_get(r->body, "Message"));
}
