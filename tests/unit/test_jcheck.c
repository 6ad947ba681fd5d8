/*
 * test_jcheck.c — the validators' shared groundwork: where messages go and
 * how they read in each style (the document itself, a where prefix, the ECS
 * style's bounded text), JSON pointers (escaping of '~' and '/', nested
 * arrays, the pointer left as found by every getter, the cap on its
 * length), member names (duplicate, unknown, hint, unsupported, in each
 * style), and every getter's answers and error text, limits included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcheck.h"

struct fx {
	struct errlist errs;
	struct jdoc *doc;
	struct jcheck c;
};

/* Parses json (which must be valid) and starts a context over it. */
static const struct jnode *start(struct fx *f, enum jcheck_style style, const char *where,
				 const char *json)
{
	struct json_error je;

	errlist_init(&f->errs);
	assert_int_equal(jdoc_parse(json, strlen(json), NULL, &f->doc, &je), 0);
	jcheck_init(&f->c, style, &f->errs, where);
	return jdoc_root(f->doc);
}

static void finish(struct fx *f)
{
	assert_false(f->c.nomem);
	assert_string_equal(jptr_str(&f->c.ptr), "");
	errlist_clear(&f->errs);
	jdoc_free(f->doc);
}

/* The messages so far are exactly want (NULL-terminated), in order; then
 * the list is emptied for the next step. */
static void expect(struct fx *f, const char *const *want)
{
	size_t n = 0;

	while (want[n])
		n++;
	for (size_t i = 0; i < f->errs.n; i++)
		if (i >= n || strcmp(f->errs.msgs[i], want[i]) != 0)
			print_error("got[%zu]: %s\n", i, f->errs.msgs[i]);
	assert_int_equal(f->errs.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(f->errs.msgs[i], want[i]);
	assert_int_equal(f->errs.dropped, 0);
	errlist_clear(&f->errs);
}

#define EXPECT(f, ...) expect((f), (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_NONE(f) expect((f), (const char *const[]){NULL})

/* ------------------------------------------------------------ messages */

static void test_messages_file_style(void **state)
{
	struct fx f;
	size_t old;

	(void)state;
	start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	assert_false(f.c.failed);
	jcheck_err(&f.c, "must be a rule object");
	assert_true(f.c.failed);
	old = jcheck_push(&f.c, "Targets");
	jcheck_err(&f.c, "has %d targets", 6);
	jcheck_err_at(&f.c, "Id", "is required");
	jcheck_err_at_n(&f.c, "Arnold", 3, "must be %s", "a string");
	jcheck_pop(&f.c, old);
	EXPECT(&f, "must be a rule object", "/Targets: has 6 targets", "/Targets/Id: is required",
	       "/Targets/Arn: must be a string");
	finish(&f);

	/* with a where, in front of everything */
	start(&f, JCHECK_STYLE_FILE, "rules/a.json", "{}");
	jcheck_err(&f.c, "must be a rule object");
	jcheck_err_at(&f.c, "Name", "must be %d to %d characters", 1, 64);
	EXPECT(&f, "rules/a.json: must be a rule object",
	       "rules/a.json: /Name: must be 1 to 64 characters");
	finish(&f);
}

static void test_messages_ecs_style(void **state)
{
	struct fx f;
	size_t old;

	(void)state;
	start(&f, JCHECK_STYLE_ECS, "request", "{}");
	jcheck_err(&f.c, "must be an object");
	old = jcheck_push(&f.c, "containerDefinitions");
	jcheck_push_index(&f.c, 0);
	jcheck_err_at(&f.c, "cpu", "must be an integer from %d to %d", 0, 262144);
	jcheck_pop(&f.c, old);
	EXPECT(&f, "request: /: must be an object",
	       "request: /containerDefinitions/0/cpu: must be an integer from 0 to 262144");
	finish(&f);

	start(&f, JCHECK_STYLE_ECS, NULL, "{}");
	jcheck_err(&f.c, "must be an object");
	jcheck_err_at(&f.c, "family", "is required");
	EXPECT(&f, "/: must be an object", "/family: is required");
	finish(&f);
}

static void test_message_limits(void **state)
{
	char big[1000];
	char want[JCHECK_ECS_MESSAGE_MAX + 16];
	struct fx f;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	/* the ECS style bounds a message's text ... */
	start(&f, JCHECK_STYLE_ECS, "request", "{}");
	jcheck_err_at(&f.c, "k", "%s", big);
	snprintf(want, sizeof(want), "request: /k: %.*s", (int)JCHECK_ECS_MESSAGE_MAX - 1, big);
	EXPECT(&f, want);
	finish(&f);

	/* ... the file style keeps it whole */
	start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	jcheck_err_at(&f.c, "k", "%s", big);
	assert_int_equal(f.errs.n, 1);
	assert_int_equal(strlen(f.errs.msgs[0]), strlen("/k: ") + strlen(big));
	errlist_clear(&f.errs);
	finish(&f);
}

/* ------------------------------------------------------------ pointers */

static void test_pointer_escaping(void **state)
{
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL,
		     "{\"a~b/c\": 1, \"~\": 2, \"/\": 3, \"~1\": 4, \"\": 5, \"\\u00e9\": 6}");
	jcheck_err_at(&f.c, "a~b/c", "x");
	jcheck_fields(&f.c, root, (const char *const[]){"known", NULL}, NULL);
	EXPECT(&f, "/a~0b~1c: x", "/a~0b~1c: unknown field", "/~0: unknown field",
	       "/~1: unknown field", "/~01: unknown field", "/: unknown field",
	       "/\xc3\xa9: unknown field");
	finish(&f);
}

