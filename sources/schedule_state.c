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
#include "event.h"

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

/* A JSON string of printable ASCII (rule names and schedule expressions
 * are nothing else); anything else is escaped as \u00XX. */
static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put_time(FILE *f, const char *key, int64_t t)
{
	char text[32];

	event_time_text(t, text);
	fprintf(f, ",\"%s\":\"%s\"", key, text);
}

int sched_state_render(struct sched_rule *const *rules, size_t n, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*ret = NULL;
	if (!f)
		return -ENOMEM;
	fputs("{\"version\":1,\"rules\":{", f);
	for (size_t i = 0; i < n; i++) {
		const struct sched_rule *r = rules[i];
		fputs(i ? ",\n" : "\n", f);
		put_string(f, r->name);
		fputs(":{\"expression\":", f);
		put_string(f, r->expr);
		put_time(f, "anchor", r->anchor);
		put_time(f, "handled", r->handled);
		if (r->last_fire != SCHED_NONE)
			put_time(f, "last_fire", r->last_fire);
		fputc('}', f);
	}
	fputs("}}\n", f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
