/*
 * webhook_request.c — one webhook request, from its bytes to its event or
 * its refusal (webhook_internal.h), with no I/O: webhook.c submits what it
 * builds and answers; the unit tests and the fuzz target call it directly.
 *
 * The checks run in a fixed order, and the first that fails decides the
 * answer: the method (405, Allow: POST), the hook name (404), the
 * Content-Type (415), the signature or token (401, one message whatever
 * failed), the body (400: not JSON, or not an object), the id header
 * (400: present but not 1..EVENT_MAX_ID printable ASCII characters without
 * spaces — a sender's retries must keep their id, so a bad one is refused
 * rather than replaced), the query text (400: not UTF-8), the envelope's
 * size (413 past limits.max_event_bytes). The listener has already
 * answered 413 for a body over limits.max_request_bytes.
 *
 * The event: source and bus from the hook, detail-type from the
 * detail_type_header's value when it is 1..128 printable ASCII characters
 * (else the hook's default), id from id_header (else a random UUID v4),
 * detail the body as sent (compacted), and the extension "tripline" of
 * webhook_extension(). What the ingest's result becomes is
 * webhook_ingested()'s: 202, or 503 (Retry-After for a full bus), or 500.
 */
#include "webhook_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "event.h"
#include "json.h"

static void refuse(struct webhook_verdict *v, unsigned status, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void refuse(struct webhook_verdict *v, unsigned status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
}

static const struct webhook_hook *find_hook(const struct webhook_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->hooks[i].name, name) == 0)
			return &set->hooks[i];
	return NULL;
}

/* ------------------------------------------------------------ the extension */

/* name in lower case into out (false: too long or not a token's bytes). */
static bool lower_name(const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	if (n == 0 || n >= outlen)
		return false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x80 || (c && c <= 0x20))
			return false;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	return true;
}

static bool holds_secret(const struct webhook_auth *a, const char *value)
{
	return a->secret && a->secret_len && memmem(value, strlen(value), a->secret, a->secret_len);
}

/* Adds one header to headers: false when it had to be dropped. */
static bool add_header(json_t *headers, const char *lname, const char *value)
{
	json_t *old = json_object_get(headers, lname), *s;
	size_t vlen = strlen(value);

	if (old) {
		size_t olen = json_string_length(old);
		char *joined;

		if (olen + 2 + vlen > WEBHOOK_MAX_HEADER_VALUE || !(joined = malloc(olen + 2 + vlen + 1)))
			return false;
		memcpy(joined, json_string_value(old), olen);
		memcpy(joined + olen, ", ", 2);
		memcpy(joined + olen + 2, value, vlen + 1);
		s = json_stringn(joined, olen + 2 + vlen);
		free(joined);
	} else {
		if (json_object_size(headers) >= WEBHOOK_MAX_HEADERS || vlen > WEBHOOK_MAX_HEADER_VALUE)
			return false;
		s = json_stringn(value, vlen);   /* NULL: not UTF-8 */
	}
	return s && json_object_set_new(headers, lname, s) == 0;
}

int webhook_extension(const struct webhook_hook *h, const struct http_request *req, const char *source_ip,
		      char **ret, size_t *ret_len)
{
	const char *qtext = req->query && !holds_secret(&h->auth, req->query) ? req->query : "";
	json_t *headers = json_object(), *query = json_string(qtext), *hook, *ext;
	size_t dropped = 0;
	char lname[256];
	char *text;

	*ret = NULL;
	if (!headers || !query) {
		json_decref(headers);
		json_decref(query);
		return headers ? -EINVAL : -ENOMEM;   /* jansson refuses a string that is not UTF-8 */
	}
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *hd = &req->headers[i];

		if (webhook_header_hidden(&h->auth, hd->name) || holds_secret(&h->auth, hd->name) ||
		    holds_secret(&h->auth, hd->value))
			continue;
		if (!lower_name(hd->name, lname, sizeof(lname)) || !add_header(headers, lname, hd->value))
			dropped++;
	}
	hook = json_pack("{s:s,s:o,s:o,s:s}", "name", h->name, "headers", headers, "query", query, "source_ip",
			 source_ip);
	if (hook && dropped && json_object_set_new(hook, "headers_dropped", json_integer((json_int_t)dropped)) < 0) {
		json_decref(hook);
		hook = NULL;
	}
	ext = hook ? json_pack("{s:o}", "webhook", hook) : NULL;
	text = ext ? json_dumps(ext, JSON_COMPACT) : NULL;
	json_decref(ext);
	if (!text)
		return -ENOMEM;
	*ret = text;
	*ret_len = strlen(text);
	return 0;
}

/* ------------------------------------------------------------ the request */

