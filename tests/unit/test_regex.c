/*
 * test_regex.c — the PCRE2 wrapper: unanchored search, UTF and Unicode
 * properties, compile errors with offsets, refused constructs, and that
 * the match and depth limits turn catastrophic backtracking into a quick
 * "no match" with the JIT and with the interpreter alike.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../rules/value.h"

static struct regex_scratch *scratch;

static int setup(void **state)
{
	(void)state;
	scratch = regex_scratch_new();
	return scratch ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	regex_scratch_free(scratch);
	return 0;
}

static struct regex *compile(const char *pat)
{
	char err[256] = "";
	struct regex *re = regex_compile(pat, strlen(pat), err, sizeof(err));

	if (!re)
		fail_msg("regex_compile(\"%s\"): %s", pat, err);
	return re;
}

static int match(const char *pat, const char *s)
{
	struct regex *re = compile(pat);
	int r = regex_match(re, s, strlen(s), scratch);

	regex_free(re);
	return r;
}

static void test_unanchored(void **state)
{
	(void)state;
	assert_int_equal(match("b", "abc"), 1);
	assert_int_equal(match("^b", "abc"), 0);
	assert_int_equal(match("c$", "abc"), 1);
	assert_int_equal(match("^abc$", "abc"), 1);
	assert_int_equal(match("^abc$", "abcd"), 0);
	assert_int_equal(match("x", "abc"), 0);
	assert_int_equal(match("", ""), 1);
	assert_int_equal(match("", "anything"), 1);
	assert_int_equal(match("a|b", "zzb"), 1);
	/* Many groups still count as a match with one-pair match data. */
	assert_int_equal(match("(a)(b)(c)(d)", "xabcdx"), 1);
}

static void test_unicode(void **state)
{
	(void)state;
	assert_int_equal(match("^\\p{Lu}", "Élan"), 1);
	assert_int_equal(match("^\\p{Lu}", "élan"), 0);
	assert_int_equal(match("^\\p{Greek}+$", "αβγ"), 1);
	/* UCP: \w and \d follow Unicode. */
	assert_int_equal(match("^\\w+$", "日本語"), 1);
	assert_int_equal(match("^\\w$", "é"), 1);
	assert_int_equal(match("^\\d$", "٣"), 1);
	/* UTF: '.' is one character, not one byte. */
	assert_int_equal(match("^.$", "é"), 1);
	assert_int_equal(match("^.$", "𐐀"), 1);
	assert_int_equal(match("^..$", "é"), 0);
	/* Caseless matching is Unicode-aware. */
	assert_int_equal(match("(?i)^élan$", "ÉLAN"), 1);
}

static void test_bytes_with_nul(void **state)
{
	char err[64];
	struct regex *re = regex_compile("a\0b", 3, err, sizeof(err));

	(void)state;
	assert_non_null(re);
	assert_int_equal(regex_match(re, "xa\0by", 5, scratch), 1);
	assert_int_equal(regex_match(re, "xaby", 4, scratch), 0);
	/* Only n bytes of the value are looked at. */
	assert_int_equal(regex_match(re, "a\0b", 2, scratch), 0);
	regex_free(re);

	re = compile("^$");
	assert_int_equal(regex_match(re, NULL, 0, scratch), 1);
	regex_free(re);
}

static void test_compile_errors(void **state)
{
	char err[256];

	(void)state;
	assert_null(regex_compile("a(", 2, err, sizeof(err)));
	assert_string_equal(err, "missing closing parenthesis at offset 2");
	assert_null(regex_compile("a)", 2, err, sizeof(err)));
	assert_non_null(strstr(err, " at offset 1"));
	assert_null(regex_compile("[z-a]", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "range out of order"));
	assert_non_null(strstr(err, " at offset 3"));
	/* \C could split a UTF-8 character: refused. */
	assert_null(regex_compile("a\\Cb", 4, err, sizeof(err)));
	assert_non_null(strstr(err, "\\C"));
	/* The pattern itself must be UTF-8. */
	assert_null(regex_compile("\xff", 1, err, sizeof(err)));
	assert_non_null(strstr(err, "UTF-8"));
	/* A small buffer truncates, it does not overflow. */
	memset(err, 'Z', sizeof(err));
	assert_null(regex_compile("a(", 2, err, 8));
	assert_string_equal(err, "missing");
}

