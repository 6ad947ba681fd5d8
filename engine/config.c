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
 * Conventions of the messages are those of rules/ruleset.c: "is required",
 * "must be …" (a wrong JSON type and a wrong value share one sentence where
 * one covers both), "unknown field", "duplicate field". Integers must be
 * written as integers (1.0 and 1e3 are rejected). User text is echoed only
 * once checked to be a harmless name, and secret references never are.
 *
 * Secret references are resolved only on demand by config_resolve_secret(),
 * so a config can be validated without the secrets present. Nothing here logs.
 */
#include "config.h"

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

#include "json.h"
#include "jtext.h"
#include "readfile.h"

#define FORMAT(a, b) __attribute__((format(printf, a, b)))

#define MAX_PATHS 256u
#define MAX_ITEMS 256u            /* clusters, auth keys, sources of each kind */
#define MAX_TOPICS 100u
#define CPU_MAX ((int64_t)1 << 26)
#define MEMORY_MIB_MAX ((int64_t)1 << 30)

static const char *const secret_ref_sentence = "must be env:NAME, file:PATH or value:SECRET";
static const char *const listen_port_sentence = "must be HOST:PORT with a port from 1 to 65535";
static const char *const listen_host_sentence =
	"must be HOST:PORT with HOST an IPv4 address, a host name or [an IPv6 address]";

/* ------------------------------------------------------------ validation context */

struct vctx {
	struct errlist errs;   /* "<pointer>: <message>" */
	struct jptr ptr;       /* where we are */
	bool nomem;
};

static void verr(struct vctx *c, const char *fmt, ...) FORMAT(2, 3);
static void verr_at(struct vctx *c, const char *key, const char *fmt, ...) FORMAT(3, 4);
static void verr_key(struct vctx *c, const char *key, size_t key_len, const char *fmt, ...)
	FORMAT(4, 5);

/* At the current pointer. */
static void verr(struct vctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(&c->errs, jptr_str(&c->ptr), fmt, ap);
	va_end(ap);
}

static void verr_key(struct vctx *c, const char *key, size_t key_len, const char *fmt, ...)
{
	size_t old = jptr_push_key(&c->ptr, key, key_len);
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(&c->errs, jptr_str(&c->ptr), fmt, ap);
	va_end(ap);
	jptr_pop(&c->ptr, old);
}

/* At the member key of the current object. */
static void verr_at(struct vctx *c, const char *key, const char *fmt, ...)
{
	size_t old = jptr_push_key(&c->ptr, key, strlen(key));
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(&c->errs, jptr_str(&c->ptr), fmt, ap);
	va_end(ap);
	jptr_pop(&c->ptr, old);
}

static size_t push(struct vctx *c, const char *key)
{
	return jptr_push_key(&c->ptr, key, strlen(key));
}

static void pop(struct vctx *c, size_t old)
{
	jptr_pop(&c->ptr, old);
}

