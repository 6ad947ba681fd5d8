/*
 * test_casefold.c — simple Unicode case folding: the equalities it promises
 * (titlecase digraphs, sigma, sharp s, code points outside the BMP), NUL
 * bytes, length changes, and, over every code point, that the output fits
 * casefold_max_len(), is valid UTF-8 and folds to itself. Then EventBridge's
 * equals-ignore-case (ic_match): every equals-ignore-case case of
 * event-ruler-cases.jsonl, full case mappings ("straße" vs "STRASSE"),
 * alignments that a greedy match gets wrong, prefix and suffix, the empty
 * pattern, character boundaries, large and invalid input, and, over every
 * code point, that ic_foldable() makes fold() a pre-filter that loses no
 * match. The UTF-8 bytes of each code point come from a table written at
 * build time by Python's encoder, not from an encoder of our own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "../../rules/value.h"

struct folded {
	size_t len;
	char buf[256];
};

static struct folded fold_n(const char *s, size_t n)
{
	struct folded f;

	assert_true(casefold_max_len(n) <= sizeof(f.buf));
	memset(f.buf, 0x55, sizeof(f.buf));
	f.len = casefold(s, n, f.buf);
	assert_true(f.len <= casefold_max_len(n));
	return f;
}

static struct folded fold(const char *s)
{
	return fold_n(s, strlen(s));
}

static bool equal_ic(const char *a, const char *b)
{
	struct folded fa = fold(a), fb = fold(b);

	return fa.len == fb.len && memcmp(fa.buf, fb.buf, fa.len) == 0;
}

static bool prefix_ic(const char *prefix, const char *s)
{
	struct folded fp = fold(prefix), fs = fold(s);

	return fp.len <= fs.len && memcmp(fp.buf, fs.buf, fp.len) == 0;
}

static bool suffix_ic(const char *suffix, const char *s)
{
	struct folded fx = fold(suffix), fs = fold(s);

	return fx.len <= fs.len && memcmp(fx.buf, fs.buf + fs.len - fx.len, fx.len) == 0;
}

static void test_ascii(void **state)
{
	struct folded f = fold("Hello, World! 0123 [@`{]");

	(void)state;
	assert_int_equal(f.len, 24);
	assert_memory_equal(f.buf, "hello, world! 0123 [@`{]", 24);
	assert_true(equal_ic("aBc", "AbC"));
	assert_false(equal_ic("xyZ", "xyzz"));
	assert_false(equal_ic("abc", "abd"));
	assert_int_equal(fold("").len, 0);
}

static void test_nul_bytes(void **state)
{
	struct folded f = fold_n("A\0B\0\xc3\x89", 6);

	(void)state;
	assert_int_equal(f.len, 6);
	assert_memory_equal(f.buf, "a\0b\0\xc3\xa9", 6);
}

static void test_unicode_equalities(void **state)
{
	(void)state;
	/* Titlecase digraphs. */
	assert_true(equal_ic("Ǆ", "ǅ"));
	assert_true(equal_ic("ǅ", "ǆ"));
	assert_true(equal_ic("Ǆ", "ǆ"));
	/* Greek, including the final sigma. */
	assert_true(equal_ic("ΑΒΓ", "αβγ"));
	assert_true(equal_ic("ΣΑΣ", "σας"));
	assert_true(equal_ic("ς", "σ"));
	assert_true(equal_ic("ς", "Σ"));
	/* Outside the BMP: Deseret. */
	assert_true(equal_ic("𐐀", "𐐨"));
	assert_true(equal_ic("x𐐀y", "X𐐨Y"));
	assert_false(equal_ic("𐐀", "𐐁"));
	/* Capital sharp s. */
	assert_true(equal_ic("ẞ", "ß"));
	assert_true(equal_ic("STRAẞE", "straße"));
	/* Accents are not case. */
	assert_true(equal_ic("ÄÖÜ", "äöü"));
	assert_false(equal_ic("é", "e"));
	assert_false(equal_ic("É", "E"));
	/* Cherokee folds though its lowercase block is newer. */
	assert_true(equal_ic("Ꭰ", "ꭰ"));
	/* Folding more than CaseFolding.txt: dotted and dotless i, long s,
	 * Kelvin. */
	assert_true(equal_ic("İ", "i"));
	assert_true(equal_ic("ı", "I"));
	assert_true(equal_ic("ſ", "S"));
	assert_true(equal_ic("\u212a", "k"));
}

