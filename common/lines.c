/*
 * lines.c — see lines.h. The buffer holds the unreturned input
 * [start, end); lines are found with memchr() from `scanned`, so a long line
 * arriving in many small blocks is searched once, not once per block. When
 * room is needed, the unreturned bytes (at most one partial line once
 * lines_next() has returned 0) move to the front, and the buffer grows only
 * when that is not enough. A line past max_line switches to dropping: its
 * bytes are discarded as they arrive until its '\n' (or the end of input),
 * where it is reported.
 *
 * lines_take() works on the caller's block in place: only the unfinished
 * line at a block's end is copied into the buffer, which then collects the
 * rest of that line from the next block(s), so the same limits hold.
 */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lines_init(struct lines *l, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	l->max_line = max_line;
}

void lines_free(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->cap = l->start = l->scanned = l->end = 0;
}

char *lines_space(struct lines *l, size_t want, size_t *ret_n)
{
	size_t keep = l->end - l->start;

	if (want == 0 || want > LINES_MAX_BLOCK)
		return NULL;
	if (l->cap - l->end < want) {
		if (l->start > 0) {
			/* the partial line to the front */
			memmove(l->buf, l->buf + l->start, keep);
			l->scanned -= l->start;
			l->start = 0;
			l->end = keep;
		}
		if (l->cap - l->end < want) {
			size_t cap = l->cap ? l->cap : 4096;
			char *nb;

			while (cap - l->end < want)
				cap *= 2;
			nb = realloc(l->buf, cap);
			if (!nb)
				return NULL;
			l->buf = nb;
			l->cap = cap;
		}
	}
	*ret_n = l->cap - l->end;
	return l->buf + l->end;
}

void lines_commit(struct lines *l, size_t n)
{
	l->end += n;
}

int lines_feed(struct lines *l, const void *data, size_t n)
{
	size_t room;
	char *p;

	if (n == 0)
		return 0;
	if (n > LINES_MAX_BLOCK)
		return -EINVAL;
	p = lines_space(l, n, &room);
	if (!p)
		return -ENOMEM;
	memcpy(p, data, n);
	lines_commit(l, n);
	return 0;
}

ssize_t lines_read(struct lines *l, int fd, size_t block)
{
	size_t room;
	char *p;
	ssize_t got;

	if (block == 0 || block > LINES_MAX_BLOCK)
		return -EINVAL;
	p = lines_space(l, block, &room);
	if (!p)
		return -ENOMEM;
	do
		got = read(fd, p, block);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	if (got == 0)
		lines_finish(l);
	lines_commit(l, (size_t)got);
	return got;
}

void lines_finish(struct lines *l)
{
	l->finished = true;
}

void lines_take(struct lines *l, const char *block, size_t n)
{
	lines_take_indexed(l, block, n, NULL, 0, false);
}

void lines_take_indexed(struct lines *l, const char *block, size_t n, const uint32_t *nl, size_t nnl,
			bool all)
{
	l->blk = block;
	l->blk_pos = 0;
	l->blk_len = n;
	l->nls = nl;
	l->nnls = nnl;
	l->nls_pos = 0;
	l->nls_all = all;
}

/* The first '\n' of the block at or after pos, from the index where there is one. */
static const char *next_newline(struct lines *l, size_t pos)
{
	while (l->nls_pos < l->nnls && l->nls[l->nls_pos] < pos)
		l->nls_pos++;
	if (l->nls_pos < l->nnls)
		return l->blk + l->nls[l->nls_pos];
	if (l->nls_all)
		return NULL;
	size_t from = l->nnls && l->nls[l->nnls - 1] + (size_t)1 > pos ? l->nls[l->nnls - 1] + (size_t)1 : pos;
	return from < l->blk_len ? memchr(l->blk + from, '\n', l->blk_len - from) : NULL;
}

/* Appends n bytes of an unfinished line to the buffer, or starts dropping it. */
static int lines_keep(struct lines *l, const char *p, size_t n)
{
	size_t room;
	char *w;

	if (l->dropping)
		return 0;
	if (l->end - l->start + n > l->max_line) {
		l->dropping = true;
		l->start = l->scanned = l->end = 0;
		return 0;
	}
	if (!n)
		return 0;
	w = lines_space(l, n, &room);
	if (!w)
		return -ENOMEM;
	memcpy(w, p, n);
	lines_commit(l, n);
	return 0;
}

/* lines_next() for input handed over with lines_take(). */
static int lines_next_taken(struct lines *l, const char **ret_line, size_t *ret_len)
{
	const char *b = l->blk;
	size_t pos = l->blk_pos, left = l->blk_len - pos;
	const char *nl;

	if (l->joined_out) {
		/* the line put together last time has been used */
		l->start = l->scanned = l->end = 0;
		l->joined_out = false;
	}
	if (left) {
		nl = next_newline(l, pos);
		size_t len = nl ? (size_t)(nl - (b + pos)) : left;
		if (l->end > l->start || l->dropping) {
			/* the end of a line begun in an earlier block */
			if (lines_keep(l, b + pos, len) < 0)
				return -ENOMEM;
			l->blk_pos = pos + len + (nl != NULL);
			if (!nl)
				return 0;
			if (l->dropping) {
				l->dropping = false;
				return -E2BIG;
			}
			*ret_line = l->buf + l->start;
			*ret_len = l->end - l->start;
			l->joined_out = true;
			return 1;
		}
		if (nl) {
			l->blk_pos = pos + len + 1;
			if (len > l->max_line)
				return -E2BIG;
			*ret_line = b + pos;
			*ret_len = len;
			return 1;
		}
		/* an unfinished line at the block's end */
		l->blk_pos = l->blk_len;
		if (lines_keep(l, b + pos, len) < 0)
			return -ENOMEM;
	}
	if (!l->finished)
		return 0;
	if (l->dropping) {
		l->dropping = false;
		return -E2BIG;
	}
	if (l->end > l->start) {
		*ret_line = l->buf + l->start;
		*ret_len = l->end - l->start;
		l->joined_out = true;
		return 1;
	}
	return 0;
}

int lines_next(struct lines *l, const char **ret_line, size_t *ret_len)
{
	const char *nl = NULL;

	if (l->blk)
		return lines_next_taken(l, ret_line, ret_len);
	if (l->scanned < l->end)
		nl = memchr(l->buf + l->scanned, '\n', l->end - l->scanned);
	if (nl) {
		size_t at = (size_t)(nl - l->buf), len = at - l->start;
		size_t line = l->start;

		l->start = l->scanned = at + 1;
		if (l->dropping || len > l->max_line) {
			l->dropping = false;
			return -E2BIG;
		}
		*ret_line = l->buf + line;
		*ret_len = len;
		return 1;
	}
	l->scanned = l->end;
	if (!l->dropping && l->end - l->start > l->max_line)
		l->dropping = true;
	if (l->dropping) {
		/* keep nothing of a line that is too long */
		l->start = l->scanned = l->end = 0;
		if (l->finished) {
			l->dropping = false;
			return -E2BIG;
		}
		return 0;
	}
	if (l->finished && l->end > l->start) {
		*ret_line = l->buf + l->start;
		*ret_len = l->end - l->start;
		l->start = l->scanned = l->end;
		return 1;
	}
	return 0;
}
