/*
 * config.c — read, validate and default the daemon's configuration file.
 *
 * A config starts as the defaults (config_defaults()); the document is then
 * walked object by object. Each object first has its member names checked
 * (unknown and repeated names are errors), then each known member is checked
 * and, when good, replaces the default. Validation never stops at the first
 * problem: every message goes into a local list as "<pointer>: <message>" and
 * is moved to the caller's list prefixed with the file name. Cross-field
 * rules run last (auth required off loopback, unique source names, limits
 * that depend on each other). With any message the config is freed and the
 * caller gets -EINVAL and no config.
 *
 * Conventions of the messages are those of rules/ruleset.c, the file style
 * of common/jcheck.h (which holds the context and the member getters): "is
 * required", "must be …" (a wrong JSON type and a wrong value share one
 * sentence where one covers both), "unknown field", "duplicate field".
 * Integers must be written as integers (1.0 and 1e3 are rejected). User text
 * is echoed only once checked to be a harmless name, and secret references
 * never are.
 *
 * Secret references are resolved only on demand by config_resolve_secret(),
 * so a config can be validated without the secrets present. Nothing here logs.
 */
#include "config.h"
#include "config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jcheck.h"
#include "json.h"
#include "jtext.h"
#include "readfile.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

#define MAX_PATHS CONFIG_MAX_PATHS
#define MAX_ITEMS CONFIG_MAX_ITEMS
#define CPU_MAX ((int64_t)1 << 26)
#define MEMORY_MIB_MAX ((int64_t)1 << 30)

static const char *const secret_ref_sentence = "must be env:NAME, file:PATH or value:SECRET";
static const char *const listen_port_sentence = "must be HOST:PORT with a port from 1 to 65535";
static const char *const listen_host_sentence =
	"must be HOST:PORT with HOST an IPv4 address, a host name or [an IPv6 address]";

/* Replaces *dst (a default or NULL) with a copy of s[0..n). */
void config_set_str(struct jcheck *c, char **dst, const char *s, size_t n)
{
	char *d = jcheck_dup(c, s, n);

	if (!d)
		return;
	free(*dst);
	*dst = d;
}

/* ------------------------------------------------------------ text helpers */

/* Decimal digits only, value in [lo, hi]. */
static bool digits_ok(const char *s, size_t n, long lo, long hi, long *ret)
{
	long v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!jtext_is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

static bool region_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(jtext_is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	return n >= 1 && n <= 32;
}

/* ECS cluster names. */
static bool cluster_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 255 && jtext_chars_in(s, n, "_-");
}

/* RFC 1123 host name: dot-separated labels of [A-Za-z0-9-], not starting or
 * ending with '-'. */
static bool hostname_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(jtext_is_alnum(s[i]) || s[i] == '-') || (label == 0 && s[i] == '-'))
			return false;
		label++;
	}
	return true;
}

static bool digits_dots(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!jtext_is_digit(s[i]) && s[i] != '.')
			return false;
	return n > 0;
}

/* Parses the address s[0..n) of family af into buf (a struct in_addr or
 * in6_addr); false when it is not an address literal of that family. */
static bool ip_parse(const char *s, size_t n, int af, unsigned char buf[16])
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp) || memchr(s, '\0', n))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(af, tmp, buf) == 1;
}

/*
 * Splits "HOST:PORT", "[IPV6]:PORT" (or, when port_optional, also "HOST" and
 * "[IPV6]") into the host without brackets and the port. NULL when good, else
 * which sentence to report.
 */
static const char *host_port_split(const char *s, size_t n, bool port_optional,
				   const char **ret_host, size_t *ret_host_len, long *ret_port)
{
	const char *host, *rest;
	size_t host_len, rest_len;
	unsigned char addr[16];

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return listen_host_sentence;
		host = s + 1;
		host_len = (size_t)(close - host);
		if (!ip_parse(host, host_len, AF_INET6, addr))
			return listen_host_sentence;
		rest = close + 1;
		rest_len = n - (size_t)(rest - s);
	} else {
		const char *colon = memchr(s, ':', n);
		if (!colon && !port_optional)
			return listen_port_sentence;
		host = s;
		host_len = colon ? (size_t)(colon - s) : n;
		rest = s + host_len;
		rest_len = n - host_len;
		if (colon && memchr(colon + 1, ':', rest_len - 1))
			return listen_host_sentence;   /* IPv6 without brackets */
		if (digits_dots(host, host_len) ? !ip_parse(host, host_len, AF_INET, addr)
						: !hostname_ok(host, host_len))
			return listen_host_sentence;
	}
	*ret_host = host;
	*ret_host_len = host_len;
	if (rest_len == 0 && port_optional) {
		*ret_port = 0;
		return NULL;
	}
	if (rest_len < 2 || rest[0] != ':' || !digits_ok(rest + 1, rest_len - 1, 1, 65535, ret_port))
		return listen_port_sentence;
	return NULL;
}

