/*
 * sigv4.c — AWS Signature Version 4 verification and signing, with the
 * digests of common/digest.h (SHA-256, HMAC-SHA-256, constant-time compare).
 *
 * Verification takes the Authorization header apart (algorithm, Credential,
 * SignedHeaders, Signature; any order, each once), checks the cheap things
 * first — scope shape, host signed, date present and fresh, scope date and
 * service, payload hash — then asks the caller for the secret, recomputes the
 * signature and compares it in constant time. The canonical request is never
 * held in memory: it is streamed into a SHA-256 context through a small
 * buffer; only the canonical path and query, which must be rewritten and
 * sorted, are copied (bounded by SIGV4_PATH_MAX and SIGV4_QUERY_MAX).
 * Signing shares the canonicalisation, so a request sign() produces is one
 * verify() accepts. Every failure a client can cause is -EACCES with an AWS
 * error code and a message that says what was wrong; nothing is logged.
 * The canonicalisation rules are stated in sigv4.h.
 */
#include "sigv4.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "digest.h"
#include "http_token.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define SHA256_LEN DIGEST_SHA256_LEN
#define SHA256_HEX_LEN DIGEST_SHA256_HEX_LEN
#define QUOTE_MAX 200 /* bytes of client text quoted in a message */

static const char hex_upper[] = "0123456789ABCDEF";

struct span {
	const char *p;
	size_t n;
};

struct name_list {
	size_t n;
	struct span name[SIGV4_MAX_SIGNED_HEADERS];
};

/* The Authorization header, taken apart; spans point into it. */
struct auth_parts {
	struct span credential, signed_headers, signature;
	struct span akid, date8, region, service, terminator;
	struct name_list names;
	unsigned char sig[SHA256_LEN];
};

