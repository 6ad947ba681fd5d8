/*
 * test_pattern.c — pattern parsing: flattening, $or expansion, duplicate
 * keys, operand preparation and the error messages with their pointers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pattern.h"

static struct pattern *ok(const char *text)
{
	struct errlist errs = ERRLIST_INIT;
	struct pattern *p = NULL;
	if (pattern_parse(text, strlen(text), PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs) != 0)
		fail_msg("'%s' rejected: %s", text, errs.n ? errs.msgs[0] : "?");
	errlist_clear(&errs);
	return p;
}

/* Asserts that text is rejected and that the errors are exactly want[] in order. */
static void bad(const char *text, const char *const *want, size_t nwant)
{
	struct errlist errs = ERRLIST_INIT;
	struct pattern *p = NULL;
	assert_int_equal(pattern_parse(text, strlen(text), PATTERN_DIALECT_TRIPLINE, NULL, &p, &errs),
			 -EINVAL);
	assert_null(p);
	if (errs.n != nwant) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("  got: %s\n", errs.msgs[i]);
		fail_msg("'%s': %zu errors, want %zu", text, errs.n, nwant);
	}
	for (size_t i = 0; i < nwant; i++)
		assert_string_equal(errs.msgs[i], want[i]);
	errlist_clear(&errs);
}

#define BAD(text, ...)                                                             \
	do {                                                                       \
		static const char *const w_[] = {__VA_ARGS__};                      \
		bad(text, w_, sizeof(w_) / sizeof(w_[0]));                          \
	} while (0)

static void test_flattening(void **state)
{
	(void)state;
	struct pattern *a = ok("{\"a\":{\"b\":[\"x\"]},\"c\":[1]}");
	struct pattern *b = ok("{\"c\":[1],\"a.b\":[\"x\"]}");
	assert_int_equal(a->n, 1);
	assert_int_equal(b->n, 1);
	assert_int_equal(a->branches[0].n, 2);
	/* sorted by path, the same whatever the spelling */
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(a->branches[0].fields[i].path, b->branches[0].fields[i].path);
	assert_string_equal(a->branches[0].fields[0].path, "a.b");
	assert_string_equal(a->branches[0].fields[1].path, "c");
	pattern_free(a);
	pattern_free(b);
}

static void test_duplicate_keys_last_wins(void **state)
{
	(void)state;
	struct pattern *p = ok("{\"x\":[\"y\"],\"x\":[\"z\"]}");
	assert_int_equal(p->branches[0].n, 1);
	assert_string_equal(p->branches[0].fields[0].conds[0].operands[0].lit.text, "z");
	pattern_free(p);
	/* the same path given twice through different spellings: the last one */
	p = ok("{\"a.b\":[\"1\"],\"a\":{\"b\":[\"2\"]}}");
	assert_int_equal(p->branches[0].n, 1);
	assert_string_equal(p->branches[0].fields[0].conds[0].operands[0].lit.text, "2");
	pattern_free(p);
}

static void test_or_expansion(void **state)
{
	(void)state;
	struct pattern *p = ok("{\"s\":[\"a\"],\"$or\":[{\"x\":[1]},{\"y\":[2]},{\"$or\":[{\"z\":[3]},{\"w\":[4]}]}],"
			       "\"$or\":[{\"p\":[5]},{\"q\":[6]}]}");
	/* duplicate "$or" keys: the last wins, so 2 branches */
	assert_int_equal(p->n, 2);
	pattern_free(p);
	p = ok("{\"d\":{\"$or\":[{\"x\":[1]},{\"y\":[2]},{\"$or\":[{\"z\":[3]},{\"w\":[4]}]}]},"
	       "\"$or\":[{\"p\":[5]},{\"q\":[6]}]}");
	assert_int_equal(p->n, 8);   /* (x | y | z | w) × (p | q) */
	for (size_t i = 0; i < p->n; i++) {
		assert_int_equal(p->branches[i].n, 2);
		assert_int_equal(strncmp(p->branches[i].fields[0].path, "d.", 2), 0);
	}
	pattern_free(p);
}

static void test_exists_false_alternative(void **state)
{
	(void)state;
	struct pattern *p = ok("{\"a\":[{\"exists\":false},\"x\"],\"b\":[1]}");
	assert_int_equal(p->n, 2);
	int absent = 0;
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < p->branches[i].n; j++)
			absent += p->branches[i].fields[j].absent;
	assert_int_equal(absent, 1);
	pattern_free(p);
}

static void test_branch_limit(void **state)
{
	(void)state;
	char text[4096];
	size_t n = 0;
	/* 4 independent $or of 6 alternatives: 6^4 = 1296 > 1000 */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{");
	for (int k = 0; k < 4; k++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"o%d\":{\"$or\":[", k ? "," : "", k);
		for (int i = 0; i < 6; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"f%d\":[%d]}", i ? "," : "", i, i);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "]}");
	}
	snprintf(text + n, sizeof(text) - n, "}");
	BAD(text, "/o3: pattern expands to more than 1000 combinations ($or and exists:false alternatives)");
}