static bool secret_ref_ok(const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return false;
	if (jtext_has_prefix(s, n, "env:")) {
		s += 4;
		n -= 4;
		return n >= 1 && n <= 255 && !jtext_is_digit(s[0]) && jtext_chars_in(s, n, "_");
	}
	if (jtext_has_prefix(s, n, "file:"))
		return n > 5;
	if (jtext_has_prefix(s, n, "value:"))
		return n > 6;
	return false;
}

bool config_secret_ref_valid(const char *ref)
{
	return ref && secret_ref_ok(ref, strlen(ref));
}

/* http:// or https://, a non-empty authority, no spaces or control characters. */
static bool url_ok(const char *s, size_t n)
{
	size_t k;

	if (jtext_has_prefix(s, n, "https://"))
		k = 8;
	else if (jtext_has_prefix(s, n, "http://"))
		k = 7;
	else
		return false;
	if (n == k || s[k] == '/' || n > 2048)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* redis://HOST[:PORT][/DB] */
static bool redis_url_ok(const char *s, size_t n)
{
	const char *host, *slash;
	size_t host_len, hp_len;
	long port, db;

	if (!jtext_has_prefix(s, n, "redis://"))
		return false;
	s += 8;
	n -= 8;
	slash = memchr(s, '/', n);
	hp_len = slash ? (size_t)(slash - s) : n;
	if (host_port_split(s, hp_len, true, &host, &host_len, &port))
		return false;
	if (slash && !digits_ok(slash + 1, n - hp_len - 1, 0, 65535, &db))
		return false;
	return true;
}

/* ------------------------------------------------------------ member access */

/* Copies a non-empty string member over *dst when present and good. */
void config_take_string(struct jcheck *c, const struct jnode *obj, const char *key,
			unsigned flags, char **dst)
{
	size_t n;
	const char *s = jcheck_string(c, obj, key, flags | JCHECK_NONEMPTY, &n);

	if (s)
		config_set_str(c, dst, s, n);
}

/* Sets *ret when present and an integer in [lo, hi]; reported otherwise. */
void config_take_int(struct jcheck *c, const struct jnode *obj, const char *key, int64_t lo,
		     int64_t hi, uint64_t *ret)
{
	int64_t v;

	if (jcheck_int(c, obj, key, 0, lo, hi, &v) > 0)
		*ret = (uint64_t)v;
}

/* Index of the string member in names, dflt when absent or bad (reported). */
int config_get_enum(struct jcheck *c, const struct jnode *obj, const char *key,
		    const char *const *names, int dflt)
{
	int i = jcheck_enum(c, obj, key, 0, names, dflt);

	return i < 0 ? dflt : i;
}

/* Copies a secret reference member over *dst when present and well-formed. */
void config_take_secret_ref(struct jcheck *c, const struct jnode *obj, const char *key,
			    unsigned flags, char **dst)
{
	const struct jnode *n = jcheck_member(c, obj, key, JNODE_STRING, flags);

	if (!n)
		return;
	if (!secret_ref_ok(n->u.str, n->len)) {
		jcheck_err_at(c, key, "%s", secret_ref_sentence);
		return;
	}
	config_set_str(c, dst, n->u.str, n->len);
}

/* Items of the rules and task_definitions lists: non-empty, without NUL characters. */
bool config_path_ok(const char *s, size_t n)
{
	return n > 0 && !memchr(s, '\0', n);
}

/* A string array member of min to max items passing item_ok, copied over *dst. */
void config_take_string_array(struct jcheck *c, const struct jnode *obj, const char *key,
			      unsigned flags, size_t min, size_t max,
			      bool (*item_ok)(const char *s, size_t n), const char *item_sentence,
			      struct config_strv *dst)
{
	const struct jnode *a = jcheck_strings(c, obj, key, flags, min, max, item_ok,
					       item_sentence);
	struct config_strv v = {0, NULL};

	if (!a)
		return;
	if (!(v.v = jcheck_calloc(c, a->len, sizeof(*v.v))))
		return;
	for (; v.n < a->len; v.n++)
		if (!(v.v[v.n] = jcheck_dup(c, a->u.items[v.n]->u.str, a->u.items[v.n]->len)))
			break;
	for (size_t i = 0; i < dst->n; i++)
		free(dst->v[i]);
	free(dst->v);
	*dst = v;
}

/* An optional object member: checked for its fields and handed to each_fn
 * with the pointer at it. */
void config_with_object(struct jcheck *c, const struct jnode *obj, const char *key,
			const char *const *known, struct tripline_config *cfg,
			void (*each_fn)(struct jcheck *c, const struct jnode *o,
					struct tripline_config *cfg))
{
	const struct jnode *o = jcheck_object(c, obj, key, 0, known);

	if (!o)
		return;
	size_t old = jcheck_push(c, key);
	each_fn(c, o, cfg);
	jcheck_pop(c, old);
}

/* The last member of obj with m's key is m (earlier repetitions are already
 * reported as duplicates and skipped). A key holding NUL cannot be looked up
 * by name: it counts as last, so that the name checks refuse it rather than
 * it being dropped without a word. */
bool config_is_last(const struct jnode *obj, const struct jmember *m)
{
	return memchr(m->key, '\0', m->key_len) || jnode_get(obj, m->key) == m->value;
}

/* ------------------------------------------------------------ sections */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static void check_listen(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg)
{
	const struct jnode *n = jcheck_member(c, root, "listen", JNODE_STRING, 0);
	const char *host = NULL, *why;
	size_t host_len = 0;
	long port = 0;

	if (!n)
		return;
	why = memchr(n->u.str, '\0', n->len) ? listen_host_sentence
					     : host_port_split(n->u.str, n->len, false, &host, &host_len, &port);
	if (why) {
		jcheck_err_at(c, "listen", "%s", why);
		return;
	}
	config_set_str(c, &cfg->listen, n->u.str, n->len);
	config_set_str(c, &cfg->listen_host, host, host_len);
	cfg->listen_port = (uint16_t)port;
}

static void cluster_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *n = jcheck_member(c, o, "name", JNODE_STRING, 0);

	if (n) {
		if (cluster_name_ok(n->u.str, n->len))
			config_set_str(c, &cfg->cluster.name, n->u.str, n->len);
		else
			jcheck_err_at(c, "name", "must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -");
	}
	config_take_int(c, o, "cpu", 1, CPU_MAX, &cfg->cluster.cpu);
	config_take_int(c, o, "memory", 1, MEMORY_MIB_MAX, &cfg->cluster.memory_mib);
}

