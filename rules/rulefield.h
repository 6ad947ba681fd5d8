/*
 * rulefield.h — checks on the fields of rule files that rules and their
 * targets share: names, JSONPaths, ARNs, event bus names, dates, numbers,
 * and member getters with EventBridge's length limits. Private to rules/
 * (ruleset.c validates rules, target.c their targets).
 *
 * The *_problem functions return NULL when the text is acceptable, else a
 * static sentence saying what is wrong; the getters report through the
 * validation context (common/jcheck.h) and return NULL for a bad member.
 */
#ifndef TRIPLINE_RULES_RULEFIELD_H
#define TRIPLINE_RULES_RULEFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jcheck.h"
#include "json.h"

#define RULEFIELD_FORMAT(a, b) __attribute__((format(printf, a, b)))

/* A piece of a checked string, not NUL-terminated. */
struct rulefield_span {
	const char *p;
	size_t n;
};

/* s[0..n) starts with prefix, ignoring ASCII case. */
bool rulefield_has_prefix_ci(const char *s, size_t n, const char *prefix);

/* Characters (code points) of valid UTF-8. */
size_t rulefield_utf8_chars(const char *s, size_t n);

/* EventBridge names and ids: 1 to max of [.\-_A-Za-z0-9]. */
bool rulefield_name_ok(const char *s, size_t n, size_t max);

/* The value of a JSON number's text, to about 18 significant digits; enough
 * for range checks and rates. Does not depend on the C locale. */
double rulefield_number_value(const char *s);

/* EventBridge's restricted JSONPath: "$", or "$" followed by ".name"
 * segments, each optionally followed by array indexes "[n]"; at most 256
 * characters. */
const char *rulefield_jsonpath_problem(const char *s, size_t n);

/* A malloc'd copy of the JSON text p[0..n) without the whitespace outside
 * strings; NULL (reported through c) when out of memory. */
char *rulefield_compact_json(struct jcheck *c, const char *p, size_t n, size_t *ret_len);

/* Splits arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE and checks the parts
 * that are the same for every service. */
const char *rulefield_arn_split(const char *s, size_t n, struct rulefield_span *ret_service,
				struct rulefield_span *ret_resource);

/* An event bus name: 1 to 256 characters of A-Z a-z 0-9 / . - _. */
const char *rulefield_bus_name_problem(const char *s, size_t n);

/* yyyy-mm-ddThh:mm:ss, then nothing (UTC), "Z" or ±hh:mm, from 1970 on:
 * true and the seconds since the epoch. */
bool rulefield_date_parse(const char *s, size_t n, int64_t *ret);

/* A string member of at most max characters (at least 1 when nonempty). */
const char *rulefield_string_max(struct jcheck *c, const struct jnode *obj, const char *key,
				 unsigned flags, bool nonempty, size_t max, size_t *ret_len);

/* A JSONPath string member; NULL when absent or bad (reported). */
const char *rulefield_jsonpath(struct jcheck *c, const struct jnode *obj, const char *key,
			       unsigned flags, size_t *ret_len);

/* An optional array member of at most max items, each an object validated
 * by each_fn (called with the pointer at the item). */
void rulefield_object_array(struct jcheck *c, const struct jnode *obj, const char *key, size_t max,
			    void (*each_fn)(struct jcheck *c, const struct jnode *item));

/* target.c: one object of a rule's Targets into t (every problem reported
 * through c); and what rule_target_parse() allocated in t. */
struct rule_target;
void rule_target_parse(struct jcheck *c, const struct jnode *obj, struct rule_target *t);
void rule_target_free_fields(struct rule_target *t);

#endif
