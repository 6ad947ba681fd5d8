/*
 * event.c — struct event and the envelope builder (event.h).
 *
 * The envelope is written by hand, member by member, in EventBridge's
 * order: the detail (and the extension) is copied as the caller wrote it
 * with only the whitespace outside strings dropped, so numbers keep their
 * exact text (a re-serialisation through doubles would change what
 * numeric patterns see).
 */
#include "event.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "digest.h"
#include "json.h"
#include "json_lex.h"

/* ------------------------------------------------------------ text */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_lit(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* s as a JSON string (s is valid UTF-8: only ", \ and controls escaped). */
static void buf_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_put(b, run, (size_t)(s - run));
		char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			esc[2] = 0;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			esc[2] = 0;
		}
		buf_lit(b, esc);
		run = s + 1;
	}
	buf_put(b, run, (size_t)(s - run));
	buf_put(b, "\"", 1);
}

/* JSON text (already validated) without whitespace outside strings. */
static void buf_compact(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, run = 0;

	while (i < n) {
		char c = s[i];
		if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			buf_put(b, s + run, i - run);
			while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
				i++;
			run = i;
		} else {
			i++;
		}
	}
	buf_put(b, s + run, n - run);
}

static bool is_object(const char *s, size_t n)
{
	struct jdoc *doc = NULL;
	bool ok = jdoc_parse(s, n, NULL, &doc, NULL) == 0 && jdoc_root(doc)->type == JNODE_OBJECT;

	jdoc_free(doc);
	return ok;
}