static char *dup_n(struct vctx *c, const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d) {
		c->nomem = true;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Replaces *dst (a default or NULL) with a copy of s[0..n). */
static void set_str(struct vctx *c, char **dst, const char *s, size_t n)
{
	char *d = dup_n(c, s, n);

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

/* Source names: webhooks are served at /hooks/<name>. */
static bool source_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 64 && jtext_chars_in(s, n, "_.-");
}

/* RFC 9110 token. */
static bool header_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 64 && jtext_chars_in(s, n, "!#$%&'*+.^_`|~-");
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

struct keyref {
	const char *key;
	size_t len;
	size_t idx;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->key, y->key, n);

	if (d)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports every member of obj written twice ("duplicate field", at each
 * repetition) and, when known is not NULL, every member not in it ("unknown
 * field"; with a hint when only the case differs). */
static void check_fields(struct vctx *c, const struct jnode *obj, const char *const *known)
{
	size_t n = obj->len;
	struct keyref *refs;
	bool *dup;

	if (n == 0)
		return;
	refs = malloc(n * sizeof(*refs));
	dup = calloc(n, sizeof(*dup));
	if (!refs || !dup) {
		c->nomem = true;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		refs[i].key = obj->u.members[i].key;
		refs[i].len = obj->u.members[i].key_len;
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(*refs), keyref_cmp);
	for (size_t i = 1; i < n; i++)
		if (refs[i].len == refs[i - 1].len && memcmp(refs[i].key, refs[i - 1].key, refs[i].len) == 0)
			dup[refs[i].idx] = true;
	for (size_t i = 0; i < n; i++) {
		const struct jmember *m = &obj->u.members[i];
		if (dup[i]) {
			verr_key(c, m->key, m->key_len, "duplicate field");
			continue;
		}
		if (!known || jtext_in_list(m->key, m->key_len, known))
			continue;
		const char *hint = NULL;
		for (const char *const *k = known; *k; k++)
			if (strlen(*k) == m->key_len && strncasecmp(*k, m->key, m->key_len) == 0)
				hint = *k;
		if (hint)
			verr_key(c, m->key, m->key_len, "unknown field (did you mean \"%s\"?)", hint);
		else
			verr_key(c, m->key, m->key_len, "unknown field");
	}
out_free:
	free(dup);
	free(refs);
}

static const char *type_sentence(enum jnode_type t)
{
	switch (t) {
	case JNODE_STRING: return "must be a string";
	case JNODE_OBJECT: return "must be an object";
	case JNODE_ARRAY: return "must be an array";
	case JNODE_NUMBER: return "must be a number";
	case JNODE_TRUE:
	case JNODE_FALSE: return "must be true or false";
	case JNODE_NULL: return "must be null";
	}
	return "has the wrong type";
}

/* Member key of obj when present and of type t (TRUE: either boolean); NULL
 * when absent or of another type (reported). */
static const struct jnode *get_typed(struct vctx *c, const struct jnode *obj, const char *key,
				     enum jnode_type t, bool required)
{
	const struct jnode *n = jnode_get(obj, key);

	if (!n) {
		if (required)
			verr_at(c, key, "is required");
		return NULL;
	}
	if (n->type == t || (t == JNODE_TRUE && n->type == JNODE_FALSE))
		return n;
	verr_at(c, key, "%s", type_sentence(t));
	return NULL;
}

/* A non-empty string member without NUL characters; NULL when absent or bad
 * (reported). */
static const char *get_string(struct vctx *c, const struct jnode *obj, const char *key,
			      bool required, size_t *ret_len)
{
	const struct jnode *n = get_typed(c, obj, key, JNODE_STRING, required);

	if (!n)
		return NULL;
	if (n->len == 0 || memchr(n->u.str, '\0', n->len)) {
		verr_at(c, key, "must be a non-empty string without NUL characters");
		return NULL;
	}
	*ret_len = n->len;
	return n->u.str;
}

/* Copies a string member over *dst when present and good. */
static void take_string(struct vctx *c, const struct jnode *obj, const char *key, bool required,
			char **dst)
{
	size_t n;
	const char *s = get_string(c, obj, key, required, &n);

	if (s)
		set_str(c, dst, s, n);
}

/* Sets *ret when present and an integer in [lo, hi]; reported otherwise. */
static void take_int(struct vctx *c, const struct jnode *obj, const char *key, int64_t lo,
		     int64_t hi, uint64_t *ret)
{
	const struct jnode *n = jnode_get(obj, key);
	int64_t v;

	if (!n)
		return;
	if (n->type != JNODE_NUMBER || !jtext_int(n->u.num, n->len, lo, hi, &v)) {
		verr_at(c, key, "must be an integer from %lld to %lld", (long long)lo, (long long)hi);
		return;
	}
	*ret = (uint64_t)v;
}

/* Index of the string member in names, dflt when absent or bad (reported). */
static int get_enum(struct vctx *c, const struct jnode *obj, const char *key,
		    const char *const *names, int dflt)
{
	const struct jnode *n = jnode_get(obj, key);
	char msg[256];
	size_t count = 0, o;

	if (!n)
		return dflt;
	for (; names[count]; count++)
		if (n->type == JNODE_STRING && jnode_streq(n, names[count]))
			return (int)count;
	o = (size_t)snprintf(msg, sizeof(msg), "must be %s", count > 2 ? "one of " : "");
	for (size_t i = 0; i < count && o < sizeof(msg); i++) {
		const char *sep = i == 0 ? "" : (count == 2 ? " or " : ", ");
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", sep, names[i]);
	}
	verr_at(c, key, "%s", msg);
	return dflt;
}

/* Copies a secret reference member over *dst when present and well-formed. */
static void take_secret_ref(struct vctx *c, const struct jnode *obj, const char *key,
			    bool required, char **dst)
{
	const struct jnode *n = get_typed(c, obj, key, JNODE_STRING, required);

	if (!n)
		return;
	if (!secret_ref_ok(n->u.str, n->len)) {
		verr_at(c, key, "%s", secret_ref_sentence);
		return;
	}
	set_str(c, dst, n->u.str, n->len);
}

/* A string array member of at most max non-empty strings, copied over *dst. */
static void take_string_array(struct vctx *c, const struct jnode *obj, const char *key,
			      bool required, size_t min, size_t max,
			      bool (*item_ok)(const char *s, size_t n), const char *item_sentence,
			      struct config_strv *dst)
{
	const struct jnode *a = get_typed(c, obj, key, JNODE_ARRAY, required);
	struct config_strv v = {0, NULL};
	bool bad = false;

	if (!a)
		return;
	size_t old = push(c, key);
	if (a->len < min || a->len > max) {
		verr(c, "must have %zu to %zu items", min, max);
		bad = true;
	}
	for (size_t i = 0; i < a->len; i++) {
		const struct jnode *it = a->u.items[i];
		bool ok = it->type == JNODE_STRING && it->len > 0 && !memchr(it->u.str, '\0', it->len);
		if (ok && item_ok)
			ok = item_ok(it->u.str, it->len);
		if (!ok) {
			size_t o2 = jptr_push_index(&c->ptr, i);
			verr(c, "%s", item_sentence);
			pop(c, o2);
			bad = true;
		}
	}
	pop(c, old);
	if (bad)
		return;
	v.v = calloc(a->len ? a->len : 1, sizeof(*v.v));
	if (!v.v) {
		c->nomem = true;
		return;
	}
	for (; v.n < a->len; v.n++)
		if (!(v.v[v.n] = dup_n(c, a->u.items[v.n]->u.str, a->u.items[v.n]->len)))
			break;
	for (size_t i = 0; i < dst->n; i++)
		free(dst->v[i]);
	free(dst->v);
	*dst = v;
}

/* An optional object member: checked for its fields and handed to each_fn
 * with the pointer at it. */
static void with_object(struct vctx *c, const struct jnode *obj, const char *key,
			const char *const *known, struct tripline_config *cfg,
			void (*each_fn)(struct vctx *c, const struct jnode *o,
					struct tripline_config *cfg))
{
	const struct jnode *o = get_typed(c, obj, key, JNODE_OBJECT, false);

	if (!o)
		return;
	size_t old = push(c, key);
	check_fields(c, o, known);
	each_fn(c, o, cfg);
	pop(c, old);
}

/* The last member of obj with m's key is m (earlier repetitions are already
 * reported as duplicates and skipped). */
static bool is_last(const struct jnode *obj, const struct jmember *m)
{
	return !memchr(m->key, '\0', m->key_len) && jnode_get(obj, m->key) == m->value;
}

/* ------------------------------------------------------------ sections */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const webhook_auths[] = {"none", "github", "bearer", NULL};

static void check_listen(struct vctx *c, const struct jnode *root, struct tripline_config *cfg)
{
	const struct jnode *n = get_typed(c, root, "listen", JNODE_STRING, false);
	const char *host = NULL, *why;
	size_t host_len = 0;
	long port = 0;

	if (!n)
		return;
	why = memchr(n->u.str, '\0', n->len) ? listen_host_sentence
					     : host_port_split(n->u.str, n->len, false, &host, &host_len, &port);
	if (why) {
		verr_at(c, "listen", "%s", why);
		return;
	}
	set_str(c, &cfg->listen, n->u.str, n->len);
	set_str(c, &cfg->listen_host, host, host_len);
	cfg->listen_port = (uint16_t)port;
}

static void cluster_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *n = get_typed(c, o, "name", JNODE_STRING, false);

	if (n) {
		if (cluster_name_ok(n->u.str, n->len))
			set_str(c, &cfg->cluster.name, n->u.str, n->len);
		else
			verr_at(c, "name", "must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -");
	}
	take_int(c, o, "cpu", 1, CPU_MAX, &cfg->cluster.cpu);
	take_int(c, o, "memory", 1, MEMORY_MIB_MAX, &cfg->cluster.memory_mib);
}

static void process_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	take_string(c, o, "cgroup_root", false, &cfg->drivers.process_cgroup_root);
}