static void test_operands_prepared(void **state)
{
	(void)state;
	struct pattern *p = ok("{\"n\":[300, {\"numeric\":[\">=\",1,\"<\",3.5e1]}],\"s\":[{\"prefix\":{\"equals-ignore-case\":\"AbC\"}}]}");
	const struct field *n = &p->branches[0].fields[0];
	assert_string_equal(n->path, "n");
	assert_int_equal(n->n, 2);
	assert_int_equal(n->conds[0].kind, COND_EXACT);
	assert_true(n->conds[0].operands[0].lit.has_key);
	assert_int_equal(n->conds[1].kind, COND_NUMERIC);
	const struct numrange *r = &n->conds[1].operands[0].range;
	assert_true(r->has_lo && !r->lo_open && r->has_hi && r->hi_open);
	const struct field *s = &p->branches[0].fields[1];
	assert_int_equal(s->conds[0].kind, COND_PREFIX_IC);
	assert_string_equal(s->conds[0].operands[0].text, "abc");
	pattern_free(p);

	/* a number that is not an exact double keeps its text only */
	p = ok("{\"n\":[9007199254740993]}");
	assert_false(p->branches[0].fields[0].conds[0].operands[0].lit.has_key);
	pattern_free(p);
}

static void test_error_messages(void **state)
{
	(void)state;
	BAD("{}", "/: Empty objects are not allowed");
	BAD("[]", "/: an event pattern must be a JSON object, not array");
	BAD("{\"a\":\"x\"}", "/a: \"a\" must be an object or an array");
	BAD("{\"a\":[]}", "/a: Empty arrays are not allowed");
	BAD("{\"a\":[[\"x\"]]}", "/a/0: Match value must be a string, number, true, false, null or a match expression, not an array");
	BAD("{\"a\":[{\"prefix\":1}]}", "/a/0/prefix: prefix match pattern must be a string");
	BAD("{\"a\":[{\"nope\":1}]}", "/a/0: Unrecognized match type nope");
	BAD("{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}", "/a/0: Only one key allowed in match expression");
	BAD("{\"a\":[{\"numeric\":[\">\",5,\"<\",1]}]}", "/a/0/numeric: Bottom must be less than top");
	BAD("{\"a\":[{\"numeric\":[\"=\",1e400]}]}",
	    "/a/0/numeric: Cannot compare number: 1e400 (numeric operands must be finite doubles written exactly)");
	BAD("{\"a\":[{\"wildcard\":\"a**\"}]}", "/a/0/wildcard: Consecutive wildcard characters at pos 2");
	BAD("{\"a\":[{\"cidr\":\"10.0.0.0/33\"}]}", "/a/0/cidr: IPv4 mask bits must be < 32");
	BAD("{\"a\":[{\"anything-but\":[\"x\",1]}]}",
	    "/a/0/anything-but: Inside anything-but list, either all values are numbers or all are strings; mixed types are not supported");
	BAD("{\"a\":[{\"anything-but\":{\"prefix\":\"\"}}]}", "/a/0/anything-but/prefix: Null prefix/suffix not allowed");
	BAD("{\"$or\":[{\"a\":[1]}]}", "/$or: There must be at least 2 objects in a $or relationship");
	BAD("{\"$or\":[{\"a\":[1]},\"b\"]}", "/$or/1: Only JSON objects are allowed in the array of a $or relationship");
	BAD("{\"a\":[{\"exists\":1}]}", "/a/0/exists: exists match pattern must be either true or false");
	BAD("{\"a\":[{\"regex\":\"(\"}]}", "/a/0/regex: invalid regex: missing closing parenthesis at offset 1");
	BAD("{\"a\":[\"x\",", "/: invalid JSON at line 1, column 11: unexpected end of input");
	/* every error of the pattern, not only the first */
	BAD("{\"a\":[], \"b\":{\"c\":\"x\"}, \"d\":[{\"exists\":\"no\"}]}",
	    "/a: Empty arrays are not allowed",
	    "/b/c: \"c\" must be an object or an array",
	    "/d/0/exists: exists match pattern must be either true or false");
}

static void test_dialects(void **state)
{
	(void)state;
	const char *t = "{\"a\":[{\"regex\":\"^x\"}]}";
	struct errlist errs = ERRLIST_INIT;
	struct pattern *p = NULL;
	assert_int_equal(pattern_parse(t, strlen(t), PATTERN_DIALECT_EVENTBRIDGE, NULL, &p, &errs), -EINVAL);
	assert_string_equal(errs.msgs[0],
			    "/a/0: Unrecognized match type regex (a tripline extension, not EventBridge)");
	errlist_clear(&errs);
	p = ok(t);
	assert_int_equal(p->branches[0].fields[0].conds[0].kind, COND_REGEX);
	pattern_free(p);
}

static void test_limits(void **state)
{
	(void)state;
	struct pattern_limits lim = {.max_bytes = 16};
	struct errlist errs = ERRLIST_INIT;
	struct pattern *p = NULL;
	const char *t = "{\"source\":[\"aws.s3\"]}";
	assert_int_equal(pattern_parse(t, strlen(t), PATTERN_DIALECT_TRIPLINE, &lim, &p, &errs), -EINVAL);
	assert_non_null(strstr(errs.msgs[0], "more than the limit of 16"));
	errlist_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flattening),
		cmocka_unit_test(test_duplicate_keys_last_wins),
		cmocka_unit_test(test_or_expansion),
		cmocka_unit_test(test_exists_false_alternative),
		cmocka_unit_test(test_branch_limit),
		cmocka_unit_test(test_operands_prepared),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_dialects),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