/* "START-END": two uids, START <= END, neither 0 nor above 2^31 - 1. */
static void take_uid_range(struct jcheck *c, const struct jnode *o, const char *key,
			   uint32_t *ret_min, uint32_t *ret_max)
{
	const struct jnode *n = jcheck_member(c, o, key, JNODE_STRING, 0);
	const char *dash;
	long lo, hi;

	if (!n)
		return;
	dash = memchr(n->u.str, '-', n->len);
	if (!dash || !digits_ok(n->u.str, (size_t)(dash - n->u.str), 1, INT32_MAX, &lo) ||
	    !digits_ok(dash + 1, n->len - (size_t)(dash + 1 - n->u.str), 1, INT32_MAX, &hi) || lo > hi) {
		jcheck_err_at(c, key, "must be \"START-END\": two uids from 1 to 2147483647, START <= END");
		return;
	}
	*ret_min = (uint32_t)lo;
	*ret_max = (uint32_t)hi;
}

/* A user as a task definition's "user" takes it: NAME, UID, NAME:GROUP or UID:GID. */
static bool user_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255 || memchr(s, '\0', n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!jtext_is_alnum(s[i]) && !strchr("._-:", s[i]))
			return false;
	return s[0] != ':' && s[n - 1] != ':' && memchr(s, ':', n) == memrchr(s, ':', n);
}

