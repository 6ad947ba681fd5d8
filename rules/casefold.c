/*
 * casefold.c — Unicode case folding of UTF-8, and EventBridge's
 * equals-ignore-case matching.
 *
 * casefold() is simple case folding. Two strings are equal under it iff
 * their folds are byte-equal, and a prefix or suffix is a prefix or suffix of
 * the folds. Folding maps each code point to one code point, so folds can be
 * compared piecewise and serve as index keys.
 *
 * ASCII is folded inline (A-Z to a-z). Every other code point c becomes
 * towlower(towupper(c)) under glibc's built-in C.UTF-8 locale, which carries
 * the full Unicode simple case mappings and covers code points outside the
 * BMP (Deseret U+10400 and U+10428 fold alike). Going through the upper case
 * first is what makes titlecase and variant forms meet: 'Ǆ', 'ǅ' and 'ǆ' all
 * fold to 'ǆ'; 'ẞ' (U+1E9E) and 'ß' fold to 'ß'; the final sigma 'ς' folds to
 * 'σ' like 'Σ' does, so "ΣΑΣ" equals "σας" (as in Unicode's CaseFolding.txt).
 * Where this differs from CaseFolding.txt it folds more, never less: the
 * dotted 'İ' (U+0130) and dotless 'ı' (U+0131) both fold to 'i', as do 'ſ'
 * (to 's') and the Kelvin sign (to 'k'). Folding is simple, not full: 'ß'
 * stays 'ß' and does not equal "ss" (see tests/unit/test_casefold.c).
 *
 * ic_match() is what equals-ignore-case means in EventBridge, which is not
 * an equivalence: each character c of the pattern matches, in the value,
 * exactly one of the strings c, lower(c) and upper(c), where lower and upper
 * are the full case mappings of c alone (Java's String.toLowerCase and
 * toUpperCase under Locale.ROOT). So pattern "straße" matches "STRASSE"
 * (upper("ß") is "SS") and "STRAßE", but not "strasse". The full mappings
 * that are longer than one code point come from casefold_special.h,
 * generated from Unicode's SpecialCasing by gen_casefold_special.py; all
 * others are towlower()/towupper(). Because one pattern character may match
 * strings of different lengths, matching is an alignment: the set of value
 * positions reachable after each pattern character is kept as a bitset and
 * advanced one pattern character at a time (right to left for a suffix), so
 * the cost is at most O(pattern length × value length) with no recursion,
 * and usually one position per step. ic_foldable() says when fold(pattern)
 * is an exact pre-filter for ic_match(), so the matcher can index by fold
 * and confirm with ic_match() only for the candidates.
 *
 * The locale is created once, lazily and thread-safely (pthread_once), and
 * lives for the process. If it cannot be created, non-ASCII text is copied
 * unchanged and only ASCII and the special table have case: matching
 * degrades rather than fails.
 *
 * Input is valid UTF-8 and may contain NUL bytes. A byte that does not start
 * a well-formed sequence is copied as it is (casefold) or matches only
 * itself (ic_match), so invalid input cannot overrun anything. The fold is
 * at most twice the input: ASCII stays one byte, and any other code point
 * takes at least two bytes in and at most four out.
 */
#include "value.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "casefold_special.h"

static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static locale_t fold_locale;

static void fold_locale_init(void)
{
	fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

size_t casefold_max_len(size_t n)
{
	return n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
}

/* Decodes one well-formed sequence at s[0..n); its length, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret)
{
	uint32_t c;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*ret = c;
	return len;
}

static size_t utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static uint32_t fold_code_point(uint32_t c, locale_t loc)
{
	wint_t f = towlower_l(towupper_l((wint_t)c, loc), loc);

	/* Never trust a mapping out of the Unicode scalar range. */
	if (f > 0x10ffff || (f >= 0xd800 && f <= 0xdfff))
		return c;
	return (uint32_t)f;
}

size_t casefold(const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	locale_t loc;
	size_t i = 0, o = 0;

	pthread_once(&fold_once, fold_locale_init);
	loc = fold_locale;
	while (i < n) {
		uint32_t c;
		size_t len;

		if (u[i] < 0x80) {
			out[o++] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + ('a' - 'A') : u[i]);
			i++;
			continue;
		}
		len = loc ? utf8_decode(u + i, n - i, &c) : 0;
		if (len == 0) {
			/* No locale, or not well-formed: copy the byte as it is. */
			out[o++] = s[i++];
			continue;
		}
		o += utf8_encode(fold_code_point(c, loc), out + o);
		i += len;
	}
	return o;
}

/* ------------------------------------------------------ equals-ignore-case */

