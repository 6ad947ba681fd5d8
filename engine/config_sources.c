/*
 * config_sources.c — the configuration's event sources: sources.files
 * (watched directories, the S3 stand-in), sources.kafka, sources.webhooks,
 * and the top-level trusted_proxies the webhooks believe X-Forwarded-For
 * from. deploy/CONFIG.md describes every key; config.h their structs and
 * defaults.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "http_token.h"
#include "jtext.h"

#define MAX_TOPICS 100u
#define MAX_GLOBS 64u
#define MAX_PROXIES 64u

static const char *const webhook_auths[] = {"none", "github", "bearer", "hmac", NULL};
static const char *const fs_events[] = {"created", "deleted", NULL};
static const char *const fs_on_start[] = {"reconcile", "ignore", NULL};

/* Source names: webhooks are served at /hooks/<name>, a watch's name is
 * its events' bucket. */
static bool source_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 64 && jtext_chars_in(s, n, "_.-");
}

static bool topic_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 249 && jtext_chars_in(s, n, "._-");
}

/* A glob: 1-1024 bytes, no NUL; a '/' may not start or end it. */
static bool glob_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 1024 && !memchr(s, '\0', n) && s[0] != '/' && s[n - 1] != '/';
}

/* An event bus name, as EventBridge allows it ([/.\-_A-Za-z0-9]{1,256}). */
static bool bus_name_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 256 && jtext_chars_in(s, n, "/._-");
}

/* "ADDRESS" or "ADDRESS/BITS", IPv4 or IPv6. */
static bool proxy_ok(const char *s, size_t n)
{
	char buf[64];
	unsigned char addr[16];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;

	if (alen == 0 || alen >= sizeof(buf) || memchr(s, '\0', n))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	int family = memchr(buf, ':', alen) ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		return false;
	if (!slash)
		return true;
	int64_t bits;
	return jtext_int(slash + 1, n - alen - 1, 0, family == AF_INET ? 32 : 128, &bits);
}

static bool printable_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static void take_source_name(struct jcheck *c, const struct jnode *o, unsigned flags, char **dst)
{
	const struct jnode *n = jcheck_member(c, o, "name", JNODE_STRING, flags);

	if (!n)
		return;
	if (source_name_ok(n->u.str, n->len))
		config_set_str(c, dst, n->u.str, n->len);
	else
		jcheck_err_at(c, "name", "must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -");
}

/* An events' "source" member: 1-256 characters. */
static void take_event_source(struct jcheck *c, const struct jnode *o, char **dst)
{
	const struct jnode *s = jcheck_member(c, o, "source", JNODE_STRING, 0);

	if (s && (s->len == 0 || s->len > 256 || memchr(s->u.str, '\0', s->len)))
		jcheck_err_at(c, "source", "must be 1 to 256 characters");
	else if (s)
		config_set_str(c, dst, s->u.str, s->len);
}

static void take_bus(struct jcheck *c, const struct jnode *o, char **dst)
{
	const struct jnode *b = jcheck_member(c, o, "bus", JNODE_STRING, 0);

	if (b && !bus_name_ok(b->u.str, b->len))
		jcheck_err_at(c, "bus", "must be an event bus name: 1 to 256 characters of A-Z, a-z, 0-9, /, ., _ and -");
	else if (b)
		config_set_str(c, dst, b->u.str, b->len);
}

static void take_header(struct jcheck *c, const struct jnode *o, const char *key, char **dst)
{
	const struct jnode *h = jcheck_member(c, o, key, JNODE_STRING, 0);

	if (h && !http_header_name_ok(h->u.str, h->len))
		jcheck_err_at(c, key, "must be an HTTP header name");
	else if (h)
		config_set_str(c, dst, h->u.str, h->len);
}

