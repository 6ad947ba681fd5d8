/*
 * config.h — the daemon's configuration file: read, validated, defaulted.
 *
 * `tripline serve --config FILE` reads one JSON object (DESIGN.md §6; every
 * key, its type and default in deploy/CONFIG.md and deploy/tripline.example.json).
 * The file is parsed with the strict JSON reader (common/json.h) and every
 * member is checked; every problem is reported, each as
 *
 *     <file>: <json pointer>: <message>
 *     tripline.json: /listen: must be HOST:PORT with a port from 1 to 65535
 *
 * Unknown keys ("unknown field") and keys written twice ("duplicate field")
 * are errors, at every level. An error about the document as a whole is
 * written right after the file name ("<file>: must be a JSON object"); JSON
 * syntax errors say "<file>: invalid JSON at line L, column C: <reason>".
 * Loading is all-or-nothing: with any error there is no config, and the
 * daemon refuses to start (a reloading caller keeps the config it has).
 *
 * Every key is optional; `{}` is a valid config. Paths are kept as written;
 * a relative path is relative to the daemon's working directory.
 *
 * Secrets (auth keys, webhook and connection secrets) are held as
 * references, never as values: "env:NAME" (an environment variable),
 * "file:PATH" (a file of mode 0600 or stricter) or "value:SECRET" (the
 * secret itself in the config; allowed, discouraged).
 * config_resolve_secret() turns a reference into the secret when it is
 * needed. Remote cluster credentials are a key pair, named
 * by "env:PREFIX" or "file:PATH" (struct config_remote_cluster).
 *
 * Memory: a struct tripline_config owns every string and array in it; all of
 * it is freed by config_free(). The struct is never modified after loading.
 * Nothing here logs.
 */
#ifndef TRIPLINE_ENGINE_CONFIG_H
#define TRIPLINE_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"

#define CONFIG_MAX_FILE_BYTES ((size_t)1 << 20)
#define CONFIG_MAX_SECRET_BYTES ((size_t)64 << 10)

#define CONFIG_DEFAULT_DATA_DIR "./var"
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8088"
#define CONFIG_DEFAULT_REGION "local"
#define CONFIG_DEFAULT_ACCOUNT "000000000000"
#define CONFIG_DEFAULT_RULES "./rules"
#define CONFIG_DEFAULT_TASK_DEFINITIONS "./taskdefs"
#define CONFIG_DEFAULT_CLUSTER_NAME "default"
#define CONFIG_DEFAULT_DOCKER_SOCKET "/var/run/docker.sock"
#define CONFIG_DEFAULT_FILE_SOURCE "aws.s3"
/* sources.files[].exclude when not given: dotfiles, editors' and
 * downloaders' temporary names */
#define CONFIG_FS_DEFAULT_EXCLUDE {".*", "*.tmp", "*.part", "*.swp", "*~"}
#define CONFIG_FS_DEFAULT_ETAG_MAX_BYTES ((uint64_t)16 << 20)
#define CONFIG_FS_DEFAULT_MAX_WATCHES 8192u
#define CONFIG_WEBHOOK_DEFAULT_DETAIL_TYPE "Webhook"
#define CONFIG_WEBHOOK_DEFAULT_TOLERANCE_S 300u
#define CONFIG_DEFAULT_KAFKA_GROUP "tripline"
#define CONFIG_DEFAULT_CLUSTER_CREDENTIALS "env:AWS"
#define CONFIG_DEFAULT_MAX_REQUEST_BYTES ((uint64_t)1 << 20)
#define CONFIG_DEFAULT_MAX_EVENT_BYTES ((uint64_t)256 << 10)
#define CONFIG_DEFAULT_MAX_TASKS 1000u
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_S 30u
#define CONFIG_DEFAULT_MAX_CONNECTIONS 256u
#define CONFIG_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 32u
#define CONFIG_DEFAULT_REQUEST_HEAD_TIMEOUT_S 10u
#define CONFIG_DEFAULT_MAX_TASK_DEFINITION_BYTES ((uint64_t)64 << 10)
#define CONFIG_DEFAULT_MAX_TASK_DEFINITION_FAMILIES 1000u
#define CONFIG_DEFAULT_MAX_TASK_DEFINITION_REVISIONS 1000u
#define CONFIG_DEFAULT_BUS_QUEUE 10000u
#define CONFIG_DEFAULT_MAX_EVENT_DEPTH 8u
#define CONFIG_DEFAULT_MAX_CONCURRENCY 64u
#define CONFIG_DEFAULT_HTTP_TIMEOUT_S 10u
#define CONFIG_DEFAULT_MAX_CLIENT_TOKENS 100000u
/* systemd's range for DynamicUser= (61184-65519) */
#define CONFIG_DEFAULT_UID_MIN 61184u
#define CONFIG_DEFAULT_UID_MAX 65519u
/* environment variables valueFrom "env:NAME" may always name */
#define CONFIG_ENV_ALLOW_ALWAYS "TRIPLINE_TASK_"

