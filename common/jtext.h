/*
 * jtext.h — small tests on spans of text from a parsed JSON document (keys,
 * strings, raw number text), shared by the validators of rule files, the
 * configuration and task definitions. Spans are (pointer, length) and may
 * hold NUL bytes; literals are C strings.
 */
#ifndef TRIPLINE_COMMON_JTEXT_H
#define TRIPLINE_COMMON_JTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool jtext_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static inline bool jtext_is_alnum(char ch)
{
	return jtext_is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Every byte of s[0..n) is an ASCII letter or digit or one of extra. */
static inline bool jtext_chars_in(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		if (jtext_is_alnum(s[i]))
			continue;
		if (s[i] == '\0' || !strchr(extra, s[i]))
			return false;
	}
	return true;
}

static inline bool jtext_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static inline bool jtext_has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* s[0..n) equals one of the NULL-terminated list's literals. */
static inline bool jtext_in_list(const char *s, size_t n, const char *const *list)
{
	for (; list && *list; list++)
		if (jtext_eq(s, n, *list))
			return true;
	return false;
}

/*
 * Raw JSON number text that is an integer written as one (no fraction, no
 * exponent; JSON rules out leading zeros) within [lo, hi]: true and *ret.
 */
static inline bool jtext_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *ret)
{
	bool neg = false;
	int64_t v = 0;

	if (n && s[0] == '-') {
		neg = true;
		s++;
		n--;
	}
	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!jtext_is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (neg)
		v = -v;
	if (v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

#endif