static void test_pointer_nested_arrays(void **state)
{
	struct fx f;
	size_t a, b;

	(void)state;
	start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	a = jcheck_push(&f.c, "m");
	jcheck_push_index(&f.c, 0);
	b = jcheck_push_index(&f.c, 12);
	jcheck_err(&f.c, "inner");
	jcheck_pop(&f.c, b);
	jcheck_err_at(&f.c, "k", "beside");
	jcheck_pop(&f.c, a);
	jcheck_err(&f.c, "root");
	EXPECT(&f, "/m/0/12: inner", "/m/0/k: beside", "root");
	finish(&f);
}

static void test_pointer_limit(void **state)
{
	char key[600];
	struct fx f;
	size_t old;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	old = jcheck_push(&f.c, "a");
	jcheck_push(&f.c, key);
	jcheck_push_index(&f.c, 7);
	jcheck_err(&f.c, "deep");
	assert_int_equal(f.errs.n, 1);
	/* cut at the pointer's capacity with "…", never past it */
	assert_true(strlen(f.errs.msgs[0]) < sizeof(f.c.ptr.buf) + strlen(": deep"));
	assert_non_null(strstr(f.errs.msgs[0], "\xe2\x80\xa6: deep"));
	assert_memory_equal(f.errs.msgs[0], "/a/kkkk", 7);
	errlist_clear(&f.errs);
	jcheck_pop(&f.c, old);
	jcheck_err_at(&f.c, "b", "back");
	EXPECT(&f, "/b: back");
	finish(&f);
}

/* ------------------------------------------------------------ member names */

static const char *const known[] = {"Name", "Arn", NULL};
static const char *const unsupported[] = {"SqsParameters", NULL};
static const char *const names_doc =
	"{\"Name\": 1, \"name\": 2, \"Bogus\": 3, \"Name\": 4, \"SqsParameters\": 5, \"Bogus\": 6,"
	" \"Arn\": 7}";