static void docker_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	take_string(c, o, "socket", false, &cfg->drivers.docker_socket);
}

static void drivers_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	static const char *const process_fields[] = {"cgroup_root", NULL};
	static const char *const docker_fields[] = {"socket", NULL};

	with_object(c, o, "process", process_fields, cfg, process_fn);
	with_object(c, o, "docker", docker_fields, cfg, docker_fn);
}

static void clusters_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	static const char *const fields[] = {"endpoint", "region", "credentials", NULL};

	if (o->len > MAX_ITEMS) {
		verr(c, "must have at most %u members", MAX_ITEMS);
		return;
	}
	cfg->clusters = calloc(o->len ? o->len : 1, sizeof(*cfg->clusters));
	if (!cfg->clusters) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < o->len; i++) {
		const struct jmember *m = &o->u.members[i];
		struct config_remote_cluster *rc = &cfg->clusters[cfg->n_clusters];

		if (!is_last(o, m))
			continue;
		size_t old = jptr_push_key(&c->ptr, m->key, m->key_len);
		if (!cluster_name_ok(m->key, m->key_len))
			verr(c, "a cluster name must be 1 to 255 characters of A-Z, a-z, 0-9, _ and -");
		else if (jtext_eq(m->key, m->key_len, cfg->cluster.name))
			verr(c, "must not have the local cluster's name (cluster.name)");
		if (m->value->type != JNODE_OBJECT) {
			verr(c, "must be an object");
			pop(c, old);
			continue;
		}
		cfg->n_clusters++;
		rc->name = dup_n(c, m->key, m->key_len);
		check_fields(c, m->value, fields);
		const struct jnode *e = get_typed(c, m->value, "endpoint", JNODE_STRING, true);
		if (e && !url_ok(e->u.str, e->len))
			verr_at(c, "endpoint", "must be an http:// or https:// URL");
		else if (e)
			rc->endpoint = dup_n(c, e->u.str, e->len);
		const struct jnode *r = get_typed(c, m->value, "region", JNODE_STRING, true);
		if (r && !region_ok(r->u.str, r->len))
			verr_at(c, "region", "must be 1 to 32 characters of a-z, 0-9 and -");
		else if (r)
			rc->region = dup_n(c, r->u.str, r->len);
		const struct jnode *cr = get_typed(c, m->value, "credentials", JNODE_STRING, false);
		if (cr && (!secret_ref_ok(cr->u.str, cr->len) || jtext_has_prefix(cr->u.str, cr->len, "value:")))
			verr_at(c, "credentials", "must be env:PREFIX or file:PATH");
		else if (cr)
			rc->credentials = dup_n(c, cr->u.str, cr->len);
		else
			rc->credentials = dup_n(c, CONFIG_DEFAULT_CLUSTER_CREDENTIALS,
						strlen(CONFIG_DEFAULT_CLUSTER_CREDENTIALS));
		pop(c, old);
	}
}

