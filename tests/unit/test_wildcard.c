/*
 * test_wildcard.c — EventBridge wildcards: what '*' matches, escapes, the
 * literal prefix, event-ruler's error messages and positions, and that
 * matching stays fast on patterns that make naive backtracking explode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../rules/value.h"

static struct wildcard *compile(const char *pat)
{
	char err[128] = "";
	struct wildcard *w = wildcard_compile(pat, strlen(pat), err, sizeof(err));

	if (!w)
		fail_msg("wildcard_compile(\"%s\"): %s", pat, err);
	return w;
}

struct wcase {
	const char *pattern;
	const char *yes[6];
	const char *no[6];
};

static void check(const struct wcase *c)
{
	struct wildcard *w = compile(c->pattern);

	for (size_t i = 0; i < 6 && c->yes[i]; i++)
		if (!wildcard_match(w, c->yes[i], strlen(c->yes[i])))
			fail_msg("\"%s\" should match \"%s\"", c->pattern, c->yes[i]);
	for (size_t i = 0; i < 6 && c->no[i]; i++)
		if (wildcard_match(w, c->no[i], strlen(c->no[i])))
			fail_msg("\"%s\" should not match \"%s\"", c->pattern, c->no[i]);
	wildcard_free(w);
}

static void test_matching(void **state)
{
	static const struct wcase cases[] = {
		{"*/bin/*.jar", {"/usr/bin/java.jar", "x/bin/y.jar", "/bin/.jar", "/bin/bin/.jar.jar"},
		 {"/bin.jar", "x/bin/y.jarx", "/usr/lib/x.jar", "bin/x.jar"}},
		{"a*b*c", {"abxbc", "abc", "axxbyyc", "abbbccc", "abcabc"},
		 {"ac", "abcx", "acb", "xabc", "ab"}},
		{"*", {"", "a", "anything at all", "*"}, {NULL}},
		{"", {""}, {"a", " ", "*"}},
		{"abc", {"abc"}, {"ab", "abcd", "ABC", "xabc"}},
		{"hel*o", {"hello", "helo", "helxo", "hel-o-o"}, {"hell", "help", "ello"}},
		{"*hello", {"hello", "xhello", "hellohello"}, {"hellox", "hell"}},
		{"hello*", {"hello", "hellox"}, {"xhello", "hell"}},
		{"*aa*aa*", {"aaaa", "aaxaa", "xaaaax"}, {"aaa", "aax", "aa"}},
		{"ab*ba", {"abba", "abxba", "ababa"}, {"aba", "ab", "ba"}},
		{"*ab", {"aab", "ab", "bab"}, {"aba", "a"}},
		{"a*", {"a", "aa", "abc"}, {"", "ba"}},
		{"x*y*z", {"xyz", "x-y-z"}, {"xzy", "xy"}},
		{"é*", {"été", "é"}, {"e", "x"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_escapes(void **state)
{
	static const struct wcase cases[] = {
		{"a\\*b", {"a*b"}, {"axb", "ab", "a\\*b", "a*xb"}},
		{"a\\\\b", {"a\\b"}, {"ab", "a\\\\b", "axb"}},
		{"\\**", {"*", "*abc", "**"}, {"abc", "", "a*"}},
		{"a\\**", {"a*", "a*xyz"}, {"a", "axyz"}},
		{"*\\*", {"*", "abc*", "**"}, {"abc", ""}},
		{"\\\\*", {"\\", "\\x"}, {"x", ""}},
		{"*\\\\", {"\\", "x\\"}, {"x", "\\x"}},
		{"\\*\\\\\\*", {"*\\*"}, {"*\\", "\\*"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_bytes_not_strings(void **state)
{
	struct wildcard *w = compile("a*c");

	(void)state;
	assert_true(wildcard_match(w, "a\0b\0c", 5));
	assert_false(wildcard_match(w, "a\0b\0c", 4));
	assert_true(wildcard_match(w, "acX", 2));
	wildcard_free(w);

	/* A pattern holding a NUL byte. */
	{
		char err[64];

		w = wildcard_compile("x\0*y", 4, err, sizeof(err));
		assert_non_null(w);
		assert_true(wildcard_match(w, "x\0--y", 5));
		assert_false(wildcard_match(w, "x--y", 4));
		wildcard_free(w);
	}
	/* An empty value given as NULL. */
	w = compile("*");
	assert_true(wildcard_match(w, NULL, 0));
	wildcard_free(w);
	w = compile("");
	assert_true(wildcard_match(w, NULL, 0));
	wildcard_free(w);
}

static void test_literal_prefix(void **state)
{
	static const struct {
		const char *pattern;
		const char *prefix;
	} cases[] = {
		{"abc*def", "abc"},
		{"*x", ""},
		{"a\\*b*", "a*b"},
		{"a\\\\*", "a\\"},
		{"abc", "abc"},
		{"", ""},
		{"*", ""},
		{"ab*c*d", "ab"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wildcard *w = compile(cases[i].pattern);
		size_t len = 99;
		const char *p = wildcard_literal_prefix(w, &len);

		assert_int_equal(len, strlen(cases[i].prefix));
		assert_memory_equal(p, cases[i].prefix, len);
		wildcard_free(w);
	}
}

static void test_errors(void **state)
{
	/* Patterns as unescaped text; positions as event-ruler reports them
	 * (invalid-patterns.jsonl). */
	static const struct {
		const char *pattern;
		const char *err;
	} cases[] = {
		{"abc**def", "Consecutive wildcard characters at pos 4"},
		{"**", "Consecutive wildcard characters at pos 1"},
		{"a**", "Consecutive wildcard characters at pos 2"},
		{"foo**bar", "Consecutive wildcard characters at pos 4"},
		{"a*b***", "Consecutive wildcard characters at pos 4"},
		{"\\\\**", "Consecutive wildcard characters at pos 3"},
		{"a\\b", "Invalid escape character at pos 2"},
		{"abc\\", "Invalid escape character at pos 4"},
		{"a\\?", "Invalid escape character at pos 2"},
		{"\\", "Invalid escape character at pos 1"},
		{"\\n", "Invalid escape character at pos 1"},
		{"a*c\\def", "Invalid escape character at pos 4"},
		{"\\\\\\", "Invalid escape character at pos 3"},
		{"é\\x", "Invalid escape character at pos 3"},   /* byte offsets */
		/* The first error from the left wins. */
		{"a\\b**", "Invalid escape character at pos 2"},
		{"a**\\b", "Consecutive wildcard characters at pos 2"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128] = "";
		struct wildcard *w = wildcard_compile(cases[i].pattern, strlen(cases[i].pattern),
						      err, sizeof(err));

		if (w) {
			wildcard_free(w);
			fail_msg("\"%s\" should be refused", cases[i].pattern);
		}
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].pattern, err, cases[i].err);
	}
}

static void test_no_blowup(void **state)
{
	enum { N = 200000 };
	char *s = malloc(N);
	struct wildcard *w;

	(void)state;
	assert_non_null(s);
	memset(s, 'a', N);
	/* Naive backtracking over five stars on 200k bytes would not finish. */
	w = compile("*a*a*a*a*a*b");
	assert_false(wildcard_match(w, s, N));
	s[N - 1] = 'b';
	assert_true(wildcard_match(w, s, N));
	wildcard_free(w);
	s[N - 1] = 'a';
	w = compile("*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab*");
	assert_false(wildcard_match(w, s, N));
	wildcard_free(w);
	free(s);
}

static void test_free_null(void **state)
{
	(void)state;
	wildcard_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_bytes_not_strings),
		cmocka_unit_test(test_literal_prefix),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_blowup),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