static void process_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	size_t n;
	/* "" is allowed here: never use cgroups */
	const char *s = jcheck_string(c, o, "cgroup_root", 0, &n);
	const struct jnode *u;

	if (s)
		config_set_str(c, &cfg->drivers.process_cgroup_root, s, n);
	take_uid_range(c, o, "uid_range", &cfg->drivers.process_uid_min, &cfg->drivers.process_uid_max);
	if ((u = jcheck_member(c, o, "default_user", JNODE_STRING, 0))) {
		if (!user_ok(u->u.str, u->len))
			jcheck_err_at(c, "default_user", "must be a user: NAME, UID, NAME:GROUP or UID:GID");
		else if (jtext_eq(u->u.str, u->len, "root") || jtext_has_prefix(u->u.str, u->len, "root:") ||
			 jtext_eq(u->u.str, u->len, "0") || jtext_has_prefix(u->u.str, u->len, "0:"))
			jcheck_err_at(c, "default_user", "must not be root: tasks that must run as root say "
				      "\"user\": \"root\" and need allow_root");
		else
			config_set_str(c, &cfg->drivers.process_default_user, u->u.str, u->len);
	}
	jcheck_bool(c, o, "allow_root", 0, &cfg->drivers.process_allow_root);
}

/* An allowed host path: absolute, without "." or ".." parts, without NUL. */
static bool host_path_ok(const char *s, size_t n)
{
	if (n == 0 || n > 4095 || s[0] != '/' || memchr(s, '\0', n))
		return false;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && s[j] != '/')
			j++;
		size_t len = j - i - 1;
		if ((len == 1 && s[i + 1] == '.') || (len == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
			return false;
		i = j;
	}
	return true;
}

static void docker_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	struct config_strv *v = &cfg->drivers.docker_allowed_host_paths;

	config_take_string(c, o, "socket", 0, &cfg->drivers.docker_socket);
	config_take_string_array(c, o, "allowed_host_paths", 0, 0, MAX_PATHS, host_path_ok,
				 "must be an absolute path without \".\" or \"..\" parts", v);
	/* "/srv/data/" is "/srv/data"; "/" stays */
	for (size_t i = 0; i < v->n; i++) {
		size_t l = strlen(v->v[i]);
		while (l > 1 && v->v[i][l - 1] == '/')
			v->v[i][--l] = '\0';
	}
}

static void drivers_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	static const char *const process_fields[] = {"cgroup_root", "uid_range", "default_user",
						      "allow_root", NULL};
	static const char *const docker_fields[] = {"socket", "allowed_host_paths", NULL};

	config_with_object(c, o, "process", process_fields, cfg, process_fn);
	config_with_object(c, o, "docker", docker_fields, cfg, docker_fn);
}

static void clusters_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	static const char *const fields[] = {"endpoint", "region", "credentials", NULL};

	if (o->len > MAX_ITEMS) {
		jcheck_err(c, "must have at most %u members", MAX_ITEMS);
		return;
	}
	if (!(cfg->clusters = jcheck_calloc(c, o->len, sizeof(*cfg->clusters))))
		return;
	for (size_t i = 0; i < o->len; i++) {
		const struct jmember *m = &o->u.members[i];
		struct config_remote_cluster *rc = &cfg->clusters[cfg->n_clusters];

		if (!config_is_last(o, m))
			continue;
		size_t old = jcheck_push_n(c, m->key, m->key_len);
		if (!cluster_name_ok(m->key, m->key_len))
			jcheck_err(c, "a cluster name must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -");
		else if (jtext_eq(m->key, m->key_len, cfg->cluster.name))
			jcheck_err(c, "must not have the local cluster's name (cluster.name)");
		if (m->value->type != JNODE_OBJECT) {
			jcheck_err(c, "must be an object");
			jcheck_pop(c, old);
			continue;
		}
		cfg->n_clusters++;
		rc->name = jcheck_dup(c, m->key, m->key_len);
		jcheck_fields(c, m->value, fields, NULL);
		const struct jnode *e = jcheck_member(c, m->value, "endpoint", JNODE_STRING,
						      JCHECK_REQUIRED);
		if (e && !url_ok(e->u.str, e->len))
			jcheck_err_at(c, "endpoint", "must be an http:// or https:// URL");
		else if (e)
			rc->endpoint = jcheck_dup(c, e->u.str, e->len);
		const struct jnode *r = jcheck_member(c, m->value, "region", JNODE_STRING,
						      JCHECK_REQUIRED);
		if (r && !region_ok(r->u.str, r->len))
			jcheck_err_at(c, "region", "must be 1 to 32 characters of a-z, 0-9 and -");
		else if (r)
			rc->region = jcheck_dup(c, r->u.str, r->len);
		const struct jnode *cr = jcheck_member(c, m->value, "credentials", JNODE_STRING, 0);
		if (cr && (!secret_ref_ok(cr->u.str, cr->len) || jtext_has_prefix(cr->u.str, cr->len, "value:")))
			jcheck_err_at(c, "credentials", "must be env:PREFIX or file:PATH");
		else if (cr)
			rc->credentials = jcheck_dup(c, cr->u.str, cr->len);
		else
			rc->credentials = jcheck_dup(c, CONFIG_DEFAULT_CLUSTER_CREDENTIALS,
						     strlen(CONFIG_DEFAULT_CLUSTER_CREDENTIALS));
		jcheck_pop(c, old);
	}
}