/* Value positions ic_match() tracks on the stack; past this it allocates. */
#define IC_STACK_POSITIONS 8192u
#define IC_WORD_BITS 64u

/* A UTF-8 variant is one code point (4 bytes) or a special full mapping. */
#define IC_VARIANT_MAX (CASEFOLD_SPECIAL_MAX_LEN > 4 ? CASEFOLD_SPECIAL_MAX_LEN : 4)

/* The distinct strings one pattern character matches. */
struct ic_variants {
	size_t count;
	size_t len[3];
	char bytes[3][IC_VARIANT_MAX];
};

static const struct casefold_special *special_find(uint32_t c)
{
	size_t lo = 0, hi = CASEFOLD_SPECIAL_COUNT;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (casefold_special[mid].cp == c)
			return &casefold_special[mid];
		if (casefold_special[mid].cp < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool is_scalar(wint_t c)
{
	return c <= 0x10ffff && !(c >= 0xd800 && c <= 0xdfff);
}

/* The simple lowercase and uppercase of c; c itself where there is none. */
static void simple_cases(uint32_t c, locale_t loc, uint32_t *ret_lower, uint32_t *ret_upper)
{
	wint_t lo, up;

	*ret_lower = *ret_upper = c;
	if (c < 0x80) {
		if (c >= 'A' && c <= 'Z')
			*ret_lower = c + ('a' - 'A');
		else if (c >= 'a' && c <= 'z')
			*ret_upper = c - ('a' - 'A');
		return;
	}
	if (!loc)
		return;
	lo = towlower_l((wint_t)c, loc);
	up = towupper_l((wint_t)c, loc);
	if (is_scalar(lo))
		*ret_lower = (uint32_t)lo;
	if (is_scalar(up))
		*ret_upper = (uint32_t)up;
}

/*
 * Splits the character starting at s[0..n), n > 0: its length, with the
 * code point in *ret_c, or 1 with *ret_valid false for a byte that does not
 * start a well-formed sequence.
 */
static size_t char_at(const unsigned char *s, size_t n, uint32_t *ret_c, bool *ret_valid)
{
	size_t len;

	*ret_valid = true;
	if (s[0] < 0x80) {
		*ret_c = s[0];
		return 1;
	}
	len = utf8_decode(s, n, ret_c);
	if (len > 0)
		return len;
	*ret_valid = false;
	*ret_c = s[0];
	return 1;
}

/* The character ending at s[end], end > 0, as char_at() splits it when read forward. */
static size_t char_before(const unsigned char *s, size_t end, uint32_t *ret_c, bool *ret_valid)
{
	for (size_t k = 1; k <= 4 && k <= end; k++) {
		if ((s[end - k] & 0xc0) == 0x80)
			continue;
		if (char_at(s + end - k, k, ret_c, ret_valid) == k)
			return k;
		break;
	}
	*ret_valid = s[end - 1] < 0x80;
	*ret_c = s[end - 1];
	return 1;
}

static void variants_add(struct ic_variants *v, const char *bytes, size_t len)
{
	for (size_t i = 0; i < v->count; i++)
		if (v->len[i] == len && memcmp(v->bytes[i], bytes, len) == 0)
			return;
	memcpy(v->bytes[v->count], bytes, len);
	v->len[v->count++] = len;
}

/* The strings pattern character p[0..len) (code point c unless !valid) matches. */
static void variants_of(const unsigned char *p, size_t len, uint32_t c, bool valid, locale_t loc,
			struct ic_variants *ret)
{
	const struct casefold_special *sp;
	uint32_t lower, upper;
	char buf[4];

	ret->count = 0;
	variants_add(ret, (const char *)p, len);
	if (!valid)
		return;
	sp = c >= 0x80 ? special_find(c) : NULL;
	if (sp) {
		variants_add(ret, sp->lower, sp->lower_len);
		variants_add(ret, sp->upper, sp->upper_len);
		return;
	}
	simple_cases(c, loc, &lower, &upper);
	variants_add(ret, buf, utf8_encode(lower, buf));
	variants_add(ret, buf, utf8_encode(upper, buf));
}

/* Value positions reachable so far: bits of [lo, hi] may be set, none outside. */
struct ic_reach {
	uint64_t *bits;
	size_t lo, hi;
	bool empty;
};

static void reach_set(struct ic_reach *r, size_t pos)
{
	r->bits[pos / IC_WORD_BITS] |= (uint64_t)1 << (pos % IC_WORD_BITS);
	if (r->empty || pos < r->lo)
		r->lo = pos;
	if (r->empty || pos > r->hi)
		r->hi = pos;
	r->empty = false;
}

/*
 * Advances every position of cur over one pattern character into next
 * (forward: the variant starts at the position; backward: it ends there).
 * Leaves cur's bits all clear, so it can serve as the next step's next.
 */
static void reach_step(struct ic_reach *cur, struct ic_reach *next, const struct ic_variants *v,
		       const unsigned char *s, size_t n, bool backward)
{
	next->empty = true;
	if (cur->empty)
		return;
	for (size_t w = cur->lo / IC_WORD_BITS; w <= cur->hi / IC_WORD_BITS; w++) {
		uint64_t word = cur->bits[w];

		cur->bits[w] = 0;
		while (word) {
			size_t pos = w * IC_WORD_BITS + (size_t)__builtin_ctzll(word);

			word &= word - 1;
			for (size_t i = 0; i < v->count; i++) {
				size_t len = v->len[i];

				if (backward) {
					if (len <= pos && memcmp(s + pos - len, v->bytes[i], len) == 0)
						reach_set(next, pos - len);
				} else if (len <= n - pos && memcmp(s + pos, v->bytes[i], len) == 0) {
					reach_set(next, pos + len);
				}
			}
		}
	}
	cur->empty = true;
}

/* Whether pos is an end of s or s[pos] starts a character, so a match there splits none. */
static bool at_boundary(const unsigned char *s, size_t n, size_t pos)
{
	return pos == 0 || pos == n || (s[pos] & 0xc0) != 0x80;
}

bool ic_match(const char *pat, size_t plen, const char *s, size_t n, enum ic_mode mode)
{
	uint64_t stack[2 * (IC_STACK_POSITIONS / IC_WORD_BITS)];
	const unsigned char *p = (const unsigned char *)pat, *u = (const unsigned char *)s;
	bool backward = mode == IC_SUFFIX, matched = false;
	struct ic_reach a, b, *cur = &a, *next = &b;
	size_t words, done = 0;
	uint64_t *bits = stack;
	locale_t loc;

	if (plen == 0)
		return mode != IC_EQUALS || n == 0;
	if (n >= SIZE_MAX - IC_WORD_BITS)
		return false;
	words = n / IC_WORD_BITS + 1;
	if (words > IC_STACK_POSITIONS / IC_WORD_BITS) {
		if (words > SIZE_MAX / 2 / sizeof(*bits))
			return false;
		bits = malloc(2 * words * sizeof(*bits));
		if (!bits)
			return false;
	}
	memset(bits, 0, 2 * words * sizeof(*bits));
	a = (struct ic_reach){ .bits = bits, .empty = true };
	b = (struct ic_reach){ .bits = bits + words, .empty = true };
	reach_set(cur, backward ? n : 0);

	pthread_once(&fold_once, fold_locale_init);
	loc = fold_locale;
	while (done < plen && !cur->empty) {
		struct ic_variants v;
		struct ic_reach *t;
		uint32_t c;
		bool valid;
		size_t len;

		if (backward) {
			len = char_before(p, plen - done, &c, &valid);
			variants_of(p + plen - done - len, len, c, valid, loc, &v);
		} else {
			len = char_at(p + done, plen - done, &c, &valid);
			variants_of(p + done, len, c, valid, loc, &v);
		}
		done += len;
		reach_step(cur, next, &v, u, n, backward);
		t = cur;
		cur = next;
		next = t;
	}

	if (!cur->empty) {
		if (mode == IC_EQUALS) {
			matched = cur->hi == n;
		} else {
			/* A pattern of invalid bytes could end inside a character. */
			for (size_t pos = cur->lo; pos <= cur->hi && !matched; pos++)
				matched = ((cur->bits[pos / IC_WORD_BITS] >> (pos % IC_WORD_BITS)) & 1) &&
					  at_boundary(u, n, pos);
		}
	}
	if (bits != stack)
		free(bits);
	return matched;
}

bool ic_foldable(const char *pat, size_t plen)
{
	const unsigned char *p = (const unsigned char *)pat;
	locale_t loc;
	size_t i = 0;

	pthread_once(&fold_once, fold_locale_init);
	loc = fold_locale;
	while (i < plen) {
		uint32_t c, lower, upper, f;
		bool valid;

		i += char_at(p + i, plen - i, &c, &valid);
		if (!valid)
			return false;
		if (c < 0x80)
			continue;
		/* The special table applies even without a locale; fold() does not. */
		if (special_find(c))
			return false;
		if (!loc)
			continue;
		simple_cases(c, loc, &lower, &upper);
		f = fold_code_point(c, loc);
		if (fold_code_point(lower, loc) != f || fold_code_point(upper, loc) != f)
			return false;
	}
	return true;
}
