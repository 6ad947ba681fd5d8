/*
 * webhook_auth.c — the webhook source's pure parts (webhook_internal.h):
 * signatures and tokens, the headers an event may show, the client's
 * address behind trusted proxies, and the small checks of a request's
 * path, content type and header values.
 *
 * Signatures (all HMAC-SHA-256 with the hook's secret as the key, written
 * as hex, either case):
 *   - github: "X-Hub-Signature-256: sha256=<hex>" of the raw body;
 *   - hmac: "<signature_header>: <signature_prefix><hex>" of the raw body,
 *     or with a timestamp_header of "<timestamp>.<raw body>" (Stripe's
 *     signed payload; the timestamp whole seconds since the epoch, and
 *     refused further than tolerance_s from now either way);
 *   - bearer: "Authorization: Bearer <secret>" (the scheme in any case).
 * The supplied digest is decoded and compared with the expected one by
 * digest_equal(); a bearer token is compared as the SHA-256 of the token
 * against the SHA-256 of the secret, so neither the bytes nor the length
 * of the secret show in the time taken. A malformed header fails at once:
 * its shape is the sender's, not a secret.
 */
#include "webhook_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TIMESTAMP_MAX_DIGITS 12u   /* seconds: enough until the year 30000 */

int webhook_auth_init(struct webhook_auth *a, const struct config_webhook *h, const char *secret)
{
	memset(a, 0, sizeof(*a));
	a->kind = h->auth;
	a->secret = h->auth == CONFIG_WEBHOOK_AUTH_NONE ? NULL : secret;
	a->secret_len = a->secret ? strlen(a->secret) : 0;
	switch (h->auth) {
	case CONFIG_WEBHOOK_AUTH_GITHUB:
		a->signature_header = WEBHOOK_GITHUB_HEADER;
		a->signature_prefix = WEBHOOK_GITHUB_PREFIX;
		break;
	case CONFIG_WEBHOOK_AUTH_HMAC:
		a->signature_header = h->signature_header;
		a->signature_prefix = h->signature_prefix ? h->signature_prefix : "";
		a->timestamp_header = h->timestamp_header;
		a->tolerance_s = h->tolerance_s ? h->tolerance_s : CONFIG_WEBHOOK_DEFAULT_TOLERANCE_S;
		break;
	case CONFIG_WEBHOOK_AUTH_BEARER:
		return digest_sha256(a->secret ? a->secret : "", a->secret_len, a->secret_sha);
	case CONFIG_WEBHOOK_AUTH_NONE:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------ signatures */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits into 32 bytes; false otherwise. */
static bool hex_digest(const char *s, unsigned char out[DIGEST_SHA256_LEN])
{
	if (strlen(s) != DIGEST_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* Whole seconds since the epoch, digits only; false otherwise. */
static bool parse_timestamp(const char *s, int64_t *ret)
{
	size_t n = strlen(s);
	int64_t v = 0;

	if (n == 0 || n > TIMESTAMP_MAX_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* The HMAC of the body, or of "<ts>.<body>" when ts is not NULL. */
static int expected_hmac(const struct webhook_auth *a, const char *ts, const struct http_request *req,
			 unsigned char out[DIGEST_SHA256_LEN])
{
	size_t tlen, len;
	char *msg;
	int r;

	if (!ts)
		return digest_hmac_sha256(a->secret, a->secret_len, req->body, req->body_len, out);
	tlen = strlen(ts);
	len = tlen + 1 + req->body_len;
	if (!(msg = malloc(len + 1)))
		return -ENOMEM;
	memcpy(msg, ts, tlen);
	msg[tlen] = '.';
	memcpy(msg + tlen + 1, req->body, req->body_len);
	r = digest_hmac_sha256(a->secret, a->secret_len, msg, len, out);
	free(msg);
	return r;
}

static int check_signature(const struct webhook_auth *a, const struct http_request *req, int64_t now_s)
{
	const char *sig = a->signature_header ? http_request_header(req, a->signature_header) : NULL;
	size_t plen = strlen(a->signature_prefix ? a->signature_prefix : "");
	unsigned char want[DIGEST_SHA256_LEN], got[DIGEST_SHA256_LEN];
	const char *ts = NULL;
	int64_t t;
	int r;

	if (!a->secret || !sig || strncmp(sig, a->signature_prefix ? a->signature_prefix : "", plen) != 0 ||
	    !hex_digest(sig + plen, got))
		return -EACCES;
	if (a->timestamp_header) {
		ts = http_request_header(req, a->timestamp_header);
		if (!ts || !parse_timestamp(ts, &t) || t > now_s + (int64_t)a->tolerance_s ||
		    t < now_s - (int64_t)a->tolerance_s)
			return -EACCES;
	}
	if ((r = expected_hmac(a, ts, req, want)) < 0)
		return r;
	return digest_equal(want, got, sizeof(want)) ? 0 : -EACCES;
}

static int check_bearer(const struct webhook_auth *a, const struct http_request *req)
{
	const char *h = http_request_header(req, "Authorization");
	unsigned char got[DIGEST_SHA256_LEN];
	int r;

	if (!a->secret || !h || strncasecmp(h, "Bearer ", 7) != 0)
		return -EACCES;
	for (h += 7; *h == ' '; h++)
		;
	if ((r = digest_sha256(h, strlen(h), got)) < 0)
		return r;
	return digest_equal(a->secret_sha, got, sizeof(got)) ? 0 : -EACCES;
}

int webhook_auth_check(const struct webhook_auth *a, const struct http_request *req, int64_t now_s)
{
	switch (a->kind) {
	case CONFIG_WEBHOOK_AUTH_NONE:
		return 0;
	case CONFIG_WEBHOOK_AUTH_BEARER:
		return check_bearer(a, req);
	case CONFIG_WEBHOOK_AUTH_GITHUB:
	case CONFIG_WEBHOOK_AUTH_HMAC:
		return check_signature(a, req, now_s);
	}
	return -EACCES;
}

/* ------------------------------------------------------------ headers */

bool webhook_header_hidden(const struct webhook_auth *a, const char *name)
{
	static const char *const words[] = {"authorization", "cookie", "token", "secret", "signature",
					    "password", "api-key", "apikey"};
	char lower[256];
	size_t n = strlen(name);

	if (strcasecmp(name, "X-Hub-Signature") == 0 || strcasecmp(name, WEBHOOK_GITHUB_HEADER) == 0 ||
	    (a->signature_header && strcasecmp(name, a->signature_header) == 0))
		return true;
	if (n >= sizeof(lower))
		return true;   /* a name this long is not shown: it could hide anything */
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + ('a' - 'A') : name[i]);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------ addresses */

void webhook_proxies_free(struct webhook_proxies *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* "ADDRESS/32" (IPv4) or "ADDRESS/128" (IPv6): one address, which
 * cidr_parse() refuses as event-ruler does. */
static bool whole_address(const char *s)
{
	const char *slash = strchr(s, '/');
	uint8_t addr[16];
	int family = ip_parse(s, (size_t)(slash - s), addr);

	return (family == 4 && strcmp(slash + 1, "32") == 0) || (family == 6 && strcmp(slash + 1, "128") == 0);
}

int webhook_proxies_parse(const struct config_strv *list, struct webhook_proxies *ret, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	if (!list || list->n == 0)
		return 0;
	if (!(ret->v = calloc(list->n, sizeof(*ret->v))))
		return -ENOMEM;
	for (size_t i = 0; i < list->n; i++) {
		const char *s = list->v[i];
		struct cidr *c = &ret->v[i];
		uint8_t addr[16];
		char why[160];
		int family;

		if (strchr(s, '/') && !whole_address(s)) {
			if (cidr_parse(s, strlen(s), c, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "trusted_proxies: %.200s: %s", s, why);
				webhook_proxies_free(ret);
				return -EINVAL;
			}
		} else if ((family = ip_parse(s, strcspn(s, "/"), addr)) != 0) {
			c->family = (uint8_t)family;
			memcpy(c->lo, addr, 16);
			memcpy(c->hi, addr, 16);
		} else {
			snprintf(err, errlen, "trusted_proxies: %.200s: not an IP address or CIDR block", s);
			webhook_proxies_free(ret);
			return -EINVAL;
		}
		ret->n++;
	}
	return 0;
}

/* An address of text s[0..n): bracketed IPv6 ("[::1]" with an optional
 * ":port") and IPv4 with ":port" are taken too. IPv4-mapped IPv6 counts
 * as IPv4. The family, or 0. */
static int addr_parse(const char *s, size_t n, uint8_t addr[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const char *colon;
	int family;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || (close + 1 != s + n && close[1] != ':'))
			return 0;
		family = ip_parse(s + 1, (size_t)(close - s - 1), addr);
		if (family != 6)
			return 0;
	} else if ((colon = memchr(s, ':', n)) && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
		family = ip_parse(s, (size_t)(colon - s), addr);   /* 1.2.3.4:port */
		if (family != 4)
			return 0;
	} else {
		family = ip_parse(s, n, addr);
	}
	if (family == 6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		family = 4;
	}
	return family;
}

static bool trusted(const struct webhook_proxies *p, int family, const uint8_t addr[16])
{
	for (size_t i = 0; i < p->n; i++)
		if (cidr_contains(&p->v[i], family, addr))
			return true;
	return false;
}

static void addr_text(int family, const uint8_t addr[16], char out[WEBHOOK_ADDR_MAX])
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, out, WEBHOOK_ADDR_MAX))
		out[0] = '\0';
}

/* The right-most X-Forwarded-For entry of req that is not trusted, walking
 * from the right; the hop address (family, addr) moves left as it goes. */
static void walk_forwarded(const struct webhook_proxies *p, const struct http_request *req, int *family,
			   uint8_t addr[16])
{
	for (size_t i = req->n_headers; i-- > 0;) {
		const char *v = req->headers[i].value, *end;

		if (strcasecmp(req->headers[i].name, "X-Forwarded-For") != 0)
			continue;
		end = v + strlen(v);
		while (end > v) {
			const char *comma = end, *s, *e = end;
			uint8_t a[16];
			int f;

			while (comma > v && comma[-1] != ',')
				comma--;
			s = comma;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			end = comma > v ? comma - 1 : v;
			if (s == e)
				continue;   /* an empty entry ("a,,b") says nothing */
			if (!(f = addr_parse(s, (size_t)(e - s), a)))
				return;     /* not an address: the hop that wrote it is the client */
			*family = f;
			memcpy(addr, a, 16);
			if (!trusted(p, f, a))
				return;
		}
	}
}

void webhook_client_addr(const struct webhook_proxies *p, const struct http_request *req,
			 char out[WEBHOOK_ADDR_MAX])
{
	const char *peer = req->remote_addr ? req->remote_addr : "";
	uint8_t addr[16];
	int family;

	out[0] = '\0';
	if (!(family = addr_parse(peer, strlen(peer), addr)))
		return;   /* unknown */
	if (p && trusted(p, family, addr))
		walk_forwarded(p, req, &family, addr);
	addr_text(family, addr, out);
}

/* ------------------------------------------------------------ small checks */

bool webhook_printable(const char *s, size_t max, bool space_ok)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= max || (unsigned char)s[n] > 0x7e || (unsigned char)s[n] < (space_ok ? 0x20 : 0x21))
			return false;
	return n > 0;
}

bool webhook_content_type_json(const char *ct)
{
	const char *slash, *end;
	size_t sub;

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	end = ct + strcspn(ct, ";");
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - ct) < 12 || strncasecmp(ct, "application/", 12) != 0)
		return false;
	slash = ct + 11;
	sub = (size_t)(end - slash - 1);
	if (sub == 4 && strncasecmp(slash + 1, "json", 4) == 0)
		return true;
	/* application/<x>+json, <x> a token */
	if (sub <= 5 || strncasecmp(end - 5, "+json", 5) != 0)
		return false;
	for (const char *c = slash + 1; c < end - 5; c++)
		if (!(isalnum((unsigned char)*c) || strchr("!#$&-^_.+", *c)))
			return false;
	return true;
}

int webhook_path_name(const char *path, const char *prefix, char *out, size_t outlen)
{
	size_t plen = strlen(prefix), n = 0;
	const char *s;

	if (strncmp(path, prefix, plen) != 0)
		return -ENOENT;
	for (s = path + plen; *s; s++) {
		char c = *s;

		if (c == '/')
			return -ENOENT;
		if (c == '%') {
			int hi = hex_value(s[1]), lo = hi < 0 ? -1 : hex_value(s[2]);
			if (hi < 0 || lo < 0)
				return -ENOENT;
			c = (char)(hi << 4 | lo);
			s += 2;
			if (c == '\0' || c == '/')
				return -ENOENT;
		}
		if (n + 1 >= outlen)
			return -ENOENT;
		out[n++] = c;
	}
	if (n == 0 || outlen == 0)
		return -ENOENT;
	out[n] = '\0';
	return 0;
}