static void state_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *n = jcheck_member(c, o, "redis", JNODE_STRING, 0);

	if (!n)
		return;
	if (memchr(n->u.str, '\0', n->len) || !redis_url_ok(n->u.str, n->len))
		jcheck_err_at(c, "redis", "must be redis://HOST[:PORT][/DB]");
	else
		config_set_str(c, &cfg->state_redis, n->u.str, n->len);
}

/* A prefix of environment variable names: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_prefix_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255 || jtext_is_digit(s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!jtext_is_alnum(s[i]) && s[i] != '_')
			return false;
	return true;
}

static void secrets_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	config_take_string(c, o, "file", 0, &cfg->secrets_file);
	config_take_string_array(c, o, "env_allow", 0, 0, MAX_ITEMS, env_prefix_ok,
				 "must be a prefix of environment variable names: A-Z, a-z, 0-9 and _, "
				 "not starting with a digit", &cfg->secrets_env_allow);
}

static void auth_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *keys = jcheck_object(c, o, "keys", JCHECK_REQUIRED, NULL);

	if (!keys)
		return;
	size_t old = jcheck_push(c, "keys");
	if (keys->len == 0 || keys->len > MAX_ITEMS) {
		jcheck_err(c, "must have 1 to %u access keys", MAX_ITEMS);
		jcheck_pop(c, old);
		return;
	}
	cfg->auth_keys = calloc(keys->len, sizeof(*cfg->auth_keys));
	if (!cfg->auth_keys) {
		c->nomem = true;
		jcheck_pop(c, old);
		return;
	}
	for (size_t i = 0; i < keys->len; i++) {
		const struct jmember *m = &keys->u.members[i];
		const struct jnode *v = m->value;

		if (!config_is_last(keys, m))
			continue;
		size_t o2 = jcheck_push_n(c, m->key, m->key_len);
		bool id_ok = m->key_len >= 1 && m->key_len <= 128 && jtext_chars_in(m->key, m->key_len, "");
		if (!id_ok)
			jcheck_err(c, "an access key id must be 1 to 128 characters of A-Z, a-z and 0-9");
		if (v->type != JNODE_STRING || !secret_ref_ok(v->u.str, v->len))
			jcheck_err(c, "%s", secret_ref_sentence);
		else if (id_ok) {
			struct config_auth_key *k = &cfg->auth_keys[cfg->n_auth_keys++];
			k->access_key_id = jcheck_dup(c, m->key, m->key_len);
			k->secret_ref = jcheck_dup(c, v->u.str, v->len);
		}
		jcheck_pop(c, o2);
	}
	jcheck_pop(c, old);
}

/* The items of an optional array of objects under obj's key: NULL when absent
 * or not an array (reported); the count limit is checked here. */
const struct jnode *config_object_array(struct jcheck *c, const struct jnode *obj, const char *key)
{
	const struct jnode *a = jcheck_member(c, obj, key, JNODE_ARRAY, 0);

	if (a && a->len > MAX_ITEMS) {
		jcheck_err_at(c, key, "must have at most %u items", MAX_ITEMS);
		return NULL;
	}
	return a;
}