static void test_fields_file_style(void **state)
{
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, names_doc);
	jcheck_fields(&f.c, root, known, unsupported);
	EXPECT(&f, "/name: unknown field (did you mean \"Name\"?)", "/Bogus: unknown field",
	       "/Name: duplicate field", "/SqsParameters: not supported by tripline",
	       "/Bogus: duplicate field");
	/* no list of names: repetitions only */
	jcheck_fields(&f.c, root, NULL, NULL);
	EXPECT(&f, "/Name: duplicate field", "/Bogus: duplicate field");
	finish(&f);

	root = start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	jcheck_fields(&f.c, root, known, NULL);
	EXPECT_NONE(&f);
	assert_false(f.c.failed);
	finish(&f);
}

static void test_fields_ecs_style(void **state)
{
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_ECS, "request", names_doc);
	jcheck_fields(&f.c, root, known, NULL);
	/* no hints, and an unknown name is unknown each time it is written */
	EXPECT(&f, "request: /name: unknown key", "request: /Bogus: unknown key",
	       "request: /Name: duplicate key", "request: /SqsParameters: unknown key",
	       "request: /Bogus: unknown key");
	finish(&f);
}

static void test_fields_many(void **state)
{
	enum { N = 20000 };
	size_t cap = (size_t)N * 16 + 64, o = 0;
	char *json = malloc(cap);
	struct fx f;
	const struct jnode *root;

	(void)state;
	assert_non_null(json);
	json[o++] = '{';
	for (int i = 0; i < N; i++)
		o += (size_t)snprintf(json + o, cap - o, "%s\"k%d\":0", i ? "," : "", i % (N - 1));
	json[o++] = '}';
	json[o] = '\0';
	root = start(&f, JCHECK_STYLE_FILE, NULL, json);
	jcheck_fields(&f.c, root, NULL, NULL);
	/* k0 is written first and last: only the last one is a repetition */
	EXPECT(&f, "/k0: duplicate field");
	finish(&f);
	free(json);
}

/* ------------------------------------------------------------ getters */

static const char *const types_doc =
	"{\"s\": \"x\", \"o\": {}, \"a\": [], \"n\": 1, \"t\": true, \"f\": false, \"z\": null}";

static void test_member(void **state)
{
	const enum jcheck_style styles[] = {JCHECK_STYLE_FILE, JCHECK_STYLE_ECS};
	struct fx f;
	const struct jnode *root;

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		bool ecs = styles[k] == JCHECK_STYLE_ECS;

		root = start(&f, styles[k], NULL, types_doc);
		assert_ptr_equal(jcheck_member(&f.c, root, "s", JNODE_STRING, 0), jnode_get(root, "s"));
		assert_non_null(jcheck_member(&f.c, root, "o", JNODE_OBJECT, JCHECK_REQUIRED));
		assert_non_null(jcheck_member(&f.c, root, "a", JNODE_ARRAY, 0));
		assert_non_null(jcheck_member(&f.c, root, "n", JNODE_NUMBER, 0));
		assert_non_null(jcheck_member(&f.c, root, "t", JNODE_TRUE, 0));
		assert_non_null(jcheck_member(&f.c, root, "f", JNODE_TRUE, 0));
		assert_non_null(jcheck_member(&f.c, root, "z", JNODE_NULL, 0));
		assert_null(jcheck_member(&f.c, root, "absent", JNODE_STRING, 0));
		EXPECT_NONE(&f);
		assert_false(f.c.failed);

		assert_null(jcheck_member(&f.c, root, "o", JNODE_STRING, 0));
		assert_null(jcheck_member(&f.c, root, "s", JNODE_OBJECT, 0));
		assert_null(jcheck_member(&f.c, root, "n", JNODE_ARRAY, 0));
		assert_null(jcheck_member(&f.c, root, "s", JNODE_NUMBER, 0));
		assert_null(jcheck_member(&f.c, root, "z", JNODE_TRUE, 0));
		assert_null(jcheck_member(&f.c, root, "f", JNODE_NULL, 0));
		assert_null(jcheck_member(&f.c, root, "absent", JNODE_STRING, JCHECK_REQUIRED));
		EXPECT(&f, "/o: must be a string", "/s: must be an object", "/n: must be an array",
		       ecs ? "/s: must be an integer" : "/s: must be a number",
		       ecs ? "/z: must be a boolean" : "/z: must be true or false",
		       "/f: must be null", "/absent: is required");
		assert_true(f.c.failed);
		finish(&f);
	}
}