/* What folding says about the equals-ignore-case cases of
 * event-ruler-cases.jsonl. sup-eic-10 ("straße" vs "STRASSE", true there)
 * cannot hold together with sup-eic-11 ("straße" vs "strasse", false) for
 * any fold applied to both sides, since "STRASSE" and "strasse" must fold
 * alike; simple folding keeps ß distinct from "ss", so here both are
 * unequal, and ic_match() decides (test_ic_conformance). */
static void test_conformance(void **state)
{
	(void)state;
	assert_true(prefix_ic("ÉT", "été"));      /* sup-prefix-eic-04 */
	assert_true(suffix_ic("TÉ", "été"));      /* sup-suffix-eic-04 */
	assert_true(equal_ic("ÄÖÜ", "äöü"));      /* sup-eic-05 */
	assert_true(equal_ic("ΑΒΓ", "αβγ"));      /* sup-eic-06 */
	assert_false(equal_ic("straße", "strasse")); /* sup-eic-11 */
	assert_true(equal_ic("straße", "STRAßE"));   /* sup-eic-12 */
	assert_false(equal_ic("straße", "STRASSE")); /* sup-eic-10: see above */
	/* ASCII ones. */
	assert_true(suffix_ic("eper", "zookeePer"));
	assert_false(suffix_ic("hood", "zookeePer"));
	assert_true(suffix_ic("hood", "childhOoD"));
	assert_true(prefix_ic("RuNn", "running"));
	assert_true(prefix_ic("VIeW", "View from 15th Floor"));
	assert_false(prefix_ic("child", "Zoo"));
	assert_true(equal_ic("CamelCase", "camelcase"));
}

static void test_length_changes(void **state)
{
	struct folded f;

	(void)state;
	/* U+023A (2 bytes) folds to U+2C65 (3 bytes). */
	f = fold("\xc8\xba");
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.buf, "\xe2\xb1\xa5", 3);
	assert_true(casefold_max_len(2) >= 3);
	/* Kelvin sign (3 bytes) folds to 'k'. */
	f = fold("\xe2\x84\xaa");
	assert_int_equal(f.len, 1);
	assert_memory_equal(f.buf, "k", 1);
	/* Many growing characters in a row still fit. */
	{
		char in[200];
		size_t n = 0;

		while (n + 2 <= 80) {
			in[n++] = '\xc8';
			in[n++] = '\xba';
		}
		f = fold_n(in, n);
		assert_int_equal(f.len, n / 2 * 3);
	}
	assert_int_equal(casefold_max_len(0), 0);
	assert_int_equal(casefold_max_len(SIZE_MAX), SIZE_MAX);
}

static void test_invalid_bytes_copied(void **state)
{
	struct folded f = fold_n("\xff\xfe" "A\xc3" "B\xed\xa0\x80", 8);

	(void)state;
	assert_int_equal(f.len, 8);
	assert_memory_equal(f.buf, "\xff\xfe" "a\xc3" "b\xed\xa0\x80", 8);
}

/*
 * The UTF-8 encoding of every code point, from an independent source: the
 * table that Python's encoder writes at build time (tests/support/
 * utf8_table.py; CASEFOLD_UTF8_TABLE names it). Record c, 5 bytes at 5*c:
 * the length (0 for a surrogate), then the bytes.
 */
#define UTF8_RECORD 5
#define UTF8_CODE_POINTS 0x110000u

static unsigned char *utf8_table;

