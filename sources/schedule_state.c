/*
 * schedule_state.c — the schedule source's persisted state
 * (data_dir/sources/schedule/state.json; schedule_internal.h):
 *
 *   {"version": 1, "rules": {"<rule name>": {"expression": "rate(1 minute)",
 *     "anchor": "2026-12-07T09:00:00Z", "handled": "2026-12-07T09:05:00Z",
 *     "last_fire": "2026-12-07T09:05:00Z"}, …}}
 *
 * anchor: when the rule was first seen enabled with that expression (rate()
 * counts from it); handled: every fire time up to it was fired or given up
 * (absent: last_fire, else anchor); last_fire: the latest fire emitted
 * (absent: none). Times are RFC 3339 (any offset on reading, UTC on
 * writing). schedule.c writes the file with statefile_write(); a file that
 * does not read back is refused whole, for the caller to move aside.
 */
#include "schedule_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "calendar.h"

static void saved_free(struct sched_saved *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->expr);
	free(e);
}

void sched_state_free(struct strmap *map)
{
	for (size_t b = 0; b < map->nbuckets; b++) {
		struct strmap_node *n = map->buckets[b];
		while (n) {
			struct strmap_node *next = n->next;
			saved_free(strmap_entry(n, struct sched_saved, node));
			n = next;
		}
	}
	strmap_clear(map);
}

/* An optional time member: 1 read, 0 absent, -1 malformed. */
static int time_member(json_t *obj, const char *key, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || calendar_parse_iso8601(json_string_value(v), ret) < 0)
		return -1;
	return 1;
}

static int load_rule(const char *name, json_t *v, struct strmap *map, char *err, size_t errlen)
{
	json_t *expr = json_object_get(v, "expression");
	int64_t anchor = 0, handled = 0, last = SCHED_NONE;
	int ha, hh, hl;

	if (!json_is_object(v) || !json_is_string(expr)) {
		snprintf(err, errlen, "rule \"%.64s\": an object with an \"expression\" string expected", name);
		return -EINVAL;
	}
	ha = time_member(v, "anchor", &anchor);
	hh = time_member(v, "handled", &handled);
	hl = time_member(v, "last_fire", &last);
	if (ha <= 0 || hh < 0 || hl < 0) {
		snprintf(err, errlen, "rule \"%.64s\": anchor (required), handled and last_fire must be RFC 3339 times",
			 name);
		return -EINVAL;
	}
	if (!hh)
		handled = hl ? last : anchor;
	if (handled < anchor)
		handled = anchor;
	if (strmap_find(map, name))
		return 0;

	struct sched_saved *e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(name)) || !(e->expr = strdup(json_string_value(expr)))) {
		saved_free(e);
		return -ENOMEM;
	}
	e->anchor = anchor;
	e->handled = handled;
	e->last_fire = last;
	if (strmap_insert(map, &e->node, e->name) < 0) {
		saved_free(e);
		return -ENOMEM;
	}
	return 0;
}

int sched_state_load(const char *path, struct strmap *map, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *rules, *v;
	const char *name;
	int r = 0;

	if (!doc) {
		FILE *f = fopen(path, "r");
		if (!f && errno == ENOENT)
			return 0;
		if (!f) {
			r = -errno;
			snprintf(err, errlen, "%s", strerror(-r));
			return r;
		}
		fclose(f);
		snprintf(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
		return -EINVAL;
	}
	rules = json_object_get(doc, "rules");
	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_object(rules)) {
		snprintf(err, errlen, "not a version 1 state: {\"version\": 1, \"rules\": {…}} expected");
		r = -EINVAL;
	}
	if (r == 0)
		json_object_foreach(rules, name, v)
			if ((r = load_rule(name, v, map, err, errlen)) < 0)
				break;
	json_decref(doc);
	if (r < 0)
		sched_state_free(map);
	return r;
}

/* The text is built in one buffer sized up front: the state of 10,000
 * rules is ~1.5 MB, rendered on the loop thread once a second while they
 * fire, so no stdio and no libc time formatting. */
struct out {
	char *p;
	size_t len;
};

/* A JSON string of printable ASCII (rule names and schedule expressions
 * are nothing else); anything else is escaped as \u00XX: at most 6 bytes
 * per byte, plus the quotes. */
static void put_string(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char *p = o->p + o->len;

	*p++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	o->len = (size_t)(p - o->p);
}

static void put_lit(struct out *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* ,"key":"YYYY-MM-DDTHH:MM:SSZ" (years 0-9999: fire times end in 2199). */
static void put_time(struct out *o, const char *key, int64_t t)
{
	int64_t days = calendar_floor_div(t, CALENDAR_SECS_PER_DAY), y;
	unsigned secs = (unsigned)(t - days * CALENDAR_SECS_PER_DAY), m, d;
	char *p;

	calendar_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 1970, m = 1, d = 1, secs = 0;
	put_lit(o, ",\"");
	put_lit(o, key);
	put_lit(o, "\":\"");
	p = o->p + o->len;
	put_digits(p, (unsigned)y, 4);
	p[4] = '-';
	put_digits(p + 5, m, 2);
	p[7] = '-';
	put_digits(p + 8, d, 2);
	p[10] = 'T';
	put_digits(p + 11, secs / 3600, 2);
	p[13] = ':';
	put_digits(p + 14, secs / 60 % 60, 2);
	p[16] = ':';
	put_digits(p + 17, secs % 60, 2);
	memcpy(p + 19, "Z\"", 2);
	o->len += 21;
}

int sched_state_render(struct sched_rule *const *rules, size_t n, char **ret, size_t *ret_len)
{
	size_t cap = 64;
	struct out o = {NULL, 0};

	*ret = NULL;
	for (size_t i = 0; i < n; i++)   /* the names, the expressions escaped, the rest */
		cap += 6 * (strlen(rules[i]->name) + strlen(rules[i]->expr)) + 160;
	if (!(o.p = malloc(cap)))
		return -ENOMEM;
	put_lit(&o, "{\"version\":1,\"rules\":{");
	for (size_t i = 0; i < n; i++) {
		const struct sched_rule *r = rules[i];
		put_lit(&o, i ? ",\n" : "\n");
		put_string(&o, r->name);
		put_lit(&o, ":{\"expression\":");
		put_string(&o, r->expr);
		put_time(&o, "anchor", r->anchor);
		put_time(&o, "handled", r->handled);
		if (r->last_fire != SCHED_NONE)
			put_time(&o, "last_fire", r->last_fire);
		put_lit(&o, "}");
	}
	put_lit(&o, "}}\n");
	o.p[o.len] = '\0';
	*ret = o.p;
	*ret_len = o.len;
	return 0;
}
