/*
 * errlist.c — a growable list of messages for a person to read.
 *
 * Each message is one malloc'd string "<where>: <message>" (or just the
 * message when where is NULL or ""), kept in a doubling array of pointers.
 * Adding never fails from the caller's point of view: when formatting or
 * allocation fails, the message is dropped and `dropped` is incremented, so
 * errlist_any() still reports the list as non-empty and validation code
 * needs no error path of its own. The list owns its strings; errlist_clear()
 * frees them and leaves an empty list that can be reused.
 */
#include "errlist.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void errlist_init(struct errlist *e)
{
	e->n = 0;
	e->cap = 0;
	e->dropped = 0;
	e->msgs = NULL;
}

void errlist_clear(struct errlist *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	errlist_init(e);
}

int errlist_any(const struct errlist *e)
{
	return e->n > 0 || e->dropped > 0;
}

/* Takes ownership of msg; on failure frees it and counts it as dropped. */
static void push(struct errlist *e, char *msg)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		char **msgs;

		if (cap < e->cap || cap > SIZE_MAX / sizeof(*msgs))
			goto out_drop;
		msgs = realloc(e->msgs, cap * sizeof(*msgs));
		if (!msgs)
			goto out_drop;
		e->msgs = msgs;
		e->cap = cap;
	}
	e->msgs[e->n++] = msg;
	return;

out_drop:
	free(msg);
	e->dropped++;
}

/* "<where>: <body>" or just body; NULL on allocation failure. */
static char *join(const char *where, const char *body, size_t body_len)
{
	size_t wlen = where ? strlen(where) : 0;
	size_t sep = wlen ? 2 : 0;
	char *msg;

	if (body_len > SIZE_MAX - wlen - sep - 1)
		return NULL;
	msg = malloc(wlen + sep + body_len + 1);
	if (!msg)
		return NULL;
	if (wlen) {
		memcpy(msg, where, wlen);
		memcpy(msg + wlen, ": ", 2);
	}
	memcpy(msg + wlen + sep, body, body_len);
	msg[wlen + sep + body_len] = '\0';
	return msg;
}

void errlist_addv(struct errlist *e, const char *where, const char *fmt, va_list ap)
{
	va_list ap2;
	char small[256];
	char *body = small;
	char *msg;
	int len;

	/* Most messages are short: format once into the stack buffer, and only
	 * when that was too small allocate the exact size and format again. */
	va_copy(ap2, ap);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	if (len < 0)
		goto out_drop;
	if ((size_t)len >= sizeof(small)) {
		body = malloc((size_t)len + 1);
		if (!body)
			goto out_drop;
		if (vsnprintf(body, (size_t)len + 1, fmt, ap2) != len)
			goto out_free_body;
	}
	msg = join(where, body, (size_t)len);
	if (!msg)
		goto out_free_body;
	if (body != small)
		free(body);
	va_end(ap2);
	push(e, msg);
	return;

out_free_body:
	if (body != small)
		free(body);
out_drop:
	va_end(ap2);
	e->dropped++;
}

void errlist_add(struct errlist *e, const char *where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_addv(e, where, fmt, ap);
	va_end(ap);
}

void errlist_move_prefixed(struct errlist *dst, struct errlist *src, const char *prefix)
{
	if (dst == src)
		return;
	for (size_t i = 0; i < src->n; i++) {
		char *msg = src->msgs[i];

		/* Without a prefix the string moves as it is: nothing to allocate. */
		if (prefix && *prefix) {
			char *joined = join(prefix, msg, strlen(msg));

			free(msg);
			if (!joined) {
				dst->dropped++;
				continue;
			}
			msg = joined;
		}
		push(dst, msg);
	}
	dst->dropped += src->dropped;
	src->n = 0;
	errlist_clear(src);
}