/* Whether the body is a JSON object; if not, the 400 (500 out of memory). */
static bool body_ok(const struct http_request *req, struct webhook_verdict *v)
{
	struct json_error jerr = {0};
	struct jdoc *doc = NULL;
	int r = jdoc_parse(req->body, req->body_len, NULL, &doc, &jerr);
	bool object = r == 0 && jdoc_root(doc)->type == JNODE_OBJECT;

	jdoc_free(doc);
	if (r == -ENOMEM)
		refuse(v, 500, "internal", "out of memory");
	else if (r < 0)
		refuse(v, 400, "json", "the body is not valid JSON: %s at line %u, column %u", jerr.message, jerr.line,
		       jerr.column);
	else if (!object)
		refuse(v, 400, "json", "the body must be a JSON object");
	return object;
}

static void build(const struct webhook_set *set, const struct webhook_hook *h, const struct http_request *req,
		  int64_t now_s, struct webhook_verdict *v)
{
	const char *dt = h->cfg->detail_type_header ? http_request_header(req, h->cfg->detail_type_header) : NULL;
	const char *id = h->cfg->id_header ? http_request_header(req, h->cfg->id_header) : NULL;
	char ip[WEBHOOK_ADDR_MAX];
	char *ext = NULL;
	size_t ext_len = 0;
	int r;

	/* the body is read once, by event_build(); only a refusal reads it
	 * again, for its message, and a body fault comes before the others */
	if (id && !webhook_printable(id, EVENT_MAX_ID, false)) {
		if (body_ok(req, v))
			refuse(v, 400, "id", "the %s header must be 1 to %u printable ASCII characters without spaces",
			       h->cfg->id_header, EVENT_MAX_ID);
		return;
	}
	if (!dt || !webhook_printable(dt, WEBHOOK_MAX_DETAIL_TYPE, true))
		dt = h->detail_type;
	webhook_client_addr(set->proxies, req, ip);
	r = webhook_extension(h, req, ip, &ext, &ext_len);
	if (r == -EINVAL) {
		if (body_ok(req, v))
			refuse(v, 400, "query", "the query string is not valid UTF-8");
		return;
	}
	if (r == 0) {
		struct event_fields f = {
			.id = id,
			.source = h->source,
			.detail_type = dt,
			.detail = req->body,
			.detail_len = req->body_len,
			.time_s = now_s,
			.account = set->account,
			.region = set->region,
			.extension = ext,
			.extension_len = ext_len,
		};
		r = event_build(&f, h->bus, &v->ev);
	}
	free(ext);
	if (r == -EINVAL && !body_ok(req, v))
		return;
	if (r < 0) {
		refuse(v, 500, "internal", "%s", r == -ENOMEM ? "out of memory" : "the event could not be built");
		return;
	}
	if (set->max_event_bytes && v->ev->len > set->max_event_bytes) {
		refuse(v, 413, "too_large", "the event would be %zu bytes, over limits.max_event_bytes (%zu)",
		       v->ev->len, set->max_event_bytes);
		event_unref(v->ev);
		v->ev = NULL;
	}
}

void webhook_request(const struct webhook_set *set, const struct http_request *req, int64_t now_s,
		     struct webhook_verdict *v)
{
	char name[256];
	int r;

	memset(v, 0, sizeof(*v));
	if (webhook_path_name(req->path, set->prefix, name, sizeof(name)) == 0)
		v->hook = find_hook(set, name);
	if (strcmp(req->method, "POST") != 0) {
		refuse(v, 405, "method", "%s", "webhooks take POST");
		return;
	}
	if (!v->hook) {
		refuse(v, 404, "not_found", "%s", "no webhook of that name");
		return;
	}
	if (!webhook_content_type_json(http_request_header(req, "Content-Type"))) {
		refuse(v, 415, "content_type", "%s", "Content-Type must be application/json");
		return;
	}
	r = webhook_auth_check(&v->hook->auth, req, now_s);
	if (r == -EACCES) {
		refuse(v, 401, "signature", "%s", "the request's signature or token is missing or not valid");
		return;
	}
	if (r < 0) {
		refuse(v, 500, "internal", "%s", "the signature could not be checked");
		return;
	}
	build(set, v->hook, req, now_s, v);
}

void webhook_ingested(int result, struct webhook_verdict *v)
{
	memset(v, 0, sizeof(*v));
	switch (result) {
	case 0:
		v->status = 202;
		break;
	case -EAGAIN:
		refuse(v, 503, "bus_full", "%s", "the event bus is full; retry later");
		v->retry_after = true;
		break;
	case -ENOSPC:
	case -EIO:
		refuse(v, 503, "journal", "%s", "the event journal cannot take the event now; retry later");
		break;
	case -ECANCELED:
		refuse(v, 503, "stopping", "%s", "the daemon is stopping; retry later");
		break;
	case -ENOENT:
		refuse(v, 500, "no_bus", "%s", "the webhook's event bus does not exist");
		break;
	default:
		refuse(v, 500, "internal", "%s", "the event could not be accepted");
		break;
	}
}
