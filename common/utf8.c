/*
 * utf8.c — see utf8.h. One pass: ASCII is copied as it is, a lead byte is
 * checked with the JSON lexer's sequence validator, and a byte that fails
 * is replaced by U+FFFD (EF BF BD) and skipped alone, so the text after a
 * bad byte is kept.
 */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

#include "json_lex.h"

char *utf8_clean(const char *s, size_t n, size_t *ret_len)
{
	char *out = malloc(n * 3 + 1);
	const char *end = s + n;
	size_t o = 0;

	if (!out)
		return NULL;
	for (const char *p = s; p < end;) {
		unsigned char c = (unsigned char)*p;
		const char *next = c >= 0x80 ? json_lex_utf8(p, end) : c ? p + 1 : NULL;
		if (!next) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(out + o, p, (size_t)(next - p));
		o += (size_t)(next - p);
		p = next;
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}