static void test_object(void **state)
{
	struct fx f;
	const struct jnode *root, *o;
	size_t old;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, "{\"p\": {\"Name\": 1, \"Nmae\": 2}, \"q\": 3}");
	old = jcheck_push(&f.c, "Targets");
	o = jcheck_object(&f.c, root, "p", 0, known);
	assert_ptr_equal(o, jnode_get(root, "p"));
	assert_null(jcheck_object(&f.c, root, "q", 0, known));
	assert_null(jcheck_object(&f.c, root, "r", 0, known));
	assert_null(jcheck_object(&f.c, root, "r", JCHECK_REQUIRED, known));
	jcheck_pop(&f.c, old);
	EXPECT(&f, "/Targets/p/Nmae: unknown field", "/Targets/q: must be an object",
	       "/Targets/r: is required");
	finish(&f);
}

static void test_string(void **state)
{
	struct fx f;
	const struct jnode *root;
	const char *s;
	size_t len = 99;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL,
		     "{\"s\": \"abc\", \"e\": \"\", \"z\": \"a\\u0000b\", \"n\": 5}");
	s = jcheck_string(&f.c, root, "s", JCHECK_REQUIRED | JCHECK_NONEMPTY, &len);
	assert_non_null(s);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	s = jcheck_string(&f.c, root, "e", 0, &len);
	assert_non_null(s);
	assert_int_equal(len, 0);
	EXPECT_NONE(&f);
	len = 99;
	assert_null(jcheck_string(&f.c, root, "e", JCHECK_NONEMPTY, &len));
	assert_null(jcheck_string(&f.c, root, "z", 0, &len));
	assert_null(jcheck_string(&f.c, root, "z", JCHECK_NONEMPTY, &len));
	assert_null(jcheck_string(&f.c, root, "n", 0, &len));
	assert_null(jcheck_string(&f.c, root, "absent", 0, &len));
	assert_null(jcheck_string(&f.c, root, "absent", JCHECK_REQUIRED, &len));
	assert_int_equal(len, 99);
	EXPECT(&f, "/e: must be a non-empty string without NUL characters",
	       "/z: must not contain NUL characters",
	       "/z: must be a non-empty string without NUL characters", "/n: must be a string",
	       "/absent: is required");
	finish(&f);

	root = start(&f, JCHECK_STYLE_ECS, NULL, "{\"e\": \"\", \"z\": \"a\\u0000b\"}");
	assert_non_null(jcheck_string(&f.c, root, "e", 0, &len));
	assert_null(jcheck_string(&f.c, root, "z", 0, &len));
	assert_null(jcheck_string(&f.c, root, "e", JCHECK_NONEMPTY, &len));
	EXPECT(&f, "/z: must be a string without NUL characters",
	       "/e: must be a non-empty string without NUL characters");
	finish(&f);
}

static const char *const ints_doc =
	"{\"one\": 1, \"ten\": 10, \"zero\": 0, \"eleven\": 11, \"frac\": 1.0, \"exp\": 1e1,"
	" \"str\": \"5\", \"neg\": -3, \"negzero\": -0,"
	" \"d18\": 999999999999999999, \"d19\": 1000000000000000000}";

