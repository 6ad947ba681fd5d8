/*
 * value.h — the primitives conditions are made of: typed literals, exact
 * decimal number keys, IP ranges, Unicode case folding, wildcards and the
 * PCRE2 wrapper. Each is pure code with no global state; each lives in its
 * own file (numkey.c, cidr.c, casefold.c, wildcard.c, regex.c).
 *
 * Errors for people (pattern validation) are written into a caller buffer
 * `err` of `errlen` bytes as a short sentence without a location; the
 * pattern parser adds the JSON pointer.
 */
#ifndef TRIPLINE_RULES_VALUE_H
#define TRIPLINE_RULES_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ numbers
 *
 * A numkey is an exact decimal value encoded so that memcmp() order is
 * numeric order and equal values (300, 3.0e2, 300.000) have equal keys. No
 * double is involved, so 1 and 1.0000000000000001 differ, as they do in
 * EventBridge. Numbers with more than NUMKEY_MAX_DIGITS significant digits
 * or a decimal exponent beyond ±NUMKEY_MAX_EXP have no key (-ERANGE): they
 * are then compared by their text only.
 */
#define NUMKEY_MAX_DIGITS 40
#define NUMKEY_MAX_EXP 100000
#define NUMKEY_MAX_BYTES (1 + 4 + NUMKEY_MAX_DIGITS + 1)

struct numkey {
	uint8_t len;
	uint8_t b[NUMKEY_MAX_BYTES];
};

/* text[0..n) must be a valid JSON number. 0, or -ERANGE (see above). */
int numkey_from_text(const char *text, size_t n, struct numkey *ret);
int numkey_cmp(const struct numkey *a, const struct numkey *b);
bool numkey_eq(const struct numkey *a, const struct numkey *b);

/*
 * EventBridge accepts a number operand in a pattern for numeric comparison
 * only when it is a finite double written exactly as that double's shortest
 * decimal form would be (by value: 0.1 and 1e-1 are fine; 5e-324, 1e400,
 * 12345678901234567890 and 4.99999999999999999999 are not).
 */
bool number_is_exact_double(const char *text, size_t n);
/* The same by its definition (printing and reading back): slow; for tests. */
bool number_is_exact_double_reference(const char *text, size_t n);

/* A numeric range; an absent bound is unbounded. Equality is lo == hi, both closed. */
struct numrange {
	bool has_lo, lo_open;
	bool has_hi, hi_open;
	struct numkey lo, hi;
	double lo_d, hi_d;    /* the same bounds as doubles (they are exact doubles) */
};

/*
 * The double nearest to the JSON number text[0..n), whatever the locale, for
 * numbers that can be exact doubles; -ERANGE for those that cannot (more than
 * 17 significant digits, or beyond the double range).
 */
int number_to_double(const char *text, size_t n, double *ret);
/*
 * A number of at most 17 significant digits, parsed once for both questions
 * above (the match path asks for the double first and, only when a range
 * would match, whether it is exact): w × 10^(exp - ndigits + 1).
 */
struct numparse {
	uint64_t w;
	int32_t exp;       /* decimal exponent of the first significant digit */
	int32_t ndigits;
	bool neg, zero;
};

/* 0, or -ERANGE for more than 17 significant digits or beyond the double range. */
int number_parse(const char *text, size_t n, struct numparse *ret);
int numparse_to_double(const struct numparse *p, double *ret);
/* number_is_exact_double() of the parsed text; x is its nearest double, or NAN
 * when not known yet. text is needed for the rare slow path. */
bool numparse_is_exact(const struct numparse *p, double x, const char *text, size_t n);

bool numrange_contains(const struct numrange *r, const struct numkey *k);

/* ----------------------------------------------------------------- literals */

enum literal_type {
	LIT_STRING,
	LIT_NUMBER,
	LIT_TRUE,
	LIT_FALSE,
	LIT_NULL,
};

/* A typed JSON scalar from a pattern. */
struct literal {
	enum literal_type type;
	char *text;        /* STRING: unescaped bytes; NUMBER: raw text; else NULL */
	size_t len;
	bool has_key;      /* NUMBER: key is valid (number_is_exact_double held) */
	bool exactly;      /* STRING from {"exactly": …}: bytes only, no IP-address equivalence */
	struct numkey key;
};

/* --------------------------------------------------------------------- cidr
 *
 * Addresses are held as 16 bytes: IPv4 in the first 4 (family 4), IPv6 in
 * all 16 (family 6). A range of one family never contains an address of the
 * other family.
 */
