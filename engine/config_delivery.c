/*
 * config_delivery.c — the configuration's keys for events and their
 * delivery (config.h, deploy/CONFIG.md): `buses`, `services`,
 * `connections`, `journal`, `delivery`, and `limits.bus_queue` and
 * `limits.max_event_depth`. config.c calls in here for the defaults, the
 * two limits, the root's sections (after the limits: the journal must hold
 * the largest event) and the freeing; the conventions are config.c's (every
 * error at its pointer, unknown and repeated fields refused, integers
 * written as integers, secrets held as references and never echoed).
 *
 * Names follow EventBridge: a bus as CreateEventBus names a custom bus
 * (1 to 256 of A-Z a-z 0-9 . _ -; no "/", which only partner buses have;
 * not "default", which always exists); a connection as CreateConnection
 * names one (1 to 64 of A-Z a-z 0-9 . _ -). A connection's secret is a
 * secret reference, resolved when the daemon starts
 * (config_resolve_connection_secrets(), config_secret.c), never here.
 * Nothing here logs.
 */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "http_token.h"
#include "journal.h"
#include "jtext.h"

#define JOURNAL_MIN_BYTES ((int64_t)1 << 20)
#define JOURNAL_MAX_BYTES ((int64_t)1 << 40)

static const char *const connection_auths[] = {"basic", "bearer", "api_key", NULL};

void config_delivery_defaults(struct tripline_config *cfg)
{
	cfg->journal.fsync = true;
	cfg->journal.max_bytes = JOURNAL_DEFAULT_MAX_BYTES;
	cfg->delivery.max_concurrency = CONFIG_DEFAULT_MAX_CONCURRENCY;
	cfg->delivery.http_timeout_s = CONFIG_DEFAULT_HTTP_TIMEOUT_S;
	cfg->delivery.file_fsync = false;
	cfg->delivery.max_client_tokens = CONFIG_DEFAULT_MAX_CLIENT_TOKENS;
	cfg->limits.bus_queue = CONFIG_DEFAULT_BUS_QUEUE;
	cfg->limits.max_event_depth = CONFIG_DEFAULT_MAX_EVENT_DEPTH;
}

void config_delivery_limits(struct jcheck *c, const struct jnode *limits, struct tripline_config *cfg)
{
	uint64_t queue = cfg->limits.bus_queue, depth = cfg->limits.max_event_depth;

	/* at least one PutEvents request's 10 entries */
	config_take_int(c, limits, "bus_queue", 10, 1000000, &queue);
	config_take_int(c, limits, "max_event_depth", 1, 64, &depth);
	cfg->limits.bus_queue = (uint32_t)queue;
	cfg->limits.max_event_depth = (uint32_t)depth;
}

/* ------------------------------------------------------------ buses */

static bool bus_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 256 && jtext_chars_in(s, n, "._-");
}

static void check_buses(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg)
{
	const struct jnode *a = jnode_get(root, "buses");

	config_take_string_array(c, root, "buses", 0, 0, CONFIG_MAX_ITEMS, bus_name_ok,
				 "must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, ., _ and -",
				 &cfg->buses);
	if (!a || a->type != JNODE_ARRAY || cfg->buses.n != a->len)
		return;   /* absent, or reported */
	size_t old = jcheck_push(c, "buses");
	for (size_t i = 0; i < cfg->buses.n; i++) {
		const char *name = cfg->buses.v[i];
		size_t o2 = jcheck_push_index(c, i);
		if (strcmp(name, "default") == 0)
			jcheck_err(c, "must not be \"default\": the default bus always exists");
		for (size_t j = 0; j < i; j++) {
			if (strcmp(name, cfg->buses.v[j]) == 0) {
				jcheck_err(c, "duplicate name \"%s\"", name);
				break;
			}
		}
		jcheck_pop(c, o2);
	}
	jcheck_pop(c, old);
}

/* ------------------------------------------------------------ connections */

static bool connection_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 64 && jtext_chars_in(s, n, "._-");
}

/* RFC 7617: a user-id has no ':' and no control characters. */
static bool username_ok(const char *s, size_t n)
{
	if (n == 0 || n > 512)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f || s[i] == ':')
			return false;
	return true;
}

/* A member only auth `want` uses: required with it, refused with another. */
static const struct jnode *auth_member(struct jcheck *c, const struct jnode *o, const char *key,
				       int auth, int want)
{
	const struct jnode *n = jnode_get(o, key);

	if (auth < 0)
		return NULL;   /* the auth is wrong: already reported */
	if (auth != want && n) {
		jcheck_err_at(c, key, "is only used when auth is %s", connection_auths[want]);
		return NULL;
	}
	if (auth == want && !n) {
		jcheck_err_at(c, key, "is required when auth is %s", connection_auths[want]);
		return NULL;
	}
	return auth == want ? jcheck_member(c, o, key, JNODE_STRING, 0) : NULL;
}