static void test_int(void **state)
{
	struct fx f;
	const struct jnode *root;
	int64_t v = 0;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, ints_doc);
	/* [lo, hi] inclusive */
	assert_int_equal(jcheck_int(&f.c, root, "one", 0, 1, 10, &v), 1);
	assert_int_equal(v, 1);
	assert_int_equal(jcheck_int(&f.c, root, "ten", JCHECK_REQUIRED, 1, 10, &v), 1);
	assert_int_equal(v, 10);
	assert_int_equal(jcheck_int(&f.c, root, "neg", 0, -5, 5, &v), 1);
	assert_int_equal(v, -3);
	assert_int_equal(jcheck_int(&f.c, root, "negzero", 0, 0, 1, &v), 1);
	assert_int_equal(v, 0);
	/* 18 digits is the most an integer may have */
	assert_int_equal(jcheck_int(&f.c, root, "d18", 0, 0, INT64_MAX, &v), 1);
	assert_int_equal(v, 999999999999999999);
	assert_int_equal(jcheck_int(&f.c, root, "absent", 0, 1, 10, &v), 0);
	EXPECT_NONE(&f);

	v = 42;
	assert_int_equal(jcheck_int(&f.c, root, "zero", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "eleven", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "frac", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "exp", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "str", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "d19", 0, 0, INT64_MAX, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "absent", JCHECK_REQUIRED, 1, 10, &v), 0);
	assert_int_equal(v, 42);
	EXPECT(&f, "/zero: must be an integer from 1 to 10", "/eleven: must be an integer from 1 to 10",
	       "/frac: must be an integer from 1 to 10", "/exp: must be an integer from 1 to 10",
	       "/str: must be an integer from 1 to 10",
	       "/d19: must be an integer from 0 to 9223372036854775807", "/absent: is required");
	finish(&f);

	/* the ECS style tells a value of another type its type */
	root = start(&f, JCHECK_STYLE_ECS, NULL, ints_doc);
	assert_int_equal(jcheck_int(&f.c, root, "str", 0, 1, 10, &v), -1);
	assert_int_equal(jcheck_int(&f.c, root, "frac", 0, -10, 10, &v), -1);
	EXPECT(&f, "/str: must be an integer", "/frac: must be an integer from -10 to 10");
	finish(&f);
}

static void test_bool(void **state)
{
	const char *json = "{\"t\": true, \"f\": false, \"s\": \"true\", \"n\": 0}";
	struct fx f;
	const struct jnode *root;
	bool b = false;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, json);
	assert_int_equal(jcheck_bool(&f.c, root, "t", 0, &b), 1);
	assert_true(b);
	assert_int_equal(jcheck_bool(&f.c, root, "f", JCHECK_REQUIRED, &b), 1);
	assert_false(b);
	assert_int_equal(jcheck_bool(&f.c, root, "t", 0, NULL), 1);
	assert_int_equal(jcheck_bool(&f.c, root, "absent", 0, &b), 0);
	EXPECT_NONE(&f);
	b = true;
	assert_int_equal(jcheck_bool(&f.c, root, "s", 0, &b), -1);
	assert_int_equal(jcheck_bool(&f.c, root, "n", 0, NULL), -1);
	assert_int_equal(jcheck_bool(&f.c, root, "absent", JCHECK_REQUIRED, &b), 0);
	assert_true(b);
	EXPECT(&f, "/s: must be true or false", "/n: must be true or false", "/absent: is required");
	finish(&f);

	root = start(&f, JCHECK_STYLE_ECS, NULL, json);
	assert_int_equal(jcheck_bool(&f.c, root, "s", 0, &b), -1);
	EXPECT(&f, "/s: must be a boolean");
	finish(&f);
}

static void test_enum(void **state)
{
	static const char *const one[] = {"ONLY", NULL};
	static const char *const two[] = {"A", "B", NULL};
	static const char *const three[] = {"x", "y", "z", NULL};
	const char *json = "{\"v\": \"B\", \"w\": \"b\", \"n\": 5}";
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, json);
	assert_int_equal(jcheck_enum(&f.c, root, "v", JCHECK_REQUIRED, two, 7), 1);
	assert_int_equal(jcheck_enum(&f.c, root, "absent", 0, two, 7), 7);
	EXPECT_NONE(&f);
	assert_int_equal(jcheck_enum(&f.c, root, "w", 0, one, 7), -1);
	assert_int_equal(jcheck_enum(&f.c, root, "w", 0, two, 7), -1);
	assert_int_equal(jcheck_enum(&f.c, root, "w", 0, three, 7), -1);
	assert_int_equal(jcheck_enum(&f.c, root, "n", 0, two, 7), -1);
	assert_int_equal(jcheck_enum(&f.c, root, "absent", JCHECK_REQUIRED, two, 7), 7);
	EXPECT(&f, "/w: must be ONLY", "/w: must be A or B", "/w: must be one of x, y, z",
	       "/n: must be A or B", "/absent: is required");
	finish(&f);

	root = start(&f, JCHECK_STYLE_ECS, NULL, json);
	assert_int_equal(jcheck_enum(&f.c, root, "n", 0, two, 7), -1);
	assert_int_equal(jcheck_enum(&f.c, root, "w", 0, three, 7), -1);
	EXPECT(&f, "/n: must be a string", "/w: must be one of x, y, z");
	finish(&f);
}

