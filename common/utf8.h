/*
 * utf8.h — text that must travel as a JSON string made valid UTF-8: every
 * byte that does not start a well-formed sequence (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), and NUL, becomes U+FFFD.
 * Used for container logs and for messages that quote what a client sent.
 * Validation is json_lex.h's, so "valid" means what the JSON reader accepts.
 */
#ifndef TRIPLINE_COMMON_UTF8_H
#define TRIPLINE_COMMON_UTF8_H

#include <stddef.h>

/* A malloc'd, NUL-terminated clean copy of s[0..n) (*ret_len excludes the
 * NUL; it is at most 3n), or NULL when out of memory. */
char *utf8_clean(const char *s, size_t n, size_t *ret_len);

#endif
