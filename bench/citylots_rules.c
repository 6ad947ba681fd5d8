/*
 * citylots_rules.c — reads the citylots2 benchmark's rules file.
 *
 * jansson validates the file (rejecting duplicate keys) and supplies its
 * structure: "order", "events", and each rule's "name" and
 * "expected_matches". The patterns, however, must reach pattern_parse() as
 * the text written in the file: numbers are matched by their exact decimal
 * value, and jansson keeps only a double. Re-serialising with json_dumps()
 * happens to reproduce this file's numbers, but only because they are
 * shortest round-trip forms; "1.50" or "3e2" would come back spelled
 * differently, and a number beyond double precision would silently change
 * value. So a tiny scanner walks the same, already validated, text and
 * returns the byte span of each sets.<NAME>[i].pattern (keys are compared
 * as raw bytes; this file has no escapes in keys). Each span is re-parsed
 * by jansson and compared with json_equal() against the node jansson found,
 * so a scanner bug cannot pair a rule with the wrong pattern.
 *
 * Contract: see citylots_rules.h. The file may be at most 16 MiB.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "citylots_rules.h"

#define MAX_RULES_FILE_BYTES ((size_t)16 << 20)
#define MAX_JSON_DEPTH 64u
/*
 * Integers are decoded as doubles: jansson rejects integers beyond int64,
 * and a pattern may legitimately hold one (its text is what counts).
 */
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)
#define MAX_COUNT 9007199254740992.0   /* 2^53: every integer below is exact */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int ret;

	f = fopen(path, "rb");
	if (f == NULL)
		return -errno;
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (ncap > max + 2)
				ncap = max + 2;   /* room to notice one byte too many */
			if (ncap <= len) {
				ret = -EFBIG;
				goto out_free;
			}
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				ret = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > max) {
			ret = -EFBIG;
			goto out_free;
		}
		if (got == 0) {
			if (ferror(f)) {
				ret = -EIO;
				goto out_free;
			}
			break;
		}
	}
	buf[len] = '\0';
	fclose(f);
	*ret_buf = buf;
	*ret_len = len;
	return 0;

out_free:
	free(buf);
	fclose(f);
	return ret;
}

/* ------------------------------------------------------ raw pattern spans */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at the opening quote; returns the byte after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* p at a value; returns the byte just after it, or NULL. */
static const char *skip_value(const char *p, const char *end, unsigned depth)
{
	if (p >= end || depth > MAX_JSON_DEPTH)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = skip_ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (p >= end || *p != '"')
					return NULL;
				p = skip_ws(skip_string(p, end), end);
				if (p == NULL || p >= end || *p != ':')
					return NULL;
				p = skip_ws(p + 1, end);
			}
			p = skip_value(p, end, depth + 1);
			if (p == NULL)
				return NULL;
			p = skip_ws(p, end);
			if (p >= end)
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = skip_ws(p + 1, end);
		}
	}
	/* number, true, false, null */
	while (p < end && *p != ',' && *p != '}' && *p != ']' &&
	       *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
		p++;
	return p;
}

