/*
 * test_transform.c — a target's input (rules/transform.c): Input, InputPath
 * and InputTransformer against the examples of EventBridge's documentation
 * ("Transforming target input", the InputTransformer API reference) and
 * each of tripline's decisions (rules/README.md, "Input transformation").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "transform.h"

/* EventBridge's example EC2 event, as its documentation prints it. */
static const char ec2_event[] =
	"{\n"
	"  \"version\": \"0\",\n"
	"  \"id\": \"7bf73129-1428-4cd3-a780-95db273d1602\",\n"
	"  \"detail-type\": \"EC2 Instance State-change Notification\",\n"
	"  \"source\": \"aws.ec2\",\n"
	"  \"account\": \"123456789012\",\n"
	"  \"time\": \"2015-11-11T21:29:54Z\",\n"
	"  \"region\": \"us-east-1\",\n"
	"  \"resources\": [\n"
	"    \"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"\n"
	"  ],\n"
	"  \"detail\": {\n"
	"    \"instance-id\": \"i-0123456789\",\n"
	"    \"state\": \"RUNNING\"\n"
	"  }\n"
	"}";

static const char ec2_compact[] =
	"{\"version\":\"0\",\"id\":\"7bf73129-1428-4cd3-a780-95db273d1602\","
	"\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
	"\"account\":\"123456789012\",\"time\":\"2015-11-11T21:29:54Z\",\"region\":\"us-east-1\","
	"\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"],"
	"\"detail\":{\"instance-id\":\"i-0123456789\",\"state\":\"RUNNING\"}}";

static const char ec2_without_detail[] =
	"{\"version\":\"0\",\"id\":\"7bf73129-1428-4cd3-a780-95db273d1602\","
	"\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
	"\"account\":\"123456789012\",\"time\":\"2015-11-11T21:29:54Z\",\"region\":\"us-east-1\","
	"\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"]}";

/* The documentation's InputPathsMap, with the API reference's <status>. */
static const char *const ec2_names[] = {"timestamp", "instance", "state", "status"};
static const char *const ec2_paths[] = {"$.time", "$.detail.instance-id", "$.detail.state",
					"$.detail.state"};

#define RULE_ARN "arn:aws:events:us-east-2:123456789012:rule/example"

/* ------------------------------------------------------------ helpers */

static struct transform *compile_ok(const struct transform_spec *spec)
{
	struct transform *t = NULL;
	char why[256];
	int r = transform_compile(spec, &t, why, sizeof(why));

	if (r != 0)
		fail_msg("compile failed (%d): %s", r, why);
	return t;
}

static void expect_compile_error(const struct transform_spec *spec, const char *want)
{
	struct transform *t = (struct transform *)1;
	char why[256];

	assert_int_equal(transform_compile(spec, &t, why, sizeof(why)), -EINVAL);
	assert_null(t);
	assert_string_equal(why, want);
}