static int fail(const char **ret_code, const char *code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(const char **ret_code, const char *code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	*ret_code = code;
	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EACCES;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_unreserved(unsigned char c)
{
	return is_alnum((char)c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static char to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static struct span trim(const char *p, size_t n)
{
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_space(p[n - 1]))
		n--;
	return (struct span){p, n};
}

static bool span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool name_eq_nocase(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (to_lower(a[i]) != to_lower(b[i]))
			return false;
	return true;
}

/* How many headers are called name (any case); *ret_first is the first. */
static size_t header_count(const struct sigv4_request *req, const char *name, size_t name_len,
			   const struct sigv4_header **ret_first)
{
	size_t count = 0;

	*ret_first = NULL;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (!name_eq_nocase(h->name, h->name_len, name, name_len))
			continue;
		if (count++ == 0)
			*ret_first = h;
	}
	return count;
}

/* ---- time: proleptic Gregorian calendar, UTC ---- */

static unsigned digits(const char *p, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	return v;
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

static bool make_time(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, time_t *ret)
{
	if (!calendar_date_valid(y, mo, d, h, mi, s))
		return false;
	*ret = (time_t)(calendar_days_from_civil(y, mo, d) * CALENDAR_SECS_PER_DAY + h * 3600 + mi * 60 + s);
	return true;
}

/* "yyyymmddThhmmssZ" */
static bool parse_iso_basic(struct span v, time_t *ret)
{
	const char *p = v.p;

	if (v.n != SIGV4_AMZ_DATE_LEN || p[8] != 'T' || p[15] != 'Z' || !all_digits(p, 8) || !all_digits(p + 9, 6))
		return false;
	return make_time(digits(p, 4), digits(p + 4, 2), digits(p + 6, 2), digits(p + 9, 2), digits(p + 11, 2),
			 digits(p + 13, 2), ret);
}

/* RFC 1123: "Sun, 30 Aug 2015 12:36:00 GMT" (also UT, UTC, +0000, -0000). */
static bool parse_rfc1123(struct span v, time_t *ret)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char wdays[] = "MonTueWedThuFriSatSun";
	const char *p = v.p;
	struct span zone;
	unsigned month = 0;
	bool day_ok = false;

	if (v.n < 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
	    p[19] != ':' || p[22] != ':' || p[25] != ' ')
		return false;
	for (size_t i = 0; i < 7; i++)
		day_ok |= memcmp(p, wdays + 3 * i, 3) == 0;
	for (unsigned i = 0; i < 12; i++)
		if (memcmp(p + 8, months + 3 * i, 3) == 0)
			month = i + 1;
	if (!day_ok || month == 0 || !all_digits(p + 5, 2) || !all_digits(p + 12, 4) || !all_digits(p + 17, 2) ||
	    !all_digits(p + 20, 2) || !all_digits(p + 23, 2))
		return false;
	zone = (struct span){p + 26, v.n - 26};
	if (!span_is(zone, "GMT") && !span_is(zone, "UT") && !span_is(zone, "UTC") && !span_is(zone, "+0000") &&
	    !span_is(zone, "-0000"))
		return false;
	return make_time(digits(p + 12, 4), month, digits(p + 5, 2), digits(p + 17, 2), digits(p + 20, 2),
			 digits(p + 23, 2), ret);
}

/* v in exactly width decimal digits (v < 10^width). */
static void put_digits(char *out, unsigned v, size_t width)
{
	while (width-- > 0) {
		out[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Writes "yyyymmddThhmmssZ"; false when the year has not four digits. */
static bool format_iso_basic(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	int64_t tt = (int64_t)t, days = tt / 86400, secs = tt % 86400, y;
	unsigned m, d, s;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	calendar_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return false;
	s = (unsigned)secs;
	put_digits(out, (unsigned)y, 4);
	put_digits(out + 4, m, 2);
	put_digits(out + 6, d, 2);
	out[8] = 'T';
	put_digits(out + 9, s / 3600, 2);
	put_digits(out + 11, s / 60 % 60, 2);
	put_digits(out + 13, s % 60, 2);
	out[15] = 'Z';
	out[16] = '\0';
	return true;
}

/* ---- the canonical request, streamed into SHA-256 ---- */

struct canon {
	struct digest_sha256 *md;
	bool failed;
	size_t len;
	unsigned char buf[1024];
};

static void canon_flush(struct canon *c)
{
	if (c->len > 0 && !c->failed && digest_sha256_update(c->md, c->buf, c->len) < 0)
		c->failed = true;
	c->len = 0;
}

static void canon_byte(struct canon *c, char b)
{
	if (c->len == sizeof(c->buf))
		canon_flush(c);
	c->buf[c->len++] = (unsigned char)b;
}

static void canon_put(struct canon *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		canon_byte(c, p[i]);
}

static void canon_pct(struct canon *c, unsigned char b)
{
	canon_byte(c, '%');
	canon_byte(c, hex_upper[b >> 4]);
	canon_byte(c, hex_upper[b & 15]);
}

/*
 * botocore's remove_dot_segments() then quote(path, safe='/~'): the raw
 * (already encoded) path is encoded once more.
 */
static int canon_uri(struct canon *c, const char *path)
{
	size_t n = path ? strlen(path) : 0, olen = 0, start;
	char *out;

	if (n == 0) {
		canon_byte(c, '/');
		return 0;
	}
	out = malloc(n + 1);
	if (!out)
		return -ENOMEM;
	/* out holds "/seg/seg..." */
	for (size_t i = 0; i < n;) {
		size_t j = i, seg;

		while (j < n && path[j] != '/')
			j++;
		seg = j - i;
		if (seg == 2 && path[i] == '.' && path[i + 1] == '.') {
			while (olen > 0 && out[olen - 1] != '/')
				olen--;
			if (olen > 0)
				olen--;
		} else if (seg > 0 && !(seg == 1 && path[i] == '.')) {
			out[olen++] = '/';
			memcpy(out + olen, path + i, seg);
			olen += seg;
		}
		i = j + 1;
	}
	if (olen == 0) {
		if (path[0] == '/')
			canon_byte(c, '/');
		goto out_free;
	}
	start = path[0] == '/' ? 0 : 1;
	for (size_t i = start; i < olen; i++) {
		unsigned char b = (unsigned char)out[i];

		if (is_unreserved(b) || b == '/')
			canon_byte(c, (char)b);
		else
			canon_pct(c, b);
	}
	if (path[n - 1] == '/')
		canon_byte(c, '/');
out_free:
	free(out);
	return 0;
}

struct qparam {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* Percent-decodes in and re-encodes it per RFC 3986 into out (3n bytes). */
static size_t query_encode(const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)in[i];

		if (b == '%' && i + 2 < n && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
			b = (unsigned char)(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
			i += 2;
		}
		if (is_unreserved(b)) {
			out[o++] = (char)b;
		} else {
			out[o++] = '%';
			out[o++] = hex_upper[b >> 4];
			out[o++] = hex_upper[b & 15];
		}
	}
	return o;
}

static int span_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);

	if (r != 0)
		return r;
	return an < bn ? -1 : an > bn;
}

static int qparam_cmp(const void *x, const void *y)
{
	const struct qparam *a = x, *b = y;
	int r = span_cmp(a->name, a->name_len, b->name, b->name_len);

	return r != 0 ? r : span_cmp(a->value, a->value_len, b->value, b->value_len);
}

static int canon_query(struct canon *c, const char *q)
{
	size_t n = q ? strlen(q) : 0, max = 1, count = 0, o = 0;
	struct qparam *params;
	char *text;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		max += q[i] == '&';
	params = calloc(max, sizeof(*params));
	text = malloc(3 * n + 1);
	if (!params || !text) {
		free(params);
		free(text);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= n;) {
		size_t j = i, eq;
		struct qparam *p;

		while (j < n && q[j] != '&')
			j++;
		if (j == i) {
			i = j + 1;
			continue;
		}
		eq = i;
		while (eq < j && q[eq] != '=')
			eq++;
		p = &params[count++];
		p->name = text + o;
		p->name_len = query_encode(q + i, eq - i, text + o);
		o += p->name_len;
		p->value = text + o;
		p->value_len = eq < j ? query_encode(q + eq + 1, j - eq - 1, text + o) : 0;
		o += p->value_len;
		i = j + 1;
	}
	qsort(params, count, sizeof(*params), qparam_cmp);
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			canon_byte(c, '&');
		canon_put(c, params[i].name, params[i].name_len);
		canon_byte(c, '=');
		canon_put(c, params[i].value, params[i].value_len);
	}
	free(text);
	free(params);
	return 0;
}

/* Trimmed, with each run of white space collapsed to one space. */
static void canon_header_value(struct canon *c, const char *v, size_t n)
{
	struct span t = trim(v, n);
	bool space = false;

	for (size_t i = 0; i < t.n; i++) {
		if (is_space(t.p[i])) {
			space = true;
			continue;
		}
		if (space)
			canon_byte(c, ' ');
		space = false;
		canon_byte(c, t.p[i]);
	}
}

/*
 * SHA-256 of the canonical request. amz_date, when not NULL, is the value of
 * x-amz-date in place of the request's own (signing).
 */
static int hash_canonical_request(const struct sigv4_request *req, const struct name_list *names,
				  const char *amz_date, const char payload_hex[SHA256_HEX_LEN + 1],
				  unsigned char ret_hash[SHA256_LEN])
{
	struct canon c = {.md = digest_sha256_new()};
	int r = 0;

	if (!c.md)
		return -ENOMEM;
	canon_put(&c, req->method, strlen(req->method));
	canon_byte(&c, '\n');
	r = canon_uri(&c, req->path);
	if (r < 0)
		goto out_free_md;
	canon_byte(&c, '\n');
	r = canon_query(&c, req->query);
	if (r < 0)
		goto out_free_md;
	canon_byte(&c, '\n');
	for (size_t i = 0; i < names->n; i++) {
		struct span name = names->name[i];
		size_t k = 0;

		canon_put(&c, name.p, name.n);
		canon_byte(&c, ':');
		if (amz_date && span_is(name, "x-amz-date")) {
			canon_put(&c, amz_date, strlen(amz_date));
		} else {
			for (size_t h = 0; h < req->nheaders; h++) {
				const struct sigv4_header *hd = &req->headers[h];

				if (!name_eq_nocase(hd->name, hd->name_len, name.p, name.n))
					continue;
				if (k++ > 0)
					canon_byte(&c, ',');
				canon_header_value(&c, hd->value, hd->value_len);
			}
		}
		canon_byte(&c, '\n');
	}
	canon_byte(&c, '\n');
	for (size_t i = 0; i < names->n; i++) {
		if (i > 0)
			canon_byte(&c, ';');
		canon_put(&c, names->name[i].p, names->name[i].n);
	}
	canon_byte(&c, '\n');
	canon_put(&c, payload_hex, SHA256_HEX_LEN);
	canon_flush(&c);
	r = digest_sha256_final(c.md, ret_hash);
	return c.failed ? -EIO : r;
out_free_md:
	digest_sha256_free(c.md);
	return r;
}

static int hash_body(const struct sigv4_request *req, char ret_hex[SHA256_HEX_LEN + 1])
{
	unsigned char h[SHA256_LEN];
	int r = digest_sha256(req->body, req->body_len, h);

	if (r < 0)
		return r;
	digest_hex(h, SHA256_LEN, ret_hex);
	return 0;
}

static bool hmac(const void *key, size_t key_len, const void *msg, size_t msg_len, unsigned char out[SHA256_LEN])
{
	return digest_hmac_sha256(key, key_len, msg, msg_len, out) == 0;
}

/* The signature over the string to sign for this scope and canonical hash. */
static int compute_signature(const char *secret, const char *date8, const char *region, const char *service,
			     const char iso[SIGV4_AMZ_DATE_LEN + 1], const unsigned char creq_hash[SHA256_LEN],
			     unsigned char ret_sig[SHA256_LEN])
{
	unsigned char key[4 + SIGV4_SECRET_MAX], k1[SHA256_LEN], k2[SHA256_LEN];
	char creq_hex[SHA256_HEX_LEN + 1], sts[512];
	size_t slen = strlen(secret);
	int n, r = -EIO;

	if (slen == 0 || slen > SIGV4_SECRET_MAX)
		return -EINVAL;
	digest_hex(creq_hash, SHA256_LEN, creq_hex);
	n = snprintf(sts, sizeof(sts), ALGORITHM "\n%s\n%s/%s/%s/" TERMINATOR "\n%s", iso, date8, region, service,
		     creq_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return -EINVAL;
	memcpy(key, "AWS4", 4);
	memcpy(key + 4, secret, slen);
	if (!hmac(key, 4 + slen, date8, strlen(date8), k1) || !hmac(k1, SHA256_LEN, region, strlen(region), k2) ||
	    !hmac(k2, SHA256_LEN, service, strlen(service), k1) ||
	    !hmac(k1, SHA256_LEN, TERMINATOR, strlen(TERMINATOR), k2) || !hmac(k2, SHA256_LEN, sts, (size_t)n, ret_sig))
		goto out_cleanse;
	r = 0;
out_cleanse:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	return r;
}

/* ---- parsing the Authorization header ---- */

/* A service name: [A-Za-z0-9._-], 1..SIGV4_SCOPE_PART_MAX. */
static bool scope_part_ok(const char *p, size_t n)
{
	if (n == 0 || n > SIGV4_SCOPE_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(p[i]) && p[i] != '-' && p[i] != '_' && p[i] != '.')
			return false;
	return true;
}

/* A region name: [a-z0-9-], 1..SIGV4_REGION_MAX ("us-east-1", "local"). */
static bool region_ok(const char *p, size_t n)
{
	if (n == 0 || n > SIGV4_REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(p[i] >= 'a' && p[i] <= 'z') && !is_digit(p[i]) && p[i] != '-')
			return false;
	return true;
}

/* An access key id: printable ASCII other than space ',' ';' '/' '=', 1..SIGV4_AKID_MAX. */
static bool akid_ok(const char *p, size_t n)
{
	if (n == 0 || n > SIGV4_AKID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] > '~' || p[i] == ',' || p[i] == ';' || p[i] == '/' || p[i] == '=')
			return false;
	return true;
}

/* A lower-case HTTP token character: SignedHeaders lists names in lower case. */
static bool header_name_char_ok(char ch)
{
	return http_token_char(ch) && !(ch >= 'A' && ch <= 'Z');
}

static int parse_credential(struct auth_parts *a, const char **ret_code, char *err, size_t errlen)
{
	struct span part[5];
	size_t count = 0, start = 0;
	const char *p = a->credential.p;
	size_t n = a->credential.n;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		if (count == 5)
			goto out_shape;
		part[count++] = (struct span){p + start, i - start};
		start = i + 1;
	}
	if (count != 5)
		goto out_shape;
	a->akid = part[0];
	a->date8 = part[1];
	a->region = part[2];
	a->service = part[3];
	a->terminator = part[4];
	if (!akid_ok(a->akid.p, a->akid.n))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "Credential access key id must be 1 to %d printable characters", SIGV4_AKID_MAX);
	if (a->date8.n != 8 || !all_digits(a->date8.p, 8))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "Credential date must be yyyymmdd; got '%.*s'", (int)(a->date8.n < QUOTE_MAX ? a->date8.n : QUOTE_MAX),
			    a->date8.p);
	if (!scope_part_ok(a->service.p, a->service.n))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "Credential service must be 1 to %d of A-Z a-z 0-9 . _ -", SIGV4_SCOPE_PART_MAX);
	return 0;