static void state_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *n = get_typed(c, o, "redis", JNODE_STRING, false);

	if (!n)
		return;
	if (memchr(n->u.str, '\0', n->len) || !redis_url_ok(n->u.str, n->len))
		verr_at(c, "redis", "must be redis://HOST[:PORT][/DB]");
	else
		set_str(c, &cfg->state_redis, n->u.str, n->len);
}

static void secrets_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	take_string(c, o, "file", true, &cfg->secrets_file);
}

static void auth_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *keys = get_typed(c, o, "keys", JNODE_OBJECT, true);

	if (!keys)
		return;
	size_t old = push(c, "keys");
	check_fields(c, keys, NULL);
	if (keys->len == 0 || keys->len > MAX_ITEMS) {
		verr(c, "must have 1 to %u access keys", MAX_ITEMS);
		pop(c, old);
		return;
	}
	cfg->auth_keys = calloc(keys->len, sizeof(*cfg->auth_keys));
	if (!cfg->auth_keys) {
		c->nomem = true;
		pop(c, old);
		return;
	}
	for (size_t i = 0; i < keys->len; i++) {
		const struct jmember *m = &keys->u.members[i];
		const struct jnode *v = m->value;

		if (!is_last(keys, m))
			continue;
		size_t o2 = jptr_push_key(&c->ptr, m->key, m->key_len);
		bool id_ok = m->key_len >= 1 && m->key_len <= 128 && jtext_chars_in(m->key, m->key_len, "");
		if (!id_ok)
			verr(c, "an access key id must be 1 to 128 characters of A-Z, a-z and 0-9");
		if (v->type != JNODE_STRING || !secret_ref_ok(v->u.str, v->len))
			verr(c, "%s", secret_ref_sentence);
		else if (id_ok) {
			struct config_auth_key *k = &cfg->auth_keys[cfg->n_auth_keys++];
			k->access_key_id = dup_n(c, m->key, m->key_len);
			k->secret_ref = dup_n(c, v->u.str, v->len);
		}
		pop(c, o2);
	}
	pop(c, old);
}

/* The items of an optional array of objects under obj's key: NULL when absent
 * or not an array (reported); the count limit is checked here. */
static const struct jnode *object_array(struct vctx *c, const struct jnode *obj, const char *key)
{
	const struct jnode *a = get_typed(c, obj, key, JNODE_ARRAY, false);

	if (a && a->len > MAX_ITEMS) {
		verr_at(c, key, "must have at most %u items", MAX_ITEMS);
		return NULL;
	}
	return a;
}

/* Item i of a: true when an object (else reported at the pushed pointer). */
static bool item_is_object(struct vctx *c, const struct jnode *it)
{
	if (it->type == JNODE_OBJECT)
		return true;
	verr(c, "must be an object");
	return false;
}