static void test_pattern_length_limit(void **state)
{
	enum { N = 100000 };
	char *pat = malloc(N);
	char err[256];

	(void)state;
	assert_non_null(pat);
	memset(pat, 'a', N);
	assert_null(regex_compile(pat, N, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than the limit"));
	/* A sensible length is fine. */
	{
		struct regex *re = regex_compile(pat, 1000, err, sizeof(err));

		assert_non_null(re);
		assert_int_equal(regex_match(re, pat, N, scratch), 1);
		regex_free(re);
	}
	free(pat);
}

static void check_catastrophic(const char *pat)
{
	enum { N = 50000 };
	char *s = malloc(N + 2);
	struct regex *re = compile(pat);

	assert_non_null(s);
	memset(s, 'a', N);
	s[N] = 'b';
	s[N + 1] = '\0';
	/* Without the limits this takes longer than the universe has. */
	assert_int_equal(regex_match(re, s, N + 1, scratch), 0);
	/* The same regex and scratch still work for ordinary values. */
	assert_int_equal(regex_match(re, "aaa", 3, scratch), 1);
	assert_int_equal(regex_match(re, "aab", 3, scratch), 0);
	regex_free(re);
	free(s);
}

static void test_catastrophic_jit(void **state)
{
	(void)state;
	check_catastrophic("(a+)+$");
	check_catastrophic("^(a|aa)+$");
	check_catastrophic("^(a|a?)+$");
}

static void test_catastrophic_interpreter(void **state)
{
	(void)state;
	check_catastrophic("(*NO_JIT)(a+)+$");
	check_catastrophic("(*NO_JIT)^(a|aa)+$");
}

/*
 * "(a+)+b|c" on a run of a's and a 'c' does match, after trying about 2^n
 * ways to split the a's. With 10 a's that is well within REGEX_MATCH_LIMIT;
 * with 18 it is past it (though within PCRE2's default limit), so the value
 * does not match: the limit, not the pattern, decides.
 */
static void test_match_limit_decides(void **state)
{
	(void)state;
	assert_int_equal(match("(a+)+b|c", "aaaaaaaaaac"), 1);
	assert_int_equal(match("(a+)+b|c", "aaaaaaaaaaaaaaaaaac"), 0);
	assert_int_equal(match("(*NO_JIT)(a+)+b|c", "aaaaaaaaaac"), 1);
	assert_int_equal(match("(*NO_JIT)(a+)+b|c", "aaaaaaaaaaaaaaaaaac"), 0);
}

static void test_depth_limit(void **state)
{
	enum { N = 5000 };
	char s[N];
	struct regex *re;

	(void)state;
	memset(s, 'a', N);
	/* Each repetition of a group that can backtrack nests one level deeper.
	 * 5000 levels are past REGEX_DEPTH_LIMIT, though few steps and little
	 * memory, so only the depth limit stops this from matching. */
	re = compile("(*NO_JIT)^(a|b)*$");
	assert_int_equal(regex_match(re, s, N, scratch), 0);
	assert_int_equal(regex_match(re, s, 100, scratch), 1);
	regex_free(re);
}

static void test_scratch_shared(void **state)
{
	struct regex *a = compile("^a"), *b = compile("b$");
	struct regex_scratch *other = regex_scratch_new();

	(void)state;
	assert_non_null(other);
	assert_int_equal(regex_match(a, "ab", 2, scratch), 1);
	assert_int_equal(regex_match(b, "ab", 2, scratch), 1);
	assert_int_equal(regex_match(a, "ba", 2, other), 0);
	assert_int_equal(regex_match(b, "ba", 2, other), 0);
	assert_int_equal(regex_match(a, "ab", 2, other), 1);
	regex_scratch_free(other);
	regex_free(a);
	regex_free(b);
	regex_free(NULL);
	regex_scratch_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unanchored),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_bytes_with_nul),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_pattern_length_limit),
		cmocka_unit_test(test_catastrophic_jit),
		cmocka_unit_test(test_catastrophic_interpreter),
		cmocka_unit_test(test_match_limit_decides),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_scratch_shared),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
