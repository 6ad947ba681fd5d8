/*
 * json_lex.h — the lexical core of tripline's JSON grammar, shared by the
 * tree parser (json.c) and the event scanner (rules/scan.c).
 *
 * Everything here is static inline because it sits on the matching hot path:
 * the event scanner spends most of its time in json_lex_string() and
 * json_lex_skip(), and both must be as strict as a full parser (RFC 8259,
 * valid UTF-8, no control characters, no lone surrogates) while running at
 * memory speed. Strings are scanned 16 bytes at a time with SSE2 where the
 * compiler offers it; the fallback is a plain byte loop with the same result.
 *
 * Conventions: every function takes [p, end) and returns the position after
 * what it consumed, or NULL with *lx describing the error (position and a
 * static message). Nothing reads at or past `end`.
 */
#ifndef TRIPLINE_COMMON_JSON_LEX_H
#define TRIPLINE_COMMON_JSON_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct json_lexerr {
	const char *at;    /* where the error was detected */
	const char *msg;   /* static text */
	bool limit;        /* a limit (depth), not a syntax error */
};

static inline const char *json_lex_fail(struct json_lexerr *lx, const char *at, const char *msg)
{
	lx->at = at;
	lx->msg = msg;
	lx->limit = false;
	return NULL;
}

static inline const char *json_lex_ws(const char *p, const char *end)
{
	/* compact JSON has none: one test in the common case */
	if (p < end && (unsigned char)*p > ' ')
		return p;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/*
 * Validates one UTF-8 sequence whose lead byte (>= 0x80) is at p. Returns the
 * position after it, or NULL when it is malformed, overlong, a surrogate or
 * beyond U+10FFFF (the rules of RFC 3629, table 3-7 of Unicode).
 */
static inline const char *json_lex_utf8(const char *p, const char *end)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t left = (size_t)(end - p);
	unsigned char c = s[0];

	if (c >= 0xC2 && c <= 0xDF) {
		if (left < 2 || (s[1] & 0xC0) != 0x80)
			return NULL;
		return p + 2;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		if (left < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return NULL;
		return p + 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (left < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return NULL;
		return p + 4;
	}
	return NULL;
}

static inline int json_lex_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads the 4 hex digits of a \u escape at p (after "\u"); -1 when invalid. */
static inline int32_t json_lex_u4(const char *p, const char *end)
{
	if (end - p < 4)
		return -1;
	int a = json_lex_hex((unsigned char)p[0]), b = json_lex_hex((unsigned char)p[1]);
	int c = json_lex_hex((unsigned char)p[2]), d = json_lex_hex((unsigned char)p[3]);
	if ((a | b | c | d) < 0)
		return -1;
	return (int32_t)((a << 12) | (b << 8) | (c << 4) | d);
}

/*
 * Validates an escape sequence starting at the backslash p. Returns the
 * position after it. A high surrogate must be followed by a \u low surrogate
 * and a low surrogate may not stand alone.
 */
static inline const char *json_lex_escape(const char *p, const char *end, struct json_lexerr *lx)
{
	if (end - p < 2)
		return json_lex_fail(lx, p, "unterminated string");
	switch (p[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return p + 2;
	case 'u': {
		int32_t u = json_lex_u4(p + 2, end);
		if (u < 0)
			return json_lex_fail(lx, p, "invalid \\u escape");
		if (u >= 0xDC00 && u <= 0xDFFF)
			return json_lex_fail(lx, p, "lone low surrogate in \\u escape");
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
				return json_lex_fail(lx, p, "lone high surrogate in \\u escape");
			int32_t lo = json_lex_u4(p + 8, end);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return json_lex_fail(lx, p, "lone high surrogate in \\u escape");
			return p + 12;
		}
		return p + 6;
	}
	default:
		return json_lex_fail(lx, p, "invalid escape in string");
	}
}

/*
 * Scans a string body: p is just after the opening quote. Returns the
 * position after the closing quote; *ret_escaped tells whether the body holds
 * escapes (then it must be decoded with json_unescape() before use).
 */
static inline __attribute__((always_inline)) const char *json_lex_string(const char *p, const char *end, bool *ret_escaped,
					   struct json_lexerr *lx)
{
	bool escaped = false;

	for (;;) {
#ifdef __SSE2__
		const __m128i quote = _mm_set1_epi8('"');
		const __m128i bslash = _mm_set1_epi8('\\');
		const __m128i ctl = _mm_set1_epi8(0x20);
		while (end - p >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
			/* signed compare: bytes < 0x20 and bytes >= 0x80 both test "less" */
			__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
							      _mm_cmpeq_epi8(v, bslash)),
						 _mm_cmplt_epi8(v, ctl));
			unsigned mask = (unsigned)_mm_movemask_epi8(m);
			if (mask) {
				p += __builtin_ctz(mask);
				goto special;
			}
			p += 16;
		}
#endif
		while (p < end) {
			unsigned char c = (unsigned char)*p;
			if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
				goto special;
			p++;
		}
		return json_lex_fail(lx, p, "unterminated string");
special:
		switch (*p) {
		case '"':
			*ret_escaped = escaped;
			return p + 1;
		case '\\':
			escaped = true;
			p = json_lex_escape(p, end, lx);
			if (!p)
				return NULL;
			break;
		default:
			if ((unsigned char)*p < 0x20)
				return json_lex_fail(lx, p, "control character in string");
			{
				const char *q = json_lex_utf8(p, end);
				if (!q)
					return json_lex_fail(lx, p, "invalid UTF-8 in string");
				p = q;
			}
			break;
		}
	}
}