static void take_source_name(struct vctx *c, const struct jnode *o, bool required, char **dst)
{
	const struct jnode *n = get_typed(c, o, "name", JNODE_STRING, required);

	if (!n)
		return;
	if (source_name_ok(n->u.str, n->len))
		set_str(c, dst, n->u.str, n->len);
	else
		verr_at(c, "name", "must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -");
}

static bool topic_ok(const char *s, size_t n)
{
	return n <= 249 && jtext_chars_in(s, n, "._-");
}

static void file_source(struct vctx *c, const struct jnode *o, struct config_file_source *f)
{
	static const char *const fields[] = {"name", "path", "recursive", "source", NULL};
	const struct jnode *r;

	check_fields(c, o, fields);
	take_source_name(c, o, true, &f->name);
	take_string(c, o, "path", true, &f->path);
	if ((r = get_typed(c, o, "recursive", JNODE_TRUE, false)))
		f->recursive = r->type == JNODE_TRUE;
	f->source = dup_n(c, CONFIG_DEFAULT_FILE_SOURCE, strlen(CONFIG_DEFAULT_FILE_SOURCE));
	const struct jnode *s = get_typed(c, o, "source", JNODE_STRING, false);
	if (s && (s->len == 0 || s->len > 256 || memchr(s->u.str, '\0', s->len)))
		verr_at(c, "source", "must be 1 to 256 characters");
	else if (s)
		set_str(c, &f->source, s->u.str, s->len);
}

static void kafka_source(struct vctx *c, const struct jnode *o, size_t index,
			 struct config_kafka_source *k)
{
	static const char *const fields[] = {"name", "brokers", "group", "topics", NULL};
	char dflt[32];
	int len = snprintf(dflt, sizeof(dflt), "kafka-%zu", index);

	check_fields(c, o, fields);
	k->name = dup_n(c, dflt, (size_t)len);
	take_source_name(c, o, false, &k->name);
	take_string(c, o, "brokers", true, &k->brokers);
	k->group = dup_n(c, CONFIG_DEFAULT_KAFKA_GROUP, strlen(CONFIG_DEFAULT_KAFKA_GROUP));
	take_string(c, o, "group", false, &k->group);
	take_string_array(c, o, "topics", true, 1, MAX_TOPICS, topic_ok,
			  "must be a topic name: 1 to 249 characters of A-Z, a-z, 0-9, ., _ and -",
			  &k->topics);
}

static void webhook_source(struct vctx *c, const struct jnode *o, struct config_webhook *w)
{
	static const char *const fields[] = {"name", "auth", "secret", "detail_type_header",
					     "id_header", NULL};
	static const char *const headers[] = {"detail_type_header", "id_header"};
	char **header_dst[] = {&w->detail_type_header, &w->id_header};

	check_fields(c, o, fields);
	take_source_name(c, o, true, &w->name);
	w->auth = (enum config_webhook_auth)get_enum(c, o, "auth", webhook_auths,
						     CONFIG_WEBHOOK_AUTH_NONE);
	take_secret_ref(c, o, "secret", false, &w->secret_ref);
	if (w->auth != CONFIG_WEBHOOK_AUTH_NONE && !jnode_get(o, "secret"))
		verr_at(c, "secret", "is required when auth is %s", webhook_auths[w->auth]);
	if (w->auth == CONFIG_WEBHOOK_AUTH_NONE && jnode_get(o, "secret"))
		verr_at(c, "secret", "is only used when auth is github or bearer");
	for (size_t i = 0; i < 2; i++) {
		const struct jnode *h = get_typed(c, o, headers[i], JNODE_STRING, false);
		if (h && !header_name_ok(h->u.str, h->len))
			verr_at(c, headers[i], "must be an HTTP header name");
		else if (h)
			set_str(c, header_dst[i], h->u.str, h->len);
	}
}

/* Reports every name that an earlier item of the same kind already has. */
static void unique_names(struct vctx *c, const char *kind, size_t n, const char *(*name_at)(
				 const struct tripline_config *cfg, size_t i),
			 const struct tripline_config *cfg)
{
	size_t old = push(c, kind);

	for (size_t i = 1; i < n; i++) {
		const char *a = name_at(cfg, i);
		if (!a)
			continue;
		for (size_t j = 0; j < i; j++) {
			const char *b = name_at(cfg, j);
			if (b && strcmp(a, b) == 0) {
				size_t o2 = jptr_push_index(&c->ptr, i);
				verr_at(c, "name", "duplicate name \"%s\"", a);
				pop(c, o2);
				break;
			}
		}
	}
	pop(c, old);
}