out_shape:
	return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
		    "Credential should be 'ACCESS_KEY_ID/yyyymmdd/region/service/aws4_request'; got '%.*s'",
		    (int)(n < QUOTE_MAX ? n : QUOTE_MAX), p);
}

static int parse_signed_headers(struct auth_parts *a, const char **ret_code, char *err, size_t errlen)
{
	const char *p = a->signed_headers.p;
	size_t n = a->signed_headers.n, start = 0;
	struct name_list *names = &a->names;

	names->n = 0;
	for (size_t i = 0; i <= n; i++) {
		struct span name;

		if (i < n && p[i] != ';')
			continue;
		name = (struct span){p + start, i - start};
		start = i + 1;
		if (name.n == 0 || name.n > SIGV4_HEADER_NAME_MAX)
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "SignedHeaders must be ';'-separated names of 1 to %d characters",
				    SIGV4_HEADER_NAME_MAX);
		for (size_t k = 0; k < name.n; k++)
			if (!header_name_char_ok(name.p[k]))
				return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
					    "SignedHeaders must be lower-case header names; got '%.*s'", (int)name.n,
					    name.p);
		if (names->n == SIGV4_MAX_SIGNED_HEADERS)
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "SignedHeaders lists more than %d headers", SIGV4_MAX_SIGNED_HEADERS);
		if (names->n > 0) {
			struct span prev = names->name[names->n - 1];

			if (span_cmp(prev.p, prev.n, name.p, name.n) >= 0)
				return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
					    "SignedHeaders must be sorted and without duplicates: '%.*s' after '%.*s'",
					    (int)name.n, name.p, (int)prev.n, prev.p);
		}
		if (span_is(name, "authorization"))
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "SignedHeaders must not include 'authorization'");
		names->name[names->n++] = name;
	}
	return 0;
}