static inline bool json_lex_isdigit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* Skips a run of ASCII digits, 16 at a time where SSE2 is there. */
static inline const char *json_lex_digits(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i lo = _mm_set1_epi8('0' - 1), hi = _mm_set1_epi8('9' + 1);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
		unsigned mask = (unsigned)_mm_movemask_epi8(d) ^ 0xFFFFu;
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (p < end && json_lex_isdigit(*p))
		p++;
	return p;
}

/*
 * Scans a number at p: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * What follows is checked by the caller's grammar (so "01" fails there).
 */
static inline __attribute__((always_inline)) const char *json_lex_number(const char *p, const char *end, struct json_lexerr *lx)
{
	const char *start = p;

	if (p < end && *p == '-')
		p++;
	if (p >= end || !json_lex_isdigit(*p))
		return json_lex_fail(lx, start, "invalid number");
	if (*p == '0')
		p++;
	else
		p = json_lex_digits(p, end);
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !json_lex_isdigit(*p))
			return json_lex_fail(lx, start, "invalid number");
		p = json_lex_digits(p, end);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !json_lex_isdigit(*p))
			return json_lex_fail(lx, start, "invalid number");
		p = json_lex_digits(p, end);
	}
	return p;
}

/* Matches the literal word (true/false/null) at p. */
static inline const char *json_lex_word(const char *p, const char *end, const char *word,
					size_t n, struct json_lexerr *lx)
{
	if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
		return json_lex_fail(lx, p, "invalid literal");
	return p + n;
}

/*
 * Validates and skips one complete value at p (leading whitespace allowed).
 * depth_left bounds nesting below this point. Iterative: a small stack of
 * container kinds, so no recursion on hostile input.
 */
static inline bool json_lex_isws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline const char *json_lex_skip(const char *p, const char *end, uint32_t depth_left,
					struct json_lexerr *lx)
{
	/* bit i of stack: 1 = object at nesting level i */
	uint64_t stack[8] = {0};
	uint32_t sp = 0;
	bool esc;