enum config_log_level {
	CONFIG_LOG_DEBUG,
	CONFIG_LOG_INFO,   /* default */
	CONFIG_LOG_WARN,
	CONFIG_LOG_ERROR,
};

enum config_log_format {
	CONFIG_LOG_FORMAT_TEXT,   /* default: one line per record for a terminal */
	CONFIG_LOG_FORMAT_JSON,   /* JSON lines */
};

/* How a webhook request proves where it comes from. */
enum config_webhook_auth {
	CONFIG_WEBHOOK_AUTH_NONE,     /* default; no secret */
	CONFIG_WEBHOOK_AUTH_GITHUB,   /* X-Hub-Signature-256: HMAC-SHA256 of the body */
	CONFIG_WEBHOOK_AUTH_BEARER,   /* Authorization: Bearer <secret> */
	CONFIG_WEBHOOK_AUTH_HMAC,     /* <signature_header>: <signature_prefix><hex HMAC-SHA256>
					 of the body, or of "<timestamp>.<body>" with a
					 timestamp_header (Stripe, Slack) */
};

struct config_strv {
	size_t n;
	char **v;
};

/* clusters.<name>: a remote ECS endpoint (real Amazon ECS or another tripline). */
struct config_remote_cluster {
	char *name;
	char *endpoint;      /* http:// or https:// URL */
	char *region;
	char *credentials;   /* "env:PREFIX" (PREFIX_ACCESS_KEY_ID, PREFIX_SECRET_ACCESS_KEY,
				optional PREFIX_SESSION_TOKEN) or "file:PATH" (a 0600 JSON
				file {access_key_id, secret_access_key, session_token});
				default "env:AWS" */
};

/* auth.keys.<access_key_id>: the SigV4 secret access key, as a reference. */
struct config_auth_key {
	char *access_key_id;
	char *secret_ref;
};

/* sources.files[].events: which S3 events a watch emits (bits). */
#define CONFIG_FS_CREATED 1u
#define CONFIG_FS_DELETED 2u

enum config_fs_on_start {
	CONFIG_FS_ON_START_RECONCILE,   /* default: what changed while stopped is emitted */
	CONFIG_FS_ON_START_IGNORE,      /* the tree as found is the baseline */
};

struct config_file_source {
	char *name;                 /* the S3 bucket name in its events */
	char *path;                 /* the watched root */
	bool recursive;             /* default true */
	char *source;               /* the events' "source"; default "aws.s3" */
	struct config_strv include; /* globs; none: every name */
	struct config_strv exclude; /* globs; default CONFIG_FS_DEFAULT_EXCLUDE */
	unsigned events;            /* CONFIG_FS_CREATED | CONFIG_FS_DELETED (default both) */
	enum config_fs_on_start on_start;
	uint64_t etag_max_bytes;    /* MD5 etag up to this size; default 16 MiB */
	uint32_t max_watches;       /* directories watched at most; default 8192 */
	char *bus;                  /* the bus its events go on; default "default" */
};

struct config_kafka_source {
	char *name;       /* default "kafka-<index>" */
	char *brokers;    /* librdkafka bootstrap list, "host:port[,host:port…]" */
	char *group;      /* consumer group; default "tripline" */
	struct config_strv topics;
};