/* Renders t over event (rule "example", ingestion time fixed) into a malloc'd string. */
static char *render(const struct transform *t, const char *event)
{
	struct transform_ctx ctx = {
		.event = event, .event_len = strlen(event), .rule_name = "example",
		.rule_arn = RULE_ARN, .ingestion_time = "2026-12-07T08:47:06Z",
	};
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(transform_render(t, &ctx, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

static struct transform_spec template_spec(const char *const *names, const char *const *paths,
					   size_t n, const char *tpl)
{
	return (struct transform_spec){
		.names = names, .paths = paths, .n_paths = n,
		.template_text = tpl, .template_len = strlen(tpl),
	};
}

static bool is_json(const char *s)
{
	struct jdoc *doc = NULL;
	int r = jdoc_parse(s, strlen(s), NULL, &doc, NULL);

	jdoc_free(doc);
	return r == 0;
}

/* Compiles tpl over the map, renders event, compares with want and the shape. */
static void expect_template(const char *const *names, const char *const *paths, size_t n,
			    const char *tpl, const char *event, const char *want,
			    enum transform_shape shape)
{
	struct transform_spec spec = template_spec(names, paths, n, tpl);
	struct transform *t = compile_ok(&spec);
	char *out = render(t, event);

	if (strcmp(out, want) != 0)
		fail_msg("template %s\n  want %s\n  got  %s", tpl, want, out);
	assert_int_equal(transform_shape(t), shape);
	if (shape != TRANSFORM_SHAPE_TEXT)
		assert_true(is_json(out));
	free(out);
	transform_free(t);
}

static void expect_ec2(const char *tpl, const char *want, enum transform_shape shape)
{
	expect_template(ec2_names, ec2_paths, 4, tpl, ec2_event, want, shape);
}

/* ------------------------------------------------------------ EventBridge's examples */

static void test_documentation_examples(void **state)
{
	(void)state;
	/* "Simple string" */
	expect_ec2("\"instance <instance> is in <state>\"",
		   "\"instance i-0123456789 is in RUNNING\"", TRANSFORM_SHAPE_JSON);
	/* "String with escaped quotes" */
	expect_ec2("\"instance \\\"<instance>\\\" is in <state>\"",
		   "\"instance \\\"i-0123456789\\\" is in RUNNING\"", TRANSFORM_SHAPE_JSON);
	/* "Simple JSON": the JSON a target gets is minified */
	expect_ec2("{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}",
		   "{\"instance\":\"i-0123456789\",\"state\":\"RUNNING\"}", TRANSFORM_SHAPE_OBJECT);
	/* "JSON with strings and variables" */
	expect_ec2("{\n \"instance\" : <instance>,\n \"state\": \"<state>\",\n"
		   " \"instanceStatus\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
		   "{\"instance\":\"i-0123456789\",\"state\":\"RUNNING\","
		   "\"instanceStatus\":\"instance \\\"i-0123456789\\\" is in RUNNING\"}",
		   TRANSFORM_SHAPE_OBJECT);
	/* "JSON with a mix of variables and static information" */
	expect_ec2("{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n"
		   "  \"Transformed\" : \"Yes\"\n}\n",
		   "{\"instance\":\"i-0123456789\",\"state\":[9,\"RUNNING\",true],\"Transformed\":\"Yes\"}",
		   TRANSFORM_SHAPE_OBJECT);
	/* "Including reserved variables in JSON" (the event without detail, as
	 * EventBridge documents <aws.events.event>) */
	char want[2048];
	snprintf(want, sizeof(want),
		 "{\"instance\":\"i-0123456789\",\"state\":\"RUNNING\",\"ruleArn\":\"%s\","
		 "\"ruleName\":\"example\",\"originalEvent\":%s}", RULE_ARN, ec2_without_detail);
	expect_ec2("{\n  \"instance\" : <instance>,\n  \"state\": <state>,\n"
		   "  \"ruleArn\" : <aws.events.rule-arn>,\n  \"ruleName\" : <aws.events.rule-name>,\n"
		   "  \"originalEvent\" : <aws.events.event>\n}", want, TRANSFORM_SHAPE_OBJECT);
	/* "Including reserved variables in a string" */
	expect_ec2("\"<aws.events.rule-name> triggered\"", "\"example triggered\"",
		   TRANSFORM_SHAPE_JSON);
	/* "Amazon CloudWatch log group": EventBridge inserts the text raw and
	 * writes broken JSON; tripline quotes the whole value and escapes the
	 * text, so the output is JSON */
	expect_ec2("{\n  \"timestamp\" : <timestamp>,\n  \"message\": \"instance \\\"<instance>\\\" is in <state>\"\n}",
		   "{\"timestamp\":\"2015-11-11T21:29:54Z\",\"message\":\"instance \\\"i-0123456789\\\" is in RUNNING\"}",
		   TRANSFORM_SHAPE_OBJECT);
}

static void test_api_reference_examples(void **state)
{
	(void)state;
	/* plain text, as the InputTransformer API reference shows it */
	expect_ec2("<instance> is in state <status>", "i-0123456789 is in state RUNNING",
		   TRANSFORM_SHAPE_TEXT);
	expect_ec2("<instance> is in state \"<status>\"", "i-0123456789 is in state \"RUNNING\"",
		   TRANSFORM_SHAPE_TEXT);
	expect_ec2("{\"myInstance\": <instance>,\"myStatus\": \"<instance> is in state \\\"<status>\\\"\"}",
		   "{\"myInstance\":\"i-0123456789\",\"myStatus\":\"i-0123456789 is in state \\\"RUNNING\\\"\"}",
		   TRANSFORM_SHAPE_OBJECT);
}

/* ------------------------------------------------------------ values */

static const char typed_event[] =
	"{\"source\":\"s\",\"detail\":{\"count\":3.50e1,\"neg\":-7,\"obj\":{\"a\": [1, \"x\\\"y\"]},"
	"\"arr\":[1, 2],\"flag\":true,\"nil\":null,\"s\":\"q\\\" b\\\\ nl\\n \\u00e9 \\/\","
	"\"nested\":[[0,{\"id\":\"deep\"}]],\"empty\":{}}}";
static const char *const typed_names[] = {"count", "neg", "obj", "arr", "flag", "nil", "s",
					  "deep", "missing", "empty", "first"};
static const char *const typed_paths[] = {
	"$.detail.count", "$.detail.neg", "$.detail.obj", "$.detail.arr", "$.detail.flag",
	"$.detail.nil", "$.detail.s", "$.detail.nested[0][1].id", "$.detail.nope.x",
	"$.detail.empty", "$.detail.arr[0]",
};
#define NTYPED (sizeof(typed_names) / sizeof(typed_names[0]))

static void expect_typed(const char *tpl, const char *want, enum transform_shape shape)
{
	expect_template(typed_names, typed_paths, NTYPED, tpl, typed_event, want, shape);
}

static void test_whole_values(void **state)
{
	(void)state;
	/* a placeholder standing as a value inserts the value as JSON, as written */
	expect_typed("{\"c\": <count>, \"n\": <neg>, \"o\": <obj>, \"a\": <arr>, \"f\": <flag>,"
		     " \"z\": <nil>, \"s\": <s>, \"d\": <deep>, \"e\": <empty>, \"i\": <first>}",
		     "{\"c\":3.50e1,\"n\":-7,\"o\":{\"a\":[1,\"x\\\"y\"]},\"a\":[1,2],\"f\":true,"
		     "\"z\":null,\"s\":\"q\\\" b\\\\ nl\\n \\u00e9 \\/\",\"d\":\"deep\",\"e\":{},\"i\":1}",
		     TRANSFORM_SHAPE_OBJECT);
	expect_typed("[<count>,<arr>,[<nil>]]", "[3.50e1,[1,2],[null]]", TRANSFORM_SHAPE_JSON);
	/* one placeholder as the whole template: whatever the event holds */
	expect_typed("  <obj>  ", "{\"a\":[1,\"x\\\"y\"]}", TRANSFORM_SHAPE_DEPENDS);
	expect_typed("<count>", "3.50e1", TRANSFORM_SHAPE_DEPENDS);
	expect_typed("42", "42", TRANSFORM_SHAPE_JSON);
}

static void test_values_in_strings(void **state)
{
	(void)state;
	/* the text, JSON-escaped; arrays and objects as compact JSON, escaped */
	expect_typed("\"c=<count> n=<neg> o=<obj> a=<arr> f=<flag> z=<nil> e=<empty>\"",
		     "\"c=3.50e1 n=-7 o={\\\"a\\\":[1,\\\"x\\\\\\\"y\\\"]} a=[1,2] f=true z=null e={}\"",
		     TRANSFORM_SHAPE_JSON);
	/* a string's escapes stay escapes: the output string holds the same text */
	expect_typed("{\"msg\": \"s=<s>!\"}", "{\"msg\":\"s=q\\\" b\\\\ nl\\n \\u00e9 \\/!\"}",
		     TRANSFORM_SHAPE_OBJECT);
	/* '<' that is no placeholder is text */
	expect_typed("\"a <= b, <> and < count> <count>\"", "\"a <= b, <> and < count> 3.50e1\"",
		     TRANSFORM_SHAPE_JSON);
}

static void test_plain_text(void **state)
{
	(void)state;
	/* placeholders are inserted as text: strings decoded, the rest as compact JSON */
	expect_typed("s=<s> o=<obj> c=<count> m=[<missing>]\n",
		     "s=q\" b\\ nl\n \xc3\xa9 / o={\"a\":[1,\"x\\\"y\"]} c=3.50e1 m=[]\n",
		     TRANSFORM_SHAPE_TEXT);
	/* not JSON although it starts like a string */
	expect_typed("\"<count>\" items", "\"3.50e1\" items", TRANSFORM_SHAPE_TEXT);
	/* reserved variables in text: as they are */
	expect_template(NULL, NULL, 0, "rule <aws.events.rule-name> (<aws.events.rule-arn>) at <aws.events.event.ingestion-time>",
			"{}", "rule example (" RULE_ARN ") at 2026-12-07T08:47:06Z", TRANSFORM_SHAPE_TEXT);
}

static void test_missing_paths(void **state)
{
	(void)state;
	/* "" as a whole value, nothing inside a string literal */
	expect_typed("{\"m\": <missing>, \"t\": \"x<missing>y\", \"l\": [<missing>]}",
		     "{\"m\":\"\",\"t\":\"xy\",\"l\":[\"\"]}", TRANSFORM_SHAPE_OBJECT);
	/* a path into a value of the wrong kind is missing too */
	static const char *const n[] = {"a", "b", "c"};
	static const char *const p[] = {"$.detail.s.x", "$.detail.obj[0]", "$.detail.arr[5]"};
	expect_template(n, p, 3, "[<a>,<b>,<c>]", typed_event, "[\"\",\"\",\"\"]",
			TRANSFORM_SHAPE_JSON);
	/* and from a non-object event */
	expect_template(n, p, 3, "[<a>]", "[1,2]", "[\"\"]", TRANSFORM_SHAPE_JSON);
}

static void test_reserved_variables(void **state)
{
	(void)state;
	char want[2048];

	/* whole values: strings quoted; the event as JSON, with and without detail */
	snprintf(want, sizeof(want),
		 "{\"n\":\"example\",\"a\":\"%s\",\"t\":\"2026-12-07T08:47:06Z\",\"e\":%s,\"j\":%s}",
		 RULE_ARN, ec2_without_detail, ec2_compact);
	expect_template(NULL, NULL, 0,
			"{\"n\": <aws.events.rule-name>, \"a\": <aws.events.rule-arn>,"
			" \"t\": <aws.events.event.ingestion-time>, \"e\": <aws.events.event>,"
			" \"j\": <aws.events.event.json>}", ec2_event, want, TRANSFORM_SHAPE_OBJECT);
	/* alone, the event is an object */
	expect_template(NULL, NULL, 0, "<aws.events.event.json>", ec2_event, ec2_compact,
			TRANSFORM_SHAPE_OBJECT);
	expect_template(NULL, NULL, 0, "<aws.events.rule-name>", ec2_event, "\"example\"",
			TRANSFORM_SHAPE_JSON);
	/* inside a string: compact JSON, escaped */
	expect_template(NULL, NULL, 0, "\"<aws.events.event.json>\"", "{\"a\": \"b\\\\c\"}",
			"\"{\\\"a\\\":\\\"b\\\\\\\\c\\\"}\"", TRANSFORM_SHAPE_JSON);
	/* a reserved name may not be mapped */
	static const char *const n[] = {"AWS.events.rule-name"};
	static const char *const p[] = {"$.x"};
	struct transform_spec spec = template_spec(n, p, 1, "<x>");
	expect_compile_error(&spec, "InputPathsMap: AWS.events.rule-name: names starting with \"aws.\" are reserved for the predefined placeholders");
}

static void test_rule_context_escaped(void **state)
{
	static const char *const tpls[] = {"{\"n\": <aws.events.rule-name>}", "\"<aws.events.rule-name>\""};
	static const char *const want[] = {"{\"n\":\"a\\\"b\\\\c\\u000a\"}", "\"a\\\"b\\\\c\\u000a\""};
	struct transform_ctx ctx = {.event = "{}", .event_len = 2, .rule_name = "a\"b\\c\n"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct transform_spec spec = template_spec(NULL, NULL, 0, tpls[i]);
		struct transform *t = compile_ok(&spec);
		char *out;
		size_t len;
		assert_int_equal(transform_render(t, &ctx, &out, &len), 0);
		assert_string_equal(out, want[i]);
		free(out);
		transform_free(t);
	}
	/* NULL context strings render as "" */
	struct transform_spec spec = template_spec(NULL, NULL, 0, "[<aws.events.rule-arn>,\"<aws.events.event.ingestion-time>\"]");
	struct transform *t = compile_ok(&spec);
	char *out;
	size_t len;
	assert_int_equal(transform_render(t, &ctx, &out, &len), 0);
	assert_string_equal(out, "[\"\",\"\"]");
	free(out);
	transform_free(t);
}

/* ------------------------------------------------------------ Input, InputPath, the event */

static void expect_spec(const struct transform_spec *spec, const char *event, const char *want,
			enum transform_shape shape)
{
	struct transform *t = compile_ok(spec);
	char *out = render(t, event);

	assert_string_equal(out, want);
	assert_int_equal(transform_shape(t), shape);
	free(out);
	transform_free(t);
}

static void test_input_and_input_path(void **state)
{
	struct transform_spec spec = {0};

	(void)state;
	/* nothing: the event */
	expect_spec(&spec, ec2_event, ec2_compact, TRANSFORM_SHAPE_OBJECT);
	/* Input: constant JSON, compact */
	spec.input = "{ \"containerOverrides\" : [ {\"name\": \"a b\"} ] }";
	spec.input_len = strlen(spec.input);
	expect_spec(&spec, ec2_event, "{\"containerOverrides\":[{\"name\":\"a b\"}]}",
		    TRANSFORM_SHAPE_OBJECT);
	spec.input = " \"text\" ";
	spec.input_len = strlen(spec.input);
	expect_spec(&spec, ec2_event, "\"text\"", TRANSFORM_SHAPE_JSON);
	/* InputPath */
	spec = (struct transform_spec){.input_path = "$.detail"};
	expect_spec(&spec, ec2_event, "{\"instance-id\":\"i-0123456789\",\"state\":\"RUNNING\"}",
		    TRANSFORM_SHAPE_DEPENDS);
	spec.input_path = "$.resources[0]";
	expect_spec(&spec, ec2_event, "\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"",
		    TRANSFORM_SHAPE_DEPENDS);
	spec.input_path = "$";
	expect_spec(&spec, ec2_event, ec2_compact, TRANSFORM_SHAPE_OBJECT);
	spec.input_path = "$.detail.nothing";
	expect_spec(&spec, ec2_event, "\"\"", TRANSFORM_SHAPE_DEPENDS);
}

static void test_keys(void **state)
{
	static const char *const n[] = {"k", "e", "sl"};
	static const char *const p[] = {"$.d.k", "$.d.ab", "$.d.a/b c"};

	(void)state;
	/* the last of repeated keys; escaped keys compared by their text; any characters in names */
	expect_template(n, p, 3, "[<k>,<e>,<sl>]",
			"{\"d\":{\"k\":1,\"a\\u0062\":\"esc\",\"k\":2,\"a/b c\":3},\"d\":{\"k\":3}}",
			"[3,\"\",\"\"]", TRANSFORM_SHAPE_JSON);
	expect_template(n, p, 3, "[<k>,<e>,<sl>]",
			"{\"d\":{\"k\":1,\"a\\u0062\":\"esc\",\"k\":2,\"a/b c\":3}}",
			"[2,\"esc\",3]", TRANSFORM_SHAPE_JSON);
	/* two names for one path, and a path below another */
	static const char *const n2[] = {"a", "b", "c"};
	static const char *const p2[] = {"$.d", "$.d", "$.d.k"};
	expect_template(n2, p2, 3, "[<a>,<b>,<c>]", "{\"d\":{\"k\":[true]}}",
			"[{\"k\":[true]},{\"k\":[true]},[true]]", TRANSFORM_SHAPE_JSON);
}

/* ------------------------------------------------------------ errors and limits */

static void test_compile_errors(void **state)
{
	static const char *const n[] = {"k"};
	static const char *const p[] = {"$.k"};
	struct transform_spec spec;

	(void)state;
	spec = template_spec(n, p, 1, "{\"a\": <nope>}");
	expect_compile_error(&spec, "placeholder <nope> is not defined in InputPathsMap");
	spec = template_spec(n, p, 1, "plain <nope> text");
	expect_compile_error(&spec, "placeholder <nope> is not defined in InputPathsMap");
	spec = template_spec(n, p, 1, "{\"a\": <k>,}");
	expect_compile_error(&spec, "starts with '{' but is not JSON: expected a string key in object at offset 10 (a placeholder may stand where a value can, or inside a string)");
	spec = template_spec(n, p, 1, "[<k> <k>]");
	expect_compile_error(&spec, "starts with '[' but is not JSON: expected ',' or ']' in array at offset 5 (a placeholder may stand where a value can, or inside a string)");
	spec = template_spec(n, p, 1, "{\"<k>\": 1}");
	expect_compile_error(&spec, "starts with '{' but is not JSON: a placeholder cannot be used in an object key at offset 2 (a placeholder may stand where a value can, or inside a string)");
	spec = template_spec(n, p, 1, "{\"a\": 1} tail");
	expect_compile_error(&spec, "starts with '{' but is not JSON: unexpected text after the value at offset 9 (a placeholder may stand where a value can, or inside a string)");
	spec = template_spec(n, p, 1, "");
	expect_compile_error(&spec, "must be 1 to 8192 characters");
	char *big = malloc(8194);
	memset(big, 'x', 8193);
	big[8193] = '\0';
	spec = template_spec(n, p, 1, big);
	expect_compile_error(&spec, "must be 1 to 8192 characters");
	free(big);

	static const char *const wild[] = {"$.detail.*"};
	spec = template_spec(n, wild, 1, "<k>");
	expect_compile_error(&spec, "InputPathsMap: k: invalid JSONPath: wildcards (*) are not supported: name each key, as in $.detail.key");
	static const char *const bad_name[] = {"a b"};
	spec = template_spec(bad_name, p, 1, "x");
	expect_compile_error(&spec, "InputPathsMap: a b: a name must be letters, digits, '_' and '-'");

	const char *names[101], *paths[101];
	char buf[101][8];
	for (size_t i = 0; i < 101; i++) {
		snprintf(buf[i], sizeof(buf[i]), "n%zu", i);
		names[i] = buf[i];
		paths[i] = "$.x";
	}
	spec = template_spec(names, paths, 100, "<n99>");
	transform_free(compile_ok(&spec));
	spec = template_spec(names, paths, 101, "<n99>");
	expect_compile_error(&spec, "InputPathsMap must have at most 100 entries");

	spec = (struct transform_spec){.input = "{\"a\": }", .input_len = 7};
	expect_compile_error(&spec, "Input is not valid JSON: invalid number at offset 6");
	spec = (struct transform_spec){.input = "{} {}", .input_len = 5};
	expect_compile_error(&spec, "Input is not valid JSON: unexpected text after the value at offset 3");
	spec = (struct transform_spec){.input_path = "detail"};
	expect_compile_error(&spec, "InputPath: invalid JSONPath: must start with \"$\"");
	spec = (struct transform_spec){.input = "{}", .input_len = 2, .input_path = "$"};
	expect_compile_error(&spec, "Input, InputPath and InputTransformer cannot be used together");
}

static void test_invalid_events(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"detail\": {\"k\": 1}", "{} x", "{\"k\": 01}", "{\"detail\": [1,]}",
		"{\"a\": \"\xff\"}", "{\"detail\": {\"k\": \"\\x\"}}", "nul",
	};
	struct transform_spec specs[3] = {
		{0},
		{.input_path = "$.detail.k"},
		template_spec(NULL, NULL, 0, "\"<aws.events.rule-name>\""),
	};

	(void)state;
	for (size_t s = 0; s < 3; s++) {
		struct transform *t = compile_ok(&specs[s]);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct transform_ctx ctx = {.event = bad[i], .event_len = strlen(bad[i])};
			char *out = (char *)1;
			size_t len = 1;
			if (transform_render(t, &ctx, &out, &len) != -EINVAL)
				fail_msg("spec %zu accepted event %s", s, bad[i]);
			assert_null(out);
		}
		transform_free(t);
	}
}

static void test_output_bound(void **state)
{
	size_t n = 20000;
	char *ev = malloc(n + 32);
	char tpl[4096] = "[";
	struct transform *t;
	char *out;
	size_t len;

	(void)state;
	snprintf(ev, n + 32, "{\"k\":\"%0*d\"}", (int)n, 0);
	for (int i = 0; i < 100; i++)
		strcat(tpl, i ? ",<aws.events.event.json>" : "<aws.events.event.json>");
	strcat(tpl, "]");
	struct transform_spec spec = template_spec(NULL, NULL, 0, tpl);
	t = compile_ok(&spec);
	struct transform_ctx ctx = {.event = ev, .event_len = strlen(ev)};
	/* 100 copies of a 20 kB event pass 1 MiB */
	assert_int_equal(transform_render(t, &ctx, &out, &len), -E2BIG);
	/* 50 fit */
	tpl[50 * 24] = ']';
	tpl[50 * 24 + 1] = '\0';
	transform_free(t);
	spec = template_spec(NULL, NULL, 0, tpl);
	t = compile_ok(&spec);
	assert_int_equal(transform_render(t, &ctx, &out, &len), 0);
	assert_int_equal(len, 2 + 50 * strlen(ev) + 49);
	free(out);
	transform_free(t);
	free(ev);

	/* an event larger than the bound still passes whole */
	n = TRANSFORM_MAX_OUTPUT * 2;
	ev = malloc(n + 32);
	snprintf(ev, n + 32, "{\"k\":\"%0*d\"}", (int)n, 0);
	spec = (struct transform_spec){0};
	t = compile_ok(&spec);
	ctx = (struct transform_ctx){.event = ev, .event_len = strlen(ev)};
	assert_int_equal(transform_render(t, &ctx, &out, &len), 0);
	assert_int_equal(len, strlen(ev));
	free(out);
	transform_free(t);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documentation_examples),
		cmocka_unit_test(test_api_reference_examples),
		cmocka_unit_test(test_whole_values),
		cmocka_unit_test(test_values_in_strings),
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_missing_paths),
		cmocka_unit_test(test_reserved_variables),
		cmocka_unit_test(test_rule_context_escaped),
		cmocka_unit_test(test_input_and_input_path),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_invalid_events),
		cmocka_unit_test(test_output_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