/* Valid UTF-8 as the JSON reader accepts it (json_lex.h), no NUL. */
static bool valid_utf8_text(const char *s)
{
	const char *end = s + strlen(s);

	while (s < end) {
		if ((unsigned char)*s < 0x80) {
			s++;
			continue;
		}
		if (!(s = json_lex_utf8(s, end)))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ ids and time */

void event_time_text(int64_t s, char buf[32])
{
	/* most events of a second share its text: the last one is kept */
	static _Thread_local int64_t last_s = INT64_MIN;
	static _Thread_local char last[32];
	time_t t = (time_t)s;
	struct tm tm;

	if (s != last_s) {
		if (!gmtime_r(&t, &tm) || strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(last, sizeof(last), "1970-01-01T00:00:00Z");
		last_s = s;
	}
	memcpy(buf, last, sizeof(last));
}

static void uuid_shape(const unsigned char b[16], unsigned version, char out[37])
{
	unsigned char u[16];
	char hex[33];

	memcpy(u, b, 16);
	u[6] = (unsigned char)((u[6] & 0x0f) | (version << 4));
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	digest_hex(u, 16, hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* Random bytes drawn from getrandom() 4 KiB at a time (one system call per
 * 256 ids); thread-local, so any thread may make ids. */
void event_uuid4(char out[37])
{
	static _Thread_local unsigned char pool[4096];
	static _Thread_local size_t used = sizeof(pool);
	unsigned char b[16];

	if (used + sizeof(b) > sizeof(pool)) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool)) {
			/* not before the kernel's pool is ready at boot: a clock-derived id */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			memset(b, 0, sizeof(b));
			memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
			uuid_shape(b, 4, out);
			return;
		}
		used = 0;
	}
	memcpy(b, pool + used, sizeof(b));
	explicit_bzero(pool + used, sizeof(b));
	used += sizeof(b);
	uuid_shape(b, 4, out);
}

void event_id_digest(const char *const *parts, size_t n, char out[37])
{
	unsigned char md[DIGEST_SHA256_LEN];
	struct digest_sha256 *d = digest_sha256_new();
	int r = d ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++)
		r = digest_sha256_update(d, parts[i], strlen(parts[i]) + 1);
	if (r == 0 && d) {
		r = digest_sha256_final(d, md);
		d = NULL;
	}
	digest_sha256_free(d);
	if (r < 0)
		memset(md, 0, sizeof(md));
	uuid_shape(md, 5, out);
}

/* ------------------------------------------------------------ events */

static struct event *event_alloc(const char *id, const char *bus)
{
	struct event *ev = calloc(1, sizeof(*ev));
	struct timespec ts;

	if (!ev)
		return NULL;
	ev->refs = 1;
	ev->id = strdup(id);
	ev->bus = strdup(bus);
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->ingest_wall_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ev->ingest_mono_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (!ev->id || !ev->bus) {
		event_unref(ev);
		return NULL;
	}
	return ev;
}

int event_new(const char *id, const char *bus, const char *json, size_t len, struct event **ret)
{
	struct event *ev;

	*ret = NULL;
	if (!id || !*id || strlen(id) > EVENT_MAX_ID || !bus || !*bus)
		return -EINVAL;
	if (!(ev = event_alloc(id, bus)) || !(ev->json = malloc(len + 1))) {
		event_unref(ev);
		return -ENOMEM;
	}
	memcpy(ev->json, json, len);
	ev->json[len] = '\0';
	ev->len = len;
	struct jdoc *doc = NULL;
	if (jdoc_parse(json, len, NULL, &doc, NULL) == 0) {
		const struct jnode *src = jnode_get(jdoc_root(doc), "source");
		if (src && src->type == JNODE_STRING)
			ev->source = strdup(src->u.str);
	}
	jdoc_free(doc);
	*ret = ev;
	return 0;
}

int event_build(const struct event_fields *f, const char *bus, struct event **ret)
{
	char uuid[37], when[32];
	const char *id = f->id;
	struct buf b = {0};
	struct event *ev;

	*ret = NULL;
	if (!f->source || !f->detail_type || !f->account || !f->region || !bus || !*bus)
		return -EINVAL;
	if (!id) {
		event_uuid4(uuid);
		id = uuid;
	}
	if (!*id || strlen(id) > EVENT_MAX_ID || !valid_utf8_text(id) || !valid_utf8_text(f->source) ||
	    !valid_utf8_text(f->detail_type))
		return -EINVAL;
	for (size_t i = 0; i < f->n_resources; i++)
		if (!valid_utf8_text(f->resources[i]))
			return -EINVAL;
	if ((f->detail && !is_object(f->detail, f->detail_len)) ||
	    (f->extension && !is_object(f->extension, f->extension_len)))
		return -EINVAL;
	if (f->time_s >= 0) {
		event_time_text(f->time_s, when);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		event_time_text(ts.tv_sec, when);
	}
	buf_lit(&b, "{\"version\":\"0\",\"id\":");
	buf_str(&b, id);
	buf_lit(&b, ",\"detail-type\":");
	buf_str(&b, f->detail_type);
	buf_lit(&b, ",\"source\":");
	buf_str(&b, f->source);
	buf_lit(&b, ",\"account\":");
	buf_str(&b, f->account);
	buf_lit(&b, ",\"time\":");
	buf_str(&b, when);
	buf_lit(&b, ",\"region\":");
	buf_str(&b, f->region);
	buf_lit(&b, ",\"resources\":[");
	for (size_t i = 0; i < f->n_resources; i++) {
		if (i)
			buf_put(&b, ",", 1);
		buf_str(&b, f->resources[i]);
	}
	buf_lit(&b, "],\"detail\":");
	if (f->detail)
		buf_compact(&b, f->detail, f->detail_len);
	else
		buf_lit(&b, "{}");
	if (f->extension) {
		buf_lit(&b, ",\"tripline\":");
		buf_compact(&b, f->extension, f->extension_len);
	}
	buf_put(&b, "}", 1);
	if (b.oom || !(ev = event_alloc(id, bus))) {
		free(b.p);
		return -ENOMEM;
	}
	ev->json = b.p;
	ev->len = b.len;
	if (!(ev->source = strdup(f->source))) {
		event_unref(ev);
		return -ENOMEM;
	}
	*ret = ev;
	return 0;
}

struct event *event_ref(struct event *ev)
{
	ev->refs++;
	return ev;
}

void event_unref(struct event *ev)
{
	if (!ev || --ev->refs > 0)
		return;
	for (size_t i = 0; i < ev->n_final; i++)
		free(ev->final_before[i]);
	free(ev->final_before);
	free(ev->source);
	free(ev->rule);
	free(ev->id);
	free(ev->bus);
	free(ev->json);
	free(ev);
}

int event_set_rule(struct event *ev, const char *rule)
{
	char *r = strdup(rule);

	if (!r)
		return -ENOMEM;
	free(ev->rule);
	ev->rule = r;
	return 0;
}

int event_add_final_key(struct event *ev, const char *key)
{
	char **v = realloc(ev->final_before, (ev->n_final + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ev->final_before = v;
	if (!(v[ev->n_final] = strdup(key)))
		return -ENOMEM;
	ev->n_final++;
	return 0;
}

int event_add_final(struct event *ev, const char *rule, const char *target_id)
{
	char *key;
	int r;

	if (asprintf(&key, "%s\n%s", rule, target_id) < 0)
		return -ENOMEM;
	r = event_add_final_key(ev, key);
	free(key);
	return r;
}

bool event_was_final(const struct event *ev, const char *rule, const char *target_id)
{
	size_t rl = strlen(rule);

	for (size_t i = 0; i < ev->n_final; i++) {
		const char *s = ev->final_before[i];
		if (strncmp(s, rule, rl) == 0 && s[rl] == '\n' && strcmp(s + rl + 1, target_id) == 0)
			return true;
	}
	return false;
}

void event_pending_get(struct event *ev)
{
	ev->pending++;
}

void event_pending_put(struct event *ev)
{
	if (ev->pending == 0 || --ev->pending > 0)
		return;
	if (ev->hooks.final)
		ev->hooks.final(ev->hooks.arg, ev);
}