static int parse_authorization(struct span v, struct auth_parts *a, const char **ret_code, char *err, size_t errlen)
{
	static const size_t alg_len = sizeof(ALGORITHM) - 1;
	struct span rest;
	size_t start;

	memset(a, 0, sizeof(*a));
	v = trim(v.p, v.n);
	if (v.n < alg_len || memcmp(v.p, ALGORITHM, alg_len) != 0 || (v.n > alg_len && !is_space(v.p[alg_len])))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "Authorization header must start with '" ALGORITHM
			    " ' (only Signature Version 4 header authentication is supported)");
	rest = trim(v.p + alg_len, v.n - alg_len);
	start = 0;
	for (size_t i = 0; i <= rest.n && rest.n > 0; i++) {
		struct span comp, key, val, *slot;
		const char *eq;

		if (i < rest.n && rest.p[i] != ',')
			continue;
		comp = trim(rest.p + start, i - start);
		start = i + 1;
		eq = memchr(comp.p, '=', comp.n);
		if (!eq)
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "Authorization header component '%.*s' is not Name=value",
				    (int)(comp.n < QUOTE_MAX ? comp.n : QUOTE_MAX), comp.p);
		key = trim(comp.p, (size_t)(eq - comp.p));
		val = trim(eq + 1, comp.n - (size_t)(eq - comp.p) - 1);
		if (span_is(key, "Credential"))
			slot = &a->credential;
		else if (span_is(key, "SignedHeaders"))
			slot = &a->signed_headers;
		else if (span_is(key, "Signature"))
			slot = &a->signature;
		else
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "Authorization header has an unknown component '%.*s'",
				    (int)(key.n < QUOTE_MAX ? key.n : QUOTE_MAX), key.p);
		if (slot->p)
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "Authorization header repeats '%.*s'", (int)key.n, key.p);
		if (val.n == 0)
			return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
				    "Authorization header component '%.*s' is empty", (int)key.n, key.p);
		*slot = val;
	}
	if (!a->credential.p || !a->signed_headers.p || !a->signature.p)
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen, "%s%s%sAuthorization=%.*s",
			    a->credential.p ? "" : "Authorization header requires 'Credential' parameter. ",
			    a->signature.p ? "" : "Authorization header requires 'Signature' parameter. ",
			    a->signed_headers.p ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
			    (int)(v.n < QUOTE_MAX ? v.n : QUOTE_MAX), v.p);
	if (a->signature.n != SHA256_HEX_LEN)
		goto out_bad_signature;
	for (size_t i = 0; i < SHA256_LEN; i++) {
		int hi = hex_value(a->signature.p[2 * i]), lo = hex_value(a->signature.p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto out_bad_signature;
		a->sig[i] = (unsigned char)(hi * 16 + lo);
	}
	if (parse_credential(a, ret_code, err, errlen) < 0)
		return -EACCES;
	return parse_signed_headers(a, ret_code, err, errlen);

out_bad_signature:
	return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen, "Signature must be %d hexadecimal digits",
		    SHA256_HEX_LEN);
}

