/*
 * sigv4.h — AWS Signature Version 4 (AWS4-HMAC-SHA256): verifying the
 * Authorization header of a request the daemon received, and signing a
 * request the tripline CLI is about to send.
 *
 * Header authentication only: presigned URLs (X-Amz-Signature in the query),
 * chunked/streaming payloads, UNSIGNED-PAYLOAD and session tokens
 * (X-Amz-Security-Token is signed and passed through, never checked) are not
 * supported.
 *
 * The canonical request is built as botocore (the AWS CLI) builds it for
 * non-S3 services, and as checked against botocore 1.43 and the AWS
 * documentation's IAM vector:
 *   - canonical URI: the path as received (still percent-encoded), with "."
 *     and ".." segments and empty segments ("//") removed, then
 *     percent-encoded once more: every byte except A-Z a-z 0-9 - _ . ~ and
 *     '/' becomes %XX (so "%20" on the wire is "%2520" in the canonical
 *     URI). An empty path is "/".
 *   - canonical query: parameters split on '&' (empty ones skipped) and at
 *     the first '='; names and values percent-decoded and re-encoded per RFC
 *     3986 (unreserved bytes bare, others %XX in upper case; '+' is a
 *     literal plus, not a space; a '%' not followed by two hex digits is a
 *     literal '%'); sorted by encoded name, then encoded value; "name=" for
 *     a parameter without a value.
 *   - canonical headers: the names listed in SignedHeaders, each with the
 *     values of every request header of that name (any case) in the order
 *     received, joined with ','; each value trimmed and runs of white space
 *     collapsed to one space.
 *   - payload: hex SHA-256 of the exact body.
 *
 * Verification rules: SignedHeaders must be lower case, sorted, unique, at
 * most SIGV4_MAX_SIGNED_HEADERS, and include "host" (host as sent, port
 * included) and, when the request has one, "x-amz-target" (every AWS SDK
 * signs it; unsigned, the operation could be swapped); every signed header
 * must be present. The request time comes
 * from X-Amz-Date (yyyymmddThhmmssZ) or, without it, from Date (the same
 * form, or RFC 1123 such as "Sun, 30 Aug 2015 12:36:00 GMT"); it must be
 * within SIGV4_SKEW_SECONDS of `now` either way, and the credential scope
 * date must be its day. The credential terminator must be "aws4_request";
 * the service must be the expected one when one is given; any well-formed
 * region ([a-z0-9-], 1 to SIGV4_REGION_MAX) is accepted and reported: a
 * client signs with whatever region it is configured for.
 * x-amz-content-sha256, when present, must equal the body's hash.
 * Signatures are compared in constant time. Messages are AWS's words where
 * AWS has them (the scope's service and region, an unsigned Host); an
 * unsigned X-Amz-Target is refused in the words of the Host one.
 *
 * Pure code: no I/O, no logging. Only sigv4.c includes OpenSSL.
 */
#ifndef TRIPLINE_SIGV4_H
#define TRIPLINE_SIGV4_H

#include <stddef.h>
#include <time.h>

#define SIGV4_MAX_SIGNED_HEADERS 64
#define SIGV4_HEADER_MAX 8192           /* bytes in one header value (and in Authorization) */
#define SIGV4_HEADER_NAME_MAX 128       /* bytes in one signed header name */
#define SIGV4_QUERY_MAX 32768           /* bytes in the query string */
#define SIGV4_PATH_MAX 8192             /* bytes in the path */
#define SIGV4_SECRET_MAX 256            /* bytes in a secret access key */
#define SIGV4_AKID_MAX 128              /* bytes in an access key id */
#define SIGV4_SCOPE_PART_MAX 63         /* bytes in a service name */
#define SIGV4_REGION_MAX 32             /* bytes in a region name */
#define SIGV4_SKEW_SECONDS (15 * 60)
#define SIGV4_AMZ_DATE_LEN 16           /* "yyyymmddThhmmssZ" */