	/*
	 * Each state tests for the byte it expects first and looks for
	 * whitespace only when that fails: compact JSON, the common case, then
	 * pays no whitespace test at all.
	 */
	if (depth_left > 8 * 64)
		depth_left = 8 * 64;
value:
	if (p >= end)
		return json_lex_fail(lx, p, "unexpected end of input");
	switch (*p) {
	case ' ':
	case '\n':
	case '\r':
	case '\t':
		p = json_lex_ws(p, end);
		goto value;
	case '{':
		if (sp >= depth_left) {
			json_lex_fail(lx, p, "nesting too deep");
			lx->limit = true;
			return NULL;
		}
		stack[sp >> 6] |= (uint64_t)1 << (sp & 63);
		sp++;
		p = json_lex_ws(p + 1, end);
		if (p < end && *p == '}') {
			sp--;
			p++;
			goto after;
		}
		goto key;
	case '[':
		if (sp >= depth_left) {
			json_lex_fail(lx, p, "nesting too deep");
			lx->limit = true;
			return NULL;
		}
		stack[sp >> 6] &= ~((uint64_t)1 << (sp & 63));
		sp++;
		p = json_lex_ws(p + 1, end);
		if (p < end && *p == ']') {
			sp--;
			p++;
			goto after;
		}
		goto value;
	case '"':
		p = json_lex_string(p + 1, end, &esc, lx);
		break;
	case 't':
		p = json_lex_word(p, end, "true", 4, lx);
		break;
	case 'f':
		p = json_lex_word(p, end, "false", 5, lx);
		break;
	case 'n':
		p = json_lex_word(p, end, "null", 4, lx);
		break;
	default:
		p = json_lex_number(p, end, lx);
		break;
	}
	if (!p)
		return NULL;
after:
	if (sp == 0)
		return p;
	if (p >= end)
		return json_lex_fail(lx, p, "unexpected end of input");
	if (stack[(sp - 1) >> 6] & ((uint64_t)1 << ((sp - 1) & 63))) {
		if (*p == ',') {
			p++;
			goto key;
		}
		if (*p == '}') {
			sp--;
			p++;
			goto after;
		}
		if (json_lex_isws(*p)) {
			p = json_lex_ws(p, end);
			goto after;
		}
		return json_lex_fail(lx, p, "expected ',' or '}' in object");
	}
	if (*p == ',') {
		p++;
		goto value;
	}
	if (*p == ']') {
		sp--;
		p++;
		goto after;
	}
	if (json_lex_isws(*p)) {
		p = json_lex_ws(p, end);
		goto after;
	}
	return json_lex_fail(lx, p, "expected ',' or ']' in array");
key:
	if (p < end && *p != '"' && json_lex_isws(*p))
		p = json_lex_ws(p, end);
	if (p >= end || *p != '"')
		return json_lex_fail(lx, p, "expected a string key in object");
	p = json_lex_string(p + 1, end, &esc, lx);
	if (!p)
		return NULL;
	if (p < end && *p != ':' && json_lex_isws(*p))
		p = json_lex_ws(p, end);
	if (p >= end || *p != ':')
		return json_lex_fail(lx, p, "expected ':' after object key");
	p++;
	goto value;
}

/*
 * Decodes a validated string body [p, end) (between the quotes) into out,
 * which needs at most end - p bytes (escapes never grow). Returns the
 * decoded length.
 */
static inline size_t json_unescape(const char *p, const char *end, char *out)
{
	char *o = out;

	while (p < end) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);
		memcpy(o, p, run);
		o += run;
		p += run;
		if (!bs)
			break;
		char c = p[1];
		p += 2;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t u = (uint32_t)json_lex_u4(p, end);
			p += 4;
			if (u >= 0xD800 && u <= 0xDBFF) {
				uint32_t lo = (uint32_t)json_lex_u4(p + 2, end);
				p += 6;
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (u < 0x80) {
				*o++ = (char)u;
			} else if (u < 0x800) {
				*o++ = (char)(0xC0 | (u >> 6));
				*o++ = (char)(0x80 | (u & 0x3F));
			} else if (u < 0x10000) {
				*o++ = (char)(0xE0 | (u >> 12));
				*o++ = (char)(0x80 | ((u >> 6) & 0x3F));
				*o++ = (char)(0x80 | (u & 0x3F));
			} else {
				*o++ = (char)(0xF0 | (u >> 18));
				*o++ = (char)(0x80 | ((u >> 12) & 0x3F));
				*o++ = (char)(0x80 | ((u >> 6) & 0x3F));
				*o++ = (char)(0x80 | (u & 0x3F));
			}
			break;
		}
		default: /* '"', '\\', '/' */
			*o++ = c;
			break;
		}
	}
	return (size_t)(o - out);
}

#endif
