/*
 * fuzz_sigv4.c — libFuzzer target for AWS Signature Version 4 (engine/sigv4.h):
 * the Authorization header parser and sigv4_verify(), with a fixed key and
 * a fixed clock (2015-08-30T12:36:00Z, the AWS documentation's example time).
 *
 * The first byte picks a mode; the rest is split at "\n" into fields.
 *
 * Mode "verify" (even first byte): fields Authorization, date, Host, path,
 * query, Content-Type, X-Amz-Target, then the body (the rest). A date with a
 * comma goes out as a Date header, otherwise as X-Amz-Date; empty fields
 * are left out. The answer is 0, -EACCES with one of the four SIGV4_ERR_*
 * codes and a message, or the key lookup's own error. A request that
 * verifies was signed by the one known key, at a time within the allowed
 * skew, and stops verifying when one byte is added to its body.
 *
 * Mode "round trip" (odd first byte): fields path, query, Content-Type,
 * X-Amz-Target, region, X-Amz-Security-Token, then the body. What
 * sigv4_sign() signs, sigv4_verify() accepts, reporting the same key,
 * region and service; the same request fails with another body, another
 * expected service, or a clock past the allowed skew.
 *
 * Nothing may crash, leak or trip the sanitizers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((time_t)1440938160)   /* 2015-08-30T12:36:00Z */
#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NFIELDS 8

struct field {
	const char *p;
	size_t n;
};

static int lookup(void *ctx, const char *akid, const char **ret_secret)
{
	(void)ctx;
	if (strcmp(akid, AKID) == 0) {
		*ret_secret = SECRET;
		return 0;
	}
	if (strcmp(akid, "AKIDBROKEN") == 0)
		return -EIO;   /* the lookup's own failure */
	return -ENOENT;
}

/* Splits data at "\n" into n - 1 fields and the rest. */
static void split(const uint8_t *data, size_t size, struct field *f, size_t n)
{
	const char *p = (const char *)data, *end = p + size;

	for (size_t i = 0; i < n; i++) {
		const char *nl = i + 1 < n ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		f[i].p = p;
		f[i].n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		p = nl ? nl + 1 : end;
	}
}

static void add_header(struct sigv4_header *h, size_t *n, const char *name, struct field v)
{
	if (v.n == 0)
		return;
	h[*n] = (struct sigv4_header){ name, strlen(name), v.p, v.n };
	++*n;
}

static bool is_code(const char *code)
{
	return code && (strcmp(code, SIGV4_ERR_MISSING) == 0 || strcmp(code, SIGV4_ERR_INCOMPLETE) == 0 ||
			strcmp(code, SIGV4_ERR_UNRECOGNIZED) == 0 || strcmp(code, SIGV4_ERR_INVALID) == 0);
}

/* sigv4_verify() with its outcome checked against the contract. */
static int verify(const struct sigv4_request *req, time_t now, const char *service, struct sigv4_result *res,
		  const char **code)
{
	char err[512];
	int r;

	*code = NULL;
	memset(err, 'x', sizeof(err));
	memset(res, 0, sizeof(*res));
	r = sigv4_verify(req, now, service, lookup, NULL, res, code, err, sizeof(err));
	if (r == -EACCES) {
		if (!is_code(*code) || !memchr(err, '\0', sizeof(err)) || err[0] == '\0')
			abort();   /* an AWS error code and a message */
	} else if (r == 0) {
		if (strcmp(res->akid, AKID) != 0 || res->region[0] == '\0' || res->service[0] == '\0' ||
		    (service && strcmp(res->service, service) != 0) || res->date < now - SIGV4_SKEW_SECONDS ||
		    res->date > now + SIGV4_SKEW_SECONDS)
			abort();
	} else if (r != -ENOMEM && !(r == -EIO && *code == NULL)) {
		abort();
	}
	return r;
}

/* The same request with one byte more in the body must not verify. */
static void check_body_bound(const struct sigv4_request *req, const char *service)
{
	struct sigv4_request other = *req;
	struct sigv4_result res;
	const char *code;
	char *body = malloc(req->body_len + 1);

	if (!body)
		abort();
	if (req->body_len)
		memcpy(body, req->body, req->body_len);
	body[req->body_len] = 'x';
	other.body = body;
	other.body_len = req->body_len + 1;
	if (verify(&other, NOW, service, &res, &code) != -EACCES)
		abort();
	free(body);
}