static int load_utf8_table(void **state)
{
	FILE *f = fopen(CASEFOLD_UTF8_TABLE, "rb");
	size_t want = (size_t)UTF8_CODE_POINTS * UTF8_RECORD;

	(void)state;
	if (!f) {
		print_error("cannot open %s\n", CASEFOLD_UTF8_TABLE);
		return -1;
	}
	utf8_table = malloc(want + 1);
	if (!utf8_table || fread(utf8_table, 1, want + 1, f) != want) {
		print_error("%s: not %zu bytes\n", CASEFOLD_UTF8_TABLE, want);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int free_utf8_table(void **state)
{
	(void)state;
	free(utf8_table);
	utf8_table = NULL;
	return 0;
}

/* Copies the encoding of code point c into out; its length (0: a surrogate). */
static size_t encode(uint32_t c, char *out)
{
	const unsigned char *r;

	assert_true(c < UTF8_CODE_POINTS);
	r = utf8_table + (size_t)c * UTF8_RECORD;
	assert_true(r[0] <= 4);
	memcpy(out, r + 1, r[0]);
	return r[0];
}

/* Is s[0..n) exactly one character: the encoding of some code point? The
 * lead byte names the code point's range; the table has the answer. */
static bool one_char(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c = 0;
	char want[4];

	if (n < 1 || n > 4)
		return false;
	/* the code point these bytes would be, if well formed */
	c = n == 1 ? u[0] : n == 2 ? u[0] & 0x1fu : n == 3 ? u[0] & 0x0fu : u[0] & 0x07u;
	for (size_t i = 1; i < n; i++)
		c = c << 6 | (u[i] & 0x3fu);
	if (c >= UTF8_CODE_POINTS)
		return false;
	return encode(c, want) == n && memcmp(want, s, n) == 0;
}

static void test_every_code_point(void **state)
{
	size_t changed = 0;

	(void)state;
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		char in[4], once[8], twice[8];
		size_t n, n1, n2;

		n = encode(c, in);
		if (n == 0) {
			assert_true(c >= 0xd800 && c <= 0xdfff);   /* only surrogates have none */
			continue;
		}
		n1 = casefold(in, n, once);
		if (n1 > casefold_max_len(n) || !one_char(once, n1))
			fail_msg("U+%04X folds to a bad sequence", (unsigned)c);
		n2 = casefold(once, n1, twice);
		if (n2 != n1 || memcmp(once, twice, n1) != 0)
			fail_msg("U+%04X: folding is not idempotent", (unsigned)c);
		changed += n1 != n || memcmp(in, once, n) != 0;
	}
	/* Not silently ASCII-only: well over a thousand code points fold. */
	assert_true(changed > 1000);
}

/* ------------------------------------------------------ equals-ignore-case */

static bool ic(const char *pat, const char *s, enum ic_mode mode)
{
	return ic_match(pat, strlen(pat), s, strlen(s), mode);
}

static bool ic_eq(const char *pat, const char *s)
{
	return ic(pat, s, IC_EQUALS);
}

static bool foldable(const char *pat)
{
	return ic_foldable(pat, strlen(pat));
}

/* Every sup-eic, sup-prefix-eic, sup-suffix-eic and sup-anything-but-eic
 * case. sup-eic-07 ("5" vs the number 5), sup-eic-08 ("true" vs true) and
 * sup-prefix-eic-05 ("ab" vs 12) are decided by the value not being a
 * string, before ic_match() is asked. */
static void test_ic_conformance(void **state)
{
	(void)state;
	assert_true(ic("EC2", "ec2.amazonaws.com", IC_PREFIX));   /* sup-prefix-eic-01 */
	assert_true(ic("EC2", "Ec2", IC_PREFIX));                 /* sup-prefix-eic-02 */
	assert_false(ic("EC2", "aws.ec2", IC_PREFIX));            /* sup-prefix-eic-03 */
	assert_true(ic("ÉT", "été", IC_PREFIX));                  /* sup-prefix-eic-04 */
	assert_true(ic("EC2", "aws.ec2", IC_SUFFIX));             /* sup-suffix-eic-01 */
	assert_true(ic("EC2", "aws.eC2", IC_SUFFIX));             /* sup-suffix-eic-02 */
	assert_false(ic("EC2", "ec2.aws", IC_SUFFIX));            /* sup-suffix-eic-03 */
	assert_true(ic("TÉ", "été", IC_SUFFIX));                  /* sup-suffix-eic-04 */
	assert_true(ic_eq("EC2", "ec2"));                         /* sup-eic-01 */
	assert_true(ic_eq("EC2", "eC2"));                         /* sup-eic-02 */
	assert_false(ic_eq("EC2", "ec22"));                       /* sup-eic-03 */
	assert_false(ic_eq("EC2", "ec"));                         /* sup-eic-04 */
	assert_true(ic_eq("ÄÖÜ", "äöü"));                         /* sup-eic-05 */
	assert_true(ic_eq("ΑΒΓ", "αβγ"));                         /* sup-eic-06 */
	assert_true(ic_eq("", ""));                               /* sup-eic-09 */
	assert_true(ic_eq("straße", "STRASSE"));                  /* sup-eic-10 */
	assert_false(ic_eq("straße", "strasse"));                 /* sup-eic-11 */
	assert_true(ic_eq("straße", "STRAßE"));                   /* sup-eic-12 */
	/* anything-but: matches when no listed pattern matches. */
	assert_false(!ic_eq("Stopped", "STOPPED"));               /* sup-anything-but-eic-01 */
	assert_true(!ic_eq("Stopped", "stopped!"));               /* sup-anything-but-eic-02 */
	assert_false(!(ic_eq("Stopped", "overloaded") ||
		       ic_eq("OverLoaded", "overloaded")));       /* sup-anything-but-eic-03 */
	assert_true(!(ic_eq("Stopped", "running") ||
		      ic_eq("OverLoaded", "running")));           /* sup-anything-but-eic-04 */
}

static void test_ic_full_mappings(void **state)
{
	(void)state;
	/* ß: itself, or its uppercase "SS"; never "ss" (its lowercase is ß). */
	assert_true(ic_eq("ß", "ß"));
	assert_true(ic_eq("ß", "SS"));
	assert_false(ic_eq("ß", "ss"));
	assert_false(ic_eq("ß", "Ss"));
	assert_false(ic_eq("ß", "S"));
	assert_false(ic_eq("ß", "ẞ"));       /* upper("ß") is "SS", not U+1E9E */
	assert_true(ic_eq("ẞ", "ß"));        /* lower(U+1E9E) is ß */
	assert_false(ic_eq("ẞ", "SS"));
	assert_true(ic_eq("STRASSE", "strasse"));
	assert_false(ic_eq("STRASSE", "straße"));  /* the pattern directs */
	/* Ligatures, İ, ŉ and Greek with iota subscript. */
	assert_true(ic_eq("ﬁ", "FI"));
	assert_true(ic_eq("ﬁ", "ﬁ"));
	assert_false(ic_eq("ﬁ", "fi"));
	assert_true(ic_eq("ﬃx", "FFIX"));
	assert_true(ic_eq("İ", "i\u0307"));
	assert_true(ic_eq("İ", "İ"));
	assert_false(ic_eq("İ", "i"));
	assert_true(ic_eq("ŉ", "\u02bcN"));
	assert_true(ic_eq("ΐ", "\u0399\u0308\u0301"));
	assert_true(ic_eq("ᾳ", "ΑΙ"));
	assert_true(ic_eq("ᾼ", "ᾳ"));
	assert_true(ic_eq("ᾼ", "ΑΙ"));
	/* Simple mappings: titlecase digraphs match themselves too; sigma;
	 * length changes; outside the BMP. */
	assert_true(ic_eq("ǅ", "ǅ"));
	assert_true(ic_eq("ǅ", "ǆ"));
	assert_true(ic_eq("ǅ", "Ǆ"));
	assert_true(ic_eq("Σ", "σ"));
	assert_true(ic_eq("ς", "Σ"));
	assert_true(ic_eq("Ⱥ", "ⱥ"));
	assert_true(ic_eq("ⱥ", "Ⱥ"));
	assert_true(ic_eq("x𐐀y", "X𐐨Y"));
	assert_false(ic_eq("é", "e"));
	/* Kelvin sign: its lowercase is k, but k does not lead back to it. */
	assert_true(ic_eq("\u212a", "k"));
	assert_false(ic_eq("k", "\u212a"));
}

/* A multi-character variant makes the value and the pattern advance at
 * different rates: matching value characters one by one against pattern
 * characters (or taking the first variant that fits) gets these wrong. */
static void test_ic_alignment(void **state)
{
	(void)state;
	assert_true(ic_eq("ßs", "SSS"));      /* ß→SS, s→S */
	assert_true(ic_eq("ßs", "SSs"));
	assert_true(ic_eq("sß", "sSS"));
	assert_true(ic_eq("ßß", "SSß"));
	assert_true(ic_eq("ßß", "ßSS"));
	assert_false(ic_eq("ßs", "SS"));
	assert_false(ic_eq("ßs", "SSSS"));
	assert_false(ic_eq("ss", "ß"));
	assert_false(ic_eq("sss", "ßs"));
	assert_true(ic_eq("ﬁﬁ", "FIﬁ"));
	assert_false(ic_eq("ﬁﬁ", "FIF"));
}

static void test_ic_prefix_suffix(void **state)
{
	(void)state;
	assert_true(ic("ß", "SSx", IC_PREFIX));
	assert_true(ic("ß", "ßx", IC_PREFIX));
	assert_false(ic("ß", "Sx", IC_PREFIX));
	assert_false(ic("ß", "ssx", IC_PREFIX));
	assert_true(ic("straß", "STRASSE", IC_PREFIX));
	assert_true(ic("ßs", "SSSx", IC_PREFIX));
	assert_true(ic("ﬁ", "FIRE", IC_PREFIX));
	assert_false(ic("ﬁ", "F", IC_PREFIX));
	assert_true(ic("ße", "STRASSE", IC_SUFFIX));
	assert_true(ic("ß", "aSS", IC_SUFFIX));
	assert_false(ic("ß", "aSs", IC_SUFFIX));
	assert_true(ic("ßs", "xSSS", IC_SUFFIX));
	assert_true(ic("ßs", "SSS", IC_SUFFIX));
	assert_false(ic("ßs", "SS", IC_SUFFIX));
	assert_true(ic("ﬁ", "xFI", IC_SUFFIX));
	assert_true(ic("Ⱥ", "xⱥ", IC_SUFFIX));
	assert_true(ic("ΐ", "x\u0399\u0308\u0301", IC_SUFFIX));
	/* Longer than the value. */
	assert_false(ic("abc", "ab", IC_PREFIX));
	assert_false(ic("abc", "bc", IC_SUFFIX));
	assert_true(ic("AbC", "abc", IC_PREFIX));
	assert_true(ic("AbC", "abc", IC_SUFFIX));
}

static void test_ic_empty(void **state)
{
	(void)state;
	assert_true(ic_eq("", ""));
	assert_false(ic_eq("", "a"));
	assert_false(ic_eq("a", ""));
	assert_true(ic("", "", IC_PREFIX));
	assert_true(ic("", "abc", IC_PREFIX));
	assert_true(ic("", "", IC_SUFFIX));
	assert_true(ic("", "abc", IC_SUFFIX));
	assert_false(ic("a", "", IC_PREFIX));
	assert_false(ic("a", "", IC_SUFFIX));
	assert_true(ic_match(NULL, 0, NULL, 0, IC_EQUALS));
	assert_true(foldable(""));
}

/* A match never starts or ends inside a character of the value. */
static void test_ic_boundaries(void **state)
{
	(void)state;
	assert_true(ic("é", "été", IC_PREFIX));
	assert_false(ic("e", "été", IC_PREFIX));
	assert_false(ic("e", "é", IC_SUFFIX));
	/* NUL bytes are characters. */
	assert_true(ic_match("A\0b", 3, "a\0B", 3, IC_EQUALS));
	assert_false(ic_match("A\0b", 3, "a\0", 2, IC_EQUALS));
	/* A value cut inside a character. */
	assert_false(ic_match("é", 2, "é", 1, IC_PREFIX));
	assert_false(ic_match("é", 2, "é", 1, IC_EQUALS));
	assert_false(ic_match("e", 1, "e\xcc", 2, IC_EQUALS));
	/* A pattern cut inside a character: its bytes match only themselves,
	 * and not where that would split a character of the value. */
	assert_false(ic_match("é", 1, "été", strlen("été"), IC_PREFIX));
	assert_false(ic_match("\xa9", 1, "été", strlen("été"), IC_SUFFIX));
	assert_true(ic_match("\xc3", 1, "\xc3", 1, IC_EQUALS));
	assert_false(ic_match("\xc3", 1, "\xc3\x89", 2, IC_PREFIX));
	assert_false(foldable("\xc3"));
	assert_false(foldable("a\xff"));
}

/* Values past the stack buffer, and long patterns. */
static void test_ic_large(void **state)
{
	size_t n = 50000;
	char *pat = malloc(n), *val = malloc(n + 2);

	(void)state;
	assert_non_null(pat);
	assert_non_null(val);
	memset(pat, 'a', n);
	memset(val, 'A', n);
	assert_true(ic_match(pat, n, val, n, IC_EQUALS));
	assert_true(ic_match(pat, n - 1, val, n, IC_PREFIX));
	assert_true(ic_match(pat, n - 1, val, n, IC_SUFFIX));
	assert_false(ic_match(pat, n - 1, val, n, IC_EQUALS));
	assert_false(ic_match(pat, n, val, n - 1, IC_EQUALS));
	memcpy(val + n, "SS", 2);
	assert_true(ic_match("aß", strlen("aß"), val, n + 2, IC_SUFFIX));
	assert_false(ic_match("aß", strlen("aß"), val, n + 2, IC_PREFIX));
	val[0] = 'b';
	assert_false(ic_match(pat, n, val, n, IC_EQUALS));
	assert_true(ic_match("B", 1, val, n + 2, IC_PREFIX));
	free(pat);
	free(val);
}

/* Arbitrary bytes, valid or not: no overrun (the sanitizers watch), and a
 * string always matches itself, as it does when it is valid. */
static void test_ic_arbitrary_bytes(void **state)
{
	uint32_t seed = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		unsigned char buf[24];
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Mostly bytes that make up sequences, so some are valid. */
			buf[i] = (unsigned char)(seed >> 24);
		}
		assert_true(ic_match((const char *)buf, n, (const char *)buf, n, IC_EQUALS));
		assert_true(ic_match((const char *)buf, n, (const char *)buf, n, IC_PREFIX));
		assert_true(ic_match((const char *)buf, n, (const char *)buf, n, IC_SUFFIX));
		if (n > 1) {
			(void)ic_match((const char *)buf, n / 2, (const char *)buf + 1, n - 1, IC_PREFIX);
			(void)ic_match((const char *)buf + n / 2, n - n / 2, (const char *)buf, n - 1, IC_SUFFIX);
			(void)ic_foldable((const char *)buf, n);
		}
	}
}