struct config_webhook {
	char *name;                 /* served at POST /hooks/<name> */
	enum config_webhook_auth auth;
	char *secret_ref;           /* secret reference; NULL when auth is none */
	char *detail_type_header;   /* header giving the events' detail-type, or NULL */
	char *id_header;            /* header giving the events' id, or NULL */
	char *source;               /* the events' "source"; default "webhook.<name>" */
	char *detail_type;          /* when no detail_type_header value: default "Webhook" */
	char *bus;                  /* the bus its events go on; default "default" */
	/* hmac only */
	char *signature_header;     /* required with hmac */
	char *signature_prefix;     /* before the hex digest, e.g. "sha256=" or "v0="; default "" */
	char *timestamp_header;     /* or NULL: the HMAC covers the body alone */
	uint32_t tolerance_s;       /* with timestamp_header: default 300 */
};

/* connections.<name>: how an HTTP target authenticates (EventBridge's
 * connections); the secret is a reference, resolved when the daemon starts. */
enum config_connection_auth {
	CONFIG_CONNECTION_BASIC,     /* Authorization: Basic base64(username:secret) */
	CONFIG_CONNECTION_BEARER,    /* Authorization: Bearer <secret> */
	CONFIG_CONNECTION_API_KEY,   /* <header>: <secret> */
};

struct config_connection {
	char *name;
	enum config_connection_auth auth;
	char *username;              /* basic only */
	char *header;                /* api_key only: the header's name */
	char *secret_ref;
};

struct tripline_config {
	char *data_dir;
	char *listen;            /* as written: "127.0.0.1:8088", "[::1]:8088" */
	char *listen_host;       /* without brackets: "127.0.0.1", "::1", "localhost" */
	uint16_t listen_port;
	char *region;            /* [a-z0-9-]{1,32} */
	char *account;           /* 12 digits */
	enum config_log_level log_level;
	enum config_log_format log_format;
	struct config_strv rules;              /* files and directories of rules */
	struct config_strv task_definitions;   /* files and directories of task definitions */
	struct {
		char *name;
		uint64_t cpu;          /* CPU units offered; default 1024 per online core */
		uint64_t memory_mib;   /* memory offered; default the host's physical memory */
	} cluster;
	struct {
		char *process_cgroup_root;   /* NULL: detect */
		/* a root daemon's process tasks without "user": each its own uid
		 * from [process_uid_min, process_uid_max], or process_default_user
		 * when set ("NAME", "UID" or "UID:GID"); running as root needs
		 * "user": "root" (or "0") and process_allow_root */
		uint32_t process_uid_min, process_uid_max;
		char *process_default_user;   /* NULL: dynamic uids */
		bool process_allow_root;      /* default false */
		char *docker_socket;
		struct config_strv docker_allowed_host_paths;   /* absolute, normalised; default none */
	} drivers;
	size_t n_clusters;
	struct config_remote_cluster *clusters;   /* in document order */
	char *state_redis;      /* redis://HOST[:PORT][/DB], or NULL: in-memory state */
	char *secrets_file;     /* the task secrets store, or NULL: none */
	/* prefixes of the daemon's environment variables a task's valueFrom
	 * "env:NAME" may name, besides CONFIG_ENV_ALLOW_ALWAYS; default none */
	struct config_strv secrets_env_allow;
	size_t n_auth_keys;     /* 0: requests are not authenticated (loopback only) */
	struct config_auth_key *auth_keys;
	struct {
		size_t n_files;
		struct config_file_source *files;
		size_t n_kafka;
		struct config_kafka_source *kafka;
		size_t n_webhooks;
		struct config_webhook *webhooks;
	} sources;
	/* peers whose X-Forwarded-For is believed (webhooks' source address):
	 * IPv4/IPv6 addresses or CIDR blocks, as written; default none */
	struct config_strv trusted_proxies;
	struct config_strv buses;              /* event buses besides "default" */
	struct config_strv services;           /* files and directories of service definitions
						  (CreateService requests), created at start */
	size_t n_connections;
	struct config_connection *connections; /* in document order */
	struct {
		bool fsync;                    /* default true; false only for benchmarks */
		uint64_t max_bytes;            /* live journal bytes; 0: JOURNAL_DEFAULT_MAX_BYTES */
	} journal;
	struct {
		uint32_t max_concurrency;      /* attempts in flight per target; default 64 */
		uint32_t http_timeout_s;       /* an HTTP target's request; default 10 */
		bool file_fsync;               /* file targets fsync each line; default false */
		uint32_t max_client_tokens;    /* rule-made idempotency tokens kept; default 100000 */
	} delivery;
	struct {
		uint64_t max_request_bytes;   /* HTTP request bodies; over it: 413 */
		uint64_t max_event_bytes;     /* one event */
		uint32_t max_tasks;           /* tasks not yet STOPPED on this host */
		uint32_t shutdown_timeout_s;  /* SIGTERM: in-flight work gets this long */
		uint32_t max_connections;     /* open HTTP connections */
		uint32_t max_connections_per_client;   /* open HTTP connections from one address */
		uint32_t request_head_timeout_s;       /* a request line and headers must arrive within */
		uint64_t max_task_definition_bytes;    /* one RegisterTaskDefinition request's definition */
		uint32_t max_task_definition_families;
		uint32_t max_task_definition_revisions;   /* per family, ACTIVE and INACTIVE */
		uint32_t bus_queue;            /* events waiting to be matched; default 10000 */
		uint32_t max_event_depth;      /* causal depth (loop protection); default 8 */
	} limits;
};

