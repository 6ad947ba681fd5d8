/*
 * test_json.c — the strict JSON reader (json.c) and the lexical primitives
 * it shares with the event scanner (json_lex.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "json_lex.h"

static struct jdoc *parse_ok(const char *text)
{
	struct jdoc *doc = NULL;
	struct json_error err;
	int r = jdoc_parse(text, strlen(text), NULL, &doc, &err);
	if (r != 0)
		fail_msg("'%s' rejected: %s", text, err.message);
	return doc;
}

static void parse_bad(const char *text, int want, const char *msg_part, size_t offset)
{
	struct jdoc *doc = (struct jdoc *)1;
	struct json_error err;
	int r = jdoc_parse(text, strlen(text), NULL, &doc, &err);
	if (r != want)
		fail_msg("'%s': got %d, want %d", text, r, want);
	assert_null(doc);
	if (!strstr(err.message, msg_part))
		fail_msg("'%s': message '%s' lacks '%s'", text, err.message, msg_part);
	assert_int_equal(err.offset, offset);
}

static void test_numbers_keep_their_text(void **state)
{
	(void)state;
	struct jdoc *doc = parse_ok(" [3.0e2, -0, 9007199254740993, 1E400, 0.10] ");
	const struct jnode *a = jdoc_root(doc);
	assert_int_equal(a->type, JNODE_ARRAY);
	assert_int_equal(a->len, 5);
	assert_string_equal(a->u.items[0]->u.num, "3.0e2");
	assert_string_equal(a->u.items[1]->u.num, "-0");
	assert_string_equal(a->u.items[2]->u.num, "9007199254740993");
	assert_string_equal(a->u.items[3]->u.num, "1E400");
	assert_string_equal(a->u.items[4]->u.num, "0.10");
	assert_int_equal(a->u.items[0]->offset, 2);
	assert_int_equal(a->u.items[0]->end, 7);
	assert_int_equal(a->offset, 1);
	assert_int_equal(a->end, 43);
	jdoc_free(doc);
}

static void test_duplicates_kept_last_wins(void **state)
{
	(void)state;
	struct jdoc *doc = parse_ok("{\"x\":1,\"y\":2,\"x\":3}");
	const struct jnode *o = jdoc_root(doc);
	assert_int_equal(o->len, 3);
	assert_string_equal(o->u.members[0].key, "x");
	assert_string_equal(o->u.members[2].key, "x");
	assert_string_equal(jnode_get(o, "x")->u.num, "3");
	assert_null(jnode_get(o, "z"));
	assert_null(jnode_get(o->u.members[0].value, "x"));   /* not an object */
	jdoc_free(doc);
}

