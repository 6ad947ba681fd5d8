/*
 * targets_internal.h — what the target kinds share (util.c): the target
 * object's JSON, errors in the rule loader's form, EventBridge's restricted
 * JSONPath on an event, and finishing an attempt with a formatted message.
 * Private to targets/.
 */
#ifndef TRIPLINE_TARGETS_INTERNAL_H
#define TRIPLINE_TARGETS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "target.h"

#define TGT_FORMAT(a, b) __attribute__((format(printf, a, b)))

/* The target object of rule->targets[i], parsed (a new reference), or NULL
 * (out of memory or not an object: reported in errs). */
json_t *tgt_target_json(const struct rule *rule, size_t i, struct errlist *errs);

/* "<file>: /Targets/<i>/<where>: <message>" into errs (where may be ""). */
void tgt_error(struct errlist *errs, const struct rule *rule, size_t i, const char *where, const char *fmt, ...)
	TGT_FORMAT(5, 6);

/* A prepare() whose state is the target's resource (a path, a bus name):
 * *ret a malloc'd copy (release with free()), or -EINVAL with "<file>:
 * /Targets/N/Arn: <missing>" when the resource is empty; -ENOMEM. */
int tgt_prepare_resource(const struct rule *rule, size_t i, const char *missing, void **ret, struct errlist *errs);

/* Wipes a secret and frees it; NULL is fine. */
void tgt_wipe_free(char *s);

/* A string member of obj, or NULL. */
const char *tgt_str(const json_t *obj, const char *key);

/* EventBridge's restricted JSONPath ("$", ".name" segments, "[n]" indexes)
 * into root: the value (borrowed) or NULL when there is none. */
json_t *tgt_path_get(json_t *root, const char *path);

/* A value as text for a header, a query or a path parameter: a string as it
 * is, anything else its compact JSON. malloc'd; NULL when out of memory. */
char *tgt_value_text(const json_t *v);

/* The event's JSON (a new reference), or NULL when it is not JSON. */
json_t *tgt_event_json(const struct target_call *call);

/* Ends an attempt: done(arg, {outcome, code, message}). */
void tgt_finish(target_done_fn done, void *arg, enum target_outcome outcome, const char *code, const char *fmt, ...)
	TGT_FORMAT(5, 6);
void tgt_ok(target_done_fn done, void *arg);

/* Whether text[0..len) is one JSON text (the strict reader's opinion). */
bool tgt_is_json(const char *text, size_t len);

/* JSON text without the white space outside strings, into out (len + 1
 * bytes at least); returns its length. text must be valid JSON. */
size_t tgt_compact_json(const char *text, size_t len, char *out);

/* Percent-encodes s (RFC 3986 unreserved bytes left bare) onto *buf. 0 or -ENOMEM. */
int tgt_url_encode(const char *s, char **buf, size_t *len, size_t *cap);
int tgt_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

#endif
