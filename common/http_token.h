/*
 * http_token.h — the one test for HTTP header names (RFC 9110 §5.1: a
 * token of letters, digits and !#$%&'*+-.^_`|~), used wherever tripline
 * accepts a header name: rule targets' HeaderParameters, webhook
 * configuration, SigV4's SignedHeaders.
 */
#ifndef TRIPLINE_COMMON_HTTP_TOKEN_H
#define TRIPLINE_COMMON_HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* Longest header name tripline accepts (EventBridge's HeaderParameters
 * keys allow 512 characters). */
#define HTTP_HEADER_NAME_MAX 512u

static inline bool http_token_char(char ch)
{
	switch (ch) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
	}
}

/* s[0..n) is a header name: 1 to HTTP_HEADER_NAME_MAX token characters. */
static inline bool http_header_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > HTTP_HEADER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!http_token_char(s[i]))
			return false;
	return true;
}

#endif
