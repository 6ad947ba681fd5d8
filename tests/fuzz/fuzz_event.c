/*
 * fuzz_event.c — libFuzzer target for the event scanner, differential
 * against jansson.
 *
 * The matcher must accept exactly the inputs that jansson accepts as a JSON
 * object, whether the scanner reads a part of the input (a path some pattern
 * names) or skips it, so three matchers are used: one with no pattern (every
 * member skipped), one whose patterns name common short keys at several
 * depths, and one with array-consistency and exists:false patterns.
 * Inputs that only differ from jansson in documented ways are not compared:
 * numbers beyond jansson's integer/double range (valid JSON that jansson
 * refuses), NUL in object keys (jansson refuses), a raw NUL byte anywhere
 * (jansson stops reading there and may accept what precedes it), and nesting
 * deeper than the matcher's limit (refused by us as a limit, -E2BIG).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "matcher.h"
#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct matcher *matchers[3];
static struct match_scratch *scratch;

static struct matcher *build(const char *const *patterns, size_t n)
{
	struct matcher_builder *b = matcher_builder_new(NULL);
	struct matcher *m;
	for (size_t i = 0; i < n; i++) {
		struct errlist errs = ERRLIST_INIT;
		struct pattern *p;
		if (pattern_parse(patterns[i], strlen(patterns[i]), PATTERN_DIALECT_TRIPLINE, NULL, &p,
				  &errs) < 0) {
			fprintf(stderr, "fuzz_event: bad built-in pattern %s: %s\n", patterns[i],
				errs.n ? errs.msgs[0] : "?");
			abort();
		}
		if (matcher_builder_add(b, (uint32_t)i, p) < 0)
			abort();
	}
	if (matcher_build(b, &m) < 0)
		abort();
	return m;
}

static void init(void)
{
	static const char *const some[] = {
		"{\"a\":[{\"exists\":true}]}",
		"{\"b\":{\"c\":[\"x\",{\"prefix\":\"y\"},{\"numeric\":[\">\",0]}]}}",
		"{\"a.b.c\":[{\"exists\":false}],\"\":[null]}",
		"{\"x\":[{\"equals-ignore-case\":\"\\u00c9t\\u00e9\"}],\"y\":[{\"wildcard\":\"*a*\"}]}",
	};
	static const char *const arrays[] = {
		"{\"r\":{\"a\":[1],\"b\":[{\"exists\":false}]}}",
		"{\"r\":{\"a\":[{\"anything-but\":\"q\"}],\"c\":{\"d\":[{\"cidr\":\"10.0.0.0/8\"}]}}}",
	};
	matchers[0] = build(NULL, 0);
	matchers[1] = build(some, sizeof(some) / sizeof(some[0]));
	matchers[2] = build(arrays, sizeof(arrays) / sizeof(arrays[0]));
	scratch = match_scratch_new();
	if (!scratch)
		abort();
}

static bool jansson_differs_by_design(const json_error_t *e)
{
	return strstr(e->text, "too big") || strstr(e->text, "overflow") ||
	       strstr(e->text, "NUL byte") || strstr(e->text, "maximum parsing depth") ||
	       strstr(e->text, "nested") || strstr(e->text, "underflow");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;

	if (!scratch)
		init();
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	bool ref_ok = j && json_is_object(j);
	/* jansson takes a raw NUL byte between tokens for the end of its input */
	bool comparable = (j || !jansson_differs_by_design(&je)) && !memchr(data, 0, size);
	json_decref(j);

	for (int i = 0; i < 3; i++) {
		const uint32_t *ids;
		int r = matcher_match(matchers[i], (const char *)data, size, scratch, &ids);
		if (r == -E2BIG || !comparable)
			continue;
		if ((r >= 0) != ref_ok) {
			fprintf(stderr, "fuzz_event: matcher %d says %s (%s), jansson says %s (%s)\n", i,
				r >= 0 ? "valid" : "invalid", r >= 0 ? "" : match_scratch_error(scratch),
				ref_ok ? "valid object" : "invalid", ref_ok ? "" : je.text);
			abort();
		}
	}
	return 0;
}