/* The request time, from X-Amz-Date or Date, and its "yyyymmddThhmmssZ". */
static int request_time(const struct sigv4_request *req, time_t *ret_t, char ret_iso[SIGV4_AMZ_DATE_LEN + 1],
			const char **ret_code, char *err, size_t errlen)
{
	const struct sigv4_header *h;
	size_t count = header_count(req, "x-amz-date", 10, &h);
	const char *which = "X-Amz-Date";
	struct span v;

	if (count == 0) {
		count = header_count(req, "date", 4, &h);
		which = "Date";
	}
	if (count == 0)
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
	if (count > 1)
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen, "%s header is repeated", which);
	v = trim(h->value, h->value_len);
	if (parse_iso_basic(v, ret_t) || (which[0] == 'D' && parse_rfc1123(v, ret_t))) {
		if (format_iso_basic(*ret_t, ret_iso))
			return 0;
	}
	return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
		    "%s must be in ISO 8601 basic format, yyyymmddThhmmssZ%s; got '%.*s'", which,
		    which[0] == 'D' ? ", or RFC 1123" : "", (int)(v.n < QUOTE_MAX ? v.n : QUOTE_MAX), v.p);
}

static bool names_have(const struct name_list *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++)
		if (span_is(names->name[i], name))
			return true;
	return false;
}

