/*
 * webhook_internal.h — the webhook source's pure parts (webhook_auth.c):
 * what a request must carry to be believed, which of its headers go into
 * the event, and which address it came from. No I/O, no logging, no state
 * between calls: the unit tests and the fuzz target call them directly;
 * webhook.c calls them for each request on the loop thread.
 *
 * Secrets: a struct webhook_auth borrows the resolved secret; nothing here
 * copies it anywhere but into libcrypto for the HMAC, and every comparison
 * with it is constant-time (digest_equal over digests of equal length).
 */
#ifndef TRIPLINE_SOURCES_WEBHOOK_INTERNAL_H
#define TRIPLINE_SOURCES_WEBHOOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "digest.h"
#include "http.h"
#include "value.h"

struct event;

#define WEBHOOK_GITHUB_HEADER "X-Hub-Signature-256"
#define WEBHOOK_GITHUB_PREFIX "sha256="
#define WEBHOOK_MAX_HEADERS 64u              /* request headers kept in an event */
#define WEBHOOK_MAX_HEADER_VALUE 1024u       /* bytes of one kept header's value */
#define WEBHOOK_MAX_DETAIL_TYPE 128u         /* bytes of a detail-type taken from a header */
#define WEBHOOK_ADDR_MAX 46u                 /* INET6_ADDRSTRLEN */

/* How one hook checks its requests. */
struct webhook_auth {
	enum config_webhook_auth kind;
	const char *secret;             /* NULL with kind none */
	size_t secret_len;
	unsigned char secret_sha[DIGEST_SHA256_LEN];   /* bearer: SHA-256 of the secret */
	const char *signature_header;   /* github: WEBHOOK_GITHUB_HEADER; hmac: configured */
	const char *signature_prefix;   /* github: WEBHOOK_GITHUB_PREFIX; hmac: configured ("" none) */
	const char *timestamp_header;   /* hmac only; NULL: the HMAC covers the body alone */
	uint32_t tolerance_s;           /* with timestamp_header */
};

/* Fills a from a hook's config and its resolved secret (borrowed: it must
 * outlive a). 0, or -ENOMEM/-EIO from the digest. */
int webhook_auth_init(struct webhook_auth *a, const struct config_webhook *h, const char *secret);

/*
 * Whether req proves it comes from the hook's sender, now_s being the wall
 * clock (the sender's timestamps are wall time): 0 yes; -EACCES no (a
 * signature or token missing, malformed or wrong, a timestamp missing,
 * malformed or further than tolerance_s from now_s: the caller answers the
 * same whichever it was); -ENOMEM/-EIO when the digest could not be made.
 */
int webhook_auth_check(const struct webhook_auth *a, const struct http_request *req, int64_t now_s);

/* Whether a header of that name (any case) is never copied into an event
 * for a hook with this auth: credentials (Authorization, Cookie,
 * Proxy-Authorization), signatures (X-Hub-Signature, X-Hub-Signature-256,
 * the hook's signature_header) and names that say they carry a secret
 * (containing "token", "secret", "signature", "password" or "api-key"). */
bool webhook_header_hidden(const struct webhook_auth *a, const char *name);

/* The trusted proxies (config's trusted_proxies), parsed. */
struct webhook_proxies {
	size_t n;
	struct cidr *v;
};

/* Parses IP addresses and CIDR blocks: 0, -EINVAL with "ENTRY: reason" in
 * err, or -ENOMEM. webhook_proxies_free() in every case. */
int webhook_proxies_parse(const struct config_strv *list, struct webhook_proxies *ret, char *err, size_t errlen);
void webhook_proxies_free(struct webhook_proxies *p);

/*
 * The address the request came from, as text in out: the peer's address;
 * or, when the peer is a trusted proxy, the right-most address of
 * X-Forwarded-For (every such header, in order) that is not itself a
 * trusted proxy — an entry that is not an address stops the walk at the
 * hop that wrote it, and when every entry is trusted the left-most is
 * taken. "" when the peer's address is unknown (not an address).
 */
void webhook_client_addr(const struct webhook_proxies *p, const struct http_request *req,
			 char out[WEBHOOK_ADDR_MAX]);

/* Whether s is 1..max bytes of printable ASCII (space allowed when
 * space_ok): a detail-type or an id taken from a header. */
bool webhook_printable(const char *s, size_t max, bool space_ok);

/* Whether a Content-Type is JSON: application/json or application/<x>+json,
 * any case, with parameters (charset) after ';'. */
bool webhook_content_type_json(const char *content_type);

/*
 * The hook name in a path under prefix ("/hooks/"), percent-decoded into
 * out (outlen bytes): 0, or -ENOENT when there is none, it holds a '/', a
 * NUL or a bad escape, or it does not fit.
 */
int webhook_path_name(const char *path, const char *prefix, char *out, size_t outlen);

/* ------------------------------------------------------------ the request path */

/* One configured hook, as the request path reads it (strings borrowed). */
struct webhook_hook {
	const char *name;
	const struct config_webhook *cfg;   /* detail_type_header, id_header */
	const char *source;                 /* defaults applied */
	const char *detail_type;
	const char *bus;
	struct webhook_auth auth;
};

/* Every hook and what the requests are checked against (borrowed). */
struct webhook_set {
	const struct webhook_hook *hooks;
	size_t n;
	const struct webhook_proxies *proxies;
	const char *prefix;                 /* "/hooks/" */
	const char *account, *region;
	size_t max_event_bytes;             /* an envelope over it: 413 */
};

/* What becomes of one request. */
struct webhook_verdict {
	const struct webhook_hook *hook;    /* the hook named, or NULL (404) */
	unsigned status;                    /* 0: accepted, ev holds the event; else the answer */
	const char *reason;                 /* the error counter's reason ("signature", "json", …) */
	char message[320];                  /* the answer's {"message"} */
	struct event *ev;                   /* one reference, the caller's */
	bool retry_after;                   /* the answer carries Retry-After: 1 */
};

/*
 * Checks a request in the order method → hook name → content type → auth
 * → JSON (→ id header, query text, envelope size) and, when all hold,
 * builds its event (the time now_s, the wall clock): status 0 and ev, or
 * the status to answer (405, 404, 415, 401, 400, 413; 500 out of memory)
 * with a message that never says which part of a signature failed.
 */
void webhook_request(const struct webhook_set *set, const struct http_request *req, int64_t now_s,
		     struct webhook_verdict *ret);

/* The answer for the ingest's result (ingest.h) of an accepted event:
 * status 202 for 0; 503 (with retry_after for -EAGAIN, the bus full) for
 * -EAGAIN, -ENOSPC, -EIO, -ECANCELED; 500 for -ENOENT (no such bus) and
 * anything else; with its reason and message. */
void webhook_ingested(int result, struct webhook_verdict *v);

/*
 * The event's extension member "tripline" as compact JSON (malloc'd):
 * {"webhook":{"name","headers":{lower-case name: value},"query","source_ip"}}
 * plus "headers_dropped": N when some were left out. Hidden headers
 * (webhook_header_hidden()) and any whose name or value holds the secret
 * are never in it, nor a query that holds it (the query is then ""); a repeated header is one member, its values joined by ", ". At
 * most WEBHOOK_MAX_HEADERS members of at most WEBHOOK_MAX_HEADER_VALUE
 * bytes, valid UTF-8: the others are dropped and counted. 0, -EINVAL (the
 * query is not valid UTF-8), -ENOMEM.
 */
int webhook_extension(const struct webhook_hook *h, const struct http_request *req, const char *source_ip,
		      char **ret, size_t *ret_len);

#endif
