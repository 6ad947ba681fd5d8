/*
 * wildcard.c — EventBridge wildcard patterns: '*' matches any run of bytes.
 *
 * Compiling unescapes the pattern into literal segments separated by the
 * stars: "a*\*b*" becomes ["a", "*b", ""]. Escapes are "\*" (a literal star)
 * and "\\" (a literal backslash); any other escape, a trailing backslash and
 * two unescaped stars in a row are errors, reported with event-ruler's
 * position numbers: the byte offset of the offending backslash, or of the
 * first of the two stars, plus one (for "**" that is the second star's
 * offset). The pattern is scanned left to right and the first error wins.
 *
 * Matching is on bytes. With no star the value must equal the one segment.
 * Otherwise the first segment must be a prefix, the last a suffix, and the
 * segments in between must occur in order, non-overlapping, in what is left
 * between them. Taking the leftmost occurrence of each middle segment is
 * always right for '*'-only patterns (an earlier end leaves more room for
 * the rest), so there is no backtracking: each segment is found with one
 * memmem() over the remaining value, O(n * m) at worst and usually linear.
 */
#include "value.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wildcard_seg {
	size_t off, len;
};

struct wildcard {
	char *lit;                  /* unescaped literal bytes of all segments */
	size_t nseg;                /* number of stars + 1 */
	struct wildcard_seg seg[];
};

struct wildcard *wildcard_compile(const char *pat, size_t n, char *err, size_t errlen)
{
	struct wildcard *w;
	size_t nstars = 0, nlit = 0, cur;

	/* First pass: validate, and count stars for the allocation. */
	for (size_t i = 0; i < n; i++) {
		if (pat[i] == '\\') {
			if (i + 1 >= n || (pat[i + 1] != '*' && pat[i + 1] != '\\')) {
				snprintf(err, errlen, "Invalid escape character at pos %zu", i + 1);
				errno = EINVAL;
				return NULL;
			}
			i++;
		} else if (pat[i] == '*') {
			if (i + 1 < n && pat[i + 1] == '*') {
				snprintf(err, errlen, "Consecutive wildcard characters at pos %zu", i + 1);
				errno = EINVAL;
				return NULL;
			}
			nstars++;
		}
	}

	w = calloc(1, sizeof(*w) + (nstars + 1) * sizeof(w->seg[0]));
	if (!w)
		goto out_nomem;
	/* Unescaping only shrinks; +1 keeps malloc(0) out of the picture. */
	w->lit = malloc(n + 1);
	if (!w->lit)
		goto out_free;

	cur = 0;
	w->seg[0].off = 0;
	for (size_t i = 0; i < n; i++) {
		if (pat[i] == '\\') {
			w->lit[nlit++] = pat[++i];
		} else if (pat[i] == '*') {
			w->seg[cur].len = nlit - w->seg[cur].off;
			cur++;
			w->seg[cur].off = nlit;
		} else {
			w->lit[nlit++] = pat[i];
		}
	}
	w->seg[cur].len = nlit - w->seg[cur].off;
	w->nseg = nstars + 1;
	return w;

out_free:
	free(w);
out_nomem:
	snprintf(err, errlen, "Out of memory");
	errno = ENOMEM;
	return NULL;
}

bool wildcard_match(const struct wildcard *w, const char *s, size_t n)
{
	const struct wildcard_seg *first = &w->seg[0];
	const struct wildcard_seg *last = &w->seg[w->nseg - 1];
	size_t pos, end;

	/* memcmp() and memmem() want real pointers even for no bytes. */
	if (n == 0)
		s = "";
	if (w->nseg == 1)
		return n == first->len && memcmp(s, w->lit, n) == 0;
	if (first->len + last->len > n)
		return false;
	if (memcmp(s, w->lit + first->off, first->len) != 0)
		return false;
	if (memcmp(s + n - last->len, w->lit + last->off, last->len) != 0)
		return false;

	pos = first->len;
	end = n - last->len;
	for (size_t k = 1; k + 1 < w->nseg; k++) {
		const struct wildcard_seg *sg = &w->seg[k];
		const char *hit;

		if (sg->len == 0)
			continue;
		hit = memmem(s + pos, end - pos, w->lit + sg->off, sg->len);
		if (!hit)
			return false;
		pos = (size_t)(hit - s) + sg->len;
	}
	return true;
}

const char *wildcard_literal_prefix(const struct wildcard *w, size_t *ret_len)
{
	*ret_len = w->seg[0].len;
	return w->lit;
}

void wildcard_free(struct wildcard *w)
{
	if (!w)
		return;
	free(w->lit);
	free(w);
}