static void limits_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	uint64_t tasks = cfg->limits.max_tasks, timeout = cfg->limits.shutdown_timeout_s;
	uint64_t conns = cfg->limits.max_connections, per = cfg->limits.max_connections_per_client;
	uint64_t head = cfg->limits.request_head_timeout_s;
	uint64_t fams = cfg->limits.max_task_definition_families;
	uint64_t revs = cfg->limits.max_task_definition_revisions;

	config_take_int(c, o, "max_request_bytes", 1024, (int64_t)64 << 20, &cfg->limits.max_request_bytes);
	config_take_int(c, o, "max_event_bytes", 1024, (int64_t)64 << 20, &cfg->limits.max_event_bytes);
	config_take_int(c, o, "max_tasks", 1, 100000, &tasks);
	config_take_int(c, o, "shutdown_timeout_s", 1, 3600, &timeout);
	config_take_int(c, o, "max_connections", 4, 65536, &conns);
	config_take_int(c, o, "max_connections_per_client", 1, 65536, &per);
	config_take_int(c, o, "request_head_timeout_s", 1, 3600, &head);
	config_take_int(c, o, "max_task_definition_bytes", 1024, (int64_t)1 << 20,
			&cfg->limits.max_task_definition_bytes);
	config_take_int(c, o, "max_task_definition_families", 1, 1000000, &fams);
	config_take_int(c, o, "max_task_definition_revisions", 1, 1000000, &revs);
	cfg->limits.max_tasks = (uint32_t)tasks;
	cfg->limits.shutdown_timeout_s = (uint32_t)timeout;
	cfg->limits.max_connections = (uint32_t)conns;
	cfg->limits.max_connections_per_client = (uint32_t)per;
	cfg->limits.request_head_timeout_s = (uint32_t)head;
	cfg->limits.max_task_definition_families = (uint32_t)fams;
	cfg->limits.max_task_definition_revisions = (uint32_t)revs;
	config_delivery_limits(c, o, cfg);
	if (cfg->limits.max_connections_per_client > cfg->limits.max_connections)
		jcheck_err_at(c, "max_connections_per_client", "must not be more than max_connections (%u)",
			      (unsigned)cfg->limits.max_connections);
	/* an event arrives in a request: the default shrinks to fit, a value
	 * written out must fit */
	if (cfg->limits.max_event_bytes <= cfg->limits.max_request_bytes)
		return;
	if (!jnode_get(o, "max_event_bytes"))
		cfg->limits.max_event_bytes = cfg->limits.max_request_bytes;
	else
		jcheck_err_at(c, "max_event_bytes", "must not be more than max_request_bytes (%llu)",
			      (unsigned long long)cfg->limits.max_request_bytes);
}

static const char *const root_fields[] = {
	"data_dir", "listen", "region", "account", "log_level", "log_format", "rules",
	"task_definitions", "cluster", "drivers", "clusters", "state", "secrets", "auth",
	"sources", "trusted_proxies", "limits", CONFIG_DELIVERY_ROOT_FIELDS, NULL,
};

static void check_root(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg)
{
	static const char *const cluster_fields[] = {"name", "cpu", "memory", NULL};
	static const char *const drivers_fields[] = {"process", "docker", NULL};
	static const char *const state_fields[] = {"redis", NULL};
	static const char *const secrets_fields[] = {"file", "env_allow", NULL};
	static const char *const auth_fields[] = {"keys", NULL};
	static const char *const sources_fields[] = {"files", "kafka", "webhooks", NULL};
	static const char *const limits_fields[] = {
		"max_request_bytes", "max_event_bytes", "max_tasks", "shutdown_timeout_s",
		"max_connections", "max_connections_per_client", "request_head_timeout_s",
		"max_task_definition_bytes", "max_task_definition_families",
		"max_task_definition_revisions", CONFIG_DELIVERY_LIMITS_FIELDS, NULL,
	};
	const struct jnode *n;

	jcheck_fields(c, root, root_fields, NULL);
	config_take_string(c, root, "data_dir", 0, &cfg->data_dir);
	check_listen(c, root, cfg);
	if ((n = jcheck_member(c, root, "region", JNODE_STRING, 0))) {
		if (region_ok(n->u.str, n->len))
			config_set_str(c, &cfg->region, n->u.str, n->len);
		else
			jcheck_err_at(c, "region", "must be 1 to 32 characters of a-z, 0-9 and -");
	}
	if ((n = jcheck_member(c, root, "account", JNODE_STRING, 0))) {
		if (n->len == 12 && strspn(n->u.str, "0123456789") == 12)
			config_set_str(c, &cfg->account, n->u.str, n->len);
		else
			jcheck_err_at(c, "account", "must be 12 digits");
	}
	cfg->log_level = (enum config_log_level)config_get_enum(c, root, "log_level", log_levels,
							  CONFIG_LOG_INFO);
	cfg->log_format = (enum config_log_format)config_get_enum(c, root, "log_format", log_formats,
							    CONFIG_LOG_FORMAT_TEXT);
	config_take_string_array(c, root, "rules", 0, 0, MAX_PATHS, config_path_ok,
				 "must be a non-empty string", &cfg->rules);
	config_take_string_array(c, root, "task_definitions", 0, 0, MAX_PATHS, config_path_ok,
				 "must be a non-empty string", &cfg->task_definitions);
	config_with_object(c, root, "cluster", cluster_fields, cfg, cluster_fn);
	config_with_object(c, root, "drivers", drivers_fields, cfg, drivers_fn);
	config_with_object(c, root, "clusters", NULL, cfg, clusters_fn);
	config_with_object(c, root, "state", state_fields, cfg, state_fn);
	config_with_object(c, root, "secrets", secrets_fields, cfg, secrets_fn);
	config_with_object(c, root, "auth", auth_fields, cfg, auth_fn);
	config_with_object(c, root, "sources", sources_fields, cfg, config_sources_fn);
	config_trusted_proxies(c, root, cfg);
	config_with_object(c, root, "limits", limits_fields, cfg, limits_fn);
	config_delivery_check(c, root, cfg);

	/* Off loopback, anyone who can reach the port could run tasks. */
	if (!jnode_get(root, "auth") && !config_listen_is_loopback(cfg))
		jcheck_err_at(c, "auth", "required when listen is not a loopback address");
}