struct cidr {
	uint8_t family;    /* 4 or 6 */
	uint8_t lo[16];
	uint8_t hi[16];
};

/*
 * Parses "addr/bits" as EventBridge does: exactly one '/', bits an integer,
 * IPv4 bits < 32 and IPv6 bits < 128. 0 or -EINVAL with a reason in err.
 */
int cidr_parse(const char *s, size_t n, struct cidr *ret, char *err, size_t errlen);

/* Parses an IP address literal (dotted IPv4, or IPv6 incl. "::" and an
 * embedded IPv4 tail). Returns 4 or 6, or 0 when s is not an address. */
int ip_parse(const char *s, size_t n, uint8_t ret_addr[16]);

bool cidr_contains(const struct cidr *c, int family, const uint8_t addr[16]);

/* ------------------------------------------------------------- case folding
 *
 * equals-ignore-case is decided by ic_match(), as EventBridge defines it:
 * pattern-directed, each pattern character matching itself, its full
 * lowercase or its full uppercase (so "straße" matches "STRASSE" and
 * "STRAßE" but not "strasse"). casefold() is simple Unicode case folding
 * (so 'ǅ', 'ǆ' and 'Ǆ' are equal, and characters outside the BMP fold too),
 * usable as an index key for patterns that ic_foldable() accepts. It writes
 * the folded form of valid UTF-8 s[0..n) into out and returns its length;
 * out needs at most casefold_max_len(n) bytes.
 */
size_t casefold_max_len(size_t n);
size_t casefold(const char *s, size_t n, char *out);

enum ic_mode { IC_EQUALS, IC_PREFIX, IC_SUFFIX };

/* EventBridge's equals-ignore-case: true when s[0..n) matches pattern pat[0..plen) in mode
 * (both valid UTF-8): each pattern character c matches c itself, its full lowercase or its
 * full uppercase. IC_PREFIX matches the start of s, IC_SUFFIX its end. No allocation for
 * values under 8 KB; false if a larger one cannot get its buffer. */
bool ic_match(const char *pat, size_t plen, const char *s, size_t n, enum ic_mode mode);

/* True when fold(pat) can serve as an exact pre-filter for ic_match: for every character c
 * of pat, c, lower(c) and upper(c) are single characters that all fold to fold(c). Then
 * ic_match(pat, s) implies fold(s) == fold(pat) (IC_EQUALS), fold(s) starts with fold(pat)
 * (IC_PREFIX) or ends with it (IC_SUFFIX), and each pattern character lines up with exactly
 * one character of s. */
bool ic_foldable(const char *pat, size_t plen);

/* ----------------------------------------------------------------- wildcard
 *
 * EventBridge wildcards: '*' matches any run of characters (including none);
 * "\*" is a literal star and "\\" a literal backslash; any other escape, a
 * trailing backslash and two consecutive unescaped stars are errors.
 */
struct wildcard;

/* NULL with errno EINVAL (the reason in err) or ENOMEM. */
struct wildcard *wildcard_compile(const char *pat, size_t n, char *err, size_t errlen);
bool wildcard_match(const struct wildcard *w, const char *s, size_t n);
/* The literal text before the first '*', for index pre-filtering. */
const char *wildcard_literal_prefix(const struct wildcard *w, size_t *ret_len);
void wildcard_free(struct wildcard *w);

/* -------------------------------------------------------------------- regex
 *
 * tripline's {"regex": "…"}: an unanchored PCRE2 search with UTF and Unicode
 * properties on, JIT-compiled where the platform allows, and match and depth
 * limits so that no value can make matching slow. Only regex.c sees PCRE2.
 */
struct regex;
struct regex_scratch;  /* per-thread match state; one per matching thread */

#define REGEX_MATCH_LIMIT 100000u
#define REGEX_DEPTH_LIMIT 1000u

/* NULL on error, with PCRE2's message and the offset in err and errno set:
 * EINVAL for a bad pattern, ENOMEM when memory ran out. */
struct regex *regex_compile(const char *pat, size_t n, char *err, size_t errlen);
/* 1 match, 0 no match (a value that hits a limit does not match). */
int regex_match(const struct regex *re, const char *s, size_t n, struct regex_scratch *scratch);
void regex_free(struct regex *re);

struct regex_scratch *regex_scratch_new(void);
void regex_scratch_free(struct regex_scratch *s);

#endif