static void default_excludes(struct jcheck *c, struct config_strv *v)
{
	static const char *const dflt[] = CONFIG_FS_DEFAULT_EXCLUDE;
	size_t n = sizeof(dflt) / sizeof(dflt[0]);

	if (!(v->v = calloc(n, sizeof(*v->v)))) {
		c->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if ((v->v[v->n] = jcheck_dup(c, dflt[i], strlen(dflt[i]))))
			v->n++;
}

/* sources.files[i].events: a non-empty array of "created" and "deleted". */
static void take_fs_events(struct jcheck *c, const struct jnode *o, struct config_file_source *f)
{
	const struct jnode *a = jcheck_member(c, o, "events", JNODE_ARRAY, 0);
	unsigned bits = 0;

	if (!a)
		return;
	if (a->len == 0) {
		jcheck_err_at(c, "events", "must name at least one of \"created\" and \"deleted\"");
		return;
	}
	size_t old = jcheck_push(c, "events");
	for (size_t i = 0; i < a->len; i++) {
		const struct jnode *v = a->u.items[i];
		size_t k = 0;
		while (fs_events[k] && !(v->type == JNODE_STRING && jtext_eq(v->u.str, v->len, fs_events[k])))
			k++;
		if (!fs_events[k]) {
			size_t o2 = jcheck_push_index(c, i);
			jcheck_err(c, "must be \"created\" or \"deleted\"");
			jcheck_pop(c, o2);
			continue;
		}
		bits |= 1u << k;
	}
	jcheck_pop(c, old);
	if (bits)
		f->events = bits;
}

/* sources.files[i] (a jcheck_item_fn; arg: the config). */
static void file_source(struct jcheck *c, const struct jnode *o, size_t i, void *arg)
{
	static const char *const fields[] = {"name", "path", "recursive", "source", "include", "exclude",
					     "events", "on_start", "etag_max_bytes", "max_watches", "bus", NULL};
	struct config_file_source *f = &((struct tripline_config *)arg)->sources.files[i];
	uint64_t etag = CONFIG_FS_DEFAULT_ETAG_MAX_BYTES, watches = CONFIG_FS_DEFAULT_MAX_WATCHES;

	jcheck_fields(c, o, fields, NULL);
	take_source_name(c, o, JCHECK_REQUIRED, &f->name);
	config_take_string(c, o, "path", JCHECK_REQUIRED, &f->path);
	f->recursive = true;
	jcheck_bool(c, o, "recursive", 0, &f->recursive);
	f->source = jcheck_dup(c, CONFIG_DEFAULT_FILE_SOURCE, strlen(CONFIG_DEFAULT_FILE_SOURCE));
	take_event_source(c, o, &f->source);
	config_take_string_array(c, o, "include", 0, 0, MAX_GLOBS, glob_ok,
				 "must be a glob of 1 to 1024 characters, not starting or ending with /",
				 &f->include);
	if (jnode_get(o, "exclude"))
		config_take_string_array(c, o, "exclude", 0, 0, MAX_GLOBS, glob_ok,
					 "must be a glob of 1 to 1024 characters, not starting or ending with /",
					 &f->exclude);
	else
		default_excludes(c, &f->exclude);
	f->events = CONFIG_FS_CREATED | CONFIG_FS_DELETED;
	take_fs_events(c, o, f);
	f->on_start = (enum config_fs_on_start)config_get_enum(c, o, "on_start", fs_on_start,
								CONFIG_FS_ON_START_RECONCILE);
	config_take_int(c, o, "etag_max_bytes", 0, (int64_t)1 << 40, &etag);
	config_take_int(c, o, "max_watches", 1, 1000000, &watches);
	f->etag_max_bytes = etag;
	f->max_watches = (uint32_t)watches;
	f->bus = jcheck_dup(c, "default", 7);
	take_bus(c, o, &f->bus);
}

/* sources.kafka[i] (a jcheck_item_fn; arg: the config). */
static void kafka_source(struct jcheck *c, const struct jnode *o, size_t i, void *arg)
{
	static const char *const fields[] = {"name", "brokers", "group", "topics", NULL};
	struct config_kafka_source *k = &((struct tripline_config *)arg)->sources.kafka[i];
	char dflt[32];
	int len = snprintf(dflt, sizeof(dflt), "kafka-%zu", i);

	jcheck_fields(c, o, fields, NULL);
	k->name = jcheck_dup(c, dflt, (size_t)len);
	take_source_name(c, o, 0, &k->name);
	config_take_string(c, o, "brokers", JCHECK_REQUIRED, &k->brokers);
	k->group = jcheck_dup(c, CONFIG_DEFAULT_KAFKA_GROUP, strlen(CONFIG_DEFAULT_KAFKA_GROUP));
	config_take_string(c, o, "group", 0, &k->group);
	config_take_string_array(c, o, "topics", JCHECK_REQUIRED, 1, MAX_TOPICS, topic_ok,
				 "must be a topic name: 1 to 249 characters of A-Z, a-z, 0-9, ., _ and -",
				 &k->topics);
}

/* sources.webhooks[i] (a jcheck_item_fn; arg: the config). */
static void webhook_source(struct jcheck *c, const struct jnode *o, size_t i, void *arg)
{
	static const char *const fields[] = {"name", "auth", "secret", "detail_type_header", "id_header",
					     "source", "detail_type", "bus", "signature_header",
					     "signature_prefix", "timestamp_header", "tolerance_s", NULL};
	static const char *const hmac_only[] = {"signature_header", "signature_prefix", "timestamp_header",
						"tolerance_s"};
	struct tripline_config *cfg = arg;
	struct config_webhook *w = &cfg->sources.webhooks[i];
	uint64_t tolerance = CONFIG_WEBHOOK_DEFAULT_TOLERANCE_S;

	jcheck_fields(c, o, fields, NULL);
	take_source_name(c, o, JCHECK_REQUIRED, &w->name);
	w->auth = (enum config_webhook_auth)config_get_enum(c, o, "auth", webhook_auths,
							     CONFIG_WEBHOOK_AUTH_NONE);
	config_take_secret_ref(c, o, "secret", 0, &w->secret_ref);
	if (w->auth != CONFIG_WEBHOOK_AUTH_NONE && !jnode_get(o, "secret"))
		jcheck_err_at(c, "secret", "is required when auth is %s", webhook_auths[w->auth]);
	if (w->auth == CONFIG_WEBHOOK_AUTH_NONE && jnode_get(o, "secret"))
		jcheck_err_at(c, "secret", "is only used when auth is github, bearer or hmac");
	if (w->auth == CONFIG_WEBHOOK_AUTH_NONE && !config_listen_is_loopback(cfg))
		jcheck_err_at(c, "auth", "none is refused when listen is not a loopback address: "
			      "anyone who can reach the port could send events (use github, bearer or hmac)");
	take_header(c, o, "detail_type_header", &w->detail_type_header);
	take_header(c, o, "id_header", &w->id_header);
	take_header(c, o, "signature_header", &w->signature_header);
	take_header(c, o, "timestamp_header", &w->timestamp_header);
	if (w->name && asprintf(&w->source, "webhook.%s", w->name) < 0) {
		w->source = NULL;
		c->nomem = true;
	}
	take_event_source(c, o, &w->source);
	w->detail_type = jcheck_dup(c, CONFIG_WEBHOOK_DEFAULT_DETAIL_TYPE,
				    strlen(CONFIG_WEBHOOK_DEFAULT_DETAIL_TYPE));
	const struct jnode *dt = jcheck_member(c, o, "detail_type", JNODE_STRING, 0);
	if (dt && (dt->len == 0 || dt->len > 128 || memchr(dt->u.str, '\0', dt->len)))
		jcheck_err_at(c, "detail_type", "must be 1 to 128 characters");
	else if (dt)
		config_set_str(c, &w->detail_type, dt->u.str, dt->len);
	w->bus = jcheck_dup(c, "default", 7);
	take_bus(c, o, &w->bus);
	w->signature_prefix = jcheck_dup(c, "", 0);
	const struct jnode *pre = jcheck_member(c, o, "signature_prefix", JNODE_STRING, 0);
	if (pre && (pre->len > 64 || !printable_ascii(pre->u.str, pre->len)))
		jcheck_err_at(c, "signature_prefix", "must be at most 64 printable ASCII characters");
	else if (pre)
		config_set_str(c, &w->signature_prefix, pre->u.str, pre->len);
	config_take_int(c, o, "tolerance_s", 1, 86400, &tolerance);
	w->tolerance_s = (uint32_t)tolerance;
	if (w->auth == CONFIG_WEBHOOK_AUTH_HMAC && !jnode_get(o, "signature_header"))
		jcheck_err_at(c, "signature_header", "is required when auth is hmac");
	for (size_t k = 0; w->auth != CONFIG_WEBHOOK_AUTH_HMAC && k < sizeof(hmac_only) / sizeof(hmac_only[0]); k++)
		if (jnode_get(o, hmac_only[k]))
			jcheck_err_at(c, hmac_only[k], "is only used when auth is hmac");
	if (!jnode_get(o, "timestamp_header") && jnode_get(o, "tolerance_s"))
		jcheck_err_at(c, "tolerance_s", "is only used with timestamp_header");
}

/* Reports every name that an earlier item of the same kind already has. */
static void unique_names(struct jcheck *c, const char *kind, size_t n,
			 const char *(*name_at)(const struct tripline_config *cfg, size_t i),
			 const struct tripline_config *cfg)
{
	size_t old = jcheck_push(c, kind);

	for (size_t i = 1; i < n; i++) {
		const char *a = name_at(cfg, i);
		if (!a)
			continue;
		for (size_t j = 0; j < i; j++) {
			const char *b = name_at(cfg, j);
			if (b && strcmp(a, b) == 0) {
				size_t o2 = jcheck_push_index(c, i);
				jcheck_err_at(c, "name", "duplicate name \"%s\"", a);
				jcheck_pop(c, o2);
				break;
			}
		}
	}
	jcheck_pop(c, old);
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

void config_sources_fn(struct jcheck *c, const struct jnode *o, struct tripline_config *cfg)
{
	const struct jnode *files = config_object_array(c, o, "files");
	const struct jnode *kafka = config_object_array(c, o, "kafka");
	const struct jnode *hooks = config_object_array(c, o, "webhooks");

	if (files) {
		cfg->sources.files = jcheck_calloc(c, files->len, sizeof(*cfg->sources.files));
		if (!cfg->sources.files)
			return;
		cfg->sources.n_files = files->len;
		jcheck_each_object(c, files, "files", file_source, cfg);
		unique_names(c, "files", files->len, file_name_at, cfg);
	}
	if (kafka) {
		cfg->sources.kafka = jcheck_calloc(c, kafka->len, sizeof(*cfg->sources.kafka));
		if (!cfg->sources.kafka)
			return;
		cfg->sources.n_kafka = kafka->len;
		jcheck_each_object(c, kafka, "kafka", kafka_source, cfg);
		unique_names(c, "kafka", kafka->len, kafka_name_at, cfg);
	}
	if (hooks) {
		cfg->sources.webhooks = jcheck_calloc(c, hooks->len, sizeof(*cfg->sources.webhooks));
		if (!cfg->sources.webhooks)
			return;
		cfg->sources.n_webhooks = hooks->len;
		jcheck_each_object(c, hooks, "webhooks", webhook_source, cfg);
		unique_names(c, "webhooks", hooks->len, webhook_name_at, cfg);
	}
}

void config_trusted_proxies(struct jcheck *c, const struct jnode *root, struct tripline_config *cfg)
{
	config_take_string_array(c, root, "trusted_proxies", 0, 0, MAX_PROXIES, proxy_ok,
				 "must be an IPv4 or IPv6 address, or a CIDR block such as \"10.0.0.0/8\"",
				 &cfg->trusted_proxies);
}

void config_sources_free(struct tripline_config *c)
{
	for (size_t i = 0; i < c->sources.n_files; i++) {
		struct config_file_source *f = &c->sources.files[i];
		free(f->name);
		free(f->path);
		free(f->source);
		free(f->bus);
		config_strv_free(&f->include);
		config_strv_free(&f->exclude);
	}
	free(c->sources.files);
	for (size_t i = 0; i < c->sources.n_kafka; i++) {
		free(c->sources.kafka[i].name);
		free(c->sources.kafka[i].brokers);
		free(c->sources.kafka[i].group);
		config_strv_free(&c->sources.kafka[i].topics);
	}
	free(c->sources.kafka);
	for (size_t i = 0; i < c->sources.n_webhooks; i++) {
		struct config_webhook *w = &c->sources.webhooks[i];
		free(w->name);
		config_free_secret(w->secret_ref);
		free(w->detail_type_header);
		free(w->id_header);
		free(w->source);
		free(w->detail_type);
		free(w->bus);
		free(w->signature_header);
		free(w->signature_prefix);
		free(w->timestamp_header);
	}
	free(c->sources.webhooks);
	config_strv_free(&c->trusted_proxies);
}