static const char *file_name_at(const struct tripline_config *cfg, size_t i)
{
	return cfg->sources.files[i].name;
}

static const char *kafka_name_at(const struct tripline_config *cfg, size_t i)
{
	return cfg->sources.kafka[i].name;
}

static const char *webhook_name_at(const struct tripline_config *cfg, size_t i)
{
	return cfg->sources.webhooks[i].name;
}

static void sources_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *files = object_array(c, o, "files");
	const struct jnode *kafka = object_array(c, o, "kafka");
	const struct jnode *hooks = object_array(c, o, "webhooks");
	size_t old, o2;

	if (files) {
		cfg->sources.files = calloc(files->len ? files->len : 1, sizeof(*cfg->sources.files));
		if (!cfg->sources.files) {
			c->nomem = true;
			return;
		}
		cfg->sources.n_files = files->len;
		old = push(c, "files");
		for (size_t i = 0; i < files->len; i++) {
			o2 = jptr_push_index(&c->ptr, i);
			if (item_is_object(c, files->u.items[i]))
				file_source(c, files->u.items[i], &cfg->sources.files[i]);
			pop(c, o2);
		}
		pop(c, old);
		unique_names(c, "files", files->len, file_name_at, cfg);
	}
	if (kafka) {
		cfg->sources.kafka = calloc(kafka->len ? kafka->len : 1, sizeof(*cfg->sources.kafka));
		if (!cfg->sources.kafka) {
			c->nomem = true;
			return;
		}
		cfg->sources.n_kafka = kafka->len;
		old = push(c, "kafka");
		for (size_t i = 0; i < kafka->len; i++) {
			o2 = jptr_push_index(&c->ptr, i);
			if (item_is_object(c, kafka->u.items[i]))
				kafka_source(c, kafka->u.items[i], i, &cfg->sources.kafka[i]);
			pop(c, o2);
		}
		pop(c, old);
		unique_names(c, "kafka", kafka->len, kafka_name_at, cfg);
	}
	if (hooks) {
		cfg->sources.webhooks = calloc(hooks->len ? hooks->len : 1, sizeof(*cfg->sources.webhooks));
		if (!cfg->sources.webhooks) {
			c->nomem = true;
			return;
		}
		cfg->sources.n_webhooks = hooks->len;
		old = push(c, "webhooks");
		for (size_t i = 0; i < hooks->len; i++) {
			o2 = jptr_push_index(&c->ptr, i);
			if (item_is_object(c, hooks->u.items[i]))
				webhook_source(c, hooks->u.items[i], &cfg->sources.webhooks[i]);
			pop(c, o2);
		}
		pop(c, old);
		unique_names(c, "webhooks", hooks->len, webhook_name_at, cfg);
	}
}

static void limits_fn(struct vctx *c, const struct jnode *o, struct tripline_config *cfg)
{
	uint64_t tasks = cfg->limits.max_tasks, timeout = cfg->limits.shutdown_timeout_s;

	take_int(c, o, "max_request_bytes", 1024, (int64_t)64 << 20, &cfg->limits.max_request_bytes);
	take_int(c, o, "max_event_bytes", 1024, (int64_t)64 << 20, &cfg->limits.max_event_bytes);
	take_int(c, o, "max_tasks", 1, 100000, &tasks);
	take_int(c, o, "shutdown_timeout_s", 1, 3600, &timeout);
	cfg->limits.max_tasks = (uint32_t)tasks;
	cfg->limits.shutdown_timeout_s = (uint32_t)timeout;
	/* an event arrives in a request: the default shrinks to fit, a value
	 * written out must fit */
	if (cfg->limits.max_event_bytes <= cfg->limits.max_request_bytes)
		return;
	if (!jnode_get(o, "max_event_bytes"))
		cfg->limits.max_event_bytes = cfg->limits.max_request_bytes;
	else
		verr_at(c, "max_event_bytes", "must not be more than max_request_bytes (%llu)",
			(unsigned long long)cfg->limits.max_request_bytes);
}

static const char *const root_fields[] = {
	"data_dir", "listen", "region", "account", "log_level", "log_format", "rules",
	"task_definitions", "cluster", "drivers", "clusters", "state", "secrets", "auth",
	"sources", "limits", NULL,
};

