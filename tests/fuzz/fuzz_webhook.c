/*
 * fuzz_webhook.c — libFuzzer target for the webhook request path:
 * webhook_request() (sources/webhook_internal.h) over four hooks, one per
 * auth — "gh" (github, with detail-type and id headers), "tok" (bearer),
 * "mac" (hmac with prefix "v1=" and a timestamp header, tolerance 300 s),
 * "open" (none) — and trusted proxies 127.0.0.1 and 10.0.0.0/8.
 *
 * The input: a flags byte, then the request as text: a first line
 * "METHOD PATH[?QUERY] PEER", header lines "Name: value" up to an empty
 * line, and the body (the rest). Flag bit 0 adds a correct signature
 * (X-Hub-Signature-256 for gh; X-Sig and X-Ts at the fixed clock for mac;
 * the bearer token for tok), so inputs reach the event builder past every
 * auth; bit 1 caps the envelope at 512 bytes.
 *
 * What must hold: the status is 0 (accepted, with an event) or one of 400,
 * 401, 404, 405, 413, 415, 500 with a reason and a message, and no event;
 * a 401 only for a hook with an auth; an accepted event is a JSON object
 * that jansson reads, with the hook's source, an id, and a "tripline"
 * member whose headers never hold a credential header or the hook's secret; the
 * message never holds the secret; the client address is empty or an
 * address inet_pton reads.
 * Nothing may crash, leak or trip the sanitizers.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "digest.h"
#include "event.h"
#include "json.h"
#include "webhook_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-S3cret-value"
#define NOW 1760000000
#define MAX_HEADERS 72

static struct config_webhook cfgs[] = {
	{.name = (char[]){"gh"}, .auth = CONFIG_WEBHOOK_AUTH_GITHUB,
	 .detail_type_header = (char[]){"X-GitHub-Event"}, .id_header = (char[]){"X-GitHub-Delivery"}},
	{.name = (char[]){"tok"}, .auth = CONFIG_WEBHOOK_AUTH_BEARER},
	{.name = (char[]){"mac"}, .auth = CONFIG_WEBHOOK_AUTH_HMAC, .signature_header = (char[]){"X-Sig"},
	 .signature_prefix = (char[]){"v1="}, .timestamp_header = (char[]){"X-Ts"}, .tolerance_s = 300},
	{.name = (char[]){"open"}, .auth = CONFIG_WEBHOOK_AUTH_NONE},
};
#define N_HOOKS (sizeof(cfgs) / sizeof(cfgs[0]))

static struct webhook_hook hooks[N_HOOKS];
static struct webhook_proxies proxies;
static bool ready;

static void setup(void)
{
	char *list[] = {(char[]){"127.0.0.1"}, (char[]){"10.0.0.0/8"}};
	struct config_strv strv = {.n = 2, .v = list};
	char err[200];

	for (size_t i = 0; i < N_HOOKS; i++) {
		hooks[i].name = cfgs[i].name;
		hooks[i].cfg = &cfgs[i];
		hooks[i].source = "fuzz.source";
		hooks[i].detail_type = "Webhook";
		hooks[i].bus = "default";
		if (webhook_auth_init(&hooks[i].auth, &cfgs[i], SECRET) < 0)
			abort();
	}
	if (webhook_proxies_parse(&strv, &proxies, err, sizeof(err)) < 0)
		abort();
	ready = true;
}

/* The next line of [*p, end) (without its "\n" or "\r\n"), NUL-terminated in place. */
static char *next_line(char **p, char *end)
{
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (!nl)
		return NULL;
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	*p = nl + 1;
	return s;
}

/* The envelope is read with the strict reader (jansson refuses numbers
 * past its range, which the body may hold); the extension, which jansson
 * wrote, with jansson. */
static void check_event(const struct webhook_verdict *v)
{
	struct jdoc *doc = NULL;
	const struct jnode *root, *ext, *src, *id;
	json_t *w, *headers, *val;
	const char *key;
	char *text;

	if (jdoc_parse(v->ev->json, v->ev->len, NULL, &doc, NULL) < 0)
		abort();
	root = jdoc_root(doc);
	ext = jnode_get(root, "tripline");
	src = jnode_get(root, "source");
	id = jnode_get(root, "id");
	if (root->type != JNODE_OBJECT || !ext || ext->type != JNODE_OBJECT || !src || !jnode_streq(src, "fuzz.source") ||
	    !id || !jnode_streq(id, v->ev->id))
		abort();
	w = json_loadb(v->ev->json + ext->offset, ext->end - ext->offset, 0, NULL);
	jdoc_free(doc);
	headers = json_object_get(json_object_get(w, "webhook"), "headers");
	if (!json_is_object(headers))
		abort();
	json_object_foreach(headers, key, val) {
		if (strcmp(key, "authorization") == 0 || strcmp(key, "cookie") == 0 ||
		    strcmp(key, "x-hub-signature-256") == 0 || webhook_header_hidden(&v->hook->auth, key))
			abort();
	}
	text = json_dumps(w, JSON_COMPACT);
	if (!text || (v->hook->auth.secret && strstr(text, SECRET)))   /* "open" has no secret */
		abort();
	free(text);
	json_decref(w);
}