/* In the object at *p, finds member `key`; its value's span goes to *start, *stop. */
static int raw_member(const char *obj, const char *end, const char *key,
		      const char **start, const char **stop)
{
	size_t klen = strlen(key);
	const char *p = skip_ws(obj, end);

	if (p >= end || *p != '{')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		const char *kend = skip_string(p, end);
		const char *v, *vend;
		bool hit;

		if (kend == NULL)
			return -EINVAL;
		hit = (size_t)(kend - p) == klen + 2 && memcmp(p + 1, key, klen) == 0;
		p = skip_ws(kend, end);
		if (p >= end || *p != ':')
			return -EINVAL;
		v = skip_ws(p + 1, end);
		vend = skip_value(v, end, 1);
		if (vend == NULL)
			return -EINVAL;
		if (hit) {
			*start = v;
			*stop = vend;
			return 0;
		}
		p = skip_ws(vend, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return -ENOENT;
}

/* The span of element idx of the array at arr. */
static int raw_element(const char *arr, const char *end, size_t idx,
		       const char **start, const char **stop)
{
	const char *p = skip_ws(arr, end);
	size_t i;

	if (p >= end || *p != '[')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	for (i = 0; p < end && *p != ']'; i++) {
		const char *vend = skip_value(p, end, 1);

		if (vend == NULL)
			return -EINVAL;
		if (i == idx) {
			*start = p;
			*stop = vend;
			return 0;
		}
		p = skip_ws(vend, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return -ENOENT;
}

/* ------------------------------------------------------------ the file */

/* A count: an integral JSON number from 0 to 2^53. */
static int get_count(const json_t *j, uint64_t *ret)
{
	double v;

	if (!json_is_number(j))
		return -EINVAL;
	v = json_number_value(j);
	if (!(v >= 0.0 && v <= MAX_COUNT) || (double)(uint64_t)v != v)
		return -EINVAL;
	*ret = (uint64_t)v;
	return 0;
}

void citylots_rules_free(struct citylots_rules *rf)
{
	size_t i, j;

	for (i = 0; i < rf->n; i++) {
		for (j = 0; j < rf->sets[i].n; j++) {
			free(rf->sets[i].rules[j].name);
			free(rf->sets[i].rules[j].text);
		}
		free(rf->sets[i].rules);
		free(rf->sets[i].name);
	}
	free(rf->sets);
	memset(rf, 0, sizeof(*rf));
}

/* Loads one set: names, expected counts and raw pattern texts. */
static int load_set(const char *path, const char *text, size_t text_len,
		    json_t *sets, const char *name, struct citylots_set *ret)
{
	const char *end = text + text_len;
	const char *sets_s, *sets_e, *arr_s, *arr_e;
	json_t *arr = json_object_get(sets, name);
	size_t i, n;

	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		fprintf(stderr, "match_bench: %s: /sets/%s: missing or not a non-empty array\n", path, name);
		return -EINVAL;
	}
	if (raw_member(text, end, "sets", &sets_s, &sets_e) < 0 ||
	    raw_member(sets_s, sets_e, name, &arr_s, &arr_e) < 0) {
		fprintf(stderr, "match_bench: %s: /sets/%s: cannot locate the raw text\n", path, name);
		return -EINVAL;
	}
	n = json_array_size(arr);
	ret->name = xstrdup(name);
	ret->rules = calloc(n, sizeof(*ret->rules));
	if (ret->name == NULL || ret->rules == NULL)
		return -ENOMEM;
	ret->n = n;
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(arr, i);
		json_t *jname = json_object_get(r, "name");
		json_t *jexp = json_object_get(r, "expected_matches");
		json_t *jpat = json_object_get(r, "pattern");
		json_t *reparsed;
		const char *el_s, *el_e, *p_s, *p_e;
		struct citylots_rule *br = &ret->rules[i];
		bool same;

		if (!json_is_string(jname) || get_count(jexp, &br->expected) < 0 ||
		    !json_is_object(jpat)) {
			fprintf(stderr, "match_bench: %s: /sets/%s/%zu: needs \"name\" (string), "
				"\"expected_matches\" (integer >= 0) and \"pattern\" (object)\n",
				path, name, i);
			return -EINVAL;
		}
		if (raw_element(arr_s, arr_e, i, &el_s, &el_e) < 0 ||
		    raw_member(el_s, el_e, "pattern", &p_s, &p_e) < 0) {
			fprintf(stderr, "match_bench: %s: /sets/%s/%zu/pattern: cannot locate the raw text\n",
				path, name, i);
			return -EINVAL;
		}
		reparsed = json_loadb(p_s, (size_t)(p_e - p_s), LOAD_FLAGS, NULL);
		same = reparsed != NULL && json_equal(reparsed, jpat);
		json_decref(reparsed);
		if (!same) {
			fprintf(stderr, "match_bench: %s: /sets/%s/%zu/pattern: raw text does not match the parsed pattern\n",
				path, name, i);
			return -EINVAL;
		}
		br->set = ret->name;
		br->name = xstrdup(json_string_value(jname));
		br->text_len = (size_t)(p_e - p_s);
		br->text = malloc(br->text_len + 1);
		if (br->name == NULL || br->text == NULL)
			return -ENOMEM;
		memcpy(br->text, p_s, br->text_len);
		br->text[br->text_len] = '\0';
	}
	return 0;
}

int citylots_rules_load(const char *path, struct citylots_rules *ret)
{
	char *text = NULL;
	size_t len = 0, i, n;
	json_t *root = NULL, *order, *sets, *events;
	json_error_t jerr;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = read_file(path, MAX_RULES_FILE_BYTES, &text, &len);
	if (r < 0) {
		fprintf(stderr, "match_bench: %s: %s\n", path, strerror(-r));
		return r;
	}
	root = json_loadb(text, len, LOAD_FLAGS, &jerr);
	if (root == NULL) {
		fprintf(stderr, "match_bench: %s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
		r = -EINVAL;
		goto out_free_text;
	}
	order = json_object_get(root, "order");
	sets = json_object_get(root, "sets");
	events = json_object_get(root, "events");
	if (!json_is_array(order) || !json_is_object(sets) ||
	    get_count(events, &ret->events) < 0 || ret->events == 0) {
		fprintf(stderr, "match_bench: %s: needs \"order\" (array), \"sets\" (object) "
			"and \"events\" (integer > 0)\n", path);
		r = -EINVAL;
		goto out_decref;
	}
	n = json_array_size(order);
	ret->sets = calloc(n ? n : 1, sizeof(*ret->sets));
	if (ret->sets == NULL) {
		r = -ENOMEM;
		goto out_decref;
	}
	for (i = 0; i < n; i++) {
		json_t *jn = json_array_get(order, i);

		if (!json_is_string(jn)) {
			fprintf(stderr, "match_bench: %s: /order/%zu: not a string\n", path, i);
			r = -EINVAL;
			goto out_free_sets;
		}
		ret->n++;
		r = load_set(path, text, len, sets, json_string_value(jn), &ret->sets[i]);
		if (r < 0) {
			if (r == -ENOMEM)
				fprintf(stderr, "match_bench: %s: out of memory\n", path);
			goto out_free_sets;
		}
	}
	json_decref(root);
	free(text);
	return 0;

out_free_sets:
	citylots_rules_free(ret);
out_decref:
	json_decref(root);
out_free_text:
	free(text);
	return r;
}

const struct citylots_set *citylots_rules_find(const struct citylots_rules *rf, const char *name)
{
	size_t i;

	for (i = 0; i < rf->n; i++)
		if (strcmp(rf->sets[i].name, name) == 0)
			return &rf->sets[i];
	return NULL;
}