static void copy_span(char *dst, struct span s)
{
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
}

const char *sigv4_reason_name(enum sigv4_reason r)
{
	static const char *const names[SIGV4_N_REASONS] = {
		"none", "missing", "malformed", "unknown_key", "bad_signature", "expired", "scope",
	};

	return (unsigned)r < SIGV4_N_REASONS ? names[r] : "none";
}

/* The reason of a refusal whose site did not name one: its error code's. */
static enum sigv4_reason reason_of_code(const char *code)
{
	if (code && strcmp(code, SIGV4_ERR_MISSING) == 0)
		return SIGV4_REASON_MISSING;
	if (code && strcmp(code, SIGV4_ERR_UNRECOGNIZED) == 0)
		return SIGV4_REASON_UNKNOWN_KEY;
	if (code && strcmp(code, SIGV4_ERR_INVALID) == 0)
		return SIGV4_REASON_BAD_SIGNATURE;
	return SIGV4_REASON_MALFORMED;
}

/* The scope checks: terminator, service, region, date. */
static int check_scope(const struct auth_parts *a, const char *expected_service, const char *iso,
		       const char **ret_code, char *err, size_t errlen)
{
	if (!span_is(a->terminator, TERMINATOR))
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "Credential should be scoped with a valid terminator: '" TERMINATOR "', not '%.*s'. ",
			    (int)(a->terminator.n < QUOTE_MAX ? a->terminator.n : QUOTE_MAX), a->terminator.p);
	if (expected_service && !span_is(a->service, expected_service))
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "Credential should be scoped to correct service: '%s'. ", expected_service);
	if (!region_ok(a->region.p, a->region.n))
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "Credential should be scoped to a valid region, not '%.*s'. ",
			    (int)(a->region.n < QUOTE_MAX ? a->region.n : QUOTE_MAX), a->region.p);
	if (memcmp(a->date8.p, iso, 8) != 0)
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
			    "'%.8s' != '%.8s', from '%s'.",
			    a->date8.p, iso, iso);
	return 0;
}

