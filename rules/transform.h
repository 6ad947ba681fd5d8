/*
 * transform.h — a target's input: Input (constant JSON), InputPath (a
 * JSONPath into the event) or InputTransformer (InputPathsMap +
 * InputTemplate), compiled when the rule loads and rendered per event,
 * with EventBridge's semantics and tripline's decisions (rules/README.md):
 *
 *   - a placeholder standing as a whole JSON value inserts the extracted
 *     value as JSON (strings quoted); inside a string literal it inserts the
 *     text JSON-escaped, so the output is always valid JSON when the
 *     template is (EventBridge inserts it raw);
 *   - a missing path renders "" as a whole value and nothing inside a string
 *     literal; an array or object inside a string literal is its compact
 *     JSON text, escaped;
 *   - the reserved <aws.events.rule-arn>, <aws.events.rule-name>,
 *     <aws.events.event.ingestion-time>, <aws.events.event>,
 *     <aws.events.event.json>;
 *   - a template that is not JSON is plain text (EventBridge's own example:
 *     "<instance> is in state <status>"), placeholders inserted as text.
 *
 * Pure code: compiled once, immutable, shared between threads.
 */
#ifndef TRIPLINE_RULES_TRANSFORM_H
#define TRIPLINE_RULES_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

struct transform;

/* What a transform yields, known when it is compiled. */
enum transform_shape {
	TRANSFORM_SHAPE_OBJECT,      /* always a JSON object (for an event that is one,
					as every envelope is) */
	TRANSFORM_SHAPE_JSON,        /* always JSON, not always an object */
	TRANSFORM_SHAPE_TEXT,        /* plain text */
	TRANSFORM_SHAPE_DEPENDS,     /* whatever the event holds there (InputPath) */
};

/* The parts of a rule target's input, as validated by the rule loader. */
struct transform_spec {
	const char *input;           /* Input: JSON text, or NULL */
	size_t input_len;
	const char *input_path;      /* InputPath, or NULL */
	const char *const *names;    /* InputPathsMap: names[i] → paths[i] */
	const char *const *paths;
	size_t n_paths;
	const char *template_text;   /* InputTemplate, or NULL: no transformer */
	size_t template_len;
};

/* Limits of a spec (EventBridge's) and of a rendering's output. */
#define TRANSFORM_MAX_PATHS 100u          /* InputPathsMap entries */
#define TRANSFORM_MAX_NAME 256u           /* an InputPathsMap name, characters */
#define TRANSFORM_MAX_TEMPLATE 8192u      /* InputTemplate, characters */
#define TRANSFORM_MAX_OUTPUT ((size_t)1 << 20) /* see transform_render() */

/* NULL when s[0..n) is a JSONPath a transform can follow (rulefield.h's
 * restricted form, no "*" segment), else what is wrong. */
const char *transform_path_problem(const char *s, size_t n);
/* NULL when s[0..n) may name an InputPathsMap entry: 1 to 256 characters
 * of A-Z a-z 0-9 _ -, not starting with "aws." (any case), else what is wrong. */
const char *transform_name_problem(const char *s, size_t n);

/* 0 and *ret; -EINVAL with a reason in why (e.g. a placeholder not in the
 * map); -ENOMEM. A spec with nothing set gives the whole event. */
int transform_compile(const struct transform_spec *spec, struct transform **ret, char *why, size_t whylen);
void transform_free(struct transform *t);
enum transform_shape transform_shape(const struct transform *t);

/* What a rendering reads. */
struct transform_ctx {
	const char *event;           /* the envelope, JSON text */
	size_t event_len;
	const char *rule_name;
	const char *rule_arn;
	const char *ingestion_time;  /* "2026-12-07T08:47:06Z" */
};

/* The target's input, malloc'd and NUL-terminated, in *ret and *ret_len. 0;
 * -EINVAL (the event is not valid JSON); -E2BIG (the output would pass
 * TRANSFORM_MAX_OUTPUT bytes or twice the event's length, whichever is
 * more); -ENOMEM. NULL rule_name, rule_arn, ingestion_time render as "". */
int transform_render(const struct transform *t, const struct transform_ctx *ctx, char **ret, size_t *ret_len);

#endif