static void check_root(struct vctx *c, const struct jnode *root, struct tripline_config *cfg)
{
	static const char *const cluster_fields[] = {"name", "cpu", "memory", NULL};
	static const char *const drivers_fields[] = {"process", "docker", NULL};
	static const char *const state_fields[] = {"redis", NULL};
	static const char *const secrets_fields[] = {"file", NULL};
	static const char *const auth_fields[] = {"keys", NULL};
	static const char *const sources_fields[] = {"files", "kafka", "webhooks", NULL};
	static const char *const limits_fields[] = {"max_request_bytes", "max_event_bytes",
						    "max_tasks", "shutdown_timeout_s", NULL};
	const struct jnode *n;

	check_fields(c, root, root_fields);
	take_string(c, root, "data_dir", false, &cfg->data_dir);
	check_listen(c, root, cfg);
	if ((n = get_typed(c, root, "region", JNODE_STRING, false))) {
		if (region_ok(n->u.str, n->len))
			set_str(c, &cfg->region, n->u.str, n->len);
		else
			verr_at(c, "region", "must be 1 to 32 characters of a-z, 0-9 and -");
	}
	if ((n = get_typed(c, root, "account", JNODE_STRING, false))) {
		if (n->len == 12 && strspn(n->u.str, "0123456789") == 12)
			set_str(c, &cfg->account, n->u.str, n->len);
		else
			verr_at(c, "account", "must be 12 digits");
	}
	cfg->log_level = (enum config_log_level)get_enum(c, root, "log_level", log_levels,
							  CONFIG_LOG_INFO);
	cfg->log_format = (enum config_log_format)get_enum(c, root, "log_format", log_formats,
							    CONFIG_LOG_FORMAT_TEXT);
	take_string_array(c, root, "rules", false, 0, MAX_PATHS, NULL,
			  "must be a non-empty string", &cfg->rules);
	take_string_array(c, root, "task_definitions", false, 0, MAX_PATHS, NULL,
			  "must be a non-empty string", &cfg->task_definitions);
	with_object(c, root, "cluster", cluster_fields, cfg, cluster_fn);
	with_object(c, root, "drivers", drivers_fields, cfg, drivers_fn);
	with_object(c, root, "clusters", NULL, cfg, clusters_fn);
	with_object(c, root, "state", state_fields, cfg, state_fn);
	with_object(c, root, "secrets", secrets_fields, cfg, secrets_fn);
	with_object(c, root, "auth", auth_fields, cfg, auth_fn);
	with_object(c, root, "sources", sources_fields, cfg, sources_fn);
	with_object(c, root, "limits", limits_fields, cfg, limits_fn);

	/* Off loopback, anyone who can reach the port could run tasks. */
	if (!jnode_get(root, "auth") && !config_listen_is_loopback(cfg))
		verr_at(c, "auth", "required when listen is not a loopback address");
}

/* ------------------------------------------------------------ defaults, free */

static struct config_strv *strv_one(struct vctx *c, struct config_strv *v, const char *s)
{
	v->v = calloc(1, sizeof(*v->v));
	if (!v->v) {
		c->nomem = true;
		return v;
	}
	v->v[0] = dup_n(c, s, strlen(s));
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

#define DUP_LIT(c, s) dup_n((c), (s), strlen(s))

static struct tripline_config *config_defaults(struct vctx *c)
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
	return cfg;
}

static void strv_free(struct config_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

/* Secret references may hold a value: literally; wipe them. */
static void free_secret(char *s)
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
	strv_free(&c->rules);
	strv_free(&c->task_definitions);
	free(c->cluster.name);
	free(c->drivers.process_cgroup_root);
	free(c->drivers.docker_socket);
	for (size_t i = 0; i < c->n_clusters; i++) {
		free(c->clusters[i].name);
		free(c->clusters[i].endpoint);
		free(c->clusters[i].region);
		free_secret(c->clusters[i].credentials);
	}
	free(c->clusters);
	free(c->state_redis);
	free(c->secrets_file);
	for (size_t i = 0; i < c->n_auth_keys; i++) {
		free(c->auth_keys[i].access_key_id);
		free_secret(c->auth_keys[i].secret_ref);
	}
	free(c->auth_keys);
	for (size_t i = 0; i < c->sources.n_files; i++) {
		free(c->sources.files[i].name);
		free(c->sources.files[i].path);
		free(c->sources.files[i].source);
	}
	free(c->sources.files);
	for (size_t i = 0; i < c->sources.n_kafka; i++) {
		free(c->sources.kafka[i].name);
		free(c->sources.kafka[i].brokers);
		free(c->sources.kafka[i].group);
		strv_free(&c->sources.kafka[i].topics);
	}
	free(c->sources.kafka);
	for (size_t i = 0; i < c->sources.n_webhooks; i++) {
		free(c->sources.webhooks[i].name);
		free_secret(c->sources.webhooks[i].secret_ref);
		free(c->sources.webhooks[i].detail_type_header);
		free(c->sources.webhooks[i].id_header);
	}
	free(c->sources.webhooks);
	free(c);
}