static void test_ic_foldable(void **state)
{
	(void)state;
	assert_true(foldable("EC2"));
	assert_true(foldable("ÄÖÜ"));
	assert_true(foldable("ΑΒΓ"));
	assert_true(foldable("ǅ"));
	assert_true(foldable("x𐐀y"));
	assert_false(foldable("straße"));
	assert_false(foldable("ﬁ"));
	assert_false(foldable("İ"));
	assert_false(foldable("ᾳ"));
}

/* Folds of single code points, compared as strings. */
static bool fold_equal(const char *a, size_t na, const char *b, size_t nb)
{
	char fa[8], fb[8];
	size_t la = casefold(a, na, fa), lb = casefold(b, nb, fb);

	return la == lb && memcmp(fa, fb, la) == 0;
}

/*
 * Over every code point c: ic_match(c, c) in each mode; and wherever
 * ic_foldable(c) holds, c's simple lowercase and uppercase (towlower_l and
 * towupper_l under C.UTF-8, as ic_match() takes them) are matched by c and
 * fold as c does, so indexing by fold never loses a match.
 */
static void test_ic_every_code_point(void **state)
{
	locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	size_t foldable_count = 0, cased = 0, not_foldable = 0;

	(void)state;
	assert_non_null(loc);
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		char in[4], lo[4], up[4];
		size_t n, nl, nu;
		wint_t l, u;

		n = encode(c, in);
		if (n == 0)
			continue;   /* a surrogate */
		if (!ic_match(in, n, in, n, IC_EQUALS) || !ic_match(in, n, in, n, IC_PREFIX) ||
		    !ic_match(in, n, in, n, IC_SUFFIX))
			fail_msg("U+%04X does not match itself", (unsigned)c);
		if (!ic_foldable(in, n)) {
			not_foldable++;
			continue;
		}
		foldable_count++;
		l = towlower_l((wint_t)c, loc);
		u = towupper_l((wint_t)c, loc);
		nl = encode((uint32_t)l, lo);
		nu = encode((uint32_t)u, up);
		assert_true(nl > 0 && nu > 0);
		if (!ic_match(in, n, lo, nl, IC_EQUALS) || !ic_match(in, n, up, nu, IC_EQUALS))
			fail_msg("U+%04X does not match its lower or upper case", (unsigned)c);
		if (!fold_equal(in, n, lo, nl) || !fold_equal(in, n, up, nu))
			fail_msg("U+%04X is foldable but its cases fold apart", (unsigned)c);
		cased += l != (wint_t)c || u != (wint_t)c;
	}
	freelocale(loc);
	/* Not vacuous: case is widespread among foldable code points, and the
	 * special table (103 code points in Unicode 14) is excluded. */
	assert_true(cased > 2000);
	assert_true(not_foldable >= 100);
	assert_true(foldable_count > 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_unicode_equalities),
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_length_changes),
		cmocka_unit_test(test_invalid_bytes_copied),
		cmocka_unit_test(test_every_code_point),
		cmocka_unit_test(test_ic_conformance),
		cmocka_unit_test(test_ic_full_mappings),
		cmocka_unit_test(test_ic_alignment),
		cmocka_unit_test(test_ic_prefix_suffix),
		cmocka_unit_test(test_ic_empty),
		cmocka_unit_test(test_ic_boundaries),
		cmocka_unit_test(test_ic_large),
		cmocka_unit_test(test_ic_arbitrary_bytes),
		cmocka_unit_test(test_ic_foldable),
		cmocka_unit_test(test_ic_every_code_point),
	};

	return cmocka_run_group_tests(tests, load_utf8_table, free_utf8_table);
}
