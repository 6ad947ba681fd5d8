/*
 * jcheck.h — what the validators of JSON documents share: rule files
 * (rules/ruleset.c), the daemon's configuration (engine/config.c) and ECS
 * task definitions (engine/orch/taskdef.c).
 *
 * A validator walks a parsed tree (json.h) with a struct jcheck that knows
 * where in the document it is (a JSON pointer it pushes and pops), adds each
 * problem at that place to an errlist, and goes on: every problem of a
 * document is reported, not only the first. The getters below fetch one
 * member of an object, check it, and report what is wrong in one sentence at
 * the member's pointer; they return what was good and nothing else.
 *
 * Messages come in one of two styles, fixed per context:
 *
 *   JCHECK_STYLE_FILE  rule files and the configuration:
 *                      "<pointer>: <message>", just "<message>" for the
 *                      document itself; "unknown field", "duplicate field";
 *                      a value of the wrong JSON type gets the same sentence
 *                      as a wrong value where one covers both ("must be an
 *                      integer from 1 to 10").
 *   JCHECK_STYLE_ECS   ECS API requests and stored task definitions, in AWS's
 *                      words: "<pointer>: <message>" with "/" for the
 *                      document itself; "unknown key", "duplicate key"; a
 *                      value of the wrong JSON type is told its type ("must
 *                      be an integer", "must be a string"); a message's text
 *                      is cut at JCHECK_ECS_MESSAGE_MAX - 1 bytes.
 *
 * Either way a message is prefixed "<where>: " when the context has a where.
 *
 * Memory: the context owns nothing; errs, where and the tree are the
 * caller's and must outlive it. Allocation failures set `nomem` (the caller
 * turns it into -ENOMEM); messages never fail to be added (errlist.h). Pure
 * code: nothing here logs.
 */
#ifndef TRIPLINE_COMMON_JCHECK_H
#define TRIPLINE_COMMON_JCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "errlist.h"
#include "json.h"

enum jcheck_style {
	JCHECK_STYLE_FILE,
	JCHECK_STYLE_ECS,
};

/* The room for one message's text in the ECS style, NUL included. */
#define JCHECK_ECS_MESSAGE_MAX 384u

struct jcheck {
	struct errlist *errs;    /* where messages go */
	const char *where;       /* prefix of every message ("request", a path), or NULL */
	const char *text;        /* the document's text, for validators that keep
				    source spans (struct jnode offsets), or NULL */
	enum jcheck_style style;
	struct jptr ptr;         /* where in the document we are */
	bool failed;             /* a message was added */
	bool nomem;              /* an allocation failed */
};

/* Flags of the getters. */
#define JCHECK_REQUIRED 1u   /* absent: "is required" */
#define JCHECK_NONEMPTY 2u   /* strings: "" is wrong */

void jcheck_init(struct jcheck *c, enum jcheck_style style, struct errlist *errs,
		 const char *where);

/* Pointer segments: each push returns what jcheck_pop() restores. */
static inline size_t jcheck_push(struct jcheck *c, const char *key)
{
	return jptr_push_key(&c->ptr, key, strlen(key));
}

static inline size_t jcheck_push_n(struct jcheck *c, const char *key, size_t key_len)
{
	return jptr_push_key(&c->ptr, key, key_len);
}

static inline size_t jcheck_push_index(struct jcheck *c, size_t index)
{
	return jptr_push_index(&c->ptr, index);
}

static inline void jcheck_pop(struct jcheck *c, size_t old)
{
	jptr_pop(&c->ptr, old);
}

/* Adds a message at the current pointer. */
void jcheck_err(struct jcheck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* At the member key (NUL-terminated, or key[0..key_len)) of the current object. */
void jcheck_err_at(struct jcheck *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void jcheck_err_at_n(struct jcheck *c, const char *key, size_t key_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A malloc'd, NUL-terminated copy of s[0..n) (the caller frees it); NULL and
 * nomem set when out of memory. */
char *jcheck_dup(struct jcheck *c, const char *s, size_t n);
/* Zeroed room for n items of size bytes (for one when n is 0, so that NULL
 * always means out of memory: nomem is set); the caller frees it. */
void *jcheck_calloc(struct jcheck *c, size_t n, size_t size);

/*
 * Checks the member names of obj, reporting each at its own pointer: a name
 * written more than once is a duplicate at every repetition; a name not in
 * known (NULL-terminated; NULL: any name) is unknown, or "not supported by
 * tripline" when in unsupported (may be NULL). The file style reports a
 * repeated unknown name as a duplicate and hints at a name that differs only
 * in case; the ECS style reports it as unknown each time.
 */
void jcheck_fields(struct jcheck *c, const struct jnode *obj, const char *const *known,
		   const char *const *unsupported);

/* Member key of obj when present and of type t (JNODE_TRUE: either boolean);
 * NULL when absent or of another type (reported). */
const struct jnode *jcheck_member(struct jcheck *c, const struct jnode *obj, const char *key,
				  enum jnode_type t, unsigned flags);

/* An object member whose member names are checked by jcheck_fields(c, it,
 * known, NULL) at its pointer; NULL when absent or not an object. */
const struct jnode *jcheck_object(struct jcheck *c, const struct jnode *obj, const char *key,
				  unsigned flags, const char *const *known);

/* A string member without NUL characters (and not empty with
 * JCHECK_NONEMPTY): the text (in the tree) and *ret_len; NULL when absent or
 * bad (reported). */
const char *jcheck_string(struct jcheck *c, const struct jnode *obj, const char *key,
			  unsigned flags, size_t *ret_len);

/* An integer written as one (no fraction, no exponent) in [lo, hi]: 1 and
 * *ret; 0 when absent; -1 when bad (reported). */
int jcheck_int(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
	       int64_t lo, int64_t hi, int64_t *ret);

/* true or false: 1 and *ret (ret may be NULL); 0 when absent; -1 when bad (reported). */
int jcheck_bool(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
		bool *ret);

/* A string member equal to one of names (NULL-terminated): its index; dflt
 * when absent; -1 when bad ("must be A or B", "must be one of A, B, C"). */
int jcheck_enum(struct jcheck *c, const struct jnode *obj, const char *key, unsigned flags,
		const char *const *names, int dflt);

/* An array member of min to max items; NULL when absent or bad (reported). */
const struct jnode *jcheck_array(struct jcheck *c, const struct jnode *obj, const char *key,
				 unsigned flags, size_t min, size_t max);

/*
 * An array member of min to max strings, each passing item_ok (NULL: any
 * string; NUL characters are item_ok's to refuse); a bad item is reported at
 * its own pointer as item_sentence. The array when everything is good, else
 * NULL. The file style checks the items even when the count is wrong; the
 * ECS style reports the count alone.
 */
const struct jnode *jcheck_strings(struct jcheck *c, const struct jnode *obj, const char *key,
				   unsigned flags, size_t min, size_t max,
				   bool (*item_ok)(const char *s, size_t n),
				   const char *item_sentence);

/* Called for item i of an array, with the pointer at the item. */
typedef void (*jcheck_item_fn)(struct jcheck *c, const struct jnode *item, size_t i, void *arg);

/* Runs fn on every object item of the array a, the member key of the current
 * object; an item that is not an object is reported "must be an object". */
void jcheck_each_object(struct jcheck *c, const struct jnode *a, const char *key,
			jcheck_item_fn fn, void *arg);

#endif