/* Error codes, as AWS JSON services name them (the "__type" of a 403). */
#define SIGV4_ERR_MISSING "MissingAuthenticationTokenException"
#define SIGV4_ERR_INCOMPLETE "IncompleteSignatureException"
#define SIGV4_ERR_UNRECOGNIZED "UnrecognizedClientException"
#define SIGV4_ERR_INVALID "InvalidSignatureException"

/* One header line as received; name and value need not be NUL-terminated. */
struct sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A request as the HTTP server sees it. All memory is borrowed. */
struct sigv4_request {
	const char *method;                /* "GET", "POST", as sent */
	const char *path;                  /* raw, still percent-encoded; "" = "/" */
	const char *query;                 /* raw, without '?'; "" or NULL = none */
	const struct sigv4_header *headers; /* any case, possibly repeated */
	size_t nheaders;
	const void *body;                  /* may be NULL when body_len is 0 */
	size_t body_len;
};

/* Looks up the secret for an access key id: 0 and *ret_secret (borrowed,
 * NUL-terminated, valid until sigv4_verify returns), -ENOENT for an unknown
 * key, or another negative errno for a failure of its own. */
typedef int (*sigv4_secret_fn)(void *ctx, const char *akid, const char **ret_secret);

/* Why a request was refused: a small fixed set, for counting and logging
 * (the client is told by the error code and message). */
enum sigv4_reason {
	SIGV4_REASON_NONE,          /* verified, or not decided (the lookup failed) */
	SIGV4_REASON_MISSING,       /* no Authorization header */
	SIGV4_REASON_MALFORMED,     /* the header, its signed headers or the date are unusable */
	SIGV4_REASON_UNKNOWN_KEY,   /* no such access key id */
	SIGV4_REASON_BAD_SIGNATURE, /* the signature (or the payload hash) does not match */
	SIGV4_REASON_EXPIRED,       /* the request time is more than SIGV4_SKEW_SECONDS away */
	SIGV4_REASON_SCOPE,         /* wrong service, malformed region, terminator or scope date */
};
#define SIGV4_N_REASONS 7

/* "missing", "malformed", "unknown_key", "bad_signature", "expired", "scope"
 * ("none" for SIGV4_REASON_NONE). */
const char *sigv4_reason_name(enum sigv4_reason r);

/* Who signed a verified request, and for which scope. After a refusal, akid
 * holds the access key id when the header got that far ("" otherwise) and
 * reason says why; the other fields are empty. */
struct sigv4_result {
	char akid[SIGV4_AKID_MAX + 1];
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SCOPE_PART_MAX + 1];
	time_t date;                       /* the request time it was signed with */
	enum sigv4_reason reason;
};

/*
 * Verifies req's Authorization header. expected_service ("ecs", "events")
 * or NULL for any; now is the current Unix time. Returns 0 and fills *ret.
 * Returns -EACCES when the request is not authenticated, with *ret_code one
 * of the SIGV4_ERR_* strings (static), a message in err (it may quote the
 * Authorization header: it is for the client, not for a log) and
 * ret->reason; -ENOMEM, or the lookup's own error (*ret_code NULL), when it
 * could not be decided.
 */
int sigv4_verify(const struct sigv4_request *req, time_t now, const char *expected_service,
		 sigv4_secret_fn lookup, void *ctx, struct sigv4_result *ret, const char **ret_code,
		 char *err, size_t errlen);

/*
 * Signs req at time now: writes the Authorization header value (NUL-
 * terminated) into ret_authorization and the X-Amz-Date value the request
 * must carry into ret_amz_date. Signed headers: host (required), x-amz-date
 * (the value written here; any x-amz-date in req is ignored), and
 * content-type, x-amz-content-sha256, x-amz-security-token, x-amz-target
 * when req has them. Returns 0, -EINVAL for no host header or a bad
 * key/region/service (the region as verification requires it), -ENOBUFS when cap is too small, -ENOMEM.
 */
int sigv4_sign(const struct sigv4_request *req, time_t now, const char *akid, const char *secret,
	       const char *region, const char *service, char *ret_authorization, size_t cap,
	       char ret_amz_date[SIGV4_AMZ_DATE_LEN + 1]);

#endif