/* ------------------------------------------------------------ defaults, free */

static struct config_strv *strv_one(struct jcheck *c, struct config_strv *v, const char *s)
{
	v->v = calloc(1, sizeof(*v->v));
	if (!v->v) {
		c->nomem = true;
		return v;
	}
	v->v[0] = jcheck_dup(c, s, strlen(s));
	v->n = v->v[0] ? 1 : 0;
	return v;
}

static uint64_t host_cpu_units(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return 1024u * (uint64_t)(n > 0 ? n : 1);
}

static uint64_t host_memory_mib(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	uint64_t mib;

	if (pages <= 0 || size <= 0)
		return 1024;
	mib = (uint64_t)pages * (uint64_t)size >> 20;
	return mib ? mib : 1;
}

#define DUP_LIT(c, s) jcheck_dup((c), (s), strlen(s))

static struct tripline_config *config_defaults(struct jcheck *c)
{
	struct tripline_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg) {
		c->nomem = true;
		return NULL;
	}
	cfg->data_dir = DUP_LIT(c, CONFIG_DEFAULT_DATA_DIR);
	cfg->listen = DUP_LIT(c, CONFIG_DEFAULT_LISTEN);
	cfg->listen_host = DUP_LIT(c, "127.0.0.1");
	cfg->listen_port = 8088;
	cfg->region = DUP_LIT(c, CONFIG_DEFAULT_REGION);
	cfg->account = DUP_LIT(c, CONFIG_DEFAULT_ACCOUNT);
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->log_format = CONFIG_LOG_FORMAT_TEXT;
	strv_one(c, &cfg->rules, CONFIG_DEFAULT_RULES);
	strv_one(c, &cfg->task_definitions, CONFIG_DEFAULT_TASK_DEFINITIONS);
	cfg->cluster.name = DUP_LIT(c, CONFIG_DEFAULT_CLUSTER_NAME);
	cfg->cluster.cpu = host_cpu_units();
	cfg->cluster.memory_mib = host_memory_mib();
	cfg->drivers.docker_socket = DUP_LIT(c, CONFIG_DEFAULT_DOCKER_SOCKET);
	cfg->limits.max_request_bytes = CONFIG_DEFAULT_MAX_REQUEST_BYTES;
	cfg->limits.max_event_bytes = CONFIG_DEFAULT_MAX_EVENT_BYTES;
	cfg->limits.max_tasks = CONFIG_DEFAULT_MAX_TASKS;
	cfg->limits.shutdown_timeout_s = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_S;
	cfg->limits.max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cfg->limits.max_connections_per_client = CONFIG_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
	cfg->limits.request_head_timeout_s = CONFIG_DEFAULT_REQUEST_HEAD_TIMEOUT_S;
	cfg->limits.max_task_definition_bytes = CONFIG_DEFAULT_MAX_TASK_DEFINITION_BYTES;
	cfg->limits.max_task_definition_families = CONFIG_DEFAULT_MAX_TASK_DEFINITION_FAMILIES;
	cfg->limits.max_task_definition_revisions = CONFIG_DEFAULT_MAX_TASK_DEFINITION_REVISIONS;
	cfg->drivers.process_uid_min = CONFIG_DEFAULT_UID_MIN;
	cfg->drivers.process_uid_max = CONFIG_DEFAULT_UID_MAX;
	config_delivery_defaults(cfg);
	return cfg;
}