static void connection(struct jcheck *c, const struct jnode *o, struct config_connection *conn)
{
	static const char *const fields[] = {"auth", "username", "header", "secret", NULL};
	const struct jnode *n;
	int auth;

	jcheck_fields(c, o, fields, NULL);
	auth = jcheck_enum(c, o, "auth", JCHECK_REQUIRED, connection_auths, -1);
	if (auth >= 0)
		conn->auth = (enum config_connection_auth)auth;
	if ((n = auth_member(c, o, "username", auth, CONFIG_CONNECTION_BASIC))) {
		if (username_ok(n->u.str, n->len))
			conn->username = jcheck_dup(c, n->u.str, n->len);
		else
			jcheck_err_at(c, "username", "must be 1 to 512 characters without \":\" or control characters");
	}
	if ((n = auth_member(c, o, "header", auth, CONFIG_CONNECTION_API_KEY))) {
		if (http_header_name_ok(n->u.str, n->len))
			conn->header = jcheck_dup(c, n->u.str, n->len);
		else
			jcheck_err_at(c, "header", "must be an HTTP header name");
	}
	config_take_secret_ref(c, o, "secret", JCHECK_REQUIRED, &conn->secret_ref);
}

static void connections_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	if (o->len > CONFIG_MAX_ITEMS) {
		jcheck_err(c, "must have at most %u members", CONFIG_MAX_ITEMS);
		return;
	}
	if (!(cfg->connections = jcheck_calloc(c, o->len, sizeof(*cfg->connections))))
		return;
	for (size_t i = 0; i < o->len; i++) {
		const struct jmember *m = &o->u.members[i];

		if (!config_is_last(o, m))
			continue;
		size_t old = jcheck_push_n(c, m->key, m->key_len);
		bool name_ok = connection_name_ok(m->key, m->key_len);
		if (!name_ok)
			jcheck_err(c, "a connection name must be 1 to 64 characters of A-Z, a-z, 0-9, ., _ and -");
		if (m->value->type != JNODE_OBJECT)
			jcheck_err(c, "must be an object");
		else if (name_ok) {
			struct config_connection *conn = &cfg->connections[cfg->n_connections++];
			conn->name = jcheck_dup(c, m->key, m->key_len);
			connection(c, m->value, conn);
		}
		jcheck_pop(c, old);
	}
}

/* ------------------------------------------------------------ journal, delivery */

static void journal_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	jcheck_bool(c, o, "fsync", 0, &cfg->journal.fsync);
	config_take_int(c, o, "max_bytes", JOURNAL_MIN_BYTES, JOURNAL_MAX_BYTES, &cfg->journal.max_bytes);
	/* a journal that cannot hold the largest event would refuse it forever */
	if (cfg->journal.max_bytes < cfg->limits.max_event_bytes)
		jcheck_err_at(c, "max_bytes", "must be at least limits.max_event_bytes (%llu)",
			      (unsigned long long)cfg->limits.max_event_bytes);
}

static void delivery_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	uint64_t conc = cfg->delivery.max_concurrency, timeout = cfg->delivery.http_timeout_s;
	uint64_t tokens = cfg->delivery.max_client_tokens;

	config_take_int(c, o, "max_concurrency", 1, 10000, &conc);
	config_take_int(c, o, "http_timeout_s", 1, 300, &timeout);
	jcheck_bool(c, o, "file_fsync", 0, &cfg->delivery.file_fsync);
	config_take_int(c, o, "max_client_tokens", 1, 10000000, &tokens);
	cfg->delivery.max_concurrency = (uint32_t)conc;
	cfg->delivery.http_timeout_s = (uint32_t)timeout;
	cfg->delivery.max_client_tokens = (uint32_t)tokens;
}

void config_delivery_check(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg)
{
	static const char *const journal_fields[] = {"fsync", "max_bytes", NULL};
	static const char *const delivery_fields[] = {"max_concurrency", "http_timeout_s", "file_fsync",
						      "max_client_tokens", NULL};

	check_buses(c, root, cfg);
	config_take_string_array(c, root, "services", 0, 0, CONFIG_MAX_PATHS, config_path_ok,
				 "must be a non-empty string", &cfg->services);
	config_with_object(c, root, "connections", NULL, cfg, connections_fn);
	config_with_object(c, root, "journal", journal_fields, cfg, journal_fn);
	config_with_object(c, root, "delivery", delivery_fields, cfg, delivery_fn);
}

void config_delivery_free(struct tripline_config *cfg)
{
	config_strv_free(&cfg->buses);
	config_strv_free(&cfg->services);
	for (size_t i = 0; i < cfg->n_connections; i++) {
		free(cfg->connections[i].name);
		free(cfg->connections[i].username);
		free(cfg->connections[i].header);
		config_free_secret(cfg->connections[i].secret_ref);
	}
	free(cfg->connections);
}
