/*
 * client.h — a small synchronous client for the AWS JSON 1.1 API that
 * `tripline serve` speaks (and Amazon ECS itself): one POST / per call, with
 * an X-Amz-Target, a JSON request and a JSON answer. The CLI's remote
 * commands (engine/cli/: remote.c makes the client, call.c calls) are its
 * user.
 *
 * How a call goes: the request object is serialised compactly; the headers
 * Host (as the endpoint names it, port included), Content-Type
 * application/x-amz-json-1.1, X-Amz-Target and, with credentials, X-Amz-Date,
 * X-Amz-Security-Token (when a session token is given) and Authorization
 * (sigv4_sign, the configured region and service) are set; the body is sent
 * with libcurl's easy interface, within a connect timeout and a total
 * timeout; the answer is read up to CLIENT_MAX_RESPONSE bytes and parsed
 * with jansson.
 *
 * What a call promises: 0 means an HTTP answer came back, whatever its
 * status; the caller looks at status and body (for an error, the AWS shape
 * {"__type", "message"} — see client_error_type()). A negative errno means
 * no answer: -ECONNREFUSED (nothing listening), -EHOSTUNREACH (no such host,
 * no route), -ETIMEDOUT, -EFBIG (answer over the cap), -EPROTO (TLS or HTTP
 * trouble), -ENOMEM, -EIO (anything else), each with a one-line message for
 * a person in err. Secrets are never put into a message.
 *
 * Only client.c includes libcurl. Not thread-safe: one thread, one client.
 * Lifecycle: client_new() → client_call()… → client_free().
 */
#ifndef TRIPLINE_ENGINE_CLIENT_H
#define TRIPLINE_ENGINE_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CLIENT_MAX_RESPONSE ((size_t)16 << 20)   /* bytes of one answer */
#define CLIENT_MAX_ENDPOINT 2048                 /* bytes of the endpoint URL */
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define CLIENT_DEFAULT_TIMEOUT_MS 120000L
#define CLIENT_ECS_PREFIX "AmazonEC2ContainerServiceV20141113."

struct client_options {
	const char *endpoint;           /* http:// or https:// URL, without query or user info */
	const char *region;             /* the SigV4 scope's region; NULL: "local" */
	const char *service;            /* the SigV4 scope's service; NULL: "ecs" */
	const char *access_key_id;      /* NULL: requests go unsigned */
	const char *secret_access_key;  /* required with access_key_id */
	const char *session_token;      /* optional, sent as X-Amz-Security-Token */
	long connect_timeout_ms;        /* 0: CLIENT_DEFAULT_CONNECT_TIMEOUT_MS */
	long timeout_ms;                /* 0: CLIENT_DEFAULT_TIMEOUT_MS */
};

/* What came back. body is the parsed JSON answer (owned; NULL when the
 * answer was empty or not JSON), text the first bytes of a non-JSON answer
 * for messages (owned, NUL-terminated, control bytes removed; or NULL). */
struct client_reply {
	long status;
	json_t *body;
	char *text;
};

struct client;

/*
 * Checks the options and makes a client; the options' strings are copied
 * (the secret is wiped when the client is freed). Returns 0, -EINVAL with a
 * message in err (bad endpoint, half a key pair, a key or region SigV4
 * cannot carry), or -ENOMEM.
 */
int client_new(const struct client_options *opt, struct client **ret, char *err, size_t errlen);

/* Frees the client; NULL is fine. */
void client_free(struct client *c);

/* The endpoint URL the client talks to (borrowed). */
const char *client_endpoint(const struct client *c);

/*
 * Sends request (borrowed; NULL sends {}) to the operation target, e.g.
 * CLIENT_ECS_PREFIX "ListTasks" or "Tripline.GetTaskLogs". 0 with *ret
 * filled (release it with client_reply_clear()), or a negative errno as
 * described above with a message in err and *ret empty.
 */
int client_call(struct client *c, const char *target, const json_t *request, struct client_reply *ret,
		char *err, size_t errlen);

/* Frees what a reply owns and empties it; an empty reply is fine. */
void client_reply_clear(struct client_reply *r);

/* The error type of an error answer: "__type" (any "namespace#" prefix
 * dropped) or NULL; and its "message" (or "Message") or NULL. Borrowed from
 * r->body. */
const char *client_error_type(const struct client_reply *r);
const char *client_error_message(const struct client_reply *r);

#endif