void config_strv_free(struct config_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

/* Secret references may hold a value: literally; wipe them. */
void config_free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void config_free(struct tripline_config *c)
{
	if (!c)
		return;
	free(c->data_dir);
	free(c->listen);
	free(c->listen_host);
	free(c->region);
	free(c->account);
	config_strv_free(&c->rules);
	config_strv_free(&c->task_definitions);
	free(c->cluster.name);
	free(c->drivers.process_cgroup_root);
	free(c->drivers.process_default_user);
	free(c->drivers.docker_socket);
	config_strv_free(&c->drivers.docker_allowed_host_paths);
	for (size_t i = 0; i < c->n_clusters; i++) {
		free(c->clusters[i].name);
		free(c->clusters[i].endpoint);
		free(c->clusters[i].region);
		config_free_secret(c->clusters[i].credentials);
	}
	free(c->clusters);
	free(c->state_redis);
	free(c->secrets_file);
	config_strv_free(&c->secrets_env_allow);
	for (size_t i = 0; i < c->n_auth_keys; i++) {
		free(c->auth_keys[i].access_key_id);
		config_free_secret(c->auth_keys[i].secret_ref);
	}
	free(c->auth_keys);
	config_sources_free(c);
	config_delivery_free(c);
	free(c);
}

/* ------------------------------------------------------------ loading */

int config_from_text(const char *name, const char *text, size_t len,
		     struct tripline_config **ret, struct errlist *errs)
{
	struct json_limits jl = {0, CONFIG_MAX_FILE_BYTES};
	struct tripline_config *cfg = NULL;
	struct errlist local = ERRLIST_INIT;
	struct jcheck c;
	struct json_error je;
	struct jdoc *doc = NULL;
	int r;

	*ret = NULL;
	jcheck_init(&c, JCHECK_STYLE_FILE, &local, NULL);
	if (len > CONFIG_MAX_FILE_BYTES) {
		errlist_add(&local, NULL, "file is %zu bytes, more than the limit of %zu", len,
			    CONFIG_MAX_FILE_BYTES);
		goto out_report;
	}
	r = jdoc_parse(text, len, &jl, &doc, &je);
	if (r == -ENOMEM) {
		c.nomem = true;
		goto out_report;
	}
	if (r < 0) {
		errlist_add(&local, NULL, "invalid JSON at line %u, column %u: %s", je.line,
			    je.column, je.message);
		goto out_report;
	}
	if (jdoc_root(doc)->type != JNODE_OBJECT) {
		jcheck_err(&c, "must be a JSON object");
		goto out_report;
	}
	cfg = config_defaults(&c);
	if (cfg && !c.nomem)
		check_root(&c, jdoc_root(doc), cfg);

out_report:
	jdoc_free(doc);
	if (c.nomem) {
		errlist_clear(&local);
		config_free(cfg);
		return -ENOMEM;
	}
	if (errlist_any(&local)) {
		errlist_move_prefixed(errs, &local, name);
		errlist_clear(&local);
		config_free(cfg);
		return -EINVAL;
	}
	*ret = cfg;
	return 0;
}

int config_load_file(const char *path, struct tripline_config **ret, struct errlist *errs)
{
	char *text;
	size_t len = 0;
	int r;

	*ret = NULL;
	r = readfile(path, CONFIG_MAX_FILE_BYTES, NULL, &text, &len);
	if (r == -EFBIG) {
		errlist_add(errs, path, "larger than the limit of %zu bytes", CONFIG_MAX_FILE_BYTES);
		return -EFBIG;
	}
	if (r == -EISDIR) {
		errlist_add(errs, path, "not a regular file");
		return -EISDIR;
	}
	if (r < 0) {
		if (r != -ENOMEM)
			errlist_add(errs, path, "%s", strerror(-r));
		return r;
	}
	r = config_from_text(path, text, len, ret, errs);
	free(text);
	return r;
}

bool config_listen_is_loopback(const struct tripline_config *c)
{
	unsigned char a[16];
	const char *h = c->listen_host;
	size_t n = strlen(h);
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (strcasecmp(h, "localhost") == 0)
		return true;
	if (ip_parse(h, n, AF_INET, a))
		return a[0] == 127;
	if (ip_parse(h, n, AF_INET6, a)) {
		if (memcmp(a, v4mapped, 12) == 0)
			return a[12] == 127;
		for (size_t i = 0; i < 15; i++)
			if (a[i])
				return false;
		return a[15] == 1;
	}
	return false;
}