/* ------------------------------------------------------------ loading */

int config_from_text(const char *name, const char *text, size_t len,
		     struct tripline_config **ret, struct errlist *errs)
{
	struct json_limits jl = {0, CONFIG_MAX_FILE_BYTES};
	struct tripline_config *cfg = NULL;
	struct vctx c = {.nomem = false};
	struct json_error je;
	struct jdoc *doc = NULL;
	int r;

	*ret = NULL;
	errlist_init(&c.errs);
	jptr_init(&c.ptr);
	if (len > CONFIG_MAX_FILE_BYTES) {
		errlist_add(&c.errs, NULL, "file is %zu bytes, more than the limit of %zu", len,
			    CONFIG_MAX_FILE_BYTES);
		goto out_report;
	}
	r = jdoc_parse(text, len, &jl, &doc, &je);
	if (r == -ENOMEM) {
		c.nomem = true;
		goto out_report;
	}
	if (r < 0) {
		errlist_add(&c.errs, NULL, "invalid JSON at line %u, column %u: %s", je.line,
			    je.column, je.message);
		goto out_report;
	}
	if (jdoc_root(doc)->type != JNODE_OBJECT) {
		verr(&c, "must be a JSON object");
		goto out_report;
	}
	cfg = config_defaults(&c);
	if (cfg && !c.nomem)
		check_root(&c, jdoc_root(doc), cfg);

out_report:
	jdoc_free(doc);
	if (c.nomem) {
		errlist_clear(&c.errs);
		config_free(cfg);
		return -ENOMEM;
	}
	if (errlist_any(&c.errs)) {
		errlist_move_prefixed(errs, &c.errs, name);
		errlist_clear(&c.errs);
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

/* ------------------------------------------------------------ secrets */

static void set_err(char *err, size_t errlen, const char *fmt, ...) FORMAT(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Owned by us or root, and nothing for group or others. */
static int secret_file_check(const struct stat *st)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return -EPERM;
	if (st->st_mode & 077)
		return -EACCES;
	return 0;
}

static int secret_from_file(const char *ref, const char *path, char **ret, char *err,
			    size_t errlen)
{
	struct stat st;
	char *text;
	size_t len = 0;
	int r = readfile(path, CONFIG_MAX_SECRET_BYTES, secret_file_check, &text, &len);

	switch (r) {
	case 0:
		break;
	case -EACCES:
		/* the mode is safe to show; stat again only for the message */
		if (stat(path, &st) == 0 && (st.st_mode & 077)) {
			set_err(err, errlen,
				"%s: the file is readable or writable by group or others (mode %04o); "
				"it must be 0600 or stricter (chmod 600 %s)",
				ref, (unsigned)(st.st_mode & 07777), path);
			return -EACCES;
		}
		set_err(err, errlen, "%s: %s", ref, strerror(EACCES));
		return -EACCES;
	case -EPERM:
		set_err(err, errlen, "%s: the file must be owned by the daemon's user or by root", ref);
		return -EACCES;
	case -EFBIG:
		set_err(err, errlen, "%s: the file is larger than %zu bytes", ref, CONFIG_MAX_SECRET_BYTES);
		return r;
	case -EISDIR:
		set_err(err, errlen, "%s: not a regular file", ref);
		return -EINVAL;
	default:
		set_err(err, errlen, "%s: %s", ref, strerror(-r));
		return r;
	}
	if (len && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len && text[len - 1] == '\r')
		text[--len] = '\0';
	if (len == 0 || memchr(text, '\0', len)) {
		set_err(err, errlen, "%s: the file is empty or holds NUL bytes", ref);
		free(text);
		return -EINVAL;
	}
	*ret = text;
	return 0;
}

int config_resolve_secret(const char *ref, char **ret, char *err, size_t errlen)
{
	const char *v;

	*ret = NULL;
	if (!config_secret_ref_valid(ref)) {
		set_err(err, errlen, "secret reference %s", secret_ref_sentence);
		return -EINVAL;
	}
	if (strncmp(ref, "file:", 5) == 0)
		return secret_from_file(ref, ref + 5, ret, err, errlen);
	if (strncmp(ref, "env:", 4) == 0) {
		v = getenv(ref + 4);
		if (!v) {
			set_err(err, errlen, "%s: environment variable %s is not set", ref, ref + 4);
			return -ENOENT;
		}
		if (!*v) {
			set_err(err, errlen, "%s: environment variable %s is empty", ref, ref + 4);
			return -EINVAL;
		}
	} else {
		v = ref + 6;   /* value: */
	}
	if (!(*ret = strdup(v))) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