static int verify(const struct sigv4_request *req, time_t now, const char *expected_service,
		  sigv4_secret_fn lookup, void *ctx, struct sigv4_result *res, const char **ret_code,
		  char *err, size_t errlen)
{
	struct auth_parts a;
	const struct sigv4_header *h;
	char iso[SIGV4_AMZ_DATE_LEN + 1], now_iso[SIGV4_AMZ_DATE_LEN + 1], bound_iso[SIGV4_AMZ_DATE_LEN + 1];
	char body_hex[SHA256_HEX_LEN + 1], date8[9];
	unsigned char creq_hash[SHA256_LEN], sig[SHA256_LEN];
	const char *secret = NULL;
	size_t count;
	time_t t = 0;
	int64_t delta;
	int r;

	count = header_count(req, "authorization", 13, &h);
	if (count == 0)
		return fail(ret_code, SIGV4_ERR_MISSING, err, errlen, "Missing Authentication Token");
	if (count > 1)
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen, "Authorization header is repeated");
	if (h->value_len > SIGV4_HEADER_MAX)
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen, "Authorization header is longer than %d bytes",
			    SIGV4_HEADER_MAX);
	r = parse_authorization((struct span){h->value, h->value_len}, &a, ret_code, err, errlen);
	if (a.akid.p && akid_ok(a.akid.p, a.akid.n))
		copy_span(res->akid, a.akid);
	if (r < 0)
		return r;

	if (!names_have(&a.names, "host"))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "'Host' must be a 'SignedHeader' in the AWS Authorization.");
	if (header_count(req, "x-amz-target", 12, &h) > 0 && !names_have(&a.names, "x-amz-target"))
		return fail(ret_code, SIGV4_ERR_INCOMPLETE, err, errlen,
			    "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
	r = request_time(req, &t, iso, ret_code, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a.names.n; i++) {
		struct span name = a.names.name[i];

		if (header_count(req, name.p, name.n, &h) == 0)
			return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
				    "signed header '%.*s' is not in the request", (int)name.n, name.p);
		for (size_t k = 0; k < req->nheaders; k++)
			if (name_eq_nocase(req->headers[k].name, req->headers[k].name_len, name.p, name.n) &&
			    req->headers[k].value_len > SIGV4_HEADER_MAX)
				return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
					    "header '%.*s' is longer than %d bytes", (int)name.n, name.p,
					    SIGV4_HEADER_MAX);
	}

	if (check_scope(&a, expected_service, iso, ret_code, err, errlen) < 0) {
		res->reason = SIGV4_REASON_SCOPE;
		return -EACCES;
	}
	delta = (int64_t)t - (int64_t)now;
	if (delta < -SIGV4_SKEW_SECONDS || delta > SIGV4_SKEW_SECONDS) {
		bool early = delta < 0;

		res->reason = SIGV4_REASON_EXPIRED;
		if (!format_iso_basic(now, now_iso) ||
		    !format_iso_basic(now + (early ? -SIGV4_SKEW_SECONDS : SIGV4_SKEW_SECONDS), bound_iso))
			return fail(ret_code, SIGV4_ERR_INVALID, err, errlen, "Signature expired: clock out of range");
		if (early)
			return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
				    "Signature expired: %s is now earlier than %s (%s - 15 min.)", iso, bound_iso,
				    now_iso);
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "Signature not yet current: %s is still later than %s (%s + 15 min.)", iso, bound_iso,
			    now_iso);
	}

	if (strlen(req->path ? req->path : "") > SIGV4_PATH_MAX)
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen, "path is longer than %d bytes", SIGV4_PATH_MAX);
	if (strlen(req->query ? req->query : "") > SIGV4_QUERY_MAX)
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen, "query string is longer than %d bytes",
			    SIGV4_QUERY_MAX);
	r = hash_body(req, body_hex);
	if (r < 0)
		return r;
	count = header_count(req, "x-amz-content-sha256", 20, &h);
	if (count > 0) {
		struct span v = trim(h->value, h->value_len);

		if (count > 1 || v.n != SHA256_HEX_LEN || !name_eq_nocase(v.p, v.n, body_hex, SHA256_HEX_LEN))
			return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
				    "The provided 'x-amz-content-sha256' header does not match what was computed "
				    "(only a signed payload is accepted).");
	}

	r = lookup(ctx, res->akid, &secret);
	if (r == -ENOENT)
		return fail(ret_code, SIGV4_ERR_UNRECOGNIZED, err, errlen,
			    "The security token included in the request is invalid.");
	if (r < 0 || !secret) {
		if (err && errlen > 0)
			snprintf(err, errlen, "looking up the secret for an access key failed (errno %d)",
				 r < 0 ? -r : EINVAL);
		return r < 0 ? r : -EINVAL;
	}

	r = hash_canonical_request(req, &a.names, NULL, body_hex, creq_hash);
	if (r < 0)
		return r;
	copy_span(date8, a.date8);
	copy_span(res->region, a.region);
	copy_span(res->service, a.service);
	r = compute_signature(secret, date8, res->region, res->service, iso, creq_hash, sig);
	if (r < 0) {
		if (err && errlen > 0)
			snprintf(err, errlen, "computing the signature failed (errno %d)", -r);
		return r;
	}
	if (!digest_equal(sig, a.sig, SHA256_LEN))
		return fail(ret_code, SIGV4_ERR_INVALID, err, errlen,
			    "The request signature we calculated does not match the signature you provided. "
			    "Check your AWS Secret Access Key and signing method.");
	res->date = t;
	return 0;
}