static void test_array(void **state)
{
	const char *json = "{\"a\": [1, 2, 3], \"e\": [], \"o\": {}}";
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, json);
	assert_ptr_equal(jcheck_array(&f.c, root, "a", 0, 3, 3), jnode_get(root, "a"));
	assert_non_null(jcheck_array(&f.c, root, "e", JCHECK_REQUIRED, 0, 0));
	assert_null(jcheck_array(&f.c, root, "absent", 0, 0, 1));
	EXPECT_NONE(&f);
	assert_null(jcheck_array(&f.c, root, "a", 0, 1, 2));
	assert_null(jcheck_array(&f.c, root, "a", 0, 4, 9));
	assert_null(jcheck_array(&f.c, root, "e", 0, 1, 5));
	assert_null(jcheck_array(&f.c, root, "o", 0, 0, 5));
	assert_null(jcheck_array(&f.c, root, "absent", JCHECK_REQUIRED, 0, 1));
	EXPECT(&f, "/a: must have 1 to 2 items", "/a: must have 4 to 9 items",
	       "/e: must have 1 to 5 items", "/o: must be an array", "/absent: is required");
	finish(&f);

	root = start(&f, JCHECK_STYLE_ECS, "request", json);
	assert_null(jcheck_array(&f.c, root, "a", 0, 1, 2));
	EXPECT(&f, "request: /a: must hold 1 to 2 items");
	finish(&f);
}

static bool nonempty(const char *s, size_t n)
{
	(void)s;
	return n > 0;
}

static void test_strings(void **state)
{
	const char *json = "{\"ok\": [\"x\", \"yy\"], \"mixed\": [\"x\", \"\", \"\\u0000\", 5, \"yy\"],"
			   " \"long\": [\"\", \"a\", \"b\"], \"e\": []}";
	struct fx f;
	const struct jnode *root;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL, json);
	assert_ptr_equal(jcheck_strings(&f.c, root, "ok", JCHECK_REQUIRED, 1, 2, nonempty, "bad"),
			 jnode_get(root, "ok"));
	assert_non_null(jcheck_strings(&f.c, root, "e", 0, 0, 0, nonempty, "bad"));
	assert_null(jcheck_strings(&f.c, root, "absent", 0, 0, 1, NULL, "bad"));
	EXPECT_NONE(&f);
	/* item_ok decides about NUL characters and ""; NULL takes any string */
	assert_null(jcheck_strings(&f.c, root, "mixed", 0, 0, 9, nonempty, "must be a name"));
	assert_null(jcheck_strings(&f.c, root, "mixed", 0, 0, 9, NULL, "must be a string"));
	EXPECT(&f, "/mixed/1: must be a name", "/mixed/3: must be a name",
	       "/mixed/3: must be a string");
	/* the file style goes on to the items when the count is wrong */
	assert_null(jcheck_strings(&f.c, root, "long", 0, 0, 2, nonempty, "bad"));
	assert_null(jcheck_strings(&f.c, root, "absent", JCHECK_REQUIRED, 0, 1, NULL, "bad"));
	EXPECT(&f, "/long: must have 0 to 2 items", "/long/0: bad", "/absent: is required");
	finish(&f);

	/* the ECS style reports the count alone */
	root = start(&f, JCHECK_STYLE_ECS, NULL, json);
	assert_null(jcheck_strings(&f.c, root, "long", 0, 0, 2, nonempty, "bad"));
	assert_null(jcheck_strings(&f.c, root, "mixed", 0, 0, 9, nonempty, "must be a string"));
	EXPECT(&f, "/long: must hold 0 to 2 items", "/mixed/1: must be a string",
	       "/mixed/3: must be a string");
	finish(&f);
}