static void test_strings_decoded(void **state)
{
	(void)state;
	struct jdoc *doc = parse_ok("[\"a\\\"b\\\\c\\/d\\n\", \"\\u00e9\\ud83d\\ude00\", \"nul\\u0000x\", \"\xc3\xa9\"]");
	const struct jnode *a = jdoc_root(doc);
	assert_string_equal(a->u.items[0]->u.str, "a\"b\\c/d\n");
	assert_int_equal(a->u.items[0]->len, 8);
	assert_string_equal(a->u.items[1]->u.str, "\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(a->u.items[2]->len, 5);
	assert_memory_equal(a->u.items[2]->u.str, "nul\0x", 5);
	assert_string_equal(a->u.items[3]->u.str, "\xc3\xa9");
	assert_true(jnode_streq(a->u.items[3], "\xc3\xa9"));
	jdoc_free(doc);
}

static void test_rejections(void **state)
{
	(void)state;
	parse_bad("", -EINVAL, "end of input", 0);
	parse_bad("[1,]", -EINVAL, "invalid number", 3);
	parse_bad("{\"a\":1,}", -EINVAL, "string key", 7);
	parse_bad("[01]", -EINVAL, "expected ','", 2);
	parse_bad("[1.]", -EINVAL, "invalid number", 1);
	parse_bad("[-]", -EINVAL, "invalid number", 1);
	parse_bad("[1e]", -EINVAL, "invalid number", 1);
	parse_bad("[NaN]", -EINVAL, "invalid number", 1);
	parse_bad("[tru]", -EINVAL, "invalid literal", 1);
	parse_bad("{'a':1}", -EINVAL, "string key", 1);
	parse_bad("[\"\\ud800\"]", -EINVAL, "lone high surrogate", 2);
	parse_bad("[\"\\udc00\"]", -EINVAL, "lone low surrogate", 2);
	parse_bad("[\"\\x\"]", -EINVAL, "invalid escape", 2);
	parse_bad("[\"\\u12G4\"]", -EINVAL, "invalid \\u escape", 2);
	parse_bad("[\"a\tb\"]", -EINVAL, "control character", 3);
	parse_bad("[\"\xc3\"]", -EINVAL, "invalid UTF-8", 2);
	parse_bad("[\"\xed\xa0\x80\"]", -EINVAL, "invalid UTF-8", 2);   /* encoded surrogate */
	parse_bad("[\"\xc0\xaf\"]", -EINVAL, "invalid UTF-8", 2);       /* overlong */
	parse_bad("[\"\xf4\x90\x80\x80\"]", -EINVAL, "invalid UTF-8", 2); /* > U+10FFFF */
	parse_bad("[\"abc", -EINVAL, "unterminated", 5);
	parse_bad("{} x", -EINVAL, "after the JSON value", 3);
	parse_bad("{\"a\" 1}", -EINVAL, "':'", 5);
}

static void test_limits(void **state)
{
	(void)state;
	char deep[201];
	memset(deep, '[', 200);
	deep[200] = '\0';
	struct jdoc *doc;
	struct json_error err;
	assert_int_equal(jdoc_parse(deep, 200, NULL, &doc, &err), -E2BIG);
	assert_non_null(strstr(err.message, "too deep"));

	struct json_limits lim = {.max_depth = 2, .max_bytes = 8};
	assert_int_equal(jdoc_parse("[[1]]", 5, &lim, &doc, &err), 0);
	jdoc_free(doc);
	assert_int_equal(jdoc_parse("[[[1]]]", 7, &lim, &doc, &err), -E2BIG);
	assert_int_equal(jdoc_parse("[1,2,3,4,5]", 11, &lim, &doc, &err), -E2BIG);
}

static void test_error_line_column(void **state)
{
	(void)state;
	struct jdoc *doc;
	struct json_error err;
	const char *t = "{\n  \"a\": [1,\n   x]\n}";
	assert_int_equal(jdoc_parse(t, strlen(t), NULL, &doc, &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 4);
}

static void test_pointer_escaping(void **state)
{
	(void)state;
	struct jptr p;
	jptr_init(&p);
	assert_string_equal(jptr_str(&p), "");
	size_t a = jptr_push_key(&p, "Targets", 7);
	jptr_push_index(&p, 3);
	size_t b = jptr_push_key(&p, "a/b~c", 5);
	assert_string_equal(jptr_str(&p), "/Targets/3/a~1b~0c");
	jptr_pop(&p, b);
	assert_string_equal(jptr_str(&p), "/Targets/3");
	jptr_pop(&p, a);
	assert_string_equal(jptr_str(&p), "");

	/* overlong pointers are truncated, never overflow */
	char key[200];
	memset(key, 'k', sizeof(key));
	for (int i = 0; i < 10; i++)
		jptr_push_key(&p, key, sizeof(key));
	assert_true(strlen(jptr_str(&p)) < sizeof(p.buf));
}

/* The lexer's value skipper, under a name that says what it returns. */
static const char *(*const lex_past_value)(const char *, const char *, uint32_t,
					   struct json_lexerr *) = json_lex_skip;

/* The position after the value at s, or NULL. */
static const char *past_value(const char *s, size_t n, struct json_lexerr *lx)
{
	return lex_past_value(s, s + n, 128, lx);
}

/* json_lex_skip must agree with the tree parser on every input. */
static void test_skip_agrees_with_parser(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"{}", "[]", "{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\"}", "[1,2", "{\"a\" 1}", "[01]",
		"[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]", "{\"a\":tru}", " [ 1 , 2 ] ", "[1,]", "[,1]",
		"{\"a\":1,}", "\"x\"", "-0.5e+7", "[[[[[]]]]]", "{\"\":{\"\":{}}}", "[\"a\xff\"]",
		/* whitespace everywhere the grammar allows it, and where it does not help */
		"{ \"a\" : [ 1 , { } ] , \"b\" :\n\t\"x\" }", "[ ]", "{ }", " [1 ,2] ", "{\"a\" :1}",
		"{\"a\": 1 ,}", "[ , 1]", "{ , }", "[1 2]", "{\"a\" 1}", "\t{\r\n}\n",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		const char *s = inputs[i];
		size_t n = strlen(s);
		struct jdoc *doc;
		struct json_error err;
		struct json_lexerr lx;
		bool tree = jdoc_parse(s, n, NULL, &doc, &err) == 0;
		if (tree)
			jdoc_free(doc);
		const char *e = past_value(s, n, &lx);
		bool skip = e && json_lex_ws(e, s + n) == s + n;
		if (tree != skip)
			fail_msg("'%s': parser %d, skip %d", s, tree, skip);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_keep_their_text),
		cmocka_unit_test(test_duplicates_kept_last_wins),
		cmocka_unit_test(test_strings_decoded),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_line_column),
		cmocka_unit_test(test_pointer_escaping),
		cmocka_unit_test(test_skip_agrees_with_parser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
