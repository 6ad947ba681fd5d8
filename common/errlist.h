/*
 * errlist.h — a list of messages for a person to read, such as every
 * validation error of a rule file ("rules/a.json: /Targets/0/Id: …").
 *
 * Validation code collects all errors instead of stopping at the first one,
 * so a user fixes a file in one go. Adding never fails: on allocation failure
 * the message is dropped and `dropped` counts it, so callers need no error
 * path, and a list with dropped messages is still non-empty.
 */
#ifndef TRIPLINE_COMMON_ERRLIST_H
#define TRIPLINE_COMMON_ERRLIST_H

#include <stdarg.h>
#include <stddef.h>

struct errlist {
	size_t n;
	size_t cap;
	size_t dropped;
	char **msgs;
};

#define ERRLIST_INIT {0, 0, 0, NULL}

void errlist_init(struct errlist *e);
/* Frees the messages; the list is empty and reusable afterwards. */
void errlist_clear(struct errlist *e);
/* True when anything was added (including dropped messages). */
int errlist_any(const struct errlist *e);

/* Appends "<where>: <message>"; where may be "" or NULL for none. */
void errlist_add(struct errlist *e, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void errlist_addv(struct errlist *e, const char *where, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Moves every message of src to the end of dst, each prefixed "<prefix>: ". */
void errlist_move_prefixed(struct errlist *dst, struct errlist *src, const char *prefix);

#endif