int sigv4_verify(const struct sigv4_request *req, time_t now, const char *expected_service,
		 sigv4_secret_fn lookup, void *ctx, struct sigv4_result *ret, const char **ret_code,
		 char *err, size_t errlen)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	*ret_code = NULL;
	if (err && errlen > 0)
		err[0] = '\0';
	r = verify(req, now, expected_service, lookup, ctx, ret, ret_code, err, errlen);
	if (r == 0)
		return 0;
	ret->region[0] = ret->service[0] = '\0';
	ret->date = 0;
	if (r == -EACCES && ret->reason == SIGV4_REASON_NONE)
		ret->reason = reason_of_code(*ret_code);
	if (r != -EACCES)
		ret->reason = SIGV4_REASON_NONE;
	return r;
}

int sigv4_sign(const struct sigv4_request *req, time_t now, const char *akid, const char *secret,
	       const char *region, const char *service, char *ret_authorization, size_t cap,
	       char ret_amz_date[SIGV4_AMZ_DATE_LEN + 1])
{
	static const char *const candidates[] = {
		"content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "x-amz-target",
	};
	struct name_list names = {0};
	const struct sigv4_header *h;
	char iso[SIGV4_AMZ_DATE_LEN + 1], body_hex[SHA256_HEX_LEN + 1], sig_hex[SHA256_HEX_LEN + 1];
	char date8[9], list[128];
	unsigned char creq_hash[SHA256_LEN], sig[SHA256_LEN];
	size_t list_len = 0;
	int n, r;

	if (!akid_ok(akid, strlen(akid)) || !region_ok(region, strlen(region)) ||
	    !scope_part_ok(service, strlen(service)) || header_count(req, "host", 4, &h) == 0 ||
	    strlen(req->path ? req->path : "") > SIGV4_PATH_MAX ||
	    strlen(req->query ? req->query : "") > SIGV4_QUERY_MAX || !format_iso_basic(now, iso))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		const char *c = candidates[i];

		if (strcmp(c, "x-amz-date") != 0 && header_count(req, c, strlen(c), &h) == 0)
			continue;
		names.name[names.n++] = (struct span){c, strlen(c)};
		if (list_len > 0)
			list[list_len++] = ';';
		memcpy(list + list_len, c, strlen(c));
		list_len += strlen(c);
	}
	list[list_len] = '\0';
	r = hash_body(req, body_hex);
	if (r < 0)
		return r;
	r = hash_canonical_request(req, &names, iso, body_hex, creq_hash);
	if (r < 0)
		return r;
	memcpy(date8, iso, 8);
	date8[8] = '\0';
	r = compute_signature(secret, date8, region, service, iso, creq_hash, sig);
	if (r < 0)
		return r;
	digest_hex(sig, SHA256_LEN, sig_hex);
	n = snprintf(ret_authorization, cap,
		     ALGORITHM " Credential=%s/%s/%s/%s/" TERMINATOR ", SignedHeaders=%s, Signature=%s", akid, date8,
		     region, service, list, sig_hex);
	if (n < 0 || (size_t)n >= cap)
		return -ENOBUFS;
	memcpy(ret_amz_date, iso, SIGV4_AMZ_DATE_LEN + 1);
	return 0;
}