/* Records each item's index and pointer; descends into "inner" arrays. */
struct seen {
	size_t n;
	size_t index[8];
	char ptr[8][64];
};

static void record(struct jcheck *c, const struct jnode *item, size_t i, void *arg)
{
	struct seen *s = arg;
	const struct jnode *inner = jcheck_member(c, item, "inner", JNODE_ARRAY, 0);

	assert_true(s->n < 8);
	s->index[s->n] = i;
	snprintf(s->ptr[s->n], sizeof(s->ptr[0]), "%s", jptr_str(&c->ptr));
	s->n++;
	if (inner)
		jcheck_each_object(c, inner, "inner", record, arg);
}

static void test_each_object(void **state)
{
	struct fx f;
	const struct jnode *root;
	struct seen s = {0};
	size_t old;

	(void)state;
	root = start(&f, JCHECK_STYLE_FILE, NULL,
		     "{\"outer\": [{\"inner\": [{}, 5, [], {\"inner\": \"no\"}]}, 3, {}]}");
	old = jcheck_push(&f.c, "Rules");
	jcheck_each_object(&f.c, jnode_get(root, "outer"), "outer", record, &s);
	jcheck_pop(&f.c, old);
	EXPECT(&f, "/Rules/outer/0/inner/1: must be an object",
	       "/Rules/outer/0/inner/2: must be an object",
	       "/Rules/outer/0/inner/3/inner: must be an array", "/Rules/outer/1: must be an object");
	assert_int_equal(s.n, 4);
	assert_string_equal(s.ptr[0], "/Rules/outer/0");
	assert_int_equal(s.index[0], 0);
	assert_string_equal(s.ptr[1], "/Rules/outer/0/inner/0");
	assert_int_equal(s.index[1], 0);
	assert_string_equal(s.ptr[2], "/Rules/outer/0/inner/3");
	assert_int_equal(s.index[2], 3);
	assert_string_equal(s.ptr[3], "/Rules/outer/2");
	assert_int_equal(s.index[3], 2);
	finish(&f);
}

static void test_memory(void **state)
{
	struct fx f;
	char *d;
	unsigned char *z;

	(void)state;
	start(&f, JCHECK_STYLE_FILE, NULL, "{}");
	d = jcheck_dup(&f.c, "ab\0cd", 5);
	assert_non_null(d);
	assert_memory_equal(d, "ab\0cd", 6);
	free(d);
	d = jcheck_dup(&f.c, "", 0);
	assert_non_null(d);
	assert_string_equal(d, "");
	free(d);
	/* room even for no items: NULL only ever means out of memory */
	z = jcheck_calloc(&f.c, 0, 4);
	assert_non_null(z);
	assert_memory_equal(z, "\0\0\0\0", 4);
	free(z);
	z = jcheck_calloc(&f.c, 3, 2);
	assert_non_null(z);
	assert_memory_equal(z, "\0\0\0\0\0\0", 6);
	free(z);
	assert_false(f.c.failed);
	finish(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages_file_style),
		cmocka_unit_test(test_messages_ecs_style),
		cmocka_unit_test(test_message_limits),
		cmocka_unit_test(test_pointer_escaping),
		cmocka_unit_test(test_pointer_nested_arrays),
		cmocka_unit_test(test_pointer_limit),
		cmocka_unit_test(test_fields_file_style),
		cmocka_unit_test(test_fields_ecs_style),
		cmocka_unit_test(test_fields_many),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_each_object),
		cmocka_unit_test(test_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