static void check_addr(const struct http_request *req)
{
	char out[WEBHOOK_ADDR_MAX];
	unsigned char a[16];

	webhook_client_addr(&proxies, req, out);
	if (out[0] && inet_pton(AF_INET, out, a) != 1 && inet_pton(AF_INET6, out, a) != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header hs[MAX_HEADERS + 3];
	struct http_request req = {0};
	struct webhook_set set;
	struct webhook_verdict v;
	char *buf, *p, *end, *line, *sp, *q;
	const char *target;
	char sig[128], ts[24], bearer[64], path[512];
	unsigned flags;
	size_t n = 0;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	flags = data[0];
	if (!(buf = malloc(size)))
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	p = buf;
	end = buf + size - 1;
	if (!(line = next_line(&p, end)))
		goto out;
	/* METHOD PATH[?QUERY] PEER */
	req.method = line;
	sp = strchr(line, ' ');
	target = sp ? sp + 1 : "";
	if (sp)
		*sp = '\0';
	sp = sp ? strchr(sp + 1, ' ') : NULL;
	req.remote_addr = sp ? sp + 1 : "";
	if (sp)
		*sp = '\0';
	snprintf(path, sizeof(path), "%s", target);
	req.path = path;
	req.query = "";
	if ((q = strchr(path, '?'))) {
		*q = '\0';
		req.query = q + 1;
	}
	while (n < MAX_HEADERS && (line = next_line(&p, end)) && *line) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (colon++; *colon == ' '; colon++)
			;
		hs[n].name = line;
		hs[n++].value = colon;
	}
	req.body = p;
	req.body_len = (size_t)(end - p);
	if (flags & 1) {
		unsigned char mac[DIGEST_SHA256_LEN];
		char hex[DIGEST_SHA256_HEX_LEN + 1], *msg;

		snprintf(ts, sizeof(ts), "%d", NOW);
		if (strcmp(path, "/hooks/mac") == 0) {
			if (!(msg = malloc(strlen(ts) + 1 + req.body_len + 1)))
				goto out;
			memcpy(msg, ts, strlen(ts));
			msg[strlen(ts)] = '.';
			memcpy(msg + strlen(ts) + 1, req.body, req.body_len);
			digest_hmac_sha256(SECRET, strlen(SECRET), msg, strlen(ts) + 1 + req.body_len, mac);
			free(msg);
			digest_hex(mac, sizeof(mac), hex);
			snprintf(sig, sizeof(sig), "v1=%s", hex);
			hs[n++] = (struct http_header){"X-Sig", sig};
			hs[n++] = (struct http_header){"X-Ts", ts};
		} else {
			digest_hmac_sha256(SECRET, strlen(SECRET), req.body, req.body_len, mac);
			digest_hex(mac, sizeof(mac), hex);
			snprintf(sig, sizeof(sig), "sha256=%s", hex);
			snprintf(bearer, sizeof(bearer), "Bearer %s", SECRET);
			hs[n++] = (struct http_header){"X-Hub-Signature-256", sig};
			hs[n++] = (struct http_header){"Authorization", bearer};
		}
	}
	req.headers = hs;
	req.n_headers = n;

	set = (struct webhook_set){.hooks = hooks, .n = N_HOOKS, .proxies = &proxies, .prefix = "/hooks/",
				   .account = "000000000000", .region = "local",
				   .max_event_bytes = flags & 2 ? 512 : 1 << 20};
	webhook_request(&set, &req, NOW, &v);
	switch (v.status) {
	case 0:
		if (!v.ev || !v.hook)
			abort();
		check_event(&v);
		event_unref(v.ev);
		break;
	case 400: case 401: case 404: case 405: case 413: case 415: case 500:
		if (v.ev || !v.reason || !v.message[0] || strstr(v.message, SECRET))
			abort();
		if (v.status == 401 && (!v.hook || v.hook->auth.kind == CONFIG_WEBHOOK_AUTH_NONE))
			abort();
		break;
	default:
		abort();
	}
	check_addr(&req);
	(void)webhook_content_type_json(http_request_header(&req, "Content-Type"));
out:
	free(buf);
	return 0;
}