/* Parses and validates text[0..len) (need not be NUL-terminated); name is the
 * file name used in messages. 0 and *ret owned by the caller; -EINVAL with
 * every problem added to errs and *ret NULL; -ENOMEM. */
int config_from_text(const char *name, const char *text, size_t len,
		     struct tripline_config **ret, struct errlist *errs);

/* Reads path (at most CONFIG_MAX_FILE_BYTES) and calls config_from_text().
 * An I/O error returns -errno with "<path>: <strerror>" added to errs. */
int config_load_file(const char *path, struct tripline_config **ret, struct errlist *errs);

void config_free(struct tripline_config *c);

/* True when listen is 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 or "localhost"
 * (any other host name counts as not loopback: it is not resolved). */
bool config_listen_is_loopback(const struct tripline_config *c);

/* True when ref is a well-formed secret reference (env:NAME with NAME
 * [A-Za-z_][A-Za-z0-9_]*, file:PATH, value:SECRET; none of them empty). */
bool config_secret_ref_valid(const char *ref);

/*
 * Resolves a secret reference into a malloc'd, NUL-terminated *ret (the
 * caller owns it and should explicit_bzero() it before free()). file:PATH
 * reads a regular file of at most CONFIG_MAX_SECRET_BYTES that is owned by
 * this user (or root) and not readable, writable or executable by group or
 * others; one trailing "\n" or "\r\n" is dropped. On failure a message for a
 * person, naming the reference but never the secret, is written to err
 * (errlen bytes, may be 0) and *ret is NULL: -EINVAL (malformed reference or
 * empty secret), -ENOENT (variable unset, no such file), -EACCES (mode too
 * open, wrong owner), -EFBIG, -ENOMEM or another -errno.
 */
int config_resolve_secret(const char *ref, char **ret, char *err, size_t errlen);

/*
 * Resolves the secret of every connection of c, as the daemon does when it
 * starts (a missing secret stops it there, not at a delivery): 0 and *ret,
 * c->n_connections secrets in the connections' order (NULL when there are
 * none; config_secrets_free() wipes and frees them); or -EINVAL (-ENOMEM)
 * with *ret NULL and one message per connection that failed in errs,
 * "connection NAME: <config_resolve_secret()'s message>".
 */
int config_resolve_connection_secrets(const struct tripline_config *c, char ***ret,
				      struct errlist *errs);
void config_secrets_free(char **secrets, size_t n);

#endif