static void fuzz_verify(const uint8_t *data, size_t size, bool get, bool ecs)
{
	struct field f[NFIELDS];
	struct sigv4_header h[6];
	struct sigv4_request req;
	struct sigv4_result res;
	const char *code, *service = ecs ? "ecs" : NULL;
	char path[SIGV4_PATH_MAX + 2], query[SIGV4_QUERY_MAX + 2];
	size_t n = 0;
	int r;

	split(data, size, f, NFIELDS);
	if (f[3].n >= sizeof(path) || f[4].n >= sizeof(query))
		return;
	memcpy(path, f[3].p, f[3].n);
	path[f[3].n] = '\0';
	memcpy(query, f[4].p, f[4].n);
	query[f[4].n] = '\0';
	add_header(h, &n, "Authorization", f[0]);
	add_header(h, &n, memchr(f[1].p, ',', f[1].n) ? "Date" : "X-Amz-Date", f[1]);
	add_header(h, &n, "Host", f[2]);
	add_header(h, &n, "Content-Type", f[5]);
	add_header(h, &n, "X-Amz-Target", f[6]);
	req = (struct sigv4_request){ get ? "GET" : "POST", path, query, h, n, f[7].n ? f[7].p : NULL, f[7].n };

	r = verify(&req, NOW, service, &res, &code);
	if (r == 0)
		check_body_bound(&req, service);
}

static void fuzz_round_trip(const uint8_t *data, size_t size, bool get)
{
	struct field f[NFIELDS - 1];
	struct sigv4_header h[8];
	struct sigv4_request req;
	struct sigv4_result res;
	const char *code;
	char path[SIGV4_PATH_MAX + 1], query[SIGV4_QUERY_MAX + 1], region[128];
	char auth[SIGV4_HEADER_MAX + 1], date[SIGV4_AMZ_DATE_LEN + 1];
	static const char host[] = "127.0.0.1:8088";
	size_t n = 0;
	int r;

	split(data, size, f, NFIELDS - 1);
	if (f[0].n >= sizeof(path) || f[1].n >= sizeof(query) || f[4].n >= sizeof(region))
		return;
	for (size_t i = 2; i < 6; i++)
		if (f[i].n > SIGV4_HEADER_MAX)
			return;
	memcpy(path, f[0].p, f[0].n);
	path[f[0].n] = '\0';
	memcpy(query, f[1].p, f[1].n);
	query[f[1].n] = '\0';
	memcpy(region, f[4].p, f[4].n);
	region[f[4].n] = '\0';
	add_header(h, &n, "Host", (struct field){ host, sizeof(host) - 1 });
	add_header(h, &n, "Content-Type", f[2]);
	add_header(h, &n, "X-Amz-Target", f[3]);
	add_header(h, &n, "X-Amz-Security-Token", f[5]);
	req = (struct sigv4_request){ get ? "GET" : "POST", path, query, h, n, f[6].n ? f[6].p : NULL, f[6].n };

	r = sigv4_sign(&req, NOW, AKID, SECRET, region, "ecs", auth, sizeof(auth), date);
	if (r == -EINVAL || r == -ENOBUFS || r == -ENOMEM)
		return;   /* a region sigv4_sign() will not sign for, or no room */
	if (r != 0 || strlen(date) != SIGV4_AMZ_DATE_LEN)
		abort();
	add_header(h, &n, "Authorization", (struct field){ auth, strlen(auth) });
	add_header(h, &n, "X-Amz-Date", (struct field){ date, strlen(date) });
	req.nheaders = n;

	if (verify(&req, NOW, "ecs", &res, &code) != 0 || strcmp(res.region, region) != 0 ||
	    strcmp(res.service, "ecs") != 0 || res.date != NOW)
		abort();   /* what was signed verifies, as signed */
	if (verify(&req, NOW + SIGV4_SKEW_SECONDS + 1, "ecs", &res, &code) != -EACCES ||
	    verify(&req, NOW, "events", &res, &code) != -EACCES)
		abort();   /* too late, or for another service */
	check_body_bound(&req, "ecs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_round_trip(data + 1, size - 1, data[0] & 2);
	else
		fuzz_verify(data + 1, size - 1, data[0] & 2, data[0] & 4);
	return 0;
}
