/*
 * json.h — tripline's strict JSON reader for rule files and patterns.
 *
 * One grammar for the whole project: RFC 8259, nothing more (no comments,
 * no trailing commas, no NaN, no single quotes, no leading zeros, no lone
 * surrogates, valid UTF-8 only, no control characters in strings). The tree
 * keeps what a generic parser throws away and the rule language needs:
 *
 *   - numbers as the exact text written ("3.0e2" stays "3.0e2");
 *   - object members in document order, duplicates kept (callers decide:
 *     patterns take the last one);
 *   - the byte offset of every value, for error messages.
 *
 * The event scanner (rules/scan.c) shares the lexical primitives in
 * json_lex.h, so a pattern and an event are held to the same grammar.
 *
 * Memory: a jdoc owns every node and string in one arena; nodes are valid
 * until jdoc_free(). Nothing here logs.
 */
#ifndef TRIPLINE_COMMON_JSON_H
#define TRIPLINE_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jnode_type {
	JNODE_NULL,
	JNODE_FALSE,
	JNODE_TRUE,
	JNODE_NUMBER,
	JNODE_STRING,
	JNODE_ARRAY,
	JNODE_OBJECT,
};

/* Hard limits on a document; 0 means the default. */
struct json_limits {
	uint32_t max_depth;  /* nesting of arrays/objects; default 128 */
	size_t max_bytes;    /* input size; default 16 MiB */
};

#define JSON_DEFAULT_MAX_DEPTH 128u
#define JSON_DEFAULT_MAX_BYTES ((size_t)16 << 20)

/* Where and why a parse failed. line and column are 1-based; column counts bytes. */
struct json_error {
	size_t offset;
	unsigned line;
	unsigned column;
	char message[96];
};

struct jnode;

struct jmember {
	const char *key;   /* unescaped UTF-8, NUL-terminated (may hold \u0000) */
	size_t key_len;
	struct jnode *value;
};

struct jnode {
	enum jnode_type type;
	uint32_t offset;   /* byte offset of the value's first character */
	uint32_t end;      /* byte offset just past the value's last character */
	size_t len;        /* STRING: bytes; NUMBER: text bytes; ARRAY: items; OBJECT: members */
	union {
		const char *str;          /* JNODE_STRING: unescaped, NUL-terminated */
		const char *num;          /* JNODE_NUMBER: the raw text, NUL-terminated */
		struct jnode **items;     /* JNODE_ARRAY */
		struct jmember *members;  /* JNODE_OBJECT, document order, duplicates kept */
	} u;
};

struct jdoc;

/* Parses text[0..len) (need not be NUL-terminated). On success *ret_doc owns
 * the tree; on failure returns -EINVAL (bad JSON) or -E2BIG (a limit), fills
 * *err when non-NULL and sets *ret_doc to NULL. -ENOMEM on allocation failure. */
int jdoc_parse(const char *text, size_t len, const struct json_limits *lim,
	       struct jdoc **ret_doc, struct json_error *err);

const struct jnode *jdoc_root(const struct jdoc *doc);
void jdoc_free(struct jdoc *doc);

/* The last member named key (patterns and rule objects: last one wins), or NULL. */
const struct jnode *jnode_get(const struct jnode *obj, const char *key);

/* True when the string node equals the NUL-terminated s. */
bool jnode_streq(const struct jnode *n, const char *s);

/* "string", "number", "object", … for messages. */
const char *jnode_type_name(enum jnode_type t);

/*
 * JSON pointers (RFC 6901) for error locations. A jptr is a small
 * fixed-capacity buffer; pushing past its capacity truncates with "…" rather
 * than failing, since it is only ever used for messages.
 */
struct jptr {
	size_t len;
	char buf[512];
};

void jptr_init(struct jptr *p);
/* Appends "/key" with ~ and / escaped, and control characters (NUL among
 * them) written as \u00XX so the pointer prints whole; returns the old
 * length for jptr_pop(). */
size_t jptr_push_key(struct jptr *p, const char *key, size_t key_len);
size_t jptr_push_index(struct jptr *p, size_t index);
void jptr_pop(struct jptr *p, size_t old_len);
/* "" for the root, as RFC 6901 says; callers print it as "/" when they prefer. */
const char *jptr_str(const struct jptr *p);

#endif
